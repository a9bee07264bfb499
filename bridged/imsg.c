/*
 * imsg.c: framed messages between bridged's processes (see imsg.h for the
 * wire format).
 *
 * A peer is driven from libevent like this; the handler is the caller's:
 *
 *	static void
 *	dispatch_peer(int fd, short event, void *arg)
 *	{
 *		struct imsgev	*iev = arg;
 *		struct imsgbuf	*ibuf = &iev->ibuf;
 *		struct imsg	 imsg;
 *		ssize_t		 n;
 *		int		 r;
 *
 *		if (event & EV_READ) {
 *			n = imsgbuf_read(ibuf);
 *			if (n == -1 && errno != EAGAIN && errno != EINTR)
 *				fatal("%s: read", iev->name);
 *			if (n == 0) {
 *				// peer gone: imsgev_clear(iev), close(fd), ...
 *				return;
 *			}
 *		}
 *		if (event & EV_WRITE) {
 *			if (imsgbuf_write(ibuf) == -1)
 *				fatal("%s: write", iev->name);
 *		}
 *		while ((r = imsg_get(ibuf, &imsg)) == 1) {
 *			switch (imsg.hdr.type) {
 *			case ...:	// check imsg.datalen first
 *			default:
 *				fatalx("%s: unexpected imsg %u", iev->name,
 *				    imsg.hdr.type);
 *			}
 *			imsg_free(&imsg);	// imsg.fd, if any, is ours
 *		}
 *		if (r == -1)
 *			fatal("%s: bad imsg", iev->name);
 *		imsgev_add(iev);
 *	}
 *
 * The read event is persistent: a handler that finds its peer gone
 * must imsgev_clear() it (or the EOF is seen again and again).
 * imsgev_add() at the end is cheap: it only schedules a write when bytes
 * are queued.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event.h>

#include "imsg.h"

/*
 * The read buffer starts small and grows to hold the message at its head,
 * but never past one largest message plus some slack: a peer cannot make
 * us allocate more than that however much it sends.
 */
#define RBUF_INIT	(16 * 1024)
#define RBUF_SLACK	(16 * 1024)
#define RBUF_MAX	(IMSG_HDRSZ + IMSG_MAXPAYLOAD + RBUF_SLACK)

/* messages gathered into one sendmsg() */
#define WRITE_IOVMAX	64

static int		 imsgbuf_rgrow(struct imsgbuf *);
static int		 imsgbuf_takefds(struct imsgbuf *, struct msghdr *);
static uint8_t		*imsg_enqueue(struct imsgbuf *, uint32_t, uint32_t,
			    uint32_t, int, size_t);
static void		 imsg_out_free(struct imsg_out *);

void
imsgbuf_init(struct imsgbuf *ibuf, int fd)
{
	memset(ibuf, 0, sizeof(*ibuf));
	ibuf->fd = fd;
	ibuf->pid = getpid();
	TAILQ_INIT(&ibuf->outq);
}

void
imsgbuf_clear(struct imsgbuf *ibuf)
{
	struct imsg_out	*out;
	int		 i;

	while ((out = TAILQ_FIRST(&ibuf->outq)) != NULL) {
		TAILQ_REMOVE(&ibuf->outq, out, entry);
		imsg_out_free(out);
	}
	ibuf->queued = 0;

	for (i = 0; i < ibuf->nfdq; i++)
		close(ibuf->fdq[i]);
	ibuf->nfdq = 0;

	free(ibuf->rbuf);
	ibuf->rbuf = NULL;
	ibuf->roff = ibuf->rlen = ibuf->rsize = 0;
}

/*
 * Make room for the next read: move unread bytes to the front, then grow
 * when the buffer is full or the message at its head needs more space.
 */
static int
imsgbuf_rgrow(struct imsgbuf *ibuf)
{
	struct imsg_hdr	 hdr;
	uint8_t		*p;
	size_t		 want, need, len;

	if (ibuf->roff > 0) {
		if (ibuf->rlen > 0)
			memmove(ibuf->rbuf, ibuf->rbuf + ibuf->roff,
			    ibuf->rlen);
		ibuf->roff = 0;
	}

	want = ibuf->rsize > 0 ? ibuf->rsize : RBUF_INIT;
	if (ibuf->rlen >= IMSG_HDRSZ) {
		memcpy(&hdr, ibuf->rbuf, sizeof(hdr));
		len = hdr.len & ~IMSG_FDBIT;
		/* a bogus length is imsg_get()'s to report; don't chase it */
		if (len <= IMSG_MAXPAYLOAD) {
			need = IMSG_HDRSZ + len;
			while (want < need)
				want *= 2;
		}
	}
	if (ibuf->rlen == want)
		want *= 2;
	if (want > RBUF_MAX)
		want = RBUF_MAX;

	if (want > ibuf->rsize) {
		if ((p = realloc(ibuf->rbuf, want)) == NULL)
			return -1;
		ibuf->rbuf = p;
		ibuf->rsize = want;
	}
	if (ibuf->rlen == ibuf->rsize) {
		/* full of whole messages nobody has taken with imsg_get() */
		errno = ENOBUFS;
		return -1;
	}
	return 0;
}

