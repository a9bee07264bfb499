/*
 * ssh_conn.c: the ssh worker's connections.  One libssh session per host,
 * made on the first call that needs it: the parent connects the socket
 * and reads the key files (IMSG_SSH_CONNECT -> IMSG_SSH_KEYDATA,
 * IMSG_SSH_CONNECTED), this file runs the SSH handshake over the socket,
 * verifies the host key strictly, authenticates with the identity and
 * then runs the calls that waited.
 *
 * Once connected, the session socket is watched by libevent; when it is
 * readable, libssh processes the packets (ssh_event_dopoll, no waiting)
 * and hands channel data to the channel callbacks the tools installed.
 * The same callbacks fire when a blocking libssh call of some tool (an
 * SFTP request, say) happens to process packets for other channels, so
 * no data is ever stranded in libssh's buffers.
 *
 * Each host has an ssh_event of its own, but a host reached "via" a jump
 * host connected in this worker joins the jump host's event (the first
 * one of the chain): its bytes only move when the jump channel
 * (ssh_jump.c, whose descriptors are in that event too) is pumped, also
 * while its own handshake or SFTP call blocks.  Only a chain shares an
 * event: libssh fails the session whose call is polling when another
 * session of the same event sees its socket close, so a tunnelled
 * session leaves the event before its tunnel is closed (sshconn_detach).
 *
 * A connection that dies is noticed here (EOF or error on the socket, a
 * failed keepalive, a tool's failed operation via sshconn_check): the
 * session is freed, the shells learn of it (shell_host_lost) and the next
 * call reconnects, with a warning in its result.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event.h>
#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include "bridged.h"
#include "imsg.h"
#include "log.h"
#include "ssh.h"

#define SSHCONN_TIMEOUT		10	/* seconds: handshake, auth */
/* seconds between keepalives: limits { keepalive N } */
static time_t
keepalive_secs(void)
{
	return ssh_conf != NULL && ssh_conf->limits.keepalive > 0 ?
	    ssh_conf->limits.keepalive : CONF_KEEPALIVE;
}

struct sshconn {
	TAILQ_ENTRY(sshconn)	 entry;
	struct sshhost		*host;
	ssh_event		 sev;		/* the host's own, kept */
	ssh_event		 joined;	/* the session's: sev or a jump's */
	char			*identity;	/* key text, until used */
	size_t			 identitylen;
	struct ssh_counter_struct sockcount;
	struct ssh_counter_struct rawcount;
	char			*confsig;	/* what the session was made with */
	int			 reconf;	/* remade after a config change */
	struct event		 evw;		/* forwards: output pending */
	int			 evw_set;
};

/* what a waiting call runs once connected */
struct sshwait {
	void		(*run)(struct sshcall *);
};

static struct sshconn	*conn_get(struct sshhost *);
static struct sshconn	*conn_byid(uint32_t);
static void	 conn_wipe(struct sshconn *);
static void	 conn_readable(int, short, void *);
static void	 conn_writable(int, short, void *);
static void	 conn_keepalive(int, short, void *);
static void	 conn_lost(struct sshhost *, const char *);
static void	 conn_teardown(struct sshhost *);
static void	 conn_fail(struct sshhost *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static void	 conn_runwaiting(struct sshhost *);
static void	 conn_startconnect(struct sshhost *);
static int	 conn_open(struct sshconn *, int, char *, size_t);
static int	 conn_handshake(struct sshconn *, ssh_session);
static void	 conn_discard(struct sshconn *, ssh_session);
static void	 conn_disconnect(ssh_session);
static ssh_event conn_event_for(struct sshconn *);
static int	 conn_auth(struct sshconn *, ssh_session, char *, size_t);
static int	 hostkey_verify(struct sshhost *, ssh_session, char *,
		    size_t);
static int	 hostkey_known(struct sshhost *, ssh_key, const char *,
		    const char *, char *, size_t);
static int	 hostkey_import(const char *, const char *, ssh_key *);
static int	 hostpattern_match(char *, const char *);
static int	 wildmatch(const char *, const char *);
static char	*key_fingerprint(ssh_key);
static void	 wait_cancel(struct sshcall *);
static char	*conf_signature(struct host *);
static int	 conf_changed(struct sshhost *);
static const char *host_where(struct sshhost *, char *, size_t);
static void	 errf(char *, size_t, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));

static TAILQ_HEAD(, sshconn)	 conns = TAILQ_HEAD_INITIALIZER(conns);
static struct event		 ev_keepalive;

