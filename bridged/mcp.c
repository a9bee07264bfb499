/*
 * mcp.c: MCP sessions on the UNIX socket.
 *
 * Each connection is one session speaking JSON-RPC 2.0, one message per
 * line.  Everything a client sends is hostile until checked: lines are
 * bounded (an oversized one is skipped without being held in memory),
 * JSON is parsed by jansson with duplicate keys refused, and every member
 * we use is type-checked before use.  Output is queued and written when
 * the socket is writable; a client that stops reading is dropped once too
 * much is queued for it.
 *
 * Tool calls live in an in-flight table keyed by a request id that travels
 * as peerid to the other processes; replies are routed back by it.  A call
 * is answered exactly once (result, timeout) or never (cancelled, session
 * gone), and freed at that moment.
 *
 * This runs in the sandboxed frontend: no open(), no socket(), so all I/O
 * is read/sendmsg on descriptors we were given or accepted.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/tree.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event.h>
#include <jansson.h>

#include "bridged.h"
#include "frontend.h"
#include "log.h"
#include "tools.h"

#define MCP_READ_CHUNK		(64 * 1024)
#define MCP_OUT_MIN		(8 * 1024 * 1024)
#define MCP_IBUF_KEEP		(64 * 1024)	/* shrink input buffer above */
#define MCP_CLIENT_LEN		128
#define MCP_SHOWN_LEN		64		/* client text in messages */

#ifndef nitems
#define nitems(a)		(sizeof(a) / sizeof((a)[0]))
#endif

#define JSONRPC_PARSE_ERROR	-32700
#define JSONRPC_INVALID_REQUEST	-32600
#define JSONRPC_NO_METHOD	-32601
#define JSONRPC_INVALID_PARAMS	-32602
#define JSONRPC_INTERNAL	-32603

enum session_state {
	SESSION_NEW,		/* waiting for initialize */
	SESSION_INITIALIZED,	/* initialize answered */
	SESSION_READY,		/* notifications/initialized seen */
};

struct mcp_session {
	TAILQ_ENTRY(mcp_session) entry;
	uint32_t		 id;
	int			 fd;
	struct event		 evr;
	struct event		 evw;
	struct event		 evfree;
	struct evbuffer		*out;
	char			*ibuf;		/* partial line */
	size_t			 ilen;
	size_t			 isize;
	int			 discarding;	/* inside an oversized line */
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
	int			 loglevel;	/* index into log_levels */
	TAILQ_HEAD(, mcp_call)	 calls;
};

struct method {
	const char	*name;
	int		 preinit;	/* served before initialize */
	void		(*fn)(struct mcp_session *, json_t *, json_t *);
};

struct notification {
	const char	*name;
	void		(*fn)(struct mcp_session *, json_t *);
};

static void	 accept_cb(int, short, void *);
static void	 accept_resume(int, short, void *);
static void	 session_new(int);
static void	 session_read(int, short, void *);
static void	 session_write(int, short, void *);
static int	 session_flush(struct mcp_session *);
static void	 session_input(struct mcp_session *, const char *, size_t);
static int	 session_append(struct mcp_session *, const char *, size_t);
static void	 session_line(struct mcp_session *, const char *, size_t);
static void	 session_close(struct mcp_session *, int);
static void	 session_free(int, short, void *);
static void	 session_check_done(struct mcp_session *);
static void	 session_record(struct mcp_session *, const char *);
static void	 send_json(struct mcp_session *, json_t *);
static void	 send_result(struct mcp_session *, json_t *, json_t *);
static void	 send_error(struct mcp_session *, json_t *, int,
		    const char *, ...)
		    __attribute__((__format__ (printf, 4, 5)));
static void	 handle_message(struct mcp_session *, json_t *);
static void	 shown(char *, size_t, const char *);

static void	 m_initialize(struct mcp_session *, json_t *, json_t *);
static void	 m_ping(struct mcp_session *, json_t *, json_t *);
static void	 m_set_level(struct mcp_session *, json_t *, json_t *);
static void	 m_tools_list(struct mcp_session *, json_t *, json_t *);
static void	 m_tools_call(struct mcp_session *, json_t *, json_t *);
static void	 n_initialized(struct mcp_session *, json_t *);
static void	 n_cancelled(struct mcp_session *, json_t *);

static struct mcp_call *call_new(struct mcp_session *, json_t *,
		    const struct tool *, json_t *, json_t *);
static void	 call_finish(struct mcp_call *, json_t *, const char *);
static void	 call_timeout(int, short, void *);
static int	 call_cmp(struct mcp_call *, struct mcp_call *);

/* libbsd's RB_*_STATIC need a __unused it does not define: go global */
RB_HEAD(mcp_calltree, mcp_call);
RB_PROTOTYPE(mcp_calltree, mcp_call, tentry, call_cmp)
RB_GENERATE(mcp_calltree, mcp_call, tentry, call_cmp)

static const struct method methods[] = {
	{ "initialize",		1, m_initialize },
	{ "logging/setLevel",	0, m_set_level },
	{ "ping",		1, m_ping },
	{ "tools/call",		0, m_tools_call },
	{ "tools/list",		0, m_tools_list },
};

static const struct notification notifications[] = {
	{ "notifications/cancelled",	n_cancelled },
	{ "notifications/initialized",	n_initialized },
};

/* oldest first; a client asking for anything else gets the last */
static const char *protocol_versions[] = {
	"2025-06-18",
	"2025-11-25",
};
#define NVERSIONS	(sizeof(protocol_versions) / sizeof(protocol_versions[0]))

