/*
 * logger_auditrd.c: reading the audit database.  The log lines of the
 * records after a sequence number (the text log's catch-up), of a query
 * (bridgectl show log) and of the history (ended sessions, delegations,
 * jobs); and verify, which checks the chain, each record's columns
 * against its text and the heads kept elsewhere.  The database is
 * logger_audit.c's; bridgectl verify database opens it read-only there.
 */

#include <sys/types.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "logger_audit.h"
#include "logger_auditdb.h"
#include "bridged.h"
#include "log.h"

/* column i of st holds s (both NULL counts) */
static int
coleq(sqlite3_stmt *st, int i, const char *s)
{
	return adb_streq((const char *)sqlite3_column_text(st, i), s);
}

static int
emit(sqlite3_stmt *st, audit_cb cb, void *arg)
{
	const char	*rec, *hash;
	char		*line;
	size_t		 len;
	int		 rc;

	rec = (const char *)sqlite3_column_text(st, 1);
	hash = (const char *)sqlite3_column_text(st, 2);
	if (rec == NULL || hash == NULL ||
	    (line = audit_line(rec, hash, &len)) == NULL)
		return 0;
	rc = cb(sqlite3_column_int64(st, 0), line, len, arg);
	free(line);
	return rc;
}

int
audit_scan(uint64_t after, audit_cb cb, void *arg)
{
	sqlite3		*db = audit_handle();
	sqlite3_stmt	*st;
	int		 rc = 0;

	if (db == NULL || sqlite3_prepare_v2(db, "SELECT seq, record, hash "
	    "FROM records WHERE seq > ? ORDER BY seq", -1, &st, NULL) !=
	    SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, after);
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW)
		rc = emit(st, cb, arg);
	sqlite3_finalize(st);
	return rc;
}

int
audit_query(const struct log_query *q, audit_cb cb, void *arg, char *err,
    size_t errlen)
{
	sqlite3		*db = audit_handle();
	sqlite3_stmt	*st;
	char		 sql[512];
	uint32_t	 limit;
	int		 i = 1, rc = 0, step;

	if (db == NULL) {
		adb_seterr(err, errlen, "no audit database is open");
		return -1;
	}
	limit = q->limit == 0 || q->limit > LOG_QUERY_MAX ? LOG_QUERY_MAX :
	    q->limit;
	/* the newest `limit' matches, shown oldest first */
	snprintf(sql, sizeof(sql), "SELECT seq, record, hash FROM (SELECT "
	    "seq, record, hash FROM records WHERE 1%s%s%s%s%s ORDER BY seq "
	    "DESC LIMIT ?) ORDER BY seq",
	    q->since ? " AND time >= ?" : "",
	    q->host[0] ? " AND host = ?" : "",
	    q->tool[0] ? " AND tool = ?" : "",
	    q->session ? " AND session = ?" : "",
	    q->outcome[0] ? " AND outcome = ?" : "");
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		adb_seterr(err, errlen, "query: %s", sqlite3_errmsg(db));
		return -1;
	}
	if (q->since)
		sqlite3_bind_int64(st, i++, q->since * 1000);
	if (q->host[0])
		sqlite3_bind_text(st, i++, q->host, -1, SQLITE_TRANSIENT);
	if (q->tool[0])
		sqlite3_bind_text(st, i++, q->tool, -1, SQLITE_TRANSIENT);
	if (q->session)
		sqlite3_bind_int64(st, i++, q->session);
	if (q->outcome[0])
		sqlite3_bind_text(st, i++, q->outcome, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, i, limit);
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW)
		rc = emit(st, cb, arg);
	if (rc == 0 && step != SQLITE_DONE) {
		adb_seterr(err, errlen, "query: %s", sqlite3_errmsg(db));
		rc = -1;
	}
	sqlite3_finalize(st);
	return rc;
}

/*
 * History: the end records of sessions or delegations, newest `limit'
 * at or after `since', given oldest first as record text (no hash).  A
 * job is found by the text of its id in the record, then checked
 * exactly; the lists leave out claude's answers, which may be large.
 */
