#!/usr/bin/env bash
# t-nostall: a transfer or a search holds nothing but its own channel
# (issue 16, no serialisation that isn't needed).  The host "slow" is an sshd whose
# SFTP subsystem moves 1 MB/s each way (sftpslow.py): a Download or an
# Upload of 3 MB takes seconds, and meanwhile another session's Bash,
# Read, Glob and Write on the same host are answered before it is (they
# once waited for the whole of it: the copy held the host's worker).  Both
# are byte-identical; a cancelled Download stops writing, a cancelled
# Upload replaces nothing and leaves no temp, and each gives its channel
# back; one whose SFTP server dies mid-way is a clear error; the host's
# next calls work, also once the SFTP server the file tools share has
# ended (another is started: the old code failed every file tool on the
# host until the connection dropped).  A Grep that waits on a FIFO (its writer 2 s late)
# lets another session's Bash and Read through first, and a cancelled one
# leaves no grep running on the host.  So does a Glob over a tree whose
# listings take 2 s on the link (it held the host's worker for as long as
# it walked, up to 30 s), and a cancelled one gives its channel back; and
# a Write of 3 MB and an Edit of a 2 MB file (read and written on
# channels of their own), whose modes are kept, and cancelled ones replace
# nothing.  A Read and a MultiRead of a large file whose awk slice takes
# 2 s on the host (a slow awk first on its PATH) let Bash and Read through
# (the slice held the host's worker), MultiRead's files come whole and in
# order, and a cancelled Read or MultiRead leaves no awk running.  A
# ListDir of 4,000 long names (2 s of listings on the link) lets them
# through too, and a cancelled one gives its channel back.

. "$(dirname "$0")/lib.sh"

SFTP_SERVER=$(sftp_server_path)
sshd_start || { tap_fail "sshd starts"; tap_end; }
if [ -z "$SFTP_SERVER" ]; then
	tap_skip "no sftp-server binary for the slow subsystem"
	tap_end
fi
# the slow host's awk takes 2 s more for a file named slowread*: what
# Read's slice of a large file costs when awk scans for long
slow_awk 2 || { tap_fail "a slow awk for the host"; tap_end; }
# the test's directory on the command line: its kills touch its own alone
SSHD_SFTP="$PYTHON $REGRESS_DIR/sftpslow.py $SFTP_SERVER 1000000 $TESTDIR" \
    sshd_start2 127.0.0.1 "SetEnv SHLVL=1 PATH=$TESTDIR/slowbin:$PATH" ||
    { tap_fail "the slow sshd starts"; tap_end; }
mkdir -p "$TESTDIR/troot" "$TESTDIR/base"
tap_check "bridged starts" bridged_start "transfer root \"$TESTDIR/troot\"
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
data = os.urandom(3 * 1000 * 1000 + 12345)
with open(os.path.join(base, "big.bin"), "wb") as f:
    f.write(data)
with open(os.path.join(base, "small.txt"), "w") as f:
    f.write("small\n")

a = Client(socket_path=os.environ["MCP_SOCK"], timeout=120)
a.initialize()
b = Client(socket_path=os.environ["MCP_SOCK"], timeout=120)
b.initialize()


def call(c, tool, args):
    r = c.call_tool(tool, args, timeout=120)
    return bool(r.get("isError")), result_text(r)


def start(c, tool, args):
    rid = c.new_id()
    c.send({"jsonrpc": "2.0", "id": rid, "method": "tools/call",
            "params": {"name": tool, "arguments": args}})
    return rid


def done(c, rid, timeout=120):
    r = c.wait_response(rid, timeout)
    return bool(r["result"].get("isError")), result_text(r["result"])


def same(path):
    try:
        with open(path, "rb") as f:
            return f.read() == data
    except OSError:
        return False


def poll(c, rid):
    """the answer to rid if it came already, else None"""
    while True:
        try:
            m = c.recv_message(0.01)
        except Exception:
            break
        if m is None:
            break
        c.responses[str(m.get("id"))] = m
    for k, v in list(c.responses.items()):
        if k == str(rid) or k == rid:
            return v
    return None


def first(rid, what):
    """another session's Bash and Read on the host answered before rid"""
    e, x = call(b, "Bash", {"host": "slow", "command": "echo during"})
    e2, x2 = call(b, "Read", {"host": "slow",
                              "file_path": os.path.join(base, "small.txt")})
    early = poll(a, rid) is None
    t.ok(not e and "during" in x and not e2 and "small" in x2 and early,
         "Bash and Read answered before " + what, x, x2)


