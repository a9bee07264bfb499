/*
 * bridged.c: the parent process.  It parses the configuration, binds the
 * sockets, forks and re-executes one child per process of the table in
 * proc.c, wires the children to each other, hands them their config and
 * then only watches: signals, reloads, deaths and, for the ssh worker,
 * the network connections it may not make itself.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <signal.h>
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
#include "sandbox.h"

/* more logger deaths than this in LOGGER_WINDOW seconds: give up */
#define LOGGER_RESTARTS		5
#define LOGGER_WINDOW		60

struct child {
	pid_t		 pid;
	struct imsgev	 iev;
	int		 alive;
	int		 errfd;		/* child's stderr when daemonized */
	struct event	 everr;
	char		 errbuf[1024];
	size_t		 errlen;
};

static void		 usage(void) __attribute__((__noreturn__));
static void		 parent_sig(int, short, void *);
static void		 parent_dispatch(int, short, void *);
static void		 parent_reload(uint32_t);
static void		 parent_shutdown(int);
static void		 parent_finish(int, short, void *);
static void		 spawn(enum bridged_proc);
static void		 wire(enum bridged_proc, enum bridged_proc);
static int		 bind_unix(const char *, mode_t, gid_t);
static void		 make_dir(const char *, uid_t, gid_t, mode_t);
static void		 send_all(uint32_t, const void *, size_t);
static void		 child_stderr(int, short, void *);
static int		 logger_restart_ok(int);
static void		 logger_restart(int, short, void *);
static void		 parent_record(json_t *);

static struct bridged_conf	*conf;
static struct child		 children[PROC_MAX];
static const char		*conffile = BRIDGED_CONF;
static char			 self[PATH_MAX];
static int			 debug, verbose;
static int			 shutting_down, exit_status;
static int			 mcp_fd = -1, ctl_fd = -1;
static struct event		 ev_drain;
static char			 logdirs[2][PATH_MAX];
static struct event		 ev_logger;
static time_t			 logger_deaths[LOGGER_RESTARTS];
static int			 logger_ndeaths;
static char			 logger_why[64];

