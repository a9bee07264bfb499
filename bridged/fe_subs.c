/*
 * fe_subs.c: subscriptions/listen, the 2026-07-28 stream of change
 * notifications.  A client opens one with a long-lived request naming
 * what it wants; the server acknowledges the part it will honour
 * (notifications/subscriptions/acknowledged, first on the stream), then
 * sends those notifications, each carrying the request's id as
 * io.modelcontextprotocol/subscriptionId in _meta, until the client
 * cancels it (notifications/cancelled: no response), the connection
 * goes (nothing), or the daemon stops (a "complete" response, the
 * graceful end).
 *
 * bridged has no prompts; its resources are the relay's channels
 * (fe_relayres.c).  Of the filter, toolsListChanged is honoured
 * (tools/list follows the configuration, so it changes with a reload;
 * fe_tools.c), and resourceSubscriptions for channel URIs,
 * bridged://channel/NAME, while the relay is on: each send to or clear
 * of such a channel is a notifications/resources/updated on the stream.
 * Those channels are first asked of the logger (which knows each one's
 * creator): one the principal may not receive from is left out of the
 * acknowledgement, as is any other URI not honoured, each named with
 * the reason in the acknowledgement's _meta "bridged/notHonored".  Until
 * the logger answers the stream is pending: nothing else is sent on it.
 * A subscription belongs to the connection it came on and holds its id
 * and the URIs it honours.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <stdarg.h>
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

#define SUBS_MAX		16	/* per connection */
#define LEFT_MAX		16	/* URIs named as not honoured */
#define LEFT_KEY		"bridged/notHonored"
#define SUB_ID_KEY		MCP_META_SUBID

struct mcp_sub {
	TAILQ_ENTRY(mcp_sub)	 entry;
	json_t			*id;		/* the listen request's */
	uint32_t		 serial;	/* never reused */
	int			 tools;		/* toolsListChanged */
	json_t			*uris;		/* resourceSubscriptions */
	json_t			*asked;		/* channels the logger is asked */
	json_t			*left;		/* [{uri, reason}] not honoured */
	int			 acked;		/* acknowledgement sent */
	int			 missed;	/* the tools changed meanwhile */
};

static uint32_t	 sub_serial;

