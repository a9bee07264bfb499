/*
 * fe_ssh.c: the frontend's side of the ssh workers, one process per host.
 *
 * A worker is started when its host is first needed: what is sent to a
 * host without a worker waits here, in order, while the parent starts
 * one (IMSG_SSH_START) and hands us a socket to it (IMSG_SSH_PEER).  A
 * worker that dies takes only its own host's calls with it: they are
 * answered here at once, and the parent restarts it.  An idle worker asks
 * whether it may go (IMSG_SSH_IDLE) and is told yes only when nothing is
 * in flight or queued for it.
 *
 * Each worker also tells us its host's state whenever it changes, so the
 * hosts tool and bridgectl show hosts are answered from here without
 * waiting on any host.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event.h>
#include <jansson.h>

#include "bridged.h"
#include "frontend.h"
#include "imsg.h"
#include "log.h"
#include "proc.h"
#include "fe_backchan.h"

/* what may wait for one worker to start; a client past it is refused */
#define QUEUE_MAX_BYTES		(64 * 1024 * 1024)
/* a worker whose socket closed, not known to the parent as dead */
#define DYING_WAIT_MS		2000

struct qmsg {
	TAILQ_ENTRY(qmsg)	 entry;
	uint32_t		 type;
	uint32_t		 peerid;
	size_t			 len;
	unsigned char		 data[];
};

struct fe_worker {
	TAILQ_ENTRY(fe_worker)	 entry;
	char			 host[HOST_NAME_LEN];
	struct imsgev		*iev;		/* NULL: not running */
	int			 starting;	/* the parent was asked */
	int			 leaving;	/* told it may go */
	int			 lost;		/* died: warn the next call */
	int			 dying;		/* until the parent says so */
	struct event		 ev_dying;
	pid_t			 pid;
	pid_t			 deadpid;	/* the parent said it died */
	uint32_t		 restarts;
	struct host_state	 st;		/* last reported */
	int			 have_st;
	TAILQ_HEAD(, qmsg)	 queue;
	size_t			 qbytes;
	char			 failed[256];	/* why it could not start */
};

static void		 worker_dispatch(int, short, void *);
static void		 worker_gone(struct fe_worker *, int);
static void		 worker_ask(struct fe_worker *);
static void		 worker_dead(int, short, void *);
static void		 worker_flush(struct fe_worker *);
static void		 queue_free(struct fe_worker *);
static int		 queue_drop(struct fe_worker *, uint32_t);
static struct fe_worker	*worker_get(const char *, int);

static TAILQ_HEAD(, fe_worker)	 workers = TAILQ_HEAD_INITIALIZER(workers);

static struct fe_worker *
worker_get(const char *host, int create)
{
	struct fe_worker	*w;

	TAILQ_FOREACH(w, &workers, entry)
		if (strcmp(w->host, host) == 0)
			return w;
	if (!create)
		return NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	strlcpy(w->host, host, sizeof(w->host));
	TAILQ_INIT(&w->queue);
	evtimer_set(&w->ev_dying, worker_dead, w);
	TAILQ_INSERT_TAIL(&workers, w, entry);
	return w;
}

/* ask the parent for the host's worker, once */
static void
worker_ask(struct fe_worker *w)
{
	struct ssh_peer	 sp;

	if (w->starting || w->dying || frontend_shutting_down())
		return;
	memset(&sp, 0, sizeof(sp));
	strlcpy(sp.host, w->host, sizeof(sp.host));
	if (frontend_compose(PROC_PARENT, IMSG_SSH_START, 0, -1, &sp,
	    sizeof(sp)) == -1) {
		log_warn("asking for the worker of host \"%s\"", w->host);
		return;
	}
	w->starting = 1;
	log_debug("host \"%s\": asked for its ssh worker", w->host);
}

/*
 * Send to the worker of a host, starting it if it is not running.
 * 0: sent or queued; -1: it cannot be (out of memory, queue full).
 */
