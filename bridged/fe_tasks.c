/*
 * fe_tasks.c: MCP tasks, in the frontend.  A tools/call of ask_claude or
 * Bash that asks for a task (legacy: a "task" param; 2026: the client
 * declares io.modelcontextprotocol/tasks and the call is long work) is
 * started as the background job those tools already make (a delegation
 * job, a background command); its answer becomes a task handle.  The job
 * is then followed by a call no session owns (job_wait, TaskOutput with
 * block) until it ends, and its end is the task's result.  So the job_*
 * tools, BashOutput and TaskStop see the same work, and a task lives as
 * long as its job: a delegation outlives the session that started it,
 * a background command dies with it (and its task then fails).
 *
 * A task belongs to the uid that created it (the principal on the UNIX
 * socket); for any other it does not exist.  Its id is random as well.
 * Tasks are held here, in memory: a restart of the frontend forgets them
 * (their jobs stay reachable with the job tools).  The tasks methods
 * that look at them are in fe_tasks_rpc.c.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event.h>
#include <jansson.h>

#include "bridged.h"
#include "frontend.h"
#include "log.h"
#include "fe_mcp.h"
#include "fe_tools.h"
#include "fe_tasksint.h"

struct tasklist			 tasks = TAILQ_HEAD_INITIALIZER(tasks);
unsigned long long		 task_seq;
static int			 ntasks;

static void	 iso_time(long long, char *, size_t);
static struct task *task_new(struct mcp_session *, enum task_era,
		    enum task_kind, const char *, const char *, long long);
static void	 task_free(struct task *);
static void	 task_expire(int, short, void *);
static void	 task_notify(struct task *);
static void	 task_record(struct task *, const char *);
static int	 uid_room(uid_t);
static json_t	*start_filter(struct mcp_call *, json_t *);
static void	 watch(int, short, void *);
static void	 rewatch(struct task *, int);
static json_t	*watch_filter(struct mcp_call *, json_t *);
static void	 deleg_watched(struct task *, json_t *);
static void	 bash_watched(struct task *, json_t *);
static void	 out_add(struct task *, const char *, size_t);

/*
 * Helpers
 */

long long
task_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* ISO 8601 in UTC, with milliseconds */
static void
iso_time(long long ms, char *buf, size_t len)
{
	struct tm	 tm;
	time_t		 t = ms / 1000;
	char		 s[32];

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		strlcpy(s, "1970-01-01T00:00:00", sizeof(s));
	snprintf(buf, len, "%s.%03lldZ", s, ms % 1000);
}

const char *
task_status_name(enum task_status st)
{
	switch (st) {
	case T_WORKING:		return "working";
	case T_INPUT_REQUIRED:	return "input_required";
	case T_COMPLETED:	return "completed";
	case T_FAILED:		return "failed";
	case T_CANCELLED:	return "cancelled";
	}
	return "failed";
}

int
task_terminal(struct task *t)
{
	return t->status >= T_COMPLETED;
}

/* by id alone: for the calls made for a task, never for a client */
struct task *
task_find(const char *id)
{
	struct task	*t;

	if (id == NULL || *id == '\0')
		return NULL;
	TAILQ_FOREACH(t, &tasks, entry)
		if (strcmp(t->id, id) == 0)
			return t;
	return NULL;
}

/* a CallToolResult of one text block */
json_t *
task_text_result(const char *text, int iserror)
{
	json_t	*r;

	r = json_pack("{s:[{s:s, s:o}], s:b}", "content", "type", "text",
	    "text", mcp_string(text), "isError", iserror);
	if (r == NULL)
		fatalx("%s: json_pack", __func__);
	return r;
}

/* the text of a result's first block, "" when it has none */
const char *
task_first_text(json_t *r)
{
	const char	*s;

	s = json_string_value(json_object_get(json_array_get(
	    json_object_get(r, "content"), 0), "text"));
	return s != NULL ? s : "";
}

void
task_message(struct task *t, const char *fmt, ...)
{
	va_list	 ap;
	char	*m;

	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) == -1)
		m = NULL;
	va_end(ap);
	if (m == NULL)
		return;
	/* one line: the first of what a tool said */
	m[strcspn(m, "\n")] = '\0';
	free(t->message);
	t->message = m;
}

/*
 * The table
 */

