/*
 * test_sha256.c: the FIPS 180-4 example vectors, block boundaries, and
 * feeding a message in pieces of every size.
 */

#include <stdlib.h>
#include <string.h>

#include "sha256.h"
#include "tap.h"

static void
digest_pieces(const char *msg, size_t len, size_t piece, char *hex)
{
	struct sha256	 c;
	uint8_t		 d[SHA256_LEN];
	size_t		 off, n;

	sha256_init(&c);
	for (off = 0; off < len; off += n) {
		n = len - off < piece ? len - off : piece;
		sha256_update(&c, msg + off, n);
	}
	sha256_final(&c, d);
	sha256_tohex(d, hex);
}

int
main(void)
{
	const char	*two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	char		 hex[SHA256_HEXLEN], hex2[SHA256_HEXLEN];
	uint8_t		 d[SHA256_LEN];
	char		*million;
	size_t		 piece;
	int		 same;

	sha256_hex("", 0, hex);
	ok(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0,
	    "empty message");
	sha256_hex("abc", 3, hex);
	ok(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0,
	    "\"abc\"");
	sha256_hex(two, strlen(two), hex);
	ok(strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1") == 0,
	    "448-bit message (two blocks of padding)");

	if ((million = malloc(1000000)) == NULL)
		return 1;
	memset(million, 'a', 1000000);
	sha256_hex(million, 1000000, hex);
	ok(strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0,
	    "one million 'a'");
	same = 1;
	for (piece = 1; piece <= 130; piece++) {
		digest_pieces(million, 1000, piece, hex2);
		sha256_hex(million, 1000, hex);
		if (strcmp(hex, hex2) != 0)
			same = 0;
	}
	ok(same, "pieces of 1..130 bytes give the same digest");
	free(million);

	ok(sha256_fromhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", d) == 0 &&
	    d[0] == 0xba && d[31] == 0xad, "hex decodes");
	ok(sha256_fromhex("xyz", d) == -1 &&
	    sha256_fromhex("ga7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", d) == -1,
	    "bad hex refused");
	return tap_done();
}
