#!/usr/bin/env bash
# t-hardening: side doors around the sandboxes (issue 11), seen from
# outside the daemon: a descriptor bridged inherits (200</file) reaches
# none of its processes; a forward listens below port 1024 only where a
# rule names that port ("listen port"); Upload and Download refuse a file
# with another name (a hard link to a file outside the transfer root) and
# leave that file as it was; a socket directory that others may write is
# refused before anything is bound in it.

. "$(dirname "$0")/lib.sh"

sshd_start || { tap_fail "sshd starts"; tap_end; }

# the destination of the forwards
ECHO_PORT=$(free_port)
"$PYTHON" - "$ECHO_PORT" >"$TESTDIR/echo.log" 2>&1 <<'EOF' &
import socket, sys, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
def serve(c):
    try:
        while True:
            b = c.recv(65536)
            if not b:
                break
            c.sendall(b)
    except OSError:
        pass
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
ECHO_PID=$!
trap 'kill $ECHO_PID 2>/dev/null; _regress_cleanup' EXIT

mkdir -p "$TESTDIR/troot" "$TESTDIR/outside"
EXTRA="
transfer root \"$TESTDIR/troot\"
host \"fwd\" {
	address \"127.0.0.1\" port $SSHD_PORT
	user \"$SSH_USER\"
	identity \"$SSH_USER_KEY\"
	known hosts \"$SSH_KNOWN_HOSTS\"
	base dir none
	allow forward, exec
	forward to \"127.0.0.1\" port $ECHO_PORT
	forward to \"127.0.0.1\" port $ECHO_PORT listen port 81
	forward from remote to \"127.0.0.1\" port $ECHO_PORT
}"

# --- inherited descriptors ---------------------------------------------------
# every process of the daemon, parent first
daemon_pids()
{
	echo "$BRIDGED_PID"
	pgrep -P "$BRIDGED_PID"
}

echo "not for the children" >"$TESTDIR/outside/secret"
exec 200<"$TESTDIR/outside/secret"
bridged_start "$EXTRA"
started=$?
exec 200<&-
if [ $started -ne 0 ]; then
	tap_fail "bridged starts with fd 200 open on a file"
	tap_end
fi
# a call on each host, so that both ssh workers run
"$PYTHON" "$MCPCLIENT" -s "$MCP_SOCK" --init --call Bash \
    '{"command":"true"}' >/dev/null 2>&1
"$PYTHON" "$MCPCLIENT" -s "$MCP_SOCK" --init --call Bash \
    '{"command":"true","host":"fwd"}' >/dev/null 2>&1
sleep 0.3
n=0
leaks=
for pid in $(daemon_pids); do
	n=$((n + 1))
	title=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)
	if [ -e "/proc/$pid/fd/200" ] ||
	    ls -l "/proc/$pid/fd/" 2>/dev/null | grep -q "outside/secret"; then
		leaks="$leaks $pid ($title)"
	fi
done
if [ $n -ge 5 ] && [ -z "$leaks" ]; then
	tap_ok "started with 200<file: none of the $n processes (parent, frontend, logger, ssh workers) holds fd 200 or the file"
else
	tap_fail "started with 200<file: no process holds fd 200 or the file" \
	    "$n processes; holding it:$leaks"
fi

# --- privileged listen ports, transfer root ------------------------------------
if [ "$(id -u)" = 0 ] && "$PYTHON" -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 81))' 2>/dev/null; then
	CAN81=1
else
	CAN81=0
fi
export REGRESS_DIR TESTDIR ECHO_PORT CAN81
tap_run "$PYTHON" - <<'EOF'
import os
import socket
import sys

sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client, Tap, result_text

TD = os.environ["TESTDIR"]
ECHO = int(os.environ["ECHO_PORT"])
TROOT = os.path.join(TD, "troot")
BASE = os.path.join(TD, "base")
t = Tap()
c = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
c.initialize()


def listening(port):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def fopen(**kw):
    args = {"host": "fwd", "dest_host": "127.0.0.1", "dest_port": ECHO,
            "direction": "local"}
    args.update(kw)
    r = c.call_tool("forward_open", args)
    return r, result_text(r), r.get("structuredContent") or {}


# below 1024 only where a rule names the port: 22 and 1 are named by none
for port in (22, 1):
    busy = listening(port)
    r, x, sc = fopen(listen_port=port)
    if sc.get("id"):
        c.call_tool("forward_close", {"id": sc["id"]})
    t.ok(r.get("isError") and "privileged port" in x and
         "listen port %d" % port in x and "line" in x and
         (busy or not listening(port)),
         "local listen_port %d: refused, naming the \"listen port\" knob "
         "and the rule's line; nothing listens" % port, x)
r, x, sc = fopen(direction="remote", listen_port=81)
t.ok(r.get("isError") and "privileged port" in x and
     "listen port 81" in x,
     "remote listen_port 81: refused (no remote rule names it)", x)
free = 0
for p in range(23456, 23556):
    if not listening(p):
        free = p
        break
r, x, sc = fopen(listen_port=free)
t.ok(not r.get("isError") and sc.get("listen_port") == free,
     "an unprivileged listen_port needs no rule", x)
if sc.get("id"):
    c.call_tool("forward_close", {"id": sc["id"]})
if os.environ["CAN81"] == "1":
    r, x, sc = fopen(listen_port=81)
    t.ok(not r.get("isError") and sc.get("listen_port") == 81 and
         listening(81),
         "listen_port 81 where a rule names it (\"listen port 81\")", x)
    if sc.get("id"):
        c.call_tool("forward_close", {"id": sc["id"]})
else:
    t.skip("listen_port 81 where a rule names it",
           "not root, or 127.0.0.1:81 is taken")