static struct task *
task_new(struct mcp_session *s, enum task_era era, enum task_kind kind,
    const char *host, const char *job, long long ttl)
{
	struct task	*t;
	struct timeval	 tv;
	unsigned char	 rnd[16];
	size_t		 i;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	/* unguessable, though a uid is what guards it */
	arc4random_buf(rnd, sizeof(rnd));
	strlcpy(t->id, "task_", sizeof(t->id));
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(t->id + 5 + 2 * i, 3, "%02x", rnd[i]);
	t->seq = ++task_seq;
	t->uid = s->uid;
	t->sessid = s->id;
	t->era = era;
	t->kind = kind;
	t->tool = kind == TK_DELEG ? "ask_claude" : "Bash";
	strlcpy(t->host, host, sizeof(t->host));
	strlcpy(t->job, job, sizeof(t->job));
	t->status = T_WORKING;
	t->created = t->updated = task_now_ms();
	t->ttl = ttl;
	TAILQ_INIT(&t->waiters);
	evtimer_set(&t->ev_watch, watch, t);
	evtimer_set(&t->ev_expire, task_expire, t);
	tv.tv_sec = ttl / 1000;
	tv.tv_usec = (ttl % 1000) * 1000;
	evtimer_add(&t->ev_expire, &tv);
	TAILQ_INSERT_TAIL(&tasks, t, entry);
	ntasks++;
	return t;
}

/*
 * Forget a task.  It leaves the table first: the tasks/result calls
 * still waiting then find no task and are answered "expired", and the
 * call following its job finds nothing to report to.  The job itself
 * goes on; the job tools still reach it.
 */
static void
task_free(struct task *t)
{
	struct task_wait	*w;
	struct mcp_call		*call;

	TAILQ_REMOVE(&tasks, t, entry);
	ntasks--;
	evtimer_del(&t->ev_watch);
	evtimer_del(&t->ev_expire);
	while ((w = TAILQ_FIRST(&t->waiters)) != NULL) {
		TAILQ_REMOVE(&t->waiters, w, entry);
		if ((call = mcp_call_byreqid(w->reqid)) != NULL)
			mcp_call_text(call, 1, "task expired");
		free(w);
	}
	json_decref(t->result);
	json_decref(t->pending);
	free(t->message);
	free(t->out);
	free(t);
}

static void
task_expire(int fd, short ev, void *arg)
{
	struct task	*t = arg;

	log_info("task %s (%s%s%s): its ttl of %lld ms has passed; "
	    "forgotten", t->id, t->tool, t->job[0] ? " " : "", t->job,
	    t->ttl);
	task_record(t, "expire");
	task_free(t);
}

/*
 * Room for one more task of this uid: the oldest ended one that nobody
 * waits on makes way; with none, no.
 */
static int
uid_room(uid_t uid)
{
	struct task	*t, *old = NULL;
	int		 n = 0;

	TAILQ_FOREACH(t, &tasks, entry) {
		if (t->uid != uid)
			continue;
		n++;
		if (old == NULL && task_terminal(t) && TAILQ_EMPTY(&t->waiters))
			old = t;
	}
	if (n < TASKS_PER_UID)
		return 1;
	if (old == NULL)
		return 0;
	task_free(old);
	return 1;
}

int
tasks_count(void)
{
	return ntasks;
}

/*
 * What a task looks like to a client.  Legacy: ttl and pollInterval;
 * 2026: ttlMs and pollIntervalMs, and (detailed, for tasks/get) the
 * result of a completed task inline.
 */
json_t *
task_json(struct task *t, enum task_era era, int detailed)
{
	char	 c[40], u[40];
	json_t	*o;

	iso_time(t->created, c, sizeof(c));
	iso_time(t->updated, u, sizeof(u));
	o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:i}",
	    "taskId", t->id, "status", task_status_name(t->status),
	    "createdAt", c, "lastUpdatedAt", u,
	    era == TASK_ERA_2026 ? "ttlMs" : "ttl", (json_int_t)t->ttl,
	    era == TASK_ERA_2026 ? "pollIntervalMs" : "pollInterval",
	    TASK_POLL_MS);
	if (o == NULL)
		fatalx("%s: json_pack", __func__);
	if (t->message != NULL)
		json_object_set_new(o, "statusMessage", mcp_string(t->message));
	if (era == TASK_ERA_2026 && detailed && t->status == T_COMPLETED &&
	    t->result != NULL)
		json_object_set_new(o, "result", json_deep_copy(t->result));
	/* no JSON-RPC error ends a task here: failed carries one anyway */
	if (era == TASK_ERA_2026 && detailed && t->status == T_FAILED)
		json_object_set_new(o, "error", json_pack("{s:i, s:s}",
		    "code", JSONRPC_INTERNAL, "message", t->message ?
		    t->message : "the task failed"));
	return o;
}

