#!/usr/bin/env bash
# t-httpcancel: a call cancelled over Streamable HTTP ends the POST that
# waits for it.  Found by a red team: notifications/cancelled dropped the
# call's result, as the cancellation utility says (no response for a
# cancelled request), but the HTTP side was never told, so the POST of
# the call (its SSE stream, a POST to be answered with JSON, a batch
# holding it) stayed open forever.  Now, with a call that takes 60 s
# cancelled once it runs: an SSE stream ends with nothing for the call,
# a JSON POST gets 204 No Content, a batch is answered without the
# cancelled entry (204 when it was all there was, also when the cancel
# rides in the same batch), each within seconds; and the session serves
# on.
# regress-timeout: 300

. "$(dirname "$0")/lib.sh"

sshd_start || { tap_fail "sshd starts"; tap_end; }
HTTP_PORT=$(free_port)
tap_check "bridged starts" bridged_start "listen on 127.0.0.1 port $HTTP_PORT
client \"cancel\" { token none port $HTTP_PORT hosts \"local\" }" || tap_end
export HTTP_PORT REGRESS_DIR TESTDIR

tap_run timeout 280 "$PYTHON" - <<'EOF'
import json, os, socket, subprocess, sys, threading, time
sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Tap

t = Tap()
port = int(os.environ["HTTP_PORT"])
TD = os.environ["TESTDIR"]
SSE = "application/json, text/event-stream"
JSON = "application/json"


class Post:
    """one POST on a connection of its own, read in the background until
    the server ends the response (closes: Connection: close)"""

    def __init__(self, msg, sid, version, accept=SSE):
        data = json.dumps(msg).encode()
        h = ["POST /mcp HTTP/1.1", "Host: 127.0.0.1:%d" % port,
             "Content-Type: application/json", "Accept: " + accept,
             "Connection: close", "Content-Length: %d" % len(data)]
        if sid:
            h += ["Mcp-Session-Id: " + sid, "MCP-Protocol-Version: " +
                  version]
        self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.s.sendall(("\r\n".join(h) + "\r\n\r\n").encode() + data)
        self.buf, self.ended = b"", None
        self.th = threading.Thread(target=self._read, daemon=True)
        self.th.start()

    def _read(self):
        while True:
            try:
                b = self.s.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not b:
                break
            self.buf += b
        self.ended = time.time()

    def wait(self, secs):
        """True once the response has ended, within secs"""
        self.th.join(secs)
        return self.ended is not None

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass

    def parts(self):
        """(status, headers, the JSON-RPC messages in the body)"""
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        try:
            st = int(lines[0].split()[1])
        except (IndexError, ValueError):
            return None, {}, []
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
        elif rest.strip():
            msgs.append(json.loads(rest))
        return st, hdr, [o for m in msgs
                         for o in (m if isinstance(m, list) else [m])]


def post(msg, sid=None, version=None, accept=SSE, secs=30):
    p = Post(msg, sid, version, accept)
    p.wait(secs)
    p.close()
    return p


def init(version):
    p = post({"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": version, "capabilities": {},
                         "clientInfo": {"name": "cancel", "version": "1"}}})
    sid = p.parts()[1].get("mcp-session-id")
    post({"jsonrpc": "2.0", "method": "notifications/initialized"}, sid,
         version)
    return sid


def slow(rid, tag):
    """a call that says it has begun (a file), then takes 60 s"""
    return {"jsonrpc": "2.0", "id": rid, "method": "tools/call",
            "params": {"name": "Bash", "arguments": {
                "command": "echo > %s/began-%s; sleep 61.7; echo late-%s" %
                (TD, tag, tag)}}}


def ping(rid):
    return {"jsonrpc": "2.0", "id": rid, "method": "ping"}


def cancel(rid):
    return {"jsonrpc": "2.0", "method": "notifications/cancelled",
            "params": {"requestId": rid, "reason": "test"}}


def began(tag, secs=60):
    end = time.time() + secs
    while time.time() < end:
        if os.path.exists("%s/began-%s" % (TD, tag)):
            return True
        time.sleep(0.1)
    return False


