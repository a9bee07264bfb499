/*
 * ssh_fread.c: Read and MultiRead, shaped like Claude Code's Read: numbered
 * lines (cat -n), an offset and a limit, long lines cut, binary files
 * described rather than shown.  Small files come over SFTP whole; larger
 * ones are sliced by awk on the host so only the wanted lines travel.
 * The slice runs on an exec channel of its own from the event loop
 * (remote_exec_async): a Read deep into a large file takes awk as long as
 * the scan does, and the host's other calls must not wait for it.
 * MultiRead goes on with its next file in a blocking section again when
 * a slice has come.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/queue.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include "bridged.h"
#include "log.h"
#include "ssh.h"
#include "ssh_files.h"

#define READ_LINES		2000	/* Read's default limit */
#define READ_LINE_CHARS		2000	/* Read cuts longer lines */
#define READ_LINE_BYTES		(4 * READ_LINE_CHARS)
#define READ_SNIFF		8192	/* bytes looked at for binary */
#define READ_SMALL		(256 * 1024)	/* read whole over SFTP */
#define MULTI_MAX		100	/* files in MultiRead */
#define READ_HINT_ROOM		320	/* characters kept for the hint */
#define READ_PART_MIN		2560	/* a MultiRead file's least share */

#define MULTI_BATCH		32	/* MultiRead's files read together */
#define MULTI_FETCH_MAX		(64 * 1024)	/* ... of at most */

/* one file's Read: what read_lines() needs once its text has come */
struct readone {
	char		 path[PATH_MAX];
	long long	 first, limit;
	size_t		 budget;	/* characters for the numbered lines */
	size_t		 cap;		/* bytes of text asked for */
	int		 known;		/* a regular file of size (resolve) */
	uint64_t	 size, moved;
};

/* a MultiRead file of the batch being read: what multi_fetch() got */
struct prefile {
	int		 known;		/* as readone's */
	uint64_t	 size;
	int		 have;		/* text is the file, whole */
	struct sbuf	 text;
};

/* MultiRead's files and how far it has come */
struct multiq {
	json_t		*files;
	size_t		 next, share;
	int		 failed;
	uint32_t	 connid;
	struct sbuf	 out;
	struct readone	 r;		/* the file being sliced */
	size_t		 pfrom, pto;	/* the batch: files pfrom..pto-1 */
	struct prefile	 pre[MULTI_BATCH];
};

static const char *binary_kind(const unsigned char *, size_t);
static void	 slice_lines(const char *, size_t, long long, long long,
		    size_t, struct sbuf *, long long *, int *);
static void	 number_lines(const char *, size_t, long long,
		    struct sbuf *);
static long long fit_lines(struct sbuf *, size_t, int *);
static void	 read_prep(struct readone *);
static int	 read_one(struct sshcall *, sftp_session, struct readone *,
		    struct sbuf *, struct sbuf *);
static int	 read_sniff(struct readone *, const unsigned char *, size_t,
		    struct sbuf *);
static int	 read_body(struct sshcall *, struct readone *, struct sbuf *,
		    struct sbuf *, struct sbuf *);
static int	 read_sliced(struct sshcall *, struct readone *,
		    struct rexec *, const char *, struct sbuf *);
static int	 read_lines(struct sshcall *, struct readone *, struct sbuf *,
		    long long, int, int, struct sbuf *);
static void	 read_slice(struct sshcall *, struct readone *, struct sbuf *,
		    aexec_done, void *);
static void	 read_done(struct sshcall *, struct rexec *, const char *,
		    void *);
static int	 read_range(json_t *, long long *, long long *, char *);
static void	 do_read(struct sshcall *);
static void	 do_multiread(struct sshcall *);
static void	 multi_run(struct sshcall *, struct multiq *, sftp_session);
static int	 multi_path(struct sshcall *, json_t *, struct readone *,
		    char *);
