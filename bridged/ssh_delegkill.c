/*
 * ssh_delegkill.c: stopping a running delegation for ask_claude's timeout
 * or cancellation, job_cancel and bridgectl kill delegation, and
 * checking on the host that none of its processes is left.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <limits.h>
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
#include "ssh_shell.h"
#include "ssh_deleg.h"

#define DELEG_KILL_WAIT		15	/* seconds: kill, check */

static void	 probe_done(void *);
static void	 probe_timeout(int, short, void *);

/*
 * The kill is the shell tools' (ssh_killtree.c): every descendant of the pid
 * is stopped and killed, and so is its process group.  Those run on
 * their own channels and report nothing, so a third one checks: it
 * lists the pid, its group and its descendants and waits up to 4 s for
 * all of them to be gone (zombies do not count), then prints how many
 * are left.
 */
int
dprobe_start(struct deleg *d)
{
	struct dprobe	*pr;
	struct timeval	 tv = { DELEG_KILL_WAIT, 0 };
	char		*cmd, err[ERRSZ];

	if (kill_tree(d->host, d->pid, 1) == -1 ||
	    kill_group(d->host, d->pid, 1) == -1)
		return -1;
	if (asprintf(&cmd, "p=%ld; k=\" $(ps -A -o pid= -o ppid= -o pgid="
	    " 2>/dev/null | awk -v r=\"$p\" '{ pp[$1] = $2; if ($3 == r)"
	    " s[$1] = 1 } END { s[r] = 1; do { c = 0; for (x in pp) if"
	    " (!(x in s) && (pp[x] in s)) { s[x] = 1; c = 1 } } while (c);"
	    " for (x in s) printf \"%%s \", x }') \"; i=0; while :; do"
	    " n=$(ps -A -o pid= -o stat= 2>/dev/null | awk -v l=\"$k\""
	    " '$2 !~ /^Z/ && index(l, \" \" $1 \" \") { n++ } END { print"
	    " n + 0 }'); [ \"$n\" = 0 ] || [ $i -ge 40 ] && break; sleep"
	    " 0.1; i=$((i + 1)); done; echo \"left $n\"", d->pid) == -1)
		fatal(NULL);
	if ((pr = calloc(1, sizeof(*pr))) == NULL)
		fatal(NULL);
	if (oneshot_start(&pr->os, d->host, cmd, pr->out, sizeof(pr->out),
	    probe_done, pr, err, sizeof(err)) == -1) {
		log_warnx("delegation %u: host \"%s\": cannot run the"
		    " kill check: %s", d->id, d->hostname, err);
		free(cmd);
		free(pr);
		return -1;
	}
	free(cmd);
	pr->d = d;
	d->probe = pr;
	evtimer_set(&pr->ev_timeout, probe_timeout, pr);
	evtimer_add(&pr->ev_timeout, &tv);
	return 0;
}

void
dprobe_free(struct dprobe *pr)
{
	struct deleg	*d = pr->d;

	evtimer_del(&pr->ev_timeout);
	oneshot_stop(&pr->os);
	d->probe = NULL;
	free(pr);
}

static void
probe_done(void *arg)
{
	struct dprobe	*pr = arg;
	struct deleg	*d = pr->d;
	const char	*errstr;
	char		*p, *e;

	if (pr->os.failed) {
		log_warnx("delegation %u: host \"%s\": the kill check did"
		    " not run: %s", d->id, d->hostname, pr->os.err);
		dprobe_free(pr);
		d->left = -1;
		deleg_killed(d);
		return;
	}
	if ((p = strstr(pr->out, "left ")) != NULL) {
		p += 5;
		if ((e = strchr(p, '\n')) != NULL)
			*e = '\0';
		d->left = strtonum(p, 0, INT_MAX, &errstr);
		if (errstr != NULL)
			d->left = -1;
	}
	dprobe_free(pr);
	deleg_killed(d);
}

static void
probe_timeout(int fd, short event, void *arg)
{
	struct dprobe	*pr = arg;
	struct deleg	*d = pr->d;

	log_warnx("delegation %u: host \"%s\": the kill did not report back"
	    " in %d s", d->id, d->hostname, DELEG_KILL_WAIT);
	dprobe_free(pr);
	d->left = -1;
	deleg_killed(d);
}
