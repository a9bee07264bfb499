/*
 * test_sandbox.c: each child sandbox lets through what its process needs
 * (memory, libevent, IPC on inherited fds; files in its dirs for the
 * logger) and kills what a compromised process would try (exec, open,
 * socket, connect, fork, ptrace, executable memory, sendto with an
 * address or MSG_FASTOPEN, fcntl that signals, O_PATH, readlink and
 * utimensat in the logger).  What Landlock alone refuses (TCP, signals,
 * abstract sockets) is seen with the seccomp filter left out.  Every
 * case runs in a forked child; the parent judges the wait status.
 */

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <linux/landlock.h>
#include <netinet/in.h>

#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"
#include "tap.h"

enum { FRONTEND, SSHWORKER, LOGGER, NKINDS };

static const char	*kindname[NKINDS] = { "frontend", "sshworker", "logger" };

static int	cur_kind;
static int	quiet_stderr;		/* child: stderr -> /dev/null */
static int	debug_errfd = -1;	/* child: stderr -> this pipe/file */
static int	sp[2] = { -1, -1 };	/* socketpair made before the sandbox */
static int	unixfd = -1;		/* unconnected AF_UNIX socket */
static int	statusfd = -1;		/* /proc/self/status, opened before */
static int	tcpfd = -1;		/* unconnected TCP socket */
static struct sockaddr_in tcpaddr;	/* where the test's listener is */
static struct sockaddr_un abstract;	/* the test's abstract socket */
static socklen_t abstractlen;
static long	landlock_abi;
static char	dir1[64], dir2[64], outdir[64];

static void	enter(int);
static int	run(int, int (*)(void));
static const char *wstr(int);
static int	sigsys(int);
static int	exited0(int);
static int	listeners(void);

static void
enter(int kind)
{
	switch (kind) {
	case FRONTEND:
		sandbox_frontend();
		break;
	case SSHWORKER:
		sandbox_sshworker();
		break;
	default:
		sandbox_logger(dir1, dir2, NULL);
		break;
	}
}

/* Fork, prepare the inherited fds, sandbox, run body; the wait status. */
static int
run(int kind, int (*body)(void))
{
	pid_t	 pid;
	int	 status, fd;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		alarm(10);	/* a hang fails the case instead of the run */
		if (quiet_stderr && (fd = open("/dev/null", O_WRONLY)) != -1)
			dup2(fd, STDERR_FILENO);
		if (debug_errfd != -1)
			dup2(debug_errfd, STDERR_FILENO);
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1 ||
		    (unixfd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
		    (tcpfd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
		    (statusfd = open("/proc/self/status", O_RDONLY)) == -1)
			_exit(100);
		enter(kind);
		_exit(body());
	}
	if (waitpid(pid, &status, 0) == -1) {
		perror("waitpid");
		exit(2);
	}
	return status;
}

static const char *
wstr(int st)
{
	static char	 buf[64];

	if (WIFEXITED(st))
		snprintf(buf, sizeof(buf), "exit %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, sizeof(buf), "signal %d (%s)", WTERMSIG(st),
		    strsignal(WTERMSIG(st)));
	else
		snprintf(buf, sizeof(buf), "status 0x%x", st);
	return buf;
}

static int
sigsys(int st)
{
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS;
}

