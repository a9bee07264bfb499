/*
 * ssh_fsearch.c: Glob and Grep.
 *
 * Glob walks the tree over SFTP itself, matching every brace alternative
 * of the pattern at once; results come newest first, as Claude Code's
 * Glob gives them.  The walk runs on an SFTP channel of its own from the
 * event loop (ssh_fglob.c), so a large tree does not hold the host's
 * other calls; where the host has no room for that channel, here in the
 * blocking section, one open directory at a time.  Grep runs ripgrep on
 * the host when it is there, else grep -r, as a fixed command whose
 * every argument goes through shquote().
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/queue.h>

#include <fnmatch.h>
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

#define GLOB_RESULTS		100	/* as Claude Code's Glob */
#define GREP_HEAD		250
#define GREP_OUTPUT_MAX		(8 * 1024 * 1024)
#define GREP_HINT_ROOM		768	/* characters after the entries */

static int	 glob_expand(const char *, char **, int *);
static int	 glob_split(struct globctx *, int, const char *);
static void	 glob_walk(struct globctx *, const char *,
		    const struct gstate *, size_t, int);
static size_t	 glob_closure(struct globctx *, struct gstate *, size_t,
		    size_t);
static int	 gmatch_cmp(const void *, const void *);
static void	 glob_keep(struct globctx *, const char *, uint64_t);
static int	 str_cmp(const void *, const void *);
static const char *grep_type_globs(const char *);
static void	 do_glob(struct sshcall *);
static void	 do_grep(struct sshcall *);
static void	 grep_done(struct sshcall *, struct rexec *, const char *,
		    void *);

/* what grep_done needs of the call's arguments */
struct grepq {
	int		 content;
	int		 count;
	long long	 head;
	long long	 offset;
};

void
files_glob(struct sshcall *call)
{
	files_run(call, do_glob);
}

void
files_grep(struct sshcall *call)
{
	files_run(call, do_grep);
}

/* ---- Glob ------------------------------------------------------------ */

/*
 * Expand the first {a,b,...} group of pat, recursively, into out[] (at
 * most GLOB_PATS patterns).  Returns -1 when there would be too many.
 */
static int
glob_expand(const char *pat, char **out, int *nout)
{
	const char	*open = NULL, *p, *alt;
	int		 depth = 0;
	char		*np;
	size_t		 pre, altlen;

	for (p = pat; *p != '\0'; p++) {
		if (*p == '\\' && p[1] != '\0') {
			p++;
			continue;
		}
		if (*p == '{') {
			if (depth++ == 0)
				open = p;
		} else if (*p == '}' && depth > 0 && --depth == 0)
			break;
	}
	if (open == NULL || *p != '}') {
		if (*nout == GLOB_PATS)
			return -1;
		if ((out[(*nout)++] = strdup(pat)) == NULL)
			fatal(NULL);
		return 0;
	}
	pre = open - pat;
	/* each alternative between open and p, at depth 1 */
	alt = open + 1;
	depth = 0;
	for (const char *q = open + 1; q <= p; q++) {
		if (*q == '\\' && q < p) {
			q++;
			continue;
		}
		if (*q == '{')
			depth++;
		else if (*q == '}' && depth > 0)
			depth--;
		else if ((*q == ',' && depth == 0) || q == p) {
			altlen = q - alt;
			if (asprintf(&np, "%.*s%.*s%s", (int)pre, pat,
			    (int)altlen, alt, p + 1) == -1)
				fatal(NULL);
			if (glob_expand(np, out, nout) == -1) {
				free(np);
				return -1;
			}
			free(np);
			alt = q + 1;
		}
	}
	return 0;
}

