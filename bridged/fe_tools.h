/*
 * fe_tools.h: the MCP tool table and the in-flight call a tool works on.
 *
 * fe_jsonrpc.c checks a tools/call request, makes a struct mcp_call and
 * hands it to the tool's run function.  The tool answers exactly once,
 * now or later, through mcp_call_result/mcp_call_text/mcp_call_structured;
 * answering frees the call, so a tool never touches it afterwards.
 */

#ifndef TOOLS_H
#define TOOLS_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/tree.h>

#include <stdint.h>
#include <time.h>

#include <event.h>
#include <jansson.h>

#include "bridged.h"
#include "imsg.h"
#include "fe_tasks.h"

struct mcp_session;
struct mcp_call;
struct mcp_era;
struct mcp_batch;

#define SCOPE_HANDLE_LEN	48	/* "sh_" + id + random, NUL */

/* annotation bits; all four hints are always emitted explicitly */
#define TOOL_READONLY		0x01
#define TOOL_DESTRUCTIVE	0x02
#define TOOL_IDEMPOTENT		0x04
#define TOOL_OPENWORLD		0x08

/*
 * A tool's parameters, from which its inputSchema is made and against
 * which its arguments are checked before anything runs.  type is a JSON
 * Schema type, "string[]" for an array of strings, or "json:" followed
 * by a schema for anything more involved (only its type is checked here;
 * the tool checks the rest).
 */
struct tool_param {
	const char	*name;
	const char	*type;
	int		 required;	/* 0, 1 or PARAM_IGNORED */
	const char	*description;
};
/*
 * Accepted and dropped: parameters Claude Code's own tool of the same
 * name has and that mean nothing here; a model used to them must not be
 * refused for sending them.
 */
#define PARAM_IGNORED	2

struct tool {
	const char	*name;
	const char	*title;
	const char	*description;
	const char	*input_schema;	/* JSON text, or NULL: params */
	const struct tool_param *params; /* NULL-terminated */
	const char	*output_schema;	/* JSON text or NULL */
	int		 annotations;	/* TOOL_* */
	uint32_t	 cap;		/* CAP_* needed, 0 none */
	/*
	 * With cap 0: listed only when some host allows these (the job
	 * tools serve delegations, forward_list/close forwards); hosts
	 * needs nothing and is always listed.
	 */
	uint32_t	 list_cap;
	/* start the call: 0 answered or pending, -1 could not start */
	int		(*run)(struct mcp_call *, json_t *);
	/* one reply from the ssh worker for this call (size-checked) */
	void		(*reply)(struct mcp_call *, struct imsg *);
	/* the call ends unanswered (cancelled, timed out): stop the work */
	void		(*cancel)(struct mcp_call *);
	/*
	 * A client capability the tool relies on ("sampling"), or NULL: a
	 * request that did not declare it is refused with -32021 before
	 * the tool runs (fe_jsonrpc.c).
	 */
	const char	*client_cap;
};

struct mcp_call {
	TAILQ_ENTRY(mcp_call)	 sentry;	/* session's calls */
	RB_ENTRY(mcp_call)	 tentry;	/* by reqid */
	struct mcp_session	*session;
	uint32_t		 sessid;
	json_t			*id;		/* JSON-RPC id, echoed */
	uint32_t		 reqid;		/* peerid to other procs */
	const struct tool	*tool;
	json_t			*args;
	json_t			*progress_token; /* NULL: none asked */
	const struct mcp_era	*era;		/* its protocol revision */
	int			 loglevel;	/* modern: its own; -1 none */
	uid_t			 uid;		/* the principal */
	char			 shell[SCOPE_HANDLE_LEN]; /* minted: say so */
	struct mcp_batch	*batch;		/* answer goes into it */
	double			 progress_last;
	int			 progress_sent;
	struct timespec		 start;		/* CLOCK_MONOTONIC */
	int			 cancelled;
	int			 refused;	/* policy said no */
	int			 timedout;
	struct event		 timeout;
	char			 host[HOST_NAME_LEN]; /* "" until resolved */
	char			 worker[HOST_NAME_LEN]; /* sent there; "" */
	int			 gathered;	/* job_list: workers asked */
	int			 warn_lost;	/* its worker had died: say so */
	uint32_t		 gather_flags;	/* CALL_* of the next ask */
	json_t			*data;		/* the tool's own state */
	char			*rbuf;		/* a result arriving in parts */
	size_t			 rlen;
	/* audit (fe_audit.c): the intent is durable before the act */
	int			 audit_wait;	/* intent sent, no ack yet */
	int			 audit_ok;	/* go on: acked or allowed */
	uint32_t		 audit_hostid;
	int			(*audit_act)(struct mcp_call *);
	/*
	 * Sent with its intent to a running worker, which holds it until
	 * the logger says the intent is durable (ssh_hold.c); dropping: the
	 * intent failed and the worker was asked for it back, why saved.
	 */
	int			 audit_held;
	int			 audit_dropping;
	uint64_t		 audit_token;
	char			 audit_holdwhy[256];
	/*
	 * fe_tasks.c: a call made for a task.  filter sees how the call
	 * ends (result stolen, NULL when it ends unanswered) and returns
	 * what its session is sent, or NULL; task names the task.
	 */
	json_t			*(*filter)(struct mcp_call *, json_t *);
	char			 task[TASK_ID_LEN];
	json_t			*task_req;	/* tools/call's task param */
	int			 audit_timeout;	/* the worker says: timeout */
	char			*audit_why;	/* its reason, for the record */
	uint32_t		 backchan;	/* ask_claude: its token's run */
};

