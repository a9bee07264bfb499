/*
 * ssh_fedit.c: Write, Edit and MultiEdit.  Edits are made to the whole file
 * in memory, all or none, and the result replaces the file in one step
 * (write_atomic() in ssh_rfile.c): a reader never sees half an edit.
 * New content of FU_MEM_MIN bytes or more is written on an SFTP channel
 * of its own from the event loop (ssh_fup.c), which then answers with
 * the text made here; a file of that size to edit is read on one too
 * (ssh_fdown.c), and the edits applied when it has come.
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

#define EDIT_MAX		(32 * 1024 * 1024)

struct edit {
	const char	*old;
	size_t		 oldlen;
	const char	*new;
	size_t		 newlen;
	int		 all;
};

static int	 load_stat(sftp_session, const char *, uint64_t *, char *);
static int	 load_read(sftp_session, const char *, struct sbuf *, char *);
static size_t	 count_matches(const struct sbuf *, const struct edit *,
		    struct sbuf *);
static int	 apply_edit(struct sbuf *, const struct edit *, char *,
		    size_t);
static int	 edit_parse(json_t *, struct edit *, char *);
static void	 edit_run(struct sshcall *, const char *, struct edit *,
		    size_t);
static void	 edit_loaded(struct sshcall *, struct sbuf *, const char *,
		    void *);
static void	 edit_apply(struct sshcall *, sftp_session, const char *,
		    struct sbuf *, const struct edit *, size_t);
static void	 write_reply(struct sshcall *, sftp_session, const char *,
		    const char *, size_t, char *[2]);
static void	 do_write(struct sshcall *);
static void	 do_edit(struct sshcall *);
static void	 do_multiedit(struct sshcall *);

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

/* the file to edit: a regular file of at most EDIT_MAX bytes (*size) */
static int
load_stat(sftp_session sftp, const char *path, uint64_t *size, char *err)
{
	sftp_attributes	 a;
	int		 type;

	if ((a = sftp_stat(sftp, path)) == NULL) {
		if (fx_missing(sftp))
			snprintf(err, ERRSZ, "File does not exist: %s", path);
		else
			fx_err(err, sftp, "", path);
		return -1;
	}
	type = attr_type(a);
	*size = a->size;
	sftp_attributes_free(a);
	if (type == S_IFDIR) {
		snprintf(err, ERRSZ, "%s is a directory, not a file", path);
		return -1;
	}
	if (type != S_IFREG) {
		snprintf(err, ERRSZ, "%s is not a regular file", path);
		return -1;
	}
	if (*size > EDIT_MAX) {
		snprintf(err, ERRSZ, "%s is %llu bytes; files over %d bytes "
		    "are not edited in place", path, (unsigned long long)*size,
		    EDIT_MAX);
		return -1;
	}
	return 0;
}

/* the whole file into sb (at most EDIT_MAX) */
static int
load_read(sftp_session sftp, const char *path, struct sbuf *sb, char *err)
{
	sftp_file	 f;
	char		 e2[ERRSZ];

	if ((f = sftp_open(sftp, path, O_RDONLY, 0)) == NULL) {
		fx_err(err, sftp, "", path);
		return -1;
	}
	if (files_readall(f, sb, EDIT_MAX, e2) == -1) {
		snprintf(err, ERRSZ, "%s: %.256s", path, e2);
		sftp_close(f);
		return -1;
	}
	sftp_close(f);
	return 0;
}

static void
do_write(struct sshcall *call)
{
	sftp_session	 sftp;
	json_t		*v;
	const char	*content;
	char		 path[PATH_MAX], err[ERRSZ] = "", *ok[2] = { NULL };
	size_t		 len;

	if (arg_path(call, call->args, "file_path", 1, path, err) == -1) {
		files_fail(call, err);
		return;
	}
	v = json_object_get(call->args, "content");
	if (!json_is_string(v)) {
		files_fail(call, "content is required and must be a string");
		return;
	}
	content = json_string_value(v);
	len = json_string_length(v);
	if ((sftp = files_sftp(call, err)) == NULL) {
		files_fail(call, err);
		return;
	}
	if (asprintf(&ok[0], "The file %s has been updated (%zu bytes).",
	    path, len) == -1 || asprintf(&ok[1], "File created successfully "
	    "at: %s (%zu bytes)", path, len) == -1)
		fatal(NULL);
	write_reply(call, sftp, path, content, len, ok);
}

/*
 * Replace path with data and answer: ok[0] when it replaced a file,
 * ok[1] when it made one (both freed), or the error; a large write
 * answers from the event loop (write_atomic).
 */
