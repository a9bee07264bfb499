#!/bin/bash
# t-stdio: bridged -i, MCP on the daemon's own stdin and stdout for a
# client that spawns it.  A python client over pipes: initialize,
# tools/list, a Bash call on the harness sshd, a 2026-07-28 request,
# stdout carrying nothing but JSON lines, the session in show sessions
# as "stdio" with the uid as principal, no MCP socket bound; a call in
# flight when stdin closes is still answered (the drain), then exit 0
# with no process left.  Refusals: no config, stdin not a pipe.  Then
# the TypeScript SDK's StdioClientTransport (1.11 and v2) spawns it.
# regress-timeout: 300

. "$(dirname "$0")/lib.sh"

sshd_start || { tap_fail "sshd starts"; tap_end; }
bridged_config "" || { tap_fail "config written"; tap_end; }

# cannot start: non-zero, a one-line reason on stderr, nothing on stdout
check_refused()
{
	local what=$1 rc; shift

	"$@" >"$TESTDIR/ref.out" 2>"$TESTDIR/ref.err"
	rc=$?
	if [ $rc -ne 0 ] && [ ! -s "$TESTDIR/ref.out" ] &&
	    [ "$(wc -l <"$TESTDIR/ref.err")" -eq 1 ] &&
	    grep -q "$what" "$TESTDIR/ref.err"; then
		return 0
	fi
	echo "rc $rc; stdout: $(head -c 300 "$TESTDIR/ref.out")" >&2
	echo "stderr: $(head -c 600 "$TESTDIR/ref.err")" >&2
	return 1
}
tap_check "-i without its config: exit non-zero, one line saying why" \
    check_refused "no-such.conf" \
    sh -c 'echo | "$0" -i -f "$1"' "$BRIDGED" "$TESTDIR/no-such.conf"
tap_check "-i with stdin not a pipe, socket or terminal: refused, saying so" \
    check_refused "stdin must be a pipe" \
    sh -c 'echo | "$0" -i -f "$1" </dev/null' "$BRIDGED" "$BRIDGED_CONF"

export REGRESS_DIR
tap_run timeout 200 python3 - "$BRIDGED" "$BRIDGED_CONF" "$BRIDGECTL" \
    "$CTL_SOCK" "$MCP_SOCK" "$TESTDIR" <<'PY'
import json, os, subprocess, sys, time
sys.path.insert(0, os.environ["REGRESS_DIR"])
import mcpclient
bridged, conf, bridgectl, ctl, mcpsock, tdir = sys.argv[1:]
n = 0; bad = 0
def ok(cond, what, extra=""):
    global n, bad
    n += 1
    print("%sok %d - %s" % ("" if cond else "not ", n, what))
    if not cond:
        bad += 1
        if extra:
            print("# " + str(extra)[:800].replace("\n", "\n# "))
def pure(c):
    # every line on stdout is one JSON object: nothing else goes there
    for l in c.lines:
        try:
            v = json.loads(l)
        except ValueError:
            return l
        if not isinstance(v, dict) or v.get("jsonrpc") != "2.0":
            return l
    return None
def children(pid):
    r = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                       text=True)
    return [int(x) for x in r.stdout.split()]
def gone(pids, secs=20):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        left = [p for p in pids if os.path.exists("/proc/%d" % p) and
                open("/proc/%d/stat" % p).read().split()[2] != "Z"]
        if not left:
            return []
        time.sleep(0.1)
    return left
def ctl_run(*args):
    return subprocess.run([bridgectl, "-s", ctl] + list(args),
                          capture_output=True, text=True, timeout=30)

err = open(os.path.join(tdir, "stdio1.err"), "w")
c = mcpclient.Client(argv=[bridged, "-i", "-f", conf], stderr=err,
                     timeout=60)
init = c.initialize()
ok(init.get("serverInfo", {}).get("name") == "bridged",
   "initialize over stdin/stdout", init)
names = [t["name"] for t in c.list_tools()]
ok("Bash" in names and "Read" in names, "tools/list has Bash and Read",
   names)
r = c.call_tool("Bash", {"command": "echo stdio-$((6*7))"})
ok(not r.get("isError") and "stdio-42" in mcpclient.result_text(r),
   "a Bash call runs on the harness sshd", r)
m = c.modern("tools/list")
ok("Bash" in [t["name"] for t in m.get("tools", [])],
   "a 2026-07-28 request (tools/list, _meta envelope) is served", m)
# the control socket is there; the MCP socket is not (one session)
deadline = time.monotonic() + 20
while not os.path.exists(ctl) and time.monotonic() < deadline:
    time.sleep(0.1)
ok(not os.path.exists(mcpsock), "no MCP socket is bound with -i")
s = ctl_run("show", "sessions")
ok(s.returncode == 0 and "stdio" in s.stdout and
   ("uid %d" % os.getuid()) in s.stdout,
   "show sessions: transport stdio, principal the uid", s.stdout + s.stderr)
kids = children(c.proc.pid)
ok(len(kids) >= 2, "the parent forked its children (frontend, logger...)",
   kids)
ok(os.readlink("/proc/%d/fd/1" % c.proc.pid) == "/dev/null" and
   os.readlink("/proc/%d/fd/0" % c.proc.pid) == "/dev/null",
   "the daemon's own fd 0 and 1 are /dev/null: only the frontend has them")
# a call in flight when stdin closes is answered, then bridged exits 0
rid = c.new_id()
c.send({"jsonrpc": "2.0", "id": rid, "method": "tools/call",
        "params": {"name": "Bash",
                   "arguments": {"command": "sleep 1; echo drained"}}})
time.sleep(0.2)
c.close_write()
resp = c.wait_response(rid, timeout=60)
ok("drained" in mcpclient.result_text(resp.get("result", {})),
   "a call in flight at EOF on stdin is still answered", resp)
pid = c.proc.pid
try:
    rc = c.proc.wait(60)
except subprocess.TimeoutExpired:
    rc = None
ok(rc == 0, "EOF on stdin: bridged exits 0", rc)
ok(gone(kids) == [], "no process is left", gone(kids, 1))
ok(not os.path.exists(ctl), "its control socket is removed")
ok(pure(c) is None and not c.garbage,
   "stdout carried only JSON-RPC lines", pure(c) or c.garbage)
c.proc.stdout.close()
c.proc = None
err.close()
e = open(os.path.join(tdir, "stdio1.err")).read()
ok("session 1: connected (stdio)" in e,
   "the daemon's log went to stderr", e[-600:])

# the client goes altogether (both pipes closed): bridged exits too
err = open(os.path.join(tdir, "stdio2.err"), "w")
c = mcpclient.Client(argv=[bridged, "-i", "-f", conf], stderr=err,
                     timeout=60)
c.initialize()
kids = children(c.proc.pid)
c.proc.stdin.close()
c.proc.stdout.close()
try:
    rc = c.proc.wait(60)
except subprocess.TimeoutExpired:
    rc = None
ok(rc == 0 and gone(kids) == [],
   "a client that closes both pipes: bridged exits 0, nothing left", rc)
c.proc = None
print("1..%d" % n)
sys.exit(1 if bad else 0)
PY

NODE_DIR=$REGRESS_DIR/node
if [ ! -d "$NODE_DIR/node_modules/@modelcontextprotocol/client" ]; then
	tap_fail "the pinned MCP clients are installed (run make deps)"
	tap_end
fi
for which in v1.11 v2; do
	tap_run timeout 120 node "$NODE_DIR/sdk-client.mjs" "$which" \
	    "$BRIDGED" -i -f "$BRIDGED_CONF" "$TESTDIR/base"
done
tap_end
