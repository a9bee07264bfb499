/*
 * ssh_pool.c: the channels on a host's SSH connections.
 *
 * sshd limits the session channels (shells, exec, SFTP) on one
 * connection (MaxSessions, 10 by default) and refuses one more with
 * SSH_MSG_CHANNEL_OPEN_FAILURE "open failed".  So a host has a pool of
 * connections (ssh_conn.c makes them): a channel goes on a connection
 * with fewer than "max sessions" open, on another when the server
 * refuses it, on a new connection when all are full, up to "max
 * connections" (several made at once when many wait, pool_grow).  When
 * every connection is full, whoever needs a channel waits in the host's
 * queue until one is freed or its time is up, and is then told which
 * limits to raise.  Kills go first in the queue: a
 * runaway command must not outlive its session for want of a channel.
 *
 * A refusal is believed for POOL_CAP_SECS only: sshd keeps a session
 * whose channel we closed until its processes have exited, so a refusal
 * right after a close may be gone a moment later.
 *
 * Exec channels are opened without blocking the worker (sshconn_open):
 * the open and the exec request are sent, and pool_poll(), which runs
 * whenever packets of the connection were processed, looks at their
 * state until the server has answered both.  A reply processed inside
 * another tool's blocking libssh call leaves no event behind, so the
 * opens still waiting are looked at again every POOL_RECHECK_MS.
 * The direct-tcpip channels that carry the connection of a host reached
 * "via" this one (sshconn_open_tcpip, for ssh_jump.c) are opened the same
 * way and take a place like a session: sshd does not count them in its
 * MaxSessions, but each holds a tunnelled SSH connection, and "max
 * sessions" is what bounds how much one connection of ours carries.  A
 * refusal of one is the server's answer (forwarding not allowed, the
 * destination unreachable), not a full connection: it is not retried.
 *
 * The file tools block anyway (libssh's SFTP): their connection and
 * their channels are ssh_poolfiles.c's.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event.h>
#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include "bridged.h"
#include "log.h"
#include "ssh.h"
#include "ssh_pool.h"

#define POOL_RECHECK_MS		100	/* opens answered inside a call */
#define POOL_GROW_RETRY		5	/* seconds after a failed extra one */
#define POOL_IDLE_SECS		60	/* an unused extra connection goes */
/* connections made at once: well under sshd's MaxStartups (10) */
#define POOL_GROW_PAR		4

enum open_state {
	OPEN_WAIT,		/* in the queue for room */
	OPEN_CHAN,		/* channel open sent */
	OPEN_EXEC,		/* exec request sent */
	OPEN_OK,
	OPEN_FAILED,
};

struct sshopen {
	struct sshwaiter	 w;
	TAILQ_ENTRY(sshopen)	 entry;		/* conn->opens */
	struct sshhost		*host;
	struct sshconn		*conn;		/* once placed */
	uint32_t		 preferid;
	ssh_channel		 ch;
	char			*cmd;		/* exec, or NULL: direct-tcpip */
	char			*addr;		/* direct-tcpip: to addr:port */
	uint16_t		 port;
	enum open_state		 state;
	int			 abandoned;	/* nobody waits: close it */
	struct ssh_channel_callbacks_struct *cb;
	sshopen_done		 done;
	void			*arg;
	char			 why[256];
};

TAILQ_HEAD(openlist, sshopen);

static void	 pool_grow(struct sshhost *);
static void	 pool_wake(int, short, void *);
static void	 pool_growcb(int, short, void *);
static void	 pool_pollcb(int, short, void *);
static void	 waiter_arm(struct sshwaiter *, int);
static void	 waiter_timeout(int, short, void *);
static struct sshopen *open_new(struct sshhost *, struct sshconn *,
		    struct ssh_channel_callbacks_struct *, int, sshopen_done,
		    void *);
static void	 open_start(struct sshopen *, int);
static void	 open_place(struct sshopen *, struct sshconn *);
static int	 open_step(struct sshopen *);
static void	 open_finish(struct sshopen *, int);
static void	 open_free(struct sshopen *);
static void	 open_ready(struct sshwaiter *, struct sshconn *);
static void	 open_expire(struct sshwaiter *, const char *);
static void	 open_abandon(struct sshconn *, ssh_channel, enum open_state);

/* ---- the pool --------------------------------------------------------- */

void
sshconn_hostinit(struct sshhost *host)
{
	TAILQ_INIT(&host->conns);
	TAILQ_INIT(&host->waiting);
	TAILQ_INIT(&host->roomq);
	evtimer_set(&host->ev_wake, pool_wake, host);
	evtimer_set(&host->ev_grow, pool_growcb, host);
}

