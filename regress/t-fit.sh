#!/bin/bash
# regress-timeout: 600
# t-fit: results that fit real clients, progress and log messages.
#
# - Whole results (text blocks and structuredContent, in characters) stay
#   within limits { result size } (40000 by default): a Read of a big
#   file, a Bash printing 1 MB, a Grep with many matches, the output of a
#   background command; each ends with the exact next step (offset and
#   limit, offset and head_limit, a redirect to Read, the same call
#   again), and following it gets the next part.  Multi-byte text is
#   counted in characters and never cut inside a sequence.
# - notifications/progress on a 3 s Bash with a progressToken (strictly
#   increasing, elapsed seconds and output bytes), none without one; on
#   Upload and Download (bytes of the total); on a 3 s Grep (a FIFO).
# - notifications/message on a reconnect, on a refusal and on a cut
#   result, at or above the level set with logging/setLevel ("info"
#   until then), with no secret of regress/secrets.txt in them.
# - A daemon with limits { result size 8000 } cuts at 8000.

. "$(dirname "$0")/lib.sh"

sshd_start || { tap_fail "sshd starts"; tap_end; }
mkdir -p "$TESTDIR/troot/in" "$TESTDIR/troot/out"
LIMITED="host \"limited\" {
	address \"127.0.0.1\" port $SSHD_PORT
	user \"$SSH_USER\"
	identity \"$SSH_USER_KEY\"
	known hosts \"$SSH_KNOWN_HOSTS\"
	base dir \"$TESTDIR/base\"
	allow read, exec
	exec allow { \"echo\" }
}"
if ! tap_check "bridged starts" bridged_start "transfer root \"$TESTDIR/troot\"
$LIMITED"; then
	tap_end
fi

export REGRESS_DIR TESTDIR
tap_run "$PYTHON" - 40000 <<'EOF'
import json
import os
import random
import re
import string
import subprocess
import sys
import time

sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client, Tap, result_text

CAP = int(sys.argv[1])
TD = os.environ["TESTDIR"]
BASE = os.path.join(TD, "base")
TROOT = os.path.join(TD, "troot")
t = Tap()
c = Client(socket_path=os.environ["MCP_SOCK"], timeout=120)
c.initialize()
SSHD_KILL = "kill -9 $(ps -o ppid= -p $(ps -o sid= -p $$))"


def size(r):
    """characters a client may show the model: text plus structured."""
    n = sum(len(b.get("text", "")) for b in r.get("content", []))
    if "structuredContent" in r:
        n += len(json.dumps(r["structuredContent"], separators=(",", ":"),
                            ensure_ascii=False))
    return n


def call(name, args, meta=None):
    c.notifications.clear()
    return c.call_tool(name, args, meta=meta)


def notes(method):
    return [n.get("params", {}) for n in c.notifications
            if n.get("method") == method]


def logs():
    return notes("notifications/message")


def fits(r, what):
    txt = result_text(r)
    t.ok(not r.get("isError") and size(r) <= CAP and "\ufffd" not in txt,
         "%s: %d characters, within %d" % (what, size(r), CAP), txt[-400:])
    return txt


# --- Read of a big file -------------------------------------------------------
lines = ["%05d é✓ %s" % (i, "x" * (80 + i % 40)) for i in range(1, 6001)]
with open(os.path.join(BASE, "big.txt"), "w") as f:
    f.write("\n".join(lines) + "\n")
r = call("Read", {"file_path": os.path.join(BASE, "big.txt")})
txt = fits(r, "Read of a 700 KB file")
m = re.search(r"\[Read stopped after line (\d+) to fit the result limit "
              r"\(%d characters\).*call Read with offset=(\d+) and "
              r"limit=(\d+)\]" % CAP, txt)
t.ok(m and int(m.group(2)) == int(m.group(1)) + 1 and
     int(m.group(1)) + int(m.group(3)) == 2000,
     "Read: the hint names the next offset and the rest of the limit",
     txt[-300:])
last = int(m.group(1)) if m else 0
shown = [l.split("\t", 1)[1] for l in txt.split("\n") if "\t" in l]
t.ok(shown == lines[:last], "Read: lines 1-%d shown whole, in order" % last)
t.ok(any(n.get("level") == "notice" and "offset=%d" % (last + 1) in
         str(n.get("data")) for n in logs()),
     "Read: a notice says the result was cut", logs())
