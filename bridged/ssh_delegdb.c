/*
 * ssh_delegdb.c: delegations in the audit database, from the ssh worker's
 * side.
 *
 * Every delegation's end is an audit record ("delegation" "end") with
 * its times, state, claude session id, cost, turns and exit status; a
 * job's record carries its whole result too (text and structured
 * content, cut to fit one record).  So job_status, job_wait, job_cancel
 * and job_list can still answer for a job this worker no longer holds
 * (the daemon restarted, or the in-memory cap dropped it): they ask the
 * logger (IMSG_LOG_HISTORY) for the job's record within "job retention"
 * and answer the call when it replies.  Older results are not given,
 * whatever the database still holds.
 *
 * Delegation records made while the logger is away (it died and the
 * parent restarts it) wait here, bounded, and go to its replacement.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event.h>
#include <jansson.h>
#include <libssh/callbacks.h>
#include <libssh/libssh.h>

#include "bridged.h"
#include "imsg.h"
#include "log.h"
#include "ssh.h"
#include "ssh_deleg.h"

/* a record with a result, JSON-escaped, must fit one imsg with room */
#define JOBREC_MAX		(192 * 1024)
#define JOBREC_TEXT_MAX		(96 * 1024)
#define JOBREC_TEXT_MIN		1024
#define BACKLOG_MAX		64
#define BACKLOG_BYTES		(8 * 1024 * 1024)
#define LOOKUPS_MAX		256

enum lookup_kind {
	L_STATUS,	/* job_status, job_wait: the status with the result */
	L_CANCEL,	/* job_cancel: say it is not running */
	L_LIST,		/* job_list: add the stored jobs to the live ones */
};

struct lookup {
	TAILQ_ENTRY(lookup)	 entry;
	uint32_t		 id;		/* peerid to the logger */
	enum lookup_kind	 kind;
	struct sshcall		*call;
	char			 job_id[JOB_ID_LEN];
	json_t			*found;		/* L_STATUS, L_CANCEL */
	json_t			*jobs;		/* L_LIST: the array so far */
	struct sbuf		 text;		/* L_LIST: the text so far */
	int			 n;		/* L_LIST: jobs listed */
};

struct backrec {
	TAILQ_ENTRY(backrec)	 entry;
	size_t			 len;
	char			 text[];
};

static json_t	*cut_text(const char *, size_t, size_t);
static int	 result_fields(struct deleg *, json_t *, size_t);
static struct lookup *lookup_new(struct sshcall *, enum lookup_kind,
		    const char *);
static void	 lookup_free(struct lookup *);
static void	 lookup_cancel(struct sshcall *);
static void	 lookup_done(struct lookup *, const char *);
static int	 lookup_ask(struct lookup *);
static int	 deleg_fromrec(json_t *, struct deleg *);
static void	 deleg_clear(struct deleg *);
static int	 in_retention(json_t *);

static TAILQ_HEAD(, lookup)	 lookups = TAILQ_HEAD_INITIALIZER(lookups);
static TAILQ_HEAD(, backrec)	 backlog = TAILQ_HEAD_INITIALIZER(backlog);
static size_t			 nlookups, nback, backbytes;
static uint64_t			 backlost;
static uint32_t			 lookup_seq;

/* ---- records ------------------------------------------------------------ */

/* one delegation record to the logger, or held until there is one */
void
delegdb_record(json_t *r)
{
	struct backrec	*b;
	char		*s;
	size_t		 len;

	if ((s = json_dumps(r, JSON_COMPACT)) == NULL)
		return;
	len = strlen(s);
	if (ssh_compose(PROC_LOGGER, IMSG_LOG_RECORD, 0, -1, s, len) == 0) {
		free(s);
		return;
	}
	if (nback >= BACKLOG_MAX || backbytes + len > BACKLOG_BYTES ||
	    (b = malloc(sizeof(*b) + len)) == NULL) {
		if (backlost++ == 0)
			log_warnx("delegation records are being lost while"
			    " the logger is away");
		free(s);
		return;
	}
	b->len = len;
	memcpy(b->text, s, len);
	TAILQ_INSERT_TAIL(&backlog, b, entry);
	nback++;
	backbytes += len;
	free(s);
}

/* a (new) logger: what waited for it goes now */
void
delegdb_logger_up(void)
{
	struct backrec	*b;
	json_t		*r;

	while ((b = TAILQ_FIRST(&backlog)) != NULL) {
		if (ssh_compose(PROC_LOGGER, IMSG_LOG_RECORD, 0, -1, b->text,
		    b->len) == -1)
			return;
		TAILQ_REMOVE(&backlog, b, entry);
		nback--;
		backbytes -= b->len;
		free(b);
	}
	if (backlost > 0) {
		r = json_pack("{s:s, s:s, s:I}", "type", "audit", "event",
		    "lost", "delegation_records", (json_int_t)backlost);
		backlost = 0;
		if (r != NULL)
			delegdb_record(r);
		json_decref(r);
	}
}

