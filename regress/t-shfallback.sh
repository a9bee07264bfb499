#!/usr/bin/env bash
# t-shfallback: Bash on a host without bash.  The persistent shell is then
# sh -s, reading its commands on stdin (ssh_shproto.c, SHELL_EXEC): each
# command goes as eval 'COMMAND' </dev/null and two printfs of the marker,
# with none of bash's functions.  A second sshd whose sessions get a PATH
# that holds every program of /usr/bin but bash stands in for such a host
# (the login shell, found by its path, still runs).  Checked: the shell is
# not bash; output, stderr and status; cd and export persist; a command of
# 32 bytes or more (bash's one-read form) and one with bytes that are not
# ASCII arrive whole; quotes, backslashes, printf formats and a line that
# looks like a marker come out as written; a 65 KB here-document arrives
# whole; a command that reads stdin gets end of file and does not eat the
# next command; a timeout kills the command and the shell goes on with
# its state; exec 2>&1 (which moves the markers sh prints) times out
# with a note saying so; a loop that ignores the kill gets a fresh sh and
# a warning.

. "$(dirname "$0")/lib.sh"

sshd_start || { tap_fail "sshd starts"; tap_end; }
NOBASH=$TESTDIR/nobash
mkdir -p "$NOBASH"
for p in /usr/bin/* /bin/*; do
	b=${p##*/}
	case $b in
	bash|rbash)	continue ;;
	esac
	[ -e "$NOBASH/$b" ] || ln -s "$p" "$NOBASH/$b"
done
# sshd takes the first SetEnv line only: SHLVL=1 as lib.sh's does
sshd_start2 127.0.0.1 "SetEnv PATH=$NOBASH SHLVL=1" ||
    { tap_fail "the sshd without bash on its PATH starts"; tap_end; }
tap_check "bridged starts" bridged_start "
host \"nobash\" {
	address \"127.0.0.1\" port $SSHD2_PORT
	user \"$SSH_USER\"
	identity \"$SSH_USER_KEY\"
	known hosts \"$SSHD2_KNOWN_HOSTS\"
	base dir \"$TESTDIR/base\"
	allow read, write, exec
}" || tap_end
export TESTDIR REGRESS_DIR NOBASH

tap_run "$PYTHON" - <<'EOF'
import hashlib, os, random, subprocess, sys, time
sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client, Tap, result_text

t = Tap()
c = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
c.initialize()
base = os.path.join(os.environ["TESTDIR"], "base")


def gone(pattern, secs=5.0):
    """no process matches pattern (pgrep -f) within secs"""
    end = time.time() + secs
    while time.time() < end:
        if subprocess.run(["pgrep", "-f", pattern],
                          capture_output=True).returncode != 0:
            return True
        time.sleep(0.1)
    return False


def bash(cmd, **kw):
    args = {"command": cmd, "host": "nobash"}
    args.update(kw)
    r = c.call_tool("Bash", args, timeout=60)
    return bool(r.get("isError")), result_text(r)


# the control: this host's shell is sh, and bash is not to be found
e, x = bash('echo "bash=${BASH_VERSION:-none}"; command -v bash || '
            'echo no-bash; echo "path=$PATH"')
t.ok(not e and "bash=none" in x and "no-bash" in x and
     "path=" + os.environ["NOBASH"] in x,
     "the host's shell is sh, with no bash on its PATH", x)
e, x = bash("type __bridged_mark __bridged_get 2>&1 | head -n 2; true")
t.ok(not e and "function" not in x,
     "sh has none of bash's marker functions", x)

e, x = bash("echo out; echo err >&2; (exit 3)")
t.ok(not e and x == "out\nstderr:\nerr\nexit status: 3",
     "stdout, stderr and the exit status come back", x)
e, x = bash("printf 'no newline'")
t.ok(not e and x == "no newline\nexit status: 0",
     "output without a final newline", x)

e, x = bash("cd /tmp && export T_SHFB=kept")
e, x = bash('pwd; echo "v=$T_SHFB"')
t.ok(not e and "/tmp" in x and "v=kept" in x,
     "cd and export persist between calls", x)

for n in (31, 32, 33, 200):
    word = "y" * (n - len("echo "))
    e, x = bash("echo " + word)
    t.ok(not e and word in x, "a command of %d bytes" % n, x[:200])

e, x = bash("printf '%s\\n' 'caf\u00e9 \u65e5\u672c \u2603 and more words "
            "to pass thirty-two bytes'")
t.ok(not e and "caf\u00e9 \u65e5\u672c \u2603" in x,
     "a command with bytes that are not ASCII arrives whole", x)

hostile = ("printf '%s|%d|\\\\|\\c' \"it's\" 5; echo; "
           "echo 'a\"b' \"c'd\" '$HOME' \\$x; "
           "echo 'ZZZZZZZZZZZZZZZZZZZZZZ 0 / ZZZZZZZZZZZZZZZZZZZZZZ'")
e, x = bash(hostile)
t.ok(not e and "it's|5|\\|" in x and "a\"b c'd $HOME $x" in x and
     "ZZZZZZZZZZZZZZZZZZZZZZ 0 / ZZZZZZZZZZZZZZZZZZZZZZ" in x,
     "quotes, backslashes, formats and a marker-like line come out as "
     "written", x)

body = "".join("line %05d %s\n" % (i, "q" * 50) for i in range(1100))
want = hashlib.md5(body.encode()).hexdigest()
e, x = bash("md5sum <<'ENDOFDOC'\n" + body + "ENDOFDOC")
t.ok(not e and want in x, "a %d-byte here-document arrives whole" %
     len(body), x[:200])

e, x = bash("cat; echo after-cat")
t.ok(not e and "after-cat" in x, "a command reading stdin gets end of file",
     x)
e, x = bash("echo next-one")
t.ok(not e and "next-one" in x, "... and the next command still runs", x)

n = random.randint(100000, 999999)
e, x = bash("sleep %d" % n, timeout=1000)
t.ok(e and "timed out after 1000 ms" in x, "a timeout ends the command", x)
t.ok(gone("sleep %d" % n), "... and no sleep %d process is left" % n)
e, x = bash('pwd; echo "v=$T_SHFB"')
t.ok(not e and x == "/tmp\nv=kept\nexit status: 0",
     "the shell goes on after a timeout, with its state", x)

# sh prints the markers on the shell's own stdout and stderr: a command
# that moves one never ends, and the timeout says what to suspect
e, x = bash("exec 2>&1; echo moved >&2", timeout=2000)
t.ok(e and "moved" in x and "stdout ended but not its stderr" in x and
     "exec 2>&1" in x, "exec 2>&1 in sh: timed out, and the note says why",
     x)

e, x = bash("while :; do :; done", timeout=1000)
t.ok(e and "new shell" in x,
     "a shell loop that ignores the kill: the shell is replaced", x)
e, x = bash('echo "bash=${BASH_VERSION:-none}"; pwd')
t.ok(x.startswith("warning:") and "bash=none\n" + base + "\nexit status: 0"
     in x, "the next command warns and runs in a fresh sh", x)

c.close()
t.done()
EOF
tap_end
