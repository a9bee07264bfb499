/*
 * ssh_delegjob.c: the table of delegations in the ssh worker, and what looks
 * at it: the job tools (job_status, job_wait, job_cancel, job_list),
 * bridgectl show delegations / show jobs / kill delegation, and the
 * retention that forgets finished ones.
 *
 * A job belongs to the daemon, not to the MCP session that started it:
 * its result is kept for "job retention" seconds after it ends, so an
 * agent that reconnects can still collect it.  Foreground delegations
 * are kept too, without their result, for bridgectl show delegations.
 * A job no longer held here is looked for in the audit database
 * (ssh_delegdb.c), where its end record keeps the result.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event.h>
#include <jansson.h>
#include <libssh/callbacks.h>
#include <libssh/libssh.h>

#include "bridged.h"
#include "log.h"
#include "ssh.h"
#include "ssh_deleg.h"

#define DELEG_PURGE_SECS	30
#define JOB_WAIT_DEF		30	/* seconds */
#define JOB_WAIT_MAX		3600

static void	 deleg_purge(int, short, void *);
static struct deleg *deleg_byjob(const char *);
static struct deleg *deleg_byid(uint32_t);
static struct dwait *dwait_new(struct deleg *, enum deleg_wait,
		    struct sshcall *, uint32_t, int);
static void	 dwait_free(struct dwait *);
static void	 dwait_timeout(int, short, void *);
static void	 dwait_cancel(struct sshcall *);
static int	 job_arg(struct sshcall *, struct deleg **, const char **);
static void	 ctl_answer(uint32_t, int32_t, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));

struct deleglist		 delegs = TAILQ_HEAD_INITIALIZER(delegs);
static struct event		 ev_purge;
static int			 purge_set;

const char *
deleg_state_name(enum deleg_state st)
{
	switch (st) {
	case D_RUNNING:		return "running";
	case D_KILLING:		return "killing";
	case D_DONE:		return "done";
	case D_ERROR:		return "error";
	case D_TIMEOUT:		return "timeout";
	case D_CANCELLED:	return "cancelled";
	case D_KILLED:		return "killed";
	case D_LOST:		return "lost";
	}
	return "unknown";
}

/* how long it ran, or runs so far */
long long
deleg_elapsed_ms(struct deleg *d)
{
	if (d->state > D_KILLING)
		return d->duration_ms;
	return deleg_ms(d);
}

static struct deleg *
deleg_byjob(const char *id)
{
	struct deleg	*d;

	TAILQ_FOREACH(d, &delegs, entry)
		if (d->job_id[0] != '\0' && strcmp(d->job_id, id) == 0)
			return d;
	return NULL;
}

static struct deleg *
deleg_byid(uint32_t id)
{
	struct deleg	*d;

	TAILQ_FOREACH(d, &delegs, entry)
		if (d->id == id)
			return d;
	return NULL;
}

void
deleg_free(struct deleg *d)
{
	struct dwait	*w;

	while ((w = TAILQ_FIRST(&d->waiters)) != NULL)
		dwait_answer(w);
	/* never started: nothing was written, the token goes */
	delegbc_end(d, NULL, 0);
	if (d->probe != NULL)
		dprobe_free(d->probe);
	deleg_dropchannel(d);
	evtimer_del(&d->ev_timeout);
	evtimer_del(&d->ev_progress);
	evtimer_del(&d->ev_proc);
	TAILQ_REMOVE(&delegs, d, entry);
	sb_free(&d->out);
	json_decref(d->result);
	json_decref(d->structured);
	free(d->task);
	free(d);
}

/* ---- retention ---------------------------------------------------------- */

void
deleg_purge_start(void)
{
	struct timeval	 tv = { DELEG_PURGE_SECS, 0 };

	if (!purge_set) {
		evtimer_set(&ev_purge, deleg_purge, NULL);
		purge_set = 1;
	}
	if (!evtimer_pending(&ev_purge, NULL))
		evtimer_add(&ev_purge, &tv);
}

/* finished delegations go after "job retention"; at most DELEG_KEEP_MAX */
static void
deleg_purge(int fd, short event, void *arg)
{
	struct deleg	*d, *next;
	time_t		 now = time(NULL);
	int		 keep, nfinished = 0, again = 0;

	keep = ssh_conf != NULL ? ssh_conf->job_retention :
	    CONF_JOB_RETENTION;
	TAILQ_FOREACH(d, &delegs, entry)
		if (d->state > D_KILLING)
			nfinished++;
	TAILQ_FOREACH_SAFE(d, &delegs, entry, next) {
		if (d->state <= D_KILLING) {
			again = 1;
			continue;
		}
		if (!TAILQ_EMPTY(&d->waiters))
			continue;
		if (now - d->ended >= keep || nfinished > DELEG_KEEP_MAX) {
			log_debug("delegation %u: forgotten", d->id);
			deleg_free(d);
			nfinished--;
			continue;
		}
		again = 1;
	}
	if (again)
		deleg_purge_start();
}