int
audit_history(const struct log_histq *q, audit_cb cb, void *arg, char *err,
    size_t errlen)
{
	sqlite3		*db = audit_handle();
	sqlite3_stmt	*st;
	json_t		*o;
	json_error_t	 jerr;
	const char	*rec;
	char		 sql[512], pat[64], *s;
	uint32_t	 limit;
	int		 step = SQLITE_DONE, rc = 0, i = 1, brief, n;

	if (db == NULL) {
		adb_seterr(err, errlen, "no audit database is open");
		return -1;
	}
	if (q->kind < HIST_SESSIONS || q->kind > HIST_JOBS) {
		adb_seterr(err, errlen, "unknown history query %u", q->kind);
		return -1;
	}
	limit = q->limit == 0 || q->limit > LOG_QUERY_MAX ? HIST_LIMIT_DEF :
	    q->limit;
	pat[0] = '\0';
	if (q->kind == HIST_JOB) {
		n = snprintf(pat, sizeof(pat), "\"job_id\":\"%s\"", q->job_id);
		if (n < 0 || (size_t)n >= sizeof(pat) || q->job_id[0] == '\0') {
			adb_seterr(err, errlen, "bad job id");
			return -1;
		}
		limit = 1;
	} else if (q->kind == HIST_JOBS)
		strlcpy(pat, "\"job_id\":\"", sizeof(pat));
	snprintf(sql, sizeof(sql), "SELECT seq, record FROM (SELECT seq, "
	    "record FROM records WHERE type = ? AND event = 'end'%s%s ORDER "
	    "BY seq DESC LIMIT ?) ORDER BY seq",
	    q->since > 0 ? " AND time >= ?" : "",
	    pat[0] ? " AND instr(record, ?) > 0" : "");
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		adb_seterr(err, errlen, "history: %s", sqlite3_errmsg(db));
		return -1;
	}
	sqlite3_bind_text(st, i++, q->kind == HIST_SESSIONS ? "session" :
	    "delegation", -1, SQLITE_STATIC);
	if (q->since > 0)
		sqlite3_bind_int64(st, i++, q->since * 1000);
	if (pat[0])
		sqlite3_bind_text(st, i++, pat, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, i, limit);
	brief = q->kind == HIST_DELEGATIONS || q->kind == HIST_JOBS;
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
		rec = (const char *)sqlite3_column_text(st, 1);
		if (rec == NULL || (o = json_loads(rec, 0, &jerr)) == NULL)
			continue;
		/* the text matched; the field must too */
		if (pat[0] && (!json_is_string(json_object_get(o, "job_id")) ||
		    (q->kind == HIST_JOB && strcmp(q->job_id,
		    json_string_value(json_object_get(o, "job_id"))) != 0))) {
			json_decref(o);
			continue;
		}
		/* the answer, not the rest of the result (cost, turns) */
		if (brief) {
			json_object_del(o, "text");
			json_object_del(json_object_get(o, "result"), "result");
		}
		if ((s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)) != NULL)
			rc = cb(sqlite3_column_int64(st, 0), s, strlen(s),
			    arg);
		free(s);
		json_decref(o);
	}
	if (rc == 0 && step != SQLITE_DONE) {
		adb_seterr(err, errlen, "history: %s", sqlite3_errmsg(db));
		rc = -1;
	} else if (rc != 0)
		adb_seterr(err, errlen, "history: the answer could not be "
		    "sent");
	sqlite3_finalize(st);
	return rc;
}

/* the latest checkpoint: where the chain starts now */
static int
chain_base(uint64_t *seq, uint8_t hash[HASH_LEN], char *err,
    size_t errlen)
{
	sqlite3		*db = audit_handle();
	sqlite3_stmt	*st;
	json_t		*o, *p, *h;
	json_error_t	 jerr;
	const char	*rec;
	int		 rc = 0;

	*seq = 0;
	memset(hash, 0, HASH_LEN);
	if (sqlite3_prepare_v2(db, "SELECT seq, record FROM records WHERE "
	    "type = 'checkpoint' ORDER BY seq DESC LIMIT 1", -1, &st,
	    NULL) != SQLITE_OK) {
		adb_seterr(err, errlen, "%s", sqlite3_errmsg(db));
		return -1;
	}
	if (sqlite3_step(st) == SQLITE_ROW) {
		rec = (const char *)sqlite3_column_text(st, 1);
		o = rec ? json_loads(rec, 0, &jerr) : NULL;
		p = json_object_get(o, "pruned_through");
		h = json_object_get(o, "pruned_hash");
		if (!json_is_integer(p) || !json_is_string(h) ||
		    hex_decode(json_string_value(h), hash, HASH_LEN) == -1) {
			adb_seterr(err, errlen, "record %lld: checkpoint is "
			    "malformed: edited",
			    (long long)sqlite3_column_int64(st, 0));
			rc = -1;
		} else
			*seq = json_integer_value(p);
		json_decref(o);
	}
	sqlite3_finalize(st);
	return rc;
}

/*
 * Walk the chain from the last checkpoint and name the first record that
 * does not match; then check it still holds every exported head.
 */
