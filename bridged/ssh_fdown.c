/*
 * ssh_fdown.c: Download on an SFTP channel of its own, driven by the
 * worker's event loop.  A copy in one blocking section would hold the
 * host's worker for as long as the file takes to come: every other
 * session's Bash and Read on the host would wait behind it.  Here the
 * channel is opened and the file with it in a short blocking section
 * (a few round trips, as any file tool takes), and then READ requests go
 * out on the channel without waiting and their answers are taken as the
 * connection's packets arrive (fdown_data), between everything else the
 * worker does.
 *
 * libssh 0.10's SFTP calls all wait for their answers, so the requests
 * and answers are our own, on our own channel: libssh's SFTP session is
 * used only to start it and open the file.  About XFER_INFLIGHT bytes of
 * reads are in flight, as the sftp CLI keeps; only as far as the size the
 * stat saw, then one at a time to the end (a file that grew).  Answers
 * may come in any order: one ahead of its turn waits in its slot.  A
 * short read (a server that reads less at a time, a file that shrank)
 * drops the answers still due and asks again from where the data
 * stopped, in requests of what the server gave, so every byte lands at
 * its offset.  The end, whatever it is, closes the channel: the server
 * drops the file handle with it, and nothing still in flight matters.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event.h>
#include <jansson.h>
#include <libssh/libssh.h>
#include <libssh/callbacks.h>
#include <libssh/sftp.h>

#include "bridged.h"
#include "log.h"
#include "ssh.h"
#include "ssh_files.h"

#define FD_HANDLE_MAX	256		/* the protocol's longest handle */
/* an answer: DATA of the longest read, or a STATUS with its message */
#define FD_ANSWER_MAX	(XFER_WLEN + 1024)
/* what may sit unparsed: every slot's answer */
#define FD_IN_MAX	(XFER_REQS * (size_t)FD_ANSWER_MAX)

/* a read in flight */
struct fdreq {
	int		 used;
	int		 discard;	/* asked at the wrong offset */
	uint32_t	 id;
	uint64_t	 off;
	uint32_t	 len;
	int		 answered;	/* ahead of its turn: kept here */
	int		 eof;
	unsigned char	*data;
	uint32_t	 dlen;
};

struct fdown {
	TAILQ_ENTRY(fdown)	 entry;
	struct sshcall		*call;
	struct sshhost		*host;
	uint32_t		 connid;
	ssh_channel		 ch;
	sftp_session		 sftp;	/* libssh's: the start and the open */
	sftp_file		 f;
	struct ssh_channel_callbacks_struct cb;
	int			 fd;
	char			 remote[PATH_MAX];
	char			 local[PATH_MAX];
	uint64_t		 size;	/* as the stat saw it */
	uint64_t		 bytes;	/* written, in order */
	uint64_t		 next;	/* the next read's offset */
	uint32_t		 reqlen;
	uint32_t		 ids;
	int			 nreq;	/* reads to keep in flight */
	struct fdreq		 q[XFER_REQS];
	struct evbuffer		*in;	/* answers not yet taken */
	struct evbuffer		*out;	/* requests the window did not take */
	struct event		 ev_step;
	struct event		 ev_deadline;
	struct timespec		 t0;
	int			 copying;	/* the reads have begun */
	int			 closed;	/* the server closed the channel */
};

static TAILQ_HEAD(, fdown)	 fdowns = TAILQ_HEAD_INITIALIZER(fdowns);

static int	 fdown_data(ssh_session, ssh_channel, void *, uint32_t, int,
		    void *);
static void	 fdown_eof(ssh_session, ssh_channel, void *);
static int	 fdown_wontblock(ssh_session, ssh_channel, uint32_t, void *);
static void	 fdown_sched(struct fdown *);
static void	 fdown_step(int, short, void *);
static int	 fdown_answer(struct fdown *, const unsigned char *, size_t,
		    char *);
static int	 fdown_take(struct fdown *, struct fdreq *, char *);
static void	 fdown_drop(struct fdown *, struct fdreq *);
static int	 fdown_ask(struct fdown *, char *);
static int	 fdown_local(struct fdown *, const unsigned char *, size_t,
		    char *);