static int	 multi_fetch(struct sshcall *, sftp_session, struct multiq *,
		    char *);
static void	 multi_prefree(struct multiq *);
static void	 multi_add(struct multiq *, int, struct sbuf *);
static void	 multi_sliced(struct sshcall *, struct rexec *, const char *,
		    void *);
static void	 multi_end(struct sshcall *, struct multiq *);

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
 * Keep the whole lines of num that fit in max characters (as the client
 * counts them); *trimmed says whether any was dropped.  Returns how many
 * lines are kept.
 */
static long long
fit_lines(struct sbuf *num, size_t max, int *trimmed)
{
	char		*p = num->p, *end, *nl;
	size_t		 chars = 0, c;
	long long	 kept = 0;

	*trimmed = 0;
	if (p == NULL)
		return 0;
	for (end = p + num->len; p < end; p = nl) {
		nl = memchr(p, '\n', end - p);
		nl = nl ? nl + 1 : end;
		c = utf8_chars(p, nl - p);
		if (chars + c > max) {
			num->len = p - num->p;
			num->p[num->len] = '\0';
			*trimmed = 1;
			break;
		}
		chars += c;
		kept++;
	}
	return kept;
}

/* the budget and byte cap of a file's lines */
static void
read_prep(struct readone *r)
{
	/* lines cut at READ_LINE_CHARS may each have been 4 times that */
	if (r->budget < READ_HINT_ROOM + READ_LINE_CHARS + 16)
		r->budget = READ_HINT_ROOM + READ_LINE_CHARS + 16;
	r->cap = 4 * r->budget;
	r->moved = 0;
}

/*
 * One file for Read/MultiRead, r->path from line r->first, r->limit
 * lines: the text in out, 0; or an error message in out, -1.  Small
 * files come over SFTP whole.  For a larger one the command that slices
 * it on the host is in cmd, 1: read_slice() runs it, read_sliced() makes
 * the text of what it printed.  The numbered lines shown fit in
 * r->budget characters; when they stop short of what was asked, the
 * text ends with the offset and limit that read on.  r->known: the
 * resolve found a regular file of r->size bytes, not asked again.
 */
static int
read_one(struct sshcall *call, sftp_session sftp, struct readone *r,
    struct sbuf *out, struct sbuf *cmd)
{
	sftp_attributes	 a;
	sftp_file	 f;
	struct sbuf	 text = { 0 };
	char		 err[ERRSZ];
	unsigned char	 head[READ_SNIFF];
	const char	*path = r->path;
	size_t		 nhead = 0;
	ssize_t		 n;
	int		 type;

	read_prep(r);
	if (r->known)
		type = S_IFREG;
	else if ((a = sftp_stat(sftp, path)) == NULL) {
		if (fx_missing(sftp))
			sb_printf(out, "File does not exist: %s", path);
		else
			sb_printf(out, "%s: %s", path, fx_str(sftp));
		return -1;
	} else {
		type = attr_type(a);
		r->size = a->size;
		sftp_attributes_free(a);
	}
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
	/*
	 * Up to the size the host gave: no round trip more to learn of the
	 * end (a size of 0, as /proc's files say, reads to the end).
	 */
	while (nhead < sizeof(head) && (r->size == 0 || nhead < r->size)) {
		if ((n = sftp_read(f, head + nhead, sizeof(head) -
		    nhead)) < 0) {
			sb_printf(out, "%s: read: %s", path, fx_str(sftp));
			sftp_close(f);
			return -1;
		}
		if (n == 0)
			break;
		nhead += n;
	}
	r->moved += nhead;
	if (read_sniff(r, head, nhead, out)) {
		sftp_close(f);
		return 0;
	}
	if (r->size > READ_SMALL) {
		sftp_close(f);
		return read_body(call, r, &text, out, cmd);
	}
	sb_add(&text, head, nhead);
	if (nhead == sizeof(head) && nhead != r->size &&
	    files_readall(f, &text, READ_SMALL * 2, err) == -1) {
		sftp_close(f);
		sb_free(&text);
		sb_printf(out, "%s: %.256s", path, err);
		return -1;
	}
	files_close_later(f);
	r->moved += text.len - nhead;
	return read_body(call, r, &text, out, cmd);
}

