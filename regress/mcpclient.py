#!/usr/bin/env python3
"""mcpclient: a small MCP client for bridged's regress tests (stdlib only).

It talks newline-delimited JSON-RPC either on a UNIX socket (bridged's MCP
socket) or over the stdio of a command it starts (``bridgectl mcp SOCK``).
Requests are matched to responses by id; notifications and requests the
server sends in between are kept in ``notifications`` / ``server_requests``.

As a module::

    from mcpclient import Client, Tap
    c = Client(socket_path=sock)          # or Client(argv=[ctl, "mcp", sock])
    c.initialize()
    r = c.call_tool("hosts", {})          # the result object
    e = c.request("nope", expect_error=True)   # the error object

As a command (actions run in the order given)::

    mcpclient.py --socket S --init --call hosts '{}'
    mcpclient.py --cmd "bridgectl mcp S" --init --list-tools
    mcpclient.py --socket S --raw '{"jsonrpc":"2.0","id":1,"method":"ping"}'

prints one line per action: --call prints the result, --request the whole
response, --raw the next line the server sends that is not a notification,
--list-tools the tool names.  Exit status 1 when a --call result has
isError or a --call/--request gets an error response (unless
--allow-errors), 2 on timeouts and closed connections, 64 on usage errors.
"""

import argparse
import json
import os
import select
import shlex
import socket
import subprocess
import sys
import time

LATEST_VERSION = "2025-11-25"
# the legacy revisions (initialize), oldest first; the modern one after
VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
MODERN_VERSION = "2026-07-28"
UNSUPPORTED_VERSION = -32022

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603


class MCPError(Exception):
    """An error response where a result was expected."""

    def __init__(self, error, response=None):
        self.error = error if isinstance(error, dict) else {"message": error}
        self.code = self.error.get("code")
        self.response = response
        super().__init__("JSON-RPC error %s: %s" %
                         (self.code, self.error.get("message")))


class Timeout(Exception):
    pass


class Closed(Exception):
    """The server closed the connection (EOF) or the write side broke."""


def _idkey(v):
    # JSON ids of any type compare by their JSON text
    return json.dumps(v, sort_keys=True, separators=(",", ":"))


