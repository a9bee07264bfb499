#!/usr/bin/env bash
# t-httpstrict: what a client names over Streamable HTTP must be exactly
# what we issue or answer to.  Found by a red team: Last-Event-ID was
# read with strtoul, so "+1-0", "01-0", "1- 0", "1--1" or a sequence
# past 2^64 named a stream, one too long to read was taken as none, and
# one past the last event of its stream was believed; a POST's stream
# that had ended could be "resumed" into a second GET stream of the
# session; Host and Origin took "127.0.0.1:", a port past 65535, a
# trailing "/" after a port and a name in brackets ("[localhost]").
# Now each of those is 400 (Last-Event-ID) or 403 (Host, Origin); an
# ended stream resumed replays what was missed of it and ends; the GET
# stream resumed goes on as the session's one GET stream; and every
# honest form still works.
# regress-timeout: 200

. "$(dirname "$0")/lib.sh"

sshd_start || { tap_fail "sshd starts"; tap_end; }
HTTP_PORT=$(free_port)
tap_check "bridged starts" bridged_start "listen on 127.0.0.1 port $HTTP_PORT
client \"strict\" { token none port $HTTP_PORT hosts \"local\" }" || tap_end
export HTTP_PORT REGRESS_DIR

tap_run timeout 180 "$PYTHON" - <<'EOF'
import json, os, socket, sys, time
sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Tap

t = Tap()
port = int(os.environ["HTTP_PORT"])
V = "2025-11-25"


def request(method, body=None, hdr=(), host=None, until=None, secs=20):
    """(status, headers, body bytes, ended): one request on a connection
    of its own; read until the server closes, or until the bytes until
    have come (then ended is False and the connection is dropped)"""
    h = ["%s /mcp HTTP/1.1" % method,
         "Host: " + (host if host is not None else "127.0.0.1:%d" % port),
         "Accept: application/json, text/event-stream",
         "Connection: close"] + list(hdr)
    data = json.dumps(body).encode() if body is not None else b""
    if body is not None:
        h += ["Content-Type: application/json",
              "Content-Length: %d" % len(data)]
    s = socket.create_connection(("127.0.0.1", port), timeout=secs)
    s.sendall(("\r\n".join(h) + "\r\n\r\n").encode() + data)
    buf, ended, end = b"", False, time.time() + secs
    while time.time() < end:
        if until is not None and until in buf.partition(b"\r\n\r\n")[2]:
            break
        try:
            b = s.recv(65536)
        except socket.timeout:
            break
        if not b:
            ended = True
            break
        buf += b
    s.close()
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    try:
        st = int(lines[0].split()[1])
    except (IndexError, ValueError):
        st = None
    hd = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(b":")
        hd[k.strip().lower().decode()] = v.strip().decode()
    return st, hd, rest, ended


st, hd, b, _ = request("POST", {
    "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": V, "capabilities": {},
        "clientInfo": {"name": "strict", "version": "1"}}})
sid = hd.get("mcp-session-id")
t.ok(st == 200 and sid, "a 2025-11-25 session over HTTP", st, b)
S = ["Mcp-Session-Id: %s" % sid, "MCP-Protocol-Version: " + V]
request("POST", {"jsonrpc": "2.0", "method": "notifications/initialized"},
        S)


def get(last=None, until=b"data: \n\n", secs=20):
    return request("GET", hdr=S + (["Last-Event-ID: " + last]
                                   if last is not None else []),
                   until=until, secs=secs)


# a POST's stream, answered and ended: its event ids
st, hd, b, ended = request("POST", {"jsonrpc": "2.0", "id": 3,
                                    "method": "ping"}, S)
ids = [ln[4:].decode() for ln in b.split(b"\n") if ln.startswith(b"id: ")]
t.ok(ended and len(ids) == 2 and ids[0].endswith("-0"),
     "a ping answered as a stream: a priming event and the answer, each "
     "with an id", ids, b)
pstream = ids[0].split("-")[0] if ids else "1"

for bad in ("0%s-0" % pstream, "+%s-0" % pstream, "%s-+0" % pstream,
            "%s- 0" % pstream, "%s--1" % pstream, "%s-00" % pstream,
            "%s-18446744073709551616" % pstream, "4294967297-0",
            "%s-0-0" % pstream, "%s-" % pstream, "-%s" % pstream, "abc",
            "%s-%s" % (pstream, "1" * 70)):
    st, hd, b, ended = get(bad)
    t.ok(st == 400 and b"not an event id" in b,
         "Last-Event-ID %r: 400, not an event id of ours" % bad[:30], st,
         b[:300])

# the ended stream resumed: what was missed, then it ends
st, hd, b, ended = get(ids[0] if ids else "1-0", until=None)
t.ok(st == 200 and ended and b'"id":3' in b,
     "the ended stream resumed from its priming event: the answer it "
     "missed, then it ends", st, b[:300])