/*
 * The first bytes of the file (up to READ_SNIFF): 1 when they are the
 * answer, in out (empty, or binary), else 0.
 */
static int
read_sniff(struct readone *r, const unsigned char *head, size_t nhead,
    struct sbuf *out)
{
	if (nhead == 0) {
		sb_printf(out, "<system-reminder>Warning: the file %s exists "
		    "but its contents are empty.</system-reminder>", r->path);
		return 1;
	}
	if (memchr(head, '\0', nhead) != NULL ||
	    !utf8_valid(head, nhead, nhead == READ_SNIFF)) {
		sb_printf(out, "%s: binary file, %llu bytes, type %s; not "
		    "shown (Download fetches it whole, FileStat describes "
		    "it)", r->path, (unsigned long long)r->size,
		    binary_kind(head, nhead));
		return 1;
	}
	return 0;
}

/*
 * A text file's lines, as read_one() returns them: from text (the file,
 * freed here) when it is small; else the command that slices it, 1.
 */
static int
read_body(struct sshcall *call, struct readone *r, struct sbuf *text,
    struct sbuf *out, struct sbuf *cmd)
{
	struct sbuf	 sl = { 0 };
	long long	 nlines = 0;
	int		 more = 0;

	if (r->size > READ_SMALL) {
		sb_free(text);
		/*
		 * awk in the C locale counts bytes; it prints the slice and
		 * reports on stderr how many lines it saw, whether it
		 * stopped at the limit (d) or at the byte cap (t).
		 */
		sb_printf(cmd, "LC_ALL=C exec awk -v s=%lld -v e=%lld "
		    "-v c=%zu 'BEGIN{b=0;d=0;t=0} NR>=s{l=substr($0,1,%d); "
		    "b+=length(l)+1; if(b>c){t=1;exit} print l; "
		    "if(NR>=e){d=1;exit}} END{printf(\"bridged-read %%d "
		    "%%d %%d\\n\",NR,d,t) > \"/dev/stderr\"}' < ", r->first,
		    r->first + r->limit - 1, r->cap, READ_LINE_BYTES);
		shquote(cmd, r->path);
		return 1;
	}
	slice_lines(text->p, text->len, r->first, r->limit, r->cap, &sl,
	    &nlines, &more);
	sb_free(text);
	return read_lines(call, r, &sl, nlines, !more,
	    more && (nlines < r->first + r->limit - 1), out);
}

/* run the slice read_one() asked for; done gets what it printed */
static void
read_slice(struct sshcall *call, struct readone *r, struct sbuf *cmd,
    aexec_done done, void *arg)
{
	remote_exec_async(call, cmd->p, r->cap + READ_LINE_BYTES + 2,
	    files_seconds(), 0, done, arg);
	sb_free(cmd);
}

/*
 * What awk printed (rx), or why it could not run (why): the text in out
 * as read_one() makes it, 0, or an error message, -1.
 */
static int
read_sliced(struct sshcall *call, struct readone *r, struct rexec *rx,
    const char *why, struct sbuf *out)
{
	struct sbuf	 text;
	long long	 nr;
	int		 d, t;
	char		*trail;

	if (why != NULL) {
		sb_printf(out, "%s: %s", r->path, why);
		return -1;
	}
	r->moved += rx->bytes;
	trail = rx->err.p ? strstr(rx->err.p, "bridged-read ") : NULL;
	if (rx->timedout || trail == NULL ||
	    sscanf(trail, "bridged-read %lld %d %d", &nr, &d, &t) != 3) {
		if (rx->timedout)
			sb_printf(out, "%s: reading timed out after %d s",
			    r->path, files_seconds());
		else
			sb_printf(out, "%s: %s", r->path, rx->err.len ?
			    rx->err.p : "read failed on the host");
		return -1;
	}
	text = rx->out;
	memset(&rx->out, 0, sizeof(rx->out));
	return read_lines(call, r, &text, nr, !d && !t, t, out);
}

