/*
 * fe_httpsess.c: what an HTTP request is for, once fe_http.c has let it
 * through.
 *
 * A legacy client (2024-11-05 ... 2025-11-25) opens a session with
 * initialize; its answer carries Mcp-Session-Id (random, visible ASCII)
 * and every later request names it.  A 2026-07-28 request has no
 * session: it gets an MCP session of its own that ends with its answer
 * (or with its connection: its calls are cancelled).  Either way the
 * body goes to fe_jsonrpc.c through mcp_message(), and the session's
 * output hook brings every message back here to be routed:
 *
 *   a response        to the POST that carried its request id;
 *   progress          to the POST whose request carried its token;
 *   a subscription's  to the POST of its subscriptions/listen, which
 *   notification      stays open as an SSE stream until cancelled;
 *   anything else     (logging, list_changed) to the session's GET
 *                     stream, else the POST being dispatched.
 *
 * A POST that carries requests is answered with JSON (initialize, and
 * modern requests unless something must be said before the answer) or
 * an SSE stream, which opens with a priming event and closes once every
 * request in it is answered.  Legacy events carry ids "STREAM-SEQ" and
 * are kept (bounded) so that a client that lost a stream can GET it
 * again with Last-Event-ID and receive what it missed and what follows.
 * A session unused for HTTPSESS_IDLE seconds with nothing open ends.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event.h>
#include <event2/http.h>
#include <jansson.h>

#include "bridged.h"
#include "frontend.h"
#include "log.h"
#include "fe_mcp.h"
#include "fe_http.h"

#define HTTPSESS_IDLE		1800	/* seconds */
#define HTTPSESS_PING		20	/* seconds between SSE comments */
#define HISTORY_MAX		256	/* events kept per session */
#define HISTORY_BYTES		(4 * 1024 * 1024)
#define SID_BYTES		24
#define SSE_RETRY_MS		1000

struct hevent {
	TAILQ_ENTRY(hevent)	 entry;
	uint32_t		 stream;
	uint64_t		 seq;
	char			*text;
};

struct hsess;

struct hpost {
	TAILQ_ENTRY(hpost)	 entry;
	struct hsess		*hs;
	struct evhttp_request	*req;		/* NULL: the client let go */
	struct evhttp_connection *evcon;
	uint32_t		 stream;
	uint64_t		 seq;
	json_t			*ids;		/* requests not yet answered */
	json_t			*tokens;	/* their progress tokens */
	int			 sse;		/* streaming has begun */
	int			 accept_sse;
	int			 get;		/* the session's GET stream */
	int			 init;		/* answers initialize */
	int			 noreq;		/* no request in it: 202 */
	struct event		 ping;
};

struct hsess {
	TAILQ_ENTRY(hsess)	 entry;
	struct mcp_session	*s;		/* NULL: ended */
	char			 sid[SID_BYTES * 2 + 1];	/* "": modern */
	char			 principal[CLIENT_NAME_LEN];
	uint32_t		 listener;
	uint32_t		 next_stream;
	TAILQ_HEAD(, hpost)	 posts;
	TAILQ_HEAD(, hevent)	 history;
	size_t			 nhistory;
	size_t			 history_bytes;
	struct hpost		*cur;		/* being dispatched */
	uint32_t		 get_stream;	/* the GET stream's number */
	uint64_t		 get_seq;	/* the last event id it had */
	struct event		 idle;
};

static TAILQ_HEAD(, hsess)	 hsessions = TAILQ_HEAD_INITIALIZER(hsessions);

static int	 principal_full(struct evhttp_request *,
		    const struct client *, json_t *);
static void	 out_send(struct mcp_session *, json_t *);
static void	 out_close(struct mcp_session *);
static void	 out_forget(struct mcp_session *, json_t *);
static const struct mcp_output http_output = { out_send, out_close,
		    out_forget };

static struct hsess *hs_new(const struct client *, uint32_t, int);
static void	 hs_free(int, short, void *);
static void	 hs_idle(int, short, void *);
static void	 hs_touch(struct hsess *);
static struct hsess *hs_find(struct evhttp_request *, const struct client *,
		    int *);
static struct hpost *post_new(struct hsess *, struct evhttp_request *);
static void	 post_free(struct hpost *);
static void	 post_sse_start(struct hpost *);
static void	 post_event(struct hpost *, const char *, int);
static void	 post_finish(struct hpost *, json_t *);
static void	 post_done(struct hpost *);
static void	 post_ping(int, short, void *);
static int	 ids_has(json_t *, json_t *);
static int	 ids_take(json_t *, json_t *);
static int	 status_of(json_t *, int);
static int	 answers(struct hpost *, json_t *);
static int	 accepts(struct evhttp_request *, const char *);
static int	 owed(json_t *);

