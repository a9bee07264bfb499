#!/usr/bin/env bash
# bench.sh: figures for bridged on this machine, printed, never judged.
# Medians and tails over many runs; the machine is shared and noisy.
#
#   init-to-tools/list	a fresh session each time: connect, initialize,
#			notifications/initialized, tools/list (50 runs)
#   memory		peak RSS (VmHWM) of the four processes, summed; and
#			PSS, which counts shared library pages once
#   Bash true		500 round trips through the full path, beside the
#			same over a raw persistent ssh shell
#   hot paths	(hotbench.py, issue 16) Bash true, Bash of a 2 KB
#			command (ASCII, and with a letter that is not: how
#			bash gets it) and Read of a small
#			file beside a raw ssh shell (sh; bash, cat | bash
#			and the Bash tool's own protocol too: its shell, its
#			watchdog, its marker lines on stdout and stderr) and an
#			fdatasync on the audit disk, interleaved; what three
#			trips between processes cost here (hops.c: a Bash
#			call makes three more than the raw shell, which goes
#			through the ssh client; and on one CPU, where no trip
#			wakes the other CPU); CPU per call, the machine's and
#			each process's, and how often each sleeps, beside
#			the raw shell's; Bash true over HTTP (SSE answers)
#			beside the MCP socket; 1, 2, 4, 8 sessions at once;
#			Bash true with the audit WAL dropped from the page
#			cache every other 10 calls, beside the rounds without;
#			Bash, the raw shell and the fdatasync each after 20 ms
#			idle, beside the same back to back; where a Bash
#			call's time goes, stage by stage (perf), for calls
#			back to back and 20 ms apart; Write over a small
#			file, Edit of it and Write of a new one beside the
#			sftp CLI's put (editbench.py); ListDir of 1000
#			links, FileStat of 200 files and MultiRead of 100
#			beside the sftp CLI's ls -l and get (infobench.py)
#   Reads together	(readbench.py) 10 Reads of small files sent at once
#			beside the same one after another, on our sshd and
#			on one whose SFTP link takes 5 ms each way
#			(sftpslow.py); in `bench.sh bulk'
#   Read		20 lines from the middle of a 100 MB file: bytes
#			in the result and bytes the sshd session wrote
#   10 hosts		memory with 10 hosts connected, a shell on each (one
#			ssh worker process per host); then one more host:
#			what the 11th costs (goals: <= 24 MiB summed PSS for
#			10, <= 1.5 MiB for one more)
#   200 sessions	200 MCP sessions at once, 5 Bash calls each in its
#			persistent shell (20 pooled connections of 10):
#			calls/s, p50, p99, errors
#   forwards, transfers	(bulk) 100 MB through local and reverse forwards
#			beside ssh -L/-R; Upload/Download beside sftp put/get
#			(goals: >= 0.9x); Glob over 10,000 files beside
#			find(1) in a raw ssh shell; another session's Bash on
#			a host during a 12 MB Download and Upload and a Glob
#			of 12 MB of listings over an SFTP link of 4 MB/s,
#			beside the same Bash alone; `bench.sh
#			bulk' runs only these
#			and `bench.sh hot' only the hot paths

. "$(dirname "$0")/../lib.sh"

# the sftp CLI and its options for the private sshd, up to the host: the
# reference for the file tools (no word holds a space)
sftp_cli()
{
	echo sftp -F /dev/null -i "$SSH_USER_KEY" -o IdentitiesOnly=yes \
	    -o UserKnownHostsFile="$SSH_KNOWN_HOSTS" \
	    -o GlobalKnownHostsFile=/dev/null -o BatchMode=yes \
	    -o LogLevel=ERROR -P "$SSHD_PORT" -o User="$SSH_USER" 127.0.0.1
}

mem()
{
	local pid hwm pss rss_total=0 pss_total=0 name
	MEM_PSS=0
	for pid in "$BRIDGED_PID" $(pgrep -P "$BRIDGED_PID"); do
		name=$(tr '\0' ' ' </proc/"$pid"/cmdline | sed 's/[ .]*$//')
		hwm=$(awk '/^VmHWM:/ { print $2 }' /proc/"$pid"/status)
		pss=$(awk '/^Pss:/ { print $2 }' /proc/"$pid"/smaps_rollup)
		printf '  %-20s peak RSS %6d KiB, PSS %6d KiB\n' "$name" \
		    "$hwm" "$pss"
		rss_total=$((rss_total + hwm))
		pss_total=$((pss_total + pss))
	done
	awk -v r="$rss_total" -v p="$pss_total" -v w="$1" 'BEGIN {
		printf "%s: peak RSS summed %.1f MiB, PSS summed %.1f MiB\n",
		    w, r / 1024, p / 1024 }'
	MEM_PSS=$pss_total
}