static void
usage(void)
{
	fprintf(stderr, "usage: bridged [-dnv] [-D macro=value] "
	    "[-f file]\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	struct proc_args	 pa;
	struct proc		*p;
	struct event		 ev_hup, ev_term, ev_int, ev_chld;
	struct passwd		*pw = NULL;
	struct group		*gr;
	const char		*title = NULL;
	gid_t			 sockgid = (gid_t)-1;
	int			 ch, noaction = 0, ndirs = 0, i;
	char			*copy, *path;

	setproctitle_init(argc, argv, environ);
	memset(&pa, 0, sizeof(pa));
	while ((ch = getopt(argc, argv, "C:D:df:L:nP:U:v")) != -1) {
		switch (ch) {
		case 'C':
			pa.chroot = optarg;
			break;
		case 'D':
			if (cmdline_symset(optarg) < 0)
				errx(1, "could not parse macro definition %s",
				    optarg);
			break;
		case 'd':
			debug = 1;
			break;
		case 'f':
			conffile = optarg;
			break;
		case 'L':
			if (ndirs >= 2)
				usage();
			pa.dirs[ndirs++] = optarg;
			break;
		case 'n':
			noaction++;
			break;
		case 'P':
			title = optarg;
			break;
		case 'U':
			pa.user = optarg;
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	if (argc > 0)
		usage();

	/* to stderr until daemonized: start-up errors must be seen */
	log_init(1, LOG_DAEMON);
	log_setverbose(verbose);

	if (title != NULL) {
		/* a child, re-executed by the parent */
		if ((p = proc_byname(title)) == NULL || p->run == NULL)
			fatalx("unknown process %s", title);
		if (fcntl(PROC_PARENT_FD, F_GETFD) == -1)
			fatalx("%s: not started by the bridged parent", title);
		pa.debug = debug;
		pa.verbose = verbose;
		sandbox_debug = getenv("BRIDGED_SANDBOX_DEBUG") != NULL &&
		    strcmp(getenv("BRIDGED_SANDBOX_DEBUG"), "1") == 0;
		proc_settitle(p->title);
		p->run(&pa);
		/* NOTREACHED */
		exit(1);
	}

	if ((conf = parse_config(conffile, 0)) == NULL)
		exit(1);
	if (noaction) {
		if (verbose)
			print_config(conf);
		fprintf(stderr, "configuration OK\n");
		exit(0);
	}

	/* children are re-executed from an absolute path */
	if (readlink("/proc/self/exe", self, sizeof(self) - 1) == -1)
		fatal("readlink /proc/self/exe");

	if (geteuid() == 0) {
		if ((pw = getpwnam(conf->user)) == NULL)
			fatalx("unknown user %s", conf->user);
		if (pw->pw_uid == 0)
			fatalx("user %s is root: children must not be",
			    conf->user);
	}
	if (conf->socket_group[0] != '\0') {
		if ((gr = getgrnam(conf->socket_group)) == NULL)
			fatalx("unknown group %s", conf->socket_group);
		sockgid = gr->gr_gid;
	}

	/* the logger's two directories: created here, owned by the user */
	for (i = 0; i < 2; i++) {
		path = i == 0 ? conf->log_file : conf->audit_db;
		if (*path == '\0')
			continue;
		if ((copy = strdup(path)) == NULL)
			fatal(NULL);
		strlcpy(logdirs[i], dirname(copy), sizeof(logdirs[i]));
		free(copy);
		make_dir(logdirs[i], pw ? pw->pw_uid : (uid_t)-1,
		    pw ? pw->pw_gid : (gid_t)-1, 0750);
	}
	if (geteuid() == 0)
		make_dir(conf->chroot, 0, 0, 0755);

	mcp_fd = bind_unix(conf->socket_path, conf->socket_mode, sockgid);
	ctl_fd = bind_unix(conf->ctl_path, 0600, (gid_t)-1);

	if (!debug && daemon(0, 0) == -1)
		fatal("daemon");
	log_init(debug, LOG_DAEMON);
	log_procinit("parent");
	setproctitle("parent");
	log_info("starting, version %s", BRIDGED_VERSION);

	event_init();
	signal(SIGPIPE, SIG_IGN);
	signal_set(&ev_hup, SIGHUP, parent_sig, NULL);
	signal_set(&ev_term, SIGTERM, parent_sig, NULL);
	signal_set(&ev_int, SIGINT, parent_sig, NULL);
	signal_set(&ev_chld, SIGCHLD, parent_sig, NULL);
	signal_add(&ev_hup, NULL);
	signal_add(&ev_term, NULL);
	signal_add(&ev_int, NULL);
	signal_add(&ev_chld, NULL);

	spawn(PROC_FRONTEND);
	spawn(PROC_SSH);
	spawn(PROC_LOGGER);
	wire(PROC_FRONTEND, PROC_SSH);
	wire(PROC_FRONTEND, PROC_LOGGER);
	wire(PROC_SSH, PROC_LOGGER);

	config_send(&children[PROC_FRONTEND].iev, conf);
	config_send(&children[PROC_SSH].iev, conf);
	config_send(&children[PROC_LOGGER].iev, conf);
	parent_record(json_pack("{s:s, s:s, s:s, s:I}", "type", "daemon",
	    "event", "start", "version", BRIDGED_VERSION, "pid",
	    (json_int_t)getpid()));
	if (imsgev_compose(&children[PROC_FRONTEND].iev, IMSG_MCP_LISTEN, 0,
	    mcp_fd, NULL, 0) == -1 ||
	    imsgev_compose(&children[PROC_FRONTEND].iev, IMSG_CTL_LISTEN, 0,
	    ctl_fd, NULL, 0) == -1)
		fatal("sending listening sockets");
	/* the frontend owns them now; we only keep the paths to unlink */
	mcp_fd = ctl_fd = -1;

	event_dispatch();
	return exit_status;
}

static void
make_dir(const char *path, uid_t uid, gid_t gid, mode_t mode)
{
	struct stat	 st;
	char		 tmp[PATH_MAX];
	char		*p;

	if (strlcpy(tmp, path, sizeof(tmp)) >= sizeof(tmp))
		fatalx("path too long: %s", path);
	/* parents as root-owned 0755, only the leaf gets the owner */
	for (p = tmp + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(tmp, 0755) == -1 && errno != EEXIST)
			fatal("mkdir %s", tmp);
		*p = '/';
	}
	if (mkdir(tmp, mode) == -1 && errno != EEXIST)
		fatal("mkdir %s", tmp);
	if (stat(tmp, &st) == -1)
		fatal("stat %s", tmp);
	if (!S_ISDIR(st.st_mode))
		fatalx("%s: not a directory", tmp);
	if (uid != (uid_t)-1 && (st.st_uid != uid || st.st_gid != gid) &&
	    chown(tmp, uid, gid) == -1)
		fatal("chown %s", tmp);
}

/*
 * Bind a UNIX socket.  A file left by a dead daemon is replaced; a live
 * daemon answering on it is a reason to refuse to start.
 */
static int
bind_unix(const char *path, mode_t mode, gid_t gid)
{
	struct sockaddr_un	 sun;
	mode_t			 old;
	int			 fd, probe;
	char			*copy;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		fatalx("socket path too long: %s", path);

	if ((copy = strdup(path)) == NULL)
		fatal(NULL);
	make_dir(dirname(copy), (uid_t)-1, (gid_t)-1, 0755);
	free(copy);

	if ((probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fatal("socket");
	if (connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		fatalx("%s: another bridged is running on it", path);
	close(probe);
	if (unlink(path) == -1 && errno != ENOENT)
		fatal("unlink %s", path);

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		fatal("socket");
	/* no window in which the socket has looser permissions */
	old = umask(0777 & ~mode);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fatal("bind %s", path);
	umask(old);
	if (chmod(path, mode) == -1)
		fatal("chmod %s", path);
	if (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) == -1)
		fatal("chown %s", path);
	if (listen(fd, 16) == -1)
		fatal("listen %s", path);
	return fd;
}

static void
spawn(enum bridged_proc id)
{
	struct child	*c = &children[id];
	char		*argv[16];
	int		 sp[2], ep[2] = { -1, -1 }, argc = 0;
	pid_t		 pid;

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
		}
		argv[argc] = NULL;
		execv(self, argv);
		fatal("execv %s", self);
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
	imsgev_init(&c->iev, sp[0], procs[id].title, parent_dispatch,
	    (void *)(uintptr_t)id);
	imsgev_add(&c->iev);
	log_debug("started %s, pid %d", procs[id].title, pid);
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
			log_warnx("%s", c->errbuf);
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
		log_info("%s", c->errbuf);
		c->errlen -= nl + 1 - c->errbuf;
		memmove(c->errbuf, nl + 1, c->errlen + 1);
	}
	if (c->errlen == sizeof(c->errbuf) - 1) {
		/* a line longer than the buffer goes out in pieces */
		log_info("%s", c->errbuf);
		c->errlen = 0;
	}
}

/* a socketpair between two children, one end to each */
static void
wire(enum bridged_proc a, enum bridged_proc b)
{
	uint32_t	 peer;
	int		 sp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0, sp) == -1)
		fatal("socketpair");
	peer = b;
	if (imsgev_compose(&children[a].iev, IMSG_PEER_FD, 0, sp[0], &peer,
	    sizeof(peer)) == -1)
		fatal("wire");
	peer = a;
	if (imsgev_compose(&children[b].iev, IMSG_PEER_FD, 0, sp[1], &peer,
	    sizeof(peer)) == -1)
		fatal("wire");
}

