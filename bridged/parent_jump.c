/*
 * parent_jump.c: the parent's half of a "via" (ProxyJump) connection.
 *
 * For a host T with "via J" the parent makes no TCP connection.  It
 * makes a socketpair instead, sends one end to J's ssh worker with
 * IMSG_JUMP_OPEN (T's address as J sees it), and waits for
 * IMSG_JUMP_OPENED: J's worker has then opened a direct-tcpip channel on
 * one of J's connections and pumps it to its end.  The other end is
 * handed to parent_connect.c's callback as if it were the connected TCP
 * socket, and goes to T's worker, which runs its handshake and host key
 * check over it: no worker ever creates a socket, and J's worker sees
 * only T's ciphertext.  If J is itself reached via K, J's worker asks for
 * its connection the usual way and this file is called again, one hop
 * further out.
 *
 * J's worker may not be running: it is started (bridged.c) and the
 * request waits here until it is, or until it cannot be.  A request is
 * made only for a configured host whose via is J, and only J's worker
 * may answer it.  If J's worker dies before it answered, the request
 * fails, or, when the worker went because it was idle, is sent again to
 * the next one.  If it dies after, T's socket sees EOF and T's worker
 * declares the connection lost as any other.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event.h>

#include "bridged.h"
#include "imsg.h"
#include "log.h"
#include "proc.h"

/*
 * A backstop only: J's worker answers every request, after its own
 * connect, handshake and channel-open timeouts, and a worker that dies
 * is noticed.  A chain that is slow at every hop still ends.
 */
#define JUMP_TIMEOUT		120		/* seconds */

/* one request for J's worker, until it answers */
struct pjump {
	TAILQ_ENTRY(pjump)	 entry;
	struct jump_req		 req;		/* req.reqid is ours */
	char			 via[HOST_NAME_LEN];
	int			 sent;		/* to J's worker; else waits */
	int			 fd;		/* the target's end */
	int			 wfd;		/* J's end, until sent */
	struct event		 ev_timeout;
	netconn_cb		 done;
	void			*arg;
};

static int	 jump_pair(struct pjump *);
static void	 jump_send(struct pjump *, struct imsgev *);
static void	 jump_timeout(int, short, void *);
static void	 jump_finish(struct pjump *, int, const char *);

static TAILQ_HEAD(, pjump)	 pjumps = TAILQ_HEAD_INITIALIZER(pjumps);
static uint32_t			 pjump_nextid;

/*
 * Connect host h through its jump host, as netconn_start connects
 * directly: done(arg, fd, 0, NULL) with the target's end of the tunnel,
 * or done(arg, -1, errno, message).  The message names the jump host's
 * trouble; the target's worker puts "host T via J:" in front.
 */
void
jump_connect(struct bridged_conf *conf, struct host *h, netconn_cb done,
    void *arg)
{
	struct timeval	 tv = { JUMP_TIMEOUT, 0 };
	struct pjump	*pj;
	struct host	*j;
	struct imsgev	*iev;
	char		 err[NETCONN_ERRLEN];

	/* parse.y refuses these; a reload may not have */
	if (h->via[0] == '\0' || strcmp(h->via, h->name) == 0 ||
	    (j = config_host_byname(conf, h->via)) == NULL) {
		snprintf(err, sizeof(err), "the jump host is not configured");
		done(arg, -1, ENOENT, err);
		return;
	}
	if ((pj = calloc(1, sizeof(*pj))) == NULL)
		fatal(NULL);
	pj->fd = pj->wfd = -1;
	if (jump_pair(pj) == -1) {
		snprintf(err, sizeof(err), "socketpair: %s", strerror(errno));
		free(pj);
		done(arg, -1, errno, err);
		return;
	}
	if (++pjump_nextid == 0)
		pjump_nextid = 1;
	pj->req.reqid = pjump_nextid;
	pj->req.hostid = j->id;
	strlcpy(pj->req.target, h->name, sizeof(pj->req.target));
	strlcpy(pj->req.addr, h->address, sizeof(pj->req.addr));
	pj->req.port = h->port ? h->port : CONF_SSH_PORT;
	strlcpy(pj->via, j->name, sizeof(pj->via));
	pj->done = done;
	pj->arg = arg;
	evtimer_set(&pj->ev_timeout, jump_timeout, pj);
	evtimer_add(&pj->ev_timeout, &tv);
	TAILQ_INSERT_TAIL(&pjumps, pj, entry);

	if ((iev = parent_worker(j->name, err, sizeof(err))) != NULL)
		jump_send(pj, iev);
	else if (err[0] != '\0')
		jump_finish(pj, EHOSTUNREACH, err);
	else
		log_debug("host \"%s\": waiting for the ssh worker of \"%s\"",
		    h->name, j->name);
}

