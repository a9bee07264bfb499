/*
 * parser.c: bridgectl's command words.  Each table lists what may come
 * next; a keyword may be abbreviated to any unique prefix, an exact match
 * always wins.  A new command is one more entry (and maybe one more small
 * table); the matching code never changes.
 */

#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parser.h"

enum token_type {
	ENDTOKEN,	/* ends a table */
	NOTOKEN,	/* the command may end here */
	KEYWORD,
	PATH,		/* any non-empty word; keyword names it in help */
	ID,		/* a number 1..UINT32_MAX; keyword names it in help */
	FLAG,		/* -f, -j: sets a field of the result */
	VALUE,		/* any word, for the keyword before it */
};

struct token {
	enum token_type		 type;
	const char		*keyword;
	int			 value;		/* enum actions, or NONE */
	const struct token	*next;		/* NULL: nothing may follow */
};

static const struct token t_main[];
static const struct token t_show[];
static const struct token t_log[];
static const struct token t_mcp[];
static const struct token t_end[];
static const struct token t_kill[];
static const struct token t_close[];
static const struct token t_fwdid[];
static const struct token t_delegid[];
static const struct token t_showlog[];
static const struct token t_count[];
static const struct token t_showaudit[];
static const struct token t_avalue[];
static const struct token t_asession[];
static const struct token t_verify[];
static const struct token t_sessid[];
static const struct token t_showhist[];
static const struct token t_hvalue[];
static const struct token t_jend[];
static const struct token t_vdb[];
static const struct token t_vhead[];
static const struct token t_chname[];
static const struct token t_chfollow[];
static const struct token t_clear[];
static const struct token t_clname[];

static const struct token t_main[] = {
	{ KEYWORD,	"show",		NONE,		t_show },
	{ KEYWORD,	"reload",	RELOAD,		t_jend },
	{ KEYWORD,	"log",		NONE,		t_log },
	{ KEYWORD,	"mcp",		MCP,		t_mcp },
	{ KEYWORD,	"kill",		NONE,		t_kill },
	{ KEYWORD,	"close",	NONE,		t_close },
	{ KEYWORD,	"verify",	VERIFY,		t_verify },
	{ KEYWORD,	"clear",	NONE,		t_clear },
	{ ENDTOKEN,	"",		NONE,		NULL }
};

static const struct token t_show[] = {
	{ KEYWORD,	"sessions",	SHOW_SESSIONS,	t_showhist },
	{ KEYWORD,	"hosts",	SHOW_HOSTS,	t_jend },
	{ KEYWORD,	"listeners",	SHOW_LISTENERS,	t_jend },
	{ KEYWORD,	"delegations",	SHOW_DELEGATIONS, t_showhist },
	{ KEYWORD,	"jobs",		SHOW_JOBS,	t_jend },
	{ KEYWORD,	"forwards",	SHOW_FORWARDS,	t_jend },
	{ KEYWORD,	"log",		SHOW_LOG,	t_showlog },
	{ KEYWORD,	"audit",	SHOW_AUDIT,	t_showaudit },
	{ KEYWORD,	"channels",	SHOW_CHANNELS,	t_jend },
	{ KEYWORD,	"channel",	NONE,		t_chname },
	{ ENDTOKEN,	"",		NONE,		NULL }
};

/* show channel NAME, clear channel NAME: relay channels */
static const struct token t_chname[] = {
	{ PATH,		"<name>",	SHOW_CHANNEL,	t_chfollow },
	{ ENDTOKEN,	"",		NONE,		NULL }
};

/* show channel NAME [-f] [-j]: -f follows what is sent to it */
static const struct token t_chfollow[] = {
	{ NOTOKEN,	"",		NONE,		NULL },
	{ FLAG,		"-f",		NONE,		t_chfollow },
	{ FLAG,		"-j",		NONE,		t_chfollow },
	{ ENDTOKEN,	"",		NONE,		NULL }
};

static const struct token t_clear[] = {
	{ KEYWORD,	"channel",	NONE,		t_clname },
	{ ENDTOKEN,	"",		NONE,		NULL }
};