static void	 fdown_timeout(int, short, void *);
static void	 fdown_cancel(struct sshcall *);
static void	 fdown_end(struct fdown *, const char *);

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static void
put32(unsigned char **p, uint32_t v)
{
	(*p)[0] = v >> 24;
	(*p)[1] = v >> 16;
	(*p)[2] = v >> 8;
	(*p)[3] = v;
	*p += 4;
}

/*
 * Called in xfer_run()'s blocking section on c, with the local file open
 * on fd; size is what the stat said.
 */
int
fdown_start(struct sshcall *call, struct sshconn *c, int fd,
    const char *remote, const char *local, uint64_t size)
{
	struct fdown	*x;
	struct timeval	 tv;
	ssh_channel	 ch;
	sftp_session	 sftp;
	char		 why[256], err[ERRSZ];
	int		 ms;

	if ((ch = sshconn_subsys(c, "sftp", why, sizeof(why))) == NULL) {
		log_debug("%s: host \"%s\": %s: in the SFTP session shared"
		    " by the file tools", __func__, c->host->name, why);
		return -1;
	}
	if ((sftp = sftp_new_channel(c->session, ch)) == NULL)
		fatal(NULL);
	if (sftp_init(sftp) != SSH_OK) {
		/* the shared session started: this one should have */
		log_debug("%s: host \"%s\": sftp_init: %s", __func__,
		    c->host->name, sshconn_error(c->session, "no answer"));
		sftp->channel = NULL;
		sftp_free(sftp);
		sshconn_chclose(c, ch, NULL, 1);
		return -1;
	}
	if ((x = calloc(1, sizeof(*x))) == NULL ||
	    (x->in = evbuffer_new()) == NULL ||
	    (x->out = evbuffer_new()) == NULL)
		fatal(NULL);
	x->call = call;
	x->host = c->host;
	x->connid = c->id;
	x->ch = ch;
	x->sftp = sftp;
	x->fd = fd;
	x->size = size;
	strlcpy(x->remote, remote, sizeof(x->remote));
	strlcpy(x->local, local, sizeof(x->local));
	clock_gettime(CLOCK_MONOTONIC, &x->t0);
	evtimer_set(&x->ev_step, fdown_step, x);
	evtimer_set(&x->ev_deadline, fdown_timeout, x);
	TAILQ_INSERT_TAIL(&fdowns, x, entry);
	if ((x->f = sftp_open(sftp, remote, O_RDONLY, 0)) == NULL) {
		fx_err(err, sftp, "remote_path", remote);
		fdown_end(x, err);
		return 0;
	}
	if (ssh_string_len(x->f->handle) > FD_HANDLE_MAX) {
		snprintf(err, sizeof(err), "remote_path %s: the SFTP server's"
		    " file handle is longer than the protocol allows", remote);
		fdown_end(x, err);
		return 0;
	}
	/* as large as the server reads (ssh_ftransfer.c), 2 MiB in flight */
	x->reqlen = sftp_extension_supported(sftp, "limits@openssh.com", "1") ?
	    XFER_WLEN : XFER_REQLEN;
	x->nreq = XFER_INFLIGHT / x->reqlen;
	if (x->nreq > XFER_REQS)
		x->nreq = XFER_REQS;
	x->ids = sftp->id_counter;

	ssh_callbacks_init(&x->cb);
	x->cb.userdata = x;
	x->cb.channel_data_function = fdown_data;
	x->cb.channel_eof_function = fdown_eof;
	x->cb.channel_close_function = fdown_eof;
	x->cb.channel_write_wontblock_function = fdown_wontblock;
	ssh_set_channel_callbacks(ch, &x->cb);
	x->copying = 1;
	call->state = x;
	call->cancel = fdown_cancel;
	ms = sshcall_ms_left(call);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(&x->ev_deadline, &tv);
	/* the first requests go out when xfer_run's section is over */
	fdown_sched(x);
	return 0;
}