static const char *log_levels[] = {
	"debug", "info", "notice", "warning", "error", "critical", "alert",
	"emergency",
};
#define NLEVELS		(sizeof(log_levels) / sizeof(log_levels[0]))

static const char instructions[] =
    "bridged gives you audited, policy-confined access to remote hosts "
    "over SSH.  Call the \"hosts\" tool first: it lists the configured "
    "hosts, what each allows and which one is the default.  Every other "
    "tool takes an optional \"host\" argument naming one of them; without "
    "it the default host is used.  A refusal names the capability that "
    "is missing and the configuration line an operator would change.";

static TAILQ_HEAD(, mcp_session) sessions = TAILQ_HEAD_INITIALIZER(sessions);
static struct mcp_calltree calls = RB_INITIALIZER(&calls);
static int		 nsessions;	/* open, not yet freed */
static int		 ninflight;
static uint32_t		 next_session_id = 1;
static uint32_t		 next_reqid = 1;
static int		 listen_fd = -1;
static struct event	 ev_accept;
static struct event	 ev_pause;

/*
 * Utilities shared with tools.c
 */

/* Cut a partial UTF-8 sequence off the end of a truncated string. */
void
mcp_utf8_trunc(char *s)
{
	size_t		 n = strlen(s), k, need;
	unsigned char	 c;

	if (n == 0)
		return;
	k = n;
	while (k > 0 && ((unsigned char)s[k - 1] & 0xc0) == 0x80)
		k--;
	if (k == 0) {
		s[0] = '\0';
		return;
	}
	c = (unsigned char)s[k - 1];
	if (c < 0x80)
		need = 1;
	else if ((c & 0xe0) == 0xc0)
		need = 2;
	else if ((c & 0xf0) == 0xe0)
		need = 3;
	else
		need = 4;
	if (k - 1 + need > n)
		s[k - 1] = '\0';
}

/*
 * A JSON string from bytes that should be UTF-8 but may not be (peer
 * data, truncated text): invalid input is shown with '?' for every
 * non-ASCII byte rather than lost.  Never NULL.
 */
json_t *
mcp_stringn(const char *s, size_t len)
{
	json_t	*j;
	char	*t;
	size_t	 i;

	if ((j = json_stringn(s, len)) != NULL)
		return j;
	if ((t = malloc(len + 1)) == NULL)
		return json_null();
	for (i = 0; i < len; i++)
		t[i] = ((unsigned char)s[i] >= 0x80 || s[i] == '\0') ?
		    '?' : s[i];
	t[len] = '\0';
	j = json_stringn(t, len);
	free(t);
	return j != NULL ? j : json_null();
}

json_t *
mcp_string(const char *s)
{
	return mcp_stringn(s, strlen(s));
}

/* A short, log-safe copy of client text for messages and log lines. */
static void
shown(char *dst, size_t size, const char *src)
{
	char	*p;

	strlcpy(dst, src, size);
	mcp_utf8_trunc(dst);
	for (p = dst; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

/*
 * Listening and sessions
 */

void
mcp_init(void)
{
	tools_init();
}

void
mcp_listen(int fd)
{
	mcp_stop_accepting();
	listen_fd = fd;
	event_set(&ev_accept, fd, EV_READ | EV_PERSIST, accept_cb, NULL);
	if (event_add(&ev_accept, NULL) == -1)
		fatal("%s: event_add", __func__);
	evtimer_set(&ev_pause, accept_resume, NULL);
}

void
mcp_stop_accepting(void)
{
	if (listen_fd == -1)
		return;
	event_del(&ev_accept);
	evtimer_del(&ev_pause);
	close(listen_fd);
	listen_fd = -1;
}

static void
accept_resume(int fd, short ev, void *arg)
{
	if (listen_fd != -1)
		event_add(&ev_accept, NULL);
}

static void
accept_cb(int fd, short ev, void *arg)
{
	struct timeval	 tv = { 1, 0 };
	int		 s;

	if ((s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1) {
		switch (errno) {
		case EINTR:
		case EAGAIN:
		case ECONNABORTED:
			return;
		case EMFILE:
		case ENFILE:
			/* out of descriptors: retry in a second, not spin */
			log_warn("%s: accept", __func__);
			event_del(&ev_accept);
			evtimer_add(&ev_pause, &tv);
			return;
		default:
			log_warn("%s: accept", __func__);
			return;
		}
	}
	session_new(s);
}

static void
session_new(int fd)
{
	struct mcp_session	*s;
	struct ucred		 cred;
	socklen_t		 len = sizeof(cred);
	char			 msg[160];
	int			 n;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("%s: SO_PEERCRED", __func__);
		close(fd);
		return;
	}
	if (nsessions >= frontend_conf->limits.sessions_max) {
		log_warnx("refusing MCP session from uid %u pid %d: %d "
		    "sessions open, the limit", (unsigned)cred.uid,
		    (int)cred.pid, nsessions);
		/* best effort: tell the client why before closing */
		n = snprintf(msg, sizeof(msg), "{\"jsonrpc\":\"2.0\","
		    "\"id\":null,\"error\":{\"code\":-32000,\"message\":"
		    "\"too many sessions: limit is %d\"}}\n",
		    frontend_conf->limits.sessions_max);
		if (n > 0 && (size_t)n < sizeof(msg)) {
			struct iovec	 iov = { msg, n };
			struct msghdr	 mh = { .msg_iov = &iov,
					    .msg_iovlen = 1 };

			(void)sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		}
		close(fd);
		return;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->out = evbuffer_new()) == NULL) {
		log_warn("%s", __func__);
		free(s);
		close(fd);
		return;
	}
	s->id = next_session_id++;
	if (next_session_id == 0)
		next_session_id = 1;
	s->fd = fd;
	s->uid = cred.uid;
	s->pid = cred.pid;
	s->since = time(NULL);
	clock_gettime(CLOCK_MONOTONIC, &s->start);
	s->state = SESSION_NEW;
	s->loglevel = 1;	/* info */
	TAILQ_INIT(&s->calls);
	event_set(&s->evr, fd, EV_READ | EV_PERSIST, session_read, s);
	event_set(&s->evw, fd, EV_WRITE | EV_PERSIST, session_write, s);
	evtimer_set(&s->evfree, session_free, s);
	event_add(&s->evr, NULL);
	TAILQ_INSERT_TAIL(&sessions, s, entry);
	nsessions++;
	log_info("session %u: connected, uid %u pid %d", s->id,
	    (unsigned)s->uid, (int)s->pid);
	session_record(s, "start");
}

static void
session_record(struct mcp_session *s, const char *event)
{
	struct timespec	 now;
	json_t		*r;
	long long	 ms;

	r = json_pack("{s:s, s:s, s:I, s:I, s:I}", "type", "session",
	    "event", event, "session", (json_int_t)s->id,
	    "uid", (json_int_t)s->uid, "pid", (json_int_t)s->pid);
	if (r == NULL)
		return;
	if (strcmp(event, "start") != 0) {
		json_object_set_new(r, "client", json_string(s->client));
		json_object_set_new(r, "client_version",
		    json_string(s->client_version));
		json_object_set_new(r, "protocol", json_string(s->protocol));
	}
	if (strcmp(event, "end") == 0) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (now.tv_sec - s->start.tv_sec) * 1000LL +
		    (now.tv_nsec - s->start.tv_nsec) / 1000000;
		json_object_set_new(r, "requests",
		    json_integer((json_int_t)s->requests));
		json_object_set_new(r, "duration_ms", json_integer(ms));
	}
	frontend_record(r);
	json_decref(r);
}

