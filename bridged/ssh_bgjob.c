/*
 * ssh_bgjob.c: background commands (Bash with run_in_background), their
 * output (BashOutput/TaskOutput) and their end (KillShell/TaskStop).
 *
 * Each gets its own exec channel: sshd makes every session its own
 * process group, whose id is the pid printed first, and KillShell kills
 * that group.  The channel's stdin is never closed: the watchdog in
 * front of the command (ssh_killtree.c) kills the group when it ends,
 * so a background command dies with its channel, its connection and its
 * worker, and what it leaves in the group when it exits goes too.
 * Their output is buffered here until read.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <limits.h>
#include <regex.h>
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
#include "ssh_shell.h"

#define JOB_BUF_MAX		(1024 * 1024)	/* unread output kept */
#define JOBS_MAX		64		/* per session */
#define TASK_WAIT_DEF		30000		/* ms, TaskOutput block */
#define KILL_WAIT_MS		3000
#define JOB_NOTE_ROOM		768	/* characters for status and notes */

enum job_state {
	JOB_STARTING = 0,
	JOB_RUNNING,
	JOB_EXITED,
	JOB_KILLED,
	JOB_LOST,
};

struct jbuf {
	char		*data;
	size_t		 len;
	size_t		 dropped;
};

struct job;

struct jobwait {
	TAILQ_ENTRY(jobwait)	 entry;
	struct job		*job;
	struct sshcall		*call;
	int			 kill;		/* KillShell, else output */
	regex_t			 re;
	int			 has_re;
	struct event		 ev;
};

struct job {
	TAILQ_ENTRY(job)	 entry;
	uint32_t		 sessid;
	uid_t			 uid;
	int			 noted;		/* the frontend knows of it */
	struct sshhost		*host;
	struct sshconn		*conn;		/* where ch is */
	struct sshopen		*opening;	/* the pool is opening ch */
	struct sshcall		*startcall;	/* answered once it runs */
	char			 id[32];
	char			*command;
	ssh_channel		 ch;
	struct ssh_channel_callbacks_struct cb;
	long			 pid;
	char			 pidbuf[24];	/* first line: the pid */
	size_t			 pidlen;
	enum job_state		 state;
	int			 exitstatus;
	char			 exitsignal[32];
	int			 eof;
	int			 closed;
	int			 killreq;
	struct jbuf		 out;
	struct jbuf		 err;
	time_t			 started;
	TAILQ_HEAD(, jobwait)	 waiters;
	struct event		 ev_proc;
};

static struct job *job_find(uint32_t, const char *);
static void	 jbuf_add(struct jbuf *, const char *, size_t);
static int	 job_data(ssh_session, ssh_channel, void *, uint32_t, int,
		    void *);
static void	 job_eof(ssh_session, ssh_channel, void *);
static void	 job_closecb(ssh_session, ssh_channel, void *);
static void	 job_exit_status(ssh_session, ssh_channel, int, void *);
static void	 job_exit_signal(ssh_session, ssh_channel, const char *, int,
		    const char *, const char *, void *);
static void	 job_sched(struct job *);
static void	 job_proc(int, short, void *);
static void	 job_dropchannel(struct job *);
static void	 job_free(struct job *);
static const char *job_status(struct job *, char *, size_t);
static int	 job_take(struct jbuf *, regex_t *, struct sbuf *, size_t *);
static void	 job_answer(struct jobwait *);
static struct jobwait *jobwait_new(struct job *, struct sshcall *, int, int);
static void	 jobwait_free(struct jobwait *);
static void	 jobwait_timeout(int, short, void *);
static void	 jobwait_cancel(struct sshcall *);
static struct job *job_arg(struct sshcall *);
static void	 job_opened(void *, ssh_channel, struct sshconn *,
		    const char *);
static void	 job_start_cancel(struct sshcall *);
static void	 job_note(struct job *, enum jobnote_event);

static TAILQ_HEAD(, job)	 jobs = TAILQ_HEAD_INITIALIZER(jobs);
static unsigned int		 job_seq;

