/*
 * parent_jump.c: the parent's half of a "via" (ProxyJump) connection.
 *
 * For a host with "via J" the parent makes no TCP connection.  It makes
 * a socketpair instead, sends one end to the worker that serves J with
 * IMSG_JUMP_OPEN (the target's address as J sees it), and waits for
 * IMSG_JUMP_OPENED: that worker has then opened a direct-tcpip channel
 * on J's connection and pumps it to its end.  The other end is handed to
 * parent_connect.c's callback as if it were the connected TCP socket, so
 * the target's worker runs its handshake and host key check over it and
 * no worker ever creates a socket.  If J is itself reached via K, J's
 * worker asks for J's connection the usual way and this file is called
 * again, one hop further out.
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
 * A backstop only: the worker of J answers every request, after its own
 * connect, handshake and channel-open timeouts.  A worker that died
 * does not, and then the target must not wait for ever.
 */
#define JUMP_TIMEOUT		120		/* seconds */

/* one request to the worker of a jump host, until it answers */
struct pjump {
	TAILQ_ENTRY(pjump)	 entry;
	uint32_t		 id;
	char			 target[HOST_NAME_LEN];
	char			 via[HOST_NAME_LEN];
	int			 fd;		/* ours: the target's socket */
	struct event		 ev_timeout;
	netconn_cb		 done;
	void			*arg;
};

static struct imsgev	*jump_worker(struct imsgev *, struct host *);
static void		 jump_timeout(int, short, void *);
static void		 jump_finish(struct pjump *, int, const char *);

static TAILQ_HEAD(, pjump)	 pjumps = TAILQ_HEAD_INITIALIZER(pjumps);
static uint32_t			 pjump_nextid;

/*
 * The worker that serves host j.  Today one ssh worker serves every
 * host, so it is the one that asked for the target.  With one worker per
 * host this is where the parent finds (or starts) the worker of j.
 */
static struct imsgev *
jump_worker(struct imsgev *asker, struct host *j)
{
	return asker;
}

/*
 * Connect host h through its jump host, as netconn_start connects
 * directly: done(arg, fd, 0, NULL) with the target's end of the tunnel,
 * or done(arg, -1, errno, message).  The message names the hop that
 * failed; the target's worker puts "host NAME via JUMP:" in front.
 */
void
jump_connect(struct imsgev *asker, struct bridged_conf *conf, struct host *h,
    netconn_cb done, void *arg)
{
	struct timeval	 tv = { JUMP_TIMEOUT, 0 };
	struct jump_req	 req;
	struct pjump	*pj;
	struct host	*j;
	struct imsgev	*iev;
	int		 sp[2];
	char		 err[NETCONN_ERRLEN];

	if ((j = config_host_byname(conf, h->via)) == NULL) {
		/* parse.y refuses it; a reload may not have */
		snprintf(err, sizeof(err), "the jump host is not configured");
		done(arg, -1, ENOENT, err);
		return;
	}
	if ((iev = jump_worker(asker, j)) == NULL) {
		snprintf(err, sizeof(err), "no ssh worker for the jump host");
		done(arg, -1, EAGAIN, err);
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sp) == -1) {
		snprintf(err, sizeof(err), "socketpair: %s", strerror(errno));
		done(arg, -1, errno, err);
		return;
	}
	if ((pj = calloc(1, sizeof(*pj))) == NULL)
		fatal(NULL);
	if (++pjump_nextid == 0)
		pjump_nextid = 1;
	pj->id = pjump_nextid;
	strlcpy(pj->target, h->name, sizeof(pj->target));
	strlcpy(pj->via, j->name, sizeof(pj->via));
	pj->fd = sp[1];
	pj->done = done;
	pj->arg = arg;
	evtimer_set(&pj->ev_timeout, jump_timeout, pj);
	evtimer_add(&pj->ev_timeout, &tv);
	TAILQ_INSERT_TAIL(&pjumps, pj, entry);

	memset(&req, 0, sizeof(req));
	req.reqid = pj->id;
	req.hostid = j->id;
	strlcpy(req.target, h->name, sizeof(req.target));
	strlcpy(req.addr, h->address, sizeof(req.addr));
	req.port = h->port ? h->port : CONF_SSH_PORT;
	/* the message owns sp[0] from here */
	if (imsgev_compose(iev, IMSG_JUMP_OPEN, 0, sp[0], &req,
	    sizeof(req)) == -1)
		fatal("%s: compose", __func__);
	log_debug("host \"%s\": asking \"%s\" for a channel to %s port %u",
	    h->name, j->name, req.addr, req.port);
}

/* IMSG_JUMP_OPENED from the worker of a jump host */
void
parent_jump_opened(struct imsg *imsg)
{
	struct jump_reply	 r;
	struct pjump		*pj;
	int			 fd;

	if (imsg->datalen != sizeof(r))
		fatalx("bad IMSG_JUMP_OPENED size %zu", imsg->datalen);
	memcpy(&r, imsg->data, sizeof(r));
	r.errmsg[sizeof(r.errmsg) - 1] = '\0';
	TAILQ_FOREACH(pj, &pjumps, entry)
		if (pj->id == r.reqid)
			break;
	if (pj == NULL)
		return;		/* timed out before */
	if (r.error != 0) {
		jump_finish(pj, r.error, r.errmsg[0] != '\0' ? r.errmsg :
		    "the jump host gave no reason");
		return;
	}
	fd = pj->fd;
	pj->fd = -1;
	log_debug("host \"%s\": channel open through \"%s\"", pj->target,
	    pj->via);
	TAILQ_REMOVE(&pjumps, pj, entry);
	evtimer_del(&pj->ev_timeout);
	pj->done(pj->arg, fd, 0, NULL);
	free(pj);
}

static void
jump_timeout(int fd, short event, void *arg)
{
	jump_finish(arg, ETIMEDOUT, "no answer from the ssh worker of the"
	    " jump host");
}

/* a failed request: our end is closed, the caller learns why */
static void
jump_finish(struct pjump *pj, int error, const char *why)
{
	TAILQ_REMOVE(&pjumps, pj, entry);
	evtimer_del(&pj->ev_timeout);
	if (pj->fd != -1)
		close(pj->fd);
	pj->done(pj->arg, -1, error, why);
	free(pj);
}
