#!/usr/bin/env python3
"""readbench.py SOCKET N HOST...: Reads that come together (issue 16): 10
Reads of small files sent at once, as an agent's parallel calls come,
beside the same 10 one after another, N rounds each, interleaved, on each
HOST (its base dir's readbench.* holds the files: HOST=NAME:DIR).
Medians, and at once over one after another."""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
from mcpclient import Client  # noqa: E402

NFILES = 10


def main():
    sock, n = sys.argv[1], int(sys.argv[2])
    c = Client(socket_path=sock, timeout=120)
    c.initialize()
    for spec in sys.argv[3:]:
        host, base = spec.split(":", 1)
        d = os.path.join(base, "readbench.%s" % host)
        os.mkdir(d)
        args = []
        for i in range(NFILES):
            p = os.path.join(d, "f%d" % i)
            with open(p, "w") as f:
                f.write("".join("line %d of file %d\n" % (k, i)
                                for k in range(40)))
            args.append({"host": host, "file_path": p})

        def check(r, i):
            res = r.get("result", {})
            text = "".join(b.get("text", "") for b in res.get("content", []))
            if res.get("isError") or "line 39 of file %d\n" % i not in text:
                sys.exit("readbench: Read %d on %s: %s" % (i, host, r))

        def at_once():
            ids = [c.new_id() for a in args]
            t0 = time.monotonic()
            c.send_raw("\n".join(json.dumps(
                {"jsonrpc": "2.0", "id": i, "method": "tools/call",
                 "params": {"name": "Read", "arguments": a}})
                for i, a in zip(ids, args)))
            rs = [c.wait_response(i) for i in ids]
            t = time.monotonic() - t0
            for i, r in enumerate(rs):
                check(r, i)
            return t

        def in_turn():
            t0 = time.monotonic()
            rs = [c.request_raw("tools/call", {"name": "Read",
                                               "arguments": a})
                  for a in args]
            t = time.monotonic() - t0
            for i, r in enumerate(rs):
                check(r, i)
            return t

        together, alone = [], []
        for r in range(n):
            together.append(at_once())
            alone.append(in_turn())
        a = statistics.median(together) * 1000
        b = statistics.median(alone) * 1000
        print("%d Reads at once on host %s: median %.2f ms; one after "
              "another %.2f ms (%.2fx the time)" % (NFILES, host, a, b,
                                                     a / b))
    c.close()


if __name__ == "__main__":
    main()
