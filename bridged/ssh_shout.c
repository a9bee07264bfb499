/*
 * ssh_shout.c: what a shell says.  Each stream of a command keeps the
 * head that is shown and a window of its last bytes in which the
 * command's end marker is looked for; the Bash result is made from the
 * heads, cut to fit the result limit, with a line saying how to see the
 * rest (ssh_shell.c runs the shells).
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event.h>
#include <jansson.h>

#include "bridged.h"
#include "log.h"
#include "ssh.h"
#include "ssh_shellint.h"

void
obuf_init(struct obuf *o, size_t cap)
{
	memset(o, 0, sizeof(*o));
	o->cap = cap;
	if ((o->head = malloc(cap + 1)) == NULL ||
	    (o->win = malloc(WIN_MAX)) == NULL)
		fatal(NULL);
}

/* keep the first cap bytes to show and the last WIN_MAX to find M in */
void
obuf_add(struct obuf *o, const char *p, size_t n)
{
	size_t	 k, drop;

	o->total += n;
	if (o->headlen < o->cap) {
		k = o->cap - o->headlen < n ? o->cap - o->headlen : n;
		memcpy(o->head + o->headlen, p, k);
		o->headlen += k;
	}
	if (n >= WIN_MAX) {
		memcpy(o->win, p + n - WIN_MAX, WIN_MAX);
		o->winlen = WIN_MAX;
		return;
	}
	if (o->winlen + n > WIN_MAX) {
		drop = o->winlen + n - WIN_MAX;
		memmove(o->win, o->win + drop, o->winlen - drop);
		o->winlen -= drop;
	}
	memcpy(o->win + o->winlen, p, n);
	o->winlen += n;
}

void
obuf_free(struct obuf *o)
{
	free(o->head);
	free(o->win);
	memset(o, 0, sizeof(*o));
}

/*
 * find the markers: "M STATUS PWD M\n" on stdout, "M\n" on stderr; what
 * precedes M is the command's output, a last line without its newline too
 */
void
cmd_scan(struct cmd *c)
{
	char		 pat[MARKER_LEN + 2], *p, *e, *end, *sp;
	const char	*errstr;

	if (!c->outdone && c->out.winlen > 0) {
		memcpy(pat, c->marker, MARKER_LEN);
		pat[MARKER_LEN] = ' ';
		p = memmem(c->out.win, c->out.winlen, pat, MARKER_LEN + 1);
		end = c->out.win + c->out.winlen;
		pat[0] = ' ';
		memcpy(pat + 1, c->marker, MARKER_LEN);
		pat[MARKER_LEN + 1] = '\n';
		if (p != NULL && (e = memmem(p + MARKER_LEN + 1, end - (p +
		    MARKER_LEN + 1), pat, MARKER_LEN + 2)) != NULL) {
			c->outlen = c->out.total - c->out.winlen +
			    (p - c->out.win);
			*e = '\0';
			p += MARKER_LEN + 1;
			/*
			 * The shell prints at most PATH_MAX bytes of $PWD: one
			 * as long is a directory we cannot name (cut), so it is
			 * forgotten, not kept wrong.
			 */
			if ((sp = strchr(p, ' ')) != NULL) {
				*sp++ = '\0';
				if (strlcpy(c->cwd, sp, sizeof(c->cwd)) >=
				    sizeof(c->cwd)) {
					c->cwd[0] = '\0';
					c->cwdlost = 1;
				}
			}
			c->status = strtonum(p, 0, 255, &errstr);
			if (errstr != NULL)
				c->status = -1;
			c->outdone = 1;
		}
	}
	if (!c->errdone && c->err.winlen > 0) {
		memcpy(pat, c->marker, MARKER_LEN);
		pat[MARKER_LEN] = '\n';
		p = memmem(c->err.win, c->err.winlen, pat, MARKER_LEN + 1);
		if (p != NULL) {
			c->errlen = c->err.total - c->err.winlen +
			    (p - c->err.win);
			c->errdone = 1;
		}
	}
}

/*
 * The result text: stdout, then "stderr:" and stderr when there is any,
 * then "exit status: N" (or the note saying why there is none).  The
 * streams share the result limit (characters, as the client counts
 * them; stderr at most a quarter when both are long), each cut with a
 * line giving its total size and how to see the rest.
 */
json_t *
cmd_result(struct cmd *c, struct sshcall *call, const char *note, int iserr)
{
	struct sbuf	 t = { 0 };
	size_t		 budget, oshow, eshow, olen, elen, oc, ec, limit;
	json_t		*r;

	limit = ssh_result_budget() + SSH_RESULT_RESERVE;
	budget = ssh_result_budget() - BASH_NOTE_ROOM;
	olen = c->outlen;
	elen = c->errlen;
	oshow = olen < c->out.headlen ? olen : c->out.headlen;
	eshow = elen < c->err.headlen ? elen : c->err.headlen;
	oc = utf8_chars(c->out.head, oshow);
	ec = utf8_chars(c->err.head, eshow);
	if (oc + ec > budget) {
		if (ec > budget / 4 && oc > budget - budget / 4)
			ec = budget / 4;
		if (oc > budget - ec)
			oc = budget - ec;
		oshow = utf8_prefix(c->out.head, oshow, oc);
		eshow = utf8_prefix(c->err.head, eshow, ec);
	}
	sb_add(&t, "", 0);
	if (oshow > 0) {
		utf8_clean(&t, c->out.head, oshow, 1);
		if (t.p[t.len - 1] != '\n')
			sb_add(&t, "\n", 1);
	}
	if (oshow < olen)
		sb_printf(&t, "[stdout cut: %zu bytes in all, the first %zu are"
		    " shown (the result limit is %zu characters). To see the"
		    " rest, run a narrower command (filter it with grep, head"
		    " or tail), or redirect the output to a file (COMMAND >"
		    " /tmp/out.txt 2>&1) and Read that file with offset and"
		    " limit]\n", olen, oshow, limit);
	if (elen > 0) {
		sb_str(&t, "stderr:\n");
		utf8_clean(&t, c->err.head, eshow, 1);
		if (eshow > 0 && t.p[t.len - 1] != '\n')
			sb_add(&t, "\n", 1);
		if (eshow < elen)
			sb_printf(&t, "[stderr cut: %zu bytes in all, the first"
			    " %zu are shown; redirect it to a file (2>"
			    " /tmp/err.txt) and Read that]\n", elen, eshow);
	}
	if (oshow < olen || eshow < elen)
		sshcall_log(call, MCPLOG_NOTICE,
		    "Bash: output cut to fit the result limit of %zu "
		    "characters (stdout %zu of %zu bytes shown, stderr %zu of "
		    "%zu)", limit, oshow, olen, eshow, elen);
	if (note != NULL)
		sb_printf(&t, "%s", note);
	else
		sb_printf(&t, "exit status: %d", c->status);
	r = json_pack("{s:[{s:s, s:s%}], s:b}", "content", "type", "text",
	    "text", t.p, t.len, "isError", iserr);
	sb_free(&t);
	if (r == NULL)
		fatalx("%s: json_pack", __func__);
	/*
	 * For the audit record (the frontend takes it off): why it failed,
	 * which the text has only after the command's own output, and a
	 * timeout said as one.
	 */
	if (iserr && note != NULL)
		json_object_set_new(r, "_audit", json_pack("{s:s, s:s}",
		    "outcome", c->kill == KILL_TIMEOUT ? "timeout" : "error",
		    "why", note));
	return r;
}