static int
exited0(int st)
{
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* --- allowed ---------------------------------------------------------- */

static int	ev_got;

static void
ev_read(int fd, short ev, void *arg)
{
	struct evbuffer	*b;

	if ((b = evbuffer_new()) == NULL)
		return;
	/* evbuffer_read sizes its read with ioctl(FIONREAD) */
	if (evbuffer_read(b, fd, -1) == 5 &&
	    memcmp(evbuffer_pullup(b, -1), "tick!", 5) == 0)
		ev_got = 1;
	evbuffer_free(b);
	event_loopexit(NULL);
}

static void
ev_timer(int fd, short ev, void *arg)
{
	int	*wfd = arg;

	if (write(*wfd, "tick!", 5) != 5)
		event_loopexit(NULL);
}

static int
body_allowed(void)
{
	struct event	 rev, tev;
	struct timeval	 tv = { 0, 10000 };
	struct timespec	 ts;
	struct stat	 stb;
	struct rlimit	 rl;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int))];
	}		 cmsgbuf;
	char		*p[16], rnd[32], data[8];
	int		 pfd[2], i, fd;

	for (i = 0; i < 16; i++) {
		if ((p[i] = malloc(i == 0 ? 8 << 20 : 1000 * i)) == NULL)
			return 1;
		memset(p[i], 'x', i == 0 ? 8 << 20 : 1000 * i);
	}
	if ((p[1] = realloc(p[1], 4 << 20)) == NULL)
		return 1;
	for (i = 0; i < 16; i++)
		free(p[i]);
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return 2;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1 ||
	    clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return 3;
	if (getpid() <= 0 || getuid() != geteuid())
		return 4;
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return 5;
	if (fstat(sp[0], &stb) == -1 || !S_ISSOCK(stb.st_mode))
		return 6;

	/* pass a pipe's end over the socketpair, the way imsg does */
	if (pipe2(pfd, O_NONBLOCK | O_CLOEXEC) == -1)
		return 7;
	memset(&msg, 0, sizeof(msg));
	memset(&cmsgbuf, 0, sizeof(cmsgbuf));
	iov.iov_base = "ping";
	iov.iov_len = 4;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	memcpy(CMSG_DATA(cm), &pfd[0], sizeof(int));
	if (sendmsg(sp[0], &msg, 0) != 4)
		return 8;
	memset(&cmsgbuf, 0, sizeof(cmsgbuf));
	iov.iov_base = data;
	iov.iov_len = sizeof(data);
	msg.msg_controllen = sizeof(cmsgbuf.buf);
	if (recvmsg(sp[1], &msg, 0) != 4 || memcmp(data, "ping", 4) != 0)
		return 9;
	if ((cm = CMSG_FIRSTHDR(&msg)) == NULL || cm->cmsg_type != SCM_RIGHTS)
		return 10;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	close(pfd[0]);

	/* libevent: read event on the received pipe end, woken by a timer */
	event_init();
	event_set(&rev, fd, EV_READ | EV_PERSIST, ev_read, NULL);
	evtimer_set(&tev, ev_timer, &pfd[1]);
	if (event_add(&rev, NULL) == -1 || evtimer_add(&tev, &tv) == -1)
		return 11;
	if (event_dispatch() == -1 || !ev_got)
		return 12;
	return 0;
}

static int
body_status(void)
{
	char	 buf[4096];
	ssize_t	 n;

	if ((n = read(statusfd, buf, sizeof(buf) - 1)) <= 0)
		return 1;
	buf[n] = '\0';
	if (strstr(buf, "\nSeccomp:\t2\n") == NULL)
		return 2;
	if (strstr(buf, "\nNoNewPrivs:\t1\n") == NULL)
		return 3;
	return 0;
}

static int
body_rlimits(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_CORE, &rl) == -1 || rl.rlim_cur != 0)
		return 1;
	if (getrlimit(RLIMIT_NPROC, &rl) == -1 || rl.rlim_cur != 0)
		return 2;
	if (getrlimit(RLIMIT_FSIZE, &rl) == -1)
		return 3;
	/* only the frontend writes no file at all */
	if ((cur_kind == FRONTEND) != (rl.rlim_cur == 0))
		return 4;
	return 0;
}

/* bridged -d 2>file: logging must not die of SIGXFSZ (FSIZE is kept) */
static int
body_log_to_file(void)
{
	log_warnx("sandboxed line");
	return 0;
}

/* raise(3)/abort(3) use tgkill on our own pid: must give SIGABRT */
static int
body_abort(void)
{
	abort();
}

/* --- forbidden: each returns only if the sandbox let the call through */

static int
f_execve(void)
{
	char	*argv[] = { "true", NULL }, *envp[] = { NULL };

	execve("/bin/true", argv, envp);
	return 0;
}

