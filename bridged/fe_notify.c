/*
 * fe_notify.c: what the frontend tells a client beside the answers, and
 * the last look at every tool result before it goes.
 *
 * Log messages (notifications/message) say what an agent should know
 * about a call that its result may not make plain: a host's connection
 * that was lost and re-made, a policy refusal, a result cut to fit.
 * They go at or above the level that applies (mcp_log_threshold, the
 * one place that decides it), and every text that may hold something
 * from a host or a command goes through the policy's redaction first.
 *
 * Results fit the clients that show them: a whole result, its text
 * blocks and its structuredContent together (Claude Code shows the
 * model the latter when there is one, others the former), is at most
 * `limits { result size }' characters.  The tools fit their own text
 * with a hint that names the next offset (ssh_fread.c, ssh_fsearch.c,
 * ssh_shell.c, ssh_bgjob.c); what still passes the limit, with the
 * warnings added on the way, is cut here with a plainer hint.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/tree.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event.h>
#include <jansson.h>

#include "bridged.h"
#include "frontend.h"
#include "log.h"
#include "policy.h"
#include "text.h"
#include "fe_mcp.h"
#include "fe_tools.h"

#define FIT_ROUNDS	16	/* cuts before giving the result up */
#define FIT_MARK_ROOM	256	/* characters of the marker, and slack */

static const char *level_names[] = {
	"debug", "info", "notice", "warning", "error", "critical", "alert",
	"emergency",
};

static size_t	 json_chars(json_t *);
static json_t	*longest_string(json_t *, size_t *);
static size_t	 result_chars(json_t *);

/*
 * The level at or above which messages go to this session, for this
 * call (NULL: none in particular): what the client set with
 * logging/setLevel, "info" until it does.  The one place the decision
 * is made, so that a level carried by a request can be honoured here.
 */
int
mcp_log_threshold(struct mcp_session *s, struct mcp_call *call)
{
	return s->loglevel;
}

/*
 * A notifications/message to the session of call, when level passes
 * its threshold.  The text is redacted (policy_redact) before it leaves:
 * it may quote a command or a host's output.
 */
void
mcp_call_log(struct mcp_call *call, int level, const char *fmt, ...)
{
	struct mcp_session	*s = call->session;
	va_list			 ap;
	char			*text, *red;
	json_t			*m;

	if (s == NULL || s->dead || call->cancelled || level < 0 ||
	    level >= (int)(sizeof(level_names) / sizeof(level_names[0])) ||
	    level < mcp_log_threshold(s, call))
		return;
	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) == -1)
		text = NULL;
	va_end(ap);
	if (text == NULL)
		return;
	red = policy_redact(text, strlen(text));
	free(text);
	if (red == NULL)
		return;		/* never the unredacted text */
	m = json_pack("{s:s, s:s, s:{s:s, s:s, s:o}}", "jsonrpc", "2.0",
	    "method", "notifications/message", "params",
	    "level", level_names[level], "logger", "bridged",
	    "data", mcp_string(red));
	free(red);
	if (m != NULL)
		mcp_send_json(s, m);
}

