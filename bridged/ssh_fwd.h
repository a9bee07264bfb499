/*
 * ssh_fwd.h: inside the port forwards of the ssh worker, shared by ssh_fwd.c
 * (the tools, the table of forwards and their records) and ssh_fwdconn.c
 * (the connections and their data path).  The rest of the worker uses
 * what ssh.h declares.
 */

#ifndef FWD_H
#define FWD_H

#include <sys/queue.h>

#include <stdint.h>
#include <time.h>

#include <event.h>
#include <jansson.h>
#include <libssh/libssh.h>
#include <libssh/callbacks.h>

#include "bridged.h"
#include "imsg.h"
#include "ssh.h"
#include "ssh_pump.h"

#define FWD_REMOTE_ADDR		"127.0.0.1"	/* the remote listens here */

enum fwd_state {
	FWD_PENDING,		/* waiting for the parent's socket */
	FWD_ACTIVE,
};

enum conn_state {
	CONN_OPENING,		/* local: channel open sent */
	CONN_WAITFD,		/* remote: waiting for the parent's connect */
	CONN_OPEN,
};

struct fwd;

struct fconn {
	TAILQ_ENTRY(fconn)	 entry;
	struct fwd		*fwd;
	uint32_t		 id;		/* unique in the worker */
	int			 state;
	struct pump		 pump;		/* the local socket and ch */
	struct event		 ev_timeout;
	struct timespec		 start;
	char			 peer[HOST_ADDR_LEN + 8];
};

struct fwd {
	TAILQ_ENTRY(fwd)	 entry;
	uint32_t		 id;
	uint32_t		 sessid;
	struct sshhost		*host;
	int			 dir;		/* FWD_TO or FWD_FROM_REMOTE */
	int			 state;
	int			 persist;
	int			 publish;	/* the host's publish port */
	int			 rule_line;
	char			 dest_host[HOST_ADDR_LEN];
	uint16_t		 dest_port;
	char			 listen_addr[HOST_ADDR_LEN];
	uint16_t		 listen_port;
	struct sshconn		*conn;		/* the connection it lives on */
	int			 lfd;
	struct event		 ev_accept;
	int			 accept_on;
	struct sshcall		*call;		/* forward_open, until done */
	uint32_t		 nactive;
	uint32_t		 ntotal;
	uint32_t		 nrefused;
	uint64_t		 sent;
	uint64_t		 received;
	time_t			 since;
	struct timespec		 start;
	TAILQ_HEAD(, fconn)	 conns;
};

TAILQ_HEAD(fwdlist, fwd);

/* ssh_fwd.c: the table, records to the logger */
extern struct fwdlist	 fwds;
const char	*fwd_dir_name(int);
long long	 fwd_ms_since(const struct timespec *);
void		 fwd_record_send(json_t *);		/* steals */
/* IMSG_FWD_LISTENFD, IMSG_FWD_CONNECTED: the reply; its fd or -1 */
int		 fwd_reply_get(struct imsg *, struct fwd_reply *,
		    const char *);
void		 fwd_record(struct fwd *, const char *, const char *);
void		 fwd_close(struct fwd *, const char *, int);
json_t		*fwd_json(struct fwd *);
uint32_t	 fwd_newid(void);

/* ssh_fwdconn.c: connections on a forward */
void		 fwd_accept(int, short, void *);	/* local */
int		 fwd_message(ssh_session, ssh_message, void *); /* remote */
void		 conn_free(struct fconn *, const char *);

#endif /* FWD_H */
