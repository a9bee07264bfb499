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
 * channels are bounded by a deadline, and the whole section by a timer
 * that gives the connection up (an SFTP call waits without a limit of
 * its own: see stuck_arm).
 * What takes long runs from the event loop instead: Upload and Download
 * (ssh_fdown.c, ssh_fup.c), Glob's walk (ssh_fglob.c) and ListDir's
 * listing (ssh_flist.c) on an SFTP channel of their own, Grep's search on an exec channel (ssh_aexec.c);
 * Write and Edit of large files still run here.  A tool runs on one
 * connection of the host's pool, the one with SFTP open when there is
 * one (ssh_pool.c); its exec channels may go on another with room.
 *
 * Results go back through files_reply(), which makes the text valid
 * UTF-8 and cuts it at ssh_output_max() with a marker saying how to read
 * the rest.
 *
 * Temp files and their records on the host: ssh_ftemp.c.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/queue.h>
#include <sys/time.h>
#include <sys/utsname.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sha2.h>
#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include "bridged.h"
#include "log.h"
#include "ssh.h"
#include "ssh_files.h"
#include "ssh_shell.h"

#define TEMP_TRIES		5

/* set when an SFTP error looks like the connection went away */
int		 files_lost;
static sftp_file	 later[8];	/* files_close_later */

static void	 files_close_pending(uint32_t);
static size_t		 nlater;

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
	files_resume_end(id, was);
}

/*
 * A tool that went on from the event loop (a slice, a file read on a
 * channel of its own) comes back to the shared SFTP session: a blocking
 * section on connection connid again, the call on it.  -1: that
 * connection is gone, and nothing was begun.
 */
int
files_resume(struct sshcall *call, uint32_t connid, int *was)
{
	struct sshconn	*c;

	if ((c = sshconn_byid(connid)) == NULL || c->session == NULL)
		return -1;
	call->conn = c;
	*was = files_block(c->session);
	return 0;
}

/* the end of a tool's blocking section: files_run()'s or files_resume()'s */
void
files_resume_end(uint32_t connid, int was)
{
	files_close_pending(connid);
	files_unblock(connid, was);
	files_checklost(connid);
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

/*
 * A handle whose SFTP session went (its connection was lost): what
 * sftp_close frees, without a word to the server.
 */
void
files_forget(sftp_file f)
{
	if (f == NULL)
		return;
	ssh_string_free(f->handle);
	free(f->name);
	free(f);
}

/* the handles files_close_later() kept: closed now, the answer out */
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
		else
			files_forget(later[i]);
	nlater = 0;
}

/*
 * A blocking section that never ends.  libssh's SFTP calls wait for
 * their answer without a limit (a read that times out is tried again),
 * so an SFTP server that stops answering -- stuck on a dead mount, or
 * one whose stream is out of step (a length that claims more than it
 * sends) -- would hold the worker, and every call of its host, for good.
 * Each blocking section arms a one-shot timer at the call timeout plus
 * the keepalive limit (what a silent connection is given on the event
 * loop): when it fires, the connection's socket is replaced with the
 * read end of a pipe nobody writes (reads see the end, sends fail), so
 * libssh's poll, cut short by the signal, and whatever it tries next
 * fail, and the connection is given up as a lost one (files_lost).  The
 * worker, and the host's other connections, go on.  One shot, not a
 * periodic check: libssh takes a poll cut short by a signal for an
 * error, which a section still making progress must not see.
 */
static volatile sig_atomic_t	 stuck_fd = -1;
static volatile sig_atomic_t	 stuck_fired;
static int			 stuck_dead = -1;
static int			 stuck_depth;
static int			 stuck_secs;
static ssh_session		 stuck_session;	/* the one watched */

static void
stuck_alarm(int sig)
{
	int	 save = errno, fd = stuck_fd;

	if (fd != -1 && stuck_dead != -1) {
		(void)dup3(stuck_dead, fd, O_CLOEXEC);
		stuck_fd = -1;
		stuck_fired = 1;
	}
	errno = save;
}

static void
stuck_arm(ssh_session s)
{
	struct sigaction	 sa;
	struct itimerval	 it;
	int			 p[2];

	if (stuck_depth++ > 0)
		return;
	if (stuck_dead == -1) {
		if (pipe2(p, O_CLOEXEC) == -1)
			return;
		close(p[1]);
		stuck_dead = p[0];
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = stuck_alarm;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGALRM, &sa, NULL) == -1) {
			close(stuck_dead);
			stuck_dead = -1;
			return;
		}
	}
	stuck_fired = 0;
	stuck_secs = files_seconds() + sshconn_silence_secs();
	stuck_session = s;
	stuck_fd = ssh_get_fd(s);
	memset(&it, 0, sizeof(it));
	it.it_value.tv_sec = stuck_secs;
	(void)setitimer(ITIMER_REAL, &it, NULL);
}

