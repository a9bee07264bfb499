# lib.sh: sourced (bash) by every regress/t-*.sh script.
#
# TAP output:	tap_ok DESC, tap_fail DESC [DETAIL...], tap_skip DESC REASON,
#		tap_check DESC CMD..., tap_run CMD..., tap_diag TEXT, tap_end
# sshd:		sshd_start, sshd_stop, ssh_run CMD... (SSHD_WRAP: a command
#		that runs sshd, e.g. in a mount namespace of its own); a
#		second one: sshd_start2 [ADDRESS [EXTRA-CONFIG-TEXT]], sshd_stop2
#		sftp_server_path (OpenSSH's sftp-server, for SSHD_SFTP wrappers)
# bridged:	bridged_start [EXTRA-CONFIG-TEXT], bridged_stop, bridged_alive
#
# Knobs a test may set before starting: SSHD_MAX_SESSIONS (sshd's
# MaxSessions, default 64; OpenSSH's stock value is 10), SSHD_SFTP (the
# sftp subsystem's command, default internal-sftp), BRIDGED_RUNAS=USER
# (run the daemon as USER with no "user" in its config, as a developer
# running it as themselves would: no chroot, no setuid; its sockets, key
# copy and writable directories go under $TESTDIR/run, owned by USER),
# BRIDGED_FLAGS (more flags for the daemon, e.g. -vv when debugging),
# BRIDGED_LOCAL_EXTRA (more lines for the "local" host's block, e.g. an
# exec allow list),
# SSHD_BASHRC=1 (let the test user's bash read ~/.bashrc, as bash does
# for any command run by sshd; by default the harness sshd stops it: the
# tests measure bridged, not the user's start files, and on the CI image
# root's ~/.bashrc runs "pyenv rehash", whose lock file, left behind by a
# shell the tests kill mid-rehash, makes every later shell wait 60 s).
#
# Directories: $REGRESS_TMP is the directory of one whole run (run.sh sets
# it; a script run by hand makes its own /tmp/bridged-regress.PID and removes
# it again).  The ssh host and user keys are made once per run and kept in
# $REGRESS_TMP/ssh.  Everything else a test makes lives in its own $TESTDIR
# under it, removed when the script exits unless KEEP=1.

