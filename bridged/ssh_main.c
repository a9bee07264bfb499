/*
 * ssh_main.c: main() of bridged-ssh, the ssh worker's own program.
 *
 * The parent re-executes this one, not bridged, for each host's worker,
 * so that only workers map libssh, libcrypto and what they pull in
 * (Kerberos, zlib): each process that maps libcrypto pays for its own
 * copy of the relocated data, about 0.5 MiB.  It takes the options the
 * parent gives a worker (parent_child.c) and nothing else, bar one:
 *
 *	bridged-ssh -K file	whether libssh loads file as a private key
 *				without a passphrase, in the exit status
 *				(SSHKEY_*, bridged.h), for the parser's
 *				identity check (confcheck.c)
 *
 * Run by hand without them it says what it is and exits.
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <libssh/libssh.h>

#include "bridged.h"
#include "log.h"
#include "policy.h"
#include "proc.h"

extern char		**environ;

static void		 usage(void) __attribute__((__noreturn__));
static int		 key_load(const char *);

static void
usage(void)
{
	fprintf(stderr, "usage: %s -K file\n"
	    "%s is the ssh worker of bridged(8), which starts it\n",
	    BRIDGED_SSH_NAME, BRIDGED_SSH_NAME);
	exit(1);
}

/* libssh asks for a passphrase only when the key has one */
static int
askpass(const char *prompt, char *buf, size_t len, int echo, int verify,
    void *arg)
{
	(void)prompt;
	(void)echo;
	(void)verify;
	if (len > 0)
		buf[0] = '\0';
	*(int *)arg = 1;
	return -1;
}

static int
key_load(const char *path)
{
	ssh_key	 key = NULL;
	int	 asked = 0;

	if (ssh_pki_import_privkey_file(path, NULL, askpass, &asked,
	    &key) == SSH_OK) {
		ssh_key_free(key);
		return SSHKEY_OK;
	}
	return asked ? SSHKEY_PASSPHRASE : SSHKEY_NOTKEY;
}

int
main(int argc, char *argv[])
{
	struct proc_args	 pa;
	struct proc		*p;
	const char		*title = NULL, *key = NULL;
	int			 ch;

	/* as bridged does: fd 3 is the parent's, closed unless a worker */
	closefrom(PROC_PARENT_FD + 1);
	setproctitle_init(argc, argv, environ);
	memset(&pa, 0, sizeof(pa));
	while ((ch = getopt(argc, argv, "C:dH:K:P:U:v")) != -1) {
		switch (ch) {
		case 'C':
			pa.chroot = optarg;
			break;
		case 'd':
			pa.debug = 1;
			break;
		case 'H':
			pa.host = optarg;
			break;
		case 'K':
			key = optarg;
			break;
		case 'P':
			title = optarg;
			break;
		case 'U':
			pa.user = optarg;
			break;
		case 'v':
			pa.verbose++;
			break;
		default:
			usage();
		}
	}
	if (argc > optind || (key == NULL) == (title == NULL))
		usage();
	if (key != NULL) {
		closefrom(STDERR_FILENO + 1);
		return key_load(key);
	}

	log_init(1, LOG_DAEMON);
	log_setredact(policy_redact);
	log_setverbose(pa.verbose);
	if ((p = proc_byname(title)) == NULL || p->id != PROC_SSH)
		fatalx("%s: not an ssh worker", title);
	proc_child_run(p, &pa, sshworker_main);
}
