/*
 * ssh_aexec.c: a file tool's fixed command on an exec channel of its own,
 * driven by the worker's event loop (Grep).  remote_exec() (ssh_rfile.c)
 * waits for the command in a blocking section: a search over a large
 * tree would hold the host's worker, and every other session's calls on
 * the host, for as long as it runs, up to the call timeout.  Here the
 * channel comes from the pool without blocking (ssh_pool.c), the output
 * is taken as it arrives, with remote_exec()'s limits (stdout up to
 * outmax bytes or maxlines whole lines, stderr up to EXEC_ERR_MAX), and
 * the call's own continuation gets it when the command ends, is cut or
 * times out.  A cancellation or the loss of the connection ends it at
 * once; the channel closed, the watchdog on the host (its stdin) kills
 * what still runs.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event.h>
#include <jansson.h>
#include <libssh/libssh.h>
#include <libssh/callbacks.h>
#include <libssh/sftp.h>

#include "bridged.h"
#include "log.h"
#include "ssh.h"
#include "ssh_files.h"
#include "ssh_shell.h"

struct aexec {
	TAILQ_ENTRY(aexec)	 entry;
	struct sshcall		*call;
	struct sshhost		*host;
	struct sshopen		*opening;
	ssh_channel		 ch;
	uint32_t		 connid;
	struct ssh_channel_callbacks_struct cb;
	struct rexec		 rx;
	size_t			 outmax;
	int			 seconds;	/* the limit, for messages */
	int			 cut;		/* stopped early: kill it */
	int			 eof;
	int			 closed;
	int			 gotstatus;	/* or the signal that ended it */
	int			 status;
	char			 sig[32];
	struct timespec		 t0;
	struct event		 ev_step;
	struct event		 ev_tick;
	struct event		 ev_deadline;
	aexec_done		 done;
	void			*arg;
};

static TAILQ_HEAD(, aexec)	 aexecs = TAILQ_HEAD_INITIALIZER(aexecs);

static void	 ax_opened(void *, ssh_channel, struct sshconn *, const char *);
static int	 ax_data(ssh_session, ssh_channel, void *, uint32_t, int,
		    void *);
static void	 ax_eof(ssh_session, ssh_channel, void *);
static void	 ax_closecb(ssh_session, ssh_channel, void *);
static void	 ax_status(ssh_session, ssh_channel, int, void *);
static void	 ax_signal(ssh_session, ssh_channel, const char *, int,
		    const char *, const char *, void *);
static void	 ax_sched(struct aexec *);
static void	 ax_step(int, short, void *);
static void	 ax_tick(int, short, void *);
static void	 ax_deadline(int, short, void *);
static void	 ax_cancel(struct sshcall *);
static void	 ax_end(struct aexec *, const char *);

/*
 * Run cmd for call; done(call, rx, NULL, arg) when it has ended, or
 * done(call, rx, why, arg) when it could not run or was stopped (rx is
 * then empty).  done answers the call; rx is freed after it.
 */
void
remote_exec_async(struct sshcall *call, const char *cmd, size_t outmax,
    int seconds, size_t maxlines, aexec_done done, void *arg)
{
	struct aexec	*ax;
	struct sbuf	 wcmd = { 0 };
	struct timeval	 tv;
	int		 ms;

	if ((ax = calloc(1, sizeof(*ax))) == NULL)
		fatal(NULL);
	ax->call = call;
	ax->host = call->host;
	ax->outmax = outmax;
	ax->seconds = seconds;
	ax->rx.status = -1;
	ax->rx.maxlines = maxlines;
	ax->done = done;
	ax->arg = arg;
	clock_gettime(CLOCK_MONOTONIC, &ax->t0);
	evtimer_set(&ax->ev_step, ax_step, ax);
	evtimer_set(&ax->ev_tick, ax_tick, ax);
	evtimer_set(&ax->ev_deadline, ax_deadline, ax);
	ssh_callbacks_init(&ax->cb);
	ax->cb.userdata = ax;
	ax->cb.channel_data_function = ax_data;
	ax->cb.channel_eof_function = ax_eof;
	ax->cb.channel_close_function = ax_closecb;
	ax->cb.channel_exit_status_function = ax_status;
	ax->cb.channel_exit_signal_function = ax_signal;
	TAILQ_INSERT_TAIL(&aexecs, ax, entry);
	call->state = ax;
	call->cancel = ax_cancel;
	/* the deadline of the call, or the command's, whichever is first */
	ms = sshcall_ms_left(call);
	if (seconds > 0 && ms > seconds * 1000)
		ms = seconds * 1000;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(&ax->ev_deadline, &tv);
	tv.tv_sec = SSH_PROGRESS_MS / 1000;
	tv.tv_usec = (SSH_PROGRESS_MS % 1000) * 1000;
	evtimer_add(&ax->ev_tick, &tv);
	/* stdin stays open for the watchdog: the command dies with us */
	watchdog_exec(&wcmd);
	sb_str(&wcmd, cmd);
	ax->opening = sshconn_open(call->host, call->conn, wcmd.p, &ax->cb,
	    ms, 0, ax_opened, ax);
	sb_free(&wcmd);
}

