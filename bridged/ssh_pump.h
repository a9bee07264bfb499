/*
 * ssh_pump.h: bytes between a descriptor and an SSH channel, both ways,
 * without blocking.  A port forward's connection (ssh_fwdconn.c) and a
 * jump host's tunnel (ssh_jump.c) are each a pump and what their owner
 * keeps beside it: how the channel is opened, the records, the replies.
 *
 * The channel callbacks only queue bytes and set flags; the event loop
 * does the work.  Back-pressure: toward the descriptor the bytes wait in
 * tolocal, and past hiwat the data callback takes nothing more, so
 * libssh keeps them and stops opening the window; toward the channel at
 * most its window is read from the descriptor.  When a pump is done, or
 * fails, it calls its owner's end(), which ends it with pump_close().
 */
#ifndef SSH_PUMP_H
#define SSH_PUMP_H

#include <stddef.h>
#include <stdint.h>

#include <event.h>
#include <libssh/libssh.h>
#include <libssh/callbacks.h>

struct sshconn;
struct pump;

typedef void	(*pump_fn)(struct pump *);
typedef void	(*pump_end_fn)(struct pump *, const char *);

struct pump {
	int			 fd;		/* -1: not there yet */
	ssh_channel		 ch;		/* NULL: none yet */
	struct sshconn		*conn;		/* where ch is */
	struct ssh_channel_callbacks_struct cb;
	size_t			 chunk;		/* the most moved at once */
	size_t			 hiwat;		/* held for a slow fd */
	const char		*local;		/* "the local side", for why */
	uint64_t		*sum_sent;	/* NULL, or the owner's totals */
	uint64_t		*sum_received;
	pump_fn			 waiting;	/* a step before pump_start() */
	pump_end_fn		 end;
	void			*arg;		/* the owner's */

	int			 moving;	/* pump_start() was called */
	struct event		 ev_read;
	struct event		 ev_write;
	struct event		 ev_step;
	int			 rd_on;
	int			 wr_on;
	struct evbuffer		*tolocal;	/* from the channel */
	struct evbuffer		*toremote;	/* from the descriptor */
	int			 ch_pending;	/* libssh holds data for us */
	int			 win_wait;	/* reading stopped: window shut */
	int			 local_eof;	/* read EOF on the descriptor */
	int			 eof_sent;	/* channel EOF sent */
	int			 remote_eof;
	int			 remote_closed;
	int			 shut_wr;	/* the descriptor's write side shut */
	uint64_t		 sent;		/* toward the channel */
	uint64_t		 received;	/* from it */
};

void	 pump_init(struct pump *, struct sshconn *, size_t, size_t,
	    const char *, pump_fn, pump_end_fn, void *);
void	 pump_start(struct pump *);
void	 pump_sched(struct pump *);
void	 pump_recheck(struct pump *);
void	 pump_poll(struct pump *);
void	 pump_close(struct pump *, int);

#endif /* SSH_PUMP_H */