/* 1 when the timer fired in the section that ends */
static int
stuck_disarm(void)
{
	struct itimerval	 it;

	if (stuck_depth == 0 || --stuck_depth > 0)
		return 0;
	stuck_fd = -1;
	memset(&it, 0, sizeof(it));
	(void)setitimer(ITIMER_REAL, &it, NULL);
	return stuck_fired;
}

/*
 * Why libssh failed on session s, when the timer above made it fail
 * (until files_stuck_clear); else NULL.
 */
const char *
files_stuck_why(ssh_session s)
{
	static char	 why[160];

	if (!stuck_fired || s == NULL || s != stuck_session)
		return NULL;
	snprintf(why, sizeof(why), "no answer from the host for %d s in a "
	    "file tool (the call timeout and the keepalive limit): the "
	    "connection was given up", stuck_secs);
	return why;
}

/* the connection given up is gone: its reason with it */
void
files_stuck_clear(void)
{
	stuck_fired = 0;
	stuck_session = NULL;
}

/* libssh's SFTP needs the session blocking; returns the mode it had */
int
files_block(ssh_session s)
{
	int	 was;

	files_lost = 0;
	was = ssh_is_blocking(s);
	ssh_set_blocking(s, 1);
	stuck_arm(s);
	return was;
}

/* the end of files_block()'s section: the mode put back */
void
files_unblock(uint32_t connid, int was)
{
	struct sshconn	*c;

	if (stuck_disarm()) {
		c = sshconn_byid(connid);
		log_warnx("host connection %u: %s", connid,
		    c != NULL && files_stuck_why(c->session) != NULL ?
		    files_stuck_why(c->session) : "given up");
		files_lost = 1;
	}
	files_mode(connid, was);
}

/* put the mode back for the rest of the worker, if it is still there */
void
files_mode(uint32_t connid, int was)
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
	const char	*s;

	if ((s = fx_code_str(sftp_get_error(sftp))) == NULL) {
		/* no SFTP status: the transport failed */
		files_lost = 1;
		return sshconn_error(sftp->session, "the connection failed");
	}
	return s;
}

/* an SFTP status in words; NULL for none (OK, or the connection's) */
const char *
fx_code_str(int code)
{
	switch (code) {
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
		return NULL;
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
int
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
	if (f != NULL)
		sftp_close(f);
	if (sftp_unlink(sftp, tmp) != 0 && !fx_missing(sftp))
		book_left(call->host);
}

/*
 * Replace target by tmp in one step: rename(2) on the host.  SFTP's
 * rename will not replace an existing file (OpenSSH links, then
 * unlinks), so it is posix-rename@openssh.com where the server has it
 * (our own request: libssh 0.10 has none), else mv(1), which is
 * rename(2) within one directory, on an exec channel: a few ms more.
 * The target is known not to be a directory (or a link to one: mv would
 * move into it).
 */
int
rename_over(struct sshcall *call, sftp_session sftp, const char *tmp,
    const char *target, char *err)
{
	struct sbuf	 cmd = { 0 };
	struct rexec	 rx;
	int		 rc;

	if ((rc = sftpq_rename(sftp, tmp, target, err)) != 1)
		return rc;
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
 * replaced by the file, not followed.  With ok (the answers when it
 * replaced a file, ok[0], and when it made one, ok[1]) and FU_MEM_MIN
 * bytes or more, the bytes go on a channel of their own from the event
 * loop (ssh_fup.c), which answers: 1, the worker free meanwhile.
 */
int
write_atomic(struct sshcall *call, sftp_session sftp, const char *path,
    const char *data, size_t len, int overwrite, char *err, int *created,
    char *const ok[2])
{
	struct fupmem	 m;
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
	if (ok != NULL && len >= FU_MEM_MIN && overwrite) {
		memset(&m, 0, sizeof(m));
		m.data = data;
		m.len = len;
		m.mode = exists ? (int)mode : -1;
		m.chown = exists;
		m.uid = uid;
		m.gid = gid;
		m.ok = ok[!exists];
		if (fup_start_mem(call, call->conn, f, tmp, path, &m) == 0)
			return 1;
	}
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
