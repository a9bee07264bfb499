/*
 * ssh_handshake.c: a new connection's SSH handshake, host key check and
 * authentication (ssh_conn.c asks for it once the parent's socket has
 * come, and takes the connection when it is done).  None of it blocks
 * the worker: the session is non-blocking, and conn_hs_step() takes the
 * next step each time the socket is ready, until SSHCONN_TIMEOUT.  So
 * while a pool grows, on a server slow to answer (or never answering)
 * its new connection, the host's other connections go on serving their
 * calls; only the calls waiting for a channel on the new one wait.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event.h>
#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include "bridged.h"
#include "log.h"
#include "ssh.h"

#define SSHCONN_TIMEOUT		10	/* seconds: handshake, auth */
#define SSHCONN_NOFILE		"/nonexistent"	/* paths libssh must not find */

/* the handshake's steps (conn_hs_step) */
enum { HS_CONNECT = 1, HS_AUTH };

static void	 conn_hs_wait(struct sshconn *);
static void	 conn_hs_step(int, short, void *);
static void	 conn_hs_timeout(int, short, void *);
static int	 conn_authkey(struct sshconn *, char *, size_t);
static void	 conn_autherr(struct sshconn *, ssh_session, int, char *,
		    size_t);
static void	 errf(char *, size_t, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));

/*
 * Error text: long paths are cut, never a reason to fail (a varargs
 * wrapper, so that -Wformat-truncation leaves it be).
 */
static void
errf(char *buf, size_t len, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/*
 * The SSH handshake on the parent's socket, the host key check and the
 * authentication, bounded by SSHCONN_TIMEOUT.  Not blocking: the worker
 * goes on serving the host's other connections (and their calls) while
 * a new one is made, however slowly its server answers; conn_hs_step()
 * takes each step as the socket is ready.
 */
int
sshconn_handshake(struct sshconn *c, int fd, char *err, size_t errlen)
{
	struct sshhost	*host = c->host;
	struct host	*h = host->conf;
	ssh_session	 s;
	socket_t	 sfd = fd;
	unsigned int	 port;
	long		 timeout = SSHCONN_TIMEOUT;
	struct timeval	 tv = { SSHCONN_TIMEOUT, 0 };
	int		 no = 0, verbosity = SSH_LOG_NOLOG;

	if (h == NULL) {
		close(fd);
		errf(err, errlen, "host is not configured");
		return -1;
	}
	port = h->port ? h->port : CONF_SSH_PORT;
	if ((s = ssh_new()) == NULL)
		fatalx("ssh_new failed");
	/*
	 * No ~/.ssh/config, no ProxyCommand: the config file says it all.
	 * Every path and name libssh would otherwise work out itself on
	 * ssh_connect() (ssh_options_apply: the home and .ssh directory,
	 * "~" and "%d" in the known hosts and default identity paths, the
	 * local user name) is given here, none with a "~": finding them
	 * means getpwuid(3), and NSS inside the sandbox means socket() to
	 * nscd, which seccomp kills.  Host keys are checked from the
	 * parent's text and the identity comes as data, so the files named
	 * are never meant to exist.
	 */
	if (ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no) != SSH_OK ||
	    ssh_options_set(s, SSH_OPTIONS_LOG_VERBOSITY, &verbosity) !=
	    SSH_OK ||
	    ssh_options_set(s, SSH_OPTIONS_SSH_DIR, SSHCONN_NOFILE) !=
	    SSH_OK ||
	    ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, SSHCONN_NOFILE) !=
	    SSH_OK ||
	    ssh_options_set(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS,
	    SSHCONN_NOFILE) != SSH_OK ||
	    ssh_options_set(s, SSH_OPTIONS_HOST, h->address) != SSH_OK ||
	    ssh_options_set(s, SSH_OPTIONS_PORT, &port) != SSH_OK ||
	    ssh_options_set(s, SSH_OPTIONS_USER, h->user) != SSH_OK ||
	    ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &timeout) != SSH_OK ||
	    ssh_options_set(s, SSH_OPTIONS_FD, &sfd) != SSH_OK) {
		errf(err, errlen, "ssh options: %s", sshconn_error(s,
		    "refused by libssh"));
		ssh_free(s);
		close(fd);
		return -1;
	}
	memset(&c->sockcount, 0, sizeof(c->sockcount));
	memset(&c->rawcount, 0, sizeof(c->rawcount));
	ssh_set_counters(s, &c->sockcount, &c->rawcount);

	/* from here on the session owns the socket */
	ssh_set_blocking(s, 0);
	c->hs = s;
	c->hsstate = HS_CONNECT;
	evtimer_set(&c->ev_hstimer, conn_hs_timeout, c);
	evtimer_add(&c->ev_hstimer, &tv);
	c->hstimer_set = 1;
	conn_hs_step(-1, 0, c);
	return 0;
}

