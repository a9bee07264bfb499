#!/usr/bin/env bash
# t-ownerdeath: remote work dies with its owner.  Within 2 s (polled for
# 3) no process bridged started on the host is left, and no temp file:
# cancel, timeout and KillShell of Bash; an MCP client that disconnects
# mid-call (a half-close still gets its answer; a background ask_claude
# job survives its client); the SSH connection dropping under a
# foreground and a background command; SIGKILL of the ssh worker under
# Bash, a background command, a one-shot helper (Grep), a foreground
# ask_claude and a background job; a Write interrupted by the worker's
# death leaves no ".NAME.bridged-XXXXXX" after the next connect, and a
# file of that shape bridged did not make is kept.  Work that ends
# normally (a background command, a session) leaves no watchdog behind.
#
# "Left" means: a process matching this run's marker, or any process in
# the session (setsid) of one, which takes in the shells and watchdogs.

. "$(dirname "$0")/lib.sh"

ME=$(id -u)
# sleep durations no other run uses: pgrep finds only ours
U=$(( (RANDOM * 32768 + RANDOM) % 800000 + 100000 ))

sshd_start || { tap_fail "sshd starts"; tap_end; }

stub_claude_install
mkdir -p "$TESTDIR/base"

CONF_EXTRA="limits { line size 16M }
host \"deleg\" {
	address \"127.0.0.1\" port $SSHD_PORT
	user \"$SSH_USER\"
	identity \"$SSH_USER_KEY\"
	known hosts \"$SSH_KNOWN_HOSTS\"
	base dir \"$TESTDIR/base\"
	allow read, delegate
	delegate { claude \"$TESTDIR/bin/claude\" timeout 600 }
}"

CLIENTS=
# client OUT ARGS...: an mcpclient in the background, its pid in $!
client()
{
	local out=$1
	shift
	"$PYTHON" "$MCPCLIENT" -s "$MCP_SOCK" -t 120 --allow-errors --init \
	    "$@" >"$TESTDIR/$out" 2>&1 &
	CLIENTS="$CLIENTS $!"
	# killed on purpose: no job report
	disown $!
}

# the session ids of the processes whose command line matches $1
sids_of()
{
	local p
	for p in $(pgrep -u "$ME" -f "$1"); do
		ps -o sid= -p "$p"
	done | tr -d ' ' | sort -u | tr '\n' ' '
}

# what is left: processes matching $1, and any process in sessions $2
left()
{
	pgrep -u "$ME" -a -f "$1"
	[ -n "$2" ] && ps -A -o pid=,sid=,args= |
	    awk -v s=" $2 " 'index(s, " " $2 " ") { print }'
}

# wait_for SECS CMD...: poll until CMD succeeds
wait_for()
{
	local secs=$1 i=0
	shift
	while [ $i -lt $((secs * 10)) ]; do
		"$@" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

present() { pgrep -u "$ME" -f "$1" >/dev/null; }
nothing_left() { [ -z "$(left "$1" "$2")" ]; }

# gone DESC PATTERN SIDS: ok when nothing is left within 3 s
gone()
{
	if wait_for 3 nothing_left "$2" "$3"; then
		tap_ok "$1"
	else
		tap_fail "$1" "left after 3 s:" "$(left "$2" "$3")"
	fi
}

# started PATTERN: wait for it; its sessions in $SIDS
started()
{
	SIDS=
	wait_for 15 present "$1" || return 1
	SIDS=$(sids_of "$1")
	[ -n "$SIDS" ]
}

workers() { pgrep -P "$BRIDGED_PID" -f "^bridged: ssh"; }

# SIGKILL the ssh worker(s); the daemon may go down with them today
kill_worker()
{
	local w
	w=$(workers)
	[ -n "$w" ] || return 1
	# shellcheck disable=SC2086
	kill -KILL $w
}

# after a worker's death: a live daemon, restarted when it went down
daemon_back()
{
	sleep 0.5
	if bridged_alive; then
		tap_ok "the daemon survives the death of its ssh worker"
	else
		wait "$BRIDGED_PID" 2>/dev/null
		BRIDGED_PID=
		tap_skip "the daemon survives the death of its ssh worker" \
		    "it goes down today (another change restarts workers)"
		bridged_start "$CONF_EXTRA" || {
			tap_fail "the daemon starts again"
			tap_end
		}
	fi
}

# the descendants of the test sshd (its connections), not sshd itself
sshd_children()
{
	ps -A -o pid=,ppid= | awk -v r="$SSHD_PID" '{ pp[$1] = $2 }
	    END { s[r] = 1; do { c = 0; for (x in pp) if (!(x in s) &&
	    (pp[x] in s)) { s[x] = 1; c = 1 } } while (c);
	    for (x in s) if (x != r) print x }'
}

stop_clients()
{
	# shellcheck disable=SC2086
	[ -n "$CLIENTS" ] && kill -KILL $CLIENTS 2>/dev/null
	CLIENTS=
}

if ! tap_check "bridged starts" bridged_start "$CONF_EXTRA"; then
	tap_end
fi

# --- cancel, timeout, KillShell: what was there already --------------------

export TESTDIR U ME
tap_run "$PYTHON" - <<'EOF'
import os, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.environ["MCPCLIENT"]))
from mcpclient import Client, Tap, result_text