/*
 * The lines of text (freed here), numbered, into out.  seen is how many
 * lines were looked at, done whether that was the whole file, cut
 * whether it stopped at the byte cap before the limit.
 */
static int
read_lines(struct sshcall *call, struct readone *r, struct sbuf *text,
    long long seen, int done, int cut, struct sbuf *out)
{
	struct sbuf	 num = { 0 };
	long long	 kept, next, left;
	int		 trimmed;

	log_debug("Read %s: lines %lld+%lld, %llu bytes moved", r->path,
	    r->first, r->limit, (unsigned long long)r->moved);
	if (text->len == 0 && done && seen < r->first) {
		sb_printf(out, "<system-reminder>Warning: the file %s is "
		    "shorter than the offset given (%lld): it has %lld "
		    "lines.</system-reminder>", r->path, r->first, seen);
		sb_free(text);
		return 0;
	}
	number_lines(text->p ? text->p : "", text->len, r->first, &num);
	sb_free(text);
	kept = fit_lines(&num, r->budget - READ_HINT_ROOM, &trimmed);
	sb_add(out, num.p ? num.p : "", num.len);
	sb_free(&num);
	if (cut || trimmed) {
		next = r->first + kept;
		left = r->first + r->limit - next;
		sb_printf(out, "[Read stopped after line %lld to fit the result "
		    "limit (%zu characters); the file is %llu bytes. To read "
		    "on, call Read with offset=%lld and limit=%lld]\n",
		    next - 1, ssh_result_budget() + SSH_RESULT_RESERVE,
		    (unsigned long long)r->size, next, left > 0 ? left :
		    READ_LINES);
		sshcall_log(call, MCPLOG_NOTICE, "Read %s: stopped after line "
		    "%lld of the %lld asked for, to fit the result limit; the "
		    "rest: offset=%lld", r->path, next - 1,
		    r->first + r->limit - 1, next);
	}
	return 0;
}

/* offset (from 1; 0 is taken as 1) and limit of one file to read */
static int
read_range(json_t *obj, long long *offset, long long *limit, char *err)
{
	if (arg_int(obj, "offset", 0, LLONG_MAX / 2, 1, offset, err) == -1 ||
	    arg_int(obj, "limit", 1, LLONG_MAX / 2, READ_LINES, limit,
	    err) == -1)
		return -1;
	if (*offset == 0)
		*offset = 1;
	return 0;
}


static void
do_read(struct sshcall *call)
{
	sftp_session	 sftp;
	struct readone	 r, *q;
	struct sbuf	 out = { 0 }, cmd = { 0 };
	char		 err[ERRSZ] = "";
	int		 rc;

	memset(&r, 0, sizeof(r));
	if (arg_path(call, call->args, "file_path", 1, r.path, err) == -1 ||
	    read_range(call->args, &r.first, &r.limit, err) == -1) {
		files_fail(call, err);
		return;
	}
	if ((sftp = files_sftp(call, err)) == NULL) {
		files_fail(call, err);
		return;
	}
	r.budget = ssh_result_budget();
	/* the resolve may have just learnt it: a round trip less */
	r.known = sshpolicy_known(call, r.path, &r.size);
	if ((rc = read_one(call, sftp, &r, &out, &cmd)) == 1) {
		if ((q = malloc(sizeof(*q))) == NULL)
			fatal(NULL);
		*q = r;
		read_slice(call, q, &cmd, read_done, q);
		return;
	}
	files_reply(call, rc == -1, &out, "use offset and limit to read the "
	    "rest");
}

