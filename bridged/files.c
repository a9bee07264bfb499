/*
 * files.c: the ssh worker's file tools, shaped like Claude Code's own:
 * Read, Write, Edit, MultiEdit, MultiRead, FileStat, ListDir, Glob, Grep,
 * and Upload/Download between the host and `transfer root'.
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
 * Moving that onto the event loop is left for later.
 *
 * Results go back through reply(), which makes the text valid UTF-8 and
 * cuts it at ssh_output_max() with a marker saying how to read the rest.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/queue.h>

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include "bridged.h"
#include "imsg.h"
#include "log.h"
#include "ssh.h"

#define ERRSZ			(PATH_MAX + 512)
#define READ_LINES		2000	/* Read's default limit */
#define READ_LINE_CHARS		2000	/* Read cuts longer lines */
#define READ_LINE_BYTES		(4 * READ_LINE_CHARS)
#define READ_SNIFF		8192	/* bytes looked at for binary */
#define READ_SMALL		(256 * 1024)	/* read whole over SFTP */
#define EDIT_MAX		(32 * 1024 * 1024)
#define MULTI_MAX		100	/* files in MultiRead */
#define STAT_MAX		1000	/* paths in FileStat */
#define LISTDIR_MAX		10000
#define GLOB_VISIT_MAX		200000
#define GLOB_RESULTS		100	/* as Claude Code's Glob */
#define GLOB_DEPTH		64
#define GLOB_PATS		64	/* after brace expansion */
#define GLOB_COMPS		64
#define GLOB_SECONDS		30
#define GREP_HEAD		250
#define GREP_OUTPUT_MAX		(8 * 1024 * 1024)
#define EXEC_ERR_MAX		(16 * 1024)
#define XFER_CHUNK		(64 * 1024)
#define SFTP_CHUNK		(32 * 1024)
#define TEMP_TRIES		5

/* a growable byte string, always NUL-terminated */
struct sbuf {
	char	*p;
	size_t	 len;
	size_t	 size;
};

/* what an exec channel gave back */
struct rexec {
	struct sbuf	 out;
	struct sbuf	 err;
	int		 status;	/* -1: unknown */
	int		 timedout;
	int		 truncated;	/* out reached its cap */
	int		 linecap;	/* stopped at maxlines lines */
	size_t		 maxlines;	/* 0: no limit */
	size_t		 nlines;
	uint64_t	 bytes;
};

struct edit {
	const char	*old;
	size_t		 oldlen;
	const char	*new;
	size_t		 newlen;
	int		 all;
};

/* Upload/Download waiting for the parent to open the local file */
struct xfer {
	TAILQ_ENTRY(xfer)	 entry;
	uint32_t		 id;
	struct sshcall		*call;
	int			 upload;
	int			 overwrite;
	int			 mode;		/* -1: not given */
	int			 exists;	/* remote target existed */
	uint32_t		 rmode;		/* its permissions */
	uint64_t		 size;		/* Download: remote size */
	char			 remote[PATH_MAX];
	char			 local[PATH_MAX];
};

struct gstate {
	uint16_t	 p;		/* which pattern */
	uint16_t	 c;		/* next component to match */
};

struct gmatch {
	char		*path;
	uint64_t	 mtime;
};

struct globctx {
	sftp_session	 sftp;
	char		**comp[GLOB_PATS];
	int		 ncomp[GLOB_PATS];
	int		 npat;
	size_t		 visited;
	time_t		 deadline;
	int		 truncated;
	struct gmatch	*m;
	size_t		 nm;
	size_t		 msize;
};

static void	 sb_add(struct sbuf *, const void *, size_t);
static void	 sb_str(struct sbuf *, const char *);
static void	 sb_printf(struct sbuf *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static void	 sb_free(struct sbuf *);
static void	 shquote(struct sbuf *, const char *);
static size_t	 utf8_seq(const unsigned char *, size_t);
static int	 utf8_valid(const unsigned char *, size_t, int);
static void	 utf8_clean(struct sbuf *, const char *, size_t);
static size_t	 utf8_cut(const char *, size_t, size_t);
static json_t	*result_new(const char *, size_t, int);
static void	 reply(struct sshcall *, int, struct sbuf *, const char *);
static void	 reply_err(struct sshcall *, const char *);
static int	 arg_str(json_t *, const char *, int, const char **, char *);
static int	 arg_int(json_t *, const char *, long long, long long,
		    long long, long long *, char *);
static int	 arg_bool(json_t *, const char *, int, int *, char *);
static int	 arg_path(struct sshcall *, json_t *, const char *, int,
		    char *, char *);
static int	 args_object(struct sshcall *);
static const char *fx_str(sftp_session);
static void	 fx_err(char *, sftp_session, const char *, const char *);
static int	 fx_missing(sftp_session);
static uint64_t	 attr_mtime(sftp_attributes);
static int	 attr_type(sftp_attributes);
static sftp_session files_sftp(struct sshcall *, char *);
static void	 files_run(struct sshcall *, void (*)(struct sshcall *));
static int	 remote_exec(struct sshcall *, const char *, size_t, int,
		    size_t, struct rexec *, char *);
static int	 rexec_lines(struct rexec *, size_t);
static void	 rexec_free(struct rexec *);
static int	 call_seconds(void);
static int	 sftp_readall(sftp_file, struct sbuf *, size_t, char *);
static const char *binary_kind(const unsigned char *, size_t);
static void	 slice_lines(const char *, size_t, long long, long long,
		    size_t, struct sbuf *, long long *, int *);
static void	 number_lines(const char *, size_t, long long,
		    struct sbuf *);
static int	 read_one(struct sshcall *, sftp_session, const char *,
		    long long, long long, struct sbuf *);
static int	 load_file(sftp_session, const char *, struct sbuf *,
		    sftp_attributes *, char *);
static int	 write_atomic(struct sshcall *, sftp_session, const char *,
		    const char *, size_t, int, char *, int *);
static int	 temp_create(sftp_session, const char *, mode_t, char *,
		    sftp_file *, char *);
static int	 rename_over(struct sshcall *, sftp_session, const char *,
		    const char *, char *);
static size_t	 count_matches(const struct sbuf *, const struct edit *,
		    struct sbuf *);
static int	 apply_edit(struct sbuf *, const struct edit *, char *,
		    size_t);
static int	 edit_parse(json_t *, struct edit *, char *);
static void	 do_read(struct sshcall *);
static void	 do_multiread(struct sshcall *);
static void	 do_write(struct sshcall *);
static void	 do_edit(struct sshcall *);
static void	 do_multiedit(struct sshcall *);
static void	 edit_run(struct sshcall *, const char *, struct edit *,
		    size_t);
static void	 do_stat(struct sshcall *);
static json_t	*stat_one(sftp_session, const char *);
static void	 do_listdir(struct sshcall *);
static void	 do_glob(struct sshcall *);
static int	 glob_expand(const char *, char **, int *);
static int	 glob_split(struct globctx *, int, const char *);
static void	 glob_walk(struct globctx *, const char *,
		    const struct gstate *, size_t, int);
static size_t	 glob_closure(struct globctx *, struct gstate *, size_t,
		    size_t);
static int	 gmatch_cmp(const void *, const void *);
static int	 str_cmp(const void *, const void *);
static void	 do_grep(struct sshcall *);
static const char *grep_type_globs(const char *);
static void	 xfer_start(struct sshcall *, int);
static void	 xfer_cancel(struct sshcall *);
static void	 xfer_run(struct xfer *, int);
static int	 xfer_upload(struct sshcall *, struct xfer *, int, char *,
		    uint64_t *);
static int	 xfer_download(struct sshcall *, struct xfer *, int, char *,
		    uint64_t *);

static TAILQ_HEAD(, xfer)	 xfers = TAILQ_HEAD_INITIALIZER(xfers);
static uint32_t			 xfer_ids;
/* set when an SFTP error looks like the connection went away */
static int			 files_lost;

/* ---- public entry points ------------------------------------------- */

void
files_read(struct sshcall *call)
{
	files_run(call, do_read);
}

void
files_multiread(struct sshcall *call)
{
	files_run(call, do_multiread);
}

void
files_write(struct sshcall *call)
{
	files_run(call, do_write);
}

void
files_edit(struct sshcall *call)
{
	files_run(call, do_edit);
}

void
files_multiedit(struct sshcall *call)
{
	files_run(call, do_multiedit);
}

void
files_stat(struct sshcall *call)
{
	files_run(call, do_stat);
}

void
files_listdir(struct sshcall *call)
{
	files_run(call, do_listdir);
}

void
files_glob(struct sshcall *call)
{
	files_run(call, do_glob);
}

void
files_grep(struct sshcall *call)
{
	files_run(call, do_grep);
}

void
files_upload(struct sshcall *call)
{
	xfer_start(call, 1);
}

void
files_download(struct sshcall *call)
{
	xfer_start(call, 0);
}

/*
 * Run one tool with the session in blocking mode (libssh's SFTP needs
 * it), then put the mode back for the rest of the worker.
 */
static void
files_run(struct sshcall *call, void (*fn)(struct sshcall *))
{
	struct sshhost	*host = call->host;
	ssh_session	 s = host->session;
	int		 was;

	if (s == NULL) {
		sshcall_text(call, 1, "host %s is not connected", host->name);
		return;
	}
	if (!args_object(call))
		return;
	files_lost = 0;
	was = ssh_is_blocking(s);
	ssh_set_blocking(s, 1);
	fn(call);		/* answers and frees the call */
	if (host->session == s)
		ssh_set_blocking(s, was);
	if (files_lost) {
		files_lost = 0;
		sshconn_check(host);
	}
}

/* ---- strings --------------------------------------------------------- */

static void
sb_add(struct sbuf *sb, const void *p, size_t n)
{
	size_t	 nsize;
	char	*np;

	if (sb->len + n + 1 > sb->size) {
		nsize = sb->size ? sb->size : 256;
		while (nsize < sb->len + n + 1) {
			if (nsize > SIZE_MAX / 2)
				fatalx("sbuf too large");
			nsize *= 2;
		}
		if ((np = realloc(sb->p, nsize)) == NULL)
			fatal(NULL);
		sb->p = np;
		sb->size = nsize;
	}
	if (n > 0)
		memcpy(sb->p + sb->len, p, n);
	sb->len += n;
	sb->p[sb->len] = '\0';
}

static void
sb_str(struct sbuf *sb, const char *s)
{
	sb_add(sb, s, strlen(s));
}

static void
sb_printf(struct sbuf *sb, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n == -1)
		fatal(NULL);
	sb_add(sb, s, n);
	free(s);
}

static void
sb_free(struct sbuf *sb)
{
	free(sb->p);
	memset(sb, 0, sizeof(*sb));
}

/*
 * The one way a string becomes a word of a remote shell command: in
 * single quotes, where nothing is special but the quote itself, which is
 * closed, escaped and reopened.
 */
static void
shquote(struct sbuf *sb, const char *s)
{
	sb_add(sb, "'", 1);
	for (; *s != '\0'; s++) {
		if (*s == '\'')
			sb_str(sb, "'\\''");
		else
			sb_add(sb, s, 1);
	}
	sb_add(sb, "'", 1);
}

