#!/usr/bin/env bash
# t-sandbox: each child of a running daemon is killed by SIGSYS when it
# makes a system call outside its allow-list, and the parent says so and
# restarts it.  Beside the calls no child may make at all, the side doors
# of issue 11: fcntl that would signal another process (F_SETOWN,
# F_SETSIG, O_ASYNC), shutdown, O_PATH/readlink/utimensat in the logger,
# and the ssh worker turning a forward's listening socket into an
# outbound TCP connection with sendto(MSG_FASTOPEN).
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
	local proc=$1 call=$2 nr
	shift 2
	nr=$(sysnr "$call")
	if [ -z "$nr" ]; then
		echo "no syscall number for $call" >"$TESTDIR/gdb.out"
		return 1
	fi
	inject_calls "$proc" "(long)syscall($nr, $*)"
}

# inject_calls PROC EXPR...: make child PROC evaluate each EXPR under gdb,
# in order, in one attach (gdb stops at the first that kills it)
inject_calls()
{
	local proc=$1 pid e
	local -a ex=()
	shift
	pid=$(child_pid "$proc")
	if [ -z "$pid" ]; then
		echo "no pid for $proc" >"$TESTDIR/gdb.out"
		return 1
	fi
	# the string literals' bytes go onto the child's stack, below its
	# frame and the frame of the call gdb makes, and each literal becomes
	# their address: a literal of its own gdb would copy into memory it
	# gets from the child's malloc, an inferior call whose return some
	# kernels do not let gdb complete ("Couldn't write extended state
	# status"), and the call under test would never be made
	mapfile -t ex < <("$PYTHON" - "$@" <<'PYEOF'
import codecs, re, sys
n = 0
for e in sys.argv[1:]:
    def place(m):
        global n
        base = 8192 + 256 * n
        n += 1
        b = codecs.decode(m.group(1), "unicode_escape").encode("latin-1")
        for i, c in enumerate(b + b"\0"):
            print("-ex\nset {unsigned char}($sp - %d) = %d" % (base - i, c))
        return "(char *)($sp - %d)" % base
    e = re.sub(r'"((?:[^"\\]|\\.)*)"', place, e)
    print("-ex\ncall " + e)
PYEOF
)
	echo "$pid" >"$TESTDIR/victim.pid"
	timeout 60 gdb -nx -batch -p "$pid" "${ex[@]}" \
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

# which calls to try in which child; fd 3 is each child's socket to the
# parent.  fcntl 8 is F_SETOWN, 10 F_SETSIG, 4 F_SETFL (0x2800: O_ASYNC |
# O_NONBLOCK); openat 0x200000 is O_PATH; 0x20000000 is MSG_FASTOPEN;
# the frontend and ssh workers may shutdown(SHUT_WR) (evhttp, channels),
# so theirs is SHUT_RD.
cases="
frontend execve 0,0,0
frontend openat -100,0,0,0
frontend socket 2,1,0
frontend fcntl 3,8,1
frontend fcntl 3,10,9
frontend fcntl 3,4,0x2800
frontend shutdown 3,0
ssh_local execve 0,0,0
ssh_local socket 2,1,0
ssh_local connect 0,0,0
ssh_local fcntl 3,8,1
ssh_local fcntl 3,10,9
ssh_local fcntl 3,4,0x2800
ssh_local shutdown 3,0
ssh_local sendto 3,\"x\",1,0x20000000,0,0
logger execve 0,0,0
logger socket 2,1,0
logger fcntl 3,8,1
logger fcntl 3,10,9
logger fcntl 3,4,0x2800
logger shutdown 3,1
logger openat -100,\"/etc/passwd\",0x200000
logger readlinkat -100,\"/proc/self/exe\",\"xxxxxxxxxxxxxxxx\",16
logger utimensat -100,\"/etc/passwd\",0,0
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
		check_killed "$proc" "$call($args)"
	else
		tap_fail "$proc: $call injected" "$(cat "$TESTDIR/gdb.out" 2>/dev/null)"
		bridged_stop >/dev/null 2>&1
	fi
done <"$TESTDIR/cases"

# --- a forward's listening socket as a way out (issue 11) -------------------
# The reproduction: shutdown(SHUT_RD) puts the ssh worker's listener of a
# local forward in the closed state, sendto(MSG_FASTOPEN, 127.0.0.1:PORT)
# then connects it -- an outbound connection from a process that may not
# connect.  Each step alone is refused now.

# a listener that notes each connection: the target of the escape
ESC_PORT=$(free_port)
"$PYTHON" - "$ESC_PORT" "$TESTDIR/escape.log" >/dev/null 2>&1 <<'PYEOF' &
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
while True:
    c, a = s.accept()
    with open(sys.argv[2], "a") as f:
        f.write("connection from %s:%d\n" % a)
    c.close()
PYEOF
ESC_PID=$!
trap 'kill $ESC_PID 2>/dev/null; _regress_cleanup' EXIT

FWD_EXTRA="
host \"fwd\" {
	address \"127.0.0.1\" port $SSHD_PORT
	user \"$SSH_USER\"
	identity \"$SSH_USER_KEY\"
	known hosts \"$SSH_KNOWN_HOSTS\"
	base dir none
	allow forward
	forward to \"127.0.0.1\" port $ESC_PORT
	forward persistent
}"

