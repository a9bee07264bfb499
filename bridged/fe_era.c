/*
 * fe_era.c: the MCP protocol revisions the frontend speaks, and what each
 * one has.  One table says which features a revision has (ERA_*); the
 * rest of the frontend asks it for a feature, never compares versions.
 *
 * Two eras share one connection, as the 2026-07-28 versioning page lets
 * a dual-era server do: a request whose params._meta names
 * io.modelcontextprotocol/protocolVersion is modern and served on its
 * own, with no initialize and no session state; anything else belongs to
 * the connection's legacy session, opened by initialize with one of
 * 2024-11-05 ... 2025-11-25.  Both may be in use at once.
 */

#include <sys/types.h>
#include <sys/queue.h>

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
#include "fe_tasks.h"

#ifndef nitems
#define nitems(a)		(sizeof(a) / sizeof((a)[0]))
#endif

#define META_VERSION	"io.modelcontextprotocol/protocolVersion"
#define META_CAPS	MCP_META_CAPS
#define META_INFO	"io.modelcontextprotocol/clientInfo"
#define META_LOGLEVEL	"io.modelcontextprotocol/logLevel"
#define META_SERVER	"io.modelcontextprotocol/serverInfo"

/*
 * Cache hints of 2026-07-28 lists: the tool list changes only with the
 * configuration (a reload), and may one day differ by client: private,
 * and short enough that a reload is seen soon without list_changed.
 */
#define LIST_TTL_MS	60000
#define LIST_SCOPE	"private"

/* oldest first; the modern ones after the legacy ones */
static const struct mcp_era eras[] = {
	{ "2024-11-05",	0 },
	{ "2025-03-26",	ERA_BATCH | ERA_ANNOT | ERA_PROGMSG },
	{ "2025-06-18",	ERA_ANNOT | ERA_PROGMSG | ERA_TITLE | ERA_STRUCT },
	{ "2025-11-25",	ERA_ANNOT | ERA_PROGMSG | ERA_TITLE | ERA_STRUCT },
	{ "2026-07-28",	ERA_ANNOT | ERA_PROGMSG | ERA_TITLE | ERA_STRUCT |
			ERA_MODERN },
};
#define NERAS		nitems(eras)

static const struct mcp_era	*era_modern(const char *);
static json_t			*era_supported(void);
static int			 era_bad(struct mcp_session *, json_t *,
				    const char *);

/*
 * initialize: the client's version when it is a legacy one we speak,
 * else the latest legacy one (a modern version is not negotiated there).
 */
const struct mcp_era *
mcp_era_legacy(const char *want)
{
	const struct mcp_era	*latest = NULL;
	size_t			 i;

	for (i = 0; i < NERAS; i++) {
		if (eras[i].flags & ERA_MODERN)
			continue;
		latest = &eras[i];
		if (want != NULL && strcmp(want, eras[i].version) == 0)
			return &eras[i];
	}
	return latest;
}

static const struct mcp_era *
era_modern(const char *want)
{
	size_t	 i;

	for (i = 0; i < NERAS; i++)
		if ((eras[i].flags & ERA_MODERN) &&
		    strcmp(want, eras[i].version) == 0)
			return &eras[i];
	return NULL;
}

/* the versions a request may name in its _meta */
static json_t *
era_supported(void)
{
	json_t	*a;
	size_t	 i;

	if ((a = json_array()) == NULL)
		return NULL;
	for (i = 0; i < NERAS; i++)
		if (eras[i].flags & ERA_MODERN)
			json_array_append_new(a, json_string(eras[i].version));
	return a;
}

/* the era the request being dispatched is served in; NULL before init */
const struct mcp_era *
mcp_era_req(struct mcp_session *s)
{
	return s->req.era != NULL ? s->req.era : s->era;
}

static int
era_bad(struct mcp_session *s, json_t *id, const char *what)
{
	mcp_send_error(s, id, JSONRPC_INVALID_PARAMS, "invalid params: "
	    "_meta %s", what);
	return -1;
}

