#!/bin/bash
#
# t-docs.sh: the documentation covers what the code has.  Reads the source
# tree only (no daemon, nothing built):
#
#   - every keyword of parse.y's keyword table is in bridged.conf(5), and
#     its list of reserved words is exactly that table;
#   - every tool of fe_tooltab.c's tool table is in bridged(8) and the README;
#   - every bridgectl command word (parser.c's token tables) is in
#     bridgectl(8), and each "command subcommand" pair as a command;
#   - every flag of bridged's and bridgectl's getopt strings is in their
#     page; bridged's internal -P -H -U -C -L are said to be internal;
#   - mandoc -T lint finds no ERROR, WARNING or STYLE message in the three pages;
#   - the README's source tree names every .c file of bridged/,
#     bridgectl/ and regress/, and every regress/t-*.sh test.
#
# etc/bridged.conf passing "bridged -n" is t-config's job.
#
# Prints TAP lines; exits non-zero when any check failed.

here=$(cd "$(dirname "$0")" && pwd)
top=$here/..
export LC_ALL=C

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
	[ -n "$2" ] && sed 's/^/# /' <<<"$2"
}

skip() {
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
}

# check NAME MISSING: pass when MISSING (one item a line) is empty
check() {
	if [ -z "$2" ]; then
		pass "$1"
	else
		fail "$1" "missing: $(tr '\n' ' ' <<<"$2")"
	fi
}

# words of a C table between the line matching $2 and the next "};"
table_strings() {
	awk -v start="$2" '
		index($0, start) { on = 1; next }
		on && /^};/ { exit }
		on { print }' "$1"
}

# on_macro_line WORD FILE: WORD as a whole word on an mdoc macro line
on_macro_line() {
	grep -E '^\.' "$2" | grep -qwF -- "$1"
}

parse_y=$top/bridged/parse.y
tools_c=$top/bridged/fe_tooltab.c
parser_c=$top/bridgectl/parser.c
bridged_c=$top/bridged/bridged.c
bridgectl_c=$top/bridgectl/bridgectl.c
conf5=$top/man/bridged.conf.5
bridged8=$top/man/bridged.8
bridgectl8=$top/man/bridgectl.8
readme=$top/README

# (a) configuration keywords
kws=$(table_strings "$parse_y" 'keywords[] = {' |
    sed -n 's/^[[:space:]]*{[[:space:]]*"\([^"]*\)".*/\1/p')
if [ "$(wc -w <<<"$kws")" -lt 40 ]; then
	fail "keyword table of parse.y found" "got: $kws"
else
	pass "keyword table of parse.y found ($(wc -w <<<"$kws") keywords)"
fi
# the list of reserved words does not count as documenting them
reserved=$(awk '/^The reserved words are:/ { on = 1; next }
	on && /^\.Ed/ { exit }
	on && /^\.Ic/ { gsub(/^\.Ic |,/, ""); print }' "$conf5" | tr ' ' '\n' |
    sed '/^$/d')
awk '/^The reserved words are:/ { skip = 1 } !skip { print }
	skip && /^\.Ed/ { skip = 0 }' "$conf5" >"${TMPDIR:-/tmp}/t-docs.$$"
missing=
for k in $kws; do
	on_macro_line "$k" "${TMPDIR:-/tmp}/t-docs.$$" ||
	    missing="$missing$k"$'\n'
done
rm -f "${TMPDIR:-/tmp}/t-docs.$$"
check "every config keyword is in bridged.conf.5" "$missing"
if [ "$(sort <<<"$kws")" = "$(sort <<<"$reserved")" ]; then
	pass "bridged.conf.5 lists exactly the reserved words of parse.y"
else
	fail "bridged.conf.5's reserved words differ from parse.y's" \
	    "$(diff <(sort <<<"$kws") <(sort <<<"$reserved") | grep '^[<>]')"
fi

# (b) tools: .name = "x" and REMOTE("x", / JOBTOOL("x", entries
tools=$(table_strings "$tools_c" 'const struct tool tool_table[] = {' |
    sed -n -e 's/^[[:space:]]*\.name = "\([^"]*\)".*/\1/p' \
    -e 's/^[[:space:]]*[A-Z][A-Z_]*("\([^"]*\)".*/\1/p')
if [ "$(wc -w <<<"$tools")" -lt 20 ]; then
	fail "tool table of fe_tooltab.c found" "got: $tools"
else
	pass "tool table of fe_tooltab.c found ($(wc -w <<<"$tools") tools)"
fi
missing=
for t in $tools; do
	on_macro_line "$t" "$bridged8" || missing="$missing$t"$'\n'
done
check "every tool is in bridged.8" "$missing"
missing=
for t in $tools; do
	grep -qwF -- "$t" "$readme" || missing="$missing$t"$'\n'
done
check "every tool is in README" "$missing"