class Client:
    def __init__(self, socket_path=None, argv=None, timeout=10.0,
                 stderr=None):
        if (socket_path is None) == (argv is None):
            raise ValueError("give exactly one of socket_path and argv")
        self.timeout = timeout
        self.proc = None
        self.sock = None
        self.buf = b""
        self.eof = False
        self.next_id = 1
        self.notifications = []      # server -> client notifications
        self.server_requests = []    # server -> client requests
        self.responses = {}          # id key -> response not yet claimed
        self.garbage = []            # lines that were not JSON objects
        self.lines = []              # every line received, raw bytes
        if socket_path is not None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(socket_path)
            self.sock.setblocking(False)
            self.rfd = self.wfd = self.sock.fileno()
        else:
            if isinstance(argv, str):
                argv = shlex.split(argv)
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE,
                                         stderr=stderr, bufsize=0)
            self.rfd = self.proc.stdout.fileno()
            self.wfd = self.proc.stdin.fileno()
            os.set_blocking(self.rfd, False)
            os.set_blocking(self.wfd, False)

    # --- context manager / teardown ---

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close_write(self):
        """Half-close: the server sees EOF on its input."""
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        elif self.proc is not None and self.proc.stdin:
            try:
                self.proc.stdin.close()
            except OSError:
                pass

    def close(self, wait=5.0):
        """Close; for a command, return its exit status (None if killed)."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None
            return None
        if self.proc is None:
            return None
        self.close_write()
        try:
            rc = self.proc.wait(wait)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
        self.proc.stdout.close()
        self.proc = None
        return rc

    # --- bytes ---

    def send_raw(self, data, newline=True, timeout=None):
        """Write bytes (or str) as they are, plus a newline by default."""
        if isinstance(data, str):
            data = data.encode()
        if newline:
            data += b"\n"
        deadline = time.monotonic() + (timeout or self.timeout)
        view = memoryview(data)
        while view:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout("write of %d bytes timed out" % len(data))
            _, w, _ = select.select([], [self.wfd], [], left)
            if not w:
                continue
            try:
                n = os.write(self.wfd, view)
            except BlockingIOError:
                continue
            except (BrokenPipeError, ConnectionResetError) as e:
                raise Closed("write: %s" % e)
            view = view[n:]

    def send(self, obj):
        """Send one JSON value as one line."""
        self.send_raw(json.dumps(obj, separators=(",", ":")))

    def recv_line(self, timeout=None):
        """The next line from the server, as bytes without the newline.
        Raises Timeout, or Closed at EOF."""
        deadline = time.monotonic() + (self.timeout if timeout is None
                                       else timeout)
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 1:]
                self.lines.append(line)
                return line
            if self.eof:
                raise Closed("server closed the connection")
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout("no reply within %.1fs" %
                              (self.timeout if timeout is None else timeout))
            r, _, _ = select.select([self.rfd], [], [], left)
            if not r:
                continue
            try:
                chunk = os.read(self.rfd, 65536)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.eof = True
                if self.buf:
                    # a last line without its newline still counts
                    line, self.buf = self.buf, b""
                    self.lines.append(line)
                    return line
            self.buf += chunk

    def _file(self, line):
        """Parse one line and put it where it belongs; returns the parsed
        message, or None for a line that is not a JSON object."""
        try:
            msg = json.loads(line)
        except ValueError:
            self.garbage.append(line)
            return None
        if not isinstance(msg, dict):
            self.garbage.append(line)
            return None
        if "method" in msg:
            if "id" in msg:
                self.server_requests.append(msg)
            else:
                self.notifications.append(msg)
        return msg

    def recv_message(self, timeout=None):
        """The next response (not a notification or server request), in
        any order of ids; None for a line that is not a JSON object."""
        deadline = time.monotonic() + (self.timeout if timeout is None
                                       else timeout)
        while True:
            left = max(0.0, deadline - time.monotonic())
            line = self.recv_line(left)
            msg = self._file(line)
            if msg is None or "method" not in msg:
                return msg

    def wait_response(self, id_, timeout=None):
        """The response whose id equals id_ (any JSON type)."""
        key = _idkey(id_)
        if key in self.responses:
            return self.responses.pop(key)
        deadline = time.monotonic() + (self.timeout if timeout is None
                                       else timeout)
        while True:
            left = max(0.0, deadline - time.monotonic())
            msg = self.recv_message(left)
            if msg is None:
                continue
            k = _idkey(msg.get("id"))
            if k == key:
                return msg
            self.responses[k] = msg

    # --- JSON-RPC ---

    def new_id(self):
        i = self.next_id
        self.next_id += 1
        return i

    def request_raw(self, method, params=None, id=None, timeout=None,
                    **extra):
        """Send a request and return the whole response object."""
        if id is None:
            id = self.new_id()
        msg = {"jsonrpc": "2.0", "id": id, "method": method}
        if params is not None:
            msg["params"] = params
        msg.update(extra)
        self.send(msg)
        return self.wait_response(id, timeout)

    def request(self, method, params=None, id=None, timeout=None,
                expect_error=False):
        """Send a request; return its result, or with expect_error=True
        its error object.  Raises MCPError on an unexpected error."""
        resp = self.request_raw(method, params, id, timeout)
        if expect_error:
            if "error" not in resp:
                raise AssertionError("expected an error, got %s" %
                                     json.dumps(resp))
            return resp["error"]
        if "error" in resp:
            raise MCPError(resp["error"], resp)
        if "result" not in resp:
            raise AssertionError("response without result: %s" %
                                 json.dumps(resp))
        return resp["result"]

    def notify(self, method, params=None):
        msg = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)

    # --- MCP ---

    def initialize(self, version=LATEST_VERSION, name="mcpclient",
                   capabilities=None, initialized=True, timeout=None):
        """initialize + notifications/initialized; returns the result."""
        res = self.request("initialize", {
            "protocolVersion": version,
            "capabilities": capabilities or {},
            "clientInfo": {"name": name, "version": "0"},
        }, timeout=timeout)
        if initialized:
            self.notify("notifications/initialized")
        self.server_info = res
        return res

    def ping(self, timeout=None):
        return self.request("ping", timeout=timeout)

    def list_tools(self, timeout=None):
        """Every tool, following nextCursor."""
        tools, params = [], {}
        for _ in range(1000):
            res = self.request("tools/list", params or None, timeout=timeout)
            tools.extend(res.get("tools", []))
            cursor = res.get("nextCursor")
            if not cursor:
                return tools
            params = {"cursor": cursor}
        raise AssertionError("tools/list cursor never ends")

    # --- 2026-07-28: no initialize, _meta on every request ---

    @staticmethod
    def modern_meta(version=MODERN_VERSION, log_level=None, name="mcpclient",
                    capabilities=None):
        meta = {
            "io.modelcontextprotocol/protocolVersion": version,
            "io.modelcontextprotocol/clientInfo": {"name": name,
                                                   "version": "0"},
            "io.modelcontextprotocol/clientCapabilities":
                capabilities or {},
        }
        if log_level is not None:
            meta["io.modelcontextprotocol/logLevel"] = log_level
        return meta

    def modern_raw(self, method, params=None, version=MODERN_VERSION,
                   log_level=None, timeout=None, meta=None):
        """A modern request (its _meta envelope added to params); the
        whole response."""
        p = dict(params or {})
        m = self.modern_meta(version, log_level)
        m.update(meta or {})
        p["_meta"] = m
        return self.request_raw(method, p, timeout=timeout)

    def modern(self, method, params=None, **kw):
        """A modern request; its result (MCPError on an error)."""
        resp = self.modern_raw(method, params, **kw)
        if "error" in resp:
            raise MCPError(resp["error"], resp)
        return resp["result"]

    def modern_call(self, name, args=None, **kw):
        return self.modern("tools/call", {"name": name, "arguments":
                                          args if args is not None else {}},
                           **kw)

    def batch(self, msgs, timeout=None):
        """Send a list of messages as one JSON-RPC batch line; the next
        line the server sends that is not a notification, parsed."""
        self.send(msgs)
        deadline = time.monotonic() + (self.timeout if timeout is None
                                       else timeout)
        while True:
            line = self.recv_line(max(0.0, deadline - time.monotonic()))
            try:
                v = json.loads(line)
            except ValueError:
                self.garbage.append(line)
                continue
            if isinstance(v, dict) and "method" in v:
                self._file(line)
                continue
            return v

    def call_tool(self, name, args=None, timeout=None, meta=None):
        """tools/call; returns the result (check result.get('isError'))."""
        params = {"name": name, "arguments": args if args is not None
                  else {}}
        if meta:
            params["_meta"] = meta
        return self.request("tools/call", params, timeout=timeout)


def result_text(result):
    """The text blocks of a tool result, joined."""
    return "\n".join(b.get("text", "") for b in result.get("content", [])
                     if isinstance(b, dict) and b.get("type") == "text")


class Tap:
    """TAP lines from Python test code; lib.sh's tap_run relays them."""

    def __init__(self, prefix=""):
        self.n = 0
        self.failed = 0
        self.prefix = prefix

    def ok(self, cond, desc, *diag):
        self.n += 1
        if not cond:
            self.failed += 1
        print("%sok %d - %s%s" % ("" if cond else "not ", self.n,
                                  self.prefix, desc))
        if not cond:
            for d in diag:
                for line in str(d).splitlines() or [""]:
                    print("# " + line)
        sys.stdout.flush()
        return bool(cond)

    def skip(self, desc, why):
        self.n += 1
        print("ok %d - %s%s # SKIP %s" % (self.n, self.prefix, desc, why))
        sys.stdout.flush()

    def check(self, desc, fn, *args, **kw):
        """Run fn; ok when it returns truthy without raising.  Returns
        fn's value (None on exception)."""
        try:
            v = fn(*args, **kw)
        except Exception as e:  # a test case must not stop the run
            self.ok(False, desc, "%s: %s" % (type(e).__name__, e))
            return None
        self.ok(bool(v), desc, "got %r" % (v,))
        return v

    def diag(self, *lines):
        for d in lines:
            for line in str(d).splitlines() or [""]:
                print("# " + line)
        sys.stdout.flush()

    def done(self):
        print("1..%d" % self.n)
        sys.stdout.flush()
        return 1 if self.failed or self.n == 0 else 0


