#!/usr/bin/env python3
"""xferbench.py SOCKET HOST TROOT RDIR MB SFTP-ARGV...: Upload/Download speed.

A file of MB megabytes of random data in TROOT (bridged's `transfer root')
is uploaded to RDIR on HOST with Upload and downloaded back with Download,
then the same with the sftp CLI (SFTP-ARGV: sftp and its options up to the
destination) put and get on the same sshd, in one session whose connection
is not timed (nor is bridged's).  Every copy is compared with the
original.  Seven runs of each, interleaved (with three, one noisy run
could set the median); prints the median MB/s of each and bridged's
ratio to the sftp CLI (issue 16: >= 0.9); Upload also beside put -f,
which fsyncs the file as Upload does.  Then an Edit of one line of a
text file of MB/5 megabytes in RDIR, seven times, beside the least an
edit takes with the sftp CLI: get and put -f of the same file.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import mcpclient  # noqa: E402

RUNS = 7


def median(v):
    v = sorted(v)
    return v[len(v) // 2]


def same(a, b):
    with open(a, "rb") as f, open(b, "rb") as g:
        while True:
            x, y = f.read(1 << 20), g.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


def call(c, tool, args):
    t0 = time.perf_counter()
    r = c.call_tool(tool, args)
    dt = time.perf_counter() - t0
    if r.get("isError"):
        raise SystemExit("xferbench: %s: %s" % (tool,
                                                mcpclient.result_text(r)))
    return dt


class Sftp:
    """one sftp CLI session (the connection is not timed, as with bridged)"""

    def __init__(self, argv):
        self.p = subprocess.Popen(argv[:1] + ["-q", "-b", "-"] + argv[1:],
                                  stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE)
        self.n = 0
        self.run("pwd")

    def run(self, cmd):
        self.n += 1
        mark = "xferbench-done-%d" % self.n
        t0 = time.perf_counter()
        self.p.stdin.write(("%s\n!echo %s\n" % (cmd, mark)).encode())
        self.p.stdin.flush()
        while True:
            line = self.p.stdout.readline()
            if not line:
                raise SystemExit("xferbench: sftp %s failed" % cmd)
            if line.decode(errors="replace").strip() == mark:
                break
        return time.perf_counter() - t0

    def close(self):
        self.p.stdin.close()
        self.p.wait(30)


def main():
    if len(sys.argv) < 7:
        raise SystemExit(__doc__)
    sock, host, troot, rdir = sys.argv[1:5]
    mb = int(sys.argv[5])
    argv = sys.argv[6:]
    src = os.path.join(troot, "xfer.src")
    with open(src, "wb") as f:
        for _ in range(mb):
            f.write(os.urandom(1024 * 1024))
    rup, rcli = os.path.join(rdir, "xfer.up"), os.path.join(rdir, "xfer.cli")
    down, dcli = os.path.join(troot, "xfer.down"), os.path.join(troot,
                                                               "xfer.cli")
    c = mcpclient.Client(socket_path=sock, timeout=300)
    c.initialize()
    cli = Sftp(argv)
    up, dn, cup, cdn, cupf = [], [], [], [], []
    for _ in range(RUNS):
        up.append(mb / call(c, "Upload", {"host": host,
                                          "local_path": "xfer.src",
                                          "remote_path": rup,
                                          "overwrite": True}))
        if not same(src, rup):
            raise SystemExit("xferbench: the uploaded copy differs")
        dn.append(mb / call(c, "Download", {"host": host,
                                            "remote_path": rup,
                                            "local_path": "xfer.down",
                                            "overwrite": True}))
        if not same(src, down):
            raise SystemExit("xferbench: the downloaded copy differs")
        cup.append(mb / cli.run("put %s %s" % (src, rcli)))
        if not same(src, rcli):
            raise SystemExit("xferbench: sftp put's copy differs")
        cdn.append(mb / cli.run("get %s %s" % (rcli, dcli)))
        if not same(src, dcli):
            raise SystemExit("xferbench: sftp get's copy differs")
        # Upload fsyncs the file before it is renamed into place: so
        # does put -f
        cupf.append(mb / cli.run("put -f %s %s.f" % (src, rcli)))
        if not same(src, rcli + ".f"):
            raise SystemExit("xferbench: sftp put -f's copy differs")
        os.unlink(rcli + ".f")
        for p in (rup, down, rcli, dcli):
            os.unlink(p)
    # Edit: read whole, one line changed, written whole and fsynced
    emb = max(1, mb // 5)
    etxt = os.path.join(rdir, "edit.txt")
    line = "x" * 99 + "\n"
    with open(etxt, "w") as f:
        f.write("marker-A\n" + line * (emb * 1000 * 1000 // 100))
    ed, ecli = [], []
    for i in range(RUNS):
        a, b = ("marker-A\n", "marker-B\n") if i % 2 == 0 else \
            ("marker-B\n", "marker-A\n")
        ed.append(call(c, "Edit", {"host": host, "file_path": etxt,
                                   "old_string": a, "new_string": b}))
        with open(etxt) as f:
            if f.read(9) != b:
                raise SystemExit("xferbench: the Edit did not land")
        ecli.append(cli.run("get %s %s" % (etxt, dcli)) +
                    cli.run("put -f %s %s" % (dcli, rcli)))
        for p in (dcli, rcli):
            os.unlink(p)
    os.unlink(etxt)
    c.close()
    cli.close()
    os.unlink(src)
    for name, a, b, what in (("Upload", up, cup, "put"),
                             ("Upload", up, cupf, "put -f (fsync)"),
                             ("Download", dn, cdn, "get")):
        a, b = median(a), median(b)
        print("%s, %d MB, median of %d: bridged %.1f MB/s, sftp %s "
              "%.1f MB/s: %.2fx (goal >= 0.9)" % (name, mb, RUNS, a, what,
                                                 b, a / b))
    a, b = median(ed) * 1000, median(ecli) * 1000
    print("Edit of one line of a %d MB file, median of %d: bridged %.0f ms, "
          "sftp get + put -f %.0f ms: %.2fx the time" % (emb, RUNS, a, b,
                                                         a / b))


if __name__ == "__main__":
    main()
