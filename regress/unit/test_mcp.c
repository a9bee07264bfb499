/*
 * test_mcp.c: the MCP side of the frontend (fe_mcp.c, fe_tools.c) driven over
 * a real UNIX socket.  frontend.c is replaced by the stubs below, so the
 * test owns the config, sees every message fe_mcp.c would send to another
 * process and plays the ssh worker's replies itself.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event.h>
#include <jansson.h>

#include "bridged.h"
#include "frontend.h"
#include "log.h"
#include "fe_tools.h"
#include "tap.h"

#define NUL_REFUSED	"strings must not contain NUL (\\u0000)"

struct client {
	int	 fd;
	char	 buf[1 << 16];
	size_t	 len;
	int	 eof;
};

/* frontend.c stand-ins */
struct bridged_conf	*frontend_conf;
static int		 nrecords, ncallrecords, nsessrecords, nsessend;
static json_t		*last_call_record;
static int		 ssh_answer = 1;	/* play the ssh worker */
#define ANSWER_PROGRESS	2	/* send progress first */
#define ANSWER_HOSTCHECK 3	/* use the host helpers instead */
static int		 ncomposed;
static uint32_t		 last_peerid;
static uint32_t		 last_type;
static int		 shutting_down, ndrained;
static json_t		*hostcheck_args;	/* see hostcheck() */

static void
fake_hosts_reply(int fd, short ev, void *arg)
{
	struct host_state	 hs;
	struct imsg		 imsg;
	uint32_t		 peerid = (uint32_t)(uintptr_t)arg;
	struct mcp_call		*call;
	struct host		*h;
	json_t			*args;

	if ((call = mcp_call_byreqid(peerid)) == NULL)
		return;
	if (ssh_answer == ANSWER_PROGRESS) {
		mcp_notify_progress(call, 1, "one");
		mcp_notify_progress(call, 1, "same again: dropped");
		mcp_notify_progress(call, 0.5, "backwards: dropped");
		mcp_notify_progress(call, 2.5, NULL);
	}
	if (ssh_answer == ANSWER_HOSTCHECK) {
		/* the test's arguments drive the helpers */
		json_decref(call->args);
		call->args = json_incref(hostcheck_args);
		if ((h = tool_host(call, call->args)) == NULL)
			return;
		args = json_object_get(call->args, "cap");
		if (tool_allow(call, h, json_integer_value(args)) == -1)
			return;
		mcp_call_text(call, 0, "allowed on %s", h->name);
		return;
	}

	memset(&hs, 0, sizeof(hs));
	hs.hostid = 1;
	hs.state = HOST_CONNECTED;
	hs.since = 1700000000;
	strlcpy(hs.fingerprint, "SHA256:abcdef", sizeof(hs.fingerprint));
	memset(&imsg, 0, sizeof(imsg));
	imsg.hdr.type = IMSG_SSH_HOSTSTATE;
	imsg.hdr.peerid = peerid;
	imsg.fd = -1;
	imsg.data = (uint8_t *)&hs;
	imsg.datalen = sizeof(hs);
	mcp_dispatch_ssh(&imsg);

	/* a state for a host id the config does not have: ignored */
	hs.hostid = 99;
	mcp_dispatch_ssh(&imsg);

	imsg.hdr.type = IMSG_SSH_END;
	imsg.data = NULL;
	imsg.datalen = 0;
	mcp_dispatch_ssh(&imsg);
}

int
frontend_compose(enum bridged_proc proc, uint32_t type, uint32_t peerid,
    int fd, const void *data, size_t len)
{
	struct timeval	 tv = { 0, 0 };

	ncomposed++;
	last_type = type;
	last_peerid = peerid;
	if (proc == PROC_SSH && type == IMSG_SSH_HOSTS && ssh_answer != 0)
		event_once(-1, EV_TIMEOUT, fake_hosts_reply,
		    (void *)(uintptr_t)peerid, &tv);
	return 0;
}

void
frontend_record(json_t *r)
{
	const char	*type;

	nrecords++;
	type = json_string_value(json_object_get(r, "type"));
	if (type != NULL && strcmp(type, "call") == 0) {
		ncallrecords++;
		json_decref(last_call_record);
		last_call_record = json_deep_copy(r);
	} else if (type != NULL && strcmp(type, "session") == 0) {
		nsessrecords++;
		if (strcmp(json_string_value(json_object_get(r, "event")) ?: "",
		    "end") == 0)
			nsessend++;
	}
}

void
frontend_check_drained(void)
{
	ndrained++;
}

int
frontend_shutting_down(void)
{
	return shutting_down;
}

/* helpers */

static void
pump(int ms)
{
	struct timespec	 ts = { 0, 2 * 1000 * 1000 };
	int		 i;

	for (i = 0; i < ms / 2 + 1; i++) {
		event_loop(EVLOOP_NONBLOCK);
		nanosleep(&ts, NULL);
	}
}

static int
client_open(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd;

	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	pump(10);
	return fd;
}

static void
client_send(struct client *c, const char *data, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		n = write(c->fd, data, len);
		if (n == -1) {
			if (errno == EAGAIN) {
				pump(2);
				continue;
			}
			return;
		}
		data += n;
		len -= n;
	}
}

static void
client_sendline(struct client *c, const char *line)
{
	client_send(c, line, strlen(line));
	client_send(c, "\n", 1);
}

