/*
 * fe_http.h: what the two halves of the HTTP transport share.  fe_http.c
 * holds the listeners, the checks every request passes (Host, Origin,
 * token, caps) and the answers; fe_httpsess.c holds what a request is
 * for: its MCP session (legacy, with Mcp-Session-Id, or one modern
 * request), the routing of the session's messages to the right response
 * or SSE stream, event ids and resumption.
 */

#ifndef FE_HTTP_H
#define FE_HTTP_H

#include <event2/http.h>
#include <jansson.h>

/* fe_http.c */
void	 http_reply_json(struct evhttp_request *, int, json_t *); /* stolen */
void	 http_refuse(struct evhttp_request *, int, json_t *, int,
	    const char *, ...) __attribute__((__format__ (printf, 5, 6)));
const char *http_reason(int);
int	 http_header_trim(struct evhttp_request *, const char *, char *,
	    size_t);
uid_t	 http_principal_uid(const char *);

/* fe_httpsess.c */
struct client;
void	 httpsess_post(struct evhttp_request *, const struct client *,
	    uint32_t);
void	 httpsess_get(struct evhttp_request *, const struct client *,
	    uint32_t);
void	 httpsess_delete(struct evhttp_request *, const struct client *);
void	 httpsess_conn_gone(struct evhttp_connection *);
int	 httpsess_count(uint32_t);

/* fe_httphdr.c: the 2026-07-28 request headers; -1 answered */
int	 httphdr_modern(struct evhttp_request *, json_t *);

#define MCP_HEADER_MISMATCH	-32020
#define MCP_MODERN_VERSION	"2026-07-28"

#endif /* FE_HTTP_H */
