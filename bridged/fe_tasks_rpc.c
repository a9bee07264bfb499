/*
 * fe_tasks_rpc.c: the tasks methods, in the frontend: tasks/get,
 * tasks/result, tasks/list, tasks/cancel (2025-11-25) and tasks/get,
 * tasks/update, tasks/cancel (the io.modelcontextprotocol/tasks
 * extension of 2026-07-28).  Each takes the era of the request it
 * answers.  A task is found only by the uid that created it.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event.h>
#include <jansson.h>

#include "bridged.h"
#include "frontend.h"
#include "log.h"
#include "fe_mcp.h"
#include "fe_tools.h"
#include "fe_tasksint.h"

static int	 era_gate(struct mcp_session *, json_t *, json_t *,
		    enum task_era, const char *);
static struct task *task_arg(struct mcp_session *, json_t *, json_t *,
		    const char *);
static int	 result_run(struct mcp_call *, json_t *);
static json_t	*result_filter(struct mcp_call *, json_t *);
static json_t	*cancel_filter(struct mcp_call *, json_t *);

/* a tasks/result that waits: a call of its own, so a session owes it */
static const struct tool result_tool = {
	.name = "tasks/result",
	.description = "wait for a task to end",
	.run = result_run,
};

/*
 * The methods
 */

/*
 * The era's conditions: legacy, a session that negotiated tasks; 2026,
 * a request whose client declares the extension.  -1: answered.
 */
static int
era_gate(struct mcp_session *s, json_t *id, json_t *params,
    enum task_era era, const char *method)
{
	if (era == TASK_ERA_LEGACY) {
		if (strcmp(s->protocol, TASKS_LEGACY_VERSION) >= 0)
			return 0;
		mcp_send_error(s, id, JSONRPC_NO_METHOD, "method not found: "
		    "%s (tasks came with protocol %s; this session "
		    "negotiated %s)", method, TASKS_LEGACY_VERSION,
		    s->protocol);
		return -1;
	}
	if (tasks_declared(params))
		return 0;
	mcp_send_json(s, json_pack("{s:s, s:O, s:{s:i, s:s, s:{s:{s:{s:{}}}}}}",
	    "jsonrpc", "2.0", "id", id, "error", "code", JSONRPC_MISSING_CAP,
	    "message", "Missing required client capability: declare the "
	    "io.modelcontextprotocol/tasks extension in _meta "
	    "clientCapabilities", "data", "requiredCapabilities",
	    "extensions", TASKS_EXTENSION));
	return -1;
}

/* the task named by params.taskId, if it is this client's; or answer */
static struct task *
task_arg(struct mcp_session *s, json_t *id, json_t *params,
    const char *method)
{
	struct task	*t;
	json_t		*v;
	char		 shown[TASK_ID_LEN + 8];

	v = json_object_get(params, "taskId");
	if (!json_is_object(params) || !json_is_string(v)) {
		mcp_send_error(s, id, JSONRPC_INVALID_PARAMS, "%s: params "
		    "must be an object with taskId, a string", method);
		return NULL;
	}
	/* another principal's task does not exist for this one */
	TAILQ_FOREACH(t, &tasks, entry)
		if (t->uid == s->uid &&
		    strcmp(t->id, json_string_value(v)) == 0)
			return t;
	mcp_shown(shown, sizeof(shown), json_string_value(v));
	mcp_send_error(s, id, JSONRPC_INVALID_PARAMS, "%s: task not found: "
	    "\"%s\" (it never existed, its ttl has passed, or it is another "
	    "client's)", method, shown);
	return NULL;
}

void
tasks_get(struct mcp_session *s, json_t *id, json_t *params,
    enum task_era era)
{
	struct task	*t;
	json_t		*o;

	if (era_gate(s, id, params, era, "tasks/get") == -1 ||
	    (t = task_arg(s, id, params, "tasks/get")) == NULL)
		return;
	o = task_json(t, era, 1);
	if (era == TASK_ERA_2026)
		json_object_set_new(o, "resultType", json_string("complete"));
	mcp_send_result(s, id, o);
}

/* legacy only: blocks until the task ends, then its result */
void
tasks_result(struct mcp_session *s, json_t *id, json_t *params,
    enum task_era era)
{
	struct task	*t;

