/*
 * ssh_fdown.c: Download on an SFTP channel of its own, from the worker's
 * event loop (ssh_fchan.c says why).  About XFER_INFLIGHT bytes of reads
 * are in flight, as the sftp CLI keeps; only as far as the size the stat
 * saw, then one at a time to the end (a file that grew).  Answers may
 * come in any order: one ahead of its turn waits in its slot.  A short
 * read (a server that reads less at a time, a file that shrank) drops the
 * answers still due and asks again from where the data stopped, in
 * requests of what the server gave, so every byte lands at its offset.
 *
 * fdown_start_mem() reads a file into memory the same way, for a tool
 * that goes on with it (Edit: ssh_fedit.c), and hands it over at the end
 * instead of answering.
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
#include "ssh_fchan.h"

#define FD_HANDLE_MAX	256		/* the protocol's longest handle */
/* an answer: DATA of the longest read, or a STATUS with its message */
#define FD_ANSWER_MAX	(XFER_WLEN + 1024)

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
	struct fchan		 fc;
	struct sshcall		*call;
	sftp_file		 f;
	int			 fd;	/* -1: into mem */
	struct sbuf		 mem;
	size_t			 memmax;
	fdown_done		 done;	/* mem's taker, and its arg */
	void			*arg;
	char			 remote[PATH_MAX];
	char			 local[PATH_MAX];
	uint64_t		 size;	/* as the stat saw it */
	uint64_t		 bytes;	/* written, in order */
	uint64_t		 next;	/* the next read's offset */
	uint32_t		 reqlen;
	uint32_t		 ids;
	int			 nreq;	/* reads to keep in flight */
	int			 copying;	/* the reads have begun */
	struct fdreq		 q[XFER_REQS];
	struct timespec		 t0;
};

static struct fdown *fdown_new(struct sshcall *, struct sshconn *,
		    const char *, uint64_t, char *);
static void	 fdown_step(struct fchan *);
static int	 fdown_answer(struct fdown *, const unsigned char *, size_t,
		    char *);
static int	 fdown_take(struct fdown *, struct fdreq *, char *);
static void	 fdown_drop(struct fdown *, struct fdreq *);
static void	 fdown_ask(struct fdown *);
static int	 fdown_local(struct fdown *, const unsigned char *, size_t,
		    char *);
static void	 fdown_stop(struct fchan *, const char *);
static void	 fdown_end(struct fdown *, const char *);

/*
 * Called in xfer_run()'s blocking section on c, with the local file open
 * on fd; size is what the stat said.
 */
int
fdown_start(struct sshcall *call, struct sshconn *c, int fd,
    const char *remote, const char *local, uint64_t size)
{
	struct fdown	*x;
	char		 err[ERRSZ];

	if ((x = fdown_new(call, c, remote, size, err)) == NULL)
		return -1;
	x->fd = fd;
	strlcpy(x->local, local, sizeof(x->local));
	if (err[0] != '\0')
		fdown_end(x, err);
	else
		fchan_go(&x->fc);
	return 0;
}

/*
 * The same into memory, at most max bytes, in a blocking section on c:
 * on 0 done(call, the bytes, NULL, arg) is called once all are here, or
 * done(call, NULL, why, arg); done answers.  -1: no room for the
 * channel, and the caller reads as before.
 */
int
fdown_start_mem(struct sshcall *call, struct sshconn *c, const char *remote,
    uint64_t size, size_t max, fdown_done done, void *arg)
{
	struct fdown	*x;
	char		 err[ERRSZ];

	if ((x = fdown_new(call, c, remote, size, err)) == NULL)
		return -1;
	x->fd = -1;
	x->memmax = max;
	x->done = done;
	x->arg = arg;
	strlcpy(x->local, "memory", sizeof(x->local));
	if (err[0] != '\0')
		fdown_end(x, err);
	else
		fchan_go(&x->fc);
	return 0;
}

/*
 * The channel and the file open on it; NULL: no room for the channel.
 * A file that would not open leaves err set, for the caller to end with.
 */
static struct fdown *
fdown_new(struct sshcall *call, struct sshconn *c, const char *remote,
    uint64_t size, char *err)
{
	struct fdown	*x;

	err[0] = '\0';
	if ((x = calloc(1, sizeof(*x))) == NULL)
		fatal(NULL);
	if (fchan_open(&x->fc, call, c) == -1) {
		free(x);
		return NULL;
	}
	x->fc.inmax = XFER_REQS * (size_t)FD_ANSWER_MAX;
	x->fc.ansmax = FD_ANSWER_MAX;
	x->fc.step = fdown_step;
	x->fc.stop = fdown_stop;
	x->fc.arg = x;
	x->call = call;
	x->fd = -1;
	x->size = size;
	strlcpy(x->remote, remote, sizeof(x->remote));
	clock_gettime(CLOCK_MONOTONIC, &x->t0);
	if ((x->f = sftp_open(x->fc.sftp, remote, O_RDONLY, 0)) == NULL) {
		fx_err(err, x->fc.sftp, "remote_path", remote);
		return x;
	}
	if (ssh_string_len(x->f->handle) > FD_HANDLE_MAX) {
		snprintf(err, ERRSZ, "remote_path %s: the SFTP server's"
		    " file handle is longer than the protocol allows", remote);
		return x;
	}
	/* as large as the server reads (ssh_ftransfer.c), 2 MiB in flight */
	x->reqlen = sftp_extension_supported(x->fc.sftp, "limits@openssh.com",
	    "1") ? XFER_WLEN : XFER_REQLEN;
	x->nreq = XFER_INFLIGHT / x->reqlen;
	if (x->nreq > XFER_REQS)
		x->nreq = XFER_REQS;
	x->ids = x->fc.sftp->id_counter;
	x->copying = 1;
	return x;
}