/* split pattern i into its components */
static int
glob_split(struct globctx *g, int i, const char *pat)
{
	char	*copy, *s, *c;
	int	 n = 0;

	if ((copy = strdup(pat)) == NULL)
		fatal(NULL);
	if ((g->comp[i] = calloc(GLOB_COMPS, sizeof(char *))) == NULL)
		fatal(NULL);
	s = copy;
	while ((c = strsep(&s, "/")) != NULL) {
		if (*c == '\0' || strcmp(c, ".") == 0)
			continue;
		/* "**" next to "**" adds nothing */
		if (strcmp(c, "**") == 0 && n > 0 &&
		    strcmp(g->comp[i][n - 1], "**") == 0)
			continue;
		if (n == GLOB_COMPS || strcmp(c, "..") == 0) {
			free(copy);
			return -1;
		}
		if ((g->comp[i][n++] = strdup(c)) == NULL)
			fatal(NULL);
		g->ncomp[i] = n;
	}
	free(copy);
	return 0;
}

/* add the states reachable by letting "**" match nothing; dedupe */
static size_t
glob_closure(struct globctx *g, struct gstate *st, size_t n, size_t max)
{
	size_t	 i, j;

	for (i = 0; i < n; i++) {
		struct gstate	 s = st[i];

		if (s.c < g->ncomp[s.p] &&
		    strcmp(g->comp[s.p][s.c], "**") == 0) {
			s.c++;
			for (j = 0; j < n; j++)
				if (st[j].p == s.p && st[j].c == s.c)
					break;
			if (j == n && n < max)
				st[n++] = s;
		}
	}
	return n;
}

/*
 * The states that name leads to from st, into next (max): "**" stays
 * where it is (unless hide and name is hidden), a component that
 * matches moves on.  Each state once, with what "**" matching nothing
 * adds.
 */
size_t
glob_step(struct globctx *g, const struct gstate *st, size_t nst,
    const char *name, int hide, struct gstate *next, size_t max)
{
	const char	*c;
	size_t		 i, j, n = 0;

	for (i = 0; i < nst; i++) {
		if (st[i].c >= g->ncomp[st[i].p])
			continue;
		c = g->comp[st[i].p][st[i].c];
		if (strcmp(c, "**") == 0) {
			if (!hide || name[0] != '.')
				next[n++] = st[i];
		} else if (fnmatch(c, name, FNM_PERIOD) == 0) {
			next[n].p = st[i].p;
			next[n++].c = st[i].c + 1;
		}
		for (j = 0; j + 1 < n; j++)
			if (next[j].p == next[n - 1].p &&
			    next[j].c == next[n - 1].c) {
				n--;
				break;
			}
	}
	return glob_closure(g, next, n, max);
}

/*
 * A match.  Only the GLOB_RESULTS newest are answered, so only they are
 * kept, not the 200,000 a walk may match: up to twice as many gather,
 * then they are sorted and the older half freed.  Once some have been
 * (fewer kept than matched before this one), the GLOB_RESULTS-th newest
 * stays in its place, and a match older than it is only counted.
 */
static void
glob_keep(struct globctx *g, const char *path, uint64_t mtime)
{
	const struct gmatch	*cut;
	size_t			 i;

	if (g->m == NULL && (g->m = calloc(2 * GLOB_RESULTS,
	    sizeof(*g->m))) == NULL)
		fatal(NULL);
	if (g->nm == 2 * GLOB_RESULTS) {
		qsort(g->m, g->nm, sizeof(*g->m), gmatch_cmp);
		for (i = GLOB_RESULTS; i < g->nm; i++)
			free(g->m[i].path);
		g->nm = GLOB_RESULTS;
	}
	if (g->total++ > g->nm) {
		cut = &g->m[GLOB_RESULTS - 1];
		if (mtime < cut->mtime || (mtime == cut->mtime &&
		    strcmp(path, cut->path) > 0))
			return;
	}
	if ((g->m[g->nm].path = strdup(path)) == NULL)
		fatal(NULL);
	g->m[g->nm++].mtime = mtime;
}

/*
 * One entry of dir, reached with the states st: a match is kept; 1 when
 * it is a directory to walk (full its path), 0 when not, -1 when the
 * walk has seen as much as it may (g->truncated).  A name that cannot be
 * one entry of a directory (empty, ".", "..", or holding a "/": a server
 * that lies) is passed over.
 */