/*
 * Sessions
 */

static struct hsess *
hs_new(const struct client *c, uint32_t listener, int modern)
{
	struct hsess	*hs;
	unsigned char	 rnd[SID_BYTES];
	size_t		 i;

	if ((hs = calloc(1, sizeof(*hs))) == NULL)
		return NULL;
	TAILQ_INIT(&hs->posts);
	TAILQ_INIT(&hs->history);
	strlcpy(hs->principal, c->name, sizeof(hs->principal));
	hs->listener = listener;
	hs->next_stream = 1;
	if (!modern) {
		arc4random_buf(rnd, sizeof(rnd));
		for (i = 0; i < sizeof(rnd); i++)
			snprintf(hs->sid + 2 * i, 3, "%02x", rnd[i]);
		explicit_bzero(rnd, sizeof(rnd));
	}
	if ((hs->s = mcp_session_open(&http_output, hs, c->name,
	    http_principal_uid(c->name))) == NULL) {
		free(hs);
		return NULL;
	}
	evtimer_set(&hs->idle, hs_idle, hs);
	TAILQ_INSERT_TAIL(&hsessions, hs, entry);
	hs_touch(hs);
	return hs;
}

static void
hs_touch(struct hsess *hs)
{
	struct timeval	 tv = { HTTPSESS_IDLE, 0 };

	if (hs->sid[0] != '\0')
		evtimer_add(&hs->idle, &tv);
}

static void
hs_idle(int fd, short ev, void *arg)
{
	struct hsess	*hs = arg;
	struct hpost	*p;

	TAILQ_FOREACH(p, &hs->posts, entry)
		if (p->req != NULL) {
			hs_touch(hs);
			return;
		}
	if (hs->s != NULL && TAILQ_EMPTY(&hs->s->calls)) {
		log_info("session %u: idle for %d s, ended", hs->s->id,
		    HTTPSESS_IDLE);
		mcp_session_end(hs->s);
	} else
		hs_touch(hs);
}

/* the session has ended (fe_mcp.c): streams end, memory goes later */
static void
out_close(struct mcp_session *s)
{
	struct hsess	*hs = s->output_arg;
	struct timeval	 tv = { 0, 0 };

	hs->s = NULL;
	TAILQ_REMOVE(&hsessions, hs, entry);
	evtimer_del(&hs->idle);
	event_once(-1, EV_TIMEOUT, hs_free, hs, &tv);
}

static void
hs_free(int fd, short ev, void *arg)
{
	struct hsess	*hs = arg;
	struct hpost	*p;
	struct hevent	*e;

	while ((p = TAILQ_FIRST(&hs->posts)) != NULL) {
		if (p->req != NULL) {
			if (p->sse)
				evhttp_send_reply_end(p->req);
			else
				http_refuse(p->req, 404, NULL, -32000,
				    "the session has ended");
			p->req = NULL;
		}
		post_free(p);
	}
	while ((e = TAILQ_FIRST(&hs->history)) != NULL) {
		TAILQ_REMOVE(&hs->history, e, entry);
		free(e->text);
		free(e);
	}
	free(hs);
}

/* the session a request names; *status says why when NULL */
static struct hsess *
hs_find(struct evhttp_request *req, const struct client *c, int *status)
{
	struct hsess	*hs;
	char		 sid[128];

	if (http_header_trim(req, "Mcp-Session-Id", sid, sizeof(sid)) != 0) {
		*status = 400;
		return NULL;
	}
	TAILQ_FOREACH(hs, &hsessions, entry)
		if (hs->sid[0] != '\0' && hs->s != NULL &&
		    strcmp(hs->sid, sid) == 0 &&
		    strcmp(hs->principal, c->name) == 0)
			return hs;
	/* another principal's session is as good as none */
	*status = 404;
	return NULL;
}

/*
 * A client block's max sessions: its legacy sessions and its modern
 * requests in flight (a subscriptions/listen stream among them) count;
 * over it the new one is refused 429 (msg is released).
 */
static int
principal_full(struct evhttp_request *req, const struct client *c,
    json_t *msg)
{
	struct hsess	*hs;
	int		 n = 0;

	if (c->max_sessions == 0)
		return 0;
	TAILQ_FOREACH(hs, &hsessions, entry)
		if (hs->s != NULL && strcmp(hs->principal, c->name) == 0)
			n++;
	if (n < c->max_sessions)
		return 0;
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Retry-After", "2");
	http_refuse(req, 429, json_object_get(msg, "id"), -32000, "client "
	    "\"%s\" has %d sessions open, the limit (its max sessions): end "
	    "one (DELETE /mcp with its Mcp-Session-Id) or retry later",
	    c->name, n);
	json_decref(msg);
	return 1;
}

