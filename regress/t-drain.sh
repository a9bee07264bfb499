#!/usr/bin/env bash
# t-drain: SIGTERM stops accepting, lets a request in flight finish within
# the drain timeout, then exits 0 with the sockets gone; a request that
# outlives the drain timeout does not hold the daemon up.

. "$(dirname "$0")/lib.sh"

# drain: CMD DRAIN-SECONDS: start a Bash call of CMD, SIGTERM the daemon
# half a second later, report what the client and a newcomer saw
drain()
{
	"$PYTHON" - "$MCP_SOCK" "$BRIDGED_PID" "$1" <<'EOF'
import os, signal, socket, sys, threading, time
sys.path.insert(0, os.path.dirname(os.environ["MCPCLIENT"]))
import mcpclient
sock, pid, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3]
c = mcpclient.Client(socket_path=sock, timeout=60)
c.initialize()
out = {}
def call():
    try:
        r = c.call_tool("Bash", {"command": cmd}, timeout=60)
        out["text"] = mcpclient.result_text(r)
        out["error"] = bool(r.get("isError"))
    except Exception as e:
        out["exc"] = repr(e)
t = threading.Thread(target=call)
t.start()
time.sleep(0.7)
t0 = time.time()
os.kill(pid, signal.SIGTERM)
time.sleep(0.3)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sock)
    s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n')
    s.settimeout(2)
    got = s.recv(100)
    print("newcomer:", "answered" if got else "closed")
except OSError as e:
    print("newcomer: refused (%s)" % e.strerror)
t.join(60)
print("inflight:", out)
EOF
}

sshd_start || { tap_fail "sshd starts"; tap_end; }

tap_check "daemon starts (drain timeout 10)" \
    bridged_start 'limits { drain timeout 10 }'
pid=$BRIDGED_PID
drain 'sleep 2; echo finished-after-sigterm' >"$TESTDIR/drain.out" 2>&1
cat "$TESTDIR/drain.out" | sed 's/^/# /'
grep -q "newcomer: refused" "$TESTDIR/drain.out" &&
    tap_ok "no new session is accepted while draining" ||
    tap_fail "no new session is accepted while draining"
grep -q "finished-after-sigterm" "$TESTDIR/drain.out" &&
    tap_ok "the call in flight finishes and is answered" ||
    tap_fail "the call in flight finishes and is answered"
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
if kill -0 "$pid" 2>/dev/null; then
	tap_fail "daemon exits after the drain"
else
	wait "$pid"
	rc=$?
	[ $rc = 0 ] && tap_ok "daemon exits 0 after the drain" ||
	    tap_fail "daemon exits 0 after the drain" "status $rc"
fi
BRIDGED_PID=
[ ! -e "$MCP_SOCK" ] && [ ! -e "$CTL_SOCK" ] &&
    tap_ok "sockets removed" || tap_fail "sockets removed"

# a call longer than the drain timeout: the daemon goes anyway
tap_check "daemon starts (drain timeout 1)" \
    bridged_start 'limits { drain timeout 1 }'
pid=$BRIDGED_PID
start=$(date +%s)
# a duration no other run uses, so pgrep finds only ours
dur=37.$$
drain "sleep $dur" >"$TESTDIR/drain2.out" 2>&1 &
drainer=$!
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 150 ]; do
	sleep 0.1
	i=$((i + 1))
done
took=$(( $(date +%s) - start ))
if kill -0 "$pid" 2>/dev/null; then
	tap_fail "a long call does not hold the daemon past the drain timeout"
else
	wait "$pid"
	rc=$?
	[ $rc = 0 ] && [ "$took" -le 8 ] &&
	    tap_ok "a long call does not hold the daemon past the drain timeout (${took}s)" ||
	    tap_fail "a long call does not hold the daemon past the drain timeout" \
	    "status $rc after ${took}s"
fi
BRIDGED_PID=
wait "$drainer" 2>/dev/null
if pgrep -u "$(id -u)" -f "^sleep $dur\$" >/dev/null; then
	tap_fail "no remote sleep left behind" \
	    "$(ps -o pid,ppid,pgid,stat,etimes,cmd -p \
	    "$(pgrep -d, -f "^sleep $dur\$")")"
else
	tap_ok "no remote sleep left behind"
fi

tap_end
