/*
 * ssh_ftemp.c: the file tools' temp files in the making, and the record
 * that lets a later worker clean up after one that died.
 *
 * Temp files.  A file is replaced by writing ".NAME.bridged-XXXXXX" next
 * to it and renaming that over it; a failed write removes its temp.  A
 * worker that dies, or a connection that drops, mid-write cannot, so the
 * worker keeps a record on the host: before a temp is made its path is
 * appended to ~/.bridged/temps-KEY-RAND (one write on a handle kept open
 * on the connection the file tools use).  KEY stands for this daemon's
 * host block (a hash of the local node name and the host's name, user,
 * address, port and base dir), so other daemons and host blocks on the
 * same account keep their own; RAND is new for each worker, and again
 * after the connection the record was open on is lost.  One record per
 * host, not per connection: the host has one worker, whose file tools
 * block it, so at most one of their temps is in the making at a time,
 * always on the connection the record is open on.  An Upload on a
 * channel of its own (ssh_fup.c) keeps its temp in the making between
 * its sections (book_keep, book_done): while any is, the record is not
 * restarted (a name taken by someone else is dropped from it by writing
 * it anew with the names still in the making), and no sweep runs, since
 * a record retired meanwhile may name one; the sweep is due again once
 * none is, and finds each of those renamed into place or removed, or
 * left behind by a failure as it should.  So the record in use is never
 * swept, and every other record of KEY belongs to a worker that is gone
 * or to a connection that is: nothing it names is in the making.  The
 * sweep (files_sweep) runs before the first tool after the
 * worker starts and again after a record was retired: a fixed command
 * removes what those records name and then the records, only lines of
 * the temp shape, inside the base dir, whose directory resolves to
 * itself (no symbolic link on the way), that are regular files and not
 * links; nothing else is touched.  The file tools wait for it; the
 * shell tools and ask_claude, which must not block the worker, only
 * start it.  A clean shutdown removes the record in use.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/queue.h>
#include <sys/utsname.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sha2.h>
#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include "bridged.h"
#include "log.h"
#include "ssh.h"
#include "ssh_files.h"
#include "ssh_shell.h"

#define TEMPS_DIR		".bridged"	/* in the remote home */
#define TEMPS_COMPACT		256	/* lines before the record restarts */

struct making;

/* the record of temps in the making on one host (see the top) */
struct tempbook {
	TAILQ_ENTRY(tempbook)	 entry;
	struct sshhost		*host;
	int			 swept;		/* nothing older is left */
	uint32_t		 connid;	/* f is open on its SFTP */
	sftp_session		 sftp;
	sftp_file		 f;
	int			 lines;
	int			 broken;	/* cannot keep one here */
	int			 left;		/* a temp could not go */
	char			 key[17];	/* the host block's */
	char			 name[64];	/* TEMPS_DIR "/temps-KEY-RAND" */
	TAILQ_HEAD(, making)	 making;	/* Uploads' (book_keep) */
};

/* the temp of an Upload on a channel of its own, in the making */
struct making {
	TAILQ_ENTRY(making)	 entry;
	char			 path[PATH_MAX];
};

static struct tempbook *book_get(struct sshhost *);
static void	 book_forget(struct tempbook *);
static void	 book_name(struct tempbook *);

static TAILQ_HEAD(, tempbook)	 books = TAILQ_HEAD_INITIALIZER(books);

/* ---- temp files in the making ---------------------------------------- */

/* a new name for the record of b: its old one is for the sweep now */
static void
book_name(struct tempbook *b)
{
	char			 rnd[9];

	rand_alnum(rnd, sizeof(rnd) - 1);
	snprintf(b->name, sizeof(b->name), "%s/temps-%s-%s", TEMPS_DIR,
	    b->key, rnd);
}

/* the record of host, made on first use */
static struct tempbook *
book_get(struct sshhost *host)
{
	struct tempbook	*b;
	struct utsname	 un;
	SHA2_CTX	 ctx;
	struct host	*h = host->conf;
	char		 hex[SHA256_DIGEST_STRING_LENGTH], port[16];

	TAILQ_FOREACH(b, &books, entry)
		if (b->host == host)
			return b;
	if (h == NULL)
		return NULL;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		fatal(NULL);
	b->host = host;
	TAILQ_INIT(&b->making);
	if (uname(&un) == -1)
		strlcpy(un.nodename, "?", sizeof(un.nodename));
	snprintf(port, sizeof(port), "%u", h->port);
	SHA256Init(&ctx);
	SHA256Update(&ctx, (const uint8_t *)un.nodename, strlen(un.nodename) + 1);
	SHA256Update(&ctx, (const uint8_t *)host->name, strlen(host->name) + 1);
	SHA256Update(&ctx, (const uint8_t *)h->user, strlen(h->user) + 1);
	SHA256Update(&ctx, (const uint8_t *)h->address, strlen(h->address) + 1);
	SHA256Update(&ctx, (const uint8_t *)port, strlen(port) + 1);
	SHA256Update(&ctx, (const uint8_t *)h->base_dir, strlen(h->base_dir) + 1);
	SHA256End(&ctx, hex);
	snprintf(b->key, sizeof(b->key), "%.16s", hex);
	book_name(b);
	TAILQ_INSERT_TAIL(&books, b, entry);
	return b;
}

