/*
 * fe_control.c: bridgectl's socket, served by the frontend.  Requests and
 * replies use the imsg framing; a reply is a stream of JSON objects, one
 * per IMSG_CTL_DATA, ended by IMSG_CTL_END, or a single IMSG_CTL_OK /
 * IMSG_CTL_ERROR.  What another process owns (host state, reloads) is
 * asked for with the connection's id in peerid and routed back here.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

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
#include "fe_tools.h"
#include "fe_relay.h"

#define CONTROL_MAX_CONNS	32

struct ctl_conn {
	TAILQ_ENTRY(ctl_conn)	 entry;
	uint32_t		 id;	/* with CTL_REQID_BIT */
	uid_t			 uid;
	pid_t			 pid;
	struct imsgev		 iev;
	int			 busy;	/* a request is being answered */
	json_t			*waitw;	/* workers yet to answer, by host */
	uint32_t		 asked;	/* IMSG_CTL_* the workers answer */
	uint32_t		 logreq; /* IMSG_CTL_* the logger answers */
	int			 follow; /* show log -f: 1 backlog, 2 live */
	struct ctl_showq	 showq;	/* show sessions/delegations all */
	json_t			*seen;	/* live delegations already sent */
};

/* a follower that stops reading is dropped past this */
#define CONTROL_FOLLOW_MAXQ	(8 * 1024 * 1024)

#define CTL_BUSY_MSG	"a request is already in progress: send the next one " \
			"after its answer"

static void	 control_accept(int, short, void *);
static void	 control_dispatch(int, short, void *);
static void	 control_close(struct ctl_conn *);
static struct ctl_conn *control_byid(uint32_t);
static void	 control_send_json(struct ctl_conn *, json_t *);
static void	 control_reply(struct ctl_conn *, uint32_t, const char *);
static void	 control_audit(struct ctl_conn *, struct imsg *);
static void	 control_delegations(struct ctl_conn *, struct imsg *);
static void	 control_forwards(struct ctl_conn *, struct imsg *);
static int	 control_showq(struct ctl_conn *, struct imsg *);
static void	 control_history(struct ctl_conn *, uint32_t);
static void	 control_ask(struct ctl_conn *, uint32_t, uint32_t,
		    const char *, const void *, size_t);
static void	 control_answered(struct ctl_conn *, const char *);
static const char *id_host(uint32_t);
static int	 control_filters(struct ctl_conn *, const struct log_query *);
static void	 control_end_followers(void);

static TAILQ_HEAD(, ctl_conn)	 conns = TAILQ_HEAD_INITIALIZER(conns);
static struct event		 ev_listen;
static int			 listen_fd = -1;
static int			 nconns;
static uint32_t			 next_id;
static int			 stopping;	/* SIGTERM: followers end */

void
control_listen(int fd)
{
	listen_fd = fd;
	event_set(&ev_listen, fd, EV_READ | EV_PERSIST, control_accept,
	    NULL);
	event_add(&ev_listen, NULL);
}

void
control_stop(void)
{
	stopping = 1;
	if (listen_fd == -1)
		return;
	event_del(&ev_listen);
	close(listen_fd);
	listen_fd = -1;
}

static void
control_accept(int fd, short event, void *arg)
{
	struct ctl_conn	*c;
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);
	int		 s;

	if ((s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("control: accept");
		return;
	}
	if (nconns >= CONTROL_MAX_CONNS) {
		log_warnx("control: too many connections");
		close(s);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("control");
		close(s);
		return;
	}
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
		c->uid = cred.uid;
		c->pid = cred.pid;
	}
	c->id = CTL_REQID_BIT | (++next_id & ~CTL_REQID_BIT);
	imsgev_init(&c->iev, s, "bridgectl", control_dispatch, c);
	imsgev_add(&c->iev);
	TAILQ_INSERT_TAIL(&conns, c, entry);
	nconns++;
	log_debug("control: connection from uid %d pid %d", (int)c->uid,
	    (int)c->pid);
}

static void
control_close(struct ctl_conn *c)
{
	if (c->follow)
		audit_follow(-1);
	ctlrelay_gone(c->id);
	TAILQ_REMOVE(&conns, c, entry);
	imsgev_clear(&c->iev);
	json_decref(c->waitw);
	json_decref(c->seen);
	free(c);
	nconns--;
}