void
sshconn_init(void)
{
	struct timeval	 tv = { 1, 0 };

	/* the first tick comes early: the config has not arrived yet */
	evtimer_set(&ev_keepalive, conn_keepalive, NULL);
	evtimer_add(&ev_keepalive, &tv);
}

static struct sshconn *
conn_get(struct sshhost *host)
{
	struct sshconn	*c;

	TAILQ_FOREACH(c, &conns, entry)
		if (c->host == host)
			return c;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal(NULL);
	c->host = host;
	if ((c->sev = ssh_event_new()) == NULL)
		fatalx("%s: ssh_event_new", __func__);
	TAILQ_INSERT_TAIL(&conns, c, entry);
	return c;
}

/* the connection being made for host id: answers from the parent */
static struct sshconn *
conn_byid(uint32_t hostid)
{
	struct sshconn	*c;

	TAILQ_FOREACH(c, &conns, entry)
		if (c->host->connecting && c->host->st.hostid == hostid)
			return c;
	return NULL;
}

static void
conn_wipe(struct sshconn *c)
{
	if (c->identity != NULL) {
		explicit_bzero(c->identity, c->identitylen);
		free(c->identity);
		c->identity = NULL;
		c->identitylen = 0;
	}
}

/* error text: long paths are cut, never a reason to fail */
static void
errf(char *buf, size_t len, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* what follows the name in messages: "(127.0.0.1:2222)", "via \"jump\"" */
static const char *
host_where(struct sshhost *host, char *buf, size_t len)
{
	struct host	*h = host->conf;

	if (h == NULL)
		snprintf(buf, len, "(?)");
	else if (h->via[0] != '\0')
		snprintf(buf, len, "via \"%s\"", h->via);
	else
		snprintf(buf, len, "(%s:%u)", h->address,
		    h->port ? h->port : CONF_SSH_PORT);
	return buf;
}

void
sshconn_dispatch(struct sshcall *call, void (*run)(struct sshcall *))
{
	struct sshhost	*host = call->host;
	struct sshwait	*w;

	if (host->session != NULL && !sshconn_check(host) &&
	    conf_changed(host)) {
		log_info("host \"%s\": configuration changed, reconnecting",
		    host->name);
		conn_teardown(host);
		conn_get(host)->reconf = 1;
		host->st.state = HOST_DISCONNECTED;
	}
	if (host->session != NULL) {
		call->cancel = NULL;
		run(call);
		return;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		fatal(NULL);
	w->run = run;
	call->state = w;
	call->cancel = wait_cancel;
	TAILQ_INSERT_TAIL(&host->waiting, call, entry);
	if (!host->connecting)
		conn_startconnect(host);
}

/* ssh_jump.c: a jump channel is wanted on host; connect if it is not */
void
sshconn_connect(struct sshhost *host)
{
	if (host->session == NULL && !host->connecting)
		conn_startconnect(host);
}

/* the event host's session is in, for the jump channels on it */
ssh_event
sshconn_event(struct sshhost *host)
{
	if (host->session == NULL)
		return NULL;
	return conn_get(host)->joined;
}

/*
 * The tunnel of host `name' is about to close: its session goes back to
 * an event of its own, so that seeing the close fails only its own
 * calls, and conn_readable notices it there.
 */
void
sshconn_detach(const char *name)
{
	struct sshhost	*host;
	struct sshconn	*c;

	if ((host = ssh_host_byname(name)) == NULL ||
	    host->session == NULL)
		return;
	c = conn_get(host);
	if (c->joined == c->sev)
		return;
	(void)ssh_event_remove_session(c->joined, host->session);
	if (ssh_event_add_session(c->sev, host->session) != SSH_OK)
		fatalx("%s: ssh_event_add_session", __func__);
	c->joined = c->sev;
}

/* the jump host's event if it is connected here, else the host's own */
static ssh_event
conn_event_for(struct sshconn *c)
{
	struct host	*h = c->host->conf;
	struct sshhost	*j;

	if (h != NULL && h->via[0] != '\0' &&
	    (j = ssh_host_byname(h->via)) != NULL && j->session != NULL)
		return conn_get(j)->joined;
	return c->sev;
}

static void
conn_startconnect(struct sshhost *host)
{
	uint32_t	 hostid = host->st.hostid;

	(void)conn_get(host);
	host->connecting = 1;
	host->st.state = HOST_CONNECTING;
	host->st.since = time(NULL);
	if (ssh_compose(PROC_PARENT, IMSG_SSH_CONNECT, 0, -1, &hostid,
	    sizeof(hostid)) == -1)
		fatal("%s: compose", __func__);
}

/* the settings a session depends on, as one string */
static char *
conf_signature(struct host *h)
{
	char	*sig;

	if (asprintf(&sig, "%s\n%u\n%s\n%s\n%s\n%s\n%s", h->address, h->port,
	    h->user, h->identity, h->known_hosts, h->host_key, h->via) == -1)
		fatal(NULL);
	return sig;
}

/* a reload changed how this host is reached: the session is stale */
static int
conf_changed(struct sshhost *host)
{
	struct sshconn	*c = conn_get(host);
	char		*sig;
	int		 changed;

	if (host->conf == NULL || c->confsig == NULL)
		return 0;
	sig = conf_signature(host->conf);
	changed = strcmp(sig, c->confsig) != 0;
	free(sig);
	return changed;
}

/* a call cancelled before its host was connected */
static void
wait_cancel(struct sshcall *call)
{
	struct sshhost	*host = call->host;

	TAILQ_REMOVE(&host->waiting, call, entry);
	free(call->state);
	call->state = NULL;
	call->cancel = NULL;
	sshcall_text(call, 1, "cancelled while connecting to host \"%s\"",
	    host->name);
}

void
sshconn_keydata(struct imsg *imsg)
{
	struct ssh_keydata	 kd;
	struct sshconn		*c;
	struct sshhost		*host;
	size_t			 len;
	char			*text;

	if (imsg->datalen < sizeof(kd))
		fatalx("bad IMSG_SSH_KEYDATA size %zu", imsg->datalen);
	memcpy(&kd, imsg->data, sizeof(kd));
	len = imsg->datalen - sizeof(kd);
	if (kd.kind != KEYDATA_IDENTITY && kd.kind != KEYDATA_KNOWN_HOSTS)
		fatalx("bad IMSG_SSH_KEYDATA kind %u", kd.kind);
	if ((c = conn_byid(kd.hostid)) == NULL) {
		/* an answer to a request nobody waits for any more */
		explicit_bzero(imsg->data, imsg->datalen);
		return;
	}
	host = c->host;
	if ((text = malloc(len + 1)) == NULL)
		fatal(NULL);
	memcpy(text, imsg->data + sizeof(kd), len);
	text[len] = '\0';
	explicit_bzero(imsg->data, imsg->datalen);
	if (kd.kind == KEYDATA_IDENTITY) {
		conn_wipe(c);
		c->identity = text;
		c->identitylen = len;
	} else {
		free(host->known_hosts);
		host->known_hosts = text;
	}
}

void
sshconn_connected(struct imsg *imsg)
{
	struct ssh_connected	 sc;
	struct sshconn		*c;
	struct sshhost		*host;
	char			 err[512];
	int			 fd = imsg->fd;

	imsg->fd = -1;
	if (imsg->datalen != sizeof(sc))
		fatalx("bad IMSG_SSH_CONNECTED size %zu", imsg->datalen);
	memcpy(&sc, imsg->data, sizeof(sc));
	sc.errmsg[sizeof(sc.errmsg) - 1] = '\0';
	if ((c = conn_byid(sc.hostid)) == NULL) {
		if (fd != -1)
			close(fd);
		return;
	}
	host = c->host;
	host->connecting = 0;
	if (sc.error != 0 || fd == -1) {
		if (fd != -1)
			close(fd);
		conn_wipe(c);
		conn_fail(host, "%s", sc.error ? sc.errmsg :
		    "no socket from the parent");
		return;
	}
	if (conn_open(c, fd, err, sizeof(err)) == -1) {
		conn_wipe(c);
		conn_fail(host, "%s", err);
		return;
	}
	conn_wipe(c);
	host->st.state = HOST_CONNECTED;
	host->st.since = time(NULL);
	host->st.last_error[0] = '\0';
	log_info("host \"%s\": connected, host key %s", host->name,
	    host->st.fingerprint);
	jump_host_up(host);
	conn_runwaiting(host);
}

/* connecting failed: every waiting call learns why */
static void
conn_fail(struct sshhost *host, const char *fmt, ...)
{
	struct sshcall	*call;
	va_list		 ap;
	char		 msg[512], where[HOST_ADDR_LEN + 8], full[768];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	host->st.state = HOST_FAILED;
	host->st.since = time(NULL);
	strlcpy(host->st.last_error, msg, sizeof(host->st.last_error));
	snprintf(full, sizeof(full), "host \"%s\" %s: %s", host->name,
	    host_where(host, where, sizeof(where)), msg);
	log_warnx("%s", full);
	while ((call = TAILQ_FIRST(&host->waiting)) != NULL) {
		TAILQ_REMOVE(&host->waiting, call, entry);
		free(call->state);
		call->state = NULL;
		call->cancel = NULL;
		sshcall_text(call, 1, "%s", full);
	}
	/* hosts waiting to be reached through this one learn it too */
	jump_host_down(host, full);
}

static void
conn_runwaiting(struct sshhost *host)
{
	struct sshconn	*c = conn_get(host);
	struct sshcall	*call;
	struct sshwait	*w;
	char		 warning[sizeof(call->warning)];
	int		 lost = host->lost || c->reconf;

	if (c->reconf)
		snprintf(warning, sizeof(warning), "warning: the configuration"
		    " of host \"%s\" changed and the connection was re-made;"
		    " shell state (cwd, environment) was reset", host->name);
	else
		snprintf(warning, sizeof(warning), "warning: the connection to"
		    " host \"%s\" was lost and re-made; shell state (cwd,"
		    " environment) was reset", host->name);
	host->lost = 0;
	c->reconf = 0;
	while ((call = TAILQ_FIRST(&host->waiting)) != NULL) {
		if (host->session == NULL) {
			/* a call before this one lost it again */
			if (!host->connecting)
				conn_startconnect(host);
			return;
		}
		TAILQ_REMOVE(&host->waiting, call, entry);
		w = call->state;
		call->state = NULL;
		call->cancel = NULL;
		if (lost && call->warning[0] == '\0')
			strlcpy(call->warning, warning, sizeof(call->warning));
		w->run(call);
		free(w);
	}
}

/*
 * The SSH handshake on the parent's socket, the host key check and the
 * authentication.  Blocking, bounded by SSHCONN_TIMEOUT.
 */
static int
conn_open(struct sshconn *c, int fd, char *err, size_t errlen)
{
	struct sshhost	*host = c->host;
	struct host	*h = host->conf;
	ssh_session	 s;
	socket_t	 sfd = fd;
	unsigned int	 port;
	long		 timeout = SSHCONN_TIMEOUT;
	int		 no = 0, verbosity = SSH_LOG_NOLOG;

	if (h == NULL) {
		close(fd);
		errf(err, errlen, "host is not configured");
		return -1;
	}
	port = h->port ? h->port : CONF_SSH_PORT;
	if ((s = ssh_new()) == NULL)
		fatalx("ssh_new failed");
	/* no ~/.ssh/config, no ProxyCommand: the config file says it all */
	if (ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no) != SSH_OK ||
	    ssh_options_set(s, SSH_OPTIONS_LOG_VERBOSITY, &verbosity) !=
	    SSH_OK ||
	    ssh_options_set(s, SSH_OPTIONS_HOST, h->address) != SSH_OK ||
	    ssh_options_set(s, SSH_OPTIONS_PORT, &port) != SSH_OK ||
	    ssh_options_set(s, SSH_OPTIONS_USER, h->user) != SSH_OK ||
	    ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &timeout) != SSH_OK ||
	    ssh_options_set(s, SSH_OPTIONS_FD, &sfd) != SSH_OK) {
		errf(err, errlen, "ssh options: %s", ssh_get_error(s));
		ssh_free(s);
		close(fd);
		return -1;
	}
	memset(&c->sockcount, 0, sizeof(c->sockcount));
	memset(&c->rawcount, 0, sizeof(c->rawcount));
	ssh_set_counters(s, &c->sockcount, &c->rawcount);

	/* from here on the session owns the socket */
	if (conn_handshake(c, s) == -1) {
		errf(err, errlen, "ssh handshake: %s", ssh_get_error(s));
		conn_discard(c, s);
		return -1;
	}
	if (hostkey_verify(host, s, err, errlen) == -1 ||
	    conn_auth(c, s, err, errlen) == -1) {
		conn_discard(c, s);
		return -1;
	}

	host->session = s;
	host->sftp = NULL;
	host->st.channels = 0;
	free(c->confsig);
	c->confsig = conf_signature(h);
	event_set(&host->ev, ssh_get_fd(s), EV_READ | EV_PERSIST,
	    conn_readable, host);
	event_add(&host->ev, NULL);
	host->ev_set = 1;
	return 0;
}