if m:
    r = call("Read", {"file_path": os.path.join(BASE, "big.txt"),
                      "offset": int(m.group(2)), "limit": int(m.group(3))})
    txt = fits(r, "Read following the hint")
    first = txt.split("\n", 1)[0]
    t.ok(first == "%6d\t%s" % (last + 1, lines[last]),
         "Read: following the hint starts at line %d" % (last + 1), first)

# --- Bash printing 1 MB ----------------------------------------------------------
r = call("Bash", {"command": "yes 'héllo wörld ✓' | head -c 1048576"})
txt = fits(r, "Bash printing 1 MB")
t.ok(re.search(r"\[stdout cut: 1048576 bytes in all, the first \d+ are "
               r"shown \(the result limit is %d characters\)" % CAP, txt) and
     "redirect the output to a file" in txt and
     "Read that file with offset and limit" in txt and
     txt.endswith("exit status: 0"),
     "Bash: the cut says how to see the rest", txt[-500:])
t.ok(any(n.get("level") == "notice" and "Bash" in str(n.get("data"))
         for n in logs()), "Bash: a notice says the output was cut", logs())
r = call("Bash", {"command": "seq 1 200000 > seq.txt"})
r = call("Read", {"file_path": os.path.join(BASE, "seq.txt"),
                  "offset": 150000, "limit": 3})
t.ok(result_text(r) == "150000\t150000\n150001\t150001\n150002\t150002\n",
     "Bash: following the hint (redirect, then Read with offset) works",
     result_text(r))

# --- Grep with many matches ------------------------------------------------------
with open(os.path.join(BASE, "many.txt"), "w") as f:
    for i in range(1, 20001):
        f.write("match %05d %s\n" % (i, "y" * 60))
r = call("Grep", {"pattern": "match", "path": os.path.join(BASE, "many.txt"),
                  "output_mode": "content", "head_limit": 0})
txt = fits(r, "Grep with 20000 matches")
m = re.search(r"call Grep again with offset=(\d+) and head_limit=0\]", txt)
t.ok(m, "Grep: the hint names offset and head_limit", txt[-300:])
if m:
    k = int(m.group(1))
    ent = [l for l in txt.split("\n") if "match " in l]
    t.ok(len(ent) == k and ent[-1].endswith("match %05d %s" % (k, "y" * 60)),
         "Grep: %d whole entries shown" % k, ent[-1:])
    r = call("Grep", {"pattern": "match",
                      "path": os.path.join(BASE, "many.txt"),
                      "output_mode": "content", "head_limit": 0,
                      "offset": k})
    txt = fits(r, "Grep following the hint")
    ent = [l for l in txt.split("\n") if "match " in l]
    t.ok(ent and ent[0].endswith("match %05d %s" % (k + 1, "y" * 60)),
         "Grep: following the hint goes on at entry %d" % (k + 1), ent[:1])
# the default head_limit of 250 with long lines passes the limit too
with open(os.path.join(BASE, "long.txt"), "w") as f:
    for i in range(1, 301):
        f.write("long %03d %s\n" % (i, "z" * 400))
r = call("Grep", {"pattern": "long", "path": os.path.join(BASE, "long.txt"),
                  "output_mode": "content"})
txt = fits(r, "Grep of 250 long lines")
m = re.search(r"offset=(\d+) and head_limit=(\d+)\]", txt)
t.ok(m and int(m.group(1)) + int(m.group(2)) == 250,
     "Grep: the hint keeps the page of 250", txt[-300:])

