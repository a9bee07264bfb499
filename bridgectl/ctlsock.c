/*
 * ctlsock.c: bridgectl's requests to the daemon over its control socket,
 * and the reading of the answers.  The answers are hostile like any
 * input: they are framed by imsg_get(), never wait longer than the
 * caller allows, and text from them is sanitized before it is printed.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <err.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "bridged.h"
#include "imsg.h"
#include "ctlsock.h"
#include "output.h"

int
unix_connect(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		errx(1, "socket path too long: %s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		err(1, "socket");
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		errx(1, "connect %s: %s (is bridged running?)", path,
		    strerror(errno));
	return fd;
}

int
ctl_request(const char *sockpath, struct imsgbuf *ibuf, uint32_t type,
    const void *data, size_t len)
{
	int	 fd;

	fd = unix_connect(sockpath);
	imsgbuf_init(ibuf, fd);
	if (imsg_compose(ibuf, type, 0, getpid(), -1, data, len) == -1)
		err(1, "imsg_compose");
	if (imsgbuf_flush(ibuf) == -1)
		err(1, "write to bridged");
	return fd;
}

int
ctl_next(struct imsgbuf *ibuf, struct imsg *imsg, int timeout)
{
	struct pollfd	 pfd;
	ssize_t		 n;
	int		 r;

	for (;;) {
		if ((r = imsg_get(ibuf, imsg)) == 1)
			break;
		if (r == -1) {
			if (errno == EBADMSG)
				errx(1, "malformed message from bridged");
			err(1, "message from bridged");
		}

		pfd.fd = ibuf->fd;
		pfd.events = POLLIN;
		if ((r = poll(&pfd, 1, timeout == -1 ? -1 : timeout * 1000)) ==
		    -1) {
			if (errno == EINTR)
				continue;
			err(1, "poll");
		}
		if (r == 0)
			errx(1, "no answer from bridged in %d seconds",
			    timeout);
		if ((n = imsgbuf_read(ibuf)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			err(1, "read from bridged");
		}
		if (n == 0)
			return 0;
	}
	/* nothing we ask for comes with a descriptor */
	if (imsg->fd != -1) {
		close(imsg->fd);
		imsg->fd = -1;
	}
	return 1;
}

/*
 * The text of an OK or ERROR answer, or dflt when it has none.  It may
 * span lines (a reload's file:line errors): each is made safe on its own.
 * With json it is one object on stdout, {"ok": true|false, "message"}.
 */
void
ctl_answer(int json, int ok, const char *dflt, struct imsg *imsg)
{
	FILE	*fp = ok || json ? stdout : stderr;
	size_t	 len = imsg->datalen, n;
	const char *p, *nl;
	char	*s, *line;
	json_t	*o;

	/* a sender that counted the NUL or ended with a newline is no harm */
	while (len > 0 && (imsg->data[len - 1] == '\0' ||
	    imsg->data[len - 1] == '\n'))
		len--;
	if (len == 0) {
		p = dflt;
		len = strlen(dflt);
	} else
		p = (const char *)imsg->data;
	if (json) {
		s = output_sanitize_lines(p, len);
		o = json_pack("{s:b, s:s}", "ok", ok, "message", s);
		free(s);
		if (o == NULL || (line = json_dumps(o, JSON_COMPACT |
		    JSON_PRESERVE_ORDER | (isatty(STDOUT_FILENO) ?
		    JSON_ENSURE_ASCII : 0))) == NULL)
			errx(1, "cannot encode the answer");
		puts(line);
		free(line);
		json_decref(o);
		return;
	}
	while (len > 0) {
		nl = memchr(p, '\n', len);
		n = nl != NULL ? (size_t)(nl - p) : len;
		s = output_sanitize(p, n, 0, NULL);
		if (fp == stderr)
			fprintf(fp, "bridgectl: %s\n", s);
		else
			fprintf(fp, "%s\n", s);
		free(s);
		if (nl == NULL)
			break;
		len -= n + 1;
		p = nl + 1;
	}
}
