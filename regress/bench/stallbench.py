#!/usr/bin/env python3
"""stallbench.py SOCKET HOST BASE TROOT MB: what a transfer or a Glob
costs the host's other calls.  HOST's SFTP link is slow (sftpslow.py); an
MB Download, then an MB Upload, then a Glob over a tree of 10,000 files
of long names (about MB of listings) run in one session while another
session calls Bash `true` on the same host every 0.1 s.  Prints the
medians and the worst of those calls beside the same Bash with nothing
else running (issue 16: no serialisation that isn't needed)."""
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
from mcpclient import Client, result_text  # noqa: E402


def bash(c, host):
    t0 = time.monotonic()
    r = c.call_tool("Bash", {"host": host, "command": "true"}, timeout=120)
    if r.get("isError"):
        sys.exit("stallbench: Bash failed: %s" % result_text(r))
    return (time.monotonic() - t0) * 1000


def main():
    sock, host, base, troot, mb = sys.argv[1:6]
    size = int(mb) * 1000 * 1000
    data = os.urandom(size)
    with open(os.path.join(base, "stall.bin"), "wb") as f:
        f.write(data)
    with open(os.path.join(troot, "stall.up"), "wb") as f:
        f.write(data)
    # entries of about 500 bytes in a listing (name, long name, attributes)
    tree = os.path.join(base, "stalltree")
    files = size // 500
    for i in range(max(1, files // 100)):
        d = os.path.join(tree, "d%03d" % i + "x" * 100)
        os.makedirs(d, exist_ok=True)
        for j in range(100):
            open(os.path.join(d, "f%03d" % j + "y" * 200), "w").close()
    a = Client(socket_path=sock, timeout=120)
    a.initialize()
    b = Client(socket_path=sock, timeout=120)
    b.initialize()
    idle = [bash(b, host) for _ in range(20)]
    print("Bash true on a host with a slow SFTP link, nothing else running: "
          "median %.3f ms, worst %.3f ms" % (statistics.median(idle),
                                             max(idle)))
    for tool, args in (
            ("Download", {"remote_path": os.path.join(base, "stall.bin"),
                          "local_path": "stall.down", "overwrite": True}),
            ("Upload", {"local_path": "stall.up", "overwrite": True,
                        "remote_path": os.path.join(base, "stall.put")}),
            ("Glob", {"pattern": "**/*.none", "path": tree})):
        args["host"] = host
        res = []
        th = threading.Thread(target=lambda: res.append(
            a.call_tool(tool, args, timeout=120)))
        t0 = time.monotonic()
        th.start()
        lat = []
        time.sleep(0.3)
        while th.is_alive():
            lat.append(bash(b, host))
            time.sleep(0.1)
        th.join()
        secs = time.monotonic() - t0
        if not res or res[0].get("isError"):
            sys.exit("stallbench: %s failed: %s" %
                     (tool, result_text(res[0]) if res else "no answer"))
        what = ("Glob of %d files" % (files // 100 * 100) if tool == "Glob"
                else "%s MB %s" % (mb, tool))
        print("  during a %s (%.1f s): %d Bash calls, median %.3f ms, "
              "worst %.3f ms" % (what, secs, len(lat),
                                 statistics.median(lat) if lat else 0,
                                 max(lat) if lat else 0))


if __name__ == "__main__":
    main()
