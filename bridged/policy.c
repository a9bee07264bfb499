/*
 * policy.c: the one policy for every tool that reaches a host.
 *
 * Pure functions: no I/O, no globals but constant tables.  The frontend
 * calls policy_call_check() before a call leaves it; the ssh worker calls
 * the same function again when the call arrives (a compromised frontend
 * must not be enough), then resolves the paths on the remote side
 * (sshpolicy.c), which is the part only it can do.
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
 */

#include <sys/types.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "bridged.h"
#include "policy.h"
#include "sha256.h"

#define SHOW_MAX	160	/* bytes of a client's string in a message */

static void	 show(const char *, size_t, char *, size_t);
static int	 perr(char *, size_t, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static int	 words_add(struct policy_words *, const char *, size_t);
static int	 is_deleter(const char *);
static int	 arg_path(const struct host *, const char *, json_t *,
		    const char *, int, char *, size_t);
static int	 glob_check(const struct host *, json_t *, char *, size_t);
static const char *allow_list(const struct host *, char *, size_t);
static size_t	 redact_at(const char *, size_t, size_t, size_t *);
static json_t	*redact_value(json_t *);

/* programs whose only job is to delete or destroy file contents */
static const char *deleters[] = {
	"rm", "unlink", "rmdir", "shred", "truncate", "dd", "srm", "wipe",
	NULL
};

/*
 * Prompt-injection phrases and fake markup, lowercase, whitespace already
 * collapsed to single spaces.  A hit only adds a warning to the result.
 */
static const char *scan_builtin[] = {
	"ignore previous instructions",
	"ignore all previous instructions",
	"ignore the previous instructions",
	"ignore prior instructions",
	"ignore all prior instructions",
	"ignore the above instructions",
	"ignore all the above",
	"ignore your instructions",
	"ignore your previous instructions",
	"disregard previous instructions",
	"disregard all previous",
	"disregard the above",
	"disregard your instructions",
	"disregard prior instructions",
	"forget previous instructions",
	"forget all previous instructions",
	"forget your instructions",
	"forget everything above",
	"override your instructions",
	"new instructions:",
	"your new instructions are",
	"you are now in developer mode",
	"system prompt:",
	"<system>",
	"</system>",
	"<system-reminder>",
	"<|system|>",
	"<|im_start|>",
	"<|im_end|>",
	"<|endoftext|>",
	"[inst]",
	"<<sys>>",
	"<function_calls>",
	"</function_calls>",
	"<invoke name=",
	"<tool_use>",
	"<tool_call>",
	"<tool_result>",
	"\"type\":\"tool_use\"",
	"\"type\": \"tool_use\"",
	NULL
};

/* ---- small pieces ---------------------------------------------------- */

static int
perr(char *err, size_t errsz, const char *fmt, ...)
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
static void
show(const char *s, size_t len, char *out, size_t outsz)
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
		return perr(err, errsz, "no room for a path");
	if (len == 0)
		return perr(err, errsz, "the path is empty");
	if (memchr(path, '\0', len) != NULL)
		return perr(err, errsz, "the path contains a NUL byte");
	show(path, len, shown, sizeof(shown));
	if (path[0] != '/' && (base == NULL || base[0] != '/'))
		return perr(err, errsz, "\"%s\" is relative and the host has "
		    "no base dir; give an absolute path", shown);

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
				return perr(err, errsz, "\"%s\" is too long",
				    shown);
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
		return perr(err, errsz, "base dir: %s", e);
	if (policy_path_norm(path, len, base, out, outsz, e, sizeof(e)) == -1)
		return perr(err, errsz, "%s: %s", what, e);
	if (!policy_path_within(base, out)) {
		show(path, len, shown, sizeof(shown));
		return perr(err, errsz, "%s \"%s\" is outside the base dir %s "
		    "of host \"%s\" (rule: base dir, bridged.conf line %d)",
		    what, shown, base, h->name, h->base_dir_line);
	}
	return 0;
}

/* ---- exec ------------------------------------------------------------ */

