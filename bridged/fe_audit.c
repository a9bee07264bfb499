/*
 * fe_audit.c: the frontend's half of the audit.
 *
 * Intent before act: a tool call that runs on a host and can change
 * something sends the logger an intent record (who, what, where, the
 * redacted arguments) and waits for IMSG_LOG_ACK.  Only a positive answer
 * lets the call act.  A read-only one sends its intent as a record and
 * goes on at once, unless the config says "audit fail closed all".  When the
 * host's worker is running, the call goes to it at once, held
 * (CALL_HELD): the worker starts it when the logger tells it, on its own
 * socket, that this call's intent is durable (ssh_hold.c), and we are
 * not woken in between.  Otherwise the call leaves here on the ack.
 * A negative answer or no logger at all (it died and is being
 * restarted) refuses every call that changes anything; read-only calls
 * go on unless the config says "audit fail closed all".  A held call is
 * first asked back from its worker, which answers IMSG_SSH_DROPPED if it
 * never ran it; what follows is decided then, once.
 *
 * Records made while the logger is gone wait here, bounded, and go to its
 * replacement; beyond the bound they are counted and reported as lost.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event.h>
#include <jansson.h>

#include "bridged.h"
#include "frontend.h"
#include "log.h"
#include "policy.h"
#include "fe_mcp.h"
#include "fe_tools.h"

#define BACKLOG_MAX_RECORDS	5000
#define BACKLOG_MAX_BYTES	(16 * 1024 * 1024)
#define WAITING_MAX		4096
/* a record must fit one message with room for the logger's fields */
#define RECORD_LIMIT		(IMSG_MAXPAYLOAD - 4096)

struct backrec {
	TAILQ_ENTRY(backrec)	 entry;
	size_t			 len;
	char			 text[];
};

static int	 intent_held(struct mcp_call *, const char *);
static int	 proceed(struct mcp_call *, int, const char *);
static void	 refused_flush(void);
static void	 fail(struct mcp_call *, const char *);
static void	 held_dropped(struct mcp_call *, const char *);

/* the daemon log says "refused: audit unavailable" this often at most */
#define REFUSED_LOG_INTERVAL	10	/* seconds */
/* an error's text in its outcome record, at most */
#define WHY_MAX			300

static TAILQ_HEAD(, backrec)	 backlog = TAILQ_HEAD_INITIALIZER(backlog);
static size_t			 nback, backbytes;
static uint64_t			 backlost;
static int			 nfollowers;
static time_t			 refused_last;	/* monotonic seconds */
static unsigned long		 refused_quiet;	/* not logged since */

/* anything not declared read-only changes something somewhere */
int
audit_mutating(const struct tool *t)
{
	return t->cap != 0 && (t->annotations & TOOL_READONLY) == 0;
}

int
audit_intent(struct mcp_call *call, uint32_t hostid,
    int (*act)(struct mcp_call *))
{
	json_t	*r, *args;
	char	*s;
	int	 sent = -1, held;

	call->audit_hostid = hostid;
	call->audit_act = act;
	args = policy_redact_args(call->tool->name, call->args);
	r = json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:o, s:b}",
	    "type", "call", "event", "intent",
	    "session", (json_int_t)call->sessid,
	    "request", (json_int_t)call->reqid,
	    "tool", call->tool->name, "host", call->host,
	    "arguments", args != NULL ? args : json_null(),
	    "mutating", audit_mutating(call->tool));
	if (r != NULL)
		json_object_set_new(r, "principal", call_principal(call));
	if (r == NULL || (s = json_dumps(r, JSON_COMPACT)) == NULL) {
		json_decref(r);
		return proceed(call, -1, "out of memory");
	}
	if (strlen(s) > RECORD_LIMIT) {
		/* huge arguments: the record says so instead */
		free(s);
		json_object_set_new(r, "arguments", json_pack("{s:s}",
		    "omitted", "too large for a record"));
		if ((s = json_dumps(r, JSON_COMPACT)) == NULL) {
			json_decref(r);
			return proceed(call, -1, "out of memory");
		}
	}
	json_decref(r);
	if (!audit_mutating(call->tool) && !frontend_conf->audit_fail_all) {
		/*
		 * A read does not wait for its record to be durable: it
		 * would go on unaudited if the logger were away, so waiting
		 * for an fdatasync would buy it nothing.  The intent goes
		 * as a record, committed with the next batch (ahead of the
		 * call's outcome, in order).
		 */
		frontend_record_text(s);
		free(s);
		call->audit_ok = 1;
		return act(call);
	}
	/* a worker that is running hears from the logger directly */
	held = call->worker[0] != '\0' && fe_ssh_running(call->worker);
	if (held)
		sent = intent_held(call, s);
	else
		sent = frontend_compose(PROC_LOGGER, IMSG_LOG_INTENT,
		    call->reqid, -1, s, strlen(s));
	if (sent == -1) {
		/* recorded late, by the logger that replaces this one */
		audit_backlog(s, strlen(s));
		free(s);
		return proceed(call, -1, "the logger is not running (bridged "
		    "is restarting it)");
	}
	free(s);
	call->audit_wait = 1;
	if (!held)
		return 0;
	call->audit_held = 1;
	return act(call);
}

