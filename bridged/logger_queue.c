/*
 * logger_queue.c: the logger's records, from their arrival to the disk.
 *
 * Records arrive from the parent, the frontend and the ssh workers; all
 * that arrive in one turn of the event loop are sealed into the hash
 * chain and committed in one transaction (logger_audit.c), then written
 * to the text log (logger_textlog.c).  An intent is acknowledged only
 * after that: the frontend starts a mutating act only on a positive
 * answer.  A turn that brought no intent is committed FLUSH_DEFER_MS
 * later, or with the next intent if one comes first: a call's outcome,
 * sent after its answer, then shares the next call's transaction instead
 * of holding up its intent.  It is sealed and inserted when it comes
 * (stage()), while the client reads that answer: the intent's commit
 * finds it done.  Whoever reads the records (queries, verify, follow,
 * rotation, exit) commits what is queued first.  When the database or
 * the disk fails, the records stay queued (bounded) and are retried
 * every second; intents get a negative answer meanwhile, so the daemon
 * refuses to act rather than act unrecorded.  The WAL's checkpoints are
 * ours too (ckpt_arm): never inside an intent's commit; and so is
 * retention (logger_prune).
 */

#include <sys/types.h>
#include <sys/time.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event.h>
#include <jansson.h>

#include "logger_audit.h"
#include "bridged.h"
#include "imsg.h"
#include "log.h"
#include "policy.h"
#include "proc.h"
#include "logger.h"

#define QUEUE_MAX_RECORDS	10000
#define QUEUE_MAX_BYTES		(32 * 1024 * 1024)
/* room for seq, time, prev and hash in one IMSG_LOG_DATA */
#define RECORD_MAX		(IMSG_MAXPAYLOAD - 1024)
/* a turn without an intent waits this long for one to share its commit */
#define FLUSH_DEFER_MS		10
/* ... unless this many records are already waiting */
#define FLUSH_DEFER_MAX		256
/* a positive ack for a held call, told to its worker, waits at most */
#define ACK_LAZY_MS		10

static void	 enqueue_refuse(int, uint32_t, int, const char *);
static void	 enqueue_obj(int, uint32_t, int, const struct log_held *,
		    json_t *, size_t);
static void	 enqueue_json(json_t *, uint64_t);
static void	 arec_free(struct arec *);
static void	 flush_deferred(int, short, void *);
static void	 flush_lazy(int, short, void *);
static void	 flush_failed(const char *);
static void	 ckpt_arm(void);
static void	 ckpt_run(int, short, void *);
static int	 seal(struct arec *, struct chain *);
static void	 unseal(void);
static void	 ack(struct arec *, int, const char *);
static int	 tell_worker(struct arec *);
static void	 retry(int, short, void *);
static void	 prune_arm(void);
static int	 text_catchup(void);
static int	 text_cb(uint64_t, const char *, size_t, void *);
static int	 feed_cb(uint64_t, const char *, size_t, void *);

static struct bridged_conf	*conf;
static struct chain		 chain;
static struct arecq		 queue = TAILQ_HEAD_INITIALIZER(queue);
static size_t			 qcount, qbytes;
static uint64_t			 lost;
static char			 failure[256];	/* "": healthy */
static time_t			 failed_since;
static int			 follow;
static struct event		 ev_retry, ev_prune, ev_defer, ev_lazy, ev_ckpt;
static int			 ckpt_behind;	/* the last one was not whole */
static int			 queued_intent;	/* one waits in queue */
/*
 * The queue's first nstaged records are sealed and inserted, in a
 * transaction left open until the next intent (or FLUSH_DEFER_MS);
 * staged is the chain after them.
 */
static struct chain		 staged;
static size_t			 nstaged;

void
logq_init(void)
{
	evtimer_set(&ev_retry, retry, NULL);
	evtimer_set(&ev_prune, logger_prune, NULL);
	evtimer_set(&ev_defer, flush_deferred, NULL);
	evtimer_set(&ev_lazy, flush_lazy, NULL);
	evtimer_set(&ev_ckpt, ckpt_run, NULL);
}