static json_t	*sub_meta(struct mcp_sub *);
static int	 name_in(json_t *, const char *);
static void	 sub_free(struct mcp_session *, struct mcp_sub *);
static void	 sub_leave(struct mcp_sub *, const char *, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static void	 sub_ack(struct mcp_session *, struct mcp_sub *);
static void	 sub_tools(struct mcp_session *, struct mcp_sub *);

static json_t *
sub_meta(struct mcp_sub *sub)
{
	return json_pack("{s:O}", SUB_ID_KEY, sub->id);
}

static void
sub_free(struct mcp_session *s, struct mcp_sub *sub)
{
	TAILQ_REMOVE(&s->subs, sub, entry);
	s->nsubs--;
	json_decref(sub->id);
	json_decref(sub->uris);
	json_decref(sub->asked);
	json_decref(sub->left);
	free(sub);
}

/* a URI the stream asked for and will not be told of, and why */
static void
sub_leave(struct mcp_sub *sub, const char *uri, const char *fmt, ...)
{
	va_list	 ap;
	char	*why, shown[MCP_SHOWN_LEN];

	if (json_array_size(sub->left) >= LEFT_MAX)
		return;
	va_start(ap, fmt);
	if (vasprintf(&why, fmt, ap) == -1)
		why = NULL;
	va_end(ap);
	if (why == NULL)
		return;
	mcp_shown(shown, sizeof(shown), uri);
	json_array_append_new(sub->left, json_pack("{s:s, s:s}", "uri", shown,
	    "reason", why));
	free(why);
}

/* the part honoured: no prompts; channel URIs the principal may read */
static void
sub_ack(struct mcp_session *s, struct mcp_sub *sub)
{
	json_t	*ack, *meta;

	ack = json_object();
	if (sub->tools)
		json_object_set_new(ack, "toolsListChanged", json_true());
	if (json_array_size(sub->uris) > 0)
		json_object_set(ack, "resourceSubscriptions", sub->uris);
	meta = sub_meta(sub);
	if (meta != NULL && json_array_size(sub->left) > 0)
		json_object_set(meta, LEFT_KEY, sub->left);
	mcp_send_json(s, json_pack("{s:s, s:s, s:{s:o, s:o}}", "jsonrpc",
	    "2.0", "method", "notifications/subscriptions/acknowledged",
	    "params", "_meta", meta, "notifications", ack));
	sub->acked = 1;
	log_debug("session %u: subscription opened%s, %zu channel%s, %zu "
	    "URI%s not honoured", s->id, sub->tools ? " (tools list)" : "",
	    json_array_size(sub->uris), json_array_size(sub->uris) == 1 ? "" :
	    "s", json_array_size(sub->left), json_array_size(sub->left) == 1 ?
	    "" : "s");
	/* a reload while the logger was asked: told now, after the ack */
	if (sub->missed)
		sub_tools(s, sub);
}

static void
sub_tools(struct mcp_session *s, struct mcp_sub *sub)
{
	mcp_send_json(s, json_pack("{s:s, s:s, s:{s:o}}", "jsonrpc", "2.0",
	    "method", "notifications/tools/list_changed", "params", "_meta",
	    sub_meta(sub)));
	sub->missed = 0;
}

/* subscriptions/listen (2026-07-28 only: the method table says so) */
void
m_subs_listen(struct mcp_session *s, json_t *id, json_t *params)
{
	struct mcp_sub	*sub;
	json_t		*want, *v;
	const struct mcp_era *era = mcp_era_req(s);
	const char	*k, *uri, *ch;
	size_t		 i;

	/* a legacy session has its notifications unasked */
	if (era == NULL || !(era->flags & ERA_MODERN)) {
		mcp_send_error(s, id, JSONRPC_NO_METHOD, "method not found: "
		    "subscriptions/listen (a method of protocol 2026-07-28: "
		    "name it in the request's _meta; an initialized session "
		    "is sent notifications/tools/list_changed unasked)");
		return;
	}
	want = json_object_get(params, "notifications");
	if (want != NULL && !json_is_object(want)) {
		mcp_send_error(s, id, JSONRPC_INVALID_PARAMS,
		    "subscriptions/listen: notifications must be an object, "
		    "e.g. {\"toolsListChanged\": true}");
		return;
	}
	/* what a later revision adds is not ours to refuse */
	json_object_foreach(want, k, v) {
		if ((strcmp(k, "toolsListChanged") == 0 ||
		    strcmp(k, "promptsListChanged") == 0 ||
		    strcmp(k, "resourcesListChanged") == 0) &&
		    !json_is_boolean(v)) {
			mcp_send_error(s, id, JSONRPC_INVALID_PARAMS,
			    "subscriptions/listen: notifications.%s must be "
			    "true or false", k);
			return;
		}
		if (strcmp(k, "resourceSubscriptions") == 0) {
			if (!json_is_array(v))
				goto badres;
			for (i = 0; i < json_array_size(v); i++)
				if (!json_is_string(json_array_get(v, i)))
					goto badres;
		}
	}
	TAILQ_FOREACH(sub, &s->subs, entry)
		if (json_equal(sub->id, id)) {
			mcp_send_error(s, id, JSONRPC_INVALID_REQUEST,
			    "subscriptions/listen: request id is already "
			    "used by an open subscription");
			return;
		}
	if (s->nsubs >= SUBS_MAX) {
		mcp_send_error(s, id, JSONRPC_INVALID_REQUEST,
		    "subscriptions/listen: at most %d subscriptions per "
		    "connection; cancel one (notifications/cancelled)",
		    SUBS_MAX);
		return;
	}
	if ((sub = calloc(1, sizeof(*sub))) == NULL ||
	    (sub->uris = json_array()) == NULL ||
	    (sub->asked = json_array()) == NULL ||
	    (sub->left = json_array()) == NULL) {
		if (sub != NULL) {
			json_decref(sub->uris);
			json_decref(sub->asked);
			free(sub);
		}
		mcp_send_error(s, id, JSONRPC_INTERNAL, "out of memory");
		return;
	}
	sub->id = json_incref(id);
	if ((sub->serial = ++sub_serial) == 0)
		sub->serial = ++sub_serial;
	sub->tools = json_is_true(json_object_get(want, "toolsListChanged"));
	TAILQ_INSERT_TAIL(&s->subs, sub, entry);
	s->nsubs++;

	/* the channel URIs among them, when the relay is on */
	json_array_foreach(json_object_get(want, "resourceSubscriptions"), i,
	    v) {
		uri = json_string_value(v);
		if ((ch = relay_uri_channel(uri)) == NULL)
			sub_leave(sub, uri, "not a resource of bridged: its "
			    "resources are relay channels, bridged://channel/"
			    "NAME");
		else if (frontend_conf->relay_db[0] == '\0')
			sub_leave(sub, uri, "the relay is off (no relay "
			    "database in bridged.conf)");
		else if (name_in(sub->asked, ch))
			continue;	/* named twice */
		else if (json_array_size(sub->asked) >= RELAY_LISTEN_MAX)
			sub_leave(sub, uri, "more than %d channels on one "
			    "stream: open another", RELAY_LISTEN_MAX);
		else
			json_array_append_new(sub->asked, json_string(ch));
	}
	if (json_array_size(sub->asked) == 0) {
		sub_ack(s, sub);
		return;
	}
	/* the logger knows each channel's creator: it says which we may */
	if (relay_listen_ask(s, sub->serial, sub->asked) == -1)
		mcp_subs_access(s, sub->serial, NULL);
	return;
 badres:
	mcp_send_error(s, id, JSONRPC_INVALID_PARAMS, "subscriptions/listen: "
	    "notifications.resourceSubscriptions must be an array of URIs");
}

static int
name_in(json_t *names, const char *name)
{
	json_t	*v;
	size_t	 i;

	json_array_foreach(names, i, v)
		if (strcmp(json_string_value(v), name) == 0)
			return 1;
	return 0;
}

/*
 * The logger's answer on a pending stream's channels (NULL: none came):
 * those the principal may receive from are honoured, the others named
 * as not; then the stream is acknowledged and open.
 */
void
mcp_subs_access(struct mcp_session *s, uint32_t serial, json_t *ans)
{
	struct mcp_sub	*sub;
	json_t		*may, *v, *err;
	const char	*ch;
	char		 uri[sizeof(RELAY_URI_PREFIX) + RELAY_NAME_LEN];
	size_t		 i;

	TAILQ_FOREACH(sub, &s->subs, entry)
		if (sub->serial == serial)
			break;
	if (sub == NULL || sub->acked)
		return;		/* cancelled meanwhile */
	may = json_object_get(ans, "may");
	err = json_object_get(ans, "error");
	json_array_foreach(sub->asked, i, v) {
		ch = json_string_value(v);
		snprintf(uri, sizeof(uri), RELAY_URI_PREFIX "%s", ch);
		if (json_is_true(json_object_get(may, ch)))
			json_array_append_new(sub->uris, json_string(uri));
		else if (json_is_object(may))
			sub_leave(sub, uri, "principal \"%s\" may not receive "
			    "from channel \"%s\" (the channel's creator and "
			    "the relay allow rules that grant receive may)",
			    s->principal, ch);
		else
			sub_leave(sub, uri, "the relay could not say whether "
			    "this principal may receive from it (%s): listen "
			    "again later", json_is_string(err) ?
			    json_string_value(err) : ans == NULL ? "the logger "
			    "is restarting" : "no answer");
	}
	json_decref(sub->asked);
	sub->asked = NULL;
	sub_ack(s, sub);
}

/* notifications/cancelled for rid: 1 when it ended a subscription */
int
mcp_subs_cancel(struct mcp_session *s, json_t *rid)
{
	struct mcp_sub	*sub;

	TAILQ_FOREACH(sub, &s->subs, entry)
		if (json_equal(sub->id, rid)) {
			log_debug("session %u: subscription cancelled",
			    s->id);
			sub_free(s, sub);
			return 1;
		}
	return 0;
}

/* the tools offered changed: every subscription that asked is told */
int
mcp_subs_tools_changed(struct mcp_session *s)
{
	struct mcp_sub	*sub;
	int		 n = 0;

	TAILQ_FOREACH(sub, &s->subs, entry) {
		if (!sub->tools)
			continue;
		/* nothing on a stream before its acknowledgement */
		if (!sub->acked)
			sub->missed = 1;
		else
			sub_tools(s, sub);
		n++;
	}
	return n;
}

/* a relay channel changed: the streams that named its URI are told */
int
mcp_subs_resource_updated(struct mcp_session *s, const char *uri)
{
	struct mcp_sub	*sub;
	json_t		*v;
	size_t		 i;
	int		 n = 0;

	TAILQ_FOREACH(sub, &s->subs, entry)
		json_array_foreach(sub->uris, i, v) {
			if (strcmp(json_string_value(v), uri) != 0)
				continue;
			mcp_send_json(s, json_pack("{s:s, s:s, s:{s:s, s:o}}",
			    "jsonrpc", "2.0", "method",
			    "notifications/resources/updated", "params", "uri",
			    uri, "_meta", sub_meta(sub)));
			n++;
			break;
		}
	return n;
}

/*
 * The connection ends.  graceful (the daemon stops, bridgectl kills the
 * session): each subscription gets its "complete" response first; a
 * client that went away gets nothing.
 */
void
mcp_subs_end(struct mcp_session *s, int graceful)
{
	struct mcp_sub	*sub;

	while ((sub = TAILQ_FIRST(&s->subs)) != NULL) {
		if (graceful)
			mcp_send_json(s, json_pack("{s:s, s:O, s:{s:s, s:o}}",
			    "jsonrpc", "2.0", "id", sub->id, "result",
			    "resultType", "complete", "_meta",
			    sub_meta(sub)));
		sub_free(s, sub);
	}
}
