/*
 * frontend.c: the process that faces clients.  It is the only one that
 * parses JSON from MCP clients and bridgectl, so it holds nothing worth
 * stealing: chrooted to an empty directory, unprivileged, and under a
 * seccomp filter that kills it if it tries to open a file, create a
 * socket or run a program.  This file holds its start-up and one
 * dispatch function per peer; fe_mcp.c, fe_tools.c and fe_control.c do the work.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event.h>
#include <jansson.h>

#include "bridged.h"
#include "frontend.h"
#include "fe_relay.h"
#include "imsg.h"
#include "log.h"
#include "proc.h"
#include "fe_backchan.h"
#include "sandbox.h"

static void	 frontend_sig(int, short, void *);
static void	 frontend_dispatch_parent(int, short, void *);
static void	 frontend_dispatch_logger(int, short, void *);
static void	 peer_gone(enum bridged_proc);
static void	 frontend_lazy(int, short, void *);

/* a record waits this long at most to leave with a message */
#define RECORD_LAZY_MS	10

struct bridged_conf	*frontend_conf;
static struct imsgev	*peers[PROC_MAX];
static int		 shutting_down;
static int		 logger_seen;	/* >1: a restarted logger */
static int		 stdio_out = -1;	/* bridged -i, until its stdin */
static struct event	 ev_lazy;		/* records are due */

/* the siblings the parent may hand us a socket to */
static void (*const peer_dispatch[PROC_MAX])(int, short, void *) = {
	[PROC_LOGGER] = frontend_dispatch_logger,
};

void
frontend_main(struct proc_args *pa)
{
	peers[PROC_PARENT] = proc_child_init(pa, "frontend",
	    frontend_dispatch_parent, frontend_sig);
	evtimer_set(&ev_lazy, frontend_lazy, NULL);
	mcp_init();
	sandbox_frontend();
	proc_child_ready(peers[PROC_PARENT], "frontend");
	event_dispatch();
	control_exit();
	if (peers[PROC_LOGGER] != NULL)
		imsgbuf_flush(&peers[PROC_LOGGER]->ibuf);
	exit(0);
}

static void
frontend_sig(int sig, short event, void *arg)
{
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		/*
		 * Sessions are freed on the next loop turn, which is when
		 * their end records go out: give the loop a moment.
		 */
		mcp_close_all();
		control_stop();
		event_loopexit(&(struct timeval){ 0, 200000 });
		break;
	default:
		/* SIGHUP goes to the parent; a terminal's HUP is ignored */
		break;
	}
}

int
frontend_compose(enum bridged_proc to, uint32_t type, uint32_t peerid,
    int fd, const void *data, size_t len)
{
	return proc_compose(peers, to, type, peerid, fd, data, len);
}

/* what is queued for a sibling, written now (what the socket takes) */
void
frontend_push(enum bridged_proc to)
{
	if (peers[to] != NULL && peers[to]->ibuf.queued > 0)
		(void)imsgbuf_write(&peers[to]->ibuf);
}

/*
 * A record nobody waits for (an outcome, a session's end): the logger
 * commits it with the next intent or FLUSH_DEFER_MS on.  It is queued
 * lazily and leaves right after the next answer written to a client
 * (frontend_push_records), with the next message for the logger (in
 * order, ahead of it) or within RECORD_LAZY_MS, whichever comes first:
 * a call's outcome follows its answer, and the logger seals and inserts
 * it while the client reads that answer and sends its next request, so
 * that the next intent's commit has only itself to insert.
 */
void
frontend_record(json_t *rec)
{
	char	*s;

	if ((s = json_dumps(rec, JSON_COMPACT)) == NULL)
		return;
	frontend_record_text(s);
	free(s);
}

