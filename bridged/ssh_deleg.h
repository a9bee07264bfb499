/*
 * ssh_deleg.h: inside ask_claude and the job tools of the ssh worker,
 * shared by ssh_deleg.c (starting claude and following it to its end),
 * ssh_delegresult.c (its output made into a result), ssh_delegkill.c (the kill
 * and the check that nothing is left) and ssh_delegjob.c (the table of
 * delegations, the job tools, bridgectl).  The rest of the worker uses
 * what ssh.h declares.
 */

#ifndef DELEGATE_H
#define DELEGATE_H

#include <sys/queue.h>

#include <stdint.h>
#include <time.h>

#include <event.h>
#include <jansson.h>
#include <libssh/libssh.h>
#include <libssh/callbacks.h>

#include "bridged.h"
#include "ssh.h"
#include "ssh_shell.h"

#define DELEG_STDOUT_MAX	(16 * 1024 * 1024)
#define DELEG_STDERR_TAIL	2048
#define CD_FAILED		126
#define CWD_OUTSIDE		125	/* resolved outside base dir */

enum deleg_state {
	D_RUNNING = 0,
	D_KILLING,	/* the kill is on its way */
	D_DONE,		/* claude answered, is_error false */
	D_ERROR,	/* claude answered an error, or no usable answer */
	D_TIMEOUT,
	D_CANCELLED,
	D_KILLED,	/* job_cancel, bridgectl kill delegation */
	D_LOST,		/* the connection went away */
};

enum deleg_wait {
	W_STATUS,	/* job_status, job_wait: answer with the status */
	W_CANCEL,	/* job_cancel: answer when killed */
	W_CTL,		/* bridgectl kill delegation */
};

struct deleg;

struct dwait {
	TAILQ_ENTRY(dwait)	 entry;
	struct deleg		*d;
	enum deleg_wait		 kind;
	struct sshcall		*call;	/* W_STATUS, W_CANCEL */
	uint32_t		 peerid; /* W_CTL */
	struct event		 ev;
};

/* the kill-and-check command on a second channel */
struct dprobe {
	struct deleg		*d;
	struct oneshot		 os;
	char			 out[256];
	struct event		 ev_timeout;
};

struct deleg {
	TAILQ_ENTRY(deleg)	 entry;
	uint32_t		 id;
	char			 job_id[JOB_ID_LEN]; /* "" when foreground */
	struct sshhost		*host;		/* NULL once lost */
	struct sshconn		*conn;		/* where ch is */
	struct sshopen		*opening;	/* the pool is opening ch */
	struct sbuf		 prompt;	/* written once it runs */
	int			 bg;
	char			 hostname[HOST_NAME_LEN];
	uint32_t		 sessid;
	uid_t			 uid;		/* the principal that started it */
	int			 has_uid;	/* no: a record older than that */
	struct sshcall		*call;		/* foreground */
	char			*task;		/* first line, cut */
	ssh_channel		 ch;
	struct ssh_channel_callbacks_struct cb;
	long			 pid;
	char			 pidbuf[24];
	size_t			 pidlen;
	int			 havepid;
	int			 pidwait;	/* the kill waits for the pid */
	struct sbuf		 out;
	size_t			 outtotal;
	char			 err[DELEG_STDERR_TAIL];
	size_t			 errlen;
	int			 exitstatus;
	char			 exitsignal[32];
	int			 closed;
	enum deleg_state	 state;
	enum deleg_state	 killwhy;
	int			 timeout;	/* seconds */
	time_t			 started;
	time_t			 ended;
	struct timespec		 t0;
	long long		 duration_ms;	/* ours, wall clock */
	char			 session_id[64];
	double			 cost;
	int			 has_cost;
	int			 left;		/* left after a kill */
	json_t			*result;	/* MCP result (jobs) */
	json_t			*structured;	/* its fields */
	struct dprobe		*probe;
	struct delegbc		*bc;		/* back-channel (ssh_delegbc.c) */
	int			 bc_file;	/* its file may be on the host */
	TAILQ_HEAD(, dwait)	 waiters;
	struct event		 ev_timeout;
	struct event		 ev_progress;
	struct event		 ev_proc;
};

TAILQ_HEAD(deleglist, deleg);

/* ssh_deleg.c */
void		 deleg_dropchannel(struct deleg *);
void		 deleg_kill(struct deleg *, enum deleg_state);
void		 deleg_killed(struct deleg *);	/* the kill was checked */
long long	 deleg_ms(const struct deleg *);	/* since it started */

/* ssh_delegresult.c: d->result and d->structured once it ended */
void		 deleg_outcome(struct deleg *);
json_t		*deleg_text_result(int, const char *);

/* ssh_delegkill.c: kill the process group, check on the host it is gone */
int		 dprobe_start(struct deleg *);
void		 dprobe_free(struct dprobe *);

/* ssh_delegjob.c: the table, its retention, those waiting on a job */
#define DELEG_KEEP_MAX		256	/* finished delegations kept */
extern struct deleglist	 delegs;
void		 deleg_free(struct deleg *);
const char	*deleg_state_name(enum deleg_state);
long long	 deleg_elapsed_ms(struct deleg *);
void		 deleg_purge_start(void);
void		 dwait_answer(struct dwait *);
json_t		*deleg_job_result(struct deleg *);	/* job_status's */
json_t		*deleg_json(struct deleg *);		/* job_list's */
void		 deleg_list_line(struct sbuf *, struct deleg *);
void		 deleg_list_reply(struct sshcall *, json_t *, struct sbuf *,
		    int, const char *);
int		 deleg_job_allowed(struct sshcall *, struct deleg *);
int		 deleg_job_known(const char *);
void		 deleg_nojob(struct sshcall *, const char *, const char *);
int		 deleg_mine(struct sshcall *, struct deleg *);

/* ssh_delegbc.c: the run's back-channel to the relay */
struct delegbc;
int		 delegbc_new(struct sshcall *, const char *, struct delegbc **,
		    char *, size_t);
void		 delegbc_json(struct sbuf *, struct delegbc *);
void		 delegbc_cmd_file(struct sbuf *, struct delegbc *);
void		 delegbc_cmd_args(struct sbuf *, struct delegbc *);
void		 delegbc_allowed(struct sbuf *, struct delegbc *);
void		 delegbc_prompt(struct sbuf *, struct delegbc *);
void		 delegbc_started(struct deleg *);
void		 delegbc_end(struct deleg *, struct sshhost *, int);

/* ssh_delegdb.c: end records in the audit database, jobs found there */
void		 delegdb_record(json_t *);
void		 delegdb_end_fields(struct deleg *, json_t *);
int		 delegdb_job_id_ok(const char *);
void		 delegdb_find(struct sshcall *, int, const char *);
void		 delegdb_list(struct sshcall *, json_t *, struct sbuf *, int);

#endif /* DELEGATE_H */
