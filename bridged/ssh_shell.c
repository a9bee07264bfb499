/*
 * ssh_shell.c: Bash, in a persistent shell.
 *
 * Each (MCP session, host) pair has one persistent shell: an exec channel
 * running bash (sh where there is no bash) that reads commands on its
 * stdin, so cd and export persist between calls.  The commands reach it
 * through the watchdog (ssh_killtree.c), a cat that copies them from the
 * channel and kills the session's process group when the channel's stdin
 * ends: when the channel closes, or sshd goes with the connection or the
 * worker, whatever the shell is running goes too.  How a command is
 * framed, and what the set-up tells and learns, is ssh_shproto.c's: the
 * command is done when its marker line has arrived on both stdout and
 * stderr; what came before it on each stream is its output, to the byte.
 *
 * Channel data is delivered by libssh callbacks (ssh_conn.c drives libssh
 * from libevent); the callbacks only buffer and note what happened, and
 * the work that calls libssh again (answering, sending the next command,
 * freeing channels) runs from a zero timeout, outside libssh.
 *
 * A timeout or a cancellation kills the command's processes: every
 * descendant of the shell, found with ps(1) over a second exec channel,
 * is stopped and then killed (ssh_killtree.c).  If the marker still does not
 * arrive (the command was a shell loop), the shell itself is killed and
 * the next command gets a fresh shell and a warning.
 *
 * Background commands (run_in_background) are ssh_bgjob.c's.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <errno.h>
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
#include "ssh_files.h"
#include "ssh_shell.h"
#include "ssh_shellint.h"

#define BASH_TIMEOUT_DEF	120000		/* ms */
#define SHELL_GRACE_MS		1500	/* after the kill, wait for M */
#define SHELL_EXIT_GRACE_MS	2000	/* after the exit, for its output */
struct shell {
	TAILQ_ENTRY(shell)	 entry;
	uint32_t		 sessid;
	struct sshhost		*host;
	struct sshconn		*conn;		/* where ch is */
	struct sshopen		*opening;	/* the pool is opening ch */
	ssh_channel		 ch;		/* NULL: none (died) */
	struct ssh_channel_callbacks_struct cb;
	long			 pid;		/* remote $$, 0 unknown */
	long			 pgid;		/* its session's group, 0 unknown */
	int			 gone;		/* exited or closed */
	int			 exited;	/* its status came: send nothing */
	enum shform		 form;		/* commands go in it */
	int			 exitstatus;
	char			 exitsignal[32];
	int			 reset;		/* warn: state was lost */
	int			 reset_lost;	/* ... with the connection */
	char			 cwd[PATH_MAX];
	TAILQ_HEAD(, cmd)	 cmds;		/* first: running */
	struct event		 ev_proc;
	struct event		 ev_exit;	/* exited: wait for its output */
};


static struct shell *shell_find(uint32_t, struct sshhost *);
static struct shell *shell_start(uint32_t, struct sshhost *);
static void	 shell_opened(void *, ssh_channel, struct sshconn *,
		    const char *);
static void	 shell_dropchannel(struct shell *);
static void	 shell_free(struct shell *, const char *);
static void	 shell_sched(struct shell *);
static void	 shell_proc(int, short, void *);
static void	 shell_send(struct shell *);
static void	 shell_died(struct shell *, const char *);
static int	 shell_data(ssh_session, ssh_channel, void *, uint32_t, int,
		    void *);
static void	 shell_close(ssh_session, ssh_channel, void *);
static void	 shell_exit_status(ssh_session, ssh_channel, int, void *);
static void	 shell_exited(struct shell *);
static void	 shell_exit_grace(int, short, void *);
static void	 shell_exit_signal(ssh_session, ssh_channel, const char *, int,
		    const char *, const char *, void *);
static struct cmd *cmd_new(struct shell *, struct sshcall *, const char *,
		    int, int);