static struct ctl_conn *
control_byid(uint32_t id)
{
	struct ctl_conn	*c;

	TAILQ_FOREACH(c, &conns, entry)
		if (c->id == id)
			return c;
	return NULL;
}

static void
control_send_json(struct ctl_conn *c, json_t *obj)
{
	char	*s;

	if ((s = json_dumps(obj, JSON_COMPACT)) == NULL)
		return;
	if (imsgev_compose(&c->iev, IMSG_CTL_DATA, 0, -1, s, strlen(s)) ==
	    -1)
		log_warn("control");
	free(s);
}

static void
control_reply(struct ctl_conn *c, uint32_t type, const char *msg)
{
	if (imsgev_compose(&c->iev, type, 0, -1, msg,
	    msg ? strlen(msg) : 0) == -1)
		log_warn("control");
	c->busy = 0;
	c->asked = 0;
	json_decref(c->seen);
	c->seen = NULL;
	json_decref(c->waitw);
	c->waitw = NULL;
}

/* show sessions/delegations: no payload (live only) or struct ctl_showq */
static int
control_showq(struct ctl_conn *c, struct imsg *imsg)
{
	memset(&c->showq, 0, sizeof(c->showq));
	if (imsg->datalen == 0)
		return 0;
	if (imsg->datalen != sizeof(c->showq)) {
		control_reply(c, IMSG_CTL_ERROR, "malformed request");
		return -1;
	}
	memcpy(&c->showq, imsg->data, sizeof(c->showq));
	if (c->showq.since < 0)
		c->showq.since = 0;
	return 0;
}

/* the live rows are out: now the ended ones, from the audit database */
static void
control_history(struct ctl_conn *c, uint32_t type)
{
	c->busy = 1;
	c->logreq = type;
	if (ctlhist_ask(type, c->id, &c->showq) == -1) {
		c->logreq = 0;
		control_reply(c, IMSG_CTL_ERROR, "ended ones are not shown: "
		    "the logger is not running (bridged is restarting it); "
		    "try again shortly");
	}
}