/* length of the valid UTF-8 sequence at p, 0 if invalid or cut short */
static size_t
utf8_seq(const unsigned char *p, size_t n)
{
	size_t		 len, i;
	unsigned int	 cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/* partial: a sequence cut off by the end of the buffer is fine */
static int
utf8_valid(const unsigned char *p, size_t n, int partial)
{
	size_t	 i = 0, l;

	while (i < n) {
		if ((l = utf8_seq(p + i, n - i)) == 0) {
			if (partial && n - i < 4 && p[i] >= 0xc2 &&
			    p[i] <= 0xf4) {
				/* check what there is of it */
				for (l = 1; i + l < n; l++)
					if ((p[i + l] & 0xc0) != 0x80)
						return 0;
				return 1;
			}
			return 0;
		}
		i += l;
	}
	return 1;
}

/* copy, with each invalid byte and NUL replaced by U+FFFD */
static void
utf8_clean(struct sbuf *out, const char *s, size_t n)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, start = 0, l;

	while (i < n) {
		if (p[i] != 0 && (l = utf8_seq(p + i, n - i)) != 0) {
			i += l;
			continue;
		}
		sb_add(out, s + start, i - start);
		sb_str(out, "\xef\xbf\xbd");
		i++;
		start = i;
	}
	sb_add(out, s + start, i - start);
}

/* bytes of s making up at most max characters */
static size_t
utf8_cut(const char *s, size_t n, size_t max)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i, chars = 0;

	for (i = 0; i < n; i++) {
		if ((p[i] & 0xc0) == 0x80)
			continue;
		if (chars == max)
			return i;
		chars++;
	}
	return n;
}

/* ---- results --------------------------------------------------------- */

static json_t *
result_new(const char *text, size_t len, int iserror)
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
 * Answer with sb's text: made valid UTF-8, cut at the output cap with a
 * marker giving the total size and how to get the rest (hint).
 */
static void
reply(struct sshcall *call, int iserror, struct sbuf *sb, const char *hint)
{
	struct sbuf	 clean = { 0 };
	size_t		 max = ssh_output_max(), cut, total;

	utf8_clean(&clean, sb->p ? sb->p : "", sb->len);
	sb_free(sb);
	if (max > 0 && clean.len > max) {
		total = clean.len;
		cut = max;
		/* back off to the start of a character */
		while (cut > 0 && ((unsigned char)clean.p[cut] & 0xc0) ==
		    0x80)
			cut--;
		clean.len = cut;
		sb_printf(&clean, "\n[output cut at %zu of %zu bytes; %s]",
		    cut, total, hint ? hint :
		    "narrow the request to see the rest");
	}
	sshcall_result(call, result_new(clean.p ? clean.p : "", clean.len,
	    iserror));
	sb_free(&clean);
}

static void
reply_err(struct sshcall *call, const char *msg)
{
	sshcall_text(call, 1, "%s", msg);
}

/* ---- arguments ------------------------------------------------------- */

static int
args_object(struct sshcall *call)
{
	if (call->args == NULL || !json_is_object(call->args)) {
		sshcall_text(call, 1, "%s: arguments must be a JSON object",
		    call->tool);
		return 0;
	}
	return 1;
}

/* 0: *out set (NULL when absent and optional); -1: message in err */
static int
arg_str(json_t *obj, const char *name, int required, const char **out,
    char *err)
{
	json_t	*v = json_object_get(obj, name);

	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		if (!required)
			return 0;
		snprintf(err, ERRSZ, "%s is required", name);
		return -1;
	}
	if (!json_is_string(v)) {
		snprintf(err, ERRSZ, "%s must be a string", name);
		return -1;
	}
	if (strlen(json_string_value(v)) != json_string_length(v)) {
		snprintf(err, ERRSZ, "%s contains a NUL character", name);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

/* integers; a number with no fraction or a string of digits will do */
static int
arg_int(json_t *obj, const char *name, long long min, long long max,
    long long def, long long *out, char *err)
{
	json_t		*v = json_object_get(obj, name);
	const char	*errstr;
	double		 d;

	*out = def;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_integer(v))
		*out = json_integer_value(v);
	else if (json_is_real(v)) {
		d = json_real_value(v);
		if (d != (double)(long long)d) {
			snprintf(err, ERRSZ, "%s must be a whole number",
			    name);
			return -1;
		}
		*out = (long long)d;
	} else if (json_is_string(v)) {
		*out = strtonum(json_string_value(v), LLONG_MIN, LLONG_MAX,
		    &errstr);
		if (errstr != NULL) {
			snprintf(err, ERRSZ, "%s must be an integer", name);
			return -1;
		}
	} else {
		snprintf(err, ERRSZ, "%s must be an integer", name);
		return -1;
	}
	if (*out < min || *out > max) {
		snprintf(err, ERRSZ, "%s must be between %lld and %lld", name,
		    min, max);
		return -1;
	}
	return 0;
}

static int
arg_bool(json_t *obj, const char *name, int def, int *out, char *err)
{
	json_t	*v = json_object_get(obj, name);

	*out = def;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_boolean(v)) {
		snprintf(err, ERRSZ, "%s must be true or false", name);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

/*
 * A remote path argument.  Relative paths are taken from the host's base
 * dir when it has one, else they are left to the server (its home).
 * Absent and optional: the base dir, or "." (home).
 */
static int
arg_path(struct sshcall *call, json_t *obj, const char *name, int required,
    char *out, char *err)
{
	const char	*s, *base = call->host->conf ?
			    call->host->conf->base_dir : "";
	int		 n;

	if (arg_str(obj, name, required, &s, err) == -1)
		return -1;
	if (s == NULL) {
		strlcpy(out, base[0] ? base : ".", PATH_MAX);
		return 0;
	}
	if (*s == '\0') {
		snprintf(err, ERRSZ, "%s is empty", name);
		return -1;
	}
	if (s[0] != '/' && base[0] != '\0')
		n = snprintf(out, PATH_MAX, "%s/%s", base, s);
	else
		n = snprintf(out, PATH_MAX, "%s", s);
	if (n < 0 || n >= PATH_MAX) {
		snprintf(err, ERRSZ, "%s is too long", name);
		return -1;
	}
	return 0;
}

static int
call_seconds(void)
{
	if (ssh_conf != NULL && ssh_conf->limits.call_timeout > 0)
		return ssh_conf->limits.call_timeout;
	return CONF_CALL_TIMEOUT;
}

/* ---- SFTP helpers ---------------------------------------------------- */

static const char *
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
		return ssh_get_error(sftp->session);
	default:
		return "SFTP error";
	}
}

static void
fx_err(char *err, sftp_session sftp, const char *what, const char *path)
{
	snprintf(err, ERRSZ, "%s%s%s: %s", what, what[0] ? " " : "", path,
	    fx_str(sftp));
}

static int
fx_missing(sftp_session sftp)
{
	int	 e = sftp_get_error(sftp);

	return e == SSH_FX_NO_SUCH_FILE || e == SSH_FX_NO_SUCH_PATH;
}

static uint64_t
attr_mtime(sftp_attributes a)
{
	if (a->mtime64 != 0)
		return a->mtime64;
	return a->mtime;
}

/* S_IF* from the attributes, whatever the protocol version said */
static int
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

static sftp_session
files_sftp(struct sshcall *call, char *err)
{
	sftp_session	 sftp;

	if ((sftp = sshconn_sftp(call->host, err, ERRSZ)) == NULL &&
	    err[0] == '\0')
		snprintf(err, ERRSZ, "SFTP is not available on host %s",
		    call->host->name);
	return sftp;
}

/* read to EOF, at most max bytes (more is an error) */
static int
sftp_readall(sftp_file f, struct sbuf *sb, size_t max, char *err)
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
static int
remote_exec(struct sshcall *call, const char *cmd, size_t outmax,
    int seconds, size_t maxlines, struct rexec *rx, char *err)
{
	ssh_session	 s = call->host->session;
	ssh_channel	 ch;
	char		 buf[XFER_CHUNK];
	time_t		 deadline = time(NULL) + seconds;
	int		 n, left;
	size_t		 room;

	memset(rx, 0, sizeof(*rx));
	rx->status = -1;
	rx->maxlines = maxlines;
	if ((ch = ssh_channel_new(s)) == NULL ||
	    ssh_channel_open_session(ch) != SSH_OK ||
	    ssh_channel_request_exec(ch, cmd) != SSH_OK) {
		snprintf(err, ERRSZ, "cannot run a command on host %s: %s",
		    call->host->name, ssh_get_error(s));
		if (ch != NULL)
			ssh_channel_free(ch);
		files_lost = 1;
		return -1;
	}
	ssh_channel_send_eof(ch);
	for (;;) {
		if ((left = deadline - time(NULL)) <= 0) {
			rx->timedout = 1;
			break;
		}
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
		if (ssh_channel_is_eof(ch) &&
		    ssh_channel_poll(ch, 0) <= 0 && ssh_channel_poll(ch, 1) <= 0)
			break;
	}
	if (!rx->timedout && !rx->truncated && !rx->linecap)
		rx->status = ssh_channel_get_exit_status(ch);
	else
		/* stop what is still running over there, if it listens */
		ssh_channel_request_send_signal(ch, "KILL");
	ssh_channel_close(ch);
	ssh_channel_free(ch);
	return 0;
}