/*
 * End a session.  The descriptor is closed now (the client sees EOF at
 * once); the memory goes in a fresh event-loop turn, because the caller
 * may be deep inside this session's own processing.
 */
static void
session_close(struct mcp_session *s, int flush)
{
	struct timeval	 tv = { 0, 0 };

	if (s->dead)
		return;
	s->dead = 1;
	if (flush)
		(void)session_flush(s);
	event_del(&s->evr);
	event_del(&s->evw);
	close(s->fd);
	s->fd = -1;
	evtimer_add(&s->evfree, &tv);
}

static void
session_free(int fd, short ev, void *arg)
{
	struct mcp_session	*s = arg;
	struct mcp_call		*call;

	/* calls still running die with their session, unanswered */
	while ((call = TAILQ_FIRST(&s->calls)) != NULL) {
		call->cancelled = 1;
		call_finish(call, NULL, "cancelled");
	}
	/* its persistent shells on every host go with it */
	frontend_compose(PROC_SSH, IMSG_SSH_SESSION_END, 0, -1, &s->id,
	    sizeof(s->id));
	log_info("session %u: closed after %llu requests", s->id,
	    (unsigned long long)s->requests);
	session_record(s, "end");
	TAILQ_REMOVE(&sessions, s, entry);
	nsessions--;
	evtimer_del(&s->evfree);
	evbuffer_free(s->out);
	free(s->ibuf);
	free(s);
}

/* After EOF the session lives until its answers are out. */
static void
session_check_done(struct mcp_session *s)
{
	if (s->dead || !s->eof)
		return;
	if (TAILQ_EMPTY(&s->calls) && evbuffer_get_length(s->out) == 0)
		session_close(s, 0);
}

static void
session_read(int fd, short ev, void *arg)
{
	static char		 buf[MCP_READ_CHUNK];
	struct mcp_session	*s = arg;
	ssize_t			 n;

	if ((n = read(fd, buf, sizeof(buf))) == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		log_warn("session %u: read", s->id);
		session_close(s, 0);
		return;
	}
	if (n == 0) {
		s->eof = 1;
		event_del(&s->evr);
		/* a last line without its newline still counts */
		if (!s->discarding && s->ilen > 0) {
			session_line(s, s->ibuf, s->ilen);
			s->ilen = 0;
		}
		session_check_done(s);
		return;
	}
	session_input(s, buf, n);
}

/*
 * Split input into lines.  A line is handled straight from the read
 * buffer when it is whole there; only a partial line is copied.  A line
 * that grows past line_max is answered with an error once and its
 * remaining bytes are skipped as they arrive.
 */
