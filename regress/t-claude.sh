#!/bin/bash
# t-claude: the real Claude Code CLI (pinned in regress/node/package.json,
# installed by "make deps") as an MCP client of bridged.  In a scratch
# HOME (nothing of the invoking user's ~/.claude is read or written):
# "claude mcp add --transport http NAME URL --header 'Authorization:
# Bearer ...'" against bridged's HTTP listener with a token client, "claude
# mcp add NAME -- bridgectl mcp SOCK" and "claude mcp add NAME -- bridged
# -i -f CONF"; "claude mcp list" connects to each (its health check needs
# no login and no network) and must print "✔ Connected" for all three,
# and "✘ Failed to connect" (then the reason) for a wrong token: the
# check must be able to fail.  The spawned bridged -i must be gone afterwards.
# regress-timeout: 300

. "$(dirname "$0")/lib.sh"

CLAUDE=$REGRESS_DIR/node/node_modules/.bin/claude
if [ ! -x "$CLAUDE" ]; then
	tap_fail "the pinned Claude Code CLI is installed (run make deps)"
	tap_end
fi
tap_check "claude --version is the pinned one" \
    sh -c '"$0" --version | grep -q "^2\.1\.332 "' "$CLAUDE"

sshd_start || { tap_fail "sshd starts"; tap_end; }
PORT=$(free_port)
TOK=claude-token-0123456789abcdefXYZ
printf '%s\n' "$TOK" >"$TESTDIR/claude.token"
chmod 600 "$TESTDIR/claude.token"
tap_check "bridged starts with an HTTP listener" bridged_start \
    "listen on 127.0.0.1 port $PORT
client \"claude\" { token file \"$TESTDIR/claude.token\" hosts \"local\" }" ||
    tap_end
# bridged -i needs a config of its own: another control socket, no listener
STDIO_CONF=$TESTDIR/stdio.conf
sed -e "s|$CTL_SOCK|$TESTDIR/stdio-ctl.sock|" \
    -e "s|$MCP_SOCK|$TESTDIR/stdio-mcp.sock|" \
    -e '/^listen on/d' -e '/^client /d' "$BRIDGED_CONF" >"$STDIO_CONF"

export HOME=$TESTDIR/home
mkdir -p "$HOME" "$TESTDIR/proj"
cd "$TESTDIR/proj" || tap_end
# no update check, no telemetry: the test must not need the network
export DISABLE_AUTOUPDATER=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1

tap_run timeout 60 "$CLAUDE" mcp add --transport http br-http \
    "http://127.0.0.1:$PORT/mcp" --header "Authorization: Bearer $TOK"
tap_run timeout 60 "$CLAUDE" mcp add --transport http br-wrong \
    "http://127.0.0.1:$PORT/mcp" --header "Authorization: Bearer wrong$TOK"
tap_run timeout 60 "$CLAUDE" mcp add br-ctl -- "$BRIDGECTL" mcp "$MCP_SOCK"
tap_run timeout 60 "$CLAUDE" mcp add br-stdio -- "$BRIDGED" -i -f \
    "$STDIO_CONF"

timeout 120 "$CLAUDE" mcp list >"$TESTDIR/list.out" 2>&1
rc=$?
tap_diag "claude mcp list (exit $rc):"
sed 's/^/#   /' "$TESTDIR/list.out"
for name in br-http br-ctl br-stdio; do
	tap_check "claude mcp list: $name is ✔ Connected" \
	    grep -q "^$name: .* - ✔ Connected\$" "$TESTDIR/list.out"
done
# 2.1.332 says why after the mark: the 401 and bridged's own message
tap_check "claude mcp list: a wrong token is ✘ Failed to connect (401)" \
    grep -q "^br-wrong: .* - ✘ Failed to connect.*HTTP 401.*bearer token" \
    "$TESTDIR/list.out"
tap_check "the root user's ~/.claude was not used: the scratch HOME was" \
    test -f "$HOME/.claude.json"

# bridged -i, spawned for the check, has gone with its session
gone()
{
	local i=0

	while [ $i -lt 200 ]; do
		if ! pgrep -f -- "-i -f $STDIO_CONF" >/dev/null &&
		    [ ! -e "$TESTDIR/stdio-ctl.sock" ]; then
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	pgrep -af -- "-i -f $STDIO_CONF" >&2
	return 1
}
tap_check "the bridged -i that claude spawned has exited" gone
tap_check "the HTTP session's principal is in the audit" \
    sh -c '"$0" -s "$1" show audit 2>/dev/null |
    grep -Eq "\"principal\": ?\"claude\""' \
    "$BRIDGECTL" "$CTL_SOCK"
"$BRIDGECTL" -s "$CTL_SOCK" show audit 2>&1 | tail -n 3 | sed 's/^/#   /'
tap_check "bridged is still running" bridged_alive
tap_check "bridged stops cleanly" bridged_stop
tap_end
