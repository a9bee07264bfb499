/*
 * ssh_files.h: what the file tools (ssh_fread.c, ssh_fedit.c, ssh_finfo.c,
 * ssh_fsearch.c, ssh_fglob.c, ssh_ftransfer.c and the channels of their
 * own) share; ssh_rfile.c has it.  The tools' entry points are in ssh.h.
 */

#ifndef FILES_H
#define FILES_H

#define SFTP_CHUNK		(32 * 1024)
#define XFER_CHUNK		(64 * 1024)
/* Download's reads (ssh_ftransfer.c says why these) */
#define XFER_REQS	32
#define XFER_REQLEN	(64 * 1024)
#define XFER_REQMIN	(4 * 1024)
#define XFER_INFLIGHT	(2 * 1024 * 1024)
#define XFER_WLEN	(252 * 1024)

/* what an exec channel gave back */
struct rexec {
	struct sbuf	 out;
	struct sbuf	 err;
	int		 status;	/* -1: unknown */
	char		 signal[32];	/* what killed it, as the host said */
	int		 timedout;
	int		 truncated;	/* out reached its cap */
	int		 linecap;	/* stopped at maxlines lines */
	size_t		 maxlines;	/* 0: no limit */
	size_t		 nlines;
	uint64_t	 bytes;
};

/* set when an SFTP error looks like the connection went away */
extern int	 files_lost;

/* running a tool: check, go blocking, run fn (which answers), restore */
void	 files_run(struct sshcall *, void (*)(struct sshcall *));
int	 files_resume(struct sshcall *, uint32_t, int *);
void	 files_resume_end(uint32_t, int);	/* connection id, mode */
void	 files_close_later(sftp_file);
void	 files_forget(sftp_file);	/* its SFTP session went */
int	 files_block(ssh_session);
void	 files_unblock(uint32_t, int);	/* connection id, mode */
void	 files_mode(uint32_t, int);
void	 files_checklost(uint32_t);
const char *files_stuck_why(ssh_session);
void	 files_stuck_clear(void);
int	 files_seconds(void);

/* answers: text made valid UTF-8 and cut at the output cap */
json_t	*files_result(const char *, size_t, int);
void	 files_reply(struct sshcall *, int, struct sbuf *, const char *);
void	 files_fail(struct sshcall *, const char *);

/* SFTP */
sftp_session files_sftp(struct sshcall *, char *);
const char *fx_str(sftp_session);
const char *fx_code_str(int);
void	 fx_err(char *, sftp_session, const char *, const char *);
int	 fx_missing(sftp_session);
uint64_t attr_mtime(sftp_attributes);
int	 attr_type(sftp_attributes);
int	 files_readall(sftp_file, struct sbuf *, size_t, char *);

/*
 * Requests (SSH_FXP_REALPATH, _LSTAT, _STAT, _READLINK, _OPEN for
 * reading, _READ, _CLOSE) sent together, their answers read back in any
 * order (ssh_sftpq.c): one round trip for all
 */
struct sftpq {
	int		 type;		/* SSH_FXP_REALPATH, _LSTAT, ... */
	const char	*path;		/* all but READ and CLOSE */
	const unsigned char *handle;	/* READ's and CLOSE's */
	uint32_t	 hlen;
	uint64_t	 off;		/* READ's */
	uint32_t	 len;
	uint32_t	 id;
	int		 done;
	int		 ok;		/* else status says why not */
	uint32_t	 status;
	char		 name[PATH_MAX];	/* REALPATH's, READLINK's */
	int		 hassize;	/* LSTAT's and STAT's */
	uint64_t	 size;
	int		 hasperm;
	uint32_t	 perm;
	int		 hasuid;
	uint32_t	 uid, gid;
	int		 hastime;
	uint32_t	 mtime;
	unsigned char	 hout[256];	/* OPEN's answer */
	uint32_t	 houtlen;
	unsigned char	*data;		/* READ's (sftpq_free) */
	size_t		 dlen;
};
int	 sftpq_run(sftp_session, struct sftpq *, int, char *);
void	 sftpq_free(struct sftpq *, int);
int	 sftpq_rename(sftp_session, const char *, const char *, char *);

