/*
 * sandbox.c: confinement of the child processes.
 *
 * Each sandbox_*() applies, in this order: rlimits, no_new_privs,
 * Landlock (best effort: as much as the kernel's ABI knows, see
 * sandbox_landlock) and a seccomp allow-list (mandatory).  Anything not
 * on the list kills the process; with sandbox_debug set it traps instead
 * and names the call, which is how a missing entry is found.
 *
 * seccomp sees the arguments of a call but never the memory they point
 * to: flags and modes can be checked (mmap without PROT_EXEC, fcntl
 * without F_SETOWN or O_ASYNC, sendto without an address, no
 * MSG_FASTOPEN), path names and a sendmsg's msg_name cannot.  What only
 * a path or a msg_name decides is Landlock's to refuse, or left open and
 * said so in SECURITY.
 */

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <linux/landlock.h>

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"

/*
 * Landlock rights and scopes newer than the Debian 12 kernel headers
 * (6.1, ABI 2), with the ABI that brought each.
 */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE		(1ULL << 14)	/* 3 */
#endif
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP		(1ULL << 0)	/* 4 */
#define LANDLOCK_ACCESS_NET_CONNECT_TCP		(1ULL << 1)	/* 4 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV		(1ULL << 15)	/* 5 */
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET	(1ULL << 0)	/* 6 */
#define LANDLOCK_SCOPE_SIGNAL			(1ULL << 1)	/* 6 */
#endif

/*
 * struct landlock_ruleset_attr as of ABI 6; the kernel takes a longer
 * struct than it knows as long as the fields it does not know are 0.
 */
struct sb_ruleset_attr {
	uint64_t		 handled_access_fs;
	uint64_t		 handled_access_net;	/* ABI 4 */
	uint64_t		 scoped;		/* ABI 6 */
};

#define SB_MAXARGS	3

/*
 * One allow-list entry: a syscall, optionally constrained by up to
 * SB_MAXARGS argument comparisons that must all hold.  Several entries
 * for one syscall are alternatives.
 */
struct sb_rule {
	int			 nr;
	int			 errnum;	/* 0 allow, else fail with it */
	unsigned int		 argc;
	struct scmp_arg_cmp	 cmp[SB_MAXARGS];
};

/* argument a equals x; has none of the bits in m */
#define ARG_EQ(a, x)		{ (a), SCMP_CMP_EQ, (x), 0 }
#define ARG_NONE(a, m)		{ (a), SCMP_CMP_MASKED_EQ, (m), 0 }
#define ARG_ALL(a, m)		{ (a), SCMP_CMP_MASKED_EQ, (m), (m) }

#define ARG_NO			{ 0, 0, 0, 0 }	/* unused slot */

#define ALLOW(name)							\
	{ SCMP_SYS(name), 0, 0, { ARG_NO, ARG_NO, ARG_NO } }
#define ALLOW_IF(name, c)						\
	{ SCMP_SYS(name), 0, 1, { c, ARG_NO, ARG_NO } }
#define ALLOW_IF2(name, c1, c2)						\
	{ SCMP_SYS(name), 0, 2, { c1, c2, ARG_NO } }
#define DENY(name, e)							\
	{ SCMP_SYS(name), (e), 0, { ARG_NO, ARG_NO, ARG_NO } }
#define DENY_IF(name, e, c)						\
	{ SCMP_SYS(name), (e), 1, { c, ARG_NO, ARG_NO } }

struct sb_policy {
	const char		*name;
	const struct sb_rule	*rules;
	size_t			 nrules;
	const int		*forbid;	/* beyond sb_forbid_all */
	size_t			 nforbid;
	int			 nofiles;	/* RLIMIT_FSIZE 0 */
	uint64_t		 fsaccess;	/* Landlock rights on dirs */
	const char		*dirs[3];
};

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#define SB_MAXNR	1024

static void	sandbox_apply(struct sb_policy *);
static void	sandbox_rlimits(const struct sb_policy *);
static void	sandbox_landlock(const struct sb_policy *);
static void	sandbox_seccomp(const struct sb_policy *);
static void	sandbox_check(const struct sb_policy *);
static int	sandbox_allowed(const struct sb_policy *, int);
static void	sandbox_debug_init(const struct sb_policy *);
static void	sandbox_sigsys(int, siginfo_t *, void *);

