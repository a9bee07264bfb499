#!/usr/bin/env bash
# t-keepalive: an idle connection gets an SSH keepalive every
# "limits { keepalive N }" seconds (seen as bytes sent with no call made),
# and none sooner than the default 30 s.  The keepalive wants an answer:
# a host that stops answering (its sshd frozen with SIGSTOP: the kernel
# still acknowledges every packet) is declared not responding after
# "count" silent intervals, and the next call gets a new connection.
# A host slow to open a channel is waited for within the call's time
# limit, without stopping the worker.

. "$(dirname "$0")/lib.sh"

bytes_out()
{
	"$BRIDGECTL" -s "$CTL_SOCK" -j show hosts | "$PYTHON" -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l)
    if r["name"] == "local":
        print(r.get("bytes_out", -1))
'
}

# idle: start, connect with one call, count what is sent in 3.5 s
idle_growth()
{
	local a b
	"$PYTHON" "$MCPCLIENT" --socket "$MCP_SOCK" --init --call Bash \
	    '{"command":"true"}' >/dev/null 2>&1 || return 1
	# the worker reports its byte counts once a second
	sleep 1.5
	a=$(bytes_out)
	sleep 3.5
	b=$(bytes_out)
	echo $((b - a))
}

sshd_start || { tap_fail "sshd starts"; tap_end; }

tap_check "daemon starts with limits { keepalive 1 }" \
    bridged_start 'limits { keepalive 1 }'
"$BRIDGED" -nv -f "$BRIDGED_CONF" 2>/dev/null | grep -q "keepalive 1" &&
    tap_ok "bridged -nv prints keepalive 1" ||
    tap_fail "bridged -nv prints keepalive 1"
grow=$(idle_growth)
# an SSH_MSG_IGNORE is a few dozen bytes on the wire; 3 or more expected
if [ -n "$grow" ] && [ "$grow" -ge 60 ]; then
	tap_ok "an idle connection sends keepalives every second ($grow bytes in 3.5 s)"
else
	tap_fail "an idle connection sends keepalives every second" \
	    "bytes sent while idle: '$grow'"
fi
tap_check "stops" bridged_stop

# the sshd processes serving our connections (not the listener)
sshd_kids()
{
	local p kids=$(pgrep -P "$SSHD_PID")
	for p in $kids; do
		echo "$p"
		pgrep -P "$p"
	done
}

tap_check "daemon starts with limits { keepalive 1 count 2 }" \
    bridged_start 'limits { keepalive 1 count 2 }'
"$BRIDGED" -nv -f "$BRIDGED_CONF" 2>/dev/null | grep -q "keepalive 1 count 2" &&
    tap_ok "bridged -nv prints keepalive 1 count 2" ||
    tap_fail "bridged -nv prints keepalive 1 count 2"
tap_check "a call connects" "$PYTHON" "$MCPCLIENT" --socket "$MCP_SOCK" \
    --init --call Bash '{"command":"true"}'
frozen=$(sshd_kids)
# shellcheck disable=SC2086
kill -STOP $frozen
i=0
while [ $i -lt 100 ]; do
	grep -q 'not responding' "$TESTDIR/bridged.log" && break
	sleep 0.1
	i=$((i + 1))
done
line=$(grep 'not responding' "$TESTDIR/bridged.log" | head -n 1)
case $line in
*"host \"local\" (127.0.0.1:$SSHD_PORT): not responding: no answer to keepalives for "[0-9]*" s")
	tap_ok "a frozen host is not responding after 2 silent seconds" ;;
*)	tap_fail "a frozen host is not responding after 2 silent seconds" \
	    "log: '$line'" ;;
esac
state=$("$BRIDGECTL" -s "$CTL_SOCK" -j show hosts | "$PYTHON" -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l)
    if r["name"] == "local":
        print(r.get("state"), r.get("connections"), r.get("last_error"))
')
case $state in
"disconnected 0 not responding"*)
	tap_ok "show hosts: disconnected, not responding" ;;
*)	tap_fail "show hosts: disconnected, not responding" "got: $state" ;;
esac
out=$("$PYTHON" "$MCPCLIENT" --socket "$MCP_SOCK" --init --call Bash \
    '{"command":"echo back"}' 2>&1)
case $out in
*'was lost and re-made'*back*)
	tap_ok "the next call makes a new connection and warns" ;;
*)	tap_fail "the next call makes a new connection and warns" "$out" ;;
esac
# shellcheck disable=SC2086
kill -CONT $frozen 2>/dev/null
tap_check "stops" bridged_stop

tap_check "daemon starts with the default keepalive" bridged_start
grow=$(idle_growth)
if [ "$grow" = 0 ]; then
	tap_ok "with the default (30 s) nothing is sent in 3.5 s idle"
else
	tap_fail "with the default (30 s) nothing is sent in 3.5 s idle" \
	    "bytes sent while idle: '$grow'"
fi

# A host slow to open a channel (its sshd stopped for 12 s): a new
# session's shell waits for it within its call's own time limit and the
# worker serves the other sessions meanwhile.  It used to be a blocking
# open cut at 10 s, answered "cannot start a shell: " and nothing more.
"$PYTHON" - <<'PY' >"$TESTDIR/slow.out" 2>&1 &
import os, sys, time
sys.path.insert(0, os.path.dirname(os.environ["MCPCLIENT"]))
from mcpclient import Client, result_text
c = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
c.initialize()
open(os.environ["TESTDIR"] + "/slow.ready", "w").close()
while not os.path.exists(os.environ["TESTDIR"] + "/slow.go"):
    time.sleep(0.05)
t0 = time.time()
r = c.call_tool("Bash", {"command": "echo slow", "timeout": 40000},
                timeout=60)
print("%s %.1f %s" % ("error" if r.get("isError") else "ok",
                      time.time() - t0, result_text(r).replace("\n", " ")))
PY
slowpid=$!
i=0
while [ ! -f "$TESTDIR/slow.ready" ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
frozen=$(sshd_kids)
# shellcheck disable=SC2086
kill -STOP $frozen
: >"$TESTDIR/slow.go"
sleep 1
t0=$(date +%s)
fast=$("$PYTHON" "$MCPCLIENT" --socket "$MCP_SOCK" --init --call hosts '{}' \
    2>&1 | grep -c '"name":"local"')
t1=$(date +%s)
if [ "$fast" = 1 ] && [ $((t1 - t0)) -le 3 ]; then
	tap_ok "while the host is slow the worker answers others at once"
else
	tap_fail "while the host is slow the worker answers others at once" \
	    "hosts answered: $fast in $((t1 - t0)) s"
fi
sleep 11
# shellcheck disable=SC2086
kill -CONT $frozen
wait "$slowpid"
out=$(cat "$TESTDIR/slow.out")
case $out in
"ok "*"slow exit status: 0")
	tap_ok "a shell that takes 12 s to open still runs its command" ;;
*)	tap_fail "a shell that takes 12 s to open still runs its command" \
	    "$out" ;;
esac
tap_check "stops" bridged_stop

tap_end