/* count the lines in the n bytes just added; cut after maxlines */
static int
rexec_lines(struct rexec *rx, size_t n)
{
	char	*p = rx->out.p + rx->out.len - n, *end = rx->out.p + rx->out.len;

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

static void
rexec_free(struct rexec *rx)
{
	sb_free(&rx->out);
	sb_free(&rx->err);
}

/* ---- Read ------------------------------------------------------------ */

static const char *
binary_kind(const unsigned char *p, size_t n)
{
	static const struct {
		size_t		 off;
		const char	*magic;
		size_t		 len;
		const char	*what;
	} kinds[] = {
		{ 0, "\x89PNG\r\n\x1a\n", 8, "PNG image" },
		{ 0, "\xff\xd8\xff", 3, "JPEG image" },
		{ 0, "GIF87a", 6, "GIF image" },
		{ 0, "GIF89a", 6, "GIF image" },
		{ 0, "%PDF-", 5, "PDF document" },
		{ 0, "\x7f" "ELF", 4, "ELF executable or library" },
		{ 0, "\x1f\x8b", 2, "gzip compressed data" },
		{ 0, "PK\x03\x04", 4, "Zip archive (or jar, docx, ...)" },
		{ 0, "BZh", 3, "bzip2 compressed data" },
		{ 0, "\xfd" "7zXZ", 6, "xz compressed data" },
		{ 0, "\x28\xb5\x2f\xfd", 4, "zstd compressed data" },
		{ 0, "7z\xbc\xaf\x27\x1c", 6, "7-zip archive" },
		{ 0, "SQLite format 3", 16, "SQLite database" },
		{ 0, "\xcf\xfa\xed\xfe", 4, "Mach-O executable" },
		{ 0, "\xca\xfe\xba\xbe", 4, "Mach-O universal binary or "
		    "Java class" },
		{ 0, "MZ", 2, "DOS/Windows executable" },
		{ 0, "\0asm", 4, "WebAssembly module" },
		{ 8, "WEBP", 4, "WebP image" },
		{ 257, "ustar", 5, "tar archive" },
		{ 4, "ftyp", 4, "MP4/QuickTime media" },
		{ 0, "OggS", 4, "Ogg media" },
		{ 0, "ID3", 3, "MP3 audio" },
	};
	size_t	 i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (n >= kinds[i].off + kinds[i].len &&
		    memcmp(p + kinds[i].off, kinds[i].magic,
		    kinds[i].len) == 0)
			return kinds[i].what;
	return "data (not text: NUL bytes or invalid UTF-8)";
}

/*
 * The local twin of the remote awk program in read_one(): lines first
 * to first+limit-1, each cut at READ_LINE_BYTES, at most cap bytes in
 * all.  *nlines gets the number of lines seen, *more whether it stopped
 * early (limit or cap) rather than at the end of the text.
 */
static void
slice_lines(const char *p, size_t n, long long first, long long limit,
    size_t cap, struct sbuf *out, long long *nlines, int *more)
{
	const char	*end = p + n, *nl;
	long long	 line = 0;
	size_t		 len, bytes = 0;

	*more = 0;
	while (p < end) {
		nl = memchr(p, '\n', end - p);
		len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		line++;
		if (line >= first) {
			if (len > READ_LINE_BYTES)
				len = READ_LINE_BYTES;
			bytes += len + 1;
			if (bytes > cap) {
				*more = 1;
				break;
			}
			sb_add(out, p, len);
			sb_add(out, "\n", 1);
			if (line >= first + limit - 1) {
				*more = 1;
				break;
			}
		}
		p = nl ? nl + 1 : end;
	}
	*nlines = line;
}

/* cat -n: "%6d\t" and the line, cut at READ_LINE_CHARS characters */
static void
number_lines(const char *p, size_t n, long long first, struct sbuf *out)
{
	const char	*end = p + n, *nl;
	size_t		 len;
	long long	 line = first;

	while (p < end) {
		nl = memchr(p, '\n', end - p);
		len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		sb_printf(out, "%6lld\t", line++);
		sb_add(out, p, utf8_cut(p, len, READ_LINE_CHARS));
		sb_add(out, "\n", 1);
		p = nl ? nl + 1 : end;
	}
}

/*
 * One file for Read/MultiRead: the text in out, 0; or an error message
 * in out, -1.  Small files come over SFTP whole; larger ones are sliced
 * by awk on the host so only the wanted lines travel.
 */
static int
read_one(struct sshcall *call, sftp_session sftp, const char *path,
    long long first, long long limit, struct sbuf *out)
{
	sftp_attributes	 a;
	sftp_file	 f;
	struct sbuf	 text = { 0 }, cmd = { 0 };
	struct rexec	 rx;
	char		 err[ERRSZ];
	unsigned char	 head[READ_SNIFF];
	uint64_t	 size, moved = 0;
	long long	 nlines = 0, seen;
	size_t		 nhead = 0, cap;
	ssize_t		 n;
	int		 more = 0, type, done, cut;

	cap = 4 * (ssh_output_max() ? ssh_output_max() : CONF_OUTPUT_MAX);
	if ((a = sftp_stat(sftp, path)) == NULL) {
		if (fx_missing(sftp))
			sb_printf(out, "File does not exist: %s", path);
		else
			sb_printf(out, "%s: %s", path, fx_str(sftp));
		return -1;
	}
	type = attr_type(a);
	size = a->size;
	sftp_attributes_free(a);
	if (type == S_IFDIR) {
		sb_printf(out, "%s is a directory, not a file; use ListDir "
		    "or Glob to see what it holds", path);
		return -1;
	}
	if (type != S_IFREG) {
		sb_printf(out, "%s is not a regular file (a device, FIFO or "
		    "socket); not read", path);
		return -1;
	}
	if ((f = sftp_open(sftp, path, O_RDONLY, 0)) == NULL) {
		sb_printf(out, "%s: %s", path, fx_str(sftp));
		return -1;
	}
	while (nhead < sizeof(head)) {
		if ((n = sftp_read(f, head + nhead, sizeof(head) - nhead)) < 0) {
			sb_printf(out, "%s: read: %s", path, fx_str(sftp));
			sftp_close(f);
			return -1;
		}
		if (n == 0)
			break;
		nhead += n;
	}
	moved += nhead;
	if (nhead == 0) {
		sftp_close(f);
		sb_printf(out, "<system-reminder>Warning: the file %s exists "
		    "but its contents are empty.</system-reminder>", path);
		return 0;
	}
	if (memchr(head, '\0', nhead) != NULL ||
	    !utf8_valid(head, nhead, nhead == sizeof(head))) {
		sftp_close(f);
		sb_printf(out, "%s: binary file, %llu bytes, type %s; not "
		    "shown (Download fetches it whole, FileStat describes "
		    "it)", path, (unsigned long long)size,
		    binary_kind(head, nhead));
		return 0;
	}

	if (size <= READ_SMALL) {
		sb_add(&text, head, nhead);
		if (nhead == sizeof(head) &&
		    sftp_readall(f, &text, READ_SMALL * 2, err) == -1) {
			sftp_close(f);
			sb_free(&text);
			sb_printf(out, "%s: %.256s", path, err);
			return -1;
		}
		sftp_close(f);
		moved += text.len - nhead;
		{
			struct sbuf	 sl = { 0 };

			slice_lines(text.p, text.len, first, limit, cap, &sl,
			    &nlines, &more);
			sb_free(&text);
			text = sl;
		}
		seen = nlines;
		done = !more;
		cut = more && (nlines < first + limit - 1);
	} else {
		sftp_close(f);
		/*
		 * awk in the C locale counts bytes; it prints the slice and
		 * reports on stderr how many lines it saw, whether it
		 * stopped at the limit (d) or at the byte cap (t).
		 */
		sb_printf(&cmd, "LC_ALL=C exec awk -v s=%lld -v e=%lld "
		    "-v c=%zu 'BEGIN{b=0;d=0;t=0} NR>=s{l=substr($0,1,%d); "
		    "b+=length(l)+1; if(b>c){t=1;exit} print l; "
		    "if(NR>=e){d=1;exit}} END{printf(\"bridged-read %%d "
		    "%%d %%d\\n\",NR,d,t) > \"/dev/stderr\"}' < ", first,
		    first + limit - 1, cap, READ_LINE_BYTES);
		shquote(&cmd, path);
		if (remote_exec(call, cmd.p, cap + READ_LINE_BYTES + 2,
		    call_seconds(), 0, &rx, err) == -1) {
			sb_free(&cmd);
			sb_str(out, err);
			return -1;
		}
		sb_free(&cmd);
		moved += rx.bytes;
		{
			long long	 nr;
			int		 d, t;
			char		*trail;

			trail = rx.err.p ? strstr(rx.err.p, "bridged-read ") :
			    NULL;
			if (rx.timedout || trail == NULL ||
			    sscanf(trail, "bridged-read %lld %d %d", &nr, &d,
			    &t) != 3) {
				if (rx.timedout)
					sb_printf(out, "%s: reading timed out "
					    "after %d s", path,
					    call_seconds());
				else
					sb_printf(out, "%s: %s", path,
					    rx.err.len ? rx.err.p :
					    "read failed on the host");
				rexec_free(&rx);
				return -1;
			}
			seen = nr;
			done = !d && !t;
			cut = t;
		}
		text = rx.out;
		memset(&rx.out, 0, sizeof(rx.out));
		rexec_free(&rx);
	}
	log_debug("Read %s: lines %lld+%lld, %llu bytes moved", path, first,
	    limit, (unsigned long long)moved);

	if (text.len == 0 && done && seen < first) {
		sb_printf(out, "<system-reminder>Warning: the file %s is "
		    "shorter than the offset given (%lld): it has %lld "
		    "lines.</system-reminder>", path, first, seen);
		sb_free(&text);
		return 0;
	}
	number_lines(text.p ? text.p : "", text.len, first, out);
	sb_free(&text);
	if (cut)
		sb_printf(out, "[stopped after %zu bytes of lines; the file is "
		    "%llu bytes: use offset/limit to read the rest]\n", cap,
		    (unsigned long long)size);
	return 0;
}

static void
do_read(struct sshcall *call)
{
	sftp_session	 sftp;
	struct sbuf	 out = { 0 };
	char		 path[PATH_MAX], err[ERRSZ] = "";
	long long	 offset, limit;
	int		 rc;

	if (arg_path(call, call->args, "file_path", 1, path, err) == -1 ||
	    arg_int(call->args, "offset", 0, LLONG_MAX / 2, 1, &offset,
	    err) == -1 ||
	    arg_int(call->args, "limit", 1, LLONG_MAX / 2, READ_LINES,
	    &limit, err) == -1) {
		reply_err(call, err);
		return;
	}
	if (offset == 0)
		offset = 1;
	if ((sftp = files_sftp(call, err)) == NULL) {
		reply_err(call, err);
		return;
	}
	rc = read_one(call, sftp, path, offset, limit, &out);
	reply(call, rc == -1, &out, "use offset and limit to read the rest");
}

static void
do_multiread(struct sshcall *call)
{
	sftp_session	 sftp;
	json_t		*files, *e;
	struct sbuf	 out = { 0 }, one;
	const char	*s;
	char		 path[PATH_MAX], err[ERRSZ] = "";
	long long	 offset, limit;
	size_t		 i;
	int		 failed = 0;

	files = json_object_get(call->args, "files");
	if (!json_is_array(files) || json_array_size(files) == 0) {
		reply_err(call, "files must be a non-empty array of paths or "
		    "{file_path, offset?, limit?} objects");
		return;
	}
	if (json_array_size(files) > MULTI_MAX) {
		sshcall_text(call, 1, "files: at most %d files per call",
		    MULTI_MAX);
		return;
	}
	/* check everything before reading anything */
	json_array_foreach(files, i, e) {
		if (json_is_string(e))
			continue;
		if (!json_is_object(e) || arg_str(e, "file_path", 1, &s,
		    err) == -1 || arg_int(e, "offset", 0, LLONG_MAX / 2, 1,
		    &offset, err) == -1 || arg_int(e, "limit", 1,
		    LLONG_MAX / 2, READ_LINES, &limit, err) == -1) {
			if (err[0] == '\0')
				strlcpy(err, "must be a path or an object",
				    sizeof(err));
			sshcall_text(call, 1, "files[%zu]: %s", i, err);
			return;
		}
	}
	if ((sftp = files_sftp(call, err)) == NULL) {
		reply_err(call, err);
		return;
	}
	json_array_foreach(files, i, e) {
		offset = 1;
		limit = READ_LINES;
		if (json_is_string(e)) {
			json_t	*o = json_pack("{s:O}", "file_path", e);

			if (o == NULL)
				fatalx("json_pack");
			if (arg_path(call, o, "file_path", 1, path,
			    err) == -1)
				path[0] = '\0';
			json_decref(o);
		} else {
			if (arg_path(call, e, "file_path", 1, path,
			    err) == -1)
				path[0] = '\0';
			arg_int(e, "offset", 0, LLONG_MAX / 2, 1, &offset,
			    err);
			arg_int(e, "limit", 1, LLONG_MAX / 2, READ_LINES,
			    &limit, err);
		}
		if (offset == 0)
			offset = 1;
		sb_printf(&out, "%s==> %s <==\n", i ? "\n" : "",
		    path[0] ? path : "(bad path)");
		if (path[0] == '\0') {
			sb_printf(&out, "error: %s\n", err);
			failed++;
			continue;
		}
		memset(&one, 0, sizeof(one));
		if (read_one(call, sftp, path, offset, limit, &one) == -1) {
			sb_str(&out, "error: ");
			failed++;
		}
		sb_add(&out, one.p ? one.p : "", one.len);
		if (one.len == 0 || one.p[one.len - 1] != '\n')
			sb_add(&out, "\n", 1);
		sb_free(&one);
		if (files_lost)
			break;
	}
	reply(call, (size_t)failed == json_array_size(files), &out,
	    "read fewer files per call, or use offset/limit");
}

/* ---- Write / Edit / MultiEdit ---------------------------------------- */

/* a whole file into sb (at most EDIT_MAX), its attributes into *ap */
static int
load_file(sftp_session sftp, const char *path, struct sbuf *sb,
    sftp_attributes *ap, char *err)
{
	sftp_attributes	 a;
	sftp_file	 f;
	char		 e2[ERRSZ];

	*ap = NULL;
	if ((a = sftp_stat(sftp, path)) == NULL) {
		if (fx_missing(sftp))
			snprintf(err, ERRSZ, "File does not exist: %s", path);
		else
			fx_err(err, sftp, "", path);
		return -1;
	}
	if (attr_type(a) == S_IFDIR) {
		snprintf(err, ERRSZ, "%s is a directory, not a file", path);
		sftp_attributes_free(a);
		return -1;
	}
	if (attr_type(a) != S_IFREG) {
		snprintf(err, ERRSZ, "%s is not a regular file", path);
		sftp_attributes_free(a);
		return -1;
	}
	if (a->size > EDIT_MAX) {
		snprintf(err, ERRSZ, "%s is %llu bytes; files over %d bytes "
		    "are not edited in place", path,
		    (unsigned long long)a->size, EDIT_MAX);
		sftp_attributes_free(a);
		return -1;
	}
	if ((f = sftp_open(sftp, path, O_RDONLY, 0)) == NULL) {
		fx_err(err, sftp, "", path);
		sftp_attributes_free(a);
		return -1;
	}
	if (sftp_readall(f, sb, EDIT_MAX, e2) == -1) {
		snprintf(err, ERRSZ, "%s: %.256s", path, e2);
		sftp_close(f);
		sftp_attributes_free(a);
		return -1;
	}
	sftp_close(f);
	sb_add(sb, "", 0);	/* a NUL-terminated empty file too */
	*ap = a;
	return 0;
}

/*
 * Make ".NAME.bridged-XXXXXX" next to path, exclusively.  The name goes
 * to tmp (PATH_MAX).
 */
static int
temp_create(sftp_session sftp, const char *path, mode_t mode, char *tmp,
    sftp_file *fp, char *err)
{
	static const char	 chars[] = "abcdefghijklmnopqrstuvwxyz"
				    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	const char		*slash, *base;
	char			 rnd[7];
	int			 dirlen, i, try, n;

	slash = strrchr(path, '/');
	base = slash ? slash + 1 : path;
	dirlen = slash ? (int)(slash - path) + 1 : 0;
	if (*base == '\0') {
		snprintf(err, ERRSZ, "%s names a directory, not a file", path);
		return -1;
	}
	for (try = 0; try < TEMP_TRIES; try++) {
		for (i = 0; i < 6; i++)
			rnd[i] = chars[arc4random_uniform(sizeof(chars) - 1)];
		rnd[6] = '\0';
		/* keep the name within NAME_MAX however long base is */
		n = snprintf(tmp, PATH_MAX, "%.*s.%.200s.bridged-%s", dirlen,
		    path, base, rnd);
		if (n < 0 || n >= PATH_MAX) {
			snprintf(err, ERRSZ, "%s: path too long", path);
			return -1;
		}
		if ((*fp = sftp_open(sftp, tmp, O_WRONLY | O_CREAT | O_EXCL,
		    mode)) != NULL)
			return 0;
		/* OpenSSH answers a taken name with a plain failure */
		if (sftp_get_error(sftp) != SSH_FX_FILE_ALREADY_EXISTS &&
		    sftp_get_error(sftp) != SSH_FX_FAILURE)
			break;
	}
	if (fx_missing(sftp))
		snprintf(err, ERRSZ, "cannot create %s: the directory does "
		    "not exist", path);
	else
		snprintf(err, ERRSZ, "cannot create a file next to %s: %s",
		    path, fx_str(sftp));
	return -1;
}

/*
 * Replace target by tmp in one step.  SFTP's rename will not replace an
 * existing file (OpenSSH links, then unlinks) and libssh 0.10 has no
 * posix-rename@openssh.com, so mv(1), which is rename(2) within one
 * directory, does it.  The target is known not to be a directory (or a
 * link to one: mv would move into it).
 */
static int
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
	if (remote_exec(call, cmd.p, 4096, call_seconds(), 0, &rx, err) == 0 &&
	    rx.status == 0) {
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
static int
write_atomic(struct sshcall *call, sftp_session sftp, const char *path,
    const char *data, size_t len, int overwrite, char *err, int *created)
{
	sftp_attributes	 a, t;
	sftp_file	 f;
	char		 tmp[PATH_MAX];
	size_t		 off;
	ssize_t		 n;
	uint32_t	 mode = 0, uid = 0, gid = 0;
	int		 exists = 0;

	*created = 0;
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
	if (temp_create(sftp, path, exists ? 0600 : 0644, tmp, &f,
	    err) == -1)
		return -1;
	for (off = 0; off < len; off += n) {
		n = sftp_write(f, data + off, len - off > SFTP_CHUNK ?
		    SFTP_CHUNK : len - off);
		if (n <= 0) {
			fx_err(err, sftp, "write", tmp);
			goto fail;
		}
	}
	if (sftp_extension_supported(sftp, "fsync@openssh.com", "1") &&
	    sftp_fsync(f) != 0) {
		fx_err(err, sftp, "fsync", tmp);
		goto fail;
	}
	if (sftp_close(f) != 0) {
		f = NULL;
		fx_err(err, sftp, "close", tmp);
		goto fail;
	}
	f = NULL;
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
	if (f != NULL)
		sftp_close(f);
	sftp_unlink(sftp, tmp);
	return -1;
}

static void
do_write(struct sshcall *call)
{
	sftp_session	 sftp;
	json_t		*v;
	const char	*content;
	char		 path[PATH_MAX], err[ERRSZ] = "";
	int		 created;

	if (arg_path(call, call->args, "file_path", 1, path, err) == -1) {
		reply_err(call, err);
		return;
	}
	v = json_object_get(call->args, "content");
	if (!json_is_string(v)) {
		reply_err(call, "content is required and must be a string");
		return;
	}
	content = json_string_value(v);
	if ((sftp = files_sftp(call, err)) == NULL) {
		reply_err(call, err);
		return;
	}
	if (write_atomic(call, sftp, path, content, json_string_length(v), 1,
	    err, &created) == -1) {
		reply_err(call, err);
		return;
	}
	if (created)
		sshcall_text(call, 0, "File created successfully at: %s "
		    "(%zu bytes)", path, json_string_length(v));
	else
		sshcall_text(call, 0, "The file %s has been updated (%zu "
		    "bytes).", path, json_string_length(v));
}

/* {old_string, new_string, replace_all?} */
static int
edit_parse(json_t *obj, struct edit *e, char *err)
{
	json_t	*o, *n;

	o = json_object_get(obj, "old_string");
	n = json_object_get(obj, "new_string");
	if (!json_is_string(o)) {
		snprintf(err, ERRSZ, "old_string is required and must be a "
		    "string");
		return -1;
	}
	if (!json_is_string(n)) {
		snprintf(err, ERRSZ, "new_string is required and must be a "
		    "string");
		return -1;
	}
	e->old = json_string_value(o);
	e->oldlen = json_string_length(o);
	e->new = json_string_value(n);
	e->newlen = json_string_length(n);
	if (arg_bool(obj, "replace_all", 0, &e->all, err) == -1)
		return -1;
	if (e->oldlen == e->newlen && memcmp(e->old, e->new,
	    e->oldlen) == 0) {
		snprintf(err, ERRSZ, "old_string and new_string are the same; "
		    "no change to make");
		return -1;
	}
	return 0;
}

/* non-overlapping matches of e->old; their line numbers into lines */
static size_t
count_matches(const struct sbuf *sb, const struct edit *e,
    struct sbuf *lines)
{
	const char	*p = sb->p, *end = sb->p + sb->len, *m, *q;
	long long	 line = 1;
	size_t		 count = 0;

	q = p;
	while ((m = memmem(p, end - p, e->old, e->oldlen)) != NULL) {
		for (; q < m; q++)
			if (*q == '\n')
				line++;
		if (lines != NULL && count < 20)
			sb_printf(lines, "%s%lld", count ? ", " : "", line);
		count++;
		p = m + e->oldlen;
	}
	if (lines != NULL && count > 20)
		sb_str(lines, ", ...");
	return count;
}

/* apply one edit to sb in place; -1 and a message when it cannot */
static int
apply_edit(struct sbuf *sb, const struct edit *e, char *err, size_t errsz)
{
	struct sbuf	 out = { 0 }, lines = { 0 };
	const char	*p, *end, *m;
	size_t		 n;

	if (e->oldlen == 0) {
		if (sb->len != 0) {
			snprintf(err, errsz, "old_string is empty; that only "
			    "works to fill an empty or new file");
			return -1;
		}
		sb_add(sb, e->new, e->newlen);
		return 0;
	}
	n = count_matches(sb, e, &lines);
	if (n == 0) {
		snprintf(err, errsz, "old_string not found in the file (it "
		    "must match exactly, including whitespace and "
		    "indentation)");
		sb_free(&lines);
		return -1;
	}
	if (n > 1 && !e->all) {
		snprintf(err, errsz, "old_string is not unique: it appears "
		    "%zu times, at lines %s; add surrounding context to make "
		    "it unique, or set replace_all to change every one", n,
		    lines.p);
		sb_free(&lines);
		return -1;
	}
	sb_free(&lines);
	p = sb->p;
	end = sb->p + sb->len;
	while ((m = memmem(p, end - p, e->old, e->oldlen)) != NULL) {
		sb_add(&out, p, m - p);
		sb_add(&out, e->new, e->newlen);
		p = m + e->oldlen;
		if (!e->all)
			break;
	}
	sb_add(&out, p, end - p);
	sb_free(sb);
	*sb = out;
	return 0;
}

/* apply edits in order to the file in memory; write only if all apply */
static void
edit_run(struct sshcall *call, const char *path, struct edit *edits,
    size_t nedits)
{
	sftp_session	 sftp;
	sftp_attributes	 a = NULL;
	struct sbuf	 sb = { 0 };
	char		 err[ERRSZ] = "", msg[ERRSZ];
	size_t		 i;
	int		 created;

	if ((sftp = files_sftp(call, err)) == NULL) {
		reply_err(call, err);
		return;
	}
	if (load_file(sftp, path, &sb, &a, err) == -1) {
		/* an empty old_string may create the file */
		if (nedits == 1 && edits[0].oldlen == 0 && fx_missing(sftp) &&
		    !files_lost) {
			sb_add(&sb, "", 0);
		} else {
			reply_err(call, err);
			sb_free(&sb);
			return;
		}
	}
	if (a != NULL)
		sftp_attributes_free(a);
	for (i = 0; i < nedits; i++) {
		if (apply_edit(&sb, &edits[i], msg, sizeof(msg)) == -1) {
			if (nedits > 1)
				sshcall_text(call, 1, "edit %zu of %zu failed: "
				    "%s; nothing was written to %s", i + 1,
				    nedits, msg, path);
			else
				sshcall_text(call, 1, "%s: %s; nothing was "
				    "written", path, msg);
			sb_free(&sb);
			return;
		}
	}
	if (write_atomic(call, sftp, path, sb.p ? sb.p : "", sb.len, 1, err,
	    &created) == -1) {
		reply_err(call, err);
		sb_free(&sb);
		return;
	}
	sb_free(&sb);
	if (created)
		sshcall_text(call, 0, "File created successfully at: %s",
		    path);
	else if (nedits > 1)
		sshcall_text(call, 0, "Applied %zu edits to %s.", nedits,
		    path);
	else
		sshcall_text(call, 0, "The file %s has been updated.", path);
}

static void
do_edit(struct sshcall *call)
{
	struct edit	 e;
	char		 path[PATH_MAX], err[ERRSZ] = "";

	if (arg_path(call, call->args, "file_path", 1, path, err) == -1 ||
	    edit_parse(call->args, &e, err) == -1) {
		reply_err(call, err);
		return;
	}
	edit_run(call, path, &e, 1);
}

static void
do_multiedit(struct sshcall *call)
{
	struct edit	*edits;
	json_t		*arr, *o;
	char		 path[PATH_MAX], err[ERRSZ] = "";
	size_t		 i, n;

	if (arg_path(call, call->args, "file_path", 1, path, err) == -1) {
		reply_err(call, err);
		return;
	}
	arr = json_object_get(call->args, "edits");
	if (!json_is_array(arr) || (n = json_array_size(arr)) == 0) {
		reply_err(call, "edits must be a non-empty array of "
		    "{old_string, new_string, replace_all?}");
		return;
	}
	if (n > 1000) {
		reply_err(call, "edits: at most 1000 edits per call");
		return;
	}
	if ((edits = calloc(n, sizeof(*edits))) == NULL)
		fatal(NULL);
	json_array_foreach(arr, i, o) {
		if (!json_is_object(o)) {
			sshcall_text(call, 1, "edit %zu of %zu: must be an "
			    "object; nothing was written", i + 1, n);
			free(edits);
			return;
		}
		if (edit_parse(o, &edits[i], err) == -1) {
			sshcall_text(call, 1, "edit %zu of %zu: %s; nothing "
			    "was written", i + 1, n, err);
			free(edits);
			return;
		}
	}
	edit_run(call, path, edits, n);
	free(edits);
}

/* ---- FileStat / ListDir ---------------------------------------------- */

static json_t *
stat_one(sftp_session sftp, const char *path)
{
	sftp_attributes	 a;
	json_t		*o;
	const char	*type;
	char		 mode[16], when[32], *target;
	time_t		 t;
	struct tm	 tm;

	if ((a = sftp_lstat(sftp, path)) == NULL)
		return json_pack("{s:s,s:s}", "path", path, "error",
		    fx_str(sftp));
	switch (attr_type(a)) {
	case S_IFREG:
		type = "file";
		break;
	case S_IFDIR:
		type = "directory";
		break;
	case S_IFLNK:
		type = "symlink";
		break;
	default:
		type = "other";
		break;
	}
	snprintf(mode, sizeof(mode), "%04o", a->permissions & 07777);
	t = (time_t)attr_mtime(a);
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		strlcpy(when, "", sizeof(when));
	o = json_pack("{s:s,s:s,s:I,s:s,s:I,s:I,s:s}", "path", path,
	    "type", type, "size", (json_int_t)a->size, "mode", mode,
	    "uid", (json_int_t)a->uid, "gid", (json_int_t)a->gid,
	    "mtime", when);
	if (o == NULL)
		fatalx("json_pack");
	if (a->owner != NULL)
		json_object_set_new(o, "owner", json_string(a->owner));
	if (a->group != NULL)
		json_object_set_new(o, "group", json_string(a->group));
	if (attr_type(a) == S_IFLNK) {
		if ((target = sftp_readlink(sftp, path)) != NULL) {
			json_object_set_new(o, "target", json_string(target));
			ssh_string_free_char(target);
		} else
			json_object_set_new(o, "target_error",
			    json_string(fx_str(sftp)));
	}
	sftp_attributes_free(a);
	return o;
}

static void
do_stat(struct sshcall *call)
{
	sftp_session	 sftp;
	json_t		*paths, *e, *files, *res, *one;
	char		 path[PATH_MAX], err[ERRSZ] = "", *text;
	size_t		 i;

	paths = json_object_get(call->args, "paths");
	if (json_is_string(paths))
		paths = json_pack("[O]", paths);
	else if (json_is_array(paths) && json_array_size(paths) > 0)
		json_incref(paths);
	else {
		reply_err(call, "paths must be a non-empty array of paths");
		return;
	}
	if (json_array_size(paths) > STAT_MAX) {
		json_decref(paths);
		sshcall_text(call, 1, "paths: at most %d per call", STAT_MAX);
		return;
	}
	json_array_foreach(paths, i, e) {
		if (!json_is_string(e) || json_string_length(e) == 0 ||
		    strlen(json_string_value(e)) != json_string_length(e)) {
			json_decref(paths);
			sshcall_text(call, 1, "paths[%zu] must be a non-empty "
			    "string", i);
			return;
		}
	}
	if ((sftp = files_sftp(call, err)) == NULL) {
		json_decref(paths);
		reply_err(call, err);
		return;
	}
	if ((files = json_array()) == NULL)
		fatal(NULL);
	json_array_foreach(paths, i, e) {
		json_t	*o = json_pack("{s:O}", "p", e);

		if (arg_path(call, o, "p", 1, path, err) == -1)
			one = json_pack("{s:O,s:s}", "path", e, "error", err);
		else
			one = stat_one(sftp, path);
		json_decref(o);
		if (one == NULL)
			fatalx("json_pack");
		json_array_append_new(files, one);
		if (files_lost)
			break;
	}
	json_decref(paths);
	if ((res = json_pack("{s:o}", "files", files)) == NULL)
		fatalx("json_pack");
	if ((text = json_dumps(res, JSON_INDENT(1) | JSON_PRESERVE_ORDER)) ==
	    NULL)
		fatal(NULL);
	one = result_new(text, strlen(text), 0);
	free(text);
	json_object_set_new(one, "structuredContent", res);
	sshcall_result(call, one);
}

struct dent {
	char		*name;
	char		*target;
	int		 type;
	uint64_t	 size;
};

static int
dent_cmp(const void *a, const void *b)
{
	const struct dent	*x = a, *y = b;

	return strcmp(x->name, y->name);
}

static void
do_listdir(struct sshcall *call)
{
	sftp_session	 sftp;
	sftp_dir	 d;
	sftp_attributes	 a;
	struct dent	*ents = NULL, *de;
	struct sbuf	 out = { 0 };
	char		 path[PATH_MAX], err[ERRSZ] = "", full[PATH_MAX];
	size_t		 n = 0, size = 0, i;
	int		 more = 0;

	if (arg_path(call, call->args, "path", 0, path, err) == -1) {
		reply_err(call, err);
		return;
	}
	if ((sftp = files_sftp(call, err)) == NULL) {
		reply_err(call, err);
		return;
	}
	if ((d = sftp_opendir(sftp, path)) == NULL) {
		/* OpenSSH says "no such file" for ENOTDIR too: look */
		snprintf(err, sizeof(err), "%s: %s", path, fx_str(sftp));
		if ((a = sftp_stat(sftp, path)) != NULL &&
		    attr_type(a) != S_IFDIR)
			snprintf(err, sizeof(err), "%s is not a directory "
			    "(Read or FileStat it instead)", path);
		if (a != NULL)
			sftp_attributes_free(a);
		reply_err(call, err);
		return;
	}
	while ((a = sftp_readdir(sftp, d)) != NULL) {
		if (strcmp(a->name, ".") == 0 || strcmp(a->name, "..") == 0) {
			sftp_attributes_free(a);
			continue;
		}
		if (n == LISTDIR_MAX) {
			more = 1;
			sftp_attributes_free(a);
			break;
		}
		if (n == size) {
			size = size ? size * 2 : 64;
			if ((ents = reallocarray(ents, size,
			    sizeof(*ents))) == NULL)
				fatal(NULL);
		}
		de = &ents[n++];
		if ((de->name = strdup(a->name)) == NULL)
			fatal(NULL);
		de->type = attr_type(a);
		de->size = a->size;
		de->target = NULL;
		sftp_attributes_free(a);
	}
	if (!more && !sftp_dir_eof(d)) {
		sftp_closedir(d);
		sshcall_text(call, 1, "%s: listing failed: %s", path,
		    fx_str(sftp));
		goto done;
	}
	sftp_closedir(d);
	if (n > 0)
		qsort(ents, n, sizeof(*ents), dent_cmp);
	sb_printf(&out, "%s: %zu entr%s%s\n", path, n, n == 1 ? "y" : "ies",
	    more ? " (listing stopped there)" : "");
	for (i = 0; i < n; i++) {
		de = &ents[i];
		switch (de->type) {
		case S_IFDIR:
			sb_printf(&out, "%s/\n", de->name);
			break;
		case S_IFLNK:
			if (n <= 1000 && (size_t)snprintf(full, sizeof(full),
			    "%s/%s", path, de->name) < sizeof(full))
				de->target = sftp_readlink(sftp, full);
			sb_printf(&out, "%s@%s%s\n", de->name,
			    de->target ? " -> " : "",
			    de->target ? de->target : "");
			break;
		case S_IFREG:
			sb_printf(&out, "%s\t%llu\n", de->name,
			    (unsigned long long)de->size);
			break;
		default:
			sb_printf(&out, "%s|\t(special)\n", de->name);
			break;
		}
	}
	reply(call, 0, &out, "list a subdirectory, or use Glob with a "
	    "narrower pattern");
 done:
	for (i = 0; i < n; i++) {
		free(ents[i].name);
		if (ents[i].target != NULL)
			ssh_string_free_char(ents[i].target);
	}
	free(ents);
}

/* ---- Glob ------------------------------------------------------------ */

/*
 * Expand the first {a,b,...} group of pat, recursively, into out[] (at
 * most GLOB_PATS patterns).  Returns -1 when there would be too many.
 */
static int
glob_expand(const char *pat, char **out, int *nout)
{
	const char	*open = NULL, *p, *alt;
	int		 depth = 0;
	char		*np;
	size_t		 pre, altlen;

	for (p = pat; *p != '\0'; p++) {
		if (*p == '\\' && p[1] != '\0') {
			p++;
			continue;
		}
		if (*p == '{') {
			if (depth++ == 0)
				open = p;
		} else if (*p == '}' && depth > 0 && --depth == 0)
			break;
	}
	if (open == NULL || *p != '}') {
		if (*nout == GLOB_PATS)
			return -1;
		if ((out[(*nout)++] = strdup(pat)) == NULL)
			fatal(NULL);
		return 0;
	}
	pre = open - pat;
	/* each alternative between open and p, at depth 1 */
	alt = open + 1;
	depth = 0;
	for (const char *q = open + 1; q <= p; q++) {
		if (*q == '\\' && q < p) {
			q++;
			continue;
		}
		if (*q == '{')
			depth++;
		else if (*q == '}' && depth > 0)
			depth--;
		else if ((*q == ',' && depth == 0) || q == p) {
			altlen = q - alt;
			if (asprintf(&np, "%.*s%.*s%s", (int)pre, pat,
			    (int)altlen, alt, p + 1) == -1)
				fatal(NULL);
			if (glob_expand(np, out, nout) == -1) {
				free(np);
				return -1;
			}
			free(np);
			alt = q + 1;
		}
	}
	return 0;
}

/* split pattern i into its components */
static int
glob_split(struct globctx *g, int i, const char *pat)
{
	char	*copy, *s, *c;
	int	 n = 0;

	if ((copy = strdup(pat)) == NULL)
		fatal(NULL);
	if ((g->comp[i] = calloc(GLOB_COMPS, sizeof(char *))) == NULL)
		fatal(NULL);
	s = copy;
	while ((c = strsep(&s, "/")) != NULL) {
		if (*c == '\0' || strcmp(c, ".") == 0)
			continue;
		/* "**" next to "**" adds nothing */
		if (strcmp(c, "**") == 0 && n > 0 &&
		    strcmp(g->comp[i][n - 1], "**") == 0)
			continue;
		if (n == GLOB_COMPS || strcmp(c, "..") == 0) {
			free(copy);
			return -1;
		}
		if ((g->comp[i][n++] = strdup(c)) == NULL)
			fatal(NULL);
	}
	free(copy);
	g->ncomp[i] = n;
	return 0;
}

/* add the states reachable by letting "**" match nothing; dedupe */
static size_t
glob_closure(struct globctx *g, struct gstate *st, size_t n, size_t max)
{
	size_t	 i, j;

	for (i = 0; i < n; i++) {
		struct gstate	 s = st[i];

		if (s.c < g->ncomp[s.p] &&
		    strcmp(g->comp[s.p][s.c], "**") == 0) {
			s.c++;
			for (j = 0; j < n; j++)
				if (st[j].p == s.p && st[j].c == s.c)
					break;
			if (j == n && n < max)
				st[n++] = s;
		}
	}
	return n;
}

static void
glob_walk(struct globctx *g, const char *dir, const struct gstate *st,
    size_t nst, int depth)
{
	sftp_dir	 d;
	sftp_attributes	 a;
	struct gstate	*next;
	char		 full[PATH_MAX], **subs = NULL;
	size_t		 nnext, i, j, max = GLOB_PATS * (GLOB_COMPS + 1);
	size_t		 nsubs = 0, ssize = 0;
	int		 matched, deeper, type;

	if (depth > GLOB_DEPTH) {
		g->truncated = 1;
		return;
	}
	if ((d = sftp_opendir(g->sftp, dir)) == NULL)
		return;		/* unreadable directories are skipped */
	if ((next = calloc(max, sizeof(*next))) == NULL)
		fatal(NULL);
	while ((a = sftp_readdir(g->sftp, d)) != NULL) {
		if (strcmp(a->name, ".") == 0 || strcmp(a->name, "..") == 0) {
			sftp_attributes_free(a);
			continue;
		}
		if (++g->visited > GLOB_VISIT_MAX ||
		    time(NULL) > g->deadline) {
			g->truncated = 1;
			sftp_attributes_free(a);
			break;
		}
		nnext = 0;
		for (i = 0; i < nst; i++) {
			const char	*c;

			if (st[i].c >= g->ncomp[st[i].p])
				continue;
			c = g->comp[st[i].p][st[i].c];
			if (strcmp(c, "**") == 0) {
				if (a->name[0] != '.')
					next[nnext++] = st[i];
			} else if (fnmatch(c, a->name, FNM_PERIOD) == 0) {
				next[nnext].p = st[i].p;
				next[nnext++].c = st[i].c + 1;
			}
			for (j = 0; j + 1 < nnext; j++)
				if (next[j].p == next[nnext - 1].p &&
				    next[j].c == next[nnext - 1].c) {
					nnext--;
					break;
				}
		}
		nnext = glob_closure(g, next, nnext, max);
		matched = deeper = 0;
		for (i = 0; i < nnext; i++) {
			if (next[i].c == g->ncomp[next[i].p])
				matched = 1;
			else
				deeper = 1;
		}
		type = attr_type(a);
		if (nnext > 0 && (size_t)snprintf(full, sizeof(full), "%s%s%s",
		    dir, dir[strlen(dir) - 1] == '/' ? "" : "/",
		    a->name) < sizeof(full)) {
			if (matched && type != S_IFDIR) {
				if (g->nm == g->msize) {
					g->msize = g->msize ? g->msize * 2 :
					    64;
					if ((g->m = reallocarray(g->m,
					    g->msize, sizeof(*g->m))) == NULL)
						fatal(NULL);
				}
				if ((g->m[g->nm].path = strdup(full)) == NULL)
					fatal(NULL);
				g->m[g->nm++].mtime = attr_mtime(a);
			}
			/* symbolic links to directories are not followed */
			if (deeper && type == S_IFDIR) {
				if (nsubs == ssize) {
					ssize = ssize ? ssize * 2 : 16;
					if ((subs = reallocarray(subs, ssize,
					    sizeof(*subs))) == NULL)
						fatal(NULL);
				}
				if ((subs[nsubs++] = strdup(full)) == NULL)
					fatal(NULL);
			}
		}
		sftp_attributes_free(a);
	}
	sftp_closedir(d);

	/* one open directory at a time: descend after closing this one */
	for (i = 0; i < nsubs; i++) {
		const char	*name = strrchr(subs[i], '/') + 1;

		if (!g->truncated) {
			/* recompute the states this name leads to */
			nnext = 0;
			for (j = 0; j < nst; j++) {
				const char	*c;

				if (st[j].c >= g->ncomp[st[j].p])
					continue;
				c = g->comp[st[j].p][st[j].c];
				if (strcmp(c, "**") == 0)
					next[nnext++] = st[j];
				else if (fnmatch(c, name, FNM_PERIOD) == 0) {
					next[nnext].p = st[j].p;
					next[nnext++].c = st[j].c + 1;
				}
			}
			nnext = glob_closure(g, next, nnext, max);
			glob_walk(g, subs[i], next, nnext, depth + 1);
		}
		free(subs[i]);
	}
	free(subs);
	free(next);
}

static int
gmatch_cmp(const void *a, const void *b)
{
	const struct gmatch	*x = a, *y = b;

	if (x->mtime != y->mtime)
		return x->mtime > y->mtime ? -1 : 1;
	return strcmp(x->path, y->path);
}

static void
do_glob(struct sshcall *call)
{
	struct globctx	 g;
	struct gstate	*st;
	struct sbuf	 out = { 0 };
	const char	*pattern, *p, *lastslash;
	char		 path[PATH_MAX], root[PATH_MAX], err[ERRSZ] = "";
	const char	*rest;
	char		*pats[GLOB_PATS], *canon;
	sftp_attributes	 a;
	size_t		 nst, i;
	int		 npats = 0, k;

	memset(&g, 0, sizeof(g));
	if (arg_str(call->args, "pattern", 1, &pattern, err) == -1 ||
	    arg_path(call, call->args, "path", 0, path, err) == -1) {
		reply_err(call, err);
		return;
	}
	if (*pattern == '\0') {
		reply_err(call, "pattern is empty");
		return;
	}
	/* an absolute pattern: its literal leading directories are the root */
	if (pattern[0] == '/') {
		lastslash = pattern;
		for (p = pattern; *p != '\0' && strchr("*?[{\\", *p) == NULL;
		    p++)
			if (*p == '/')
				lastslash = p;
		if (*p == '\0') {
			/* no wildcard at all: the directory part */
			lastslash = strrchr(pattern, '/');
		}
		if (lastslash == pattern)
			strlcpy(root, "/", sizeof(root));
		else if ((size_t)(lastslash - pattern) < sizeof(root))
			snprintf(root, sizeof(root), "%.*s",
			    (int)(lastslash - pattern), pattern);
		else {
			reply_err(call, "pattern is too long");
			return;
		}
		rest = lastslash + 1;
	} else {
		strlcpy(root, path, sizeof(root));
		rest = pattern;
	}
	if (glob_expand(rest, pats, &npats) == -1) {
		for (k = 0; k < npats; k++)
			free(pats[k]);
		sshcall_text(call, 1, "pattern has more than %d alternatives "
		    "after {,} expansion", GLOB_PATS);
		return;
	}
	for (k = 0; k < npats; k++) {
		if (glob_split(&g, k, pats[k]) == -1) {
			sshcall_text(call, 1, "pattern: \"..\" and more than "
			    "%d components are not supported", GLOB_COMPS);
			npats = k + 1;
			goto done;
		}
	}
	g.npat = npats;
	if ((g.sftp = files_sftp(call, err)) == NULL) {
		reply_err(call, err);
		goto done;
	}
	if ((canon = sftp_canonicalize_path(g.sftp, root)) == NULL) {
		sshcall_text(call, 1, "path %s: %s", root, fx_str(g.sftp));
		goto done;
	}
	strlcpy(root, canon, sizeof(root));
	ssh_string_free_char(canon);
	if ((a = sftp_stat(g.sftp, root)) == NULL) {
		sshcall_text(call, 1, "path %s: %s", root, fx_str(g.sftp));
		goto done;
	}
	if (attr_type(a) != S_IFDIR) {
		sftp_attributes_free(a);
		sshcall_text(call, 1, "path %s is not a directory", root);
		goto done;
	}
	sftp_attributes_free(a);

	if ((st = calloc(GLOB_PATS * (GLOB_COMPS + 1), sizeof(*st))) == NULL)
		fatal(NULL);
	for (k = 0, nst = 0; k < npats; k++) {
		st[nst].p = k;
		st[nst++].c = 0;
	}
	nst = glob_closure(&g, st, nst, GLOB_PATS * (GLOB_COMPS + 1));
	g.deadline = time(NULL) + GLOB_SECONDS;
	glob_walk(&g, root, st, nst, 0);
	free(st);

	if (g.nm == 0)
		sb_str(&out, "No files found\n");
	else {
		qsort(g.m, g.nm, sizeof(*g.m), gmatch_cmp);
		for (i = 0; i < g.nm && i < GLOB_RESULTS; i++)
			sb_printf(&out, "%s\n", g.m[i].path);
		if (g.nm > GLOB_RESULTS)
			sb_printf(&out, "(Results are truncated: showing the "
			    "%d most recently modified of %zu files. Consider "
			    "using a more specific path or pattern.)\n",
			    GLOB_RESULTS, g.nm);
	}
	if (g.truncated)
		sb_printf(&out, "(The search stopped early after %zu entries "
		    "or %d seconds; narrow the path or pattern.)\n",
		    g.visited, GLOB_SECONDS);
	reply(call, 0, &out, "use a more specific path or pattern");
 done:
	for (k = 0; k < npats; k++) {
		free(pats[k]);
		if (g.comp[k] != NULL) {
			for (i = 0; i < (size_t)g.ncomp[k]; i++)
				free(g.comp[k][i]);
			free(g.comp[k]);
		}
	}
	for (i = 0; i < g.nm; i++)
		free(g.m[i].path);
	free(g.m);
}

/* ---- Grep ------------------------------------------------------------ */

/* --include globs for grep(1), where rg would take --type */
static const char *
grep_type_globs(const char *type)
{
	static const struct {
		const char	*type;
		const char	*globs;
	} types[] = {
		{ "c", "*.c *.h" },
		{ "cpp", "*.cpp *.cc *.cxx *.hpp *.hh *.hxx *.h" },
		{ "go", "*.go" },
		{ "java", "*.java" },
		{ "js", "*.js *.jsx *.mjs *.cjs" },
		{ "json", "*.json" },
		{ "md", "*.md *.markdown" },
		{ "markdown", "*.md *.markdown" },
		{ "py", "*.py *.pyi" },
		{ "python", "*.py *.pyi" },
		{ "rb", "*.rb" },
		{ "ruby", "*.rb" },
		{ "rust", "*.rs" },
		{ "sh", "*.sh *.bash" },
		{ "ts", "*.ts *.tsx *.mts *.cts" },
		{ "typescript", "*.ts *.tsx *.mts *.cts" },
		{ "yaml", "*.yaml *.yml" },
		{ "toml", "*.toml" },
		{ "html", "*.html *.htm" },
		{ "css", "*.css" },
		{ "sql", "*.sql" },
		{ "swift", "*.swift" },
		{ "kotlin", "*.kt *.kts" },
		{ "php", "*.php" },
		{ "make", "Makefile *.mk makefile GNUmakefile" },
	};
	size_t	 i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(types[i].type, type) == 0)
			return types[i].globs;
	return NULL;
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char * const *)a, *(char * const *)b);
}