int		 sandbox_debug;
int		 sandbox_test_landlock_only;

static const char	*sb_procname = "?";
static char		*sb_names[SB_MAXNR];	/* debug: pre-resolved */

/* What every child needs: memory, time, signals, IPC on inherited fds. */
static const struct sb_rule sb_common[] = {
	ALLOW(read), ALLOW(write), ALLOW(readv), ALLOW(writev),
	ALLOW(close), ALLOW(exit), ALLOW(exit_group), ALLOW(restart_syscall),
	ALLOW(rt_sigreturn), ALLOW(rt_sigaction), ALLOW(rt_sigprocmask),
	ALLOW(sigaltstack),
	ALLOW(brk), ALLOW(munmap), ALLOW(mremap), ALLOW(madvise),
	/* writable and executable memory is how injected code runs */
	ALLOW_IF(mmap, ARG_NONE(2, PROT_EXEC)),
	ALLOW_IF(mprotect, ARG_NONE(2, PROT_EXEC)),
	ALLOW(futex), ALLOW(clock_gettime), ALLOW(clock_nanosleep),
	ALLOW(nanosleep), ALLOW(gettimeofday),
	ALLOW(getpid), ALLOW(getppid), ALLOW(gettid), ALLOW(getrandom),
	ALLOW(getuid), ALLOW(geteuid), ALLOW(getgid), ALLOW(getegid),
	ALLOW(fstat), ALLOW(lseek),
	/*
	 * fcntl: close-on-exec and O_NONBLOCK only.  F_SETOWN, F_SETOWN_EX
	 * and F_SETSIG with O_ASYNC make the kernel signal a process of our
	 * choosing on I/O (another way to kill(2)); F_SETLEASE and F_NOTIFY
	 * signal too.  None of those is on the list, and F_SETFL may not
	 * turn O_ASYNC on.
	 */
	ALLOW_IF(fcntl, ARG_EQ(1, F_GETFD)),
	ALLOW_IF(fcntl, ARG_EQ(1, F_SETFD)),
	ALLOW_IF(fcntl, ARG_EQ(1, F_GETFL)),
	ALLOW_IF2(fcntl, ARG_EQ(1, F_SETFL), ARG_NONE(2, O_ASYNC)),
	ALLOW(epoll_create1), ALLOW(epoll_ctl), ALLOW(epoll_pwait),
	ALLOW(ppoll), ALLOW(pselect6), ALLOW(pipe2), ALLOW(eventfd2),
#ifdef __NR_epoll_create
	ALLOW(epoll_create),
#endif
#ifdef __NR_epoll_wait
	ALLOW(epoll_wait),
#endif
#ifdef __NR_poll
	ALLOW(poll),
#endif
#ifdef __NR_select
	ALLOW(select),
#endif
	/*
	 * imsg (sendmsg with SCM_RIGHTS, no msg_name) and the frontend's
	 * replies.  A msg_name lies in memory seccomp cannot read, so
	 * sendmsg is allowed with any; on the sockets a child holds it
	 * does nothing (connected streams ignore or refuse it, none is a
	 * datagram socket).  MSG_FASTOPEN would make a TCP socket in the
	 * closed state -- a forward's listener after shutdown(2) --
	 * connect to msg_name: refused here, as Landlock's TCP rules do not
	 * see it (Linux 6.18 lets a fast open through them).
	 */
	ALLOW_IF(sendmsg, ARG_NONE(2, MSG_FASTOPEN)),
	ALLOW(recvmsg), ALLOW(recvfrom),
	ALLOW(getsockopt), ALLOW(setsockopt),
	ALLOW(getsockname), ALLOW(getpeername),
	/* libevent's evbuffer_read sizes reads with FIONREAD */
	ALLOW_IF(ioctl, ARG_EQ(1, FIONREAD)),
	ALLOW_IF(ioctl, ARG_EQ(1, FIONBIO)),
	/* isatty(3) probes from stdio: harmless, answer "not a tty" */
	DENY_IF(ioctl, ENOTTY, ARG_EQ(1, TCGETS)),
	/* getrlimit only: new_limit must be NULL */
	ALLOW_IF(prlimit64, ARG_EQ(2, 0)),
	ALLOW(uname), ALLOW(sysinfo),
};

