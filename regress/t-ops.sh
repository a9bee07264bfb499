#!/bin/bash
# t-ops: bridged as an operator runs it with bridgectl.  reload prints the
# parser's file:line errors (and -j says the same as JSON); -j on the
# commands that answer with one message; show audit's tool and host
# filters name what exists; the display says "ok" as the outcome filter
# does; times are UTC ISO-8601 (local with -l); columns stay aligned with
# a long host name; a failed call's record says why (redacted) and a Bash
# killed at its timeout is "timeout"; show log -f -n 0 prints only what
# comes and ends with "bridged stopped", exit 0, when the daemon stops;
# verify database PATH checks the file with the daemon down.

. "$(dirname "$0")/lib.sh"

if ! command -v sqlite3 >/dev/null; then
	tap_skip "operator tests" "the sqlite3 command is not installed"
	tap_end
fi
sshd_start || { tap_fail "sshd starts"; tap_end; }
LONGHOST=a-host-with-a-rather-long-name-for-the-columns
EXTRA=$(cat <<EOF
host "$LONGHOST" {
	address "127.0.0.1" port $SSHD_PORT
	user "$SSH_USER"
	identity "$SSH_USER_KEY"
	known hosts "$SSH_KNOWN_HOSTS"
	base dir "$TESTDIR/base"
	allow read, exec
}
EOF
)
if ! tap_check "bridged starts" bridged_start "$EXTRA"; then
	tap_end
fi
CTL() { "$BRIDGECTL" -s "$CTL_SOCK" "$@"; }

# reload: what is wrong, where
cp "$BRIDGED_CONF" "$TESTDIR/good.conf"
printf 'this is not a keyword\n' >>"$BRIDGED_CONF"
bad_line=$(wc -l <"$BRIDGED_CONF")
CTL reload >"$TESTDIR/reload.out" 2>"$TESTDIR/reload.err"
rc=$?
if [ $rc -eq 1 ] &&
    grep -q "keeping the running configuration" "$TESTDIR/reload.err" &&
    grep -q "^bridgectl: $BRIDGED_CONF:$bad_line: " "$TESTDIR/reload.err"
then
	tap_ok "reload prints the daemon's file:line error"
else
	tap_fail "reload prints the daemon's file:line error (exit $rc)" \
	    "$(cat "$TESTDIR/reload.out" "$TESTDIR/reload.err")"
fi
CTL reload -j >"$TESTDIR/reload.out" 2>"$TESTDIR/reload.err"
rc=$?
if [ $rc -eq 1 ] && "$PYTHON" -c '
import json, sys
o = json.loads(open(sys.argv[1]).read())
assert o["ok"] is False, o
assert "%s:%s: " % (sys.argv[2], sys.argv[3]) in o["message"], o
' "$TESTDIR/reload.out" "$BRIDGED_CONF" "$bad_line"; then
	tap_ok "reload -j: {ok: false, message} with the file:line error"
else
	tap_fail "reload -j: {ok: false, message} (exit $rc)" \
	    "$(cat "$TESTDIR/reload.out" "$TESTDIR/reload.err")"
fi
cp "$TESTDIR/good.conf" "$BRIDGED_CONF"
for cmd in "reload" "log verbose" "log brief" "log rotate"; do
	# shellcheck disable=SC2086  # the words of the command
	out=$(CTL -j $cmd 2>&1)
	if echo "$out" | "$PYTHON" -c '
import json, sys
o = json.loads(sys.stdin.read())
assert o["ok"] is True and o["message"], o
'; then
		tap_ok "-j $cmd: one JSON object, ok true"
	else
		tap_fail "-j $cmd: one JSON object, ok true" "$out"
	fi
done

export REGRESS_DIR TESTDIR LONGHOST
tap_run "$PYTHON" - <<'EOF2'
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client, Tap, result_text

TD = os.environ["TESTDIR"]
LONG = os.environ["LONGHOST"]
CTL = [os.environ["BRIDGECTL"], "-s", os.environ["CTL_SOCK"]]
t = Tap()


def ctl(*args, env=None):
    try:
        p = subprocess.run(CTL + list(args), capture_output=True,
                           text=True, timeout=40, env=env)
    except subprocess.TimeoutExpired:
        return -1, "", "bridgectl %s: no answer in 40 s" % " ".join(args)
    return p.returncode, p.stdout, p.stderr


def audit(*args):
    rc, out, err = ctl("-j", "show", "audit", *args)
    return [json.loads(l) for l in out.splitlines() if l.strip()]


def outcome_of(tool, pred, deadline=30):
    """the outcome record of the last call of tool that pred accepts"""
    end = time.time() + deadline
    while time.time() < end:
        recs = [o for o in audit("tool", tool)
                if o.get("event") == "outcome" and pred(o)]
        if recs:
            return recs[-1]
        time.sleep(0.1)
    return None


c = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
c.initialize()
r = c.call_tool("Bash", {"command": "echo on-local"})
t.ok(result_text(r).startswith("on-local"), "Bash on local", r)
r = c.call_tool("Bash", {"command": "echo on-long", "host": LONG})
t.ok(result_text(r).startswith("on-long"), "Bash on the long-named host", r)

# filters that match nothing because they are misspelt say so
rc, out, err = ctl("show", "audit", "tool", "Bsh")
t.ok(rc == 1 and "tool Bsh: no such tool" in err and "Bash" in err and
     out == "", "show audit tool Bsh: an error naming the tools", out, err)
rc, out, err = ctl("show", "audit", "host", "nosuch")
t.ok(rc == 1 and "host nosuch: no such host" in err and "local" in err
     and LONG in err, "show audit host nosuch: an error naming the hosts",
     out, err)
rc, out, err = ctl("show", "audit", "outcome", "bogus")
t.ok(rc == 1 and "ok, error, timeout" in err and out == "",
     "show audit outcome bogus: an error naming the outcomes", out, err)

# the display uses the filter's words, times are UTC ISO-8601
rec = outcome_of("Bash", lambda o: o.get("outcome") == "ok")
rc, out, err = ctl("show", "audit", "tool", "Bash", "outcome", "ok")
lines = out.splitlines()
iso = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ")
t.ok(rc == 0 and lines and all(" ok " in l and " done " not in l and
                               iso.match(l) for l in lines),
     "show audit: outcome shown as ok, time as UTC ISO-8601", out, err)
rec = audit("tool", "Bash")[-1]
env = dict(os.environ, TZ="XYZ-5:30")
rc, out, err = ctl("-l", "show", "audit", "tool", "Bash", env=env)
last = out.splitlines()[-1] if out else ""
utc = rec["time"]           # 2024-05-06T07:08:09.123Z
t.ok(rc == 0 and re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+05:30 ",
                          last) is not None and
     last[11:16] != utc[11:16],
     "-l: local time with its offset", last, utc)
# a since date is read as UTC, like the display
since = utc[:19]
rc, out, err = ctl("-j", "show", "audit", "since", since + "Z")
rc2, out2, err2 = ctl("-j", "show", "audit", "since", since)
t.ok(rc == 0 and rc2 == 0 and out == out2 and rec["seq"] in
     [json.loads(l)["seq"] for l in out.splitlines()],
     "since takes the time as shown (UTC, with or without Z)", out, out2)

# aligned: the tool column starts at the same place on every call row
rc, out, err = ctl("show", "audit", "tool", "Bash")
cols = set()
for l in out.splitlines():
    m = re.search(r" Bash ", l)
    if m:
        cols.add(m.start())
t.ok(rc == 0 and len(cols) == 1 and LONG in out and " local " in out,
     "columns stay aligned with a long host name", out)

# a failed call says why; secrets in the reason are redacted
secret = "ghp_" + "A" * 36
r = c.call_tool("Read", {"file_path": TD + "/base/missing/" + secret})
t.ok(r.get("isError"), "Read of a missing file fails", r)
rec = outcome_of("Read", lambda o: o.get("outcome") == "error")
t.ok(rec is not None and "missing/" in rec.get("error", "") and
     secret not in rec.get("error", "") and secret not in json.dumps(rec),
     "the error record says why, redacted", rec)

# a Bash killed at its timeout is a timeout
r = c.call_tool("Bash", {"command": "sleep 30", "timeout": 400})
t.ok(r.get("isError") and "timed out after 400 ms" in result_text(r),
     "Bash at its timeout is an error for the agent", r)
rec = outcome_of("Bash", lambda o: o.get("outcome") == "timeout")
t.ok(rec is not None and "timed out after 400 ms" in rec.get("error", ""),
     "and a timeout in the audit, with the reason", rec)
recs = audit("outcome", "timeout")
t.ok(any(o.get("tool") == "Bash" for o in recs),
     "show audit outcome timeout finds it", recs)
r = c.call_tool("Bash", {"command": "echo fine"})
rec = outcome_of("Bash", lambda o: True)
t.ok(rec is not None and rec.get("outcome") == "ok" and "error" not in rec
     and "_audit" not in result_text(r) and "_audit" not in r,
     "an ok call has no error field; the worker's note never reaches "
     "the client", rec)