/* the intent with the worker that will hold its call and a fresh token */
static int
intent_held(struct mcp_call *call, const char *s)
{
	struct log_held	 lh;
	char		*buf;
	size_t		 len = strlen(s);
	int		 r;

	memset(&lh, 0, sizeof(lh));
	arc4random_buf(&lh.token, sizeof(lh.token));
	strlcpy(lh.host, call->worker, sizeof(lh.host));
	if ((buf = malloc(sizeof(lh) + len)) == NULL)
		return -1;
	memcpy(buf, &lh, sizeof(lh));
	memcpy(buf + sizeof(lh), s, len);
	r = frontend_compose(PROC_LOGGER, IMSG_LOG_INTENT_HELD, call->reqid,
	    -1, buf, sizeof(lh) + len);
	free(buf);
	if (r == 0) {
		call->audit_token = lh.token;
		/* the fsync is the long wait: it starts before the call leaves */
		frontend_push(PROC_LOGGER);
	}
	return r;
}

/* how many refusals went unlogged: said once, when it matters */
static void
refused_flush(void)
{
	if (refused_quiet > 0)
		log_warnx("%lu more call%s refused: audit unavailable (not "
		    "logged one by one)", refused_quiet, refused_quiet == 1 ?
		    " was" : "s were");
	refused_quiet = 0;
}

static int
proceed(struct mcp_call *call, int status, const char *why)
{
	struct timespec	 now;

	call->audit_wait = 0;
	if (status == 0) {
		/* writing again: the count of the quiet refusals is due */
		refused_flush();
		refused_last = 0;
		call->audit_ok = 1;
		/* a held call: its worker has been told, by the logger */
		if (call->audit_held)
			return 0;
		return call->audit_act(call);
	}
	if (audit_mutating(call->tool) || frontend_conf->audit_fail_all) {
		/*
		 * Every call is refused while the logger is away: an agent
		 * retrying in a loop must not flood the daemon log.  The
		 * first is logged, then one line per interval with a count.
		 */
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (refused_last == 0 ||
		    now.tv_sec - refused_last >= REFUSED_LOG_INTERVAL) {
			refused_flush();
			log_warnx("session %u: call %u (%s) refused: audit "
			    "unavailable: %s", call->sessid, call->reqid,
			    call->tool->name, why);
			refused_last = now.tv_sec;
		} else
			refused_quiet++;
		call->refused = 1;
		mcp_call_text(call, 1, "audit unavailable: %s; refusing to "
		    "act (%s)", why, frontend_conf->audit_fail_all ?
		    "audit fail closed all" : "reads continue");
		return 0;
	}
	log_debug("session %u: call %u (%s) goes on unaudited: %s",
	    call->sessid, call->reqid, call->tool->name, why);
	call->audit_ok = 1;
	return call->audit_act(call);
}