static void
do_grep(struct sshcall *call)
{
	struct sbuf	 rg = { 0 }, gr = { 0 }, cmd = { 0 }, out = { 0 };
	struct rexec	 rx;
	const char	*pattern, *glob, *type, *mode, *tglobs;
	char		 path[PATH_MAX], err[ERRSZ] = "", **lines = NULL;
	char		*p, *nl, *copy, *tok, *save;
	long long	 A, B, C, ctx, head, offset, total = 0;
	size_t		 nlines = 0, lsize = 0, i, shown;
	int		 num, icase, only, multi, content, count, nfiles = 0;

	if (arg_str(call->args, "pattern", 1, &pattern, err) == -1 ||
	    arg_path(call, call->args, "path", 0, path, err) == -1 ||
	    arg_str(call->args, "glob", 0, &glob, err) == -1 ||
	    arg_str(call->args, "type", 0, &type, err) == -1 ||
	    arg_str(call->args, "output_mode", 0, &mode, err) == -1 ||
	    arg_int(call->args, "-A", 0, 10000, 0, &A, err) == -1 ||
	    arg_int(call->args, "-B", 0, 10000, 0, &B, err) == -1 ||
	    arg_int(call->args, "-C", 0, 10000, -1, &C, err) == -1 ||
	    arg_int(call->args, "context", 0, 10000, -1, &ctx, err) == -1 ||
	    arg_bool(call->args, "-n", 1, &num, err) == -1 ||
	    arg_bool(call->args, "-i", 0, &icase, err) == -1 ||
	    arg_bool(call->args, "-o", 0, &only, err) == -1 ||
	    arg_bool(call->args, "multiline", 0, &multi, err) == -1 ||
	    arg_int(call->args, "head_limit", 0, LLONG_MAX / 2, GREP_HEAD,
	    &head, err) == -1 ||
	    arg_int(call->args, "offset", 0, LLONG_MAX / 2, 0, &offset,
	    err) == -1) {
		reply_err(call, err);
		return;
	}
	if (*pattern == '\0') {
		reply_err(call, "pattern is empty");
		return;
	}
	if (mode == NULL)
		mode = "files_with_matches";
	content = strcmp(mode, "content") == 0;
	count = strcmp(mode, "count") == 0;
	if (!content && !count && strcmp(mode, "files_with_matches") != 0) {
		reply_err(call, "output_mode must be \"content\", "
		    "\"files_with_matches\" or \"count\"");
		return;
	}
	if (C < 0)
		C = ctx;
	if (type != NULL && (*type == '\0' || strspn(type,
	    "abcdefghijklmnopqrstuvwxyz0123456789_-+") != strlen(type))) {
		reply_err(call, "type must be a file type name such as "
		    "\"js\", \"py\" or \"rust\"");
		return;
	}
	tglobs = type ? grep_type_globs(type) : NULL;

	/* ripgrep's arguments */
	sb_str(&rg, "rg --no-heading --with-filename --color never "
	    "--max-columns 2000");
	/* grep's: -r, extended regex, skip binary files, always the name */
	sb_str(&gr, "grep -r -E -I -H --color=never");
	if (content) {
		if (num) {
			sb_str(&rg, " -n");
			sb_str(&gr, " -n");
		}
		if (C >= 0) {
			sb_printf(&rg, " -C %lld", C);
			sb_printf(&gr, " -C %lld", C);
		} else {
			if (A > 0) {
				sb_printf(&rg, " -A %lld", A);
				sb_printf(&gr, " -A %lld", A);
			}
			if (B > 0) {
				sb_printf(&rg, " -B %lld", B);
				sb_printf(&gr, " -B %lld", B);
			}
		}
		if (only) {
			sb_str(&rg, " -o");
			sb_str(&gr, " -o");
		}
	} else if (count) {
		sb_str(&rg, " -c");
		sb_str(&gr, " -c");
	} else {
		sb_str(&rg, " -l");
		sb_str(&gr, " -l");
	}
	if (icase) {
		sb_str(&rg, " -i");
		sb_str(&gr, " -i");
	}
	if (multi)
		sb_str(&rg, " -U --multiline-dotall");
	if (glob != NULL) {
		sb_str(&rg, " --glob ");
		shquote(&rg, glob);
		/* grep knows no braces: split {a,b} the simple way */
		{
			char	*pats[GLOB_PATS];
			int	 np = 0, k;

			if (glob_expand(glob, pats, &np) == -1) {
				for (k = 0; k < np; k++)
					free(pats[k]);
				pats[0] = strdup(glob);
				np = 1;
			}
			for (k = 0; k < np; k++) {
				const char	*base = strrchr(pats[k], '/');

				sb_str(&gr, " ");
				sb_str(&cmd, "--include=");
				sb_str(&cmd, base ? base + 1 : pats[k]);
				shquote(&gr, cmd.p);
				sb_free(&cmd);
				free(pats[k]);
			}
		}
	}
	if (type != NULL) {
		sb_str(&rg, " --type ");
		shquote(&rg, type);
		if (tglobs != NULL) {
			if ((copy = strdup(tglobs)) == NULL)
				fatal(NULL);
			for (tok = strtok_r(copy, " ", &save); tok != NULL;
			    tok = strtok_r(NULL, " ", &save)) {
				sb_str(&cmd, "--include=");
				sb_str(&cmd, tok);
				sb_str(&gr, " ");
				shquote(&gr, cmd.p);
				sb_free(&cmd);
			}
			free(copy);
		}
	}
	sb_str(&rg, " -e ");
	shquote(&rg, pattern);
	sb_str(&rg, " -- ");
	shquote(&rg, path);
	sb_str(&gr, " -e ");
	shquote(&gr, pattern);
	sb_str(&gr, " -- ");
	shquote(&gr, path);

	sb_printf(&cmd, "if command -v rg >/dev/null 2>&1; then exec %s; fi; ",
	    rg.p);
	if (multi)
		sb_str(&cmd, "echo 'multiline needs ripgrep (rg) on the "
		    "host' >&2; exit 2");
	else if (type != NULL && tglobs == NULL)
		sb_str(&cmd, "echo 'this type is unknown without ripgrep "
		    "(rg) on the host; use glob instead' >&2; exit 2");
	else
		sb_printf(&cmd, "exec %s", gr.p);
	sb_free(&rg);
	sb_free(&gr);

	/* content comes in order: stop once the page is full */
	if (remote_exec(call, cmd.p, GREP_OUTPUT_MAX, call_seconds(),
	    content && head > 0 ? (size_t)(offset + head + 1) : 0, &rx,
	    err) == -1) {
		sb_free(&cmd);
		reply_err(call, err);
		return;
	}
	sb_free(&cmd);
	if (rx.timedout && rx.out.len == 0) {
		sshcall_text(call, 1, "Grep timed out after %d s; narrow the "
		    "path, glob or type", call_seconds());
		rexec_free(&rx);
		return;
	}
	if (rx.out.len == 0 && rx.status >= 2) {
		sshcall_text(call, 1, "Grep failed: %s",
		    rx.err.len ? rx.err.p : "error on the host");
		rexec_free(&rx);
		return;
	}

	/* into entries (lines), dropping grep -c's "path:0" */
	for (p = rx.out.p; p != NULL && *p != '\0'; p = nl) {
		if ((nl = strchr(p, '\n')) != NULL)
			*nl++ = '\0';
		if (*p == '\0' && nl == NULL)
			break;
		if (count) {
			const char	*colon = strrchr(p, ':');

			if (colon == NULL || strcmp(colon, ":0") == 0)
				continue;
			total += strtoll(colon + 1, NULL, 10);
			nfiles++;
		}
		if (nlines == lsize) {
			lsize = lsize ? lsize * 2 : 256;
			if ((lines = reallocarray(lines, lsize,
			    sizeof(*lines))) == NULL)
				fatal(NULL);
		}
		lines[nlines++] = p;
	}
	if (!content && nlines > 0)
		qsort(lines, nlines, sizeof(*lines), str_cmp);

	shown = 0;
	if (nlines == 0 || (size_t)offset >= nlines) {
		if (nlines == 0)
			sb_str(&out, content ? "No matches found\n" :
			    "No files found\n");
		else
			sb_printf(&out, "No entries past offset %lld (there "
			    "are %zu)\n", offset, nlines);
	} else {
		if (!content && !count)
			sb_printf(&out, "Found %zu file%s\n", nlines,
			    nlines == 1 ? "" : "s");
		for (i = offset; i < nlines; i++) {
			if (head > 0 && shown == (size_t)head)
				break;
			sb_printf(&out, "%s\n", lines[i]);
			shown++;
		}
		if (count)
			sb_printf(&out, "\nFound %lld total occurrence%s "
			    "across %d file%s.\n", total, total == 1 ? "" :
			    "s", nfiles, nfiles == 1 ? "" : "s");
		if ((size_t)offset + shown < nlines)
			sb_printf(&out, "[showing entries %lld-%lld of %s%zu; "
			    "use offset/head_limit for more]\n", offset + 1,
			    offset + (long long)shown, rx.linecap ?
			    "more than " : "", rx.linecap ? nlines - 1 :
			    nlines);
	}
	if (rx.truncated)
		sb_printf(&out, "[the host's output passed %d bytes and was "
		    "cut; narrow the search]\n", GREP_OUTPUT_MAX);
	if (rx.timedout)
		sb_printf(&out, "[the search timed out after %d s; results "
		    "are partial]\n", call_seconds());
	if (rx.status >= 2 && rx.err.len > 0) {
		if ((nl = strchr(rx.err.p, '\n')) != NULL)
			*nl = '\0';
		sb_printf(&out, "[some files could not be searched: %s]\n",
		    rx.err.p);
	}
	free(lines);
	rexec_free(&rx);
	reply(call, 0, &out, "use head_limit and offset to page through");
}

