/*
 * proc.h: the process table and what every child does before it reads
 * any input.
 */

#ifndef PROC_H
#define PROC_H

#include "bridged.h"
#include "imsg.h"

/* what the parent tells a child on its command line, before any input */
struct proc_args {
	int		 debug;
	int		 verbose;
	const char	*user;		/* NULL: stay who we are */
	const char	*chroot;	/* NULL: no chroot */
	const char	*host;		/* ssh worker: the host it serves */
	const char	*dirs[3];	/* logger: the only dirs it may touch */
};

struct proc {
	const char	*title;
	enum bridged_proc id;
};

extern struct proc	 procs[PROC_MAX];

struct proc	*proc_byname(const char *);
/*
 * A child re-executed by the parent, its options read: check it was
 * started as one, name it and run it.  Both programs use it: bridged
 * for the frontend and the logger, bridged-ssh for an ssh worker.
 */
void		 proc_child_run(struct proc *, struct proc_args *,
		    void (*)(struct proc_args *)) __attribute__((__noreturn__));
void		 proc_droppriv(struct proc_args *, const char *);
void		 proc_settitle(const char *);

/*
 * A child's plumbing (proc.c).  Each child keeps struct imsgev
 * *peers[PROC_MAX], NULL for a sibling it has no socket to.
 */
/* privileges dropped, signals routed, the parent's channel made */
struct imsgev	*proc_child_init(struct proc_args *, const char *,
		    void (*)(int, short, void *), void (*)(int, short, void *));
void		 proc_child_ready(struct imsgev *, const char *);
/* 0: the peer has gone; 1: go on with imsg_get */
int		 proc_peer_io(struct imsgev *, short);
/* the next message from a peer: 1, 0 when none is left; bad framing, or
 * a descriptor from one not allowed to send any, is fatal */
int		 proc_imsg_get(struct imsgev *, struct imsg *, const char *,
		    int);
/* IMSG_PEER_FD: handlers by sibling id, and what lets a logger go */
enum bridged_proc proc_peer_fd(struct imsg *, struct imsgev **,
		    void (*const [PROC_MAX])(int, short, void *),
		    void (*)(enum bridged_proc));
void		 proc_peer_free(struct imsgev **, enum bridged_proc);
int		 proc_compose(struct imsgev **, enum bridged_proc, uint32_t,
		    uint32_t, int, const void *, size_t);
void		 proc_verbose(struct imsg *);

/* the parent's directories and sockets (parent_sock.c); fatal on error */
void		 make_dir(const char *, uid_t, gid_t, mode_t);
void		 sockdir_check(const char *, const char *);
int		 bind_unix(const char *, mode_t, gid_t);

/* config sent to children over imsg (confimsg.c) */
/* secrets: the client tokens too (the frontend only) */
void		 config_send(struct imsgev *, struct bridged_conf *, int);
/* feed one IMSG_CONF_* message; returns the new config at CONF_END */
struct bridged_conf *config_recv(struct imsg *);

/* parent side of what the ssh worker may not do itself */
/*
 * parent_netconn.c: a non-blocking TCP connect with a timeout per address.  The
 * callback gets the connected fd (its own now), or -1, an errno and a
 * message; it may be called before netconn_start returns.
 */
#define NETCONN_ERRLEN	512
typedef void	(*netconn_cb)(void *, int, int, const char *);
void	netconn_start(const char *, uint16_t, int, netconn_cb, void *);
/* parent_connect.c: IMSG_SSH_CONNECT -> key data + a connected socket */
void	parent_ssh_connect(struct imsgev *, struct bridged_conf *,
	    struct imsg *);
/*
 * parent_jump.c: a host with "via J" is connected through a channel of
 * J's pool, with netconn_start's callback.  bridged.c tells it when J's
 * worker is there, gone (1 to send again what it had not answered; how
 * many wait is returned) or will not come; IMSG_JUMP_OPENED is J's
 * worker answering (size checked by the caller).
 */
void	jump_connect(struct bridged_conf *, struct host *, netconn_cb,
	    void *);
void	jump_worker_up(const char *, struct imsgev *);
int	jump_worker_gone(const char *, int, const char *);
void	jump_worker_fail(const char *, const char *);
void	parent_jump_opened(const char *, struct imsg *);
/*
 * bridged.c: the running worker of a host, for parent_jump.c; NULL with
 * err empty: it is being started (jump_worker_up follows), NULL with err
 * set: it will not come now.
 */
struct imsgev *parent_worker(const char *, char *, size_t);
/* parent_http.c: the HTTP listeners and the client tokens */
int	 http_tokens_load(struct bridged_conf *, char *, size_t);
void	 http_bind(struct bridged_conf *);
void	 http_send_listeners(struct imsgev *);
int	 http_reload(struct bridged_conf *, struct bridged_conf *);
/* parent_transfer.c: IMSG_SSH_OPENLOCAL -> a file under transfer root */
void	parent_transfer_open(struct imsgev *, struct bridged_conf *,
	    struct imsg *);
/* parent_fwd.c: IMSG_FWD_LISTEN / IMSG_FWD_CONNECT -> a socket */
void	parent_fwd_listen(struct imsgev *, struct bridged_conf *,
	    struct imsg *);
void	parent_fwd_connect(struct imsgev *, struct bridged_conf *,
	    struct imsg *);

/*
 * each child's main, in its own file: the first two in bridged, the
 * ssh worker's in bridged-ssh (ssh_main.c), the only program that links
 * libssh and with it libcrypto
 */
void	frontend_main(struct proc_args *);
void	logger_main(struct proc_args *);
void	sshworker_main(struct proc_args *);

#endif /* PROC_H */
