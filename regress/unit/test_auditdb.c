/*
 * test_auditdb.c: the audit database's commits (logger_audit.c) on a real
 * SQLite file, with the WAL's syncs counted and, on demand, failed by a
 * VFS that wraps SQLite's unix one (the daemon's own VFS is a copy of
 * whatever "unix" is when it is first used).
 *
 * A commit does not sync, audit_sync() does it once (the logger calls it
 * for a batch holding an intent); a record staged ahead of its commit (an
 * outcome waiting for the next intent) is committed once, with that
 * batch; a rollback undoes the staging; a sync that fails after the
 * COMMIT leaves the rows in the database (the logger refuses the
 * intents, the chain goes on from them).
 */

#include <sys/queue.h>
#include <sys/stat.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "logger_audit.h"
#include "text.h"
#include "tap.h"

static sqlite3_vfs	 wrap;
static sqlite3_vfs	*unix_vfs;
static sqlite3_io_methods wal_methods;
static const sqlite3_io_methods *unix_methods;
static int		 wal_syncs, fail_sync;

static int
wal_sync(sqlite3_file *f, int flags)
{
	wal_syncs++;
	if (fail_sync)
		return SQLITE_IOERR_FSYNC;
	return unix_methods->xSync(f, flags);
}

static int
wrap_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags,
    int *outflags)
{
	int	 rc;

	rc = unix_vfs->xOpen(unix_vfs, name, f, flags, outflags);
	if (rc == SQLITE_OK && (flags & SQLITE_OPEN_WAL) && f->pMethods) {
		if (unix_methods == NULL) {
			unix_methods = f->pMethods;
			wal_methods = *f->pMethods;
			wal_methods.xSync = wal_sync;
		}
		f->pMethods = &wal_methods;
	}
	return rc;
}

/* a sealed record as logger.c makes one (seal() is its, not ours) */
static struct arec *
record(uint64_t seq, const char *type)
{
	struct arec	*r;
	char		 canon[256];
	uint8_t		 d[HASH_LEN];

	if ((r = calloc(1, sizeof(*r))) == NULL)
		abort();
	r->obj = json_pack("{s:s, s:I, s:s}", "type", type, "seq",
	    (json_int_t)seq, "time", "2026-12-02T00:00:00.000Z");
	r->seq = seq;
	r->ms = 1764633600000LL;
	snprintf(canon, sizeof(canon), "{\"seq\":%llu,\"type\":\"%s\"}",
	    (unsigned long long)seq, type);
	if ((r->canon = strdup(canon)) == NULL)
		abort();
	memset(d, (int)seq, sizeof(d));
	hex_encode(d, sizeof(d), r->hash);
	return r;
}

static void
drop(struct arecq *q)
{
	struct arec	*r;

	while ((r = TAILQ_FIRST(q)) != NULL) {
		TAILQ_REMOVE(q, r, entry);
		json_decref(r->obj);
		free(r->canon);
		free(r);
	}
}

