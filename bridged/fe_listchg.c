/*
 * fe_listchg.c: after a reload, tell each session whose tools changed.
 *
 * A session's tools/list is the configuration's, trimmed to what its
 * principal's hosts allow (an HTTP client block names them), plus its
 * client block's own tools and less what a delegation's back-channel
 * may not use.  So one reload may change one principal's list and not
 * another's, or nobody's although a host's capabilities changed.  The
 * list each session would have been given is reduced to a digest of
 * its names under the configuration going out (mcp_config_changing)
 * and again under the one coming in (mcp_config_changed); a session
 * whose digest moved is told, and only such a one: a legacy session
 * with notifications/tools/list_changed (initialize advertises
 * tools.listChanged), a 2026-07-28 subscriptions/listen stream that
 * asked for toolsListChanged with the same, carrying its subscription
 * id (fe_subs.c).
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
#include "fe_backchan.h"

static uint64_t	 tools_digest(struct mcp_session *);

/* the names a tools/list would give the session now, as FNV-1a 64 */
static uint64_t
tools_digest(struct mcp_session *s)
{
	json_t		*list, *extra, *t;
	const char	*name;
	uint64_t	 h = 14695981039346656037ULL;
	size_t		 i;

	/* the same steps as tools/list (fe_jsonrpc.c), names only */
	if ((list = json_copy(tools_list_json())) == NULL)
		return 0;
	if (session_caps(s) != 0 &&
	    (extra = tools_extra_json(session_caps(s))) != NULL) {
		json_array_extend(list, extra);
		json_decref(extra);
	}
	list = backchan_tools(s, list);
	tools_list_trim(list, http_principal_caps(s) | session_caps(s));
	json_array_foreach(list, i, t) {
		if ((name = json_string_value(json_object_get(t, "name"))) ==
		    NULL)
			continue;
		/* the NUL too: "ab","c" is not "a","bc" */
		do {
			h = (h ^ (unsigned char)*name) * 1099511628211ULL;
		} while (*name++ != '\0');
	}
	json_decref(list);
	return h;
}

/* the configuration is about to be replaced: each session's list now */
void
mcp_config_changing(void)
{
	struct mcp_session	*s;

	for (s = mcp_session_next(NULL); s != NULL; s = mcp_session_next(s))
		s->tools_digest = tools_digest(s);
}

/* the new configuration is in place: tell those whose list changed */
void
mcp_config_changed(void)
{
	struct mcp_session	*s;
	uint64_t		 d;
	int			 n = 0, changed = 0;

	for (s = mcp_session_next(NULL); s != NULL; s = mcp_session_next(s)) {
		if ((d = tools_digest(s)) == s->tools_digest)
			continue;
		s->tools_digest = d;
		changed++;
		/* 2026-07-28: on the subscriptions that asked, any state */
		n += mcp_subs_tools_changed(s);
		/* sessions still before notifications/initialized list after */
		if (s->state != SESSION_READY)
			continue;
		mcp_send_json(s, json_pack("{s:s, s:s}", "jsonrpc", "2.0",
		    "method", "notifications/tools/list_changed"));
		n++;
	}
	if (changed > 0)
		log_info("the tools offered changed with the configuration for "
		    "%d session%s: %d session%s and subscription%s told",
		    changed, changed == 1 ? "" : "s", n, n == 1 ? "" : "s",
		    n == 1 ? "" : "s");
}
