/*
 * ssh_conn.c: the ssh worker's connections.  A host has a pool of them
 * (ssh_pool.c hands out their channels), each made when needed: the
 * parent connects the socket and reads the key files (IMSG_SSH_CONNECT
 * -> IMSG_SSH_KEYDATA, IMSG_SSH_CONNECTED, the connection's id in each),
 * this file runs the SSH handshake over the socket, verifies the host
 * key strictly (ssh_hostkey.c), authenticates with the identity and then
 * runs the calls that waited.  The handshake and the authentication do
 * not block (conn_hs_step, a step each time the socket is ready, within
 * SSHCONN_TIMEOUT): a new connection of a pool that grows, on a server
 * slow to answer it, holds up nobody on the host's other connections.
 *
 * Once connected, each session socket is watched by libevent; when it is
 * readable, libssh processes the packets (ssh_event_dopoll, no waiting)
 * and hands channel data to the channel callbacks the tools installed.
 * The same callbacks fire when a blocking libssh call of some tool (an
 * SFTP request, say) happens to process packets for other channels, so
 * no data is ever stranded in libssh's buffers.
 *
 * Keepalive: every "keepalive" seconds a connection that has received
 * nothing since asks the server for an answer (keepalive@openssh.com
 * with want-reply, sent without waiting for it); one from which nothing
 * at all has arrived for "keepalive" x "count" seconds is not
 * responding, and is lost, as with OpenSSH's ServerAliveCountMax.
 *
 * A connection that dies is noticed here (EOF or error on the socket,
 * silence, a tool's failed operation via sshconn_check): the tools free
 * what they had on it (*_conn_lost), then the session goes; the shells
 * on it warn on their next command that their state was reset.  The
 * host's other connections are not touched.
 *
 * For a host with "via J" the parent's socket is one end of a
 * socketpair whose other end J's worker pumps to a direct-tcpip channel
 * of J's (parent_jump.c, ssh_jump.c): to us it is a socket like any
 * other, and the handshake, host key check and authentication are ours,
 * end to end.  When J's connection or J's worker goes, the socket sees
 * EOF and the connection is lost here as any other.  libssh does not
 * close a socket it was given (SSH_OPTIONS_FD) when it disconnects, so
 * we do (conn_disconnect): else the jump channel, or the sshd, would
 * never learn that we left.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

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
#include <libssh/server.h>	/* ssh_send_keepalive */
#include <libssh/sftp.h>

#include "bridged.h"
#include "imsg.h"
#include "log.h"
#include "ssh.h"
#include "ssh_files.h"
#include "ssh_pool.h"



static struct sshconn *conn_connecting(struct sshhost *);