/* s cut to at most max bytes on a character boundary, saying so */
static json_t *
cut_text(const char *s, size_t len, size_t max)
{
	char	*t;
	size_t	 n = max;
	json_t	*v;

	if (len <= max)
		return json_stringn(s, len);
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	if (asprintf(&t, "%.*s\n[the audit record keeps the first %zu of"
	    " %zu bytes]", (int)n, s, n, len) == -1)
		return NULL;
	v = json_string(t);
	free(t);
	return v;
}

/* the result's fields of a job's end record, its texts cut to max */
static int
result_fields(struct deleg *d, json_t *r, size_t max)
{
	json_t		*st, *content, *v;
	const char	*text;

	v = json_object_get(json_array_get(json_object_get(d->result,
	    "content"), 0), "text");
	if ((text = json_string_value(v)) != NULL)
		json_object_set_new(r, "text", cut_text(text,
		    json_string_length(v), max));
	if (d->structured == NULL)
		return 0;
	if ((st = json_deep_copy(d->structured)) == NULL)
		return -1;
	content = json_object_get(st, "result");
	if (json_is_string(content))
		json_object_set_new(st, "result", cut_text(json_string_value(
		    content), json_string_length(content), max));
	json_object_set_new(r, "result", st);
	return 0;
}

/*
 * What an end record holds beyond the state: its times, the outcome as
 * the caller saw it, and for a job the result itself; for a foreground
 * delegation the answer went to its caller and is not kept.
 */
void
delegdb_end_fields(struct deleg *d, json_t *r)
{
	json_t	*st;
	char	*s;
	size_t	 max, len;

	json_object_set_new(r, "started", json_integer(d->started));
	json_object_set_new(r, "ended", json_integer(d->ended));
	json_object_set_new(r, "timeout", json_integer(d->timeout));
	if (d->result != NULL)
		json_object_set_new(r, "is_error", json_boolean(json_is_true(
		    json_object_get(d->result, "isError"))));
	if (d->job_id[0] == '\0') {
		if (d->structured != NULL &&
		    (st = json_deep_copy(d->structured)) != NULL) {
			json_object_del(st, "result");
			json_object_set_new(r, "result", st);
		}
		return;
	}
	for (max = JOBREC_TEXT_MAX; ; max /= 2) {
		if (result_fields(d, r, max) == -1)
			break;
		if ((s = json_dumps(r, JSON_COMPACT | JSON_ENSURE_ASCII)) ==
		    NULL)
			break;
		len = strlen(s);
		free(s);
		if (len <= JOBREC_MAX)
			return;
		if (max / 2 < JOBREC_TEXT_MIN)
			break;
	}
	/* nothing fits: the record says how it ended, not what claude said */
	json_object_del(r, "text");
	json_object_del(r, "result");
	json_object_set_new(r, "result_omitted", json_true());
}

/* ---- looking up jobs -------------------------------------------------- */

/* a job id as we make them: nothing else is looked up */
int
delegdb_job_id_ok(const char *id)
{
	size_t	 i, len = strlen(id);

	if (len == 0 || len >= JOB_ID_LEN)
		return 0;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)id[i]) && id[i] != '_' &&
		    id[i] != '-')
			return 0;
	return 1;
}

static struct lookup *
lookup_new(struct sshcall *call, enum lookup_kind kind, const char *job_id)
{
	struct lookup	*l;

	if (nlookups >= LOOKUPS_MAX)
		return NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		fatal(NULL);
	if (++lookup_seq == 0)
		lookup_seq = 1;
	l->id = lookup_seq;
	l->kind = kind;
	l->call = call;
	if (job_id != NULL)
		strlcpy(l->job_id, job_id, sizeof(l->job_id));
	call->state = l;
	call->cancel = lookup_cancel;
	TAILQ_INSERT_TAIL(&lookups, l, entry);
	nlookups++;
	return l;
}

static void
lookup_free(struct lookup *l)
{
	TAILQ_REMOVE(&lookups, l, entry);
	nlookups--;
	if (l->call != NULL) {
		l->call->state = NULL;
		l->call->cancel = NULL;
	}
	json_decref(l->found);
	json_decref(l->jobs);
	sb_free(&l->text);
	free(l);
}

static void
lookup_cancel(struct sshcall *call)
{
	struct lookup	*l = call->state;

	if (l == NULL)
		return;
	lookup_free(l);
	sshcall_text(call, 1, "%s: cancelled", call->tool);
}

