#!/bin/bash
# t-joblost: a background job whose host's ssh worker dies (SIGKILL) is
# reported lost, with the reason, never "no job": a background ask_claude
# (the stub sleeping, with a child) and a background Bash (`sleep`), one
# that had already ended, and the tasks following such jobs (legacy and
# 2026).  After the kill: job_wait in flight answers at once; job_status,
# job_wait, job_list, job_cancel, BashOutput, TaskOutput, KillShell say
# "lost" and how the worker died (signal 9), quickly; the tasks are
# failed with that message; the remote processes are gone (watchdog); a
# new job and a new background command on the host work, and the new
# bash id is not the lost one's; the audit has an end record, outcome
# lost, with the reason, for each.
# regress-timeout: 300

. "$(dirname "$0")/lib.sh"

sshd_start || { tap_fail "sshd starts"; tap_end; }

stub_claude_install
mkdir -p "$TESTDIR/base"

tap_check "bridged starts" bridged_start "job retention 1h
host \"deleg\" {
	address \"127.0.0.1\" port $SSHD_PORT
	user \"$SSH_USER\"
	identity \"$SSH_USER_KEY\"
	known hosts \"$SSH_KNOWN_HOSTS\"
	base dir \"$TESTDIR/base\"
	allow read, exec, delegate
	delegate { claude \"$TESTDIR/bin/claude\" timeout 300 }
}" || tap_end

export REGRESS_DIR TESTDIR BRIDGECTL CTL_SOCK MCP_SOCK
tap_run timeout 280 "$PYTHON" - <<'PY'
import json, os, re, signal, subprocess, sys, threading, time
sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client, Tap, result_text

t = Tap()
TD = os.environ["TESTDIR"]
# durations no other test uses: pgrep finds only ours
DSLEEP, TSLEEP, MSLEEP = 86417, 86423, 86429
BSLEEP, BTSLEEP = 30517, 30523
EXT = "io.modelcontextprotocol/tasks"
CAPS = {"io.modelcontextprotocol/clientCapabilities": {"extensions":
                                                      {EXT: {}}}}


def ctl(*args):
    return subprocess.run([os.environ["BRIDGECTL"], "-s",
                           os.environ["CTL_SOCK"]] + list(args),
                          capture_output=True, text=True, timeout=60)


def wait_for(pred, secs=60):
    """poll until pred() is truthy; generous for a loaded machine"""
    end = time.time() + secs
    v = None
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    return v


def remote(pattern):
    p = subprocess.run(["pgrep", "-f", pattern], capture_output=True,
                       text=True)
    return p.stdout.split()


def worker():
    for l in ctl("-j", "show", "hosts").stdout.splitlines():
        if l.strip() and json.loads(l).get("name") == "deleg":
            return json.loads(l).get("worker_pid")
    return None


def client():
    c = Client(socket_path=os.environ["MCP_SOCK"], timeout=120)
    c.initialize(version="2025-11-25")
    return c


def sc(r):
    return r.get("structuredContent") or {}


c = client()
r = c.call_tool("Bash", {"command": "true", "host": "deleg"})
t.ok(not r.get("isError"), "a first call starts deleg's worker", r)

# --- the work that will be lost ---
r = c.call_tool("ask_claude", {"task": "STUB:sleep %d" % DSLEEP,
                               "host": "deleg", "background": True})
jid = sc(r).get("job_id")
t.ok(jid, "a background ask_claude runs", r)
r = c.call_tool("Bash", {"command": "sleep %d" % BSLEEP, "host": "deleg",
                         "run_in_background": True})
m = re.search(r"(bash_\d+)", result_text(r))
bid = m.group(1) if m else "bash_0"
t.ok(m, "a background Bash runs", r)
r = c.call_tool("Bash", {"command": "echo early", "host": "deleg",
                         "run_in_background": True})
m = re.search(r"(bash_\d+)", result_text(r))
eid = m.group(1) if m else "bash_0"
t.ok(m and wait_for(lambda: "exited" in result_text(c.call_tool(
     "BashOutput", {"bash_id": eid, "host": "deleg"})), 60),
     "a background Bash that ends before the kill", r)
r = c.request_raw("tools/call", {"name": "ask_claude", "arguments": {
    "task": "STUB:sleep %d" % TSLEEP, "host": "deleg"}, "task": {}})