U = os.environ["U"]
t = Tap()
c = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
c.initialize()

def procs(pat):
    return subprocess.run(["pgrep", "-u", os.environ["ME"], "-f", pat],
                          capture_output=True, text=True).stdout.split()

def wait_for(pred, secs):
    end = time.time() + secs
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.1)
    return pred()

pat = "^sleep %s1$" % U
r = c.call_tool("Bash", {"command": "sleep %s1" % U, "timeout": 1500},
                timeout=30)
t.ok(r.get("isError") and "timed out" in result_text(r),
     "Bash timeout is answered", r)
t.ok(wait_for(lambda: not procs(pat), 3), "timeout: nothing left",
     procs(pat))

pat = "^sleep %s2$" % U
rid = c.new_id()
c.send({"jsonrpc": "2.0", "id": rid, "method": "tools/call",
        "params": {"name": "Bash", "arguments": {"command":
                   "sleep %s2" % U}}})
t.ok(wait_for(lambda: procs(pat), 10), "cancel: the command runs")
c.notify("notifications/cancelled", {"requestId": rid,
                                     "reason": "t-ownerdeath"})
t.ok(wait_for(lambda: not procs(pat), 3), "cancel: nothing left",
     procs(pat))

pat = "^sleep %s3$" % U
r = c.call_tool("Bash", {"command": "sleep %s3" % U,
                         "run_in_background": True})
bid = result_text(r).split()[-1]
t.ok(wait_for(lambda: procs(pat), 10), "background command runs", r)
r = c.call_tool("KillShell", {"shell_id": bid})
t.ok(wait_for(lambda: not procs(pat), 3), "KillShell: nothing left",
     procs(pat), r)

# a half-close is not a disconnect: the answer still comes
h = Client(socket_path=os.environ["MCP_SOCK"], timeout=30)
h.initialize()
hid = h.new_id()
h.send({"jsonrpc": "2.0", "id": hid, "method": "tools/call",
        "params": {"name": "Bash", "arguments": {"command":
                   "sleep 1; echo half-closed-%s" % U}}})
h.close_write()
try:
    resp = h.wait_response(hid, timeout=20)
    ok = "half-closed-%s" % U in result_text(resp.get("result", {}))
except Exception as e:
    resp, ok = repr(e), False
t.ok(ok, "a client that half-closes still gets its answer", resp)
h.close()
c.close()
t.done()
EOF

# --- work that ends normally leaves nothing behind ------------------------

tap_run "$PYTHON" - <<'EOF'
import os, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.environ["MCPCLIENT"]))
from mcpclient import Client, Tap, result_text

U = os.environ["U"]
t = Tap()

def in_session(sid):
    out = subprocess.run(["ps", "-A", "-o", "pid=,sid=,args="],
                         capture_output=True, text=True).stdout
    return [l for l in out.splitlines() if l.split()[1] == str(sid)]

def wait_for(pred, secs):
    end = time.time() + secs
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.1)
    return pred()

c = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
c.initialize()
r = c.call_tool("Bash", {"command": "ps -o sid= -p $$"})
w = result_text(r).split()
shell_sid = int(w[0]) if w and w[0].isdigit() else -1
t.ok(in_session(shell_sid), "the persistent shell has a session", r)
r = c.call_tool("Bash", {"command": "ps -o sid= -p $$; sleep 1.%s" % U,
                         "run_in_background": True})
bid = result_text(r).split()[-1]
bg_sid = None
def bg_out():
    global bg_sid
    r = c.call_tool("BashOutput", {"bash_id": bid})
    for w in result_text(r).split():
        if w.isdigit() and bg_sid is None:
            bg_sid = int(w)
    return "exited" in result_text(r)
