/*
 * logview.c: bridgectl show log, show audit and verify.
 *
 * The daemon's records are parsed and checked like any other data from
 * it: each must be a JSON object; a field of the wrong type is shown as
 * missing.  Text goes through output_sanitize() before it reaches a
 * terminal.  With -j each record is printed as one JSON object per line
 * (JSON Lines), re-encoded by jansson, which escapes control characters.
 * show log -f has no timeout: it prints records as the daemon commits
 * them until it is interrupted or the daemon goes away.
 */

#include <sys/types.h>

#include <ctype.h>
#include <err.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "bridged.h"
#include "ctlsock.h"
#include "imsg.h"
#include "logview.h"
#include "output.h"
#include "parser.h"

#define LOGVIEW_TIMEOUT		30	/* seconds, except for -f */
#define LOGVIEW_DEFAULT_N	20
#define ARGS_SHOWN		160

static void	 print_record(json_t *, int);
static const char *status_of(json_t *);
static const char *colour_of(const char *);
static char	*field(json_t *, const char *, size_t);

int
logview_since(const char *s, time_t now, time_t *out)
{
	struct tm	 tm;
	const char	*errstr, *end;
	long long	 n, mult;
	size_t		 len = strlen(s);
	char		 num[32];

	if (len == 0)
		return -1;
	/* a plain number: unix time */
	n = strtonum(s, 0, INT64_MAX / 1000, &errstr);
	if (errstr == NULL) {
		*out = n;
		return 0;
	}
	/* N with a unit: that long ago */
	switch (s[len - 1]) {
	case 's': mult = 1; break;
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case 'd': mult = 86400; break;
	default: mult = 0; break;
	}
	if (mult != 0 && len < sizeof(num)) {
		memcpy(num, s, len - 1);
		num[len - 1] = '\0';
		n = strtonum(num, 0, 100LL * 365 * 86400, &errstr);
		if (errstr == NULL && num[0] != '\0') {
			*out = now - n * mult;
			return 0;
		}
	}
	/* a date, with a time of day or not: local time */
	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL ||
	    *end != '\0') {
		memset(&tm, 0, sizeof(tm));
		if ((end = strptime(s, "%Y-%m-%dT%H:%M", &tm)) == NULL ||
		    *end != '\0') {
			memset(&tm, 0, sizeof(tm));
			if ((end = strptime(s, "%Y-%m-%d", &tm)) == NULL ||
			    *end != '\0')
				return -1;
		}
	}
	tm.tm_isdst = -1;
	if ((*out = mktime(&tm)) == -1)
		return -1;
	return 0;
}

int
logview_run(const char *sockpath, struct parse_result *res, int json)
{
	struct log_query	 q;
	struct imsgbuf		 ibuf;
	struct imsg		 imsg;
	json_error_t		 jerr;
	json_t			*o;
	time_t			 since;
	uint32_t		 type;
	const void		*data = NULL;
	size_t			 len = 0;
	int			 fd, status = 0, done = 0, colour, forever;

	json |= res->json;
	memset(&q, 0, sizeof(q));
	switch (res->action) {
	case SHOW_LOG:
		type = IMSG_CTL_SHOW_LOG;
		q.limit = res->count ? res->count : LOGVIEW_DEFAULT_N;
		q.follow = res->follow;
		break;
	case SHOW_AUDIT:
		type = IMSG_CTL_SHOW_AUDIT;
		q.limit = res->count;
		q.session = res->session;
		if (res->since != NULL) {
			if (logview_since(res->since, time(NULL), &since) ==
			    -1)
				errx(1, "since %s: give a date "
				    "(2024-05-06 or 2024-05-06T07:08), an age "
				    "(30m, 2h, 7d) or a unix time", res->since);
			q.since = since > 0 ? since : 1;
		}
		if ((res->host && strlcpy(q.host, res->host, sizeof(q.host)) >=
		    sizeof(q.host)) || (res->tool && strlcpy(q.tool,
		    res->tool, sizeof(q.tool)) >= sizeof(q.tool)) ||
		    (res->outcome && strlcpy(q.outcome, res->outcome,
		    sizeof(q.outcome)) >= sizeof(q.outcome)))
			errx(1, "a filter value is too long");
		break;
	default:
		type = IMSG_CTL_VERIFY;
		if (res->head != NULL) {
			data = res->head;
			len = strlen(res->head);
		}
		break;
	}
	if (type != IMSG_CTL_VERIFY) {
		data = &q;
		len = sizeof(q);
	}
	forever = q.follow;
	colour = !json && isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL;

	fd = ctl_request(sockpath, &ibuf, type, data, len);

	while (!done) {
		if (ctl_next(&ibuf, &imsg, forever ? -1 : LOGVIEW_TIMEOUT) ==
		    0) {
			if (forever)
				errx(1, "bridged closed the connection");
			errx(1, "bridged closed the connection before "
			    "answering");
		}
		switch (imsg.hdr.type) {
		case IMSG_CTL_DATA:
			if (type == IMSG_CTL_VERIFY)
				errx(1, "unexpected data from bridged");
			o = json_loadb((char *)imsg.data, imsg.datalen, 0,
			    &jerr);
			if (o == NULL || !json_is_object(o)) {
				warnx("bridged sent a record that is not a "
				    "JSON object; skipped");
				status = 1;
			} else
				print_record(o, json ? -1 : colour);
			json_decref(o);
			if (forever)
				fflush(stdout);
			break;
		case IMSG_CTL_END:
			if (type == IMSG_CTL_VERIFY || imsg.datalen != 0)
				errx(1, "unexpected end of data from bridged");
			done = 1;
			break;
		case IMSG_CTL_OK:
			if (type != IMSG_CTL_VERIFY)
				errx(1, "unexpected reply from bridged");
			ctl_message(stdout, "verified", &imsg);
			done = 1;
			break;
		case IMSG_CTL_ERROR:
			ctl_message(stderr, "request failed", &imsg);
			status = 1;
			done = 1;
			break;
		default:
			errx(1, "unexpected message type %u from bridged",
			    imsg.hdr.type);
		}
		imsg_free(&imsg);
	}
	imsgbuf_clear(&ibuf);
	close(fd);
	if (fflush(stdout) == EOF || ferror(stdout))
		err(1, "stdout");
	return status;
}