int
glob_entry(struct globctx *g, const char *dir, const struct gstate *st,
    size_t nst, const char *name, int type, uint64_t mtime, char *full)
{
	size_t	 nnext, i;
	int	 matched = 0, deeper = 0;

	if (*name == '\0' || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0 || strchr(name, '/') != NULL)
		return 0;
	if (++g->visited > GLOB_VISIT_MAX) {
		g->truncated = GLOB_STOP_ENTRIES;
		return -1;
	}
	if (time(NULL) > g->deadline) {
		g->truncated = GLOB_STOP_TIME;
		return -1;
	}
	nnext = glob_step(g, st, nst, name, 1, g->next, GLOB_STATES);
	for (i = 0; i < nnext; i++) {
		if (g->next[i].c == g->ncomp[g->next[i].p])
			matched = 1;
		else
			deeper = 1;
	}
	if (nnext == 0 || (size_t)snprintf(full, PATH_MAX, "%s%s%s", dir,
	    dir[strlen(dir) - 1] == '/' ? "" : "/", name) >= PATH_MAX)
		return 0;
	if (matched && type != S_IFDIR)
		glob_keep(g, full, mtime);
	/* symbolic links to directories are not followed */
	return deeper && type == S_IFDIR;
}

/*
 * The walk in the blocking section, where the host has no room for a
 * channel of Glob's own: one open directory at a time.
 */
static void
glob_walk(struct globctx *g, const char *dir, const struct gstate *st,
    size_t nst, int depth)
{
	sftp_dir	 d;
	sftp_attributes	 a;
	struct gstate	*next;
	char		 full[PATH_MAX], **subs = NULL;
	size_t		 nnext, i, nsubs = 0, ssize = 0;
	int		 rc;

	if (depth > GLOB_DEPTH) {
		g->truncated = GLOB_STOP_DEPTH;
		return;
	}
	if ((d = sftp_opendir(g->sftp, dir)) == NULL)
		return;		/* unreadable directories are skipped */
	while ((a = sftp_readdir(g->sftp, d)) != NULL) {
		rc = glob_entry(g, dir, st, nst, a->name, attr_type(a),
		    attr_mtime(a), full);
		sftp_attributes_free(a);
		if (rc == -1)
			break;
		if (rc == 0)
			continue;
		if (nsubs == ssize) {
			ssize = ssize ? ssize * 2 : 16;
			if ((subs = reallocarray(subs, ssize,
			    sizeof(*subs))) == NULL)
				fatal(NULL);
		}
		if ((subs[nsubs++] = strdup(full)) == NULL)
			fatal(NULL);
	}
	sftp_closedir(d);

	/* descend after closing this one */
	if ((next = calloc(GLOB_STATES, sizeof(*next))) == NULL)
		fatal(NULL);
	for (i = 0; i < nsubs; i++) {
		const char	*name = strrchr(subs[i], '/') + 1;

		if (!g->truncated) {
			/* recompute the states this name leads to */
			nnext = glob_step(g, st, nst, name, 0, next,
			    GLOB_STATES);
			glob_walk(g, subs[i], next, nnext, depth + 1);
		}
		free(subs[i]);
	}
	free(subs);
	free(next);
}

static int
gmatch_cmp(const void *a, const void *b)
{
	const struct gmatch	*x = a, *y = b;

	if (x->mtime != y->mtime)
		return x->mtime > y->mtime ? -1 : 1;
	return strcmp(x->path, y->path);
}

