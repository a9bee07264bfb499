/*
 * fe_jobs.c: the frontend's table of the background jobs the ssh workers
 * run (ask_claude background delegations, Bash run_in_background), and
 * what becomes of them when a worker dies.
 *
 * A worker holds its jobs in memory; for a delegation it also writes the
 * end to the audit database, where its successor finds it.  A worker
 * that dies (SIGKILL, a sandbox violation) writes nothing, and its
 * successor would answer "no job ..." for a job that did exist.  So each
 * worker tells us of every background job it starts and ends
 * (IMSG_SSH_JOBNOTE, ssh_jobnote.c), the parent tells us how a worker
 * died (IMSG_SSH_DIED), and when a worker's socket closes without its
 * having said it was going, its jobs are lost here:
 *
 * - job_status, job_wait, job_cancel, job_list (a delegation) and
 *   BashOutput, TaskOutput, KillShell, TaskStop (a background command)
 *   are answered here, "lost" with the reason, also the calls on such a
 *   job in flight at the death, and the tasks following one (fe_tasks.c);
 * - the audit gets an end record for each, outcome "lost" and the
 *   reason; a delegation's has the shape of the worker's own end record,
 *   so that after we forget it (job retention, a restart of the
 *   frontend) a worker still finds it in the database (ssh_delegdb.c).
 *
 * The remote processes of a lost job are not ours to kill: each runs
 * behind a watchdog (ssh_killtree.c) that kills its process group when
 * sshd closes the session, which it does when the dead worker's
 * connection closes.  A restarted worker's bash ids go on above its
 * predecessor's (IMSG_SSH_JOBSEQ), so that a new bash_N never shadows a
 * lost one.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event.h>
#include <jansson.h>

#include "bridged.h"
#include "frontend.h"
#include "log.h"
#include "policy.h"
#include "fe_tools.h"

#define FEJOBS_MAX		4096	/* jobs held, running and lost */
#define FEJOBS_HOST_MAX		1024	/* of them, one host's */
#define CAUSE_WAIT_SECS		3	/* for the parent's word on the death */
#define REASON_MAX		640

struct fejob {
	TAILQ_ENTRY(fejob)	 entry;
	char			 host[HOST_NAME_LEN];
	pid_t			 wpid;		/* the worker that ran it */
	enum jobnote_kind	 kind;
	uint32_t		 sessid;
	uid_t			 uid;
	int			 has_uid;
	uint32_t		 deleg;
	int			 timeout;
	time_t			 started;
	char			 id[JOB_ID_LEN];
	char			 status[128];	/* how it ended; "" running */
	char			*task;		/* redacted */
	int			 lost;		/* its worker died */
	time_t			 lostat;
	char			 cause[96];	/* "signal 9 (KILL)"; "" */
	int			 recorded;
	struct event		 ev_record;
};

/* per host: the bash ids handed out, and its last worker's death */
struct fehost {
	TAILQ_ENTRY(fehost)	 entry;
	char			 host[HOST_NAME_LEN];
	uint32_t		 bashseq;
	int			 njobs;		/* in fejobs */
	time_t			 warned;	/* of a job forgotten */
	pid_t			 deadpid;
	char			 cause[96];
};

static TAILQ_HEAD(, fejob)	 fejobs = TAILQ_HEAD_INITIALIZER(fejobs);
static TAILQ_HEAD(, fehost)	 fehosts = TAILQ_HEAD_INITIALIZER(fehosts);
static int			 nfejobs;

static struct fehost *fehost_get(const char *, int);
static void	 fejob_free(struct fejob *);
static void	 fejob_sweep(const char *);
static int	 fejob_evict(struct fehost *);
static void	 fejob_reason(struct fejob *, char *, size_t);
static void	 fejob_record(struct fejob *);
static void	 fejob_record_cb(int, short, void *);
static void	 fejob_lose(struct fejob *, const char *);
static struct fejob *fejob_find(enum jobnote_kind, const char *, uint32_t,
		    const char *);
static json_t	*fejob_json(struct fejob *);
static void	 answer_deleg(struct mcp_call *, struct fejob *);
static void	 answer_bash(struct mcp_call *, struct fejob *);

static struct fehost *
fehost_get(const char *host, int create)
{
	struct fehost	*fh;

	TAILQ_FOREACH(fh, &fehosts, entry)
		if (strcmp(fh->host, host) == 0)
			return fh;
	if (!create || (fh = calloc(1, sizeof(*fh))) == NULL)
		return NULL;
	strlcpy(fh->host, host, sizeof(fh->host));
	TAILQ_INSERT_TAIL(&fehosts, fh, entry);
	return fh;
}

