#!/usr/bin/env bash
# t-poolgrow: a host's pool grows without stopping the host's other
# calls, and several connections at once.  The host is reached through a
# TCP relay in front of the test sshd (stock MaxSessions 10) that passes
# its first connection at once and holds every later one for 3 s before
# relaying a byte: each new connection's SSH handshake takes 3 s.  10
# sessions fill the first connection; 20 more at once need two more,
# made together (all answered within 5.5 s; the old pool made them one
# after the other, 6 s and more).  While a fourth is made for one more
# session, the first 10 go on with their Bash calls, each answered
# within 1 s (the old worker blocked in the handshake: every call of the
# host waited the 3 s).  Then a connection the relay never answers holds
# nobody else up, and the call that needed it fails saying why.
# regress-timeout: 180

. "$(dirname "$0")/lib.sh"

SSHD_MAX_SESSIONS=10
sshd_start || { tap_fail "sshd starts"; tap_end; }

RELAY_PORT=$(free_port)
"$PYTHON" - "$RELAY_PORT" "$SSHD_PORT" "$TESTDIR/relay.mode" \
    >"$TESTDIR/relay.log" 2>&1 <<'EOF' &
import socket, sys, threading, time
lport, dport, modef = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", lport))
l.listen(16)

def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

def serve(c, n):
    try:
        mode = open(modef).read().strip()
    except OSError:
        mode = "slow"
    if n > 1:
        if mode == "never":
            time.sleep(3600)	# accepted, never answered
            return
        time.sleep(3)
    u = socket.create_connection(("127.0.0.1", dport))
    for a, b in ((c, u), (u, c)):
        threading.Thread(target=pipe, args=(a, b), daemon=True).start()

n = 0
while True:
    c, _ = l.accept()
    n += 1
    print("connection", n, flush=True)
    threading.Thread(target=serve, args=(c, n), daemon=True).start()
EOF
RELAY_PID=$!
trap 'kill $RELAY_PID 2>/dev/null; _regress_cleanup' EXIT
echo "[127.0.0.1]:$RELAY_PORT $SSH_HOST_KEY_PUB" >"$TESTDIR/known_hosts.relay"

tap_check "bridged starts with a host behind the relay" bridged_start \
    "limits { sessions 64 }
host \"slow\" {
	address \"127.0.0.1\" port $RELAY_PORT
	user \"$SSH_USER\"
	identity \"$SSH_USER_KEY\"
	known hosts \"$TESTDIR/known_hosts.relay\"
	base dir none
	allow exec
	max connections 5
}" || tap_end
export TESTDIR REGRESS_DIR

tap_run "$PYTHON" - <<'EOF'
import os, sys, threading, time
sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client, Tap, result_text

t = Tap()
sock = os.environ["MCP_SOCK"]

def bash(c, cmd, timeout=None):
    a = {"command": cmd, "host": "slow"}
    if timeout:
        a["timeout"] = timeout
    t0 = time.monotonic()
    r = c.call_tool("Bash", a, timeout=60)
    return (time.monotonic() - t0) * 1000.0, r

ten = []
for i in range(10):
    c = Client(socket_path=sock, timeout=60)
    c.initialize()
    ten.append(c)
oks = sum(not bash(c, "echo %d" % i)[1].get("isError")
          for i, c in enumerate(ten))
t.ok(oks == 10, "10 sessions fill the first connection (10 shells)", oks)

# 20 more at once need two connections more: they are made together,
# each in the relay's 3 s (the old pool made one at a time: 6 s)
twenty = []
for i in range(20):
    c = Client(socket_path=sock, timeout=60)
    c.initialize()
    twenty.append(c)
res = {}
def one(k, c):
    res[k] = bash(c, "echo %d" % k)
ths = [threading.Thread(target=one, args=(k, c)) for k, c in
       enumerate(twenty)]
for th in ths:
    th.start()
for th in ths:
    th.join(60)
slow = max(v[0] for v in res.values()) if res else 0
bad = [result_text(v[1]) for v in res.values() if v[1].get("isError")]
t.ok(len(res) == 20 and not bad and 2500 <= slow < 5500, "20 sessions "
     "more: two connections made at once (the slowest call %.0f ms, the "
     "relay's 3 s once)" % slow, bad[:2])

# the next needs a fourth connection, whose handshake takes 3 s
e = Client(socket_path=sock, timeout=60)
e.initialize()
res = {}
th = threading.Thread(target=lambda: res.update(r=bash(e, "echo eleven")))
th.start()
time.sleep(0.3)
worst, n, bad = 0.0, 0, 0
t_end = time.monotonic() + 2.0
while time.monotonic() < t_end:
    for c in ten:
        ms, r = bash(c, "true")
        worst = max(worst, ms)
        n += 1
        bad += bool(r.get("isError"))
th.join(30)
t.ok(n >= 10 and not bad and worst < 1000, "while the fourth connection "
     "is made, the host's other calls go on (%d calls, the slowest %.0f "
     "ms)" % (n, worst), bad)
ms, r = res.get("r", (0, {"isError": True}))
t.ok(not r.get("isError") and "eleven" in result_text(r) and ms >= 2500,
     "the next session's Bash runs on the new connection (%.0f ms: the "
     "relay's 3 s)" % ms, result_text(r))

# a connection that is accepted and never answered: the call that waits
# for it is told why, within the handshake's 10 s, and the others go on
with open(os.path.join(os.environ["TESTDIR"], "relay.mode"), "w") as f:
    f.write("never\n")
more = []
for i in range(10):
    c = Client(socket_path=sock, timeout=60)
    c.initialize()
    more.append(c)
res = {}
def eleven():
    res["r"] = [bash(c, "echo more", 15000) for c in more]
th = threading.Thread(target=eleven)
th.start()
time.sleep(0.5)
ms, r = bash(ten[0], "true")
t.ok(not r.get("isError") and ms < 1000, "a connection never answered "
     "holds nobody else up (%.0f ms)" % ms, result_text(r))
th.join(60)
errs = [result_text(x[1]) for x in res.get("r", []) if x[1].get("isError")]
t.ok(errs and all("handshake" in x or "no free SSH channel" in x
                  for x in errs) and
     max(x[0] for x in res["r"]) < 30000,
     "the calls that needed it fail, saying why (%d: %s)" %
     (len(errs), errs[0][:200] if errs else "none"), errs[:3])
sys.exit(t.done())
EOF

tap_check "bridged is still running" bridged_alive
tap_check "bridged stops cleanly" bridged_stop
tap_end
