/*
 * output.c: bridgectl's rendering of daemon records.
 *
 * The daemon is trusted to be the daemon, not to be bug-free or
 * uncompromised: every record is parsed as JSON, must be an object, and
 * each field we know must have the type we expect (or be null or
 * missing).  A record that fails is reported and skipped.  Strings are
 * made safe for a terminal before they are printed in a table; in JSON
 * mode jansson escapes control characters itself.
 */

#include <sys/types.h>

#include <err.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "bridged.h"
#include "output.h"

int	 output_local;		/* -l: local times, else UTC */

/* a table is held in memory until the end; a flood is refused */
#define OUTPUT_MAXROWS	100000
#define COLUMN_SEP	2

/* accepted JSON types of a known field; null always is */
#define FT_STR		0x01
#define FT_INT		0x02
#define FT_BOOL		0x04
#define FT_STRARRAY	0x08
#define FT_NUM		0x10	/* any number */

struct field {
	const char	*name;
	int		 types;
};

struct column {
	const char	*title;
	const char	*key;
	size_t		 maxwidth;	/* characters, 0: no limit */
	char		*(*fmt)(json_t *, const char *, time_t);
};

struct view {
	const char		*name;
	const struct field	*fields;
	const struct column	*columns;
	size_t			 ncolumns;
};

struct cell {
	char		*s;
	size_t		 width;
};

struct output {
	const struct view	*view;
	int			 json;
	int			 dumpflags;
	time_t			 now;
	struct cell		*cells;		/* nrows * ncolumns */
	size_t			 nrows;
	size_t			 rowcap;
	int			 toomany;
};

static char	*xstrdup(const char *);
static char	*xprintf(const char *, ...)
		    __attribute__((__format__ (printf, 1, 2)));
static const char *jstr(json_t *, const char *);
static int	 jint(json_t *, const char *, json_int_t, json_int_t,
		    json_int_t *);
static char	*fmt_str(json_t *, const char *, time_t);
static char	*fmt_blank(json_t *, const char *, time_t);
static char	*fmt_uint(json_t *, const char *, time_t);
static char	*fmt_id(json_t *, const char *, time_t);
static char	*fmt_age(json_t *, const char *, time_t);
static char	*fmt_client(json_t *, const char *, time_t);
static char	*fmt_address(json_t *, const char *, time_t);
static char	*fmt_list(json_t *, const char *, time_t);
static char	*fmt_cost(json_t *, const char *, time_t);
static char	*fmt_route(json_t *, const char *, time_t);
static char	*fmt_conns(json_t *, const char *, time_t);
static char	*fmt_ms(json_t *, const char *, time_t);
static char	*fmt_time(json_t *, const char *, time_t);
static int	 validate(const struct view *, json_t *, char *, size_t);
static int	 unsafe_codepoint(uint32_t);
static void	 print_row(const struct view *, const size_t *,
		    struct cell *);

static const struct field session_fields[] = {
	{ "id",			FT_INT | FT_STR },
	{ "uid",		FT_INT },
	{ "pid",		FT_INT },
	{ "client",		FT_STR },
	{ "client_version",	FT_STR },
	{ "protocol",		FT_STR },
	{ "since",		FT_INT },
	{ "requests",		FT_INT },
	{ "state",		FT_STR },
	{ "ended",		FT_INT },	/* show sessions all */
	{ "duration_ms",	FT_INT },
	{ "principal",		FT_STR },
	{ "transport",		FT_STR },
	{ NULL,			0 }
};

static const struct column session_columns[] = {
	{ "ID",		"id",		24,	fmt_id },
	{ "TRANSPORT",	"transport",	8,	fmt_str },
	{ "PRINCIPAL",	"principal",	40,	fmt_str },
	{ "UID",	"uid",		12,	fmt_uint },
	{ "PID",	"pid",		12,	fmt_uint },
	{ "CLIENT",	"client",	40,	fmt_client },
	{ "PROTOCOL",	"protocol",	16,	fmt_str },
	{ "SINCE",	"since",	0,	fmt_age },
	{ "REQUESTS",	"requests",	0,	fmt_uint },
};

