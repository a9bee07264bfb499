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
#include "logger_audit.h"
#include "ctlsock.h"
#include "imsg.h"
#include "logview.h"
#include "output.h"
#include "parser.h"

#define LOGVIEW_TIMEOUT		30	/* seconds, except for -f */
#define LOGVIEW_DEFAULT_N	20
#define ARGS_SHOWN		160

static void	 print_json(json_t *);
static char	*time_cell(json_t *);
static const char *status_of(json_t *);
static const char *colour_of(const char *);
static char	*field(json_t *, const char *, size_t);

int
logview_since(const char *s, time_t now, time_t *out)
{
	struct tm	 tm;
	const char	*errstr;
	char		*end;
	long long	 n, mult;
	size_t		 len = strlen(s);
	char		 num[40], *dot;
	int		 utc;

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
	/*
	 * A date, with a time of day or not, as shown: UTC (a trailing Z
	 * says so too), local time under -l.  Fractions of a second, as
	 * show log prints them, are ignored.
	 */
	if (len >= sizeof(num))
		return -1;
	strlcpy(num, s, sizeof(num));
	utc = !output_local;
	if (num[len - 1] == 'Z') {
		num[--len] = '\0';
		utc = 1;
	}
	if ((dot = strchr(num, '.')) != NULL) {
		for (end = dot + 1; isdigit((unsigned char)*end); end++)
			;
		if (end == dot + 1 || *end != '\0')
			return -1;
		*dot = '\0';
	}
	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(num, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL ||
	    *end != '\0') {
		memset(&tm, 0, sizeof(tm));
		if ((end = strptime(num, "%Y-%m-%dT%H:%M", &tm)) == NULL ||
		    *end != '\0') {
			memset(&tm, 0, sizeof(tm));
			if ((end = strptime(num, "%Y-%m-%d", &tm)) == NULL ||
			    *end != '\0')
				return -1;
		}
	}
	tm.tm_isdst = -1;
	if ((*out = utc ? timegm(&tm) : mktime(&tm)) == -1)
		return -1;
	return 0;
}

/*
 * The columns of show log and show audit.  A listing is printed when it
 * is complete, each column as wide as its widest cell, so long host and
 * tool names keep it aligned; a follower prints as records come and its
 * columns only ever widen.
 */
enum { C_TIME, C_SEQ, C_TYPE, C_STATUS, C_ID, C_HOST, C_TOOL, C_REST, NCOL };

struct lrow {
	char		*cell[NCOL];
	size_t		 width[NCOL];
	const char	*colour;
};

struct ltable {
	struct lrow	*rows;
	size_t		 nrows, cap;
	size_t		 width[NCOL];
	int		 colour;
};

static void	 table_add(struct ltable *, json_t *, int);
static void	 table_print(struct ltable *, struct lrow *);
static void	 table_flush(struct ltable *);
static void	 row_free(struct lrow *);

int
logview_run(const char *sockpath, struct parse_result *res, int json)
{
	struct log_query	 q;
	struct ltable		 tab;
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
		q.limit = res->count_set ? res->count : LOGVIEW_DEFAULT_N;
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
				    "(2024-05-06 or 2024-05-06T07:08, UTC unless"
				    " -l), an age (30m, 2h, 7d) or a unix time",
				    res->since);
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
	/* -n 0, as tail -n 0: no backlog (limit 0 alone means "all") */
	if (type != IMSG_CTL_VERIFY && res->count_set && res->count == 0)
		q.nobacklog = 1;
	if (type != IMSG_CTL_VERIFY) {
		data = &q;
		len = sizeof(q);
	}
	forever = q.follow;
	colour = !json && isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL;
	memset(&tab, 0, sizeof(tab));
	tab.colour = colour;

	fd = ctl_request(sockpath, &ibuf, type, data, len);

	while (!done) {
		if (ctl_next(&ibuf, &imsg, forever ? -1 : LOGVIEW_TIMEOUT) ==
		    0) {
			table_flush(&tab);
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
			} else if (json)
				print_json(o);
			else
				table_add(&tab, o, forever);
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
			/*
			 * verify's answer, or the end of a follow: the
			 * daemon stopped, which is the end of its log
			 * rather than an error.
			 */
			if (type != IMSG_CTL_VERIFY && !forever)
				errx(1, "unexpected reply from bridged");
			table_flush(&tab);
			if (forever && json) {
				fflush(stdout);
				ctl_answer(0, 0, "bridged stopped", &imsg);
			} else
				ctl_answer(json, 1, forever ?
				    "bridged stopped" : "verified", &imsg);
			done = 1;
			break;
		case IMSG_CTL_ERROR:
			table_flush(&tab);
			ctl_answer(json && type == IMSG_CTL_VERIFY, 0,
			    "request failed", &imsg);
			status = 1;
			done = 1;
			break;
		default:
			errx(1, "unexpected message type %u from bridged",
			    imsg.hdr.type);
		}
		imsg_free(&imsg);
	}
	table_flush(&tab);
	free(tab.rows);
	imsgbuf_clear(&ibuf);
	close(fd);
	if (fflush(stdout) == EOF || ferror(stdout))
		err(1, "stdout");
	return status;
}

