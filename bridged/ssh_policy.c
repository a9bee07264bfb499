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
		    const char *, enum rmode, char *, char *);
static int	 resolve_arg(struct sshcall *, sftp_session, const char *,
		    json_t *, const char *, enum rmode, char *);
static int	 glob_root(struct sshcall *, sftp_session, const char *,
		    char *);

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
 */
static int
resolve(struct sshcall *call, sftp_session sftp, const char *base,
    const char *path, enum rmode mode, char *out, char *err)
{
	struct host	*h = call->host->conf;
	sftp_attributes	 a;
	char		*canon, parent[PATH_MAX], *slash;
	const char	*leaf;
	int		 type = 0, exists;

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
	if (resolve(call, sftp, base, norm, mode, out, err) == -1)
		return -1;
	json_object_set_new(obj, name, json_string(out));
	return 0;
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
 * protection.
 */
int
sshpolicy_resolve(struct sshcall *call)
{
	struct sshhost	*host = call->host;
	struct host	*h = host->conf;
	ssh_session	 s = call->conn != NULL ? call->conn->session : NULL;
	uint32_t	 connid = call->conn != NULL ? call->conn->id : 0;
	sftp_session	 sftp;
	json_t		*arr, *e;
	const char	*t = call->tool;
	char		 err[ERRSZ] = "", *canon, base[PATH_MAX];
	size_t		 i;
	int		 was, rc = 0;

	if (h == NULL || s == NULL || !json_is_object(call->args))
		return 0;	/* the tool answers "not connected" */
	if (h->base_dir[0] == '\0' && (h->protect & PROTECT_OVERWRITE) == 0)
		return 0;
	was = files_block(s);
	if ((sftp = files_sftp(call, err)) == NULL) {
		rc = -1;
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
	} else if (strcmp(t, "MultiRead") == 0 ||
	    strcmp(t, "FileStat") == 0) {
		arr = json_object_get(call->args, t[0] == 'M' ? "files" :
		    "paths");
		json_array_foreach(arr, i, e) {
			json_t	*o;

			if (json_is_object(e)) {
				rc = resolve_arg(call, sftp, base, e,
				    "file_path", R_READ, err);
			} else {
				/* a bare path: resolve it in a holder */
				o = json_pack("{s:O}", "p", e);
				rc = resolve_arg(call, sftp, base, o, "p",
				    t[0] == 'M' ? R_READ : R_LSTAT, err);
				if (rc == 0)
					json_array_set(arr, i,
					    json_object_get(o, "p"));
				json_decref(o);
			}
			if (rc == -1)
				break;
		}
	}
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
