#!/bin/bash
# t-refuse: refusals a client can see and act on.  Over limits { sessions }
# the client's initialize is answered by its id with "session limit N
# reached" (on the socket and through bridgectl mcp, which says it on
# stderr and exits non-zero); a silent client over the limit is told and
# closed and is never a session.  An over-size line is answered by the
# request's id when one can be read.  Arguments: 1.0 is an integer, 1.5
# is not; Read.pages and Bash.dangerouslyDisableSandbox are accepted; an
# unknown parameter is refused by name.  tools/list follows the hosts'
# capabilities, and a reload that changes them sends
# notifications/tools/list_changed (one that does not, nothing).

. "$(dirname "$0")/lib.sh"

if ! tap_check "bridged starts (2 sessions, line size 64K)" \
    bridged_start 'limits { sessions 2 line size 64K }'; then
	tap_end
fi
printf 'one\ntwo\nthree\nfour\n' >"$TESTDIR/base/f.txt"

export REGRESS_DIR TESTDIR
tap_run "$PYTHON" - <<'EOF'
import json
import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client, Closed, Tap, INVALID_REQUEST, result_text

SOCK = os.environ["MCP_SOCK"]
CTL = os.environ["BRIDGECTL"]
CTLSOCK = os.environ["CTL_SOCK"]
CONF = os.environ["BRIDGED_CONF"]
BASE = os.environ["TESTDIR"] + "/base"
T = 20.0
t = Tap()
LIMIT_MSG = "session limit 2 reached (limits { sessions })"


def fail(msg):
    raise AssertionError(msg)


def ctl(*args):
    return subprocess.run([CTL, "-s", CTLSOCK] + list(args),
                          capture_output=True, text=True, timeout=60)


def nsessions():
    out = ctl("-j", "show", "sessions").stdout
    return len([l for l in out.splitlines() if l.strip()])


def wait_for(cond, what, secs=30):
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    fail("timed out waiting for " + what)


def session():
    c = Client(socket_path=SOCK, timeout=T)
    c.initialize()
    return c


