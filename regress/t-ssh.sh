#!/bin/bash
# t-ssh: the ssh worker's connections end to end: strict host keys (an
# unknown key, a changed key, a pinned key that matches and one that does
# not, @revoked, hashed entries, wildcard patterns), authentication
# failures, a host that is down, an identity the parent cannot read;
# bridgectl show hosts (state, fingerprint, last error, bytes, channels);
# killing the sshd process that serves our connection: the next call
# reconnects, warns that the shell state was reset, and works.

. "$(dirname "$0")/lib.sh"

sshd_start || { tap_fail "sshd starts"; tap_end; }

KH=$SSH_KNOWN_HOSTS
PORT=$SSHD_PORT
ssh-keygen -q -t ed25519 -N '' -C other-host -f "$TESTDIR/other_host"
ssh-keygen -q -t ed25519 -N '' -C other-user -f "$TESTDIR/other_user"
OTHER=$(cut -d' ' -f1,2 "$TESTDIR/other_host.pub")
echo "[127.0.0.1]:$PORT $OTHER" >"$TESTDIR/kh_changed"
# bridged checks known hosts and identities when it starts, so these
# become bad after the start (as files do that change under a daemon)
badfiles()
{
	echo "# nothing for us here" >"$TESTDIR/kh_unknown"
	echo "127.0.0.1 $SSH_HOST_KEY_PUB" >>"$TESTDIR/kh_unknown"
	cp "$KH" "$TESTDIR/kh_hashed"
	ssh-keygen -q -H -f "$TESTDIR/kh_hashed" >/dev/null 2>&1
	rm -f "$TESTDIR/kh_hashed.old" "$TESTDIR/no_such_key"
}
for f in kh_unknown kh_hashed; do
	cp "$KH" "$TESTDIR/$f"
done
cp "$SSH_USER_KEY" "$TESTDIR/no_such_key"
chmod 0600 "$TESTDIR/no_such_key"
{ echo "@revoked [127.0.0.1]:$PORT $SSH_HOST_KEY_PUB"; cat "$KH"; } \
    >"$TESTDIR/kh_revoked"
{ echo "# comment"; echo; echo "other.example,!nope,[127.0.0.?]:$PORT" \
    "$SSH_HOST_KEY_PUB a comment"; } >"$TESTDIR/kh_wild"
DOWN=$(free_port)
# nothing listens there, but -n wants the host in known hosts
echo "[127.0.0.1]:$DOWN $SSH_HOST_KEY_PUB" >"$TESTDIR/kh_down"

# host NAME [extra lines]: a host like "local" with some lines changed
hostblock()
{
	local name=$1 kh=$2 key=$3 port=$4 extra=$5
	cat <<EOB
host "$name" {
	address "127.0.0.1" port $port
	user "$SSH_USER"
	identity "$key"
	$kh
	$extra
	base dir none
	allow exec
}
EOB
}

EXTRA=$(
	hostblock changed "known hosts \"$TESTDIR/kh_changed\"" \
	    "$SSH_USER_KEY" "$PORT"
	hostblock unknown "known hosts \"$TESTDIR/kh_unknown\"" \
	    "$SSH_USER_KEY" "$PORT"
	hostblock revoked "known hosts \"$TESTDIR/kh_revoked\"" \
	    "$SSH_USER_KEY" "$PORT"
	hostblock hashed "known hosts \"$TESTDIR/kh_hashed\"" \
	    "$SSH_USER_KEY" "$PORT"
	hostblock wild "known hosts \"$TESTDIR/kh_wild\"" \
	    "$SSH_USER_KEY" "$PORT"
	hostblock pinned "host key \"$SSH_HOST_KEY_PUB\"" \
	    "$SSH_USER_KEY" "$PORT"
	hostblock pinbad "host key \"$OTHER\"" "$SSH_USER_KEY" "$PORT"
	hostblock badauth "known hosts \"$KH\"" "$TESTDIR/other_user" \
	    "$PORT"
	hostblock noid "known hosts \"$KH\"" "$TESTDIR/no_such_key" "$PORT"
	hostblock down "known hosts \"$TESTDIR/kh_down\"" "$SSH_USER_KEY" \
	    "$DOWN"
)

if ! tap_check "bridged starts with ten hosts" bridged_start "$EXTRA"; then
	tap_end
fi
badfiles

HOSTFP=$(ssh-keygen -l -E sha256 -f "$SSH_DIR/host_ed25519.pub" |
    cut -d' ' -f2)
OTHERFP=$(ssh-keygen -l -E sha256 -f "$TESTDIR/other_host.pub" |
    cut -d' ' -f2)
USERFP=$(ssh-keygen -l -E sha256 -f "$TESTDIR/other_user.pub" |
    cut -d' ' -f2)
export REGRESS_DIR TESTDIR SSHD_PID HOSTFP OTHERFP USERFP PORT DOWN \
    BRIDGECTL CTL_SOCK SSH_USER
tap_run "$PYTHON" - <<'EOF'
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client, Tap, result_text

TD = os.environ["TESTDIR"]
BASE = os.path.join(TD, "base")
HOSTFP = os.environ["HOSTFP"]
OTHERFP = os.environ["OTHERFP"]
USERFP = os.environ["USERFP"]
PORT = os.environ["PORT"]
SSHD = os.environ["SSHD_PID"]
t = Tap()
c = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
c.initialize()


def bash(host, cmd="echo ok"):
    r = c.call_tool("Bash", {"command": cmd, "host": host})
    return r, result_text(r)


def hosts():
    out = subprocess.run([os.environ["BRIDGECTL"], "-s",
                          os.environ["CTL_SOCK"], "-j", "show", "hosts"],
                         capture_output=True, text=True, timeout=10)
    rows = {}
    for l in out.stdout.splitlines():
        if l.strip():
            h = json.loads(l)
            rows[h["name"]] = h
    if not rows:
        t.diag("bridgectl show hosts: status %d" % out.returncode,
               out.stdout, out.stderr)
    return rows


