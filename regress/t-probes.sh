#!/bin/bash
# t-probes: a client block's "probe tools", the conformance suite's
# fixture tools served by bridged itself (fe_probes.c): offered to that
# principal only (tools/list, tools/call of anyone else: unknown tool),
# a tool that relies on a client capability refused with -32021 and
# requiredCapabilities when the client did not declare it (HTTP 400 in
# the 2026-07-28 era, 200 in the legacy one), log messages only where
# the request's log level lets them through, a progress notification
# before a streamed answer; bridged.conf's "probe tools" once per block.
# regress-timeout: 200

. "$(dirname "$0")/lib.sh"

sshd_start || { tap_fail "sshd starts"; tap_end; }
P1=$(free_port)
P2=$(free_port)
while [ "$P2" = "$P1" ]; do P2=$(free_port); done

# the configuration: printed by -nv, refused twice in one block
cat >"$TESTDIR/twice.conf" <<CONF
socket "$TESTDIR/x.sock"
user "$(id -un)"
listen on 127.0.0.1 port $P1
client "suite" { token none probe tools probe tools }
CONF
if "$BRIDGED" -n -f "$TESTDIR/twice.conf" 2>"$TESTDIR/twice.err"; then
	tap_fail "probe tools twice in a block is refused"
else
	tap_ok "probe tools twice in a block is refused"
fi
tap_check "the error names probe tools and its line" \
    grep -q "twice.conf:4: probe tools specified twice" "$TESTDIR/twice.err"

tap_check "bridged starts with a probe-tools client" bridged_start \
    "listen on 127.0.0.1 port $P1
listen on 127.0.0.1 port $P2
client \"suite\" { token none port $P1 hosts \"local\" probe tools }
client \"plain\" { token none port $P2 hosts \"local\" }" || tap_end

"$BRIDGED" -nv -f "$BRIDGED_CONF" >"$TESTDIR/nv.out" 2>/dev/null
tap_check "bridged -nv prints probe tools in its block" \
    grep -q "^	probe tools$" "$TESTDIR/nv.out"

export REGRESS_DIR
tap_run timeout 120 python3 - "$P1" "$P2" "$MCP_SOCK" <<'PY'
import http.client, json, os, sys
sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client
p1, p2, sock = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
n = 0; bad = 0
def ok(cond, what, extra=""):
    global n, bad
    n += 1
    if cond: print("ok %d - %s" % (n, what))
    else:
        bad += 1
        print("not ok %d - %s" % (n, what))
        for l in str(extra).splitlines()[:10]: print("#   " + l)

PROBES = {"test_missing_capability", "test_streaming_elicitation",
          "test_logging_tool"}
