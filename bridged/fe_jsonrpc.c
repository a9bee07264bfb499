/*
 * fe_jsonrpc.c: what is said in an MCP session.  A line from fe_mcp.c is parsed
 * (duplicate keys refused), checked as a JSON-RPC 2.0 message and handed
 * to its method, after every member used has been type-checked.  A string
 * holding a NUL is refused before anything looks at the message: C code
 * would see only its first part.
 *
 * Tool calls live in an in-flight table keyed by a request id that travels
 * as peerid to the other processes; replies are routed back by it.  A call
 * is answered exactly once (result, timeout) or never (cancelled, session
 * gone), and freed at that moment.
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

#ifndef nitems
#define nitems(a)		(sizeof(a) / sizeof((a)[0]))
#endif

struct method {
	const char	*name;
	int		 preinit;	/* served before initialize */
	void		(*fn)(struct mcp_session *, json_t *, json_t *);
	int		 eras;		/* METHOD_*; 0: both eras */
};
#define METHOD_LEGACY	0x01	/* not a 2026-07-28 method */
#define METHOD_MODERN	0x02	/* 2026-07-28 only */


struct notification {
	const char	*name;
	void		(*fn)(struct mcp_session *, json_t *);
};

static json_t	*parse_nul_key(const char *, size_t, json_error_t *);
static int	 has_nul(json_t *);
static void	 handle_message(struct mcp_session *, json_t *, int);
static void	 handle_batch(struct mcp_session *, json_t *);

static void	 m_ping(struct mcp_session *, json_t *, json_t *);
static void	 m_set_level(struct mcp_session *, json_t *, json_t *);
static void	 m_tools_list(struct mcp_session *, json_t *, json_t *);
static void	 m_tools_call(struct mcp_session *, json_t *, json_t *);
static void	 n_initialized(struct mcp_session *, json_t *);
static void	 n_cancelled(struct mcp_session *, json_t *);

static struct mcp_call *call_new(struct mcp_session *, json_t *,
		    const struct tool *, json_t *, json_t *);
static void	 call_finish(struct mcp_call *, json_t *, const char *);
static void	 call_timeout(int, short, void *);
static int	 call_cmp(struct mcp_call *, struct mcp_call *);

/* libbsd's RB_*_STATIC need a __unused it does not define: go global */
RB_HEAD(mcp_calltree, mcp_call);
RB_PROTOTYPE(mcp_calltree, mcp_call, tentry, call_cmp)
RB_GENERATE(mcp_calltree, mcp_call, tentry, call_cmp)

static const struct method methods[] = {
	{ "initialize",		1, m_initialize, METHOD_LEGACY },
	{ "logging/setLevel",	0, m_set_level, METHOD_LEGACY },
	{ "ping",		1, m_ping, METHOD_LEGACY },
	{ "prompts/list",	0, m_empty_list, 0 },
	{ "resources/list",	0, m_resources_list, 0 },
	{ "resources/read",	0, m_resources_read, 0 },
	{ "resources/subscribe", 0, m_resources_subscribe, METHOD_LEGACY },
	{ "resources/templates/list", 0, m_empty_list, 0 },
	{ "resources/unsubscribe", 0, m_resources_subscribe, METHOD_LEGACY },
	{ "server/discover",	1, m_server_discover, METHOD_MODERN },
	{ "subscriptions/listen", 1, m_subs_listen, METHOD_MODERN },
	{ "tasks/cancel",	0, tasks_m_cancel, 0 },
	{ "tasks/get",		0, tasks_m_get, 0 },
	{ "tasks/list",		0, tasks_m_list, 0 },
	{ "tasks/result",	0, tasks_m_result, 0 },
	{ "tasks/update",	0, tasks_m_update, METHOD_MODERN },
	{ "tools/call",		0, m_tools_call, 0 },
	{ "tools/list",		0, m_tools_list, 0 },
};

static const struct notification notifications[] = {
	{ "notifications/cancelled",	n_cancelled },
	{ "notifications/initialized",	n_initialized },
};

static const char *log_levels[] = {
	"debug", "info", "notice", "warning", "error", "critical", "alert",
	"emergency",
};
#define NLEVELS		nitems(log_levels)

