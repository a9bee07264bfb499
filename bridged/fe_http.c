/*
 * fe_http.c: the Streamable HTTP transport (MCP 2025-11-25 and
 * 2026-07-28) on the listeners the parent bound, served with libevent's
 * evhttp inside the frontend's sandbox.
 *
 * Everything a client sends is hostile until checked, in this order:
 * the path (/mcp), the Host header (the listener's own name or address:
 * a rebound DNS name is refused), Origin (the same names, or none), the
 * bearer token (constant-time, it picks the principal: a client block),
 * the connection caps, the method, MCP-Protocol-Version, then the body
 * (bounded by limits { line size }: 413 above it).  evhttp itself
 * bounds the headers and times out a client that sends them, or the
 * body, too slowly.  A request that fails a check is answered with its
 * status and a JSON-RPC error saying why; nothing a client sends takes
 * the process down.
 *
 * What is said is fe_jsonrpc.c's business, as on the socket: the body
 * goes to an MCP session whose output hook (fe_httpsess.c) routes each
 * message to the HTTP response or SSE stream it belongs to.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/listener.h>
#include <event2/bufferevent.h>
#include <jansson.h>

#include "bridged.h"
#include "frontend.h"
#include "log.h"
#include "fe_mcp.h"
#include "fe_tools.h"
#include "fe_http.h"
#include "fe_backchan.h"

#define HTTP_HEADERS_MAX	(16 * 1024)
#define HTTP_TIMEOUT		10	/* seconds to send headers, body */
#define HTTP_REFUSED_LOG	10	/* seconds between refusal logs */
#define HTTP_RETRY_AFTER	"2"	/* seconds, over a cap */

struct http_listener {
	TAILQ_ENTRY(http_listener)	 entry;
	uint32_t			 id;
	struct evhttp			*http;
	struct evhttp_bound_socket	*bound;
	int				 nconns;
	uint64_t			 requests;
	uint64_t			 refused;
	uint64_t			 unlogged;	/* over the cap, not said */
	time_t				 logged;
};

/*
 * A connection from its accept on (evhttp's bufferevent callback), so
 * that the listener's cap holds before a byte is read.  Until we hold
 * its evhttp_connection (next turn of the loop, or its first request)
 * we keep a reference on its bufferevent: if evhttp let it go in
 * between, the memory is still ours to look at.
 */
struct http_conn {
	TAILQ_ENTRY(http_conn)		 entry;
	struct bufferevent		*bev;
	struct evhttp_connection	*evcon;	/* adopted */
	struct http_listener		*l;
	struct event			 start;
	int				 over;	/* past the listener's cap */
	int				 answered; /* its 503 is written */
	char				 principal[CLIENT_NAME_LEN];
};

static TAILQ_HEAD(, http_listener) listeners =
    TAILQ_HEAD_INITIALIZER(listeners);
static TAILQ_HEAD(, http_conn)	 conns = TAILQ_HEAD_INITIALIZER(conns);

static void	 http_request(struct evhttp_request *, void *);
static void	 http_sent(struct evhttp_request *, void *);
static struct bufferevent *conn_accept(struct event_base *, void *);
static void	 conn_start(int, short, void *);
static void	 conn_adopt(struct http_conn *, struct evhttp_connection *);
static void	 conn_refuse(struct http_conn *);
static int	 conn_refusal(char *, size_t, struct http_listener *);
static struct http_conn *conn_find(struct evhttp_connection *);
static void	 conn_closed(struct evhttp_connection *, void *);
static int	 host_allowed(struct listener *, const char *, int);
static const struct client *authenticate(struct evhttp_request *,
		    struct listener *, int *);
static int	 principal_conns(const char *);

/* every byte compared, whatever differs first: no timing to learn from */
int
ct_equal(const char *a, const char *b, size_t n)
{
	volatile unsigned char	 acc = 0;
	size_t			 i;

	for (i = 0; i < n; i++)
		acc |= (unsigned char)a[i] ^ (unsigned char)b[i];
	return acc == 0;
}

static struct event_base *
frontend_base(void)
{
	struct event	 ev;

	/* the compat API's current base: the one event_init() made */
	event_set(&ev, -1, 0, NULL, NULL);
	return event_get_base(&ev);
}

static struct listener *
conf_listener(uint32_t id)
{
	struct listener	*l;

	TAILQ_FOREACH(l, &frontend_conf->listeners, entry)
		if (l->id == id)
			return l;
	return NULL;
}

