/*
 * policy.h: the one policy module (policy.c, policyexec.c, policyscan.c).
 * Pure functions, no I/O: the frontend checks a call with them before it
 * leaves, the ssh worker checks it again with the same functions before
 * it acts (and then resolves paths on the remote side, which only it can
 * do).
 *
 * Every refusal is a message in err that names the rule and the
 * bridged.conf line that sets it.
 */

#ifndef POLICY_H
#define POLICY_H

#include <sys/types.h>

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "bridged.h"

#define POLICY_ERR_MAX		1024

/* a command taken apart into literal words (exec allowlist) */
struct policy_words {
	char		**w;
	size_t		  n;
};

/* per-host call counts of the current minute and day (frontend only) */
struct policy_quota {
	time_t		 min_start;	/* 0: no window open */
	uint32_t	 min_n;
	time_t		 day_start;
	uint32_t	 day_n;
};

/* paths: lexical normalisation and containment in base dir */
int	 policy_path_norm(const char *, size_t, const char *, char *, size_t,
	    char *, size_t);
int	 policy_path_within(const char *, const char *);
int	 policy_path_check(const struct host *, const char *, const char *,
	    size_t, char *, size_t, char *, size_t);

/* exec (policyexec.c): the allowlist parser and the delete protection */
int	 policy_exec_parse(const char *, size_t, struct policy_words *, char *,
	    size_t);
void	 policy_words_free(struct policy_words *);
int	 policy_exec_check(const struct host *, const char *, size_t,
	    struct policy_words *, char *, size_t);
int	 policy_delete_check(const struct host *, const char *, size_t, char *,
	    size_t);

/* a whole tool call: every path argument, the command, protections */
int	 policy_call_check(const struct host *, const char *, json_t *, char *,
	    size_t);
/* where an absolute Glob pattern's literal leading directories end */
const char *policy_glob_root(const char *);

/*
 * Writes that would become exec (policy.c, "protect exec"): on a host
 * that does not allow exec freely, the files the host runs by itself
 * (shell startup files, ~/.ssh/, ...) and under exec allow the files
 * the listed programs load as code.  The frontend checks with view NULL
 * (all but the home's files); the ssh worker checks the paths it
 * resolved with what only the host can tell.
 */
struct policy_alias {
	char		*pat;		/* a rooted pattern ("~/.bashrc") */
	char		*canon;		/* where the host resolves it to */
};
struct policy_view {
	char			 home[PATH_MAX];	/* resolved; "" unknown */
	struct policy_alias	*alias;
	size_t			 nalias;
};
int	 policy_write_guarded(const struct host *);
int	 policy_write_check(const struct host *, const char *, const char *,
	    const char *, const struct policy_view *, char *, size_t);
void	 policy_write_anchors(const struct host *,
	    void (*)(void *, const char *), void *);
int	 policy_protect_valid(const char *, char *, size_t);

/* quotas: 0 and counted, or -1 with the reopen time in err */
int	 policy_quota_take(struct policy_quota *, const struct host *, time_t,
	    char *, size_t);

/* output scanning (policyscan.c): the pattern that matched, or NULL */
const char *policy_scan(const char *, size_t, const struct strlist *);

/* redaction for audit records and logs: text, every string of a value */
char	*policy_redact(const char *, size_t);
json_t	*policy_redact_json(json_t *);
json_t	*policy_redact_args(const char *, json_t *);

#endif /* POLICY_H */
