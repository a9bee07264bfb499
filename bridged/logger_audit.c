/*
 * logger_audit.c: the audit database, owned by the logger.
 *
 * One table of records in commit order.  The columns beside the record
 * text are copies of its fields, for queries; verify checks that they
 * still agree with the text, so editing a column is found like editing
 * the text.  WAL with synchronous=NORMAL; after the COMMIT of a batch
 * holding an intent the WAL is synced, so it has reached the disk before
 * the intent is acknowledged, which is what the acknowledgement promises.
 * Other batches are not synced: safe against any process crash, on the
 * disk with the next intent's sync.  Records that wait for an intent (a
 * call's outcome waits for the next call) are inserted as they come, in
 * a transaction the intent's COMMIT ends (audit_stage).
 *
 * Retention deletes old rows in the same transaction that adds a
 * checkpoint record naming the last row deleted and its hash; the chain
 * then starts from that hash, and the checkpoint itself is chained.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "logger_audit.h"
#include "logger_auditdb.h"
#include "bridged.h"
#include "log.h"

static int	 exec_sql(const char *, char *, size_t);
static int	 exec_tx(int, char *, size_t);
static int	 fields(json_t *, struct acols *);
static int64_t	 parse_time(const char *);
static int	 vfs_fullpathname(sqlite3_vfs *, const char *, int, char *);
static void	 wal_presize(const char *);
static int	 page_size(void);

/*
 * The WAL is written with zeros up to a little over the size at which
 * the logger checkpoints at the latest and SQLite starts it again from
 * the top (AUDIT_CKPT_MAX pages of 4 KiB and their frame headers, see
 * audit_checkpoint): its commits then overwrite blocks that
 * are already the file's, and an intent's fdatasync writes the frames
 * and no inode (a file that grows or gets new blocks needs both: a third
 * of an intent's time on ext4).  SQLite stops reading a WAL at the first
 * frame that is not one, so the zeros are never taken for frames.  Only
 * where the disk has room to spare (WAL_PRESIZE_ROOM times as much): on
 * a small one the space is worth more than the speed.
 */
#define WAL_PRESIZE	((AUDIT_CKPT_MAX + 64) * (4096 + 24) + 32)
#define WAL_PRESIZE_ROOM	16
/* a WAL's header, a frame's header (SQLite's file format) */
#define WAL_HDRSIZE		32
#define WAL_FRAME_HDRSIZE	24
/*
 * audit_wal_warm() hints twice this much, from the multiple of it at or
 * before the next frame: a few commits' frames, whole (a power of two)
 */
#define WAL_WARM_BYTES		32768

/* frames in the WAL after the last commit (wal_hook) */
static int		 wal_frames;
/* the WAL, held open for audit_wal_warm(); its frames' page size */
static int		 wal_fd = -1;
static int		 wal_pgsz;
static int		 wal_hook(void *, sqlite3 *, const char *, int);


static sqlite3		*db;
static sqlite3_stmt	*st_insert;
/*
 * A commit's own statements, parsed once: a call's intent pays for none.
 * The synchronous pragma is not switched between batches: SQLite refuses
 * to change it inside a transaction, and one is open while records are
 * staged; an intent's batch is synced by audit_sync() instead.
 */
