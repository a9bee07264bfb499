#!/bin/bash
# t-httpcaps: the HTTP caps.  A listener's max connections holds from
# accept: past it a connection is answered 503 with Retry-After before
# it sends a byte, and closed, and the refusal is logged; once others
# close, connections are served again.  A client block's max
# connections and max sessions answer 429 with a JSON-RPC error that
# names the limit.
# regress-timeout: 200

. "$(dirname "$0")/lib.sh"

sshd_start || { tap_fail "sshd starts"; tap_end; }
P1=$(free_port)
P2=$(free_port)
while [ "$P2" = "$P1" ]; do P2=$(free_port); done
TOK=capped-token-0123456789abcdefXYZ
printf '%s\n' "$TOK" >"$TESTDIR/capped.token"
chmod 600 "$TESTDIR/capped.token"
CONF="listen on 127.0.0.1 port $P1 max connections 2
listen on 127.0.0.1 port $P2
client \"open\" { token none port $P1 hosts \"local\" }
client \"capped\" { token file \"$TESTDIR/capped.token\" port $P2
	max connections 1
	max sessions 1
	hosts \"local\" }"

tap_check "bridged starts with capped listeners and clients" \
    bridged_start "$CONF" || tap_end

tap_run timeout 150 python3 - "$P1" "$P2" "$TOK" "$TESTDIR" <<'PY'
import http.client, json, os, socket, sys, time
p1, p2, tok, tdir = sys.argv[1:]
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
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {},
    "clientInfo": {"name": "t-httpcaps", "version": "1"}}}
def post(c, body, headers=None, token=None):
    h = dict(H)
    if token: h["Authorization"] = "Bearer " + token
    h.update(headers or {})
    c.request("POST", "/mcp", json.dumps(body), h)
    r = c.getresponse()
    return r, r.read().decode()
def served(c):
    return c.sock is not None
def read_all(s, limit=30):
    s.settimeout(limit); data = b""; t0 = time.time()
    try:
        while time.time() - t0 < limit:
            d = s.recv(4096)
            if not d: return data, True
            data += d
    except socket.timeout:
        pass
    except ConnectionError:
        return data, True
    return data, False

# two connections that say nothing hold the listener's two places
idle = [socket.create_connection(("127.0.0.1", p1)) for _ in range(2)]
time.sleep(0.5)
s = socket.create_connection(("127.0.0.1", p1))
t0 = time.time()
data, closed = read_all(s, 20)
s.close()
head, _, body = data.decode(errors="replace").partition("\r\n\r\n")
ok(head.startswith("HTTP/1.1 503") and "Retry-After:" in head and closed
   and time.time() - t0 < 8, "a third connection, silent: 503 with "
   "Retry-After at once, then closed (%.1f s)" % (time.time() - t0), data)
try:
    m = json.loads(body)
except ValueError:
    m = {}
ok(m.get("error", {}).get("code") == -32000 and "max connections" in
   m.get("error", {}).get("message", ""), "its body is a JSON-RPC error "
   "that names the limit", body)
c = http.client.HTTPConnection("127.0.0.1", p1, timeout=20)
try:
    r, b = post(c, INIT)
    st = r.status
except (ConnectionError, http.client.HTTPException) as e:
    st, b = "closed", str(e)
ok(st == 503 or st == "closed", "a request on a connection past the cap "
   "is not served", (st, b))
c.close()
for x in idle: x.close()
st = None; t0 = time.time()
while time.time() - t0 < 30:
    c = http.client.HTTPConnection("127.0.0.1", p1, timeout=20)
    try:
        r, b = post(c, INIT); st = r.status
    except (ConnectionError, http.client.HTTPException):
        st = None
    c.close()
    if st == 200: break
    time.sleep(0.2)
ok(st == 200, "once those close, a new connection is served", st)
log = ""; t0 = time.time()
while "refused at accept" not in log and time.time() - t0 < 20:
    log = open(os.path.join(tdir, "bridged.log")).read(); time.sleep(0.2)
ok("port %d: " % p1 in log and "refused at accept" in log,
   "the refusal is logged", log[-500:])

# a client block's max connections 1 and max sessions 1
a = http.client.HTTPConnection("127.0.0.1", p2, timeout=20)
r, b = post(a, INIT, token=tok)
sid = r.getheader("Mcp-Session-Id")
ok(r.status == 200 and sid, "client capped: its first connection is "
   "served", (r.status, b))
bconn = http.client.HTTPConnection("127.0.0.1", p2, timeout=20)
r, b = post(bconn, INIT, token=tok)
ok(r.status == 429 and "max connections" in b and '"code":-32000' in b,
   "a second connection of client capped: 429 naming max connections",
   (r.status, b))
bconn.close()
a.close()
st = None; t0 = time.time()
while time.time() - t0 < 20:
    c = http.client.HTTPConnection("127.0.0.1", p2, timeout=20)
    r, b = post(c, INIT, token=tok); st = r.status
    if "max connections" not in b: break
    c.close(); time.sleep(0.2)
ok(st == 429 and "max sessions" in b and "1 sessions open" in b and
   r.getheader("Retry-After"), "its first session still open, a second "
   "initialize: 429 naming max sessions", (st, b))
c.request("DELETE", "/mcp", headers={"Authorization": "Bearer " + tok,
          "Mcp-Session-Id": sid, "MCP-Protocol-Version": "2025-11-25"})
r = c.getresponse(); r.read()
ok(r.status == 200, "DELETE ends the first session", r.status)
r, b = post(c, INIT, token=tok)
ok(r.status == 200 and r.getheader("Mcp-Session-Id"), "then a new session "
   "is opened", (r.status, b))
c.close()
print("1..%d" % n)
sys.exit(1 if bad else 0)
PY

tap_check "bridged is still running" bridged_alive
tap_check "bridged stops cleanly" bridged_stop
tap_end
