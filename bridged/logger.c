/*
 * logger.c: the process that writes what the daemon did.  It is fed only
 * over imsg and may reach only its two directories (Landlock): the text
 * log's and the audit database's.  Each record is one JSON line.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event.h>
#include <jansson.h>

#include "bridged.h"
#include "imsg.h"
#include "log.h"
#include "proc.h"
#include "sandbox.h"

static void	 logger_sig(int, short, void *);
static void	 logger_dispatch_parent(int, short, void *);
static void	 logger_dispatch_peer(int, short, void *);
static void	 logger_configure(struct bridged_conf *);
static void	 logger_write(const char *, size_t);
static int	 peer_io(struct imsgev *, short);

static struct bridged_conf	*conf;
static struct imsgev		*peers[PROC_MAX];
static int			 logfd = -1;

void
logger_main(struct proc_args *pa)
{
	struct event	 ev_term, ev_int, ev_hup;

	proc_droppriv(pa, "logger");
	log_setverbose(pa->verbose);

	event_init();
	signal(SIGPIPE, SIG_IGN);
	signal_set(&ev_term, SIGTERM, logger_sig, NULL);
	signal_set(&ev_int, SIGINT, logger_sig, NULL);
	signal_set(&ev_hup, SIGHUP, logger_sig, NULL);
	signal_add(&ev_term, NULL);
	signal_add(&ev_int, NULL);
	signal_add(&ev_hup, NULL);

	if ((peers[PROC_PARENT] = calloc(1, sizeof(struct imsgev))) == NULL)
		fatal(NULL);
	imsgev_init(peers[PROC_PARENT], PROC_PARENT_FD, "parent",
	    logger_dispatch_parent, NULL);

	sandbox_logger(pa->dirs[0], pa->dirs[1]);

	imsgev_add(peers[PROC_PARENT]);
	if (imsgev_compose(peers[PROC_PARENT], IMSG_READY, 0, -1, NULL,
	    0) == -1)
		fatal("logger");
	event_dispatch();
	exit(0);
}

static void
logger_sig(int sig, short event, void *arg)
{
	if (sig == SIGTERM || sig == SIGINT) {
		if (logfd != -1)
			fsync(logfd);
		exit(0);
	}
}

static void
logger_configure(struct bridged_conf *nconf)
{
	if (conf == NULL || strcmp(conf->log_file, nconf->log_file) != 0) {
		if (logfd != -1)
			close(logfd);
		logfd = -1;
		if (nconf->log_file[0] != '\0')
			logfd = open(nconf->log_file,
		    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (logfd == -1 && nconf->log_file[0] != '\0')
			log_warn("open %s", nconf->log_file);
	}
	if (conf != NULL)
		config_free(conf);
	conf = nconf;
}

/* one record, one line: a record can never carry a raw newline */
static void
logger_write(const char *rec, size_t len)
{
	struct iovec	 iov[2];
	ssize_t		 n;

	if (logfd == -1 || len == 0)
		return;
	if (memchr(rec, '\n', len) != NULL) {
		log_warnx("record with a newline dropped");
		return;
	}
	iov[0].iov_base = (void *)(uintptr_t)rec;
	iov[0].iov_len = len;
	iov[1].iov_base = "\n";
	iov[1].iov_len = 1;
	if ((n = writev(logfd, iov, 2)) == -1)
		log_warn("write %s", conf->log_file);
	else if ((size_t)n != len + 1)
		log_warnx("short write to %s", conf->log_file);
}

static int
peer_io(struct imsgev *iev, short event)
{
	ssize_t	 n;

	if (event & EV_READ) {
		if ((n = imsgbuf_read(&iev->ibuf)) == -1 && errno != EAGAIN)
			fatal("read from %s", iev->name);
		if (n == 0)
			return 0;
	}
	if ((event & EV_WRITE) && imsgbuf_write(&iev->ibuf) == -1)
		fatal("write to %s", iev->name);
	return 1;
}

static void
logger_dispatch_parent(int fd, short event, void *arg)
{
	struct imsgev		*iev = peers[PROC_PARENT];
	struct bridged_conf	*nconf;
	struct imsg		 imsg;
	uint32_t		 peer;
	int			 n, v;

	if (!peer_io(iev, event))
		logger_sig(SIGTERM, 0, NULL);
	for (;;) {
		if ((n = imsg_get(&iev->ibuf, &imsg)) == -1)
			fatalx("bad message from parent");
		if (n == 0)
			break;
		switch (imsg.hdr.type) {
		case IMSG_CONF_START:
		case IMSG_CONF_HOST:
		case IMSG_CONF_HOSTSTR:
		case IMSG_CONF_FWDRULE:
		case IMSG_CONF_END:
			if ((nconf = config_recv(&imsg)) != NULL)
				logger_configure(nconf);
			break;
		case IMSG_PEER_FD:
			if (imsg.datalen != sizeof(peer) || imsg.fd == -1)
				fatalx("bad IMSG_PEER_FD");
			memcpy(&peer, imsg.data, sizeof(peer));
			if ((peer != PROC_FRONTEND && peer != PROC_SSH) ||
			    peers[peer] != NULL)
				fatalx("bad peer %u", peer);
			if ((peers[peer] = calloc(1, sizeof(struct imsgev))) ==
			    NULL)
				fatal(NULL);
			imsgev_init(peers[peer], imsg.fd, proc_names[peer],
			    logger_dispatch_peer, (void *)(uintptr_t)peer);
			imsgev_add(peers[peer]);
			imsg.fd = -1;
			break;
		case IMSG_LOG_VERBOSE:
			if (imsg.datalen != sizeof(v))
				fatalx("bad IMSG_LOG_VERBOSE");
			memcpy(&v, imsg.data, sizeof(v));
			log_setverbose(v);
			break;
		default:
			fatalx("unexpected message %u from parent",
			    imsg.hdr.type);
		}
		if (imsg.fd != -1)
			close(imsg.fd);
		imsg_free(&imsg);
	}
	imsgev_add(iev);
}

/* frontend and ssh worker send records; nothing else */
static void
logger_dispatch_peer(int fd, short event, void *arg)
{
	enum bridged_proc	 id = (enum bridged_proc)(uintptr_t)arg;
	struct imsgev		*iev = peers[id];
	struct imsg		 imsg;
	int			 n;

	if (!peer_io(iev, event)) {
		/* the parent sees the death and takes the tree down */
		imsgev_clear(iev);
		free(iev);
		peers[id] = NULL;
		return;
	}
	for (;;) {
		if ((n = imsg_get(&iev->ibuf, &imsg)) == -1)
			fatalx("bad message from %s", proc_names[id]);
		if (n == 0)
			break;
		if (imsg.fd != -1)
			fatalx("unexpected descriptor from %s",
			    proc_names[id]);
		switch (imsg.hdr.type) {
		case IMSG_LOG_RECORD:
			if (imsg.datalen == 0 ||
			    memchr(imsg.data, '\0', imsg.datalen) != NULL)
				fatalx("bad IMSG_LOG_RECORD from %s",
				    proc_names[id]);
			logger_write((char *)imsg.data, imsg.datalen);
			break;
		default:
			fatalx("unexpected message %u from %s",
			    imsg.hdr.type, proc_names[id]);
		}
		imsg_free(&imsg);
	}
	imsgev_add(iev);
}