static void
send_all(uint32_t type, const void *data, size_t len)
{
	int	 i;

	for (i = PROC_FRONTEND; i < PROC_MAX; i++)
		if (children[i].alive &&
		    imsgev_compose(&children[i].iev, type, 0, -1, data,
		    len) == -1)
			fatal("send to %s", procs[i].title);
}

static void
parent_dispatch(int fd, short event, void *arg)
{
	enum bridged_proc	 id = (enum bridged_proc)(uintptr_t)arg;
	struct child		*c = &children[id];
	struct imsgbuf		*ibuf = &c->iev.ibuf;
	struct imsg		 imsg;
	ssize_t			 n;
	int			 v;

	if (event & EV_READ) {
		if ((n = imsgbuf_read(ibuf)) == -1 && errno != EAGAIN &&
		    errno != ECONNRESET)
			fatal("read from %s", procs[id].title);
		if (n == 0 || (n == -1 && errno == ECONNRESET)) {
			/* the child is gone; SIGCHLD tells how */
			imsgev_clear(&c->iev);
			return;
		}
	}
	if (event & EV_WRITE) {
		if (imsgbuf_write(ibuf) == -1 && errno != EPIPE)
			fatal("write to %s", procs[id].title);
	}

	for (;;) {
		if ((n = imsg_get(ibuf, &imsg)) == -1)
			fatalx("bad message from %s", procs[id].title);
		if (n == 0)
			break;
		if (imsg.fd != -1) {
			/* nothing sends the parent descriptors */
			close(imsg.fd);
			fatalx("unexpected descriptor from %s",
			    procs[id].title);
		}
		switch (imsg.hdr.type) {
		case IMSG_READY:
			log_debug("%s is ready", procs[id].title);
			break;
		case IMSG_DRAINED:
			if (id != PROC_FRONTEND || imsg.datalen != 0)
				fatalx("bad IMSG_DRAINED from %s",
				    procs[id].title);
			if (shutting_down)
				parent_finish(0, 0, NULL);
			break;
		case IMSG_CTL_RELOAD:
			if (id != PROC_FRONTEND || imsg.datalen != 0)
				fatalx("bad IMSG_CTL_RELOAD from %s",
				    procs[id].title);
			parent_reload(imsg.hdr.peerid);
			break;
		case IMSG_SSH_CONNECT:
			if (id != PROC_SSH)
				fatalx("IMSG_SSH_CONNECT from %s",
				    procs[id].title);
			parent_ssh_connect(&c->iev, conf, &imsg);
			break;
		case IMSG_JUMP_OPENED:
			if (id != PROC_SSH)
				fatalx("IMSG_JUMP_OPENED from %s",
				    procs[id].title);
			parent_jump_opened(&imsg);
			break;
		case IMSG_SSH_OPENLOCAL:
			if (id != PROC_SSH)
				fatalx("IMSG_SSH_OPENLOCAL from %s",
				    procs[id].title);
			parent_transfer_open(&c->iev, conf, &imsg);
			break;
		case IMSG_FWD_LISTEN:
		case IMSG_FWD_CONNECT:
			if (id != PROC_SSH)
				fatalx("forward request from %s",
				    procs[id].title);
			if (imsg.hdr.type == IMSG_FWD_LISTEN)
				parent_fwd_listen(&c->iev, conf, &imsg);
			else
				parent_fwd_connect(&c->iev, conf, &imsg);
			break;
		case IMSG_LOG_VERBOSE:
			if (id != PROC_FRONTEND || imsg.datalen != sizeof(v))
				fatalx("bad IMSG_LOG_VERBOSE from %s",
				    procs[id].title);
			memcpy(&v, imsg.data, sizeof(v));
			verbose = v;
			log_setverbose(v);
			send_all(IMSG_LOG_VERBOSE, &v, sizeof(v));
			log_info("log level set to %s",
			    v ? "verbose" : "brief");
			break;
		default:
			fatalx("unexpected message %u from %s",
			    imsg.hdr.type, procs[id].title);
		}
		imsg_free(&imsg);
	}
	if (c->iev.ibuf.fd != -1)
		imsgev_add(&c->iev);
}

