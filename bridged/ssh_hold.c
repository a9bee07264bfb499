/*
 * ssh_hold.c: calls that wait in the ssh worker for their intent.
 *
 * A call that needs a durable intent reaches us together with its intent
 * reaching the logger (CALL_HELD), so that the one fsync the call costs
 * is not followed by a turn through the frontend.  Such a call is parsed
 * and kept here, and nothing of it runs until the logger's own socket
 * says IMSG_LOG_DURABLE for exactly its request id and token.  The two
 * sockets race: a durable-ack that comes before its call is kept (for
 * as long as a call is held at most) and the call runs as it arrives;
 * the token, random per call, makes it that call's only.  Anything
 * else lets it go unrun: the frontend asking (its intent failed), the
 * frontend going, the logger going (what it had not said it never will:
 * a restarted logger knows nothing of the intent), or HOLD_MAX_S seconds
 * without a word.  The frontend is told IMSG_SSH_DROPPED whenever it is
 * there to hear it, and answers the call once from that.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event.h>
#include <jansson.h>

#include "bridged.h"
#include "imsg.h"
#include "log.h"
#include "ssh.h"

/* a durable intent takes one fsync; a logger this late is not there */
#define HOLD_MAX_S	30
/* durable-acks kept for calls still on their way, at most */
#define EARLY_MAX	1024

struct held {
	TAILQ_ENTRY(held)	 entry;
	struct sshcall		*call;		/* NULL: a durable-ack only */
	uint32_t		 reqid;
	uint32_t		 hostid;
	uint64_t		 token;
	time_t			 since;		/* monotonic seconds */
};

static TAILQ_HEAD(, held)	 helds = TAILQ_HEAD_INITIALIZER(helds);
/* durable-acks ahead of their calls: call is NULL */
static TAILQ_HEAD(, held)	 early = TAILQ_HEAD_INITIALIZER(early);
static size_t			 nearly;

static struct held	*hold_find(uint32_t);
static void		 hold_free(struct held *);
static void		 hold_drop(struct held *, const char *);

static time_t
mono_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static struct held *
hold_find(uint32_t reqid)
{
	struct held	*h;

	TAILQ_FOREACH(h, &helds, entry)
		if (h->reqid == reqid)
			return h;
	return NULL;
}

static void
hold_free(struct held *h)
{
	TAILQ_REMOVE(&helds, h, entry);
	json_decref(h->call->args);
	free(h->call);
	free(h);
}

/* let it go unrun, and say why to the frontend */
static void
hold_drop(struct held *h, const char *why)
{
	log_debug("call %u (%s) let go unrun: %s", h->call->reqid,
	    h->call->tool, why);
	if (ssh_compose(PROC_FRONTEND, IMSG_SSH_DROPPED, h->call->reqid, -1,
	    why, strlen(why)) == -1)
		log_warn("%s", __func__);
	hold_free(h);
}

static void
early_free(struct held *h)
{
	TAILQ_REMOVE(&early, h, entry);
	nearly--;
	free(h);
}

/*
 * A call (taken) that may run once its intent is durable.  1: it was
 * already (its durable-ack came first) and runs now, the caller's again.
 */
int
hold_add(struct sshcall *call, uint32_t hostid, uint64_t token)
{
	struct held	*h;

	TAILQ_FOREACH(h, &early, entry)
		if (h->reqid == call->reqid && h->token == token) {
			early_free(h);
			return 1;
		}

	/* the frontend's request ids are unique among its calls in flight */
	if (hold_find(call->reqid) != NULL)
		fatalx("call %u held twice", call->reqid);
	if ((h = calloc(1, sizeof(*h))) == NULL)
		fatal(NULL);
	h->call = call;
	h->reqid = call->reqid;
	h->hostid = hostid;
	h->token = token;
	h->since = mono_now();
	TAILQ_INSERT_TAIL(&helds, h, entry);
	return 0;
}

/*
 * IMSG_LOG_DURABLE, from the logger's socket only (sshworker.c): the
 * call it names runs now.  One we do not hold is kept for its call,
 * which may be on its way; if it was let go meanwhile (or the token is
 * another call's) no call will ever take it, and it expires.
 */
void
hold_durable(struct imsg *imsg)
{
	struct log_held	 lh;
	struct held	*h;
	struct sshcall	*call;
	uint32_t	 hostid;

	if (imsg->datalen != sizeof(lh))
		fatalx("bad IMSG_LOG_DURABLE size %zu", imsg->datalen);
	memcpy(&lh, imsg->data, sizeof(lh));
	if ((h = hold_find(imsg->hdr.peerid)) == NULL ||
	    h->token != lh.token) {
		if (nearly >= EARLY_MAX)
			early_free(TAILQ_FIRST(&early));
		if ((h = calloc(1, sizeof(*h))) == NULL)
			fatal(NULL);
		h->reqid = imsg->hdr.peerid;
		h->token = lh.token;
		h->since = mono_now();
		TAILQ_INSERT_TAIL(&early, h, entry);
		nearly++;
		return;
	}
	call = h->call;
	hostid = h->hostid;
	TAILQ_REMOVE(&helds, h, entry);
	free(h);
	sshcall_start(call, hostid);
}

/* IMSG_SSH_DROP: its intent failed; the frontend decides what follows */
void
hold_release(uint32_t reqid)
{
	struct held	*h;

	if ((h = hold_find(reqid)) != NULL)
		hold_drop(h, "the frontend let it go");
}

/* IMSG_SSH_CANCEL: 1 if it was held (it ends here, unanswered) */
int
hold_cancel(uint32_t reqid)
{
	struct held	*h;

	if ((h = hold_find(reqid)) == NULL)
		return 0;
	log_debug("call %u (%s) cancelled while held", reqid, h->call->tool);
	hold_free(h);
	return 1;
}

/* the frontend went: nobody is left to answer */
void
hold_frontend_gone(void)
{
	struct held	*h;

	while ((h = TAILQ_FIRST(&helds)) != NULL)
		hold_free(h);
	/* its calls on their way are lost with its socket */
	while ((h = TAILQ_FIRST(&early)) != NULL)
		early_free(h);
}

/* the logger went: it will never say what it had not said */
void
hold_logger_gone(void)
{
	struct held	*h;

	while ((h = TAILQ_FIRST(&helds)) != NULL)
		hold_drop(h, "the logger died before the intent was durable");
}

/* from the worker's tick: a logger that has not answered for long */
void
hold_expire(void)
{
	struct held	*h, *next;
	time_t		 now = mono_now();
	char		 why[128];

	TAILQ_FOREACH_SAFE(h, &helds, entry, next)
		if (now - h->since >= HOLD_MAX_S) {
			snprintf(why, sizeof(why), "the logger did not make "
			    "the intent durable within %d s", HOLD_MAX_S);
			hold_drop(h, why);
		}
	while ((h = TAILQ_FIRST(&early)) != NULL &&
	    now - h->since >= HOLD_MAX_S)
		early_free(h);
}

size_t
hold_count(void)
{
	struct held	*h;
	size_t		 n = 0;

	TAILQ_FOREACH(h, &helds, entry)
		n++;
	return n;
}