int
httpsess_count(uint32_t listener)
{
	struct hsess	*hs;
	int		 n = 0;

	TAILQ_FOREACH(hs, &hsessions, entry)
		if (hs->listener == listener && hs->sid[0] != '\0')
			n++;
	return n;
}

/*
 * A connection closed: its streams let go; a modern request ends.
 *
 * evhttp (2.1) calls this from evhttp_connection_free.  A request we
 * had not finished (no reply sent yet, or a stream not ended: the
 * client hung up, or its connection timed out) it has already taken
 * off the connection and left to us, its evcon NULL: we free it, or
 * nobody does.  One still on the connection (the whole evhttp going at
 * shutdown) evhttp frees itself right after.
 */
void
httpsess_conn_gone(struct evhttp_connection *evcon)
{
	struct hsess	*hs, *hnext;
	struct hpost	*p, *next;

	TAILQ_FOREACH_SAFE(hs, &hsessions, entry, hnext)
		TAILQ_FOREACH_SAFE(p, &hs->posts, entry, next) {
			if (p->evcon != evcon || p->req == NULL)
				continue;
			if (evhttp_request_get_connection(p->req) == NULL)
				evhttp_request_free(p->req);
			p->req = NULL;
			p->evcon = NULL;
			evtimer_del(&p->ping);
			if (hs->sid[0] == '\0' && hs->s != NULL) {
				mcp_session_end(hs->s);
				break;
			}
			/* unanswered: kept, its answers await a GET */
			if (p->get || json_array_size(p->ids) == 0)
				post_free(p);
		}
}

/*
 * Posts and streams
 */

static struct hpost *
post_new(struct hsess *hs, struct evhttp_request *req)
{
	struct hpost	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	if ((p->ids = json_array()) == NULL ||
	    (p->tokens = json_array()) == NULL) {
		json_decref(p->ids);
		free(p);
		return NULL;
	}
	p->hs = hs;
	p->req = req;
	p->evcon = evhttp_request_get_connection(req);
	p->stream = hs->next_stream++;
	p->accept_sse = accepts(req, "text/event-stream");
	evtimer_set(&p->ping, post_ping, p);
	TAILQ_INSERT_TAIL(&hs->posts, p, entry);
	return p;
}

static void
post_free(struct hpost *p)
{
	struct hsess	*hs = p->hs;

	/* a GET stream resumed later goes on from here (httpsess_get) */
	if (p->get && p->stream == hs->get_stream && p->seq > hs->get_seq)
		hs->get_seq = p->seq;
	if (p->hs->cur == p)
		p->hs->cur = NULL;
	evtimer_del(&p->ping);
	TAILQ_REMOVE(&p->hs->posts, p, entry);
	json_decref(p->ids);
	json_decref(p->tokens);
	free(p);
}

static void
post_ping(int fd, short ev, void *arg)
{
	struct hpost	*p = arg;
	struct evbuffer	*b;
	struct timeval	 tv = { HTTPSESS_PING, 0 };

	if (p->req == NULL || (b = evbuffer_new()) == NULL)
		return;
	/* a comment: keeps the stream (and any proxy) from timing out */
	evbuffer_add_printf(b, ": ping\n\n");
	evhttp_send_reply_chunk(p->req, b);
	evbuffer_free(b);
	evtimer_add(&p->ping, &tv);
}

static void
post_sse_start(struct hpost *p)
{
	struct evkeyvalq	*oh;
	struct timeval		 tv = { HTTPSESS_PING, 0 };
	struct evbuffer		*b;

	if (p->sse || p->req == NULL)
		return;
	p->sse = 1;
	oh = evhttp_request_get_output_headers(p->req);
	evhttp_add_header(oh, "Content-Type", "text/event-stream");
	evhttp_add_header(oh, "Cache-Control", "no-store");
	if (p->init && p->hs->sid[0] != '\0')
		evhttp_add_header(oh, "Mcp-Session-Id", p->hs->sid);
	evhttp_send_reply_start(p->req, 200, "OK");
	/* a stream no longer waits for a request to be read */
	evhttp_connection_set_timeout(p->evcon, -1);
	if (p->hs->sid[0] != '\0' && (b = evbuffer_new()) != NULL) {
		/* priming: an id to resume from, before anything is said */
		evbuffer_add_printf(b, "id: %u-%llu\nretry: %d\ndata: \n\n",
		    p->stream, (unsigned long long)p->seq, SSE_RETRY_MS);
		evhttp_send_reply_chunk(p->req, b);
		evbuffer_free(b);
	}
	evtimer_add(&p->ping, &tv);
}

