#!/bin/bash
# t-jump: "via" (ProxyJump).  A second sshd listens on 127.0.0.2 and is
# reached through the first one's direct-tcpip channels: the parent
# starts the jump host's worker for the target's connection; Bash, Read
# and a large Write and Edit (back-pressure both ways through the jump
# host's worker, which reads the tunnel more than 4 KiB at a time) on
# the target; the jump sshd's log and the owner of the
# TCP connection to the target prove the jump was used; a two-hop chain;
# the jump channels take places in the jump host's pool (max sessions 1:
# a second target makes it a second connection); an unknown target host
# key, a jump host that is down and a jump host that refuses forwarding,
# each named in the error; show hosts and the hosts tool say "via" and
# count the jump channel; the jump host's worker dies, then its
# connection: each time the target's connection is lost, and re-made;
# with an idle timeout the jump host's worker outlives the target's
# (its tunnel keeps it busy), and both come back on the next call.

. "$(dirname "$0")/lib.sh"

# DEBUG1 logs each direct-tcpip channel's target
SSHD_LOGLEVEL=DEBUG1 sshd_start || { tap_fail "jump sshd starts"; tap_end; }
# the target refuses forwarding: as a jump host (for "beyond") it fails
sshd_start2 127.0.0.2 "AllowTcpForwarding no" ||
    { tap_fail "target sshd starts on 127.0.0.2"; tap_end; }

DOWN=$(free_port)
P1=$SSHD_PORT
P2=$SSHD2_PORT
KH1=$SSH_KNOWN_HOSTS
KH2=$SSHD2_KNOWN_HOSTS

# hostblock NAME ADDRESS PORT KNOWNHOSTS [VIA [LINE]]
hostblock()
{
	cat <<EOB
host "$1" {
	address "$2" port $3${5:+ via "$5"}
	user "$SSH_USER"
	identity "$SSH_USER_KEY"
	known hosts "$4"
	base dir "$TESTDIR/base"
	allow read, write, exec
	${6:-}
}
EOB
}

# bridged checks known hosts when it starts: kh_badkey loses the target's
# key after the start, as a file may that changes under a daemon
cp "$KH2" "$TESTDIR/kh_badkey"
# nothing listens on DOWN, but -n wants the host in known hosts
echo "[127.0.0.1]:$DOWN $SSH_HOST_KEY_PUB" >"$TESTDIR/kh_down"
EXTRA=$(
	hostblock target 127.0.0.2 "$P2" "$KH2" local
	hostblock hop2 127.0.0.1 "$P1" "$KH1" local
	hostblock deep 127.0.0.2 "$P2" "$KH2" hop2
	hostblock badkey 127.0.0.2 "$P2" "$TESTDIR/kh_badkey" local
	hostblock down 127.0.0.1 "$DOWN" "$TESTDIR/kh_down"
	hostblock viadown 127.0.0.2 "$P2" "$KH2" down
	hostblock beyond 127.0.0.1 "$P1" "$KH1" target
	hostblock narrow 127.0.0.1 "$P1" "$KH1" "" \
	    "max sessions 1
	max connections 2"
	hostblock t1 127.0.0.2 "$P2" "$KH2" narrow
	hostblock t2 127.0.0.2 "$P2" "$KH2" narrow
)

if ! tap_check "bridged starts with hosts behind jump hosts" \
    bridged_start "$EXTRA"; then
	tap_end
fi
cp "$KH1" "$TESTDIR/kh_badkey"

FP2=$(ssh-keygen -l -E sha256 -f "$TESTDIR/sshd2_host_ed25519.pub" |
    cut -d' ' -f2)
export REGRESS_DIR TESTDIR SSHD_PID SSHD2_PID P1 P2 DOWN FP2 BRIDGECTL \
    CTL_SOCK
tap_run "$PYTHON" - <<'EOF'
import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client, Tap, result_text

TD = os.environ["TESTDIR"]
DAEMON = int(os.environ["BRIDGED_PID"])
BASE = os.path.join(TD, "base")
P1, P2, DOWN = os.environ["P1"], os.environ["P2"], os.environ["DOWN"]
FP2 = os.environ["FP2"]
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


def hosts_until(pred, secs=15):
    """show hosts once pred holds: a worker pushes its state five times
    a second, so on a loaded machine the frontend may lag a little."""
    end = time.time() + secs
    while True:
        h = hosts()
        if pred(h) or time.time() > end:
            return h
        time.sleep(0.2)