const char mcp_instructions[] =
    "bridged gives you audited, policy-confined access to remote hosts "
    "over SSH.  Call the \"hosts\" tool first: it lists the configured "
    "hosts, what each allows and which one is the default.  Every other "
    "tool takes an optional \"host\" argument naming one of them; without "
    "it the default host is used.  A refusal names the capability that "
    "is missing and the configuration line an operator would change.";

static struct mcp_calltree calls = RB_INITIALIZER(&calls);
static int		 ninflight;
static uint32_t		 next_reqid = 1;

/*
 * Parsing
 */

/*
 * Duplicate keys are refused: two "method" or "id" members would let the
 * client mean one thing to us and another to a log reader.  A NUL in a
 * string is let through the parser only so that the request can be
 * refused by its id.
 */
void
mcp_message(struct mcp_session *s, const char *line, size_t len)
{
	json_t		*msg;
	json_error_t	 err;
	int		 nul = 0;

	msg = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY |
	    JSON_ALLOW_NUL, &err);
	if (msg == NULL &&
	    json_error_code(&err) == json_error_null_byte_in_key) {
		msg = parse_nul_key(line, len, &err);
		nul = 1;
	}
	if (msg == NULL) {
		log_debug("session %u: parse error: %s", s->id, err.text);
		mcp_send_error(s, NULL, JSONRPC_PARSE_ERROR, "parse error: %s "
		    "at byte %d", err.text, err.position);
		return;
	}
	handle_message(s, msg, nul || has_nul(msg));
	json_decref(msg);
}

/*
 * jansson refuses a NUL in an object key even with JSON_ALLOW_NUL.  To
 * find the id of such a request all the same, parse a copy in which each
 * \u0000 escape inside a string is \u0001; the caller knows what it was.
 */
static json_t *
parse_nul_key(const char *line, size_t len, json_error_t *err)
{
	json_t	*msg;
	char	*t;
	size_t	 i;
	int	 instr = 0;

	if ((t = malloc(len)) == NULL)
		return NULL;
	memcpy(t, line, len);
	for (i = 0; i < len; i++) {
		if (!instr)
			instr = t[i] == '"';
		else if (t[i] == '"')
			instr = 0;
		else if (t[i] == '\\') {
			if (len - i > 5 && memcmp(t + i + 1, "u0000", 5) == 0)
				t[i + 5] = '1';
			i++;	/* the escaped character */
		}
	}
	msg = json_loadb(t, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY |
	    JSON_ALLOW_NUL, err);
	free(t);
	return msg;
}

/*
 * Does any string, key or value, at any depth hold a NUL?  jansson bounds
 * the nesting of what it parses, so the recursion is bounded too.
 */
static int
has_nul(json_t *j)
{
	const char	*key;
	json_t		*v;
	size_t		 i, klen;

	switch (json_typeof(j)) {
	case JSON_STRING:
		return memchr(json_string_value(j), '\0',
		    json_string_length(j)) != NULL;
	case JSON_ARRAY:
		json_array_foreach(j, i, v)
			if (has_nul(v))
				return 1;
		return 0;
	case JSON_OBJECT:
		json_object_keylen_foreach(j, key, klen, v)
			if (memchr(key, '\0', klen) != NULL || has_nul(v))
				return 1;
		return 0;
	default:
		return 0;
	}
}

/*
 * JSON-RPC
 */