static void	 cmd_free(struct cmd *);
static int	 cmd_finish(struct cmd *);
static void	 cmd_died(struct cmd *, const char *);
static void	 cmd_warn(struct cmd *);
static void	 cmd_fail(struct cmd *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static void	 cmd_timeout(int, short, void *);
static void	 cmd_grace(int, short, void *);
static void	 cmd_kill(struct cmd *, enum cmd_kill);
static void	 bash_cancel(struct sshcall *);
static long long ms_now(void);
static void	 cmd_progress(int, short, void *);

static TAILQ_HEAD(, shell)	 shells = TAILQ_HEAD_INITIALIZER(shells);

/* ---- small pieces ---------------------------------------------------- */

static long long
ms_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* ---- Bash ------------------------------------------------------------ */

void
shell_bash(struct sshcall *call)
{
	struct shell	*sh;
	struct cmd	*c;
	const char	*command;
	char		 err[ERRSZ];
	int		 bad = 0, ms, bg;

	command = arg_optstr(call->args, "command", &bad);
	if (bad || command == NULL) {
		sshcall_text(call, 1, "command must be a string");
		return;
	}
	if (command[0] == '\0' || strspn(command, " \t\r\n") ==
	    strlen(command)) {
		sshcall_text(call, 1, "command is empty");
		return;
	}
	if (strlen(command) != json_string_length(json_object_get(call->args,
	    "command"))) {
		sshcall_text(call, 1, "command contains a NUL byte");
		return;
	}
	(void)arg_optstr(call->args, "description", &bad);
	if (bad) {
		sshcall_text(call, 1, "description must be a string");
		return;
	}
	if (arg_ms(call->args, "timeout", BASH_TIMEOUT_DEF, BASH_TIMEOUT_MAX,
	    &ms, err) == -1 || arg_bool(call->args, "run_in_background", 0,
	    &bg, err) == -1) {
		sshcall_text(call, 1, "%s", err);
		return;
	}
	/* the frontend checked the capability; so do we */
	if (call->host->conf == NULL ||
	    (call->host->conf->caps & CAP_EXEC) == 0) {
		sshcall_text(call, 1, "host \"%s\" does not allow exec",
		    call->host->name);
		return;
	}
	/* what a dead worker left on the host goes first */
	files_sweep(call, 0);
	if (bg) {
		bgjob_start(call, command);
		return;
	}

	/* a new shell is opened for us; the command waits its turn */
	if ((sh = shell_find(call->sessid, call->host)) == NULL ||
	    (sh->ch == NULL && sh->opening == NULL))
		sh = shell_start(call->sessid, call->host);
	c = cmd_new(sh, call, command, ms, 0);
	if (sh->reset) {
		sh->reset = 0;
		cmd_warn(c);
	}
	shell_send(sh);
}

static struct shell *
shell_find(uint32_t sessid, struct sshhost *host)
{
	struct shell	*sh;

	TAILQ_FOREACH(sh, &shells, entry)
		if (sh->sessid == sessid && sh->host == host)
			return sh;
	return NULL;
}

/*
 * Ask the pool for the shell's channel, on a connection with room: it
 * may have to wait for one, or for a new connection (ssh_pool.c).  The
 * commands queue meanwhile; each one's own time limit bounds the wait.
 * The record of a shell that died is reused, with its queue.
 */
static struct shell *
shell_start(uint32_t sessid, struct sshhost *host)
{
	struct shell	*sh;
	struct sbuf	 exec = { 0 };

	if ((sh = shell_find(sessid, host)) == NULL) {
		if ((sh = calloc(1, sizeof(*sh))) == NULL)
			fatal(NULL);
		sh->sessid = sessid;
		sh->host = host;
		TAILQ_INIT(&sh->cmds);
		evtimer_set(&sh->ev_proc, shell_proc, sh);
		evtimer_set(&sh->ev_exit, shell_exit_grace, sh);
		TAILQ_INSERT_TAIL(&shells, sh, entry);
	}
	sh->ch = NULL;
	sh->conn = NULL;
	sh->pid = 0;
	sh->pgid = 0;
	sh->gone = 0;
	sh->exited = 0;
	sh->exitstatus = -1;
	sh->exitsignal[0] = '\0';
	strlcpy(sh->cwd, host->conf->base_dir, sizeof(sh->cwd));
	memset(&sh->cb, 0, sizeof(sh->cb));
	ssh_callbacks_init(&sh->cb);
	sh->cb.userdata = sh;
	sh->cb.channel_data_function = shell_data;
	sh->cb.channel_close_function = shell_close;
	sh->cb.channel_exit_status_function = shell_exit_status;
	sh->cb.channel_exit_signal_function = shell_exit_signal;
	shproto_exec(&exec);
	sh->opening = sshconn_open(host, NULL, exec.p, &sh->cb, 0, 0,
	    shell_opened, sh);
	sb_free(&exec);
	return sh;
}

/*
 * The pool's answer.  The set-up command (learn $$, enter the base dir)
 * goes first in the queue, bounded by the time left to the command
 * that waits longest for it, not by a clock of its own: a loaded host
 * may take a while to start a shell.
 */
static void
shell_opened(void *arg, ssh_channel ch, struct sshconn *conn,
    const char *why)
{
	struct shell	*sh = arg;
	struct sshhost	*host = sh->host;
	struct sbuf	 setup = { 0 };
	struct cmd	*c, *next;
	long long	 left = 0, now = ms_now();
	char		 err[ERRSZ];

	sh->opening = NULL;
	if (ch == NULL) {
		snprintf(err, sizeof(err), "host \"%s\": cannot start a"
		    " shell: %s", host->name, why);
		if (!sh->reset) {
			shell_free(sh, err);
			return;
		}
		TAILQ_FOREACH_SAFE(c, &sh->cmds, entry, next)
			cmd_fail(c, "%s", err);
		return;
	}
	sh->ch = ch;
	sh->conn = conn;
	TAILQ_FOREACH(c, &sh->cmds, entry)
		if (c->deadline - now > left)
			left = c->deadline - now;
	if (left < 1000)
		left = 1000;
	shproto_setup(&setup, host->conf->base_dir);
	(void)cmd_new(sh, NULL, setup.p, left > BASH_TIMEOUT_MAX ?
	    BASH_TIMEOUT_MAX : (int)left, 1);
	sb_free(&setup);
	/* it may have ended before we were told it started */
	if (sh->gone)
		shell_sched(sh);
	shell_send(sh);
}

/* stop using the channel; the shell record and its queue stay */
static void
shell_dropchannel(struct shell *sh)
{
	if (sh->opening != NULL) {
		sshconn_open_cancel(sh->opening);
		sh->opening = NULL;
	}
	if (sh->ch != NULL) {
		sshconn_chclose(sh->conn, sh->ch, &sh->cb, 1);
		sh->ch = NULL;
		sh->conn = NULL;
	}
	/* the next shell defines its own */
	sh->form = SHFORM_PLAIN;
	evtimer_del(&sh->ev_proc);
	evtimer_del(&sh->ev_exit);
}

static void
shell_free(struct shell *sh, const char *why)
{
	struct cmd	*c;

	shell_dropchannel(sh);
	while ((c = TAILQ_FIRST(&sh->cmds)) != NULL)
		cmd_fail(c, "%s", why);
	TAILQ_REMOVE(&shells, sh, entry);
	free(sh);
}

static struct cmd *
cmd_new(struct shell *sh, struct sshcall *call, const char *command, int ms,
    int first)
{
	struct cmd	*c;
	struct timeval	 tv;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal(NULL);
	c->sh = sh;
	c->call = call;
	c->timeout_ms = ms;
	c->deadline = ms_now() + ms;
	c->status = -1;
	shproto_marker(c->marker);
	if ((c->command = strdup(command)) == NULL)
		fatal(NULL);
	obuf_init(&c->out, ssh_output_max());
	obuf_init(&c->err, ssh_output_max());
	evtimer_set(&c->ev_timeout, cmd_timeout, c);
	evtimer_set(&c->ev_grace, cmd_grace, c);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(&c->ev_timeout, &tv);
	if (call != NULL && (call->flags & CALL_PROGRESS)) {
		evtimer_set(&c->ev_progress, cmd_progress, c);
		tv.tv_sec = SSH_PROGRESS_MS / 1000;
		tv.tv_usec = (SSH_PROGRESS_MS % 1000) * 1000;
		evtimer_add(&c->ev_progress, &tv);
		c->progress_set = 1;
	}
	if (first)
		TAILQ_INSERT_HEAD(&sh->cmds, c, entry);
	else
		TAILQ_INSERT_TAIL(&sh->cmds, c, entry);
	if (call != NULL) {
		call->state = c;
		call->cancel = bash_cancel;
	}
	return c;
}

static void
cmd_free(struct cmd *c)
{
	struct shell	*sh = c->sh;

	evtimer_del(&c->ev_timeout);
	if (c->grace_set)
		evtimer_del(&c->ev_grace);
	if (c->progress_set)
		evtimer_del(&c->ev_progress);
	TAILQ_REMOVE(&sh->cmds, c, entry);
	/* nobody is left to wait for the shell being opened */
	if (TAILQ_EMPTY(&sh->cmds) && sh->opening != NULL) {
		sshconn_open_cancel(sh->opening);
		sh->opening = NULL;
	}
	if (c->call != NULL) {
		c->call->state = NULL;
		c->call->cancel = NULL;
	}
	obuf_free(&c->out);
	obuf_free(&c->err);
	free(c->command);
	free(c);
}

/* answer a command with an error text and drop it */
static void
cmd_fail(struct cmd *c, const char *fmt, ...)
{
	struct sshcall	*call = c->call;
	va_list		 ap;
	char		*msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatal(NULL);
	va_end(ap);
	cmd_free(c);
	if (call != NULL)
		sshcall_text(call, 1, "%s", msg);
	free(msg);
}

/* send the first command if it has not been sent */
static void
shell_send(struct shell *sh)
{
	struct cmd	*c;
	struct sbuf	 line = { 0 };
	size_t		 off;
	int		 n;

	if (sh->ch == NULL || sh->gone || sh->exited ||
	    (c = TAILQ_FIRST(&sh->cmds)) == NULL || c->sent)
		return;
	c->sent = 1;
	/* built now: the shell it goes to decides its form */
	shproto_command(&line, c->command, c->marker, c->call != NULL ?
	    sh->form : SHFORM_PLAIN);
	for (off = 0; off < line.len; off += n) {
		n = ssh_channel_write(sh->ch, line.p + off, line.len - off);
		if (n == SSH_ERROR || n <= 0) {
			sb_free(&line);
			if (sshconn_check(sh->conn))
				return;		/* sh is gone with it */
			shell_died(sh, "cannot write to the shell");
			return;
		}
	}
	sb_free(&line);
}

static int
shell_data(ssh_session s, ssh_channel ch, void *data, uint32_t len,
    int is_stderr, void *arg)
{
	struct shell	*sh = arg;
	struct cmd	*c = TAILQ_FIRST(&sh->cmds);

	/* between commands: output of something the shell left running */
	if (c == NULL || !c->sent)
		return len;
	obuf_add(is_stderr ? &c->err : &c->out, data, len);
	if (c->outdone && c->errdone)
		return len;
	cmd_scan(c);
	if (c->outdone && c->errdone)
		shell_sched(sh);
	return len;
}

static void
shell_close(ssh_session s, ssh_channel ch, void *arg)
{
	struct shell	*sh = arg;

	sh->gone = 1;
	shell_sched(sh);
}

/*
 * sshd may send the exit status before the last of the shell's output
 * (it reports the child's exit at once, and drains the pipes after):
 * the shell is gone when the channel closes, or SHELL_EXIT_GRACE_MS
 * after the status when something the shell started still holds its
 * output open and the close would never come.
 */
static void
shell_exited(struct shell *sh)
{
	struct timeval	 tv = { SHELL_EXIT_GRACE_MS / 1000,
	    (SHELL_EXIT_GRACE_MS % 1000) * 1000 };

	sh->exited = 1;
	if (!evtimer_pending(&sh->ev_exit, NULL))
		evtimer_add(&sh->ev_exit, &tv);
}

static void
shell_exit_grace(int fd, short event, void *arg)
{
	struct shell	*sh = arg;

	sh->gone = 1;
	shell_sched(sh);
}

static void
shell_exit_status(ssh_session s, ssh_channel ch, int status, void *arg)
{
	struct shell	*sh = arg;

	sh->exitstatus = status;
	shell_exited(sh);
}

static void
shell_exit_signal(ssh_session s, ssh_channel ch, const char *sig, int core,
    const char *msg, const char *lang, void *arg)
{
	struct shell	*sh = arg;

	strlcpy(sh->exitsignal, sig ? sig : "?", sizeof(sh->exitsignal));
	shell_exited(sh);
}

static void
shell_sched(struct shell *sh)
{
	struct timeval	 tv = { 0, 0 };

	evtimer_add(&sh->ev_proc, &tv);
}

/* outside libssh: finish what is done, notice a dead shell, send more */
static void
shell_proc(int fd, short event, void *arg)
{
	struct shell	*sh = arg;
	struct cmd	*c;
	char		 why[128];

	while ((c = TAILQ_FIRST(&sh->cmds)) != NULL && c->sent &&
	    c->outdone && c->errdone) {
		if (cmd_finish(c) == -1)
			return;		/* the set-up failed, sh is gone */
	}
	if (sh->ch != NULL && sh->gone) {
		if (sh->exitsignal[0] != '\0')
			snprintf(why, sizeof(why), "the shell was killed by"
			    " signal %s", sh->exitsignal);
		else if (sh->exitstatus != -1)
			snprintf(why, sizeof(why), "the shell exited with"
			    " status %d", sh->exitstatus);
		else
			snprintf(why, sizeof(why), "the shell exited");
		shell_died(sh, why);
		return;
	}
	shell_send(sh);
}

/*
 * The shell is gone (exit in a command, killed after a timeout): the
 * running command is answered; queued ones go to a fresh shell, with the
 * warning that the shell's state was reset.
 */
static void
shell_died(struct shell *sh, const char *why)
{
	struct sshhost	*host = sh->host;
	struct cmd	*c;
	char		 err[ERRSZ];

	shell_dropchannel(sh);
	if ((c = TAILQ_FIRST(&sh->cmds)) != NULL && c->sent) {
		if (c->call == NULL) {
			/* the set-up failed: nothing can run here */
			snprintf(err, sizeof(err), "host \"%s\": the shell did"
			    " not start: %s", host->name, why);
			shell_free(sh, err);
			return;
		}
		cmd_died(c, why);
	}
	sh->reset = 1;
	sh->reset_lost = 0;
	if (TAILQ_EMPTY(&sh->cmds))
		return;
	TAILQ_FOREACH(c, &sh->cmds, entry)
		cmd_warn(c);
	sh->reset = 0;
	(void)shell_start(sh->sessid, host);
}

static void
cmd_warn(struct cmd *c)
{
	if (c->call == NULL || c->call->warning[0] != '\0')
		return;
	if (c->sh->reset_lost)
		snprintf(c->call->warning, sizeof(c->call->warning),
		    "warning: the connection to host \"%s\" was lost and"
		    " re-made; shell state (cwd, environment) was reset",
		    c->sh->host->name);
	else
		snprintf(c->call->warning, sizeof(c->call->warning),
		    "warning: the previous shell on host \"%s\" ended; this"
		    " command runs in a new shell: shell state (cwd,"
		    " environment) was reset", c->sh->host->name);
}

/*
 * The running command's shell went away under it: "exit 3" in a command
 * is not an error (its status is reported), anything else is.
 */
static void
cmd_died(struct cmd *c, const char *why)
{
	struct sshcall	*call = c->call;
	struct shell	*sh = c->sh;
	char		 note[512];
	int		 iserr = 1;

	if (!c->outdone)
		c->outlen = c->out.total;
	if (!c->errdone)
		c->errlen = c->err.total;
	if (c->kill != KILL_NONE && c->outdone != c->errdone)
		/*
		 * The command ended on one stream and not the other: sh
		 * (not bash) prints its markers on the shell's own stdout
		 * and stderr, which exec 2>&1 or exec >/dev/null moves.
		 */
		snprintf(note, sizeof(note), "%s; %s; the command's %s ended "
		    "but not its %s: did it move the shell's own (exec 2>&1, "
		    "exec >/dev/null)? The next command starts a new shell "
		    "(cwd, environment reset)", c->kill == KILL_TIMEOUT ?
		    "timed out" : "cancelled", why, c->outdone ? "stdout" :
		    "stderr", c->outdone ? "stderr" : "stdout");
	else if (c->kill != KILL_NONE)
		snprintf(note, sizeof(note), "%s; %s; the next command starts"
		    " a new shell (cwd, environment reset)",
		    c->kill == KILL_TIMEOUT ? "timed out" : "cancelled", why);
	else if (sh->exitstatus >= 0 && sh->exitsignal[0] == '\0') {
		snprintf(note, sizeof(note), "exit status: %d\n(the command"
		    " ended the shell; the next command starts a new shell:"
		    " cwd and environment are reset)", sh->exitstatus);
		iserr = 0;
	} else
		snprintf(note, sizeof(note), "%s; the next command starts a"
		    " new shell (cwd, environment reset)", why);
	c->call = NULL;
	call->state = NULL;
	call->cancel = NULL;
	sshcall_result(call, cmd_result(c, call, note, iserr));
	cmd_free(c);
}

/* both markers are in: answer; -1 when the set-up failed (sh freed) */
static int
cmd_finish(struct cmd *c)
{
	struct shell	*sh = c->sh;
	struct sshcall	*call = c->call;
	char		 note[256], *msg;
	size_t		 n;
	int		 iserr = 0;

	if (c->cwd[0] != '\0')
		strlcpy(sh->cwd, c->cwd, sizeof(sh->cwd));
	else if (c->cwdlost)
		sh->cwd[0] = '\0';	/* the other tools' default dir then */
	if (call == NULL) {
		/* the set-up: stdout is our pid and our process group */
		c->out.head[c->out.headlen < c->outlen ? c->out.headlen :
		    c->outlen] = '\0';
		sh->form = shproto_learn(c->out.head, &sh->pid, &sh->pgid);
		if (c->status != 0) {
			n = c->err.headlen < c->errlen ? c->err.headlen :
			    c->errlen;
			if (asprintf(&msg, "host \"%s\": cannot enter base dir"
			    " %s: %.*s", sh->host->name,
			    sh->host->conf->base_dir, (int)n,
			    c->err.head) == -1)
				fatal(NULL);
			msg[strcspn(msg, "\n")] = '\0';
			cmd_free(c);
			shell_free(sh, msg);
			free(msg);
			return -1;
		}
		cmd_free(c);
		return 0;
	}
	note[0] = '\0';
	if (c->kill == KILL_TIMEOUT) {
		snprintf(note, sizeof(note), "timed out after %d ms; the"
		    " command's processes were killed (exit status %d)",
		    c->timeout_ms, c->status);
		iserr = 1;
	} else if (c->kill == KILL_CANCEL) {
		snprintf(note, sizeof(note), "cancelled; the command's"
		    " processes were killed (exit status %d)", c->status);
		iserr = 1;
	}
	c->call = NULL;
	call->state = NULL;
	call->cancel = NULL;
	sshcall_result(call, cmd_result(c, call, note[0] ? note : NULL,
	    iserr));
	cmd_free(c);
	return 0;
}

/*
 * Once a second while the command runs: how long, and how much output,
 * for a client that asked for progress.  The seconds only grow, as
 * notifications/progress needs.
 */
static void
cmd_progress(int fd, short event, void *arg)
{
	struct cmd	*c = arg;
	struct timeval	 tv = { SSH_PROGRESS_MS / 1000,
			    (SSH_PROGRESS_MS % 1000) * 1000 };
	char		 msg[160];
	double		 secs;

	if (c->call == NULL)
		return;
	secs = (ms_now() - (c->call->t0.tv_sec * 1000LL +
	    c->call->t0.tv_nsec / 1000000)) / 1000.0;
	snprintf(msg, sizeof(msg), "Bash: %s for %.0f s, %zu bytes of "
	    "output so far", c->sent ? "running" : "waiting for the shell",
	    secs, c->out.total + c->err.total);
	sshcall_progress(c->call, secs, 0, msg);
	evtimer_add(&c->ev_progress, &tv);
}

static void
cmd_timeout(int fd, short event, void *arg)
{
	struct cmd	*c = arg;
	struct shell	*sh = c->sh;
	struct cmd	*first = TAILQ_FIRST(&sh->cmds);
	char		 why[1024];

	if (!c->sent) {
		if (sh->ch == NULL && sh->opening != NULL)
			cmd_fail(c, "timed out after %d ms waiting for a"
			    " shell: %s", c->timeout_ms,
			    sshconn_open_why(sh->opening, why, sizeof(why)));
		else if (first != NULL && first->call == NULL)
			cmd_fail(c, "timed out after %d ms: the new shell on"
			    " host \"%s\" did not start in time",
			    c->timeout_ms, sh->host->name);
		else
			cmd_fail(c, "timed out after %d ms while waiting for"
			    " the shell's previous command to finish",
			    c->timeout_ms);
		return;
	}
	cmd_kill(c, KILL_TIMEOUT);
}

static void
bash_cancel(struct sshcall *call)
{
	struct cmd	*c = call->state;

	if (c == NULL)
		return;
	if (!c->sent) {
		cmd_fail(c, "cancelled");
		return;
	}
	cmd_kill(c, KILL_CANCEL);
}

/*
 * Stop a running command: kill every descendant of the shell, then wait
 * a little for the marker, which proves the shell survived.
 */
static void
cmd_kill(struct cmd *c, enum cmd_kill why)
{
	struct shell	*sh = c->sh;
	struct timeval	 tv = { SHELL_GRACE_MS / 1000,
			    (SHELL_GRACE_MS % 1000) * 1000 };

	if (c->kill != KILL_NONE)
		return;
	c->kill = why;
	if (c->call == NULL || sh->pid == 0) {
		/* the set-up hangs, or we never learnt the pid */
		cmd_grace(-1, 0, c);
		return;
	}
	if (kill_tree(sh->host, sh->pid, 0) == -1) {
		cmd_grace(-1, 0, c);
		return;
	}
	evtimer_add(&c->ev_grace, &tv);
	c->grace_set = 1;
}

/* the marker did not come after the kill: the shell itself must go */
static void
cmd_grace(int fd, short event, void *arg)
{
	struct cmd	*c = arg;
	struct shell	*sh = c->sh;

	c->grace_set = 0;
	if (sh->pid != 0)
		(void)kill_tree(sh->host, sh->pid, 1);
	shell_died(sh, "the shell did not come back and was killed");
}
/* where the session's shell is, for a background command to start in */
const char *
shell_cwd(uint32_t sessid, struct sshhost *host)
{
	struct shell	*sh;

	if ((sh = shell_find(sessid, host)) != NULL && sh->cwd[0] != '\0')
		return sh->cwd;
	return NULL;
}

/* ---- session and connection ends --------------------------------------- */

/* the MCP session is gone: kill its shells and background commands */
void
shell_session_end(uint32_t sessid)
{
	struct shell	*sh, *nsh;

	TAILQ_FOREACH_SAFE(sh, &shells, entry, nsh) {
		if (sh->sessid != sessid)
			continue;
		/*
		 * The shell's process group goes at once, atomically, so a
		 * fork racing the kill cannot escape; the tree walk catches
		 * what left the group.  Closing the channel would set off
		 * the watchdog too, but only for the group.
		 */
		if (sh->ch != NULL && sh->pid != 0) {
			(void)kill_group(sh->host, sh->pgid, 0);
			(void)kill_tree(sh->host, sh->pid, 1);
		}
		shell_free(sh, "the MCP session ended");
	}
	bgjob_session_end(sessid);
}

/*
 * The worker is going away: what it started on the hosts goes with it.
 * Returns how many kills were sent; their channels need the event loop
 * for a moment more.
 */
int
shell_shutdown(void)
{
	struct shell	*sh;
	int		 n = 0;

	while ((sh = TAILQ_FIRST(&shells)) != NULL) {
		if (sh->ch != NULL && sh->pid != 0)
			n++;
		shell_session_end(sh->sessid);
	}
	return n + bgjob_shutdown() + files_shutdown();
}

int
shell_kills_pending(void)
{
	return kill_pending();
}

/*
 * A connection died (or is being closed): its shells and what they
 * ran go with it; the next command of each session gets a new shell and
 * the warning that its state was reset.  Shells on the host's other
 * connections go on.  conn NULL: the host is gone, and every shell.
 */
void
shell_conn_lost(struct sshhost *host, struct sshconn *conn)
{
	struct shell	*sh, *nsh;
	struct cmd	*c;
	char		 why[256];

	snprintf(why, sizeof(why), "the connection to host \"%s\" was lost"
	    " while the command ran; its outcome is unknown", host->name);
	TAILQ_FOREACH_SAFE(sh, &shells, entry, nsh) {
		if (sh->host != host)
			continue;
		if (conn == NULL) {
			shell_free(sh, why);
			continue;
		}
		if (sh->conn != conn)
			continue;
		shell_dropchannel(sh);
		while ((c = TAILQ_FIRST(&sh->cmds)) != NULL)
			cmd_fail(c, "%s", why);
		sh->reset = 1;
		sh->reset_lost = 1;
	}
	bgjob_conn_lost(host, conn);
	kill_conn_lost(host, conn);
	files_conn_lost(host, conn);
}
