#!/bin/bash
# t-jobs-db: finished delegations live on in the audit database.  A
# background job finishes; the ssh worker is SIGKILLed (the daemon lives
# on, and the host's new worker finds the job in the database) and a new
# daemon on the same database answers job_status,
# job_wait, job_list and job_cancel for it from its end record (result,
# session_id, cost, turns); a long answer is kept cut, and says so.  A
# daemon with a shorter job retention no longer returns it, nor does one
# whose audit retain pruned it.  bridgectl show sessions all and show
# delegations all list the ended ones with their end time, request count,
# state and cost; without "all" they do not.

. "$(dirname "$0")/lib.sh"

sshd_start || { tap_fail "sshd starts"; tap_end; }

stub_claude_install
mkdir -p "$TESTDIR/base"

# conf RETENTION [EXTRA]: a delegating host, and the job retention
conf()
{
	cat <<EOF
job retention $1
${2:-}
host "deleg" {
	address "127.0.0.1" port $SSHD_PORT
	user "$SSH_USER"
	identity "$SSH_USER_KEY"
	known hosts "$SSH_KNOWN_HOSTS"
	base dir "$TESTDIR/base"
	allow read, delegate
	delegate { claude "$TESTDIR/bin/claude" timeout 20 }
}
EOF
}

if ! tap_check "bridged starts" bridged_start "$(conf 1h)"; then
	tap_end
fi

export REGRESS_DIR TESTDIR BRIDGECTL CTL_SOCK
cat >"$TESTDIR/common.py" <<'EOF'
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client, Tap, result_text

TD = os.environ["TESTDIR"]
STATE = os.path.join(TD, "jobs.json")


def client():
    c = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
    c.initialize()
    return c


def sc(r):
    return r.get("structuredContent") or {}


def ctl(*args):
    p = subprocess.run([os.environ["BRIDGECTL"], "-s",
                        os.environ["CTL_SOCK"]] + list(args),
                       capture_output=True, text=True, timeout=40)
    return p.returncode, p.stdout, p.stderr


def jlines(out):
    return [json.loads(x) for x in out.splitlines() if x.strip()]


def load():
    with open(STATE) as f:
        return json.load(f)
EOF

# --- first daemon: the jobs run and finish ---
tap_run "$PYTHON" - <<'EOF'
import os
exec(open(os.path.join(os.environ["TESTDIR"], "common.py")).read())
t = Tap()
c = client()
r = c.call_tool("ask_claude", {"task": "remember the past\nline two",
                               "host": "deleg", "background": True})
jid = sc(r).get("job_id", "")
r2 = c.call_tool("ask_claude", {"task": "STUB:big 300000", "host": "deleg",
                                "background": True})
jbig = sc(r2).get("job_id", "")
t.ok(jid.startswith("job_") and jbig.startswith("job_") and jid != jbig,
     "two background jobs", r, r2)
w = c.call_tool("job_wait", {"job_id": jid, "timeout": 30})
o = sc(w).get("outcome") or {}
t.ok(not w.get("isError") and sc(w).get("state") == "done" and
     "stub answer: remember the past" in result_text(w) and
     o.get("session_id"), "the job finishes", w)
wb = c.call_tool("job_wait", {"job_id": jbig, "timeout": 30})
t.ok(not wb.get("isError") and sc(wb).get("state") == "done",
     "the job with a long answer finishes", sc(wb))
f = c.call_tool("ask_claude", {"task": "a foreground one", "host": "deleg"})
t.ok(not f.get("isError"), "a foreground delegation", f)
with open(STATE, "w") as fp:
    json.dump({"jid": jid, "jbig": jbig, "text": result_text(w),
               "outcome": o, "fsid": sc(f).get("session_id")}, fp)
c.close()

# the session ended: show sessions all has it, with its end and requests
deadline = time.time() + 10
ended = []
while time.time() < deadline:
    rc, out, err = ctl("-j", "show", "sessions", "all")
    # the harness's own probe sessions end too: wait for ours
    ended = [x for x in jlines(out) if x.get("state") == "ended" and
             x.get("requests", 0) >= 5]
    if ended:
        break
    time.sleep(0.2)
