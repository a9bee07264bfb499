#!/usr/bin/env bash
# t-pool: a host's pool of SSH connections against a test sshd with
# OpenSSH's stock MaxSessions 10.  200 MCP sessions with a persistent
# shell each need 20 connections and get them; with "max connections 1"
# the 11th session's Bash waits for a channel and fails naming the knobs
# to raise, or runs once another session ends; with "max sessions 20"
# above sshd's 10 the refused channels go on a second connection, and
# when that one dies only the shells on it are reset.

. "$(dirname "$0")/lib.sh"

SSHD_MAX_SESSIONS=10
sshd_start || { tap_fail "sshd starts"; tap_end; }

pool_host()
{
	cat <<EOF
host "$1" {
	address "127.0.0.1" port $SSHD_PORT
	user "$SSH_USER"
	identity "$SSH_USER_KEY"
	known hosts "$SSH_KNOWN_HOSTS"
	base dir none
	allow exec
	$2
}
EOF
}

extra="limits { sessions 256 }
$(pool_host many 'max connections 30')
$(pool_host one 'max connections 1')
$(pool_host big 'max sessions 20')"
tap_check "daemon starts with three pooled hosts" bridged_start "$extra"

# --- max connections 1, max sessions 10 --------------------------------------
cat >"$TESTDIR/one.py" <<'EOF'
import os, sys, time
sys.path.insert(0, os.path.dirname(os.environ["MCPCLIENT"]))
from mcpclient import Client, Tap, result_text

t = Tap()
sock = os.environ["MCP_SOCK"]
ten = []
for i in range(10):
    c = Client(socket_path=sock, timeout=120)
    c.initialize()
    ten.append(c)
oks = 0
for i, c in enumerate(ten):
    r = c.call_tool("Bash", {"command": "echo %d" % i, "host": "one"})
    oks += not r.get("isError")
t.ok(oks == 10, "10 sessions fill the one connection's 10 sessions", oks)

c11 = Client(socket_path=sock, timeout=120)
c11.initialize()
t0 = time.time()
r = c11.call_tool("Bash", {"command": "echo eleven", "host": "one",
                           "timeout": 3000})
x = result_text(r)
t.ok(r.get("isError") and "no free SSH channel" in x and
     "1 connection" in x and '"max connections"' in x and
     '"max sessions"' in x and 'host "one"' in x and "MaxSessions" in x,
     "the 11th session's Bash waits, then fails naming the limits", x)
t.ok(time.time() - t0 >= 2.5, "it waited for its own timeout (3 s)",
     time.time() - t0)
r = ten[0].call_tool("Bash", {"command": "echo still", "host": "one"})
t.ok(not r.get("isError") and result_text(r).endswith("still\nexit status: 0"),
     "the 10 shells go on meanwhile", r)

# the 11th waits again; one session ends and its channel is freed
rid = c11.new_id()
c11.send({"jsonrpc": "2.0", "id": rid, "method": "tools/call",
          "params": {"name": "Bash", "arguments": {
              "command": "echo eleven", "host": "one", "timeout": 100000}}})
time.sleep(0.5)
ten.pop().close()
resp = c11.wait_response(rid, 120)
x = result_text(resp.get("result", {}))
t.ok(not resp.get("result", {}).get("isError") and
     x.endswith("eleven\nexit status: 0"),
     "once another session ends, the waiting Bash runs", resp)
r = c11.call_tool("hosts", {})
h = [h for h in r.get("structuredContent", {}).get("hosts", [])
     if h.get("name") == "one"]
t.ok(h and h[0].get("connections") == 1 and h[0].get("channels", 0) >= 10,
     "hosts: one connection, its channels in use", h)
for c in ten + [c11]:
    c.close()
sys.exit(t.done())
EOF
tap_run "$PYTHON" "$TESTDIR/one.py"

# --- max sessions 20 against sshd's 10 ---------------------------------------
cat >"$TESTDIR/big.py" <<'EOF'
import os, sys, threading
sys.path.insert(0, os.path.dirname(os.environ["MCPCLIENT"]))
from mcpclient import Client, Tap, result_text

