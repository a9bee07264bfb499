/*
 * logger_auditdb.h: what logger_audit.c (the database, its commits) and
 * logger_auditrd.c (reading it) share, and nothing else includes.
 */

#ifndef AUDITDB_H
#define AUDITDB_H

#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

/* the columns beside a record's text: copies of its fields, for queries */
struct acols {
	int64_t		 seq;
	int64_t		 ms;
	const char	*type;
	const char	*event;
	int64_t		 session;	/* -1: null */
	int64_t		 request;	/* -1: null */
	const char	*host;
	const char	*tool;
	const char	*outcome;
	const char	*prev;
};

/* the open database, NULL: none */
sqlite3	*audit_handle(void);
/* the columns of a record, from its text; -1 if it lacks some */
int	 adb_columns(json_t *, struct acols *);
void	 adb_seterr(char *, size_t, const char *, ...)
	    __attribute__((__format__ (printf, 3, 4)));
/* equal strings, or both NULL */
int	 adb_streq(const char *, const char *);

#endif /* AUDITDB_H */