static const struct token t_clname[] = {
	{ PATH,		"<name>",	CLEAR_CHANNEL,	t_jend },
	{ ENDTOKEN,	"",		NONE,		NULL }
};

/* show log [-f] [-n count] [-j], in any order */
static const struct token t_showlog[] = {
	{ NOTOKEN,	"",		NONE,		NULL },
	{ FLAG,		"-f",		NONE,		t_showlog },
	{ FLAG,		"-j",		NONE,		t_showlog },
	{ KEYWORD,	"-n",		NONE,		t_count },
	{ ENDTOKEN,	"",		NONE,		NULL }
};

static const struct token t_count[] = {
	{ VALUE,	"<count>",	NONE,		t_showlog },
	{ ENDTOKEN,	"",		NONE,		NULL }
};

/* show audit [since T] [host H] [tool T] [session S] [outcome O] [-j] */
static const struct token t_showaudit[] = {
	{ NOTOKEN,	"",		NONE,		NULL },
	{ KEYWORD,	"since",	NONE,		t_avalue },
	{ KEYWORD,	"host",		NONE,		t_avalue },
	{ KEYWORD,	"tool",		NONE,		t_avalue },
	{ KEYWORD,	"session",	NONE,		t_asession },
	{ KEYWORD,	"outcome",	NONE,		t_avalue },
	{ KEYWORD,	"-n",		NONE,		t_avalue },
	{ FLAG,		"-j",		NONE,		t_showaudit },
	{ ENDTOKEN,	"",		NONE,		NULL }
};

/* show sessions/delegations [all] [since T] [-j]: ended ones too */
static const struct token t_showhist[] = {
	{ NOTOKEN,	"",		NONE,		NULL },
	{ KEYWORD,	"all",		NONE,		t_showhist },
	{ KEYWORD,	"since",	NONE,		t_hvalue },
	{ FLAG,		"-j",		NONE,		t_showhist },
	{ ENDTOKEN,	"",		NONE,		NULL }
};

static const struct token t_hvalue[] = {
	{ VALUE,	"<time>",	NONE,		t_showhist },
	{ ENDTOKEN,	"",		NONE,		NULL }
};

static const struct token t_avalue[] = {
	{ VALUE,	"<value>",	NONE,		t_showaudit },
	{ ENDTOKEN,	"",		NONE,		NULL }
};

static const struct token t_asession[] = {
	{ VALUE,	"<id>",		NONE,		t_showaudit },
	{ ENDTOKEN,	"",		NONE,		NULL }
};

/* verify [database PATH] [SEQ:HASH] [-j] */
static const struct token t_verify[] = {
	{ NOTOKEN,	"",		NONE,		NULL },
	{ KEYWORD,	"database",	NONE,		t_vdb },
	{ FLAG,		"-j",		NONE,		t_verify },
	{ VALUE,	"<seq:hash>",	NONE,		t_jend },
	{ ENDTOKEN,	"",		NONE,		NULL }
};

static const struct token t_vdb[] = {
	{ PATH,		"<path>",	NONE,		t_vhead },
	{ ENDTOKEN,	"",		NONE,		NULL }
};

static const struct token t_vhead[] = {
	{ NOTOKEN,	"",		NONE,		NULL },
	{ FLAG,		"-j",		NONE,		t_vhead },
	{ VALUE,	"<seq:hash>",	NONE,		t_jend },
	{ ENDTOKEN,	"",		NONE,		NULL }
};

/* commands that take nothing more but -j */
static const struct token t_jend[] = {
	{ NOTOKEN,	"",		NONE,		NULL },
	{ FLAG,		"-j",		NONE,		t_jend },
	{ ENDTOKEN,	"",		NONE,		NULL }
};

static const struct token t_sessid[] = {
	{ ID,		"<id>",		KILL_SESSION,	t_jend },
	{ ENDTOKEN,	"",		NONE,		NULL }
};

static const struct token t_log[] = {
	{ KEYWORD,	"verbose",	LOG_VERBOSE,	t_jend },
	{ KEYWORD,	"brief",	LOG_BRIEF,	t_jend },
	{ KEYWORD,	"rotate",	LOG_ROTATE,	t_jend },
	{ ENDTOKEN,	"",		NONE,		NULL }
};

