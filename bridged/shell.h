/*
 * shell.h: what the shell tools share: shell.c (persistent shells and
 * Bash), bgjob.c (background commands: BashOutput/TaskOutput and
 * KillShell/TaskStop) and killtree.c (kill commands).  The tools' entry
 * points are in ssh.h.
 */

#ifndef SHELL_H
#define SHELL_H

#define BASH_TIMEOUT_MAX	600000		/* ms */

/* shell.c: where the session's shell is on host; NULL: unknown */
const char *shell_cwd(uint32_t, struct sshhost *);

/* bgjob.c */
void	 bgjob_start(struct sshcall *, const char *);
void	 bgjob_session_end(uint32_t);
int	 bgjob_shutdown(void);
void	 bgjob_host_lost(struct sshhost *);

/* killtree.c: fire-and-forget kills on their own exec channels */
int	 kill_tree(struct sshhost *, long, int);
int	 kill_group(struct sshhost *, long, int);
void	 kill_host_lost(struct sshhost *);
int	 kill_pending(void);

#endif /* SHELL_H */
