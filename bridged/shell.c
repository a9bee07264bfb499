/*
 * shell.c: Bash, BashOutput/TaskOutput and KillShell/TaskStop.
 *
 * Each (MCP session, host) pair has one persistent shell: an exec channel
 * running bash (sh where there is no bash) that reads commands on its
 * stdin, so cd and export persist between calls.  A command is sent as
 *
 *	eval 'COMMAND' </dev/null; printf '\n%s %d %s %s\n' M "$?" "$PWD" M;
 *	printf '\n%s\n' M >&2
 *
 * with the command single-quoted by sh_quote() and M a fresh random
 * 32-hex-digit marker: the command cannot know M, so nothing it prints
 * can end its own output early.  The command is done when the marker
 * line has arrived on both stdout and stderr; the stdout line also
 * carries the exit status and the working directory.
 *
 * Channel data is delivered by libssh callbacks (sshconn.c drives libssh
 * from libevent); the callbacks only buffer and note what happened, and
 * the work that calls libssh again (answering, sending the next command,
 * freeing channels) runs from a zero timeout, outside libssh.
 *
 * A timeout or a cancellation kills the command's processes: every
 * descendant of the shell, found with ps(1) over a second exec channel,
 * is stopped and then killed.  If the marker still does not arrive (the
 * command was a shell loop), the shell itself is killed and the next
 * command gets a fresh shell and a warning.
 *
 * Background commands each get their own exec channel: sshd makes every
 * session its own process group, whose id is the pid printed first, and
 * KillShell kills that group.  Their output is buffered here until read.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <errno.h>
#include <limits.h>
#include <regex.h>
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

#define BASH_TIMEOUT_DEF	120000		/* ms */
#define BASH_TIMEOUT_MAX	600000		/* ms */
#define SHELL_GRACE_MS		3000	/* after the kill, wait for M */
#define MARKER_LEN		32
#define WIN_MAX			(2 * (PATH_MAX + 256))
#define JOB_BUF_MAX		(1024 * 1024)	/* unread output kept */
#define JOBS_MAX		64		/* per session */
#define TASK_WAIT_DEF		30000		/* ms, TaskOutput block */
#define KILL_WAIT_MS		3000
#define SETUP_TIMEOUT		10000		/* ms */

/* which shell runs commands: bash without start files, else sh */
#define SHELL_EXEC	"command -v bash >/dev/null 2>&1 &&" \
			" exec bash --noprofile --norc; exec sh"

/* output of one stream: the head that is shown, a window for markers */
struct obuf {
	char		*head;
	size_t		 headlen;
	size_t		 cap;
	size_t		 total;
	char		*win;		/* the last WIN_MAX bytes */
	size_t		 winlen;
};

enum cmd_kill {
	KILL_NONE = 0,
	KILL_TIMEOUT,
	KILL_CANCEL,
};

struct shell;

struct cmd {
	TAILQ_ENTRY(cmd)	 entry;
	struct shell		*sh;
	struct sshcall		*call;		/* NULL: the shell's setup */
	char			 marker[MARKER_LEN + 1];
	char			*line;		/* what is sent */
	int			 sent;
	int			 timeout_ms;
	struct obuf		 out;
	struct obuf		 err;
	int			 outdone;
	int			 errdone;
	size_t			 outlen;	/* bytes before the marker */
	size_t			 errlen;
	int			 status;
	char			 cwd[PATH_MAX];
	enum cmd_kill		 kill;
	struct event		 ev_timeout;
	struct event		 ev_grace;
	int			 grace_set;
};

struct shell {
	TAILQ_ENTRY(shell)	 entry;
	uint32_t		 sessid;
	struct sshhost		*host;
	ssh_channel		 ch;		/* NULL: none (died) */
	struct ssh_channel_callbacks_struct cb;
	long			 pid;		/* remote $$, 0 unknown */
	int			 gone;		/* exited or closed */
	int			 exitstatus;
	char			 exitsignal[32];
	int			 reset;		/* warn: state was lost */
	char			 cwd[PATH_MAX];
	TAILQ_HEAD(, cmd)	 cmds;		/* first: running */
	struct event		 ev_proc;
};

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
	struct sshhost		*host;
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

/* a one-shot command whose output nobody reads (kill) */
struct aux {
	TAILQ_ENTRY(aux)	 entry;
	struct sshhost		*host;
	ssh_channel		 ch;
	struct ssh_channel_callbacks_struct cb;
	int			 closed;
	struct event		 ev_proc;
};

