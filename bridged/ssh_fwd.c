/*
 * ssh_fwd.c: SSH port forwards in the ssh worker (forward_open,
 * forward_list, forward_close, bridgectl show forwards / close forward):
 * the checks and limits, the table of forwards, their records, and
 * their end with the MCP session or the connection.
 *
 * local:  the parent binds a listening socket (IMSG_FWD_LISTEN) and
 *	   hands it over; each connection accepted on it becomes a
 *	   direct-tcpip channel to the destination on the host's side.
 * remote: the remote sshd listens on its loopback (tcpip-forward); each
 *	   forwarded-tcpip channel it opens is joined to a local connection
 *	   the parent makes (IMSG_FWD_CONNECT) to a destination a
 *	   "forward from remote to" rule allows.
 *
 * A forward lives on one connection of the host's pool (its first when
 * it was opened) and goes with it.  The connections themselves are
 * ssh_fwdconn.c's, and how bytes move on them without ever blocking the
 * worker ssh_pump.c's.
 */

#include <sys/types.h>
#include <sys/queue.h>

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
#include <libssh/server.h>

#include "bridged.h"
#include "imsg.h"
#include "log.h"
#include "ssh.h"
#include "ssh_fwd.h"

static void	 fwd_open_local(struct sshcall *, struct fwd *);
static void	 fwd_open_remote(struct sshcall *, struct fwd *);
static void	 fwd_opened(struct fwd *);
static void	 fwd_cancel(struct sshcall *);
static struct fwd *fwd_byid(uint32_t);
static void	 fwd_refused(struct sshcall *, const char *, const char *,
		    uint16_t, const char *, ...)
		    __attribute__((__format__ (printf, 5, 6)));
static void	 hostport(char *, size_t, const char *, uint16_t);
static const struct fwdrule *rule_find(struct host *, int, const char *,
		    uint16_t, uint16_t);
static char	*rules_text(struct host *, int);

struct fwdlist		 fwds = TAILQ_HEAD_INITIALIZER(fwds);
static uint32_t		 fwd_nextid;

uint32_t
fwd_newid(void)
{
	return ssh_newid(&fwd_nextid);
}

long long
fwd_ms_since(const struct timespec *t)
{
	struct timespec	 now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(now.tv_sec - t->tv_sec) * 1000 +
	    (now.tv_nsec - t->tv_nsec) / 1000000;
}

void
fwd_record_send(json_t *r)
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

int
fwd_reply_get(struct imsg *imsg, struct fwd_reply *r, const char *what)
{
	int	 fd = imsg->fd;

	imsg->fd = -1;
	if (imsg->datalen != sizeof(*r))
		fatalx("bad %s size %zu", what, imsg->datalen);
	memcpy(r, imsg->data, sizeof(*r));
	r->errmsg[sizeof(r->errmsg) - 1] = '\0';
	return fd;
}

const char *
fwd_dir_name(int dir)
{
	return dir == FWD_TO ? "local" : "remote";
}

