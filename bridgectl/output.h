/*
 * output.h: how bridgectl shows what the daemon sends: validated JSON
 * records rendered as a table for people or as JSON Lines for programs.
 */

#ifndef OUTPUT_H
#define OUTPUT_H

#include <stddef.h>
#include <stdint.h>

enum output_view {
	VIEW_SESSIONS,
	VIEW_HOSTS,
	VIEW_DELEGATIONS,
	VIEW_JOBS,
	VIEW_FORWARDS,
	VIEW_SESSIONS_ALL,	/* show sessions all: ended ones too */
	VIEW_LISTENERS,
	VIEW_CHANNELS,		/* show channels */
	VIEW_MESSAGES,		/* show channel NAME */
};

struct output;

struct output	*output_new(enum output_view, int);	/* view, json */
/* one IMSG_CTL_DATA payload; -1 when it was rejected (already said why) */
int		 output_record(struct output *, const void *, size_t);
void		 output_end(struct output *);	/* prints the table */
void		 output_free(struct output *);

/*
 * A copy of len bytes safe for a terminal: control characters, C1
 * codes, NULs and invalid UTF-8 become '?'.  With maxwidth > 0 the copy
 * is cut to that many characters, the last three being "...".  *width,
 * when not NULL, gets the number of characters.
 */
char		*output_sanitize(const char *, size_t, size_t, size_t *);
char		*output_sanitize_lines(const char *, size_t);
char		*output_time(int64_t, int);	/* unix ms, with ms */

extern int	 output_local;			/* -l */

#endif /* OUTPUT_H */