/* characters of a JSON text as the client will count them */
static size_t
json_chars(json_t *j)
{
	char	*t;
	size_t	 n;

	if ((t = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL)
		return 0;
	n = utf8_chars(t, strlen(t));
	free(t);
	return n;
}

/* what a client may show the model of a result: text plus structured */
static size_t
result_chars(json_t *r)
{
	json_t	*b, *t, *sc;
	size_t	 i, n = 0;

	json_array_foreach(json_object_get(r, "content"), i, b)
		if (json_is_string(t = json_object_get(b, "text")))
			n += utf8_chars(json_string_value(t),
			    json_string_length(t));
	if ((sc = json_object_get(r, "structuredContent")) != NULL)
		n += json_chars(sc);
	return n;
}

/* the longest string value in j, at any depth; its characters in *n */
static json_t *
longest_string(json_t *j, size_t *n)
{
	json_t		*v, *best = NULL, *b;
	const char	*k;
	size_t		 i, c;

	switch (json_typeof(j)) {
	case JSON_STRING:
		*n = utf8_chars(json_string_value(j), json_string_length(j));
		return j;
	case JSON_ARRAY:
		*n = 0;
		json_array_foreach(j, i, v)
			if ((b = longest_string(v, &c)) != NULL && c > *n) {
				best = b;
				*n = c;
			}
		return best;
	case JSON_OBJECT:
		*n = 0;
		json_object_foreach(j, k, v)
			if ((b = longest_string(v, &c)) != NULL && c > *n) {
				best = b;
				*n = c;
			}
		return best;
	default:
		return NULL;
	}
}

/*
 * Cut the longest strings of r (text blocks, strings inside
 * structuredContent, which keeps its shape) until the whole is within
 * the limit.  A text block that is structuredContent's JSON is made
 * again from it.  0: it fits (cut or not); -1: it could not be made to.
 */
static int
result_fit(struct mcp_call *call, json_t *r, size_t max)
{
	json_t		*sc, *first, *t, *s, *s2, *sid;
	const char	*v;
	char		*dump, *cut, hint[256];
	size_t		 total, was, n, n2, keep, excess, i;
	int		 dup = 0, cuts = 0;

	if ((total = result_chars(r)) <= max)
		return 0;
	was = total;
	sc = json_object_get(r, "structuredContent");
	first = json_array_get(json_object_get(r, "content"), 0);
	t = json_object_get(first, "text");
	if (sc != NULL && json_is_string(t) &&
	    (dump = json_dumps(sc, JSON_COMPACT)) != NULL) {
		dup = strcmp(dump, json_string_value(t)) == 0;
		free(dump);
	}
	/* a delegated claude can be asked for the rest of its answer */
	sid = json_object_get(sc, "session_id");
	if (json_is_string(sid) && json_string_length(sid) < 128 &&
	    strspn(json_string_value(sid), "0123456789abcdefABCDEF-") ==
	    json_string_length(sid))
		snprintf(hint, sizeof(hint), "ask for the rest with %s and "
		    "resume_session_id \"%s\"", call->tool->name,
		    json_string_value(sid));
	else
		strlcpy(hint, "narrow the request to see the rest",
		    sizeof(hint));
	for (i = 0; i < FIT_ROUNDS && total > max; i++) {
		/* the duplicate text follows the structure, not the cut */
		if (dup)
			json_object_set_new(first, "text", json_string(""));
		s = longest_string(json_object_get(r, "content"), &n);
		if (sc != NULL && (s2 = longest_string(sc, &n2)) != NULL &&
		    (s == NULL || n2 > n)) {
			s = s2;
			n = n2;
		}
		excess = total - max + FIT_MARK_ROOM;
		if (dup)
			excess = (excess + 1) / 2 + FIT_MARK_ROOM;
		if (s != NULL && n > FIT_MARK_ROOM) {
			keep = n > excess ? n - excess : 0;
			v = json_string_value(s);
			if (asprintf(&cut, "%.*s\n[result cut by bridged: %zu "
			    "of %zu characters shown to fit the result limit "
			    "of %zu (limits { result size }); %s]",
			    (int)utf8_prefix(v, json_string_length(s), keep),
			    v, keep, n, max, hint) != -1) {
				json_string_set(s, cut);
				free(cut);
				cuts++;
			} else
				s = NULL;
		} else
			s = NULL;
		if (dup && (dump = json_dumps(sc, JSON_COMPACT)) != NULL) {
			json_object_set_new(first, "text", json_string(dump));
			free(dump);
		}
		if (s == NULL)
			break;
		total = result_chars(r);
	}
	if (total > max)
		return -1;
	if (cuts > 0) {
		log_info("session %u: call %u (%s): result cut from %zu to %zu "
		    "characters", call->sessid, call->reqid, call->tool->name,
		    was, total);
		mcp_call_log(call, MCPLOG_NOTICE, "%s: the result was cut from "
		    "%zu to %zu characters to fit the result limit (limits { "
		    "result size %zu })", call->tool->name, was, total, max);
	}
	return 0;
}

/*
 * The last look at a call's result before it goes: made to fit (else
 * replaced by a short error that says why), and a refusal logged.
 * Returns the result to send (r itself, or its replacement).
 */
json_t *
mcp_result_final(struct mcp_call *call, json_t *r)
{
	json_t	*t;
	size_t	 max = frontend_conf->limits.result_max;

	if (max < CONF_RESULT_MIN)
		max = CONF_RESULT_MIN;
	if (result_fit(call, r, max) == -1) {
		json_decref(r);
		r = json_pack("{s:[{s:s, s:s}], s:b}", "content", "type",
		    "text", "text", "the result is too large to fit the result "
		    "limit (limits { result size }) and could not be cut; "
		    "narrow the request", "isError", 1);
	}
	if (r != NULL && call->refused) {
		t = json_object_get(json_array_get(json_object_get(r,
		    "content"), 0), "text");
		mcp_call_log(call, MCPLOG_WARNING, "%s%s%s: refused: %s",
		    call->tool->name, call->host[0] ? " on host " : "",
		    call->host, json_is_string(t) ? json_string_value(t) :
		    "by policy");
	}
	return r;
}