/* the result a tasks/result is answered with: the call's own, tagged */
json_t *
task_result_for(struct task *t)
{
	json_t	*r, *meta;

	if (t->result != NULL)
		r = json_deep_copy(t->result);
	else
		r = task_text_result(t->message ? t->message : "the task ended "
		    "without a result", 1);
	if (r == NULL)
		fatalx("%s: out of memory", __func__);
	if (!json_is_object(meta = json_object_get(r, "_meta"))) {
		meta = json_object();
		json_object_set_new(r, "_meta", meta);
	}
	json_object_set_new(meta, TASKS_RELATED, json_pack("{s:s}", "taskId",
	    t->id));
	return r;
}

/*
 * A task reaches its end: status, result (stolen), who waits is
 * answered, the client that made it is told.  An ended task never
 * changes again: a late end of its job (after a cancel) is dropped.
 */
void
task_end(struct task *t, enum task_status st, json_t *result)
{
	struct task_wait	*w;
	struct mcp_call		*call;

	if (task_terminal(t)) {
		json_decref(result);
		return;
	}
	evtimer_del(&t->ev_watch);
	t->status = st;
	json_decref(t->result);
	t->result = result;
	t->updated = task_now_ms();
	log_info("task %s (%s%s%s): %s%s%s", t->id, t->tool,
	    t->job[0] ? " " : "", t->job, task_status_name(st),
	    t->message ? ": " : "", t->message ? t->message : "");
	task_record(t, "end");
	task_notify(t);
	while ((w = TAILQ_FIRST(&t->waiters)) != NULL) {
		TAILQ_REMOVE(&t->waiters, w, entry);
		if ((call = mcp_call_byreqid(w->reqid)) != NULL)
			mcp_call_result(call, task_result_for(t));
		free(w);
	}
}

/*
 * notifications/tasks/status to the session that made the task, when it
 * is still there.  2026 sends notifications/tasks only on a
 * subscriptions/listen stream, which bridged does not have: there the
 * client polls.
 */
static void
task_notify(struct task *t)
{
	struct mcp_session	*s;

	if (t->era != TASK_ERA_LEGACY ||
	    (s = mcp_session_byid(t->sessid)) == NULL ||
	    s->state == SESSION_NEW)
		return;
	mcp_send_json(s, json_pack("{s:s, s:s, s:o}", "jsonrpc", "2.0",
	    "method", "notifications/tasks/status", "params",
	    task_json(t, TASK_ERA_LEGACY, 0)));
}

static void
task_record(struct task *t, const char *event)
{
	json_t	*r;

	r = json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:s}",
	    "type", "task", "event", event, "session", (json_int_t)t->sessid,
	    "uid", (json_int_t)t->uid, "task", t->id, "tool", t->tool,
	    "host", t->host, "job", t->job, "outcome", task_status_name(t->status));
	if (r != NULL) {
		frontend_record(r);
		json_decref(r);
	}
}

/*
 * Capabilities and tools/list
 */

json_t *
tasks_capability(enum task_era era)
{
	if (era == TASK_ERA_2026)
		return json_object();
	return json_pack("{s:{}, s:{}, s:{s:{s:{}}}}", "list", "cancel",
	    "requests", "tools", "call");
}

/* long work only; every other tool answers in one call */
const char *
tasks_tool_support(const char *tool)
{
	if (strcmp(tool, "ask_claude") == 0 || strcmp(tool, "Bash") == 0)
		return "optional";
	return NULL;
}

/*
 * Starting a task
 */

/* 2026: does this request's client declare the extension? */
int
tasks_declared(json_t *params)
{
	json_t	*caps;

	caps = json_object_get(json_object_get(params, "_meta"),
	    TASKS_CLIENT_CAPS);
	return json_is_object(json_object_get(json_object_get(caps,
	    "extensions"), TASKS_EXTENSION));
}

