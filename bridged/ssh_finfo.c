/*
 * ssh_finfo.c: FileStat (what lstat says about each of a list of paths, as
 * JSON) and ListDir (one directory's entries, sorted, with sizes and
 * link targets).
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include "bridged.h"
#include "log.h"
#include "ssh.h"
#include "ssh_files.h"

#define STAT_MAX		1000	/* paths in FileStat */
#define STAT_BATCH		64	/* lstats sent together */

/* a directory entry, for sorting */
static int	 stat_many(sftp_session, char **, char **, size_t, json_t *,
		    char *);
static int	 dent_links(sftp_session, const char *, struct dent *, size_t,
		    char *);
static void	 do_stat(struct sshcall *);
static void	 do_listdir(struct sshcall *);

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

/*
 * What lstat says of each of the n paths, as FileStat shows it, into
 * files: STAT_BATCH lstats asked together, then the links' readlinks
 * together (ssh_sftpq.c), where one at a time they were a round trip or
 * two a path.  A path that does not pass the lexical check (path NULL)
 * has err[i] instead.  -1 with err: the connection failed.
 */
static int
stat_many(sftp_session sftp, char **paths, char **errs, size_t n,
    json_t *files, char *err)
{
	struct sftpq	*q, *l;
	json_t		*o;
	const char	*type;
	char		 mode[16], when[32];
	time_t		 t;
	struct tm	 tm;
	size_t		 i, k, m, nq, nl, nlinks, at[STAT_BATCH];
	int		 rc = 0;

	if ((q = calloc(STAT_BATCH, sizeof(*q))) == NULL ||
	    (l = calloc(STAT_BATCH, sizeof(*l))) == NULL)
		fatal(NULL);
	for (i = 0; i < n && rc == 0; i += m) {
		m = n - i < STAT_BATCH ? n - i : STAT_BATCH;
		for (nq = 0, k = 0; k < m; k++) {
			if (paths[i + k] == NULL)
				continue;
			q[nq].type = SSH_FXP_LSTAT;
			q[nq++].path = paths[i + k];
		}
		if (nq > 0 && sftpq_run(sftp, q, nq, err) == -1) {
			rc = -1;
			break;
		}
		for (nl = 0, k = 0; k < nq; k++)
			if (q[k].ok && q[k].hasperm &&
			    (q[k].perm & S_IFMT) == S_IFLNK) {
				l[nl].type = SSH_FXP_READLINK;
				l[nl].path = q[k].path;
				at[nl++] = k;
			}
		if ((nlinks = nl) > 0 && sftpq_run(sftp, l, nl, err) == -1) {
			rc = -1;
			break;
		}
		for (nq = 0, nl = 0, k = 0; k < m; k++) {
			if (paths[i + k] == NULL) {
				o = json_pack("{s:s,s:s}", "path", errs[i + k],
				    "error", errs[i + k] +
				    strlen(errs[i + k]) + 1);
				goto add;
			}
			if (!q[nq].ok) {
				type = fx_code_str(q[nq].status);
				o = json_pack("{s:s,s:s}", "path", paths[i + k],
				    "error", type ? type : "SFTP error");
				nq++;
				goto add;
			}
			switch (q[nq].hasperm ? q[nq].perm & S_IFMT : 0) {
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
			snprintf(mode, sizeof(mode), "%04o",
			    q[nq].perm & 07777);
			t = q[nq].hastime ? (time_t)q[nq].mtime : 0;
			if (gmtime_r(&t, &tm) == NULL || strftime(when,
			    sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
				strlcpy(when, "", sizeof(when));
			o = json_pack("{s:s,s:s,s:I,s:s,s:I,s:I,s:s}", "path",
			    paths[i + k], "type", type, "size",
			    (json_int_t)q[nq].size, "mode", mode, "uid",
			    (json_int_t)q[nq].uid, "gid", (json_int_t)q[nq].gid,
			    "mtime", when);
			if (o != NULL && nl < nlinks && at[nl] == nq) {
				if (l[nl].ok)
					json_object_set_new(o, "target",
					    json_string(l[nl].name));
				else {
					type = fx_code_str(l[nl].status);
					json_object_set_new(o, "target_error",
					    json_string(type ? type :
					    "SFTP error"));
				}
				nl++;
			}
			nq++;
 add:
			if (o == NULL)
				fatalx("json_pack");
			json_array_append_new(files, o);
		}
	}
	free(l);
	free(q);
	return rc;
}

static void
do_stat(struct sshcall *call)
{
	sftp_session	 sftp;
	json_t		*paths, *e, *files, *res, *one;
	char		 path[PATH_MAX], err[ERRSZ] = "", *text;
	char		**list, **errs;
	size_t		 i;
	int		 rc;

	paths = json_object_get(call->args, "paths");
	if (json_is_string(paths))
		paths = json_pack("[O]", paths);
	else if (json_is_array(paths) && json_array_size(paths) > 0)
		json_incref(paths);
	else {
		files_fail(call, "paths must be a non-empty array of paths");
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
		files_fail(call, err);
		return;
	}
	if ((files = json_array()) == NULL ||
	    (list = calloc(json_array_size(paths), sizeof(*list))) == NULL ||
	    (errs = calloc(json_array_size(paths), sizeof(*errs))) == NULL)
		fatal(NULL);
	/* the lexical checks first: a path refused has its error */
	json_array_foreach(paths, i, e) {
		json_t	*o = json_pack("{s:O}", "p", e);

		if (o == NULL)
			fatalx("json_pack");
		if (arg_path(call, o, "p", 1, path, err) == -1) {
			/* the path as given, then its error */
			if (asprintf(&errs[i], "%s%c%s", json_string_value(e),
			    '\0', err) == -1)
				fatal(NULL);
		} else if ((list[i] = strdup(path)) == NULL)
			fatal(NULL);
		json_decref(o);
	}
	rc = stat_many(sftp, list, errs, json_array_size(paths), files, err);
	for (i = 0; i < json_array_size(paths); i++) {
		free(list[i]);
		free(errs[i]);
	}
	free(list);
	free(errs);
	json_decref(paths);
	if (rc == -1) {
		json_decref(files);
		files_fail(call, err);
		return;
	}
	if ((res = json_pack("{s:o}", "files", files)) == NULL)
		fatalx("json_pack");
	if ((text = json_dumps(res, JSON_INDENT(1) | JSON_PRESERVE_ORDER)) ==
	    NULL)
		fatal(NULL);
	one = files_result(text, strlen(text), 0);
	free(text);
	json_object_set_new(one, "structuredContent", res);
	sshcall_result(call, one);
}

int
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
	char		 path[PATH_MAX], err[ERRSZ] = "";
	size_t		 n = 0, size = 0, names = 0, len;
	int		 more = 0, tried = 0;

	if (arg_path(call, call->args, "path", 0, path, err) == -1) {
		files_fail(call, err);
		return;
	}
	if ((sftp = files_sftp(call, err)) == NULL) {
		files_fail(call, err);
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
		files_fail(call, err);
		return;
	}
	while ((a = sftp_readdir(sftp, d)) != NULL) {
		if (strcmp(a->name, ".") == 0 || strcmp(a->name, "..") == 0) {
			sftp_attributes_free(a);
			continue;
		}
		len = strlen(a->name);
		if (n == LISTDIR_MAX || len > LISTDIR_NAMES - names) {
			more = 1;
			sftp_attributes_free(a);
			break;
		}
		names += len;
		/*
		 * A long listing goes on, from the start, on a channel of its
		 * own (ssh_flist.c): it would hold the host's worker for a
		 * round trip every 100 entries.  A short one is done here, in
		 * fewer round trips than opening a channel takes.
		 */
		if (n == LISTDIR_INLINE && !tried) {
			tried = 1;
			if (flist_start(call, call->conn, path) == 0) {
				sftp_attributes_free(a);
				sftp_closedir(d);
				dent_free(ents, n);
				return;
			}
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
	if (n <= LISTDIR_LINKS && dent_links(sftp, path, ents, n, err) == -1) {
		files_fail(call, err);
		goto done;
	}
	listdir_answer(call, path, ents, n, more);
	ents = NULL;
	n = 0;
 done:
	dent_free(ents, n);
}

/* ListDir's answer: the entries (sorted, freed here), one a line */
void
listdir_answer(struct sshcall *call, const char *path, struct dent *ents,
    size_t n, int more)
{
	struct dent	*de;
	struct sbuf	 out = { 0 };
	size_t		 i;

	sb_printf(&out, "%s: %zu entr%s%s\n", path, n, n == 1 ? "y" : "ies",
	    more ? " (listing stopped there)" : "");
	for (i = 0; i < n; i++) {
		de = &ents[i];
		switch (de->type) {
		case S_IFDIR:
			sb_printf(&out, "%s/\n", de->name);
			break;
		case S_IFLNK:
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
	files_reply(call, 0, &out, "list a subdirectory, or use Glob with a "
	    "narrower pattern");
	dent_free(ents, n);
}

void
dent_free(struct dent *ents, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		free(ents[i].name);
		free(ents[i].target);
	}
	free(ents);
}

/*
 * The targets of the links among ents, LISTDIR_LINKQ readlinks at a time
 * (one round trip each, not one a link).  A link the host will not read
 * has none.  -1 with err: the connection failed.
 */
static int
dent_links(sftp_session sftp, const char *dir, struct dent *ents, size_t n,
    char *err)
{
	struct sftpq	*q;
	struct dent	*at[LISTDIR_LINKQ];
	char		*full[LISTDIR_LINKQ];
	size_t		 i = 0, k, nq;
	int		 rc = 0;

	if ((q = calloc(LISTDIR_LINKQ, sizeof(*q))) == NULL)
		fatal(NULL);
	while (i < n && rc == 0) {
		for (nq = 0; i < n && nq < LISTDIR_LINKQ; i++) {
			if (ents[i].type != S_IFLNK)
				continue;
			if (asprintf(&full[nq], "%s/%s", dir,
			    ents[i].name) == -1)
				fatal(NULL);
			if (strlen(full[nq]) >= PATH_MAX) {
				free(full[nq]);
				continue;
			}
			q[nq].type = SSH_FXP_READLINK;
			q[nq].path = full[nq];
			at[nq++] = &ents[i];
		}
		if (nq > 0 && (rc = sftpq_run(sftp, q, nq, err)) == 0)
			for (k = 0; k < nq; k++)
				if (q[k].ok && (at[k]->target =
				    strdup(q[k].name)) == NULL)
					fatal(NULL);
		for (k = 0; k < nq; k++)
			free(full[k]);
	}
	free(q);
	return rc;
}
