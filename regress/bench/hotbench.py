#!/usr/bin/env python3
"""hotbench.py: the hot paths beside their references, in one run (issue 16).

  hotbench.py hot SOCKET N FILE AUDITDIR SSH-ARGV...
	N rounds, each: one Bash `true`, two Bash of 2 KB commands (one
	ASCII, one with a letter that is not: bash gets each in one
	read(2), the second under LC_ALL=C; on d163a1f and before
	it was a read(2) a byte) and one Read of FILE (a small
	file) over one MCP session, one `true` over a raw persistent ssh
	shell (SSH-ARGV ... sh, the reference; then bash, cat | bash, and
	the Bash tool's own protocol, to show what of the gap is the Bash
	tool's shell, its watchdog and its marker lines on stdout and
	stderr), one 100-byte write + fdatasync of a file
	in AUDITDIR (the audit database's disk).  Interleaved, so the
	machine's noise falls on all alike.  Prints medians, p99, and the
	goals as measured against the references of this run.
  hotbench.py cold SOCKET N GAP AUDITDIR SSH-ARGV...
	the same Bash `true', raw ssh shell (sh) and fdatasync, each after
	GAP ms with nothing to do, N rounds: what a call costs when it
	comes alone, as an agent's do, beside the back-to-back medians of
	the same three measured in this run.
  hotbench.py dropped SOCKET N AUDITDIR [TEXTLOG]
	Bash `true' in rounds of 10 calls, N rounds, every other round
	after the audit WAL (and the text log) was dropped from the page
	cache (as the kernel drops an idle file's clean pages): the
	medians of both kinds, and of the first call after a drop, which
	pays for whatever the logger has to read back (logger_audit.c,
	audit_wal_warm).
  hotbench.py conc SOCKET SECONDS N...
	for each N: N sessions (processes) make Bash `true` calls for
	SECONDS; prints calls/s and the ratio to the first N's.
  hotbench.py calls SOCKET N DELAY [GAP]
	one session: a warm-up call, DELAY seconds of rest (for a tracer
	to attach), then N Bash `true` calls (GAP ms apart)
  hotbench.py cpu SOCKET N FE LOGGER WORKER AUDITDIR SSH-ARGV...
	CPU time per call, back to back: N Bash `true' calls, then N
	`true' over a raw ssh shell (sh), then N fdatasyncs; for each, what
	the whole machine spent (/proc/stat) and, for Bash, what each of
	bridged's processes spent and how often it slept (schedstat,
	status); for the raw shell, the ssh client's share.
  hotbench.py http SOCKET PORT N
	Bash `true' over the HTTP listener on 127.0.0.1:PORT (a 2025-11-25
	session: each answer an SSE stream, its head and then its event)
	and over the MCP socket, alternating, N of each: medians, p99 and
	the difference (a raw HTTP/1.1 client on one kept connection).
  hotbench.py stages PERF-SCRIPT-OUTPUT FE LOGGER WORKER CLIENT [HOW]
	where a Bash call's time goes, from a `perf script` of syscall
	tracepoints in the four processes (bench.sh records it); HOW says
	how the calls came (back to back, or apart).

The MCP client here is a raw one (requests pre-encoded, one recv until
the newline): the figures are bridged's, not a JSON library's.  Prints,
never judges: the exit status is 0 unless something failed outright.
"""
import json
import os
import select
import socket
import statistics
import subprocess
import sys
import time


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def med(v):
    return statistics.median(v)