/* ---- waiting on jobs ----------------------------------------------------- */

static struct dwait *
dwait_new(struct deleg *d, enum deleg_wait kind, struct sshcall *call,
    uint32_t peerid, int secs)
{
	struct dwait	*w;
	struct timeval	 tv;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		fatal(NULL);
	w->d = d;
	w->kind = kind;
	w->call = call;
	w->peerid = peerid;
	evtimer_set(&w->ev, dwait_timeout, w);
	if (secs > 0) {
		tv.tv_sec = secs;
		tv.tv_usec = 0;
		evtimer_add(&w->ev, &tv);
	}
	if (call != NULL) {
		call->state = w;
		call->cancel = dwait_cancel;
	}
	TAILQ_INSERT_TAIL(&d->waiters, w, entry);
	return w;
}

static void
dwait_free(struct dwait *w)
{
	evtimer_del(&w->ev);
	TAILQ_REMOVE(&w->d->waiters, w, entry);
	if (w->call != NULL) {
		w->call->state = NULL;
		w->call->cancel = NULL;
	}
	free(w);
}

void
dwait_answer(struct dwait *w)
{
	struct deleg	*d = w->d;
	struct sshcall	*call = w->call;
	uint32_t	 peerid = w->peerid;
	enum deleg_wait	 kind = w->kind;
	json_t		*r;

	dwait_free(w);
	if (kind == W_CTL) {
		if (d->state == D_KILLED && d->left == 0)
			ctl_answer(peerid, 0, "delegation %u on host \"%s\""
			    " killed; no process of it is left", d->id,
			    d->hostname);
		else if (d->state == D_KILLED)
			ctl_answer(peerid, 1, "delegation %u on host \"%s\""
			    " killed, but %s", d->id, d->hostname, d->left > 0 ?
			    "some of its processes are still alive" :
			    "whether its processes are gone was not checked");
		else
			ctl_answer(peerid, 1, "delegation %u on host \"%s\""
			    " ended before the kill: %s", d->id, d->hostname,
			    deleg_state_name(d->state));
		return;
	}
	r = deleg_job_result(d);
	/* job_cancel did what it was asked when nothing is left */
	if (kind == W_CANCEL)
		json_object_set_new(r, "isError", json_boolean(
		    d->state != D_KILLED || d->left != 0));
	sshcall_result(call, r);
}

static void
dwait_timeout(int fd, short event, void *arg)
{
	dwait_answer(arg);
}

static void
dwait_cancel(struct sshcall *call)
{
	struct dwait	*w = call->state;

	if (w != NULL)
		dwait_answer(w);
}

/* ---- the job tools ------------------------------------------------------ */

/* job_status, job_wait: the state; the result itself once it ended */
json_t *
deleg_job_result(struct deleg *d)
{
	struct sbuf	 t = { 0 };
	json_t		*r, *st, *res = NULL, *content;
	int		 iserror = 0;

	st = deleg_json(d);
	if (d->state <= D_KILLING) {
		sb_printf(&t, "%s on host \"%s\": %s for %lld s (timeout %d"
		    " s); task: %s", d->job_id, d->hostname,
		    deleg_state_name(d->state), deleg_elapsed_ms(d) / 1000,
		    d->timeout, d->task);
		r = deleg_text_result(0, t.p);
		json_object_set_new(r, "structuredContent", st);
		sb_free(&t);
		return r;
	}
	sb_printf(&t, "%s on host \"%s\": %s after %lld s\n\n", d->job_id,
	    d->hostname, deleg_state_name(d->state), d->duration_ms / 1000);
	if (d->result != NULL) {
		content = json_object_get(d->result, "content");
		res = json_array_get(content, 0);
		if (json_is_string(json_object_get(res, "text")))
			sb_str(&t, json_string_value(json_object_get(res,
			    "text")));
		iserror = json_is_true(json_object_get(d->result, "isError"));
	} else
		sb_str(&t, "(the result is no longer kept)");
	json_object_set(st, "outcome", d->structured ? d->structured :
	    json_null());
	r = json_pack("{s:[{s:s, s:s%}], s:o, s:b}", "content", "type",
	    "text", "text", t.p, t.len, "structuredContent", st, "isError",
	    iserror);
	sb_free(&t);
	if (r == NULL)
		r = deleg_text_result(1, "the job's result could not be"
		    " encoded");
	return r;
}