/*
 * The handshake, in its event from the start: the first call of
 * ssh_connect is non-blocking and only sets the socket up (libssh puts
 * it in a poll context of its own then), the session joins its event,
 * and the rest blocks as before.  Through a jump host of this worker,
 * the waiting serves the jump channel that carries the bytes.
 */
static int
conn_handshake(struct sshconn *c, ssh_session s)
{
	int	 rc;

	ssh_set_blocking(s, 0);
	rc = ssh_connect(s);
	ssh_set_blocking(s, 1);
	if (rc == SSH_ERROR)
		return -1;
	c->joined = conn_event_for(c);
	if (ssh_event_add_session(c->joined, s) != SSH_OK)
		fatalx("%s: ssh_event_add_session", __func__);
	if (rc == SSH_AGAIN && ssh_connect(s) != SSH_OK)
		return -1;
	return 0;
}

/* a session that never became the host's: out of its event, freed */
static void
conn_discard(struct sshconn *c, ssh_session s)
{
	if (c->joined != NULL)
		(void)ssh_event_remove_session(c->joined, s);
	c->joined = NULL;
	if (ssh_is_connected(s))
		conn_disconnect(s);
	ssh_free(s);
}

/*
 * libssh 0.10 does not close a socket given with SSH_OPTIONS_FD when it
 * disconnects (only when it sees the connection fail), nor does
 * ssh_free after that: close it, or the peer, a sshd or the jump
 * channel of a "via" host, never learns that we left.
 */