int
tasks_tools_call(struct mcp_session *s, json_t *id, const struct tool *tool,
    json_t *params, json_t *token, enum task_era era)
{
	const char	*support = tasks_tool_support(tool->name);
	json_t		*tp, *v, *args, *req;
	long long	 ttl = TASK_TTL_DEF;
	double		 d;
	int		 rc;

	args = json_object_get(params, "arguments");
	if (era == TASK_ERA_LEGACY) {
		if ((tp = json_object_get(params, "task")) == NULL)
			return 0;
		/* a revision without tasks ignores the param, as it must */
		if (strcmp(s->protocol, TASKS_LEGACY_VERSION) < 0)
			return 0;
		if (!json_is_object(tp)) {
			mcp_send_error(s, id, JSONRPC_INVALID_PARAMS,
			    "tools/call: task must be an object, e.g. "
			    "{\"ttl\": 60000}");
			return -1;
		}
		v = json_object_get(tp, "ttl");
		if (json_is_number(v)) {
			d = json_number_value(v);
			if (!(d > 0)) {
				mcp_send_error(s, id, JSONRPC_INVALID_PARAMS,
				    "tools/call: task.ttl must be a positive "
				    "number of milliseconds");
				return -1;
			}
			/* ours to override: within our bounds */
			ttl = d < TASK_TTL_MIN ? TASK_TTL_MIN :
			    d > TASK_TTL_MAX ? TASK_TTL_MAX : (long long)d;
		} else if (json_is_null(v))
			ttl = TASK_TTL_MAX;	/* "unlimited": our longest */
		else if (v != NULL) {
			mcp_send_error(s, id, JSONRPC_INVALID_PARAMS,
			    "tools/call: task.ttl must be a number of "
			    "milliseconds");
			return -1;
		}
		if (support == NULL) {
			mcp_send_error(s, id, JSONRPC_NO_METHOD, "tools/call:"
			    " %s cannot run as a task (its execution."
			    "taskSupport is forbidden); call it without "
			    "\"task\"", tool->name);
			return -1;
		}
	} else {
		/* the server decides: long work, for a client that can */
		if (support == NULL || !tasks_declared(params))
			return 0;
		if (strcmp(tool->name, "Bash") == 0 &&
		    !json_is_true(json_object_get(args, "run_in_background")))
			return 0;
	}
	if (!uid_room(s->uid)) {
		mcp_send_error(s, id, JSONRPC_TASK_LIMIT, "too many tasks: uid "
		    "%u holds %d, none of them ended; wait for one to end or "
		    "cancel one (tasks/cancel)", (unsigned)s->uid,
		    TASKS_PER_UID);
		return -1;
	}
	/* the work is the job the tool makes in the background */
	args = json_is_object(args) ? json_deep_copy(args) : json_object();
	req = json_pack("{s:i, s:I}", "era", (int)era, "ttl",
	    (json_int_t)ttl);
	if (args == NULL || req == NULL) {
		json_decref(args);
		json_decref(req);
		mcp_send_error(s, id, JSONRPC_INTERNAL, "out of memory");
		return -1;
	}
	json_object_set_new(args, strcmp(tool->name, "Bash") == 0 ?
	    "run_in_background" : "background", json_true());
	rc = mcp_call_start(s, id, s->id, s->uid, tool, args, token, start_filter,
	    NULL, req);
	json_decref(args);
	json_decref(req);
	if (rc == -1)
		mcp_send_error(s, id, JSONRPC_INTERNAL, "out of memory");
	return 1;
}

/*
 * The background start has answered: a job id, or why it did not start.
 * Either way the client gets a task; one that could not start ends just
 * after its handle is sent, with the tool's answer as its result.
 */
