#!/usr/bin/env bash
# bench.sh: figures for bridged on this machine, printed, never judged.
# Medians and tails over many runs; the machine is shared and noisy.
#
#   init-to-tools/list: connect, initialize, notifications/initialized,
#	tools/list, over a fresh session each time (50 runs)
#   peak RSS: VmHWM of the parent and its three children, summed

. "$(dirname "$0")/../lib.sh"

sshd_start || { echo "bench: sshd did not start" >&2; exit 1; }
bridged_start || { echo "bench: bridged did not start" >&2; exit 1; }

echo "bridged bench, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cpus"
"$PYTHON" "$REGRESS_DIR/bench/mcpbench.py" "$MCP_SOCK" init 50 || exit 1

rss_total=0
for pid in "$BRIDGED_PID" $(pgrep -P "$BRIDGED_PID"); do
	name=$(tr '\0' ' ' </proc/"$pid"/cmdline | sed 's/[ .]*$//' | cut -c1-24)
	hwm=$(awk '/^VmHWM:/ { print $2 }' /proc/"$pid"/status)
	printf '  peak RSS %-24s %6d KiB\n' "$name" "$hwm"
	rss_total=$((rss_total + hwm))
done
awk -v k="$rss_total" 'BEGIN { printf "peak RSS, 4 processes summed: %d KiB (%.1f MiB)\n", k, k / 1024 }'

bridged_stop
exit 0
