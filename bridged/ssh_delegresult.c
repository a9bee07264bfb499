/*
 * ssh_delegresult.c: what claude printed, and how it ended, made into the
 * result of an ask_claude call or a job (ssh_deleg.c runs it).
 *
 * Standard output is the one JSON result object of --output-format json
 * (a warning line before it is tolerated); its answer becomes the text,
 * its fields the structured content.  When there is no usable object,
 * the exit status, the signal and the tail of standard error say why.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event.h>
#include <jansson.h>
#include <libssh/callbacks.h>
#include <libssh/libssh.h>

#include "bridged.h"
#include "log.h"
#include "ssh.h"
#include "ssh_deleg.h"

#define DELEG_ANSWER_MAX	(4 * 1024 * 1024)

static void	 text_tail(struct sbuf *, const char *, size_t);
static json_t	*parse_output(const char *, size_t);

/* stderr for a message: valid UTF-8, NULs as \0, trailing newlines dropped */
static void
text_tail(struct sbuf *sb, const char *p, size_t n)
{
	struct sbuf	 u = { 0 };

	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'))
		n--;
	if (n == 0) {
		sb_str(sb, "(nothing on stderr)");
		return;
	}
	utf8_clean(&u, p, n, 1);
	(void)nul_escape(sb, u.p, u.len);
	sb_free(&u);
}

/*
 * The JSON result object.  --output-format json prints exactly one; a
 * CLI that printed a warning line first is still understood by trying
 * the last line that starts with "{".
 */
