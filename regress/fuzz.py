#!/usr/bin/env python3
"""fuzz.py: hostile JSON-RPC for bridged's MCP socket and HTTP listener
(t-fuzz).

  fuzz.py SOCKET SEED COUNT
  fuzz.py --http PORT TOKEN SEED COUNT

Sends COUNT messages made from well-formed ones (initialize of both eras,
ping, tools/list, a tools/call of every tool the daemon lists with
arguments made from its inputSchema, resources, prompts, logging, tasks,
completion, notifications, unknown methods) by mutating them: a member
dropped, added or given a value of another type (huge and negative
numbers, floats, deep nesting, long strings, NULs, lone surrogates),
ids of every JSON type, batches; and some as text: cut short, bytes
flipped, invalid UTF-8, control characters.  The same SEED gives the same
messages.

After every few messages a ping with an id of its own must be answered
(within 30 s), and what the server writes must be JSON-RPC: one JSON
value a line; every response jsonrpc "2.0" with a result or an error
whose code is an integer and whose message is a non-empty string; no
request answered twice.  A session the server ends is opened again (and
counted).  Prints TAP-style diagnostics and a last line "fuzz: N sent,
M answered, K sessions reopened, F faults"; exits 1 on any fault.

With --http, COUNT requests to 127.0.0.1:PORT, each on a connection of
its own: the method, path, version and headers (the bearer token right,
wrong or mangled; Content-Type, Accept, Mcp-Session-Id of a live session
or not, MCP-Protocol-Version, Content-Length right, wrong or twice,
chunked bodies good and bad, long and NUL-bearing headers) and the body
(a message as above) made hostile.  What comes back must be an HTTP/1.x
status line, a JSON answer JSON-RPC as above, and the answer to a POST
framed right with Connection: close must end (the server closes) within
10 s; after every few requests a ping, or an initialize with the right
token, must be answered 200.
"""

import json
import random
import socket
import sys
import time

MODERN = "2026-07-28"
# ids of requests sent once each: UNIQ + n, or "u" n (n counts up); other
# ids (0, "", 2**63, ...) are sent many times, and answered as often
UNIQ = 1000000
LEGACY = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")


class Conn:
    def __init__(self, path):
        self.path = path
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(30)
        self.s.connect(path)
        self.buf = b""
        self.closed = False

    def send(self, data):
        try:
            self.s.sendall(data)
        except OSError:
            self.closed = True

    def lines(self, until=None, timeout=30.0):
        """lines read until one contains the bytes until (or the
        timeout, or EOF)"""
        out = []
        end = time.time() + timeout
        while not self.closed:
            while b"\n" in self.buf:
                ln, self.buf = self.buf.split(b"\n", 1)
                out.append(ln)
                if until is not None and until in ln:
                    return out, True
            left = end - time.time()
            if left <= 0:
                break
            self.s.settimeout(left)
            try:
                b = self.s.recv(1 << 20)
            except socket.timeout:
                break
            except OSError:
                self.closed = True
                break
            if not b:
                self.closed = True
                break
            self.buf += b
        return out, False

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def rpc(method, params=None, id_=None):
    m = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        m["params"] = params
    if id_ is not None:
        m["id"] = id_
    return m


def modern_meta():
    return {"io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientInfo": {"name": "fuzz",
                                                   "version": "0"},
            "io.modelcontextprotocol/clientCapabilities": {}}