/* nul: some string in msg holds a NUL (has_nul, parse_nul_key) */
static void
handle_message(struct mcp_session *s, json_t *msg, int nul)
{
	json_t		*id, *v, *params;
	const char	*method;
	char		 name[MCP_SHOWN_LEN];
	size_t		 i;
	int		 modern;

	if (json_is_array(msg)) {
		if (s->batch == NULL && s->era != NULL &&
		    (s->era->flags & ERA_BATCH) && json_array_size(msg) > 0) {
			handle_batch(s, msg);
			return;
		}
		mcp_send_error(s, NULL, JSONRPC_INVALID_REQUEST,
		    "batches are not supported%s: send one JSON-RPC message "
		    "per line", s->batch != NULL ? " inside a batch" :
		    json_array_size(msg) == 0 ? " empty" : " in this "
		    "protocol version (only 2025-03-26 has them)");
		return;
	}
	if (!json_is_object(msg)) {
		mcp_send_error(s, NULL, JSONRPC_INVALID_REQUEST,
		    "invalid request: a JSON-RPC message is a JSON object");
		return;
	}
	id = json_object_get(msg, "id");
	if (id != NULL && !json_is_string(id) && !json_is_integer(id)) {
		mcp_send_error(s, NULL, JSONRPC_INVALID_REQUEST,
		    "invalid request: id must be a string or an integer");
		return;
	}
	/*
	 * Before any member is compared: "ping\u0000x" is "ping" to C.
	 * The id is echoed as sent, a NUL in it too; JSON carries it.
	 */
	if (nul) {
		log_debug("session %u: NUL in a string refused", s->id);
		if (id != NULL)
			mcp_send_error(s, id, JSONRPC_INVALID_PARAMS,
			    "strings must not contain NUL (\\u0000)");
		return;
	}
	v = json_object_get(msg, "jsonrpc");
	if (!json_is_string(v) || strcmp(json_string_value(v), "2.0") != 0) {
		mcp_send_error(s, id, JSONRPC_INVALID_REQUEST,
		    "invalid request: \"jsonrpc\" must be \"2.0\"");
		return;
	}
	v = json_object_get(msg, "method");
	if (v == NULL && (json_object_get(msg, "result") != NULL ||
	    json_object_get(msg, "error") != NULL)) {
		/* we never send requests, so no response is awaited */
		log_debug("session %u: ignoring a response", s->id);
		return;
	}
	if (!json_is_string(v)) {
		mcp_send_error(s, id, JSONRPC_INVALID_REQUEST,
		    "invalid request: \"method\" must be a string");
		return;
	}
	method = json_string_value(v);
	params = json_object_get(msg, "params");

	if (id == NULL) {
		/* notifications are never answered, not even errors */
		if (params != NULL && !json_is_object(params) &&
		    !json_is_array(params))
			return;
		for (i = 0; i < nitems(notifications); i++)
			if (strcmp(notifications[i].name, method) == 0) {
				notifications[i].fn(s, params);
				return;
			}
		mcp_shown(name, sizeof(name), method);
		log_debug("session %u: ignoring notification %s", s->id,
		    name);
		return;
	}

	s->requests++;
	if (params != NULL && !json_is_object(params) &&
	    !json_is_array(params)) {
		mcp_send_error(s, id, JSONRPC_INVALID_PARAMS,
		    "invalid params: \"params\" must be an object");
		return;
	}
	/* a modern request is served on its own, no initialize needed */
	if ((modern = mcp_era_request(s, id, method, params)) == -1)
		goto done;
	mcp_shown(name, sizeof(name), method);
	for (i = 0; i < nitems(methods); i++)
		if (strcmp(methods[i].name, method) == 0)
			break;
	if (modern && s->batch != NULL)
		mcp_send_error(s, id, JSONRPC_INVALID_REQUEST, "a 2026-07-28 "
		    "request cannot be part of a batch: send it on its own "
		    "line");
	else if (i == nitems(methods) || (modern &&
	    (methods[i].eras & METHOD_LEGACY)))
		mcp_send_error(s, id, JSONRPC_NO_METHOD, "method not found: "
		    "%s%s", name, i < nitems(methods) ? " (not a method of "
		    "protocol 2026-07-28; it needs an initialized session)" :
		    "");
	/*
	 * -32600 rather than the -32002 some servers use: the request is
	 * not valid in this state, which is what invalid request means,
	 * and it is a code every JSON-RPC client knows.
	 */
	else if (!modern && s->state == SESSION_NEW && !methods[i].preinit)
		mcp_send_error(s, id, JSONRPC_INVALID_REQUEST,
		    "session not initialized: send initialize first, or "
		    "name protocol 2026-07-28 in the request's _meta");
	else
		methods[i].fn(s, id, params);
 done:
	s->req.id = NULL;
	s->req.method = NULL;
	s->req.era = NULL;
	s->req.loglevel = -1;
}

/*
 * A batch's requests are handled in order; what each answers goes into
 * the batch (fe_mcp.c asks mcp_batch_take), and the batch is sent once
 * nothing in it is pending.  Notifications in it get nothing, as always.
 */
static void
handle_batch(struct mcp_session *s, json_t *msg)
{
	struct mcp_batch	*b;
	json_t			*v;
	size_t			 i;

	if ((b = mcp_batch_open()) == NULL) {
		mcp_send_error(s, NULL, JSONRPC_INTERNAL,
		    "internal error: out of memory");
		return;
	}
	s->batch = b;
	json_array_foreach(msg, i, v)
		handle_message(s, v, has_nul(v));
	s->batch = NULL;
	mcp_batch_close(s, b);
}