/* one delegation for job_list and bridgectl */
json_t *
deleg_json(struct deleg *d)
{
	json_t	*o;

	o = json_pack("{s:I, s:o, s:s, s:o, s:s, s:I, s:I, s:o, s:s, s:I}",
	    "id", (json_int_t)d->id,
	    "job_id", d->job_id[0] ? json_string(d->job_id) : json_null(),
	    "host", d->hostname,
	    "session_id", d->session_id[0] ? json_string(d->session_id) :
	    json_null(),
	    "state", deleg_state_name(d->state),
	    "started", (json_int_t)d->started,
	    "duration_ms", (json_int_t)deleg_elapsed_ms(d),
	    "total_cost_usd", d->has_cost ? json_real(d->cost) : json_null(),
	    "task", d->task ? d->task : "",
	    "mcp_session", (json_int_t)d->sessid);
	if (o == NULL)
		fatalx("%s: json_pack", __func__);
	return o;
}

/* 0: the job is here; 1: not here, *idp to look up; -1: answered */
static int
job_arg(struct sshcall *call, struct deleg **dp, const char **idp)
{
	char		 err[ERRSZ];

	if (!args_object(call))
		return -1;
	if (arg_str(call->args, "job_id", 1, idp, err) == -1) {
		sshcall_text(call, 1, "%s: %s", call->tool, err);
		return -1;
	}
	if ((*dp = deleg_byjob(*idp)) == NULL)
		return 1;
	/* another principal's job is no job at all, not even in the db */
	if (!deleg_mine(call, *dp)) {
		deleg_nojob(call, *idp, NULL);
		return -1;
	}
	return 0;
}

/*
 * A job is its principal's: the uid of the client that started it.  A
 * record written before jobs carried one is anybody's, as it was then.
 */
int
deleg_mine(struct sshcall *call, struct deleg *d)
{
	return !d->has_uid || d->uid == call->uid;
}

/* no such job here nor in the audit database (or it could not be asked) */
void
deleg_nojob(struct sshcall *call, const char *id, const char *why)
{
	char	 shown[48];

	strlcpy(shown, id, sizeof(shown));
	shown[utf8_cut(shown, strlen(shown), 40)] = '\0';
	sshcall_text(call, 1, "%s: no job \"%s\": it never existed or its"
	    " result was dropped after the job retention time; see job_list%s"
	    "%s%s", call->tool, shown, why ? " (the audit database could not"
	    " be asked: " : "", why ? why : "", why ? ")" : "");
}

int
deleg_job_known(const char *id)
{
	return deleg_byjob(id) != NULL;
}

/* the job's host must still allow delegate */
int
deleg_job_allowed(struct sshcall *call, struct deleg *d)
{
	struct host	*h;

	h = ssh_conf != NULL ? config_host_byname(ssh_conf, d->hostname) :
	    NULL;
	if (h == NULL || (h->caps & CAP_DELEGATE) == 0) {
		sshcall_text(call, 1, "%s: host \"%s\" of %s does not allow"
		    " delegate (any more)", call->tool, d->hostname,
		    d->job_id);
		return -1;
	}
	return 0;
}

void
delegate_job_status(struct sshcall *call)
{
	struct deleg	*d;
	const char	*id;
	int		 rc;

	if ((rc = job_arg(call, &d, &id)) == 1)
		delegdb_find(call, 0, id);
	if (rc != 0 || deleg_job_allowed(call, d) == -1)
		return;
	sshcall_result(call, deleg_job_result(d));
}

void
delegate_job_wait(struct sshcall *call)
{
	struct deleg	*d;
	const char	*id;
	long long	 secs;
	char		 err[ERRSZ];
	int		 rc;

	if ((rc = job_arg(call, &d, &id)) == -1)
		return;
	if (arg_int(call->args, "timeout", 1, JOB_WAIT_MAX, JOB_WAIT_DEF,
	    &secs, err) == -1) {
		sshcall_text(call, 1, "job_wait: %s (seconds)", err);
		return;
	}
	/* a stored job has ended: nothing to wait for */
	if (rc == 1) {
		delegdb_find(call, 0, id);
		return;
	}
	if (deleg_job_allowed(call, d) == -1)
		return;
	if (d->state > D_KILLING) {
		sshcall_result(call, deleg_job_result(d));
		return;
	}
	(void)dwait_new(d, W_STATUS, call, 0, (int)secs);
}

void
delegate_job_cancel(struct sshcall *call)
{
	struct deleg	*d;
	const char	*id;
	int		 rc;

	if ((rc = job_arg(call, &d, &id)) == 1)
		delegdb_find(call, 1, id);
	if (rc != 0 || deleg_job_allowed(call, d) == -1)
		return;
	if (d->state > D_KILLING) {
		sshcall_text(call, 1, "job_cancel: %s is not running: %s",
		    d->job_id, deleg_state_name(d->state));
		return;
	}
	(void)dwait_new(d, W_CANCEL, call, 0, 0);
	log_info("delegation %u %s: cancelled by job_cancel", d->id,
	    d->job_id);
	deleg_kill(d, D_KILLED);
}

