#!/usr/bin/env bash
# t-sftpfuzz: a host whose SFTP server lies (sftpfuzz.py: a share of its
# answers flipped, cut short, padded, retyped, renumbered, doubled, with
# huge lengths and counts, or a length prefix that claims more than comes)
# costs its own calls and nothing else.  120 file-tool calls to it
# (Download and Upload among them, on SFTP channels of their own, and Grep
# on an exec channel of its own), then 12 large Writes, Edits, Globs and
# ListDirs of 400 entries (on SFTP channels of their own too), each come back, an answer or an
# error with a message, within their deadline;
# calls to another host in between are answered at once; an SFTP stream
# put out of step (a length that claims more than comes) no longer holds
# the host's worker for good: past the call timeout and the keepalive
# limit the connection is given up (the old code waited in libssh
# forever, and every later call of the host timed out); the daemon, its
# frontend and logger keep their pids, no process of it is killed by a
# signal; and once the host's SFTP server tells the truth again (rate 0)
# its calls work.

. "$(dirname "$0")/lib.sh"

SFTP_SERVER=$(sftp_server_path)
sshd_start || { tap_fail "sshd starts"; tap_end; }
if [ -z "$SFTP_SERVER" ]; then
	tap_skip "no sftp-server binary for the hostile subsystem"
	tap_end
fi
# the rate is read from a file each session, so the test can end the lies
echo 0.1 >"$TESTDIR/rate"
cat >"$TESTDIR/sftp-sub" <<EOF
#!/bin/sh
exec $PYTHON $REGRESS_DIR/sftpfuzz.py $SFTP_SERVER ${FUZZ_SEED:-7} \$(cat $TESTDIR/rate) $TESTDIR/sftpfuzz.log
EOF
chmod +x "$TESTDIR/sftp-sub"
SSHD_SFTP="$TESTDIR/sftp-sub" sshd_start2 127.0.0.1 ||
    { tap_fail "the sshd with the hostile SFTP server starts"; tap_end; }
mkdir -p "$TESTDIR/troot" "$TESTDIR/bbase/d"
for i in 1 2 3; do
	seq 1 2000 >"$TESTDIR/bbase/f$i.txt"
done
head -c 300000 /dev/urandom >"$TESTDIR/bbase/bin.dat"
head -c 200000 /dev/urandom >"$TESTDIR/troot/up.bin"
echo one >"$TESTDIR/bbase/d/a.txt"
# past 256 entries: ListDir lists it on a channel of its own
mkdir -p "$TESTDIR/bbase/wide"
for i in $(seq 1 400); do : >"$TESTDIR/bbase/wide/w$i"; done
mkdir -p "$TESTDIR/base"; echo "kept" >"$TESTDIR/base/kept.txt"
tap_check "bridged starts" bridged_start "transfer root \"$TESTDIR/troot\"
limits { call timeout 3 keepalive 1 count 1 }
host \"bad\" {
	address \"127.0.0.1\" port $SSHD2_PORT
	user \"$SSH_USER\"
	identity \"$SSH_USER_KEY\"
	known hosts \"$SSHD2_KNOWN_HOSTS\"
	base dir \"$TESTDIR/bbase\"
	allow read, write
}" || tap_end
FE_PID=$(pgrep -P "$BRIDGED_PID" -f frontend | head -n 1)
LG_PID=$(pgrep -P "$BRIDGED_PID" -f logger | head -n 1)
export TESTDIR REGRESS_DIR

tap_run "$PYTHON" - <<'EOF'
import os, random, sys, time
sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client, Tap, result_text

t = Tap()
td = os.environ["TESTDIR"]
bb = os.path.join(td, "bbase")
c = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
c.initialize()
r = random.Random(int(os.environ.get("FUZZ_SEED", "7")))


def call(name, args, host="bad"):
    a = dict(args)
    a["host"] = host
    t0 = time.time()
    res = c.call_tool(name, a, timeout=60)
    return res, time.time() - t0


calls = [
    ("Read", lambda: {"file_path": "f%d.txt" % r.randint(1, 3),
                      "offset": r.choice([1, 500, 1990]),
                      "limit": r.choice([5, 100, 2000])}),
    ("Read", lambda: {"file_path": "bin.dat"}),
    ("MultiRead", lambda: {"files": ["f1.txt", "d/a.txt", "nope.txt"]}),
    ("FileStat", lambda: {"paths": ["f1.txt", "d", "nope"]}),
    ("ListDir", lambda: {"path": r.choice([".", "d"])}),
    ("Glob", lambda: {"pattern": r.choice(["*.txt", "**/*"])}),
    ("Grep", lambda: {"pattern": r.choice(["^19", "one"]),
                      "output_mode": r.choice(["content", "count",
                                               "files_with_matches"])}),
    ("Write", lambda: {"file_path": "w%d.txt" % r.randint(1, 4),
                       "content": "w" * r.choice([10, 5000, 100000])}),
    ("Edit", lambda: {"file_path": "d/a.txt", "old_string": "one",
                      "new_string": "one"}),
    ("Download", lambda: {"remote_path": "f2.txt",
                          "local_path": "dl%d" % r.randint(1, 1000),
                          "overwrite": True}),
    ("Upload", lambda: {"local_path": "up.bin",
                        "remote_path": "u%d.bin" % r.randint(1, 3),
                        "overwrite": True}),
]
N = 120
worst = 0.0
bad = []
slow_local = []
for i in range(N):
    name, mk = r.choice(calls)
    args = mk()
    try:
        res, el = call(name, args)
    except Exception as e:	# no answer in 60 s, or the session closed
        bad.append("%s %r: %s" % (name, args, e))
        break
    worst = max(worst, el)
    txt = result_text(res)
    if not txt.strip():
        bad.append("%s %r: an empty result %r" % (name, args, res))
    if el > 30:
        bad.append("%s %r: %.1f s" % (name, args, el))
    if i % 10 == 9:
        res, el = call("Read", {"file_path": os.path.join(td, "base",
                                                          "kept.txt")},
                       host="local")
        if "kept" not in result_text(res) or el > 5:
            slow_local.append("%.1f s: %r" % (el, result_text(res)[:200]))
