/*
 * fe_backchan.c: the back-channel of delegations, in the frontend.
 *
 * A host with delegate { relay "PATTERN" } gives each ask_claude run an
 * MCP server named bridged: the worker writes claude an --mcp-config
 * file (ssh_deleg.c) whose URL is the host's published port, which
 * leads back to our HTTP listener, and whose bearer token is minted
 * here for that run alone.  The token lives only in this process's
 * memory and in that file; it is good
 *
 *	- while the run lives: it goes when the worker says the run ended
 *	  (done, error, timeout, cancel, kill), when a foreground call ends
 *	  here for any reason, when the worker dies and when a reload takes
 *	  the host's relay away;
 *	- on the listener the host's published port leads to, only;
 *	- for the relay tools but channel_clear (tools/list shows only
 *	  those), on the channels matching PATTERN.
 *
 * Its principal is "delegate:JOB_ID" (or "delegate:N", the delegation's
 * id, in the foreground), the name its sessions, audit records and
 * messages carry.  A channel it creates belongs to the principal that
 * made the ask_claude call, and it may use any channel of that principal
 * matching PATTERN without a relay allow rule (logger_relay.c), so
 * what it reports stays readable after the token is gone.  Its messages
 * are sent as its claude session id, which the worker fixes with
 * --session-id (or --resume) before claude starts.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <fnmatch.h>
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
#include "fe_relay.h"
#include "fe_backchan.h"

#define BC_TOKEN_BYTES		32
#define BC_TOKEN_LEN		(BC_TOKEN_BYTES * 2)

/* every delegate's principal name starts so; no client block's may */
#define BC_PRINCIPAL		"delegate:"

/* connections a delegate's principal may hold open at once */
#define BACKCHAN_CONNS_MAX	8

struct backchan {
	TAILQ_ENTRY(backchan)	 entry;
	uint32_t		 id;
	uint32_t		 reqid;		/* the ask_claude call; 0: ended */
	int			 bg;		/* a job: outlives its call */
	int			 started;	/* the worker made the run */
	char			 host[HOST_NAME_LEN];
	char			 pattern[DELEG_RELAY_LEN];
	char			 caller[MCP_PRINCIPAL_LEN];
	char			 sender[64];	/* claude's session id */
	char			 token[BC_TOKEN_LEN + 1];
	struct client		 cl;		/* cl.name: its principal */
};

static TAILQ_HEAD(, backchan)	 bcs = TAILQ_HEAD_INITIALIZER(bcs);
static uint32_t			 bc_seq;

static struct backchan *bc_byid(uint32_t);
static struct backchan *bc_byprincipal(const char *);
static void	 bc_revoke(struct backchan *, const char *);
static int	 bc_tool_ok(const struct tool *);

static struct backchan *
bc_byid(uint32_t id)
{
	struct backchan	*b;

	TAILQ_FOREACH(b, &bcs, entry)
		if (b->id == id)
			return b;
	return NULL;
}

static struct backchan *
bc_byprincipal(const char *name)
{
	struct backchan	*b;

	TAILQ_FOREACH(b, &bcs, entry)
		if (strcmp(b->cl.name, name) == 0)
			return b;
	return NULL;
}

/*
 * The token goes; so do the HTTP sessions it opened, whose streams
 * would otherwise go on carrying the channels' pushes.
 */
static void
bc_revoke(struct backchan *b, const char *why)
{
	struct mcp_session	*s, *next;

	log_info("back-channel %u (%s) of host \"%s\": token revoked: %s",
	    b->id, b->cl.name, b->host, why);
	for (s = mcp_session_next(NULL); s != NULL; s = next) {
		next = mcp_session_next(s);
		if (s->output != NULL && strcmp(s->principal, b->cl.name) == 0)
			mcp_session_end(s);
	}
	TAILQ_REMOVE(&bcs, b, entry);
	explicit_bzero(b->token, sizeof(b->token));
	free(b);
}

