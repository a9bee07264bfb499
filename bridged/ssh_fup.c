/*
 * ssh_fup.c: Upload on an SFTP channel of its own, from the worker's
 * event loop (ssh_fchan.c says why).  xfer_upload() makes the temp file
 * next to the target in the SFTP session the file tools share (its name
 * in the record of temps first, ssh_ftemp.c); here it is opened again on
 * the Upload's own channel and the local file goes out in WRITEs, about
 * XFER_INFLIGHT bytes unanswered, their STATUS answers in any order; then
 * fsync@openssh.com where the server has it and CLOSE, the last of them
 * answered before the end.  The end is a second short blocking section
 * in the shared session: the mode, the rename over the target, or after
 * a failure the temp removed.  The temp stays in the making in between
 * (book_keep): no sweep can take it.
 *
 * A Write or Edit of FU_MEM_MIN bytes or more goes the same way from
 * write_atomic() (ssh_rfile.c), its bytes from memory: the owner kept, a
 * mode only where it replaces a file, and its answer made by the tool.
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

#define FU_HANDLE_MAX	256		/* the protocol's longest handle */
#define FU_ANSWER_MAX	(64 * 1024)	/* a STATUS with its message */
#define FU_REQS		64		/* writes in flight: 2 MiB of 32 KiB */
#define FU_FSYNC	"fsync@openssh.com"
/* WRITEs queued past the channel's window, at most about */
#define FU_QUEUED	(256 * 1024)

struct fup {
	struct fchan		 fc;
	struct sshcall		*call;
	sftp_file		 f;	/* the temp, on fc.sftp */
	int			 fd;	/* -1: from mem */
	char			*mem;	/* a Write's or an Edit's bytes */
	char			*ok;	/* and its answer */
	int			 chown;	/* to uid, gid */
	uint32_t		 uid, gid;
	char			 remote[PATH_MAX];
	char			 local[PATH_MAX];
	char			 tmp[PATH_MAX];
	int			 mode;	/* -1: as made */
	int			 overwrite;
	uint64_t		 size;	/* the local file's, at the start */
	uint64_t		 sent;	/* read and asked to be written */
	uint64_t		 bytes;	/* written, as the server says */
	size_t			 wlen;
	int			 depth;
	uint32_t		 ids[FU_REQS];
	uint32_t		 lens[FU_REQS];
	int			 nq;
	uint32_t		 nextid;
	int			 eof;	/* all of the local file is sent */
	int			 closing;
	uint32_t		 fsync_id;	/* 0: answered or not asked */
	uint32_t		 close_id;
	char			*buf;
	struct timespec		 t0;
};

static struct fup *fup_new(struct sshcall *, struct sshconn *, sftp_file,
		    const char *, const char *, uint64_t);
static void	 fup_step(struct fchan *);
static int	 fup_answer(struct fup *, const unsigned char *, uint32_t,
		    char *);
static int	 fup_more(struct fup *, char *);
static void	 fup_req(struct fup *, int, uint32_t, const char *,
		    uint64_t, const char *, size_t);
static void	 fup_stop(struct fchan *, const char *);
static void	 fup_finish(struct fup *);
static void	 fup_fail(struct fup *, const char *);
static void	 fup_free(struct fup *);

/*
 * Called in xfer_upload()'s blocking section on c, with the temp tmp
 * made and open as f in the shared session.  On 0 the Upload has f, fd
 * and the call, and answers.
 */
int
fup_start(struct sshcall *call, struct sshconn *c, int fd, sftp_file f,
    const char *tmp, const char *remote, const char *local, int mode,
    int overwrite, uint64_t size)
{
	struct fup	*x;

	if ((x = fup_new(call, c, f, tmp, remote, size)) == NULL)
		return -1;
	x->fd = fd;
	x->mode = mode;
	x->overwrite = overwrite;
	strlcpy(x->local, local, sizeof(x->local));
	fchan_go(&x->fc);
	return 0;
}

/*
 * The same for write_atomic(), in its blocking section: m's bytes into
 * the temp, then its owner and mode, the rename over the target, and
 * m->ok the answer.  0: it has f and the call, and answers.
 */
