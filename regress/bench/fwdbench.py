#!/usr/bin/env python3
"""fwdbench.py SOCKET HOST PORT MB SSH-ARGV...: throughput of forwards.

A sink on 127.0.0.1 PORT (which HOST must allow with "forward to") reads
everything and answers the byte count and CRC-32 at EOF.  MB megabytes of
random data are pushed through a bridged local forward (forward_open on
HOST) and through "ssh -N -L" (SSH-ARGV: the ssh command and its options
up to the destination, e.g. ssh -p 2222 ... 127.0.0.1) to the same sink;
then through a bridged reverse forward and "ssh -N -R" (the host's port is
on 127.0.0.1 too: the sshd runs here).  Seven runs of each, interleaved
(with three, one noisy run could set the median: the reverse forward,
near 1.0x, came out anywhere from 0.87x to 1.13x on one day);
prints the median MB/s of each, counted from connect to the sink's answer,
and bridged's ratio to OpenSSH (issue 16: >= 0.9).  Then, through each,
the median round trip of a request whose answer comes in two pieces 2 ms
apart (a server's head and body: the forward's end must not hold the
second for the client's delayed ACK of the first).
"""
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import mcpclient  # noqa: E402

CHUNK = 256 * 1024
RUNS = 7


def sink_server(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(8)

    def serve(c):
        n, crc = 0, 0
        while True:
            b = c.recv(1 << 20)
            if not b:
                break
            if n == 0 and b == b"split?\n":
                split(c)
                return
            n += len(b)
            crc = zlib.crc32(b, crc)
        c.sendall(struct.pack("!QI", n, crc))
        c.close()

    def split(c):
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        f = c.makefile("rb")
        b = b"split?\n"
        while b == b"split?\n":
            c.sendall(b"head ")
            time.sleep(0.002)
            c.sendall(b"tail\n")
            b = f.readline()
        c.close()

    def loop():
        while True:
            c, _ = s.accept()
            threading.Thread(target=serve, args=(c,), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()
    return s.getsockname()[1]


BUF = os.urandom(CHUNK)


def expect(total):
    crc, left = 0, total
    while left > 0:
        n = min(left, CHUNK)
        crc = zlib.crc32(BUF[:n], crc)
        left -= n
    return crc


def push(port, total, crc):
    t0 = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port), timeout=120)
    left = total
    while left > 0:
        n = min(left, CHUNK)
        s.sendall(BUF[:n])
        left -= n
    s.shutdown(socket.SHUT_WR)
    got = b""
    while len(got) < 12:
        b = s.recv(12 - len(got))
        if not b:
            break
        got += b
    t1 = time.perf_counter()
    s.close()
    if len(got) != 12 or struct.unpack("!QI", got) != (total, crc):
        raise SystemExit("fwdbench: the sink did not get the %d bytes "
                         "sent" % total)
    return t1 - t0


def rtt(port, n=50):
    """median ms of n requests whose answers come in two pieces"""
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    f = s.makefile("rb")
    v = []
    for _ in range(n + 1):
        t0 = time.perf_counter()
        s.sendall(b"split?\n")
        if f.readline() != b"head tail\n":
            raise SystemExit("fwdbench: a two-piece answer did not come")
        v.append((time.perf_counter() - t0) * 1000.0)
    s.close()
    return median(v[1:])


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def ssh_forward(sshargv, flag, sink):
    lport = free_port()
    p = subprocess.Popen(sshargv[:1] + ["-N", "-o", "ExitOnForwardFailure=yes",
                                        flag, "127.0.0.1:%d:127.0.0.1:%d" %
                                        (lport, sink)] + sshargv[1:],
                         stdin=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", lport), 1).close()
            break
        except OSError:
            time.sleep(0.1)
    return p, lport


def median(v):
    v = sorted(v)
    return v[len(v) // 2]


def main():
    if len(sys.argv) < 6:
        raise SystemExit(__doc__)
    sock, host = sys.argv[1], sys.argv[2]
    port, mb = int(sys.argv[3]), int(sys.argv[4])
    sshargv = sys.argv[5:]
    total = mb * 1024 * 1024
    crc = expect(total)
    small = expect(1024 * 1024)
    sink = sink_server(port)

    c = mcpclient.Client(socket_path=sock, timeout=60)
    c.initialize()
    for direction, flag, name in (("local", "-L", "local forward"),
                                  ("remote", "-R", "reverse forward")):
        r = c.call_tool("forward_open", {"host": host,
                                         "direction": direction,
                                         "dest_host": "127.0.0.1",
                                         "dest_port": sink})
        sc = r.get("structuredContent") or {}
        if r.get("isError") or not sc.get("listen_port"):
            raise SystemExit("fwdbench: forward_open: %s" %
                             mcpclient.result_text(r))
        p, lport = ssh_forward(sshargv, flag, sink)
        ours, theirs = [], []
        try:
            push(sc["listen_port"], 1024 * 1024, small)     # warm
            push(lport, 1024 * 1024, small)
            for _ in range(RUNS):
                ours.append(mb / push(sc["listen_port"], total, crc))
                theirs.append(mb / push(lport, total, crc))
            ra, rb = rtt(sc["listen_port"]), rtt(lport)
        finally:
            p.terminate()
            p.wait(10)
            c.call_tool("forward_close", {"id": sc["id"]})
        a, b = median(ours), median(theirs)
        print("%s, %d MB, median of %d: bridged %.1f MB/s, ssh %s "
              "%.1f MB/s: %.2fx (goal >= 0.9)" %
              (name, mb, RUNS, a, flag, b, a / b))
        print("  an answer in two pieces 2 ms apart, median round trip of "
              "50: bridged %.2f ms, ssh %s %.2f ms" % (ra, flag, rb))
    c.close()


if __name__ == "__main__":
    main()
