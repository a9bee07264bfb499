/*
 * ssh_fchan.c: an SFTP channel of a transfer's own, driven by the
 * worker's event loop (Download: ssh_fdown.c, Upload: ssh_fup.c, Glob:
 * ssh_fglob.c, ListDir: ssh_flist.c).
 *
 * A copy in one blocking section would hold the host's worker for as
 * long as the file takes: every other session's Bash and Read on the
 * host would wait behind it.  So a transfer opens a channel of its own,
 * counted as one of the connection's sessions, and starts SFTP and opens
 * its file there in a short blocking section (a few round trips, as any
 * file tool takes); then its requests go out without waiting and their
 * answers are taken as the connection's packets arrive, between
 * everything else the worker does.  libssh 0.10's SFTP calls all wait for
 * their answers, so those requests and answers are the transfer's own:
 * libssh's SFTP session is used only for the start and the open.
 *
 * Here: the channel, its callbacks, the answers as whole SFTP packets
 * (bounded: fc->ansmax each, fc->inmax unread), the requests the channel's
 * window did not take yet, the call's cancellation and timeout, and the
 * loss of the connection.  The end closes the channel: the server drops
 * the file handle with it, and nothing still in flight matters.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event.h>
#include <jansson.h>
#include <libssh/libssh.h>
#include <libssh/callbacks.h>
#include <libssh/sftp.h>

#include "bridged.h"
#include "log.h"
#include "ssh.h"
#include "ssh_files.h"
#include "ssh_fchan.h"

static TAILQ_HEAD(, fchan)	 fchans = TAILQ_HEAD_INITIALIZER(fchans);

static int	 fchan_data(ssh_session, ssh_channel, void *, uint32_t, int,
		    void *);
static void	 fchan_eof(ssh_session, ssh_channel, void *);
static int	 fchan_wontblock(ssh_session, ssh_channel, uint32_t, void *);
static void	 fchan_step(int, short, void *);
static void	 fchan_timeout(int, short, void *);
static void	 fchan_cancel(struct sshcall *);

/*
 * In a blocking section on c: the channel, and SFTP started on it.  -1:
 * no room for it, or it would not start (logged); the caller does
 * without, and nothing is left.
 */
int
fchan_open(struct fchan *fc, struct sshcall *call, struct sshconn *c)
{
	ssh_channel	 ch;
	sftp_session	 sftp;
	char		 why[256];

	if ((ch = sshconn_subsys(c, "sftp", why, sizeof(why))) == NULL) {
		log_debug("%s: host \"%s\": %s: %s in the SFTP session the "
		    "file tools share", __func__, c->host->name, why,
		    call->tool);
		return -1;
	}
	if ((sftp = sftp_new_channel(c->session, ch)) == NULL)
		fatal(NULL);
	if (sftp_init(sftp) != SSH_OK) {
		log_debug("%s: host \"%s\": sftp_init: %s", __func__,
		    c->host->name, sshconn_error(c->session, "no answer"));
		sftp->channel = NULL;
		sftp_free(sftp);
		sshconn_chclose(c, ch, NULL, 1);
		return -1;
	}
	fc->call = call;
	fc->host = c->host;
	fc->connid = c->id;
	fc->ch = ch;
	fc->sftp = sftp;
	if ((fc->in = evbuffer_new()) == NULL ||
	    (fc->out = evbuffer_new()) == NULL)
		fatal(NULL);
	evtimer_set(&fc->ev_step, fchan_step, fc);
	evtimer_set(&fc->ev_deadline, fchan_timeout, fc);
	return 0;
}

/*
 * The copy begins: fc->step runs whenever answers came or the window
 * opened, fc->stop when the call is cancelled, times out or loses its
 * connection; each ends with fchan_close() and the answer.
 */
void
fchan_go(struct fchan *fc)
{
	struct timeval	 tv;
	int		 ms;

	ssh_callbacks_init(&fc->cb);
	fc->cb.userdata = fc;
	fc->cb.channel_data_function = fchan_data;
	fc->cb.channel_eof_function = fchan_eof;
	fc->cb.channel_close_function = fchan_eof;
	fc->cb.channel_write_wontblock_function = fchan_wontblock;
	ssh_set_channel_callbacks(fc->ch, &fc->cb);
	fc->going = 1;
	TAILQ_INSERT_TAIL(&fchans, fc, entry);
	fc->call->state = fc;
	fc->call->cancel = fchan_cancel;
	ms = sshcall_ms_left(fc->call);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(&fc->ev_deadline, &tv);
	/* the first requests go out when the opening section is over */
	fchan_sched(fc);
}

