/*
 * test_fejobs.c: the frontend's table of background jobs (fe_jobs.c)
 * against a worker that tells of job after job.  A worker is its remote
 * host's to command, so it may say it started thousands; the table is
 * bounded, and what it forgets must be that worker's own jobs: a job of
 * another host, pushed out, would have its loss go untold when its own
 * worker dies.  frontend.c is replaced by stubs that count the audit
 * records a death makes.
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event.h>
#include <jansson.h>

#include "bridged.h"
#include "frontend.h"
#include "imsg.h"
#include "log.h"
#include "proc.h"
#include "tap.h"

/* frontend.c stand-ins */
struct bridged_conf	*frontend_conf;
static int		 nlost_a, nlost_evil;

void
frontend_main(struct proc_args *pa)
{
	abort();
}

int
frontend_compose(enum bridged_proc proc, uint32_t type, uint32_t peerid,
    int fd, const void *data, size_t len)
{
	return 0;
}

/* a lost job's end record: whose */
void
frontend_record(json_t *r)
{
	const char	*host, *outcome;

	host = json_string_value(json_object_get(r, "host"));
	outcome = json_string_value(json_object_get(r, "outcome"));
	if (host == NULL || outcome == NULL || strcmp(outcome, "lost") != 0)
		return;
	if (strcmp(host, "a") == 0)
		nlost_a++;
	else if (strcmp(host, "evil") == 0)
		nlost_evil++;
}

void
frontend_record_text(const char *s)
{
}

void
frontend_check_drained(void)
{
}

int
frontend_shutting_down(void)
{
	return 0;
}

void
frontend_push(enum bridged_proc to)
{
}

void
frontend_push_records(void)
{
}

/* host's worker pid says it started background command id */
static int
note(const char *host, pid_t pid, uint32_t sessid, const char *id)
{
	struct ssh_jobnote	 n;
	struct imsg		 imsg;

	memset(&n, 0, sizeof(n));
	memset(&imsg, 0, sizeof(imsg));
	n.kind = JOBNOTE_BASH;
	n.event = JOBNOTE_START;
	n.sessid = sessid;
	n.started = time(NULL);
	strlcpy(n.id, id, sizeof(n.id));
	imsg.data = (uint8_t *)&n;
	imsg.datalen = sizeof(n);
	return fe_jobs_note(host, pid, &imsg);
}

/* host's worker pid died, and the parent says how */
static void
died(const char *host, pid_t pid)
{
	struct {
		struct ssh_peer	 sp;
		char		 cause[16];
	} d;
	struct imsg		 imsg;

	memset(&d, 0, sizeof(d));
	memset(&imsg, 0, sizeof(imsg));
	strlcpy(d.sp.host, host, sizeof(d.sp.host));
	d.sp.pid = pid;
	strlcpy(d.cause, "signal 9", sizeof(d.cause));
	fe_jobs_worker_gone(host, pid);
	imsg.data = (uint8_t *)&d;
	imsg.datalen = sizeof(d.sp) + strlen(d.cause);
	fe_jobs_died(&imsg);
}

int
main(void)
{
	char	 id[32];
	int	 i, bad = 0;

	log_init(1, 0);
	if (getenv("TEST_VERBOSE") == NULL)
		freopen("/dev/null", "w", stderr);
	event_init();

	ok(note("a", 100, 1, "bash_1") == 0 && note("a", 100, 1, "bash_2") ==
	    0, "host a's worker tells of two background commands");
	/* more than the whole table holds */
	for (i = 1; i <= 6000; i++) {
		snprintf(id, sizeof(id), "bash_%d", i);
		if (note("evil", 200, 2, id) != 0)
			bad++;
	}
	ok(bad == 0, "host evil's worker tells of 6,000");
	died("a", 100);
	ok(nlost_a == 2, "host a's worker dies: both its commands are told "
	    "lost (%d)", nlost_a);
	died("evil", 200);
	ok(nlost_evil > 0 && nlost_evil <= 1024, "host evil's worker dies: "
	    "its last ones are told lost, at most 1,024 of them (%d)",
	    nlost_evil);
	return tap_done();
}