/*
 * Is this request modern?  1: yes, s->req says its era and log level;
 * 0: no, the legacy session serves it; -1: refused, answered here.
 * server/discover is modern even without _meta: it is how a client
 * probes for the modern era on a stream.
 */
int
mcp_era_request(struct mcp_session *s, json_t *id, const char *method,
    json_t *params)
{
	const struct mcp_era	*era;
	json_t			*meta, *v, *e;
	char			 shown[MCP_SHOWN_LEN];

	s->req.id = id;
	s->req.method = method;
	s->req.era = NULL;
	s->req.loglevel = -1;
	meta = json_is_object(params) ? json_object_get(params, "_meta") :
	    NULL;
	v = json_is_object(meta) ? json_object_get(meta, META_VERSION) : NULL;
	if (v == NULL) {
		if (strcmp(method, "server/discover") != 0)
			return 0;
		s->req.era = era_modern("2026-07-28");
		return 1;
	}
	if (!json_is_string(v))
		return era_bad(s, id, META_VERSION " must be a string");
	if ((era = era_modern(json_string_value(v))) == NULL) {
		mcp_shown(shown, sizeof(shown), json_string_value(v));
		e = json_pack("{s:s, s:s, s:{s:i, s:s, s:{s:o, s:O}}}",
		    "jsonrpc", "2.0", "id", "", "error",
		    "code", MCP_UNSUPPORTED_VERSION, "message",
		    "unsupported protocol version: bridged serves 2026-07-28 "
		    "per request, and 2024-11-05 to 2025-11-25 through "
		    "initialize", "data", "supported", era_supported(),
		    "requested", v);
		if (e == NULL) {
			mcp_send_error(s, id, JSONRPC_INTERNAL,
			    "internal error");
			return -1;
		}
		json_object_set(e, "id", id);
		log_debug("session %u: modern request for version \"%s\" "
		    "refused", s->id, shown);
		if (!mcp_batch_take(s, e))
			mcp_send_json(s, e);
		return -1;
	}
	v = json_object_get(meta, META_CAPS);
	if (v != NULL && !json_is_object(v))
		return era_bad(s, id, META_CAPS " must be an object");
	v = json_object_get(meta, META_INFO);
	if (v != NULL && (!json_is_object(v) ||
	    (json_object_get(v, "name") != NULL &&
	    !json_is_string(json_object_get(v, "name"))) ||
	    (json_object_get(v, "version") != NULL &&
	    !json_is_string(json_object_get(v, "version")))))
		return era_bad(s, id, META_INFO " must be an object whose "
		    "name and version are strings");
	v = json_object_get(meta, META_LOGLEVEL);
	if (v != NULL && (!json_is_string(v) ||
	    (s->req.loglevel = mcp_log_level(json_string_value(v))) == -1))
		return era_bad(s, id, META_LOGLEVEL " must be one of debug, "
		    "info, notice, warning, error, critical, alert, "
		    "emergency");
	s->req.era = era;
	return 1;
}

/*
 * tools/list as this revision has it.  A copy each time: the list is
 * short, and whatever makes it (the config) may change under a cache.
 */
