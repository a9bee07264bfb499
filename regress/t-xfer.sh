#!/usr/bin/env bash
# t-xfer: Upload and Download with reads in flight and large writes
# (issue 16), against an sshd whose SFTP subsystem is sftpcap.py in front
# of OpenSSH's sftp-server: every READ is answered with at most 10007
# bytes (a server that reads less than asked), and a file named "lying"
# is stated at half its size (a file that grew after the check).  Each
# Download must still be byte-identical and say the real byte count; an
# Upload and a Download of a few MB on the plain sshd too, both ways
# byte-identical; an Upload whose write fails mid-way, its answer ahead of
# those still due, is a clear error that leaves nothing and the channel in
# step; a Glob whose listing holds a directory "sub/../../../escape" does
# not walk out of its path (the old walk listed what was there).

. "$(dirname "$0")/lib.sh"

SFTP_SERVER=$(sftp_server_path)
sshd_start || { tap_fail "sshd starts"; tap_end; }
if [ -z "$SFTP_SERVER" ]; then
	tap_skip "no sftp-server binary for the capped subsystem"
	tap_end
fi
SSHD_SFTP="$PYTHON $REGRESS_DIR/sftpcap.py $SFTP_SERVER 10007 \
$TESTDIR/sftpcap.log" \
    sshd_start2 127.0.0.1 ||
    { tap_fail "the capped sshd starts"; tap_end; }
mkdir -p "$TESTDIR/troot"
tap_check "bridged starts" bridged_start "transfer root \"$TESTDIR/troot\"
host \"capped\" {
	address \"127.0.0.1\" port $SSHD2_PORT
	user \"$SSH_USER\"
	identity \"$SSH_USER_KEY\"
	known hosts \"$SSHD2_KNOWN_HOSTS\"
	base dir \"$TESTDIR/base\"
	allow read, write
}
host \"tight\" {
	address \"127.0.0.1\" port $SSHD_PORT
	user \"$SSH_USER\"
	identity \"$SSH_USER_KEY\"
	known hosts \"$SSH_KNOWN_HOSTS\"
	base dir \"$TESTDIR/base\"
	max sessions 1
	allow read, write
}" || tap_end
export TESTDIR REGRESS_DIR

tap_run "$PYTHON" - <<'EOF'
import os, re, sys
sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client, Tap, result_text

t = Tap()
base = os.path.join(os.environ["TESTDIR"], "base")
troot = os.path.join(os.environ["TESTDIR"], "troot")
c = Client(socket_path=os.environ["MCP_SOCK"], timeout=120)
c.initialize()


def call(tool, args):
    r = c.call_tool(tool, args, timeout=120)
    return bool(r.get("isError")), result_text(r)


def same(path, data):
    try:
        with open(path, "rb") as f:
            return f.read() == data
    except OSError:
        return False


# plain sshd: a few MB both ways
data = os.urandom(6 * 1024 * 1024 + 4321)
with open(os.path.join(troot, "six.bin"), "wb") as f:
    f.write(data)
e, x = call("Upload", {"host": "local", "local_path": "six.bin",
                       "remote_path": os.path.join(base, "six.bin")})
t.ok(not e and "Uploaded %d bytes" % len(data) in x and
     same(os.path.join(base, "six.bin"), data),
     "Upload: 6 MB byte-identical", x)
e, x = call("Download", {"host": "local", "local_path": "six.down",
                         "remote_path": os.path.join(base, "six.bin")})
t.ok(not e and "Downloaded %d bytes" % len(data) in x and
     same(os.path.join(troot, "six.down"), data),
     "Download: 6 MB byte-identical, reads in flight", x)

# no room for a channel of its own: in the SFTP session the file tools
# share, as before (ssh_fdown.c)
e, x = call("Download", {"host": "tight", "local_path": "tight.down",
                         "remote_path": os.path.join(base, "six.bin")})
t.ok(not e and "Downloaded %d bytes" % len(data) in x and
     same(os.path.join(troot, "tight.down"), data),
     "Download with no room for its own channel: identical", x)
e, x = call("Glob", {"host": "tight", "pattern": "**/six.*", "path": base})
t.ok(not e and x.strip() == os.path.join(base, "six.bin"),
     "Glob with no room for its own channel: walks in the shared session",
     x)

# the capped server: every read short, each at its offset
e, x = call("Download", {"host": "capped", "local_path": "capped.down",
                         "remote_path": os.path.join(base, "six.bin")})
t.ok(not e and "Downloaded %d bytes" % len(data) in x and
     same(os.path.join(troot, "capped.down"), data),
     "Download from a server that reads 10007 bytes at most: identical", x)
e, x = call("Upload", {"host": "capped", "local_path": "six.bin",
                       "remote_path": os.path.join(base, "capped.up")})
t.ok(not e and same(os.path.join(base, "capped.up"), data),
     "Upload to the capped server: identical", x)

# stated at half its size: read on to its real end
lying = os.path.join(base, "lying.bin")
with open(lying, "wb") as f:
    f.write(data)
e, x = call("Download", {"host": "capped", "local_path": "lying.down",
                         "remote_path": lying})