void
pool_conninit(struct sshconn *c)
{
	TAILQ_INIT(&c->opens);
	evtimer_set(&c->ev_poll, pool_pollcb, c);
	c->lastuse = time(NULL);
}

void
pool_connfree(struct sshconn *c)
{
	evtimer_del(&c->ev_poll);
}

int
pool_alive(ssh_session s)
{
	return s != NULL && ssh_is_connected(s) &&
	    (ssh_get_status(s) & (SSH_CLOSED | SSH_CLOSED_ERROR)) == 0;
}

/* how many more session channels c takes */
int
pool_room(struct sshconn *c)
{
	int	 max;

	if (!c->up || c->dying || c->session == NULL)
		return 0;
	max = c->host->conf != NULL ? c->host->conf->max_sessions :
	    CONF_MAX_SESSIONS;
	if (c->cap_until != 0) {
		if (time(NULL) < c->cap_until) {
			if (c->cap < max)
				max = c->cap;
		} else
			c->cap_until = 0;
	}
	return max - c->nsess;
}

/* the preferred connection when it has room, else the first that has */
struct sshconn *
pool_pick(struct sshhost *host, uint32_t preferid)
{
	struct sshconn	*c;

	if (preferid != 0 && (c = sshconn_byid(preferid)) != NULL &&
	    c->host == host && pool_room(c) > 0)
		return c;
	TAILQ_FOREACH(c, &host->conns, entry)
		if (pool_room(c) > 0)
			return c;
	return NULL;
}

/* why there is no channel: which limits to raise */
void
pool_why(struct sshhost *host, int refused, char *buf, size_t len)
{
	struct host	*h = host->conf;
	struct sshconn	*c;
	int		 n = 0, used = 0, line = h != NULL ? h->line : 0;
	int		 maxs = h != NULL ? h->max_sessions : CONF_MAX_SESSIONS;
	int		 maxc = h != NULL ? h->max_conns : CONF_MAX_CONNS;
	char		 more[300] = "";

	TAILQ_FOREACH(c, &host->conns, entry)
		if (c->up && !c->dying) {
			n++;
			used += c->nsess;
		}
	if (host->grow_err[0] != '\0')
		snprintf(more, sizeof(more), "; the last new connection"
		    " failed: %s", host->grow_err);
	if (n == 0)
		snprintf(buf, len, "host \"%s\": not connected%s%s",
		    host->name, host->st.last_error[0] ? ": " : "",
		    host->st.last_error);
	else if (refused)
		snprintf(buf, len, "host \"%s\": the server refused another"
		    " channel (\"open failed\": sshd's MaxSessions) and no"
		    " other connection can take it: %d connection%s, %d"
		    " session%s open (raise MaxSessions in the host's"
		    " sshd_config, or \"max connections\", now %d, in host"
		    " \"%s\", bridged.conf line %d)%s", host->name, n,
		    n == 1 ? "" : "s", used, used == 1 ? "" : "s", maxc,
		    host->name, line, more);
	else
		snprintf(buf, len, "host \"%s\": no free SSH channel: %d"
		    " connection%s \xc3\x97 %d sessions in use (raise \"max"
		    " connections\" or \"max sessions\" in host \"%s\","
		    " bridged.conf line %d, and sshd's MaxSessions)%s",
		    host->name, n, n == 1 ? "" : "s", maxs, host->name, line,
		    more);
}

/* look at the queue from the event loop: a channel may be free */
void
pool_kick(struct sshhost *host)
{
	struct timeval	 tv = { 0, 0 };

	if (!TAILQ_EMPTY(&host->roomq))
		evtimer_add(&host->ev_wake, &tv);
}

/* hand out what room there is, first come (kills first), first served */
static void
pool_wake(int fd, short event, void *arg)
{
	struct sshhost		*host = arg;
	struct sshwaiter	*w;
	struct sshconn		*c;
	int			 n = 0;

	TAILQ_FOREACH(w, &host->roomq, entry)
		n++;
	/* a waiter put back (a refusal) waits for the next round */
	while (n-- > 0 && (w = TAILQ_FIRST(&host->roomq)) != NULL) {
		if ((c = pool_pick(host, 0)) == NULL)
			break;
		TAILQ_REMOVE(&host->roomq, w, entry);
		w->queued = 0;
		w->ready(w, c);
	}
	pool_grow(host);
}

