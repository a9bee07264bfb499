/*
 * fe_calls.c: tool calls in flight in the frontend.  They live in a table
 * keyed by a request id that travels as peerid to the other processes;
 * replies are routed back by it.  A call is answered exactly once
 * (result, timeout) or never (cancelled, session gone), and freed at that
 * moment.  What the workers say of calls comes here (mcp_dispatch_ssh).
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/tree.h>

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
#include "fe_backchan.h"
#include "fe_tasks.h"
#include "fe_relay.h"

static void	 call_timeout(int, short, void *);
static size_t	 worker_others(const struct mcp_call *,
		    const struct mcp_call **);
static int	 call_cmp(struct mcp_call *, struct mcp_call *);

/* libbsd's RB_*_STATIC need a __unused it does not define: go global */
RB_HEAD(mcp_calltree, mcp_call);
RB_PROTOTYPE(mcp_calltree, mcp_call, tentry, call_cmp)
RB_GENERATE(mcp_calltree, mcp_call, tentry, call_cmp)

static struct mcp_calltree calls = RB_INITIALIZER(&calls);
static int		 ninflight;
static uint32_t		 next_reqid = 1;

void
mcp_calls_drop(struct mcp_session *s)
{
	struct mcp_call	*call;

	while ((call = TAILQ_FIRST(&s->calls)) != NULL) {
		call->cancelled = 1;
		mcp_call_finish(call, NULL, "cancelled");
	}
}

static int
call_cmp(struct mcp_call *a, struct mcp_call *b)
{
	return a->reqid < b->reqid ? -1 : a->reqid > b->reqid;
}

struct mcp_call *
mcp_call_byreqid(uint32_t reqid)
{
	struct mcp_call	 key;

	key.reqid = reqid;
	return RB_FIND(mcp_calltree, &calls, &key);
}

struct mcp_call *
mcp_call_new(struct mcp_session *s, json_t *id, const struct tool *tool,
    json_t *args, json_t *token)
{
	struct mcp_call	*call;
	struct timeval	 tv;

	if ((call = calloc(1, sizeof(*call))) == NULL)
		return NULL;
	call->args = args != NULL ? json_incref(args) : json_object();
	if (call->args == NULL) {
		free(call);
		return NULL;
	}
	/* unique among calls in flight, never 0, never fe_control.c's bit */
	do {
		call->reqid = next_reqid++;
		if (next_reqid & CTL_REQID_BIT)
			next_reqid = 1;
	} while (mcp_call_byreqid(call->reqid) != NULL);
	call->session = s;
	call->sessid = s != NULL ? s->id : 0;
	call->id = id != NULL ? json_incref(id) : NULL;
	call->tool = tool;
	call->progress_token = token != NULL ? json_incref(token) : NULL;
	/* one the frontend makes itself (a task's) has no session */
	call->era = s != NULL ? mcp_era_req(s) : NULL;
	call->loglevel = s != NULL ? s->req.loglevel : -1;
	call->uid = s != NULL ? s->uid : (uid_t)-1;
	if (s != NULL && (call->batch = s->batch) != NULL)
		mcp_batch_hold(call->batch);
	clock_gettime(CLOCK_MONOTONIC, &call->start);
	RB_INSERT(mcp_calltree, &calls, call);
	/* one no session owns (a task's) is not awaited by the drain */
	if (s != NULL) {
		TAILQ_INSERT_TAIL(&s->calls, call, sentry);
		ninflight++;
	}
	evtimer_set(&call->timeout, call_timeout, call);
	if (frontend_conf->limits.call_timeout > 0) {
		tv.tv_sec = frontend_conf->limits.call_timeout;
		tv.tv_usec = 0;
		evtimer_add(&call->timeout, &tv);
	}
	return call;
}

/*
 * Who a call acts for, for its records: its session's principal; a call
 * the frontend makes for a task has no session, and acts for the one
 * that made the task while it lasts, else for the task's owner.
 */
json_t *
call_principal(struct mcp_call *call)
{
	struct mcp_session	*s = call->session;
	char			 buf[64];

	if (s == NULL)
		s = mcp_session_byid(call->sessid);
	if (s != NULL)
		return json_string(s->principal);
	snprintf(buf, sizeof(buf), "task of uid %u", (unsigned)call->uid);
	return json_string(buf);
}