/* show sessions all: the ended ones say so and when */
static const struct column session_all_columns[] = {
	{ "ID",		"id",		24,	fmt_id },
	{ "UID",	"uid",		12,	fmt_uint },
	{ "PID",	"pid",		12,	fmt_uint },
	{ "CLIENT",	"client",	40,	fmt_client },
	{ "PROTOCOL",	"protocol",	16,	fmt_str },
	{ "STATE",	"state",	8,	fmt_str },
	{ "SINCE",	"since",	0,	fmt_age },
	{ "ENDED",	"ended",	0,	fmt_time },
	{ "REQUESTS",	"requests",	0,	fmt_uint },
};

static const struct field host_fields[] = {
	{ "name",		FT_STR },
	{ "address",		FT_STR },
	{ "port",		FT_INT },
	{ "via",		FT_STR },
	{ "user",		FT_STR },
	{ "capabilities",	FT_STRARRAY },
	{ "base_dir",		FT_STR },
	{ "default",		FT_BOOL },
	{ "state",		FT_STR },
	{ "since",		FT_INT },
	{ "connections",	FT_INT },
	{ "channels",		FT_INT },
	{ "bytes_in",		FT_INT },
	{ "bytes_out",		FT_INT },
	{ "fingerprint",	FT_STR },
	{ "last_error",		FT_STR },
	{ "worker_pid",		FT_INT },
	{ "worker_restarts",	FT_INT },
	{ NULL,			0 }
};

static const struct column host_columns[] = {
	{ "NAME",	"name",		32,	fmt_str },
	{ "ADDRESS",	"address",	48,	fmt_address },
	{ "VIA",	"via",		32,	fmt_str },
	{ "USER",	"user",		24,	fmt_str },
	{ "CAPS",	"capabilities",	48,	fmt_list },
	{ "STATE",	"state",	16,	fmt_str },
	{ "SINCE",	"since",	0,	fmt_age },
	{ "WORKER",	"worker_pid",	0,	fmt_uint },
	{ "CONNS",	"connections",	0,	fmt_uint },
	{ "CHANNELS",	"channels",	0,	fmt_uint },
	{ "BYTES IN",	"bytes_in",	0,	fmt_uint },
	{ "BYTES OUT",	"bytes_out",	0,	fmt_uint },
	{ "FINGERPRINT", "fingerprint",	64,	fmt_str },
	{ "LAST ERROR",	"last_error",	200,	fmt_blank },
};

static const struct field deleg_fields[] = {
	{ "id",			FT_INT },
	{ "job_id",		FT_STR },
	{ "host",		FT_STR },
	{ "session_id",		FT_STR },
	{ "state",		FT_STR },
	{ "started",		FT_INT },
	{ "duration_ms",	FT_INT },
	{ "total_cost_usd",	FT_NUM },
	{ "task",		FT_STR },
	{ "mcp_session",	FT_INT },
	{ "ended",		FT_INT },	/* show delegations all */
	{ "num_turns",		FT_INT },
	{ "exit_status",	FT_INT },
	{ NULL,			0 }
};

static const struct column deleg_columns[] = {
	{ "ID",		"id",		0,	fmt_uint },
	{ "JOB",	"job_id",	24,	fmt_str },
	{ "HOST",	"host",		32,	fmt_str },
	{ "SESSION ID",	"session_id",	36,	fmt_str },
	{ "STATE",	"state",	12,	fmt_str },
	{ "STARTED",	"started",	0,	fmt_age },
	{ "DURATION",	"duration_ms",	0,	fmt_ms },
	{ "COST",	"total_cost_usd", 0,	fmt_cost },
	{ "TASK",	"task",		60,	fmt_blank },
};