/*
 * Reload: a new config that does not parse leaves the running one in
 * place.  What needs the sockets or the privileges again (paths, user)
 * takes a restart, and we say so.
 */
static void
parent_reload(uint32_t peerid)
{
	struct bridged_conf	*nconf;
	char			 msg[256];
	struct iovec		 iov[2];
	int			 status, i;

	if ((nconf = parse_config(conffile, 0)) == NULL) {
		status = -1;
		snprintf(msg, sizeof(msg), "reload of %s failed; "
		    "keeping the running configuration", conffile);
		log_warnx("%s", msg);
	} else {
		if (strcmp(nconf->socket_path, conf->socket_path) != 0 ||
		    strcmp(nconf->ctl_path, conf->ctl_path) != 0 ||
		    strcmp(nconf->user, conf->user) != 0 ||
		    strcmp(nconf->chroot, conf->chroot) != 0 ||
		    strcmp(nconf->log_file, conf->log_file) != 0 ||
		    strcmp(nconf->audit_db, conf->audit_db) != 0)
			log_warnx("reload: socket, user, chroot, log and "
			    "audit paths change only on restart");
		for (i = PROC_FRONTEND; i < PROC_MAX; i++)
			if (children[i].alive)
				config_send(&children[i].iev, nconf);
		config_free(conf);
		conf = nconf;
		status = 0;
		snprintf(msg, sizeof(msg), "configuration reloaded from %s",
		    conffile);
		log_info("%s", msg);
		parent_record(json_pack("{s:s, s:s, s:s}", "type", "daemon",
		    "event", "reload", "file", conffile));
	}
	if (peerid == 0 || !children[PROC_FRONTEND].alive)
		return;
	iov[0].iov_base = &status;
	iov[0].iov_len = sizeof(status);
	iov[1].iov_base = msg;
	iov[1].iov_len = strlen(msg);
	if (imsgev_composev(&children[PROC_FRONTEND].iev, IMSG_CTL_RESULT,
	    peerid, -1, iov, 2) == -1)
		fatal("reload result");
}

