#!/usr/bin/env python3
"""poolbench.py SOCKET SESSIONS CALLS [HOST]: many MCP sessions at once.

SESSIONS clients connect and initialize; once all are in, each makes
CALLS Bash calls one after the other (its persistent shell lives through
them), all sessions at the same time; the sessions stay open until every
call is answered, so SESSIONS shells exist at once.  Then one session
asks the hosts tool for HOST's connections and channels.

Prints one line of figures:

    N sessions x M Bash: C calls in T s, R calls/s, p50 X ms, p99 Y ms,
    E errors, host H: K connections, L channels

and the first few errors.  Exit status 1 when any call failed.
"""
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import mcpclient  # noqa: E402


def pct(sorted_ms, p):
    i = min(len(sorted_ms) - 1, int(round(p / 100.0 * (len(sorted_ms) - 1))))
    return sorted_ms[i]


def main():
    if len(sys.argv) < 4:
        raise SystemExit("usage: poolbench.py SOCKET SESSIONS CALLS [HOST]")
    sock = sys.argv[1]
    nsess, ncalls = int(sys.argv[2]), int(sys.argv[3])
    host = sys.argv[4] if len(sys.argv) > 4 else None
    lock = threading.Lock()
    ms, errors = [], []
    clients = [None] * nsess
    ready = threading.Barrier(nsess + 1)
    done = threading.Barrier(nsess + 1)

    def session(i):
        # 200 connects at once overflow the socket's listen backlog
        # (EAGAIN): a client tries again, as a real one would
        for attempt in range(300):
            try:
                c = mcpclient.Client(socket_path=sock, timeout=360)
                break
            except BlockingIOError:
                time.sleep(0.1)
            except Exception as e:  # counted, the others go on
                c = None
                with lock:
                    errors.append("session %d: connect: %s" % (i, e))
                break
        else:
            c = None
            with lock:
                errors.append("session %d: connect: backlog full for 30 s"
                              % i)
        if c is not None:
            try:
                c.initialize()
                clients[i] = c
            except Exception as e:
                with lock:
                    errors.append("session %d: initialize: %s" % (i, e))
        ready.wait()
        for j in range(ncalls):
            if clients[i] is None:
                break
            # a loaded machine may take long to start 200 shells: the
            # outcome is judged, not the speed
            args = {"command": "echo s%dc%d" % (i, j), "timeout": 300000}
            if host:
                args["host"] = host
            t0 = time.perf_counter()
            try:
                r = clients[i].call_tool("Bash", args, timeout=360)
                x = mcpclient.result_text(r)
                ok = (not r.get("isError") and
                      x.endswith("s%dc%d\nexit status: 0" % (i, j)))
            except Exception as e:
                ok, x = False, "%s: %s" % (type(e).__name__, e)
            t1 = time.perf_counter()
            with lock:
                ms.append((t1 - t0) * 1000.0)
                if not ok:
                    errors.append("session %d call %d: %s" %
                                  (i, j, x[:300]))
        done.wait()

    threads = [threading.Thread(target=session, args=(i,), daemon=True)
               for i in range(nsess)]
    for t in threads:
        t.start()
    ready.wait()
    t0 = time.perf_counter()
    done.wait()
    elapsed = time.perf_counter() - t0
    conns = chans = -1
    for c in clients:
        if c is None:
            continue
        try:
            r = c.call_tool("hosts", {})
            for h in r.get("structuredContent", {}).get("hosts", []):
                if h.get("name") == host or (host is None and
                                            h.get("default")):
                    conns = h.get("connections", -1)
                    chans = h.get("channels", -1)
        except Exception as e:
            errors.append("hosts: %s" % e)
        break
    for c in clients:
        if c is not None:
            c.close()
    for t in threads:
        t.join(10)
    s = sorted(ms) or [0.0]
    print("%d sessions x %d Bash: %d calls in %.1f s, %.1f calls/s,"
          " p50 %.1f ms, p99 %.1f ms, %d errors, host %s: %d connections,"
          " %d channels" % (nsess, ncalls, len(ms), elapsed,
                            len(ms) / elapsed if elapsed > 0 else 0,
                            statistics.median(s), pct(s, 99), len(errors),
                            host or "(default)", conns, chans))
    for e in errors[:5]:
        print("error: %s" % e)
    sys.stdout.flush()
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