/* job_list: the jobs held here, then those only in the audit database */
void
delegate_job_list(struct sshcall *call)
{
	struct sbuf	 t = { 0 };
	struct deleg	*d;
	json_t		*arr;
	int		 n = 0;

	if (!args_object(call))
		return;
	if ((arr = json_array()) == NULL)
		fatal(NULL);
	TAILQ_FOREACH(d, &delegs, entry) {
		if (d->job_id[0] == '\0' || !deleg_mine(call, d))
			continue;
		json_array_append_new(arr, deleg_json(d));
		deleg_list_line(&t, d);
		n++;
	}
	/* the frontend asks one worker only for the database's part */
	if (call->flags & CALL_LIVE_ONLY)
		deleg_list_reply(call, arr, &t, n, NULL);
	else
		delegdb_list(call, arr, &t, n);
}

void
deleg_list_line(struct sbuf *t, struct deleg *d)
{
	sb_printf(t, "%s  host %s  %s  %lld s  %s\n", d->job_id, d->hostname,
	    deleg_state_name(d->state), deleg_elapsed_ms(d) / 1000, d->task);
}

/* the answer to job_list; steals arr and t's buffer */
void
deleg_list_reply(struct sshcall *call, json_t *arr, struct sbuf *t, int n,
    const char *why)
{
	json_t	*r;

	if (n == 0)
		sb_str(t, "no jobs\n");
	if (why != NULL)
		sb_printf(t, "(finished jobs kept in the audit database are not"
		    " listed: %s)\n", why);
	r = json_pack("{s:[{s:s, s:s%}], s:{s:o}}", "content", "type", "text",
	    "text", t->p, t->len, "structuredContent", "jobs", arr);
	sb_free(t);
	if (r == NULL)
		fatalx("%s: json_pack", __func__);
	sshcall_result(call, r);
}

/* the job tools act on the daemon's table, not on a host */
int
delegate_hostless(const char *tool)
{
	return strcmp(tool, "job_status") == 0 ||
	    strcmp(tool, "job_wait") == 0 ||
	    strcmp(tool, "job_cancel") == 0 ||
	    strcmp(tool, "job_list") == 0;
}

/* ---- bridgectl ------------------------------------------------------- */

/* show delegations / show jobs: one JSON text each, then IMSG_SSH_END */
void
delegate_ctl_list(uint32_t peerid, int jobsonly)
{
	struct deleg	*d;
	json_t		*o;
	char		*s;

	TAILQ_FOREACH(d, &delegs, entry) {
		if (jobsonly && d->job_id[0] == '\0')
			continue;
		o = deleg_json(d);
		if ((s = json_dumps(o, JSON_COMPACT)) == NULL)
			fatalx("%s: json_dumps", __func__);
		json_decref(o);
		if (ssh_compose(PROC_FRONTEND, IMSG_SSH_DELEGINFO, peerid, -1,
		    s, strlen(s)) == -1)
			log_warn("%s", __func__);
		free(s);
	}
	if (ssh_compose(PROC_FRONTEND, IMSG_SSH_END, peerid, -1, NULL, 0) ==
	    -1)
		log_warn("%s", __func__);
}

/* IMSG_SSH_DELEG_KILLED: int32 status (0 ok) and a message */
static void
ctl_answer(uint32_t peerid, int32_t status, const char *fmt, ...)
{
	va_list	 ap;
	char	 buf[sizeof(int32_t) + 512];
	int	 n;

	memcpy(buf, &status, sizeof(status));
	va_start(ap, fmt);
	n = vsnprintf(buf + sizeof(status), sizeof(buf) - sizeof(status), fmt,
	    ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(buf) - sizeof(status))
		n = sizeof(buf) - sizeof(status) - 1;
	if (ssh_compose(PROC_FRONTEND, IMSG_SSH_DELEG_KILLED, peerid, -1, buf,
	    sizeof(status) + n) == -1)
		log_warn("%s", __func__);
}

/* kill delegation ID: answered once the kill was checked */
void
delegate_ctl_kill(uint32_t peerid, uint32_t id)
{
	struct deleg	*d;

	if ((d = deleg_byid(id)) == NULL) {
		ctl_answer(peerid, 1, "no delegation %u (see bridgectl show"
		    " delegations)", id);
		return;
	}
	if (d->state > D_KILLING) {
		ctl_answer(peerid, 1, "delegation %u is not running: %s", id,
		    deleg_state_name(d->state));
		return;
	}
	(void)dwait_new(d, W_CTL, NULL, peerid, 0);
	log_info("delegation %u: killed by bridgectl", d->id);
	deleg_kill(d, D_KILLED);
}
