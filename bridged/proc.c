/*
 * proc.c: the table of bridged's processes, the privilege drop every
 * child performs before it reads a byte of input, and the plumbing all
 * children share: start-up, the parent's channel, sockets to siblings.
 * What a child does with its messages stays in its own file, one
 * dispatch function per peer.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event.h>

#include "bridged.h"
#include "imsg.h"
#include "log.h"
#include "proc.h"
#include "sandbox.h"

struct proc procs[PROC_MAX] = {
	{ "parent",	PROC_PARENT },
	{ "frontend",	PROC_FRONTEND },
	{ "ssh",	PROC_SSH },
	{ "logger",	PROC_LOGGER },
};

const char *proc_names[PROC_MAX] = {
	"parent", "frontend", "ssh", "logger"
};

struct proc *
proc_byname(const char *name)
{
	int	 i;

	for (i = 0; i < PROC_MAX; i++)
		if (strcmp(procs[i].title, name) == 0)
			return &procs[i];
	return NULL;
}

void
proc_child_run(struct proc *p, struct proc_args *pa,
    void (*run)(struct proc_args *))
{
	char	 title[HOST_NAME_LEN + 8];
	char	*v;

	if (fcntl(PROC_PARENT_FD, F_GETFD) == -1)
		fatalx("%s: not started by the bridged parent", p->title);
	if ((p->id == PROC_SSH) != (pa->host != NULL))
		fatalx("%s: -H names the host of an ssh worker", p->title);
	sandbox_debug = (v = getenv("BRIDGED_SANDBOX_DEBUG")) != NULL &&
	    strcmp(v, "1") == 0;
	if (pa->host != NULL) {
		snprintf(title, sizeof(title), "%s %s", p->title, pa->host);
		proc_settitle(title);
	} else
		proc_settitle(p->title);
	run(pa);
	/* NOTREACHED */
	exit(1);
}

void
proc_settitle(const char *title)
{
	/* libbsd prefixes the program name: "bridged: frontend" */
	setproctitle("%s", title);
	log_procinit(title);
}

/*
 * Started as root: look the user up while /etc/passwd is still
 * reachable, chroot when asked, then give up every id.  Not root: the
 * developer's own uid is all we have; the sandbox still applies.
 */
void
proc_droppriv(struct proc_args *pa, const char *title)
{
	struct passwd	*pw;
	uid_t		 uid;
	gid_t		 gid;

	if (geteuid() != 0)
		return;
	if (pa->user == NULL)
		fatalx("%s: started as root without a user to run as",
		    title);
	if ((pw = getpwnam(pa->user)) == NULL)
		fatalx("%s: unknown user %s", title, pa->user);
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (uid == 0)
		fatalx("%s: refusing to run children as root (user %s)",
		    title, pa->user);

	if (pa->chroot != NULL) {
		if (chroot(pa->chroot) == -1)
			fatal("%s: chroot %s", title, pa->chroot);
		if (chdir("/") == -1)
			fatal("%s: chdir /", title);
	}
	if (setgroups(1, &gid) == -1 ||
	    setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1)
		fatal("%s: cannot drop privileges to %s", title, pa->user);
	/* paranoia: getting root back must be impossible */
	if (setuid(0) != -1 || seteuid(0) != -1)
		fatalx("%s: could regain root after dropping it", title);
}

/*
 * What every child does first: drop privileges, start the event loop,
 * route SIGTERM, SIGINT and SIGHUP to sig (SIGPIPE is ignored: a dead
 * peer shows as EPIPE), and make the channel to the parent, not yet
 * armed.  The caller opens what it needs, enters its sandbox, then calls
 * proc_child_ready.
 */
struct imsgev *
proc_child_init(struct proc_args *pa, const char *title,
    void (*dispatch_parent)(int, short, void *),
    void (*sig)(int, short, void *))
{
	static struct event	 ev_term, ev_int, ev_hup;
	struct imsgev		*iev;

	proc_droppriv(pa, title);
	log_setverbose(pa->verbose);

	event_init();
	signal(SIGPIPE, SIG_IGN);
	signal_set(&ev_term, SIGTERM, sig, NULL);
	signal_set(&ev_int, SIGINT, sig, NULL);
	signal_set(&ev_hup, SIGHUP, sig, NULL);
	signal_add(&ev_term, NULL);
	signal_add(&ev_int, NULL);
	signal_add(&ev_hup, NULL);

	if ((iev = calloc(1, sizeof(*iev))) == NULL)
		fatal(NULL);
	imsgev_init(iev, PROC_PARENT_FD, "parent", dispatch_parent, NULL);
	return iev;
}

