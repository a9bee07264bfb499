#!/bin/bash
# t-httpsubs: subscriptions/listen over Streamable HTTP (2026-07-28): the
# POST is answered with an SSE stream whose first message is the
# acknowledgement (a channel the principal may not receive from and a URI
# that is no channel are left out, named in its _meta
# "bridged/notHonored"); a reload that changes a principal's own tools
# list sends notifications/tools/list_changed with the subscription id on
# that principal's stream and on no other (two client blocks with
# different hosts; a socket session is told only when the whole list
# changes); a channel_send from another session is a
# notifications/resources/updated on the stream; a listen without Accept
# text/event-stream is 406.
# regress-timeout: 200

. "$(dirname "$0")/lib.sh"

sshd_start || { tap_fail "sshd starts"; tap_end; }
P=$(free_port)
printf '%s\n' alpha-token-0123456789abcdefXYZ >"$TESTDIR/alpha.token"
printf '%s\n' beta-token-0123456789abcdefXYZ >"$TESTDIR/beta.token"
chmod 600 "$TESTDIR/alpha.token" "$TESTDIR/beta.token"
EXTRA="relay database \"$TESTDIR/relay/relay.db\"
relay allow \"pub:*\" { send, receive }
host \"other\" {
	address \"127.0.0.1\" port $SSHD_PORT
	user \"$SSH_USER\"
	identity \"$SSH_USER_KEY\"
	known hosts \"$SSH_KNOWN_HOSTS\"
	base dir \"$TESTDIR/base\"
	allow read
}
listen on 127.0.0.1 port $P
client \"alpha\" { token file \"$TESTDIR/alpha.token\" port $P hosts \"local\" }
client \"beta\" { token file \"$TESTDIR/beta.token\" port $P hosts \"other\" }"

tap_check "bridged starts" bridged_start "$EXTRA" || tap_end

export REGRESS_DIR TESTDIR BRIDGECTL CTL_SOCK BRIDGED_CONF MCP_SOCK
tap_run timeout 170 "$PYTHON" - "$P" <<'PY'
import http.client, json, os, queue, socket, subprocess, sys, threading, time
sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client
port = int(sys.argv[1])
TD = os.environ["TESTDIR"]
SUBKEY = "io.modelcontextprotocol/subscriptionId"
V = "2026-07-28"
n = 0; bad = 0
def ok(cond, what, *extra):
    global n, bad
    n += 1
    if cond: print("ok %d - %s" % (n, what))
    else:
        bad += 1
        print("not ok %d - %s" % (n, what))
        for e in extra:
            for l in str(e).splitlines()[:10]: print("#   " + l)

tok = {c: open("%s/%s.token" % (TD, c)).read().strip()
       for c in ("alpha", "beta")}

def headers(who, method, name=None, accept=None):
    h = {"Content-Type": "application/json",
         "Accept": accept or "application/json, text/event-stream",
         "Authorization": "Bearer " + tok[who],
         "MCP-Protocol-Version": V, "Mcp-Method": method}
    if name: h["Mcp-Name"] = name
    return h

def body(id_, method, params):
    p = dict(params)
    p["_meta"] = Client.modern_meta()
    return json.dumps({"jsonrpc": "2.0", "id": id_, "method": method,
                       "params": p})

def call(who, tool, args):
    """a modern tools/call: its result"""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("POST", "/mcp", body(1, "tools/call", {"name": tool,
              "arguments": args}), headers(who, "tools/call", tool))
    r = c.getresponse(); b = r.read().decode(); c.close()
    for l in b.splitlines():
        if l.startswith("data:") and l[5:].strip():
            b = l[5:]
    m = json.loads(b)
    return m.get("result", m)

def tools(who):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("POST", "/mcp", body(1, "tools/list", {}),
              headers(who, "tools/list"))
    r = c.getresponse(); b = r.read().decode(); c.close()
    return [t["name"] for t in json.loads(b)["result"]["tools"]]

class Stream:
    """a subscriptions/listen POST; its SSE messages in a queue"""
    def __init__(self, who, id_, want):
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.c.request("POST", "/mcp", body(id_, "subscriptions/listen",
                       {"notifications": want}),
                       headers(who, "subscriptions/listen"))
        self.r = self.c.getresponse()
        self.q = queue.Queue(); self.got = []
        threading.Thread(target=self.read, daemon=True).start()
    def read(self):
        try:
            while True:
                l = self.r.readline()
                if not l: break
                l = l.decode().rstrip("\r\n")
                if l.startswith("data:") and l[5:].strip():
                    self.q.put(json.loads(l[5:]))
        except Exception as e:
            self.q.put({"exception": str(e)})
        self.q.put(None)
    def until(self, cond, secs=60):
        """messages until one meets cond (it included); None if not"""
        end = time.monotonic() + secs
        while time.monotonic() < end:
            try:
                m = self.q.get(timeout=0.5)
            except queue.Empty:
                continue
            if m is None: return None
            self.got.append(m)
            if cond(m): return m
        return None
    def close(self):
        # the reader holds the response: shut the socket under it first
        try:
            self.c.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.c.close()

def method(name):
    return lambda m: m.get("method") == name

# beta's own channel: alpha may not receive from it
r = call("beta", "channel_send", {"channel": "beta:private",
                                  "content": "hush"})
ok(not r.get("isError"), "beta creates beta:private", r)

