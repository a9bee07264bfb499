#!/usr/bin/env bash
# t-httphot: the hot path over HTTP (issue 16).  A call answered as an SSE
# stream (its head, then its event: two writes) does not wait for the
# client's delayed ACK of the first (TCP_NODELAY, set on the listener and
# inherited by every connection; without it each such call took 40 ms
# more): Bash `true' over HTTP and over the MCP socket alternate, 40 of
# each, and the medians differ by under 25 ms (the ACK timer's 40 ms is
# the same on a slow machine, so a loaded one cannot fail this).
# And over HTTP as over an MCP socket, a call's outcome leaves
# the frontend right after its answer has gone out whole, not with the
# next call's intent or on the 10 ms lazy timer: so the logger inserts
# it while the client reads the answer, and the next intent's commit has
# only itself to insert (issue 16).  Counted in the frontend's strace
# over 60 Bash calls on one keep-alive connection, for answers of plain
# JSON (2026-07-28 requests: the old code held their outcomes) and SSE
# streams (a 2025-11-25 session): after the last write of each answer, a
# message to the logger before the connection is read again.  And every
# call's outcome reaches the database.
# regress-timeout: 180

. "$(dirname "$0")/lib.sh"

sshd_start || { tap_fail "sshd starts"; tap_end; }
PORT=$(free_port)
tap_check "bridged starts with an HTTP listener" bridged_start \
    "listen on 127.0.0.1 port $PORT
client \"open\" { token none port $PORT hosts \"local\" }" || tap_end
export TESTDIR REGRESS_DIR PORT

tap_run "$PYTHON" - <<'EOF'
import http.client, json, os, shutil, sqlite3, subprocess, sys, time
sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Tap

t = Tap()
port = int(os.environ["PORT"])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
H = {"Content-Type": "application/json",
     "Accept": "application/json, text/event-stream"}

def post(body, extra=None):
    h = dict(H)
    h.update(extra or {})
    conn.request("POST", "/mcp", json.dumps(body), h)
    r = conn.getresponse()
    return r, r.read().decode(errors="replace")

ids = [100]

def call(cmd, era):
    """a Bash tools/call on the kept connection: (status, body)"""
    ids[0] += 1
    req = {"jsonrpc": "2.0", "id": ids[0], "method": "tools/call",
           "params": {"name": "Bash", "arguments": {"command": cmd}}}
    if era == "2026-07-28":
        req["params"]["_meta"] = {
            "io.modelcontextprotocol/protocolVersion": era,
            "io.modelcontextprotocol/clientCapabilities": {}}
        h = {"MCP-Protocol-Version": era, "Mcp-Method": "tools/call",
             "Mcp-Name": "Bash"}
    else:
        h = S
    r, b = post(req, h)
    return r.status, b, r.getheader("Content-Type", "")

r, b = post({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {},
    "clientInfo": {"name": "t-httprecords", "version": "1"}}})
S = {"Mcp-Session-Id": r.getheader("Mcp-Session-Id") or "",
     "MCP-Protocol-Version": "2025-11-25"}
post({"jsonrpc": "2.0", "method": "notifications/initialized"}, S)

def fe_pid():
    bp = os.environ["BRIDGED_PID"]
    out = subprocess.run(["pgrep", "-P", bp, "-f", "frontend"],
                         capture_output=True, text=True).stdout.split()
    return int(out[0]) if out else None

calls = 0
for era, form in (("2026-07-28", "application/json"),
                  ("2025-11-25", "text/event-stream")):
    st, b, ct = call("echo http-records-ok", era)
    calls += 1
    t.ok(st == 200 and "http-records-ok" in b and ct.startswith(form),
         "a Bash call of %s is answered (%s)" % (era, form), (st, ct, b[:300]))
    what = ("%s: a call's outcome goes to the logger right after its "
            "answer" % era)
    pid = fe_pid()
    if shutil.which("strace") is None or pid is None:
        t.skip(what, "no strace" if pid else "no frontend")
        continue
    out = os.path.join(os.environ["TESTDIR"], "fe.%s.strace" % era)
    sp = subprocess.Popen(["strace", "-s", "512", "-e",
                           "trace=readv,writev,sendmsg",
                           "-p", str(pid), "-o", out],
                          stderr=subprocess.PIPE, text=True)
    # strace says when it is attached
    line = sp.stderr.readline()
    bad = [x for x in (call("true", era) for i in range(60)) if x[0] != 200]
    calls += 60
    time.sleep(0.1)
    sp.terminate()
    sp.wait(30)
    with open(out) as f:
        lines = f.read().splitlines()
    # the logger's socket: where the intents go
    lfd = None
    for ln in lines:
        if ln.startswith("sendmsg(") and '"type\\":\\"call' in ln:
            lfd = ln.split("(", 1)[1].split(",", 1)[0]
            break
    # each window between two reads of the client's connection (readv:
    # libevent's) that answered on it (writev: libevent's) sends its
    # call's outcome to the logger in a message of its own, not the
    # window's first (that one carries the intent, and the old code's
    # outcome of the call before); before the answer's write only when
    # the lazy timer came first
    windows, followed, wrote, sent, nl = 0, 0, False, False, 0
    for ln in lines + ["readv("]:
        if ln.startswith("readv("):
            if wrote:
                windows += 1
                followed += sent
            wrote, sent, nl = False, False, 0
        elif ln.startswith("writev("):
            wrote = True
        elif ln.startswith("sendmsg(%s," % lfd):
            nl += 1
            if nl > 1 and '\\"event\\":\\"outcome' in ln:
                sent = True
    t.ok(not bad and windows >= 60 and followed >= windows - 1,
         what + " (%d of %d answers)" % (followed, windows),
         (bad[:2], line, lines[:30]))

# SSE answers beside the MCP socket's, alternating
sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client
mc = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
mc.initialize()
mc.call_tool("Bash", {"command": "true"})
th, ts, bad = [], [], 0
for i in range(40):
    t0 = time.monotonic()
    st, b, ct = call("true", "2025-11-25")
    th.append((time.monotonic() - t0) * 1000.0)
    bad += st != 200 or not ct.startswith("text/event-stream")
    t0 = time.monotonic()
    r = mc.call_tool("Bash", {"command": "true"})
    ts.append((time.monotonic() - t0) * 1000.0)
    bad += bool(r.get("isError"))
th.sort()
ts.sort()
calls += 80
t.ok(not bad and th[20] - ts[20] < 25, "a call answered as an SSE stream "
     "does not wait for a delayed ACK (median %.1f ms over HTTP, %.1f on "
     "the MCP socket)" % (th[20], ts[20]), bad)
mc.close()

# and the records are all there
db = sqlite3.connect(os.path.join(os.environ["TESTDIR"], "db", "audit.db"),
                     timeout=10)
n, t0 = 0, time.monotonic()
while time.monotonic() - t0 < 10:
    n = db.execute("SELECT count(*) FROM records WHERE tool = 'Bash' AND "
                   "event = 'outcome'").fetchone()[0]
    if n >= calls:
        break
    time.sleep(0.05)
t.ok(n == calls, "every call's outcome is in the audit database (%d of %d)"
     % (n, calls))
sys.exit(t.done())
EOF

tap_check "bridged is still running" bridged_alive
tap_check "bridged stops cleanly" bridged_stop
tap_end
