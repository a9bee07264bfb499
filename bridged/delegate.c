/*
 * delegate.c: ask_claude and the job_* tools, in the ssh worker.
 *
 * A delegation runs Claude Code headless on a host over its own exec
 * channel:
 *
 *	printf '%s\n' "$$"; cd -- 'CWD' || exit 126;
 *	b=$(cd -- 'BASE' && pwd -P) || exit 125;
 *	case "$(pwd -P)/" in "$b"/...) ;; *) exit 125;; esac;
 *	exec 'CLAUDE' -p --output-format json [--resume 'UUID']
 *	    [--max-turns N] [--permission-mode 'M'] [--allowedTools 'T' ...]
 *	    [--dangerously-skip-permissions]
 *
 * Every word comes from the configuration or is a number or UUID we
 * checked, and goes through shquote(); the task and its context go on
 * the channel's stdin, then EOF, never on the command line.  sshd makes
 * each session its own session and process group, so the pid printed
 * first is also the group id: a timeout, a cancellation, job_cancel or
 * bridgectl kill delegation kills that group and every descendant of the
 * pid (a child may have left the group) with the shell tools' kill
 * commands (killtree.c), and then checks on the host that none of them
 * is left.
 *
 * Standard output is collected up to DELEG_STDOUT_MAX and parsed as the
 * one JSON result object of --output-format json; standard error keeps
 * its last DELEG_STDERR_TAIL bytes for error messages.
 *
 * A delegation started with background: true is a job: it belongs to the
 * daemon, not to the MCP session that started it, and its result is kept
 * for "job retention" seconds after it ends, so an agent that reconnects
 * can still collect it.  Foreground delegations are answered on their
 * call and kept, without their result, for bridgectl show delegations.
 *
 * Channel callbacks only buffer and note; the work that calls libssh
 * again (freeing channels, answering) runs from a zero timeout.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
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
#include "policy.h"
#include "ssh.h"
#include "shell.h"

#define DELEG_STDOUT_MAX	(16 * 1024 * 1024)
#define DELEG_STDERR_TAIL	2048
#define DELEG_ANSWER_MAX	(4 * 1024 * 1024)
#define DELEG_PROGRESS_SECS	5
#define DELEG_KILL_WAIT		15	/* seconds: kill, check */
#define DELEG_KEEP_MAX		256	/* finished delegations kept */
#define DELEG_PURGE_SECS	30
#define DELEG_TASK_SHOWN	80	/* characters of the task shown */
#define JOB_WAIT_DEF		30	/* seconds */
#define JOB_WAIT_MAX		3600
#define MAX_TURNS_MAX		10000
#define CD_FAILED		126
#define CWD_OUTSIDE		125	/* resolved outside base dir */

enum deleg_state {
	D_RUNNING = 0,
	D_KILLING,	/* the kill is on its way */
	D_DONE,		/* claude answered, is_error false */
	D_ERROR,	/* claude answered an error, or no usable answer */
	D_TIMEOUT,
	D_CANCELLED,
	D_KILLED,	/* job_cancel, bridgectl kill delegation */
	D_LOST,		/* the connection went away */
};

enum deleg_wait {
	W_STATUS,	/* job_status, job_wait: answer with the status */
	W_CANCEL,	/* job_cancel: answer when killed */
	W_CTL,		/* bridgectl kill delegation */
};

struct deleg;

struct dwait {
	TAILQ_ENTRY(dwait)	 entry;
	struct deleg		*d;
	enum deleg_wait		 kind;
	struct sshcall		*call;	/* W_STATUS, W_CANCEL */
	uint32_t		 peerid; /* W_CTL */
	struct event		 ev;
};

/* the kill-and-check command on a second channel */
struct dprobe {
	struct deleg		*d;
	ssh_channel		 ch;
	struct ssh_channel_callbacks_struct cb;
	char			 out[256];
	size_t			 outlen;
	int			 closed;
	struct event		 ev_proc;
	struct event		 ev_timeout;
};

struct deleg {
	TAILQ_ENTRY(deleg)	 entry;
	uint32_t		 id;
	char			 job_id[24];	/* "" when foreground */
	struct sshhost		*host;		/* NULL once lost */
	char			 hostname[HOST_NAME_LEN];
	uint32_t		 sessid;
	struct sshcall		*call;		/* foreground */
	char			*task;		/* first line, cut */
	ssh_channel		 ch;
	struct ssh_channel_callbacks_struct cb;
	long			 pid;
	char			 pidbuf[24];
	size_t			 pidlen;
	int			 havepid;
	struct sbuf		 out;
	size_t			 outtotal;
	char			 err[DELEG_STDERR_TAIL];
	size_t			 errlen;
	int			 exitstatus;
	char			 exitsignal[32];
	int			 closed;
	enum deleg_state	 state;
	enum deleg_state	 killwhy;
	int			 timeout;	/* seconds */
	time_t			 started;
	time_t			 ended;
	struct timespec		 t0;
	long long		 duration_ms;	/* ours, wall clock */
	char			 session_id[64];
	double			 cost;
	int			 has_cost;
	int			 left;		/* left after a kill */
	json_t			*result;	/* MCP result (jobs) */
	json_t			*structured;	/* its fields */
	struct dprobe		*probe;
	TAILQ_HEAD(, dwait)	 waiters;
	struct event		 ev_timeout;
	struct event		 ev_progress;
	struct event		 ev_proc;
};

static struct deleg *deleg_new(struct sshcall *, int);
static void	 deleg_free(struct deleg *);
static void	 deleg_dropchannel(struct deleg *);
static void	 deleg_sched(struct deleg *);
static void	 deleg_proc(int, short, void *);
static void	 deleg_timeout(int, short, void *);
static void	 deleg_progress(int, short, void *);
static void	 deleg_kill(struct deleg *, enum deleg_state);
static void	 deleg_killed(struct deleg *);
static void	 deleg_finish(struct deleg *);
static void	 deleg_outcome(struct deleg *);
static void	 deleg_answer(struct deleg *);
static void	 deleg_record(struct deleg *, const char *);
static void	 deleg_purge(int, short, void *);
static void	 deleg_purge_start(void);
static struct deleg *deleg_byjob(const char *);
static struct deleg *deleg_byid(uint32_t);
static int	 deleg_running(struct sshhost *);
static const char *state_name(enum deleg_state);
static long long elapsed_ms(struct deleg *);
static int	 deleg_data(ssh_session, ssh_channel, void *, uint32_t, int,
		    void *);
