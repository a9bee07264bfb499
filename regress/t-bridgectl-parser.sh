#!/usr/bin/env bash
# t-bridgectl-parser: bridgectl's command line without a daemon: unique
# prefixes, ambiguous and unknown words, missing and extra arguments, and
# a clear error (exit 1) when the control or MCP socket is not there.
#
#	t-bridgectl-parser.sh [path/to/bridgectl]

here=$(cd "$(dirname "$0")" && pwd)
BRIDGECTL=${1:-$here/../bridgectl/bridgectl}
export LC_ALL=C

n=0
fails=0
ok()
{
	n=$((n + 1))
	echo "ok $n - $1"
}
notok()
{
	n=$((n + 1))
	fails=$((fails + 1))
	echo "not ok $n - $1"
	[ -s "$T/err" ] && sed 's/^/#   stderr: /' "$T/err"
	[ -s "$T/out" ] && sed 's/^/#   stdout: /' "$T/out"
}

if [ ! -x "$BRIDGECTL" ]; then
	echo "not ok 1 - bridgectl binary $BRIDGECTL is not built"
	exit 1
fi

T=$(mktemp -d "${REGRESS_TMP:-/tmp}/t-bridgectl-parser.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
NOSOCK=$T/nonexistent.sock

# run ARGS...: bridgectl's status in $rc, its output in $T/out, $T/err
run()
{
	timeout 20 "$BRIDGECTL" "$@" >"$T/out" 2>"$T/err" </dev/null
	rc=$?
}

# has FILE STRING...: every STRING occurs in FILE
has()
{
	local f=$1 s
	shift
	for s in "$@"; do
		grep -qF -- "$s" "$f" || return 1
	done
	return 0
}

connect_msg="bridgectl: connect $NOSOCK: No such file or directory (is bridged running?)"

# A word the parser accepted reaches connect(), which fails here.
parsed()
{
	local what=$1
	shift
	run -s "$NOSOCK" "$@"
	if [ $rc -eq 1 ] && has "$T/err" "$connect_msg" &&
	    ! has "$T/err" "valid commands/args:"; then
		ok "$what"
	else
		notok "$what (exit $rc)"
	fi
}

parsed "full words: show sessions" show sessions
parsed "unique prefixes: sh ses" sh ses
parsed "unique prefixes: s h" s h
parsed "unique prefixes: rel" rel
parsed "unique prefixes: l v" l v
parsed "full words: log brief" log brief
parsed "-j is accepted" -j show hosts
parsed "show sessions all" show sessions all
parsed "show delegations all since 2h -j" show delegations all since 2h -j
parsed "unique prefixes: sh del a" sh del a
parsed "show sessions since a date" show sessions since 2024-05-06

run -s "$NOSOCK" show sessions since
if [ $rc -eq 1 ] && has "$T/err" "missing argument" "<time>"; then
	ok "since without a time"
else
	notok "since without a time (exit $rc)"
fi

run -s "$NOSOCK" show delegations since sometime
if [ $rc -eq 1 ] && has "$T/err" "since sometime: give a date" &&
    ! has "$T/err" "connect"; then
	ok "a bad since time is refused before connecting"
else
	notok "a bad since time is refused before connecting (exit $rc)"
fi

run -s "$NOSOCK" show hosts all
if [ $rc -eq 1 ] && has "$T/err" "superfluous argument: all"; then
	ok "all only after sessions and delegations"
else
	notok "all only after sessions and delegations (exit $rc)"
fi

run -s "$NOSOCK" ""
if [ $rc -eq 1 ] && has "$T/err" "ambiguous argument" \
    "show, reload, log, mcp" "usage:"; then
	ok "ambiguous prefix lists the candidates"
else
	notok "ambiguous prefix lists the candidates (exit $rc)"
fi

run -s "$NOSOCK" frobnicate
if [ $rc -eq 1 ] && has "$T/err" "unknown argument: frobnicate" \
    "valid commands/args:" "  show" "  reload" "  log" "  mcp" "usage:"; then
	ok "unknown command lists the valid commands"
else
	notok "unknown command lists the valid commands (exit $rc)"
fi

run -s "$NOSOCK" show frob
if [ $rc -eq 1 ] && has "$T/err" "unknown argument: frob" \
    "valid commands/args:" "  sessions" "  hosts"; then
	ok "unknown show argument lists sessions and hosts"
else
	notok "unknown show argument lists sessions and hosts (exit $rc)"
fi

run -s "$NOSOCK" show
if [ $rc -eq 1 ] && has "$T/err" "missing argument" \
    "valid commands/args:" "  sessions" "  hosts" "usage:"; then
	ok "missing argument after show"
else
	notok "missing argument after show (exit $rc)"
fi

run -s "$NOSOCK" log
if [ $rc -eq 1 ] && has "$T/err" "missing argument" "  verbose" "  brief"
then
	ok "missing argument after log"
else
	notok "missing argument after log (exit $rc)"
fi

run -s "$NOSOCK"
if [ $rc -eq 1 ] && has "$T/err" "missing argument" "  show" "usage:"; then
	ok "no command at all"
else
	notok "no command at all (exit $rc)"
fi

run -s "$NOSOCK" reload now
if [ $rc -eq 1 ] && has "$T/err" "superfluous argument: now" \
    "valid commands/args:"; then
	ok "extra argument is refused"
else
	notok "extra argument is refused (exit $rc)"
fi

run -x show sessions
if [ $rc -eq 1 ] && has "$T/err" "unknown option -x" "usage:"; then
	ok "unknown option"
else
	notok "unknown option (exit $rc)"
fi

run -s
if [ $rc -eq 1 ] && has "$T/err" "option -s needs an argument"; then
	ok "-s without its argument"
else
	notok "-s without its argument (exit $rc)"
fi

run -s "$NOSOCK" show hosts
if [ $rc -eq 1 ] && [ "$(cat "$T/err")" = "$connect_msg" ] &&
    [ ! -s "$T/out" ]; then
	ok "no control socket: exact message, exit 1"
else
	notok "no control socket: exact message, exit 1 (exit $rc)"
fi

run mcp "$NOSOCK"
if [ $rc -eq 1 ] && has "$T/err" "connect $NOSOCK" && [ ! -s "$T/out" ]; then
	ok "mcp on a missing socket: exit 1, stdout empty"
else
	notok "mcp on a missing socket: exit 1, stdout empty (exit $rc)"
fi

parsed "-j after reload" reload -j
parsed "-j after log rotate" log rotate -j
parsed "-j after kill session ID" kill session 3 -j
parsed "show log -n 0 (as tail -n 0)" show log -f -n 0
parsed "show audit outcome timeout" show audit outcome timeout
parsed "verify SEQ:HASH -j" verify 3:abc -j

run -s "$NOSOCK" show audit outcome bogus
if [ $rc -eq 1 ] && has "$T/err" "outcome bogus: not an outcome" \
    "ok, error, timeout, cancelled, refused" && ! has "$T/err" "connect"
then
	ok "an unknown outcome word is refused, naming the accepted ones"
else
	notok "an unknown outcome word is refused (exit $rc)"
fi

run -s "$NOSOCK" show audit session 0
if [ $rc -eq 1 ] && has "$T/err" "session 0"; then
	ok "session 0 is still refused"
else
	notok "session 0 is still refused (exit $rc)"
fi

run -h
if [ $rc -eq 0 ] && has "$T/out" "usage: bridgectl" "show audit" \
    "verify [database PATH]" && [ ! -s "$T/err" ]; then
	ok "-h: usage and the commands on stdout, exit 0"
else
	notok "-h: usage and the commands on stdout, exit 0 (exit $rc)"
fi

run -V
if [ $rc -eq 0 ] && grep -qx "bridgectl [0-9][0-9.]*" "$T/out"; then
	ok "-V prints the version"
else
	notok "-V prints the version (exit $rc)"
fi

BRIDGED_BIN=$(dirname "$BRIDGECTL")/../bridged/bridged
if [ -x "$BRIDGED_BIN" ]; then
	timeout 20 "$BRIDGED_BIN" -V >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc -eq 0 ] && grep -qx "bridged [0-9][0-9.]*" "$T/out"; then
		ok "bridged -V prints the version"
	else
		notok "bridged -V prints the version (exit $rc)"
	fi
	timeout 20 "$BRIDGED_BIN" -h >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc -eq 0 ] && has "$T/out" "usage: bridged" && [ ! -s "$T/err" ]
	then
		ok "bridged -h prints its usage, exit 0"
	else
		notok "bridged -h prints its usage, exit 0 (exit $rc)"
	fi
fi

run verify database "$T/nonexistent.db"
if [ $rc -eq 1 ] && has "$T/err" "nonexistent.db" && ! has "$T/err" "connect"
then
	ok "verify database PATH needs no daemon"
else
	notok "verify database PATH needs no daemon (exit $rc)"
fi

run mcp "$NOSOCK" extra
if [ $rc -eq 1 ] && has "$T/err" "superfluous argument: extra"; then
	ok "mcp takes one socket at most"
else
	notok "mcp takes one socket at most (exit $rc)"
fi

echo "1..$n"
[ $fails -eq 0 ]
