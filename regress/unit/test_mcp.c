/*
 * test_mcp.c: the MCP side of the frontend (fe_mcp.c, fe_jsonrpc.c,
 * fe_tools.c, fe_remote.c, fe_ssh.c) driven over a real UNIX socket.
 * frontend.c is replaced by the stubs below, so the test owns the config
 * and sees every message the frontend sends to the parent or the logger.
 * The ssh workers are played by the test: at first none runs, so what is
 * sent to a host waits in fe_ssh.c and the test answers calls itself
 * through mcp_dispatch_ssh, naming the worker the reply comes from; later
 * a socket handed over as IMSG_SSH_PEER plays alpha's worker for real.
 * Calls that need an intent then leave at once for it, held with their
 * intent's token; the test plays the logger's answers (audit_ack) and
 * the worker's IMSG_SSH_DROPPED to check what the frontend does next.
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
#include "imsg.h"
#include "log.h"
#include "proc.h"
#include "fe_tools.h"
#include "tap.h"

#define NUL_REFUSED	"strings must not contain NUL (\\u0000)"

/* request ids are handed out from 1 up: the test looks calls up by them */
#define REQID_SCAN	4096

/* what the test's worker answers job_list with: one running job */
#define WORKER_JOBS	"{\"content\":[{\"type\":\"text\",\"text\":" \
	"\"job_1_x running\\n\"}],\"structuredContent\":{\"jobs\":[{" \
	"\"id\":1,\"job_id\":\"job_1_x\",\"host\":\"alpha\",\"state\":" \
	"\"running\",\"started\":1700000000}]}}"

struct tclient {
	int	 fd;
	char	 buf[1 << 16];
	size_t	 len;
	int	 eof;
	int	 nlogs;		/* notifications/message seen (skipped) */
	json_t	*lastlog;	/* the last one's params */
};

/* frontend.c stand-ins */
struct bridged_conf	*frontend_conf;
static int		 nrecords, ncallrecords, nsessrecords, nsessend;
static json_t		*last_call_record;
static int		 ncomposed;
static int		 shutting_down, ndrained, npushes;
/* IMSG_SSH_START, the parent's cue to start a host's worker */
static int		 nstarts;
static enum bridged_proc start_proc;
static size_t		 start_len;
static struct ssh_peer	 start_peer;
/* the last IMSG_LOG_INTENT_HELD: its call and token */
static uint32_t		 held_reqid;
static struct log_held	 held_lh;
static int		 nheld;

/*
 * proc.c's table of child mains names this one; fe_ssh.c needs proc.c
 * (proc_peer_io), so without it the real frontend.c would be linked in.
 */
void
frontend_main(struct proc_args *pa)
{
	abort();
}