static void
session_input(struct mcp_session *s, const char *buf, size_t n)
{
	size_t		 max = frontend_conf->limits.line_max, piece;
	const char	*nl;

	while (n > 0 && !s->dead) {
		nl = memchr(buf, '\n', n);
		if (s->discarding) {
			if (nl == NULL)
				return;
			piece = nl - buf + 1;
			buf += piece;
			n -= piece;
			s->discarding = 0;
			continue;
		}
		piece = nl != NULL ? (size_t)(nl - buf) : n;
		if (s->ilen + piece > max) {
			log_warnx("session %u: message over %zu bytes skipped",
			    s->id, max);
			send_error(s, NULL, JSONRPC_INVALID_REQUEST,
			    "message too large: limit is %zu bytes", max);
			s->ilen = 0;
			if (nl == NULL) {
				s->discarding = 1;
				break;
			}
		} else if (nl == NULL) {
			if (session_append(s, buf, piece) == -1)
				session_close(s, 0);
			break;
		} else if (s->ilen == 0)
			session_line(s, buf, piece);
		else {
			if (session_append(s, buf, piece) == -1) {
				session_close(s, 0);
				break;
			}
			session_line(s, s->ibuf, s->ilen);
			s->ilen = 0;
		}
		buf += piece + 1;
		n -= piece + 1;
	}
	/* a big message came and went: do not keep its buffer around */
	if (s->ilen == 0 && s->isize > MCP_IBUF_KEEP) {
		free(s->ibuf);
		s->ibuf = NULL;
		s->isize = 0;
	}
}

static int
session_append(struct mcp_session *s, const char *buf, size_t n)
{
	size_t	 want, max = frontend_conf->limits.line_max;
	char	*p;

	if (s->ilen + n > s->isize) {
		want = s->isize ? s->isize : 4096;
		while (want < s->ilen + n)
			want *= 2;
		if (want > max)
			want = max;
		if ((p = realloc(s->ibuf, want)) == NULL) {
			log_warn("session %u", s->id);
			return -1;
		}
		s->ibuf = p;
		s->isize = want;
	}
	memcpy(s->ibuf + s->ilen, buf, n);
	s->ilen += n;
	return 0;
}

static void
session_line(struct mcp_session *s, const char *line, size_t len)
{
	json_t		*msg;
	json_error_t	 err;
	size_t		 i;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	for (i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t')
			break;
	if (i == len)
		return;
	/*
	 * Duplicate keys are refused: two "method" or "id" members would
	 * let the client mean one thing to us and another to a log reader.
	 */
	msg = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
	    &err);
	if (msg == NULL) {
		log_debug("session %u: parse error: %s", s->id, err.text);
		send_error(s, NULL, JSONRPC_PARSE_ERROR, "parse error: %s "
		    "at byte %d", err.text, err.position);
		return;
	}
	handle_message(s, msg);
	json_decref(msg);
}

static void
session_write(int fd, short ev, void *arg)
{
	struct mcp_session	*s = arg;

	if (session_flush(s) == -1) {
		log_warn("session %u: write", s->id);
		session_close(s, 0);
		return;
	}
	session_check_done(s);
}

/* Write what the socket takes now: 0 (maybe more queued), -1 error. */
static int
session_flush(struct mcp_session *s)
{
	struct evbuffer_iovec	 v[16];
	struct iovec		 iov[16];
	struct msghdr		 mh;
	ssize_t			 n;
	int			 i, cnt;

	while (evbuffer_get_length(s->out) > 0) {
		cnt = evbuffer_peek(s->out, -1, NULL, v, 16);
		if (cnt > 16)
			cnt = 16;
		for (i = 0; i < cnt; i++) {
			iov[i].iov_base = v[i].iov_base;
			iov[i].iov_len = v[i].iov_len;
		}
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = iov;
		mh.msg_iovlen = cnt;
		/* sendmsg, not write: no SIGPIPE when the client is gone */
		if ((n = sendmsg(s->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT)) ==
		    -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -1;
		}
		evbuffer_drain(s->out, n);
	}
	if (evbuffer_get_length(s->out) == 0)
		event_del(&s->evw);
	else
		event_add(&s->evw, NULL);
	return 0;
}

/*
 * Output
 */

static void
send_json(struct mcp_session *s, json_t *msg)
{
	size_t	 limit, len;
	char	*text;

	if (s->dead) {
		json_decref(msg);
		return;
	}
	text = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (text == NULL) {
		log_warnx("session %u: cannot encode a message", s->id);
		return;
	}
	len = strlen(text);
	if (evbuffer_add(s->out, text, len) == -1 ||
	    evbuffer_add(s->out, "\n", 1) == -1) {
		free(text);
		log_warnx("session %u: out of memory", s->id);
		session_close(s, 0);
		return;
	}
	free(text);
	limit = frontend_conf->limits.line_max * 2;
	if (limit < MCP_OUT_MIN)
		limit = MCP_OUT_MIN;
	if (evbuffer_get_length(s->out) > limit) {
		log_warnx("session %u: client is not reading, %zu bytes "
		    "queued; closing", s->id, evbuffer_get_length(s->out));
		session_close(s, 0);
		return;
	}
	event_add(&s->evw, NULL);
}

/* result is stolen, id borrowed */
static void
send_result(struct mcp_session *s, json_t *id, json_t *result)
{
	json_t	*m;

	if ((m = json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id,
	    "result", result)) == NULL) {
		log_warnx("session %u: %s: json_pack failed", s->id, __func__);
		return;
	}
	send_json(s, m);
}

/* id borrowed; NULL means JSON null */
static void
send_error(struct mcp_session *s, json_t *id, int code, const char *fmt, ...)
{
	va_list	 ap;
	char	*text;
	json_t	*m;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) == -1)
		text = NULL;
	va_end(ap);
	m = json_pack("{s:s, s:O, s:{s:i, s:o}}", "jsonrpc", "2.0",
	    "id", id != NULL ? id : json_null(),
	    "error", "code", code,
	    "message", mcp_string(text != NULL ? text : "internal error"));
	free(text);
	if (m == NULL) {
		log_warnx("session %u: %s: json_pack failed", s->id, __func__);
		return;
	}
	send_json(s, m);
}

