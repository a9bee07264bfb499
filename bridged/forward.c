/*
 * forward.c: SSH port forwards in the ssh worker (forward_open,
 * forward_list, forward_close, bridgectl show forwards / close forward).
 *
 * local:  the parent binds a listening socket (IMSG_FWD_LISTEN) and
 *	   hands it over; each connection accepted on it becomes a
 *	   direct-tcpip channel to the destination on the host's side.
 * remote: the remote sshd listens on its loopback (tcpip-forward); each
 *	   forwarded-tcpip channel it opens is joined to a local connection
 *	   the parent makes (IMSG_FWD_CONNECT) to a destination a
 *	   "forward from remote to" rule allows.
 *
 * The worker never blocks on a forwarded byte.  The session stays in
 * libssh's blocking mode for the other tools; every forward operation
 * switches it to non-blocking for the call (nb_begin/nb_end).  Data from
 * the channel arrives in the channel callbacks, which may run inside any
 * libssh call of any tool: they only queue bytes and set flags, and the
 * work is done by conn_step from the event loop.  Back-pressure:
 *
 *   ssh -> local: the bytes wait in tolocal while the local socket is
 *	full; past FWD_HIWAT the data callback takes nothing more, libssh
 *	keeps it and stops opening the window, so the remote side stops.
 *   local -> ssh: at most the channel's window is read from the local
 *	socket; when the window is shut, reading stops until libssh says
 *	the window opened again (channel_write_wontblock).
 *
 * EOF travels both ways (shutdown(SHUT_WR) on the local socket, channel
 * EOF on the ssh side); a connection ends when both directions have, or
 * either side closed or failed.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event.h>
#include <jansson.h>
#include <libssh/libssh.h>
#include <libssh/callbacks.h>
#include <libssh/server.h>

#include "bridged.h"
#include "imsg.h"
#include "log.h"
#include "ssh.h"

#define FWD_CHUNK		(256 * 1024)
#define FWD_HIWAT		(512 * 1024)	/* held for a slow local side */
#define FWD_OPEN_TIMEOUT	30		/* seconds for a channel open */
/*
 * A channel's open confirmation or window adjust may be processed inside
 * another tool's blocking libssh call, where no event tells us: a
 * connection waiting for either looks again this often (ms).
 */
#define FWD_RECHECK_MS		100
#define FWD_REMOTE_ADDR		"127.0.0.1"	/* the remote listens here */

enum fwd_state {
	FWD_PENDING,		/* waiting for the parent's socket */
	FWD_ACTIVE,
};

enum conn_state {
	CONN_OPENING,		/* local: channel open sent */
	CONN_WAITFD,		/* remote: waiting for the parent's connect */
	CONN_OPEN,
};

struct fwd;

struct fconn {
	TAILQ_ENTRY(fconn)	 entry;
	struct fwd		*fwd;
	uint32_t		 id;		/* unique in the worker */
	int			 state;
	int			 fd;
	ssh_channel		 ch;
	struct ssh_channel_callbacks_struct cb;
	struct event		 ev_read;
	struct event		 ev_write;
	struct event		 ev_step;
	struct event		 ev_timeout;
	int			 rd_on;
	int			 wr_on;
	struct evbuffer		*tolocal;	/* from the channel */
	struct evbuffer		*toremote;	/* from the local socket */
	int			 ch_pending;	/* libssh holds data for us */
	int			 win_wait;	/* reading stopped: window shut */
	int			 local_eof;	/* read EOF on the local side */
	int			 eof_sent;	/* channel EOF sent */
	int			 remote_eof;
	int			 remote_closed;
	int			 shut_wr;	/* local write side shut */
	uint64_t		 sent;		/* toward the destination */
	uint64_t		 received;	/* back from it */
	struct timespec		 start;
	char			 peer[HOST_ADDR_LEN + 8];
};

struct fwd {
	TAILQ_ENTRY(fwd)	 entry;
	uint32_t		 id;
	uint32_t		 sessid;
	struct sshhost		*host;
	int			 dir;		/* FWD_TO or FWD_FROM_REMOTE */
	int			 state;
	int			 persist;
	int			 rule_line;
	char			 dest_host[HOST_ADDR_LEN];
	uint16_t		 dest_port;
	char			 listen_addr[HOST_ADDR_LEN];
	uint16_t		 listen_port;
	ssh_session		 session;	/* remote: where it listens */
	int			 lfd;
	struct event		 ev_accept;
	int			 accept_on;
	struct sshcall		*call;		/* forward_open, until done */
	uint32_t		 nactive;
	uint32_t		 ntotal;
	uint32_t		 nrefused;
	uint64_t		 sent;
	uint64_t		 received;
	time_t			 since;
	struct timespec		 start;
	TAILQ_HEAD(, fconn)	 conns;
};

static void	 fwd_open_local(struct sshcall *, struct fwd *);
static void	 fwd_open_remote(struct sshcall *, struct fwd *);
static void	 fwd_opened(struct fwd *);
static void	 fwd_close(struct fwd *, const char *, int);
static void	 fwd_cancel(struct sshcall *);
static struct fwd *fwd_byid(uint32_t);
static json_t	*fwd_json(struct fwd *);
static void	 fwd_record(struct fwd *, const char *, const char *);
static void	 fwd_refused(struct sshcall *, const char *, const char *,
		    uint16_t, const char *, ...)
		    __attribute__((__format__ (printf, 5, 6)));
static void	 fwd_accept(int, short, void *);
static int	 fwd_message(ssh_session, ssh_message, void *);
static void	 record_send(json_t *);
static const struct fwdrule *rule_find(struct host *, int, const char *,
		    uint16_t);
static char	*rules_text(struct host *, int);
static int	 nb_begin(ssh_session);
static void	 nb_end(ssh_session, int);
static struct fconn *conn_new(struct fwd *, int, const char *);
static void	 conn_free(struct fconn *, const char *);
static void	 conn_start(struct fconn *);
static void	 conn_try_open(struct fconn *);
static void	 conn_sched(struct fconn *);
static void	 conn_recheck(struct fconn *);
static void	 conn_step(int, short, void *);
static void	 conn_readable(int, short, void *);
static void	 conn_writable(int, short, void *);
static void	 conn_timeout(int, short, void *);
static int	 conn_flush_remote(struct fconn *);
static void	 conn_set_read(struct fconn *, int);
static void	 conn_set_write(struct fconn *, int);
static int	 cb_data(ssh_session, ssh_channel, void *, uint32_t, int,
		    void *);
