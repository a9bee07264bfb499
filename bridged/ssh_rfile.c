/*
 * ssh_rfile.c: what the file tools share: running a tool with the session
 * in blocking mode, answering, SFTP errors and attributes, commands on
 * an exec channel, and replacing a remote file in one step.
 *
 * Metadata, whole-file reads and writes go over SFTP.  Work that should
 * not move a whole file over the wire (slicing a large file for Read,
 * searching for Grep) runs remotely as a fixed POSIX command on an exec
 * channel, with every argument passed through shquote() and nothing
 * else interpolated.
 *
 * libssh's SFTP calls are blocking, so while a tool runs the session is
 * switched to blocking mode and the worker serves nothing else; exec
 * channels are bounded by a deadline, SFTP calls by the session timeout.
 * Moving that onto the event loop is left for later.  A tool runs on one
 * connection of the host's pool, the one with SFTP open when there is
 * one (ssh_pool.c); its exec channels may go on another with room.
 *
 * Results go back through files_reply(), which makes the text valid
 * UTF-8 and cuts it at ssh_output_max() with a marker saying how to read
 * the rest.
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
 * block it, so at most one temp is in the making on any of its
 * connections, always the one the record is open on.  So the record in
 * use is never swept, and every other record of KEY belongs to a worker
 * that is gone or to a connection that is: nothing it names is in the
 * making.  The sweep (files_sweep) runs before the first tool after the
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

#define EXEC_ERR_MAX		(16 * 1024)
#define TEMP_TRIES		5
#define TEMPS_DIR		".bridged"	/* in the remote home */
#define TEMPS_COMPACT		256	/* lines before the record restarts */

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
};

static int	 rexec_lines(struct rexec *, size_t);
static void	 files_close_pending(uint32_t);
static struct tempbook *book_get(struct sshhost *);
static void	 book_forget(struct tempbook *);
static void	 book_name(struct tempbook *);
static void	 book_add(struct sshcall *, sftp_session, const char *);
static void	 book_undo(struct sshcall *, sftp_session);

/* set when an SFTP error looks like the connection went away */
int		 files_lost;
static sftp_file	 later[8];	/* files_close_later */
static size_t		 nlater;

static TAILQ_HEAD(, tempbook)	 books = TAILQ_HEAD_INITIALIZER(books);

/* ---- running a tool -------------------------------------------------- */

/*
 * Run one tool with the session in blocking mode (libssh's SFTP needs
 * it), then put the mode back for the rest of the worker.
 */
void
files_run(struct sshcall *call, void (*fn)(struct sshcall *))
{
	struct sshhost	*host = call->host;
	struct sshconn	*c;
	uint32_t	 id;
	int		 was;

	if (sshconn_any(host) == NULL) {
		sshcall_text(call, 1, "host %s is not connected", host->name);
		return;
	}
	if (!args_object(call))
		return;
	/* no room for SFTP: the call waits and comes back here */
	if ((c = sshconn_forfiles(call)) == NULL)
		return;
	call->conn = c;
	id = c->id;
	/* paths resolved on the host and checked against base dir */
	if (sshpolicy_resolve(call) == -1)
		return;
	if ((c = sshconn_byid(id)) == NULL) {
		sshcall_text(call, 1, "the connection to host %s was lost",
		    host->name);
		return;
	}
	was = files_block(c->session);
	files_sweep(call, 1);
	fn(call);		/* answers and frees the call */
	files_close_pending(id);
	files_unblock(id, was);
	files_checklost(id);
}

/*
 * A file read whole is closed after the answer has gone: the close's
 * round trip to the host is not the caller's wait.  Only for files of
 * the call just run, on the connection it ran on (closed before anything
 * else uses it).
 */
void
files_close_later(sftp_file f)
{
	if (nlater == sizeof(later) / sizeof(later[0])) {
		sftp_close(f);
		return;
	}
	later[nlater++] = f;
}

