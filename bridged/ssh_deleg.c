/*
 * ssh_deleg.c: ask_claude in the ssh worker: the checks, the command line,
 * running claude and following it to its end.
 *
 * A delegation runs Claude Code headless on a host over its own exec
 * channel:
 *
 *	printf '%s\n' "$$"; cd -- 'CWD' || exit 126;
 *	b=$(cd -- 'BASE' && pwd -P) || exit 125;
 *	case "$(pwd -P)/" in "$b"/...) ;; *) exit 125;; esac;
 *	{ (FEED; WATCHDOG) <&3 ... & } 3<&0 |
 *	exec 'CLAUDE' -p --output-format json [--resume 'UUID']
 *	    [--max-turns N] [--permission-mode 'M'] [--allowedTools 'T' ...]
 *	    [--dangerously-skip-permissions]
 *
 * Every word comes from the configuration or is a number or UUID we
 * checked, and goes through shquote(); the task and its context go on
 * the channel's stdin, never on the command line.  The stdin stays open
 * for the watchdog (ssh_killtree.c), which kills the delegation when
 * the channel, the connection or the worker goes: so the prompt is not
 * ended by EOF but by its length, FEED is head -c N (not POSIX, but in
 * GNU, BSD, macOS and busybox; awk and sed may wait for more input than
 * a pipe holds, mawk does) and claude's stdin closes after N bytes.
 * sshd makes each session its own session and process group, so the pid
 * printed first is also the group id: a timeout, a cancellation,
 * job_cancel or bridgectl kill delegation kills that group and every
 * descendant of the pid (a child may have left the group) with the shell
 * tools' kill commands (ssh_killtree.c), and then checks on the host that
 * none of them is left.
 *
 * Standard output is collected up to DELEG_STDOUT_MAX and parsed as the
 * one JSON result object of --output-format json; standard error keeps
 * its last DELEG_STDERR_TAIL bytes for error messages.
 *
 * A delegation started with background: true is a job (ssh_delegjob.c):
 * it belongs to the daemon, not to the MCP session that started it.
 * Foreground delegations are answered on their call.  The kill and its
 * check are ssh_delegkill.c's; making the result is ssh_delegresult.c's.
 *
 * Channel callbacks only buffer and note; the work that calls libssh
 * again (freeing channels, answering) runs from a zero timeout.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <ctype.h>
#include <limits.h>
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
#include "ssh_files.h"
#include "ssh_shell.h"
#include "ssh_deleg.h"

#define DELEG_PROGRESS_SECS	5
#define DELEG_PID_WAIT		10	/* seconds: a kill waits for the pid */
#define DELEG_TASK_SHOWN	80	/* characters of the task shown */
#define MAX_TURNS_MAX		10000

static struct deleg *deleg_new(struct sshcall *, int);
static void	 deleg_sched(struct deleg *);
static void	 deleg_proc(int, short, void *);
static void	 deleg_timeout(int, short, void *);
static void	 deleg_progress(int, short, void *);
static void	 deleg_finish(struct deleg *);
static void	 deleg_answer(struct deleg *);
static void	 deleg_note(struct deleg *, enum jobnote_event);
static void	 deleg_record(struct deleg *, const char *);
static int	 deleg_running(struct sshhost *);
static int	 deleg_data(ssh_session, ssh_channel, void *, uint32_t, int,
		    void *);
static void	 deleg_closecb(ssh_session, ssh_channel, void *);
static void	 deleg_exit_status(ssh_session, ssh_channel, int, void *);
static void	 deleg_exit_signal(ssh_session, ssh_channel, const char *,
		    int, const char *, const char *, void *);
static void	 ask_cancel(struct sshcall *);
static void	 ask_started(void *, ssh_channel, struct sshconn *,
		    const char *);
static void	 ask_start_cancel(struct sshcall *);

static int	 uuid_ok(const char *);
static int	 cwd_check(struct host *, const char *, char *, size_t,
		    char *, size_t);
static char	*task_line(const char *);
static void	 tail_add(char *, size_t *, size_t, const char *, size_t);

static uint32_t			 deleg_seq;

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

/*
 * The first line of the task, secrets redacted (before it is cut, so
 * that no part of one is left), cut to DELEG_TASK_SHOWN characters: what
 * the records, job_list and bridgectl show of a delegation.
 */