static void
do_glob(struct sshcall *call)
{
	struct globctx	*g;
	struct gstate	*st = NULL;
	const char	*pattern, *p, *lastslash;
	char		 path[PATH_MAX], root[PATH_MAX], err[ERRSZ] = "";
	const char	*rest;
	char		*pats[GLOB_PATS], *canon;
	sftp_attributes	 a;
	size_t		 nst;
	int		 npats = 0, k;

	if (arg_str(call->args, "pattern", 1, &pattern, err) == -1 ||
	    arg_path(call, call->args, "path", 0, path, err) == -1) {
		files_fail(call, err);
		return;
	}
	if (*pattern == '\0') {
		files_fail(call, "pattern is empty");
		return;
	}
	/* an absolute pattern: its literal leading directories are the root */
	if (pattern[0] == '/') {
		lastslash = pattern;
		for (p = pattern; *p != '\0' && strchr("*?[{\\", *p) == NULL;
		    p++)
			if (*p == '/')
				lastslash = p;
		if (*p == '\0') {
			/* no wildcard at all: the directory part */
			lastslash = strrchr(pattern, '/');
		}
		if (lastslash == pattern)
			strlcpy(root, "/", sizeof(root));
		else if ((size_t)(lastslash - pattern) < sizeof(root))
			snprintf(root, sizeof(root), "%.*s",
			    (int)(lastslash - pattern), pattern);
		else {
			files_fail(call, "pattern is too long");
			return;
		}
		rest = lastslash + 1;
	} else {
		strlcpy(root, path, sizeof(root));
		rest = pattern;
	}
	if ((g = calloc(1, sizeof(*g))) == NULL)
		fatal(NULL);
	if (glob_expand(rest, pats, &npats) == -1) {
		sshcall_text(call, 1, "pattern has more than %d alternatives "
		    "after {,} expansion", GLOB_PATS);
		goto done;
	}
	for (k = 0; k < npats; k++) {
		if (glob_split(g, k, pats[k]) == -1) {
			sshcall_text(call, 1, "pattern: \"..\" and more than "
			    "%d components are not supported", GLOB_COMPS);
			goto done;
		}
	}
	g->npat = npats;
	if ((g->sftp = files_sftp(call, err)) == NULL) {
		files_fail(call, err);
		goto done;
	}
	if ((canon = sftp_canonicalize_path(g->sftp, root)) == NULL) {
		sshcall_text(call, 1, "path %s: %s", root, fx_str(g->sftp));
		goto done;
	}
	strlcpy(root, canon, sizeof(root));
	ssh_string_free_char(canon);
	if ((a = sftp_stat(g->sftp, root)) == NULL) {
		sshcall_text(call, 1, "path %s: %s", root, fx_str(g->sftp));
		goto done;
	}
	if (attr_type(a) != S_IFDIR) {
		sftp_attributes_free(a);
		sshcall_text(call, 1, "path %s is not a directory", root);
		goto done;
	}
	sftp_attributes_free(a);

	if ((st = calloc(GLOB_STATES, sizeof(*st))) == NULL ||
	    (g->next = calloc(GLOB_STATES, sizeof(*g->next))) == NULL)
		fatal(NULL);
	for (k = 0, nst = 0; k < npats; k++) {
		st[nst].p = k;
		st[nst++].c = 0;
	}
	nst = glob_closure(g, st, nst, GLOB_STATES);
	g->deadline = time(NULL) + GLOB_SECONDS;
	/* on a channel of its own: the worker goes on serving the host */
	if (fglob_start(call, call->conn, g, root, st, nst) == 0) {
		g = NULL;	/* ssh_fglob.c's, and it answers */
		goto done;
	}
	glob_walk(g, root, st, nst, 0);
	glob_answer(call, g);
 done:
	for (k = 0; k < npats; k++)
		free(pats[k]);
	free(st);
	glob_free(g);
}

