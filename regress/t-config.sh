#!/bin/bash
#
# t-config.sh: golden tests of the configuration language.
#
#   regress/t-config.sh [path/to/bridged]
#
# conf/N.conf      "bridged -nnv [N.args] -f N.conf" must print N.ok on
#                  stdout and succeed; that printout must parse again and
#                  print itself (round trip).
# conf/bad-N.conf  "bridged -nn [bad-N.args] -f bad-N.conf" must fail and
#                  print exactly bad-N.err on stderr, nothing on stdout.
# conf/warn-N.conf "bridged -nn -f warn-N.conf" must succeed and print
#                  exactly warn-N.err (its warnings, if any, and
#                  "configuration OK") on stderr, nothing on stdout.
# etc/bridged.conf must pass "bridged -nn" (its files are not here).
#
# Prints TAP lines; exits non-zero when any case failed.

here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../bridged/bridged}
case $bin in
/*)	;;
*)	bin=$PWD/$bin ;;
esac

if [ ! -x "$bin" ]; then
	echo "not ok 1 - no bridged binary at $bin (build it first)"
	echo "1..1"
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/t-config.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

n=0
failed=0

pass() {
	n=$((n + 1))
	echo "ok $n - $1"
}

fail() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	# the reason, as TAP comments
	[ -n "$2" ] && sed 's/^/# /' <<<"$2"
}

# extra command line arguments of a case, one word per blank-separated field
case_args() {
	args=()
	[ -f "$1" ] && read -r -a args <"$1"
}

cd "$here/conf" || exit 1

for conf in $(ls [0-9]*.conf | sort -n); do
	t=${conf%.conf}
	case_args "$t.args"
	"$bin" -nnv "${args[@]}" -f "$conf" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 0 ]; then
		fail "$conf: -nv exits $rc" "$(cat "$tmp/err")"
		continue
	fi
	if [ ! -f "$t.ok" ]; then
		fail "$conf: no $t.ok"
		continue
	fi
	if d=$(diff -u "$t.ok" "$tmp/out"); then
		pass "$conf: -nv prints $t.ok"
	else
		fail "$conf: -nv differs from $t.ok" "$d"
		continue
	fi

	# the printout is itself a config that prints the same
	cp "$tmp/out" "$tmp/rt.conf"
	"$bin" -nnv -f "$tmp/rt.conf" >"$tmp/rt.out" 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 0 ]; then
		fail "$conf: printout does not parse (exit $rc)" \
		    "$(cat "$tmp/err")"
	elif d=$(diff -u "$tmp/out" "$tmp/rt.out"); then
		pass "$conf: printout parses back to the same config"
	else
		fail "$conf: round trip differs" "$d"
	fi
done

for conf in $(ls bad-*.conf | sort -t- -k2 -n); do
	t=${conf%.conf}
	case_args "$t.args"
	"$bin" -nn "${args[@]}" -f "$conf" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -eq 0 ]; then
		fail "$conf: -n accepts a bad config"
	elif [ -s "$tmp/out" ]; then
		fail "$conf: output on stdout" "$(cat "$tmp/out")"
	elif [ ! -f "$t.err" ]; then
		fail "$conf: no $t.err"
	elif d=$(diff -u "$t.err" "$tmp/err"); then
		pass "$conf: rejected with $t.err"
	else
		fail "$conf: errors differ from $t.err" "$d"
	fi
done

for conf in $(ls warn-*.conf | sort -t- -k2 -n); do
	t=${conf%.conf}
	"$bin" -nn -f "$conf" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 0 ]; then
		fail "$conf: -n exits $rc" "$(cat "$tmp/err")"
	elif [ -s "$tmp/out" ]; then
		fail "$conf: output on stdout" "$(cat "$tmp/out")"
	elif [ ! -f "$t.err" ]; then
		fail "$conf: no $t.err"
	elif d=$(diff -u "$t.err" "$tmp/err"); then
		pass "$conf: accepted, $t.err on stderr"
	else
		fail "$conf: stderr differs from $t.err" "$d"
	fi
done

# the documented example must stay valid, and round-trip too
example=$here/../etc/bridged.conf
"$bin" -nn -f "$example" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 0 ] && grep -q "configuration OK" "$tmp/out" "$tmp/err"; then
	pass "etc/bridged.conf passes -n"
else
	fail "etc/bridged.conf fails -n (exit $rc)" "$(cat "$tmp/err")"
fi
"$bin" -nnv -f "$example" >"$tmp/out" 2>/dev/null
cp "$tmp/out" "$tmp/rt.conf"
if "$bin" -nnv -f "$tmp/rt.conf" >"$tmp/rt.out" 2>/dev/null &&
    diff -q "$tmp/out" "$tmp/rt.out" >/dev/null; then
	pass "etc/bridged.conf printout parses back to the same config"
else
	fail "etc/bridged.conf round trip differs"
fi

# a missing config file is an error, not an empty config
if "$bin" -n -f "$tmp/nonexistent.conf" >/dev/null 2>"$tmp/err"; then
	fail "missing config file accepted"
else
	pass "missing config file rejected"
fi

# -D without "=" is refused
if "$bin" -n -D novalue -f 1.conf >/dev/null 2>&1; then
	fail "-D without = accepted"
else
	pass "-D without = rejected"
fi

echo "1..$n"
[ $failed -eq 0 ]
