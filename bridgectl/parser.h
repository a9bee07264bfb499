/*
 * parser.h: bridgectl's command line, matched against a token table in
 * the style of the OpenBSD ctl tools.
 */

#ifndef PARSER_H
#define PARSER_H

#include <stdint.h>

enum actions {
	NONE,
	SHOW_SESSIONS,
	SHOW_HOSTS,
	RELOAD,
	LOG_VERBOSE,
	LOG_BRIEF,
	MCP,
};

struct parse_result {
	enum actions	 action;
	const char	*path;		/* mcp: socket; NULL = default */
	uint32_t	 id;		/* for commands naming an object */
};

/* NULL after printing what went wrong and what would have been valid */
struct parse_result	*parse(int, char *[]);

#endif /* PARSER_H */
