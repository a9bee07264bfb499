/*
 * ssh_policy.c: the ssh worker's half of the policy (policy.c).
 *
 * sshpolicy_call() runs as a call arrives over imsg: the same checks as
 * the frontend made, so a compromised frontend is not enough to get past
 * them, and under `exec allow' the command is rewritten into its words,
 * each through shquote(), so the remote shell sees literal words only.
 *
 * sshpolicy_resolve() runs before a file tool acts: every path argument
 * is normalised, then resolved on the host with SFTP realpath, so that a
 * symbolic link anywhere in it cannot lead outside base dir; the argument
 * is replaced by the resolved path, which is what the tool then uses.  A
 * path whose last component does not exist is resolved through its
 * parent.  Writes (Write, Upload) never follow a final symbolic link:
 * the link itself is replaced, and its target must be inside as well.
 *
 * What remains is a race: SFTP has no O_NOFOLLOW or openat, so a link
 * swapped in between the check and the act (by something else running
 * on the host) is followed.  SECURITY says so.
 *
 * A write tool's paths are then checked against protect exec (policy.c):
 * the path as given, as resolved and, for a final link, its target.  The
 * patterns below the home need the home, which SFTP's realpath of "."
 * gives (the login directory, no shell needed); the rooted patterns are
 * resolved on the host as well, so that a startup file that is itself a
 * link protects what it leads to.  Both are found at the first write
 * check on a connection and kept for it; without a home, writes are
 * refused.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include "bridged.h"
#include "log.h"
#include "policy.h"
#include "ssh.h"
#include "ssh_files.h"

enum rmode {
	R_READ,		/* follow everything; the target must be inside */
	R_WRITE,	/* the last component is replaced, not followed */
	R_LSTAT,	/* described, not followed (FileStat) */
};

static int	 resolve(struct sshcall *, sftp_session, const char *,
		    const char *, enum rmode, char *, char *, char *);
static int	 resolve_read_fast(struct sshcall *, sftp_session, char *);
static int	 resolve_many(struct sshcall *, sftp_session, const char *,
		    json_t *, enum rmode, char *);
static void	 known_add(struct sshcall *, const char *, uint64_t);
static void	 known_reset(void);

/* paths whose lstat and realpath go to the host together */
#define RESOLVE_BATCH		32
#define NOT_ASKED		((size_t)-1)

/*
 * The regular files the last resolve found, and their sizes then, for
 * that call's Read or MultiRead: each is not asked for again.
 */
struct knownfile {
	char		*path;
	uint64_t	 size;
};
static struct {
	uint32_t		 reqid;
	uint32_t		 connid;
	struct knownfile	*f;
	size_t			 n, size;
} known;
static int	 write_tool(const char *);
static void	 view_reset(void);
static const struct policy_view *view_get(struct sshcall *, sftp_session,
		    char *);
static void	 view_anchor(void *, const char *);
static int	 guard_check(struct sshcall *, sftp_session, const char *,
		    const char *, char *);
static int	 resolve_arg(struct sshcall *, sftp_session, const char *,
		    json_t *, const char *, enum rmode, char *);
static int	 glob_root(struct sshcall *, sftp_session, const char *,
		    char *);

/*
 * What the host says for protect exec, found on one connection: its
 * user's home and where the rooted patterns lead.  Kept while the
 * connection (and the user) stay the same.
 */
static struct {
	struct sshhost		*host;
	ssh_session		 session;	/* NULL: nothing found */
	char			 user[HOST_USER_LEN];
	sftp_session		 sftp;		/* for view_anchor() */
	struct policy_view	 view;
	struct strlist		 tried;		/* patterns resolved */
} hv = { .tried = TAILQ_HEAD_INITIALIZER(hv.tried) };

/*
 * The arrival check.  0: go on (call->args may have been rewritten);
 * -1: refused and answered.
 */
