/*
 * hostpat.c: the host patterns of a known_hosts line, matched as
 * OpenSSH matches them (wildcards, negation).  Shared: the ssh worker
 * checks a server's key with them, bridged -n that the file lists the
 * host (confcheck.c).
 */

#include <sys/types.h>

#include <ctype.h>
#include <string.h>

#include "bridged.h"

static int	 wildmatch(const char *, const char *);

/*
 * known_hosts patterns know only "*" and "?" ("[" is literal, as in
 * "[host]:port"); case does not matter.
 */
static int
wildmatch(const char *p, const char *s)
{
	for (; *p != '\0'; p++, s++) {
		if (*p == '*') {
			while (p[1] == '*')
				p++;
			if (p[1] == '\0')
				return 1;
			for (; *s != '\0'; s++)
				if (wildmatch(p + 1, s))
					return 1;
			return 0;
		}
		if (*s == '\0')
			return 0;
		if (*p != '?' && tolower((unsigned char)*p) !=
		    tolower((unsigned char)*s))
			return 0;
	}
	return *s == '\0';
}

/* 1 match, -1 negated match, 0 no match (as in OpenSSH's match_hostname) */
int
hostpattern_match(char *patterns, const char *name)
{
	char	*pat, *sp = NULL;
	int	 neg, got = 0;

	for (pat = strtok_r(patterns, ",", &sp); pat != NULL;
	    pat = strtok_r(NULL, ",", &sp)) {
		neg = *pat == '!';
		if (neg)
			pat++;
		if (*pat == '\0')
			continue;
		if (wildmatch(pat, name)) {
			if (neg)
				return -1;
			got = 1;
		}
	}
	return got;
}