/* one message as an SSE event, kept for resumption (legacy) */
static void
post_event(struct hpost *p, const char *text, int last)
{
	struct hsess	*hs = p->hs;
	struct hevent	*e;
	struct evbuffer	*b;

	p->seq++;
	if (hs->sid[0] != '\0' && (e = calloc(1, sizeof(*e))) != NULL) {
		if ((e->text = strdup(text)) == NULL)
			free(e);
		else {
			e->stream = p->stream;
			e->seq = p->seq;
			TAILQ_INSERT_TAIL(&hs->history, e, entry);
			hs->nhistory++;
			hs->history_bytes += strlen(text);
			while (hs->nhistory > HISTORY_MAX ||
			    hs->history_bytes > HISTORY_BYTES) {
				e = TAILQ_FIRST(&hs->history);
				TAILQ_REMOVE(&hs->history, e, entry);
				hs->nhistory--;
				hs->history_bytes -= strlen(e->text);
				free(e->text);
				free(e);
			}
		}
	}
	if (p->req == NULL)
		return;
	if ((b = evbuffer_new()) == NULL)
		return;
	if (hs->sid[0] != '\0')
		evbuffer_add_printf(b, "id: %u-%llu\n", p->stream,
		    (unsigned long long)p->seq);
	evbuffer_add_printf(b, "event: message\ndata: %s\n\n", text);
	evhttp_send_reply_chunk(p->req, b);
	evbuffer_free(b);
	if (last) {
		evhttp_send_reply_end(p->req);
		p->req = NULL;
		evtimer_del(&p->ping);
	}
}

/* a JSON answer: the status follows the error, if it is one */
static void
post_finish(struct hpost *p, json_t *msg)
{
	struct hsess	*hs = p->hs;

	if (p->req != NULL) {
		if (p->init && hs->sid[0] != '\0' && json_object_get(msg,
		    "result") != NULL)
			evhttp_add_header(evhttp_request_get_output_headers(
			    p->req), "Mcp-Session-Id", hs->sid);
		/* what a body of notifications gets is an error */
		http_reply_json(p->req, p->noreq ? 400 : status_of(msg,
		    hs->sid[0] == '\0'), msg);
		p->req = NULL;
	} else
		json_decref(msg);
}

/*
 * The output hook: a message of the session, routed to its place.
 */
static void
out_send(struct mcp_session *s, json_t *msg)
{
	struct hsess	*hs = s->output_arg;
	struct hpost	*p = NULL, *q;
	json_t		*v, *tok, *sid;
	char		*text;
	size_t		 i;
	int		 response;

	response = json_is_array(msg) || json_object_get(msg, "method") ==
	    NULL;
	if (response) {
		/*
		 * What is answered while a POST is dispatched is that POST's
		 * (its id may also be in flight in another); an answer with
		 * no id (null) answers the message as a whole: a request
		 * whose id could not be taken, or a batch refused whole.
		 */
		if ((q = hs->cur) != NULL && answers(q, msg))
			p = q;
		else if (q != NULL && json_is_object(msg) &&
		    !json_is_string(json_object_get(msg, "id")) &&
		    !json_is_integer(json_object_get(msg, "id"))) {
			json_array_clear(q->ids);
			p = q;
		}
		TAILQ_FOREACH(q, &hs->posts, entry) {
			if (p != NULL)
				break;
			if (answers(q, msg))
				p = q;
		}
		/* a body of notifications is answered only with its error */
		if (p == NULL && hs->cur != NULL && (!hs->cur->noreq ||
		    json_is_array(msg) || json_object_get(msg, "error") != NULL))
			p = hs->cur;
	} else {
		tok = json_object_get(json_object_get(msg, "params"),
		    "progressToken");
		if (tok != NULL)
			TAILQ_FOREACH(q, &hs->posts, entry) {
				json_array_foreach(q->tokens, i, v)
					if (json_equal(v, tok))
						p = q;
				if (p != NULL)
					break;
			}
		/* a subscription's notification rides its listen stream */
		sid = json_object_get(json_object_get(json_object_get(msg,
		    "params"), "_meta"), MCP_META_SUBID);
		if (p == NULL && sid != NULL)
			TAILQ_FOREACH(q, &hs->posts, entry)
				if (!q->get && ids_has(q->ids, sid)) {
					p = q;
					break;
				}
		if (p == NULL)
			TAILQ_FOREACH(q, &hs->posts, entry)
				if (q->get && q->req != NULL)
					p = q;
		if (p == NULL && hs->cur != NULL && !hs->cur->noreq)
			p = hs->cur;
	}
	if (p == NULL) {
		log_debug("session %u: a message with no stream to go to "
		    "dropped", s->id);
		json_decref(msg);
		return;
	}
	if (!p->sse && response && !p->get) {
		if (json_array_size(p->ids) == 0) {
			int	 failed_init = p->init &&
			    json_object_get(msg, "result") == NULL;

			post_finish(p, msg);
			/* a modern request is over; a failed init has none */
			if ((hs->sid[0] == '\0' || failed_init) &&
			    hs->s != NULL)
				mcp_session_end(s);
			else if (p != hs->cur)
				post_free(p);
			return;
		}
		/* more to come: the answers go as a stream */
		if (!p->accept_sse) {
			json_decref(msg);
			return;
		}
	}
	if (!p->sse) {
		if (!p->accept_sse || p->req == NULL) {
			json_decref(msg);
			return;
		}
		post_sse_start(p);
	}
	text = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (text == NULL)
		return;
	post_event(p, text, response && !p->get &&
	    json_array_size(p->ids) == 0);
	free(text);
	if (response && !p->get && json_array_size(p->ids) == 0)
		post_done(p);
}