int
sshpolicy_call(struct sshcall *call)
{
	struct host		*h = call->host->conf;
	struct policy_words	 pw;
	struct sbuf		 sb = { 0 };
	json_t			*v;
	char			 err[POLICY_ERR_MAX];
	size_t			 i;

	if (h == NULL) {
		sshcall_text(call, 1, "host %s has no configuration",
		    call->host->name);
		return -1;
	}
	if (policy_call_check(h, call->tool, call->args, err,
	    sizeof(err)) == -1) {
		log_warnx("call %u (%s) refused by the ssh worker: %s",
		    call->reqid, call->tool, err);
		sshcall_text(call, 1, "%s", err);
		return -1;
	}
	if (strcmp(call->tool, "Bash") != 0 || !h->has_exec_allow)
		return 0;
	v = json_object_get(call->args, "command");
	if (policy_exec_check(h, json_string_value(v), json_string_length(v),
	    &pw, err, sizeof(err)) == -1) {
		/* policy_call_check just said yes: cannot happen */
		sshcall_text(call, 1, "%s", err);
		return -1;
	}
	for (i = 0; i < pw.n; i++) {
		if (i > 0)
			sb_add(&sb, " ", 1);
		shquote(&sb, pw.w[i]);
	}
	policy_words_free(&pw);
	json_object_set_new(call->args, "command", json_stringn(sb.p,
	    sb.len));
	sb_free(&sb);
	return 0;
}

/*
 * Resolve path (already normalised and inside base lexically) on the
 * host into out.  base is the host's base dir as the host resolves it.
 * A final link that is replaced, not followed: its target into linkto
 * ("" otherwise).
 */
static int
resolve(struct sshcall *call, sftp_session sftp, const char *base,
    const char *path, enum rmode mode, char *out, char *linkto, char *err)
{
	struct host	*h = call->host->conf;
	sftp_attributes	 a;
	char		*canon, parent[PATH_MAX], *slash;
	const char	*leaf;
	int		 type = 0, exists;

	linkto[0] = '\0';

	if ((a = sftp_lstat(sftp, path)) != NULL) {
		type = attr_type(a);
		sftp_attributes_free(a);
		exists = 1;
	} else if (fx_missing(sftp))
		exists = 0;
	else {
		fx_err(err, sftp, "", path);
		return -1;
	}

	/* the target of whatever exists, links followed, must be inside */
	if (exists && (type == S_IFLNK ? mode != R_LSTAT : 1)) {
		if ((canon = sftp_canonicalize_path(sftp, path)) == NULL) {
			snprintf(err, ERRSZ, "%s is a symbolic link that "
			    "cannot be resolved (dangling or a loop); refused "
			    "(rule: base dir, bridged.conf line %d)", path,
			    h->base_dir_line);
			return -1;
		}
		if (!policy_path_within(base, canon)) {
			snprintf(err, ERRSZ, "%s leads to %s, outside the base "
			    "dir %s (rule: base dir, bridged.conf line %d)",
			    path, canon, base, h->base_dir_line);
			ssh_string_free_char(canon);
			return -1;
		}
		if (mode == R_READ || type != S_IFLNK) {
			strlcpy(out, canon, PATH_MAX);
			ssh_string_free_char(canon);
			return 0;
		}
		/* the link is replaced; where it led is checked as well */
		strlcpy(linkto, canon, PATH_MAX);
		ssh_string_free_char(canon);
	}

	/* new, or a link replaced or described: resolve the directory */
	strlcpy(parent, path, sizeof(parent));
	if ((slash = strrchr(parent, '/')) == NULL || slash[1] == '\0') {
		/* "/" or the base itself: nothing to resolve below it */
		strlcpy(out, path, PATH_MAX);
		return 0;
	}
	leaf = path + (slash - parent) + 1;
	if (slash == parent)
		strlcpy(parent, "/", sizeof(parent));
	else
		*slash = '\0';
	if ((canon = sftp_canonicalize_path(sftp, parent)) == NULL) {
		/* no such directory: the tool reports it, nothing is made */
		strlcpy(out, path, PATH_MAX);
		return 0;
	}
	if (!policy_path_within(base, canon)) {
		snprintf(err, ERRSZ, "%s: its directory leads to %s, outside "
		    "the base dir %s (rule: base dir, bridged.conf line %d)",
		    path, canon, base, h->base_dir_line);
		ssh_string_free_char(canon);
		return -1;
	}
	if (snprintf(out, PATH_MAX, "%s%s%s", canon,
	    strcmp(canon, "/") == 0 ? "" : "/", leaf) >= PATH_MAX) {
		ssh_string_free_char(canon);
		snprintf(err, ERRSZ, "%s: the resolved path is too long", path);
		return -1;
	}
	ssh_string_free_char(canon);
	return 0;
}