static void	 conn_free(struct sshconn *);
static void	 conn_readable(int, short, void *);
static void	 conn_writable(int, short, void *);
static void	 conn_rx(struct sshconn *);
static void	 conn_quickack(struct sshconn *);
static void	 conn_keepalive(int, short, void *);
static void	 conn_lost(struct sshconn *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static void	 conn_teardown(struct sshconn *);

static void	 conn_runwaiting(struct sshhost *);
static void	 conn_start(struct sshconn *, ssh_session);
static void	 wait_cancel(struct sshcall *);
static char	*conf_signature(struct host *);
static int	 conf_changed(struct sshhost *);
static const char *host_where(struct sshhost *, char *, size_t);
static long long now_ms(void);

/* socket polls per readable event: 64 of libssh's 4 KiB reads */
#define CONN_POLLS	64

static TAILQ_HEAD(, sshconn)	 allconns = TAILQ_HEAD_INITIALIZER(allconns);
static struct event		 ev_keepalive;
static uint32_t			 conn_seq;

/* seconds between keepalives, and how many may go unanswered */
static int
keepalive_secs(void)
{
	return ssh_conf != NULL && ssh_conf->limits.keepalive > 0 ?
	    ssh_conf->limits.keepalive : CONF_KEEPALIVE;
}

static int
keepalive_count(void)
{
	return ssh_conf != NULL && ssh_conf->limits.keepalive_count > 0 ?
	    ssh_conf->limits.keepalive_count : CONF_KEEPALIVE_COUNT;
}

/* how long a connection may be silent before it is given up */
int
sshconn_silence_secs(void)
{
	return keepalive_secs() * keepalive_count();
}

void
sshconn_init(void)
{
	struct timeval	 tv = { 1, 0 };

	/* the first tick comes early: the config has not arrived yet */
	evtimer_set(&ev_keepalive, conn_keepalive, NULL);
	evtimer_add(&ev_keepalive, &tv);
}

static long long
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* a new connection for host: ask the parent for a socket */
struct sshconn *
sshconn_make(struct sshhost *host)
{
	struct ssh_connect	 req;
	struct sshconn		*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal(NULL);
	if (++conn_seq == 0)
		conn_seq = 1;
	c->id = conn_seq;
	c->host = host;
	pool_conninit(c);
	TAILQ_INSERT_TAIL(&host->conns, c, entry);
	TAILQ_INSERT_TAIL(&allconns, c, aentry);
	if (sshconn_any(host) == NULL) {
		host->st.state = HOST_CONNECTING;
		host->st.since = time(NULL);
	}
	memset(&req, 0, sizeof(req));
	req.hostid = host->st.hostid;
	req.connid = c->id;
	if (ssh_compose(PROC_PARENT, IMSG_SSH_CONNECT, 0, -1, &req,
	    sizeof(req)) == -1)
		fatal("%s: compose", __func__);
	return c;
}

struct sshconn *
sshconn_byid(uint32_t id)
{
	struct sshconn	*c;

	TAILQ_FOREACH(c, &allconns, aentry)
		if (c->id == id)
			return c;
	return NULL;
}

/* the first connection that is up; NULL: none */
struct sshconn *
sshconn_any(struct sshhost *host)
{
	struct sshconn	*c;

	TAILQ_FOREACH(c, &host->conns, entry)
		if (c->up && !c->dying)
			return c;
	return NULL;
}

static struct sshconn *
conn_connecting(struct sshhost *host)
{
	struct sshconn	*c;

	TAILQ_FOREACH(c, &host->conns, entry)
		if (!c->up && !c->dying)
			return c;
	return NULL;
}

void
sshconn_wipe(struct sshconn *c)
{
	if (c->identity != NULL) {
		explicit_bzero(c->identity, c->identitylen);
		free(c->identity);
		c->identity = NULL;
		c->identitylen = 0;
	}
}

/* the struct, and a handshake under way; an up session is gone already */
static void
conn_free(struct sshconn *c)
{
	sshconn_hs_abort(c);
	sshconn_wipe(c);
	pool_connfree(c);
	TAILQ_REMOVE(&c->host->conns, c, entry);
	TAILQ_REMOVE(&allconns, c, aentry);
	free(c->confsig);
	free(c);
}

const char *
sshconn_error(ssh_session s, const char *fallback)
{
	const char	*e;

	/* a blocking section given up (ssh_rfile.c): say so, not libssh */
	if ((e = files_stuck_why(s)) != NULL)
		return e;
	e = s != NULL ? ssh_get_error(s) : NULL;

	return e != NULL && *e != '\0' ? e : fallback;
}

/* libssh calls that must not wait; returns the mode to put back */
int
sshconn_nb_begin(ssh_session s)
{
	int	 was = ssh_is_blocking(s);

	ssh_set_blocking(s, 0);
	return was;
}

void
sshconn_nb_end(ssh_session s, int was)
{
	ssh_set_blocking(s, was);
}

/*
 * Write what buf holds to ch, as much as the channel's window takes, in
 * pieces of at most chunk bytes; the session must be non-blocking.  The
 * pipes of forwards and jumps share it.  Returns the bytes written, or
 * -1 when the channel failed.
 */
ssize_t
sshconn_chan_flush(ssh_channel ch, struct evbuffer *buf, size_t chunk)
{
	size_t		 len;
	uint32_t	 win;
	ssize_t		 total = 0;
	int		 n;

	while ((len = evbuffer_get_length(buf)) > 0 &&
	    (win = ssh_channel_window_size(ch)) > 0) {
		if (len > win)
			len = win;
		if (len > chunk)
			len = chunk;
		n = ssh_channel_write(ch, evbuffer_pullup(buf, len), len);
		if (n == SSH_ERROR)
			return -1;
		if (n <= 0)
			break;
		evbuffer_drain(buf, n);
		total += n;
	}
	return total;
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
	struct sshconn	*c, *next;

	call->run = run;
	if (sshconn_any(host) != NULL && conf_changed(host)) {
		log_info("host \"%s\": configuration changed, reconnecting",
		    host->name);
		TAILQ_FOREACH_SAFE(c, &host->conns, entry, next)
			conn_teardown(c);
		host->reconf = 1;
		host->st.state = HOST_DISCONNECTED;
	}
	if (sshconn_any(host) != NULL) {
		call->cancel = NULL;
		run(call);
		return;
	}
	call->cancel = wait_cancel;
	TAILQ_INSERT_TAIL(&host->waiting, call, entry);
	if (conn_connecting(host) == NULL)
		(void)sshconn_make(host);
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

/* a reload changed how this host is reached: its sessions are stale */
static int
conf_changed(struct sshhost *host)
{
	struct sshconn	*c;
	char		*sig;
	int		 changed = 0;

	if (host->conf == NULL)
		return 0;
	sig = conf_signature(host->conf);
	TAILQ_FOREACH(c, &host->conns, entry)
		if (c->up && c->confsig != NULL && strcmp(sig, c->confsig) != 0)
			changed = 1;
	free(sig);
	return changed;
}

/* a call cancelled before its host was connected */
static void
wait_cancel(struct sshcall *call)
{
	struct sshhost	*host = call->host;

	TAILQ_REMOVE(&host->waiting, call, entry);
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
	if ((c = sshconn_byid(kd.connid)) == NULL || c->up || c->dying ||
	    c->host->st.hostid != kd.hostid) {
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
		sshconn_wipe(c);
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
	char			 err[512];
	int			 fd = imsg->fd;

	imsg->fd = -1;
	if (imsg->datalen != sizeof(sc))
		fatalx("bad IMSG_SSH_CONNECTED size %zu", imsg->datalen);
	memcpy(&sc, imsg->data, sizeof(sc));
	sc.errmsg[sizeof(sc.errmsg) - 1] = '\0';
	if ((c = sshconn_byid(sc.connid)) == NULL || c->up || c->dying ||
	    c->host->st.hostid != sc.hostid) {
		if (fd != -1)
			close(fd);
		return;
	}
	if (sc.error != 0 || fd == -1) {
		if (fd != -1)
			close(fd);
		sshconn_failed(c, sc.error ? sc.errmsg :
		    "no socket from the parent");
		return;
	}
	/* the rest when the handshake is done (conn_hs_step) */
	if (sshconn_handshake(c, fd, err, sizeof(err)) == -1)
		sshconn_failed(c, err);
}

/* authenticated: the connection takes calls and channels */
void
sshconn_ready(struct sshconn *c, ssh_session s)
{
	struct sshhost	*host = c->host;
	int		 n = 0;

	conn_start(c, s);
	sshconn_wipe(c);
	c->up = 1;
	host->st.state = HOST_CONNECTED;
	host->st.since = time(NULL);
	host->st.last_error[0] = '\0';
	TAILQ_FOREACH(c, &host->conns, entry)
		n += c->up;
	if (n == 1)
		log_info("host \"%s\": connected, host key %s", host->name,
		    host->st.fingerprint);
	else
		log_info("host \"%s\": connection %d made (the others are"
		    " full)", host->name, n);
	conn_runwaiting(host);
	if ((c = sshconn_any(host)) != NULL)
		pool_conn_up(c);
}

/*
 * Making a connection failed.  With no other up, every waiting call
 * learns why; else the pool tries again in a while.
 */
void
sshconn_failed(struct sshconn *c, const char *msg)
{
	struct sshhost	*host = c->host;
	struct sshcall	*call;
	char		 where[HOST_ADDR_LEN + 8], full[800];

	conn_free(c);
	host_where(host, where, sizeof(where));
	snprintf(full, sizeof(full), "host \"%s\" %s: %s", host->name,
	    where, msg);
	log_warnx("%s", full);
	if (sshconn_any(host) == NULL) {
		host->st.state = HOST_FAILED;
		host->st.since = time(NULL);
		strlcpy(host->st.last_error, msg,
		    sizeof(host->st.last_error));
		while ((call = TAILQ_FIRST(&host->waiting)) != NULL) {
			TAILQ_REMOVE(&host->waiting, call, entry);
			call->cancel = NULL;
			sshcall_text(call, 1, "%s", full);
		}
	}
	pool_conn_failed(host, full);
}

static void
conn_runwaiting(struct sshhost *host)
{
	struct sshcall	*call;
	char		 warning[sizeof(call->warning)];
	int		 lost = host->lost || host->reconf;

	if (host->reconf)
		snprintf(warning, sizeof(warning), "warning: the configuration"
		    " of host \"%s\" changed and the connection was re-made;"
		    " shell state (cwd, environment) was reset", host->name);
	else
		snprintf(warning, sizeof(warning), "warning: the connection to"
		    " host \"%s\" was lost and re-made; shell state (cwd,"
		    " environment) was reset", host->name);
	host->lost = 0;
	host->reconf = 0;
	while ((call = TAILQ_FIRST(&host->waiting)) != NULL) {
		if (sshconn_any(host) == NULL) {
			/* a call before this one lost it again */
			if (conn_connecting(host) == NULL)
				(void)sshconn_make(host);
			return;
		}
		TAILQ_REMOVE(&host->waiting, call, entry);
		call->cancel = NULL;
		if (lost && call->warning[0] == '\0')
			strlcpy(call->warning, warning, sizeof(call->warning));
		call->run(call);
	}
}

/* the session is authenticated: its events */
static void
conn_start(struct sshconn *c, ssh_session s)
{
	if ((c->sev = ssh_event_new()) == NULL ||
	    ssh_event_add_session(c->sev, s) != SSH_OK)
		fatalx("%s: ssh_event", __func__);
	c->session = s;
	c->sftp = NULL;
	c->seen_in = c->sockcount.in_bytes;
	c->last_rx = now_ms();
	free(c->confsig);
	c->confsig = conf_signature(c->host->conf);
	event_set(&c->ev, ssh_get_fd(s), EV_READ | EV_PERSIST,
	    conn_readable, c);
	event_add(&c->ev, NULL);
	c->ev_set = 1;
}

/*
 * libssh 0.10 does not close a socket given with SSH_OPTIONS_FD when it
 * disconnects (only when it sees the connection fail), nor does
 * ssh_free after that: close it, or the peer, a sshd or the jump
 * channel of a "via" host, never learns that we left.
 */
void
sshconn_disconnect(ssh_session s)
{
	socket_t	 fd = ssh_get_fd(s);

	ssh_disconnect(s);
	if (fd != SSH_INVALID_SOCKET && ssh_get_fd(s) == SSH_INVALID_SOCKET)
		close(fd);
}

/* bring the host's counts up to date for show hosts */
void
sshconn_refresh(struct sshhost *host)
{
	struct sshconn	*c;

	host->st.connections = 0;
	host->st.channels = 0;
	host->st.bytes_in = host->gone_in;
	host->st.bytes_out = host->gone_out;
	TAILQ_FOREACH(c, &host->conns, entry) {
		if (!c->up)
			continue;
		host->st.connections++;
		host->st.channels += c->nchan;
		host->st.bytes_in += c->sockcount.in_bytes;
		host->st.bytes_out += c->sockcount.out_bytes;
	}
}

/*
 * sshd leaves Nagle on for sessions without a pty: of two small writes
 * (a command's stdout and stderr markers, say) the second waits for our
 * ACK of the first, which Linux delays by up to 40 ms.  Asking for quick
 * ACKs again after each read takes that out of every round trip.
 */
static void
conn_quickack(struct sshconn *c)
{
	int	 on = 1;

	(void)setsockopt(ssh_get_fd(c->session), IPPROTO_TCP, TCP_QUICKACK,
	    &on, sizeof(on));
}

/* anything received since the last look counts as a sign of life */
static void
conn_rx(struct sshconn *c)
{
	if (c->sockcount.in_bytes != c->seen_in) {
		c->seen_in = c->sockcount.in_bytes;
		c->last_rx = now_ms();
	}
}

/* the session socket is readable: let libssh process what arrived */
static void
conn_readable(int fd, short event, void *arg)
{
	struct sshconn	*c = arg;
	uint32_t	 id = c->id;
	size_t		 before;
	int		 i;

	if (c->session == NULL || c->dying)
		return;
	/*
	 * libssh reads at most 4 KiB from the socket per poll: a loop turn
	 * for each would make bulk data (forwards) crawl.  Up to 256 KiB
	 * here, while more is there, before the rest of the loop has its
	 * turn.
	 */
	for (i = 0; i < CONN_POLLS; i++) {
		before = c->sockcount.in_bytes;
		if (ssh_event_dopoll(c->sev, 0) == SSH_ERROR ||
		    c->sockcount.in_bytes == before)
			break;
	}
	conn_quickack(c);
	conn_rx(c);
	if (sshconn_check(c))
		return;
	/* channels being opened learn their fate here; answers may do anything */
	pool_poll(c);
	if ((c = sshconn_byid(id)) == NULL)
		return;
	forward_poll(c);
	if ((c = sshconn_byid(id)) == NULL)
		return;
	jump_poll(c);
	if ((c = sshconn_byid(id)) == NULL)
		return;
	sshconn_want_write(c);
}

static void
conn_writable(int fd, short event, void *arg)
{
	struct sshconn	*c = arg;

	c->evw_set = 0;
	conn_readable(fd, event, arg);
}

/*
 * Forwards and non-blocking opens write in non-blocking mode: what the
 * socket did not take stays in libssh until the socket is writable.
 */
void
sshconn_want_write(struct sshconn *c)
{
	if (c->session == NULL || c->evw_set ||
	    (ssh_get_poll_flags(c->session) & SSH_WRITE_PENDING) == 0)
		return;
	event_set(&c->evw, ssh_get_fd(c->session), EV_WRITE, conn_writable,
	    c);
	event_add(&c->evw, NULL);
	c->evw_set = 1;
}

int
sshconn_check(struct sshconn *c)
{
	ssh_session	 s;
	int		 status;

	if (c == NULL || (s = c->session) == NULL || c->dying)
		return 1;
	status = ssh_get_status(s);
	if (ssh_is_connected(s) &&
	    (status & (SSH_CLOSED | SSH_CLOSED_ERROR)) == 0)
		return 0;
	/* a file tool's blocking section given up (ssh_rfile.c) */
	if (files_stuck_why(s) != NULL)
		conn_lost(c, "not responding: %s", files_stuck_why(s));
	else
		conn_lost(c, "connection lost: %s", sshconn_error(s,
		    "connection closed"));
	return 1;
}

/* what: "connection lost: ..." or "not responding: ..." */
static void
conn_lost(struct sshconn *c, const char *fmt, ...)
{
	struct sshhost	*host = c->host;
	va_list		 ap;
	char		 where[HOST_ADDR_LEN + 8], what[512];

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	log_warnx("host \"%s\" %s: %s", host->name,
	    host_where(host, where, sizeof(where)), what);
	strlcpy(host->st.last_error, what, sizeof(host->st.last_error));
	conn_teardown(c);
	/* its session is gone: a new one at its address is another */
	files_stuck_clear();
	if (sshconn_any(host) == NULL) {
		host->lost = 1;
		host->st.state = HOST_DISCONNECTED;
		host->st.since = time(NULL);
	}
}

/*
 * Free one connection and everything on it: the tools free their
 * channels while the session still exists, then it goes.
 */
static void
conn_teardown(struct sshconn *c)
{
	struct sshhost	*host = c->host;
	ssh_session	 s = c->session;
	char		 why[256];

	if (c->dying)
		return;
	c->dying = 1;
	if (c->ev_set) {
		event_del(&c->ev);
		c->ev_set = 0;
	}
	if (c->evw_set) {
		event_del(&c->evw);
		c->evw_set = 0;
	}
	if (s != NULL) {
		snprintf(why, sizeof(why), "the connection to host \"%s\" was"
		    " lost", host->name);
		pool_conn_lost(c, why);
		forward_conn_lost(host, c);
		jump_conn_lost(host, c);
		/* before the record of temps learns of it (ssh_ftemp.c) */
		fchan_conn_lost(host, c);
		aexec_conn_lost(host, c);
		shell_conn_lost(host, c);
		delegate_conn_lost(host, c);
		if (c->sftp != NULL) {
			sftp_free(c->sftp);
			c->sftp = NULL;
		}
		if (c->sev != NULL) {
			ssh_event_remove_session(c->sev, s);
			ssh_event_free(c->sev);
			c->sev = NULL;
		}
		host->gone_in += c->sockcount.in_bytes;
		host->gone_out += c->sockcount.out_bytes;
		c->session = NULL;
		/* a frozen peer must not hold the worker up in a write */
		ssh_set_blocking(s, 0);
		if (ssh_is_connected(s))
			sshconn_disconnect(s);
		ssh_free(s);
	}
	c->up = 0;
	conn_free(c);
	/* those waiting for a channel may need a new connection */
	pool_kick(host);
}

/*
 * Every keepalive_secs(): a connection that has received nothing for
 * that long asks for an answer; one silent for keepalive_count() times
 * that is not responding.  libssh keeps one global request's state per
 * session: the second call collects an answer that came and sends the
 * next one (a reply still owed is not asked for twice); sshconn_settle
 * clears it before a global request of our own.  Extra connections
 * that stayed unused go.
 */
static void
conn_keepalive(int fd, short event, void *arg)
{
	struct timeval	 tv = { keepalive_secs(), 0 };
	struct sshconn	*c;
	uint32_t	*ids = NULL;
	size_t		 n = 0, i;
	long long	 now, silent, limit;
	time_t		 t = time(NULL);
	int		 was;

	TAILQ_FOREACH(c, &allconns, aentry)
		n++;
	if (n > 0 && (ids = calloc(n, sizeof(*ids))) == NULL)
		fatal(NULL);
	n = 0;
	TAILQ_FOREACH(c, &allconns, aentry)
		if (c->up && !c->dying)
			ids[n++] = c->id;
	limit = (long long)keepalive_secs() * keepalive_count() * 1000;
	for (i = 0; i < n; i++) {
		if ((c = sshconn_byid(ids[i])) == NULL || !c->up)
			continue;
		/* what the loop has not read yet is not silence */
		conn_readable(-1, 0, c);
		if ((c = sshconn_byid(ids[i])) == NULL)
			continue;
		now = now_ms();
		silent = now - c->last_rx;
		if (silent >= limit - 500) {
			conn_lost(c, "not responding: no answer to keepalives"
			    " for %lld s", (silent + 500) / 1000);
			continue;
		}
		if (pool_idle(c, t)) {
			log_debug("host \"%s\": closing connection %u, unused"
			    " for a while", c->host->name, c->id);
			conn_teardown(c);
			continue;
		}
		if (silent < keepalive_secs() * 1000LL - 500)
			continue;
		was = sshconn_nb_begin(c->session);
		(void)ssh_send_keepalive(c->session);
		(void)ssh_send_keepalive(c->session);
		sshconn_nb_end(c->session, was);
		c->ka_pending = 1;
		if (!sshconn_check(c))
			sshconn_want_write(c);
	}
	free(ids);
	evtimer_add(&ev_keepalive, &tv);
}

/*
 * Before a global request of our own (forwards): an unanswered
 * keepalive would otherwise be taken for its answer.  Blocking, at most
 * one round trip.
 */
void
sshconn_settle(struct sshconn *c)
{
	int	 was;

	if (c->session == NULL || !c->ka_pending)
		return;
	was = ssh_is_blocking(c->session);
	ssh_set_blocking(c->session, 1);
	(void)ssh_send_keepalive(c->session);
	ssh_set_blocking(c->session, was);
	c->ka_pending = 0;
	conn_rx(c);
}

/* the host is leaving the configuration; the caller frees it after */
void
sshconn_hostgone(struct sshhost *host)
{
	struct sshconn	*c, *next;
	struct sshcall	*call;

	while ((call = TAILQ_FIRST(&host->waiting)) != NULL) {
		TAILQ_REMOVE(&host->waiting, call, entry);
		call->cancel = NULL;
		sshcall_text(call, 1, "host \"%s\" was removed from the"
		    " configuration", host->name);
	}
	files_read_hostgone(host);
	/* what waits for a channel, on no connection yet, goes too */
	forward_conn_lost(host, NULL);
	jump_conn_lost(host, NULL);
	fchan_conn_lost(host, NULL);
	aexec_conn_lost(host, NULL);
	shell_conn_lost(host, NULL);
	delegate_conn_lost(host, NULL);
	TAILQ_FOREACH_SAFE(c, &host->conns, entry, next)
		conn_teardown(c);
	pool_hostgone(host);
	free(host->known_hosts);
	host->known_hosts = NULL;
}
