#!/usr/bin/env python3
"""sftpcap.py SFTP-SERVER CAP LOG: an SFTP subsystem that runs SFTP-SERVER
and answers every READ with at most CAP bytes (a server that reads less
than asked), and gives the size of a file whose name holds "lying" as half
its real size in STAT, LSTAT and FSTAT answers (a file that grew after its
stat).  A WRITE past the first MiB of a file whose name holds "failwrite"
is answered here at once with a failure status, ahead of the answers the
server still owes (answers out of order).  Appends "capped" to LOG the
first time it shortens a read, "lied" the first time it halves a size and
"failed" the first time it fails a write, so the test knows it did, and
"write N" the first time a WRITE carries N bytes.  A listing of a
directory whose path holds "liar" gets one more entry, a directory named
"sub/../../../escape" (a server that lies about names), and "escaped" is
appended to LOG.  Its VERSION leaves out posix-rename@openssh.com (a
server without it: a file is replaced with mv on the host), and "hid" is
appended to LOG.  For t-xfer."""
import struct
import subprocess
import sys
import threading

FXP_LSTAT, FXP_FSTAT, FXP_OPEN, FXP_READ, FXP_STAT = 7, 8, 3, 5, 17
FXP_WRITE, FXP_STATUS, FXP_HANDLE, FXP_ATTRS = 6, 101, 102, 105
FXP_OPENDIR, FXP_READDIR, FXP_NAME = 11, 12, 104
FXP_VERSION = 2
FX_FAILURE = 4


def packets(f):
    while True:
        h = f.read(4)
        if len(h) < 4:
            return
        n = struct.unpack(">I", h)[0]
        b = f.read(n)
        if len(b) < n:
            return
        yield b


def send(f, b):
    f.write(struct.pack(">I", len(b)) + b)
    f.flush()


def sstr(b, off):
    n = struct.unpack(">I", b[off:off + 4])[0]
    return b[off + 4:off + 4 + n], off + 4 + n


def main():
    cap = int(sys.argv[2])
    said = set()

    def note(what):
        if what not in said:
            said.add(what)
            with open(sys.argv[3], "a") as f:
                f.write(what + "\n")
    p = subprocess.Popen([sys.argv[1]], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE)
    lying_ids, open_ids, lying_handles = set(), set(), set()
    fail_ids, fail_handles = set(), set()
    liar_ids, liar_handles, liar_reads = set(), set(), set()
    lock = threading.Lock()
    out = threading.Lock()

    def answer(b):
        with out:
            send(sys.stdout.buffer, b)

    def up():
        # the server's stdin closed however this ends (an injected answer
        # to a client already gone raises BrokenPipeError): else the
        # server waits on it for good, and this process with it
        try:
            relay()
        finally:
            p.stdin.close()

    def relay():
        for b in packets(sys.stdin.buffer):
            t = b[0]
            if t in (FXP_STAT, FXP_LSTAT, FXP_OPEN):
                rid = struct.unpack(">I", b[1:5])[0]
                path, _ = sstr(b, 5)
                if b"lying" in path:
                    with lock:
                        (open_ids if t == FXP_OPEN else lying_ids).add(rid)
                if b"failwrite" in path and t == FXP_OPEN:
                    with lock:
                        fail_ids.add(rid)
            elif t == FXP_OPENDIR:
                rid = struct.unpack(">I", b[1:5])[0]
                path, _ = sstr(b, 5)
                if b"liar" in path:
                    with lock:
                        liar_ids.add(rid)
            elif t == FXP_READDIR:
                rid = struct.unpack(">I", b[1:5])[0]
                h, _ = sstr(b, 5)
                with lock:
                    if h in liar_handles:
                        liar_reads.add(rid)
            elif t == FXP_FSTAT:
                rid = struct.unpack(">I", b[1:5])[0]
                h, _ = sstr(b, 5)
                with lock:
                    if h in lying_handles:
                        lying_ids.add(rid)
            elif t == FXP_WRITE:
                rid = struct.unpack(">I", b[1:5])[0]
                h, off = sstr(b, 5)
                at = struct.unpack(">Q", b[off:off + 8])[0]
                # the WRITE's data length, for the test to see
                note("write %d" % struct.unpack(">I", b[off + 8:off + 12])[0])
                with lock:
                    bad = h in fail_handles and at >= 1 << 20
                if bad:
                    note("failed")
                    msg = b"injected write failure"
                    answer(struct.pack(">BII", FXP_STATUS, rid, FX_FAILURE) +
                           struct.pack(">I", len(msg)) + msg +
                           struct.pack(">I", 0))
                    continue
            elif t == FXP_READ:
                h, off = sstr(b, 5)
                n = struct.unpack(">I", b[off + 8:off + 12])[0]
                if n > cap:
                    note("capped")
                    b = b[:off + 8] + struct.pack(">I", cap)
            send(p.stdin, b)

    threading.Thread(target=up, daemon=True).start()
    for b in packets(p.stdout):
        t = b[0]
        if t == FXP_VERSION:
            # version, then (name, data) pairs: all but posix-rename
            out_b, off = b[:5], 5
            while off < len(b):
                name, off2 = sstr(b, off)
                data, off2 = sstr(b, off2)
                if name == b"posix-rename@openssh.com":
                    note("hid")
                else:
                    out_b += b[off:off2]
                off = off2
            answer(out_b)
            continue
        rid = struct.unpack(">I", b[1:5])[0] if len(b) >= 5 else None
        with lock:
            if t == FXP_HANDLE and rid in open_ids:
                open_ids.discard(rid)
                lying_handles.add(sstr(b, 5)[0])
            elif t == FXP_HANDLE and rid in liar_ids:
                liar_ids.discard(rid)
                liar_handles.add(sstr(b, 5)[0])
            elif t == FXP_NAME and rid in liar_reads:
                liar_reads.discard(rid)
                n = struct.unpack(">I", b[5:9])[0]
                name = b"sub/../../../escape"
                long = b"drwxr-xr-x 2 x x 0 Jan 1 00:00 " + name
                note("escaped")
                b = (b[:5] + struct.pack(">I", n + 1) + b[9:] +
                     struct.pack(">I", len(name)) + name +
                     struct.pack(">I", len(long)) + long +
                     struct.pack(">II", 4, 0o40755))
            elif t == FXP_HANDLE and rid in fail_ids:
                fail_ids.discard(rid)
                fail_handles.add(sstr(b, 5)[0])
            elif t == FXP_ATTRS and rid in lying_ids:
                lying_ids.discard(rid)
                flags = struct.unpack(">I", b[5:9])[0]
                if flags & 1:
                    size = struct.unpack(">Q", b[9:17])[0]
                    note("lied")
                    b = b[:9] + struct.pack(">Q", size // 2) + b[17:]
        answer(b)
    p.wait()


if __name__ == "__main__":
    main()
