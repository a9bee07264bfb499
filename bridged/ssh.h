/*
 * ssh.h: the parts of the ssh worker and what they offer each other:
 * sshworker.c (the process), ssh_conn.c (connections), ssh_pool.c (their
 * channels; internals shared in ssh_pool.h), the shell tools
 * (ssh_shell.c, ssh_bgjob.c, ssh_killtree.c; see ssh_shell.h), the file tools (ssh_rfile.c,
 * ssh_fread.c, ssh_fedit.c, ssh_finfo.c, ssh_fsearch.c, ssh_ftransfer.c; see ssh_files.h) and
 * the small pieces every tool uses (text.c, shquote.c, ssh_toolarg.c).
 *
 * A remote tool call arrives from the frontend as a struct sshcall.  The
 * worker looks the tool up in its table (sshworker.c), makes sure the
 * host is connected (ssh_conn.c asks the parent for a connected socket
 * and the key material when it is not), then hands the call to the tool.
 * A tool that needs a channel gets it from the pool (sshconn_open, or
 * sshconn_forfiles for the file tools), which may have to wait for one.
 * The tool answers exactly once with sshcall_result() or sshcall_text();
 * answering frees the call.  A tool that works asynchronously sets
 * call->cancel so IMSG_SSH_CANCEL and the end of a session can stop it.
 *
 * Not a tool: ssh_jump.c opens, when the parent asks, direct-tcpip
 * channels of the pool (sshconn_open_tcpip) for the hosts reached "via"
 * this worker's host, and pumps them to descriptors the parent gave.
 */

#ifndef SSH_H
#define SSH_H

#include <sys/queue.h>

#include <limits.h>
#include <stdint.h>
#include <time.h>

#include <event.h>
#include <jansson.h>
#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include "bridged.h"
#include "imsg.h"
#include "text.h"

struct sshcall;
struct sshconn;
struct sshopen;
struct sshwaiter;

/*
 * A configured host and its pool of SSH connections (ssh_conn.c,
 * ssh_pool.c).  A channel goes on a connection with fewer than "max
 * sessions" open; when all are full another connection is made, up to
 * "max connections"; when that is reached too, whoever needs a channel
 * waits for one to be freed (host->roomq).
 */
struct sshhost {
	TAILQ_ENTRY(sshhost)	 entry;
	struct host_state	 st;		/* what show hosts reports */
	char			 name[HOST_NAME_LEN];
	struct host		*conf;		/* current config */
	TAILQ_HEAD(, sshconn)	 conns;		/* up or being made */
	TAILQ_HEAD(, sshcall)	 waiting;	/* calls waiting to connect */
	TAILQ_HEAD(, sshwaiter)	 roomq;		/* waiting for a channel */
	int			 lost;		/* was connected, then lost */
	int			 reconf;	/* remade after a config change */
	char			*known_hosts;	/* text from the parent */
	uint64_t		 gone_in;	/* bytes of closed connections */
	uint64_t		 gone_out;
	struct event		 ev_wake;	/* a channel was freed */
	struct event		 ev_grow;	/* retry a failed extra one */
	time_t			 grow_after;	/* no new connection before */
	char			 grow_err[256];	/* why the last one failed */
	/* ssh_publish.c's: the reverse forward of "publish port N" */
	int			 pub_state;	/* enum pub_state */
	uint32_t		 pub_tried;	/* connection it was tried on */
	time_t			 pub_retry;	/* no new connection before */
	int			 pub_backoff;	/* seconds, doubling */
	time_t			 pub_since;	/* of pub_state */
	char			 pub_error[256]; /* why it is not up */
};

/*
 * One SSH connection (ssh_conn.c makes and watches it, ssh_pool.c hands
 * out its channels).  A tool that holds a channel keeps the connection
 * it is on and gives the channel back with sshconn_chclose(); when the
 * connection dies, the *_conn_lost() handlers free what was on it, then
 * the struct goes: nobody keeps a pointer past that.
 */