# show log -f -n 0: only what comes, nothing from before
f = subprocess.Popen(CTL + ["-j", "show", "log", "-f", "-n", "0"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                     text=True)
# the follower is live once a record made after it started shows up
seen = []
end = time.time() + 30
import threading
def reader():
    for l in f.stdout:
        seen.append(l)
th = threading.Thread(target=reader, daemon=True)
th.start()
n = 0
while time.time() < end and not any("after-follow" in l for l in seen):
    c.call_tool("Bash", {"command": "echo after-follow-%d" % n})
    n += 1
    time.sleep(0.2)
t.ok(seen and all("on-local" not in l and "on-long" not in l for l in seen)
     and any("after-follow" in l for l in seen),
     "show log -f -n 0 prints no backlog, then new records", seen[:3])
c.close()
open(TD + "/follower.pid", "w").write(str(f.pid))
sys.exit(t.done())
EOF2

# the daemon stops: the follower says so and exits 0
fpid=$(cat "$TESTDIR/follower.pid" 2>/dev/null)
tap_check "bridged stops" bridged_stop
i=0
while [ -n "$fpid" ] && kill -0 "$fpid" 2>/dev/null && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
if [ -n "$fpid" ] && ! kill -0 "$fpid" 2>/dev/null; then
	tap_ok "the follower ends when the daemon stops"
else
	tap_fail "the follower ends when the daemon stops"
fi

# a follower in text mode, against a daemon stopped under it
if ! tap_check "bridged starts again" bridged_start "$EXTRA"; then
	tap_end
fi
CTL show log -f -n 1 >"$TESTDIR/follow.out" 2>"$TESTDIR/follow.err" &
fpid=$!
i=0
while [ ! -s "$TESTDIR/follow.out" ] && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
tap_check "bridged stops under a follower" bridged_stop
i=0
while kill -0 "$fpid" 2>/dev/null && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
wait "$fpid"
rc=$?
if [ $rc -eq 0 ] && [ "$(tail -n 1 "$TESTDIR/follow.out")" = \
    "bridged stopped" ] && [ ! -s "$TESTDIR/follow.err" ]; then
	tap_ok "show log -f: \"bridged stopped\", exit 0"
else
	tap_fail "show log -f: \"bridged stopped\", exit 0 (exit $rc)" \
	    "$(tail -n 3 "$TESTDIR/follow.out" "$TESTDIR/follow.err")"
fi

# verify database PATH: the daemon is down
DB=$TESTDIR/db/audit.db
out=$("$BRIDGECTL" -s "$TESTDIR/none.sock" verify database "$DB" 2>&1)
rc=$?
if [ $rc -eq 0 ] && echo "$out" | grep -q "records verified"; then
	tap_ok "verify database PATH with the daemon down"
else
	tap_fail "verify database PATH with the daemon down (exit $rc)" "$out"
fi
out=$("$BRIDGECTL" verify database "$DB" -j 2>&1)
if echo "$out" | "$PYTHON" -c '
import json, sys
o = json.loads(sys.stdin.read())
assert o["ok"] is True and "records verified" in o["message"], o
'; then
	tap_ok "verify database -j"
else
	tap_fail "verify database -j" "$out"
fi
head=$(echo "$out" | sed -n 's/.*head \([0-9]*:[0-9a-f]*\).*/\1/p')
cp "$DB" "$TESTDIR/copy.db"
sqlite3 "$TESTDIR/copy.db" "update records set record = replace(record, \
    'on-local', 'on-l0cal') where record like '%on-local%'"
out=$("$BRIDGECTL" verify database "$TESTDIR/copy.db" 2>&1)
rc=$?
if [ $rc -eq 1 ] && echo "$out" | grep -q "record [0-9]*: edited"; then
	tap_ok "verify database: an edited copy is named"
else
	tap_fail "verify database: an edited copy is named (exit $rc)" "$out"
fi
cp "$DB" "$TESTDIR/copy2.db"
sqlite3 "$TESTDIR/copy2.db" "delete from records where seq = (select \
    max(seq) from records)"
out=$("$BRIDGECTL" verify database "$TESTDIR/copy2.db" "$head" 2>&1)
rc=$?
if [ -n "$head" ] && [ $rc -eq 1 ] && echo "$out" | grep -q "truncated"
then
	tap_ok "verify database PATH SEQ:HASH finds a truncated copy"
else
	tap_fail "verify database PATH SEQ:HASH (exit $rc, head $head)" "$out"
fi
echo "not a database" >"$TESTDIR/not.db"
out=$("$BRIDGECTL" verify database "$TESTDIR/not.db" 2>&1)
rc=$?
if [ $rc -eq 1 ] && echo "$out" | grep -q "^bridgectl: .*not a database"
then
	tap_ok "verify database on a file that is not one: a clear error"
else
	tap_fail "verify database on a file that is not one (exit $rc)" "$out"
fi
out=$("$BRIDGECTL" verify database "$TESTDIR/nonexistent.db" 2>&1)
rc=$?
if [ $rc -eq 1 ] && echo "$out" | grep -q "nonexistent.db"; then
	tap_ok "verify database on a missing file: names it"
else
	tap_fail "verify database on a missing file (exit $rc)" "$out"
fi
[ "$(sqlite3 "$DB" "select count(*) from records")" -gt 0 ] &&
    tap_ok "verify changed nothing in the database" ||
    tap_fail "verify changed nothing in the database"
tap_end
