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
 * descriptor it was given, as the port forwards do, and the same way
 * (ssh_fwdconn.c): the channel callbacks only queue bytes and set flags,
 * the event loop does the work, nothing blocks.  Back-pressure: toward T
 * the bytes wait in tolocal, and past JUMP_HIWAT the data callback takes
 * nothing more, so libssh keeps them and stops opening the window;
 * toward J at most the channel's window is read from the descriptor.
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

#define JUMP_CHUNK		(64 * 1024)
#define JUMP_HIWAT		(1024 * 1024)	/* held for a slow target */
#define JUMP_OPEN_SECS		30	/* room, connection and the open */
/* a window adjust seen inside another call leaves no event behind */
#define JUMP_RECHECK_MS		100

struct jpipe {
	TAILQ_ENTRY(jpipe)	 entry;
	uint32_t		 reqid;		/* the parent's */
	struct sshhost		*host;		/* ours, the jump host */
	struct sshopen		*op;		/* while the pool opens it */
	struct sshconn		*conn;		/* once open */
	ssh_channel		 ch;
	struct ssh_channel_callbacks_struct cb;
	char			 target[HOST_NAME_LEN];
	char			 addr[HOST_ADDR_LEN];
	uint16_t		 port;
	int			 fd;		/* our end of the socketpair */
	struct event		 ev_read;
	struct event		 ev_write;
	struct event		 ev_step;
	int			 rd_on;
	int			 wr_on;
	struct evbuffer		*tolocal;	/* from the channel */
	struct evbuffer		*toremote;	/* from the target's side */
	int			 ch_pending;	/* libssh holds data for us */
	int			 win_wait;	/* reading stopped: window shut */
	int			 local_eof;
	int			 eof_sent;
	int			 remote_eof;
	int			 remote_closed;
	int			 shut_wr;	/* EOF passed on to the target */
	uint64_t		 sent;		/* toward the target's host */
	uint64_t		 received;	/* back from it */
};

static void	 jump_reply(uint32_t, int, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static void	 jp_opened(void *, ssh_channel, struct sshconn *,
		    const char *);
static void	 jp_free(struct jpipe *, const char *);
static void	 jp_sched(struct jpipe *);
static void	 jp_recheck(struct jpipe *);
static void	 jp_step(int, short, void *);
static void	 jp_readable(int, short, void *);
static void	 jp_writable(int, short, void *);
static int	 jp_flush_remote(struct jpipe *);
static void	 jp_watch(struct event *, int *, int);
static int	 cb_data(ssh_session, ssh_channel, void *, uint32_t, int,
		    void *);
static void	 cb_eof(ssh_session, ssh_channel, void *);
static void	 cb_close(ssh_session, ssh_channel, void *);
static int	 cb_wontblock(ssh_session, ssh_channel, uint32_t, void *);

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
	jp->fd = fd;
	if ((jp->tolocal = evbuffer_new()) == NULL ||
	    (jp->toremote = evbuffer_new()) == NULL)
		fatal(NULL);
	evtimer_set(&jp->ev_step, jp_step, jp);
	event_set(&jp->ev_read, fd, EV_READ | EV_PERSIST, jp_readable, jp);
	event_set(&jp->ev_write, fd, EV_WRITE | EV_PERSIST, jp_writable, jp);
	ssh_callbacks_init(&jp->cb);
	jp->cb.userdata = jp;
	jp->cb.channel_data_function = cb_data;
	jp->cb.channel_eof_function = cb_eof;
	jp->cb.channel_close_function = cb_close;
	jp->cb.channel_write_wontblock_function = cb_wontblock;
	TAILQ_INSERT_TAIL(&jpipes, jp, entry);
	log_debug("host \"%s\": channel for \"%s\" to %s:%u requested",
	    host->name, jp->target, jp->addr, jp->port);
	/* done (jp_opened) runs from the event loop, never from here */
	jp->op = sshconn_open_tcpip(host, jp->addr, jp->port, &jp->cb,
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
	jp->ch = ch;
	jp->conn = conn;
	jump_reply(jp->reqid, 0, NULL);
	log_info("host \"%s\": channel to %s:%u open for \"%s\" (connection"
	    " %u)", jp->host->name, jp->addr, jp->port, jp->target, conn->id);
	jp_watch(&jp->ev_read, &jp->rd_on, 1);
	/* what came with the confirmation may be queued already */
	jp_sched(jp);
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
		else if (jp->conn == conn)
			jp_free(jp, "the jump host's connection was lost");
	}
}