/* ---- Upload / Download ----------------------------------------------- */

static void
xfer_start(struct sshcall *call, int upload)
{
	struct ssh_openlocal	 req;
	struct sshhost		*host = call->host;
	struct xfer		*x;
	sftp_session		 sftp;
	sftp_attributes		 a;
	const char		*local;
	char			 err[ERRSZ] = "", *msg;
	long long		 mode;
	size_t			 len;
	ssh_session		 s = host->session;
	int			 was;

	if (!args_object(call))
		return;
	if (ssh_conf == NULL || ssh_conf->transfer_root[0] == '\0') {
		reply_err(call, "Upload/Download need `transfer root' in "
		    "bridged.conf");
		return;
	}
	if ((x = calloc(1, sizeof(*x))) == NULL)
		fatal(NULL);
	x->upload = upload;
	x->call = call;
	x->mode = -1;
	if (arg_path(call, call->args, "remote_path", 1, x->remote,
	    err) == -1 ||
	    arg_str(call->args, "local_path", 1, &local, err) == -1 ||
	    arg_bool(call->args, "overwrite", 0, &x->overwrite, err) == -1) {
		free(x);
		reply_err(call, err);
		return;
	}
	if (upload) {
		json_t	*m = json_object_get(call->args, "mode");

		/* "0644" or 420 */
		if (json_is_string(m)) {
			char	*end;

			errno = 0;
			mode = strtoll(json_string_value(m), &end, 8);
			if (errno || *end != '\0' || end ==
			    json_string_value(m))
				mode = -1;
		} else if (arg_int(call->args, "mode", 0, 07777, -1, &mode,
		    err) == -1)
			mode = -1;
		if (m != NULL && !json_is_null(m) &&
		    (mode < 0 || mode > 07777)) {
			free(x);
			reply_err(call, "mode must be an octal string such as "
			    "\"0644\" or a number up to 07777");
			return;
		}
		x->mode = (int)mode;
	}
	len = strlen(local);
	if (len == 0 || len >= sizeof(x->local)) {
		free(x);
		reply_err(call, "local_path must be a path relative to the "
		    "transfer root");
		return;
	}
	strlcpy(x->local, local, sizeof(x->local));

	/* check the remote side first: no local file for nothing */
	if (s == NULL) {
		free(x);
		sshcall_text(call, 1, "host %s is not connected", host->name);
		return;
	}
	files_lost = 0;
	was = ssh_is_blocking(s);
	ssh_set_blocking(s, 1);
	msg = NULL;
	if ((sftp = files_sftp(call, err)) == NULL)
		msg = err;
	else if ((a = (upload ? sftp_lstat : sftp_stat)(sftp,
	    x->remote)) != NULL) {
		x->exists = 1;
		x->rmode = a->permissions & 07777;
		x->size = a->size;
		if (attr_type(a) == S_IFDIR) {
			snprintf(err, sizeof(err), "remote_path %s is a "
			    "directory", x->remote);
			msg = err;
		} else if (upload && !x->overwrite) {
			snprintf(err, sizeof(err), "remote_path %s exists; set "
			    "overwrite to replace it", x->remote);
			msg = err;
		} else if (!upload && attr_type(a) != S_IFREG) {
			snprintf(err, sizeof(err), "remote_path %s is not a "
			    "regular file", x->remote);
			msg = err;
		}
		sftp_attributes_free(a);
	} else if (!upload || !fx_missing(sftp)) {
		fx_err(err, sftp, "remote_path", x->remote);
		msg = err;
	}
	if (host->session == s)
		ssh_set_blocking(s, was);
	if (msg != NULL) {
		free(x);
		reply_err(call, msg);
		if (files_lost) {
			files_lost = 0;
			sshconn_check(host);
		}
		return;
	}

	memset(&req, 0, sizeof(req));
	x->id = ++xfer_ids;
	req.reqid = x->id;
	req.write = !upload;
	req.overwrite = x->overwrite;
	req.mode = upload ? 0 : (x->rmode & 0666 ? x->rmode & 0666 : 0644);
	{
		unsigned char	*buf;

		if ((buf = malloc(sizeof(req) + len)) == NULL)
			fatal(NULL);
		memcpy(buf, &req, sizeof(req));
		memcpy(buf + sizeof(req), x->local, len);
		if (ssh_compose(PROC_PARENT, IMSG_SSH_OPENLOCAL, 0, -1, buf,
		    sizeof(req) + len) == -1)
			fatal("ssh_compose");
		free(buf);
	}
	call->state = x;
	call->cancel = xfer_cancel;
	TAILQ_INSERT_TAIL(&xfers, x, entry);
}

