/*
 * parent_child.c: the parent's children.  Each is forked and re-executed
 * (spawn), sent its config and wired to the siblings it talks to
 * (start, wire); an ssh worker is started when the frontend or a jump
 * needs its host, or at start for a host that publishes a port.  A
 * child that dies is restarted after a delay that grows with each death
 * and recorded in the audit; too many deaths and a worker's host stays
 * down, while a frontend or logger takes the daemon with it.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <event.h>
#include <jansson.h>

#include "bridged.h"
#include "imsg.h"
#include "log.h"
#include "proc.h"
#include "parent.h"

static void	 spawn(struct child *);
static int	 wire_end(struct child *, uint32_t, int, const void *,
		    size_t);
static void	 child_restart(int, short, void *);
static void	 child_stderr(int, short, void *);
static void	 worker_died(struct child *);

struct child *
child_new(enum bridged_proc id, const char *host)
{
	struct child	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal(NULL);
	c->id = id;
	c->errfd = -1;
	c->iev.ibuf.fd = -1;
	if (host != NULL) {
		strlcpy(c->host, host, sizeof(c->host));
		snprintf(c->title, sizeof(c->title), "%s %s",
		    procs[id].title, host);
	} else
		strlcpy(c->title, procs[id].title, sizeof(c->title));
	evtimer_set(&c->ev_restart, child_restart, c);
	TAILQ_INSERT_TAIL(&children, c, entry);
	return c;
}

static void
spawn(struct child *c)
{
	enum bridged_proc	 id = c->id;
	char			*argv[20];
	const char		*path;
	int			 sp[2], ep[2] = { -1, -1 }, argc = 0;
	pid_t			 pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		fatal("socketpair");
	/*
	 * Children always log to stderr: a sandboxed process cannot
	 * reconnect to syslog.  Daemonized, the parent reads their stderr
	 * and passes the lines on.
	 */
	if (!debug && pipe2(ep, O_CLOEXEC) == -1)
		fatal("pipe");
	switch (pid = fork()) {
	case -1:
		fatal("fork");
	case 0:
		if (ep[1] != -1 && dup2(ep[1], STDERR_FILENO) == -1)
			fatal("dup2");
		/* fd 3 is the only one that survives the exec */
		if (sp[1] == PROC_PARENT_FD) {
			if (fcntl(sp[1], F_SETFD, 0) == -1)
				fatal("fcntl");
		} else if (dup2(sp[1], PROC_PARENT_FD) == -1)
			fatal("dup2");
		argv[argc++] = "bridged";
		argv[argc++] = "-P";
		argv[argc++] = (char *)(uintptr_t)procs[id].title;
		if (id == PROC_SSH) {
			argv[argc++] = "-H";
			argv[argc++] = c->host;
		}
		if (debug)
			argv[argc++] = "-d";
		if (verbose)
			argv[argc++] = "-v";
		if (verbose > 1)
			argv[argc++] = "-v";
		if (geteuid() == 0) {
			argv[argc++] = "-U";
			argv[argc++] = conf->user;
			if (id != PROC_LOGGER) {
				argv[argc++] = "-C";
				argv[argc++] = conf->chroot;
			}
		}
		if (id == PROC_LOGGER) {
			if (logdirs[0][0] != '\0') {
				argv[argc++] = "-L";
				argv[argc++] = logdirs[0];
			}
			if (logdirs[1][0] != '\0') {
				argv[argc++] = "-L";
				argv[argc++] = logdirs[1];
			}
			if (logdirs[2][0] != '\0') {
				argv[argc++] = "-L";
				argv[argc++] = logdirs[2];
			}
		}
		argv[argc] = NULL;
		/* the ssh worker is its own program: see confcheck.c */
		path = id == PROC_SSH ? sshworker_path : self;
		execv(path, argv);
		fatal("execv %s", path);
	}
	close(sp[1]);
	if (fcntl(sp[0], F_SETFL, O_NONBLOCK) == -1)
		fatal("fcntl");
	c->errfd = ep[0];
	if (ep[0] != -1) {
		close(ep[1]);
		if (fcntl(ep[0], F_SETFL, O_NONBLOCK) == -1)
			fatal("fcntl");
		c->errlen = 0;
		event_set(&c->everr, ep[0], EV_READ | EV_PERSIST,
		    child_stderr, c);
		event_add(&c->everr, NULL);
	}
	c->pid = pid;
	c->alive = 1;
	c->exiting = 0;
	imsgev_init(&c->iev, sp[0], c->title, parent_dispatch, c);
	imsgev_add(&c->iev);
	log_debug("started %s, pid %d", c->title, pid);
}