/* the channel's data, kept for the step: all of it is taken */
static int
fchan_data(ssh_session s, ssh_channel ch, void *data, uint32_t len,
    int is_stderr, void *arg)
{
	struct fchan	*fc = arg;

	if (is_stderr)
		return len;
	/* more than every request in flight could bring: fchan_answer says */
	if (evbuffer_get_length(fc->in) <= fc->inmax &&
	    evbuffer_add(fc->in, data, len) == -1)
		fatal(NULL);
	fchan_sched(fc);
	return len;
}

static void
fchan_eof(ssh_session s, ssh_channel ch, void *arg)
{
	struct fchan	*fc = arg;

	fc->closed = 1;
	fchan_sched(fc);
}

static int
fchan_wontblock(ssh_session s, ssh_channel ch, uint32_t bytes, void *arg)
{
	struct fchan	*fc = arg;

	if (evbuffer_get_length(fc->out) > 0)
		fchan_sched(fc);
	return 0;
}

void
fchan_sched(struct fchan *fc)
{
	struct timeval	 tv = { 0, 0 };

	if (!evtimer_pending(&fc->ev_step, NULL))
		evtimer_add(&fc->ev_step, &tv);
}

static void
fchan_step(int fd, short ev, void *arg)
{
	struct fchan	*fc = arg;

	fc->step(fc);
}

/*
 * The next whole answer (type, id, ...) at *p, len bytes: 1; 0 none yet;
 * -1 one that cannot be, or more than was asked (err says).  The answer
 * stays until fchan_taken().
 */
int
fchan_answer(struct fchan *fc, const unsigned char **p, uint32_t *len,
    char *err)
{
	unsigned char	 h[4];
	size_t		 have = evbuffer_get_length(fc->in);

	if (have > fc->inmax) {
		snprintf(err, ERRSZ, "%s: the SFTP server sent more than was "
		    "asked for", fc->call->tool);
		return -1;
	}
	if (have < 4)
		return 0;
	evbuffer_copyout(fc->in, h, 4);
	*len = sftp_get32(h);
	if (*len < 9 || *len > fc->ansmax) {
		snprintf(err, ERRSZ, "%s: the SFTP server sent an answer of %u "
		    "bytes", fc->call->tool, *len);
		return -1;
	}
	if (have < 4 + (size_t)*len)
		return 0;
	if ((*p = evbuffer_pullup(fc->in, 4 + *len)) == NULL)
		fatal(NULL);
	*p += 4;
	return 1;
}

void
fchan_taken(struct fchan *fc, uint32_t len)
{
	evbuffer_drain(fc->in, 4 + (size_t)len);
}

/*
 * Every whole answer that came, each to fn (its owner's: 0 go on, 1
 * done, -1 with err) and then taken.  1: fn said done; -1 with err: an
 * answer that cannot be, or the server closed the channel; 0: all taken.
 */
int
fchan_answers(struct fchan *fc, int (*fn)(void *, const unsigned char *,
    uint32_t, char *), void *arg, char *err)
{
	const unsigned char	*p;
	uint32_t		 len;
	int			 rc;

	while ((rc = fchan_answer(fc, &p, &len, err)) == 1) {
		rc = fn(arg, p, len, err);
		fchan_taken(fc, len);
		if (rc != 0)
			return rc;
	}
	if (rc == -1)
		return -1;
	if (fc->closed) {
		snprintf(err, ERRSZ, "%s: the SFTP server closed the channel",
		    fc->call->tool);
		return -1;
	}
	return 0;
}

/* an answer of type that the request in flight cannot have: -1, err */
int
fchan_misfit(struct fchan *fc, int type, int known, char *err)
{
	snprintf(err, ERRSZ, "%s: the SFTP server sent a%s answer of type %d "
	    "that does not fit the request", fc->call->tool, known ?
	    " malformed" : "n", type);
	return -1;
}

