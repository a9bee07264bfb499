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
 *		free shell, sound together with exec allow); exec: no
 *		write to a file the host would run (shell startup files,
 *		~/.ssh/, and under exec allow what the listed programs load
 *		as code) unless exec is allowed freely;
 *   quota	calls per minute and per day, with the reopen time.
 * and two things that never refuse: output scanning for prompt injection
 * and redaction of secrets for the audit log.
 *
 * This file has the paths, the checks of a whole call, the quotas and
 * the protection of what the host executes (protect exec);
 * policyexec.c the commands (exec allow, protect delete); policyscan.c
 * the scanning and the redaction.
 */

#include <sys/types.h>

#include <fnmatch.h>
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
static int	 write_arg(const struct host *, const char *, json_t *,
		    const char *, char *, size_t);
static int	 glob_check(const struct host *, json_t *, char *, size_t);
static int	 quota_used(const struct host *, const char *, uint32_t, int,
		    time_t, time_t, char *, size_t);

/* protect exec */
struct xrule;
struct comps;
static int	 guard_level(const struct host *);
static const char *last_part(const char *, size_t *);
static int	 word_in(const char *, const char *, size_t);
static int	 rules_in(const char *, int, const char *, int,
		    int (*)(void *, const struct xrule *), void *);
static int	 rules_each(const struct host *,
		    int (*)(void *, const struct xrule *), void *);
