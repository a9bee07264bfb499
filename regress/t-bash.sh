#!/bin/bash
# t-bash: Bash, BashOutput/TaskOutput and KillShell/TaskStop end to end
# through the daemon against the harness sshd: stdout, stderr and exit
# status; cd and export persist; the base dir; a timeout and a
# cancellation kill the command's processes and leave the shell usable;
# hostile command text cannot break the marker framing; 10 MB of output
# is cut with a marker; `exit' ends the shell and the next call warns;
# background commands with their output read in parts, waited for and
# killed; argument checks; a host without `exec' is refused.

. "$(dirname "$0")/lib.sh"

sshd_start || { tap_fail "sshd starts"; tap_end; }
if ! tap_check "bridged starts" bridged_start "
host \"noexec\" {
	address \"127.0.0.1\" port $SSHD_PORT
	user \"$SSH_USER\"
	identity \"$SSH_USER_KEY\"
	known hosts \"$SSH_KNOWN_HOSTS\"
	base dir none
	allow read
}"; then
	tap_end
fi

export REGRESS_DIR TESTDIR
tap_run "$PYTHON" - <<'EOF'
import os
import random
import re
import subprocess
import sys
import time

sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client, MCPError, Tap, result_text

TD = os.environ["TESTDIR"]
BASE = os.path.join(TD, "base")
t = Tap()
c = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
c.initialize()


def bash(cmd, **kw):
    args = {"command": cmd}
    args.update(kw)
    return c.call_tool("Bash", args)


def text(r):
    return result_text(r)


def procs(pattern):
    """pids of processes whose command line matches (pgrep -f)."""
    p = subprocess.run(["pgrep", "-f", pattern], capture_output=True,
                       text=True)
    return p.stdout.split()


def gone(pattern, secs=5.0):
    end = time.time() + secs
    while time.time() < end:
        if not procs(pattern):
            return True
        time.sleep(0.1)
    return False


# --- basics ---
r = bash("echo out; echo err >&2; false")
t.ok(not r.get("isError") and text(r) == "out\nstderr:\nerr\nexit status: 1",
     "stdout, stderr and a non-zero exit status (not an error)", r)

r = bash("pwd")
t.ok(text(r) == BASE + "\nexit status: 0",
     "the shell starts in the base dir", r)

r = bash("printf 'no newline'")
t.ok(text(r) == "no newline\nexit status: 0",
     "output without a final newline", r)

r = bash("true")
t.ok(text(r) == "exit status: 0", "no output: only the status", r)

bash("cd /tmp")
r = bash("pwd")
t.ok(text(r) == "/tmp\nexit status: 0", "cd persists", r)

bash("export BRIDGED_X=1; Y=two")
r = bash('echo "$BRIDGED_X $Y"')
t.ok(text(r).startswith("1 two\n"), "export and shell variables persist", r)

r = bash("cat; echo after")
t.ok(text(r) == "after\nexit status: 0",
     "a command reading stdin gets EOF at once", r)

# --- framing: the command is shell text, and cannot fake the end ---
r = bash("echo \"it's\"; echo 'a'\"b\"; echo $(echo sub) `echo bt`")
t.ok(text(r) == "it's\nab\nsub bt\nexit status: 0",
     "quotes, $() and backticks run as written", r)

r = bash("echo one\necho two\n")
t.ok(text(r) == "one\ntwo\nexit status: 0", "several lines", r)

fake = "%032x" % random.getrandbits(128)
r = bash("printf '\\n%%s 0 /fake %%s\\n' %s %s; printf '\\n%%s\\n' %s >&2;"
         " echo still; exit_code=4; (exit 4)" % (fake, fake, fake))
t.ok("still\n" in text(r) and text(r).endswith("exit status: 4"),
     "a printed fake marker does not end the output", r)

r = bash("echo 'unbalanced")
t.ok(not r.get("isError") and text(r).endswith("exit status: 2") and
     "stderr:" in text(r), "a syntax error is the command's error", r)
r = bash("pwd")
t.ok(text(r) == "/tmp\nexit status: 0", "the shell survives it", r)

r = bash("echo \"'\\''\"; echo '\\'")
t.ok(text(r) == "'\\''\n\\\nexit status: 0", "quote-escaping text", r)

r = bash("printf 'a\\377\\376b\\n'")
t.ok(not r.get("isError") and text(r).startswith("a\ufffd\ufffdb\n"),
     "invalid UTF-8 arrives as U+FFFD", r)