int
mcp_call_start(struct mcp_session *s, json_t *id, uint32_t sessid,
    uid_t uid, const struct tool *tool, json_t *args, json_t *token,
    json_t *(*filter)(struct mcp_call *, json_t *), const char *task,
    json_t *task_req)
{
	struct mcp_call	*call;

	if ((call = mcp_call_new(s, id, tool, args, token)) == NULL)
		return -1;
	call->sessid = sessid;
	call->uid = uid;	/* the principal the work is bound to */
	call->filter = filter;
	strlcpy(call->task, task != NULL ? task : "", sizeof(call->task));
	call->task_req = task_req != NULL ? json_incref(task_req) : NULL;
	log_debug("session %u: call %u: %s%s%s", sessid, call->reqid,
	    tool->name, call->task[0] ? " for " : "", call->task);
	/* the call may be answered and freed before run returns */
	if (tool->run(call, call->args) == -1)
		mcp_call_text(call, 1, "internal error: %s could not start",
		    tool->name);
	return 0;
}

/*
 * How many other calls to call's host are in progress, and in *oldest
 * the one started first: the likeliest to hold the worker up.
 */
static size_t
worker_others(const struct mcp_call *call, const struct mcp_call **oldest)
{
	struct mcp_call	*c;
	size_t		 n = 0;

	*oldest = NULL;
	RB_FOREACH(c, mcp_calltree, &calls) {
		if (c == call || strcmp(c->worker, call->worker) != 0)
			continue;
		n++;
		if (*oldest == NULL || timespeccmp(&c->start,
		    &(*oldest)->start, <))
			*oldest = c;
	}
	return n;
}

static void
call_timeout(int fd, short ev, void *arg)
{
	struct mcp_call	*call = arg;

	const struct mcp_call	*old;
	struct timespec	 now;
	long long	 s;
	size_t		 n;
	char		 who[64];

	clock_gettime(CLOCK_MONOTONIC, &now);
	s = now.tv_sec - call->start.tv_sec;
	log_warnx("session %u: call %u (%s) timed out after %lld s%s%s%s",
	    call->sessid, call->reqid, call->tool->name, s,
	    call->worker[0] ? " on host \"" : "", call->worker,
	    call->worker[0] ? "\"" : "");
	call->timedout = 1;
	/* held in its worker for the logger (fe_audit.c): not the host */
	if (call->audit_wait && call->audit_held)
		mcp_call_text(call, 1, "%s: the audit logger did not confirm "
		    "the intent within %lld s; bridged stops the call",
		    call->tool->name, s);
	else if (call->worker[0] != '\0' &&
	    (n = worker_others(call, &old)) > 0) {
		/*
		 * A worker in a blocking section (a small SFTP request,
		 * ssh_poolfiles.c) reads nothing else meanwhile: from here a
		 * slow host and a worker busy with its other calls look the
		 * same, so both are named, and the oldest of the others (the
		 * likeliest to hold it up) by its age; by its tool only when
		 * it is this session's: another agent's calls are not this
		 * one's to hear about.
		 */
		if (old->sessid == call->sessid)
			snprintf(who, sizeof(who), "a %s of this session",
			    old->tool->name);
		else
			strlcpy(who, "another session's", sizeof(who));
		mcp_call_text(call, 1, "%s: host \"%s\" is not responding: no"
		    " answer within %lld s, with %zu other call%s to it in"
		    " progress, the oldest being %s, started %lld s ago (its ssh"
		    " worker runs small file requests one at a time: a slow"
		    " one holds up the rest); bridged stops what the call"
		    " started there", call->tool->name, call->worker, s, n,
		    n == 1 ? "" : "s", who,
		    (long long)(now.tv_sec - old->start.tv_sec));
	} else if (call->worker[0] != '\0')
		mcp_call_text(call, 1, "%s: host \"%s\" is not responding: no"
		    " answer within %lld s; bridged stops what the call started"
		    " there", call->tool->name, call->worker, s);
	else
		mcp_call_text(call, 1, "%s: timed out after %lld s",
		    call->tool->name, s);
}

/*
 * Answer (result != NULL, stolen) or drop a call, audit it, free it.  The
 * call leaves every table before anything is sent, so whatever sending
 * does to the session cannot reach it twice.
 */