static int
words_add(struct policy_words *pw, const char *s, size_t len)
{
	char	**nw;

	if ((nw = reallocarray(pw->w, pw->n + 2, sizeof(*nw))) == NULL)
		return -1;
	pw->w = nw;
	if ((pw->w[pw->n] = strndup(s, len)) == NULL)
		return -1;
	pw->n++;
	pw->w[pw->n] = NULL;
	return 0;
}

void
policy_words_free(struct policy_words *pw)
{
	size_t	 i;

	for (i = 0; i < pw->n; i++)
		free(pw->w[i]);
	free(pw->w);
	pw->w = NULL;
	pw->n = 0;
}

/*
 * Take a command apart into literal words, or refuse it.  Accepted: words
 * separated by blanks, with '...' (anything but ') and "..." (anything
 * but $ ` \) quoting.  Refused: every shell operator and expansion
 * outside quotes (; & | < > ( ) $ ` \ newline), globs (* ? [), a word
 * starting with ~ or #, control characters, an unterminated quote.  The
 * words are run re-quoted, so nothing in them is ever expanded: refusing
 * what would be expanded avoids surprises rather than holes.
 */
int
policy_exec_parse(const char *cmd, size_t len, struct policy_words *pw,
    char *err, size_t errsz)
{
	char	*buf;
	size_t	 i, n = 0;
	int	 inword = 0, q = 0, rc = -1;
	unsigned char c;

	memset(pw, 0, sizeof(*pw));
	if (memchr(cmd, '\0', len) != NULL)
		return perr(err, errsz, "the command contains a NUL byte");
	if ((buf = malloc(len + 1)) == NULL)
		return perr(err, errsz, "out of memory");
	for (i = 0; i < len; i++) {
		c = cmd[i];
		if (q == '\'') {
			if (c == '\'')
				q = 0;
			else
				buf[n++] = c;
			continue;
		}
		if (q == '"') {
			if (c == '"')
				q = 0;
			else if (c == '$' || c == '`' || c == '\\') {
				perr(err, errsz, "'%c' inside double quotes "
				    "(it would expand; use single quotes)", c);
				goto done;
			} else
				buf[n++] = c;
			continue;
		}
		if (c == ' ' || c == '\t') {
			if (inword && words_add(pw, buf, n) == -1) {
				perr(err, errsz, "out of memory");
				goto done;
			}
			inword = 0;
			n = 0;
			continue;
		}
		if (c == '\n' || c == '\r') {
			perr(err, errsz, "a line break (one command per call)");
			goto done;
		}
		if (c < 0x20 || c == 0x7f) {
			perr(err, errsz, "control character 0x%02x", c);
			goto done;
		}
		if (strchr(";&|<>()$`\\", c) != NULL) {
			perr(err, errsz, "shell operator '%c'", c);
			goto done;
		}
		if (strchr("*?[", c) != NULL) {
			perr(err, errsz, "glob character '%c' (nothing is "
			    "expanded; quote it to pass it as it is)", c);
			goto done;
		}
		if (!inword && (c == '~' || c == '#')) {
			perr(err, errsz, "a word starting with '%c' (nothing "
			    "is expanded; quote it to pass it as it is)", c);
			goto done;
		}
		inword = 1;
		if (c == '\'' || c == '"')
			q = c;
		else
			buf[n++] = c;
	}
	if (q != 0) {
		perr(err, errsz, "an unterminated %s quote",
		    q == '\'' ? "single" : "double");
		goto done;
	}
	if (inword && words_add(pw, buf, n) == -1) {
		perr(err, errsz, "out of memory");
		goto done;
	}
	if (pw->n == 0) {
		perr(err, errsz, "the command is empty");
		goto done;
	}
	rc = 0;
 done:
	free(buf);
	if (rc == -1)
		policy_words_free(pw);
	return rc;
}

/* "git, make" for messages */
static const char *
allow_list(const struct host *h, char *buf, size_t bufsz)
{
	struct strentry	*se;

	buf[0] = '\0';
	TAILQ_FOREACH(se, &h->exec_allow, entry) {
		if (buf[0] != '\0')
			strlcat(buf, ", ", bufsz);
		strlcat(buf, se->s, bufsz);
	}
	if (buf[0] == '\0')
		strlcpy(buf, "(none)", bufsz);
	return buf;
}