int
fup_start_mem(struct sshcall *call, struct sshconn *c, sftp_file f,
    const char *tmp, const char *remote, const struct fupmem *m)
{
	struct fup	*x;

	if ((x = fup_new(call, c, f, tmp, remote, m->len)) == NULL)
		return -1;
	x->fd = -1;
	if ((x->mem = malloc(m->len ? m->len : 1)) == NULL ||
	    (x->ok = strdup(m->ok)) == NULL)
		fatal(NULL);
	memcpy(x->mem, m->data, m->len);
	x->mode = m->mode;
	x->chown = m->chown;
	x->uid = m->uid;
	x->gid = m->gid;
	x->overwrite = 1;
	strlcpy(x->local, "memory", sizeof(x->local));
	fchan_go(&x->fc);
	return 0;
}

/*
 * The channel, the temp opened again on it, the shared session's handle
 * closed; NULL: no room for the channel, or the temp would not open
 * there, and the caller writes in the shared session as before.
 */
static struct fup *
fup_new(struct sshcall *call, struct sshconn *c, sftp_file f,
    const char *tmp, const char *remote, uint64_t size)
{
	struct fup	*x;

	if ((x = calloc(1, sizeof(*x))) == NULL)
		fatal(NULL);
	if (fchan_open(&x->fc, call, c) == -1) {
		free(x);
		return NULL;
	}
	/* the temp again, on the channel of its own */
	if ((x->f = sftp_open(x->fc.sftp, tmp, O_WRONLY, 0)) == NULL ||
	    ssh_string_len(x->f->handle) > FU_HANDLE_MAX) {
		log_debug("%s: host \"%s\": %s: %s", __func__, c->host->name,
		    tmp, x->f == NULL ? fx_str(x->fc.sftp) : "handle too long");
		fchan_close(&x->fc, x->f);
		free(x);
		return NULL;
	}
	/* the shared session's handle is done with */
	if (sftp_close(f) != 0)
		log_debug("%s: close %s: %s", __func__, tmp,
		    fx_str(c->sftp));
	x->fc.inmax = FU_REQS * (size_t)FU_ANSWER_MAX;
	x->fc.ansmax = FU_ANSWER_MAX;
	x->fc.step = fup_step;
	x->fc.stop = fup_stop;
	x->fc.arg = x;
	x->call = call;
	x->size = size;
	strlcpy(x->remote, remote, sizeof(x->remote));
	strlcpy(x->tmp, tmp, sizeof(x->tmp));
	/* as xfer_upload() writes: 64 KiB to OpenSSH, else 32 KiB */
	x->wlen = sftp_extension_supported(x->fc.sftp, "limits@openssh.com",
	    "1") ? 64 * 1024 : SFTP_CHUNK;
	x->depth = XFER_INFLIGHT / x->wlen;
	if (x->depth > FU_REQS)
		x->depth = FU_REQS;
	x->nextid = x->fc.sftp->id_counter;
	if ((x->buf = malloc(x->wlen)) == NULL)
		fatal(NULL);
	clock_gettime(CLOCK_MONOTONIC, &x->t0);
	book_keep(call->host, tmp);
	return x;
}

/* the answers that came, more of the file sent, the end */
static void
fup_step(struct fchan *fc)
{
	struct fup		*x = fc->arg;
	const unsigned char	*p;
	char			 err[ERRSZ];
	uint32_t		 len;
	int			 rc;

	while ((rc = fchan_answer(fc, &p, &len, err)) == 1) {
		rc = fup_answer(x, p, len, err);
		fchan_taken(fc, len);
		if (rc == -1) {
			fup_fail(x, err);
			return;
		}
	}
	if (rc == -1) {
		fup_fail(x, err);
		return;
	}
	if (x->closing && x->fsync_id == 0 && x->close_id == 0) {
		fup_finish(x);
		return;
	}
	if (fc->closed) {
		snprintf(err, sizeof(err), "write %s: the SFTP server closed "
		    "the channel", x->tmp);
		fup_fail(x, err);
		return;
	}
	if (fup_more(x, err) == -1 || fchan_flush(fc, err) == -1)
		fup_fail(x, err);
}