static const struct field forward_fields[] = {
	{ "id",			FT_INT },
	{ "session",		FT_INT },
	{ "host",		FT_STR },
	{ "direction",		FT_STR },
	{ "listen",		FT_STR },
	{ "destination",	FT_STR },
	{ "persistent",		FT_BOOL },
	{ "state",		FT_STR },
	{ "active",		FT_INT },
	{ "total",		FT_INT },
	{ "refused",		FT_INT },
	{ "bytes_sent",		FT_INT },
	{ "bytes_received",	FT_INT },
	{ "since",		FT_INT },
	{ "published",		FT_BOOL },
	{ "error",		FT_STR },
	{ NULL,			0 }
};

static const struct column forward_columns[] = {
	{ "ID",		"id",		0,	fmt_uint },
	{ "SESSION",	"session",	0,	fmt_uint },
	{ "HOST",	"host",		32,	fmt_str },
	{ "DIR",	"direction",	8,	fmt_str },
	{ "LISTEN -> DESTINATION", "listen", 120, fmt_route },
	{ "CONNS",	"active",	0,	fmt_conns },
	{ "SENT",	"bytes_sent",	0,	fmt_uint },
	{ "RECEIVED",	"bytes_received", 0,	fmt_uint },
	{ "SINCE",	"since",	0,	fmt_age },
};

static const struct field listener_fields[] = {
	{ "id",			FT_INT },
	{ "address",		FT_STR },
	{ "port",		FT_INT },
	{ "loopback",		FT_BOOL },
	{ "state",		FT_STR },
	{ "connections",	FT_INT },
	{ "requests",		FT_INT },
	{ "refused",		FT_INT },
	{ "sessions",		FT_INT },
	{ "clients",		FT_STRARRAY },
	{ NULL,			0 }
};

static const struct column listener_columns[] = {
	{ "ADDRESS",	"address",	48,	fmt_str },
	{ "PORT",	"port",		0,	fmt_uint },
	{ "STATE",	"state",	12,	fmt_str },
	{ "CONNS",	"connections",	0,	fmt_uint },
	{ "SESSIONS",	"sessions",	0,	fmt_uint },
	{ "REQUESTS",	"requests",	0,	fmt_uint },
	{ "REFUSED",	"refused",	0,	fmt_uint },
	{ "CLIENTS",	"clients",	80,	fmt_list },
};

static const struct field channel_fields[] = {
	{ "name",		FT_STR },
	{ "creator",		FT_STR },
	{ "count",		FT_INT },
	{ "last_id",		FT_INT },
	{ "last_time",		FT_STR },
	{ "senders",		FT_STRARRAY },
	{ NULL,			0 }
};

static const struct column channel_columns[] = {
	{ "CHANNEL",	"name",		48,	fmt_str },
	{ "CREATOR",	"creator",	24,	fmt_str },
	{ "COUNT",	"count",	0,	fmt_uint },
	{ "LAST",	"last_id",	0,	fmt_uint },
	{ "LAST TIME",	"last_time",	24,	fmt_str },
	{ "SENDERS",	"senders",	60,	fmt_list },
};

/* a channel's messages: content comes from agents, sanitized */
static const struct field message_fields[] = {
	{ "id",			FT_INT },
	{ "channel",		FT_STR },
	{ "sender",		FT_STR },
	{ "time",		FT_STR },
	{ "content",		FT_STR },
	{ NULL,			0 }
};

static const struct column message_columns[] = {
	{ "ID",		"id",		0,	fmt_uint },
	{ "TIME",	"time",		24,	fmt_str },
	{ "SENDER",	"sender",	24,	fmt_str },
	{ "CONTENT",	"content",	80,	fmt_str },
};

