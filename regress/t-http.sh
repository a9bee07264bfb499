#!/bin/bash
# t-http: the Streamable HTTP listener against hostile and honest
# clients: bearer tokens (none, wrong, right, another client's), Host
# and Origin (DNS rebinding), a body over line size (413), a client that
# sends its headers too slowly, 1,000 malformed requests (the frontend
# stays up, same pid), SSE resumption with Last-Event-ID, a principal
# limited to one host, DELETE, show sessions/listeners, the principal in
# the audit, a token file others may read, and a whole session with the
# MCP TypeScript SDK's Streamable HTTP client.
# regress-timeout: 300

. "$(dirname "$0")/lib.sh"

sshd_start || { tap_fail "sshd starts"; tap_end; }
P1=$(free_port)
P2=$(free_port)
while [ "$P2" = "$P1" ]; do P2=$(free_port); done
TOK_CI=ci-token-0123456789abcdefXYZ
TOK_OTHER=other-token-0123456789abcdef
printf '%s\n' "$TOK_CI" >"$TESTDIR/ci.token"
printf '%s\n' "$TOK_OTHER" >"$TESTDIR/other.token"
chmod 600 "$TESTDIR/ci.token" "$TESTDIR/other.token"
HTTP_CONF="limits { line size 64K }
host \"local2\" {
	address \"127.0.0.1\" port $SSHD_PORT
	user \"$SSH_USER\"
	identity \"$SSH_USER_KEY\"
	known hosts \"$SSH_KNOWN_HOSTS\"
	base dir \"$TESTDIR/base\"
	allow read, exec
}
listen on 127.0.0.1 port $P1
listen on 127.0.0.1 port $P2
client \"ci\" { token file \"$TESTDIR/ci.token\" port $P1 hosts \"local\" }
client \"other\" { token file \"$TESTDIR/other.token\" port $P2 }
client \"open\" { token none port $P2 hosts \"local\", \"local2\" }"

# a token file others can read is refused at startup, saying why
chmod 644 "$TESTDIR/ci.token"
if bridged_start "$HTTP_CONF" 2>"$TESTDIR/start.err"; then
	tap_fail "a token file readable by others is refused"
	bridged_stop
else
	tap_check "a token file readable by others is refused, saying so" \
	    grep -q "ci.token is readable by others (mode 0644)" \
	    "$TESTDIR/bridged.log"
fi
chmod 600 "$TESTDIR/ci.token"

tap_check "bridged starts with two HTTP listeners" bridged_start \
    "$HTTP_CONF" || tap_end
FE_PID=$(pgrep -P "$BRIDGED_PID" -f frontend | head -1)

tap_run timeout 200 python3 - "$P1" "$P2" "$TOK_CI" "$TOK_OTHER" \
    "$TESTDIR" "$FE_PID" "$BRIDGED_PID" <<'PY'
import http.client, json, os, random, socket, subprocess, sys, time
p1, p2, tok, other, tdir, fepid, bpid = sys.argv[1:]
p1, p2 = int(p1), int(p2)
n = 0; bad = 0
def ok(cond, what, extra=""):
    global n, bad
    n += 1
    if cond: print("ok %d - %s" % (n, what))
    else:
        bad += 1
        print("not ok %d - %s" % (n, what))
        for l in str(extra).splitlines()[:10]: print("#   " + l)

H = {"Content-Type": "application/json",
     "Accept": "application/json, text/event-stream"}
def post(port, body, headers=None, token=tok, raw=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    h = dict(H)
    if token: h["Authorization"] = "Bearer " + token
    h.update(headers or {})
    c.request("POST", "/mcp", raw if raw is not None else json.dumps(body), h)
    r = c.getresponse()
    return r, r.read().decode(), c
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {},
    "clientInfo": {"name": "t-http", "version": "1"}}}

r, b, _ = post(p1, INIT, token=None)
ok(r.status == 401 and r.getheader("WWW-Authenticate", "").startswith(
    "Bearer"), "no token: 401 with WWW-Authenticate: Bearer", (r.status, b))
r, b, _ = post(p1, INIT, token="wrong-token-0123456789")
ok(r.status == 401 and "invalid_token" in r.getheader("WWW-Authenticate", ""),
   "a wrong token: 401 invalid_token", (r.status, b))