/* the channel's data, kept for fdown_step: all of it is taken */
static int
fdown_data(ssh_session s, ssh_channel ch, void *data, uint32_t len,
    int is_stderr, void *arg)
{
	struct fdown	*x = arg;

	if (is_stderr)
		return len;
	/* more than every read in flight could bring: fdown_step says so */
	if (evbuffer_get_length(x->in) <= FD_IN_MAX &&
	    evbuffer_add(x->in, data, len) == -1)
		fatal(NULL);
	fdown_sched(x);
	return len;
}

static void
fdown_eof(ssh_session s, ssh_channel ch, void *arg)
{
	struct fdown	*x = arg;

	x->closed = 1;
	fdown_sched(x);
}

static int
fdown_wontblock(ssh_session s, ssh_channel ch, uint32_t bytes, void *arg)
{
	struct fdown	*x = arg;

	if (evbuffer_get_length(x->out) > 0)
		fdown_sched(x);
	return 0;
}

static void
fdown_sched(struct fdown *x)
{
	struct timeval	 tv = { 0, 0 };

	if (!evtimer_pending(&x->ev_step, NULL))
		evtimer_add(&x->ev_step, &tv);
}

/* the answers that came, the file written, more reads asked */
static void
fdown_step(int fd, short ev, void *arg)
{
	struct fdown	*x = arg;
	struct sshconn	*c;
	unsigned char	*p, hdr[4];
	char		 err[ERRSZ];
	uint32_t	 len;
	size_t		 have;
	int		 rc;

	for (;;) {
		have = evbuffer_get_length(x->in);
		if (have > FD_IN_MAX) {
			snprintf(err, sizeof(err), "read %s: the SFTP server"
			    " sent more than was asked for", x->remote);
			fdown_end(x, err);
			return;
		}
		if (have < 4)
			break;
		evbuffer_copyout(x->in, hdr, 4);
		len = get32(hdr);
		if (len < 5 || len > FD_ANSWER_MAX) {
			snprintf(err, sizeof(err), "read %s: the SFTP server"
			    " sent an answer of %u bytes", x->remote, len);
			fdown_end(x, err);
			return;
		}
		if (have < 4 + (size_t)len)
			break;
		if ((p = evbuffer_pullup(x->in, 4 + len)) == NULL)
			fatal(NULL);
		rc = fdown_answer(x, p + 4, len, err);
		evbuffer_drain(x->in, 4 + len);
		if (rc == -1) {
			fdown_end(x, err);
			return;
		}
		if (rc == 1) {
			fdown_end(x, NULL);
			return;
		}
	}
	if (x->closed) {
		snprintf(err, sizeof(err), "read %s: the SFTP server closed"
		    " the channel", x->remote);
		fdown_end(x, err);
		return;
	}
	if (fdown_ask(x, err) == -1) {
		fdown_end(x, err);
		return;
	}
	if ((c = sshconn_byid(x->connid)) != NULL)
		sshconn_want_write(c);
}