# hold sessions open on hosts $1 (a,b,...) until fd $2 closes; waits for
# them to be connected
hold()
{
	local fifo=$TESTDIR/hold.$2 i=0
	mkfifo "$fifo"
	"$PYTHON" "$REGRESS_DIR/bench/mcpbench.py" "$MCP_SOCK" hosts "$1" \
	    <"$fifo" >"$TESTDIR/hosts.$2.out" &
	HOLD_PIDS="$HOLD_PIDS $!"
	eval "exec $2>\"\$fifo\""
	while [ $i -lt 600 ] && ! grep -q connected "$TESTDIR/hosts.$2.out"; do
		sleep 0.1
		i=$((i + 1))
	done
	cat "$TESTDIR/hosts.$2.out"
}

# forwards and transfers, 100 MB each, beside OpenSSH on the same sshd
# (issues 7 and 16): local and reverse forwards beside ssh -L and ssh -R,
# Upload and Download beside the sftp CLI's put and get; a daemon of its
# own with a host that allows forwards to the sink and writes
bulk()
{
	local sink fwdhost slow="" sftp
	[ -n "${BRIDGED_PID:-}" ] && bridged_stop
	sink=$(free_port)
	mkdir -p "$TESTDIR/troot"
	# a host whose SFTP link moves 4 MB/s each way (regress/sftpslow.py)
	if sftp=$(sftp_server_path) && SSHD_SFTP="$PYTHON \
	    $REGRESS_DIR/sftpslow.py $sftp 4000000" sshd_start2 127.0.0.1; then
		slow="host \"slowlink\" {
	address \"127.0.0.1\" port $SSHD2_PORT
	user \"$SSH_USER\"
	identity \"$SSH_USER_KEY\"
	known hosts \"$SSHD2_KNOWN_HOSTS\"
	base dir \"$TESTDIR/base\"
	allow read, write, exec
}"
	fi
	fwdhost="$slow
transfer root \"$TESTDIR/troot\"
host \"fwd\" {
	address \"127.0.0.1\" port $SSHD_PORT
	user \"$SSH_USER\"
	identity \"$SSH_USER_KEY\"
	known hosts \"$SSH_KNOWN_HOSTS\"
	base dir \"$TESTDIR/base\"
	allow read, write, forward
	forward to \"127.0.0.1\" port $sink
	forward from remote to \"127.0.0.1\" port $sink
}"
	bridged_start "$fwdhost" ||
	    { echo "bench: bridged did not start" >&2; exit 1; }
	# shellcheck disable=SC2046
	"$PYTHON" "$REGRESS_DIR/bench/fwdbench.py" "$MCP_SOCK" fwd "$sink" \
	    100 ssh $(ssh_opts) 127.0.0.1 || exit 1
	# shellcheck disable=SC2046
	"$PYTHON" "$REGRESS_DIR/bench/xferbench.py" "$MCP_SOCK" fwd \
	    "$TESTDIR/troot" "$TESTDIR/base" 100 $(sftp_cli) || exit 1
	# Glob's walk over SFTP beside find(1) on the host
	# shellcheck disable=SC2046
	"$PYTHON" "$REGRESS_DIR/bench/globbench.py" "$MCP_SOCK" fwd \
	    "$TESTDIR/base" 10 ssh $(ssh_opts) 127.0.0.1 || exit 1
	# what a transfer or a Glob costs the host's other calls
	if [ -n "$slow" ]; then
		"$PYTHON" "$REGRESS_DIR/bench/stallbench.py" "$MCP_SOCK" \
		    slowlink "$TESTDIR/base" "$TESTDIR/troot" 12 || exit 1
		sshd_stop2
	fi
	[ -n "$slow" ] && reads "$sftp"
}

# Reads that come together beside the same one after another, on our
# sshd and on one whose SFTP link takes 5 ms each way (sftpslow.py; a
# daemon of its own with that host)
reads()
{
	bridged_stop
	if ! SSHD_SFTP="$PYTHON $REGRESS_DIR/sftpslow.py $1 1000000000 - 5" \
	    sshd_start2 127.0.0.1; then
		echo "reads: the second sshd did not start"
		return
	fi
	bridged_start "host \"longlink\" {
	address \"127.0.0.1\" port $SSHD2_PORT
	user \"$SSH_USER\"
	identity \"$SSH_USER_KEY\"
	known hosts \"$SSHD2_KNOWN_HOSTS\"
	base dir \"$TESTDIR/base\"
	allow read
}" || { echo "bench: bridged did not start" >&2; exit 1; }
	"$PYTHON" "$REGRESS_DIR/bench/readbench.py" "$MCP_SOCK" 20 \
	    "local:$TESTDIR/base" "longlink:$TESTDIR/base" || exit 1
	sshd_stop2
}

