/*
 * ssh_toolarg.c: checking the arguments of the ssh worker's tools.  The
 * frontend checked them against each tool's schema already; these
 * checks are what the worker itself relies on.  A bad argument leaves
 * its message in err (ERRSZ bytes) for the tool to answer with.
 */

#include <sys/types.h>

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bridged.h"
#include "ssh.h"

int
args_object(struct sshcall *call)
{
	if (call->args == NULL || !json_is_object(call->args)) {
		sshcall_text(call, 1, "%s: arguments must be a JSON object",
		    call->tool);
		return 0;
	}
	return 1;
}

/* 0: *out set (NULL when absent and optional); -1: message in err */
int
arg_str(json_t *obj, const char *name, int required, const char **out,
    char *err)
{
	json_t	*v = json_object_get(obj, name);

	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		if (!required)
			return 0;
		snprintf(err, ERRSZ, "%s is required", name);
		return -1;
	}
	if (!json_is_string(v)) {
		snprintf(err, ERRSZ, "%s must be a string", name);
		return -1;
	}
	if (strlen(json_string_value(v)) != json_string_length(v)) {
		snprintf(err, ERRSZ, "%s contains a NUL character", name);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

/* integers; a number with no fraction or a string of digits will do */
int
arg_int(json_t *obj, const char *name, long long min, long long max,
    long long def, long long *out, char *err)
{
	json_t		*v = json_object_get(obj, name);
	const char	*errstr;
	double		 d;

	*out = def;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_integer(v))
		*out = json_integer_value(v);
	else if (json_is_real(v)) {
		d = json_real_value(v);
		if (d != (double)(long long)d) {
			snprintf(err, ERRSZ, "%s must be a whole number",
			    name);
			return -1;
		}
		*out = (long long)d;
	} else if (json_is_string(v)) {
		*out = strtonum(json_string_value(v), LLONG_MIN, LLONG_MAX,
		    &errstr);
		if (errstr != NULL) {
			snprintf(err, ERRSZ, "%s must be an integer", name);
			return -1;
		}
	} else {
		snprintf(err, ERRSZ, "%s must be an integer", name);
		return -1;
	}
	if (*out < min || *out > max) {
		snprintf(err, ERRSZ, "%s must be between %lld and %lld", name,
		    min, max);
		return -1;
	}
	return 0;
}

int
arg_bool(json_t *obj, const char *name, int def, int *out, char *err)
{
	json_t	*v = json_object_get(obj, name);

	*out = def;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_boolean(v)) {
		snprintf(err, ERRSZ, "%s must be true or false", name);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

/*
 * A remote path argument.  Relative paths are taken from the host's base
 * dir when it has one, else they are left to the server (its home).
 * Absent and optional: the base dir, or "." (home).
 */
int
arg_path(struct sshcall *call, json_t *obj, const char *name, int required,
    char *out, char *err)
{
	const char	*s, *base = call->host->conf ?
			    call->host->conf->base_dir : "";
	int		 n;

	if (arg_str(obj, name, required, &s, err) == -1)
		return -1;
	if (s == NULL) {
		strlcpy(out, base[0] ? base : ".", PATH_MAX);
		return 0;
	}
	if (*s == '\0') {
		snprintf(err, ERRSZ, "%s is empty", name);
		return -1;
	}
	if (s[0] != '/' && base[0] != '\0')
		n = snprintf(out, PATH_MAX, "%s/%s", base, s);
	else
		n = snprintf(out, PATH_MAX, "%s", s);
	if (n < 0 || n >= PATH_MAX) {
		snprintf(err, ERRSZ, "%s is too long", name);
		return -1;
	}
	return 0;
}

/* a number of milliseconds: absent = def, else 1..max */
int
arg_ms(json_t *obj, const char *name, int def, int max, int *ms, char *err)
{
	json_t	*v = json_object_get(obj, name);
	double	 d;

	*ms = def;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_number(v)) {
		snprintf(err, ERRSZ, "%s must be a number of milliseconds",
		    name);
		return -1;
	}
	d = json_number_value(v);
	if (!(d >= 1 && d <= max)) {
		snprintf(err, ERRSZ, "%s must be between 1 and %d"
		    " milliseconds", name, max);
		return -1;
	}
	*ms = (int)d;
	return 0;
}

/*
 * An optional string, as it is (a NUL inside it is not looked for):
 * NULL when absent; *bad set when present but not a string.
 */
const char *
arg_optstr(json_t *obj, const char *name, int *bad)
{
	json_t	*v = json_object_get(obj, name);

	if (v == NULL || json_is_null(v))
		return NULL;
	if (!json_is_string(v)) {
		*bad = 1;
		return NULL;
	}
	return json_string_value(v);
}