/*
 * The exec allowlist.  Without one, 0 (any command).  With one, the
 * command must parse as literal words and its first word must be exactly
 * a listed entry: "rm" does not allow "/bin/rm", nor "/bin/rm" "rm".
 * The words are left in pw (when not NULL) for the worker to run.
 */
int
policy_exec_check(const struct host *h, const char *cmd, size_t len,
    struct policy_words *pw, char *err, size_t errsz)
{
	struct policy_words	 w;
	struct strentry		*se;
	char			 e[POLICY_ERR_MAX], list[512];
	char			 shown[SHOW_MAX + 8];

	if (pw != NULL)
		memset(pw, 0, sizeof(*pw));
	if (!h->has_exec_allow)
		return 0;
	if (policy_exec_parse(cmd, len, &w, e, sizeof(e)) == -1)
		return perr(err, errsz, "command refused: %s; host \"%s\" "
		    "runs only a single program with literal arguments "
		    "(rule: exec allow, bridged.conf line %d)", e, h->name,
		    h->exec_allow_line);
	if (strchr(w.w[0], '=') != NULL) {
		show(w.w[0], strlen(w.w[0]), shown, sizeof(shown));
		policy_words_free(&w);
		return perr(err, errsz, "command refused: \"%s\" is an "
		    "environment assignment, not a program (rule: exec allow, "
		    "bridged.conf line %d)", shown, h->exec_allow_line);
	}
	TAILQ_FOREACH(se, &h->exec_allow, entry)
		if (strcmp(se->s, w.w[0]) == 0)
			break;
	if (se == NULL) {
		show(w.w[0], strlen(w.w[0]), shown, sizeof(shown));
		policy_words_free(&w);
		return perr(err, errsz, "command refused: program \"%s\" is "
		    "not in the exec allow list of host \"%s\" (allowed: %s; "
		    "rule: exec allow, bridged.conf line %d)", shown, h->name,
		    allow_list(h, list, sizeof(list)), h->exec_allow_line);
	}
	if (pw != NULL)
		*pw = w;
	else
		policy_words_free(&w);
	return 0;
}

static int
is_deleter(const char *word)
{
	const char	*b;
	size_t		 i;

	b = strrchr(word, '/');
	b = b != NULL ? b + 1 : word;
	for (i = 0; deleters[i] != NULL; i++)
		if (strcmp(b, deleters[i]) == 0)
			return 1;
	return 0;
}

/*
 * protect delete for Bash.  Words are taken loosely (blanks and shell
 * operators separate them, quotes and backslashes are dropped), and any
 * word naming a deleting program, or find with -delete, refuses the
 * command.  A free shell can hide a name ($(printf r)m); that is why
 * this is best effort unless exec allow is set too.
 */
int
policy_delete_check(const struct host *h, const char *cmd, size_t len,
    char *err, size_t errsz)
{
	char	 w[256];
	size_t	 i, n = 0;
	int	 find = 0, del = 0, trunc = 0;
	const char *hit = NULL;

	if ((h->protect & PROTECT_DELETE) == 0)
		return 0;
	for (i = 0; i <= len && hit == NULL; i++) {
		unsigned char c = i < len ? cmd[i] : ' ';

		if (c == '\'' || c == '"' || c == '\\')
			continue;
		if (c == '\0' || isspace(c) || strchr(";&|()<>`${}", c)) {
			if (n > 0) {
				w[n] = '\0';
				if (trunc)
					;
				else if (is_deleter(w))
					hit = w;
				else if (strcmp(w, "find") == 0 ||
				    (strrchr(w, '/') != NULL &&
				    strcmp(strrchr(w, '/'), "/find") == 0))
					find = 1;
				else if (strcmp(w, "-delete") == 0)
					del = 1;
			}
			n = 0;
			trunc = 0;
			continue;
		}
		if (n + 1 < sizeof(w))
			w[n++] = c;
		else
			trunc = 1;	/* a very long word names no program */
	}
	if (hit != NULL)
		return perr(err, errsz, "command refused: it runs \"%s\", and "
		    "host \"%s\" protects against deletion (rule: protect "
		    "delete, bridged.conf line %d)", hit, h->name,
		    h->protect_line);
	if (find && del)
		return perr(err, errsz, "command refused: find -delete, and "
		    "host \"%s\" protects against deletion (rule: protect "
		    "delete, bridged.conf line %d)", h->name, h->protect_line);
	return 0;
}