/* ---- ask_claude ---------------------------------------------------- */

int
backchan_check(struct mcp_call *call, struct host *h, json_t *args)
{
	json_t		*v = json_object_get(args, "report_channel");
	const char	*ch;

	if (v == NULL)
		return 0;
	ch = json_string_value(v);
	call->refused = 1;
	if (h->delegate.relay[0] == '\0') {
		mcp_call_text(call, 1, "ask_claude: report_channel needs a "
		    "back-channel, and host \"%s\" gives its delegations none "
		    "(an operator would add delegate { relay \"PATTERN\" } "
		    "and publish port N to its host block); leave "
		    "report_channel out; nothing was run", h->name);
		return -1;
	}
	if (ch == NULL || !relay_name_ok(ch)) {
		mcp_call_text(call, 1, "ask_claude: report_channel must be a "
		    "channel name: 1 to %d letters, digits, \".\", \"_\", "
		    "\"-\" and \":\", starting with a letter or digit; "
		    "nothing was run", RELAY_NAME_LEN - 1);
		return -1;
	}
	if (fnmatch(h->delegate.relay, ch, 0) != 0) {
		mcp_call_text(call, 1, "ask_claude: report_channel \"%s\" is "
		    "outside the channels delegations on host \"%s\" may use "
		    "(delegate relay \"%s\", bridged.conf line %d): name one "
		    "that matches; nothing was run", ch, h->name,
		    h->delegate.relay, h->delegate.relay_line);
		return -1;
	}
	call->refused = 0;
	return 0;
}

json_t *
backchan_args(struct mcp_call *call, struct host *h, json_t *args)
{
	struct backchan	*b;
	uint8_t		 raw[BC_TOKEN_BYTES];
	json_t		*copy, *p, *bc;
	size_t		 i;

	if (strcmp(call->tool->name, "ask_claude") != 0 || h == NULL ||
	    h->delegate.relay[0] == '\0' || h->publish_port == 0 ||
	    frontend_conf->relay_db[0] == '\0')
		return json_incref(args);
	if ((b = bc_byid(call->backchan)) == NULL) {
		if ((b = calloc(1, sizeof(*b))) == NULL)
			return NULL;
		do {
			b->id = ++bc_seq;
		} while (b->id == 0 || bc_byid(b->id) != NULL);
		b->reqid = call->reqid;
		b->bg = json_is_true(json_object_get(args, "background"));
		strlcpy(b->host, h->name, sizeof(b->host));
		strlcpy(b->pattern, h->delegate.relay, sizeof(b->pattern));
		p = call_principal(call);
		strlcpy(b->caller, json_string_value(p), sizeof(b->caller));
		json_decref(p);
		/* until the worker names the run (IMSG_SSH_BACKCHAN) */
		snprintf(b->cl.name, sizeof(b->cl.name), BC_PRINCIPAL "run%u",
		    b->id);
		strlcpy(b->sender, b->cl.name, sizeof(b->sender));
		b->cl.port = h->publish_to;
		/* one claude: a POST and its server stream, with room */
		b->cl.max_conns = BACKCHAN_CONNS_MAX;
		TAILQ_INIT(&b->cl.hosts);
		arc4random_buf(raw, sizeof(raw));
		for (i = 0; i < sizeof(raw); i++)
			snprintf(b->token + 2 * i, 3, "%02x", raw[i]);
		explicit_bzero(raw, sizeof(raw));
		TAILQ_INSERT_TAIL(&bcs, b, entry);
		call->backchan = b->id;
	}
	bc = json_pack("{s:I, s:s, s:i, s:s}", "id", (json_int_t)b->id,
	    "token", b->token, "port", h->publish_port, "pattern",
	    b->pattern);
	if (bc == NULL || (copy = json_copy(args)) == NULL ||
	    json_object_set_new(copy, "_backchan", bc) == -1) {
		json_decref(bc);
		return NULL;
	}
	return copy;
}