/*
 * Start a child and wire it into the tree: its config first (a child
 * reads its parent's messages in order, so it has the config before it
 * hears from any sibling), then a socket to each sibling it talks to.
 */
void
start(struct child *c)
{
	struct child	*w;

	/* the dead one's pipes, if their EOF has not been seen yet */
	if (c->iev.ibuf.fd != -1) {
		imsgev_clear(&c->iev);
		close(c->iev.ibuf.fd);
		c->iev.ibuf.fd = -1;
	}
	if (c->errfd != -1) {
		event_del(&c->everr);
		close(c->errfd);
		c->errfd = -1;
	}
	spawn(c);
	config_send(&c->iev, conf, c->id == PROC_FRONTEND);
	switch (c->id) {
	case PROC_FRONTEND:
		if (lg->alive)
			wire(fe, lg);
		TAILQ_FOREACH(w, &children, entry)
			if (w->id == PROC_SSH && w->alive && !w->exiting)
				wire(fe, w);
		/* our copies stay: a restarted frontend gets them again */
		if ((mcp_fd != -1 && imsgev_compose(&fe->iev,
		    IMSG_MCP_LISTEN, 0, dup(mcp_fd), NULL, 0) == -1) ||
		    imsgev_compose(&fe->iev, IMSG_CTL_LISTEN, 0,
		    dup(ctl_fd), NULL, 0) == -1)
			fatal("sending listening sockets");
		http_send_listeners(&fe->iev);
		if (stdio_in != -1)
			stdio_send();
		break;
	case PROC_LOGGER:
		if (fe->alive)
			wire(fe, lg);
		TAILQ_FOREACH(w, &children, entry)
			if (w->id == PROC_SSH && w->alive)
				wire(w, lg);
		break;
	case PROC_SSH:
		/* the logger first: the frontend's calls may need it */
		if (lg->alive)
			wire(c, lg);
		if (fe->alive)
			wire(fe, c);
		/* the tunnels that waited for this jump host's worker */
		jump_worker_up(c->host, &c->iev);
		break;
	default:
		fatalx("%s: child %d", __func__, c->id);
	}
}

/*
 * One end of a socketpair to a child.  A child whose socket has closed
 * (it died, SIGCHLD has not yet said so) takes nothing: never fatal, it
 * is restarted and wired again.  -1: fd closed.
 */
static int
wire_end(struct child *to, uint32_t type, int fd, const void *data,
    size_t len)
{
	if (imsgev_compose(&to->iev, type, 0, fd, data, len) == -1) {
		log_warn("wire: %s", to->title);
		close(fd);
		return -1;
	}
	return 0;
}

/*
 * What is queued for a child, written now (wire() and the parent's
 * dispatch on EV_WRITE).  A socket that fails is the child's end:
 * closed, and SIGCHLD tells how the child went.  -1: it has gone.
 */
int
child_flush(struct child *c)
{
	if (c->iev.ibuf.fd == -1)
		return -1;
	if (imsgbuf_write(&c->iev.ibuf) == -1 && errno != EAGAIN) {
		if (errno != EPIPE && errno != ECONNRESET) {
			log_warn("write to %s: killing it", c->title);
			kill(c->pid, SIGKILL);
		}
		imsgev_clear(&c->iev);
		close(c->iev.ibuf.fd);
		c->iev.ibuf.fd = -1;
		return -1;
	}
	return 0;
}