/*
 * A request of the session will never be answered: the client cancelled
 * it (notifications/cancelled), and the receiver of a cancellation sends
 * no response for it.  The POST that waits for it stops waiting; once
 * nothing else in it is owed an answer (a batch's other requests) it
 * ends as if answered: its SSE stream closes, and a POST to be answered
 * with JSON gets 204 No Content, there being no response to give.
 */
static void
out_forget(struct mcp_session *s, json_t *id)
{
	struct hsess	*hs = s->output_arg;
	struct hpost	*p;

	TAILQ_FOREACH(p, &hs->posts, entry)
		if (!p->get && ids_take(p->ids, id))
			break;
	if (p == NULL || json_array_size(p->ids) > 0)
		return;
	log_debug("session %u: a POST's last request was cancelled: it ends",
	    s->id);
	if (p->req != NULL) {
		if (p->sse)
			evhttp_send_reply_end(p->req);
		else
			evhttp_send_reply(p->req, 204, "No Content", NULL);
		p->req = NULL;
	}
	post_done(p);
}

/* p owes nothing more: a modern request's session ends with it */
static void
post_done(struct hpost *p)
{
	struct hsess	*hs = p->hs;

	evtimer_del(&p->ping);
	if (hs->sid[0] == '\0' && hs->s != NULL)
		mcp_session_end(hs->s);
	else if (p != hs->cur)
		post_free(p);
}

static int
ids_has(json_t *ids, json_t *id)
{
	json_t	*v;
	size_t	 i;

	json_array_foreach(ids, i, v)
		if (json_equal(v, id))
			return 1;
	return 0;
}

/* the response msg (an array: a batch's) answers requests of p: taken */
static int
answers(struct hpost *p, json_t *msg)
{
	json_t	*v;
	size_t	 i;
	int	 took = 0;

	if (!json_is_array(msg))
		return ids_take(p->ids, json_object_get(msg, "id"));
	json_array_foreach(msg, i, v)
		if (ids_take(p->ids, json_object_get(v, "id")))
			took = 1;
	return took;
}

/* remove id from the array; 1 when it was there */
static int
ids_take(json_t *ids, json_t *id)
{
	json_t	*v;
	size_t	 i;

	if (id == NULL)
		return 0;
	json_array_foreach(ids, i, v)
		if (json_equal(v, id)) {
			json_array_remove(ids, i);
			return 1;
		}
	return 0;
}

/*
 * A modern error's HTTP status says what kind of error it is
 * (2026-07-28 streamable HTTP); a legacy one is 200 unless the message
 * could not be read at all.
 */
static int
status_of(json_t *msg, int modern)
{
	json_t	*err = json_object_get(msg, "error");
	int	 code;

	if (!json_is_object(err))
		return 200;
	code = json_integer_value(json_object_get(err, "code"));
	if (code == JSONRPC_PARSE_ERROR || code == JSONRPC_INVALID_REQUEST)
		return 400;
	if (!modern)
		return 200;
	switch (code) {
	case JSONRPC_NO_METHOD:
		return 404;
	case JSONRPC_INVALID_PARAMS:
	case MCP_HEADER_MISMATCH:
	case -32021:
	case MCP_UNSUPPORTED_VERSION:
		return 400;
	default:
		return 200;
	}
}

/*
 * Is an answer owed for this member of a body?  fe_jsonrpc.c answers
 * everything with an id that is not a response: a request, or the error
 * that says why it is none ("method": 5, no method at all).
 */
static int
owed(json_t *v)
{
	if (!json_is_object(v) || json_object_get(v, "id") == NULL)
		return 0;
	return json_object_get(v, "method") != NULL ||
	    (json_object_get(v, "result") == NULL &&
	    json_object_get(v, "error") == NULL);
}

static int
accepts(struct evhttp_request *req, const char *type)
{
	const char	*v;

	v = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Accept");
	if (v == NULL)
		return 0;
	return strstr(v, type) != NULL || strstr(v, "*/*") != NULL;
}

