#!/bin/bash
# t-tasks: MCP tasks of 2025-11-25 on the jobs bridged already runs.  The
# tasks capability and execution.taskSupport; a 2025-06-18 session
# ignores the task param; ask_claude as a task (stub claude): the handle
# at once, tasks/get while working, tasks/result blocking until the end
# with the tool's own result, notifications/tasks/status, the job the
# job_* tools see; a failed task (claude's error, a refused start);
# tasks/cancel of a running task kills its remote process group (and a
# second cancel is refused); Bash as a task (its output, exit status,
# BashOutput sees the command; a cancel kills it); a task outliving its
# session; tasks/list with its cursor; ttl clamped and honoured (the
# task is gone after it); unknown and bad ids; a tool without task
# support; another uid (nobody, when root) finds none of these tasks.

. "$(dirname "$0")/lib.sh"

sshd_start || { tap_fail "sshd starts"; tap_end; }

stub_claude_install
mkdir -p "$TESTDIR/base"

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
$(hostblock deleg 'allow read, exec, delegate
	delegate { claude "'"$TESTDIR"'/bin/claude" timeout 60 }')
$(hostblock nodeleg 'allow read')"; then
	tap_end
fi

export REGRESS_DIR TESTDIR STUB_STATE
tap_run "$PYTHON" - <<'EOF'
import json
import os
import random
import re
import subprocess
import sys
import time

sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client, Tap, result_text

TD = os.environ["TESTDIR"]
STATE = os.environ["STUB_STATE"]
t = Tap()


def client(version="2025-11-25"):
    c = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
    c.initialize(version=version)
    return c


def procs(pattern):
    p = subprocess.run(["pgrep", "-f", pattern], capture_output=True,
                       text=True)
    return p.stdout.split()


def wait_for(pred, secs=20.0):
    end = time.time() + secs
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


def raw(c, method, params, timeout=None):
    return c.request_raw(method, params, timeout=timeout)


def task_call(c, name, args, task=None, timeout=None):
    """tools/call with a task param; the whole response."""
    return raw(c, "tools/call", {"name": name, "arguments": args,
                                 "task": task if task is not None else {}},
               timeout=timeout)


def task_of(resp):
    return (resp.get("result") or {}).get("task") or {}


def get(c, tid):
    return raw(c, "tasks/get", {"taskId": tid})


def status(c, tid):
    return (get(c, tid).get("result") or {}).get("status")


def notes(c, tid):
    """the notifications/tasks/status seen for a task so far"""
    # draw in what is waiting on the socket without a response to wait for
    c.ping()
    return [n["params"] for n in c.notifications
            if n.get("method") == "notifications/tasks/status" and
            n.get("params", {}).get("taskId") == tid]


ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")

c = client()
caps = c.server_info.get("capabilities", {})
tc = caps.get("tasks") or {}
t.ok(tc.get("list") == {} and tc.get("cancel") == {} and
     tc.get("requests", {}).get("tools", {}).get("call") == {},
     "initialize 2025-11-25: the tasks capability (list, cancel, "
     "requests.tools.call)", caps)
tools = {x["name"]: x for x in c.list_tools()}
t.ok(tools["ask_claude"].get("execution") == {"taskSupport": "optional"} and
     tools["Bash"].get("execution") == {"taskSupport": "optional"} and
     "execution" not in tools["Read"] and "execution" not in tools["hosts"],
     "tools/list: ask_claude and Bash have execution.taskSupport optional, "
     "others none", tools["ask_claude"].get("execution"),
     tools["Read"].get("execution"))

# --- a revision without tasks ignores the param ---
old = client("2025-06-18")
t.ok("tasks" not in old.server_info.get("capabilities", {}),
     "initialize 2025-06-18: no tasks capability",
     old.server_info.get("capabilities"))
r = task_call(old, "Bash", {"command": "echo plain", "host": "deleg"})
t.ok("task" not in r.get("result", {}) and
     "plain" in result_text(r.get("result", {})),
     "2025-06-18: a task param is ignored, the call answers as usual", r)
e = raw(old, "tasks/get", {"taskId": "task_x"})
t.ok(e.get("error", {}).get("code") == -32601 and
     "2025-11-25" in e["error"]["message"],
     "2025-06-18: tasks/get is method not found, saying why", e)
old.close()

# --- ask_claude as a task: working, then its result ---
t0 = time.time()
r = task_call(c, "ask_claude", {"task": "STUB:slow 3", "host": "deleg"},
              {"ttl": 600000})
tk = task_of(r)
tid = tk.get("taskId", "")
el = time.time() - t0
t.ok(tid.startswith("task_") and len(tid) > 30 and
     tk.get("status") == "working" and tk.get("ttl") == 600000 and
     tk.get("pollInterval", 0) > 0 and ISO.match(tk.get("createdAt", "")) and
     ISO.match(tk.get("lastUpdatedAt", "")),
     "ask_claude with task: a CreateTaskResult while it works (%.1fs)" % el,
     r)
t.ok(isinstance(r["result"].get("_meta", {}).get(
     "io.modelcontextprotocol/model-immediate-response"), str),
     "the handle carries a message for the model", r)
g = get(c, tid).get("result", {})
m = re.search(r"job_\d+_[0-9a-f]+", g.get("statusMessage", ""))
t.ok(g.get("status") == "working" and g.get("taskId") == tid and m and
     g.get("ttl") == 600000 and ISO.match(g.get("createdAt", "")),
     "tasks/get while it works: working, the job named", g)
jid = m.group(0) if m else "?"
js = c.call_tool("job_status", {"job_id": jid})
t.ok((js.get("structuredContent") or {}).get("state") == "running",
     "job_status sees the task's job running", js)
jl = c.call_tool("job_list", {})
t.ok(any(x.get("job_id") == jid for x in
         (jl.get("structuredContent") or {}).get("jobs", [])),
     "job_list lists it", jl)
res = raw(c, "tasks/result", {"taskId": tid}, timeout=60)
rr = res.get("result", {})
el = time.time() - t0
t.ok(not rr.get("isError") and "slow answer after 3 s" in
     result_text(rr) and (rr.get("structuredContent") or {}).get(
         "session_id") and el >= 2.5 and
     rr.get("_meta", {}).get("io.modelcontextprotocol/related-task") ==
     {"taskId": tid}, "tasks/result blocks until the end (%.1fs) and "
     "returns ask_claude's result, tagged with the task" % el, res)
g = get(c, tid).get("result", {})
t.ok(g.get("status") == "completed" and g.get("lastUpdatedAt", "") >=
     g.get("createdAt", "~"), "tasks/get after: completed", g)
n = notes(c, tid)
t.ok(n and n[-1].get("status") == "completed" and n[-1].get("taskId") ==
     tid and "ttl" in n[-1], "notifications/tasks/status: completed", n)
res2 = raw(c, "tasks/result", {"taskId": tid})
t.ok(res2.get("result", {}).get("content") == rr.get("content"),
     "tasks/result again: the same result", res2)
js = c.call_tool("job_status", {"job_id": jid})
t.ok((js.get("structuredContent") or {}).get("state") == "done",
     "job_status: the job is done", js)

# --- failed tasks ---
r = task_call(c, "ask_claude", {"task": "STUB:error", "host": "deleg"})
fid = task_of(r).get("taskId", "")
res = raw(c, "tasks/result", {"taskId": fid}, timeout=60)
g = get(c, fid).get("result", {})
t.ok(res.get("result", {}).get("isError") and
     "Not logged in" in result_text(res.get("result", {})) and
     g.get("status") == "failed" and g.get("statusMessage"),
     "claude's error: the task fails, tasks/result gives the error result",
     res, g)
r = task_call(c, "ask_claude", {"task": "hi", "host": "nodeleg"})
nid = task_of(r).get("taskId", "")
res = raw(c, "tasks/result", {"taskId": nid}, timeout=30)
t.ok(nid and res.get("result", {}).get("isError") and
     "does not allow delegate" in result_text(res.get("result", {})) and
     status(c, nid) == "failed",
     "a refused start: a task that fails with the refusal", r, res)
t.ok(wait_for(lambda: any(x.get("status") == "failed"
                          for x in notes(c, nid)), 10),
     "its failure is notified", notes(c, nid))

# --- cancel a running delegation ---
n1 = random.randint(100000, 999999)
r = task_call(c, "ask_claude", {"task": "STUB:sleep %d" % n1,
                                "host": "deleg"})
cid = task_of(r).get("taskId", "")
started = wait_for(lambda: procs("sleep %d" % n1))
g = get(c, cid).get("result", {})
m = re.search(r"job_\d+_[0-9a-f]+", g.get("statusMessage", ""))
cjid = m.group(0) if m else "?"
rid = c.new_id()
c.send({"jsonrpc": "2.0", "id": rid, "method": "tasks/result",
        "params": {"taskId": cid}})
cr = raw(c, "tasks/cancel", {"taskId": cid}, timeout=60)
t.ok(started and cr.get("result", {}).get("status") == "cancelled" and
     cr["result"].get("taskId") == cid and not procs("sleep %d" % n1),
     "tasks/cancel: cancelled, and the remote process is gone when it "
     "answers", cr, procs("sleep %d" % n1))
w = c.wait_response(rid, 30)
t.ok(w.get("result", {}).get("isError") and
     "cancelled" in result_text(w.get("result", {})),
     "a tasks/result that waited is answered: cancelled", w)
t.ok(status(c, cid) == "cancelled", "tasks/get: cancelled")
e = raw(c, "tasks/cancel", {"taskId": cid})
t.ok(e.get("error", {}).get("code") == -32602 and
     "terminal" in e["error"]["message"],
     "cancelling it again: -32602, already terminal", e)
js = c.call_tool("job_status", {"job_id": cjid})
t.ok((js.get("structuredContent") or {}).get("state") == "killed",
     "job_status: the job was killed", js)
time.sleep(1)
t.ok(status(c, cid) == "cancelled", "it stays cancelled after its job's "
     "end is seen")

# --- Bash as a task ---
r = task_call(c, "Bash", {"command": "echo start; sleep 2; echo done >&2;"
                          " exit 3", "host": "deleg"})
bid = task_of(r).get("taskId", "")
g = get(c, bid).get("result", {})
m = re.search(r"bash_\d+", g.get("statusMessage", ""))
t.ok(g.get("status") == "working" and m, "a Bash task works, its "
     "background command named", r, g)
bo = c.call_tool("BashOutput", {"bash_id": m.group(0) if m else "?",
                                "host": "deleg"})
t.ok("status: running" in result_text(bo),
     "BashOutput sees the task's command", bo)
res = raw(c, "tasks/result", {"taskId": bid}, timeout=60)
rt = result_text(res.get("result", {}))
t.ok(not res.get("result", {}).get("isError") and "done" in rt and
     "exit status: 3" in rt and status(c, bid) == "completed",
     "tasks/result: its output and exit status; completed", res)
n2 = random.randint(100000, 999999)
r = task_call(c, "Bash", {"command": "sleep %d" % n2, "host": "deleg"})
kid = task_of(r).get("taskId", "")
started = wait_for(lambda: procs("sleep %d" % n2))
cr = raw(c, "tasks/cancel", {"taskId": kid}, timeout=30)
t.ok(started and cr.get("result", {}).get("status") == "cancelled" and
     wait_for(lambda: not procs("sleep %d" % n2), 5),
     "tasks/cancel of a Bash task kills its command", cr)

# --- a task outlives the session that made it ---
c3 = client()
r = task_call(c3, "ask_claude", {"task": "STUB:slow 2 outlive",
                                 "host": "deleg"})
oid = task_of(r).get("taskId", "")
c3.close()
c4 = client()
res = raw(c4, "tasks/result", {"taskId": oid}, timeout=60)
t.ok("slow answer after 2 s" in result_text(res.get("result", {})) and
     status(c4, oid) == "completed",
     "a task outlives its session: another session of the uid gets its "
     "result", res)

# --- tasks/list and its cursor ---
for i in range(21):
    task_call(c4, "ask_claude", {"task": "x%d" % i, "host": "nodeleg"})
seen, cursor, pages = [], None, 0
while pages < 10:
    p = raw(c4, "tasks/list", {"cursor": cursor} if cursor else {})
    pr = p.get("result", {})
    seen += [x["taskId"] for x in pr.get("tasks", [])]
    pages += 1
    cursor = pr.get("nextCursor")
    if not cursor:
        break
t.ok(pages >= 2 and len(seen) == len(set(seen)) and
     {tid, fid, nid, cid, bid, kid, oid} <= set(seen) and len(seen) >= 28,
     "tasks/list: every task of the uid, in pages (%d pages, %d tasks)" %
     (pages, len(seen)), seen)
e = raw(c4, "tasks/list", {"cursor": "bogus"})
t.ok(e.get("error", {}).get("code") == -32602, "tasks/list: a bad cursor "
     "is -32602", e)

# --- ttl ---
r = task_call(c4, "Bash", {"command": "echo short", "host": "deleg"},
              {"ttl": 10})
sid = task_of(r).get("taskId", "")
t.ok(task_of(r).get("ttl") == 1000, "a ttl below 1 s is raised to 1000 ms",
     r)
t.ok(wait_for(lambda: get(c4, sid).get("error", {}).get("code") ==
              -32602, 20), "after its ttl the task is gone",
     get(c4, sid))
r = task_call(c4, "Bash", {"command": "true", "host": "deleg"},
              {"ttl": 10 ** 12})
t.ok(task_of(r).get("ttl") == 86400000, "a ttl above a day is cut to a "
     "day", r)
for bad in ({"ttl": "soon"}, {"ttl": -5}, "now"):
    e = task_call(c4, "Bash", {"command": "true"}, bad)
    t.ok(e.get("error", {}).get("code") == -32602, "task %s: -32602" %
         json.dumps(bad), e)

# --- bad ids, tools without tasks ---
e = raw(c4, "tasks/get", {"taskId": "task_0000"})
t.ok(e.get("error", {}).get("code") == -32602 and
     "not found" in e["error"]["message"], "an unknown task id: -32602 "
     "not found", e)
for m_ in ("tasks/get", "tasks/result", "tasks/cancel"):
    e = raw(c4, m_, {"taskId": 7})
    t.ok(e.get("error", {}).get("code") == -32602, "%s with a non-string "
         "taskId: -32602" % m_, e)
e = task_call(c4, "Read", {"file_path": "/etc/hostname"})
t.ok(e.get("error", {}).get("code") == -32601, "Read as a task: -32601 "
     "(no task support)", e)

with open(os.path.join(TD, "tasks.json"), "w") as f:
    json.dump([tid, fid, cid, bid], f)

# --- 2026-07-28: the io.modelcontextprotocol/tasks extension, wired ---
EXT = "io.modelcontextprotocol/tasks"
CAPS = {"io.modelcontextprotocol/clientCapabilities": {"extensions":
                                                      {EXT: {}}}}
m = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
d = m.modern("server/discover")
t.ok(EXT in (d.get("capabilities", {}).get("extensions") or {}),
     "server/discover: the tasks extension is offered", d)
r = m.modern_raw("tools/call", {"name": "ask_claude", "arguments":
                 {"task": "STUB:slow 2", "host": "deleg"}}, meta=CAPS)
res = r.get("result") or {}
mt = res.get("taskId")
t.ok(res.get("resultType") == "task" and mt and
     res.get("status") == "working" and "ttlMs" in res,
     "a 2026 ask_claude from a client with the extension: a task "
     "(resultType task, ttlMs)", r)
r = m.modern_raw("tools/call", {"name": "ask_claude", "arguments":
                 {"task": "STUB:hello", "host": "deleg"}})
t.ok((r.get("result") or {}).get("resultType") == "complete",
     "without the extension declared: answered in full", r)
done = {}


def modern_done():
    g = m.modern_raw("tasks/get", {"taskId": mt},
                     meta=CAPS).get("result") or {}
    done.update(g)
    return g.get("status") == "completed"


t.ok(wait_for(modern_done, 60) and
     "result" in done and done.get("resultType") == "complete",
     "2026 tasks/get: completed, with the call's result", done)
e = m.modern_raw("tasks/list", {}, meta=CAPS)
t.ok(e.get("error", {}).get("code") == -32601,
     "2026 tasks/list: removed in 2026-07-28 (-32601)", e)
e = m.modern_raw("tasks/update", {"taskId": mt, "inputResponses": {}},
                 meta=CAPS)
t.ok("result" in e, "2026 tasks/update of an own task is answered", e)
e = m.modern_raw("tasks/get", {"taskId": mt})
t.ok(e.get("error", {}).get("code") == -32021,
     "2026 tasks/get without the extension declared: -32021", e)
e = raw(c, "tasks/update", {"taskId": mt, "inputResponses": {}})
t.ok(e.get("error", {}).get("code") == -32601,
     "tasks/update in a legacy session: -32601", e)
m.close()
c.close()
c4.close()
sys.exit(t.done())
EOF

# --- another principal: nobody sees none of root's tasks ---
# (a python nobody can run: not one under root's home)
NOBODY_PY=
for p in /usr/bin/python3 /bin/python3 /usr/local/bin/python3; do
	if [ -x "$p" ]; then
		NOBODY_PY=$p
		break
	fi
done
if [ "$(id -u)" = 0 ] && [ -n "$NOBODY_PY" ]; then
	chmod 0666 "$MCP_SOCK"
	chmod 0644 "$TESTDIR/tasks.json"
	tap_run setpriv --reuid=nobody --regid="$(id -g nobody)" \
	    --clear-groups "$NOBODY_PY" - <<'EOF'
import json
import os
import sys

sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client, Tap

t = Tap("nobody: ")
ids = json.load(open(os.path.join(os.environ["TESTDIR"], "tasks.json")))
c = Client(socket_path=os.environ["MCP_SOCK"], timeout=30)
c.initialize()
for m in ("tasks/get", "tasks/result", "tasks/cancel"):
    e = c.request_raw(m, {"taskId": ids[0]})
    t.ok(e.get("error", {}).get("code") == -32602 and
         "not found" in e["error"]["message"],
         "%s of another uid's task: not found" % m, e)
r = c.request("tasks/list", {})
t.ok(r.get("tasks") == [], "tasks/list: none of another uid's", r)
c.close()
sys.exit(t.done())
EOF
else
	tap_skip "another uid cannot see the tasks" \
	    "needs root and a system python3 to run a client as nobody"
fi

tap_check "bridged stops cleanly" bridged_stop
tap_end
