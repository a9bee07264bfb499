/*
 * imsg.h: bridged's own framing for messages between its processes and
 * between bridgectl and the daemon.
 *
 * On the wire a message is a 16-byte header followed by its payload:
 *
 *	u32 type	what the message is (enum imsg_type, bridged.h)
 *	u32 len		payload length in bytes; bit 31 set when a file
 *			descriptor travels with the message
 *	u32 peerid	request id / session id chosen by the sender
 *	u32 pid		sender's pid
 *
 * all in host byte order (both ends are on this machine).  A descriptor is
 * sent with SCM_RIGHTS together with the first byte of its message, so it
 * has always arrived by the time the whole message has.
 */

#ifndef IMSG_H
#define IMSG_H

#include <sys/queue.h>
#include <sys/uio.h>

#include <stddef.h>
#include <stdint.h>

#include <event.h>

#define IMSG_HDRSZ		16
#define IMSG_FDBIT		0x80000000U
#define IMSG_MAXPAYLOAD		(256 * 1024)	/* larger data is chunked */
#define IMSG_MAXFDQ		16		/* received, not yet taken */

struct imsg_hdr {
	uint32_t	 type;
	uint32_t	 len;
	uint32_t	 peerid;
	uint32_t	 pid;
};

struct imsg {
	struct imsg_hdr	 hdr;		/* hdr.len without IMSG_FDBIT */
	int		 fd;		/* -1 when none; owned by caller */
	size_t		 datalen;
	uint8_t		*data;		/* datalen bytes + a NUL, or NULL */
};

struct imsg_out {
	TAILQ_ENTRY(imsg_out)	 entry;
	uint8_t			*buf;
	size_t			 len;
	size_t			 off;
	int			 fd;	/* sent with the first byte */
};

struct imsgbuf {
	int			 fd;
	uint32_t		 pid;
	uint8_t			*rbuf;
	size_t			 roff;		/* first unread byte */
	size_t			 rlen;		/* bytes held from roff */
	size_t			 rsize;		/* bytes allocated */
	int			 fdq[IMSG_MAXFDQ];
	int			 nfdq;
	TAILQ_HEAD(, imsg_out)	 outq;
	size_t			 queued;	/* bytes waiting to be written */
};

void	imsgbuf_init(struct imsgbuf *, int);
void	imsgbuf_clear(struct imsgbuf *);	/* frees, closes queued fds */
/* read what the socket has: >0 bytes, 0 EOF, -1 error (EAGAIN too) */
ssize_t	imsgbuf_read(struct imsgbuf *);
/* write what can be written: 0 ok (maybe more queued), -1 error */
int	imsgbuf_write(struct imsgbuf *);
/* write until the queue is empty, blocking socket or not: 0 / -1 */
int	imsgbuf_flush(struct imsgbuf *);
/*
 * each queued message of which not a byte was written, oldest first:
 * what a peer that died cannot have seen (type, payload, its length)
 */
void	imsgbuf_unsent(struct imsgbuf *, void (*)(uint32_t, const uint8_t *,
	    size_t, void *), void *);
/* 1 a message was taken, 0 need more bytes, -1 protocol error */
int	imsg_get(struct imsgbuf *, struct imsg *);
void	imsg_free(struct imsg *);
int	imsg_compose(struct imsgbuf *, uint32_t, uint32_t, uint32_t, int,
	    const void *, size_t);
int	imsg_composev(struct imsgbuf *, uint32_t, uint32_t, uint32_t, int,
	    const struct iovec *, int);

/*
 * libevent glue: one per peer.  Reading is one persistent event, set up
 * once; writing is asked for only while bytes are queued, and first
 * without the kernel (event_active: written at the end of this turn of
 * the loop, with whatever else was queued meanwhile), so a message
 * costs no epoll_ctl at all unless the socket is full.  A message that
 * nobody waits for (an ack the peer only books, a record committed
 * later anyway) may be queued lazily: it leaves with the next one that
 * is not, or when its sender's timer calls imsgev_flush_lazy(), and
 * wakes the peer no sooner.
 */
struct imsgev {
	struct imsgbuf	 ibuf;
	struct event	 ev;		/* EV_READ | EV_PERSIST */
	struct event	 evw;		/* EV_WRITE */
	void		(*handler)(int, short, void *);
	void		*arg;
	short		 events;	/* != 0: ev, evw set up, ev added */
	short		 wstate;	/* IEV_W*: where evw is */
	short		 lazy;		/* all that is queued may wait */
	const char	*name;		/* peer name for diagnostics */
};
#define IEV_WIDLE	0	/* not scheduled */
#define IEV_WSOON	1	/* event_active: this turn of the loop */
#define IEV_WPOLL	2	/* event_add: when the socket has room */

void	imsgev_init(struct imsgev *, int, const char *,
	    void (*)(int, short, void *), void *);
void	imsgev_add(struct imsgev *);	/* arm read; write if queued */
void	imsgev_clear(struct imsgev *);	/* event_del + imsgbuf_clear */
int	imsgev_compose(struct imsgev *, uint32_t, uint32_t, int,
	    const void *, size_t);	/* pid filled in; arms write */
int	imsgev_composev(struct imsgev *, uint32_t, uint32_t, int,
	    const struct iovec *, int);
int	imsgev_compose_lazy(struct imsgev *, uint32_t, uint32_t,
	    const struct iovec *, int);	/* leaves with the next one */
void	imsgev_flush_lazy(struct imsgev *);	/* written this turn */

#endif /* IMSG_H */
