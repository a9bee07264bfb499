/*
 * test_text: rand_alnum() (text.c), the random names of the shell's
 * markers and of temporary files: the length asked for, a NUL after it,
 * letters and digits only, every one of the 62 drawn, none much more
 * often than the others, and no two markers alike.
 */

#include <sys/types.h>

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridged.h"
#include "text.h"
#include "tap.h"

#define DRAWS	(62 * 2000)

int
main(void)
{
	char	 buf[300], prev[23];
	size_t	 n, i, count[256], lo, hi;
	int	 good = 1, differ = 1;

	for (n = 0; n < sizeof(buf) - 1; n += 37) {
		memset(buf, 'x', sizeof(buf));
		rand_alnum(buf, n);
		for (i = 0; i < n; i++)
			if (!isalnum((unsigned char)buf[i]))
				good = 0;
		if (buf[n] != '\0' || buf[n + 1] != 'x')
			good = 0;
	}
	ok(good, "rand_alnum: n letters and digits, a NUL, nothing past it");

	memset(count, 0, sizeof(count));
	for (i = 0; i < DRAWS / 200; i++) {
		rand_alnum(buf, 200);
		for (n = 0; n < 200; n++)
			count[(unsigned char)buf[n]]++;
	}
	lo = DRAWS;
	hi = 0;
	n = 0;
	for (i = 0; i < 256; i++) {
		if (count[i] == 0)
			continue;
		n++;
		if (count[i] < lo)
			lo = count[i];
		if (count[i] > hi)
			hi = count[i];
	}
	/* 2000 expected each: 1700..2300 is over 6 standard deviations */
	ok(n == 62 && lo > 1700 && hi < 2300, "rand_alnum: all 62 drawn "
	    "evenly (%zu kinds, %zu..%zu of 2000 expected)", n, lo, hi);

	rand_alnum(prev, 22);
	for (i = 0; i < 1000; i++) {
		rand_alnum(buf, 22);
		if (strcmp(buf, prev) == 0)
			differ = 0;
		memcpy(prev, buf, sizeof(prev));
	}
	ok(differ, "rand_alnum: no marker twice in a row");
	return tap_done();
}