# --- command line ---

class _Action(argparse.Action):
    """Keeps every action flag, in command line order, in ns.actions."""

    def __call__(self, parser, ns, values, option_string=None):
        acts = getattr(ns, "actions", None) or []
        acts.append((self.dest, values))
        ns.actions = acts


def _json_arg(s, what):
    try:
        return json.loads(s)
    except ValueError as e:
        raise SystemExit("mcpclient: %s is not JSON (%s): %r" % (what, e, s))


def _out(obj):
    print(json.dumps(obj, separators=(",", ":"), sort_keys=True))
    sys.stdout.flush()


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="MCP client for bridged regress tests")
    to = ap.add_mutually_exclusive_group(required=True)
    to.add_argument("--socket", "-s", help="UNIX socket path")
    to.add_argument("--cmd", "-c",
                    help="command to run and talk to over stdio")
    ap.add_argument("--timeout", "-t", type=float, default=10.0)
    ap.add_argument("--allow-errors", action="store_true",
                    help="error responses do not make the exit status 1")
    ap.add_argument("--init", nargs="?", const=LATEST_VERSION,
                    metavar="VERSION", action=_Action,
                    help="initialize (default version %s) + initialized"
                    % LATEST_VERSION)
    ap.add_argument("--ping", nargs=0, action=_Action)
    ap.add_argument("--list-tools", nargs=0, action=_Action)
    ap.add_argument("--call", nargs=2, metavar=("TOOL", "ARGS"),
                    action=_Action, help="print the tool result")
    ap.add_argument("--request", nargs=2, metavar=("METHOD", "PARAMS"),
                    action=_Action, help="print the whole response")
    ap.add_argument("--notify", nargs=2, metavar=("METHOD", "PARAMS"),
                    action=_Action)
    ap.add_argument("--raw", metavar="LINE", action=_Action,
                    help="send LINE, print the next reply line")
    ap.add_argument("--send", metavar="LINE", action=_Action,
                    help="send LINE, read nothing")
    ap.add_argument("--recv", nargs=0, action=_Action,
                    help="print the next reply line")
    ap.add_argument("--sleep", type=float, action=_Action)
    ns = ap.parse_args(argv)
    actions = getattr(ns, "actions", None) or []

    try:
        if ns.socket:
            c = Client(socket_path=ns.socket, timeout=ns.timeout)
        else:
            c = Client(argv=shlex.split(ns.cmd), timeout=ns.timeout)
    except OSError as e:
        print("mcpclient: connect: %s" % e, file=sys.stderr)
        return 2

    status = 0
    try:
        for act, val in actions:
            if act == "init":
                _out(c.initialize(val))
            elif act == "ping":
                _out(c.ping())
            elif act == "list_tools":
                for t in c.list_tools():
                    print(t.get("name"))
            elif act == "call":
                args = _json_arg(val[1], "tool arguments")
                resp = c.request_raw("tools/call",
                                     {"name": val[0], "arguments": args})
                if "error" in resp:
                    _out(resp)
                    if not ns.allow_errors:
                        status = 1
                else:
                    _out(resp.get("result"))
                    if resp.get("result", {}).get("isError") and \
                            not ns.allow_errors:
                        status = 1
            elif act == "request":
                params = _json_arg(val[1], "params")
                resp = c.request_raw(val[0], params)
                _out(resp)
                if "error" in resp and not ns.allow_errors:
                    status = 1
            elif act == "notify":
                c.notify(val[0], _json_arg(val[1], "params"))
            elif act in ("raw", "send"):
                c.send_raw(val.encode("utf-8", "surrogateescape"))
                if act == "raw":
                    _out_line(c)
            elif act == "recv":
                _out_line(c)
            elif act == "sleep":
                time.sleep(val)
    except (Timeout, Closed) as e:
        print("mcpclient: %s" % e, file=sys.stderr)
        status = 2
    except MCPError as e:
        print("mcpclient: %s" % e, file=sys.stderr)
        status = 1
    finally:
        rc = c.close()
        if rc and status == 0:
            print("mcpclient: command exited with status %d" % rc,
                  file=sys.stderr)
            status = 2
    return status


def _out_line(c):
    """Print the next line that is not a notification or server request."""
    while True:
        line = c.recv_line()
        msg = c._file(line)
        if msg is None or "method" not in msg:
            sys.stdout.write(line.decode("utf-8", "replace") + "\n")
            sys.stdout.flush()
            return


if __name__ == "__main__":
    sys.exit(main())