static void
parent_sig(int sig, short event, void *arg)
{
	const char	*name;
	pid_t		 pid;
	int		 status, i, any, dead;

	switch (sig) {
	case SIGHUP:
		log_info("SIGHUP: reloading %s", conffile);
		parent_reload(0);
		break;
	case SIGTERM:
	case SIGINT:
		log_info("%s: shutting down", sig == SIGTERM ? "SIGTERM" :
		    "SIGINT");
		parent_shutdown(0);
		break;
	case SIGCHLD:
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			name = "unknown child";
			dead = -1;
			for (i = PROC_FRONTEND; i < PROC_MAX; i++)
				if (children[i].pid == pid) {
					name = procs[i].title;
					children[i].alive = 0;
					dead = i;
				}
			if (WIFSIGNALED(status))
				log_warnx("%s (pid %d) terminated by signal "
				    "%d (%s)%s", name, pid, WTERMSIG(status),
				    sigabbrev_np(WTERMSIG(status)) ?
				    sigabbrev_np(WTERMSIG(status)) : "?",
				    WTERMSIG(status) == SIGSYS ?
				    ": sandbox violation" : "");
			else if (!shutting_down || WEXITSTATUS(status) != 0)
				log_warnx("%s (pid %d) exited with status %d",
				    name, pid, WEXITSTATUS(status));
			/* the logger is restarted; anything else is fatal */
			if (!shutting_down && dead == PROC_LOGGER &&
			    logger_restart_ok(status))
				continue;
			if (!shutting_down)
				parent_shutdown(1);
		}
		any = 0;
		for (i = PROC_FRONTEND; i < PROC_MAX; i++)
			any |= children[i].alive;
		if (!any && shutting_down) {
			unlink(conf->socket_path);
			unlink(conf->ctl_path);
			log_info("exiting");
			exit(exit_status);
		}
		break;
	}
}

/*
 * Orderly stop: the frontend stops accepting and lets requests in flight
 * finish for up to the drain timeout; then every child is told to go.
 * A child that died unexpectedly takes the daemon down with status 1:
 * running with a piece of the tree missing would be worse.
 */
static void
parent_shutdown(int failed)
{
	struct timeval	 tv;
	int		 drain;

	if (failed)
		exit_status = 1;
	if (shutting_down)
		return;
	shutting_down = 1;
	drain = failed ? 0 : conf->limits.drain_timeout;
	if (children[PROC_FRONTEND].alive && drain > 0) {
		if (imsgev_compose(&children[PROC_FRONTEND].iev,
		    IMSG_SHUTDOWN, 0, -1, &drain, sizeof(drain)) == -1)
			fatal("shutdown");
		timerclear(&tv);
		tv.tv_sec = drain;
		evtimer_set(&ev_drain, parent_finish, NULL);
		evtimer_add(&ev_drain, &tv);
	} else
		parent_finish(0, 0, NULL);
}