/* one path member of obj (absent: the base dir where optional) */
static int
resolve_arg(struct sshcall *call, sftp_session sftp, const char *base,
    json_t *obj, const char *name, enum rmode mode, char *err)
{
	struct host	*h = call->host->conf;
	json_t		*v;
	char		 norm[PATH_MAX], out[PATH_MAX], e[POLICY_ERR_MAX];
	char		 linkto[PATH_MAX];

	if ((v = json_object_get(obj, name)) == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		snprintf(err, ERRSZ, "%s must be a string", name);
		return -1;
	}
	if (policy_path_check(h, name, json_string_value(v),
	    json_string_length(v), norm, sizeof(norm), e, sizeof(e)) == -1) {
		strlcpy(err, e, ERRSZ);
		return -1;
	}
	if ((h->protect & PROTECT_OVERWRITE) && mode == R_WRITE &&
	    (strcmp(call->tool, "Write") == 0 ||
	    strcmp(call->tool, "Upload") == 0)) {
		sftp_attributes	 a;

		/* lstat: a link or a hard link is as existing as a file */
		if ((a = sftp_lstat(sftp, norm)) != NULL) {
			sftp_attributes_free(a);
			snprintf(err, ERRSZ, "%s exists and host \"%s\" "
			    "protects existing files from being overwritten "
			    "(rule: protect overwrite, bridged.conf line %d)",
			    norm, h->name, h->protect_line);
			return -1;
		}
	}
	if (resolve(call, sftp, base, norm, mode, out, linkto, err) == -1)
		return -1;
	/* as given, as resolved, and where a replaced link led */
	if (write_tool(call->tool) &&
	    (guard_check(call, sftp, NULL, norm, err) == -1 ||
	    guard_check(call, sftp, norm, out, err) == -1 ||
	    (linkto[0] != '\0' && guard_check(call, sftp, norm, linkto,
	    err) == -1)))
		return -1;
	json_object_set_new(obj, name, json_string(out));
	return 0;
}

/*
 * Read's path in one round trip, the common case (sshpolicy_reads).  1:
 * resolved, a regular file (no link) inside base dir, its size kept for
 * read_one(); 0: anything else (a link, a directory, nothing there,
 * outside, an error), which resolve_arg() then resolves and words one
 * request at a time as ever; -1 with err: the connection failed.
 */
static int
resolve_read_fast(struct sshcall *call, sftp_session sftp, char *err)
{
	uint64_t	 size;
	int		 settled;

	if (sshpolicy_reads(&call, 1, sftp, &settled, &size, err) == -1)
		return -1;
	if (settled)
		known_add(call, json_string_value(json_object_get(call->args,
		    "file_path")), size);
	return settled;
}

/*
 * The file_path of n Reads (n <= RESOLVE_BATCH) on this host, asked
 * together (ssh_sftpq.c): the base dir's realpath, and each path's lstat
 * and realpath, one round trip for all where one at a time they were
 * three a Read.  settled[i] 1: Read i's path is a regular file (no link)
 * inside base dir; its file_path is now its realpath, its size in
 * size[i].  0: anything else (a link, a directory, nothing there,
 * outside, its arguments wrong), which sshpolicy_resolve() resolves and
 * words one request at a time as ever.  On a host with no base dir there
 * is nothing to resolve: a path is settled when its stat finds a regular
 * file, as read_one() would ask, and is left as it is (but where protect
 * overwrite makes sshpolicy_resolve() canonicalise it, none is).  -1 with
 * err: the connection failed.
 */
