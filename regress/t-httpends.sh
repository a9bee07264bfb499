#!/usr/bin/env bash
# t-httpends: every POST that carries a request is answered and its
# response ends, whatever the request's id.  Found by t-fuzz: a POST
# whose request the JSON-RPC layer answers with an id of null (an id that
# is an object, an array, a fraction or a boolean; a batch refused whole
# in a protocol without batches) got its error as an SSE event but the
# stream never ended, holding the connection; a request whose id was in
# flight in another POST had its answer sent down that other POST's
# stream, which ended with it, and the other POST's answer came down the
# request's (a ping beside a call: answers swapped); a body of JSON-RPC
# it cannot be (an array of numbers) got 202 and its error was dropped.
# Found by a red team: a body of no request that was no valid JSON-RPC
# notification or response either (jsonrpc "1.0" or none, a duplicate
# key, "method": 5, {"jsonrpc":"2.0"} alone, "params": 3, a NUL in a
# string) got 202 too; it is now 400
# with the error the socket gives the same line (id null, -32600 or
# -32700, saying what is wrong), while a valid notification or response
# is still 202.  A 2025-03-26 batch with a member that is no object was
# refused whole: now that member gets its error, the rest their answers.

. "$(dirname "$0")/lib.sh"

sshd_start || { tap_fail "sshd starts"; tap_end; }
HTTP_PORT=$(free_port)
tap_check "bridged starts" bridged_start "listen on 127.0.0.1 port $HTTP_PORT
client \"ends\" { token none port $HTTP_PORT hosts \"local\" }" || tap_end
export HTTP_PORT REGRESS_DIR BRIDGECTL CTL_SOCK

tap_run "$PYTHON" - <<'EOF'
import json, os, socket, subprocess, sys, threading, time
sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client, Tap

t = Tap()
port = int(os.environ["HTTP_PORT"])


def post(body, sid=None, version="2025-11-25", timeout=15.0, modern=False):
    """(status, headers, events or JSON body, ended): one POST on its own
    connection, Connection: close; ended says the response ended (the
    server closed the connection) within timeout"""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    h = ["POST /mcp HTTP/1.1", "Host: 127.0.0.1:%d" % port,
         "Content-Type: application/json",
         "Accept: application/json, text/event-stream",
         "Connection: close", "Content-Length: %d" % len(data)]
    if sid:
        h += ["Mcp-Session-Id: " + sid, "MCP-Protocol-Version: " + version]
    if modern:
        h += ["MCP-Protocol-Version: 2026-07-28",
              "Mcp-Method: " + body["method"]]
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(("\r\n".join(h) + "\r\n\r\n").encode() + data)
    buf, ended, end = b"", False, time.time() + timeout
    try:
        while time.time() < end:
            s.settimeout(max(0.05, end - time.time()))
            b = s.recv(65536)
            if not b:
                ended = True
                break
            buf += b
    except socket.timeout:
        pass
    s.close()
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        return None, {}, [], ended
    hdr = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(b":")
        hdr[k.strip().lower().decode()] = v.strip().decode()
    if hdr.get("transfer-encoding") == "chunked":
        out = b""
        while rest:
            n, _, rest = rest.partition(b"\r\n")
            n = int(n.split(b";")[0] or b"0", 16)
            if n == 0:
                break
            out, rest = out + rest[:n], rest[n + 2:]
        rest = out
    msgs = []
    if hdr.get("content-type", "").startswith("text/event-stream"):
        for ln in rest.split(b"\n"):
            if ln.startswith(b"data:") and ln[5:].strip():
                msgs.append(json.loads(ln[5:]))
    elif rest:
        msgs.append(json.loads(rest))
    return status, hdr, msgs, ended


def init(version):
    st, hdr, msgs, ended = post({"jsonrpc": "2.0", "id": 1,
                                 "method": "initialize", "params": {
                                     "protocolVersion": version,
                                     "capabilities": {},
                                     "clientInfo": {"name": "ends",
                                                    "version": "1"}}})
    sid = hdr.get("mcp-session-id")
    post({"jsonrpc": "2.0", "method": "notifications/initialized"}, sid,
         version)
    return sid


def errors(msgs):
    out = []
    for m in msgs:
        for o in (m if isinstance(m, list) else [m]):
            if "error" in o:
                out.append((o.get("id"), o["error"].get("code"),
                            o["error"].get("message")))
    return out


sid = init("2025-11-25")
t.ok(sid, "a 2025-11-25 session over HTTP")