/* the pool's answer: running, or why not */
static void
ax_opened(void *arg, ssh_channel ch, struct sshconn *conn, const char *why)
{
	struct aexec	*ax = arg;
	char		 err[ERRSZ];

	ax->opening = NULL;
	if (ch == NULL) {
		snprintf(err, sizeof(err), "cannot run a command: %s", why);
		ax_end(ax, err);
		return;
	}
	ax->ch = ch;
	ax->connid = conn->id;
	/* it may have ended before we were told it started */
	if (ax->closed || ax->cut)
		ax_sched(ax);
}

static int
ax_data(ssh_session s, ssh_channel ch, void *data, uint32_t len,
    int is_stderr, void *arg)
{
	struct aexec	*ax = arg;
	struct rexec	*rx = &ax->rx;
	size_t		 room;

	if (ax->cut)
		return len;
	rx->bytes += len;
	if (is_stderr) {
		if (rx->err.len < EXEC_ERR_MAX)
			sb_add(&rx->err, data, len);
		return len;
	}
	room = ax->outmax - rx->out.len;
	sb_add(&rx->out, data, len < room ? len : room);
	if (len >= room && rx->out.len == ax->outmax) {
		rx->truncated = 1;
		ax->cut = 1;
	} else if (rx->maxlines > 0 && rexec_lines(rx, len)) {
		rx->linecap = 1;
		ax->cut = 1;
	}
	if (ax->cut)
		ax_sched(ax);
	return len;
}

static void
ax_eof(ssh_session s, ssh_channel ch, void *arg)
{
	struct aexec	*ax = arg;

	ax->eof = 1;
	if (ax->gotstatus)
		ax_sched(ax);
}

static void
ax_closecb(ssh_session s, ssh_channel ch, void *arg)
{
	struct aexec	*ax = arg;

	ax->closed = 1;
	ax_sched(ax);
}

static void
ax_status(ssh_session s, ssh_channel ch, int status, void *arg)
{
	struct aexec	*ax = arg;

	ax->gotstatus = 1;
	ax->status = status;
	if (ax->eof)
		ax_sched(ax);
}

/* killed on the host: no status comes, the signal's name does */
static void
ax_signal(ssh_session s, ssh_channel ch, const char *sig, int core,
    const char *errmsg, const char *lang, void *arg)
{
	struct aexec	*ax = arg;
	size_t		 i;

	strlcpy(ax->sig, sig != NULL && sig[0] != '\0' ? sig : "?",
	    sizeof(ax->sig));
	/* a name, as the host said it: letters and digits only */
	for (i = 0; ax->sig[i] != '\0'; i++)
		if (!isalnum((unsigned char)ax->sig[i]))
			ax->sig[i] = '?';
	ax->gotstatus = 1;
	ax->status = -1;
	if (ax->eof)
		ax_sched(ax);
}

static void
ax_sched(struct aexec *ax)
{
	struct timeval	 tv = { 0, 0 };

	if (!evtimer_pending(&ax->ev_step, NULL))
		evtimer_add(&ax->ev_step, &tv);
}

