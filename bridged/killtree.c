/*
 * killtree.c: the kill commands of the shell tools.  Each runs on its
 * own exec channel and nobody waits for its output; the channel is
 * freed when it closes, or when the connection is lost.
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
#include "shell.h"

/* a one-shot command whose output nobody reads (kill) */
struct aux {
	TAILQ_ENTRY(aux)	 entry;
	struct sshhost		*host;
	ssh_channel		 ch;
	struct ssh_channel_callbacks_struct cb;
	int			 closed;
	struct event		 ev_proc;
};

static int	 aux_run(struct sshhost *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static int	 aux_data(ssh_session, ssh_channel, void *, uint32_t, int,
		    void *);
static void	 aux_close(ssh_session, ssh_channel, void *);
static void	 aux_proc(int, short, void *);
static void	 aux_free(struct aux *);

static TAILQ_HEAD(, aux)	 auxes = TAILQ_HEAD_INITIALIZER(auxes);

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

static int
aux_run(struct sshhost *host, const char *fmt, ...)
{
	struct aux	*a;
	ssh_channel	 ch;
	va_list		 ap;
	char		*cmd, why[1024];

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) == -1)
		fatal(NULL);
	va_end(ap);
	ch = sshconn_exec(host, cmd, why, sizeof(why));
	free(cmd);
	if (ch == NULL) {
		log_warnx("host \"%s\": cannot run a kill command: %s",
		    host->name, why);
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

/* the connection is gone, and the kill channels with it */
void
kill_host_lost(struct sshhost *host)
{
	struct aux	*a, *na;

	TAILQ_FOREACH_SAFE(a, &auxes, entry, na)
		if (a->host == host)
			aux_free(a);
}
