#!/bin/bash
# t-frozen: a host that stops answering stalls nobody else.  Host
# "frozen" is served by a second sshd, host "ok" by the first; the second
# sshd and its session processes are SIGSTOPped while a Bash and a Read
# are in flight on it.  Meanwhile "ok"'s Bash stays fast (p50 < 50 ms),
# the frozen host's calls end within their timeout + 2 s with a message
# naming the host, and the keepalive that wants a reply declares the
# connection lost.  Thawed, the host works again.

. "$(dirname "$0")/lib.sh"

sshd_start || { tap_fail "sshd starts"; tap_end; }

# a second sshd, for the host that will freeze
sshd2_start()
{
	local sshd i
	sshd=$(command -v sshd || echo /usr/sbin/sshd)
	PORT2=$(free_port)
	_sshd_config "$PORT2" |
	    sed "s|$TESTDIR/sshd.pid|$TESTDIR/sshd2.pid|" >"$TESTDIR/sshd2_config"
	"$sshd" -D -f "$TESTDIR/sshd2_config" -E "$TESTDIR/sshd2.log" \
	    </dev/null >>"$TESTDIR/sshd2.log" 2>&1 &
	SSHD2_PID=$!
	i=0
	while [ $i -lt 50 ] && [ ! -s "$TESTDIR/sshd2.pid" ]; do
		sleep 0.1
		i=$((i + 1))
	done
	echo "[127.0.0.1]:$PORT2 $SSH_HOST_KEY_PUB" >>"$SSH_KNOWN_HOSTS"
	[ -s "$TESTDIR/sshd2.pid" ]
}

# the sshd and every process under it
tree()
{
	local p=$1 c
	echo "$p"
	for c in $(pgrep -P "$p"); do
		tree "$c"
	done
}

if ! tap_check "a second sshd starts" sshd2_start; then
	tap_end
fi
export SSHD2_PID PORT2

cleanup2()
{
	[ -n "$SSHD2_PID" ] || return
	for p in $(tree "$SSHD2_PID"); do
		kill -CONT "$p" 2>/dev/null
	done
	kill "$SSHD2_PID" 2>/dev/null
}
trap 'rc=$?; cleanup2; (exit $rc); _regress_cleanup' EXIT

if ! tap_check "bridged starts" bridged_start "
limits { keepalive 1 count 3
	call timeout 4 }
host \"frozen\" {
	address \"127.0.0.1\" port $PORT2
	user \"$SSH_USER\"
	identity \"$SSH_USER_KEY\"
	known hosts \"$SSH_KNOWN_HOSTS\"
	base dir \"$TESTDIR/base\"
	allow read, write, exec
}"; then
	tap_end
fi

echo hello >"$TESTDIR/base/f.txt"
export REGRESS_DIR TESTDIR BRIDGECTL CTL_SOCK
tap_run "$PYTHON" - <<'EOF'
import json
import os
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client, Tap, result_text

TD = os.environ["TESTDIR"]
t = Tap()


def client():
    c = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
    c.initialize()
    return c


def tree(p):
    out = [p]
    kids = subprocess.run(["pgrep", "-P", str(p)], capture_output=True,
                          text=True).stdout.split()
    for k in kids:
        out += tree(int(k))
    return out


def host_state(name):
    p = subprocess.run([os.environ["BRIDGECTL"], "-s", os.environ["CTL_SOCK"],
                        "-j", "show", "hosts"], capture_output=True,
                       text=True)
    for l in p.stdout.splitlines():
        r = json.loads(l)
        if r["name"] == name:
            return r
    return {}


cf, cr, ck = client(), client(), client()
r = cf.call_tool("Bash", {"command": "echo up", "host": "frozen"})
t.ok(not r.get("isError") and "up" in result_text(r),
     "the second host works before it freezes", r)
r = ck.call_tool("Bash", {"command": "echo up", "host": "local"})
t.ok(not r.get("isError"), "the first host works", r)

frozen = tree(int(os.environ["SSHD2_PID"]))
for p in frozen:
    os.kill(p, 19)          # SIGSTOP
t0 = time.time()
res = {}


def run(key, c, tool, args):
    try:
        res[key] = (c.call_tool(tool, args), time.time() - t0)
    except Exception as e:
        res[key] = (e, time.time() - t0)


tb = threading.Thread(target=run, args=("bash", cf, "Bash", {
    "command": "sleep 30", "host": "frozen", "timeout": 3000}))
tr = threading.Thread(target=run, args=("read", cr, "Read", {
    "file_path": TD + "/base/f.txt", "host": "frozen"}))
tb.start()
tr.start()
time.sleep(0.5)
lat = []
for i in range(20):
    s = time.time()
    r = ck.call_tool("Bash", {"command": "true", "host": "local"})
    lat.append((time.time() - s) * 1000)
    if r.get("isError"):
        break
p50 = statistics.median(lat)
t.ok(len(lat) == 20 and p50 < 50,
     "the healthy host's Bash while the other is frozen: p50 %.1f ms" % p50,
     lat)
tb.join(15)
tr.join(15)
rb, wb = res.get("bash", (None, 99))
t.ok(isinstance(rb, dict) and rb.get("isError") and
     'host "frozen"' in result_text(rb) and wb <= 3 + 2 + 0.5,
     "the frozen host's Bash (timeout 3 s) ends within its timeout + 2 s, "
     "naming the host (%.1f s)" % wb, rb)
rr, wr = res.get("read", (None, 99))
t.ok(isinstance(rr, dict) and rr.get("isError") and
     'host "frozen"' in result_text(rr) and wr <= 4 + 2 + 0.5,
     "the frozen host's Read (call timeout 4 s) ends in time, naming the "
     "host (%.1f s)" % wr, rr)
deadline = time.time() + 25
st = {}
while time.time() < deadline:
    st = host_state("frozen")
    if "not responding" in (st.get("last_error") or ""):
        break
    time.sleep(0.25)
t.ok("not responding" in (st.get("last_error") or ""),
     "the keepalive declares the frozen host lost: not responding", st)
r = ck.call_tool("Bash", {"command": "echo still", "host": "local"})
t.ok(not r.get("isError") and "still" in result_text(r),
     "the healthy host was never affected", r)
for p in frozen:
    try:
        os.kill(p, 18)      # SIGCONT
    except OSError:
        pass
deadline = time.time() + 20
while time.time() < deadline:
    r = cf.call_tool("Bash", {"command": "echo back", "host": "frozen"})
    if not r.get("isError"):
        break
    time.sleep(0.5)
t.ok(not r.get("isError") and "back" in result_text(r),
     "thawed, the host works again (a new connection)", r)
t.done()
EOF

tap_check "bridged stops cleanly" bridged_stop
tap_end
