/*
 * fe_tools.c: the tools of the one table (fe_tooltab.c) as MCP JSON,
 * which of them the configured hosts allow (what tools/list offers, in
 * every era), and the helpers every tool shares (host resolution,
 * capability checks).
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
#include "fe_tools.h"
#include "fe_relay.h"

#define TOOL_NAME_MAX	128

static int	 tool_name_ok(const char *);
static json_t	*schema_parse(const char *, const char *, const char *);
static json_t	*output_schema(const char *, const char *);
static char	*hostnames(void);
static char	*tool_description(const struct tool *);
static uint32_t	 tool_needs(const struct tool *);



/* every tool's JSON, in table order; the offered ones, for caps */
static json_t	*tools_all;
static json_t	*tools_offered;
static uint32_t	 offered_caps;

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

/*
 * A tool's outputSchema, with the warnings every structured result may
 * carry: a client that shows the model structuredContent instead of
 * content (Claude Code) must not lose them (fe_remote.c, sshworker.c).
 */
static json_t *
output_schema(const char *tool, const char *text)
{
	json_t	*schema, *props;

	schema = schema_parse(tool, "outputSchema", text);
	if ((props = json_object_get(schema, "properties")) == NULL) {
		props = json_object();
		json_object_set_new(schema, "properties", props);
	}
	if (!json_is_object(props) || json_object_get(props, "warnings"))
		fatalx("tool %s: outputSchema properties", tool);
	json_object_set_new(props, "warnings", json_pack("{s:s, s:{s:s}, s:s}",
	    "type", "array", "items", "type", "string", "description",
	    "Warnings about this result (a possible prompt injection in "
	    "it, a connection that was re-made): read them first"));
	return schema;
}

/*
 * The description a client sees: the table's, plus what happens to
 * parameters the schema does not name, so that a model reading it knows
 * before it tries.
 */
static char *
tool_description(const struct tool *t)
{
	const struct tool_param	*p;
	char			*d, *ign = NULL, *n;

	for (p = t->params; p != NULL && p->name != NULL; p++) {
		if (p->required != PARAM_IGNORED)
			continue;
		if (asprintf(&n, "%s%s%s", ign ? ign : "", ign ? ", " : "",
		    p->name) == -1)
			fatalx("%s: out of memory", __func__);
		free(ign);
		ign = n;
	}
	if (asprintf(&d, "%s  Unknown parameters are refused%s%s%s.",
	    t->description, ign ? " (" : "", ign ? ign : "",
	    ign ? " accepted and ignored)" : "") == -1)
		fatalx("%s: out of memory", __func__);
	free(ign);
	return d;
}

void
tools_init(void)
{
	const struct tool	*t;
	json_t			*o, *ann;
	size_t			 i, j;
	char			*desc;

	if (tools_all != NULL)
		return;
	if ((tools_all = json_array()) == NULL)
		fatalx("%s: out of memory", __func__);
	for (i = 0; i < tool_count; i++) {
		t = &tool_table[i];
		if (!tool_name_ok(t->name))
			fatalx("tool name \"%s\" is not valid", t->name);
		for (j = 0; j < i; j++)
			if (strcmp(tool_table[j].name, t->name) == 0)
				fatalx("tool %s defined twice", t->name);
		if (t->description == NULL || t->run == NULL)
			fatalx("tool %s: incomplete entry", t->name);
		ann = json_pack("{s:b, s:b, s:b, s:b}",
		    "readOnlyHint", (t->annotations & TOOL_READONLY) != 0,
		    "destructiveHint", (t->annotations & TOOL_DESTRUCTIVE) != 0,
		    "idempotentHint", (t->annotations & TOOL_IDEMPOTENT) != 0,
		    "openWorldHint", (t->annotations & TOOL_OPENWORLD) != 0);
		desc = tool_description(t);
		o = json_pack("{s:s, s:s, s:o, s:o}",
		    "name", t->name,
		    "description", desc,
		    "inputSchema", t->input_schema != NULL ?
		    schema_parse(t->name, "inputSchema", t->input_schema) :
		    params_schema(t->params),
		    "annotations", ann);
		free(desc);
		if (o == NULL)
			fatalx("%s: tool %s: json_pack failed", __func__, t->name);
		if (t->title != NULL)
			json_object_set_new(o, "title", json_string(t->title));
		/* long work may run as a task (fe_tasks.c) */
		if (tasks_tool_support(t->name) != NULL)
			json_object_set_new(o, "execution", json_pack("{s:s}",
			    "taskSupport", tasks_tool_support(t->name)));
		if (t->output_schema != NULL)
			json_object_set_new(o, "outputSchema", output_schema(
			    t->name, t->output_schema));
		if (json_array_append_new(tools_all, o) == -1)
			fatalx("%s: out of memory", __func__);
	}
}