/* Queue the descriptors that came with a read; too many is an error. */
static int
imsgbuf_takefds(struct imsgbuf *ibuf, struct msghdr *msg)
{
	struct cmsghdr	*cmsg;
	size_t		 i, n;
	int		 fd, bad = 0;

	for (cmsg = CMSG_FIRSTHDR(msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int),
			    sizeof(fd));
			if (ibuf->nfdq < IMSG_MAXFDQ)
				ibuf->fdq[ibuf->nfdq++] = fd;
			else {
				close(fd);
				bad = 1;
			}
		}
	}
	if (msg->msg_flags & MSG_CTRUNC)
		bad = 1;
	if (bad) {
		errno = EBADMSG;
		return -1;
	}
	return 0;
}

ssize_t
imsgbuf_read(struct imsgbuf *ibuf)
{
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int) * IMSG_MAXFDQ)];
	} cmsgbuf;
	struct msghdr	 msg;
	struct iovec	 iov;
	ssize_t		 n;

	if (imsgbuf_rgrow(ibuf) == -1)
		return -1;

	memset(&msg, 0, sizeof(msg));
	memset(&cmsgbuf, 0, sizeof(cmsgbuf));
	iov.iov_base = ibuf->rbuf + ibuf->rlen;
	iov.iov_len = ibuf->rsize - ibuf->rlen;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);

	if ((n = recvmsg(ibuf->fd, &msg, MSG_CMSG_CLOEXEC)) == -1)
		return -1;
	ibuf->rlen += n;
	if (imsgbuf_takefds(ibuf, &msg) == -1)
		return -1;
	return n;
}

int
imsg_get(struct imsgbuf *ibuf, struct imsg *imsg)
{
	struct imsg_hdr	 hdr;
	uint8_t		*p, *data = NULL;
	size_t		 len;
	int		 fd = -1;

	if (ibuf->rlen < IMSG_HDRSZ)
		return 0;
	p = ibuf->rbuf + ibuf->roff;
	memcpy(&hdr, p, sizeof(hdr));
	len = hdr.len & ~IMSG_FDBIT;
	if (len > IMSG_MAXPAYLOAD) {
		errno = EBADMSG;
		return -1;
	}
	if (ibuf->rlen < IMSG_HDRSZ + len)
		return 0;
	if ((hdr.len & IMSG_FDBIT) && ibuf->nfdq == 0) {
		/* the descriptor travels with the first byte: it is lost */
		errno = EBADMSG;
		return -1;
	}
	if (len > 0) {
		if ((data = malloc(len + 1)) == NULL)
			return -1;
		memcpy(data, p + IMSG_HDRSZ, len);
		data[len] = '\0';
	}
	if (hdr.len & IMSG_FDBIT) {
		fd = ibuf->fdq[0];
		ibuf->nfdq--;
		memmove(ibuf->fdq, ibuf->fdq + 1,
		    ibuf->nfdq * sizeof(ibuf->fdq[0]));
	}

	ibuf->roff += IMSG_HDRSZ + len;
	ibuf->rlen -= IMSG_HDRSZ + len;
	if (ibuf->rlen == 0) {
		ibuf->roff = 0;
		/* give back what one large message made us take */
		if (ibuf->rsize > RBUF_INIT) {
			free(ibuf->rbuf);
			ibuf->rbuf = NULL;
			ibuf->rsize = 0;
		}
	}

	memset(imsg, 0, sizeof(*imsg));
	imsg->hdr = hdr;
	imsg->hdr.len = len;
	imsg->fd = fd;
	imsg->datalen = len;
	imsg->data = data;
	return 1;
}

void
imsg_free(struct imsg *imsg)
{
	free(imsg->data);
	imsg->data = NULL;
	imsg->datalen = 0;
}

static void
imsg_out_free(struct imsg_out *out)
{
	if (out->fd != -1)
		close(out->fd);
	free(out->buf);
	free(out);
}