# (c) bridgectl: tables as "name type keyword next" lines
tokens=$(awk '
	match($0, /^static const struct token t_[a-z_]*\[\] = \{/) {
		tab = $0
		sub(/^static const struct token /, "", tab)
		sub(/\[.*/, "", tab)
		next
	}
	tab != "" && /^};/ { tab = ""; next }
	tab != "" && /^[[:space:]]*\{[[:space:]]*(KEYWORD|FLAG),/ {
		line = $0
		sub(/^[[:space:]]*\{[[:space:]]*/, "", line)
		split(line, f, /,[[:space:]]*/)
		kw = f[2]
		gsub(/"/, "", kw)
		nx = f[4]
		sub(/[[:space:]]*\}.*/, "", nx)
		print tab, f[1], kw, nx
	}' "$parser_c")
if ! grep -q '^t_main KEYWORD show ' <<<"$tokens"; then
	fail "token tables of parser.c found" "got: $tokens"
else
	pass "token tables of parser.c found ($(wc -l <<<"$tokens") words)"
fi
missing=
while read -r tab type kw nx; do
	case $type$kw in
	FLAG*|KEYWORD-*)
		grep -qE "(^\.| )Fl ${kw#-}( |$)" "$bridgectl8" ||
		    missing="$missing$kw ($tab)"$'\n' ;;
	*)	on_macro_line "$kw" "$bridgectl8" ||
		    missing="$missing$kw ($tab)"$'\n' ;;
	esac
done <<<"$tokens"
check "every bridgectl word is in bridgectl.8" "$missing"
missing=
while read -r tab type kw nx; do
	[ "$tab" = t_main ] || continue
	subs=$(awk -v t="$nx" '$1 == t && $2 == "KEYWORD" { print $3 }' \
	    <<<"$tokens")
	if [ -z "$subs" ]; then
		grep -qE "^\.(It )?Ic $kw( |$)" "$bridgectl8" ||
		    missing="$missing$kw"$'\n'
		continue
	fi
	for s in $subs; do
		grep -qE "^\.(It )?Ic $kw $s( |$)" "$bridgectl8" ||
		    missing="$missing$kw $s"$'\n'
	done
done <<<"$tokens"
check "every bridgectl command is a command in bridgectl.8" "$missing"

# (d) command line flags
opts=$(sed -n 's/.*getopt(argc, argv, "\([^"]*\)").*/\1/p' "$bridged_c" |
    tr -d ':+')
if [ -z "$opts" ]; then
	fail "getopt string of bridged.c found"
else
	pass "getopt string of bridged.c found (-$opts)"
fi
missing=
for ((i = 0; i < ${#opts}; i++)); do
	o=${opts:i:1}
	grep -qE "(^\.| )Fl $o( |$)" "$bridged8" || missing="$missing-$o"$'\n'
done
check "every bridged flag is in bridged.8" "$missing"
missing=
for o in P H U C L; do
	grep -qE "(^\.| )Fl $o( |$)" "$bridged8" || missing="$missing-$o"$'\n'
	grep -qE "^\.Op Fl [A-Za-z]*$o( |\$)" "$bridged8" &&
	    missing="$missing-$o in SYNOPSIS"$'\n'
done
grep -qiw internal "$bridged8" || missing="${missing}the word internal"$'\n'
check "bridged.8 calls -P -H -U -C -L internal, outside the synopsis" \
    "$missing"
opts=$(sed -n 's/.*getopt(argc, argv, "\([^"]*\)").*/\1/p' "$bridgectl_c" |
    tr -d ':+')
missing=
for ((i = 0; i < ${#opts}; i++)); do
	o=${opts:i:1}
	grep -qE "(^\.| )Fl $o( |$)" "$bridgectl8" ||
	    missing="$missing-$o"$'\n'
done
check "every bridgectl flag ($opts) is in bridgectl.8" "$missing"

# (e) mandoc lint
if ! command -v mandoc >/dev/null 2>&1; then
	skip "mandoc -T lint" "mandoc is not installed"
else
	for page in "$conf5" "$bridged8" "$bridgectl8"; do
		out=$(mandoc -T lint -W style "$page" 2>&1 |
		    grep -v -e 'mandoc\.db' -e 'referenced manual not found' |
		    grep -E 'ERROR|WARNING|UNSUPP|STYLE')
		if [ -z "$out" ]; then
			pass "mandoc -T lint $(basename "$page")"
		else
			fail "mandoc -T lint $(basename "$page")" "$out"
		fi
	done
fi

# (f) quotes render as pairs: a Dq that swallows the rest of its line
# nests the next ones ("30m, "2h, "7d""")
if command -v mandoc >/dev/null 2>&1; then
	for page in "$conf5" "$bridged8" "$bridgectl8"; do
		out=$(mandoc -T utf8 "$page" 2>/dev/null | col -b |
		    grep -n '“[^”]*“')
		if [ -z "$out" ]; then
			pass "no nested quotes in $(basename "$page")"
		else
			fail "no nested quotes in $(basename "$page")" "$out"
		fi
	done
fi

# (g) the README's source tree section
tree=$(awk '/^Source tree and tests$/ { on = 1 } on' "$readme")
if [ -z "$tree" ]; then
	fail "README has a \"Source tree and tests\" section"
else
	pass "README has a \"Source tree and tests\" section"
fi
missing=
for f in "$top"/bridged/*.c "$top"/bridgectl/*.c "$top"/regress/*.c \
    "$top"/regress/*/*.c; do
	[ -f "$f" ] || continue
	b=$(basename "$f")
	case $b in
	parse.c)	continue ;;	# generated from parse.y
	esac
	case $f in
	*/regress/unit/*)	b=${b%.c} ;;	# named as test_x
	esac
	grep -qwF -- "$b" <<<"$tree" || missing="$missing$b"$'\n'
done
for f in "$top"/regress/t-*.sh; do
	b=$(basename "$f" .sh)
	grep -qwF -- "$b" <<<"$tree" || missing="$missing$b"$'\n'
done
check "README's source tree names every .c file and t-*.sh test" \
    "$missing"

echo "1..$n"
[ $failed -eq 0 ]
