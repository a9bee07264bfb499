"""bclib: what regress/t-backchan*.sh share: a delegation's back-channel
seen from the stub claude's side (its state files, the --mcp-config it
was given) and from an HTTP client holding its token.

The environment names PUB (the published port), STUB_STATE, BRIDGECTL
and CTL_SOCK.
"""

import http.client
import json
import os
import subprocess
import time

PUB = int(os.environ["PUB"])
STATE = os.environ["STUB_STATE"]
TOOLS = ["channel_ack", "channel_list", "channel_receive", "channel_send",
         "channel_status"]


def ctl(*args):
    return subprocess.run([os.environ["BRIDGECTL"], "-s",
                           os.environ["CTL_SOCK"]] + list(args),
                          capture_output=True, text=True, timeout=30)


def wait_for(pred, secs=90):
    """poll until pred() is truthy; generous for a loaded machine"""
    end = time.time() + secs
    v = None
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    return v


def post(token, body, sid=None, port=None):
    # the published port, or (its worker dead) the listener it leads to
    c = http.client.HTTPConnection("127.0.0.1", port or PUB, timeout=30)
    h = {"Content-Type": "application/json",
         "Accept": "application/json, text/event-stream",
         "Authorization": "Bearer " + token}
    if sid:
        h["Mcp-Session-Id"] = sid
        h["MCP-Protocol-Version"] = "2025-11-25"
    c.request("POST", "/mcp", json.dumps(body), h)
    r = c.getresponse()
    data = r.read().decode()
    if r.getheader("Content-Type", "").startswith("text/event-stream"):
        msgs = [json.loads(l[5:]) for l in data.split("\n")
                if l.startswith("data:") and l[5:].strip()]
        data = msgs[-1] if msgs else None
    else:
        data = json.loads(data) if data.strip() else None
    sid = r.getheader("Mcp-Session-Id") or sid
    c.close()
    return r.status, data, sid


INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {},
    "clientInfo": {"name": "t-backchan", "version": "1"}}}


def session(token, port=None):
    st, a, sid = post(token, INIT, port=port)
    if st == 200:
        post(token, {"jsonrpc": "2.0",
                     "method": "notifications/initialized"}, sid,
             port=port)
    return st, sid


def tool(token, sid, name, args, port=None):
    st, a, _ = post(token, {"jsonrpc": "2.0", "id": 7, "method":
                            "tools/call", "params": {"name": name,
                                                     "arguments": args}},
                    sid, port=port)
    return st, (a or {}).get("result", a)


def reset():
    for f in ("held", "release"):
        try:
            os.unlink(os.path.join(STATE, f))
        except FileNotFoundError:
            pass


def reports():
    try:
        with open(os.path.join(STATE, "report.jsonl")) as f:
            return [json.loads(l) for l in f if l.strip()]
    except FileNotFoundError:
        return []


def held():
    """the held run's config path and token"""
    p = os.path.join(STATE, "held")
    if not wait_for(lambda: os.path.exists(p), 90):
        return None, None
    path = open(p).read()
    with open(path) as f:
        srv = json.load(f)["mcpServers"]["bridged"]
    return path, srv["headers"]["Authorization"].split(" ", 1)[1]
