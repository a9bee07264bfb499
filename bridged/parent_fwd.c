/*
 * parent_fwd.c: the parent's half of port forwards.  The ssh worker may
 * not create sockets, so the parent binds the listening socket of a local
 * forward (IMSG_FWD_LISTEN) and makes the local connection of each
 * reverse-forwarded channel (IMSG_FWD_CONNECT), and hands the descriptor
 * over.
 *
 * The worker is less trusted than we are: every request is checked again
 * against the configuration here, so a compromised worker can listen only
 * on the addresses the host allows, below port 1024 only on a port a
 * "forward to" rule of the host names ("listen port"), and connect only
 * to the destinations of the host's "forward from remote to" rules, or
 * to the HTTP listener its "publish port" leads to.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bridged.h"
#include "imsg.h"
#include "log.h"
#include "proc.h"

#define FWD_CONNECT_TIMEOUT	10	/* seconds, per address */
#define FWD_BACKLOG		64

/* a reverse-forwarded channel's local connection being made */
struct fconnect {
	struct imsgev		*iev;
	uint32_t		 reqid;
};

static void	 fwd_reply(struct imsgev *, uint32_t, uint32_t, int, int,
		    uint16_t, const char *, ...)
		    __attribute__((__format__ (printf, 7, 8)));
static int	 fwd_getreq(struct imsg *, struct fwd_req *);
static int	 fwd_loopback(const char *);
static void	 fconnect_done(void *, int, int, const char *);

static void
fwd_reply(struct imsgev *iev, uint32_t type, uint32_t reqid, int fd,
    int error, uint16_t port, const char *fmt, ...)
{
	struct fwd_reply	 r;
	va_list			 ap;

	memset(&r, 0, sizeof(r));
	r.reqid = reqid;
	r.error = error;
	r.port = port;
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(r.errmsg, sizeof(r.errmsg), fmt, ap);
		va_end(ap);
	}
	if (imsgev_compose(iev, type, reqid, fd, &r, sizeof(r)) == -1) {
		log_warn("%s: the ssh worker has gone", __func__);
		if (fd != -1)
			close(fd);
	}
}

static int
fwd_getreq(struct imsg *imsg, struct fwd_req *req)
{
	if (imsg->datalen != sizeof(*req))
		return -1;
	memcpy(req, imsg->data, sizeof(*req));
	req->addr[sizeof(req->addr) - 1] = '\0';
	return 0;
}

static int
fwd_loopback(const char *addr)
{
	return strcmp(addr, "127.0.0.1") == 0 || strcmp(addr, "::1") == 0 ||
	    strcasecmp(addr, "localhost") == 0;
}

/* a listening socket for a local forward, on an address the host allows */
void
parent_fwd_listen(struct imsgev *iev, struct bridged_conf *conf,
    struct imsg *imsg)
{
	struct fwd_req		 req;
	struct host		*h;
	struct fwdrule		*fr;
	struct addrinfo		 hints, *res;
	struct sockaddr_storage	 ss;
	socklen_t		 slen = sizeof(ss);
	char			 port[8];
	uint16_t		 bound;
	int			 fd, rc, on = 1;

