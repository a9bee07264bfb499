/*
 * ctlsock.h: bridgectl's side of the daemon's sockets, shared by the
 * commands of bridgectl.c and logview.c.  Every failure ends bridgectl.
 */

#ifndef CTLSOCK_H
#define CTLSOCK_H

#include <stdint.h>
#include <stdio.h>

#include "imsg.h"

/* a connected stream socket to the daemon's socket at path */
int	 unix_connect(const char *);
/* connect, then send one request; returns the socket, ibuf set up on it */
int	 ctl_request(const char *, struct imsgbuf *, uint32_t, const void *,
	    size_t);
/* 1 a message, 0 the daemon closed; timeout in seconds, -1 for none */
int	 ctl_next(struct imsgbuf *, struct imsg *, int);
/* the daemon's text (or dflt), made safe; on stderr with our name */
void	 ctl_answer(int, int, const char *, struct imsg *);

#endif /* CTLSOCK_H */