/*
 * Waiters and no room: more connections if the limit allows, as many as
 * the waiters fill (max sessions each), at most POOL_GROW_PAR being made
 * at once (one while the host has none: the first says whether it can
 * be reached at all); else wait for a channel to be freed or for a
 * refusal to be forgotten.
 */
static void
pool_grow(struct sshhost *host)
{
	struct sshconn		*c;
	struct sshwaiter	*w;
	struct timeval		 tv = { 0, 0 };
	time_t			 now = time(NULL), soon = 0;
	int			 n = 0, up = 0, making = 0, nw = 0, want, maxs;

	if (TAILQ_EMPTY(&host->roomq) || host->conf == NULL)
		return;
	if (pool_pick(host, 0) != NULL) {
		pool_kick(host);
		return;
	}
	TAILQ_FOREACH(c, &host->conns, entry) {
		if (c->dying)
			continue;
		n++;
		if (!c->up)
			making++;
		else {
			up++;
			if (c->cap_until != 0 && (soon == 0 ||
			    c->cap_until < soon))
				soon = c->cap_until;
		}
	}
	TAILQ_FOREACH(w, &host->roomq, entry)
		nw++;
	maxs = host->conf->max_sessions > 0 ? host->conf->max_sessions : 1;
	want = up == 0 ? 1 : (nw + maxs - 1) / maxs;
	if (want > POOL_GROW_PAR)
		want = POOL_GROW_PAR;
	if (making < want && n < host->conf->max_conns) {
		if (n == 0 || now >= host->grow_after) {
			while (making < want && n < host->conf->max_conns) {
				(void)sshconn_make(host);
				making++;
				n++;
			}
			return;
		}
		tv.tv_sec = host->grow_after - now;
		evtimer_add(&host->ev_grow, &tv);
	}
	if (soon != 0 && !evtimer_pending(&host->ev_wake, NULL)) {
		tv.tv_sec = soon > now ? soon - now : 0;
		tv.tv_usec = 50000;
		evtimer_add(&host->ev_wake, &tv);
	}
}

static void
pool_growcb(int fd, short event, void *arg)
{
	pool_grow(arg);
}

static void
waiter_arm(struct sshwaiter *w, int ms)
{
	struct timeval	 tv;

	if (ms <= 0 || w->ev_set)
		return;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_set(&w->ev, waiter_timeout, w);
	evtimer_add(&w->ev, &tv);
	w->ev_set = 1;
}

void
waiter_queue(struct sshwaiter *w, int ms)
{
	struct sshhost		*host = w->host;
	struct sshwaiter	*x;

	if (w->urgent) {
		TAILQ_FOREACH(x, &host->roomq, entry)
			if (!x->urgent)
				break;
		if (x != NULL)
			TAILQ_INSERT_BEFORE(x, w, entry);
		else
			TAILQ_INSERT_TAIL(&host->roomq, w, entry);
	} else
		TAILQ_INSERT_TAIL(&host->roomq, w, entry);
	w->queued = 1;
	waiter_arm(w, ms);
	/*
	 * Not at once: a kill is queued just before its shell's channel is
	 * freed, and that channel is all it needs, no new connection.
	 */
	pool_kick(host);
}

void
waiter_stop(struct sshwaiter *w)
{
	if (w->queued) {
		TAILQ_REMOVE(&w->host->roomq, w, entry);
		w->queued = 0;
	}
	if (w->ev_set) {
		evtimer_del(&w->ev);
		w->ev_set = 0;
	}
}

static void
waiter_timeout(int fd, short event, void *arg)
{
	struct sshwaiter	*w = arg;
	char			 why[1024];

	w->ev_set = 0;
	pool_why(w->host, w->refused, why, sizeof(why));
	if (w->queued) {
		TAILQ_REMOVE(&w->host->roomq, w, entry);
		w->queued = 0;
	}
	w->expire(w, why);
}

/* a connection is ready, or a channel was freed */
void
pool_conn_up(struct sshconn *c)
{
	c->host->grow_err[0] = '\0';
	pool_kick(c->host);
}

/*
 * Making a connection failed.  With none up, nobody will get a channel:
 * every waiter learns why.  Else they wait for the ones there are, and
 * another is tried in a while.
 */
