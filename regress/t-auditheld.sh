#!/usr/bin/env bash
# t-auditheld: a call to a running worker leaves with its intent and
# waits there for the logger's durable-ack.  With the logger and the
# worker stopped, the call is already in the worker's socket; the worker
# resumed holds it (the command does not run) until the logger resumes,
# then it runs.  A held call whose logger is SIGKILLed is refused ("audit
# unavailable") and never runs; one cancelled, or timed out, while held
# never runs when the logger comes back; one held past the worker's limit
# (30 s) is refused and never runs.  Each command would create a marker
# file: its absence after the logger has come back is the proof.

. "$(dirname "$0")/lib.sh"

sshd_start || { tap_fail "sshd starts"; tap_end; }
tap_check "bridged starts" bridged_start || tap_end
export TESTDIR REGRESS_DIR BRIDGED_PID

tap_run "$PYTHON" - <<'EOF'
import os, signal, subprocess, sys, time
sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client, Tap, result_text

t = Tap()
TD = os.environ["TESTDIR"]
PARENT = os.environ["BRIDGED_PID"]
c = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
c.initialize()


def child(title):
    p = subprocess.run(["pgrep", "-P", PARENT, "-f", title],
                       capture_output=True, text=True)
    pids = p.stdout.split()
    return int(pids[0]) if pids else None


def recvq(pid):
    """bytes waiting unread in pid's UNIX sockets"""
    out = subprocess.run(["ss", "-x", "-p"], capture_output=True,
                         text=True).stdout
    n = 0
    for ln in out.splitlines():
        w = ln.split()
        if "pid=%d," % pid in ln and len(w) > 2 and w[2].isdigit():
            n += int(w[2])
    return n


def until(cond, secs):
    end = time.time() + secs
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def marker(name):
    return os.path.join(TD, "base", name)


def send_bash(cmd, **extra):
    rid = c.new_id()
    args = {"command": cmd}
    args.update(extra)
    c.send({"jsonrpc": "2.0", "id": rid, "method": "tools/call",
            "params": {"name": "Bash", "arguments": args}})
    return rid


def answer(rid, secs=60):
    try:
        return c.wait_response(rid, timeout=secs).get("result", {})
    except Exception as e:
        return {"isError": True, "content": [{"type": "text",
                                             "text": "no answer: %s" % e}]}


def sync():
    """a call that runs (retried while the logger comes back)"""
    end = time.time() + 60
    while time.time() < end:
        r = c.call_tool("Bash", {"command": "echo sync"}, timeout=60)
        if not r.get("isError") and "sync" in result_text(r):
            return True
        time.sleep(0.2)
    return False


r = c.call_tool("Bash", {"command": "true"})
t.ok(not r.get("isError"), "a first call starts the host's worker", r)
lg, wk = child("logger"), child("ssh local")
t.ok(lg is not None and wk is not None, "the logger and the worker run",
     lg, wk)

# --- stopped logger and worker: the call is in the worker's socket ---
m1 = marker("m1")
os.kill(lg, signal.SIGSTOP)
os.kill(wk, signal.SIGSTOP)
rid = send_bash("touch %s" % m1)
inlog = until(lambda: recvq(lg) > 0, 20)
inwk = until(lambda: recvq(wk) > 0, 20)
t.ok(inlog and inwk, "with the logger stopped, the call has left the "
     "frontend for the worker with its intent", recvq(lg), recvq(wk))
os.kill(wk, signal.SIGCONT)
read = until(lambda: recvq(wk) == 0, 20)
time.sleep(1.5)
t.ok(read and not os.path.exists(m1), "the worker reads it and holds it: "
     "the command does not run before the intent is durable")
os.kill(lg, signal.SIGCONT)
r = answer(rid)
t.ok(not r.get("isError") and os.path.exists(m1),
     "the logger resumed: the call runs and answers", r)

# --- the logger SIGKILLed while the call is held: refused, never run ---
m2 = marker("m2")
os.kill(lg, signal.SIGSTOP)
rid = send_bash("touch %s" % m2)
until(lambda: recvq(lg) > 0, 20)
time.sleep(0.5)
t.ok(not os.path.exists(m2), "held: not run while the logger is stopped")
os.kill(lg, signal.SIGKILL)
r = answer(rid)
t.ok(r.get("isError") and "audit unavailable" in result_text(r),
     "the logger killed: the held call is refused (audit unavailable)", r)
t.ok(until(lambda: child("logger") not in (None, lg), 30) and sync(),
     "the logger is restarted and calls run again")
t.ok(not os.path.exists(m2), "the refused call never ran")
lg = child("logger")

# --- cancelled while held: never runs, not even once the ack comes ---
# (the worker stopped too, so that the cancel is seen to reach it before
# the logger is let go: nothing here depends on timing)
m3 = marker("m3")
os.kill(lg, signal.SIGSTOP)
os.kill(wk, signal.SIGSTOP)
rid = send_bash("touch %s" % m3)
until(lambda: recvq(lg) > 0, 20)
until(lambda: recvq(wk) > 0, 20)
q = recvq(wk)
c.notify("notifications/cancelled", {"requestId": rid, "reason": "test"})
cancelled = until(lambda: recvq(wk) > q, 20)
os.kill(wk, signal.SIGCONT)
until(lambda: recvq(wk) == 0, 20)
os.kill(lg, signal.SIGCONT)
t.ok(cancelled and sync() and not os.path.exists(m3),
     "a held call cancelled never runs when its intent becomes durable")

# --- timed out while held (1 s + the grace): never runs ---
m4 = marker("m4")
os.kill(lg, signal.SIGSTOP)
os.kill(wk, signal.SIGSTOP)
rid = send_bash("touch %s" % m4, timeout=1000)
until(lambda: recvq(wk) > 0, 20)
q = recvq(wk)
r = answer(rid, 30)
cancelled = until(lambda: recvq(wk) > q, 20)
os.kill(wk, signal.SIGCONT)
until(lambda: recvq(wk) == 0, 20)
os.kill(lg, signal.SIGCONT)
t.ok(r.get("isError") and "did not confirm the intent within" in
     result_text(r), "a held call times out with its own timeout, and "
     "says the logger did not answer", r)
t.ok(cancelled and sync() and not os.path.exists(m4), "the timed-out held "
     "call never runs when its intent becomes durable")

# --- held past the worker's limit: refused, never runs ---
m5 = marker("m5")
os.kill(lg, signal.SIGSTOP)
t0 = time.time()
rid = send_bash("touch %s" % m5)
r = answer(rid, 90)
secs = time.time() - t0
os.kill(lg, signal.SIGCONT)
t.ok(r.get("isError") and "audit unavailable" in result_text(r) and
     "within 30 s" in result_text(r) and 25 < secs < 80,
     "a call held 30 s is refused (%.1f s)" % secs, r)
t.ok(sync() and not os.path.exists(m5),
     "the call held too long never runs")
c.close()
sys.exit(t.done())
EOF
tap_end