static void	 cb_eof(ssh_session, ssh_channel, void *);
static void	 cb_close(ssh_session, ssh_channel, void *);
static int	 cb_wontblock(ssh_session, ssh_channel, uint32_t, void *);
static long long ms_since(const struct timespec *);
static void	 appendf(char **, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));

static TAILQ_HEAD(, fwd)	 fwds = TAILQ_HEAD_INITIALIZER(fwds);
static uint32_t			 fwd_nextid;
static uint32_t			 conn_nextid;

/* grow a NUL-terminated string (NULL at first) */
static void
appendf(char **sp, const char *fmt, ...)
{
	va_list	 ap;
	char	*t, *n;

	va_start(ap, fmt);
	if (vasprintf(&t, fmt, ap) == -1)
		fatal(NULL);
	va_end(ap);
	if (asprintf(&n, "%s%s", *sp ? *sp : "", t) == -1)
		fatal(NULL);
	free(t);
	free(*sp);
	*sp = n;
}

static long long
ms_since(const struct timespec *t)
{
	struct timespec	 now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(now.tv_sec - t->tv_sec) * 1000 +
	    (now.tv_nsec - t->tv_nsec) / 1000000;
}

/* the session's mode for the other tools is blocking: keep it */
static int
nb_begin(ssh_session s)
{
	int	 was = ssh_is_blocking(s);

	ssh_set_blocking(s, 0);
	return was;
}

static void
nb_end(ssh_session s, int was)
{
	ssh_set_blocking(s, was);
}

static void
record_send(json_t *r)
{
	char	*s;

	if (r == NULL)
		return;
	if ((s = json_dumps(r, JSON_COMPACT)) != NULL) {
		if (strlen(s) <= IMSG_MAXPAYLOAD &&
		    ssh_compose(PROC_LOGGER, IMSG_LOG_RECORD, 0, -1, s,
		    strlen(s)) == -1)
			log_debug("forward record not sent: %s",
			    strerror(errno));
		free(s);
	}
	json_decref(r);
}

static const char *
dir_name(int dir)
{
	return dir == FWD_TO ? "local" : "remote";
}

static struct fwd *
fwd_byid(uint32_t id)
{
	struct fwd	*f;

	TAILQ_FOREACH(f, &fwds, entry)
		if (f->id == id)
			return f;
	return NULL;
}

static const struct fwdrule *
rule_find(struct host *h, int dir, const char *dest, uint16_t port)
{
	const struct fwdrule	*fr;

	TAILQ_FOREACH(fr, &h->fwdrules, entry)
		if (fr->dir == dir && fr->port == port &&
		    strcasecmp(fr->host, dest) == 0)
			return fr;
	return NULL;
}

/* "\"127.0.0.1\" port 5432 (line 12), ..." or NULL when there are none */
static char *
rules_text(struct host *h, int dir)
{
	const struct fwdrule	*fr;
	char			*s = NULL;

	TAILQ_FOREACH(fr, &h->fwdrules, entry) {
		if (fr->dir != dir)
			continue;
		appendf(&s, "%s\"%s\" port %u (line %d)", s ? ", " : "",
		    fr->host, fr->port, fr->line);
	}
	return s;
}

/* a refusal is answered and recorded, with the rule that would allow it */
static void
fwd_refused(struct sshcall *call, const char *dir, const char *dest,
    uint16_t port, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatal(NULL);
	va_end(ap);
	record_send(json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:I, s:s}",
	    "type", "forward", "event", "refused", "session",
	    (json_int_t)call->sessid, "host", call->host->name,
	    "direction", dir, "dest_host", dest, "dest_port",
	    (json_int_t)port, "reason", msg));
	sshcall_text(call, 1, "%s", msg);
	free(msg);
}

/*
 * forward_open: check everything, then either ask the parent for the
 * listening socket (local) or ask the remote sshd to listen (remote).
 */