/*
 * glibc's fstat() is newfstatat(fd, "", st, AT_EMPTY_PATH).  Requiring
 * the flag keeps stat(2) on paths out of the common cases; a non-empty
 * path with the flag still slips through (seccomp cannot read strings),
 * which Landlock does not cover either: it only leaks metadata.
 */
#define FSTAT_ONLY	ALLOW_IF(newfstatat, ARG_ALL(3, AT_EMPTY_PATH))

static const struct sb_rule sb_frontend_rules[] = {
	FSTAT_ONLY,
	ALLOW(accept), ALLOW(accept4),
	/*
	 * evhttp ends every HTTP connection with shutdown(SHUT_WR) before
	 * close.  SHUT_RD or SHUT_RDWR on a listening socket would put it
	 * in the closed state, ready to connect: not allowed.
	 */
	ALLOW_IF(shutdown, ARG_EQ(1, SHUT_WR)),
};

static const struct sb_rule sb_sshworker_rules[] = {
	FSTAT_ONLY,
	/*
	 * Local forwards: connections are accepted on listening sockets the
	 * parent bound and passed; accept gives no new reach, socket(),
	 * bind() and connect() stay forbidden.
	 */
	ALLOW(accept4),
	/*
	 * libssh's send(2): sendto without a destination.  With one, or
	 * with MSG_FASTOPEN, a socket in the closed state would connect.
	 */
	ALLOW_IF2(sendto, ARG_EQ(4, 0), ARG_NONE(3, MSG_FASTOPEN)),
	/*
	 * A forward passes the EOF of one side on as SHUT_WR.  SHUT_RD or
	 * SHUT_RDWR on a listening socket would put it in the closed
	 * state, ready to connect: not needed, not allowed.
	 */
	ALLOW_IF(shutdown, ARG_EQ(1, SHUT_WR)),
	/*
	 * A file tool's blocking section that outlives the call timeout and
	 * the keepalive limit: a one-shot timer, whose handler puts a dead
	 * pipe in the place of the connection's socket (ssh_rfile.c).  Both
	 * work on what the worker holds already.
	 */
	ALLOW(setitimer), ALLOW(dup3),
	/*
	 * libssh looks into ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts
	 * to order host key algorithms, whatever the options say.  Our host
	 * keys come from the parent: such opens fail softly, never succeed.
	 */
	DENY(openat, EACCES),
	DENY_IF(newfstatat, EACCES, ARG_NONE(3, AT_EMPTY_PATH)),
	DENY(faccessat, EACCES), DENY(faccessat2, EACCES),
#ifdef __NR_open
	DENY(open, EACCES), DENY(stat, EACCES), DENY(lstat, EACCES),
	DENY(access, EACCES),
#endif
};

/*
 * SQLite (WAL, journal, POSIX locks) and the text log with rotation.
 * Every path is opened, removed or renamed under Landlock's eye.  What
 * Landlock does not check is kept off the list where we can: O_PATH
 * opens (no open check at all), readlink, utimensat, access and
 * statfs on paths, getcwd (SQLite's own name resolution would need the
 * first few; logger_audit.c gives it names that need none).  stat(2)
 * of a path stays: SQLite needs it on its own files and seccomp cannot
 * tell those from others -- metadata of any path is still readable.
 * fstatfs of a descriptor it holds: the room on the audit disk, before
 * the WAL is sized (logger_audit.c).
 */
static const struct sb_rule sb_logger_rules[] = {
	ALLOW_IF(openat, ARG_NONE(2, O_PATH)),
	ALLOW(newfstatat),
	ALLOW(pread64), ALLOW(pwrite64), ALLOW(fsync), ALLOW(fdatasync),
	ALLOW(ftruncate), ALLOW(fallocate), ALLOW(fstatfs),
	/* the next blocks of the WAL and the text log into the page cache */
	ALLOW_IF(fadvise64, ARG_EQ(3, POSIX_FADV_WILLNEED)),
	ALLOW_IF(fcntl, ARG_EQ(1, F_GETLK)),
	ALLOW_IF(fcntl, ARG_EQ(1, F_SETLK)),
	ALLOW(unlinkat), ALLOW(renameat2),
	ALLOW(fchmod), ALLOW(fchown),
	/* SQLite's access(2) answers "no" rather than killing us */
	DENY(faccessat, EACCES), DENY(faccessat2, EACCES),
#ifdef __NR_renameat		/* not on aarch64 */
	ALLOW(renameat),
#endif
#ifdef __NR_open
	ALLOW_IF(open, ARG_NONE(1, O_PATH)),
	ALLOW(unlink), ALLOW(rename),
	DENY(access, EACCES),
#endif
};

