/*
 * fe_mcp.h: what the two halves of the frontend's MCP side share.  fe_mcp.c
 * holds the sessions on the socket (accept, line framing, the output
 * queue, lifecycle); fe_jsonrpc.c holds what is said in them (message
 * checks, the methods) and fe_calls.c the calls in flight; fe_tasks.c
 * answers the tasks methods.  Only those include it; the rest of the
 * frontend uses frontend.h and fe_tools.h.
 */

#ifndef MCP_H
#define MCP_H

#include <sys/types.h>
#include <sys/queue.h>

#include <stdint.h>
#include <time.h>

#include <event.h>
#include <jansson.h>

#define MCP_CLIENT_LEN		128
#define MCP_SHOWN_LEN		64		/* client text in messages */

#define JSONRPC_PARSE_ERROR	-32700
#define JSONRPC_INVALID_REQUEST	-32600
#define JSONRPC_NO_METHOD	-32601
#define JSONRPC_INVALID_PARAMS	-32602
#define JSONRPC_INTERNAL	-32603
#define MCP_UNSUPPORTED_VERSION	-32022		/* 2026-07-28 */

/*
 * What a protocol revision has (fe_era.c's table): the code asks for a
 * feature, never compares version strings.
 */
#define ERA_BATCH	0x01	/* JSON-RPC batches: 2025-03-26 only */
#define ERA_ANNOT	0x02	/* tool annotations: from 2025-03-26 */
#define ERA_PROGMSG	0x04	/* progress "message": from 2025-03-26 */
#define ERA_TITLE	0x08	/* Tool.title: from 2025-06-18 */
#define ERA_STRUCT	0x10	/* outputSchema, structuredContent: 2025-06-18 */
#define ERA_MODERN	0x20	/* 2026-07-28: stateless, _meta per request,
				   resultType, cache hints; no initialize,
				   ping or logging/setLevel */

struct mcp_era {
	const char	*version;
	int		 flags;		/* ERA_* */
};

struct mcp_batch;
struct mcp_call;
struct mcp_session;

/*
 * Where a session's output goes when it is not a socket of its own
 * (fe_http.c): each message is handed over whole, and the transport is
 * told when the session closes, and when a request will never be
 * answered (forget: the client cancelled it, so no response follows;
 * HTTP ends the POST that waits for one).
 */
struct mcp_output {
	void	(*send)(struct mcp_session *, json_t *);	/* stolen */
	void	(*close)(struct mcp_session *);
	void	(*forget)(struct mcp_session *, json_t *);	/* borrowed */
};

#define MCP_PRINCIPAL_LEN	80

/*
 * fe_idscan.c: the id of a request read in pieces, never held whole (a
 * line over the size limit, a client over the session limit).
 */
#define IDSCAN_KEY_MAX		16	/* any spelling of "id" fits */
#define IDSCAN_VAL_MAX		256	/* longer ids are not read */

struct idscan {
	int		 state;
	int		 first;		/* just after the '{' */
	int		 esc;		/* after a backslash in a string */
	int		 instr;		/* in a string below the top level */
	int		 isid;		/* the current key is "id" */
	int		 nids;		/* "id" keys seen */
	int		 over;		/* buf overflowed */
	size_t		 depth;		/* of the member being skipped */
	size_t		 len;
	char		 buf[IDSCAN_VAL_MAX];
	json_t		*id;
};

void	 idscan_init(struct idscan *);
void	 idscan_feed(struct idscan *, const char *, size_t);
json_t	*idscan_end(struct idscan *, int *);	/* borrowed, or NULL */
void	 idscan_clear(struct idscan *);

enum session_state {
	SESSION_NEW,		/* waiting for initialize */
	SESSION_INITIALIZED,	/* initialize answered */
	SESSION_READY,		/* notifications/initialized seen */
};

/* where a 2026-07-28 request's _meta says what its client can do */
#define MCP_META_CAPS	"io.modelcontextprotocol/clientCapabilities"
#define MCP_META_SUBID	"io.modelcontextprotocol/subscriptionId"

struct mcp_session {
	TAILQ_ENTRY(mcp_session) entry;
	uint32_t		 id;
	int			 fd;
	int			 wfd;		/* fd, or stdout for -i */
	struct event		 evr;
	struct event		 evw;
	struct event		 evfree;
	struct event		 evhup;		/* half-closed: still there? */
	struct evbuffer		*out;
	char			*ibuf;		/* partial line */
	size_t			 ilen;
	size_t			 isize;
	int			 discarding;	/* inside an oversized line */
	struct idscan		 scan;		/* of the oversized line */
	int			 eof;		/* client closed its side */
	int			 dead;		/* closed, free scheduled */
	enum session_state	 state;
	time_t			 since;
	struct timespec		 start;
	uid_t			 uid;
	pid_t			 pid;
	char			 client[MCP_CLIENT_LEN];
	char			 client_version[MCP_CLIENT_LEN];
	char			 protocol[32];
	uint64_t		 requests;
	/*
	 * Who: "uid N" on the socket; on HTTP the client block's name,
	 * whose hosts (fe_http.c) limit what its calls may use.
	 */
	char			 principal[MCP_PRINCIPAL_LEN];
	const char		*transport;	/* "unix", "http", "stdio" */
	const struct mcp_output	*output;	/* NULL: the socket, fd */
	void			*output_arg;
	int			 loglevel;	/* index into log_levels */
	const struct mcp_era	*era;		/* legacy: from initialize */
	/*
	 * The request being dispatched, set by fe_jsonrpc.c around its
	 * method only: a modern request has its own era and log level.
	 */
	struct {
		json_t			*id;	/* borrowed; NULL: none */
		const char		*method; /* borrowed */
		const struct mcp_era	*era;	/* NULL: the session's */
		int			 loglevel; /* -1: none asked */
	}			 req;
	struct mcp_batch	*batch;		/* responses go there */
	TAILQ_HEAD(, mcp_call)	 calls;
	TAILQ_HEAD(, mcp_sub)	 subs;		/* subscriptions/listen */
	int			 nsubs;
	json_t			*relay_subs;	/* resources/subscribe: names */
	json_t			*client_caps;	/* legacy: from initialize */
	uint64_t		 tools_digest;	/* its tools/list, fe_listchg.c */
};

