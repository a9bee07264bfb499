#!/bin/bash
# t-audit: the audit database and text log.  Every remote call has an
# intent and an outcome row; Write's content is recorded as its size and
# SHA-256 only; bridgectl show log / show audit (filters, -j) and verify;
# 100 rotations (bridgectl log rotate and a small rotate size) under load
# leave every record in exactly one file, each file headed by the chain
# head; editing, deleting, reordering and truncating rows with sqlite3 is
# reported by verify, naming the record; retention prunes with a
# checkpoint and the chain still verifies.

. "$(dirname "$0")/lib.sh"

if ! command -v sqlite3 >/dev/null; then
	tap_skip "audit tests" "the sqlite3 command is not installed"
	tap_end
fi
sshd_start || { tap_fail "sshd starts"; tap_end; }
LOG_OPTS="rotate size 2K keep 1000"
export LOG_OPTS
if ! tap_check "bridged starts" bridged_start; then
	tap_end
fi
DB=$TESTDIR/db/audit.db
CTL() { "$BRIDGECTL" -s "$CTL_SOCK" "$@"; }

export REGRESS_DIR TESTDIR
tap_run "$PYTHON" - <<'EOF2'
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client, Tap, result_text

TD = os.environ["TESTDIR"]
DB = os.path.join(TD, "db", "audit.db")
CTL = [os.environ["BRIDGECTL"], "-s", os.environ["CTL_SOCK"]]
t = Tap()


def ctl(*args):
    try:
        p = subprocess.run(CTL + list(args), capture_output=True,
                           text=True, timeout=40)
    except subprocess.TimeoutExpired:
        return -1, "", "bridgectl %s: no answer in 40 s" % " ".join(args)
    return p.returncode, p.stdout, p.stderr


def rows(sql, *a):
    con = sqlite3.connect(DB, timeout=10)
    try:
        return con.execute(sql, a).fetchall()
    finally:
        con.close()


c = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
c.initialize()
secret = "the content of this file is not for the log"
r = c.call_tool("Write", {"file_path": TD + "/base/w.txt",
                          "content": secret})
t.ok(not r.get("isError"), "Write works", r)
r = c.call_tool("Bash", {"command": "echo audited"})
t.ok(result_text(r).startswith("audited"), "Bash works", r)
r = c.call_tool("Read", {"file_path": TD + "/base/w.txt"})
t.ok(secret in result_text(r), "Read works", r)

# the outcome goes to the logger after the answer: give it a moment
for i in range(50):
    calls = rows("select request, event from records where type='call'")
    if len(calls) >= 6:
        break
    time.sleep(0.1)
reqs = {}
for req, ev in calls:
    reqs.setdefault(req, []).append(ev)
t.ok(len(reqs) == 3 and all(v == ["intent", "outcome"]
                            for v in reqs.values()),
     "each call has an intent row, then an outcome row", calls)
intent = rows("select record from records where type='call' and "
              "event='intent' and tool='Write'")
t.ok(len(intent) == 1 and secret not in intent[0][0] and
     "sha256" in intent[0][0],
     "the intent of Write records size and SHA-256, not the content",
     intent)
logtext = open(TD + "/log/bridge.log").read()
for i in range(10):
    p = TD + "/log/bridge.log.%d" % i
    if os.path.exists(p):
        logtext += open(p).read()
t.ok(secret not in logtext and '"tool":"Write"' in logtext,
     "nor does the text log hold it")

# show log / show audit
rc, out, err = ctl("show", "log", "-n", "4")
lines = out.strip().split("\n")
t.ok(rc == 0 and len(lines) == 4 and "Read" in out,
     "show log -n 4 prints the last four records", out, err)
rc, out, err = ctl("-j", "show", "audit", "tool", "Bash")
objs = [json.loads(l) for l in out.strip().split("\n") if l]
t.ok(rc == 0 and len(objs) == 2 and all(o["tool"] == "Bash" for o in objs)
     and [o["event"] for o in objs] == ["intent", "outcome"],
     "show audit tool Bash -j: JSON lines, intent and outcome", out, err)
