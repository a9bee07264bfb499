#!/usr/bin/env python3
"""editbench.py SOCKET HOST DIR N SFTP-ARGV...: Write over a small file,
Edit of one, and Write of a new one, N of each, interleaved, beside a put
of the same file with the sftp CLI (SFTP-ARGV: sftp and its options up to
the destination) in one session: medians.  A Write over a file replaces
it with posix-rename@openssh.com where the server has it (one SFTP
request; mv(1) on an exec channel took about 3.5 ms more)."""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
from mcpclient import Client, result_text  # noqa: E402
from xferbench import Sftp  # noqa: E402


def main():
    sock, host, rdir, n = sys.argv[1:5]
    argv = sys.argv[5:]
    c = Client(socket_path=sock, timeout=60)
    c.initialize()
    cli = Sftp(argv)
    path = os.path.join(rdir, "editbench.txt")
    local = os.path.join(rdir, "editbench.src")
    with open(path, "w") as f:
        f.write("marker-A\nsome text\n")
    with open(local, "w") as f:
        f.write("marker-A\nsome text\n")

    def timed(tool, args):
        args["host"] = host
        t0 = time.perf_counter()
        r = c.call_tool(tool, args)
        ms = (time.perf_counter() - t0) * 1000
        if r.get("isError"):
            sys.exit("editbench: %s failed: %s" % (tool, result_text(r)))
        return ms

    w, e, nw, s = [], [], [], []
    for i in range(int(n)):
        w.append(timed("Write", {"file_path": path,
                                 "content": "marker-A\nrun %d\n" % i}))
        e.append(timed("Edit", {"file_path": path, "old_string": "marker-A",
                                "new_string": "marker-B"}))
        np = os.path.join(rdir, "editbench.new%d" % i)
        nw.append(timed("Write", {"file_path": np, "content": "new\n"}))
        os.unlink(np)
        s.append(cli.run("put %s %s.put" % (local, path)) * 1000)
    cli.close()
    for p in (path, path + ".put", local):
        os.unlink(p)
    print("Write over a small file: n=%d median %.2f ms; Edit of it %.2f ms; "
          "Write of a new file %.2f ms; sftp put of it %.2f ms" % (
              len(w), statistics.median(w), statistics.median(e),
              statistics.median(nw), statistics.median(s)))


if __name__ == "__main__":
    main()