/* ended, or cut: once the channel is ours */
static void
ax_step(int fd, short ev, void *arg)
{
	struct aexec	*ax = arg;

	if (ax->ch == NULL)
		return;		/* ax_opened looks again */
	if (ax->cut || ax->closed || (ax->eof && ax->gotstatus))
		ax_end(ax, NULL);
}

/* a long search: say it is still going */
static void
ax_tick(int fd, short ev, void *arg)
{
	struct aexec	*ax = arg;
	struct timespec	 now;
	struct timeval	 tv;
	long		 secs;

	clock_gettime(CLOCK_MONOTONIC, &now);
	secs = now.tv_sec - ax->t0.tv_sec + 1;
	sshcall_tick(ax->call, SSH_PROGRESS_MS, (double)secs, 0,
	    "%s: running on host \"%s\" for %ld s, %llu bytes so far",
	    ax->call->tool, ax->host->name, secs,
	    (unsigned long long)ax->rx.bytes);
	tv.tv_sec = SSH_PROGRESS_MS / 1000;
	tv.tv_usec = (SSH_PROGRESS_MS % 1000) * 1000;
	evtimer_add(&ax->ev_tick, &tv);
}

static void
ax_deadline(int fd, short ev, void *arg)
{
	struct aexec	*ax = arg;

	if (ax->ch == NULL) {
		ax_end(ax, "cannot run a command: no channel before the "
		    "call's timeout");
		return;
	}
	ax->rx.timedout = 1;
	ax->cut = 1;
	ax_end(ax, NULL);
}

static void
ax_cancel(struct sshcall *call)
{
	char	 why[128];

	snprintf(why, sizeof(why), "%s cancelled", call->tool);
	ax_end(call->state, why);
}

/* the connection went (conn NULL: the host did), the channel with it */
void
aexec_conn_lost(struct sshhost *host, struct sshconn *conn)
{
	struct aexec	*ax, *next;
	char		 why[256];

	TAILQ_FOREACH_SAFE(ax, &aexecs, entry, next) {
		if (ax->host != host || ax->ch == NULL ||
		    (conn != NULL && ax->connid != conn->id))
			continue;
		snprintf(why, sizeof(why), "the connection to host \"%s\" was "
		    "lost while %s ran", host->name, ax->call->tool);
		ax_end(ax, why);
	}
}

/*
 * The channel closed (what still runs is killed: the watchdog sees its
 * stdin close), and the caller told: why NULL, the output in ax->rx.
 */
static void
ax_end(struct aexec *ax, const char *why)
{
	struct sshcall	*call = ax->call;
	struct sshconn	*c;

	TAILQ_REMOVE(&aexecs, ax, entry);
	evtimer_del(&ax->ev_step);
	evtimer_del(&ax->ev_tick);
	evtimer_del(&ax->ev_deadline);
	call->state = NULL;
	call->cancel = NULL;
	if (ax->opening != NULL)
		sshconn_open_cancel(ax->opening);
	if (ax->ch != NULL && (c = sshconn_byid(ax->connid)) != NULL) {
		if (why == NULL && !ax->cut && ax->gotstatus) {
			ax->rx.status = ax->status;
			strlcpy(ax->rx.signal, ax->sig, sizeof(ax->rx.signal));
		}
		/*
		 * The callbacks off first: the close waits for libssh to
		 * send, which takes in what arrives, for us too.
		 */
		ssh_remove_channel_callbacks(ax->ch, &ax->cb);
		if (ax->cut || why != NULL)
			ssh_channel_request_send_signal(ax->ch, "KILL");
		ssh_channel_close(ax->ch);
		sshconn_chclose(c, ax->ch, NULL, 1);
	}
	/* and nothing of it is due any more */
	evtimer_del(&ax->ev_step);
	if (why != NULL) {
		rexec_free(&ax->rx);
		memset(&ax->rx, 0, sizeof(ax->rx));
		ax->rx.status = -1;
	}
	ax->done(call, &ax->rx, why, ax->arg);
	rexec_free(&ax->rx);
	free(ax);
}
