/*
 * ssh_shell.h: what the shell tools share: ssh_shell.c (persistent shells and
 * Bash), ssh_bgjob.c (background commands: BashOutput/TaskOutput and
 * KillShell/TaskStop) and ssh_killtree.c (kill commands).  The tools' entry
 * points are in ssh.h.
 */

#ifndef SHELL_H
#define SHELL_H

#include <event.h>
#include <libssh/callbacks.h>

struct sbuf;

#define BASH_TIMEOUT_MAX	600000		/* ms */

/*
 * ssh_killtree.c: a one-shot command on its own exec channel, stdin closed.
 * What it prints goes to out (NUL-terminated, the rest dropped), or
 * nowhere when out is NULL; done(arg) runs from the event loop once the
 * channel has closed, or once it could not be had (failed, err says
 * why).  Kills go first when channels are scarce (ssh_pool.c).
 * oneshot_stop frees the channel, never os.
 */
struct oneshot {
	struct sshhost		*host;
	struct sshconn		*conn;		/* where ch is */
	struct sshopen		*opening;
	int			 failed;
	char			 err[256];
	ssh_channel		 ch;
	struct ssh_channel_callbacks_struct cb;
	char			*out;
	size_t			 outsize;
	size_t			 outlen;
	struct event		 ev_done;
	void			(*done)(void *);
	void			*arg;
};
int	 oneshot_start(struct oneshot *, struct sshhost *, const char *,
	    char *, size_t, void (*)(void *), void *, char *, size_t);
void	 oneshot_stop(struct oneshot *);

/* ssh_shell.c: where the session's shell is on host; NULL: unknown */
const char *shell_cwd(uint32_t, struct sshhost *);

/* ssh_bgjob.c */
void	 bgjob_start(struct sshcall *, const char *);
void	 bgjob_session_end(uint32_t);
int	 bgjob_shutdown(void);
void	 bgjob_conn_lost(struct sshhost *, struct sshconn *);

/*
 * ssh_killtree.c: the watchdog, a few words of sh put in front of every
 * command that runs work on the host (persistent shells, background
 * commands, delegations, the file tools' one-shot commands).  It is the
 * last reader of the channel's stdin, which the worker never closes: its
 * EOF comes when the channel closes, when sshd goes (the connection or
 * the worker died) and when the session's first process exits.  It then
 * kills the session's process group.  feed, when not NULL, is what it
 * first passes on from stdin to the command (watchdog_pipe); without
 * one the command's stdin is /dev/null (watchdog_exec).
 */
void	 watchdog_exec(struct sbuf *);
void	 watchdog_pipe(struct sbuf *, const char *);

/* ssh_killtree.c: fire-and-forget kills on their own exec channels */
int	 kill_tree(struct sshhost *, long, int);
int	 kill_command(struct sshhost *, const char *);
int	 kill_group(struct sshhost *, long, int);
void	 kill_conn_lost(struct sshhost *, struct sshconn *);
int	 kill_pending(void);

#endif /* SHELL_H */
