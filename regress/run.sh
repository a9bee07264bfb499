#!/bin/bash
# run.sh: run the regress tests and count their TAP lines.
#
#	./run.sh [NAME...]
#
# Runs every built unit test (regress/unit/test_*, executables without .c)
# and then every regress/t-*.sh script, in sorted order, or only those whose
# name matches a NAME (exactly, with or without .sh, or as a shell glob).
# Builds nothing: "make check" builds first.
#
# Each "ok" line is a pass, each "not ok" a failure; "ok ... # SKIP" passes
# and is listed as skipped.  A test that exits non-zero without a "not ok"
# line, prints no TAP line, or times out counts as one more failure.  The
# last line of output is always "N passed, M failed"; exit status 1 when
# M > 0.
#
# Environment: VERBOSE=1 prints every test's whole output (otherwise only
# the last 40 lines of failing ones), REGRESS_TIMEOUT (seconds per test,
# default 300), KEEP=1 keeps $REGRESS_TMP (logs and test files).

cd "$(dirname "$0")" || exit 1

: "${REGRESS_TIMEOUT:=300}"
if [ -z "${REGRESS_TMP:-}" ]; then
	REGRESS_TMP=/tmp/bridged-regress.$$
fi
export REGRESS_TMP
mkdir -p "$REGRESS_TMP/logs" || exit 1
if [ -L "$REGRESS_TMP" ] || [ ! -O "$REGRESS_TMP" ]; then
	echo "run.sh: $REGRESS_TMP is not ours"
	echo "0 passed, 1 failed"
	exit 1
fi
chmod 0755 "$REGRESS_TMP"
LOGS=$REGRESS_TMP/logs

# the tests, in order
all=()
for f in unit/test_*; do
	[ -f "$f" ] && [ -x "$f" ] || continue
	case $f in
	*.c|*.o|*.h|*.dSYM)	continue ;;
	esac
	all+=("$f")
done
for f in t-*.sh; do
	[ -f "$f" ] && all+=("$f")
done

tests=()
nomatch=()
if [ $# -eq 0 ]; then
	tests=("${all[@]}")
else
	for want in "$@"; do
		found=
		for f in "${all[@]}"; do
			name=$(basename "$f" .sh)
			# shellcheck disable=SC2254  # NAME may be a glob
			case $name in
			$want|${want%.sh})
				case " ${tests[*]} " in
				*" $f "*) ;;
				*) tests+=("$f") ;;
				esac
				found=1
				;;
			esac
		done
		[ -n "$found" ] || nomatch+=("$want")
	done
fi

passed=0
failed=0
skipped=()
failures=()
summary=()

for want in "${nomatch[@]}"; do
	failed=$((failed + 1))
	failures+=("$want (no such test)")
	summary+=("$(printf 'FAIL  %-28s no test by that name' "$want")")
done

for f in "${tests[@]}"; do
	name=$(basename "$f" .sh)
	log=$LOGS/$name.log
	start=$SECONDS
	echo "=== $name"
	# a test that needs longer on a loaded machine says so in a line
	# "# regress-timeout: SECONDS" (it never gets less than the default)
	limit=$REGRESS_TIMEOUT
	case $f in
	*.sh)	t=$(sed -n 's/^# regress-timeout: \([0-9][0-9]*\)$/\1/p' \
		    "$f" | head -n 1)
		[ -n "$t" ] && [ "$t" -gt "$limit" ] && limit=$t ;;
	esac
	case $f in
	unit/*)	(cd unit && exec timeout -k 10 "$limit" \
		    "./$(basename "$f")") >"$log" 2>&1 </dev/null ;;
	*)	timeout -k 10 "$limit" bash "./$f" \
		    >"$log" 2>&1 </dev/null ;;
	esac
	rc=$?
	secs=$((SECONDS - start))

	nok=0
	nnot=0
	nskip=0
	while IFS= read -r line; do
		case $line in
		"not ok" | "not ok "*)
			nnot=$((nnot + 1))
			;;
		"ok" | "ok "*)
			nok=$((nok + 1))
			case $line in
			*"# SKIP"* | *"# skip"*)
				nskip=$((nskip + 1))
				skipped+=("$name: ${line#ok }")
				;;
			esac
			;;
		esac
	done <"$log"

	extra=0
	why=
	if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		extra=1
		why="timed out after ${limit}s"
	elif [ $((nok + nnot)) -eq 0 ]; then
		extra=1
		why="no TAP output (exit status $rc)"
	elif [ $rc -ne 0 ] && [ $nnot -eq 0 ]; then
		extra=1
		why="exit status $rc without a failing case"
	elif [ $rc -eq 0 ] && [ $nnot -gt 0 ]; then
		why="exit status 0 despite failures"
	fi

	passed=$((passed + nok))
	failed=$((failed + nnot + extra))
	if [ $((nnot + extra)) -gt 0 ]; then
		status=FAIL
		failures+=("$name")
	else
		status=ok
	fi
	line=$(printf '%-4s  %-28s %3d passed, %d failed' "$status" "$name" \
	    "$nok" $((nnot + extra)))
	[ $nskip -gt 0 ] && line="$line ($nskip skipped)"
	line="$line, ${secs}s"
	[ -n "$why" ] && line="$line: $why"
	summary+=("$line")

	if [ "${VERBOSE:-0}" = 1 ]; then
		cat "$log"
	elif [ "$status" = FAIL ]; then
		echo "--- $name failed${why:+ ($why)}; last 40 lines of $log:"
		tail -n 40 "$log"
		echo "---"
	fi
	echo "$line"
done

echo
echo "=== summary"
for l in "${summary[@]}"; do
	echo "$l"
done
if [ ${#skipped[@]} -gt 0 ]; then
	echo "skipped:"
	for s in "${skipped[@]}"; do
		echo "  $s"
	done
fi
if [ ${#failures[@]} -gt 0 ]; then
	echo "failed: ${failures[*]}"
	echo "logs: $LOGS"
elif [ "${KEEP:-0}" != 1 ]; then
	rm -rf "$REGRESS_TMP"
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