static json_t *
start_filter(struct mcp_call *call, json_t *r)
{
	struct mcp_session	*s = call->session;
	struct task		*t;
	enum task_era		 era;
	enum task_kind		 kind;
	const char		*job = NULL, *p;
	char			 jbuf[64];
	json_t			*o;
	size_t			 n;

	if (r == NULL || s == NULL)
		return r;	/* cancelled, or its session is gone */
	era = json_integer_value(json_object_get(call->task_req, "era"));
	kind = strcmp(call->tool->name, "ask_claude") == 0 ? TK_DELEG :
	    TK_BASH;
	if (!json_is_true(json_object_get(r, "isError"))) {
		if (kind == TK_DELEG)
			job = json_string_value(json_object_get(
			    json_object_get(r, "structuredContent"),
			    "job_id"));
		else if ((p = strstr(task_first_text(r), "with ID: ")) != NULL) {
			p += strlen("with ID: ");
			n = strcspn(p, " \n");
			if (n > 0 && n < sizeof(jbuf)) {
				memcpy(jbuf, p, n);
				jbuf[n] = '\0';
				job = jbuf;
			}
		}
	}
	if ((t = task_new(s, era, kind, call->host, job ? job : "",
	    json_integer_value(json_object_get(call->task_req, "ttl")))) ==
	    NULL)
		return r;	/* out of memory: the plain answer */
	if (job != NULL) {
		if (kind == TK_DELEG)
			task_message(t, "claude is working on host \"%s\" as "
			    "job %s (job_status, job_wait and job_cancel see "
			    "it too)", t->host, t->job);
		else
			task_message(t, "the command runs on host \"%s\" as %s"
			    " (BashOutput/TaskOutput and TaskStop see it too;"
			    " output read there is not in the task's result)",
			    t->host, t->job);
		json_decref(r);
		rewatch(t, 0);
	} else {
		task_message(t, "%s did not start: %s", t->tool,
		    task_first_text(r));
		t->pending = r;
		rewatch(t, 0);
	}
	log_info("session %u: task %s: %s%s%s on host \"%s\"", s->id, t->id,
	    t->tool, job ? " " : "", job ? job : " (not started)", t->host);
	task_record(t, "create");
	o = task_json(t, era, 0);
	if (era == TASK_ERA_2026) {
		json_object_set_new(o, "resultType", json_string("task"));
		return o;
	}
	/* what a host that returns to the model at once may show it */
	return json_pack("{s:o, s:{s:o}}", "task", o, "_meta",
	    "io.modelcontextprotocol/model-immediate-response",
	    mcp_string(t->message ? t->message : "started as a task"));
}

/*
 * Following the job
 */

static void
rewatch(struct task *t, int secs)
{
	struct timeval	 tv = { secs, 0 };

	evtimer_add(&t->ev_watch, &tv);
}

/* ask the job's worker to answer when the job ends */
static void
watch(int fd, short ev, void *arg)
{
	struct task		*t = arg;
	const struct tool	*tool;
	json_t			*args;
	json_t			*r;

	if (t->pending != NULL) {
		r = t->pending;
		t->pending = NULL;
		task_end(t, t->era == TASK_ERA_LEGACY ? T_FAILED :
		    T_COMPLETED, r);
		return;
	}
	if (task_terminal(t))
		return;
	if (t->kind == TK_DELEG) {
		tool = tool_find("job_wait");
		args = json_pack("{s:s, s:i}", "job_id", t->job, "timeout",
		    JOB_WAIT_SECS);
	} else {
		tool = tool_find("TaskOutput");
		args = json_pack("{s:s, s:b, s:i, s:s}", "task_id", t->job,
		    "block", 1, "timeout", TASK_OUTPUT_MS, "host", t->host);
	}
	if (tool == NULL || args == NULL ||
	    mcp_call_start(NULL, NULL, t->sessid, t->uid, tool, args, NULL,
	    watch_filter, t->id, NULL) == -1) {
		log_warnx("task %s: cannot follow its job; retrying", t->id);
		rewatch(t, 5);
	}
	json_decref(args);
}

static json_t *
watch_filter(struct mcp_call *call, json_t *r)
{
	struct task	*t;

	if ((t = task_find(call->task)) == NULL || task_terminal(t)) {
		json_decref(r);
		return NULL;
	}
	if (r == NULL)
		rewatch(t, 1);
	else if (t->kind == TK_DELEG)
		deleg_watched(t, r);
	else
		bash_watched(t, r);
	return NULL;
}

/*
 * What job_wait said.  Running still: wait again.  Ended: the task ends
 * with the result ask_claude would have given (job_wait's header line
 * dropped, claude's structured outcome as structuredContent).  No state
 * at all (the worker died, the database could not be asked): try again
 * a few times, then give up.
 */
