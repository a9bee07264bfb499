/*
 * fe_mcp.c: MCP sessions on the UNIX socket.
 *
 * Each connection is one session speaking JSON-RPC 2.0, one message per
 * line.  Everything a client sends is hostile until checked: lines are
 * bounded (an oversized one is skipped without being held in memory, and
 * answered with the id fe_idscan.c finds in it) and each whole line goes
 * to fe_jsonrpc.c, which parses and answers it.  Output
 * is queued and written when the socket is writable; a client that stops
 * reading is dropped once too much is queued for it.  A session's memory
 * is freed on a fresh turn of the event loop, never under its own feet.
 *
 * EOF from a client is one of two things.  A half-close (a shutdown of
 * its writing side, as bridgectl mcp makes at the end of its stdin)
 * still wants the answers: the session lives until they are out.  A
 * client that went away (closed, crashed, killed) wants nothing: the
 * session ends at once, so its calls are cancelled and their remote work
 * is killed.  A hang-up on the socket tells the two apart, and a
 * half-closed session is checked for one every SESSION_HUP_MS while it
 * waits for its answers.
 *
 * A client over the session limit is not a session: it gets a few
 * seconds and a bounded number of bytes to send its initialize, which is
 * answered with an error that says why (with its id, so that the client
 * shows the reason rather than a lost connection), and is closed.
 *
 * This runs in the sandboxed frontend: no open(), no socket(), so all I/O
 * is read/sendmsg on descriptors we were given or accepted.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <poll.h>
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
#include "fe_mcp.h"
#include "fe_tools.h"

#define MCP_READ_CHUNK		(64 * 1024)
#define MCP_OUT_MIN		(8 * 1024 * 1024)
#define MCP_IBUF_KEEP		(64 * 1024)	/* shrink input buffer above */
#define SESSION_HUP_MS		500	/* a half-closed client still there? */

static void	 accept_cb(int, short, void *);
static void	 accept_resume(int, short, void *);
static void	 session_new(int);
static void	 session_start(int, int, uid_t, pid_t, const char *);
static void	 session_read(int, short, void *);
static void	 session_write(int, short, void *);
static int	 session_flush(struct mcp_session *);
static void	 session_input(struct mcp_session *, const char *, size_t);
static int	 session_append(struct mcp_session *, const char *, size_t);
static void	 session_line(struct mcp_session *, const char *, size_t);
static void	 session_close(struct mcp_session *, int);
static void	 session_free(int, short, void *);
static int	 session_hungup(struct mcp_session *);
static void	 session_hupcheck(int, short, void *);
static void	 session_toolong(struct mcp_session *);

static TAILQ_HEAD(, mcp_session) sessions = TAILQ_HEAD_INITIALIZER(sessions);
static int		 nsessions;	/* open, not yet freed */
static uint32_t		 next_session_id = 1;
static int		 listen_fd = -1;
static struct event	 ev_accept;
static struct event	 ev_pause;

/*
 * Utilities shared with fe_tools.c and fe_jsonrpc.c
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
void
mcp_shown(char *dst, size_t size, const char *src)
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
	struct ucred		 cred;
	socklen_t		 len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("%s: SO_PEERCRED", __func__);
		close(fd);
		return;
	}
	if (nsessions >= frontend_conf->limits.sessions_max) {
		log_warnx("refusing MCP session from uid %u pid %d: %d "
		    "sessions open, the limit", (unsigned)cred.uid,
		    (int)cred.pid, nsessions);
		mcp_refuse_new(fd, &cred);
		return;
	}
	session_start(fd, fd, cred.uid, cred.pid, "unix");
}

/*
 * bridged -i: the one session on the descriptors that were our stdin
 * and stdout, which the parent passed on.  The principal is the uid
 * bridged runs as; pid is the client that spawned it.
 */
void
mcp_stdio(int in, int out, uid_t uid, pid_t pid)
{
	session_start(in, out, uid, pid, "stdio");
}