static void
parent_finish(int fd, short event, void *arg)
{
	static int	 done;
	int		 i, any = 0;

	/*
	 * Drained and drain timer both lead here: one SIGTERM each, since
	 * a second one tells a child to skip its own clean-up.
	 */
	if (event_initialized(&ev_drain))
		evtimer_del(&ev_drain);
	for (i = PROC_FRONTEND; i < PROC_MAX; i++)
		if (children[i].alive) {
			if (!done)
				kill(children[i].pid, SIGTERM);
			any = 1;
		}
	done = 1;
	if (!any) {
		unlink(conf->socket_path);
		unlink(conf->ctl_path);
		log_info("exiting");
		exit(exit_status);
	}
}

/*
 * The logger may die (killed, out of disk, a bug in SQLite's use) without
 * the rest of the tree being wrong: mutating calls are refused while it
 * is gone (frontend), so restarting it is safe.  A logger that keeps
 * dying is not restarted forever.
 */
static int
logger_restart_ok(int status)
{
	/* a logger that dies again waits longer before the next try */
	static const struct timeval backoff[LOGGER_RESTARTS] = {
		{ 0, 100000 }, { 0, 500000 }, { 1, 0 }, { 2, 0 }, { 4, 0 },
	};
	struct timeval	 tv;
	time_t		 now = time(NULL);
	int		 i, recent = 0;

	logger_deaths[logger_ndeaths++ % LOGGER_RESTARTS] = now;
	for (i = 0; i < LOGGER_RESTARTS; i++)
		if (logger_deaths[i] != 0 &&
		    now - logger_deaths[i] < LOGGER_WINDOW)
			recent++;
	if (recent >= LOGGER_RESTARTS) {
		log_warnx("logger died %d times in %d s: not restarting it",
		    recent, LOGGER_WINDOW);
		return 0;
	}
	if (WIFSIGNALED(status))
		snprintf(logger_why, sizeof(logger_why), "signal %d",
		    WTERMSIG(status));
	else
		snprintf(logger_why, sizeof(logger_why), "exit status %d",
		    WEXITSTATUS(status));
	log_warnx("logger died (%s): restarting it in %ld ms; until it is "
	    "back, tool calls that change anything are refused", logger_why,
	    (long)(backoff[recent - 1].tv_sec * 1000 +
	    backoff[recent - 1].tv_usec / 1000));
	tv = backoff[recent - 1];
	evtimer_set(&ev_logger, logger_restart, NULL);
	evtimer_add(&ev_logger, &tv);
	return 1;
}

static void
logger_restart(int fd, short event, void *arg)
{
	struct child	*c = &children[PROC_LOGGER];

	if (shutting_down || c->alive)
		return;
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
	spawn(PROC_LOGGER);
	if (children[PROC_FRONTEND].alive)
		wire(PROC_FRONTEND, PROC_LOGGER);
	if (children[PROC_SSH].alive)
		wire(PROC_SSH, PROC_LOGGER);
	config_send(&c->iev, conf);
	log_info("logger restarted, pid %d", (int)c->pid);
	parent_record(json_pack("{s:s, s:s, s:s, s:I}", "type", "daemon",
	    "event", "logger restarted", "reason", logger_why, "pid",
	    (json_int_t)c->pid));
}

/* a daemon event for the audit; lost when there is no logger */
static void
parent_record(json_t *r)
{
	char	*s;

	if (r == NULL)
		return;
	if (children[PROC_LOGGER].alive &&
	    (s = json_dumps(r, JSON_COMPACT)) != NULL) {
		if (imsgev_compose(&children[PROC_LOGGER].iev,
		    IMSG_LOG_RECORD, 0, -1, s, strlen(s)) == -1)
			log_warn("audit record");
		free(s);
	}
	json_decref(r);
}