/*
 * JSON-RPC
 */

static void
handle_message(struct mcp_session *s, json_t *msg)
{
	json_t		*id, *v, *params;
	const char	*method;
	char		 name[MCP_SHOWN_LEN];
	size_t		 i;

	if (json_is_array(msg)) {
		send_error(s, NULL, JSONRPC_INVALID_REQUEST,
		    "batches are not supported: send one JSON-RPC message "
		    "per line");
		return;
	}
	if (!json_is_object(msg)) {
		send_error(s, NULL, JSONRPC_INVALID_REQUEST,
		    "invalid request: a JSON-RPC message is a JSON object");
		return;
	}
	id = json_object_get(msg, "id");
	if (id != NULL && !json_is_string(id) && !json_is_integer(id)) {
		send_error(s, NULL, JSONRPC_INVALID_REQUEST,
		    "invalid request: id must be a string or an integer");
		return;
	}
	v = json_object_get(msg, "jsonrpc");
	if (!json_is_string(v) || strcmp(json_string_value(v), "2.0") != 0) {
		send_error(s, id, JSONRPC_INVALID_REQUEST,
		    "invalid request: \"jsonrpc\" must be \"2.0\"");
		return;
	}
	v = json_object_get(msg, "method");
	if (v == NULL && (json_object_get(msg, "result") != NULL ||
	    json_object_get(msg, "error") != NULL)) {
		/* we never send requests, so no response is awaited */
		log_debug("session %u: ignoring a response", s->id);
		return;
	}
	if (!json_is_string(v)) {
		send_error(s, id, JSONRPC_INVALID_REQUEST,
		    "invalid request: \"method\" must be a string");
		return;
	}
	method = json_string_value(v);
	params = json_object_get(msg, "params");

	if (id == NULL) {
		/* notifications are never answered, not even errors */
		if (params != NULL && !json_is_object(params) &&
		    !json_is_array(params))
			return;
		for (i = 0; i < nitems(notifications); i++)
			if (strcmp(notifications[i].name, method) == 0) {
				notifications[i].fn(s, params);
				return;
			}
		shown(name, sizeof(name), method);
		log_debug("session %u: ignoring notification %s", s->id,
		    name);
		return;
	}

	s->requests++;
	if (params != NULL && !json_is_object(params) &&
	    !json_is_array(params)) {
		send_error(s, id, JSONRPC_INVALID_PARAMS,
		    "invalid params: \"params\" must be an object");
		return;
	}
	for (i = 0; i < nitems(methods); i++)
		if (strcmp(methods[i].name, method) == 0)
			break;
	if (i == nitems(methods)) {
		shown(name, sizeof(name), method);
		send_error(s, id, JSONRPC_NO_METHOD, "method not found: %s",
		    name);
		return;
	}
	/*
	 * -32600 rather than the -32002 some servers use: the request is
	 * not valid in this state, which is what invalid request means,
	 * and it is a code every JSON-RPC client knows.
	 */
	if (s->state == SESSION_NEW && !methods[i].preinit) {
		send_error(s, id, JSONRPC_INVALID_REQUEST,
		    "session not initialized: send initialize first");
		return;
	}
	methods[i].fn(s, id, params);
}

static void
m_initialize(struct mcp_session *s, json_t *id, json_t *params)
{
	json_t		*v, *info, *name, *version, *r;
	const char	*want, *proto;
	size_t		 i;

	if (s->state != SESSION_NEW) {
		send_error(s, id, JSONRPC_INVALID_REQUEST,
		    "session already initialized");
		return;
	}
	if (!json_is_object(params)) {
		send_error(s, id, JSONRPC_INVALID_PARAMS, "initialize: "
		    "params must be an object with protocolVersion, "
		    "capabilities and clientInfo");
		return;
	}
	v = json_object_get(params, "protocolVersion");
	if (!json_is_string(v)) {
		send_error(s, id, JSONRPC_INVALID_PARAMS,
		    "initialize: protocolVersion must be a string");
		return;
	}
	want = json_string_value(v);
	v = json_object_get(params, "capabilities");
	if (v != NULL && !json_is_object(v)) {
		send_error(s, id, JSONRPC_INVALID_PARAMS,
		    "initialize: capabilities must be an object");
		return;
	}
	info = json_object_get(params, "clientInfo");
	name = version = NULL;
	if (info != NULL) {
		if (!json_is_object(info)) {
			send_error(s, id, JSONRPC_INVALID_PARAMS,
			    "initialize: clientInfo must be an object");
			return;
		}
		name = json_object_get(info, "name");
		version = json_object_get(info, "version");
		if ((name != NULL && !json_is_string(name)) ||
		    (version != NULL && !json_is_string(version))) {
			send_error(s, id, JSONRPC_INVALID_PARAMS,
			    "initialize: clientInfo name and version must be "
			    "strings");
			return;
		}
	}

	proto = protocol_versions[NVERSIONS - 1];
	for (i = 0; i < NVERSIONS; i++)
		if (strcmp(want, protocol_versions[i]) == 0)
			proto = protocol_versions[i];
	strlcpy(s->protocol, proto, sizeof(s->protocol));
	shown(s->client, sizeof(s->client),
	    name != NULL ? json_string_value(name) : "");
	shown(s->client_version, sizeof(s->client_version),
	    version != NULL ? json_string_value(version) : "");

	r = json_pack("{s:s, s:{s:{s:b}, s:{}}, s:{s:s, s:s, s:s}, s:s}",
	    "protocolVersion", proto,
	    "capabilities", "tools", "listChanged", 0, "logging",
	    "serverInfo", "name", "bridged", "title", "bridged",
	    "version", BRIDGED_VERSION,
	    "instructions", instructions);
	if (r == NULL) {
		send_error(s, id, JSONRPC_INTERNAL, "internal error");
		return;
	}
	s->state = SESSION_INITIALIZED;
	log_info("session %u: client \"%s\" %s, protocol %s", s->id,
	    s->client, s->client_version, s->protocol);
	session_record(s, "initialize");
	send_result(s, id, r);
}