static const struct view views[] = {
	[VIEW_CHANNELS] = { "channel", channel_fields, channel_columns,
	    sizeof(channel_columns) / sizeof(channel_columns[0]) },
	[VIEW_MESSAGES] = { "message", message_fields, message_columns,
	    sizeof(message_columns) / sizeof(message_columns[0]) },
	[VIEW_SESSIONS] = { "session", session_fields, session_columns,
	    sizeof(session_columns) / sizeof(session_columns[0]) },
	[VIEW_HOSTS] = { "host", host_fields, host_columns,
	    sizeof(host_columns) / sizeof(host_columns[0]) },
	[VIEW_DELEGATIONS] = { "delegation", deleg_fields, deleg_columns,
	    sizeof(deleg_columns) / sizeof(deleg_columns[0]) },
	[VIEW_JOBS] = { "job", deleg_fields, deleg_columns,
	    sizeof(deleg_columns) / sizeof(deleg_columns[0]) },
	[VIEW_FORWARDS] = { "forward", forward_fields, forward_columns,
	    sizeof(forward_columns) / sizeof(forward_columns[0]) },
	[VIEW_LISTENERS] = { "listener", listener_fields, listener_columns,
	    sizeof(listener_columns) / sizeof(listener_columns[0]) },
	[VIEW_SESSIONS_ALL] = { "session", session_fields,
	    session_all_columns,
	    sizeof(session_all_columns) / sizeof(session_all_columns[0]) },
};

struct output *
output_new(enum output_view v, int json)
{
	struct output	*out;

	if ((out = calloc(1, sizeof(*out))) == NULL)
		err(1, NULL);
	out->view = &views[v];
	out->json = json;
	out->now = time(NULL);
	out->dumpflags = JSON_COMPACT;
	/* UTF-8 C1 codes pass through jansson; a terminal gets \u escapes */
	if (isatty(STDOUT_FILENO))
		out->dumpflags |= JSON_ENSURE_ASCII;
	return out;
}

void
output_free(struct output *out)
{
	size_t	 i;

	if (out == NULL)
		return;
	for (i = 0; i < out->nrows * out->view->ncolumns; i++)
		free(out->cells[i].s);
	free(out->cells);
	free(out);
}