t.ok(wait_for(bg_out, 15) and bg_sid, "a background command ends", bg_sid)
t.ok(bg_sid and wait_for(lambda: not in_session(bg_sid), 3),
     "nothing is left in its session (no watchdog)",
     bg_sid and in_session(bg_sid))
c.close()
t.ok(wait_for(lambda: not in_session(shell_sid), 3),
     "a session that ends leaves nothing of its shell",
     in_session(shell_sid))
t.done()
EOF

# --- the client goes away ------------------------------------------------

client dc1.out --call Bash "{\"command\":\"sleep ${U}4\"}"
dc=$!
client dc2.out --call ask_claude "{\"host\":\"deleg\",\"task\":\"STUB:sleep ${U}5\",\"background\":true}" --sleep 120
dc2=$!
if started "^sleep ${U}4$"; then
	s4=$SIDS
	kill -KILL "$dc"
	gone "client killed mid-Bash: its command is killed" "^sleep ${U}4$" \
	    "$s4"
else
	tap_fail "client killed mid-Bash: the command starts" \
	    "$(cat "$TESTDIR/dc1.out")"
fi
if started "^sleep ${U}5$"; then
	s5=$SIDS
	kill -KILL "$dc2"
	sleep 2.5
	present "^sleep ${U}5$" &&
	    tap_ok "a background ask_claude job outlives its client" ||
	    tap_fail "a background ask_claude job outlives its client"
else
	s5=
	tap_fail "background ask_claude job starts" \
	    "$(cat "$TESTDIR/dc2.out")"
fi

# --- the connection drops ------------------------------------------------

client cd1.out --call Bash "{\"command\":\"sleep ${U}6\",\"run_in_background\":true}" --sleep 120
client cd2.out --call Bash "{\"command\":\"sleep ${U}7\"}"
if started "^sleep ${U}6$" && s6=$SIDS && started "^sleep ${U}7$"; then
	s7=$SIDS
	# the sshd session process that runs them: the parent of the leader
	sess=$(ps -o ppid= -p "${s6%% *}" | tr -d ' ')
	case $(ps -o comm= -p "$sess") in
	sshd*)
		kill -KILL "$sess"
		gone "connection dropped: the background command is killed" \
		    "^sleep ${U}6$" "$s6"
		gone "connection dropped: the foreground command is killed" \
		    "^sleep ${U}7$" "$s7"
		;;
	*)
		tap_fail "the session leader's parent is sshd" \
		    "$(ps -o pid,ppid,sid,args -p "$sess")"
		;;
	esac
else
	tap_fail "commands start for the connection drop" \
	    "$(cat "$TESTDIR/cd1.out" "$TESTDIR/cd2.out")"
fi
stop_clients

# --- the ssh worker dies -------------------------------------------------

mkfifo "$TESTDIR/base/fifo-$U"
client w1.out --call Bash "{\"command\":\"sleep ${U}8\"}"
client w2.out --call Bash "{\"command\":\"sleep ${U}9\",\"run_in_background\":true}" --sleep 120
client w3.out --call ask_claude "{\"host\":\"deleg\",\"task\":\"STUB:sleep ${U}10\"}"
all_started=1
wsids=
for n in 8 9 10; do
	if started "^sleep ${U}$n$"; then
		wsids="$wsids $SIDS"
	else
		all_started=
	fi
done
# last: a one-shot helper that blocks the worker (grep on a FIFO)
client w4.out --call Grep "{\"pattern\":\"x\",\"path\":\"$TESTDIR/base/fifo-$U\"}"
if started "^grep .*fifo-$U"; then
	wsids="$wsids $SIDS"
else
	all_started=
fi
if [ -n "$all_started" ] && kill_worker; then
	gone "worker killed: the Bash command is killed" "^sleep ${U}8$" \
	    "$wsids"
	gone "worker killed: the background command is killed" \
	    "^sleep ${U}9$" "$wsids"
	gone "worker killed: the foreground ask_claude is killed" \
	    "^sleep ${U}10$|stub-claude --stub-state $STUB_STATE" "$wsids"
	gone "worker killed: the one-shot helper (Grep) is killed" \
	    "^grep .*fifo-$U" "$wsids"
	if [ -n "$s5" ]; then
		gone "worker killed: the background ask_claude job is killed" \
		    "^sleep ${U}5$" "$s5"
	fi
	daemon_back