static void
conn_disconnect(ssh_session s)
{
	socket_t	 fd = ssh_get_fd(s);

	ssh_disconnect(s);
	if (fd != SSH_INVALID_SOCKET && ssh_get_fd(s) == SSH_INVALID_SOCKET)
		close(fd);
}

static int
conn_auth(struct sshconn *c, ssh_session s, char *err, size_t errlen)
{
	struct host	*h = c->host->conf;
	ssh_key		 key = NULL;
	char		*fp;
	int		 rc;

	if (c->identity == NULL) {
		errf(err, errlen, "no identity key from the parent");
		return -1;
	}
	rc = ssh_pki_import_privkey_base64(c->identity, NULL, NULL, NULL,
	    &key);
	conn_wipe(c);
	if (rc != SSH_OK) {
		errf(err, errlen, "cannot load identity %s: not a private"
		    " key libssh can read, or protected by a passphrase"
		    " (not supported)", h->identity);
		return -1;
	}
	rc = ssh_userauth_publickey(s, NULL, key);
	if (rc == SSH_AUTH_SUCCESS) {
		ssh_key_free(key);
		return 0;
	}
	fp = key_fingerprint(key);
	switch (rc) {
	case SSH_AUTH_DENIED:
		errf(err, errlen, "authentication as \"%s\" failed: the"
		    " server refused identity %s (%s %s)", h->user,
		    h->identity, ssh_key_type_to_char(ssh_key_type(key)),
		    fp ? fp : "?");
		break;
	case SSH_AUTH_PARTIAL:
		errf(err, errlen, "authentication as \"%s\": the server"
		    " wants more than the key %s (multi-factor is not"
		    " supported)", h->user, h->identity);
		break;
	default:
		errf(err, errlen, "authentication as \"%s\" with %s: %s",
		    h->user, h->identity, ssh_get_error(s));
		break;
	}
	ssh_string_free_char(fp);
	ssh_key_free(key);
	return -1;
}

