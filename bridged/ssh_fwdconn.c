/*
 * ssh_fwdconn.c: the connections on the ssh worker's port forwards
 * (ssh_fwd.c): a local forward's accepted sockets joined to direct-tcpip
 * channels, a remote forward's forwarded-tcpip channels joined to the
 * parent's local connections, and the bytes between them.
 *
 * The worker never blocks on a forwarded byte.  The session stays in
 * libssh's blocking mode for the other tools; every forward operation
 * switches it to non-blocking for the call (nb_begin/nb_end).  Data from
 * the channel arrives in the channel callbacks, which may run inside any
 * libssh call of any tool: they only queue bytes and set flags, and the
 * work is done by conn_step from the event loop.  Back-pressure:
 *
 *   ssh -> local: the bytes wait in tolocal while the local socket is
 *	full; past FWD_HIWAT the data callback takes nothing more, libssh
 *	keeps it and stops opening the window, so the remote side stops.
 *   local -> ssh: at most the channel's window is read from the local
 *	socket; when the window is shut, reading stops until libssh says
 *	the window opened again (channel_write_wontblock).
 *
 * EOF travels both ways (shutdown(SHUT_WR) on the local socket, channel
 * EOF on the ssh side); a connection ends when both directions have, or
 * either side closed or failed.  Each one ends with a record.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event.h>
#include <jansson.h>
#include <libssh/libssh.h>
#include <libssh/callbacks.h>
#include <libssh/server.h>

#include "bridged.h"
#include "imsg.h"
#include "log.h"
#include "ssh.h"
#include "ssh_fwd.h"

#define FWD_CHUNK		(256 * 1024)
#define FWD_HIWAT		(512 * 1024)	/* held for a slow local side */
#define FWD_OPEN_TIMEOUT	30		/* seconds for a channel open */
/*
 * A channel's open confirmation or window adjust may be processed inside
 * another tool's blocking libssh call, where no event tells us: a
 * connection waiting for either looks again this often (ms).
 */
#define FWD_RECHECK_MS		100

static void	 conn_refused(struct fwd *, const char *, const char *);
static struct fconn *conn_new(struct fwd *, int, const char *);
static void	 conn_start(struct fconn *);
static void	 conn_opened(struct fconn *);
static void	 conn_try_open(struct fconn *);
static void	 conn_sched(struct fconn *);
static void	 conn_recheck(struct fconn *);
static void	 conn_step(int, short, void *);
static void	 conn_readable(int, short, void *);
static void	 conn_writable(int, short, void *);
static void	 conn_timeout(int, short, void *);
static int	 conn_flush_remote(struct fconn *);
static void	 conn_watch(struct fconn *, struct event *, int *, int);
static void	 conn_set_read(struct fconn *, int);
static void	 conn_set_write(struct fconn *, int);
static int	 cb_data(ssh_session, ssh_channel, void *, uint32_t, int,
		    void *);
static void	 cb_eof(ssh_session, ssh_channel, void *);
static void	 cb_close(ssh_session, ssh_channel, void *);
static int	 cb_wontblock(ssh_session, ssh_channel, uint32_t, void *);

static uint32_t		 conn_nextid;

/* the session's mode for the other tools is blocking: keep it */
#define nb_begin(s)	sshconn_nb_begin(s)
#define nb_end(s, w)	sshconn_nb_end((s), (w))

/* a connection the limit (or a lost host) turned away: only a record */
static void
conn_refused(struct fwd *f, const char *peer, const char *why)
{
	f->nrefused++;
	fwd_record_send(json_pack("{s:s, s:I, s:I, s:s, s:s, s:s}",
	    "type", "forward_conn", "forward", (json_int_t)f->id,
	    "session", (json_int_t)f->sessid, "host", f->host->name,
	    "peer", peer, "end", why));
}