NEWS = "bridged://channel/pub:news"
PRIV = "bridged://channel/beta:private"
a = Stream("alpha", "la", {"toolsListChanged": True,
           "resourceSubscriptions": [NEWS, PRIV, "file:///etc/passwd"]})
ok(a.r.status == 200 and "text/event-stream" in (a.r.getheader(
   "Content-Type") or ""), "a listen POST is answered with an SSE stream",
   a.r.status, a.r.getheaders())
ack = a.until(lambda m: True)
nh = (ack or {}).get("params", {}).get("_meta", {}).get(
    "bridged/notHonored", [])
ok(ack and ack.get("method") == "notifications/subscriptions/acknowledged"
   and ack["params"]["_meta"].get(SUBKEY) == "la",
   "its first message is the acknowledgement, with the subscription id",
   ack)
ok(ack and ack["params"].get("notifications") == {
   "toolsListChanged": True, "resourceSubscriptions": [NEWS]},
   "it honours toolsListChanged and the channel alpha may receive",
   ack)
nh = {x["uri"]: x["reason"] for x in nh}
ok(sorted(nh) == sorted([PRIV, "file:///etc/passwd"]) and
   'principal "alpha" may not receive from channel "beta:private"' in
   nh[PRIV] and "relay channels" in nh["file:///etc/passwd"],
   "the channel it may not receive and the non-channel URI are named as "
   "not honoured, with why", ack)

b = Stream("beta", 7, {"toolsListChanged": True})
back = b.until(lambda m: True)
ok(back and back.get("method") ==
   "notifications/subscriptions/acknowledged" and
   back["params"]["_meta"].get(SUBKEY) == 7 and
   "bridged/notHonored" not in back["params"]["_meta"],
   "beta's stream is acknowledged (nothing left out)", back)

s = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
s.initialize()
t_beta0 = tools("beta")
ok("Read" in t_beta0 and "Write" not in t_beta0 and
   "forward_open" not in tools("alpha"), "before: beta may Read, not "
   "Write; alpha has no forward tools", t_beta0)

def reload(old, new, what):
    conf = open(os.environ["BRIDGED_CONF"]).read()
    assert old in conf, old
    open(os.environ["BRIDGED_CONF"], "w").write(conf.replace(old, new, 1))
    rl = subprocess.run([os.environ["BRIDGECTL"], "-s",
                         os.environ["CTL_SOCK"], "reload"],
                        capture_output=True, text=True, timeout=60)
    ok(rl.returncode == 0, "reload: " + what, rl.stdout, rl.stderr)

# 1: local (alpha's, and the socket's) gains forward: the whole list
reload("allow read, write, exec\n", "allow read, write, exec, forward\n",
       "local allows forward")
m = a.until(method("notifications/tools/list_changed"))
ok(m and m["params"]["_meta"].get(SUBKEY) == "la",
   "alpha's stream: notifications/tools/list_changed with its "
   "subscription id", a.got)
ok("forward_open" in tools("alpha"), "alpha now lists forward_open")

def sock_notes():
    """the socket session's list_changed before the answer to a ping"""
    s.ping()
    return [x for x in s.notifications if x.get("method") ==
            "notifications/tools/list_changed"]
ok(len(sock_notes()) == 1, "the socket session is told once",
   s.notifications)

# 2: other (beta's only) gains write: the whole list does not change
reload("allow read\n}", "allow read, write\n}", "other allows write")
m = b.until(method("notifications/tools/list_changed"))
ok(m and m["params"]["_meta"].get(SUBKEY) == 7,
   "beta's stream: list_changed for its own list, the whole one "
   "unchanged", b.got)
ok([x for x in b.got if x.get("method") ==
    "notifications/tools/list_changed"] == [m],
   "and only that one: the first reload did not change beta's list",
   b.got)
ok("Write" in tools("beta"), "beta now lists Write")
ok(len(sock_notes()) == 1, "the socket session is not told of the "
   "second reload", s.notifications)

# a send from another session: resources/updated on alpha's stream
r = call("beta", "channel_send", {"channel": "beta:private",
                                  "content": "still hush"})
r2 = call("beta", "channel_send", {"channel": "pub:news",
                                   "content": "extra"})
ok(not r.get("isError") and not r2.get("isError"), "beta sends to "
   "beta:private, then to pub:news", r, r2)
m = a.until(method("notifications/resources/updated"))
ok(m and m["params"].get("uri") == NEWS and
   m["params"]["_meta"].get(SUBKEY) == "la",
   "alpha's stream: notifications/resources/updated for pub:news, with "
   "its subscription id", a.got)
ok(len([x for x in a.got if x.get("method") ==
        "notifications/tools/list_changed"]) == 1 and
   PRIV not in json.dumps(a.got[1:]),
   "alpha was told neither of the second reload nor of beta:private",
   a.got)

# a listen that cannot be a stream
c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
c.request("POST", "/mcp", body(9, "subscriptions/listen",
          {"notifications": {"toolsListChanged": True}}),
          headers("alpha", "subscriptions/listen", accept="application/json"))
r = c.getresponse(); rb = r.read().decode(); c.close()
ok(r.status == 406 and "text/event-stream" in rb,
   "a listen without Accept text/event-stream: 406, saying why",
   r.status, rb)

a.close(); b.close(); s.close()
print("1..%d" % n)
sys.exit(1 if bad else 0)
PY

tap_check "bridged stops cleanly" bridged_stop
tap_end
