#!/usr/bin/env python3
"""sftpbig.py SFTP-SERVER NAMELEN COUNT: an SFTP subsystem that runs
SFTP-SERVER and answers the READDIRs of a directory whose path holds
"huge" itself, with names of NAMELEN bytes, two to an answer, COUNT
answers, then end of file: a server whose listing is gigabytes of names.
In a directory whose path holds "wide" too, 300 short names come first,
so the listing is long enough to go on on a channel of its own.  One
whose path holds "many" is 210,000 files of 240-byte names, 100 to an
answer, the k-th (from 1) modified at mtime(k).  Every other request
goes to SFTP-SERVER as it came.  For t-listbig."""
import struct
import subprocess
import sys
import threading

from sftpcap import packets, send, sstr

FXP_OPENDIR, FXP_READDIR, FXP_CLOSE = 11, 12, 4
FXP_STATUS, FXP_HANDLE, FXP_NAME = 101, 102, 104
FX_EOF = 1


MANY, MANY_LEN = 210000, 240


def mtime(k):
    """the modification time of the k-th file of a "many" listing"""
    return 1000000 + (k * 7919) % 100003


def many_name(k):
    return b"m%06d" % k + b"y" * (MANY_LEN - 7)


def name_packet(rid, names, times=None):
    b = struct.pack(">BII", FXP_NAME, rid, len(names))
    for i, n in enumerate(names):
        long = b"-rw-r--r-- 1 x x 0 Jan 1 00:00 " + n[:16]
        # attributes: a regular file's permissions, and its times if given
        if times is None:
            attrs = struct.pack(">II", 4, 0o100644)
        else:
            attrs = struct.pack(">IIII", 4 | 8, 0o100644, times[i],
                                times[i])
        b += (struct.pack(">I", len(n)) + n + struct.pack(">I", len(long)) +
              long + attrs)
    return b


def main():
    namelen, count = int(sys.argv[2]), int(sys.argv[3])
    p = subprocess.Popen([sys.argv[1]], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE)
    lock, out = threading.Lock(), threading.Lock()
    opening = {}		# OPENDIR id: "wide" in its path
    listings = {}		# handle: [short names left, answers left]
    serial = [0]

    def answer(b):
        with out:
            send(sys.stdout.buffer, b)

    def readdir(rid, state):
        if len(state) == 1 and state[0] < MANY:
            ks = range(state[0] + 1, min(state[0] + 100, MANY) + 1)
            state[0] = ks[-1]
            answer(name_packet(rid, [many_name(k) for k in ks],
                               [mtime(k) for k in ks]))
        elif len(state) == 1:
            state[:] = [0, 0]
            readdir(rid, state)
        elif state[0] > 0:
            k = min(state[0], 100)
            state[0] -= k
            names = []
            for _ in range(k):
                serial[0] += 1
                names.append(b"s%06d" % serial[0])
            answer(name_packet(rid, names))
        elif state[1] > 0:
            state[1] -= 1
            names = []
            for _ in range(2):
                serial[0] += 1
                names.append(b"h%06d" % serial[0] +
                             b"x" * (namelen - 7))
            answer(name_packet(rid, names))
        else:
            msg = b"End of file"
            answer(struct.pack(">BII", FXP_STATUS, rid, FX_EOF) +
                   struct.pack(">I", len(msg)) + msg + struct.pack(">I", 0))

    def relay():
        for b in packets(sys.stdin.buffer):
            t = b[0]
            if t == FXP_OPENDIR:
                rid = struct.unpack(">I", b[1:5])[0]
                path, _ = sstr(b, 5)
                if b"huge" in path or b"many" in path:
                    with lock:
                        opening[rid] = (b"many" if b"many" in path else
                                        b"wide" in path)
            elif t == FXP_READDIR:
                rid = struct.unpack(">I", b[1:5])[0]
                h, _ = sstr(b, 5)
                with lock:
                    state = listings.get(h)
                if state is not None:
                    readdir(rid, state)
                    continue
            elif t == FXP_CLOSE:
                h, _ = sstr(b, 5)
                with lock:
                    listings.pop(h, None)
            send(p.stdin, b)

    def up():
        # the server's stdin closed however this ends, else it waits on it
        try:
            relay()
        except BrokenPipeError:
            pass
        finally:
            p.stdin.close()

    threading.Thread(target=up, daemon=True).start()
    for b in packets(p.stdout):
        rid = struct.unpack(">I", b[1:5])[0] if len(b) >= 5 else None
        with lock:
            if b[0] == FXP_HANDLE and rid in opening:
                kind = opening.pop(rid)
                listings[sstr(b, 5)[0]] = ([0] if kind == b"many" else
                                           [300 if kind else 0, count])
        try:
            answer(b)
        except BrokenPipeError:
            break
    p.wait()


if __name__ == "__main__":
    main()