t.ok(not e and "Downloaded %d bytes" % len(data) in x and
     same(os.path.join(troot, "lying.down"), data),
     "Download of a file longer than its stat: all of it, identical", x)

# MultiRead reads its small files together, each with one READ of the
# size its resolve saw (and, past 8 KiB, one past the end); a read cut
# short, or a file longer than its stat, is read again on its own, to
# its end: every file's last lines are there
def lines(n, tag):
    return "".join("%s line %05d\n" % (tag, i) for i in range(1, n + 1))


mfiles = {"msmall.txt": lines(3, "s"), "m30k.txt": lines(1500, "b"),
          "lying18k.txt": lines(900, "l"), "lying6k.txt": lines(300, "k")}
for n, text in mfiles.items():
    with open(os.path.join(base, n), "w") as f:
        f.write(text)
e, x = call("MultiRead", {"host": "capped", "files": [
    os.path.join(base, "msmall.txt"),
    {"file_path": os.path.join(base, "m30k.txt"), "offset": 1499},
    {"file_path": os.path.join(base, "lying18k.txt"), "offset": 899},
    {"file_path": os.path.join(base, "lying6k.txt"), "offset": 299}]})
t.ok(not e and "     3\ts line 00003\n" in x and
     "  1500\tb line 01500\n" in x and "   900\tl line 00900\n" in x and
     "   300\tk line 00300\n" in x and "error" not in x,
     "MultiRead from the capped server, of files longer than their stat "
     "too: each to its end", x)

# sizes at the edges: empty, one byte, one request, one more
for n in (0, 1, 65536, 65537, 10007 * 3):
    d = os.urandom(n)
    p = os.path.join(base, "e%d.bin" % n)
    with open(p, "wb") as f:
        f.write(d)
    for host in ("local", "capped", "tight"):
        e, x = call("Download", {"host": host, "remote_path": p,
                                 "local_path": "e%d.%s" % (n, host)})
        t.ok(not e and "Downloaded %d bytes" % n in x and
             same(os.path.join(troot, "e%d.%s" % (n, host)), d),
             "Download of %d bytes from %s: identical" % (n, host), x)

# a write that fails with others in flight, its answer ahead of theirs:
# a clear error, no target, no temp file, and the channel still in step
e, x = call("Upload", {"host": "capped", "local_path": "six.bin",
                       "remote_path": os.path.join(base, "failwrite.bin")})
t.ok(e and "write" in x and "failure" in x,
     "Upload: a write refused mid-way is a clear error", x)
left = [n for n in os.listdir(base) if "failwrite" in n]
t.ok(not left, "Upload: neither the target nor a temp file is left", left)
e, x = call("Download", {"host": "capped", "local_path": "after.down",
                         "remote_path": os.path.join(base, "six.bin"),
                         "overwrite": True})
t.ok(not e and same(os.path.join(troot, "after.down"), data),
     "Download after the failed Upload: identical (answers all read)", x)

# a server without posix-rename@openssh.com: a Write over a file replaces
# it with mv(1) on the host, as before
old = os.path.join(base, "replaced.txt")
with open(old, "w") as f:
    f.write("old\n")
e, x = call("Write", {"host": "capped", "file_path": old,
                      "content": "new\n"})
t.ok(not e and open(old).read() == "new\n" and
     not [n for n in os.listdir(base) if ".bridged-" in n],
     "Write over a file where the server has no posix-rename", x)

# a server that lies about names: a directory "sub/../../../escape" in a
# listing (outside the base dir) is passed over, not walked into and listed
liar = os.path.join(base, "liar")
os.makedirs(os.path.join(liar, "sub"))
open(os.path.join(liar, "in.txt"), "w").close()
escape = os.path.join(os.environ["TESTDIR"], "escape")
os.makedirs(escape)
open(os.path.join(escape, "outside.txt"), "w").close()
e, x = call("Glob", {"host": "capped", "pattern": "**/*.txt", "path": liar})
t.ok(not e and x.strip() == os.path.join(liar, "in.txt"),
     "Glob passes over a listed name that holds a /", x)

with open(os.path.join(os.environ["TESTDIR"], "sftpcap.log")) as f:
    lines = f.read().splitlines()
said = [ln for ln in lines if not ln.startswith("write ")]
# Upload to an OpenSSH sftp-server (it announces limits@openssh.com): in
# writes of 64 KiB, which keep sshd and the server both busy (252 KiB
# ones were ~15% slower: ssh_ftransfer.c, XFER_UPLEN)
wrote = [int(ln.split()[1]) for ln in lines if ln.startswith("write ")]
t.ok(wrote and max(wrote) == 65536,
     "Upload to an OpenSSH sftp-server: writes of 64 KiB at most", wrote)
t.ok("capped" in said and "lied" in said and "failed" in said and
     "escaped" in said and "hid" in said, "the capped server did shorten "
     "reads, halve a size, fail a write, lie about a name, hide "
     "posix-rename", said)

# the worker is fine after all of it: no reads left behind in libssh
e, x = call("Read", {"host": "capped", "file_path": os.path.join(base,
                                                                 "e1.bin")})
t.ok(not e, "the capped host still answers after the transfers", x)
c.close()
sys.exit(1 if t.failed else 0)
EOF

bridged_stop
tap_end