int
fe_ssh_send(const char *host, uint32_t type, uint32_t peerid,
    const void *data, size_t len)
{
	struct fe_worker	*w;
	struct qmsg		*q;

	if ((w = worker_get(host, 1)) == NULL)
		return -1;
	if (w->iev != NULL && !w->leaving)
		return imsgev_compose(w->iev, type, peerid, -1, data, len);
	if (w->qbytes + len > QUEUE_MAX_BYTES) {
		errno = ENOBUFS;
		return -1;
	}
	if ((q = malloc(sizeof(*q) + len)) == NULL)
		return -1;
	q->type = type;
	q->peerid = peerid;
	q->len = len;
	if (len > 0)
		memcpy(q->data, data, len);
	TAILQ_INSERT_TAIL(&w->queue, q, entry);
	w->qbytes += len;
	if (!w->leaving)
		worker_ask(w);
	return 0;
}

/* send only to a running worker: cancels and session ends start none */
int
fe_ssh_send_running(const char *host, uint32_t type, uint32_t peerid,
    const void *data, size_t len)
{
	struct fe_worker	*w;

	if ((w = worker_get(host, 0)) == NULL ||
	    (w->iev == NULL && TAILQ_EMPTY(&w->queue)))
		return 0;
	/* a call cancelled before it left never leaves */
	if (type == IMSG_SSH_CANCEL && queue_drop(w, peerid))
		return 0;
	return fe_ssh_send(host, type, peerid, data, len);
}

/* drop what waits for a worker for call peerid; 1 if the call was there */
static int
queue_drop(struct fe_worker *w, uint32_t peerid)
{
	struct qmsg	*q, *next;
	int		 found = 0;

	TAILQ_FOREACH_SAFE(q, &w->queue, entry, next) {
		if (q->peerid != peerid || (q->type != IMSG_SSH_CALL &&
		    q->type != IMSG_SSH_CALL_DATA))
			continue;
		if (q->type == IMSG_SSH_CALL)
			found = 1;
		TAILQ_REMOVE(&w->queue, q, entry);
		w->qbytes -= q->len;
		free(q);
	}
	return found;
}

/*
 * A held call whose intent failed, asked back from its worker, which
 * answers IMSG_SSH_DROPPED if it still holds it (and says nothing if it
 * has started it: its answer follows).  1: nothing holds it (it never
 * left, or its worker is gone), or the worker cannot be told (out of
 * memory): it is taken as dropped, which it is unless the logger said
 * "durable" to the worker and then died before it could tell us.
 */
int
fe_ssh_unhold(const char *host, uint32_t reqid)
{
	struct fe_worker	*w;

	if ((w = worker_get(host, 0)) == NULL || queue_drop(w, reqid) ||
	    w->iev == NULL)
		return 1;
	if (imsgev_compose(w->iev, IMSG_SSH_DROP, reqid, -1, NULL, 0) == -1) {
		log_warn("host \"%s\": asking for call %u back", host, reqid);
		return 1;
	}
	return 0;
}

/* to every worker running (or about to); returns how many */
int
fe_ssh_broadcast(uint32_t type, uint32_t peerid, const void *data,
    size_t len, json_t *names)
{
	struct fe_worker	*w;
	int			 n = 0;

	TAILQ_FOREACH(w, &workers, entry) {
		/* running, or starting with something already waiting */
		if ((w->iev == NULL || w->leaving) && TAILQ_EMPTY(&w->queue))
			continue;
		if (fe_ssh_send(w->host, type, peerid, data, len) == -1)
			continue;
		if (names != NULL)
			json_object_set_new(names, w->host, json_true());
		n++;
	}
	return n;
}

/* did the host's worker die since the last call was told so?  Once. */
int
fe_ssh_take_lost(const char *host)
{
	struct fe_worker	*w;
	int			 lost;

	if ((w = worker_get(host, 0)) == NULL)
		return 0;
	lost = w->lost;
	w->lost = 0;
	return lost;
}

