#!/usr/bin/env python3
"""sftpfuzz.py SFTP-SERVER SEED RATE LOG: a hostile SFTP subsystem for
t-sftpfuzz.  It runs SFTP-SERVER and passes what the client sends as it
is; of what the server answers after its VERSION, each packet is, with
probability RATE, changed in one way: bytes flipped, cut short, garbage
appended, its type or request id replaced, sent twice, a string's or a
count's length made huge, an ATTRS with every flag and huge values, or a
length prefix that claims more than follows.  Each SFTP session gets its
own stream of changes from SEED and the number of sessions before it
(counted in LOG), so a run is the same each time.  Appends one line per
change to LOG ("session N", then the kinds), so the test knows it
happened."""
import os
import random
import struct
import subprocess
import sys
import threading

from sftpcap import packets	# its neighbour in regress/: SFTP framing


def frame(b):
    return struct.pack(">I", len(b)) + b


def mutate(r, b):
    """(bytes to send, kind) for the server's packet b"""
    k = r.randrange(11)
    if k == 0 and b:
        x = bytearray(b)
        for _ in range(r.randrange(1, 5)):
            x[r.randrange(len(x))] = r.randrange(256)
        return frame(bytes(x)), "flip"
    if k == 1:
        return frame(b[:r.randrange(len(b) + 1)]), "cut"
    if k == 2:
        return frame(b + os.urandom(r.choice([1, 7, 300]))), "garbage"
    if k == 3 and b:
        return frame(bytes([r.choice([1, 2, 100, 101, 102, 103, 104,
                                      105, 200, 201, 0, 255])]) + b[1:]), \
            "type"
    if k == 4 and len(b) >= 5:
        rid = struct.unpack(">I", b[1:5])[0]
        nid = r.choice([rid + 1, rid - 1, 0, 0xffffffff,
                        r.randrange(1 << 32)]) & 0xffffffff
        return frame(b[:1] + struct.pack(">I", nid) + b[5:]), "id"
    if k == 5:
        return frame(b) + frame(b), "twice"
    if k == 6 and len(b) >= 9:
        # the first string or count after the id: huge
        return frame(b[:5] + struct.pack(">I", r.choice(
            [0xffffffff, 0x7fffffff, 0x10000000, len(b)])) + b[9:]), "huge"
    if k == 7 and len(b) >= 5:
        attrs = struct.pack(">IQIIIII", 0x8000000f, r.choice(
            [0xffffffffffffffff, 1 << 62, 0]), 0xffffffff, 0xffffffff,
            0o170777, 0xffffffff, 0xffffffff) + struct.pack(">I", 0x7fffffff)
        return frame(bytes([105]) + b[1:5] + attrs), "attrs"
    if k == 8:
        # a length prefix that claims more than this packet holds: what
        # follows (the next answers) is read as its rest
        return struct.pack(">I", len(b) + r.choice([1, 100, 70000])) + b, \
            "prefix"
    if k == 9 and len(b) >= 5:
        # a NAME of many entries that are not there
        return frame(bytes([104]) + b[1:5] + struct.pack(">I", r.choice(
            [1000000, 2, 0xffffffff])) + b"\0\0\0\x01/\0\0\0\x01/" +
            b"\0\0\0\0"), "name"
    return frame(b), "none"


def main():
    server, seed, rate, log = sys.argv[1], int(sys.argv[2]), \
        float(sys.argv[3]), sys.argv[4]
    try:
        with open(log) as f:
            n = sum(1 for ln in f if ln.startswith("session "))
    except OSError:
        n = 0
    logf = open(log, "a", buffering=1)
    logf.write("session %d\n" % n)
    r = random.Random(seed * 1000 + n)
    p = subprocess.Popen([server], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE)

    def up():
        try:
            for b in packets(sys.stdin.buffer):
                p.stdin.write(frame(b))
                p.stdin.flush()
        except OSError:
            pass
        try:
            p.stdin.close()
        except OSError:
            pass

    threading.Thread(target=up, daemon=True).start()
    out = sys.stdout.buffer
    first = True
    try:
        for b in packets(p.stdout):
            if first:
                first = False
                out.write(frame(b))
            elif r.random() < rate:
                data, kind = mutate(r, b)
                logf.write(kind + "\n")
                out.write(data)
            else:
                out.write(frame(b))
            out.flush()
    except OSError:
        pass
    p.terminate()
    p.wait()


if __name__ == "__main__":
    main()
