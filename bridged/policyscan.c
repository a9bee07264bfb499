/*
 * policyscan.c: the two parts of the policy that never refuse: output
 * scanning for prompt injection (a hit adds a warning to the result),
 * and redaction of secrets in what goes to the audit log and the logs.
 */

#include <sys/types.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sha2.h>

#include "bridged.h"
#include "policy.h"

static size_t	 fold(const char *, size_t, char *);
static size_t	 redact_at(const char *, size_t, size_t, size_t *);
static json_t	*redact_value(json_t *);

/*
 * Prompt-injection phrases and fake markup, lowercase, whitespace already
 * collapsed to single spaces.  A hit only adds a warning to the result.
 */
static const char *scan_builtin[] = {
	"ignore previous instructions",
	"ignore all previous instructions",
	"ignore the previous instructions",
	"ignore prior instructions",
	"ignore all prior instructions",
	"ignore the above instructions",
	"ignore all the above",
	"ignore your instructions",
	"ignore your previous instructions",
	"disregard previous instructions",
	"disregard all previous",
	"disregard the above",
	"disregard your instructions",
	"disregard prior instructions",
	"forget previous instructions",
	"forget all previous instructions",
	"forget your instructions",
	"forget everything above",
	"override your instructions",
	"new instructions:",
	"your new instructions are",
	"you are now in developer mode",
	"system prompt:",
	"<system>",
	"</system>",
	"<system-reminder>",
	"<|system|>",
	"<|im_start|>",
	"<|im_end|>",
	"<|endoftext|>",
	"[inst]",
	"<<sys>>",
	"<function_calls>",
	"</function_calls>",
	"<invoke name=",
	"<tool_use>",
	"<tool_call>",
	"<tool_result>",
	"\"type\":\"tool_use\"",
	"\"type\": \"tool_use\"",
	NULL
};

/* ---- output scanning ------------------------------------------------- */

/*
 * The first built-in or configured pattern found in text, or NULL.  Case
 * is ignored and every run of whitespace counts as one space, so line
 * breaks and padding do not hide a phrase.
 */
const char *
policy_scan(const char *text, size_t len, const struct strlist *extra)
{
	struct strentry	*se;
	const char	*hit = NULL;
	char		*t, *pat;
	size_t		 i, k, pn;

	if ((t = malloc(len + 1)) == NULL)
		return "(not scanned: out of memory)";
	fold(text, len, t);
	for (i = 0; scan_builtin[i] != NULL && hit == NULL; i++)
		if (strstr(t, scan_builtin[i]) != NULL)
			hit = scan_builtin[i];
	if (hit == NULL && extra != NULL) {
		TAILQ_FOREACH(se, extra, entry) {
			pn = strlen(se->s);
			if ((pat = malloc(pn + 1)) == NULL)
				break;
			/* the same folding as the text */
			k = fold(se->s, pn, pat);
			if (k > 0 && strstr(t, pat) != NULL)
				hit = se->s;
			free(pat);
			if (hit != NULL)
				break;
		}
	}
	free(t);
	return hit;
}

/*
 * Lowercase, every run of whitespace (or NULs) one space, none leading:
 * into out (len + 1 bytes), NUL-terminated; returns its length.
 */
static size_t
fold(const char *s, size_t len, char *out)
{
	size_t	 i, n = 0;
	int	 sp = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = s[i];

		if (isspace(c) || c == '\0') {
			sp = 1;
			continue;
		}
		if (sp && n > 0)
			out[n++] = ' ';
		sp = 0;
		out[n++] = tolower(c);
	}
	out[n] = '\0';
	return n;
}

/* ---- redaction ------------------------------------------------------- */

static int
tokchar(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '-';
}

static size_t
span(const char *s, size_t len, size_t i, int (*ok)(unsigned char))
{
	size_t	 j = i;

	while (j < len && ok((unsigned char)s[j]))
		j++;
	return j - i;
}

static int
b64urlchar(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '-' || c == '=';
}

static int
upalnum(unsigned char c)
{
	return isupper(c) || isdigit(c);
}

static int
keychar(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '-' || c == '.';
}