/* as much of p as the channel's window takes now, with nothing queued */
static size_t
fchan_direct(struct fchan *fc, const unsigned char *p, size_t len)
{
	size_t		 total = 0, n;
	uint32_t	 win;
	int		 w;

	while (len > 0 && (win = ssh_channel_window_size(fc->ch)) > 0) {
		n = len < win ? len : win;
		if (n > 64 * 1024)
			n = 64 * 1024;
		/* an error shows again at fchan_flush(), which says it */
		if ((w = ssh_channel_write(fc->ch, p, n)) <= 0)
			break;
		p += w;
		len -= w;
		total += w;
	}
	return total;
}

/*
 * A request, in two pieces (header, data): straight to the channel when
 * nothing waits before it (one copy less), else after what waits.
 */
void
fchan_send(struct fchan *fc, const void *hdr, size_t hlen, const void *data,
    size_t dlen)
{
	const unsigned char	*h = hdr, *d = data;
	size_t			 n;

	if (evbuffer_get_length(fc->out) == 0) {
		n = fchan_direct(fc, h, hlen);
		h += n;
		hlen -= n;
		if (hlen == 0) {
			n = fchan_direct(fc, d, dlen);
			d += n;
			dlen -= n;
		}
	}
	if ((hlen > 0 && evbuffer_add(fc->out, h, hlen) == -1) ||
	    (dlen > 0 && evbuffer_add(fc->out, d, dlen) == -1))
		fatal(NULL);
}

/* what the window takes of the requests; the rest when it opens */
int
fchan_flush(struct fchan *fc, char *err)
{
	struct sshconn	*c;

	if (sshconn_chan_flush(fc->ch, fc->out, 64 * 1024) == -1) {
		snprintf(err, ERRSZ, "%s: the SFTP channel failed: %s",
		    fc->call->tool, sshconn_error(fc->sftp->session,
		    "the connection failed"));
		return -1;
	}
	if ((c = sshconn_byid(fc->connid)) != NULL)
		sshconn_want_write(c);
	return 0;
}

static void
fchan_timeout(int fd, short ev, void *arg)
{
	struct fchan	*fc = arg;
	char		 why[256];

	snprintf(why, sizeof(why), "%s did not finish within the call "
	    "timeout (%d s)", fc->call->tool, ssh_conf != NULL &&
	    ssh_conf->limits.call_timeout > 0 ? ssh_conf->limits.call_timeout :
	    CONF_CALL_TIMEOUT);
	fc->stop(fc, why);
}

static void
fchan_cancel(struct sshcall *call)
{
	struct fchan	*fc = call->state;
	char		 why[128];

	snprintf(why, sizeof(why), "%s cancelled", call->tool);
	fc->stop(fc, why);
}

/* the connection went (conn NULL: the host did), the channel with it */
void
fchan_conn_lost(struct sshhost *host, struct sshconn *conn)
{
	struct fchan	*fc, *next;
	char		 why[256];

	TAILQ_FOREACH_SAFE(fc, &fchans, entry, next) {
		if (fc->host != host ||
		    (conn != NULL && fc->connid != conn->id))
			continue;
		snprintf(why, sizeof(why), "the connection to host \"%s\" was "
		    "lost during the %s", host->name, fc->call->tool);
		fc->lost = 1;
		fc->stop(fc, why);
	}
}

/*
 * The channel closed, its place given back; libssh's SFTP session goes
 * without its channel, and f (a handle on it, or NULL) without a word
 * to the server.
 */
void
fchan_close(struct fchan *fc, sftp_file f)
{
	struct sshconn	*c;

	if (fc->going) {
		TAILQ_REMOVE(&fchans, fc, entry);
		fc->call->state = NULL;
		fc->call->cancel = NULL;
	}
	evtimer_del(&fc->ev_step);
	evtimer_del(&fc->ev_deadline);
	fc->sftp->channel = NULL;
	sftp_free(fc->sftp);
	fc->sftp = NULL;
	files_forget(f);
	if ((c = sshconn_byid(fc->connid)) != NULL)
		sshconn_chclose(c, fc->ch, fc->going ? &fc->cb : NULL, 1);
	fc->ch = NULL;
	evbuffer_free(fc->in);
	evbuffer_free(fc->out);
	fc->in = fc->out = NULL;
	fc->going = 0;
}

/* SFTP's big-endian numbers, for the requests and answers of our own */
void
sftp_put32(unsigned char **p, uint32_t v)
{
	(*p)[0] = v >> 24;
	(*p)[1] = v >> 16;
	(*p)[2] = v >> 8;
	(*p)[3] = v;
	*p += 4;
}

uint32_t
sftp_get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}
