#!/bin/bash
# t-sdk: real MCP client libraries drive a session through "bridgectl mcp":
# the TypeScript SDK 1.11 client (MCP 2025-03-26, which refuses a server
# that answers a version it does not know) and the SDK v2 client
# (@modelcontextprotocol/client) pinned to 2026-07-28 (server/discover,
# every request carrying its own _meta, no initialize).  The versions are
# pinned in regress/node/package.json and package-lock.json; "make deps"
# installs them (npm ci), and without them this test fails, never skips.
# regress-timeout: 300

. "$(dirname "$0")/lib.sh"

NODE_DIR=$REGRESS_DIR/node
if ! command -v node >/dev/null 2>&1; then
	tap_fail "node is installed (run make deps)"
	tap_end
fi
if [ ! -d "$NODE_DIR/node_modules/@modelcontextprotocol/client" ] ||
    [ ! -d "$NODE_DIR/node_modules/mcp-sdk-1.11" ]; then
	tap_fail "the pinned MCP clients are installed in regress/node" \
	    "(run make deps)"
	tap_end
fi

sshd_start || { tap_fail "sshd starts"; tap_end; }
tap_check "bridged starts" bridged_start "" || tap_end
mkdir -p "$TESTDIR/base"

for which in v1.11 v2; do
	tap_run timeout 120 node "$NODE_DIR/sdk-client.mjs" "$which" \
	    "$BRIDGECTL" "$MCP_SOCK" "$TESTDIR/base"
done

tap_check "bridged is still running" bridged_alive
tap_check "bridged stops cleanly" bridged_stop
tap_end