/* "SHA256:base64", as ssh-keygen -l prints it; NULL on failure */
static char *
key_fingerprint(ssh_key key)
{
	unsigned char	*hash = NULL;
	size_t		 hlen;
	char		*fp;

	if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash,
	    &hlen) != SSH_OK)
		return NULL;
	fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
	ssh_clean_pubkey_hash(&hash);
	return fp;
}

/*
 * Strict host key checking: the server's key must be the pinned key
 * ("host key TYPE BASE64") or be listed for this host in the known hosts
 * text.  Unknown, changed or revoked = refused.
 */
static int
hostkey_verify(struct sshhost *host, ssh_session s, char *err, size_t errlen)
{
	struct host	*h = host->conf;
	ssh_key		 srv = NULL, pin = NULL;
	const char	*type;
	char		*fp = NULL, *pinfp, pintype[64], *sp;
	int		 rc = -1;

	if (ssh_get_server_publickey(s, &srv) != SSH_OK) {
		errf(err, errlen, "no host key from the server: %s",
		    ssh_get_error(s));
		return -1;
	}
	type = ssh_key_type_to_char(ssh_key_type(srv));
	if (type == NULL)
		type = "unknown";
	if ((fp = key_fingerprint(srv)) == NULL) {
		errf(err, errlen, "cannot hash the %s host key", type);
		goto done;
	}
	snprintf(host->st.fingerprint, sizeof(host->st.fingerprint), "%s %s",
	    type, fp);

	if (h->host_key[0] != '\0') {
		strlcpy(pintype, h->host_key, sizeof(pintype));
		if ((sp = strchr(pintype, ' ')) != NULL)
			*sp = '\0';
		if ((sp = strchr(h->host_key, ' ')) == NULL ||
		    hostkey_import(pintype, sp + 1, &pin) == -1) {
			errf(err, errlen, "the pinned host key is not a"
			    " valid key; refusing %s key %s", type, fp);
			goto done;
		}
		if (ssh_key_cmp(pin, srv, SSH_KEY_CMP_PUBLIC) == 0) {
			rc = 0;
			goto done;
		}
		pinfp = key_fingerprint(pin);
		errf(err, errlen, "%s key %s does not match the pinned"
		    " host key (%s %s); refusing", type, fp, pintype,
		    pinfp ? pinfp : "?");
		ssh_string_free_char(pinfp);
		goto done;
	}
	if (h->known_hosts[0] == '\0' || host->known_hosts == NULL) {
		errf(err, errlen, "%s key %s cannot be verified: no"
		    " \"known hosts\" or \"host key\" configured; refusing",
		    type, fp);
		goto done;
	}
	rc = hostkey_known(host, srv, type, fp, err, errlen);
 done:
	ssh_string_free_char(fp);
	ssh_key_free(pin);
	ssh_key_free(srv);
	return rc;
}

