/*
 * sshworker.c: the process that speaks SSH to the configured hosts with
 * libssh.  It may not create sockets, connect or run programs: the
 * parent makes the TCP connections and hands over connected descriptors,
 * and keys arrive as data.  It runs chrooted (when started as root) with
 * no filesystem reach at all.
 */

#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event.h>
#include <libssh/libssh.h>

#include "bridged.h"
#include "imsg.h"
#include "log.h"
#include "proc.h"
#include "sandbox.h"

struct sshhost {
	TAILQ_ENTRY(sshhost)	 entry;
	struct host_state	 st;
	char			 name[HOST_NAME_LEN];
};

static void	 ssh_sig(int, short, void *);
static void	 ssh_dispatch_parent(int, short, void *);
static void	 ssh_dispatch_frontend(int, short, void *);
static void	 ssh_dispatch_logger(int, short, void *);
static void	 ssh_configure(struct bridged_conf *);
static int	 peer_io(struct imsgev *, short);

static struct bridged_conf	*conf;
static struct imsgev		*peers[PROC_MAX];
static TAILQ_HEAD(, sshhost)	 sshhosts = TAILQ_HEAD_INITIALIZER(sshhosts);

void
sshworker_main(struct proc_args *pa)
{
	struct event	 ev_term, ev_int, ev_hup;

	/* libssh's crypto set-up may read what it needs before the drop */
	if (ssh_init() != SSH_OK)
		fatalx("ssh_init failed");
	proc_droppriv(pa, "ssh");
	log_setverbose(pa->verbose);

	event_init();
	signal(SIGPIPE, SIG_IGN);
	signal_set(&ev_term, SIGTERM, ssh_sig, NULL);
	signal_set(&ev_int, SIGINT, ssh_sig, NULL);
	signal_set(&ev_hup, SIGHUP, ssh_sig, NULL);
	signal_add(&ev_term, NULL);
	signal_add(&ev_int, NULL);
	signal_add(&ev_hup, NULL);

	if ((peers[PROC_PARENT] = calloc(1, sizeof(struct imsgev))) == NULL)
		fatal(NULL);
	imsgev_init(peers[PROC_PARENT], PROC_PARENT_FD, "parent",
	    ssh_dispatch_parent, NULL);

	sandbox_sshworker();

	imsgev_add(peers[PROC_PARENT]);
	if (imsgev_compose(peers[PROC_PARENT], IMSG_READY, 0, -1, NULL,
	    0) == -1)
		fatal("ssh");
	event_dispatch();
	exit(0);
}

static void
ssh_sig(int sig, short event, void *arg)
{
	if (sig == SIGTERM || sig == SIGINT)
		exit(0);
}

/* keep the state of hosts that stay across a reload */
static void
ssh_configure(struct bridged_conf *nconf)
{
	TAILQ_HEAD(, sshhost)	 old;
	struct sshhost		*sh, *osh;
	struct host		*h;

	TAILQ_INIT(&old);
	TAILQ_CONCAT(&old, &sshhosts, entry);
	TAILQ_FOREACH(h, &nconf->hosts, entry) {
		TAILQ_FOREACH(osh, &old, entry)
			if (strcmp(osh->name, h->name) == 0)
				break;
		if (osh != NULL) {
			TAILQ_REMOVE(&old, osh, entry);
			sh = osh;
		} else {
			if ((sh = calloc(1, sizeof(*sh))) == NULL)
				fatal(NULL);
			strlcpy(sh->name, h->name, sizeof(sh->name));
			sh->st.state = HOST_DISCONNECTED;
			sh->st.since = time(NULL);
		}
		sh->st.hostid = h->id;
		TAILQ_INSERT_TAIL(&sshhosts, sh, entry);
	}
	while ((sh = TAILQ_FIRST(&old)) != NULL) {
		TAILQ_REMOVE(&old, sh, entry);
		free(sh);
	}
	if (conf != NULL)
		config_free(conf);
	conf = nconf;
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
ssh_dispatch_parent(int fd, short event, void *arg)
{
	struct imsgev		*iev = peers[PROC_PARENT];
	struct bridged_conf	*nconf;
	struct imsg		 imsg;
	uint32_t		 peer;
	int			 n, v;

	if (!peer_io(iev, event))
		exit(0);
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
				ssh_configure(nconf);
			break;
		case IMSG_PEER_FD:
			if (imsg.datalen != sizeof(peer) || imsg.fd == -1)
				fatalx("bad IMSG_PEER_FD");
			memcpy(&peer, imsg.data, sizeof(peer));
			if ((peer != PROC_FRONTEND && peer != PROC_LOGGER) ||
			    peers[peer] != NULL)
				fatalx("bad peer %u", peer);
			if ((peers[peer] = calloc(1, sizeof(struct imsgev))) ==
			    NULL)
				fatal(NULL);
			imsgev_init(peers[peer], imsg.fd, proc_names[peer],
			    peer == PROC_FRONTEND ? ssh_dispatch_frontend :
			    ssh_dispatch_logger, NULL);
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

static void
ssh_dispatch_frontend(int fd, short event, void *arg)
{
	struct imsgev	*iev = peers[PROC_FRONTEND];
	struct sshhost	*sh;
	struct imsg	 imsg;
	int		 n;

	if (!peer_io(iev, event))
		exit(0);
	for (;;) {
		if ((n = imsg_get(&iev->ibuf, &imsg)) == -1)
			fatalx("bad message from frontend");
		if (n == 0)
			break;
		if (imsg.fd != -1)
			fatalx("unexpected descriptor from frontend");
		switch (imsg.hdr.type) {
		case IMSG_SSH_HOSTS:
			if (imsg.datalen != 0)
				fatalx("bad IMSG_SSH_HOSTS");
			TAILQ_FOREACH(sh, &sshhosts, entry)
				if (imsgev_compose(iev, IMSG_SSH_HOSTSTATE,
				    imsg.hdr.peerid, -1, &sh->st,
				    sizeof(sh->st)) == -1)
					fatal("ssh");
			if (imsgev_compose(iev, IMSG_SSH_END, imsg.hdr.peerid,
			    -1, NULL, 0) == -1)
				fatal("ssh");
			break;
		default:
			fatalx("unexpected message %u from frontend",
			    imsg.hdr.type);
		}
		imsg_free(&imsg);
	}
	imsgev_add(iev);
}

static void
ssh_dispatch_logger(int fd, short event, void *arg)
{
	struct imsgev	*iev = peers[PROC_LOGGER];
	struct imsg	 imsg;
	int		 n;

	if (!peer_io(iev, event))
		exit(0);
	for (;;) {
		if ((n = imsg_get(&iev->ibuf, &imsg)) == -1)
			fatalx("bad message from logger");
		if (n == 0)
			break;
		fatalx("unexpected message %u from logger", imsg.hdr.type);
	}
	imsgev_add(iev);
}
