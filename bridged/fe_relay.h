/*
 * fe_relay.h: the relay tools in the frontend (fe_relay.c), the channels
 * as MCP resources (fe_relayres.c) and bridgectl's view (fe_ctlrelay.c).
 * The store is the logger's: logger_relay.c.
 */

#ifndef FE_RELAY_H
#define FE_RELAY_H

#include <jansson.h>

#include "imsg.h"
#include "fe_tools.h"

struct mcp_call;
struct mcp_session;

/*
 * fe_relay.c: the tools' parameters, run and cancel functions and the
 * schemas of their results, for the one tool table (fe_tooltab.c)
 */
extern const struct tool_param relay_send_params[];
extern const struct tool_param relay_receive_params[];
extern const struct tool_param relay_ack_params[];
extern const struct tool_param relay_clear_params[];
extern const struct tool_param relay_none_params[];

#define CH_MSG_SCHEMA \
	"{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"}," \
	"\"channel\":{\"type\":\"string\"},\"sender\":{\"type\":\"string\"}," \
	"\"content\":{\"type\":\"string\"},\"time\":{\"type\":\"string\"}," \
	"\"truncated\":{\"type\":\"boolean\"},\"offset\":{\"type\":" \
	"\"integer\"},\"length\":{\"type\":\"integer\"}}}"
#define CH_INFO_PROPS \
	"\"name\":{\"type\":\"string\"},\"count\":{\"type\":\"integer\"}," \
	"\"last_id\":{\"type\":\"integer\"},\"senders\":{\"type\":\"array\"," \
	"\"items\":{\"type\":\"string\"}},\"last_time\":{\"type\":" \
	"[\"string\",\"null\"]}"

int	 relay_send_run(struct mcp_call *, json_t *);
int	 relay_receive_run(struct mcp_call *, json_t *);
int	 relay_ack_run(struct mcp_call *, json_t *);
int	 relay_list_run(struct mcp_call *, json_t *);
int	 relay_clear_run(struct mcp_call *, json_t *);
void	 relay_cancel(struct mcp_call *);
/* 1: a valid channel name */
int	 relay_name_ok(const char *);
/* IMSG_RELAY_DATA/REPLY/EVENT from the logger */
void	 relay_dispatch(struct imsg *);
void	 relay_logger_down(void);
/*
 * bridgectl: a request for connection id; answered by control_relay_reply.
 * Its principal is "bridgectl" unless req names one ("bridgectl uid N").
 */
int	 relay_ctl_ask(uint32_t, json_t *);

/* resources/list, resources/read: their own ids (fe_relayres.c) */
#define RELAY_RES_BIT	0x40000000U
int	 relay_res_ask(uint32_t, json_t *);
/* fe_relayres.c: a listen stream's channels, answered to fe_subs.c */
int	 relay_listen_ask(struct mcp_session *, uint32_t, json_t *);

/* fe_relayres.c: bridged://channel/NAME resources and their pushes */
#define RELAY_URI_PREFIX	"bridged://channel/"
void	 relay_resources_event(const char *, const char *, json_int_t,
	    const char *);
void	 relay_res_reply(uint32_t, json_t *);
const char *relay_uri_channel(const char *);
void	 m_resources_list(struct mcp_session *, json_t *, json_t *);
void	 m_resources_read(struct mcp_session *, json_t *, json_t *);
void	 m_resources_subscribe(struct mcp_session *, json_t *, json_t *);

/*
 * fe_ctlrelay.c: bridgectl show channels, show channel NAME [-f], clear
 * channel NAME, for the control connection of an id; the logger's
 * answer (NULL: none) stolen; a send on a channel for the followers.
 */
struct imsg;
void	 ctlrelay_request(uint32_t, uid_t, struct imsg *);
void	 control_relay_reply(uint32_t, json_t *);
void	 control_relay_event(const char *);
int	 ctlrelay_following(uint32_t);
void	 ctlrelay_gone(uint32_t);	/* the connection ends */
/* fe_control.c: for those, by connection id */
int	 control_conn_send(uint32_t, json_t *);
void	 control_conn_reply(uint32_t, uint32_t, const char *);

#endif /* FE_RELAY_H */
