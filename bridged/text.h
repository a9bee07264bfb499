/*
 * text.h: byte strings, UTF-8 and shell quoting (text.c, shquote.c).
 * Shared: these depend on no process's code, so the ssh worker, the
 * frontend and bridgectl may all use them.
 */

#ifndef TEXT_H
#define TEXT_H

#include <stddef.h>
#include <stdint.h>

/* text.c: a growable byte string, NUL-terminated once anything is added */
struct sbuf {
	char	*p;
	size_t	 len;
	size_t	 size;
};
void	 sb_add(struct sbuf *, const void *, size_t);
void	 sb_str(struct sbuf *, const char *);
void	 sb_printf(struct sbuf *, const char *, ...)
	    __attribute__((__format__ (printf, 2, 3)));
void	 sb_free(struct sbuf *);
int	 utf8_valid(const unsigned char *, size_t, int);
/* append, invalid bytes (and NULs unless kept) turned into U+FFFD */
void	 utf8_clean(struct sbuf *, const char *, size_t, int);
/* append, each NUL byte as the two characters \0; returns how many */
size_t	 nul_escape(struct sbuf *, const char *, size_t);
#define NUL_SHOWN	"\\0"
size_t	 utf8_cut(const char *, size_t, size_t);
/* n random letters and digits, NUL-terminated (n + 1 bytes) */
void	 rand_alnum(char *, size_t);
/* characters as a result shows them; bytes of the first max of them */
size_t	 utf8_chars(const char *, size_t);
size_t	 utf8_prefix(const char *, size_t, size_t);
/* one UTF-8 sequence: its length and code point, 0 when invalid */
size_t	 utf8_decode(const unsigned char *, size_t, uint32_t *);

/* bytes as lower-case hex (2n digits and a NUL); exactly 2n digits back */
void	 hex_encode(const uint8_t *, size_t, char *);
int	 hex_decode(const char *, uint8_t *, size_t);

/* shquote.c: the one quoting function for remote shell words */
void	 shquote(struct sbuf *, const char *);

#endif /* TEXT_H */
