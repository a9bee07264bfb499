/*
 * ssh_answer.c: what goes with a call's answer from the ssh worker to
 * the frontend: NUL bytes made visible in every result, progress
 * notifications (written at once: the file tools block the worker), and
 * log messages for the call's session.  sshcall_result (sshworker.c)
 * sends the result itself.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/uio.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event.h>
#include <jansson.h>

#include "bridged.h"
#include "imsg.h"
#include "log.h"
#include "ssh.h"

static size_t	 nul_walk(json_t *);

/* NUL bytes in the strings of v, each made \0 in place; how many */
static size_t
nul_walk(json_t *v)
{
	struct sbuf	 sb = { 0 };
	const char	*k;
	json_t		*e;
	size_t		 i, n = 0;

	switch (json_typeof(v)) {
	case JSON_STRING:
		if (strlen(json_string_value(v)) == json_string_length(v))
			return 0;
		n = nul_escape(&sb, json_string_value(v),
		    json_string_length(v));
		if (json_string_setn(v, sb.p, sb.len) == -1)
			fatalx("%s: json_string_setn", __func__);
		sb_free(&sb);
		return n;
	case JSON_ARRAY:
		json_array_foreach(v, i, e)
			n += nul_walk(e);
		return n;
	case JSON_OBJECT:
		json_object_foreach(v, k, e)
			n += nul_walk(e);
		return n;
	default:
		return 0;
	}
}

/*
 * Every tool's text (command output, file names, grep lines) may hold
 * NUL bytes, which the frontend would refuse with the whole result:
 * each is shown as \0 here, the one way out, and the result says so, in
 * content and in structuredContent's warnings.
 */
void
ssh_result_nuls(json_t *result)
{
	json_t	*content, *sc, *w;
	char	*note;
	size_t	 n;

	if ((n = nul_walk(result)) == 0)
		return;
	if (asprintf(&note, "[bridged: this output holds binary data: %zu "
	    "NUL byte%s, each shown as %s (bytes that are not UTF-8 are "
	    "shown as U+FFFD)]", n, n == 1 ? "" : "s", NUL_SHOWN) == -1)
		fatal(NULL);
	if (json_is_array(content = json_object_get(result, "content")))
		json_array_append_new(content, json_pack("{s:s, s:s}", "type",
		    "text", "text", note));
	if (json_is_object(sc = json_object_get(result,
	    "structuredContent"))) {
		if (!json_is_array(w = json_object_get(sc, "warnings"))) {
			w = json_array();
			json_object_set_new(sc, "warnings", w);
		}
		json_array_append_new(w, json_string(note));
	}
	free(note);
}

/*
 * Progress for a call whose client asked for it (CALL_PROGRESS).  The
 * file tools block the worker while they run, so the message is
 * written now rather than when the event loop next looks.
 */
void
sshcall_progress(struct sshcall *call, double progress, double total,
    const char *msg)
{
	struct ssh_progress	 p;
	struct iovec		 iov[2];

	if ((call->flags & CALL_PROGRESS) == 0)
		return;
	p.progress = progress;
	p.total = total;
	iov[0].iov_base = &p;
	iov[0].iov_len = sizeof(p);
	iov[1].iov_base = (void *)(uintptr_t)(msg ? msg : "");
	iov[1].iov_len = msg ? strlen(msg) : 0;
	if (ssh_peer_iev(PROC_FRONTEND) != NULL &&
	    imsgev_composev(ssh_peer_iev(PROC_FRONTEND), IMSG_SSH_PROGRESS,
	    call->reqid, -1, iov, 2) == 0)
		(void)imsgbuf_write(&ssh_peer_iev(PROC_FRONTEND)->ibuf);
}

/*
 * Progress from a loop that may spin fast: the first once first_ms have
 * passed since the call arrived, then at most one a second.
 */
void
sshcall_tick(struct sshcall *call, int first_ms, double progress,
    double total, const char *fmt, ...)
{
	struct timespec	 now;
	long long	 ms, t0;
	va_list		 ap;
	char		*msg;

	if ((call->flags & CALL_PROGRESS) == 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = now.tv_sec * 1000LL + now.tv_nsec / 1000000;
	t0 = call->t0.tv_sec * 1000LL + call->t0.tv_nsec / 1000000;
	if (call->progress_ms == 0 ? ms - t0 < first_ms :
	    ms - call->progress_ms < SSH_PROGRESS_MS)
		return;
	call->progress_ms = ms;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		msg = NULL;
	va_end(ap);
	sshcall_progress(call, progress, total, msg);
	free(msg);
}

/* a notifications/message for the call's session (fe_notify.c) */
void
sshcall_log(struct sshcall *call, int level, const char *fmt, ...)
{
	struct ssh_log	 l;
	struct iovec	 iov[2];
	va_list		 ap;
	char		*msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatal(NULL);
	va_end(ap);
	l.level = level;
	iov[0].iov_base = &l;
	iov[0].iov_len = sizeof(l);
	iov[1].iov_base = msg;
	iov[1].iov_len = strlen(msg) < SSH_LOG_MAX ? strlen(msg) : SSH_LOG_MAX;
	if (ssh_peer_iev(PROC_FRONTEND) != NULL)
		(void)imsgev_composev(ssh_peer_iev(PROC_FRONTEND), IMSG_SSH_LOG,
		    call->reqid, -1, iov, 2);
	free(msg);
}
