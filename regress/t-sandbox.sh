#!/usr/bin/env bash
# t-sandbox: each child of a running daemon is killed by SIGSYS when it
# makes a system call outside its allow-list, and the parent says so and
# restarts it.
#
# The forbidden call is injected from outside with gdb into the real,
# unmodified daemon: there is no trigger inside bridged that a client could
# reach.  As root, the children's status shows seccomp filter mode,
# no_new_privs, a dropped uid, and the frontend's root is its chroot.

. "$(dirname "$0")/lib.sh"

# syscall numbers of this machine, from the C library's headers
sysnr()
{
	printf '#include <sys/syscall.h>\nSYS_%s\n' "$1" |
	    cpp -P - 2>/dev/null | tail -n 1
}

child_pid()
{
	pgrep -P "$BRIDGED_PID" -f "^bridged: $1\$" | head -n 1
}

# inject: PROC SYSCALL ARGS...: make child PROC call SYSCALL under gdb
inject()
{
	local proc=$1 call=$2 nr pid
	shift 2
	nr=$(sysnr "$call")
	pid=$(child_pid "$proc")
	if [ -z "$pid" ] || [ -z "$nr" ]; then
		echo "no pid ($pid) or syscall number ($nr) for $proc/$call"
		return 1
	fi
	echo "$pid" >"$TESTDIR/victim.pid"
	timeout 60 gdb -nx -batch -p "$pid" \
	    -ex "call (long)syscall($nr, $*)" \
	    >"$TESTDIR/gdb.out" 2>&1
	return 0
}

# after an injection: the child died of SIGSYS, the parent logged it by
# name and restarted it; the daemon lives on
check_killed()
{
	local proc=$1 call=$2 pid i=0
	pid=$(cat "$TESTDIR/victim.pid")
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		tap_fail "$proc: $call kills it" "still alive" \
		    "$(cat "$TESTDIR/gdb.out")"
		bridged_stop >/dev/null 2>&1
		return
	fi
	i=0
	while [ $i -lt 50 ] &&
	    ! grep -q "$proc restarted" "$TESTDIR/bridged.log"; do
		sleep 0.1
		i=$((i + 1))
	done
	if grep -q "$proc (pid $pid) terminated by signal [0-9]* (SYS): sandbox violation" \
	    "$TESTDIR/bridged.log"; then
		tap_ok "$proc: $call is killed by SIGSYS and logged"
	else
		tap_fail "$proc: $call is killed by SIGSYS and logged" \
		    "$(tail -n 5 "$TESTDIR/bridged.log")" \
		    "$(cat "$TESTDIR/gdb.out")"
	fi
	if bridged_alive && grep -q "$proc restarted" "$TESTDIR/bridged.log"
	then
		tap_ok "$proc is restarted after it died; the daemon lives on"
	else
		tap_fail "$proc is restarted after it died; the daemon lives on" \
		    "$(tail -n 5 "$TESTDIR/bridged.log")"
	fi
	bridged_stop >/dev/null 2>&1
	BRIDGED_PID=
}

# a call on host "local", so that its ssh worker runs
use_host()
{
	"$PYTHON" "$MCPCLIENT" -s "$MCP_SOCK" --init --call Bash \
	    '{"command":"true"}' >/dev/null 2>&1
}

if ! command -v gdb >/dev/null; then
	tap_fail "gdb is installed (make deps)"
	tap_end
fi

sshd_start || { tap_fail "sshd starts"; tap_end; }

# which calls to try in which child
cases="
frontend execve 0,0,0
frontend openat -100,0,0,0
frontend socket 2,1,0
ssh_local execve 0,0,0
ssh_local socket 2,1,0
ssh_local connect 0,0,0
logger execve 0,0,0
logger socket 2,1,0
"

# a normal start, and a clean stop, with no trigger anywhere
if bridged_start; then
	tap_ok "daemon starts with every child sandboxed"
	use_host
	sleep 0.5
	for p in frontend "ssh local" logger; do
		pid=$(child_pid "$p")
		if [ -z "$pid" ]; then
			tap_fail "$p is running"
			continue
		fi
		st=/proc/$pid/status
		if grep -q '^Seccomp:[[:space:]]*2' "$st" &&
		    grep -q '^NoNewPrivs:[[:space:]]*1' "$st"; then
			tap_ok "$p: Seccomp 2, NoNewPrivs 1"
		else
			tap_fail "$p: Seccomp 2, NoNewPrivs 1" \
			    "$(grep -E 'Seccomp|NoNewPrivs' "$st")"
		fi
		if [ "$(id -u)" = 0 ]; then
			uid=$(awk '/^Uid:/ { print $2 }' "$st")
			if [ -n "$uid" ] && [ "$uid" != 0 ]; then
				tap_ok "$p: runs as uid $uid, not root"
			else
				tap_fail "$p: runs as a non-zero uid" "uid $uid"
			fi
		fi
	done
	if [ "$(id -u)" = 0 ]; then
		root=$(readlink "/proc/$(child_pid frontend)/root")
		if [ "$root" = "$TESTDIR/empty" ]; then
			tap_ok "frontend's root is its chroot"
		else
			tap_fail "frontend's root is its chroot" "root is $root"
		fi
	fi
	tap_check "clean stop exits 0" bridged_stop
else
	tap_fail "daemon starts with every child sandboxed"
fi

echo "$cases" | while read -r proc call args; do
	[ -n "$proc" ] || continue
	echo "$proc $call $args"
done >"$TESTDIR/cases"

while read -r proc call args; do
	if ! bridged_start; then
		tap_fail "daemon starts for $proc/$call"
		continue
	fi
	use_host
	sleep 0.3
	proc=${proc//_/ }
	if inject "$proc" "$call" "$args"; then
		check_killed "$proc" "$call"
	else
		tap_fail "$proc: $call injected" "$(cat "$TESTDIR/gdb.out" 2>/dev/null)"
		bridged_stop >/dev/null 2>&1
	fi
done <"$TESTDIR/cases"

tap_end