r, b, _ = post(p1, INIT, token=other)
ok(r.status == 401, "another client's token (its block names another "
   "port): 401", (r.status, b))
r, b, _ = post(p2, INIT, token=None)
ok(r.status == 200 and r.getheader("Mcp-Session-Id"),
   "token none on its loopback listener: served", (r.status, b))
r, b, _ = post(p1, INIT)
sid = r.getheader("Mcp-Session-Id") or ""
ok(r.status == 200 and json.loads(b)["result"]["protocolVersion"] ==
   "2025-11-25", "the right token: initialize answered", (r.status, b))
ok(len(sid) >= 32 and all(0x21 <= ord(ch) <= 0x7e for ch in sid),
   "Mcp-Session-Id is long and visible ASCII", sid)
S = {"Mcp-Session-Id": sid, "MCP-Protocol-Version": "2025-11-25"}
r, b, _ = post(p1, {"jsonrpc": "2.0", "method": "notifications/initialized"},
               S)
ok(r.status == 202, "a notification: 202", (r.status, b))

r, b, _ = post(p1, INIT, {"Origin": "http://evil.example.com"})
ok(r.status == 403, "a foreign Origin: 403", (r.status, b))
r, b, _ = post(p1, INIT, {"Host": "evil.example.com:%d" % p1})
ok(r.status == 403, "a rebound Host name: 403", (r.status, b))
r, b, _ = post(p1, INIT, {"Origin": "http://localhost:%d" % p1,
                          "Host": "localhost:%d" % p1})
ok(r.status == 200, "localhost Host and Origin: served", (r.status, b))

r, b, _ = post(p1, None, S, raw="[" + "1," * 40000 + "1]")
ok(r.status == 413, "a body over limits { line size }: 413", r.status)

# slowloris: headers that never end are cut off
s = socket.create_connection(("127.0.0.1", p1))
s.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-a: b")
t0 = time.time(); closed = False
s.settimeout(40)
try:
    while time.time() - t0 < 40:
        d = s.recv(4096)
        if not d: closed = True; break
except (socket.timeout, ConnectionError):
    closed = not isinstance(sys.exc_info()[1], socket.timeout)
ok(closed and time.time() - t0 < 35, "headers sent too slowly: the "
   "connection is closed (%.0f s)" % (time.time() - t0))