/*
 * verify database PATH: the same walk of the chain as the daemon's
 * logger makes, on a file, with the daemon stopped or on a copy.  The
 * text log's heads are not read; a head given as SEQ:HASH is checked.
 */
int
logview_verify_db(const char *path, const char *head, int json)
{
	struct ahead	 h;
	struct imsg	 imsg;
	char		 msg[512];
	const char	*colon, *errstr;
	char		 seq[32];
	size_t		 n = 0;
	int		 rc;

	if (head != NULL) {
		memset(&h, 0, sizeof(h));
		if ((colon = strchr(head, ':')) == NULL ||
		    (size_t)(colon - head) >= sizeof(seq) ||
		    strlen(colon + 1) != HASH_HEXLEN - 1)
			errx(1, "%s: give SEQ:HASH (64 hex digits)", head);
		memcpy(seq, head, colon - head);
		seq[colon - head] = '\0';
		h.seq = strtonum(seq, 1, INT64_MAX, &errstr);
		if (errstr != NULL)
			errx(1, "%s: the seq is %s", head, errstr);
		strlcpy(h.hash, colon + 1, sizeof(h.hash));
		strlcpy(h.source, "the head given", sizeof(h.source));
		n = 1;
	}
	if (audit_open_ro(path, msg, sizeof(msg)) == -1)
		rc = -1;
	else
		rc = audit_verify(&h, n, msg, sizeof(msg));
	audit_close();
	memset(&imsg, 0, sizeof(imsg));
	imsg.data = (unsigned char *)msg;
	imsg.datalen = strlen(msg);
	ctl_answer(json, rc == 0, rc == 0 ? "verified" : "verify failed",
	    &imsg);
	if (fflush(stdout) == EOF || ferror(stdout))
		err(1, "stdout");
	return rc == 0 ? 0 : 1;
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

/*
 * One word for what the record says happened: the outcome as recorded,
 * which is the word the outcome filter takes (ok, error, timeout, ...).
 */
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
		return outcome;
	return event != NULL ? event : type;
}

static const char *
colour_of(const char *status)
{
	if (strcmp(status, "start") == 0)
		return "\033[36m";
	if (strcmp(status, "ok") == 0 || strcmp(status, "done") == 0)
		return "\033[32m";
	if (strcmp(status, "error") == 0)
		return "\033[31m";
	if (strcmp(status, "timeout") == 0 ||
	    strcmp(status, "cancelled") == 0 ||
	    strcmp(status, "killed") == 0)
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
print_json(json_t *o)
{
	char	*s;

	if ((s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER)) != NULL) {
		printf("%s\n", s);
		free(s);
	}
}

/* "2024-05-06T07:08:09.123Z" as every time is shown (output_time) */
static char *
time_cell(json_t *o)
{
	struct tm	 tm;
	const char	*s = json_string_value(json_object_get(o, "time"));
	char		*end, *t;
	long		 ms = 0;

	if (s == NULL)
		return strdup("-");
	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return field(o, "time", 40);
	if (*end == '.') {
		ms = strtol(end + 1, &end, 10);
		if (ms < 0 || ms > 999)
			return field(o, "time", 40);
	}
	if (strcmp(end, "Z") != 0)
		return field(o, "time", 40);
	if ((t = output_time((int64_t)timegm(&tm) * 1000 + ms, 1)) == NULL)
		return field(o, "time", 40);
	return t;
}