def cancelled(what, msg, sid, version, accept, rid, tag):
    """send msg, wait for its call to run, cancel rid: (the POST, the
    seconds it took to end after the cancel, or None)"""
    p = Post(msg, sid, version, accept)
    if not began(tag):
        t.ok(False, what + ": the call runs")
        p.close()
        return p, None
    c = post(cancel(rid), sid, version)
    st = c.parts()[0]
    t.ok(st == 202, what + ": the cancellation is accepted (202)", st,
         c.buf[-300:])
    at = time.time()
    ended = p.wait(20)
    p.close()
    return p, (p.ended - at) if ended else None


sid = init("2025-11-25")
t.ok(sid, "a 2025-11-25 session over HTTP")

# an SSE stream
p, secs = cancelled("SSE", slow(11, "sse"), sid, "2025-11-25", SSE, 11,
                    "sse")
st, hdr, msgs = p.parts()
t.ok(secs is not None and st == 200 and
     hdr.get("content-type", "").startswith("text/event-stream") and
     not any(m.get("id") == 11 for m in msgs),
     "a call answered as an SSE stream, cancelled: the stream ends, with "
     "nothing for the call", secs, st, msgs)

# a JSON response
p, secs = cancelled("JSON", slow(12, "json"), sid, "2025-11-25", JSON, 12,
                    "json")
st, hdr, msgs = p.parts()
t.ok(secs is not None and st == 204 and not msgs,
     "a call to be answered with JSON, cancelled: 204 No Content", secs,
     st, p.buf[-300:])

# batches (2025-03-26)
sid3 = init("2025-03-26")
t.ok(sid3, "a 2025-03-26 session over HTTP")
p, secs = cancelled("SSE batch", [slow(21, "b1"), ping(22)], sid3,
                    "2025-03-26", SSE, 21, "b1")
st, hdr, msgs = p.parts()
t.ok(secs is not None and [m.get("id") for m in msgs] == [22] and
     "result" in msgs[0],
     "a batch of a call and a ping as an SSE stream, the call cancelled: "
     "the ping's answer, and the stream ends", secs, st, msgs)
p, secs = cancelled("JSON batch", [slow(31, "b2"), ping(32)], sid3,
                    "2025-03-26", JSON, 31, "b2")
st, hdr, msgs = p.parts()
t.ok(secs is not None and st == 200 and
     [m.get("id") for m in msgs] == [32] and "result" in msgs[0],
     "the same answered with JSON: 200 with only the ping's answer", secs,
     st, msgs)
p, secs = cancelled("a batch of one call", [slow(41, "b3")], sid3,
                    "2025-03-26", JSON, 41, "b3")
st, hdr, msgs = p.parts()
t.ok(secs is not None and st == 204 and not msgs,
     "a batch of one call answered with JSON, cancelled: 204", secs, st,
     p.buf[-300:])
p = post([slow(51, "b4"), cancel(51)], sid3, "2025-03-26", JSON)
st, hdr, msgs = p.parts()
t.ok(p.ended is not None and st == 204 and not msgs,
     "a batch of a call and its cancellation: 204 at once", st,
     p.buf[-300:])

# the sessions serve on
for s, v in ((sid, "2025-11-25"), (sid3, "2025-03-26")):
    p = post({"jsonrpc": "2.0", "id": 90, "method": "tools/call",
              "params": {"name": "Bash", "arguments": {
                  "command": "echo after-$((6*7))"}}}, s, v)
    st, hdr, msgs = p.parts()
    t.ok(any(m.get("id") == 90 and "after-42" in json.dumps(m)
             for m in msgs), "the %s session still runs a call" % v, st,
         msgs)
# what the cancelled calls started on the host is stopped too
end = time.time() + 30
while time.time() < end:
    left = subprocess.run(["pgrep", "-f", "^sleep 61.7$"],
                          stdout=subprocess.PIPE).stdout.split()
    if not left:
        break
    time.sleep(0.2)
t.ok(not left, "the cancelled calls' commands are killed on the host",
     left)
t.done()
EOF
tap_end
