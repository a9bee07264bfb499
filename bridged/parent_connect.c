/*
 * parent_connect.c: the parent's half of an SSH connection.  The ssh worker may
 * not open files or sockets, so on IMSG_SSH_CONNECT the parent reads the
 * host's identity and known hosts files, makes the TCP connection and
 * hands over the key material (IMSG_SSH_KEYDATA) and the connected socket
 * (IMSG_SSH_CONNECTED).
 *
 * The TCP connect is non-blocking (parent_netconn.c), so a host that does not
 * answer never stalls the parent's signal or message handling.  A host
 * with "via" gets no TCP connection but one end of a tunnel through its
 * jump host's worker (parent_jump.c), handed over the same way.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridged.h"
#include "imsg.h"
#include "log.h"
#include "proc.h"

#define CONNECT_TIMEOUT		10		/* seconds, per address */
#define IDENTITY_MAX		(64 * 1024)
#define KNOWN_HOSTS_MAX		(IMSG_MAXPAYLOAD - 1024)

/* one connection being made for the worker */
struct pconn {
	struct imsgev		*iev;
	uint32_t		 hostid;
	uint32_t		 connid;	/* the worker's, echoed */
	char			 name[HOST_NAME_LEN];
	char			 address[HOST_ADDR_LEN];
	uint16_t		 port;
	char			 via[HOST_NAME_LEN];	/* "": a TCP socket */
	char			*identity;
	size_t			 identitylen;
	char			*known;
	size_t			 knownlen;
};

static int	 readfile(const char *, const char *, size_t, int, char **,
		    size_t *, char *, size_t);
static void	 pconn_connected(void *, int, int, const char *);
static void	 pconn_fail(struct pconn *, int, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static void	 pconn_done(struct pconn *, int);
static void	 pconn_free(struct pconn *);
static void	 pconn_sockopts(int);

void
parent_ssh_connect(struct imsgev *iev, struct bridged_conf *conf,
    struct imsg *imsg)
{
	struct ssh_connect	 req;
	struct pconn		*pc;
	struct host		*h;
	char			 err[256];

	if (imsg->datalen != sizeof(req))
		fatalx("bad IMSG_SSH_CONNECT size %zu", imsg->datalen);
	memcpy(&req, imsg->data, sizeof(req));

	if ((pc = calloc(1, sizeof(*pc))) == NULL)
		fatal(NULL);
	pc->iev = iev;
	pc->hostid = req.hostid;
	pc->connid = req.connid;
	if ((h = config_host_byid(conf, req.hostid)) == NULL) {
		pconn_fail(pc, ENOENT, "no host with id %u in the"
		    " configuration", req.hostid);
		return;
	}
	strlcpy(pc->name, h->name, sizeof(pc->name));
	strlcpy(pc->address, h->address, sizeof(pc->address));
	pc->port = h->port ? h->port : CONF_SSH_PORT;

	if (h->identity[0] == '\0') {
		pconn_fail(pc, EINVAL, "no identity configured");
		return;
	}
	if (readfile("identity", h->identity, IDENTITY_MAX, 1, &pc->identity,
	    &pc->identitylen, err, sizeof(err)) == -1) {
		pconn_fail(pc, EACCES, "%s", err);
		return;
	}
	if (h->known_hosts[0] != '\0' && readfile("known hosts",
	    h->known_hosts, KNOWN_HOSTS_MAX, 0, &pc->known, &pc->knownlen,
	    err, sizeof(err)) == -1) {
		pconn_fail(pc, EACCES, "%s", err);
		return;
	}
	/* via: a channel of the jump host's connection (parent_jump.c) */
	strlcpy(pc->via, h->via, sizeof(pc->via));
	if (pc->via[0] != '\0')
		jump_connect(conf, h, pconn_connected, pc);
	else
		netconn_start(pc->address, pc->port, CONNECT_TIMEOUT,
		    pconn_connected, pc);
}

/*
 * Read a whole small file.  The identity must not be readable by others,
 * the rule ssh(1) applies to private keys.
 */
static int
readfile(const char *what, const char *path, size_t max, int secret,
    char **bufp, size_t *lenp, char *err, size_t errlen)
{
	struct stat	 st;
	char		*buf;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd;

	*bufp = NULL;
	*lenp = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		snprintf(err, errlen, "cannot read %s %s: %s", what, path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s %s is not a regular file", what,
		    path);
		close(fd);
		return -1;
	}
	if (secret && (st.st_mode & 077) != 0) {
		snprintf(err, errlen, "%s %s is accessible by others (mode"
		    " %03o); chmod 600 it", what, path,
		    (unsigned int)(st.st_mode & 0777));
		close(fd);
		return -1;
	}
	if ((size_t)st.st_size > max) {
		snprintf(err, errlen, "%s %s is too large (%lld bytes, at"
		    " most %zu)", what, path, (long long)st.st_size, max);
		close(fd);
		return -1;
	}
	if ((buf = malloc(max + 1)) == NULL)
		fatal(NULL);
	while (len <= max) {
		n = read(fd, buf + len, max + 1 - len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "cannot read %s %s: %s", what,
			    path, strerror(errno));
			explicit_bzero(buf, len);
			free(buf);
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	if (len > max) {
		snprintf(err, errlen, "%s %s is too large (at most %zu"
		    " bytes)", what, path, max);
		explicit_bzero(buf, len);
		free(buf);
		return -1;
	}
	if (len == 0 && secret) {
		snprintf(err, errlen, "%s %s is empty", what, path);
		free(buf);
		return -1;
	}
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	return 0;
}

static void
pconn_connected(void *arg, int fd, int error, const char *err)
{
	struct pconn	*pc = arg;

	if (fd == -1)
		pconn_fail(pc, error, "%s", err);
	else
		pconn_done(pc, fd);
}

/*
 * Keepalives and a user timeout let the kernel notice a peer that went
 * away silently; no delay because every tool call is a small exchange.
 */
static void
pconn_sockopts(int fd)
{
	int	 on = 1, idle = 60, intvl = 15, cnt = 4;
	unsigned int	 utimeout = 120 * 1000;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) == -1)
		log_warn("%s: TCP_NODELAY", __func__);
	if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) == -1)
		log_warn("%s: SO_KEEPALIVE", __func__);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl,
	    sizeof(intvl));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &utimeout,
	    sizeof(utimeout));
}