void
frontend_record_text(const char *s)
{
	struct iovec	 iov;
	struct timeval	 tv = { 0, RECORD_LAZY_MS * 1000 };

	iov.iov_base = (void *)(uintptr_t)s;
	iov.iov_len = strlen(s);
	if (iov.iov_len > IMSG_MAXPAYLOAD - 4096)
		log_warnx("record of %zu bytes not logged", iov.iov_len);
	else if (peers[PROC_LOGGER] == NULL)
		audit_backlog(s, iov.iov_len);	/* for its replacement */
	else if (imsgev_compose_lazy(peers[PROC_LOGGER], IMSG_LOG_RECORD, 0,
	    &iov, 1) == -1)
		log_warn("record");
	else if (!evtimer_pending(&ev_lazy, NULL))
		evtimer_add(&ev_lazy, &tv);
}

/* a client's answer is out: the records queued behind it follow it now */
void
frontend_push_records(void)
{
	struct imsgev	*iev = peers[PROC_LOGGER];

	if (iev == NULL || iev->ibuf.queued == 0 || !iev->lazy)
		return;
	(void)imsgbuf_write(&iev->ibuf);
	imsgev_flush_lazy(iev);
}

static void
frontend_lazy(int fd, short event, void *arg)
{
	if (peers[PROC_LOGGER] != NULL)
		imsgev_flush_lazy(peers[PROC_LOGGER]);
}

int
frontend_shutting_down(void)
{
	return shutting_down;
}

void
frontend_check_drained(void)
{
	if (shutting_down && mcp_inflight() == 0) {
		/* the last records go before the parent ends the logger */
		frontend_push(PROC_LOGGER);
		frontend_compose(PROC_PARENT, IMSG_DRAINED, 0, -1, NULL, 0);
	}
}

/*
 * A record the dead logger never got a byte of (one queued lazily, as
 * outcomes are, or behind a full socket) goes to the backlog, which its
 * replacement is sent first.  Intents are not: their calls fail.
 */
static void
record_unsent(uint32_t type, const uint8_t *data, size_t len, void *arg)
{
	if (type == IMSG_LOG_RECORD && len > 0)
		audit_backlog((const char *)data, len);
}

static void
peer_gone(enum bridged_proc id)
{
	/* the parent sees the death too, and restarts the logger */
	/* at shutdown the others go first: that is no news */
	if (id != PROC_LOGGER && !shutting_down)
		log_warnx("lost %s", proc_names[id]);
	if (id == PROC_LOGGER && !shutting_down) {
		evtimer_del(&ev_lazy);
		imsgbuf_unsent(&peers[id]->ibuf, record_unsent, NULL);
	}
	proc_peer_free(peers, id);
	if (id == PROC_PARENT)
		exit(0);
	if (id == PROC_LOGGER) {
		audit_logger_down();
		relay_logger_down();
	}
}