int
sshpolicy_reads(struct sshcall **calls, size_t n, sftp_session sftp,
    int *settled, uint64_t *size, char *err)
{
	struct host	*h = calls[0]->host->conf;
	struct sftpq	*q;
	json_t		*v, *canon;
	char		(*norm)[PATH_MAX], e[POLICY_ERR_MAX];
	size_t		 i, k, nq = 0, at[RESOLVE_BATCH];
	int		 base = h->base_dir[0] != '\0';

	if (n > RESOLVE_BATCH)
		fatalx("sshpolicy_reads: %zu paths", n);
	memset(settled, 0, n * sizeof(*settled));
	if (!base && (h->protect & PROTECT_OVERWRITE))
		return 0;
	if ((q = calloc(2 * RESOLVE_BATCH + 1, sizeof(*q))) == NULL ||
	    (norm = calloc(RESOLVE_BATCH, sizeof(*norm))) == NULL)
		fatal(NULL);
	if (base) {
		q[nq].type = SSH_FXP_REALPATH;
		q[nq++].path = h->base_dir;
	}
	for (i = 0; i < n; i++) {
		at[i] = NOT_ASKED;
		v = json_is_object(calls[i]->args) ?
		    json_object_get(calls[i]->args, "file_path") : NULL;
		if (!json_is_string(v) || policy_path_check(h, "file_path",
		    json_string_value(v), json_string_length(v), norm[i],
		    PATH_MAX, e, sizeof(e)) == -1)
			continue;
		/* no base dir: the path as Read will open it (arg_path) */
		if (!base && strlcpy(norm[i], json_string_value(v),
		    PATH_MAX) >= PATH_MAX)
			continue;
		at[i] = nq;
		q[nq].type = base ? SSH_FXP_LSTAT : SSH_FXP_STAT;
		q[nq++].path = norm[i];
		if (base) {
			q[nq].type = SSH_FXP_REALPATH;
			q[nq++].path = norm[i];
		}
	}
	if (nq > (size_t)base && sftpq_run(sftp, q, nq, err) == -1) {
		free(norm);
		free(q);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if ((k = at[i]) == NOT_ASKED)
			continue;
		if (!q[k].ok || !q[k].hasperm || !q[k].hassize ||
		    (q[k].perm & S_IFMT) != S_IFREG)
			continue;
		if (base) {
			/* a name that is not UTF-8 goes the slow way */
			if (!q[0].ok || !q[k + 1].ok ||
			    !policy_path_within(q[0].name, q[k + 1].name) ||
			    (canon = json_string(q[k + 1].name)) == NULL)
				continue;
			if (json_object_set_new(calls[i]->args, "file_path",
			    canon) == -1)
				continue;
		}
		settled[i] = 1;
		size[i] = q[k].size;
	}
	free(norm);
	free(q);
	return 0;
}

/*
 * The paths of MultiRead and FileStat (arr's strings, or its objects'
 * file_path), RESOLVE_BATCH at a time: the lstat and realpath of each
 * asked together with the others' (ssh_sftpq.c), one round trip for
 * all, where one at a time they were two a path.  A path the answers
 * settle (it exists, where it leads is inside base, and for FileStat it
 * is no link) takes its realpath, and a regular file's size is kept for
 * MultiRead; any other is resolved by resolve_arg() as ever, one request
 * at a time, which words what is wrong.  The paths are settled in their
 * order, so the first refused is the one the answer names.  -1 with
 * err: refused, or the connection failed.
 */
static int
resolve_many(struct sshcall *call, sftp_session sftp, const char *base,
    json_t *arr, enum rmode mode, char *err)
{
	struct host	*h = call->host->conf;
	struct sftpq	*q;
	json_t		*e, *v, *o;
	char		(*norm)[PATH_MAX], pe[POLICY_ERR_MAX];
	int		 fast[RESOLVE_BATCH];
	size_t		 i, k, n, nq;
	int		 rc = 0, type = 0;

	if ((q = calloc(2 * RESOLVE_BATCH, sizeof(*q))) == NULL ||
	    (norm = calloc(RESOLVE_BATCH, sizeof(*norm))) == NULL)
		fatal(NULL);
	for (i = 0; i < json_array_size(arr) && rc == 0; i += n) {
		n = json_array_size(arr) - i;
		if (n > RESOLVE_BATCH)
			n = RESOLVE_BATCH;
		/* what the lexical check lets through goes to the host */
		for (nq = 0, k = 0; k < n; k++) {
			e = json_array_get(arr, i + k);
			v = json_is_object(e) ? json_object_get(e,
			    "file_path") : e;
			fast[k] = json_is_string(v) && policy_path_check(h,
			    "file_path", json_string_value(v),
			    json_string_length(v), norm[k], PATH_MAX, pe,
			    sizeof(pe)) == 0;
			if (!fast[k])
				continue;
			q[nq].type = SSH_FXP_LSTAT;
			q[nq++].path = norm[k];
			q[nq].type = SSH_FXP_REALPATH;
			q[nq++].path = norm[k];
		}
		if (nq > 0 && sftpq_run(sftp, q, nq, err) == -1) {
			rc = -1;
			break;
		}
		for (nq = 0, k = 0; k < n && rc == 0; k++) {
			e = json_array_get(arr, i + k);
			if (fast[k]) {
				type = q[nq].perm & S_IFMT;
				/* a name that is not UTF-8 goes the slow way */
				fast[k] = q[nq].ok && q[nq].hasperm &&
				    q[nq + 1].ok && (mode == R_READ ||
				    type != S_IFLNK) &&
				    policy_path_within(base, q[nq + 1].name) &&
				    (v = json_string(q[nq + 1].name)) != NULL;
				nq += 2;
			}
			if (fast[k]) {
				if (json_is_object(e))
					json_object_set_new(e, "file_path", v);
				else
					json_array_set_new(arr, i + k, v);
				if (mode == R_READ && type == S_IFREG &&
				    q[nq - 2].hassize)
					known_add(call, q[nq - 1].name,
					    q[nq - 2].size);
				continue;
			}
			if (json_is_object(e)) {
				rc = resolve_arg(call, sftp, base, e,
				    "file_path", mode, err);
				continue;
			}
			/* a bare path: resolve it in a holder */
			if ((o = json_pack("{s:O}", "p", e)) == NULL)
				fatal(NULL);
			if ((rc = resolve_arg(call, sftp, base, o, "p", mode,
			    err)) == 0)
				json_array_set(arr, i + k, json_object_get(o,
				    "p"));
			json_decref(o);
		}
	}
	free(norm);
	free(q);
	return rc;
}

