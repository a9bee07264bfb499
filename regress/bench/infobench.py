#!/usr/bin/env python3
"""infobench.py SOCKET HOST DIR N SFTP-ARGV...: the file tools that ask
about many paths, N rounds each, interleaved, beside the sftp CLI (SFTP-ARGV:
sftp and its options up to the destination) doing the like in one session:
ListDir of a directory of 1000 links (its targets asked 64 at a time) beside
`ls -l` of it, FileStat of 200 files (their lstats 64 at a time, their
resolve 32 at a time) beside `ls -l` of them, MultiRead of 100 small files
(resolved 32 at a time; each still opened, read and closed) beside `get`
of them.  Medians, and bridged's over the CLI's."""
import os
import shutil
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
    links = os.path.join(rdir, "infobench.links")
    many = os.path.join(rdir, "infobench.many")
    dest = os.path.join(rdir, "infobench.got")
    for d in (links, many, dest):
        os.mkdir(d)
    for i in range(1000):
        os.symlink("target/number/%d" % i, os.path.join(links, "l%04d" % i))
    for i in range(200):
        with open(os.path.join(many, "f%03d" % i), "w") as f:
            f.write("file %d\n" % i)
    c = Client(socket_path=sock, timeout=60)
    c.initialize()
    cli = Sftp(argv)

    def timed(tool, args):
        args["host"] = host
        t0 = time.perf_counter()
        r = c.call_tool(tool, args)
        ms = (time.perf_counter() - t0) * 1000
        if r.get("isError"):
            sys.exit("infobench: %s failed: %s" % (tool, result_text(r)))
        return ms

    stat = [os.path.join(many, "f%03d" % i) for i in range(200)]
    read = stat[:100]
    t = {k: [] for k in ("ld", "lds", "fs", "fss", "mr", "mrs")}
    for i in range(int(n)):
        t["ld"].append(timed("ListDir", {"path": links}))
        t["lds"].append(cli.run("ls -l %s" % links) * 1000)
        t["fs"].append(timed("FileStat", {"paths": stat}))
        t["fss"].append(cli.run("ls -l %s/f*" % many) * 1000)
        t["mr"].append(timed("MultiRead", {"files": read}))
        t["mrs"].append(cli.run("get %s/f0* %s/" % (many, dest)) * 1000)
    cli.close()
    for d in (links, many, dest):
        shutil.rmtree(d)
    m = {k: statistics.median(v) for k, v in t.items()}
    print("ListDir of 1000 links: n=%d median %.1f ms; sftp ls -l of them "
          "%.1f ms (%.2fx)" % (len(t["ld"]), m["ld"], m["lds"],
                               m["ld"] / m["lds"]))
    print("FileStat of 200 files: median %.1f ms; sftp ls -l of them %.1f ms "
          "(%.2fx)" % (m["fs"], m["fss"], m["fs"] / m["fss"]))
    print("MultiRead of 100 small files: median %.1f ms; sftp get of them "
          "%.1f ms (%.2fx)" % (m["mr"], m["mrs"], m["mr"] / m["mrs"]))


if __name__ == "__main__":
    main()