/* at exit: what is queued is committed, or said to be lost */
void
logq_shutdown(void)
{
	logger_flush();
	if (!TAILQ_EMPTY(&queue))
		log_warnx("exiting with %zu audit records unwritten: %s",
		    qcount, failure);
	textlog_sync();
	audit_close();
}

/* bridgectl show log -f: committed records are fed to the frontend */
void
logq_follow(int on)
{
	logger_flush();
	follow = on != 0;
}

/* the frontend is gone: nobody follows */
void
logq_nofollow(void)
{
	follow = 0;
}

void
logger_configure(struct bridged_conf *nconf)
{
	char		 err[512], hex[HASH_HEXLEN];
	uint64_t	 tseq;
	int		 first = conf == NULL;

	if (first || strcmp(conf->audit_db, nconf->audit_db) != 0) {
		unseal();
		audit_close();
		memset(&chain, 0, sizeof(chain));
		if (nconf->audit_db[0] != '\0' &&
		    audit_open(nconf->audit_db, &chain, err,
		    sizeof(err)) == -1) {
			log_warnx("audit: %s", err);
			strlcpy(failure, err, sizeof(failure));
		}
	}
	if (first || strcmp(conf->log_file, nconf->log_file) != 0) {
		textlog_close();
		if (nconf->log_file[0] != '\0' && textlog_open(nconf->log_file,
		    nconf->log_rotate_size, nconf->log_keep, err,
		    sizeof(err)) == -1)
			log_warnx("audit: %s", err);
	} else
		textlog_setlimits(nconf->log_rotate_size, nconf->log_keep);
	/* without a database the text log holds the chain */
	if (!audit_isopen() && nconf->audit_db[0] == '\0' &&
	    textlog_last(&tseq, hex) == 0) {
		chain.seq = tseq;
		if (hex_decode(hex, chain.hash, HASH_LEN) == -1)
			memset(chain.hash, 0, sizeof(chain.hash));
	}
	if (conf != NULL)
		config_free(conf);
	conf = nconf;
	if (audit_isopen() && textlog_last(&tseq, hex) == 0 &&
	    tseq > chain.seq)
		log_warnx("audit: the text log has records up to %" PRIu64
		    " but the database ends at %" PRIu64 ": it was truncated "
		    "or replaced (bridgectl verify reports it)", tseq,
		    chain.seq);
	else if (audit_isopen() && textlog_isopen() && text_catchup() == -1)
		log_warnx("audit: the text log is behind the database");
	if (first)
		enqueue_json(json_pack("{s:s, s:s, s:I, s:I}", "type",
		    "daemon", "event", "logger start", "pid",
		    (json_int_t)getpid(), "chain", (json_int_t)chain.seq), 0);
	relay_configure(conf);
	prune_arm();
	logger_flush();
}

/* a record of the logger's own (the relay's sends and clears) */
void
logger_record(json_t *o)
{
	if (o != NULL)
		enqueue_json(json_incref(o), 0);
	json_decref(o);
}

/*
 * Queue a record as received.  A record that is not a JSON object is
 * refused (and said so); over the queue's bounds, a plain record is lost
 * and counted, an intent is refused.
 */