static void	 deleg_closecb(ssh_session, ssh_channel, void *);
static void	 deleg_exit_status(ssh_session, ssh_channel, int, void *);
static void	 deleg_exit_signal(ssh_session, ssh_channel, const char *,
		    int, const char *, const char *, void *);
static void	 ask_cancel(struct sshcall *);

static int	 probe_start(struct deleg *);
static void	 probe_free(struct dprobe *);
static int	 probe_data(ssh_session, ssh_channel, void *, uint32_t, int,
		    void *);
static void	 probe_closecb(ssh_session, ssh_channel, void *);
static void	 probe_proc(int, short, void *);
static void	 probe_timeout(int, short, void *);

static struct dwait *dwait_new(struct deleg *, enum deleg_wait,
		    struct sshcall *, uint32_t, int);
static void	 dwait_free(struct dwait *);
static void	 dwait_answer(struct dwait *);
static void	 dwait_timeout(int, short, void *);
static void	 dwait_cancel(struct sshcall *);

static json_t	*job_status_result(struct deleg *);
static json_t	*deleg_json(struct deleg *);
static int	 job_arg(struct sshcall *, struct deleg **);
static int	 job_allowed(struct sshcall *, struct deleg *);

static int	 uuid_ok(const char *);
static int	 cwd_check(struct host *, const char *, char *, size_t,
		    char *, size_t);
static char	*task_line(const char *);
static void	 tail_add(char *, size_t *, size_t, const char *, size_t);
static void	 text_tail(struct sbuf *, const char *, size_t);
static json_t	*parse_output(const char *, size_t);
static json_t	*text_result(int, const char *);
static void	 ctl_answer(uint32_t, int32_t, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));

static TAILQ_HEAD(, deleg)	 delegs = TAILQ_HEAD_INITIALIZER(delegs);
static uint32_t			 deleg_seq;
static struct event		 ev_purge;
static int			 purge_set;

/* ---- small pieces ---------------------------------------------------- */