static void
fejob_free(struct fejob *j)
{
	struct fehost	*fh;

	/* a lost job is in the audit before it is forgotten */
	if (j->lost && !j->recorded)
		fejob_record(j);
	evtimer_del(&j->ev_record);
	TAILQ_REMOVE(&fejobs, j, entry);
	nfejobs--;
	if ((fh = fehost_get(j->host, 0)) != NULL)
		fh->njobs--;
	free(j->task);
	free(j);
}

/*
 * Lost jobs are kept for "job retention"; at most FEJOBS_HOST_MAX jobs of
 * host (if not NULL), which is about to have one more, and FEJOBS_MAX in
 * all.  A host
 * makes room among its own jobs, and the table among the jobs of the
 * host that holds the most: a worker that tells of job after job (it is
 * its remote host's to command) pushes only its own out, never another
 * host's, whose loss would then go untold.
 */
static void
fejob_sweep(const char *host)
{
	struct fejob	*j, *next;
	struct fehost	*fh, *most;
	time_t		 now = time(NULL);
	int		 keep;

	keep = frontend_conf != NULL ? frontend_conf->job_retention :
	    CONF_JOB_RETENTION;
	TAILQ_FOREACH_SAFE(j, &fejobs, entry, next)
		if (j->lost && now - j->lostat >= keep)
			fejob_free(j);
	while (host != NULL && (fh = fehost_get(host, 0)) != NULL &&
	    fh->njobs >= FEJOBS_HOST_MAX && fejob_evict(fh))
		;
	while (nfejobs >= FEJOBS_MAX) {
		most = NULL;
		TAILQ_FOREACH(fh, &fehosts, entry)
			if (most == NULL || fh->njobs > most->njobs)
				most = fh;
		if (most == NULL || !fejob_evict(most))
			break;
	}
}

/* forget one job of fh's host, its oldest lost one, else its oldest */
static int
fejob_evict(struct fehost *fh)
{
	struct fejob	*j, *first = NULL;

	TAILQ_FOREACH(j, &fejobs, entry) {
		if (strcmp(j->host, fh->host) != 0)
			continue;
		if (j->lost)
			break;
		if (first == NULL)
			first = j;
	}
	if (j == NULL && (j = first) == NULL)
		return 0;
	/* a worker that tells of job after job: a line a minute at most */
	if (!j->lost && time(NULL) - fh->warned >= 60 && (fh->warned =
	    time(NULL)) != 0)
		log_warnx("host \"%s\": %d jobs held, the most of one host: "
		    "%s %s is forgotten (its loss would go untold), and "
		    "others may be", fh->host,
		    fh->njobs, j->kind == JOBNOTE_DELEG ? "job" :
		    "background command", j->id);
	fejob_free(j);
	return 1;
}

