#!/usr/bin/env bash
# t-shellhost: what a command or a host may do that must not put a
# persistent shell out of step or pass a failure off as an answer.
# bash's own descriptors moved (exec 2>&1, exec >/dev/null 2>/dev/null:
# the markers go to the channel's descriptors the set-up kept), tracing
# (set -x: a trace holds a marker's two halves, never the marker), a
# working directory longer than PATH_MAX (printed cut, then forgotten):
# each ends at once with its output, and the next command is in step.
# Grep whose rg is killed on the host (a second sshd whose PATH puts a
# fake rg first): an error naming the signal, not "No files found", and
# partial results marked partial.

. "$(dirname "$0")/lib.sh"

sshd_start || { tap_fail "sshd starts"; tap_end; }
SIGBIN=$TESTDIR/sigbin
mkdir -p "$SIGBIN" "$TESTDIR/base/found"
echo needle >"$TESTDIR/base/found/a.txt"
# rg that prints what $TESTDIR/rgsays holds, then is killed by SIGSEGV
cat >"$SIGBIN/rg" <<EOF
#!/bin/sh
cat "$TESTDIR/rgsays" 2>/dev/null
kill -SEGV \$\$
EOF
chmod 755 "$SIGBIN/rg"
# sshd takes the first SetEnv line only: SHLVL=1 as lib.sh's does
sshd_start2 127.0.0.1 "SetEnv PATH=$SIGBIN:/usr/bin:/bin SHLVL=1" ||
    { tap_fail "the sshd with a killed rg starts"; tap_end; }
tap_check "bridged starts" bridged_start "
host \"sig\" {
	address \"127.0.0.1\" port $SSHD2_PORT
	user \"$SSH_USER\"
	identity \"$SSH_USER_KEY\"
	known hosts \"$SSHD2_KNOWN_HOSTS\"
	base dir \"$TESTDIR/base\"
	allow read, exec
}" || tap_end
export TESTDIR REGRESS_DIR

tap_run "$PYTHON" - <<'EOF'
import os, sys, time
sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client, Tap, result_text

t = Tap()
TD = os.environ["TESTDIR"]
base = os.path.join(TD, "base")


def session():
    c = Client(socket_path=os.environ["MCP_SOCK"], timeout=120)
    c.initialize()
    return c


def bash(c, cmd, **kw):
    args = {"command": cmd, "timeout": 60000}
    args.update(kw)
    t0 = time.time()
    r = c.call_tool("Bash", args, timeout=120)
    return bool(r.get("isError")), result_text(r), time.time() - t0


# --- set -x: the traces hold halves of the marker only ---
c = session()
e, x, el = bash(c, "set -x; echo out1; echo err1 >&2")
t.ok(not e and "out1" in x and "err1" in x and "+ echo err1" in x and
     el < 30, "set -x: stdout, stderr and the trace, at once (%.1fs)" % el,
     x)
# 32 bytes or more: read whole by a traced function, then run
e, x, el = bash(c, "echo two; echo err2-in-full >&2; set +x")
t.ok(not e and "two" in x and "err2-in-full" in x and "exit status: 0" in x,
     "... a long command's stderr after its traced read is kept", x)
t.ok("printf" not in x, "... and none of the last one's traces", x)
e, x, el = bash(c, "echo three")
t.ok(not e and x == "three\nexit status: 0", "... and is in step", x)
c.close()

# --- exec moves the shell's stderr, then both away ---
c = session()
e, x, el = bash(c, "exec 2>&1; echo moved >&2; echo kept")
t.ok(not e and "moved\nkept\n" in x and "timed out" not in x and el < 30,
     "exec 2>&1: ends at once, its stderr on stdout (%.1fs)" % el, x)
e, x, el = bash(c, "echo e3 >&2; (exit 4)")
t.ok("e3" in x and "exit status: 4" in x and "stderr:" not in x and
     el < 30, "... and stays so, in step, with the status", x)
e, x, el = bash(c, "exec >/dev/null 2>/dev/null; echo gone; echo gone >&2")
t.ok(not e and "gone" not in x and "exit status: 0" in x and el < 30,
     "exec >/dev/null 2>/dev/null: ends at once (%.1fs)" % el, x)
e, x, el = bash(c, "echo hidden; false")
t.ok("hidden" not in x and "exit status: 1" in x and
     el < 30, "... the output stays gone, the status comes", x)
c.close()

# --- a working directory longer than PATH_MAX ---
c = session()
e, x, el = bash(c, "d=$(printf 'd%0249d' 0); for i in $(seq 40); do "
                "mkdir -p $d && cd $d || exit 9; done; echo deep")
t.ok(not e and "deep" in x and "exit status: 0" in x and el < 30,
     "a $PWD of 10 KB: the command ends at once (%.1fs)" % el, x)
e, x, el = bash(c, "pwd | wc -c")
n = x.split("\n")[0].strip()
t.ok(not e and n.isdigit() and int(n) > 10040,
     "... the shell is in step, still there", x)
e, x, el = bash(c, "pwd", run_in_background=True)
t.ok(not e and "timed out" not in x,
     "... a background command starts (the directory is not kept cut)", x)
e, x, el = bash(c, "cd %s && rm -rf d0* && pwd" % base)
t.ok(not e and base in x, "... and cd back works", x)
c.close()

# --- Grep whose rg is killed on the host ---
c = session()
open(os.path.join(TD, "rgsays"), "w").close()
r = c.call_tool("Grep", {"pattern": "needle", "path": base, "host": "sig"},
                timeout=120)
x = result_text(r)
t.ok(r.get("isError") and "No files found" not in x and "SEGV" in x,
     "rg killed with nothing said: an error naming the signal", x)
with open(os.path.join(TD, "rgsays"), "w") as f:
    f.write(os.path.join(base, "found", "a.txt") + "\n")
r = c.call_tool("Grep", {"pattern": "needle", "path": base, "host": "sig"},
                timeout=120)
x = result_text(r)
t.ok(not r.get("isError") and "a.txt" in x and "partial" in x and
     "SEGV" in x, "rg killed after a match: the match, marked partial", x)
r = c.call_tool("Grep", {"pattern": "needle", "path": base}, timeout=120)
x = result_text(r)
t.ok(not r.get("isError") and "a.txt" in x and "partial" not in x,
     "the same Grep on a host whose search ends well: not partial", x)
c.close()
t.done()
EOF
tap_end