/* 8-4-4-4-12 hexadecimal digits, nothing else */
static int
uuid_ok(const char *s)
{
	size_t	 i;

	if (strlen(s) != 36)
		return 0;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!isxdigit((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

/*
 * The working directory: the policy module's path check (lexically
 * normalised, inside the host's base dir; a relative cwd is taken from
 * the base dir).  Default: the base dir, or the login directory when the
 * host has none.  Symlinks are not resolved on the host here (see
 * SECURITY): claude itself is not confined to the base dir anyway.
 */
static int
cwd_check(struct host *h, const char *cwd, char *out, size_t outlen,
    char *err, size_t errlen)
{
	if (cwd == NULL || *cwd == '\0') {
		if (strlcpy(out, h->base_dir, outlen) >= outlen) {
			snprintf(err, errlen, "the base dir is too long");
			return -1;
		}
		return 0;
	}
	return policy_path_check(h, "cwd", cwd, strlen(cwd), out, outlen, err,
	    errlen);
}

/* the first line of the task, cut to DELEG_TASK_SHOWN characters */
static char *
task_line(const char *task)
{
	struct sbuf	 sb = { 0 };
	size_t		 n, cut;

	while (*task == '\n' || *task == '\r' || *task == ' ' ||
	    *task == '\t')
		task++;
	n = strcspn(task, "\r\n");
	cut = utf8_cut(task, n, DELEG_TASK_SHOWN);
	utf8_clean(&sb, task, cut, 0);
	if (cut < n || task[n] != '\0')
		sb_str(&sb, "...");
	if (sb.p == NULL)
		sb_str(&sb, "");
	return sb.p;
}

/* keep the last size bytes seen in buf */
static void
tail_add(char *buf, size_t *len, size_t size, const char *p, size_t n)
{
	if (n >= size) {
		memcpy(buf, p + n - size, size);
		*len = size;
		return;
	}
	if (*len + n > size) {
		memmove(buf, buf + (*len + n - size), size - n);
		*len = size - n;
	}
	memcpy(buf + *len, p, n);
	*len += n;
}

/* stderr for a message: valid UTF-8, trailing newlines dropped */
static void
text_tail(struct sbuf *sb, const char *p, size_t n)
{
	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'))
		n--;
	if (n == 0) {
		sb_str(sb, "(nothing on stderr)");
		return;
	}
	utf8_clean(sb, p, n, 0);
}

/*
 * The JSON result object.  --output-format json prints exactly one; a
 * CLI that printed a warning line first is still understood by trying
 * the last line that starts with "{".
 */
static json_t *
parse_output(const char *s, size_t n)
{
	json_error_t	 jerr;
	json_t		*o;
	const char	*p;

	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	if (n == 0)
		return NULL;
	o = json_loadb(s, n, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL) {
		for (p = s + n - 1; p > s && p[-1] != '\n'; p--)
			;
		if (*p == '{')
			o = json_loadb(p, n - (p - s), JSON_REJECT_DUPLICATES,
			    &jerr);
	}
	if (o != NULL && !json_is_object(o)) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

static json_t *
text_result(int iserror, const char *text)
{
	json_t	*r;

	r = json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text",
	    "text", text, "isError", iserror);
	if (r == NULL)
		fatalx("%s: json_pack", __func__);
	return r;
}

static const char *
state_name(enum deleg_state st)
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

static long long
elapsed_ms(struct deleg *d)
{
	struct timespec	 now;

	if (d->state > D_KILLING)
		return d->duration_ms;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - d->t0.tv_sec) * 1000LL +
	    (now.tv_nsec - d->t0.tv_nsec) / 1000000;
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

static int
deleg_running(struct sshhost *host)
{
	struct deleg	*d;
	int		 n = 0;

	TAILQ_FOREACH(d, &delegs, entry)
		if (d->host == host && d->state <= D_KILLING)
			n++;
	return n;
}

/* ---- ask_claude -------------------------------------------------------- */

void
delegate_ask(struct sshcall *call)
{
	struct sshhost		*host = call->host;
	struct host		*h = host->conf;
	struct delegate_conf	*dc;
	struct strentry		*se;
	struct deleg		*d;
	struct sbuf		 cmd = { 0 }, prompt = { 0 };
	struct timeval		 tv;
	ssh_channel		 ch;
	const char		*task, *context, *resume, *cwdarg;
	char			 err[ERRSZ], cwd[PATH_MAX];
	long long		 timeout, maxturns;
	size_t			 off;
	int			 bg, n, running;

	if (!args_object(call))
		return;
	if (arg_str(call->args, "task", 1, &task, err) == -1 ||
	    arg_str(call->args, "context", 0, &context, err) == -1 ||
	    arg_str(call->args, "resume_session_id", 0, &resume, err) == -1 ||
	    arg_str(call->args, "cwd", 0, &cwdarg, err) == -1 ||
	    arg_int(call->args, "max_turns", 1, MAX_TURNS_MAX, 0, &maxturns,
	    err) == -1 ||
	    arg_int(call->args, "timeout", 1, 86400, 0, &timeout, err) ==
	    -1 ||
	    arg_bool(call->args, "background", 0, &bg, err) == -1) {
		sshcall_text(call, 1, "ask_claude: %s", err);
		return;
	}
	if (strspn(task, " \t\r\n") == strlen(task)) {
		sshcall_text(call, 1, "ask_claude: task is empty");
		return;
	}
	if (resume != NULL && !uuid_ok(resume)) {
		sshcall_text(call, 1, "ask_claude: resume_session_id must be"
		    " the session_id (a UUID, e.g."
		    " 123e4567-e89b-12d3-a456-426614174000) of an earlier"
		    " ask_claude result; nothing was run");
		return;
	}
	/* the frontend checked the capability; so do we */
	if (h == NULL || (h->caps & CAP_DELEGATE) == 0) {
		sshcall_text(call, 1, "host \"%s\" does not allow delegate",
		    host->name);
		return;
	}
	if (cwd_check(h, cwdarg, cwd, sizeof(cwd), err, sizeof(err)) == -1) {
		sshcall_text(call, 1, "ask_claude: %s; nothing was run", err);
		return;
	}
	dc = &h->delegate;
	running = deleg_running(host);
	if (dc->max_concurrent > 0 && running >= dc->max_concurrent) {
		sshcall_text(call, 1, "ask_claude: host \"%s\" already runs %d"
		    " delegation%s, its limit (delegate { max concurrent %d },"
		    " bridged.conf line %d); wait for one to finish (job_list,"
		    " job_wait) and try again", host->name, running,
		    running == 1 ? "" : "s", dc->max_concurrent, h->line);
		return;
	}
	if (timeout == 0 || timeout > dc->timeout)
		timeout = dc->timeout;

	/* the command line: config, checked numbers and a UUID only */
	sb_str(&cmd, "printf '%s\\n' \"$$\"; ");
	if (cwd[0] != '\0') {
		sb_str(&cmd, "cd -- ");
		shquote(&cmd, cwd);
		sb_printf(&cmd, " || exit %d; ", CD_FAILED);
	}
	/*
	 * The lexical check cannot see symlinks: resolve both on the host,
	 * in the shell that then runs claude, so nothing can change between
	 * the check and the start.
	 */
	if (h->base_dir[0] != '\0' && strcmp(h->base_dir, "/") != 0) {
		sb_str(&cmd, "b=$(cd -- ");
		shquote(&cmd, h->base_dir);
		sb_printf(&cmd, " && pwd -P) || exit %d; case \"$(pwd -P)/\" in"
		    " \"$b\"/*) ;; *) echo 'the working directory resolves"
		    " outside base dir' >&2; exit %d;; esac; ", CWD_OUTSIDE,
		    CWD_OUTSIDE);
	}
	sb_str(&cmd, "exec ");
	shquote(&cmd, dc->claude);
	sb_str(&cmd, " -p --output-format json");
	if (resume != NULL) {
		sb_str(&cmd, " --resume ");
		shquote(&cmd, resume);
	}
	if (maxturns > 0)
		sb_printf(&cmd, " --max-turns %lld", maxturns);
	if (dc->permission_mode[0] != '\0') {
		sb_str(&cmd, " --permission-mode ");
		shquote(&cmd, dc->permission_mode);
	}
	if (!TAILQ_EMPTY(&dc->allowed_tools)) {
		sb_str(&cmd, " --allowedTools");
		TAILQ_FOREACH(se, &dc->allowed_tools, entry) {
			sb_str(&cmd, " ");
			shquote(&cmd, se->s);
		}
	}
	if (dc->skip_permissions)
		sb_str(&cmd, " --dangerously-skip-permissions");

	/* the prompt: the task, then the context under a heading */
	sb_str(&prompt, task);
	if (context != NULL && *context != '\0') {
		sb_str(&prompt, "\n\n## Context\n\n");
		sb_str(&prompt, context);
	}

	if ((ch = sshconn_exec(host, cmd.p, err, sizeof(err))) == NULL) {
		sb_free(&cmd);
		sb_free(&prompt);
		sshcall_text(call, 1, "host \"%s\": cannot start claude: %s",
		    host->name, err);
		(void)sshconn_check(host);
		return;
	}
	log_debug("delegation on host \"%s\": %s", host->name, cmd.p);
	sb_free(&cmd);

	d = deleg_new(call, bg);
	d->ch = ch;
	d->timeout = timeout;
	d->task = task_line(task);
	ssh_callbacks_init(&d->cb);
	d->cb.userdata = d;
	d->cb.channel_data_function = deleg_data;
	d->cb.channel_close_function = deleg_closecb;
	d->cb.channel_exit_status_function = deleg_exit_status;
	d->cb.channel_exit_signal_function = deleg_exit_signal;
	ssh_set_channel_callbacks(ch, &d->cb);
	host->st.channels++;

	/*
	 * A blocking write; libssh keeps processing the other channels'
	 * packets meanwhile.  A claude that exits before reading it all
	 * (not found, say) makes it fail: its exit status tells why.
	 */
	for (off = 0; off < prompt.len; off += n) {
		n = ssh_channel_write(ch, prompt.p + off, prompt.len - off);
		if (n == SSH_ERROR || n <= 0)
			break;
	}
	explicit_bzero(prompt.p, prompt.len);
	sb_free(&prompt);
	if (host->session == NULL || sshconn_check(host))
		return;		/* delegate_host_lost answered */
	if (d->ch != NULL && !d->closed)
		(void)ssh_channel_send_eof(ch);

	deleg_record(d, "start");
	log_info("delegation %u%s%s on host \"%s\" started (timeout %d s)",
	    d->id, bg ? " " : "", d->job_id, host->name, d->timeout);

	tv.tv_sec = d->timeout;
	tv.tv_usec = 0;
	evtimer_add(&d->ev_timeout, &tv);
	if (!bg) {
		tv.tv_sec = DELEG_PROGRESS_SECS;
		evtimer_add(&d->ev_progress, &tv);
		call->state = d;
		call->cancel = ask_cancel;
		return;
	}
	d->call = NULL;
	call->state = NULL;
	call->cancel = NULL;
	sshcall_result(call, json_pack("{s:[{s:s, s:s++}], s:{s:s, s:s,"
	    " s:s}}", "content", "type", "text", "text",
	    "claude is working in the background as job ", d->job_id,
	    "; collect the result with job_wait or job_status (it is kept"
	    " after it ends, also for a new MCP session), stop it with"
	    " job_cancel", "structuredContent", "job_id", d->job_id, "state",
	    "running", "host", d->hostname));
}

static struct deleg *
deleg_new(struct sshcall *call, int bg)
{
	struct deleg	*d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		fatal(NULL);
	d->id = ++deleg_seq;
	if (bg)
		snprintf(d->job_id, sizeof(d->job_id), "job_%u", d->id);
	d->host = call->host;
	strlcpy(d->hostname, call->host->name, sizeof(d->hostname));
	d->sessid = call->sessid;
	d->call = call;
	d->exitstatus = -1;
	d->left = -1;
	d->state = D_RUNNING;
	d->started = time(NULL);
	clock_gettime(CLOCK_MONOTONIC, &d->t0);
	TAILQ_INIT(&d->waiters);
	evtimer_set(&d->ev_timeout, deleg_timeout, d);
	evtimer_set(&d->ev_progress, deleg_progress, d);
	evtimer_set(&d->ev_proc, deleg_proc, d);
	TAILQ_INSERT_TAIL(&delegs, d, entry);
	deleg_purge_start();
	return d;
}

static void
deleg_free(struct deleg *d)
{
	struct dwait	*w;

	while ((w = TAILQ_FIRST(&d->waiters)) != NULL)
		dwait_answer(w);
	if (d->probe != NULL)
		probe_free(d->probe);
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

static void
deleg_dropchannel(struct deleg *d)
{
	if (d->ch == NULL)
		return;
	ssh_remove_channel_callbacks(d->ch, &d->cb);
	ssh_channel_free(d->ch);
	d->ch = NULL;
	if (d->host != NULL && d->host->st.channels > 0)
		d->host->st.channels--;
}

static int
deleg_data(ssh_session s, ssh_channel ch, void *data, uint32_t len,
    int is_stderr, void *arg)
{
	struct deleg	*d = arg;
	const char	*p = data, *nl, *errstr;
	size_t		 n = len, k;

	if (is_stderr) {
		tail_add(d->err, &d->errlen, sizeof(d->err), p, n);
		return len;
	}
	if (!d->havepid) {
		/* the first line is the pid, which is also the group id */
		nl = memchr(p, '\n', n);
		k = nl != NULL ? (size_t)(nl - p) : n;
		if (d->pidlen + k >= sizeof(d->pidbuf))
			k = sizeof(d->pidbuf) - 1 - d->pidlen;
		memcpy(d->pidbuf + d->pidlen, p, k);
		d->pidlen += k;
		if (nl == NULL)
			return len;
		d->pidbuf[d->pidlen] = '\0';
		d->pid = strtonum(d->pidbuf, 2, INT_MAX, &errstr);
		if (errstr != NULL)
			d->pid = 0;
		d->havepid = 1;
		n -= nl + 1 - p;
		p = nl + 1;
	}
	d->outtotal += n;
	if (d->out.len < DELEG_STDOUT_MAX) {
		k = DELEG_STDOUT_MAX - d->out.len < n ?
		    DELEG_STDOUT_MAX - d->out.len : n;
		sb_add(&d->out, p, k);
	}
	return len;
}

static void
deleg_closecb(ssh_session s, ssh_channel ch, void *arg)
{
	struct deleg	*d = arg;

	d->closed = 1;
	deleg_sched(d);
}

static void
deleg_exit_status(ssh_session s, ssh_channel ch, int status, void *arg)
{
	struct deleg	*d = arg;

	d->exitstatus = status;
}

static void
deleg_exit_signal(ssh_session s, ssh_channel ch, const char *sig, int core,
    const char *msg, const char *lang, void *arg)
{
	struct deleg	*d = arg;

	strlcpy(d->exitsignal, sig ? sig : "?", sizeof(d->exitsignal));
}

static void
deleg_sched(struct deleg *d)
{
	struct timeval	 tv = { 0, 0 };

	evtimer_add(&d->ev_proc, &tv);
}

/* outside libssh: the channel closed, claude is done */
static void
deleg_proc(int fd, short event, void *arg)
{
	struct deleg	*d = arg;

	if (!d->closed || d->ch == NULL)
		return;
	deleg_dropchannel(d);
	if (d->state == D_KILLING)
		return;		/* the probe's end finishes it */
	deleg_finish(d);
}

static void
deleg_timeout(int fd, short event, void *arg)
{
	struct deleg	*d = arg;

	log_info("delegation %u on host \"%s\": timed out after %d s",
	    d->id, d->hostname, d->timeout);
	deleg_kill(d, D_TIMEOUT);
}

static void
deleg_progress(int fd, short event, void *arg)
{
	struct deleg	*d = arg;
	struct timeval	 tv = { DELEG_PROGRESS_SECS, 0 };
	char		 msg[128];
	long long	 secs = elapsed_ms(d) / 1000;

	if (d->call == NULL || d->state != D_RUNNING)
		return;
	snprintf(msg, sizeof(msg), "claude on host \"%s\": working for %lld"
	    " s (timeout %d s)", d->hostname, secs, d->timeout);
	sshcall_progress(d->call, (double)secs, 0, msg);
	evtimer_add(&d->ev_progress, &tv);
}

static void
ask_cancel(struct sshcall *call)
{
	struct deleg	*d = call->state;

	if (d != NULL)
		deleg_kill(d, D_CANCELLED);
}

/*
 * Stop a running delegation: kill its process group and descendants
 * with a second channel that then reports how many are left; the
 * delegation ends when that report comes (or DELEG_KILL_WAIT passes).
 */
static void
deleg_kill(struct deleg *d, enum deleg_state why)
{
	/* ended by itself meanwhile: deleg_proc has its real outcome */
	if (d->state != D_RUNNING || d->closed)
		return;
	d->state = D_KILLING;
	d->killwhy = why;
	evtimer_del(&d->ev_timeout);
	evtimer_del(&d->ev_progress);
	if (!d->havepid || d->pid == 0 || d->host == NULL ||
	    probe_start(d) == -1) {
		/* no group to name: hanging up is all we can do */
		deleg_dropchannel(d);
		d->left = -1;
		deleg_killed(d);
	}
}

static void
deleg_killed(struct deleg *d)
{
	deleg_dropchannel(d);
	d->state = d->killwhy;
	deleg_finish(d);
}

/* ---- the kill and the check ------------------------------------------- */

/*
 * The kill is the shell tools' (killtree.c): every descendant of the pid
 * is stopped and killed, and so is its process group.  Those run on
 * their own channels and report nothing, so a third one checks: it
 * lists the pid, its group and its descendants and waits up to 4 s for
 * all of them to be gone (zombies do not count), then prints how many
 * are left.
 */
static int
probe_start(struct deleg *d)
{
	struct dprobe	*pr;
	struct timeval	 tv = { DELEG_KILL_WAIT, 0 };
	char		*cmd, err[ERRSZ];

	if (kill_tree(d->host, d->pid, 1) == -1 ||
	    kill_group(d->host, d->pid, 1) == -1)
		return -1;
	if (asprintf(&cmd, "p=%ld; k=\" $(ps -A -o pid= -o ppid= -o pgid="
	    " 2>/dev/null | awk -v r=\"$p\" '{ pp[$1] = $2; if ($3 == r)"
	    " s[$1] = 1 } END { s[r] = 1; do { c = 0; for (x in pp) if"
	    " (!(x in s) && (pp[x] in s)) { s[x] = 1; c = 1 } } while (c);"
	    " for (x in s) printf \"%%s \", x }') \"; i=0; while :; do"
	    " n=$(ps -A -o pid= -o stat= 2>/dev/null | awk -v l=\"$k\""
	    " '$2 !~ /^Z/ && index(l, \" \" $1 \" \") { n++ } END { print"
	    " n + 0 }'); [ \"$n\" = 0 ] || [ $i -ge 40 ] && break; sleep"
	    " 0.1; i=$((i + 1)); done; echo \"left $n\"", d->pid) == -1)
		fatal(NULL);
	if ((pr = calloc(1, sizeof(*pr))) == NULL)
		fatal(NULL);
	if ((pr->ch = sshconn_exec(d->host, cmd, err, sizeof(err))) ==
	    NULL) {
		log_warnx("delegation %u: host \"%s\": cannot run the"
		    " kill check: %s", d->id, d->hostname, err);
		free(cmd);
		free(pr);
		return -1;
	}
	free(cmd);
	pr->d = d;
	d->probe = pr;
	ssh_callbacks_init(&pr->cb);
	pr->cb.userdata = pr;
	pr->cb.channel_data_function = probe_data;
	pr->cb.channel_close_function = probe_closecb;
	ssh_set_channel_callbacks(pr->ch, &pr->cb);
	evtimer_set(&pr->ev_proc, probe_proc, pr);
	evtimer_set(&pr->ev_timeout, probe_timeout, pr);
	evtimer_add(&pr->ev_timeout, &tv);
	d->host->st.channels++;
	(void)ssh_channel_send_eof(pr->ch);
	return 0;
}

static void
probe_free(struct dprobe *pr)
{
	struct deleg	*d = pr->d;

	evtimer_del(&pr->ev_proc);
	evtimer_del(&pr->ev_timeout);
	if (pr->ch != NULL) {
		ssh_remove_channel_callbacks(pr->ch, &pr->cb);
		ssh_channel_free(pr->ch);
		if (d->host != NULL && d->host->st.channels > 0)
			d->host->st.channels--;
	}
	d->probe = NULL;
	free(pr);
}

static int
probe_data(ssh_session s, ssh_channel ch, void *data, uint32_t len,
    int is_stderr, void *arg)
{
	struct dprobe	*pr = arg;
	size_t		 n = len;

	if (is_stderr)
		return len;
	if (n > sizeof(pr->out) - 1 - pr->outlen)
		n = sizeof(pr->out) - 1 - pr->outlen;
	memcpy(pr->out + pr->outlen, data, n);
	pr->outlen += n;
	pr->out[pr->outlen] = '\0';
	return len;
}

static void
probe_closecb(ssh_session s, ssh_channel ch, void *arg)
{
	struct dprobe	*pr = arg;
	struct timeval	 tv = { 0, 0 };

	pr->closed = 1;
	evtimer_add(&pr->ev_proc, &tv);
}

static void
probe_proc(int fd, short event, void *arg)
{
	struct dprobe	*pr = arg;
	struct deleg	*d = pr->d;
	const char	*errstr;
	char		*p, *e;

	if ((p = strstr(pr->out, "left ")) != NULL) {
		p += 5;
		if ((e = strchr(p, '\n')) != NULL)
			*e = '\0';
		d->left = strtonum(p, 0, INT_MAX, &errstr);
		if (errstr != NULL)
			d->left = -1;
	}
	probe_free(pr);
	deleg_killed(d);
}

static void
probe_timeout(int fd, short event, void *arg)
{
	struct dprobe	*pr = arg;
	struct deleg	*d = pr->d;

	log_warnx("delegation %u: host \"%s\": the kill did not report back"
	    " in %d s", d->id, d->hostname, DELEG_KILL_WAIT);
	probe_free(pr);
	d->left = -1;
	deleg_killed(d);
}

/* ---- the outcome ------------------------------------------------------ */

static void
deleg_finish(struct deleg *d)
{
	struct timespec	 now;
	struct dwait	*w;

	evtimer_del(&d->ev_timeout);
	evtimer_del(&d->ev_progress);
	clock_gettime(CLOCK_MONOTONIC, &now);
	d->duration_ms = (now.tv_sec - d->t0.tv_sec) * 1000LL +
	    (now.tv_nsec - d->t0.tv_nsec) / 1000000;
	d->ended = time(NULL);
	deleg_outcome(d);
	/* the host may leave the configuration; only its name is kept */
	d->host = NULL;
	log_info("delegation %u%s%s on host \"%s\": %s after %lld ms",
	    d->id, d->job_id[0] ? " " : "", d->job_id, d->hostname,
	    state_name(d->state), d->duration_ms);
	deleg_record(d, "end");
	deleg_answer(d);
	while ((w = TAILQ_FIRST(&d->waiters)) != NULL)
		dwait_answer(w);
	/* a foreground result went to its caller; keep only the record */
	if (d->job_id[0] == '\0') {
		json_decref(d->result);
		d->result = NULL;
	}
	sb_free(&d->out);
}

/* d->result and d->structured from what claude printed and how it ended */
static void
deleg_outcome(struct deleg *d)
{
	struct sbuf	 t = { 0 };
	json_t		*o = NULL, *v, *e, *st, *dms, *turns;
	const char	*subtype = NULL, *answer = NULL;
	size_t		 alen = 0, i;
	int		 iserror, exitst;
	char		 where[HOST_NAME_LEN + 16], cost[32], dur[32];

	snprintf(where, sizeof(where), "host \"%s\"", d->hostname);
	exitst = d->exitsignal[0] == '\0' ? d->exitstatus : -1;

	if (d->state == D_TIMEOUT || d->state == D_CANCELLED ||
	    d->state == D_KILLED) {
		sb_printf(&t, "%s: claude on %s was %s after %lld s",
		    d->state == D_TIMEOUT ? "timed out" :
		    d->state == D_CANCELLED ? "cancelled" : "killed",
		    where, d->state == D_TIMEOUT ? "stopped at its timeout" :
		    d->state == D_CANCELLED ? "stopped on request" :
		    "stopped by job_cancel or bridgectl",
		    d->duration_ms / 1000);
		if (d->state == D_TIMEOUT)
			sb_printf(&t, " (timeout %d s)", d->timeout);
		if (d->left == 0)
			sb_str(&t, "; its process group was killed and no"
			    " process of it is left");
		else if (d->left > 0)
			sb_printf(&t, "; its process group was killed but %d"
			    " process%s still alive: check the host", d->left,
			    d->left == 1 ? " is" : "es are");
		else
			sb_str(&t, "; the channel was closed but whether its"
			    " processes are gone could not be checked");
		goto error;
	}
	if (d->state == D_LOST) {
		sb_printf(&t, "the connection to %s was lost while claude ran;"
		    " its outcome is unknown and it may still be running"
		    " there", where);
		goto error;
	}

	if (d->outtotal > DELEG_STDOUT_MAX) {
		sb_printf(&t, "claude on %s printed %zu bytes, more than the"
		    " %d bytes a result may have; nothing was parsed (exit"
		    " status %d)", where, d->outtotal, DELEG_STDOUT_MAX,
		    exitst);
		goto error;
	}
	o = parse_output(d->out.p ? d->out.p : "", d->out.len);
	if (o == NULL) {
		if (exitst == 127)
			sb_printf(&t, "claude was not found on %s (exit status"
			    " 127): install it, or give its path in"
			    " bridged.conf: delegate { claude"
			    " \"/path/to/claude\" } in the host block (line"
			    " %d); stderr: ", where, d->host && d->host->conf ?
			    d->host->conf->line : 0);
		else if (exitst == CWD_OUTSIDE)
			sb_printf(&t, "ask_claude refused on %s: the working"
			    " directory resolves (through a symlink) outside"
			    " base dir \"%s\" (bridged.conf line %d); nothing"
			    " ran; stderr: ", where, d->host && d->host->conf ?
			    d->host->conf->base_dir : "?", d->host &&
			    d->host->conf ? d->host->conf->base_dir_line : 0);
		else if (exitst == CD_FAILED)
			sb_printf(&t, "claude did not start on %s (exit status"
			    " %d: the working directory cannot be entered, or"
			    " claude is not executable); stderr: ", where,
			    exitst);
		else if (d->exitsignal[0] != '\0')
			sb_printf(&t, "claude on %s was killed by signal %s"
			    " without printing a result; stderr: ", where,
			    d->exitsignal);
		else if (d->out.len == 0)
			sb_printf(&t, "claude on %s printed no result (exit"
			    " status %d); stderr: ", where, exitst);
		else
			sb_printf(&t, "claude on %s did not print a JSON"
			    " result (exit status %d; is it Claude Code, and"
			    " does it support --output-format json?);"
			    " stderr: ", where, exitst);
		text_tail(&t, d->err, d->errlen);
		goto error;
	}

	/* the result object; fields we do not know are ignored */
	if (json_is_string(v = json_object_get(o, "subtype")))
		subtype = json_string_value(v);
	if (json_is_string(v = json_object_get(o, "result"))) {
		answer = json_string_value(v);
		alen = json_string_length(v);
	}
	if (json_is_string(v = json_object_get(o, "session_id")))
		strlcpy(d->session_id, json_string_value(v),
		    sizeof(d->session_id));
	if (json_is_number(v = json_object_get(o, "total_cost_usd"))) {
		d->cost = json_number_value(v);
		d->has_cost = 1;
	}
	iserror = json_is_true(json_object_get(o, "is_error")) ||
	    (subtype != NULL && strncmp(subtype, "error", 5) == 0);

	dms = json_object_get(o, "duration_ms");
	turns = json_object_get(o, "num_turns");
	st = json_pack("{s:o, s:o, s:o, s:o, s:o, s:b, s:o, s:o}",
	    "result", answer ? json_stringn(answer, alen) : json_null(),
	    "session_id", d->session_id[0] ? json_string(d->session_id) :
	    json_null(),
	    "total_cost_usd", d->has_cost ? json_real(d->cost) : json_null(),
	    "duration_ms", json_is_number(dms) ?
	    json_integer((json_int_t)json_number_value(dms)) : json_null(),
	    "num_turns", json_is_number(turns) ?
	    json_integer((json_int_t)json_number_value(turns)) : json_null(),
	    "is_error", iserror,
	    "subtype", subtype ? json_string(subtype) : json_null(),
	    "exit_status", exitst >= 0 ? json_integer(exitst) : json_null());
	if (st == NULL)
		fatalx("%s: json_pack", __func__);
	if (d->job_id[0] != '\0')
		json_object_set_new(st, "job_id", json_string(d->job_id));

	if (iserror) {
		sb_printf(&t, "claude on %s reported an error (%s, exit status"
		    " %d): ", where, subtype ? subtype : "no subtype", exitst);
		if (answer != NULL && alen > 0)
			sb_add(&t, answer, utf8_cut(answer, alen, 2000));
		else if (json_is_array(e = json_object_get(o, "errors")) &&
		    json_array_size(e) > 0) {
			json_array_foreach(e, i, v) {
				if (i > 0)
					sb_str(&t, "; ");
				if (json_is_string(v))
					sb_str(&t, json_string_value(v));
				else if (json_is_string(json_object_get(v,
				    "message")))
					sb_str(&t, json_string_value(
					    json_object_get(v, "message")));
			}
		} else {
			sb_str(&t, "no message; stderr: ");
			text_tail(&t, d->err, d->errlen);
		}
		d->state = D_ERROR;
	} else {
		if (answer != NULL && alen > DELEG_ANSWER_MAX) {
			for (i = DELEG_ANSWER_MAX; i > 0 &&
			    (answer[i] & 0xc0) == 0x80; i--)
				;
			sb_add(&t, answer, i);
			sb_printf(&t, "\n[the answer was cut: %zu bytes in"
			    " all]", alen);
			json_object_set_new(st, "result",
			    json_string(t.p));
		} else if (answer != NULL)
			sb_add(&t, answer, alen);
		d->state = D_DONE;
	}
	if (d->has_cost)
		snprintf(cost, sizeof(cost), "$%.4f", d->cost);
	else
		strlcpy(cost, "unknown", sizeof(cost));
	if (json_is_integer(v = json_object_get(st, "duration_ms")))
		snprintf(dur, sizeof(dur), "%lld ms",
		    (long long)json_integer_value(v));
	else
		snprintf(dur, sizeof(dur), "%lld ms (ours)", d->duration_ms);
	sb_printf(&t, "\n\n[session_id: %s, cost: %s, duration: %s]",
	    d->session_id[0] ? d->session_id : "none", cost, dur);

	d->structured = st;
	d->result = json_pack("{s:[{s:s, s:s%}], s:O, s:b}", "content",
	    "type", "text", "text", t.p, t.len, "structuredContent", st,
	    "isError", iserror);
	if (d->result == NULL)
		d->result = text_result(1, "claude's answer could not be"
		    " encoded");
	sb_free(&t);
	json_decref(o);
	return;

 error:
	if (d->state == D_RUNNING)
		d->state = D_ERROR;
	d->result = text_result(1, t.p ? t.p : "claude failed");
	sb_free(&t);
	json_decref(o);
}

/* a foreground call gets the result itself */
static void
deleg_answer(struct deleg *d)
{
	struct sshcall	*call = d->call;

	if (call == NULL)
		return;
	d->call = NULL;
	call->state = NULL;
	call->cancel = NULL;
	sshcall_result(call, json_deep_copy(d->result));
}

/* an audit record of the start and the end, through the logger */
static void
deleg_record(struct deleg *d, const char *what)
{
	json_t	*r;
	char	*s;

	r = json_pack("{s:s, s:s, s:I, s:s?, s:s, s:I, s:s}",
	    "type", "delegation", "event", what, "id", (json_int_t)d->id,
	    "job_id", d->job_id[0] ? d->job_id : NULL, "host", d->hostname,
	    "session", (json_int_t)d->sessid, "task", d->task ? d->task : "");
	if (r == NULL)
		return;
	if (strcmp(what, "end") == 0) {
		json_object_set_new(r, "outcome",
		    json_string(state_name(d->state)));
		json_object_set_new(r, "duration_ms",
		    json_integer(d->duration_ms));
		if (d->session_id[0])
			json_object_set_new(r, "claude_session_id",
			    json_string(d->session_id));
		if (d->has_cost)
			json_object_set_new(r, "total_cost_usd",
			    json_real(d->cost));
		if (d->exitstatus >= 0)
			json_object_set_new(r, "exit_status",
			    json_integer(d->exitstatus));
		if (d->left >= 0)
			json_object_set_new(r, "processes_left",
			    json_integer(d->left));
	} else
		json_object_set_new(r, "timeout", json_integer(d->timeout));
	if ((s = json_dumps(r, JSON_COMPACT)) != NULL) {
		if (ssh_compose(PROC_LOGGER, IMSG_LOG_RECORD, 0, -1, s,
		    strlen(s)) == -1)
			log_debug("delegation %u: no logger for the record",
			    d->id);
		free(s);
	}
	json_decref(r);
}

/* ---- retention ---------------------------------------------------------- */

static void
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

static void
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
			    state_name(d->state));
		return;
	}
	r = job_status_result(d);
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
static json_t *
job_status_result(struct deleg *d)
{
	struct sbuf	 t = { 0 };
	json_t		*r, *st, *res = NULL, *content;
	int		 iserror = 0;

	st = deleg_json(d);
	if (d->state <= D_KILLING) {
		sb_printf(&t, "%s on host \"%s\": %s for %lld s (timeout %d"
		    " s); task: %s", d->job_id, d->hostname,
		    state_name(d->state), elapsed_ms(d) / 1000, d->timeout,
		    d->task);
		r = text_result(0, t.p);
		json_object_set_new(r, "structuredContent", st);
		sb_free(&t);
		return r;
	}
	sb_printf(&t, "%s on host \"%s\": %s after %lld s\n\n", d->job_id,
	    d->hostname, state_name(d->state), d->duration_ms / 1000);
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
		r = text_result(1, "the job's result could not be encoded");
	return r;
}

/* one delegation for job_list and bridgectl */
static json_t *
deleg_json(struct deleg *d)
{
	json_t	*o;

	o = json_pack("{s:I, s:o, s:s, s:o, s:s, s:I, s:I, s:o, s:s, s:I}",
	    "id", (json_int_t)d->id,
	    "job_id", d->job_id[0] ? json_string(d->job_id) : json_null(),
	    "host", d->hostname,
	    "session_id", d->session_id[0] ? json_string(d->session_id) :
	    json_null(),
	    "state", state_name(d->state),
	    "started", (json_int_t)d->started,
	    "duration_ms", (json_int_t)elapsed_ms(d),
	    "total_cost_usd", d->has_cost ? json_real(d->cost) : json_null(),
	    "task", d->task ? d->task : "",
	    "mcp_session", (json_int_t)d->sessid);
	if (o == NULL)
		fatalx("%s: json_pack", __func__);
	return o;
}

static int
job_arg(struct sshcall *call, struct deleg **dp)
{
	const char	*id;
	char		 err[ERRSZ], shown[48];

	if (!args_object(call))
		return -1;
	if (arg_str(call->args, "job_id", 1, &id, err) == -1) {
		sshcall_text(call, 1, "%s: %s", call->tool, err);
		return -1;
	}
	if ((*dp = deleg_byjob(id)) == NULL) {
		strlcpy(shown, id, sizeof(shown));
		shown[utf8_cut(shown, strlen(shown), 40)] = '\0';
		sshcall_text(call, 1, "%s: no job \"%s\": it never existed or"
		    " its result was dropped after the job retention time; see"
		    " job_list", call->tool, shown);
		return -1;
	}
	return 0;
}

/* the job's host must still allow delegate */
static int
job_allowed(struct sshcall *call, struct deleg *d)
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

	if (job_arg(call, &d) == -1 || job_allowed(call, d) == -1)
		return;
	sshcall_result(call, job_status_result(d));
}

void
delegate_job_wait(struct sshcall *call)
{
	struct deleg	*d;
	long long	 secs;
	char		 err[ERRSZ];

	if (job_arg(call, &d) == -1 || job_allowed(call, d) == -1)
		return;
	if (arg_int(call->args, "timeout", 1, JOB_WAIT_MAX, JOB_WAIT_DEF,
	    &secs, err) == -1) {
		sshcall_text(call, 1, "job_wait: %s (seconds)", err);
		return;
	}
	if (d->state > D_KILLING) {
		sshcall_result(call, job_status_result(d));
		return;
	}
	(void)dwait_new(d, W_STATUS, call, 0, (int)secs);
}

void
delegate_job_cancel(struct sshcall *call)
{
	struct deleg	*d;

	if (job_arg(call, &d) == -1 || job_allowed(call, d) == -1)
		return;
	if (d->state > D_KILLING) {
		sshcall_text(call, 1, "job_cancel: %s is not running: %s",
		    d->job_id, state_name(d->state));
		return;
	}
	(void)dwait_new(d, W_CANCEL, call, 0, 0);
	log_info("delegation %u %s: cancelled by job_cancel", d->id,
	    d->job_id);
	deleg_kill(d, D_KILLED);
}

void
delegate_job_list(struct sshcall *call)
{
	struct sbuf	 t = { 0 };
	struct deleg	*d;
	json_t		*arr, *r;
	int		 n = 0;

	if (!args_object(call))
		return;
	if ((arr = json_array()) == NULL)
		fatal(NULL);
	TAILQ_FOREACH(d, &delegs, entry) {
		if (d->job_id[0] == '\0')
			continue;
		json_array_append_new(arr, deleg_json(d));
		sb_printf(&t, "%s  host %s  %s  %lld s  %s\n", d->job_id,
		    d->hostname, state_name(d->state), elapsed_ms(d) / 1000,
		    d->task);
		n++;
	}
	if (n == 0)
		sb_str(&t, "no jobs\n");
	r = json_pack("{s:[{s:s, s:s%}], s:{s:o}}", "content", "type", "text",
	    "text", t.p, t.len, "structuredContent", "jobs", arr);
	sb_free(&t);
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
		    state_name(d->state));
		return;
	}
	(void)dwait_new(d, W_CTL, NULL, peerid, 0);
	log_info("delegation %u: killed by bridgectl", d->id);
	deleg_kill(d, D_KILLED);
}

/* ---- the connection ends ------------------------------------------------- */

/* called while the session still exists: channels are freed on it */
/* the worker is going away: kill every claude still running */
int
delegate_shutdown(void)
{
	struct deleg	*d;
	int		 n = 0;

	TAILQ_FOREACH(d, &delegs, entry)
		if (d->state == D_RUNNING && !d->closed && d->havepid &&
		    d->pid != 0 && d->host != NULL) {
			(void)kill_tree(d->host, d->pid, 1);
			(void)kill_group(d->host, d->pid, 1);
			n++;
		}
	return n;
}

void
delegate_host_lost(struct sshhost *host)
{
	struct deleg	*d, *next;

	TAILQ_FOREACH_SAFE(d, &delegs, entry, next) {
		if (d->host != host)
			continue;
		if (d->probe != NULL)
			probe_free(d->probe);
		deleg_dropchannel(d);
		d->host = NULL;
		if (d->state == D_RUNNING) {
			d->state = D_LOST;
			deleg_finish(d);
		} else if (d->state == D_KILLING) {
			d->left = -1;
			deleg_killed(d);
		}
	}
}
