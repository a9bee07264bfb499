/*
 * sha256.h: SHA-256 (FIPS 180-4) for the audit hash chain and for the
 * digests of file contents that are recorded instead of the contents.
 */

#ifndef SHA256_H
#define SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN	32
#define SHA256_HEXLEN	65		/* 64 hex digits and a NUL */

struct sha256 {
	uint32_t	 h[8];
	uint64_t	 nbytes;
	uint8_t		 block[64];
	size_t		 fill;
};

void	sha256_init(struct sha256 *);
void	sha256_update(struct sha256 *, const void *, size_t);
void	sha256_final(struct sha256 *, uint8_t [SHA256_LEN]);
/* one call: digest of a buffer as lower-case hex */
void	sha256_hex(const void *, size_t, char [SHA256_HEXLEN]);
void	sha256_tohex(const uint8_t [SHA256_LEN], char [SHA256_HEXLEN]);
/* 64 hex digits -> 32 bytes: 0, or -1 when s is not that */
int	sha256_fromhex(const char *, uint8_t [SHA256_LEN]);

#endif /* SHA256_H */