struct sshconn {
	TAILQ_ENTRY(sshconn)	 entry;		/* host->conns */
	TAILQ_ENTRY(sshconn)	 aentry;	/* every connection */
	struct sshhost		*host;
	uint32_t		 id;		/* unique in the worker */
	int			 up;		/* authenticated, usable */
	int			 dying;		/* being torn down */
	ssh_session		 session;	/* NULL until up */
	sftp_session		 sftp;		/* opened on first use */
	int			 nsess;		/* session channels */
	int			 nchan;		/* every channel */
	int			 nfwd;		/* forwards living on it */
	/* ssh_pool.c's */
	int			 cap;		/* the server refused above... */
	time_t			 cap_until;	/* ... believed until */
	time_t			 lastuse;	/* a session channel changed */
	TAILQ_HEAD(, sshopen)	 opens;		/* channels being opened */
	struct event		 ev_poll;	/* look at them again */
	/* ssh_conn.c's */
	ssh_event		 sev;
	struct event		 ev;		/* socket readable */
	int			 ev_set;
	struct event		 evw;		/* output pending */
	int			 evw_set;
	char			*identity;	/* key text, until used */
	size_t			 identitylen;
	/* the handshake, not blocking the worker (conn_hs_step) */
	ssh_session		 hs;		/* until up */
	int			 hsstate;
	ssh_key			 hskey;		/* the identity, for the auth */
	struct event		 ev_hs;		/* its socket */
	int			 hsev_set;
	struct event		 ev_hstimer;	/* SSHCONN_TIMEOUT */
	int			 hstimer_set;
	char			*confsig;	/* what it was made with */
	struct ssh_counter_struct sockcount;
	struct ssh_counter_struct rawcount;
	uint64_t		 seen_in;	/* in_bytes at the last look */
	long long		 last_rx;	/* ms: something arrived */
	int			 ka_pending;	/* a keepalive may be unanswered */
};

struct sshcall {
	TAILQ_ENTRY(sshcall)	 entry;		/* free for the tools' lists */
	TAILQ_ENTRY(sshcall)	 rentry;	/* sshworker.c's, do not use */
	uint32_t		 reqid;		/* frontend's request id */
	uint32_t		 sessid;	/* MCP session */
	uid_t			 uid;		/* the principal */
	struct sshhost		*host;
	struct sshconn		*conn;		/* file tools: where they run */
	char			 tool[64];
	json_t			*args;
	int			 cancelled;
	uint32_t		 flags;		/* CALL_* from the frontend */
	char			 warning[512];	/* prepended to the result */
	struct timespec		 t0;		/* arrival */
	long long		 progress_ms;	/* last progress sent, 0 none */
	void			*state;		/* the tool's own */
	void			(*cancel)(struct sshcall *);
	void			(*run)(struct sshcall *);	/* the tool */
	struct sshwaiter	*wait;		/* ssh_pool.c's */
};

struct ssh_tool {
	const char	*name;
	void		(*run)(struct sshcall *);
};

/* sshworker.c */
extern struct bridged_conf	*ssh_conf;
void	 ssh_flush_frontend(void);
struct imsgev *ssh_peer_iev(enum bridged_proc);	/* NULL: none now */
int	 ssh_compose(enum bridged_proc, uint32_t, uint32_t, int,
	    const void *, size_t);
void	 sshcall_result(struct sshcall *, json_t *);	/* steals */
void	 sshcall_text(struct sshcall *, int, const char *, ...)
	    __attribute__((__format__ (printf, 3, 4)));
/* run a call now (its intent durable if it needed one) */
void	 sshcall_start(struct sshcall *, uint32_t);
size_t	 ssh_output_max(void);
size_t	 ssh_result_budget(void);	/* characters for a tool's text */
#define SSH_RESULT_RESERVE	1024	/* left for warnings around it */
#define SSH_PROGRESS_MS		1000	/* between two progress messages */
/* ssh_answer.c: what goes with an answer */
void	 ssh_result_nuls(json_t *);	/* NULs shown as \0, and said so */
void	 sshcall_progress(struct sshcall *, double, double, const char *);
void	 sshcall_tick(struct sshcall *, int, double, double, const char *, ...)
	    __attribute__((__format__ (printf, 5, 6)));
void	 sshcall_log(struct sshcall *, int, const char *, ...)
	    __attribute__((__format__ (printf, 3, 4)));
#define SSH_LOG_MAX		4096	/* bytes of a log message */
uint32_t ssh_newid(uint32_t *);		/* delegation and forward ids */
struct sshhost *ssh_host_byid(uint32_t);