int
mcp_log_level(const char *name)
{
	size_t	 i;

	for (i = 0; i < NLEVELS; i++)
		if (strcmp(name, log_levels[i]) == 0)
			return i;
	return -1;
}

int
mcp_call_loglevel(struct mcp_call *call)
{
	if (call->era != NULL && (call->era->flags & ERA_MODERN))
		return call->loglevel;
	return call->session->loglevel;
}

static void
m_ping(struct mcp_session *s, json_t *id, json_t *params)
{
	mcp_send_result(s, id, json_object());
}

static void
m_set_level(struct mcp_session *s, json_t *id, json_t *params)
{
	json_t	*v;
	int	 level;

	v = json_object_get(params, "level");
	if (json_is_string(v) &&
	    (level = mcp_log_level(json_string_value(v))) != -1) {
		s->loglevel = level;
		mcp_send_result(s, id, json_object());
		return;
	}
	mcp_send_error(s, id, JSONRPC_INVALID_PARAMS, "logging/setLevel: level "
	    "must be one of debug, info, notice, warning, error, critical, "
	    "alert, emergency");
}

static void
m_tools_list(struct mcp_session *s, json_t *id, json_t *params)
{
	json_t	*r;

	/* the list is short: one page, so any cursor is one we never gave */
	if (json_is_object(params) && json_object_get(params, "cursor") !=
	    NULL) {
		mcp_send_error(s, id, JSONRPC_INVALID_PARAMS, "invalid cursor");
		return;
	}
	r = json_pack("{s:o}", "tools", backchan_tools(s, mcp_era_tools(s)));
	if (r != NULL)
		tools_list_trim(json_object_get(r, "tools"),
		    http_principal_caps(s) | session_caps(s));
	mcp_era_cacheable(s, r);
	mcp_send_result(s, id, r);
}

/*
 * A tool that relies on a client capability runs only for a request
 * whose client declared it: a 2026-07-28 request in its _meta, a
 * legacy one at initialize.  -1: refused with -32021, answered.
 */
static int
client_cap_missing(struct mcp_session *s, json_t *id, json_t *params,
    const struct tool *tool)
{
	const struct mcp_era	*era = mcp_era_req(s);
	json_t			*caps, *e;

	if (era != NULL && (era->flags & ERA_MODERN))
		caps = json_object_get(json_object_get(params, "_meta"),
		    MCP_META_CAPS);
	else
		caps = s->client_caps;
	if (json_is_object(json_object_get(caps, tool->client_cap)))
		return 0;
	e = json_pack("{s:s, s:O, s:{s:i, s:s+, s:{s:{s:{}}}}}",
	    "jsonrpc", "2.0", "id", id, "error", "code", JSONRPC_MISSING_CAP,
	    "message", "Missing required client capability: ",
	    tool->client_cap, "data", "requiredCapabilities",
	    tool->client_cap);
	if (e == NULL)
		mcp_send_error(s, id, JSONRPC_INTERNAL, "internal error");
	else
		mcp_send_json(s, e);
	return -1;
}

