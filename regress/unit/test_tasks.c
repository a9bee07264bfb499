/*
 * test_tasks.c: the 2026-07-28 half of fe_tasks.c (the
 * io.modelcontextprotocol/tasks extension), driven by calling its
 * handlers with the 2026 era on a real session, as the 2026 request
 * handling of fe_jsonrpc.c will; the 2025-11-25 half is t-tasks.sh's.
 * frontend.c is replaced by stubs; the test plays the ssh worker by
 * answering calls through mcp_dispatch_ssh, as test_mcp.c does.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
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
#include "fe_mcp.h"
#include "fe_tools.h"
#include "fe_tasks.h"
#include "tap.h"

#define CAPS	"{\"io.modelcontextprotocol/clientCapabilities\":" \
	"{\"extensions\":{\"io.modelcontextprotocol/tasks\":{}}}}"

struct tclient {
	int	 fd;
	char	 buf[1 << 16];
	size_t	 len;
	int	 eof;
};

struct bridged_conf	*frontend_conf;
static int		 ntaskrecords;

void
frontend_main(struct proc_args *pa)
{
	abort();
}

int
frontend_compose(enum bridged_proc proc, uint32_t type, uint32_t peerid,
    int fd, const void *data, size_t len)
{
	return 0;
}

void
frontend_record(json_t *r)
{
	if (strcmp(json_string_value(json_object_get(r, "type")) ?: "",
	    "task") == 0)
		ntaskrecords++;
}

void
frontend_record_text(const char *s)
{
}

void
frontend_check_drained(void)
{
}

int
frontend_shutting_down(void)
{
	return 0;
}

void
frontend_push(enum bridged_proc to)
{
}

void
frontend_push_records(void)
{
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
J(const char *text)
{
	json_t	*j;

	if ((j = json_loads(text, 0, NULL)) == NULL)
		abort();
	return j;
}

static const char *
S(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k)) ?: "";
}

static int
err_code(json_t *r)
{
	return json_integer_value(json_object_get(json_object_get(r, "error"),
	    "code"));
}

/* the newest call in flight of this tool, 0 when there is none */
static uint32_t
find_call(const char *tool)
{
	struct mcp_call	*call;
	uint32_t	 reqid, found = 0;

	pump(10);
	for (reqid = 1; reqid < 4096; reqid++)
		if ((call = mcp_call_byreqid(reqid)) != NULL &&
		    strcmp(call->tool->name, tool) == 0)
			found = reqid;
	return found;
}

static int
worker_result(const char *host, uint32_t reqid, const char *json)
{
	struct imsg	 imsg;
	char		*buf;
	int		 rv;

	memset(&imsg, 0, sizeof(imsg));
	imsg.hdr.type = IMSG_SSH_RESULT_DATA;
	imsg.hdr.peerid = reqid;
	imsg.fd = -1;
	if ((buf = strdup(json)) == NULL)
		return -1;
	imsg.data = (uint8_t *)buf;
	imsg.datalen = strlen(json);
	rv = mcp_dispatch_ssh(host, &imsg);
	free(buf);
	if (rv == -1)
		return -1;
	imsg.hdr.type = IMSG_SSH_RESULT;
	imsg.data = NULL;
	imsg.datalen = 0;
	rv = mcp_dispatch_ssh(host, &imsg);
	pump(10);
	return rv;
}

/* a tools/call through tasks_tools_call in the 2026 era */
static int
call2026(struct mcp_session *s, int id, const char *name, const char *args,
    int caps)
{
	char	 buf[1024];
	json_t	*p, *jid;
	int	 rc;

	snprintf(buf, sizeof(buf), "{\"name\":\"%s\",\"arguments\":%s%s%s}",
	    name, args, caps ? ",\"_meta\":" : "", caps ? CAPS : "");
	p = J(buf);
	jid = json_integer(id);
	rc = tasks_tools_call(s, jid, tool_find(name), p, NULL,
	    TASK_ERA_2026);
	json_decref(p);
	json_decref(jid);
	return rc;
}

/* a tasks method in the 2026 era; its response */
static json_t *
method2026(struct tclient *c, struct mcp_session *s,
    void (*fn)(struct mcp_session *, json_t *, json_t *, enum task_era),
    int id, const char *params)
{
	json_t	*p, *jid, *r;

	p = J(params);
	jid = json_integer(id);
	fn(s, jid, p, TASK_ERA_2026);
	json_decref(p);
	json_decref(jid);
	r = client_recv(c, 3000);
	return r;
}

/* a task whose ask_claude start the test's worker answers */
static json_t *
start_deleg(struct tclient *c, struct mcp_session *s, int id,
    const char *job)
{
	char		 res[512];
	uint32_t	 reqid;
	struct mcp_call	*call;

	if (call2026(s, id, "ask_claude", "{\"task\":\"hi\",\"host\":"
	    "\"alpha\"}", 1) != 1)
		return NULL;
	if ((reqid = find_call("ask_claude")) == 0 ||
	    (call = mcp_call_byreqid(reqid)) == NULL ||
	    !json_is_true(json_object_get(call->args, "background")))
		return NULL;
	snprintf(res, sizeof(res), "{\"content\":[{\"type\":\"text\","
	    "\"text\":\"working as job %s\"}],\"structuredContent\":"
	    "{\"job_id\":\"%s\",\"state\":\"running\",\"host\":\"alpha\"}}",
	    job, job);
	if (worker_result("alpha", reqid, res) == -1)
		return NULL;
	return client_recv(c, 3000);
}