t = Tap()
sock = os.environ["MCP_SOCK"]
cs, res = [], [None] * 15
for i in range(15):
    c = Client(socket_path=sock, timeout=120)
    c.initialize()
    cs.append(c)

def run(i):
    r = cs[i].call_tool("Bash", {"command": "echo b%d" % i, "host": "big"})
    res[i] = result_text(r) if not r.get("isError") else "ERROR " + \
        result_text(r)

th = [threading.Thread(target=run, args=(i,)) for i in range(15)]
for x in th:
    x.start()
for x in th:
    x.join(120)
good = sum(1 for i, x in enumerate(res)
           if x and x.endswith("b%d\nexit status: 0" % i))
t.ok(good == 15, "15 shells with max sessions 20: sshd's refusals go to"
     " another connection", *[x for x in res if not x or x.startswith("ERR")])
r = cs[0].call_tool("hosts", {})
h = [h for h in r.get("structuredContent", {}).get("hosts", [])
     if h.get("name") == "big"]
t.ok(h and h[0].get("connections") == 2, "hosts: big has 2 connections", h)

# one connection dies: only the shells on it are reset; its sshd is the
# parent of the shell's session's first process (the shell runs behind
# the watchdog, ssh_killtree.c, not under sshd)
SSHD = "$(ps -o ppid= -p $(ps -o sid= -p $$))"
ppid = {}
for i, c in enumerate(cs):
    r = c.call_tool("Bash", {"command": "export X=b%d; echo " % i + SSHD,
                             "host": "big"})
    ppid[i] = result_text(r).split("\n")[0]
groups = sorted(set(ppid.values()))
t.ok(len(groups) == 2, "the shells are on two sshd connections", ppid)
victim = [i for i in range(15) if ppid[i] == ppid[0]]
r = cs[0].call_tool("Bash", {"command": "kill -9 " + SSHD, "host": "big"})
t.ok(r.get("isError") and "was lost" in result_text(r),
     "killing one connection's sshd fails the call on it", r)
reset = intact = 0
bad = []
for i, c in enumerate(cs):
    r = c.call_tool("Bash", {"command": "echo ${X:-unset}", "host": "big"})
    x = result_text(r)
    if i in victim and x.startswith("warning: the connection to host"
                                    " \"big\" was lost and re-made") and \
            x.endswith("unset\nexit status: 0"):
        reset += 1
    elif i not in victim and x == "b%d\nexit status: 0" % i:
        intact += 1
    else:
        bad.append((i, x))
t.ok(reset == len(victim) and intact == 15 - len(victim),
     "its %d shells start anew with a warning, the other %d keep their"
     " state" % (len(victim), 15 - len(victim)), *bad)
for c in cs:
    c.close()
sys.exit(t.done())
EOF
tap_run "$PYTHON" "$TESTDIR/big.py"

# --- 200 sessions x 5 Bash (last: ending 200 sessions means 400 kills) ---
out=$("$PYTHON" "$REGRESS_DIR/bench/poolbench.py" "$MCP_SOCK" 200 5 many \
    2>&1)
rc=$?
tap_diag "$out"
if [ $rc -eq 0 ] && grep -q '1000 calls in .* 0 errors' <<<"$out"; then
	tap_ok "200 concurrent sessions x 5 Bash: every call answered, no error"
else
	tap_fail "200 concurrent sessions x 5 Bash: every call answered, no error" \
	    "$out"
fi
conns=$(sed -n 's/.*host many: \([0-9-]*\) connections.*/\1/p' <<<"$out")
if [ -n "$conns" ] && [ "$conns" -ge 20 ] && [ "$conns" -le 30 ]; then
	tap_ok "the pool grew to $conns connections (200 shells, 10 a connection)"
else
	tap_fail "the pool grew to 20..30 connections" "connections: '$conns'"
fi

tap_check "bridged is still running" bridged_alive
if grep -q 'terminated by signal' "$TESTDIR/bridged.log"; then
	tap_fail "no child died" "$(grep 'terminated by signal' \
	    "$TESTDIR/bridged.log")"
else
	tap_ok "no child died"
fi
tap_check "bridged stops cleanly" bridged_stop
tap_end
