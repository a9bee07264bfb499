#!/usr/bin/env python3
"""globbench.py SOCKET HOST BASE N SSH-ARGV...: Glob over a tree of 100
directories of 100 files, N times, beside find(1) over the same tree in
a raw persistent ssh shell (SSH-ARGV ... sh), interleaved: medians.  The
Glob walks over SFTP, a few round trips a directory (issue 16: Glob on
an SFTP channel of its own, eight directories read at once), where find
walks on the host itself."""
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
from mcpclient import Client, result_text  # noqa: E402


def main():
    sock, host, base, n = sys.argv[1:5]
    argv = sys.argv[5:]
    tree = os.path.join(base, "globtree")
    for i in range(100):
        d = os.path.join(tree, "d%03d" % i)
        os.makedirs(d, exist_ok=True)
        for j in range(100):
            open(os.path.join(d, "f%03d.txt" % j), "w").close()
    open(os.path.join(tree, "d042", "needle.md"), "w").close()
    c = Client(socket_path=sock, timeout=120)
    c.initialize()
    sh = subprocess.Popen(argv + ["sh"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, bufsize=0)
    cmd = ("find %s -name '*.md'; echo globbench-end\n" % tree).encode()

    def raw():
        t0 = time.monotonic()
        sh.stdin.write(cmd)
        out = b""
        while not out.endswith(b"globbench-end\n"):
            b = os.read(sh.stdout.fileno(), 65536)
            if not b:
                sys.exit("globbench: the raw shell ended")
            out += b
        if b"needle.md" not in out:
            sys.exit("globbench: find did not find the file")
        return (time.monotonic() - t0) * 1000

    def glob():
        t0 = time.monotonic()
        r = c.call_tool("Glob", {"host": host, "pattern": "**/*.md",
                                 "path": tree}, timeout=120)
        ms = (time.monotonic() - t0) * 1000
        if r.get("isError") or "needle.md" not in result_text(r):
            sys.exit("globbench: Glob failed: %s" % result_text(r))
        return ms

    glob()
    raw()
    g, f = [], []
    for _ in range(int(n)):
        g.append(glob())
        f.append(raw())
    sh.stdin.close()
    sh.wait()
    mg, mf = statistics.median(g), statistics.median(f)
    print("Glob over 10,000 files in 100 directories: n=%d median %.1f ms; "
          "find in a raw ssh shell %.1f ms (%.1fx)" % (len(g), mg, mf,
                                                      mg / mf))


if __name__ == "__main__":
    main()
