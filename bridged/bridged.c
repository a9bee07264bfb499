/*
 * bridged.c: the parent process.  It parses the configuration, binds the
 * sockets, forks and re-executes the frontend and the logger, and one ssh
 * worker per host when the frontend first needs that host; it wires the
 * children to each other, hands them their config and then only watches:
 * signals, reloads, deaths and, for the ssh workers, the network
 * connections they may not make themselves.  A host reached "via" another
 * needs the jump host's worker too, which is then started by the parent
 * itself (parent_jump.c).
 *
 * A child that dies is restarted with a growing delay and the death is
 * recorded in the audit (parent_child.c starts, wires and reaps them).  A host's worker that keeps dying is left down
 * (its host's calls fail, the others carry on); a frontend or logger that
 * keeps dying takes the daemon down with exit status 1.
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
#include "policy.h"
#include "proc.h"
#include "parent.h"
#include "sandbox.h"


static void		 usage(void) __attribute__((__noreturn__));
static void		 parent_sig(int, short, void *);
static void		 parent_reload(uint32_t);
static void		 parent_finish(int, short, void *);
static int		 worker_owns(struct child *, struct imsg *);
static void		 hostids_keep(struct bridged_conf *,
			    struct bridged_conf *);
static void		 stdio_take(void);

/* the parent's state, shared with parent_child.c (parent.h) */
struct bridged_conf	*conf;
struct childlist	 children = TAILQ_HEAD_INITIALIZER(children);
struct child		*fe, *lg;	/* frontend, logger */
char			 self[PATH_MAX];
int			 debug, verbose;
int			 shutting_down;
int			 mcp_fd = -1, ctl_fd = -1;
int			 stdio_mode, stdio_in = -1, stdio_out = -1;
char			 logdirs[3][PATH_MAX];

static const char	*conffile = BRIDGED_CONF;
static int		 exit_status;
static struct event	 ev_drain;