def children(title):
    """pids of the daemon's children with this exact process title."""
    want = "bridged: " + title
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode().strip()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == DAEMON and cmd == want:
            pids.append(int(d))
    return pids


def sshd_log(n=""):
    with open(os.path.join(TD, "sshd%s.log" % n), errors="replace") as f:
        return f.read()


def conn_owners(addr, port):
    """Names of the processes holding a TCP connection to addr:port."""
    want = "%08X:%04X" % (int.from_bytes(bytes(map(int, addr.split("."))),
                                         "little"), int(port))
    inodes = set()
    with open("/proc/net/tcp") as f:
        for l in f.readlines()[1:]:
            fl = l.split()
            if fl[2] == want and fl[3] == "01":     # ESTABLISHED
                inodes.add(fl[9])
    names = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            for fd in os.listdir("/proc/%s/fd" % pid):
                l = os.readlink("/proc/%s/fd/%s" % (pid, fd))
                if l.startswith("socket:[") and l[8:-1] in inodes:
                    with open("/proc/%s/comm" % pid) as f:
                        names.add(f.read().strip())
        except OSError:
            pass
    return names


# --- one hop ---
t.ok(children("ssh local") == [] and children("ssh target") == [],
     "no ssh worker before the first call")
r, x = bash("target", "echo $SSH_CONNECTION")
t.ok(not r.get("isError") and re.search(r" 127\.0\.0\.2 %s\n" % P2, x),
     "Bash on the target through the jump host", x)
wl, wt = children("ssh local"), children("ssh target")
t.ok(len(wl) == 1 and len(wt) == 1 and wl != wt,
     "the parent started the jump host's worker for the target's", wl, wt)
t.ok("target 127.0.0.2 port %s" % P2 in sshd_log(),
     "the jump sshd's log has the direct-tcpip channel to the target")
own = conn_owners("127.0.0.2", P2)
t.ok(own and "bridged" not in own and own <= {"sshd", "sshd-session"},
     "the TCP connection to the target is the jump sshd's, not ours", own)

with open(os.path.join(BASE, "hello.txt"), "w") as f:
    f.write("line one\nline two\n")
r = c.call_tool("Read", {"file_path": os.path.join(BASE, "hello.txt"),
                         "host": "target"})
x = result_text(r)
t.ok(not r.get("isError") and "line two" in x, "Read on the target", x)

# a large Write and Edit: the target's worker blocks in SFTP while the
# jump host's worker pumps, both ways, with back-pressure
big = "".join("%07d %s\n" % (i, "x" * 56) for i in range(60000))
path = os.path.join(BASE, "big.txt")
# the jump host's worker reads the tunnel as much as the window takes
# at once (ssh_pump.c); evbuffer_read() it once used read 4 KiB a call
trace = os.path.join(TD, "jump.strace")
st = subprocess.Popen(["strace", "-e", "trace=read,readv", "-p", str(wl[0]),
                       "-o", trace], stderr=subprocess.PIPE, text=True)
first = st.stderr.readline()	# "Process N attached", or why not
r = c.call_tool("Write", {"file_path": path, "content": big,
                          "host": "target"}, timeout=60)
st.send_signal(signal.SIGINT)
st.wait()
ok = not r.get("isError") and open(path).read() == big
t.ok(ok, "Write of %d bytes through the jump host" % len(big),
     result_text(r))
with open(trace) as f:
    sizes = [int(m.group(1)) for m in
             re.finditer(r"^readv?\(\d+, .*\) = (\d+)$", f.read(),
                         re.M)]
t.ok("attached" in first and max(sizes, default=0) > 4096,
     "the jump host's worker reads the tunnel more than 4 KiB at a time",
     first, "%d reads, the largest %d bytes" % (len(sizes),
                                                max(sizes, default=0)))
r = c.call_tool("Edit", {"file_path": path, "old_string": "0059999 ",
                         "new_string": "LAST ", "host": "target"},
                timeout=60)
got = open(path).read()
t.ok(not r.get("isError") and got == big.replace("0059999 ", "LAST "),
     "Edit of it (read back, written again) through the jump host",
     result_text(r))
r, x = bash("target", "seq 1 400000 | tail -n 1")
t.ok(x.startswith("400000"), "and Bash on it again", x)

h = hosts_until(lambda h: h.get("target", {}).get("state") == "connected" and
                h.get("local", {}).get("channels", 0) >= 1)
