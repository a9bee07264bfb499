#!/usr/bin/env bash
# t-readq: Reads that come together are read together (issue 16: no
# serialisation that isn't needed).  An agent's parallel Reads, sent in
# one write, are resolved, opened and read with one round trip for each
# step: 10 small Reads take a few reads of the host's SFTP server, where
# one after another they took six each.  Every answer is the answer the
# same Read gets alone, for every kind of path and argument: small,
# empty, binary, 8 KiB, 20 KiB, 100 KiB and 300 KiB (sliced on the host)
# files, offset and limit, relative paths, links inside and out of base
# dir, dangling links, a name that is not UTF-8, a directory, a FIFO,
# missing files, paths outside, bad arguments; more Reads than go in one
# batch, and two sessions at once.  A Read cancelled with its request
# leaves the next one answered.

. "$(dirname "$0")/lib.sh"

sshd_start || { tap_fail "sshd starts"; tap_end; }
# a host with no base dir as well: nothing is resolved there, a Read's
# stat is asked with the others'
tap_check "bridged starts" bridged_start "host \"open\" {
	address \"127.0.0.1\" port $SSHD_PORT
	user \"$SSH_USER\"
	identity \"$SSH_USER_KEY\"
	known hosts \"$SSH_KNOWN_HOSTS\"
	base dir none
	allow read
}" || tap_end
export TESTDIR REGRESS_DIR SSHD_PID

tap_run "$PYTHON" - <<'EOF'
import json, os, sys
sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client, Tap, result_text
from proclib import io, sftp_pids

t = Tap()
base = os.path.join(os.environ["TESTDIR"], "base")
out = os.path.join(os.environ["TESTDIR"], "outside")
os.makedirs(out, exist_ok=True)
rq = os.path.join(base, "rq")
os.mkdir(rq)

def put(name, data):
    with open(os.path.join(rq, name), "wb") as f:
        f.write(data)
    return os.path.join(rq, name)

put("s1", b"one\ntwo\n")
put("s2", b"".join(b"line %d\n" % i for i in range(100)))
put("empty", b"")
put("bin", b"\x7fELF\x00\x01\x02" * 10)
put("8k", b"x" * 8191 + b"\n")
put("20k", b"".join(b"twenty %05d\n" % i for i in range(1600)))
put("100k", b"".join(b"hundred %06d\n" % i for i in range(7000)))
put("300k", b"".join(b"big %07d\n" % i for i in range(25000)))
put("sp ace 'q'", b"quoted\n")
put("plain", b"plain\n")
with open(os.path.join(rq.encode(), b"caf\xe9.txt"), "wb") as f:
    f.write(b"latin\n")
os.symlink(b"caf\xe9.txt", os.path.join(rq.encode(), b"latin.lnk"))
with open(os.path.join(out, "secret"), "w") as f:
    f.write("secret\n")
os.symlink("s1", os.path.join(rq, "ln"))
os.symlink("nowhere", os.path.join(rq, "dangling"))
os.symlink(os.path.join(out, "secret"), os.path.join(rq, "escape"))
os.mkdir(os.path.join(rq, "dir"))
os.mkfifo(os.path.join(rq, "fifo"))

P = lambda n: os.path.join(rq, n)
cases = [
    {"file_path": P("s1")},
    {"file_path": P("s2")},
    {"file_path": P("s2"), "offset": 3, "limit": 2},
    {"file_path": P("s2"), "offset": 500},
    {"file_path": P("empty")},
    {"file_path": P("bin")},
    {"file_path": P("8k")},
    {"file_path": P("20k")},
    {"file_path": P("100k")},
    {"file_path": P("300k"), "offset": 20000, "limit": 3},
    {"file_path": P("sp ace 'q'")},
    {"file_path": "rq/plain"},
    {"file_path": P("latin.lnk")},
    {"file_path": P("ln")},
    {"file_path": P("dangling")},
    {"file_path": P("escape")},
    {"file_path": P("dir")},
    {"file_path": P("fifo")},
    {"file_path": P("missing")},
    {"file_path": os.path.join(out, "secret")},
    {"file_path": P("s1"), "offset": -1},
    {"file_path": P("s1"), "limit": "x"},
    {},
    {"file_path": ""},
    {"file_path": 7},
]

c = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
c.initialize()

def together(cl, argsl):
    """the Reads sent in one write; their responses, in order"""
    ids, msgs = [], []
    for a in argsl:
        i = cl.new_id()
        ids.append(i)
        msgs.append(json.dumps({"jsonrpc": "2.0", "id": i,
                                "method": "tools/call",
                                "params": {"name": "Read",
                                           "arguments": a}}))
    cl.send_raw("\n".join(msgs))
    return [cl.wait_response(i) for i in ids]

