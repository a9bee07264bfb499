/*
 * parent_http.c: the parent's half of the Streamable HTTP transport.
 *
 * The parent binds every "listen on" socket before it drops anything
 * (a port below 1024 takes root, as it would for any daemon) and keeps
 * them for the daemon's life: a restarted frontend gets copies again.
 * It also reads the client blocks' token files, which the sandboxed
 * frontend could not open: a token file must be a regular file, not a
 * link, readable by its owner only, owned by the user bridged runs as or
 * by root.  The token goes to the frontend in its config and nowhere
 * else; it is never logged.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event.h>

#include "bridged.h"
#include "imsg.h"
#include "log.h"
#include "proc.h"

#define HTTP_BACKLOG		128

struct bound {
	uint32_t	 id;		/* the listener's */
	int		 fd;
};

static struct bound	*bound;
static size_t		 nbound;

static int	 token_read(struct client *, char *, size_t);

/*
 * Read every client's token.  -1 with err filled in when one cannot be
 * used: startup fails, a reload keeps the running configuration.
 */
int
http_tokens_load(struct bridged_conf *conf, char *err, size_t errlen)
{
	struct client	*c, *d;

	TAILQ_FOREACH(c, &conf->clients, entry) {
		if (c->token_file[0] == '\0')
			continue;
		if (token_read(c, err, errlen) == -1)
			return -1;
	}
	/* one token, one principal: two clients sharing one is a mistake */
	TAILQ_FOREACH(c, &conf->clients, entry)
		for (d = TAILQ_NEXT(c, entry); d != NULL;
		    d = TAILQ_NEXT(d, entry))
			if (c->token_len > 0 && c->token_len == d->token_len &&
			    memcmp(c->token, d->token, c->token_len) == 0) {
				snprintf(err, errlen, "clients \"%s\" and "
				    "\"%s\" have the same token: each client "
				    "needs its own", c->name, d->name);
				return -1;
			}
	return 0;
}

