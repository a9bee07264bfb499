/*
 * fe_tasksint.h: what the two files of MCP tasks share: fe_tasks.c (the
 * table, starting a task, following its job) and fe_tasks_rpc.c (the
 * tasks methods).  Nothing else includes it.
 */

#ifndef FE_TASKSINT_H
#define FE_TASKSINT_H

#include <sys/types.h>
#include <sys/queue.h>

#include <event.h>
#include <jansson.h>

#include "bridged.h"
#include "fe_tasks.h"

#define TASK_TTL_DEF		3600000LL	/* ms, when none is asked */
#define TASK_TTL_MIN		1000LL
#define TASK_TTL_MAX		86400000LL
#define TASK_POLL_MS		2000
#define TASKS_PER_UID		64
#define TASKS_PAGE		20		/* tasks/list */
#define TASK_OUT_MAX		32768		/* Bash output in a result */
#define WATCH_RETRIES		5		/* job lookups that fail */
#define JOB_WAIT_SECS		3600
#define TASK_OUTPUT_MS		600000
#define JSONRPC_TASK_LIMIT	-32000

enum task_status {
	T_WORKING,
	T_INPUT_REQUIRED,	/* never entered: no tool asks the client */
	T_COMPLETED,
	T_FAILED,
	T_CANCELLED,
};

enum task_kind {
	TK_DELEG,		/* ask_claude: a delegation job */
	TK_BASH,		/* Bash: a background command */
};

struct task_wait {
	TAILQ_ENTRY(task_wait)	 entry;
	uint32_t		 reqid;		/* its tasks/result call */
};

struct task {
	TAILQ_ENTRY(task)	 entry;
	char			 id[TASK_ID_LEN];
	unsigned long long	 seq;		/* creation order */
	uid_t			 uid;
	uint32_t		 sessid;	/* the session that made it */
	enum task_era		 era;
	enum task_kind		 kind;
	const char		*tool;
	char			 host[HOST_NAME_LEN];
	char			 job[64];	/* job_id or bash id */
	enum task_status	 status;
	char			*message;
	long long		 created;	/* ms since the epoch */
	long long		 updated;
	long long		 ttl;		/* ms */
	json_t			*result;	/* CallToolResult once ended */
	json_t			*pending;	/* ended at once: its result */
	char			*out;		/* Bash output so far */
	size_t			 outlen;
	size_t			 dropped;
	int			 retries;
	struct event		 ev_watch;
	struct event		 ev_expire;
	TAILQ_HEAD(, task_wait)	 waiters;
};

TAILQ_HEAD(tasklist, task);
extern struct tasklist		 tasks;
extern unsigned long long	 task_seq;

long long	 task_now_ms(void);
const char	*task_status_name(enum task_status);
int		 task_terminal(struct task *);
/* by id alone: for the calls made for a task, never for a client */
struct task	*task_find(const char *);
json_t		*task_text_result(const char *, int);
const char	*task_first_text(json_t *);
void		 task_message(struct task *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
json_t		*task_json(struct task *, enum task_era, int);
json_t		*task_result_for(struct task *);
void		 task_end(struct task *, enum task_status, json_t *);
int		 tasks_declared(json_t *);

#endif /* FE_TASKSINT_H */