tg, lo = h.get("target", {}), h.get("local", {})
t.ok(tg.get("state") == "connected" and tg.get("via") == "local" and
     tg.get("fingerprint", "").endswith(FP2),
     "show hosts: the target is connected via local, its own host key", tg)
t.ok(lo.get("channels", 0) >= 1 and lo.get("via") is None,
     "show hosts: the jump channel counts on local", lo)
r = c.call_tool("hosts", {})
sc = {x["name"]: x for x in r.get("structuredContent", {}).get("hosts", [])}
t.ok(sc.get("target", {}).get("via") == "local" and
     sc.get("local", {}).get("via") is None, "the hosts tool shows via",
     sc.get("target"))

# --- two hops: deep via hop2 via local ---
r, x = bash("deep", "echo $SSH_CONNECTION")
t.ok(not r.get("isError") and re.search(r" 127\.0\.0\.2 %s\n" % P2, x),
     "Bash through two jump hosts", x)
log = sshd_log()
t.ok("target 127.0.0.1 port %s" % P1 in log and
     log.count("target 127.0.0.2 port %s" % P2) >= 2,
     "the jump sshd carried both hops")

# --- the jump channels are the jump host's pool's ---
r1, x1 = bash("t1", "echo one")
r2, x2 = bash("t2", "echo two")
na = hosts_until(lambda h: h.get("narrow", {}).get("connections") == 2 and
                 h.get("narrow", {}).get("channels") == 2).get("narrow", {})
t.ok(x1.startswith("one") and x2.startswith("two") and
     na.get("connections") == 2 and na.get("channels") == 2,
     "two targets via a jump host with max sessions 1: two connections of"
     " its pool, one channel each", x1, x2, na)

# --- errors name the hop ---
r, x = bash("badkey")
t.ok(r.get("isError") and x.startswith('host "badkey" via "local": ') and
     "ssh-ed25519 key " + FP2 in x and "is not in known hosts" in x,
     "an unknown target host key: refused, naming the target and its"
     " key", x)


def logwait(what, secs=5):
    for _ in range(secs * 10):
        with open(os.path.join(TD, "bridged.log"), errors="replace") as f:
            if what in f.read():
                return True
        time.sleep(0.1)
    return False


t.ok(logwait('for "badkey" ended'),
     "and the jump channel it was offered is closed")

t0 = time.time()
r, x = bash("viadown")
t.ok(r.get("isError") and x.startswith('host "viadown" via "down": ') and
     ('host "down" (127.0.0.1:%s)' % DOWN) in x and
     "Connection refused" in x and time.time() - t0 < 10,
     "a jump host that is down: the error names it", x)

r, x = bash("beyond")
t.ok(r.get("isError") and x.startswith('host "beyond" via "target": host'
     ' "target" refused the channel to 127.0.0.1:%s' % P1),
     "a jump host that refuses forwarding: a clear error", x)
t.ok("refused local port forward" in sshd_log("2"),
     "the refusing sshd logged it")
r, x = bash("target", "echo still")
t.ok(x.startswith("still"), "the refusing jump host itself still works", x)

# --- the target's sshd dies: only the target's connection is lost ---
kids = subprocess.run(["pgrep", "-P", os.environ["SSHD2_PID"]],
                      capture_output=True, text=True).stdout.split()
for k in kids:
    try:
        os.kill(int(k), 9)
    except OSError:
        pass
t.ok(len(kids) >= 1, "killed the target sshd's processes", kids)
for _ in range(150):
    h = hosts()
    if h.get("target", {}).get("state") != "connected":
        break
    time.sleep(0.1)
t.ok(h.get("target", {}).get("state") == "disconnected" and
     h.get("local", {}).get("state") == "connected",
     "show hosts: the target is lost, its jump host is not",
     h.get("target"), h.get("local"))
r, x = bash("local", "echo fine")
t.ok(x == "fine\nexit status: 0", "the jump host works on, no warning", x)
r, x = bash("target", "echo back")
t.ok(x.startswith('warning: the connection to host "target" was lost') and
     x.endswith("back\nexit status: 0"),
     "the target reconnects through the jump host, with the warning", x)

# --- the jump host's worker dies ---
bash("target", "cd /tmp")
wl = children("ssh local")
for p in wl:
    os.kill(p, 9)
t.ok(len(wl) == 1, "killed the jump host's worker", wl)
for _ in range(150):
    h = hosts()
    if h.get("target", {}).get("state") != "connected":
        break
    time.sleep(0.1)