int
fe_ssh_running(const char *host)
{
	struct fe_worker	*w;

	return (w = worker_get(host, 0)) != NULL && w->iev != NULL &&
	    !w->leaving;
}

/* the hosts that have a worker now, in no particular order */
json_t *
fe_ssh_names(void)
{
	struct fe_worker	*w;
	json_t			*a;

	if ((a = json_array()) == NULL)
		return NULL;
	TAILQ_FOREACH(w, &workers, entry)
		if (w->iev != NULL && !w->leaving)
			json_array_append_new(a, json_string(w->host));
	return a;
}

/*
 * What we know of a host for show hosts and the hosts tool: the state
 * its worker last reported (borrowed into *st), its pid and restarts.
 * 0 when there is no running worker.
 */
int
fe_ssh_state(const char *host, struct host_state *st, pid_t *pid,
    uint32_t *restarts)
{
	struct fe_worker	*w;

	memset(st, 0, sizeof(*st));
	*pid = 0;
	*restarts = 0;
	if ((w = worker_get(host, 0)) == NULL)
		return 0;
	*restarts = w->restarts;
	if (w->have_st)
		*st = w->st;
	if (w->failed[0] != '\0' && w->iev == NULL) {
		st->state = HOST_FAILED;
		strlcpy(st->last_error, w->failed, sizeof(st->last_error));
	}
	if (w->iev == NULL || w->leaving) {
		if (st->state != HOST_FAILED)
			memset(st, 0, sizeof(*st));
		return 0;
	}
	*pid = w->pid;
	return 1;
}

static void
queue_free(struct fe_worker *w)
{
	struct qmsg	*q;

	while ((q = TAILQ_FIRST(&w->queue)) != NULL) {
		TAILQ_REMOVE(&w->queue, q, entry);
		free(q);
	}
	w->qbytes = 0;
}

static void
worker_flush(struct fe_worker *w)
{
	struct qmsg	*q;

	while ((q = TAILQ_FIRST(&w->queue)) != NULL) {
		TAILQ_REMOVE(&w->queue, q, entry);
		w->qbytes -= q->len;
		if (imsgev_compose(w->iev, q->type, q->peerid, -1, q->data,
		    q->len) == -1)
			log_warn("host \"%s\": queued message", w->host);
		free(q);
	}
}

/* IMSG_SSH_DIED (fe_jobs.c has its cause): it may be asked for again */
void
fe_ssh_died(const char *host, pid_t pid)
{
	struct fe_worker	*w;

	if ((w = worker_get(host, 0)) == NULL)
		return;
	w->deadpid = pid;
	if (w->dying && (w->pid == 0 || w->pid == pid))
		worker_dead(-1, 0, w);
}

/* the parent has said it died, or it was given DYING_WAIT_MS */
static void
worker_dead(int fd, short event, void *arg)
{
	struct fe_worker	*w = arg;

	w->dying = 0;
	evtimer_del(&w->ev_dying);
	if (w->iev == NULL && !TAILQ_EMPTY(&w->queue))
		worker_ask(w);
}

/* IMSG_SSH_PEER: the parent started (or re-wired) a host's worker */
void
fe_ssh_peer(struct imsg *imsg)
{
	struct ssh_peer		 sp;
	struct fe_worker	*w;
	uint32_t		 seq;

	if (imsg->datalen != sizeof(sp) || imsg->fd == -1)
		fatalx("bad IMSG_SSH_PEER");
	memcpy(&sp, imsg->data, sizeof(sp));
	sp.host[sizeof(sp.host) - 1] = '\0';
	if ((w = worker_get(sp.host, 1)) == NULL)
		fatal(NULL);
	if (w->iev != NULL)
		worker_gone(w, 0);	/* the old socket: its EOF not seen */
	if ((w->iev = calloc(1, sizeof(*w->iev))) == NULL)
		fatal(NULL);
	imsgev_init(w->iev, imsg->fd, "ssh worker", worker_dispatch, w);
	imsgev_add(w->iev);
	imsg->fd = -1;
	/* first of all: its bash ids go on above its predecessor's */
	if ((seq = fe_jobs_bashseq(w->host)) > 0 && imsgev_compose(w->iev,
	    IMSG_SSH_JOBSEQ, 0, -1, &seq, sizeof(seq)) == -1)
		log_warn("host \"%s\": IMSG_SSH_JOBSEQ", w->host);
	w->pid = sp.pid;
	w->restarts = sp.restarts;
	w->starting = 0;
	w->leaving = 0;
	w->dying = 0;
	evtimer_del(&w->ev_dying);
	w->failed[0] = '\0';
	log_debug("host \"%s\": ssh worker pid %d", w->host, (int)w->pid);
	worker_flush(w);
}