int
audit_verify(const struct ahead *heads, size_t nheads, char *msg,
    size_t msglen)
{
	sqlite3		*db = audit_handle();
	sqlite3_stmt	*st;
	struct acols	 c;
	SHA2_CTX	 ctx;
	json_t		*o, *cur = NULL;
	json_error_t	 jerr;
	uint8_t		 prev[HASH_LEN], d[HASH_LEN];
	char		 hex[HASH_HEXLEN], prevhex[HASH_HEXLEN];
	const char	*rec, *hash;
	uint64_t	 base, expect, seq, n = 0;
	size_t		 i;
	int		 rc = -1;

	if (db == NULL) {
		adb_seterr(msg, msglen, "no audit database is open");
		return -1;
	}
	if (chain_base(&base, prev, msg, msglen) == -1)
		return -1;
	if (sqlite3_prepare_v2(db, "SELECT seq, time, type, event, session, "
	    "request, host, tool, outcome, record, hash FROM records ORDER "
	    "BY seq", -1, &st, NULL) != SQLITE_OK) {
		adb_seterr(msg, msglen, "%s", sqlite3_errmsg(db));
		return -1;
	}
	expect = base + 1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		seq = sqlite3_column_int64(st, 0);
		rec = (const char *)sqlite3_column_text(st, 9);
		hash = (const char *)sqlite3_column_text(st, 10);
		if (seq != expect) {
			if (seq == expect + 1)
				adb_seterr(msg, msglen, "record %" PRIu64
				    " is missing: deleted", expect);
			else
				adb_seterr(msg, msglen, "records %" PRIu64 "-%"
				    PRIu64 " are missing: deleted", expect,
				    seq - 1);
			goto done;
		}
		o = rec != NULL ? json_loads(rec, JSON_REJECT_DUPLICATES,
		    &jerr) : NULL;
		if (o == NULL || adb_columns(o, &c) == -1) {
			json_decref(o);
			adb_seterr(msg, msglen, "record %" PRIu64 ": not a "
			    "complete record: edited", seq);
			goto done;
		}
		/* c points into o until the end of this turn */
		cur = o;
		if ((uint64_t)c.seq != seq) {
			adb_seterr(msg, msglen, "record %" PRIu64 ": holds "
			    "record %lld: reordered", seq, (long long)c.seq);
			goto done;
		}
		hex_encode(prev, HASH_LEN, prevhex);
		if (!adb_streq(c.prev, prevhex)) {
			if (seq == base + 1 && base > 0)
				adb_seterr(msg, msglen, "record %" PRIu64
				    ": does not follow the checkpoint's hash: "
				    "the checkpoint or this record was edited",
				    seq);
			else
				adb_seterr(msg, msglen, "record %" PRIu64 ": "
				    "edited (record %" PRIu64 " chains to "
				    "another hash)", seq - 1, seq);
			goto done;
		}
		SHA256Init(&ctx);
		SHA256Update(&ctx, (const uint8_t *)prev, sizeof(prev));
		SHA256Update(&ctx, (const uint8_t *)rec, strlen(rec));
		SHA256Final(d, &ctx);
		hex_encode(d, HASH_LEN, hex);
		if (hash == NULL || strcmp(hash, hex) != 0) {
			adb_seterr(msg, msglen, "record %" PRIu64 ": edited "
			    "(its content does not match its hash)", seq);
			goto done;
		}
		if (sqlite3_column_int64(st, 1) != c.ms ||
		    !coleq(st, 2, c.type) || !coleq(st, 3, c.event) ||
		    (sqlite3_column_type(st, 4) == SQLITE_NULL ? -1 :
		    sqlite3_column_int64(st, 4)) != c.session ||
		    (sqlite3_column_type(st, 5) == SQLITE_NULL ? -1 :
		    sqlite3_column_int64(st, 5)) != c.request ||
		    !coleq(st, 6, c.host) || !coleq(st, 7, c.tool) ||
		    !coleq(st, 8, c.outcome)) {
			adb_seterr(msg, msglen, "record %" PRIu64 ": a column "
			    "no longer matches the record: edited", seq);
			goto done;
		}
		memcpy(prev, d, sizeof(prev));
		json_decref(cur);
		cur = NULL;
		expect++;
		n++;
	}
	sqlite3_finalize(st);
	st = NULL;

	/* the chain ends at expect - 1 with hash prev */
	for (i = 0; i < nheads; i++) {
		if (heads[i].seq <= base)
			continue;	/* pruned since */
		if (heads[i].seq > expect - 1) {
			adb_seterr(msg, msglen, "truncated: the chain ends at "
			    "record %" PRIu64 " but %s exported record %"
			    PRIu64, expect - 1, heads[i].source, heads[i].seq);
			goto done;
		}
		if (sqlite3_prepare_v2(db, "SELECT hash FROM records WHERE "
		    "seq = ?", -1, &st, NULL) != SQLITE_OK)
			goto dberr;
		sqlite3_bind_int64(st, 1, heads[i].seq);
		hash = sqlite3_step(st) == SQLITE_ROW ?
		    (const char *)sqlite3_column_text(st, 0) : NULL;
		if (!adb_streq(hash, heads[i].hash)) {
			adb_seterr(msg, msglen, "record %" PRIu64 ": differs "
			    "from the head exported in %s: the chain was "
			    "rewritten", heads[i].seq, heads[i].source);
			goto done;
		}
		sqlite3_finalize(st);
		st = NULL;
	}
	hex_encode(prev, HASH_LEN, hex);
	if (n == 0)
		adb_seterr(msg, msglen, "no records%s", base ?
		    " since the last checkpoint" : "");
	else
		adb_seterr(msg, msglen, "%" PRIu64 " records verified (%" PRIu64
		    "-%" PRIu64 "%s), %zu exported head%s checked; head %"
		    PRIu64 ":%s", n, base + 1, expect - 1, base ?
		    ", older ones pruned" : "", nheads, nheads == 1 ? "" : "s",
		    expect - 1, hex);
	rc = 0;
	goto done;
 dberr:
	adb_seterr(msg, msglen, "%s", sqlite3_errmsg(db));
 done:
	json_decref(cur);
	if (st != NULL)
		sqlite3_finalize(st);
	return rc;
}