static void
control_dispatch(int fd, short event, void *arg)
{
	struct ctl_conn	*c = arg;
	struct imsg	 imsg;
	struct host	*h;
	json_t		*arr, *o;
	size_t		 i;
	ssize_t		 n;
	int		 v;

	if (event & EV_READ) {
		n = imsgbuf_read(&c->iev.ibuf);
		if ((n == -1 && errno != EAGAIN) || n == 0) {
			control_close(c);
			return;
		}
	}
	if (event & EV_WRITE) {
		if (imsgbuf_write(&c->iev.ibuf) == -1) {
			control_close(c);
			return;
		}
	}

	for (;;) {
		if ((n = imsg_get(&c->iev.ibuf, &imsg)) == -1) {
			log_warnx("control: bad message from pid %d",
			    (int)c->pid);
			control_close(c);
			return;
		}
		if (n == 0)
			break;
		if (imsg.fd != -1)
			close(imsg.fd);
		if (c->busy) {
			/*
			 * One request at a time per connection.  The refusal
			 * leaves the request in progress as it is: its
			 * workers' answers are still awaited (control_reply
			 * would end it, and take them for unasked ones).
			 */
			if (imsgev_compose(&c->iev, IMSG_CTL_ERROR, 0, -1,
			    CTL_BUSY_MSG, strlen(CTL_BUSY_MSG)) == -1)
				log_warn("control");
			imsg_free(&imsg);
			continue;
		}
		switch (imsg.hdr.type) {
		case IMSG_CTL_SHOW_SESSIONS:
			if (control_showq(c, &imsg) == -1)
				break;
			arr = mcp_sessions_json();
			json_array_foreach(arr, i, o)
				control_send_json(c, o);
			json_decref(arr);
			if (c->showq.all)
				control_history(c, IMSG_CTL_SHOW_SESSIONS);
			else
				control_reply(c, IMSG_CTL_END, NULL);
			break;
		case IMSG_CTL_SHOW_HOSTS:
			/* what the workers last reported, held here */
			TAILQ_FOREACH(h, &frontend_conf->hosts, entry) {
				if ((o = host_json(h)) == NULL)
					continue;
				control_send_json(c, o);
				json_decref(o);
			}
			control_reply(c, IMSG_CTL_END, NULL);
			break;
		case IMSG_CTL_SHOW_LISTENERS:
			arr = http_listeners_json();
			json_array_foreach(arr, i, o)
				control_send_json(c, o);
			json_decref(arr);
			control_reply(c, IMSG_CTL_END, NULL);
			break;
		case IMSG_CTL_SHOW_DELEGATIONS:
		case IMSG_CTL_SHOW_JOBS:
		case IMSG_CTL_KILL_DELEGATION:
			control_delegations(c, &imsg);
			break;
		case IMSG_CTL_SHOW_FORWARDS:
		case IMSG_CTL_CLOSE_FORWARD:
			control_forwards(c, &imsg);
			break;
		case IMSG_CTL_RELOAD:
			c->busy = 1;
			log_info("control: reload requested by uid %d",
			    (int)c->uid);
			if (frontend_compose(PROC_PARENT, IMSG_CTL_RELOAD,
			    c->id, -1, NULL, 0) == -1)
				control_reply(c, IMSG_CTL_ERROR,
				    "parent unavailable");
			break;
		case IMSG_CTL_LOG_VERBOSE:
		case IMSG_CTL_LOG_BRIEF:
			v = imsg.hdr.type == IMSG_CTL_LOG_VERBOSE ? 1 : 0;
			if (frontend_compose(PROC_PARENT, IMSG_LOG_VERBOSE, 0,
			    -1, &v, sizeof(v)) == -1)
				control_reply(c, IMSG_CTL_ERROR,
				    "parent unavailable");
			else
				control_reply(c, IMSG_CTL_OK, v ?
				    "logging verbosely" : "logging briefly");
			break;
		case IMSG_CTL_SHOW_CHANNELS:
		case IMSG_CTL_CLEAR_CHANNEL:
		case IMSG_CTL_FOLLOW_CHANNEL:
			/* fe_ctlrelay.c answers, through control_conn_* */
			c->busy = 1;
			ctlrelay_request(c->id, c->uid, &imsg);
			break;
		case IMSG_CTL_SHOW_LOG:
		case IMSG_CTL_SHOW_AUDIT:
		case IMSG_CTL_VERIFY:
		case IMSG_CTL_LOG_ROTATE:
		case IMSG_CTL_KILL_SESSION:
			control_audit(c, &imsg);
			break;
		default:
			control_reply(c, IMSG_CTL_ERROR, "unknown request");
			break;
		}
		imsg_free(&imsg);
	}
	imsgev_add(&c->iev);
}

/*
 * The host whose worker gave out an id (delegation, forward): ids are
 * unique across workers, SSH_ID_SPAN apart (bridged.h).  NULL: none.
 */
static const char *
id_host(uint32_t id)
{
	struct host	*h;

	if ((h = config_host_byid(frontend_conf, id / SSH_ID_SPAN)) == NULL ||
	    !fe_ssh_running(h->name))
		return NULL;
	return h->name;
}

/*
 * Ask every running worker (a list) or the one that holds an id (kill,
 * close); the answer is complete when each asked has answered or gone.
 */
static void
control_ask(struct ctl_conn *c, uint32_t asked, uint32_t type,
    const char *host, const void *data, size_t len)
{
	json_t	*names;

	if ((names = json_object()) == NULL) {
		control_reply(c, IMSG_CTL_ERROR, "out of memory");
		return;
	}
	c->busy = 1;
	c->asked = asked;
	c->waitw = names;
	if (host != NULL) {
		if (fe_ssh_send_running(host, type, c->id, data, len) == -1) {
			control_reply(c, IMSG_CTL_ERROR, "the ssh worker "
			    "cannot be reached; try again shortly");
			return;
		}
		json_object_set_new(names, host, json_true());
	} else
		(void)fe_ssh_broadcast(type, c->id, data, len, names);
	if (json_object_size(names) == 0)
		control_answered(c, NULL);
}