static int
token_read(struct client *c, char *err, size_t errlen)
{
	struct stat	 st;
	char		 buf[CLIENT_TOKEN_MAX + 2];
	ssize_t		 n;
	size_t		 len, i;
	int		 fd;

	if ((fd = open(c->token_file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK)) == -1) {
		snprintf(err, errlen, "client \"%s\": token file %s: %s",
		    c->name, c->token_file, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "client \"%s\": token file %s: not a "
		    "regular file", c->name, c->token_file);
		close(fd);
		return -1;
	}
	if ((st.st_mode & 077) != 0) {
		snprintf(err, errlen, "client \"%s\": token file %s is "
		    "readable by others (mode %04o): chmod 600 it", c->name,
		    c->token_file, (unsigned)(st.st_mode & 07777));
		close(fd);
		return -1;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(err, errlen, "client \"%s\": token file %s: owned "
		    "by uid %u, not by root or by the user bridged runs as "
		    "(uid %u)", c->name, c->token_file, (unsigned)st.st_uid,
		    (unsigned)geteuid());
		close(fd);
		return -1;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n == -1) {
		snprintf(err, errlen, "client \"%s\": token file %s: %s",
		    c->name, c->token_file, strerror(errno));
		return -1;
	}
	len = n;
	/* one line: a final newline (or CRLF) is not part of the token */
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	for (i = 0; i < len; i++)
		if ((unsigned char)buf[i] <= 0x20 ||
		    (unsigned char)buf[i] >= 0x7f)
			break;
	if (len > CLIENT_TOKEN_MAX - 1 || len < CLIENT_TOKEN_MIN ||
	    i < len) {
		explicit_bzero(buf, sizeof(buf));
		snprintf(err, errlen, "client \"%s\": token file %s: the "
		    "token must be one line of %d to %d visible ASCII "
		    "characters", c->name, c->token_file, CLIENT_TOKEN_MIN,
		    CLIENT_TOKEN_MAX - 1);
		return -1;
	}
	memcpy(c->token, buf, len);
	c->token[len] = '\0';
	c->token_len = len;
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

/*
 * Bind every listener, or die saying which could not be: a daemon that
 * silently lacks its HTTP endpoint is worse than one that does not
 * start.  "localhost" is its IPv4 loopback address.
 */
void
http_bind(struct bridged_conf *conf)
{
	struct listener	*l;
	struct addrinfo	 hints, *res;
	char		 port[8];
	int		 fd, on = 1, error;

	TAILQ_FOREACH(l, &conf->listeners, entry) {
		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
		if (strcmp(l->addr, "localhost") == 0)
			hints.ai_family = AF_INET;
		else
			hints.ai_flags |= AI_NUMERICHOST;
		snprintf(port, sizeof(port), "%u", l->port);
		if ((error = getaddrinfo(strcmp(l->addr, "localhost") == 0 ?
		    "127.0.0.1" : l->addr, port, &hints, &res)) != 0)
			fatalx("listen on %s port %u: %s", l->addr, l->port,
			    gai_strerror(error));
		if ((fd = socket(res->ai_family, res->ai_socktype |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, res->ai_protocol)) == -1)
			fatal("listen on %s port %u: socket", l->addr, l->port);
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
		    sizeof(on)) == -1)
			fatal("listen on %s: SO_REUSEADDR", l->addr);
		/*
		 * Accepted connections inherit it: an answer that goes
		 * out in two writes (an SSE stream's head, then its event)
		 * would otherwise wait for the ACK of the first, which a
		 * client delays up to 40 ms.
		 */
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on,
		    sizeof(on)) == -1)
			log_warn("listen on %s: TCP_NODELAY", l->addr);
		if (res->ai_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
		    IPV6_V6ONLY, &on, sizeof(on)) == -1)
			fatal("listen on %s: IPV6_V6ONLY", l->addr);
		if (bind(fd, res->ai_addr, res->ai_addrlen) == -1)
			fatal("listen on %s port %u%s", l->addr, l->port,
			    l->port < 1024 && geteuid() != 0 ? " (a port "
			    "below 1024 needs root)" : "");
		if (listen(fd, HTTP_BACKLOG) == -1)
			fatal("listen on %s port %u: listen", l->addr, l->port);
		freeaddrinfo(res);
		if ((bound = reallocarray(bound, nbound + 1,
		    sizeof(*bound))) == NULL)
			fatal("%s", __func__);
		bound[nbound].id = l->id;
		bound[nbound].fd = fd;
		nbound++;
		log_debug("listening on %s port %u (HTTP)", l->addr, l->port);
	}
}

/* a (re)started frontend gets a copy of each; ours stay */
void
http_send_listeners(struct imsgev *iev)
{
	size_t	 i;
	int	 fd;

	for (i = 0; i < nbound; i++) {
		if ((fd = dup(bound[i].fd)) == -1)
			fatal("%s: dup", __func__);
		if (imsgev_compose(iev, IMSG_HTTP_LISTEN, 0, fd, &bound[i].id,
		    sizeof(bound[i].id)) == -1)
			fatal("sending HTTP listeners");
	}
}

/*
 * Reload: what is bound stays bound; a changed "listen on" takes a
 * restart, and the new config goes on describing the sockets we have.
 */
int
http_reload(struct bridged_conf *oconf, struct bridged_conf *nconf)
{
	struct listener	*a, *b, *l;
	int		 same = 1;

	a = TAILQ_FIRST(&oconf->listeners);
	b = TAILQ_FIRST(&nconf->listeners);
	for (; a != NULL && b != NULL; a = TAILQ_NEXT(a, entry),
	    b = TAILQ_NEXT(b, entry))
		if (strcmp(a->addr, b->addr) != 0 || a->port != b->port)
			same = 0;
	if (a != NULL || b != NULL)
		same = 0;
	if (same)
		return 0;
	while ((l = TAILQ_FIRST(&nconf->listeners)) != NULL) {
		TAILQ_REMOVE(&nconf->listeners, l, entry);
		free(l);
	}
	TAILQ_FOREACH(a, &oconf->listeners, entry) {
		if ((l = malloc(sizeof(*l))) == NULL)
			fatal("%s", __func__);
		memcpy(l, a, sizeof(*l));
		TAILQ_INSERT_TAIL(&nconf->listeners, l, entry);
	}
	return -1;
}