void
audit_ack(struct imsg *imsg)
{
	struct log_status	 ls;
	struct mcp_call		*call;
	char			 why[256];
	size_t			 n;

	if (imsg->datalen < sizeof(ls))
		fatalx("bad IMSG_LOG_ACK size %zu", imsg->datalen);
	memcpy(&ls, imsg->data, sizeof(ls));
	n = imsg->datalen - sizeof(ls);
	if (n >= sizeof(why))
		n = sizeof(why) - 1;
	memcpy(why, imsg->data + sizeof(ls), n);
	why[n] = '\0';
	mcp_utf8_trunc(why);
	/*
	 * Writing again: the count of the quiet refusals is due, whether
	 * or not the call is still here (a held call's worker may have
	 * been told, run it and answered before this ack is read).
	 */
	if (ls.status == 0 || ls.status == LOG_DURABLE_UNTOLD) {
		refused_flush();
		refused_last = 0;
	}
	/* the call may have ended meanwhile (cancelled, timed out, done) */
	if ((call = mcp_call_byreqid(imsg->hdr.peerid)) == NULL ||
	    !call->audit_wait)
		return;
	if (ls.status == LOG_DURABLE_UNTOLD && call->audit_held) {
		/* on the disk, but its worker was not told: asked back */
		(void)proceed(call, 0, NULL);
		fail(call, "its worker could not be told the intent was "
		    "durable");
		return;
	}
	if (ls.status == 0 || ls.status == LOG_DURABLE_UNTOLD) {
		if (proceed(call, 0, NULL) == -1)
			mcp_call_text(call, 1, "internal error: %s could not "
			    "start", call->tool->name);
		return;
	}
	fail(call, why[0] ? why : "the logger could not write the record");
}

/* its intent failed: refused, or on unaudited (proceed) */
static void
fail(struct mcp_call *call, const char *why)
{
	if (!call->audit_held) {
		if (proceed(call, -1, why) == -1)
			mcp_call_text(call, 1, "internal error: %s could not "
			    "start", call->tool->name);
		return;
	}
	/* held by its worker: first it must be known not to have run */
	if (call->audit_dropping)
		return;
	call->audit_dropping = 1;
	strlcpy(call->audit_holdwhy, why, sizeof(call->audit_holdwhy));
	if (fe_ssh_unhold(call->worker, call->reqid))
		held_dropped(call, why);
}

/*
 * A held call that never ran.  Its intent durable (the worker was not
 * told in time): it goes again, unheld, as on any ack.  Else it is
 * refused, or goes on unaudited if it reads only (proceed).
 */
static void
held_dropped(struct mcp_call *call, const char *why)
{
	call->audit_held = 0;
	call->audit_dropping = 0;
	if (call->audit_holdwhy[0] != '\0')
		why = call->audit_holdwhy;
	if (call->audit_ok) {
		call->audit_wait = 0;
		if (call->audit_act(call) == -1)
			mcp_call_text(call, 1, "internal error: %s could not "
			    "start", call->tool->name);
		return;
	}
	if (proceed(call, -1, why) == -1)
		mcp_call_text(call, 1, "internal error: %s could not start",
		    call->tool->name);
}

/* IMSG_SSH_DROPPED from host's worker: a held call let go unrun */
void
audit_dropped(const char *host, struct imsg *imsg)
{
	struct mcp_call	*call;
	char		 why[256];
	size_t		 n = imsg->datalen;

	if (n >= sizeof(why))
		n = sizeof(why) - 1;
	memcpy(why, imsg->data, n);
	why[n] = '\0';
	mcp_utf8_trunc(why);
	if ((call = mcp_call_byreqid(imsg->hdr.peerid)) == NULL ||
	    !call->audit_held || strcmp(call->worker, host) != 0) {
		log_debug("host \"%s\": call %u dropped, not held", host,
		    imsg->hdr.peerid);
		return;
	}
	held_dropped(call, why[0] ? why : "its worker let it go");
}

/* records while the logger is away */
void
audit_backlog(const char *s, size_t len)
{
	struct backrec	*b;

	if (nback >= BACKLOG_MAX_RECORDS ||
	    backbytes + len > BACKLOG_MAX_BYTES ||
	    (b = malloc(sizeof(*b) + len)) == NULL) {
		if (backlost++ == 0)
			log_warnx("audit: backlog full while the logger is "
			    "away: records are being lost");
		return;
	}
	b->len = len;
	memcpy(b->text, s, len);
	TAILQ_INSERT_TAIL(&backlog, b, entry);
	nback++;
	backbytes += len;
}