static void
session_start(int fd, int wfd, uid_t uid, pid_t pid, const char *transport)
{
	struct mcp_session	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->out = evbuffer_new()) == NULL) {
		log_warn("%s", __func__);
		free(s);
		close(fd);
		if (wfd != fd)
			close(wfd);
		return;
	}
	s->id = mcp_session_newid();
	s->fd = fd;
	s->wfd = wfd;
	s->uid = uid;
	s->pid = pid;
	s->since = time(NULL);
	clock_gettime(CLOCK_MONOTONIC, &s->start);
	s->state = SESSION_NEW;
	s->loglevel = 1;	/* info */
	s->req.loglevel = -1;
	s->transport = transport;
	snprintf(s->principal, sizeof(s->principal), "uid %u",
	    (unsigned)uid);
	TAILQ_INIT(&s->calls);
	TAILQ_INIT(&s->subs);
	event_set(&s->evr, fd, EV_READ | EV_PERSIST, session_read, s);
	event_set(&s->evw, wfd, EV_WRITE | EV_PERSIST, session_write, s);
	evtimer_set(&s->evfree, session_free, s);
	evtimer_set(&s->evhup, session_hupcheck, s);
	event_add(&s->evr, NULL);
	TAILQ_INSERT_TAIL(&sessions, s, entry);
	nsessions++;
	log_info("session %u: connected (%s), uid %u pid %d", s->id,
	    transport, (unsigned)s->uid, (int)s->pid);
	mcp_session_record(s, "start");
}

/* a live session by id, for what outlives a request (fe_tasks.c) */
struct mcp_session *
mcp_session_byid(uint32_t id)
{
	struct mcp_session	*s;

	TAILQ_FOREACH(s, &sessions, entry)
		if (s->id == id && !s->dead)
			return s;
	return NULL;
}

struct mcp_session *
mcp_session_next(struct mcp_session *s)
{
	s = s == NULL ? TAILQ_FIRST(&sessions) : TAILQ_NEXT(s, entry);
	while (s != NULL && s->dead)
		s = TAILQ_NEXT(s, entry);
	return s;
}

/*
 * A session whose messages go through a transport's hook (fe_http.c)
 * rather than a socket: no descriptor, the same lifecycle and audit.
 * uid is the principal's key for the state of modern calls.
 */