/* ask the logger; -1 when there is no logger to ask */
static int
lookup_ask(struct lookup *l)
{
	struct log_histq	 q;
	int			 keep;

	keep = ssh_conf != NULL ? ssh_conf->job_retention :
	    CONF_JOB_RETENTION;
	memset(&q, 0, sizeof(q));
	q.kind = l->kind == L_LIST ? HIST_JOBS : HIST_JOB;
	q.limit = l->kind == L_LIST ? DELEG_KEEP_MAX : 1;
	q.since = (int64_t)time(NULL) - keep;
	if (q.since <= 0)
		q.since = 1;
	strlcpy(q.job_id, l->job_id, sizeof(q.job_id));
	return ssh_compose(PROC_LOGGER, IMSG_LOG_HISTORY, l->id, -1, &q,
	    sizeof(q));
}

/*
 * job_status, job_wait, job_cancel of a job not in memory: look for its
 * record.  The call is answered now or when the logger replies.
 */
void
delegdb_find(struct sshcall *call, int cancel, const char *job_id)
{
	struct lookup	*l;

	if (!delegdb_job_id_ok(job_id)) {
		deleg_nojob(call, job_id, NULL);
		return;
	}
	if ((l = lookup_new(call, cancel ? L_CANCEL : L_STATUS, job_id)) ==
	    NULL) {
		deleg_nojob(call, job_id, "too many lookups at once");
		return;
	}
	if (lookup_ask(l) == -1)
		lookup_done(l, "the logger is not running");
}

/* job_list: the live jobs in jobs and text, and then the stored ones */
void
delegdb_list(struct sshcall *call, json_t *jobs, struct sbuf *text, int n)
{
	struct lookup	*l;

	if ((l = lookup_new(call, L_LIST, NULL)) == NULL) {
		deleg_list_reply(call, jobs, text, n, "too many lookups at"
		    " once");
		return;
	}
	l->jobs = jobs;
	l->text = *text;
	memset(text, 0, sizeof(*text));
	l->n = n;
	if (lookup_ask(l) == -1)
		lookup_done(l, "the logger is not running");
}

/* stored job records older than job retention are not given */
static int
in_retention(json_t *o)
{
	json_t	*v = json_object_get(o, "ended");
	int	 keep;

	keep = ssh_conf != NULL ? ssh_conf->job_retention :
	    CONF_JOB_RETENTION;
	return json_is_integer(v) &&
	    (long long)time(NULL) - json_integer_value(v) < keep;
}

/* a delegation as a record tells it, for the formatting of ssh_delegjob.c */
static int
deleg_fromrec(json_t *o, struct deleg *d)
{
	json_t		*v, *content;
	const char	*s, *text;
	int		 st;

	memset(d, 0, sizeof(*d));
	TAILQ_INIT(&d->waiters);
	d->exitstatus = -1;
	d->left = -1;
	if ((s = json_string_value(json_object_get(o, "job_id"))) == NULL ||
	    !delegdb_job_id_ok(s))
		return -1;
	strlcpy(d->job_id, s, sizeof(d->job_id));
	if ((s = json_string_value(json_object_get(o, "host"))) == NULL)
		return -1;
	strlcpy(d->hostname, s, sizeof(d->hostname));
	if (json_is_integer(v = json_object_get(o, "id")))
		d->id = (uint32_t)json_integer_value(v);
	if (json_is_integer(v = json_object_get(o, "session")))
		d->sessid = (uint32_t)json_integer_value(v);
	if (json_is_integer(v = json_object_get(o, "uid")) &&
	    json_integer_value(v) >= 0 && json_integer_value(v) <= UINT32_MAX) {
		d->uid = (uid_t)json_integer_value(v);
		d->has_uid = 1;
	}
	if (json_is_integer(v = json_object_get(o, "started")))
		d->started = json_integer_value(v);
	if (json_is_integer(v = json_object_get(o, "ended")))
		d->ended = json_integer_value(v);
	if (json_is_integer(v = json_object_get(o, "duration_ms")))
		d->duration_ms = json_integer_value(v);
	if (json_is_integer(v = json_object_get(o, "timeout")))
		d->timeout = (int)json_integer_value(v);
	if ((s = json_string_value(json_object_get(o,
	    "claude_session_id"))) != NULL)
		strlcpy(d->session_id, s, sizeof(d->session_id));
	if (json_is_number(v = json_object_get(o, "total_cost_usd"))) {
		d->cost = json_number_value(v);
		d->has_cost = 1;
	}
	if ((d->task = strdup(json_string_value(json_object_get(o,
	    "task")) ? json_string_value(json_object_get(o, "task")) : "")) ==
	    NULL)
		fatal(NULL);
	/* an end record tells an end; anything else is not known */
	d->state = D_LOST;
	s = json_string_value(json_object_get(o, "outcome"));
	for (st = D_DONE; s != NULL && st <= D_LOST; st++)
		if (strcmp(s, deleg_state_name(st)) == 0)
			d->state = st;
	if ((text = json_string_value(json_object_get(o, "text"))) != NULL) {
		content = json_pack("[{s:s, s:s}]", "type", "text", "text",
		    text);
		d->result = json_pack("{s:o, s:b}", "content", content,
		    "isError", json_is_true(json_object_get(o, "is_error")));
	}
	if (json_is_object(v = json_object_get(o, "result")))
		d->structured = json_incref(v);
	return 0;
}