/*
 * What a compromised child would reach for.  The default action already
 * kills these; listing them lets sandbox_check() refuse a policy that
 * allows one by mistake.
 */
static const int sb_forbid_all[] = {
	SCMP_SYS(execve), SCMP_SYS(execveat), SCMP_SYS(ptrace),
	SCMP_SYS(process_vm_readv), SCMP_SYS(process_vm_writev),
	SCMP_SYS(clone), SCMP_SYS(clone3), SCMP_SYS(socket),
	SCMP_SYS(connect), SCMP_SYS(bind), SCMP_SYS(listen),
	SCMP_SYS(bpf), SCMP_SYS(keyctl), SCMP_SYS(add_key),
	SCMP_SYS(request_key), SCMP_SYS(mount), SCMP_SYS(umount2),
	SCMP_SYS(chroot), SCMP_SYS(pivot_root), SCMP_SYS(unshare),
	SCMP_SYS(setns), SCMP_SYS(setuid), SCMP_SYS(setgid),
	SCMP_SYS(setreuid), SCMP_SYS(setregid), SCMP_SYS(setresuid),
	SCMP_SYS(setresgid), SCMP_SYS(setgroups), SCMP_SYS(setfsuid),
	SCMP_SYS(setfsgid), SCMP_SYS(capset), SCMP_SYS(personality),
	SCMP_SYS(userfaultfd), SCMP_SYS(perf_event_open), SCMP_SYS(kill),
	SCMP_SYS(prctl), SCMP_SYS(seccomp), SCMP_SYS(io_uring_setup),
	SCMP_SYS(init_module), SCMP_SYS(finit_module),
	SCMP_SYS(kexec_load), SCMP_SYS(memfd_create),
	SCMP_SYS(sendmmsg), SCMP_SYS(tkill), SCMP_SYS(rt_sigqueueinfo),
	SCMP_SYS(rt_tgsigqueueinfo), SCMP_SYS(pidfd_send_signal),
	SCMP_SYS(pidfd_open), SCMP_SYS(pidfd_getfd),
	/* what Landlock does not check on a path */
	SCMP_SYS(readlinkat), SCMP_SYS(utimensat), SCMP_SYS(fchmodat),
	SCMP_SYS(fchownat), SCMP_SYS(linkat), SCMP_SYS(symlinkat),
	SCMP_SYS(mknodat), SCMP_SYS(name_to_handle_at),
	SCMP_SYS(open_by_handle_at), SCMP_SYS(openat2), SCMP_SYS(statfs),
	SCMP_SYS(getcwd), SCMP_SYS(chdir), SCMP_SYS(fchdir),
	SCMP_SYS(setxattr), SCMP_SYS(lsetxattr), SCMP_SYS(fsetxattr),
	SCMP_SYS(getxattr), SCMP_SYS(lgetxattr), SCMP_SYS(listxattr),
	SCMP_SYS(llistxattr), SCMP_SYS(removexattr),
	SCMP_SYS(lremovexattr),
#ifdef __NR_fork
	SCMP_SYS(fork), SCMP_SYS(vfork),
#endif
#ifdef __NR_readlink
	SCMP_SYS(readlink), SCMP_SYS(utime), SCMP_SYS(utimes),
	SCMP_SYS(futimesat), SCMP_SYS(chmod), SCMP_SYS(chown),
	SCMP_SYS(lchown), SCMP_SYS(link), SCMP_SYS(symlink),
	SCMP_SYS(mknod), SCMP_SYS(stat), SCMP_SYS(lstat),
#endif
};

static const int sb_forbid_open[] = {
	SCMP_SYS(openat), SCMP_SYS(openat2), SCMP_SYS(open_by_handle_at),
#ifdef __NR_open
	SCMP_SYS(open), SCMP_SYS(creat),
#endif
};