static char	*sh_quote(const char *);
static void	 obuf_init(struct obuf *, size_t);
static void	 obuf_add(struct obuf *, const char *, size_t);
static void	 obuf_free(struct obuf *);
static char	*utf8_clean(const char *, size_t, size_t *);
static void	 text_add(char **, size_t *, const char *, size_t);
static void	 text_addf(char **, size_t *, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static int	 arg_timeout(struct sshcall *, const char *, int, int, int *);
static int	 arg_bool(struct sshcall *, const char *, int, int *);
static const char *arg_str(struct sshcall *, const char *, int *);

static struct shell *shell_find(uint32_t, struct sshhost *);
static struct shell *shell_start(uint32_t, struct sshhost *, char *, size_t);
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
static void	 shell_exit_signal(ssh_session, ssh_channel, const char *, int,
		    const char *, const char *, void *);
static struct cmd *cmd_new(struct shell *, struct sshcall *, const char *,
		    int, int);
static void	 cmd_free(struct cmd *);
static void	 cmd_scan(struct cmd *);
static int	 cmd_finish(struct cmd *);
static void	 cmd_died(struct cmd *, const char *);
static void	 cmd_warn(struct cmd *);
static void	 cmd_fail(struct cmd *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static void	 cmd_timeout(int, short, void *);
static void	 cmd_grace(int, short, void *);
static void	 cmd_kill(struct cmd *, enum cmd_kill);
static void	 bash_cancel(struct sshcall *);
static json_t	*cmd_result(struct cmd *, const char *, int);
static void	 marker_new(char *);

static int	 kill_tree(struct sshhost *, long, int);
static int	 aux_run(struct sshhost *, const char *);
static int	 aux_data(ssh_session, ssh_channel, void *, uint32_t, int,
		    void *);
static void	 aux_close(ssh_session, ssh_channel, void *);
static void	 aux_proc(int, short, void *);
static void	 aux_free(struct aux *);

static void	 job_start(struct sshcall *, const char *);
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
static void	 job_take(struct jbuf *, regex_t *, char **, size_t *);
static void	 job_answer(struct jobwait *);
static struct jobwait *jobwait_new(struct job *, struct sshcall *, int, int);
static void	 jobwait_free(struct jobwait *);
static void	 jobwait_timeout(int, short, void *);
static void	 jobwait_cancel(struct sshcall *);
static const char *job_idarg(struct sshcall *);

static TAILQ_HEAD(, shell)	 shells = TAILQ_HEAD_INITIALIZER(shells);
static TAILQ_HEAD(, job)	 jobs = TAILQ_HEAD_INITIALIZER(jobs);
static TAILQ_HEAD(, aux)	 auxes = TAILQ_HEAD_INITIALIZER(auxes);
static unsigned int		 job_seq;

/* ---- small pieces ---------------------------------------------------- */

/*
 * The one quoting function for remote shell words: single quotes, in
 * which nothing is special but the single quote itself, written '\''.
 */
static char *
sh_quote(const char *s)
{
	size_t	 n = 2, i;
	char	*q, *p;

	for (i = 0; s[i] != '\0'; i++)
		n += s[i] == '\'' ? 4 : 1;
	if ((q = malloc(n + 1)) == NULL)
		fatal(NULL);
	p = q;
	*p++ = '\'';
	for (; *s != '\0'; s++) {
		if (*s == '\'') {
			memcpy(p, "'\\''", 4);
			p += 4;
		} else
			*p++ = *s;
	}
	*p++ = '\'';
	*p = '\0';
	return q;
}

static void
obuf_init(struct obuf *o, size_t cap)
{
	memset(o, 0, sizeof(*o));
	o->cap = cap;
	if ((o->head = malloc(cap + 1)) == NULL ||
	    (o->win = malloc(WIN_MAX)) == NULL)
		fatal(NULL);
}

/* keep the first cap bytes to show and the last WIN_MAX to find M in */
static void
obuf_add(struct obuf *o, const char *p, size_t n)
{
	size_t	 k, drop;

	o->total += n;
	if (o->headlen < o->cap) {
		k = o->cap - o->headlen < n ? o->cap - o->headlen : n;
		memcpy(o->head + o->headlen, p, k);
		o->headlen += k;
	}
	if (n >= WIN_MAX) {
		memcpy(o->win, p + n - WIN_MAX, WIN_MAX);
		o->winlen = WIN_MAX;
		return;
	}
	if (o->winlen + n > WIN_MAX) {
		drop = o->winlen + n - WIN_MAX;
		memmove(o->win, o->win + drop, o->winlen - drop);
		o->winlen -= drop;
	}
	memcpy(o->win + o->winlen, p, n);
	o->winlen += n;
}

static void
obuf_free(struct obuf *o)
{
	free(o->head);
	free(o->win);
	memset(o, 0, sizeof(*o));
}

/*
 * JSON strings must be UTF-8: invalid bytes (binary output, a cut in the
 * middle of a character) become U+FFFD.
 */
static char *
utf8_clean(const char *s, size_t len, size_t *olen)
{
	const unsigned char	*p = (const unsigned char *)s;
	char			*o;
	size_t			 i = 0, j = 0, n, k;
	unsigned int		 c, min;

	if ((o = malloc(len * 3 + 1)) == NULL)
		fatal(NULL);
	while (i < len) {
		c = p[i];
		if (c < 0x80) {
			o[j++] = c;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			min = 0x80;
			c &= 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			min = 0x800;
			c &= 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			min = 0x10000;
			c &= 0x07;
		} else
			goto bad;
		if (i + n >= len)
			goto bad;
		for (k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				goto bad;
			c = (c << 6) | (p[i + k] & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			goto bad;
		memcpy(o + j, p + i, n + 1);
		j += n + 1;
		i += n + 1;
		continue;
 bad:
		memcpy(o + j, "\xef\xbf\xbd", 3);
		j += 3;
		i++;
	}
	o[j] = '\0';
	*olen = j;
	return o;
}

static void
text_add(char **t, size_t *len, const char *p, size_t n)
{
	char	*nt;

	if ((nt = realloc(*t, *len + n + 1)) == NULL)
		fatal(NULL);
	memcpy(nt + *len, p, n);
	*len += n;
	nt[*len] = '\0';
	*t = nt;
}

static void
text_addf(char **t, size_t *len, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 n;

	va_start(ap, fmt);
	if ((n = vasprintf(&s, fmt, ap)) == -1)
		fatal(NULL);
	va_end(ap);
	text_add(t, len, s, n);
	free(s);
}

/* a milliseconds argument: absent = def, else 1..max */
static int
arg_timeout(struct sshcall *call, const char *name, int def, int max,
    int *ms)
{
	json_t	*v = json_object_get(call->args, name);
	double	 d;

	*ms = def;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_number(v)) {
		sshcall_text(call, 1, "%s must be a number of milliseconds",
		    name);
		return -1;
	}
	d = json_number_value(v);
	if (!(d >= 1 && d <= max)) {
		sshcall_text(call, 1, "%s must be between 1 and %d"
		    " milliseconds", name, max);
		return -1;
	}
	*ms = (int)d;
	return 0;
}

static int
arg_bool(struct sshcall *call, const char *name, int def, int *b)
{
	json_t	*v = json_object_get(call->args, name);

	*b = def;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_boolean(v)) {
		sshcall_text(call, 1, "%s must be true or false", name);
		return -1;
	}
	*b = json_is_true(v);
	return 0;
}

/* a string argument or NULL; *bad set when present but not a string */
static const char *
arg_str(struct sshcall *call, const char *name, int *bad)
{
	json_t	*v = json_object_get(call->args, name);

	if (v == NULL || json_is_null(v))
		return NULL;
	if (!json_is_string(v)) {
		*bad = 1;
		return NULL;
	}
	return json_string_value(v);
}

static void
marker_new(char *m)
{
	unsigned char	 r[MARKER_LEN / 2];
	size_t		 i;

	arc4random_buf(r, sizeof(r));
	for (i = 0; i < sizeof(r); i++)
		snprintf(m + 2 * i, 3, "%02x", r[i]);
}

/* ---- Bash ------------------------------------------------------------ */

void
shell_bash(struct sshcall *call)
{
	struct sshhost	*host;
	struct shell	*sh;
	struct cmd	*c;
	const char	*command;
	char		 err[512];
	int		 bad = 0, ms, bg;

	command = arg_str(call, "command", &bad);
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
	(void)arg_str(call, "description", &bad);
	if (bad) {
		sshcall_text(call, 1, "description must be a string");
		return;
	}
	if (arg_timeout(call, "timeout", BASH_TIMEOUT_DEF, BASH_TIMEOUT_MAX,
	    &ms) == -1 || arg_bool(call, "run_in_background", 0, &bg) == -1)
		return;
	/* the frontend checked the capability; so do we */
	if (call->host->conf == NULL ||
	    (call->host->conf->caps & CAP_EXEC) == 0) {
		sshcall_text(call, 1, "host \"%s\" does not allow exec",
		    call->host->name);
		return;
	}
	if (bg) {
		job_start(call, command);
		return;
	}

	if ((sh = shell_find(call->sessid, call->host)) == NULL ||
	    sh->ch == NULL) {
		if ((sh = shell_start(call->sessid, call->host, err,
		    sizeof(err))) == NULL) {
			host = call->host;
			sshcall_text(call, 1, "%s", err);
			(void)sshconn_check(host);
			return;
		}
	}
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
 * Open the channel and put the set-up command (learn $$, enter the base
 * dir) first in the queue.  The record of a shell that died is reused,
 * with its queue.  On failure nothing changed; the caller answers and
 * then asks sshconn_check() whether the connection is gone.
 */
static struct shell *
shell_start(uint32_t sessid, struct sshhost *host, char *err, size_t errlen)
{
	struct shell	*sh;
	ssh_channel	 ch;
	char		*q, *setup;

	if ((ch = ssh_channel_new(host->session)) == NULL ||
	    ssh_channel_open_session(ch) != SSH_OK ||
	    ssh_channel_request_exec(ch, SHELL_EXEC) != SSH_OK) {
		snprintf(err, errlen, "host \"%s\": cannot start a shell: %s",
		    host->name, ssh_get_error(host->session));
		if (ch != NULL)
			ssh_channel_free(ch);
		return NULL;
	}
	if ((sh = shell_find(sessid, host)) == NULL) {
		if ((sh = calloc(1, sizeof(*sh))) == NULL)
			fatal(NULL);
		sh->sessid = sessid;
		sh->host = host;
		TAILQ_INIT(&sh->cmds);
		evtimer_set(&sh->ev_proc, shell_proc, sh);
		TAILQ_INSERT_TAIL(&shells, sh, entry);
	}
	sh->ch = ch;
	sh->pid = 0;
	sh->gone = 0;
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
	ssh_set_channel_callbacks(ch, &sh->cb);
	host->st.channels++;

	if (host->conf->base_dir[0] != '\0') {
		q = sh_quote(host->conf->base_dir);
		if (asprintf(&setup, "printf '%%s\\n' \"$$\"; cd -- %s", q) ==
		    -1)
			fatal(NULL);
		free(q);
	} else if ((setup = strdup("printf '%s\\n' \"$$\"")) == NULL)
		fatal(NULL);
	(void)cmd_new(sh, NULL, setup, SETUP_TIMEOUT, 1);
	free(setup);
	return sh;
}

/* stop using the channel; the shell record and its queue stay */
static void
shell_dropchannel(struct shell *sh)
{
	if (sh->ch != NULL) {
		ssh_remove_channel_callbacks(sh->ch, &sh->cb);
		ssh_channel_free(sh->ch);
		sh->ch = NULL;
		if (sh->host->st.channels > 0)
			sh->host->st.channels--;
	}
	evtimer_del(&sh->ev_proc);
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
	char		*q;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal(NULL);
	c->sh = sh;
	c->call = call;
	c->timeout_ms = ms;
	c->status = -1;
	marker_new(c->marker);
	q = sh_quote(command);
	if (asprintf(&c->line, "eval %s </dev/null; printf '\\n%%s %%d %%s"
	    " %%s\\n' %s \"$?\" \"$PWD\" %s; printf '\\n%%s\\n' %s >&2\n", q,
	    c->marker, c->marker, c->marker) == -1)
		fatal(NULL);
	free(q);
	obuf_init(&c->out, ssh_output_max());
	obuf_init(&c->err, ssh_output_max());
	evtimer_set(&c->ev_timeout, cmd_timeout, c);
	evtimer_set(&c->ev_grace, cmd_grace, c);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(&c->ev_timeout, &tv);
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
	evtimer_del(&c->ev_timeout);
	if (c->grace_set)
		evtimer_del(&c->ev_grace);
	TAILQ_REMOVE(&c->sh->cmds, c, entry);
	if (c->call != NULL) {
		c->call->state = NULL;
		c->call->cancel = NULL;
	}
	obuf_free(&c->out);
	obuf_free(&c->err);
	free(c->line);
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
	struct sshhost	*host = sh->host;
	struct cmd	*c;
	size_t		 off, len;
	int		 n;

	if (sh->ch == NULL || sh->gone || (c = TAILQ_FIRST(&sh->cmds)) ==
	    NULL || c->sent)
		return;
	c->sent = 1;
	len = strlen(c->line);
	for (off = 0; off < len; off += n) {
		n = ssh_channel_write(sh->ch, c->line + off, len - off);
		if (n == SSH_ERROR || n <= 0) {
			if (sshconn_check(host))
				return;		/* sh is gone with it */
			shell_died(sh, "cannot write to the shell");
			return;
		}
	}
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

static void
shell_exit_status(ssh_session s, ssh_channel ch, int status, void *arg)
{
	struct shell	*sh = arg;

	sh->exitstatus = status;
	sh->gone = 1;
	shell_sched(sh);
}

static void
shell_exit_signal(ssh_session s, ssh_channel ch, const char *sig, int core,
    const char *msg, const char *lang, void *arg)
{
	struct shell	*sh = arg;

	strlcpy(sh->exitsignal, sig ? sig : "?", sizeof(sh->exitsignal));
	sh->gone = 1;
	shell_sched(sh);
}

/* find the markers: "\nM STATUS PWD M\n" on stdout, "\nM\n" on stderr */
static void
cmd_scan(struct cmd *c)
{
	char		 pat[MARKER_LEN + 3], *p, *e, *end, *sp;
	const char	*errstr;

	if (!c->outdone && c->out.winlen > 0) {
		pat[0] = '\n';
		memcpy(pat + 1, c->marker, MARKER_LEN);
		pat[MARKER_LEN + 1] = ' ';
		p = memmem(c->out.win, c->out.winlen, pat, MARKER_LEN + 2);
		end = c->out.win + c->out.winlen;
		pat[0] = ' ';
		pat[MARKER_LEN + 1] = '\n';
		if (p != NULL && (e = memmem(p + MARKER_LEN + 2, end - (p +
		    MARKER_LEN + 2), pat, MARKER_LEN + 2)) != NULL) {
			c->outlen = c->out.total - c->out.winlen +
			    (p - c->out.win);
			*e = '\0';
			p += MARKER_LEN + 2;
			if ((sp = strchr(p, ' ')) != NULL) {
				*sp++ = '\0';
				strlcpy(c->cwd, sp, sizeof(c->cwd));
			}
			c->status = strtonum(p, 0, 255, &errstr);
			if (errstr != NULL)
				c->status = -1;
			c->outdone = 1;
		}
	}
	if (!c->errdone && c->err.winlen > 0) {
		pat[0] = '\n';
		memcpy(pat + 1, c->marker, MARKER_LEN);
		pat[MARKER_LEN + 1] = '\n';
		p = memmem(c->err.win, c->err.winlen, pat, MARKER_LEN + 2);
		if (p != NULL) {
			c->errlen = c->err.total - c->err.winlen +
			    (p - c->err.win);
			c->errdone = 1;
		}
	}
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
	struct cmd	*c, *next;
	char		 err[512];

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
	if (TAILQ_EMPTY(&sh->cmds))
		return;
	TAILQ_FOREACH(c, &sh->cmds, entry)
		cmd_warn(c);
	sh->reset = 0;
	if (shell_start(sh->sessid, host, err, sizeof(err)) == NULL) {
		sh->reset = 1;
		TAILQ_FOREACH_SAFE(c, &sh->cmds, entry, next)
			cmd_fail(c, "%s", err);
		(void)sshconn_check(host);
		return;
	}
	shell_send(sh);
}

static void
cmd_warn(struct cmd *c)
{
	if (c->call != NULL && c->call->warning[0] == '\0')
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
	char		 note[384];
	int		 iserr = 1;

	if (!c->outdone)
		c->outlen = c->out.total;
	if (!c->errdone)
		c->errlen = c->err.total;
	if (c->kill != KILL_NONE)
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
	sshcall_result(call, cmd_result(c, note, iserr));
	cmd_free(c);
}

/* both markers are in: answer; -1 when the set-up failed (sh freed) */
static int
cmd_finish(struct cmd *c)
{
	struct shell	*sh = c->sh;
	struct sshcall	*call = c->call;
	char		 note[256], *msg, *e;
	size_t		 n;
	int		 iserr = 0;

	if (c->cwd[0] != '\0')
		strlcpy(sh->cwd, c->cwd, sizeof(sh->cwd));
	if (call == NULL) {
		/* the set-up: stdout is our pid */
		c->out.head[c->out.headlen < c->outlen ? c->out.headlen :
		    c->outlen] = '\0';
		sh->pid = strtol(c->out.head, &e, 10);
		if (sh->pid <= 1 || (*e != '\n' && *e != '\0'))
			sh->pid = 0;
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
	sshcall_result(call, cmd_result(c, note[0] ? note : NULL, iserr));
	cmd_free(c);
	return 0;
}

/*
 * The result text: stdout, then "stderr:" and stderr when there is any,
 * then "exit status: N" (or the note saying why there is none).  Each
 * stream is cut to the output cap with a line giving its total size.
 */
static json_t *
cmd_result(struct cmd *c, const char *note, int iserr)
{
	size_t	 max = ssh_output_max(), oshow, eshow, olen, elen, n;
	char	*t = NULL, *u;
	size_t	 tlen = 0;
	json_t	*r;

	olen = c->outlen;
	elen = c->errlen;
	oshow = olen < c->out.headlen ? olen : c->out.headlen;
	eshow = elen < c->err.headlen ? elen : c->err.headlen;
	if (oshow + eshow > max) {
		if (eshow > max / 4 && oshow > max - max / 4)
			eshow = max / 4;
		if (oshow > max - eshow)
			oshow = max - eshow;
	}
	text_add(&t, &tlen, "", 0);
	if (oshow > 0) {
		u = utf8_clean(c->out.head, oshow, &n);
		text_add(&t, &tlen, u, n);
		free(u);
		if (t[tlen - 1] != '\n')
			text_add(&t, &tlen, "\n", 1);
	}
	if (oshow < olen)
		text_addf(&t, &tlen, "[stdout cut: %zu bytes in all, the"
		    " first %zu are shown; redirect the output to a file and"
		    " Read it in parts]\n", olen, oshow);
	if (elen > 0) {
		text_add(&t, &tlen, "stderr:\n", 8);
		u = utf8_clean(c->err.head, eshow, &n);
		text_add(&t, &tlen, u, n);
		free(u);
		if (eshow > 0 && t[tlen - 1] != '\n')
			text_add(&t, &tlen, "\n", 1);
		if (eshow < elen)
			text_addf(&t, &tlen, "[stderr cut: %zu bytes in all,"
			    " the first %zu are shown]\n", elen, eshow);
	}
	if (note != NULL)
		text_addf(&t, &tlen, "%s", note);
	else
		text_addf(&t, &tlen, "exit status: %d", c->status);
	r = json_pack("{s:[{s:s, s:s%}], s:b}", "content", "type", "text",
	    "text", t, tlen, "isError", iserr);
	free(t);
	if (r == NULL)
		fatalx("%s: json_pack", __func__);
	return r;
}

static void
cmd_timeout(int fd, short event, void *arg)
{
	struct cmd	*c = arg;

	if (!c->sent) {
		cmd_fail(c, "timed out after %d ms while waiting for the"
		    " shell's previous command to finish", c->timeout_ms);
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
		if (sshconn_check(sh->host))
			return;
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
	if (sh->pid != 0 && kill_tree(sh->host, sh->pid, 1) == -1 &&
	    sshconn_check(sh->host))
		return;
	shell_died(sh, "the shell did not come back and was killed");
}

/* ---- one-shot commands ------------------------------------------------ */

/*
 * Kill the descendants of pid (and pid itself with self): list them with
 * ps, stop them so none can fork, list again for those born meanwhile,
 * and kill them all.  Runs on its own exec channel; nobody waits for it.
 */
static int
kill_tree(struct sshhost *host, long pid, int self)
{
	char	*cmd;
	int	 rc;

	if (asprintf(&cmd, "p=%ld; t() { ps -A -o pid= -o ppid= 2>/dev/null"
	    " | awk -v r=\"$p\" -v self=%d '{ pp[$1] = $2 } END { s[r] = 1;"
	    " do { c = 0; for (x in pp) if (!(x in s) && (pp[x] in s)) {"
	    " s[x] = 1; c = 1 } } while (c); for (x in s) if (self ||"
	    " x != r) printf \"%%s \", x }'; }; k=$(t); [ -n \"$k\" ] &&"
	    " kill -STOP $k 2>/dev/null; k=\"$k $(t)\"; kill -KILL $k"
	    " 2>/dev/null; exit 0", pid, self) == -1)
		fatal(NULL);
	rc = aux_run(host, cmd);
	free(cmd);
	return rc;
}

static int
aux_run(struct sshhost *host, const char *cmd)
{
	struct aux	*a;
	ssh_channel	 ch;

	if ((ch = ssh_channel_new(host->session)) == NULL ||
	    ssh_channel_open_session(ch) != SSH_OK ||
	    ssh_channel_request_exec(ch, cmd) != SSH_OK) {
		log_warnx("host \"%s\": cannot run a kill command: %s",
		    host->name, ssh_get_error(host->session));
		if (ch != NULL)
			ssh_channel_free(ch);
		return -1;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL)
		fatal(NULL);
	a->host = host;
	a->ch = ch;
	ssh_callbacks_init(&a->cb);
	a->cb.userdata = a;
	a->cb.channel_data_function = aux_data;
	a->cb.channel_close_function = aux_close;
	ssh_set_channel_callbacks(ch, &a->cb);
	evtimer_set(&a->ev_proc, aux_proc, a);
	TAILQ_INSERT_TAIL(&auxes, a, entry);
	host->st.channels++;
	(void)ssh_channel_send_eof(ch);
	return 0;
}

static int
aux_data(ssh_session s, ssh_channel ch, void *data, uint32_t len,
    int is_stderr, void *arg)
{
	return len;
}

static void
aux_close(ssh_session s, ssh_channel ch, void *arg)
{
	struct aux	*a = arg;
	struct timeval	 tv = { 0, 0 };

	a->closed = 1;
	evtimer_add(&a->ev_proc, &tv);
}

static void
aux_proc(int fd, short event, void *arg)
{
	aux_free(arg);
}

static void
aux_free(struct aux *a)
{
	evtimer_del(&a->ev_proc);
	ssh_remove_channel_callbacks(a->ch, &a->cb);
	ssh_channel_free(a->ch);
	if (a->host->st.channels > 0)
		a->host->st.channels--;
	TAILQ_REMOVE(&auxes, a, entry);
	free(a);
}

/* ---- background commands ---------------------------------------------- */

static void
job_start(struct sshcall *call, const char *command)
{
	struct sshhost	*host = call->host;
	struct shell	*sh;
	struct job	*j, *old = NULL;
	ssh_channel	 ch;
	const char	*cwd;
	char		*qcwd, *qcmd, *cmd;
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
	sh = shell_find(call->sessid, host);
	cwd = sh != NULL && sh->cwd[0] != '\0' ? sh->cwd :
	    host->conf->base_dir;
	qcwd = sh_quote(cwd[0] != '\0' ? cwd : ".");
	qcmd = sh_quote(command);
	if (asprintf(&cmd, "printf '%%s\\n' \"$$\"; cd -- %s || exit 126;"
	    " command -v bash >/dev/null 2>&1 && exec bash --noprofile"
	    " --norc -c %s </dev/null; exec sh -c %s </dev/null", qcwd, qcmd,
	    qcmd) == -1)
		fatal(NULL);
	free(qcwd);
	free(qcmd);

	if ((ch = ssh_channel_new(host->session)) == NULL ||
	    ssh_channel_open_session(ch) != SSH_OK ||
	    ssh_channel_request_exec(ch, cmd) != SSH_OK) {
		free(cmd);
		if (ch != NULL)
			ssh_channel_free(ch);
		sshcall_text(call, 1, "host \"%s\": cannot start a background"
		    " command: %s", host->name, ssh_get_error(host->session));
		(void)sshconn_check(host);
		return;
	}
	free(cmd);
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->command = strdup(command)) == NULL)
		fatal(NULL);
	j->sessid = call->sessid;
	j->host = host;
	snprintf(j->id, sizeof(j->id), "bash_%u", ++job_seq);
	j->ch = ch;
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
	ssh_set_channel_callbacks(ch, &j->cb);
	(void)ssh_channel_send_eof(ch);
	host->st.channels++;
	TAILQ_INSERT_TAIL(&jobs, j, entry);
	sshcall_text(call, 0, "Command running in background with ID: %s",
	    j->id);
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
	if (j->ch == NULL)
		return;
	ssh_remove_channel_callbacks(j->ch, &j->cb);
	ssh_channel_free(j->ch);
	j->ch = NULL;
	if (j->host->st.channels > 0)
		j->host->st.channels--;
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

/* move the unread lines of b that match into the text; empty b */
static void
job_take(struct jbuf *b, regex_t *re, char **t, size_t *tlen)
{
	char	*u, *line, *nl, *end;
	size_t	 n;

	if (b->len == 0)
		return;
	if (re == NULL) {
		u = utf8_clean(b->data, b->len, &n);
		text_add(t, tlen, u, n);
		free(u);
	} else {
		u = utf8_clean(b->data, b->len, &n);
		end = u + n;
		for (line = u; line < end; line = nl + 1) {
			if ((nl = memchr(line, '\n', end - line)) == NULL)
				nl = end;
			*nl = '\0';
			if (regexec(re, line, 0, NULL, 0) == 0) {
				text_add(t, tlen, line, strlen(line));
				text_add(t, tlen, "\n", 1);
			}
		}
		free(u);
	}
	if (*tlen > 0 && (*t)[*tlen - 1] != '\n')
		text_add(t, tlen, "\n", 1);
	b->len = 0;
}

/* answer a BashOutput/TaskOutput or KillShell waiter */
static void
job_answer(struct jobwait *w)
{
	struct job	*j = w->job;
	struct sshcall	*call = w->call;
	char		 st[128], *t = NULL;
	size_t		 tlen = 0, dropped;
	int		 iserr = 0;

	text_add(&t, &tlen, "", 0);
	job_status(j, st, sizeof(st));
	if (w->kill) {
		if (j->state == JOB_KILLED || j->state == JOB_EXITED)
			text_addf(&t, &tlen, "%s (%s): %s", j->id, j->command,
			    st);
		else {
			text_addf(&t, &tlen, "%s: the kill was sent but the"
			    " command is still %s", j->id, st);
			iserr = 1;
		}
	} else {
		text_addf(&t, &tlen, "status: %s\n", st);
		dropped = j->out.dropped + j->err.dropped;
		if (dropped > 0)
			text_addf(&t, &tlen, "[%zu bytes of output were"
			    " dropped: at most %d bytes are kept between"
			    " reads]\n", dropped, JOB_BUF_MAX);
		j->out.dropped = j->err.dropped = 0;
		if (j->out.len > 0) {
			text_add(&t, &tlen, "stdout:\n", 8);
			job_take(&j->out, w->has_re ? &w->re : NULL, &t,
			    &tlen);
		}
		if (j->err.len > 0) {
			text_add(&t, &tlen, "stderr:\n", 8);
			job_take(&j->err, w->has_re ? &w->re : NULL, &t,
			    &tlen);
		}
		if (tlen > ssh_output_max() + 1024) {
			/* rare: a megabyte unread; show the end */
			memmove(t, t + tlen - ssh_output_max(),
			    ssh_output_max());
			tlen = ssh_output_max();
			t[tlen] = '\0';
			text_addf(&t, &tlen, "\n[output cut to the last %zu"
			    " bytes]", ssh_output_max());
		}
	}
	jobwait_free(w);
	call->state = NULL;
	call->cancel = NULL;
	sshcall_text(call, iserr, "%s", t);
	free(t);
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

/* the id of a background command, under any of its parameter names */
static const char *
job_idarg(struct sshcall *call)
{
	const char	*names[] = { "bash_id", "task_id", "shell_id" };
	const char	*id;
	size_t		 i;
	int		 bad = 0;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		id = arg_str(call, names[i], &bad);
		if (bad) {
			sshcall_text(call, 1, "%s must be a string",
			    names[i]);
			return NULL;
		}
		if (id != NULL)
			return id;
	}
	sshcall_text(call, 1, "which background command? give its id"
	    " (bash_id, task_id or shell_id), e.g. \"bash_1\"");
	return NULL;
}

/* BashOutput(bash_id, filter?), TaskOutput(task_id, block?, timeout?) */
void
shell_output(struct sshcall *call)
{
	struct jobwait	*w;
	struct job	*j;
	const char	*id, *filter;
	char		 ebuf[128];
	int		 bad = 0, block, ms, rc;
	regex_t		 re;

	if ((id = job_idarg(call)) == NULL)
		return;
	if ((j = job_find(call->sessid, id)) == NULL) {
		sshcall_text(call, 1, "no background command \"%s\" in this"
		    " session", id);
		return;
	}
	filter = arg_str(call, "filter", &bad);
	if (bad) {
		sshcall_text(call, 1, "filter must be a string (a regular"
		    " expression)");
		return;
	}
	if (arg_bool(call, "block", strcmp(call->tool, "TaskOutput") == 0,
	    &block) == -1 || arg_timeout(call, "timeout", TASK_WAIT_DEF,
	    BASH_TIMEOUT_MAX, &ms) == -1)
		return;
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
	const char	*id;
	char		 st[128], *cmd;

	if ((id = job_idarg(call)) == NULL)
		return;
	if ((j = job_find(call->sessid, id)) == NULL) {
		sshcall_text(call, 1, "no background command \"%s\" in this"
		    " session", id);
		return;
	}
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
		sshcall_text(call, 0, "%s (%s): stopped before it started",
		    j->id, j->command);
		return;
	}
	/* the group sshd made for the session; then the leader itself */
	if (asprintf(&cmd, "kill -KILL -- -%ld 2>/dev/null; kill -KILL %ld"
	    " 2>/dev/null; exit 0", j->pid, j->pid) == -1)
		fatal(NULL);
	if (aux_run(j->host, cmd) == -1) {
		free(cmd);
		sshcall_text(call, 1, "%s: cannot send the kill: %s", j->id,
		    ssh_get_error(j->host->session));
		(void)sshconn_check(j->host);
		return;
	}
	free(cmd);
	(void)jobwait_new(j, call, 1, KILL_WAIT_MS);
}

static void
job_free(struct job *j)
{
	struct jobwait	*w;

	while ((w = TAILQ_FIRST(&j->waiters)) != NULL)
		job_answer(w);
	job_dropchannel(j);
	evtimer_del(&j->ev_proc);
	TAILQ_REMOVE(&jobs, j, entry);
	free(j->out.data);
	free(j->err.data);
	free(j->command);
	free(j);
}

/* ---- session and connection ends --------------------------------------- */

/* the MCP session is gone: kill its shells and background commands */
void
shell_session_end(uint32_t sessid)
{
	struct shell	*sh, *nsh;
	struct job	*j, *nj;
	char		*cmd;

	TAILQ_FOREACH_SAFE(sh, &shells, entry, nsh) {
		if (sh->sessid != sessid)
			continue;
		if (sh->ch != NULL && sh->pid != 0)
			(void)kill_tree(sh->host, sh->pid, 1);
		shell_free(sh, "the MCP session ended");
	}
	TAILQ_FOREACH_SAFE(j, &jobs, entry, nj) {
		if (j->sessid != sessid)
			continue;
		if (j->ch != NULL && j->pid != 0) {
			if (asprintf(&cmd, "kill -KILL -- -%ld 2>/dev/null;"
			    " exit 0", j->pid) == -1)
				fatal(NULL);
			(void)aux_run(j->host, cmd);
			free(cmd);
		}
		job_free(j);
	}
}

/* the connection died (or is being closed): nothing on it survives */
void
shell_host_lost(struct sshhost *host)
{
	struct shell	*sh, *nsh;
	struct job	*j;
	struct aux	*a, *na;
	char		 why[256];

	snprintf(why, sizeof(why), "the connection to host \"%s\" was lost"
	    " while the command ran; its outcome is unknown", host->name);
	TAILQ_FOREACH_SAFE(sh, &shells, entry, nsh)
		if (sh->host == host)
			shell_free(sh, why);
	TAILQ_FOREACH(j, &jobs, entry) {
		if (j->host != host || j->ch == NULL)
			continue;
		job_dropchannel(j);
		evtimer_del(&j->ev_proc);
		if (j->state <= JOB_RUNNING)
			j->state = JOB_LOST;
		while (!TAILQ_EMPTY(&j->waiters))
			job_answer(TAILQ_FIRST(&j->waiters));
	}
	TAILQ_FOREACH_SAFE(a, &auxes, entry, na)
		if (a->host == host)
			aux_free(a);
}
