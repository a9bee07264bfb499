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

static const struct token t_main[] = {
	{ KEYWORD,	"show",		NONE,		t_show },
	{ KEYWORD,	"reload",	RELOAD,		NULL },
	{ KEYWORD,	"log",		NONE,		t_log },
	{ KEYWORD,	"mcp",		MCP,		t_mcp },
	{ ENDTOKEN,	"",		NONE,		NULL }
};

static const struct token t_show[] = {
	{ KEYWORD,	"sessions",	SHOW_SESSIONS,	NULL },
	{ KEYWORD,	"hosts",	SHOW_HOSTS,	NULL },
	{ ENDTOKEN,	"",		NONE,		NULL }
};

static const struct token t_log[] = {
	{ KEYWORD,	"verbose",	LOG_VERBOSE,	NULL },
	{ KEYWORD,	"brief",	LOG_BRIEF,	NULL },
	{ ENDTOKEN,	"",		NONE,		NULL }
};

static const struct token t_mcp[] = {
	{ NOTOKEN,	"",		NONE,		NULL },
	{ PATH,		"<socket>",	NONE,		NULL },
	{ ENDTOKEN,	"",		NONE,		NULL }
};

/* where a token with next == NULL leads: only the end of the line */
static const struct token t_end[] = {
	{ NOTOKEN,	"",		NONE,		NULL },
	{ ENDTOKEN,	"",		NONE,		NULL }
};

static struct parse_result	 res;

static const struct token	*match_token(const char *,
				    const struct token *);
static void			 show_valid_args(const struct token *);
static void			 show_ambiguous(const char *,
				    const struct token *);

struct parse_result *
parse(int argc, char *argv[])
{
	const struct token	*table = t_main, *t;
	const char		*word;
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
		default:
			break;
		}
		if (t->value != NONE)
			res.action = t->value;

		argc--;
		argv++;
		table = t->next != NULL ? t->next : t_end;
	}
	return &res;
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
			/* checked by the caller, which can say what is wrong */
			if (word != NULL && any == NULL)
				any = t;
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

	if (table == t_end)
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
			fprintf(stderr, "  %s\n", t->keyword);
			break;
		case ENDTOKEN:
			break;
		}
	}
}