void
sandbox_frontend(void)
{
	struct sb_policy	 p = {
		"frontend", sb_frontend_rules, nitems(sb_frontend_rules),
		sb_forbid_open, nitems(sb_forbid_open), 1, 0, { NULL, NULL }
	};

	sandbox_apply(&p);
}

void
sandbox_sshworker(void)
{
	struct sb_policy	 p = {
		"sshworker", sb_sshworker_rules, nitems(sb_sshworker_rules),
		/* Download writes to files the parent opened for it */
		sb_forbid_open, nitems(sb_forbid_open), 0, 0, { NULL, NULL }
	};

	sandbox_apply(&p);
}

void
sandbox_logger(const char *dir1, const char *dir2, const char *dir3)
{
	struct sb_policy	 p = {
		"logger", sb_logger_rules, nitems(sb_logger_rules),
		NULL, 0, 0,
		LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |
		LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
		LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_REFER |
		LANDLOCK_ACCESS_FS_TRUNCATE,
		{ dir1, dir2, dir3 }
	};

	sandbox_apply(&p);
}

static void
sandbox_apply(struct sb_policy *p)
{
	sb_procname = p->name;
	sandbox_check(p);
	sandbox_rlimits(p);
	/* required for an unprivileged Landlock or seccomp filter */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("%s: sandbox: prctl(PR_SET_NO_NEW_PRIVS)", p->name);
	sandbox_landlock(p);
	if (sandbox_test_landlock_only) {
		log_warnx("%s: sandbox: TEST ONLY: no seccomp filter",
		    p->name);
		return;
	}
	sandbox_seccomp(p);
	log_debug("%s: sandbox installed%s", p->name,
	    sandbox_debug ? " (debug: forbidden calls trap)" : "");
}

/*
 * RLIMIT_NPROC is checked against the count of processes of our real
 * uid, but only when this process (or its descendants) forks: setting
 * it to 0 here never affects the invoking user's other processes, so it
 * is safe whether we run as a dedicated user or as the developer.  The
 * kernel ignores it for root, and seccomp forbids clone anyway: it is
 * the second lock, not the first.
 */
static void
sandbox_rlimits(const struct sb_policy *p)
{
	struct rlimit	 zero = { 0, 0 };
	struct stat	 st;

	if (setrlimit(RLIMIT_CORE, &zero) == -1)
		fatal("%s: sandbox: setrlimit(RLIMIT_CORE)", p->name);
	if (setrlimit(RLIMIT_NPROC, &zero) == -1)
		fatal("%s: sandbox: setrlimit(RLIMIT_NPROC)", p->name);
	if (!p->nofiles)
		return;
	/*
	 * In the foreground stderr may be a regular file (bridged -d
	 * 2>file); FSIZE 0 would kill us with SIGXFSZ at the first log
	 * line.  Open is forbidden anyway, so nothing new can be written.
	 */
	if (fstat(STDERR_FILENO, &st) == 0 && S_ISREG(st.st_mode)) {
		log_debug("%s: sandbox: stderr is a file, RLIMIT_FSIZE kept",
		    p->name);
		return;
	}
	if (setrlimit(RLIMIT_FSIZE, &zero) == -1)
		fatal("%s: sandbox: setrlimit(RLIMIT_FSIZE)", p->name);
}

/*
 * Landlock, as far as this kernel's ABI goes; what it lacks is logged
 * once per child and left to seccomp:
 *	1	filesystem: no right outside p->dirs (none at all when empty)
 *	2	moving files between directories (REFER)
 *	3	truncate (TRUNCATE)
 *	4	TCP: no bind, no connect (no rules, so every port is refused)
 *	5	ioctl on devices (IOCTL_DEV)
 *	6	no signal to, no abstract UNIX socket of, any process outside
 *		our own domain (which covers F_SETOWN signals too)
 * Landlock sees neither stat(2), readlink(2), utimensat(2) nor O_PATH
 * opens; seccomp keeps those apart (sb_logger_rules).
 */