/*
 * A socketpair between two children, one end to each.  An ssh worker is
 * announced to its sibling with IMSG_SSH_PEER (there are many); the
 * worker, the frontend and the logger each learn of the others with
 * IMSG_PEER_FD.  If one end cannot be sent, the other is closed, and
 * the child that got it sees its peer go.
 */
void
wire(struct child *a, struct child *b)
{
	struct ssh_peer	 sp;
	uint32_t	 peer;
	int		 fds[2], r;

	if (a->iev.ibuf.fd == -1 || b->iev.ibuf.fd == -1) {
		log_debug("wire: %s or %s has gone", a->title, b->title);
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0, fds) == -1) {
		log_warn("wire: socketpair");
		return;
	}
	memset(&sp, 0, sizeof(sp));
	if (b->id == PROC_SSH) {
		/*
		 * a is the frontend.  The worker's end goes first, written
		 * now: a worker that has died (its SIGCHLD not yet seen,
		 * the frontend already asking for it again) takes nothing,
		 * and the frontend gets no socket to nobody, whose EOF would
		 * fail the call it asked for.  The restarted worker is wired
		 * by start().
		 */
		peer = a->id;
		if (wire_end(b, IMSG_PEER_FD, fds[1], &peer, sizeof(peer)) ==
		    -1 || child_flush(b) == -1) {
			log_debug("wire: %s has gone", b->title);
			close(fds[0]);
			return;
		}
		strlcpy(sp.host, b->host, sizeof(sp.host));
		sp.pid = b->pid;
		sp.restarts = b->ndeaths;
		(void)wire_end(a, IMSG_SSH_PEER, fds[0], &sp, sizeof(sp));
	} else if (a->id == PROC_SSH) {
		/* b is the logger */
		strlcpy(sp.host, a->host, sizeof(sp.host));
		sp.pid = a->pid;
		r = wire_end(b, IMSG_SSH_PEER, fds[1], &sp, sizeof(sp));
		peer = b->id;
		if (r == -1)
			close(fds[0]);
		else
			(void)wire_end(a, IMSG_PEER_FD, fds[0], &peer,
			    sizeof(peer));
	} else {
		peer = a->id;
		r = wire_end(b, IMSG_PEER_FD, fds[1], &peer, sizeof(peer));
		peer = b->id;
		if (r == -1)
			close(fds[0]);
		else
			(void)wire_end(a, IMSG_PEER_FD, fds[0], &peer,
			    sizeof(peer));
	}
}

void
send_all(uint32_t type, const void *data, size_t len)
{
	struct child	*c;

	TAILQ_FOREACH(c, &children, entry)
		if (c->alive && imsgev_compose(&c->iev, type, 0, -1, data,
		    len) == -1)
			log_warn("send to %s", c->title);
}

struct child *
worker_byhost(const char *host)
{
	struct child	*c;

	TAILQ_FOREACH(c, &children, entry)
		if (c->id == PROC_SSH && strcmp(c->host, host) == 0)
			return c;
	return NULL;
}

void
worker_fail(const char *host, const char *fmt, ...)
{
	struct ssh_peer	 sp;
	struct iovec	 iov[2];
	va_list		 ap;
	char		 msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	memset(&sp, 0, sizeof(sp));
	strlcpy(sp.host, host, sizeof(sp.host));
	iov[0].iov_base = &sp;
	iov[0].iov_len = sizeof(sp);
	iov[1].iov_base = msg;
	iov[1].iov_len = strlen(msg);
	if (fe->alive && imsgev_composev(&fe->iev, IMSG_SSH_STARTFAIL, 0, -1,
	    iov, 2) == -1)
		log_warn("start failure to the frontend");
}

/*
 * IMSG_SSH_DIED: how a host's worker died, for the frontend, which sees
 * only its socket close and reports its background jobs lost with this.
 */