static void
deleg_watched(struct task *t, json_t *r)
{
	json_t		*sc, *out, *fin;
	const char	*state, *text, *body;
	int		 iserr;

	sc = json_object_get(r, "structuredContent");
	if ((state = json_string_value(json_object_get(sc, "state"))) ==
	    NULL) {
		if (++t->retries <= WATCH_RETRIES) {
			log_debug("task %s: job %s not found (%s); again",
			    t->id, t->job, task_first_text(r));
			rewatch(t, t->retries);
			json_decref(r);
			return;
		}
		task_message(t, "job %s could not be followed: %s", t->job,
		    task_first_text(r));
		task_end(t, t->era == TASK_ERA_LEGACY ? T_FAILED :
		    T_COMPLETED, task_text_result(task_first_text(r), 1));
		json_decref(r);
		return;
	}
	t->retries = 0;
	if (strcmp(state, "running") == 0 || strcmp(state, "killing") == 0) {
		json_decref(r);
		rewatch(t, 0);
		return;
	}
	text = task_first_text(r);
	body = strstr(text, "\n\n");
	body = body != NULL ? body + 2 : text;
	iserr = json_is_true(json_object_get(r, "isError"));
	fin = task_text_result(body, iserr);
	if (json_is_object(out = json_object_get(sc, "outcome")))
		json_object_set(fin, "structuredContent", out);
	task_message(t, "job %s on host \"%s\": %s after %lld s", t->job,
	    t->host, state, (long long)json_integer_value(json_object_get(sc,
	    "duration_ms")) / 1000);
	/* stopped by someone else (job_cancel, bridgectl): cancelled */
	if (strcmp(state, "cancelled") == 0 || strcmp(state, "killed") == 0)
		task_end(t, T_CANCELLED, fin);
	else if (strcmp(state, "lost") == 0) {
		/* its worker died (fe_jobs.c): failed, in every era, and why */
		task_message(t, "job %s on host \"%s\": %s", t->job, t->host,
		    body);
		task_end(t, T_FAILED, fin);
	} else
		task_end(t, iserr && t->era == TASK_ERA_LEGACY ? T_FAILED :
		    T_COMPLETED, fin);
	/* state and body are r's */
	json_decref(r);
}

/* keep the first TASK_OUT_MAX bytes of the command's output */
static void
out_add(struct task *t, const char *p, size_t n)
{
	size_t	 k = n;
	char	*nb;

	if (t->outlen + k > TASK_OUT_MAX)
		k = TASK_OUT_MAX - t->outlen;
	t->dropped += n - k;
	if (k == 0)
		return;
	if ((nb = realloc(t->out, t->outlen + k + 1)) == NULL) {
		t->dropped += k;
		return;
	}
	memcpy(nb + t->outlen, p, k);
	t->out = nb;
	t->outlen += k;
	t->out[t->outlen] = '\0';
}

/*
 * What TaskOutput said: "status: ..." then the output since its last
 * read (ssh_bgjob.c, job_answer).  Running: keep the output, wait again.
 * Ended: the task's result is all the output and how it ended, in the
 * shape a Bash call gives.  Anything else (the command is gone with its
 * session, the host was lost) ends the task with that answer.
 */
static void
bash_watched(struct task *t, json_t *r)
{
	const char	*text = task_first_text(r), *nl, *st;
	char		*fin = NULL, status[128];
	size_t		 n;
	int		 code, iserr;

	/* its worker died (fe_jobs.c): failed, in every era, and why */
	if (strncmp(text, "status: lost", 12) == 0) {
		task_message(t, "%s on host \"%s\": %s", t->job, t->host,
		    text + 8);
		task_end(t, T_FAILED, task_text_result(text + 8, 1));
		json_decref(r);
		return;
	}
	if (strncmp(text, "status: ", 8) != 0) {
		task_message(t, "%s on host \"%s\": %s", t->job, t->host, text);
		task_end(t, t->era == TASK_ERA_LEGACY ? T_FAILED :
		    T_COMPLETED, task_text_result(text, 1));
		json_decref(r);
		return;
	}
	st = text + 8;
	nl = strchr(st, '\n');
	n = nl != NULL ? (size_t)(nl - st) : strlen(st);
	if (n >= sizeof(status))
		n = sizeof(status) - 1;
	memcpy(status, st, n);
	status[n] = '\0';
	if (nl != NULL)
		out_add(t, nl + 1, strlen(nl + 1));
	json_decref(r);
	if (strcmp(status, "running") == 0) {
		rewatch(t, 0);
		return;
	}
	iserr = strncmp(status, "exited", 6) != 0;
	if (sscanf(status, "exited with status %d", &code) == 1)
		snprintf(status, sizeof(status), "exit status: %d", code);
	if ((t->dropped > 0 ? asprintf(&fin, "%s[output cut: %zu bytes past "
	    "the first %d were dropped]\n%s", t->out ? t->out : "",
	    t->dropped, TASK_OUT_MAX, status) : asprintf(&fin, "%s%s",
	    t->out ? t->out : "", status)) == -1)
		fin = NULL;
	task_message(t, "%s on host \"%s\": %s", t->job, t->host, status);
	task_end(t, strncmp(status, "killed", 6) == 0 ? T_CANCELLED :
	    iserr && t->era == TASK_ERA_LEGACY ? T_FAILED : T_COMPLETED,
	    task_text_result(fin ? fin : status, iserr));
	free(fin);
}
