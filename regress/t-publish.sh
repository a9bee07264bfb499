#!/bin/bash
# t-publish: "publish port N" makes bridged hold a reverse forward on the
# host from its 127.0.0.1:N to bridged's HTTP listener, with no MCP call
# asking for it.  Through it: initialize + tools/list with a client's
# token, 401 with a wrong one or none.  bridgectl show forwards lists it
# (published, up), neither forward_close nor bridgectl close forward can
# close it, it comes back after the host's connection is dropped, and the
# audit has its open record.  A reload that moves it to a port already
# taken on the host leaves it in a visible error state while the worker
# still serves Bash; freed and reconnected, it comes up there.  A reload
# that removes it closes it.  bridged -n refuses it without listen on.
# regress-timeout: 400

. "$(dirname "$0")/lib.sh"

sshd_start || { tap_fail "sshd starts"; tap_end; }
P1=$(free_port)
PUB=$(free_port)
while [ "$PUB" = "$P1" ]; do PUB=$(free_port); done
PUB2=$(free_port)
while [ "$PUB2" = "$P1" ] || [ "$PUB2" = "$PUB" ]; do PUB2=$(free_port); done
TOK=agent-token-0123456789abcdefXYZ
printf '%s\n' "$TOK" >"$TESTDIR/agent.token"
chmod 600 "$TESTDIR/agent.token"

# pub_conf PORT: the extra config, publishing PORT ("" = no publish line)
pub_conf()
{
	cat <<EOF
forward list all
host "pub" {
	address "127.0.0.1" port $SSHD_PORT
	user "$SSH_USER"
	identity "$SSH_USER_KEY"
	known hosts "$SSH_KNOWN_HOSTS"
	base dir none
	allow read, exec, forward
	${1:+publish port $1}
}
listen on 127.0.0.1 port $P1
client "agent" { token file "$TESTDIR/agent.token" hosts "pub" }
EOF
}

# -n: a publish with no listener to lead to is refused, saying so
cat >"$TESTDIR/nolisten.conf" <<EOF
host "pub" {
	address "127.0.0.1"
	user "$SSH_USER"
	base dir none
	publish port $PUB
}
EOF
if "$BRIDGED" -nn -f "$TESTDIR/nolisten.conf" 2>"$TESTDIR/nolisten.err"; then
	tap_fail "bridged -n refuses publish without listen on"
else
	tap_check "bridged -n refuses publish without listen on, saying so" \
	    grep -q "publish port $PUB needs an HTTP listener" \
	    "$TESTDIR/nolisten.err"
fi

tap_check "bridged starts with a published port" bridged_start \
    "$(pub_conf "$PUB")" || tap_end

export REGRESS_DIR TESTDIR BRIDGECTL CTL_SOCK MCP_SOCK BRIDGED_CONF \
    BRIDGED_PID SSHD_PID PUB PUB2 P1 TOK
tap_run timeout 380 "$PYTHON" - <<'PY'
import http.client, json, os, socket, subprocess, sys, time
sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client, Tap, result_text

t = Tap()
PUB, PUB2, P1 = int(os.environ["PUB"]), int(os.environ["PUB2"]), \
    int(os.environ["P1"])
TOK = os.environ["TOK"]
TD = os.environ["TESTDIR"]


def ctl(*args):
    return subprocess.run([os.environ["BRIDGECTL"], "-s",
                           os.environ["CTL_SOCK"]] + list(args),
                          capture_output=True, text=True, timeout=30)


def published():
    out = ctl("-j", "show", "forwards")
    fw = [json.loads(l) for l in out.stdout.splitlines() if l.strip()]
    return [f for f in fw if f.get("published")]


def wait_for(pred, secs=90):
    """poll until pred() is truthy; generous for a loaded machine"""
    end = time.time() + secs
    v = None
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    return v