# the host's shell and SFTP up before the race
e, x = call(b, "Bash", {"host": "slow", "command": "echo warm"})
t.ok(not e and "warm" in x, "Bash on the slow host", x)

rid = start(a, "Download", {"host": "slow", "local_path": "big.down",
                            "remote_path": os.path.join(base, "big.bin")})
time.sleep(0.5)
t0 = time.monotonic()
e, x = call(b, "Bash", {"host": "slow", "command": "echo during"})
bash_s = time.monotonic() - t0
e2, x2 = call(b, "Read", {"host": "slow",
                          "file_path": os.path.join(base, "small.txt")})
e3, x3 = call(b, "Glob", {"host": "slow", "pattern": "*.txt", "path": base})
early = poll(a, rid) is None
t.ok(not e and "during" in x, "Bash during the Download", x)
t.ok(not e2 and "small" in x2, "Read during the Download", x2)
t.ok(not e3 and "small.txt" in x3, "Glob during the Download", x3)
t.ok(early, "all three answered before the Download was (Bash took "
     "%.3f s)" % bash_s)
e, x = done(a, rid)
t.ok(not e and "Downloaded %d bytes" % len(data) in x and
     same(os.path.join(troot, "big.down")),
     "the Download is byte-identical", x)


def channels():
    return host_channels("slow")


# cancelled mid-way: it stops, the host goes on
before = channels()
rid = start(a, "Download", {"host": "slow", "local_path": "cut.down",
                            "remote_path": os.path.join(base, "big.bin")})
time.sleep(0.7)
a.notify("notifications/cancelled", {"requestId": rid, "reason": "test"})
time.sleep(0.3)
e, x = call(b, "Bash", {"host": "slow", "command": "echo after"})
t.ok(not e and "after" in x, "Bash after a cancelled Download", x)


def settled(path):
    """the size of path once it has not changed for a second (10 s at most)"""
    end = time.time() + 10
    last = -1
    while time.time() < end:
        now = os.path.getsize(path)
        if now == last:
            return now
        last = now
        time.sleep(1)
    return None


size = settled(os.path.join(troot, "cut.down"))
time.sleep(1)
t.ok(size is not None and size < len(data) and
     os.path.getsize(os.path.join(troot, "cut.down")) == size,
     "the cancelled Download stopped writing (%s bytes)" % size)
after = channels()
t.ok(before is not None and after == before, "its channel was given back "
     "(channels before %s, after %s)" % (before, after))
e, x = call(a, "Download", {"host": "slow", "local_path": "again.down",
                            "remote_path": os.path.join(base, "small.txt")})
t.ok(not e and "Downloaded 6 bytes" in x, "the next Download works", x)

# an Upload the same way: others answered meanwhile, a Write beside it
with open(os.path.join(troot, "up.bin"), "wb") as f:
    f.write(data)
target = os.path.join(base, "up.bin")
rid = start(a, "Upload", {"host": "slow", "local_path": "up.bin",
                          "remote_path": target})
time.sleep(0.5)
e, x = call(b, "Bash", {"host": "slow", "command": "echo during"})
e2, x2 = call(b, "Write", {"host": "slow", "content": "beside\n",
                           "file_path": os.path.join(base, "beside.txt")})
e3, x3 = call(b, "Read", {"host": "slow",
                          "file_path": os.path.join(base, "beside.txt")})
early = poll(a, rid) is None
t.ok(not e and "during" in x and not e2 and not e3 and "beside" in x3,
     "Bash, Write and Read during the Upload", x, x2, x3)
t.ok(early, "all three answered before the Upload was")
e, x = done(a, rid)
t.ok(not e and "Uploaded %d bytes" % len(data) in x and same(target),
     "the Upload is byte-identical", x)


def temps():
    return [n for n in os.listdir(base) if ".bridged-" in n]


# cancelled mid-way: the target stays as it was, no temp is left
with open(os.path.join(base, "keep.txt"), "w") as f:
    f.write("old\n")
before = channels()
rid = start(a, "Upload", {"host": "slow", "local_path": "up.bin",
                          "remote_path": os.path.join(base, "keep.txt"),
                          "overwrite": True})
