/*
 * logger.c: the process that writes what the daemon did.  It is fed only
 * over imsg and may reach only its two directories (Landlock): the text
 * log's and the audit database's.  Here: its peers (the parent, the
 * frontend, a socket per ssh worker) and what each may send; the
 * records go to logger_queue.c, the requests that read them back to
 * logger_ctl.c, the relay's to logger_relay.c.
 */

#include <sys/types.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event.h>

#include "logger_audit.h"
#include "bridged.h"
#include "imsg.h"
#include "log.h"
#include "proc.h"
#include "sandbox.h"
#include "logger.h"

static void	 logger_sig(int, short, void *);
static void	 logger_dispatch_parent(int, short, void *);
static void	 logger_dispatch_peer(int, short, void *);

static struct imsgev		*parent;
/*
 * The frontend and the ssh workers (one per host): each connection has
 * a handle never used again, so an answer owed to one that died (an
 * intent's ack, a job lookup) is dropped rather than given to its
 * successor.
 */
static TAILQ_HEAD(lpeerq, lpeer) lpeers = TAILQ_HEAD_INITIALIZER(lpeers);
static int			 lpeer_next = 1;
struct lpeer			*fe_peer;	/* the frontend, or NULL */

struct imsgev *
lpeer_iev(int handle)
{
	struct lpeer	*p;

	TAILQ_FOREACH(p, &lpeers, entry)
		if (p->handle == handle)
			return &p->iev;
	return NULL;
}

static void
lpeer_free(struct lpeer *p)
{
	imsgev_clear(&p->iev);
	close(p->iev.ibuf.fd);
	TAILQ_REMOVE(&lpeers, p, entry);
	if (p == fe_peer) {
		fe_peer = NULL;
		logq_nofollow();
	}
	free(p);
}

/* a socket to the frontend (IMSG_PEER_FD) or a host's worker */
static void
lpeer_add(enum bridged_proc kind, const char *host, int fd)
{
	struct lpeer	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		fatal(NULL);
	p->handle = lpeer_next++;
	p->kind = kind;
	if (host != NULL)
		snprintf(p->name, sizeof(p->name), "ssh %s", host);
	else
		strlcpy(p->name, proc_names[kind], sizeof(p->name));
	imsgev_init(&p->iev, fd, p->name, logger_dispatch_peer, p);
	imsgev_add(&p->iev);
	TAILQ_INSERT_TAIL(&lpeers, p, entry);
	if (kind == PROC_FRONTEND) {
		/* a restarted frontend replaces one whose EOF is not seen */
		if (fe_peer != NULL)
			lpeer_free(fe_peer);
		fe_peer = p;
	}
}

void
logger_main(struct proc_args *pa)
{
	parent = proc_child_init(pa, "logger",
	    logger_dispatch_parent, logger_sig);
	logq_init();
	sandbox_logger(pa->dirs[0], pa->dirs[1], pa->dirs[2]);
	proc_child_ready(parent, "logger");
	event_dispatch();
	exit(0);
}

static void
logger_sig(int sig, short event, void *arg)
{
	if (sig == SIGTERM || sig == SIGINT) {
		logq_shutdown();
		relay_close();
		exit(0);
	}
}