static void
files_close_pending(uint32_t connid)
{
	struct sshconn	*c;
	size_t		 i;

	if (nlater == 0)
		return;
	ssh_flush_frontend();
	/*
	 * A connection lost (or its SFTP session made anew) meanwhile took
	 * the handles with it: what is left of them is not touched.
	 */
	for (i = 0; i < nlater; i++)
		if ((c = sshconn_byid(connid)) != NULL && c->sftp != NULL &&
		    c->sftp == later[i]->sftp)
			sftp_close(later[i]);
	nlater = 0;
}

/* libssh's SFTP needs the session blocking; returns the mode it had */
int
files_block(ssh_session s)
{
	int	 was;

	files_lost = 0;
	was = ssh_is_blocking(s);
	ssh_set_blocking(s, 1);
	return was;
}

/* put the mode back for the rest of the worker, if it is still there */
void
files_unblock(uint32_t connid, int was)
{
	struct sshconn	*c;

	if ((c = sshconn_byid(connid)) != NULL && c->session != NULL)
		ssh_set_blocking(c->session, was);
}

/* an error looked like a lost connection: let ssh_conn.c find out */
void
files_checklost(uint32_t connid)
{
	if (files_lost) {
		files_lost = 0;
		sshconn_check(sshconn_byid(connid));
	}
}

/* ---- answers ------------------------------------------------------- */

json_t *
files_result(const char *text, size_t len, int iserror)
{
	json_t	*res;

	res = json_pack("{s:[{s:s,s:s%}]}", "content", "type", "text",
	    "text", text, len);
	if (res == NULL)
		fatalx("json_pack result");
	if (iserror)
		json_object_set_new(res, "isError", json_true());
	return res;
}

/*
 * Answer with sb's text: made valid UTF-8 and, past the result budget
 * (ssh_result_budget, in characters), cut at a line when one ends near
 * the cut, with a marker giving the sizes and how to get the rest
 * (hint).  The tools that page (Read, Grep) fit their text to the
 * budget themselves, with a hint that names the next offset; this is
 * for the others, and a safety net for those.
 */
void
files_reply(struct sshcall *call, int iserror, struct sbuf *sb,
    const char *hint)
{
	struct sbuf	 clean = { 0 };
	size_t		 max = ssh_result_budget(), cut, total, nl;
	char		*p;

	/* NULs stay: sshcall_result shows them as \0 and says so */
	utf8_clean(&clean, sb->p ? sb->p : "", sb->len, 1);
	sb_free(sb);
	total = utf8_chars(clean.p ? clean.p : "", clean.len);
	if (total > max) {
		/* room for the marker; a whole last line if one is near */
		cut = utf8_prefix(clean.p, clean.len, max - 512);
		if ((p = memrchr(clean.p, '\n', cut)) != NULL &&
		    (nl = p - clean.p + 1) > cut / 2)
			cut = nl;
		clean.len = cut;
		clean.p[cut] = '\0';
		sb_printf(&clean, "%s[output cut at %zu of %zu characters to "
		    "fit the result limit of %zu; %s]", cut > 0 &&
		    clean.p[cut - 1] != '\n' ? "\n" : "",
		    utf8_chars(clean.p, cut), total, max + SSH_RESULT_RESERVE,
		    hint ? hint : "narrow the request to see the rest");
		sshcall_log(call, MCPLOG_NOTICE, "%s: result cut at %zu of %zu "
		    "characters (limits { result size %zu })", call->tool,
		    utf8_chars(clean.p, cut), total, max + SSH_RESULT_RESERVE);
	}
	sshcall_result(call, files_result(clean.p ? clean.p : "", clean.len,
	    iserror));
	sb_free(&clean);
}

void
files_fail(struct sshcall *call, const char *msg)
{
	sshcall_text(call, 1, "%s", msg);
}

int
files_seconds(void)
{
	if (ssh_conf != NULL && ssh_conf->limits.call_timeout > 0)
		return ssh_conf->limits.call_timeout;
	return CONF_CALL_TIMEOUT;
}

/* ---- SFTP ------------------------------------------------------------ */

