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
 * A subscription belongs to the connection it came on and holds its id
 * and the URIs it asked for.
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
#include "fe_relay.h"

#define SUBS_MAX		16	/* per connection */
#define SUB_ID_KEY		MCP_META_SUBID

struct mcp_sub {
	TAILQ_ENTRY(mcp_sub)	 entry;
	json_t			*id;		/* the listen request's */
	int			 tools;		/* toolsListChanged */
	json_t			*uris;		/* resourceSubscriptions */
};

static json_t	*sub_meta(struct mcp_sub *);
static void	 sub_free(struct mcp_session *, struct mcp_sub *);

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
	free(sub);
}

/* subscriptions/listen (2026-07-28 only: the method table says so) */
void
m_subs_listen(struct mcp_session *s, json_t *id, json_t *params)
{
	struct mcp_sub	*sub;
	json_t		*want, *v, *ack;
	const struct mcp_era *era = mcp_era_req(s);
	const char	*k;
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
	if ((sub = calloc(1, sizeof(*sub))) == NULL) {
		mcp_send_error(s, id, JSONRPC_INTERNAL, "out of memory");
		return;
	}
	sub->id = json_incref(id);
	sub->tools = json_is_true(json_object_get(want, "toolsListChanged"));
	/* the channel URIs among them, when the relay is on */
	sub->uris = json_array();
	json_array_foreach(json_object_get(want, "resourceSubscriptions"), i,
	    v)
		if (frontend_conf->relay_db[0] != '\0' &&
		    relay_uri_channel(json_string_value(v)) != NULL &&
		    json_array_size(sub->uris) < 64)
			json_array_append(sub->uris, v);
	TAILQ_INSERT_TAIL(&s->subs, sub, entry);
	s->nsubs++;

	/* the part honoured: no prompts; channel URIs, no other resources */
	ack = json_object();
	if (sub->tools)
		json_object_set_new(ack, "toolsListChanged", json_true());
	if (json_array_size(sub->uris) > 0)
		json_object_set(ack, "resourceSubscriptions", sub->uris);
	mcp_send_json(s, json_pack("{s:s, s:s, s:{s:o, s:o}}", "jsonrpc",
	    "2.0", "method", "notifications/subscriptions/acknowledged",
	    "params", "_meta", sub_meta(sub), "notifications", ack));
	log_debug("session %u: subscription opened%s", s->id,
	    sub->tools ? " (tools list)" : "");
	return;
 badres:
	mcp_send_error(s, id, JSONRPC_INVALID_PARAMS, "subscriptions/listen: "
	    "notifications.resourceSubscriptions must be an array of URIs");
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
		mcp_send_json(s, json_pack("{s:s, s:s, s:{s:o}}", "jsonrpc",
		    "2.0", "method", "notifications/tools/list_changed",
		    "params", "_meta", sub_meta(sub)));
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
