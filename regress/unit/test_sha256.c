/*
 * test_sha256.c: the SHA-256 the audit chain and the digests of written
 * files use (libmd's sha2.h, OpenBSD's API): the FIPS 180-4 example
 * vectors, block boundaries, a message fed in pieces of every size; and
 * the hex encoding of text.c that turns digests into record text.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sha2.h>

#include "text.h"
#include "tap.h"

static void
digest_pieces(const char *msg, size_t len, size_t piece, char *hex)
{
	SHA2_CTX	 c;
	uint8_t		 d[SHA256_DIGEST_LENGTH];
	size_t		 off, n;

	SHA256Init(&c);
	for (off = 0; off < len; off += n) {
		n = len - off < piece ? len - off : piece;
		SHA256Update(&c, (const uint8_t *)msg + off, n);
	}
	SHA256Final(d, &c);
	hex_encode(d, sizeof(d), hex);
}

static int
digest_is(const char *msg, size_t len, const char *want)
{
	char	 hex[SHA256_DIGEST_STRING_LENGTH];

	SHA256Data((const uint8_t *)msg, len, hex);
	return strcmp(hex, want) == 0;
}

int
main(void)
{
	const char	*two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	char		 hex[SHA256_DIGEST_STRING_LENGTH];
	char		 hex2[SHA256_DIGEST_STRING_LENGTH];
	uint8_t		 d[SHA256_DIGEST_LENGTH];
	char		*million;
	size_t		 piece, len;
	int		 same;

	ok(SHA256_DIGEST_LENGTH == 32 && SHA256_DIGEST_STRING_LENGTH == 65,
	    "digest sizes");
	ok(digest_is("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
	    "empty message");
	ok(digest_is("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
	    "\"abc\"");
	ok(digest_is(two, strlen(two), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
	    "448-bit message (two blocks of padding)");

	if ((million = malloc(1000000)) == NULL)
		return 1;
	memset(million, 'a', 1000000);
	ok(digest_is(million, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
	    "one million 'a'");
	same = 1;
	for (piece = 1; piece <= 130; piece++) {
		digest_pieces(million, 1000, piece, hex2);
		SHA256Data((const uint8_t *)million, 1000, hex);
		if (strcmp(hex, hex2) != 0)
			same = 0;
	}
	ok(same, "pieces of 1..130 bytes give the same digest");
	/* lengths around the 55/56/64-byte padding boundaries */
	same = 1;
	for (len = 50; len <= 130; len++) {
		digest_pieces(million, len, 7, hex2);
		SHA256Data((const uint8_t *)million, len, hex);
		if (strcmp(hex, hex2) != 0)
			same = 0;
	}
	ok(same, "every length of 50..130 bytes agrees in pieces and whole");
	free(million);

	ok(hex_decode("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", d, sizeof(d)) == 0 &&
	    d[0] == 0xba && d[31] == 0xad, "hex decodes");
	hex_encode(d, sizeof(d), hex);
	ok(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0,
	    "hex encodes back, lower case");
	ok(hex_decode("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", d, sizeof(d)) == 0 &&
	    d[1] == 0x78, "upper-case hex decodes");
	ok(hex_decode("xyz", d, sizeof(d)) == -1 &&
	    hex_decode("ga7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", d, sizeof(d)) == -1 &&
	    hex_decode("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad00", d, sizeof(d)) == -1,
	    "bad hex refused");
	return tap_done();
}