void
pool_conn_failed(struct sshhost *host, const char *why)
{
	struct sshwaiter	*w;
	struct timeval		 tv = { POOL_GROW_RETRY, 0 };

	if (sshconn_any(host) == NULL) {
		while ((w = TAILQ_FIRST(&host->roomq)) != NULL) {
			waiter_stop(w);
			w->expire(w, why);
		}
		return;
	}
	strlcpy(host->grow_err, why, sizeof(host->grow_err));
	host->grow_after = time(NULL) + POOL_GROW_RETRY;
	if (!TAILQ_EMPTY(&host->roomq))
		evtimer_add(&host->ev_grow, &tv);
}

/* the connection is going: what was being opened on it fails */
void
pool_conn_lost(struct sshconn *c, const char *why)
{
	struct sshopen	*op;

	while ((op = TAILQ_FIRST(&c->opens)) != NULL) {
		TAILQ_REMOVE(&c->opens, op, entry);
		waiter_stop(&op->w);
		/* the channel goes with the session */
		op->ch = NULL;
		op->conn = NULL;
		if (!op->abandoned)
			op->done(op->arg, NULL, NULL, why);
		open_free(op);
	}
	evtimer_del(&c->ev_poll);
}

/* the host left the configuration: nobody gets a channel on it */
void
pool_hostgone(struct sshhost *host)
{
	struct sshwaiter	*w;
	char			 why[128];

	snprintf(why, sizeof(why), "host \"%s\" was removed from the"
	    " configuration", host->name);
	while ((w = TAILQ_FIRST(&host->roomq)) != NULL) {
		waiter_stop(w);
		w->expire(w, why);
	}
	evtimer_del(&host->ev_wake);
	evtimer_del(&host->ev_grow);
}

/* an extra connection nobody has used for a while may be closed */
int
pool_idle(struct sshconn *c, time_t now)
{
	int	 sftp = c->sftp != NULL;

	return c->up && !c->dying && c != sshconn_any(c->host) &&
	    c->nsess == sftp && c->nchan == sftp && c->nfwd == 0 &&
	    TAILQ_EMPTY(&c->opens) && now - c->lastuse >= POOL_IDLE_SECS;
}

/* ---- channels --------------------------------------------------------- */

void
sshconn_chclose(struct sshconn *c, ssh_channel ch,
    struct ssh_channel_callbacks_struct *cb, int session)
{
	if (cb != NULL)
		ssh_remove_channel_callbacks(ch, cb);
	ssh_channel_free(ch);
	if (c->nchan > 0)
		c->nchan--;
	if (session) {
		if (c->nsess > 0)
			c->nsess--;
		c->lastuse = time(NULL);
		pool_kick(c->host);
	}
}

void
sshconn_chadd(struct sshconn *c)
{
	c->nchan++;
}

/* ---- opening without blocking ----------------------------------------- */

static struct sshopen *
open_new(struct sshhost *host, struct sshconn *prefer,
    struct ssh_channel_callbacks_struct *cb, int urgent, sshopen_done done,
    void *arg)
{
	struct sshopen	*op;

	if ((op = calloc(1, sizeof(*op))) == NULL)
		fatal(NULL);
	op->host = host;
	op->preferid = prefer != NULL ? prefer->id : 0;
	op->cb = cb;
	op->done = done;
	op->arg = arg;
	op->state = OPEN_WAIT;
	op->w.host = host;
	op->w.urgent = urgent;
	op->w.ready = open_ready;
	op->w.expire = open_expire;
	op->w.arg = op;
	return op;
}

/* room now, and nobody before us in the queue (kills may pass) */
static void
open_start(struct sshopen *op, int ms)
{
	struct sshconn	*c;

	if ((op->w.urgent || TAILQ_EMPTY(&op->host->roomq)) &&
	    (c = pool_pick(op->host, op->preferid)) != NULL) {
		waiter_arm(&op->w, ms);
		open_place(op, c);
	} else
		waiter_queue(&op->w, ms);
}

struct sshopen *
sshconn_open(struct sshhost *host, struct sshconn *prefer, const char *cmd,
    struct ssh_channel_callbacks_struct *cb, int ms, int urgent,
    sshopen_done done, void *arg)
{
	struct sshopen	*op;

	op = open_new(host, prefer, cb, urgent, done, arg);
	if ((op->cmd = strdup(cmd)) == NULL)
		fatal(NULL);
	open_start(op, ms);
	return op;
}

struct sshopen *
sshconn_open_tcpip(struct sshhost *host, const char *addr, uint16_t port,
    struct ssh_channel_callbacks_struct *cb, int ms, sshopen_done done,
    void *arg)
{
	struct sshopen	*op;

	op = open_new(host, NULL, cb, 0, done, arg);
	if ((op->addr = strdup(addr)) == NULL)
		fatal(NULL);
	op->port = port;
	open_start(op, ms);
	return op;
}

