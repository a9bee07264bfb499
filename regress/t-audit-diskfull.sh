#!/bin/bash
# t-audit-diskfull: the audit database and text log on a small tmpfs that
# fills up.  Calls that change something are refused with "audit
# unavailable", reads are answered; once space is freed the daemon writes
# again, without a restart, and the queued records and the chain are
# whole.  Needs root (mount); skipped otherwise.

. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ]; then
	tap_skip "disk full" "needs root to mount a tmpfs"
	tap_end
fi
if ! command -v sqlite3 >/dev/null; then
	tap_skip "disk full" "the sqlite3 command is not installed"
	tap_end
fi
MNT=$TESTDIR/small
mkdir -p "$MNT"
if ! mount -t tmpfs -o size=4m,mode=0755 tmpfs "$MNT" 2>"$TESTDIR/mount.err"; then
	tap_skip "disk full" "mount -t tmpfs failed: $(cat "$TESTDIR/mount.err")"
	tap_end
fi
_umount() { umount "$MNT" 2>/dev/null; }
trap '_umount; _regress_cleanup' EXIT
mkdir -p "$MNT/db" "$MNT/log"
chown nobody "$MNT/db" "$MNT/log"
AUDIT_DB=$MNT/db/audit.db
LOG_FILE=$MNT/log/bridge.log
export AUDIT_DB LOG_FILE

sshd_start || { tap_fail "sshd starts"; tap_end; }
if ! tap_check "bridged starts" bridged_start; then
	tap_end
fi
echo "read me" >"$TESTDIR/base/r.txt"
export REGRESS_DIR TESTDIR MNT

tap_run "$PYTHON" - <<'EOF2'
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client, Tap, result_text

TD = os.environ["TESTDIR"]
MNT = os.environ["MNT"]
CTL = [os.environ["BRIDGECTL"], "-s", os.environ["CTL_SOCK"]]
FILL = MNT + "/db/fill"
t = Tap()
c = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
c.initialize()
r = c.call_tool("Bash", {"command": "echo before"})
t.ok(result_text(r).startswith("before"), "Bash works with space", r)

subprocess.run(["dd", "if=/dev/zero", "of=" + FILL, "bs=64k"],
               capture_output=True)
refused = 0
started = time.monotonic()
for i in range(25):
    r = c.call_tool("Bash", {"command": "echo full-%d" % i})
    if r.get("isError") and "audit unavailable" in result_text(r):
        refused += 1
elapsed = time.monotonic() - started
t.ok(refused == 25, "the disk is full: Bash is refused (%d of 25)" %
     refused, r)
r = c.call_tool("Write", {"file_path": TD + "/base/x", "content": "x"})
t.ok(r.get("isError") and "audit unavailable" in result_text(r) and
     not os.path.exists(TD + "/base/x"),
     "Write is refused and nothing is written", r)
r = c.call_tool("Read", {"file_path": TD + "/base/r.txt"})
t.ok(not r.get("isError") and "read me" in result_text(r),
     "Read is answered", r)

os.unlink(FILL)
ok = False
for i in range(50):
    r = c.call_tool("Bash", {"command": "echo after"})
    if not r.get("isError"):
        ok = True
        break
    time.sleep(0.2)
t.ok(ok and result_text(r).startswith("after"),
     "space freed: Bash works again without a restart", r)
c.close()
time.sleep(0.5)
log = open(TD + "/bridged.log").read()
t.ok("cannot write records" in log and "writing again" in log,
     "the daemon log says when writing failed and when it resumed")
# 26 refusals (25 Bash, 1 Write): one line per 10 s and a count, no flood
nlines = log.count(") refused: audit unavailable")
quiet = [int(m) for m in re.findall(r"(\d+) more calls? (?:was|were) "
                                     r"refused: audit unavailable", log)]
t.ok(nlines <= 2 + int(elapsed) // 10 and nlines + sum(quiet) == 26,
     "the refusals are rate-limited in the daemon log, and counted",
     nlines, quiet, elapsed)
p = subprocess.run(CTL + ["-j", "show", "audit", "tool", "Bash"],
                   capture_output=True, text=True)
t.ok(p.returncode == 0 and "full-4" in p.stdout and
     '"refused"' in p.stdout,
     "the refused calls were recorded once space came back", p.stdout,
     p.stderr)
p = subprocess.run(CTL + ["verify"], capture_output=True, text=True)
t.ok(p.returncode == 0, "the chain verifies", p.stdout, p.stderr)
sys.exit(t.done())
EOF2
ic=$(sqlite3 "$AUDIT_DB" "pragma integrity_check" 2>&1)
[ "$ic" = ok ] && tap_ok "integrity_check ok" ||
    tap_fail "integrity_check" "$ic"
tap_check "bridged stops" bridged_stop
tap_end
