/*
 * ssh_jump.c: the ssh worker's half of "via" (ProxyJump), in the worker
 * of the jump host J.  On IMSG_JUMP_OPEN the parent hands over one end
 * of a socketpair and asks for a direct-tcpip channel to the address of
 * a host T that is reached via J.  The channel comes from J's pool like
 * any other (ssh_pool.c: it takes the place of a session, waits for room
 * or for a new connection, the first one included); once it is open we
 * answer IMSG_JUMP_OPENED and pump the channel to the descriptor until
 * either side closes.  The other end of the socketpair is T's session
 * socket, in T's own worker: we see only its ciphertext.
 *
 * The worker creates no socket: it moves bytes between a channel and a
 * descriptor it was given with a pump (ssh_pump.c), as the port forwards
 * do; nothing blocks, and toward T at most JUMP_HIWAT waits in the
 * worker before the channel's window stays shut.
 *
 * The parent asks only for hosts whose via is ours, and only the parent
 * can ask.  When the connection the channel is on dies, the descriptor
 * is closed and T's worker sees EOF; when T's worker closes its end, the
 * channel is closed and its place given back.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event.h>
#include <libssh/libssh.h>
#include <libssh/callbacks.h>

#include "bridged.h"
#include "imsg.h"
#include "log.h"
#include "ssh.h"
#include "ssh_pump.h"

#define JUMP_CHUNK		(64 * 1024)
#define JUMP_HIWAT		(1024 * 1024)	/* held for a slow target */
#define JUMP_OPEN_SECS		30	/* room, connection and the open */

struct jpipe {
	TAILQ_ENTRY(jpipe)	 entry;
	uint32_t		 reqid;		/* the parent's */
	struct sshhost		*host;		/* ours, the jump host */
	struct sshopen		*op;		/* while the pool opens it */
	struct pump		 pump;		/* the channel and fd */
	char			 target[HOST_NAME_LEN];
	char			 addr[HOST_ADDR_LEN];
	uint16_t		 port;
};

static void	 jump_reply(uint32_t, int, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static void	 jp_opened(void *, ssh_channel, struct sshconn *,
		    const char *);
static void	 jp_free(struct jpipe *, const char *);
static void	 jp_end(struct pump *, const char *);

static TAILQ_HEAD(, jpipe)	 jpipes = TAILQ_HEAD_INITIALIZER(jpipes);

static void
jump_reply(uint32_t reqid, int error, const char *fmt, ...)
{
	struct jump_reply	 r;
	va_list			 ap;

	memset(&r, 0, sizeof(r));
	r.reqid = reqid;
	r.error = error;
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(r.errmsg, sizeof(r.errmsg), fmt, ap);
		va_end(ap);
	}
	if (ssh_compose(PROC_PARENT, IMSG_JUMP_OPENED, 0, -1, &r,
	    sizeof(r)) == -1)
		log_warn("%s: the parent has gone", __func__);
}

/* a jump pipe open or opening keeps the worker from going idle */
int
jump_busy(void)
{
	return !TAILQ_EMPTY(&jpipes);
}

