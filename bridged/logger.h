/*
 * logger.h: what logger.c (the audit queue, its commits and the
 * dispatch) shares with logger_ctl.c (the requests that read records
 * back: query, history, verify, rotate).  Only the logger includes it.
 */

#ifndef LOGGER_H
#define LOGGER_H

#include <sys/queue.h>

#include "bridged.h"
#include "imsg.h"

struct lpeer {
	TAILQ_ENTRY(lpeer)	 entry;
	int			 handle;
	enum bridged_proc	 kind;
	char			 name[HOST_NAME_LEN + 8];
	struct imsgev		 iev;
};

extern struct lpeer	*fe_peer;	/* the frontend, or NULL */

/* logger.c */
struct imsgev	*lpeer_iev(int);	/* a peer by handle, or NULL */
void		 logger_flush(void);	/* commit what is queued */
void		 logger_prune(int, short, void *);

/* logger_ctl.c: each answers its asker with IMSG_LOG_DATA and _END */
void		 do_history(struct lpeer *, struct imsg *);
void		 do_query(struct imsg *);
void		 do_verify(struct imsg *);
void		 do_rotate(struct imsg *);

#endif /* LOGGER_H */