/* IMSG_SSH_JOBNOTE from the worker (pid wpid) of host; -1: malformed */
int
fe_jobs_note(const char *host, pid_t wpid, struct imsg *imsg)
{
	struct ssh_jobnote	 n;
	struct fejob		*j;
	struct fehost		*fh;
	struct host		*h;
	unsigned int		 seq;
	size_t			 tlen;
	char			*text;

	if (imsg->datalen < sizeof(n) ||
	    imsg->datalen > sizeof(n) + JOBNOTE_TEXT_MAX)
		return -1;
	memcpy(&n, imsg->data, sizeof(n));
	n.id[sizeof(n.id) - 1] = '\0';
	n.status[sizeof(n.status) - 1] = '\0';
	if ((n.kind != JOBNOTE_DELEG && n.kind != JOBNOTE_BASH) ||
	    n.event < JOBNOTE_START || n.event > JOBNOTE_GONE ||
	    n.id[0] == '\0')
		return -1;
	/* a job id names its host (SSH_ID_SPAN): a worker names only its own */
	if (n.kind == JOBNOTE_DELEG && (sscanf(n.id, "job_%u_", &seq) != 1 ||
	    (h = config_host_byid(frontend_conf, seq / SSH_ID_SPAN)) == NULL ||
	    strcmp(h->name, host) != 0 || n.deleg != seq))
		return -1;
	j = fejob_find(n.kind, host, n.sessid, n.id);
	if (n.event != JOBNOTE_START) {
		if (j == NULL || j->lost)
			return 0;
		/* an ended delegation is in the worker and its database */
		if (n.event == JOBNOTE_GONE || n.kind == JOBNOTE_DELEG)
			fejob_free(j);
		else
			strlcpy(j->status, n.status[0] ? n.status : "ended",
			    sizeof(j->status));
		return 0;
	}
	/* a new job of that name: the newer is the one meant */
	if (j != NULL)
		fejob_free(j);
	fejob_sweep(host);
	if ((fh = fehost_get(host, 1)) == NULL ||
	    (j = calloc(1, sizeof(*j))) == NULL)
		return 0;
	tlen = imsg->datalen - sizeof(n);
	if ((text = malloc(tlen + 1)) != NULL) {
		memcpy(text, (char *)imsg->data + sizeof(n), tlen);
		text[tlen] = '\0';
		/* a command may hold a secret: the audit gets it redacted */
		j->task = policy_redact(text, tlen);
		free(text);
	}
	strlcpy(j->host, host, sizeof(j->host));
	j->wpid = wpid;
	j->kind = n.kind;
	j->sessid = n.sessid;
	j->uid = n.uid;
	j->has_uid = n.has_uid != 0;
	j->deleg = n.deleg;
	j->timeout = n.timeout;
	j->started = n.started;
	strlcpy(j->id, n.id, sizeof(j->id));
	evtimer_set(&j->ev_record, fejob_record_cb, j);
	TAILQ_INSERT_TAIL(&fejobs, j, entry);
	nfejobs++;
	fh->njobs++;
	if (n.kind == JOBNOTE_BASH && sscanf(n.id, "bash_%u", &seq) == 1 &&
	    seq > fh->bashseq)
		fh->bashseq = seq;
	return 0;
}

/* a new worker for host: where its bash ids start (0: anywhere) */
uint32_t
fe_jobs_bashseq(const char *host)
{
	struct fehost	*fh;

	return (fh = fehost_get(host, 0)) != NULL ? fh->bashseq : 0;
}

/*
 * The socket of host's worker (pid) closed though it had not said it
 * was going: its jobs are lost.  Called before its calls in flight are
 * failed, so that those on its jobs are answered as lost too.
 */
void
fe_jobs_worker_gone(const char *host, pid_t pid)
{
	struct fehost	*fh;
	struct fejob	*j;
	const char	*cause = NULL;

	if ((fh = fehost_get(host, 0)) != NULL && fh->deadpid == pid &&
	    pid != 0)
		cause = fh->cause;
	TAILQ_FOREACH(j, &fejobs, entry)
		if (!j->lost && strcmp(j->host, host) == 0 &&
		    (j->wpid == pid || pid == 0))
			fejob_lose(j, cause);
}

static void
fejob_lose(struct fejob *j, const char *cause)
{
	struct timeval	 tv = { CAUSE_WAIT_SECS, 0 };

	j->lost = 1;
	j->lostat = time(NULL);
	if (cause != NULL) {
		strlcpy(j->cause, cause, sizeof(j->cause));
		fejob_record(j);
	} else
		evtimer_add(&j->ev_record, &tv);	/* the cause may come */
	log_warnx("host \"%s\": %s %s lost with its ssh worker (pid %d)",
	    j->host, j->kind == JOBNOTE_DELEG ? "job" : "background command",
	    j->id, (int)j->wpid);
}

/* IMSG_SSH_DIED from the parent: how a worker died */
void
fe_jobs_died(struct imsg *imsg)
{
	struct ssh_peer	 sp;
	struct fehost	*fh;
	struct fejob	*j;
	size_t		 len;

	if (imsg->datalen < sizeof(sp))
		fatalx("bad IMSG_SSH_DIED");
	memcpy(&sp, imsg->data, sizeof(sp));
	sp.host[sizeof(sp.host) - 1] = '\0';
	fe_ssh_died(sp.host, sp.pid);
	if ((fh = fehost_get(sp.host, 1)) == NULL)
		return;
	len = imsg->datalen - sizeof(sp);
	if (len >= sizeof(fh->cause))
		len = sizeof(fh->cause) - 1;
	memcpy(fh->cause, (char *)imsg->data + sizeof(sp), len);
	fh->cause[len] = '\0';
	fh->deadpid = sp.pid;
	/* its socket may have closed first: those lost wait for this */
	TAILQ_FOREACH(j, &fejobs, entry)
		if (j->lost && !j->recorded && j->wpid == sp.pid &&
		    strcmp(j->host, sp.host) == 0) {
			strlcpy(j->cause, fh->cause, sizeof(j->cause));
			evtimer_del(&j->ev_record);
			fejob_record(j);
		}
}

