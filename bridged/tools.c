/*
 * tools.c: the one table of MCP tools, the helpers every tool shares
 * (host resolution, capability checks) and the tools themselves.
 *
 * Runs in the frontend: no files, no sockets.  Anything a tool needs from
 * a remote host it asks of the ssh worker over imsg, with the call's
 * request id as peerid; mcp_dispatch_ssh routes the replies back to the
 * tool's reply function.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bridged.h"
#include "frontend.h"
#include "log.h"
#include "tools.h"

#define TOOL_NAME_MAX	128

static int	 tool_name_ok(const char *);
static json_t	*schema_parse(const char *, const char *, const char *);
static char	*hostnames(void);
static json_t	*str_or_null(const char *, size_t);

static int	 hosts_run(struct mcp_call *, json_t *);
static void	 hosts_reply(struct mcp_call *, struct imsg *);

static const struct tool tools[] = {
	{
		.name = "hosts",
		.title = "Configured hosts",
		.description =
		    "List the SSH hosts this server can reach: address, "
		    "user, the capabilities each allows (read, write, exec, "
		    "delegate, forward), its base directory, whether it is "
		    "the default host, and the current connection state.  "
		    "Call this first to learn which host names the other "
		    "tools accept in their \"host\" argument.",
		.input_schema =
		    "{\"type\":\"object\",\"additionalProperties\":false}",
		.output_schema =
		    "{\"type\":\"object\","
		    "\"properties\":{\"hosts\":{\"type\":\"array\","
		    "\"items\":{\"type\":\"object\","
		    "\"properties\":{"
		    "\"name\":{\"type\":\"string\"},"
		    "\"address\":{\"type\":\"string\"},"
		    "\"port\":{\"type\":\"integer\"},"
		    "\"user\":{\"type\":\"string\"},"
		    "\"capabilities\":{\"type\":\"array\","
		    "\"items\":{\"type\":\"string\",\"enum\":[\"read\","
		    "\"write\",\"exec\",\"delegate\",\"forward\"]}},"
		    "\"base_dir\":{\"type\":\"string\"},"
		    "\"default\":{\"type\":\"boolean\"},"
		    "\"state\":{\"type\":\"string\",\"enum\":["
		    "\"disconnected\",\"connecting\",\"connected\","
		    "\"failed\",\"unknown\"]},"
		    "\"since\":{\"type\":[\"integer\",\"null\"]},"
		    "\"fingerprint\":{\"type\":[\"string\",\"null\"]},"
		    "\"last_error\":{\"type\":[\"string\",\"null\"]}},"
		    "\"required\":[\"name\",\"address\",\"port\",\"user\","
		    "\"capabilities\",\"base_dir\",\"default\",\"state\"]}}},"
		    "\"required\":[\"hosts\"]}",
		.annotations = TOOL_READONLY | TOOL_IDEMPOTENT,
		.cap = 0,
		.run = hosts_run,
		.reply = hosts_reply,
	},
};
#define NTOOLS	(sizeof(tools) / sizeof(tools[0]))

static json_t	*tools_list;

static int
tool_name_ok(const char *name)
{
	size_t	 i, len = strlen(name);

	if (len == 0 || len > TOOL_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", name[i]) == NULL)
			return 0;
	return 1;
}

/* The schemas are literals in this file: a bad one is our bug. */
static json_t *
schema_parse(const char *tool, const char *what, const char *text)
{
	json_t		*schema;
	json_error_t	 err;

	if ((schema = json_loads(text, JSON_REJECT_DUPLICATES, &err)) == NULL)
		fatalx("tool %s: %s: %s", tool, what, err.text);
	if (!json_is_object(schema) || !json_is_string(json_object_get(schema,
	    "type")) || strcmp(json_string_value(json_object_get(schema,
	    "type")), "object") != 0)
		fatalx("tool %s: %s is not an object schema", tool, what);
	return schema;
}

