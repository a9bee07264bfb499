#!/usr/bin/env bash
# t-keepalive: an idle connection gets an SSH keepalive every
# "limits { keepalive N }" seconds (seen as bytes sent with no call made),
# and none sooner than the default 30 s.

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

tap_check "daemon starts with the default keepalive" bridged_start
grow=$(idle_growth)
if [ "$grow" = 0 ]; then
	tap_ok "with the default (30 s) nothing is sent in 3.5 s idle"
else
	tap_fail "with the default (30 s) nothing is sent in 3.5 s idle" \
	    "bytes sent while idle: '$grow'"
fi
tap_check "stops" bridged_stop

tap_end