static json_t *
parse_output(const char *s, size_t n)
{
	json_error_t	 jerr;
	json_t		*o;
	const char	*p;

	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	if (n == 0)
		return NULL;
	/* an answer may quote binary output: NULs are made \0 below */
	o = json_loadb(s, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (o == NULL) {
		for (p = s + n - 1; p > s && p[-1] != '\n'; p--)
			;
		if (*p == '{')
			o = json_loadb(p, n - (p - s), JSON_REJECT_DUPLICATES |
			    JSON_ALLOW_NUL, &jerr);
	}
	if (o != NULL && !json_is_object(o)) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

json_t *
deleg_text_result(int iserror, const char *text)
{
	json_t	*r;

	r = json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text",
	    "text", text, "isError", iserror);
	if (r == NULL)
		fatalx("%s: json_pack", __func__);
	return r;
}

/* d->result and d->structured from what claude printed and how it ended */
void
deleg_outcome(struct deleg *d)
{
	struct sbuf	 t = { 0 }, esc = { 0 };
	json_t		*o = NULL, *v, *e, *st, *dms, *turns;
	const char	*subtype = NULL, *answer = NULL;
	size_t		 alen = 0, i, nuls = 0;
	int		 iserror, exitst;
	char		 where[HOST_NAME_LEN + 16], cost[32], dur[32];

	snprintf(where, sizeof(where), "host \"%s\"", d->hostname);
	exitst = d->exitsignal[0] == '\0' ? d->exitstatus : -1;

	if (d->state == D_TIMEOUT || d->state == D_CANCELLED ||
	    d->state == D_KILLED) {
		sb_printf(&t, "%s: claude on %s was %s after %lld s",
		    d->state == D_TIMEOUT ? "timed out" :
		    d->state == D_CANCELLED ? "cancelled" : "killed",
		    where, d->state == D_TIMEOUT ? "stopped at its timeout" :
		    d->state == D_CANCELLED ? "stopped on request" :
		    "stopped by job_cancel or bridgectl",
		    d->duration_ms / 1000);
		if (d->state == D_TIMEOUT)
			sb_printf(&t, " (timeout %d s)", d->timeout);
		if (d->left == 0)
			sb_str(&t, "; its process group was killed and no"
			    " process of it is left");
		else if (d->left > 0)
			sb_printf(&t, "; its process group was killed but %d"
			    " process%s still alive: check the host", d->left,
			    d->left == 1 ? " is" : "es are");
		else
			sb_str(&t, "; the channel was closed but whether its"
			    " processes are gone could not be checked");
		goto error;
	}
	if (d->state == D_LOST) {
		sb_printf(&t, "the connection to %s was lost while claude ran;"
		    " its outcome is unknown and it may still be running"
		    " there", where);
		goto error;
	}

	if (d->outtotal > DELEG_STDOUT_MAX) {
		sb_printf(&t, "claude on %s printed %zu bytes, more than the"
		    " %d bytes a result may have; nothing was parsed (exit"
		    " status %d)", where, d->outtotal, DELEG_STDOUT_MAX,
		    exitst);
		goto error;
	}
	o = parse_output(d->out.p ? d->out.p : "", d->out.len);
	if (o == NULL) {
		if (exitst == 127)
			sb_printf(&t, "claude was not found on %s (exit status"
			    " 127): install it, or give its path in"
			    " bridged.conf: delegate { claude"
			    " \"/path/to/claude\" } in the host block (line"
			    " %d); stderr: ", where, d->host && d->host->conf ?
			    d->host->conf->line : 0);
		else if (exitst == CWD_OUTSIDE)
			sb_printf(&t, "ask_claude refused on %s: the working"
			    " directory resolves (through a symlink) outside"
			    " base dir \"%s\" (bridged.conf line %d); nothing"
			    " ran; stderr: ", where, d->host && d->host->conf ?
			    d->host->conf->base_dir : "?", d->host &&
			    d->host->conf ? d->host->conf->base_dir_line : 0);
		else if (exitst == CD_FAILED)
			sb_printf(&t, "claude did not start on %s (exit status"
			    " %d: the working directory cannot be entered, or"
			    " claude is not executable); stderr: ", where,
			    exitst);
		else if (d->exitsignal[0] != '\0')
			sb_printf(&t, "claude on %s was killed by signal %s"
			    " without printing a result; stderr: ", where,
			    d->exitsignal);
		else if (d->out.len == 0)
			sb_printf(&t, "claude on %s printed no result (exit"
			    " status %d); stderr: ", where, exitst);
		else
			sb_printf(&t, "claude on %s did not print a JSON"
			    " result (exit status %d; is it Claude Code, and"
			    " does it support --output-format json?);"
			    " stderr: ", where, exitst);
		text_tail(&t, d->err, d->errlen);
		goto error;
	}

	/* the result object; fields we do not know are ignored */
	if (json_is_string(v = json_object_get(o, "subtype")))
		subtype = json_string_value(v);
	if (json_is_string(v = json_object_get(o, "result"))) {
		answer = json_string_value(v);
		alen = json_string_length(v);
		/* the records and the frontend take no NUL */
		if (strlen(answer) != alen) {
			nuls = nul_escape(&esc, answer, alen);
			answer = esc.p;
			alen = esc.len;
		}
	}
	if (json_is_string(v = json_object_get(o, "session_id")))
		strlcpy(d->session_id, json_string_value(v),
		    sizeof(d->session_id));
	if (json_is_number(v = json_object_get(o, "total_cost_usd"))) {
		d->cost = json_number_value(v);
		d->has_cost = 1;
	}
	iserror = json_is_true(json_object_get(o, "is_error")) ||
	    (subtype != NULL && strncmp(subtype, "error", 5) == 0);

	dms = json_object_get(o, "duration_ms");
	turns = json_object_get(o, "num_turns");
	st = json_pack("{s:o, s:o, s:o, s:o, s:o, s:b, s:o, s:o}",
	    "result", answer ? json_stringn(answer, alen) : json_null(),
	    "session_id", d->session_id[0] ? json_string(d->session_id) :
	    json_null(),
	    "total_cost_usd", d->has_cost ? json_real(d->cost) : json_null(),
	    "duration_ms", json_is_number(dms) ?
	    json_integer((json_int_t)json_number_value(dms)) : json_null(),
	    "num_turns", json_is_number(turns) ?
	    json_integer((json_int_t)json_number_value(turns)) : json_null(),
	    "is_error", iserror,
	    "subtype", subtype ? json_string(subtype) : json_null(),
	    "exit_status", exitst >= 0 ? json_integer(exitst) : json_null());
	if (st == NULL)
		fatalx("%s: json_pack", __func__);
	if (d->job_id[0] != '\0')
		json_object_set_new(st, "job_id", json_string(d->job_id));

	if (iserror) {
		sb_printf(&t, "claude on %s reported an error (%s, exit status"
		    " %d): ", where, subtype ? subtype : "no subtype", exitst);
		if (answer != NULL && alen > 0)
			sb_add(&t, answer, utf8_cut(answer, alen, 2000));
		else if (json_is_array(e = json_object_get(o, "errors")) &&
		    json_array_size(e) > 0) {
			json_array_foreach(e, i, v) {
				if (i > 0)
					sb_str(&t, "; ");
				if (json_is_string(v))
					sb_str(&t, json_string_value(v));
				else if (json_is_string(json_object_get(v,
				    "message")))
					sb_str(&t, json_string_value(
					    json_object_get(v, "message")));
			}
		} else {
			sb_str(&t, "no message; stderr: ");
			text_tail(&t, d->err, d->errlen);
		}
		d->state = D_ERROR;
	} else {
		if (answer != NULL && alen > DELEG_ANSWER_MAX) {
			for (i = DELEG_ANSWER_MAX; i > 0 &&
			    (answer[i] & 0xc0) == 0x80; i--)
				;
			sb_add(&t, answer, i);
			sb_printf(&t, "\n[the answer was cut: %zu bytes in"
			    " all]", alen);
			json_object_set_new(st, "result",
			    json_string(t.p));
		} else if (answer != NULL)
			sb_add(&t, answer, alen);
		d->state = D_DONE;
	}
	if (d->has_cost)
		snprintf(cost, sizeof(cost), "$%.4f", d->cost);
	else
		strlcpy(cost, "unknown", sizeof(cost));
	if (json_is_integer(v = json_object_get(st, "duration_ms")))
		snprintf(dur, sizeof(dur), "%lld ms",
		    (long long)json_integer_value(v));
	else
		snprintf(dur, sizeof(dur), "%lld ms (ours)", d->duration_ms);
	if (nuls > 0)
		sb_printf(&t, "\n\n[the answer holds binary data: %zu NUL"
		    " byte%s, each shown as %s]", nuls, nuls == 1 ? "" : "s",
		    NUL_SHOWN);
	sb_printf(&t, "\n\n[session_id: %s, cost: %s, duration: %s]",
	    d->session_id[0] ? d->session_id : "none", cost, dur);

	d->structured = st;
	d->result = json_pack("{s:[{s:s, s:s%}], s:O, s:b}", "content",
	    "type", "text", "text", t.p, t.len, "structuredContent", st,
	    "isError", iserror);
	if (d->result == NULL)
		d->result = deleg_text_result(1, "claude's answer could not be"
		    " encoded");
	sb_free(&t);
	sb_free(&esc);
	json_decref(o);
	return;

 error:
	if (d->state == D_RUNNING)
		d->state = D_ERROR;
	d->result = deleg_text_result(1, t.p ? t.p : "claude failed");
	sb_free(&t);
	sb_free(&esc);
	json_decref(o);
}
