/*
 * fe_backchan.h: the back-channel of delegations (fe_backchan.c): the
 * one-time tokens an ask_claude run on a host with delegate { relay
 * "PATTERN" } reaches bridged with, through the host's published port.
 */

#ifndef FE_BACKCHAN_H
#define FE_BACKCHAN_H

#include <stdint.h>

#include <jansson.h>

#include "imsg.h"

struct client;
struct host;
struct mcp_call;
struct mcp_session;
struct tool;

/* ask_claude: report_channel checked against the host; -1: answered */
int	 backchan_check(struct mcp_call *, struct host *, json_t *);
/*
 * ask_claude leaving for the worker (after its audit record, which must
 * never see the token): a copy of args with the run's back-channel, or
 * a reference to args when the host has none.  NULL: out of memory.
 */
json_t	*backchan_args(struct mcp_call *, struct host *, json_t *);
/* the call is freed: a foreground run's token goes with it */
void	 backchan_call_end(struct mcp_call *);

/* fe_http.c: a live token (constant time) on listener port, or NULL */
const struct client *backchan_auth(const char *, size_t, uint16_t);

/* a delegate's session: 1, and the tool (NULL: tools/list) checked */
int	 backchan_session(struct mcp_session *);
/* tools/call of a delegate's session: 0 go on, -1 refused (answered) */
int	 backchan_tool_refuses(struct mcp_session *, json_t *,
	    const struct tool *, json_t *);
/* tools/list of a delegate's session: only the relay tools it may use */
json_t	*backchan_tools(struct mcp_session *, json_t *);
/* a relay request of a delegate's call: its scope, owner and sender */
void	 backchan_relay_req(struct mcp_call *, json_t *);

/* IMSG_SSH_BACKCHAN, IMSG_SSH_BACKCHAN_END from host's worker */
int	 backchan_dispatch(const char *, struct imsg *);
/* the worker of host died, or a reload: tokens that cannot live go */
void	 backchan_host_gone(const char *);
void	 backchan_reload(void);
/* bridgectl show sessions, tests: how many tokens are live */

#endif /* FE_BACKCHAN_H */