	if (era == TASK_ERA_2026) {
		mcp_send_error(s, id, JSONRPC_NO_METHOD, "method not found: "
		    "tasks/result (removed in 2026-07-28: tasks/get carries "
		    "the result)");
		return;
	}
	if (era_gate(s, id, params, era, "tasks/result") == -1 ||
	    (t = task_arg(s, id, params, "tasks/result")) == NULL)
		return;
	if (task_terminal(t)) {
		mcp_send_result(s, id, task_result_for(t));
		return;
	}
	if (mcp_call_start(s, id, s->id, s->uid, &result_tool, NULL, NULL,
	    result_filter, t->id, NULL) == -1)
		mcp_send_error(s, id, JSONRPC_INTERNAL, "out of memory");
}

static int
result_run(struct mcp_call *call, json_t *args)
{
	struct task		*t;
	struct task_wait	*w;

	/* no call timeout: the task's own ttl bounds the wait */
	evtimer_del(&call->timeout);
	if ((t = task_find(call->task)) == NULL) {
		mcp_call_text(call, 1, "task expired");
		return 0;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -1;
	w->reqid = call->reqid;
	TAILQ_INSERT_TAIL(&t->waiters, w, entry);
	return 0;
}

/* a tasks/result call ends: its answer, or it leaves the waiters */
static json_t *
result_filter(struct mcp_call *call, json_t *r)
{
	struct task		*t;
	struct task_wait	*w;

	if ((t = task_find(call->task)) == NULL) {
		json_decref(r);
		if (call->session != NULL && !call->cancelled)
			mcp_send_error(call->session, call->id,
			    JSONRPC_INVALID_PARAMS, "tasks/result: the task "
			    "expired (its ttl passed) before it ended");
		return NULL;
	}
	TAILQ_FOREACH(w, &t->waiters, entry)
		if (w->reqid == call->reqid) {
			TAILQ_REMOVE(&t->waiters, w, entry);
			free(w);
			break;
		}
	return r;
}

/* legacy only: this client's tasks, oldest first, TASKS_PAGE a page */
void
tasks_list(struct mcp_session *s, json_t *id, json_t *params,
    enum task_era era)
{
	struct task		*t;
	json_t			*arr, *cur, *r;
	const char		*errstr = NULL;
	unsigned long long	 after = 0;
	char			 next[32];
	int			 n = 0;

	if (era == TASK_ERA_2026) {
		mcp_send_error(s, id, JSONRPC_NO_METHOD, "method not found: "
		    "tasks/list (removed in 2026-07-28)");
		return;
	}
	if (era_gate(s, id, params, era, "tasks/list") == -1)
		return;
	if (params != NULL && !json_is_object(params)) {
		mcp_send_error(s, id, JSONRPC_INVALID_PARAMS,
		    "tasks/list: params must be an object");
		return;
	}
	if ((cur = json_object_get(params, "cursor")) != NULL) {
		/* ours look like "t17": the task after which to go on */
		if (json_is_string(cur) && json_string_value(cur)[0] == 't')
			after = strtonum(json_string_value(cur) + 1, 1,
			    LLONG_MAX, &errstr);
		if (!json_is_string(cur) || after == 0 || errstr != NULL ||
		    after > task_seq) {
			mcp_send_error(s, id, JSONRPC_INVALID_PARAMS,
			    "tasks/list: invalid cursor (pass the nextCursor "
			    "of the previous page, unchanged)");
			return;
		}
	}
	if ((arr = json_array()) == NULL)
		fatal(NULL);
	next[0] = '\0';
	TAILQ_FOREACH(t, &tasks, entry) {
		if (t->uid != s->uid || t->seq <= after)
			continue;
		if (n == TASKS_PAGE) {
			snprintf(next, sizeof(next), "t%llu",
			    (unsigned long long)t->seq - 1);
			break;
		}
		json_array_append_new(arr, task_json(t, era, 0));
		n++;
	}
	r = json_pack("{s:o}", "tasks", arr);
	if (next[0] != '\0')
		json_object_set_new(r, "nextCursor", json_string(next));
	mcp_send_result(s, id, r);
}

/*
 * Cancel: the task is cancelled at once (and stays so), then its job is
 * stopped (job_cancel, TaskStop, which wait until the kill is checked);
 * the answer comes after that.
 */
void
tasks_cancel(struct mcp_session *s, json_t *id, json_t *params,
    enum task_era era)
{
	struct task	*t;
	json_t		*args, *req;
	const char	*tool;
	char		 why[64];

	if (era_gate(s, id, params, era, "tasks/cancel") == -1 ||
	    (t = task_arg(s, id, params, "tasks/cancel")) == NULL)
		return;
	if (task_terminal(t)) {
		mcp_send_error(s, id, JSONRPC_INVALID_PARAMS, "tasks/cancel: "
		    "cannot cancel task %s: already in terminal status '%s'",
		    t->id, task_status_name(t->status));
		return;
	}
	snprintf(why, sizeof(why), "uid %u", (unsigned)s->uid);
	task_message(t, "cancelled by tasks/cancel (%s); %s on host \"%s\" "
	    "is being stopped", why, t->job, t->host);
	task_end(t, T_CANCELLED, task_text_result("the task was cancelled "
	    "(tasks/cancel) before it ended; its work was stopped", 1));
	if (t->kind == TK_DELEG) {
		tool = "job_cancel";
		args = json_pack("{s:s}", "job_id", t->job);
	} else {
		tool = "TaskStop";
		args = json_pack("{s:s, s:s}", "task_id", t->job, "host",
		    t->host);
	}
	req = json_pack("{s:i}", "era", (int)era);
	if (args == NULL || req == NULL || tool_find(tool) == NULL ||
	    mcp_call_start(s, id, t->sessid, t->uid, tool_find(tool), args, NULL,
	    cancel_filter, t->id, req) == -1)
		mcp_send_error(s, id, JSONRPC_INTERNAL, "out of memory");
	json_decref(args);
	json_decref(req);
}

/* the kill was checked (or not): say so, answer the tasks/cancel */
static json_t *
cancel_filter(struct mcp_call *call, json_t *r)
{
	struct task	*t;
	enum task_era	 era;
	json_t		*o;

	era = json_integer_value(json_object_get(call->task_req, "era"));
	if (r == NULL || call->session == NULL)
		return NULL;
	t = task_find(call->task);
	if (t != NULL) {
		if (json_is_true(json_object_get(r, "isError")))
			task_message(t, "cancelled, but stopping %s on host "
			    "\"%s\" was not confirmed: %s", t->job, t->host,
			    task_first_text(r));
		else
			task_message(t, "cancelled; %s on host \"%s\" was "
			    "stopped", t->job, t->host);
		t->updated = task_now_ms();
	}
	json_decref(r);
	if (era == TASK_ERA_2026)
		return json_pack("{s:s}", "resultType", "complete");
	if (t == NULL) {
		mcp_send_error(call->session, call->id, JSONRPC_INVALID_PARAMS,
		    "tasks/cancel: the task expired while it was stopped");
		return NULL;
	}
	o = task_json(t, era, 0);
	return o;
}

/*
 * 2026 only: input for a task in input_required.  No tool of bridged
 * asks the client anything, so no key is ever outstanding and every
 * response is ignored, as the extension says to.
 */
void
tasks_update(struct mcp_session *s, json_t *id, json_t *params,
    enum task_era era)
{
	if (era == TASK_ERA_LEGACY) {
		mcp_send_error(s, id, JSONRPC_NO_METHOD, "method not found: "
		    "tasks/update (it came with 2026-07-28)");
		return;
	}
	if (era_gate(s, id, params, era, "tasks/update") == -1 ||
	    task_arg(s, id, params, "tasks/update") == NULL)
		return;
	if (!json_is_object(json_object_get(params, "inputResponses"))) {
		mcp_send_error(s, id, JSONRPC_INVALID_PARAMS, "tasks/update: "
		    "inputResponses must be an object");
		return;
	}
	mcp_send_result(s, id, json_pack("{s:s}", "resultType", "complete"));
}

/*
 * fe_jsonrpc.c's method table: the era is the request's own (a request
 * with 2026-07-28 _meta is served by the extension's rules on any
 * connection, a legacy session's by the capability of 2025-11-25)
 */
static enum task_era
req_era(struct mcp_session *s)
{
	const struct mcp_era	*era = mcp_era_req(s);

	return era != NULL && (era->flags & ERA_MODERN) ? TASK_ERA_2026 :
	    TASK_ERA_LEGACY;
}

void
tasks_m_get(struct mcp_session *s, json_t *id, json_t *params)
{
	tasks_get(s, id, params, req_era(s));
}

void
tasks_m_result(struct mcp_session *s, json_t *id, json_t *params)
{
	tasks_result(s, id, params, req_era(s));
}

void
tasks_m_list(struct mcp_session *s, json_t *id, json_t *params)
{
	tasks_list(s, id, params, req_era(s));
}

void
tasks_m_cancel(struct mcp_session *s, json_t *id, json_t *params)
{
	tasks_cancel(s, id, params, req_era(s));
}

void
tasks_m_update(struct mcp_session *s, json_t *id, json_t *params)
{
	tasks_update(s, id, params, req_era(s));
}