/* The next line the server sent, parsed; NULL on timeout or EOF. */
static json_t *
client_recv(struct client *c, int ms)
{
	char		*nl;
	json_t		*j;
	ssize_t		 n;
	int		 waited;

	for (waited = 0; ; waited += 2) {
		if ((nl = memchr(c->buf, '\n', c->len)) != NULL) {
			j = json_loadb(c->buf, nl - c->buf, 0, NULL);
			c->len -= nl - c->buf + 1;
			memmove(c->buf, nl + 1, c->len);
			return j != NULL ? j : json_string("<unparsable>");
		}
		if (c->eof || waited > ms)
			return NULL;
		pump(2);
		n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n == 0)
			c->eof = 1;
		else if (n > 0)
			c->len += n;
	}
}

static json_t *
rpc(struct client *c, const char *line)
{
	client_sendline(c, line);
	return client_recv(c, 3000);
}

static int
err_code(json_t *r)
{
	return json_integer_value(json_object_get(json_object_get(r, "error"),
	    "code"));
}

static const char *
err_msg(json_t *r)
{
	const char	*m;

	m = json_string_value(json_object_get(json_object_get(r, "error"),
	    "message"));
	return m != NULL ? m : "";
}

static int
id_is_null(json_t *r)
{
	return json_is_null(json_object_get(r, "id"));
}

static int
id_int(json_t *r, json_int_t v)
{
	json_t	*id = json_object_get(r, "id");

	return json_is_integer(id) && json_integer_value(id) == v;
}

static json_t *
result(json_t *r)
{
	return json_object_get(r, "result");
}

/* nothing pending: a ping answered next proves it */
static int
nothing_before_ping(struct client *c, const char *idstr)
{
	char	 line[128];
	json_t	*r;
	int	 good;

	snprintf(line, sizeof(line),
	    "{\"jsonrpc\":\"2.0\",\"id\":\"%s\",\"method\":\"ping\"}", idstr);
	r = rpc(c, line);
	good = r != NULL && json_is_string(json_object_get(r, "id")) &&
	    strcmp(json_string_value(json_object_get(r, "id")), idstr) == 0 &&
	    json_is_object(result(r));
	json_decref(r);
	return good;
}

static int
init_session(struct client *c, const char *version, char *got, size_t gotsz)
{
	char	 line[512];
	json_t	*r;
	int	 good;

	snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":0,"
	    "\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
	    "\"%s\",\"capabilities\":{},\"clientInfo\":{\"name\":\"tester\","
	    "\"version\":\"1.2\"}}}", version);
	r = rpc(c, line);
	good = r != NULL && id_int(r, 0) && json_is_object(result(r));
	if (good && got != NULL)
		strlcpy(got, json_string_value(json_object_get(result(r),
		    "protocolVersion")) ?: "", gotsz);
	json_decref(r);
	return good;
}

/*
 * hosts refuses arguments, so the helpers are reached with none and the
 * arguments are slipped into the call before the fake reply runs.
 */

static void
hostcheck(struct client *c, const char *args, int iserror, const char *want,
    const char *desc)
{
	json_t		*r, *res;
	const char	*text;

	hostcheck_args = json_loads(args, 0, NULL);
	client_sendline(c, "{\"jsonrpc\":\"2.0\",\"id\":\"hc\",\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"hosts\"}}");
	r = client_recv(c, 3000);
	res = result(r);
	text = json_string_value(json_object_get(json_array_get(
	    json_object_get(res, "content"), 0), "text"));
	ok(r && json_is_true(json_object_get(res, "isError")) == iserror &&
	    text != NULL && strcmp(text, want) == 0, "%s", desc);
	if (text != NULL && strcmp(text, want) != 0)
		printf("# got: %s\n", text);
	json_decref(r);
	json_decref(hostcheck_args);
	hostcheck_args = NULL;
}

static json_t *
find_session(json_t *arr, const char *state)
{
	size_t	 i;
	json_t	*o;

	json_array_foreach(arr, i, o)
		if (strcmp(json_string_value(json_object_get(o, "state")),
		    state) == 0)
			return o;
	return NULL;
}

