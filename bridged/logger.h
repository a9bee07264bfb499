/*
 * logger.h: what the logger's files share: logger.c (its peers and the
 * dispatch), logger_queue.c (the records: queue, seal, commit, acks),
 * logger_ctl.c (the requests that read records back: query, history,
 * verify, rotate).  Only the logger includes it.
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

struct bridged_conf;
struct log_held;

/* logger.c */
struct imsgev	*lpeer_iev(int);	/* a peer by handle, or NULL */
struct lpeer	*lpeer_worker(const char *);
void		 lpeers_flush_lazy(void);

/* logger_queue.c */
void		 logq_init(void);
void		 logq_shutdown(void);
void		 logq_follow(int);
void		 logq_nofollow(void);
void		 logger_configure(struct bridged_conf *);
/* a record or an intent as received from a peer (its handle, or -1) */
void		 enqueue(int, uint32_t, int, const struct log_held *,
		    const void *, size_t);
void		 do_intent_held(struct lpeer *, struct imsg *);
void		 flush_turn(void);	/* the end of a turn of the loop */
void		 logger_flush(void);	/* commit what is queued */
void		 logger_prune(int, short, void *);

/* logger_ctl.c: each answers its asker with IMSG_LOG_DATA and _END */
void		 do_history(struct lpeer *, struct imsg *);
void		 do_query(struct imsg *);
void		 do_verify(struct imsg *);
void		 do_rotate(struct imsg *);

#endif /* LOGGER_H */
