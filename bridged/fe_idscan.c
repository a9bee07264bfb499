/*
 * fe_idscan.c: find the id of a JSON-RPC request in a line that is never
 * held whole.  A line over the size limit is skipped as it arrives
 * (fe_mcp.c), and so is the first line of a client over the session
 * limit; either is still answered, and an answer a client can match to
 * its request needs the request's id.
 *
 * The scanner is fed the line's bytes in pieces and keeps a few counters
 * and two small buffers: the key being read at the top level and the id's
 * JSON text.  It follows the top-level object only: members below it are
 * skipped by counting brackets outside strings.  It is as strict as the
 * parser would be about what it looks at: the line must be one object
 * whose top level is well-formed, with at most one "id" member (the
 * parser refuses duplicate keys), a string or an integer.  The key and
 * the id are decoded by jansson, so "\u0069d" is "id" and an id with
 * escapes is echoed as the client meant it.  Anything else, anywhere it
 * looks, makes the id unreadable, and the caller answers with id null.
 *
 * Pure code: no I/O, nothing process-specific.
 */

#include <sys/types.h>

#include <string.h>

#include <jansson.h>

#include "fe_mcp.h"

enum {
	IDS_START,	/* before the top-level '{' */
	IDS_KEY,	/* expecting a key (or '}' after '{') */
	IDS_INKEY,	/* inside a top-level key */
	IDS_COLON,	/* after a key */
	IDS_VALUE,	/* expecting a value */
	IDS_INSTR,	/* inside a string value being skipped */
	IDS_NESTED,	/* inside an object or array being skipped */
	IDS_SCALAR,	/* inside a number or literal being skipped */
	IDS_IDSTR,	/* inside the id, a string */
	IDS_IDNUM,	/* inside the id, a number */
	IDS_AFTER,	/* after a value: ',' or '}' */
	IDS_END,	/* after the top-level '}' */
	IDS_FAIL,	/* nothing to trust */
};

static int	 is_ws(char);
static void	 key_done(struct idscan *);
static void	 id_done(struct idscan *);
static void	 after_value(struct idscan *, char);

/* sc is zeroed memory or a scanner used before */
void
idscan_init(struct idscan *sc)
{
	json_decref(sc->id);
	memset(sc, 0, sizeof(*sc));
	sc->state = IDS_START;
}

static int
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* a whole top-level key: is it "id"?  Decoded, so escapes count too. */
static void
key_done(struct idscan *sc)
{
	json_t	*k;
	char	 text[IDSCAN_KEY_MAX + 2];

	sc->isid = 0;
	if (sc->over)
		return;		/* too long to be "id" in any spelling */
	text[0] = '"';
	memcpy(text + 1, sc->buf, sc->len);
	text[sc->len + 1] = '"';
	k = json_loadb(text, sc->len + 2, JSON_DECODE_ANY, NULL);
	if (k == NULL) {
		sc->state = IDS_FAIL;
		return;
	}
	sc->isid = json_string_length(k) == 2 &&
	    memcmp(json_string_value(k), "id", 2) == 0;
	json_decref(k);
	if (sc->isid && sc->nids++ > 0)
		sc->state = IDS_FAIL;	/* a duplicate: the parser refuses */
}

/* the id's whole JSON text: a string or an integer, or nothing */
static void
id_done(struct idscan *sc)
{
	json_t	*v;

	if (sc->over) {
		sc->state = IDS_FAIL;
		return;
	}
	v = json_loadb(sc->buf, sc->len, JSON_DECODE_ANY, NULL);
	if (v == NULL || !(json_is_string(v) || json_is_integer(v))) {
		json_decref(v);
		sc->state = IDS_FAIL;
		return;
	}
	sc->id = v;
}

/* c ends a value at the top level */
static void
after_value(struct idscan *sc, char c)
{
	if (is_ws(c))
		sc->state = IDS_AFTER;
	else if (c == ',')
		sc->state = IDS_KEY;
	else if (c == '}')
		sc->state = IDS_END;
	else
		sc->state = IDS_FAIL;
	sc->first = 0;
}