/* Queue a message of datalen bytes; returns where its payload goes. */
static uint8_t *
imsg_enqueue(struct imsgbuf *ibuf, uint32_t type, uint32_t peerid,
    uint32_t pid, int fd, size_t datalen)
{
	struct imsg_out	*out;
	struct imsg_hdr	 hdr;

	if (datalen > IMSG_MAXPAYLOAD) {
		errno = EMSGSIZE;
		return NULL;
	}
	if ((out = calloc(1, sizeof(*out))) == NULL)
		return NULL;
	out->len = IMSG_HDRSZ + datalen;
	if ((out->buf = malloc(out->len)) == NULL) {
		free(out);
		return NULL;
	}
	out->fd = fd;

	hdr.type = type;
	hdr.len = datalen;
	if (fd != -1)
		hdr.len |= IMSG_FDBIT;
	hdr.peerid = peerid;
	hdr.pid = pid;
	memcpy(out->buf, &hdr, sizeof(hdr));

	TAILQ_INSERT_TAIL(&ibuf->outq, out, entry);
	ibuf->queued += out->len;
	return out->buf + IMSG_HDRSZ;
}

/*
 * On success the queue owns fd and closes it once sent; on failure it is
 * still the caller's.
 */
int
imsg_compose(struct imsgbuf *ibuf, uint32_t type, uint32_t peerid,
    uint32_t pid, int fd, const void *data, size_t datalen)
{
	uint8_t	*p;

	if (datalen > 0 && data == NULL) {
		errno = EINVAL;
		return -1;
	}
	if ((p = imsg_enqueue(ibuf, type, peerid, pid, fd, datalen)) == NULL)
		return -1;
	if (datalen > 0)
		memcpy(p, data, datalen);
	return 0;
}

int
imsg_composev(struct imsgbuf *ibuf, uint32_t type, uint32_t peerid,
    uint32_t pid, int fd, const struct iovec *iov, int iovcnt)
{
	uint8_t	*p;
	size_t	 len = 0;
	int	 i;

	if (iovcnt < 0 || (iovcnt > 0 && iov == NULL)) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > IMSG_MAXPAYLOAD - len) {
			errno = EMSGSIZE;
			return -1;
		}
		len += iov[i].iov_len;
	}
	if ((p = imsg_enqueue(ibuf, type, peerid, pid, fd, len)) == NULL)
		return -1;
	for (i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len == 0)
			continue;
		memcpy(p, iov[i].iov_base, iov[i].iov_len);
		p += iov[i].iov_len;
	}
	return 0;
}

