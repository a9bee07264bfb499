/*
 * logger_ctl.c: the logger's answers to what reads the audit back:
 * bridgectl's queries, verify and rotate (through the frontend), and
 * the history of ended sessions, delegations and jobs the frontend and
 * the ssh workers ask for.  What was just recorded is committed first,
 * so it is part of every answer.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event.h>
#include <jansson.h>

#include "logger_audit.h"
#include "bridged.h"
#include "imsg.h"
#include "log.h"
#include "logger.h"

#define MAX_HEADS		64

static int	 query_cb(uint64_t, const char *, size_t, void *);
static void	 reply_end(uint32_t, int, const char *);
static void	 reply_to(int, uint32_t, int, const char *);
static int	 history_cb(uint64_t, const char *, size_t, void *);

static int
query_cb(uint64_t seq, const char *line, size_t len, void *arg)
{
	uint32_t	*id = arg;

	if (fe_peer == NULL ||
	    imsgev_compose(&fe_peer->iev, IMSG_LOG_DATA, *id, -1, line,
	    len) == -1)
		return -1;
	return 0;
}

static void
reply_end(uint32_t id, int status, const char *msg)
{
	reply_to(fe_peer != NULL ? fe_peer->handle : -1, id, status, msg);
}

/* IMSG_LOG_END to whoever asked */
static void
reply_to(int to, uint32_t id, int status, const char *msg)
{
	struct log_status	 ls;
	struct iovec		 iov[2];
	struct imsgev		*iev;

	if ((iev = lpeer_iev(to)) == NULL)
		return;
	ls.status = status;
	iov[0].iov_base = &ls;
	iov[0].iov_len = sizeof(ls);
	iov[1].iov_base = (void *)(uintptr_t)msg;
	iov[1].iov_len = msg != NULL ? strlen(msg) : 0;
	if (imsgev_composev(iev, IMSG_LOG_END, id, -1, iov, 2) == -1)
		log_warn("audit: reply");
}

struct histreply {
	int			 to;
	uint32_t		 id;
};

static int
history_cb(uint64_t seq, const char *rec, size_t len, void *arg)
{
	struct histreply	*hr = arg;

	if (lpeer_iev(hr->to) == NULL || len > IMSG_MAXPAYLOAD ||
	    imsgev_compose(lpeer_iev(hr->to), IMSG_LOG_DATA, hr->id, -1, rec,
	    len) == -1)
		return -1;
	return 0;
}

/* ended sessions and delegations, job results: from the frontend or ssh */
void
do_history(struct lpeer *p, struct imsg *imsg)
{
	int			 from = p->handle;
	struct log_histq	 q;
	struct histreply	 hr;
	char			 err[256];

	hr.to = from;
	hr.id = imsg->hdr.peerid;
	if (imsg->datalen != sizeof(q)) {
		reply_to(from, hr.id, -1, "malformed history query");
		return;
	}
	memcpy(&q, imsg->data, sizeof(q));
	q.job_id[sizeof(q.job_id) - 1] = '\0';
	/* the ssh worker reads back its jobs, nothing else */
	if (p->kind == PROC_SSH && q.kind != HIST_JOB && q.kind != HIST_JOBS) {
		reply_to(from, hr.id, -1, "not a job query");
		return;
	}
	/* what was just recorded is part of the answer */
	logger_flush();
	if (audit_history(&q, history_cb, &hr, err, sizeof(err)) == -1)
		reply_to(from, hr.id, -1, err);
	else
		reply_to(from, hr.id, 0, NULL);
}

void
do_query(struct imsg *imsg)
{
	struct log_query	 q;
	uint32_t		 id = imsg->hdr.peerid;
	char			 err[256];

	if (imsg->datalen != sizeof(q)) {
		reply_end(id, -1, "malformed query");
		return;
	}
	memcpy(&q, imsg->data, sizeof(q));
	q.host[sizeof(q.host) - 1] = '\0';
	q.tool[sizeof(q.tool) - 1] = '\0';
	q.outcome[sizeof(q.outcome) - 1] = '\0';
	logger_flush();
	if (audit_query(&q, query_cb, &id, err, sizeof(err)) == -1)
		reply_end(id, -1, err);
	else
		reply_end(id, 0, NULL);
}

void
do_verify(struct imsg *imsg)
{
	struct ahead	 heads[MAX_HEADS];
	char		 msg[512], arg[160], *colon;
	const char	*errstr;
	size_t		 n;

	logger_flush();
	n = textlog_heads(heads, MAX_HEADS - 1);
	if (imsg->datalen > 0) {
		if (imsg->datalen >= sizeof(arg) ||
		    memchr(imsg->data, '\0', imsg->datalen) != NULL) {
			reply_end(imsg->hdr.peerid, -1, "bad head: give "
			    "SEQ:HASH");
			return;
		}
		memcpy(arg, imsg->data, imsg->datalen);
		arg[imsg->datalen] = '\0';
		if ((colon = strchr(arg, ':')) == NULL ||
		    strlen(colon + 1) != HASH_HEXLEN - 1) {
			reply_end(imsg->hdr.peerid, -1, "bad head: give "
			    "SEQ:HASH (64 hex digits)");
			return;
		}
		*colon = '\0';
		heads[n].seq = strtonum(arg, 1, INT64_MAX, &errstr);
		if (errstr != NULL) {
			reply_end(imsg->hdr.peerid, -1, "bad head: seq is not "
			    "a number");
			return;
		}
		strlcpy(heads[n].hash, colon + 1, sizeof(heads[n].hash));
		strlcpy(heads[n].source, "the head given", sizeof(
		    heads[n].source));
		n++;
	}
	if (audit_verify(heads, n, msg, sizeof(msg)) == -1) {
		log_warnx("audit: verify: %s", msg);
		reply_end(imsg->hdr.peerid, -1, msg);
	} else
		reply_end(imsg->hdr.peerid, 0, msg);
}

void
do_rotate(struct imsg *imsg)
{
	char		 msg[256], hex[HASH_HEXLEN];
	uint64_t	 seq;

	logger_flush();
	if (textlog_rotate(msg, sizeof(msg)) == -1) {
		reply_end(imsg->hdr.peerid, -1, msg);
		return;
	}
	if (textlog_last(&seq, hex) == 0)
		snprintf(msg, sizeof(msg), "log rotated; head %" PRIu64 ":%s",
		    seq, hex);
	else
		strlcpy(msg, "log rotated", sizeof(msg));
	log_info("audit: %s", msg);
	reply_end(imsg->hdr.peerid, 0, msg);
	logger_prune(0, 0, NULL);
}