static void
frontend_dispatch_parent(int fd, short event, void *arg)
{
	struct imsgev		*iev = peers[PROC_PARENT];
	struct bridged_conf	*nconf;
	struct imsg		 imsg;
	struct stdio_peer	 sp;
	int			 v, status;

	if (!proc_peer_io(iev, event)) {
		peer_gone(PROC_PARENT);
		return;
	}
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
			if ((nconf = config_recv(&imsg)) != NULL) {
				if (frontend_conf != NULL) {
					/* what each session lists, before */
					mcp_config_changing();
					config_free(frontend_conf);
				}
				frontend_conf = nconf;
				log_debug("configuration with %s hosts",
				    TAILQ_EMPTY(&nconf->hosts) ? "no" :
				    "some");
				/* what the hosts allow may have changed */
				mcp_config_changed();
				backchan_reload();
			}
			break;
		case IMSG_PEER_FD:
			/* a restarted logger replaces the dead one */
			if (proc_peer_fd(&imsg, peers, peer_dispatch,
			    peer_gone) == PROC_LOGGER && logger_seen++ > 0)
				audit_logger_up();
			break;
		case IMSG_SSH_PEER:
			fe_ssh_peer(&imsg);
			break;
		case IMSG_SSH_STARTFAIL:
			fe_ssh_startfail(&imsg);
			break;
		case IMSG_SSH_DIED:
			fe_jobs_died(&imsg);
			break;
		case IMSG_MCP_LISTEN:
			if (imsg.datalen != 0 || imsg.fd == -1 ||
			    frontend_conf == NULL)
				fatalx("bad IMSG_MCP_LISTEN");
			mcp_listen(imsg.fd);
			imsg.fd = -1;
			break;
		case IMSG_CTL_LISTEN:
			if (imsg.datalen != 0 || imsg.fd == -1 ||
			    frontend_conf == NULL)
				fatalx("bad IMSG_CTL_LISTEN");
			control_listen(imsg.fd);
			imsg.fd = -1;
			break;
		case IMSG_HTTP_LISTEN:
			if (imsg.datalen != sizeof(uint32_t) || imsg.fd == -1 ||
			    frontend_conf == NULL)
				fatalx("bad IMSG_HTTP_LISTEN");
			memcpy(&v, imsg.data, sizeof(uint32_t));
			http_listen((uint32_t)v, imsg.fd);
			imsg.fd = -1;
			break;
		case IMSG_STDIO_OUT:
			if (imsg.datalen != 0 || imsg.fd == -1 ||
			    stdio_out != -1)
				fatalx("bad IMSG_STDIO_OUT");
			stdio_out = imsg.fd;
			imsg.fd = -1;
			break;
		case IMSG_STDIO_IN:
			if (imsg.datalen != sizeof(sp) || imsg.fd == -1 ||
			    stdio_out == -1 || frontend_conf == NULL)
				fatalx("bad IMSG_STDIO_IN");
			memcpy(&sp, imsg.data, sizeof(sp));
			mcp_stdio(imsg.fd, stdio_out, (uid_t)sp.uid,
			    (pid_t)sp.pid);
			imsg.fd = -1;
			break;
		case IMSG_LOG_VERBOSE:
			proc_verbose(&imsg);
			break;
		case IMSG_CTL_RESULT:
			if (imsg.datalen < sizeof(status))
				fatalx("bad IMSG_CTL_RESULT");
			memcpy(&status, imsg.data, sizeof(status));
			/* data carries a NUL after datalen (imsg.c) */
			control_result(imsg.hdr.peerid, status,
			    (char *)imsg.data + sizeof(status));
			break;
		case IMSG_SHUTDOWN:
			if (imsg.datalen != sizeof(v))
				fatalx("bad IMSG_SHUTDOWN");
			shutting_down = 1;
			mcp_stop_accepting();
			http_stop_accepting();
			log_info("draining: %d request%s in flight",
			    mcp_inflight(), mcp_inflight() == 1 ? "" : "s");
			frontend_check_drained();
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
frontend_dispatch_logger(int fd, short event, void *arg)
{
	struct imsgev	*iev = peers[PROC_LOGGER];
	struct imsg	 imsg;

	if (!proc_peer_io(iev, event)) {
		peer_gone(PROC_LOGGER);
		return;
	}
	while (proc_imsg_get(iev, &imsg, "logger", 0)) {
		switch (imsg.hdr.type) {
		case IMSG_LOG_ACK:
			audit_ack(&imsg);
			break;
		case IMSG_LOG_DATA:
		case IMSG_LOG_END:
			control_dispatch_logger(&imsg);
			break;
		case IMSG_RELAY_DATA:
		case IMSG_RELAY_REPLY:
		case IMSG_RELAY_EVENT:
			relay_dispatch(&imsg);
			break;
		default:
			fatalx("unexpected message %u from logger",
			    imsg.hdr.type);
		}
		imsg_free(&imsg);
		/* answering may have ended this logger: never in practice */
		if (peers[PROC_LOGGER] != iev)
			return;
	}
	imsgev_add(iev);
}