void
bgjob_start(struct sshcall *call, const char *command)
{
	struct sshhost	*host = call->host;
	struct job	*j, *old = NULL;
	struct sbuf	 cmd = { 0 };
	const char	*cwd;
	int		 n = 0;

	TAILQ_FOREACH(j, &jobs, entry) {
		if (j->sessid != call->sessid)
			continue;
		n++;
		if (old == NULL && j->state > JOB_RUNNING &&
		    TAILQ_EMPTY(&j->waiters))
			old = j;
	}
	if (n >= JOBS_MAX) {
		if (old == NULL) {
			sshcall_text(call, 1, "too many background commands"
			    " in this session (%d); stop some with KillShell",
			    JOBS_MAX);
			return;
		}
		job_free(old);
	}

	/* start where the session's shell is, when it has one */
	if ((cwd = shell_cwd(call->sessid, host)) == NULL)
		cwd = host->conf->base_dir;
	/* the pid at once; stdin stays open: the watchdog's (ssh_killtree.c) */
	sb_str(&cmd, "printf '%s\\n' \"$$\"; ");
	watchdog_exec(&cmd);
	sb_str(&cmd, "cd -- ");
	shquote(&cmd, cwd[0] != '\0' ? cwd : ".");
	sb_str(&cmd, " || exit 126; command -v bash >/dev/null 2>&1 && exec"
	    " bash --noprofile --norc -c ");
	shquote(&cmd, command);
	sb_str(&cmd, " </dev/null; exec sh -c ");
	shquote(&cmd, command);
	sb_str(&cmd, " </dev/null");

	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->command = strdup(command)) == NULL)
		fatal(NULL);
	j->sessid = call->sessid;
	j->uid = call->uid;
	j->host = host;
	snprintf(j->id, sizeof(j->id), "bash_%u", ++job_seq);
	j->state = JOB_STARTING;
	j->exitstatus = -1;
	j->started = time(NULL);
	TAILQ_INIT(&j->waiters);
	evtimer_set(&j->ev_proc, job_proc, j);
	ssh_callbacks_init(&j->cb);
	j->cb.userdata = j;
	j->cb.channel_data_function = job_data;
	j->cb.channel_eof_function = job_eof;
	j->cb.channel_close_function = job_closecb;
	j->cb.channel_exit_status_function = job_exit_status;
	j->cb.channel_exit_signal_function = job_exit_signal;
	TAILQ_INSERT_TAIL(&jobs, j, entry);
	/* a channel of its own, when the pool has one (ssh_pool.c) */
	j->startcall = call;
	call->state = j;
	call->cancel = job_start_cancel;
	j->opening = sshconn_open(host, NULL, cmd.p, &j->cb,
	    sshcall_ms_left(call), 0, job_opened, j);
	sb_free(&cmd);
}

/* the pool's answer: running, or why not */
static void
job_opened(void *arg, ssh_channel ch, struct sshconn *conn, const char *why)
{
	struct job	*j = arg;
	struct sshcall	*call = j->startcall;

	j->opening = NULL;
	j->startcall = NULL;
	call->state = NULL;
	call->cancel = NULL;
	if (ch == NULL) {
		sshcall_text(call, 1, "host \"%s\": cannot start a background"
		    " command: %s", j->host->name, why);
		job_free(j);
		return;
	}
	j->ch = ch;
	j->conn = conn;
	/* no EOF: the channel's stdin is the watchdog's */
	/* it may have ended before we were told it started */
	if (j->closed)
		job_sched(j);
	job_note(j, JOBNOTE_START);
	sshcall_text(call, 0, "Command running in background with ID: %s",
	    j->id);
}

/*
 * The frontend knows of each background command, so that one whose
 * worker dies is reported lost, not unknown (ssh_jobnote.c).
 */
static void
job_note(struct job *j, enum jobnote_event ev)
{
	struct ssh_jobnote	 n;

	if (ev == JOBNOTE_START)
		j->noted = 1;
	else if (!j->noted)
		return;
	memset(&n, 0, sizeof(n));
	n.kind = JOBNOTE_BASH;
	n.event = ev;
	n.sessid = j->sessid;
	n.uid = j->uid;
	n.has_uid = 1;
	n.started = j->started;
	strlcpy(n.id, j->id, sizeof(n.id));
	if (ev == JOBNOTE_END)
		job_status(j, n.status, sizeof(n.status));
	jobnote_send(&n, ev == JOBNOTE_START ? j->command : NULL);
	if (ev == JOBNOTE_GONE)
		j->noted = 0;
}

