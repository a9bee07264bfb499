/*
 * ssh_jobnote.c: the ssh worker tells the frontend of its background
 * jobs (ask_claude background delegations, Bash run_in_background), when
 * each starts and ends (IMSG_SSH_JOBNOTE).
 *
 * The worker holds a job's state in memory and, for a delegation, writes
 * its end to the audit database; a worker that dies (SIGKILL, a sandbox
 * violation) does neither, and its successor knows nothing of the job.
 * The frontend, which outlives it, then reports the job as lost, with
 * how its worker died, instead of "no such job" (fe_jobs.c).
 */

#include <sys/types.h>

#include <stdint.h>
#include <string.h>
#include <time.h>

#include <event.h>
#include <jansson.h>
#include <libssh/libssh.h>

#include "bridged.h"
#include "log.h"
#include "ssh.h"

void
jobnote_send(const struct ssh_jobnote *jn, const char *text)
{
	struct ssh_jobnote	 n = *jn;
	char			 buf[sizeof(n) + JOBNOTE_TEXT_MAX];
	size_t			 len = 0;

	n.id[sizeof(n.id) - 1] = '\0';
	n.status[sizeof(n.status) - 1] = '\0';
	memcpy(buf, &n, sizeof(n));
	if (text != NULL) {
		/* its start only, cut on a character's boundary */
		len = strlen(text);
		if (len > JOBNOTE_TEXT_MAX) {
			len = JOBNOTE_TEXT_MAX;
			while (len > 0 && ((unsigned char)text[len] & 0xc0) ==
			    0x80)
				len--;
		}
		memcpy(buf + sizeof(n), text, len);
	}
	if (ssh_compose(PROC_FRONTEND, IMSG_SSH_JOBNOTE, 0, -1, buf,
	    sizeof(n) + len) == -1)
		log_warn("%s", __func__);
}