int
frontend_compose(enum bridged_proc proc, uint32_t type, uint32_t peerid,
    int fd, const void *data, size_t len)
{
	ncomposed++;
	if (type == IMSG_LOG_INTENT_HELD && len >= sizeof(held_lh)) {
		nheld++;
		held_reqid = peerid;
		memcpy(&held_lh, data, sizeof(held_lh));
	}
	if (type == IMSG_SSH_START) {
		nstarts++;
		start_proc = proc;
		start_len = len;
		memset(&start_peer, 0, sizeof(start_peer));
		memcpy(&start_peer, data, len < sizeof(start_peer) ? len :
		    sizeof(start_peer));
	}
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

/* a read's intent, sent as a record (fe_audit.c): counted as one */
void
frontend_record_text(const char *s)
{
	json_t	*r;

	if ((r = json_loads(s, 0, NULL)) != NULL) {
		frontend_record(r);
		json_decref(r);
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

void
frontend_push(enum bridged_proc to)
{
}

/* an answer has gone out whole: the records behind it may follow */
void
frontend_push_records(void)
{
	npushes++;
}

/* helpers */

static json_t *
tool_named(json_t *tools, const char *name)
{
	json_t	*t;
	size_t	 i;

	json_array_foreach(tools, i, t)
		if (strcmp(json_string_value(json_object_get(t, "name")) ?: "",
		    name) == 0)
			return t;
	return NULL;
}

static int
tool_listed(json_t *tools, const char *name)
{
	return tool_named(tools, name) != NULL;
}

static const char *
tool_description_of(json_t *tools, const char *name)
{
	return json_string_value(json_object_get(tool_named(tools, name),
	    "description")) ?: "";
}

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
client_send(struct tclient *c, const char *data, size_t len)
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
client_sendline(struct tclient *c, const char *line)
{
	client_send(c, line, strlen(line));
	client_send(c, "\n", 1);
}

/* The next line the server sent, parsed; NULL on timeout or EOF. */
static json_t *
client_recv(struct tclient *c, int ms)
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
			/* log messages are counted, not answers */
			if (j != NULL && strcmp(json_string_value(
			    json_object_get(j, "method")) ?: "",
			    "notifications/message") == 0) {
				c->nlogs++;
				json_decref(c->lastlog);
				c->lastlog = json_incref(json_object_get(j,
				    "params"));
				json_decref(j);
				continue;
			}
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
rpc(struct tclient *c, const char *line)
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
nothing_before_ping(struct tclient *c, const char *idstr)
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
init_session(struct tclient *c, const char *version, char *got, size_t gotsz)
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

/* the text of a result's first content block, or "" */
static const char *
first_text(json_t *res)
{
	const char	*t;

	t = json_string_value(json_object_get(json_array_get(
	    json_object_get(res, "content"), 0), "text"));
	return t != NULL ? t : "";
}

/*
 * The call in flight whose JSON-RPC id is idjson, waiting up to ms for it
 * to arrive; NULL if none comes.
 */
static struct mcp_call *
wait_call(const char *idjson, int ms)
{
	struct mcp_call	*call, *found = NULL;
	json_t		*id;
	uint32_t	 reqid;
	int		 waited;

	if ((id = json_loads(idjson, JSON_DECODE_ANY, NULL)) == NULL)
		return NULL;
	for (waited = 0; found == NULL && waited <= ms; waited += 2) {
		pump(2);
		for (reqid = 1; reqid < REQID_SCAN; reqid++)
			if ((call = mcp_call_byreqid(reqid)) != NULL &&
			    json_equal(call->id, id))
				found = call;
	}
	json_decref(id);
	return found;
}

/* one message from a host's worker, as its socket would hand it over */
static int
worker_reply(const char *host, uint32_t type, uint32_t peerid,
    const void *data, size_t len)
{
	struct imsg	 imsg;
	uint8_t		*buf = NULL;
	int		 rv;

	memset(&imsg, 0, sizeof(imsg));
	imsg.hdr.type = type;
	imsg.hdr.len = len;
	imsg.hdr.peerid = peerid;
	imsg.fd = -1;
	if (len > 0) {
		/* imsg_get's convention: the data plus a NUL */
		if ((buf = malloc(len + 1)) == NULL)
			return -2;
		memcpy(buf, data, len);
		buf[len] = '\0';
	}
	imsg.data = buf;
	imsg.datalen = len;
	rv = mcp_dispatch_ssh(host, &imsg);
	free(buf);
	return rv;
}

/* a whole result: its JSON text in one chunk, then the end */
static int
worker_result(const char *host, uint32_t reqid, const char *json)
{
	if (worker_reply(host, IMSG_SSH_RESULT_DATA, reqid, json,
	    strlen(json)) == -1)
		return -1;
	return worker_reply(host, IMSG_SSH_RESULT, reqid, NULL, 0);
}

/* progress as sshcall_progress sends it: the message without its NUL */
static int
worker_progress(const char *host, uint32_t reqid, double progress,
    const char *msg)
{
	unsigned char		 buf[sizeof(struct ssh_progress) + 64];
	struct ssh_progress	 p;
	size_t			 len = msg != NULL ? strlen(msg) : 0;

	if (len > sizeof(buf) - sizeof(p))
		return -2;
	memset(&p, 0, sizeof(p));
	p.progress = progress;
	memcpy(buf, &p, sizeof(p));
	if (len > 0)
		memcpy(buf + sizeof(p), msg, len);
	return worker_reply(host, IMSG_SSH_PROGRESS, reqid, buf,
	    sizeof(p) + len);
}

/*
 * The next message the frontend sent down a worker's socket (the test's
 * end): 1 one taken, 0 none within ms, -1 the socket closed.
 */
static int
worker_next(struct imsgbuf *wb, struct imsg *m, int ms)
{
	ssize_t	 n;
	int	 waited;

	for (waited = 0; ; waited += 2) {
		if (imsg_get(wb, m) == 1)
			return 1;
		if (waited > ms)
			return 0;
		pump(2);
		if ((n = imsgbuf_read(wb)) == 0)
			return -1;
		if (n == -1 && errno != EAGAIN)
			return -1;
	}
}

/* the worker's end sends, and the frontend's dispatch runs */
static void
worker_send(struct imsgbuf *wb, uint32_t type, uint32_t peerid,
    const void *data, size_t len)
{
	imsg_compose(wb, type, peerid, 4242, -1, data, len);
	imsgbuf_flush(wb);
	pump(10);
}

/* job_list names no host: it goes to a worker, the default host's */
static void
send_job_list(struct tclient *c, const char *idjson, const char *meta)
{
	char	 line[512];

	snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":%s,"
	    "\"method\":\"tools/call\",\"params\":{\"name\":\"job_list\"%s%s}}",
	    idjson, meta != NULL ? ",\"_meta\":" : "",
	    meta != NULL ? meta : "");
	client_sendline(c, line);
}

/* a tools/call of tool with args (JSON text) */
static void
send_tool(struct tclient *c, const char *idjson, const char *tool,
    const char *args)
{
	char	 line[512];

	snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":%s,"
	    "\"method\":\"tools/call\",\"params\":{\"name\":\"%s\","
	    "\"arguments\":%s}}", idjson, tool, args);
	client_sendline(c, line);
}

/*
 * The worker's end: the next call down, its arguments first.  1 when it
 * came, with its request id and struct ssh_callreq.
 */
static int
call_next(struct imsgbuf *wb, uint32_t *reqid, struct ssh_callreq *req)
{
	struct imsg	 m;
	int		 good;

	good = worker_next(wb, &m, 1000) == 1 &&
	    m.hdr.type == IMSG_SSH_CALL_DATA;
	if (good)
		imsg_free(&m);
	good = good && worker_next(wb, &m, 1000) == 1 &&
	    m.hdr.type == IMSG_SSH_CALL && m.datalen == sizeof(*req);
	if (good) {
		*reqid = m.hdr.peerid;
		memcpy(req, m.data, sizeof(*req));
		imsg_free(&m);
	}
	return good;
}

/* the worker's end: 1 if the next message is type for reqid */
static int
worker_got(struct imsgbuf *wb, uint32_t type, uint32_t reqid)
{
	struct imsg	 m;
	int		 good;

	if (worker_next(wb, &m, 1000) != 1)
		return 0;
	good = m.hdr.type == type && m.hdr.peerid == reqid;
	imsg_free(&m);
	return good;
}

/* the logger's answer to call reqid's intent */
static void
log_ack(uint32_t reqid, int32_t status, const char *why)
{
	struct imsg	 imsg;
	char		 buf[sizeof(struct log_status) + 128];
	size_t		 n = strlen(why);

	memcpy(buf, &status, sizeof(status));
	memcpy(buf + sizeof(struct log_status), why, n);
	memset(&imsg, 0, sizeof(imsg));
	imsg.hdr.type = IMSG_LOG_ACK;
	imsg.hdr.peerid = reqid;
	imsg.data = (uint8_t *)buf;
	imsg.datalen = sizeof(struct log_status) + n;
	audit_ack(&imsg);
	pump(10);
}

#define WORKER_OK	"{\"content\":[{\"type\":\"text\",\"text\":" \
	"\"ran\"}]}"

/* the job the test's worker lists came through as the call's result */
static int
is_worker_jobs(json_t *res)
{
	json_t	*jobs;

	jobs = json_object_get(json_object_get(res, "structuredContent"),
	    "jobs");
	return res != NULL && !json_is_true(json_object_get(res, "isError")) &&
	    strncmp(first_text(res), "job_1_x  host ", 14) == 0 &&
	    json_array_size(jobs) == 1 && strcmp(json_string_value(
	    json_object_get(json_array_get(jobs, 0), "job_id")) ?: "",
	    "job_1_x") == 0;
}

/* the hosts tool, answered at once; NULL unless it was */
static json_t *
hosts_now(struct tclient *c, json_t **rp)
{
	json_t	*r;
	int	 before = ncomposed, inflight = mcp_inflight();

	client_sendline(c, "{\"jsonrpc\":\"2.0\",\"id\":\"h\",\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"hosts\"}}");
	/* nothing plays a worker here: any answer is the frontend's own */
	r = client_recv(c, 3000);
	*rp = r;
	if (r == NULL || ncomposed != before || mcp_inflight() != inflight)
		return NULL;
	return json_object_get(json_object_get(result(r),
	    "structuredContent"), "hosts");
}

/* a host's entry in the hosts tool's list */
static json_t *
host_entry(json_t *hosts, const char *name)
{
	size_t	 i;
	json_t	*o;

	json_array_foreach(hosts, i, o)
		if (strcmp(json_string_value(json_object_get(o, "name")) ?: "",
		    name) == 0)
			return o;
	return NULL;
}

static int
str_is(json_t *o, const char *key, const char *want)
{
	const char	*v = json_string_value(json_object_get(o, key));

	return v != NULL && strcmp(v, want) == 0;
}

/*
 * job_list takes no arguments, so the host helpers are reached with
 * none: the test slips its arguments into the call while it is in
 * flight at the worker, and runs the helpers on it.
 */
static void
hostcheck(struct tclient *c, const char *args, int iserror, const char *want,
    const char *desc)
{
	struct mcp_call	*call;
	struct host	*h;
	json_t		*r, *res;
	const char	*text;

	send_job_list(c, "\"hc\"", NULL);
	if ((call = wait_call("\"hc\"", 1000)) != NULL) {
		json_decref(call->args);
		call->args = json_loads(args, 0, NULL);
		if ((h = tool_host(call, call->args)) != NULL &&
		    tool_allow(call, h, json_integer_value(json_object_get(
		    call->args, "cap"))) == 0)
			mcp_call_text(call, 0, "allowed on %s", h->name);
	}
	r = client_recv(c, 3000);
	res = result(r);
	text = first_text(res);
	ok(call != NULL && r && json_is_true(json_object_get(res,
	    "isError")) == iserror && strcmp(text, want) == 0, "%s", desc);
	if (strcmp(text, want) != 0)
		printf("# got: %s\n", text);
	json_decref(r);
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
	struct tclient		 a, b, c, d, e, f;	/* at most 4 at once */
	struct host		*h;
	json_t			*r, *res, *tools, *t, *ann, *st, *hosts, *o;
	json_t			*txt, *sess;
	size_t			 i;
	int			 lfd, good, before, fd, nrec, sv[2], ncalls;
	int			 seen_cancel, seen_timeout, seen_eof, seen_beta;
	int			 seen_dropped, pushes;
	int			 seen_end;
	struct imsg		 imsg, m;
	struct imsgbuf		 wb;
	struct mcp_call		*call;
	struct ssh_peer		 sp;
	struct ssh_callreq	 req;
	struct host_state	 hs;
	uint32_t		 reqid, first_reqid, cancel_reqid;
	uint32_t		 timeout_reqid, eof_reqid, beta_reqid, lastcall;

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
	h->caps = CAP_READ | CAP_EXEC | CAP_DELEGATE;
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
	mcp_config_changed();	/* as frontend.c does with each config */
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
	ok(res && json_is_true(json_object_get(json_object_get(
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

	/*
	 * session limit is 4: the fifth is not a session; its initialize
	 * is answered with why, by its id, and it is closed
	 */
	memset(&d, 0, sizeof(d));
	d.fd = client_open(path);
	memset(&e, 0, sizeof(e));
	e.fd = client_open(path);
	pump(20);
	sess = mcp_sessions_json();
	ok(json_array_size(sess) == 4, "a client over the limit is no session");
	json_decref(sess);
	client_send(&e, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"}"
	    "\n\n{\"jsonrpc\":\"2.0\",\"id\":\"init-e\",", 77);
	pump(20);
	client_sendline(&e, "\"method\":\"initialize\",\"params\":{}}");
	r = client_recv(&e, 2000);
	ok(r && err_code(r) == -32000 && json_is_string(json_object_get(r,
	    "id")) && strcmp(json_string_value(json_object_get(r, "id")),
	    "init-e") == 0 && strncmp(err_msg(r), "session limit 4 reached "
	    "(limits { sessions })", 43) == 0 && json_is_true(json_object_get(
	    json_object_get(json_object_get(r, "error"), "data"), "closed")),
	    "over the limit: initialize (after a notification, in two "
	    "pieces) answered by its id: session limit 4 reached");
	json_decref(r);
	r = client_recv(&e, 1000);
	ok(r == NULL && e.eof, "session over the limit closed");
	close(e.fd);
	memset(&e, 0, sizeof(e));
	e.fd = client_open(path);
	r = rpc(&e, "{\"jsonrpc\":\"2.0\",\"id\":77,\"method\":\"ping\"}");
	ok(r && id_int(r, 77) && err_code(r) == -32000 &&
	    strstr(err_msg(r), "session limit") != NULL,
	    "over the limit: a ping is not served either");
	json_decref(r);
	close(e.fd);
	memset(&e, 0, sizeof(e));
	e.fd = client_open(path);
	r = client_recv(&e, 500);
	ok(r == NULL && !e.eof, "a silent client over the limit waits a "
	    "moment");
	r = client_recv(&e, 8000);
	ok(r && id_is_null(r) && strstr(err_msg(r), "session limit 4") &&
	    client_recv(&e, 1000) == NULL && e.eof,
	    "then it is told with id null and closed");
	json_decref(r);
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
	/* only what some host allows: alpha read, exec, delegate */
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":\"tl1\",\"method\":"
	    "\"tools/list\"}");
	tools = json_object_get(result(r), "tools");
	ok(tool_listed(tools, "hosts") && tool_listed(tools, "Bash") &&
	    tool_listed(tools, "Read") && tool_listed(tools, "Grep") &&
	    tool_listed(tools, "ask_claude") &&
	    tool_listed(tools, "job_status") &&
	    tool_listed(tools, "Download"), "tools/list: hosts and the read, "
	    "exec and delegate tools");
	ok(!tool_listed(tools, "Write") && !tool_listed(tools, "Edit") &&
	    !tool_listed(tools, "MultiEdit") && !tool_listed(tools, "Upload") &&
	    !tool_listed(tools, "forward_open") &&
	    !tool_listed(tools, "forward_list") &&
	    !tool_listed(tools, "forward_close"), "tools/list: no write or "
	    "forward tool, as no host allows them");
	good = 1;
	json_array_foreach(tools, i, t)
		if (strstr(json_string_value(json_object_get(t,
		    "description")) ?: "", "Unknown parameters are refused") ==
		    NULL)
			good = 0;
	ok(good, "every description says unknown parameters are refused");
	ok(strstr(tool_description_of(tools, "Read"), "(pages accepted and "
	    "ignored)") != NULL && strstr(tool_description_of(tools, "Bash"),
	    "(dangerouslyDisableSandbox accepted and ignored)") != NULL,
	    "Read and Bash say what they accept and ignore");
	json_decref(r);

	/* a reload that changes what the hosts allow */
	frontend_conf->hosts.tqh_first->caps = CAP_READ | CAP_DELEGATE;
	mcp_config_changed();
	r = client_recv(&a, 2000);
	ok(r && strcmp(json_string_value(json_object_get(r, "method")) ?: "",
	    "notifications/tools/list_changed") == 0 &&
	    json_object_get(r, "id") == NULL, "reload that drops exec: "
	    "notifications/tools/list_changed to the ready session");
	json_decref(r);
	ok(nothing_before_ping(&b, "lc-b") && nothing_before_ping(&d, "lc-d"),
	    "none to sessions not yet initialized");
	json_decref(rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":\"tl0\",\"method\":"
	    "\"tools/list\"}"));
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":\"tl2\",\"method\":"
	    "\"tools/list\"}");
	o = json_object_get(result(r), "tools");
	ok(!tool_listed(o, "Bash") && !tool_listed(o, "KillShell") &&
	    tool_listed(o, "Read") && tool_listed(o, "hosts"),
	    "tools/list after it: no exec tool");
	json_decref(r);
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":\"bx\",\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"Bash\",\"arguments\":"
	    "{\"command\":\"true\"}}}");
	ok(r && json_is_true(json_object_get(result(r), "isError")) &&
	    strcmp(first_text(result(r)), "Bash: no configured host allows "
	    "exec, so this tool is not offered; an operator would add "
	    "\"exec\" to a host's \"allow\" line in bridged.conf and run "
	    "bridgectl reload") == 0 && nstarts == 0,
	    "Bash called anyway: isError, no host allows exec");
	json_decref(r);
	mcp_config_changed();
	ok(nothing_before_ping(&a, "lc-same"), "a reload that changes no "
	    "capability: no notification");
	frontend_conf->hosts.tqh_first->caps = CAP_READ | CAP_EXEC |
	    CAP_DELEGATE;
	mcp_config_changed();
	r = client_recv(&a, 2000);
	ok(r && strcmp(json_string_value(json_object_get(r, "method")) ?: "",
	    "notifications/tools/list_changed") == 0, "exec back: told again");
	json_decref(r);
	json_decref(rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":\"tl3\",\"method\":"
	    "\"tools/list\"}"));

	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\","
	    "\"params\":{\"cursor\":\"abc\"}}");
	ok(r && err_code(r) == -32602 && strcmp(err_msg(r), "invalid cursor")
	    == 0, "tools/list with a cursor: -32602 invalid cursor");
	json_decref(r);

	/* tools/call hosts: from the config and what workers reported */
	before = ncallrecords;
	pushes = npushes;
	nrec = ncomposed;
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\","
	    "\"params\":{\"name\":\"hosts\",\"arguments\":{}}}");
	res = result(r);
	ok(r && id_int(r, 8) && res && !json_is_true(json_object_get(res,
	    "isError")), "hosts answered");
	ok(ncomposed == nrec && nstarts == 0,
	    "hosts answered without asking any process, no worker started");
	st = json_object_get(res, "structuredContent");
	hosts = json_object_get(st, "hosts");
	ok(json_array_size(hosts) == 2, "two hosts");
	o = json_array_get(hosts, 0);
	ok(o && str_is(o, "name", "alpha") && str_is(o, "address",
	    "192.0.2.1") && str_is(o, "user", "agent") && str_is(o,
	    "base_dir", "/srv/work") && json_integer_value(json_object_get(o,
	    "port")) == 22 && json_is_true(json_object_get(o, "default")),
	    "alpha: address, user, base_dir, port 22, the default");
	ok(o && str_is(o, "state", "idle") && json_is_null(json_object_get(o,
	    "worker_pid")) && json_is_integer(json_object_get(o,
	    "worker_restarts")) && json_integer_value(json_object_get(o,
	    "worker_restarts")) == 0 && json_is_null(json_object_get(o,
	    "since")) && json_is_null(json_object_get(o, "fingerprint")) &&
	    json_is_null(json_object_get(o, "last_error")),
	    "alpha: no worker: idle, worker_pid null, 0 restarts, no since, "
	    "fingerprint or error");
	ok(o && json_array_size(json_object_get(o, "capabilities")) == 3 &&
	    strcmp(json_string_value(json_array_get(json_object_get(o,
	    "capabilities"), 0)), "read") == 0 && strcmp(json_string_value(
	    json_array_get(json_object_get(o, "capabilities"), 1)), "exec") ==
	    0 && strcmp(json_string_value(json_array_get(json_object_get(o,
	    "capabilities"), 2)), "delegate") == 0,
	    "alpha: capabilities read, exec, delegate");
	o = json_array_get(hosts, 1);
	ok(o && str_is(o, "name", "beta") && str_is(o, "state", "idle") &&
	    json_is_null(json_object_get(o, "worker_pid")) &&
	    json_is_false(json_object_get(o, "default")) &&
	    json_array_size(json_object_get(o, "capabilities")) == 0 &&
	    json_integer_value(json_object_get(o, "port")) == 2222 &&
	    str_is(o, "address", "beta.example"),
	    "beta: idle, worker_pid null, not the default, no caps, port 2222");
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
	ok(npushes > pushes, "the answer written whole, the records queued "
	    "behind it are pushed (%d)", npushes - pushes);
	ok(mcp_inflight() == 0, "nothing in flight");

	/*
	 * job_list: no worker runs, so it goes to the default host's, which
	 * the parent is asked for; the call waits there for its answer.
	 */
	send_job_list(&a, "\"j1\"", NULL);
	call = wait_call("\"j1\"", 1000);
	ok(call != NULL && mcp_inflight() == 1, "job_list in flight");
	ok(nstarts == 1 && start_proc == PROC_PARENT &&
	    start_len == sizeof(struct ssh_peer) &&
	    strcmp(start_peer.host, "alpha") == 0,
	    "IMSG_SSH_START to the parent for the default host, alpha");
	ok(call != NULL && strcmp(call->worker, "alpha") == 0 &&
	    mcp_worker_busy("alpha") && !mcp_worker_busy("beta"),
	    "the call is alpha's worker's");
	first_reqid = call != NULL ? call->reqid : 0;
	hosts = hosts_now(&b, &r);
	o = host_entry(hosts, "alpha");
	ok(o && str_is(o, "state", "idle") && json_is_null(json_object_get(o,
	    "worker_pid")), "while it starts: hosts answered at once, alpha "
	    "still idle");
	json_decref(r);
	before = ncallrecords;
	ok(worker_result("alpha", first_reqid, WORKER_JOBS) == 0,
	    "alpha's worker answers it");
	r = client_recv(&a, 3000);
	ok(r && str_is(r, "id", "j1") &&
	    is_worker_jobs(result(r)), "job_list answered with the worker's "
	    "jobs and text");
	json_decref(r);
	ok(mcp_inflight() == 0 && !mcp_worker_busy("alpha") &&
	    ncallrecords == before + 1 && strcmp(json_string_value(
	    json_object_get(last_call_record, "outcome")) ?: "", "ok") == 0,
	    "nothing in flight, recorded ok");
	send_job_list(&a, "\"j2\"", NULL);
	call = wait_call("\"j2\"", 1000);
	ok(call != NULL && nstarts == 1, "a second call while it starts: "
	    "the parent is not asked again");
	ok(call != NULL && call->reqid != first_reqid &&
	    worker_result("alpha", call->reqid, WORKER_JOBS) == 0,
	    "answered too");
	r = client_recv(&a, 3000);
	ok(r && str_is(r, "id", "j2") && is_worker_jobs(result(r)),
	    "second job_list answered");
	json_decref(r);

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
	    "message too large: a line may be at most 1024 bytes (limits "
	    "{ line size } in bridged.conf)") == 0,
	    "oversized line of no JSON: -32600 message too large, id null");
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
	/* its id, read in passing: in the held prefix, or after the limit */
	client_send(&a, "{\"id\":\"big-a\",\"method\":\"ping\",\"p\":\"", 35);
	pump(10);
	for (i = 0; i < 4; i++) {
		client_send(&a, big, 700);
		pump(10);
	}
	client_sendline(&a, "\"}");
	r = client_recv(&a, 3000);
	ok(r && err_code(r) == -32600 && json_is_string(json_object_get(r,
	    "id")) && strcmp(json_string_value(json_object_get(r, "id")),
	    "big-a") == 0, "oversized line across reads: answered by its "
	    "string id");
	json_decref(r);
	client_send(&a, "{\"method\":\"ping\",\"p\":\"", 22);
	client_send(&a, big, 2000);
	client_sendline(&a, "\",\"id\":4242}");
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":34,\"method\":\"ping\"}");
	ok(r && err_code(r) == -32600 && id_int(r, 4242),
	    "oversized line, integer id after the huge member: found");
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

	/*
	 * progress: only increasing values go out, before the result, both
	 * from the worker (IMSG_SSH_PROGRESS) and from the frontend itself
	 */
	send_job_list(&a, "36", "{\"progressToken\":\"pt\"}");
	call = wait_call("36", 1000);
	reqid = call != NULL ? call->reqid : 0;
	good = call != NULL &&
	    worker_progress("alpha", reqid, 1, "one") == 0;
	if (call != NULL)
		mcp_notify_progress(call, 1, 0, "same again: dropped");
	good = good &&
	    worker_progress("alpha", reqid, 0.5, "backwards: dropped") == 0 &&
	    worker_progress("alpha", reqid, 2.5, NULL) == 0 &&
	    worker_result("alpha", reqid, WORKER_JOBS) == 0;
	ok(good, "progress and result from alpha's worker accepted");
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
	    "progress 2.5 without a message; the repeated and the smaller "
	    "value dropped");
	json_decref(r);
	r = client_recv(&a, 3000);
	ok(r && id_int(r, 36) && is_worker_jobs(result(r)),
	    "then the result");
	json_decref(r);
	send_job_list(&a, "37", NULL);
	call = wait_call("37", 1000);
	reqid = call != NULL ? call->reqid : 0;
	ok(call != NULL && worker_progress("alpha", reqid, 1, "unasked") ==
	    0 && worker_result("alpha", reqid, WORKER_JOBS) == 0,
	    "progress for a call without a token: not an error");
	r = client_recv(&a, 3000);
	ok(r && id_int(r, 37), "no progress without a progressToken");
	json_decref(r);

	/* the host helpers, driven through a call's own arguments */
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
	ok(a.nlogs > 0 && strcmp(json_string_value(json_object_get(a.lastlog,
	    "level")) ?: "", "warning") == 0 && strstr(json_string_value(
	    json_object_get(a.lastlog, "data")) ?: "", "refused: host "
	    "\"alpha\" does not allow write") != NULL,
	    "the refusal is a warning message too");
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

	/* cancellation: the worker never answers, the client cancels */
	send_job_list(&a, "\"c1\"", "{\"progressToken\":\"tok\"}");
	call = wait_call("\"c1\"", 1000);
	ok(call != NULL && mcp_inflight() == 1, "call in flight");
	cancel_reqid = call != NULL ? call->reqid : 0;
	r = rpc(&a, "{\"jsonrpc\":\"2.0\",\"id\":\"c1\",\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"job_list\"}}");
	ok(r && err_code(r) == -32600 && strstr(err_msg(r), "in flight"),
	    "same id while in flight: -32600");
	json_decref(r);
	before = ncallrecords;
	client_sendline(&a, "{\"jsonrpc\":\"2.0\",\"method\":"
	    "\"notifications/cancelled\",\"params\":{\"requestId\":\"c1\","
	    "\"reason\":\"user\"}}");
	pump(20);
	ok(mcp_inflight() == 0 && mcp_call_byreqid(cancel_reqid) == NULL &&
	    !mcp_worker_busy("alpha"), "cancelled call freed");
	ok(ncallrecords == before + 1 && strcmp(json_string_value(
	    json_object_get(last_call_record, "outcome")), "cancelled") == 0,
	    "recorded as cancelled");
	/* a late reply for it is dropped: no error, no answer */
	ok(worker_progress("alpha", cancel_reqid, 1, "late") == 0 &&
	    worker_result("alpha", cancel_reqid, WORKER_JOBS) == 0,
	    "a late reply from its worker is no error");
	ok(nothing_before_ping(&a, "p4"), "cancelled call never answered");

	/* timeout: the call was at a worker, so the host is named */
	client_sendline(&a, "{\"jsonrpc\":\"2.0\",\"id\":40,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"job_list\"}}");
	call = wait_call("40", 1000);
	timeout_reqid = call != NULL ? call->reqid : 0;
	r = client_recv(&a, 3000);
	res = result(r);
	ok(call != NULL && r && id_int(r, 40) && json_is_true(
	    json_object_get(res, "isError")) && strstr(first_text(res),
	    /* the seconds it took: 1, or more on a loaded machine */
	    "job_list: host \"alpha\" is not responding: no answer within "
	    ) != NULL, "silent worker: host \"alpha\" not responding "
	    "after its timeout of 1 s");
	json_decref(r);
	ok(strcmp(json_string_value(json_object_get(last_call_record,
	    "outcome")), "timeout") == 0 && !mcp_worker_busy("alpha"),
	    "recorded as timeout");

	/*
	 * Two calls at a silent worker: the one that times out first names
	 * the other in progress, which it may have been behind (a worker
	 * in a blocking section looks as silent as a frozen host); the
	 * last names none.  Which goes first is the timer heap's to say.
	 */
	client_sendline(&a, "{\"jsonrpc\":\"2.0\",\"id\":41,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"job_list\"}}");
	client_sendline(&a, "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"job_list\"}}");
	{
		int	 behind = 0, alone = 0, k;

		for (k = 0; k < 2; k++) {
			r = client_recv(&a, 4000);
			res = result(r);
			if (r != NULL && json_is_true(json_object_get(res,
			    "isError")) && strstr(first_text(res),
			    "is not responding: no answer within ") != NULL) {
				if (strstr(first_text(res), "s, with 1 other "
				    "call to it in progress, the oldest being "
				    "a job_list of this session, started ") !=
				    NULL && strstr(first_text(res), " s ago "
				    "(its ssh worker runs small file requests "
				    "one at a time") != NULL)
					behind++;
				else if (strstr(first_text(res), "other call")
				    == NULL)
					alone++;
			}
			json_decref(r);
		}
		ok(behind == 1 && alone == 1, "two silent calls: the first "
		    "to time out names the 1 other in progress at its host, "
		    "the last none");
	}
	ok(!mcp_worker_busy("alpha"), "both gone");
	/* another agent's call is counted, its tool not named */
	client_sendline(&a, "{\"jsonrpc\":\"2.0\",\"id\":43,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"job_list\"}}");
	client_sendline(&b, "{\"jsonrpc\":\"2.0\",\"id\":44,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"job_list\"}}");
	{
		int	 other = 0, alone = 0, k;

		for (k = 0; k < 2; k++) {
			/* b may have had notifications: its answer is by id */
			do {
				r = client_recv(k == 0 ? &a : &b, 4000);
			} while (r != NULL && json_object_get(r, "id") ==
			    NULL && (json_decref(r), 1));
			res = result(r);
			if (r != NULL && strstr(first_text(res),
			    "is not responding: no answer within ") != NULL) {
				if (strstr(first_text(res), "with 1 other call "
				    "to it in progress, the oldest being "
				    "another session's, started ") != NULL &&
				    strstr(first_text(res), "job_list of") ==
				    NULL)
					other++;
				else if (strstr(first_text(res), "other call")
				    == NULL)
					alone++;
			}
			json_decref(r);
		}
		ok(other == 1 && alone == 1, "two sessions' calls at a silent "
		    "worker: the first to time out counts the other session's "
		    "without naming its tool");
	}
	ok(!mcp_worker_busy("alpha"), "both gone");

	/*
	 * A call's reply is taken only from the worker it was sent to; what
	 * a worker may not send at all is refused too.
	 */
	send_job_list(&a, "41", NULL);
	call = wait_call("41", 1000);
	reqid = call != NULL ? call->reqid : 0;
	ok(call != NULL && strcmp(call->worker, "alpha") == 0,
	    "a call at alpha's worker");
	ok(worker_reply("beta", IMSG_SSH_RESULT_DATA, reqid, WORKER_JOBS,
	    strlen(WORKER_JOBS)) == -1, "a result chunk from beta's worker "
	    "for it: -1");
	ok(worker_reply("beta", IMSG_SSH_RESULT, reqid, NULL, 0) == -1,
	    "the result's end from beta's worker: -1");
	ok(worker_progress("beta", reqid, 1, "from beta") == -1,
	    "progress from beta's worker: -1");
	ok(worker_reply("alpha", IMSG_SSH_RESULT, reqid, "x", 1) == -1,
	    "a result end with data: -1");
	ok(worker_reply("alpha", IMSG_SSH_RESULT_DATA, reqid, NULL, 0) == -1,
	    "an empty result chunk: -1");
	ok(worker_reply("alpha", IMSG_SSH_PROGRESS, reqid, "ab", 2) == -1,
	    "progress shorter than struct ssh_progress: -1");
	ok(worker_reply("alpha", IMSG_SSH_END, reqid, NULL, 0) == -1,
	    "IMSG_SSH_END (bridgectl's) for an MCP call: -1");
	ok(worker_reply("alpha", IMSG_SSH_CALL, reqid, NULL, 0) == -1,
	    "a message only the frontend sends: -1");
	ok(mcp_inflight() == 1 && mcp_call_byreqid(reqid) == call &&
	    mcp_worker_busy("alpha"), "the call is still in flight");
	ok(nothing_before_ping(&a, "pw"), "and unanswered");
	ok(worker_result("alpha", reqid, WORKER_JOBS) == 0,
	    "its own worker's reply is taken");
	r = client_recv(&a, 3000);
	ok(r && id_int(r, 41) && is_worker_jobs(result(r)), "answered with "
	    "alpha's result alone: nothing of beta's kept");
	json_decref(r);

	/* a worker that dies takes its own host's calls, no other's */
	send_job_list(&a, "42", NULL);
	call = wait_call("42", 1000);
	reqid = call != NULL ? call->reqid : 0;
	ok(call != NULL, "a call at alpha's worker");
	mcp_worker_gone("beta", "beta's worker died");
	ok(mcp_inflight() == 1 && mcp_call_byreqid(reqid) != NULL &&
	    nothing_before_ping(&a, "pg"), "beta's worker gone: alpha's call "
	    "untouched");
	before = ncallrecords;
	mcp_worker_gone("alpha", "why");
	r = client_recv(&a, 3000);
	res = result(r);
	ok(r && id_int(r, 42) && json_is_true(json_object_get(res,
	    "isError")) && strstr(first_text(res), "why") != NULL,
	    "alpha's worker gone: its call answered isError, saying why");
	if (strstr(first_text(res), "why") == NULL)
		printf("# got: %s\n", first_text(res));
	json_decref(r);
	ok(mcp_inflight() == 0 && !mcp_worker_busy("alpha") &&
	    ncallrecords == before + 1 && strcmp(json_string_value(
	    json_object_get(last_call_record, "outcome")) ?: "", "error") == 0,
	    "nothing in flight, recorded as error");
	ok(worker_result("alpha", reqid, WORKER_JOBS) == 0 &&
	    nothing_before_ping(&a, "pg2"), "a reply after that is dropped");

	/*
	 * The default host decides where job_list goes: with beta the
	 * default, beta's worker is asked for and only it may answer.
	 */
	strlcpy(frontend_conf->default_host, "beta",
	    sizeof(frontend_conf->default_host));
	before = nstarts;
	send_job_list(&a, "43", NULL);
	call = wait_call("43", 1000);
	reqid = call != NULL ? call->reqid : 0;
	ok(call != NULL && nstarts == before + 1 && start_proc ==
	    PROC_PARENT && start_len == sizeof(struct ssh_peer) &&
	    strcmp(start_peer.host, "beta") == 0, "default host beta: "
	    "IMSG_SSH_START for beta");
	beta_reqid = reqid;
	ok(call != NULL && strcmp(call->worker, "beta") == 0 &&
	    mcp_worker_busy("beta") && !mcp_worker_busy("alpha"),
	    "the call is beta's worker's");
	ok(worker_result("alpha", reqid, WORKER_JOBS) == -1 &&
	    mcp_call_byreqid(reqid) != NULL, "alpha's worker may not answer "
	    "it");
	ok(worker_result("beta", reqid, WORKER_JOBS) == 0, "beta's may");
	r = client_recv(&a, 3000);
	ok(r && id_int(r, 43) && is_worker_jobs(result(r)),
	    "answered from beta's worker");
	json_decref(r);

	/* beta's worker will not start: its calls fail, hosts says why */
	before = nstarts;
	send_job_list(&a, "44", NULL);
	call = wait_call("44", 1000);
	ok(call != NULL && nstarts == before, "beta still starting: not "
	    "asked again");
	memset(&imsg, 0, sizeof(imsg));
	imsg.hdr.type = IMSG_SSH_STARTFAIL;
	imsg.fd = -1;
	big = malloc(sizeof(struct ssh_peer) + 32);
	memset(big, 0, sizeof(struct ssh_peer));
	strlcpy(((struct ssh_peer *)big)->host, "beta",
	    sizeof(((struct ssh_peer *)big)->host));
	memcpy(big + sizeof(struct ssh_peer), "no route to beta", 16);
	imsg.data = (uint8_t *)big;
	imsg.datalen = sizeof(struct ssh_peer) + 16;
	fe_ssh_startfail(&imsg);
	free(big);
	r = client_recv(&a, 3000);
	res = result(r);
	ok(r && id_int(r, 44) && json_is_true(json_object_get(res,
	    "isError")) && strcmp(first_text(res), "job_list: no route to "
	    "beta") == 0, "beta's worker could not start: its call told why");
	json_decref(r);
	hosts = hosts_now(&a, &r);
	o = host_entry(hosts, "beta");
	ok(o && str_is(o, "state", "failed") && str_is(o, "last_error",
	    "no route to beta") && json_is_null(json_object_get(o,
	    "worker_pid")), "hosts: beta failed, with the reason");
	o = host_entry(hosts, "alpha");
	ok(o && str_is(o, "state", "idle"), "alpha unaffected");
	json_decref(r);
	before = nstarts;
	send_job_list(&a, "45", NULL);
	call = wait_call("45", 1000);
	reqid = call != NULL ? call->reqid : 0;
	ok(call != NULL && nstarts == before + 1 &&
	    strcmp(start_peer.host, "beta") == 0, "the next call asks for "
	    "beta's worker again");
	ok(worker_result("beta", reqid, WORKER_JOBS) == 0, "and is answered");
	r = client_recv(&a, 3000);
	ok(r && id_int(r, 45), "by beta's worker");
	json_decref(r);
	strlcpy(frontend_conf->default_host, "alpha",
	    sizeof(frontend_conf->default_host));

	/*
	 * A client that goes away altogether with a call in flight: the
	 * session ends at once and the call is cancelled (its remote work
	 * killed), not left to run to its timeout.
	 */
	close(d.fd);		/* room for one more session */
	pump(20);
	memset(&f, 0, sizeof(f));
	f.fd = client_open(path);
	ok(init_session(&f, "2025-11-25", got, sizeof(got)),
	    "one more session");
	send_job_list(&f, "7", NULL);
	call = wait_call("7", 1000);
	ok(call != NULL && mcp_inflight() == 1, "call in flight on it");
	reqid = call != NULL ? call->reqid : 0;
	before = ncallrecords;
	close(f.fd);
	pump(20);
	sess = mcp_sessions_json();
	ok(mcp_inflight() == 0 && mcp_call_byreqid(reqid) == NULL &&
	    json_array_size(sess) == 3 && ncallrecords == before + 1 &&
	    strcmp(json_string_value(json_object_get(last_call_record,
	    "outcome")) ?: "", "cancelled") == 0,
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
	send_job_list(&c, "1", NULL);
	call = wait_call("1", 1000);
	ok(call != NULL && mcp_inflight() == 1, "call in flight on session 3");
	eof_reqid = call != NULL ? call->reqid : 0;
	shutting_down = 1;
	before = ndrained;
	shutdown(c.fd, SHUT_WR);
	pump(20);
	sess = mcp_sessions_json();
	ok(mcp_inflight() == 1 && json_array_size(sess) == 4,
	    "after a half-close the session waits for its call");
	json_decref(sess);
	r = rpc(&b, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\","
	    "\"params\":{\"name\":\"job_list\"}}");
	ok(r && json_is_true(json_object_get(result(r), "isError")) &&
	    strstr(first_text(result(r)), "shutting down") != NULL &&
	    mcp_inflight() == 1, "no new calls while shutting down");
	json_decref(r);
	pump(1500);
	sess = mcp_sessions_json();
	ok(mcp_inflight() == 0 && ndrained > before &&
	    json_array_size(sess) == 3,
	    "call timed out, drain checked, session gone");
	json_decref(sess);
	close(c.fd);
	shutting_down = 0;

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

	/*
	 * alpha's worker comes up: the parent hands over its socket.  What
	 * waited for it goes down in order, and from then on a call goes
	 * there at once; its replies come through fe_ssh.c's dispatch.
	 */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return 1;
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	memset(&sp, 0, sizeof(sp));
	strlcpy(sp.host, "alpha", sizeof(sp.host));
	sp.pid = 4242;
	sp.restarts = 3;
	memset(&imsg, 0, sizeof(imsg));
	imsg.hdr.type = IMSG_SSH_PEER;
	imsg.fd = sv[0];
	imsg.data = (uint8_t *)&sp;
	imsg.datalen = sizeof(sp);
	before = nstarts;
	fe_ssh_peer(&imsg);
	ok(imsg.fd == -1 && fe_ssh_running("alpha") &&
	    !fe_ssh_running("beta"), "IMSG_SSH_PEER: alpha's worker runs");
	imsgbuf_init(&wb, sv[1]);
	good = worker_next(&wb, &m, 1000) == 1 &&
	    m.hdr.type == IMSG_SSH_CALL_DATA && m.hdr.peerid == first_reqid &&
	    m.datalen == 2 && memcmp(m.data, "{}", 2) == 0;
	if (good)
		imsg_free(&m);
	good = good && worker_next(&wb, &m, 1000) == 1 &&
	    m.hdr.type == IMSG_SSH_CALL && m.hdr.peerid == first_reqid &&
	    m.datalen == sizeof(req);
	if (good) {
		memcpy(&req, m.data, sizeof(req));
		imsg_free(&m);
	}
	ok(good && strcmp(req.tool, "job_list") == 0 && req.argslen == 2 &&
	    req.flags == 0 && req.sessid == 1, "the first queued call goes "
	    "down first: its arguments, then the call (job_list, session 1, "
	    "with the finished jobs)");
	/* the rest of the queue: calls in order, cancels after their call */
	ncalls = 0;
	good = 1;
	lastcall = first_reqid;
	seen_cancel = seen_timeout = seen_eof = seen_beta = seen_end = 0;
	seen_dropped = 0;
	while (worker_next(&wb, &m, 200) == 1) {
		if (m.hdr.type == IMSG_SSH_CALL) {
			if (m.hdr.peerid <= lastcall)
				good = 0;
			lastcall = m.hdr.peerid;
			ncalls++;
		} else if (m.hdr.type == IMSG_SSH_CANCEL) {
			if (m.hdr.peerid == cancel_reqid &&
			    lastcall >= cancel_reqid)
				seen_cancel++;
			if (m.hdr.peerid == timeout_reqid &&
			    lastcall >= timeout_reqid)
				seen_timeout++;
			if (m.hdr.peerid == eof_reqid && lastcall >= eof_reqid)
				seen_eof++;
		} else if (m.hdr.type == IMSG_SSH_SESSION_END)
			seen_end++;
		if (m.hdr.peerid == beta_reqid)
			seen_beta++;
		if (m.hdr.peerid == cancel_reqid ||
		    m.hdr.peerid == timeout_reqid || m.hdr.peerid == eof_reqid)
			seen_dropped++;
		imsg_free(&m);
	}
	ok(good && ncalls >= 8, "then every later call sent to alpha, in "
	    "order (%d)", ncalls);
	ok(seen_cancel == 0 && seen_timeout == 0 && seen_eof == 0 &&
	    seen_dropped == 0, "a call cancelled or timed out while queued "
	    "never goes down, nor does its cancel");
	ok(seen_end > 0, "IMSG_SSH_SESSION_END for the sessions that ended");
	ok(seen_beta == 0, "nothing of beta's queue");
	ok(nstarts == before, "no IMSG_SSH_START for a worker that runs");

	hosts = hosts_now(&a, &r);
	o = host_entry(hosts, "alpha");
	ok(o && json_integer_value(json_object_get(o, "worker_pid")) ==
	    4242 && json_integer_value(json_object_get(o,
	    "worker_restarts")) == 3 && str_is(o, "state", "disconnected"),
	    "hosts: alpha's worker pid and restarts; no state reported yet");
	json_decref(r);
	memset(&hs, 0, sizeof(hs));
	hs.hostid = 1;
	hs.state = HOST_CONNECTED;
	hs.since = 1700000000;
	strlcpy(hs.fingerprint, "SHA256:abcdef", sizeof(hs.fingerprint));
	worker_send(&wb, IMSG_SSH_HOSTSTATE, 0, &hs, sizeof(hs));
	hosts = hosts_now(&a, &r);
	o = host_entry(hosts, "alpha");
	ok(o && str_is(o, "state", "connected") && json_integer_value(
	    json_object_get(o, "since")) == 1700000000 && str_is(o,
	    "fingerprint", "SHA256:abcdef") && json_is_null(json_object_get(o,
	    "last_error")) && json_integer_value(json_object_get(o,
	    "worker_pid")) == 4242, "the state alpha's worker pushed: "
	    "connected, since, fingerprint");
	o = host_entry(hosts, "beta");
	ok(o && str_is(o, "state", "failed"), "beta's own state kept");
	json_decref(r);

	/* a call now goes down at once; the answer comes up the socket */
	send_job_list(&a, "46", NULL);
	good = worker_next(&wb, &m, 1000) == 1 &&
	    m.hdr.type == IMSG_SSH_CALL_DATA;
	if (good)
		imsg_free(&m);
	good = good && worker_next(&wb, &m, 1000) == 1 &&
	    m.hdr.type == IMSG_SSH_CALL;
	reqid = good ? m.hdr.peerid : 0;
	if (good)
		imsg_free(&m);
	ok(good && (call = mcp_call_byreqid(reqid)) != NULL &&
	    json_integer_value(call->id) == 46,
	    "job_list sent straight to the running worker");
	worker_send(&wb, IMSG_SSH_RESULT_DATA, reqid, WORKER_JOBS,
	    strlen(WORKER_JOBS));
	worker_send(&wb, IMSG_SSH_RESULT, reqid, NULL, 0);
	r = client_recv(&a, 3000);
	ok(r && id_int(r, 46) && is_worker_jobs(result(r)),
	    "answered through the worker's socket");
	json_decref(r);

	/*
	 * A call that needs an intent leaves with it: the intent to the
	 * logger naming alpha and a token, the call down at once with
	 * CALL_HELD and the same token.  A positive ack sends the worker
	 * nothing (the logger tells it); the answer is the worker's.
	 */
	before = nheld;
	send_tool(&a, "60", "Bash", "{\"command\":\"true\"}");
	good = call_next(&wb, &reqid, &req);
	ok(good && nheld == before + 1 && held_reqid == reqid &&
	    strcmp(held_lh.host, "alpha") == 0 && (req.flags & CALL_HELD) &&
	    req.token == held_lh.token && held_lh.token != 0,
	    "a Bash call leaves with its intent: held at the running worker, "
	    "the intent naming it and the call's token");
	log_ack(reqid, 0, "");
	ok(worker_next(&wb, &m, 50) == 0 && client_recv(&a, 20) == NULL,
	    "its intent durable: nothing more to the worker, no answer yet");
	worker_send(&wb, IMSG_SSH_RESULT_DATA, reqid, WORKER_OK,
	    strlen(WORKER_OK));
	worker_send(&wb, IMSG_SSH_RESULT, reqid, NULL, 0);
	r = client_recv(&a, 3000);
	ok(r && id_int(r, 60) && strcmp(first_text(result(r)), "ran") == 0,
	    "the worker's answer is the call's");
	json_decref(r);

	/* refused intent: asked back first, refused once it never ran */
	send_tool(&a, "61", "Bash", "{\"command\":\"touch x\"}");
	good = call_next(&wb, &reqid, &req);
	log_ack(reqid, -1, "disk full");
	ok(good && worker_got(&wb, IMSG_SSH_DROP, reqid) &&
	    client_recv(&a, 20) == NULL, "a refused intent: the held call is "
	    "asked back (IMSG_SSH_DROP), not yet answered");
	worker_send(&wb, IMSG_SSH_DROPPED, reqid, "let go", 6);
	r = client_recv(&a, 3000);
	res = result(r);
	ok(r && id_int(r, 61) && json_is_true(json_object_get(res,
	    "isError")) && strstr(first_text(res), "audit unavailable: disk "
	    "full") != NULL && worker_next(&wb, &m, 50) == 0,
	    "dropped by the worker: refused with the logger's reason, once");
	json_decref(r);

	/* ... unless the worker had started it: its answer stands */
	send_tool(&a, "62", "Bash", "{\"command\":\"true\"}");
	good = call_next(&wb, &reqid, &req);
	log_ack(reqid, -1, "disk full");
	good = good && worker_got(&wb, IMSG_SSH_DROP, reqid);
	worker_send(&wb, IMSG_SSH_RESULT_DATA, reqid, WORKER_OK,
	    strlen(WORKER_OK));
	worker_send(&wb, IMSG_SSH_RESULT, reqid, NULL, 0);
	r = client_recv(&a, 3000);
	ok(good && r && id_int(r, 62) && strcmp(first_text(result(r)),
	    "ran") == 0, "asked back after it started: the worker's answer "
	    "stands (no refusal for a call that ran)");
	json_decref(r);

	/*
	 * A read does not wait for its intent (it would go on unaudited
	 * without a logger): sent at once, unheld, its intent a record
	 */
	before = nrecords;
	send_tool(&a, "63", "Read", "{\"file_path\":\"/srv/work/f\"}");
	good = call_next(&wb, &reqid, &req) && (req.flags & CALL_HELD) == 0;
	ok(good && nrecords == before + 1 && last_call_record != NULL &&
	    strcmp(json_string_value(json_object_get(last_call_record,
	    "event")) ?: "", "intent") == 0, "a Read goes at once, unheld, "
	    "its intent sent as a record");
	worker_send(&wb, IMSG_SSH_RESULT_DATA, reqid, WORKER_OK,
	    strlen(WORKER_OK));
	worker_send(&wb, IMSG_SSH_RESULT, reqid, NULL, 0);
	r = client_recv(&a, 3000);
	ok(r && id_int(r, 63) && strcmp(first_text(result(r)), "ran") == 0,
	    "and answered (reads go on)");
	json_decref(r);

	/* durable, but the worker was not told: asked back, sent again */
	send_tool(&a, "64", "Bash", "{\"command\":\"true\"}");
	good = call_next(&wb, &reqid, &req);
	log_ack(reqid, LOG_DURABLE_UNTOLD, "");
	good = good && worker_got(&wb, IMSG_SSH_DROP, reqid);
	worker_send(&wb, IMSG_SSH_DROPPED, reqid, "let go", 6);
	first_reqid = reqid;
	good = good && call_next(&wb, &reqid, &req) && reqid == first_reqid &&
	    (req.flags & CALL_HELD) == 0;
	ok(good, "durable but its worker untold: asked back, then sent "
	    "unheld");
	worker_send(&wb, IMSG_SSH_RESULT_DATA, reqid, WORKER_OK,
	    strlen(WORKER_OK));
	worker_send(&wb, IMSG_SSH_RESULT, reqid, NULL, 0);
	r = client_recv(&a, 3000);
	ok(r && id_int(r, 64) && strcmp(first_text(result(r)), "ran") == 0,
	    "and answered");
	json_decref(r);

	/* the logger dies with the intent unanswered */
	send_tool(&a, "65", "Bash", "{\"command\":\"touch y\"}");
	good = call_next(&wb, &reqid, &req);
	audit_logger_down();
	pump(10);
	good = good && worker_got(&wb, IMSG_SSH_DROP, reqid);
	worker_send(&wb, IMSG_SSH_DROPPED, reqid, "let go", 6);
	r = client_recv(&a, 3000);
	res = result(r);
	ok(good && r && id_int(r, 65) && json_is_true(json_object_get(res,
	    "isError")) && strstr(first_text(res), "logger died") != NULL,
	    "the logger gone: asked back, then refused");
	json_decref(r);

	/* the worker lets a held call go by itself: refused with its why */
	send_tool(&a, "66", "Bash", "{\"command\":\"touch z\"}");
	good = call_next(&wb, &reqid, &req);
	worker_send(&wb, IMSG_SSH_DROPPED, reqid, "held too long", 13);
	r = client_recv(&a, 3000);
	res = result(r);
	ok(good && r && id_int(r, 66) && json_is_true(json_object_get(res,
	    "isError")) && strstr(first_text(res), "audit unavailable: held "
	    "too long") != NULL, "dropped by the worker unasked: refused "
	    "with its reason");
	json_decref(r);
	log_ack(reqid, 0, "");
	ok(worker_next(&wb, &m, 50) == 0 && client_recv(&a, 20) == NULL,
	    "its late ack changes nothing");

	/* a message it may not send costs the worker its socket, and calls */
	send_job_list(&a, "47", NULL);
	good = worker_next(&wb, &m, 1000) == 1;
	if (good)
		imsg_free(&m);
	good = good && worker_next(&wb, &m, 1000) == 1 &&
	    m.hdr.type == IMSG_SSH_CALL;
	reqid = good ? m.hdr.peerid : 0;
	if (good)
		imsg_free(&m);
	ok(good && mcp_inflight() == 1, "a call at the worker");
	worker_send(&wb, IMSG_SSH_END, reqid, NULL, 0);
	r = client_recv(&a, 3000);
	res = result(r);
	ok(r && id_int(r, 47) && json_is_true(json_object_get(res,
	    "isError")) && strstr(first_text(res), "host \"alpha\" was lost")
	    != NULL, "bridgectl's IMSG_SSH_END for an MCP call: the worker "
	    "is dropped, its call told the host was lost");
	json_decref(r);
	ok(worker_next(&wb, &m, 200) == -1, "its socket closed");
	ok(!fe_ssh_running("alpha"), "alpha's worker no longer runs");
	hosts = hosts_now(&a, &r);
	o = host_entry(hosts, "alpha");
	ok(o && str_is(o, "state", "idle") && json_is_null(json_object_get(o,
	    "worker_pid")) && json_is_null(json_object_get(o, "fingerprint")),
	    "hosts: alpha idle again, its old state gone");
	json_decref(r);
	imsgbuf_clear(&wb);
	close(sv[1]);

	/* a call in flight dies with its session, unanswered */
	before = nstarts;
	send_job_list(&b, "3", NULL);
	call = wait_call("3", 1000);
	ok(call != NULL && mcp_inflight() == 1, "call in flight on session 2");
	ok(nstarts == before + 1 && strcmp(start_peer.host, "alpha") == 0,
	    "alpha's worker asked for again");

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
