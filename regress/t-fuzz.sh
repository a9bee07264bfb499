#!/usr/bin/env bash
# t-fuzz: hostile input on the MCP socket and the HTTP listener (fuzz.py):
# thousands of mutated JSON-RPC messages of every method and tool, text
# cut short or with bytes flipped, invalid UTF-8, ids of every type,
# batches; HTTP requests with mangled methods, paths, tokens, session
# ids, lengths and chunked bodies.  The same seeds every run (FUZZ_SEED
# adds one).  The daemon and its children stay up, with the same pids;
# every answer is JSON-RPC with a code and a message; pings are answered
# throughout; afterwards a Read works and the audit chain verifies.  The
# host lets no program run (exec allow { }) and its files are confined to
# the test's base dir, so what the fuzz asks for cannot reach further.

. "$(dirname "$0")/lib.sh"

sshd_start || { tap_fail "sshd starts"; tap_end; }
HTTP_PORT=$(free_port)
TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$TOKEN" >"$TESTDIR/fuzz.token"
chmod 600 "$TESTDIR/fuzz.token"
mkdir -p "$TESTDIR/troot" "$TESTDIR/base/sub"
echo fuzz >"$TESTDIR/base/fuzz.txt"
# a file the fuzz does not name (it may write those it does)
KEPT=kept-$$-$RANDOM.txt
echo "kept $KEPT" >"$TESTDIR/base/$KEPT"
echo a >"$TESTDIR/base/sub/a.txt"
BRIDGED_LOCAL_EXTRA="exec allow { }" tap_check "bridged starts" \
    bridged_start "transfer root \"$TESTDIR/troot\"
listen on 127.0.0.1 port $HTTP_PORT
client \"fuzz\" { token file \"$TESTDIR/fuzz.token\" port $HTTP_PORT hosts \"local\" }" ||
    tap_end
tap_check "the host lets no program run" \
    grep -q "exec allow { }" "$TESTDIR/bridged.conf"

# fuzz DESC ARGS...: one run of fuzz.py; its summary lines as diagnostics
fuzz()
{
	local desc=$1 out=$TESTDIR/fuzz.out rc
	shift
	timeout 600 "$PYTHON" "$REGRESS_DIR/fuzz.py" "$@" >"$out" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		tap_ok "$desc"
		tap_diag "$(tail -n 2 "$out")"
	else
		tap_fail "$desc" "exit status $rc" "$(tail -n 30 "$out")"
	fi
}

kids()
{
	pgrep -P "$BRIDGED_PID" | sort | tr '\n' ' '
}
# the host's worker starts with the first call to it
"$PYTHON" "$MCPCLIENT" --socket "$MCP_SOCK" --init \
    --call Read "{\"file_path\": \"$TESTDIR/base/fuzz.txt\"}" >/dev/null
before=$(kids)

for seed in 1 2 3 4 ${FUZZ_SEED:-}; do
	fuzz "the MCP socket, seed $seed: 4000 messages, every answer JSON-RPC, every ping answered" \
	    "$MCP_SOCK" "$seed" 4000
done
fuzz "the HTTP listener, seed ${FUZZ_SEED:-1}: 400 requests, every answer an HTTP status, every JSON one JSON-RPC, initialize and ping answered" \
    --http "$HTTP_PORT" "$TOKEN" "${FUZZ_SEED:-1}" 400

tap_check "the daemon is still running" bridged_alive
after=$(kids)
if [ "$before" = "$after" ]; then
	tap_ok "its children are the ones it had ($after)"
else
	tap_fail "its children are the ones it had" "before: $before" \
	    "after: $after"
fi
if grep -E "terminated by signal|exited with status|restart" \
    "$TESTDIR/bridged.log" >"$TESTDIR/deaths" 2>&1; then
	tap_fail "no child died or was restarted" "$(head -n 5 "$TESTDIR/deaths")"
else
	tap_ok "no child died or was restarted"
fi
out=$("$PYTHON" "$MCPCLIENT" --socket "$MCP_SOCK" --init \
    --call Read "{\"file_path\": \"$TESTDIR/base/$KEPT\"}" 2>&1)
case $out in
*"kept $KEPT"*)	tap_ok "a Read afterwards works" ;;
*)	tap_fail "a Read afterwards works" "$out" ;;
esac
tap_check "the audit chain verifies after it all" \
    "$BRIDGECTL" -s "$CTL_SOCK" verify
tap_end