static void
write_reply(struct sshcall *call, sftp_session sftp, const char *path,
    const char *data, size_t len, char *ok[2])
{
	char	 err[ERRSZ] = "";
	int	 created, rc;

	rc = write_atomic(call, sftp, path, data, len, 1, err, &created, ok);
	if (rc == -1)
		files_fail(call, err);
	else if (rc == 0)
		sshcall_text(call, 0, "%s", ok[created]);
	free(ok[0]);
	free(ok[1]);
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

/* what an Edit read on a channel of its own goes on with */
struct editq {
	char		 path[PATH_MAX];
	struct edit	*edits;
	size_t		 nedits;
	uint32_t	 connid;
};

/*
 * Read the file, then apply the edits (edit_apply).  A file of
 * FU_MEM_MIN bytes or more is read on an SFTP channel of its own, with
 * reads in flight, from the event loop (ssh_fdown.c), and the edits are
 * applied when it has come (edit_loaded).
 */
static void
edit_run(struct sshcall *call, const char *path, struct edit *edits,
    size_t nedits)
{
	sftp_session	 sftp;
	struct editq	*q;
	struct sbuf	 sb = { 0 };
	char		 err[ERRSZ] = "";
	uint64_t	 size = 0;
	int		 rc;

	if ((sftp = files_sftp(call, err)) == NULL) {
		files_fail(call, err);
		return;
	}
	rc = load_stat(sftp, path, &size, err);
	if (rc == 0 && size >= FU_MEM_MIN && call->conn != NULL) {
		if ((q = calloc(1, sizeof(*q))) == NULL ||
		    (q->edits = reallocarray(NULL, nedits,
		    sizeof(*edits))) == NULL)
			fatal(NULL);
		strlcpy(q->path, path, sizeof(q->path));
		memcpy(q->edits, edits, nedits * sizeof(*edits));
		q->nedits = nedits;
		q->connid = call->conn->id;
		if (fdown_start_mem(call, call->conn, path, size, EDIT_MAX,
		    edit_loaded, q) == 0)
			return;
		free(q->edits);
		free(q);
	}
	if (rc == 0)
		rc = load_read(sftp, path, &sb, err);
	if (rc == -1) {
		/* an empty old_string may create the file */
		if (nedits == 1 && edits[0].oldlen == 0 && fx_missing(sftp) &&
		    !files_lost) {
			sb_add(&sb, "", 0);
		} else {
			files_fail(call, err);
			sb_free(&sb);
			return;
		}
	}
	edit_apply(call, sftp, path, &sb, edits, nedits);
}

/*
 * The file read on its own channel has come: the edits are applied in a
 * blocking section again, on the connection it was read on.
 */
static void
edit_loaded(struct sshcall *call, struct sbuf *mem, const char *why,
    void *arg)
{
	struct editq	*q = arg;
	struct sbuf	 sb = { 0 };
	sftp_session	 sftp;
	char		 err[ERRSZ] = "";
	uint32_t	 id = q->connid;
	int		 was;

	if (why != NULL)
		files_fail(call, why);
	else if (files_resume(call, id, &was) == -1)
		sshcall_text(call, 1, "the connection to host \"%s\" was "
		    "lost during the Edit; nothing was written",
		    call->host->name);
	else {
		sb = *mem;
		memset(mem, 0, sizeof(*mem));
		if ((sftp = files_sftp(call, err)) == NULL) {
			files_fail(call, err);
			sb_free(&sb);
		} else
			edit_apply(call, sftp, q->path, &sb, q->edits,
			    q->nedits);
		files_resume_end(id, was);
	}
	free(q->edits);
	free(q);
}

/*
 * Apply the edits in order to the file in memory (sb, taken); write only
 * if all apply.
 */
static void
edit_apply(struct sshcall *call, sftp_session sftp, const char *path,
    struct sbuf *sbp, const struct edit *edits, size_t nedits)
{
	struct sbuf	 sb = *sbp;
	char		 msg[ERRSZ], *ok[2] = { NULL };
	size_t		 i;

	memset(sbp, 0, sizeof(*sbp));
	sb_add(&sb, "", 0);	/* a NUL-terminated empty file too */
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
	if ((nedits > 1 ? asprintf(&ok[0], "Applied %zu edits to %s.",
	    nedits, path) : asprintf(&ok[0], "The file %s has been updated.",
	    path)) == -1 || asprintf(&ok[1], "File created successfully at: "
	    "%s", path) == -1)
		fatal(NULL);
	write_reply(call, sftp, path, sb.p ? sb.p : "", sb.len, ok);
	sb_free(&sb);
}

static void
do_edit(struct sshcall *call)
{
	struct edit	 e;
	char		 path[PATH_MAX], err[ERRSZ] = "";

	if (arg_path(call, call->args, "file_path", 1, path, err) == -1 ||
	    edit_parse(call->args, &e, err) == -1) {
		files_fail(call, err);
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
		files_fail(call, err);
		return;
	}
	arr = json_object_get(call->args, "edits");
	if (!json_is_array(arr) || (n = json_array_size(arr)) == 0) {
		files_fail(call, "edits must be a non-empty array of "
		    "{old_string, new_string, replace_all?}");
		return;
	}
	if (n > 1000) {
		files_fail(call, "edits: at most 1000 edits per call");
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
