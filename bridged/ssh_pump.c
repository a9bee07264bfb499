/*
 * ssh_pump.c: bytes between a descriptor and an SSH channel (ssh_pump.h),
 * for the port forwards' connections and the jump hosts' tunnels.
 *
 * The session's mode for the other tools is blocking; every libssh call
 * here is made non-blocking for its length (sshconn_nb_begin()).  A
 * channel's window adjust may be processed inside another tool's
 * blocking libssh call, where no event tells us: a pump waiting for one
 * looks again every PUMP_RECHECK_MS, and pump_poll() after the packets
 * of its connection.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event.h>
#include <libssh/libssh.h>
#include <libssh/callbacks.h>

#include "bridged.h"
#include "log.h"
#include "ssh.h"
#include "ssh_pump.h"

#define PUMP_BUF		(256 * 1024)	/* the largest chunk */
#define PUMP_RECHECK_MS		100

static void	 pump_step(int, short, void *);
static void	 pump_readable(int, short, void *);
static void	 pump_watch(struct pump *, struct event *, int *, int);
static int	 pump_flush_remote(struct pump *);
static int	 cb_data(ssh_session, ssh_channel, void *, uint32_t, int,
		    void *);
static void	 cb_eof(ssh_session, ssh_channel, void *);
static void	 cb_close(ssh_session, ssh_channel, void *);
static int	 cb_wontblock(ssh_session, ssh_channel, uint32_t, void *);

/*
 * A pump of conn (which its channel will be on; the owner sets ch) that
 * moves at most chunk bytes at once and holds at most about hiwat for
 * the descriptor; local names the descriptor's side in why; waiting is
 * called for a step before pump_start() (NULL: nothing to do); end is
 * how the pump says it is done.  The callbacks are in p->cb, for the
 * channel when there is one.
 */
void
pump_init(struct pump *p, struct sshconn *conn, size_t chunk, size_t hiwat,
    const char *local, pump_fn waiting, pump_end_fn end, void *arg)
{
	memset(p, 0, sizeof(*p));
	p->fd = -1;
	p->conn = conn;
	p->chunk = chunk < PUMP_BUF ? chunk : PUMP_BUF;
	p->hiwat = hiwat;
	p->local = local;
	p->waiting = waiting;
	p->end = end;
	p->arg = arg;
	if ((p->tolocal = evbuffer_new()) == NULL ||
	    (p->toremote = evbuffer_new()) == NULL)
		fatal(NULL);
	evtimer_set(&p->ev_step, pump_step, p);
	ssh_callbacks_init(&p->cb);
	p->cb.userdata = p;
	p->cb.channel_data_function = cb_data;
	p->cb.channel_eof_function = cb_eof;
	p->cb.channel_close_function = cb_close;
	p->cb.channel_write_wontblock_function = cb_wontblock;
}

/* the channel (p->ch, p->conn) and the descriptor (p->fd) are there: go */
void
pump_start(struct pump *p)
{
	event_set(&p->ev_read, p->fd, EV_READ | EV_PERSIST, pump_readable, p);
	event_set(&p->ev_write, p->fd, EV_WRITE | EV_PERSIST, pump_step, p);
	p->moving = 1;
	pump_watch(p, &p->ev_read, &p->rd_on, 1);
	/* what came with the channel may be queued already */
	pump_sched(p);
}

void
pump_sched(struct pump *p)
{
	struct timeval	 tv = { 0, 0 };

	evtimer_add(&p->ev_step, &tv);
}

void
pump_recheck(struct pump *p)
{
	struct timeval	 tv = { 0, PUMP_RECHECK_MS * 1000 };

	if (!evtimer_pending(&p->ev_step, NULL))
		evtimer_add(&p->ev_step, &tv);
}

/* packets of p's connection were processed: data held, a window opened */
void
pump_poll(struct pump *p)
{
	if (!p->moving || p->ch == NULL)
		return;
	if (p->ch_pending || (p->win_wait &&
	    ssh_channel_window_size(p->ch) > 0))
		pump_sched(p);
}