static int
f_open(void)
{
	open("/etc/passwd", O_RDONLY);
	return 0;
}

static int
f_stat(void)
{
	struct stat	 st;

	stat("/", &st);
	return 0;
}

static int
f_socket(void)
{
	socket(AF_INET, SOCK_STREAM, 0);
	return 0;
}

static int
f_connect(void)
{
	struct sockaddr_un	 sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, "/nonexistent/bridged.sock",
	    sizeof(sun.sun_path));
	connect(unixfd, (struct sockaddr *)&sun, sizeof(sun));
	return 0;
}

static int
f_fork(void)
{
	if (fork() == 0)
		_exit(0);
	return 0;
}

static int
f_ptrace(void)
{
	ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	return 0;
}

static int
f_mmap_exec(void)
{
	mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
	    -1, 0);
	return 0;
}

static int
f_mprotect_exec(void)
{
	void	*p;

	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 1;
	mprotect(p, 4096, PROT_READ | PROT_EXEC);
	return 0;
}

static int
f_kill(void)
{
	kill(getppid(), 0);
	return 0;
}

static int
f_setrlimit(void)
{
	struct rlimit	 rl = { 16, 16 };

	setrlimit(RLIMIT_NOFILE, &rl);
	return 0;
}

static int
f_ioctl(void)
{
	ioctl(sp[0], FIOCLEX);
	return 0;
}

static int
f_setuid(void)
{
	setuid(getuid());
	return 0;
}

/* the way out of issue 11: a socket in the closed state connects */
static int
f_sendto_addr(void)
{
	sendto(tcpfd, "x", 1, 0, (struct sockaddr *)&tcpaddr,
	    sizeof(tcpaddr));
	return 0;
}

static int
f_sendto_fastopen(void)
{
	sendto(tcpfd, "x", 1, MSG_FASTOPEN, (struct sockaddr *)&tcpaddr,
	    sizeof(tcpaddr));
	return 0;
}

static int
f_sendto_fastopen_noaddr(void)
{
	sendto(tcpfd, "x", 1, MSG_FASTOPEN, NULL, 0);
	return 0;
}

static int
f_sendmsg_fastopen(void)
{
	struct msghdr	 msg;
	struct iovec	 iov;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = "x";
	iov.iov_len = 1;
	msg.msg_name = &tcpaddr;
	msg.msg_namelen = sizeof(tcpaddr);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	sendmsg(tcpfd, &msg, MSG_FASTOPEN);
	return 0;
}

static int
f_shutdown_rd(void)
{
	shutdown(sp[0], SHUT_RD);
	return 0;
}

static int
f_shutdown_wr(void)
{
	shutdown(sp[0], SHUT_WR);
	return 0;
}

/* signals through fcntl: F_SETOWN and friends, O_ASYNC */
static int
f_fcntl_setown(void)
{
	fcntl(sp[0], F_SETOWN, getppid());
	return 0;
}

static int
f_fcntl_setown_ex(void)
{
	struct f_owner_ex	 o = { F_OWNER_PID, 1 };

	fcntl(sp[0], F_SETOWN_EX, &o);
	return 0;
}

static int
f_fcntl_setsig(void)
{
	fcntl(sp[0], F_SETSIG, SIGKILL);
	return 0;
}

static int
f_fcntl_setlease(void)
{
	fcntl(statusfd, F_SETLEASE, F_RDLCK);
	return 0;
}

static int
f_fcntl_notify(void)
{
	fcntl(statusfd, F_NOTIFY, DN_MODIFY);
	return 0;
}

static int
f_fcntl_async(void)
{
	fcntl(sp[0], F_SETFL, O_NONBLOCK | O_ASYNC);
	return 0;
}

static int
f_fcntl_dupfd(void)
{
	fcntl(sp[0], F_DUPFD, 100);
	return 0;
}

/* the logger: what Landlock does not check on a path */
static int
f_open_path(void)
{
	open("/etc/passwd", O_PATH | O_CLOEXEC);
	return 0;
}

