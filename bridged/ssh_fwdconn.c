/*
 * ssh_fwdconn.c: the connections on the ssh worker's port forwards
 * (ssh_fwd.c): a local forward's accepted sockets joined to direct-tcpip
 * channels, a remote forward's forwarded-tcpip channels joined to the
 * parent's local connections, and the bytes between them.
 *
 * The bytes move through a pump each (ssh_pump.c, which says how the
 * worker never blocks on one and how back-pressure works); here is how
 * a connection starts (a channel opened for an accepted socket, or the
 * parent's connect for a channel the host opened) and how it ends: with
 * a record, when both directions have ended, or either side closed or
 * failed.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event.h>
#include <jansson.h>
#include <libssh/libssh.h>
#include <libssh/callbacks.h>
#include <libssh/server.h>

#include "bridged.h"
#include "imsg.h"
#include "log.h"
#include "ssh.h"
#include "ssh_fwd.h"

#define FWD_CHUNK		(256 * 1024)
#define FWD_HIWAT		(512 * 1024)	/* held for a slow local side */
#define FWD_OPEN_TIMEOUT	30		/* seconds for a channel open */

static void	 conn_refused(struct fwd *, const char *, const char *);
static struct fconn *conn_new(struct fwd *, const char *);
static void	 conn_try_open(struct fconn *);
static void	 conn_waiting(struct pump *);
static void	 conn_end(struct pump *, const char *);
static void	 conn_timeout(int, short, void *);

static uint32_t		 conn_nextid;

/* a connection the limit (or a lost host) turned away: only a record */
static void
conn_refused(struct fwd *f, const char *peer, const char *why)
{
	f->nrefused++;
	fwd_record_send(json_pack("{s:s, s:I, s:I, s:s, s:s, s:s}",
	    "type", "forward_conn", "forward", (json_int_t)f->id,
	    "session", (json_int_t)f->sessid, "host", f->host->name,
	    "peer", peer, "end", why));
}

/* a connection to a local forward's socket: open a channel for it */
void
fwd_accept(int fd, short event, void *arg)
{
	struct fwd		*f = arg;
	struct fconn		*fc;
	struct sockaddr_storage	 ss;
	socklen_t		 slen = sizeof(ss);
	char			 addr[INET6_ADDRSTRLEN], peer[sizeof(fc->peer)];
	int			 s, pport = 0;

	if ((s = accept4(fd, (struct sockaddr *)&ss, &slen, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) == -1) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("forward %u: accept", f->id);
		return;
	}
	addr[0] = '\0';
	if (ss.ss_family == AF_INET) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr,
		    addr, sizeof(addr));
		pport = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr,
		    addr, sizeof(addr));
		pport = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	snprintf(peer, sizeof(peer), "%s:%d", addr[0] ? addr : "?", pport);
	if (f->conn->session == NULL || f->nactive >=
	    (uint32_t)f->host->conf->fwd_conns_max) {
		conn_refused(f, peer, f->conn->session == NULL ?
		    "refused: host not connected" :
		    "refused: connection limit (forward connections)");
		log_info("forward %u: connection from %s refused: %s", f->id,
		    peer, f->conn->session == NULL ? "host not connected" :
		    "connection limit");
		close(s);
		return;
	}
	fc = conn_new(f, peer);
	fc->pump.fd = s;
	if ((fc->pump.ch = ssh_channel_new(f->conn->session)) == NULL) {
		conn_free(fc, "cannot make a channel");
		return;
	}
	/* direct-tcpip: not a session, sshd's MaxSessions does not count it */
	sshconn_chadd(f->conn);
	ssh_set_channel_callbacks(fc->pump.ch, &fc->pump.cb);
	fc->state = CONN_OPENING;
	conn_try_open(fc);
}
static struct fconn *
conn_new(struct fwd *f, const char *peer)
{
	struct fconn	*fc;
	struct timeval	 tv = { FWD_OPEN_TIMEOUT, 0 };

	if ((fc = calloc(1, sizeof(*fc))) == NULL)
		fatal(NULL);
	if (++conn_nextid == 0)
		conn_nextid = 1;
	fc->id = conn_nextid;
	fc->fwd = f;
	strlcpy(fc->peer, peer, sizeof(fc->peer));
	pump_init(&fc->pump, f->conn, FWD_CHUNK, FWD_HIWAT, "the local side",
	    conn_waiting, conn_end, fc);
	fc->pump.sum_sent = &f->sent;
	fc->pump.sum_received = &f->received;
	clock_gettime(CLOCK_MONOTONIC, &fc->start);
	evtimer_set(&fc->ev_timeout, conn_timeout, fc);
	evtimer_add(&fc->ev_timeout, &tv);
	f->nactive++;
	f->ntotal++;
	TAILQ_INSERT_TAIL(&f->conns, fc, entry);
	return fc;
}