/* SFTP's wire format read with bounds (ssh_sftpq.c) */
struct sftprd {
	const unsigned char	*p;
	size_t			 left;
};
struct sftpattr {
	int		 hassize;
	uint64_t	 size;
	int		 hasuid;
	uint32_t	 uid, gid;
	int		 hasperm;
	uint32_t	 perm;
	int		 hastime;
	uint32_t	 mtime;
};
int	 sftprd_u32(struct sftprd *, uint32_t *);
int	 sftprd_u64(struct sftprd *, uint64_t *);
int	 sftprd_str(struct sftprd *, const unsigned char **, uint32_t *);
int	 sftprd_attrs(struct sftprd *, struct sftpattr *);

/* ssh_fchan.c: SFTP's big-endian numbers */
void	 sftp_put32(unsigned char **, uint32_t);
uint32_t sftp_get32(const unsigned char *);

/*
 * Download and Upload on a channel of their own (ssh_fdown.c, ssh_fup.c),
 * called in xfer_run()'s blocking section: 0 it has the call and the
 * local descriptor and answers; -1 there is no room for the channel, and
 * the caller copies as before.
 */
int	 fdown_start(struct sshcall *, struct sshconn *, int, const char *,
	    const char *, uint64_t);
typedef void (*fdown_done)(struct sshcall *, struct sbuf *, const char *,
	    void *);
int	 fdown_start_mem(struct sshcall *, struct sshconn *, const char *,
	    uint64_t, size_t, fdown_done, void *);
int	 fup_start(struct sshcall *, struct sshconn *, int, sftp_file,
	    const char *, const char *, const char *, int, int, uint64_t);

/*
 * A Write or an Edit of this many bytes or more is written on a channel
 * of its own too (write_atomic, ssh_fup.c): what it writes, the owner
 * and mode to give (mode -1: as made), its answer.
 */
#define FU_MEM_MIN	(256 * 1024)
struct fupmem {
	const char	*data;
	size_t		 len;
	int		 mode;
	int		 chown;
	uint32_t	 uid, gid;
	const char	*ok;
};
int	 fup_start_mem(struct sshcall *, struct sshconn *, sftp_file,
	    const char *, const char *, const struct fupmem *);

/*
 * Glob (ssh_fsearch.c): the pattern, its matches, and the walk over the
 * tree, on an SFTP channel of its own from the event loop (ssh_fglob.c)
 * or, where there is no room for one, in the blocking section.
 */
#define GLOB_PATS	64	/* after brace expansion */
#define GLOB_COMPS	64
#define GLOB_STATES	(GLOB_PATS * (GLOB_COMPS + 1))
#define GLOB_SECONDS	30
#define GLOB_VISIT_MAX	200000
#define GLOB_DEPTH	64
/* why a walk stopped early */
#define GLOB_STOP_ENTRIES	1
#define GLOB_STOP_DEPTH		2
#define GLOB_STOP_TIME		3

struct gstate {
	uint16_t	 p;		/* which pattern */
	uint16_t	 c;		/* next component to match */
};

struct gmatch {
	char		*path;
	uint64_t	 mtime;
};

struct globctx {
	sftp_session	 sftp;		/* the blocking walk's */
	char		**comp[GLOB_PATS];
	int		 ncomp[GLOB_PATS];
	int		 npat;
	size_t		 visited;
	time_t		 deadline;
	int		 truncated;	/* GLOB_STOP_*: stopped early */
	struct gmatch	*m;		/* the newest of them (glob_keep) */
	size_t		 nm;		/* kept */
	size_t		 total;		/* matched */
	struct gstate	*next;		/* GLOB_STATES, scratch */
};
size_t	 glob_step(struct globctx *, const struct gstate *, size_t,
	    const char *, int, struct gstate *, size_t);
int	 glob_entry(struct globctx *, const char *, const struct gstate *,
	    size_t, const char *, int, uint64_t, char *);