void
forward_open(struct sshcall *call)
{
	struct sshhost		*host = call->host;
	struct host		*h = host->conf;
	const struct fwdrule	*fr;
	struct fwd		*f, *of;
	json_t			*v;
	const char		*dirs, *dest, *laddr = NULL;
	char			*rules;
	long long		 port, lport = 0;
	int			 dir, persist = 0, nsess = 0, nhost = 0;

	/* the frontend checked; check again all the same */
	if ((h->caps & CAP_FORWARD) == 0) {
		sshcall_text(call, 1, "host \"%s\" does not allow forward",
		    host->name);
		return;
	}
	v = json_object_get(call->args, "direction");
	dirs = json_is_string(v) ? json_string_value(v) : "";
	if (strcmp(dirs, "local") == 0)
		dir = FWD_TO;
	else if (strcmp(dirs, "remote") == 0)
		dir = FWD_FROM_REMOTE;
	else {
		sshcall_text(call, 1, "forward_open: direction must be"
		    " \"local\" (listen here, connect from the host) or"
		    " \"remote\" (listen on the host, connect from here)");
		return;
	}
	v = json_object_get(call->args, "dest_host");
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) >= HOST_ADDR_LEN ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		sshcall_text(call, 1, "forward_open: dest_host must be a"
		    " host name or address of at most %d bytes",
		    HOST_ADDR_LEN - 1);
		return;
	}
	dest = json_string_value(v);
	v = json_object_get(call->args, "dest_port");
	if (!json_is_integer(v) || (port = json_integer_value(v)) < 1 ||
	    port > 65535) {
		sshcall_text(call, 1, "forward_open: dest_port must be an"
		    " integer from 1 to 65535");
		return;
	}
	if ((v = json_object_get(call->args, "listen_port")) != NULL &&
	    (!json_is_integer(v) || (lport = json_integer_value(v)) < 0 ||
	    lport > 65535)) {
		sshcall_text(call, 1, "forward_open: listen_port must be an"
		    " integer from 0 (any free port) to 65535");
		return;
	}
	if ((v = json_object_get(call->args, "listen_address")) != NULL) {
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) >= HOST_ADDR_LEN ||
		    strlen(json_string_value(v)) != json_string_length(v)) {
			sshcall_text(call, 1, "forward_open: listen_address"
			    " must be an IP address");
			return;
		}
		laddr = json_string_value(v);
		if (dir == FWD_FROM_REMOTE) {
			sshcall_text(call, 1, "forward_open: listen_address"
			    " is for local forwards; a remote forward always"
			    " listens on the host's loopback");
			return;
		}
	}
	if ((v = json_object_get(call->args, "persist")) != NULL) {
		if (!json_is_boolean(v)) {
			sshcall_text(call, 1, "forward_open: persist must be"
			    " a boolean");
			return;
		}
		persist = json_is_true(v);
	}

	if ((fr = rule_find(h, dir, dest, port)) == NULL) {
		rules = rules_text(h, dir);
		fwd_refused(call, dirs, dest, port, "forward_open: %s port %lld"
		    " is not an allowed %s forward destination of host \"%s\""
		    " (%s%s); add \"forward %s\\\"%s\\\" port %lld\" to its"
		    " host block (bridged.conf line %d)", dest, port, dirs,
		    host->name, rules ? "allowed: " : "no such rules",
		    rules ? rules : "", dir == FWD_TO ? "to " :
		    "from remote to ", dest, port, h->line);
		free(rules);
		return;
	}
	if (laddr != NULL && strcmp(laddr, "127.0.0.1") != 0 &&
	    strcmp(laddr, "::1") != 0 && strcmp(laddr, h->fwd_listen) != 0) {
		fwd_refused(call, dirs, dest, port, "forward_open: host \"%s\""
		    " does not allow listening on %s; only loopback%s%s"
		    " (\"forward listen\" in its host block, bridged.conf"
		    " line %d)", host->name, laddr, h->fwd_listen[0] ?
		    " and " : "", h->fwd_listen, h->line);
		return;
	}
	if (persist && !h->fwd_persist) {
		fwd_refused(call, dirs, dest, port, "forward_open: host \"%s\""
		    " does not allow persistent forwards; add \"forward"
		    " persistent\" to its host block (bridged.conf line %d),"
		    " or open it without persist", host->name, h->line);
		return;
	}
	TAILQ_FOREACH(of, &fwds, entry) {
		if (of->sessid == call->sessid)
			nsess++;
		if (of->host == host)
			nhost++;
	}
	if (nsess >= ssh_conf->limits.forwards_max) {
		fwd_refused(call, dirs, dest, port, "forward_open: this MCP"
		    " session already has %d forward%s open, the limit"
		    " (\"forwards\" in limits); close one with forward_close",
		    nsess, nsess == 1 ? "" : "s");
		return;
	}
	if (nhost >= h->fwd_max) {
		fwd_refused(call, dirs, dest, port, "forward_open: host \"%s\""
		    " already has %d forward%s open, its limit (\"forward"
		    " max\", bridged.conf line %d)", host->name, nhost,
		    nhost == 1 ? "" : "s", h->line);
		return;
	}

	if ((f = calloc(1, sizeof(*f))) == NULL)
		fatal(NULL);
	if (++fwd_nextid == 0)
		fwd_nextid = 1;
	f->id = fwd_nextid;
	f->sessid = call->sessid;
	f->host = host;
	f->dir = dir;
	f->state = FWD_PENDING;
	f->persist = persist;
	f->rule_line = fr->line;
	f->lfd = -1;
	strlcpy(f->dest_host, dest, sizeof(f->dest_host));
	f->dest_port = port;
	strlcpy(f->listen_addr, dir == FWD_TO ? (laddr ? laddr : "127.0.0.1") :
	    FWD_REMOTE_ADDR, sizeof(f->listen_addr));
	f->listen_port = lport;
	TAILQ_INIT(&f->conns);
	TAILQ_INSERT_TAIL(&fwds, f, entry);

	if (dir == FWD_TO)
		fwd_open_local(call, f);
	else
		fwd_open_remote(call, f);
}

static void
fwd_open_local(struct sshcall *call, struct fwd *f)
{
	struct fwd_req	 req;

	memset(&req, 0, sizeof(req));
	req.reqid = f->id;
	req.hostid = f->host->st.hostid;
	strlcpy(req.addr, f->listen_addr, sizeof(req.addr));
	req.port = f->listen_port;
	if (ssh_compose(PROC_PARENT, IMSG_FWD_LISTEN, f->id, -1, &req,
	    sizeof(req)) == -1)
		fatal("%s: compose", __func__);
	f->call = call;
	call->state = f;
	call->cancel = fwd_cancel;
}

static void
fwd_open_remote(struct sshcall *call, struct fwd *f)
{
	ssh_session	 s = f->host->session;
	int		 bound = 0, rc;

	/*
	 * A global request, answered at once by any sshd; blocking, so
	 * bounded by the session's timeout (sshconn.c).
	 */
	rc = ssh_channel_listen_forward(s, FWD_REMOTE_ADDR, f->listen_port,
	    &bound);
	if (rc != SSH_OK) {
		fwd_refused(call, "remote", f->dest_host, f->dest_port,
		    "forward_open: host \"%s\" refused to listen on %s port"
		    " %u: %s (is AllowTcpForwarding enabled in its"
		    " sshd_config, the port free?)", f->host->name,
		    FWD_REMOTE_ADDR, f->listen_port, ssh_get_error(s));
		TAILQ_REMOVE(&fwds, f, entry);
		free(f);
		(void)sshconn_check(call->host);
		return;
	}
	if (f->listen_port == 0) {
		if (bound <= 0 || bound > 65535) {
			sshcall_text(call, 1, "forward_open: host \"%s\" did"
			    " not say which port it listens on; give"
			    " listen_port", f->host->name);
			TAILQ_REMOVE(&fwds, f, entry);
			free(f);
			return;
		}
		f->listen_port = bound;
	}
	f->session = s;
	/* forwarded channels arrive as messages of the session */
	ssh_set_message_callback(s, fwd_message, f->host);
	f->call = call;
	fwd_opened(f);
}