void
http_listen(uint32_t id, int fd)
{
	struct http_listener	*hl;

	if (conf_listener(id) == NULL)
		fatalx("%s: no listener %u in the config", __func__, id);
	TAILQ_FOREACH(hl, &listeners, entry)
		if (hl->id == id)
			fatalx("%s: listener %u twice", __func__, id);
	if ((hl = calloc(1, sizeof(*hl))) == NULL ||
	    (hl->http = evhttp_new(frontend_base())) == NULL)
		fatal("%s", __func__);
	hl->id = id;
	evhttp_set_max_headers_size(hl->http, HTTP_HEADERS_MAX);
	evhttp_set_max_body_size(hl->http, frontend_conf->limits.line_max);
	evhttp_set_timeout(hl->http, HTTP_TIMEOUT);
	/* every method reaches us: an unknown one gets a 405 that says so */
	evhttp_set_allowed_methods(hl->http, EVHTTP_REQ_GET |
	    EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
	    EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(hl->http, http_request, hl);
	evhttp_set_bevcb(hl->http, conn_accept, hl);
	if ((hl->bound = evhttp_accept_socket_with_handle(hl->http, fd)) ==
	    NULL)
		fatalx("%s: cannot serve listener %u", __func__, id);
	TAILQ_INSERT_TAIL(&listeners, hl, entry);
}

/* shutdown: no new connections; what is open drains */
void
http_stop_accepting(void)
{
	struct http_listener	*hl;

	TAILQ_FOREACH(hl, &listeners, entry)
		if (hl->bound != NULL) {
			evhttp_del_accept_socket(hl->http, hl->bound);
			hl->bound = NULL;
		}
}

json_t *
http_listeners_json(void)
{
	struct http_listener	*hl;
	struct listener		*l;
	struct client		*c;
	json_t			*a, *o, *names;

	if ((a = json_array()) == NULL)
		return NULL;
	TAILQ_FOREACH(hl, &listeners, entry) {
		if ((l = conf_listener(hl->id)) == NULL)
			continue;
		names = json_array();
		TAILQ_FOREACH(c, &frontend_conf->clients, entry)
			if (c->port == 0 || c->port == l->port)
				json_array_append_new(names,
				    json_string(c->name));
		o = json_pack("{s:I, s:s, s:I, s:b, s:s, s:I, s:I, s:I, s:I,"
		    " s:o, s:I}", "id", (json_int_t)hl->id, "address", l->addr,
		    "port", (json_int_t)l->port, "loopback", l->loopback,
		    "state", hl->bound != NULL ? "listening" : "closed",
		    "connections", (json_int_t)hl->nconns,
		    "max_connections", (json_int_t)l->max_conns,
		    "requests", (json_int_t)hl->requests,
		    "refused", (json_int_t)hl->refused,
		    "clients", names != NULL ? names : json_array(),
		    "sessions", (json_int_t)httpsess_count(hl->id));
		if (o == NULL || json_array_append_new(a, o) == -1) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/*
 * Answers
 */

void
http_reply_json(struct evhttp_request *req, int status, json_t *msg)
{
	struct evbuffer	*b;
	char		*text;

	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Cache-Control", "no-store");
	if ((b = evbuffer_new()) == NULL ||
	    (text = json_dumps(msg, JSON_COMPACT)) == NULL) {
		if (b != NULL)
			evbuffer_free(b);
		json_decref(msg);
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	json_decref(msg);
	evbuffer_add(b, text, strlen(text));
	evbuffer_add(b, "\n", 1);
	free(text);
	evhttp_send_reply(req, status, http_reason(status), b);
	evbuffer_free(b);
}

/* a refusal: the status, and a JSON-RPC error that says why */
void
http_refuse(struct evhttp_request *req, int status, json_t *id, int code,
    const char *fmt, ...)
{
	va_list	 ap;
	char	*text;
	json_t	*m;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) == -1)
		text = NULL;
	va_end(ap);
	m = json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0",
	    "id", id != NULL ? id : json_null(), "error", "code", code,
	    "message", text != NULL ? text : "refused");
	free(text);
	if (m == NULL) {
		evhttp_send_error(req, status, NULL);
		return;
	}
	http_reply_json(req, status, m);
}

const char *
http_reason(int status)
{
	switch (status) {
	case 200:	return "OK";
	case 202:	return "Accepted";
	case 204:	return "No Content";
	case 400:	return "Bad Request";
	case 401:	return "Unauthorized";
	case 403:	return "Forbidden";
	case 404:	return "Not Found";
	case 405:	return "Method Not Allowed";
	case 406:	return "Not Acceptable";
	case 409:	return "Conflict";
	case 413:	return "Payload Too Large";
	case 415:	return "Unsupported Media Type";
	case 429:	return "Too Many Requests";
	case 503:	return "Service Unavailable";
	default:	return "Error";
	}
}

/*
 * Checks
 */

/*
 * Host (or an Origin's host) must name the listener: its address as
 * configured, or on loopback any loopback name.  The port is not
 * compared: an SSH tunnel may forward another port to ours, and the
 * name is what DNS rebinding changes.  The form is checked whole, all
 * the same: host, or [IPv6 literal], then at most a port of 1 to 5
 * digits (1-65535); an Origin is scheme://host[:port] with at most a
 * lone "/" after it.  Anything else ("host:", "host:99999", "host/",
 * "[localhost]") is no name of ours.
 */
static int
host_allowed(struct listener *l, const char *hostport, int origin)
{
	char		 host[LISTEN_ADDR_LEN + 8];
	const char	*p = hostport, *end;
	size_t		 len, n;
	unsigned long	 port;

	if (origin) {
		if (strncmp(p, "http://", 7) == 0)
			p += 7;
		else if (strncmp(p, "https://", 8) == 0)
			p += 8;
		else
			return 0;
	}
	if (*p == '[') {
		if ((end = strchr(p, ']')) == NULL)
			return 0;
		p++;
		len = end - p;
		/* brackets hold an IPv6 address, never a name */
		if (memchr(p, ':', len) == NULL ||
		    strspn(p, "0123456789abcdefABCDEF:.") != len)
			return 0;
		end++;
	} else {
		end = p + strcspn(p, ":/");
		len = end - p;
	}
	if (*end == ':') {
		for (end++, n = 0, port = 0; isdigit((unsigned char)*end) &&
		    n <= 5; end++, n++)
			port = port * 10 + (*end - '0');
		if (n == 0 || n > 5 || port == 0 || port > 65535)
			return 0;
	}
	if (origin && *end == '/')
		end++;
	if (*end != '\0')
		return 0;
	if (len == 0 || len >= sizeof(host))
		return 0;
	memcpy(host, p, len);
	host[len] = '\0';
	if (strcasecmp(host, l->addr) == 0)
		return 1;
	if (l->loopback && (strcasecmp(host, "localhost") == 0 ||
	    strcmp(host, "127.0.0.1") == 0 || strcmp(host, "::1") == 0))
		return 1;
	return 0;
}

/*
 * The bearer token picks the client block.  Every eligible client's
 * token is compared, whole and in constant time, whether or not an
 * earlier one matched.  *why: 0 no token sent, 1 a wrong one.
 */
static const struct client *
authenticate(struct evhttp_request *req, struct listener *l, int *why)
{
	const struct client	*c, *found = NULL, *open = NULL;
	const char		*auth;
	char			 given[CLIENT_TOKEN_MAX], want[CLIENT_TOKEN_MAX];
	size_t			 len;
	int			 match;

	*why = 0;
	auth = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization");
	TAILQ_FOREACH(c, &frontend_conf->clients, entry)
		if (c->token_file[0] == '\0' && (c->port == 0 ||
		    c->port == l->port) && l->loopback)
			open = c;
	if (auth == NULL)
		return open;
	*why = 1;
	if (strncasecmp(auth, "Bearer ", 7) != 0)
		return NULL;
	auth += 7;
	while (*auth == ' ')
		auth++;
	len = strlen(auth);
	while (len > 0 && auth[len - 1] == ' ')
		len--;
	if (len == 0 || len >= sizeof(given))
		return NULL;
	memset(given, 0, sizeof(given));
	memcpy(given, auth, len);
	TAILQ_FOREACH(c, &frontend_conf->clients, entry) {
		if (c->token_len == 0)
			continue;
		memset(want, 0, sizeof(want));
		memcpy(want, c->token, c->token_len);
		match = ct_equal(given, want, sizeof(want)) &&
		    len == c->token_len;
		if (match && found == NULL && (c->port == 0 ||
		    c->port == l->port))
			found = c;
	}
	/* not a client block's: a delegation's one-time token, maybe */
	if (found == NULL)
		found = backchan_auth(given, len, l->port);
	explicit_bzero(given, sizeof(given));
	explicit_bzero(want, sizeof(want));
	return found;
}

/*
 * evhttp asks for a connection's bufferevent as it accepts it: the
 * listener's cap is counted here, before anything is read.  One past
 * the cap is answered 503 at once, whatever it sends, and closed.
 */
static struct bufferevent *
conn_accept(struct event_base *base, void *arg)
{
	struct http_listener	*hl = arg;
	struct listener		*l = conf_listener(hl->id);
	struct http_conn	*hc;
	struct timeval		 now = { 0, 0 };

	if ((hc = calloc(1, sizeof(*hc))) == NULL)
		return NULL;
	if ((hc->bev = bufferevent_socket_new(base, -1,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		free(hc);
		return NULL;
	}
	bufferevent_incref(hc->bev);
	hc->l = hl;
	if (hl->nconns >= (l != NULL ? l->max_conns : LISTEN_CONNS_DEF)) {
		hc->over = 1;
		hl->refused++;
		hl->unlogged++;
	} else
		hl->nconns++;
	/* evhttp makes the connection once we return */
	evtimer_set(&hc->start, conn_start, hc);
	event_base_set(base, &hc->start);
	evtimer_add(&hc->start, &now);
	TAILQ_INSERT_TAIL(&conns, hc, entry);
	return hc->bev;
}

/* the connection is made: hold it by its closecb from now on */
static void
conn_start(int fd, short ev, void *arg)
{
	struct http_conn	*hc = arg;
	bufferevent_event_cb	 eventcb;
	void			*cbarg;

	bufferevent_getcb(hc->bev, NULL, NULL, &eventcb, &cbarg);
	if (eventcb == NULL || cbarg == NULL) {
		/* evhttp gave it up already (the client left at once) */
		if (!hc->over)
			hc->l->nconns--;
		TAILQ_REMOVE(&conns, hc, entry);
		bufferevent_decref(hc->bev);
		free(hc);
		return;
	}
	conn_adopt(hc, cbarg);
	if (hc->over)
		conn_refuse(hc);
}

static void
conn_adopt(struct http_conn *hc, struct evhttp_connection *evcon)
{
	if (hc->evcon != NULL)
		return;
	evtimer_del(&hc->start);
	hc->evcon = evcon;
	evhttp_connection_set_closecb(evcon, conn_closed, hc);
	/* evhttp's own reference keeps it from here */
	bufferevent_decref(hc->bev);
}

/* the whole answer to a connection over the listener's cap */
static int
conn_refusal(char *buf, size_t size, struct http_listener *hl)
{
	struct listener	*l = conf_listener(hl->id);
	char		 body[512];
	int		 n;

	n = snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":null,"
	    "\"error\":{\"code\":-32000,\"message\":\"too many connections"
	    " on this listener: %d are open, the limit (listen on ... max "
	    "connections); retry in a moment\"}}\n",
	    l != NULL ? l->max_conns : hl->nconns);
	if (n < 0 || (size_t)n >= sizeof(body))
		return -1;
	n = snprintf(buf, size, "HTTP/1.1 503 Service Unavailable\r\n"
	    "Content-Type: application/json\r\nCache-Control: no-store\r\n"
	    "Retry-After: %s\r\nConnection: close\r\n"
	    "Content-Length: %d\r\n\r\n%s", HTTP_RETRY_AFTER, n, body);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return n;
}

/*
 * Over the cap: the 503 goes out on the bare socket (a fresh one has
 * room for it), then our half closes; evhttp drops the connection when
 * the client goes or its timeout ends, and what it asks meanwhile is
 * not served.  Refusals are logged, a few at a time.
 */
static void
conn_refuse(struct http_conn *hc)
{
	struct http_listener	*hl = hc->l;
	struct listener		*l = conf_listener(hl->id);
	char			 buf[1024];
	int			 fd, n;
	time_t			 now = time(NULL);

	if (!hc->answered && (fd = bufferevent_getfd(hc->bev)) != -1 &&
	    (n = conn_refusal(buf, sizeof(buf), hl)) > 0) {
		hc->answered = 1;
		if (write(fd, buf, n) != n)
			log_debug("%s: write: short", __func__);
		shutdown(fd, SHUT_WR);
	}
	if (hl->unlogged > 0 && now - hl->logged >= HTTP_REFUSED_LOG) {
		log_warnx("HTTP listener %s port %u: %llu connection%s refused"
		    " at accept: %d open, the limit (max connections)",
		    l != NULL ? l->addr : "?", l != NULL ? l->port : 0,
		    (unsigned long long)hl->unlogged,
		    hl->unlogged == 1 ? "" : "s", hl->nconns);
		hl->unlogged = 0;
		hl->logged = now;
	}
}

static struct http_conn *
conn_find(struct evhttp_connection *evcon)
{
	struct http_conn	*hc;
	struct bufferevent	*bev;

	bev = evhttp_connection_get_bufferevent(evcon);
	TAILQ_FOREACH(hc, &conns, entry)
		if (hc->bev == bev)
			return hc;
	return NULL;
}

/* evhttp is letting the connection go */
static void
conn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct http_conn	*hc = arg;

	httpsess_conn_gone(evcon);
	if (!hc->over)
		hc->l->nconns--;
	TAILQ_REMOVE(&conns, hc, entry);
	free(hc);
}

static int
principal_conns(const char *name)
{
	struct http_conn	*hc;
	int			 n = 0;

	TAILQ_FOREACH(hc, &conns, entry)
		if (strcmp(hc->principal, name) == 0)
			n++;
	return n;
}

/* a header's value without the optional whitespace around it */
int
http_header_trim(struct evhttp_request *req, const char *name, char *buf,
    size_t size)
{
	const char	*v;
	size_t		 len;

	v = evhttp_find_header(evhttp_request_get_input_headers(req), name);
	if (v == NULL)
		return -1;
	while (*v == ' ' || *v == '\t')
		v++;
	len = strlen(v);
	while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	if (len >= size)
		return -2;
	memcpy(buf, v, len);
	buf[len] = '\0';
	return 0;
}

/*
 * An answer is out whole: the records queued behind it (a call's
 * outcome) follow it now, as on an MCP socket (fe_mcp.c, frontend.c),
 * not with the next intent or the lazy timer.
 */
static void
http_sent(struct evhttp_request *req, void *arg)
{
	frontend_push_records();
}

static void
http_request(struct evhttp_request *req, void *arg)
{
	struct http_listener		*hl = arg;
	struct evhttp_connection	*evcon;
	struct http_conn		*hc;
	struct listener			*l;
	const struct client		*c;
	const struct evhttp_uri		*uri;
	struct evkeyvalq		*hdr;
	const char			*v, *path;
	char				 shown[MCP_SHOWN_LEN];
	int				 why;

	hl->requests++;
	evhttp_request_set_on_complete_cb(req, http_sent, NULL);
	hdr = evhttp_request_get_input_headers(req);
	evcon = evhttp_request_get_connection(req);
	if ((l = conf_listener(hl->id)) == NULL || evcon == NULL) {
		evhttp_send_error(req, 503, NULL);
		return;
	}
	if ((hc = conn_find(evcon)) == NULL || hc->over) {
		/* past the cap (or unaccounted for): nothing is served */
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Connection", "close");
		if (hc != NULL && hc->answered) {
			/* its 503 went out; this write fails and frees it */
			evhttp_send_error(req, 503, NULL);
			return;
		}
		if (hc != NULL) {
			/* it spoke before the refusal went out: answer it */
			conn_adopt(hc, evcon);
			hc->answered = 1;
			conn_refuse(hc);
		} else
			hl->refused++;
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Retry-After", HTTP_RETRY_AFTER);
		http_refuse(req, 503, NULL, -32000, "too many connections on "
		    "this listener: %d are open, the limit (listen on ... max "
		    "connections); retry in a moment", l->max_conns);
		return;
	}
	conn_adopt(hc, evcon);

	uri = evhttp_request_get_evhttp_uri(req);
	path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	if (path == NULL || strcmp(path, "/mcp") != 0) {
		mcp_shown(shown, sizeof(shown), path != NULL ? path : "?");
		http_refuse(req, 404, NULL, -32000, "no such endpoint %s: "
		    "MCP is served at /mcp", shown);
		return;
	}
	if ((v = evhttp_find_header(hdr, "Host")) == NULL ||
	    !host_allowed(l, v, 0)) {
		hl->refused++;
		http_refuse(req, 403, NULL, -32000, "Host header %s: this "
		    "listener answers only to its own address (%s)",
		    v == NULL ? "missing" : "not allowed", l->addr);
		return;
	}
	if ((v = evhttp_find_header(hdr, "Origin")) != NULL &&
	    !host_allowed(l, v, 1)) {
		hl->refused++;
		http_refuse(req, 403, NULL, -32000, "Origin not allowed: "
		    "this listener answers only to its own address (%s)",
		    l->addr);
		return;
	}
	if ((c = authenticate(req, l, &why)) == NULL) {
		hl->refused++;
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "WWW-Authenticate", why ? "Bearer realm=\"bridged\", "
		    "error=\"invalid_token\"" : "Bearer realm=\"bridged\"");
		http_refuse(req, 401, NULL, -32000, why ? "the bearer token "
		    "is not valid on this listener" : "authorization "
		    "required: send Authorization: Bearer TOKEN");
		return;
	}
	if (hc->principal[0] == '\0') {
		if (principal_conns(c->name) >= c->max_conns) {
			hl->refused++;
			evhttp_add_header(evhttp_request_get_output_headers(
			    req), "Connection", "close");
			evhttp_add_header(evhttp_request_get_output_headers(
			    req), "Retry-After", HTTP_RETRY_AFTER);
			http_refuse(req, 429, NULL, -32000, "client \"%s\" "
			    "has %d connections open, the limit (its max "
			    "connections); close one or retry later", c->name,
			    c->max_conns);
			return;
		}
		strlcpy(hc->principal, c->name, sizeof(hc->principal));
	} else if (strcmp(hc->principal, c->name) != 0) {
		/* one connection, one principal */
		hl->refused++;
		http_refuse(req, 401, NULL, -32000, "a connection serves one "
		    "client: open another for \"%s\"", c->name);
		return;
	}
	if (frontend_shutting_down()) {
		http_refuse(req, 503, NULL, -32000, "bridged is shutting "
		    "down; retry once it is back");
		return;
	}

	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_POST:
		httpsess_post(req, c, hl->id);
		break;
	case EVHTTP_REQ_GET:
		httpsess_get(req, c, hl->id);
		break;
	case EVHTTP_REQ_DELETE:
		httpsess_delete(req, c);
		break;
	default:
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "GET, POST, DELETE");
		http_refuse(req, 405, NULL, -32000, "method not allowed: "
		    "POST a JSON-RPC message to /mcp, GET its stream, "
		    "DELETE its session");
	}
}