/* set up and sandboxed: listen to the parent and tell it so */
void
proc_child_ready(struct imsgev *parent, const char *title)
{
	imsgev_add(parent);
	if (imsgev_compose(parent, IMSG_READY, 0, -1, NULL, 0) == -1)
		fatal("%s", title);
}

/*
 * Read what a peer sent and write what is queued for it.  Returns 0 when
 * the peer has gone (EOF, reset, broken pipe), 1 otherwise; whole
 * messages already read stay in the buffer for imsg_get.
 */
int
proc_peer_io(struct imsgev *iev, short event)
{
	ssize_t	 n;

	if (event & EV_READ) {
		if ((n = imsgbuf_read(&iev->ibuf)) == -1 && errno != EAGAIN) {
			if (errno == ECONNRESET)
				return 0;
			fatal("read from %s", iev->name);
		}
		if (n == 0)
			return 0;
	}
	if ((event & EV_WRITE) && imsgbuf_write(&iev->ibuf) == -1) {
		/* a dead peer: its death is handled like EOF */
		if (errno == EPIPE || errno == ECONNRESET)
			return 0;
		fatal("write to %s", iev->name);
	}
	return 1;
}

int
proc_imsg_get(struct imsgev *iev, struct imsg *imsg, const char *from,
    int fdok)
{
	int	 n;

	if ((n = imsg_get(&iev->ibuf, imsg)) == -1)
		fatalx("bad message from %s", from);
	if (n == 1 && !fdok && imsg->fd != -1)
		fatalx("unexpected descriptor from %s", from);
	return n;
}

/*
 * IMSG_PEER_FD: the parent hands over a socket to a sibling.  dispatch[]
 * has the handler for each sibling this process talks to (NULL: none may
 * be sent); the handler's arg is the sibling's id.  The parent restarts a
 * child that died: when the old one is still held (its EOF not seen
 * yet), replaced() lets it go first; without replaced() a second socket
 * to the same sibling is an error.  Returns the sibling's id.
 */
enum bridged_proc
proc_peer_fd(struct imsg *imsg, struct imsgev **peers,
    void (*const dispatch[PROC_MAX])(int, short, void *),
    void (*replaced)(enum bridged_proc))
{
	uint32_t	 peer;

	if (imsg->datalen != sizeof(peer) || imsg->fd == -1)
		fatalx("bad IMSG_PEER_FD");
	memcpy(&peer, imsg->data, sizeof(peer));
	if (peer >= PROC_MAX || dispatch[peer] == NULL)
		fatalx("bad peer %u", peer);
	if (peers[peer] != NULL) {
		if (replaced == NULL)
			fatalx("bad peer %u", peer);
		replaced(peer);
		if (peers[peer] != NULL)
			fatalx("peer %u not let go", peer);
	}
	if ((peers[peer] = calloc(1, sizeof(struct imsgev))) == NULL)
		fatal(NULL);
	imsgev_init(peers[peer], imsg->fd, proc_names[peer], dispatch[peer],
	    (void *)(uintptr_t)peer);
	imsgev_add(peers[peer]);
	imsg->fd = -1;
	return peer;
}

/* forget a peer that has gone: its events, buffers and socket */
void
proc_peer_free(struct imsgev **peers, enum bridged_proc id)
{
	imsgev_clear(peers[id]);
	close(peers[id]->ibuf.fd);
	free(peers[id]);
	peers[id] = NULL;
}

/* send to a peer; ENOTCONN (and fd closed) when there is none */
int
proc_compose(struct imsgev **peers, enum bridged_proc to, uint32_t type,
    uint32_t peerid, int fd, const void *data, size_t len)
{
	if (to >= PROC_MAX || peers[to] == NULL) {
		if (fd != -1)
			close(fd);
		errno = ENOTCONN;
		return -1;
	}
	return imsgev_compose(peers[to], type, peerid, fd, data, len);
}

/* IMSG_LOG_VERBOSE from the parent (bridgectl log verbose) */
void
proc_verbose(struct imsg *imsg)
{
	int	 v;

	if (imsg->datalen != sizeof(v))
		fatalx("bad IMSG_LOG_VERBOSE");
	memcpy(&v, imsg->data, sizeof(v));
	log_setverbose(v);
}