void
enqueue(int from, uint32_t ackid, int intent, const struct log_held *held,
    const void *data, size_t len)
{
	json_t		*o;
	json_error_t	 jerr;

	if (len == 0 || len > RECORD_MAX ||
	    (o = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL) {
		log_warnx("audit: malformed record of %zu bytes from %s "
		    "dropped", len, from >= 0 ? proc_names[from] : "?");
		enqueue_refuse(from, ackid, intent, "malformed record");
		return;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		log_warnx("audit: record from %s is not an object",
		    from >= 0 ? proc_names[from] : "?");
		enqueue_refuse(from, ackid, intent, "malformed record");
		return;
	}
	enqueue_obj(from, ackid, intent, held, o, len);
}

/* an intent that will not be queued is answered at once */
static void
enqueue_refuse(int from, uint32_t ackid, int intent, const char *why)
{
	struct arec	 tmp;

	if (!intent)
		return;
	memset(&tmp, 0, sizeof(tmp));
	tmp.from = from;
	tmp.ackid = ackid;
	tmp.intent = 1;
	ack(&tmp, -1, why);
}

/*
 * Queue the object o (taken) of len bytes as received.  What is kept is
 * its redacted copy, parsed here once for all: sealing and the database's
 * columns read that copy, not the text again.
 */
static void
enqueue_obj(int from, uint32_t ackid, int intent, const struct log_held *held,
    json_t *o, size_t len)
{
	struct arec	*r;
	struct timeval	 tv;
	json_t		*red;

	/*
	 * What the intent's commit will write to, into the page cache now
	 * where the kernel dropped it (audit_wal_warm): the reads then go
	 * together, while the record is sealed, not one after the other
	 * inside the commit.  Cached, as between calls close together,
	 * that is two cheap system calls.
	 */
	if (intent && !queued_intent) {
		audit_wal_warm();
		textlog_warm();
	}
	if (qcount >= QUEUE_MAX_RECORDS || qbytes + len > QUEUE_MAX_BYTES) {
		json_decref(o);
		if (intent)
			enqueue_refuse(from, ackid, intent,
			    "audit backlog full");
		else if (lost++ == 0)
			log_warnx("audit: backlog full, records are being "
			    "lost");
		return;
	}
	/*
	 * Whoever made the record, it is kept with its secrets redacted:
	 * the one redaction (policyscan.c) for every kind of record.
	 */
	red = policy_redact_json(o);
	json_decref(o);
	if (red == NULL || (r = calloc(1, sizeof(*r))) == NULL) {
		json_decref(red);
		enqueue_refuse(from, ackid, intent, "out of memory");
		lost++;
		return;
	}
	/* the chain's members are the logger's to set */
	json_object_del(red, "hash");
	if (!json_is_string(json_object_get(red, "type")))
		json_object_set_new(red, "type", json_string("record"));
	r->obj = red;
	r->from = from;
	r->ackid = ackid;
	r->intent = intent;
	if (held != NULL) {
		r->held = 1;
		r->hold = *held;
	}
	r->len = len;
	gettimeofday(&tv, NULL);
	r->ms = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
	TAILQ_INSERT_TAIL(&queue, r, entry);
	qcount++;
	qbytes += len;
	queued_intent |= intent;
}

/* a record of the logger's own; prune > 0 makes it a checkpoint */
static void
enqueue_json(json_t *o, uint64_t prunethrough)
{
	size_t	 len;

	if (o == NULL)
		return;
	/* its size as if received, for the queue's bounds */
	if ((len = json_dumpb(o, NULL, 0, JSON_COMPACT)) == 0) {
		json_decref(o);
		return;
	}
	enqueue_obj(-1, 0, 0, NULL, o, len);
	if (prunethrough > 0 && !TAILQ_EMPTY(&queue))
		TAILQ_LAST(&queue, arecq)->prune = prunethrough;
}

/* free a record that left the queue */
static void
arec_free(struct arec *r)
{
	json_decref(r->obj);
	free(r->canon);
	free(r);
}

/*
 * The record's place in the chain: seq, time and prev set in its object
 * (again after a failed commit: they are replaced), the canonical text
 * dumped and hashed.
 */
static int
seal(struct arec *r, struct chain *c)
{
	SHA2_CTX	 ctx;
	struct tm	 tm;
	time_t		 secs;
	uint8_t		 d[HASH_LEN];
	char		 prev[HASH_HEXLEN], tbuf[40];
	json_t		*o = r->obj;

	secs = r->ms / 1000;
	gmtime_r(&secs, &tm);
	strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(tbuf + strlen(tbuf), sizeof(tbuf) - strlen(tbuf),
	    ".%03dZ", (int)(r->ms % 1000));
	hex_encode(c->hash, HASH_LEN, prev);
	if (json_object_set_new(o, "seq", json_integer((json_int_t)c->seq +
	    1)) == -1 || json_object_set_new(o, "time", json_string(tbuf)) ==
	    -1 || json_object_set_new(o, "prev", json_string(prev)) == -1)
		return -1;
	r->canon = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS |
	    JSON_ENSURE_ASCII);
	if (r->canon == NULL)
		return -1;
	SHA256Init(&ctx);
	SHA256Update(&ctx, (const uint8_t *)c->hash, sizeof(c->hash));
	SHA256Update(&ctx, (const uint8_t *)r->canon, strlen(r->canon));
	SHA256Final(d, &ctx);
	hex_encode(d, HASH_LEN, r->hash);
	c->seq++;
	memcpy(c->hash, d, sizeof(d));
	r->seq = c->seq;
	return 0;
}

