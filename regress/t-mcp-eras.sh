#!/bin/bash
# t-mcp-eras: every MCP revision bridged speaks, on the MCP socket.  The
# legacy ones through initialize (2024-11-05, 2025-03-26, 2025-06-18,
# 2025-11-25): what tools/list and tools/call results hold in each, the
# progress message, batches in 2025-03-26 only.  2026-07-28 without
# initialize: server/discover, -32022 with its data, resultType and
# serverInfo in _meta, cache hints and a sorted tool list, the per-request
# log level, the methods it does not have, both eras on one connection.
# State across modern calls: a shell handle and background commands work
# from another connection of the same uid, and a second uid (nobody,
# when root) is refused them, and ask_claude jobs, as if they did not exist.

. "$(dirname "$0")/lib.sh"

sshd_start || { tap_fail "sshd starts"; tap_end; }

stub_claude_install

if ! tap_check "bridged starts" bridged_start "job retention 1h
host \"deleg\" {
	address \"127.0.0.1\" port $SSHD_PORT
	user \"$SSH_USER\"
	identity \"$SSH_USER_KEY\"
	known hosts \"$SSH_KNOWN_HOSTS\"
	base dir \"$TESTDIR/base\"
	allow read, exec, delegate
	delegate { claude \"$TESTDIR/bin/claude\" timeout 30 }
}"; then
	tap_end
fi

# a second principal: nobody must reach the socket (root only)
OTHER_UID=
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	d=$(dirname "$MCP_SOCK")
	while [ "$d" != / ]; do
		chmod o+x "$d"
		d=$(dirname "$d")
	done
	chmod 0666 "$MCP_SOCK"
	OTHER_UID=$(id -u nobody)
fi

export REGRESS_DIR TESTDIR OTHER_UID
tap_run "$PYTHON" - <<'EOF'
import json
import os
import sys
import time

sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import (Client, Tap, VERSIONS, MODERN_VERSION,
                       UNSUPPORTED_VERSION, INVALID_REQUEST,
                       METHOD_NOT_FOUND, INVALID_PARAMS, result_text)

SOCK = os.environ["MCP_SOCK"]
OTHER = os.environ.get("OTHER_UID") or None
SERVER_META = "io.modelcontextprotocol/serverInfo"
t = Tap()


def fail(msg):
    raise AssertionError(msg)


def connect():
    return Client(socket_path=SOCK, timeout=60)


def legacy(version):
    c = connect()
    c.initialize(version)
    return c