class Fuzz:
    def __init__(self, path, seed, tools):
        self.path = path
        self.r = random.Random(seed)
        self.tools = tools
        self.nid = 0
        self.faults = []
        self.sent = 0
        self.answered = 0
        self.reopened = 0
        self.seen = set()
        self.c = None
        self.open()

    def fault(self, what):
        if len(self.faults) < 50:
            print("# FAULT: " + what[:600])
        self.faults.append(what)

    def open(self):
        if self.c is not None:
            self.c.close()
        self.c = Conn(self.path)
        self.seen = set()
        self.c.send(json.dumps(rpc("initialize", {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "fuzz", "version": "0"}},
            "init")).encode() + b"\n")
        self.c.send(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
        got, ok = self.c.lines(b'"init"')
        self.check(got)
        if not ok:
            self.fault("a new session was not initialized")

    # --- values ---

    def value(self, depth=0):
        r = self.r
        k = r.randrange(16)
        if k == 0:
            return None
        if k == 1:
            return r.choice([True, False])
        if k == 2:
            return r.choice([0, -1, 1, 2**31, -2**31 - 1, 2**53 + 1,
                             2**63, -2**63 - 1, 2**64, 10**30])
        if k == 3:
            return r.choice([0.5, -1e308, 1e308, 1e-320, 3.0, -0.0])
        if k == 4:
            return ""
        if k == 5:
            return "x" * r.choice([1, 255, 4096, 70000, 300000])
        if k == 6:
            return r.choice(["\u0000", "a\u0000b", "\ud800", "\udfff",
                             "\u202e", "\ufeff", "%s%n%x", "../../etc",
                             "/", "//", "/..", "*", "**/*", "[", "(",
                             "\\", "'", "\"", "$(x)", "`x`", "\n", "\r\n",
                             "caf\u00e9", "\U0001f600"])
        if k == 7 and depth < 3:
            return [self.value(depth + 1) for _ in range(r.randrange(4))]
        if k == 8 and depth < 3:
            return {self.key(): self.value(depth + 1)
                    for _ in range(r.randrange(4))}
        if k == 9:
            d = r.choice([50, 200, 2000])
            v = []
            for _ in range(d):
                v = [v]
            return v
        if k == 10:
            d = r.choice([50, 200, 2000])
            v = {}
            for _ in range(d):
                v = {"a": v}
            return v
        if k == 11:
            return {str(i): i for i in range(r.choice([100, 3000]))}
        if k == 12:
            return list(range(r.choice([100, 20000])))
        if k == 13:
            return r.choice(["true", "null", "0", "1e9", "-1", "NaN"])
        return "s%d" % r.randrange(1000)

    def key(self):
        return self.r.choice(["id", "jsonrpc", "method", "params", "result",
                              "error", "_meta", "name", "arguments", "host",
                              "command", "file_path", "cursor", "task",
                              "", "\u0000", "x" * 300, "__proto__",
                              "k%d" % self.r.randrange(100)])

    def ident(self):
        r = self.r
        self.nid += 1
        k = r.randrange(10)
        if k < 5:
            return UNIQ + self.nid
        if k < 8:
            return "u%d" % self.nid
        return r.choice([None, 1.5, -1, 0, 2**63, [], {}, True, "",
                         "x" * 5000])

    # --- messages ---

    def args_for(self, schema):
        out = {}
        props = (schema or {}).get("properties") or {}
        for name, p in props.items():
            if self.r.random() < 0.3:
                continue
            t = p.get("type")
            if t == "string":
                out[name] = self.r.choice(["fuzz.txt", "/nonexistent",
                                           "sub/a.txt", "echo fuzz",
                                           "true", "*.txt", "fuzz",
                                           "bash_1", "task-1"])
            elif t in ("integer", "number"):
                out[name] = self.r.choice([0, 1, 10, 1000, -5])
            elif t == "boolean":
                out[name] = self.r.choice([True, False])
            elif t == "array":
                out[name] = ["fuzz.txt"]
            elif t == "object":
                out[name] = {}
            else:
                out[name] = self.value()
        return out

    def base(self):
        r = self.r
        k = r.randrange(14)
        if k < 6 and self.tools:
            t = r.choice(self.tools)
            p = {"name": t["name"], "arguments":
                 self.args_for(t.get("inputSchema"))}
            if r.random() < 0.3:
                p["_meta"] = modern_meta()
            return rpc("tools/call", p, self.ident())
        if k == 6:
            return rpc("initialize", {"protocolVersion":
                                      r.choice(LEGACY + (MODERN, "1999")),
                                      "capabilities": {},
                                      "clientInfo": {"name": "f",
                                                     "version": "1"}},
                       self.ident())
        if k == 7:
            return rpc("tools/list", r.choice([None, {}, {"cursor": "x"},
                                               {"_meta": modern_meta()}]),
                       self.ident())
        if k == 8:
            return rpc(r.choice(["ping", "resources/list", "prompts/list",
                                 "resources/templates/list",
                                 "server/discover"]),
                       r.choice([None, {}, {"_meta": modern_meta()}]),
                       self.ident())
        if k == 9:
            return rpc("logging/setLevel",
                       {"level": r.choice(["debug", "error", "bogus", 3])},
                       self.ident())
        if k == 10:
            return rpc(r.choice(["tasks/get", "tasks/result",
                                 "tasks/cancel", "tasks/list"]),
                       {"taskId": r.choice(["t1", "", 5, None])},
                       self.ident())
        if k == 11:
            return rpc("completion/complete",
                       {"ref": {"type": "ref/prompt", "name": "x"},
                        "argument": {"name": "a", "value": "b"}},
                       self.ident())
        if k == 12:
            return rpc(r.choice(["notifications/cancelled",
                                 "notifications/initialized",
                                 "notifications/progress",
                                 "notifications/roots/list_changed"]),
                       {"requestId": r.choice([1, "f1", None]),
                        "reason": "fuzz"})
        return rpc(r.choice(["nope", "", "tools/", "rpc.x", "\u0000",
                             "tools/call/x"]), {}, self.ident())

    def mutate(self, m, depth=0):
        """one structural change somewhere in m (a dict or list)"""
        r = self.r
        if isinstance(m, dict) and m:
            k = r.choice(list(m))
            c = r.randrange(5)
            if c == 0:
                del m[k]
            elif c == 1:
                m[self.key()] = self.value()
            elif c == 2 and isinstance(m[k], (dict, list)) and depth < 4:
                self.mutate(m[k], depth + 1)
            else:
                m[k] = self.value()
        elif isinstance(m, list) and m:
            i = r.randrange(len(m))
            if isinstance(m[i], (dict, list)) and depth < 4:
                self.mutate(m[i], depth + 1)
            else:
                m[i] = self.value()
        return m

    def message(self):
        """bytes of one line to send, and the id a response may carry"""
        r = self.r
        if r.random() < 0.08:
            batch = [self.base() for _ in range(r.randrange(0, 5))]
            for b in batch:
                if r.random() < 0.5:
                    self.mutate(b)
            text = json.dumps(batch)
        else:
            m = self.base()
            for _ in range(r.choice([0, 1, 1, 2, 3])):
                self.mutate(m)
            text = json.dumps(m, ensure_ascii=r.random() < 0.5)
        data = text.encode("utf-8", "surrogatepass")
        c = r.randrange(12)
        if c == 0 and data:
            data = data[:r.randrange(len(data))]
        elif c == 1 and data:
            b = bytearray(data)
            for _ in range(r.randrange(1, 6)):
                b[r.randrange(len(b))] = r.randrange(256)
            data = bytes(b).replace(b"\n", b" ")
        elif c == 2:
            i = r.randrange(len(data) + 1)
            data = data[:i] + r.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80",
                                        b"\xf4\x90\x80\x80", b"\x00",
                                        b"\x1b[2J", b"\r", b"\xe2\x80"]) + \
                data[i:]
        elif c == 3:
            data = r.choice([b"", b" ", b"{", b"}", b"[]", b"[", b"null",
                             b"1", b"\"x\"", b"{}", b"{\"jsonrpc\":\"2.0\"}",
                             b"\xef\xbb\xbf{}", b"{\"a\":1}{\"b\":2}"])
        return data

    # --- checks ---

    def check(self, lines):
        for ln in lines:
            try:
                v = json.loads(ln)
            except ValueError:
                self.fault("not JSON from the server: %r" % ln[:300])
                continue
            for o in (v if isinstance(v, list) else [v]):
                self.check_one(o, ln)

    def check_one(self, o, ln):
        if not isinstance(o, dict) or o.get("jsonrpc") != "2.0":
            self.fault("not a JSON-RPC 2.0 message: %r" % ln[:300])
            return
        if "method" in o:
            return		# a notification or a request of the server's
        if ("result" in o) == ("error" in o):
            self.fault("a response needs a result or an error: %r" %
                       ln[:300])
            return
        self.answered += 1
        if "error" in o:
            e = o["error"]
            if not isinstance(e, dict) or \
                    not isinstance(e.get("code"), int) or \
                    isinstance(e.get("code"), bool) or \
                    not isinstance(e.get("message"), str) or \
                    not e["message"].strip():
                self.fault("an error without a code and a message: %r" %
                           ln[:300])
        i = o.get("id")
        if (isinstance(i, int) and not isinstance(i, bool) and
                UNIQ < i < 2 * UNIQ) or (isinstance(i, str) and
                                         i[:1] == "u" and i[1:].isdigit()):
            k = json.dumps(i)
            if k in self.seen:
                self.fault("id %s answered twice: %r" % (k[:60], ln[:300]))
            self.seen.add(k)

    def live(self, n):
        pid = "live-%d" % n
        self.c.send(json.dumps(rpc("ping", None, pid)).encode() + b"\n")
        got, ok = self.c.lines(('"%s"' % pid).encode())
        self.check(got)
        if ok:
            return True
        if self.c.closed:
            return False
        self.fault("no answer to ping %s within 30 s" % pid)
        return False

    def run(self, count):
        for n in range(count):
            data = self.message()
            self.c.send(data + b"\n")
            self.sent += 1
            if n % 8 == 7 or self.c.closed:
                if not self.live(n):
                    if self.c.closed:
                        self.reopened += 1
                    self.open()
        if not self.live(count):
            self.fault("the last ping was not answered")