void
idscan_feed(struct idscan *sc, const char *p, size_t n)
{
	size_t	 i;
	char	 c;

	for (i = 0; i < n && sc->state != IDS_FAIL; i++) {
		c = p[i];
		switch (sc->state) {
		case IDS_START:
			if (c == '{') {
				sc->state = IDS_KEY;
				sc->first = 1;
			} else if (!is_ws(c))
				sc->state = IDS_FAIL;
			break;
		case IDS_KEY:
			if (c == '"') {
				sc->state = IDS_INKEY;
				sc->len = 0;
				sc->over = sc->esc = 0;
			} else if (c == '}' && sc->first)
				sc->state = IDS_END;
			else if (!is_ws(c))
				sc->state = IDS_FAIL;
			break;
		case IDS_INKEY:
			if (!sc->esc && c == '"') {
				key_done(sc);
				if (sc->state != IDS_FAIL)
					sc->state = IDS_COLON;
				break;
			}
			sc->esc = !sc->esc && c == '\\';
			if (sc->len < IDSCAN_KEY_MAX)
				sc->buf[sc->len++] = c;
			else
				sc->over = 1;
			break;
		case IDS_COLON:
			if (c == ':')
				sc->state = IDS_VALUE;
			else if (!is_ws(c))
				sc->state = IDS_FAIL;
			break;
		case IDS_VALUE:
			if (is_ws(c))
				break;
			sc->len = 0;
			sc->over = sc->esc = 0;
			if (sc->isid) {
				if (c == '"')
					sc->state = IDS_IDSTR;
				else if (c == '-' || (c >= '0' && c <= '9'))
					sc->state = IDS_IDNUM;
				else {
					/* null, an object...: not an id */
					sc->state = IDS_FAIL;
					break;
				}
				sc->buf[sc->len++] = c;
			} else if (c == '"')
				sc->state = IDS_INSTR;
			else if (c == '{' || c == '[') {
				sc->state = IDS_NESTED;
				sc->depth = 1;
				sc->instr = 0;
			} else if (c == ',' || c == '}' || c == ']' ||
			    c == ':')
				sc->state = IDS_FAIL;
			else
				sc->state = IDS_SCALAR;
			break;
		case IDS_INSTR:
			if (!sc->esc && c == '"')
				sc->state = IDS_AFTER;
			sc->esc = !sc->esc && c == '\\';
			break;
		case IDS_NESTED:
			if (sc->instr) {
				if (!sc->esc && c == '"')
					sc->instr = 0;
				sc->esc = !sc->esc && c == '\\';
			} else if (c == '"') {
				sc->instr = 1;
				sc->esc = 0;
			} else if (c == '{' || c == '[')
				sc->depth++;
			else if ((c == '}' || c == ']') && --sc->depth == 0)
				sc->state = IDS_AFTER;
			break;
		case IDS_SCALAR:
			if (is_ws(c) || c == ',' || c == '}')
				after_value(sc, c);
			break;
		case IDS_IDSTR:
			if (sc->len < IDSCAN_VAL_MAX)
				sc->buf[sc->len++] = c;
			else
				sc->over = 1;
			if (!sc->esc && c == '"') {
				id_done(sc);
				if (sc->state != IDS_FAIL)
					sc->state = IDS_AFTER;
				break;
			}
			sc->esc = !sc->esc && c == '\\';
			break;
		case IDS_IDNUM:
			if (is_ws(c) || c == ',' || c == '}') {
				id_done(sc);
				if (sc->state != IDS_FAIL)
					after_value(sc, c);
			} else if (sc->len < IDSCAN_VAL_MAX)
				sc->buf[sc->len++] = c;
			else
				sc->over = 1;
			break;
		case IDS_AFTER:
			after_value(sc, c);
			break;
		case IDS_END:
			if (!is_ws(c))
				sc->state = IDS_FAIL;
			break;
		}
	}
}

/*
 * The line is over: its id (borrowed, valid until the next idscan_init),
 * or NULL when there was none or it could not be trusted.
 * *notification is set when the line was a well-formed object without
 * an id: a notification, which is never answered.
 */
json_t *
idscan_end(struct idscan *sc, int *notification)
{
	if (notification != NULL)
		*notification = sc->state == IDS_END && sc->nids == 0;
	if (sc->state != IDS_END)
		return NULL;
	return sc->id;
}

void
idscan_clear(struct idscan *sc)
{
	json_decref(sc->id);
	sc->id = NULL;
}