/* packets of conn were processed: a shut window may have opened */
void
jump_poll(struct sshconn *conn)
{
	struct jpipe	*jp;

	TAILQ_FOREACH(jp, &jpipes, entry)
		if (jp->conn == conn && jp->ch != NULL && (jp->ch_pending ||
		    (jp->win_wait && ssh_channel_window_size(jp->ch) > 0)))
			jp_sched(jp);
}

static void
jp_watch(struct event *ev, int *cur, int on)
{
	if (on == *cur)
		return;
	if (on)
		event_add(ev, NULL);
	else
		event_del(ev);
	*cur = on;
}

static void
jp_sched(struct jpipe *jp)
{
	struct timeval	 tv = { 0, 0 };

	evtimer_add(&jp->ev_step, &tv);
}

static void
jp_recheck(struct jpipe *jp)
{
	struct timeval	 tv = { 0, JUMP_RECHECK_MS * 1000 };

	if (!evtimer_pending(&jp->ev_step, NULL))
		evtimer_add(&jp->ev_step, &tv);
}

/* channel callbacks: they may run inside any libssh call; queue, flag */
static int
cb_data(ssh_session s, ssh_channel ch, void *data, uint32_t len,
    int is_stderr, void *arg)
{
	struct jpipe	*jp = arg;

	if (is_stderr)
		return len;
	if (evbuffer_get_length(jp->tolocal) >= JUMP_HIWAT) {
		jp->ch_pending = 1;
		return 0;
	}
	if (evbuffer_add(jp->tolocal, data, len) == -1)
		fatal(NULL);
	jp->ch_pending = 0;
	jp->received += len;
	jp_sched(jp);
	return len;
}

static void
cb_eof(ssh_session s, ssh_channel ch, void *arg)
{
	struct jpipe	*jp = arg;

	jp->remote_eof = 1;
	jp_sched(jp);
}

static void
cb_close(ssh_session s, ssh_channel ch, void *arg)
{
	struct jpipe	*jp = arg;

	jp->remote_eof = 1;
	jp->remote_closed = 1;
	jp_sched(jp);
}

static int
cb_wontblock(ssh_session s, ssh_channel ch, uint32_t bytes, void *arg)
{
	jp_sched(arg);
	return 0;
}

/* toward J: what the window takes of what was read; -1: jp is gone */
static int
jp_flush_remote(struct jpipe *jp)
{
	ssh_session	 s = jp->conn->session;
	ssize_t		 n;
	int		 was;

	was = sshconn_nb_begin(s);
	if ((n = sshconn_chan_flush(jp->ch, jp->toremote, JUMP_CHUNK)) ==
	    -1) {
		sshconn_nb_end(s, was);
		jp_free(jp, "write to the jump channel failed");
		return -1;
	}
	jp->sent += n;
	if (evbuffer_get_length(jp->toremote) > 0) {
		jp->win_wait = 1;
		jp_recheck(jp);
	}
	if (evbuffer_get_length(jp->toremote) == 0 && jp->local_eof &&
	    !jp->eof_sent && !jp->remote_closed) {
		(void)ssh_channel_send_eof(jp->ch);
		jp->eof_sent = 1;
	}
	sshconn_nb_end(s, was);
	sshconn_want_write(jp->conn);
	return 0;
}

/* the target's side is readable: as much as the window takes */
static void
jp_readable(int fd, short event, void *arg)
{
	struct jpipe	*jp = arg;
	uint32_t	 win;
	size_t		 want;
	int		 n;

	if (evbuffer_get_length(jp->toremote) > 0 ||
	    (win = ssh_channel_window_size(jp->ch)) == 0) {
		/* the window is shut: jump_poll sees it open again */
		jp->win_wait = 1;
		jp_watch(&jp->ev_read, &jp->rd_on, 0);
		jp_recheck(jp);
		return;
	}
	want = win < JUMP_CHUNK ? win : JUMP_CHUNK;
	n = evbuffer_read(jp->toremote, fd, want);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		jp_free(jp, "read error on the tunnel socket");
		return;
	}
	if (n == 0) {
		jp->local_eof = 1;
		jp_watch(&jp->ev_read, &jp->rd_on, 0);
	}
	/* jp may be gone after this; it schedules what remains */
	(void)jp_flush_remote(jp);
}