static void
usage(void)
{
	fprintf(stderr, "usage: bridged [-dhinVv] [-D macro=value] "
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
	char			 warning[PATH_MAX + 256];
	gid_t			 sockgid = (gid_t)-1;
	int			 ch, noaction = 0, ndirs = 0, i;
	char			*copy, *path, *arg0;
	size_t			 arg0len;

	/*
	 * Nothing we did not open ourselves may reach a child: a descriptor
	 * left open by whoever started us (200</etc/shadow) would be
	 * inherited by every child and read from inside its chroot.  A
	 * child re-executed by the parent keeps its socket on fd 3 for now;
	 * the parent closes that one too, once getopt has said which we are.
	 */
	closefrom(PROC_PARENT_FD + 1);
	arg0 = argv[0];
	arg0len = strlen(argv[0]);
	setproctitle_init(argc, argv, environ);
	memset(&pa, 0, sizeof(pa));
	while ((ch = getopt(argc, argv, "C:D:df:hH:iL:nP:U:Vv")) != -1) {
		switch (ch) {
		case 'h':
			/* asked for: to stdout, and no error */
			printf("usage: bridged [-dhinVv] [-D macro=value] "
			    "[-f file]\n");
			exit(0);
		case 'V':
			printf("bridged %s\n", BRIDGED_VERSION);
			exit(0);
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
		case 'H':
			pa.host = optarg;
			break;
		case 'i':
			stdio_mode = 1;
			break;
		case 'L':
			if (ndirs >= 3)
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
	if (title == NULL)
		closefrom(STDERR_FILENO + 1);

	/* to stderr until daemonized: start-up errors must be seen */
	log_init(1, LOG_DAEMON);
	/* in every process: no secret of a client's in the daemon log */
	log_setredact(policy_redact);
	log_setverbose(verbose);

	if (title != NULL) {
		/* a child, re-executed by the parent */
		if ((p = proc_byname(title)) == NULL)
			fatalx("unknown process %s", title);
		pa.debug = debug;
		pa.verbose = verbose;
		switch (p->id) {
		case PROC_FRONTEND:
			proc_child_run(p, &pa, frontend_main);
		case PROC_LOGGER:
			proc_child_run(p, &pa, logger_main);
		default:
			/* an ssh worker is bridged-ssh (ssh_main.c) */
			fatalx("unknown process %s", title);
		}
	}

	/*
	 * Children are re-executed from absolute paths: this program, and
	 * the ssh worker's beside it (a build tree) or where it was
	 * installed.  The parse needs the latter to check identities.
	 */
	if (readlink("/proc/self/exe", self, sizeof(self) - 1) == -1)
		fatal("readlink /proc/self/exe");
	sshworker_find(self);
	if (access(sshworker_path, X_OK) == -1)
		fatal("the ssh worker's program %s", sshworker_path);

	/*
	 * -n looks at the users, groups and files the config names, as
	 * start-up and a reload do; -nn checks only the file itself (one
	 * written for another machine, say).
	 */
	conf_check_local = noaction < 2;
	if ((conf = parse_config(conffile, 0)) == NULL)
		exit(1);
	if (noaction) {
		if (verbose)
			print_config(conf);
		if (config_warning(conf, warning, sizeof(warning)))
			fprintf(stderr, "%s: warning: %s\n", conffile, warning);
		fprintf(stderr, "configuration OK\n");
		exit(0);
	}

	if (stdio_mode) {
		stdio_take();
		publish_off(conf);
	}

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

	/*
	 * The logger's directories: the text log's, the audit database's
	 * and the relay database's; created here, owned by the user.
	 */
	for (i = 0; i < 3; i++) {
		path = i == 0 ? conf->log_file : i == 1 ? conf->audit_db :
		    conf->relay_db;
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

	/* bridged -i serves its one session: no socket, no listener */
	if (!stdio_mode)
		mcp_fd = bind_unix(conf->socket_path, conf->socket_mode,
		    sockgid);
	ctl_fd = bind_unix(conf->ctl_path, 0600, (gid_t)-1);
	if (!stdio_mode) {
		if (http_tokens_load(conf, warning, sizeof(warning)) == -1)
			fatalx("%s", warning);
		http_bind(conf);
	}

	/* -i: the client that spawned us waits; stderr is our log */
	if (!debug && !stdio_mode && daemon(0, 0) == -1)
		fatal("daemon");
	log_init(debug || stdio_mode, LOG_DAEMON);
	log_procinit("parent");
	setproctitle("parent");
	/*
	 * libbsd marks a title shorter than the argv[0] it replaced with a
	 * '.' where argv[0] ended, which ps shows after a run of blanks:
	 * "bridged: parent      .".  The children's argv[0] is short;
	 * the parent's is whatever started it.  The title is all we show.
	 */
	if (strlen(arg0) < arg0len)
		arg0[arg0len] = '\0';
	log_info("starting, version %s", BRIDGED_VERSION);
	if (config_warning(conf, warning, sizeof(warning)))
		log_warnx("warning: %s", warning);

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

	/*
	 * ssh workers start when the frontend first needs their host, or
	 * now for a host that publishes a port: it holds that forward.
	 */
	fe = child_new(PROC_FRONTEND, NULL);
	lg = child_new(PROC_LOGGER, NULL);
	start(lg);
	start(fe);
	publish_workers();
	parent_record(json_pack("{s:s, s:s, s:s, s:I}", "type", "daemon",
	    "event", "start", "version", BRIDGED_VERSION, "pid",
	    (json_int_t)getpid()));

	event_dispatch();
	return exit_status;
}

/*
 * bridged -i: stdin and stdout are the MCP client's.  They move to
 * descriptors of their own, for the frontend alone; 0 and 1 become
 * /dev/null, so that no child and no stray printf can write anything
 * but MCP to the client.  stderr stays: it is our log.
 */
static void
stdio_take(void)
{
	struct stat	 st;
	int		 i, fd, *to;

	for (i = 0; i < 2; i++) {
		to = i == 0 ? &stdio_in : &stdio_out;
		if (fstat(i, &st) == -1)
			errx(1, "-i: %s is not open", i ? "stdout" : "stdin");
		/* what the event loop cannot watch (a file, /dev/null) */
		if (!S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode) &&
		    !isatty(i))
			errx(1, "-i: %s must be a pipe, a socket or a "
			    "terminal", i ? "stdout" : "stdin");
		if ((*to = fcntl(i, F_DUPFD_CLOEXEC, STDERR_FILENO + 1)) ==
		    -1)
			err(1, "-i: %s", i ? "stdout" : "stdin");
		if (fcntl(*to, F_SETFL, fcntl(*to, F_GETFL) | O_NONBLOCK) ==
		    -1)
			err(1, "-i: %s: O_NONBLOCK", i ? "stdout" : "stdin");
	}
	if ((fd = open("/dev/null", O_RDWR)) == -1)
		err(1, "-i: /dev/null");
	if (dup2(fd, STDIN_FILENO) == -1 || dup2(fd, STDOUT_FILENO) == -1)
		err(1, "-i: dup2");
	if (fd > STDERR_FILENO)
		close(fd);
}

/* the two descriptors go to the frontend, once: imsg closes ours */
void
stdio_send(void)
{
	struct stdio_peer	 sp;

	sp.uid = (uint32_t)getuid();
	sp.pid = (int32_t)getppid();
	if (imsgev_compose(&fe->iev, IMSG_STDIO_OUT, 0, stdio_out, NULL,
	    0) == -1 || imsgev_compose(&fe->iev, IMSG_STDIO_IN, 0, stdio_in,
	    &sp, sizeof(sp)) == -1)
		fatal("sending stdin and stdout");
	stdio_in = stdio_out = -1;
}

/* what a worker asks about must be its own host */
static int
worker_owns(struct child *c, struct imsg *imsg)
{
	struct host	*h;
	uint32_t	 hostid;

	if (imsg->datalen < sizeof(hostid))
		return 0;
	memcpy(&hostid, imsg->data, sizeof(hostid));
	return (h = config_host_byid(conf, hostid)) != NULL &&
	    strcmp(h->name, c->host) == 0;
}

void
parent_dispatch(int fd, short event, void *arg)
{
	struct child		*c = arg;
	struct imsgbuf		*ibuf = &c->iev.ibuf;
	struct imsg		 imsg;
	struct ssh_peer		 sp;
	struct fwd_req		 fr;
	ssize_t			 n;
	int			 v;

	/*
	 * A child's socket that fails is that child's end, never ours: it
	 * is closed, and SIGCHLD tells how the child went (one that is
	 * still there is killed and restarted like any other death).
	 */
	if (event & EV_READ) {
		n = imsgbuf_read(ibuf);
		if (n == 0 || (n == -1 && errno != EAGAIN)) {
			if (n == -1 && errno != ECONNRESET) {
				log_warn("read from %s: killing it", c->title);
				kill(c->pid, SIGKILL);
			}
			imsgev_clear(&c->iev);
			close(c->iev.ibuf.fd);
			c->iev.ibuf.fd = -1;
			return;
		}
	}
	if ((event & EV_WRITE) && child_flush(c) == -1)
		return;

	for (;;) {
		/* a child that sends nonsense is killed, not obeyed */
		if ((n = imsg_get(ibuf, &imsg)) == -1) {
			log_warnx("bad message from %s: killing it", c->title);
			kill(c->pid, SIGKILL);
			break;
		}
		if (n == 0)
			break;
		if (imsg.fd != -1) {
			/* nothing sends the parent descriptors */
			close(imsg.fd);
			imsg.fd = -1;
			goto bad;
		}
		switch (imsg.hdr.type) {
		case IMSG_READY:
			log_debug("%s is ready", c->title);
			break;
		case IMSG_DRAINED:
			if (c->id != PROC_FRONTEND || imsg.datalen != 0)
				goto bad;
			if (shutting_down)
				parent_finish(0, 0, NULL);
			break;
		case IMSG_STDIO_DONE:
			if (c->id != PROC_FRONTEND || imsg.datalen != 0 ||
			    !stdio_mode)
				goto bad;
			log_info("the stdio session has ended: shutting down");
			parent_shutdown(0);
			break;
		case IMSG_CTL_RELOAD:
			if (c->id != PROC_FRONTEND || imsg.datalen != 0)
				goto bad;
			parent_reload(imsg.hdr.peerid);
			break;
		case IMSG_SSH_START:
			if (c->id != PROC_FRONTEND ||
			    imsg.datalen != sizeof(sp))
				goto bad;
			memcpy(&sp, imsg.data, sizeof(sp));
			sp.host[sizeof(sp.host) - 1] = '\0';
			worker_start(sp.host);
			break;
		case IMSG_SSH_EXITING:
			if (c->id != PROC_SSH || imsg.datalen != 0)
				goto bad;
			c->exiting = 1;
			break;
		case IMSG_SSH_CONNECT:
			if (c->id != PROC_SSH || !worker_owns(c, &imsg))
				goto bad;
			parent_ssh_connect(&c->iev, conf, &imsg);
			break;
		case IMSG_JUMP_OPENED:
			/* only the jump host's worker: parent_jump.c checks */
			if (c->id != PROC_SSH ||
			    imsg.datalen != sizeof(struct jump_reply))
				goto bad;
			parent_jump_opened(c->host, &imsg);
			break;
		case IMSG_SSH_OPENLOCAL:
			if (c->id != PROC_SSH)
				goto bad;
			parent_transfer_open(&c->iev, conf, &imsg);
			break;
		case IMSG_FWD_LISTEN:
		case IMSG_FWD_CONNECT:
			if (c->id != PROC_SSH || imsg.datalen != sizeof(fr))
				goto bad;
			memcpy(&fr, imsg.data, sizeof(fr));
			if (config_host_byid(conf, fr.hostid) == NULL ||
			    strcmp(config_host_byid(conf, fr.hostid)->name,
			    c->host) != 0)
				goto bad;
			if (imsg.hdr.type == IMSG_FWD_LISTEN)
				parent_fwd_listen(&c->iev, conf, &imsg);
			else
				parent_fwd_connect(&c->iev, conf, &imsg);
			break;
		case IMSG_LOG_VERBOSE:
			if (c->id != PROC_FRONTEND || imsg.datalen != sizeof(v))
				goto bad;
			memcpy(&v, imsg.data, sizeof(v));
			verbose = v;
			log_setverbose(v);
			send_all(IMSG_LOG_VERBOSE, &v, sizeof(v));
			log_info("log level set to %s",
			    v ? "verbose" : "brief");
			break;
		default:
			goto bad;
		}
		imsg_free(&imsg);
		continue;
 bad:
		/*
		 * A child asking for what it may not have is compromised or
		 * broken: it dies and is restarted like any other death.
		 */
		log_warnx("unexpected message %u (%zu bytes) from %s: "
		    "killing it", imsg.hdr.type, imsg.datalen, c->title);
		imsg_free(&imsg);
		kill(c->pid, SIGKILL);
		break;
	}
	if (c->iev.ibuf.fd != -1)
		imsgev_add(&c->iev);
}

/*
 * A host keeps its id across a reload when its name stays, so what the
 * children hold by id (calls in flight, delegation and job ids) keeps
 * meaning the same host; new hosts get ids never used before.
 */
static void
hostids_keep(struct bridged_conf *oconf, struct bridged_conf *nconf)
{
	struct host	*h, *oh;
	struct fwdrule	*r;
	uint32_t	 maxid = 0, *map, n = 0, i;

	TAILQ_FOREACH(oh, &oconf->hosts, entry)
		if (oh->id > maxid)
			maxid = oh->id;
	TAILQ_FOREACH(h, &nconf->hosts, entry)
		n = h->id > n ? h->id : n;
	if ((map = calloc(n + 1, sizeof(*map))) == NULL)
		fatal(NULL);
	TAILQ_FOREACH(h, &nconf->hosts, entry) {
		oh = config_host_byname(oconf, h->name);
		map[h->id] = oh != NULL ? oh->id : ++maxid;
	}
	TAILQ_FOREACH(h, &nconf->hosts, entry) {
		TAILQ_FOREACH(r, &h->fwdrules, entry)
			if (r->hostid <= n)
				r->hostid = map[r->hostid];
		h->id = map[h->id];
	}
	for (i = 0; i <= n; i++)
		map[i] = 0;
	free(map);
}

/*
 * Reload: a new config that does not parse leaves the running one in
 * place.  What needs the sockets or the privileges again (paths, user)
 * takes a restart, and we say so.  A worker whose host is gone exits by
 * itself once it has answered what it holds.
 */
/*
 * The parser says what is wrong on stderr, file:line first, which a
 * daemon has pointed at /dev/null or its log.  For a reload the words
 * are wanted by whoever asked (bridgectl reload), so stderr is a memory
 * stream for the parse; each line also goes to our log.
 */
static struct bridged_conf *
reload_parse(char *why, size_t whylen)
{
	struct bridged_conf	*nconf;
	FILE			*saved = stderr, *mem;
	char			*buf = NULL, *line, *next;
	size_t			 len = 0, off = 0;

	why[0] = '\0';
	if ((mem = open_memstream(&buf, &len)) == NULL)
		return parse_config(conffile, 0);
	stderr = mem;
	nconf = parse_config(conffile, 0);
	stderr = saved;
	fclose(mem);
	for (line = buf; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		log_warnx("reload: %s", line);
		/* as many whole lines as fit */
		if (off + strlen(line) + 2 < whylen) {
			off += snprintf(why + off, whylen - off, "\n%s",
			    line);
		}
	}
	free(buf);
	return nconf;
}

static void
parent_reload(uint32_t peerid)
{
	struct bridged_conf	*nconf;
	struct child		*c;
	char			 msg[4096], why[3800];
	struct iovec		 iov[2];
	char			 err[PATH_MAX + 256];
	int			 status;

	if ((nconf = reload_parse(why, sizeof(why))) == NULL) {
		status = -1;
		snprintf(msg, sizeof(msg), "reload of %s failed; "
		    "keeping the running configuration%s", conffile, why);
		log_warnx("reload of %s failed; keeping the running "
		    "configuration", conffile);
	} else if (http_tokens_load(nconf, err, sizeof(err)) == -1) {
		config_free(nconf);
		status = -1;
		/* the file name may be long: the start of it is enough */
		snprintf(msg, sizeof(msg), "reload: %.200s; keeping the "
		    "running configuration", err);
		log_warnx("%s", msg);
	} else {
		if (http_reload(conf, nconf) == -1)
			log_warnx("reload: listen on changes only on restart");
		if (strcmp(nconf->socket_path, conf->socket_path) != 0 ||
		    strcmp(nconf->ctl_path, conf->ctl_path) != 0 ||
		    strcmp(nconf->user, conf->user) != 0 ||
		    strcmp(nconf->chroot, conf->chroot) != 0 ||
		    strcmp(nconf->log_file, conf->log_file) != 0 ||
		    strcmp(nconf->audit_db, conf->audit_db) != 0)
			log_warnx("reload: socket, user, chroot, log and "
			    "audit paths change only on restart");
		if (stdio_mode)
			publish_off(nconf);
		hostids_keep(conf, nconf);
		TAILQ_FOREACH(c, &children, entry)
			if (c->alive)
				config_send(&c->iev, nconf,
				    c->id == PROC_FRONTEND);
		config_free(conf);
		conf = nconf;
		publish_workers();
		status = 0;
		snprintf(msg, sizeof(msg), "configuration reloaded from %s",
		    conffile);
		log_info("%s", msg);
		parent_record(json_pack("{s:s, s:s, s:s}", "type", "daemon",
		    "event", "reload", "file", conffile));
	}
	if (peerid == 0 || !fe->alive)
		return;
	iov[0].iov_base = &status;
	iov[0].iov_len = sizeof(status);
	iov[1].iov_base = msg;
	iov[1].iov_len = strlen(msg);
	if (imsgev_composev(&fe->iev, IMSG_CTL_RESULT, peerid, -1, iov,
	    2) == -1)
		log_warn("reload result");
}


static void
parent_sig(int sig, short event, void *arg)
{
	struct child	*c;
	pid_t		 pid;
	int		 status;

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
			TAILQ_FOREACH(c, &children, entry)
				if (c->alive && c->pid == pid)
					break;
			if (c == NULL) {
				log_debug("reaped unknown child %d", pid);
				continue;
			}
			child_died(c, status);
		}
		if (!child_any() && shutting_down) {
			if (mcp_fd != -1)
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
 */
void
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
	/* a frontend that cannot be told (it has just died) drains nothing */
	if (fe->alive && drain > 0 && imsgev_compose(&fe->iev, IMSG_SHUTDOWN,
	    0, -1, &drain, sizeof(drain)) == 0) {
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
	struct child	*c;

	/*
	 * Drained and drain timer both lead here: one SIGTERM each, since
	 * a second one tells a child to skip its own clean-up.
	 */
	if (event_initialized(&ev_drain))
		evtimer_del(&ev_drain);
	TAILQ_FOREACH(c, &children, entry)
		if (c->alive && !done)
			kill(c->pid, SIGTERM);
	done = 1;
	if (!child_any()) {
		if (mcp_fd != -1)
			unlink(conf->socket_path);
		unlink(conf->ctl_path);
		log_info("exiting");
		exit(exit_status);
	}
}

