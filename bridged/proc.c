/*
 * proc.c: the table of bridged's processes and the privilege drop every
 * child performs before it reads a byte of input.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>


#include "bridged.h"
#include "log.h"
#include "proc.h"

struct proc procs[PROC_MAX] = {
	{ "parent",	PROC_PARENT,	NULL },
	{ "frontend",	PROC_FRONTEND,	frontend_main },
	{ "ssh",	PROC_SSH,	sshworker_main },
	{ "logger",	PROC_LOGGER,	logger_main },
};

const char *proc_names[PROC_MAX] = {
	"parent", "frontend", "ssh", "logger"
};

struct proc *
proc_byname(const char *name)
{
	int	 i;

	for (i = 0; i < PROC_MAX; i++)
		if (strcmp(procs[i].title, name) == 0)
			return &procs[i];
	return NULL;
}

void
proc_settitle(const char *title)
{
	/* libbsd prefixes the program name: "bridged: frontend" */
	setproctitle("%s", title);
	log_procinit(title);
}

/*
 * Started as root: look the user up while /etc/passwd is still
 * reachable, chroot when asked, then give up every id.  Not root: the
 * developer's own uid is all we have; the sandbox still applies.
 */
void
proc_droppriv(struct proc_args *pa, const char *title)
{
	struct passwd	*pw;
	uid_t		 uid;
	gid_t		 gid;

	if (geteuid() != 0)
		return;
	if (pa->user == NULL)
		fatalx("%s: started as root without a user to run as",
		    title);
	if ((pw = getpwnam(pa->user)) == NULL)
		fatalx("%s: unknown user %s", title, pa->user);
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (uid == 0)
		fatalx("%s: refusing to run children as root (user %s)",
		    title, pa->user);

	if (pa->chroot != NULL) {
		if (chroot(pa->chroot) == -1)
			fatal("%s: chroot %s", title, pa->chroot);
		if (chdir("/") == -1)
			fatal("%s: chdir /", title);
	}
	if (setgroups(1, &gid) == -1 ||
	    setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1)
		fatal("%s: cannot drop privileges to %s", title, pa->user);
	/* paranoia: getting root back must be impossible */
	if (setuid(0) != -1 || seteuid(0) != -1)
		fatalx("%s: could regain root after dropping it", title);
}