/* IMSG_SSH_STARTFAIL: the host's worker will not come; say why */
void
fe_ssh_startfail(struct imsg *imsg)
{
	struct ssh_peer		 sp;
	struct fe_worker	*w;
	size_t			 len;

	if (imsg->datalen < sizeof(sp))
		fatalx("bad IMSG_SSH_STARTFAIL");
	memcpy(&sp, imsg->data, sizeof(sp));
	sp.host[sizeof(sp.host) - 1] = '\0';
	if ((w = worker_get(sp.host, 1)) == NULL)
		return;
	len = imsg->datalen - sizeof(sp);
	if (len > sizeof(w->failed) - 1)
		len = sizeof(w->failed) - 1;
	memcpy(w->failed, (char *)imsg->data + sizeof(sp), len);
	w->failed[len] = '\0';
	w->starting = 0;
	log_warnx("host \"%s\": %s", w->host, w->failed);
	queue_free(w);
	mcp_worker_gone(w->host, w->failed);
	control_worker_gone(w->host);
}

/*
 * The worker's socket closed (eof: it died, or went when it was idle),
 * or we dropped it.
 */
static void
worker_gone(struct fe_worker *w, int eof)
{
	char	 why[512];
	int	 leaving = w->leaving;
	pid_t	 pid = w->pid;

	imsgev_clear(w->iev);
	close(w->iev->ibuf.fd);
	free(w->iev);
	w->iev = NULL;
	w->leaving = 0;
	w->pid = 0;
	w->have_st = 0;
	/* its runs died with it (their watchdogs), and so do their tokens */
	backchan_host_gone(w->host);
	if (!leaving) {
		/* before its calls fail: those on its jobs are told "lost" */
		fe_jobs_worker_gone(w->host, pid);
		if (!frontend_shutting_down())
			log_warnx("host \"%s\": lost its ssh worker", w->host);
		snprintf(why, sizeof(why), "the connection to host \"%s\" "
		    "was lost (its ssh worker died); its shell state is gone;"
		    " bridged restarts the worker, and the next call "
		    "reconnects", w->host);
		mcp_worker_gone(w->host, why);
		control_worker_gone(w->host);
		w->lost = 1;
		/*
		 * Not asked for again before the parent has seen it die
		 * (IMSG_SSH_DIED): until then the parent takes it for alive
		 * and would wire us to the dead one.  It restarts it and
		 * wires the new one itself; a worker that closed its socket
		 * and lives on is asked for after DYING_WAIT_MS.
		 */
		if (eof && w->deadpid != pid) {
			struct timeval	 tv = { DYING_WAIT_MS / 1000,
			    (DYING_WAIT_MS % 1000) * 1000 };

			w->dying = 1;
			evtimer_add(&w->ev_dying, &tv);
		}
	}
	/* what came while it was leaving goes to the next one */
	if (!TAILQ_EMPTY(&w->queue))
		worker_ask(w);
}

