/*
 * policyexec.c: the policy on commands (policy.c has the rest): the
 * exec allowlist, which takes a command apart into literal words and
 * runs only listed programs, and the delete protection for Bash.
 */

#include <sys/types.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridged.h"
#include "policy.h"
#include "policyint.h"

static int	 words_add(struct policy_words *, const char *, size_t);
static int	 is_deleter(const char *);
static const char *allow_list(const struct host *, char *, size_t);

/* programs whose only job is to delete or destroy file contents */
static const char *deleters[] = {
	"rm", "unlink", "rmdir", "shred", "truncate", "dd", "srm", "wipe",
	NULL
};

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
		return policy_err(err, errsz, "the command contains a NUL "
		    "byte");
	if ((buf = malloc(len + 1)) == NULL)
		return policy_err(err, errsz, "out of memory");
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
				policy_err(err, errsz, "'%c' inside double "
				    "quotes (it would expand; use single "
				    "quotes)", c);
				goto done;
			} else
				buf[n++] = c;
			continue;
		}
		if (c == ' ' || c == '\t') {
			if (inword && words_add(pw, buf, n) == -1) {
				policy_err(err, errsz, "out of memory");
				goto done;
			}
			inword = 0;
			n = 0;
			continue;
		}
		if (c == '\n' || c == '\r') {
			policy_err(err, errsz, "a line break (one command per "
			    "call)");
			goto done;
		}
		if (c < 0x20 || c == 0x7f) {
			policy_err(err, errsz, "control character 0x%02x", c);
			goto done;
		}
		if (strchr(";&|<>()$`\\", c) != NULL) {
			policy_err(err, errsz, "shell operator '%c'", c);
			goto done;
		}
		if (strchr("*?[", c) != NULL) {
			policy_err(err, errsz, "glob character '%c' (nothing "
			    "is expanded; quote it to pass it as it is)", c);
			goto done;
		}
		if (!inword && (c == '~' || c == '#')) {
			policy_err(err, errsz, "a word starting with '%c' "
			    "(nothing is expanded; quote it to pass it as it "
			    "is)", c);
			goto done;
		}
		inword = 1;
		if (c == '\'' || c == '"')
			q = c;
		else
			buf[n++] = c;
	}
	if (q != 0) {
		policy_err(err, errsz, "an unterminated %s quote",
		    q == '\'' ? "single" : "double");
		goto done;
	}
	if (inword && words_add(pw, buf, n) == -1) {
		policy_err(err, errsz, "out of memory");
		goto done;
	}
	if (pw->n == 0) {
		policy_err(err, errsz, "the command is empty");
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
		return policy_err(err, errsz, "command refused: %s; host "
		    "\"%s\" runs only a single program with literal arguments "
		    "(rule: exec allow, bridged.conf line %d)", e, h->name,
		    h->exec_allow_line);
	if (strchr(w.w[0], '=') != NULL) {
		policy_show(w.w[0], strlen(w.w[0]), shown, sizeof(shown));
		policy_words_free(&w);
		return policy_err(err, errsz, "command refused: \"%s\" is an "
		    "environment assignment, not a program (rule: exec allow, "
		    "bridged.conf line %d)", shown, h->exec_allow_line);
	}
	TAILQ_FOREACH(se, &h->exec_allow, entry)
		if (strcmp(se->s, w.w[0]) == 0)
			break;
	if (se == NULL) {
		policy_show(w.w[0], strlen(w.w[0]), shown, sizeof(shown));
		policy_words_free(&w);
		return policy_err(err, errsz, "command refused: program \"%s\" "
		    "is not in the exec allow list of host \"%s\" (allowed: "
		    "%s; rule: exec allow, bridged.conf line %d)", shown,
		    h->name, allow_list(h, list, sizeof(list)),
		    h->exec_allow_line);
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
		return policy_err(err, errsz, "command refused: it runs "
		    "\"%s\", and host \"%s\" protects against deletion (rule: "
		    "protect delete, bridged.conf line %d)", hit, h->name,
		    h->protect_line);
	if (find && del)
		return policy_err(err, errsz, "command refused: find -delete, "
		    "and host \"%s\" protects against deletion (rule: protect "
		    "delete, bridged.conf line %d)", h->name, h->protect_line);
	return 0;
}