/* delegations live in the ssh workers: ask them, answer when they do */
static void
control_delegations(struct ctl_conn *c, struct imsg *imsg)
{
	const char	*host;
	char		 msg[64];
	uint32_t	 u32;

	if (imsg->hdr.type == IMSG_CTL_KILL_DELEGATION) {
		if (imsg->datalen != sizeof(u32)) {
			control_reply(c, IMSG_CTL_ERROR, "kill delegation: "
			    "bad request");
			return;
		}
		memcpy(&u32, imsg->data, sizeof(u32));
		log_info("control: kill delegation %u requested by uid %d",
		    u32, (int)c->uid);
		if ((host = id_host(u32)) == NULL) {
			snprintf(msg, sizeof(msg), "no delegation %u", u32);
			control_reply(c, IMSG_CTL_ERROR, msg);
			return;
		}
		control_ask(c, imsg->hdr.type, IMSG_SSH_DELEG_KILL, host,
		    &u32, sizeof(u32));
		return;
	}
	if (imsg->hdr.type == IMSG_CTL_SHOW_DELEGATIONS &&
	    control_showq(c, imsg) == -1)
		return;
	/* with "all", the live ones are not listed twice */
	if (imsg->hdr.type == IMSG_CTL_SHOW_DELEGATIONS &&
	    c->showq.all && (c->seen = json_object()) == NULL)
		fatal(NULL);
	u32 = imsg->hdr.type == IMSG_CTL_SHOW_JOBS;
	control_ask(c, imsg->hdr.type, IMSG_SSH_DELEGATIONS, NULL, &u32,
	    sizeof(u32));
}

/* forwards live in the ssh workers too */
static void
control_forwards(struct ctl_conn *c, struct imsg *imsg)
{
	struct fwd_closereq	 req;
	const char		*host;
	char			 msg[64];

	if (imsg->hdr.type == IMSG_CTL_CLOSE_FORWARD) {
		if (imsg->datalen != sizeof(req.id)) {
			control_reply(c, IMSG_CTL_ERROR, "close forward: "
			    "bad request");
			return;
		}
		memset(&req, 0, sizeof(req));
		memcpy(&req.id, imsg->data, sizeof(req.id));
		req.uid = c->uid;
		req.pid = c->pid;
		log_info("control: close forward %u requested by uid %d",
		    req.id, (int)c->uid);
		if ((host = id_host(req.id)) == NULL) {
			snprintf(msg, sizeof(msg), "no forward %u", req.id);
			control_reply(c, IMSG_CTL_ERROR, msg);
			return;
		}
		control_ask(c, imsg->hdr.type, IMSG_SSH_FWD_CLOSE, host, &req,
		    sizeof(req));
		return;
	}
	if (imsg->datalen != 0) {
		control_reply(c, IMSG_CTL_ERROR, "show forwards: bad request");
		return;
	}
	control_ask(c, imsg->hdr.type, IMSG_SSH_FWD_LIST, NULL, NULL, 0);
}

/*
 * A worker has answered (host) or every one has (NULL): once none is
 * left, the list ends, or a kill/close that found no worker says so.
 */
static void
control_answered(struct ctl_conn *c, const char *host)
{
	if (host != NULL && c->waitw != NULL)
		json_object_del(c->waitw, host);
	if (c->waitw != NULL && json_object_size(c->waitw) > 0)
		return;
	switch (c->asked) {
	case IMSG_CTL_SHOW_DELEGATIONS:
		if (c->showq.all) {
			c->asked = 0;
			json_decref(c->waitw);
			c->waitw = NULL;
			control_history(c, IMSG_CTL_SHOW_DELEGATIONS);
			return;
		}
		/* FALLTHROUGH */
	case IMSG_CTL_SHOW_JOBS:
	case IMSG_CTL_SHOW_FORWARDS:
		control_reply(c, IMSG_CTL_END, NULL);
		return;
	case IMSG_CTL_KILL_DELEGATION:
	case IMSG_CTL_CLOSE_FORWARD:
		control_reply(c, IMSG_CTL_ERROR, "the ssh worker holding it "
		    "has gone");
		return;
	}
}

/* a worker died: what bridgectl waited for from it will not come */
void
control_worker_gone(const char *host)
{
	struct ctl_conn	*c, *next;

	TAILQ_FOREACH_SAFE(c, &conns, entry, next)
		if (c->asked != 0 && c->waitw != NULL &&
		    json_object_get(c->waitw, host) != NULL)
			control_answered(c, host);
}

int
control_worker_busy(const char *host)
{
	struct ctl_conn	*c;

	TAILQ_FOREACH(c, &conns, entry)
		if (c->asked != 0 && c->waitw != NULL &&
		    json_object_get(c->waitw, host) != NULL)
			return 1;
	return 0;
}