/* the matches, newest first, and what stopped the walk early */
void
glob_answer(struct sshcall *call, struct globctx *g)
{
	struct sbuf	 out = { 0 };
	size_t		 i;

	if (g->nm == 0)
		sb_str(&out, "No files found\n");
	else {
		qsort(g->m, g->nm, sizeof(*g->m), gmatch_cmp);
		for (i = 0; i < g->nm && i < GLOB_RESULTS; i++)
			sb_printf(&out, "%s\n", g->m[i].path);
		if (g->total > GLOB_RESULTS)
			sb_printf(&out, "(Results are truncated: showing the "
			    "%d most recently modified of %zu files. Consider "
			    "using a more specific path or pattern.)\n",
			    GLOB_RESULTS, g->total);
	}
	if (g->truncated == GLOB_STOP_ENTRIES)
		sb_printf(&out, "(The search stopped early, after %d entries; "
		    "narrow the path or pattern.)\n", GLOB_VISIT_MAX);
	else if (g->truncated == GLOB_STOP_DEPTH)
		sb_printf(&out, "(The search stopped early, at directories %d "
		    "levels deep, after %zu entries; narrow the path or "
		    "pattern.)\n", GLOB_DEPTH, g->visited);
	else if (g->truncated)
		sb_printf(&out, "(The search stopped early, after %d seconds "
		    "and %zu entries; narrow the path or pattern.)\n",
		    GLOB_SECONDS, g->visited);
	files_reply(call, 0, &out, "use a more specific path or pattern");
}

void
glob_free(struct globctx *g)
{
	size_t	 i;
	int	 k;

	if (g == NULL)
		return;
	for (k = 0; k < GLOB_PATS; k++) {
		if (g->comp[k] == NULL)
			continue;
		for (i = 0; i < (size_t)g->ncomp[k]; i++)
			free(g->comp[k][i]);
		free(g->comp[k]);
	}
	for (i = 0; i < g->nm; i++)
		free(g->m[i].path);
	free(g->m);
	free(g->next);
	free(g);
}

/* ---- Grep ------------------------------------------------------------ */

/* --include globs for grep(1), where rg would take --type */
static const char *
grep_type_globs(const char *type)
{
	static const struct {
		const char	*type;
		const char	*globs;
	} types[] = {
		{ "c", "*.c *.h" },
		{ "cpp", "*.cpp *.cc *.cxx *.hpp *.hh *.hxx *.h" },
		{ "go", "*.go" },
		{ "java", "*.java" },
		{ "js", "*.js *.jsx *.mjs *.cjs" },
		{ "json", "*.json" },
		{ "md", "*.md *.markdown" },
		{ "markdown", "*.md *.markdown" },
		{ "py", "*.py *.pyi" },
		{ "python", "*.py *.pyi" },
		{ "rb", "*.rb" },
		{ "ruby", "*.rb" },
		{ "rust", "*.rs" },
		{ "sh", "*.sh *.bash" },
		{ "ts", "*.ts *.tsx *.mts *.cts" },
		{ "typescript", "*.ts *.tsx *.mts *.cts" },
		{ "yaml", "*.yaml *.yml" },
		{ "toml", "*.toml" },
		{ "html", "*.html *.htm" },
		{ "css", "*.css" },
		{ "sql", "*.sql" },
		{ "swift", "*.swift" },
		{ "kotlin", "*.kt *.kts" },
		{ "php", "*.php" },
		{ "make", "Makefile *.mk makefile GNUmakefile" },
	};
	size_t	 i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(types[i].type, type) == 0)
			return types[i].globs;
	return NULL;
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char * const *)a, *(char * const *)b);
}