/* the answers that came, the file written, more reads asked */
static void
fdown_step(struct fchan *fc)
{
	struct fdown		*x = fc->arg;
	const unsigned char	*p;
	char			 err[ERRSZ];
	uint32_t		 len;
	int			 rc;

	while ((rc = fchan_answer(fc, &p, &len, err)) == 1) {
		rc = fdown_answer(x, p, len, err);
		fchan_taken(fc, len);
		if (rc == -1) {
			fdown_end(x, err);
			return;
		}
		if (rc == 1) {
			fdown_end(x, NULL);
			return;
		}
	}
	if (rc == -1) {
		fdown_end(x, err);
		return;
	}
	if (fc->closed) {
		snprintf(err, sizeof(err), "read %s: the SFTP server closed"
		    " the channel", x->remote);
		fdown_end(x, err);
		return;
	}
	fdown_ask(x);
	if (fchan_flush(fc, err) == -1)
		fdown_end(x, err);
}

/* one answer (type, id, ...); 1: the file is all here */
static int
fdown_answer(struct fdown *x, const unsigned char *p, size_t len, char *err)
{
	struct fdreq	*r = NULL;
	uint32_t	 id, n, code;
	int		 i, rc;

	id = sftp_get32(p + 1);
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
		if ((n = sftp_get32(p + 5)) != len - 9 || n > r->len) {
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
		code = sftp_get32(p + 5);
		if (r->discard) {
			fdown_drop(x, r);
			return 0;
		}
		if (code != SSH_FX_EOF) {
			/* fx_err() says what the status means */
			x->fc.sftp->errnum = code;
			fx_err(err, x->fc.sftp, "read", x->remote);
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
	uint64_t	 total;
	int		 i;

	if (r->eof) {
		fdown_drop(x, r);
		return 1;
	}
	if (fdown_local(x, r->data, n, err) == -1)
		return -1;
	x->bytes += n;
	fdown_drop(x, r);
	total = x->size > x->bytes ? x->size : x->bytes;
	sshcall_tick(x->call, 0, (double)x->bytes, (double)total,
	    "%s: %llu of %llu bytes", x->call->tool,
	    (unsigned long long)x->bytes, (unsigned long long)total);
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

/* READs to keep about nreq in flight, as far as the size seen, then one */
static void
fdown_ask(struct fdown *x)
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
		sftp_put32(&p, 1 + 4 + 4 + hlen + 8 + 4);
		*p++ = SSH_FXP_READ;
		sftp_put32(&p, r->id);
		sftp_put32(&p, hlen);
		memcpy(p, ssh_string_data(h), hlen);
		p += hlen;
		sftp_put32(&p, r->off >> 32);
		sftp_put32(&p, r->off & 0xffffffff);
		sftp_put32(&p, r->len);
		fchan_send(&x->fc, b, p - b, NULL, 0);
		x->next += r->len;
		live++;
	}
}

/* all of buf into the local file */
static int
fdown_local(struct fdown *x, const unsigned char *buf, size_t n, char *err)
{
	size_t	 off;
	ssize_t	 w;

	if (x->fd == -1) {
		if (x->mem.len + n > x->memmax) {
			snprintf(err, ERRSZ, "%s is larger than %zu bytes",
			    x->remote, x->memmax);
			return -1;
		}
		sb_add(&x->mem, buf, n);
		return 0;
	}
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

/* cancelled, timed out or the connection lost */
static void
fdown_stop(struct fchan *fc, const char *why)
{
	fdown_end(fc->arg, why);
}

/* answer (err NULL: it is all here), close the channel, free x */
static void
fdown_end(struct fdown *x, const char *err)
{
	struct sshcall	*call = x->call;
	struct timespec	 t1;
	double		 secs;
	int		 i;

	fchan_close(&x->fc, x->f);
	x->f = NULL;
	for (i = 0; i < XFER_REQS; i++)
		free(x->q[i].data);
	if (x->done != NULL) {
		/* the taker answers */
		x->done(call, err == NULL ? &x->mem : NULL, err, x->arg);
		sb_free(&x->mem);
		free(x);
		return;
	}
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