json_t *
mcp_era_tools(struct mcp_session *s)
{
	const struct mcp_era	*era = mcp_era_req(s);
	json_t			*all, *extra, *out, *t, *c, *props;
	size_t			 i, j, n;
	int			 flags = era != NULL ? era->flags : 0;

	if ((all = json_copy(tools_list_json())) == NULL)
		return NULL;
	/* a client block's own tools (probe tools) after the others */
	if (session_caps(s) != 0) {
		extra = tools_extra_json(session_caps(s));
		json_array_extend(all, extra);
		json_decref(extra);
	}
	if ((out = json_array()) == NULL) {
		json_decref(all);
		return NULL;
	}
	json_array_foreach(all, i, t) {
		if ((c = json_deep_copy(t)) == NULL)
			continue;
		if (!(flags & ERA_ANNOT))
			json_object_del(c, "annotations");
		if (!(flags & ERA_TITLE))
			json_object_del(c, "title");
		if (!(flags & ERA_STRUCT))
			json_object_del(c, "outputSchema");
		if ((flags & ERA_MODERN) && scope_tool(json_string_value(
		    json_object_get(c, "name"))))
			scope_schema(json_object_get(c, "inputSchema"));
		/* HTTP mirrors the host in Mcp-Param-Host (fe_httphdr.c) */
		if ((flags & ERA_MODERN) && json_is_object(props =
		    json_object_get(json_object_get(c, "inputSchema"),
		    "properties")) && json_is_object(json_object_get(props,
		    "host")))
			json_object_set_new(json_object_get(props, "host"),
			    "x-mcp-header", json_string("Host"));
		json_array_append_new(out, c);
	}
	json_decref(all);
	if (!(flags & ERA_MODERN))
		return out;
	/* a deterministic order: by name (insertion sort, the list is short) */
	n = json_array_size(out);
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && strcmp(json_string_value(json_object_get(
		    json_array_get(out, j - 1), "name")), json_string_value(
		    json_object_get(json_array_get(out, j), "name"))) > 0;
		    j--) {
			t = json_incref(json_array_get(out, j));
			json_array_set(out, j, json_array_get(out, j - 1));
			json_array_set_new(out, j - 1, t);
		}
	return out;
}

/* a list result of the request being dispatched gets cache hints */
void
mcp_era_cacheable(struct mcp_session *s, json_t *r)
{
	const struct mcp_era	*era = mcp_era_req(s);

	if (r == NULL || era == NULL || !(era->flags & ERA_MODERN))
		return;
	json_object_set_new(r, "ttlMs", json_integer(LIST_TTL_MS));
	json_object_set_new(r, "cacheScope", json_string(LIST_SCOPE));
}

/*
 * A modern result says what it is and who answered.  Idempotent: a
 * result may pass here twice (a call answered while being dispatched).
 */
json_t *
mcp_era_stamp(const struct mcp_era *era, json_t *r)
{
	json_t	*meta;

	if (r == NULL || era == NULL || !(era->flags & ERA_MODERN) ||
	    !json_is_object(r))
		return r;
	if (json_object_get(r, "resultType") == NULL)
		json_object_set_new(r, "resultType", json_string("complete"));
	if (!json_is_object(meta = json_object_get(r, "_meta"))) {
		meta = json_object();
		json_object_set_new(r, "_meta", meta);
	}
	if (meta != NULL)
		json_object_set_new(meta, META_SERVER, json_pack("{s:s, s:s}",
		    "name", "bridged", "version", BRIDGED_VERSION));
	return r;
}

/*
 * A tools/call result as the call's revision has it: before 2025-06-18
 * there is no structuredContent, so its JSON goes in a text block (when
 * no text block carries it already); a modern call reports the shell
 * handle it minted, and is stamped.
 */
json_t *
mcp_era_call_result(struct mcp_call *call, json_t *r)
{
	json_t	*sc, *b, *content;
	char	*text;
	size_t	 i;
	int	 flags = call->era != NULL ? call->era->flags : 0;

	if (r == NULL)
		return NULL;
	if (!(flags & ERA_STRUCT) &&
	    (sc = json_object_get(r, "structuredContent")) != NULL) {
		content = json_object_get(r, "content");
		if ((text = json_dumps(sc, JSON_COMPACT)) != NULL &&
		    json_is_array(content)) {
			json_array_foreach(content, i, b)
				if (json_is_string(json_object_get(b, "text")) &&
				    strcmp(json_string_value(json_object_get(b,
				    "text")), text) == 0)
					break;
			if (i == json_array_size(content))
				json_array_append_new(content, json_pack(
				    "{s:s, s:s}", "type", "text", "text", text));
		}
		free(text);
		json_object_del(r, "structuredContent");
	}
	if (flags & ERA_MODERN) {
		scope_result(call, r);
		mcp_era_stamp(call->era, r);
	}
	return r;
}

