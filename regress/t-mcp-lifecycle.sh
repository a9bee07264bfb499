#!/bin/bash
# t-mcp-lifecycle: the MCP lifecycle and JSON-RPC framing, both directly on
# the MCP socket and through "bridgectl mcp": initialize (both versions and
# an unknown one), ping, tools/list, tools/call hosts, requests before
# initialize, the JSON-RPC error codes, ids of every JSON type, invalid
# UTF-8, a line over the configured limit; the daemon keeps serving other
# sessions through all of it and exits 0 on SIGTERM.

. "$(dirname "$0")/lib.sh"

if ! tap_check "bridged starts (line size 64K)" \
    bridged_start 'limits { line size 64K }'; then
	tap_end
fi
if [ ! -x "$BRIDGECTL" ]; then
	tap_fail "$BRIDGECTL is built"
fi

export REGRESS_DIR
tap_run "$PYTHON" - <<'EOF'
import json
import os
import sys

sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import (Client, Closed, Tap, VERSIONS, PARSE_ERROR, INVALID_REQUEST,
                       METHOD_NOT_FOUND, INVALID_PARAMS, _idkey,
                       result_text)

SOCK = os.environ["MCP_SOCK"]
CTL = os.environ["BRIDGECTL"]
T = 5.0
t = Tap()
A = object()    # stands for "the current main session" in check() args


def connect(kind):
    if kind == "socket":
        return Client(socket_path=SOCK, timeout=T)
    return Client(argv=[CTL, "mcp", SOCK], timeout=T)


def fail(msg):
    raise AssertionError(msg)


def code_of(resp):
    if not isinstance(resp, dict) or not isinstance(resp.get("error"), dict):
        fail("not an error response: %s" % json.dumps(resp))
    return resp["error"].get("code")


def send_expect(c, line, codes, want_ids=None):
    """Send a raw line (str/bytes); the next response must be an error
    with one of codes and, if want_ids is given, one of those ids."""
    c.send_raw(line)
    resp = c.recv_message()
    if resp is None:
        fail("reply is not a JSON object: %r" % c.lines[-1][:200])
    if resp.get("jsonrpc") != "2.0":
        fail("reply without jsonrpc 2.0: %s" % json.dumps(resp))
    code = code_of(resp)
    if code not in codes:
        fail("error code %r, want %r: %s" % (code, codes, json.dumps(resp)))
    if want_ids is not None and \
            _idkey(resp.get("id")) not in [_idkey(i) for i in want_ids]:
        fail("reply id %s, want one of %s" %
             (json.dumps(resp.get("id")), json.dumps(want_ids)))
    return True


def ping_answers(c, id_=None):
    r = c.request_raw("ping", id=id_)
    if r.get("result") != {}:
        fail("ping reply: %s" % json.dumps(r))
    return True


def initialized(kind, version="2025-11-25"):
    c = connect(kind)
    c.initialize(version)
    return c


