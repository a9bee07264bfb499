/*
 * logger_relay.c: the relay's store, in the logger.
 *
 * Relay channels are named queues of messages that agents (MCP sessions,
 * on this machine or over HTTP) post to and read from.  They are kept in
 * an SQLite database in WAL mode that one process owns: the logger, which
 * already holds a database, is fed only over imsg and may reach nothing
 * but its own directories (Landlock, bridged.c gives it the relay
 * database's directory with -L).  The frontend never touches a file: it
 * checks a tool call's arguments, sends the logger one JSON request with
 * the caller's principal and answers the call with what comes back
 * (fe_relay.c).  Access is decided here, where the channel's creator is
 * known, from the principal and the config's relay allow rules.
 *
 * Message ids are one sequence over every channel (AUTOINCREMENT: never
 * reused, not even after a clear), so a cursor that names a message no
 * longer there is known to be stale rather than taken for "from the
 * start".  Every send and clear is an audit record (channel, sender,
 * principal, size, SHA-256 of the content; never the content), sealed
 * into the chain like any other record.
 */

#include <sys/types.h>

#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event.h>
#include <jansson.h>
#include <sha2.h>
#include <sqlite3.h>

#include "logger_audit.h"
#include "bridged.h"
#include "imsg.h"
#include "log.h"

#define RELAY_CHUNK		(64 * 1024)
#define RELAY_LIMIT_DEF		50
#define RELAY_LIMIT_MAX		1000
#define RELAY_STATUS_LAST	3	/* latest messages per channel */
#define RELAY_PRUNE_EVERY	600	/* seconds */
/* a message's keys, id and time in a result, its content aside */
#define MSG_ENVELOPE		100

static sqlite3			*rdb;
static char			 rdb_path[PATH_MAX];
static const struct bridged_conf *rconf;
static struct event		 ev_rprune;
/*
 * A delegation's back-channel (fe_backchan.c), for the request being
 * served: scope, the channels it is confined to; owner, the principal
 * that made the ask_claude call, whose channels it shares and who owns
 * those it creates.  NULL for everyone else.
 */
static const char		*rscope, *rowner;

static const char rschema[] =
    "CREATE TABLE IF NOT EXISTS channels ("
    " name TEXT PRIMARY KEY, creator TEXT NOT NULL,"
    " created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS messages ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL,"
    " sender TEXT NOT NULL, principal TEXT NOT NULL,"
    " content TEXT NOT NULL, time INTEGER NOT NULL, idem TEXT);"
    "CREATE INDEX IF NOT EXISTS messages_channel ON messages(channel, id);"
    "CREATE INDEX IF NOT EXISTS messages_principal ON messages(principal);"
    "CREATE UNIQUE INDEX IF NOT EXISTS messages_idem ON"
    " messages(channel, idem) WHERE idem IS NOT NULL;"
    "CREATE TABLE IF NOT EXISTS cursors ("
    " channel TEXT NOT NULL, consumer TEXT NOT NULL, id INTEGER NOT NULL,"
    " PRIMARY KEY (channel, consumer));";

static int	 rsql(const char *);
static void	 rprune(int, short, void *);
static void	 reply(struct imsgev *, uint32_t, json_t *);
static json_t	*rerror(const char *, ...)
		    __attribute__((__format__ (printf, 1, 2)));
static int	 may(const char *, const char *, const char *, uint32_t);
static char	*creator_of(const char *);
static json_t	*do_may(json_t *, const char *);
static json_t	*do_send(json_t *, const char *, json_t **);
static json_t	*do_receive(json_t *, const char *);
static json_t	*do_ack(json_t *, const char *);
static json_t	*do_list(json_t *, const char *, int);
static json_t	*do_clear(json_t *, const char *, json_t **);
static json_t	*do_tail(json_t *);
static json_t	*do_get(json_t *, const char *);
static int64_t	 one_int(const char *, const char *, const char *, int64_t,
		    int64_t);
static json_t	*messages_after(const char *, int64_t, int, size_t, size_t,
		    int *);

static int
rsql(const char *sql)
{
	char	*e = NULL;

	if (sqlite3_exec(rdb, sql, NULL, NULL, &e) != SQLITE_OK) {
		log_warnx("relay: %s: %s", rdb_path, e ? e : "?");
		sqlite3_free(e);
		return -1;
	}
	return 0;
}