static void
m_ping(struct mcp_session *s, json_t *id, json_t *params)
{
	send_result(s, id, json_object());
}

static void
m_set_level(struct mcp_session *s, json_t *id, json_t *params)
{
	json_t	*v;
	size_t	 i;

	v = json_object_get(params, "level");
	if (json_is_string(v))
		for (i = 0; i < NLEVELS; i++)
			if (strcmp(json_string_value(v), log_levels[i]) == 0) {
				s->loglevel = i;
				send_result(s, id, json_object());
				return;
			}
	send_error(s, id, JSONRPC_INVALID_PARAMS, "logging/setLevel: level "
	    "must be one of debug, info, notice, warning, error, critical, "
	    "alert, emergency");
}

static void
m_tools_list(struct mcp_session *s, json_t *id, json_t *params)
{
	/* the list is short: one page, so any cursor is one we never gave */
	if (json_is_object(params) && json_object_get(params, "cursor") !=
	    NULL) {
		send_error(s, id, JSONRPC_INVALID_PARAMS, "invalid cursor");
		return;
	}
	send_result(s, id, json_pack("{s:O}", "tools", tools_list_json()));
}

static void
m_tools_call(struct mcp_session *s, json_t *id, json_t *params)
{
	const struct tool	*tool;
	struct mcp_call		*call;
	json_t			*v, *args, *meta, *token;
	char			 name[MCP_SHOWN_LEN];

	if (!json_is_object(params)) {
		send_error(s, id, JSONRPC_INVALID_PARAMS,
		    "tools/call: params must be an object with name and "
		    "arguments");
		return;
	}
	v = json_object_get(params, "name");
	if (!json_is_string(v)) {
		send_error(s, id, JSONRPC_INVALID_PARAMS,
		    "tools/call: name must be a string naming a tool");
		return;
	}
	if ((tool = tool_find(json_string_value(v))) == NULL) {
		shown(name, sizeof(name), json_string_value(v));
		send_error(s, id, JSONRPC_INVALID_PARAMS, "unknown tool: %s",
		    name);
		return;
	}
	args = json_object_get(params, "arguments");
	if (args != NULL && !json_is_object(args)) {
		send_error(s, id, JSONRPC_INVALID_PARAMS,
		    "tools/call: arguments must be an object");
		return;
	}
	token = NULL;
	if ((meta = json_object_get(params, "_meta")) != NULL) {
		if (!json_is_object(meta)) {
			send_error(s, id, JSONRPC_INVALID_PARAMS,
			    "tools/call: _meta must be an object");
			return;
		}
		token = json_object_get(meta, "progressToken");
		if (token != NULL && !json_is_string(token) &&
		    !json_is_integer(token)) {
			send_error(s, id, JSONRPC_INVALID_PARAMS, "tools/call: "
			    "progressToken must be a string or an integer");
			return;
		}
	}
	/* ids identify calls for cancellation: two in flight is ambiguous */
	TAILQ_FOREACH(call, &s->calls, sentry)
		if (json_equal(call->id, id)) {
			send_error(s, id, JSONRPC_INVALID_REQUEST,
			    "request id is already used by a call in flight");
			return;
		}
	if (frontend_shutting_down()) {
		send_result(s, id, json_pack("{s:[{s:s, s:s}], s:b}",
		    "content", "type", "text", "text", "bridged is shutting "
		    "down and takes no new calls; retry once it is back",
		    "isError", 1));
		return;
	}
	if ((call = call_new(s, id, tool, args, token)) == NULL) {
		send_error(s, id, JSONRPC_INTERNAL, "internal error: out of "
		    "memory");
		return;
	}
	log_debug("session %u: call %u: %s", s->id, call->reqid, tool->name);
	/* the call may be answered and freed before run returns */
	if (tool->run(call, call->args) == -1)
		mcp_call_text(call, 1, "internal error: %s could not start",
		    tool->name);
}

static void
n_initialized(struct mcp_session *s, json_t *params)
{
	if (s->state == SESSION_INITIALIZED)
		s->state = SESSION_READY;
	else
		log_debug("session %u: initialized notification out of "
		    "order", s->id);
}

static void
n_cancelled(struct mcp_session *s, json_t *params)
{
	struct mcp_call	*call;
	json_t		*rid;

	rid = json_object_get(params, "requestId");
	if (rid == NULL || (!json_is_string(rid) && !json_is_integer(rid)))
		return;
	TAILQ_FOREACH(call, &s->calls, sentry)
		if (json_equal(call->id, rid))
			break;
	if (call == NULL) {
		log_debug("session %u: cancel for no call in flight", s->id);
		return;
	}
	log_info("session %u: call %u (%s) cancelled by the client", s->id,
	    call->reqid, call->tool->name);
	call->cancelled = 1;
	call_finish(call, NULL, "cancelled");
}

/*
 * In-flight calls
 */