INIT = {"jsonrpc": "2.0", "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "t-refuse", "version": "1"}}}


def init_line(id_):
    m = dict(INIT)
    m["id"] = id_
    return json.dumps(m)


a = session()


def _idkey_absent(c, id_):
    """no response with this id was ever received"""
    for line in c.lines:
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if isinstance(msg, dict) and "method" not in msg and \
                msg.get("id") == id_:
            return False
    return True

# --- arguments -------------------------------------------------------------

def call(name, args):
    return a.call_tool(name, args, timeout=60)


def read_ok(args, want):
    r = call("Read", dict(args, file_path=BASE + "/f.txt"))
    text = result_text(r)
    if r.get("isError") or want not in text:
        fail("result %s" % json.dumps(r))
    return True


t.check("Read offset 2.0 limit 1.0: accepted as integers",
        read_ok, {"offset": 2.0, "limit": 1.0}, "two")


def read_refused(args, want):
    r = call("Read", dict(args, file_path=BASE + "/f.txt"))
    if not r.get("isError") or want not in result_text(r):
        fail("result %s" % json.dumps(r))
    return True


t.check("Read offset 1.5: refused, not an integer", read_refused,
        {"offset": 1.5}, '"offset" must be an integer')
t.check("Read pages: accepted and ignored", read_ok, {"pages": "1-2"},
        "four")
t.check("Read with an unknown parameter: refused by name, the accepted "
        "ones listed", read_refused, {"color": "red"},
        'Read: unknown parameter "color"; it accepts: file_path, offset, '
        'limit, pages, host')


def bash_nosandbox():
    r = call("Bash", {"command": "echo sandboxed-anyway",
                      "dangerouslyDisableSandbox": True})
    if r.get("isError") or "sandboxed-anyway" not in result_text(r):
        fail("result %s" % json.dumps(r))
    return True


t.check("Bash dangerouslyDisableSandbox: accepted, runs as usual",
        bash_nosandbox)


def grep_context_float():
    r = call("Grep", {"pattern": "three", "path": BASE,
                      "output_mode": "content", "-C": 1.0})
    if r.get("isError") or "two" not in result_text(r):
        fail("result %s" % json.dumps(r))
    return True


t.check("Grep -C 1.0 works as -C 1", grep_context_float)

# --- over-size lines (64K) -------------------------------------------------

PAD = "x" * 100000


def toolong(line, want_id):
    a.send_raw(line, timeout=T)
    r = a.recv_message(timeout=T)
    err = r.get("error") if isinstance(r, dict) else None
    if not isinstance(err, dict) or err.get("code") != INVALID_REQUEST:
        fail("reply %r" % (r,))
    if "id" not in r or r["id"] != want_id or \
            type(r["id"]) is not type(want_id):
        fail("id %s, want %s" % (json.dumps(r.get("id")),
                                 json.dumps(want_id)))
    if "at most 65536 bytes" not in err.get("message", ""):
        fail("message %r" % err.get("message"))
    return True


t.check("over-size line: answered by its string id, saying the limit",
        toolong, '{"jsonrpc":"2.0","id":"big-s","method":"ping",'
        '"params":{"pad":"%s"}}' % PAD, "big-s")
t.check("over-size line: answered by its integer id", toolong,
        '{"jsonrpc":"2.0","id":777,"method":"ping","params":{"pad":"%s"}}'
        % PAD, 777)
t.check("over-size line: an id after the huge member is found", toolong,
        '{"jsonrpc":"2.0","method":"ping","params":{"pad":"%s"},'
        '"id":"late"}' % PAD, "late")
t.check("over-size line with no readable id: id null", toolong, PAD, None)
t.check("over-size line with a float id: id null", toolong,
        '{"jsonrpc":"2.0","id":1.5,"method":"ping","p":"%s"}' % PAD, None)
t.check("the session still answers ping",
        lambda: a.request("ping", timeout=T) == {})

# --- the session limit (2) -------------------------------------------------

b = session()
t.check("two sessions open", lambda: nsessions() == 2 or fail(nsessions()))


def over_socket():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(T)
    s.connect(SOCK)
    s.sendall((init_line("over-1") + "\n").encode())
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    lines = data.splitlines()
    if len(lines) != 1:
        fail("lines %r" % lines)
    r = json.loads(lines[0])
    if r.get("id") != "over-1" or r["error"]["code"] != -32000 or \
            not r["error"]["message"].startswith(LIMIT_MSG):
        fail("reply %s" % lines[0])
    return True


t.check("third client: its initialize answered by its id, \"%s\", then "
        "closed" % LIMIT_MSG, over_socket)


def over_bridgectl(keep_stdin):
    line = (init_line(5) + "\n").encode()
    if keep_stdin:
        # the client still talking: bridged ends the relay
        p = subprocess.Popen([CTL, "mcp", SOCK], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            p.stdin.write(line)
            p.stdin.flush()
            out = p.stdout.read()
            err = p.stderr.read()
            rc = p.wait(timeout=T)
        finally:
            if p.poll() is None:
                p.kill()
            p.stdin.close()
    else:
        p = subprocess.run([CTL, "mcp", SOCK], input=line,
                           capture_output=True, timeout=T)
        out, err, rc = p.stdout, p.stderr, p.returncode
    reply = json.loads(out.decode().splitlines()[0])
    if reply.get("id") != 5 or \
            not reply["error"]["message"].startswith(LIMIT_MSG):
        fail("stdout %r" % out)
    lines = err.decode().splitlines()
    if len(lines) != 1 or LIMIT_MSG not in lines[0]:
        fail("stderr %r" % err)
    if rc == 0:
        fail("exit status 0")
    return True


t.check("bridgectl mcp over the limit (stdin open): the error on stdout "
        "by its id, one stderr line, non-zero exit", over_bridgectl, True)
t.check("bridgectl mcp over the limit (stdin closed): the same",
        over_bridgectl, False)


def silent():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(SOCK)
    start = time.monotonic()
    # while it waits it is no session
    n = nsessions()
    if n != 2:
        fail("%d sessions listed while a refused client waits" % n)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    took = time.monotonic() - start
    r = json.loads(data.splitlines()[0])
    if r.get("id") is not None or LIMIT_MSG not in r["error"]["message"]:
        fail("reply %r" % data)
    if took > 25:
        fail("closed after %.1f s" % took)
    return True


t.check("a silent client over the limit: not a session, told with id null "
        "and closed within seconds", silent)

b.close()
t.check("a session closes: back to one",
        lambda: wait_for(lambda: nsessions() == 1, "one session"))
t.check("then a new session is served", lambda: session().close() or True)

# --- tools/list follows the config -----------------------------------------

def names(c):
    return [x["name"] for x in c.list_tools(timeout=T)]


def changed(c):
    return [n for n in c.notifications
            if n.get("method") == "notifications/tools/list_changed"]


def reload_with(old, new):
    text = open(CONF).read()
    if old not in text:
        fail("%r not in the config" % old)
    open(CONF, "w").write(text.replace(old, new))
    r = ctl("reload")
    if r.returncode != 0:
        fail("reload: %s %s" % (r.stdout, r.stderr))


def wait_notified(c):
    deadline = time.monotonic() + 30
    while not changed(c):
        if time.monotonic() > deadline:
            fail("no notifications/tools/list_changed")
        try:
            c.recv_line(timeout=0.5)
            c._file(c.lines[-1])
        except Exception:
            pass
    return True


res = a.server_info
t.check("initialize advertises tools.listChanged",
        lambda: res["capabilities"]["tools"].get("listChanged") is True or
        fail(json.dumps(res["capabilities"])))
before = names(a)
t.check("read, write, exec host: Bash, Write and Read listed, no forward "
        "or delegation tool",
        lambda: {"hosts", "Bash", "Write", "Read"} <= set(before) and
        not {"forward_open", "ask_claude", "job_status"} & set(before) or
        fail(before))

# 2026-07-28: the same change on subscriptions/listen streams
def modern_client():
    # the sessions closed above are freed on the daemon's next turn: until
    # then a third connection is over the limit of 2
    deadline = time.monotonic() + 30
    while True:
        c = Client(socket_path=SOCK, timeout=T)
        try:
            c.modern("server/discover")
            return c
        except Exception as ex:
            c.close()
            if time.monotonic() > deadline:
                fail("no connection under the session limit: %s" % ex)
            time.sleep(0.2)


m = modern_client()
SUBKEY = "io.modelcontextprotocol/subscriptionId"


def m_notes(method, sub):
    return [n for n in m.notifications if n.get("method") == method and
            n.get("params", {}).get("_meta", {}).get(SUBKEY) == sub]


def m_pump(cond, what):
    deadline = time.monotonic() + 30
    while not cond():
        if time.monotonic() > deadline:
            fail("timed out waiting for " + what + ": " +
                 json.dumps(m.notifications))
        try:
            m._file(m.recv_line(timeout=0.5))
        except Exception:
            pass
    return True


m.send({"jsonrpc": "2.0", "id": "subs-1", "method": "subscriptions/listen",
        "params": {"_meta": Client.modern_meta(),
                   "notifications": {"toolsListChanged": True,
                                     "resourceSubscriptions": ["file:///x"]}}})
m.send({"jsonrpc": "2.0", "id": 77, "method": "subscriptions/listen",
        "params": {"_meta": Client.modern_meta(),
                   "notifications": {"promptsListChanged": True}}})
t.check("subscriptions/listen: acknowledged with the part honoured "
        "(toolsListChanged; no resources here)",
        lambda: m_pump(lambda: m_notes(
            "notifications/subscriptions/acknowledged", "subs-1") and
            m_notes("notifications/subscriptions/acknowledged", 77),
            "the acknowledgements") and
        m_notes("notifications/subscriptions/acknowledged", "subs-1")[0]
        ["params"]["notifications"] == {"toolsListChanged": True} and
        m_notes("notifications/subscriptions/acknowledged", 77)[0]
        ["params"]["notifications"] == {} or fail(m.notifications))
e = m.modern_raw("subscriptions/listen", {"notifications": 5})
t.check("subscriptions/listen with a bad filter: -32602",
        lambda: e.get("error", {}).get("code") == -32602 or fail(e))
e = a.request_raw("subscriptions/listen", {"notifications": {}})
t.check("subscriptions/listen in a legacy session: -32601",
        lambda: e.get("error", {}).get("code") == -32601 or fail(e))

reload_with("allow read, write, exec", "allow read")
t.check("reload to a read-only host: notifications/tools/list_changed",
        wait_notified, a)
t.check("and on the 2026 subscription that asked, with its id",
        lambda: m_pump(lambda: m_notes("notifications/tools/list_changed",
                                       "subs-1"), "list_changed on subs-1"))
t.check("none on the subscription that did not ask",
        lambda: m.request("ping", timeout=T) is not None and
        not m_notes("notifications/tools/list_changed", 77) or
        fail(m.notifications))
# cancelled: no response, and nothing more on it
m.send({"jsonrpc": "2.0", "method": "notifications/cancelled",
        "params": {"requestId": "subs-1"}})
after = names(a)
t.check("tools/list then lacks Bash, Write, Edit; keeps Read, Grep, hosts",
        lambda: not {"Bash", "Write", "Edit", "BashOutput"} & set(after) and
        {"Read", "Grep", "hosts"} <= set(after) or fail(after))


def bash_unlisted():
    r = a.call_tool("Bash", {"command": "true"}, timeout=T)
    if not r.get("isError") or "no configured host allows exec" not in \
            result_text(r):
        fail(json.dumps(r))
    return True


t.check("Bash called anyway: no configured host allows exec", bash_unlisted)

# a reload that changes nothing the hosts allow: seen, but no notification
a.notifications.clear()
reload_with('base dir "%s"' % BASE, 'base dir "%s/"' % BASE)


def base_changed():
    r = a.call_tool("hosts", {}, timeout=T)
    return r["structuredContent"]["hosts"][0]["base_dir"].endswith("/")


t.check("a reload of the base dir only is in effect",
        lambda: wait_for(base_changed, "the new base dir"))
t.check("and sent no list_changed",
        lambda: a.request("ping", timeout=T) == {} and not changed(a) or
        fail(a.notifications))
t.check("tools/list unchanged", lambda: names(a) == after or fail(names(a)))
t.check("no response to the cancelled subscription",
        lambda: _idkey_absent(m, "subs-1") or fail(m.responses))

# the server ends what is left gracefully: bridgectl kill session
sess = [json.loads(l) for l in ctl("-j", "show", "sessions").stdout.splitlines()
        if l.strip()]
mine = [x for x in sess if x.get("pid") == os.getpid() and
        x.get("client", "") == ""]


def graceful():
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            msg = m.recv_message(timeout=0.5)
        except Exception as ex:
            if "closed" in str(ex):
                break
            continue
        if msg and msg.get("id") == 77:
            return msg
    fail("no graceful end of subscription 77: %s" % m.responses)


if len(mine) == 1:
    ctl("kill", "session", str(mine[0]["id"]))
    g = graceful()
    t.check("bridgectl kill session: the open subscription gets its "
            "complete response, with its subscriptionId",
            lambda: g["result"].get("resultType") == "complete" and
            g["result"]["_meta"].get(SUBKEY) == 77 or fail(g))
else:
    t.check("the 2026 connection is one session in show sessions",
            lambda: fail(sess))
a.close()
sys.exit(t.done())
EOF

tap_check "bridged is still running" bridged_alive
tap_check "bridged exits 0 on SIGTERM" bridged_stop
tap_end
