/*
 * policy.c: the one policy for every tool that reaches a host.
 *
 * Pure functions: no I/O, no globals but constant tables.  The frontend
 * calls policy_call_check() before a call leaves it; the ssh worker calls
 * the same function again when the call arrives (a compromised frontend
 * must not be enough), then resolves the paths on the remote side
 * (ssh_policy.c), which is the part only it can do.
 *
 * Rules, each named in its refusals together with its bridged.conf line:
 *   base dir	every remote path lies inside it, after lexical
 *		normalisation here and symlink resolution on the remote;
 *   exec allow	a command is a simple command of literal words whose
 *		first word is listed exactly; the worker then runs the
 *		words re-quoted, so the shell sees nothing but words;
 *   protect	overwrite: no replacing an existing file; delete: no
 *		deleting programs named in a command (best effort for a
 *		free shell, sound together with exec allow);
 *   quota	calls per minute and per day, with the reopen time.
 * and two things that never refuse: output scanning for prompt injection
 * and redaction of secrets for the audit log.
 *
 * This file has the paths, the checks of a whole call and the quotas;
 * policyexec.c the commands (exec allow, protect delete); policyscan.c
 * the scanning and the redaction.
 */

#include <sys/types.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "bridged.h"
#include "policy.h"
#include "policyint.h"

static int	 policy_arg_path(const struct host *, const char *, json_t *,
		    const char *, int, char *, size_t);
static int	 glob_check(const struct host *, json_t *, char *, size_t);
static int	 quota_used(const struct host *, const char *, uint32_t, int,
		    time_t, time_t, char *, size_t);

/* ---- small pieces ---------------------------------------------------- */