uint32_t
tools_conf_caps(const struct bridged_conf *conf)
{
	struct host	*h;
	uint32_t	 caps = 0;

	if (conf == NULL)
		return 0;
	TAILQ_FOREACH(h, &conf->hosts, entry)
		caps |= h->caps;
	/* the relay tools need no host, only the relay */
	if (conf->relay_db[0] != '\0')
		caps |= CAP_RELAY;
	return caps;
}

/* what some host must allow before the tool is offered */
static uint32_t
tool_needs(const struct tool *t)
{
	return t->cap != 0 ? t->cap : t->list_cap;
}

/*
 * tools/list shows only what some host allows: a tool no host may use
 * costs every request its tokens and invites a call that can only be
 * refused.  Rebuilt when the hosts' capabilities change (a reload).
 */
json_t *
tools_list_json(void)
{
	uint32_t	 caps = tools_conf_caps(frontend_conf);
	size_t		 i;

	tools_init();
	if (tools_offered != NULL && caps == offered_caps)
		return tools_offered;
	json_decref(tools_offered);
	if ((tools_offered = json_array()) == NULL)
		fatalx("%s: out of memory", __func__);
	for (i = 0; i < tool_count; i++)
		if ((tool_needs(&tool_table[i]) & ~caps) == 0 &&
		    json_array_append(tools_offered,
		    json_array_get(tools_all, i)) == -1)
			fatalx("%s: out of memory", __func__);
	offered_caps = caps;
	return tools_offered;
}

/*
 * The tools a principal has beyond the configuration's (CAP_PROBE), in
 * table order: a new array, since few sessions have any.
 */
json_t *
tools_extra_json(uint32_t caps)
{
	json_t	*out;
	size_t	 i;

	tools_init();
	if ((out = json_array()) == NULL)
		return NULL;
	for (i = 0; i < tool_count; i++)
		if ((tool_needs(&tool_table[i]) & caps & CAP_PROBE) != 0)
			json_array_append(out, json_array_get(tools_all, i));
	return out;
}

/*
 * A list for one principal: without the tools none of its hosts allows
 * (an HTTP client block names the hosts it may use).
 */
void
tools_list_trim(json_t *list, uint32_t caps)
{
	const struct tool	*t;
	size_t			 i;

	for (i = 0; i < json_array_size(list); ) {
		t = tool_find(json_string_value(json_object_get(
		    json_array_get(list, i), "name")));
		if (t != NULL && (tool_needs(t) & ~caps) != 0)
			json_array_remove(list, i);
		else
			i++;
	}
}

/*
 * A call refused for the capabilities in missing: the name of the first
 * to put in the refusal, or NULL when the call was answered here (the
 * relay is off: no host line would help).
 */
static const char *
cap_missing(struct mcp_call *call, uint32_t missing)
{
	uint32_t	 bit;
	const char	*name;

	call->refused = 1;
	if (missing & CAP_RELAY) {
		mcp_call_text(call, 1, "%s: the relay is off, so this tool is "
		    "not offered; an operator would add relay database "
		    "\"PATH\" to bridged.conf and restart bridged",
		    call->tool->name);
		return NULL;
	}
	for (bit = 1; (missing & bit) == 0; bit <<= 1)
		;
	if ((name = cap_name(bit)) == NULL)
		name = "?";
	return name;
}

/* A tool not listed may still be called (a stale list): say why not. */
int
tool_offered(struct mcp_call *call)
{
	uint32_t	 need, missing;
	const char	*name;

	need = tool_needs(call->tool);
	if ((missing = need & ~tools_conf_caps(frontend_conf)) == 0)
		return 0;
	if ((name = cap_missing(call, missing)) == NULL)
		return -1;
	mcp_call_text(call, 1, "%s: no configured host allows %s, so this "
	    "tool is not offered; an operator would add \"%s\" to a host's "
	    "\"allow\" line in bridged.conf and run bridgectl reload",
	    call->tool->name, name, name);
	return -1;
}

const struct tool *
tool_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < tool_count; i++)
		if (strcmp(tool_table[i].name, name) == 0)
			return &tool_table[i];
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
	uint32_t	 missing;
	const char	*name;

	if ((missing = cap & ~h->caps) == 0)
		return 0;
	if ((name = cap_missing(call, missing)) == NULL)
		return -1;
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