/* the channel and the local socket are both there: bytes may move */
static void
conn_opened(struct fconn *fc)
{
	evtimer_del(&fc->ev_timeout);
	fc->state = CONN_OPEN;
	pump_start(&fc->pump);
}

/* a step of the pump before it moves bytes */
static void
conn_waiting(struct pump *p)
{
	struct fconn	*fc = p->arg;

	if (p->remote_closed)
		conn_free(fc, "closed by the host");
	else if (fc->state == CONN_OPENING)
		conn_try_open(fc);
}

static void
conn_end(struct pump *p, const char *why)
{
	conn_free(p->arg, why);
}

/* local: (re)try the non-blocking direct-tcpip open */
static void
conn_try_open(struct fconn *fc)
{
	struct fwd	*f = fc->fwd;
	ssh_session	 s = f->conn->session;
	char		 addr[HOST_ADDR_LEN], *p;
	int		 was, rc, pport = 0;

	strlcpy(addr, fc->peer, sizeof(addr));
	if ((p = strrchr(addr, ':')) != NULL) {
		*p = '\0';
		pport = atoi(p + 1);
	}
	was = sshconn_nb_begin(s);
	rc = ssh_channel_open_forward(fc->pump.ch, f->dest_host, f->dest_port,
	    addr, pport);
	sshconn_nb_end(s, was);
	sshconn_want_write(f->conn);
	if (rc == SSH_AGAIN) {
		pump_recheck(&fc->pump);
		return;
	}
	if (rc != SSH_OK) {
		log_info("forward %u: %s:%u from %s: the host refused the"
		    " channel: %s", f->id, f->dest_host, f->dest_port,
		    fc->peer, sshconn_error(s, "open failed"));
		conn_free(fc, "refused by the host (destination unreachable"
		    " or forwarding not allowed)");
		return;
	}
	conn_opened(fc);
}

static void
conn_timeout(int fd, short event, void *arg)
{
	struct fconn	*fc = arg;

	if (fc->state != CONN_OPEN)
		conn_free(fc, "timed out opening");
}

/* the ssh worker processed packets of conn: channels being opened */
void
forward_poll(struct sshconn *conn)
{
	struct fwd	*f, *nf;
	struct fconn	*fc, *nfc;

	TAILQ_FOREACH_SAFE(f, &fwds, entry, nf) {
		if (f->conn != conn)
			continue;
		TAILQ_FOREACH_SAFE(fc, &f->conns, entry, nfc) {
			if (fc->state == CONN_OPENING)
				conn_try_open(fc);
			else
				pump_poll(&fc->pump);
		}
	}
}
/*
 * Remote: the sshd opens a forwarded-tcpip channel for a connection to
 * the port it listens on.  1: not ours, libssh refuses it.
 */