/* the forward is up: record it and answer forward_open */
static void
fwd_opened(struct fwd *f)
{
	struct sshcall	*call = f->call;
	json_t		*o;
	char		 listen[HOST_ADDR_LEN + 16], *t;

	f->state = FWD_ACTIVE;
	f->since = time(NULL);
	clock_gettime(CLOCK_MONOTONIC, &f->start);
	f->call = NULL;
	fwd_record(f, "open", NULL);
	log_info("forward %u (session %u, host \"%s\"): %s %s:%u -> %s:%u",
	    f->id, f->sessid, f->host->name, dir_name(f->dir),
	    f->listen_addr, f->listen_port, f->dest_host, f->dest_port);
	if (call == NULL)
		return;
	call->state = NULL;
	call->cancel = NULL;
	snprintf(listen, sizeof(listen), "%s%s%s:%u",
	    strchr(f->listen_addr, ':') ? "[" : "", f->listen_addr,
	    strchr(f->listen_addr, ':') ? "]" : "", f->listen_port);
	if (asprintf(&t, "forward %u open (%s): connections to %s%s reach"
	    " %s:%u %s; %s.  Close it with forward_close {\"id\": %u}.",
	    f->id, dir_name(f->dir), listen, f->dir == FWD_TO ? "" :
	    " on the host", f->dest_host, f->dest_port, f->dir == FWD_TO ?
	    "as seen from the host" : "on this machine", f->persist ?
	    "it stays open after this MCP session ends" : "it closes when"
	    " this MCP session ends", f->id) == -1)
		fatal(NULL);
	o = json_pack("{s:[{s:s, s:s}], s:o, s:b}", "content", "type", "text",
	    "text", t, "structuredContent", fwd_json(f), "isError", 0);
	free(t);
	if (o == NULL)
		fatalx("%s: json", __func__);
	sshcall_result(call, o);
}

/* forward_open cancelled while the parent was making the socket */
static void
fwd_cancel(struct sshcall *call)
{
	struct fwd	*f = call->state;

	call->state = NULL;
	call->cancel = NULL;
	f->call = NULL;
	TAILQ_REMOVE(&fwds, f, entry);
	free(f);
	sshcall_text(call, 1, "forward_open cancelled");
}

/* IMSG_FWD_LISTENFD: the listening socket of a local forward */
void
forward_listenfd(struct imsg *imsg)
{
	struct fwd_reply	 r;
	struct fwd		*f;
	struct sshcall		*call;
	int			 fd = imsg->fd;

	imsg->fd = -1;
	if (imsg->datalen != sizeof(r))
		fatalx("bad IMSG_FWD_LISTENFD size %zu", imsg->datalen);
	memcpy(&r, imsg->data, sizeof(r));
	r.errmsg[sizeof(r.errmsg) - 1] = '\0';
	if ((f = fwd_byid(r.reqid)) == NULL || f->state != FWD_PENDING) {
		/* cancelled meanwhile */
		if (fd != -1)
			close(fd);
		return;
	}
	if (r.error != 0 || fd == -1) {
		if (fd != -1)
			close(fd);
		call = f->call;
		TAILQ_REMOVE(&fwds, f, entry);
		if (call != NULL) {
			call->state = NULL;
			call->cancel = NULL;
			fwd_refused(call, "local", f->dest_host, f->dest_port,
			    "forward_open: %s", r.errmsg[0] ? r.errmsg :
			    "the parent could not listen");
		}
		free(f);
		return;
	}
	f->lfd = fd;
	f->listen_port = r.port;
	event_set(&f->ev_accept, fd, EV_READ | EV_PERSIST, fwd_accept, f);
	event_add(&f->ev_accept, NULL);
	f->accept_on = 1;
	fwd_opened(f);
}

/* a connection to a local forward's socket: open a channel for it */
static void
fwd_accept(int fd, short event, void *arg)
{
	struct fwd		*f = arg;
	struct fconn		*fc;
	struct sockaddr_storage	 ss;
	socklen_t		 slen = sizeof(ss);
	char			 addr[INET6_ADDRSTRLEN], peer[sizeof(fc->peer)];
	int			 s, pport = 0;

	if ((s = accept4(fd, (struct sockaddr *)&ss, &slen, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) == -1) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("forward %u: accept", f->id);
		return;
	}
	addr[0] = '\0';
	if (ss.ss_family == AF_INET) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr,
		    addr, sizeof(addr));
		pport = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr,
		    addr, sizeof(addr));
		pport = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	snprintf(peer, sizeof(peer), "%s:%d", addr[0] ? addr : "?", pport);
	if (f->host->session == NULL || f->nactive >=
	    (uint32_t)f->host->conf->fwd_conns_max) {
		f->nrefused++;
		record_send(json_pack("{s:s, s:I, s:I, s:s, s:s, s:s}",
		    "type", "forward_conn", "forward", (json_int_t)f->id,
		    "session", (json_int_t)f->sessid, "host", f->host->name,
		    "peer", peer, "end", f->host->session == NULL ?
		    "refused: host not connected" :
		    "refused: connection limit (forward connections)"));
		log_info("forward %u: connection from %s refused: %s", f->id,
		    peer, f->host->session == NULL ? "host not connected" :
		    "connection limit");
		close(s);
		return;
	}
	fc = conn_new(f, s, peer);
	if ((fc->ch = ssh_channel_new(f->host->session)) == NULL) {
		conn_free(fc, "cannot make a channel");
		return;
	}
	conn_start(fc);
	fc->state = CONN_OPENING;
	conn_try_open(fc);
}

static struct fconn *
conn_new(struct fwd *f, int fd, const char *peer)
{
	struct fconn	*fc;
	struct timeval	 tv = { FWD_OPEN_TIMEOUT, 0 };

	if ((fc = calloc(1, sizeof(*fc))) == NULL)
		fatal(NULL);
	if (++conn_nextid == 0)
		conn_nextid = 1;
	fc->id = conn_nextid;
	fc->fwd = f;
	fc->fd = fd;
	strlcpy(fc->peer, peer, sizeof(fc->peer));
	if ((fc->tolocal = evbuffer_new()) == NULL ||
	    (fc->toremote = evbuffer_new()) == NULL)
		fatal(NULL);
	clock_gettime(CLOCK_MONOTONIC, &fc->start);
	evtimer_set(&fc->ev_step, conn_step, fc);
	evtimer_set(&fc->ev_timeout, conn_timeout, fc);
	evtimer_add(&fc->ev_timeout, &tv);
	f->nactive++;
	f->ntotal++;
	f->host->st.channels++;
	TAILQ_INSERT_TAIL(&f->conns, fc, entry);
	return fc;
}

/* callbacks on the channel; the local socket's events once it is there */
static void
conn_start(struct fconn *fc)
{
	memset(&fc->cb, 0, sizeof(fc->cb));
	ssh_callbacks_init(&fc->cb);
	fc->cb.userdata = fc;
	fc->cb.channel_data_function = cb_data;
	fc->cb.channel_eof_function = cb_eof;
	fc->cb.channel_close_function = cb_close;
	fc->cb.channel_write_wontblock_function = cb_wontblock;
	ssh_set_channel_callbacks(fc->ch, &fc->cb);
}