int
output_record(struct output *out, const void *data, size_t len)
{
	const struct view	*v = out->view;
	struct cell		*row;
	json_error_t		 jerr;
	json_t			*o;
	char			 why[256], *s, *line;
	size_t			 i;

	if (len == 0) {
		warnx("bad %s record from bridged: empty", v->name);
		return -1;
	}
	if ((o = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL) {
		s = output_sanitize(jerr.text, strlen(jerr.text), 0, NULL);
		warnx("bad %s record from bridged: %s", v->name, s);
		free(s);
		return -1;
	}
	if (validate(v, o, why, sizeof(why)) == -1) {
		warnx("bad %s record from bridged: %s", v->name, why);
		json_decref(o);
		return -1;
	}

	if (out->json) {
		if ((line = json_dumps(o, out->dumpflags)) == NULL)
			errx(1, "cannot encode %s record", v->name);
		puts(line);
		free(line);
		json_decref(o);
		return 0;
	}

	if (out->nrows >= OUTPUT_MAXROWS) {
		if (!out->toomany)
			warnx("more than %d %s records, the rest are not shown",
			    OUTPUT_MAXROWS, v->name);
		out->toomany = 1;
		json_decref(o);
		return -1;
	}
	if (out->nrows == out->rowcap) {
		out->rowcap = out->rowcap == 0 ? 16 : out->rowcap * 2;
		out->cells = reallocarray(out->cells,
		    out->rowcap * v->ncolumns, sizeof(*out->cells));
		if (out->cells == NULL)
			err(1, NULL);
	}
	row = out->cells + out->nrows * v->ncolumns;
	for (i = 0; i < v->ncolumns; i++) {
		if ((s = v->columns[i].fmt(o, v->columns[i].key,
		    out->now)) == NULL)
			s = xstrdup("-");
		row[i].s = output_sanitize(s, strlen(s),
		    v->columns[i].maxwidth, &row[i].width);
		free(s);
	}
	out->nrows++;
	json_decref(o);
	return 0;
}

void
output_end(struct output *out)
{
	const struct view	*v = out->view;
	struct cell		*hdr, *cell;
	size_t			*widths, i, r;

	if (out->json) {
		fflush(stdout);
		return;
	}
	hdr = calloc(v->ncolumns, sizeof(*hdr));
	widths = calloc(v->ncolumns, sizeof(*widths));
	if (hdr == NULL || widths == NULL)
		err(1, NULL);
	for (i = 0; i < v->ncolumns; i++) {
		hdr[i].s = xstrdup(v->columns[i].title);
		hdr[i].width = widths[i] = strlen(hdr[i].s);
		for (r = 0; r < out->nrows; r++) {
			cell = &out->cells[r * v->ncolumns + i];
			if (cell->width > widths[i])
				widths[i] = cell->width;
		}
	}
	print_row(v, widths, hdr);
	for (r = 0; r < out->nrows; r++)
		print_row(v, widths, out->cells + r * v->ncolumns);
	fflush(stdout);
	for (i = 0; i < v->ncolumns; i++)
		free(hdr[i].s);
	free(hdr);
	free(widths);
}

/*
 * Columns are as wide as their widest cell.  Padding is only written
 * before a non-empty cell, so a blank last column leaves no trailing
 * blanks.
 */
static void
print_row(const struct view *v, const size_t *widths, struct cell *row)
{
	size_t	 i, pad = 0;

	for (i = 0; i < v->ncolumns; i++) {
		if (row[i].width > 0) {
			printf("%*s%s", (int)pad, "", row[i].s);
			pad = 0;
		}
		pad += widths[i] - row[i].width + COLUMN_SEP;
	}
	putchar('\n');
}

static int
validate(const struct view *v, json_t *o, char *why, size_t whylen)
{
	const struct field	*f;
	json_t			*val, *elem;
	size_t			 i;
	int			 ok;

	if (!json_is_object(o)) {
		snprintf(why, whylen, "not a JSON object");
		return -1;
	}
	for (f = v->fields; f->name != NULL; f++) {
		val = json_object_get(o, f->name);
		if (val == NULL || json_is_null(val))
			continue;
		ok = ((f->types & FT_STR) && json_is_string(val)) ||
		    ((f->types & FT_INT) && json_is_integer(val)) ||
		    ((f->types & FT_BOOL) && json_is_boolean(val)) ||
		    ((f->types & FT_NUM) && json_is_number(val));
		if (!ok && (f->types & FT_STRARRAY) && json_is_array(val)) {
			ok = 1;
			json_array_foreach(val, i, elem)
				if (!json_is_string(elem))
					ok = 0;
		}
		if (!ok) {
			snprintf(why, whylen, "field \"%s\" has the wrong type",
			    f->name);
			return -1;
		}
	}
	return 0;
}

static char *
xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		err(1, NULL);
	return p;
}

static char *
xprintf(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n == -1)
		err(1, NULL);
	return s;
}

/* a non-empty string field, or NULL */
static const char *
jstr(json_t *o, const char *key)
{
	json_t	*val = json_object_get(o, key);

	if (!json_is_string(val) || json_string_length(val) == 0)
		return NULL;
	return json_string_value(val);
}

/* an integer field within [min, max]: 1, else 0 */
static int
jint(json_t *o, const char *key, json_int_t min, json_int_t max,
    json_int_t *v)
{
	json_t	*val = json_object_get(o, key);

	if (!json_is_integer(val))
		return 0;
	*v = json_integer_value(val);
	return *v >= min && *v <= max;
}

static char *
fmt_str(json_t *o, const char *key, time_t now)
{
	const char	*s;

	return (s = jstr(o, key)) == NULL ? NULL : xstrdup(s);
}

/* like fmt_str, but nothing to say is an empty cell, not "-" */
static char *
fmt_blank(json_t *o, const char *key, time_t now)
{
	const char	*s;

	return xstrdup((s = jstr(o, key)) == NULL ? "" : s);
}

static char *
fmt_uint(json_t *o, const char *key, time_t now)
{
	json_int_t	 v;

	if (!jint(o, key, 0, INT64_MAX, &v))
		return NULL;
	return xprintf("%lld", (long long)v);
}

