/*
 * sandbox.c: confinement of the child processes.
 *
 * Each sandbox_*() applies, in this order: rlimits, no_new_privs,
 * Landlock (filesystem reach; best effort, older kernels lack it) and a
 * seccomp allow-list (mandatory).  Anything not on the list kills the
 * process; with sandbox_debug set it traps instead and names the call,
 * which is how a missing entry is found.
 */

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
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

/* Rights newer than the Debian 12 kernel headers. */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE	(1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV	(1ULL << 15)
#endif

/* One allow-list entry: a syscall, optionally constrained by one argument. */
struct sb_rule {
	int			 nr;
	int			 errnum;	/* 0 allow, else fail with it */
	unsigned int		 argc;
	struct scmp_arg_cmp	 cmp;
};

#define ALLOW(name)		{ SCMP_SYS(name), 0, 0, { 0, 0, 0, 0 } }
#define ALLOW_ARG(name, a, op, x, y)					\
	{ SCMP_SYS(name), 0, 1, { (a), (op), (x), (y) } }
#define DENY_ARG(name, e, a, op, x, y)					\
	{ SCMP_SYS(name), (e), 1, { (a), (op), (x), (y) } }
#define DENY(name, e)		{ SCMP_SYS(name), (e), 0, { 0, 0, 0, 0 } }

struct sb_policy {
	const char		*name;
	const struct sb_rule	*rules;
	size_t			 nrules;
	const int		*forbid;	/* beyond sb_forbid_all */
	size_t			 nforbid;
	int			 nofiles;	/* RLIMIT_FSIZE 0 */
	uint64_t		 fsaccess;	/* Landlock rights on dirs */
	const char		*dirs[2];
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
	ALLOW_ARG(mmap, 2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0),
	ALLOW_ARG(mprotect, 2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0),
	ALLOW(futex), ALLOW(clock_gettime), ALLOW(clock_nanosleep),
	ALLOW(nanosleep), ALLOW(gettimeofday),
	ALLOW(getpid), ALLOW(getppid), ALLOW(gettid), ALLOW(getrandom),
	ALLOW(getuid), ALLOW(geteuid), ALLOW(getgid), ALLOW(getegid),
	ALLOW(fcntl), ALLOW(fstat), ALLOW(lseek),
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
	ALLOW(sendmsg), ALLOW(recvmsg), ALLOW(sendto), ALLOW(recvfrom),
	ALLOW(shutdown), ALLOW(getsockopt), ALLOW(setsockopt),
	ALLOW(getsockname), ALLOW(getpeername),
	/* libevent's evbuffer_read sizes reads with FIONREAD */
	ALLOW_ARG(ioctl, 1, SCMP_CMP_EQ, FIONREAD, 0),
	ALLOW_ARG(ioctl, 1, SCMP_CMP_EQ, FIONBIO, 0),
	/* isatty(3) probes from stdio: harmless, answer "not a tty" */
	DENY_ARG(ioctl, ENOTTY, 1, SCMP_CMP_EQ, TCGETS, 0),
	/* getrlimit only: new_limit must be NULL */
	ALLOW_ARG(prlimit64, 2, SCMP_CMP_EQ, 0, 0),
	ALLOW(uname), ALLOW(sysinfo),
};

/*
 * glibc's fstat() is newfstatat(fd, "", st, AT_EMPTY_PATH).  Requiring
 * the flag keeps stat(2) on paths out of the common cases; a non-empty
 * path with the flag still slips through (seccomp cannot read strings),
 * which Landlock does not cover either: it only leaks metadata.
 */
#define FSTAT_ONLY							\
	ALLOW_ARG(newfstatat, 3, SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH,	\
	    AT_EMPTY_PATH)

static const struct sb_rule sb_frontend_rules[] = {
	FSTAT_ONLY,
	ALLOW(accept), ALLOW(accept4),
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
	 * libssh looks into ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts
	 * to order host key algorithms, whatever the options say.  Our host
	 * keys come from the parent: such opens fail softly, never succeed.
	 */
	DENY(openat, EACCES),
	DENY_ARG(newfstatat, EACCES, 3, SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, 0),
	DENY(faccessat, EACCES), DENY(faccessat2, EACCES),
#ifdef __NR_open
	DENY(open, EACCES), DENY(stat, EACCES), DENY(lstat, EACCES),
	DENY(access, EACCES),
#endif
};

/* SQLite (WAL, journal, locks) and the text log with rotation. */
static const struct sb_rule sb_logger_rules[] = {
	ALLOW(openat), ALLOW(newfstatat), ALLOW(statfs), ALLOW(fstatfs),
	ALLOW(pread64), ALLOW(pwrite64), ALLOW(fsync), ALLOW(fdatasync),
	ALLOW(ftruncate), ALLOW(fallocate), ALLOW(flock),
	ALLOW(unlinkat), ALLOW(renameat2), ALLOW(mkdirat),
	ALLOW(getcwd), ALLOW(readlinkat), ALLOW(faccessat), ALLOW(faccessat2),
	ALLOW(fchmod), ALLOW(fchown), ALLOW(utimensat),
#ifdef __NR_renameat		/* not on aarch64 */
	ALLOW(renameat),
#endif
#ifdef __NR_open
	ALLOW(open), ALLOW(stat), ALLOW(lstat), ALLOW(access),
	ALLOW(unlink), ALLOW(rename), ALLOW(mkdir), ALLOW(readlink),
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
#ifdef __NR_fork
	SCMP_SYS(fork), SCMP_SYS(vfork),
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
sandbox_logger(const char *dir1, const char *dir2)
{
	struct sb_policy	 p = {
		"logger", sb_logger_rules, nitems(sb_logger_rules),
		NULL, 0, 0,
		LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |
		LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
		LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_DIR |
		LANDLOCK_ACCESS_FS_REFER | LANDLOCK_ACCESS_FS_TRUNCATE,
		{ dir1, dir2 }
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

static void
sandbox_landlock(const struct sb_policy *p)
{
	struct landlock_ruleset_attr		 attr;
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
			rc = seccomp_rule_add_array(ctx, act, r->nr, r->argc,
			    r->argc ? &r->cmp : NULL);
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
