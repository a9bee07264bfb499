#!/usr/bin/env bash
# t-readslow: Reads that come together over a slow SFTP link.  Files
# larger than the batch fetches run one by one, each in a blocking
# section of its own (ssh_fread.c, reads_together): each is timed by
# itself, not all of them under one timer that gives the connection up,
# and each answer goes out when its Read is done, not when the last one
# is.  Six Reads of 190 KB over 200 KB/s (a second each) with a stuck
# limit of 5 s (call timeout 4, one keepalive of 1 s): the first answer
# comes with its text, the connection stays (the shell keeps its cwd),
# every Read is answered.  Twenty Reads of 60 KB (1.2 MB): the batch
# takes what one Read alone moves at most, the others go alone, and the
# connection stays.

. "$(dirname "$0")/lib.sh"

SFTP_SERVER=$(sftp_server_path) || { tap_fail "sftp-server found"; tap_end; }
sshd_start || { tap_fail "sshd starts"; tap_end; }
SSHD_SFTP="$PYTHON $REGRESS_DIR/sftpslow.py $SFTP_SERVER 200000 $TESTDIR" \
    sshd_start2 127.0.0.1 || { tap_fail "the slow sshd starts"; tap_end; }
tap_check "bridged starts" bridged_start "limits { call timeout 4 keepalive 1 count 1 }
host \"slow\" {
	address \"127.0.0.1\" port $SSHD2_PORT
	user \"$SSH_USER\"
	identity \"$SSH_USER_KEY\"
	known hosts \"$SSHD2_KNOWN_HOSTS\"
	base dir \"$TESTDIR/base\"
	allow read, exec
}" || tap_end
export TESTDIR REGRESS_DIR

tap_run "$PYTHON" - <<'EOF'
import json, os, sys, time
sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client, Tap, result_text

t = Tap()
base = os.path.join(os.environ["TESTDIR"], "base")
paths = []
for i in range(6):
    p = os.path.join(base, "f%d" % i)
    with open(p, "wb") as f:
        f.write(b"".join(b"file %d line %06d\n" % (i, k)
                         for k in range(10000)))
    paths.append(p)
c = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
c.initialize()
r = c.call_tool("Bash", {"command": "cd /tmp && pwd", "host": "slow"})
t.ok("/tmp" in result_text(r), "a shell on the slow host", result_text(r))
# the host's SFTP session open, as after any file tool: the six can go
# together
r = c.call_tool("Read", {"file_path": paths[0], "host": "slow", "limit": 1})
t.ok("file 0 line 000000" in result_text(r), "one Read alone",
     result_text(r)[:200])


def together(ps):
    """Reads of ps (their first line) sent in one write; the answers"""
    ids, msgs = [], []
    for p in ps:
        i = c.new_id()
        ids.append(i)
        msgs.append(json.dumps({"jsonrpc": "2.0", "id": i,
                                "method": "tools/call",
                                "params": {"name": "Read", "arguments": {
                                    "file_path": p, "host": "slow",
                                    "limit": 1}}}))
    t0 = time.time()
    c.send_raw("\n".join(msgs))
    ans = []
    for i in ids:
        ans.append(c.wait_response(i))
        print("# answer at %.2f s: %s" % (time.time() - t0,
                                           json.dumps(ans[-1])[:160]))
    return ans


def kept(what):
    """the connection is still the one the shell's cd was made on"""
    r = c.call_tool("Bash", {"command": "pwd", "host": "slow"})
    txt = result_text(r)
    log = open(os.path.join(os.environ["TESTDIR"], "bridged.log"),
               errors="replace").read()
    gaveup = [l for l in log.splitlines() if "given up" in l]
    t.ok(not gaveup and txt.startswith("/tmp") and "re-made" not in txt,
         what, gaveup[:2], txt[:200])


ans = together(paths)
first = ans[0].get("result") or {}
t.ok(not first.get("isError") and "file 0 line 000000" in
     result_text(first),
     "the first of six slow Reads sent together is answered in time",
     json.dumps(ans[0])[:300])
t.ok(all("result" in a or "error" in a for a in ans),
     "every one of the six is answered", [json.dumps(a)[:100] for a in ans])
kept("the connection is kept: the shell's cwd is still /tmp")

# twenty files of 60 KB, small enough for the batch, 1.2 MB in all (six
# seconds of the link): the batch takes no more than one Read alone
# moves, the rest go alone, the connection stays
small = []
for i in range(20):
    p = os.path.join(base, "s%02d" % i)
    with open(p, "wb") as f:
        f.write(b"".join(b"small %02d line %05d\n" % (i, k)
                         for k in range(3000)))
    small.append(p)
ans = together(small)
first = ans[0].get("result") or {}
t.ok(not first.get("isError") and "small 00 line 00000" in
     result_text(first), "the first of twenty small slow Reads is answered",
     json.dumps(ans[0])[:300])
kept("after them too the connection is kept")
c.close()
EOF

bridged_stop
tap_end