/* a connection to a local forward's socket: open a channel for it */
void
fwd_accept(int fd, short event, void *arg)
{
	struct fwd		*f = arg;
	struct fconn		*fc;
	struct sockaddr_storage	 ss;
	socklen_t		 slen = sizeof(ss);
	char			 addr[INET6_ADDRSTRLEN], peer[sizeof(fc->peer)];
	int			 s, pport = 0;

	if ((s = accept4(fd, (struct sockaddr *)&ss, &slen, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) == -1) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("forward %u: accept", f->id);
		return;
	}
	addr[0] = '\0';
	if (ss.ss_family == AF_INET) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr,
		    addr, sizeof(addr));
		pport = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr,
		    addr, sizeof(addr));
		pport = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	snprintf(peer, sizeof(peer), "%s:%d", addr[0] ? addr : "?", pport);
	if (f->conn->session == NULL || f->nactive >=
	    (uint32_t)f->host->conf->fwd_conns_max) {
		conn_refused(f, peer, f->conn->session == NULL ?
		    "refused: host not connected" :
		    "refused: connection limit (forward connections)");
		log_info("forward %u: connection from %s refused: %s", f->id,
		    peer, f->conn->session == NULL ? "host not connected" :
		    "connection limit");
		close(s);
		return;
	}
	fc = conn_new(f, s, peer);
	if ((fc->ch = ssh_channel_new(f->conn->session)) == NULL) {
		conn_free(fc, "cannot make a channel");
		return;
	}
	/* direct-tcpip: not a session, sshd's MaxSessions does not count it */
	sshconn_chadd(f->conn);
	conn_start(fc);
	fc->state = CONN_OPENING;
	conn_try_open(fc);
}
static struct fconn *
conn_new(struct fwd *f, int fd, const char *peer)
{
	struct fconn	*fc;
	struct timeval	 tv = { FWD_OPEN_TIMEOUT, 0 };

	if ((fc = calloc(1, sizeof(*fc))) == NULL)
		fatal(NULL);
	if (++conn_nextid == 0)
		conn_nextid = 1;
	fc->id = conn_nextid;
	fc->fwd = f;
	fc->fd = fd;
	strlcpy(fc->peer, peer, sizeof(fc->peer));
	if ((fc->tolocal = evbuffer_new()) == NULL ||
	    (fc->toremote = evbuffer_new()) == NULL)
		fatal(NULL);
	clock_gettime(CLOCK_MONOTONIC, &fc->start);
	evtimer_set(&fc->ev_step, conn_step, fc);
	evtimer_set(&fc->ev_timeout, conn_timeout, fc);
	evtimer_add(&fc->ev_timeout, &tv);
	f->nactive++;
	f->ntotal++;
	TAILQ_INSERT_TAIL(&f->conns, fc, entry);
	return fc;
}

/* callbacks on the channel; the local socket's events once it is there */
static void
conn_start(struct fconn *fc)
{
	memset(&fc->cb, 0, sizeof(fc->cb));
	ssh_callbacks_init(&fc->cb);
	fc->cb.userdata = fc;
	fc->cb.channel_data_function = cb_data;
	fc->cb.channel_eof_function = cb_eof;
	fc->cb.channel_close_function = cb_close;
	fc->cb.channel_write_wontblock_function = cb_wontblock;
	ssh_set_channel_callbacks(fc->ch, &fc->cb);
}

/* the channel and the local socket are both there: bytes may move */
static void
conn_opened(struct fconn *fc)
{
	evtimer_del(&fc->ev_timeout);
	fc->state = CONN_OPEN;
	event_set(&fc->ev_read, fc->fd, EV_READ | EV_PERSIST, conn_readable,
	    fc);
	event_set(&fc->ev_write, fc->fd, EV_WRITE | EV_PERSIST,
	    conn_writable, fc);
	conn_set_read(fc, 1);
	conn_sched(fc);
}

/* local: (re)try the non-blocking direct-tcpip open */
static void
conn_try_open(struct fconn *fc)
{
	struct fwd	*f = fc->fwd;
	ssh_session	 s = f->conn->session;
	char		 addr[HOST_ADDR_LEN], *p;
	int		 was, rc, pport = 0;

	strlcpy(addr, fc->peer, sizeof(addr));
	if ((p = strrchr(addr, ':')) != NULL) {
		*p = '\0';
		pport = atoi(p + 1);
	}
	was = nb_begin(s);
	rc = ssh_channel_open_forward(fc->ch, f->dest_host, f->dest_port,
	    addr, pport);
	nb_end(s, was);
	sshconn_want_write(f->conn);
	if (rc == SSH_AGAIN) {
		conn_recheck(fc);
		return;
	}
	if (rc != SSH_OK) {
		log_info("forward %u: %s:%u from %s: the host refused the"
		    " channel: %s", f->id, f->dest_host, f->dest_port,
		    fc->peer, sshconn_error(s, "open failed"));
		conn_free(fc, "refused by the host (destination unreachable"
		    " or forwarding not allowed)");
		return;
	}
	conn_opened(fc);
}

static void
conn_timeout(int fd, short event, void *arg)
{
	struct fconn	*fc = arg;

	if (fc->state != CONN_OPEN)
		conn_free(fc, "timed out opening");
}

