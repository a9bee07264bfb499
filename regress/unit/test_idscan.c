/*
 * test_idscan.c: fe_idscan.c, the id of a request read in pieces.  Every
 * case is fed whole, one byte at a time and in two halves, and must give
 * the same answer each way: the pieces a line arrives in never matter.
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fe_mcp.h"
#include "tap.h"

/* the id's JSON text ("" for none), fed in pieces of step bytes */
static char *
scan(const char *line, size_t len, size_t step, int *notif)
{
	struct idscan	 sc;
	json_t		*id;
	size_t		 i, k;
	char		*t;

	memset(&sc, 0, sizeof(sc));
	idscan_init(&sc);
	for (i = 0; i < len; i += k) {
		k = step == 0 ? len : step;
		if (k > len - i)
			k = len - i;
		idscan_feed(&sc, line + i, k);
	}
	id = idscan_end(&sc, notif);
	t = id != NULL ? json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT) :
	    strdup("");
	idscan_clear(&sc);
	return t;
}

/* want: the id as JSON text, "" for none; notif: -1 don't care */
static void
check(const char *what, const char *line, size_t len, const char *want,
    int wantnotif)
{
	size_t	 steps[] = { 0, 1, 7, len / 2 + 1 };
	size_t	 i;
	char	*got;
	int	 good = 1, notif;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		got = scan(line, len, steps[i], &notif);
		if (strcmp(got, want) != 0 ||
		    (wantnotif != -1 && notif != wantnotif)) {
			printf("# step %zu: got '%s' (notification %d)\n",
			    steps[i], got, notif);
			good = 0;
		}
		free(got);
	}
	ok(good, "%s", what);
}

#define CHECK(what, line, want, n) check(what, line, strlen(line), want, n)

int
main(void)
{
	char	*big, *p;
	size_t	 n = 200000;

	CHECK("integer id", "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"x\"}",
	    "7", 0);
	CHECK("string id", "{\"id\":\"abc\",\"method\":\"x\"}", "\"abc\"", 0);
	CHECK("negative id, blanks around", " { \"id\" : -12 , \"m\":1 } ",
	    "-12", 0);
	CHECK("id last", "{\"method\":\"x\",\"id\":3}", "3", 0);
	CHECK("string id with escapes", "{\"id\":\"a\\\"b\\\\\\u00fc\"}",
	    "\"a\\\"b\\\\\xc3\xbc\"", 0);
	CHECK("escaped key \\u0069d is id", "{\"\\u0069d\":5}", "5", 0);
	CHECK("id in a nested object is not the request's",
	    "{\"params\":{\"id\":9},\"method\":\"x\"}", "", 1);
	CHECK("id in an array is not the request's",
	    "{\"params\":[{\"id\":9},\"}\"],\"x\":1}", "", 1);
	CHECK("\"id\" inside a string value is no key",
	    "{\"x\":\"\\\",\\\"id\\\":4\",\"method\":\"y\"}", "", 1);
	CHECK("brackets inside nested strings are skipped",
	    "{\"p\":{\"a\":\"}}]]\\\"{\"},\"id\":\"ok\"}", "\"ok\"", 0);
	CHECK("a notification", "{\"jsonrpc\":\"2.0\",\"method\":\"n\"}", "",
	    1);
	CHECK("an empty object is no request", "{}", "", 1);
	CHECK("float id is not read", "{\"id\":1.5}", "", 0);
	CHECK("exponent id is not read", "{\"id\":1e3}", "", 0);
	CHECK("null id is not read", "{\"id\":null}", "", 0);
	CHECK("object id is not read", "{\"id\":{\"a\":1}}", "", 0);
	CHECK("leading zero is not an integer", "{\"id\":01}", "", 0);
	CHECK("an integer too big is not read",
	    "{\"id\":123456789012345678901234567890}", "", 0);
	CHECK("duplicate id is not trusted", "{\"id\":1,\"id\":2}", "", 0);
	CHECK("duplicate id in another spelling",
	    "{\"id\":1,\"i\\u0064\":1}", "", 0);
	CHECK("a batch has no id", "[{\"id\":1}]", "", 0);
	CHECK("not JSON", "hello \"id\":1", "", 0);
	CHECK("an unclosed object is not trusted", "{\"id\":1,\"x\":\"",
	    "", 0);
	CHECK("trailing garbage is not trusted", "{\"id\":1} x", "", 0);
	CHECK("a trailing comma is not trusted", "{\"id\":1,}", "", 0);
	CHECK("a missing colon is not trusted", "{\"id\" 1}", "", 0);
	CHECK("an id with a NUL escape is not read", "{\"id\":\"a\\u0000\"}",
	    "", 0);
	CHECK("invalid UTF-8 in the id is not read", "{\"id\":\"\xff\"}", "",
	    0);
	CHECK("a long key is skipped", "{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":1,"
	    "\"id\":2}", "2", 0);

	/* an id after a huge member, and one too long to be read */
	big = malloc(n + 64);
	p = big + sprintf(big, "{\"method\":\"ping\",\"params\":{\"pad\":\"");
	memset(p, 'x', n);
	strcpy(p + n, "\"},\"id\":\"late\"}");
	CHECK("id after a 200K member", big, "\"late\"", 0);
	p = big + sprintf(big, "{\"id\":\"");
	memset(p, 'y', 300);
	strcpy(p + 300, "\"}");
	CHECK("an id over 256 bytes is not read", big, "", 0);
	p = big + sprintf(big, "{\"deep\":");
	memset(p, '[', n);
	p[n] = '\0';
	CHECK("200K open brackets: nothing, no recursion", big, "", 0);
	free(big);
	return tap_done();
}
