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

#include <limits.h>
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

#define FIT_ROUNDS	8	/* tries before giving the result up */
#define FIT_TAIL	320	/* characters kept of a cut string's end */
#define FIT_MARK_ROOM	256	/* characters of the marker, and slack */

static const char *level_names[] = {
	"debug", "info", "notice", "warning", "error", "critical", "alert",
	"emergency",
};

static size_t	 utf8_tailbytes(const char *, size_t, size_t);
static size_t	 json_chars(json_t *);
static void	 strings_of(json_t *, json_t *);
static int	 cut_strings(json_t *, size_t, size_t, const char *);
static json_t	*result_fit(struct mcp_call *, json_t *, size_t);
static size_t	 result_chars(json_t *);

/*
 * The level at or above which messages go to this session, for this
 * call (NULL: none in particular): for a legacy session what the
 * client set with logging/setLevel, "info" until it does; for a
 * 2026-07-28 request the level its _meta names, none without one.  The one place the decision
 * is made, so that a level carried by a request can be honoured here.
 */
int
mcp_log_threshold(struct mcp_session *s, struct mcp_call *call)
{
	int	 level;

	if (call == NULL || call->session == NULL)
		return s->loglevel;
	/* a 2026-07-28 call's own, from its _meta; -1: it asked for none */
	if ((level = mcp_call_loglevel(call)) < 0)
		return INT_MAX;
	return level;
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

/* the bytes of the last n characters of s (whole sequences) */
static size_t
utf8_tailbytes(const char *s, size_t len, size_t n)
{
	size_t	 all = utf8_chars(s, len);

	if (n >= all)
		return len;
	return len - utf8_prefix(s, len, all - n);
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

/* every string value in j, at any depth, appended to a (borrowed) */
static void
strings_of(json_t *j, json_t *a)
{
	json_t		*v;
	const char	*k;
	size_t		 i;

	switch (json_typeof(j)) {
	case JSON_STRING:
		json_array_append(a, j);
		break;
	case JSON_ARRAY:
		json_array_foreach(j, i, v)
			strings_of(v, a);
		break;
	case JSON_OBJECT:
		json_object_foreach(j, k, v)
			strings_of(v, a);
		break;
	default:
		break;
	}
}

/*
 * Cut every string of a longer than level characters to level: its head,
 * a note, its last FIT_TAIL characters (the end often says how it
 * ended).  Returns how many were cut.
 */
static int
cut_strings(json_t *a, size_t level, size_t max, const char *hint)
{
	json_t		*s;
	const char	*v;
	char		*cut;
	size_t		 i, n, len, tail, toff;
	int		 cuts = 0;

	json_array_foreach(a, i, s) {
		v = json_string_value(s);
		len = json_string_length(s);
		if ((n = utf8_chars(v, len)) <= level)
			continue;
		tail = level > 2 * FIT_TAIL ? FIT_TAIL : 0;
		toff = len - utf8_tailbytes(v, len, tail);
		if (asprintf(&cut, "%.*s\n[result cut by bridged: %zu of %zu "
		    "characters shown to fit the result limit of %zu (limits "
		    "{ result size }); %s]%s%s", (int)utf8_prefix(v, len,
		    level - tail), v, level, n, max, hint, tail ? "\n" : "",
		    v + toff) == -1)
			continue;
		json_string_set(s, cut);
		free(cut);
		cuts++;
	}
	return cuts;
}

/*
 * A result within max characters: r itself when it fits, else a copy in
 * which the longest strings (text blocks, strings inside
 * structuredContent, which keeps its shape) are cut to one level, chosen
 * so that together they lose what is too much; a text block that is
 * structuredContent's JSON is made again from it.  NULL: it could not
 * be made to fit.  r is stolen.
 */
static json_t *
result_fit(struct mcp_call *call, json_t *r, size_t max)
{
	json_t		*w, *sc, *first, *t, *sid, *a, *s;
	char		*dump, hint[256];
	size_t		 total, was, excess, level, lo, hi, mid, sum, n, i;
	size_t		 room, nlong;
	int		 dup = 0, round, cuts;

	if ((total = result_chars(r)) <= max)
		return r;
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
		snprintf(hint, sizeof(hint), "ask for the rest with ask_claude "
		    "and resume_session_id \"%s\"", json_string_value(sid));
	else
		strlcpy(hint, "narrow the request to see the rest",
		    sizeof(hint));

	room = 0;
	for (round = 0; round < FIT_ROUNDS; round++) {
		if ((w = json_deep_copy(r)) == NULL)
			break;
		sc = json_object_get(w, "structuredContent");
		first = json_array_get(json_object_get(w, "content"), 0);
		if (dup)	/* made again from the structure below */
			json_object_set_new(first, "text", json_string(""));
		a = json_array();
		strings_of(json_object_get(w, "content"), a);
		if (sc != NULL)
			strings_of(sc, a);
		/*
		 * The level: the highest at which the strings above it lose
		 * enough (a duplicated text loses as much again).
		 */
		excess = total - max + room;
		if (dup)
			excess = (excess + 1) / 2;
		lo = 0;
		hi = 0;
		json_array_foreach(a, i, s)
			if ((n = utf8_chars(json_string_value(s),
			    json_string_length(s))) > hi)
				hi = n;
		while (lo < hi) {
			mid = lo + (hi - lo + 1) / 2;
			sum = nlong = 0;
			json_array_foreach(a, i, s)
				if ((n = utf8_chars(json_string_value(s),
				    json_string_length(s))) > mid) {
					sum += n - mid;
					nlong++;
				}
			if (sum >= excess + nlong * FIT_MARK_ROOM)
				lo = mid;
			else
				hi = mid - 1;
		}
		level = lo;
		cuts = cut_strings(a, level, max, hint);
		json_decref(a);
		if (dup && (dump = json_dumps(sc, JSON_COMPACT)) != NULL) {
			json_object_set_new(first, "text", json_string(dump));
			free(dump);
		}
		if ((n = result_chars(w)) <= max) {
			json_decref(r);
			log_info("session %u: call %u (%s): result cut from %zu "
			    "to %zu characters", call->sessid, call->reqid,
			    call->tool->name, was, n);
			mcp_call_log(call, MCPLOG_NOTICE, "%s: the result was "
			    "cut from %zu to %zu characters to fit the result "
			    "limit (limits { result size %zu })",
			    call->tool->name, was, n, max);
			return w;
		}
		json_decref(w);
		if (cuts == 0 || level == 0)
			break;
		/* JSON escapes and notes took more: ask for more next time */
		room += n - max + FIT_MARK_ROOM;
	}
	json_decref(r);
	return NULL;
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
	if ((r = result_fit(call, r, max)) == NULL)
		r = json_pack("{s:[{s:s, s:s}], s:b}", "content", "type",
		    "text", "text", "the result is too large to fit the result "
		    "limit (limits { result size }) and could not be cut; "
		    "narrow the request", "isError", 1);
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