# issue 16: the hot paths beside their references, interleaved in one run;
# then where a Bash call's time goes: syscall tracepoints of the client,
# the frontend, the logger and the worker (perf; skipped without it)
hot()
{
	echo abc >"$TESTDIR/base/small.txt"
	# shellcheck disable=SC2046
	"$PYTHON" "$REGRESS_DIR/bench/hotbench.py" hot "$MCP_SOCK" 500 \
	    "$TESTDIR/base/small.txt" "$TESTDIR/db" ssh $(ssh_opts) 127.0.0.1 ||
	    exit 1
	# Write and Edit of a small file beside the sftp CLI's put
	# shellcheck disable=SC2046
	"$PYTHON" "$REGRESS_DIR/bench/editbench.py" "$MCP_SOCK" local \
	    "$TESTDIR/base" 100 $(sftp_cli) || exit 1
	# the file tools that ask about many paths beside the sftp CLI
	# shellcheck disable=SC2046
	"$PYTHON" "$REGRESS_DIR/bench/infobench.py" "$MCP_SOCK" local \
	    "$TESTDIR/base" 10 $(sftp_cli) || exit 1
	# the floor under bridged's own share: a Bash call makes three trips
	# between processes more than a raw ssh shell (hops.c)
	if ${CC:-cc} -O2 -o "$TESTDIR/hops" "$REGRESS_DIR/bench/hops.c"; then
		"$TESTDIR/hops" 2000
	fi
	# the same over HTTP, answered as SSE streams, beside the socket
	"$PYTHON" "$REGRESS_DIR/bench/hotbench.py" http "$MCP_SOCK" \
	    "$HTTP_PORT" 300 || exit 1
	# what the machine spends of its CPUs a call, and where
	# shellcheck disable=SC2046
	"$PYTHON" "$REGRESS_DIR/bench/hotbench.py" cpu "$MCP_SOCK" 2000 \
	    "$(pgrep -P "$BRIDGED_PID" -f frontend | head -n 1)" \
	    "$(pgrep -P "$BRIDGED_PID" -f logger | head -n 1)" \
	    "$(pgrep -P "$BRIDGED_PID" -f "ssh local" | head -n 1)" \
	    "$TESTDIR/db" ssh $(ssh_opts) 127.0.0.1 || exit 1
	"$PYTHON" "$REGRESS_DIR/bench/hotbench.py" conc "$MCP_SOCK" 3 1 2 4 8 ||
	    exit 1
	# the audit WAL out of the page cache, as after an idle spell
	"$PYTHON" "$REGRESS_DIR/bench/hotbench.py" dropped "$MCP_SOCK" 50 \
	    "$TESTDIR/db" "$TESTDIR/log/bridge.log" || exit 1
	# a call that comes alone, as an agent's do: on a VM whose idle CPUs
	# halt, everything on its path is slower after an idle spell
	# shellcheck disable=SC2046
	"$PYTHON" "$REGRESS_DIR/bench/hotbench.py" cold "$MCP_SOCK" 100 20 \
	    "$TESTDIR/db" ssh $(ssh_opts) 127.0.0.1 || exit 1
	if ! command -v perf >/dev/null 2>&1; then
		echo "stages: perf is not installed"
		return
	fi
	stages 300 0 "back to back"
	stages 150 20 "20 ms apart"
}

# stages N GAP HOW: trace N Bash calls GAP ms apart; where their time goes
stages()
{
	local cl fe lg wk ev e pr
	"$PYTHON" "$REGRESS_DIR/bench/hotbench.py" calls "$MCP_SOCK" "$1" 1.5 \
	    "$2" &
	cl=$!
	sleep 0.5
	fe=$(pgrep -P "$BRIDGED_PID" -f "frontend" | head -n 1)
	lg=$(pgrep -P "$BRIDGED_PID" -f "logger" | head -n 1)
	wk=$(pgrep -P "$BRIDGED_PID" -f "ssh local" | head -n 1)
	ev=""
	for e in enter_sendto exit_recvfrom exit_read enter_sendmsg \
	    exit_recvmsg enter_fdatasync exit_fdatasync; do
		ev="$ev -e syscalls:sys_$e"
	done
	# shellcheck disable=SC2086
	if perf record -q -k mono $ev -p "$cl,$fe,$lg,$wk" \
	    -o "$TESTDIR/perf.data" >/dev/null 2>&1 & then
		pr=$!
		wait "$cl"
		sleep 0.2
		kill -INT "$pr" 2>/dev/null
		wait "$pr"
		perf script -i "$TESTDIR/perf.data" -F pid,time,event \
		    >"$TESTDIR/perf.txt" 2>/dev/null &&
		    "$PYTHON" "$REGRESS_DIR/bench/hotbench.py" stages \
		    "$TESTDIR/perf.txt" "$fe" "$lg" "$wk" "$cl" "$3"
	fi
	wait "$cl" 2>/dev/null
}