void
relay_close(void)
{
	if (rdb != NULL)
		sqlite3_close_v2(rdb);
	rdb = NULL;
	rdb_path[0] = '\0';
	if (evtimer_initialized(&ev_rprune))
		evtimer_del(&ev_rprune);
}

/* a new configuration: (re)open the database when its path changed */
void
relay_configure(const struct bridged_conf *conf)
{
	struct timeval	 tv = { 1, 0 };

	rconf = conf;
	if (strcmp(rdb_path, conf->relay_db) == 0)
		return;
	relay_close();
	if (conf->relay_db[0] == '\0')
		return;
	if (sqlite3_open_v2(conf->relay_db, &rdb, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, audit_vfs()) !=
	    SQLITE_OK) {
		log_warnx("relay: open %s: %s", conf->relay_db,
		    rdb ? sqlite3_errmsg(rdb) : "out of memory");
		relay_close();
		return;
	}
	strlcpy(rdb_path, conf->relay_db, sizeof(rdb_path));
	sqlite3_busy_timeout(rdb, 2000);
	if (rsql("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
	    "PRAGMA temp_store=MEMORY;") == -1 || rsql(rschema) == -1) {
		relay_close();
		return;
	}
	evtimer_set(&ev_rprune, rprune, NULL);
	evtimer_add(&ev_rprune, &tv);
}

/*
 * Messages older than relay retain go: looked for every 10 minutes, or
 * every quarter of a shorter retention.
 */
static void
rprune(int fd, short ev, void *arg)
{
	struct timeval	 tv = { RELAY_PRUNE_EVERY, 0 };

	if (rconf->relay_retain / 4 < RELAY_PRUNE_EVERY)
		tv.tv_sec = rconf->relay_retain / 4 > 0 ?
		    rconf->relay_retain / 4 : 1;
	sqlite3_stmt	*st;
	int64_t		 cut;

	if (rdb == NULL)
		return;
	cut = (int64_t)time(NULL) * 1000 - rconf->relay_retain * 1000;
	if (sqlite3_prepare_v2(rdb, "DELETE FROM messages WHERE time < ?", -1,
	    &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, cut);
		if (sqlite3_step(st) != SQLITE_DONE)
			log_warnx("relay: prune: %s", sqlite3_errmsg(rdb));
		sqlite3_finalize(st);
	}
	evtimer_add(&ev_rprune, &tv);
}

static json_t *
rerror(const char *fmt, ...)
{
	va_list	 ap;
	char	 buf[512];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return json_pack("{s:s}", "error", buf);
}

/* the answer in chunks, then the end; the object is stolen */
static void
reply(struct imsgev *iev, uint32_t peerid, json_t *o)
{
	char	*s;
	size_t	 len, off, n;

	if (o == NULL)
		o = rerror("relay: out of memory");
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	len = s != NULL ? strlen(s) : 0;
	for (off = 0; off < len; off += n) {
		n = len - off > RELAY_CHUNK ? RELAY_CHUNK : len - off;
		if (imsgev_compose(iev, IMSG_RELAY_DATA, peerid, -1, s + off,
		    n) == -1)
			log_warn("relay: reply");
	}
	free(s);
	if (imsgev_compose(iev, IMSG_RELAY_REPLY, peerid, -1, NULL, 0) == -1)
		log_warn("relay: reply");
}

/*
 * May principal do right on the channel?  Its creator may do anything;
 * anyone else needs a relay allow rule that matches the name and names
 * the principal or nobody.  creator NULL: the channel does not exist.
 */
static int
may(const char *channel, const char *creator, const char *principal,
    uint32_t right)
{
	/* a delegation's scope: its pattern, and its caller's channels */
	if (rscope != NULL && fnmatch(rscope, channel, 0) != 0)
		return 0;
	if (rscope != NULL && rowner != NULL && creator != NULL &&
	    strcmp(creator, rowner) == 0)
		return 1;
	return config_relay_may(rconf, channel, creator, principal, right);
}