enum { ST_BEGIN, ST_COMMIT, ST_N };
static const char	*st_sql[ST_N] = {
	"BEGIN IMMEDIATE", "COMMIT"
};
static sqlite3_stmt	*st_tx[ST_N];
static int		 tx_open;	/* a transaction is open */

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS records ("
    " seq INTEGER PRIMARY KEY,"
    " time INTEGER NOT NULL,"
    " type TEXT NOT NULL,"
    " event TEXT,"
    " session INTEGER,"
    " request INTEGER,"
    " host TEXT,"
    " tool TEXT,"
    " outcome TEXT,"
    " record TEXT NOT NULL,"
    " hash TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS records_time ON records(time);"
    "CREATE INDEX IF NOT EXISTS records_session ON records(session);"
    /*
     * By type, only the rows asked for by type: the ends of sessions,
     * delegations and jobs (history) and checkpoints (verify).  A call's
     * records are in neither, so its commit writes one index page less
     * (an index of every row's type was a page in every commit).
     */
    "DROP INDEX IF EXISTS records_type;"
    "CREATE INDEX IF NOT EXISTS records_end ON records(type)"
    " WHERE event = 'end';"
    "CREATE INDEX IF NOT EXISTS records_checkpoint ON records(seq)"
    " WHERE type = 'checkpoint';";

void
adb_seterr(char *err, size_t len, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

int
adb_streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static int
exec_sql(const char *sql, char *err, size_t errlen)
{
	char	*msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		adb_seterr(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int
exec_tx(int which, char *err, size_t errlen)
{
	int	 rc;

	rc = sqlite3_step(st_tx[which]);
	sqlite3_reset(st_tx[which]);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		adb_seterr(err, errlen, "%s", sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

sqlite3 *
audit_handle(void)
{
	return db;
}

int
audit_isopen(void)
{
	return db != NULL;
}

void
audit_close(void)
{
	int	 i;

	if (st_insert != NULL)
		sqlite3_finalize(st_insert);
	st_insert = NULL;
	for (i = 0; i < ST_N; i++) {
		if (st_tx[i] != NULL)
			sqlite3_finalize(st_tx[i]);
		st_tx[i] = NULL;
	}
	if (db != NULL)
		sqlite3_close_v2(db);
	db = NULL;
	tx_open = 0;
	if (wal_fd != -1)
		close(wal_fd);
	wal_fd = -1;
}

/*
 * SQLite's unix VFS turns a name into a full path by lstat()ing every
 * component from / on and readlink()ing the symbolic links on the way:
 * calls outside the logger's directories that Landlock does not check.
 * Our names are absolute already (the parser insists), so this VFS,
 * the unix one in every other respect, takes them as they are and the
 * logger's sandbox allows no readlink at all.  A database file that is
 * itself a symbolic link is refused (SQLite opens it O_NOFOLLOW).
 */
static int
vfs_fullpathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	if (name[0] != '/' || n <= 0 || strlcpy(out, name, n) >= (size_t)n)
		return SQLITE_CANTOPEN;
	return SQLITE_OK;
}

/* the name of our VFS, registered on first use; NULL: SQLite's default */
const char *
audit_vfs(void)
{
	static sqlite3_vfs	 vfs;
	sqlite3_vfs		*unix_vfs;

	if (vfs.zName != NULL)
		return vfs.zName;
	if ((unix_vfs = sqlite3_vfs_find("unix")) == NULL) {
		log_warnx("audit: SQLite has no unix VFS; using its default");
		return NULL;
	}
	vfs = *unix_vfs;
	vfs.pNext = NULL;
	vfs.zName = "bridged";
	vfs.xFullPathname = vfs_fullpathname;
	if (sqlite3_vfs_register(&vfs, 0) != SQLITE_OK)
		fatalx("audit: cannot register the SQLite VFS");
	return vfs.zName;
}

/* Open (create) the database and read the chain head from it. */
int
audit_open(const char *path, struct chain *c, char *err, size_t errlen)
{
	sqlite3_stmt	*st = NULL;
	const char	*h;
	int		 rc, i;

	audit_close();
	memset(c, 0, sizeof(*c));
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, audit_vfs()) !=
	    SQLITE_OK) {
		adb_seterr(err, errlen, "open %s: %s", path,
		    db ? sqlite3_errmsg(db) : "out of memory");
		audit_close();
		return -1;
	}
	/* an admin's sqlite3 may hold the lock a moment */
	sqlite3_busy_timeout(db, 2000);
	/* no checkpoint inside a commit: logger_queue.c runs them */
	wal_frames = 0;
	sqlite3_wal_hook(db, wal_hook, NULL);
	tx_open = 0;
	if (exec_sql("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
	    "PRAGMA temp_store=MEMORY;", err, errlen) == -1 ||
	    exec_sql(schema, err, errlen) == -1)
		goto fail;
	if (sqlite3_prepare_v2(db, "INSERT INTO records (seq, time, type, "
	    "event, session, request, host, tool, outcome, record, hash) "
	    "VALUES (?,?,?,?,?,?,?,?,?,?,?)", -1, &st_insert, NULL) !=
	    SQLITE_OK)
		goto dberr;
	for (i = 0; i < ST_N; i++)
		if (sqlite3_prepare_v2(db, st_sql[i], -1, &st_tx[i], NULL) !=
		    SQLITE_OK)
			goto dberr;
	if (sqlite3_prepare_v2(db, "SELECT seq, hash FROM records ORDER BY "
	    "seq DESC LIMIT 1", -1, &st, NULL) != SQLITE_OK)
		goto dberr;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		c->seq = sqlite3_column_int64(st, 0);
		h = (const char *)sqlite3_column_text(st, 1);
		if (h == NULL || hex_decode(h, c->hash, HASH_LEN) == -1) {
			adb_seterr(err, errlen, "%s: record %" PRIu64 " has a "
			    "malformed hash; run bridgectl verify", path,
			    c->seq);
			goto fail;
		}
	} else if (rc != SQLITE_DONE)
		goto dberr;
	sqlite3_finalize(st);
	wal_pgsz = page_size();
	wal_presize(path);
	return 0;
 dberr:
	adb_seterr(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
 fail:
	if (st != NULL)
		sqlite3_finalize(st);
	audit_close();
	return -1;
}

/*
 * SQLite checkpoints, left alone, inside the commit that takes the WAL
 * past 1000 frames: that intent's act waited for the copy into the
 * database and two more syncs, milliseconds, every few hundred calls.
 * The wal hook replaces that (it is how SQLite's own is made) and only
 * counts; the logger checkpoints once no commit has come for a moment,
 * or after the acks of one that took the WAL past AUDIT_CKPT_MAX.
 */
static int
wal_hook(void *arg, sqlite3 *h, const char *name, int frames)
{
	wal_frames = frames;
	return SQLITE_OK;
}

int
audit_wal_frames(void)
{
	return db == NULL ? 0 : wal_frames;
}

/* PASSIVE: a reader holding an old snapshot delays it, never blocks us */
int
audit_checkpoint(char *err, size_t errlen)
{
	int	 logged = 0, done = 0;

	if (db == NULL)
		return 0;
	if (tx_open) {
		adb_seterr(err, errlen, "checkpoint: records are being "
		    "written");
		return -1;
	}
	if (sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE,
	    &logged, &done) != SQLITE_OK) {
		adb_seterr(err, errlen, "checkpoint: %s", sqlite3_errmsg(db));
		return -1;
	}
	/* all copied: the next commit starts the WAL from the top */
	if (done == logged)
		wal_frames = 0;
	return 0;
}

/*
 * See WAL_PRESIZE; a failure costs speed, not records.  The descriptor
 * stays open for audit_wal_warm().
 */
static void
wal_presize(const char *path)
{
	static const char	 zeros[65536];
	char			 wal[PATH_MAX];
	struct stat		 sb;
	struct statvfs		 vfs;
	off_t			 off;
	size_t			 n;
	int			 fd;

	if ((size_t)snprintf(wal, sizeof(wal), "%s-wal", path) >= sizeof(wal))
		return;
	/* SQLite made it (the chain head was read through it) */
	if ((fd = open(wal, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		log_debug("audit: %s: %s", wal, strerror(errno));
		return;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return;
	}
	wal_fd = fd;
	if (sb.st_size >= WAL_PRESIZE || fstatvfs(fd, &vfs) == -1 ||
	    (double)vfs.f_bavail * vfs.f_frsize < (double)WAL_PRESIZE *
	    WAL_PRESIZE_ROOM)
		return;
	for (off = sb.st_size; off < WAL_PRESIZE; off += n) {
		n = WAL_PRESIZE - off > (off_t)sizeof(zeros) ? sizeof(zeros) :
		    (size_t)(WAL_PRESIZE - off);
		if (pwrite(fd, zeros, n, off) != (ssize_t)n)
			break;
	}
	if (off < WAL_PRESIZE || fdatasync(fd) == -1)
		log_debug("audit: %s: cannot size it: %s", wal,
		    strerror(errno));
}

static int
page_size(void)
{
	sqlite3_stmt	*st;
	int		 n = 0;

	if (sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &st, NULL) !=
	    SQLITE_OK)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

/*
 * The blocks of the WAL that the next commit writes, into the page cache
 * ahead of it.  A frame (24 bytes of header and a page) never fills
 * whole blocks, so a commit begins and ends inside blocks that hold
 * frames of other commits or the zeros of WAL_PRESIZE; where such a
 * block is no longer cached (the kernel drops clean pages of an idle
 * file, some hosts within seconds), the write reads it from the disk
 * first, and an intent waits for that read before its sync.  The hint
 * is asynchronous.  It is given when an intent arrives (logger_queue.c):
 * the reads of its commit go together while the record is sealed, and
 * the next few commits' blocks are already on their way.
 */
void
audit_wal_warm(void)
{
	off_t	 off;

	if (db == NULL || wal_fd == -1 || wal_pgsz <= 0)
		return;
	off = WAL_HDRSIZE + (off_t)wal_frames * (wal_pgsz + WAL_FRAME_HDRSIZE);
	off &= ~(off_t)(WAL_WARM_BYTES - 1);
	(void)posix_fadvise(wal_fd, off, 2 * WAL_WARM_BYTES,
	    POSIX_FADV_WILLNEED);
}

/*
 * Open a database only to read it: bridgectl verify database PATH, with
 * the daemon stopped or on a copy.  Nothing is created or changed.
 */
int
audit_open_ro(const char *path, char *err, size_t errlen)
{
	audit_close();
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		adb_seterr(err, errlen, "open %s: %s", path,
		    db ? sqlite3_errmsg(db) : "out of memory");
		audit_close();
		return -1;
	}
	sqlite3_busy_timeout(db, 2000);
	/* a file that is not ours says so here, not as "edited" later */
	if (exec_sql("SELECT seq, time, type, event, session, request, host,"
	    " tool, outcome, record, hash FROM records LIMIT 0", err,
	    errlen) == -1) {
		audit_close();
		return -1;
	}
	return 0;
}

/* "2024-05-06T07:08:09.123Z" -> unix ms; -1 when malformed */
static int64_t
parse_time(const char *s)
{
	struct tm	 tm;
	const char	*p;
	int		 ms;

	if (s == NULL)
		return -1;
	memset(&tm, 0, sizeof(tm));
	if ((p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL ||
	    p[0] != '.' || sscanf(p + 1, "%3d", &ms) != 1 ||
	    strcmp(p + 4, "Z") != 0)
		return -1;
	return (int64_t)timegm(&tm) * 1000 + ms;
}

/* the query columns of a record but seq and time; -1 if it lacks some */
static int
fields(json_t *o, struct acols *c)
{
	json_t	*v;

	if ((c->type = json_string_value(json_object_get(o, "type"))) ==
	    NULL)
		return -1;
	c->prev = json_string_value(json_object_get(o, "prev"));
	c->event = json_string_value(json_object_get(o, "event"));
	v = json_object_get(o, "session");
	c->session = json_is_integer(v) ? json_integer_value(v) : -1;
	v = json_object_get(o, "request");
	c->request = json_is_integer(v) ? json_integer_value(v) : -1;
	c->host = json_string_value(json_object_get(o, "host"));
	c->tool = json_string_value(json_object_get(o, "tool"));
	c->outcome = json_string_value(json_object_get(o, "outcome"));
	/* a refusal is what an auditor asks for: make it the outcome */
	if (adb_streq(json_string_value(json_object_get(o, "decision")),
	    "refused"))
		c->outcome = "refused";
	return 0;
}

/* the query columns of a record, from its text; -1 if it lacks some */
int
adb_columns(json_t *o, struct acols *c)
{
	json_t	*v;

	memset(c, 0, sizeof(*c));
	if (!json_is_integer(v = json_object_get(o, "seq")))
		return -1;
	c->seq = json_integer_value(v);
	if ((c->ms = parse_time(json_string_value(json_object_get(o,
	    "time")))) == -1)
		return -1;
	return fields(o, c);
}

static int
bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s == NULL)
		return sqlite3_bind_null(st, i);
	/* the record outlives the insert's step: no copy */
	return sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

static int
bind_id(sqlite3_stmt *st, int i, int64_t v)
{
	if (v < 0)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_int64(st, i, v);
}

/* one sealed record into the open transaction */
static int
insert(struct arec *r, char *err, size_t errlen)
{
	struct acols	 c;
	char		 sql[128];
	int		 rc;

	if (r->prune > 0) {
		snprintf(sql, sizeof(sql), "DELETE FROM records WHERE "
		    "seq <= %" PRIu64, r->prune);
		if (exec_sql(sql, err, errlen) == -1)
			return -1;
	}
	/*
	 * The columns from the sealed object the text was dumped from (its
	 * seq and time are r's): the same values verify reads back from the
	 * text, without parsing it again.
	 */
	memset(&c, 0, sizeof(c));
	c.seq = (int64_t)r->seq;
	c.ms = r->ms;
	if (fields(r->obj, &c) == -1) {
		adb_seterr(err, errlen, "record %" PRIu64 " is incomplete",
		    r->seq);
		return -1;
	}
	sqlite3_reset(st_insert);
	sqlite3_clear_bindings(st_insert);
	sqlite3_bind_int64(st_insert, 1, c.seq);
	sqlite3_bind_int64(st_insert, 2, c.ms);
	bind_text(st_insert, 3, c.type);
	bind_text(st_insert, 4, c.event);
	bind_id(st_insert, 5, c.session);
	bind_id(st_insert, 6, c.request);
	bind_text(st_insert, 7, c.host);
	bind_text(st_insert, 8, c.tool);
	bind_text(st_insert, 9, c.outcome);
	bind_text(st_insert, 10, r->canon);
	bind_text(st_insert, 11, r->hash);
	rc = sqlite3_step(st_insert);
	sqlite3_reset(st_insert);
	if (rc != SQLITE_DONE) {
		adb_seterr(err, errlen, "insert: %s", sqlite3_errmsg(db));
		return -1;
	}
	r->staged = 1;
	return 0;
}

/*
 * A record that waits for its commit (an outcome waits for the next
 * intent) is inserted at once, in a transaction left open: the intent's
 * commit then has only itself to insert.  Nothing else writes to the
 * database, and whoever reads it commits first (logger_queue.c).
 */
int
audit_stage(struct arec *r, char *err, size_t errlen)
{
	if (db == NULL) {
		adb_seterr(err, errlen, "audit database not open");
		return -1;
	}
	if (!tx_open) {
		if (exec_tx(ST_BEGIN, err, errlen) == -1)
			return -1;
		tx_open = 1;
	}
	if (insert(r, err, errlen) == -1) {
		audit_rollback();
		return -1;
	}
	return 0;
}

/* what was staged is undone (the records keep their place in the queue) */
void
audit_rollback(void)
{
	if (db != NULL && tx_open)
		(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	tx_open = 0;
}

/*
 * The WAL to the disk: what SQLite's synchronous=FULL does in a COMMIT,
 * done after it instead, so that one setting serves every batch and a
 * transaction can stay open across turns (SQLite refuses to change the
 * setting inside one).  The commit is visible to a reader a moment before
 * it is durable; the act it allows waits for this.
 */
int
audit_sync(char *err, size_t errlen)
{
	sqlite3_file	*f = NULL;

	if (db == NULL) {
		adb_seterr(err, errlen, "audit database not open");
		return -1;
	}
	if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER,
	    &f) != SQLITE_OK || f == NULL || f->pMethods == NULL) {
		adb_seterr(err, errlen, "no write-ahead log to sync");
		return -1;
	}
	if (f->pMethods->xSync(f, SQLITE_SYNC_NORMAL) != SQLITE_OK) {
		adb_seterr(err, errlen, "fsync of the write-ahead log failed");
		return -1;
	}
	return 0;
}

/*
 * Commit the batch: the records not staged yet are inserted, then the
 * transaction ends.  Not synced: a batch holding an intent is, with
 * audit_sync(), before the intent's acknowledgement; other batches
 * (outcomes, sessions) survive any process crash without it, and reach
 * the disk with the next intent's sync or checkpoint: one fsync a call,
 * not two.
 */
int
audit_commit(struct arecq *q, char *err, size_t errlen)
{
	struct arec	*r;

	if (db == NULL) {
		adb_seterr(err, errlen, "audit database not open");
		return -1;
	}
	if (!tx_open) {
		if (exec_tx(ST_BEGIN, err, errlen) == -1)
			return -1;
		tx_open = 1;
	}
	TAILQ_FOREACH(r, q, entry) {
		if (r->canon == NULL)
			break;
		if (!r->staged && insert(r, err, errlen) == -1)
			goto fail;
	}
	if (exec_tx(ST_COMMIT, err, errlen) == -1)
		goto fail;
	tx_open = 0;
	return 0;
 fail:
	audit_rollback();
	return -1;
}

char *
audit_line(const char *canon, const char *hash, size_t *lenp)
{
	size_t	 len = strlen(canon);
	char	*line;

	/* canon is a non-empty object: it ends with '}' */
	if (len < 2 || canon[len - 1] != '}')
		return NULL;
	if (asprintf(&line, "%.*s,\"hash\":\"%s\"}", (int)(len - 1), canon,
	    hash) == -1)
		return NULL;
	if (lenp != NULL)
		*lenp = strlen(line);
	return line;
}

int
audit_prune_point(int64_t cutoff_ms, uint64_t *seq, char hash[HASH_HEXLEN],
    uint64_t *nrows)
{
	sqlite3_stmt	*st;
	const char	*h;
	int		 rc = 1;

	if (db == NULL || sqlite3_prepare_v2(db, "SELECT seq, hash, (SELECT "
	    "count(*) FROM records r2 WHERE r2.seq <= r1.seq) FROM records r1 "
	    "WHERE time < ? ORDER BY seq DESC LIMIT 1", -1, &st, NULL) !=
	    SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, cutoff_ms);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    (h = (const char *)sqlite3_column_text(st, 1)) != NULL) {
		*seq = sqlite3_column_int64(st, 0);
		strlcpy(hash, h, HASH_HEXLEN);
		*nrows = sqlite3_column_int64(st, 2);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}
