/*
 * ssh_jump.c: the ssh worker's half of "via" (ProxyJump).  On
 * IMSG_JUMP_OPEN the parent hands over one end of a socketpair and asks
 * for a direct-tcpip channel, on one of our hosts (the jump host), to the
 * address of the host behind it.  We connect the jump host first if we
 * have to (ssh_conn.c asks the parent, which may go through the jump
 * host's own via), open the channel, answer IMSG_JUMP_OPENED, and pump
 * the channel to the descriptor until either side closes.  The other end
 * of the socketpair is the target's session socket, wherever that runs.
 * The worker creates no socket: it moves bytes between a channel and a
 * descriptor it was given, as the port forwards do.
 *
 * Nothing here blocks.  Back-pressure: toward the target the bytes wait
 * in tolocal, and past JUMP_HIWAT the channel callback takes nothing
 * more, so libssh keeps them and stops opening the window; toward the
 * jump host at most JUMP_HIWAT is read ahead of the channel's window,
 * then reading stops until the window opens.
 *
 * Two drivers.  libevent runs the pump from the event loop.  But the
 * target may be served by this same worker, its session blocking in a
 * libssh call (handshake, SFTP) while only this pump can bring its bytes:
 * that session is then in the jump host's ssh_event (ssh_conn.c), and so
 * are our descriptors, so that libssh's own poll runs the pump too (the
 * lp_* callbacks): the socket readable (lp_in), a dup of it writable
 * (lp_out), and a dup of the jump host's socket readable (lp_jw) while
 * the window is shut, since libssh tells no one of a window adjust; the
 * window is looked at in the round after (lp_out as a tick), when the
 * jump host's packets have surely been read.  In libssh's poll loop a
 * callback may only take itself out, and only when no libssh call of
 * ours is running (jump_depth 0); the rest is left to the event loop:
 * a pipe that ends in a callback is marked dead, and only the event loop
 * passes an EOF to the target or closes the socket (jp_step, jp_free),
 * after taking the target's session out of the jump host's event
 * (sshconn_detach): libssh fails whatever call is polling an event in
 * which a session sees its socket close, and that must be the target's.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event.h>
#include <libssh/libssh.h>
#include <libssh/callbacks.h>

#include "bridged.h"
#include "imsg.h"
#include "log.h"
#include "ssh.h"

#define JUMP_CHUNK		(64 * 1024)
#define JUMP_HIWAT		(1024 * 1024)	/* held on either side */
#define JUMP_OPEN_TIMEOUT	30		/* seconds for the open */
/* an open confirmation or a window adjust seen inside another call */
#define JUMP_RECHECK_MS		100

enum jp_state {
	JP_WAITHOST,		/* the jump host is being connected */
	JP_OPENING,		/* channel open sent */
	JP_OPEN,
};

struct jpipe {
	TAILQ_ENTRY(jpipe)	 entry;
	uint32_t		 reqid;		/* the parent's */
	struct sshhost		*host;		/* the jump host */
	char			 target[HOST_NAME_LEN];
	char			 addr[HOST_ADDR_LEN];
	uint16_t		 port;
	int			 state;		/* enum jp_state */
	int			 replied;	/* IMSG_JUMP_OPENED sent */
	int			 fd;		/* our end of the socketpair */
	int			 outfd;		/* a dup of it, for lp_out */
	int			 jfd;		/* a dup of the jump's socket */
	ssh_channel		 ch;
	struct ssh_channel_callbacks_struct cb;
	ssh_event		 sev;		/* where the lp_* polls are */
	int			 in_on;
	int			 out_on;
	int			 jw_on;
	int			 tick;		/* lp_out: look at the window */
	struct event		 ev_read;
	struct event		 ev_write;
	struct event		 ev_step;
	struct event		 ev_timeout;
	int			 rd_on;
	int			 wr_on;
	struct evbuffer		*tolocal;	/* from the channel */
	struct evbuffer		*toremote;	/* from the target's side */
	int			 chbusy;	/* in a libssh call on ch */
	uint32_t		 ch_held;	/* bytes libssh keeps for us */
	int			 win_wait;	/* toremote waits: window shut */
	int			 local_eof;
	int			 eof_sent;
	int			 remote_eof;
	int			 remote_closed;
	int			 shut_wr;	/* EOF passed on to the target */
	int			 dead;
	char			 why[HOST_ADDR_LEN + 160];
	uint64_t		 sent;		/* toward the target's host */
	uint64_t		 received;	/* back from it */
};

