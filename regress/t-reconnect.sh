#!/usr/bin/env bash
# regress-timeout: 1200
# t-reconnect: the ssh worker reconnects hundreds of times without ever
# needing NSS (getpwuid and friends) inside its sandbox.  A call that
# kills the sshd serving it drops the connection; the next call
# reconnects (with a warning) and works.  Before the fix libssh looked up
# the local user's home directory on every connect, and glibc's NSS tried
# nscd with socket(): seccomp killed the worker (every ~100th reconnect as
# root in a chroot, the first one as an ordinary user).

. "$(dirname "$0")/lib.sh"

# kill_loop N: N times "kill the sshd", then a call that must work
kill_loop()
{
	"$PYTHON" - "$1" <<'PY'
import os, sys, time
sys.path.insert(0, os.path.dirname(os.environ["MCPCLIENT"]))
from mcpclient import Client, Tap, result_text, Timeout, Closed

n = int(sys.argv[1])
# the sshd serving the shell: the parent of its session's first process
# (the shell runs behind the watchdog, ssh_killtree.c, not under sshd)
SSHD_KILL = "kill -9 $(ps -o ppid= -p $(ps -o sid= -p $$))"
t = Tap()
answered = lost = worked = warned = 0
bad = []
# generous: a loaded machine is slow to reconnect, a hang is not
c = Client(socket_path=os.environ["MCP_SOCK"], timeout=120)
c.initialize()
t0 = time.time()
try:
    for i in range(n):
        r = c.call_tool("Bash", {"command": SSHD_KILL})
        answered += 1
        x = result_text(r)
        if r.get("isError") and "was lost" in x:
            lost += 1
        elif len(bad) < 5:
            bad.append(("kill", i, x))
        r = c.call_tool("Bash", {"command": "echo ok%d" % i})
        answered += 1
        x = result_text(r)
        if not r.get("isError") and x.endswith("ok%d\nexit status: 0" % i):
            worked += 1
            if x.startswith("warning: the connection to host \"local\""
                            " was lost and re-made"):
                warned += 1
        elif len(bad) < 5:
            bad.append(("echo", i, x))
except (Timeout, Closed) as e:
    bad.append(("stopped at call", answered, "kill" if answered % 2 == 0
                else "echo", str(e)))
t.diag("%d rounds in %.1f s" % (n, time.time() - t0))
t.ok(answered == 2 * n, "all %d calls answered" % (2 * n),
     "answered %d" % answered, *bad)
t.ok(lost == n, "each kill is reported as a lost connection (%d)" % lost,
     *bad)
t.ok(worked == n, "each call after it reconnects and works (%d)" % worked,
     *bad)
t.ok(warned == n, "and warns that the shell state was reset (%d)" % warned,
     *bad)
c.close()
sys.exit(t.done())
PY
}


sshd_start || { tap_fail "sshd starts"; tap_end; }

if [ "$(id -u)" = 0 ]; then
	tap_check "daemon starts as root (chroot, user nobody)" bridged_start
	tap_run kill_loop 300
	tap_check "the daemon is alive after 300 reconnects" bridged_alive
	if grep -q 'terminated by signal\|sandbox violation' "$TESTDIR/bridged.log"
	then
		tap_fail "no child was killed by the sandbox" \
		    "$(grep 'terminated by signal' "$TESTDIR/bridged.log" |
		    head -n 5)"
	else
		tap_ok "no child was killed by the sandbox"
	fi
	tap_check "stops" bridged_stop

	BRIDGED_RUNAS=nobody
	tap_check "daemon starts as nobody (no user, no chroot, no setuid)" \
	    bridged_start
	tap_run kill_loop 150
	tap_check "the daemon is alive after 150 reconnects" bridged_alive
	if grep -q 'terminated by signal\|sandbox violation' "$TESTDIR/bridged.log"
	then
		tap_fail "no child was killed by the sandbox (as nobody)" \
		    "$(grep 'terminated by signal' "$TESTDIR/bridged.log" |
		    head -n 5)"
	else
		tap_ok "no child was killed by the sandbox (as nobody)"
	fi
	tap_check "stops" bridged_stop
	unset BRIDGED_RUNAS
else
	# not root: the daemon already runs as an ordinary user
	tap_check "daemon starts as $(id -un)" bridged_start
	tap_run kill_loop 150
	tap_check "the daemon is alive after 150 reconnects" bridged_alive
	tap_check "stops" bridged_stop
fi

tap_end