/* a fresh socketpair: fd for the target, wfd for J's worker */
static int
jump_pair(struct pjump *pj)
{
	int	 sp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sp) == -1)
		return -1;
	if (pj->fd != -1)
		close(pj->fd);
	if (pj->wfd != -1)
		close(pj->wfd);
	pj->wfd = sp[0];
	pj->fd = sp[1];
	return 0;
}

static void
jump_send(struct pjump *pj, struct imsgev *iev)
{
	int	 wfd = pj->wfd;

	/* the message owns wfd from here, sent or not */
	pj->wfd = -1;
	if (imsgev_compose(iev, IMSG_JUMP_OPEN, 0, wfd, &pj->req,
	    sizeof(pj->req)) == -1) {
		close(wfd);
		jump_finish(pj, EIO, "cannot reach the jump host's ssh"
		    " worker");
		return;
	}
	pj->sent = 1;
	log_debug("host \"%s\": asking \"%s\" for a channel to %s port %u",
	    pj->req.target, pj->via, pj->req.addr, pj->req.port);
}

/* J's worker has been started and wired: what waited for it goes */
void
jump_worker_up(const char *host, struct imsgev *iev)
{
	struct pjump	*pj, *next;

	TAILQ_FOREACH_SAFE(pj, &pjumps, entry, next)
		if (!pj->sent && strcmp(pj->via, host) == 0)
			jump_send(pj, iev);
}

/*
 * J's worker is gone.  What it had not answered fails with why, or, when
 * it went on purpose (idle), waits for the next one with a new
 * socketpair.  Returns how many wait for a worker of host.
 */
int
jump_worker_gone(const char *host, int again, const char *why)
{
	struct pjump	*pj, *next;
	char		 msg[NETCONN_ERRLEN];
	int		 n = 0;

	snprintf(msg, sizeof(msg), "the ssh worker of host \"%s\" died (%s)",
	    host, why);
	TAILQ_FOREACH_SAFE(pj, &pjumps, entry, next) {
		if (strcmp(pj->via, host) != 0)
			continue;
		if (pj->sent && !again) {
			jump_finish(pj, EHOSTUNREACH, msg);
			continue;
		}
		if (pj->sent && jump_pair(pj) == -1) {
			jump_finish(pj, errno, "socketpair failed");
			continue;
		}
		pj->sent = 0;
		n++;
	}
	return n;
}

/* J's worker will not come (given up, removed, shutting down) */
void
jump_worker_fail(const char *host, const char *why)
{
	struct pjump	*pj, *next;

	TAILQ_FOREACH_SAFE(pj, &pjumps, entry, next)
		if (strcmp(pj->via, host) == 0)
			jump_finish(pj, EHOSTUNREACH, why);
}

/*
 * IMSG_JUMP_OPENED from the worker of host (the size is checked): an
 * answer to a request that was not made to that worker is ignored.
 */
void
parent_jump_opened(const char *host, struct imsg *imsg)
{
	struct jump_reply	 r;
	struct pjump		*pj;
	int			 fd;

	memcpy(&r, imsg->data, sizeof(r));
	r.errmsg[sizeof(r.errmsg) - 1] = '\0';
	TAILQ_FOREACH(pj, &pjumps, entry)
		if (pj->req.reqid == r.reqid)
			break;
	if (pj == NULL || !pj->sent || strcmp(pj->via, host) != 0) {
		log_debug("jump answer %u from the worker of \"%s\": nobody"
		    " waits for it", r.reqid, host);
		return;
	}
	if (r.error != 0) {
		jump_finish(pj, r.error, r.errmsg[0] != '\0' ? r.errmsg :
		    "the jump host gave no reason");
		return;
	}
	fd = pj->fd;
	pj->fd = -1;
	log_debug("host \"%s\": channel open through \"%s\"", pj->req.target,
	    pj->via);
	TAILQ_REMOVE(&pjumps, pj, entry);
	evtimer_del(&pj->ev_timeout);
	pj->done(pj->arg, fd, 0, NULL);
	free(pj);
}

static void
jump_timeout(int fd, short event, void *arg)
{
	struct pjump	*pj = arg;
	char		 msg[NETCONN_ERRLEN];

	snprintf(msg, sizeof(msg), "no answer from the ssh worker of host"
	    " \"%s\" within %d s", pj->via, JUMP_TIMEOUT);
	jump_finish(pj, ETIMEDOUT, msg);
}

/* a failed request: our ends are closed, the caller learns why */
static void
jump_finish(struct pjump *pj, int error, const char *why)
{
	TAILQ_REMOVE(&pjumps, pj, entry);
	evtimer_del(&pj->ev_timeout);
	if (pj->fd != -1)
		close(pj->fd);
	if (pj->wfd != -1)
		close(pj->wfd);
	pj->done(pj->arg, -1, error, why);
	free(pj);
}
