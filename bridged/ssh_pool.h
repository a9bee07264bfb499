/*
 * ssh_pool.h: between ssh_conn.c (a host's connections: made, watched,
 * lost) and ssh_pool.c (the channels on them).  The tools use what ssh.h
 * declares.
 */

#ifndef SSH_POOL_H
#define SSH_POOL_H

#include <sys/queue.h>

#include <event.h>

#include "ssh.h"

/*
 * Someone waiting for a free channel on host (host->roomq): ready() runs
 * once a connection has room, from the event loop, and the channel is
 * opened on it at once; expire() runs when the deadline passes first.
 */
struct sshwaiter {
	TAILQ_ENTRY(sshwaiter)	 entry;
	struct sshhost		*host;
	int			 queued;
	int			 urgent;	/* kills: first in line */
	int			 refused;	/* the server said no last */
	struct event		 ev;		/* deadline */
	int			 ev_set;
	void			(*ready)(struct sshwaiter *, struct sshconn *);
	void			(*expire)(struct sshwaiter *, const char *);
	void			*arg;
};

/* ssh_pool.c, for ssh_conn.c */
void	 pool_conninit(struct sshconn *);
void	 pool_connfree(struct sshconn *);
void	 pool_conn_up(struct sshconn *);	/* room appeared */
void	 pool_conn_lost(struct sshconn *, const char *); /* opens fail */
void	 pool_conn_failed(struct sshhost *, const char *);
void	 pool_poll(struct sshconn *);		/* packets were processed */
int	 pool_idle(struct sshconn *, time_t);	/* an extra one, unused */
void	 pool_kick(struct sshhost *);		/* look at the queue */
void	 pool_hostgone(struct sshhost *);

/* ssh_pool.c, for ssh_poolfiles.c */
#define POOL_CAP_SECS		1	/* a refusal is believed this long */
#define SSHCONN_OPEN_SECS	10	/* blocking opens: libssh's timeout */
int	 pool_room(struct sshconn *);		/* session channels it takes */
struct sshconn *pool_pick(struct sshhost *, uint32_t);	/* one with room */
void	 pool_why(struct sshhost *, int, char *, size_t);
int	 pool_alive(ssh_session);
void	 waiter_queue(struct sshwaiter *, int);
void	 waiter_stop(struct sshwaiter *);
void	 pool_abandon(struct sshconn *, ssh_channel, int);

/* ssh_conn.c, for ssh_pool.c */
struct sshconn *sshconn_make(struct sshhost *);	/* ask the parent */

#endif /* SSH_POOL_H */