static int	 comps_split(struct comps *, const char *);
static int	 comp_match(const char *, const char *);
static int	 pat_match(const char *, const char *, const char *);
static int	 match_one(void *, const struct xrule *);
static int	 anchor_one(void *, const struct xrule *);

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
 * The path a write tool writes: inside base dir and, lexically, not one
 * the host would run (the home's files are for the worker to find).
 */
static int
write_arg(const struct host *h, const char *tool, json_t *obj,
    const char *name, char *err, size_t errsz)
{
	json_t	*v;
	char	 out[PATH_MAX], what[128];

	if (policy_arg_path(h, tool, obj, name, 1, err, errsz) == -1)
		return -1;
	if (!policy_write_guarded(h))
		return 0;
	v = json_object_get(obj, name);
	snprintf(what, sizeof(what), "%s: %s", tool, name);
	if (policy_path_check(h, what, json_string_value(v),
	    json_string_length(v), out, sizeof(out), err, errsz) == -1)
		return -1;
	return policy_write_check(h, tool, out, NULL, NULL, err, errsz);
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
	if (strcmp(tool, "Read") == 0)
		return policy_arg_path(h, tool, args, "file_path", 1, err, errsz);
	if (strcmp(tool, "Write") == 0 || strcmp(tool, "Edit") == 0 ||
	    strcmp(tool, "MultiEdit") == 0)
		return write_arg(h, tool, args, "file_path", err, errsz);
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
		if (write_arg(h, tool, args, "remote_path", err, errsz) == -1)
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

/* ---- writes that would become exec (protect exec) -------------------- */

/*
 * A host that does not allow exec freely must not get it through a
 * write: every command it runs (and the SFTP subsystem too) starts
 * through the user's login shell, which sources the startup files, and
 * sshd, PAM and the dynamic linker read a few more.  Under an exec allow
 * list the listed programs load files of their own as code (git hooks,
 * Makefiles), which would run unlisted programs.
 *
 * A pattern is a path: "~/x" below the remote user's home (the worker
 * finds it on the host), "/x" absolute, anything else a name that
 * matches the last components of a path wherever it is ("Makefile",
 * ".git/config", "*.mk").  A trailing slash makes it a directory that
 * protects itself and everything below it.  Components may be fnmatch(3)
 * patterns; everything is case-sensitive.
 */

enum why {
	W_SHELL,
	W_SSH,
	W_LOGIN,
	W_MAIL,
	W_AUTH,
	W_PATHDIR,
	W_SYSTEM,
	W_LOADER,
	W_GIT,
	W_CLAUDE,
	W_PROG,
	W_CONF,
	W_CONF_FOR,
};

static const char *whys[] = {
	[W_SHELL] = "a shell startup file the host runs at login",
	[W_SSH] = "read by sshd at every login (keys, rc, environment)",
	[W_LOGIN] = "read at login by PAM, systemd or the desktop session",
	[W_MAIL] = "run by mail delivery",
	[W_AUTH] = "a file that grants logins to the account",
	[W_PATHDIR] = "a directory of programs on the login PATH",
	[W_SYSTEM] = "a system-wide shell startup file every login runs",
	[W_LOADER] = "read by the dynamic linker before every program",
	[W_GIT] = "code git runs (hooks, config, attributes)",
	[W_CLAUDE] = "read by Claude Code when ask_claude runs it (settings, "
	    "hooks, MCP servers)",
};

/* what the host runs by itself: protected unless exec is allowed freely */
static const struct {
	enum why	 why;
	const char	*pats;		/* blank-separated */
} host_guards[] = {
	{ W_SHELL, "~/.bashrc ~/.bash_profile ~/.bash_login ~/.profile "
	    "~/.bash_logout ~/.bash_aliases ~/.zshenv ~/.zprofile ~/.zshrc "
	    "~/.zlogin ~/.zlogout ~/.cshrc ~/.tcshrc ~/.login ~/.logout "
	    "~/.kshrc ~/.mkshrc ~/.shrc ~/.config/fish/" },
	{ W_SSH, "~/.ssh/" },
	{ W_LOGIN, "~/.pam_environment ~/.config/environment.d/ "
	    "~/.config/systemd/ ~/.config/autostart/ ~/.xprofile "
	    "~/.xsession ~/.xsessionrc ~/.xinitrc" },
	{ W_MAIL, "~/.forward ~/.procmailrc ~/.mailfilter" },
	{ W_AUTH, "~/.rhosts ~/.shosts ~/.k5login ~/.k5users" },
	{ W_PATHDIR, "~/bin/ ~/.local/bin/" },
	{ W_SYSTEM, "/etc/profile /etc/profile.d/ /etc/bash.bashrc "
	    "/etc/bash.bash_logout /etc/bashrc /etc/environment /etc/zshenv "
	    "/etc/zprofile /etc/zshrc /etc/zlogin /etc/zlogout /etc/zsh/ "
	    "/etc/csh.cshrc /etc/csh.login /etc/csh.logout /etc/fish/ "
	    "/etc/ssh/ /etc/security/pam_env.conf" },
	{ W_LOADER, "/etc/ld.so.preload /etc/ld.so.conf /etc/ld.so.conf.d/" },
};

/* with delegate: Claude Code's hooks and MCP servers are commands */
static const char claude_guards[] = ".claude/ .mcp.json ~/.claude/ "
    "~/.claude.json";

/* under exec allow, whatever is listed: git is run by most of them */
static const char git_guards[] = ".git .git/config .git/hooks/ .git/info/ "
    ".gitattributes .gitmodules ~/.gitconfig ~/.config/git/ /etc/gitconfig";

/* under exec allow: what a listed program loads as code */
static const struct {
	const char	*progs;		/* blank-separated names */
	const char	*pats;
} prog_guards[] = {
	{ "make gmake bmake",
	    "Makefile makefile GNUmakefile BSDmakefile *.mk *.mak" },
	{ "npm npx yarn pnpm",
	    "package.json .npmrc ~/.npmrc .yarnrc .yarnrc.yml .pnpmfile.cjs "
	    "node_modules/" },
	{ "node", "package.json node_modules/" },
	{ "python python3 pip pip3 pytest tox",
	    "setup.py setup.cfg pyproject.toml conftest.py pytest.ini tox.ini "
	    "sitecustomize.py usercustomize.py *.pth ~/.local/lib/ "
	    "~/.config/pip/ ~/.pip/" },
	{ "pytest", "test_*.py *_test.py" },
	{ "cargo", "Cargo.toml build.rs .cargo/ ~/.cargo/" },
	{ "bundle rake", "Gemfile Rakefile .bundle/" },
};

/* one protected pattern as the checks see it */
struct xrule {
	const char	*pat;
	enum why	 why;
	const char	*prog;		/* W_PROG, W_CONF_FOR: the program */
	int		 line;		/* W_CONF, W_CONF_FOR */
};

/* a path split into its components */
#define COMPS_MAX	(PATH_MAX / 2)
struct comps {
	char		 buf[PATH_MAX];
	char		*c[COMPS_MAX];
	size_t		 n;
};

/* 0: exec is allowed freely; 1: no exec; 2: exec of listed programs */
static int
guard_level(const struct host *h)
{
	if ((h->caps & CAP_EXEC) == 0)
		return 1;
	return h->has_exec_allow ? 2 : 0;
}

int
policy_write_guarded(const struct host *h)
{
	return guard_level(h) != 0;
}

/* the last component of s and its length (a program's name) */
static const char *
last_part(const char *s, size_t *len)
{
	const char	*p = strrchr(s, '/');

	p = p == NULL ? s : p + 1;
	*len = strlen(p);
	return p;
}

/* is the word w (len bytes) one of the blank-separated words in list? */
static int
word_in(const char *list, const char *w, size_t len)
{
	const char	*p = list, *e;

	while (*p != '\0') {
		while (*p == ' ')
			p++;
		for (e = p; *e != '\0' && *e != ' '; e++)
			;
		if ((size_t)(e - p) == len && len > 0 &&
		    memcmp(p, w, len) == 0)
			return 1;
		p = e;
	}
	return 0;
}

/* fn for every blank-separated pattern in pats; stops when fn says so */
static int
rules_in(const char *pats, int why, const char *prog, int line,
    int (*fn)(void *, const struct xrule *), void *arg)
{
	struct xrule	 r;
	char		 pat[PATH_MAX];
	const char	*p = pats, *e;
	int		 rc;

	r.why = why;
	r.prog = prog;
	r.line = line;
	r.pat = pat;
	while (*p != '\0') {
		while (*p == ' ')
			p++;
		for (e = p; *e != '\0' && *e != ' '; e++)
			;
		if (e > p && (size_t)(e - p) < sizeof(pat)) {
			memcpy(pat, p, e - p);
			pat[e - p] = '\0';
			if ((rc = fn(arg, &r)) != 0)
				return rc;
		}
		p = e;
	}
	return 0;
}

/* fn for every rule that applies to host h, in a fixed order */
static int
rules_each(const struct host *h, int (*fn)(void *, const struct xrule *),
    void *arg)
{
	const struct strentry	*se, *ae;
	struct xrule		 r;
	const char		*tab, *name, *an;
	size_t			 i, len, alen;
	int			 level = guard_level(h), rc;

	if (level == 0)
		return 0;
	for (i = 0; i < sizeof(host_guards) / sizeof(host_guards[0]); i++)
		if ((rc = rules_in(host_guards[i].pats, host_guards[i].why,
		    NULL, 0, fn, arg)) != 0)
			return rc;
	TAILQ_FOREACH(se, &h->protect_exec, entry) {
		r.pat = se->s;
		r.why = W_CONF;
		r.prog = NULL;
		r.line = h->protect_exec_line;
		if ((rc = fn(arg, &r)) != 0)
			return rc;
	}
	if ((h->caps & CAP_DELEGATE) && (rc = rules_in(claude_guards,
	    W_CLAUDE, NULL, 0, fn, arg)) != 0)
		return rc;
	if (level != 2)
		return 0;
	if ((rc = rules_in(git_guards, W_GIT, NULL, 0, fn, arg)) != 0)
		return rc;
	TAILQ_FOREACH(ae, &h->exec_allow, entry) {
		/* the name of a listed program, as "make" for /usr/bin/make */
		name = last_part(ae->s, &len);
		for (i = 0; i < sizeof(prog_guards) / sizeof(prog_guards[0]);
		    i++)
			if (word_in(prog_guards[i].progs, name, len) &&
			    (rc = rules_in(prog_guards[i].pats, W_PROG, name,
			    0, fn, arg)) != 0)
				return rc;
		TAILQ_FOREACH(se, &h->protect_exec_for, entry) {
			/* "PROGRAM\tPATTERN", see parse.y */
			if ((tab = strchr(se->s, '\t')) == NULL)
				continue;
			an = se->s;
			alen = tab - se->s;
			/* "make" is "/usr/bin/make" too, either way */
			if (memrchr(an, '/', alen) != NULL) {
				an = (const char *)memrchr(an, '/', alen) + 1;
				alen = tab - an;
			}
			if (alen != len || memcmp(an, name, len) != 0)
				continue;
			r.pat = tab + 1;
			r.why = W_CONF_FOR;
			r.prog = name;
			r.line = h->protect_exec_for_line;
			if ((rc = fn(arg, &r)) != 0)
				return rc;
		}
	}
	return 0;
}

/* an absolute path into its components; -1 when there are too many */
static int
comps_split(struct comps *cs, const char *path)
{
	char	*p;

	cs->n = 0;
	if (strlcpy(cs->buf, path, sizeof(cs->buf)) >= sizeof(cs->buf))
		return -1;
	for (p = cs->buf; *p != '\0'; ) {
		while (*p == '/')
			*p++ = '\0';
		if (*p == '\0')
			break;
		if (cs->n == COMPS_MAX)
			return -1;
		cs->c[cs->n++] = p;
		while (*p != '\0' && *p != '/')
			p++;
	}
	return 0;
}

/* one component: a pattern when it has glob characters, else equal */
static int
comp_match(const char *pc, const char *c)
{
	if (strpbrk(pc, "*?[") == NULL)
		return strcmp(pc, c) == 0;
	return fnmatch(pc, c, 0) == 0;
}

/*
 * Does the normalised absolute path fall under pat?  home is the
 * remote user's home for "~/" patterns (NULL: they match nothing).
 */
static int
pat_match(const char *pat, const char *path, const char *home)
{
	struct comps	 pc, xc;
	char		 full[PATH_MAX];
	size_t		 len = strlen(pat), i, j, first, last;
	int		 dir, anchored;

	if (len == 0)
		return 0;
	dir = pat[len - 1] == '/';
	anchored = pat[0] == '/' || pat[0] == '~';
	if (pat[0] == '~') {
		if (home == NULL || home[0] == '\0')
			return 0;
		if (snprintf(full, sizeof(full), "%s/%s", home,
		    pat + 1) >= (int)sizeof(full))
			return 0;
		pat = full;
	}
	if (comps_split(&pc, pat) == -1 || comps_split(&xc, path) == -1)
		return 0;
	if (pc.n > xc.n)
		return 0;
	if (anchored) {
		/* from the root: all of it, or its start for a directory */
		if (!dir && pc.n != xc.n)
			return 0;
		first = last = 0;
	} else if (dir) {
		/* a directory anywhere */
		first = 0;
		last = xc.n - pc.n;
	} else
		/* a name: the last components */
		first = last = xc.n - pc.n;
	for (i = first; i <= last; i++) {
		for (j = 0; j < pc.n; j++)
			if (!comp_match(pc.c[j], xc.c[i + j]))
				break;
		if (j == pc.n)
			return 1;
	}
	return 0;
}

/* what match_one looks for and what it found */
struct xmatch {
	const char		*path;
	const struct policy_view *view;
	struct xrule		 hit;
	char			 pat[PATH_MAX];
};

static int
match_one(void *arg, const struct xrule *r)
{
	struct xmatch	*m = arg;
	const char	*home = m->view != NULL ? m->view->home : NULL;
	size_t		 i, len;
	int		 found;

	found = pat_match(r->pat, m->path, home);
	/* where the host resolves the pattern to, when elsewhere */
	for (i = 0; !found && m->view != NULL && i < m->view->nalias; i++) {
		if (strcmp(m->view->alias[i].pat, r->pat) != 0)
			continue;
		len = strlen(r->pat);
		if (r->pat[len - 1] == '/') {
			char	 d[PATH_MAX];

			snprintf(d, sizeof(d), "%s/", m->view->alias[i].canon);
			found = pat_match(d, m->path, NULL);
		} else
			found = pat_match(m->view->alias[i].canon, m->path,
			    NULL);
	}
	if (!found)
		return 0;
	m->hit = *r;
	strlcpy(m->pat, r->pat, sizeof(m->pat));
	m->hit.pat = m->pat;
	return 1;
}

/*
 * May a write tool write path (normalised, absolute)?  given: the path
 * the client named, when it led here through a link (NULL otherwise).
 * view: what the ssh worker found on the host (NULL in the frontend,
 * which then checks all but the home's files).  0, or -1 with a message
 * in err that names the rule.
 */
int
policy_write_check(const struct host *h, const char *tool, const char *path,
    const char *given, const struct policy_view *view, char *err,
    size_t errsz)
{
	struct xmatch	 m;
	char		 what[PATH_MAX + 256], why[PATH_MAX + 256];
	char		 because[512];

	memset(&m, 0, sizeof(m));
	m.path = path;
	m.view = view;
	if (rules_each(h, match_one, &m) == 0)
		return 0;

	switch (m.hit.why) {
	case W_PROG:
		snprintf(why, sizeof(why), "a file %s loads as code (%s)",
		    m.hit.prog, m.pat);
		break;
	case W_CONF:
		snprintf(why, sizeof(why), "listed in protect exec at "
		    "bridged.conf line %d (\"%s\")", m.hit.line, m.pat);
		break;
	case W_CONF_FOR:
		snprintf(why, sizeof(why), "a file %s loads as code (protect "
		    "exec for \"%s\" at bridged.conf line %d: \"%s\")",
		    m.hit.prog, m.hit.prog, m.hit.line, m.pat);
		break;
	default:
		snprintf(why, sizeof(why), "%s (%s)", whys[m.hit.why], m.pat);
		break;
	}
	if (guard_level(h) == 1)
		snprintf(because, sizeof(because), "\"allow exec\" is not set "
		    "for host \"%s\"", h->name);
	else
		snprintf(because, sizeof(because), "host \"%s\" runs only the "
		    "programs in exec allow (bridged.conf line %d) and this "
		    "file would run others", h->name, h->exec_allow_line);
	if (given != NULL && strcmp(given, path) != 0)
		snprintf(what, sizeof(what), "%s leads to %s, which is", given,
		    path);
	else
		snprintf(what, sizeof(what), "%s is", path);
	return policy_err(err, errsz, "%s: refused: %s %s; %s (rule: protect "
	    "exec, see bridged.conf(5))", tool, what, why, because);
}

/* what anchor_one hands on */
struct xanchor {
	void		(*fn)(void *, const char *);
	void		 *arg;
};

static int
anchor_one(void *arg, const struct xrule *r)
{
	struct xanchor	*a = arg;

	if ((r->pat[0] == '/' || r->pat[0] == '~') &&
	    strpbrk(r->pat, "*?[") == NULL)
		a->fn(a->arg, r->pat);
	return 0;
}

/*
 * fn for every rooted pattern without wildcards ("/etc/profile",
 * "~/.ssh/") that applies to host h: the worker resolves them on the host
 * (policy_view.alias), so that a protected file that is a link (a
 * dotfile manager's ~/.bashrc) protects what it leads to as well.
 */
void
policy_write_anchors(const struct host *h, void (*fn)(void *, const char *),
    void *arg)
{
	struct xanchor	 a;

	a.fn = fn;
	a.arg = arg;
	rules_each(h, anchor_one, &a);
}

/*
 * Is s a pattern protect exec takes?  Not empty, printable, "~" only as
 * "~/" at the start, no empty, "." or ".." components (a trailing slash
 * is fine: a directory).
 */
int
policy_protect_valid(const char *s, char *err, size_t errsz)
{
	const char	*p, *c;
	size_t		 n;

	if (s[0] == '\0')
		return policy_err(err, errsz, "the pattern is empty");
	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return policy_err(err, errsz, "a control character "
			    "in a pattern");
	if (strlen(s) >= PATH_MAX)
		return policy_err(err, errsz, "the pattern is too long");
	p = s;
	if (s[0] == '~') {
		if (s[1] != '/')
			return policy_err(err, errsz, "\"%s\": ~ only as ~/ "
			    "at the start (the remote user's home)", s);
		p = s + 2;
	} else if (s[0] == '/')
		p = s + 1;
	while (*p != '\0') {
		for (c = p; *c != '\0' && *c != '/'; c++)
			;
		n = c - p;
		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return policy_err(err, errsz, "\"%s\": empty, \".\" "
			    "or \"..\" components are not allowed", s);
		p = *c == '/' ? c + 1 : c;
	}
	return 0;
}
