#!/usr/bin/env python3
"""sftpslow.py SFTP-SERVER RATE: an SFTP subsystem that runs SFTP-SERVER
and passes what it says back to the client at RATE bytes a second (a slow
link), what the client says at full speed.  For t-xferstall."""
import os
import subprocess
import sys
import threading
import time


def main():
    rate = int(sys.argv[2])
    p = subprocess.Popen([sys.argv[1]], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, bufsize=0)

    def up():
        while True:
            b = os.read(0, 65536)
            if not b:
                break
            p.stdin.write(b)
        p.stdin.close()

    threading.Thread(target=up, daemon=True).start()
    due = time.monotonic()
    while True:
        b = os.read(p.stdout.fileno(), 16384)
        if not b:
            break
        os.write(1, b)
        # no credit saved up while the server was quiet
        now = time.monotonic()
        due = max(due, now) + len(b) / rate
        if due > now:
            time.sleep(due - now)
    p.wait()


if __name__ == "__main__":
    main()