const char *
fx_str(sftp_session sftp)
{
	switch (sftp_get_error(sftp)) {
	case SSH_FX_EOF:
		return "unexpected end of file";
	case SSH_FX_NO_SUCH_FILE:
	case SSH_FX_NO_SUCH_PATH:
		return "No such file or directory";
	case SSH_FX_PERMISSION_DENIED:
		return "Permission denied";
	case SSH_FX_FILE_ALREADY_EXISTS:
		return "File exists";
	case SSH_FX_WRITE_PROTECT:
		return "Read-only file system";
	case SSH_FX_OP_UNSUPPORTED:
		return "operation not supported by the server";
	case SSH_FX_FAILURE:
		return "failure reported by the server";
	case SSH_FX_NO_CONNECTION:
	case SSH_FX_CONNECTION_LOST:
	case SSH_FX_OK:
		/* no SFTP status: the transport failed */
		files_lost = 1;
		return sshconn_error(sftp->session, "the connection failed");
	default:
		return "SFTP error";
	}
}

void
fx_err(char *err, sftp_session sftp, const char *what, const char *path)
{
	snprintf(err, ERRSZ, "%s%s%s: %s", what, what[0] ? " " : "", path,
	    fx_str(sftp));
}

int
fx_missing(sftp_session sftp)
{
	int	 e = sftp_get_error(sftp);

	return e == SSH_FX_NO_SUCH_FILE || e == SSH_FX_NO_SUCH_PATH;
}

uint64_t
attr_mtime(sftp_attributes a)
{
	if (a->mtime64 != 0)
		return a->mtime64;
	return a->mtime;
}

/* S_IF* from the attributes, whatever the protocol version said */
int
attr_type(sftp_attributes a)
{
	if (a->flags & SSH_FILEXFER_ATTR_PERMISSIONS)
		return a->permissions & S_IFMT;
	switch (a->type) {
	case SSH_FILEXFER_TYPE_REGULAR:
		return S_IFREG;
	case SSH_FILEXFER_TYPE_DIRECTORY:
		return S_IFDIR;
	case SSH_FILEXFER_TYPE_SYMLINK:
		return S_IFLNK;
	default:
		return 0;
	}
}

sftp_session
files_sftp(struct sshcall *call, char *err)
{
	sftp_session	 sftp;

	if (call->conn == NULL) {
		snprintf(err, ERRSZ, "host %s is not connected",
		    call->host->name);
		return NULL;
	}
	if ((sftp = sshconn_sftp(call->conn, err, ERRSZ)) == NULL &&
	    err[0] == '\0')
		snprintf(err, ERRSZ, "SFTP is not available on host %s",
		    call->host->name);
	return sftp;
}

/* read to EOF, at most max bytes (more is an error) */
int
files_readall(sftp_file f, struct sbuf *sb, size_t max, char *err)
{
	char	 buf[SFTP_CHUNK];
	ssize_t	 n;

	for (;;) {
		if ((n = sftp_read(f, buf, sizeof(buf))) < 0) {
			snprintf(err, ERRSZ, "read: %s",
			    fx_str(f->sftp));
			return -1;
		}
		if (n == 0)
			return 0;
		if (sb->len + n > max) {
			snprintf(err, ERRSZ, "file is larger than %zu bytes",
			    max);
			return -1;
		}
		sb_add(sb, buf, n);
	}
}

/* ---- exec channels --------------------------------------------------- */

/*
 * Run cmd (a fixed command with shquote()d arguments) and collect its
 * output: stdout up to outmax bytes (or maxlines whole lines, when not
 * 0), stderr up to EXEC_ERR_MAX.  Stops at the deadline.  Returns -1
 * only when the channel could not be made.
 */