/* one answer (type, id, ...); 1: the file is all here */
static int
fdown_answer(struct fdown *x, const unsigned char *p, size_t len, char *err)
{
	struct fdreq	*r = NULL;
	uint32_t	 id, n, code;
	int		 i, rc;

	if (len < 9) {
		snprintf(err, ERRSZ, "read %s: the SFTP server sent an answer"
		    " too short to be one", x->remote);
		return -1;
	}
	id = get32(p + 1);
	for (i = 0; i < XFER_REQS; i++)
		if (x->q[i].used && x->q[i].id == id) {
			r = &x->q[i];
			break;
		}
	if (r == NULL || r->answered) {
		snprintf(err, ERRSZ, "read %s: the SFTP server answered a "
		    "request not made", x->remote);
		return -1;
	}
	if (p[0] == SSH_FXP_DATA) {
		if (len < 9 || (n = get32(p + 5)) != len - 9 || n > r->len) {
			snprintf(err, ERRSZ, "read %s: the SFTP server sent "
			    "data that does not fit the request", x->remote);
			return -1;
		}
		if (r->discard) {
			fdown_drop(x, r);
			return 0;
		}
		if (n == 0)
			r->eof = 1;
		else if ((r->data = malloc(n)) == NULL)
			fatal(NULL);
		else
			memcpy(r->data, p + 9, n);
		r->dlen = n;
	} else if (p[0] == SSH_FXP_STATUS) {
		if (len < 9 + 4) {
			snprintf(err, ERRSZ, "read %s: the SFTP server sent a "
			    "status too short to be one", x->remote);
			return -1;
		}
		code = get32(p + 5);
		if (r->discard) {
			fdown_drop(x, r);
			return 0;
		}
		if (code != SSH_FX_EOF) {
			/* fx_err() says what the status means */
			x->sftp->errnum = code;
			fx_err(err, x->sftp, "read", x->remote);
			return -1;
		}
		r->eof = 1;
	} else {
		snprintf(err, ERRSZ, "read %s: the SFTP server sent an answer "
		    "of type %u to a read", x->remote, p[0]);
		return -1;
	}
	r->answered = 1;
	/* this one, and those that came ahead of it, in order */
	for (;;) {
		for (i = 0, r = NULL; i < XFER_REQS; i++)
			if (x->q[i].used && x->q[i].answered &&
			    !x->q[i].discard && x->q[i].off == x->bytes) {
				r = &x->q[i];
				break;
			}
		if (r == NULL)
			return 0;
		if ((rc = fdown_take(x, r, err)) != 0)
			return rc;
	}
}

/* the answer at the offset the file is written to; 1: that was all */
static int
fdown_take(struct fdown *x, struct fdreq *r, char *err)
{
	uint32_t	 n = r->dlen, asked = r->len;
	int		 i;

	if (r->eof) {
		fdown_drop(x, r);
		return 1;
	}
	if (fdown_local(x, r->data, n, err) == -1)
		return -1;
	x->bytes += n;
	fdown_drop(x, r);
	sshcall_tick(x->call, 0, (double)x->bytes, (double)(x->size >
	    x->bytes ? x->size : x->bytes), "Download: %llu of %llu bytes",
	    (unsigned long long)x->bytes, (unsigned long long)(x->size >
	    x->bytes ? x->size : x->bytes));
	if (n < asked) {
		/* the rest in flight asked at the wrong offsets */
		for (i = 0; i < XFER_REQS; i++)
			if (x->q[i].used) {
				free(x->q[i].data);
				x->q[i].data = NULL;
				x->q[i].discard = 1;
				if (x->q[i].answered)
					fdown_drop(x, &x->q[i]);
			}
		x->next = x->bytes;
		x->reqlen = n < XFER_REQMIN ? XFER_REQMIN : n;
	}
	return 0;
}

static void
fdown_drop(struct fdown *x, struct fdreq *r)
{
	free(r->data);
	memset(r, 0, sizeof(*r));
}

/*
 * READs to keep about nreq in flight, as far as the size seen, then one
 * at a time; what the channel's window does not take waits in x->out.
 */
static int
fdown_ask(struct fdown *x, char *err)
{
	unsigned char	 b[4 + 1 + 4 + 4 + FD_HANDLE_MAX + 8 + 4], *p;
	ssh_string	 h = x->f->handle;
	size_t		 hlen = ssh_string_len(h);
	struct fdreq	*r;
	int		 i, live = 0, slot;

	for (i = 0; i < XFER_REQS; i++)
		if (x->q[i].used && !x->q[i].discard)
			live++;
	while (live < x->nreq && (x->next < x->size || live == 0)) {
		for (slot = 0; slot < XFER_REQS; slot++)
			if (!x->q[slot].used)
				break;
		if (slot == XFER_REQS)
			break;
		r = &x->q[slot];
		r->used = 1;
		r->id = ++x->ids;
		r->off = x->next;
		r->len = x->reqlen;
		p = b;
		put32(&p, 1 + 4 + 4 + hlen + 8 + 4);
		*p++ = SSH_FXP_READ;
		put32(&p, r->id);
		put32(&p, hlen);
		memcpy(p, ssh_string_data(h), hlen);
		p += hlen;
		put32(&p, r->off >> 32);
		put32(&p, r->off & 0xffffffff);
		put32(&p, r->len);
		if (evbuffer_add(x->out, b, p - b) == -1)
			fatal(NULL);
		x->next += r->len;
		live++;
	}
	if (sshconn_chan_flush(x->ch, x->out, 64 * 1024) == -1) {
		snprintf(err, ERRSZ, "read %s: the SFTP channel failed: %s",
		    x->remote, sshconn_error(x->sftp->session,
		    "the connection failed"));
		return -1;
	}
	return 0;
}