void
tools_init(void)
{
	const struct tool	*t;
	json_t			*o, *ann;
	size_t			 i, j;

	if (tools_list != NULL)
		return;
	if ((tools_list = json_array()) == NULL)
		fatalx("%s: out of memory", __func__);
	for (i = 0; i < NTOOLS; i++) {
		t = &tools[i];
		if (!tool_name_ok(t->name))
			fatalx("tool name \"%s\" is not valid", t->name);
		for (j = 0; j < i; j++)
			if (strcmp(tools[j].name, t->name) == 0)
				fatalx("tool %s defined twice", t->name);
		if (t->description == NULL || t->run == NULL)
			fatalx("tool %s: incomplete entry", t->name);
		ann = json_pack("{s:b, s:b, s:b, s:b}",
		    "readOnlyHint", (t->annotations & TOOL_READONLY) != 0,
		    "destructiveHint", (t->annotations & TOOL_DESTRUCTIVE) != 0,
		    "idempotentHint", (t->annotations & TOOL_IDEMPOTENT) != 0,
		    "openWorldHint", (t->annotations & TOOL_OPENWORLD) != 0);
		o = json_pack("{s:s, s:s, s:o, s:o}",
		    "name", t->name,
		    "description", t->description,
		    "inputSchema", schema_parse(t->name, "inputSchema",
		    t->input_schema),
		    "annotations", ann);
		if (o == NULL)
			fatalx("%s: tool %s: json_pack failed", __func__, t->name);
		if (t->title != NULL)
			json_object_set_new(o, "title", json_string(t->title));
		if (t->output_schema != NULL)
			json_object_set_new(o, "outputSchema", schema_parse(
			    t->name, "outputSchema", t->output_schema));
		if (json_array_append_new(tools_list, o) == -1)
			fatalx("%s: out of memory", __func__);
	}
}

json_t *
tools_list_json(void)
{
	return tools_list;
}

const struct tool *
tool_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < NTOOLS; i++)
		if (strcmp(tools[i].name, name) == 0)
			return &tools[i];
	return NULL;
}

/* "a, b, c" for error messages that must tell the agent what exists */
static char *
hostnames(void)
{
	struct host	*h;
	char		*s = NULL, *t;

	TAILQ_FOREACH(h, &frontend_conf->hosts, entry) {
		if (asprintf(&t, "%s%s%s", s ? s : "", s ? ", " : "",
		    h->name) == -1) {
			free(s);
			return NULL;
		}
		free(s);
		s = t;
	}
	if (s == NULL)
		s = strdup("(none: bridged.conf has no host blocks)");
	return s;
}

/*
 * The host a call is about: its "host" argument or the default host.
 * On failure the call has been answered (isError) and NULL is returned.
 */
struct host *
tool_host(struct mcp_call *call, json_t *args)
{
	struct host	*h;
	json_t		*v;
	char		*names, name[HOST_NAME_LEN + 8];

	names = hostnames();
	v = json_object_get(args, "host");
	if (v != NULL && !json_is_string(v)) {
		mcp_call_text(call, 1, "host: expected a string naming a "
		    "configured host; configured hosts: %s",
		    names ? names : "?");
		free(names);
		return NULL;
	}
	if (v == NULL) {
		if ((h = config_default_host(frontend_conf)) == NULL) {
			mcp_call_text(call, 1, "host: no host given and no "
			    "default host is configured; pass \"host\", one "
			    "of: %s", names ? names : "?");
			free(names);
			return NULL;
		}
	} else if ((h = config_host_byname(frontend_conf,
	    json_string_value(v))) == NULL) {
		/* the name is the client's: shorten, keep it UTF-8 */
		strlcpy(name, json_string_value(v), sizeof(name));
		mcp_utf8_trunc(name);
		mcp_call_text(call, 1, "host: unknown host \"%s\"%s; "
		    "configured hosts: %s", name,
		    strlen(json_string_value(v)) >= sizeof(name) ?
		    "..." : "", names ? names : "?");
		free(names);
		return NULL;
	}
	free(names);
	strlcpy(call->host, h->name, sizeof(call->host));
	return h;
}

/*
 * Capability check.  A refusal names the capability and the config line
 * that would grant it, so the operator (or the agent asking one) knows
 * exactly what to change.  0: allowed; -1: refused and answered.
 */
int
tool_allow(struct mcp_call *call, struct host *h, uint32_t cap)
{
	uint32_t	 bit, missing;
	const char	*name;

	if ((missing = cap & ~h->caps) == 0)
		return 0;
	for (bit = 1; (missing & bit) == 0; bit <<= 1)
		;
	if ((name = cap_name(bit)) == NULL)
		name = "?";
	call->refused = 1;
	if (h->allow_line > 0)
		mcp_call_text(call, 1, "host \"%s\" does not allow %s; add "
		    "\"%s\" to its \"allow\" line (bridged.conf line %d)",
		    h->name, name, name, h->allow_line);
	else
		mcp_call_text(call, 1, "host \"%s\" does not allow %s; add "
		    "\"allow %s\" to its host block (bridged.conf line %d)",
		    h->name, name, name, h->line);
	return -1;
}

/* A fixed-size string from a peer: bounded, made valid UTF-8. */
static json_t *
str_or_null(const char *buf, size_t size)
{
	size_t	 len = strnlen(buf, size);

	if (len == 0)
		return json_null();
	return mcp_stringn(buf, len);
}

