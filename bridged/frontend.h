/*
 * frontend.h: what the frontend's parts (frontend.c, mcp.c, tools.c,
 * control.c) offer each other.  The frontend is the only process that
 * parses JSON from clients; it runs chrooted, unprivileged, under a
 * seccomp filter that forbids open, socket and exec.
 */

#ifndef FRONTEND_H
#define FRONTEND_H

#include <jansson.h>

#include "bridged.h"
#include "imsg.h"

/*
 * Requests the frontend makes of the ssh worker carry an id in peerid;
 * control.c sets this bit in its ids, mcp.c never does, so replies are
 * routed without a shared table.
 */
#define CTL_REQID_BIT	0x80000000U

/* frontend.c */
extern struct bridged_conf	*frontend_conf;	/* current config */
/* send to a peer process (PROC_PARENT, PROC_SSH, PROC_LOGGER) */
int	 frontend_compose(enum bridged_proc, uint32_t, uint32_t, int,
	    const void *, size_t);
/* hand an audit/log record to the logger (JSON object, not stolen) */
void	 frontend_record(json_t *);
/* the drain after SIGTERM may be complete: frontend checks mcp_inflight */
void	 frontend_check_drained(void);
int	 frontend_shutting_down(void);

/* mcp.c: MCP sessions on the UNIX socket, JSON-RPC, lifecycle */
void	 mcp_init(void);
void	 mcp_listen(int);		/* listening socket from parent */
void	 mcp_stop_accepting(void);	/* shutdown: no new sessions */
void	 mcp_close_all(void);
int	 mcp_inflight(void);		/* tool calls not yet answered */
json_t	*mcp_sessions_json(void);	/* array, for bridgectl */
/* reply from the ssh worker for a request the MCP side made */
void	 mcp_dispatch_ssh(struct imsg *);

/* control.c: bridgectl on the control socket */
void	 control_listen(int);
void	 control_stop(void);
/* parent's answer to a reload request, routed by peerid */
void	 control_result(uint32_t, int, const char *);
/* ssh worker's answers to show hosts, routed by peerid */
void	 control_dispatch_ssh(struct imsg *);

#endif /* FRONTEND_H */