time.sleep(0.7)
mid = temps()
a.notify("notifications/cancelled", {"requestId": rid, "reason": "test"})
e, x = call(b, "Bash", {"host": "slow", "command": "echo after"})
t.ok(not e and "after" in x, "Bash after a cancelled Upload", x)
end = time.time() + 10
while temps() and time.time() < end:
    time.sleep(0.05)
with open(os.path.join(base, "keep.txt"), "rb") as f:
    kept = f.read()[:100]
after = channels()
t.ok(mid and kept == b"old\n" and not temps(),
     "the cancelled Upload replaced nothing and left no temp (%s mid-way)"
     % mid, kept, temps())
t.ok(after == before, "its channel was given back (before %s, after %s)"
     % (before, after))


# the server's end of the channel dies mid-way: a clear error, in time
MINE = "sftpslow.py .* " + os.environ["TESTDIR"]


def slows():
    r = subprocess.run(["pgrep", "-f", MINE], capture_output=True,
                       text=True)
    return set(r.stdout.split())


def kill_new(old):
    """the SFTP server of the transfer's own channel, once it is copying"""
    end = time.time() + 10
    while not slows() - old and time.time() < end:
        time.sleep(0.05)
    time.sleep(0.7)
    for pid in slows() - old:
        subprocess.run(["kill", pid])


for tool, args, says in (
        ("Download", {"local_path": "killed.down",
                      "remote_path": os.path.join(base, "big.bin")},
         "incomplete"),
        ("Upload", {"local_path": "up.bin", "overwrite": True,
                    "remote_path": os.path.join(base, "keep.txt")},
         "not replaced")):
    args["host"] = "slow"
    old = slows()
    rid = start(a, tool, args)
    kill_new(old)
    e, x = done(a, rid, 30)
    t.ok(e and "closed the channel" in x and says in x,
         "%s: its SFTP server killed mid-way is a clear error" % tool, x)
e, x = call(b, "Read", {"host": "slow",
                        "file_path": os.path.join(base, "small.txt")})
t.ok(not e and "small" in x and not temps(), "the host goes on, no temp "
     "left", x, temps())

# the SFTP server the file tools share ends: the next one starts
subprocess.run(["pkill", "-f", MINE])
time.sleep(0.5)
e, x = call(b, "Read", {"host": "slow",
                        "file_path": os.path.join(base, "small.txt")})
t.ok(not e and "small" in x, "after the shared SFTP server ended, Read "
     "works (another was started)", x)
e, x = call(b, "Write", {"host": "slow", "content": "again\n",
                        "file_path": os.path.join(base, "again.txt")})
t.ok(not e and open(os.path.join(base, "again.txt")).read() == "again\n",
     "and so does Write (its temp recorded on the new one)", x)


# a search that waits: grep on a FIFO whose writer is late
fifo = os.path.join(base, "slow.fifo")
os.mkfifo(fifo)
writer = subprocess.Popen(["sh", "-c", "sleep 2; echo 'a late match' > '%s'"
                           % fifo])
rid = start(a, "Grep", {"host": "slow", "pattern": "late match",
                        "path": fifo, "output_mode": "content"})
time.sleep(0.3)
first(rid, "the waiting Grep")
e, x = done(a, rid)
try:
    writer.wait(20)
except subprocess.TimeoutExpired:
    writer.kill()	# no reader came: the Grep never opened the FIFO
    writer.wait()
t.ok(not e and "a late match" in x, "the Grep then finds its match", x)


def greps():
    """the searches of this FIFO still running (its path is this test's)"""
    r = subprocess.run(["pgrep", "-f", "--", " -- " + fifo],
                       capture_output=True, text=True)
    return r.stdout.split()


# cancelled while it waits (no writer at all): nothing left running
rid = start(a, "Grep", {"host": "slow", "pattern": "late match",
                        "path": fifo, "output_mode": "content"})
end = time.time() + 10
while not greps() and time.time() < end:
    time.sleep(0.05)
running = bool(greps())
a.notify("notifications/cancelled", {"requestId": rid, "reason": "test"})
end = time.time() + 10
while greps() and time.time() < end:
    time.sleep(0.05)
t.ok(running and not greps(), "a cancelled Grep leaves no grep on the host",
     greps())
# a reader still there (a Grep not stopped) gets an end, so the rest can go
try:
    os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
except OSError:
    pass
