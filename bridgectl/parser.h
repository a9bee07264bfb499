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
	SHOW_LISTENERS,
	RELOAD,
	LOG_VERBOSE,
	LOG_BRIEF,
	MCP,
	SHOW_DELEGATIONS,
	SHOW_JOBS,
	KILL_DELEGATION,
	SHOW_FORWARDS,
	CLOSE_FORWARD,
	SHOW_LOG,
	SHOW_AUDIT,
	VERIFY,
	LOG_ROTATE,
	KILL_SESSION,
	SHOW_CHANNELS,
	SHOW_CHANNEL,
	CLEAR_CHANNEL,
};

struct parse_result {
	enum actions	 action;
	const char	*path;		/* mcp: socket; NULL = default */
	const char	*channel;	/* show/clear channel NAME */
	uint32_t	 id;		/* for commands naming an object */
	/* show log, show audit, verify */
	int		 follow;	/* -f */
	int		 json;		/* -j after the command */
	uint32_t	 count;		/* -n */
	int		 count_set;	/* -n given, maybe 0 */
	uint32_t	 session;
	const char	*since;
	const char	*host;
	const char	*tool;
	const char	*outcome;
	const char	*head;		/* verify SEQ:HASH */
	const char	*dbpath;	/* verify database PATH */
	int		 all;		/* show sessions/delegations all */
};

/* NULL after printing what went wrong and what would have been valid */
struct parse_result	*parse(int, char *[]);

#endif /* PARSER_H */