where = '"%s" (127.0.0.1:' + PORT + ')'

r, x = bash("local")
t.ok(not r.get("isError") and x == "ok\nexit status: 0",
     "the configured host key: connected", r)

r, x = bash("changed")
t.ok(r.get("isError") and ("host " + where % "changed") in x and
     "ssh-ed25519 key " + HOSTFP in x and "CHANGED" in x and
     "kh_changed" in x, "a changed host key is refused, with its"
     " type and fingerprint", x)

r, x = bash("unknown")
t.ok(r.get("isError") and "ssh-ed25519 key " + HOSTFP in x and
     "is not in known hosts" in x and "[127.0.0.1]:" + PORT in x,
     "an unknown host key (listed for port 22 only) is refused", x)

r, x = bash("revoked")
t.ok(r.get("isError") and "@revoked" in x and HOSTFP in x,
     "a key marked @revoked is refused", x)

r, x = bash("hashed")
t.ok(r.get("isError") and "hashed entries are not supported" in x,
     "hashed known_hosts entries: refused, saying why", x)

r, x = bash("wild")
t.ok(not r.get("isError") and x.endswith("ok\nexit status: 0"),
     "wildcard patterns, comments and other names on the line", r)

r, x = bash("pinned")
t.ok(not r.get("isError") and x.endswith("ok\nexit status: 0"),
     "a pinned host key that matches", r)

r, x = bash("pinbad")
t.ok(r.get("isError") and "does not match the pinned host key" in x and
     HOSTFP in x and OTHERFP in x, "a pinned key that does not match", x)

r, x = bash("badauth")
t.ok(r.get("isError") and "authentication as \"%s\" failed" %
     os.environ["SSH_USER"] in x and USERFP in x and "other_user" in x,
     "a refused identity: a clear authentication error", x)

r, x = bash("noid")
t.ok(r.get("isError") and "cannot read identity" in x and
     "no_such_key" in x, "a missing identity file is named", x)

t0 = time.time()
r, x = bash("down")
t.ok(r.get("isError") and ("connect 127.0.0.1 port %s: Connection refused"
     % os.environ["DOWN"]) in x and time.time() - t0 < 5,
     "a host that is down: connection refused", x)
r, x = bash("down")
t.ok(r.get("isError") and "Connection refused" in x,
     "and again on the next call (it retries)", x)

h = hosts()
loc = h.get("local", {})
t.ok(loc.get("state") == "connected" and
     loc.get("fingerprint") == "ssh-ed25519 " + HOSTFP and
     not loc.get("last_error"),
     "show hosts: local connected, with its fingerprint", loc)
t.ok(loc.get("bytes_in", 0) > 0 and loc.get("bytes_out", 0) > 0 and
     loc.get("channels", 0) >= 1, "show hosts: bytes and channels", loc)
t.ok(h.get("down", {}).get("state") == "failed" and
     "Connection refused" in h.get("down", {}).get("last_error", ""),
     "show hosts: down failed, with its last error", h.get("down"))
t.ok(h.get("changed", {}).get("state") == "failed" and
     h.get("changed", {}).get("fingerprint") == "ssh-ed25519 " + HOSTFP,
     "show hosts: a refused host shows the key it offered",
     h.get("changed"))

# --- the connection dies under us ---
bash("local", "cd /tmp; export KEEP=1")
r, x = bash("local", "pwd")
t.ok(x == "/tmp\nexit status: 0", "shell state before the kill", r)
kids = subprocess.run(["pgrep", "-P", SSHD], capture_output=True,
                      text=True).stdout.split()
for k in kids:
    try:
        os.kill(int(k), 9)
    except OSError:
        pass
t.ok(len(kids) >= 1, "killed the sshd processes serving us", kids)
time.sleep(0.5)
h = hosts()
t.ok(h.get("local", {}).get("state") == "disconnected" and
     "connection lost" in h.get("local", {}).get("last_error", ""),
     "show hosts: the loss is noticed at once", h.get("local"))
r, x = bash("local", "pwd; echo ${KEEP:-unset}")
t.ok(not r.get("isError") and
     x.startswith("warning: the connection to host \"local\" was lost and"
                  " re-made; shell state (cwd, environment) was reset") and
     x.endswith(BASE + "\nunset\nexit status: 0"),
     "the next call reconnects, warns first, and works", x)
r, x = bash("local", "pwd")
t.ok(x == BASE + "\nexit status: 0", "and the call after has no warning", x)
t.ok(hosts().get("local", {}).get("state") == "connected",
     "show hosts: connected again")

# a kill while a command runs: that call fails, the next one works
kids = []
rid = c.new_id()
c.send({"jsonrpc": "2.0", "id": rid, "method": "tools/call",
        "params": {"name": "Bash", "arguments": {"command": "sleep 30",
                                                 "host": "local"}}})
time.sleep(1)
for k in subprocess.run(["pgrep", "-P", SSHD], capture_output=True,
                        text=True).stdout.split():
    try:
        os.kill(int(k), 9)
    except OSError:
        pass
resp = c.wait_response(rid, 20)
x = result_text(resp.get("result", {}))
t.ok(resp.get("result", {}).get("isError") and "was lost" in x,
     "a command running when the connection dies gets an error", resp)
r, x = bash("local", "echo back")
t.ok(x.startswith("warning:") and x.endswith("back\nexit status: 0"),
     "and the next call works", x)

c.close()
sys.exit(t.done())
EOF

tap_check "bridged is still running" bridged_alive
tap_check "bridged stops cleanly" bridged_stop
tap_end