# --- BashOutput of a big background command -------------------------------------
r = call("Bash", {"command": "seq 1 100000", "run_in_background": True})
bid = re.search(r"(bash_\d+)", result_text(r))
t.ok(bid, "a background command starts", r)
got, parts, ok, hinted = "", 0, True, True
if bid:
    deadline = time.time() + 60
    while time.time() < deadline:
        r = call("TaskOutput", {"task_id": bid.group(1), "block": True,
                                "timeout": 30000})
        txt = result_text(r)
        parts += 1
        if size(r) > CAP:
            ok = False
        out = txt.split("stdout:\n", 1)[1] if "stdout:\n" in txt else ""
        out = out.split("[more output is waiting", 1)[0]
        got += out
        if "[more output is waiting" not in txt:
            break
        if not re.search(r"Call TaskOutput again with the same id for the "
                         r"next part\]", txt):
            hinted = False
    want = "".join("%d\n" % i for i in range(1, 100001))
    t.ok(hinted, "TaskOutput: each cut part says to call again")
    t.ok(ok and parts > 1 and got == want,
         "TaskOutput: %d parts, each within the limit, make the whole "
         "output" % parts, len(got), len(want))

# --- progress ----------------------------------------------------------------------
r = call("Bash", {"command": "for i in 1 2 3; do echo tick; sleep 1; done"},
         meta={"progressToken": "p-bash"})
ps = notes("notifications/progress")
vals = [p.get("progress") for p in ps]
t.ok(len(ps) >= 2 and all(p.get("progressToken") == "p-bash" for p in ps)
     and all(a < b for a, b in zip(vals, vals[1:])),
     "Bash 3 s: %d progress notifications, strictly increasing" % len(ps),
     ps)
t.ok(ps and all(re.search(r"for \d+ s, \d+ bytes of output", p.get(
     "message", "")) for p in ps) and
     any(re.search(r", [1-9]\d* bytes", p["message"]) for p in ps),
     "Bash: each says the seconds and the output bytes so far", ps)
r = call("Bash", {"command": "sleep 3"})
t.ok(not notes("notifications/progress"),
     "no progress without a progressToken", c.notifications)

# a search that takes 3 s: grep on a FIFO whose writer waits (the host
# is this machine), with a progressToken
fifo = os.path.join(BASE, "slow.fifo")
os.mkfifo(fifo)
writer = subprocess.Popen(["sh", "-c", "sleep 3; echo 'a slow match' > '%s'"
                           % fifo])
r = call("Grep", {"pattern": "slow match", "path": fifo,
                  "output_mode": "content"}, meta={"progressToken": "g"})
writer.wait()
os.unlink(fifo)
ps = notes("notifications/progress")
t.ok("a slow match" in result_text(r) and len(ps) >= 1 and
     all(p.get("progressToken") == "g" for p in ps) and
     [p["progress"] for p in ps] == sorted(set(p["progress"] for p in ps))
     and all(re.search(r"Grep: running on host .* for \d+ s", p.get(
         "message", "")) for p in ps),
     "Grep: progress (seconds) on a search longer than a second", ps, r)

data = os.urandom(24 * 1024 * 1024)
with open(os.path.join(TROOT, "in", "up.bin"), "wb") as f:
    f.write(data)
r = call("Upload", {"local_path": "in/up.bin",
                    "remote_path": os.path.join(BASE, "up.bin")},
         meta={"progressToken": 7})
ps = notes("notifications/progress")
t.ok(not r.get("isError") and ps and
     all(p.get("progressToken") == 7 and p.get("total") == len(data) and
         0 < p.get("progress") <= len(data) and "of %d bytes" % len(data) in
         p.get("message", "") for p in ps),
     "Upload: progress in bytes of the total (%d)" % len(ps), ps[:3], r)
r = call("Download", {"remote_path": os.path.join(BASE, "up.bin"),
                      "local_path": "out/down.bin"},
         meta={"progressToken": "dl"})
ps = notes("notifications/progress")
t.ok(not r.get("isError") and ps and
     all(p.get("total") == len(data) and 0 < p.get("progress") <=
         len(data) for p in ps),
     "Download: progress in bytes of the total (%d)" % len(ps), ps[:3], r)

# --- log messages --------------------------------------------------------------------
r = call("Bash", {"command": SSHD_KILL})
r = call("Bash", {"command": "echo back"})
t.ok("was lost and re-made" in result_text(r) and
     any(n.get("level") == "warning" and "was lost and re-made" in
         str(n.get("data")) for n in logs()),
     "a reconnect: a warning message as well as the result's", logs(), r)

r = call("Bash", {"command": "cat /etc/passwd", "host": "limited"})
t.ok(r.get("isError") and any(n.get("level") == "warning" and "refused" in
                              str(n.get("data")) for n in logs()),
     "a refusal: a warning message", logs(), r)


