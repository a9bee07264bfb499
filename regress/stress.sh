#!/bin/bash
# stress.sh [RUNS]: run the whole test suite RUNS times (default 3) in a
# row while every core is kept busy by a spinning process of our own, to
# show that no test depends on an idle machine.  Prints each run's last
# line ("N passed, M failed") and ends with a summary; exits non-zero when
# any run failed.  "make stress" runs it.

runs=${1:-3}
ncpu=$(nproc 2>/dev/null || echo 2)
dir=$(cd "$(dirname "$0")" && pwd)
logs=$(mktemp -d /tmp/bridged-stress.XXXXXX) || exit 1
spinners=

stop_spinners()
{
	# shellcheck disable=SC2086  # a list of pids
	[ -n "$spinners" ] && kill $spinners 2>/dev/null
	wait 2>/dev/null
}
trap stop_spinners EXIT
trap 'exit 130' INT TERM

i=0
while [ $i -lt "$ncpu" ]; do
	# a busy loop at the normal priority: the tests compete with it
	sh -c 'while :; do :; done' &
	spinners="$spinners $!"
	i=$((i + 1))
done
echo "stress: $ncpu spinning processes; $runs runs of the suite; logs in $logs"

failed=0
n=1
while [ $n -le "$runs" ]; do
	start=$(date +%s)
	"$dir/run.sh" >"$logs/run-$n.log" 2>&1
	rc=$?
	last=$(tail -n 1 "$logs/run-$n.log")
	echo "stress: run $n: $last ($(($(date +%s) - start)) s, load" \
	    "$(cut -d' ' -f1 /proc/loadavg))"
	[ $rc -eq 0 ] || { failed=$((failed + 1)); \
	    grep '^FAIL' "$logs/run-$n.log" | sort -u; }
	n=$((n + 1))
done
echo "stress: $((runs - failed)) of $runs runs passed"
[ $failed -eq 0 ]