static int
call_cmp(struct mcp_call *a, struct mcp_call *b)
{
	return a->reqid < b->reqid ? -1 : a->reqid > b->reqid;
}

struct mcp_call *
mcp_call_byreqid(uint32_t reqid)
{
	struct mcp_call	 key;

	key.reqid = reqid;
	return RB_FIND(mcp_calltree, &calls, &key);
}

static struct mcp_call *
call_new(struct mcp_session *s, json_t *id, const struct tool *tool,
    json_t *args, json_t *token)
{
	struct mcp_call	*call;
	struct timeval	 tv;

	if ((call = calloc(1, sizeof(*call))) == NULL)
		return NULL;
	call->args = args != NULL ? json_incref(args) : json_object();
	if (call->args == NULL) {
		free(call);
		return NULL;
	}
	/* unique among calls in flight, never 0, never control.c's bit */
	do {
		call->reqid = next_reqid++;
		if (next_reqid & CTL_REQID_BIT)
			next_reqid = 1;
	} while (mcp_call_byreqid(call->reqid) != NULL);
	call->session = s;
	call->sessid = s->id;
	call->id = json_incref(id);
	call->tool = tool;
	call->progress_token = token != NULL ? json_incref(token) : NULL;
	clock_gettime(CLOCK_MONOTONIC, &call->start);
	RB_INSERT(mcp_calltree, &calls, call);
	TAILQ_INSERT_TAIL(&s->calls, call, sentry);
	ninflight++;
	evtimer_set(&call->timeout, call_timeout, call);
	if (frontend_conf->limits.call_timeout > 0) {
		tv.tv_sec = frontend_conf->limits.call_timeout;
		tv.tv_usec = 0;
		evtimer_add(&call->timeout, &tv);
	}
	return call;
}

static void
call_timeout(int fd, short ev, void *arg)
{
	struct mcp_call	*call = arg;

	log_warnx("session %u: call %u (%s) timed out", call->sessid,
	    call->reqid, call->tool->name);
	call->timedout = 1;
	mcp_call_text(call, 1, "timed out after %d s; the remote work may "
	    "still be running", frontend_conf->limits.call_timeout);
}

/*
 * Answer (result != NULL, stolen) or drop a call, audit it, free it.  The
 * call leaves every table before anything is sent, so whatever sending
 * does to the session cannot reach it twice.
 */
static void
call_finish(struct mcp_call *call, json_t *result, const char *outcome)
{
	struct mcp_session	*s = call->session;
	struct timespec		 now;
	json_t			*r;
	long long		 ms;

	RB_REMOVE(mcp_calltree, &calls, call);
	TAILQ_REMOVE(&s->calls, call, sentry);
	evtimer_del(&call->timeout);
	ninflight--;

	if (result != NULL && !call->cancelled)
		send_result(s, call->id, result);
	else
		json_decref(result);

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - call->start.tv_sec) * 1000LL +
	    (now.tv_nsec - call->start.tv_nsec) / 1000000;
	r = json_pack("{s:s, s:s, s:I, s:I, s:s, s:o, s:s, s:s, s:I}",
	    "type", "call", "event", "outcome",
	    "session", (json_int_t)call->sessid,
	    "request", (json_int_t)call->reqid, "tool", call->tool->name,
	    "host", call->host[0] ? json_string(call->host) : json_null(),
	    "decision", call->refused ? "refused" : "allowed",
	    "outcome", outcome, "duration_ms", (json_int_t)ms);
	if (r != NULL) {
		frontend_record(r);
		json_decref(r);
	}
	log_debug("session %u: call %u (%s) %s in %lld ms", call->sessid,
	    call->reqid, call->tool->name, outcome, ms);

	if ((call->cancelled || call->timedout) && call->tool->cancel != NULL)
		call->tool->cancel(call);

	json_decref(call->id);
	json_decref(call->args);
	json_decref(call->progress_token);
	json_decref(call->data);
	free(call->rbuf);
	free(call);

	session_check_done(s);
	if (frontend_shutting_down())
		frontend_check_drained();
}

void
mcp_call_result(struct mcp_call *call, json_t *result)
{
	const char	*outcome;

	if (result == NULL) {
		mcp_call_text(call, 1, "internal error: no result");
		return;
	}
	if (call->timedout)
		outcome = "timeout";
	else if (json_is_true(json_object_get(result, "isError")))
		outcome = "error";
	else
		outcome = "ok";
	call_finish(call, result, outcome);
}

void
mcp_call_text(struct mcp_call *call, int iserror, const char *fmt, ...)
{
	va_list	 ap;
	char	*text;
	json_t	*r;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) == -1) {
		text = NULL;
		iserror = 1;
	}
	va_end(ap);
	r = json_pack("{s:[{s:s, s:o}]}", "content", "type", "text", "text",
	    mcp_string(text != NULL ? text : "internal error: out of memory"));
	free(text);
	if (r != NULL && iserror)
		json_object_set_new(r, "isError", json_true());
	if (r == NULL) {
		/* still answer: a call must never hang */
		r = json_pack("{s:[], s:b}", "content", "isError", 1);
	}
	mcp_call_result(call, r);
}

/* structuredContent plus the same JSON as text, for older clients */
void
mcp_call_structured(struct mcp_call *call, json_t *structured)
{
	char	*text;
	json_t	*r;

	if (structured == NULL) {
		mcp_call_text(call, 1, "internal error: out of memory");
		return;
	}
	if ((text = json_dumps(structured, JSON_COMPACT)) == NULL) {
		json_decref(structured);
		mcp_call_text(call, 1, "internal error: cannot encode result");
		return;
	}
	r = json_pack("{s:[{s:s, s:s}], s:o}", "content", "type", "text",
	    "text", text, "structuredContent", structured);
	free(text);
	mcp_call_result(call, r);
}