/* ---- a whole call ---------------------------------------------------- */

/* one path argument; absent is fine unless required */
static int
arg_path(const struct host *h, const char *tool, json_t *obj,
    const char *name, int required, char *err, size_t errsz)
{
	json_t	*v;
	char	 out[PATH_MAX], what[128];

	if ((v = json_object_get(obj, name)) == NULL) {
		if (required)
			return perr(err, errsz, "%s: \"%s\" is required", tool,
			    name);
		return 0;
	}
	if (!json_is_string(v))
		return perr(err, errsz, "%s: \"%s\" must be a string", tool,
		    name);
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
	const char	*pat, *p, *last;
	char		 out[PATH_MAX];
	size_t		 len, i, j;

	if ((v = json_object_get(args, "pattern")) == NULL)
		return 0;
	if (!json_is_string(v))
		return perr(err, errsz, "Glob: \"pattern\" must be a string");
	pat = json_string_value(v);
	len = json_string_length(v);
	if (memchr(pat, '\0', len) != NULL)
		return perr(err, errsz, "Glob: the pattern contains a NUL "
		    "byte");
	for (i = 0; i < len; i = j + 1) {
		for (j = i; j < len && pat[j] != '/'; j++)
			;
		if (j - i == 2 && pat[i] == '.' && pat[i + 1] == '.')
			return perr(err, errsz, "Glob: \"..\" in a pattern "
			    "is not allowed (rule: base dir, bridged.conf "
			    "line %d)", h->base_dir_line);
	}
	if (pat[0] != '/')
		return 0;
	last = pat;
	for (p = pat; *p != '\0' && strchr("*?[{\\", *p) == NULL; p++)
		if (*p == '/')
			last = p;
	if (*p == '\0')
		last = strrchr(pat, '/');
	return policy_path_check(h, "Glob: pattern root", pat,
	    last == pat ? 1 : (size_t)(last - pat), out, sizeof(out), err,
	    errsz);
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
		return perr(err, errsz, "%s: the arguments are not an object",
		    tool);
	if (strcmp(tool, "Read") == 0 || strcmp(tool, "Write") == 0 ||
	    strcmp(tool, "Edit") == 0 || strcmp(tool, "MultiEdit") == 0)
		return arg_path(h, tool, args, "file_path", 1, err, errsz);
	if (strcmp(tool, "ListDir") == 0)
		return arg_path(h, tool, args, "path", 1, err, errsz);
	if (strcmp(tool, "Grep") == 0)
		return arg_path(h, tool, args, "path", 0, err, errsz);
	if (strcmp(tool, "Glob") == 0) {
		if (arg_path(h, tool, args, "path", 0, err, errsz) == -1)
			return -1;
		return glob_check(h, args, err, errsz);
	}
	if (strcmp(tool, "Download") == 0)
		return arg_path(h, tool, args, "remote_path", 1, err, errsz);
	if (strcmp(tool, "Upload") == 0) {
		if (arg_path(h, tool, args, "remote_path", 1, err, errsz) ==
		    -1)
			return -1;
		if ((h->protect & PROTECT_OVERWRITE) &&
		    json_is_true(json_object_get(args, "overwrite")))
			return perr(err, errsz, "Upload: overwrite refused: "
			    "host \"%s\" protects existing files (rule: "
			    "protect overwrite, bridged.conf line %d)",
			    h->name, h->protect_line);
		return 0;
	}
	if (strcmp(tool, "MultiRead") == 0 || strcmp(tool, "FileStat") == 0) {
		v = json_object_get(args, tool[0] == 'M' ? "files" : "paths");
		if (!json_is_array(v))
			return perr(err, errsz, "%s: \"%s\" must be an array",
			    tool, tool[0] == 'M' ? "files" : "paths");
		json_array_foreach(v, i, e) {
			snprintf(what, sizeof(what), "%s: path %zu", tool,
			    i + 1);
			if (json_is_object(e))
				e = json_object_get(e, "file_path");
			if (!json_is_string(e))
				return perr(err, errsz, "%s is not a string",
				    what);
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
			return perr(err, errsz, "Bash: \"command\" must be a "
			    "string");
		s = json_string_value(v);
		if (policy_exec_check(h, s, json_string_length(v), NULL, err,
		    errsz) == -1)
			return -1;
		return policy_delete_check(h, s, json_string_length(v), err,
		    errsz);
	}
	if (strcmp(tool, "ask_claude") == 0) {
		if (arg_path(h, tool, args, "cwd", 0, err, errsz) == -1 ||
		    arg_path(h, tool, args, "working_directory", 0, err,
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
	struct tm	 tm;
	char		 when[32];
	time_t		 reopen;

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
	if (h->quota_day != 0 && q->day_n >= h->quota_day) {
		reopen = q->day_start + 86400;
		gmtime_r(&reopen, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		return perr(err, errsz, "quota: host \"%s\" allows %u calls "
		    "per day and they are used up; the window reopens at %s "
		    "(in %lld s) (rule: quota per day, bridged.conf line %d)",
		    h->name, h->quota_day, when, (long long)(reopen - now),
		    h->quota_day_line);
	}
	if (h->quota_minute != 0 && q->min_n >= h->quota_minute) {
		reopen = q->min_start + 60;
		gmtime_r(&reopen, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		return perr(err, errsz, "quota: host \"%s\" allows %u calls "
		    "per minute and they are used up; the window reopens at "
		    "%s (in %lld s) (rule: quota per minute, bridged.conf "
		    "line %d)", h->name, h->quota_minute, when,
		    (long long)(reopen - now), h->quota_minute_line);
	}
	q->min_n++;
	q->day_n++;
	return 0;
}

/* ---- output scanning ------------------------------------------------- */

/*
 * The first built-in or configured pattern found in text, or NULL.  Case
 * is ignored and every run of whitespace counts as one space, so line
 * breaks and padding do not hide a phrase.
 */
const char *
policy_scan(const char *text, size_t len, const struct strlist *extra)
{
	struct strentry	*se;
	const char	*hit = NULL;
	char		*t, *pat;
	size_t		 i, n = 0, k, pn;
	int		 sp = 0;

	if ((t = malloc(len + 1)) == NULL)
		return "(not scanned: out of memory)";
	for (i = 0; i < len; i++) {
		unsigned char c = text[i];

		if (isspace(c) || c == '\0') {
			sp = 1;
			continue;
		}
		if (sp && n > 0)
			t[n++] = ' ';
		sp = 0;
		t[n++] = tolower(c);
	}
	t[n] = '\0';
	for (i = 0; scan_builtin[i] != NULL && hit == NULL; i++)
		if (strstr(t, scan_builtin[i]) != NULL)
			hit = scan_builtin[i];
	if (hit == NULL && extra != NULL) {
		TAILQ_FOREACH(se, extra, entry) {
			pn = strlen(se->s);
			if ((pat = malloc(pn + 1)) == NULL)
				break;
			/* the same folding as the text */
			for (i = 0, k = 0, sp = 0; i < pn; i++) {
				unsigned char c = se->s[i];

				if (isspace(c)) {
					sp = 1;
					continue;
				}
				if (sp && k > 0)
					pat[k++] = ' ';
				sp = 0;
				pat[k++] = tolower(c);
			}
			pat[k] = '\0';
			if (k > 0 && strstr(t, pat) != NULL)
				hit = se->s;
			free(pat);
			if (hit != NULL)
				break;
		}
	}
	free(t);
	return hit;
}

/* ---- redaction ------------------------------------------------------- */

static int
tokchar(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '-';
}

static size_t
span(const char *s, size_t len, size_t i, int (*ok)(unsigned char))
{
	size_t	 j = i;

	while (j < len && ok((unsigned char)s[j]))
		j++;
	return j - i;
}

static int
b64urlchar(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '-' || c == '=';
}

static int
upalnum(unsigned char c)
{
	return isupper(c) || isdigit(c);
}

static int
keychar(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '-' || c == '.';
}

static int
valchar(unsigned char c)
{
	return c > 0x20 && c != '"' && c != '\'' && c != '&' && c != ';' &&
	    c != ',' && c != '}' && c != 0x7f;
}

/* key names whose value is a secret; matched as the end of the key */
static const char *secret_keys[] = {
	"password", "passwd", "passphrase", "token", "secret", "apikey",
	"api_key", "api-key", "access_key", "accesskey", "private_key",
	"privatekey", "credential", "credentials", "authorization", "cookie",
	NULL
};

static int
key_secret(const char *s, size_t len)
{
	char	 k[64];
	size_t	 i, kl;

	if (len == 0 || len >= sizeof(k))
		return 0;
	for (i = 0; i < len; i++)
		k[i] = tolower((unsigned char)s[i]);
	k[len] = '\0';
	for (i = 0; secret_keys[i] != NULL; i++) {
		kl = strlen(secret_keys[i]);
		if (len >= kl && strcmp(k + len - kl, secret_keys[i]) == 0)
			return 1;
	}
	return 0;
}

/*
 * A secret starting at s[i]?  Returns the number of bytes to replace
 * (0: none) and in *keep how many of them to keep in front (a key name,
 * "Bearer ").
 */
static size_t
redact_at(const char *s, size_t len, size_t i, size_t *keep)
{
	static const char	*prefixes[] = { "ghp_", "gho_", "ghu_", "ghs_",
				    "ghr_", "github_pat_", "glpat-", "xoxb-",
				    "xoxa-", "xoxp-", "xoxr-", "xoxs-",
				    "xapp-", "sk-", "rk_live_", "sk_live_",
				    "npm_", NULL };
	const char	*p = s + i, *e;
	size_t		 n, k, j, a, b;

	*keep = 0;
	/* private key blocks, to their end (or the end of the text) */
	if (len - i > 11 && strncmp(p, "-----BEGIN ", 11) == 0) {
		e = memchr(p, '\n', len - i);
		n = e ? (size_t)(e - p) : len - i;
		if (memmem(p, n, "PRIVATE KEY-----", 16) != NULL) {
			e = memmem(p, len - i, "-----END ", 9);
			if (e != NULL && (e = memmem(e + 9, len - (e + 9 - s),
			    "-----", 5)) != NULL)
				return e + 5 - p;
			return len - i;
		}
	}
	if (i > 0 && tokchar((unsigned char)s[i - 1]))
		goto keyval;
	for (k = 0; prefixes[k] != NULL; k++) {
		n = strlen(prefixes[k]);
		if (len - i > n && strncmp(p, prefixes[k], n) == 0 &&
		    span(s, len, i + n, tokchar) >= 16)
			return n + span(s, len, i + n, tokchar);
	}
	if (len - i >= 20 && (strncmp(p, "AKIA", 4) == 0 ||
	    strncmp(p, "ASIA", 4) == 0) && span(s, len, i + 4, upalnum) >= 16)
		return 4 + span(s, len, i + 4, upalnum);
	if (len - i > 39 && strncmp(p, "AIza", 4) == 0 &&
	    span(s, len, i + 4, tokchar) >= 35)
		return 4 + span(s, len, i + 4, tokchar);
	/* JSON Web Tokens: three base64url parts, the first two JSON */
	if (len - i > 20 && strncmp(p, "eyJ", 3) == 0) {
		a = span(s, len, i, b64urlchar);
		if (a >= 10 && i + a < len && s[i + a] == '.') {
			b = span(s, len, i + a + 1, b64urlchar);
			if (b >= 2 && i + a + 1 + b < len &&
			    s[i + a + 1 + b] == '.')
				return a + 2 + b +
				    span(s, len, i + a + 2 + b, b64urlchar);
		}
	}
	if (len - i > 7 && strncasecmp(p, "bearer ", 7) == 0 &&
	    span(s, len, i + 7, valchar) >= 8) {
		*keep = 7;
		return 7 + span(s, len, i + 7, valchar);
	}
 keyval:
	/* KEY=value, KEY: value, "KEY": "value", --KEY value */
	if (!keychar((unsigned char)*p) || (i > 0 &&
	    keychar((unsigned char)s[i - 1])))
		return 0;
	n = span(s, len, i, keychar);
	k = 0;
	if (p[0] == '-') {
		/* --password VALUE; a single dash is no key */
		if (n < 3 || p[1] != '-')
			return 0;
		k = 2;
	}
	if (!key_secret(p + k, n - k))
		return 0;
	j = i + n;
	if (j < len && (s[j] == '"' || s[j] == '\''))
		j++;
	while (j < len && s[j] == ' ')
		j++;
	if (j < len && (s[j] == '=' || s[j] == ':'))
		j++;
	else if (k == 0 || j == i + n)
		return 0;	/* a flag needs its blank; a key its = or : */
	while (j < len && (s[j] == ' ' || s[j] == '\t'))
		j++;
	if (j < len && (s[j] == '"' || s[j] == '\'')) {
		e = memchr(s + j + 1, s[j], len - j - 1);
		*keep = j + 1 - i;
		n = e ? (size_t)(e - (s + j + 1)) : len - j - 1;
		return n > 0 ? *keep + n : 0;
	}
	/* "Authorization: Bearer TOKEN": the scheme stays, the token goes */
	if (len - j > 7 && strncasecmp(s + j, "bearer ", 7) == 0)
		j += 7;
	else if (len - j > 6 && strncasecmp(s + j, "basic ", 6) == 0)
		j += 6;
	*keep = j - i;
	n = span(s, len, j, valchar);
	return n > 0 ? *keep + n : 0;
}

/* text with every secret replaced by [REDACTED]; NUL-terminated, malloc */
char *
policy_redact(const char *s, size_t len)
{
	char	*out, *no;
	size_t	 i = 0, o = 0, size = len + 1, n, keep;

	if ((out = malloc(size)) == NULL)
		return NULL;
	while (i < len) {
		if ((n = redact_at(s, len, i, &keep)) > 0) {
			if (o + keep + 11 > size) {
				size = o + keep + 11 + (len - i) + 1;
				if ((no = realloc(out, size)) == NULL) {
					free(out);
					return NULL;
				}
				out = no;
			}
			memcpy(out + o, s + i, keep);
			o += keep;
			memcpy(out + o, "[REDACTED]", 10);
			o += 10;
			i += n;
			continue;
		}
		if (o + 2 > size) {
			size = size * 2;
			if ((no = realloc(out, size)) == NULL) {
				free(out);
				return NULL;
			}
			out = no;
		}
		out[o++] = s[i++];
	}
	out[o] = '\0';
	return out;
}

static json_t *
redact_value(json_t *v)
{
	json_t		*c, *e;
	const char	*k;
	char		*r;
	size_t		 i;

	switch (json_typeof(v)) {
	case JSON_STRING:
		if ((r = policy_redact(json_string_value(v),
		    json_string_length(v))) == NULL)
			return json_string("[REDACTED: out of memory]");
		c = json_stringn_nocheck(r, strlen(r));
		free(r);
		return c;
	case JSON_ARRAY:
		c = json_array();
		json_array_foreach(v, i, e)
			json_array_append_new(c, redact_value(e));
		return c;
	case JSON_OBJECT:
		c = json_object();
		json_object_foreach(v, k, e)
			json_object_set_new(c, k, redact_value(e));
		return c;
	default:
		return json_deep_copy(v);
	}
}

/*
 * A copy of a call's arguments fit for the audit log: secrets redacted
 * everywhere, and what Write writes replaced by its size and SHA-256.
 */
json_t *
policy_redact_args(const char *tool, json_t *args)
{
	json_t	*c, *v;
	char	 hex[SHA256_HEXLEN], desc[128];

	if (args == NULL)
		return json_null();
	c = redact_value(args);
	if (c != NULL && json_is_object(args) && strcmp(tool, "Write") == 0 &&
	    json_is_string(v = json_object_get(args, "content"))) {
		sha256_hex(json_string_value(v), json_string_length(v), hex);
		snprintf(desc, sizeof(desc), "[%zu bytes, sha256 %s]",
		    json_string_length(v), hex);
		json_object_set_new(c, "content", json_string(desc));
	}
	return c;
}