for bad in ({}, [1], 1.5, True):
    st, hdr, msgs, ended = post({"jsonrpc": "2.0", "id": bad,
                                 "method": "ping"}, sid)
    e = errors(msgs)
    t.ok(ended and e and e[0][0] is None and e[0][1] == -32600 and
         "id must be a string or an integer" in e[0][2],
         "a ping whose id is %s: its error (id null), and the response "
         "ends" % json.dumps(bad), st, msgs, "ended" if ended else
         "still open after 15 s")

st, hdr, msgs, ended = post([{"jsonrpc": "2.0", "id": 2, "method": "ping"},
                             {"jsonrpc": "2.0", "id": 3, "method": "ping"}],
                            sid)
e = errors(msgs)
t.ok(ended and e and e[0][0] is None and "batches are not supported" in
     e[0][2], "a batch in 2025-11-25: refused whole, and the response ends",
     st, msgs, "ended" if ended else "still open after 15 s")

st, hdr, msgs, ended = post([1, 2], sid)
e = errors(msgs)
t.ok(ended and st == 400 and e and e[0][1] == -32600 and e[0][2],
     "an array of numbers: 400 with its error, not 202", st, msgs)

# bodies with no id that are no valid notification or response: 400 with
# the error fe_jsonrpc.c gives them on every transport, never 202
for body, code, why in (
        ({"jsonrpc": "1.0", "method": "notifications/initialized"},
         -32600, '"jsonrpc" must be "2.0"'),
        ({"method": "notifications/initialized"}, -32600,
         '"jsonrpc" must be "2.0"'),
        (b'{"jsonrpc":"2.0","method":"notifications/initialized",'
         b'"method":"x"}', -32700, "duplicate object key"),
        ({"jsonrpc": "2.0", "method": 5}, -32600,
         '"method" must be a string'),
        ({"jsonrpc": "2.0"}, -32600, '"method" must be a string'),
        ({"jsonrpc": "2.0", "method": "notifications/x", "params": 3},
         -32600, '"params" must be an object or an array'),
        ({"jsonrpc": "2.0", "method": "notifications/x",
          "params": {"a": "b\u0000c"}}, -32600,
         "strings must not contain NUL"),
        ({"jsonrpc": "2.0", "method": "notifications/x", "result": 1},
         None, None)):
    st, hdr, msgs, ended = post(body, sid)
    shown = body if isinstance(body, bytes) else json.dumps(body).encode()
    e = errors(msgs)
    if code is None:
        t.ok(st == 202 and not msgs, "%s: a notification all the same, "
             "202" % shown.decode(), st, msgs)
        continue
    t.ok(ended and st == 400 and len(e) == 1 and e[0][0] is None and
         e[0][1] == code and why in e[0][2],
         "%s: 400, its error (id null, %d) says %s" % (shown.decode(),
                                                      code, why),
         st, msgs)
for body in ({"jsonrpc": "2.0", "method": "notifications/whatever"},
             {"jsonrpc": "2.0", "id": 5, "result": {}},
             {"jsonrpc": "2.0", "id": 6, "error": {"code": 1,
                                                   "message": "x"}}):
    st, hdr, msgs, ended = post(body, sid)
    t.ok(st == 202 and not msgs, "%s: 202 with no body" % json.dumps(body),
         st, msgs)
# the same for a 2026-07-28 notification, which has no session
for body, want in (({"jsonrpc": "1.0", "method": "notifications/cancelled",
                     "params": {"requestId": 1}}, 400),
                   ({"jsonrpc": "2.0", "method": "notifications/cancelled",
                     "params": {"requestId": 1}}, 202)):
    body["params"]["_meta"] = Client.modern_meta()
    st, hdr, msgs, ended = post(body, modern=True)
    e = errors(msgs)
    t.ok(st == want and (want == 202 and not msgs or
                         len(e) == 1 and e[0][:2] == (None, -32600)),
         "a 2026-07-28 notification with jsonrpc %s: %d" %
         (body["jsonrpc"], want), st, msgs)
st, hdr, msgs, ended = post({"jsonrpc": "2.0", "id": 7, "method": 5}, sid)
e = errors(msgs)
t.ok(ended and e == [(7, -32600, 'invalid request: "method" must be a '
                      'string')], "a request whose method is 5: its error "
     "by its id, and the response ends", st, msgs)

# an initialize with no id is a notification: 202, and no session stays
def listed():
    """the listener's legacy sessions, as show listeners counts them"""
    out = subprocess.run([os.environ["BRIDGECTL"], "-s",
                          os.environ["CTL_SOCK"], "show", "listeners"],
                         stdout=subprocess.PIPE, text=True).stdout
    lines = [ln.split() for ln in out.splitlines()]
    try:
        col = lines[0].index("SESSIONS")
        return [ln[col] for ln in lines[1:] if str(port) in ln]
    except (IndexError, ValueError):
        return out