static int
valchar(unsigned char c)
{
	return c > 0x20 && c != '"' && c != '\'' && c != '&' && c != ';' &&
	    c != ',' && c != '}' && c != 0x7f;
}

/* key names whose value is a secret; matched as the end of the key */
static const char *secret_keys[] = {
	"password", "passwd", "passphrase", "token", "secret", "apikey",
	"api_key", "api-key", "access_key", "accesskey", "private_key",
	"privatekey", "credential", "credentials", "authorization", "cookie",
	NULL
};

static int
key_secret(const char *s, size_t len)
{
	char	 k[64];
	size_t	 i, kl;

	if (len == 0 || len >= sizeof(k))
		return 0;
	for (i = 0; i < len; i++)
		k[i] = tolower((unsigned char)s[i]);
	k[len] = '\0';
	for (i = 0; secret_keys[i] != NULL; i++) {
		kl = strlen(secret_keys[i]);
		if (len >= kl && strcmp(k + len - kl, secret_keys[i]) == 0)
			return 1;
	}
	return 0;
}

/*
 * A secret starting at s[i]?  Returns the number of bytes to replace
 * (0: none) and in *keep how many of them to keep in front (a key name,
 * "Bearer ").
 */
static size_t
redact_at(const char *s, size_t len, size_t i, size_t *keep)
{
	static const char	*prefixes[] = { "ghp_", "gho_", "ghu_", "ghs_",
				    "ghr_", "github_pat_", "glpat-", "xoxb-",
				    "xoxa-", "xoxp-", "xoxr-", "xoxs-",
				    "xapp-", "sk-", "rk_live_", "sk_live_",
				    "npm_", NULL };
	const char	*p = s + i, *e;
	size_t		 n, k, j, a, b;

	*keep = 0;
	/* private key blocks, to their end (or the end of the text) */
	if (len - i > 11 && strncmp(p, "-----BEGIN ", 11) == 0) {
		e = memchr(p, '\n', len - i);
		n = e ? (size_t)(e - p) : len - i;
		if (memmem(p, n, "PRIVATE KEY-----", 16) != NULL) {
			e = memmem(p, len - i, "-----END ", 9);
			if (e != NULL && (e = memmem(e + 9, len - (e + 9 - s),
			    "-----", 5)) != NULL)
				return e + 5 - p;
			return len - i;
		}
	}
	if (i > 0 && tokchar((unsigned char)s[i - 1]))
		goto keyval;
	for (k = 0; prefixes[k] != NULL; k++) {
		n = strlen(prefixes[k]);
		if (len - i > n && strncmp(p, prefixes[k], n) == 0 &&
		    span(s, len, i + n, tokchar) >= 16)
			return n + span(s, len, i + n, tokchar);
	}
	if (len - i >= 20 && (strncmp(p, "AKIA", 4) == 0 ||
	    strncmp(p, "ASIA", 4) == 0) && span(s, len, i + 4, upalnum) >= 16)
		return 4 + span(s, len, i + 4, upalnum);
	if (len - i > 39 && strncmp(p, "AIza", 4) == 0 &&
	    span(s, len, i + 4, tokchar) >= 35)
		return 4 + span(s, len, i + 4, tokchar);
	/* JSON Web Tokens: three base64url parts, the first two JSON */
	if (len - i > 20 && strncmp(p, "eyJ", 3) == 0) {
		a = span(s, len, i, b64urlchar);
		if (a >= 10 && i + a < len && s[i + a] == '.') {
			b = span(s, len, i + a + 1, b64urlchar);
			if (b >= 2 && i + a + 1 + b < len &&
			    s[i + a + 1 + b] == '.')
				return a + 2 + b +
				    span(s, len, i + a + 2 + b, b64urlchar);
		}
	}
	if (len - i > 7 && strncasecmp(p, "bearer ", 7) == 0 &&
	    span(s, len, i + 7, valchar) >= 8) {
		*keep = 7;
		return 7 + span(s, len, i + 7, valchar);
	}
 keyval:
	/* KEY=value, KEY: value, "KEY": "value", --KEY value */
	if (!keychar((unsigned char)*p) || (i > 0 &&
	    keychar((unsigned char)s[i - 1])))
		return 0;
	n = span(s, len, i, keychar);
	k = 0;
	if (p[0] == '-') {
		/* --password VALUE; a single dash is no key */
		if (n < 3 || p[1] != '-')
			return 0;
		k = 2;
	}
	if (!key_secret(p + k, n - k))
		return 0;
	j = i + n;
	if (j < len && (s[j] == '"' || s[j] == '\''))
		j++;
	while (j < len && s[j] == ' ')
		j++;
	if (j < len && (s[j] == '=' || s[j] == ':'))
		j++;
	else if (k == 0 || j == i + n)
		return 0;	/* a flag needs its blank; a key its = or : */
	while (j < len && (s[j] == ' ' || s[j] == '\t'))
		j++;
	if (j < len && (s[j] == '"' || s[j] == '\'')) {
		e = memchr(s + j + 1, s[j], len - j - 1);
		*keep = j + 1 - i;
		n = e ? (size_t)(e - (s + j + 1)) : len - j - 1;
		return n > 0 ? *keep + n : 0;
	}
	/* "Authorization: Bearer TOKEN": the scheme stays, the token goes */
	if (len - j > 7 && strncasecmp(s + j, "bearer ", 7) == 0)
		j += 7;
	else if (len - j > 6 && strncasecmp(s + j, "basic ", 6) == 0)
		j += 6;
	*keep = j - i;
	n = span(s, len, j, valchar);
	return n > 0 ? *keep + n : 0;
}