e, x = call(b, "Bash", {"host": "slow", "command": "echo still"})
t.ok(not e and "still" in x, "the host goes on after it", x)
os.unlink(fifo)

# a Read deep into a large file: awk slices it on the host, for 2 s here
slowread = os.path.join(base, "slowread.txt")
with open(slowread, "w") as f:
    f.writelines("row %d %s\n" % (i, "r" * 40) for i in range(1, 20001))
want = "".join("%6d\trow %d %s\n" % (i, i, "r" * 40)
               for i in range(15000, 15003))
rid = start(a, "Read", {"host": "slow", "file_path": slowread,
                        "offset": 15000, "limit": 3})
time.sleep(0.3)
first(rid, "a Read whose slice takes 2 s")
e, x = done(a, rid)
t.ok(not e and x == want, "the Read then has its three lines", x)

# MultiRead: the files after a slow slice are read when it has come
rid = start(a, "MultiRead", {"host": "slow", "files": [
    os.path.join(base, "small.txt"),
    {"file_path": slowread, "offset": 15000, "limit": 3},
    os.path.join(base, "nope.txt"),
    {"file_path": slowread, "offset": 2, "limit": 1},
    os.path.join(base, "small.txt")]})
time.sleep(0.3)
first(rid, "a MultiRead whose slices take 2 s each")
e, x = done(a, rid)
small = "==> %s <==\n     1\tsmall\n" % os.path.join(base, "small.txt")
t.ok(not e and x == small + "\n==> %s <==\n%s\n==> %s <==\nerror: File "
     "does not exist: %s\n\n==> %s <==\n     2\trow 2 %s\n\n%s"
     % (slowread, want, os.path.join(base, "nope.txt"),
        os.path.join(base, "nope.txt"), slowread, "r" * 40, small),
     "the MultiRead has every file, in order", x)


def slices():
    """the slow awk of this test still running"""
    r = subprocess.run(["pgrep", "-f", os.path.join(os.environ["TESTDIR"],
                                                    "slowbin", "awk")],
                       capture_output=True, text=True)
    return r.stdout.split()


def cancel_in_slice(tool, args):
    """tool cancelled while its slice runs: whether one ran, once it and
    the channel are gone (or 10 s passed)"""
    rid = start(a, tool, args)
    end = time.time() + 10
    while not slices() and time.time() < end:
        time.sleep(0.05)
    running = bool(slices())
    a.notify("notifications/cancelled", {"requestId": rid, "reason": "test"})
    end = time.time() + 10
    while (slices() or channels() != before) and time.time() < end:
        time.sleep(0.05)
    return running


before = channels()
running = cancel_in_slice("Read", {"host": "slow", "file_path": slowread,
                                   "offset": 15000, "limit": 3})
t.ok(running and not slices() and channels() == before,
     "a cancelled Read leaves no awk on the host and gives its channel back",
     slices(), channels(), before)
# and a MultiRead cancelled during a slice: the files after it not read
running = cancel_in_slice("MultiRead", {"host": "slow", "files": [
    os.path.join(base, "small.txt"),
    {"file_path": slowread, "offset": 15000, "limit": 3},
    os.path.join(base, "small.txt")]})
e, x = call(b, "MultiRead", {"host": "slow", "files": [
    os.path.join(base, "small.txt")]})
t.ok(running and not slices() and channels() == before and not e and
     "small" in x, "a cancelled MultiRead leaves no awk, gives its channel "
     "back, and the next MultiRead works", slices(), channels(), x)

# a Write of 3 MB: on a channel of its own too, the owner's mode kept
target = os.path.join(base, "written.txt")
with open(target, "w") as f:
    f.write("old\n")
os.chmod(target, 0o640)
text = ("w" * 99 + "\n") * 30000
rid = start(a, "Write", {"host": "slow", "file_path": target,
                         "content": text})
time.sleep(0.5)
first(rid, "a 3 MB Write")
e, x = done(a, rid)
with open(target) as f:
    got = f.read()
t.ok(not e and "has been updated (3000000 bytes)" in x and got == text and
     os.stat(target).st_mode & 0o777 == 0o640 and not temps(),
     "the Write replaced the file whole, its mode kept, no temp left", x)
before = channels()
rid = start(a, "Write", {"host": "slow", "file_path": target,
                         "content": "z" * 3000000})
time.sleep(0.7)
a.notify("notifications/cancelled", {"requestId": rid, "reason": "test"})
end = time.time() + 10
while (temps() or channels() != before) and time.time() < end:
    time.sleep(0.05)