void
control_result(uint32_t id, int status, const char *msg)
{
	struct ctl_conn	*c;

	if ((c = control_byid(id)) == NULL)
		return;
	control_reply(c, status == 0 ? IMSG_CTL_OK : IMSG_CTL_ERROR, msg);
}

int
control_dispatch_ssh(const char *host, struct imsg *imsg)
{
	struct ctl_conn		*c;
	json_t			*o;
	char			 key[HOST_NAME_LEN + 48], msg[512];
	size_t			 len;
	int32_t			 st;

	c = control_byid(imsg->hdr.peerid);
	/* only a worker that was asked answers, and only what was asked */
	if (c != NULL && (c->waitw == NULL ||
	    json_object_get(c->waitw, host) == NULL))
		return -1;
	switch (imsg->hdr.type) {
	case IMSG_SSH_DELEGINFO:
	case IMSG_SSH_FWD_INFO:
		/* the worker's JSON; checked to be one object, then relayed */
		if (imsg->datalen == 0)
			return -1;
		if (c == NULL)
			return 0;
		if ((o = json_loadb((char *)imsg->data, imsg->datalen, 0,
		    NULL)) == NULL || !json_is_object(o))
			log_warnx("control: malformed record from the worker "
			    "of host \"%s\"", host);
		else {
			control_send_json(c, o);
			if (c->seen != NULL) {
				ctlhist_deleg_key(o, key, sizeof(key));
				json_object_set_new(c->seen, key, json_true());
			}
		}
		json_decref(o);
		return 0;
	case IMSG_SSH_DELEG_KILLED:
	case IMSG_SSH_FWD_CLOSED:
		if (imsg->datalen < sizeof(int32_t))
			return -1;
		if (c == NULL)
			return 0;
		memcpy(&st, imsg->data, sizeof(st));
		len = imsg->datalen - sizeof(st);
		if (len > sizeof(msg) - 1)
			len = sizeof(msg) - 1;
		memcpy(msg, (char *)imsg->data + sizeof(st), len);
		msg[len] = '\0';
		control_reply(c, st == 0 ? IMSG_CTL_OK : IMSG_CTL_ERROR, msg);
		return 0;
	case IMSG_SSH_END:
		if (imsg->datalen != 0)
			return -1;
		if (c != NULL)
			control_answered(c, host);
		return 0;
	}
	return -1;
}

/*
 * The audit requests: the logger owns the records, so show log, show
 * audit, verify and log rotate are passed on with this connection's id
 * and the answers routed back by it.  show log -f stays open: once the
 * recent records are out, every new one follows.
 */
static void
control_audit(struct ctl_conn *c, struct imsg *imsg)
{
	struct log_query	 q;
	uint32_t		 id, type = imsg->hdr.type, ltype;
	int			 ncalls;
	char			 msg[128];

	switch (type) {
	case IMSG_CTL_KILL_SESSION:
		if (imsg->datalen != sizeof(id)) {
			control_reply(c, IMSG_CTL_ERROR, "malformed request");
			return;
		}
		memcpy(&id, imsg->data, sizeof(id));
		log_info("control: kill session %u requested by uid %d", id,
		    (int)c->uid);
		if (mcp_kill_session(id, c->uid, &ncalls) == -1) {
			snprintf(msg, sizeof(msg), "no session %u", id);
			control_reply(c, IMSG_CTL_ERROR, msg);
			return;
		}
		snprintf(msg, sizeof(msg), "session %u killed; %d call%s in "
		    "flight cancelled", id, ncalls, ncalls == 1 ? "" : "s");
		control_reply(c, IMSG_CTL_OK, msg);
		return;
	case IMSG_CTL_SHOW_LOG:
	case IMSG_CTL_SHOW_AUDIT:
		if (imsg->datalen != sizeof(q)) {
			control_reply(c, IMSG_CTL_ERROR, "malformed request");
			return;
		}
		memcpy(&q, imsg->data, sizeof(q));
		if (type == IMSG_CTL_SHOW_AUDIT)
			q.follow = 0;
		if (control_filters(c, &q) == -1)
			return;
		if (q.nobacklog) {
			/* -n 0: nothing from before; a follower goes live */
			if (!q.follow) {
				control_reply(c, IMSG_CTL_END, NULL);
				return;
			}
			c->busy = 1;
			c->logreq = type;
			c->follow = 2;
			audit_follow(1);
			return;
		}
		ltype = IMSG_LOG_QUERY;
		break;
	case IMSG_CTL_VERIFY:
		ltype = IMSG_LOG_VERIFY;
		break;
	default:
		if (imsg->datalen != 0) {
			control_reply(c, IMSG_CTL_ERROR, "malformed request");
			return;
		}
		ltype = IMSG_LOG_ROTATE;
		break;
	}
	c->busy = 1;
	c->logreq = type;
	if (ltype == IMSG_LOG_QUERY && q.follow) {
		/* subscribe first: nothing falls between query and feed */
		c->follow = 1;
		audit_follow(1);
	}
	if (frontend_compose(PROC_LOGGER, ltype, c->id, -1,
	    ltype == IMSG_LOG_QUERY ? (void *)&q : imsg->data,
	    ltype == IMSG_LOG_QUERY ? sizeof(q) : imsg->datalen) == -1) {
		c->logreq = 0;
		control_reply(c, IMSG_CTL_ERROR, "the logger is not running "
		    "(bridged is restarting it); try again shortly");
	}
}