/* ssh_hold.c: calls that wait for the logger's word on their intent */
int	 hold_add(struct sshcall *, uint32_t, uint64_t);
void	 hold_durable(struct imsg *);		/* IMSG_LOG_DURABLE */
void	 hold_release(uint32_t);		/* IMSG_SSH_DROP */
int	 hold_cancel(uint32_t);
void	 hold_frontend_gone(void);
void	 hold_logger_gone(void);
void	 hold_expire(void);
size_t	 hold_count(void);

/* ssh_conn.c: connections, host keys, authentication, keepalive, loss */
void	 sshconn_init(void);
void	 sshconn_hostinit(struct sshhost *);
/* run the call now if the host has a connection, else connect first */
void	 sshconn_dispatch(struct sshcall *, void (*)(struct sshcall *));
void	 sshconn_connected(struct imsg *);	/* IMSG_SSH_CONNECTED */
void	 sshconn_keydata(struct imsg *);	/* IMSG_SSH_KEYDATA */
/* an operation failed: 1 when the connection is gone (and freed) */
int	 sshconn_check(struct sshconn *);
void	 sshconn_refresh(struct sshhost *);	/* counts in st */
void	 sshconn_hostgone(struct sshhost *);	/* removed by reload */
struct sshconn *sshconn_any(struct sshhost *);	/* one that is up */
struct sshconn *sshconn_byid(uint32_t);
/* libssh's error text, or fallback when it has none */
const char *sshconn_error(ssh_session, const char *);
int	 sshconn_silence_secs(void);
/* ssh_conn.c for ssh_handshake.c */
void	 sshconn_ready(struct sshconn *, ssh_session);
void	 sshconn_failed(struct sshconn *, const char *);
void	 sshconn_disconnect(ssh_session);
void	 sshconn_wipe(struct sshconn *);
/* ssh_handshake.c */
int	 sshconn_handshake(struct sshconn *, int, char *, size_t);
void	 sshconn_hs_abort(struct sshconn *);
/* ssh_hostkey.c: strict checking; the fingerprint as ssh-keygen -l */
int	 hostkey_verify(struct sshhost *, ssh_session, char *, size_t);
char	*key_fingerprint(ssh_key);
void	 sshconn_want_write(struct sshconn *);	/* output pending */
void	 sshconn_settle(struct sshconn *);	/* before a global request */
/* libssh calls that must not wait: returns the mode to put back */
int	 sshconn_nb_begin(ssh_session);
ssize_t	 sshconn_chan_flush(ssh_channel, struct evbuffer *, size_t);
void	 sshconn_nb_end(ssh_session, int);

/*
 * ssh_pool.c: channels.  sshconn_open() opens an exec channel without
 * blocking: on a connection with room (prefer one, when it has), after
 * waiting for room when there is none, on another connection when the
 * server refuses; cb is installed on the channel from the start.  done
 * runs once, from the event loop, with the channel or with NULL and why;
 * it does not run after sshconn_open_cancel().  ms bounds the whole
 * (0: until cancelled); urgent ones (kills) go first in the queue.
 */
struct ssh_channel_callbacks_struct;
typedef void (*sshopen_done)(void *, ssh_channel, struct sshconn *,
	    const char *);
struct sshopen *sshconn_open(struct sshhost *, struct sshconn *,
	    const char *, struct ssh_channel_callbacks_struct *, int, int,
	    sshopen_done, void *);
/* the same for a direct-tcpip channel to addr:port (ssh_jump.c) */
struct sshopen *sshconn_open_tcpip(struct sshhost *, const char *,
	    uint16_t, struct ssh_channel_callbacks_struct *, int,
	    sshopen_done, void *);
void	 sshconn_open_cancel(struct sshopen *);
/* why it has not opened yet, for a timeout message */
const char *sshconn_open_why(struct sshopen *, char *, size_t);
/* done with a channel: callbacks off, freed, its place given back */
void	 sshconn_chclose(struct sshconn *, ssh_channel,
	    struct ssh_channel_callbacks_struct *, int);