t.ok(not bad, "%d calls to the lying host: each answered, none empty, "
     "within its deadline (the slowest %.1f s)" % (N, worst), *bad[:10])
t.ok(not slow_local, "the other host's calls in between: answered at once",
     *slow_local[:10])

# the tools that go on channels of their own with their bytes in memory
# (a Write and an Edit of 256 KiB or more), Glob's walk and ListDir's
# listing of a large directory, to the liar
# too: a sequence of their own, the one above left as it was
with open(os.path.join(bb, "big.txt"), "w") as f:
    f.write("toggle-A\n" + ("b" * 99 + "\n") * 3000)
r2 = random.Random(int(os.environ.get("FUZZ_SEED", "7")) + 1000)
big = [
    ("Write", lambda: {"file_path": "wb%d.txt" % r2.randint(1, 3),
                       "content": "W" * r2.choice([300000, 600000])}),
    ("Edit", lambda: {"file_path": "big.txt",
                      "old_string": r2.choice(["toggle-A", "toggle-B"]),
                      "new_string": r2.choice(["toggle-B", "toggle-C"])}),
    ("Glob", lambda: {"pattern": "**/*.txt"}),
    ("ListDir", lambda: {"path": "wide"}),
]
bad = []
worst = 0.0
for i in range(12):
    name, mk = r2.choice(big)
    args = mk()
    try:
        res, el = call(name, args)
    except Exception as e:
        bad.append("%s: %s" % (name, e))
        break
    worst = max(worst, el)
    if not result_text(res).strip():
        bad.append("%s: an empty result %r" % (name, res))
    if el > 30:
        bad.append("%s: %.1f s" % (name, el))
res, el = call("Read", {"file_path": os.path.join(td, "base", "kept.txt")},
               host="local")
t.ok(not bad and "kept" in result_text(res) and el < 5,
     "12 large Writes, Edits, Globs and ListDirs to the lying host: each "
     "answered, "
     "none empty, within its deadline (the slowest %.1f s); the other "
     "host's Read after them took %.1f s" % (worst, el), *bad[:10])
c.close()
t.done()
EOF
log=$TESTDIR/sftpfuzz.log
n=$(grep -cv -e '^session' -e '^none' "$log" 2>/dev/null)
s=$(grep -c '^session' "$log" 2>/dev/null)
if [ "${n:-0}" -ge 20 ] && [ "${s:-0}" -ge 2 ]; then
	kinds=$(grep -v -e '^session' -e '^none' "$log" | sort | uniq -c |
	    awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1 }')
	tap_ok "the server lied ($n answers changed, in $s SFTP sessions: $kinds)"
else
	tap_fail "the server lied (at least 20 answers changed, 2 sessions)" \
	    "$n changed, $s sessions"
fi
if grep -q "the connection was given up" "$TESTDIR/bridged.log"; then
	k=$(grep -c "the connection was given up" "$TESTDIR/bridged.log")
	tap_ok "a file tool that got no answer gave its connection up ($k times)"
else
	tap_fail "a file tool that got no answer gave its connection up"
fi
tap_check "the daemon is still running" bridged_alive
if [ "$(pgrep -P "$BRIDGED_PID" -f frontend | head -n 1)" = "$FE_PID" ] &&
    [ "$(pgrep -P "$BRIDGED_PID" -f logger | head -n 1)" = "$LG_PID" ]; then
	tap_ok "the frontend and the logger are the ones it started"
else
	tap_fail "the frontend and the logger are the ones it started"
fi
if grep -E "terminated by signal" "$TESTDIR/bridged.log" >"$TESTDIR/sig"
then
	tap_fail "no process was killed by a signal" "$(head -n 5 "$TESTDIR/sig")"
else
	tap_ok "no process was killed by a signal"
fi
echo 0 >"$TESTDIR/rate"
# the SFTP sessions it has still lie: they end (a subsystem that dies),
# and the worker opens a truthful one
pkill -f "sftpfuzz.py $SFTP_SERVER" 2>/dev/null
out=$("$PYTHON" - <<'EOF' 2>&1
import os, sys, time
sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client, result_text
c = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
c.initialize()
# the SFTP session it has may be a lying one: the calls go on until one
# made on a truthful session answers (a fresh one comes after an error)
for i in range(20):
    r = c.call_tool("Read", {"file_path": "d/a.txt", "host": "bad"},
                    timeout=60)
    if "one" in result_text(r) and not r.get("isError"):
        print("read-ok after %d" % i)
        break
    time.sleep(0.5)
else:
    print("never:", result_text(r)[:300])
EOF
)
case $out in
read-ok*)	tap_ok "with the lies over, the host's calls work ($out)" ;;
*)		tap_fail "with the lies over, the host's calls work" "$out" ;;
esac
tap_end