static void
conn_fdready(struct fconn *fc)
{
	event_set(&fc->ev_read, fc->fd, EV_READ | EV_PERSIST, conn_readable,
	    fc);
	event_set(&fc->ev_write, fc->fd, EV_WRITE | EV_PERSIST,
	    conn_writable, fc);
}

/* local: (re)try the non-blocking direct-tcpip open */
static void
conn_try_open(struct fconn *fc)
{
	struct fwd	*f = fc->fwd;
	ssh_session	 s = f->host->session;
	char		 addr[HOST_ADDR_LEN], *p;
	int		 was, rc, pport = 0;

	strlcpy(addr, fc->peer, sizeof(addr));
	if ((p = strrchr(addr, ':')) != NULL) {
		*p = '\0';
		pport = atoi(p + 1);
	}
	was = nb_begin(s);
	rc = ssh_channel_open_forward(fc->ch, f->dest_host, f->dest_port,
	    addr, pport);
	nb_end(s, was);
	sshconn_want_write(f->host);
	if (rc == SSH_AGAIN) {
		conn_recheck(fc);
		return;
	}
	if (rc != SSH_OK) {
		log_info("forward %u: %s:%u from %s: the host refused the"
		    " channel: %s", f->id, f->dest_host, f->dest_port,
		    fc->peer, ssh_get_error(s));
		conn_free(fc, "refused by the host (destination unreachable"
		    " or forwarding not allowed)");
		return;
	}
	evtimer_del(&fc->ev_timeout);
	fc->state = CONN_OPEN;
	conn_fdready(fc);
	conn_set_read(fc, 1);
	conn_sched(fc);
}

static void
conn_timeout(int fd, short event, void *arg)
{
	struct fconn	*fc = arg;

	if (fc->state != CONN_OPEN)
		conn_free(fc, "timed out opening");
}

/* the ssh worker processed packets of host: channels being opened */
void
forward_poll(struct sshhost *host)
{
	struct fwd	*f, *nf;
	struct fconn	*fc, *nfc;

	TAILQ_FOREACH_SAFE(f, &fwds, entry, nf) {
		if (f->host != host)
			continue;
		TAILQ_FOREACH_SAFE(fc, &f->conns, entry, nfc) {
			if (fc->state == CONN_OPENING)
				conn_try_open(fc);
			else if (fc->win_wait && fc->ch != NULL &&
			    ssh_channel_window_size(fc->ch) > 0) {
				/* a window adjust came in: libssh tells no one */
				fc->win_wait = 0;
				conn_sched(fc);
			}
		}
	}
}

/*
 * Remote: the sshd opens a forwarded-tcpip channel for a connection to
 * the port it listens on.  1: not ours, libssh refuses it.
 */
static int
fwd_message(ssh_session s, ssh_message msg, void *arg)
{
	struct sshhost	*host = arg;
	struct fwd	*f;
	struct fconn	*fc;
	struct fwd_req	 req;
	ssh_channel	 ch;
	char		 peer[HOST_ADDR_LEN + 8];
	const char	*orig;
	int		 port;

	if (ssh_message_type(msg) != SSH_REQUEST_CHANNEL_OPEN ||
	    ssh_message_subtype(msg) != SSH_CHANNEL_FORWARDED_TCPIP)
		return 1;
	port = ssh_message_channel_request_open_destination_port(msg);
	TAILQ_FOREACH(f, &fwds, entry)
		if (f->host == host && f->dir == FWD_FROM_REMOTE &&
		    f->session == s && f->state == FWD_ACTIVE &&
		    f->listen_port == port)
			break;
	if (f == NULL)
		return 1;
	orig = ssh_message_channel_request_open_originator(msg);
	snprintf(peer, sizeof(peer), "%s:%d", orig ? orig : "?",
	    ssh_message_channel_request_open_originator_port(msg));
	if (f->nactive >= (uint32_t)host->conf->fwd_conns_max) {
		f->nrefused++;
		record_send(json_pack("{s:s, s:I, s:I, s:s, s:s, s:s}",
		    "type", "forward_conn", "forward", (json_int_t)f->id,
		    "session", (json_int_t)f->sessid, "host", host->name,
		    "peer", peer, "end",
		    "refused: connection limit (forward connections)"));
		return 1;
	}
	if ((ch = ssh_message_channel_request_open_reply_accept(msg)) == NULL)
		return 0;
	fc = conn_new(f, -1, peer);
	fc->ch = ch;
	fc->state = CONN_WAITFD;
	conn_start(fc);
	memset(&req, 0, sizeof(req));
	req.reqid = fc->id;
	req.hostid = host->st.hostid;
	strlcpy(req.addr, f->dest_host, sizeof(req.addr));
	req.port = f->dest_port;
	if (ssh_compose(PROC_PARENT, IMSG_FWD_CONNECT, fc->id, -1, &req,
	    sizeof(req)) == -1)
		fatal("%s: compose", __func__);
	return 0;
}

/* IMSG_FWD_CONNECTED: the local end of a reverse-forwarded channel */
void
forward_connected(struct imsg *imsg)
{
	struct fwd_reply	 r;
	struct fwd		*f;
	struct fconn		*fc = NULL;
	char			 why[300];
	int			 fd = imsg->fd;

	imsg->fd = -1;
	if (imsg->datalen != sizeof(r))
		fatalx("bad IMSG_FWD_CONNECTED size %zu", imsg->datalen);
	memcpy(&r, imsg->data, sizeof(r));
	r.errmsg[sizeof(r.errmsg) - 1] = '\0';
	TAILQ_FOREACH(f, &fwds, entry) {
		TAILQ_FOREACH(fc, &f->conns, entry)
			if (fc->id == r.reqid)
				break;
		if (fc != NULL)
			break;
	}
	if (fc == NULL || fc->state != CONN_WAITFD) {
		if (fd != -1)
			close(fd);
		return;
	}
	if (r.error != 0 || fd == -1) {
		if (fd != -1)
			close(fd);
		snprintf(why, sizeof(why), "local connect failed: %s",
		    r.errmsg);
		log_info("forward %u: %s", fc->fwd->id, why);
		conn_free(fc, why);
		return;
	}
	evtimer_del(&fc->ev_timeout);
	fc->fd = fd;
	fc->state = CONN_OPEN;
	conn_fdready(fc);
	conn_set_read(fc, 1);
	conn_sched(fc);
}

