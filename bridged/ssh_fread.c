/*
 * ssh_fread.c: Read, shaped like Claude Code's Read: numbered lines
 * (cat -n), an offset and a limit, long lines cut, binary files described
 * rather than shown; and what MultiRead (ssh_fmulti.c) reads its files
 * with.  Small files come over SFTP whole; larger ones are sliced by awk
 * on the host so only the wanted lines travel.  The slice runs on an
 * exec channel of its own from the event loop (remote_exec_async): a
 * Read deep into a large file takes awk as long as the scan does, and
 * the host's other calls must not wait for it.
 *
 * Reads that come together are read together: a Read waits for the end
 * of the event loop's pass, and the Reads that came in it (an agent's
 * parallel calls, or several agents') are resolved, opened and read with
 * one round trip for each step, where one after another they took three
 * round trips each (readq_run, reads_together).
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/queue.h>
#include <sys/time.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event.h>
#include <jansson.h>
#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include "bridged.h"
#include "log.h"
#include "ssh.h"
#include "ssh_files.h"
#include "ssh_fread.h"

#define READQ_MAX		FETCH_BATCH	/* Reads read together */

static const char *binary_kind(const unsigned char *, size_t);
static void	 slice_lines(const char *, size_t, long long, long long,
		    size_t, struct sbuf *, long long *, int *);
static void	 number_lines(const char *, size_t, long long,
		    struct sbuf *);
static long long fit_lines(struct sbuf *, size_t, int *);
static int	 read_sniff(struct readone *, const unsigned char *, size_t,
		    struct sbuf *);
static int	 read_body(struct sshcall *, struct readone *, struct sbuf *,
		    struct sbuf *, struct sbuf *);
static int	 read_lines(struct sshcall *, struct readone *, struct sbuf *,
		    long long, int, int, struct sbuf *);
static void	 read_done(struct sshcall *, struct rexec *, const char *,
		    void *);
static int	 read_args(struct sshcall *, struct readone *, char *);
static void	 read_go(struct sshcall *, sftp_session, struct readone *);
static void	 read_answer(struct sshcall *, int, struct sbuf *);
static void	 do_read(struct sshcall *);
static void	 readq_fire(int, short, void *);
static void	 readq_run(void);
static void	 readq_cancel(struct sshcall *);
static void	 reads_together(struct sshcall **, size_t);

/* Reads waiting for the end of the event loop's pass */
static struct sshcall	*readq[READQ_MAX];
static size_t		 nreadq;
static struct event	 readq_ev;
static int		 readq_evset;

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
void
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
int
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

/*
 * A file read whole with others (read_fetch): its text (freed here) as
 * read_one() would have made it.
 */
int
read_have(struct sshcall *call, struct readone *r, struct sbuf *text,
    struct sbuf *out, struct sbuf *cmd)
{
	read_prep(r);
	r->moved = text->len;
	if (read_sniff(r, (unsigned char *)text->p, text->len < READ_SNIFF ?
	    text->len : READ_SNIFF, out)) {
		sb_free(text);
		return 0;
	}
	return read_body(call, r, text, out, cmd);
}

/* run the slice read_one() asked for; done gets what it printed */
void
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
int
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
int
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


/* Read's path and range into r; -1 with err */
static int
read_args(struct sshcall *call, struct readone *r, char *err)
{
	memset(r, 0, sizeof(*r));
	if (arg_path(call, call->args, "file_path", 1, r->path, err) == -1 ||
	    read_range(call->args, &r->first, &r->limit, err) == -1)
		return -1;
	r->budget = ssh_result_budget();
	return 0;
}

static void
do_read(struct sshcall *call)
{
	sftp_session	 sftp;
	struct readone	 r;
	char		 err[ERRSZ] = "";

	if (read_args(call, &r, err) == -1 ||
	    (sftp = files_sftp(call, err)) == NULL) {
		files_fail(call, err);
		return;
	}
	/* the resolve may have just learnt it: a round trip less */
	r.known = sshpolicy_known(call, r.path, &r.size);
	read_go(call, sftp, &r);
}