void
mcp_call_finish(struct mcp_call *call, json_t *result, const char *outcome)
{
	struct mcp_session	*s = call->session;
	struct mcp_batch	*b, *saved;
	struct timespec		 now;
	json_t			*r;
	long long		 ms;
	char			*why;

	RB_REMOVE(mcp_calltree, &calls, call);
	if (s != NULL) {
		TAILQ_REMOVE(&s->calls, call, sentry);
		ninflight--;
	}
	evtimer_del(&call->timeout);

	/* the record says why a call failed: taken before it is sent */
	why = audit_why(call, result, outcome);
	/* a call of a batch is answered into it, however late */
	b = call->batch;
	if (call->cancelled && result != NULL) {
		json_decref(result);
		result = NULL;
	}
	/* a task's call: fe_tasks.c says what, if anything, is sent */
	if (call->filter != NULL)
		result = call->filter(call, result);
	if (result != NULL && s != NULL) {
		saved = s->batch;
		if (b != NULL)
			s->batch = b;
		mcp_send_result(s, call->id, mcp_era_call_result(call,
		    result));
		s->batch = saved;
	} else
		json_decref(result);
	/*
	 * A cancelled call is never answered (its filter too sends
	 * nothing then): the transport stops waiting for it, before its
	 * batch, if it was the last one pending there, goes without it.
	 */
	if (call->cancelled && s != NULL && !s->dead && call->id != NULL &&
	    s->output != NULL && s->output->forget != NULL)
		s->output->forget(s, call->id);
	if (b != NULL)
		mcp_batch_release(s, b);

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - call->start.tv_sec) * 1000LL +
	    (now.tv_nsec - call->start.tv_nsec) / 1000000;
	r = json_pack("{s:s, s:s, s:I, s:I, s:s, s:o, s:s, s:s, s:I}",
	    "type", "call", "event", "outcome",
	    "session", (json_int_t)call->sessid,
	    "request", (json_int_t)call->reqid, "tool", call->tool->name,
	    "host", call->host[0] ? json_string(call->host) : json_null(),
	    "decision", call->refused ? "refused" : "allowed",
	    "outcome", outcome, "duration_ms", (json_int_t)ms);
	if (r != NULL && why != NULL)
		json_object_set_new(r, "error", json_string(why));
	free(why);
	free(call->audit_why);
	if (r != NULL) {
		json_object_set_new(r, "principal", call_principal(call));
		frontend_record(r);
		json_decref(r);
	}
	log_debug("session %u: call %u (%s) %s in %lld ms", call->sessid,
	    call->reqid, call->tool->name, outcome, ms);

	if ((call->cancelled || call->timedout) && call->tool->cancel != NULL)
		call->tool->cancel(call);
	backchan_call_end(call);

	json_decref(call->id);
	json_decref(call->args);
	json_decref(call->progress_token);
	json_decref(call->data);
	json_decref(call->task_req);
	free(call->rbuf);
	free(call);

	if (s != NULL)
		mcp_session_check_done(s);
	if (frontend_shutting_down())
		frontend_check_drained();
}

void
mcp_call_result(struct mcp_call *call, json_t *result)
{
	const char	*outcome;

	if (result == NULL ||
	    (result = mcp_result_final(call, result)) == NULL) {
		mcp_call_text(call, 1, "internal error: no result");
		return;
	}
	if (call->timedout || call->audit_timeout)
		outcome = "timeout";
	else if (json_is_true(json_object_get(result, "isError")))
		outcome = "error";
	else
		outcome = "ok";
	mcp_call_finish(call, result, outcome);
}

void
mcp_call_text(struct mcp_call *call, int iserror, const char *fmt, ...)
{
	va_list	 ap;
	char	*text;
	json_t	*r;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) == -1) {
		text = NULL;
		iserror = 1;
	}
	va_end(ap);
	r = json_pack("{s:[{s:s, s:o}]}", "content", "type", "text", "text",
	    mcp_string(text != NULL ? text : "internal error: out of memory"));
	free(text);
	if (r != NULL && iserror)
		json_object_set_new(r, "isError", json_true());
	if (r == NULL) {
		/* still answer: a call must never hang */
		r = json_pack("{s:[], s:b}", "content", "isError", 1);
	}
	mcp_call_result(call, r);
}

/* structuredContent plus the same JSON as text, for older clients */
void
mcp_call_structured(struct mcp_call *call, json_t *structured)
{
	char	*text;
	json_t	*r;

	if (structured == NULL) {
		mcp_call_text(call, 1, "internal error: out of memory");
		return;
	}
	if ((text = json_dumps(structured, JSON_COMPACT)) == NULL) {
		json_decref(structured);
		mcp_call_text(call, 1, "internal error: cannot encode result");
		return;
	}
	r = json_pack("{s:[{s:s, s:s}], s:o}", "content", "type", "text",
	    "text", text, "structuredContent", structured);
	free(text);
	mcp_call_result(call, r);
}