static char *
fmt_id(json_t *o, const char *key, time_t now)
{
	if (json_is_string(json_object_get(o, key)))
		return fmt_str(o, key, now);
	return fmt_uint(o, key, now);
}

/* how long ago a unix time was: 12s, 5m12s, 3h04m, 2d03h */
static char *
fmt_age(json_t *o, const char *key, time_t now)
{
	json_int_t	 since;
	long long	 d;

	/* 0 is "never", not 1970 */
	if (!jint(o, key, 1, INT64_MAX, &since))
		return NULL;
	d = (long long)now - (long long)since;
	if (d < 0)
		d = 0;
	if (d < 60)
		return xprintf("%llds", d);
	if (d < 3600)
		return xprintf("%lldm%02llds", d / 60, d % 60);
	if (d < 86400)
		return xprintf("%lldh%02lldm", d / 3600, d % 3600 / 60);
	return xprintf("%lldd%02lldh", d / 86400, d % 86400 / 3600);
}

/* a unix time, as every time is shown (output_time) */
static char *
fmt_time(json_t *o, const char *key, time_t now)
{
	json_int_t	 v;

	if (!jint(o, key, 1, INT32_MAX * 1000LL, &v))
		return NULL;
	return output_time(v * 1000, 0);
}

/* client name/version */
static char *
fmt_client(json_t *o, const char *key, time_t now)
{
	const char	*name, *version;

	name = jstr(o, key);
	version = jstr(o, "client_version");
	if (name == NULL && version == NULL)
		return NULL;
	if (version == NULL)
		return xstrdup(name);
	return xprintf("%s/%s", name != NULL ? name : "-", version);
}

/* address:port, with brackets around an IPv6 address */
static char *
fmt_address(json_t *o, const char *key, time_t now)
{
	const char	*addr;
	json_int_t	 port;

	if ((addr = jstr(o, key)) == NULL)
		return NULL;
	if (!jint(o, "port", 1, 65535, &port))
		return xstrdup(addr);
	if (strchr(addr, ':') != NULL)
		return xprintf("[%s]:%lld", addr, (long long)port);
	return xprintf("%s:%lld", addr, (long long)port);
}

/*
 * a forward: "listen -> destination", "(persistent)" when it is; a
 * host's published port "(published, up)", or down or in error, and why
 */
static char *
fmt_route(json_t *o, const char *key, time_t now)
{
	const char	*l, *d, *st, *e;

	l = jstr(o, key);
	d = jstr(o, "destination");
	if (l == NULL && d == NULL)
		return NULL;
	if (json_is_true(json_object_get(o, "published"))) {
		st = jstr(o, "state");
		e = jstr(o, "error");
		return xprintf("%s -> %s (published, %s%s%s)", l ? l : "-",
		    d ? d : "-", st ? st : "?", e ? ": " : "", e ? e : "");
	}
	return xprintf("%s -> %s%s", l ? l : "-", d ? d : "-",
	    json_is_true(json_object_get(o, "persistent")) ?
	    " (persistent)" : "");
}

/* connections of a forward: active/total */
static char *
fmt_conns(json_t *o, const char *key, time_t now)
{
	json_int_t	 a, t;

	if (!jint(o, key, 0, INT64_MAX, &a) ||
	    !jint(o, "total", 0, INT64_MAX, &t))
		return NULL;
	return xprintf("%lld/%lld", (long long)a, (long long)t);
}

/* dollars, as claude reports them */
static char *
fmt_cost(json_t *o, const char *key, time_t now)
{
	json_t	*v = json_object_get(o, key);

	if (!json_is_number(v) || json_number_value(v) < 0)
		return NULL;
	return xprintf("$%.4f", json_number_value(v));
}

/* milliseconds as 850ms, 12.3s, 5m12s */
static char *
fmt_ms(json_t *o, const char *key, time_t now)
{
	json_int_t	 ms;

	if (!jint(o, key, 0, INT64_MAX, &ms))
		return NULL;
	if (ms < 1000)
		return xprintf("%lldms", (long long)ms);
	if (ms < 60000)
		return xprintf("%.1fs", ms / 1000.0);
	return xprintf("%lldm%02llds", (long long)ms / 60000,
	    (long long)ms / 1000 % 60);
}