static int
hostkey_import(const char *type, const char *b64, ssh_key *key)
{
	enum ssh_keytypes_e	 kt;

	*key = NULL;
	if ((kt = ssh_key_type_from_name(type)) == SSH_KEYTYPE_UNKNOWN)
		return -1;
	if (ssh_pki_import_pubkey_base64(b64, kt, key) != SSH_OK)
		return -1;
	return 0;
}

/*
 * The known_hosts format of sshd(8): "[@marker] patterns type base64
 * [comment]".  Patterns are comma separated globs, "!" negates; the
 * name looked up is "address" for port 22 and "[address]:port" for any
 * other port.  Hashed names (|1|...) are not supported.
 */
static int
hostkey_known(struct sshhost *host, ssh_key srv, const char *type,
    const char *fp, char *err, size_t errlen)
{
	struct host	*h = host->conf;
	ssh_key		 k;
	char		 name[HOST_ADDR_LEN + 16], *text, *line, *next;
	char		*f[4], *p;
	int		 nf, lineno = 0, found = 0, changed = 0, revoked = 0;
	int		 hashed = 0, othertype = 0, i;
	unsigned int	 port = h->port ? h->port : CONF_SSH_PORT;

	if (port == CONF_SSH_PORT)
		strlcpy(name, h->address, sizeof(name));
	else
		snprintf(name, sizeof(name), "[%s]:%u", h->address, port);
	for (p = name; *p != '\0'; p++)
		*p = tolower((unsigned char)*p);

	if ((text = strdup(host->known_hosts)) == NULL)
		fatal(NULL);
	for (line = text; line != NULL; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		line[strcspn(line, "\r")] = '\0';
		for (nf = 0, p = line; nf < 4; nf++) {
			p += strspn(p, " \t");
			if (*p == '\0' || (nf == 0 && *p == '#'))
				break;
			f[nf] = p;
			p += strcspn(p, " \t");
			if (*p != '\0')
				*p++ = '\0';
		}
		if (nf == 0)
			continue;
		if (f[0][0] == '@') {
			/* "@revoked" applies; "@cert-authority" is not ours */
			if (nf < 4 || strcmp(f[0], "@revoked") != 0)
				continue;
			if (hostpattern_match(f[1], name) != 1)
				continue;
			if (hostkey_import(f[2], f[3], &k) == 0) {
				if (ssh_key_cmp(k, srv, SSH_KEY_CMP_PUBLIC) ==
				    0)
					revoked = lineno;
				ssh_key_free(k);
			}
			continue;
		}
		if (nf < 3)
			continue;
		if (strncmp(f[0], "|1|", 3) == 0) {
			hashed++;
			continue;
		}
		if (hostpattern_match(f[0], name) != 1)
			continue;
		if (strcmp(f[1], type) != 0) {
			othertype++;
			continue;
		}
		if (hostkey_import(f[1], f[2], &k) == -1)
			continue;
		i = ssh_key_cmp(k, srv, SSH_KEY_CMP_PUBLIC);
		ssh_key_free(k);
		if (i == 0)
			found = lineno;
		else if (changed == 0)
			changed = lineno;
	}
	free(text);

	if (revoked) {
		errf(err, errlen, "%s key %s is marked @revoked in known"
		    " hosts %s (line %d); refusing", type, fp, h->known_hosts,
		    revoked);
		return -1;
	}
	if (found)
		return 0;
	if (changed) {
		errf(err, errlen, "%s key %s does not match the key for %s"
		    " in known hosts %s (line %d): the host key has CHANGED"
		    " (or someone is in the middle); refusing", type, fp, name,
		    h->known_hosts, changed);
		return -1;
	}
	errf(err, errlen, "%s key %s is not in known hosts %s for %s%s;"
	    " refusing", type, fp, h->known_hosts, name,
	    othertype ? " (only keys of other types are listed)" :
	    hashed ? " (hashed entries are not supported: list the host by"
	    " name, e.g. with ssh-keyscan without -H)" : "");
	return -1;
}