/* a version the MCP-Protocol-Version header may name */
static int
version_known(const char *v)
{
	return strcmp(v, MCP_MODERN_VERSION) == 0 ||
	    strcmp(mcp_era_legacy(v)->version, v) == 0;
}

/*
 * Requests
 */

void
httpsess_post(struct evhttp_request *req, const struct client *c,
    uint32_t listener)
{
	struct evbuffer	*in = evhttp_request_get_input_buffer(req);
	struct hsess	*hs;
	struct hpost	*p = NULL;
	json_t		*msg, *v, *meta, *tok;
	json_error_t	 err;
	const char	*ct, *method = NULL;
	char		 ver[32], *body;
	size_t		 len, i;
	int		 modern, status, requests = 0, init = 0, fresh = 0;

	ct = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Content-Type");
	if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0) {
		http_refuse(req, 415, NULL, JSONRPC_INVALID_REQUEST, "POST "
		    "a JSON-RPC message with Content-Type: application/json");
		return;
	}
	if (!accepts(req, "application/json") &&
	    !accepts(req, "text/event-stream")) {
		http_refuse(req, 406, NULL, JSONRPC_INVALID_REQUEST, "Accept "
		    "must list application/json and text/event-stream");
		return;
	}
	ver[0] = '\0';
	if ((status = http_header_trim(req, "MCP-Protocol-Version", ver,
	    sizeof(ver))) == -2) {
		http_refuse(req, 400, NULL, JSONRPC_INVALID_REQUEST,
		    "MCP-Protocol-Version is not a protocol version");
		return;
	}
	len = evbuffer_get_length(in);
	if (len == 0 || (body = (char *)evbuffer_pullup(in, -1)) == NULL) {
		http_refuse(req, 400, NULL, JSONRPC_INVALID_REQUEST,
		    "the body must be a JSON-RPC message");
		return;
	}
	if ((msg = json_loadb(body, len, JSON_DECODE_ANY |
	    JSON_ALLOW_NUL, &err)) == NULL) {
		http_refuse(req, 400, NULL, JSONRPC_PARSE_ERROR, "parse "
		    "error: %s at byte %d", err.text, err.position);
		return;
	}
	if (!json_is_object(msg) && (!json_is_array(msg) ||
	    json_array_size(msg) == 0)) {
		json_decref(msg);
		http_refuse(req, 400, NULL, JSONRPC_INVALID_REQUEST,
		    "invalid request: a JSON-RPC message is a JSON object");
		return;
	}
	/*
	 * What the body holds: requests (with ids), their tokens.  A
	 * batch member that is no object is fe_jsonrpc.c's to answer, as
	 * on the socket: its error rides in the batch's answer.
	 */
	for (i = 0; i < (json_is_array(msg) ? json_array_size(msg) : 1);
	    i++) {
		v = json_is_array(msg) ? json_array_get(msg, i) : msg;
		if (method == NULL && json_is_object(v) &&
		    json_is_string(json_object_get(v, "method")))
			method = json_string_value(json_object_get(v,
			    "method"));
		if (owed(v))
			requests++;
	}
	meta = json_object_get(json_object_get(msg, "params"), "_meta");
	modern = json_is_object(msg) && (strcmp(ver,
	    MCP_MODERN_VERSION) == 0 || (json_is_object(meta) &&
	    json_object_get(meta, "io.modelcontextprotocol/protocolVersion")
	    != NULL) || (method != NULL && strcmp(method,
	    "server/discover") == 0));
	init = json_is_object(msg) && method != NULL &&
	    strcmp(method, "initialize") == 0;
	/* a modern request naming an unknown one is answered -32022 */
	if (status == 0 && !version_known(ver) && !modern) {
		http_refuse(req, 400, json_object_get(msg, "id"),
		    JSONRPC_INVALID_REQUEST, "unsupported MCP-Protocol-Version:"
		    " bridged speaks 2024-11-05 to 2025-11-25 and 2026-07-28");
		json_decref(msg);
		return;
	}

	if (modern) {
		if (httphdr_modern(req, msg) == -1) {
			json_decref(msg);
			return;
		}
		/* its notifications can only come as a stream */
		if (method != NULL && strcmp(method, "subscriptions/listen") ==
		    0 && !accepts(req, "text/event-stream")) {
			http_refuse(req, 406, json_object_get(msg, "id"),
			    JSONRPC_INVALID_REQUEST, "subscriptions/listen "
			    "answers with an SSE stream: Accept must list "
			    "text/event-stream");
			json_decref(msg);
			return;
		}
		if (principal_full(req, c, msg))
			return;
		if ((hs = hs_new(c, listener, 1)) == NULL) {
			json_decref(msg);
			http_refuse(req, 503, NULL, -32000, "too many sessions:"
			    " the limit is %d",
			    frontend_conf->limits.sessions_max);
			return;
		}
	} else if (init && http_header_trim(req, "Mcp-Session-Id", ver,
	    sizeof(ver)) == -1) {
		if (principal_full(req, c, msg))
			return;
		if ((hs = hs_new(c, listener, 0)) == NULL) {
			json_decref(msg);
			http_refuse(req, 503, NULL, -32000, "too many sessions:"
			    " the limit is %d",
			    frontend_conf->limits.sessions_max);
			return;
		}
		fresh = 1;
	} else if ((hs = hs_find(req, c, &status)) == NULL) {
		json_decref(msg);
		http_refuse(req, status, NULL, JSONRPC_INVALID_REQUEST,
		    status == 400 ? "Mcp-Session-Id required: send "
		    "initialize first (or name protocol 2026-07-28 in the "
		    "request's _meta)" : "no such session: it has ended or "
		    "never existed; initialize a new one");
		return;
	}
	hs_touch(hs);
	/*
	 * Notifications and responses only: no answer is owed, but the
	 * POST is held while they are read all the same, so that the
	 * error fe_jsonrpc.c sends for one that is not valid JSON-RPC
	 * (it checks every line on every transport alike) answers it
	 * with 400; a body it lets through is 202.
	 */
	if ((p = post_new(hs, req)) == NULL) {
		json_decref(msg);
		http_refuse(req, 503, NULL, JSONRPC_INTERNAL, "out of memory");
		if (hs->sid[0] == '\0' || fresh)
			mcp_session_end(hs->s);
		return;
	}
	p->noreq = requests == 0;
	if (requests > 0) {
		p->init = init;
		for (i = 0; i < (json_is_array(msg) ? json_array_size(msg) :
		    1); i++) {
			v = json_is_array(msg) ? json_array_get(msg, i) : msg;
			if (!owed(v))
				continue;
			tok = json_object_get(v, "id");
			/*
			 * The ids an answer will carry: a string or an
			 * integer (fe_jsonrpc.c); another is answered with
			 * a null id, which answers the message as a whole.
			 */
			if (!json_is_string(tok) && !json_is_integer(tok))
				continue;
			json_array_append(p->ids, tok);
			tok = json_object_get(json_object_get(json_object_get(
			    v, "params"), "_meta"), "progressToken");
			if (tok != NULL)
				json_array_append(p->tokens, tok);
		}
		/* legacy requests are answered as a stream when they may be */
		if (!modern && !init && p->accept_sse)
			post_sse_start(p);
	}
	json_decref(msg);
	hs->cur = p;
	mcp_message(hs->s, body, len);
	if (hs->s == NULL)
		return;		/* answered, and the session is over */
	hs->cur = NULL;
	if (p->noreq) {
		if (p->req != NULL)
			evhttp_send_reply(req, 202, "Accepted", NULL);
		p->req = NULL;
		post_free(p);
		/* an initialize without an id made a session none can name */
		if (hs->sid[0] == '\0' || fresh)
			mcp_session_end(hs->s);
	} else if (p->req == NULL && json_array_size(p->ids) == 0 &&
	    !p->get)
		post_free(p);
}

