/*
 * logger_audit.h: the logger's parts.  logger_queue.c receives records,
 * seals them into the hash chain and hands them to logger_audit.c (the
 * SQLite database; logger_auditrd.c reads it back) and logger_textlog.c
 * (JSON lines with rotation).
 *
 * A sealed record is the received JSON object with "seq", "time" and
 * "prev" (the hash of the record before) added, dumped with sorted keys:
 * that text is what is stored and hashed,
 *	hash = SHA-256(prev hash, 32 bytes || record text)
 * and a log line is the same text with "hash" added at the end.
 */

#ifndef AUDIT_H
#define AUDIT_H

#include <sys/queue.h>
#include <sys/types.h>

#include <stdint.h>

#include <sha2.h>

#include "bridged.h"
#include "text.h"

/* the chain hashes with SHA-256 (libmd); hex: 64 digits and a NUL */
#define HASH_LEN	SHA256_DIGEST_LENGTH
#define HASH_HEXLEN	SHA256_DIGEST_STRING_LENGTH

struct chain {
	uint64_t	 seq;			/* last sealed, 0: none */
	uint8_t		 hash[HASH_LEN];	/* its hash, zeros: none */
};

struct json_t;
struct arec {
	TAILQ_ENTRY(arec)	 entry;
	/*
	 * As received, parsed once and redacted (logger_queue.c); sealing adds
	 * seq, time and prev to it, and the database's columns are read
	 * from it: the received bytes are not parsed again.
	 */
	struct json_t		*obj;
	size_t			 len;		/* as received, bytes */
	int64_t			 ms;		/* received, unix ms */
	int			 from;		/* PROC_* to ack, -1: none */
	uint32_t		 ackid;
	int			 intent;
	int			 acked;
	int			 held;		/* its call waits in a worker */
	struct log_held		 hold;		/* which, and its token */
	uint64_t		 prune;		/* checkpoint: delete <= this */
	int			 staged;	/* inserted, not committed */
	/* set while sealed */
	uint64_t		 seq;
	char			*canon;
	char			 hash[HASH_HEXLEN];
};
TAILQ_HEAD(arecq, arec);

/* an exported head the chain must still contain */
struct ahead {
	uint64_t	 seq;
	char		 hash[HASH_HEXLEN];
	char		 source[128];
};

typedef int	(*audit_cb)(uint64_t, const char *, size_t, void *);

/* logger_audit.c */
int	 audit_open(const char *, struct chain *, char *, size_t);
int	 audit_open_ro(const char *, char *, size_t);	/* bridgectl */
int	 audit_isopen(void);
void	 audit_close(void);
/* insert every sealed record of q not yet staged, commit them: 0 or -1 */
int	 audit_commit(struct arecq *, char *, size_t);
/* the WAL to the disk (after a commit holding an intent): 0 or -1 */
int	 audit_sync(char *, size_t);
/* insert a sealed record ahead of its commit: 0 or -1 */
int	 audit_stage(struct arec *, char *, size_t);
void	 audit_rollback(void);
/* the log lines of records after seq, in order: 0, or -1 (cb said stop) */
int	 audit_scan(uint64_t, audit_cb, void *);
int	 audit_query(const struct log_query *, audit_cb, void *, char *,
	    size_t);
int	 audit_verify(const struct ahead *, size_t, char *, size_t);
/* ended sessions, delegations, job results (IMSG_LOG_HISTORY) */
int	 audit_history(const struct log_histq *, audit_cb, void *, char *,
	    size_t);
/*
 * Checkpoints are the logger's (not SQLite's, inside a commit): at
 * AUDIT_CKPT_IDLE_MS without a commit once the WAL holds AUDIT_CKPT_MIN
 * frames, or at once after a commit's acks past AUDIT_CKPT_MAX.
 */
#define AUDIT_CKPT_MIN		1000
#define AUDIT_CKPT_MAX		4000
#define AUDIT_CKPT_IDLE_MS	5
int	 audit_wal_frames(void);
void	 audit_wal_warm(void);
int	 audit_checkpoint(char *, size_t);
/* the newest record older than cutoff: 0 found, 1 none, -1 error */
int	 audit_prune_point(int64_t, uint64_t *, char [HASH_HEXLEN],
	    uint64_t *);
/* the SQLite VFS that takes absolute names as they are (the sandbox) */
const char *audit_vfs(void);

/* logger_queue.c: a record of the logger's own, into the chain (not stolen) */
void	 logger_record(struct json_t *);

/* logger_relay.c: the relay's store (IMSG_RELAY_REQ) */
struct imsgev;
void	 relay_configure(const struct bridged_conf *);
void	 relay_request(struct imsgev *, uint32_t, const void *, size_t);
void	 relay_close(void);

/* a log line: the record text with "hash" added; malloc'd */
char	*audit_line(const char *, const char *, size_t *);

/* logger_textlog.c */
int	 textlog_open(const char *, off_t, int, char *, size_t);
int	 textlog_isopen(void);
void	 textlog_setlimits(off_t, int);
void	 textlog_close(void);
/* last record in the files: 0 found, 1 none */
int	 textlog_last(uint64_t *, char [HASH_HEXLEN]);
/* one record line; rotates first when it would not fit: 0 or -1 */
int	 textlog_write(uint64_t, const char *, const char *, size_t, char *,
	    size_t);
int	 textlog_rotate(char *, size_t);
int	 textlog_sync(void);
void	 textlog_warm(void);
/* first and last lines of each file, as heads to check */
size_t	 textlog_heads(struct ahead *, size_t);

#endif /* AUDIT_H */