/*
 * Drop the handle on the record without a word to the server: its
 * connection is going, or the file tools moved to another connection
 * (the SFTP server there closes it when it ends).
 */
static void
book_forget(struct tempbook *b)
{
	files_forget(b->f);
	b->f = NULL;
	b->sftp = NULL;
	b->connid = 0;
	b->lines = 0;
}

/*
 * A connection goes (NULL: the host does).  A temp in the making on it
 * may be left on the host, and only the connection the record is open
 * on can have had one: that record is retired, to be swept like a dead
 * worker's, and a new one begins.  What the other connections did is
 * finished, renamed or removed.
 */
void
files_conn_lost(struct sshhost *host, struct sshconn *conn)
{
	struct tempbook	*b;
	struct making	*m;

	TAILQ_FOREACH(b, &books, entry)
		if (b->host == host)
			break;
	if (b == NULL)
		return;
	if (conn == NULL) {
		book_forget(b);
		while ((m = TAILQ_FIRST(&b->making)) != NULL) {
			TAILQ_REMOVE(&b->making, m, entry);
			free(m);
		}
		TAILQ_REMOVE(&books, b, entry);
		free(b);
		return;
	}
	/* a record that could not be kept may be kept on the next one */
	b->broken = 0;
	if (b->f != NULL && b->connid == conn->id) {
		book_forget(b);
		book_name(b);
		b->swept = 0;
		b->left = 0;
	}
}

/*
 * The shared SFTP session sftp is about to be freed, its server having
 * ended (ssh_poolfiles.c): the record's handle on it is gone, and a new
 * session could come at the same address and take it for its own.  The
 * record itself stays on the host, and book_add opens it again.
 */
void
files_sftp_gone(struct sshhost *host, sftp_session sftp)
{
	struct tempbook	*b;

	TAILQ_FOREACH(b, &books, entry)
		if (b->host == host && b->f != NULL && b->sftp == sftp)
			book_forget(b);
}

/*
 * Note tmp in the record before it is made.  A record that cannot be
 * kept costs the sweep, never the write: the failure is logged once per
 * connection.
 */
void
book_add(struct sshcall *call, sftp_session sftp, const char *tmp)
{
	struct tempbook	*b;
	sftp_attributes	 a;
	char		 line[PATH_MAX + 1];
	int		 n, flags = O_WRONLY | O_CREAT | O_APPEND;

	if (call->conn == NULL || (b = book_get(call->host)) == NULL ||
	    b->broken)
		return;
	/* a name with a newline would read back as two */
	if (strchr(tmp, '\n') != NULL || tmp[0] != '/')
		return;
	if (b->f != NULL && (b->connid != call->conn->id ||
	    b->sftp != sftp)) {
		/* the file tools moved: the record follows, kept whole */
		book_forget(b);
	} else if (b->f != NULL && b->lines >= TEMPS_COMPACT && !b->left &&
	    TAILQ_EMPTY(&b->making)) {
		/* nothing is in the making now: start a fresh record */
		sftp_close(b->f);
		b->f = NULL;
		b->lines = 0;
		flags |= O_TRUNC;
	}
	if (b->f == NULL) {
		if ((a = sftp_lstat(sftp, TEMPS_DIR)) == NULL) {
			if (fx_missing(sftp))
				(void)sftp_mkdir(sftp, TEMPS_DIR, 0700);
		} else {
			if (attr_type(a) != S_IFDIR) {
				log_warnx("host \"%s\": ~/%s is not a"
				    " directory: temp files are not recorded",
				    call->host->name, TEMPS_DIR);
				b->broken = 1;
			}
			sftp_attributes_free(a);
		}
		if (!b->broken && (a = sftp_lstat(sftp, b->name)) != NULL) {
			if (attr_type(a) != S_IFREG) {
				log_warnx("host \"%s\": ~/%s is not a regular"
				    " file: temp files are not recorded",
				    call->host->name, b->name);
				b->broken = 1;
			}
			sftp_attributes_free(a);
		}
		if (!b->broken && (b->f = sftp_open(sftp, b->name, flags,
		    0600)) == NULL) {
			log_warnx("host \"%s\": cannot keep ~/%s: %s; temp"
			    " files are not recorded", call->host->name,
			    b->name, fx_str(sftp));
			b->broken = 1;
		}
		if (b->broken)
			return;
		b->sftp = sftp;
		b->connid = call->conn->id;
	}
	n = snprintf(line, sizeof(line), "%s\n", tmp);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	if (sftp_write(b->f, line, n) != n) {
		log_warnx("host \"%s\": cannot write ~/%s: %s", call->host->name,
		    b->name, fx_str(sftp));
		sftp_close(b->f);
		b->f = NULL;
		b->sftp = NULL;
		b->connid = 0;
		b->broken = 1;
		return;
	}
	b->lines++;
}