void
sshconn_open_cancel(struct sshopen *op)
{
	waiter_stop(&op->w);
	if (op->state == OPEN_WAIT) {
		open_free(op);
		return;
	}
	/* the server's answer is still to come: its channel is closed then */
	if (op->cb != NULL && op->ch != NULL)
		ssh_remove_channel_callbacks(op->ch, op->cb);
	op->cb = NULL;
	op->abandoned = 1;
}

const char *
sshconn_open_why(struct sshopen *op, char *buf, size_t len)
{
	if (op->state == OPEN_WAIT)
		pool_why(op->host, op->w.refused, buf, len);
	else
		snprintf(buf, len, "host \"%s\": the server has not answered"
		    " the request for a channel yet", op->host->name);
	return buf;
}

static void
open_free(struct sshopen *op)
{
	free(op->cmd);
	free(op->addr);
	free(op);
}

static void
open_ready(struct sshwaiter *w, struct sshconn *c)
{
	open_place(w->arg, c);
}

/* the deadline passed: still waiting for room, or for the server */
static void
open_expire(struct sshwaiter *w, const char *why)
{
	struct sshopen	*op = w->arg;
	char		 msg[300];

	if (op->state == OPEN_WAIT) {
		op->done(op->arg, NULL, NULL, why);
		open_free(op);
		return;
	}
	snprintf(msg, sizeof(msg), "host \"%s\": no answer from the server"
	    " to the request for a channel", op->host->name);
	sshconn_open_cancel(op);
	op->done(op->arg, NULL, NULL, msg);
}

/* the channel is made on c; the poll sends the open and follows it */
static void
open_place(struct sshopen *op, struct sshconn *c)
{
	struct timeval	 tv = { 0, 0 };

	op->conn = c;
	c->nsess++;
	c->nchan++;
	c->lastuse = time(NULL);
	TAILQ_INSERT_TAIL(&c->opens, op, entry);
	if ((op->ch = ssh_channel_new(c->session)) == NULL) {
		snprintf(op->why, sizeof(op->why), "cannot make a channel:"
		    " %s", sshconn_error(c->session, "out of memory"));
		op->state = OPEN_FAILED;
	} else {
		if (op->cb != NULL)
			ssh_set_channel_callbacks(op->ch, op->cb);
		op->state = OPEN_CHAN;
	}
	evtimer_add(&c->ev_poll, &tv);
}

/*
 * One look at an open: 0 still waiting, 1 finished (ok or failed, off
 * the connection's list), 2 refused and back in the queue, 3 the
 * connection is broken.
 */
static int
open_step(struct sshopen *op)
{
	struct sshconn	*c = op->conn;
	ssh_session	 s = c->session;
	int		 rc, was;

	if (op->state == OPEN_FAILED || op->state == OPEN_OK)
		goto finished;
	was = sshconn_nb_begin(s);
	if (op->state == OPEN_CHAN && op->cmd == NULL) {
		/* direct-tcpip: open is all; a refusal is the server's say */
		rc = ssh_channel_open_forward(op->ch, op->addr, op->port,
		    "127.0.0.1", 0);
		sshconn_nb_end(s, was);
		if (rc == SSH_AGAIN)
			return 0;
		if (rc == SSH_OK) {
			op->state = OPEN_OK;
			goto finished;
		}
		if (!pool_alive(s))
			return 3;
		snprintf(op->why, sizeof(op->why), "host \"%s\" refused the"
		    " channel to %s:%u: %s", c->host->name, op->addr, op->port,
		    sshconn_error(s, "open failed"));
		op->state = OPEN_FAILED;
		goto finished;
	}
	if (op->state == OPEN_CHAN) {
		rc = ssh_channel_open_session(op->ch);
		if (rc == SSH_AGAIN) {
			sshconn_nb_end(s, was);
			return 0;
		}
		if (rc != SSH_OK) {
			sshconn_nb_end(s, was);
			if (!pool_alive(s))
				return 3;
			/* SSH_MSG_CHANNEL_OPEN_FAILURE: sshd's MaxSessions */
			strlcpy(op->why, sshconn_error(s, "open failed"),
			    sizeof(op->why));
			TAILQ_REMOVE(&c->opens, op, entry);
			sshconn_chclose(c, op->ch, op->cb, 1);
			op->ch = NULL;
			op->conn = NULL;
			/*
			 * Even with none of ours open: sshd keeps a session
			 * until its processes are gone, after we closed it.
			 */
			c->cap = c->nsess;
			c->cap_until = time(NULL) + POOL_CAP_SECS;
			log_debug("host \"%s\": connection %u refused a channel"
			    " with %d open: %s", c->host->name, c->id,
			    c->nsess, op->why);
			if (op->abandoned) {
				open_free(op);
				return 2;
			}
			op->state = OPEN_WAIT;
			op->w.refused = 1;
			waiter_queue(&op->w, 0);
			return 2;
		}
		op->state = OPEN_EXEC;
	}
	rc = ssh_channel_request_exec(op->ch, op->cmd);
	sshconn_nb_end(s, was);
	if (rc == SSH_AGAIN)
		return 0;
	if (rc != SSH_OK) {
		if (!pool_alive(s))
			return 3;
		snprintf(op->why, sizeof(op->why), "the server did not run"
		    " the command: %s", sshconn_error(s, "request refused"));
		op->state = OPEN_FAILED;
	} else
		op->state = OPEN_OK;
 finished:
	TAILQ_REMOVE(&c->opens, op, entry);
	return 1;
}