/* all of buf into the local file */
static int
fdown_local(struct fdown *x, const unsigned char *buf, size_t n, char *err)
{
	size_t	 off;
	ssize_t	 w;

	for (off = 0; off < n; off += w) {
		if ((w = write(x->fd, buf + off, n - off)) == -1) {
			if (errno == EINTR) {
				w = 0;
				continue;
			}
			snprintf(err, ERRSZ, "local_path %s: write: %s%s",
			    x->local, strerror(errno), errno == EFBIG ?
			    ", the ssh worker's file size limit" : "");
			return -1;
		}
	}
	return 0;
}

static void
fdown_timeout(int fd, short ev, void *arg)
{
	struct fdown	*x = arg;
	char		 err[256];

	snprintf(err, sizeof(err), "Download did not finish within the call "
	    "timeout (%d s)", ssh_conf != NULL &&
	    ssh_conf->limits.call_timeout > 0 ? ssh_conf->limits.call_timeout :
	    CONF_CALL_TIMEOUT);
	fdown_end(x, err);
}

static void
fdown_cancel(struct sshcall *call)
{
	fdown_end(call->state, "Download cancelled");
}

/*
 * The connection went (conn NULL: the host did): the channel went with
 * it, and the Downloads on it end now.
 */
void
fdown_conn_lost(struct sshhost *host, struct sshconn *conn)
{
	struct fdown	*x, *next;
	char		 err[256];

	TAILQ_FOREACH_SAFE(x, &fdowns, entry, next) {
		if (x->host != host ||
		    (conn != NULL && x->connid != conn->id))
			continue;
		snprintf(err, sizeof(err), "the connection to host \"%s\" was "
		    "lost during the Download", host->name);
		fdown_end(x, err);
	}
}

/* answer (err NULL: it is all here), close the channel, free x */
static void
fdown_end(struct fdown *x, const char *err)
{
	struct sshcall	*call = x->call;
	struct sshconn	*c;
	struct timespec	 t1;
	double		 secs;
	int		 i;

	TAILQ_REMOVE(&fdowns, x, entry);
	evtimer_del(&x->ev_step);
	evtimer_del(&x->ev_deadline);
	call->state = NULL;
	call->cancel = NULL;
	/* libssh's session without its channel, the handle without a word */
	x->sftp->channel = NULL;
	sftp_free(x->sftp);
	files_forget(x->f);
	x->f = NULL;
	if ((c = sshconn_byid(x->connid)) != NULL)
		sshconn_chclose(c, x->ch, x->copying ? &x->cb : NULL, 1);
	for (i = 0; i < XFER_REQS; i++)
		free(x->q[i].data);
	evbuffer_free(x->in);
	evbuffer_free(x->out);
	close(x->fd);

	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (t1.tv_sec - x->t0.tv_sec) + (t1.tv_nsec - x->t0.tv_nsec) / 1e9;
	if (err != NULL && !x->copying)
		sshcall_text(call, 1, "%s", err);
	else if (err != NULL)
		sshcall_text(call, 1, "%s (after %llu of %llu bytes: the local "
		    "file %s is incomplete)", err,
		    (unsigned long long)x->bytes, (unsigned long long)x->size,
		    x->local);
	else
		sshcall_text(call, 0, "Downloaded %llu bytes from %s to %s in "
		    "%.3f s (%.1f MB/s)", (unsigned long long)x->bytes,
		    x->remote, x->local, secs, secs > 0 ?
		    x->bytes / secs / 1e6 : 0.0);
	free(x);
}