/* the ssh worker processed packets of conn: channels being opened */
void
forward_poll(struct sshconn *conn)
{
	struct fwd	*f, *nf;
	struct fconn	*fc, *nfc;

	TAILQ_FOREACH_SAFE(f, &fwds, entry, nf) {
		if (f->conn != conn)
			continue;
		TAILQ_FOREACH_SAFE(fc, &f->conns, entry, nfc) {
			if (fc->state == CONN_OPENING)
				conn_try_open(fc);
			else if (fc->win_wait && fc->ch != NULL &&
			    ssh_channel_window_size(fc->ch) > 0) {
				/* a window adjust came in: libssh tells no one */
				fc->win_wait = 0;
				conn_sched(fc);
			}
		}
	}
}
/*
 * Remote: the sshd opens a forwarded-tcpip channel for a connection to
 * the port it listens on.  1: not ours, libssh refuses it.
 */
int
fwd_message(ssh_session s, ssh_message msg, void *arg)
{
	struct sshconn	*conn = arg;
	struct sshhost	*host = conn->host;
	struct fwd	*f;
	struct fconn	*fc;
	struct fwd_req	 req;
	ssh_channel	 ch;
	char		 peer[HOST_ADDR_LEN + 8];
	const char	*orig;
	int		 port;

	if (ssh_message_type(msg) != SSH_REQUEST_CHANNEL_OPEN ||
	    ssh_message_subtype(msg) != SSH_CHANNEL_FORWARDED_TCPIP)
		return 1;
	port = ssh_message_channel_request_open_destination_port(msg);
	TAILQ_FOREACH(f, &fwds, entry)
		if (f->conn == conn && f->dir == FWD_FROM_REMOTE &&
		    f->state == FWD_ACTIVE &&
		    f->listen_port == port)
			break;
	if (f == NULL)
		return 1;
	orig = ssh_message_channel_request_open_originator(msg);
	snprintf(peer, sizeof(peer), "%s:%d", orig ? orig : "?",
	    ssh_message_channel_request_open_originator_port(msg));
	if (f->nactive >= (uint32_t)host->conf->fwd_conns_max) {
		conn_refused(f, peer,
		    "refused: connection limit (forward connections)");
		return 1;
	}
	if ((ch = ssh_message_channel_request_open_reply_accept(msg)) == NULL)
		return 0;
	fc = conn_new(f, -1, peer);
	fc->ch = ch;
	sshconn_chadd(conn);
	fc->state = CONN_WAITFD;
	conn_start(fc);
	memset(&req, 0, sizeof(req));
	req.reqid = fc->id;
	req.hostid = host->st.hostid;
	strlcpy(req.addr, f->dest_host, sizeof(req.addr));
	req.port = f->dest_port;
	if (ssh_compose(PROC_PARENT, IMSG_FWD_CONNECT, fc->id, -1, &req,
	    sizeof(req)) == -1)
		fatal("%s: compose", __func__);
	return 0;
}
/* IMSG_FWD_CONNECTED: the local end of a reverse-forwarded channel */
void
forward_connected(struct imsg *imsg)
{
	struct fwd_reply	 r;
	struct fwd		*f;
	struct fconn		*fc = NULL;
	char			 why[300];
	int			 fd;

	fd = fwd_reply_get(imsg, &r, "IMSG_FWD_CONNECTED");
	TAILQ_FOREACH(f, &fwds, entry) {
		TAILQ_FOREACH(fc, &f->conns, entry)
			if (fc->id == r.reqid)
				break;
		if (fc != NULL)
			break;
	}
	if (fc == NULL || fc->state != CONN_WAITFD) {
		if (fd != -1)
			close(fd);
		return;
	}
	if (r.error != 0 || fd == -1) {
		if (fd != -1)
			close(fd);
		snprintf(why, sizeof(why), "local connect failed: %s",
		    r.errmsg);
		log_info("forward %u: %s", fc->fwd->id, why);
		conn_free(fc, why);
		return;
	}
	fc->fd = fd;
	conn_opened(fc);
}

/* watch the local socket for ev, or stop; *cur: whether it does now */
static void
conn_watch(struct fconn *fc, struct event *ev, int *cur, int on)
{
	if (fc->fd == -1 || on == *cur)
		return;
	if (on)
		event_add(ev, NULL);
	else
		event_del(ev);
	*cur = on;
}

