/*
 * ssh.h: the parts of the ssh worker (sshworker.c, sshconn.c, shell.c,
 * files.c) and what they offer each other.
 *
 * A remote tool call arrives from the frontend as a struct sshcall.  The
 * worker looks the tool up in its table (sshworker.c), makes sure the
 * host is connected (sshconn.c asks the parent for a connected socket
 * and the key material when it is not), then hands the call to the tool.
 * The tool answers exactly once with sshcall_result() or sshcall_text();
 * answering frees the call.  A tool that works asynchronously sets
 * call->cancel so IMSG_SSH_CANCEL and the end of a session can stop it.
 */

#ifndef SSH_H
#define SSH_H

#include <sys/queue.h>

#include <stdint.h>

#include <event.h>
#include <jansson.h>
#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include "bridged.h"
#include "imsg.h"

struct sshcall;

struct sshhost {
	TAILQ_ENTRY(sshhost)	 entry;
	struct host_state	 st;		/* what show hosts reports */
	char			 name[HOST_NAME_LEN];
	struct host		*conf;		/* current config */
	ssh_session		 session;	/* NULL: not connected */
	sftp_session		 sftp;		/* opened on first use */
	struct event		 ev;		/* session socket readable */
	int			 ev_set;
	int			 connecting;	/* waiting for the parent */
	int			 lost;		/* was connected, then lost */
	TAILQ_HEAD(, sshcall)	 waiting;	/* calls waiting to connect */
	char			*known_hosts;	/* text from the parent */
};

struct sshcall {
	TAILQ_ENTRY(sshcall)	 entry;		/* free for the tools' lists */
	TAILQ_ENTRY(sshcall)	 rentry;	/* sshworker.c's, do not use */
	uint32_t		 reqid;		/* frontend's request id */
	uint32_t		 sessid;	/* MCP session */
	struct sshhost		*host;
	char			 tool[64];
	json_t			*args;
	int			 cancelled;
	char			 warning[512];	/* prepended to the result */
	void			*state;		/* the tool's own */
	void			(*cancel)(struct sshcall *);
};

struct ssh_tool {
	const char	*name;
	void		(*run)(struct sshcall *);
};

/* sshworker.c */
extern struct bridged_conf	*ssh_conf;
int	 ssh_compose(enum bridged_proc, uint32_t, uint32_t, int,
	    const void *, size_t);
void	 sshcall_result(struct sshcall *, json_t *);	/* steals */
void	 sshcall_text(struct sshcall *, int, const char *, ...)
	    __attribute__((__format__ (printf, 3, 4)));
void	 sshcall_progress(struct sshcall *, double, double, const char *);
size_t	 ssh_output_max(void);

/* sshconn.c: connections, host keys, authentication, keepalive */
void	 sshconn_init(void);
/* run the call now if connected, else connect first; 0 ok, -1 answered */
void	 sshconn_dispatch(struct sshcall *, void (*)(struct sshcall *));
void	 sshconn_connected(struct imsg *);	/* IMSG_SSH_CONNECTED */
void	 sshconn_keydata(struct imsg *);	/* IMSG_SSH_KEYDATA */
/* an operation on the session failed: is the connection gone? */
int	 sshconn_check(struct sshhost *);
sftp_session sshconn_sftp(struct sshhost *, char *, size_t);
void	 sshconn_hostgone(struct sshhost *);	/* removed by reload */

/* shell.c: Bash, BashOutput/TaskOutput, KillShell/TaskStop */
void	 shell_bash(struct sshcall *);
void	 shell_output(struct sshcall *);
void	 shell_kill(struct sshcall *);
void	 shell_session_end(uint32_t);
void	 shell_host_lost(struct sshhost *);	/* connection died */

/* files.c: Read, Write, Edit, MultiEdit, MultiRead, FileStat, ListDir,
 * Glob, Grep, Upload, Download */
void	 files_read(struct sshcall *);
void	 files_multiread(struct sshcall *);
void	 files_write(struct sshcall *);
void	 files_edit(struct sshcall *);
void	 files_multiedit(struct sshcall *);
void	 files_stat(struct sshcall *);
void	 files_listdir(struct sshcall *);
void	 files_glob(struct sshcall *);
void	 files_grep(struct sshcall *);
void	 files_upload(struct sshcall *);
void	 files_download(struct sshcall *);
void	 files_localfd(struct imsg *);		/* IMSG_SSH_LOCALFD */

#endif /* SSH_H */