/* a regular file the resolve found, for the call's tool */
static void
known_add(struct sshcall *call, const char *path, uint64_t size)
{
	struct knownfile	*f;

	if (known.n > 0 && (known.reqid != call->reqid ||
	    known.connid != call->conn->id))
		known_reset();
	known.reqid = call->reqid;
	known.connid = call->conn->id;
	if (known.n == known.size) {
		known.size = known.size ? known.size * 2 : 8;
		if ((f = reallocarray(known.f, known.size,
		    sizeof(*f))) == NULL)
			fatal(NULL);
		known.f = f;
	}
	if ((known.f[known.n].path = strdup(path)) == NULL)
		fatal(NULL);
	known.f[known.n++].size = size;
}

static void
known_reset(void)
{
	size_t	 i;

	for (i = 0; i < known.n; i++)
		free(known.f[i].path);
	known.n = 0;
}

/*
 * A regular file this call's resolve found at path, and its size then:
 * the tool need not stat it again.  Once.
 */
int
sshpolicy_known(struct sshcall *call, const char *path, uint64_t *size)
{
	size_t	 i;

	if (known.n == 0 || call->conn == NULL ||
	    known.reqid != call->reqid || known.connid != call->conn->id)
		return 0;
	for (i = 0; i < known.n; i++) {
		if (strcmp(known.f[i].path, path) != 0)
			continue;
		*size = known.f[i].size;
		free(known.f[i].path);
		known.f[i] = known.f[--known.n];
		return 1;
	}
	return 0;
}

/* the tools that create or replace remote files */
static int
write_tool(const char *t)
{
	return strcmp(t, "Write") == 0 || strcmp(t, "Edit") == 0 ||
	    strcmp(t, "MultiEdit") == 0 || strcmp(t, "Upload") == 0;
}

static void
view_reset(void)
{
	size_t	 i;

	for (i = 0; i < hv.view.nalias; i++) {
		free(hv.view.alias[i].pat);
		free(hv.view.alias[i].canon);
	}
	free(hv.view.alias);
	strlist_free(&hv.tried);
	memset(&hv.view, 0, sizeof(hv.view));
	hv.host = NULL;
	hv.session = NULL;
	hv.user[0] = '\0';
}

/*
 * The home of the remote user and where the rooted patterns lead, as
 * this connection's host says.  NULL with err set when the home cannot
 * be found: then nothing tells a startup file apart, and writes are
 * refused (and the home is asked for again at the next write).
 */