static void
conn_set_read(struct fconn *fc, int on)
{
	conn_watch(fc, &fc->ev_read, &fc->rd_on, on);
}

static void
conn_set_write(struct fconn *fc, int on)
{
	conn_watch(fc, &fc->ev_write, &fc->wr_on, on);
}

static void
conn_sched(struct fconn *fc)
{
	struct timeval	 tv = { 0, 0 };

	evtimer_add(&fc->ev_step, &tv);
}

static void
conn_recheck(struct fconn *fc)
{
	struct timeval	 tv = { 0, FWD_RECHECK_MS * 1000 };

	if (!evtimer_pending(&fc->ev_step, NULL))
		evtimer_add(&fc->ev_step, &tv);
}

/* channel callbacks: they may run inside any libssh call; queue, flag */
static int
cb_data(ssh_session s, ssh_channel ch, void *data, uint32_t len,
    int is_stderr, void *arg)
{
	struct fconn	*fc = arg;

	if (is_stderr)
		return len;
	if (evbuffer_get_length(fc->tolocal) >= FWD_HIWAT) {
		fc->ch_pending = 1;
		return 0;
	}
	if (evbuffer_add(fc->tolocal, data, len) == -1)
		fatal(NULL);
	fc->ch_pending = 0;
	fc->received += len;
	fc->fwd->received += len;
	conn_sched(fc);
	return len;
}

static void
cb_eof(ssh_session s, ssh_channel ch, void *arg)
{
	struct fconn	*fc = arg;

	fc->remote_eof = 1;
	conn_sched(fc);
}

static void
cb_close(ssh_session s, ssh_channel ch, void *arg)
{
	struct fconn	*fc = arg;

	fc->remote_eof = 1;
	fc->remote_closed = 1;
	conn_sched(fc);
}

static int
cb_wontblock(ssh_session s, ssh_channel ch, uint32_t bytes, void *arg)
{
	conn_sched(arg);
	return 0;
}

/* local -> ssh: what the window takes of what was read; -1: fc is gone */
static int
conn_flush_remote(struct fconn *fc)
{
	struct fwd	*f = fc->fwd;
	ssh_session	 s = f->conn->session;
	ssize_t		 n;
	int		 was;

	if (s == NULL)
		return 0;
	was = nb_begin(s);
	if ((n = sshconn_chan_flush(fc->ch, fc->toremote, FWD_CHUNK)) == -1) {
		nb_end(s, was);
		conn_free(fc, "write to the channel failed");
		return -1;
	}
	fc->sent += n;
	f->sent += n;
	if (evbuffer_get_length(fc->toremote) > 0) {
		fc->win_wait = 1;
		conn_recheck(fc);
	}
	if (evbuffer_get_length(fc->toremote) == 0 && fc->local_eof &&
	    !fc->eof_sent && !fc->remote_closed) {
		(void)ssh_channel_send_eof(fc->ch);
		fc->eof_sent = 1;
	}
	nb_end(s, was);
	sshconn_want_write(f->conn);
	return 0;
}

static void
conn_readable(int fd, short event, void *arg)
{
	struct fconn		*fc = arg;
	struct evbuffer_iovec	 v;
	uint32_t		 win;
	size_t			 want;
	ssize_t			 n;

	if (evbuffer_get_length(fc->toremote) > 0 || fc->ch == NULL ||
	    (win = ssh_channel_window_size(fc->ch)) == 0) {
		/* the window is shut: forward_poll sees it open again */
		fc->win_wait = 1;
		conn_set_read(fc, 0);
		conn_recheck(fc);
		return;
	}
	want = win < FWD_CHUNK ? win : FWD_CHUNK;
	/*
	 * Straight into the buffer, as much as the window takes:
	 * evbuffer_read() reads at most 4 KiB a call, which made a loop turn
	 * (and an SSH packet) of every 4 KiB.
	 */
	if (evbuffer_reserve_space(fc->toremote, want, &v, 1) != 1)
		fatal("evbuffer_reserve_space");
	n = read(fd, v.iov_base, want < v.iov_len ? want : v.iov_len);
	if (n > 0) {
		v.iov_len = n;
		if (evbuffer_commit_space(fc->toremote, &v, 1) == -1)
			fatal("evbuffer_commit_space");
	}
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		conn_free(fc, "read error on the local socket");
		return;
	}
	if (n == 0) {
		fc->local_eof = 1;
		conn_set_read(fc, 0);
	}
	conn_flush_remote(fc);
	/* conn_flush_remote may have freed fc: it is scheduled otherwise */
}

