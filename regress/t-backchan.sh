#!/bin/bash
# t-backchan: delegate { relay "proj:*" } gives each ask_claude run a
# one-time token for the MCP server "bridged" through the host's
# published port.  The stub claude, given --mcp-config, posts to its
# report channel with it and the caller reads the message (its sender is
# the run's session id); tools/list shows only the relay tools; during a
# run the token is refused for a non-relay tool, channel_clear and a
# channel outside the pattern, and the file holding it is 0600; after the
# run (done, job_cancel, timeout) the token gets 401 and the file is gone.
# report_channel outside the pattern, or on a host without relay, is
# refused; bridged -n refuses delegate relay without publish port.
# regress-timeout: 400

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

# -n: a back-channel needs the published port it goes through
cat >"$TESTDIR/nopub.conf" <<EOF
relay database "$TESTDIR/nopub.db"
listen on 127.0.0.1 port $P1
host "d" {
	address "127.0.0.1"
	user "$SSH_USER"
	base dir none
	allow delegate
	delegate { relay "proj:*" }
}
EOF
if "$BRIDGED" -nn -f "$TESTDIR/nopub.conf" 2>"$TESTDIR/nopub.err"; then
	tap_fail "bridged -n refuses delegate relay without publish port"
else
	tap_check "bridged -n refuses delegate relay without publish port" \
	    grep -q 'delegate relay "proj:\*" needs publish port N' \
	    "$TESTDIR/nopub.err"
fi

tap_check "bridged starts with a delegate relay" bridged_start \
    "relay database \"$TESTDIR/relay/relay.db\"