def run(kind):
    t.prefix = "[%s] " % kind

    # a bystander session that must keep working through all of this
    bystander = t.check("bystander session initializes",
                        initialized, kind)

    # -- before initialize --
    a = t.check("connect", connect, kind)
    if a is None:
        return
    t.check("ping before initialize answers {}", ping_answers, a)
    t.check("tools/list before initialize is an error",
            lambda: "error" in a.request_raw("tools/list") or
            fail("got a result"))
    t.check("tools/call before initialize is an error",
            lambda: "error" in a.request_raw(
                "tools/call", {"name": "hosts", "arguments": {}}) or
            fail("got a result"))

    # -- initialize, both versions and an unknown one --
    def init_version(c, want, expect):
        res = c.initialize(want)
        got = res.get("protocolVersion")
        if got != expect:
            fail("asked %s, got %r" % (want, got))
        if not isinstance(res.get("serverInfo"), dict) or \
                not res["serverInfo"].get("name"):
            fail("no serverInfo.name: %s" % json.dumps(res))
        if not isinstance(res.get("capabilities"), dict) or \
                "tools" not in res["capabilities"]:
            fail("no tools capability: %s" % json.dumps(res))
        return True

    t.check("initialize 2025-11-25 echoes the version",
            init_version, a, "2025-11-25", "2025-11-25")
    b = connect(kind)
    t.check("initialize 2025-06-18 echoes the version",
            init_version, b, "2025-06-18", "2025-06-18")

    def init_unknown():
        c = connect(kind)
        res = c.initialize("1999-01-01")
        got = res.get("protocolVersion")
        c.close()
        if got == "1999-01-01" or not isinstance(got, str):
            fail("unknown version answered with %r" % got)
        return True
    t.check("initialize with an unknown version answers a supported one",
            init_unknown)

    def init_bad_params():
        c = connect(kind)
        r = c.request_raw("initialize", {"protocolVersion": 2025})
        c.close()
        return code_of(r) == INVALID_PARAMS or \
            fail("got %s" % json.dumps(r))
    t.check("initialize with a numeric protocolVersion is -32602",
            init_bad_params)

    # -- the basics --
    t.check("ping answers {}", ping_answers, a)

    def tools_list():
        tools = a.list_tools()
        names = [x.get("name") for x in tools]
        if "hosts" not in names:
            fail("no hosts in %s" % names)
        if len(set(names)) != len(names):
            fail("duplicate tool names: %s" % names)
        for x in tools:
            sch = x.get("inputSchema")
            if not isinstance(sch, dict) or sch.get("type") != "object":
                fail("%s: inputSchema %r" % (x.get("name"), sch))
        return True
    t.check("tools/list contains hosts; every tool has an object schema",
            tools_list)

    def hosts():
        res = a.call_tool("hosts", {}, timeout=30)
        if res.get("isError"):
            fail("isError: %s" % json.dumps(res))
        sc = res.get("structuredContent")
        if sc is None:
            sc = json.loads(result_text(res))
        names = [h.get("name") for h in sc.get("hosts", [])
                 if isinstance(h, dict)]
        if "local" not in names:
            fail("no host named local in %s" % json.dumps(res))
        return True
    t.check("tools/call hosts lists host local", hosts)
    t.check("tools/list works on a 2025-06-18 session",
            lambda: "hosts" in [x.get("name") for x in b.list_tools()])

    # From here on a dead session is reported once and replaced, so each
    # case below is judged on its own.
    def check(desc, fn, *args):
        nonlocal a
        args = [a if x is A else x for x in args]
        try:
            v = fn(*args)
        except Closed as e:
            t.ok(False, desc, "the server closed the session: %s" % e)
            try:
                a = initialized(kind)
            except Exception as e2:
                t.diag("cannot reconnect: %s" % e2)
            return None
        except Exception as e:
            t.ok(False, desc, "%s: %s" % (type(e).__name__, e))
            return None
        t.ok(bool(v), desc, "got %r" % (v,))
        return v

    # -- JSON-RPC errors --
    check("unknown method is -32601 with the request id",
          send_expect, A,
          '{"jsonrpc":"2.0","id":41,"method":"no/such/method"}',
          [METHOD_NOT_FOUND], [41])
    check("tools/call of an unknown tool is -32602",
          send_expect, A,
          '{"jsonrpc":"2.0","id":42,"method":"tools/call",'
          '"params":{"name":"no_such_tool","arguments":{}}}',
          [INVALID_PARAMS], [42])
    check("tools/call without a name is -32602",
          send_expect, A,
          '{"jsonrpc":"2.0","id":43,"method":"tools/call",'
          '"params":{"arguments":{}}}', [INVALID_PARAMS], [43])
    check("tools/call with string params is -32602 or -32600",
          send_expect, A,
          '{"jsonrpc":"2.0","id":44,"method":"tools/call",'
          '"params":"hosts"}', [INVALID_PARAMS, INVALID_REQUEST],
          [44, None])
    check("a batch array is -32600",
          send_expect, A,
          '[{"jsonrpc":"2.0","id":45,"method":"ping"}]',
          [INVALID_REQUEST], [None])
    check("an empty array is -32600",
          send_expect, A, '[]', [INVALID_REQUEST], [None])
    check("jsonrpc \"1.0\" is -32600",
          send_expect, A, '{"jsonrpc":"1.0","id":46,"method":"ping"}',
          [INVALID_REQUEST], [46, None])
    check("jsonrpc missing is -32600",
          send_expect, A, '{"id":47,"method":"ping"}',
          [INVALID_REQUEST], [47, None])
    check("jsonrpc 2 (a number) is -32600",
          send_expect, A, '{"jsonrpc":2,"id":48,"method":"ping"}',
          [INVALID_REQUEST], [48, None])
    check("a numeric method is -32600",
          send_expect, A, '{"jsonrpc":"2.0","id":49,"method":5}',
          [INVALID_REQUEST], [49, None])
    for v in ('42', '"ping"', 'null', 'true'):
        check("a bare JSON %s is -32600" % v,
              send_expect, A, v, [INVALID_REQUEST], [None])
    check("not JSON is -32700 with id null",
          send_expect, A, 'hello, world', [PARSE_ERROR], [None])
    check("truncated JSON is -32700",
          send_expect, A, '{"jsonrpc":"2.0","id":50,', [PARSE_ERROR],
          [None])
    check("invalid UTF-8 is -32700",
          send_expect, A,
          b'{"jsonrpc":"2.0","id":51,"method":"ping","x":"\xff\xfe"}',
          [PARSE_ERROR], [None])
    check("an overlong UTF-8 encoding is -32700",
          send_expect, A,
          b'{"jsonrpc":"2.0","id":52,"method":"ping","x":"\xc0\xaf"}',
          [PARSE_ERROR], [None])

    # a NUL in any string: -32602 for the request's id, never dispatched
    def nul_refused(c, line, id_):
        c.send_raw(line)
        r = c.recv_message()
        if r is None or code_of(r) != INVALID_PARAMS or \
                _idkey(r.get("id")) != _idkey(id_) or \
                r["error"].get("message") != \
                "strings must not contain NUL (\\u0000)":
            fail("reply %s" % json.dumps(r))
        return True

    check("a NUL in a value is -32602 with the request id",
          nul_refused, A, '{"jsonrpc":"2.0","id":154,"method":"ping",'
          '"params":{"x":"a\\u0000b"}}', 154)
    check("a NUL in a key is -32602 with the request id",
          nul_refused, A, '{"jsonrpc":"2.0","id":"k155","method":"ping",'
          '"params":{"a\\u0000":1}}', "k155")
    check("a NUL in the method name is -32602, not a ping",
          nul_refused, A, '{"jsonrpc":"2.0","id":156,'
          '"method":"ping\\u0000"}', 156)

    # an unknown notification gets no reply: the next reply is the ping's
    def silent_notification():
        a.notify("notifications/no_such_thing", {})
        a.send_raw('{"jsonrpc":"2.0","id":53,"method":"ping"}')
        r = a.recv_message()
        if r is None or r.get("id") != 53:
            fail("next reply was %r" % (r,))
        return True
    check("an unknown notification gets no reply", silent_notification)

    # -- ids of every JSON type --
    good = ["abc", "", "\u00fc-\u2713", 0, -1, 9007199254740991, "99"]
    for i in good:
        check("id %s is echoed" % json.dumps(i), ping_answers, A, i)

    def float_id():
        a.send_raw('{"jsonrpc":"2.0","id":1.5,"method":"ping"}')
        r = a.recv_message()
        if r is None:
            fail("no JSON reply")
        if "result" in r and _idkey(r.get("id")) == _idkey(1.5):
            return True
        if code_of(r) == INVALID_REQUEST:
            return True
        fail("reply %s" % json.dumps(r))
    check("id 1.5 is echoed or refused with -32600", float_id)
    for i in ('null', 'true', 'false', '{}', '{"a":1}', '[]', '[1]'):
        check("id %s is -32600" % i, send_expect, A,
              '{"jsonrpc":"2.0","id":%s,"method":"ping"}' % i,
                [INVALID_REQUEST], [None, json.loads(i)])

    # -- the line limit (64K in this config) --
    def near_limit():
        a.send_raw('{"jsonrpc":"2.0","id":"near","method":"ping","params":'
                   '{"_meta":{"pad":"%s"}}}' % ("x" * 60000))
        r = a.wait_response("near")
        return r.get("result") == {} or fail("reply %s" % json.dumps(r))
    check("a 60K line (under the limit) is answered", near_limit)

    def too_long():
        line = ('{"jsonrpc":"2.0","id":"huge","method":"ping","params":'
                '{"_meta":{"pad":"%s"}}}' % ("x" * 100000))
        a.send_raw(line, timeout=15)
        r = a.recv_message(timeout=15)
        if r is None or not isinstance(r.get("error"), dict):
            fail("reply %r" % (r,))
        return True
    check("a 100K line gets an error", too_long)
    check("the session answers ping after the long line",
          ping_answers, A, "after-huge")
    check("tools/call hosts still works on it",
          lambda: not a.call_tool("hosts", {}, timeout=30).get("isError"))

    # -- other sessions were not disturbed --
    if bystander is not None:
        t.check("the bystander session still answers ping",
                ping_answers, bystander)
    t.check("the 2025-06-18 session still answers ping", ping_answers, b)

    def fresh():
        c = initialized(kind)
        ok = "hosts" in [x.get("name") for x in c.list_tools()]
        c.close()
        return ok
    t.check("a new session initializes and lists tools", fresh)

    # -- unprompted output: nothing but JSON objects came back --
    garbage = [g for c in (a, b, bystander) if c is not None
               for g in c.garbage]
    t.ok(not garbage, "every line the server sent was a JSON object",
         *[repr(g[:200]) for g in garbage])

    # closing stdin ends bridgectl mcp cleanly
    for c in (b, bystander):
        if c is not None:
            c.close()
    if kind == "bridgectl":
        rc = a.close()
        t.ok(rc == 0, "bridgectl mcp exits 0 when stdin closes",
             "exit status %r" % rc)
    else:
        a.close()