static void
conn_set_read(struct fconn *fc, int on)
{
	if (fc->fd == -1 || on == fc->rd_on)
		return;
	if (on)
		event_add(&fc->ev_read, NULL);
	else
		event_del(&fc->ev_read);
	fc->rd_on = on;
}

static void
conn_set_write(struct fconn *fc, int on)
{
	if (fc->fd == -1 || on == fc->wr_on)
		return;
	if (on)
		event_add(&fc->ev_write, NULL);
	else
		event_del(&fc->ev_write);
	fc->wr_on = on;
}

static void
conn_sched(struct fconn *fc)
{
	struct timeval	 tv = { 0, 0 };

	evtimer_add(&fc->ev_step, &tv);
}

static void
conn_recheck(struct fconn *fc)
{
	struct timeval	 tv = { 0, FWD_RECHECK_MS * 1000 };

	if (!evtimer_pending(&fc->ev_step, NULL))
		evtimer_add(&fc->ev_step, &tv);
}

/* channel callbacks: they may run inside any libssh call; queue, flag */
static int
cb_data(ssh_session s, ssh_channel ch, void *data, uint32_t len,
    int is_stderr, void *arg)
{
	struct fconn	*fc = arg;

	if (is_stderr)
		return len;
	if (evbuffer_get_length(fc->tolocal) >= FWD_HIWAT) {
		fc->ch_pending = 1;
		return 0;
	}
	if (evbuffer_add(fc->tolocal, data, len) == -1)
		fatal(NULL);
	fc->ch_pending = 0;
	fc->received += len;
	fc->fwd->received += len;
	conn_sched(fc);
	return len;
}

static void
cb_eof(ssh_session s, ssh_channel ch, void *arg)
{
	struct fconn	*fc = arg;

	fc->remote_eof = 1;
	conn_sched(fc);
}

static void
cb_close(ssh_session s, ssh_channel ch, void *arg)
{
	struct fconn	*fc = arg;

	fc->remote_eof = 1;
	fc->remote_closed = 1;
	conn_sched(fc);
}

static int
cb_wontblock(ssh_session s, ssh_channel ch, uint32_t bytes, void *arg)
{
	conn_sched(arg);
	return 0;
}

/* local -> ssh: what the window takes of what was read; -1: fc is gone */
static int
conn_flush_remote(struct fconn *fc)
{
	struct fwd	*f = fc->fwd;
	ssh_session	 s = f->host->session;
	size_t		 len;
	uint32_t	 win;
	int		 was, n;

	if (s == NULL)
		return 0;
	was = nb_begin(s);
	while ((len = evbuffer_get_length(fc->toremote)) > 0 &&
	    (win = ssh_channel_window_size(fc->ch)) > 0) {
		if (len > win)
			len = win;
		if (len > FWD_CHUNK)
			len = FWD_CHUNK;
		n = ssh_channel_write(fc->ch, evbuffer_pullup(fc->toremote,
		    len), len);
		if (n == SSH_ERROR) {
			nb_end(s, was);
			conn_free(fc, "write to the channel failed");
			return -1;
		}
		if (n <= 0)
			break;
		evbuffer_drain(fc->toremote, n);
		fc->sent += n;
		f->sent += n;
	}
	if (evbuffer_get_length(fc->toremote) > 0) {
		fc->win_wait = 1;
		conn_recheck(fc);
	}
	if (evbuffer_get_length(fc->toremote) == 0 && fc->local_eof &&
	    !fc->eof_sent && !fc->remote_closed) {
		(void)ssh_channel_send_eof(fc->ch);
		fc->eof_sent = 1;
	}
	nb_end(s, was);
	sshconn_want_write(f->host);
	return 0;
}

static void
conn_readable(int fd, short event, void *arg)
{
	struct fconn	*fc = arg;
	uint32_t	 win;
	size_t		 want;
	int		 n;

	if (evbuffer_get_length(fc->toremote) > 0 || fc->ch == NULL ||
	    (win = ssh_channel_window_size(fc->ch)) == 0) {
		/* the window is shut: forward_poll sees it open again */
		fc->win_wait = 1;
		conn_set_read(fc, 0);
		conn_recheck(fc);
		return;
	}
	want = win < FWD_CHUNK ? win : FWD_CHUNK;
	n = evbuffer_read(fc->toremote, fd, want);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		conn_free(fc, "read error on the local socket");
		return;
	}
	if (n == 0) {
		fc->local_eof = 1;
		conn_set_read(fc, 0);
	}
	conn_flush_remote(fc);
	/* conn_flush_remote may have freed fc: it is scheduled otherwise */
}

static void
conn_writable(int fd, short event, void *arg)
{
	conn_step(fd, event, arg);
}

/*
 * The state machine, from the event loop: move what is queued, pull what
 * libssh kept back, pass EOFs on, end the connection when it is done.
 */
static void
conn_step(int fd, short event, void *arg)
{
	struct fconn	*fc = arg;
	ssh_session	 s = fc->fwd->host->session;
	static char	 buf[FWD_CHUNK];
	int		 n, was;

	if (fc->state != CONN_OPEN) {
		if (fc->remote_closed)
			conn_free(fc, "closed by the host");
		else if (fc->state == CONN_OPENING)
			conn_try_open(fc);
		return;
	}
	for (;;) {
		while (evbuffer_get_length(fc->tolocal) > 0 && !fc->shut_wr) {
			n = evbuffer_write(fc->tolocal, fc->fd);
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				break;
			if (n <= 0) {
				conn_free(fc, "the local side went away");
				return;
			}
		}
		if (evbuffer_get_length(fc->tolocal) > 0 || !fc->ch_pending ||
		    s == NULL)
			break;
		/* the local side took it all: now what libssh kept */
		was = nb_begin(s);
		n = ssh_channel_read_nonblocking(fc->ch, buf, sizeof(buf), 0);
		nb_end(s, was);
		if (n <= 0) {
			fc->ch_pending = 0;
			break;
		}
		if (evbuffer_add(fc->tolocal, buf, n) == -1)
			fatal(NULL);
		fc->received += n;
		fc->fwd->received += n;
		if ((size_t)n < sizeof(buf))
			fc->ch_pending = 0;
		sshconn_want_write(fc->fwd->host);
	}
	conn_set_write(fc, evbuffer_get_length(fc->tolocal) > 0);

	if (evbuffer_get_length(fc->toremote) > 0 &&
	    conn_flush_remote(fc) == -1)
		return;
	if (!fc->local_eof && !fc->remote_closed && fc->ch != NULL &&
	    evbuffer_get_length(fc->toremote) == 0) {
		if (ssh_channel_window_size(fc->ch) > 0) {
			fc->win_wait = 0;
			conn_set_read(fc, 1);
		} else {
			fc->win_wait = 1;
			conn_recheck(fc);
		}
	}

	if (fc->remote_eof && evbuffer_get_length(fc->tolocal) == 0 &&
	    !fc->ch_pending && !fc->shut_wr) {
		(void)shutdown(fc->fd, SHUT_WR);
		fc->shut_wr = 1;
	}
	if (fc->shut_wr && (fc->remote_closed || fc->eof_sent))
		conn_free(fc, "closed");
}