static void
conn_writable(int fd, short event, void *arg)
{
	conn_step(fd, event, arg);
}

/*
 * The state machine, from the event loop: move what is queued, pull what
 * libssh kept back, pass EOFs on, end the connection when it is done.
 */
static void
conn_step(int fd, short event, void *arg)
{
	struct fconn	*fc = arg;
	ssh_session	 s = fc->fwd->conn->session;
	static char	 buf[FWD_CHUNK];
	int		 n, was;

	if (fc->state != CONN_OPEN) {
		if (fc->remote_closed)
			conn_free(fc, "closed by the host");
		else if (fc->state == CONN_OPENING)
			conn_try_open(fc);
		return;
	}
	for (;;) {
		while (evbuffer_get_length(fc->tolocal) > 0 && !fc->shut_wr) {
			n = evbuffer_write(fc->tolocal, fc->fd);
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				break;
			if (n <= 0) {
				conn_free(fc, "the local side went away");
				return;
			}
		}
		if (evbuffer_get_length(fc->tolocal) > 0 || !fc->ch_pending ||
		    s == NULL)
			break;
		/* the local side took it all: now what libssh kept */
		was = nb_begin(s);
		n = ssh_channel_read_nonblocking(fc->ch, buf, sizeof(buf), 0);
		nb_end(s, was);
		if (n <= 0) {
			fc->ch_pending = 0;
			break;
		}
		if (evbuffer_add(fc->tolocal, buf, n) == -1)
			fatal(NULL);
		fc->received += n;
		fc->fwd->received += n;
		if ((size_t)n < sizeof(buf))
			fc->ch_pending = 0;
		sshconn_want_write(fc->fwd->conn);
	}
	conn_set_write(fc, evbuffer_get_length(fc->tolocal) > 0);

	if (evbuffer_get_length(fc->toremote) > 0 &&
	    conn_flush_remote(fc) == -1)
		return;
	if (!fc->local_eof && !fc->remote_closed && fc->ch != NULL &&
	    evbuffer_get_length(fc->toremote) == 0) {
		if (ssh_channel_window_size(fc->ch) > 0) {
			fc->win_wait = 0;
			conn_set_read(fc, 1);
		} else {
			fc->win_wait = 1;
			conn_recheck(fc);
		}
	}

	if (fc->remote_eof && evbuffer_get_length(fc->tolocal) == 0 &&
	    !fc->ch_pending && !fc->shut_wr) {
		(void)shutdown(fc->fd, SHUT_WR);
		fc->shut_wr = 1;
	}
	if (fc->shut_wr && (fc->remote_closed || fc->eof_sent))
		conn_free(fc, "closed");
}

/* end a connection: the channel is closed, the record written */
void
conn_free(struct fconn *fc, const char *why)
{
	struct fwd	*f = fc->fwd;
	ssh_session	 s = f->conn->session;
	int		 was;

	evtimer_del(&fc->ev_step);
	evtimer_del(&fc->ev_timeout);
	conn_set_read(fc, 0);
	conn_set_write(fc, 0);
	if (fc->ch != NULL) {
		if (s != NULL) {
			was = nb_begin(s);
			sshconn_chclose(f->conn, fc->ch, &fc->cb, 0);
			nb_end(s, was);
			sshconn_want_write(f->conn);
		} else
			ssh_remove_channel_callbacks(fc->ch, &fc->cb);
		fc->ch = NULL;
	}
	if (fc->fd != -1)
		close(fc->fd);
	fwd_record_send(json_pack("{s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:I,"
	    " s:I, s:I, s:s}", "type", "forward_conn",
	    "forward", (json_int_t)f->id, "conn", (json_int_t)fc->id,
	    "session", (json_int_t)f->sessid,
	    "host", f->host->name, "direction", fwd_dir_name(f->dir),
	    "peer", fc->peer, "bytes_sent", (json_int_t)fc->sent,
	    "bytes_received", (json_int_t)fc->received,
	    "duration_ms", (json_int_t)fwd_ms_since(&fc->start), "end", why));
	log_debug("forward %u: connection %u from %s ended (%s): %llu bytes"
	    " sent, %llu received", f->id, fc->id, fc->peer, why,
	    (unsigned long long)fc->sent, (unsigned long long)fc->received);
	evbuffer_free(fc->tolocal);
	evbuffer_free(fc->toremote);
	TAILQ_REMOVE(&f->conns, fc, entry);
	f->nactive--;
	free(fc);
}
