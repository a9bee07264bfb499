#!/bin/bash
# t-delegate: ask_claude and the job tools end to end, with
# regress/stub-claude standing in for Claude Code on the harness sshd:
# a result with its session line and structuredContent; the command line
# built from the config (permission mode, allowed tools, no skip); resume
# continues a conversation, a non-UUID resume id runs nothing; task text
# with quotes, $(...), backticks and newlines arrives intact on stdin, a
# NUL is refused; is_error, max turns, garbage, a failing exit, huge
# output and a missing binary are clear errors; a timeout and a
# cancellation kill the remote process group (pgrep finds nothing);
# progress notifications; a background job survives its MCP session and
# is collected from a new one; job_cancel; max concurrent; capability
# off and cwd outside the base dir are refused; bridgectl show
# delegations, show jobs and kill delegation.

. "$(dirname "$0")/lib.sh"

sshd_start || { tap_fail "sshd starts"; tap_end; }

# the stub, with its state directory baked in (sshd passes no environment);
# that directory in its command line lets pgrep find this test's stubs only
stub_claude_install
mkdir -p "$TESTDIR/base/sub"

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

if ! tap_check "bridged starts" bridged_start "job retention 1h
$(hostblock deleg 'allow read, delegate
	delegate {
		claude "'"$TESTDIR"'/bin/claude"
		timeout 20
		max concurrent 2
		permission mode "acceptEdits"
		allowed tools { "Read", "Bash(git *)" }
	}')
$(hostblock nodeleg 'allow read')
$(hostblock nobinary 'allow delegate
	delegate { claude "/nonexistent/bin/claude" }')"; then
	tap_end
fi

export REGRESS_DIR TESTDIR STUB_STATE BRIDGECTL CTL_SOCK
tap_run "$PYTHON" - <<'EOF'
import json
import os
import random
import re
import subprocess
import sys
import time

sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client, MCPError, Tap, result_text

TD = os.environ["TESTDIR"]
BASE = os.path.join(TD, "base")
STATE = os.environ["STUB_STATE"]
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                  r"[0-9a-f]{12}$")
t = Tap()
c = Client(socket_path=os.environ["MCP_SOCK"], timeout=90)
c.initialize()


def ask(task, **kw):
    args = {"task": task, "host": "deleg"}
    args.update(kw)
    return c.call_tool("ask_claude", args)


def text(r):
    return result_text(r)


def sc(r):
    return r.get("structuredContent") or {}


def calls():
    try:
        with open(os.path.join(STATE, "calls.jsonl")) as f:
            return [json.loads(line) for line in f]
    except FileNotFoundError:
        return []


def procs(pattern):
    p = subprocess.run(["pgrep", "-f", pattern], capture_output=True,
                       text=True)
    return p.stdout.split()


def wait_for(pred, secs=10.0):
    end = time.time() + secs
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


def ctl(*args):
    p = subprocess.run([os.environ["BRIDGECTL"], "-s",
                        os.environ["CTL_SOCK"]] + list(args),
                       capture_output=True, text=True, timeout=40)
    return p.returncode, p.stdout, p.stderr


# --- the tool list ---
tools = {x["name"]: x for x in c.list_tools()}
t.ok("ask_claude" in tools and "outputSchema" in tools["ask_claude"] and
     all(n in tools for n in ("job_status", "job_wait", "job_cancel",
                              "job_list")),
     "tools/list: ask_claude with an outputSchema, and the job tools")

# --- success ---
r = ask("hello world\nsecond line")
s = sc(r)
t.ok(not r.get("isError") and text(r).startswith("stub answer: hello world")
     and re.search(r"\[session_id: [0-9a-f-]{36}, cost: \$0\.0123, "
                   r"duration: \d+ ms\]$", text(r)),
     "the answer, then a line with session_id, cost and duration", r)
t.ok(UUID.match(s.get("session_id") or "") and s.get("num_turns") == 1 and
     s.get("is_error") is False and s.get("subtype") == "success" and
     s.get("exit_status") == 0 and abs(s.get("total_cost_usd", 0) -
                                       0.0123) < 1e-9 and
     s.get("result", "").startswith("stub answer") and
     isinstance(s.get("duration_ms"), int),
     "structuredContent has every field", s)
sid = s.get("session_id")
last = calls()[-1] if calls() else {}
argv = last.get("argv", [])
t.ok(argv[:3] == ["-p", "--output-format", "json"] and
     "--permission-mode" in argv and
     argv[argv.index("--permission-mode") + 1] == "acceptEdits" and
     argv[argv.index("--allowedTools") + 1:][:2] == ["Read", "Bash(git *)"]
     and "--dangerously-skip-permissions" not in argv and
     "--resume" not in argv and "--max-turns" not in argv,
     "the command line comes from the config", argv)
t.ok(last.get("prompt") == "hello world\nsecond line" and
     not any("hello" in a for a in argv),
     "the task goes on stdin, not on the command line", last)
t.ok(last.get("cwd") == BASE, "claude runs in the base dir", last)
# the group sshd made for the session, whose leader's pid the kills use
# (claude is its child: the leader feeds it the prompt, ssh_deleg.c)
t.ok(last.get("pgid") == last.get("sid") and last.get("pid") != 1,
     "claude runs in its session's process group", last)

# --- resume ---
r = ask("and then?", resume_session_id=sid, max_turns=3)
s = sc(r)
t.ok(not r.get("isError") and s.get("session_id") == sid and
     s.get("num_turns") == 2 and
     "turn 2, continuing from: hello world" in text(r),
     "resume continues the stored conversation", r)
argv = calls()[-1]["argv"]
t.ok(argv[argv.index("--resume") + 1] == sid and
     argv[argv.index("--max-turns") + 1] == "3",
     "--resume and --max-turns are passed", argv)

n = len(calls())
for bad in ("../../etc/passwd", "$(touch x)", sid + " ", sid.upper()[:35],
            "'; rm -rf /; '"):
    r = ask("hi", resume_session_id=bad)
    t.ok(r.get("isError") and "UUID" in text(r) and len(calls()) == n,
         "resume id %r is refused before anything runs" % bad, r)

r = ask("hi", resume_session_id="123e4567-e89b-12d3-a456-426614174000")
t.ok(r.get("isError") and "No conversation found" in text(r) and
     sc(r).get("is_error") is True,
     "resume of an unknown conversation: claude's error", r)

# --- hostile task text ---
canary = os.path.join(TD, "canary")
task = ("STUB:echo it's \"quoted\" $(touch %s) `touch %s` ${HOME} \\n "
        "\\' '\\'' ;|&<>*?\n\nsecond line\n\ttab \u00e9\u4e2d\U0001f600\n"
        % (canary, canary))
ctx = "the context: $(touch %s)\nline 2" % canary
r = ask(task, context=ctx)
t.ok(not r.get("isError") and
     sc(r).get("result") == task + "\n\n## Context\n\n" + ctx,
     "quotes, $(), backticks, newlines and UTF-8 arrive intact", r)
t.ok(not os.path.exists(canary), "nothing in the text was run")
# a NUL in any string: the request is refused by its id (-32602)
n = len(calls())
nid = c.new_id()
c.send({"jsonrpc": "2.0", "id": nid, "method": "tools/call",
        "params": {"name": "ask_claude", "arguments": {
            "task": "STUB:echo before\u0000after", "host": "deleg"}}})
m = c.recv_message()
t.ok(m and m.get("id") == nid and m.get("error", {}).get("code") == -32602
     and m["error"].get("message") ==
     "strings must not contain NUL (\\u0000)" and len(calls()) == n,
     "a NUL in the task is refused before anything runs", m)
r = ask(" \n\t")
t.ok(r.get("isError") and "empty" in text(r), "an empty task is refused", r)

# --- failures ---
r = ask("STUB:error")
t.ok(r.get("isError") and "Not logged in" in text(r) and
     sc(r).get("is_error") is True and sc(r).get("exit_status") == 1,
     "is_error: isError with claude's message and exit status 1", r)
r = ask("STUB:maxturns", max_turns=2)
t.ok(r.get("isError") and "error_max_turns" in text(r) and
     "maximum number of turns (2)" in text(r),
     "error_max_turns: isError with claude's errors", r)
r = ask("STUB:garbage")
t.ok(r.get("isError") and "did not print a JSON result" in text(r) and
     "exit status 0" in text(r), "output that is not JSON", r)
r = ask("STUB:exit 3")
t.ok(r.get("isError") and "exit status 3" in text(r) and
     "boom: the stub exits with 3" in text(r),
     "non-zero exit without JSON: status and stderr", r)
r = ask("STUB:huge")
t.ok(r.get("isError") and "more than" in text(r),
     "more output than a result may have", text(r)[:300])
r = ask("STUB:big 300000")
whole = len(text(r)) + len(json.dumps(sc(r), separators=(",", ":"),
                                       ensure_ascii=False))
note = (r"\[result cut by bridged: \d+ of 300\d\d\d characters shown "
        r"to fit the result limit of 40000 \(limits \{ result size \}\); "
        r"ask for the rest with ask_claude and resume_session_id \"%s\"\]" %
        re.escape(sc(r).get("session_id", "?")))
t.ok(not r.get("isError") and whole <= 40000 and re.search(note, text(r)) and
     re.search(r"\[result cut by bridged: \d+ of 300000 characters shown "
               r"to fit the result limit of 40000 \(limits \{ result size "
               r"\}\); ask for the rest with ask_claude and "
               r"resume_session_id \"%s\"\]\n" % re.escape(
                   sc(r).get("session_id", "?")), sc(r).get("result", "")),
     "a 300 KB answer is cut to fit (%d characters), in the text and the "
     "structured result, the note says to resume for the rest" % whole,
     sc(r).get("result", "")[-300:])
r = c.call_tool("ask_claude", {"task": "hi", "host": "nobinary"})
t.ok(r.get("isError") and "127" in text(r) and
     'delegate { claude "/path/to/claude" }' in text(r),
     "a missing binary: exit 127 and the config hint", r)

# --- policy ---
r = c.call_tool("ask_claude", {"task": "hi", "host": "nodeleg"})
t.ok(r.get("isError") and "does not allow delegate" in text(r),
     "a host without delegate refuses ask_claude", r)
n = len(calls())
for bad in ("/etc", "../", "sub/../../x", "/" + BASE.lstrip("/") + "-x"):
    r = ask("hi", cwd=bad)
    t.ok(r.get("isError") and "outside the base dir" in text(r) and
         len(calls()) == n, "cwd %r outside the base dir is refused" % bad,
         r)
r = ask("hi", cwd="sub")
t.ok(not r.get("isError") and calls()[-1]["cwd"] == BASE + "/sub",
     "a relative cwd is taken from the base dir", r)
r = ask("hi", cwd=BASE + "/sub/./")
t.ok(not r.get("isError") and calls()[-1]["cwd"] == BASE + "/sub",
     "an absolute cwd inside the base dir", r)
# a symlink inside the base dir that leads out: resolved on the host
os.makedirs(os.path.join(TD, "outside"), exist_ok=True)
link = os.path.join(BASE, "escape")
if not os.path.lexists(link):
    os.symlink(os.path.join(TD, "outside"), link)
n = len(calls())
r = ask("hi", cwd="escape")
t.ok(r.get("isError") and "resolves (through a symlink) outside" in
     text(r) and len(calls()) == n,
     "a cwd symlinked out of the base dir is refused on the host, "
     "nothing runs", r)
os.makedirs(os.path.join(BASE, "real"), exist_ok=True)
link2 = os.path.join(BASE, "inlink")
if not os.path.lexists(link2):
    os.symlink(os.path.join(BASE, "real"), link2)
r = ask("hi", cwd="inlink")
t.ok(not r.get("isError"), "a cwd symlinked within the base dir runs", r)
for args, what in (({"task": 5}, "task not a string"),
                   ({"task": "x", "timeout": "soon"}, "timeout not an int"),
                   ({"task": "x", "max_turns": 0}, "max_turns 0"),
                   ({"task": "x", "bogus": 1}, "unknown parameter")):
    args["host"] = "deleg"
    try:
        r = c.call_tool("ask_claude", args)
        ok = r.get("isError")
    except MCPError as e:
        r, ok = e.error, True
    t.ok(ok, "bad arguments refused: " + what, r)

# --- timeout ---
n1 = random.randint(100000, 999999)
t0 = time.time()
r = ask("STUB:sleep %d" % n1, timeout=2)
el = time.time() - t0
t.ok(r.get("isError") and "timed out" in text(r) and
     "no process of it is left" in text(r) and el < 15,
     "timeout 2 s: killed, and checked (%.1fs)" % el, r)
t.ok(not procs("sleep %d" % n1) and not procs(STATE),
     "no stub process is left after the timeout",
     procs("sleep %d" % n1), procs(STATE))

# --- cancellation ---
n2 = random.randint(100000, 999999)
rid = c.new_id()
c.send({"jsonrpc": "2.0", "id": rid, "method": "tools/call",
        "params": {"name": "ask_claude",
                   "arguments": {"task": "STUB:sleep %d" % n2,
                                 "host": "deleg"}}})
started = wait_for(lambda: procs("sleep %d" % n2))
c.notify("notifications/cancelled", {"requestId": rid, "reason": "test"})
t.ok(started and wait_for(lambda: not procs("sleep %d" % n2) and
                          not procs(STATE)),
     "notifications/cancelled kills the remote process group",
     procs("sleep %d" % n2))
time.sleep(0.5)
rc, out, err = ctl("-j", "show", "delegations")
recs = [json.loads(line) for line in out.splitlines() if line.strip()]
t.ok(rc == 0 and any(x.get("state") == "cancelled" for x in recs) and
     any(x.get("state") == "timeout" for x in recs) and
     any(x.get("session_id") == sid and x.get("state") == "done"
         for x in recs),
     "bridgectl -j show delegations: done, timeout and cancelled", out, err)

# --- progress ---
before = len(c.notifications)
r = c.call_tool("ask_claude", {"task": "STUB:slow 6", "host": "deleg"},
                meta={"progressToken": "p1"})
prog = [m for m in c.notifications[before:]
        if m.get("method") == "notifications/progress"]
t.ok(not r.get("isError") and "slow answer after 6 s" in text(r) and
     prog and prog[0]["params"]["progressToken"] == "p1" and
     "working for" in prog[0]["params"].get("message", ""),
     "progress notifications while claude works", prog, r)

# --- background jobs survive their session ---
c1 = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
c1.initialize()
t0 = time.time()
r = c1.call_tool("ask_claude", {"task": "STUB:slow 3", "host": "deleg",
                                "background": True})
jid = sc(r).get("job_id", "")
t.ok(not r.get("isError") and jid.startswith("job_") and jid in text(r)
     and time.time() - t0 < 3, "background: a job_id at once", r)
r = c1.call_tool("job_status", {"job_id": jid})
t.ok(not r.get("isError") and sc(r).get("state") == "running" and
     "running" in text(r), "job_status: running", r)
c1.close()
c2 = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
c2.initialize()
r = c2.call_tool("job_list", {})
t.ok(any(j.get("job_id") == jid for j in sc(r).get("jobs", [])),
     "job_list in a new session shows it", r)
r = c2.call_tool("job_wait", {"job_id": jid, "timeout": 30})
t.ok(not r.get("isError") and sc(r).get("state") == "done" and
     "slow answer after 3 s" in text(r) and
     UUID.match((sc(r).get("outcome") or {}).get("session_id") or ""),
     "job_wait from a new session collects the result", r)
r = c2.call_tool("job_status", {"job_id": jid})
t.ok(not r.get("isError") and "slow answer after 3 s" in text(r),
     "the result is kept after it was read", r)
r = c2.call_tool("job_status", {"job_id": "job_99999"})
t.ok(r.get("isError") and "no job" in text(r), "an unknown job id", r)

n3 = random.randint(100000, 999999)
r = c2.call_tool("ask_claude", {"task": "STUB:sleep %d" % n3,
                                "host": "deleg", "background": True})
jid2 = sc(r).get("job_id", "")
wait_for(lambda: procs("sleep %d" % n3))
r = c2.call_tool("job_wait", {"job_id": jid2, "timeout": 1})
t.ok(not r.get("isError") and sc(r).get("state") == "running",
     "job_wait returns the status at its timeout", r)
r = c2.call_tool("job_cancel", {"job_id": jid2})
t.ok(not r.get("isError") and sc(r).get("state") == "killed" and
     "no process of it is left" in text(r) and not procs("sleep %d" % n3),
     "job_cancel kills the job's process group", r)
r = c2.call_tool("job_cancel", {"job_id": jid2})
t.ok(r.get("isError") and "not running" in text(r),
     "job_cancel of a finished job is an error", r)

# --- max concurrent 2 ---
n4 = random.randint(100000, 999999)
j = []
for k in range(2):
    r = c2.call_tool("ask_claude", {"task": "STUB:sleep %d" % (n4 + k),
                                    "host": "deleg", "background": True})
    j.append(sc(r).get("job_id", ""))
r = c2.call_tool("ask_claude", {"task": "one more", "host": "deleg"})
t.ok(r.get("isError") and "max concurrent 2" in text(r),
     "a third delegation is refused by max concurrent 2", r)

# --- bridgectl ---
wait_for(lambda: procs("sleep %d" % (n4 + 1)))
rc, out, err = ctl("show", "jobs")
t.ok(rc == 0 and out.startswith("ID") and j[0] in out and j[1] in out and
     "running" in out and "STUB:sleep" in out,
     "bridgectl show jobs: a table", out, err)
rc, out, err = ctl("-j", "show", "jobs")
recs = [json.loads(line) for line in out.splitlines() if line.strip()]
did = [x["id"] for x in recs if x.get("job_id") == j[1]]
t.ok(rc == 0 and did and all(x.get("job_id") for x in recs),
     "bridgectl -j show jobs: JSON lines of jobs only", out)
rc, out, err = ctl("kill", "delegation", str(did[0] if did else 0))
t.ok(rc == 0 and "no process of it is left" in out and
     not procs("sleep %d" % (n4 + 1)),
     "bridgectl kill delegation kills it", out, err)
rc, out, err = ctl("kill", "delegation", "99999")
t.ok(rc == 1 and "no delegation 99999" in err,
     "kill delegation of an unknown id fails", out, err)
r = c2.call_tool("job_cancel", {"job_id": j[0]})
t.ok(not r.get("isError") and not procs("sleep %d" % n4),
     "job_cancel of the other one", r)
t.ok(wait_for(lambda: not procs(STATE), 5),
     "no stub process is left at the end", procs(STATE))

c2.close()
c.close()
sys.exit(t.done())
EOF

tap_check "bridged is still running" bridged_alive
tap_check "bridged stops cleanly" bridged_stop
tap_end