with open(target) as f:
    got = f.read()
t.ok(got == text and not temps() and channels() == before,
     "a cancelled Write replaced nothing, left no temp, gave its channel "
     "back", temps(), channels(), before)

# an Edit of a 2 MB file: read and written on channels of their own
text = ("e" * 99 + "\n") * 20000
with open(target, "w") as f:
    f.write("first line\n" + text)
rid = start(a, "Edit", {"host": "slow", "file_path": target,
                        "old_string": "first line\n",
                        "new_string": "edited\n"})
time.sleep(0.5)
first(rid, "an Edit of a 2 MB file")
e, x = done(a, rid)
with open(target) as f:
    got = f.read()
t.ok(not e and "has been updated" in x and got == "edited\n" + text and
     os.stat(target).st_mode & 0o777 == 0o640 and not temps(),
     "the Edit replaced the file whole, its mode kept", x)
rid = start(a, "Edit", {"host": "slow", "file_path": target,
                        "old_string": "edited\n", "new_string": "again\n"})
time.sleep(0.7)
a.notify("notifications/cancelled", {"requestId": rid, "reason": "test"})
end = time.time() + 10
while (temps() or channels() != before) and time.time() < end:
    time.sleep(0.05)
with open(target) as f:
    got = f.read()
t.ok(got == "edited\n" + text and not temps() and channels() == before,
     "an Edit cancelled while it reads writes nothing and gives its channel "
     "back", temps(), channels(), before)

# a Glob over a large tree: 4,000 entries of long names, about 2 MB of
# listings, 2 s at the slow link's rate; it walks on a channel of its own
tree = os.path.join(base, "tree")
for i in range(40):
    d = os.path.join(tree, "d%02d" % i + "x" * 150)
    os.makedirs(d)
    for j in range(100):
        open(os.path.join(d, "f%03d" % j + "y" * 200 + ".txt"), "w").close()
open(os.path.join(tree, "d07" + "x" * 150, "needle.md"), "w").close()
before = channels()
rid = start(a, "Glob", {"host": "slow", "pattern": "**/*.md", "path": tree})
time.sleep(0.3)
first(rid, "the Glob over a large tree")
e, x = done(a, rid)
t.ok(not e and x.strip() == os.path.join(tree, "d07" + "x" * 150,
                                         "needle.md"),
     "the Glob then finds its one match", x)
rid = start(a, "Glob", {"host": "slow", "pattern": "**/*.none", "path": tree})
time.sleep(0.5)
a.notify("notifications/cancelled", {"requestId": rid, "reason": "test"})
e, x = call(b, "Glob", {"host": "slow", "pattern": "*.txt", "path": base})
t.ok(not e and "small.txt" in x, "a Glob after a cancelled one works", x)
end = time.time() + 10
while channels() != before and time.time() < end:
    time.sleep(0.05)
t.ok(channels() == before, "the cancelled Glob gave its channel back "
     "(before %s, after %s)" % (before, channels()))

# a ListDir of a large directory: 4,000 entries of long names, about 2 MB
# of listings, 2 s at the slow link's rate; it lists on a channel of its
# own (the old code held the host for it, as Glob's walk did)
wide = os.path.join(base, "wide")
os.mkdir(wide)
for i in range(4000):
    open(os.path.join(wide, "w%04d" % i + "z" * 200), "w").close()
rid = start(a, "ListDir", {"host": "slow", "path": wide})
time.sleep(0.3)
first(rid, "a ListDir of a large directory")
e, x = done(a, rid)
t.ok(not e and x.startswith(wide + ": 4000 entries\n") and
     "w0000" + "z" * 200 + "\t0\n" in x,
     "the ListDir then lists it", x[:200])
rid = start(a, "ListDir", {"host": "slow", "path": wide})
time.sleep(0.5)
a.notify("notifications/cancelled", {"requestId": rid, "reason": "test"})
e, x = call(b, "ListDir", {"host": "slow", "path": tree})
t.ok(not e and "40 entries" in x, "a ListDir after a cancelled one works",
     x[:200])
end = time.time() + 10
while channels() != before and time.time() < end:
    time.sleep(0.05)
t.ok(channels() == before, "the cancelled ListDir gave its channel back "
     "(before %s, after %s)" % (before, channels()))
t.done()
PY
tap_end