void
backchan_call_end(struct mcp_call *call)
{
	struct backchan	*b;

	if (call->backchan == 0 || (b = bc_byid(call->backchan)) == NULL)
		return;
	call->backchan = 0;
	b->reqid = 0;
	/* a job the worker holds tells us its end; anything else ends here */
	if (!b->bg || !b->started)
		bc_revoke(b, b->bg ? "the job did not start" :
		    "the ask_claude call ended");
}

/* ---- HTTP ---------------------------------------------------------- */

/*
 * Every live token is compared, whole and in constant time, whether or
 * not an earlier one matched; only on the listener the published port
 * leads to.
 */
const struct client *
backchan_auth(const char *given, size_t len, uint16_t port)
{
	struct backchan	*b;
	const struct client *found = NULL;
	char		 g[BC_TOKEN_LEN];

	memset(g, 0, sizeof(g));
	memcpy(g, given, len < sizeof(g) ? len : sizeof(g));
	TAILQ_FOREACH(b, &bcs, entry)
		if (ct_equal(g, b->token, BC_TOKEN_LEN) &&
		    len == BC_TOKEN_LEN && found == NULL &&
		    b->cl.port == port)
			found = &b->cl;
	explicit_bzero(g, sizeof(g));
	return found;
}

/* a delegate's sessions come over HTTP with a live token */
int
backchan_session(struct mcp_session *s)
{
	return s != NULL && s->output != NULL &&
	    bc_byprincipal(s->principal) != NULL;
}

static int
bc_tool_ok(const struct tool *t)
{
	return strncmp(t->name, "channel_", 8) == 0 &&
	    strcmp(t->name, "channel_clear") != 0;
}

int
backchan_tool_refuses(struct mcp_session *s, json_t *id,
    const struct tool *tool, json_t *args)
{
	struct backchan	*b;
	json_t		*ch;

	if (s == NULL || s->output == NULL)
		return 0;
	/* fail closed: a delegate's name whose token is gone may do nothing */
	if ((b = bc_byprincipal(s->principal)) == NULL) {
		if (strncmp(s->principal, BC_PRINCIPAL, strlen(BC_PRINCIPAL))
		    != 0)
			return 0;
		mcp_send_result(s, id, json_pack("{s:[{s:s, s:s+}], s:b}",
		    "content", "type", "text", "text", tool->name, ": this "
		    "delegation's back-channel has ended; its token is no "
		    "longer valid", "isError", 1));
		return -1;
	}
	if (!bc_tool_ok(tool)) {
		mcp_send_result(s, id, json_pack("{s:[{s:s, s:s+++}], s:b}",
		    "content", "type", "text", "text", tool->name, ": this "
		    "session is a delegation's back-channel, which may use "
		    "only channel_send, channel_receive, channel_ack, "
		    "channel_list and channel_status on channels matching \"",
		    b->pattern, "\"", "isError", 1));
		return -1;
	}
	ch = json_object_get(args, "channel");
	if (json_is_string(ch) && fnmatch(b->pattern, json_string_value(ch),
	    0) != 0) {
		mcp_send_result(s, id, json_pack("{s:[{s:s, s:s+++}], s:b}",
		    "content", "type", "text", "text", tool->name, ": this "
		    "delegation may use only the channels matching \"",
		    b->pattern, "\"; name one of those (its report channel "
		    "is in its prompt)", "isError", 1));
		return -1;
	}
	return 0;
}

json_t *
backchan_tools(struct mcp_session *s, json_t *tools)
{
	json_t		*out, *t;
	const struct tool *tool;
	size_t		 i;

	if (!backchan_session(s))
		return tools;
	if ((out = json_array()) == NULL)
		return tools;
	json_array_foreach(tools, i, t)
		if ((tool = tool_find(json_string_value(json_object_get(t,
		    "name")))) != NULL && bc_tool_ok(tool))
			json_array_append(out, t);
	json_decref(tools);
	return out;
}