/* a legacy session or a modern scope ended: its commands went with it */
void
fe_jobs_session_end(uint32_t sessid)
{
	struct fejob	*j, *next;

	TAILQ_FOREACH_SAFE(j, &fejobs, entry, next)
		if (j->kind == JOBNOTE_BASH && j->sessid == sessid)
			fejob_free(j);
}

/* what the agent and the audit are told of a lost job */
static void
fejob_reason(struct fejob *j, char *buf, size_t len)
{
	char	 died[256];

	snprintf(died, sizeof(died), "the ssh worker of host \"%s\" (pid %d)"
	    " died%s%s%s", j->host, (int)j->wpid, j->cause[0] ? " (" : "",
	    j->cause, j->cause[0] ? ")" : "");
	if (j->kind == JOBNOTE_DELEG)
		snprintf(buf, len, "lost: %s while the job ran, so its result "
		    "is lost; its remote processes are killed by their watchdog "
		    "when sshd sees the worker's connection close.  Run the task"
		    " again if it is still needed", died);
	else if (j->status[0] != '\0')
		snprintf(buf, len, "lost: %s had ended (%s), but %s before its "
		    "output was read, so that output is lost", j->id,
		    j->status, died);
	else
		snprintf(buf, len, "lost: %s while the command ran, so its "
		    "output is lost; the command is killed by its watchdog when"
		    " sshd sees the worker's connection close.  Run it again if"
		    " it is still needed", died);
}

static void
fejob_record_cb(int fd, short ev, void *arg)
{
	fejob_record(arg);
}

/* the audit's end record of a lost job */
static void
fejob_record(struct fejob *j)
{
	char		 reason[REASON_MAX];
	long long	 ms;
	json_t		*r;

	if (j->recorded)
		return;
	j->recorded = 1;
	fejob_reason(j, reason, sizeof(reason));
	ms = (long long)(j->lostat - j->started) * 1000;
	if (ms < 0)
		ms = 0;
	if (j->kind == JOBNOTE_DELEG)
		/* as the worker's own end record, for ssh_delegdb.c */
		r = json_pack("{s:s, s:s, s:I, s:s, s:s, s:I, s:s, s:s, s:s,"
		    " s:I, s:I, s:i, s:I, s:b, s:s, s:I, s:s}",
		    "type", "delegation", "event", "end",
		    "id", (json_int_t)j->deleg, "job_id", j->id,
		    "host", j->host, "session", (json_int_t)j->sessid,
		    "task", j->task ? j->task : "", "outcome", "lost",
		    "reason", reason, "started", (json_int_t)j->started,
		    "ended", (json_int_t)j->lostat, "timeout", j->timeout,
		    "duration_ms", (json_int_t)ms, "is_error", 1,
		    "text", reason, "worker_pid", (json_int_t)j->wpid,
		    "cause", j->cause);
	else
		r = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s,"
		    " s:I, s:I, s:I, s:s}",
		    "type", "background", "event", "end", "job", j->id,
		    "host", j->host, "session", (json_int_t)j->sessid,
		    "command", j->task ? j->task : "", "outcome", "lost",
		    "status", j->status[0] ? j->status : "running",
		    "reason", reason, "started", (json_int_t)j->started,
		    "ended", (json_int_t)j->lostat,
		    "worker_pid", (json_int_t)j->wpid, "cause", j->cause);
	if (r == NULL)
		return;
	if (j->has_uid)
		json_object_set_new(r, "uid", json_integer(j->uid));
	frontend_record(r);
	json_decref(r);
}

static struct fejob *
fejob_find(enum jobnote_kind kind, const char *host, uint32_t sessid,
    const char *id)
{
	struct fejob	*j;

	/* a job id names its job daemon-wide; a bash id, in its session */
	TAILQ_FOREACH(j, &fejobs, entry)
		if (j->kind == kind && strcmp(j->id, id) == 0 &&
		    (kind == JOBNOTE_DELEG || (j->sessid == sessid &&
		    strcmp(j->host, host) == 0)))
			return j;
	return NULL;
}