/* IMSG_SSH_IDLE: nothing of ours in flight there and nothing waiting */
static void
worker_idle(struct fe_worker *w)
{
	if (!TAILQ_EMPTY(&w->queue) || mcp_worker_busy(w->host) ||
	    control_worker_busy(w->host) || w->leaving)
		return;
	if (imsgev_compose(w->iev, IMSG_SSH_IDLE_OK, 0, -1, NULL, 0) == -1)
		return;
	w->leaving = 1;
	log_debug("host \"%s\": idle ssh worker may go", w->host);
}

/*
 * A worker is not trusted with the frontend's life: a message that makes
 * no sense costs that worker its socket (and its host its calls), and
 * the worker, seeing the frontend go, exits and is restarted.
 */
static void
worker_bad(struct fe_worker *w, const char *what, uint32_t type)
{
	log_warnx("host \"%s\": %s (message %u) from its ssh worker: "
	    "dropping it", w->host, what, type);
	worker_gone(w, 0);
}

static void
worker_dispatch(int fd, short event, void *arg)
{
	struct fe_worker	*w = arg;
	struct imsgev		*iev = w->iev;
	struct imsg		 imsg;
	struct host_state	 hs;
	ssize_t			 n;

	if (!proc_peer_io(iev, event)) {
		worker_gone(w, 1);
		return;
	}
	for (;;) {
		if ((n = imsg_get(&iev->ibuf, &imsg)) == -1) {
			worker_bad(w, "bad framing", 0);
			return;
		}
		if (n == 0)
			break;
		if (imsg.fd != -1) {
			close(imsg.fd);
			imsg_free(&imsg);
			worker_bad(w, "a descriptor", imsg.hdr.type);
			return;
		}
		switch (imsg.hdr.type) {
		case IMSG_SSH_HOSTSTATE:
			if (imsg.datalen != sizeof(hs))
				goto bad;
			memcpy(&hs, imsg.data, sizeof(hs));
			hs.fingerprint[sizeof(hs.fingerprint) - 1] = '\0';
			hs.last_error[sizeof(hs.last_error) - 1] = '\0';
			w->st = hs;
			w->have_st = 1;
			break;
		case IMSG_SSH_IDLE:
			if (imsg.datalen != 0)
				goto bad;
			worker_idle(w);
			break;
		case IMSG_SSH_RESULT_DATA:
		case IMSG_SSH_RESULT:
		case IMSG_SSH_PROGRESS:
		case IMSG_SSH_LOG:
			if ((imsg.hdr.peerid & CTL_REQID_BIT) ||
			    mcp_dispatch_ssh(w->host, &imsg) == -1)
				goto bad;
			break;
		case IMSG_SSH_DROPPED:
			/* a held call let go unrun: its text says why */
			if ((imsg.hdr.peerid & CTL_REQID_BIT) ||
			    imsg.datalen > 1024)
				goto bad;
			audit_dropped(w->host, &imsg);
			break;
		case IMSG_SSH_BACKCHAN:
		case IMSG_SSH_BACKCHAN_END:
			if (backchan_dispatch(w->host, &imsg) == -1)
				goto bad;
			break;
		case IMSG_SSH_JOBNOTE:
			if (fe_jobs_note(w->host, w->pid, &imsg) == -1)
				goto bad;
			break;
		case IMSG_SSH_END:
		case IMSG_SSH_DELEGINFO:
		case IMSG_SSH_DELEG_KILLED:
		case IMSG_SSH_FWD_INFO:
		case IMSG_SSH_FWD_CLOSED:
			/* only bridgectl asks about delegations, forwards */
			if ((imsg.hdr.peerid & CTL_REQID_BIT) == 0 ||
			    control_dispatch_ssh(w->host, &imsg) == -1)
				goto bad;
			break;
		default:
			goto bad;
		}
		imsg_free(&imsg);
		/* what we did may have ended this worker's socket */
		if (w->iev != iev)
			return;
		continue;
 bad:
		imsg_free(&imsg);
		worker_bad(w, "an unexpected or malformed message",
		    imsg.hdr.type);
		return;
	}
	imsgev_add(iev);
}