static void
unseal(void)
{
	struct arec	*r;

	audit_rollback();
	nstaged = 0;
	TAILQ_FOREACH(r, &queue, entry) {
		free(r->canon);
		r->canon = NULL;
		r->seq = 0;
		r->staged = 0;
	}
}

/*
 * Records that wait for the next intent's commit (a call's outcome waits
 * for the next call) are sealed and inserted now, while nothing waits
 * for the logger: the intent's commit then seals and inserts only
 * itself.  A failure here only undoes the staging: the commit tries
 * again, and says what failed.
 */
static void
stage(void)
{
	struct arec	*r;
	char		 err[256];

	if (conf == NULL || conf->audit_db[0] == '\0' || !audit_isopen() ||
	    failure[0] != '\0')
		return;
	if (nstaged == 0)
		staged = chain;
	TAILQ_FOREACH(r, &queue, entry) {
		if (r->staged)
			continue;
		if (seal(r, &staged) == -1 ||
		    audit_stage(r, err, sizeof(err)) == -1) {
			unseal();
			return;
		}
		nstaged++;
	}
}

/*
 * The answer to an intent.  A durable one whose call waits in a worker
 * is told to that worker first, so the act starts without the frontend
 * in between; the frontend hears whether the worker was told.  That it
 * was is news the frontend only books (the worker's answer may well come
 * first): it is queued lazily and goes with the next message, within
 * ACK_LAZY_MS, so the frontend is not woken while the call runs.
 */
static void
ack(struct arec *r, int status, const char *msg)
{
	struct log_status	 ls;
	struct iovec		 iov[2];
	struct imsgev		*iev;
	struct timeval		 tv = { 0, ACK_LAZY_MS * 1000 };
	int			 lazy = 0, rv;

	if (!r->intent || r->acked || r->from < 0 ||
	    (iev = lpeer_iev(r->from)) == NULL)
		return;
	r->acked = 1;
	if (status == 0 && r->held) {
		if (tell_worker(r) == -1)
			status = LOG_DURABLE_UNTOLD;
		else
			lazy = 1;
	}
	ls.status = status;
	iov[0].iov_base = &ls;
	iov[0].iov_len = sizeof(ls);
	iov[1].iov_base = (void *)(uintptr_t)msg;
	iov[1].iov_len = msg != NULL ? strlen(msg) : 0;
	if (lazy) {
		rv = imsgev_compose_lazy(iev, IMSG_LOG_ACK, r->ackid, iov, 2);
		if (rv == 0 && !evtimer_pending(&ev_lazy, NULL))
			evtimer_add(&ev_lazy, &tv);
	} else
		rv = imsgev_composev(iev, IMSG_LOG_ACK, r->ackid, -1, iov, 2);
	if (rv == -1)
		log_warn("audit: ack");
}

/* the lazy acks are due */
static void
flush_lazy(int fd, short event, void *arg)
{
	lpeers_flush_lazy();
}

/*
 * IMSG_LOG_DURABLE to the worker named in the intent: the newest socket
 * of that name (a restarted worker's; the call's token keeps an ack
 * meant for its dead predecessor from releasing anything).  -1: there
 * is no such worker here, or it could not be sent.
 */