rc, out, err = ctl("show", "audit", "outcome", "ok", "since", "10m", "-j")
objs = [json.loads(l) for l in out.strip().split("\n") if l]
t.ok(rc == 0 and len(objs) == 3 and all(o["outcome"] == "ok" for o in objs),
     "show audit outcome ok since 10m", out, err)
rc, out, err = ctl("show", "audit", "since", "yesterday-ish")
t.ok(rc == 1 and "since yesterday-ish" in err, "a bad since is refused",
     out, err)
rc, out, err = ctl("show", "audit", "session", "99999")
t.ok(rc == 0 and out == "", "a filter matching nothing prints nothing",
     out, err)
r = c.call_tool("Read", {"file_path": "/etc/passwd"})
rc, out, err = ctl("-j", "show", "audit", "outcome", "refused")
objs = [json.loads(l) for l in out.strip().split("\n") if l]
t.ok(rc == 0 and any(o.get("tool") == "Read" for o in objs),
     "a policy refusal is found with outcome refused", out, err)

# show log -f follows live
f = subprocess.Popen(CTL + ["-j", "show", "log", "-f", "-n", "1"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                     text=True)
time.sleep(0.5)
c.call_tool("Bash", {"command": "echo followed"})
seen = []
end = time.time() + 10
os.set_blocking(f.stdout.fileno(), False)
buf = ""
while time.time() < end and not any("followed" in l for l in seen):
    try:
        chunk = f.stdout.read()
    except (BlockingIOError, TypeError):
        chunk = None
    if chunk:
        buf += chunk
        seen = buf.split("\n")
    time.sleep(0.1)
f.kill()
f.wait()
t.ok(any("followed" in l and '"intent"' in l for l in seen) and
     len([l for l in seen if l.strip()]) >= 2,
     "show log -f prints the last record, then new ones as they come",
     buf)

# rotation under load: clients calling, bridgectl log rotate 100 times
stop = time.time() + 1e9
errors = []


def load(n):
    cl = Client(socket_path=os.environ["MCP_SOCK"], timeout=30)
    cl.initialize()
    i = 0
    while not done.is_set():
        i += 1
        try:
            cl.call_tool("Bash" if i % 2 else "Read",
                         {"command": "echo %d-%d" % (n, i)} if i % 2 else
                         {"file_path": TD + "/base/w.txt"})
        except Exception as e:
            errors.append(repr(e))
            return
    cl.close()


done = threading.Event()
ths = [threading.Thread(target=load, args=(n,)) for n in range(4)]
for th in ths:
    th.start()
fails = []
t0 = time.time()
for i in range(100):
    rc, out, err = ctl("log", "rotate")
    if rc != 0:
        fails.append(err)
    if time.time() - t0 > 150:
        fails.append("gave up after %d rotations in 150 s" % (i + 1))
        break
t.diag("100 rotations took %.1f s" % (time.time() - t0))
done.set()
for th in ths:
    th.join()
t.ok(not fails and not errors, "100 rotations under load", fails[:3],
     errors[:3])
# quiet now: the last session ends are written once the clients are gone
ctl("verify")
time.sleep(0.5)
maxseq = rows("select max(seq) from records")[0][0]

# every record in exactly one file, heads matching the file before
files = sorted([f for f in os.listdir(TD + "/log")
                if f.startswith("bridge.log")],
               key=lambda f: -1 if f == "bridge.log" else
               int(f.rsplit(".", 1)[1]), reverse=True)
files.remove("bridge.log")
files.append("bridge.log")
seqs = []
bad = []
heads_ok = True
last = None
for fn in files:
    with open(os.path.join(TD, "log", fn)) as fp:
        first = True
        for line in fp:
            if not line.endswith("\n"):
                bad.append((fn, line))
                continue
            o = json.loads(line)
            if o.get("type") == "head":
                if not first or (last is not None and o["seq"] != last):
                    heads_ok = False
                first = False
                continue
            first = False
            seqs.append(o["seq"])
            last = o["seq"]
t.ok(len(files) > 100, "more than 100 log files (%d)" % len(files))
t.ok(not bad and sorted(seqs) == list(range(1, maxseq + 1)) and
     len(seqs) == len(set(seqs)),
     "every record appears exactly once across the files "
     "(%d records)" % len(seqs),
     "missing: %s" % sorted(set(range(1, maxseq + 1)) - set(seqs))[:20],
     "duplicated: %d" % (len(seqs) - len(set(seqs))))
t.ok(heads_ok, "each file starts with the head: the last record before it")

rc, out, err = ctl("verify")
t.ok(rc == 0 and "records verified" in out, "verify: the chain holds",
     out, err)
head = out.strip().rsplit(" ", 1)[-1]
rc, out, err = ctl("verify", head)
t.ok(rc == 0, "verify with the head it printed", out, err)
rc, out, err = ctl("verify", "1:" + "0" * 64)
t.ok(rc == 1 and "record 1: differs from the head" in err,
     "verify with a head that does not match", out, err)
rc, out, err = ctl("verify", "junk")
t.ok(rc == 1 and "bad head" in err, "verify with a malformed head", err)

# kill session: the call in flight is cancelled and recorded
k = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
k.initialize()
rc, out, err = ctl("-j", "show", "sessions")
sid = max(json.loads(l)["id"] for l in out.strip().split("\n"))
k.send({"jsonrpc": "2.0", "id": 99, "method": "tools/call",
        "params": {"name": "Bash", "arguments": {"command": "sleep 30"}}})
time.sleep(1)
rc, out, err = ctl("kill", "session", str(sid))
t.ok(rc == 0 and "1 call in flight cancelled" in out,
     "kill session ends the session and its call", out, err)
try:
    k.recv_line(timeout=5)
    closed = False
except Exception:
    closed = True
t.ok(closed, "the killed session's connection is closed")
time.sleep(0.3)
rc, out, err = ctl("-j", "show", "audit", "session", str(sid))
objs = [json.loads(l) for l in out.strip().split("\n") if l]
t.ok(any(o.get("event") == "killed" for o in objs) and
     any(o.get("outcome") == "cancelled" and o.get("tool") == "Bash"
         for o in objs), "the kill and the cancelled call are recorded",
     out)
rc, out, err = ctl("kill", "session", "99999")
t.ok(rc == 1 and "no session 99999" in err, "kill of no such session", err)
rc, out, err = ctl("show", "log", "-n", "zero")
t.ok(rc == 1 and "-n zero" in err, "show log -n needs a number", err)
c.close()
sys.exit(t.done())
EOF2

# tampering: on a copy of the database, with the daemon stopped
tap_check "bridged stops" bridged_stop
cp "$DB" "$TESTDIR/good.db"
rm -f "$DB-wal" "$DB-shm"

# tamper DESC SQL EXPECT: verify names what was done
tamper()
{
	local desc=$1 sql=$2 expect=$3 out
	cp "$TESTDIR/good.db" "$DB"
	rm -f "$DB-wal" "$DB-shm"
	[ "$(id -u)" = 0 ] && chown nobody "$DB"
	sqlite3 "$DB" "$sql" || { tap_fail "$desc: sqlite3 failed"; return; }
	if ! bridged_start >/dev/null 2>&1; then
		tap_fail "$desc: bridged starts"
		return
	fi
	out=$(CTL verify 2>&1)
	if [ $? -eq 1 ] && printf '%s' "$out" | grep -q -- "$expect"; then
		tap_ok "$desc: $out"
	else
		tap_fail "$desc" "verify said: $out" "expected: $expect"
	fi
	bridged_stop
}

K=$(sqlite3 "$TESTDIR/good.db" "select seq from records where type='call' and tool='Bash' limit 1")
tamper "an edited record" \
    "update records set record=replace(record,'\"Bash\"','\"Bosh\"') where seq=$K" \
    "record $K: edited"
tamper "an edited hash" \
    "update records set hash='$(printf %064d 7)' where seq=$K" \
    "record $K: edited"
# the record and its hash rewritten together: the next one gives it away
H=$("$PYTHON" - "$TESTDIR/good.db" "$K" <<'EOF2'
import hashlib, sqlite3, sys
con = sqlite3.connect(sys.argv[1])
k = int(sys.argv[2])
prev = con.execute("select hash from records where seq=?", (k - 1,)).fetchone()[0]
rec = con.execute("select record from records where seq=?", (k,)).fetchone()[0]
rec = rec.replace('"Bash"', '"Bosh"')
h = hashlib.sha256(bytes.fromhex(prev) + rec.encode()).hexdigest()
print("update records set record='%s', tool='Bosh', hash='%s' where seq=%d" %
      (rec.replace("'", "''"), h, k))
EOF2
)
tamper "an edited record with its hash recomputed" "$H" \
    "record $K: edited (record $((K + 1)) chains to another hash)"
tamper "an edited column" \
    "update records set outcome='ok' where seq=$K" \
    "record $K: a column"
tamper "a deleted record" "delete from records where seq=$K" \
    "record $K is missing: deleted"
tamper "two records swapped" \
    "update records set seq=-1 where seq=$K; update records set seq=$K where seq=$((K + 1)); update records set seq=$((K + 1)) where seq=-1" \
    "record $K: holds record $((K + 1)): reordered"
M=$(sqlite3 "$TESTDIR/good.db" "select max(seq) - 5 from records")
tamper "the last records deleted" "delete from records where seq > $M" \
    "truncated\|rewritten"

# retention: everything older than 2s goes, a checkpoint keeps the chain
cp "$TESTDIR/good.db" "$DB"
[ "$(id -u)" = 0 ] && chown nobody "$DB"
if tap_check "bridged starts with audit retain 2s" bridged_start \
    "audit retain 2s"; then
	sleep 3
	CTL log rotate >/dev/null
	n=$(sqlite3 "$DB" "select count(*) from records where type='checkpoint'")
	lo=$(sqlite3 "$DB" "select min(seq) from records")
	if [ "${n:-0}" -ge 1 ] && [ "${lo:-1}" -gt 1 ]; then
		tap_ok "old records pruned (first now $lo), checkpoint written"
	else
		tap_fail "old records pruned" "checkpoints $n, first seq $lo"
	fi
	out=$(CTL verify 2>&1)
	if [ $? -eq 0 ] && printf '%s' "$out" | grep -q "older ones pruned"; then
		tap_ok "verify after pruning: $out"
	else
		tap_fail "verify after pruning" "$out"
	fi
	# again without retain 2s, which would prune the tampered record
	# (and checkpoint past it) before verify looks: the pruned chain
	# goes on, and a record after its checkpoint is deleted
	bridged_stop
	if tap_check "bridged starts again on the pruned database" \
	    bridged_start ""; then
		CTL log rotate >/dev/null
		ck=$(sqlite3 "$DB" "select max(seq) from records where
		    type='checkpoint'")
		lo=$(sqlite3 "$DB" "select min(seq) from records where
		    seq > $ck")
		hi=$(sqlite3 "$DB" "select max(seq) from records")
		if [ -n "$lo" ] && [ "$lo" -lt "$hi" ]; then
			sqlite3 "$DB" "delete from records where seq = $lo"
			out=$(CTL verify 2>&1)
			if [ $? -eq 1 ] &&
			    printf '%s' "$out" | grep -q "record $lo is missing"
			then
				tap_ok "a record deleted after the checkpoint" \
				    "is found"
			else
				tap_fail "a record deleted after the checkpoint" \
				    "is found" "$out"
			fi
		else
			tap_fail "records after the checkpoint" \
			    "checkpoint $ck, first after it $lo, last $hi"
		fi
		bridged_stop
	fi
fi
tap_end