/* progress must strictly increase; a stale value is not sent */
void
mcp_notify_progress(struct mcp_call *call, double progress,
    const char *message)
{
	json_t	*m;

	if (call->progress_token == NULL || call->cancelled ||
	    call->session->dead)
		return;
	if (call->progress_sent && progress <= call->progress_last)
		return;
	call->progress_sent = 1;
	call->progress_last = progress;
	m = json_pack("{s:s, s:s, s:{s:O, s:f}}", "jsonrpc", "2.0",
	    "method", "notifications/progress", "params",
	    "progressToken", call->progress_token, "progress", progress);
	if (m == NULL)
		return;
	if (message != NULL)
		json_object_set_new(json_object_get(m, "params"), "message",
		    mcp_string(message));
	send_json(call->session, m);
}

/*
 * What the rest of the frontend asks
 */

int
mcp_inflight(void)
{
	return ninflight;
}

void
mcp_close_all(void)
{
	struct mcp_session	*s;

	TAILQ_FOREACH(s, &sessions, entry)
		session_close(s, 1);
}

/*
 * bridgectl kill session: close it as if the client had gone; its calls
 * in flight are cancelled (the worker stops their work) and recorded.
 */
int
mcp_kill_session(uint32_t id, uid_t by, int *ncalls)
{
	struct mcp_session	*s;
	struct mcp_call		*call;
	json_t			*r;

	TAILQ_FOREACH(s, &sessions, entry)
		if (s->id == id && !s->dead)
			break;
	if (s == NULL)
		return -1;
	*ncalls = 0;
	TAILQ_FOREACH(call, &s->calls, sentry)
		(*ncalls)++;
	log_info("session %u: killed by bridgectl (uid %u), %d call%s in "
	    "flight cancelled", s->id, (unsigned)by, *ncalls,
	    *ncalls == 1 ? "" : "s");
	r = json_pack("{s:s, s:s, s:I, s:I, s:I}", "type", "session",
	    "event", "killed", "session", (json_int_t)s->id,
	    "by_uid", (json_int_t)by, "calls", (json_int_t)*ncalls);
	if (r != NULL) {
		frontend_record(r);
		json_decref(r);
	}
	session_close(s, 1);
	return 0;
}

size_t
mcp_audit_waiting(uint32_t *ids, size_t max)
{
	struct mcp_call	*call;
	size_t		 n = 0;

	RB_FOREACH(call, mcp_calltree, &calls)
		if (call->audit_wait && n < max)
			ids[n++] = call->reqid;
	return n;
}

json_t *
mcp_sessions_json(void)
{
	struct mcp_session	*s;
	json_t			*a, *o;

	if ((a = json_array()) == NULL)
		return NULL;
	TAILQ_FOREACH(s, &sessions, entry) {
		if (s->dead)
			continue;
		o = json_pack("{s:I, s:I, s:I, s:s, s:s, s:s, s:I, s:I, s:s}",
		    "id", (json_int_t)s->id,
		    "uid", (json_int_t)s->uid,
		    "pid", (json_int_t)s->pid,
		    "client", s->client,
		    "client_version", s->client_version,
		    "protocol", s->protocol,
		    "since", (json_int_t)s->since,
		    "requests", (json_int_t)s->requests,
		    "state", s->state == SESSION_READY ? "ready" : "new");
		if (o == NULL || json_array_append_new(a, o) == -1) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/*
 * Replies from the ssh worker.  The worker is ours but a separate
 * process: sizes are checked exactly, and a wrong one means it is broken.
 * A reply for a call that is gone (cancelled, timed out, session closed)
 * is dropped.
 */
void
mcp_dispatch_ssh(struct imsg *imsg)
{
	struct mcp_call	*call;

	switch (imsg->hdr.type) {
	case IMSG_SSH_HOSTSTATE:
		if (imsg->datalen != sizeof(struct host_state))
			fatalx("%s: IMSG_SSH_HOSTSTATE: bad size %zu",
			    __func__, imsg->datalen);
		break;
	case IMSG_SSH_END:
	case IMSG_SSH_RESULT:
		if (imsg->datalen != 0)
			fatalx("%s: type %u: bad size %zu", __func__,
			    imsg->hdr.type, imsg->datalen);
		break;
	case IMSG_SSH_RESULT_DATA:
		if (imsg->datalen == 0)
			fatalx("%s: empty IMSG_SSH_RESULT_DATA", __func__);
		break;
	case IMSG_SSH_PROGRESS:
		if (imsg->datalen < sizeof(struct ssh_progress))
			fatalx("%s: IMSG_SSH_PROGRESS: bad size %zu",
			    __func__, imsg->datalen);
		break;
	default:
		fatalx("%s: unexpected imsg type %u", __func__, imsg->hdr.type);
	}
	if ((call = mcp_call_byreqid(imsg->hdr.peerid)) == NULL) {
		log_debug("%s: reply type %u for request %u not in flight",
		    __func__, imsg->hdr.type, imsg->hdr.peerid);
		return;
	}
	if (call->tool->reply == NULL) {
		log_warnx("%s: reply type %u for tool %s that expects none",
		    __func__, imsg->hdr.type, call->tool->name);
		return;
	}
	call->tool->reply(call, imsg);
}