/*
 * The end, for the owner's end(): events off, the channel closed (its
 * place given back; session: it was one of the pool's sessions, as a
 * jump tunnel is), the descriptor closed, the buffers freed.
 */
void
pump_close(struct pump *p, int session)
{
	ssh_session	 s;
	int		 was;

	evtimer_del(&p->ev_step);
	pump_watch(p, &p->ev_read, &p->rd_on, 0);
	pump_watch(p, &p->ev_write, &p->wr_on, 0);
	if (p->ch != NULL) {
		if ((s = p->conn->session) != NULL) {
			was = sshconn_nb_begin(s);
			sshconn_chclose(p->conn, p->ch, &p->cb, session);
			sshconn_nb_end(s, was);
			sshconn_want_write(p->conn);
		} else
			ssh_remove_channel_callbacks(p->ch, &p->cb);
		p->ch = NULL;
	}
	if (p->fd != -1)
		close(p->fd);
	p->fd = -1;
	p->moving = 0;
	evbuffer_free(p->tolocal);
	evbuffer_free(p->toremote);
	p->tolocal = p->toremote = NULL;
}

/* watch the descriptor for ev, or stop; *cur: whether it does now */
static void
pump_watch(struct pump *p, struct event *ev, int *cur, int on)
{
	if (!p->moving || on == *cur)
		return;
	if (on)
		event_add(ev, NULL);
	else
		event_del(ev);
	*cur = on;
}

static void
counted(struct pump *p, size_t n, int toward_channel)
{
	if (toward_channel) {
		p->sent += n;
		if (p->sum_sent != NULL)
			*p->sum_sent += n;
	} else {
		p->received += n;
		if (p->sum_received != NULL)
			*p->sum_received += n;
	}
}

/* channel callbacks: they may run inside any libssh call; queue, flag */
static int
cb_data(ssh_session s, ssh_channel ch, void *data, uint32_t len,
    int is_stderr, void *arg)
{
	struct pump	*p = arg;

	if (is_stderr)
		return len;
	if (evbuffer_get_length(p->tolocal) >= p->hiwat) {
		p->ch_pending = 1;
		return 0;
	}
	if (evbuffer_add(p->tolocal, data, len) == -1)
		fatal(NULL);
	p->ch_pending = 0;
	counted(p, len, 0);
	pump_sched(p);
	return len;
}

static void
cb_eof(ssh_session s, ssh_channel ch, void *arg)
{
	struct pump	*p = arg;

	p->remote_eof = 1;
	pump_sched(p);
}

static void
cb_close(ssh_session s, ssh_channel ch, void *arg)
{
	struct pump	*p = arg;

	p->remote_eof = 1;
	p->remote_closed = 1;
	pump_sched(p);
}

static int
cb_wontblock(ssh_session s, ssh_channel ch, uint32_t bytes, void *arg)
{
	pump_sched(arg);
	return 0;
}

/* toward the channel: what its window takes; -1: the pump ended */
static int
pump_flush_remote(struct pump *p)
{
	ssh_session	 s = p->conn->session;
	ssize_t		 n;
	int		 was;

	if (s == NULL)
		return 0;
	was = sshconn_nb_begin(s);
	if ((n = sshconn_chan_flush(p->ch, p->toremote, p->chunk)) == -1) {
		sshconn_nb_end(s, was);
		p->end(p, "write to the channel failed");
		return -1;
	}
	counted(p, n, 1);
	if (evbuffer_get_length(p->toremote) > 0) {
		p->win_wait = 1;
		pump_recheck(p);
	}
	if (evbuffer_get_length(p->toremote) == 0 && p->local_eof &&
	    !p->eof_sent && !p->remote_closed) {
		(void)ssh_channel_send_eof(p->ch);
		p->eof_sent = 1;
	}
	sshconn_nb_end(s, was);
	sshconn_want_write(p->conn);
	return 0;
}