/* Read's file r read and answered, or its slice begun */
static void
read_go(struct sshcall *call, sftp_session sftp, struct readone *r)
{
	struct readone	*q;
	struct sbuf	 out = { 0 }, cmd = { 0 };
	int		 rc;

	if ((rc = read_one(call, sftp, r, &out, &cmd)) == 1) {
		if ((q = malloc(sizeof(*q))) == NULL)
			fatal(NULL);
		*q = *r;
		read_slice(call, q, &cmd, read_done, q);
		return;
	}
	read_answer(call, rc, &out);
}

static void
read_answer(struct sshcall *call, int rc, struct sbuf *out)
{
	files_reply(call, rc == -1, out, "use offset and limit to read the "
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
	read_answer(call, rc, &out);
}


/* ---- small files read together ---------------------------------------- */

/*
 * The small files of pre[0..n-1] (n <= FETCH_BATCH) read together: each
 * with a path that the resolve found a regular file of 1 to FETCH_MAX
 * bytes is opened and read with the others, each kind of request for all
 * of them in one round trip, where one at a time they were two a file.
 * What is taken is what read_one() would read: of a file the resolve saw
 * with up to READ_SNIFF bytes, one READ of READ_SNIFF, whose answer must
 * hold at least that size (and be short of READ_SNIFF, unless that is the
 * size: read_one would read on to the end); of a larger one, a READ of
 * its size, which must come whole, and one past it, which must find the
 * end.  A file read so has its bytes in text, and have; any other (not
 * known, larger, read short, longer than it was, an error on the way) is
 * left to read_one(), which reads and words it as ever.  The handles
 * opened stay open for read_fetch_close().  -1 with err: the connection
 * failed.
 */
int
read_fetch(sftp_session sftp, struct prefile *pre, size_t n, char *err)
{
	struct prefile	*pf;
	struct sftpq	*q, *rq;
	size_t		 k, nq, nr = 0, at[FETCH_BATCH], ri[FETCH_BATCH];
	size_t		 i, got;
	int		 rc = -1, ok;

	if (n > FETCH_BATCH)
		fatalx("read_fetch: %zu files", n);
	if ((q = calloc(FETCH_BATCH, sizeof(*q))) == NULL ||
	    (rq = calloc(2 * FETCH_BATCH, sizeof(*rq))) == NULL)
		fatal(NULL);
	for (nq = 0, k = 0; k < n; k++) {
		pf = &pre[k];
		pf->have = pf->open = 0;
		if (pf->path == NULL || !pf->known || pf->size == 0 ||
		    pf->size > FETCH_MAX)
			continue;
		q[nq].type = SSH_FXP_OPEN;
		q[nq].path = pf->path;
		at[nq++] = k;
	}
	if (nq > 0 && sftpq_run(sftp, q, nq, err) == -1)
		goto done;
	/* each opened file's READ, and past READ_SNIFF the one past its end */
	for (i = 0; i < nq; i++) {
		if (!q[i].ok || q[i].houtlen > sizeof(pf->hout))
			continue;
		pf = &pre[at[i]];
		pf->open = 1;
		memcpy(pf->hout, q[i].hout, q[i].houtlen);
		pf->houtlen = q[i].houtlen;
		ri[i] = nr;
		rq[nr].type = SSH_FXP_READ;
		rq[nr].handle = pf->hout;
		rq[nr].hlen = pf->houtlen;
		rq[nr].off = 0;
		rq[nr++].len = pf->size > READ_SNIFF ? pf->size : READ_SNIFF;
		if (pf->size > READ_SNIFF) {
			rq[nr].type = SSH_FXP_READ;
			rq[nr].handle = pf->hout;
			rq[nr].hlen = pf->houtlen;
			rq[nr].off = pf->size;
			rq[nr++].len = 1;
		}
	}
	if (nr > 0 && sftpq_run(sftp, rq, nr, err) == -1)
		goto done;
	for (i = 0; i < nq; i++) {
		pf = &pre[at[i]];
		if (!pf->open)
			continue;
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
	rc = 0;
 done:
	sftpq_free(rq, nr);
	free(rq);
	free(q);
	return rc;
}

/* the handles read_fetch() opened, closed together */
int
read_fetch_close(sftp_session sftp, struct prefile *pre, size_t n,
    char *err)
{
	struct sftpq	 q[FETCH_BATCH];
	size_t		 k;
	int		 nq = 0;

	memset(q, 0, sizeof(q));
	for (k = 0; k < n && k < FETCH_BATCH; k++) {
		if (!pre[k].open)
			continue;
		pre[k].open = 0;
		q[nq].type = SSH_FXP_CLOSE;
		q[nq].handle = pre[k].hout;
		q[nq++].hlen = pre[k].houtlen;
	}
	return nq > 0 ? sftpq_run(sftp, q, nq, err) : 0;
}

/* their texts, freed */
void
read_fetch_free(struct prefile *pre, size_t n)
{
	size_t	 k;

	for (k = 0; k < n; k++) {
		sb_free(&pre[k].text);
		pre[k].have = 0;
	}
}

/* ---- Reads that come together ----------------------------------------- */

/*
 * A Read does not run at once: it waits for the end of the event loop's
 * pass, and runs with every other Read that came in it (READQ_MAX at
 * most; one more runs those first).  The timer of no time fires after
 * the messages that came with it have been dispatched.
 */
void
files_read(struct sshcall *call)
{
	struct timeval	 now = { 0, 0 };

	if (nreadq == READQ_MAX)
		readq_run();
	readq[nreadq++] = call;
	call->cancel = readq_cancel;
	if (!readq_evset) {
		evtimer_set(&readq_ev, readq_fire, NULL);
		readq_evset = 1;
	}
	if (!evtimer_pending(&readq_ev, NULL))
		evtimer_add(&readq_ev, &now);
}

static void
readq_fire(int fd, short event, void *arg)
{
	readq_run();
}

/* the Reads waiting: alone as ever, or together */
static void
readq_run(void)
{
	struct sshcall	*calls[READQ_MAX];
	size_t		 i, n = nreadq;

	if (readq_evset)
		evtimer_del(&readq_ev);
	memcpy(calls, readq, n * sizeof(calls[0]));
	nreadq = 0;
	for (i = 0; i < n; i++)
		calls[i]->cancel = NULL;
	/* a worker serves one host; should it serve more, each goes alone */
	for (i = 1; i < n && calls[i]->host == calls[0]->host; i++)
		;
	if (n > 1 && i == n)
		reads_together(calls, n);
	else
		for (i = 0; i < n; i++)
			files_run(calls[i], do_read);
}

/* cancelled while it waited: it goes, the others wait on */
static void
readq_cancel(struct sshcall *call)
{
	size_t	 i;

	for (i = 0; i < nreadq && readq[i] != call; i++)
		;
	if (i == nreadq)
		return;
	memmove(&readq[i], &readq[i + 1], (nreadq - i - 1) *
	    sizeof(readq[0]));
	nreadq--;
	call->cancel = NULL;
	sshcall_text(call, 1, "Read: cancelled before it began");
}

/* the host leaves the configuration: its Reads still queued are told */
void
files_read_hostgone(struct sshhost *host)
{
	struct sshcall	*call;
	size_t		 i = 0;

	while (i < nreadq) {
		if ((call = readq[i])->host != host) {
			i++;
			continue;
		}
		memmove(&readq[i], &readq[i + 1], (nreadq - i - 1) *
		    sizeof(readq[0]));
		nreadq--;
		call->cancel = NULL;
		sshcall_text(call, 1, "host \"%s\" was removed from the "
		    "configuration", host->name);
	}
}

/*
 * n Reads on this host together, in one blocking section on the
 * connection with SFTP open: their paths resolved together
 * (sshpolicy_reads), the small files opened and read together
 * (read_fetch), each answered, and then the handles closed together.  A
 * Read that is not plain (its arguments wrong, its path refused, not
 * there, a link, a directory...) runs alone afterwards, as it would have
 * (files_run), which words what is wrong; so does a file larger than
 * read_fetch brings, or beyond the bytes one Read moves, and every Read
 * when there is no SFTP session yet, or when the connection fails on
 * the way.
 */
static void
reads_together(struct sshcall **calls, size_t n)
{
	struct sshhost	*host = calls[0]->host;
	struct sshconn	*c;
	struct readone	*r;
	struct prefile	*pre;
	struct sbuf	 out, cmd;
	sftp_session	 sftp;
	char		 err[ERRSZ] = "";
	int		 settled[READQ_MAX], done[READQ_MAX], was, rc;
	uint64_t	 size[READQ_MAX], budget = READ_SMALL;
	uint32_t	 id;
	size_t		 i;

	memset(done, 0, sizeof(done));
	TAILQ_FOREACH(c, &host->conns, entry)
		if (c->up && !c->dying && c->sftp != NULL &&
		    c->session != NULL)
			break;
	if (c == NULL)
		goto alone;
	log_debug("host \"%s\": %zu Reads together", host->name, n);
	if ((r = calloc(n, sizeof(*r))) == NULL ||
	    (pre = calloc(n, sizeof(*pre))) == NULL)
		fatal(NULL);
	id = c->id;
	c->lastuse = time(NULL);
	for (i = 0; i < n; i++)
		calls[i]->conn = c;
	was = files_block(c->session);
	files_sweep(calls[0], 1);
	if ((sftp = files_sftp(calls[0], err)) == NULL ||
	    sshpolicy_reads(calls, n, sftp, settled, size, err) == -1)
		goto end;
	for (i = 0; i < n; i++) {
		if (settled[i] && read_args(calls[i], &r[i], err) == -1)
			settled[i] = 0;
		if (!settled[i])
			continue;
		r[i].known = pre[i].known = 1;
		r[i].size = pre[i].size = size[i];
		pre[i].path = r[i].path;
		/*
		 * No more bytes in the section than one Read alone moves
		 * in its own (READ_SMALL), under the one time limit: past
		 * that, a small file is read alone too.
		 */
		if (size[i] <= FETCH_MAX) {
			if (size[i] > budget)
				pre[i].path = NULL;
			else
				budget -= size[i];
		}
	}
	if (read_fetch(sftp, pre, n, err) == -1)
		goto end;
	for (i = 0; i < n && !files_lost; i++) {
		/*
		 * What read_fetch did not bring (a larger file, or one it
		 * fell back on) runs alone after, in a section of its own:
		 * its transfer is then timed by itself, not added to the
		 * others' under one stuck timer, and the answers here do
		 * not wait for it.
		 */
		if (!settled[i] || !pre[i].have)
			continue;
		done[i] = 1;
		memset(&out, 0, sizeof(out));
		memset(&cmd, 0, sizeof(cmd));
		rc = read_have(calls[i], &r[i], &pre[i].text, &out, &cmd);
		sb_free(&cmd);		/* small: never a slice */
		read_answer(calls[i], rc, &out);
	}
	/* the answers out before the closes' round trip */
	ssh_flush_frontend();
	if (!files_lost)
		(void)read_fetch_close(sftp, pre, n, err);
 end:
	files_resume_end(id, was);
	read_fetch_free(pre, n);
	free(pre);
	free(r);
 alone:
	/* what was not answered runs alone, and words what is wrong */
	for (i = 0; i < n; i++)
		if (!done[i])
			files_run(calls[i], do_read);
}