/* text with every secret replaced by [REDACTED]; NUL-terminated, malloc */
char *
policy_redact(const char *s, size_t len)
{
	char	*out, *no;
	size_t	 i = 0, o = 0, size = len + 1, n, keep;

	if ((out = malloc(size)) == NULL)
		return NULL;
	while (i < len) {
		if ((n = redact_at(s, len, i, &keep)) > 0) {
			if (o + keep + 11 > size) {
				size = o + keep + 11 + (len - i) + 1;
				if ((no = realloc(out, size)) == NULL) {
					free(out);
					return NULL;
				}
				out = no;
			}
			memcpy(out + o, s + i, keep);
			o += keep;
			memcpy(out + o, "[REDACTED]", 10);
			o += 10;
			i += n;
			continue;
		}
		if (o + 2 > size) {
			size = size * 2;
			if ((no = realloc(out, size)) == NULL) {
				free(out);
				return NULL;
			}
			out = no;
		}
		out[o++] = s[i++];
	}
	out[o] = '\0';
	return out;
}

static json_t *
redact_value(json_t *v)
{
	json_t		*c, *e;
	const char	*k;
	char		*r;
	size_t		 i;

	switch (json_typeof(v)) {
	case JSON_STRING:
		if ((r = policy_redact(json_string_value(v),
		    json_string_length(v))) == NULL)
			return json_string("[REDACTED: out of memory]");
		c = json_stringn_nocheck(r, strlen(r));
		free(r);
		return c;
	case JSON_ARRAY:
		c = json_array();
		json_array_foreach(v, i, e)
			json_array_append_new(c, redact_value(e));
		return c;
	case JSON_OBJECT:
		c = json_object();
		json_object_foreach(v, k, e)
			json_object_set_new(c, k, redact_value(e));
		return c;
	default:
		return json_deep_copy(v);
	}
}

/*
 * A copy of a call's arguments fit for the audit log: secrets redacted
 * everywhere, and what Write writes replaced by its size and SHA-256.
 */
json_t *
policy_redact_args(const char *tool, json_t *args)
{
	json_t	*c, *v;
	char	 hex[SHA256_DIGEST_STRING_LENGTH], desc[128];

	if (args == NULL)
		return json_null();
	c = redact_value(args);
	if (c != NULL && json_is_object(args) && strcmp(tool, "Write") == 0 &&
	    json_is_string(v = json_object_get(args, "content"))) {
		SHA256Data((const uint8_t *)json_string_value(v),
		    json_string_length(v), hex);
		snprintf(desc, sizeof(desc), "[%zu bytes, sha256 %s]",
		    json_string_length(v), hex);
		json_object_set_new(c, "content", json_string(desc));
	}
	return c;
}