static int
tell_worker(struct arec *r)
{
	struct lpeer	*p;

	if ((p = lpeer_worker(r->hold.host)) == NULL) {
		log_debug("audit: intent %u: no worker \"%s\" to tell",
		    r->ackid, r->hold.host);
		return -1;
	}
	if (imsgev_compose(&p->iev, IMSG_LOG_DURABLE, r->ackid, -1, &r->hold,
	    sizeof(r->hold)) == -1) {
		log_warn("audit: durable-ack to %s", p->name);
		return -1;
	}
	/* the act waits for this alone: out now, not at the loop's turn */
	(void)imsgbuf_write(&p->iev.ibuf);
	return 0;
}

/* the frontend's intent for a call already sent, held, to its worker */
void
do_intent_held(struct lpeer *p, struct imsg *imsg)
{
	struct log_held	 h;

	if (imsg->datalen < sizeof(h)) {
		log_warnx("audit: short held intent from %s", p->name);
		enqueue_refuse(p->handle, imsg->hdr.peerid, 1,
		    "malformed record");
		return;
	}
	memcpy(&h, imsg->data, sizeof(h));
	h.host[sizeof(h.host) - 1] = '\0';
	enqueue(p->handle, imsg->hdr.peerid, 1, &h,
	    (const char *)imsg->data + sizeof(h), imsg->datalen - sizeof(h));
}

static void
flush_failed(const char *err)
{
	struct arec	*r;
	struct timeval	 tv = { 1, 0 };

	unseal();
	if (failure[0] == '\0' || strcmp(failure, err) != 0)
		log_warnx("audit: cannot write records (%s); %zu queued, "
		    "mutating tool calls are refused until this is fixed",
		    err, qcount);
	if (failure[0] == '\0')
		failed_since = time(NULL);
	strlcpy(failure, err, sizeof(failure));
	TAILQ_FOREACH(r, &queue, entry)
		ack(r, -1, failure);
	evtimer_add(&ev_retry, &tv);
}

static int
text_cb(uint64_t seq, const char *line, size_t len, void *arg)
{
	char		*err = arg;
	char		 hash[HASH_HEXLEN];

	/* the hash is the last member: ,"hash":"<64 hex>"} */
	if (len < HASH_HEXLEN + 2)
		return -1;
	memcpy(hash, line + len - 2 - (HASH_HEXLEN - 1), HASH_HEXLEN - 1);
	hash[HASH_HEXLEN - 1] = '\0';
	return textlog_write(seq, hash, line, len, err, 256);
}

/* write what the database has and the text log lacks */
static int
text_catchup(void)
{
	char		 err[256], hex[HASH_HEXLEN];
	uint64_t	 tseq = 0;

	if (textlog_last(&tseq, hex) != 0)
		tseq = 0;
	if (tseq >= chain.seq)
		return 0;
	if (tseq == 0 && chain.seq > 0) {
		/* a new log file beside an old database: start at now */
		err[0] = '\0';
		return 0;
	}
	err[0] = '\0';
	if (audit_scan(tseq, text_cb, err) != 0) {
		log_warnx("audit: text log: %s", err[0] ? err : "scan failed");
		return -1;
	}
	return 0;
}

static int
feed_cb(uint64_t seq, const char *line, size_t len, void *arg)
{
	if (fe_peer == NULL)
		return -1;
	if (imsgev_compose(&fe_peer->iev, IMSG_LOG_DATA, 0, -1, line,
	    len) == -1)
		return -1;
	return 0;
}

/*
 * Commit everything queued.  The chain advances only when the records
 * are in the database (or, without one, in the text log).
 */