static void
worker_died(struct child *c)
{
	struct ssh_peer	 sp;
	struct iovec	 iov[2];

	memset(&sp, 0, sizeof(sp));
	strlcpy(sp.host, c->host, sizeof(sp.host));
	sp.pid = c->pid;
	sp.restarts = c->ndeaths;
	iov[0].iov_base = &sp;
	iov[0].iov_len = sizeof(sp);
	iov[1].iov_base = c->why;
	iov[1].iov_len = strlen(c->why);
	if (fe->alive && imsgev_composev(&fe->iev, IMSG_SSH_DIED, 0, -1,
	    iov, 2) == -1)
		log_warn("worker death to the frontend");
}

/* IMSG_SSH_START: the frontend needs the worker of a host */
void
worker_start(const char *host)
{
	struct child	*c;

	if (shutting_down) {
		worker_fail(host, "bridged is shutting down");
		return;
	}
	if (config_host_byname(conf, host) == NULL) {
		worker_fail(host, "host \"%s\" is not configured", host);
		return;
	}
	if ((c = worker_byhost(host)) == NULL)
		c = child_new(PROC_SSH, host);
	if (c->alive) {
		if (c->exiting)
			c->want = 1;	/* started again once it is gone */
		else
			wire(fe, c);	/* the frontend lost its socket */
		return;
	}
	if (c->restart_set)
		return;			/* the backoff timer will start it */
	if (c->gaveup != 0) {
		if (time(NULL) - c->gaveup < RESTART_WINDOW) {
			worker_fail(host, "the ssh worker of host \"%s\" "
			    "died %d times in %d s (last: %s); it is not "
			    "restarted before %d s have passed, see the "
			    "daemon's log", host, RESTARTS_MAX,
			    RESTART_WINDOW, c->why, RESTART_WINDOW);
			return;
		}
		c->gaveup = 0;
		memset(c->deaths, 0, sizeof(c->deaths));
	}
	start(c);
}

/*
 * A host with "publish port" needs its worker whether or not anyone
 * calls it: the worker holds the forward (ssh_publish.c) and never goes
 * idle.  At start, and after a reload that added one.
 */
void
publish_workers(void)
{
	struct host	*h;
	struct child	*c;

	TAILQ_FOREACH(h, &conf->hosts, entry) {
		if (h->publish_port == 0)
			continue;
		if ((c = worker_byhost(h->name)) != NULL && c->alive &&
		    !c->exiting)
			continue;
		log_debug("host \"%s\": starting its worker for publish port"
		    " %d", h->name, h->publish_port);
		worker_start(h->name);
	}
}

/*
 * bridged -i binds no HTTP listener: a published port would lead
 * nowhere, so there is none (and the frontend knows of none).
 */
void
publish_off(struct bridged_conf *c)
{
	struct host	*h;

	TAILQ_FOREACH(h, &c->hosts, entry)
		if (h->publish_port != 0) {
			log_warnx("bridged -i: host \"%s\": publish port %d "
			    "ignored, there is no HTTP listener", h->name,
			    h->publish_port);
			h->publish_port = 0;
		}
}

/*
 * parent_jump.c needs the worker of a jump host, which the frontend may
 * never have asked for: start it, and say whether to wait for it.
 */
struct imsgev *
parent_worker(const char *host, char *err, size_t errlen)
{
	struct child	*c = worker_byhost(host);

	*err = '\0';
	if (c != NULL && c->alive && !c->exiting)
		return &c->iev;
	if (shutting_down) {
		snprintf(err, errlen, "bridged is shutting down");
		return NULL;
	}
	if (config_host_byname(conf, host) == NULL) {
		snprintf(err, errlen, "host \"%s\" is not configured", host);
		return NULL;
	}
	if (c != NULL && c->gaveup != 0 &&
	    time(NULL) - c->gaveup < RESTART_WINDOW) {
		snprintf(err, errlen, "the ssh worker of host \"%s\" died %d"
		    " times in %d s (last: %s); it is not restarted before %d"
		    " s have passed", host, RESTARTS_MAX, RESTART_WINDOW,
		    c->why, RESTART_WINDOW);
		return NULL;
	}
	worker_start(host);
	return NULL;
}