st, hd, b, ended = get(ids[-1] if ids else "1-1", until=None)
t.ok(st == 200 and ended and b'"id":3' not in b,
     "... and from its last event: nothing more, and it ends", st, b[:300])

# the session's GET stream: one at a time, resumed as itself
def open_get(last=None, secs=20):
    """a GET stream kept open: (socket, status, what came); a 409 (the
    last one's hang-up not yet seen) is tried again"""
    end = time.time() + secs
    while True:
        s = socket.create_connection(("127.0.0.1", port), timeout=secs)
        s.sendall(("GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                   "Accept: text/event-stream\r\n%s%s\r\n\r\n" %
                   (port, "Last-Event-ID: %s\r\n" % last if last else "",
                    "\r\n".join(S))).encode())
        buf = b""
        while b"data: \n\n" not in buf and not (
                b"\r\n\r\n" in buf and b" 200 " not in buf[:16]):
            try:
                c = s.recv(4096)
            except socket.timeout:
                break
            if not c:
                break
            buf += c
        try:
            st = int(buf.split(b"\r\n", 1)[0].split()[1])
        except (IndexError, ValueError):
            st = None
        if st != 409 or time.time() > end:
            return s, st, buf
        s.close()
        time.sleep(0.05)


def get_until(last, secs=20):
    """get(last), tried again while it is 409"""
    end = time.time() + secs
    while True:
        r = get(last, until=None)
        if r[0] != 409 or time.time() > end:
            return r
        time.sleep(0.05)


s1, st, buf = open_get()
gid = [ln[4:].decode() for ln in buf.split(b"\n") if ln.startswith(b"id: ")]
t.ok(st == 200 and gid and gid[0].endswith("-0"),
     "a GET stream opens with a priming event", st, buf)
gid = gid[0] if gid else "1-0"
gpast = gid.split("-")[0] + "-5"
st, hd, b, ended = get()
t.ok(st == 409, "a second GET stream while it is open: 409", st, b)
st, hd, b, ended = get(gid)
t.ok(st == 409, "... and so is its own id while it is open", st, b)
s1.close()
s1, st, buf = open_get(gid)
t.ok(st == 200, "the GET stream resumed with its id once dropped: it goes "
     "on", st, buf)
s1.close()
st, hd, b, ended = get_until(gpast)
t.ok(st == 400 and b"has not got that far" in b,
     "the GET stream resumed past its last id: 400", st, b[:300])
s1, st, buf = open_get(gid)
st, hd, b, ended = get(pstream + "-0", until=None)
t.ok(st == 200 and ended and b'"id":3' in b,
     "while it is open, an ended POST stream resumed replays and ends: it "
     "is no second GET stream", st, b[:200])
st, hd, b, ended = get()
t.ok(st == 409, "... the resumed GET stream is the session's one: a fresh "
     "GET is 409", st, b[:200])
s1.close()

# Host and Origin: names of ours, in their exact form
PING = {"jsonrpc": "2.0", "id": 9, "method": "ping"}
for host in ("127.0.0.1:", "127.0.0.1:99999", "127.0.0.1:0",
             "127.0.0.1:%d/" % port, "[localhost]:%d" % port,
             "[127.0.0.1]", "localhost:1234567", "[::1"):
    st, hd, b, ended = request("POST", PING, S, host=host)
    t.ok(st == 403 and b"Host header not allowed" in b,
         "Host %r: 403" % host, st, b[:200])
for origin in ("http://127.0.0.1:", "http://127.0.0.1:70000",
               "http://[localhost]:%d" % port, "http://127.0.0.1:%d/x" %
               port, "null"):
    st, hd, b, ended = request("POST", PING, S + ["Origin: " + origin])
    t.ok(st == 403 and b"Origin not allowed" in b,
         "Origin %r: 403" % origin, st, b[:200])
for host in ("127.0.0.1", "127.0.0.1:%d" % port, "LOCALHOST:%d" % port,
             "[::1]:%d" % port, "localhost:8080"):
    st, hd, b, ended = request("POST", PING, S, host=host)
    t.ok(st == 200 and b'"id":9' in b, "Host %r: served" % host, st,
         b[:200])
for origin in ("http://127.0.0.1:%d" % port, "http://localhost:%d/" % port,
               "https://[::1]"):
    st, hd, b, ended = request("POST", PING, S + ["Origin: " + origin])
    t.ok(st == 200 and b'"id":9' in b, "Origin %r: served" % origin, st,
         b[:200])
t.done()
EOF
tap_check "bridged is still running" bridged_alive
tap_check "bridged stops cleanly" bridged_stop
tap_end