def post(port, body, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    h = {"Content-Type": "application/json",
         "Accept": "application/json, text/event-stream"}
    h.update(headers or {})
    c.request("POST", "/mcp", json.dumps(body), h)
    r = c.getresponse()
    raw = r.read().decode()
    # every JSON-RPC message of the answer, JSON or an SSE stream
    msgs = []
    if "text/event-stream" in (r.getheader("Content-Type") or ""):
        for line in raw.splitlines():
            if line.startswith("data:") and line[5:].strip():
                msgs.append(json.loads(line[5:]))
    elif raw.strip():
        msgs.append(json.loads(raw))
    c.close()
    return r.status, msgs, r.getheader("Mcp-Session-Id")

def legacy(port, caps):
    st, m, sid = post(port, {"jsonrpc": "2.0", "id": 1, "method":
        "initialize", "params": {"protocolVersion": "2025-11-25",
        "capabilities": caps, "clientInfo": {"name": "t", "version": "1"}}})
    hd = {"Mcp-Session-Id": sid or "", "MCP-Protocol-Version": "2025-11-25"}
    post(port, {"jsonrpc": "2.0", "method": "notifications/initialized"}, hd)
    return hd

def modern(port, rid, method, params, caps=None, level=None):
    meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": caps or {}}
    if level: meta["io.modelcontextprotocol/logLevel"] = level
    p = dict(params); p["_meta"] = meta
    h = {"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": method}
    if method == "tools/call": h["Mcp-Name"] = params["name"]
    return post(port, {"jsonrpc": "2.0", "id": rid, "method": method,
                       "params": p}, h)

def final(msgs, rid):
    for m in msgs:
        if m.get("id") == rid and ("result" in m or "error" in m):
            return m
    return {}

# who is offered the probes
hd = legacy(p1, {})
st, m, _ = post(p1, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, hd)
names = {t["name"] for t in final(m, 2).get("result", {}).get("tools", [])}
ok(PROBES <= names and "Bash" in names, "the probe-tools client is offered "
   "the probes besides the host tools", sorted(names))
hp = legacy(p2, {})
st, m, _ = post(p2, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, hp)
names = {t["name"] for t in final(m, 2).get("result", {}).get("tools", [])}
ok("Bash" in names and not PROBES & names, "another client is not offered "
   "them", sorted(names))
st, m, _ = post(p2, {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
    "params": {"name": "test_logging_tool", "arguments": {}}}, hp)
e = final(m, 3).get("error", {})
ok(e.get("code") == -32602 and "unknown tool: test_logging_tool" in
   e.get("message", ""), "another client calling one: unknown tool", m)
st, m, _ = modern(p2, 4, "tools/list", {})
names = {t["name"] for t in final(m, 4).get("result", {}).get("tools", [])}
ok(names and not PROBES & names, "nor in a 2026-07-28 tools/list", names)
with Client(socket_path=sock) as c:
    c.initialize()
    names = {t["name"] for t in c.request("tools/list")["tools"]}
    ok("Bash" in names and not PROBES & names, "nor on the UNIX socket",
       sorted(names))
    e = c.request("tools/call", {"name": "test_missing_capability",
                  "arguments": {}}, expect_error=True)
    ok(e.get("code") == -32602, "and a socket client calling one: unknown "
       "tool", e)

# a capability the client did not declare
st, m, _ = post(p1, {"jsonrpc": "2.0", "id": 5, "method": "tools/call",
    "params": {"name": "test_missing_capability", "arguments": {}}}, hd)
e = final(m, 5).get("error", {})
ok(st == 200 and e.get("code") == -32021 and
   e.get("data", {}).get("requiredCapabilities") == {"sampling": {}} and
   "sampling" in e.get("message", ""), "legacy, sampling not declared at "
   "initialize: -32021 naming it (HTTP 200)", (st, m))
hs = legacy(p1, {"sampling": {}})
st, m, _ = post(p1, {"jsonrpc": "2.0", "id": 6, "method": "tools/call",
    "params": {"name": "test_missing_capability", "arguments": {}}}, hs)
r = final(m, 6).get("result", {})
ok(r and not r.get("isError"), "legacy, sampling declared: answered", m)
st, m, _ = modern(p1, 7, "tools/call", {"name": "test_missing_capability",
    "arguments": {}})
e = final(m, 7).get("error", {})
ok(st == 400 and e.get("code") == -32021 and final(m, 7).get("id") == 7 and
   e.get("data", {}).get("requiredCapabilities") == {"sampling": {}},
   "2026-07-28, sampling not in _meta: HTTP 400, -32021, its id", (st, m))
st, m, _ = modern(p1, 8, "tools/call", {"name": "test_missing_capability",
    "arguments": {}}, caps={"sampling": {}})
ok(st == 200 and "result" in final(m, 8), "2026-07-28 with sampling: "
   "answered", (st, m))
st, m, _ = modern(p1, 9, "tools/call", {"name": "test_missing_capability",
    "arguments": {"x": 1}}, caps={"sampling": {}})
r = final(m, 9).get("result", {})
ok(r.get("isError") and "unknown parameter \"x\"" in
   r["content"][0]["text"], "a stray argument is refused by name", m)

# log messages follow the request's log level
def logs(msgs):
    return [x["params"]["level"] for x in msgs
            if x.get("method") == "notifications/message"]
st, m, _ = modern(p1, 10, "tools/call", {"name": "test_logging_tool",
    "arguments": {}})
ok("result" in final(m, 10) and logs(m) == [], "2026-07-28 without a "
   "logLevel: no log message", m)
st, m, _ = modern(p1, 11, "tools/call", {"name": "test_logging_tool",
    "arguments": {}}, level="debug")
ok("result" in final(m, 11) and logs(m) == ["info", "debug"],
   "logLevel debug: both messages, before the answer", m)
st, m, _ = modern(p1, 12, "tools/call", {"name": "test_logging_tool",
    "arguments": {}}, level="info")
ok(logs(m) == ["info"], "logLevel info: the info message only", m)
st, m, _ = post(p1, {"jsonrpc": "2.0", "id": 13, "method": "tools/call",
    "params": {"name": "test_logging_tool", "arguments": {}}}, hd)
ok(logs(m) == ["info"], "legacy, no setLevel: info (the default)", m)

# a streamed answer: progress first, never a request
st, m, _ = modern(p1, 14, "tools/call", {"name": "test_streaming_elicitation",
    "arguments": {}, "_meta": {}}, caps={})
ok(st == 400 and final(m, 14).get("error", {}).get("data", {}).get(
   "requiredCapabilities") == {"elicitation": {}}, "streaming probe without "
   "elicitation: -32021 naming it", (st, m))
hd2 = legacy(p1, {"elicitation": {}})
st, m, _ = post(p1, {"jsonrpc": "2.0", "id": 15, "method": "tools/call",
    "params": {"name": "test_streaming_elicitation", "arguments": {},
    "_meta": {"progressToken": "pt"}}}, hd2)
kinds = [x.get("method", "answer") for x in m]
ok(kinds == ["notifications/progress", "answer"] and
   m[0]["params"]["progressToken"] == "pt", "with elicitation and a "
   "progress token: a progress notification, then the answer", m)
ok(not any("method" in x and "id" in x for x in m), "no request from "
   "the server on the stream", m)
print("1..%d" % n)
sys.exit(1 if bad else 0)
PY

tap_check "bridged is still running" bridged_alive
tap_check "bridged stops cleanly" bridged_stop
tap_end