/* a lost delegation as job_list and job_status show one */
static json_t *
fejob_json(struct fejob *j)
{
	char	 reason[REASON_MAX];
	json_t	*o;

	fejob_reason(j, reason, sizeof(reason));
	o = json_pack("{s:I, s:s, s:s, s:n, s:s, s:I, s:I, s:n, s:s, s:I,"
	    " s:s}", "id", (json_int_t)j->deleg, "job_id", j->id,
	    "host", j->host, "session_id", "state", "lost",
	    "started", (json_int_t)j->started,
	    "duration_ms", (json_int_t)(j->lostat - j->started) * 1000,
	    "total_cost_usd", "task", j->task ? j->task : "",
	    "mcp_session", (json_int_t)j->sessid, "reason", reason);
	if (o == NULL)
		fatalx("%s: json_pack", __func__);
	return o;
}

/*
 * A call on a lost job is answered here (1); any other goes on (0).
 * Another principal's job is none of its business: it goes on, and the
 * worker answers "no job" as for any unknown id.
 */
int
fe_jobs_answer(struct mcp_call *call)
{
	const char	*tool = call->tool->name, *id = NULL;
	const char	*names[] = { "bash_id", "task_id", "shell_id" };
	struct fejob	*j;
	struct host	*h;
	json_t		*v;
	size_t		 i;

	fejob_sweep(NULL);
	if (strcmp(tool, "job_status") == 0 || strcmp(tool, "job_wait") == 0 ||
	    strcmp(tool, "job_cancel") == 0) {
		if ((id = json_string_value(json_object_get(call->args,
		    "job_id"))) == NULL ||
		    (j = fejob_find(JOBNOTE_DELEG, "", 0, id)) == NULL ||
		    !j->lost || (j->has_uid && j->uid != call->uid) ||
		    !http_principal_may(call->session, j->host))
			return 0;
		/* the host must still allow delegate, as in the worker */
		if ((h = config_host_byname(frontend_conf, j->host)) == NULL ||
		    (h->caps & CAP_DELEGATE) == 0)
			return 0;
		answer_deleg(call, j);
		return 1;
	}
	if (strcmp(tool, "BashOutput") != 0 && strcmp(tool, "TaskOutput") !=
	    0 && strcmp(tool, "KillShell") != 0 && strcmp(tool, "TaskStop") !=
	    0)
		return 0;
	for (i = 0; i < sizeof(names) / sizeof(names[0]) && id == NULL; i++)
		if (json_is_string(v = json_object_get(call->args, names[i])))
			id = json_string_value(v);
	if (id == NULL || call->host[0] == '\0' ||
	    (j = fejob_find(JOBNOTE_BASH, call->host, call->sessid, id)) ==
	    NULL || !j->lost)
		return 0;
	answer_bash(call, j);
	return 1;
}

static void
answer_deleg(struct mcp_call *call, struct fejob *j)
{
	char		 reason[REASON_MAX];
	json_t		*r, *st;

	fejob_reason(j, reason, sizeof(reason));
	if (strcmp(call->tool->name, "job_cancel") == 0) {
		mcp_call_text(call, 1, "job_cancel: %s is not running: %s",
		    j->id, reason);
		return;
	}
	st = fejob_json(j);
	json_object_set_new(st, "outcome", json_null());
	r = json_pack("{s:[{s:s, s:s++++}], s:o, s:b}", "content", "type",
	    "text", "text", j->id, " on host \"", j->host, "\": lost\n\n",
	    reason, "structuredContent", st, "isError", 1);
	if (r == NULL) {
		mcp_call_text(call, 1, "%s: %s", call->tool->name, reason);
		return;
	}
	mcp_call_result(call, r);
}

/* in the words of ssh_bgjob.c: "status: ..." first, which tasks read */
static void
answer_bash(struct mcp_call *call, struct fejob *j)
{
	char	 reason[REASON_MAX];

	fejob_reason(j, reason, sizeof(reason));
	if (strcmp(call->tool->name, "KillShell") == 0 ||
	    strcmp(call->tool->name, "TaskStop") == 0)
		mcp_call_text(call, 1, "%s is not running: %s", j->id, reason);
	else
		mcp_call_text(call, 1, "status: %s\n", reason);
}

/* job_list: the lost delegations of this principal, into items */
void
fe_jobs_list(struct mcp_call *call, json_t *items)
{
	struct fejob	*j;

	fejob_sweep(NULL);
	TAILQ_FOREACH(j, &fejobs, entry)
		if (j->kind == JOBNOTE_DELEG && j->lost &&
		    (!j->has_uid || j->uid == call->uid) &&
		    http_principal_may(call->session, j->host))
			json_array_append_new(items, fejob_json(j));
}
