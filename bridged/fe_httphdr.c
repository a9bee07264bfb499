/*
 * fe_httphdr.c: the request headers of 2026-07-28 streamable HTTP.
 *
 * A modern request says in headers what its body says, so that a proxy
 * can route it without reading JSON: MCP-Protocol-Version (the _meta
 * version), Mcp-Method (the method), Mcp-Name (the tool's name for
 * tools/call, the prompt's for prompts/get, the URI for resources/read)
 * and Mcp-Param-NAME for a tool argument its schema marks with
 * x-mcp-header (ours: "host", as Mcp-Param-Host).  A header that
 * disagrees with the body, or is missing where the body has the value,
 * is refused with 400 and HeaderMismatch (-32020): the two must never
 * mean different things to different readers.  Values are compared
 * after the optional whitespace around them is dropped; one written as
 * =?base64?...?= is decoded first, and must be valid Base64.
 */

#include <sys/types.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event.h>
#include <event2/http.h>
#include <jansson.h>

#include "bridged.h"
#include "log.h"
#include "fe_mcp.h"
#include "fe_http.h"

#define HDR_VALUE_MAX	1024

#define META_VERSION	"io.modelcontextprotocol/protocolVersion"
#define META_CAPS	"io.modelcontextprotocol/clientCapabilities"

static int	 b64_decode(const char *, char *, size_t);
static int	 hdr_value(struct evhttp_request *, const char *, char *,
		    size_t);
static int	 mismatch(struct evhttp_request *, json_t *, const char *,
		    ...) __attribute__((__format__ (printf, 3, 4)));

static int
mismatch(struct evhttp_request *req, json_t *id, const char *fmt, ...)
{
	va_list	 ap;
	char	 text[256];

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	http_refuse(req, 400, id, MCP_HEADER_MISMATCH, "HeaderMismatch: %s",
	    text);
	return -1;
}

/* strict Base64 (RFC 4648, padded): -1 on anything else */
static int
b64_decode(const char *in, char *out, size_t size)
{
	static const char	 alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				     "abcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t			 len = strlen(in), i, o = 0;
	const char		*p;
	unsigned int		 acc = 0;
	int			 pad = 0, j;

	if (len == 0 || len % 4 != 0)
		return -1;
	for (i = 0; i < len; i += 4) {
		acc = 0;
		for (j = 0; j < 4; j++) {
			if (in[i + j] == '=') {
				/* only at the very end, at most two */
				if (i + 4 != len || j < 2)
					return -1;
				pad++;
				acc <<= 6;
				continue;
			}
			if (pad > 0 || (p = strchr(alpha, in[i + j])) == NULL ||
			    in[i + j] == '\0')
				return -1;
			acc = (acc << 6) | (unsigned int)(p - alpha);
		}
		if (o + 3 >= size)
			return -1;
		out[o++] = acc >> 16;
		if (pad < 2)
			out[o++] = (acc >> 8) & 0xff;
		if (pad < 1)
			out[o++] = acc & 0xff;
	}
	out[o] = '\0';
	if (strlen(out) != o)
		return -1;	/* a NUL inside */
	return 0;
}

/* 0 value, -1 absent, -2 not valid */
static int
hdr_value(struct evhttp_request *req, const char *name, char *buf,
    size_t size)
{
	char	 raw[HDR_VALUE_MAX];
	size_t	 len;
	int	 r;

	if ((r = http_header_trim(req, name, raw, sizeof(raw))) != 0)
		return r;
	len = strlen(raw);
	if (len > 11 && strncmp(raw, "=?base64?", 9) == 0 &&
	    strcmp(raw + len - 2, "?=") == 0) {
		raw[len - 2] = '\0';
		return b64_decode(raw + 9, buf, size) == 0 ? 0 : -2;
	}
	if (strlcpy(buf, raw, size) >= size)
		return -2;
	return 0;
}

int
httphdr_modern(struct evhttp_request *req, json_t *msg)
{
	json_t		*id, *params, *meta, *v, *args;
	const char	*method, *mv, *name = NULL, *namekey = NULL;
	char		 val[HDR_VALUE_MAX];
	int		 r;

	id = json_object_get(msg, "id");
	if (!json_is_string(json_object_get(msg, "method")))
		return 0;	/* fe_jsonrpc.c says what is wrong */
	method = json_string_value(json_object_get(msg, "method"));
	params = json_object_get(msg, "params");
	meta = json_object_get(params, "_meta");
	if (id != NULL) {
		if (!json_is_object(meta) ||
		    !json_is_string(json_object_get(meta, META_VERSION)) ||
		    !json_is_object(json_object_get(meta, META_CAPS))) {
			http_refuse(req, 400, id, JSONRPC_INVALID_PARAMS,
			    "invalid params: a 2026-07-28 request carries "
			    "_meta with " META_VERSION " and " META_CAPS);
			return -1;
		}
		mv = json_string_value(json_object_get(meta, META_VERSION));
		r = http_header_trim(req, "MCP-Protocol-Version", val,
		    sizeof(val));
		if (r != 0 || strcmp(val, mv) != 0)
			return mismatch(req, id, "MCP-Protocol-Version %s the "
			    "_meta protocol version", r != 0 ? "missing; "
			    "it must be" : "differs from");
		/* both name one we do not speak: fe_era.c answers -32022 */
		if (strcmp(mv, MCP_MODERN_VERSION) != 0)
			return 0;
	}
	r = http_header_trim(req, "Mcp-Method", val, sizeof(val));
	if (r != 0 || strcmp(val, method) != 0)
		return mismatch(req, id, "Mcp-Method %s the body's method",
		    r != 0 ? "missing; it must be" : "differs from");
	if (strcmp(method, "tools/call") == 0 ||
	    strcmp(method, "prompts/get") == 0)
		namekey = "name";
	else if (strcmp(method, "resources/read") == 0)
		namekey = "uri";
	if (namekey != NULL && json_is_string(v = json_object_get(params,
	    namekey)))
		name = json_string_value(v);
	r = http_header_trim(req, "Mcp-Name", val, sizeof(val));
	if (name != NULL && (r != 0 || strcmp(val, name) != 0))
		return mismatch(req, id, "Mcp-Name %s the body's %s",
		    r != 0 ? "missing; it must be" : "differs from", namekey);
	if (strcmp(method, "tools/call") != 0)
		return 0;
	/* tools/list marks "host" x-mcp-header: Mcp-Param-Host mirrors it */
	args = json_object_get(params, "arguments");
	v = json_object_get(args, "host");
	r = hdr_value(req, "Mcp-Param-Host", val, sizeof(val));
	if (r == -2)
		return mismatch(req, id, "Mcp-Param-Host is not valid: a "
		    "plain value or =?base64?...?= with valid Base64");
	if (r == 0 && !json_is_string(v))
		return mismatch(req, id, "Mcp-Param-Host given, but the "
		    "arguments have no host");
	if (json_is_string(v) && (r != 0 || strcmp(val,
	    json_string_value(v)) != 0))
		return mismatch(req, id, "Mcp-Param-Host %s the host "
		    "argument", r != 0 ? "missing; it must mirror" :
		    "differs from");
	return 0;
}