void
logger_flush(void)
{
	struct chain	 tmp;
	struct arec	*r, *next;
	char		 err[512], *line;
	uint64_t	 first, tseq;
	size_t		 len, nok;
	int		 want_db, want_text, intents = 0, failed = 0;
	char		 hex[HASH_HEXLEN], serr[256];

	evtimer_del(&ev_defer);
	if (TAILQ_EMPTY(&queue) || conf == NULL)
		return;
	queued_intent = 0;
	want_db = conf->audit_db[0] != '\0';
	want_text = conf->log_file[0] != '\0';
	err[0] = '\0';

	if (!want_db && !want_text) {
		/* no audit configured: nothing to make durable */
		while ((r = TAILQ_FIRST(&queue)) != NULL) {
			ack(r, 0, NULL);
			TAILQ_REMOVE(&queue, r, entry);
			arec_free(r);
		}
		qcount = qbytes = 0;
		return;
	}
	if (want_db && !audit_isopen() &&
	    audit_open(conf->audit_db, &chain, err, sizeof(err)) == -1) {
		flush_failed(err);
		return;
	}

	/* the staged ones are sealed already, the chain after them is staged */
	tmp = nstaged > 0 ? staged : chain;
	first = chain.seq + 1;
	TAILQ_FOREACH(r, &queue, entry) {
		if (!r->staged && seal(r, &tmp) == -1) {
			flush_failed("out of memory");
			return;
		}
		intents |= r->intent;
	}
	nok = qcount;
	if (want_db) {
		if (audit_commit(&queue, err, sizeof(err)) == -1) {
			flush_failed(err);
			return;
		}
		nstaged = 0;
		chain = tmp;
	}

	if (want_text) {
		if (textlog_last(&tseq, hex) != 0)
			tseq = 0;
		if (want_db && tseq != 0 && tseq + 1 < first) {
			/* behind since an earlier failure */
			if (text_catchup() == -1)
				failed = 1;
		} else {
			nok = 0;
			TAILQ_FOREACH(r, &queue, entry) {
				if ((line = audit_line(r->canon, r->hash,
				    &len)) == NULL || textlog_write(r->seq,
				    r->hash, line, len, err, sizeof(err)) ==
				    -1) {
					free(line);
					failed = 1;
					break;
				}
				free(line);
				nok++;
				if (!want_db) {
					chain.seq = r->seq;
					(void)hex_decode(r->hash, chain.hash,
					    HASH_LEN);
				}
			}
		}
		if (!want_db && intents && textlog_sync() == -1) {
			snprintf(err, sizeof(err), "fsync: %s",
			    strerror(errno));
			failed = 1;
			nok = 0;
		}
		if (failed && err[0] == '\0')
			strlcpy(err, "text log write failed", sizeof(err));
	}
	/*
	 * The WAL to the disk, now that the text log has the lines: an
	 * intent is acknowledged when both are written and its commit is
	 * durable.  A commit whose sync failed stays (the chain goes on from
	 * it); its intents are refused.
	 */
	if (want_db && intents && audit_sync(serr, sizeof(serr)) == -1) {
		if (!failed)
			strlcpy(err, serr, sizeof(err));
		failed = 1;
	}

	/* the committed ones leave the queue, answered and fed */
	TAILQ_FOREACH_SAFE(r, &queue, entry, next) {
		if (!want_db && nok == 0)
			break;
		/* in the database but not in the text log or not synced */
		ack(r, failed ? -1 : 0, failed ? err : NULL);
		if (follow) {
			if ((line = audit_line(r->canon, r->hash, &len)) !=
			    NULL)
				feed_cb(r->seq, line, len, NULL);
			free(line);
		}
		TAILQ_REMOVE(&queue, r, entry);
		qcount--;
		qbytes -= r->len;
		arec_free(r);
		if (!want_db)
			nok--;
	}
	ckpt_arm();
	if (failed)
		flush_failed(err);
	else if (failure[0] != '\0') {
		log_info("audit: writing again after %lld s (%s)",
		    (long long)(time(NULL) - failed_since), failure);
		enqueue_json(json_pack("{s:s, s:s, s:s, s:I, s:I}", "type",
		    "audit", "event", "recovered", "error", failure,
		    "seconds", (json_int_t)(time(NULL) - failed_since),
		    "lost", (json_int_t)lost), 0);
		failure[0] = '\0';
		lost = 0;
		evtimer_del(&ev_retry);
		logger_flush();
	}
}

