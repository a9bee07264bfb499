/*
 * frontend.h: what the frontend's parts (frontend.c, fe_mcp.c, fe_jsonrpc.c,
 * fe_tools.c, fe_control.c) offer each other.  The frontend is the only process
 * that parses JSON from clients; it runs chrooted, unprivileged, under a
 * seccomp filter that forbids open, socket and exec.
 */

#ifndef FRONTEND_H
#define FRONTEND_H

#include <jansson.h>

#include "bridged.h"
#include "imsg.h"

/*
 * Requests the frontend makes of the ssh worker carry an id in peerid;
 * fe_control.c sets this bit in its ids, fe_calls.c never does, so replies are
 * routed without a shared table.
 */
#define CTL_REQID_BIT	0x80000000U

/* frontend.c */
extern struct bridged_conf	*frontend_conf;	/* current config */
/* send to a peer process (PROC_PARENT, PROC_LOGGER; ssh: fe_ssh.c) */
int	 frontend_compose(enum bridged_proc, uint32_t, uint32_t, int,
	    const void *, size_t);
void	 frontend_push(enum bridged_proc);
/* hand an audit/log record to the logger (JSON object, not stolen) */
void	 frontend_record(json_t *);
void	 frontend_record_text(const char *);
void	 frontend_push_records(void);
/* the drain after SIGTERM may be complete: frontend checks mcp_inflight */
void	 frontend_check_drained(void);
int	 frontend_shutting_down(void);

/* fe_mcp.c, fe_jsonrpc.c: MCP sessions on the UNIX socket, JSON-RPC */
void	 mcp_init(void);
void	 mcp_listen(int);		/* listening socket from parent */
void	 mcp_stdio(int, int, uid_t, pid_t); /* bridged -i: in, out */
void	 mcp_stop_accepting(void);	/* shutdown: no new sessions */
void	 mcp_close_all(void);
/* a new config: tell the sessions when their tool list changed */
void	 mcp_config_changing(void);	/* fe_listchg.c */
void	 mcp_config_changed(void);
int	 mcp_inflight(void);		/* tool calls not yet answered */
json_t	*mcp_sessions_json(void);	/* array, for bridgectl */
/* reply from a host's ssh worker for a call; -1: not the worker's to
 * answer, or malformed */
int	 mcp_dispatch_ssh(const char *, struct imsg *);
/* a host's worker died or could not start: its calls fail with why */
void	 mcp_worker_gone(const char *, const char *);
int	 mcp_worker_busy(const char *);	/* calls in flight there */

/*
 * fe_ssh.c: the ssh workers, one per host, started on first use; what is
 * sent to a host waits while its worker starts.
 */
int	 fe_ssh_send(const char *, uint32_t, uint32_t, const void *, size_t);
int	 fe_ssh_send_running(const char *, uint32_t, uint32_t, const void *,
	    size_t);
/* to every running worker; their names into the object when not NULL */
int	 fe_ssh_broadcast(uint32_t, uint32_t, const void *, size_t, json_t *);
int	 fe_ssh_running(const char *);
/* a held call asked back: 1 if nothing holds it, 0 if DROPPED follows */
int	 fe_ssh_unhold(const char *, uint32_t);
int	 fe_ssh_take_lost(const char *);
json_t	*fe_ssh_names(void);
int	 fe_ssh_state(const char *, struct host_state *, pid_t *, uint32_t *);
void	 fe_ssh_peer(struct imsg *);		/* IMSG_SSH_PEER */
void	 fe_ssh_startfail(struct imsg *);	/* IMSG_SSH_STARTFAIL */
void	 fe_ssh_died(const char *, pid_t);

/* fe_jobs.c: the workers' background jobs, lost when a worker dies */
int	 fe_jobs_note(const char *, pid_t, struct imsg *); /* IMSG_SSH_JOBNOTE */
uint32_t fe_jobs_bashseq(const char *);
void	 fe_jobs_worker_gone(const char *, pid_t);
void	 fe_jobs_died(struct imsg *);		/* IMSG_SSH_DIED */
void	 fe_jobs_session_end(uint32_t);

/* fe_control.c: bridgectl on the control socket */
void	 control_listen(int);
void	 control_stop(void);
void	 control_exit(void);	/* followers: "bridged stopped" */
/* parent's answer to a reload request, routed by peerid */
void	 control_result(uint32_t, int, const char *);
/* a worker's answers to bridgectl, routed by peerid; -1: malformed */
int	 control_dispatch_ssh(const char *, struct imsg *);
void	 control_worker_gone(const char *);
int	 control_worker_busy(const char *);

/*
 * fe_audit.c: the frontend's half of the audit.  Records go to the logger,
 * or wait in a bounded backlog while it is being restarted.  A tool call
 * that acts on a host first sends an intent and continues (act) only
 * when the logger says it is durable; without that answer a mutating
 * call is refused.
 */
struct mcp_call;
struct tool;
int	 audit_intent(struct mcp_call *, uint32_t,
	    int (*)(struct mcp_call *));
int	 audit_mutating(const struct tool *);
void	 audit_backlog(const char *, size_t);
void	 audit_logger_up(void);
void	 audit_logger_down(void);
void	 audit_ack(struct imsg *);
void	 audit_dropped(const char *, struct imsg *);	/* IMSG_SSH_DROPPED */
void	 audit_take_why(struct mcp_call *, json_t *);
char	*audit_why(struct mcp_call *, json_t *, const char *);
void	 audit_follow(int);		/* +1 / -1 followers of show log */

/* fe_control.c: the logger's answers to bridgectl, routed by peerid */
void	 control_dispatch_logger(struct imsg *);
void	 control_logger_gone(void);

/* fe_ctlhist.c: ended sessions and delegations from the audit database */
int	 ctlhist_ask(uint32_t, uint32_t, const struct ctl_showq *);
json_t	*ctlhist_row(uint32_t, const void *, size_t, json_t *);
void	 ctlhist_deleg_key(json_t *, char *, size_t);

/*
 * fe_http.c: Streamable HTTP on the listeners the parent bound; a
 * principal's hosts (1: refused, and the call answered with why).
 */
void	 http_listen(uint32_t, int);
void	 http_stop_accepting(void);
json_t	*http_listeners_json(void);
struct mcp_call;
struct mcp_session;
int	 http_principal_refuses(struct mcp_call *, const char *);
/* every byte compared, whatever differs first (fe_http.c) */
int	 ct_equal(const char *, const char *, size_t);
int	 http_principal_may(const struct mcp_session *, const char *);
uint32_t http_principal_caps(const struct mcp_session *);

/* fe_mcp.c: bridgectl kill session; -1 when there is no such session */
int	 mcp_kill_session(uint32_t, uid_t, int *);
/* fe_calls.c: request ids of the calls waiting for an audit answer */
size_t	 mcp_audit_waiting(uint32_t *, size_t);

#endif /* FRONTEND_H */