/* the newest socket of host's worker (a restarted one's), or NULL */
struct lpeer *
lpeer_worker(const char *host)
{
	struct lpeer	*p;
	char		 name[sizeof(p->name)];

	snprintf(name, sizeof(name), "ssh %s", host);
	TAILQ_FOREACH_REVERSE(p, &lpeers, lpeerq, entry)
		if (p->kind == PROC_SSH && strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

/* the lazy messages to every peer are due */
void
lpeers_flush_lazy(void)
{
	struct lpeer	*p;

	TAILQ_FOREACH(p, &lpeers, entry)
		imsgev_flush_lazy(&p->iev);
}

static void
logger_dispatch_parent(int fd, short event, void *arg)
{
	struct imsgev		*iev = parent;
	struct bridged_conf	*nconf;
	struct ssh_peer		 sp;
	struct imsg		 imsg;
	uint32_t		 peer;

	if (!proc_peer_io(iev, event))
		logger_sig(SIGTERM, 0, NULL);
	while (proc_imsg_get(iev, &imsg, "parent", 1)) {
		switch (imsg.hdr.type) {
		case IMSG_CONF_START:
		case IMSG_CONF_HOST:
		case IMSG_CONF_HOSTSTR:
		case IMSG_CONF_FWDRULE:
		case IMSG_CONF_LISTENER:
		case IMSG_CONF_CLIENT:
		case IMSG_CONF_CLIENTHOST:
		case IMSG_CONF_END:
			if ((nconf = config_recv(&imsg)) != NULL)
				logger_configure(nconf);
			break;
		case IMSG_PEER_FD:
			if (imsg.datalen != sizeof(peer) || imsg.fd == -1)
				fatalx("bad IMSG_PEER_FD");
			memcpy(&peer, imsg.data, sizeof(peer));
			if (peer != PROC_FRONTEND)
				fatalx("bad peer %u", peer);
			lpeer_add(PROC_FRONTEND, NULL, imsg.fd);
			imsg.fd = -1;
			break;
		case IMSG_SSH_PEER:
			if (imsg.datalen != sizeof(sp) || imsg.fd == -1)
				fatalx("bad IMSG_SSH_PEER");
			memcpy(&sp, imsg.data, sizeof(sp));
			sp.host[sizeof(sp.host) - 1] = '\0';
			lpeer_add(PROC_SSH, sp.host, imsg.fd);
			imsg.fd = -1;
			break;
		case IMSG_LOG_VERBOSE:
			proc_verbose(&imsg);
			break;
		case IMSG_LOG_RECORD:
			/* daemon events: start, reload, child deaths */
			enqueue(-1, 0, 0, NULL, imsg.data, imsg.datalen);
			break;
		default:
			fatalx("unexpected message %u from parent",
			    imsg.hdr.type);
		}
		if (imsg.fd != -1)
			close(imsg.fd);
		imsg_free(&imsg);
	}
	logger_flush();
	imsgev_add(iev);
}

/*
 * The frontend and the ssh workers: records, intents, queries.  A worker
 * only records and reads back its jobs; a message it may not send costs
 * it its socket, never the logger its life.
 */
static void
logger_dispatch_peer(int fd, short event, void *arg)
{
	struct lpeer		*p = arg;
	struct imsgev		*iev = &p->iev;
	struct imsg		 imsg;
	int32_t			 on;
	int			 gone, fe = p->kind == PROC_FRONTEND;
	ssize_t			 n;

	/* what a peer sent before it died is still recorded, below */
	gone = !proc_peer_io(iev, event);
	for (;;) {
		if ((n = imsg_get(&iev->ibuf, &imsg)) == -1) {
			log_warnx("bad message from %s", p->name);
			gone = 1;
			break;
		}
		if (n == 0)
			break;
		if (imsg.fd != -1) {
			close(imsg.fd);
			imsg_free(&imsg);
			log_warnx("unexpected descriptor from %s", p->name);
			gone = 1;
			break;
		}
		switch (imsg.hdr.type) {
		case IMSG_LOG_RECORD:
		case IMSG_LOG_INTENT:
			enqueue(p->handle, imsg.hdr.peerid,
			    imsg.hdr.type == IMSG_LOG_INTENT, NULL, imsg.data,
			    imsg.datalen);
			break;
		case IMSG_LOG_INTENT_HELD:
			if (!fe)
				goto bad;
			do_intent_held(p, &imsg);
			break;
		case IMSG_LOG_QUERY:
			if (!fe)
				goto bad;
			do_query(&imsg);
			break;
		case IMSG_LOG_HISTORY:
			do_history(p, &imsg);
			break;
		case IMSG_LOG_VERIFY:
			if (!fe)
				goto bad;
			do_verify(&imsg);
			break;
		case IMSG_LOG_ROTATE:
			if (!fe || imsg.datalen != 0)
				goto bad;
			do_rotate(&imsg);
			break;
		case IMSG_RELAY_REQ:
			if (!fe || imsg.datalen == 0 ||
			    imsg.datalen > IMSG_MAXPAYLOAD)
				goto bad;
			relay_request(iev, imsg.hdr.peerid, imsg.data,
			    imsg.datalen);
			break;
		case IMSG_LOG_FOLLOW:
			if (!fe || imsg.datalen != sizeof(on))
				goto bad;
			memcpy(&on, imsg.data, sizeof(on));
			logq_follow(on);
			break;
		default:
			goto bad;
		}
		imsg_free(&imsg);
		continue;
 bad:
		log_warnx("unexpected message %u (%zu bytes) from %s: "
		    "dropping it", imsg.hdr.type, imsg.datalen, p->name);
		imsg_free(&imsg);
		gone = 1;
		break;
	}
	flush_turn();
	if (gone)
		lpeer_free(p);
	else
		imsgev_add(iev);
}