def as_other(fn):
    """fn(client) run as the other uid in a child; its JSON result."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            os.setgroups([])
            os.setgid(int(OTHER))
            os.setuid(int(OTHER))
            out = fn(connect())
        except Exception as e:
            out = {"exception": "%s: %s" % (type(e).__name__, e)}
        os.write(w, json.dumps(out).encode())
        os._exit(0)
    os.close(w)
    data = b""
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        data += b
    os.close(r)
    os.waitpid(pid, 0)
    return json.loads(data.decode())


def tool(tools, name):
    for x in tools:
        if x.get("name") == name:
            return x
    fail("no tool %s" % name)


# --- legacy: initialize per version ---
for want, expect in [(v, v) for v in VERSIONS] + [
        ("2026-07-28", "2025-11-25"), ("1999-01-01", "2025-11-25")]:
    t.check("initialize %s answers %s" % (want, expect),
            lambda: legacy(want).server_info.get("protocolVersion") ==
            expect or fail("got %r" % legacy(want).server_info))

hosts_sc = None
for v in VERSIONS:
    c = legacy(v)
    tools = c.list_tools()
    raw = c.request_raw("tools/list")["result"]
    new = v >= "2025-06-18"
    annot = v >= "2025-03-26"
    t.ok(all(("annotations" in x) == annot for x in tools),
         "%s: tools/list annotations %s" % (v, "on every tool" if annot
                                           else "absent"), tools[:2])
    t.ok(all(("title" in x) == new for x in tools if x["name"] != "x"),
         "%s: tool titles %s" % (v, "present" if new else "absent"),
         tools[:2])
    t.ok(("outputSchema" in tool(tools, "hosts")) == new and
         all("outputSchema" not in x for x in tools) != new,
         "%s: outputSchema %s" % (v, "on structured tools" if new
                                  else "on no tool"))
    t.ok("resultType" not in raw and "ttlMs" not in raw and
         "shell" not in tool(tools, "Bash")["inputSchema"]["properties"],
         "%s: no 2026-07-28 fields in tools/list" % v, raw.keys())
    r = c.call_tool("hosts", {})
    if new:
        t.ok(isinstance(r.get("structuredContent"), dict) and
             "hosts" in r["structuredContent"] and "resultType" not in r
             and "_meta" not in r,
             "%s: hosts result has structuredContent" % v, r)
        hosts_sc = r["structuredContent"]
    else:
        blocks = [json.loads(b["text"]) for b in r.get("content", [])
                  if b.get("type") == "text" and
                  b["text"].startswith("{")]
        t.ok("structuredContent" not in r and blocks and
             "hosts" in blocks[0] and "resultType" not in r,
             "%s: hosts result has its JSON in a text block only" % v, r)
    t.ok(c.request("ping") == {} and
         c.request("logging/setLevel", {"level": "debug"}) == {},
         "%s: ping and logging/setLevel" % v)
    c.close()

# --- legacy: progress message from 2025-03-26 ---
a, b = legacy("2024-11-05"), legacy("2025-03-26")
ids = {}
for c in (a, b):
    ids[c] = c.new_id()
    c.send({"jsonrpc": "2.0", "id": ids[c], "method": "tools/call",
            "params": {"name": "ask_claude", "arguments":
                       {"task": "STUB:slow 7",
                        "host": "deleg"},
                       "_meta": {"progressToken": "p"}}})
for c in (a, b):
    c.wait_response(ids[c], 60)
pa = [m["params"] for m in a.notifications
      if m.get("method") == "notifications/progress"]
pb = [m["params"] for m in b.notifications
      if m.get("method") == "notifications/progress"]
t.ok(pa and all("message" not in p for p in pa),
     "2024-11-05: progress without message", pa)
t.ok(pb and all("message" in p for p in pb),
     "2025-03-26: progress with its message", pb)
a.close()
b.close()

# --- legacy: batches in 2025-03-26 only ---
c = legacy("2025-03-26")
out = c.batch([
    {"jsonrpc": "2.0", "id": 1, "method": "ping"},
    {"jsonrpc": "2.0", "method": "notifications/nothing"},
    {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
     "params": {"name": "Bash", "arguments": {"command": "sleep 1; echo late"}}},
    {"jsonrpc": "2.0", "id": 3, "method": "tools/list"},
    {"jsonrpc": "2.0", "id": 4, "method": "no/such"},
    [1],
])
byid = {json.dumps(m.get("id")): m for m in out} if isinstance(out, list) \
    else {}
t.ok(isinstance(out, list) and len(out) == 5 and
     byid.get("1", {}).get("result") == {} and
     "late" in result_text(byid.get("2", {}).get("result", {})) and
     "tools" in byid.get("3", {}).get("result", {}) and
     byid.get("4", {}).get("error", {}).get("code") == METHOD_NOT_FOUND and
     byid.get("null", {}).get("error", {}).get("code") == INVALID_REQUEST,
     "2025-03-26: a batch is answered with one array, a late call in it",
     out)
e = c.batch([])
t.ok(isinstance(e, dict) and e.get("error", {}).get("code") ==
     INVALID_REQUEST, "2025-03-26: an empty batch is -32600", e)
e = c.batch([{"jsonrpc": "2.0", "id": 5, "method": "tools/list",
              "params": {"_meta": Client.modern_meta()}}])
t.ok(isinstance(e, list) and e[0].get("error", {}).get("code") ==
     INVALID_REQUEST, "2025-03-26: a 2026-07-28 request in a batch is -32600",
     e)
c.close()
for v in ("2024-11-05", "2025-06-18", "2025-11-25"):
    c = legacy(v)
    e = c.batch([{"jsonrpc": "2.0", "id": 1, "method": "ping"}])
    t.ok(isinstance(e, dict) and e.get("error", {}).get("code") ==
         INVALID_REQUEST and e.get("id") is None,
         "%s: a batch is -32600" % v, e)
    c.close()

# --- 2026-07-28 ---
c = connect()


def stamped(r):
    return r.get("resultType") == "complete" and \
        r.get("_meta", {}).get(SERVER_META, {}).get("name") == "bridged"


r = c.modern("server/discover")
t.ok(r.get("supportedVersions") == [MODERN_VERSION] and
     "tools" in r.get("capabilities", {}) and
     r.get("serverInfo", {}).get("name") == "bridged" and stamped(r) and
     isinstance(r.get("ttlMs"), int) and r.get("cacheScope") in
     ("public", "private"),
     "server/discover: versions, capabilities, serverInfo, cache hints", r)
r = connect().request("server/discover")
t.ok(r.get("supportedVersions") == [MODERN_VERSION] and stamped(r),
     "server/discover without _meta is answered too (the stdio probe)", r)

r1 = c.modern("tools/list")
r2 = connect().modern("tools/list")
names = [x["name"] for x in r1.get("tools", [])]
t.ok(names and names == sorted(names) and names ==
     [x["name"] for x in r2.get("tools", [])],
     "tools/list without initialize: every tool, in a deterministic order",
     names)
t.ok(stamped(r1) and isinstance(r1.get("ttlMs"), int) and
     r1["ttlMs"] >= 0 and r1.get("cacheScope") in ("public", "private"),
     "tools/list: resultType, serverInfo _meta, ttlMs, cacheScope",
     {k: v for k, v in r1.items() if k != "tools"})
bt = tool(r1["tools"], "Bash")
t.ok("shell" in bt["inputSchema"]["properties"] and
     "title" in bt and "annotations" in bt and
     "outputSchema" in tool(r1["tools"], "hosts"),
     "tools/list: Bash takes a shell handle; titles, annotations, schemas",
     bt)
e = c.modern_raw("tools/list", {"cursor": "nope"})
t.ok(e.get("error", {}).get("code") == INVALID_PARAMS,
     "tools/list: a cursor never given is -32602", e)

r = c.modern_call("hosts")
t.ok(stamped(r) and [h.get("name") for h in r.get("structuredContent",
                                                 {}).get("hosts", [])] ==
     [h.get("name") for h in hosts_sc.get("hosts")],
     "tools/call hosts: stamped, structuredContent", r)

for v in ("2099-01-01", "2025-11-25"):
    e = c.modern_raw("tools/list", version=v)
    err = e.get("error", {})
    t.ok(err.get("code") == UNSUPPORTED_VERSION and
         err.get("data", {}).get("supported") == [MODERN_VERSION] and
         err.get("data", {}).get("requested") == v and err.get("message"),
         "version %s in _meta: -32022 with data.supported and requested"
         % v, e)
e = c.request_raw("tools/list", {"_meta": {
    "io.modelcontextprotocol/protocolVersion": 20260728}})
t.ok(e.get("error", {}).get("code") == INVALID_PARAMS,
     "a version that is not a string is -32602", e)
for m in ("ping", "logging/setLevel", "initialize"):
    e = c.modern_raw(m, {"level": "info"} if m == "logging/setLevel"
                     else None)
    t.ok(e.get("error", {}).get("code") == METHOD_NOT_FOUND,
         "%s is not a 2026-07-28 method: -32601" % m, e)
r = c.modern_call("hosts", log_level="debug")
e = c.modern_raw("tools/list", log_level="verbose")
t.ok(stamped(r) and e.get("error", {}).get("code") == INVALID_PARAMS,
     "the log level comes per request in _meta; an unknown one is -32602",
     e)
e = c.request_raw("tools/list")
t.ok(e.get("error", {}).get("code") == INVALID_REQUEST,
     "without _meta the connection still needs initialize", e)
c.close()

# both eras on one connection
c = legacy("2025-03-26")
rl = c.request("tools/list")
rm = c.modern("tools/list")
rl2 = c.request("tools/list")
t.ok("resultType" not in rl and "title" not in rl["tools"][0] and
     stamped(rm) and "title" in rm["tools"][0] and rl == rl2,
     "a legacy session and modern requests share one connection")
c.close()

# --- state across modern calls: handles bound to the principal ---
c, d = connect(), connect()
r = c.modern_call("Bash", {"command": "cd /tmp && export ERAS=zq42zq && pwd"})
sh = r.get("_meta", {}).get("bridged/shell", "")
t.ok(not r.get("isError") and sh.startswith("sh_") and sh in
     result_text(r), "a modern Bash mints a shell handle and says it", r)
r = d.modern_call("Bash", {"command": "echo $ERAS; pwd", "shell": sh})
t.ok(not r.get("isError") and "zq42zq" in result_text(r) and
     "/tmp" in result_text(r) and "bridged/shell" not in r.get("_meta", {}),
     "the handle from another connection of the same uid: same shell", r)
r = d.modern_call("Bash", {"command": "echo x${ERAS}x"})
t.ok("xx" in result_text(r) and
     r.get("_meta", {}).get("bridged/shell") not in ("", None, sh),
     "Bash without a handle: a new shell, a new handle", r)
r = d.modern_call("Bash", {"command": "true", "shell": "sh_1_deadbeef"})
t.ok(r.get("isError") and "no shell" in result_text(r),
     "an unknown handle is refused", r)
r = c.modern_call("Bash", {"command": "sleep 60", "run_in_background":
                           True})
bid = ""
for w in result_text(r).replace('"', " ").split():
    if w.startswith("bash_"):
        bid = w.strip(".,:;()")
        break
r2 = d.modern_call("BashOutput", {"bash_id": bid})
t.ok(bid and not r2.get("isError"),
     "a background command's id works from another connection", r, r2)
r = c.modern_call("ask_claude", {"task": "STUB:slow 1", "host": "deleg",
                                 "background": True})
jid = r.get("structuredContent", {}).get("job_id", "")
t.ok(jid.startswith("job_"), "a modern ask_claude job", r)
r = d.modern_call("job_wait", {"job_id": jid, "timeout": 30})
t.ok(not r.get("isError"), "its job from another connection of the uid", r)
# the legacy session of the same uid has the job (jobs are the uid's)
lg = legacy("2025-11-25")
r = lg.call_tool("job_status", {"job_id": jid})
t.ok(not r.get("isError"), "and from a legacy session of the same uid", r)

if OTHER is None:
    t.skip("another uid is refused the shell handle", "not root")
    t.skip("another uid is refused the background command", "not root")
    t.skip("another uid is refused the job", "not root")
else:
    def other(cl):
        out = {}
        out["shell"] = cl.modern_call("Bash", {"command": "echo $ERAS",
                                               "shell": sh})
        out["bg"] = cl.modern_call("BashOutput", {"bash_id": bid})
        out["kill"] = cl.modern_call("KillShell", {"shell_id": bid})
        out["job"] = cl.modern_call("job_status", {"job_id": jid})
        out["list"] = cl.modern_call("job_list")
        lc = Client(socket_path=SOCK, timeout=60)
        lc.initialize()
        out["legacy_job"] = lc.call_tool("job_status", {"job_id": jid})
        return out
    o = as_other(other)
    t.ok(o.get("shell", {}).get("isError") and "no shell" in
         result_text(o["shell"]) and "zq42zq" not in result_text(o["shell"]),
         "another uid presenting the shell handle: no such shell", o)
    t.ok(o.get("bg", {}).get("isError") and o.get("kill", {}).get("isError")
         and "no background command" in result_text(o["bg"]),
         "another uid: no such background command (read nor kill)", o)
    t.ok(o.get("job", {}).get("isError") and "no job" in
         result_text(o["job"]) and o.get("legacy_job", {}).get("isError")
         and jid not in json.dumps(o.get("list")),
         "another uid: no such job, not listed, in either era", o)
    r = c.modern_call("BashOutput", {"bash_id": bid})
    t.ok(not r.get("isError"), "the owner's background command lives on", r)
c.modern_call("KillShell", {"shell_id": bid})
sys.exit(t.done())
EOF
tap_end