REGRESS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP_DIR=$(cd "$REGRESS_DIR/.." && pwd)
: "${BRIDGED:=$TOP_DIR/bridged/bridged}"
: "${BRIDGECTL:=$TOP_DIR/bridgectl/bridgectl}"
: "${PYTHON:=python3}"
MCPCLIENT=$REGRESS_DIR/mcpclient.py
# bridged re-executes itself for its children: it needs an absolute path
_abspath()
{
	case $1 in
	/*)	echo "$1" ;;
	*)	echo "$(cd "$(dirname "$1")" 2>/dev/null && pwd)/$(basename "$1")" ;;
	esac
}
BRIDGED=$(_abspath "$BRIDGED")
BRIDGECTL=$(_abspath "$BRIDGECTL")
export BRIDGED BRIDGECTL PYTHON MCPCLIENT

TEST_NAME=$(basename "$0" .sh)

_tap_n=0
_tap_failed=0
SSHD_PID=
SSHD2_PID=
BRIDGED_PID=
_regress_own_root=

if [ -z "${REGRESS_TMP:-}" ]; then
	REGRESS_TMP=/tmp/bridged-regress.$$
	_regress_own_root=1
fi
export REGRESS_TMP

# /tmp is shared: refuse a run directory someone else made or a symlink
mkdir -p "$REGRESS_TMP" || { echo "not ok 1 - cannot make $REGRESS_TMP"; exit 1; }
if [ -L "$REGRESS_TMP" ] || [ ! -O "$REGRESS_TMP" ]; then
	echo "not ok 1 - $REGRESS_TMP is not ours (symlink or other owner)"
	exit 1
fi
# 0755: when root, bridged's children run as "nobody" and must reach the
# files under it
chmod 0755 "$REGRESS_TMP"

if [ -n "${REGRESS_TESTDIR:-}" ]; then
	# a fixed directory (demo.sh): made by the caller, never removed here
	TESTDIR=$REGRESS_TESTDIR
	mkdir -p "$TESTDIR"
	_regress_keep_testdir=1
else
	TESTDIR=$(mktemp -d "$REGRESS_TMP/$TEST_NAME.XXXXXX") ||
	    { echo "not ok 1 - mktemp in $REGRESS_TMP failed"; exit 1; }
	_regress_keep_testdir=
fi
chmod 0755 "$TESTDIR"
export TESTDIR

# --- TAP -------------------------------------------------------------------

tap_diag()
{
	local a l
	for a in "$@"; do
		[ -n "$a" ] && printf '%s\n' "$a"
	done | while IFS= read -r l; do
		printf '# %s\n' "$l"
	done
}

tap_ok()
{
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $1"
}

tap_fail()
{
	_tap_n=$((_tap_n + 1))
	_tap_failed=$((_tap_failed + 1))
	echo "not ok $_tap_n - $1"
	shift
	[ $# -gt 0 ] && tap_diag "$@"
	return 0
}

tap_skip()
{
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $1 # SKIP ${2:-}"
}

# tap_check DESC CMD...: ok when CMD exits 0.  CMD runs in this shell (so it
# may be a function that changes state, e.g. bridged_stop); its output is
# shown only when it fails.
tap_check()
{
	local desc=$1 rc out=$TESTDIR/.tap_check.out
	shift
	"$@" >"$out" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		tap_ok "$desc"
	else
		tap_fail "$desc" "command: $*" "exit status $rc" \
		    "$(tail -n 20 "$out")"
	fi
	rm -f "$out"
	return $rc
}

# tap_run CMD...: CMD prints TAP lines itself (a python block using
# mcpclient.Tap, a unit binary); pass them through renumbered and count
# them.  A non-zero exit without any "not ok" line is one more failure.
tap_run()
{
	local line rc out=$TESTDIR/.tap_run.out nfail=0 rest
	"$@" >"$out" 2>&1
	rc=$?
	while IFS= read -r line; do
		case $line in
		"not ok" | "not ok "*)
			rest=${line#not ok}
			rest=${rest#"${rest%%[! 0-9]*}"}
			rest=${rest#- }
			_tap_n=$((_tap_n + 1))
			_tap_failed=$((_tap_failed + 1))
			nfail=$((nfail + 1))
			echo "not ok $_tap_n - $rest"
			;;
		"ok" | "ok "*)
			rest=${line#ok}
			rest=${rest#"${rest%%[! 0-9]*}"}
			rest=${rest#- }
			_tap_n=$((_tap_n + 1))
			echo "ok $_tap_n - $rest"
			;;
		1..*)
			;;
		*)
			case $line in
			"#"*)	echo "$line" ;;
			*)	echo "# $line" ;;
			esac
			;;
		esac
	done <"$out"
	rm -f "$out"
	if [ $rc -ne 0 ] && [ $nfail -eq 0 ]; then
		tap_fail "$* exited with status $rc"
	fi
	return $rc
}

# the tail of the daemons' logs, as TAP comments, to explain a failure
_regress_dump_logs()
{
	local f
	for f in "$TESTDIR/bridged.log" "$TESTDIR/log/bridge.log" \
	    "$TESTDIR/sshd.log" "$TESTDIR/sshd2.log"; do
		[ -s "$f" ] || continue
		echo "# --- last 30 lines of $f"
		tail -n 30 "$f" | sed 's/^/#   /'
	done
}

tap_end()
{
	echo "1..$_tap_n"
	if [ $_tap_n -eq 0 ]; then
		echo "# no test case ran"
		exit 1
	fi
	if [ $_tap_failed -gt 0 ]; then
		echo "# $_tap_failed of $_tap_n failed"
		_regress_dump_logs
		exit 1
	fi
	exit 0
}

# --- cleanup ---------------------------------------------------------------

_regress_cleanup()
{
	local rc=$?

	if [ -n "$BRIDGED_PID" ] && kill -0 "$BRIDGED_PID" 2>/dev/null; then
		_regress_kill "$BRIDGED_PID" 10
	fi
	BRIDGED_PID=
	sshd_stop >/dev/null 2>&1
	sshd_stop2 >/dev/null 2>&1
	if [ "${KEEP:-0}" = 1 ]; then
		echo "# KEEP=1: files kept in $TESTDIR"
	elif [ $rc -ne 0 ] || [ "${_tap_failed:-0}" -gt 0 ]; then
		# as README promises: what a failure left is there to read
		echo "# failed: files kept in $TESTDIR"
	elif [ -z "$_regress_keep_testdir" ]; then
		rm -rf "$TESTDIR"
		[ -n "$_regress_own_root" ] && rm -rf "$REGRESS_TMP"
	fi
	return $rc
}
trap _regress_cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# _regress_kill PID SECS: SIGTERM, wait up to SECS, then SIGKILL
_regress_kill()
{
	local pid=$1 secs=${2:-5} i=0

	kill -TERM "$pid" 2>/dev/null || return 0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt $((secs * 10)) ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "# pid $pid ignored SIGTERM for ${secs}s, killing it" >&2
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	return 0
}

# stub_claude_install: $TESTDIR/bin/claude runs regress/stub-claude with
# its state in STUB_STATE ($TESTDIR/claude-state, made here), for a
# delegate block's claude "..."
stub_claude_install()
{
	STUB_STATE=$TESTDIR/claude-state
	mkdir -p "$TESTDIR/bin" "$STUB_STATE" || return 1
	cat >"$TESTDIR/bin/claude" <<EOF
#!/bin/sh
exec $PYTHON '$REGRESS_DIR/stub-claude' --stub-state '$STUB_STATE' "\$@"
EOF
	chmod 0755 "$TESTDIR/bin/claude"
}

# --- sshd ------------------------------------------------------------------

# a TCP port on 127.0.0.1 that nobody listens on right now
free_port()
{
	"$PYTHON" -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
'
}

# host and user keys, made once per run; made in a scratch directory and
# renamed into place so a half-made set is never used
_ssh_keys()
{
	local dir=$REGRESS_TMP/ssh tmp

	SSH_DIR=$dir
	[ -f "$dir/.complete" ] && return 0
	rm -rf "$dir"
	tmp=$(mktemp -d "$REGRESS_TMP/.ssh.XXXXXX") || return 1
	if ! ssh-keygen -q -t ed25519 -N '' -C bridged-regress-host \
	    -f "$tmp/host_ed25519" ||
	    ! ssh-keygen -q -t ed25519 -N '' -C bridged-regress-user \
	    -f "$tmp/user_ed25519"; then
		echo "ssh-keygen failed" >&2
		rm -rf "$tmp"
		return 1
	fi
	cp "$tmp/user_ed25519.pub" "$tmp/authorized_keys"
	chmod 0755 "$tmp"
	: >"$tmp/.complete"
	mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"
	[ -f "$dir/.complete" ]
}

# slow_awk SECONDS: $TESTDIR/slowbin/awk, which sleeps SECONDS before it
# runs the real awk when its stdin is a file named slowread*: the awk of a
# Read's slice of a large file, once $TESTDIR/slowbin is first on the
# PATH of a test's sshd (sshd_start2's "SetEnv PATH=..."); any other awk
# (kill_tree's on a pipe) is as fast as ever
slow_awk()
{
	local awk

	awk=$(command -v awk) || return 1
	mkdir -p "$TESTDIR/slowbin" || return 1
	cat >"$TESTDIR/slowbin/awk" <<EOF
#!/bin/sh
case \$(readlink /proc/\$\$/fd/0) in
*/slowread*) sleep $1 ;;
esac
exec $awk "\$@"
EOF
	chmod 755 "$TESTDIR/slowbin/awk"
}