void
control_dispatch_logger(struct imsg *imsg)
{
	struct ctl_conn		*c, *next;
	struct log_status	 ls;
	json_t			*row;
	char			*msg;

	if (imsg->hdr.type == IMSG_LOG_DATA) {
		if (imsg->datalen == 0)
			fatalx("empty IMSG_LOG_DATA from logger");
		if (imsg->hdr.peerid != 0 &&
		    (c = control_byid(imsg->hdr.peerid)) != NULL &&
		    (c->logreq == IMSG_CTL_SHOW_SESSIONS ||
		    c->logreq == IMSG_CTL_SHOW_DELEGATIONS)) {
			/* an end record, shaped like the live rows */
			if ((row = ctlhist_row(c->logreq, imsg->data,
			    imsg->datalen, c->seen)) != NULL)
				control_send_json(c, row);
			json_decref(row);
			return;
		}
		if (imsg->hdr.peerid != 0) {
			if ((c = control_byid(imsg->hdr.peerid)) != NULL &&
			    c->logreq != 0 &&
			    imsgev_compose(&c->iev, IMSG_CTL_DATA, 0, -1,
			    imsg->data, imsg->datalen) == -1)
				log_warn("control");
			return;
		}
		/* the live feed: to every follower past its backlog */
		TAILQ_FOREACH_SAFE(c, &conns, entry, next) {
			if (c->follow != 2)
				continue;
			if (c->iev.ibuf.queued > CONTROL_FOLLOW_MAXQ) {
				log_warnx("control: log follower pid %d does "
				    "not read; dropped", (int)c->pid);
				control_close(c);
				continue;
			}
			if (imsgev_compose(&c->iev, IMSG_CTL_DATA, 0, -1,
			    imsg->data, imsg->datalen) == -1)
				log_warn("control");
		}
		return;
	}
	/* IMSG_LOG_END */
	if (imsg->datalen < sizeof(ls))
		fatalx("bad IMSG_LOG_END size %zu", imsg->datalen);
	memcpy(&ls, imsg->data, sizeof(ls));
	msg = (char *)imsg->data + sizeof(ls);	/* NUL-terminated (imsg.c) */
	if ((c = control_byid(imsg->hdr.peerid)) == NULL || c->logreq == 0)
		return;
	if (ls.status != 0) {
		c->logreq = 0;
		control_reply(c, IMSG_CTL_ERROR, msg[0] ? msg :
		    "the logger could not answer");
		return;
	}
	switch (c->logreq) {
	case IMSG_CTL_SHOW_LOG:
		if (c->follow) {
			c->follow = 2;	/* live now; never ends */
			return;
		}
		/* FALLTHROUGH */
	case IMSG_CTL_SHOW_AUDIT:
	case IMSG_CTL_SHOW_SESSIONS:
	case IMSG_CTL_SHOW_DELEGATIONS:
		c->logreq = 0;
		control_reply(c, IMSG_CTL_END, NULL);
		break;
	default:
		c->logreq = 0;
		control_reply(c, IMSG_CTL_OK, msg[0] ? msg : NULL);
		break;
	}
}

