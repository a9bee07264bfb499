/*
 * fe_jsonrpc.c: what is said in an MCP session.  A line from fe_mcp.c is parsed
 * (duplicate keys refused), checked as a JSON-RPC 2.0 message and handed
 * to its method, after every member used has been type-checked.  A string
 * holding a NUL is refused before anything looks at the message: C code
 * would see only its first part.
 *
 * Tool calls in flight: fe_calls.c.
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
static void	 notification_refused(struct mcp_session *, const char *);

static void	 m_ping(struct mcp_session *, json_t *, json_t *);
static void	 m_set_level(struct mcp_session *, json_t *, json_t *);
static void	 m_tools_list(struct mcp_session *, json_t *, json_t *);
static void	 m_tools_call(struct mcp_session *, json_t *, json_t *);
static void	 n_initialized(struct mcp_session *, json_t *);
static void	 n_cancelled(struct mcp_session *, json_t *);

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

/*
 * A notification that cannot be taken.  On a stream nothing answers it
 * (JSON-RPC answers no notification, not even with an error); over HTTP
 * the POST that carried it is answered all the same, and 2025-11-25
 * refuses it with an error status and an error of id null: the
 * transport's hook is given that error (fe_httpsess.c: 400).
 */
static void
notification_refused(struct mcp_session *s, const char *why)
{
	log_debug("session %u: invalid notification: %s", s->id, why);
	if (s->output != NULL)
		mcp_send_error(s, NULL, JSONRPC_INVALID_REQUEST,
		    "invalid notification: %s", why);
}

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
		else
			notification_refused(s, "strings must not contain NUL "
			    "(\\u0000)");
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
		if (params != NULL && !json_is_object(params) &&
		    !json_is_array(params)) {
			notification_refused(s, "\"params\" must be an "
			    "object or an array");
			return;
		}
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
	if ((call = mcp_call_new(s, id, tool, args, token)) == NULL) {
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
	mcp_call_finish(call, NULL, "cancelled");
}
