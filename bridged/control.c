/*
 * control.c: bridgectl's socket, served by the frontend.  Requests and
 * replies use the imsg framing; a reply is a stream of JSON objects, one
 * per IMSG_CTL_DATA, ended by IMSG_CTL_END, or a single IMSG_CTL_OK /
 * IMSG_CTL_ERROR.  What another process owns (host state, reloads) is
 * asked for with the connection's id in peerid and routed back here.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
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
#include "tools.h"

#define CONTROL_MAX_CONNS	32

struct ctl_conn {
	TAILQ_ENTRY(ctl_conn)	 entry;
	uint32_t		 id;	/* with CTL_REQID_BIT */
	uid_t			 uid;
	pid_t			 pid;
	struct imsgev		 iev;
	int			 busy;	/* a request is being answered */
	json_t			*states; /* show hosts: replies so far */
};

static void	 control_accept(int, short, void *);
static void	 control_dispatch(int, short, void *);
static void	 control_close(struct ctl_conn *);
static struct ctl_conn *control_byid(uint32_t);
static void	 control_send_json(struct ctl_conn *, json_t *);
static void	 control_reply(struct ctl_conn *, uint32_t, const char *);

static TAILQ_HEAD(, ctl_conn)	 conns = TAILQ_HEAD_INITIALIZER(conns);
static struct event		 ev_listen;
static int			 listen_fd = -1;
static int			 nconns;
static uint32_t			 next_id;

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
	TAILQ_REMOVE(&conns, c, entry);
	imsgev_clear(&c->iev);
	json_decref(c->states);
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
}

static void
control_dispatch(int fd, short event, void *arg)
{
	struct ctl_conn	*c = arg;
	struct imsg	 imsg;
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
			/* one request at a time per connection */
			control_reply(c, IMSG_CTL_ERROR,
			    "a request is already in progress");
			imsg_free(&imsg);
			continue;
		}
		switch (imsg.hdr.type) {
		case IMSG_CTL_SHOW_SESSIONS:
			arr = mcp_sessions_json();
			json_array_foreach(arr, i, o)
				control_send_json(c, o);
			json_decref(arr);
			control_reply(c, IMSG_CTL_END, NULL);
			break;
		case IMSG_CTL_SHOW_HOSTS:
			c->busy = 1;
			json_decref(c->states);
			c->states = json_object();
			if (frontend_compose(PROC_SSH, IMSG_SSH_HOSTS, c->id,
			    -1, NULL, 0) == -1)
				control_reply(c, IMSG_CTL_ERROR,
				    "ssh worker unavailable");
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
		default:
			control_reply(c, IMSG_CTL_ERROR, "unknown request");
			break;
		}
		imsg_free(&imsg);
	}
	imsgev_add(&c->iev);
}

void
control_result(uint32_t id, int status, const char *msg)
{
	struct ctl_conn	*c;

	if ((c = control_byid(id)) == NULL)
		return;
	control_reply(c, status == 0 ? IMSG_CTL_OK : IMSG_CTL_ERROR, msg);
}

void
control_dispatch_ssh(struct imsg *imsg)
{
	struct ctl_conn		*c;
	struct host_state	 hs;
	struct host		*h;
	json_t			*o;
	char			 key[16];

	switch (imsg->hdr.type) {
	case IMSG_SSH_HOSTSTATE:
		if (imsg->datalen != sizeof(hs))
			fatalx("bad IMSG_SSH_HOSTSTATE size %zu",
			    imsg->datalen);
		if ((c = control_byid(imsg->hdr.peerid)) == NULL ||
		    c->states == NULL)
			return;
		memcpy(&hs, imsg->data, sizeof(hs));
		hs.fingerprint[sizeof(hs.fingerprint) - 1] = '\0';
		hs.last_error[sizeof(hs.last_error) - 1] = '\0';
		snprintf(key, sizeof(key), "%u", hs.hostid);
		json_object_set_new(c->states, key,
		    host_state_json(&hs));
		break;
	case IMSG_SSH_END:
		if (imsg->datalen != 0)
			fatalx("bad IMSG_SSH_END size %zu", imsg->datalen);
		if ((c = control_byid(imsg->hdr.peerid)) == NULL ||
		    c->states == NULL)
			return;
		TAILQ_FOREACH(h, &frontend_conf->hosts, entry) {
			snprintf(key, sizeof(key), "%u", h->id);
			o = host_json(h, json_object_get(c->states, key));
			control_send_json(c, o);
			json_decref(o);
		}
		json_decref(c->states);
		c->states = NULL;
		control_reply(c, IMSG_CTL_END, NULL);
		break;
	}
}