/* connected: key material first, then the socket */
static void
pconn_done(struct pconn *pc, int fd)
{
	struct ssh_connected	 sc;
	struct ssh_keydata	 kd;
	struct iovec		 iov[2];

	if (pc->via[0] == '\0')
		pconn_sockopts(fd);	/* a jump's socketpair is no TCP */

	kd.hostid = pc->hostid;
	kd.connid = pc->connid;
	if (pc->known != NULL) {
		kd.kind = KEYDATA_KNOWN_HOSTS;
		iov[0].iov_base = &kd;
		iov[0].iov_len = sizeof(kd);
		iov[1].iov_base = pc->known;
		iov[1].iov_len = pc->knownlen;
		if (imsgev_composev(pc->iev, IMSG_SSH_KEYDATA, 0, -1, iov,
		    2) == -1)
			log_warn("%s: the ssh worker has gone", __func__);
	}
	kd.kind = KEYDATA_IDENTITY;
	iov[0].iov_base = &kd;
	iov[0].iov_len = sizeof(kd);
	iov[1].iov_base = pc->identity;
	iov[1].iov_len = pc->identitylen;
	if (imsgev_composev(pc->iev, IMSG_SSH_KEYDATA, 0, -1, iov, 2) == -1)
		log_warn("%s: the ssh worker has gone", __func__);

	memset(&sc, 0, sizeof(sc));
	sc.hostid = pc->hostid;
	sc.connid = pc->connid;
	if (imsgev_compose(pc->iev, IMSG_SSH_CONNECTED, 0, fd, &sc,
	    sizeof(sc)) == -1) {
		log_warn("%s: the ssh worker has gone", __func__);
		close(fd);
	}
	log_debug("host \"%s\": connected to %s port %u%s%s%s", pc->name,
	    pc->address, pc->port, pc->via[0] ? " via \"" : "", pc->via,
	    pc->via[0] ? "\"" : "");
	pconn_free(pc);		/* the message owns fd now */
}

static void
pconn_fail(struct pconn *pc, int error, const char *fmt, ...)
{
	struct ssh_connected	 sc;
	va_list			 ap;

	memset(&sc, 0, sizeof(sc));
	sc.hostid = pc->hostid;
	sc.connid = pc->connid;
	sc.error = error ? error : EIO;
	va_start(ap, fmt);
	vsnprintf(sc.errmsg, sizeof(sc.errmsg), fmt, ap);
	va_end(ap);
	log_info("ssh connect for host id %u failed: %s", pc->hostid,
	    sc.errmsg);
	if (imsgev_compose(pc->iev, IMSG_SSH_CONNECTED, 0, -1, &sc,
	    sizeof(sc)) == -1)
		log_warn("%s: the ssh worker has gone", __func__);
	pconn_free(pc);
}

static void
pconn_free(struct pconn *pc)
{
	if (pc->identity != NULL) {
		explicit_bzero(pc->identity, pc->identitylen);
		free(pc->identity);
	}
	free(pc->known);
	free(pc);
}
