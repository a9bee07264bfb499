#!/usr/bin/env bash
# t-daemon: the daemon as an operator sees it: process titles, sockets
# (mode, stale file replaced, a live daemon refused, removed on exit),
# bridgectl show sessions/hosts, log verbose/brief, reload, SIGHUP with a
# broken config, the log file, SIGTERM; bridged-ssh run by hand, and a
# bridged without it.

. "$(dirname "$0")/lib.sh"

ctl()
{
	"$BRIDGECTL" -s "$CTL_SOCK" "$@"
}

sshd_start || { tap_fail "sshd starts"; tap_end; }

# a stale socket file left by a dead daemon is replaced
bridged_config
if [ "$(id -u)" = 0 ]; then
	sed -i 's|^socket "\(.*\)"$|socket "\1" mode 0660 group "nogroup"|' \
	    "$BRIDGED_CONF"
	want_mode=660
else
	sed -i 's|^socket "\(.*\)"$|socket "\1" mode 0600|' "$BRIDGED_CONF"
	want_mode=600
fi
"$PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.close()
' "$MCP_SOCK"
[ -S "$MCP_SOCK" ] || tap_fail "stale socket made"
"$BRIDGED" -d -f "$BRIDGED_CONF" </dev/null >>"$TESTDIR/bridged.log" 2>&1 &
BRIDGED_PID=$!
i=0
while [ $i -lt 100 ] && ! _sock_ready "$MCP_SOCK" "$CTL_SOCK" 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
if _sock_ready "$MCP_SOCK" "$CTL_SOCK"; then
	tap_ok "starts over a stale socket file"
else
	tap_fail "starts over a stale socket file" \
	    "$(tail -n 5 "$TESTDIR/bridged.log")"
	tap_end
fi

mode=$(stat -c %a "$MCP_SOCK")
if [ "$mode" = "$want_mode" ]; then
	tap_ok "socket mode from the config ($want_mode)"
else
	tap_fail "socket mode from the config ($want_mode)" "mode is $mode"
fi
if [ "$(id -u)" = 0 ]; then
	group=$(stat -c %G "$MCP_SOCK")
	if [ "$group" = nogroup ]; then
		tap_ok "socket group from the config (nogroup)"
	else
		tap_fail "socket group from the config" "group is $group"
	fi
fi

# process titles; a host's worker starts only when the host is needed
if pgrep -P "$BRIDGED_PID" -f '^bridged: ssh' >/dev/null; then
	tap_fail "no ssh worker before a host is needed"
else
	tap_ok "no ssh worker before a host is needed"
fi
"$PYTHON" "$MCPCLIENT" -s "$MCP_SOCK" --init --call Bash '{"command":"true"}' \
    >/dev/null 2>&1
for p in parent frontend "ssh local" logger; do
	if [ "$p" = parent ]; then
		# the whole title: no padding dots after it
		t=$(tr '\0' ' ' </proc/"$BRIDGED_PID"/cmdline | sed 's/ *$//')
	else
		t=$(pgrep -a -P "$BRIDGED_PID" -f "^bridged: $p\$" |
		    cut -d' ' -f2-)
	fi
	case $t in
	"bridged: $p")	tap_ok "process title \"bridged: $p\"" ;;
	*)		tap_fail "process title \"bridged: $p\"" "got \"$t\"" ;;
	esac
done

# a second daemon on the same sockets refuses to start
if "$BRIDGED" -d -f "$BRIDGED_CONF" >"$TESTDIR/second.out" 2>&1; then
	tap_fail "a second daemon on a live socket is refused"
elif grep -q "another bridged is running" "$TESTDIR/second.out"; then
	tap_ok "a second daemon on a live socket is refused"
else
	tap_fail "a second daemon on a live socket is refused" \
	    "$(cat "$TESTDIR/second.out")"
fi
_sock_ready "$MCP_SOCK" || tap_fail "first daemon's socket survives"