int
remote_exec(struct sshcall *call, const char *cmd, size_t outmax,
    int seconds, size_t maxlines, struct rexec *rx, char *err)
{
	struct sbuf	 wcmd = { 0 };
	struct sshconn	*on;
	ssh_channel	 ch;
	char		 buf[XFER_CHUNK], why[1024];
	time_t		 deadline = time(NULL) + seconds;
	int		 n, left;
	size_t		 room;

	memset(rx, 0, sizeof(*rx));
	rx->status = -1;
	rx->maxlines = maxlines;
	if (call->conn == NULL) {
		snprintf(err, ERRSZ, "cannot run a command: not connected");
		files_lost = 1;
		return -1;
	}
	/* stdin stays open for the watchdog: the command dies with us */
	watchdog_exec(&wcmd);
	sb_str(&wcmd, cmd);
	ch = sshconn_exec(call->conn, wcmd.p, &on, why, sizeof(why));
	sb_free(&wcmd);
	if (ch == NULL) {
		snprintf(err, ERRSZ, "cannot run a command: %s", why);
		files_lost = 1;
		return -1;
	}
	for (;;) {
		if ((left = deadline - time(NULL)) <= 0) {
			rx->timedout = 1;
			break;
		}
		/* a long slice or search: say it is still going */
		sshcall_tick(call, SSH_PROGRESS_MS, (double)(seconds - left + 1),
		    0, "%s: running on host \"%s\" for %d s, %llu bytes so far",
		    call->tool, call->host->name, seconds - left + 1,
		    (unsigned long long)rx->bytes);
		n = ssh_channel_read_timeout(ch, buf, sizeof(buf), 0,
		    left > 1 ? 1000 : left * 1000);
		if (n == SSH_ERROR) {
			files_lost = 1;
			break;
		}
		if (n > 0) {
			rx->bytes += n;
			room = outmax - rx->out.len;
			sb_add(&rx->out, buf, (size_t)n < room ? (size_t)n :
			    room);
			if ((size_t)n >= room && rx->out.len == outmax) {
				rx->truncated = 1;
				break;
			}
			if (maxlines > 0 && rexec_lines(rx, n)) {
				rx->linecap = 1;
				break;
			}
		}
		while ((n = ssh_channel_read_nonblocking(ch, buf, sizeof(buf),
		    1)) > 0) {
			rx->bytes += n;
			if (rx->err.len < EXEC_ERR_MAX)
				sb_add(&rx->err, buf, n);
		}
		if (ssh_channel_is_eof(ch) && ssh_channel_poll(ch, 0) <= 0 &&
		    ssh_channel_poll(ch, 1) <= 0)
			break;
	}
	if (!rx->timedout && !rx->truncated && !rx->linecap)
		rx->status = ssh_channel_get_exit_status(ch);
	else
		/* stop what is still running over there, if it listens */
		ssh_channel_request_send_signal(ch, "KILL");
	ssh_channel_close(ch);
	sshconn_chclose(on, ch, NULL, 1);
	return 0;
}

/* count the lines in the n bytes just added; cut after maxlines */
static int
rexec_lines(struct rexec *rx, size_t n)
{
	char	*end = rx->out.p + rx->out.len, *p = end - n;

	while ((p = memchr(p, '\n', end - p)) != NULL) {
		p++;
		if (++rx->nlines == rx->maxlines) {
			rx->out.len = p - rx->out.p;
			rx->out.p[rx->out.len] = '\0';
			return 1;
		}
	}
	return 0;
}

void
rexec_free(struct rexec *rx)
{
	sb_free(&rx->out);
	sb_free(&rx->err);
}

/* ---- replacing a file ------------------------------------------------ */

/*
 * Make ".NAME.bridged-XXXXXX" next to path, exclusively.  The name goes
 * to tmp (PATH_MAX).
 */
