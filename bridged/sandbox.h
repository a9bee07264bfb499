/*
 * sandbox.h: one call per child process, made after privileges are
 * dropped and the event loop is set up, right before dispatching.
 * Each applies rlimits, no_new_privs, Landlock (as much as the kernel
 * has: files, TCP, signal and abstract socket scoping) and a seccomp
 * allow-list (mandatory); any failure is fatal.
 */

#ifndef SANDBOX_H
#define SANDBOX_H

/* no open, no socket/connect, no exec, no filesystem */
void	sandbox_frontend(void);
/* libssh over fds handed in by the parent: no socket/connect/exec, no fs */
void	sandbox_sshworker(void);
/* SQLite + text log: filesystem reach limited to these dirs (NULL: none) */
void	sandbox_logger(const char *, const char *, const char *);

/*
 * Set by the caller (e.g. from BRIDGED_SANDBOX_DEBUG=1): a forbidden
 * syscall prints its number and name on stderr and exits 1 instead of
 * the kernel killing the process silently.
 */
extern int	sandbox_debug;

/*
 * Unit tests only (nothing in bridged sets it): Landlock without the
 * seccomp filter, so that what Landlock alone refuses can be seen;
 * seccomp would kill the process first.
 */
extern int	sandbox_test_landlock_only;

#endif /* SANDBOX_H */