# --- the output cap ---
t0 = time.time()
r = bash("head -c 10485760 /dev/zero | tr '\\0' a; echo e >&2")
el = time.time() - t0
m = re.search(r"\[stdout cut: (\d+) bytes in all, the first (\d+) are shown",
              text(r))
t.ok(m and int(m.group(1)) == 10485760 and len(text(r)) < 200 * 1024 and
     text(r).endswith("stderr:\ne\nexit status: 0"),
     "10 MB of output is cut with its total size (%.1fs)" % el,
     text(r)[-300:])

# --- timeout and cancellation ---
n = random.randint(100000, 999999)
t0 = time.time()
r = bash("sleep %d" % n, timeout=1000)
el = time.time() - t0
t.ok(r.get("isError") and "timed out after 1000 ms" in text(r) and el < 8,
     "timeout 1000 ms ends sleep (%.1fs)" % el, r)
t.ok(gone("sleep %d" % n), "no sleep %d process is left" % n,
     procs("sleep %d" % n))
r = bash("pwd; echo $BRIDGED_X")
t.ok(text(r) == "/tmp\n1\nexit status: 0" and "warning" not in text(r),
     "the shell survives the timeout with its state", r)

n = random.randint(100000, 999999)
r = bash("sh -c 'sleep %d & sleep %d; wait'" % (n, n + 1), timeout=1500)
t.ok(r.get("isError") and gone("sleep %d" % n) and gone("sleep %d" % (n + 1)),
     "a timeout kills grandchildren too", r)

r = bash("while :; do :; done", timeout=1000)
t.ok(r.get("isError") and "new shell" in text(r),
     "a shell loop that ignores the kill: the shell is replaced", r)
r = bash("pwd")
t.ok(text(r).startswith("warning:") and BASE + "\nexit status: 0" in
     text(r), "the next command warns and runs in a fresh shell", r)

n = random.randint(100000, 999999)
rid = c.new_id()
c.send({"jsonrpc": "2.0", "id": rid, "method": "tools/call",
        "params": {"name": "Bash", "arguments": {"command": "sleep %d" % n}}})
end = time.time() + 10
while not procs("sleep %d" % n) and time.time() < end:
    time.sleep(0.05)
started = bool(procs("sleep %d" % n))
c.notify("notifications/cancelled", {"requestId": rid, "reason": "test"})
t.ok(started and gone("sleep %d" % n),
     "notifications/cancelled kills the command", procs("sleep %d" % n))
r = bash("echo alive")
t.ok(text(r).endswith("alive\nexit status: 0"),
     "the shell works after a cancellation", r)

# --- exit ends the shell ---
bash("cd /tmp")
r = bash("echo bye; exit 7")
t.ok(not r.get("isError") and "bye\n" in text(r) and
     "exit status: 7" in text(r), "exit 7 is reported", r)
r = bash("pwd")
t.ok(text(r).startswith("warning:") and "reset" in text(r) and
     text(r).endswith(BASE + "\nexit status: 0"),
     "after exit: a fresh shell, with a warning", r)
# sshd may report the exit before the last output (it drains the pipe
# after), so the answer waits for the channel's close; something the
# shell started that holds the output open must not hold the answer
t0 = time.time()
r = bash("sleep 60 & exit 5")
t.ok("exit status: 5" in text(r) and time.time() - t0 < 30,
     "a leftover holding the output open: answered %.1f s after the exit"
     % (time.time() - t0), r)
r = bash("pwd")
t.ok(text(r).endswith(BASE + "\nexit status: 0"), "and the next shell "
     "works", r)

# --- sessions have their own shells ---
c2 = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
c2.initialize()
bash("cd /tmp")
r = c2.call_tool("Bash", {"command": "pwd"})
t.ok(result_text(r) == BASE + "\nexit status: 0",
     "another MCP session has its own shell", r)

# --- background commands ---
r = bash("for i in 1 2 3; do echo line$i; sleep 0.3; done; echo oops >&2;"
         " exit 3", run_in_background=True)
m = re.search(r"(bash_\d+)", text(r))
t.ok(not r.get("isError") and m, "run_in_background returns an id", r)
bid = m.group(1) if m else "bash_0"
r = c.call_tool("BashOutput", {"bash_id": bid})
t.ok("status: running" in text(r), "BashOutput: running", r)
# line1 may be out before that first read (a loaded machine): keep it
seen = text(r).split("stdout:\n", 1)[1] if "stdout:\n" in text(r) else ""
time.sleep(2)
r = c.call_tool("BashOutput", {"bash_id": bid})
seen += text(r).split("stdout:\n", 1)[1] if "stdout:\n" in text(r) else ""
t.ok("line1\nline2\nline3\n" in seen and "exited with status 3" in
     text(r) and "oops" in text(r), "BashOutput: all output and the status", r)