# an MCP session held open while bridgectl looks at it
"$PYTHON" - "$MCP_SOCK" "$TESTDIR/held" <<'EOF' &
import os, sys, time
sys.path.insert(0, os.path.dirname(os.environ["MCPCLIENT"]))
import mcpclient
c = mcpclient.Client(socket_path=sys.argv[1])
c.request("initialize", {"protocolVersion": "2025-11-25",
    "capabilities": {},
    "clientInfo": {"name": "t-daemon-client", "version": "9.9"}})
c.notify("notifications/initialized")
c.request("ping", {})
open(sys.argv[2], "w").write("ready\n")
time.sleep(30)
EOF
held=$!
i=0
while [ ! -s "$TESTDIR/held" ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done

out=$(ctl show sessions 2>&1)
if echo "$out" | grep -q "t-daemon-client"; then
	tap_ok "show sessions lists the session with its client name"
else
	tap_fail "show sessions lists the session with its client name" "$out"
fi
out=$(ctl -j show sessions 2>&1)
if echo "$out" | "$PYTHON" -c '
import json, os, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
me = [r for r in rows if r.get("client") == "t-daemon-client"]
assert me, rows
r = me[0]
assert r["client_version"] == "9.9", r
assert r["uid"] == os.getuid(), r
assert r["protocol"] == "2025-11-25", r
assert r["requests"] >= 2, r
assert r["state"] == "ready", r
'; then
	tap_ok "show sessions -j: uid, client version, protocol, requests"
else
	tap_fail "show sessions -j: uid, client version, protocol, requests" \
	    "$out"
fi
kill "$held" 2>/dev/null
wait "$held" 2>/dev/null

out=$(ctl -j show hosts 2>&1)
if echo "$out" | "$PYTHON" -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
assert len(rows) == 1 and rows[0]["name"] == "local", rows
assert rows[0]["default"] is True, rows
assert sorted(rows[0]["capabilities"]) == ["exec", "read", "write"], rows
assert rows[0]["state"] == "connected", rows
assert isinstance(rows[0]["worker_pid"], int) and rows[0]["worker_pid"] > 1, rows
'; then
	tap_ok "show hosts -j lists host local with its capabilities"
else
	tap_fail "show hosts -j lists host local with its capabilities" "$out"
fi

tap_check "log verbose" ctl log verbose
tap_check "log brief" ctl log brief
tap_check "reload with a good config" ctl reload

# a broken config: reload fails, the old one stays
cp "$BRIDGED_CONF" "$TESTDIR/good.conf"
echo 'this is not a keyword' >>"$BRIDGED_CONF"
if ctl reload >"$TESTDIR/reload.out" 2>&1; then
	tap_fail "bridgectl reload of a broken config fails"
else
	tap_ok "bridgectl reload of a broken config fails"
fi
grep -q "keeping the running configuration" "$TESTDIR/reload.out" &&
    tap_ok "reload error says the running config is kept" ||
    tap_fail "reload error says the running config is kept" \
    "$(cat "$TESTDIR/reload.out")"
kill -HUP "$BRIDGED_PID"
sleep 0.5
if bridged_alive &&
    "$PYTHON" "$MCPCLIENT" --socket "$MCP_SOCK" --init --call hosts '{}' \
    >"$TESTDIR/hosts.out" 2>&1 && grep -q '"local"' "$TESTDIR/hosts.out"
then
	tap_ok "SIGHUP with a broken config: still serving the old one"
else
	tap_fail "SIGHUP with a broken config: still serving the old one" \
	    "$(cat "$TESTDIR/hosts.out")"
fi
grep -q "bridged.conf:[0-9]*: " "$TESTDIR/bridged.log" &&
    tap_ok "the broken line is reported as file:line" ||
    tap_fail "the broken line is reported as file:line"

# a reload looks at the files the config names, as -n does
sed "s|^\(.*\)identity \".*\"|\1identity \"$TESTDIR/gone_key\"|" \
    "$TESTDIR/good.conf" >"$BRIDGED_CONF"
if ctl reload >"$TESTDIR/reload2.out" 2>&1; then
	tap_fail "reload with a missing identity fails"
elif grep -q "bridged.conf:[0-9]*: identity \"$TESTDIR/gone_key\" does not exist: make a key" \
    "$TESTDIR/reload2.out"; then
	tap_ok "reload with a missing identity fails, naming file:line and what to do"
else
	tap_fail "reload with a missing identity: the error names it" \
	    "$(cat "$TESTDIR/reload2.out")"
fi

# so does the start: a socket group that does not exist, at its line
sed 's|^\(socket "[^"]*"\).*$|\1 group "no-such-group-bridged"|' \
    "$TESTDIR/good.conf" >"$TESTDIR/badgroup.conf"
timeout 60 "$BRIDGED" -d -f "$TESTDIR/badgroup.conf" </dev/null \
    >"$TESTDIR/badgroup.out" 2>&1
rc=$?
if [ $rc -eq 1 ] && grep -q "badgroup.conf:[0-9]*: socket group \"no-such-group-bridged\" does not exist: create it" \
    "$TESTDIR/badgroup.out"; then
	tap_ok "start with an unknown socket group: exit 1, file:line and what to do"
else
	tap_fail "start with an unknown socket group (exit $rc)" \
	    "$(cat "$TESTDIR/badgroup.out")"
fi
cp "$TESTDIR/good.conf" "$BRIDGED_CONF"

# the logger wrote session records, one JSON object per line
if [ -s "$TESTDIR/log/bridge.log" ] && "$PYTHON" -c '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert any(r.get("type") == "session" for r in recs), recs[:3]
' "$TESTDIR/log/bridge.log"; then
	tap_ok "log file holds session records as JSON lines"
else
	tap_fail "log file holds session records as JSON lines"
fi

tap_check "SIGTERM: exits 0" bridged_stop
if [ ! -e "$MCP_SOCK" ] && [ ! -e "$CTL_SOCK" ]; then
	tap_ok "SIGTERM removes both sockets"
else
	tap_fail "SIGTERM removes both sockets" "$(ls -l "$TESTDIR")"
fi

# the ssh workers' program run by hand says what it is, and fails; as a
# worker not started by the parent it says so; a bridged without its
# worker's program does not start, and names the path it looked for
sshp=$(dirname "$BRIDGED")/bridged-ssh
out=$("$sshp" 2>&1 </dev/null); rc=$?
case "$rc:$out" in
1:*"ssh worker of bridged(8)"*) tap_ok "bridged-ssh by hand: usage, exit 1" ;;
*)	tap_fail "bridged-ssh by hand: usage, exit 1" "$rc: $out" ;;
esac
out=$("$sshp" -P ssh -H local 2>&1 </dev/null 3<&-); rc=$?
case "$rc:$out" in
1:*"not started by the bridged parent"*)
	tap_ok "bridged-ssh -P ssh without the parent's socket: refused" ;;
*)	tap_fail "bridged-ssh -P ssh without the parent's socket: refused" \
	    "$rc: $out" ;;
esac
mkdir -p "$TESTDIR/alone"
cp "$BRIDGED" "$TESTDIR/alone/bridged"
out=$("$TESTDIR/alone/bridged" -nn -f "$BRIDGED_CONF" 2>&1); rc=$?
case "$rc:$out" in
1:*"ssh worker's program $TESTDIR/alone/../libexec/bridged-ssh"*)
	tap_ok "bridged without bridged-ssh does not start, says where it looked" ;;
*)	tap_fail "bridged without bridged-ssh does not start" "$rc: $out" ;;
esac

# bridgectl against no daemon
if ctl show sessions >"$TESTDIR/nod.out" 2>&1; then
	tap_fail "bridgectl with no daemon fails"
else
	grep -q "is bridged running" "$TESTDIR/nod.out" &&
	    tap_ok "bridgectl with no daemon fails with a hint" ||
	    tap_fail "bridgectl with no daemon fails with a hint" \
	    "$(cat "$TESTDIR/nod.out")"
fi

tap_end