/*
 * The principal behind a call may use only the hosts its client block
 * lists; a socket client (uid) is not limited here.
 */
int
http_principal_refuses(struct mcp_call *call, const char *host)
{
	struct mcp_session	*s = call->session;
	struct client		*c;
	struct strentry		*se;

	if (s == NULL || s->output == NULL)
		return 0;
	if ((c = config_client_byname(frontend_conf, s->principal)) != NULL)
		TAILQ_FOREACH(se, &c->hosts, entry)
			if (strcmp(se->s, host) == 0)
				return 0;
	call->refused = 1;
	mcp_call_text(call, 1, "%s: client \"%s\" may not use host \"%s\"%s; "
	    "its client block in bridged.conf lists the hosts it may use "
	    "(hosts \"...\")", call->tool->name, s->principal, host,
	    c == NULL ? " (it is no longer configured)" : "");
	return 1;
}

/*
 * What the principal behind a session may see: only the hosts its
 * client block lists (the hosts tool, job_list, forward_list) and only
 * the tools one of them allows.  A socket client (uid) is not limited.
 */
int
http_principal_may(const struct mcp_session *s, const char *host)
{
	struct client	*c;
	struct strentry	*se;

	if (s == NULL || s->output == NULL)
		return 1;
	if ((c = config_client_byname(frontend_conf, s->principal)) == NULL)
		return 0;
	TAILQ_FOREACH(se, &c->hosts, entry)
		if (strcmp(se->s, host) == 0)
			return 1;
	return 0;
}

uint32_t
http_principal_caps(const struct mcp_session *s)
{
	struct host	*h;
	uint32_t	 caps = 0;

	if (s == NULL || s->output == NULL)
		return UINT32_MAX;
	TAILQ_FOREACH(h, &frontend_conf->hosts, entry)
		if (http_principal_may(s, h->name))
			caps |= h->caps;
	/* the relay tools need no host, only the relay (and its rules) */
	if (frontend_conf->relay_db[0] != '\0')
		caps |= CAP_RELAY;
	return caps;
}

/* the principal's key for the state of its modern calls (fe_scope.c) */
uid_t
http_principal_uid(const char *name)
{
	uint32_t	 h = 2166136261U;

	/* FNV-1a, above every real uid: never a socket principal's */
	for (; *name != '\0'; name++)
		h = (h ^ (unsigned char)*name) * 16777619U;
	return (uid_t)(0x80000000U | (h & 0x7ffffffeU));
}