/* IMSG_SSH_JOBSEQ: a new bash_N never names a dead worker's command */
void
bgjob_seq_floor(uint32_t seq)
{
	if (job_seq < seq)
		job_seq = seq;
}

static void
job_start_cancel(struct sshcall *call)
{
	struct job	*j = call->state;

	j->startcall = NULL;
	call->state = NULL;
	call->cancel = NULL;
	job_free(j);
	sshcall_text(call, 1, "cancelled before the background command"
	    " started");
}

static struct job *
job_find(uint32_t sessid, const char *id)
{
	struct job	*j;

	TAILQ_FOREACH(j, &jobs, entry)
		if (j->sessid == sessid && strcmp(j->id, id) == 0)
			return j;
	return NULL;
}

/* keep the newest JOB_BUF_MAX bytes; count what had to go */
static void
jbuf_add(struct jbuf *b, const char *p, size_t n)
{
	size_t	 drop;

	if (n > JOB_BUF_MAX) {
		b->dropped += b->len + n - JOB_BUF_MAX;
		p += n - JOB_BUF_MAX;
		n = JOB_BUF_MAX;
		b->len = 0;
	}
	if (b->data == NULL && (b->data = malloc(JOB_BUF_MAX)) == NULL)
		fatal(NULL);
	if (b->len + n > JOB_BUF_MAX) {
		drop = b->len + n - JOB_BUF_MAX;
		memmove(b->data, b->data + drop, b->len - drop);
		b->len -= drop;
		b->dropped += drop;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

static int
job_data(ssh_session s, ssh_channel ch, void *data, uint32_t len,
    int is_stderr, void *arg)
{
	struct job	*j = arg;
	const char	*p = data, *nl, *errstr;
	size_t		 n = len, k;

	if (!is_stderr && j->state == JOB_STARTING) {
		/* the first line is the process (group) id */
		nl = memchr(p, '\n', n);
		k = nl != NULL ? (size_t)(nl - p) : n;
		if (j->pidlen + k >= sizeof(j->pidbuf))
			k = sizeof(j->pidbuf) - 1 - j->pidlen;
		memcpy(j->pidbuf + j->pidlen, p, k);
		j->pidlen += k;
		if (nl == NULL)
			return len;
		j->pidbuf[j->pidlen] = '\0';
		j->pid = strtonum(j->pidbuf, 2, INT_MAX, &errstr);
		if (errstr != NULL)
			j->pid = 0;
		j->state = JOB_RUNNING;
		n -= nl + 1 - p;
		p = nl + 1;
	}
	if (n > 0)
		jbuf_add(is_stderr ? &j->err : &j->out, p, n);
	return len;
}

static void
job_eof(ssh_session s, ssh_channel ch, void *arg)
{
	struct job	*j = arg;

	j->eof = 1;
}

static void
job_closecb(ssh_session s, ssh_channel ch, void *arg)
{
	struct job	*j = arg;

	j->closed = 1;
	job_sched(j);
}

static void
job_exit_status(ssh_session s, ssh_channel ch, int status, void *arg)
{
	struct job	*j = arg;

	j->exitstatus = status;
}

static void
job_exit_signal(ssh_session s, ssh_channel ch, const char *sig, int core,
    const char *msg, const char *lang, void *arg)
{
	struct job	*j = arg;

	strlcpy(j->exitsignal, sig ? sig : "?", sizeof(j->exitsignal));
}

static void
job_sched(struct job *j)
{
	struct timeval	 tv = { 0, 0 };

	evtimer_add(&j->ev_proc, &tv);
}

static void
job_dropchannel(struct job *j)
{
	if (j->opening != NULL) {
		sshconn_open_cancel(j->opening);
		j->opening = NULL;
	}
	if (j->ch == NULL)
		return;
	sshconn_chclose(j->conn, j->ch, &j->cb, 1);
	j->ch = NULL;
	j->conn = NULL;
}

/* the job's channel closed: it has finished; tell who waits */
static void
job_proc(int fd, short event, void *arg)
{
	struct job	*j = arg;
	struct jobwait	*w;

	if (!j->closed || j->ch == NULL)
		return;
	job_dropchannel(j);
	if (j->exitsignal[0] != '\0' || j->killreq)
		j->state = JOB_KILLED;
	else
		j->state = JOB_EXITED;
	job_note(j, JOBNOTE_END);
	while ((w = TAILQ_FIRST(&j->waiters)) != NULL)
		job_answer(w);
}

static const char *
job_status(struct job *j, char *buf, size_t len)
{
	switch (j->state) {
	case JOB_STARTING:
	case JOB_RUNNING:
		snprintf(buf, len, "running");
		break;
	case JOB_EXITED:
		if (j->exitstatus >= 0)
			snprintf(buf, len, "exited with status %d",
			    j->exitstatus);
		else
			snprintf(buf, len, "exited");
		break;
	case JOB_KILLED:
		snprintf(buf, len, "killed%s%s", j->exitsignal[0] ?
		    " by signal " : "", j->exitsignal);
		break;
	case JOB_LOST:
		snprintf(buf, len, "unknown: the connection to host \"%s\""
		    " was lost", j->host->name);
		break;
	}
	return buf;
}

/*
 * Move the unread lines of b that match into the text, as many as fit
 * in *room characters (whole lines when a line ends in reach); what does
 * not fit stays unread for the next call.  1 when some is left.
 */
static int
job_take(struct jbuf *b, regex_t *re, struct sbuf *t, size_t *room)
{
	struct sbuf	 u = { 0 };
	char		*line, *nl, *end;
	size_t		 n, before = t->len, c;

	if (b->len == 0)
		return 0;
	n = utf8_prefix(b->data, b->len, *room);
	if (n < b->len && n > 0 && (nl = memrchr(b->data, '\n', n)) != NULL)
		n = nl - b->data + 1;
	utf8_clean(&u, b->data, n, 1);
	if (re == NULL)
		sb_add(t, u.p ? u.p : "", u.len);
	else if (u.p != NULL) {
		end = u.p + u.len;
		for (line = u.p; line < end; line = nl + 1) {
			if ((nl = memchr(line, '\n', end - line)) == NULL)
				nl = end;
			*nl = '\0';
			/* by length: a NUL in the line is output too */
			if (regexec(re, line, 0, NULL, 0) == 0) {
				sb_add(t, line, nl - line);
				sb_add(t, "\n", 1);
			}
		}
	}
	sb_free(&u);
	if (t->len > 0 && t->p[t->len - 1] != '\n')
		sb_add(t, "\n", 1);
	c = utf8_chars(t->p + before, t->len - before);
	*room = c < *room ? *room - c : 0;
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	return b->len > 0;
}

/* answer a BashOutput/TaskOutput or KillShell waiter */
static void
job_answer(struct jobwait *w)
{
	struct job	*j = w->job;
	struct sshcall	*call = w->call;
	struct sbuf	 t = { 0 };
	json_t		*r;
	char		 st[128];
	size_t		 dropped, room;
	int		 iserr = 0, left;

	sb_add(&t, "", 0);
	job_status(j, st, sizeof(st));
	if (w->kill) {
		if (j->state == JOB_KILLED || j->state == JOB_EXITED)
			sb_printf(&t, "%s (%s): %s", j->id, j->command,
			    st);
		else {
			sb_printf(&t, "%s: the kill was sent but the"
			    " command is still %s", j->id, st);
			iserr = 1;
		}
	} else {
		sb_printf(&t, "status: %s\n", st);
		dropped = j->out.dropped + j->err.dropped;
		if (dropped > 0)
			sb_printf(&t, "[%zu bytes of output were"
			    " dropped: at most %d bytes are kept between"
			    " reads]\n", dropped, JOB_BUF_MAX);
		j->out.dropped = j->err.dropped = 0;
		/* what the result has no room for is kept for the next */
		room = ssh_result_budget() - JOB_NOTE_ROOM;
		left = 0;
		if (j->out.len > 0 && room > 0) {
			sb_str(&t, "stdout:\n");
			left |= job_take(&j->out, w->has_re ? &w->re : NULL,
			    &t, &room);
		}
		if (j->err.len > 0 && room > 0) {
			sb_str(&t, "stderr:\n");
			left |= job_take(&j->err, w->has_re ? &w->re : NULL,
			    &t, &room);
		}
		if (left || j->out.len > 0 || j->err.len > 0) {
			sb_printf(&t, "[more output is waiting: %zu bytes not "
			    "read yet (the result limit is %zu characters). "
			    "Call %s again with the same id for the next "
			    "part]\n", j->out.len + j->err.len,
			    ssh_result_budget() + SSH_RESULT_RESERVE,
			    call->tool);
			sshcall_log(call, MCPLOG_NOTICE, "%s %s: output cut to "
			    "fit the result limit; %zu bytes wait for the next "
			    "read", call->tool, j->id, j->out.len +
			    j->err.len);
		}
	}
	jobwait_free(w);
	call->state = NULL;
	call->cancel = NULL;
	/* by length: the output may hold NULs (sshcall_result shows them) */
	if ((r = json_pack("{s:[{s:s, s:s%}], s:b}", "content", "type",
	    "text", "text", t.p, t.len, "isError", iserr)) == NULL)
		fatalx("%s: json_pack", __func__);
	sshcall_result(call, r);
	sb_free(&t);
}

static void
jobwait_free(struct jobwait *w)
{
	evtimer_del(&w->ev);
	TAILQ_REMOVE(&w->job->waiters, w, entry);
	if (w->has_re)
		regfree(&w->re);
	free(w);
}

static void
jobwait_timeout(int fd, short event, void *arg)
{
	job_answer(arg);
}

static void
jobwait_cancel(struct sshcall *call)
{
	struct jobwait	*w = call->state;

	if (w != NULL)
		job_answer(w);
}

static struct jobwait *
jobwait_new(struct job *j, struct sshcall *call, int kill, int ms)
{
	struct jobwait	*w;
	struct timeval	 tv;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		fatal(NULL);
	w->job = j;
	w->call = call;
	w->kill = kill;
	evtimer_set(&w->ev, jobwait_timeout, w);
	TAILQ_INSERT_TAIL(&j->waiters, w, entry);
	if (ms > 0) {
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		evtimer_add(&w->ev, &tv);
		call->state = w;
		call->cancel = jobwait_cancel;
	}
	return w;
}

/* the background command named by any of the id parameters, or answer */
static struct job *
job_arg(struct sshcall *call)
{
	struct job	*j;
	const char	*names[] = { "bash_id", "task_id", "shell_id" };
	const char	*id;
	size_t		 i;
	int		 bad = 0;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		id = arg_optstr(call->args, names[i], &bad);
		if (bad) {
			sshcall_text(call, 1, "%s must be a string",
			    names[i]);
			return NULL;
		}
		if (id != NULL)
			break;
	}
	if (id == NULL) {
		sshcall_text(call, 1, "which background command? give its id"
		    " (bash_id, task_id or shell_id), e.g. \"bash_1\"");
		return NULL;
	}
	if ((j = job_find(call->sessid, id)) == NULL)
		sshcall_text(call, 1, "no background command \"%s\" in this"
		    " session", id);
	return j;
}

/* BashOutput(bash_id, filter?), TaskOutput(task_id, block?, timeout?) */
void
shell_output(struct sshcall *call)
{
	struct jobwait	*w;
	struct job	*j;
	const char	*filter;
	char		 ebuf[128], err[ERRSZ];
	int		 bad = 0, block, ms, rc;
	regex_t		 re;

	if ((j = job_arg(call)) == NULL)
		return;
	filter = arg_optstr(call->args, "filter", &bad);
	if (bad) {
		sshcall_text(call, 1, "filter must be a string (a regular"
		    " expression)");
		return;
	}
	if (arg_bool(call->args, "block", strcmp(call->tool,
	    "TaskOutput") == 0, &block, err) == -1 ||
	    arg_ms(call->args, "timeout", TASK_WAIT_DEF, BASH_TIMEOUT_MAX,
	    &ms, err) == -1) {
		sshcall_text(call, 1, "%s", err);
		return;
	}
	if (filter != NULL && (rc = regcomp(&re, filter, REG_EXTENDED |
	    REG_NOSUB)) != 0) {
		regerror(rc, &re, ebuf, sizeof(ebuf));
		sshcall_text(call, 1, "filter: %s", ebuf);
		return;
	}
	w = jobwait_new(j, call, 0, block && j->state <= JOB_RUNNING ? ms :
	    0);
	if (filter != NULL) {
		w->re = re;
		w->has_re = 1;
	}
	if (!(block && j->state <= JOB_RUNNING))
		job_answer(w);
}

/* KillShell(shell_id), TaskStop(task_id | shell_id) */
void
shell_kill(struct sshcall *call)
{
	struct job	*j;
	char		 st[128];

	if ((j = job_arg(call)) == NULL)
		return;
	if (j->state > JOB_RUNNING) {
		sshcall_text(call, 1, "%s is not running: %s", j->id,
		    job_status(j, st, sizeof(st)));
		return;
	}
	j->killreq = 1;
	if (j->pid == 0) {
		/* not started far enough to know its group: hang up */
		job_dropchannel(j);
		j->state = JOB_KILLED;
		job_note(j, JOBNOTE_END);
		sshcall_text(call, 0, "%s (%s): stopped before it started",
		    j->id, j->command);
		return;
	}
	/* the group sshd made for the session; then the leader itself */
	if (kill_group(j->host, j->pid, 1) == -1) {
		sshcall_text(call, 1, "%s: cannot send the kill: host \"%s\""
		    " has no connection", j->id, j->host->name);
		return;
	}
	(void)jobwait_new(j, call, 1, KILL_WAIT_MS);
}

static void
job_free(struct job *j)
{
	struct jobwait	*w;
	struct sshcall	*call;

	if ((call = j->startcall) != NULL) {
		j->startcall = NULL;
		call->state = NULL;
		call->cancel = NULL;
		sshcall_text(call, 1, "host \"%s\": the background command"
		    " was not started", j->host->name);
	}
	while ((w = TAILQ_FIRST(&j->waiters)) != NULL)
		job_answer(w);
	job_note(j, JOBNOTE_GONE);
	job_dropchannel(j);
	evtimer_del(&j->ev_proc);
	TAILQ_REMOVE(&jobs, j, entry);
	free(j->out.data);
	free(j->err.data);
	free(j->command);
	free(j);
}

/* the worker is going away: kill every background command */
int
bgjob_shutdown(void)
{
	struct job	*j;
	int		 n = 0;

	while ((j = TAILQ_FIRST(&jobs)) != NULL) {
		if (j->ch != NULL && j->pid != 0 &&
		    kill_group(j->host, j->pid, 0) == 0)
			n++;
		job_free(j);
	}
	return n;
}

/* the MCP session is gone: kill its background commands */
void
bgjob_session_end(uint32_t sessid)
{
	struct job	*j, *nj;

	TAILQ_FOREACH_SAFE(j, &jobs, entry, nj) {
		if (j->sessid != sessid)
			continue;
		if (j->ch != NULL && j->pid != 0)
			(void)kill_group(j->host, j->pid, 0);
		job_free(j);
	}
}

/*
 * The connection died: the commands' outcome is unknown.  conn NULL:
 * the host left the configuration; its jobs go.
 */
void
bgjob_conn_lost(struct sshhost *host, struct sshconn *conn)
{
	struct job	*j, *nj;

	TAILQ_FOREACH_SAFE(j, &jobs, entry, nj) {
		if (j->host != host)
			continue;
		if (conn == NULL) {
			job_free(j);
			continue;
		}
		if (j->conn != conn || j->ch == NULL)
			continue;
		job_dropchannel(j);
		evtimer_del(&j->ev_proc);
		if (j->state <= JOB_RUNNING) {
			j->state = JOB_LOST;
			job_note(j, JOBNOTE_END);
		}
		while (!TAILQ_EMPTY(&j->waiters))
			job_answer(TAILQ_FIRST(&j->waiters));
	}
}