/*
 * After a commit's acks (they leave first: their writes were made
 * active before this).  A WAL past AUDIT_CKPT_MIN frames is checkpointed
 * once no commit has come for AUDIT_CKPT_IDLE_MS, which between an
 * agent's calls is nearly always; calls that never pause get one after
 * the acks of the commit that took it past AUDIT_CKPT_MAX.  One left
 * unfinished by a reader's snapshot is tried again when idle only.
 */
static void
ckpt_arm(void)
{
	struct timeval	 tv = { 0, AUDIT_CKPT_IDLE_MS * 1000 };
	int		 n = audit_wal_frames();

	if (n < AUDIT_CKPT_MIN)
		return;
	if (n >= AUDIT_CKPT_MAX && !ckpt_behind) {
		evtimer_del(&ev_ckpt);
		event_active(&ev_ckpt, EV_TIMEOUT, 1);
	} else
		evtimer_add(&ev_ckpt, &tv);
}

static void
ckpt_run(int fd, short event, void *arg)
{
	char	 err[256];

	/* staged records hold a transaction open; their commit arms it again */
	if (nstaged > 0)
		return;

	if (audit_checkpoint(err, sizeof(err)) == -1) {
		if (!ckpt_behind)
			log_warnx("audit: %s", err);
		ckpt_behind = 1;
		return;
	}
	ckpt_behind = audit_wal_frames() >= AUDIT_CKPT_MIN;
}

/*
 * The end of a turn of the loop: an intent is committed now, its act
 * waits for it; other records wait a little for one (see the top).
 * While writing fails, everything goes through logger_flush() as before, so an
 * intent is answered at once.
 */
void
flush_turn(void)
{
	struct timeval	 tv = { 0, FLUSH_DEFER_MS * 1000 };

	if (TAILQ_EMPTY(&queue))
		return;
	if (queued_intent || qcount >= FLUSH_DEFER_MAX ||
	    failure[0] != '\0') {
		logger_flush();
		return;
	}
	stage();
	if (!evtimer_pending(&ev_defer, NULL))
		evtimer_add(&ev_defer, &tv);
}

static void
flush_deferred(int fd, short event, void *arg)
{
	logger_flush();
}

static void
retry(int fd, short event, void *arg)
{
	struct timeval	 tv = { 1, 0 };

	if (!TAILQ_EMPTY(&queue))
		logger_flush();
	else if (failure[0] != '\0' && conf != NULL &&
	    conf->log_file[0] != '\0' && audit_isopen()) {
		/* only the text log was behind */
		if (text_catchup() == 0) {
			log_info("audit: text log caught up");
			failure[0] = '\0';
			return;
		}
		evtimer_add(&ev_retry, &tv);
	}
}

/* retention: prune, then the checkpoint that keeps the chain whole */
void
logger_prune(int fd, short event, void *arg)
{
	struct timeval	 tv;
	uint64_t	 through, nrows;
	char		 hash[HASH_HEXLEN];

	if (conf == NULL || conf->audit_retain <= 0 || !audit_isopen())
		return;
	logger_flush();
	gettimeofday(&tv, NULL);
	if (audit_prune_point(((int64_t)tv.tv_sec - conf->audit_retain) *
	    1000, &through, hash, &nrows) == 0) {
		log_info("audit: pruning %" PRIu64 " records through %" PRIu64
		    " (retain %lld s)", nrows, through,
		    (long long)conf->audit_retain);
		enqueue_json(json_pack("{s:s, s:I, s:s, s:I, s:I}", "type",
		    "checkpoint", "pruned_through", (json_int_t)through,
		    "pruned_hash", hash, "rows", (json_int_t)nrows,
		    "retain", (json_int_t)conf->audit_retain), through);
		logger_flush();
	}
	prune_arm();
}

static void
prune_arm(void)
{
	struct timeval	 tv = { 3600, 0 };

	evtimer_del(&ev_prune);
	if (conf == NULL || conf->audit_retain <= 0)
		return;
	if (conf->audit_retain / 4 < tv.tv_sec)
		tv.tv_sec = conf->audit_retain / 4 > 0 ?
		    conf->audit_retain / 4 : 1;
	evtimer_add(&ev_prune, &tv);
}