static void
m_tools_call(struct mcp_session *s, json_t *id, json_t *params)
{
	const struct tool	*tool;
	struct mcp_call		*call;
	const struct mcp_era	*era;
	json_t			*v, *args, *meta, *token;
	char			 name[MCP_SHOWN_LEN];

	if (!json_is_object(params)) {
		mcp_send_error(s, id, JSONRPC_INVALID_PARAMS,
		    "tools/call: params must be an object with name and "
		    "arguments");
		return;
	}
	v = json_object_get(params, "name");
	if (!json_is_string(v)) {
		mcp_send_error(s, id, JSONRPC_INVALID_PARAMS,
		    "tools/call: name must be a string naming a tool");
		return;
	}
	/* a principal's own tools (probe tools) exist for it alone */
	if ((tool = tool_find(json_string_value(v))) == NULL ||
	    (tool->list_cap & CAP_PROBE & ~session_caps(s)) != 0) {
		mcp_shown(name, sizeof(name), json_string_value(v));
		mcp_send_error(s, id, JSONRPC_INVALID_PARAMS,
		    "unknown tool: %s", name);
		return;
	}
	if (tool->client_cap != NULL && client_cap_missing(s, id, params,
	    tool) == -1)
		return;
	args = json_object_get(params, "arguments");
	if (args != NULL && !json_is_object(args)) {
		mcp_send_error(s, id, JSONRPC_INVALID_PARAMS,
		    "tools/call: arguments must be an object");
		return;
	}
	/* a delegation's back-channel: its relay tools and channels only */
	if (backchan_tool_refuses(s, id, tool, args) == -1)
		return;
	token = NULL;
	if ((meta = json_object_get(params, "_meta")) != NULL) {
		if (!json_is_object(meta)) {
			mcp_send_error(s, id, JSONRPC_INVALID_PARAMS,
			    "tools/call: _meta must be an object");
			return;
		}
		token = json_object_get(meta, "progressToken");
		if (token != NULL && !json_is_string(token) &&
		    !json_is_integer(token)) {
			mcp_send_error(s, id, JSONRPC_INVALID_PARAMS,
			    "tools/call: progressToken must be a string or an "
			    "integer");
			return;
		}
	}
	/* ids identify calls for cancellation: two in flight is ambiguous */
	TAILQ_FOREACH(call, &s->calls, sentry)
		if (json_equal(call->id, id)) {
			mcp_send_error(s, id, JSONRPC_INVALID_REQUEST,
			    "request id is already used by a call in flight");
			return;
		}
	if (frontend_shutting_down()) {
		mcp_send_result(s, id, json_pack("{s:[{s:s, s:s}], s:b}",
		    "content", "type", "text", "text", "bridged is shutting "
		    "down and takes no new calls; retry once it is back",
		    "isError", 1));
		return;
	}
	/* with a task param: answered with a task handle (fe_tasks.c) */
	era = mcp_era_req(s);
	if (tasks_tools_call(s, id, tool, params, token, era != NULL &&
	    (era->flags & ERA_MODERN) ? TASK_ERA_2026 : TASK_ERA_LEGACY) != 0)
		return;
	if ((call = call_new(s, id, tool, args, token)) == NULL) {
		mcp_send_error(s, id, JSONRPC_INTERNAL,
		    "internal error: out of memory");
		return;
	}
	/* a modern call's state is the principal's, not the session's */
	if ((call->era->flags & ERA_MODERN) && scope_bind(call) == -1)
		return;
	log_debug("session %u: call %u: %s", s->id, call->reqid, tool->name);
	/* the call may be answered and freed before run returns */
	if (tool->run(call, call->args) == -1)
		mcp_call_text(call, 1, "internal error: %s could not start",
		    tool->name);
}

static void
n_initialized(struct mcp_session *s, json_t *params)
{
	if (s->state == SESSION_INITIALIZED)
		s->state = SESSION_READY;
	else
		log_debug("session %u: initialized notification out of "
		    "order", s->id);
}

static void
n_cancelled(struct mcp_session *s, json_t *params)
{
	struct mcp_call	*call;
	json_t		*rid;

	rid = json_object_get(params, "requestId");
	if (rid == NULL || (!json_is_string(rid) && !json_is_integer(rid)))
		return;
	if (mcp_subs_cancel(s, rid))
		return;
	TAILQ_FOREACH(call, &s->calls, sentry)
		if (json_equal(call->id, rid))
			break;
	if (call == NULL) {
		log_debug("session %u: cancel for no call in flight", s->id);
		return;
	}
	log_info("session %u: call %u (%s) cancelled by the client", s->id,
	    call->reqid, call->tool->name);
	call->cancelled = 1;
	call_finish(call, NULL, "cancelled");
}

/*
 * In-flight calls
 */

void
mcp_calls_drop(struct mcp_session *s)
{
	struct mcp_call	*call;

	while ((call = TAILQ_FIRST(&s->calls)) != NULL) {
		call->cancelled = 1;
		call_finish(call, NULL, "cancelled");
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

static struct mcp_call *
call_new(struct mcp_session *s, json_t *id, const struct tool *tool,
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

	if ((call = call_new(s, id, tool, args, token)) == NULL)
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

static void
call_timeout(int fd, short ev, void *arg)
{
	struct mcp_call	*call = arg;

	struct timespec	 now;
	long long	 s;

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
	else if (call->worker[0] != '\0')
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
static void
call_finish(struct mcp_call *call, json_t *result, const char *outcome)
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
	call_finish(call, result, outcome);
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
