#!/bin/bash
# t-backchan2: a delegation's back-channel when the host's ssh worker
# dies (SIGKILL) during a held run: the token is revoked at once (401,
# and the HTTP session it opened is gone), the job does not stay
# running, and the --mcp-config file the dead worker left on the host is
# removed by the next worker's sweep after the next call to that host.
# regress-timeout: 300

. "$(dirname "$0")/lib.sh"

sshd_start || { tap_fail "sshd starts"; tap_end; }
P1=$(free_port)
PUB=$(free_port)
while [ "$PUB" = "$P1" ]; do PUB=$(free_port); done

stub_claude_install
mkdir -p "$TESTDIR/base" "$TESTDIR/relay"

hostblock()
{
	cat <<EOF
host "$1" {
	address "127.0.0.1" port $SSHD_PORT
	user "$SSH_USER"
	identity "$SSH_USER_KEY"
	known hosts "$SSH_KNOWN_HOSTS"
	base dir "$TESTDIR/base"
	$2
}
EOF
}

tap_check "bridged starts with a delegate relay" bridged_start \
    "relay database \"$TESTDIR/relay/relay.db\"
listen on 127.0.0.1 port $P1
$(hostblock deleg 'allow read, exec, delegate
	publish port '"$PUB"'
	delegate {
		claude "'"$TESTDIR"'/bin/claude"
		timeout 120
		relay "proj:*"
	}')" || tap_end

export REGRESS_DIR TESTDIR STUB_STATE BRIDGECTL CTL_SOCK MCP_SOCK PUB P1
tap_run timeout 280 "$PYTHON" - <<'PY'
import http.client, json, os, re, signal, subprocess, sys, time
sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client, Tap, result_text

t = Tap()
P1 = int(os.environ["P1"])
from bclib import (PUB, STATE, TOOLS, ctl, wait_for, post, session, tool,
                   reset, reports, held)


c = Client(socket_path=os.environ["MCP_SOCK"], timeout=120)
c.initialize()


def worker():
    out = ctl("-j", "show", "hosts")
    for l in out.stdout.splitlines():
        if l.strip() and json.loads(l).get("name") == "deleg":
            return json.loads(l).get("worker_pid")
    return None


r = c.call_tool("Bash", {"command": "true", "host": "deleg"})
def up():
    out = ctl("-j", "show", "forwards")
    fw = [json.loads(l) for l in out.stdout.splitlines() if l.strip()]
    return [f for f in fw if f.get("published") and f.get("state") == "up"]
t.ok(wait_for(up), "the published port is up", ctl("show", "forwards").stdout)

reset()
r = c.call_tool("ask_claude", {"task": "STUB:reporthold", "host": "deleg",
                               "report_channel": "proj:d1",
                               "background": True})
jid = (r.get("structuredContent") or {}).get("job_id")
t.ok(jid, "a background run with a back-channel starts", r)
path, tok = held()
st, sid = session(tok) if tok else (None, None)
t.ok(tok and st == 200, "its token opens a session during the run", path, st)
pid = worker()
t.ok(isinstance(pid, int) and pid > 1, "deleg's ssh worker pid", pid)
st, res = tool(tok, sid, "channel_receive", {"channel": "proj:d1"},
               port=P1)
t.ok(st == 200 and not res.get("isError"), "the token works on the "
     "listener the published port leads to", st, res)
os.kill(pid, signal.SIGKILL)
t.ok(wait_for(lambda: session(tok, P1)[0] == 401, 30),
     "after the worker's death the token gets 401", session(tok, P1))
st, res = tool(tok, sid, "channel_send", {"channel": "proj:d1",
                                          "content": "late"}, port=P1)
t.ok(st in (401, 404), "the session it opened is gone too", st, res)
t.ok(os.path.exists(path), "the dead worker left the token file on the "
     "host", path)
# (without a record of its end the job is unknown to the new worker:
# job_wait answers at once, never "running")
t0 = time.time()
r = c.call_tool("job_wait", {"job_id": jid, "timeout": 60})
st = (r.get("structuredContent") or {}).get("state")
t.ok((r.get("isError") or st not in (None, "running")) and
     time.time() - t0 < 50, "job_wait of the job answers, not running "
     "(%s)" % st, r)
# the next call: a new worker, whose sweep takes the file
r = c.call_tool("Bash", {"command": "echo next", "host": "deleg"})
t.ok(not r.get("isError") or "next" in result_text(r) or
     wait_for(lambda: not c.call_tool("Bash", {"command": "echo next",
              "host": "deleg"}).get("isError"), 30),
     "the next call to the host works (a new worker)", r)
t.ok(worker() not in (None, pid), "deleg has a new worker", worker())
t.ok(wait_for(lambda: not os.path.exists(path), 60),
     "the token file is removed by the new worker's sweep", path)
r = c.call_tool("channel_receive", {"channel": "proj:d1"})
t.ok(len((r.get("structuredContent") or {}).get("messages", [])) == 1 and
     "late" not in json.dumps(r), "the report sent before the death is "
     "kept; nothing came after", r)
t.ok(session(tok)[0] in (401, None) if wait_for(up, 60) else False,
     "the published port, re-made by the new worker, refuses the token",
     ctl("show", "forwards").stdout)
open(os.path.join(STATE, "release"), "w").close()
c.close()
t.done()
PY
tap_end