/*
 * A child has died.  Unless we are stopping or it said it was going, it
 * is restarted after a delay that grows with each death; too many deaths
 * in RESTART_WINDOW seconds and we stop: for a host's worker only that
 * host is down, for the frontend or the logger the daemon exits.
 */
void
child_died(struct child *c, int status)
{
	/* a child that dies again waits longer before the next try */
	static const struct timeval backoff[RESTARTS_MAX] = {
		{ 0, 100000 }, { 0, 500000 }, { 1, 0 }, { 2, 0 }, { 4, 0 },
	};
	struct timeval	 tv;
	time_t		 now = time(NULL);
	int		 i, recent = 0, sig = 0, njump = 0;
	struct host	*h;
	char		 msg[256];

	c->alive = 0;
	if (c->iev.ibuf.fd != -1) {
		imsgev_clear(&c->iev);
		close(c->iev.ibuf.fd);
		c->iev.ibuf.fd = -1;
	}
	if (WIFSIGNALED(status)) {
		sig = WTERMSIG(status);
		snprintf(c->why, sizeof(c->why), "signal %d (%s)%s", sig,
		    sigabbrev_np(sig) ? sigabbrev_np(sig) : "?",
		    sig == SIGSYS ? ": sandbox violation" : "");
		log_warnx("%s (pid %d) terminated by %s", c->title, c->pid,
		    c->why);
	} else {
		snprintf(c->why, sizeof(c->why), "exit status %d",
		    WEXITSTATUS(status));
		if ((!shutting_down && !c->exiting) ||
		    WEXITSTATUS(status) != 0)
			log_warnx("%s (pid %d) exited with status %d",
			    c->title, c->pid, WEXITSTATUS(status));
	}
	/*
	 * Tunnels asked of a jump host's worker that went on purpose are
	 * asked of the next one; those of one that died fail.
	 */
	if (c->id == PROC_SSH)
		njump = jump_worker_gone(c->host, !shutting_down &&
		    c->exiting && !WIFSIGNALED(status), c->why);
	if (shutting_down) {
		if (c->id == PROC_SSH)
			jump_worker_fail(c->host, "bridged is shutting down");
		return;
	}
	if (c->exiting && !WIFSIGNALED(status)) {
		/* an idle worker, or one whose host left the config */
		log_debug("%s (pid %d) has gone", c->title, c->pid);
		/* one that went idle as a reload gave it a publish port */
		if (c->id == PROC_SSH && (h = config_host_byname(conf,
		    c->host)) != NULL && h->publish_port != 0)
			c->want = 1;
		if (c->want || njump > 0) {
			c->want = 0;
			worker_start(c->host);
			if (config_host_byname(conf, c->host) == NULL)
				jump_worker_fail(c->host, "the jump host is no"
				    " longer configured");
		}
		return;
	}
	c->want = 0;
	if (c->id == PROC_SSH)
		worker_died(c);
	if (stdio_mode && c->id == PROC_FRONTEND) {
		/* its one session died with it: there is nothing to serve */
		log_warnx("bridged -i: the frontend died (%s): exiting",
		    c->why);
		parent_shutdown(1);
		return;
	}

	c->deaths[c->ndeaths++ % RESTARTS_MAX] = now;
	for (i = 0; i < RESTARTS_MAX; i++)
		if (c->deaths[i] != 0 && now - c->deaths[i] < RESTART_WINDOW)
			recent++;
	parent_record(json_pack("{s:s, s:s, s:s, s:I, s:s, s:i, s:I}",
	    "type", "daemon", "event", "child died", "child", c->title,
	    "pid", (json_int_t)c->pid, "reason", c->why, "signal", sig,
	    "restarts", (json_int_t)c->ndeaths));
	if (recent >= RESTARTS_MAX) {
		if (c->id == PROC_SSH) {
			log_warnx("%s died %d times in %d s: not restarting "
			    "it; calls to host \"%s\" fail until %d s have "
			    "passed", c->title, recent, RESTART_WINDOW,
			    c->host, RESTART_WINDOW);
			c->gaveup = now;
			snprintf(msg, sizeof(msg), "the ssh worker of host "
			    "\"%s\" died %d times in %d s (last: %s); it is "
			    "not restarted for now", c->host, recent,
			    RESTART_WINDOW, c->why);
			worker_fail(c->host, "%s", msg);
			jump_worker_fail(c->host, msg);
			return;
		}
		log_warnx("%s died %d times in %d s: giving up, bridged "
		    "exits", c->title, recent, RESTART_WINDOW);
		parent_shutdown(1);
		return;
	}
	tv = backoff[recent - 1];
	log_warnx("%s died (%s): restarting it in %ld ms%s", c->title,
	    c->why, (long)(tv.tv_sec * 1000 + tv.tv_usec / 1000),
	    c->id == PROC_LOGGER ? "; until it is back, tool calls that "
	    "change anything are refused" : c->id == PROC_FRONTEND ?
	    "; its clients lost their connections and must reconnect" :
	    "; its host's calls in flight failed, its shells are gone");
	evtimer_add(&c->ev_restart, &tv);
	c->restart_set = 1;
}