/* an array of strings as a comma list */
static char *
fmt_list(json_t *o, const char *key, time_t now)
{
	json_t	*arr = json_object_get(o, key), *elem;
	char	*s = NULL, *t;
	size_t	 i;

	if (!json_is_array(arr))
		return NULL;
	json_array_foreach(arr, i, elem) {
		if (!json_is_string(elem))
			continue;
		t = xprintf("%s%s%s", s != NULL ? s : "", s != NULL ? "," : "",
		    json_string_value(elem));
		free(s);
		s = t;
	}
	return s;
}

/* characters that move the cursor, reorder text or end lines */
static int
unsafe_codepoint(uint32_t c)
{
	return c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) ||
	    c == 0x2028 || c == 0x2029 || (c >= 0x202a && c <= 0x202e) ||
	    (c >= 0x2066 && c <= 0x2069);
}

/* like output_sanitize, but newlines stay: text of several lines */
char *
output_sanitize_lines(const char *s, size_t len)
{
	const char	*nl;
	char		*out, *t, *u;
	size_t		 n;

	out = NULL;
	for (;;) {
		nl = memchr(s, '\n', len);
		n = nl != NULL ? (size_t)(nl - s) : len;
		t = output_sanitize(s, n, 0, NULL);
		u = xprintf("%s%s%s", out != NULL ? out : "",
		    out != NULL ? "\n" : "", t);
		free(t);
		free(out);
		out = u;
		if (nl == NULL)
			break;
		len -= n + 1;
		s = nl + 1;
	}
	return out;
}

/*
 * A time as ISO-8601: UTC with a Z by default, local time with its
 * offset (+02:00) under -l; milliseconds when frac.
 */
char *
output_time(int64_t ms, int frac)
{
	struct tm	 tm;
	time_t		 t = (time_t)(ms / 1000);
	char		 buf[40], off[8], zone[8];

	if (output_local) {
		if (localtime_r(&t, &tm) == NULL ||
		    strftime(off, sizeof(off), "%z", &tm) != 5)
			return NULL;
		snprintf(zone, sizeof(zone), "%.3s:%.2s", off, off + 3);
	} else {
		if (gmtime_r(&t, &tm) == NULL)
			return NULL;
		strlcpy(zone, "Z", sizeof(zone));
	}
	if (strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		return NULL;
	if (frac)
		return xprintf("%s.%03d%s", buf, (int)(ms % 1000), zone);
	return xprintf("%s%s", buf, zone);
}

char *
output_sanitize(const char *s, size_t len, size_t maxwidth, size_t *width)
{
	const unsigned char	*p = (const unsigned char *)s;
	uint32_t		 cp;
	size_t			 i = 0, o = 0, n, nch = 0, keep;
	char			*buf;

	/* every input byte becomes at most one output byte */
	if ((buf = malloc(len + 1)) == NULL)
		err(1, NULL);
	while (i < len) {
		n = utf8_decode(p + i, len - i, &cp);
		if (n == 0) {
			buf[o++] = '?';
			i++;
		} else if (unsafe_codepoint(cp)) {
			buf[o++] = '?';
			i += n;
		} else {
			memcpy(buf + o, p + i, n);
			o += n;
			i += n;
		}
		nch++;
	}
	buf[o] = '\0';

	if (maxwidth > 3 && nch > maxwidth) {
		/* keep maxwidth - 3 characters, then "..." */
		keep = maxwidth - 3;
		for (i = 0, n = 0; i < o; i++) {
			if (((unsigned char)buf[i] & 0xc0) == 0x80)
				continue;
			if (n++ == keep)
				break;
		}
		memcpy(buf + i, "...", 4);
		nch = maxwidth;
	}
	if (width != NULL)
		*width = nch;
	return buf;
}