static int
f_readlinkat(void)
{
	char	 buf[64];

	readlinkat(AT_FDCWD, "/proc/self/exe", buf, sizeof(buf));
	return 0;
}

static int
f_utimensat(void)
{
	utimensat(AT_FDCWD, "/etc/passwd", NULL, 0);
	return 0;
}

static int
f_futimens(void)
{
	futimens(statusfd, NULL);
	return 0;
}

static int
f_statfs(void)
{
	struct statfs	 sf;

	statfs("/", &sf);
	return 0;
}

static int
f_getcwd(void)
{
	char	 buf[256];

	if (getcwd(buf, sizeof(buf)) == NULL)
		return 0;
	return 0;
}

static int
f_mkdirat(void)
{
	char	 path[128];

	snprintf(path, sizeof(path), "%s/sub", dir1);
	mkdirat(AT_FDCWD, path, 0700);
	return 0;
}

/* sysname: what the debug trap must name, proving the kill was this call */
static const struct {
	const char	*what;
	int		(*fn)(void);
	int		 kinds;		/* bitmask of kinds it applies to */
	const char	*sysname;
} forbidden[] = {
	{ "execve",		f_execve,	7, "execve" },
	/* the ssh worker: soft denials, tested below (ssh_soft) */
	{ "open /etc/passwd",	f_open,		1, "openat" },
	{ "stat on a path",	f_stat,		1, "newfstatat" },
	{ "socket(AF_INET)",	f_socket,	7, "socket" },
	{ "connect on an inherited socket", f_connect, 7, "connect" },
	{ "fork",		f_fork,		7, "clone" },
	{ "ptrace",		f_ptrace,	7, "ptrace" },
	{ "mmap PROT_EXEC",	f_mmap_exec,	7, "mmap" },
	{ "mprotect PROT_EXEC",	f_mprotect_exec, 7, "mprotect" },
	{ "kill",		f_kill,		7, "kill" },
	{ "setrlimit",		f_setrlimit,	7, "prlimit64" },
	{ "ioctl(FIOCLEX)",	f_ioctl,	7, "ioctl" },
	{ "setuid",		f_setuid,	7, "setuid" },
	{ "sendto with an address", f_sendto_addr, 7, "sendto" },
	{ "sendto MSG_FASTOPEN with an address", f_sendto_fastopen, 7,
	    "sendto" },
	{ "sendto MSG_FASTOPEN", f_sendto_fastopen_noaddr, 7, "sendto" },
	{ "sendmsg MSG_FASTOPEN", f_sendmsg_fastopen, 7, "sendmsg" },
	{ "shutdown(SHUT_RD)",	f_shutdown_rd,	7, "shutdown" },
	{ "shutdown(SHUT_WR)",	f_shutdown_wr,	4, "shutdown" },
	{ "fcntl(F_SETOWN)",	f_fcntl_setown,	7, "fcntl" },
	{ "fcntl(F_SETOWN_EX)",	f_fcntl_setown_ex, 7, "fcntl" },
	{ "fcntl(F_SETSIG)",	f_fcntl_setsig,	7, "fcntl" },
	{ "fcntl(F_SETLEASE)",	f_fcntl_setlease, 7, "fcntl" },
	{ "fcntl(F_NOTIFY)",	f_fcntl_notify,	7, "fcntl" },
	{ "fcntl(F_SETFL, O_ASYNC)", f_fcntl_async, 7, "fcntl" },
	{ "fcntl(F_DUPFD)",	f_fcntl_dupfd,	7, "fcntl" },
	{ "open O_PATH",	f_open_path,	4, "openat" },
	{ "readlinkat",		f_readlinkat,	7, "readlinkat" },
	{ "utimensat on a path", f_utimensat,	7, "utimensat" },
	{ "futimens",		f_futimens,	7, "utimensat" },
	{ "statfs",		f_statfs,	7, "statfs" },
	{ "getcwd",		f_getcwd,	7, "getcwd" },
	{ "mkdirat",		f_mkdirat,	4, "mkdirat" },
};