static int
count_cb(uint64_t seq, const char *line, size_t len, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static int
rows(void)
{
	int	 n = 0;

	if (audit_scan(0, count_cb, &n) != 0)
		return -1;
	return n;
}

int
main(void)
{
	struct arecq	 q = TAILQ_HEAD_INITIALIZER(q);
	struct chain	 c;
	struct arec	*r;
	char		 dir[] = "/tmp/test_auditdb.XXXXXX";
	char		 path[512], err[256];
	int		 n, rv;

	err[0] = '\0';
	if ((unix_vfs = sqlite3_vfs_find("unix")) == NULL || mkdtemp(dir) ==
	    NULL)
		return 1;
	wrap = *unix_vfs;
	wrap.zName = "unix";
	wrap.xOpen = wrap_open;
	wrap.pNext = NULL;
	if (sqlite3_vfs_register(&wrap, 1) != SQLITE_OK)
		return 1;
	snprintf(path, sizeof(path), "%s/audit.db", dir);

	ok(audit_open(path, &c, err, sizeof(err)) == 0 && c.seq == 0,
	    "a new database opens, empty (%s)", err);
	ok(unix_methods != NULL, "its WAL is opened through the test's VFS");

	/* an intent's batch: synced after its commit */
	r = record(1, "call");
	TAILQ_INSERT_TAIL(&q, r, entry);
	n = wal_syncs;
	ok(audit_commit(&q, err, sizeof(err)) == 0 && wal_syncs == n,
	    "a batch commits, unsynced (%d syncs, %s)", wal_syncs - n, err);
	ok(audit_sync(err, sizeof(err)) == 0 && wal_syncs == n + 1,
	    "audit_sync() syncs the WAL once (%d, %s)", wal_syncs - n, err);
	drop(&q);

	/* a batch without one: committed, not synced */
	r = record(2, "record");
	TAILQ_INSERT_TAIL(&q, r, entry);
	n = wal_syncs;
	ok(audit_commit(&q, err, sizeof(err)) == 0 && wal_syncs == n,
	    "another batch commits unsynced (%d syncs)", wal_syncs - n);
	drop(&q);
	ok(rows() == 2, "both rows are in the database (%d)", rows());

	/* staged ahead of the commit that takes it along */
	r = record(3, "record");
	TAILQ_INSERT_TAIL(&q, r, entry);
	ok(audit_stage(r, err, sizeof(err)) == 0 && r->staged, "an outcome "
	    "is staged ahead of its commit (%s)", err);
	ok(audit_checkpoint(err, sizeof(err)) == -1, "no checkpoint while a "
	    "record is staged (%s)", err);
	r = record(4, "call");
	TAILQ_INSERT_TAIL(&q, r, entry);
	n = wal_syncs;
	rv = audit_commit(&q, err, sizeof(err));
	ok(rv == 0 && audit_sync(err, sizeof(err)) == 0 && wal_syncs == n + 1,
	    "the next intent's commit takes it along, inserted once, synced "
	    "once (%d, %s)", rv, err);
	drop(&q);
	ok(rows() == 4, "four rows (%d)", rows());
	ok(audit_checkpoint(err, sizeof(err)) == 0, "a checkpoint once "
	    "committed (%s)", err);

	/* a staging rolled back leaves nothing behind */
	r = record(5, "record");
	TAILQ_INSERT_TAIL(&q, r, entry);
	ok(audit_stage(r, err, sizeof(err)) == 0, "staged again");
	audit_rollback();
	r->staged = 0;
	ok(rows() == 4, "a rollback undoes it (%d rows)", rows());
	ok(audit_commit(&q, err, sizeof(err)) == 0 && rows() == 5,
	    "and the same record commits afterwards (%d rows, %s)", rows(),
	    err);
	drop(&q);

	/* the sync fails after the COMMIT: in the database, said apart */
	r = record(6, "call");
	TAILQ_INSERT_TAIL(&q, r, entry);
	fail_sync = 1;
	err[0] = '\0';
	rv = audit_commit(&q, err, sizeof(err));
	n = audit_sync(err, sizeof(err));
	fail_sync = 0;
	ok(rv == 0 && n == -1 && err[0] != '\0', "a sync that fails after "
	    "the commit is -1, with a reason (%d: %s)", n, err);
	ok(rows() == 6, "its rows are in the database (%d): the chain goes "
	    "on from them", rows());
	drop(&q);
	r = record(7, "call");
	TAILQ_INSERT_TAIL(&q, r, entry);
	ok(audit_commit(&q, err, sizeof(err)) == 0 && audit_sync(err,
	    sizeof(err)) == 0 && rows() == 7, "the next commit and its sync "
	    "succeed (%d rows, %s)", rows(), err);
	drop(&q);

	/* a record that cannot be inserted: nothing of the batch stays */
	r = record(8, "record");
	TAILQ_INSERT_TAIL(&q, r, entry);
	r = record(7, "call");
	TAILQ_INSERT_TAIL(&q, r, entry);
	rv = audit_commit(&q, err, sizeof(err));
	ok(rv == -1 && rows() == 7, "a batch with a duplicate seq is -1 and "
	    "leaves nothing (%d, %d rows, %s)", rv, rows(), err);
	drop(&q);

	audit_close();
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	if (system(path) != 0)
		return 1;
	return tap_done();
}