void	 sshconn_chadd(struct sshconn *);	/* a forwarded channel */
/*
 * The file tools, which block: a connection for call's SFTP (NULL: the
 * call waits for room and runs again, or it was answered), the SFTP
 * session on it, and a blocking exec channel on it or another one with
 * room (*on says which; NULL with the reason in err).
 */
struct sshconn *sshconn_forfiles(struct sshcall *);
sftp_session sshconn_sftp(struct sshconn *, char *, size_t);
ssh_channel sshconn_exec(struct sshconn *, const char *, struct sshconn **,
	    char *, size_t);
ssh_channel sshconn_subsys(struct sshconn *, const char *, char *, size_t);
/* ms left of call's time limit (limits { call timeout }) */
int	 sshcall_ms_left(struct sshcall *);

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
/* a connection died (NULL: the host is gone): what was on it goes */
void	 shell_conn_lost(struct sshhost *, struct sshconn *);

/* ssh_bgjob.c: ids of a restarted worker go on from its predecessor's */
void	 bgjob_seq_floor(uint32_t);	/* IMSG_SSH_JOBSEQ */
/* ssh_jobnote.c: a background job began or ended, for the frontend */
struct ssh_jobnote;
void	 jobnote_send(const struct ssh_jobnote *, const char *);

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
void	 delegate_conn_lost(struct sshhost *, struct sshconn *);
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
void	 fchan_conn_lost(struct sshhost *, struct sshconn *);
void	 files_read_hostgone(struct sshhost *);	/* Reads still queued */
void	 aexec_conn_lost(struct sshhost *, struct sshconn *);
/* ssh_ftemp.c: a shared SFTP session whose server ended is freed */
void	 files_sftp_gone(struct sshhost *, sftp_session);

/* ssh_policy.c: policy.c again on arrival, paths resolved on the host;
 * 0: go on, -1: refused and answered */
int	 sshpolicy_call(struct sshcall *);
int	 sshpolicy_resolve(struct sshcall *);
/* protect exec, the last look before a write: 0, or -1 with err (ERRSZ) */
int	 sshpolicy_write_ok(struct sshcall *, sftp_session, const char *,
	    char *);
/* sshworker.c: for a unit test, serve a frontend on fd with a config */
void	 sshworker_test_serve(int, struct bridged_conf *);
void	 sshworker_test_logger(int);

/* ssh_fwd.c: forward_open, forward_list, forward_close; bridgectl;
 * ssh_fwdconn.c: the connections (forward_connected, forward_poll) */
void	 forward_open(struct sshcall *);
void	 forward_list(struct sshcall *);
void	 forward_close(struct sshcall *);
int	 forward_noconnect(const char *);	/* needs no connection */
void	 forward_listenfd(struct imsg *);	/* IMSG_FWD_LISTENFD */
void	 forward_connected(struct imsg *);	/* IMSG_FWD_CONNECTED */
void	 forward_poll(struct sshconn *);	/* packets were processed */
void	 forward_session_end(uint32_t);
void	 forward_conn_lost(struct sshhost *, struct sshconn *);
void	 forward_ctl_list(uint32_t, struct sshhost *);
void	 forward_ctl_close(uint32_t, struct imsg *);

/*
 * ssh_publish.c: "publish port N" (bridged.conf(5)), a reverse forward
 * held whenever the host's connection is up, leading to a listener.
 */
enum pub_state {
	PUB_NONE = 0,		/* nothing published */
	PUB_DOWN,		/* no connection (yet, or any more) */
	PUB_UP,
	PUB_ERROR,		/* the host refused it; pub_error says why */
};
void	 publish_tick(struct sshhost *);	/* make, check, re-make */
int	 publish_wanted(struct sshhost *);	/* keeps the worker */
json_t	*publish_ctl_json(struct sshhost *);	/* show forwards, not up */

/* ssh_jump.c: "via": direct-tcpip channels of our host's pool that carry
 * another host's connection, pumped to the descriptor the parent gave */
void	 jump_open(struct imsg *);		/* IMSG_JUMP_OPEN */
void	 jump_poll(struct sshconn *);		/* packets were processed */
/* a connection died (NULL: the host is gone): its tunnels end */
void	 jump_conn_lost(struct sshhost *, struct sshconn *);
int	 jump_busy(void);			/* tunnels open or opening */

#endif /* SSH_H */
