#!/bin/bash
# t-httphosts: an HTTP principal sees only the hosts its client block
# lists (hosts "..."): the hosts tool, tools/list (a tool none of its
# hosts allows is not offered) and job_list (its jobs on a host a reload
# took from it, live or kept in the database, are not shown); a socket
# client still sees every host.
# regress-timeout: 200

. "$(dirname "$0")/lib.sh"

sshd_start || { tap_fail "sshd starts"; tap_end; }
P1=$(free_port)
stub_claude_install
printf '%s\n' ci-token-0123456789abcdefXYZ >"$TESTDIR/ci.token"
printf '%s\n' none-token-0123456789abcdefXYZ >"$TESTDIR/none.token"
printf '%s\n' mover-token-0123456789abcdefXYZ >"$TESTDIR/mover.token"
chmod 600 "$TESTDIR/ci.token" "$TESTDIR/none.token" "$TESTDIR/mover.token"
CONF="job retention 1h
host \"deleg2\" {
	address \"127.0.0.1\" port $SSHD_PORT
	user \"$SSH_USER\"
	identity \"$SSH_USER_KEY\"
	known hosts \"$SSH_KNOWN_HOSTS\"
	base dir \"$TESTDIR/base\"
	allow read, delegate
	delegate { claude \"$TESTDIR/bin/claude\" timeout 30 }
}
listen on 127.0.0.1 port $P1
client \"both\" { token none port $P1 hosts \"local\", \"deleg2\" }
client \"ci\" { token file \"$TESTDIR/ci.token\" port $P1 hosts \"local\" }
client \"none\" { token file \"$TESTDIR/none.token\" port $P1 }
client \"mover\" { token file \"$TESTDIR/mover.token\" port $P1
	hosts \"local\", \"deleg2\" }"

tap_check "bridged starts" bridged_start "$CONF" || tap_end

export REGRESS_DIR TESTDIR BRIDGECTL CTL_SOCK BRIDGED_CONF
tap_run timeout 150 "$PYTHON" - "$P1" <<'PY'
import http.client, json, os, subprocess, sys, time
sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client
p1 = int(sys.argv[1])
n = 0; bad = 0
def ok(cond, what, extra=""):
    global n, bad
    n += 1
    if cond: print("ok %d - %s" % (n, what))
    else:
        bad += 1
        print("not ok %d - %s" % (n, what))
        for l in str(extra).splitlines()[:10]: print("#   " + l)

class H:
    """a legacy session on the listener, as one principal"""
    def __init__(self, token):
        self.tok = token; self.sid = None; self.id = 0
        self.rpc("initialize", {"protocolVersion": "2025-11-25",
            "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}})
    def rpc(self, method, params):
        self.id += 1
        c = http.client.HTTPConnection("127.0.0.1", p1, timeout=60)
        h = {"Content-Type": "application/json",
             "Accept": "application/json, text/event-stream"}
        if self.tok: h["Authorization"] = "Bearer " + self.tok
        if self.sid:
            h["Mcp-Session-Id"] = self.sid
            h["MCP-Protocol-Version"] = "2025-11-25"
        c.request("POST", "/mcp", json.dumps({"jsonrpc": "2.0",
            "id": self.id, "method": method, "params": params}), h)
        r = c.getresponse(); body = r.read().decode()
        if self.sid is None: self.sid = r.getheader("Mcp-Session-Id")
        c.close()
        for l in body.splitlines():
            if l.startswith("data:") and l[5:].strip():
                m = json.loads(l[5:])
                if m.get("id") == self.id: return m
        return json.loads(body) if body.strip().startswith("{") else {}
    def tool(self, name, args):
        return self.rpc("tools/call", {"name": name, "arguments": args}
                        ).get("result", {})
    def tools(self):
        return [t["name"] for t in
                self.rpc("tools/list", {})["result"]["tools"]]

both = H(None)
ci = H(open(os.environ["TESTDIR"] + "/ci.token").read().strip())
none = H(open(os.environ["TESTDIR"] + "/none.token").read().strip())
names = lambda r: [h["name"] for h in
                   r.get("structuredContent", {}).get("hosts", [])]
r = ci.tool("hosts", {})
ok(names(r) == ["local"] and "deleg2" not in json.dumps(r),
   "hosts as client ci (hosts \"local\"): local only", r)
r = both.tool("hosts", {})
ok(sorted(names(r)) == ["deleg2", "local"], "hosts as client both: both",
   r)
r = none.tool("hosts", {})
ok(names(r) == [] and not r.get("isError"), "hosts as a client with no "
   "hosts: none", r)

t = none.tools()
ok("hosts" in t and "Bash" not in t and "Read" not in t and
   "ask_claude" not in t, "tools/list of a client with no hosts: no "
   "host tool is offered", t)
t = ci.tools()
ok("Bash" in t and "Write" in t and "ask_claude" not in t,
   "tools/list of ci: what local allows, no ask_claude", t)
t = both.tools()
ok("Bash" in t and "ask_claude" in t, "tools/list of both: what either "
   "host allows", t)

# jobs are their principal's; a job on a host its client block no
# longer lists (a reload took it away) is no longer shown to it
mover = H(open(os.environ["TESTDIR"] + "/mover.token").read().strip())
r = mover.tool("ask_claude", {"task": "STUB:slow 3", "host": "deleg2",
                              "background": True})
jid = r.get("structuredContent", {}).get("job_id", "")
ok(jid.startswith("job_"), "client mover starts a job on deleg2", r)
r = mover.tool("job_list", {})
ok(jid in json.dumps(r), "job_list as mover: the job", r)
conf = open(os.environ["BRIDGED_CONF"]).read()
conf = conf.replace('hosts "local", "deleg2" }', 'hosts "local" }')
open(os.environ["BRIDGED_CONF"], "w").write(conf)
rl = subprocess.run([os.environ["BRIDGECTL"], "-s", os.environ["CTL_SOCK"],
                     "reload"], capture_output=True, text=True)
ok(rl.returncode == 0, "reload: mover may use local only", rl.stderr)
t0 = time.time()
while time.time() - t0 < 30:
    r = mover.tool("hosts", {})
    if names(r) == ["local"]: break
    time.sleep(0.2)
r = mover.tool("job_list", {})
ok(not r.get("isError") and jid not in json.dumps(r) and "deleg2" not in
   json.dumps(r), "job_list as mover, while the job runs: not shown", r)
r = mover.tool("job_status", {"job_id": jid})
ok(r.get("isError") and "may not use host" in json.dumps(r),
   "job_status of it: refused", r)
# once finished, only in the database
time.sleep(4)
t0 = time.time()
while time.time() - t0 < 60:
    out = subprocess.run([os.environ["BRIDGECTL"], "-s",
        os.environ["CTL_SOCK"], "show", "jobs"], capture_output=True,
        text=True).stdout
    if jid in out and "running" not in out: break
    time.sleep(0.5)
r = mover.tool("job_list", {})
ok(not r.get("isError") and jid not in json.dumps(r),
   "job_list as mover, the job finished: not shown", r)

s = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
s.initialize()
r = s.call_tool("hosts", {})
ok(sorted(names(r)) == ["deleg2", "local"], "a socket client: every host",
   r)
r = s.call_tool("job_list", {})
ok(not r.get("isError"), "and job_list answers it", r)
s.close()
print("1..%d" % n)
sys.exit(1 if bad else 0)
PY

tap_check "bridged stops cleanly" bridged_stop
tap_end