/* what every child still may do with fcntl and its sockets */
static int
body_fcntl_allowed(void)
{
	int	 fl;

	if ((fl = fcntl(sp[0], F_GETFL)) == -1)
		return 1;
	if (fcntl(sp[0], F_SETFL, fl | O_NONBLOCK) == -1 ||
	    fcntl(sp[0], F_SETFL, fl & ~O_NONBLOCK) == -1)
		return 2;
	if (fcntl(sp[0], F_SETFD, FD_CLOEXEC) == -1 ||
	    (fcntl(sp[0], F_GETFD) & FD_CLOEXEC) == 0)
		return 3;
	return 0;
}

/* the ssh worker: libssh's send(2) and a forward's half-close */
static int
s_send_shutdown(void)
{
	char	 c;

	if (send(sp[0], "y", 1, MSG_NOSIGNAL) != 1 ||
	    recv(sp[1], &c, 1, 0) != 1 || c != 'y')
		return 1;
	if (shutdown(sp[0], SHUT_WR) == -1)
		return 2;
	if (recv(sp[1], &c, 1, 0) != 0)
		return 3;
	return 0;
}

/* the frontend: evhttp's half-close of an HTTP connection */
static int
fe_shutdown_wr(void)
{
	char	 c;

	if (shutdown(sp[0], SHUT_WR) == -1)
		return 1;
	if (recv(sp[1], &c, 1, 0) != 0)
		return 2;
	return 0;
}

/* the logger: access(2) on a path answers "no", softly */
static int
l_access_soft(void)
{
	if (access("/etc/passwd", F_OK) != -1 || errno != EACCES)
		return 1;
	return 0;
}

/* --- Landlock alone (seccomp left out): each needs an ABI ------------- */

static int
ll_tcp_connect(void)
{
	if (connect(tcpfd, (struct sockaddr *)&tcpaddr,
	    sizeof(tcpaddr)) != -1)
		return 1;
	return errno == EACCES ? 0 : 2;
}

static int
ll_tcp_bind(void)
{
	struct sockaddr_in	 sin = tcpaddr;

	sin.sin_port = 0;
	if (bind(tcpfd, (struct sockaddr *)&sin, sizeof(sin)) != -1)
		return 1;
	return errno == EACCES ? 0 : 2;
}

static int
ll_abstract(void)
{
	if (connect(unixfd, (struct sockaddr *)&abstract, abstractlen) != -1)
		return 1;
	return errno == EPERM ? 0 : 2;
}

static int
ll_signal(void)
{
	if (kill(getppid(), 0) != -1)
		return 1;
	return errno == EPERM ? 0 : 2;
}

/* 0: Landlock let a TCP fast open through (seccomp must refuse it) */
static int
ll_fastopen(void)
{
	if (sendto(tcpfd, "x", 1, MSG_FASTOPEN, (struct sockaddr *)&tcpaddr,
	    sizeof(tcpaddr)) == 1)
		return 0;
	return 1;
}

static const struct {
	const char	*what;
	int		(*fn)(void);
	int		 abi;
} llcases[] = {
	{ "TCP connect fails with EACCES",	ll_tcp_connect,	4 },
	{ "TCP bind fails with EACCES",		ll_tcp_bind,	4 },
	{ "connect to an abstract UNIX socket outside fails with EPERM",
	    ll_abstract, 6 },
	{ "signal to a process outside fails with EPERM", ll_signal, 6 },
};

/*
 * The ssh worker: libssh probes known_hosts files whatever its options
 * say; those opens and stats fail with EACCES instead of killing it.
 */
static int
s_open_soft(void)
{
	if (open("/etc/passwd", O_RDONLY) != -1 || errno != EACCES)
		return 1;
	if (openat(AT_FDCWD, "/etc/passwd", O_RDONLY) != -1 ||
	    errno != EACCES)
		return 1;
	return 0;
}