int
policy_err(char *err, size_t errsz, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * A client's string made safe to put in a message: printable ASCII, the
 * rest as '?', cut at SHOW_MAX.  Messages go back as JSON and into logs.
 */
void
policy_show(const char *s, size_t len, char *out, size_t outsz)
{
	size_t	 i, o = 0;

	for (i = 0; i < len && o + 4 < outsz && i < SHOW_MAX; i++)
		out[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (i < len && o + 4 < outsz) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* ---- paths ----------------------------------------------------------- */

/*
 * Lexical normalisation: a relative path is taken relative to base (and
 * refused without one); "//", "." and trailing slashes go; ".." removes
 * the component before it ("/.." is "/").  A NUL inside is refused: the
 * remote side would cut the path there.  0 and the result in out, or -1.
 */
int
policy_path_norm(const char *path, size_t len, const char *base, char *out,
    size_t outsz, char *err, size_t errsz)
{
	char	 shown[SHOW_MAX + 8];
	size_t	 o = 0, i, j, pass, plen;
	const char *p;

	if (outsz < 2)
		return policy_err(err, errsz, "no room for a path");
	if (len == 0)
		return policy_err(err, errsz, "the path is empty");
	if (memchr(path, '\0', len) != NULL)
		return policy_err(err, errsz, "the path contains a NUL byte");
	policy_show(path, len, shown, sizeof(shown));
	if (path[0] != '/' && (base == NULL || base[0] != '/'))
		return policy_err(err, errsz, "\"%s\" is relative and the host "
		    "has no base dir; give an absolute path", shown);

	/* first the base (for a relative path), then the path itself */
	out[o++] = '/';
	for (pass = 0; pass < 2; pass++) {
		if (pass == 0) {
			if (path[0] == '/')
				continue;
			p = base;
			plen = strlen(base);
		} else {
			p = path;
			plen = len;
		}
		for (i = 0; i < plen; i = j) {
			while (i < plen && p[i] == '/')
				i++;
			for (j = i; j < plen && p[j] != '/'; j++)
				;
			if (j == i || (j - i == 1 && p[i] == '.'))
				continue;
			if (j - i == 2 && p[i] == '.' && p[i + 1] == '.') {
				/* back to the slash before the last part */
				while (o > 1 && out[o - 1] != '/')
					o--;
				if (o > 1)
					o--;
				continue;
			}
			if (o > 1)
				out[o++] = '/';
			if (o + (j - i) + 1 > outsz)
				return policy_err(err, errsz, "\"%s\" is too "
				    "long", shown);
			memcpy(out + o, p + i, j - i);
			o += j - i;
		}
	}
	out[o] = '\0';
	return 0;
}

/* is the normalised path the normalised base or below it? */
int
policy_path_within(const char *base, const char *path)
{
	size_t	 bl = strlen(base);

	if (bl == 0)
		return 1;
	if (strcmp(base, "/") == 0)
		return path[0] == '/';
	return strncmp(path, base, bl) == 0 &&
	    (path[bl] == '\0' || path[bl] == '/');
}

/*
 * The check of one path argument (what: its name, for messages): out is
 * the normalised path, inside the host's base dir when it has one.
 */
int
policy_path_check(const struct host *h, const char *what, const char *path,
    size_t len, char *out, size_t outsz, char *err, size_t errsz)
{
	char	 base[PATH_MAX], shown[SHOW_MAX + 8], e[POLICY_ERR_MAX];

	base[0] = '\0';
	if (h->base_dir[0] != '\0' && policy_path_norm(h->base_dir,
	    strlen(h->base_dir), NULL, base, sizeof(base), e, sizeof(e)) == -1)
		return policy_err(err, errsz, "base dir: %s", e);
	if (policy_path_norm(path, len, base, out, outsz, e, sizeof(e)) == -1)
		return policy_err(err, errsz, "%s: %s", what, e);
	if (!policy_path_within(base, out)) {
		policy_show(path, len, shown, sizeof(shown));
		return policy_err(err, errsz, "%s \"%s\" is outside the base "
		    "dir %s of host \"%s\" (rule: base dir, bridged.conf line "
		    "%d)", what, shown, base, h->name, h->base_dir_line);
	}
	return 0;
}

/* ---- a whole call ---------------------------------------------------- */

/* one path argument; absent is fine unless required */
static int
policy_arg_path(const struct host *h, const char *tool, json_t *obj,
    const char *name, int required, char *err, size_t errsz)
{
	json_t	*v;
	char	 out[PATH_MAX], what[128];

	if ((v = json_object_get(obj, name)) == NULL) {
		if (required)
			return policy_err(err, errsz, "%s: \"%s\" is required",
			    tool, name);
		return 0;
	}
	if (!json_is_string(v))
		return policy_err(err, errsz, "%s: \"%s\" must be a string",
		    tool, name);
	snprintf(what, sizeof(what), "%s: %s", tool, name);
	return policy_path_check(h, what, json_string_value(v),
	    json_string_length(v), out, sizeof(out), err, errsz);
}

/*
 * Glob: an absolute pattern's literal leading directories are its root
 * (as the worker reads it), which must be inside base dir; ".." is no
 * pattern component anywhere.
 */
static int
glob_check(const struct host *h, json_t *args, char *err, size_t errsz)
{
	json_t		*v;
	const char	*pat, *last;
	char		 out[PATH_MAX];
	size_t		 len, i, j;

	if ((v = json_object_get(args, "pattern")) == NULL)
		return 0;
	if (!json_is_string(v))
		return policy_err(err, errsz, "Glob: \"pattern\" must be a "
		    "string");
	pat = json_string_value(v);
	len = json_string_length(v);
	if (memchr(pat, '\0', len) != NULL)
		return policy_err(err, errsz, "Glob: the pattern contains a "
		    "NUL byte");
	for (i = 0; i < len; i = j + 1) {
		for (j = i; j < len && pat[j] != '/'; j++)
			;
		if (j - i == 2 && pat[i] == '.' && pat[i + 1] == '.')
			return policy_err(err, errsz, "Glob: \"..\" in a "
			    "pattern is not allowed (rule: base dir, "
			    "bridged.conf line %d)", h->base_dir_line);
	}
	if (pat[0] != '/')
		return 0;
	last = policy_glob_root(pat);
	return policy_path_check(h, "Glob: pattern root", pat,
	    last == pat ? 1 : (size_t)(last - pat), out, sizeof(out), err,
	    errsz);
}

/*
 * The root of an absolute Glob pattern is its literal leading
 * directories: the slash that ends them (pat itself for "/"), as the
 * worker reads it (ssh_fsearch.c).
 */
const char *
policy_glob_root(const char *pat)
{
	const char	*p, *last = pat;

	for (p = pat; *p != '\0' && strchr("*?[{\\", *p) == NULL; p++)
		if (*p == '/')
			last = p;
	if (*p == '\0')
		last = strrchr(pat, '/');
	return last;
}

/*
 * Everything about a call that can be decided without the remote side.
 * 0: allowed; -1: refused, err says by which rule.  Unknown tools pass:
 * their own code decides (the tool table is checked elsewhere).
 */
int
policy_call_check(const struct host *h, const char *tool, json_t *args,
    char *err, size_t errsz)
{
	json_t	*v, *e;
	size_t	 i;
	char	 out[PATH_MAX], what[64];
	const char *s;

	if (!json_is_object(args))
		return policy_err(err, errsz, "%s: the arguments are not an "
		    "object", tool);
	if (strcmp(tool, "Read") == 0 || strcmp(tool, "Write") == 0 ||
	    strcmp(tool, "Edit") == 0 || strcmp(tool, "MultiEdit") == 0)
		return policy_arg_path(h, tool, args, "file_path", 1, err, errsz);
	if (strcmp(tool, "ListDir") == 0)
		return policy_arg_path(h, tool, args, "path", 1, err, errsz);
	if (strcmp(tool, "Grep") == 0)
		return policy_arg_path(h, tool, args, "path", 0, err, errsz);
	if (strcmp(tool, "Glob") == 0) {
		if (policy_arg_path(h, tool, args, "path", 0, err, errsz) == -1)
			return -1;
		return glob_check(h, args, err, errsz);
	}
	if (strcmp(tool, "Download") == 0)
		return policy_arg_path(h, tool, args, "remote_path", 1, err, errsz);
	if (strcmp(tool, "Upload") == 0) {
		if (policy_arg_path(h, tool, args, "remote_path", 1, err, errsz) ==
		    -1)
			return -1;
		if ((h->protect & PROTECT_OVERWRITE) &&
		    json_is_true(json_object_get(args, "overwrite")))
			return policy_err(err, errsz, "Upload: overwrite "
			    "refused: host \"%s\" protects existing files "
			    "(rule: protect overwrite, bridged.conf line %d)",
			    h->name, h->protect_line);
		return 0;
	}
	if (strcmp(tool, "MultiRead") == 0 || strcmp(tool, "FileStat") == 0) {
		v = json_object_get(args, tool[0] == 'M' ? "files" : "paths");
		if (!json_is_array(v))
			return policy_err(err, errsz, "%s: \"%s\" must be an "
			    "array", tool, tool[0] == 'M' ? "files" : "paths");
		json_array_foreach(v, i, e) {
			snprintf(what, sizeof(what), "%s: path %zu", tool,
			    i + 1);
			if (json_is_object(e))
				e = json_object_get(e, "file_path");
			if (!json_is_string(e))
				return policy_err(err, errsz, "%s is not a "
				    "string", what);
			if (policy_path_check(h, what, json_string_value(e),
			    json_string_length(e), out, sizeof(out), err,
			    errsz) == -1)
				return -1;
		}
		return 0;
	}
	if (strcmp(tool, "Bash") == 0) {
		v = json_object_get(args, "command");
		if (!json_is_string(v))
			return policy_err(err, errsz, "Bash: \"command\" must "
			    "be a string");
		s = json_string_value(v);
		if (policy_exec_check(h, s, json_string_length(v), NULL, err,
		    errsz) == -1)
			return -1;
		return policy_delete_check(h, s, json_string_length(v), err,
		    errsz);
	}
	if (strcmp(tool, "ask_claude") == 0) {
		if (policy_arg_path(h, tool, args, "cwd", 0, err, errsz) == -1 ||
		    policy_arg_path(h, tool, args, "working_directory", 0, err,
		    errsz) == -1)
			return -1;
		return 0;
	}
	return 0;
}

/* ---- quotas ---------------------------------------------------------- */

/*
 * Fixed windows: a minute (a day) starts with the first call after the
 * last one ended, so the reopen time is exact and needs no per-call
 * history.  A refused call is not counted.
 */
int
policy_quota_take(struct policy_quota *q, const struct host *h, time_t now,
    char *err, size_t errsz)
{
	if (h->quota_minute != 0 && (q->min_start == 0 ||
	    now - q->min_start >= 60 || now < q->min_start)) {
		q->min_start = now;
		q->min_n = 0;
	}
	if (h->quota_day != 0 && (q->day_start == 0 ||
	    now - q->day_start >= 86400 || now < q->day_start)) {
		q->day_start = now;
		q->day_n = 0;
	}
	if (h->quota_day != 0 && q->day_n >= h->quota_day)
		return quota_used(h, "day", h->quota_day, h->quota_day_line,
		    q->day_start + 86400, now, err, errsz);
	if (h->quota_minute != 0 && q->min_n >= h->quota_minute)
		return quota_used(h, "minute", h->quota_minute,
		    h->quota_minute_line, q->min_start + 60, now, err, errsz);
	q->min_n++;
	q->day_n++;
	return 0;
}

/* the refusal of a used-up window ("per" a day or a minute) */
static int
quota_used(const struct host *h, const char *per, uint32_t limit, int line,
    time_t reopen, time_t now, char *err, size_t errsz)
{
	struct tm	 tm;
	char		 when[32];

	gmtime_r(&reopen, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return policy_err(err, errsz, "quota: host \"%s\" allows %u calls per"
	    " %s and they are used up; the window reopens at %s (in %lld s)"
	    " (rule: quota per %s, bridged.conf line %d)", h->name, limit,
	    per, when, (long long)(reopen - now), per, line);
}
