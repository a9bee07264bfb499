/*
 * fe_relay.h: the relay tools in the frontend (fe_relay.c), the channels
 * as MCP resources (fe_relayres.c) and bridgectl's view (fe_control.c).
 * The store is the logger's: logger_relay.c.
 */

#ifndef FE_RELAY_H
#define FE_RELAY_H

#include <jansson.h>

#include "imsg.h"

struct mcp_call;
struct mcp_session;

/* fe_relay.c: the tools' run and cancel functions (fe_tools.c's table) */
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
/* bridgectl: a request for connection id; answered by control_relay_reply */
int	 relay_ctl_ask(uint32_t, json_t *);

/* resources/list, resources/read: their own ids (fe_relayres.c) */
#define RELAY_RES_BIT	0x40000000U
int	 relay_res_ask(uint32_t, json_t *);

/* fe_relayres.c: bridged://channel/NAME resources and their pushes */
void	 relay_resources_event(const char *, const char *, json_int_t);
void	 relay_res_reply(uint32_t, json_t *);
const char *relay_uri_channel(const char *);
void	 m_resources_list(struct mcp_session *, json_t *, json_t *);
void	 m_resources_read(struct mcp_session *, json_t *, json_t *);
void	 m_resources_subscribe(struct mcp_session *, json_t *, json_t *);

/* fe_control.c: the logger's answer (NULL: none) to bridgectl, stolen */
void	 control_relay_reply(uint32_t, json_t *);
/* fe_control.c: a send on channel: show channel -f followers ask */
void	 control_relay_event(const char *);

#endif /* FE_RELAY_H */