void
audit_logger_up(void)
{
	struct backrec	*b;
	json_t		*r;
	char		*s;
	int32_t		 on = 1;

	refused_flush();
	refused_last = 0;
	log_info("logger is back: audit records are written again; %zu "
	    "held while it was away", nback);
	while ((b = TAILQ_FIRST(&backlog)) != NULL) {
		TAILQ_REMOVE(&backlog, b, entry);
		if (frontend_compose(PROC_LOGGER, IMSG_LOG_RECORD, 0, -1,
		    b->text, b->len) == -1)
			log_warn("audit: backlog");
		free(b);
	}
	nback = backbytes = 0;
	if (backlost > 0) {
		r = json_pack("{s:s, s:s, s:I}", "type", "audit", "event",
		    "lost", "records", (json_int_t)backlost);
		if (r != NULL && (s = json_dumps(r, JSON_COMPACT)) != NULL) {
			frontend_compose(PROC_LOGGER, IMSG_LOG_RECORD, 0, -1,
			    s, strlen(s));
			free(s);
		}
		json_decref(r);
		backlost = 0;
	}
	if (nfollowers > 0)
		frontend_compose(PROC_LOGGER, IMSG_LOG_FOLLOW, 0, -1, &on,
		    sizeof(on));
}

/* the logger died: whoever waits for it gets a refusal now */
void
audit_logger_down(void)
{
	struct mcp_call	*call;
	uint32_t	 ids[WAITING_MAX];
	size_t		 n, i;

	if (!frontend_shutting_down())
		log_warnx("lost the logger: audit unavailable; mutating tool "
		    "calls are refused until the parent has restarted it");
	n = mcp_audit_waiting(ids, WAITING_MAX);
	for (i = 0; i < n; i++)
		if ((call = mcp_call_byreqid(ids[i])) != NULL &&
		    call->audit_wait)
			fail(call, "the logger died before the intent was "
			    "written");
	control_logger_gone();
}

void
audit_follow(int delta)
{
	int32_t	 on;
	int	 was = nfollowers;

	nfollowers += delta;
	if (nfollowers < 0)
		nfollowers = 0;
	if ((was == 0) != (nfollowers == 0)) {
		on = nfollowers > 0;
		frontend_compose(PROC_LOGGER, IMSG_LOG_FOLLOW, 0, -1, &on,
		    sizeof(on));
	}
}

/*
 * The worker's word on a result it made: "_audit": {"outcome", "why"}
 * (ssh_shell.c: a Bash killed at its timeout).  It is ours, not the
 * client's: taken off the result here, before anything is sent.
 */
void
audit_take_why(struct mcp_call *call, json_t *result)
{
	json_t		*a;
	const char	*o, *w;

	if ((a = json_object_get(result, "_audit")) == NULL)
		return;
	if (json_is_object(a)) {
		o = json_string_value(json_object_get(a, "outcome"));
		w = json_string_value(json_object_get(a, "why"));
		if (o != NULL && strcmp(o, "timeout") == 0)
			call->audit_timeout = 1;
		if (w != NULL && call->audit_why == NULL)
			call->audit_why = strdup(w);
	}
	json_object_del(result, "_audit");
}

/*
 * Why a call did not end "ok", for its outcome record: the worker's
 * reason, else the first line of the error text the agent got, cut to
 * WHY_MAX and redacted like any record text.  NULL: nothing to say.
 */
char *
audit_why(struct mcp_call *call, json_t *result, const char *outcome)
{
	const char	*t = call->audit_why;
	size_t		 len;

	if (strcmp(outcome, "ok") == 0)
		return NULL;
	if (t == NULL)
		t = json_string_value(json_object_get(json_array_get(
		    json_object_get(result, "content"), 0), "text"));
	if (t == NULL || *t == '\0')
		return NULL;
	len = strcspn(t, "\n");
	if (len > WHY_MAX) {
		/* not inside a UTF-8 sequence: the record must encode */
		len = WHY_MAX;
		while (len > 0 && ((unsigned char)t[len] & 0xc0) == 0x80)
			len--;
	}
	return policy_redact(t, len);
}