for kind in ("socket", "bridgectl"):
    try:
        run(kind)
    except Exception as e:
        t.prefix = ""
        t.ok(False, "[%s] the run finished" % kind,
             "%s: %s" % (type(e).__name__, e))
sys.exit(t.done())
EOF

# clients that start together: 60 connect while the frontend cannot
# accept (stopped), non-blocking as the Node and Python SDKs do; each
# must connect and then be served.  With a listen backlog of 16 the 17th
# got EAGAIN.
FE_PID=$(pgrep -P "$BRIDGED_PID" -f '^bridged: frontend$' | head -n 1)
export FE_PID
tap_run "$PYTHON" - <<'EOF'
import errno, json, os, signal, socket, sys
sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Tap
t = Tap()
fe = int(os.environ["FE_PID"])
socks, errs = [], []
os.kill(fe, signal.SIGSTOP)
try:
    for i in range(60):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(os.environ["MCP_SOCK"])
            socks.append(s)
        except OSError as e:
            errs.append(errno.errorcode.get(e.errno, str(e.errno)))
            s.close()
finally:
    os.kill(fe, signal.SIGCONT)
t.ok(not errs, "60 clients connect at once while the frontend is busy "
     "(%d connected, errors: %s)" % (len(socks), sorted(set(errs))))
init = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                   "params": {"protocolVersion": "2025-06-18",
                              "capabilities": {},
                              "clientInfo": {"name": "burst",
                                             "version": "1"}}}) + "\n"
ok = 0
for s in socks:
    s.setblocking(True)
    s.settimeout(60)
    s.sendall(init.encode())
    buf = b""
    try:
        while b"\n" not in buf:
            b = s.recv(65536)
            if not b:
                break
            buf += b
        if b'"result"' in buf.split(b"\n")[0]:
            ok += 1
    except OSError:
        pass
for s in socks:
    s.close()
t.ok(ok == len(socks) == 60, "each of them is initialized (%d of %d)"
     % (ok, len(socks)))
sys.exit(t.done())
EOF

tap_check "bridged is still running" bridged_alive
if [ -x "$BRIDGECTL" ]; then
	tap_check "bridgectl show sessions answers" \
	    "$BRIDGECTL" -s "$CTL_SOCK" show sessions
fi
tap_check "bridged exits 0 on SIGTERM" bridged_stop

tap_end
