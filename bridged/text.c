/*
 * text.c: growable strings, the UTF-8 checks that tool output needs
 * before it can become a JSON string, NULs shown as \0, and hex.
 */

#include <sys/types.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridged.h"
#include "log.h"
#include "text.h"

void
sb_add(struct sbuf *sb, const void *p, size_t n)
{
	size_t	 nsize;
	char	*np;

	if (sb->len + n + 1 > sb->size) {
		nsize = sb->size ? sb->size : 256;
		while (nsize < sb->len + n + 1) {
			if (nsize > SIZE_MAX / 2)
				fatalx("sbuf too large");
			nsize *= 2;
		}
		if ((np = realloc(sb->p, nsize)) == NULL)
			fatal(NULL);
		sb->p = np;
		sb->size = nsize;
	}
	if (n > 0)
		memcpy(sb->p + sb->len, p, n);
	sb->len += n;
	sb->p[sb->len] = '\0';
}

void
sb_str(struct sbuf *sb, const char *s)
{
	sb_add(sb, s, strlen(s));
}

void
sb_printf(struct sbuf *sb, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n == -1)
		fatal(NULL);
	sb_add(sb, s, n);
	free(s);
}

void
sb_free(struct sbuf *sb)
{
	free(sb->p);
	memset(sb, 0, sizeof(*sb));
}

/*
 * One UTF-8 sequence at p: its length with *cp set, or 0 when invalid
 * (cut short, overlong, surrogate, past U+10FFFF).
 */
size_t
utf8_decode(const unsigned char *p, size_t n, uint32_t *cp)
{
	size_t		 len, i;
	uint32_t	 c;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		c = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		c = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		c = p[0] & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return 0;
	*cp = c;
	return len;
}

/* partial: a sequence cut off by the end of the buffer is fine */
int
utf8_valid(const unsigned char *p, size_t n, int partial)
{
	size_t		 i = 0, l;
	uint32_t	 cp;

	while (i < n) {
		if ((l = utf8_decode(p + i, n - i, &cp)) == 0) {
			if (partial && n - i < 4 && p[i] >= 0xc2 &&
			    p[i] <= 0xf4) {
				/* check what there is of it */
				for (l = 1; i + l < n; l++)
					if ((p[i + l] & 0xc0) != 0x80)
						return 0;
				return 1;
			}
			return 0;
		}
		i += l;
	}
	return 1;
}

/*
 * Append s to out with each invalid byte replaced by U+FFFD; NUL bytes
 * too, unless keepnul (tool output keeps them: sshcall_result shows each
 * as \0 and says the output was binary).
 */
void
utf8_clean(struct sbuf *out, const char *s, size_t n, int keepnul)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, start = 0, l;
	uint32_t		 cp;

	while (i < n) {
		if ((p[i] != 0 || keepnul) &&
		    (l = utf8_decode(p + i, n - i, &cp)) != 0) {
			i += l;
			continue;
		}
		sb_add(out, s + start, i - start);
		sb_str(out, "\xef\xbf\xbd");
		i++;
		start = i;
	}
	sb_add(out, s + start, i - start);
}

/*
 * Remote output may hold NUL bytes (binary data, /proc/PID/environ).  A
 * JSON string can carry them as \u0000, but neither jansson (without
 * JSON_ALLOW_NUL), nor our records, nor most clients take them: they are
 * shown as \0, and the result says so.
 */
size_t
nul_escape(struct sbuf *out, const char *s, size_t n)
{
	const char	*z;
	size_t		 count = 0;

	while (n > 0 && (z = memchr(s, '\0', n)) != NULL) {
		sb_add(out, s, z - s);
		sb_str(out, NUL_SHOWN);
		count++;
		n -= z + 1 - s;
		s = z + 1;
	}
	sb_add(out, s, n);
	return count;
}

/* bytes of s making up at most max characters */
size_t
utf8_cut(const char *s, size_t n, size_t max)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i, chars = 0;

	for (i = 0; i < n; i++) {
		if ((p[i] & 0xc0) == 0x80)
			continue;
		if (chars == max)
			return i;
		chars++;
	}
	return n;
}

/*
 * Characters as a client counts them once the text is in a result: a
 * valid sequence is one, an invalid byte one (it becomes U+FFFD), a NUL
 * two (it is shown as \0).  utf8_prefix gives the bytes of the longest
 * prefix of at most max such characters, never inside a sequence.
 */
size_t
utf8_prefix(const char *s, size_t n, size_t max)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, chars = 0, l, w;
	uint32_t		 cp;

	while (i < n) {
		if ((l = utf8_decode(p + i, n - i, &cp)) == 0)
			l = 1;
		w = p[i] == '\0' ? 2 : 1;
		if (chars + w > max)
			break;
		chars += w;
		i += l;
	}
	return i;
}

size_t
utf8_chars(const char *s, size_t n)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, chars = 0, l;
	uint32_t		 cp;

	while (i < n) {
		if ((l = utf8_decode(p + i, n - i, &cp)) == 0)
			l = 1;
		chars += p[i] == '\0' ? 2 : 1;
		i += l;
	}
	return chars;
}

void
hex_encode(const uint8_t *p, size_t n, char *out)
{
	static const char	 digits[] = "0123456789abcdef";
	size_t			 i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 0x0f];
	}
	out[2 * n] = '\0';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* 0, or -1 when s is not exactly 2n hex digits (out then undefined) */
int
hex_decode(const char *s, uint8_t *out, size_t n)
{
	size_t	 i;
	int	 hi, lo;

	if (strlen(s) != 2 * n)
		return -1;
	for (i = 0; i < n; i++) {
		if ((hi = hexval(s[2 * i])) == -1 ||
		    (lo = hexval(s[2 * i + 1])) == -1)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/*
 * n random letters and digits and a NUL into out (n + 1 bytes): one
 * arc4random_buf for them all, where a call per letter would be a
 * getpid(2) per letter (libbsd's fork check) on a hot path (the shell's
 * markers).  A byte of 248 or more is drawn again, so each of the 62 is
 * as likely as the others.
 */
void
rand_alnum(char *out, size_t n)
{
	static const char	 set[] = "0123456789"
				    "abcdefghijklmnopqrstuvwxyz"
				    "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	uint8_t			 r[64];
	size_t			 i = 0, j = sizeof(r);

	while (i < n) {
		if (j == sizeof(r)) {
			arc4random_buf(r, sizeof(r));
			j = 0;
		}
		if (r[j] < 248)
			out[i++] = set[r[j] % 62];
		j++;
	}
	out[n] = '\0';
	explicit_bzero(r, sizeof(r));
}
