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
# Then "bridged -n" on a config whose users, group, keys, known hosts
# and transfer root are made here, wrong in every way it checks, must
# print each message at its line; -nn must accept it; fixed, -n too.
# So must a relay allow for a group that does not exist.
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

# --- what -n checks on this machine, and -nn does not -------------------------
L=$tmp/local
mkdir -p "$L"
ssh-keygen -q -t ed25519 -N '' -C good -f "$L/good"
ssh-keygen -q -t ed25519 -N 'a secret' -C pass -f "$L/pass"
cp "$L/good" "$L/open"
chmod 0644 "$L/open"
echo "no key in here" >"$L/junk"
chmod 0600 "$L/junk"
PUB=$(cut -d' ' -f1,2 "$L/good.pub")
{ echo "# our hosts"; echo "[10.0.0.1]:2222,other $PUB"; } >"$L/kh"
# lhost NAME IDENTITY-LINE KNOWN-LINE [ADDRESS]: a host block
lhost()
{
	printf 'host "%s" {\n\taddress "%s" port 2222\n\tuser "u"\n' \
	    "$1" "${4:-10.0.0.1}"
	printf '\t%s\n\t%s\n\tbase dir none\n}\n' "$2" "$3"
}
{
	echo 'user "no-such-user-bridged"'
	echo "socket \"$L/mcp.sock\" mode 0660 group \"no-such-group-bridged\""
	echo "transfer root \"$L/notthere\""
	lhost good "identity \"$L/good\"" "known hosts \"$L/kh\""
	lhost missing "identity \"$L/nokey\"" "known hosts \"$L/kh\""
	lhost open "identity \"$L/open\"" "known hosts \"$L/kh\""
	lhost junk "identity \"$L/junk\"" "known hosts \"$L/kh\""
	lhost pass "identity \"$L/pass\"" "known hosts \"$L/kh\""
	lhost noid "" "known hosts \"$L/kh\""
	lhost nokh "identity \"$L/good\"" "known hosts \"$L/kh\"" 10.0.0.2
	lhost pinned "identity \"$L/good\"" "host key \"$PUB\"" 10.0.0.2
	lhost neither "identity \"$L/good\"" "" 10.0.0.2
	lhost nofile "identity \"$L/good\"" "known hosts \"$L/nokh\""
} >"$L/local.conf"
cat >"$L/local.err" <<EOF
$L/local.conf:14: identity "$L/nokey" does not exist: make a key without a passphrase (ssh-keygen -t ed25519 -N '' -f $L/nokey) and add its .pub to the remote authorized_keys
$L/local.conf:21: identity "$L/open" is accessible by others (mode 644): chmod 600 $L/open
$L/local.conf:28: identity "$L/junk" is not a private key libssh can read (an OpenSSH or PEM private key, not the .pub)
$L/local.conf:35: identity "$L/pass" is protected by a passphrase, which bridged cannot give: remove it (ssh-keygen -p -N '' -f $L/pass)
$L/local.conf:39: host "noid" has no identity: give identity "/path/to/private_key"
$L/local.conf:50: known hosts "$L/kh" has no key for [10.0.0.2]:2222: add it (ssh-keyscan -p 2222 10.0.0.2 >> $L/kh, and check the key's fingerprint) or pin it with host key
$L/local.conf:60: host "neither" has neither known hosts nor host key: its key could not be checked; give known hosts "/path/to/known_hosts"
$L/local.conf:71: known hosts "$L/nokh": No such file or directory: make it (ssh-keyscan -p 2222 10.0.0.1 > $L/nokh, and check the key's fingerprint)
$L/local.conf:1: user "no-such-user-bridged" does not exist: create it (useradd --system --no-create-home --shell /usr/sbin/nologin no-such-user-bridged) or name another with user
$L/local.conf:2: socket group "no-such-group-bridged" does not exist: create it (groupadd --system no-such-group-bridged) or name another
$L/local.conf:3: transfer root "$L/notthere": No such file or directory: create it (mkdir -p $L/notthere)
EOF
"$bin" -n -f "$L/local.conf" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 0 ]; then
	fail "-n accepts users, keys and known hosts that do not work"
elif d=$(diff -u "$L/local.err" "$tmp/err"); then
	pass "-n names each user, group, key, known hosts and directory that would fail, and what to do"
else
	fail "-n: local check messages differ" "$d"
fi
if "$bin" -nn -f "$L/local.conf" >/dev/null 2>"$tmp/err"; then
	pass "-nn checks the file alone"
else
	fail "-nn looks beyond the file" "$(cat "$tmp/err")"
fi
# relay allow for group: -n resolves the group as start-up and a reload
# do, so an unknown one is an error at its line; -nn leaves it be
{
	echo 'user "nobody"'
	echo 'relay allow "t:*" for group "root" { receive }'
	echo 'relay allow "u:*" for group "no-such-group-bridged" { send }'
} >"$L/rgroup.conf"
echo "$L/rgroup.conf:3: relay allow: group \"no-such-group-bridged\" does not exist: create it (groupadd no-such-group-bridged) or name another" >"$L/rgroup.err"
"$bin" -n -f "$L/rgroup.conf" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 0 ]; then
	fail "-n accepts relay allow for an unknown group"
elif d=$(diff -u "$L/rgroup.err" "$tmp/err"); then
	pass "-n: relay allow for an unknown group is an error at its line, a known one is not"
else
	fail "-n: relay allow group messages differ" "$d"
fi
if "$bin" -nn -f "$L/rgroup.conf" >/dev/null 2>"$tmp/err"; then
	pass "-nn does not look the relay groups up"
else
	fail "-nn looks relay groups up" "$(cat "$tmp/err")"
fi
# the same hosts made right pass -n
{
	echo 'user "nobody"'
	echo "transfer root \"$L\""
	lhost good "identity \"$L/good\"" "known hosts \"$L/kh\""
	lhost pinned "identity \"$L/good\"" "host key \"$PUB\"" 10.0.0.2
} >"$L/ok.conf"
if "$bin" -n -f "$L/ok.conf" >/dev/null 2>"$tmp/err" &&
    grep -q "configuration OK" "$tmp/err"; then
	pass "-n accepts a key, known hosts and pin that work"
else
	fail "-n refuses a working config" "$(cat "$tmp/err")"
fi

echo "1..$n"
[ $failed -eq 0 ]