def canary():
    return "C" + "".join(random.choice(string.ascii_uppercase +
                                       string.digits) for _ in range(19))


leaks, nmsg = [], 0
with open(os.path.join(os.environ["REGRESS_DIR"], "secrets.txt")) as f:
    shapes = [l.rstrip("\n") for l in f
              if l.strip() and not l.startswith("#")]
for shape in shapes:
    v = canary()
    cmd = shape.replace("\\n", "\n").replace("CANARY", v)
    r = call("Bash", {"command": cmd, "host": "limited"})
    nmsg += len(logs())
    if v in json.dumps(c.notifications):
        leaks.append(shape)
t.ok(nmsg >= len(shapes) and not leaks,
     "%d refusals of secret shapes: %d messages, no secret in them" %
     (len(shapes), nmsg), leaks)

c.request("logging/setLevel", {"level": "error"})
r = call("Bash", {"command": "cat /etc/passwd", "host": "limited"})
r2 = call("Read", {"file_path": os.path.join(BASE, "big.txt")})
t.ok(r.get("isError") and not logs(),
     "setLevel error: no warning nor notice is sent", c.notifications)
c.request("logging/setLevel", {"level": "warning"})
r = call("Read", {"file_path": os.path.join(BASE, "big.txt")})
t.ok("[Read stopped" in result_text(r) and not logs(),
     "setLevel warning: no notice of a cut", c.notifications)
r = call("Bash", {"command": "cat /etc/passwd", "host": "limited"})
t.ok([n.get("level") for n in logs()] == ["warning"],
     "setLevel warning: the refusal's warning is sent", c.notifications)

# 2026-07-28: the level rides in each request's _meta, none without it
c.notifications.clear()
r = c.modern_raw("tools/call", {"name": "Bash", "arguments":
                 {"command": "cat /etc/passwd", "host": "limited"}},
                 log_level="info")
t.ok((r.get("result") or {}).get("isError") and
     [n.get("level") for n in logs()] == ["warning"],
     "a 2026 request with logLevel info: the refusal's warning", r,
     c.notifications)
c.notifications.clear()
r = c.modern_raw("tools/call", {"name": "Bash", "arguments":
                 {"command": "cat /etc/passwd", "host": "limited"}},
                 log_level="error")
r2 = c.modern_raw("tools/call", {"name": "Bash", "arguments":
                  {"command": "cat /etc/passwd", "host": "limited"}})
c.ping()
t.ok((r.get("result") or {}).get("isError") and
     (r2.get("result") or {}).get("isError") and not logs(),
     "a 2026 request with logLevel error, or none: no message",
     c.notifications)
c.close()
t.done()
EOF

# --- the knob --------------------------------------------------------------------
bridged_stop || tap_fail "bridged stops"
if tap_check "bridged starts with result size 8000" bridged_start "limits {
	result size 8000
}"; then
	tap_check "bridged -nv prints result size" sh -c \
	    "'$BRIDGED' -nv -f '$BRIDGED_CONF' | grep -q 'result size 8000'"
	tap_run "$PYTHON" - 8000 <<'EOF'
import os
import re
import sys

sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client, Tap, result_text

CAP = int(sys.argv[1])
BASE = os.path.join(os.environ["TESTDIR"], "base")
t = Tap()
c = Client(socket_path=os.environ["MCP_SOCK"], timeout=120)
c.initialize()
r = c.call_tool("Read", {"file_path": os.path.join(BASE, "big.txt")})
txt = result_text(r)
m = re.search(r"Read stopped after line (\d+) to fit the result limit "
              r"\(8000 characters\)", txt)
t.ok(len(txt) <= CAP and m and 40 < int(m.group(1)) < 100,
     "Read: cut at 8000 characters (%d, line %s)" %
     (len(txt), m.group(1) if m else "?"), txt[-300:])
r = c.call_tool("Bash", {"command": "seq 1 100000"})
txt = result_text(r)
t.ok(len(txt) <= CAP and "the result limit is 8000 characters" in txt,
     "Bash: cut at 8000 characters (%d)" % len(txt), txt[-300:])
c.close()
t.done()
EOF
fi
tap_end
