/*
 * shquote.c: the one way a string becomes a word of a remote shell
 * command line.
 */

#include <sys/types.h>

#include <stdint.h>

#include "bridged.h"
#include "text.h"

/*
 * Append s to sb in single quotes, where nothing is special but the
 * quote itself, which is closed, escaped and reopened: 'it'\''s'.
 */
void
shquote(struct sbuf *sb, const char *s)
{
	sb_add(sb, "'", 1);
	for (; *s != '\0'; s++) {
		if (*s == '\'')
			sb_str(sb, "'\\''");
		else
			sb_add(sb, s, 1);
	}
	sb_add(sb, "'", 1);
}