/*
 * The temp just noted was not made: its name, taken or not, must not be
 * swept.  Nothing else is in the making, so the record starts afresh.
 */
void
book_undo(struct sshcall *call, sftp_session sftp)
{
	struct tempbook			*b;
	struct sftp_attributes_struct	 attr;
	struct making			*m;
	char				 line[PATH_MAX + 1];
	int				 n;

	if ((b = book_get(call->host)) == NULL || b->f == NULL ||
	    b->sftp != sftp)
		return;
	memset(&attr, 0, sizeof(attr));
	attr.flags = SSH_FILEXFER_ATTR_SIZE;
	attr.size = 0;
	if (sftp_setstat(sftp, b->name, &attr) != 0) {
		log_warnx("host \"%s\": cannot empty ~/%s: %s; temp files are"
		    " not recorded", call->host->name, b->name, fx_str(sftp));
		(void)sftp_unlink(sftp, b->name);
		sftp_close(b->f);
		b->f = NULL;
		b->sftp = NULL;
		b->connid = 0;
		b->broken = 1;
		return;
	}
	b->lines = 0;
	/* the Uploads' temps still in the making stay in it */
	TAILQ_FOREACH(m, &b->making, entry) {
		n = snprintf(line, sizeof(line), "%s\n", m->path);
		if (n < 0 || (size_t)n >= sizeof(line) ||
		    sftp_write(b->f, line, n) != n) {
			log_warnx("host \"%s\": cannot write ~/%s: %s",
			    call->host->name, b->name, fx_str(sftp));
			b->left = 1;	/* kept as it is, never restarted */
			return;
		}
		b->lines++;
	}
}

/* tmp stays in the making after its section (an Upload's, ssh_fup.c) */
void
book_keep(struct sshhost *host, const char *tmp)
{
	struct tempbook	*b;
	struct making	*m;

	if ((b = book_get(host)) == NULL)
		return;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		fatal(NULL);
	strlcpy(m->path, tmp, sizeof(m->path));
	TAILQ_INSERT_TAIL(&b->making, m, entry);
}

/* tmp is renamed into place, removed, or left for the sweep */
void
book_done(struct sshhost *host, const char *tmp)
{
	struct tempbook	*b;
	struct making	*m;

	if ((b = book_get(host)) == NULL)
		return;
	TAILQ_FOREACH(m, &b->making, entry)
		if (strcmp(m->path, tmp) == 0)
			break;
	if (m == NULL)
		return;
	TAILQ_REMOVE(&b->making, m, entry);
	free(m);
}

/*
 * When due (see the top): remove the temps that dead workers, and
 * connections lost mid-write, left.  The sweep takes every record of
 * this host block but the one in use, so it never meets a temp in the
 * making and may run beside the tools.  The file tools wait for it
 * (wait), so that what they list or read is clean; on call->conn, whose
 * session is blocking.  The shell tools and ask_claude, which never
 * block the worker, only send it.
 */