int
main(void)
{
	char			 dir[] = "/tmp/test_tasks.XXXXXX", path[256];
	char			 params[512], tid[TASK_ID_LEN], tid2[TASK_ID_LEN];
	char			 tid3[TASK_ID_LEN];
	struct sockaddr_un	 sun;
	struct tclient		 a;
	struct host		*h;
	struct mcp_session	*s;
	json_t			*r, *res, *o;
	uint32_t		 reqid;
	int			 lfd;

	log_init(1, 0);
	if (getenv("TEST_VERBOSE") == NULL)
		freopen("/dev/null", "w", stderr);
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/mcp.sock", dir);
	event_init();
	if ((frontend_conf = config_new()) == NULL)
		return 1;
	frontend_conf->limits.call_timeout = 30;
	h = config_host_new(frontend_conf);
	strlcpy(h->name, "alpha", sizeof(h->name));
	strlcpy(h->address, "192.0.2.1", sizeof(h->address));
	strlcpy(h->user, "agent", sizeof(h->user));
	strlcpy(h->base_dir, "/srv/work", sizeof(h->base_dir));
	h->caps = CAP_READ | CAP_EXEC | CAP_DELEGATE;
	strlcpy(frontend_conf->default_host, "alpha",
	    sizeof(frontend_conf->default_host));
	tools_init();

	if ((lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1)
		return 1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	if (bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(lfd, 4) == -1)
		return 1;
	mcp_init();
	mcp_listen(lfd);
	memset(&a, 0, sizeof(a));
	if ((a.fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    connect(a.fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		return 1;
	fcntl(a.fd, F_SETFL, O_NONBLOCK);
	pump(20);
	s = mcp_session_byid(1);
	ok(s != NULL, "a session (2026 needs no initialize)");
	if (s == NULL)
		return tap_done();

	o = tasks_capability(TASK_ERA_2026);
	ok(json_is_object(o) && json_object_size(o) == 0,
	    "2026 capability: an empty object under extensions");
	json_decref(o);

	/* the server decides, for a client that declares the extension */
	ok(call2026(s, 1, "ask_claude", "{\"task\":\"x\"}", 0) == 0,
	    "ask_claude without the extension declared: not a task");
	ok(call2026(s, 2, "Bash", "{\"command\":\"ls\"}", 1) == 0,
	    "Bash in the foreground: not a task");
	ok(call2026(s, 3, "Read", "{\"file_path\":\"/x\"}", 1) == 0,
	    "Read: not a task");

	r = start_deleg(&a, s, 10, "job_1_ab");
	res = json_object_get(r, "result");
	strlcpy(tid, S(res, "taskId"), sizeof(tid));
	ok(strcmp(S(res, "resultType"), "task") == 0 &&
	    strncmp(tid, "task_", 5) == 0 &&
	    strcmp(S(res, "status"), "working") == 0 &&
	    json_is_integer(json_object_get(res, "ttlMs")) &&
	    json_is_integer(json_object_get(res, "pollIntervalMs")) &&
	    json_object_get(res, "ttl") == NULL &&
	    json_object_get(res, "task") == NULL,
	    "ask_claude with the extension: a flat CreateTaskResult, "
	    "resultType task, ttlMs, pollIntervalMs");
	json_decref(r);

	snprintf(params, sizeof(params), "{\"taskId\":\"%s\",\"_meta\":%s}",
	    tid, CAPS);
	r = method2026(&a, s, tasks_get, 11, params);
	res = json_object_get(r, "result");
	ok(strcmp(S(res, "resultType"), "complete") == 0 &&
	    strcmp(S(res, "status"), "working") == 0 &&
	    json_object_get(res, "result") == NULL,
	    "tasks/get while working: resultType complete, working");
	json_decref(r);

	snprintf(params, sizeof(params), "{\"taskId\":\"%s\"}", tid);
	r = method2026(&a, s, tasks_get, 12, params);
	ok(err_code(r) == JSONRPC_MISSING_CAP && json_is_object(
	    json_object_get(json_object_get(json_object_get(json_object_get(
	    json_object_get(r, "error"), "data"), "requiredCapabilities"),
	    "extensions"), TASKS_EXTENSION)),
	    "tasks/get without the extension: -32021 naming it");
	json_decref(r);

	/* the job ends: the result inline */
	reqid = find_call("job_wait");
	ok(reqid != 0 && worker_result("alpha", reqid, "{\"content\":[{"
	    "\"type\":\"text\",\"text\":\"job_1_ab on host alpha: done\\n\\n"
	    "the answer\"}],\"structuredContent\":{\"job_id\":\"job_1_ab\","
	    "\"state\":\"done\",\"duration_ms\":1000,\"outcome\":{\"result\":"
	    "\"the answer\"}},\"isError\":false}") == 0,
	    "the job's end reaches the task");
	snprintf(params, sizeof(params), "{\"taskId\":\"%s\",\"_meta\":%s}",
	    tid, CAPS);
	r = method2026(&a, s, tasks_get, 13, params);
	res = json_object_get(r, "result");
	o = json_object_get(res, "result");
	ok(strcmp(S(res, "status"), "completed") == 0 &&
	    strcmp(S(json_array_get(json_object_get(o, "content"), 0),
	    "text"), "the answer") == 0 && strcmp(S(json_object_get(o,
	    "structuredContent"), "result"), "the answer") == 0,
	    "tasks/get after the end: completed, the result inline (no "
	    "notification came first)");
	json_decref(r);

	/* an isError result is completed in 2026, never failed */
	r = start_deleg(&a, s, 20, "job_2_cd");
	strlcpy(tid2, S(json_object_get(r, "result"), "taskId"), sizeof(tid2));
	json_decref(r);
	reqid = find_call("job_wait");
	worker_result("alpha", reqid, "{\"content\":[{\"type\":\"text\","
	    "\"text\":\"h\\n\\nNot logged in\"}],\"structuredContent\":{"
	    "\"state\":\"error\",\"duration_ms\":5},\"isError\":true}");
	snprintf(params, sizeof(params), "{\"taskId\":\"%s\",\"_meta\":%s}",
	    tid2, CAPS);
	r = method2026(&a, s, tasks_get, 21, params);
	res = json_object_get(r, "result");
	ok(strcmp(S(res, "status"), "completed") == 0 && json_is_true(
	    json_object_get(json_object_get(res, "result"), "isError")),
	    "a tool error: completed, with isError in the result");
	json_decref(r);

	/* tasks/update: nothing is ever outstanding */
	snprintf(params, sizeof(params), "{\"taskId\":\"%s\",\"inputResponses"
	    "\":{\"k\":{\"action\":\"accept\"}},\"_meta\":%s}", tid, CAPS);
	r = method2026(&a, s, tasks_update, 30, params);
	ok(strcmp(S(json_object_get(r, "result"), "resultType"),
	    "complete") == 0, "tasks/update: acknowledged");
	json_decref(r);
	snprintf(params, sizeof(params), "{\"taskId\":\"%s\",\"_meta\":%s}",
	    tid, CAPS);
	r = method2026(&a, s, tasks_update, 31, params);
	ok(err_code(r) == -32602, "tasks/update without inputResponses: "
	    "-32602");
	json_decref(r);
	snprintf(params, sizeof(params), "{\"taskId\":\"task_nope\","
	    "\"inputResponses\":{},\"_meta\":%s}", CAPS);
	r = method2026(&a, s, tasks_update, 32, params);
	ok(err_code(r) == -32602, "tasks/update of an unknown task: -32602");
	json_decref(r);

	/* cancel: acknowledged once the kill answered */
	r = start_deleg(&a, s, 40, "job_3_ef");
	strlcpy(tid3, S(json_object_get(r, "result"), "taskId"), sizeof(tid3));
	json_decref(r);
	snprintf(params, sizeof(params), "{\"taskId\":\"%s\",\"_meta\":%s}",
	    tid3, CAPS);
	r = method2026(&a, s, tasks_cancel, 41, params);
	ok(r == NULL, "tasks/cancel waits for the kill");
	reqid = find_call("job_cancel");
	ok(reqid != 0 && worker_result("alpha", reqid, "{\"content\":[{"
	    "\"type\":\"text\",\"text\":\"killed\"}],\"structuredContent\":{"
	    "\"state\":\"killed\"}}") == 0, "job_cancel is sent for it");
	r = client_recv(&a, 3000);
	ok(r != NULL && json_integer_value(json_object_get(r, "id")) == 41 &&
	    strcmp(S(json_object_get(r, "result"), "resultType"),
	    "complete") == 0 && json_object_size(json_object_get(r,
	    "result")) == 1, "tasks/cancel: an empty acknowledgement");
	json_decref(r);
	r = method2026(&a, s, tasks_get, 42, params);
	ok(strcmp(S(json_object_get(r, "result"), "status"), "cancelled") ==
	    0, "tasks/get: cancelled");
	json_decref(r);

	/* removed in 2026 */
	r = method2026(&a, s, tasks_result, 50, params);
	ok(err_code(r) == -32601, "tasks/result: -32601 in 2026");
	json_decref(r);
	r = method2026(&a, s, tasks_list, 51, "{}");
	ok(err_code(r) == -32601, "tasks/list: -32601 in 2026");
	json_decref(r);

	ok(tasks_count() == 3 && ntaskrecords >= 6,
	    "three tasks held, their creation and ends recorded");
	close(a.fd);
	unlink(path);
	rmdir(dir);
	return tap_done();
}
