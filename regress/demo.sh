#!/bin/bash
# demo.sh ("make run"): bridged in the foreground against a private sshd on
# 127.0.0.1, ready for Claude Code.  Everything lives in a fixed directory
# (/tmp/bridged-run, or /tmp/bridged-run-USER when not root) so the paths
# printed below stay the same from run to run.  Ctrl-C stops bridged; the
# sshd is stopped on the way out.

if [ -z "${BRIDGED_RUN_DIR:-}" ]; then
	if [ "$(id -u)" = 0 ]; then
		BRIDGED_RUN_DIR=/tmp/bridged-run
	else
		BRIDGED_RUN_DIR=/tmp/bridged-run-$(id -un)
	fi
fi
REGRESS_TMP=$BRIDGED_RUN_DIR
REGRESS_TESTDIR=$BRIDGED_RUN_DIR
export REGRESS_TMP REGRESS_TESTDIR

. "$(dirname "$0")/lib.sh"

die()
{
	echo "demo: $*" >&2
	exit 1
}

for p in "$BRIDGED" "$BRIDGECTL"; do
	[ -x "$p" ] || die "$p is not built; run make first"
done

bridged_config_paths()
{
	MCP_SOCK=$TESTDIR/mcp.sock
	CTL_SOCK=$TESTDIR/ctl.sock
}
bridged_config_paths
if [ -S "$MCP_SOCK" ] && _sock_ready "$MCP_SOCK" 2>/dev/null; then
	die "a bridged already serves $MCP_SOCK (another make run?)"
fi
rm -f "$MCP_SOCK" "$CTL_SOCK"

sshd_start || die "cannot start sshd (see $TESTDIR/sshd.log)"
bridged_config "${BRIDGED_DEMO_CONF:-}" || die "cannot write the config"

cat <<EOF

bridged demo: sshd (pid $SSHD_PID) on 127.0.0.1:$SSHD_PORT as $SSH_USER,
host "local" = 127.0.0.1, base dir $TESTDIR/base, allow read, write, exec.
Config: $BRIDGED_CONF

Add it to Claude Code:

    claude mcp add bridge -- $BRIDGECTL mcp $MCP_SOCK

Look at it from another terminal:

    $BRIDGECTL -s $CTL_SOCK show sessions
    $BRIDGECTL -s $CTL_SOCK show hosts

Try the MCP socket by hand:

    $MCPCLIENT --socket $MCP_SOCK --init --call hosts '{}'

Ctrl-C stops bridged and the sshd.

EOF

# say when it serves: a watcher, as bridged itself stays in the
# foreground for Ctrl-C
(
	i=0
	while [ $i -lt 300 ]; do
		if [ -S "$MCP_SOCK" ] && [ -S "$CTL_SOCK" ] &&
		    _sock_ready "$MCP_SOCK" "$CTL_SOCK" 2>/dev/null; then
			echo "bridged ready: MCP socket $MCP_SOCK," \
			    "control socket $CTL_SOCK" >&2
			exit 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	echo "demo: bridged is not serving $MCP_SOCK after 30 s" >&2
) &

# not exec: the EXIT trap in lib.sh must still stop sshd afterwards
"$BRIDGED" -d -f "$BRIDGED_CONF"
rc=$?
echo "bridged exited with status $rc" >&2
exit $rc
