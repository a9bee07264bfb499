#!/usr/bin/env python3
"""mcpbench.py SOCKET MODE N: time MCP round trips against bridged.

init: a fresh session each run: connect, initialize,
      notifications/initialized, tools/list; prints median, p99, min, max.
"""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import mcpclient  # noqa: E402


def pct(sorted_ms, p):
    i = min(len(sorted_ms) - 1, int(round(p / 100.0 * (len(sorted_ms) - 1))))
    return sorted_ms[i]


def report(what, ms):
    ms = sorted(ms)
    print("%s: n=%d median %.3f ms, p99 %.3f ms, min %.3f ms, max %.3f ms"
          % (what, len(ms), statistics.median(ms), pct(ms, 99), ms[0],
             ms[-1]))


def bench_init(sock, n):
    ms = []
    for _ in range(n):
        t0 = time.perf_counter()
        c = mcpclient.Client(socket_path=sock)
        c.initialize()
        tools = c.request("tools/list", {})
        t1 = time.perf_counter()
        c.close()
        if not tools.get("tools"):
            raise SystemExit("tools/list returned no tools")
        ms.append((t1 - t0) * 1000.0)
    report("init-to-tools/list", ms)


def bench_bash(sock, n, host=None):
    c = mcpclient.Client(socket_path=sock)
    c.initialize()
    args = {"command": "true"}
    if host:
        args["host"] = host
    r = c.call_tool("Bash", args, timeout=30)   # warm: connect + shell
    if r.get("isError"):
        raise SystemExit("Bash true failed: %s" % mcpclient.result_text(r))
    ms = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = c.call_tool("Bash", args)
        t1 = time.perf_counter()
        if r.get("isError"):
            raise SystemExit("Bash true failed: %s"
                             % mcpclient.result_text(r))
        ms.append((t1 - t0) * 1000.0)
    c.close()
    report("Bash true round trip (full path)", ms)


def bench_raw(argv, n):
    """The same over a raw persistent ssh shell, for comparison."""
    import subprocess
    p = subprocess.Popen(argv, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, bufsize=0)
    ms = []
    for i in range(n + 1):
        mark = ("__m%d__" % i).encode()
        t0 = time.perf_counter()
        p.stdin.write(b"true; echo " + mark + b" $?\n")
        buf = b""
        while mark not in buf:
            chunk = p.stdout.read(4096)
            if not chunk:
                raise SystemExit("raw ssh shell ended")
            buf += chunk
        t1 = time.perf_counter()
        if i > 0:
            ms.append((t1 - t0) * 1000.0)
    p.stdin.close()
    p.wait()
    report("true round trip (raw persistent ssh shell)", ms)


def bench_read(sock, path):
    c = mcpclient.Client(socket_path=sock)
    c.initialize()
    r = c.call_tool("Read", {"file_path": path, "offset": 1000000,
                             "limit": 20}, timeout=60)
    c.close()
    text = mcpclient.result_text(r)
    if r.get("isError"):
        raise SystemExit("Read failed: " + text)
    print("Read of 20 lines at line 1000000 of a 100 MB file: result %d "
          "bytes, %d lines" % (len(text.encode()), text.count("\n")))


def bench_hosts(sock, hosts):
    c = mcpclient.Client(socket_path=sock)
    c.initialize()
    for h in hosts:
        r = c.call_tool("Bash", {"command": "true", "host": h}, timeout=30)
        if r.get("isError"):
            raise SystemExit("host %s: %s" % (h, mcpclient.result_text(r)))
    print("%d hosts connected, each with a shell" % len(hosts))
    return c


def main():
    if len(sys.argv) < 4:
        raise SystemExit("usage: mcpbench.py SOCKET init|bash|raw|read|hosts N|ARG")
    sock, mode = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if sys.argv[3].isdigit() else 0
    if mode == "init":
        bench_init(sock, n)
    elif mode == "bash":
        bench_bash(sock, n)
    elif mode == "raw":
        bench_raw(sys.argv[4:], n)
    elif mode == "read":
        bench_read(sock, sys.argv[3])
    elif mode == "hosts":
        c = bench_hosts(sock, sys.argv[3].split(","))
        # hold the sessions while the caller measures memory
        sys.stdout.flush()
        sys.stdin.readline()
        c.close()
    else:
        raise SystemExit("unknown mode " + mode)


if __name__ == "__main__":
    main()