else
	tap_fail "work starts before the worker is killed" \
	    "$(cat "$TESTDIR"/w?.out)" "workers: $(workers)"
fi
stop_clients

# --- a Write the worker's death interrupts --------------------------------

# a file of our temp shape that bridged did not make: it must stay
decoy=$TESTDIR/base/.decoy-$U.bridged-abcdef
echo decoy >"$decoy"
# writer PATH: a Write of 6 MiB to PATH, from a client in the background
writer()
{
	"$PYTHON" - "$1" >"$TESTDIR/wr.out" 2>&1 <<'EOF' &
import os, sys
sys.path.insert(0, os.path.dirname(os.environ["MCPCLIENT"]))
from mcpclient import Client
c = Client(socket_path=os.environ["MCP_SOCK"], timeout=120)
c.initialize()
print(c.call_tool("Write", {"file_path": sys.argv[1],
                            "content": "y" * (6 << 20)}, timeout=120))
EOF
	CLIENTS="$CLIENTS $!"
	disown $!
}

interrupted=
for try in 1 2 3; do
	target=$TESTDIR/base/big-$U-$try.txt
	writer "$target"
	# the moment the temp file is there, freeze the host, then kill
	tmp=$("$PYTHON" - "$TESTDIR/base" "big-$U-$try.txt" <<'EOF'
import os, sys, time
d, name = sys.argv[1], sys.argv[2]
end = time.time() + 20
while time.time() < end:
    for f in os.listdir(d):
        if f.startswith("." + name + ".bridged-"):
            print(os.path.join(d, f))
            sys.exit(0)
    if os.path.exists(os.path.join(d, name)):
        break
    time.sleep(0.0005)
sys.exit(1)
EOF
)
	if [ -n "$tmp" ]; then
		frozen=$(sshd_children)
		# shellcheck disable=SC2086
		kill -STOP $frozen 2>/dev/null
		if [ -e "$tmp" ]; then
			kill_worker
			sleep 0.3
			# shellcheck disable=SC2086
			kill -CONT $frozen 2>/dev/null
			interrupted=1
			break
		fi
		# shellcheck disable=SC2086
		kill -CONT $frozen 2>/dev/null
	fi
	stop_clients
	rm -f "$target"
done
stop_clients
if [ -n "$interrupted" ]; then
	tap_ok "a Write is interrupted by the worker's death, its temp file" \
	    "left ($(basename "$tmp"))"
	daemon_back
	# the next connect
	"$PYTHON" "$MCPCLIENT" -s "$MCP_SOCK" -t 60 --init \
	    --call ListDir "{\"path\":\"$TESTDIR/base\"}" >"$TESTDIR/ls.out" 2>&1
	if ls -A "$TESTDIR/base" | grep -v "^\.decoy-$U\." |
	    grep -q '\.bridged-'; then
		tap_fail "no temp file is left after the next connect" \
		    "$(ls -lA "$TESTDIR/base")"
	else
		tap_ok "no temp file is left after the next connect"
	fi
	grep -v "decoy" "$TESTDIR/ls.out" | grep -q '\.bridged-' &&
	    tap_fail "ListDir shows no temp file" "$(cat "$TESTDIR/ls.out")" ||
	    tap_ok "ListDir shows no temp file"
	[ -f "$decoy" ] &&
	    tap_ok "a file of that shape bridged did not make is kept" ||
	    tap_fail "a file of that shape bridged did not make is kept"
else
	tap_fail "a Write is interrupted by the worker's death" \
	    "the write finished before it could be frozen"
fi

# --- nothing of this run is left at all ----------------------------------

if wait_for 3 nothing_left "^sleep ${U}[0-9]+$|^grep .*fifo-$U|stub-state $STUB_STATE" ""; then
	tap_ok "no process of this test is left on the host"
else
	tap_fail "no process of this test is left on the host" \
	    "$(left "^sleep ${U}[0-9]+$|^grep .*fifo-$U|stub-state $STUB_STATE" "")"
fi
tap_check "bridged stops" bridged_stop
stop_clients
# what a failure left: this run's processes only, by their pids
leftover=$(pgrep -u "$ME" -f "^sleep ${U}[0-9]+$|^grep .*fifo-$U|stub-state $STUB_STATE")
# shellcheck disable=SC2086
[ -n "$leftover" ] && kill -KILL $leftover 2>/dev/null
tap_end