# listen_fd PID PORT: the descriptor in PID of its socket listening on PORT
listen_fd()
{
	local pid=$1 port=$2 inode hex f
	hex=$(printf '%04X' "$port")
	inode=$(awk -v p=":$hex" '$2 ~ p"$" && $4 == "0A" { print $10 }' \
	    "/proc/$pid/net/tcp" | head -n 1)
	[ -n "$inode" ] || return 1
	for f in /proc/"$pid"/fd/*; do
		if [ "$(readlink "$f")" = "socket:[$inode]" ]; then
			basename "$f"
			return 0
		fi
	done
	return 1
}

# a persistent local forward of host "fwd"; prints its listener's fd
open_forward()
{
	local out lport pid
	out=$("$PYTHON" "$MCPCLIENT" -s "$MCP_SOCK" --init --call \
	    forward_open "{\"host\":\"fwd\",\"direction\":\"local\",\"dest_host\":\"127.0.0.1\",\"dest_port\":$ESC_PORT,\"persist\":true}" 2>&1)
	lport=$(printf '%s' "$out" |
	    sed -n 's/.*"listen_port": *\([0-9]*\).*/\1/p' | head -n 1)
	pid=$(child_pid "ssh fwd")
	if [ -z "$lport" ] || [ -z "$pid" ]; then
		echo "no forward: $out" >"$TESTDIR/gdb.out"
		return 1
	fi
	listen_fd "$pid" "$lport"
}

# sin_literal PORT: a sockaddr_in of 127.0.0.1:PORT as a C string for gdb
sin_literal()
{
	printf '"\\002\\000\\%03o\\%03o\\177\\000\\000\\001%s"' \
	    $(($1 >> 8)) $(($1 & 255)) \
	    '\000\000\000\000\000\000\000'
}

nr_shutdown=$(sysnr shutdown)
nr_sendto=$(sysnr sendto)
sin=$(sin_literal "$ESC_PORT")
for how in both sendto; do
	: >"$TESTDIR/escape.log"
	if ! bridged_start "$FWD_EXTRA" || ! fd=$(open_forward); then
		tap_fail "ssh fwd: a forward's listener is found" \
		    "$(cat "$TESTDIR/gdb.out" 2>/dev/null)"
		bridged_stop >/dev/null 2>&1
		continue
	fi
	sendto="(long)syscall($nr_sendto, $fd, \"x\", 1, 0x20000000, $sin, 16)"
	if [ "$how" = both ]; then
		what="shutdown(listener, SHUT_RD), sendto(MSG_FASTOPEN, 127.0.0.1)"
		inject_calls "ssh fwd" "(long)syscall($nr_shutdown, $fd, 0)" \
		    "$sendto"
	else
		what="sendto(listener, MSG_FASTOPEN, 127.0.0.1) alone"
		inject_calls "ssh fwd" "$sendto"
	fi
	sleep 0.5
	if [ -s "$TESTDIR/escape.log" ]; then
		tap_fail "ssh fwd: $what connects nowhere" \
		    "$(cat "$TESTDIR/escape.log")" "$(cat "$TESTDIR/gdb.out")"
	else
		tap_ok "ssh fwd: $what connects nowhere"
	fi
	check_killed "ssh fwd" "$what"
done

tap_end