int
temp_create(struct sshcall *call, sftp_session sftp, const char *path,
    mode_t mode, char *tmp, sftp_file *fp, char *err)
{
	const char		*slash, *base;
	char			 rnd[7];
	int			 dirlen, try, n;

	slash = strrchr(path, '/');
	base = slash ? slash + 1 : path;
	dirlen = slash ? (int)(slash - path) + 1 : 0;
	if (*base == '\0') {
		snprintf(err, ERRSZ, "%s names a directory, not a file", path);
		return -1;
	}
	for (try = 0; try < TEMP_TRIES; try++) {
		rand_alnum(rnd, sizeof(rnd) - 1);
		/* keep the name within NAME_MAX however long base is */
		n = snprintf(tmp, PATH_MAX, "%.*s.%.200s.bridged-%s", dirlen,
		    path, base, rnd);
		if (n < 0 || n >= PATH_MAX) {
			snprintf(err, ERRSZ, "%s: path too long", path);
			return -1;
		}
		book_add(call, sftp, tmp);
		if ((*fp = sftp_open(sftp, tmp, O_WRONLY | O_CREAT | O_EXCL,
		    mode)) != NULL)
			return 0;
		/* OpenSSH answers a taken name with a plain failure */
		if (sftp_get_error(sftp) != SSH_FX_FILE_ALREADY_EXISTS &&
		    sftp_get_error(sftp) != SSH_FX_FAILURE)
			break;
		/* not made: the name may be someone else's file */
		if (try + 1 < TEMP_TRIES)
			book_undo(call, sftp);
	}
	if (fx_missing(sftp))
		snprintf(err, ERRSZ, "cannot create %s: the directory does "
		    "not exist", path);
	else
		snprintf(err, ERRSZ, "cannot create a file next to %s: %s",
		    path, fx_str(sftp));
	/* after the message: it needs the open's error */
	book_undo(call, sftp);
	return -1;
}

/* all of data into the temp file f, named tmp */
int
temp_write(sftp_session sftp, sftp_file f, const char *tmp, const void *data,
    size_t len, char *err)
{
	const char	*p = data;
	size_t		 off;
	ssize_t		 n;

	for (off = 0; off < len; off += n) {
		n = sftp_write(f, p + off, len - off > SFTP_CHUNK ?
		    SFTP_CHUNK : len - off);
		if (n <= 0) {
			fx_err(err, sftp, "write", tmp);
			return -1;
		}
	}
	return 0;
}

/* flush the temp file to disk where the server can, and close it */
int
temp_close(sftp_session sftp, sftp_file *fp, const char *tmp, char *err)
{
	int	 rc;

	if (sftp_extension_supported(sftp, "fsync@openssh.com", "1") &&
	    sftp_fsync(*fp) != 0) {
		fx_err(err, sftp, "fsync", tmp);
		return -1;
	}
	rc = sftp_close(*fp);
	*fp = NULL;
	if (rc != 0) {
		fx_err(err, sftp, "close", tmp);
		return -1;
	}
	return 0;
}

/* after a failure: no temp file left behind (else the next sweep) */
void
temp_discard(struct sshcall *call, sftp_session sftp, sftp_file f,
    const char *tmp)
{
	struct tempbook	*b;

	if (f != NULL)
		sftp_close(f);
	if (sftp_unlink(sftp, tmp) != 0 && !fx_missing(sftp) &&
	    (b = book_get(call->host)) != NULL)
		b->left = 1;
}

/*
 * Replace target by tmp in one step.  SFTP's rename will not replace an
 * existing file (OpenSSH links, then unlinks) and libssh 0.10 has no
 * posix-rename@openssh.com, so mv(1), which is rename(2) within one
 * directory, does it.  The target is known not to be a directory (or a
 * link to one: mv would move into it).
 */
int
rename_over(struct sshcall *call, sftp_session sftp, const char *tmp,
    const char *target, char *err)
{
	struct sbuf	 cmd = { 0 };
	struct rexec	 rx;

	if (sftp_rename(sftp, tmp, target) == 0)
		return 0;
	sb_str(&cmd, "exec mv -f -- ");
	shquote(&cmd, tmp);
	sb_str(&cmd, " ");
	shquote(&cmd, target);
	if (remote_exec(call, cmd.p, 4096, files_seconds(), 0, &rx,
	    err) == 0 && rx.status == 0) {
		sb_free(&cmd);
		rexec_free(&rx);
		return 0;
	}
	snprintf(err, ERRSZ, "cannot replace %s: %s", target,
	    rx.err.len ? rx.err.p : (rx.timedout ? "mv timed out" :
	    "mv failed"));
	sb_free(&cmd);
	rexec_free(&rx);
	return -1;
}

/*
 * Write data to path atomically: a temp file in the same directory,
 * flushed, given the mode of the file it replaces, renamed over it.
 * *created says whether path is new.  An existing symbolic link is
 * replaced by the file, not followed.
 */