t.ok(h.get("target", {}).get("state") == "disconnected" and
     "connection lost" in h.get("target", {}).get("last_error", ""),
     "show hosts: the target's connection is lost with the jump host's"
     " worker", h.get("target"))
r, x = bash("target", "pwd")
t.ok(not r.get("isError") and
     x.startswith('warning: the connection to host "target" was lost') and
     x.endswith(BASE + "\nexit status: 0") and
     children("ssh target") == wt and children("ssh local") not in ([], wl),
     "the next call reconnects through a new worker of the jump host;"
     " the target's worker is the same", x)

# --- the jump host's connection dies ---
bash("target", "cd /tmp")
kids = subprocess.run(["pgrep", "-P", os.environ["SSHD_PID"]],
                      capture_output=True, text=True).stdout.split()
for k in kids:
    try:
        os.kill(int(k), 9)
    except OSError:
        pass
t.ok(len(kids) >= 1, "killed the jump sshd's processes", kids)
for _ in range(150):
    h = hosts()
    if h.get("target", {}).get("state") != "connected" and \
            h.get("local", {}).get("state") != "connected":
        break
    time.sleep(0.1)
t.ok(h.get("target", {}).get("state") == "disconnected" and
     "connection lost" in h.get("target", {}).get("last_error", ""),
     "show hosts: the target's connection is lost with its jump host's",
     h.get("target"), h.get("local"))
r, x = bash("target", "pwd")
t.ok(not r.get("isError") and
     x.startswith('warning: the connection to host "target" was lost') and
     x.endswith(BASE + "\nexit status: 0"),
     "the next call reconnects through the jump host, with the warning", x)

c.close()
sys.exit(t.done())
EOF

tap_check "bridged is still running" bridged_alive
tap_check "bridged stops cleanly" bridged_stop

# --- idle: the jump host's worker stays while it carries a tunnel, goes
# after the target's; the next call starts both again
cp "$KH2" "$TESTDIR/kh_badkey"
if ! tap_check "bridged starts again with idle timeout 2" \
    bridged_start "limits { idle timeout 2 }
$EXTRA"; then
	tap_end
fi
cp "$KH1" "$TESTDIR/kh_badkey"
export BRIDGED_PID
tap_run "$PYTHON" - <<'EOF'
import os
import re
import sys
import time

sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client, Tap, result_text

DAEMON = int(os.environ["BRIDGED_PID"])
LOG = os.path.join(os.environ["TESTDIR"], "bridged.log")
t = Tap()


def children(title):
    want = "bridged: " + title
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode().strip()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == DAEMON and cmd == want:
            pids.append(int(d))
    return pids


c = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
c.initialize()
r = c.call_tool("Bash", {"command": "echo one", "host": "target"})
t.ok(result_text(r).startswith("one") and children("ssh local"),
     "a call on the target starts the jump host's worker too", r)
c.close()       # the shell goes with the session: the target may idle
# Each idles out after 2 s, one after the other: the jump host's worker,
# which had no call of its own, stays while it carries the target's
# tunnel, which ends because the target's worker went, not it.
with open(LOG, errors="replace") as f:
    logpos = len(f.read())
t0 = time.time()
tgone = lgone = None
early = False
while time.time() < t0 + 30 and lgone is None:
    lw, tw = children("ssh local"), children("ssh target")
    if not tw and tgone is None:
        tgone = time.time()
    if not lw and lgone is None:
        lgone = time.time()
        early = tw != []
    time.sleep(0.1)
with open(LOG, errors="replace") as f:
    log = f.read()[logpos:]
t.ok(tgone is not None and lgone is not None and not early and
     lgone > tgone and re.search(r'ssh local: host "local": channel to \S+'
                                 r' for "target" ended \(closed\)', log),
     "the target's worker idles out first, the jump host's only after"
     " its tunnel ended (%s s and %s s after the call)" %
     (tgone and round(tgone - t0, 1), lgone and round(lgone - t0, 1)), log)
c = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
c.initialize()
r = c.call_tool("Bash", {"command": "echo two", "host": "target"})
x = result_text(r)
t.ok(x.startswith("two") and children("ssh local") and
     children("ssh target"),
     "the next call on the target starts both workers again", x)
c.close()
sys.exit(t.done())
EOF

tap_check "bridged is still running" bridged_alive
tap_check "bridged stops cleanly" bridged_stop
tap_end