static char *
creator_of(const char *channel)
{
	sqlite3_stmt	*st;
	char		*c = NULL;

	if (sqlite3_prepare_v2(rdb, "SELECT creator FROM channels WHERE "
	    "name = ?", -1, &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_text(st, 1, channel, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		c = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return c;
}

static const char *
str(json_t *req, const char *key)
{
	json_t	*v = json_object_get(req, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static json_t *
refused(const char *what, const char *channel, const char *principal)
{
	return rerror("%s: channel \"%s\" belongs to another principal and "
	    "no relay allow rule in bridged.conf lets %s %s it", what,
	    channel, principal, what + strlen("channel_"));
}

static json_t *
do_send(json_t *req, const char *principal, json_t **event)
{
	const char	*ch = str(req, "channel"), *content = str(req, "content");
	const char	*sender = str(req, "sender"), *idem = str(req, "idem");
	char		*creator;
	sqlite3_stmt	*st = NULL;
	int64_t		 id, count, now;
	uint8_t		 d[SHA256_DIGEST_LENGTH];
	char		 hex[SHA256_DIGEST_STRING_LENGTH];
	json_t		*rec;
	SHA2_CTX	 ctx;
	int		 i;

	if (ch == NULL || content == NULL || sender == NULL)
		return rerror("relay: malformed request");
	creator = creator_of(ch);
	if (rscope != NULL && fnmatch(rscope, ch, 0) != 0) {
		free(creator);
		return rerror("channel_send: %s may use only the channels "
		    "matching \"%s\"", principal, rscope);
	}
	if (creator != NULL && !may(ch, creator, principal, RELAY_SEND)) {
		free(creator);
		return refused("channel_send", ch, principal);
	}
	if (rsql("BEGIN IMMEDIATE") == -1) {
		free(creator);
		return rerror("channel_send: the relay database is busy or "
		    "failing (see the daemon log); nothing was sent");
	}
	/* the same key on the same channel: the message already sent */
	if (idem != NULL) {
		if (sqlite3_prepare_v2(rdb, "SELECT id FROM messages WHERE "
		    "channel = ? AND idem = ?", -1, &st, NULL) != SQLITE_OK)
			goto dberr;
		sqlite3_bind_text(st, 1, ch, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, idem, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			id = sqlite3_column_int64(st, 0);
			sqlite3_finalize(st);
			rsql("COMMIT");
			free(creator);
			return json_pack("{s:I, s:b}", "id", (json_int_t)id,
			    "duplicate", 1);
		}
		sqlite3_finalize(st);
		st = NULL;
	}
	if (sqlite3_prepare_v2(rdb, "SELECT count(*) FROM messages WHERE "
	    "channel = ?", -1, &st, NULL) != SQLITE_OK)
		goto dberr;
	sqlite3_bind_text(st, 1, ch, -1, SQLITE_STATIC);
	count = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) :
	    0;
	sqlite3_finalize(st);
	st = NULL;
	if (count >= rconf->relay_channel_max) {
		rsql("ROLLBACK");
		free(creator);
		return rerror("channel_send: channel \"%s\" is full (%lld "
		    "messages, relay max channel in bridged.conf): clear it "
		    "with channel_clear or wait for old ones to expire", ch,
		    (long long)count);
	}
	/* the quota: what one principal may have kept, over all channels */
	count = one_int("SELECT count(*) FROM messages WHERE principal = ?",
	    principal, NULL, -1, 0);
	if (count >= rconf->relay_principal_max) {
		rsql("ROLLBACK");
		free(creator);
		return rerror("channel_send: %s already has %lld messages kept "
		    "(relay max principal in bridged.conf): clear a channel "
		    "or wait for old ones to expire", principal,
		    (long long)count);
	}
	now = (int64_t)time(NULL) * 1000;
	if (creator == NULL) {
		if (sqlite3_prepare_v2(rdb, "INSERT INTO channels (name, "
		    "creator, created) VALUES (?,?,?)", -1, &st, NULL) !=
		    SQLITE_OK)
			goto dberr;
		sqlite3_bind_text(st, 1, ch, -1, SQLITE_STATIC);
		/* a delegate's channel is its caller's: it outlives the token */
		sqlite3_bind_text(st, 2, rscope != NULL && rowner != NULL ?
		    rowner : principal, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, now);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto dberr;
		sqlite3_finalize(st);
		st = NULL;
	}
	if (sqlite3_prepare_v2(rdb, "INSERT INTO messages (channel, sender, "
	    "principal, content, time, idem) VALUES (?,?,?,?,?,?)", -1, &st,
	    NULL) != SQLITE_OK)
		goto dberr;
	sqlite3_bind_text(st, 1, ch, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, sender, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, principal, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, content, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, now);
	if (idem != NULL)
		sqlite3_bind_text(st, 6, idem, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 6);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto dberr;
	sqlite3_finalize(st);
	st = NULL;
	id = sqlite3_last_insert_rowid(rdb);
	if (rsql("COMMIT") == -1)
		goto dberr;
	free(creator);

	SHA256Init(&ctx);
	SHA256Update(&ctx, (const uint8_t *)content, strlen(content));
	SHA256Final(d, &ctx);
	for (i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O, s:I, s:I, s:s}",
	    "type", "relay", "event", "send", "channel", ch, "sender", sender,
	    "principal", principal, "session", json_object_get(req,
	    "session") ? json_object_get(req, "session") : json_null(),
	    "id", (json_int_t)id, "size", (json_int_t)strlen(content),
	    "sha256", hex);
	logger_record(rec);
	/* the creator goes along: the frontend tells only who may receive */
	*event = json_pack("{s:s, s:s, s:I, s:s}", "op", "send", "channel", ch,
	    "id", (json_int_t)id, "creator", principal);
	if (*event != NULL && (creator = creator_of(ch)) != NULL) {
		json_object_set_new(*event, "creator", json_string(creator));
		free(creator);
	}
	return json_pack("{s:I}", "id", (json_int_t)id);
 dberr:
	log_warnx("relay: send: %s", sqlite3_errmsg(rdb));
	if (st != NULL)
		sqlite3_finalize(st);
	rsql("ROLLBACK");
	free(creator);
	return rerror("channel_send: the relay database failed (see the "
	    "daemon log); nothing was sent");
}

/*
 * Messages of a channel after an id, oldest first: at most limit, and no
 * more content than budget bytes; *more says whether some were left for
 * the next receive.  The first message is always given, from byte offset
 * (moved to a character's start) and, when its content alone is over
 * budget, cut at a character's end with truncated, offset and length
 * (bytes) saying which part this is: a result has a size limit
 * (limits { result size }) a message may exceed, and no part is lost.
 */
static json_t *
messages_after(const char *ch, int64_t since, int limit, size_t budget,
    size_t offset, int *more)
{
	const unsigned char	*txt;
	size_t			 start, cut, env;
	sqlite3_stmt	*st;
	json_t		*arr, *m;
	size_t		 used = 0, len;
	time_t		 secs;
	struct tm	 tm;
	char		 tbuf[40];
	int64_t		 ms;
	int		 n = 0;

	*more = 0;
	if ((arr = json_array()) == NULL)
		return NULL;
	if (sqlite3_prepare_v2(rdb, "SELECT id, sender, content, time FROM "
	    "messages WHERE channel = ? AND id > ? ORDER BY id LIMIT ?", -1,
	    &st, NULL) != SQLITE_OK) {
		json_decref(arr);
		return NULL;
	}
	sqlite3_bind_text(st, 1, ch, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, since);
	sqlite3_bind_int(st, 3, limit + 1);
	while (sqlite3_step(st) == SQLITE_ROW) {
		len = sqlite3_column_bytes(st, 2);
		/* what the result spends on a message besides its content */
		env = MSG_ENVELOPE + strlen(ch) + sqlite3_column_bytes(st, 1);
		if (n == limit || (n > 0 && used + env + len > budget)) {
			*more = 1;
			break;
		}
		ms = sqlite3_column_int64(st, 3);
		secs = ms / 1000;
		gmtime_r(&secs, &tm);
		strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%SZ", &tm);
		txt = sqlite3_column_text(st, 2);
		start = n == 0 && offset < len ? offset : 0;
		while (start > 0 && start < len && (txt[start] & 0xc0) == 0x80)
			start++;
		cut = len - start;
		if (cut + env > budget) {
			cut = budget > env ? budget - env : 1;
			while (cut > 0 && (txt[start + cut] & 0xc0) == 0x80)
				cut--;
			/* never an empty part: a whole character at least */
			while (cut == 0 || (start + cut < len &&
			    (txt[start + cut] & 0xc0) == 0x80))
				cut++;
		}
		m = json_pack("{s:I, s:s, s:s, s:s%, s:s}",
		    "id", (json_int_t)sqlite3_column_int64(st, 0),
		    "channel", ch,
		    "sender", (const char *)sqlite3_column_text(st, 1),
		    "content", (const char *)txt + start, cut,
		    "time", tbuf);
		if (m != NULL && (start > 0 || cut < len - start)) {
			json_object_set_new(m, "truncated", json_boolean(
			    start + cut < len));
			json_object_set_new(m, "offset", json_integer(start));
			json_object_set_new(m, "length", json_integer(len));
		}
		if (m == NULL || json_array_append_new(arr, m) == -1)
			break;
		used += env + cut;
		if (start + cut < len) {
			/* the rest of this one first */
			*more = 1;
			break;
		}
		n++;
	}
	sqlite3_finalize(st);
	return arr;
}

static int64_t
one_int(const char *sql, const char *a, const char *b, int64_t c,
    int64_t dflt)
{
	sqlite3_stmt	*st;
	int64_t		 v = dflt;

	if (sqlite3_prepare_v2(rdb, sql, -1, &st, NULL) != SQLITE_OK)
		return dflt;
	if (a != NULL)
		sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	if (b != NULL)
		sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	else if (c >= 0)
		sqlite3_bind_int64(st, 2, c);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/*
 * since: the request's, else the consumer's cursor, else 0.  A since
 * that names no message of the channel (cleared, expired, never there)
 * is stale: no messages and a warning, never a silent replay from the
 * start.  A consumer's stale cursor is reset, so its next receive reads
 * what the channel holds.
 */
static json_t *
do_receive(json_t *req, const char *principal)
{
	const char	*ch = str(req, "channel"), *consumer = str(req,
			    "consumer");
	char		*creator;
	json_t		*v, *msgs, *o;
	int64_t		 since = 0, last;
	int		 limit = RELAY_LIMIT_DEF, more, from_consumer = 0;
	size_t		 budget, offset = 0;

	if (ch == NULL)
		return rerror("relay: malformed request");
	creator = creator_of(ch);
	if (creator != NULL && !may(ch, creator, principal, RELAY_RECEIVE)) {
		free(creator);
		return refused("channel_receive", ch, principal);
	}
	free(creator);
	if (json_is_integer(v = json_object_get(req, "limit")))
		limit = json_integer_value(v);
	if (limit < 1 || limit > RELAY_LIMIT_MAX)
		limit = RELAY_LIMIT_DEF;
	budget = json_is_integer(v = json_object_get(req, "budget")) ?
	    (size_t)json_integer_value(v) : 20000;
	if (json_is_integer(v = json_object_get(req, "since")))
		since = json_integer_value(v);
	else if (consumer != NULL) {
		since = one_int("SELECT id FROM cursors WHERE channel = ? AND "
		    "consumer = ?", ch, consumer, -1, 0);
		from_consumer = 1;
	}
	last = one_int("SELECT max(id) FROM messages WHERE channel = ?", ch,
	    NULL, -1, 0);
	if (since > 0 && one_int("SELECT count(*) FROM messages WHERE "
	    "channel = ? AND id = ?", ch, NULL, since, 0) == 0) {
		if (from_consumer)
			one_int("DELETE FROM cursors WHERE channel = ? AND "
			    "consumer = ?", ch, consumer, -1, 0);
		return json_pack("{s:[], s:b, s:I, s:I, s:b}", "messages",
		    "cursor_stale", 1, "since", (json_int_t)since, "last_id",
		    (json_int_t)last, "more", 0);
	}
	if (json_is_integer(v = json_object_get(req, "offset")) &&
	    json_integer_value(v) > 0) {
		offset = json_integer_value(v);
		limit = 1;
	}
	if ((msgs = messages_after(ch, since, limit, budget, offset,
	    &more)) == NULL)
		return rerror("channel_receive: the relay database failed "
		    "(see the daemon log)");
	o = json_pack("{s:o, s:b, s:I, s:I, s:b}", "messages", msgs,
	    "cursor_stale", 0, "since", (json_int_t)since, "last_id",
	    (json_int_t)last, "more", more);
	return o;
}

/* a consumer's cursor: the last message it has dealt with */
static json_t *
do_ack(json_t *req, const char *principal)
{
	const char	*ch = str(req, "channel"), *consumer = str(req,
			    "consumer");
	json_t		*v = json_object_get(req, "id");
	char		*creator;
	sqlite3_stmt	*st;
	int64_t		 id;

	if (ch == NULL || consumer == NULL || !json_is_integer(v))
		return rerror("relay: malformed request");
	id = json_integer_value(v);
	creator = creator_of(ch);
	if (creator == NULL)
		return rerror("channel_ack: there is no channel \"%s\"", ch);
	if (!may(ch, creator, principal, RELAY_RECEIVE)) {
		free(creator);
		return refused("channel_ack", ch, principal);
	}
	free(creator);
	if (one_int("SELECT count(*) FROM messages WHERE channel = ? AND "
	    "id = ?", ch, NULL, id, 0) == 0)
		return rerror("channel_ack: channel \"%s\" has no message %lld "
		    "(cleared, expired or never sent)", ch, (long long)id);
	if (sqlite3_prepare_v2(rdb, "INSERT INTO cursors (channel, consumer, "
	    "id) VALUES (?,?,?) ON CONFLICT (channel, consumer) DO UPDATE "
	    "SET id = excluded.id", -1, &st, NULL) != SQLITE_OK)
		return rerror("channel_ack: %s", sqlite3_errmsg(rdb));
	sqlite3_bind_text(st, 1, ch, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, consumer, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, id);
	if (sqlite3_step(st) != SQLITE_DONE) {
		sqlite3_finalize(st);
		return rerror("channel_ack: %s", sqlite3_errmsg(rdb));
	}
	sqlite3_finalize(st);
	return json_pack("{s:s, s:s, s:I}", "channel", ch, "consumer",
	    consumer, "id", (json_int_t)id);
}

/*
 * The channels the principal may receive from (all of them for
 * bridgectl): name, count, last id, senders, last time; with last > 0,
 * each with its latest messages (channel_status, show channel).
 */
static json_t *
do_list(json_t *req, const char *principal, int last)
{
	sqlite3_stmt	*st, *ss;
	json_t		*arr, *o, *senders, *msgs;
	const char	*name, *creator, *only = str(req, "channel");
	int		 admin = json_is_true(json_object_get(req, "admin"));
	int64_t		 lastid, lastms, count, from;
	time_t		 secs;
	struct tm	 tm;
	char		 tbuf[40];
	int		 more;

	if ((arr = json_array()) == NULL)
		return NULL;
	if (sqlite3_prepare_v2(rdb, "SELECT c.name, c.creator, count(m.id), "
	    "max(m.id), max(m.time) FROM channels c LEFT JOIN messages m ON "
	    "m.channel = c.name WHERE ?1 IS NULL OR c.name = ?1 GROUP BY "
	    "c.name ORDER BY c.name", -1, &st, NULL) != SQLITE_OK) {
		json_decref(arr);
		return rerror("relay: %s", sqlite3_errmsg(rdb));
	}
	if (only != NULL)
		sqlite3_bind_text(st, 1, only, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		name = (const char *)sqlite3_column_text(st, 0);
		creator = (const char *)sqlite3_column_text(st, 1);
		if (!admin && !may(name, creator, principal, RELAY_RECEIVE))
			continue;
		count = sqlite3_column_int64(st, 2);
		lastid = sqlite3_column_int64(st, 3);
		lastms = sqlite3_column_int64(st, 4);
		senders = json_array();
		if (sqlite3_prepare_v2(rdb, "SELECT DISTINCT sender FROM "
		    "messages WHERE channel = ? ORDER BY sender LIMIT 100",
		    -1, &ss, NULL) == SQLITE_OK) {
			sqlite3_bind_text(ss, 1, name, -1, SQLITE_STATIC);
			while (sqlite3_step(ss) == SQLITE_ROW)
				json_array_append_new(senders, json_string(
				    (const char *)sqlite3_column_text(ss, 0)));
			sqlite3_finalize(ss);
		}
		o = json_pack("{s:s, s:I, s:I, s:o}", "name", name, "count",
		    (json_int_t)count, "last_id", (json_int_t)lastid,
		    "senders", senders);
		if (o == NULL)
			continue;
		if (admin)
			json_object_set_new(o, "creator", json_string(creator));
		if (count > 0) {
			secs = lastms / 1000;
			gmtime_r(&secs, &tm);
			strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%SZ", &tm);
			json_object_set_new(o, "last_time", json_string(tbuf));
		} else
			json_object_set_new(o, "last_time", json_null());
		if (last > 0) {
			/* the latest `last': after the one before them */
			from = one_int("SELECT coalesce(min(id), 1) - 1 FROM "
			    "(SELECT id FROM messages WHERE channel = ? ORDER "
			    "BY id DESC LIMIT ?)", name, NULL, last, 0);
			msgs = messages_after(name, from, last, 1 << 20, 0,
			    &more);
			json_object_set_new(o, "messages", msgs != NULL ? msgs :
			    json_array());
		}
		json_array_append_new(arr, o);
	}
	sqlite3_finalize(st);
	return json_pack("{s:o}", "channels", arr);
}

/* bridgectl show channel -f: what came after since, whoever may read */
static json_t *
do_tail(json_t *req)
{
	const char	*ch = str(req, "channel");
	json_t		*msgs;
	int		 more;

	if (ch == NULL || !json_is_true(json_object_get(req, "admin")) ||
	    !json_is_integer(json_object_get(req, "since")))
		return rerror("relay: malformed request");
	if ((msgs = messages_after(ch, json_integer_value(json_object_get(req,
	    "since")), RELAY_LIMIT_MAX, 1 << 20, 0, &more)) == NULL)
		return rerror("relay: %s", sqlite3_errmsg(rdb));
	return json_pack("{s:o, s:b}", "messages", msgs, "more", more);
}

/*
 * May the principal receive from the channel (resources/subscribe)?  As
 * for channel_receive, one that does not exist yet may be waited on;
 * what is sent there later is told only to those who may receive it.
 * A subscriptions/listen stream asks for its channels at once: with
 * "channels" [NAME, ...] the answer is "may" {NAME: true|false, ...}.
 */
static int
may_receive(const char *ch, const char *principal)
{
	char	*creator;
	int	 ok;

	creator = creator_of(ch);
	ok = creator == NULL || may(ch, creator, principal, RELAY_RECEIVE);
	free(creator);
	return ok;
}

static json_t *
do_may(json_t *req, const char *principal)
{
	const char	*ch = str(req, "channel");
	json_t		*chs = json_object_get(req, "channels"), *v, *out;
	size_t		 i;

	if (json_is_array(chs) && json_array_size(chs) <= RELAY_LISTEN_MAX) {
		if ((out = json_object()) == NULL)
			return rerror("relay: out of memory");
		json_array_foreach(chs, i, v) {
			if (!json_is_string(v)) {
				json_decref(out);
				return rerror("relay: malformed request");
			}
			json_object_set_new(out, json_string_value(v),
			    json_boolean(may_receive(json_string_value(v),
			    principal)));
		}
		return json_pack("{s:o}", "may", out);
	}
	if (ch == NULL)
		return rerror("relay: malformed request");
	return json_pack("{s:b}", "may", may_receive(ch, principal));
}

/* one message, if the principal may read it (claude/channel pushes) */
static json_t *
do_get(json_t *req, const char *principal)
{
	const char	*ch = str(req, "channel");
	json_t		*v = json_object_get(req, "id"), *msgs, *m;
	char		*creator;
	int		 more;

	if (ch == NULL || !json_is_integer(v))
		return rerror("relay: malformed request");
	if ((creator = creator_of(ch)) == NULL)
		return rerror("no channel \"%s\"", ch);
	if (!may(ch, creator, principal, RELAY_RECEIVE)) {
		free(creator);
		return refused("channel_receive", ch, principal);
	}
	free(creator);
	msgs = messages_after(ch, json_integer_value(v) - 1, 1, 1 << 20, 0,
	    &more);
	m = json_array_get(msgs, 0);
	if (m == NULL || json_integer_value(json_object_get(m, "id")) !=
	    json_integer_value(v)) {
		json_decref(msgs);
		return rerror("no message %lld in channel \"%s\"",
		    (long long)json_integer_value(v), ch);
	}
	m = json_pack("{s:O}", "message", m);
	json_decref(msgs);
	return m;
}

/* all messages and cursors of a channel go; the channel stays, empty */
static json_t *
do_clear(json_t *req, const char *principal, json_t **event)
{
	const char	*ch = str(req, "channel");
	int		 admin = json_is_true(json_object_get(req, "admin"));
	char		*creator;
	int64_t		 n;
	json_t		*rec;

	if (ch == NULL)
		return rerror("relay: malformed request");
	if ((creator = creator_of(ch)) == NULL)
		return rerror("channel_clear: there is no channel \"%s\"", ch);
	if (!admin && !may(ch, creator, principal, RELAY_CLEAR)) {
		free(creator);
		return refused("channel_clear", ch, principal);
	}
	n = one_int("SELECT count(*) FROM messages WHERE channel = ?", ch,
	    NULL, -1, 0);
	if (rsql("BEGIN IMMEDIATE") == -1)
		return rerror("channel_clear: the relay database is busy or "
		    "failing (see the daemon log)");
	one_int("DELETE FROM messages WHERE channel = ?", ch, NULL, -1, 0);
	one_int("DELETE FROM cursors WHERE channel = ?", ch, NULL, -1, 0);
	if (rsql("COMMIT") == -1) {
		rsql("ROLLBACK");
		return rerror("channel_clear: the relay database failed (see "
		    "the daemon log); nothing was cleared");
	}
	rec = json_pack("{s:s, s:s, s:s, s:s, s:O, s:I}", "type", "relay",
	    "event", "clear", "channel", ch, "principal", principal,
	    "session", json_object_get(req, "session") ?
	    json_object_get(req, "session") : json_null(),
	    "messages", (json_int_t)n);
	logger_record(rec);
	*event = json_pack("{s:s, s:s, s:s}", "op", "clear", "channel", ch,
	    "creator", creator);
	free(creator);
	return json_pack("{s:s, s:I}", "channel", ch, "cleared",
	    (json_int_t)n);
}

/* one IMSG_RELAY_REQ from the frontend */
void
relay_request(struct imsgev *iev, uint32_t peerid, const void *data,
    size_t len)
{
	json_t		*req, *ans = NULL, *event = NULL;
	json_error_t	 jerr;
	const char	*op, *principal;
	char		*s;

	if ((req = json_loadb(data, len, 0, &jerr)) == NULL ||
	    (op = str(req, "op")) == NULL ||
	    (principal = str(req, "principal")) == NULL) {
		json_decref(req);
		reply(iev, peerid, rerror("relay: malformed request"));
		return;
	}
	rscope = str(req, "scope");
	rowner = str(req, "owner");
	if (rdb == NULL)
		ans = rerror("the relay is not available: %s",
		    rconf == NULL || rconf->relay_db[0] == '\0' ?
		    "no relay database in bridged.conf" : "its database "
		    "could not be opened (see the daemon log)");
	else if (strcmp(op, "send") == 0)
		ans = do_send(req, principal, &event);
	else if (strcmp(op, "receive") == 0)
		ans = do_receive(req, principal);
	else if (strcmp(op, "ack") == 0)
		ans = do_ack(req, principal);
	else if (strcmp(op, "list") == 0)
		ans = do_list(req, principal, 0);
	else if (strcmp(op, "status") == 0)
		ans = do_list(req, principal, RELAY_STATUS_LAST);
	else if (strcmp(op, "show") == 0)
		ans = do_list(req, principal, json_is_integer(json_object_get(
		    req, "last")) ? json_integer_value(json_object_get(req,
		    "last")) : 20);
	else if (strcmp(op, "clear") == 0)
		ans = do_clear(req, principal, &event);
	else if (strcmp(op, "tail") == 0)
		ans = do_tail(req);
	else if (strcmp(op, "get") == 0)
		ans = do_get(req, principal);
	else if (strcmp(op, "may") == 0)
		ans = do_may(req, principal);
	else
		ans = rerror("relay: unknown request \"%s\"", op);
	rscope = rowner = NULL;
	json_decref(req);
	reply(iev, peerid, ans);
	/* after the reply: a receive parked on it is woken by this */
	if (event != NULL) {
		if ((s = json_dumps(event, JSON_COMPACT)) != NULL &&
		    imsgev_compose(iev, IMSG_RELAY_EVENT, 0, -1, s,
		    strlen(s)) == -1)
			log_warn("relay: event");
		free(s);
		json_decref(event);
	}
}