static void
do_grep(struct sshcall *call)
{
	struct sbuf	 rg = { 0 }, gr = { 0 }, cmd = { 0 };
	struct grepq	*g;
	const char	*pattern, *glob, *type, *mode, *tglobs;
	char		 path[PATH_MAX], err[ERRSZ] = "";
	char		*copy, *tok, *save;
	long long	 A, B, C, ctx, head, offset;
	int		 num, icase, only, multi, content, count;

	if (arg_str(call->args, "pattern", 1, &pattern, err) == -1 ||
	    arg_path(call, call->args, "path", 0, path, err) == -1 ||
	    arg_str(call->args, "glob", 0, &glob, err) == -1 ||
	    arg_str(call->args, "type", 0, &type, err) == -1 ||
	    arg_str(call->args, "output_mode", 0, &mode, err) == -1 ||
	    arg_int(call->args, "-A", 0, 10000, 0, &A, err) == -1 ||
	    arg_int(call->args, "-B", 0, 10000, 0, &B, err) == -1 ||
	    arg_int(call->args, "-C", 0, 10000, -1, &C, err) == -1 ||
	    arg_int(call->args, "context", 0, 10000, -1, &ctx, err) == -1 ||
	    arg_bool(call->args, "-n", 1, &num, err) == -1 ||
	    arg_bool(call->args, "-i", 0, &icase, err) == -1 ||
	    arg_bool(call->args, "-o", 0, &only, err) == -1 ||
	    arg_bool(call->args, "multiline", 0, &multi, err) == -1 ||
	    arg_int(call->args, "head_limit", 0, LLONG_MAX / 2, GREP_HEAD,
	    &head, err) == -1 ||
	    arg_int(call->args, "offset", 0, LLONG_MAX / 2, 0, &offset,
	    err) == -1) {
		files_fail(call, err);
		return;
	}
	if (*pattern == '\0') {
		files_fail(call, "pattern is empty");
		return;
	}
	if (mode == NULL)
		mode = "files_with_matches";
	content = strcmp(mode, "content") == 0;
	count = strcmp(mode, "count") == 0;
	if (!content && !count && strcmp(mode, "files_with_matches") != 0) {
		files_fail(call, "output_mode must be \"content\", "
		    "\"files_with_matches\" or \"count\"");
		return;
	}
	if (C < 0)
		C = ctx;
	if (type != NULL && (*type == '\0' || strspn(type,
	    "abcdefghijklmnopqrstuvwxyz0123456789_-+") != strlen(type))) {
		files_fail(call, "type must be a file type name such as "
		    "\"js\", \"py\" or \"rust\"");
		return;
	}
	tglobs = type ? grep_type_globs(type) : NULL;

	/* ripgrep's arguments */
	sb_str(&rg, "rg --no-heading --with-filename --color never "
	    "--max-columns 2000");
	/* grep's: -r, extended regex, skip binary files, always the name */
	sb_str(&gr, "grep -r -E -I -H --color=never");
	if (content) {
		if (num) {
			sb_str(&rg, " -n");
			sb_str(&gr, " -n");
		}
		if (C >= 0) {
			sb_printf(&rg, " -C %lld", C);
			sb_printf(&gr, " -C %lld", C);
		} else {
			if (A > 0) {
				sb_printf(&rg, " -A %lld", A);
				sb_printf(&gr, " -A %lld", A);
			}
			if (B > 0) {
				sb_printf(&rg, " -B %lld", B);
				sb_printf(&gr, " -B %lld", B);
			}
		}
		if (only) {
			sb_str(&rg, " -o");
			sb_str(&gr, " -o");
		}
	} else if (count) {
		sb_str(&rg, " -c");
		sb_str(&gr, " -c");
	} else {
		sb_str(&rg, " -l");
		sb_str(&gr, " -l");
	}
	if (icase) {
		sb_str(&rg, " -i");
		sb_str(&gr, " -i");
	}
	if (multi)
		sb_str(&rg, " -U --multiline-dotall");
	if (glob != NULL) {
		sb_str(&rg, " --glob ");
		shquote(&rg, glob);
		/* grep knows no braces: split {a,b} the simple way */
		{
			char	*pats[GLOB_PATS];
			int	 np = 0, k;

			if (glob_expand(glob, pats, &np) == -1) {
				for (k = 0; k < np; k++)
					free(pats[k]);
				pats[0] = strdup(glob);
				np = 1;
			}
			for (k = 0; k < np; k++) {
				const char	*base = strrchr(pats[k], '/');

				sb_str(&gr, " ");
				sb_str(&cmd, "--include=");
				sb_str(&cmd, base ? base + 1 : pats[k]);
				shquote(&gr, cmd.p);
				sb_free(&cmd);
				free(pats[k]);
			}
		}
	}
	if (type != NULL) {
		sb_str(&rg, " --type ");
		shquote(&rg, type);
		if (tglobs != NULL) {
			if ((copy = strdup(tglobs)) == NULL)
				fatal(NULL);
			for (tok = strtok_r(copy, " ", &save); tok != NULL;
			    tok = strtok_r(NULL, " ", &save)) {
				sb_str(&cmd, "--include=");
				sb_str(&cmd, tok);
				sb_str(&gr, " ");
				shquote(&gr, cmd.p);
				sb_free(&cmd);
			}
			free(copy);
		}
	}
	sb_str(&rg, " -e ");
	shquote(&rg, pattern);
	sb_str(&rg, " -- ");
	shquote(&rg, path);
	sb_str(&gr, " -e ");
	shquote(&gr, pattern);
	sb_str(&gr, " -- ");
	shquote(&gr, path);

	sb_printf(&cmd, "if command -v rg >/dev/null 2>&1; then exec %s; fi; ",
	    rg.p);
	if (multi)
		sb_str(&cmd, "echo 'multiline needs ripgrep (rg) on the "
		    "host' >&2; exit 2");
	else if (type != NULL && tglobs == NULL)
		sb_str(&cmd, "echo 'this type is unknown without ripgrep "
		    "(rg) on the host; use glob instead' >&2; exit 2");
	else
		sb_printf(&cmd, "exec %s", gr.p);
	sb_free(&rg);
	sb_free(&gr);

	/*
	 * Content comes in order: stop once the page is full.  The search
	 * runs on a channel of its own, the worker free meanwhile.
	 */
	if ((g = calloc(1, sizeof(*g))) == NULL)
		fatal(NULL);
	g->content = content;
	g->count = count;
	g->head = head;
	g->offset = offset;
	remote_exec_async(call, cmd.p, GREP_OUTPUT_MAX, files_seconds(),
	    content && head > 0 ? (size_t)(offset + head + 1) : 0, grep_done,
	    g);
	sb_free(&cmd);
}