void	 glob_answer(struct sshcall *, struct globctx *);
void	 glob_free(struct globctx *);
int	 fglob_start(struct sshcall *, struct sshconn *, struct globctx *,
	    const char *, const struct gstate *, size_t);

/*
 * ListDir (ssh_finfo.c): its entries and answer; the listing on an SFTP
 * channel of its own from the event loop (ssh_flist.c), or, where there
 * is no room for one, in the blocking section
 */
#define LISTDIR_MAX		10000
#define LISTDIR_LINKS		1000	/* link targets shown up to */
#define LISTDIR_LINKQ		64	/* readlinks sent together */
#define LISTDIR_INLINE		256	/* more go on a channel of their own */
/* the bytes of names kept: a server's 10,000 names of 256 KiB are 2.5 GB */
#define LISTDIR_NAMES		(4 * 1024 * 1024)
struct dent {
	char		*name;
	char		*target;
	int		 type;
	uint64_t	 size;
};
int	 dent_cmp(const void *, const void *);
void	 dent_free(struct dent *, size_t);
void	 listdir_answer(struct sshcall *, const char *, struct dent *, size_t,
	    int);
int	 flist_start(struct sshcall *, struct sshconn *, const char *);

/* what a resolve learnt of a regular file, for the tool that reads it */
int	 sshpolicy_known(struct sshcall *, const char *, uint64_t *);
int	 sshpolicy_reads(struct sshcall **, size_t, sftp_session, int *,
	    uint64_t *, char *);

/* a fixed command with shquote()d arguments on an exec channel */
int	 remote_exec(struct sshcall *, const char *, size_t, int, size_t,
	    struct rexec *, char *);
void	 rexec_free(struct rexec *);
int	 rexec_lines(struct rexec *, size_t);
#define EXEC_ERR_MAX		(16 * 1024)	/* stderr kept */
/*
 * The same from the event loop (ssh_aexec.c): done answers the call, with
 * the output, or with why it could not run or was stopped
 */
typedef void (*aexec_done)(struct sshcall *, struct rexec *, const char *,
	    void *);
void	 remote_exec_async(struct sshcall *, const char *, size_t, int,
	    size_t, aexec_done, void *);

/* replacing a remote file in one step */
int	 temp_create(struct sshcall *, sftp_session, const char *, mode_t,
	    char *, sftp_file *, char *);
int	 temp_write(sftp_session, sftp_file, const char *, const void *,
	    size_t, char *);
int	 temp_close(sftp_session, sftp_file *, const char *, char *);
void	 temp_discard(struct sshcall *, sftp_session, sftp_file,
	    const char *);
int	 rename_over(struct sshcall *, sftp_session, const char *,
	    const char *, char *);
int	 write_atomic(struct sshcall *, sftp_session, const char *,
	    const char *, size_t, int, char *, int *, char *const [2]);

/*
 * The record of temp files in the making on each host, and the sweep of
 * what a dead worker or a connection lost mid-write left: before the
 * first tool after the worker starts, and again after the connection
 * the record is open on went.  The file tools wait for it (1 on
 * call->conn, blocking); the shell tools and ask_claude only start it.
 */
/* ssh_ftemp.c: temps in the making, recorded on the host */
void	 book_add(struct sshcall *, sftp_session, const char *);
void	 book_undo(struct sshcall *, sftp_session);
void	 book_left(struct sshhost *);	/* a temp could not go */
void	 book_keep(struct sshhost *, const char *);	/* in the making */
void	 book_done(struct sshhost *, const char *);
void	 files_sweep(struct sshcall *, int);
void	 files_sweep_again(struct sshhost *);	/* the next tool sweeps */
const char *files_key(struct sshhost *);	/* the host block's KEY */
/* ssh_delegbc.c: "|NAME" of each back-channel file in use on host */
void	 delegbc_keep(struct sshhost *, struct sbuf *);
void	 files_conn_lost(struct sshhost *, struct sshconn *);
int	 files_shutdown(void);			/* commands sent */

#endif /* FILES_H */