static int	 jump_allowed(struct sshhost *, const struct jump_req *,
		    char *, size_t);
static void	 jump_reply(uint32_t, int, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static void	 jp_open(struct jpipe *);
static void	 jp_try_open(struct jpipe *);
static void	 jp_opened(struct jpipe *);
static void	 jp_to_local(struct jpipe *);
static void	 jp_to_remote(struct jpipe *);
static void	 jp_arm(struct jpipe *);
static int	 jp_want_in(struct jpipe *);
static void	 jp_kill(struct jpipe *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static void	 jp_free(struct jpipe *);
static void	 jp_sched(struct jpipe *);
static void	 jp_recheck(struct jpipe *);
static void	 jp_step(int, short, void *);
static void	 jp_timeout(int, short, void *);
static void	 jp_readable(int, short, void *);
static void	 jp_writable(int, short, void *);
static int	 lp_in(socket_t, int, void *);
static int	 lp_out(socket_t, int, void *);
static int	 lp_jw(socket_t, int, void *);
static int	 lp_leave(struct jpipe *, int, int *);
static int	 cb_data(ssh_session, ssh_channel, void *, uint32_t, int,
		    void *);
static void	 cb_eof(ssh_session, ssh_channel, void *);
static void	 cb_close(ssh_session, ssh_channel, void *);
static int	 cb_wontblock(ssh_session, ssh_channel, uint32_t, void *);

static TAILQ_HEAD(, jpipe)	 jpipes = TAILQ_HEAD_INITIALIZER(jpipes);
static int			 jump_depth;	/* our libssh calls running */

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
		fatal("%s: compose", __func__);
}

/*
 * The parent is trusted more than we are; still, a channel is opened
 * only for a host our own config says is reached through this one.
 */
static int
jump_allowed(struct sshhost *host, const struct jump_req *req, char *err,
    size_t errlen)
{
	struct host	*t;

	if (ssh_conf == NULL ||
	    (t = config_host_byname(ssh_conf, req->target)) == NULL ||
	    strcmp(t->via, host->name) != 0 ||
	    strcmp(t->address, req->addr) != 0 ||
	    (t->port ? t->port : CONF_SSH_PORT) != req->port) {
		snprintf(err, errlen, "host \"%s\" is not configured to be"
		    " reached at %s:%u via \"%s\"", req->target, req->addr,
		    req->port, host->name);
		return -1;
	}
	return 0;
}

/* IMSG_JUMP_OPEN: struct jump_req and our end of the tunnel */
void
jump_open(struct imsg *imsg)
{
	struct jump_req	 req;
	struct sshhost	*host;
	struct jpipe	*jp;
	char		 err[512];
	int		 fd = imsg->fd, outfd, alive;

	imsg->fd = -1;
	if (imsg->datalen != sizeof(req))
		fatalx("bad IMSG_JUMP_OPEN size %zu", imsg->datalen);
	if (fd == -1)
		fatalx("IMSG_JUMP_OPEN without a descriptor");
	memcpy(&req, imsg->data, sizeof(req));
	req.target[sizeof(req.target) - 1] = '\0';
	req.addr[sizeof(req.addr) - 1] = '\0';

	if ((host = ssh_host_byid(req.hostid)) == NULL ||
	    host->conf == NULL) {
		jump_reply(req.reqid, ENOENT, "the jump host (id %u) is not"
		    " configured", req.hostid);
		close(fd);
		return;
	}
	if (jump_allowed(host, &req, err, sizeof(err)) == -1) {
		log_warnx("host \"%s\": jump request refused: %s", host->name,
		    err);
		jump_reply(req.reqid, EPERM, "%s", err);
		close(fd);
		return;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1 ||
	    (outfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		jump_reply(req.reqid, errno, "tunnel socket: %s",
		    strerror(errno));
		close(fd);
		return;
	}
	/* before jp exists: a dead session found here is torn down */
	alive = host->session != NULL && !sshconn_check(host);

	if ((jp = calloc(1, sizeof(*jp))) == NULL)
		fatal(NULL);
	jp->reqid = req.reqid;
	jp->host = host;
	strlcpy(jp->target, req.target, sizeof(jp->target));
	strlcpy(jp->addr, req.addr, sizeof(jp->addr));
	jp->port = req.port;
	jp->fd = fd;
	jp->outfd = outfd;
	jp->jfd = -1;
	if ((jp->tolocal = evbuffer_new()) == NULL ||
	    (jp->toremote = evbuffer_new()) == NULL)
		fatal(NULL);
	evtimer_set(&jp->ev_step, jp_step, jp);
	evtimer_set(&jp->ev_timeout, jp_timeout, jp);
	event_set(&jp->ev_read, fd, EV_READ | EV_PERSIST, jp_readable, jp);
	event_set(&jp->ev_write, fd, EV_WRITE | EV_PERSIST, jp_writable, jp);
	TAILQ_INSERT_TAIL(&jpipes, jp, entry);
	log_debug("host \"%s\": channel for \"%s\" to %s:%u requested",
	    host->name, jp->target, jp->addr, jp->port);
	if (alive)
		jp_open(jp);
	else {
		jp->state = JP_WAITHOST;
		sshconn_connect(host);
	}
}

/* the jump host is connected: open the channels that waited for it */
void
jump_host_up(struct sshhost *host)
{
	struct jpipe	*jp, *next;

	TAILQ_FOREACH_SAFE(jp, &jpipes, entry, next)
		if (jp->host == host && jp->state == JP_WAITHOST && !jp->dead)
			jp_open(jp);
}

/*
 * The jump host could not be connected, or its connection is going (the
 * session still exists): every pipe on it ends now, a request not yet
 * answered with why.  From the event loop.
 */
void
jump_host_down(struct sshhost *host, const char *why)
{
	struct jpipe	*jp, *next;

	TAILQ_FOREACH_SAFE(jp, &jpipes, entry, next) {
		if (jp->host != host)
			continue;
		if (!jp->dead)
			strlcpy(jp->why, why, sizeof(jp->why));
		jp_free(jp);
	}
}

/* packets of host were processed: opens and windows may have moved */
void
jump_poll(struct sshhost *host)
{
	struct jpipe	*jp, *next;

	TAILQ_FOREACH_SAFE(jp, &jpipes, entry, next) {
		if (jp->host != host || jp->dead)
			continue;
		if (jp->state == JP_OPENING)
			jp_try_open(jp);
		else if (jp->state == JP_OPEN && ((jp->win_wait &&
		    ssh_channel_window_size(jp->ch) > 0) || jp->ch_held))
			jp_sched(jp);
	}
}

static void
jp_open(struct jpipe *jp)
{
	struct timeval	 tv = { JUMP_OPEN_TIMEOUT, 0 };
	struct sshhost	*host = jp->host;

	if ((jp->ch = ssh_channel_new(host->session)) == NULL) {
		jp_kill(jp, "cannot make a channel on the jump host: %s",
		    ssh_get_error(host->session));
		return;
	}
	host->st.channels++;
	memset(&jp->cb, 0, sizeof(jp->cb));
	ssh_callbacks_init(&jp->cb);
	jp->cb.userdata = jp;
	jp->cb.channel_data_function = cb_data;
	jp->cb.channel_eof_function = cb_eof;
	jp->cb.channel_close_function = cb_close;
	jp->cb.channel_write_wontblock_function = cb_wontblock;
	ssh_set_channel_callbacks(jp->ch, &jp->cb);
	jp->sev = sshconn_event(host);
	jp->jfd = fcntl(ssh_get_fd(host->session), F_DUPFD_CLOEXEC, 0);
	jp->state = JP_OPENING;
	evtimer_add(&jp->ev_timeout, &tv);
	jp_try_open(jp);
}

/* the non-blocking direct-tcpip open, again until it is decided */
static void
jp_try_open(struct jpipe *jp)
{
	ssh_session	 s = jp->host->session;
	int		 was, rc;

	was = ssh_is_blocking(s);
	ssh_set_blocking(s, 0);
	jp->chbusy++;
	jump_depth++;
	rc = ssh_channel_open_forward(jp->ch, jp->addr, jp->port,
	    "127.0.0.1", 0);
	jump_depth--;
	jp->chbusy--;
	ssh_set_blocking(s, was);
	sshconn_want_write(jp->host);
	if (jp->dead)
		return;
	if (rc == SSH_AGAIN) {
		jp_recheck(jp);
		return;
	}
	if (rc != SSH_OK) {
		log_info("host \"%s\": channel to %s:%u for \"%s\" refused:"
		    " %s", jp->host->name, jp->addr, jp->port, jp->target,
		    ssh_get_error(s));
		jp_kill(jp, "the jump host refused the channel to %s:%u: %s",
		    jp->addr, jp->port, ssh_get_error(s));
		return;
	}
	jp_opened(jp);
}

static void
jp_opened(struct jpipe *jp)
{
	evtimer_del(&jp->ev_timeout);
	jp->state = JP_OPEN;
	jp->replied = 1;
	jump_reply(jp->reqid, 0, NULL);
	log_info("host \"%s\": channel to %s:%u open for \"%s\"",
	    jp->host->name, jp->addr, jp->port, jp->target);
	jp_arm(jp);
}

static void
jp_timeout(int fd, short event, void *arg)
{
	struct jpipe	*jp = arg;

	if (jp->state != JP_OPEN && !jp->dead) {
		jp_kill(jp, "the jump host did not open the channel to %s:%u"
		    " within %d seconds", jp->addr, jp->port,
		    JUMP_OPEN_TIMEOUT);
		jp_free(jp);
	}
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

/*
 * Toward the target: write what is queued, then what libssh kept back.
 * Safe anywhere, inside libssh callbacks too: the channel is read only
 * when no libssh call on it is running, and only as much as libssh is
 * known to hold, so the read never polls.
 */
static void
jp_to_local(struct jpipe *jp)
{
	ssh_session	 s = jp->host->session;
	char		 buf[JUMP_CHUNK];
	uint32_t	 want;
	int		 n, was;

	if (jp->dead || jp->state != JP_OPEN)
		return;
	for (;;) {
		while (evbuffer_get_length(jp->tolocal) > 0 && !jp->shut_wr) {
			n = evbuffer_write(jp->tolocal, jp->fd);
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				break;
			if (n <= 0) {
				jp_kill(jp, "the tunnelled connection went"
				    " away");
				return;
			}
		}
		if (evbuffer_get_length(jp->tolocal) > 0 ||
		    jp->ch_held == 0 || jp->chbusy || s == NULL)
			break;
		want = jp->ch_held < sizeof(buf) ? jp->ch_held : sizeof(buf);
		was = ssh_is_blocking(s);
		ssh_set_blocking(s, 0);
		jp->chbusy++;
		jump_depth++;
		n = ssh_channel_read_nonblocking(jp->ch, buf, want, 0);
		jump_depth--;
		jp->chbusy--;
		ssh_set_blocking(s, was);
		if (jp->dead)
			return;
		if (n <= 0) {
			jp->ch_held = 0;
			break;
		}
		if (evbuffer_add(jp->tolocal, buf, n) == -1)
			fatal(NULL);
		jp->received += n;
		jp->ch_held = (uint32_t)n < jp->ch_held ? jp->ch_held - n : 0;
	}
	/* the EOF goes to the target from the event loop (jp_step) */
	if (jp->remote_eof && evbuffer_get_length(jp->tolocal) == 0 &&
	    jp->ch_held == 0 && !jp->shut_wr)
		jp_sched(jp);
	/* both directions done, or the jump host closed and all is out */
	if (jp->shut_wr && (jp->remote_closed || jp->eof_sent)) {
		jp_kill(jp, "closed");
		return;
	}
	jp_arm(jp);
}

/*
 * Toward the jump host: read ahead from the target's side, write what
 * the channel's window takes.  Never waits.
 */
static void
jp_to_remote(struct jpipe *jp)
{
	ssh_session	 s = jp->host->session;
	size_t		 len;
	uint32_t	 win;
	int		 n, was;

	if (jp->dead || jp->chbusy || jp->state != JP_OPEN || s == NULL)
		return;
	jp->chbusy++;
	jump_depth++;
	was = ssh_is_blocking(s);
	ssh_set_blocking(s, 0);
	if (jp_want_in(jp)) {
		n = evbuffer_read(jp->toremote, jp->fd, JUMP_CHUNK);
		if (n == 0)
			jp->local_eof = 1;
		else if (n == -1 && errno != EAGAIN && errno != EINTR) {
			jp_kill(jp, "read error on the tunnel socket: %s",
			    strerror(errno));
			goto out;
		}
	}
	while ((len = evbuffer_get_length(jp->toremote)) > 0 &&
	    (win = ssh_channel_window_size(jp->ch)) > 0) {
		if (len > win)
			len = win;
		if (len > JUMP_CHUNK)
			len = JUMP_CHUNK;
		n = ssh_channel_write(jp->ch, evbuffer_pullup(jp->toremote,
		    len), len);
		if (jp->dead)
			goto out;
		if (n == SSH_ERROR) {
			jp_kill(jp, "write to the jump channel failed: %s",
			    ssh_get_error(s));
			goto out;
		}
		if (n <= 0)
			break;
		evbuffer_drain(jp->toremote, n);
		jp->sent += n;
	}
	jp->win_wait = evbuffer_get_length(jp->toremote) > 0;
	if (!jp->win_wait && jp->local_eof && !jp->eof_sent &&
	    !jp->remote_closed) {
		(void)ssh_channel_send_eof(jp->ch);
		jp->eof_sent = 1;
	}
 out:
	ssh_set_blocking(s, was);
	jump_depth--;
	jp->chbusy--;
	sshconn_want_write(jp->host);
	/* what could not be done while busy: the data libssh kept */
	jp_to_local(jp);
}

/* the target's side is worth reading */
static int
jp_want_in(struct jpipe *jp)
{
	return !jp->dead && jp->state == JP_OPEN && !jp->local_eof &&
	    evbuffer_get_length(jp->toremote) < JUMP_HIWAT;
}

/*
 * Watch what can make progress.  The lp_* polls are only added here;
 * they take themselves out, or jp_free does.
 */
static void
jp_arm(struct jpipe *jp)
{
	int	 rd, wr, jw;

	rd = jp_want_in(jp) && jp->host->session != NULL;
	wr = !jp->dead && evbuffer_get_length(jp->tolocal) > 0;
	jw = !jp->dead && jp->win_wait;
	if (jw)
		jp_recheck(jp);		/* jump_poll may not see it */
	if (rd != jp->rd_on) {
		if (rd)
			event_add(&jp->ev_read, NULL);
		else
			event_del(&jp->ev_read);
		jp->rd_on = rd;
	}
	if (wr != jp->wr_on) {
		if (wr)
			event_add(&jp->ev_write, NULL);
		else
			event_del(&jp->ev_write);
		jp->wr_on = wr;
	}
	if (jp->sev == NULL)
		return;
	if (rd && !jp->in_on && ssh_event_add_fd(jp->sev, jp->fd, POLLIN,
	    lp_in, jp) == SSH_OK)
		jp->in_on = 1;
	if ((wr || jp->tick) && !jp->out_on && ssh_event_add_fd(jp->sev,
	    jp->outfd, POLLOUT, lp_out, jp) == SSH_OK)
		jp->out_on = 1;
	if (jw && jp->jfd != -1 && !jp->jw_on && ssh_event_add_fd(jp->sev,
	    jp->jfd, POLLIN, lp_jw, jp) == SSH_OK)
		jp->jw_on = 1;
}

/*
 * A libssh poll with nothing to do takes itself out (-1 tells libssh),
 * unless one of our libssh calls is running: then its poll is a single
 * non-blocking round and the poll goes at the next.
 */
static int
lp_leave(struct jpipe *jp, int fd, int *on)
{
	if (jump_depth > 0)
		return 0;
	ssh_event_remove_fd(jp->sev, fd);
	*on = 0;
	if (jp->dead)
		jp_sched(jp);
	return -1;
}

/* libssh's poll: the target's side is readable */
static int
lp_in(socket_t fd, int revents, void *arg)
{
	struct jpipe	*jp = arg;

	if (!jp->chbusy)
		jp_to_remote(jp);
	if (!jp_want_in(jp))
		return lp_leave(jp, jp->fd, &jp->in_on);
	return 0;
}

/* libssh's poll: the target's side is writable, or a tick is due */
static int
lp_out(socket_t fd, int revents, void *arg)
{
	struct jpipe	*jp = arg;

	if (jp->tick) {
		/* the jump host's packets of the last round are read */
		jp->tick = 0;
		if (jp->win_wait && ssh_channel_window_size(jp->ch) > 0)
			jp_to_remote(jp);
	}
	jp_to_local(jp);
	if (jp->dead || (evbuffer_get_length(jp->tolocal) == 0 && !jp->tick))
		return lp_leave(jp, jp->outfd, &jp->out_on);
	return 0;
}

/*
 * libssh's poll: the jump host's socket is readable while our window is
 * shut.  Its packets may be read after this callback in the same round,
 * so the window is looked at now and, by lp_out, in the next round.
 */
static int
lp_jw(socket_t fd, int revents, void *arg)
{
	struct jpipe	*jp = arg;
	ssh_session	 s = jp->host->session;

	if (s == NULL || !ssh_is_connected(s) ||
	    (ssh_get_status(s) & (SSH_CLOSED | SSH_CLOSED_ERROR)))
		jp_kill(jp, "the jump host's connection was lost");
	else if (jp->win_wait && ssh_channel_window_size(jp->ch) > 0)
		jp_to_remote(jp);
	else if (jp->win_wait) {
		jp->tick = 1;
		jp_arm(jp);
	}
	if (jp->dead || !jp->win_wait)
		return lp_leave(jp, jp->jfd, &jp->jw_on);
	return 0;
}

static void
jp_readable(int fd, short event, void *arg)
{
	jp_to_remote(arg);
}

static void
jp_writable(int fd, short event, void *arg)
{
	jp_to_local(arg);
}

/* from the event loop: free the dead, open, move what waits */
static void
jp_step(int fd, short event, void *arg)
{
	struct jpipe	*jp = arg;

	if (jp->dead) {
		jp_free(jp);
		return;
	}
	switch (jp->state) {
	case JP_OPENING:
		jp_try_open(jp);
		break;
	case JP_OPEN:
		if (jp->remote_eof && evbuffer_get_length(jp->tolocal) == 0 &&
		    jp->ch_held == 0 && !jp->shut_wr) {
			/*
			 * Out of the jump host's event first: the target's
			 * session seeing EOF there would fail the call that
			 * is polling, whichever session it is on.
			 */
			sshconn_detach(jp->target);
			(void)shutdown(jp->fd, SHUT_WR);
			jp->shut_wr = 1;
		}
		jp_to_remote(jp);
		if (jp->dead)
			jp_free(jp);
		break;
	}
}

/* channel callbacks: they may run inside any libssh call; no reads */
static int
cb_data(ssh_session s, ssh_channel ch, void *data, uint32_t len,
    int is_stderr, void *arg)
{
	struct jpipe	*jp = arg;

	if (is_stderr || jp->dead)
		return len;
	if (evbuffer_get_length(jp->tolocal) >= JUMP_HIWAT) {
		/* libssh offers all it holds: that is what it keeps */
		jp->ch_held = len;
		jp_arm(jp);
		return 0;
	}
	if (evbuffer_add(jp->tolocal, data, len) == -1)
		fatal(NULL);
	jp->ch_held = 0;
	jp->received += len;
	/* now: the target may be waiting for it inside a blocking call */
	jp->chbusy++;
	jp_to_local(jp);
	jp->chbusy--;
	return len;
}

static void
cb_eof(ssh_session s, ssh_channel ch, void *arg)
{
	struct jpipe	*jp = arg;

	jp->remote_eof = 1;
	jp->chbusy++;
	jp_to_local(jp);
	jp->chbusy--;
	jp_sched(jp);
}

static void
cb_close(ssh_session s, ssh_channel ch, void *arg)
{
	struct jpipe	*jp = arg;

	jp->remote_eof = 1;
	jp->remote_closed = 1;
	jp->chbusy++;
	jp_to_local(jp);
	jp->chbusy--;
	jp_sched(jp);
}

static int
cb_wontblock(ssh_session s, ssh_channel ch, uint32_t bytes, void *arg)
{
	jp_sched(arg);
	return 0;
}

/* mark the pipe dead, with why; the event loop frees it */
static void
jp_kill(struct jpipe *jp, const char *fmt, ...)
{
	va_list	 ap;

	if (jp->dead)
		return;
	jp->dead = 1;
	va_start(ap, fmt);
	vsnprintf(jp->why, sizeof(jp->why), fmt, ap);
	va_end(ap);
	jp_sched(jp);
}

/*
 * From the event loop only.  The target's session leaves the jump host's
 * event before its socket closes; a request not answered yet gets why.
 */
static void
jp_free(struct jpipe *jp)
{
	struct sshhost	*host = jp->host;
	ssh_session	 s = host->session;
	int		 was;

	evtimer_del(&jp->ev_step);
	evtimer_del(&jp->ev_timeout);
	if (jp->rd_on)
		event_del(&jp->ev_read);
	if (jp->wr_on)
		event_del(&jp->ev_write);
	if (jp->in_on)
		ssh_event_remove_fd(jp->sev, jp->fd);
	if (jp->out_on)
		ssh_event_remove_fd(jp->sev, jp->outfd);
	if (jp->jw_on)
		ssh_event_remove_fd(jp->sev, jp->jfd);
	if (jp->state == JP_OPEN)
		sshconn_detach(jp->target);
	if (!jp->replied)
		jump_reply(jp->reqid, EHOSTUNREACH, "%s", jp->why[0] ?
		    jp->why : "the jump channel closed");
	if (jp->ch != NULL) {
		ssh_remove_channel_callbacks(jp->ch, &jp->cb);
		if (s != NULL) {
			was = ssh_is_blocking(s);
			ssh_set_blocking(s, 0);
			ssh_channel_free(jp->ch);
			ssh_set_blocking(s, was);
			sshconn_want_write(host);
		}
		jp->ch = NULL;
		if (host->st.channels > 0)
			host->st.channels--;
	}
	close(jp->fd);
	close(jp->outfd);
	if (jp->jfd != -1)
		close(jp->jfd);
	if (jp->state == JP_OPEN)
		log_info("host \"%s\": channel to %s:%u for \"%s\" ended (%s):"
		    " %llu bytes sent, %llu received", host->name, jp->addr,
		    jp->port, jp->target, jp->why[0] ? jp->why : "closed",
		    (unsigned long long)jp->sent,
		    (unsigned long long)jp->received);
	evbuffer_free(jp->tolocal);
	evbuffer_free(jp->toremote);
	TAILQ_REMOVE(&jpipes, jp, entry);
	free(jp);
}