/* the descriptor is readable: as much as the window takes */
static void
pump_readable(int fd, short event, void *arg)
{
	struct pump		*p = arg;
	struct evbuffer_iovec	 v;
	uint32_t		 win;
	size_t			 want;
	ssize_t			 n;
	char			 why[128];

	if (evbuffer_get_length(p->toremote) > 0 || p->ch == NULL ||
	    (win = ssh_channel_window_size(p->ch)) == 0) {
		/* the window is shut: pump_poll() sees it open again */
		p->win_wait = 1;
		pump_watch(p, &p->ev_read, &p->rd_on, 0);
		pump_recheck(p);
		return;
	}
	want = win < p->chunk ? win : p->chunk;
	/*
	 * Straight into the buffer, as much as the window takes:
	 * evbuffer_read() reads at most 4 KiB a call, which made a loop turn
	 * (and an SSH packet) of every 4 KiB.
	 */
	if (evbuffer_reserve_space(p->toremote, want, &v, 1) != 1)
		fatal("evbuffer_reserve_space");
	n = read(fd, v.iov_base, want < v.iov_len ? want : v.iov_len);
	if (n > 0) {
		v.iov_len = n;
		if (evbuffer_commit_space(p->toremote, &v, 1) == -1)
			fatal("evbuffer_commit_space");
	}
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		snprintf(why, sizeof(why), "read error on %s", p->local);
		p->end(p, why);
		return;
	}
	if (n == 0) {
		p->local_eof = 1;
		pump_watch(p, &p->ev_read, &p->rd_on, 0);
	}
	/* p may be gone after this; it schedules what remains */
	(void)pump_flush_remote(p);
}

/*
 * The state machine, from the event loop: move what is queued, pull what
 * libssh kept back, pass EOFs on, end the pump when both ways are done.
 */
static void
pump_step(int fd, short event, void *arg)
{
	struct pump	*p = arg;
	ssh_session	 s;
	static char	 buf[PUMP_BUF];
	char		 why[128];
	int		 n, was;

	if (!p->moving) {
		if (p->waiting != NULL)
			p->waiting(p);
		return;
	}
	s = p->conn->session;
	for (;;) {
		while (evbuffer_get_length(p->tolocal) > 0 && !p->shut_wr) {
			n = evbuffer_write(p->tolocal, p->fd);
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				break;
			if (n <= 0) {
				snprintf(why, sizeof(why), "%s went away",
				    p->local);
				p->end(p, why);
				return;
			}
		}
		if (evbuffer_get_length(p->tolocal) > 0 || !p->ch_pending ||
		    s == NULL)
			break;
		/* the descriptor took it all: now what libssh kept */
		was = sshconn_nb_begin(s);
		n = ssh_channel_read_nonblocking(p->ch, buf, p->chunk, 0);
		sshconn_nb_end(s, was);
		if (n <= 0) {
			p->ch_pending = 0;
			break;
		}
		if (evbuffer_add(p->tolocal, buf, n) == -1)
			fatal(NULL);
		counted(p, n, 0);
		if ((size_t)n < p->chunk)
			p->ch_pending = 0;
		sshconn_want_write(p->conn);
	}
	pump_watch(p, &p->ev_write, &p->wr_on,
	    evbuffer_get_length(p->tolocal) > 0);

	if (evbuffer_get_length(p->toremote) > 0 &&
	    pump_flush_remote(p) == -1)
		return;
	if (!p->local_eof && !p->remote_closed && p->ch != NULL &&
	    evbuffer_get_length(p->toremote) == 0) {
		if (ssh_channel_window_size(p->ch) > 0) {
			p->win_wait = 0;
			pump_watch(p, &p->ev_read, &p->rd_on, 1);
		} else {
			p->win_wait = 1;
			pump_recheck(p);
		}
	}

	if (p->remote_eof && evbuffer_get_length(p->tolocal) == 0 &&
	    !p->ch_pending && !p->shut_wr) {
		(void)shutdown(p->fd, SHUT_WR);
		p->shut_wr = 1;
	}
	if (p->shut_wr && (p->remote_closed || p->eof_sent))
		p->end(p, "closed");
}