int
fwd_message(ssh_session s, ssh_message msg, void *arg)
{
	struct sshconn	*conn = arg;
	struct sshhost	*host = conn->host;
	struct fwd	*f;
	struct fconn	*fc;
	struct fwd_req	 req;
	ssh_channel	 ch;
	char		 peer[HOST_ADDR_LEN + 8];
	const char	*orig;
	int		 port;

	if (ssh_message_type(msg) != SSH_REQUEST_CHANNEL_OPEN ||
	    ssh_message_subtype(msg) != SSH_CHANNEL_FORWARDED_TCPIP)
		return 1;
	port = ssh_message_channel_request_open_destination_port(msg);
	TAILQ_FOREACH(f, &fwds, entry)
		if (f->conn == conn && f->dir == FWD_FROM_REMOTE &&
		    f->state == FWD_ACTIVE &&
		    f->listen_port == port)
			break;
	if (f == NULL)
		return 1;
	orig = ssh_message_channel_request_open_originator(msg);
	snprintf(peer, sizeof(peer), "%s:%d", orig ? orig : "?",
	    ssh_message_channel_request_open_originator_port(msg));
	if (f->nactive >= (uint32_t)host->conf->fwd_conns_max) {
		conn_refused(f, peer,
		    "refused: connection limit (forward connections)");
		return 1;
	}
	if ((ch = ssh_message_channel_request_open_reply_accept(msg)) == NULL)
		return 0;
	fc = conn_new(f, peer);
	fc->pump.ch = ch;
	sshconn_chadd(conn);
	fc->state = CONN_WAITFD;
	ssh_set_channel_callbacks(ch, &fc->pump.cb);
	memset(&req, 0, sizeof(req));
	req.reqid = fc->id;
	req.hostid = host->st.hostid;
	strlcpy(req.addr, f->dest_host, sizeof(req.addr));
	req.port = f->dest_port;
	if (ssh_compose(PROC_PARENT, IMSG_FWD_CONNECT, fc->id, -1, &req,
	    sizeof(req)) == -1)
		fatal("%s: compose", __func__);
	return 0;
}
/* IMSG_FWD_CONNECTED: the local end of a reverse-forwarded channel */
void
forward_connected(struct imsg *imsg)
{
	struct fwd_reply	 r;
	struct fwd		*f;
	struct fconn		*fc = NULL;
	char			 why[300];
	int			 fd;

	fd = fwd_reply_get(imsg, &r, "IMSG_FWD_CONNECTED");
	TAILQ_FOREACH(f, &fwds, entry) {
		TAILQ_FOREACH(fc, &f->conns, entry)
			if (fc->id == r.reqid)
				break;
		if (fc != NULL)
			break;
	}
	if (fc == NULL || fc->state != CONN_WAITFD) {
		if (fd != -1)
			close(fd);
		return;
	}
	if (r.error != 0 || fd == -1) {
		if (fd != -1)
			close(fd);
		snprintf(why, sizeof(why), "local connect failed: %s",
		    r.errmsg);
		log_info("forward %u: %s", fc->fwd->id, why);
		conn_free(fc, why);
		return;
	}
	fc->pump.fd = fd;
	conn_opened(fc);
}

/* end a connection: the channel is closed, the record written */
void
conn_free(struct fconn *fc, const char *why)
{
	struct fwd	*f = fc->fwd;
	uint64_t	 sent = fc->pump.sent, received = fc->pump.received;

	evtimer_del(&fc->ev_timeout);
	pump_close(&fc->pump, 0);
	fwd_record_send(json_pack("{s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:I,"
	    " s:I, s:I, s:s}", "type", "forward_conn",
	    "forward", (json_int_t)f->id, "conn", (json_int_t)fc->id,
	    "session", (json_int_t)f->sessid,
	    "host", f->host->name, "direction", fwd_dir_name(f->dir),
	    "peer", fc->peer, "bytes_sent", (json_int_t)sent,
	    "bytes_received", (json_int_t)received,
	    "duration_ms", (json_int_t)fwd_ms_since(&fc->start), "end", why));
	log_debug("forward %u: connection %u from %s ended (%s): %llu bytes"
	    " sent, %llu received", f->id, fc->id, fc->peer, why,
	    (unsigned long long)sent, (unsigned long long)received);
	TAILQ_REMOVE(&f->conns, fc, entry);
	f->nactive--;
	free(fc);
}