static char *
task_line(const char *task)
{
	struct sbuf	 sb = { 0 };
	char		*red;
	size_t		 n, cut, rn;

	while (*task == '\n' || *task == '\r' || *task == ' ' ||
	    *task == '\t')
		task++;
	n = strcspn(task, "\r\n");
	if ((red = policy_redact(task, n)) == NULL)
		fatal(NULL);
	rn = strlen(red);
	cut = utf8_cut(red, rn, DELEG_TASK_SHOWN);
	utf8_clean(&sb, red, cut, 0);
	if (cut < rn || task[n] != '\0')
		sb_str(&sb, "...");
	if (sb.p == NULL)
		sb_str(&sb, "");
	free(red);
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

/* milliseconds since it started */
long long
deleg_ms(const struct deleg *d)
{
	struct timespec	 now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - d->t0.tv_sec) * 1000LL +
	    (now.tv_nsec - d->t0.tv_nsec) / 1000000;
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
	struct sbuf		 cmd = { 0 }, prompt = { 0 }, in = { 0 };
	struct delegbc		*bc;
	const char		*task, *context, *resume, *cwdarg;
	char			 err[ERRSZ], cwd[PATH_MAX], feed[64];
	long long		 timeout, maxturns;
	int			 bg, running;

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
	/* the back-channel the frontend gave this run (ssh_delegbc.c) */
	if (delegbc_new(call, resume, &bc, err, sizeof(err)) == -1) {
		sshcall_text(call, 1, "ask_claude: %s; nothing was run", err);
		return;
	}

	/* the command line: config, checked numbers and a UUID only */
	sb_str(&cmd, "printf '%s\\n' \"$$\"; ");
	/* stdin: the --mcp-config file's bytes first, then the prompt */
	if (bc != NULL) {
		delegbc_json(&in, bc);
		delegbc_cmd_file(&cmd, bc);
	}
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
	/* the prompt: the task, then the context under a heading */
	sb_str(&prompt, task);
	if (context != NULL && *context != '\0') {
		sb_str(&prompt, "\n\n## Context\n\n");
		sb_str(&prompt, context);
	}
	if (bc != NULL)
		delegbc_prompt(&prompt, bc);

	/* claude reads the prompt's bytes; then the watchdog reads on */
	snprintf(feed, sizeof(feed), "head -c %zu", prompt.len);
	watchdog_pipe(&cmd, feed);
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
	if (bc != NULL)
		delegbc_cmd_args(&cmd, bc);
	if (!TAILQ_EMPTY(&dc->allowed_tools) || bc != NULL) {
		sb_str(&cmd, " --allowedTools");
		TAILQ_FOREACH(se, &dc->allowed_tools, entry) {
			sb_str(&cmd, " ");
			shquote(&cmd, se->s);
		}
		if (bc != NULL)
			delegbc_allowed(&cmd, bc);
	}
	if (dc->skip_permissions)
		sb_str(&cmd, " --dangerously-skip-permissions");

	d = deleg_new(call, bg);
	d->bg = bg;
	d->timeout = timeout;
	d->task = task_line(task);
	/* d frees it; the back-channel file's bytes go first */
	if (bc != NULL) {
		sb_add(&in, prompt.p, prompt.len);
		explicit_bzero(prompt.p, prompt.len);
		sb_free(&prompt);
		d->prompt = in;
		d->bc = bc;
		delegbc_started(d);
	} else
		d->prompt = prompt;
	/* what a dead worker left on the host goes first (not d's file) */
	files_sweep(call, 0);
	ssh_callbacks_init(&d->cb);
	d->cb.userdata = d;
	d->cb.channel_data_function = deleg_data;
	d->cb.channel_close_function = deleg_closecb;
	d->cb.channel_exit_status_function = deleg_exit_status;
	d->cb.channel_exit_signal_function = deleg_exit_signal;
	log_debug("delegation on host \"%s\": %s", host->name, cmd.p);
	/* a channel of its own, when the pool has one (ssh_pool.c) */
	call->state = d;
	call->cancel = ask_start_cancel;
	d->opening = sshconn_open(host, NULL, cmd.p, &d->cb,
	    sshcall_ms_left(call), 0, ask_started, d);
	sb_free(&cmd);
}