static void
sandbox_landlock(const struct sb_policy *p)
{
	struct sb_ruleset_attr			 attr;
	struct landlock_path_beneath_attr	 pb;
	uint64_t				 handled;
	long					 abi;
	int					 rfd, dfd;
	size_t					 i;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (abi == -1) {
		if (errno != ENOSYS && errno != EOPNOTSUPP)
			fatal("%s: sandbox: landlock ABI", p->name);
		log_warnx("%s: sandbox: kernel has no Landlock, %s", p->name,
		    p->fsaccess ? "filesystem reach is NOT confined" :
		    "relying on seccomp alone");
		return;
	}

	/* every filesystem right this kernel knows: unlisted = allowed */
	handled = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;
	if (abi >= 2)
		handled |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		handled |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		handled |= LANDLOCK_ACCESS_FS_IOCTL_DEV;

	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = handled;
	if (abi >= 4)
		attr.handled_access_net = LANDLOCK_ACCESS_NET_BIND_TCP |
		    LANDLOCK_ACCESS_NET_CONNECT_TCP;
	if (abi >= 6)
		attr.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET |
		    LANDLOCK_SCOPE_SIGNAL;
	rfd = syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (rfd == -1)
		fatal("%s: sandbox: landlock_create_ruleset", p->name);

	for (i = 0; i < nitems(p->dirs); i++) {
		if (p->dirs[i] == NULL)
			continue;
		if ((dfd = open(p->dirs[i], O_PATH | O_DIRECTORY |
		    O_CLOEXEC)) == -1)
			fatal("%s: sandbox: %s", p->name, p->dirs[i]);
		memset(&pb, 0, sizeof(pb));
		pb.allowed_access = p->fsaccess & handled;
		pb.parent_fd = dfd;
		if (syscall(SYS_landlock_add_rule, rfd,
		    LANDLOCK_RULE_PATH_BENEATH, &pb, 0) == -1)
			fatal("%s: sandbox: landlock_add_rule %s", p->name,
			    p->dirs[i]);
		close(dfd);
	}

	if (syscall(SYS_landlock_restrict_self, rfd, 0) == -1)
		fatal("%s: sandbox: landlock_restrict_self", p->name);
	close(rfd);

	if (abi < 4)
		log_info("%s: sandbox: Landlock ABI %ld: no TCP, signal or "
		    "abstract socket scoping (needs ABI 4 and 6); seccomp "
		    "alone keeps bind, connect and kill out", p->name, abi);
	else if (abi < 6)
		log_info("%s: sandbox: Landlock ABI %ld: no signal or "
		    "abstract socket scoping (needs ABI 6); seccomp alone "
		    "keeps kill and connect out", p->name, abi);
	else
		log_debug("%s: sandbox: Landlock ABI %ld: files, TCP, "
		    "signals and abstract sockets", p->name, abi);
}

static void
sandbox_seccomp(const struct sb_policy *p)
{
	scmp_filter_ctx		 ctx;
	const struct sb_rule	*tabs[2] = { sb_common, p->rules };
	size_t			 ntabs[2] = { nitems(sb_common), p->nrules };
	const struct sb_rule	*r;
	uint32_t		 act, deny, arch;
	size_t			 t, i;
	int			 rc;

	arch = seccomp_arch_native();
#if defined(__x86_64__)
	if (arch != SCMP_ARCH_X86_64)
#elif defined(__aarch64__)
	if (arch != SCMP_ARCH_AARCH64)
#else
	if (arch == 0)
#endif
		fatalx("%s: sandbox: unexpected native arch 0x%x", p->name,
		    arch);

	deny = SCMP_ACT_KILL_PROCESS;
	if (sandbox_debug) {
		sandbox_debug_init(p);
		deny = SCMP_ACT_TRAP;
	}
	if ((ctx = seccomp_init(deny)) == NULL)
		fatalx("%s: sandbox: seccomp_init failed", p->name);
	/* only the native arch: a foreign ABI (i386, x32) is an attack */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	    SCMP_ACT_KILL_PROCESS)) < 0)
		fatalx("%s: sandbox: seccomp badarch: %s", p->name,
		    strerror(-rc));

	for (t = 0; t < nitems(tabs); t++) {
		for (i = 0; i < ntabs[t]; i++) {
			r = &tabs[t][i];
			act = r->errnum ? SCMP_ACT_ERRNO(r->errnum) :
			    SCMP_ACT_ALLOW;
			if (r->argc > SB_MAXARGS)
				fatalx("%s: sandbox: syscall %d: %u argument "
				    "checks", p->name, r->nr, r->argc);
			rc = seccomp_rule_add_array(ctx, act, r->nr, r->argc,
			    r->argc ? r->cmp : NULL);
			if (rc < 0)
				fatalx("%s: sandbox: seccomp rule for "
				    "syscall %d: %s", p->name, r->nr,
				    strerror(-rc));
		}
	}
	/* raise(3)/abort(3) signal ourselves: our pid only, never others */
	rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
	    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
	if (rc < 0)
		fatalx("%s: sandbox: seccomp rule for tgkill: %s", p->name,
		    strerror(-rc));

	if ((rc = seccomp_load(ctx)) < 0)
		fatalx("%s: sandbox: seccomp_load: %s", p->name,
		    strerror(-rc));
	seccomp_release(ctx);
}