/* one STATUS, to a write, the fsync or the close */
static int
fup_answer(struct fup *x, const unsigned char *p, uint32_t len, char *err)
{
	const char	*what = "write";
	uint32_t	 id = sftp_get32(p + 1), code;
	int		 i;

	if (p[0] != SSH_FXP_STATUS || len < 9 + 4) {
		snprintf(err, ERRSZ, "write %s: the SFTP server sent an answer "
		    "of type %u to a write", x->tmp, p[0]);
		return -1;
	}
	code = sftp_get32(p + 5);
	if (id != 0 && id == x->fsync_id) {
		what = "fsync";
		x->fsync_id = 0;
	} else if (id != 0 && id == x->close_id) {
		what = "close";
		x->close_id = 0;
	} else {
		for (i = 0; i < x->nq; i++)
			if (x->ids[i] == id)
				break;
		if (i == x->nq) {
			snprintf(err, ERRSZ, "write %s: the SFTP server "
			    "answered a request not made", x->tmp);
			return -1;
		}
		x->bytes += x->lens[i];
		x->nq--;
		x->ids[i] = x->ids[x->nq];
		x->lens[i] = x->lens[x->nq];
	}
	if (code != SSH_FX_OK) {
		/* fx_err() says what the status means */
		x->fc.sftp->errnum = code;
		fx_err(err, x->fc.sftp, what, x->tmp);
		return -1;
	}
	if (strcmp(what, "write") == 0)
		sshcall_tick(x->call, 0, (double)x->bytes, (double)x->size,
		    "%s: %llu of %llu bytes", x->call->tool,
		    (unsigned long long)x->bytes, (unsigned long long)x->size);
	return 0;
}

/*
 * More WRITEs while fewer than depth are unanswered and the channel
 * takes them; at the local file's end, fsync and CLOSE.
 */
static int
fup_more(struct fup *x, char *err)
{
	const char	*data = x->buf;
	ssize_t		 n;

	while (!x->eof && x->nq < x->depth) {
		/* what the window takes goes now, the rest when it opens */
		if (evbuffer_get_length(x->fc.out) >= FU_QUEUED) {
			if (fchan_flush(&x->fc, err) == -1)
				return -1;
			if (evbuffer_get_length(x->fc.out) >= FU_QUEUED)
				break;
		}
		if (x->mem != NULL) {
			n = x->size - x->sent < x->wlen ? x->size - x->sent :
			    x->wlen;
			data = x->mem + x->sent;
		} else if ((n = read(x->fd, x->buf, x->wlen)) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, ERRSZ, "local_path %s: read: %s",
			    x->local, strerror(errno));
			return -1;
		}
		if (n == 0) {
			x->eof = 1;
			break;
		}
		x->ids[x->nq] = ++x->nextid;
		x->lens[x->nq] = n;
		x->nq++;
		fup_req(x, SSH_FXP_WRITE, x->nextid, NULL, x->sent, data, n);
		x->sent += n;
	}
	if (x->eof && x->nq == 0 && !x->closing) {
		x->closing = 1;
		if (sftp_extension_supported(x->fc.sftp, FU_FSYNC, "1")) {
			x->fsync_id = ++x->nextid;
			fup_req(x, SSH_FXP_EXTENDED, x->fsync_id, FU_FSYNC, 0,
			    NULL, 0);
		}
		x->close_id = ++x->nextid;
		fup_req(x, SSH_FXP_CLOSE, x->close_id, NULL, 0, NULL, 0);
	}
	return 0;
}

/* WRITE (offset, data), EXTENDED (name) or CLOSE on the temp's handle */
static void
fup_req(struct fup *x, int type, uint32_t id, const char *name, uint64_t off,
    const char *data, size_t len)
{
	unsigned char	 b[4 + 1 + 4 + 4 + 64 + 4 + FU_HANDLE_MAX + 8 + 4];
	unsigned char	*p = b, *lenp;
	ssh_string	 h = x->f->handle;
	size_t		 hlen = ssh_string_len(h), nlen;

	lenp = p;
	p += 4;
	*p++ = type;
	sftp_put32(&p, id);
	if (name != NULL) {
		nlen = strlen(name);
		sftp_put32(&p, nlen);
		memcpy(p, name, nlen);
		p += nlen;
	}
	sftp_put32(&p, hlen);
	memcpy(p, ssh_string_data(h), hlen);
	p += hlen;
	if (type == SSH_FXP_WRITE) {
		sftp_put32(&p, off >> 32);
		sftp_put32(&p, off & 0xffffffff);
		sftp_put32(&p, len);
	}
	sftp_put32(&lenp, (p - b) - 4 + len);
	fchan_send(&x->fc, b, p - b, data, len);
}

