#!/usr/bin/env bash
# t-listdir: ListDir lists a directory of more than 256 entries on an
# SFTP channel of its own (ssh_flist.c), from the worker's event loop,
# and says what the listing in the shared SFTP session says, to the
# byte: the same directories listed on a host with room for the channel
# and on one without ("max sessions 1", where it lists in the blocking
# section as before) answer alike, for files, directories, links (their
# targets, dangling ones), a FIFO, empty files, names with spaces and
# not UTF-8, 256 and 257 entries, an empty directory, 200 links (their
# readlinks 64 in flight), 10,050 entries (stopped at 10,000, no
# targets), a link to a directory, the base dir by default, and the
# errors: missing, a file, a path outside base dir.  (t-nostall: another
# session's Bash is answered while a long listing comes over a slow
# link.)

. "$(dirname "$0")/lib.sh"

sshd_start || { tap_fail "sshd starts"; tap_end; }
tap_check "bridged starts" bridged_start "host \"tight\" {
	address \"127.0.0.1\" port $SSHD_PORT
	user \"$SSH_USER\"
	identity \"$SSH_USER_KEY\"
	known hosts \"$SSH_KNOWN_HOSTS\"
	base dir \"$TESTDIR/base\"
	max sessions 1
	allow read
}" || tap_end
export TESTDIR REGRESS_DIR

tap_run "$PYTHON" - <<'EOF'
import json, os, sys
sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client, Tap, result_text

t = Tap()
base = os.path.join(os.environ["TESTDIR"], "base")
out = os.path.join(os.environ["TESTDIR"], "outside")
os.makedirs(out, exist_ok=True)
ld = os.path.join(base, "ld")
os.mkdir(ld)
d1 = os.path.join(ld, "d1")
os.mkdir(d1)
with open(os.path.join(d1, "f"), "w") as f:
    f.write("x" * 1234)
open(os.path.join(d1, "empty"), "w").close()
with open(os.path.join(d1, "with space"), "w") as f:
    f.write("s")
with open(os.path.join(d1.encode(), b"caf\xe9"), "w") as f:
    f.write("latin")
os.mkdir(os.path.join(d1, "sub"))
os.symlink("f", os.path.join(d1, "rel"))
os.symlink(os.path.join(d1, "f"), os.path.join(d1, "abs"))
os.symlink("nowhere/at/all", os.path.join(d1, "dangling"))
os.symlink("t" * 3000, os.path.join(d1, "long"))
os.mkfifo(os.path.join(d1, "fifo"))
# past LISTDIR_INLINE (256) entries, so that each goes on the channel
fill = "".join("zz%03d\t3\n" % i for i in range(300))
for i in range(300):
    with open(os.path.join(d1, "zz%03d" % i), "w") as f:
        f.write("zzz")
for n in (256, 257):
    os.mkdir(os.path.join(ld, "at%d" % n))
    for i in range(n):
        open(os.path.join(ld, "at%d" % n, "a%03d" % i), "w").close()
os.mkdir(os.path.join(ld, "none"))
links = os.path.join(ld, "links")
os.mkdir(links)
for i in range(200):
    os.symlink("target/%d" % i, os.path.join(links, "l%03d" % i))
for i in range(100):
    open(os.path.join(links, "m%03d" % i), "w").close()
big = os.path.join(ld, "big")
os.mkdir(big)
for i in range(10050):
    open(os.path.join(big, "e%05d" % i), "w").close()
os.symlink("e00000", os.path.join(big, "a-link"))
os.symlink("d1", os.path.join(ld, "todir"))
os.symlink(out, os.path.join(ld, "escape"))

cases = [{"path": d1}, {"path": os.path.join(ld, "none")}, {"path": links},
         {"path": os.path.join(ld, "at256")},
         {"path": os.path.join(ld, "at257")},
         {"path": big}, {"path": os.path.join(ld, "todir")}, {},
         {"path": "ld"}, {"path": os.path.join(ld, "missing")},
         {"path": os.path.join(d1, "f")}, {"path": out},
         {"path": os.path.join(ld, "escape")}]

c = Client(socket_path=os.environ["MCP_SOCK"], timeout=120)
c.initialize()

def key(host, args):
    r = c.request_raw("tools/call", {"name": "ListDir",
                                     "arguments": dict(args, host=host)},
                      timeout=120)
    # a refusal names the host and its line: the same for both
    return json.dumps(r.get("result", r.get("error")), sort_keys=True
                      ).replace('host \\"tight\\"', 'host \\"local\\"'
                      ).replace("line 22", "line 13")

got = {}
for h in ("local", "tight"):
    got[h] = [key(h, a) for a in cases]
bad = [(cases[i], got["local"][i][:300], got["tight"][i][:300])
       for i in range(len(cases)) if got["local"][i] != got["tight"][i]]
t.ok(not bad, "%d ListDirs on a channel of their own answer as in the "
     "shared session" % len(cases), *bad[:3])

r = c.call_tool("ListDir", {"path": d1})
want = (d1 + ": 310 entries\n"
        "abs@ -> " + os.path.join(d1, "f") + "\n"
        "caf\ufffd\t5\n"
        "dangling@ -> nowhere/at/all\n"
        "empty\t0\n"
        "f\t1234\n"
        "fifo|\t(special)\n"
        "long@ -> " + "t" * 3000 + "\n"
        "rel@ -> f\n"
        "sub/\n"
        "with space\t1\n" + fill)
t.ok(not r.get("isError") and result_text(r) == want,
     "ListDir: types, sizes and link targets", result_text(r)[:600])
r = c.call_tool("ListDir", {"path": links})
x = result_text(r)
t.ok(not r.get("isError") and x == links + ": 300 entries\n" +
     "".join("l%03d@ -> target/%d\n" % (i, i) for i in range(200)) +
     "".join("m%03d\t0\n" % i for i in range(100)),
     "ListDir of 200 links among 300 entries: every target", x[:300])
r = c.call_tool("ListDir", {"path": big})
x = result_text(r)
t.ok(not r.get("isError") and
     x.startswith(big + ": 10000 entries (listing stopped there)\n") and
     "a-link@\n" in x and "->" not in x,
     "ListDir of 10,051 entries: stopped at 10,000, no targets", x[:200])
r = c.call_tool("ListDir", {"path": os.path.join(d1, "f")})
t.ok(r.get("isError") and "is not a directory" in result_text(r),
     "ListDir of a file: not a directory", result_text(r))
r = c.call_tool("ListDir", {"path": os.path.join(ld, "missing")})
t.ok(r.get("isError") and "No such file" in result_text(r),
     "ListDir of nothing: no such file", result_text(r))
c.close()
EOF

bridged_stop
tap_end