tid = ((r.get("result") or {}).get("task") or {}).get("taskId", "")
t.ok(tid.startswith("task_"), "an ask_claude task (legacy)", r)
r = c.request_raw("tools/call", {"name": "Bash", "arguments": {
    "command": "sleep %d" % BTSLEEP, "host": "deleg"}, "task": {}})
btid = ((r.get("result") or {}).get("task") or {}).get("taskId", "")
t.ok(btid.startswith("task_"), "a Bash task (legacy)", r)
mc = Client(socket_path=os.environ["MCP_SOCK"], timeout=120)
r = mc.modern_raw("tools/call", {"name": "ask_claude", "arguments": {
    "task": "STUB:sleep %d" % MSLEEP, "host": "deleg"}}, meta=CAPS)
mtid = (r.get("result") or {}).get("taskId", "")
t.ok(mtid.startswith("task_"), "an ask_claude task (2026)", r)
t.ok(wait_for(lambda: all(remote("sleep %d" % n) for n in
                          (DSLEEP, TSLEEP, MSLEEP, BSLEEP, BTSLEEP)), 90),
     "their remote processes run", [remote("sleep %d" % n) for n in
                                    (DSLEEP, TSLEEP, MSLEEP, BSLEEP,
                                     BTSLEEP)])
pid = worker()
t.ok(isinstance(pid, int) and pid > 1, "deleg's ssh worker pid", pid)

# a job_wait in flight when the worker dies
inflight = {}


def waiter():
    w = client()
    t0 = time.time()
    inflight["r"] = w.call_tool("job_wait", {"job_id": jid, "timeout": 200},
                                timeout=250)
    inflight["secs"] = time.time() - t0
    w.close()


th = threading.Thread(target=waiter)
th.start()
time.sleep(1)

# --- the worker dies ---
os.kill(pid, signal.SIGKILL)
killed = time.time()
th.join(120)
r = inflight.get("r") or {}
t.ok(r.get("isError") and sc(r).get("state") == "lost" and "lost" in
     result_text(r) and inflight.get("secs", 999) < 60,
     "the job_wait in flight answers: lost (%.1fs)" %
     inflight.get("secs", -1), r)


def lost_status():
    r = c.call_tool("job_status", {"job_id": jid})
    return r if "signal 9" in result_text(r) else None


r = wait_for(lost_status, 30) or c.call_tool("job_status", {"job_id": jid})
txt = result_text(r)
t.ok(r.get("isError") and sc(r).get("state") == "lost" and
     "lost: the ssh worker of host \"deleg\" (pid %d) died" % pid in txt and
     "signal 9" in txt and "watchdog" in txt and "never existed" not in txt,
     "job_status: lost, the worker's death and signal 9, not \"no job\"", r)
t.ok("signal 9" in (sc(r).get("reason") or ""),
     "job_status's structuredContent has the reason", r)
t0 = time.time()
r = c.call_tool("job_wait", {"job_id": jid, "timeout": 120})
t.ok(r.get("isError") and sc(r).get("state") == "lost" and
     "signal 9" in result_text(r) and time.time() - t0 < 20,
     "job_wait: lost at once (%.1fs)" % (time.time() - t0), r)
r = c.call_tool("job_list", {})
jobs = {j.get("job_id"): j for j in sc(r).get("jobs", [])}
t.ok(jobs.get(jid, {}).get("state") == "lost" and
     "signal 9" in jobs.get(jid, {}).get("reason", "") and
     re.search(re.escape(jid) + r".*lost.*\n.*signal 9", result_text(r)),
     "job_list: the job, lost, with the reason", r)
r = c.call_tool("job_cancel", {"job_id": jid})
t.ok(r.get("isError") and "not running: lost" in result_text(r),
     "job_cancel: not running, lost", r)
r = c.call_tool("BashOutput", {"bash_id": bid, "host": "deleg"})
t.ok(r.get("isError") and result_text(r).startswith("status: lost") and
     "signal 9" in result_text(r) and "while the command ran" in
     result_text(r), "BashOutput: lost, with the reason", r)
r = c.call_tool("TaskOutput", {"task_id": bid, "host": "deleg",
                               "block": True, "timeout": 60000})
t.ok(r.get("isError") and "status: lost" in result_text(r) and
     "signal 9" in result_text(r), "TaskOutput with block: lost at once", r)
