#!/bin/bash
# t-ctlpipeline: a control client that sends its next request before the
# answer to the one in progress, which waits for the ssh workers (show
# forwards).  The second is refused with why; the first goes on and ends,
# and the worker that answers it is not taken for one answering what
# nobody asked (the refusal used to end the first request, and the
# frontend then dropped the worker, and its shells, for its answer).

. "$(dirname "$0")/lib.sh"

sshd_start || { tap_fail "sshd starts"; tap_end; }
tap_check "bridged starts" bridged_start || tap_end
export REGRESS_DIR TESTDIR MCP_SOCK CTL_SOCK BRIDGED_H="$REGRESS_DIR/../bridged/bridged.h"
tap_run timeout -k 5 120 "$PYTHON" - <<'PY'
import os, re, socket, struct, sys, time
sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client, Tap, result_text
t = Tap()

# the imsg types, numbered as the enum in bridged.h numbers them
body = re.search(r"enum imsg_type \{(.*?)\n\};", open(os.environ["BRIDGED_H"]).read(), re.S).group(1)
body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
names = [n for n in re.findall(r"\b(IMSG_[A-Z0-9_]+)\b", body)]
T = {n: i for i, n in enumerate(names)}
assert T["IMSG_NONE"] == 0

c = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
c.initialize()
r = c.call_tool("Bash", {"command": "export BRIDGED_T=kept; echo up"})
t.ok("up" in result_text(r), "the worker runs, its shell holds a variable")

s = socket.socket(socket.AF_UNIX)
s.connect(os.environ["CTL_SOCK"])
# our imsg header: type, payload length, peer id, pid
hdr = lambda ty: struct.pack("=IIII", ty, 0, 0, os.getpid())
# two requests in one write: the second comes while the first waits
s.sendall(hdr(T["IMSG_CTL_SHOW_FORWARDS"]) + hdr(T["IMSG_CTL_SHOW_HOSTS"]))
s.settimeout(30)
buf, got = b"", []
end = time.time() + 30
while time.time() < end and T["IMSG_CTL_END"] not in [g[0] for g in got]:
    try:
        d = s.recv(65536)
    except socket.timeout:
        break
    if not d:
        break
    buf += d
    while len(buf) >= 16:
        ty, ln, _, _ = struct.unpack("=IIII", buf[:16])
        ln &= 0x7fffffff
        if len(buf) < 16 + ln:
            break
        got.append((ty, buf[16:16 + ln].decode(errors="replace")))
        buf = buf[16 + ln:]
errs = [m for ty, m in got if ty == T["IMSG_CTL_ERROR"]]
print("# control got:", [(names[ty] if ty < len(names) else ty, m[:80]) for ty, m in got])
t.ok(len(errs) == 1 and "a request is already in progress" in errs[0],
     "the second request is refused, saying why")
t.ok(got and got[-1][0] == T["IMSG_CTL_END"], "the first request still ends")
s.close()

r = c.call_tool("Bash", {"command": "echo v=$BRIDGED_T"})
t.ok("v=kept" in result_text(r) and "reset" not in result_text(r),
     "the worker and its shell were kept: %r" % result_text(r)[:200])
PY
if grep -q "dropping it" "$TESTDIR/bridged.log"; then
	tap_fail "no worker dropped" "$(grep "dropping it" "$TESTDIR/bridged.log")"
else
	tap_ok "no worker dropped"
fi
bridged_stop
tap_end