/* a Read's slice has come */
static void
read_done(struct sshcall *call, struct rexec *rx, const char *why, void *arg)
{
	struct readone	*r = arg;
	struct sbuf	 out = { 0 };
	int		 rc;

	rc = read_sliced(call, r, rx, why, &out);
	free(r);
	files_reply(call, rc == -1, &out, "use offset and limit to read the "
	    "rest");
}

static void
do_multiread(struct sshcall *call)
{
	sftp_session	 sftp;
	struct multiq	*m;
	json_t		*files, *e;
	const char	*s;
	char		 err[ERRSZ] = "";
	long long	 offset, limit;
	size_t		 i;

	files = json_object_get(call->args, "files");
	if (!json_is_array(files) || json_array_size(files) == 0) {
		files_fail(call, "files must be a non-empty array of paths or "
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
		    err) == -1 || read_range(e, &offset, &limit, err) == -1) {
			if (err[0] == '\0')
				strlcpy(err, "must be a path or an object",
				    sizeof(err));
			sshcall_text(call, 1, "files[%zu]: %s", i, err);
			return;
		}
	}
	if ((sftp = files_sftp(call, err)) == NULL) {
		files_fail(call, err);
		return;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL)
		fatal(NULL);
	m->files = json_incref(files);
	/* each file its share, so that each says where it stopped */
	m->share = ssh_result_budget() / json_array_size(files);
	if (m->share < READ_PART_MIN)
		m->share = READ_PART_MIN;
	multi_run(call, m, sftp);
}

/*
 * MultiRead's files from m->next on, in a blocking section, until one
 * is to be sliced on the host (it goes on in multi_sliced) or all are
 * read.  They go in batches of MULTI_BATCH: the small files of a batch
 * are read together first (multi_fetch), the others one by one.
 */
static void
multi_run(struct sshcall *call, struct multiq *m, sftp_session sftp)
{
	struct readone	*r = &m->r;
	struct prefile	*pf;
	struct sbuf	 one, cmd = { 0 };
	char		 err[ERRSZ];
	int		 rc;

	while (m->next < json_array_size(m->files)) {
		if (m->next == m->pto) {
			multi_prefree(m);
			m->pfrom = m->next;
			m->pto = m->next + MULTI_BATCH;
			if (m->pto > json_array_size(m->files))
				m->pto = json_array_size(m->files);
			if (multi_fetch(call, sftp, m, err) == -1) {
				sb_printf(&m->out, "%s[the files from here on "
				    "were not read: %s]\n", m->next ? "\n" :
				    "", err);
				break;
			}
		}
		pf = &m->pre[m->next - m->pfrom];
		rc = multi_path(call, json_array_get(m->files, m->next), r,
		    err);
		sb_printf(&m->out, "%s==> %s <==\n", m->next ? "\n" : "",
		    rc == 0 ? r->path : "(bad path)");
		if (rc == -1) {
			sb_printf(&m->out, "error: %s\n", err);
			m->failed++;
			m->next++;
			continue;
		}
		r->budget = m->share - 128;
		r->known = pf->known;
		r->size = pf->size;
		memset(&one, 0, sizeof(one));
		if (pf->have) {
			/* read whole with the others: its text is here */
			read_prep(r);
			r->moved = pf->text.len;
			if (read_sniff(r, (unsigned char *)pf->text.p,
			    pf->text.len < READ_SNIFF ? pf->text.len :
			    READ_SNIFF, &one)) {
				sb_free(&pf->text);
				rc = 0;
			} else
				rc = read_body(call, r, &pf->text, &one, &cmd);
			pf->have = 0;
		} else
			rc = read_one(call, sftp, r, &one, &cmd);
		if (rc == 1) {
			m->connid = call->conn->id;
			read_slice(call, r, &cmd, multi_sliced, m);
			return;
		}
		multi_add(m, rc, &one);
		m->next++;
		if (files_lost)
			break;
	}
	multi_end(call, m);
}