/* cancelled, timed out or the connection lost */
static void
fup_stop(struct fchan *fc, const char *why)
{
	fup_fail(fc->arg, why);
}

/* all written and closed: the mode, the rename, in the shared session */
static void
fup_finish(struct fup *x)
{
	struct sshcall	*call = x->call;
	struct sshconn	*c;
	struct timespec	 t1;
	sftp_session	 sftp;
	char		 err[ERRSZ] = "";
	uint32_t	 id = x->fc.connid;
	double		 secs;
	int		 was, rc = -1;

	fchan_close(&x->fc, x->f);
	x->f = NULL;
	if ((c = sshconn_byid(id)) == NULL || c->session == NULL) {
		fup_fail(x, "the connection to the host was lost");
		return;
	}
	call->conn = c;
	was = files_block(c->session);
	sftp = files_sftp(call, err);
	/* only root can give it away; failing is fine */
	if (sftp != NULL && x->chown)
		(void)sftp_chown(sftp, x->tmp, x->uid, x->gid);
	if (sftp != NULL && x->mode >= 0 &&
	    sftp_chmod(sftp, x->tmp, x->mode) != 0)
		fx_err(err, sftp, "chmod", x->tmp);
	else if (sftp != NULL && x->overwrite)
		rc = rename_over(call, sftp, x->tmp, x->remote, err);
	else if (sftp != NULL && sftp_rename(sftp, x->tmp, x->remote) != 0)
		/* OpenSSH refuses to replace: it appeared meanwhile */
		snprintf(err, ERRSZ, "remote_path %s: %s (set overwrite to "
		    "replace an existing file)", x->remote, fx_str(sftp));
	else if (sftp != NULL)
		rc = 0;
	if (rc == -1 && sftp != NULL)
		temp_discard(call, sftp, NULL, x->tmp);
	else if (rc == -1)
		book_left(call->host);
	book_done(call->host, x->tmp);
	files_unblock(id, was);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (t1.tv_sec - x->t0.tv_sec) + (t1.tv_nsec - x->t0.tv_nsec) / 1e9;
	if (rc == -1)
		sshcall_text(call, 1, "%s", err);
	else if (x->ok != NULL)
		sshcall_text(call, 0, "%s", x->ok);
	else
		sshcall_text(call, 0, "Uploaded %llu bytes from %s to %s in "
		    "%.3f s (%.1f MB/s)", (unsigned long long)x->bytes,
		    x->local, x->remote, secs, secs > 0 ?
		    x->bytes / secs / 1e6 : 0.0);
	fup_free(x);
	files_checklost(id);
}

/*
 * The Upload failed: the temp removed in the shared session (with the
 * connection gone, it is the sweep's), nothing replaced.
 */
static void
fup_fail(struct fup *x, const char *why)
{
	struct sshcall	*call = x->call;
	struct sshconn	*c;
	sftp_session	 sftp;
	char		 err[ERRSZ] = "";
	uint32_t	 id = x->fc.connid;
	int		 was, lost = x->fc.lost;

	if (x->fc.ch != NULL)
		fchan_close(&x->fc, x->f);
	x->f = NULL;
	if (!lost && (c = sshconn_byid(id)) != NULL && c->session != NULL) {
		call->conn = c;
		was = files_block(c->session);
		if ((sftp = files_sftp(call, err)) != NULL)
			temp_discard(call, sftp, NULL, x->tmp);
		else
			book_left(call->host);
		files_unblock(id, was);
	} else
		book_left(call->host);
	book_done(call->host, x->tmp);
	sshcall_text(call, 1, "%s (after %llu of %llu bytes; %s is not "
	    "replaced)", why, (unsigned long long)x->bytes,
	    (unsigned long long)x->size, x->remote);
	fup_free(x);
	if (!lost)
		files_checklost(id);
}

static void
fup_free(struct fup *x)
{
	if (x->fd != -1)
		close(x->fd);
	free(x->mem);
	free(x->ok);
	free(x->buf);
	free(x);
}