static const struct token t_mcp[] = {
	{ NOTOKEN,	"",		NONE,		NULL },
	{ PATH,		"<socket>",	NONE,		NULL },
	{ ENDTOKEN,	"",		NONE,		NULL }
};

static const struct token t_kill[] = {
	{ KEYWORD,	"delegation",	NONE,		t_delegid },
	{ KEYWORD,	"session",	NONE,		t_sessid },
	{ ENDTOKEN,	"",		NONE,		NULL }
};

static const struct token t_delegid[] = {
	{ ID,		"<id>",		KILL_DELEGATION, t_jend },
	{ ENDTOKEN,	"",		NONE,		NULL }
};

static const struct token t_close[] = {
	{ KEYWORD,	"forward",	NONE,		t_fwdid },
	{ ENDTOKEN,	"",		NONE,		NULL }
};

static const struct token t_fwdid[] = {
	{ ID,		"<id>",		CLOSE_FORWARD,	t_jend },
	{ ENDTOKEN,	"",		NONE,		NULL }
};

/* where a token with next == NULL leads: only the end of the line */
static const struct token t_end[] = {
	{ NOTOKEN,	"",		NONE,		NULL },
	{ ENDTOKEN,	"",		NONE,		NULL }
};

static struct parse_result	 res;

static int			 set_value(const char *, const char *);
static int			 outcome_check(const char *);

static const struct token	*match_token(const char *,
				    const struct token *);
static void			 show_valid_args(const struct token *);
static void			 show_ambiguous(const char *,
				    const struct token *);

struct parse_result *
parse(int argc, char *argv[])
{
	const struct token	*table = t_main, *t;
	const char		*word, *kw = NULL;
	const char		*errstr;

	memset(&res, 0, sizeof(res));
	res.action = NONE;

	for (;;) {
		word = argc > 0 ? argv[0] : NULL;
		if ((t = match_token(word, table)) == NULL)
			return NULL;
		if (t->type == NOTOKEN)
			break;

		switch (t->type) {
		case PATH:
			if (kw != NULL && strcmp(kw, "database") == 0)
				res.dbpath = word;
			else if (kw != NULL && strcmp(kw, "channel") == 0)
				res.channel = word;
			else
				res.path = word;
			break;
		case ID:
			res.id = strtonum(word, 1, UINT32_MAX, &errstr);
			if (errstr != NULL) {
				fprintf(stderr, "bridgectl: %s: id is %s\n",
				    word, errstr);
				return NULL;
			}
			break;
		case FLAG:
			if (strcmp(t->keyword, "-f") == 0)
				res.follow = 1;
			else
				res.json = 1;
			break;
		case VALUE:
			if (set_value(kw, word) == -1)
				return NULL;
			break;
		case KEYWORD:
			if (strcmp(t->keyword, "all") == 0)
				res.all = 1;
			break;
		default:
			break;
		}
		kw = t->type == KEYWORD ? t->keyword : NULL;
		if (t->value != NONE)
			res.action = t->value;

		argc--;
		argv++;
		table = t->next != NULL ? t->next : t_end;
	}
	return &res;
}

/* the word after a keyword of show log / show audit, or verify's head */
static int
set_value(const char *kw, const char *word)
{
	const char	*errstr;
	uint32_t	 n;

	if (kw == NULL || strcmp(kw, "verify") == 0) {
		res.head = word;
		return 0;
	}
	if (strcmp(kw, "-n") == 0 || strcmp(kw, "session") == 0) {
		/* -n 0, as in tail(1): no backlog */
		n = strtonum(word, kw[0] == '-' ? 0 : 1, UINT32_MAX, &errstr);
		if (errstr != NULL) {
			fprintf(stderr, "bridgectl: %s %s: the number is %s\n",
			    kw, word, errstr);
			return -1;
		}
		if (kw[0] == '-') {
			res.count = n;
			res.count_set = 1;
		} else
			res.session = n;
	} else if (strcmp(kw, "since") == 0)
		res.since = word;
	else if (strcmp(kw, "host") == 0)
		res.host = word;
	else if (strcmp(kw, "tool") == 0)
		res.tool = word;
	else {
		if (outcome_check(word) == -1)
			return -1;
		res.outcome = word;
	}
	return 0;
}

