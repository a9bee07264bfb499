/*
 * parent_netconn.c: the parent's outgoing TCP connections, made for the ssh
 * worker (parent_connect.c) and for reverse forwards (parent_fwd.c).
 *
 * The connect is non-blocking and driven by libevent, so a peer that does
 * not answer never stalls the parent's signal or message handling; each
 * address gets its own timeout.  Name resolution (getaddrinfo) still
 * blocks; with numeric addresses, the usual case, it returns at once.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event.h>

#include "bridged.h"
#include "log.h"
#include "proc.h"

/* one connection being made */
struct netconn {
	char			 where[HOST_ADDR_LEN + 16];
	struct addrinfo		*res;
	struct addrinfo		*ai;		/* being tried */
	int			 fd;
	int			 lasterr;
	int			 timeout;
	struct event		 ev;
	netconn_cb		 done;
	void			*arg;
};

static void	 netconn_try(struct netconn *);
static void	 netconn_ready(int, short, void *);
static void	 netconn_finish(struct netconn *, int, const char *);

void
netconn_start(const char *address, uint16_t port, int timeout,
    netconn_cb done, void *arg)
{
	struct netconn	*nc;
	struct addrinfo	 hints;
	char		 portstr[8], err[NETCONN_ERRLEN];
	int		 rc;

	if ((nc = calloc(1, sizeof(*nc))) == NULL)
		fatal(NULL);
	nc->fd = -1;
	nc->timeout = timeout;
	nc->done = done;
	nc->arg = arg;
	snprintf(nc->where, sizeof(nc->where), "%s port %u", address, port);

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%u", port);
	/* blocks for a name; numeric addresses return at once */
	if ((rc = getaddrinfo(address, portstr, &hints, &nc->res)) != 0) {
		snprintf(err, sizeof(err), "resolve %s: %s", address,
		    gai_strerror(rc));
		nc->lasterr = EHOSTUNREACH;
		netconn_finish(nc, -1, err);
		return;
	}
	nc->ai = nc->res;
	nc->lasterr = EHOSTUNREACH;
	netconn_try(nc);
}

/* start a non-blocking connect to the next address */
static void
netconn_try(struct netconn *nc)
{
	struct timeval	 tv = { nc->timeout, 0 };
	char		 err[NETCONN_ERRLEN];
	int		 fd;

	for (; nc->ai != NULL; nc->ai = nc->ai->ai_next) {
		nc->fd = socket(nc->ai->ai_family, nc->ai->ai_socktype |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, nc->ai->ai_protocol);
		if (nc->fd == -1) {
			nc->lasterr = errno;
			continue;
		}
		if (connect(nc->fd, nc->ai->ai_addr, nc->ai->ai_addrlen) ==
		    0) {
			fd = nc->fd;
			nc->fd = -1;
			netconn_finish(nc, fd, NULL);
			return;
		}
		if (errno == EINPROGRESS) {
			event_set(&nc->ev, nc->fd, EV_WRITE, netconn_ready,
			    nc);
			event_add(&nc->ev, &tv);
			return;
		}
		nc->lasterr = errno;
		close(nc->fd);
		nc->fd = -1;
	}
	snprintf(err, sizeof(err), "connect %s: %s", nc->where,
	    strerror(nc->lasterr));
	netconn_finish(nc, -1, err);
}

static void
netconn_ready(int fd, short event, void *arg)
{
	struct netconn	*nc = arg;
	socklen_t	 len = sizeof(int);
	int		 err = 0;

	if (event & EV_TIMEOUT)
		err = ETIMEDOUT;
	else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err == 0) {
		nc->fd = -1;
		netconn_finish(nc, fd, NULL);
		return;
	}
	nc->lasterr = err;
	close(nc->fd);
	nc->fd = -1;
	nc->ai = nc->ai->ai_next;
	netconn_try(nc);
}

/* the callback owns fd from here; nc is gone when it is called */
static void
netconn_finish(struct netconn *nc, int fd, const char *err)
{
	netconn_cb	 done = nc->done;
	void		*arg = nc->arg;
	int		 error = fd == -1 ? nc->lasterr : 0;

	if (nc->fd != -1)
		close(nc->fd);
	if (nc->res != NULL)
		freeaddrinfo(nc->res);
	free(nc);
	done(arg, fd, error, err);
}