# _sshd_config PORT [ADDRESS HOSTKEY PIDFILE [EXTRA]]: EXTRA comes first,
# so its settings win (sshd takes the first value of a keyword);
# SSHD_LOGLEVEL (default VERBOSE) is the log level
# the path of OpenSSH's sftp-server, for a test's own SFTP subsystem in
# front of it (SSHD_SFTP); nothing when there is none
sftp_server_path()
{
	local p
	for p in /usr/lib/openssh/sftp-server /usr/libexec/openssh/sftp-server \
	    /usr/libexec/sftp-server /usr/lib/ssh/sftp-server; do
		[ -x "$p" ] && { echo "$p"; return 0; }
	done
	return 1
}

_sshd_config()
{
	cat <<EOF
# written by regress/lib.sh for one test
${5:-}
ListenAddress ${2:-127.0.0.1}
Port $1
HostKey ${3:-$SSH_DIR/host_ed25519}
PidFile ${4:-$TESTDIR/sshd.pid}
AuthorizedKeysFile $SSH_DIR/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
AllowUsers $SSH_USER
LogLevel ${SSHD_LOGLEVEL:-VERBOSE}
Subsystem sftp ${SSHD_SFTP:-internal-sftp}
AllowTcpForwarding yes
GatewayPorts no
X11Forwarding no
PrintMotd no
UseDNS no
MaxSessions ${SSHD_MAX_SESSIONS:-64}
MaxStartups 100
EOF
	# bash reads ~/.bashrc when run by sshd only at SHLVL 1
	if [ -z "${SSHD_BASHRC:-}" ]; then
		echo "SetEnv SHLVL=1"
	fi
}