def state_is(state, port):
    def pred():
        p = published()
        return p if p and p[0].get("state") == state and \
            p[0].get("listen_port") == port else None
    return pred


H = {"Content-Type": "application/json",
     "Accept": "application/json, text/event-stream"}
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {},
    "clientInfo": {"name": "t-publish", "version": "1"}}}


def post(port, body, token=TOK, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    h = dict(H)
    if token:
        h["Authorization"] = "Bearer " + token
    h.update(headers or {})
    c.request("POST", "/mcp", json.dumps(body), h)
    r = c.getresponse()
    b = r.read().decode()
    c.close()
    return r, b


def body_json(b):
    # a JSON answer, or the data line of an SSE event
    try:
        return json.loads(b)
    except ValueError:
        for l in b.splitlines():
            if l.startswith("data:") and l[5:].strip():
                try:
                    return json.loads(l[5:])
                except ValueError:
                    pass
    return {}


def session_through(port):
    """initialize + initialized + tools/list through port; tool names"""
    r, b = post(port, INIT)
    sid = r.getheader("Mcp-Session-Id") or ""
    if r.status != 200 or not sid:
        return None, (r.status, b)
    S = {"Mcp-Session-Id": sid, "MCP-Protocol-Version": "2025-11-25"}
    post(port, {"jsonrpc": "2.0", "method": "notifications/initialized"},
         headers=S)
    r, b = post(port, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
                headers=S)
    tools = body_json(b).get("result", {}).get("tools", [])
    return [x.get("name") for x in tools], (r.status, b)


def sshd_children():
    out = subprocess.run(["ps", "-o", "pid=", "--ppid",
                          os.environ["SSHD_PID"]], capture_output=True,
                         text=True).stdout
    return [int(p) for p in out.split()]


def drop_connections():
    """kill the sshd processes serving bridged's connections, by pid"""
    pids = sshd_children()
    for p in pids:
        try:
            os.kill(p, 9)
        except ProcessLookupError:
            pass
    return pids


# --- up with no call asking for it ---
p = wait_for(state_is("up", PUB))
t.ok(p, "show forwards: the published port is up without any call", p)
first = p[0] if p else {}
t.ok(first.get("direction") == "remote" and
     first.get("listen") == "127.0.0.1:%d" % PUB and
     first.get("destination") == "127.0.0.1:%d" % P1,
     "it leads from the host's 127.0.0.1:%d to the listener" % PUB, first)
out = ctl("show", "forwards")
t.ok("127.0.0.1:%d -> 127.0.0.1:%d" % (PUB, P1) in out.stdout and
     "published" in out.stdout and "up" in out.stdout,
     "show forwards: the table marks it published, up", out.stdout,
     out.stderr)

# --- an ordinary HTTP client of the listener, through the tunnel ---
names, why = session_through(PUB)
t.ok(names and "Bash" in names,
     "through the published port: initialize + tools/list with the "
     "client's token", why)
r, b = post(PUB, INIT, token="wrong-token-0123456789abcdef")
t.ok(r.status == 401, "through it, a wrong token: 401", (r.status, b))
r, b = post(PUB, INIT, token=None)
t.ok(r.status == 401, "through it, no token: 401", (r.status, b))
fw = wait_for(lambda: [f for f in published() if f.get("total", 0) >= 3])
t.ok(fw, "show forwards counts the connections through it", published())

# --- it belongs to the configuration ---
c = Client(socket_path=os.environ["MCP_SOCK"], timeout=120)
c.initialize()
fid = first.get("id", 0)
r = c.call_tool("forward_close", {"host": "pub", "id": fid})
x = result_text(r)
t.ok(r.get("isError") and "belongs to the configuration" in x,
     "forward_close on it is refused, saying why", x)
out = ctl("close", "forward", str(fid))
t.ok(out.returncode != 0 and "publish port" in out.stdout + out.stderr,
     "bridgectl close forward on it is refused, saying why", out.stdout,
     out.stderr)
t.ok(published() and published()[0].get("id") == fid,
     "it is still there", published())

# --- the audit and the log say it was opened ---
def audit_open():
    try:
        with open(os.path.join(TD, "log", "bridge.log")) as f:
            return [l for l in f if '"published":true' in l and
                    '"event":"open"' in l]
    except OSError:
        return []
t.ok(wait_for(audit_open, 30), "the audit has the forward's open record, "
     "marked published")

# --- the host's connection dropped: it comes back by itself ---
killed = drop_connections()
t.ok(killed, "the sshd serving bridged killed", killed)
p = wait_for(lambda: [f for f in published() if f.get("state") == "up" and
                      f.get("id") != fid])
t.ok(p, "after the connection was dropped the forward is made again "
     "(a new id, up)", published())
names, why = None, None
end = time.time() + 60
while time.time() < end:
    try:
        names, why = session_through(PUB)
    except OSError as e:
        names, why = None, str(e)
    if names:
        break
    time.sleep(0.5)
t.ok(names and "Bash" in names, "a session through it works again", why)

# --- moved by a reload to a port taken on the host ---
taken = socket.socket()
taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
taken.bind(("127.0.0.1", PUB2))
taken.listen(4)
conf = open(os.environ["BRIDGED_CONF"]).read()
open(os.environ["BRIDGED_CONF"], "w").write(
    conf.replace("publish port %d" % PUB, "publish port %d" % PUB2))
out = ctl("reload")
t.ok(out.returncode == 0, "reload moving it to port %d" % PUB2, out.stdout,
     out.stderr)
p = wait_for(state_is("error", PUB2))
t.ok(p and "refused to listen" in p[0].get("error", "") and
     "is the port taken" in p[0].get("error", ""),
     "the port taken on the host: show forwards says error, and why",
     published())
out = ctl("show", "forwards")
t.ok("error" in out.stdout and "127.0.0.1:%d" % PUB2 in out.stdout,
     "the table shows the error", out.stdout)
r = c.call_tool("Bash", {"host": "pub", "command": "echo still-here"})
x = result_text(r)
t.ok(not r.get("isError") and "still-here" in x,
     "the worker still serves Bash", x)
try:
    s = socket.create_connection(("127.0.0.1", PUB), timeout=5)
    s.close()
    gone = False
except OSError:
    gone = True
t.ok(gone, "the old port %d is closed" % PUB)
def audit_error():
    try:
        with open(os.path.join(TD, "log", "bridge.log")) as f:
            return [l for l in f if '"published":true' in l and
                    '"event":"error"' in l]
    except OSError:
        return []
t.ok(wait_for(audit_error, 30), "the refusal is in the audit")

# freed, and the connection re-made: it comes up there
taken.close()
drop_connections()
p = wait_for(state_is("up", PUB2))
t.ok(p, "the port freed and the connection re-made: up on %d" % PUB2,
     published())
names, why = session_through(PUB2) if p else (None, None)
t.ok(names and "Bash" in names, "a session through port %d" % PUB2, why)

# --- removed by a reload: closed ---
conf = open(os.environ["BRIDGED_CONF"]).read()
open(os.environ["BRIDGED_CONF"], "w").write(
    conf.replace("publish port %d" % PUB2, ""))
out = ctl("reload")
t.ok(out.returncode == 0, "reload without publish", out.stdout, out.stderr)
t.ok(wait_for(lambda: not published(), 60) is not None and not published(),
     "show forwards no longer lists it", published())
def closed(port):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.close()
        return False
    except OSError:
        return True
t.ok(wait_for(lambda: closed(PUB2), 60), "port %d on the host is closed"
     % PUB2)
c.close()
sys.exit(t.done())
PY

if bridged_alive; then
	tap_ok "bridged is still running"
else
	tap_fail "bridged is still running"
fi
tap_check "bridged stops cleanly" bridged_stop
tap_end