/* A forbidden syscall on the allow-list is a programming error. */
static void
sandbox_check(const struct sb_policy *p)
{
	size_t	 i;

	for (i = 0; i < nitems(sb_forbid_all); i++)
		if (sandbox_allowed(p, sb_forbid_all[i]))
			fatalx("%s: sandbox: syscall %d is both allowed and "
			    "forbidden", p->name, sb_forbid_all[i]);
	for (i = 0; i < p->nforbid; i++)
		if (sandbox_allowed(p, p->forbid[i]))
			fatalx("%s: sandbox: syscall %d is both allowed and "
			    "forbidden", p->name, p->forbid[i]);
}

static int
sandbox_allowed(const struct sb_policy *p, int nr)
{
	size_t	 i;

	if (nr < 0)		/* not on this arch */
		return 0;
	for (i = 0; i < nitems(sb_common); i++)
		if (sb_common[i].nr == nr && sb_common[i].errnum == 0)
			return 1;
	for (i = 0; i < p->nrules; i++)
		if (p->rules[i].nr == nr && p->rules[i].errnum == 0)
			return 1;
	return 0;
}

/*
 * The SIGSYS handler may not call into libseccomp (it allocates), so
 * every name is resolved now.  Debug mode only: it costs a few KB.
 */
static void
sandbox_debug_init(const struct sb_policy *p)
{
	struct sigaction	 sa;
	sigset_t		 set;
	int			 nr;

	for (nr = 0; nr < SB_MAXNR; nr++)
		if (sb_names[nr] == NULL)
			sb_names[nr] = seccomp_syscall_resolve_num_arch(
			    SCMP_ARCH_NATIVE, nr);

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sandbox_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) == -1)
		fatal("%s: sandbox: sigaction(SIGSYS)", p->name);
	sigemptyset(&set);
	sigaddset(&set, SIGSYS);
	if (sigprocmask(SIG_UNBLOCK, &set, NULL) == -1)
		fatal("%s: sandbox: sigprocmask", p->name);
}

/* async-signal-safe: builds the line by hand and write(2)s it */
static void
sandbox_sigsys(int sig, siginfo_t *si, void *uctx)
{
	char		 line[256], num[16];
	const char	*parts[6];
	size_t		 len = 0, n, i, k = sizeof(num);
	int		 nr = si->si_syscall;
	unsigned int	 u = nr < 0 ? 0 : (unsigned int)nr;

	num[--k] = '\0';
	do {
		num[--k] = '0' + u % 10;
		u /= 10;
	} while (u != 0 && k > 0);

	parts[0] = sb_procname;
	parts[1] = ": sandbox: forbidden syscall ";
	parts[2] = num + k;
	parts[3] = " (";
	parts[4] = nr >= 0 && nr < SB_MAXNR && sb_names[nr] != NULL ?
	    sb_names[nr] : "unknown";
	parts[5] = ")\n";
	for (i = 0; i < nitems(parts); i++) {
		n = strlen(parts[i]);
		if (n > sizeof(line) - len)
			n = sizeof(line) - len;
		memcpy(line + len, parts[i], n);
		len += n;
	}
	if (write(STDERR_FILENO, line, len) == -1)
		_exit(1);
	_exit(1);
}