/* a decimal number as we write them: no sign, no leading zero */
static int
decimal(const char **sp, uint64_t max, uint64_t *v)
{
	const char	*s = *sp;

	*v = 0;
	if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] >= '0' &&
	    s[1] <= '9'))
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (*v > (max - (uint64_t)(*s - '0')) / 10)
			return -1;
		*v = *v * 10 + (uint64_t)(*s - '0');
	}
	*sp = s;
	return 0;
}

/*
 * An event id exactly as post_sse_start and post_event write them,
 * "STREAM-SEQ": what else a client sends as Last-Event-ID is no id of
 * ours, whatever strtoul would have made of it.
 */
static int
event_id(const char *text, uint32_t *stream, uint64_t *seq)
{
	uint64_t	 v;

	if (decimal(&text, UINT32_MAX, &v) == -1 || v == 0 || *text++ != '-')
		return -1;
	*stream = v;
	if (decimal(&text, UINT64_MAX, seq) == -1 || *text != '\0')
		return -1;
	return 0;
}

void
httpsess_get(struct evhttp_request *req, const struct client *c,
    uint32_t listener)
{
	struct hsess		*hs;
	struct hpost		*p, *q;
	struct hevent		*e;
	struct evbuffer		*b;
	char			 ver[32], last[64];
	uint32_t		 stream;
	uint64_t		 seq = 0;
	int			 status;

	if (http_header_trim(req, "MCP-Protocol-Version", ver,
	    sizeof(ver)) == 0 && strcmp(ver, MCP_MODERN_VERSION) == 0) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "POST");
		http_refuse(req, 405, NULL, -32000, "protocol 2026-07-28 has "
		    "no GET stream: POST each request");
		return;
	}
	if (!accepts(req, "text/event-stream")) {
		http_refuse(req, 406, NULL, -32000, "GET /mcp is an SSE "
		    "stream: Accept must list text/event-stream");
		return;
	}
	if ((hs = hs_find(req, c, &status)) == NULL) {
		if (status == 400)
			evhttp_add_header(evhttp_request_get_output_headers(
			    req), "Allow", "POST, DELETE");
		http_refuse(req, status == 400 ? 405 : 404, NULL, -32000,
		    status == 400 ? "GET needs the Mcp-Session-Id of a "
		    "session" : "no such session: it has ended or never "
		    "existed; initialize a new one");
		return;
	}
	hs_touch(hs);
	stream = 0;
	if ((status = http_header_trim(req, "Last-Event-ID", last,
	    sizeof(last))) != -1 && (status == -2 ||
	    event_id(last, &stream, &seq) == -1 || stream >= hs->next_stream)) {
		http_refuse(req, 400, NULL, -32000, "Last-Event-ID is not an "
		    "event id of this session (they are STREAM-SEQ, as this "
		    "session's SSE events carry them)");
		return;
	}
	p = NULL;
	if (stream != 0) {
		/* the stream it lost, if it still has something to say */
		TAILQ_FOREACH(q, &hs->posts, entry)
			if (q->stream == stream)
				p = q;
		if (p != NULL && p->req != NULL) {
			http_refuse(req, 409, NULL, -32000, "that stream is "
			    "still open on another connection");
			return;
		}
		if ((p != NULL && seq > p->seq) || (p == NULL &&
		    stream == hs->get_stream && seq > hs->get_seq)) {
			http_refuse(req, 400, NULL, -32000, "Last-Event-ID is "
			    "not an event id of this session: stream %lu has "
			    "not got that far", (unsigned long)stream);
			return;
		}
	}
	/* a fresh GET stream, or the last one resumed: one at a time */
	if (p == NULL && (stream == 0 || stream == hs->get_stream))
		TAILQ_FOREACH(q, &hs->posts, entry)
			if (q->get && q->req != NULL) {
				http_refuse(req, 409, NULL, -32000, "the "
				    "session's GET stream is already open");
				return;
			}
	if (p == NULL) {
		if ((p = post_new(hs, req)) == NULL) {
			http_refuse(req, 503, NULL, JSONRPC_INTERNAL,
			    "out of memory");
			return;
		}
		/*
		 * The session's GET stream goes on from where it was; a
		 * POST's stream that has ended (its answers all sent)
		 * only replays what the client missed of it, then ends.
		 */
		p->get = stream == 0 || stream == hs->get_stream;
		if (stream != 0) {
			p->stream = stream;
			p->seq = seq;
		} else {
			hs->get_stream = p->stream;
			hs->get_seq = 0;
		}
	} else {
		p->req = req;
		p->evcon = evhttp_request_get_connection(req);
		p->accept_sse = 1;
		p->sse = 0;
	}
	post_sse_start(p);
	if (stream == 0)
		return;
	TAILQ_FOREACH(e, &hs->history, entry) {
		if (e->stream != stream || e->seq <= seq ||
		    (b = evbuffer_new()) == NULL)
			continue;
		evbuffer_add_printf(b, "id: %u-%llu\nevent: message\n"
		    "data: %s\n\n", e->stream, (unsigned long long)e->seq,
		    e->text);
		evhttp_send_reply_chunk(req, b);
		evbuffer_free(b);
		if (e->seq > p->seq)
			p->seq = e->seq;
	}
	/* what it says next follows the last id the stream ever carried */
	if (p->get && p->seq < hs->get_seq)
		p->seq = hs->get_seq;
	if (!p->get && json_array_size(p->ids) == 0) {
		evhttp_send_reply_end(req);
		p->req = NULL;
		post_free(p);
	}
}

void
httpsess_delete(struct evhttp_request *req, const struct client *c)
{
	struct hsess	*hs;
	char		 ver[32];
	int		 status;

	if (http_header_trim(req, "MCP-Protocol-Version", ver,
	    sizeof(ver)) == 0 && strcmp(ver, MCP_MODERN_VERSION) == 0) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "POST");
		http_refuse(req, 405, NULL, -32000, "protocol 2026-07-28 has "
		    "no sessions to end");
		return;
	}
	if ((hs = hs_find(req, c, &status)) == NULL) {
		http_refuse(req, status, NULL, -32000, status == 400 ?
		    "DELETE needs the Mcp-Session-Id of the session to end" :
		    "no such session: it has ended or never existed");
		return;
	}
	log_info("session %u: ended by the client (DELETE)", hs->s->id);
	mcp_session_end(hs->s);
	evhttp_send_reply(req, 200, "OK", NULL);
}