static void
xfer_cancel(struct sshcall *call)
{
	struct xfer	*x = call->state;

	/* the descriptor, when it comes, finds no one and is closed */
	TAILQ_REMOVE(&xfers, x, entry);
	call->state = NULL;
	call->cancel = NULL;
	free(x);
	sshcall_text(call, 1, "%s cancelled before it started", call->tool);
}

void
files_localfd(struct imsg *imsg)
{
	struct ssh_localfd	 rep;
	struct xfer		*x;

	if (imsg->datalen != sizeof(rep))
		fatalx("bad IMSG_SSH_LOCALFD");
	memcpy(&rep, imsg->data, sizeof(rep));
	rep.errmsg[sizeof(rep.errmsg) - 1] = '\0';
	TAILQ_FOREACH(x, &xfers, entry)
		if (x->id == rep.reqid)
			break;
	if (x == NULL) {
		/* cancelled meanwhile */
		if (imsg->fd != -1)
			close(imsg->fd);
		imsg->fd = -1;
		return;
	}
	TAILQ_REMOVE(&xfers, x, entry);
	x->call->state = NULL;
	x->call->cancel = NULL;
	if (rep.error != 0 || imsg->fd == -1) {
		if (imsg->fd != -1)
			close(imsg->fd);
		imsg->fd = -1;
		sshcall_text(x->call, 1, "%s", rep.errmsg[0] ? rep.errmsg :
		    "the local file could not be opened");
		free(x);
		return;
	}
	xfer_run(x, imsg->fd);
	imsg->fd = -1;		/* xfer_run closed it */
	free(x);
}