static int
s_stat_soft(void)
{
	struct stat	 st;

	if (stat("/", &st) != -1 || errno != EACCES)
		return 1;
	return 0;
}

/* --- logger: files beneath its dirs only ------------------------------ */

static int
l_files(void)
{
	char	 a[128], b[128], c[128], buf[8];
	int	 fd;

	snprintf(a, sizeof(a), "%s/a.log", dir1);
	snprintf(b, sizeof(b), "%s/a.log.1", dir1);
	snprintf(c, sizeof(c), "%s/moved", dir2);
	if ((fd = open(a, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) == -1)
		return 1;
	if (write(fd, "hello", 5) != 5 || fsync(fd) == -1 ||
	    ftruncate(fd, 4) == -1 || close(fd) == -1)
		return 2;
	if (rename(a, b) == -1)
		return 3;
	if ((fd = open(b, O_RDONLY | O_CLOEXEC)) == -1 ||
	    read(fd, buf, sizeof(buf)) != 4 || memcmp(buf, "hell", 4) != 0)
		return 4;
	close(fd);
	/* moving between the two dirs needs REFER (Landlock ABI 2) */
	if (landlock_abi >= 2 || landlock_abi <= 0) {
		if (rename(b, c) == -1)
			return 5;
		if (unlink(c) == -1)
			return 6;
	} else if (unlink(b) == -1)
		return 6;
	return 0;
}

static int
l_sqlite(void)
{
	sqlite3		*db;
	sqlite3_stmt	*st;
	char		 path[128];
	int		 n = -1;

	snprintf(path, sizeof(path), "%s/audit.db", dir1);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return 1;
	if (sqlite3_exec(db, "PRAGMA journal_mode=WAL;"
	    "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);"
	    "INSERT INTO t (v) VALUES ('a'), ('b');"
	    "BEGIN; INSERT INTO t (v) VALUES ('c'); COMMIT;",
	    NULL, NULL, NULL) != SQLITE_OK)
		return 2;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &st,
	    NULL) != SQLITE_OK)
		return 3;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (n != 3)
		return 4;
	if (sqlite3_close(db) != SQLITE_OK)
		return 5;
	return 0;
}

static int
l_outside_read(void)
{
	if (open("/etc/passwd", O_RDONLY) != -1)
		return 1;
	return errno == EACCES ? 0 : 2;
}

static int
l_outside_create(void)
{
	char	 path[128];

	snprintf(path, sizeof(path), "%s/escape", outdir);
	if (open(path, O_WRONLY | O_CREAT, 0600) != -1)
		return 1;
	return errno == EACCES ? 0 : 2;
}

/* --- debug mode: trap and name the call -------------------------------- */

static int
debug_case(int kind, int (*body)(void), char *out, size_t outsz)
{
	ssize_t	 n;
	size_t	 len = 0;
	int	 p[2], st;

	if (pipe(p) == -1)
		return -1;
	sandbox_debug = 1;
	debug_errfd = p[1];
	st = run(kind, body);
	debug_errfd = -1;
	sandbox_debug = 0;
	close(p[1]);
	while (len < outsz - 1 &&
	    (n = read(p[0], out + len, outsz - 1 - len)) > 0)
		len += n;
	out[len] = '\0';
	close(p[0]);
	return st;
}

