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


def main():
    if len(sys.argv) != 4:
        raise SystemExit("usage: mcpbench.py SOCKET init|bash N")
    sock, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "init":
        bench_init(sock, n)
    else:
        raise SystemExit("unknown mode " + mode)


if __name__ == "__main__":
    main()