/* the copy itself, in the blocking mode SFTP needs */
static void
xfer_run(struct xfer *x, int fd)
{
	struct sshcall	*call = x->call;
	struct sshhost	*host = call->host;
	struct timespec	 t0, t1;
	ssh_session	 s = host->session;
	char		 err[ERRSZ] = "";
	uint64_t	 bytes = 0;
	double		 secs;
	int		 was, rc;

	if (s == NULL) {
		close(fd);
		sshcall_text(call, 1, "host %s is not connected", host->name);
		return;
	}
	/*
	 * A file size limit from the sandbox must turn into EFBIG, not
	 * kill the worker.
	 */
	signal(SIGXFSZ, SIG_IGN);
	files_lost = 0;
	was = ssh_is_blocking(s);
	ssh_set_blocking(s, 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = x->upload ? xfer_upload(call, x, fd, err, &bytes) :
	    xfer_download(call, x, fd, err, &bytes);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	close(fd);
	if (host->session == s)
		ssh_set_blocking(s, was);
	secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (rc == -1)
		sshcall_text(call, 1, "%s", err);
	else
		sshcall_text(call, 0, "%s %llu bytes from %s to %s in %.3f s "
		    "(%.1f MB/s)", x->upload ? "Uploaded" : "Downloaded",
		    (unsigned long long)bytes,
		    x->upload ? x->local : x->remote,
		    x->upload ? x->remote : x->local, secs,
		    secs > 0 ? bytes / secs / 1e6 : 0.0);
	if (files_lost) {
		files_lost = 0;
		sshconn_check(host);
	}
}

static int
xfer_upload(struct sshcall *call, struct xfer *x, int fd, char *err,
    uint64_t *bytes)
{
	sftp_session	 sftp;
	sftp_file	 f;
	struct stat	 st;
	char		*buf, tmp[PATH_MAX];
	ssize_t		 n, w, off;
	mode_t		 mode;

	if ((sftp = files_sftp(call, err)) == NULL)
		return -1;
	if (fstat(fd, &st) == -1) {
		snprintf(err, ERRSZ, "local_path %s: %s", x->local,
		    strerror(errno));
		return -1;
	}
	if (x->mode >= 0)
		mode = x->mode;
	else if (x->exists)
		mode = x->rmode;
	else
		mode = st.st_mode & 0777;
	if (temp_create(sftp, x->remote, 0600, tmp, &f, err) == -1)
		return -1;
	if ((buf = malloc(XFER_CHUNK)) == NULL)
		fatal(NULL);
	for (;;) {
		if ((n = read(fd, buf, XFER_CHUNK)) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, ERRSZ, "local_path %s: read: %s",
			    x->local, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		for (off = 0; off < n; off += w) {
			w = sftp_write(f, buf + off, n - off > SFTP_CHUNK ?
			    SFTP_CHUNK : n - off);
			if (w <= 0) {
				fx_err(err, sftp, "write", tmp);
				goto fail;
			}
		}
		*bytes += n;
	}
	if (sftp_extension_supported(sftp, "fsync@openssh.com", "1") &&
	    sftp_fsync(f) != 0) {
		fx_err(err, sftp, "fsync", tmp);
		goto fail;
	}
	if (sftp_close(f) != 0) {
		f = NULL;
		fx_err(err, sftp, "close", tmp);
		goto fail;
	}
	f = NULL;
	if (sftp_chmod(sftp, tmp, mode) != 0) {
		fx_err(err, sftp, "chmod", tmp);
		goto fail;
	}
	if (x->overwrite) {
		if (rename_over(call, sftp, tmp, x->remote, err) == -1)
			goto fail;
	} else if (sftp_rename(sftp, tmp, x->remote) != 0) {
		/* OpenSSH refuses to replace: it appeared meanwhile */
		snprintf(err, ERRSZ, "remote_path %s: %s (set overwrite to "
		    "replace an existing file)", x->remote, fx_str(sftp));
		goto fail;
	}
	free(buf);
	return 0;
 fail:
	free(buf);
	if (f != NULL)
		sftp_close(f);
	sftp_unlink(sftp, tmp);
	return -1;
}

static int
xfer_download(struct sshcall *call, struct xfer *x, int fd, char *err,
    uint64_t *bytes)
{
	sftp_session	 sftp;
	sftp_file	 f;
	char		*buf;
	ssize_t		 n, w, off;

	if ((sftp = files_sftp(call, err)) == NULL)
		return -1;
	if ((f = sftp_open(sftp, x->remote, O_RDONLY, 0)) == NULL) {
		fx_err(err, sftp, "remote_path", x->remote);
		return -1;
	}
	if ((buf = malloc(XFER_CHUNK)) == NULL)
		fatal(NULL);
	for (;;) {
		if ((n = sftp_read(f, buf, XFER_CHUNK)) < 0) {
			fx_err(err, sftp, "read", x->remote);
			goto fail;
		}
		if (n == 0)
			break;
		for (off = 0; off < n; off += w) {
			if ((w = write(fd, buf + off, n - off)) == -1) {
				if (errno == EINTR) {
					w = 0;
					continue;
				}
				snprintf(err, ERRSZ, "local_path %s: write: "
				    "%s%s (the local file is incomplete)",
				    x->local, strerror(errno), errno == EFBIG ?
				    ", the ssh worker's file size limit" : "");
				goto fail;
			}
		}
		*bytes += n;
	}
	/* no fsync(2) here: the worker's seccomp policy has none */
	free(buf);
	sftp_close(f);
	return 0;
 fail:
	free(buf);
	sftp_close(f);
	return -1;
}