listen on 127.0.0.1 port $P1
$(hostblock deleg 'allow read, exec, delegate
	publish port '"$PUB"'
	delegate {
		claude "'"$TESTDIR"'/bin/claude"
		timeout 60
		relay "proj:*"
	}')
$(hostblock plain 'allow delegate
	delegate { claude "'"$TESTDIR"'/bin/claude" }')" || tap_end

export REGRESS_DIR TESTDIR STUB_STATE BRIDGECTL CTL_SOCK MCP_SOCK PUB P1
tap_run timeout 380 "$PYTHON" - <<'PY'
import http.client, json, os, re, stat, subprocess, sys, time
sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client, Tap, result_text

t = Tap()
from bclib import (PUB, STATE, TOOLS, ctl, wait_for, post, session, tool,
                   reset, reports, held)


c = Client(socket_path=os.environ["MCP_SOCK"], timeout=120)
c.initialize()

# the host connected and its published port up before claude needs it
r = c.call_tool("Bash", {"command": "true", "host": "deleg"})
def up():
    out = ctl("-j", "show", "forwards")
    fw = [json.loads(l) for l in out.stdout.splitlines() if l.strip()]
    return [f for f in fw if f.get("published") and f.get("state") == "up"]
t.ok(wait_for(up), "the published port is up", ctl("show", "forwards").stdout)

# report_channel outside the pattern, or with no back-channel: refused
r = c.call_tool("ask_claude", {"task": "STUB:report", "host": "deleg",
                               "report_channel": "other:x"})
t.ok(r.get("isError") and "proj:*" in result_text(r) and
     "outside" in result_text(r), "report_channel outside the pattern is "
     "refused, naming the pattern", r)
r = c.call_tool("ask_claude", {"task": "STUB:report", "host": "plain",
                               "report_channel": "proj:x"})
t.ok(r.get("isError") and "back-channel" in result_text(r),
     "report_channel on a host without delegate relay is refused", r)
t.ok(not reports(), "neither ran claude", reports())

# a foreground run reports; the caller reads it
r = c.call_tool("ask_claude", {"task": "STUB:report", "host": "deleg",
                               "report_channel": "proj:r1"})
sc = r.get("structuredContent") or {}
t.ok(not r.get("isError") and "reported on proj:r1" in result_text(r),
     "ask_claude with a report channel runs", r)
rep = (reports() or [{}])[-1]
t.ok(rep.get("initialize") == 200 and rep.get("tools") == TOOLS,
     "the stub's MCP session over the published port: tools/list shows "
     "only the relay tools it may use", rep)
t.ok(isinstance(rep.get("send"), dict) and not rep["send"].get("isError"),
     "its channel_send succeeded", rep)
calls = [json.loads(l) for l in open(os.path.join(STATE, "calls.jsonl"))]
argv = calls[-1]["argv"]
t.ok("--mcp-config" in argv and "mcp__bridged__channel_send" in argv and
     "--session-id" in argv, "claude got --mcp-config, --session-id and "
     "the relay tools in --allowedTools", argv)
t.ok('on the channel "proj:r1"' in calls[-1]["prompt"] and
     "mcp__bridged__channel_send" in calls[-1]["prompt"],
     "the prompt names the channel and the tools", calls[-1]["prompt"])
cfg = argv[argv.index("--mcp-config") + 1]
t.ok(wait_for(lambda: not os.path.exists(cfg), 60),
     "the token file is gone after the run", cfg)
r = c.call_tool("channel_receive", {"channel": "proj:r1"})
msgs = (r.get("structuredContent") or {}).get("messages") or []
t.ok(len(msgs) == 1 and msgs[0]["content"] == "report from the stub" and
     msgs[0]["sender"] == sc.get("session_id"),
     "the caller reads the report, sent as the run's session id", r, sc)

# a background run held open: what else the token may do
reset()
r = c.call_tool("ask_claude", {"task": "STUB:reporthold", "host": "deleg",
                               "report_channel": "proj:r2",
                               "background": True})
jid = (r.get("structuredContent") or {}).get("job_id")
t.ok(jid, "a background run starts", r)
path, tok = held()
t.ok(tok and re.match(r"^[0-9a-f]{64}$", tok), "the run holds a token", path)
mode = stat.S_IMODE(os.stat(path).st_mode) if path else None
t.ok(mode == 0o600, "the token file is 0600", oct(mode or 0))
st, sid = session(tok)
t.ok(st == 200, "the token opens a session during the run", st)
st, res = tool(tok, sid, "Bash", {"command": "id", "host": "deleg"})
t.ok(st == 200 and res.get("isError") and "back-channel" in
     result_text(res), "a non-relay tool is refused", st, res)
st, res = tool(tok, sid, "channel_send", {"channel": "other:x",
                                          "content": "no"})
t.ok(res.get("isError") and "proj:*" in result_text(res),
     "a channel outside the pattern is refused", res)
st, res = tool(tok, sid, "channel_clear", {"channel": "proj:r2"})
t.ok(res.get("isError"), "channel_clear is refused", res)
st, res = tool(tok, sid, "channel_receive", {"channel": "proj:r2"})
t.ok(not res.get("isError") and len((res.get("structuredContent") or {})
     .get("messages", [])) == 1, "it reads its report channel", res)
out = ctl("show", "sessions").stdout
t.ok("delegate:" + jid in out, "show sessions names its principal "
     "delegate:JOB_ID", out)
open(os.path.join(STATE, "release"), "w").close()
r = c.call_tool("job_wait", {"job_id": jid, "timeout": 60})
t.ok((r.get("structuredContent") or {}).get("state") == "done",
     "the job ends", r)
t.ok(wait_for(lambda: session(tok)[0] == 401, 30),
     "after the run the token gets 401", session(tok))
t.ok(wait_for(lambda: not os.path.exists(path), 60),
     "the token file is gone after the job", path)
r = c.call_tool("channel_receive", {"channel": "proj:r2"})
t.ok(len((r.get("structuredContent") or {}).get("messages", [])) == 1,
     "the caller still reads the channel the delegate made", r)

# job_cancel: the token and its file go
reset()
r = c.call_tool("ask_claude", {"task": "STUB:reporthold", "host": "deleg",
                               "report_channel": "proj:r3",
                               "background": True})
jid = (r.get("structuredContent") or {}).get("job_id")
path, tok = held()
t.ok(tok and session(tok)[0] == 200, "a held run's token works", path)
r = c.call_tool("job_cancel", {"job_id": jid})
t.ok(not r.get("isError"), "job_cancel", r)
t.ok(wait_for(lambda: session(tok)[0] == 401, 30),
     "after job_cancel the token gets 401", session(tok))
t.ok(wait_for(lambda: not os.path.exists(path), 60),
     "the token file is gone after job_cancel", path)

# a timeout: the same
reset()
r = c.call_tool("ask_claude", {"task": "STUB:reporthold", "host": "deleg",
                               "report_channel": "proj:r4", "timeout": 4,
                               "background": True})
jid = (r.get("structuredContent") or {}).get("job_id")
path, tok = held()
t.ok(tok is not None, "a run with a timeout holds a token", path)
r = c.call_tool("job_wait", {"job_id": jid, "timeout": 60})
t.ok((r.get("structuredContent") or {}).get("state") == "timeout",
     "it times out", r)
t.ok(session(tok)[0] == 401, "after the timeout the token gets 401")
t.ok(wait_for(lambda: not os.path.exists(path), 60),
     "the token file is gone after the timeout", path)
open(os.path.join(STATE, "release"), "w").close()
c.close()
t.done()
PY
tap_end