/*
 * prompts/list, resources/list, resources/templates/list: bridged has
 * none to offer, and says so with an empty (cacheable) list rather than
 * an error a client would have to tell from a failure.
 */
void
m_empty_list(struct mcp_session *s, json_t *id, json_t *params)
{
	const char	*key;
	json_t		*r;

	key = s->req.method != NULL && strcmp(s->req.method,
	    "prompts/list") == 0 ? "prompts" : s->req.method != NULL &&
	    strcmp(s->req.method, "resources/list") == 0 ? "resources" :
	    "resourceTemplates";
	if ((r = json_pack("{s:[]}", key)) == NULL) {
		mcp_send_error(s, id, JSONRPC_INTERNAL, "internal error");
		return;
	}
	mcp_era_cacheable(s, r);
	mcp_send_result(s, id, r);
}

/* server/discover: what a modern client needs to know, in one answer */
void
m_server_discover(struct mcp_session *s, json_t *id, json_t *params)
{
	json_t	*r;

	r = json_pack("{s:o, s:o, s:{s:s, s:s, s:s}, s:s}",
	    "supportedVersions", era_supported(),
	    "capabilities", mcp_capabilities(),
	    "serverInfo", "name", "bridged", "title", "bridged",
	    "version", BRIDGED_VERSION,
	    "instructions", mcp_instructions);
	if (r == NULL) {
		mcp_send_error(s, id, JSONRPC_INTERNAL, "internal error");
		return;
	}
	/* tasks: the extension of 2026-07-28 */
	json_object_set_new(json_object_get(r, "capabilities"), "extensions",
	    json_pack("{s:o}", TASKS_EXTENSION,
	    tasks_capability(TASK_ERA_2026)));
	mcp_era_cacheable(s, r);
	mcp_send_result(s, id, r);
}

/*
 * A JSON-RPC batch (2025-03-26): answered with one array once every
 * request in it is, tool calls that finish later included.
 */
struct mcp_batch {
	json_t		*out;		/* the responses so far */
	int		 pending;	/* calls of it still running */
	int		 open;		/* its requests are being read */
};

static void	 batch_check(struct mcp_session *, struct mcp_batch *);

struct mcp_batch *
mcp_batch_open(void)
{
	struct mcp_batch	*b;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	if ((b->out = json_array()) == NULL) {
		free(b);
		return NULL;
	}
	b->open = 1;
	return b;
}

/* its requests are all read: it goes now, or when its last call ends */
void
mcp_batch_close(struct mcp_session *s, struct mcp_batch *b)
{
	b->open = 0;
	batch_check(s, b);
}

void
mcp_batch_hold(struct mcp_batch *b)
{
	b->pending++;
}

void
mcp_batch_release(struct mcp_session *s, struct mcp_batch *b)
{
	b->pending--;
	batch_check(s, b);
}

static void
batch_check(struct mcp_session *s, struct mcp_batch *b)
{
	if (b->open || b->pending > 0)
		return;
	if (json_array_size(b->out) > 0)
		mcp_send_json(s, b->out);
	else
		json_decref(b->out);
	free(b);
}

/* fe_mcp.c: a response while a batch is being answered goes into it */
int
mcp_batch_take(struct mcp_session *s, json_t *m)
{
	if (s->batch == NULL)
		return 0;
	if (json_array_append_new(s->batch->out, m) == -1)
		log_warnx("session %u: a batch response is lost: out of memory",
		    s->id);
	return 1;
}