/* MultiRead's file e: its path (resolved) and range into r, or -1, err */
static int
multi_path(struct sshcall *call, json_t *e, struct readone *r, char *err)
{
	json_t	*o;
	int	 rc;

	memset(r, 0, sizeof(*r));
	r->first = 1;
	r->limit = READ_LINES;
	err[0] = '\0';
	if (!json_is_string(e)) {
		/* checked in do_multiread */
		(void)read_range(e, &r->first, &r->limit, err);
		return arg_path(call, e, "file_path", 1, r->path, err);
	}
	if ((o = json_pack("{s:O}", "file_path", e)) == NULL)
		fatalx("json_pack");
	rc = arg_path(call, o, "file_path", 1, r->path, err);
	json_decref(o);
	return rc;
}

/*
 * The small files of MultiRead's batch (m->pfrom..m->pto-1) read
 * together: each regular file the resolve found with 1 to
 * MULTI_FETCH_MAX bytes is opened, read and closed with the others, each
 * kind of request for all of them in one round trip, where one at a
 * time they were three a file.  What is taken is what read_one() would
 * read: of a file the resolve saw with up to READ_SNIFF bytes, one READ
 * of READ_SNIFF, whose answer must hold at least that size (and be
 * short of READ_SNIFF, unless that is the size: read_one would read on
 * to the end); of a larger one, a READ of its size, which must come
 * whole, and one past it, which must find the end.  A file read so has
 * its bytes in its prefile; any other (not known, larger, read short,
 * longer than it was, an error on the way) is left to read_one(), which
 * reads and words it as ever.  -1 with err: the connection failed.
 */
static int
multi_fetch(struct sshcall *call, sftp_session sftp, struct multiq *m,
    char *err)
{
	struct readone	 r;
	struct prefile	*pf;
	struct sftpq	*q, *rq;
	size_t		 k, n = m->pto - m->pfrom, nq, nr, at[MULTI_BATCH];
	size_t		 i, ri[MULTI_BATCH], got;
	char		 e[ERRSZ], (*paths)[PATH_MAX];
	int		 rc = -1, ok;

	if ((q = calloc(MULTI_BATCH, sizeof(*q))) == NULL ||
	    (rq = calloc(2 * MULTI_BATCH, sizeof(*rq))) == NULL ||
	    (paths = calloc(MULTI_BATCH, sizeof(*paths))) == NULL)
		fatal(NULL);
	for (nq = 0, k = 0; k < n; k++) {
		pf = &m->pre[k];
		memset(pf, 0, sizeof(*pf));
		if (multi_path(call, json_array_get(m->files, m->pfrom + k),
		    &r, e) == -1)
			continue;
		pf->known = sshpolicy_known(call, r.path, &pf->size);
		if (!pf->known || pf->size == 0 ||
		    pf->size > MULTI_FETCH_MAX)
			continue;
		strlcpy(paths[nq], r.path, PATH_MAX);
		q[nq].type = SSH_FXP_OPEN;
		q[nq].path = paths[nq];
		at[nq++] = k;
	}
	if (nq > 0 && sftpq_run(sftp, q, nq, err) == -1)
		goto done;
	/* each opened file's READ, and past READ_SNIFF the one past its end */
	for (nr = 0, i = 0; i < nq; i++) {
		if (!q[i].ok)
			continue;
		pf = &m->pre[at[i]];
		ri[i] = nr;
		rq[nr].type = SSH_FXP_READ;
		rq[nr].handle = q[i].hout;
		rq[nr].hlen = q[i].houtlen;
		rq[nr].off = 0;
		rq[nr++].len = pf->size > READ_SNIFF ? pf->size : READ_SNIFF;
		if (pf->size > READ_SNIFF) {
			rq[nr].type = SSH_FXP_READ;
			rq[nr].handle = q[i].hout;
			rq[nr].hlen = q[i].houtlen;
			rq[nr].off = pf->size;
			rq[nr++].len = 1;
		}
	}
	if (nr > 0 && sftpq_run(sftp, rq, nr, err) == -1)
		goto done;
	for (i = 0; i < nq; i++) {
		if (!q[i].ok)
			continue;
		pf = &m->pre[at[i]];
		got = rq[ri[i]].ok ? rq[ri[i]].dlen : 0;
		if (pf->size > READ_SNIFF)
			ok = got == pf->size && !rq[ri[i] + 1].ok &&
			    rq[ri[i] + 1].status == SSH_FX_EOF;
		else
			ok = rq[ri[i]].ok && got >= pf->size &&
			    (got < READ_SNIFF || pf->size == READ_SNIFF);
		if (ok) {
			sb_add(&pf->text, rq[ri[i]].data, rq[ri[i]].dlen);
			pf->have = 1;
		}
	}
	sftpq_free(rq, nr);
	/* and their handles closed */
	for (nr = 0, i = 0; i < nq; i++) {
		if (!q[i].ok)
			continue;
		rq[nr].type = SSH_FXP_CLOSE;
		rq[nr].handle = q[i].hout;
		rq[nr++].hlen = q[i].houtlen;
	}
	if (nr > 0 && sftpq_run(sftp, rq, nr, err) == -1)
		goto done;
	rc = 0;
 done:
	if (rc == -1)
		multi_prefree(m);
	free(paths);
	free(rq);
	free(q);
	return rc;
}

