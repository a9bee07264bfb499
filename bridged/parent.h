/*
 * parent.h: the parent's state and its children (bridged.c, which
 * starts the daemon and dispatches what the children send, and
 * parent_child.c, which starts, wires, restarts and reaps them).  No
 * child includes this.
 */

#ifndef PARENT_H
#define PARENT_H

#include <sys/queue.h>

#include <event.h>
#include <jansson.h>

#include "bridged.h"
#include "imsg.h"

/* more deaths than this in RESTART_WINDOW seconds: give up */
#define RESTARTS_MAX		5
#define RESTART_WINDOW		60

struct child {
	TAILQ_ENTRY(child)	 entry;
	enum bridged_proc	 id;
	char			 host[HOST_NAME_LEN];	/* ssh workers */
	char			 title[HOST_NAME_LEN + 8];
	pid_t			 pid;
	struct imsgev		 iev;
	int			 alive;
	int			 exiting;	/* said it goes on purpose */
	int			 want;		/* start again once reaped */
	int			 errfd;		/* stderr when daemonized */
	struct event		 everr;
	char			 errbuf[1024];
	size_t			 errlen;
	/* restarts with backoff */
	time_t			 deaths[RESTARTS_MAX];
	uint32_t		 ndeaths;
	struct event		 ev_restart;
	int			 restart_set;
	time_t			 gaveup;	/* 0, or when we stopped */
	char			 why[64];
};
TAILQ_HEAD(childlist, child);

extern struct bridged_conf	*conf;
extern struct childlist		 children;
extern struct child		*fe, *lg;	/* frontend, logger */
extern char			 self[PATH_MAX];
extern int			 debug, verbose;
extern int			 shutting_down;
extern int			 mcp_fd, ctl_fd;
extern int			 stdio_mode, stdio_in, stdio_out;
extern char			 logdirs[3][PATH_MAX];

/* bridged.c */
void		 parent_dispatch(int, short, void *);
void		 parent_shutdown(int);
void		 stdio_send(void);

/* parent_child.c */
struct child	*child_new(enum bridged_proc, const char *);
void		 start(struct child *);
int		 child_flush(struct child *);
void		 wire(struct child *, struct child *);
void		 send_all(uint32_t, const void *, size_t);
void		 child_died(struct child *, int);
int		 child_any(void);
struct child	*worker_byhost(const char *);
void		 worker_start(const char *);
void		 worker_fail(const char *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
void		 publish_workers(void);
void		 publish_off(struct bridged_conf *);
/* a daemon event for the audit (steals r); lost when there is no logger */
void		 parent_record(json_t *);

#endif /* PARENT_H */
