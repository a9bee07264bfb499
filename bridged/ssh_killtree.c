/*
 * ssh_killtree.c: the kill commands of the shell tools.  Each runs on its
 * own exec channel and nobody waits for its output; the channel is
 * freed when it closes, or when the connection is lost.  The one-shot
 * channel under them also serves ssh_delegkill.c's kill check.
 *
 * And the watchdog that kills remote work whose owner went away without
 * a word (ssh_shell.h).  Why the channel's stdin: sshd closes the pipe
 * to the session's first process when the channel closes, when sshd
 * itself exits (the connection dropped, the worker died) and when that
 * first process exits.  A blocked read(2) sees it at once, without
 * polling, without an extra round trip, and it cannot be fooled by a
 * reused pid, as "is sshd (pid N) still there?" can; kill -0 would not
 * even work against a root-owned sshd.  The kill is kill(0): the
 * session's own process group, which sshd made with setsid(2), so
 * nothing outside it is hit.  Work that ends normally ends the first
 * process, and the watchdog takes what it left in the group and itself.
 * What leaves the group (setsid, a daemon) escapes, as it escapes the
 * group kills of a timeout.  Words of POSIX sh only: the login shell
 * of the remote user runs them.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event.h>
#include <libssh/callbacks.h>
#include <libssh/libssh.h>

#include "bridged.h"
#include "log.h"
#include "ssh.h"
#include "ssh_shell.h"

#define ONESHOT_WAIT_MS		30000	/* for a channel, then give up */

/* a one-shot command whose output nobody reads (kill) */
struct aux {
	TAILQ_ENTRY(aux)	 entry;
	struct oneshot		 os;
};

static int	 oneshot_data(ssh_session, ssh_channel, void *, uint32_t, int,
		    void *);
static void	 oneshot_close(ssh_session, ssh_channel, void *);
static void	 oneshot_opened(void *, ssh_channel, struct sshconn *,
		    const char *);