/* a string field made safe, "" when missing or not a string */
static char *
field(json_t *o, const char *key, size_t max)
{
	const char	*s = json_string_value(json_object_get(o, key));

	if (s == NULL)
		s = "";
	return output_sanitize(s, strlen(s), max, NULL);
}

/* one word for what the record says happened */
static const char *
status_of(json_t *o)
{
	const char	*type, *event, *outcome, *decision;

	type = json_string_value(json_object_get(o, "type"));
	event = json_string_value(json_object_get(o, "event"));
	outcome = json_string_value(json_object_get(o, "outcome"));
	decision = json_string_value(json_object_get(o, "decision"));
	if (type == NULL)
		return "?";
	if (decision != NULL && strcmp(decision, "refused") == 0)
		return "refused";
	if (strcmp(type, "policy") == 0)
		return "refused";
	if (strcmp(type, "call") == 0 && event != NULL &&
	    strcmp(event, "intent") == 0)
		return "start";
	if (outcome != NULL)
		return strcmp(outcome, "ok") == 0 ? "done" : outcome;
	return event != NULL ? event : type;
}

static const char *
colour_of(const char *status)
{
	if (strcmp(status, "start") == 0)
		return "\033[36m";
	if (strcmp(status, "done") == 0)
		return "\033[32m";
	if (strcmp(status, "error") == 0)
		return "\033[31m";
	if (strcmp(status, "timeout") == 0 ||
	    strcmp(status, "cancelled") == 0)
		return "\033[33m";
	if (strcmp(status, "refused") == 0)
		return "\033[35m";
	return NULL;
}

/* fields that have their own column (or none) */
static const char *shown_keys[] = {
	"seq", "time", "type", "host", "tool", "prev", "hash", "session",
	"request", "outcome", "decision",
};

static void
print_record(json_t *o, int colour)
{
	json_t		*rest, *v;
	const char	*status, *col = NULL;
	size_t		 i;
	char		*time_s, *type, *host, *tool, *status_s, *args;
	char		*s, idbuf[64];
	json_int_t	 seq;

	if (colour == -1) {
		if ((s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER)) !=
		    NULL) {
			printf("%s\n", s);
			free(s);
		}
		return;
	}
	v = json_object_get(o, "seq");
	seq = json_is_integer(v) ? json_integer_value(v) : 0;
	time_s = field(o, "time", 32);
	if (strlen(time_s) > 10 && time_s[10] == 'T')
		time_s[10] = ' ';
	type = field(o, "type", 16);
	host = field(o, "host", 32);
	tool = field(o, "tool", 32);
	status = status_of(o);
	status_s = output_sanitize(status, strlen(status), 16, NULL);
	if (colour)
		col = colour_of(status);

	idbuf[0] = '\0';
	if (json_is_integer(json_object_get(o, "session")))
		snprintf(idbuf, sizeof(idbuf), "s%lld",
		    (long long)json_integer_value(json_object_get(o,
		    "session")));
	if (json_is_integer(json_object_get(o, "request")))
		snprintf(idbuf + strlen(idbuf), sizeof(idbuf) - strlen(idbuf),
		    "/r%lld", (long long)json_integer_value(json_object_get(o,
		    "request")));

	/* what is left, compact: arguments, reasons, counts */
	rest = json_deep_copy(o);
	for (i = 0; i < sizeof(shown_keys) / sizeof(shown_keys[0]); i++)
		json_object_del(rest, shown_keys[i]);
	if (strcmp(status, "start") != 0 && strcmp(type, "call") == 0)
		json_object_del(rest, "event");
	s = json_dumps(rest, JSON_COMPACT | JSON_SORT_KEYS);
	args = s != NULL ? output_sanitize(s, strlen(s), ARGS_SHOWN, NULL) :
	    strdup("");
	free(s);
	json_decref(rest);

	printf("%s %6lld %-8s %s%-9s%s %-9s %-8s %-10s %s\n", time_s,
	    (long long)seq, type, col ? col : "", status_s, col ? "\033[0m" :
	    "", idbuf, host, tool, args ? args : "");
	free(time_s);
	free(type);
	free(host);
	free(tool);
	free(status_s);
	free(args);
}