/*
 * progress must strictly increase; a stale value is not sent.  The
 * worker paces what it sends (at most one a second for a call).
 */
void
mcp_notify_progress(struct mcp_call *call, double progress, double total,
    const char *message)
{
	json_t	*m;

	if (call->progress_token == NULL || call->cancelled ||
	    call->session == NULL || call->session->dead)
		return;
	if (call->progress_sent && progress <= call->progress_last)
		return;
	call->progress_sent = 1;
	call->progress_last = progress;
	m = json_pack("{s:s, s:s, s:{s:O, s:f}}", "jsonrpc", "2.0",
	    "method", "notifications/progress", "params",
	    "progressToken", call->progress_token, "progress", progress);
	if (m == NULL)
		return;
	if (total > 0)
		json_object_set_new(json_object_get(m, "params"), "total",
		    json_real(total));
	if (message != NULL && call->era != NULL &&
	    (call->era->flags & ERA_PROGMSG))
		json_object_set_new(json_object_get(m, "params"), "message",
		    mcp_string(message));
	mcp_send_json(call->session, m);
}

/* tool calls not yet answered, for the drain at shutdown */
int
mcp_inflight(void)
{
	return ninflight;
}

/* for fe_audit.c: the calls whose intent the logger has not answered */
size_t
mcp_audit_waiting(uint32_t *ids, size_t max)
{
	struct mcp_call	*call;
	size_t		 n = 0;

	RB_FOREACH(call, mcp_calltree, &calls)
		if (call->audit_wait && n < max)
			ids[n++] = call->reqid;
	return n;
}

/*
 * Replies from the ssh worker.  The worker is ours but a separate
 * process: sizes are checked exactly, and a wrong one means it is broken.
 * A reply for a call that is gone (cancelled, timed out, session closed)
 * is dropped.
 */
int
mcp_dispatch_ssh(const char *host, struct imsg *imsg)
{
	struct mcp_call	*call;

	switch (imsg->hdr.type) {
	case IMSG_SSH_RESULT:
		if (imsg->datalen != 0)
			return -1;
		break;
	case IMSG_SSH_RESULT_DATA:
		if (imsg->datalen == 0)
			return -1;
		break;
	case IMSG_SSH_PROGRESS:
		if (imsg->datalen < sizeof(struct ssh_progress))
			return -1;
		break;
	case IMSG_SSH_LOG:
		if (imsg->datalen < sizeof(struct ssh_log))
			return -1;
		break;
	default:
		return -1;
	}
	if ((call = mcp_call_byreqid(imsg->hdr.peerid)) == NULL) {
		log_debug("%s: reply type %u for request %u not in flight",
		    __func__, imsg->hdr.type, imsg->hdr.peerid);
		return 0;
	}
	/* one host's worker never answers for another's call */
	if (strcmp(call->worker, host) != 0) {
		log_warnx("host \"%s\": reply for call %u sent to %s%s%s",
		    host, call->reqid, call->worker[0] ? "host \"" : "no host",
		    call->worker, call->worker[0] ? "\"" : "");
		return -1;
	}
	if (call->tool->reply == NULL) {
		log_warnx("%s: reply type %u for tool %s that expects none",
		    __func__, imsg->hdr.type, call->tool->name);
		return 0;
	}
	call->tool->reply(call, imsg);
	return 0;
}

/*
 * A host's worker died (or will not start): every call in flight there
 * is answered now with why; nothing else is touched.
 */
void
mcp_worker_gone(const char *host, const char *why)
{
	struct mcp_call	*call, *next;

	RB_FOREACH_SAFE(call, mcp_calltree, &calls, next) {
		if (call->worker[0] == '\0' || strcmp(call->worker, host) != 0)
			continue;
		log_warnx("session %u: call %u (%s) on host \"%s\" failed: "
		    "its ssh worker has gone", call->sessid, call->reqid,
		    call->tool->name, host);
		call->worker[0] = '\0';
		/* a call on a job of the dead worker: that job is lost */
		if (fe_jobs_answer(call))
			continue;
		mcp_call_text(call, 1, "%s: %s", call->tool->name, why);
	}
}

int
mcp_worker_busy(const char *host)
{
	struct mcp_call	*call;

	RB_FOREACH(call, mcp_calltree, &calls)
		if (strcmp(call->worker, host) == 0)
			return 1;
	return 0;
}