static void
jp_writable(int fd, short event, void *arg)
{
	jp_step(fd, event, arg);
}

/*
 * From the event loop: move what is queued, pull what libssh kept back,
 * pass EOFs on, end the pipe when both directions are done.
 */
static void
jp_step(int fd, short event, void *arg)
{
	struct jpipe	*jp = arg;
	ssh_session	 s;
	static char	 buf[JUMP_CHUNK];
	int		 n, was;

	if (jp->ch == NULL)
		return;			/* not open yet: data waits */
	s = jp->conn->session;
	for (;;) {
		while (evbuffer_get_length(jp->tolocal) > 0 && !jp->shut_wr) {
			n = evbuffer_write(jp->tolocal, jp->fd);
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				break;
			if (n <= 0) {
				jp_free(jp, "the tunnelled connection went"
				    " away");
				return;
			}
		}
		if (evbuffer_get_length(jp->tolocal) > 0 || !jp->ch_pending)
			break;
		/* the target took it all: now what libssh kept */
		was = sshconn_nb_begin(s);
		n = ssh_channel_read_nonblocking(jp->ch, buf, sizeof(buf), 0);
		sshconn_nb_end(s, was);
		if (n <= 0) {
			jp->ch_pending = 0;
			break;
		}
		if (evbuffer_add(jp->tolocal, buf, n) == -1)
			fatal(NULL);
		jp->received += n;
		if ((size_t)n < sizeof(buf))
			jp->ch_pending = 0;
		sshconn_want_write(jp->conn);
	}
	jp_watch(&jp->ev_write, &jp->wr_on,
	    evbuffer_get_length(jp->tolocal) > 0);

	if (evbuffer_get_length(jp->toremote) > 0 &&
	    jp_flush_remote(jp) == -1)
		return;
	if (!jp->local_eof && !jp->remote_closed &&
	    evbuffer_get_length(jp->toremote) == 0) {
		if (ssh_channel_window_size(jp->ch) > 0) {
			jp->win_wait = 0;
			jp_watch(&jp->ev_read, &jp->rd_on, 1);
		} else {
			jp->win_wait = 1;
			jp_recheck(jp);
		}
	}

	if (jp->remote_eof && evbuffer_get_length(jp->tolocal) == 0 &&
	    !jp->ch_pending && !jp->shut_wr) {
		(void)shutdown(jp->fd, SHUT_WR);
		jp->shut_wr = 1;
	}
	if (jp->shut_wr && (jp->remote_closed || jp->eof_sent))
		jp_free(jp, "closed");
}

/*
 * End a pipe: the channel is closed and its place given back, our end
 * of the socketpair closed (the target sees EOF), a request not yet
 * answered answered with why.
 */
static void
jp_free(struct jpipe *jp, const char *why)
{
	ssh_session	 s;
	int		 was;

	evtimer_del(&jp->ev_step);
	jp_watch(&jp->ev_read, &jp->rd_on, 0);
	jp_watch(&jp->ev_write, &jp->wr_on, 0);
	if (jp->op != NULL) {
		sshconn_open_cancel(jp->op);
		jp->op = NULL;
	}
	if (jp->ch == NULL)
		jump_reply(jp->reqid, EHOSTUNREACH, "%s", why);
	else {
		s = jp->conn->session;
		if (s != NULL) {
			was = sshconn_nb_begin(s);
			sshconn_chclose(jp->conn, jp->ch, &jp->cb, 1);
			sshconn_nb_end(s, was);
			sshconn_want_write(jp->conn);
		} else
			ssh_remove_channel_callbacks(jp->ch, &jp->cb);
		jp->ch = NULL;
		log_info("host \"%s\": channel to %s:%u for \"%s\" ended (%s):"
		    " %llu bytes sent, %llu received", jp->host->name,
		    jp->addr, jp->port, jp->target, why,
		    (unsigned long long)jp->sent,
		    (unsigned long long)jp->received);
	}
	close(jp->fd);
	evbuffer_free(jp->tolocal);
	evbuffer_free(jp->toremote);
	TAILQ_REMOVE(&jpipes, jp, entry);
	free(jp);
}