/*
 * The words an audit record's outcome column holds (fe_jsonrpc.c for
 * calls, the worker's delegation states, logger_audit.c's "refused"):
 * anything else would match nothing and look like a quiet log.
 */
static const char *outcomes[] = {
	"ok", "error", "timeout", "cancelled", "refused", "done", "killed",
};

static int
outcome_check(const char *word)
{
	size_t	 i;

	for (i = 0; i < sizeof(outcomes) / sizeof(outcomes[0]); i++)
		if (strcmp(word, outcomes[i]) == 0)
			return 0;
	fprintf(stderr, "bridgectl: outcome %s: not an outcome; give one of",
	    word);
	for (i = 0; i < sizeof(outcomes) / sizeof(outcomes[0]); i++)
		fprintf(stderr, "%s %s", i ? "," : "", outcomes[i]);
	fputc('\n', stderr);
	return -1;
}

/*
 * Find the entry word matches.  On failure say why on stderr and list
 * what the table would have accepted.
 */
static const struct token *
match_token(const char *word, const struct token *table)
{
	const struct token	*t, *prefix = NULL, *any = NULL;
	const struct token	*end = NULL;
	size_t			 len;
	int			 nprefix = 0;

	for (t = table; t->type != ENDTOKEN; t++) {
		switch (t->type) {
		case NOTOKEN:
			end = t;
			break;
		case KEYWORD:
			if (word == NULL)
				break;
			if (strcmp(word, t->keyword) == 0)
				return t;
			len = strlen(word);
			if (strncmp(word, t->keyword, len) == 0) {
				prefix = t;
				nprefix++;
			}
			break;
		case PATH:
			if (word != NULL && word[0] != '\0' && any == NULL)
				any = t;
			break;
		case ID:
		case VALUE:
			/* checked by the caller, which can say what is wrong */
			if (word != NULL && any == NULL)
				any = t;
			break;
		case FLAG:
			if (word != NULL && strcmp(word, t->keyword) == 0)
				return t;
			break;
		case ENDTOKEN:
			break;
		}
	}

	if (word == NULL) {
		if (end != NULL)
			return end;
		fprintf(stderr, "bridgectl: missing argument\n");
		show_valid_args(table);
		return NULL;
	}
	if (nprefix == 1)
		return prefix;
	if (nprefix > 1) {
		show_ambiguous(word, table);
		return NULL;
	}
	if (any != NULL)
		return any;

	if (table == t_end || table == t_jend)
		fprintf(stderr, "bridgectl: superfluous argument: %s\n",
		    word[0] != '\0' ? word : "\"\"");
	else
		fprintf(stderr, "bridgectl: unknown argument: %s\n",
		    word[0] != '\0' ? word : "\"\"");
	show_valid_args(table);
	return NULL;
}

static void
show_ambiguous(const char *word, const struct token *table)
{
	const struct token	*t;
	const char		*sep = "";
	size_t			 len = strlen(word);

	fprintf(stderr, "bridgectl: ambiguous argument: \"%s\" could be ",
	    word);
	for (t = table; t->type != ENDTOKEN; t++) {
		if (t->type != KEYWORD || strncmp(word, t->keyword, len) != 0)
			continue;
		fprintf(stderr, "%s%s", sep, t->keyword);
		sep = ", ";
	}
	fputc('\n', stderr);
}

static void
show_valid_args(const struct token *table)
{
	const struct token	*t;

	fprintf(stderr, "valid commands/args:\n");
	for (t = table; t->type != ENDTOKEN; t++) {
		switch (t->type) {
		case NOTOKEN:
			fprintf(stderr, "  <end of command>\n");
			break;
		case KEYWORD:
		case PATH:
		case ID:
		case FLAG:
		case VALUE:
			fprintf(stderr, "  %s\n", t->keyword);
			break;
		case ENDTOKEN:
			break;
		}
	}
}