	if (fwd_getreq(imsg, &req) == -1)
		fatalx("bad IMSG_FWD_LISTEN size %zu", imsg->datalen);
	if ((h = config_host_byid(conf, req.hostid)) == NULL ||
	    (h->caps & CAP_FORWARD) == 0) {
		fwd_reply(iev, IMSG_FWD_LISTENFD, req.reqid, -1, EPERM, 0,
		    "host %u does not allow forward", req.hostid);
		return;
	}
	if (strcasecmp(req.addr, "localhost") == 0)
		strlcpy(req.addr, "127.0.0.1", sizeof(req.addr));
	if (!fwd_loopback(req.addr) && (h->fwd_listen[0] == '\0' ||
	    strcmp(h->fwd_listen, req.addr) != 0)) {
		fwd_reply(iev, IMSG_FWD_LISTENFD, req.reqid, -1, EPERM, 0,
		    "host \"%s\" does not allow listening on %s (only"
		    " loopback%s%s)", h->name, req.addr,
		    h->fwd_listen[0] ? " and " : "", h->fwd_listen);
		return;
	}
	/* we may be root: a privileged port only where a rule names it */
	if (req.port != 0 && req.port < FWD_PRIVPORT) {
		TAILQ_FOREACH(fr, &h->fwdrules, entry)
			if (fr->dir == FWD_TO && fr->listen_port == req.port)
				break;
		if (fr == NULL) {
			log_warnx("forward for host \"%s\": privileged port %u "
			    "named by no \"forward to ... listen port\" rule; "
			    "refused", h->name, req.port);
			fwd_reply(iev, IMSG_FWD_LISTENFD, req.reqid, -1, EACCES,
			    0, "host \"%s\" may not listen on port %u: below "
			    "%d only a port a \"forward to\" rule names with "
			    "\"listen port\"", h->name, req.port,
			    FWD_PRIVPORT);
			return;
		}
	}

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	snprintf(port, sizeof(port), "%u", req.port);
	if ((rc = getaddrinfo(req.addr, port, &hints, &res)) != 0) {
		fwd_reply(iev, IMSG_FWD_LISTENFD, req.reqid, -1, EINVAL, 0,
		    "listen address %s: %s (a numeric address is needed)",
		    req.addr, gai_strerror(rc));
		return;
	}
	fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, res->ai_protocol);
	if (fd == -1) {
		rc = errno;
		freeaddrinfo(res);
		fwd_reply(iev, IMSG_FWD_LISTENFD, req.reqid, -1, rc, 0,
		    "socket: %s", strerror(rc));
		return;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	/*
	 * The connections the worker accepts on it inherit it: what comes
	 * back over the channel in pieces (an answer's head, then its body)
	 * goes out as it comes, not after the client's delayed ACK of the
	 * first piece, 40 ms.
	 */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if (bind(fd, res->ai_addr, res->ai_addrlen) == -1 ||
	    listen(fd, FWD_BACKLOG) == -1 ||
	    getsockname(fd, (struct sockaddr *)&ss, &slen) == -1) {
		rc = errno;
		close(fd);
		freeaddrinfo(res);
		fwd_reply(iev, IMSG_FWD_LISTENFD, req.reqid, -1, rc, 0,
		    "cannot listen on %s port %u: %s", req.addr, req.port,
		    strerror(rc));
		return;
	}
	freeaddrinfo(res);
	if (ss.ss_family == AF_INET6)
		bound = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	else
		bound = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	log_debug("forward for host \"%s\": listening on %s port %u",
	    h->name, req.addr, bound);
	fwd_reply(iev, IMSG_FWD_LISTENFD, req.reqid, fd, 0, bound, NULL);
}

/* a local connection for a reverse-forwarded channel, if a rule allows it */
void
parent_fwd_connect(struct imsgev *iev, struct bridged_conf *conf,
    struct imsg *imsg)
{
	struct fwd_req		 req;
	struct host		*h;
	struct fwdrule		*fr;
	struct fconnect		*fc;
	const struct listener	*l;
	const char		*laddr;

	if (fwd_getreq(imsg, &req) == -1)
		fatalx("bad IMSG_FWD_CONNECT size %zu", imsg->datalen);
	/* the host's published port leads to its listener, and only there */
	if ((h = config_host_byid(conf, req.hostid)) != NULL &&
	    (l = config_publish_listener(conf, h, &laddr)) != NULL &&
	    l->port == req.port && strcmp(laddr, req.addr) == 0)
		goto allowed;
	if (h == NULL || (h->caps & CAP_FORWARD) == 0) {
		fwd_reply(iev, IMSG_FWD_CONNECTED, req.reqid, -1, EPERM, 0,
		    "host %u does not allow forward", req.hostid);
		return;
	}
	TAILQ_FOREACH(fr, &h->fwdrules, entry)
		if (fr->dir == FWD_FROM_REMOTE && fr->port == req.port &&
		    strcasecmp(fr->host, req.addr) == 0)
			break;
	if (fr == NULL) {
		log_warnx("forward for host \"%s\": %s port %u is not a"
		    " \"forward from remote to\" destination; refused",
		    h->name, req.addr, req.port);
		fwd_reply(iev, IMSG_FWD_CONNECTED, req.reqid, -1, EPERM, 0,
		    "%s port %u is not allowed for host \"%s\"", req.addr,
		    req.port, h->name);
		return;
	}

 allowed:
	if ((fc = calloc(1, sizeof(*fc))) == NULL)
		fatal(NULL);
	fc->iev = iev;
	fc->reqid = req.reqid;
	netconn_start(req.addr, req.port, FWD_CONNECT_TIMEOUT, fconnect_done,
	    fc);
}

static void
fconnect_done(void *arg, int fd, int error, const char *err)
{
	struct fconnect	*fc = arg;
	int		 on = 1;

	if (fd == -1)
		fwd_reply(fc->iev, IMSG_FWD_CONNECTED, fc->reqid, -1, error, 0,
		    "%s", err);
	else {
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on,
		    sizeof(on));
		fwd_reply(fc->iev, IMSG_FWD_CONNECTED, fc->reqid, fd, 0, 0,
		    NULL);
	}
	free(fc);
}