/*
 * hosts: the configuration joined with the ssh worker's view of each
 * connection.  The worker answers IMSG_SSH_HOSTS with one HOSTSTATE per
 * host it knows and an END; call->data collects the states by host id.
 */
static int
hosts_run(struct mcp_call *call, json_t *args)
{
	const char	*key;
	json_t		*v;

	json_object_foreach(args, key, v) {
		char	 k[64];

		strlcpy(k, key, sizeof(k));
		mcp_utf8_trunc(k);
		mcp_call_text(call, 1, "hosts takes no arguments; remove "
		    "\"%s\"", k);
		return 0;
	}
	if ((call->data = json_object()) == NULL)
		return -1;
	if (frontend_compose(PROC_SSH, IMSG_SSH_HOSTS, call->reqid, -1,
	    NULL, 0) == -1) {
		mcp_call_text(call, 1, "the ssh worker cannot be reached; "
		    "bridged may be restarting, try again shortly");
		return 0;
	}
	return 0;
}

static const char *
conn_name(int32_t state)
{
	switch (state) {
	case HOST_DISCONNECTED:
		return "disconnected";
	case HOST_CONNECTING:
		return "connecting";
	case HOST_CONNECTED:
		return "connected";
	case HOST_FAILED:
		return "failed";
	}
	return "unknown";
}

/* The ssh worker's view of one host, as JSON (hosts tool, bridgectl). */
json_t *
host_state_json(const struct host_state *hs)
{
	return json_pack("{s:s, s:o, s:o, s:o}",
	    "state", conn_name(hs->state),
	    "since", hs->since > 0 ? json_integer(hs->since) : json_null(),
	    "fingerprint", str_or_null(hs->fingerprint,
	    sizeof(hs->fingerprint)),
	    "last_error", str_or_null(hs->last_error,
	    sizeof(hs->last_error)));
}

/*
 * One configured host joined with its state (host_state_json, borrowed;
 * NULL when the worker did not report it: state "unknown").
 */
json_t *
host_json(struct host *h, json_t *state)
{
	struct host	*def;
	json_t		*o, *caps;
	uint32_t	 bit;

	if ((caps = json_array()) == NULL)
		return NULL;
	for (bit = 1; bit != 0; bit <<= 1)
		if ((h->caps & bit) && cap_name(bit) != NULL)
			json_array_append_new(caps, json_string(cap_name(bit)));
	def = config_default_host(frontend_conf);
	o = json_pack("{s:o, s:o, s:i, s:o, s:o, s:o, s:b}",
	    "name", mcp_string(h->name),
	    "address", mcp_string(h->address),
	    "port", (int)h->port,
	    "user", mcp_string(h->user),
	    "capabilities", caps,
	    "base_dir", mcp_string(h->base_dir),
	    "default", h == def);
	if (o == NULL)
		return NULL;
	if (state != NULL && json_is_object(state))
		json_object_update(o, state);
	else {
		json_object_set_new(o, "state", json_string("unknown"));
		json_object_set_new(o, "since", json_null());
		json_object_set_new(o, "fingerprint", json_null());
		json_object_set_new(o, "last_error", json_null());
	}
	return o;
}

static void
hosts_reply(struct mcp_call *call, struct imsg *imsg)
{
	struct host_state	 hs;
	struct host		*h;
	json_t			*arr, *o, *st;
	char			 key[16];

	switch (imsg->hdr.type) {
	case IMSG_SSH_HOSTSTATE:
		/* size checked by mcp_dispatch_ssh */
		memcpy(&hs, imsg->data, sizeof(hs));
		snprintf(key, sizeof(key), "%u", hs.hostid);
		if ((st = host_state_json(&hs)) == NULL ||
		    json_object_set_new(call->data, key, st) == -1)
			log_warnx("%s: out of memory", __func__);
		return;
	case IMSG_SSH_END:
		break;
	default:
		log_warnx("%s: unexpected imsg %u", __func__, imsg->hdr.type);
		return;
	}

	if ((arr = json_array()) == NULL) {
		mcp_call_text(call, 1, "internal error: out of memory");
		return;
	}
	TAILQ_FOREACH(h, &frontend_conf->hosts, entry) {
		snprintf(key, sizeof(key), "%u", h->id);
		if ((o = host_json(h, json_object_get(call->data, key))) ==
		    NULL || json_array_append_new(arr, o) == -1) {
			json_decref(arr);
			mcp_call_text(call, 1, "internal error: out of memory");
			return;
		}
	}
	if ((o = json_pack("{s:o}", "hosts", arr)) == NULL) {
		mcp_call_text(call, 1, "internal error: out of memory");
		return;
	}
	mcp_call_structured(call, o);
}