int
main(void)
{
	char			 dir[] = "/tmp/test_mcp.XXXXXX", path[256];
	char			 got[64], *big;
	struct sockaddr_un	 sun;
	struct client		 a, b, c, d, e, f;	/* at most 4 at once */
	struct host		*h;
	json_t			*r, *res, *tools, *t, *ann, *st, *hosts, *o;
	json_t			*txt, *sess;
	size_t			 i;
	int			 lfd, good, before, fd, nrec;
	struct imsg		 imsg;

	log_init(1, 0);
	if (getenv("TEST_VERBOSE") == NULL)
		freopen("/dev/null", "w", stderr);
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/mcp.sock", dir);

	event_init();
	if ((frontend_conf = config_new()) == NULL)
		return 1;
	frontend_conf->limits.line_max = 1024;
	frontend_conf->limits.sessions_max = 4;
	frontend_conf->limits.call_timeout = 1;
	h = config_host_new(frontend_conf);
	strlcpy(h->name, "alpha", sizeof(h->name));
	strlcpy(h->address, "192.0.2.1", sizeof(h->address));
	strlcpy(h->user, "agent", sizeof(h->user));
	strlcpy(h->base_dir, "/srv/work", sizeof(h->base_dir));
	h->caps = CAP_READ | CAP_EXEC;
	h->line = 5;
	h->allow_line = 9;
	h = config_host_new(frontend_conf);
	strlcpy(h->name, "beta", sizeof(h->name));
	strlcpy(h->address, "beta.example", sizeof(h->address));
	h->port = 2222;
	h->line = 14;
	strlcpy(frontend_conf->default_host, "alpha",
	    sizeof(frontend_conf->default_host));

	if ((lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1)
		return 1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	if (bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(lfd, 16) == -1)
		return 1;

	mcp_init();
	mcp_listen(lfd);

	memset(&a, 0, sizeof(a));
	a.fd = client_open(path);
	ok(a.fd != -1, "client connects");
	pump(10);
	sess = mcp_sessions_json();
	ok(json_array_size(sess) == 1, "one session listed");
	o = json_array_get(sess, 0);
	ok(json_integer_value(json_object_get(o, "id")) == 1 &&
	    json_integer_value(json_object_get(o, "uid")) == getuid() &&
	    json_integer_value(json_object_get(o, "pid")) == getpid() &&
	    strcmp(json_string_value(json_object_get(o, "state")), "new") == 0,
	    "session 1: peer uid/pid from SO_PEERCRED, state new");
	json_decref(sess);
	ok(nsessrecords == 1, "session start recorded");

	/* before initialize */
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
	ok(r && err_code(r) == -32600 && id_int(r, 1) &&
	    strstr(err_msg(r), "not initialized") != NULL,
	    "tools/list before initialize: -32600 not initialized");
	json_decref(r);
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}");
	ok(r && id_int(r, 2) && json_is_object(result(r)) &&
	    json_object_size(result(r)) == 0, "ping before initialize: {}");
	json_decref(r);
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"initialize\","
	    "\"params\":{\"protocolVersion\":5,\"capabilities\":{}}}");
	ok(r && err_code(r) == -32602 && id_int(r, 3),
	    "initialize with a numeric protocolVersion: -32602");
	json_decref(r);
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"initialize\"}");
	ok(r && err_code(r) == -32602, "initialize without params: -32602");
	json_decref(r);

	/* initialize */
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"initialize\","
	    "\"params\":{\"protocolVersion\":\"2025-06-18\",\"capabilities\":"
	    "{},\"clientInfo\":{\"name\":\"claude-code\",\"version\":"
	    "\"2.0.1\"}}}");
	res = result(r);
	ok(r && id_int(r, 5) && res != NULL, "initialize answered");
	ok(res && strcmp(json_string_value(json_object_get(res,
	    "protocolVersion")) ?: "", "2025-06-18") == 0,
	    "2025-06-18 echoed");
	ok(res && json_is_false(json_object_get(json_object_get(
	    json_object_get(res, "capabilities"), "tools"), "listChanged")) &&
	    json_is_object(json_object_get(json_object_get(res,
	    "capabilities"), "logging")), "capabilities tools + logging");
	ok(res && strcmp(json_string_value(json_object_get(json_object_get(
	    res, "serverInfo"), "name")) ?: "", "bridged") == 0 &&
	    strcmp(json_string_value(json_object_get(json_object_get(res,
	    "serverInfo"), "version")) ?: "", BRIDGED_VERSION) == 0,
	    "serverInfo name and version");
	ok(res && json_is_string(json_object_get(res, "instructions")) &&
	    strstr(json_string_value(json_object_get(res, "instructions")),
	    "host") != NULL, "instructions mention hosts");
	json_decref(r);
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"initialize\","
	    "\"params\":{\"protocolVersion\":\"2025-06-18\",\"capabilities\":"
	    "{},\"clientInfo\":{\"name\":\"x\",\"version\":\"1\"}}}");
	ok(r && err_code(r) == -32600 && id_int(r, 6),
	    "second initialize: -32600");
	json_decref(r);
	client_sendline(&a, "{\"jsonrpc\":\"2.0\",\"method\":"
	    "\"notifications/initialized\"}");
	ok(nothing_before_ping(&a, "p1"), "notifications/initialized not "
	    "answered");
	sess = mcp_sessions_json();
	o = json_array_get(sess, 0);
	ok(o && strcmp(json_string_value(json_object_get(o, "state")),
	    "ready") == 0 && strcmp(json_string_value(json_object_get(o,
	    "client")), "claude-code") == 0 && strcmp(json_string_value(
	    json_object_get(o, "client_version")), "2.0.1") == 0 &&
	    strcmp(json_string_value(json_object_get(o, "protocol")),
	    "2025-06-18") == 0 && json_integer_value(json_object_get(o,
	    "since")) > 1600000000, "session JSON after initialize");
	json_decref(sess);

	/* version negotiation on other sessions */
	memset(&b, 0, sizeof(b));
	b.fd = client_open(path);
	ok(init_session(&b, "2025-11-25", got, sizeof(got)) &&
	    strcmp(got, "2025-11-25") == 0, "2025-11-25 echoed");
	memset(&c, 0, sizeof(c));
	c.fd = client_open(path);
	ok(init_session(&c, "1999-01-01", got, sizeof(got)) &&
	    strcmp(got, "2025-11-25") == 0,
	    "unknown version answered with 2025-11-25");
	sess = mcp_sessions_json();
	ok(json_array_size(sess) == 3 && find_session(sess, "new") != NULL,
	    "three sessions, the un-notified ones still new");
	json_decref(sess);

	/* session limit is 4: the fifth is refused */
	memset(&d, 0, sizeof(d));
	d.fd = client_open(path);
	memset(&e, 0, sizeof(e));
	e.fd = client_open(path);
	pump(20);
	r = client_recv(&e, 1000);
	ok(r && err_code(r) == -32000 && strstr(err_msg(r), "too many") &&
	    id_is_null(r), "session over the limit told why");
	json_decref(r);
	r = client_recv(&e, 1000);
	ok(r == NULL && e.eof, "session over the limit closed");
	close(e.fd);
	sess = mcp_sessions_json();
	ok(json_array_size(sess) == 4, "four sessions listed");
	json_decref(sess);

	/* tools/list */
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":\"tl\",\"method\":"
	    "\"tools/list\"}");
	tools = json_object_get(result(r), "tools");
	ok(json_is_array(tools) && json_array_size(tools) >= 1,
	    "tools/list returns tools");
	good = json_array_size(tools) >= 1;
	json_array_foreach(tools, i, t) {
		ann = json_object_get(t, "annotations");
		if (!json_is_string(json_object_get(t, "name")) ||
		    !json_is_string(json_object_get(t, "description")) ||
		    !json_is_object(json_object_get(t, "inputSchema")) ||
		    strcmp(json_string_value(json_object_get(json_object_get(t,
		    "inputSchema"), "type")) ?: "", "object") != 0 ||
		    !json_is_boolean(json_object_get(ann, "readOnlyHint")) ||
		    !json_is_boolean(json_object_get(ann, "destructiveHint")) ||
		    !json_is_boolean(json_object_get(ann, "idempotentHint")) ||
		    !json_is_boolean(json_object_get(ann, "openWorldHint")))
			good = 0;
	}
	ok(good, "every tool: name, description, inputSchema, 4 annotations");
	t = NULL;
	json_array_foreach(tools, i, o)
		if (strcmp(json_string_value(json_object_get(o, "name")),
		    "hosts") == 0)
			t = o;
	ann = json_object_get(t, "annotations");
	ok(t && json_is_true(json_object_get(ann, "readOnlyHint")) &&
	    json_is_false(json_object_get(ann, "destructiveHint")) &&
	    json_is_true(json_object_get(ann, "idempotentHint")) &&
	    json_is_false(json_object_get(ann, "openWorldHint")) &&
	    json_is_object(json_object_get(t, "outputSchema")),
	    "hosts: read-only, idempotent, closed world, outputSchema");
	json_decref(r);
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\","
	    "\"params\":{\"cursor\":\"abc\"}}");
	ok(r && err_code(r) == -32602 && strcmp(err_msg(r), "invalid cursor")
	    == 0, "tools/list with a cursor: -32602 invalid cursor");
	json_decref(r);

	/* tools/call hosts */
	before = ncallrecords;
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\","
	    "\"params\":{\"name\":\"hosts\",\"arguments\":{}}}");
	res = result(r);
	ok(r && id_int(r, 8) && res && !json_is_true(json_object_get(res,
	    "isError")), "hosts answered");
	ok(last_type == IMSG_SSH_HOSTS && last_peerid != 0 &&
	    (last_peerid & CTL_REQID_BIT) == 0,
	    "IMSG_SSH_HOSTS sent with a request id");
	st = json_object_get(res, "structuredContent");
	hosts = json_object_get(st, "hosts");
	ok(json_array_size(hosts) == 2, "two hosts");
	o = json_array_get(hosts, 0);
	ok(o && strcmp(json_string_value(json_object_get(o, "name")),
	    "alpha") == 0 && strcmp(json_string_value(json_object_get(o,
	    "state")), "connected") == 0 && json_is_true(json_object_get(o,
	    "default")) && json_integer_value(json_object_get(o, "since")) ==
	    1700000000 && strcmp(json_string_value(json_object_get(o,
	    "fingerprint")), "SHA256:abcdef") == 0 && json_is_null(
	    json_object_get(o, "last_error")) && json_integer_value(
	    json_object_get(o, "port")) == 22, "alpha: state, default, since, "
	    "fingerprint");
	ok(o && json_array_size(json_object_get(o, "capabilities")) == 2 &&
	    strcmp(json_string_value(json_array_get(json_object_get(o,
	    "capabilities"), 0)), "read") == 0 && strcmp(json_string_value(
	    json_array_get(json_object_get(o, "capabilities"), 1)), "exec") ==
	    0, "alpha: capabilities read, exec");
	o = json_array_get(hosts, 1);
	ok(o && strcmp(json_string_value(json_object_get(o, "name")),
	    "beta") == 0 && strcmp(json_string_value(json_object_get(o,
	    "state")), "unknown") == 0 && json_is_false(json_object_get(o,
	    "default")) && json_array_size(json_object_get(o,
	    "capabilities")) == 0 && json_integer_value(json_object_get(o,
	    "port")) == 2222, "beta: no state reply is unknown, no caps");
	txt = json_object_get(json_array_get(json_object_get(res, "content"),
	    0), "text");
	t = json_is_string(txt) ? json_loads(json_string_value(txt), 0, NULL) :
	    NULL;
	ok(t && json_equal(t, st), "text block is the structured content");
	json_decref(t);
	json_decref(r);
	ok(ncallrecords == before + 1 && strcmp(json_string_value(
	    json_object_get(last_call_record, "outcome")), "ok") == 0 &&
	    strcmp(json_string_value(json_object_get(last_call_record,
	    "decision")), "allowed") == 0 && strcmp(json_string_value(
	    json_object_get(last_call_record, "tool")), "hosts") == 0,
	    "call recorded: hosts allowed ok");
	ok(mcp_inflight() == 0, "nothing in flight");

	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\","
	    "\"params\":{\"name\":\"hosts\",\"arguments\":{\"host\":\"x\"}}}");
	res = result(r);
	ok(r && json_is_true(json_object_get(res, "isError")) &&
	    strstr(json_string_value(json_object_get(json_array_get(
	    json_object_get(res, "content"), 0), "text")) ?: "", "host") !=
	    NULL, "hosts with an argument: isError naming it");
	json_decref(r);
	ok(strcmp(json_string_value(json_object_get(last_call_record,
	    "outcome")), "error") == 0, "recorded as error");

	/* bad requests */
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"nope/x\"}");
	ok(r && err_code(r) == -32601 && strcmp(err_msg(r),
	    "method not found: nope/x") == 0 && id_int(r, 10),
	    "unknown method: -32601 naming it");
	json_decref(r);
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"tools/call\","
	    "\"params\":{\"name\":\"nope\"}}");
	ok(r && err_code(r) == -32602 && strcmp(err_msg(r),
	    "unknown tool: nope") == 0, "unknown tool: -32602");
	json_decref(r);
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"tools/call\","
	    "\"params\":{\"name\":5}}");
	ok(r && err_code(r) == -32602, "tool name not a string: -32602");
	json_decref(r);
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":13,\"method\":\"tools/call\","
	    "\"params\":{\"name\":\"hosts\",\"arguments\":[1]}}");
	ok(r && err_code(r) == -32602, "arguments an array: -32602");
	json_decref(r);
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":14,\"method\":\"tools/call\","
	    "\"params\":{\"name\":\"hosts\",\"_meta\":{\"progressToken\":"
	    "1.5}}}");
	ok(r && err_code(r) == -32602, "real progressToken: -32602");
	json_decref(r);
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":15,\"method\":\"ping\","
	    "\"params\":\"x\"}");
	ok(r && err_code(r) == -32602 && id_int(r, 15),
	    "params a string: -32602");
	json_decref(r);
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":16,\"method\":\"tools/call\","
	    "\"params\":[1,2]}");
	ok(r && err_code(r) == -32602, "tools/call params array: -32602");
	json_decref(r);
	r = rpc(&a, "[{\"jsonrpc\":\"2.0\",\"id\":17,\"method\":\"ping\"}]");
	ok(r && err_code(r) == -32600 && id_is_null(r) &&
	    strstr(err_msg(r), "batches are not supported") != NULL,
	    "batch: -32600 batches are not supported");
	json_decref(r);
	r = rpc(&a, "[]");
	ok(r && err_code(r) == -32600, "empty batch: -32600");
	json_decref(r);
	r = rpc(&a, "\"ping\"");
	ok(r && err_code(r) == -32600 && id_is_null(r), "a string: -32600");
	json_decref(r);
	r = rpc(&a, "{\"jsonrpc\":\"1.0\",\"id\":18,\"method\":\"ping\"}");
	ok(r && err_code(r) == -32600, "jsonrpc 1.0: -32600");
	json_decref(r);
	r = rpc(&a, "{\"id\":19,\"method\":\"ping\"}");
	ok(r && err_code(r) == -32600, "no jsonrpc member: -32600");
	json_decref(r);
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":20,\"method\":7}");
	ok(r && err_code(r) == -32600 && id_int(r, 20),
	    "method a number: -32600");
	json_decref(r);
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":21}");
	ok(r && err_code(r) == -32600, "no method: -32600");
	json_decref(r);
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":22,\"id\":23,\"method\":"
	    "\"ping\"}");
	ok(r && err_code(r) == -32700 && id_is_null(r),
	    "duplicate keys: -32700");
	json_decref(r);
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":24,\"method\":\"ping\"");
	ok(r && err_code(r) == -32700 && id_is_null(r),
	    "truncated JSON: -32700");
	json_decref(r);
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":25,\"method\":\"ping\","
	    "\"params\":{\"x\":\"\xff\xfe\"}}");
	ok(r && err_code(r) == -32700 && id_is_null(r),
	    "invalid UTF-8: -32700");
	json_decref(r);
	/* a NUL anywhere: -32602 for the request's id, nothing acted on */
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":26,\"method\":\"ping\","
	    "\"params\":{\"x\":\"\\u0000\"}}");
	ok(r && err_code(r) == -32602 && id_int(r, 26) &&
	    strcmp(err_msg(r), NUL_REFUSED) == 0, "NUL in a value: -32602 "
	    "with the id");
	json_decref(r);
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":\"k\",\"method\":\"ping\","
	    "\"params\":{\"a\\u0000b\":1}}");
	ok(r && err_code(r) == -32602 && json_is_string(json_object_get(r,
	    "id")) && strcmp(json_string_value(json_object_get(r, "id")),
	    "k") == 0 && strcmp(err_msg(r), NUL_REFUSED) == 0,
	    "NUL in a key: -32602 with the id");
	json_decref(r);
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":28,\"method\":"
	    "\"ping\\u0000x\"}");
	ok(r && err_code(r) == -32602 && id_int(r, 28) && !result(r),
	    "NUL in the method name: -32602, not a ping");
	json_decref(r);
	r = rpc(&a, "{\"jsonrpc\":\"2.0\\u0000\",\"id\":29,\"method\":"
	    "\"ping\"}");
	ok(r && err_code(r) == -32602 && id_int(r, 29),
	    "NUL in jsonrpc: -32602");
	json_decref(r);
	before = ncomposed;
	nrec = ncallrecords;
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":30,\"method\":\"tools/call\","
	    "\"params\":{\"name\":\"hosts\",\"arguments\":{\"x\":[1,"
	    "{\"y\":[\"ok\",\"a\\u0000\"]}]}}}");
	ok(r && err_code(r) == -32602 && id_int(r, 30) &&
	    ncomposed == before && ncallrecords == nrec,
	    "NUL in a nested argument: -32602, the tool never ran");
	json_decref(r);
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\","
	    "\"params\":{\"\\u0000\":1}}");
	ok(r && err_code(r) == -32600 && id_is_null(r),
	    "NUL in a key with a real id: -32600, id null");
	json_decref(r);
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":31,\"method\":\"ping\","
	    "\"params\":{\"x\\u0000\":\"\\u0000\", ");
	ok(r && err_code(r) == -32700 && id_is_null(r),
	    "NUL in a key of broken JSON: -32700");
	json_decref(r);
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":32,\"method\":\"ping\","
	    "\"params\":{\"k\\\\u0000\":\"\\\\u0000\"}}");
	ok(r && id_int(r, 32) && json_is_object(result(r)),
	    "an escaped backslash before u0000 is no NUL");
	json_decref(r);
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":133,\"method\":\"ping\","
	    "\"params\":{\"a\\\\\":\"\\\"\",\"b\\u0000\":1}}");
	ok(r && err_code(r) == -32602 && id_int(r, 133),
	    "NUL in a key after escaped quotes and backslashes: -32602");
	json_decref(r);
	client_sendline(&a, "{\"jsonrpc\":\"2.0\",\"method\":"
	    "\"notifications/cancelled\",\"params\":{\"requestId\":"
	    "\"\\u0000\"}}");
	client_sendline(&a, "{\"jsonrpc\":\"2.0\",\"method\":"
	    "\"notifications/initialized\",\"params\":{\"\\u0000\":1}}");
	ok(nothing_before_ping(&a, "pnul"), "notifications with a NUL are "
	    "not answered");
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":27,\"method\":\"ping\"}\r");
	ok(r && id_int(r, 27) && json_is_object(result(r)),
	    "CRLF line accepted");
	json_decref(r);
	client_sendline(&a, "");
	client_sendline(&a, "   ");
	ok(nothing_before_ping(&a, "p2"), "empty lines ignored");

	/* ids of every JSON type */
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":\"abc\\u00e9\","
	    "\"method\":\"ping\"}");
	ok(r && json_is_string(json_object_get(r, "id")) &&
	    strcmp(json_string_value(json_object_get(r, "id")),
	    "abc\xc3\xa9") == 0, "string id echoed");
	json_decref(r);
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":-42,\"method\":\"ping\"}");
	ok(r && id_int(r, -42), "negative integer id echoed");
	json_decref(r);
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":9007199254740993,"
	    "\"method\":\"ping\"}");
	ok(r && id_int(r, 9007199254740993LL), "big integer id echoed "
	    "exactly");
	json_decref(r);
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":123456789012345678901234567890,"
	    "\"method\":\"ping\"}");
	ok(r && err_code(r) == -32700 && id_is_null(r),
	    "integer id beyond 64 bits: -32700");
	json_decref(r);
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}");
	ok(r && err_code(r) == -32600 && id_is_null(r), "real id: -32600");
	json_decref(r);
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}");
	ok(r && err_code(r) == -32600 && id_is_null(r), "null id: -32600");
	json_decref(r);
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}");
	ok(r && err_code(r) == -32600 && id_is_null(r), "bool id: -32600");
	json_decref(r);
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}");
	ok(r && err_code(r) == -32600 && id_is_null(r), "object id: -32600");
	json_decref(r);
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"ping\"}");
	ok(r && err_code(r) == -32600 && id_is_null(r), "array id: -32600");
	json_decref(r);

	/* notifications and responses are never answered */
	client_sendline(&a, "{\"jsonrpc\":\"2.0\",\"method\":\"ping\"}");
	client_sendline(&a, "{\"jsonrpc\":\"2.0\",\"method\":\"nope\"}");
	client_sendline(&a, "{\"jsonrpc\":\"2.0\",\"method\":\"tools/call\","
	    "\"params\":{\"name\":\"nope\"}}");
	client_sendline(&a, "{\"jsonrpc\":\"2.0\",\"method\":\"ping\","
	    "\"params\":5}");
	client_sendline(&a, "{\"jsonrpc\":\"2.0\",\"method\":"
	    "\"notifications/cancelled\",\"params\":{\"requestId\":999}}");
	client_sendline(&a, "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}");
	client_sendline(&a, "{\"jsonrpc\":\"2.0\",\"id\":6,\"error\":"
	    "{\"code\":1,\"message\":\"x\"}}");
	ok(nothing_before_ping(&a, "p3"), "notifications and client "
	    "responses not answered");

	/* logging/setLevel */
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":30,\"method\":"
	    "\"logging/setLevel\",\"params\":{\"level\":\"warning\"}}");
	ok(r && id_int(r, 30) && json_is_object(result(r)),
	    "setLevel warning: {}");
	json_decref(r);
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":31,\"method\":"
	    "\"logging/setLevel\",\"params\":{\"level\":\"verbose\"}}");
	ok(r && err_code(r) == -32602, "setLevel verbose: -32602");
	json_decref(r);
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":32,\"method\":"
	    "\"logging/setLevel\"}");
	ok(r && err_code(r) == -32602, "setLevel without params: -32602");
	json_decref(r);

	/* a line over line_max, in one write and across reads */
	big = malloc(3000);
	memset(big, 'x', 3000);
	client_send(&a, big, 3000);
	client_sendline(&a, "");
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":33,\"method\":\"ping\"}");
	ok(r && err_code(r) == -32600 && id_is_null(r) && strcmp(err_msg(r),
	    "message too large: limit is 1024 bytes") == 0,
	    "oversized line: -32600 message too large");
	json_decref(r);
	r = client_recv(&a, 3000);
	ok(r && id_int(r, 33) && json_is_object(result(r)),
	    "the request after it is answered");
	json_decref(r);
	for (i = 0; i < 4; i++) {
		client_send(&a, big, 700);
		pump(10);
	}
	client_sendline(&a, "tail of the big one");
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":34,\"method\":\"ping\"}");
	ok(r && err_code(r) == -32600, "oversized line across reads: error");
	json_decref(r);
	r = client_recv(&a, 3000);
	ok(r && id_int(r, 34), "answered once, next request served");
	json_decref(r);
	/* exactly line_max is fine: pad a ping with spaces */
	memset(big, ' ', 1024);
	memcpy(big, "{\"jsonrpc\":\"2.0\",\"id\":35,\"method\":\"ping\"}",
	    strlen("{\"jsonrpc\":\"2.0\",\"id\":35,\"method\":\"ping\"}"));
	client_send(&a, big, 1024);
	r = rpc(&a, "");
	ok(r && id_int(r, 35), "a line of exactly line_max is served");
	json_decref(r);
	free(big);

	/* progress: only increasing values go out, before the result */
	ssh_answer = ANSWER_PROGRESS;
	client_sendline(&a, "{\"jsonrpc\":\"2.0\",\"id\":36,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"hosts\",\"_meta\":"
	    "{\"progressToken\":\"pt\"}}}");
	r = client_recv(&a, 3000);
	o = json_object_get(r, "params");
	ok(r && strcmp(json_string_value(json_object_get(r, "method")) ?: "",
	    "notifications/progress") == 0 && json_object_get(r, "id") ==
	    NULL && strcmp(json_string_value(json_object_get(o,
	    "progressToken")) ?: "", "pt") == 0 && json_number_value(
	    json_object_get(o, "progress")) == 1 && strcmp(json_string_value(
	    json_object_get(o, "message")) ?: "", "one") == 0,
	    "progress 1 with its token and message");
	json_decref(r);
	r = client_recv(&a, 3000);
	o = json_object_get(r, "params");
	ok(r && json_number_value(json_object_get(o, "progress")) == 2.5 &&
	    json_object_get(o, "message") == NULL,
	    "progress 2.5; the repeated and the smaller value dropped");
	json_decref(r);
	r = client_recv(&a, 3000);
	ok(r && id_int(r, 36) && json_is_object(json_object_get(result(r),
	    "structuredContent")), "then the result");
	json_decref(r);
	client_sendline(&a, "{\"jsonrpc\":\"2.0\",\"id\":37,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"hosts\"}}");
	r = client_recv(&a, 3000);
	ok(r && id_int(r, 37), "no progress without a progressToken");
	json_decref(r);

	/* the host helpers, driven through a call's own arguments */
	ssh_answer = ANSWER_HOSTCHECK;
	hostcheck(&a, "{\"host\":\"zzz\"}", 1, "host: unknown host \"zzz\"; "
	    "configured hosts: alpha, beta", "unknown host named, hosts listed");
	hostcheck(&a, "{\"host\":7}", 1, "host: expected a string naming a "
	    "configured host; configured hosts: alpha, beta",
	    "host not a string");
	hostcheck(&a, "{\"cap\":4}", 0, "allowed on alpha",
	    "no host: the default host, exec allowed");
	ok(strcmp(json_string_value(json_object_get(last_call_record,
	    "host")) ?: "", "alpha") == 0, "call record names the host");
	hostcheck(&a, "{\"host\":\"alpha\",\"cap\":2}", 1,
	    "host \"alpha\" does not allow write; add \"write\" to its "
	    "\"allow\" line (bridged.conf line 9)", "refusal names the allow "
	    "line");
	ok(strcmp(json_string_value(json_object_get(last_call_record,
	    "decision")) ?: "", "refused") == 0, "recorded as refused");
	hostcheck(&a, "{\"host\":\"beta\",\"cap\":8}", 1,
	    "host \"beta\" does not allow delegate; add \"allow delegate\" to "
	    "its host block (bridged.conf line 14)", "no allow line: the "
	    "host line");
	frontend_conf->default_host[0] = '\0';
	hostcheck(&a, "{}", 1, "host: no host given and no default host is "
	    "configured; pass \"host\", one of: alpha, beta",
	    "no host and no default");
	strlcpy(frontend_conf->default_host, "alpha",
	    sizeof(frontend_conf->default_host));
	ssh_answer = 1;

	/* cancellation: the worker never answers, the client cancels */
	ssh_answer = 0;
	client_sendline(&a, "{\"jsonrpc\":\"2.0\",\"id\":\"c1\",\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"hosts\",\"_meta\":"
	    "{\"progressToken\":\"tok\"}}}");
	pump(20);
	ok(mcp_inflight() == 1, "call in flight");
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":\"c1\",\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"hosts\"}}");
	ok(r && err_code(r) == -32600 && strstr(err_msg(r), "in flight"),
	    "same id while in flight: -32600");
	json_decref(r);
	before = ncallrecords;
	client_sendline(&a, "{\"jsonrpc\":\"2.0\",\"method\":"
	    "\"notifications/cancelled\",\"params\":{\"requestId\":\"c1\","
	    "\"reason\":\"user\"}}");
	pump(20);
	ok(mcp_inflight() == 0, "cancelled call freed");
	ok(ncallrecords == before + 1 && strcmp(json_string_value(
	    json_object_get(last_call_record, "outcome")), "cancelled") == 0,
	    "recorded as cancelled");
	/* a late reply for it is dropped */
	memset(&imsg, 0, sizeof(imsg));
	imsg.hdr.type = IMSG_SSH_END;
	imsg.hdr.peerid = last_peerid;
	imsg.fd = -1;
	mcp_dispatch_ssh(&imsg);
	ok(nothing_before_ping(&a, "p4"), "cancelled call never answered");

	/* timeout */
	client_sendline(&a, "{\"jsonrpc\":\"2.0\",\"id\":40,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"hosts\"}}");
	r = client_recv(&a, 3000);
	res = result(r);
	ok(r && id_int(r, 40) && json_is_true(json_object_get(res,
	    "isError")) && strstr(json_string_value(json_object_get(
	    json_array_get(json_object_get(res, "content"), 0), "text")) ?: "",
	    "timed out after 1 s") != NULL, "silent worker: timed out after "
	    "1 s");
	json_decref(r);
	ok(strcmp(json_string_value(json_object_get(last_call_record,
	    "outcome")), "timeout") == 0, "recorded as timeout");
	ssh_answer = 1;

	/*
	 * A client that goes away altogether with a call in flight: the
	 * session ends at once and the call is cancelled (its remote work
	 * killed), not left to run to its timeout.
	 */
	ssh_answer = 0;
	close(d.fd);		/* room for one more session */
	pump(20);
	memset(&f, 0, sizeof(f));
	f.fd = client_open(path);
	ok(init_session(&f, "2025-11-25", got, sizeof(got)),
	    "one more session");
	before = ncallrecords;
	client_sendline(&f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"hosts\"}}");
	pump(20);
	ok(mcp_inflight() == 1, "call in flight on a session");
	close(f.fd);
	pump(20);
	sess = mcp_sessions_json();
	ok(mcp_inflight() == 0 && json_array_size(sess) == 3 &&
	    ncallrecords == before + 1 && strcmp(json_string_value(
	    json_object_get(last_call_record, "outcome")), "cancelled") == 0,
	    "a client that closes: its session ends, its call is cancelled");
	json_decref(sess);
	memset(&d, 0, sizeof(d));
	d.fd = client_open(path);
	pump(20);

	/*
	 * A half-close with a call in flight: the session waits for the
	 * answer (the client may still read it), bounded by the call
	 * timeout; the drain is signalled when the call ends.
	 */
	client_sendline(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"hosts\"}}");
	pump(20);
	ok(mcp_inflight() == 1, "call in flight on session 3");
	shutting_down = 1;
	before = ndrained;
	shutdown(c.fd, SHUT_WR);
	pump(20);
	sess = mcp_sessions_json();
	ok(mcp_inflight() == 1 && json_array_size(sess) == 4,
	    "after a half-close the session waits for its call");
	json_decref(sess);
	r = rpc(&b, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\","
	    "\"params\":{\"name\":\"hosts\"}}");
	ok(r && json_is_true(json_object_get(result(r), "isError")),
	    "no new calls while shutting down");
	json_decref(r);
	pump(1500);
	sess = mcp_sessions_json();
	ok(mcp_inflight() == 0 && ndrained > before &&
	    json_array_size(sess) == 3,
	    "call timed out, drain checked, session gone");
	json_decref(sess);
	close(c.fd);
	shutting_down = 0;
	ssh_answer = 1;

	/* half-close: the last line (no newline) is still answered */
	client_send(&d, "{\"jsonrpc\":\"2.0\",\"id\":50,\"method\":\"ping\"}",
	    strlen("{\"jsonrpc\":\"2.0\",\"id\":50,\"method\":\"ping\"}"));
	shutdown(d.fd, SHUT_WR);
	r = client_recv(&d, 3000);
	ok(r && id_int(r, 50), "unterminated last line answered after EOF");
	json_decref(r);
	r = client_recv(&d, 1000);
	ok(r == NULL && d.eof, "then the session closes");
	close(d.fd);

	/* a client that never reads is dropped, the daemon goes on */
	fd = client_open(path);
	memset(&e, 0, sizeof(e));
	e.fd = fd;
	client_sendline(&e, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":"
	    "\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\"}}");
	pump(20);
	before = nsessend;
	for (i = 0; i < 20000 && nsessend == before; i++) {
		client_sendline(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,"
		    "\"method\":\"tools/list\"}");
		if (i % 64 == 0)
			pump(2);
	}
	pump(20);
	ok(nsessend > before, "non-reading client dropped after %zu "
	    "requests", i);
	close(fd);
	ok(nothing_before_ping(&a, "p5"), "other sessions unaffected");

	/* a call in flight dies with its session, unanswered */
	ssh_answer = 0;
	client_sendline(&b, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"hosts\"}}");
	pump(20);
	ok(mcp_inflight() == 1, "call in flight on session 2");

	mcp_stop_accepting();
	fd = client_open(path);
	ok(fd == -1, "no new sessions after mcp_stop_accepting");
	mcp_close_all();
	pump(20);
	sess = mcp_sessions_json();
	ok(json_array_size(sess) == 0, "mcp_close_all ends every session");
	json_decref(sess);
	ok(mcp_inflight() == 0 && strcmp(json_string_value(json_object_get(
	    last_call_record, "outcome")), "cancelled") == 0,
	    "its call dropped and recorded as cancelled");
	r = client_recv(&b, 1000);
	ok(r == NULL && b.eof, "the call's client sees EOF, no answer");
	r = client_recv(&a, 1000);
	ok(r == NULL && a.eof, "client sees EOF");
	close(a.fd);
	close(b.fd);
	ok(nrecords > 0, "%d records", nrecords);

	unlink(path);
	rmdir(dir);
	json_decref(last_call_record);
	config_free(frontend_conf);
	return tap_done();
}