# sshd's absolute path (it re-executes itself and insists on one)
_sshd_path()
{
	local sshd

	sshd=$(command -v sshd || { [ -x /usr/sbin/sshd ] &&
	    echo /usr/sbin/sshd; })
	case $sshd in
	/*)	echo "$sshd" ;;
	*)	echo "sshd not found (install openssh-server)" >&2
		return 1 ;;
	esac
}

# start a private sshd on 127.0.0.1; exports SSHD_PORT SSHD_PID SSH_USER
# SSH_USER_KEY SSH_KNOWN_HOSTS SSH_HOST_KEY_PUB
sshd_start()
{
	local sshd port try i cfg=$TESTDIR/sshd_config

	if [ -n "$SSHD_PID" ] && kill -0 "$SSHD_PID" 2>/dev/null; then
		return 0
	fi
	sshd=$(_sshd_path) || return 1
	_ssh_keys || return 1
	SSH_USER=$(id -un)
	SSH_USER_KEY=$SSH_DIR/user_ed25519
	SSH_HOST_KEY_PUB=$(cut -d' ' -f1,2 "$SSH_DIR/host_ed25519.pub")
	# the privilege separation directory sshd wants when run as root
	if [ "$(id -u)" = 0 ] && [ ! -d /run/sshd ]; then
		mkdir -p /run/sshd && chmod 0755 /run/sshd
	fi

	# a free port can be taken between probe and bind: try a few
	for try in 1 2 3; do
		port=$(free_port) || return 1
		_sshd_config "$port" >"$cfg"
		if ! "$sshd" -t -f "$cfg" >"$TESTDIR/sshd-t.out" 2>&1; then
			echo "sshd -t rejected $cfg:" >&2
			cat "$TESTDIR/sshd-t.out" >&2
			return 1
		fi
		rm -f "$TESTDIR/sshd.pid"
		: >"$TESTDIR/sshd.log"
		# nothing of ours stays open in it: a caller's $(...) would hang;
		# SSHD_WRAP (words, may be empty) runs it, e.g. in a mount
		# namespace of its own (t-writeexec); it must exec sshd
		# shellcheck disable=SC2086  # SSHD_WRAP is words on purpose
		${SSHD_WRAP:-} "$sshd" -D -f "$cfg" -E "$TESTDIR/sshd.log" \
		    </dev/null >>"$TESTDIR/sshd.log" 2>&1 &
		SSHD_PID=$!
		i=0
		while [ $i -lt 50 ]; do
			[ -s "$TESTDIR/sshd.pid" ] && break
			kill -0 "$SSHD_PID" 2>/dev/null || break
			sleep 0.1
			i=$((i + 1))
		done
		if [ -s "$TESTDIR/sshd.pid" ] &&
		    kill -0 "$SSHD_PID" 2>/dev/null; then
			SSHD_PORT=$port
			SSH_KNOWN_HOSTS=$TESTDIR/known_hosts
			echo "[127.0.0.1]:$port $SSH_HOST_KEY_PUB" \
			    >"$SSH_KNOWN_HOSTS"
			export SSHD_PORT SSHD_PID SSH_USER SSH_USER_KEY \
			    SSH_KNOWN_HOSTS SSH_HOST_KEY_PUB
			return 0
		fi
		echo "sshd did not start on port $port (try $try):" >&2
		tail -n 5 "$TESTDIR/sshd.log" >&2
		_regress_kill "$SSHD_PID" 2
		SSHD_PID=
	done
	return 1
}

sshd_stop()
{
	[ -n "$SSHD_PID" ] || return 0
	_regress_kill "$SSHD_PID" 5
	SSHD_PID=
	rm -f "$TESTDIR/sshd.pid"
	return 0
}

# sshd_start2 [ADDRESS [EXTRA]]: a second private sshd (after sshd_start),
# on ADDRESS (default 127.0.0.1; any 127.x.y.z is this machine too), with a
# host key of its own ($TESTDIR/sshd2_host_ed25519) and the same user
# key; EXTRA config lines win over the defaults.  Its files are
# $TESTDIR/sshd2_config, sshd2.pid and sshd2.log.  Exports SSHD2_ADDR
# SSHD2_PORT SSHD2_PID SSHD2_KNOWN_HOSTS SSHD2_HOST_KEY_PUB
sshd_start2()
{
	local sshd port try i addr=${1:-127.0.0.1} extra=${2:-}
	local cfg=$TESTDIR/sshd2_config key=$TESTDIR/sshd2_host_ed25519

	if [ -n "$SSHD2_PID" ] && kill -0 "$SSHD2_PID" 2>/dev/null; then
		return 0
	fi
	[ -n "${SSH_USER:-}" ] || { echo "sshd_start2: sshd_start first" >&2
		return 1; }
	sshd=$(_sshd_path) || return 1
	if [ ! -f "$key" ]; then
		ssh-keygen -q -t ed25519 -N '' -C bridged-regress-host2 \
		    -f "$key" || return 1
	fi
	SSHD2_HOST_KEY_PUB=$(cut -d' ' -f1,2 "$key.pub")
	for try in 1 2 3; do
		port=$(free_port) || return 1
		_sshd_config "$port" "$addr" "$key" "$TESTDIR/sshd2.pid" \
		    "$extra" >"$cfg"
		if ! "$sshd" -t -f "$cfg" >"$TESTDIR/sshd2-t.out" 2>&1; then
			echo "sshd -t rejected $cfg:" >&2
			cat "$TESTDIR/sshd2-t.out" >&2
			return 1
		fi
		rm -f "$TESTDIR/sshd2.pid"
		: >"$TESTDIR/sshd2.log"
		"$sshd" -D -f "$cfg" -E "$TESTDIR/sshd2.log" </dev/null \
		    >>"$TESTDIR/sshd2.log" 2>&1 &
		SSHD2_PID=$!
		i=0
		while [ $i -lt 50 ]; do
			[ -s "$TESTDIR/sshd2.pid" ] && break
			kill -0 "$SSHD2_PID" 2>/dev/null || break
			sleep 0.1
			i=$((i + 1))
		done
		if [ -s "$TESTDIR/sshd2.pid" ] &&
		    kill -0 "$SSHD2_PID" 2>/dev/null; then
			SSHD2_ADDR=$addr
			SSHD2_PORT=$port
			SSHD2_KNOWN_HOSTS=$TESTDIR/known_hosts2
			echo "[$addr]:$port $SSHD2_HOST_KEY_PUB" \
			    >"$SSHD2_KNOWN_HOSTS"
			export SSHD2_ADDR SSHD2_PORT SSHD2_PID \
			    SSHD2_KNOWN_HOSTS SSHD2_HOST_KEY_PUB
			return 0
		fi
		echo "second sshd did not start on $addr port $port" \
		    "(try $try):" >&2
		tail -n 5 "$TESTDIR/sshd2.log" >&2
		_regress_kill "$SSHD2_PID" 2
		SSHD2_PID=
	done
	return 1
}

sshd_stop2()
{
	[ -n "$SSHD2_PID" ] || return 0
	_regress_kill "$SSHD2_PID" 5
	SSHD2_PID=
	rm -f "$TESTDIR/sshd2.pid"
	return 0
}

# ssh options for our sshd: our key only, strict known_hosts, no config
ssh_opts()
{
	echo -F /dev/null -i "$SSH_USER_KEY" -o IdentitiesOnly=yes \
	    -o UserKnownHostsFile="$SSH_KNOWN_HOSTS" \
	    -o GlobalKnownHostsFile=/dev/null -o UpdateHostKeys=no \
	    -o BatchMode=yes -o StrictHostKeyChecking=yes \
	    -o ConnectTimeout=10 -o LogLevel=ERROR \
	    -p "$SSHD_PORT" -l "$SSH_USER"
}

# ssh_run CMD...: run CMD on our sshd (SSH_KNOWN_HOSTS may be overridden
# for one call: SSH_KNOWN_HOSTS=/other ssh_run ...)
ssh_run()
{
	# shellcheck disable=SC2046  # paths made by us, no spaces
	ssh $(ssh_opts) 127.0.0.1 -- "$@"
}

# --- bridged ---------------------------------------------------------------

# _bridged_config EXTRA: the config for a daemon talking to our sshd;
# AUDIT_DB, LOG_FILE and LOG_OPTS (rotate size N keep K) override the
# audit paths
_bridged_config()
{
	if [ "$(id -u)" = 0 ] && [ -z "${BRIDGED_RUNAS:-}" ]; then
		echo 'user "nobody"'
	fi
	cat <<EOF
chroot "$TESTDIR/empty"
socket "$MCP_SOCK"
control socket "$CTL_SOCK"
audit database "${AUDIT_DB:-$TESTDIR/db/audit.db}"
log file "${LOG_FILE:-$TESTDIR/log/bridge.log}"${LOG_OPTS:+ $LOG_OPTS}

host "local" {
	address "127.0.0.1" port $SSHD_PORT
	user "$SSH_USER"
	identity "${BRIDGED_IDENTITY:-$SSH_USER_KEY}"
	known hosts "$SSH_KNOWN_HOSTS"
	base dir "$TESTDIR/base"
	allow read, write, exec${BRIDGED_LOCAL_EXTRA:+
	$BRIDGED_LOCAL_EXTRA}
}
default host "local"
EOF
	if [ -n "${1:-}" ]; then
		printf '%s\n' "$1"
	fi
}

# make the directories and write $TESTDIR/bridged.conf (sshd must be up)
bridged_config()
{
	local run=$TESTDIR

	if [ -n "${BRIDGED_RUNAS:-}" ]; then
		# the daemon itself is USER: it makes its sockets here and
		# reads a key it owns (a private key must not be shared)
		run=$TESTDIR/run
		mkdir -p "$run"
		cp "$SSH_USER_KEY" "$run/id_ed25519"
		chmod 0600 "$run/id_ed25519"
		BRIDGED_IDENTITY=$run/id_ed25519
		export BRIDGED_IDENTITY
	else
		unset BRIDGED_IDENTITY
	fi
	MCP_SOCK=$run/mcp.sock
	CTL_SOCK=$run/ctl.sock
	BRIDGED_CONF=$TESTDIR/bridged.conf
	export MCP_SOCK CTL_SOCK BRIDGED_CONF
	mkdir -p "$TESTDIR/empty" "$TESTDIR/db" "$TESTDIR/log" \
	    "$TESTDIR/base"
	chmod 0755 "$TESTDIR/empty"
	if [ -n "${BRIDGED_RUNAS:-}" ]; then
		chown -R "$BRIDGED_RUNAS" "$run" "$TESTDIR/db" \
		    "$TESTDIR/log" || return 1
	elif [ "$(id -u)" = 0 ]; then
		# when root, the logger runs as nobody and writes these
		chown nobody "$TESTDIR/db" "$TESTDIR/log" 2>/dev/null
	fi
	if [ ${#MCP_SOCK} -ge 100 ]; then
		echo "socket path too long for AF_UNIX: $MCP_SOCK" >&2
		return 1
	fi
	_bridged_config "${1:-}" >"$BRIDGED_CONF"
}

# _sock_ready PATH...: each path is a socket that accepts a connection
_sock_ready()
{
	"$PYTHON" - "$@" <<'EOF'
import socket, sys
for p in sys.argv[1:]:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(1)
        s.connect(p)
    except OSError:
        sys.exit(1)
    finally:
        s.close()
EOF
}

bridged_alive()
{
	[ -n "$BRIDGED_PID" ] && kill -0 "$BRIDGED_PID" 2>/dev/null
}

# bridged_start [EXTRA]: run the daemon in the background against our sshd;
# exports BRIDGED_PID MCP_SOCK CTL_SOCK BRIDGED_CONF
bridged_start()
{
	local i=0

	if [ ! -x "$BRIDGED" ]; then
		echo "$BRIDGED not built (make -C $TOP_DIR/bridged)" >&2
		return 1
	fi
	if [ -z "${SSHD_PORT:-}" ]; then
		sshd_start || return 1
	fi
	bridged_config "${1:-}" || return 1
	rm -f "$MCP_SOCK" "$CTL_SOCK"
	if [ -n "${BRIDGED_RUNAS:-}" ]; then
		# setpriv execs it: BRIDGED_PID is the daemon itself
		setpriv --reuid="$BRIDGED_RUNAS" \
		    --regid="$(id -g "$BRIDGED_RUNAS")" --clear-groups \
		    "$BRIDGED" -d ${BRIDGED_FLAGS:-} -f "$BRIDGED_CONF" </dev/null \
		    >>"$TESTDIR/bridged.log" 2>&1 &
	else
		"$BRIDGED" -d ${BRIDGED_FLAGS:-} -f "$BRIDGED_CONF" </dev/null \
		    >>"$TESTDIR/bridged.log" 2>&1 &
	fi
	BRIDGED_PID=$!
	export BRIDGED_PID
	while [ $i -lt 100 ]; do
		if ! kill -0 "$BRIDGED_PID" 2>/dev/null; then
			wait "$BRIDGED_PID"
			echo "bridged exited with status $? during startup:" >&2
			tail -n 20 "$TESTDIR/bridged.log" >&2
			BRIDGED_PID=
			return 1
		fi
		if [ -S "$MCP_SOCK" ] && [ -S "$CTL_SOCK" ] &&
		    _sock_ready "$MCP_SOCK" "$CTL_SOCK"; then
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	echo "bridged sockets not ready after 10s:" >&2
	tail -n 20 "$TESTDIR/bridged.log" >&2
	return 1
}

# bridged_stop: SIGTERM, wait up to 10s; true only if it exited with 0
bridged_stop()
{
	local pid=$BRIDGED_PID i=0 rc

	[ -n "$pid" ] || { echo "bridged is not running" >&2; return 1; }
	BRIDGED_PID=
	kill -TERM "$pid" 2>/dev/null
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "bridged still running 10s after SIGTERM; killing" >&2
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 1
	fi
	wait "$pid"
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "bridged exited with status $rc" >&2
		tail -n 20 "$TESTDIR/bridged.log" >&2
		return 1
	fi
	return 0
}