/* end a connection: the channel is closed, the record written */
static void
conn_free(struct fconn *fc, const char *why)
{
	struct fwd	*f = fc->fwd;
	ssh_session	 s = f->host->session;
	int		 was;

	evtimer_del(&fc->ev_step);
	evtimer_del(&fc->ev_timeout);
	conn_set_read(fc, 0);
	conn_set_write(fc, 0);
	if (fc->ch != NULL) {
		ssh_remove_channel_callbacks(fc->ch, &fc->cb);
		if (s != NULL) {
			was = nb_begin(s);
			ssh_channel_free(fc->ch);
			nb_end(s, was);
			sshconn_want_write(f->host);
		}
		fc->ch = NULL;
	}
	if (fc->fd != -1)
		close(fc->fd);
	record_send(json_pack("{s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:I, s:I,"
	    " s:I, s:s}", "type", "forward_conn", "forward", (json_int_t)f->id,
	    "conn", (json_int_t)fc->id, "session", (json_int_t)f->sessid,
	    "host", f->host->name, "direction", dir_name(f->dir),
	    "peer", fc->peer, "bytes_sent", (json_int_t)fc->sent,
	    "bytes_received", (json_int_t)fc->received,
	    "duration_ms", (json_int_t)ms_since(&fc->start), "end", why));
	log_debug("forward %u: connection %u from %s ended (%s): %llu bytes"
	    " sent, %llu received", f->id, fc->id, fc->peer, why,
	    (unsigned long long)fc->sent, (unsigned long long)fc->received);
	evbuffer_free(fc->tolocal);
	evbuffer_free(fc->toremote);
	TAILQ_REMOVE(&f->conns, fc, entry);
	f->nactive--;
	if (f->host->st.channels > 0)
		f->host->st.channels--;
	free(fc);
}

static void
fwd_record(struct fwd *f, const char *event, const char *why)
{
	json_t	*r;

	r = json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:I, s:s, s:I,"
	    " s:b, s:s}", "type", "forward", "event", event,
	    "id", (json_int_t)f->id, "session", (json_int_t)f->sessid,
	    "host", f->host->name, "direction", dir_name(f->dir),
	    "listen_address", f->listen_addr,
	    "listen_port", (json_int_t)f->listen_port,
	    "dest_host", f->dest_host, "dest_port", (json_int_t)f->dest_port,
	    "persistent", f->persist, "rule", "");
	if (r == NULL)
		return;
	json_object_set_new(r, "rule", json_pack("{s:s, s:s, s:I, s:i}",
	    "kind", f->dir == FWD_TO ? "forward to" :
	    "forward from remote to", "host", f->dest_host,
	    "port", (json_int_t)f->dest_port, "line", f->rule_line));
	if (why != NULL) {
		json_object_set_new(r, "reason", json_string(why));
		json_object_set_new(r, "connections",
		    json_integer(f->ntotal));
		json_object_set_new(r, "refused", json_integer(f->nrefused));
		json_object_set_new(r, "bytes_sent", json_integer(f->sent));
		json_object_set_new(r, "bytes_received",
		    json_integer(f->received));
		json_object_set_new(r, "duration_ms",
		    json_integer(ms_since(&f->start)));
	}
	record_send(r);
}

/* close a forward and every connection on it; lost: the session is gone */
static void
fwd_close(struct fwd *f, const char *why, int lost)
{
	struct fconn	*fc;
	struct sshcall	*call;
	ssh_session	 s = f->host->session;
	char		 msg[128];

	if ((call = f->call) != NULL) {
		f->call = NULL;
		call->state = NULL;
		call->cancel = NULL;
		sshcall_text(call, 1, "forward_open: the forward was closed"
		    " before it was ready: %s", why);
	}
	snprintf(msg, sizeof(msg), "forward closed: %s", why);
	while ((fc = TAILQ_FIRST(&f->conns)) != NULL)
		conn_free(fc, msg);
	if (f->accept_on)
		event_del(&f->ev_accept);
	if (f->lfd != -1)
		close(f->lfd);
	if (f->dir == FWD_FROM_REMOTE && f->state == FWD_ACTIVE && !lost &&
	    s != NULL && s == f->session) {
		/* a global request; bounded by the session's timeout */
		if (ssh_channel_cancel_forward(s, FWD_REMOTE_ADDR,
		    f->listen_port) != SSH_OK)
			log_warnx("forward %u: cancel on host \"%s\": %s",
			    f->id, f->host->name, ssh_get_error(s));
	}
	if (f->state == FWD_ACTIVE) {
		fwd_record(f, "close", why);
		log_info("forward %u (host \"%s\") closed: %s", f->id,
		    f->host->name, why);
	}
	TAILQ_REMOVE(&fwds, f, entry);
	free(f);
}

/* the MCP session ended: its forwards go, unless persistent */
void
forward_session_end(uint32_t sessid)
{
	struct fwd	*f, *nf;

	TAILQ_FOREACH_SAFE(f, &fwds, entry, nf)
		if (f->sessid == sessid && !f->persist)
			fwd_close(f, "the MCP session ended", 0);
}

/* the connection to the host died or is being closed */
void
forward_host_lost(struct sshhost *host)
{
	struct fwd	*f, *nf;

	TAILQ_FOREACH_SAFE(f, &fwds, entry, nf)
		if (f->host == host)
			fwd_close(f, "the connection to the host was lost", 1);
}