before = listed()
st, hdr, msgs, ended = post({"jsonrpc": "2.0", "method": "initialize",
                             "params": {"protocolVersion": "2025-11-25",
                                        "capabilities": {},
                                        "clientInfo": {"name": "x",
                                                       "version": "1"}}})
t.ok(st == 202 and "mcp-session-id" not in hdr and listed() == before,
     "an initialize without an id: 202, no session id, no session left "
     "open", st, hdr, before, listed())

# 2025-03-26 has batches: the invalid member's error rides in the answer
sid3 = init("2025-03-26")
st, hdr, msgs, ended = post([5, {"jsonrpc": "2.0", "id": 6,
                                 "method": "ping"}], sid3, "2025-03-26")
flat = [o for m in msgs for o in (m if isinstance(m, list) else [m])]
t.ok(ended and st == 200 and
     any(o.get("id") == 6 and "result" in o for o in flat) and
     [e[:2] for e in errors(msgs)] == [(None, -32600)],
     "a 2025-03-26 batch with a member that is no object: that member's "
     "error, the ping answered", st, msgs)
st, hdr, msgs, ended = post([{"jsonrpc": "2.0", "method": "notifications/x"},
                             {"jsonrpc": "1.0", "method": "y"}], sid3,
                            "2025-03-26")
t.ok(st == 400 and [e[:2] for e in errors(msgs)] == [(None, -32600)],
     "a 2025-03-26 batch of notifications, one of them invalid: 400 with "
     "its error", st, msgs)
st, hdr, msgs, ended = post([{"jsonrpc": "2.0", "method": "notifications/x"},
                             {"jsonrpc": "2.0", "method": "notifications/y"}],
                            sid3, "2025-03-26")
t.ok(st == 202 and not msgs, "a 2025-03-26 batch of valid notifications: "
     "202", st, msgs)
st, hdr, msgs, ended = post([{"jsonrpc": "2.0", "id": 5, "method": "ping"},
                             {"jsonrpc": "2.0", "id": {}, "method": "ping"}],
                            sid3, "2025-03-26")
flat = [o for m in msgs for o in (m if isinstance(m, list) else [m])]
t.ok(ended and any(o.get("id") == 5 and "result" in o for o in flat) and
     any(o.get("id") is None and "error" in o for o in flat),
     "a 2025-03-26 batch with a member whose id is {}: both answered, "
     "and the response ends", st, msgs,
     "ended" if ended else "still open after 15 s")

# an id in flight in one POST, sent again in another
res = {}


def slow():
    res["a"] = post({"jsonrpc": "2.0", "id": 77, "method": "tools/call",
                     "params": {"name": "Bash",
                                "arguments": {"command": "sleep 2; "
                                              "echo slow-done"}}}, sid,
                    timeout=30)


th = threading.Thread(target=slow)
th.start()
time.sleep(0.8)
st, hdr, msgs, ended = post({"jsonrpc": "2.0", "id": 77, "method": "ping"},
                            sid)
t.ok(ended and len(msgs) == 1 and msgs[0].get("id") == 77 and
     msgs[0].get("result") == {},
     "a ping whose id is in flight in another POST: its answer comes on "
     "its own POST, which ends", st, msgs,
     "ended" if ended else "still open after 15 s")
st, hdr, msgs, ended = post({"jsonrpc": "2.0", "id": 77,
                             "method": "tools/call",
                             "params": {"name": "hosts", "arguments": {}}},
                            sid)
e = errors(msgs)
t.ok(ended and e and e[0][0] == 77 and "already used" in e[0][2],
     "a call whose id is in flight in another POST: its error comes on "
     "its own POST, which ends", st, msgs,
     "ended" if ended else "still open after 15 s")
th.join(40)
st, hdr, msgs, ended = res.get("a", (None, {}, [], False))
flat = [o for m in msgs for o in (m if isinstance(m, list) else [m])]
t.ok(ended and any(o.get("id") == 77 and "slow-done" in json.dumps(o)
                   for o in flat) and not errors(msgs),
     "... and the POST in flight gets its own answer, not that error",
     st, msgs)

st, hdr, msgs, ended = post({"jsonrpc": "2.0", "id": 9, "method": "ping"},
                            sid)
t.ok(ended and msgs and msgs[-1].get("id") == 9 and "result" in msgs[-1],
     "the session still answers", st, msgs)
t.done()
EOF
tap_end
