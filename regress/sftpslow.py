#!/usr/bin/env python3
"""sftpslow.py SFTP-SERVER RATE [TAG [DELAY]]: an SFTP subsystem that runs
SFTP-SERVER and passes what either side says to the other at RATE bytes a
second each way (a slow link), each piece DELAY ms after it came (a long
link: a round trip of 2 DELAY ms more).  TAG is not used: a test names
itself with it, so that what it kills is its own.  For t-nostall,
t-xfertimeout and the benchmarks."""
import os
import subprocess
import sys
import threading
import time


def main():
    rate = int(sys.argv[2])
    delay = float(sys.argv[4]) / 1000 if len(sys.argv) > 4 else 0
    p = subprocess.Popen([sys.argv[1]], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, bufsize=0)

    def pace(src, dst, done):
        due = time.monotonic()
        while True:
            b = os.read(src, 16384)
            if not b:
                break
            if delay:
                time.sleep(delay)
            os.write(dst, b)
            # no credit saved up while the side was quiet
            now = time.monotonic()
            due = max(due, now) + len(b) / rate
            if due > now:
                time.sleep(due - now)
        done()

    threading.Thread(target=pace, daemon=True,
                     args=(0, p.stdin.fileno(), p.stdin.close)).start()
    pace(p.stdout.fileno(), 1, lambda: None)
    p.wait()


if __name__ == "__main__":
    main()