struct mcp_session *
mcp_session_open(const struct mcp_output *out, void *arg,
    const char *principal, uid_t uid)
{
	struct mcp_session	*s;

	if (mcp_session_full() || (s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->id = mcp_session_newid();
	s->fd = -1;
	s->wfd = -1;
	s->uid = uid;
	s->pid = -1;
	s->since = time(NULL);
	clock_gettime(CLOCK_MONOTONIC, &s->start);
	s->state = SESSION_NEW;
	s->loglevel = 1;	/* info */
	s->req.loglevel = -1;
	s->transport = "http";
	s->output = out;
	s->output_arg = arg;
	strlcpy(s->principal, principal, sizeof(s->principal));
	TAILQ_INIT(&s->calls);
	TAILQ_INIT(&s->subs);
	evtimer_set(&s->evfree, session_free, s);
	evtimer_set(&s->evhup, session_hupcheck, s);
	TAILQ_INSERT_TAIL(&sessions, s, entry);
	nsessions++;
	log_info("session %u: %s, principal \"%s\"", s->id, s->transport,
	    s->principal);
	mcp_session_record(s, "start");
	return s;
}

void
mcp_session_end(struct mcp_session *s)
{
	session_close(s, 0);
}

int
mcp_session_full(void)
{
	return nsessions >= frontend_conf->limits.sessions_max;
}

void
mcp_session_record(struct mcp_session *s, const char *event)
{
	struct timespec	 now;
	json_t		*r;
	long long	 ms;

	r = json_pack("{s:s, s:s, s:I, s:I, s:I}", "type", "session",
	    "event", event, "session", (json_int_t)s->id,
	    "uid", (json_int_t)s->uid, "pid", (json_int_t)s->pid);
	if (r == NULL)
		return;
	json_object_set_new(r, "principal", json_string(s->principal));
	json_object_set_new(r, "transport", json_string(s->transport));
	if (s->output != NULL) {
		/* no peer process: the principal says who */
		json_object_del(r, "uid");
		json_object_del(r, "pid");
	}
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
		/* for bridgectl show sessions all (fe_ctlhist.c) */
		json_object_set_new(r, "started", json_integer(s->since));
		json_object_set_new(r, "ended", json_integer(time(NULL)));
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
	/* a stop of ours ends subscriptions gracefully; a hang-up does not */
	mcp_subs_end(s, flush);
	s->dead = 1;
	if (s->output != NULL) {
		/* the transport lets go of it; nothing more is sent */
		s->output->close(s);
		evtimer_add(&s->evfree, &tv);
		return;
	}
	if (flush)
		(void)session_flush(s);
	event_del(&s->evr);
	event_del(&s->evw);
	evtimer_del(&s->evhup);
	if (s->wfd != s->fd)
		close(s->wfd);
	close(s->fd);
	s->fd = s->wfd = -1;
	evtimer_add(&s->evfree, &tv);
}

static void
session_free(int fd, short ev, void *arg)
{
	struct mcp_session	*s = arg;

	/* calls still running die with their session, unanswered */
	mcp_calls_drop(s);
	/* its persistent shells on every host go with it */
	(void)fe_ssh_broadcast(IMSG_SSH_SESSION_END, 0, &s->id,
	    sizeof(s->id), NULL);
	fe_jobs_session_end(s->id);
	log_info("session %u: closed after %llu requests", s->id,
	    (unsigned long long)s->requests);
	mcp_session_record(s, "end");
	/* bridged -i serves one session: its end is the daemon's */
	if (strcmp(s->transport, "stdio") == 0)
		frontend_compose(PROC_PARENT, IMSG_STDIO_DONE, 0, -1, NULL, 0);
	TAILQ_REMOVE(&sessions, s, entry);
	nsessions--;
	evtimer_del(&s->evfree);
	evtimer_del(&s->evhup);
	idscan_clear(&s->scan);
	if (s->out != NULL)
		evbuffer_free(s->out);
	free(s->ibuf);
	json_decref(s->relay_subs);
	json_decref(s->client_caps);
	free(s);
}

/* After a half-close the session lives until its answers are out. */
void
mcp_session_check_done(struct mcp_session *s)
{
	struct timeval	 tv = { 0, SESSION_HUP_MS * 1000 };

	if (s->dead || !s->eof)
		return;
	if (TAILQ_EMPTY(&s->calls) && (s->out == NULL ||
	    evbuffer_get_length(s->out) == 0)) {
		session_close(s, 0);
		return;
	}
	if (!evtimer_pending(&s->evhup, NULL))
		evtimer_add(&s->evhup, &tv);
}

/*
 * Has the client gone altogether?  A UNIX stream socket reports a
 * hang-up once the peer has closed it (or shut down both directions),
 * not after a shutdown of its writing side only.  On stdio the end of
 * stdin is the half-close; the client is gone when stdout has no
 * reader (a pipe says POLLERR, a socket POLLHUP).
 */
static int
session_hungup(struct mcp_session *s)
{
	struct pollfd	 pfd;

	pfd.fd = s->wfd;
	pfd.events = 0;
	pfd.revents = 0;
	if (poll(&pfd, 1, 0) == -1)
		return 0;
	return (pfd.revents & (POLLHUP | POLLERR)) != 0;
}

/* a half-closed session waits for its answers: has the client left? */
static void
session_hupcheck(int fd, short ev, void *arg)
{
	struct mcp_session	*s = arg;

	if (s->dead)
		return;
	if (session_hungup(s)) {
		log_info("session %u: the client went away: cancelling its"
		    " calls", s->id);
		session_close(s, 0);
		return;
	}
	mcp_session_check_done(s);
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
		if (session_hungup(s)) {
			/* gone, not half-closed: nobody wants the answers */
			if (!TAILQ_EMPTY(&s->calls))
				log_info("session %u: the client went away:"
				    " cancelling its calls", s->id);
			session_close(s, 0);
			return;
		}
		/* a last line without its newline still counts */
		if (s->discarding)
			session_toolong(s);
		else if (s->ilen > 0) {
			session_line(s, s->ibuf, s->ilen);
			s->ilen = 0;
		}
		mcp_session_check_done(s);
		return;
	}
	session_input(s, buf, n);
}

/*
 * Split input into lines.  A line is handled straight from the read
 * buffer when it is whole there; only a partial line is copied.  A line
 * that grows past line_max is skipped as its bytes arrive, each piece
 * shown to the id scanner first, and answered with an error once it
 * ends: by then the scanner has seen all of it, so an id after a huge
 * member is found too.
 */
static void
session_input(struct mcp_session *s, const char *buf, size_t n)
{
	size_t		 max = frontend_conf->limits.line_max, piece;
	const char	*nl;

	while (n > 0 && !s->dead) {
		nl = memchr(buf, '\n', n);
		piece = nl != NULL ? (size_t)(nl - buf) : n;
		if (s->discarding) {
			idscan_feed(&s->scan, buf, piece);
			if (nl == NULL)
				break;
			session_toolong(s);
		} else if (s->ilen + piece > max) {
			log_warnx("session %u: message over %zu bytes skipped",
			    s->id, max);
			/* what is held so far is scanned, then let go */
			idscan_init(&s->scan);
			idscan_feed(&s->scan, s->ibuf, s->ilen);
			s->ilen = 0;
			s->discarding = 1;
			continue;	/* this piece, as part of the skip */
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

/* the end of a line over line_max: answer it, with its id if it had one */
static void
session_toolong(struct mcp_session *s)
{
	json_t	*id;

	s->discarding = 0;
	id = idscan_end(&s->scan, NULL);
	mcp_send_error(s, id, JSONRPC_INVALID_REQUEST, "message too large: a "
	    "line may be at most %zu bytes (limits { line size } in "
	    "bridged.conf)", frontend_conf->limits.line_max);
	idscan_clear(&s->scan);
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

/* a whole line: blank ones are skipped, a trailing CR is not content */
static void
session_line(struct mcp_session *s, const char *line, size_t len)
{
	size_t	 i;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	for (i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t')
			break;
	if (i == len)
		return;
	mcp_message(s, line, len);
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
	mcp_session_check_done(s);
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
		/*
		 * sendmsg, not write: no SIGPIPE when the client is gone.
		 * stdout may be a pipe; SIGPIPE is ignored (proc.c).
		 */
		if (s->wfd != s->fd)
			n = writev(s->wfd, iov, cnt);
		else
			n = sendmsg(s->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -1;
		}
		evbuffer_drain(s->out, n);
	}
	if (evbuffer_get_length(s->out) == 0) {
		event_del(&s->evw);
		/* a call's outcome follows its answer (frontend.c) */
		frontend_push_records();
	} else
		event_add(&s->evw, NULL);
	return 0;
}

/*
 * Output
 */

void
mcp_send_json(struct mcp_session *s, json_t *msg)
{
	size_t	 limit, len;
	char	*text;

	if (s->dead) {
		json_decref(msg);
		return;
	}
	if (s->output != NULL) {
		s->output->send(s, msg);
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
	/*
	 * Written at the end of this turn of the loop, with whatever else
	 * is sent meanwhile; session_flush asks the kernel to watch the
	 * socket only when it is full.
	 */
	if (!event_pending(&s->evw, EV_WRITE, NULL))
		event_active(&s->evw, EV_WRITE, 1);
}

/* result is stolen, id borrowed */
void
mcp_send_result(struct mcp_session *s, json_t *id, json_t *result)
{
	json_t	*m;

	/* the answer to a modern request being dispatched says so */
	if (s->req.id != NULL && s->req.era != NULL && json_equal(id,
	    s->req.id))
		result = mcp_era_stamp(s->req.era, result);
	if ((m = json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id,
	    "result", result)) == NULL) {
		log_warnx("session %u: %s: json_pack failed", s->id, __func__);
		return;
	}
	if (!mcp_batch_take(s, m))
		mcp_send_json(s, m);
}

/* id borrowed; NULL means JSON null */
void
mcp_send_error(struct mcp_session *s, json_t *id, int code,
    const char *fmt, ...)
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
	if (!mcp_batch_take(s, m))
		mcp_send_json(s, m);
}

uint32_t
mcp_session_newid(void)
{
	uint32_t	 id = next_session_id++;

	if (next_session_id == 0)
		next_session_id = 1;
	return id;
}

/*
 * What the rest of the frontend asks
 */

void
mcp_close_all(void)
{
	struct mcp_session	*s;

	TAILQ_FOREACH(s, &sessions, entry)
		session_close(s, 1);
	mcp_refused_close_all();
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

/* the open sessions, for bridgectl show sessions */
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
		if (o != NULL) {
			json_object_set_new(o, "principal",
			    json_string(s->principal));
			json_object_set_new(o, "transport",
			    json_string(s->transport));
			if (s->output != NULL) {
				json_object_del(o, "uid");
				json_object_del(o, "pid");
			}
		}
		if (o == NULL || json_array_append_new(a, o) == -1) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}