static json_t *
fwd_json(struct fwd *f)
{
	json_t	*o;
	char	 listen[HOST_ADDR_LEN + 16], dest[HOST_ADDR_LEN + 16];

	snprintf(listen, sizeof(listen), "%s%s%s:%u",
	    strchr(f->listen_addr, ':') ? "[" : "", f->listen_addr,
	    strchr(f->listen_addr, ':') ? "]" : "", f->listen_port);
	snprintf(dest, sizeof(dest), "%s%s%s:%u",
	    strchr(f->dest_host, ':') ? "[" : "", f->dest_host,
	    strchr(f->dest_host, ':') ? "]" : "", f->dest_port);
	o = json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:I,"
	    " s:b, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:i}",
	    "id", (json_int_t)f->id, "session", (json_int_t)f->sessid,
	    "host", f->host->name, "direction", dir_name(f->dir),
	    "listen", listen, "destination", dest,
	    "listen_address", f->listen_addr,
	    "listen_port", (json_int_t)f->listen_port,
	    "dest_host", f->dest_host, "dest_port", (json_int_t)f->dest_port,
	    "persistent", f->persist,
	    "state", f->state == FWD_ACTIVE ? "active" : "opening",
	    "active", (json_int_t)f->nactive, "total", (json_int_t)f->ntotal,
	    "refused", (json_int_t)f->nrefused,
	    "bytes_sent", (json_int_t)f->sent,
	    "bytes_received", (json_int_t)f->received,
	    "since", (json_int_t)f->since, "rule_line", f->rule_line);
	if (o == NULL)
		fatalx("%s: json", __func__);
	return o;
}

/* forward_list: this session's forwards, or all with "forward list all" */
void
forward_list(struct sshcall *call)
{
	struct fwd	*f;
	char		*text = NULL;
	json_t		*arr, *o;
	int		 all = ssh_conf->fwd_list_all, n = 0;
	int		 onehost = json_object_get(call->args, "host") != NULL;

	if ((arr = json_array()) == NULL)
		fatal(NULL);
	TAILQ_FOREACH(f, &fwds, entry) {
		if (!all && f->sessid != call->sessid)
			continue;
		if (onehost && f->host != call->host)
			continue;
		json_array_append_new(arr, fwd_json(f));
		appendf(&text, "%u  %s  %s  %s:%u -> %s:%u  session %u%s  %u"
		    " active, %u total, %llu bytes sent, %llu received\n",
		    f->id, f->host->name, dir_name(f->dir), f->listen_addr,
		    f->listen_port, f->dest_host, f->dest_port, f->sessid,
		    f->persist ? " (persistent)" : "", f->nactive, f->ntotal,
		    (unsigned long long)f->sent,
		    (unsigned long long)f->received);
		n++;
	}
	if (n == 0)
		appendf(&text, "no forwards open%s\n", all ? "" :
		    " in this MCP session");
	o = json_pack("{s:[{s:s, s:s}], s:{s:o}, s:b}", "content", "type",
	    "text", "text", text, "structuredContent", "forwards", arr,
	    "isError", 0);
	free(text);
	if (o == NULL)
		fatalx("%s: json", __func__);
	sshcall_result(call, o);
}

/* forward_close: one of this session's forwards (any, with list all) */
void
forward_close(struct sshcall *call)
{
	struct fwd	*f;
	json_t		*v;
	long long	 id;
	char		 why[64];

	v = json_object_get(call->args, "id");
	if (!json_is_integer(v) || (id = json_integer_value(v)) < 1 ||
	    id > UINT32_MAX) {
		sshcall_text(call, 1, "forward_close: id must be the forward"
		    " id forward_open returned (see forward_list)");
		return;
	}
	if ((f = fwd_byid(id)) == NULL || (f->sessid != call->sessid &&
	    !ssh_conf->fwd_list_all)) {
		sshcall_text(call, 1, "forward_close: no forward %lld in this"
		    " MCP session; forward_list shows the open ones", id);
		return;
	}
	snprintf(why, sizeof(why), "closed by forward_close (session %u)",
	    call->sessid);
	fwd_close(f, why, 0);
	sshcall_text(call, 0, "forward %lld closed", id);
}

/* forward_list and forward_close work on our table, not on the host */
int
forward_noconnect(const char *tool)
{
	return strcmp(tool, "forward_list") == 0 ||
	    strcmp(tool, "forward_close") == 0;
}

/* bridgectl show forwards: one JSON object each, then IMSG_SSH_END */
void
forward_ctl_list(uint32_t peerid)
{
	struct fwd	*f;
	json_t		*o;
	char		*s;

	TAILQ_FOREACH(f, &fwds, entry) {
		o = fwd_json(f);
		s = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		if (s == NULL)
			fatal(NULL);
		if (ssh_compose(PROC_FRONTEND, IMSG_SSH_FWD_INFO, peerid, -1,
		    s, strlen(s)) == -1)
			fatal("%s: compose", __func__);
		free(s);
	}
	if (ssh_compose(PROC_FRONTEND, IMSG_SSH_END, peerid, -1, NULL, 0) ==
	    -1)
		fatal("%s: compose", __func__);
}

/* bridgectl close forward ID */
void
forward_ctl_close(uint32_t peerid, struct imsg *imsg)
{
	struct fwd_closereq	 req;
	struct fwd		*f;
	char			 msg[128], out[sizeof(int32_t) + 128];
	int32_t			 status;

	if (imsg->datalen != sizeof(req))
		fatalx("bad IMSG_SSH_FWD_CLOSE size %zu", imsg->datalen);
	memcpy(&req, imsg->data, sizeof(req));
	if ((f = fwd_byid(req.id)) == NULL) {
		status = -1;
		snprintf(msg, sizeof(msg), "no forward %u", req.id);
	} else {
		status = 0;
		snprintf(msg, sizeof(msg), "closed by bridgectl (uid %d pid"
		    " %d)", (int)req.uid, (int)req.pid);
		fwd_close(f, msg, 0);
		snprintf(msg, sizeof(msg), "forward %u closed", req.id);
	}
	memcpy(out, &status, sizeof(status));
	memcpy(out + sizeof(status), msg, strlen(msg));
	if (ssh_compose(PROC_FRONTEND, IMSG_SSH_FWD_CLOSED, peerid, -1, out,
	    sizeof(status) + strlen(msg)) == -1)
		fatal("%s: compose", __func__);
}