static void
table_add(struct ltable *tab, json_t *o, int now)
{
	struct lrow	 r;
	json_t		*rest, *v;
	const char	*status;
	size_t		 i;
	char		*s, idbuf[64];

	memset(&r, 0, sizeof(r));
	v = json_object_get(o, "seq");
	if (asprintf(&r.cell[C_SEQ], "%lld", json_is_integer(v) ?
	    (long long)json_integer_value(v) : 0LL) == -1)
		err(1, NULL);
	r.cell[C_TIME] = time_cell(o);
	r.cell[C_TYPE] = field(o, "type", 16);
	r.cell[C_HOST] = field(o, "host", HOST_NAME_LEN);
	r.cell[C_TOOL] = field(o, "tool", 64);
	status = status_of(o);
	r.cell[C_STATUS] = output_sanitize(status, strlen(status), 16, NULL);
	if (tab->colour)
		r.colour = colour_of(status);

	idbuf[0] = '\0';
	if (json_is_integer(json_object_get(o, "session")))
		snprintf(idbuf, sizeof(idbuf), "s%lld",
		    (long long)json_integer_value(json_object_get(o,
		    "session")));
	if (json_is_integer(json_object_get(o, "request")))
		snprintf(idbuf + strlen(idbuf), sizeof(idbuf) - strlen(idbuf),
		    "/r%lld", (long long)json_integer_value(json_object_get(o,
		    "request")));
	r.cell[C_ID] = strdup(idbuf);

	/* what is left, compact: arguments, reasons, counts */
	rest = json_deep_copy(o);
	for (i = 0; i < sizeof(shown_keys) / sizeof(shown_keys[0]); i++)
		json_object_del(rest, shown_keys[i]);
	if (strcmp(status, "start") != 0 && strcmp(r.cell[C_TYPE], "call") ==
	    0)
		json_object_del(rest, "event");
	s = json_dumps(rest, JSON_COMPACT | JSON_SORT_KEYS);
	r.cell[C_REST] = s != NULL ? output_sanitize(s, strlen(s),
	    ARGS_SHOWN, NULL) : strdup("");
	free(s);
	json_decref(rest);

	for (i = 0; i < NCOL; i++) {
		if (r.cell[i] == NULL)
			err(1, NULL);
		/* the width in characters, as output_sanitize counts */
		free(output_sanitize(r.cell[i], strlen(r.cell[i]), 0,
		    &r.width[i]));
		if (r.width[i] > tab->width[i])
			tab->width[i] = r.width[i];
	}
	if (now) {
		table_flush(tab);
		table_print(tab, &r);
		row_free(&r);
		return;
	}
	if (tab->nrows == tab->cap) {
		tab->cap = tab->cap ? tab->cap * 2 : 64;
		if ((tab->rows = reallocarray(tab->rows, tab->cap,
		    sizeof(*tab->rows))) == NULL)
			err(1, NULL);
	}
	tab->rows[tab->nrows++] = r;
}

static void
table_print(struct ltable *tab, struct lrow *r)
{
	size_t	 i;

	for (i = 0; i < NCOL; i++) {
		if (i == C_REST) {
			printf("%s\n", r->cell[i]);
			break;
		}
		if (i == C_STATUS && r->colour != NULL)
			printf("%s%s\033[0m", r->colour, r->cell[i]);
		else if (i == C_SEQ)
			printf("%*s%s", (int)(tab->width[i] - r->width[i]), "",
			    r->cell[i]);
		else
			printf("%s", r->cell[i]);
		if (i != C_SEQ)
			printf("%*s", (int)(tab->width[i] - r->width[i]), "");
		putchar(' ');
	}
}

static void
table_flush(struct ltable *tab)
{
	size_t	 i;

	for (i = 0; i < tab->nrows; i++) {
		table_print(tab, &tab->rows[i]);
		row_free(&tab->rows[i]);
	}
	tab->nrows = 0;
}

static void
row_free(struct lrow *r)
{
	size_t	 i;

	for (i = 0; i < NCOL; i++)
		free(r->cell[i]);
}
