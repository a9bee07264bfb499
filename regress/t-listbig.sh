#!/usr/bin/env bash
# t-listbig: a host whose SFTP server answers a listing with names of
# 120,000 bytes, two to an answer, 300 answers (72 MB of names; sftpbig.py)
# costs its own call a short listing and nothing else.  ListDir stops at
# 4 MiB of names with "(listing stopped there)", in the listing read in
# the worker's blocking section and in the one that goes on, on a
# channel of its own, past 256 entries; the host's ssh worker stays small
# (it used to keep every name and format them all: 72 MB and more).  A
# Glob over 210,000 files of 240-byte names answers the 100 newest of the
# 200,000 it may visit, and keeps only those (it used to keep all the
# matches, some 60 MB, to answer 100).  The host's next calls work, and
# the daemon keeps its pids.

. "$(dirname "$0")/lib.sh"

SFTP_SERVER=$(sftp_server_path)
sshd_start || { tap_fail "sshd starts"; tap_end; }
if [ -z "$SFTP_SERVER" ]; then
	tap_skip "no sftp-server binary for the hostile subsystem"
	tap_end
fi
cat >"$TESTDIR/sftp-sub" <<EOS
#!/bin/sh
PYTHONPATH=$REGRESS_DIR exec $PYTHON $REGRESS_DIR/sftpbig.py $SFTP_SERVER 120000 300
EOS
chmod +x "$TESTDIR/sftp-sub"
SSHD_SFTP="$TESTDIR/sftp-sub" sshd_start2 127.0.0.1 ||
    { tap_fail "the sshd with the hostile SFTP server starts"; tap_end; }
mkdir -p "$TESTDIR/base/huge" "$TESTDIR/base/hugewide" "$TESTDIR/base/small" \
    "$TESTDIR/base/many"
for i in 1 2 3; do echo "$i" >"$TESTDIR/base/small/f$i.txt"; done
echo kept >"$TESTDIR/base/kept.txt"
tap_check "bridged starts" bridged_start "host \"big\" {
	address \"127.0.0.1\" port $SSHD2_PORT
	user \"$SSH_USER\"
	identity \"$SSH_USER_KEY\"
	known hosts \"$SSHD2_KNOWN_HOSTS\"
	base dir \"$TESTDIR/base\"
	allow read, exec
}" || tap_end
FE_PID=$(pgrep -P "$BRIDGED_PID" -f frontend | head -n 1)
LG_PID=$(pgrep -P "$BRIDGED_PID" -f logger | head -n 1)
export TESTDIR REGRESS_DIR BRIDGED_PID

tap_run "$PYTHON" - <<'PY'
import os, subprocess, sys
sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client, Tap, result_text

t = Tap()
base = os.path.join(os.environ["TESTDIR"], "base")
c = Client(socket_path=os.environ["MCP_SOCK"], timeout=120)
c.initialize()


def call(tool, args):
    args["host"] = "big"
    r = c.call_tool(tool, args, timeout=120)
    return bool(r.get("isError")), result_text(r)


def worker_hwm():
    """the host's ssh worker and its peak RSS, KiB (None, 0: not found)"""
    out = subprocess.run(["pgrep", "-P", os.environ["BRIDGED_PID"]],
                         capture_output=True, text=True).stdout.split()
    for p in out:
        try:
            with open("/proc/%s/cmdline" % p) as f:
                if not f.read().startswith("bridged: ssh"):
                    continue
            with open("/proc/%s/status" % p) as f:
                for l in f:
                    if l.startswith("VmHWM:"):
                        return p, int(l.split()[1])
        except OSError:
            pass
    return None, 0


e, x = call("ListDir", {"path": os.path.join(base, "small")})
t.ok(not e and "3 entries" in x and "f2.txt" in x,
     "a plain listing on the host", x[:200])
pid, start = worker_hwm()

# Glob over 210,000 files of 240-byte names: the walk stops at 200,000
# entries and answers the 100 newest, which is all it keeps
sys.path.insert(0, os.environ["REGRESS_DIR"])
from sftpbig import many_name, mtime
many = os.path.join(base, "many")
e, x = call("Glob", {"pattern": "*", "path": many})
want = sorted(range(1, 200001), key=lambda k: (-mtime(k), many_name(k)))
want = [os.path.join(many, many_name(k).decode()) for k in want[:100]]
lines = x.splitlines()
t.ok(not e and lines[:100] == want and
     "showing the 100 most recently modified of 200000 files" in x and
     "after 200000 entries" in x,
     "Glob of 210,000 files: the 100 newest of the first 200,000",
     lines[:2], want[:2], lines[100:])
pid1, glob_hwm = worker_hwm()
t.ok(pid is not None and pid1 == pid and 0 < glob_hwm < 40 * 1024,
     "the same ssh worker, its peak RSS small (%d KiB; %d KiB before the "
     "Glob)" % (glob_hwm, start), pid, pid1)


# 4 MiB of names: 34 of 120,000 bytes after the short names (7 bytes)
for d, short in (("huge", 0), ("hugewide", 300)):
    e, x = call("ListDir", {"path": os.path.join(base, d)})
    want = short + (4 * 1024 * 1024 - 7 * short) // 120000
    head = x.splitlines()[0] if x else x
    t.ok(not e and head.endswith(": %d entries (listing stopped there)"
                                 % want),
         "%s: 72 MB of names, the listing stops at 4 MiB of them (%d "
         "entries)" % (d, want), head[:200])
pid2, hwm = worker_hwm()
t.ok(pid is not None and pid2 == pid and 0 < hwm < 48 * 1024,
     "the same ssh worker, its peak RSS small (%d KiB; %d KiB before the "
     "listings)" % (hwm, start), pid, pid2)
e, x = call("Read", {"file_path": os.path.join(base, "kept.txt")})
e2, x2 = call("Bash", {"command": "echo after"})
t.ok(not e and "kept" in x and not e2 and "after" in x2,
     "the host's next Read and Bash work", x, x2)
t.done()
PY
tap_check "the daemon is still running" bridged_alive
if [ "$(pgrep -P "$BRIDGED_PID" -f frontend | head -n 1)" = "$FE_PID" ] &&
    [ "$(pgrep -P "$BRIDGED_PID" -f logger | head -n 1)" = "$LG_PID" ]; then
	tap_ok "the frontend and the logger are the ones it started"
else
	tap_fail "the frontend and the logger are the ones it started"
fi
tap_end
