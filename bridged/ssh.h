/*
 * ssh.h: the parts of the ssh worker and what they offer each other:
 * sshworker.c (the process), ssh_conn.c (connections), the shell tools
 * (ssh_shell.c, ssh_bgjob.c, ssh_killtree.c; see ssh_shell.h), the file tools (ssh_rfile.c,
 * ssh_fread.c, ssh_fedit.c, ssh_finfo.c, ssh_fsearch.c, ssh_ftransfer.c; see ssh_files.h) and
 * the small pieces every tool uses (text.c, shquote.c, ssh_toolarg.c).
 *
 * A remote tool call arrives from the frontend as a struct sshcall.  The
 * worker looks the tool up in its table (sshworker.c), makes sure the
 * host is connected (ssh_conn.c asks the parent for a connected socket
 * and the key material when it is not), then hands the call to the tool.
 * The tool answers exactly once with sshcall_result() or sshcall_text();
 * answering frees the call.  A tool that works asynchronously sets
 * call->cancel so IMSG_SSH_CANCEL and the end of a session can stop it.
 */

#ifndef SSH_H
#define SSH_H

#include <sys/queue.h>

#include <limits.h>
#include <stdint.h>

#include <event.h>
#include <jansson.h>
#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include "bridged.h"
#include "imsg.h"
#include "text.h"

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
struct sshhost *ssh_host_byid(uint32_t);
struct sshhost *ssh_host_byname(const char *);

/* ssh_conn.c: connections, host keys, authentication, keepalive */
void	 sshconn_init(void);
/* run the call now if connected, else connect first; 0 ok, -1 answered */
void	 sshconn_dispatch(struct sshcall *, void (*)(struct sshcall *));
void	 sshconn_connected(struct imsg *);	/* IMSG_SSH_CONNECTED */
void	 sshconn_keydata(struct imsg *);	/* IMSG_SSH_KEYDATA */
/* an operation on the session failed: is the connection gone? */
int	 sshconn_check(struct sshhost *);
sftp_session sshconn_sftp(struct sshhost *, char *, size_t);
void	 sshconn_refresh(struct sshhost *);	/* byte counts in st */
/* an exec channel running cmd; NULL with the reason in err when not */
ssh_channel sshconn_exec(struct sshhost *, const char *, char *, size_t);
void	 sshconn_hostgone(struct sshhost *);	/* removed by reload */
/* for ssh_jump.c: connect a jump host; the event its session is in;
 * a tunnelled host leaves the jump host's event */
void	 sshconn_connect(struct sshhost *);
ssh_event sshconn_event(struct sshhost *);
void	 sshconn_detach(const char *);

/* ssh_toolarg.c: tool arguments; 0 ok, -1 with a message in err */
#define ERRSZ		(PATH_MAX + 512)
int	 args_object(struct sshcall *);		/* 0: not an object, answered */
int	 arg_str(json_t *, const char *, int, const char **, char *);
int	 arg_int(json_t *, const char *, long long, long long, long long,
	    long long *, char *);
int	 arg_bool(json_t *, const char *, int, int *, char *);
int	 arg_path(struct sshcall *, json_t *, const char *, int, char *,
	    char *);
int	 arg_ms(json_t *, const char *, int, int, int *, char *);
const char *arg_optstr(json_t *, const char *, int *);

/* ssh_shell.c: Bash; ssh_bgjob.c: BashOutput/TaskOutput, KillShell/TaskStop */
void	 shell_bash(struct sshcall *);
void	 shell_output(struct sshcall *);
void	 shell_kill(struct sshcall *);
void	 shell_session_end(uint32_t);
int	 shell_shutdown(void);		/* SIGTERM: kill remote work */
int	 shell_kills_pending(void);	/* kill commands still running */
void	 shell_host_lost(struct sshhost *);	/* connection died */

/* ssh_deleg.c: ask_claude; ssh_delegjob.c: the job_* tools (jobs outlive
 * sessions) and bridgectl; see ssh_deleg.h */
void	 delegate_ask(struct sshcall *);
void	 delegate_job_status(struct sshcall *);
void	 delegate_job_wait(struct sshcall *);
void	 delegate_job_cancel(struct sshcall *);
void	 delegate_job_list(struct sshcall *);
int	 delegate_hostless(const char *);	/* runs with host NULL */
void	 delegate_ctl_list(uint32_t, int);	/* IMSG_SSH_DELEGATIONS */
void	 delegate_ctl_kill(uint32_t, uint32_t);	/* IMSG_SSH_DELEG_KILL */
void	 delegate_host_lost(struct sshhost *);	/* connection died */
int	 delegate_shutdown(void);		/* SIGTERM: kill them all */
/* ssh_delegdb.c: the logger's answers, and the logger going and coming */
struct imsg;
void	 delegdb_dispatch(struct imsg *);	/* IMSG_LOG_DATA, _END */
void	 delegdb_logger_gone(void);
void	 delegdb_logger_up(void);

/* the file tools: ssh_fread.c Read, MultiRead; ssh_fedit.c Write, Edit,
 * MultiEdit; ssh_finfo.c FileStat, ListDir; ssh_fsearch.c Glob, Grep;
 * ssh_ftransfer.c Upload, Download */
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

/* ssh_policy.c: policy.c again on arrival, paths resolved on the host;
 * 0: go on, -1: refused and answered */
int	 sshpolicy_call(struct sshcall *);
int	 sshpolicy_resolve(struct sshcall *);
/* sshworker.c: for a unit test, serve a frontend on fd with a config */
void	 sshworker_test_serve(int, struct bridged_conf *);

/* ssh_fwd.c: forward_open, forward_list, forward_close; bridgectl;
 * ssh_fwdconn.c: the connections (forward_connected, forward_poll) */
void	 forward_open(struct sshcall *);
void	 forward_list(struct sshcall *);
void	 forward_close(struct sshcall *);
int	 forward_noconnect(const char *);	/* needs no connection */
void	 forward_listenfd(struct imsg *);	/* IMSG_FWD_LISTENFD */
void	 forward_connected(struct imsg *);	/* IMSG_FWD_CONNECTED */
void	 forward_poll(struct sshhost *);	/* packets were processed */
void	 forward_session_end(uint32_t);
void	 forward_host_lost(struct sshhost *);
void	 forward_ctl_list(uint32_t);
void	 forward_ctl_close(uint32_t, struct imsg *);
/* ssh_conn.c: libssh holds output the socket did not take yet */
void	 sshconn_want_write(struct sshhost *);

/* ssh_jump.c: "via": direct-tcpip channels on this worker's hosts that
 * carry another host's connection, pumped to the parent's socketpair */
void	 jump_open(struct imsg *);		/* IMSG_JUMP_OPEN */
void	 jump_host_up(struct sshhost *);	/* connected: open them */
void	 jump_host_down(struct sshhost *, const char *); /* failed, lost */
void	 jump_poll(struct sshhost *);		/* packets were processed */

#endif /* SSH_H */
