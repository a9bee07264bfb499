#!/bin/bash
# t-audit-kill: the audit survives dying processes.  SIGKILL the logger
# while 8 clients make calls: every call that got a result has its intent
# row, calls that change something are refused while it is gone (and say
# "audit unavailable"), reads go on, the parent restarts it and says so,
# and calls work again.  Then SIGKILL each process in turn mid-load (a
# child is restarted and the daemon lives on; the parent takes all): the
# database passes PRAGMA integrity_check, the text log holds no partial
# line, and the chain verifies after a restart.  Records the frontend
# had queued and not written when the logger died reach the database.

. "$(dirname "$0")/lib.sh"

if ! command -v sqlite3 >/dev/null; then
	tap_skip "audit kill tests" "the sqlite3 command is not installed"
	tap_end
fi
sshd_start || { tap_fail "sshd starts"; tap_end; }
if ! tap_check "bridged starts" bridged_start; then
	tap_end
fi
DB=$TESTDIR/db/audit.db
export REGRESS_DIR TESTDIR BRIDGED_PID

tap_run "$PYTHON" - <<'EOF2'
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
PARENT = os.environ["BRIDGED_PID"]
t = Tap()


def child(title):
    p = subprocess.run(["pgrep", "-P", PARENT, "-f", title],
                       capture_output=True, text=True)
    pids = p.stdout.split()
    return int(pids[0]) if pids else None


results = []        # (command, result or exception)
lock = threading.Lock()
done = threading.Event()


def load(n):
    c = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
    c.initialize()
    i = 0
    while not done.is_set():
        i += 1
        cmd = "echo load-%d-%d" % (n, i)
        try:
            r = c.call_tool("Bash", {"command": cmd})
        except Exception as e:
            r = e
        try:
            rr = c.call_tool("Read", {"file_path": TD + "/base/r.txt",
                                      "limit": 1})
        except Exception as e:
            rr = e
        with lock:
            results.append((cmd, r, rr))
    c.close()


with open(TD + "/base/r.txt", "w") as fp:
    fp.write("read me\n")
logger = child("logger")
t.ok(logger is not None, "the logger runs (pid %s)" % logger)
ths = [threading.Thread(target=load, args=(n,)) for n in range(8)]
for th in ths:
    th.start()
time.sleep(1.5)
os.kill(logger, 9)
# once more while it is coming back: the second restart waits longer
for i in range(50):
    time.sleep(0.1)
    nl = child("logger")
    if nl is not None and nl != logger:
        break
time.sleep(0.3)
if nl is not None and nl != logger:
    os.kill(nl, 9)
time.sleep(2.5)
done.set()
for th in ths:
    th.join()

ok_cmds = [cmd for cmd, r, rr in results
           if isinstance(r, dict) and not r.get("isError")]
refused = [cmd for cmd, r, rr in results
           if isinstance(r, dict) and r.get("isError") and
           "audit unavailable" in result_text(r)]
other = [(cmd, r) for cmd, r, rr in results
         if not isinstance(r, dict) or (r.get("isError") and
                                        "audit unavailable" not in
                                        result_text(r))]
reads_ok = [rr for cmd, r, rr in results
            if isinstance(rr, dict) and not rr.get("isError")]
reads_bad = [rr for cmd, r, rr in results
             if not isinstance(rr, dict) or rr.get("isError")]
t.diag("%d Bash calls: %d answered, %d refused, %d other; reads %d ok, "
       "%d not" % (len(results), len(ok_cmds), len(refused), len(other),
                   len(reads_ok), len(reads_bad)))
t.ok(not other, "every Bash call was answered or refused for the audit",
     other[:3])
t.ok(len(refused) > 0, "some Bash calls were refused while the logger "
     "was gone (%d)" % len(refused))
t.ok(not reads_bad, "every read was answered", reads_bad[:3])

con = sqlite3.connect(DB, timeout=10)
intents = set()
for (rec,) in con.execute("select record from records where type='call' "
                          "and event='intent' and tool='Bash'"):
    import json
    intents.add(json.loads(rec)["arguments"]["command"])
con.close()
missing = [cmd for cmd in ok_cmds if cmd not in intents]
t.ok(ok_cmds and not missing, "every Bash call that got a result has its "
     "intent row (%d)" % len(ok_cmds), missing[:5])

c = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
c.initialize()
r = None
for i in range(50):
    r = c.call_tool("Bash", {"command": "echo back"})
    if not r.get("isError"):
        break
    time.sleep(0.2)
t.ok(result_text(r).startswith("back"), "Bash works again once the "
     "logger is back", r)
c.close()
log = open(TD + "/bridged.log").read()
t.ok("logger died" in log and "restarting it" in log and
     "logger restarted" in log, "the daemon log says the logger died and "
     "was restarted")
t.ok("refused: audit unavailable" in log, "and that calls were refused")

# A record the logger never got a byte of goes to the backlog, which its
# replacement is sent first.  Records leave the frontend right after an
# answer, or with its next message to the logger; what it still holds
# then is what a full socket left queued.  The logger
# is stopped, so the socket fills with the records of Reads (which go on
# without it) and the rest queue in the frontend; the logger is killed
# then.  The records in the socket die with it; the last Read's intent
# and outcome, still queued, must reach its replacement.
import signal
c = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
c.initialize()
lg = child("logger")
os.kill(lg, signal.SIGSTOP)
path = TD + "/base/rescue.txt"
with open(path, "w") as fp:
    fp.write("rescue\n")