static const struct policy_view *
view_get(struct sshcall *call, sftp_session sftp, char *err)
{
	struct sshhost	*host = call->host;
	struct host	*h = host->conf;
	char		*canon;
	ssh_session	 sess = call->conn != NULL ? call->conn->session : NULL;

	if (hv.host != host || hv.session != sess ||
	    strcmp(hv.user, h->user) != 0)
		view_reset();
	if (hv.session == NULL) {
		if ((canon = sftp_canonicalize_path(sftp, ".")) == NULL ||
		    canon[0] != '/' || strlen(canon) >= sizeof(hv.view.home)) {
			snprintf(err, ERRSZ, "%s: refused: the home directory "
			    "of user \"%s\" on host \"%s\" cannot be found "
			    "(SFTP realpath of \".\": %s), so the files the "
			    "host runs at login cannot be told apart (rule: "
			    "protect exec, see bridged.conf(5))", call->tool,
			    h->user, h->name, canon == NULL ? fx_str(sftp) :
			    "not an absolute path");
			if (canon != NULL)
				ssh_string_free_char(canon);
			return NULL;
		}
		strlcpy(hv.view.home, canon, sizeof(hv.view.home));
		ssh_string_free_char(canon);
		hv.host = host;
		hv.session = sess;
		strlcpy(hv.user, h->user, sizeof(hv.user));
		log_debug("host \"%s\": home of %s is %s", h->name, h->user,
		    hv.view.home);
	}
	/* new patterns (first use, or a reload) are resolved once each */
	hv.sftp = sftp;
	policy_write_anchors(h, view_anchor, NULL);
	hv.sftp = NULL;
	return &hv.view;
}

/* where the rooted pattern pat leads on the host, when elsewhere */
static void
view_anchor(void *arg, const char *pat)
{
	struct strentry	*se;
	struct policy_alias *na;
	char		 lex[PATH_MAX], dir[PATH_MAX], *canon, *slash;
	size_t		 len;
	int		 n;

	TAILQ_FOREACH(se, &hv.tried, entry)
		if (strcmp(se->s, pat) == 0)
			return;
	if (strlist_add(&hv.tried, pat) == -1)
		fatal(NULL);
	if (pat[0] == '~')
		n = snprintf(lex, sizeof(lex), "%s%s",
		    strcmp(hv.view.home, "/") == 0 ? "" : hv.view.home, pat + 1);
	else
		n = snprintf(lex, sizeof(lex), "%s", pat);
	if (n < 0 || (size_t)n >= sizeof(lex))
		return;
	len = strlen(lex);
	while (len > 1 && lex[len - 1] == '/')
		lex[--len] = '\0';
	if ((canon = sftp_canonicalize_path(hv.sftp, lex)) == NULL) {
		/* a missing file: where its directory leads */
		strlcpy(dir, lex, sizeof(dir));
		if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
			return;
		*slash = '\0';
		if ((canon = sftp_canonicalize_path(hv.sftp, dir)) == NULL)
			return;
		n = snprintf(dir, sizeof(dir), "%s%s", strcmp(canon, "/") == 0 ?
		    "" : canon, lex + (slash - dir));
		ssh_string_free_char(canon);
		if (n < 0 || (size_t)n >= sizeof(dir) ||
		    (canon = strdup(dir)) == NULL)
			return;
	} else {
		char	*c = strdup(canon);

		ssh_string_free_char(canon);
		if ((canon = c) == NULL)
			fatal(NULL);
	}
	if (strcmp(canon, lex) == 0) {
		free(canon);
		return;
	}
	if ((na = reallocarray(hv.view.alias, hv.view.nalias + 1,
	    sizeof(*na))) == NULL)
		fatal(NULL);
	hv.view.alias = na;
	na[hv.view.nalias].canon = canon;
	if ((na[hv.view.nalias].pat = strdup(pat)) == NULL)
		fatal(NULL);
	hv.view.nalias++;
}

/* one path a write tool would write (given: what the client named) */
static int
guard_check(struct sshcall *call, sftp_session sftp, const char *given,
    const char *path, char *err)
{
	struct host			*h = call->host->conf;
	const struct policy_view	*v;

	if (!policy_write_guarded(h))
		return 0;
	if ((v = view_get(call, sftp, err)) == NULL)
		return -1;
	return policy_write_check(h, call->tool, path, given, v, err, ERRSZ);
}

/*
 * The last look before a write tool replaces path (resolved already):
 * 0, or -1 with the refusal in err.  Nothing on the host is asked but
 * what the first write check on this connection found.
 */
int
sshpolicy_write_ok(struct sshcall *call, sftp_session sftp, const char *path,
    char *err)
{
	if (call->host->conf == NULL)
		return 0;
	return guard_check(call, sftp, NULL, path, err);
}

/*
 * Glob with an absolute pattern: the root is its literal leading
 * directories (as ssh_fsearch.c reads them); resolve it and turn the call
 * into path = resolved root, pattern = the rest.
 */
