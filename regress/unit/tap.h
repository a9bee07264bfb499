/* tap.h: the few lines every unit test shares */

#ifndef TAP_H
#define TAP_H

#include <stdio.h>

static int	tap_n, tap_failed;

#define ok(cond, ...) do {						\
	int tap_c = (cond) ? 1 : 0;					\
	printf("%sok %d - ", tap_c ? "" : "not ", ++tap_n);		\
	printf(__VA_ARGS__);						\
	printf("\n");							\
	if (!tap_c) {							\
		tap_failed++;						\
		printf("# failed at %s:%d: %s\n", __FILE__, __LINE__,	\
		    #cond);						\
	}								\
	fflush(stdout);							\
} while (0)

#define tap_done()	(tap_failed ? 1 : 0)

#endif /* TAP_H */