class HttpFuzz(Fuzz):
    def __init__(self, port, token, seed, tools):
        self.port = port
        self.token = token
        self.sid = None
        Fuzz.__init__(self, None, seed, tools)

    def open(self):
        self.seen = set()
        st, hdr, body = self.request(self.plain(json.dumps(rpc(
            "initialize", {"protocolVersion": "2025-11-25",
                           "capabilities": {},
                           "clientInfo": {"name": "fuzz", "version": "0"}},
            "init")).encode(), self.token), 30)
        if st != 200:
            self.fault("initialize with the right token: %r %r" %
                       (st, body[:200]))
            return False
        self.sid = hdr.get("mcp-session-id")
        return True

    def plain(self, body, token, sid=None):
        h = ["POST /mcp HTTP/1.1", "Host: 127.0.0.1:%d" % self.port,
             "Content-Type: application/json",
             "Accept: application/json, text/event-stream",
             "Connection: close", "Content-Length: %d" % len(body)]
        if token:
            h.append("Authorization: Bearer " + token)
        if sid:
            h.append("Mcp-Session-Id: " + sid)
            h.append("MCP-Protocol-Version: 2025-11-25")
        return ("\r\n".join(h) + "\r\n\r\n").encode() + body

    def request(self, data, timeout):
        """(status or None, headers, body) of one request on its own
        connection; None: no status line came (closed, or nothing in
        time)"""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(timeout)
        buf = b""
        self.ended = False
        try:
            s.connect(("127.0.0.1", self.port))
            s.sendall(data)
            end = time.time() + timeout
            while time.time() < end:
                s.settimeout(max(0.05, end - time.time()))
                b = s.recv(1 << 20)
                if not b:
                    self.ended = True
                    break
                buf += b
        except (socket.timeout, OSError):
            pass
        finally:
            s.close()
        if not buf:
            return None, {}, b""
        head, _, body = buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or \
                not parts[1].isdigit() or len(parts[1]) != 3:
            self.fault("not an HTTP status line: %r" % lines[0][:200])
            return None, {}, b""
        hdr = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(b":")
            hdr[k.strip().lower().decode("latin-1")] = \
                v.strip().decode("latin-1")
        if hdr.get("transfer-encoding", "").lower() == "chunked":
            body = dechunk(body)
        elif hdr.get("content-length", "").isdigit():
            # what follows is another answer (evhttp answers a request
            # sent after ours on the connection, as "GET / ..." in one)
            body = body[:int(hdr["content-length"])]
        return int(parts[1]), hdr, body

    def hostile(self):
        """a request: right in all but a few of its parts (none, one, or
        a few), the body a hostile message or a plain one; and whether
        it is whole (framed right, to be answered and closed: a POST with
        Connection: close)"""
        r = self.r
        body = self.message() if r.random() < 0.6 else \
            json.dumps(self.base()).encode()
        line = ["POST", "/mcp", "HTTP/1.1"]
        hdr = {"Host": "127.0.0.1:%d" % self.port,
               "Content-Type": "application/json",
               "Accept": "application/json, text/event-stream",
               "Authorization": "Bearer " + self.token,
               "Mcp-Session-Id": self.sid,
               "MCP-Protocol-Version": "2025-11-25",
               "Connection": "close"}
        if r.random() < 0.3:
            # 2026-07-28: no session; the headers say what the body does
            m = self.base()
            if isinstance(m.get("params"), dict) or "params" not in m:
                m.setdefault("params", {})["_meta"] = modern_meta()
            if r.random() < 0.5:
                self.mutate(m)
            body = json.dumps(m).encode()
            del hdr["Mcp-Session-Id"]
            hdr["MCP-Protocol-Version"] = MODERN
            if isinstance(m, dict) and isinstance(m.get("method"), str):
                hdr["Mcp-Method"] = m["method"]
                prm = m.get("params")
                if isinstance(prm, dict) and isinstance(prm.get("name"),
                                                        str):
                    hdr["Mcp-Name"] = prm["name"]
                    a = prm.get("arguments")
                    if isinstance(a, dict) and isinstance(a.get("host"),
                                                          str):
                        hdr["Mcp-Param-Host"] = r.choice(
                            [a["host"], "=?base64?bG9jYWw=?=", "other",
                             "=?base64?!!?="])
        extra = []
        frame = "length"
        for _ in range(r.choice([0, 0, 1, 1, 1, 2, 3])):
            c = r.randrange(16)
            if c == 0:
                line[0] = r.choice(["GET", "DELETE", "PUT", "OPTIONS",
                                    "HEAD", "P\x00ST", "x" * 300, ""])
            elif c == 1:
                line[1] = r.choice(["/", "/mcp/", "/mcp?x=1",
                                    "/mcp/../mcp", "/%00", "*", "mcp",
                                    "/" + "a" * 9000])
            elif c == 2:
                line[2] = r.choice(["HTTP/1.0", "HTTP/2.0", "HTTP/1.1x",
                                    "", "HTTP/9"])
            elif c == 3:
                tok = r.choice(["", "wrong", self.token + "x",
                                self.token[:-1], "x" * 9000])
                hdr["Authorization"] = r.choice(
                    ["Bearer " + tok, "bearer " + self.token,
                     "Bearer  " + self.token, "Basic " + self.token,
                     "Bearer", self.token])
            elif c == 4:
                hdr["Mcp-Session-Id"] = r.choice(
                    [None, "", "nope", "x" * 5000,
                     (self.sid or "") + "\x00", (self.sid or "")[:-1]])
            elif c == 5:
                hdr["MCP-Protocol-Version"] = r.choice(
                    [None, "2025-06-18", MODERN, "bogus", ""])
            elif c == 6:
                hdr["Content-Type"] = r.choice(
                    [None, "text/plain", "", "multipart/form-data",
                     "application/json; charset=latin1"])
            elif c == 7:
                hdr["Accept"] = r.choice([None, "application/json",
                                          "text/event-stream", "*/*", "",
                                          "x" * 3000])
            elif c == 8:
                del hdr[r.choice(list(hdr))]
            elif c == 9:
                frame = "chunked"
            elif c == 10:
                frame = r.choice(["badchunk", "twolengths", "badlength",
                                  "nolength", "longer"])
            elif c == 11:
                extra.append("X-" + "a" * r.choice([100, 9000]) + ": b")
            elif c == 12:
                extra.extend("X-N%d: %d" % (i, i) for i in range(200))
            elif c == 13:
                extra.append(r.choice(["X-Bad: a\x00b", "Bad Header Line",
                                       " folded: x", "X-Bad: \x1b[2J"]))
            elif c == 14:
                body = b""
            else:
                body = json.dumps(rpc("DELETE-me", {}, self.ident())).encode() \
                    if r.random() < 0.5 else body * r.choice([2, 50])
        h = [" ".join(line)]
        h.extend("%s: %s" % (k, v) for k, v in hdr.items() if v is not None)
        h.extend(extra)
        if frame == "chunked":
            h.append("Transfer-Encoding: chunked")
            body = b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
        elif frame == "badchunk":
            h.append("Transfer-Encoding: chunked")
            body = r.choice([b"zz\r\n", b"-1\r\n", b"fffffffffffffffff\r\n",
                             b"5\r\nab\r\n0\r\n\r\n"])
        elif frame == "twolengths":
            h.append("Content-Length: %d" % len(body))
            h.append("Content-Length: %d" % (len(body) + 1))
        elif frame == "badlength":
            h.append("Content-Length: %s" % r.choice(
                ["-1", "x", "", "99999999999999999999", "0"]))
        elif frame == "longer":
            h.append("Content-Length: %d" % len(body))
            body += b"GET / HTTP/1.1\r\n\r\n"
        elif frame == "length":
            h.append("Content-Length: %d" % len(body))
        whole = line[0] == "POST" and frame in ("length", "chunked") and \
            hdr.get("Connection") == "close" and \
            not any(x.startswith(" ") for x in extra)
        return ("\r\n".join(h) + "\r\n\r\n").encode("latin-1") + body, \
            whole

    def answer(self, st, hdr, body):
        if st is None:
            return
        ct = hdr.get("content-type", "")
        if ct.startswith("application/json") and body:
            self.check([body])
        elif ct.startswith("text/event-stream"):
            for ln in body.split(b"\n"):
                if ln.startswith(b"data:") and ln[5:].strip():
                    self.check([ln[5:].strip()])

    def live(self, n):
        st, hdr, body = self.request(self.plain(json.dumps(rpc(
            "ping", None, "live-%d" % n)).encode(), self.token, self.sid),
            30)
        if st != 200:
            # the session may be gone (a DELETE of it): a new one
            return self.open()
        self.answer(st, hdr, body)
        return True

    def run(self, count):
        self.statuses = {}
        for n in range(count):
            req, whole = self.hostile()
            # a whole request is answered and its connection closed
            # (none here takes seconds); one cut short may be waited on
            st, hdr, body = self.request(req, 10 if whole else 1.5)
            if whole and st is not None and not self.ended:
                self.fault("a response that did not end in 10 s (status "
                           "%s) to: %r" % (st, req[-300:]))
            self.sent += 1
            self.statuses[st] = self.statuses.get(st, 0) + 1
            self.answer(st, hdr, body)
            if n % 10 == 9 and not self.live(n):
                self.fault("no 200 for a ping or a new initialize after "
                           "request %d" % n)
        if not self.live(count):
            self.fault("the last ping was not answered")