int
write_atomic(struct sshcall *call, sftp_session sftp, const char *path,
    const char *data, size_t len, int overwrite, char *err, int *created)
{
	sftp_attributes	 a, t;
	sftp_file	 f;
	char		 tmp[PATH_MAX];
	uint32_t	 mode = 0, uid = 0, gid = 0;
	int		 exists = 0;

	*created = 0;
	/* protect exec: the last look before anything is made next to it */
	if (sshpolicy_write_ok(call, sftp, path, err) == -1)
		return -1;
	if ((a = sftp_lstat(sftp, path)) != NULL) {
		exists = 1;
		if (attr_type(a) == S_IFDIR) {
			snprintf(err, ERRSZ, "%s is a directory", path);
			sftp_attributes_free(a);
			return -1;
		}
		if (attr_type(a) == S_IFLNK) {
			/* its target's mode; and mv must not go into it */
			if ((t = sftp_stat(sftp, path)) != NULL) {
				if (attr_type(t) == S_IFDIR) {
					snprintf(err, ERRSZ, "%s is a symbolic "
					    "link to a directory", path);
					sftp_attributes_free(t);
					sftp_attributes_free(a);
					return -1;
				}
				mode = t->permissions & 07777;
				uid = t->uid;
				gid = t->gid;
				sftp_attributes_free(t);
			} else
				mode = 0644;
		} else {
			mode = a->permissions & 07777;
			uid = a->uid;
			gid = a->gid;
		}
		sftp_attributes_free(a);
		if (!overwrite) {
			snprintf(err, ERRSZ, "%s exists; set overwrite to "
			    "replace it", path);
			return -1;
		}
	} else if (!fx_missing(sftp)) {
		fx_err(err, sftp, "", path);
		return -1;
	}

	/* a new file gets 0644 less the server's umask */
	if (temp_create(call, sftp, path, exists ? 0600 : 0644, tmp, &f,
	    err) == -1)
		return -1;
	if (temp_write(sftp, f, tmp, data, len, err) == -1 ||
	    temp_close(sftp, &f, tmp, err) == -1)
		goto fail;
	if (exists) {
		/* only root can give it away; failing is fine */
		sftp_chown(sftp, tmp, uid, gid);
		if (sftp_chmod(sftp, tmp, mode) != 0) {
			fx_err(err, sftp, "chmod", tmp);
			goto fail;
		}
		if (rename_over(call, sftp, tmp, path, err) == -1)
			goto fail;
	} else if (sftp_rename(sftp, tmp, path) != 0) {
		/* someone made it meanwhile */
		if ((a = sftp_lstat(sftp, path)) != NULL) {
			sftp_attributes_free(a);
			if (!overwrite) {
				snprintf(err, ERRSZ, "%s appeared while "
				    "writing; set overwrite to replace it",
				    path);
				goto fail;
			}
			if (rename_over(call, sftp, tmp, path, err) == -1)
				goto fail;
		} else {
			fx_err(err, sftp, "rename to", path);
			goto fail;
		}
	}
	*created = !exists;
	return 0;
 fail:
	temp_discard(call, sftp, f, tmp);
	return -1;
}

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
	sftp_file	 f = b->f;

	if (f != NULL) {
		/* what sftp_close frees, without asking the server */
		ssh_string_free(f->handle);
		free(f->name);
		free(f);
	}
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

	TAILQ_FOREACH(b, &books, entry)
		if (b->host == host)
			break;
	if (b == NULL)
		return;
	if (conn == NULL) {
		book_forget(b);
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
 * Note tmp in the record before it is made.  A record that cannot be
 * kept costs the sweep, never the write: the failure is logged once per
 * connection.
 */
static void
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
	} else if (b->f != NULL && b->lines >= TEMPS_COMPACT && !b->left) {
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
static void
book_undo(struct sshcall *call, sftp_session sftp)
{
	struct tempbook			*b;
	struct sftp_attributes_struct	 attr;

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
	files_unblock(id, was);
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
		if (b->f == NULL || b->left || sshconn_byid(b->connid) == NULL)
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