r = c.call_tool("KillShell", {"shell_id": bid, "host": "deleg"})
t.ok(r.get("isError") and "not running: lost" in result_text(r),
     "KillShell: not running, lost", r)
r = c.call_tool("BashOutput", {"bash_id": eid, "host": "deleg"})
t.ok(r.get("isError") and "had ended (exited with status 0)" in
     result_text(r) and "signal 9" in result_text(r),
     "BashOutput of one that had ended: its end, and the output lost", r)
t.ok(time.time() - killed < 90, "all of that quickly (%.1fs)" %
     (time.time() - killed))

# --- the tasks following them failed, with the message ---


def task_failed(cl, task, modern=False):
    if modern:
        g = cl.modern_raw("tasks/get", {"taskId": task},
                          meta=CAPS).get("result") or {}
    else:
        g = cl.request_raw("tasks/get", {"taskId": task}).get(
            "result") or {}
    return g if g.get("status") == "failed" else None


g = wait_for(lambda: task_failed(c, tid), 60) or {}
# (those answered at the death itself may not know the signal yet)
t.ok("lost: the ssh worker of host" in g.get("statusMessage", ""),
     "the ask_claude task: failed, lost, its worker died", g)
g = wait_for(lambda: task_failed(c, btid), 60) or {}
t.ok("lost: the ssh worker of host" in g.get("statusMessage", ""),
     "the Bash task: failed, lost, its worker died", g)
g = wait_for(lambda: task_failed(mc, mtid, True), 60) or {}
t.ok("lost: the ssh worker of host" in g.get("statusMessage", "") and
     "lost" in (g.get("error") or {}).get("message", ""),
     "the 2026 task: failed, lost, in its error", g)

# --- nothing is left on the host ---
t.ok(wait_for(lambda: not any(remote("sleep %d" % n) for n in
              (DSLEEP, TSLEEP, MSLEEP, BSLEEP, BTSLEEP)), 60),
     "the remote processes are gone (their watchdogs)",
     [remote("sleep %d" % n) for n in (DSLEEP, TSLEEP, MSLEEP, BSLEEP,
                                       BTSLEEP)])

# --- the host works again, and new ids are new ---
r = c.call_tool("ask_claude", {"task": "STUB:hello again", "host": "deleg",
                               "background": True})
if r.get("isError"):
    r = c.call_tool("ask_claude", {"task": "STUB:hello again",
                                   "host": "deleg", "background": True})
njid = sc(r).get("job_id")
r = c.call_tool("job_wait", {"job_id": njid or "x", "timeout": 60})
t.ok(njid and njid != jid and sc(r).get("state") == "done" and
     "hello again" in result_text(r), "a new job on the host works", r)
t.ok(worker() not in (None, pid), "deleg has a new worker", worker())
r = c.call_tool("Bash", {"command": "echo fresh", "host": "deleg",
                         "run_in_background": True})
m = re.search(r"(bash_\d+)", result_text(r))
nbid = m.group(1) if m else None
t.ok(nbid and nbid not in (bid, eid) and wait_for(
     lambda: "fresh" in result_text(c.call_tool("BashOutput", {
         "bash_id": nbid, "host": "deleg"})), 60),
     "a new background Bash works, under a new id (%s)" % nbid, r)
r = c.call_tool("BashOutput", {"bash_id": bid, "host": "deleg"})
t.ok("status: lost" in result_text(r), "the lost one is still lost", r)

# --- the audit ---


def audit():
    out = ctl("-j", "show", "audit").stdout
    return [json.loads(l) for l in out.splitlines() if l.strip()]


def ends():
    recs = audit()
    d = [x for x in recs if x.get("type") == "delegation" and
         x.get("event") == "end" and x.get("outcome") == "lost" and
         "signal 9" in x.get("reason", "")]
    b = [x for x in recs if x.get("type") == "background" and
         x.get("event") == "end" and x.get("outcome") == "lost" and
         "signal 9" in x.get("reason", "")]
    if {x.get("job_id") for x in d} >= {jid} and len(d) >= 3 and \
            {x.get("job") for x in b} >= {bid, eid}:
        return d, b
    return None


e = wait_for(ends, 60)
t.ok(e, "the audit: an end record, outcome lost with the reason, for "
     "each lost job and command", [x for x in audit() if
                                   x.get("outcome") == "lost"])
c.close()
mc.close()
t.done()
PY
tap_end