/* the batch's texts, freed */
static void
multi_prefree(struct multiq *m)
{
	size_t	 k;

	for (k = 0; k < MULTI_BATCH; k++) {
		sb_free(&m->pre[k].text);
		m->pre[k].have = 0;
	}
}

/* one file's text (or error, rc -1) into MultiRead's answer */
static void
multi_add(struct multiq *m, int rc, struct sbuf *one)
{
	if (rc == -1) {
		sb_str(&m->out, "error: ");
		m->failed++;
	}
	sb_add(&m->out, one->p ? one->p : "", one->len);
	if (one->len == 0 || one->p[one->len - 1] != '\n')
		sb_add(&m->out, "\n", 1);
	sb_free(one);
}

/*
 * A file's slice has come: the rest of the files in a blocking section
 * again, on the connection the call was on; what is read so far is the
 * answer when the call was cancelled or the connection went.
 */
static void
multi_sliced(struct sshcall *call, struct rexec *rx, const char *why,
    void *arg)
{
	struct multiq	*m = arg;
	struct sbuf	 one = { 0 };
	sftp_session	 sftp;
	char		 err[ERRSZ] = "";
	uint32_t	 id = m->connid;
	int		 was;

	multi_add(m, read_sliced(call, &m->r, rx, why, &one), &one);
	m->next++;
	if (call->cancelled || m->next == json_array_size(m->files)) {
		multi_end(call, m);
		return;
	}
	if (files_resume(call, id, &was) == -1) {
		sb_printf(&m->out, "\n[the connection to host \"%s\" was lost; "
		    "the files after this one were not read]\n",
		    call->host->name);
		multi_end(call, m);
		return;
	}
	if ((sftp = files_sftp(call, err)) == NULL) {
		sb_printf(&m->out, "\n[the files after this one were not read: "
		    "%s]\n", err);
		multi_end(call, m);
	} else
		multi_run(call, m, sftp);
	files_resume_end(id, was);
}

/* the answer: an error only when every file failed */
static void
multi_end(struct sshcall *call, struct multiq *m)
{
	files_reply(call, (size_t)m->failed == json_array_size(m->files),
	    &m->out, "read fewer files per call, or use offset/limit");
	multi_prefree(m);
	json_decref(m->files);
	free(m);
}