e = ended[-1] if ended else {}
t.ok(rc == 0 and e.get("ended", 0) >= int(time.time()) - 60 and
     e.get("requests", 0) >= 5 and e.get("since", 0) <= e.get("ended", 0)
     and e.get("client"), "show sessions all -j: the ended session, its end"
     " time and request count", out, err)
rc, out2, err = ctl("show", "sessions", "all")
t.ok(rc == 0 and "ENDED" in out2.splitlines()[0] and "ended" in out2 and
     str(e.get("requests")) in out2, "show sessions all: a table with an"
     " ENDED column", out2, err)
rc, out3, err = ctl("-j", "show", "sessions")
t.ok(rc == 0 and not [x for x in jlines(out3) if x.get("state") == "ended"],
     "show sessions without all: live ones only", out3, err)
rc, out4, err = ctl("show", "sessions", "since", "1m", "-j")
t.ok(rc == 0 and [x for x in jlines(out4) if x.get("state") == "ended"],
     "show sessions since 1m -j: the ended one too", out4, err)
rc, out5, err = ctl("-j", "show", "sessions", "since", "2030-01-01")
t.ok(rc == 0 and not [x for x in jlines(out5) if x.get("state") == "ended"],
     "show sessions since a later date: none ended", out5, err)
rc, out6, err = ctl("show", "sessions", "since", "yesterday-ish")
t.ok(rc == 1 and "since yesterday-ish" in err, "a bad since is refused",
     out6, err)
sys.exit(t.done())
EOF

# --- the ssh worker dies: the daemon lives on, and a new worker finds
# the finished job in the database ---
worker=$(pgrep -P "$BRIDGED_PID" -f "bridged: ssh deleg" | head -n 1)
if [ -n "$worker" ] && kill -KILL "$worker"; then
	sleep 0.5
	if bridged_alive; then
		tap_ok "the daemon lives on when an ssh worker is killed"
	else
		tap_fail "the daemon lives on when an ssh worker is killed"
	fi
	tap_run "$PYTHON" - <<'EOF'
import os
exec(open(os.path.join(os.environ["TESTDIR"], "common.py")).read())
t = Tap()
s = load()
c = client()
r = c.call_tool("job_status", {"job_id": s["jid"]})
st = sc(r)
t.ok(not r.get("isError") and st.get("state") == "done" and
     st.get("from_audit_db") is True and st.get("job_id") == s["jid"],
     "job_status after the worker died: its new worker reads the database",
     r)
sys.exit(t.done())
EOF
	bridged_stop
else
	tap_fail "the ssh worker is found and killed"
	bridged_stop
fi

# --- a new daemon, the same database: the results are still there ---
if ! tap_check "bridged starts again on the same audit database" \
    bridged_start "$(conf 1h)"; then
	tap_end
fi
tap_run "$PYTHON" - <<'EOF'
import os
exec(open(os.path.join(os.environ["TESTDIR"], "common.py")).read())
t = Tap()
s = load()
c = client()
r = c.call_tool("job_status", {"job_id": s["jid"]})
st = sc(r)
o = st.get("outcome") or {}
t.ok(not r.get("isError") and st.get("state") == "done" and
     st.get("from_audit_db") is True and st.get("job_id") == s["jid"] and
     st.get("host") == "deleg" and st.get("task", "").startswith(
         "remember the past") and
     "stub answer: remember the past" in result_text(r),
     "job_status after a restart: the result from the audit database", r)
want = s["outcome"]
t.ok(all(o.get(k) == want.get(k) for k in (
     "session_id", "total_cost_usd", "num_turns", "is_error", "subtype",
     "exit_status", "duration_ms", "result")) and
     st.get("session_id") == want.get("session_id") and
     st.get("total_cost_usd") == want.get("total_cost_usd"),
     "the structured result: session_id, cost, turns, duration, subtype,"
     " exit status", o, want)
r = c.call_tool("job_wait", {"job_id": s["jid"], "timeout": 5})
t.ok(not r.get("isError") and sc(r).get("state") == "done" and
     s["text"].split("\n")[0] in result_text(r),
     "job_wait answers at once from the database", r)
r = c.call_tool("job_status", {"job_id": s["jbig"]})
t.ok(not r.get("isError") and "[the audit record keeps the first" in
     result_text(r) and re.search(r"of 3000\d\d bytes\]$", result_text(r))
     and
     len(result_text(r)) < 150000,
     "a long answer is kept cut, and says so", result_text(r)[-200:])