static int
glob_root(struct sshcall *call, sftp_session sftp, const char *base,
    char *err)
{
	json_t		*v;
	const char	*pat, *last;
	char		 root[PATH_MAX];

	v = json_object_get(call->args, "pattern");
	if (!json_is_string(v) || (pat = json_string_value(v))[0] != '/')
		return 0;
	last = policy_glob_root(pat);
	if ((size_t)(last - pat) >= sizeof(root)) {
		snprintf(err, ERRSZ, "pattern is too long");
		return -1;
	}
	if (last == pat)
		strlcpy(root, "/", sizeof(root));
	else
		snprintf(root, sizeof(root), "%.*s", (int)(last - pat), pat);
	json_object_set_new(call->args, "path", json_string(root));
	json_object_set_new(call->args, "pattern", json_string(last + 1));
	return resolve_arg(call, sftp, base, call->args, "path", R_READ, err);
}

/*
 * Before a file tool acts.  0: go on with the resolved arguments; -1:
 * refused and answered.  Hosts without a base dir only get the overwrite
 * and exec protections.
 */
int
sshpolicy_resolve(struct sshcall *call)
{
	struct sshhost	*host = call->host;
	struct host	*h = host->conf;
	ssh_session	 s = call->conn != NULL ? call->conn->session : NULL;
	uint32_t	 connid = call->conn != NULL ? call->conn->id : 0;
	sftp_session	 sftp;
	const char	*t = call->tool;
	char		 err[ERRSZ] = "", *canon, base[PATH_MAX];
	int		 was, rc = 0;

	if (h == NULL || s == NULL || !json_is_object(call->args))
		return 0;	/* the tool answers "not connected" */
	if (h->base_dir[0] == '\0' && (h->protect & PROTECT_OVERWRITE) == 0 &&
	    !(write_tool(t) && policy_write_guarded(h)))
		return 0;
	known_reset();
	was = files_block(s);
	if ((sftp = files_sftp(call, err)) == NULL) {
		rc = -1;
		goto done;
	}
	if (h->base_dir[0] != '\0' && strcmp(t, "Read") == 0 &&
	    (rc = resolve_read_fast(call, sftp, err)) != 0) {
		if (rc == 1)
			rc = 0;
		goto done;
	}
	base[0] = '\0';
	if (h->base_dir[0] != '\0') {
		if ((canon = sftp_canonicalize_path(sftp,
		    h->base_dir)) == NULL) {
			snprintf(err, ERRSZ, "base dir %s cannot be resolved "
			    "on host \"%s\": %s (bridged.conf line %d)",
			    h->base_dir, h->name, fx_str(sftp),
			    h->base_dir_line);
			rc = -1;
			goto done;
		}
		strlcpy(base, canon, sizeof(base));
		ssh_string_free_char(canon);
	}

	if (strcmp(t, "Read") == 0 || strcmp(t, "Edit") == 0 ||
	    strcmp(t, "MultiEdit") == 0)
		rc = resolve_arg(call, sftp, base, call->args, "file_path",
		    R_READ, err);
	else if (strcmp(t, "Write") == 0)
		rc = resolve_arg(call, sftp, base, call->args, "file_path",
		    R_WRITE, err);
	else if (strcmp(t, "Upload") == 0)
		rc = resolve_arg(call, sftp, base, call->args, "remote_path",
		    R_WRITE, err);
	else if (strcmp(t, "Download") == 0)
		rc = resolve_arg(call, sftp, base, call->args, "remote_path",
		    R_READ, err);
	else if (strcmp(t, "ListDir") == 0 || strcmp(t, "Grep") == 0)
		rc = resolve_arg(call, sftp, base, call->args, "path", R_READ,
		    err);
	else if (strcmp(t, "Glob") == 0) {
		rc = resolve_arg(call, sftp, base, call->args, "path", R_READ,
		    err);
		if (rc == 0)
			rc = glob_root(call, sftp, base, err);
	} else if (strcmp(t, "MultiRead") == 0)
		rc = resolve_many(call, sftp, base, json_object_get(call->args,
		    "files"), R_READ, err);
	else if (strcmp(t, "FileStat") == 0)
		rc = resolve_many(call, sftp, base, json_object_get(call->args,
		    "paths"), R_LSTAT, err);
 done:
	files_unblock(connid, was);
	if (rc == -1) {
		log_warnx("call %u (%s) refused by the ssh worker: %s",
		    call->reqid, call->tool, err);
		sshcall_text(call, 1, "%s", err);
	}
	files_checklost(connid);
	return rc;
}