/* the search ended: its output into entries, a page of them */
static void
grep_done(struct sshcall *call, struct rexec *rxp, const char *why, void *arg)
{
	struct grepq	*g = arg;
	struct rexec	 rx = *rxp;
	struct sbuf	 out = { 0 };
	char		**lines = NULL, *p, *nl;
	long long	 head = g->head, offset = g->offset, total = 0;
	size_t		 nlines = 0, lsize = 0, i, shown, budget, used, c;
	int		 full = 0, content = g->content, count = g->count;
	int		 nfiles = 0, killed;
	char		 how[64] = "";

	free(g);
	if (why != NULL) {
		files_fail(call, why);
		return;
	}
	if (rx.timedout && rx.out.len == 0) {
		sshcall_text(call, 1, "Grep timed out after %d s; narrow the "
		    "path, glob or type", files_seconds());
		return;
	}
	/*
	 * No status, and not because we stopped it: the search was killed
	 * on the host (a signal, an OOM kill), and its silence is not "no
	 * matches".
	 */
	killed = rx.status < 0 && !rx.truncated && !rx.linecap &&
	    !rx.timedout;
	if (killed && rx.signal[0] != '\0')
		snprintf(how, sizeof(how), "by signal %s", rx.signal);
	else if (killed)
		strlcpy(how, "without an exit status", sizeof(how));
	if (killed && rx.out.len == 0) {
		if ((nl = rx.err.p != NULL ? strchr(rx.err.p, '\n') : NULL) !=
		    NULL)
			*nl = '\0';
		sshcall_text(call, 1, "Grep failed: the search ended on the "
		    "host %s before it finished%s%s", how, rx.err.len ? ": " :
		    "", rx.err.len ? rx.err.p : "");
		return;
	}
	if (rx.out.len == 0 && rx.status >= 2) {
		sshcall_text(call, 1, "Grep failed: %s",
		    rx.err.len ? rx.err.p : "error on the host");
		return;
	}

	/* into entries (lines), dropping grep -c's "path:0" */
	for (p = rx.out.p; p != NULL && *p != '\0'; p = nl) {
		if ((nl = strchr(p, '\n')) != NULL)
			*nl++ = '\0';
		if (*p == '\0' && nl == NULL)
			break;
		if (count) {
			const char	*colon = strrchr(p, ':');

			if (colon == NULL || strcmp(colon, ":0") == 0)
				continue;
			total += strtoll(colon + 1, NULL, 10);
			nfiles++;
		}
		if (nlines == lsize) {
			lsize = lsize ? lsize * 2 : 256;
			if ((lines = reallocarray(lines, lsize,
			    sizeof(*lines))) == NULL)
				fatal(NULL);
		}
		lines[nlines++] = p;
	}
	if (!content && nlines > 0)
		qsort(lines, nlines, sizeof(*lines), str_cmp);

	shown = 0;
	if (nlines == 0 || (size_t)offset >= nlines) {
		if (nlines == 0)
			sb_str(&out, content ? "No matches found\n" :
			    "No files found\n");
		else
			sb_printf(&out, "No entries past offset %lld (there "
			    "are %zu)\n", offset, nlines);
	} else {
		if (!content && !count)
			sb_printf(&out, "Found %zu file%s\n", nlines,
			    nlines == 1 ? "" : "s");
		/* whole entries, as many as the result limit has room for */
		budget = ssh_result_budget() - GREP_HINT_ROOM;
		used = utf8_chars(out.p ? out.p : "", out.len);
		for (i = offset; i < nlines; i++) {
			if (head > 0 && shown == (size_t)head)
				break;
			c = utf8_chars(lines[i], strlen(lines[i])) + 1;
			if (used + c > budget && shown > 0) {
				full = 1;
				break;
			}
			sb_printf(&out, "%s\n", lines[i]);
			used += c;
			shown++;
		}
		if (count)
			sb_printf(&out, "\nFound %lld total occurrence%s "
			    "across %d file%s.\n", total, total == 1 ? "" :
			    "s", nfiles, nfiles == 1 ? "" : "s");
		if (full) {
			sb_printf(&out, "[showing entries %lld-%lld of %s%zu: "
			    "the result limit (%zu characters) is full. For the "
			    "next ones call Grep again with offset=%lld and "
			    "head_limit=%lld]\n", offset + 1,
			    offset + (long long)shown, rx.linecap ?
			    "more than " : "", rx.linecap ? nlines - 1 :
			    nlines, ssh_result_budget() + SSH_RESULT_RESERVE,
			    offset + (long long)shown, head > 0 ?
			    head - (long long)shown : 0);
			sshcall_log(call, MCPLOG_NOTICE, "Grep: %zu entries "
			    "shown to fit the result limit; the rest from "
			    "offset=%lld", shown, offset + (long long)shown);
		} else if ((size_t)offset + shown < nlines)
			sb_printf(&out, "[showing entries %lld-%lld of %s%zu; "
			    "for the next ones call Grep again with "
			    "offset=%lld]\n", offset + 1,
			    offset + (long long)shown, rx.linecap ?
			    "more than " : "", rx.linecap ? nlines - 1 :
			    nlines, offset + (long long)shown);
	}
	if (rx.truncated)
		sb_printf(&out, "[the host's output passed %d bytes and was "
		    "cut; narrow the search]\n", GREP_OUTPUT_MAX);
	if (rx.timedout)
		sb_printf(&out, "[the search timed out after %d s; results "
		    "are partial]\n", files_seconds());
	if (killed)
		sb_printf(&out, "[the search ended on the host %s before it "
		    "finished; results are partial]\n", how);
	if (rx.status >= 2 && rx.err.len > 0) {
		if ((nl = strchr(rx.err.p, '\n')) != NULL)
			*nl = '\0';
		sb_printf(&out, "[some files could not be searched: %s]\n",
		    rx.err.p);
	}
	free(lines);
	files_reply(call, 0, &out, "use head_limit and offset to page through");
}
