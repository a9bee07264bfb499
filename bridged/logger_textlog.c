/*
 * logger_textlog.c: the text log, one JSON line per audit record, owned by the
 * logger.
 *
 * Rotation by size: the full file is renamed to FILE.0 (FILE.0 to
 * FILE.1, and so on up to keep files) and a new one is opened, whose
 * first line is the chain head at that moment: the last record's seq and
 * hash, which bridgectl verify later holds the database against.  One
 * process writes, one line at a time, so a record is in exactly one
 * file.  A write that fails part way (disk full) is cut off again, so
 * the file never holds half a line.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/uio.h>

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

#include "logger_audit.h"
#include "log.h"

#define TEXTLOG_TAIL	(1024 * 1024)	/* longest line we look back for */

static int	 reopen(char *, size_t);
static int	 line_at(const char *, int, uint64_t *, char *, int *);
static void	 seterr(char *, size_t, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));

static char	 path[PATH_MAX];
static int	 fd = -1;
static off_t	 size;
static off_t	 rotate_size;
static int	 keep;
static int	 nrecords;		/* records in the current file */
static uint64_t	 last_seq;
static char	 last_hash[HASH_HEXLEN];

static void
seterr(char *err, size_t len, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

int
textlog_isopen(void)
{
	return path[0] != '\0';
}

void
textlog_setlimits(off_t rsize, int k)
{
	rotate_size = rsize;
	keep = k;
}

void
textlog_close(void)
{
	if (fd != -1) {
		fsync(fd);
		close(fd);
	}
	fd = -1;
	path[0] = '\0';
}

/*
 * The first (last == 0) or last complete line of a file, when it carries
 * a seq and a hash: 0 found, 1 not.  *head says it was a head line.
 */
static int
line_at(const char *file, int last, uint64_t *seq, char *hash, int *head)
{
	struct stat	 st;
	json_error_t	 jerr;
	json_t		*o, *s, *h, *t;
	char		*buf, *b, *e;
	off_t		 off;
	ssize_t		 n;
	int		 f, rc = 1;

	if ((f = open(file, O_RDONLY | O_CLOEXEC)) == -1)
		return 1;
	if (fstat(f, &st) == -1 || st.st_size == 0 ||
	    (buf = malloc(TEXTLOG_TAIL + 1)) == NULL) {
		close(f);
		return 1;
	}
	off = last && st.st_size > TEXTLOG_TAIL ? st.st_size - TEXTLOG_TAIL :
	    0;
	if ((n = pread(f, buf, TEXTLOG_TAIL, off)) <= 0)
		goto out;
	buf[n] = '\0';
	if (last) {
		/* the last newline ends the last whole line */
		e = memrchr(buf, '\n', n);
		if (e == NULL)
			goto out;
		*e = '\0';
		b = memrchr(buf, '\n', e - buf);
		b = b != NULL ? b + 1 : buf;
		if (b == buf && off > 0)
			goto out;	/* longer than we look back */
	} else {
		if ((e = memchr(buf, '\n', n)) == NULL)
			goto out;
		*e = '\0';
		b = buf;
	}
	if ((o = json_loads(b, 0, &jerr)) != NULL) {
		s = json_object_get(o, "seq");
		h = json_object_get(o, "hash");
		t = json_object_get(o, "type");
		if (json_is_integer(s) && json_is_string(h) &&
		    strlen(json_string_value(h)) == HASH_HEXLEN - 1) {
			*seq = json_integer_value(s);
			strlcpy(hash, json_string_value(h), HASH_HEXLEN);
			*head = json_is_string(t) &&
			    strcmp(json_string_value(t), "head") == 0;
			rc = 0;
		}
		json_decref(o);
	}
 out:
	free(buf);
	close(f);
	return rc;
}

static int
reopen(char *err, size_t errlen)
{
	struct stat	 st;
	char		 c;

	if (fd != -1)
		close(fd);
	if ((fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC,
	    0640)) == -1) {
		seterr(err, errlen, "open %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		seterr(err, errlen, "fstat %s: %s", path, strerror(errno));
		close(fd);
		fd = -1;
		return -1;
	}
	size = st.st_size;
	/* a line cut off by a crash or a full disk is not kept */
	if (size > 0 && pread(fd, &c, 1, size - 1) == 1 && c != '\n') {
		while (size > 0 && pread(fd, &c, 1, size - 1) == 1 &&
		    c != '\n')
			size--;
		log_warnx("%s: incomplete last line removed", path);
		if (ftruncate(fd, size) == -1)
			log_warn("ftruncate %s", path);
	}
	nrecords = size > 0;	/* a head alone does not count, roughly */
	return 0;
}

int
textlog_open(const char *file, off_t rsize, int k, char *err, size_t errlen)
{
	char	 old[PATH_MAX + 16];
	int	 head;

	textlog_close();
	if (strlcpy(path, file, sizeof(path)) >= sizeof(path)) {
		path[0] = '\0';
		seterr(err, errlen, "log file path too long");
		return -1;
	}
	rotate_size = rsize;
	keep = k;
	last_seq = 0;
	last_hash[0] = '\0';
	if (reopen(err, errlen) == -1)
		return -1;
	/* where the last record went: this file, or before a rotation */
	snprintf(old, sizeof(old), "%s.0", path);
	if (line_at(path, 1, &last_seq, last_hash, &head) != 0 &&
	    line_at(old, 1, &last_seq, last_hash, &head) != 0) {
		last_seq = 0;
		last_hash[0] = '\0';
	}
	if (line_at(path, 1, &last_seq, last_hash, &head) == 0 && head)
		nrecords = 0;
	return 0;
}

int
textlog_last(uint64_t *seq, char hash[HASH_HEXLEN])
{
	if (last_seq == 0)
		return 1;
	*seq = last_seq;
	strlcpy(hash, last_hash, HASH_HEXLEN);
	return 0;
}

int
textlog_rotate(char *err, size_t errlen)
{
	char		 from[PATH_MAX + 16], to[PATH_MAX + 16];
	char		 tbuf[32], *head;
	struct tm	 tm;
	time_t		 now;
	int		 i, n;

	if (path[0] == '\0') {
		seterr(err, errlen, "no log file configured");
		return -1;
	}
	if (fd != -1 && fsync(fd) == -1)
		log_warn("fsync %s", path);
	for (i = keep - 1; i > 0; i--) {
		snprintf(from, sizeof(from), "%s.%d", path, i - 1);
		snprintf(to, sizeof(to), "%s.%d", path, i);
		if (rename(from, to) == -1 && errno != ENOENT) {
			seterr(err, errlen, "rename %s: %s", from,
			    strerror(errno));
			return -1;
		}
	}
	snprintf(to, sizeof(to), "%s.0", path);
	if (rename(path, to) == -1 && errno != ENOENT) {
		seterr(err, errlen, "rename %s: %s", path, strerror(errno));
		return -1;
	}
	if (reopen(err, errlen) == -1)
		return -1;
	nrecords = 0;
	if (last_seq == 0)
		return 0;
	/* the chain head, exported at the top of the new file */
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if ((n = asprintf(&head, "{\"type\":\"head\",\"seq\":%" PRIu64
	    ",\"hash\":\"%s\",\"time\":\"%s\"}\n", last_seq, last_hash,
	    tbuf)) == -1)
		return 0;
	if (write(fd, head, n) != n) {
		log_warn("%s: head line", path);
		if (ftruncate(fd, 0) == -1)
			log_warn("ftruncate %s", path);
	} else
		size += n;
	free(head);
	return 0;
}

int
textlog_write(uint64_t seq, const char *hash, const char *line, size_t len,
    char *err, size_t errlen)
{
	struct iovec	 iov[2];
	ssize_t		 n;

	if (path[0] == '\0')
		return 0;
	if (fd == -1 && reopen(err, errlen) == -1)
		return -1;
	if (rotate_size > 0 && nrecords > 0 &&
	    size + (off_t)len + 1 > rotate_size &&
	    textlog_rotate(err, errlen) == -1)
		return -1;
	iov[0].iov_base = (void *)(uintptr_t)line;
	iov[0].iov_len = len;
	iov[1].iov_base = "\n";
	iov[1].iov_len = 1;
	n = writev(fd, iov, 2);
	if (n != (ssize_t)len + 1) {
		seterr(err, errlen, "write %s: %s", path, n == -1 ?
		    strerror(errno) : "short write");
		if (n > 0 && ftruncate(fd, size) == -1)
			log_warn("ftruncate %s", path);
		return -1;
	}
	size += n;
	nrecords++;
	last_seq = seq;
	strlcpy(last_hash, hash, sizeof(last_hash));
	return 0;
}

/*
 * The block the next line goes into, into the page cache (see
 * audit_wal_warm): an append to it would read it from the disk first.
 */
void
textlog_warm(void)
{
	if (fd == -1)
		return;
	(void)posix_fadvise(fd, size & ~(off_t)4095, 4096,
	    POSIX_FADV_WILLNEED);
}

int
textlog_sync(void)
{
	if (fd == -1)
		return 0;
	return fsync(fd);
}

size_t
textlog_heads(struct ahead *heads, size_t max)
{
	char		 file[PATH_MAX + 16];
	const char	*base;
	size_t		 n = 0;
	int		 i, w, head;

	if (path[0] == '\0')
		return 0;
	base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	for (i = -1; i < keep && n + 2 <= max; i++) {
		if (i == -1)
			strlcpy(file, path, sizeof(file));
		else
			snprintf(file, sizeof(file), "%s.%d", path, i);
		for (w = 0; w < 2; w++) {
			if (line_at(file, w, &heads[n].seq, heads[n].hash,
			    &head) != 0)
				continue;
			if (i == -1)
				snprintf(heads[n].source,
				    sizeof(heads[n].source), "%.80s (%s line)",
				    base, w ? "last" : "first");
			else
				snprintf(heads[n].source,
				    sizeof(heads[n].source), "%.80s.%d (%s line)",
				    base, i, w ? "last" : "first");
			n++;
		}
	}
	return n;
}