def key(resp):
    return json.dumps(resp.get("result", resp.get("error")),
                      sort_keys=True)

alone = [key(c.request_raw("tools/call", {"name": "Read", "arguments": a}))
         for a in cases]
t.ok(json.loads(alone[0]).get("isError") is not True and
     "one" in alone[0] and json.loads(alone[15]).get("isError") is True,
     "the Reads alone: a file read, a link out of base dir refused",
     alone[0][:200], alone[15][:200])
for rnd in range(2):
    got = [key(r) for r in together(c, cases)]
    bad = [(cases[i], alone[i][:300], got[i][:300])
           for i in range(len(cases)) if got[i] != alone[i]]
    t.ok(not bad, "%d Reads of every kind together, round %d: each "
         "answered as alone" % (len(cases), rnd + 1), *bad[:3])
# and on the host with no base dir
ocases = [dict(a, host="open") for a in cases]
oalone = [key(c.request_raw("tools/call", {"name": "Read", "arguments": a}))
          for a in ocases]
got = [key(r) for r in together(c, ocases)]
bad = [(ocases[i], oalone[i][:300], got[i][:300])
       for i in range(len(ocases)) if got[i] != oalone[i]]
t.ok(not bad and "secret" in oalone[15] and "one" in oalone[0],
     "%d Reads together on a host with no base dir: each answered as "
     "alone" % len(ocases), *bad[:3])

# more than a batch (32): 45 Reads at once, each its own file
many = [put("m%02d" % i, b"many %d\n" % i) for i in range(45)]
rs = together(c, [{"file_path": p} for p in many])
t.ok(all("many %d\n" % i in result_text(r["result"]) and
         not r["result"].get("isError") for i, r in enumerate(rs)),
     "45 Reads at once: each its own file's text",
     [result_text(r.get("result", {}))[:60] for r in rs[:3]])

# two sessions at once, each with Reads of every kind in one write
d = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
d.initialize()
ids = {}
for cl in (c, d):
    ids[cl] = []
    msgs = []
    for a in cases:
        i = cl.new_id()
        ids[cl].append(i)
        msgs.append(json.dumps({"jsonrpc": "2.0", "id": i,
                                "method": "tools/call",
                                "params": {"name": "Read",
                                           "arguments": a}}))
    cl.send_raw("\n".join(msgs))
bad = []
for cl in (c, d):
    for k, i in enumerate(ids[cl]):
        g = key(cl.wait_response(i))
        if g != alone[k]:
            bad.append((cases[k], alone[k][:200], g[:200]))
t.ok(not bad, "two sessions' Reads at once: each answered as alone",
     *bad[:3])
d.close()

# the round trips, counted where internal-sftp answers them: 10 small
# Reads at once take 13 reads of the server's, its read of each file and
# one of each step's requests for all (resolve, open, read, close), where
# one after another (the old code) they took 49
sp = sftp_pids(int(os.environ["SSHD_PID"]))
# (one a host: the other host's is idle meanwhile)
ten = [{"file_path": p} for p in many[:10]]
if len(sp) != 2:
    t.ok(False, "two internal-sftp processes under sshd", sp)
else:
    rd = None
    for rnd in range(3):
        a = sum(io(p)["syscr"] for p in sp)
        rs = together(c, ten)
        n = sum(io(p)["syscr"] for p in sp) - a
        rd = n if rd is None else min(rd, n)
    t.ok(all("many %d\n" % i in result_text(r["result"])
             for i, r in enumerate(rs)) and rd < 25,
         "10 Reads at once: a few reads of the host's SFTP server (%d; "
         "one after another: 49)" % rd)

# the host's SFTP server killed between calls: the Reads that come next
# together are each answered, on a server started in its place
if len(sp) == 2:
    import signal, time
    for p in sp:
        os.kill(p, signal.SIGKILL)
    time.sleep(0.2)
    rs = together(c, ten)
    t.ok(all("many %d\n" % i in result_text(r.get("result", {}))
             for i, r in enumerate(rs)),
         "10 Reads at once after the host's SFTP server was killed: each "
         "answered", [result_text(r.get("result", {}))[:100] for r in rs])

# a Read cancelled in the same write as its request: the next is answered
i = c.new_id()
c.send_raw(json.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                       "params": {"name": "Read",
                                  "arguments": {"file_path": P("s1")}}}) +
           "\n" + json.dumps({"jsonrpc": "2.0",
                              "method": "notifications/cancelled",
                              "params": {"requestId": i}}))
r = c.call_tool("Read", {"file_path": P("s2")})
t.ok("line 99" in result_text(r) and not r.get("isError"),
     "a Read after one cancelled with its request is answered",
     result_text(r)[:200])
c.close()
EOF

bridged_stop
tap_end
