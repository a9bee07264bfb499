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

. "$(dirname "$0")/lib.sh"

sshd_start || { tap_fail "sshd starts"; tap_end; }
HTTP_PORT=$(free_port)
tap_check "bridged starts" bridged_start "listen on 127.0.0.1 port $HTTP_PORT
client \"ends\" { token none port $HTTP_PORT hosts \"local\" }" || tap_end
export HTTP_PORT REGRESS_DIR

tap_run "$PYTHON" - <<'EOF'
import json, os, socket, sys, threading, time
sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Tap

t = Tap()
port = int(os.environ["HTTP_PORT"])


def post(body, sid=None, version="2025-11-25", timeout=15.0):
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

# 2025-03-26 has batches: the invalid member's error rides in the answer
sid3 = init("2025-03-26")
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