/* the live sessions in turn: NULL gives the first (fe_relayres.c) */
struct mcp_session *mcp_session_next(struct mcp_session *);
/* fe_subs.c: a resource changed; the streams that named it are told */
int	 mcp_subs_resource_updated(struct mcp_session *, const char *);
/* fe_refuse.c: a client over the session limit, told so by its id */
struct ucred;
void	 mcp_refuse_new(int, const struct ucred *);
void	 mcp_refused_close_all(void);

/* fe_subs.c: subscriptions/listen (2026-07-28) on a connection */
struct mcp_sub;
void	 m_subs_listen(struct mcp_session *, json_t *, json_t *);
int	 mcp_subs_cancel(struct mcp_session *, json_t *);
int	 mcp_subs_tools_changed(struct mcp_session *);
/* the logger's answer on a stream's channels (NULL: none), borrowed */
void	 mcp_subs_access(struct mcp_session *, uint32_t, json_t *);
void	 mcp_subs_end(struct mcp_session *, int);

/* fe_mcp.c: output to a session; every JSON value passed in is stolen */
void	 mcp_send_json(struct mcp_session *, json_t *);
/* result stolen, id borrowed */
void	 mcp_send_result(struct mcp_session *, json_t *, json_t *);
/* id borrowed; NULL means JSON null */
void	 mcp_send_error(struct mcp_session *, json_t *, int, const char *,
	    ...) __attribute__((__format__ (printf, 4, 5)));
/* fe_mcp.c: the audit record of a session event ("start", "end", ...) */
void	 mcp_session_record(struct mcp_session *, const char *);
/* fe_mcp.c: a session whose client has gone ends once it owes nothing */
void	 mcp_session_check_done(struct mcp_session *);
/* fe_mcp.c: a live session, or NULL */
struct mcp_session *mcp_session_byid(uint32_t);
/* fe_mcp.c: a short, log-safe copy of client text */
void	 mcp_shown(char *, size_t, const char *);

/* fe_mcp.c: a session on another transport (fe_http.c); NULL: refused */
struct mcp_session *mcp_session_open(const struct mcp_output *, void *,
	    const char *, uid_t);
void	 mcp_session_end(struct mcp_session *);
int	 mcp_session_full(void);		/* at limits sessions */

/* fe_mcp.c: a new id from the sessions' space (fe_era.c's scopes) */
uint32_t mcp_session_newid(void);

/* fe_era.c: the revisions */
const struct mcp_era	*mcp_era_legacy(const char *);
const struct mcp_era	*mcp_era_req(struct mcp_session *);
int	 mcp_era_request(struct mcp_session *, json_t *, const char *,
	    json_t *);
json_t	*mcp_era_tools(struct mcp_session *);	/* new */
void	 mcp_era_cacheable(struct mcp_session *, json_t *);
json_t	*mcp_era_stamp(const struct mcp_era *, json_t *);
json_t	*mcp_era_call_result(struct mcp_call *, json_t *);
void	 m_server_discover(struct mcp_session *, json_t *, json_t *);
void	 m_empty_list(struct mcp_session *, json_t *, json_t *);

/* fe_jsonrpc.c: what initialize and server/discover tell a client */
extern const char	 mcp_instructions[];
/* fe_era.c: the capabilities; initialize, which picks the revision */
json_t	*mcp_capabilities(void);
void	 m_initialize(struct mcp_session *, json_t *, json_t *);
/* fe_era.c: 2025-03-26 batches; 1 when a batch took the response */
struct mcp_batch *mcp_batch_open(void);
void	 mcp_batch_close(struct mcp_session *, struct mcp_batch *);
void	 mcp_batch_hold(struct mcp_batch *);
void	 mcp_batch_release(struct mcp_session *, struct mcp_batch *);
int	 mcp_batch_take(struct mcp_session *, json_t *);
/* fe_jsonrpc.c: the index of a log level's name, -1 for none */
int	 mcp_log_level(const char *);
/* fe_jsonrpc.c: one line from the client, without its newline */
void	 mcp_message(struct mcp_session *, const char *, size_t);
/* fe_calls.c: the session is going: its calls end unanswered */
void	 mcp_calls_drop(struct mcp_session *);
/* fe_calls.c: a call put in flight (NULL: out of memory), and its end:
 * answered with result, or unanswered (NULL); outcome for the audit */
struct tool;
struct mcp_call *mcp_call_new(struct mcp_session *, json_t *,
	    const struct tool *, json_t *, json_t *);
void	 mcp_call_finish(struct mcp_call *, json_t *, const char *);

#endif /* MCP_H */