sshd_start || { echo "bench: sshd did not start" >&2; exit 1; }
# an HTTP listener for the hot paths over HTTP
HTTP_PORT=$(free_port)
httpconf="listen on 127.0.0.1 port $HTTP_PORT
client \"bench\" { token none port $HTTP_PORT hosts \"local\" }"
# bench.sh bulk: the forwards and transfers alone
if [ "${1:-}" = bulk ]; then
	bulk
	bridged_stop
	exit 0
fi
# bench.sh hot: the hot paths alone
if [ "${1:-}" = hot ]; then
	bridged_start "$httpconf" ||
	    { echo "bench: bridged did not start" >&2; exit 1; }
	hot
	bridged_stop
	exit 0
fi
hosts=""
extra=""
for i in 1 2 3 4 5 6 7 8 9 10 11; do
	extra="$extra
host \"h$i\" {
	address \"127.0.0.1\" port $SSHD_PORT
	user \"$SSH_USER\"
	identity \"$SSH_USER_KEY\"
	known hosts \"$SSH_KNOWN_HOSTS\"
	base dir none
	allow exec
}"
	[ $i -le 10 ] && hosts="$hosts${hosts:+,}h$i"
done
bridged_start "$extra
$httpconf" || { echo "bench: bridged did not start" >&2; exit 1; }

echo "bridged bench, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cpus"
"$PYTHON" "$REGRESS_DIR/bench/mcpbench.py" "$MCP_SOCK" init 50 || exit 1
mem "idle, no host connected"

"$PYTHON" "$REGRESS_DIR/bench/mcpbench.py" "$MCP_SOCK" bash 500 || exit 1
# shellcheck disable=SC2046
"$PYTHON" "$REGRESS_DIR/bench/mcpbench.py" "$MCP_SOCK" raw 500 \
    ssh $(ssh_opts) 127.0.0.1 sh || exit 1

hot

big=$TESTDIR/base/big.txt
"$PYTHON" -c '
import sys
with open(sys.argv[1], "w") as f:
    line = "x" * 99 + "\n"
    f.write(line * (100 * 1024 * 1024 // 100))
' "$big"
sess=$(pgrep -f "^sshd: $SSH_USER" | head -n 1)
before=$(awk '/^wchar:/ { print $2 }' /proc/"$sess"/io 2>/dev/null)
"$PYTHON" "$REGRESS_DIR/bench/mcpbench.py" "$MCP_SOCK" read "$big" || exit 1
after=$(awk '/^wchar:/ { print $2 }' /proc/"$sess"/io 2>/dev/null)
if [ -n "$before" ] && [ -n "$after" ]; then
	echo "  the sshd session process wrote $((after - before)) bytes" \
	    "for it (ssh packets and pipes)"
fi
rm -f "$big"

# a fresh daemon: no worker left from the runs above
bridged_stop
bridged_start "$extra" || { echo "bench: bridged did not start" >&2; exit 1; }
hold "$hosts" 8
mem "10 hosts connected"
pss10=$MEM_PSS
sleep 1
mem "10 hosts connected, again"
[ "$MEM_PSS" -lt "$pss10" ] && pss10=$MEM_PSS
hold h11 9
mem "11 hosts connected"
awk -v a="$pss10" -v b="$MEM_PSS" 'BEGIN {
	printf "one more host (its ssh worker, connection and shell): " \
	    "PSS +%.2f MiB (goal <= 1.5 MiB); 10 hosts: %.1f MiB (goal <= " \
	    "24 MiB)\n", (b - a) / 1024, a / 1024 }'
exec 8>&- 9>&-
# shellcheck disable=SC2086
wait $HOLD_PIDS

bulk

# 200 sessions x 5 Bash over the pool (issue 10): 200 shells at once, on
# an sshd with OpenSSH's stock MaxSessions 10 whose bash skips ~/.bashrc
# (the user's start files are not bridged's figure)
bridged_stop
sshd_stop
SSHD_MAX_SESSIONS=10 sshd_start ||
    { echo "bench: sshd did not start" >&2; exit 1; }
poolhost="limits { sessions 256 }
host \"pool\" {
	address \"127.0.0.1\" port $SSHD_PORT
	user \"$SSH_USER\"
	identity \"$SSH_USER_KEY\"
	known hosts \"$SSH_KNOWN_HOSTS\"
	base dir none
	allow exec
	max connections 30
}"
bridged_start "$poolhost" || { echo "bench: bridged did not start" >&2; exit 1; }
"$PYTHON" "$REGRESS_DIR/bench/poolbench.py" "$MCP_SOCK" 200 5 pool

bridged_stop
exit 0