/* IMSG_JUMP_OPEN: struct jump_req and our end of the tunnel */
void
jump_open(struct imsg *imsg)
{
	struct jump_req	 req;
	struct sshhost	*host;
	struct jpipe	*jp;
	int		 fd = imsg->fd;

	imsg->fd = -1;
	if (imsg->datalen != sizeof(req))
		fatalx("bad IMSG_JUMP_OPEN size %zu", imsg->datalen);
	if (fd == -1)
		fatalx("IMSG_JUMP_OPEN without a descriptor");
	memcpy(&req, imsg->data, sizeof(req));
	req.target[sizeof(req.target) - 1] = '\0';
	req.addr[sizeof(req.addr) - 1] = '\0';

	/* a reload may have taken our host away since the parent asked */
	if ((host = ssh_host_byid(req.hostid)) == NULL ||
	    host->conf == NULL) {
		jump_reply(req.reqid, ENOENT, "the jump host (id %u) is no"
		    " longer configured", req.hostid);
		close(fd);
		return;
	}
	if ((jp = calloc(1, sizeof(*jp))) == NULL)
		fatal(NULL);
	jp->reqid = req.reqid;
	jp->host = host;
	strlcpy(jp->target, req.target, sizeof(jp->target));
	strlcpy(jp->addr, req.addr, sizeof(jp->addr));
	jp->port = req.port;
	/* the connection is the pool's choice, known when it is open */
	pump_init(&jp->pump, NULL, JUMP_CHUNK, JUMP_HIWAT,
	    "the tunnelled connection", NULL, jp_end, jp);
	jp->pump.fd = fd;
	TAILQ_INSERT_TAIL(&jpipes, jp, entry);
	log_debug("host \"%s\": channel for \"%s\" to %s:%u requested",
	    host->name, jp->target, jp->addr, jp->port);
	/* done (jp_opened) runs from the event loop, never from here */
	jp->op = sshconn_open_tcpip(host, jp->addr, jp->port, &jp->pump.cb,
	    JUMP_OPEN_SECS * 1000, jp_opened, jp);
}

/* the pool's answer: the channel, or why there is none */
static void
jp_opened(void *arg, ssh_channel ch, struct sshconn *conn, const char *why)
{
	struct jpipe	*jp = arg;

	jp->op = NULL;
	if (ch == NULL) {
		log_info("host \"%s\": no channel to %s:%u for \"%s\": %s",
		    jp->host->name, jp->addr, jp->port, jp->target, why);
		jp_free(jp, why);
		return;
	}
	jp->pump.ch = ch;
	jp->pump.conn = conn;
	jump_reply(jp->reqid, 0, NULL);
	log_info("host \"%s\": channel to %s:%u open for \"%s\" (connection"
	    " %u)", jp->host->name, jp->addr, jp->port, jp->target, conn->id);
	pump_start(&jp->pump);
}

/*
 * The connection conn died (NULL: the host is gone, every one of its):
 * the tunnels on it end.  Those being opened on it hear from the pool,
 * those waiting for room wait on.
 */
void
jump_conn_lost(struct sshhost *host, struct sshconn *conn)
{
	struct jpipe	*jp, *next;

	TAILQ_FOREACH_SAFE(jp, &jpipes, entry, next) {
		if (jp->host != host)
			continue;
		if (conn == NULL)
			jp_free(jp, "the jump host was removed from the"
			    " configuration");
		else if (jp->pump.ch != NULL && jp->pump.conn == conn)
			jp_free(jp, "the jump host's connection was lost");
	}
}

/* packets of conn were processed: a shut window may have opened */
void
jump_poll(struct sshconn *conn)
{
	struct jpipe	*jp;

	TAILQ_FOREACH(jp, &jpipes, entry)
		if (jp->pump.ch != NULL && jp->pump.conn == conn)
			pump_poll(&jp->pump);
}

static void
jp_end(struct pump *p, const char *why)
{
	jp_free(p->arg, why);
}

/*
 * End a pipe: the channel is closed and its place given back, our end
 * of the socketpair closed (the target sees EOF), a request not yet
 * answered answered with why.
 */
static void
jp_free(struct jpipe *jp, const char *why)
{
	if (jp->op != NULL) {
		sshconn_open_cancel(jp->op);
		jp->op = NULL;
	}
	if (jp->pump.ch == NULL)
		jump_reply(jp->reqid, EHOSTUNREACH, "%s", why);
	else
		log_info("host \"%s\": channel to %s:%u for \"%s\" ended (%s):"
		    " %llu bytes sent, %llu received", jp->host->name,
		    jp->addr, jp->port, jp->target, why,
		    (unsigned long long)jp->pump.sent,
		    (unsigned long long)jp->pump.received);
	pump_close(&jp->pump, 1);
	TAILQ_REMOVE(&jpipes, jp, entry);
	free(jp);
}
