/*
 * fe_ctlhist.c: the history half of bridgectl show sessions and show
 * delegations ("all", "since T").  The live rows come from the frontend
 * and the ssh worker; the ended ones are the end records in the audit
 * database, asked of the logger (IMSG_LOG_HISTORY) and shaped here like
 * the live rows, with the state they ended in and when.
 *
 * The logger's records are our own, but they are parsed like anything
 * else: a record that is not what we expect is left out.
 */

#include <sys/types.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "bridged.h"
#include "frontend.h"
#include "log.h"

static time_t	 rec_time(json_t *);
static json_t	*session_row(json_t *);
static json_t	*deleg_row(json_t *);
static json_t	*copy_int(json_t *, const char *, json_t *, const char *);
static json_t	*copy_str(json_t *, const char *, json_t *, const char *);

/* ask the logger for the end records of IMSG_CTL_SHOW_{SESSIONS,DELEG..} */
int
ctlhist_ask(uint32_t ctltype, uint32_t connid, const struct ctl_showq *sq)
{
	struct log_histq	 q;

	memset(&q, 0, sizeof(q));
	q.kind = ctltype == IMSG_CTL_SHOW_SESSIONS ? HIST_SESSIONS :
	    HIST_DELEGATIONS;
	q.limit = sq->limit;
	q.since = sq->since > 0 ? sq->since : 0;
	return frontend_compose(PROC_LOGGER, IMSG_LOG_HISTORY, connid, -1, &q,
	    sizeof(q));
}

/* the key a delegation is known by in both lists */
void
ctlhist_deleg_key(json_t *row, char *key, size_t len)
{
	json_t	*id = json_object_get(row, "id");
	json_t	*st = json_object_get(row, "started");

	snprintf(key, len, "%s/%lld/%lld",
	    json_is_string(json_object_get(row, "host")) ?
	    json_string_value(json_object_get(row, "host")) : "",
	    json_is_integer(id) ? (long long)json_integer_value(id) : -1LL,
	    json_is_integer(st) ? (long long)json_integer_value(st) : -1LL);
}

/*
 * One row for bridgectl from one end record, or NULL to leave it out;
 * a delegation in seen (the worker listed it live) is left out too.
 */
json_t *
ctlhist_row(uint32_t ctltype, const void *data, size_t len, json_t *seen)
{
	json_t		*o, *row;
	json_error_t	 jerr;
	char		 key[HOST_NAME_LEN + 48];

	if ((o = json_loadb(data, len, 0, &jerr)) == NULL)
		return NULL;
	if (!json_is_object(o)) {
		json_decref(o);
		return NULL;
	}
	row = ctltype == IMSG_CTL_SHOW_SESSIONS ? session_row(o) :
	    deleg_row(o);
	json_decref(o);
	if (row != NULL && seen != NULL && ctltype != IMSG_CTL_SHOW_SESSIONS) {
		ctlhist_deleg_key(row, key, sizeof(key));
		if (json_object_get(seen, key) != NULL) {
			json_decref(row);
			return NULL;
		}
	}
	return row;
}

/* when the record was made: its "ended", else its "time" */
static time_t
rec_time(json_t *o)
{
	json_t		*v = json_object_get(o, "ended");
	struct tm	 tm;
	const char	*s, *p;

	if (json_is_integer(v))
		return (time_t)json_integer_value(v);
	if ((s = json_string_value(json_object_get(o, "time"))) == NULL)
		return 0;
	memset(&tm, 0, sizeof(tm));
	if ((p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return 0;
	return timegm(&tm);
}

static json_t *
copy_int(json_t *row, const char *to, json_t *o, const char *from)
{
	json_t	*v = json_object_get(o, from);

	if (json_is_integer(v))
		json_object_set_new(row, to, json_integer(
		    json_integer_value(v)));
	return row;
}

static json_t *
copy_str(json_t *row, const char *to, json_t *o, const char *from)
{
	json_t	*v = json_object_get(o, from);

	if (json_is_string(v))
		json_object_set_new(row, to, json_string(json_string_value(v)));
	return row;
}

/* an MCP session's end record as a row of show sessions */
static json_t *
session_row(json_t *o)
{
	json_t		*row, *v;
	time_t		 ended;
	long long	 started;

	if (!json_is_integer(json_object_get(o, "session")) ||
	    (ended = rec_time(o)) <= 0 || (row = json_object()) == NULL)
		return NULL;
	copy_int(row, "id", o, "session");
	copy_int(row, "uid", o, "uid");
	copy_int(row, "pid", o, "pid");
	copy_str(row, "client", o, "client");
	copy_str(row, "client_version", o, "client_version");
	copy_str(row, "protocol", o, "protocol");
	if (json_is_integer(v = json_object_get(o, "started")))
		started = json_integer_value(v);
	else if (json_is_integer(v = json_object_get(o, "duration_ms")))
		started = (long long)ended - json_integer_value(v) / 1000;
	else
		started = 0;
	if (started > 0)
		json_object_set_new(row, "since", json_integer(started));
	copy_int(row, "requests", o, "requests");
	copy_int(row, "duration_ms", o, "duration_ms");
	json_object_set_new(row, "state", json_string("ended"));
	json_object_set_new(row, "ended", json_integer(ended));
	return row;
}

/* a delegation's end record as a row of show delegations */
static json_t *
deleg_row(json_t *o)
{
	json_t		*row, *v, *res;
	time_t		 ended;

	if (!json_is_integer(json_object_get(o, "id")) ||
	    !json_is_string(json_object_get(o, "host")) ||
	    (ended = rec_time(o)) <= 0 || (row = json_object()) == NULL)
		return NULL;
	copy_int(row, "id", o, "id");
	copy_str(row, "job_id", o, "job_id");
	copy_str(row, "host", o, "host");
	copy_str(row, "session_id", o, "claude_session_id");
	copy_str(row, "state", o, "outcome");
	if (json_is_integer(json_object_get(o, "started")))
		copy_int(row, "started", o, "started");
	else if (json_is_integer(v = json_object_get(o, "duration_ms")))
		json_object_set_new(row, "started", json_integer(
		    (long long)ended - json_integer_value(v) / 1000));
	copy_int(row, "duration_ms", o, "duration_ms");
	if (json_is_number(v = json_object_get(o, "total_cost_usd")))
		json_object_set_new(row, "total_cost_usd",
		    json_real(json_number_value(v)));
	copy_str(row, "task", o, "task");
	copy_int(row, "mcp_session", o, "session");
	res = json_object_get(o, "result");
	copy_int(row, "num_turns", res, "num_turns");
	copy_int(row, "exit_status", o, "exit_status");
	json_object_set_new(row, "ended", json_integer(ended));
	return row;
}