def dechunk(b):
    out = b""
    while b:
        size, _, rest = b.partition(b"\r\n")
        try:
            n = int(size.split(b";")[0], 16)
        except ValueError:
            return out
        if n == 0:
            break
        out += rest[:n]
        b = rest[n + 2:]
    return out


def http_main(port, token, seed, count):
    f = HttpFuzz(port, token, seed, [])
    st, hdr, body = f.request(f.plain(json.dumps(rpc("tools/list", None,
                                                     2)).encode(),
                                      token, f.sid), 30)
    if hdr.get("content-type", "").startswith("text/event-stream"):
        body = b"".join(ln[5:].strip() for ln in body.split(b"\n")
                        if ln.startswith(b"data:") and ln[5:].strip())
    try:
        f.tools = json.loads(body)["result"]["tools"]
    except (ValueError, KeyError, TypeError):
        print("fuzz: no tools/list answer over HTTP: %r %r" %
              (st, body[:200]))
        return 1
    t0 = time.time()
    f.run(count)
    print("# %d tools; %.1f s; statuses: %s" % (
        len(f.tools), time.time() - t0,
        ", ".join("%s %d" % ("none" if k is None else k, v) for k, v in
                  sorted(f.statuses.items(), key=lambda kv: str(kv[0])))))
    print("fuzz: %d sent, %d answered, %d sessions reopened, %d faults" %
          (f.sent, f.answered, f.reopened, len(f.faults)))
    return 1 if f.faults else 0


def main():
    sys.setrecursionlimit(20000)	# json.dumps of 2000 levels
    if sys.argv[1] == "--http":
        return http_main(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]),
                         int(sys.argv[5]))
    path, seed, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    c = Conn(path)
    c.send(json.dumps(rpc("initialize", {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "fuzz", "version": "0"}}, 1)).encode() + b"\n")
    c.send(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
    c.send(b'{"jsonrpc":"2.0","id":2,"method":"tools/list"}\n')
    got, ok = c.lines(b'"id":2')
    tools = []
    for ln in got:
        try:
            o = json.loads(ln)
        except ValueError:
            continue
        if o.get("id") == 2:
            tools = o.get("result", {}).get("tools", [])
    c.close()
    if not tools:
        print("fuzz: no tools/list answer")
        return 1
    f = Fuzz(path, seed, tools)
    t0 = time.time()
    f.run(count)
    f.c.close()
    print("# %d tools; %.1f s" % (len(tools), time.time() - t0))
    print("fuzz: %d sent, %d answered, %d sessions reopened, %d faults" %
          (f.sent, f.answered, f.reopened, len(f.faults)))
    return 1 if f.faults else 0


if __name__ == "__main__":
    sys.exit(main())