int
imsgbuf_write(struct imsgbuf *ibuf)
{
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	struct iovec	 iov[WRITE_IOVMAX];
	struct msghdr	 msg;
	struct cmsghdr	*cmsg;
	struct imsg_out	*out, *first;
	size_t		 left, chunk;
	ssize_t		 n;
	int		 niov, fd;

	while ((first = TAILQ_FIRST(&ibuf->outq)) != NULL) {
		niov = 0;
		fd = -1;
		TAILQ_FOREACH(out, &ibuf->outq, entry) {
			if (niov == WRITE_IOVMAX)
				break;
			/* a descriptor must go with its own message's bytes */
			if (out->fd != -1) {
				if (niov > 0)
					break;
				fd = out->fd;
			}
			iov[niov].iov_base = out->buf + out->off;
			iov[niov].iov_len = out->len - out->off;
			niov++;
		}

		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = iov;
		msg.msg_iovlen = niov;
		if (fd != -1) {
			memset(&cmsgbuf, 0, sizeof(cmsgbuf));
			msg.msg_control = cmsgbuf.buf;
			msg.msg_controllen = sizeof(cmsgbuf.buf);
			cmsg = CMSG_FIRSTHDR(&msg);
			cmsg->cmsg_level = SOL_SOCKET;
			cmsg->cmsg_type = SCM_RIGHTS;
			cmsg->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cmsg), &fd, sizeof(fd));
		}

		if ((n = sendmsg(ibuf->fd, &msg, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		if (n == 0)
			return 0;

		/* any byte sent took the descriptor along: ours can go */
		if (fd != -1) {
			close(fd);
			first->fd = -1;
		}

		ibuf->queued -= n;
		for (left = n; left > 0; ) {
			out = TAILQ_FIRST(&ibuf->outq);
			chunk = out->len - out->off;
			if (chunk > left) {
				out->off += left;
				break;
			}
			left -= chunk;
			TAILQ_REMOVE(&ibuf->outq, out, entry);
			imsg_out_free(out);
		}
	}
	return 0;
}

void
imsgbuf_unsent(struct imsgbuf *ibuf, void (*cb)(uint32_t, const uint8_t *,
    size_t, void *), void *arg)
{
	struct imsg_out	*out;
	struct imsg_hdr	 hdr;

	TAILQ_FOREACH(out, &ibuf->outq, entry) {
		if (out->off != 0)
			continue;	/* begun: the peer may have read it */
		memcpy(&hdr, out->buf, sizeof(hdr));
		cb(hdr.type, out->buf + IMSG_HDRSZ, out->len - IMSG_HDRSZ,
		    arg);
	}
}

int
imsgbuf_flush(struct imsgbuf *ibuf)
{
	struct pollfd	 pfd;

	while (!TAILQ_EMPTY(&ibuf->outq)) {
		if (imsgbuf_write(ibuf) == -1)
			return -1;
		if (TAILQ_EMPTY(&ibuf->outq))
			break;
		pfd.fd = ibuf->fd;
		pfd.events = POLLOUT;
		pfd.revents = 0;
		if (poll(&pfd, 1, -1) == -1 && errno != EINTR)
			return -1;
	}
	return 0;
}

void
imsgev_init(struct imsgev *iev, int fd, const char *name,
    void (*handler)(int, short, void *), void *arg)
{
	memset(iev, 0, sizeof(*iev));
	imsgbuf_init(&iev->ibuf, fd);
	iev->ibuf.pid = getpid();
	iev->handler = handler;
	iev->arg = arg;
	iev->name = name;
	iev->events = 0;
}

/*
 * The write side: what was queued goes out in one sendmsg() at the end of
 * this turn of the loop; only when the socket is full does the kernel
 * watch it for us.  The handler then sees EV_WRITE as it always has.
 */
static void
imsgev_writable(int fd, short event, void *arg)
{
	struct imsgev	*iev = arg;

	iev->wstate = IEV_WIDLE;
	/* an error is the handler's to see: its own write fails again */
	if (imsgbuf_write(&iev->ibuf) == 0 && iev->ibuf.queued > 0) {
		event_add(&iev->evw, NULL);
		iev->wstate = IEV_WPOLL;
	}
	iev->handler(fd, EV_WRITE, iev->arg);
}

void
imsgev_add(struct imsgev *iev)
{
	/* events != 0 means both events are set and ev is added */
	if (iev->events == 0) {
		event_set(&iev->ev, iev->ibuf.fd, EV_READ | EV_PERSIST,
		    iev->handler, iev->arg);
		event_set(&iev->evw, iev->ibuf.fd, EV_WRITE,
		    imsgev_writable, iev);
		event_add(&iev->ev, NULL);
		iev->events = EV_READ;
		iev->wstate = IEV_WIDLE;
	}
	if (iev->ibuf.queued == 0) {
		iev->lazy = 0;
		if (iev->wstate != IEV_WIDLE) {
			event_del(&iev->evw);
			iev->wstate = IEV_WIDLE;
		}
	} else if (iev->wstate == IEV_WIDLE && !iev->lazy) {
		event_active(&iev->evw, EV_WRITE, 1);
		iev->wstate = IEV_WSOON;
	}
}

void
imsgev_clear(struct imsgev *iev)
{
	if (iev->events != 0) {
		event_del(&iev->ev);
		event_del(&iev->evw);
	}
	iev->events = 0;
	iev->wstate = IEV_WIDLE;
	iev->lazy = 0;
	imsgbuf_clear(&iev->ibuf);
}

int
imsgev_compose(struct imsgev *iev, uint32_t type, uint32_t peerid, int fd,
    const void *data, size_t datalen)
{
	/* a peer that has gone (its socket closed) takes nothing more;
	 * as on any failure, a descriptor stays the caller's */
	if (iev->ibuf.fd == -1) {
		errno = EPIPE;
		return -1;
	}
	if (imsg_compose(&iev->ibuf, type, peerid, iev->ibuf.pid, fd, data,
	    datalen) == -1)
		return -1;
	iev->lazy = 0;
	imsgev_add(iev);
	return 0;
}

int
imsgev_composev(struct imsgev *iev, uint32_t type, uint32_t peerid, int fd,
    const struct iovec *iov, int iovcnt)
{
	if (iev->ibuf.fd == -1) {
		errno = EPIPE;
		return -1;
	}
	if (imsg_composev(&iev->ibuf, type, peerid, iev->ibuf.pid, fd, iov,
	    iovcnt) == -1)
		return -1;
	iev->lazy = 0;
	imsgev_add(iev);
	return 0;
}

/*
 * Queued, not written: it goes with the next message that is, or at
 * imsgev_flush_lazy().  The sender keeps a timer that calls it, so a
 * lazy message waits a bounded while.  No descriptors: they are not
 * worth keeping open longer than needed.
 */
int
imsgev_compose_lazy(struct imsgev *iev, uint32_t type, uint32_t peerid,
    const struct iovec *iov, int iovcnt)
{
	int	 was_empty = iev->ibuf.queued == 0;

	if (iev->ibuf.fd == -1) {
		errno = EPIPE;
		return -1;
	}
	if (imsg_composev(&iev->ibuf, type, peerid, iev->ibuf.pid, -1, iov,
	    iovcnt) == -1)
		return -1;
	if (was_empty)
		iev->lazy = 1;
	imsgev_add(iev);
	return 0;
}

void
imsgev_flush_lazy(struct imsgev *iev)
{
	if (iev->ibuf.fd == -1)
		return;
	iev->lazy = 0;
	imsgev_add(iev);
}
