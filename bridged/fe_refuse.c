/*
 * fe_refuse.c: clients over the session limit (limits { sessions }).  A
 * connection over the limit is not a session: it is not listed, holds
 * no line buffer and is served nothing.  Its first request is answered
 * by its own id (read in passing by the id scanner, fe_idscan.c) with
 * error -32000 "session limit N reached (limits { sessions })" and
 * data.closed, so that a client (bridgectl mcp, Claude Code) can say why
 * it was turned away; then the connection is closed.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event.h>
#include <jansson.h>

#include "bridged.h"
#include "frontend.h"
#include "log.h"
#include "fe_mcp.h"
#include "fe_tools.h"

#define REFUSE_WAIT_MS		5000	/* a refused client has this to ask */
#define REFUSE_MAX		16	/* refused clients waiting at once */
#define REFUSE_READ_CHUNK	(64 * 1024)

/* a client over the session limit, waiting to be told so */
struct mcp_refused {
	TAILQ_ENTRY(mcp_refused) entry;
	int			 fd;
	uid_t			 uid;
	pid_t			 pid;
	size_t			 nread;
	struct event		 evr;
	struct event		 evt;
	struct idscan		 scan;
};

static void	 refuse_read(int, short, void *);
static void	 refuse_timeout(int, short, void *);
static void	 refuse_answer(int, json_t *);
static void	 refuse_close(struct mcp_refused *);

static TAILQ_HEAD(, mcp_refused) refused = TAILQ_HEAD_INITIALIZER(refused);
static int		 nrefused;

/*
 * Clients over the session limit.  They hold a descriptor, one small
 * struct and no line buffer (their input goes through the id scanner)
 * for at most REFUSE_WAIT_MS and line_max bytes; at most REFUSE_MAX of
 * them wait at once, and one more is told at once, with id null.
 */
void
mcp_refuse_new(int fd, const struct ucred *cred)
{
	struct mcp_refused	*r;
	struct timeval		 tv = { REFUSE_WAIT_MS / 1000,
				    (REFUSE_WAIT_MS % 1000) * 1000 };

	if (nrefused >= REFUSE_MAX || (r = calloc(1, sizeof(*r))) == NULL) {
		refuse_answer(fd, NULL);
		close(fd);
		return;
	}
	r->fd = fd;
	r->uid = cred->uid;
	r->pid = cred->pid;
	idscan_init(&r->scan);
	event_set(&r->evr, fd, EV_READ | EV_PERSIST, refuse_read, r);
	evtimer_set(&r->evt, refuse_timeout, r);
	event_add(&r->evr, NULL);
	evtimer_add(&r->evt, &tv);
	TAILQ_INSERT_TAIL(&refused, r, entry);
	nrefused++;
}

static void
refuse_read(int fd, short ev, void *arg)
{
	static char		 buf[REFUSE_READ_CHUNK];
	struct mcp_refused	*r = arg;
	const char		*p, *nl;
	json_t			*id;
	ssize_t			 n;
	size_t			 piece;
	int			 notification;

	if ((n = read(fd, buf, sizeof(buf))) == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		refuse_close(r);
		return;
	}
	if (n == 0) {
		/* a last line without its newline still counts */
		if (r->nread > 0)
			refuse_answer(r->fd, idscan_end(&r->scan, NULL));
		refuse_close(r);
		return;
	}
	for (p = buf; n > 0; p += piece + 1, n -= piece + 1) {
		nl = memchr(p, '\n', n);
		piece = nl != NULL ? (size_t)(nl - p) : (size_t)n;
		r->nread += piece;
		idscan_feed(&r->scan, p, piece);
		if (r->nread > frontend_conf->limits.line_max) {
			refuse_answer(r->fd, NULL);
			refuse_close(r);
			return;
		}
		if (nl == NULL)
			break;
		id = idscan_end(&r->scan, &notification);
		if (notification || r->nread == 0) {
			/* never answered; blank lines are no request */
			idscan_init(&r->scan);
			r->nread = 0;
			continue;
		}
		log_info("MCP client uid %u pid %d told of the session limit",
		    (unsigned)r->uid, (int)r->pid);
		refuse_answer(r->fd, id);
		refuse_close(r);
		return;
	}
}

static void
refuse_timeout(int fd, short ev, void *arg)
{
	struct mcp_refused	*r = arg;

	refuse_answer(r->fd, NULL);
	refuse_close(r);
}

/*
 * Best effort, without waiting: the answer is small and the socket's
 * buffer empty.  data.closed tells bridgectl mcp (and any client that
 * looks) that this error ends the connection.
 */
static void
refuse_answer(int fd, json_t *id)
{
	struct iovec	 iov;
	struct msghdr	 mh;
	json_t		*m;
	char		*text, *line;
	int		 max = frontend_conf->limits.sessions_max;

	m = json_pack("{s:s, s:O, s:{s:i, s:o, s:{s:b, s:i}}}",
	    "jsonrpc", "2.0", "id", id != NULL ? id : json_null(),
	    "error", "code", -32000, "message", json_sprintf("session limit "
	    "%d reached (limits { sessions }): bridged serves at most %d MCP "
	    "session%s at once; close another or raise the limit in "
	    "bridged.conf", max, max, max == 1 ? "" : "s"),
	    "data", "closed", 1, "limit", max);
	if (m == NULL)
		return;
	text = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	if (text == NULL)
		return;
	if (asprintf(&line, "%s\n", text) == -1) {
		free(text);
		return;
	}
	free(text);
	iov.iov_base = line;
	iov.iov_len = strlen(line);
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	(void)sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	free(line);
}

static void
refuse_close(struct mcp_refused *r)
{
	event_del(&r->evr);
	evtimer_del(&r->evt);
	close(r->fd);
	idscan_clear(&r->scan);
	TAILQ_REMOVE(&refused, r, entry);
	nrefused--;
	free(r);
}

void
mcp_refused_close_all(void)
{
	struct mcp_refused	*r;

	while ((r = TAILQ_FIRST(&refused)) != NULL)
		refuse_close(r);
}