/* wait for the handshake's socket: readable, or writable as well */
static void
conn_hs_wait(struct sshconn *c)
{
	short	 events = EV_READ;

	if (ssh_get_poll_flags(c->hs) & SSH_WRITE_PENDING)
		events |= EV_WRITE;
	event_set(&c->ev_hs, ssh_get_fd(c->hs), events, conn_hs_step, c);
	event_add(&c->ev_hs, NULL);
	c->hsev_set = 1;
}

/* the handshake's next step, as far as the socket allows */
static void
conn_hs_step(int fd, short event, void *arg)
{
	struct sshconn	*c = arg;
	ssh_session	 s = c->hs;
	char		 err[512];
	int		 rc;

	c->hsev_set = 0;
	if (c->hsstate == HS_CONNECT) {
		if ((rc = ssh_connect(s)) == SSH_AGAIN) {
			conn_hs_wait(c);
			return;
		}
		if (rc != SSH_OK) {
			errf(err, sizeof(err), "ssh handshake: %s",
			    sshconn_error(s, "the server closed the "
			    "connection"));
			goto fail;
		}
		if (hostkey_verify(c->host, s, err, sizeof(err)) == -1 ||
		    conn_authkey(c, err, sizeof(err)) == -1)
			goto fail;
		c->hsstate = HS_AUTH;
	}
	if ((rc = ssh_userauth_publickey(s, NULL, c->hskey)) ==
	    SSH_AUTH_AGAIN) {
		conn_hs_wait(c);
		return;
	}
	if (rc != SSH_AUTH_SUCCESS) {
		conn_autherr(c, s, rc, err, sizeof(err));
		goto fail;
	}
	ssh_key_free(c->hskey);
	c->hskey = NULL;
	evtimer_del(&c->ev_hstimer);
	c->hstimer_set = 0;
	c->hs = NULL;
	/* as every connection has been since: blocking, calls choose */
	ssh_set_blocking(s, 1);
	sshconn_ready(c, s);
	return;
 fail:
	sshconn_failed(c, err);
}

static void
conn_hs_timeout(int fd, short event, void *arg)
{
	struct sshconn	*c = arg;
	char		 err[128];

	c->hstimer_set = 0;
	errf(err, sizeof(err), "ssh %s: no answer within %d s",
	    c->hsstate == HS_CONNECT ? "handshake" : "authentication",
	    SSHCONN_TIMEOUT);
	sshconn_failed(c, err);
}

/* a handshake that will not finish: its events, key and session go */
void
sshconn_hs_abort(struct sshconn *c)
{
	if (c->hsev_set) {
		event_del(&c->ev_hs);
		c->hsev_set = 0;
	}
	if (c->hstimer_set) {
		evtimer_del(&c->ev_hstimer);
		c->hstimer_set = 0;
	}
	if (c->hskey != NULL) {
		ssh_key_free(c->hskey);
		c->hskey = NULL;
	}
	if (c->hs != NULL) {
		sshconn_disconnect(c->hs);
		ssh_free(c->hs);
		c->hs = NULL;
	}
}

/* the identity, as a key for ssh_userauth_publickey(); its text goes */
static int
conn_authkey(struct sshconn *c, char *err, size_t errlen)
{
	struct host	*h = c->host->conf;
	int		 rc;

	if (c->identity == NULL) {
		errf(err, errlen, "no identity key from the parent");
		return -1;
	}
	rc = ssh_pki_import_privkey_base64(c->identity, NULL, NULL, NULL,
	    &c->hskey);
	sshconn_wipe(c);
	if (rc != SSH_OK) {
		c->hskey = NULL;
		errf(err, errlen, "cannot load identity %s: not a private"
		    " key libssh can read, or protected by a passphrase"
		    " (not supported)", h->identity);
		return -1;
	}
	return 0;
}

/* why the authentication failed */
static void
conn_autherr(struct sshconn *c, ssh_session s, int rc, char *err,
    size_t errlen)
{
	struct host	*h = c->host->conf;
	char		*fp;

	fp = key_fingerprint(c->hskey);
	switch (rc) {
	case SSH_AUTH_DENIED:
		errf(err, errlen, "authentication as \"%s\" failed: the"
		    " server refused identity %s (%s %s)", h->user,
		    h->identity, ssh_key_type_to_char(ssh_key_type(
		    c->hskey)), fp ? fp : "?");
		break;
	case SSH_AUTH_PARTIAL:
		errf(err, errlen, "authentication as \"%s\": the server"
		    " wants more than the key %s (multi-factor is not"
		    " supported)", h->user, h->identity);
		break;
	default:
		errf(err, errlen, "authentication as \"%s\" with %s: %s",
		    h->user, h->identity, sshconn_error(s,
		    "no answer from the server"));
		break;
	}
	ssh_string_free_char(fp);
}
