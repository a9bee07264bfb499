/*
 * logview.h: bridgectl's audit commands (show log, show audit, verify):
 * the request is built from the command line, the records come back one
 * per message and are printed as they arrive.
 */

#ifndef LOGVIEW_H
#define LOGVIEW_H

#include <time.h>

#include "parser.h"

int	 logview_run(const char *, struct parse_result *, int);
/* "1700000000", "15m" (ago), "2024-05-06", "2024-05-06T07:08[:09]" */
int	 logview_since(const char *, time_t, time_t *);
int	 logview_verify_db(const char *, const char *, int);

#endif /* LOGVIEW_H */