/* cancelled while waiting for a channel: nothing ran */
static void
ask_start_cancel(struct sshcall *call)
{
	struct deleg	*d = call->state;

	call->state = NULL;
	call->cancel = NULL;
	d->call = NULL;
	explicit_bzero(d->prompt.p, d->prompt.len);
	sb_free(&d->prompt);
	deleg_free(d);
	sshcall_text(call, 1, "ask_claude: cancelled before claude started;"
	    " nothing was run");
}

/* claude runs (or could not be started): the prompt goes to its stdin */
static void
ask_started(void *arg, ssh_channel ch, struct sshconn *conn,
    const char *why)
{
	struct deleg	*d = arg;
	struct sshcall	*call = d->call;
	struct sshhost	*host = d->host;
	struct timeval	 tv;
	uint32_t	 connid;
	size_t		 off;
	int		 n, bg = d->bg;

	d->opening = NULL;
	if (ch == NULL) {
		call->state = NULL;
		call->cancel = NULL;
		d->call = NULL;
		explicit_bzero(d->prompt.p, d->prompt.len);
		sb_free(&d->prompt);
		deleg_free(d);
		sshcall_text(call, 1, "host \"%s\": cannot start claude: %s",
		    host->name, why);
		return;
	}
	d->ch = ch;
	d->conn = conn;
	connid = conn->id;
	call->cancel = NULL;

	/*
	 * A blocking write; libssh keeps processing the other channels'
	 * packets meanwhile.  A claude that exits before reading it all
	 * (not found, say) makes it fail: its exit status tells why.
	 */
	for (off = 0; off < d->prompt.len; off += n) {
		n = ssh_channel_write(ch, d->prompt.p + off,
		    d->prompt.len - off);
		if (n == SSH_ERROR || n <= 0)
			break;
	}
	explicit_bzero(d->prompt.p, d->prompt.len);
	sb_free(&d->prompt);
	if ((conn = sshconn_byid(connid)) == NULL || sshconn_check(conn))
		return;		/* delegate_conn_lost answered */
	/* no EOF: the prompt ends by its length, stdin is the watchdog's */
	if (d->closed)
		deleg_sched(d);

	deleg_record(d, "start");
	deleg_note(d, JOBNOTE_START);
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
	d->id = ssh_newid(&deleg_seq);
	/* unique across restarts: the audit database keeps old job ids */
	if (bg)
		snprintf(d->job_id, sizeof(d->job_id), "job_%u_%08x", d->id,
		    arc4random());
	d->host = call->host;
	strlcpy(d->hostname, call->host->name, sizeof(d->hostname));
	d->sessid = call->sessid;
	d->uid = call->uid;
	d->has_uid = 1;
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

void
deleg_dropchannel(struct deleg *d)
{
	if (d->opening != NULL) {
		sshconn_open_cancel(d->opening);
		d->opening = NULL;
	}
	if (d->ch == NULL)
		return;
	sshconn_chclose(d->conn, d->ch, &d->cb, 1);
	d->ch = NULL;
	d->conn = NULL;
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
		if (d->pidwait)
			deleg_sched(d);
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

	/* a kill that waited for the pid: now it can name the group */
	if (d->pidwait && (d->havepid || d->closed)) {
		d->pidwait = 0;
		evtimer_del(&d->ev_timeout);
		if (!d->havepid || d->pid == 0 || d->host == NULL ||
		    dprobe_start(d) == -1) {
			deleg_dropchannel(d);
			d->left = -1;
			deleg_killed(d);
			return;
		}
	}
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

	if (d->pidwait) {
		/* the pid never came: hanging up is all we can do */
		log_warnx("delegation %u: host \"%s\": no pid to kill in %d"
		    " s", d->id, d->hostname, DELEG_PID_WAIT);
		d->pidwait = 0;
		deleg_dropchannel(d);
		d->left = -1;
		deleg_killed(d);
		return;
	}
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
	long long	 secs = deleg_elapsed_ms(d) / 1000;

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
 * A host slow to start the command may not have sent the pid yet: the
 * kill waits for it, DELEG_PID_WAIT at most.
 */
void
deleg_kill(struct deleg *d, enum deleg_state why)
{
	struct timeval	 tv = { DELEG_PID_WAIT, 0 };

	/* ended by itself meanwhile: deleg_proc has its real outcome */
	if (d->state != D_RUNNING || d->closed)
		return;
	d->state = D_KILLING;
	d->killwhy = why;
	evtimer_del(&d->ev_timeout);
	evtimer_del(&d->ev_progress);
	if (!d->havepid && d->ch != NULL && d->host != NULL) {
		d->pidwait = 1;
		evtimer_add(&d->ev_timeout, &tv);
		return;
	}
	if (!d->havepid || d->pid == 0 || d->host == NULL ||
	    dprobe_start(d) == -1) {
		/* no group to name: hanging up is all we can do */
		deleg_dropchannel(d);
		d->left = -1;
		deleg_killed(d);
	}
}

void
deleg_killed(struct deleg *d)
{
	d->pidwait = 0;
	deleg_dropchannel(d);
	d->state = d->killwhy;
	deleg_finish(d);
}

/* ---- the end ---------------------------------------------------------- */

static void
deleg_finish(struct deleg *d)
{
	struct dwait	*w;

	evtimer_del(&d->ev_timeout);
	evtimer_del(&d->ev_progress);
	d->duration_ms = deleg_ms(d);
	d->ended = time(NULL);
	deleg_outcome(d);
	/* its token and the file that holds it go with the run */
	delegbc_end(d, d->host, 1);
	/* the host may leave the configuration; only its name is kept */
	d->host = NULL;
	log_info("delegation %u%s%s on host \"%s\": %s after %lld ms",
	    d->id, d->job_id[0] ? " " : "", d->job_id, d->hostname,
	    deleg_state_name(d->state), d->duration_ms);
	deleg_record(d, "end");
	deleg_note(d, JOBNOTE_END);
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

/* a job's start and end to the frontend, which outlives us (fe_jobs.c) */
static void
deleg_note(struct deleg *d, enum jobnote_event ev)
{
	struct ssh_jobnote	 n;

	if (d->job_id[0] == '\0')
		return;
	memset(&n, 0, sizeof(n));
	n.kind = JOBNOTE_DELEG;
	n.event = ev;
	n.sessid = d->sessid;
	n.uid = d->uid;
	n.has_uid = d->has_uid;
	n.deleg = d->id;
	n.timeout = d->timeout;
	n.started = d->started;
	strlcpy(n.id, d->job_id, sizeof(n.id));
	if (ev == JOBNOTE_END)
		strlcpy(n.status, deleg_state_name(d->state),
		    sizeof(n.status));
	jobnote_send(&n, ev == JOBNOTE_START ? d->task : NULL);
}

/* an audit record of the start and the end, through the logger */
static void
deleg_record(struct deleg *d, const char *what)
{
	json_t	*r;

	r = json_pack("{s:s, s:s, s:I, s:s?, s:s, s:I, s:s}",
	    "type", "delegation", "event", what, "id", (json_int_t)d->id,
	    "job_id", d->job_id[0] ? d->job_id : NULL, "host", d->hostname,
	    "session", (json_int_t)d->sessid, "task", d->task ? d->task : "");
	if (r == NULL)
		return;
	if (d->has_uid)
		json_object_set_new(r, "uid", json_integer(d->uid));
	if (strcmp(what, "end") == 0) {
		json_object_set_new(r, "outcome",
		    json_string(deleg_state_name(d->state)));
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
		/* times, turns; a job's whole result (ssh_delegdb.c) */
		delegdb_end_fields(d, r);
	} else
		json_object_set_new(r, "timeout", json_integer(d->timeout));
	delegdb_record(r);
	json_decref(r);
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

/* a connection died (conn NULL: the host is gone): so did its claudes */
void
delegate_conn_lost(struct sshhost *host, struct sshconn *conn)
{
	struct deleg	*d, *next;
	struct sshcall	*call;

	TAILQ_FOREACH_SAFE(d, &delegs, entry, next) {
		if (d->host != host)
			continue;
		if (d->opening != NULL) {
			/* not started yet: on a lost connection, its open fails */
			if (conn != NULL || (call = d->call) == NULL)
				continue;
			call->state = NULL;
			call->cancel = NULL;
			d->call = NULL;
			explicit_bzero(d->prompt.p, d->prompt.len);
			sb_free(&d->prompt);
			deleg_free(d);
			sshcall_text(call, 1, "host \"%s\" was removed from the"
			    " configuration; claude was not started",
			    host->name);
			continue;
		}
		if (conn != NULL && d->conn != conn)
			continue;
		if (d->probe != NULL)
			dprobe_free(d->probe);
		deleg_dropchannel(d);
		/* the file goes over another connection, if there is one */
		delegbc_end(d, conn != NULL ? host : NULL, 1);
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