/* the logger died: requests waiting for it fail, followers end */
void
control_logger_gone(void)
{
	struct ctl_conn	*c;

	TAILQ_FOREACH(c, &conns, entry) {
		if (c->logreq == 0)
			continue;
		c->logreq = 0;
		if (c->follow) {
			audit_follow(-1);
			c->follow = 0;
			/* at shutdown the logger goes too: that is the end */
			if (stopping || frontend_shutting_down()) {
				control_reply(c, IMSG_CTL_OK,
				    "bridged stopped");
				continue;
			}
		}
		control_reply(c, IMSG_CTL_ERROR, "the logger died; bridged "
		    "is restarting it");
	}
}

/*
 * The frontend is exiting: a follower's log ends here, and it is told so
 * rather than left to guess from a closed socket whether we crashed.
 */
void
control_exit(void)
{
	struct ctl_conn	*c;

	control_end_followers();
	TAILQ_FOREACH(c, &conns, entry)
		imsgbuf_flush(&c->iev.ibuf);
}

static void
control_end_followers(void)
{
	struct ctl_conn	*c;

	TAILQ_FOREACH(c, &conns, entry) {
		if (ctlrelay_following(c->id)) {
			/* show channel -f: the end of the messages */
			ctlrelay_gone(c->id);
			control_reply(c, IMSG_CTL_END, NULL);
			continue;
		}
		if (!c->follow)
			continue;
		c->follow = 0;
		c->logreq = 0;
		control_reply(c, IMSG_CTL_OK, "bridged stopped");
	}
}

/*
 * show audit's filters name things that exist: a tool of the tool table,
 * a host of the configuration.  A misspelt one would match nothing and
 * look like a quiet log.  (bridgectl checks the outcome words itself.)
 */
static int
control_filters(struct ctl_conn *c, const struct log_query *q)
{
	struct host	*h;
	json_t		*t;
	char		*s = NULL, *u;
	const char	*what, *word;
	size_t		 i;

	if (memchr(q->host, '\0', sizeof(q->host)) == NULL ||
	    memchr(q->tool, '\0', sizeof(q->tool)) == NULL ||
	    memchr(q->outcome, '\0', sizeof(q->outcome)) == NULL) {
		control_reply(c, IMSG_CTL_ERROR, "malformed request");
		return -1;
	}
	if (q->tool[0] != '\0' && tool_find(q->tool) == NULL) {
		what = "tool";
		word = q->tool;
		json_array_foreach(tools_list_json(), i, t) {
			if (asprintf(&u, "%s%s%s", s ? s : "", s ? ", " : "",
			    json_string_value(json_object_get(t, "name"))) ==
			    -1)
				fatal(NULL);
			free(s);
			s = u;
		}
	} else if (q->host[0] != '\0' &&
	    config_host_byname(frontend_conf, q->host) == NULL) {
		what = "host";
		word = q->host;
		TAILQ_FOREACH(h, &frontend_conf->hosts, entry) {
			if (asprintf(&u, "%s%s%s", s ? s : "", s ? ", " : "",
			    h->name) == -1)
				fatal(NULL);
			free(s);
			s = u;
		}
	} else
		return 0;
	if (asprintf(&u, "%s %s: no such %s; the %ss are: %s", what, word,
	    what, what, s ? s : "(none)") == -1)
		fatal(NULL);
	control_reply(c, IMSG_CTL_ERROR, u);
	free(u);
	free(s);
	return -1;
}

/*
 * For fe_ctlrelay.c, which knows connections by id: a row, the answer
 * that ends a request, the end of a connection.  -1: no such
 * connection; -2: it does not read what it is sent (it is closed).
 */
int
control_conn_send(uint32_t id, json_t *row)
{
	struct ctl_conn	*c;

	if ((c = control_byid(id)) == NULL)
		return -1;
	control_send_json(c, row);
	if (c->iev.ibuf.queued > CONTROL_FOLLOW_MAXQ) {
		log_warnx("control: channel follower pid %d does not read; "
		    "dropped", (int)c->pid);
		control_close(c);
		return -2;
	}
	return 0;
}

void
control_conn_reply(uint32_t id, uint32_t type, const char *msg)
{
	struct ctl_conn	*c;

	if ((c = control_byid(id)) != NULL)
		control_reply(c, type, msg);
}
