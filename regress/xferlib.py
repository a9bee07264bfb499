"""xferlib: what regress/t-nostall.sh and t-xfertimeout.sh share.

The environment names BRIDGECTL and CTL_SOCK.
"""

import json
import os
import subprocess


def host_channels(name):
    """the open channels of host name, as bridgectl shows them (None: no
    such host in its answer)"""
    out = subprocess.run([os.environ["BRIDGECTL"], "-s",
                          os.environ["CTL_SOCK"], "-j", "show", "hosts"],
                         capture_output=True, text=True, timeout=30).stdout
    for line in out.splitlines():
        try:
            h = json.loads(line)
        except ValueError:
            continue
        if isinstance(h, dict) and h.get("name") == name:
            return h.get("channels")
    return None
