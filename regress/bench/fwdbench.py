#!/usr/bin/env python3
"""fwdbench.py SOCKET HOST PORT MB SSH-ARGV...: throughput of one local forward.

A sink on 127.0.0.1 PORT (which HOST must allow with "forward to") reads everything and answers the byte count at EOF.
MB megabytes are pushed through a bridged local forward (forward_open on
HOST) and then through "ssh -N -L" (SSH-ARGV: the ssh command and its
options up to the destination, e.g. ssh -p 2222 ... 127.0.0.1) to the
same sink; prints MB/s of each, counted from connect to the sink's answer.
"""
import os
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import mcpclient  # noqa: E402

CHUNK = 256 * 1024


def sink_server(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(8)

    def serve(c):
        n = 0
        while True:
            b = c.recv(1 << 20)
            if not b:
                break
            n += len(b)
        c.sendall(struct.pack("!Q", n))
        c.close()

    def loop():
        while True:
            c, _ = s.accept()
            threading.Thread(target=serve, args=(c,), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()
    return s.getsockname()[1]


def push(port, total):
    buf = os.urandom(CHUNK)
    t0 = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port), timeout=120)
    left = total
    while left > 0:
        n = min(left, CHUNK)
        s.sendall(buf[:n])
        left -= n
    s.shutdown(socket.SHUT_WR)
    got = b""
    while len(got) < 8:
        b = s.recv(8 - len(got))
        if not b:
            break
        got += b
    t1 = time.perf_counter()
    s.close()
    if len(got) != 8 or struct.unpack("!Q", got)[0] != total:
        raise SystemExit("fwdbench: the sink did not get %d bytes" % total)
    return t1 - t0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def main():
    if len(sys.argv) < 6:
        raise SystemExit(__doc__)
    sock, host = sys.argv[1], sys.argv[2]
    port, mb = int(sys.argv[3]), int(sys.argv[4])
    sshargv = sys.argv[5:]
    total = mb * 1024 * 1024
    sink = sink_server(port)

    c = mcpclient.Client(socket_path=sock, timeout=60)
    c.initialize()
    r = c.call_tool("forward_open", {"host": host, "direction": "local",
                                     "dest_host": "127.0.0.1",
                                     "dest_port": sink})
    sc = r.get("structuredContent") or {}
    if r.get("isError") or not sc.get("listen_port"):
        raise SystemExit("fwdbench: forward_open: %s" %
                         mcpclient.result_text(r))
    push(sc["listen_port"], 1024 * 1024)          # warm
    dt = push(sc["listen_port"], total)
    print("local forward, %d MB through bridged: %.1f MB/s (%.2f s)" %
          (mb, mb / dt, dt))
    c.call_tool("forward_close", {"id": sc["id"]})
    c.close()

    lport = free_port()
    p = subprocess.Popen(sshargv[:1] + ["-N", "-o", "ExitOnForwardFailure=yes",
                                        "-L", "127.0.0.1:%d:127.0.0.1:%d" %
                                        (lport, sink)] + sshargv[1:],
                         stdin=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", lport), 1).close()
                break
            except OSError:
                time.sleep(0.1)
        push(lport, 1024 * 1024)
        dt = push(lport, total)
        print("ssh -L, %d MB on the same sshd:        %.1f MB/s (%.2f s)" %
              (mb, mb / dt, dt))
    finally:
        p.terminate()
        p.wait(10)


if __name__ == "__main__":
    main()