static void	 oneshot_proc(int, short, void *);
static int	 aux_run(struct sshhost *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static void	 aux_done(void *);
static void	 aux_free(struct aux *);

static TAILQ_HEAD(, aux)	 auxes = TAILQ_HEAD_INITIALIZER(auxes);

/* drain stdin to its EOF, then kill the session's process group */
#define WATCHDOG_WAIT	"while read -r w; do :; done; kill -KILL 0"

/*
 * For a command that reads nothing: stdin is kept on fd 3 for the
 * watchdog only (an asynchronous list gets /dev/null as stdin, then its
 * own redirections), the command gets /dev/null.
 */
void
watchdog_exec(struct sbuf *sb)
{
	sb_str(sb, "exec 3<&0 </dev/null; (" WATCHDOG_WAIT ") <&3 3<&-"
	    " >/dev/null 2>&1 & exec 3<&-; ");
}

/*
 * For a command that reads what the worker sends: feed copies it from
 * stdin into a pipe to the command (which follows these words), then
 * the pipe is closed and the rest is the watchdog.  The left side of
 * the pipe only starts the watchdog and returns, so the session ends
 * with the command and has the command's exit status.
 */
void
watchdog_pipe(struct sbuf *sb, const char *feed)
{
	sb_printf(sb, "{ (%s; exec >/dev/null; " WATCHDOG_WAIT ") <&3 3<&-"
	    " 2>/dev/null & } 3<&0 | ", feed);
}

/*
 * Kill the descendants of pid (and pid itself with self): list them with
 * ps, stop them so none can fork, list again for those born meanwhile,
 * and kill them all.  Runs on its own exec channel; nobody waits for it.
 */
int
kill_tree(struct sshhost *host, long pid, int self)
{
	return aux_run(host, "p=%ld; t() { ps -A -o pid= -o ppid= 2>/dev/null"
	    " | awk -v r=\"$p\" -v self=%d '{ pp[$1] = $2 } END { s[r] = 1;"
	    " do { c = 0; for (x in pp) if (!(x in s) && (pp[x] in s)) {"
	    " s[x] = 1; c = 1 } } while (c); for (x in s) if (self ||"
	    " x != r) printf \"%%s \", x }'; }; k=$(t); [ -n \"$k\" ] &&"
	    " kill -STOP $k 2>/dev/null; k=\"$k $(t)\"; kill -KILL $k"
	    " 2>/dev/null; exit 0", pid, self);
}

/*
 * Asks the pool for the channel (urgent: kills must not wait behind the
 * commands they stop); -1 only when the host has no connection at all,
 * where there is nothing to kill.
 */
int
oneshot_start(struct oneshot *os, struct sshhost *host, const char *cmd,
    char *out, size_t outsize, void (*done)(void *), void *arg, char *err,
    size_t errlen)
{
	if (sshconn_any(host) == NULL) {
		snprintf(err, errlen, "host \"%s\" is not connected",
		    host->name);
		return -1;
	}
	memset(os, 0, sizeof(*os));
	os->host = host;
	os->out = out;
	os->outsize = outsize;
	os->outlen = 0;
	if (out != NULL)
		out[0] = '\0';
	os->done = done;
	os->arg = arg;
	ssh_callbacks_init(&os->cb);
	os->cb.userdata = os;
	os->cb.channel_data_function = oneshot_data;
	os->cb.channel_close_function = oneshot_close;
	evtimer_set(&os->ev_done, oneshot_proc, os);
	os->opening = sshconn_open(host, NULL, cmd, &os->cb,
	    ONESHOT_WAIT_MS, 1, oneshot_opened, os);
	return 0;
}

static void
oneshot_opened(void *arg, ssh_channel ch, struct sshconn *conn,
    const char *why)
{
	struct oneshot	*os = arg;
	struct timeval	 tv = { 0, 0 };

	os->opening = NULL;
	if (ch == NULL) {
		os->failed = 1;
		strlcpy(os->err, why, sizeof(os->err));
		evtimer_add(&os->ev_done, &tv);
		return;
	}
	os->ch = ch;
	os->conn = conn;
	(void)ssh_channel_send_eof(ch);
}

void
oneshot_stop(struct oneshot *os)
{
	evtimer_del(&os->ev_done);
	if (os->opening != NULL) {
		sshconn_open_cancel(os->opening);
		os->opening = NULL;
	}
	if (os->ch != NULL) {
		sshconn_chclose(os->conn, os->ch, &os->cb, 1);
		os->ch = NULL;
		os->conn = NULL;
	}
}

static int
oneshot_data(ssh_session s, ssh_channel ch, void *data, uint32_t len,
    int is_stderr, void *arg)
{
	struct oneshot	*os = arg;
	size_t		 n = len;

	if (os->out == NULL || is_stderr)
		return len;
	if (n > os->outsize - 1 - os->outlen)
		n = os->outsize - 1 - os->outlen;
	memcpy(os->out + os->outlen, data, n);
	os->outlen += n;
	os->out[os->outlen] = '\0';
	return len;
}

/* not from inside libssh's callback: the channel is freed in done */
static void
oneshot_close(ssh_session s, ssh_channel ch, void *arg)
{
	struct oneshot	*os = arg;
	struct timeval	 tv = { 0, 0 };

	evtimer_add(&os->ev_done, &tv);
}

static void
oneshot_proc(int fd, short event, void *arg)
{
	struct oneshot	*os = arg;

	os->done(os->arg);
}

static int
aux_run(struct sshhost *host, const char *fmt, ...)
{
	struct aux	*a;
	va_list		 ap;
	char		*cmd, why[1024];

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) == -1)
		fatal(NULL);
	va_end(ap);
	if ((a = calloc(1, sizeof(*a))) == NULL)
		fatal(NULL);
	if (oneshot_start(&a->os, host, cmd, NULL, 0, aux_done, a, why,
	    sizeof(why)) == -1) {
		log_warnx("host \"%s\": cannot run a kill command: %s",
		    host->name, why);
		free(cmd);
		free(a);
		return -1;
	}
	free(cmd);
	TAILQ_INSERT_TAIL(&auxes, a, entry);
	return 0;
}

static void
aux_done(void *arg)
{
	struct aux	*a = arg;

	if (a->os.failed)
		log_warnx("host \"%s\": a kill command did not run: %s",
		    a->os.host->name, a->os.err);
	aux_free(a);
}

static void
aux_free(struct aux *a)
{
	oneshot_stop(&a->os);
	TAILQ_REMOVE(&auxes, a, entry);
	free(a);
}

/*
 * Kill the process group pgid that sshd made for a background command's
 * session, and with leader its leader too, should it have left it.
 */
int
kill_group(struct sshhost *host, long pgid, int leader)
{
	if (leader)
		return aux_run(host, "kill -KILL -- -%ld 2>/dev/null; kill"
		    " -KILL %ld 2>/dev/null; exit 0", pgid, pgid);
	return aux_run(host, "kill -KILL -- -%ld 2>/dev/null; exit 0", pgid);
}

/* another fixed command of that kind (housekeeping at shutdown) */
int
kill_command(struct sshhost *host, const char *cmd)
{
	return aux_run(host, "%s", cmd);
}

/* kill commands still running: the worker waits for them to exit */
int
kill_pending(void)
{
	struct aux	*a;
	int		 n = 0;

	TAILQ_FOREACH(a, &auxes, entry)
		n++;
	return n;
}

/* the connection is gone, and the kill channels on it (NULL: all) */
void
kill_conn_lost(struct sshhost *host, struct sshconn *conn)
{
	struct aux	*a, *na;

	TAILQ_FOREACH_SAFE(a, &auxes, entry, na)
		if (a->os.host == host && (conn == NULL ||
		    a->os.conn == conn))
			aux_free(a);
}