/*
 * known_hosts patterns know only "*" and "?" ("[" is literal, as in
 * "[host]:port"); case does not matter.
 */
static int
wildmatch(const char *p, const char *s)
{
	for (; *p != '\0'; p++, s++) {
		if (*p == '*') {
			while (p[1] == '*')
				p++;
			if (p[1] == '\0')
				return 1;
			for (; *s != '\0'; s++)
				if (wildmatch(p + 1, s))
					return 1;
			return 0;
		}
		if (*s == '\0')
			return 0;
		if (*p != '?' && tolower((unsigned char)*p) !=
		    tolower((unsigned char)*s))
			return 0;
	}
	return *s == '\0';
}

/* 1 match, -1 negated match, 0 no match (as in OpenSSH's match_hostname) */
static int
hostpattern_match(char *patterns, const char *name)
{
	char	*pat, *sp = NULL;
	int	 neg, got = 0;

	for (pat = strtok_r(patterns, ",", &sp); pat != NULL;
	    pat = strtok_r(NULL, ",", &sp)) {
		neg = *pat == '!';
		if (neg)
			pat++;
		if (*pat == '\0')
			continue;
		if (wildmatch(pat, name)) {
			if (neg)
				return -1;
			got = 1;
		}
	}
	return got;
}

/* bring the host's byte counts up to date for show hosts */
void
sshconn_refresh(struct sshhost *host)
{
	struct sshconn	*c;

	if (host->session == NULL || (c = conn_get(host)) == NULL)
		return;
	host->st.bytes_in = c->sockcount.in_bytes;
	host->st.bytes_out = c->sockcount.out_bytes;
}

/* the session socket is readable: let libssh process what arrived */
static void
conn_readable(int fd, short event, void *arg)
{
	struct sshhost	*host = arg;

	if (host->session == NULL)
		return;
	(void)ssh_event_dopoll(conn_get(host)->joined, 0);
	if (host->session == NULL)
		return;		/* a callback's work lost it */
	sshconn_refresh(host);
	if (sshconn_check(host))
		return;
	/* forwarded channels being opened learn their fate here */
	forward_poll(host);
	jump_poll(host);
	sshconn_want_write(host);
}

static void
conn_writable(int fd, short event, void *arg)
{
	struct sshhost	*host = arg;

	conn_get(host)->evw_set = 0;
	conn_readable(fd, event, arg);
}

/*
 * Forwards write in non-blocking mode: what the socket did not take
 * stays in libssh until the socket is writable again.
 */
void
sshconn_want_write(struct sshhost *host)
{
	struct sshconn	*c = conn_get(host);

	if (host->session == NULL || c->evw_set ||
	    (ssh_get_poll_flags(host->session) & SSH_WRITE_PENDING) == 0)
		return;
	event_set(&c->evw, ssh_get_fd(host->session), EV_WRITE,
	    conn_writable, host);
	event_add(&c->evw, NULL);
	c->evw_set = 1;
}

int
sshconn_check(struct sshhost *host)
{
	int	 status;

	if (host->session == NULL)
		return 1;
	status = ssh_get_status(host->session);
	if (ssh_is_connected(host->session) &&
	    (status & (SSH_CLOSED | SSH_CLOSED_ERROR)) == 0)
		return 0;
	conn_lost(host, ssh_get_error(host->session));
	return 1;
}

static void
conn_lost(struct sshhost *host, const char *why)
{
	char	 where[HOST_ADDR_LEN + 8];

	if (why == NULL || *why == '\0')
		why = "connection closed";
	log_warnx("host \"%s\" %s: connection lost: %s", host->name,
	    host_where(host, where, sizeof(where)), why);
	snprintf(host->st.last_error, sizeof(host->st.last_error),
	    "connection lost: %s", why);
	conn_teardown(host);
	host->lost = 1;
	host->st.state = HOST_DISCONNECTED;
	host->st.since = time(NULL);
}