static void
child_restart(int fd, short event, void *arg)
{
	struct child	*c = arg;

	c->restart_set = 0;
	if (shutting_down || c->alive)
		return;
	if (c->id == PROC_SSH && config_host_byname(conf, c->host) == NULL) {
		/* its host left the configuration */
		jump_worker_fail(c->host, "the jump host is no longer"
		    " configured");
		return;
	}
	start(c);
	log_info("%s restarted, pid %d (%u deaths so far)", c->title,
	    (int)c->pid, c->ndeaths);
	parent_record(json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "type",
	    "daemon", "event", "child restarted", "child", c->title,
	    "reason", c->why, "pid", (json_int_t)c->pid, "restarts",
	    (json_int_t)c->ndeaths));
}

int
child_any(void)
{
	struct child	*c;

	TAILQ_FOREACH(c, &children, entry)
		if (c->alive)
			return 1;
	return 0;
}

/* a daemonized child's stderr: whole lines go to our log */
static void
child_stderr(int fd, short event, void *arg)
{
	struct child	*c = arg;
	ssize_t		 n;
	char		*nl;

	n = read(fd, c->errbuf + c->errlen, sizeof(c->errbuf) - 1 -
	    c->errlen);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (c->errlen > 0) {
			c->errbuf[c->errlen] = '\0';
			log_relay(LOG_ERR, c->errbuf);
		}
		event_del(&c->everr);
		close(fd);
		c->errfd = -1;
		return;
	}
	c->errlen += n;
	c->errbuf[c->errlen] = '\0';
	while ((nl = strchr(c->errbuf, '\n')) != NULL) {
		*nl = '\0';
		log_relay(LOG_INFO, c->errbuf);
		c->errlen -= nl + 1 - c->errbuf;
		memmove(c->errbuf, nl + 1, c->errlen + 1);
	}
	if (c->errlen == sizeof(c->errbuf) - 1) {
		/* a line longer than the buffer goes out in pieces */
		log_relay(LOG_INFO, c->errbuf);
		c->errlen = 0;
	}
}

void
parent_record(json_t *r)
{
	char	*s;

	if (r == NULL)
		return;
	if (lg != NULL && lg->alive &&
	    (s = json_dumps(r, JSON_COMPACT)) != NULL) {
		if (imsgev_compose(&lg->iev,
		    IMSG_LOG_RECORD, 0, -1, s, strlen(s)) == -1)
			log_warn("audit record");
		free(s);
	}
	json_decref(r);
}