# --- transfer root: hard links and symbolic links ---
secret = os.path.join(TD, "outside", "passwd")
with open(secret, "w") as f:
    f.write("root:x:0:0::/root:/bin/sh\n")
before = open(secret).read()
os.link(secret, os.path.join(TROOT, "hard.txt"))
os.symlink(secret, os.path.join(TROOT, "soft.txt"))
with open(os.path.join(BASE, "payload.txt"), "w") as f:
    f.write("overwritten through a link\n")


def call(tool, args):
    r = c.call_tool(tool, args)
    return r, result_text(r)


r, x = call("Upload", {"local_path": "hard.txt",
                       "remote_path": os.path.join(BASE, "up-hard.txt")})
t.ok(r.get("isError") and "hard link" in x and
     not os.path.exists(os.path.join(BASE, "up-hard.txt")),
     "Upload: a hard link to a file outside the root is not read", x)
r, x = call("Download", {"remote_path": os.path.join(BASE, "payload.txt"),
                         "local_path": "hard.txt", "overwrite": True})
t.ok(r.get("isError") and "hard link" in x,
     "Download: a hard link to a file outside the root is not "
     "overwritten", x)
t.ok(open(secret).read() == before and os.stat(secret).st_nlink == 2,
     "Download: the file outside is as it was")
r, x = call("Upload", {"local_path": "soft.txt",
                       "remote_path": os.path.join(BASE, "up-soft.txt")})
t.ok(r.get("isError") and "symbolic link" in x,
     "Upload: a symbolic link is not followed", x)
r, x = call("Download", {"remote_path": os.path.join(BASE, "payload.txt"),
                         "local_path": "soft.txt", "overwrite": True})
t.ok(r.get("isError") and "symbolic link" in x and
     open(secret).read() == before,
     "Download: a symbolic link is not followed, the file outside kept", x)
# a single-named file still goes both ways
with open(os.path.join(TROOT, "plain.txt"), "w") as f:
    f.write("plain\n")
r, x = call("Upload", {"local_path": "plain.txt",
                       "remote_path": os.path.join(BASE, "plain.txt")})
t.ok(not r.get("isError") and
     open(os.path.join(BASE, "plain.txt")).read() == "plain\n",
     "Upload: a file with one name is read", x)
r, x = call("Download", {"remote_path": os.path.join(BASE, "payload.txt"),
                         "local_path": "plain.txt", "overwrite": True})
t.ok(not r.get("isError") and
     open(os.path.join(TROOT, "plain.txt")).read() ==
     "overwritten through a link\n",
     "Download: a file with one name is overwritten", x)
c.close()
sys.exit(1 if t.failed else 0)
EOF
tap_check "clean stop" bridged_stop

# --- socket directories others may write -------------------------------------
# try_sockdir DIR MODE [OWNER]: a daemon whose MCP socket is in DIR must
# refuse to start, saying why
try_sockdir()
{
	local dir=$1 mode=$2 owner=${3:-} out rc
	mkdir -p "$dir"
	chmod "$mode" "$dir"
	[ -n "$owner" ] && chown "$owner" "$dir"
	sed "s|^socket \".*\"|socket \"$dir/mcp.sock\"|" "$BRIDGED_CONF" \
	    >"$TESTDIR/sockdir.conf"
	out=$(timeout 10 "$BRIDGED" -d -f "$TESTDIR/sockdir.conf" 2>&1 \
	    </dev/null)
	rc=$?
	echo "$out" >"$TESTDIR/sockdir.out"
	[ $rc -ne 0 ] && [ $rc -ne 124 ] && [ ! -S "$dir/mcp.sock" ]
}

if try_sockdir "$TESTDIR/ww" 0777 &&
    grep -q "directory $TESTDIR/ww is writable by others (mode 0777)" \
    "$TESTDIR/sockdir.out"; then
	tap_ok "a world-writable socket directory is refused, saying so"
else
	tap_fail "a world-writable socket directory is refused, saying so" \
	    "$(tail -n 5 "$TESTDIR/sockdir.out")"
fi
if try_sockdir "$TESTDIR/sticky" 1777 &&
    grep -q "is writable by others" "$TESTDIR/sockdir.out"; then
	tap_ok "a sticky world-writable socket directory is refused too"
else
	tap_fail "a sticky world-writable socket directory is refused too" \
	    "$(tail -n 5 "$TESTDIR/sockdir.out")"
fi
if try_sockdir "$TESTDIR/gw" 0770 &&
    grep -q "is writable by its group" "$TESTDIR/sockdir.out"; then
	tap_ok "a group-writable socket directory is refused"
else
	tap_fail "a group-writable socket directory is refused" \
	    "$(tail -n 5 "$TESTDIR/sockdir.out")"
fi
mkdir -p "$TESTDIR/wwup"
chmod 0777 "$TESTDIR/wwup"
if try_sockdir "$TESTDIR/wwup/sock" 0755 &&
    grep -q "directory $TESTDIR/wwup is writable by others" \
    "$TESTDIR/sockdir.out"; then
	tap_ok "a socket directory inside a world-writable one is refused"
else
	tap_fail "a socket directory inside a world-writable one is refused" \
	    "$(tail -n 5 "$TESTDIR/sockdir.out")"
fi
if [ "$(id -u)" = 0 ]; then
	if try_sockdir "$TESTDIR/theirs" 0755 nobody &&
	    grep -q "belongs to uid" "$TESTDIR/sockdir.out"; then
		tap_ok "a socket directory of another user is refused"
	else
		tap_fail "a socket directory of another user is refused" \
		    "$(tail -n 5 "$TESTDIR/sockdir.out")"
	fi
else
	tap_skip "a socket directory of another user is refused" \
	    "needs root to give a directory away"
fi

tap_end