# 1,000 malformed requests
rnd = random.Random(13)
junk = [b"GARBAGE\r\n\r\n", b"POST /mcp HTTP/9.9\r\n\r\n",
        b"POST /mcp HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
        b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\n{",
        b"GET /../../etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n",
        b"\x00\xff\xfe" * 50 + b"\r\n\r\n",
        b"POST /mcp HTTP/1.1\r\n" + b"X: " + b"a" * 20000 + b"\r\n\r\n"]
for i in range(1000):
    m = junk[i % len(junk)] if i % 3 else bytes(rnd.getrandbits(8)
        for _ in range(rnd.randint(1, 300))) + b"\r\n\r\n"
    try:
        s = socket.create_connection(("127.0.0.1", p1), timeout=10)
        s.sendall(m)
        s.shutdown(socket.SHUT_WR)
        s.settimeout(10)
        while s.recv(4096): pass
    except OSError:
        pass
    finally:
        s.close()
fe_now = subprocess.run(["pgrep", "-P", bpid, "-f", "frontend"],
    capture_output=True, text=True).stdout.split()
ok(fe_now[:1] == [fepid], "1,000 malformed requests: the frontend is "
   "still the same process", (fepid, fe_now))
r, b, _ = post(p1, {"jsonrpc": "2.0", "id": 5, "method": "tools/list"}, S)
ok(r.status == 200 and "Bash" in b, "and the session still answers",
   (r.status, b[:200]))

# SSE: a stream lost mid-call is resumed with Last-Event-ID
c = http.client.HTTPConnection("127.0.0.1", p1, timeout=30)
h = dict(H); h.update(S); h["Authorization"] = "Bearer " + tok
c.request("POST", "/mcp", json.dumps({"jsonrpc": "2.0", "id": 7,
    "method": "tools/call", "params": {"name": "Bash", "arguments": {
    "command": "sleep 2; echo resumed-ok"}}}), h)
r = c.getresponse()
first = b""
while b"\n\n" not in first:
    first += r.fp.read1(4096) if hasattr(r.fp, "read1") else r.read(1)
lastid = [l[4:].strip() for l in first.decode().splitlines()
          if l.startswith("id:")]
ok(r.getheader("Content-Type", "").startswith("text/event-stream") and
   lastid, "a call is answered as an SSE stream that opens with a priming "
   "event id", first)
c.close()
time.sleep(0.2)
g = http.client.HTTPConnection("127.0.0.1", p1, timeout=30)
gh = {"Accept": "text/event-stream", "Authorization": "Bearer " + tok,
      "Last-Event-ID": lastid[0] if lastid else "1-0"}
gh.update(S)
g.request("GET", "/mcp", headers=gh)
gr = g.getresponse()
data = b""; t0 = time.time()
while b"resumed-ok" not in data and time.time() - t0 < 30:
    chunk = gr.fp.read1(4096) if hasattr(gr.fp, "read1") else gr.read(1)
    if not chunk: break
    data += chunk
ok(gr.status == 200 and b"resumed-ok" in data and b'"id":7' in data,
   "GET with Last-Event-ID gets the answer the lost stream missed",
   (gr.status, data[:300]))
g.close()

# a principal limited to one host
r, b, _ = post(p1, {"jsonrpc": "2.0", "id": 8, "method": "tools/call",
    "params": {"name": "Bash", "arguments": {"command": "echo x",
    "host": "local2"}}}, S)
ok('may not use host \\"local2\\"' in b and '"isError":true' in b,
   "client ci may not use host local2: refused, saying so", b[:400])
r, b, _ = post(p2, {"jsonrpc": "2.0", "id": 9, "method": "tools/call",
    "params": {"name": "Bash", "arguments": {"command": "echo on-local2",
    "host": "local2"}, "_meta": {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {}}}}, {
    "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call",
    "Mcp-Name": "Bash", "Mcp-Param-Host": "local2"}, token=None)
ok(r.status == 200 and "on-local2" in b and r.getheader("Mcp-Session-Id")
   is None, "a 2026-07-28 request of client open on local2: served, "
   "no session id", (r.status, b[:300]))
r, b, _ = post(p2, {"jsonrpc": "2.0", "id": 10, "method": "tools/list",
    "params": {"_meta": {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {}}}}, {
    "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "prompts/list"},
    token=None)
ok(r.status == 400 and '"code":-32020' in b, "Mcp-Method unlike the "
   "body: 400 HeaderMismatch", (r.status, b[:300]))

out = subprocess.run([os.environ["BRIDGECTL"], "-s", os.environ["CTL_SOCK"],
    "show", "sessions"], capture_output=True, text=True).stdout
ok("ci" in out and "http" in out, "show sessions: transport and principal",
   out)
out = subprocess.run([os.environ["BRIDGECTL"], "-s", os.environ["CTL_SOCK"],
    "show", "listeners"], capture_output=True, text=True).stdout
ok(str(p1) in out and str(p2) in out and "listening" in out,
   "show listeners", out)

c = http.client.HTTPConnection("127.0.0.1", p1, timeout=30)
c.request("DELETE", "/mcp", headers={"Authorization": "Bearer " + tok, **S})
r = c.getresponse(); r.read()
ok(r.status == 200, "DELETE ends the session", r.status)
r, b, _ = post(p1, {"jsonrpc": "2.0", "id": 11, "method": "tools/list"}, S)
ok(r.status == 404, "and it is gone: 404", (r.status, b))

log = open(os.path.join(tdir, "log", "bridge.log")).read()
ok('"principal":"ci"' in log and '"transport":"http"' in log and
   any('"type":"call"' in l and '"principal":"ci"' in l
       for l in log.splitlines()),
   "the audit names the principal in session and call records")
print("1..%d" % n)
sys.exit(1 if bad else 0)
PY

NODE_DIR=$REGRESS_DIR/node
if [ -d "$NODE_DIR/node_modules/mcp-sdk-1.11" ]; then
	tap_run timeout 120 node "$NODE_DIR/http-client.mjs" \
	    "http://127.0.0.1:$P1/mcp" "$TOK_CI"
else
	tap_fail "the pinned MCP SDK is installed in regress/node (make deps)"
fi

tap_check "bridged is still running" bridged_alive
tap_check "bridged stops cleanly" bridged_stop
tap_end