void
m_initialize(struct mcp_session *s, json_t *id, json_t *params)
{
	json_t		*v, *info, *name, *version, *r;
	const char	*want, *proto;

	if (s->state != SESSION_NEW) {
		mcp_send_error(s, id, JSONRPC_INVALID_REQUEST,
		    "session already initialized");
		return;
	}
	if (!json_is_object(params)) {
		mcp_send_error(s, id, JSONRPC_INVALID_PARAMS, "initialize: "
		    "params must be an object with protocolVersion, "
		    "capabilities and clientInfo");
		return;
	}
	v = json_object_get(params, "protocolVersion");
	if (!json_is_string(v)) {
		mcp_send_error(s, id, JSONRPC_INVALID_PARAMS,
		    "initialize: protocolVersion must be a string");
		return;
	}
	want = json_string_value(v);
	v = json_object_get(params, "capabilities");
	if (v != NULL && !json_is_object(v)) {
		mcp_send_error(s, id, JSONRPC_INVALID_PARAMS,
		    "initialize: capabilities must be an object");
		return;
	}
	info = json_object_get(params, "clientInfo");
	name = version = NULL;
	if (info != NULL) {
		if (!json_is_object(info)) {
			mcp_send_error(s, id, JSONRPC_INVALID_PARAMS,
			    "initialize: clientInfo must be an object");
			return;
		}
		name = json_object_get(info, "name");
		version = json_object_get(info, "version");
		if ((name != NULL && !json_is_string(name)) ||
		    (version != NULL && !json_is_string(version))) {
			mcp_send_error(s, id, JSONRPC_INVALID_PARAMS,
			    "initialize: clientInfo name and version must be "
			    "strings");
			return;
		}
	}

	s->era = mcp_era_legacy(want);
	/* what the client can do, for tools that rely on it (client_cap) */
	json_decref(s->client_caps);
	s->client_caps = json_is_object(v) ? json_incref(v) : json_object();
	proto = s->era->version;
	strlcpy(s->protocol, proto, sizeof(s->protocol));
	mcp_shown(s->client, sizeof(s->client),
	    name != NULL ? json_string_value(name) : "");
	mcp_shown(s->client_version, sizeof(s->client_version),
	    version != NULL ? json_string_value(version) : "");

	r = json_pack("{s:s, s:o, s:{s:s, s:s, s:s}, s:s}",
	    "protocolVersion", proto,
	    "capabilities", mcp_capabilities(),
	    "serverInfo", "name", "bridged", "title", "bridged",
	    "version", BRIDGED_VERSION,
	    "instructions", mcp_instructions);
	if (r == NULL) {
		mcp_send_error(s, id, JSONRPC_INTERNAL, "internal error");
		return;
	}
	/* the revisions that have tasks (dates compare as strings) */
	if (strcmp(proto, TASKS_LEGACY_VERSION) >= 0)
		json_object_set_new(json_object_get(r, "capabilities"),
		    "tasks", tasks_capability(TASK_ERA_LEGACY));
	s->state = SESSION_INITIALIZED;
	log_info("session %u: client \"%s\" %s, protocol %s", s->id,
	    s->client, s->client_version, s->protocol);
	mcp_session_record(s, "initialize");
	mcp_send_result(s, id, r);
}

/* initialize's capabilities: legacy sessions are sent list_changed */
json_t *
mcp_capabilities(void)
{
	/*
	 * prompts: served, and empty (fe_era.c); resources: the relay's
	 * channels, which can be subscribed to when the relay is on
	 */
	json_t	*caps;
	int	 relay = frontend_conf != NULL &&
		    frontend_conf->relay_db[0] != '\0';

	caps = json_pack("{s:{s:b}, s:{}, s:{s:b}, s:{s:b, s:b}}", "tools",
	    "listChanged", 1, "logging", "prompts", "listChanged", 0,
	    "resources", "subscribe", relay, "listChanged", 0);
	/* Claude Code's channels: subscribed channels' messages pushed */
	if (caps != NULL && relay)
		json_object_set_new(caps, "experimental", json_pack("{s:{}}",
		    "claude/channel"));
	return caps;
}