class Raw:
    """Newline-delimited JSON-RPC on the UNIX socket, minimal."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(60)
        self.s.connect(path)
        self.buf = b""
        self.id = 0
        self.rpc("initialize", {"protocolVersion": "2025-06-18",
                                "capabilities": {},
                                "clientInfo": {"name": "hotbench",
                                               "version": "1"}})
        self.s.sendall(b'{"jsonrpc":"2.0","method":'
                       b'"notifications/initialized"}\n')

    def line(self):
        while b"\n" not in self.buf:
            b = self.s.recv(65536)
            if not b:
                raise SystemExit("hotbench: the daemon closed the session")
            self.buf += b
        ln, self.buf = self.buf.split(b"\n", 1)
        return ln

    def encode(self, method, params):
        self.id += 1
        return (json.dumps({"jsonrpc": "2.0", "id": self.id,
                            "method": method, "params": params}) +
                "\n").encode(), self.id

    def rpc(self, method, params):
        req, _ = self.encode(method, params)
        self.s.sendall(req)
        return json.loads(self.line())

    def timed(self, req):
        """Send pre-encoded bytes; ms until the answer, and the answer."""
        t0 = time.perf_counter()
        self.s.sendall(req)
        ln = self.line()
        while b'"id"' not in ln:	# a notification
            ln = self.line()
        return (time.perf_counter() - t0) * 1000.0, ln

    def tool(self, name, args):
        return self.encode("tools/call", {"name": name, "arguments": args})


def check(ln, what):
    r = json.loads(ln)
    res = r.get("result") or {}
    if "error" in r or res.get("isError"):
        raise SystemExit("hotbench: %s failed: %s" % (what, ln[:300]))


def report(what, v):
    print("%s: n=%d median %.3f ms, p99 %.3f ms, min %.3f ms"
          % (what, len(v), med(v), pct(v, 99), min(v)))


def goal(text, ok):
    print("  goal %s: %s" % (text, "met" if ok else "NOT met"))


class RawShell:
    """A persistent shell over plain ssh: ARGV... CMD, commands on stdin."""

    def __init__(self, argv, cmd):
        self.p = subprocess.Popen(argv + [cmd], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, bufsize=0)

    def true(self, i):
        """ms for one `true` and the marker line after it"""
        mark = ("__m%d__" % i).encode()
        t0 = time.perf_counter()
        self.p.stdin.write(b"true; echo " + mark + b"\n")
        buf = b""
        while mark not in buf:
            b = self.p.stdout.read(4096)
            if not b:
                raise SystemExit("hotbench: a raw ssh shell ended")
            buf += b
        return (time.perf_counter() - t0) * 1000.0

    def close(self):
        self.p.stdin.close()
        self.p.wait()


class ProtoShell(RawShell):
    """The Bash tool's own shell over plain ssh, as ssh_shproto.c frames it:
    bash reading its commands from /dev/fd/3 through the watchdog's cat
    (ssh_killtree.c), each command sent as `eval 'true'; \\MARK M' and
    done when the marker line has come on stdout (with the status and
    $PWD) and on stderr.  What the protocol costs, without bridged."""

    WATCH = "while read -r w; do :; done; kill -KILL 0"
    MARK = ("__bridged_mark() { builtin printf '%s %d %s %s\\n' \"$1\" "
            "\"$?\" \"$PWD\" \"$1\"; builtin printf '%s\\n' \"$1\" >&2; "
            "}; readonly -f __bridged_mark\n")

    def __init__(self, argv):
        cmd = ("{ (cat; exec >/dev/null; %s) <&3 3<&- 2>/dev/null & } "
               "3<&0 | exec bash --noprofile --norc /dev/fd/3 3<&0 "
               "</dev/null" % self.WATCH)
        self.p = subprocess.Popen(argv + [cmd], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, bufsize=0)
        self.p.stdin.write(self.MARK.encode())

    def true(self, i):
        """ms for one `true` and its marker lines on stdout and stderr"""
        mark = ("M%021d" % i).encode()
        t0 = time.perf_counter()
        self.p.stdin.write(b"eval 'true'; \\__bridged_mark " + mark + b"\n")
        out, err = b"", b""
        while mark + b"\n" not in out or mark + b"\n" not in err:
            for f in select.select([self.p.stdout, self.p.stderr], [],
                                   [])[0]:
                b = os.read(f.fileno(), 4096)
                if not b:
                    raise SystemExit("hotbench: the protocol shell ended")
                if f is self.p.stdout:
                    out += b
                else:
                    err += b
        return (time.perf_counter() - t0) * 1000.0


def bench_hot(sock, n, path, auditdir, argv):
    c = Raw(sock)
    # warm: connect and shell
    _, ln = c.timed(c.tool("Bash", {"command": "true"})[0])
    check(ln, "Bash true")
    # the reference is sh; bash and cat | bash show what the Bash tool's
    # shell (bash reads a pipe a byte at a time) and its watchdog (a cat
    # in the way of the commands, ssh_killtree.c) cost of bridged's own
    shells = [RawShell(argv, "sh"), RawShell(argv, "bash --noprofile --norc"),
              RawShell(argv, "cat | bash --noprofile --norc"),
              ProtoShell(argv)]
    fpath = os.path.join(auditdir, ".hotbench.%d" % os.getpid())
    fd = os.open(fpath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    bash, read, sync = [], [], []
    raw = [[] for _ in shells]
    # a command of 2 KB: it goes to bash as its length and bytes (one
    # read(2)), ASCII or not (ssh_shproto.c, GET_FN: LC_ALL=C as it reads);
    # with one letter that is not ASCII it was a read(2) per byte
    longs = [("true # " + "x" * 2000), ("true # \u00e9" + "x" * 1998)]
    longt = [[], []]
    try:
        for i in range(n + 1):
            req, _ = c.tool("Bash", {"command": "true"})
            ms, ln = c.timed(req)
            check(ln, "Bash true")
            if i:
                bash.append(ms)
            for k, cmd in enumerate(longs):
                req, _ = c.tool("Bash", {"command": cmd})
                ms, ln = c.timed(req)
                check(ln, "Bash of 2 KB")
                if i:
                    longt[k].append(ms)
            req, _ = c.tool("Read", {"file_path": path})
            ms, ln = c.timed(req)
            check(ln, "Read")
            if i:
                read.append(ms)
            for k, sh in enumerate(shells):
                ms = sh.true(i)
                if i:
                    raw[k].append(ms)
            t0 = time.perf_counter()
            os.pwrite(fd, b"x" * 100, (i % 64) * 4096)
            os.fdatasync(fd)
            if i:
                sync.append((time.perf_counter() - t0) * 1000.0)
    finally:
        os.close(fd)
        os.unlink(fpath)
        for sh in shells:
            sh.close()
    report("Bash true (raw MCP client)", bash)
    report("Read of a small file", read)
    report("true over a raw persistent ssh shell", raw[0])
    report("  the same with bash as the shell", raw[1])
    report("  and with a cat before bash", raw[2])
    report("  the Bash tool's shell protocol (marker lines on stdout and "
           "stderr)", raw[3])
    report("100 bytes + fdatasync on the audit disk", sync)
    report("Bash of a 2 KB command (ASCII: one read in the shell)", longt[0])
    report("  the same with a letter that is not ASCII (one read too)",
           longt[1])
    print("  2 KB command p50 - Bash true p50: %+.3f ms; not ASCII: "
          "%+.3f ms" % (med(longt[0]) - med(bash),
                             med(longt[1]) - med(bash)))
    ref = med(raw[0]) + med(sync)
    print("Bash true p50 %.3f ms = raw shell + fdatasync (%.3f ms) + "
          "%.3f ms of bridged's own; Read p50 - Bash p50 = %+.3f ms"
          % (med(bash), ref, med(bash) - ref, med(read) - med(bash)))
    print("  of bridged's own, bash rather than sh: %+.3f ms, the "
          "watchdog's cat: %+.3f ms" % (med(raw[1]) - med(raw[0]),
                                       med(raw[2]) - med(raw[1])))
    print("  of bridged's own, the Bash tool's shell protocol over a raw "
          "ssh shell: %+.3f ms; the rest (bridged's processes) %+.3f ms"
          % (med(raw[3]) - med(raw[0]), med(bash) - ref -
             (med(raw[3]) - med(raw[0]))))
    goal("Bash p50 <= raw shell + fdatasync + 0.15 ms",
         med(bash) <= ref + 0.15)
    goal("Bash p99 <= 2 ms", pct(bash, 99) <= 2.0)
    goal("Read p50 <= Bash p50 + 0.1 ms", med(read) <= med(bash) + 0.1)


def bench_dropped(sock, n, auditdir, logs):
    c = Raw(sock)
    req, _ = c.tool("Bash", {"command": "true"})
    check(c.timed(req)[1], "Bash true")
    files = [os.path.join(auditdir, "audit.db-wal")] + logs
    cached, dropped, first = [], [], []
    for i in range(2 * n):
        if i % 2:
            for f in files:
                fd = os.open(f, os.O_RDONLY)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                os.close(fd)
        for k in range(10):
            ms, ln = c.timed(req)
            check(ln, "Bash true")
            (dropped if i % 2 else cached).append(ms)
            if i % 2 and k == 0:
                first.append(ms)
    print("Bash true, the audit WAL%s dropped from the page cache "
          "before every other 10 calls (%d rounds): median %.3f ms, beside "
          "%.3f ms cached; the first call after a drop %.3f ms"
          % (" and the text log" if logs else "", n, med(dropped),
             med(cached), med(first)))


def bench_cold(sock, n, gap, auditdir, argv):
    """
    Each of the three after gap ms of sleep, then the same back to back:
    on a VM whose idle vCPUs halt, a lone call is slower all along its
    path (its CPU work too, see the stages), and the longer the path,
    the more it pays.
    """
    c = Raw(sock)
    req, _ = c.tool("Bash", {"command": "true"})
    check(c.timed(req)[1], "Bash true")
    sh = RawShell(argv, "sh")
    fpath = os.path.join(auditdir, ".hotbench.%d" % os.getpid())
    fd = os.open(fpath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    res = {k: [] for k in ("bash", "raw", "sync", "bash0", "raw0", "sync0")}

    def bash(i):
        ms, ln = c.timed(req)
        check(ln, "Bash true")
        return ms

    def sync(i):
        t0 = time.perf_counter()
        os.pwrite(fd, b"x" * 100, (i % 64) * 4096)
        os.fdatasync(fd)
        return (time.perf_counter() - t0) * 1000.0
    try:
        for i in range(64):
            sync(i)
        for i in range(n):
            time.sleep(gap / 1000.0)
            res["bash"].append(bash(i))
            time.sleep(gap / 1000.0)
            res["raw"].append(sh.true(2 * i))
            time.sleep(gap / 1000.0)
            res["sync"].append(sync(i))
        for k, f in (("bash0", bash),
                     ("raw0", lambda i: sh.true(2 * n + i)),
                     ("sync0", sync)):
            f(0)
            for i in range(n):
                res[k].append(f(i))
    finally:
        os.close(fd)
        os.unlink(fpath)
        sh.close()
    m = {k: med(v) for k, v in res.items()}
    print("after %g ms with nothing to do (%d each): Bash true %.3f ms, raw "
          "shell %.3f, fdatasync %.3f: %.3f ms of bridged's own"
          % (gap, n, m["bash"], m["raw"], m["sync"],
             m["bash"] - m["raw"] - m["sync"]))
    print("  back to back: Bash true %.3f ms, raw shell %.3f, fdatasync "
          "%.3f: %.3f ms of bridged's own"
          % (m["bash0"], m["raw0"], m["sync0"],
             m["bash0"] - m["raw0"] - m["sync0"]))
    print("  alone / back to back: Bash %.2fx, raw shell %.2fx, fdatasync "
          "%.2fx" % (m["bash"] / m["bash0"], m["raw"] / m["raw0"],
                     m["sync"] / m["sync0"]))


class HttpRaw:
    """HTTP/1.1 on one kept connection to /mcp, minimal: a legacy session."""

    def __init__(self, port):
        self.port = port
        self.s = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.buf = b""
        self.id = 0
        self.sid = None
        hdr, _ = self.post({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                            "params": {"protocolVersion": "2025-11-25",
                                       "capabilities": {},
                                       "clientInfo": {"name": "hotbench",
                                                      "version": "1"}}})
        for ln in hdr.split(b"\r\n"):
            if ln.lower().startswith(b"mcp-session-id:"):
                self.sid = ln.split(b":", 1)[1].strip().decode()
        if self.sid is None:
            raise SystemExit("hotbench: no Mcp-Session-Id over HTTP")
        self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def encode(self, msg):
        body = json.dumps(msg).encode()
        h = ("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
             "Content-Type: application/json\r\n"
             "Accept: application/json, text/event-stream\r\n"
             "Content-Length: %d\r\n" % (self.port, len(body)))
        if self.sid:
            h += ("Mcp-Session-Id: %s\r\nMCP-Protocol-Version: "
                  "2025-11-25\r\n" % self.sid)
        return h.encode() + b"\r\n" + body

    def tool(self, name, args):
        self.id += 1
        return self.encode({"jsonrpc": "2.0", "id": self.id,
                            "method": "tools/call",
                            "params": {"name": name, "arguments": args}})

    def fill(self, n):
        while len(self.buf) < n:
            b = self.s.recv(65536)
            if not b:
                raise SystemExit("hotbench: the HTTP connection closed")
            self.buf += b

    def until(self, sep):
        while sep not in self.buf:
            self.fill(len(self.buf) + 1)
        out, self.buf = self.buf.split(sep, 1)
        return out

    def answer(self):
        """the head and the body (de-chunked) of one response"""
        hdr = self.until(b"\r\n\r\n")
        low = hdr.lower()
        if b"transfer-encoding: chunked" in low:
            body = b""
            while True:
                n = int(self.until(b"\r\n").split(b";")[0], 16)
                if n == 0:
                    self.until(b"\r\n")
                    return hdr, body
                self.fill(n + 2)
                body += self.buf[:n]
                self.buf = self.buf[n + 2:]
        n = 0
        for ln in low.split(b"\r\n"):
            if ln.startswith(b"content-length:"):
                n = int(ln.split(b":", 1)[1])
        self.fill(n)
        body, self.buf = self.buf[:n], self.buf[n:]
        return hdr, body

    def post(self, msg):
        self.s.sendall(self.encode(msg))
        return self.answer()

    def timed(self, req):
        t0 = time.perf_counter()
        self.s.sendall(req)
        hdr, body = self.answer()
        return (time.perf_counter() - t0) * 1000.0, hdr, body


def bench_http(sock, port, n):
    h = HttpRaw(port)
    c = Raw(sock)
    hreq = h.tool("Bash", {"command": "true"})
    creq, _ = c.tool("Bash", {"command": "true"})
    sse = 0
    hv, cv = [], []
    for i in range(n + 1):
        ms, hdr, body = h.timed(hreq)
        if b" 200 " not in hdr.split(b"\r\n", 1)[0] or \
                b'"isError":true' in body:
            raise SystemExit("hotbench: Bash true over HTTP failed: %r"
                             % body[:300])
        sse += b"text/event-stream" in hdr.lower()
        if i:
            hv.append(ms)
        ms, ln = c.timed(creq)
        check(ln, "Bash true")
        if i:
            cv.append(ms)
    report("Bash true over HTTP (%d of %d answered as SSE streams)" %
           (sse, n + 1), hv)
    report("  and over the MCP socket, alternating", cv)
    print("  HTTP p50 - MCP socket p50 = %+.3f ms" % (med(hv) - med(cv)))


def machine_busy():
    """seconds of CPU the whole machine has spent busy (/proc/stat)"""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal: not idle, iowait
    return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def proc_cpu(pid):
    """(seconds on a CPU, times it was switched out) of a process"""
    with open("/proc/%d/schedstat" % pid) as f:
        run = int(f.read().split()[0]) / 1e9
    sw = 0
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if "ctxt_switches:" in ln:
                sw += int(ln.split()[1])
    return run, sw


def bench_cpu(sock, n, pids, auditdir, argv):
    """
    On a VM, waking a process on another CPU costs CPU as well as
    time (the hypervisor's work shows up in the guest), so the
    processes a call goes through, and how often each of them sleeps,
    show here as microseconds of CPU.
    """
    c = Raw(sock)
    req, _ = c.tool("Bash", {"command": "true"})
    check(c.timed(req)[1], "Bash true")
    names = ("frontend", "logger", "worker")
    b0, p0 = machine_busy(), [proc_cpu(p) for p in pids]
    for _ in range(n):
        check(c.timed(req)[1], "Bash true")
    b1, p1 = machine_busy(), [proc_cpu(p) for p in pids]
    sh = RawShell(argv, "sh")
    sh.true(0)
    r0, s0 = machine_busy(), proc_cpu(sh.p.pid)
    for i in range(n):
        sh.true(i + 1)
    r1, s1 = machine_busy(), proc_cpu(sh.p.pid)
    sh.close()
    fpath = os.path.join(auditdir, ".hotbench.%d" % os.getpid())
    fd = os.open(fpath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        f0 = machine_busy()
        for i in range(n):
            os.pwrite(fd, b"x" * 100, (i % 64) * 4096)
            os.fdatasync(fd)
        f1 = machine_busy()
    finally:
        os.close(fd)
        os.unlink(fpath)
    us = 1e6 / n
    own = sum(p1[k][0] - p0[k][0] for k in range(len(pids)))
    print("CPU per call, %d back to back (the machine's, /proc/stat): Bash "
          "true %.0f us, raw ssh shell %.0f us, 100 bytes + fdatasync "
          "%.0f us" % (n, (b1 - b0) * us, (r1 - r0) * us, (f1 - f0) * us))
    print("  Bash true in bridged's processes: %s; %.0f us in all, beside "
          "the ssh client's %.0f us (%.1f sleeps a call)" % (
              ", ".join("%s %.0f us (%.1f sleeps a call)" % (
                  names[k], (p1[k][0] - p0[k][0]) * us,
                  (p1[k][1] - p0[k][1]) / n) for k in range(len(pids))),
              own * us, (s1[0] - s0[0]) * us, (s1[1] - s0[1]) / n))


def conc_child(sock, secs, wfd):
    c = Raw(sock)
    req, _ = c.tool("Bash", {"command": "true"})
    _, ln = c.timed(req)
    check(ln, "Bash true")
    os.write(wfd, b"r")		# ready
    # all start together: the parent closes the go pipe
    n = 0
    t_end = time.perf_counter() + secs
    while time.perf_counter() < t_end:
        _, ln = c.timed(req)
        check(ln, "Bash true")
        n += 1
    return n


def bench_conc(sock, secs, ns):
    first = None
    for n in ns:
        kids = []
        rd, wr = os.pipe()
        for _ in range(n):
            r2, w2 = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(r2)
                os.close(rd)
                try:
                    calls = conc_child(sock, secs, wr)
                    os.write(w2, b"%d\n" % calls)
                    os._exit(0)
                except BaseException as e:
                    os.write(w2, b"-1 %s\n" % str(e).encode()[:200])
                    os._exit(1)
            os.close(w2)
            kids.append((pid, r2))
        os.close(wr)
        got = 0
        while got < n:
            if not os.read(rd, 1):
                break
            got += 1
        os.close(rd)
        total = 0
        for pid, r2 in kids:
            out = b""
            while True:
                b = os.read(r2, 256)
                if not b:
                    break
                out += b
            os.close(r2)
            os.waitpid(pid, 0)
            v = out.split()
            if not v or int(v[0]) < 0:
                raise SystemExit("hotbench: a session failed: %s" % out)
            total += int(v[0])
        rate = total / secs
        if first is None:
            first = rate
        print("%d session%s, Bash true for %g s: %d calls, %.0f calls/s "
              "(%.2fx one session's)" % (n, "" if n == 1 else "s", secs,
                                         total, rate, rate / first))
        if n == 8 and ns[0] == 1:
            goal("8 sessions >= 2x one session's calls/s",
                 rate >= 2 * first)


def bench_stages(path, fe, lg, w, cl, how="back to back"):
    """
    Each Bash call shows, in order: the client sends (sendto, CL); the
    frontend reads it (read, FE) and sends the intent (sendmsg to the
    logger) and the call, held, to the worker; the logger receives the
    intent, fdatasyncs and tells the worker it is durable (sendmsg); the
    worker receives that and writes to sshd (sendto); the last read
    from sshd (recvfrom) before the worker's answer (sendmsg); the
    frontend receives it and answers (sendmsg to the client); the
    client's recvfrom returns.
    """
    ev = []
    with open(path) as f:
        for ln in f:
            t = ln.split()
            try:
                i = next(k for k, x in enumerate(t) if x.endswith(":") and
                         x[:-1].replace(".", "", 1).isdigit())
            except StopIteration:
                continue
            pid = int(t[i - 1]) if t[i - 1].isdigit() else int(
                t[i - 2]) if t[i - 2].isdigit() else -1
            ev.append((float(t[i][:-1]) * 1000.0, pid, t[i + 1]))
    ev.sort()
    stages = {k: [] for k in ("client -> frontend",
                              "frontend: request -> logger",
                              "logger: intent to fdatasync",
                              "logger: fdatasync",
                              "logger durable-ack -> worker",
                              "worker -> sshd -> shell -> worker",
                              "worker: the answer",
                              "worker -> frontend -> client")}
    i = 0
    n = len(ev)

    def find(j, pid, name):
        while j < n and not (ev[j][1] == pid and name in ev[j][2]):
            j += 1
        return j

    while True:
        a = find(i, cl, "sys_enter_sendto")
        b = find(a, fe, "sys_exit_read")
        c = find(b, fe, "sys_enter_sendmsg")
        d = find(c, lg, "sys_exit_recvmsg")
        e = find(d, lg, "sys_enter_fdatasync")
        f = find(e, lg, "sys_exit_fdatasync")
        g = find(f, w, "sys_exit_recvmsg")
        h = find(g, w, "sys_enter_sendmsg")
        # the last answer from sshd before the worker's answer
        k = g
        j = g
        while j < h:
            if ev[j][1] == w and "sys_exit_recvfrom" in ev[j][2]:
                k = j
            j += 1
        m = find(h, cl, "sys_exit_recvfrom")
        if m >= n:
            break
        if ev[m][0] - ev[a][0] < 50:	# one call, not a stall
            t = [ev[x][0] for x in (a, b, c, d, e, f, g, k, h, m)]
            stages["client -> frontend"].append(t[1] - t[0])
            stages["frontend: request -> logger"].append(t[3] - t[1])
            stages["logger: intent to fdatasync"].append(t[4] - t[3])
            stages["logger: fdatasync"].append(t[5] - t[4])
            stages["logger durable-ack -> worker"].append(t[6] - t[5])
            stages["worker -> sshd -> shell -> worker"].append(t[7] - t[6])
            stages["worker: the answer"].append(t[8] - t[7])
            stages["worker -> frontend -> client"].append(t[9] - t[8])
        i = m + 1
    if not stages["client -> frontend"]:
        print("stages: no whole call found in the trace")
        return
    tot = 0.0
    print("where a Bash call's time goes, calls %s (perf syscall "
          "tracepoints, medians of %d calls; tracing adds a little to "
          "each):" % (how, len(stages["client -> frontend"])))
    for k, v in stages.items():
        tot += med(v)
        print("  %-36s %7.3f ms" % (k, med(v)))
    print("  %-36s %7.3f ms" % ("sum of the medians", tot))


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    mode = sys.argv[1]
    if mode == "hot" and len(sys.argv) >= 7:
        bench_hot(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5],
                  sys.argv[6:])
    elif mode == "cold" and len(sys.argv) >= 8:
        bench_cold(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]),
                   sys.argv[5], sys.argv[6:])
    elif mode == "dropped" and len(sys.argv) in (5, 6):
        bench_dropped(sys.argv[2], int(sys.argv[3]), sys.argv[4],
                      sys.argv[5:])
    elif mode == "conc" and len(sys.argv) >= 5:
        bench_conc(sys.argv[2], float(sys.argv[3]),
                   [int(x) for x in sys.argv[4:]])
    elif mode == "calls" and len(sys.argv) in (5, 6):
        c = Raw(sys.argv[2])
        gap = float(sys.argv[5]) / 1000.0 if len(sys.argv) == 6 else 0
        req, _ = c.tool("Bash", {"command": "true"})
        check(c.timed(req)[1], "Bash true")
        time.sleep(float(sys.argv[4]))
        for _ in range(int(sys.argv[3])):
            if gap:
                time.sleep(gap)
            check(c.timed(req)[1], "Bash true")
    elif mode == "cpu" and len(sys.argv) >= 9:
        bench_cpu(sys.argv[2], int(sys.argv[3]),
                  [int(x) for x in sys.argv[4:7]], sys.argv[7], sys.argv[8:])
    elif mode == "http" and len(sys.argv) == 5:
        bench_http(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif mode == "stages" and len(sys.argv) in (7, 8):
        bench_stages(sys.argv[2], *[int(x) for x in sys.argv[3:7]],
                     *sys.argv[7:])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