r = c.call_tool("job_list", {})
jobs = {j.get("job_id"): j for j in sc(r).get("jobs", [])}
t.ok(not r.get("isError") and s["jid"] in jobs and s["jbig"] in jobs and
     jobs[s["jid"]].get("state") == "done" and s["jid"] in result_text(r),
     "job_list lists the stored jobs", r)
r = c.call_tool("job_cancel", {"job_id": s["jid"]})
t.ok(r.get("isError") and "not running: done" in result_text(r),
     "job_cancel of a stored job: not running", r)
r = c.call_tool("job_status", {"job_id": "job_1_deadbeef"})
t.ok(r.get("isError") and "no job" in result_text(r),
     "an unknown job id is still unknown", r)
r = c.call_tool("job_status", {"job_id": "job_1'; DROP TABLE records;--"})
t.ok(r.get("isError") and "no job" in result_text(r),
     "a job id that is not one is not looked up", r)

rc, out, err = ctl("-j", "show", "delegations", "all")
ds = jlines(out)
byjob = {d.get("job_id"): d for d in ds}
fg = [d for d in ds if d.get("session_id") == s["fsid"]]
j = byjob.get(s["jid"], {})
t.ok(rc == 0 and j.get("state") == "done" and j.get("ended", 0) > 0 and
     j.get("total_cost_usd") == s["outcome"].get("total_cost_usd") and
     j.get("num_turns") == 1 and j.get("task", "").startswith("remember")
     and fg and fg[0].get("state") == "done",
     "show delegations all -j: the ended job and foreground delegation",
     out, err)
rc, out, err = ctl("show", "delegations", "all")
t.ok(rc == 0 and s["jid"] in out and "remember the past" in out,
     "show delegations all: a table", out, err)
rc, out, err = ctl("-j", "show", "delegations")
t.ok(rc == 0 and s["jid"] not in out,
     "show delegations without all: live ones only", out, err)
c.close()
sys.exit(t.done())
EOF
tap_check "bridged stops cleanly" bridged_stop

# --- a shorter job retention: the old result is not given any more ---
if ! tap_check "bridged starts with job retention 2s" \
    bridged_start "$(conf 2s)"; then
	tap_end
fi
tap_run "$PYTHON" - <<'EOF'
import os
exec(open(os.path.join(os.environ["TESTDIR"], "common.py")).read())
t = Tap()
s = load()
c = client()
time.sleep(2.5)
r = c.call_tool("job_status", {"job_id": s["jid"]})
t.ok(r.get("isError") and "no job" in result_text(r),
     "past job retention, job_status does not return it", r)
r = c.call_tool("job_wait", {"job_id": s["jid"], "timeout": 2})
t.ok(r.get("isError") and "no job" in result_text(r),
     "nor does job_wait", r)
r = c.call_tool("job_list", {})
t.ok(not r.get("isError") and not sc(r).get("jobs"),
     "nor job_list", r)
rc, out, err = ctl("-j", "show", "delegations", "all")
t.ok(rc == 0 and s["jid"] in out,
     "the audit history still has it for bridgectl", out, err)
c.close()
sys.exit(t.done())
EOF
tap_check "bridged stops cleanly" bridged_stop

# --- audit retain prunes it: gone from both ---
if ! tap_check "bridged starts with audit retain 1s" \
    bridged_start "$(conf 1h 'audit retain 1s')"; then
	tap_end
fi
tap_run "$PYTHON" - <<'EOF'
import os
exec(open(os.path.join(os.environ["TESTDIR"], "common.py")).read())
t = Tap()
s = load()
c = client()
deadline = time.time() + 15
while time.time() < deadline:
    r = c.call_tool("job_status", {"job_id": s["jid"]})
    if r.get("isError"):
        break
    time.sleep(0.5)
t.ok(r.get("isError") and "no job" in result_text(r),
     "pruned by audit retain: job_status does not find it", r)
rc, out, err = ctl("-j", "show", "delegations", "all")
t.ok(rc == 0 and s["jid"] not in out,
     "nor does show delegations all", out, err)
rc, out, err = ctl("verify")
t.ok(rc == 0 and "verified" in out, "the chain still verifies", out, err)
c.close()
sys.exit(t.done())
EOF
tap_check "bridged stops cleanly" bridged_stop
tap_end