r = c.call_tool("BashOutput", {"bash_id": bid})
t.ok("line1" not in text(r) and "exited with status 3" in text(r),
     "BashOutput: only output not read before", r)
r = c2.call_tool("BashOutput", {"bash_id": bid})
t.ok(r.get("isError"), "another session cannot read it", r)

r = bash("echo match-a; echo other; echo match-b", run_in_background=True)
bid2 = re.search(r"(bash_\d+)", text(r)).group(1)
time.sleep(1)
r = c.call_tool("BashOutput", {"bash_id": bid2, "filter": "^match"})
t.ok("match-a\nmatch-b\n" in text(r) and "other" not in text(r),
     "BashOutput filter keeps matching lines", r)
r = c.call_tool("BashOutput", {"bash_id": bid2, "filter": "("})
t.ok(r.get("isError") and "filter" in text(r), "a bad filter is refused", r)

r = bash("sleep 1; echo fin", run_in_background=True)
bid3 = re.search(r"(bash_\d+)", text(r)).group(1)
t0 = time.time()
r = c.call_tool("TaskOutput", {"task_id": bid3, "block": True,
                               "timeout": 10000})
t.ok("fin" in text(r) and "exited with status 0" in text(r) and
     time.time() - t0 < 5, "TaskOutput blocks until the command ends", r)

n = random.randint(100000, 999999)
r = bash("sleep %d; echo never" % n, run_in_background=True)
bid4 = re.search(r"(bash_\d+)", text(r)).group(1)
end = time.time() + 10
while not procs("sleep %d" % n) and time.time() < end:
    time.sleep(0.05)
r = c.call_tool("TaskOutput", {"task_id": bid4, "block": True,
                               "timeout": 500})
t.ok("status: running" in text(r), "TaskOutput times out while running", r)
r = c.call_tool("KillShell", {"shell_id": bid4})
t.ok(not r.get("isError") and "killed" in text(r), "KillShell kills it", r)
t.ok(gone("sleep %d" % n), "no sleep %d process is left" % n)
r = c.call_tool("BashOutput", {"bash_id": bid4})
t.ok("killed" in text(r) and "never" not in text(r),
     "its status is killed", r)
r = c.call_tool("TaskStop", {"task_id": bid4})
t.ok(r.get("isError") and "not running" in text(r),
     "stopping it again is an error", r)
r = c.call_tool("KillShell", {"shell_id": "bash_99999"})
t.ok(r.get("isError"), "KillShell of an unknown id is an error", r)

bash("cd /tmp")
r = bash("pwd", run_in_background=True)
bid5 = re.search(r"(bash_\d+)", text(r)).group(1)
r = c.call_tool("TaskOutput", {"task_id": bid5, "timeout": 5000})
t.ok(text(r).endswith("stdout:\n/tmp\n"),
     "a background command starts in the shell's directory", r)

n = random.randint(100000, 999999)
c2.close()
c3 = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
c3.initialize()
r = c3.call_tool("Bash", {"command": "sleep %d" % (n + 1),
                          "run_in_background": True})
end = time.time() + 10
while not procs("sleep %d" % (n + 1)) and time.time() < end:
    time.sleep(0.05)
c3.close()
t.ok(gone("sleep %d" % (n + 1)),
     "the end of a session kills its background commands")


# --- arguments and policy ---
def refused(args, what):
    try:
        r = c.call_tool("Bash", args)
        ok = r.get("isError")
    except MCPError as e:
        r, ok = e.error, True
    t.ok(ok, what, r)


refused({"command": "true", "timeout": 0}, "timeout 0 is refused")
refused({"command": "true", "timeout": 600001}, "timeout over 600000 refused")
refused({"command": ""}, "an empty command is refused")
refused({"command": 5}, "a command that is not a string is refused")
r = c.call_tool("Bash", {"command": "true", "host": "noexec"})
t.ok(r.get("isError") and "exec" in text(r),
     "a host without exec refuses Bash", r)
r = c.call_tool("BashOutput", {"bash_id": bid, "host": "noexec"})
t.ok(r.get("isError") and "exec" in text(r),
     "a host without exec refuses BashOutput", r)

c.close()
sys.exit(t.done())
EOF

tap_check "bridged is still running" bridged_alive
tap_check "bridged stops cleanly" bridged_stop
tap_end