/* "addr:port", an IPv6 address in brackets */
static void
hostport(char *buf, size_t len, const char *addr, uint16_t port)
{
	snprintf(buf, len, "%s%s%s:%u", strchr(addr, ':') ? "[" : "", addr,
	    strchr(addr, ':') ? "]" : "", port);
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
rule_find(struct host *h, int dir, const char *dest, uint16_t port,
    uint16_t lport)
{
	const struct fwdrule	*fr;

	/* below FWD_PRIVPORT, the rule must name the listen port itself */
	TAILQ_FOREACH(fr, &h->fwdrules, entry)
		if (fr->dir == dir && fr->port == port &&
		    strcasecmp(fr->host, dest) == 0 &&
		    (lport == 0 || lport >= FWD_PRIVPORT ||
		    fr->listen_port == lport))
			return fr;
	return NULL;
}

/* "\"127.0.0.1\" port 5432 (line 12), ..." or NULL when there are none */
static char *
rules_text(struct host *h, int dir)
{
	const struct fwdrule	*fr;
	struct sbuf		 sb = { 0 };

	TAILQ_FOREACH(fr, &h->fwdrules, entry) {
		if (fr->dir != dir)
			continue;
		sb_printf(&sb, "%s\"%s\" port %u (line %d)", sb.p ? ", " : "",
		    fr->host, fr->port, fr->line);
	}
	return sb.p;
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
	fwd_record_send(json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:I, s:s}",
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

	if ((fr = rule_find(h, dir, dest, port, lport)) == NULL &&
	    (fr = rule_find(h, dir, dest, port, 0)) != NULL) {
		fwd_refused(call, dirs, dest, port, "forward_open: listen_port"
		    " %lld is a privileged port (below %d); a %s forward of"
		    " host \"%s\" listens on one only when its rule names it:"
		    " \"forward %s\\\"%s\\\" port %lld listen port %lld\""
		    " (the rule is on bridged.conf line %d); or leave"
		    " listen_port out for a free port", lport, FWD_PRIVPORT,
		    dirs, host->name, dir == FWD_TO ? "to " :
		    "from remote to ", dest, port, lport, fr->line);
		return;
	}
	if (fr == NULL) {
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
		if (of->host == host && !of->publish)
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

	if (sshconn_any(host) == NULL) {
		sshcall_text(call, 1, "forward_open: host \"%s\" is not"
		    " connected", host->name);
		return;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL)
		fatal(NULL);
	f->id = fwd_newid();
	f->sessid = call->sessid;
	f->host = host;
	f->conn = sshconn_any(host);
	f->conn->nfwd++;
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
	struct sshconn	*c = f->conn;
	ssh_session	 s = c->session;
	int		 bound = 0, rc;

	/*
	 * A global request, answered at once by any sshd; blocking, so
	 * bounded by the session's timeout (ssh_conn.c).  A keepalive's
	 * answer still owed must not be taken for this one's.
	 */
	sshconn_settle(c);
	rc = ssh_channel_listen_forward(s, FWD_REMOTE_ADDR, f->listen_port,
	    &bound);
	if (rc != SSH_OK) {
		fwd_refused(call, "remote", f->dest_host, f->dest_port,
		    "forward_open: host \"%s\" refused to listen on %s port"
		    " %u: %s (is AllowTcpForwarding enabled in its"
		    " sshd_config, the port free?)", f->host->name,
		    FWD_REMOTE_ADDR, f->listen_port, sshconn_error(s,
		    "no answer"));
		TAILQ_REMOVE(&fwds, f, entry);
		c->nfwd--;
		free(f);
		(void)sshconn_check(c);
		return;
	}
	if (f->listen_port == 0) {
		if (bound <= 0 || bound > 65535) {
			sshcall_text(call, 1, "forward_open: host \"%s\" did"
			    " not say which port it listens on; give"
			    " listen_port", f->host->name);
			TAILQ_REMOVE(&fwds, f, entry);
			c->nfwd--;
			free(f);
			return;
		}
		f->listen_port = bound;
	}
	/* forwarded channels arrive as messages of the session */
	ssh_set_message_callback(s, fwd_message, c);
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
	    f->id, f->sessid, f->host->name, fwd_dir_name(f->dir),
	    f->listen_addr, f->listen_port, f->dest_host, f->dest_port);
	if (call == NULL)
		return;
	call->state = NULL;
	call->cancel = NULL;
	hostport(listen, sizeof(listen), f->listen_addr, f->listen_port);
	if (asprintf(&t, "forward %u open (%s): connections to %s%s reach"
	    " %s:%u %s; %s.  Close it with forward_close {\"id\": %u}.",
	    f->id, fwd_dir_name(f->dir), listen, f->dir == FWD_TO ? "" :
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
	int			 fd;

	fd = fwd_reply_get(imsg, &r, "IMSG_FWD_LISTENFD");
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
void
fwd_record(struct fwd *f, const char *event, const char *why)
{
	json_t	*r;

	r = json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:I, s:s, s:I,"
	    " s:b, s:s}", "type", "forward", "event", event,
	    "id", (json_int_t)f->id, "session", (json_int_t)f->sessid,
	    "host", f->host->name, "direction", fwd_dir_name(f->dir),
	    "listen_address", f->listen_addr,
	    "listen_port", (json_int_t)f->listen_port,
	    "dest_host", f->dest_host, "dest_port", (json_int_t)f->dest_port,
	    "persistent", f->persist, "rule", "");
	if (r == NULL)
		return;
	if (f->publish) {
		json_object_set_new(r, "published", json_true());
		json_object_set_new(r, "rule", json_pack("{s:s, s:I, s:I,"
		    " s:i}", "kind", "publish", "port",
		    (json_int_t)f->listen_port, "to_port",
		    (json_int_t)f->dest_port, "line", f->rule_line));
	} else
		json_object_set_new(r, "rule", json_pack("{s:s, s:s, s:I,"
		    " s:i}", "kind", f->dir == FWD_TO ? "forward to" :
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
		    json_integer(fwd_ms_since(&f->start)));
	}
	fwd_record_send(r);
}

/* close a forward and every connection on it; lost: the session is gone */
void
fwd_close(struct fwd *f, const char *why, int lost)
{
	struct fconn	*fc;
	struct sshcall	*call;
	ssh_session	 s = f->conn->session;
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
	    s != NULL) {
		/* a global request; bounded by the session's timeout */
		sshconn_settle(f->conn);
		if (ssh_channel_cancel_forward(s, FWD_REMOTE_ADDR,
		    f->listen_port) != SSH_OK)
			log_warnx("forward %u: cancel on host \"%s\": %s",
			    f->id, f->host->name, sshconn_error(s,
			    "no answer"));
	}
	f->conn->nfwd--;
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

/* a connection to the host died or is being closed (NULL: every one) */
void
forward_conn_lost(struct sshhost *host, struct sshconn *conn)
{
	struct fwd	*f, *nf;

	TAILQ_FOREACH_SAFE(f, &fwds, entry, nf)
		if (f->host == host && (conn == NULL || f->conn == conn))
			fwd_close(f, "the connection to the host was lost", 1);
}

json_t *
fwd_json(struct fwd *f)
{
	json_t	*o;
	char	 listen[HOST_ADDR_LEN + 16], dest[HOST_ADDR_LEN + 16];

	hostport(listen, sizeof(listen), f->listen_addr, f->listen_port);
	hostport(dest, sizeof(dest), f->dest_host, f->dest_port);
	o = json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:I,"
	    " s:b, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:i}",
	    "id", (json_int_t)f->id, "session", (json_int_t)f->sessid,
	    "host", f->host->name, "direction", fwd_dir_name(f->dir),
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
	if (f->publish) {
		/* not an agent's: the configuration's, held while up */
		json_object_set_new(o, "published", json_true());
		json_object_set_new(o, "state", json_string(
		    f->state == FWD_ACTIVE ? "up" : "down"));
	}
	return o;
}

/* forward_list: this session's forwards, or all with "forward list all" */
void
forward_list(struct sshcall *call)
{
	struct fwd	*f;
	struct sbuf	 text = { 0 };
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
		sb_printf(&text, "%u  %s  %s  %s:%u -> %s:%u  session %u%s  %u"
		    " active, %u total, %llu bytes sent, %llu received\n",
		    f->id, f->host->name, fwd_dir_name(f->dir), f->listen_addr,
		    f->listen_port, f->dest_host, f->dest_port, f->sessid,
		    f->persist ? " (persistent)" : "", f->nactive, f->ntotal,
		    (unsigned long long)f->sent,
		    (unsigned long long)f->received);
		n++;
	}
	if (n == 0)
		sb_printf(&text, "no forwards open%s\n", all ? "" :
		    " in this MCP session");
	o = json_pack("{s:[{s:s, s:s}], s:{s:o}, s:b}", "content", "type",
	    "text", "text", text.p, "structuredContent", "forwards", arr,
	    "isError", 0);
	sb_free(&text);
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
	if (f->publish) {
		sshcall_text(call, 1, "forward_close: forward %lld is the"
		    " published port of host \"%s\" (publish port %u,"
		    " bridged.conf line %d): it belongs to the configuration"
		    " and stays open; it cannot be closed with forward_close",
		    id, f->host->name, f->listen_port, f->rule_line);
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
forward_ctl_list(uint32_t peerid, struct sshhost *sh)
{
	struct fwd	*f;
	json_t		*o, *arr;
	size_t		 i;
	char		*s;

	if ((arr = json_array()) == NULL)
		fatal(NULL);
	TAILQ_FOREACH(f, &fwds, entry)
		json_array_append_new(arr, fwd_json(f));
	/* a published port that is not up is shown all the same */
	if (sh != NULL && (o = publish_ctl_json(sh)) != NULL)
		json_array_append_new(arr, o);
	json_array_foreach(arr, i, o) {
		s = json_dumps(o, JSON_COMPACT);
		if (s == NULL)
			fatal(NULL);
		if (ssh_compose(PROC_FRONTEND, IMSG_SSH_FWD_INFO, peerid, -1,
		    s, strlen(s)) == -1)
			fatal("%s: compose", __func__);
		free(s);
	}
	json_decref(arr);
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
	char			 msg[HOST_NAME_LEN + 160];
	char			 out[sizeof(int32_t) + sizeof(msg)];
	int32_t			 status;

	if (imsg->datalen != sizeof(req))
		fatalx("bad IMSG_SSH_FWD_CLOSE size %zu", imsg->datalen);
	memcpy(&req, imsg->data, sizeof(req));
	if ((f = fwd_byid(req.id)) == NULL) {
		status = -1;
		snprintf(msg, sizeof(msg), "no forward %u", req.id);
	} else if (f->publish) {
		status = -1;
		snprintf(msg, sizeof(msg), "forward %u is host \"%s\"'s"
		    " publish port %u (bridged.conf line %d): remove it there"
		    " and reload", req.id, f->host->name, f->listen_port,
		    f->rule_line);
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