/*
 * The logger decides access (logger_relay.c): scope confines the
 * delegate to its pattern, owner is the caller whose channels it shares
 * and who owns those it creates; its messages carry its session id.
 */
void
backchan_relay_req(struct mcp_call *call, json_t *req)
{
	struct mcp_session	*s = call->session;
	struct backchan		*b;

	if (s == NULL)
		s = mcp_session_byid(call->sessid);
	if (s == NULL || s->output == NULL ||
	    (b = bc_byprincipal(s->principal)) == NULL)
		return;
	json_object_set_new(req, "scope", json_string(b->pattern));
	json_object_set_new(req, "owner", json_string(b->caller));
	if (json_object_get(req, "sender") != NULL)
		json_object_set_new(req, "sender", json_string(b->sender));
}

/* ---- the worker ------------------------------------------------------ */

int
backchan_dispatch(const char *host, struct imsg *imsg)
{
	struct ssh_backchan	 sb;
	struct backchan		*b;
	struct mcp_session	*s;
	char			 was[CLIENT_NAME_LEN];
	uint32_t		 id;

	switch (imsg->hdr.type) {
	case IMSG_SSH_BACKCHAN:
		if (imsg->datalen != sizeof(sb))
			return -1;
		memcpy(&sb, imsg->data, sizeof(sb));
		sb.job_id[sizeof(sb.job_id) - 1] = '\0';
		sb.session_id[sizeof(sb.session_id) - 1] = '\0';
		if ((b = bc_byid(sb.id)) == NULL || strcmp(b->host, host) != 0)
			return 0;	/* revoked meanwhile */
		b->started = 1;
		strlcpy(was, b->cl.name, sizeof(was));
		if (sb.job_id[0] != '\0')
			snprintf(b->cl.name, sizeof(b->cl.name),
			    BC_PRINCIPAL "%s", sb.job_id);
		else
			snprintf(b->cl.name, sizeof(b->cl.name),
			    BC_PRINCIPAL "%u", sb.deleg);
		strlcpy(b->sender, sb.session_id[0] != '\0' ? sb.session_id :
		    b->cl.name, sizeof(b->sender));
		/* a session opened before the run was named follows it */
		for (s = mcp_session_next(NULL); s != NULL;
		    s = mcp_session_next(s))
			if (s->output != NULL && strcmp(s->principal, was) == 0)
				strlcpy(s->principal, b->cl.name,
				    sizeof(s->principal));
		log_info("back-channel %u of host \"%s\": %s, sender %s",
		    b->id, host, b->cl.name, b->sender);
		return 0;
	case IMSG_SSH_BACKCHAN_END:
		if (imsg->datalen != sizeof(id))
			return -1;
		memcpy(&id, imsg->data, sizeof(id));
		if ((b = bc_byid(id)) != NULL && strcmp(b->host, host) == 0)
			bc_revoke(b, "the run ended");
		return 0;
	}
	return -1;
}

void
backchan_host_gone(const char *host)
{
	struct backchan	*b, *next;

	TAILQ_FOREACH_SAFE(b, &bcs, entry, next)
		if (strcmp(b->host, host) == 0)
			bc_revoke(b, "the host's ssh worker died");
}

/* a reload: the host and its relay pattern must still be there */
void
backchan_reload(void)
{
	struct backchan	*b, *next;
	struct host	*h;

	TAILQ_FOREACH_SAFE(b, &bcs, entry, next) {
		h = config_host_byname(frontend_conf, b->host);
		if (h == NULL || strcmp(h->delegate.relay, b->pattern) != 0 ||
		    h->publish_port == 0 || frontend_conf->relay_db[0] == '\0')
			bc_revoke(b, "the configuration no longer gives it");
		else
			b->cl.port = h->publish_to;
	}
}