bad = 0
for k in range(1000):
    r = c.call_tool("Read", {"file_path": TD + "/base/r.txt", "limit": 1})
    bad += 1 if r.get("isError") else 0
r = c.call_tool("Read", {"file_path": path})
t.ok(bad == 0 and not r.get("isError"), "1001 Reads answered while the "
     "logger is stopped (%d errors)" % bad, r)
os.kill(lg, 9)     # a stopped process dies of SIGKILL too
got = (None, 0)
for i in range(300):     # the parent restarts the logger first
    con = sqlite3.connect(DB, timeout=10)
    row = con.execute("select session, request from records where "
                      "type = 'call' and event = 'intent' and tool = 'Read' "
                      "and record like ?", ("%rescue.txt%",)).fetchone()
    n = 0 if row is None else con.execute(
        "select count(*) from records where type = 'call' and event = "
        "'outcome' and session = ? and request = ?", row).fetchone()[0]
    con.close()
    got = (row, n)
    if row is not None and n == 1:
        break
    time.sleep(0.1)
t.ok(got[0] is not None and got[1] == 1, "a Read's intent and outcome, "
     "queued in the frontend when the logger died, are in the database "
     "(the backlog)", got)
r = c.call_tool("Read", {"file_path": TD + "/base/r.txt", "limit": 1})
t.ok(not r.get("isError"), "and reads go on", r)
c.close()

rc = subprocess.run(CTL + ["verify"], capture_output=True, text=True)
t.ok(rc.returncode == 0, "the chain verifies", rc.stdout, rc.stderr)
sys.exit(t.done())
EOF2

tap_check "bridged stops" bridged_stop

# SIGKILL each process in turn under load
for victim in logger frontend ssh parent; do
	if ! bridged_start >/dev/null 2>&1; then
		tap_fail "$victim: bridged starts again"
		continue
	fi
	kids=$(pgrep -P "$BRIDGED_PID" | tr '\n' ' ')
	"$PYTHON" - <<'EOF2' &
import os, sys, threading, time
sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client
def load(n):
    try:
        c = Client(socket_path=os.environ["MCP_SOCK"], timeout=10)
        c.initialize()
        for i in range(1000):
            c.call_tool("Bash" if i % 2 else "Read",
                        {"command": "echo %d" % i} if i % 2 else
                        {"file_path": os.environ["TESTDIR"] + "/base/r.txt"})
    except Exception:
        pass
ths = [threading.Thread(target=load, args=(n,)) for n in range(4)]
[th.start() for th in ths]
[th.join() for th in ths]
EOF2
	loadpid=$!
	sleep 1
	if [ "$victim" = parent ]; then
		pid=$BRIDGED_PID
	else
		pid=$(pgrep -P "$BRIDGED_PID" -f "$victim" | head -1)
	fi
	kill -KILL "$pid" 2>/dev/null
	sleep 1
	if [ "$victim" != parent ]; then
		# a child is restarted: the daemon lives on, and stops cleanly
		if bridged_alive; then
			tap_ok "$victim killed: the daemon lives on"
		else
			tap_fail "$victim killed: the daemon lives on"
		fi
		bridged_stop >/dev/null 2>&1
	else
		# the tree goes down (or, without the parent, its children)
		i=0
		while [ $i -lt 100 ] && { kill -0 "$BRIDGED_PID" 2>/dev/null ||
		    for k in $kids; do kill -0 "$k" 2>/dev/null && exit 0; done |
		    false; }; do
			sleep 0.1
			i=$((i + 1))
		done
		wait "$BRIDGED_PID" 2>/dev/null
		for k in $kids; do
			while kill -0 "$k" 2>/dev/null && [ $i -lt 150 ]; do
				sleep 0.1
				i=$((i + 1))
			done
		done
		BRIDGED_PID=
	fi
	kill "$loadpid" 2>/dev/null
	wait "$loadpid" 2>/dev/null
	ic=$(sqlite3 "$DB" "pragma integrity_check" 2>&1)
	if [ "$ic" = ok ]; then
		tap_ok "$victim killed: integrity_check ok"
	else
		tap_fail "$victim killed: integrity_check" "$ic"
	fi
	if "$PYTHON" -c '
import json, sys
for f in sys.argv[1:]:
    for line in open(f):
        if not line.endswith("\n"):
            sys.exit("partial line in %s" % f)
        json.loads(line)
' "$TESTDIR"/log/bridge.log*; then
		tap_ok "$victim killed: no partial line in the text log"
	else
		tap_fail "$victim killed: no partial line in the text log"
	fi
	if bridged_start >/dev/null 2>&1; then
		out=$("$BRIDGECTL" -s "$CTL_SOCK" verify 2>&1)
		if [ $? -eq 0 ]; then
			tap_ok "$victim killed: the chain verifies after a restart"
		else
			tap_fail "$victim killed: the chain verifies" "$out"
		fi
		bridged_stop >/dev/null 2>&1
	else
		tap_fail "$victim killed: bridged restarts"
	fi
done
tap_end