/* fe_tooltab.c: the one table of tools */
extern const struct tool tool_table[];
extern const size_t	 tool_count;

/* fe_jobs.c: a call on a job lost with its worker: answered (1) */
int			 fe_jobs_answer(struct mcp_call *);
void			 fe_jobs_list(struct mcp_call *, json_t *);

/* fe_tools.c */
void			 tools_init(void);
/*
 * The tools some configured host allows, for tools/list in any era:
 * borrowed, valid until the next call or reload; in a fixed order.
 */
json_t			*tools_list_json(void);
/* and the tools of a principal's own capabilities (CAP_PROBE): new */
json_t			*tools_extra_json(uint32_t);
/* the CAP_* some host of conf allows */
uint32_t		 tools_conf_caps(const struct bridged_conf *);
/* 0: the tool is offered; -1: no host allows it, the call answered */
int			 tool_offered(struct mcp_call *);
const struct tool	*tool_find(const char *);
void			 tools_list_trim(json_t *, uint32_t);
struct host		*tool_host(struct mcp_call *, json_t *);
int			 tool_allow(struct mcp_call *, struct host *,
			    uint32_t);
/* fe_hosts.c: host JSON for the hosts tool and bridgectl show hosts */
json_t			*host_state_json(const struct host_state *);
json_t			*host_json(struct host *);
int			 hosts_run(struct mcp_call *, json_t *);	/* tool */

/* fe_probes.c: the conformance probes of a client block's "probe tools" */
uint32_t session_caps(struct mcp_session *);	/* CAP_PROBE or 0 */
int	 probe_missing_run(struct mcp_call *, json_t *);
int	 probe_stream_run(struct mcp_call *, json_t *);
int	 probe_log_run(struct mcp_call *, json_t *);

/* fe_remote.c: tools that run on a host through the ssh worker */
json_t	*params_schema(const struct tool_param *);
int	 params_check(struct mcp_call *, const struct tool_param *,
	    json_t *);
int	 remote_run(struct mcp_call *, json_t *);
int	 remote_run_nohost(struct mcp_call *, json_t *);	/* job_* */
void	 remote_reply(struct mcp_call *, struct imsg *);
void	 remote_cancel(struct mcp_call *);

/* fe_mcp.c: strings that must be valid UTF-8 JSON; never NULL */
json_t	*mcp_string(const char *);
json_t	*mcp_stringn(const char *, size_t);
void	 mcp_utf8_trunc(char *);	/* drop a cut-off last sequence */

/* fe_calls.c: answering a call; each frees the call */
void	mcp_call_result(struct mcp_call *, json_t *);	/* steals */
void	mcp_call_text(struct mcp_call *, int, const char *, ...)
	    __attribute__((__format__ (printf, 3, 4)));
void	mcp_call_structured(struct mcp_call *, json_t *);	/* steals */
/* progress (total 0: unknown) when the client asked for it */
void	mcp_notify_progress(struct mcp_call *, double, double, const char *);

/* fe_notify.c: log messages to the call's session; the result's last look */
struct mcp_session;
int	mcp_log_threshold(struct mcp_session *, struct mcp_call *);
void	mcp_call_log(struct mcp_call *, int, const char *, ...)
	    __attribute__((__format__ (printf, 3, 4)));
json_t	*mcp_result_final(struct mcp_call *, json_t *);	/* steals */
/*
 * The log level notifications/message for this call go out at (an index
 * into the syslog levels, debug 0 ... emergency 7), or -1: send none.  A
 * modern (2026-07-28) call has its own from its _meta; a legacy one has
 * its session's, from logging/setLevel.
 */
int	mcp_call_loglevel(struct mcp_call *);
/* who the call acts for, for its records (a new JSON string) */
json_t	*call_principal(struct mcp_call *);
/* the call in flight with this request id, or NULL */
struct mcp_call	*mcp_call_byreqid(uint32_t);
/*
 * A call the frontend makes itself (fe_tasks.c): in session s with its
 * request id, or, s NULL, one no session owns (not counted in flight)
 * acting for session sessid.  args borrowed.  0 started (it may already
 * be answered), -1 out of memory.
 */
int	 mcp_call_start(struct mcp_session *, json_t *, uint32_t, uid_t,
	    const struct tool *, json_t *, json_t *,
	    json_t *(*)(struct mcp_call *, json_t *), const char *, json_t *);

/* fe_scope.c: state of modern calls, bound to their principal */
int	 scope_bind(struct mcp_call *);
void	 scope_result(struct mcp_call *, json_t *);
int	 scope_tool(const char *);
json_t	*scope_schema(json_t *);

#endif /* TOOLS_H */