/* a TCP listener on 127.0.0.1 and an abstract UNIX socket, ours */
static int
listeners(void)
{
	socklen_t	 len = sizeof(tcpaddr);
	int		 l, u;

	memset(&tcpaddr, 0, sizeof(tcpaddr));
	tcpaddr.sin_family = AF_INET;
	tcpaddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(&abstract, 0, sizeof(abstract));
	abstract.sun_family = AF_UNIX;
	snprintf(abstract.sun_path + 1, sizeof(abstract.sun_path) - 1,
	    "bridged-test-sandbox-%d", (int)getpid());
	abstractlen = offsetof(struct sockaddr_un, sun_path) + 1 +
	    strlen(abstract.sun_path + 1);
	if ((l = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(l, (struct sockaddr *)&tcpaddr, sizeof(tcpaddr)) == -1 ||
	    listen(l, 64) == -1 ||
	    getsockname(l, (struct sockaddr *)&tcpaddr, &len) == -1 ||
	    (u = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    bind(u, (struct sockaddr *)&abstract, abstractlen) == -1 ||
	    listen(u, 64) == -1) {
		perror("listeners");
		return -1;
	}
	return 0;
}

static int
rm_entry(const char *path, const struct stat *st, int type, struct FTW *f)
{
	return remove(path);
}

int
main(void)
{
	char	 out[512], want[64];
	size_t	 i;
	int	 k, st;

	log_init(1, 0);
	setvbuf(stdout, NULL, _IOLBF, 0);
	landlock_abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	printf("# uid %d, Landlock ABI %ld\n", (int)getuid(), landlock_abi);

	snprintf(dir1, sizeof(dir1), "/tmp/sbtest1.XXXXXX");
	snprintf(dir2, sizeof(dir2), "/tmp/sbtest2.XXXXXX");
	snprintf(outdir, sizeof(outdir), "/tmp/sbtest3.XXXXXX");
	if (mkdtemp(dir1) == NULL || mkdtemp(dir2) == NULL ||
	    mkdtemp(outdir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	if (listeners() == -1)
		return 2;

	for (k = 0; k < NKINDS; k++) {
		cur_kind = k;
		st = run(k, body_allowed);
		ok(exited0(st), "%s: memory, libevent, fd passing, "
		    "getrandom, fstat allowed (%s)", kindname[k], wstr(st));
		st = run(k, body_status);
		ok(exited0(st), "%s: /proc/self/status shows Seccomp 2, "
		    "NoNewPrivs 1 (%s)", kindname[k], wstr(st));
		quiet_stderr = 1;
		st = run(k, body_rlimits);
		quiet_stderr = 0;
		ok(exited0(st), "%s: rlimits CORE, NPROC%s are 0 (%s)",
		    kindname[k], k == FRONTEND ? ", FSIZE" : "", wstr(st));
		st = run(k, body_abort);
		ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT,
		    "%s: abort() still raises SIGABRT (%s)", kindname[k],
		    wstr(st));
		for (i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]);
		    i++) {
			if ((forbidden[i].kinds & (1 << k)) == 0)
				continue;
			st = run(k, forbidden[i].fn);
			ok(sigsys(st), "%s: %s killed by SIGSYS (%s)",
			    kindname[k], forbidden[i].what, wstr(st));
			snprintf(want, sizeof(want), "(%s)\n",
			    forbidden[i].sysname);
			st = debug_case(k, forbidden[i].fn, out, sizeof(out));
			ok(WIFEXITED(st) && WEXITSTATUS(st) == 1 &&
			    strstr(out, want) != NULL,
			    "%s: debug mode traps %s and names %s (%s)",
			    kindname[k], forbidden[i].what,
			    forbidden[i].sysname, wstr(st));
			if (strstr(out, want) == NULL)
				printf("# stderr: %s%s", out,
				    strchr(out, '\n') ? "" : "\n");
		}
	}

	for (k = 0; k < NKINDS; k++) {
		cur_kind = k;
		st = run(k, body_fcntl_allowed);
		ok(exited0(st), "%s: fcntl F_GETFL, F_SETFL O_NONBLOCK, "
		    "F_SETFD, F_GETFD allowed (%s)", kindname[k], wstr(st));
	}

	/* Landlock alone: what it refuses by itself, on this kernel */
	sandbox_test_landlock_only = 1;
	quiet_stderr = 1;
	for (k = 0; k < NKINDS; k++) {
		cur_kind = k;
		for (i = 0; i < sizeof(llcases) / sizeof(llcases[0]); i++) {
			if (landlock_abi < llcases[i].abi) {
				printf("ok %d - %s: Landlock: %s # SKIP "
				    "kernel has Landlock ABI %ld, this needs "
				    "%d\n", ++tap_n, kindname[k],
				    llcases[i].what, landlock_abi,
				    llcases[i].abi);
				continue;
			}
			st = run(k, llcases[i].fn);
			ok(exited0(st), "%s: Landlock alone: %s (%s)",
			    kindname[k], llcases[i].what, wstr(st));
		}
	}
	if (landlock_abi >= 4) {
		st = run(SSHWORKER, ll_fastopen);
		printf("# Landlock ABI %ld alone %s a TCP fast open "
		    "(sendto MSG_FASTOPEN): seccomp %s\n", landlock_abi,
		    exited0(st) ? "lets through" : "refuses",
		    exited0(st) ? "is what refuses it" : "refuses it too");
	}
	quiet_stderr = 0;
	sandbox_test_landlock_only = 0;

	cur_kind = FRONTEND;
	st = run(FRONTEND, fe_shutdown_wr);
	ok(exited0(st), "frontend: shutdown(SHUT_WR) allowed, for evhttp "
	    "(SHUT_RD stays forbidden) (%s)", wstr(st));

	cur_kind = SSHWORKER;
	st = run(SSHWORKER, s_send_shutdown);
	ok(exited0(st), "sshworker: send() without an address and "
	    "shutdown(SHUT_WR) allowed (%s)", wstr(st));
	st = run(SSHWORKER, s_open_soft);
	ok(exited0(st), "sshworker: open fails with EACCES, not fatal (%s)",
	    wstr(st));
	st = run(SSHWORKER, s_stat_soft);
	ok(exited0(st), "sshworker: stat on a path fails with EACCES (%s)",
	    wstr(st));

	cur_kind = LOGGER;
	st = run(LOGGER, l_files);
	ok(exited0(st), "logger: create, write, fsync, truncate, rename, "
	    "unlink in its dirs (%s)", wstr(st));
	st = run(LOGGER, l_sqlite);
	ok(exited0(st), "logger: SQLite WAL database in its dir (%s)",
	    wstr(st));
	st = run(LOGGER, l_access_soft);
	ok(exited0(st), "logger: access(2) on a path fails with EACCES, not "
	    "fatal (%s)", wstr(st));
	if (landlock_abi <= 0) {
		printf("ok %d - # SKIP no landlock\n", ++tap_n);
		printf("ok %d - # SKIP no landlock\n", ++tap_n);
	} else {
		st = run(LOGGER, l_outside_read);
		ok(exited0(st), "logger: reading /etc/passwd fails with "
		    "EACCES (%s)", wstr(st));
		st = run(LOGGER, l_outside_create);
		ok(exited0(st), "logger: creating a file in another dir fails "
		    "with EACCES (%s)", wstr(st));
	}

	for (k = 0; k < LOGGER; k++) {
		char	 errpath[] = "/tmp/sbtest-err.XXXXXX";
		int	 fd;
		ssize_t	 n;

		if ((fd = mkstemp(errpath)) == -1) {
			perror("mkstemp");
			return 2;
		}
		unlink(errpath);
		debug_errfd = fd;
		st = run(k, body_log_to_file);
		debug_errfd = -1;
		n = pread(fd, out, sizeof(out) - 1, 0);
		out[n > 0 ? n : 0] = '\0';
		close(fd);
		ok(exited0(st) && strstr(out, "sandboxed line\n") != NULL,
		    "%s: logging to stderr redirected to a file works (%s)",
		    kindname[k], wstr(st));
	}

	cur_kind = FRONTEND;
	st = debug_case(FRONTEND, f_socket, out, sizeof(out));
	snprintf(want, sizeof(want),
	    "frontend: sandbox: forbidden syscall %d (socket)\n", SYS_socket);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 1 && strcmp(out, want) == 0,
	    "debug: the trap line has process, number and name (%s)",
	    wstr(st));
	if (strcmp(out, want) != 0)
		printf("# stderr: %s%s", out, strchr(out, '\n') ? "" : "\n");

	nftw(dir1, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	nftw(dir2, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	nftw(outdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return tap_done();
}