/*
 * Packets of c were processed, or a while passed: follow its opens.
 * Those that finished are answered after the walk, since an answer may
 * do anything, even lose the connection.
 */
void
pool_poll(struct sshconn *c)
{
	struct openlist	 fin = TAILQ_HEAD_INITIALIZER(fin);
	struct sshopen	*op, *next;
	struct timeval	 tv = { 0, POOL_RECHECK_MS * 1000 };
	uint32_t	 id = c->id;
	int		 broken = 0, r;

	TAILQ_FOREACH_SAFE(op, &c->opens, entry, next) {
		switch ((r = open_step(op))) {
		case 1:
			TAILQ_INSERT_TAIL(&fin, op, entry);
			break;
		case 3:
			broken = 1;
			break;
		}
		if (broken)
			break;
	}
	if (!broken && !TAILQ_EMPTY(&c->opens) &&
	    !evtimer_pending(&c->ev_poll, NULL))
		evtimer_add(&c->ev_poll, &tv);
	while ((op = TAILQ_FIRST(&fin)) != NULL) {
		TAILQ_REMOVE(&fin, op, entry);
		open_finish(op, sshconn_byid(id) != NULL);
	}
	if (broken && (c = sshconn_byid(id)) != NULL)
		(void)sshconn_check(c);
}

static void
pool_pollcb(int fd, short event, void *arg)
{
	pool_poll(arg);
}

/* answer the owner; alive: the connection is still there */
static void
open_finish(struct sshopen *op, int alive)
{
	struct sshconn	*c = op->conn;
	char		 why[300];

	waiter_stop(&op->w);
	if (c != NULL && !alive) {
		/* lost while another open's answer ran: the channel with it */
		if (!op->abandoned)
			op->done(op->arg, NULL, NULL, "the connection was"
			    " lost");
		open_free(op);
		return;
	}
	if (op->state == OPEN_OK) {
		if (op->abandoned)
			sshconn_chclose(c, op->ch, NULL, 1);
		else
			op->done(op->arg, op->ch, c, NULL);
		open_free(op);
		return;
	}
	if (c != NULL && op->ch != NULL)
		sshconn_chclose(c, op->ch, op->cb, 1);
	snprintf(why, sizeof(why), "%s", op->why[0] ? op->why :
	    "the channel could not be opened");
	if (!op->abandoned)
		op->done(op->arg, NULL, NULL, why);
	open_free(op);
}

/* a blocking open that timed out: the server's answer closes it later */
static void
open_abandon(struct sshconn *c, ssh_channel ch, enum open_state state)
{
	struct sshopen	*op;
	struct timeval	 tv = { 0, 0 };

	if ((op = calloc(1, sizeof(*op))) == NULL ||
	    (op->cmd = strdup("")) == NULL)
		fatal(NULL);
	op->host = c->host;
	op->w.host = c->host;
	op->conn = c;
	op->ch = ch;
	op->state = state;
	op->abandoned = 1;
	TAILQ_INSERT_TAIL(&c->opens, op, entry);
	evtimer_add(&c->ev_poll, &tv);
}

/* the same for ssh_poolfiles.c: exec, or the channel open only */
void
pool_abandon(struct sshconn *c, ssh_channel ch, int exec)
{
	open_abandon(c, ch, exec ? OPEN_EXEC : OPEN_CHAN);
}