static void
deleg_clear(struct deleg *d)
{
	json_decref(d->result);
	json_decref(d->structured);
	free(d->task);
}

/* the answer to a lookup; why: the database could not say */
static void
lookup_done(struct lookup *l, const char *why)
{
	struct sshcall	*call = l->call;
	struct deleg	 d;
	struct sbuf	 text;
	json_t		*r, *jobs;
	char		 id[JOB_ID_LEN];
	int		 cancel = l->kind == L_CANCEL, n, found;

	/* the lookup goes before the answer, which frees the call */
	if (l->kind == L_LIST) {
		jobs = l->jobs;
		text = l->text;
		n = l->n;
		l->jobs = NULL;
		memset(&l->text, 0, sizeof(l->text));
		lookup_free(l);
		deleg_list_reply(call, jobs, &text, n, why);
		return;
	}
	strlcpy(id, l->job_id, sizeof(id));
	found = l->found != NULL && deleg_fromrec(l->found, &d) == 0;
	lookup_free(l);
	if (!found || !deleg_mine(call, &d)) {
		if (found)
			deleg_clear(&d);
		deleg_nojob(call, id, found ? NULL : why);
		return;
	}
	if (deleg_job_allowed(call, &d) == 0) {
		if (cancel)
			sshcall_text(call, 1, "job_cancel: %s is not running:"
			    " %s %lld s ago", d.job_id,
			    deleg_state_name(d.state),
			    (long long)(time(NULL) - d.ended));
		else {
			r = deleg_job_result(&d);
			json_object_set_new(json_object_get(r,
			    "structuredContent"), "from_audit_db",
			    json_true());
			sshcall_result(call, r);
		}
	}
	deleg_clear(&d);
}

/* IMSG_LOG_DATA, IMSG_LOG_END from the logger: answers to lookups */
void
delegdb_dispatch(struct imsg *imsg)
{
	struct log_status	 ls;
	struct lookup		*l;
	struct deleg		 d;
	json_t			*o, *job, *v;
	json_error_t		 jerr;
	char			 why[256];
	size_t			 n;

	TAILQ_FOREACH(l, &lookups, entry)
		if (l->id == imsg->hdr.peerid)
			break;
	if (imsg->hdr.type == IMSG_LOG_END) {
		if (imsg->datalen < sizeof(ls))
			fatalx("bad IMSG_LOG_END size %zu", imsg->datalen);
		if (l == NULL)
			return;		/* cancelled meanwhile */
		memcpy(&ls, imsg->data, sizeof(ls));
		n = imsg->datalen - sizeof(ls);
		if (n >= sizeof(why))
			n = sizeof(why) - 1;
		memcpy(why, (char *)imsg->data + sizeof(ls), n);
		why[n] = '\0';
		lookup_done(l, ls.status == 0 ? NULL : why[0] ? why :
		    "the audit database could not be read");
		return;
	}
	/* IMSG_LOG_DATA: one end record */
	if (imsg->datalen == 0)
		fatalx("empty IMSG_LOG_DATA from the logger");
	if (l == NULL)
		return;
	if ((o = json_loadb((char *)imsg->data, imsg->datalen, 0, &jerr)) ==
	    NULL || !json_is_object(o) || !in_retention(o)) {
		json_decref(o);
		return;
	}
	if (l->kind != L_LIST) {
		if (l->found == NULL && json_is_string(json_object_get(o,
		    "job_id")) && strcmp(json_string_value(json_object_get(o,
		    "job_id")), l->job_id) == 0)
			l->found = json_incref(o);
		json_decref(o);
		return;
	}
	/* job_list: those the worker still holds are listed already */
	if (deleg_fromrec(o, &d) == 0 && !deleg_job_known(d.job_id) &&
	    deleg_mine(l->call, &d)) {
		job = deleg_json(&d);
		/* lost with its worker: why, as the frontend wrote it */
		if (json_is_string(v = json_object_get(o, "reason")))
			json_object_set(job, "reason", v);
		json_array_append_new(l->jobs, job);
		deleg_list_line(&l->text, &d);
		l->n++;
	}
	deleg_clear(&d);
	json_decref(o);
}

/* the logger died: who waits for it gets the answer without it */
void
delegdb_logger_gone(void)
{
	struct lookup	*l;

	while ((l = TAILQ_FIRST(&lookups)) != NULL)
		lookup_done(l, "the logger died");
}