/* free the session and everything on it */
static void
conn_teardown(struct sshhost *host)
{
	struct sshconn	*c = conn_get(host);
	ssh_session	 s = host->session;

	if (host->ev_set) {
		event_del(&host->ev);
		host->ev_set = 0;
	}
	if (s == NULL)
		return;
	/* the shells free their channels while the session still exists */
	jump_host_down(host, "the jump host's connection was lost");
	forward_host_lost(host);
	shell_host_lost(host);
	delegate_host_lost(host);
	if (host->sftp != NULL) {
		sftp_free(host->sftp);
		host->sftp = NULL;
	}
	if (c->joined != NULL)
		(void)ssh_event_remove_session(c->joined, s);
	c->joined = NULL;
	if (c->evw_set) {
		event_del(&c->evw);
		c->evw_set = 0;
	}
	host->session = NULL;
	if (ssh_is_connected(s))
		conn_disconnect(s);
	ssh_free(s);
	host->st.channels = 0;
}

sftp_session
sshconn_sftp(struct sshhost *host, char *err, size_t errlen)
{
	sftp_session	 sftp;

	if (host->sftp != NULL)
		return host->sftp;
	if (host->session == NULL) {
		errf(err, errlen, "host \"%s\" is not connected",
		    host->name);
		return NULL;
	}
	if ((sftp = sftp_new(host->session)) == NULL) {
		errf(err, errlen, "host \"%s\": cannot open an SFTP"
		    " channel: %s", host->name, ssh_get_error(host->session));
		(void)sshconn_check(host);
		return NULL;
	}
	if (sftp_init(sftp) != SSH_OK) {
		errf(err, errlen, "host \"%s\": SFTP does not start (is"
		    " the sftp subsystem enabled in sshd_config?): %s",
		    host->name, ssh_get_error(host->session));
		sftp_free(sftp);
		(void)sshconn_check(host);
		return NULL;
	}
	host->sftp = sftp;
	host->st.channels++;
	return sftp;
}

/* the reason is taken before the channel is freed, which may reset it */
ssh_channel
sshconn_exec(struct sshhost *host, const char *cmd, char *err, size_t errlen)
{
	ssh_channel	 ch;

	if ((ch = ssh_channel_new(host->session)) == NULL ||
	    ssh_channel_open_session(ch) != SSH_OK ||
	    ssh_channel_request_exec(ch, cmd) != SSH_OK) {
		strlcpy(err, ssh_get_error(host->session), errlen);
		if (ch != NULL)
			ssh_channel_free(ch);
		return NULL;
	}
	return ch;
}

/*
 * Keepalive: an SSH_MSG_IGNORE every keepalive_secs() seconds keeps
 * middleboxes from dropping an idle connection and gives TCP something
 * unacknowledged, so the parent's TCP_USER_TIMEOUT and keepalive options
 * make the kernel report a peer that vanished silently.
 */
static void
conn_keepalive(int fd, short event, void *arg)
{
	struct timeval	 tv = { keepalive_secs(), 0 };
	struct sshconn	*c, *next;

	TAILQ_FOREACH_SAFE(c, &conns, entry, next) {
		if (c->host->session == NULL)
			continue;
		if (ssh_send_ignore(c->host->session, "") != SSH_OK) {
			conn_lost(c->host, ssh_get_error(c->host->session));
			continue;
		}
		(void)sshconn_check(c->host);
	}
	evtimer_add(&ev_keepalive, &tv);
}

/* the host is leaving the configuration; the caller frees it after */
void
sshconn_hostgone(struct sshhost *host)
{
	struct sshconn	*c, *o;
	struct sshcall	*call;

	jump_host_down(host, "the jump host was removed from the"
	    " configuration");
	while ((call = TAILQ_FIRST(&host->waiting)) != NULL) {
		TAILQ_REMOVE(&host->waiting, call, entry);
		free(call->state);
		call->state = NULL;
		call->cancel = NULL;
		sshcall_text(call, 1, "host \"%s\" was removed from the"
		    " configuration", host->name);
	}
	TAILQ_FOREACH(c, &conns, entry)
		if (c->host == host)
			break;
	if (c != NULL) {
		conn_teardown(host);
		conn_wipe(c);
		TAILQ_REMOVE(&conns, c, entry);
		free(c->confsig);
		/* sessions tunnelled through this host are in its event */
		TAILQ_FOREACH(o, &conns, entry)
			if (o->host->session != NULL && o->joined == c->sev)
				conn_lost(o->host, "its jump host was removed"
				    " from the configuration");
		ssh_event_free(c->sev);
		free(c);
	} else
		shell_host_lost(host);
	host->connecting = 0;
	free(host->known_hosts);
	host->known_hosts = NULL;
}
