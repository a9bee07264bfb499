#!/usr/bin/env bash
# t-xfertimeout: a transfer on its own channel stops at the call timeout
# (limits { call timeout 3 }) with a clear error, over an SFTP link of
# 1 MB/s (sftpslow.py) on which a 6 MB file takes 6 s: the Download says
# how far it got and stops writing, the Upload replaces nothing and leaves
# no temp, each gives its channel back, and the host's next call works.
# So does a Read whose awk slice of a large file (a slow awk first on the
# host's PATH) outlasts the call: it leaves no awk running.

. "$(dirname "$0")/lib.sh"

SFTP_SERVER=$(sftp_server_path)
sshd_start || { tap_fail "sshd starts"; tap_end; }
if [ -z "$SFTP_SERVER" ]; then
	tap_skip "no sftp-server binary for the slow subsystem"
	tap_end
fi
# the slow host's awk never ends for a file named slowread*: a Read's
# slice of a large file past the call timeout
slow_awk 60 || { tap_fail "a slow awk for the host"; tap_end; }
SSHD_SFTP="$PYTHON $REGRESS_DIR/sftpslow.py $SFTP_SERVER 1000000" \
    sshd_start2 127.0.0.1 "SetEnv SHLVL=1 PATH=$TESTDIR/slowbin:$PATH" ||
    { tap_fail "the slow sshd starts"; tap_end; }
mkdir -p "$TESTDIR/troot" "$TESTDIR/base"
tap_check "bridged starts" bridged_start "transfer root \"$TESTDIR/troot\"
limits { call timeout 3 }
host \"slow\" {
	address \"127.0.0.1\" port $SSHD2_PORT
	user \"$SSH_USER\"
	identity \"$SSH_USER_KEY\"
	known hosts \"$SSHD2_KNOWN_HOSTS\"
	base dir \"$TESTDIR/base\"
	allow read, write, exec
}" || tap_end
export TESTDIR REGRESS_DIR CTL_SOCK BRIDGECTL

tap_run "$PYTHON" - <<'PY'
import os, subprocess, sys, time
sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client, Tap, result_text
from xferlib import host_channels

t = Tap()
base = os.path.join(os.environ["TESTDIR"], "base")
troot = os.path.join(os.environ["TESTDIR"], "troot")
data = os.urandom(6 * 1000 * 1000)
with open(os.path.join(base, "big.bin"), "wb") as f:
    f.write(data)
with open(os.path.join(troot, "up.bin"), "wb") as f:
    f.write(data)
with open(os.path.join(base, "keep.txt"), "w") as f:
    f.write("old\n")
c = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
c.initialize()


def call(tool, args):
    args["host"] = "slow"
    r = c.call_tool(tool, args, timeout=60)
    return bool(r.get("isError")), result_text(r)


def channels():
    return host_channels("slow")


# the shell and the file tools' SFTP up: what stays open between calls.
# The host's first file tool also sweeps old temp files on an exec
# channel of its own that nobody waits for; on a loaded machine it may
# still be open here, so wait for the two that stay.
e, x = call("Bash", {"command": "echo warm"})
e2, x2 = call("Read", {"file_path": os.path.join(base, "keep.txt")})
end = time.time() + 15
while channels() != 2 and time.time() < end:
    time.sleep(0.05)
before = channels()
t.ok(not e and "warm" in x and not e2 and before == 2,
     "Bash and Read on the slow host: the shell and the SFTP session "
     "stay open (%s channels)" % before, x, x2)

e, x = call("Download", {"local_path": "big.down",
                         "remote_path": os.path.join(base, "big.bin")})
down = os.path.join(troot, "big.down")
size = os.path.getsize(down)
time.sleep(1.5)
# the worker answers a second before the frontend would ("timed out")
t.ok(e and ("call timeout" in x and "incomplete" in x or "timed out" in x),
     "Download: past the call timeout, a clear error", x)
t.ok(size < len(data) and os.path.getsize(down) == size,
     "Download: it stopped writing (%d of %d bytes)" % (size, len(data)))

e, x = call("Upload", {"local_path": "up.bin", "overwrite": True,
                       "remote_path": os.path.join(base, "keep.txt")})
end = time.time() + 10
while [n for n in os.listdir(base) if ".bridged-" in n] and \
        time.time() < end:
    time.sleep(0.05)
with open(os.path.join(base, "keep.txt"), "rb") as f:
    kept = f.read()[:100]
left = [n for n in os.listdir(base) if ".bridged-" in n]
t.ok(e and ("call timeout" in x and "not replaced" in x or
            "timed out" in x),
     "Upload: past the call timeout, a clear error", x)
t.ok(kept == b"old\n" and not left,
     "Upload: the target is as it was, no temp is left", kept, left)
after = channels()
t.ok(after == before, "their channels were given back (before %s, after %s)"
     % (before, after))
e, x = call("Bash", {"command": "echo after"})
t.ok(not e and "after" in x, "the host's next call works", x)


def slices():
    """the slow awk of this test still running"""
    r = subprocess.run(["pgrep", "-f", os.path.join(os.environ["TESTDIR"],
                                                    "slowbin", "awk")],
                       capture_output=True, text=True)
    return r.stdout.split()


# a Read whose slice on the host (a file over 256 KiB) outlasts the call
with open(os.path.join(base, "slowread.txt"), "w") as f:
    f.write(("s" * 99 + "\n") * 3000)
e, x = call("Read", {"file_path": os.path.join(base, "slowread.txt"),
                     "offset": 2000, "limit": 2})
end = time.time() + 10
while (slices() or channels() != before) and time.time() < end:
    time.sleep(0.05)
t.ok(e and "timed out" in x and not slices() and channels() == before,
     "Read: a slice past the call timeout is a clear error, leaves no awk, "
     "gives its channel back", x, slices(), channels())
e, x = call("Read", {"file_path": os.path.join(base, "keep.txt")})
t.ok(not e and "old" in x, "and the host's next Read works", x)
t.done()
PY
tap_end