void
files_sweep(struct sshcall *call, int wait)
{
	struct tempbook	*b;
	struct sbuf	 cmd = { 0 };
	struct rexec	 rx;
	const char	*base;
	char		 err[ERRSZ];
	ssh_session	 s = NULL;
	uint32_t	 id;
	int		 lost, was;

	if ((b = book_get(call->host)) == NULL || b->swept)
		return;
	/* a retired record may name a temp still in the making (the top) */
	if (!TAILQ_EMPTY(&b->making))
		return;
	if (wait && (call->conn == NULL ||
	    (s = call->conn->session) == NULL))
		return;
	b->swept = 1;
	base = call->host->conf->base_dir[0] != '\0' ?
	    call->host->conf->base_dir : "/";
	/* in the home, every record of this host block but the one in use */
	sb_str(&cmd, "cd || exit 0; D=" TEMPS_DIR "; me=");
	shquote(&cmd, b->name);
	sb_str(&cmd, "; [ -d \"$D\" ] && [ ! -L \"$D\" ] || exit 0;"
	    " B=$(cd -P -- ");
	shquote(&cmd, base);
	sb_printf(&cmd, " && pwd -P) || exit 0; B=${B%%/}; n=0;"
	    " for m in \"$D\"/temps-%s-*; do [ \"$m\" != \"$me\" ] &&"
	    " [ -f \"$m\" ] && [ ! -L \"$m\" ] || continue;", b->key);
	sb_str(&cmd, " while IFS= read -r p;"
	    " do case $p in /*/.?*.bridged-\?\?\?\?\?\?) ;; *) continue;; esac;"
	    " case $p in */./*|*/../*|*//*) continue;; esac;"
	    " case ${p##*-} in *[!A-Za-z0-9]*) continue;; esac;"
	    " d=${p%/*}; case $d/ in \"$B\"/*) ;; *) continue;; esac;"
	    " [ \"$(cd -P -- \"$d\" 2>/dev/null && pwd -P)\" = \"$d\" ] ||"
	    " continue; [ -f \"$p\" ] && [ ! -L \"$p\" ] && rm -f -- \"$p\" &&"
	    " n=$((n + 1)); done <\"$m\"; rm -f -- \"$m\"; done;");
	/* the back-channel files of runs gone (ssh_delegbc.c) */
	sb_printf(&cmd, " for m in \"$D\"/mcp-%s-*.json; do case ${m##*/} in"
	    " -", b->key);
	delegbc_keep(call->host, &cmd);
	sb_str(&cmd, ") continue;; esac; [ -f \"$m\" ] && [ ! -L \"$m\" ] &&"
	    " rm -f -- \"$m\" && n=$((n + 1)); done; echo \"removed $n\"");
	if (!wait) {
		if (kill_command(call->host, cmd.p) == -1)
			b->swept = 0;
		sb_free(&cmd);
		return;
	}
	id = call->conn->id;
	was = ssh_is_blocking(s);
	ssh_set_blocking(s, 1);
	lost = files_lost;
	if (remote_exec(call, cmd.p, 256, files_seconds(), 0, &rx, err) == -1)
		b->swept = 0;	/* no channel: the next tool tries again */
	else {
		if (rx.status != 0)
			log_warnx("host \"%s\": the sweep of old temp files"
			    " failed (status %d)", call->host->name, rx.status);
		else if (rx.out.p != NULL && strncmp(rx.out.p, "removed 0",
		    9) != 0)
			log_info("host \"%s\": %.*s temp file(s) a worker left",
			    call->host->name, (int)strcspn(rx.out.p, "\n"),
			    rx.out.p);
		rexec_free(&rx);
	}
	/* the tool finds out for itself whether the connection is gone */
	files_lost = lost;
	files_mode(id, was);
	sb_free(&cmd);
}

/* something is left to sweep: the next tool on host does */
void
files_sweep_again(struct sshhost *host)
{
	struct tempbook	*b;

	if ((b = book_get(host)) != NULL)
		b->swept = 0;
}

/* the host block's KEY (see the top), NULL when it is gone */
const char *
files_key(struct sshhost *host)
{
	struct tempbook	*b;

	return (b = book_get(host)) != NULL ? b->key : NULL;
}

/*
 * Going away cleanly: no temp is in the making, so the records are
 * dropped, on the hosts still connected, by fire-and-forget commands
 * the shutdown waits for.  Returns how many were sent.
 */
int
files_shutdown(void)
{
	struct tempbook	*b;
	struct sbuf	 cmd = { 0 };
	int		 n = 0;

	TAILQ_FOREACH(b, &books, entry) {
		if (b->f == NULL || b->left || !TAILQ_EMPTY(&b->making) ||
		    sshconn_byid(b->connid) == NULL)
			continue;
		sb_str(&cmd, "rm -f -- ");
		shquote(&cmd, b->name);
		sb_str(&cmd, "; rmdir " TEMPS_DIR " 2>/dev/null; exit 0");
		if (kill_command(b->host, cmd.p) == 0)
			n++;
		cmd.len = 0;
	}
	sb_free(&cmd);
	return n;
}

/* a temp of host's could not be removed: the record must not restart */
void
book_left(struct sshhost *host)
{
	struct tempbook	*b;

	if ((b = book_get(host)) != NULL)
		b->left = 1;
}
