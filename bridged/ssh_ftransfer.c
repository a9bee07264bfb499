/*
 * ssh_ftransfer.c: the ssh worker's half of Upload and Download, between a
 * host and `transfer root'.  The worker may not open files: it checks
 * the remote side, asks the parent for the local file (parent_transfer.c) and
 * copies when the descriptor arrives (files_localfd()).  An upload goes
 * to a temp file renamed into place, so the target is never half there.
 * The copy itself runs on an SFTP channel of its own from the event loop
 * (ssh_fdown.c, ssh_fup.c), so the host's other calls need not wait for
 * it; the blocking copy here, in the session the file tools share, is for
 * a connection with no room for one more channel.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/queue.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include "bridged.h"
#include "log.h"
#include "ssh.h"
#include "ssh_files.h"

/* Upload/Download waiting for the parent to open the local file */
struct xfer {
	TAILQ_ENTRY(xfer)	 entry;
	uint32_t		 id;
	struct sshcall		*call;
	uint32_t		 connid;	/* where it was checked */
	int			 upload;
	int			 overwrite;
	int			 mode;		/* -1: not given */
	int			 exists;	/* remote target existed */
	uint32_t		 rmode;		/* its permissions */
	uint64_t		 size;		/* Download: remote size */
	char			 remote[PATH_MAX];
	char			 local[PATH_MAX];
};

/* a Download read in flight */
struct xreq {
	int			 id;
	uint32_t		 len;
};

/*
 * About XFER_INFLIGHT of requests in flight both ways, 2 MiB as the sftp
 * CLI keeps: Download reads of 64 KiB (every sftp-server answers that
 * much) or of 252 KiB (xfer_wlen()), at most XFER_REQS of them; Upload
 * local reads of 1 MiB, SFTP writes of 32 KiB or, to an OpenSSH
 * sftp-server, 64 KiB (XFER_UPLEN), at most XFER_WREQS of them.
 */
#define XFER_LOCAL	(1024 * 1024)
/*
 * Upload's writes to an OpenSSH sftp-server: 64 KiB, though it takes
 * 252 KiB.  The server acts on a WRITE only once all of it has come
 * through sshd and a pipe, so one of 252 KiB holds up the server while
 * sshd forwards it, and sshd while the server writes it; 64 KiB keeps
 * both busy.  Upload, 100 MB, interleaved on one machine: 64 KiB
 * 287-301 MB/s, 128 KiB 241-250, 252 KiB 214-244 (bench/xferbench.py
 * measures it beside the sftp CLI).  Reads go the other way, and are best
 * at 252 KiB.
 */
#define XFER_UPLEN	(64 * 1024)

/* Upload's writes in flight (xwp_write()): 2 MiB of 32 KiB */
#define XFER_WREQS	64
#define XWP_HANDLE_MAX	256		/* the protocol's longest handle */
#define XWP_ANSWER_MAX	(64 * 1024)	/* a STATUS with its message */

struct xwpipe {
	sftp_session		 sftp;
	sftp_file		 f;
	const char		*tmp;
	size_t			 wlen;		/* bytes per request */
	int			 depth;		/* requests in flight */
	uint32_t		 ids[XFER_WREQS];
	int			 nq;
	int			 failed;	/* err says why */
	int			 dead;		/* no answer will come */
};

static void	 xfer_start(struct sshcall *, int);
static void	 xfer_cancel(struct sshcall *);
static void	 xfer_run(struct xfer *, int);
static int	 xfer_upload(struct sshcall *, struct xfer *, int, char *,
		    uint64_t *);
static int	 xfer_download(struct sshcall *, struct xfer *, int, char *,
		    uint64_t *);

static void	 xfer_drain(sftp_session, sftp_file, struct xreq *, int *, int *,
		    uint64_t);
static int	 xfer_transport(sftp_session);
static int	 xfer_local(struct xfer *, int, const char *, size_t, char *);
static size_t	 xfer_wlen(sftp_session);
static void	 xwp_init(struct xwpipe *, sftp_session, sftp_file,
		    const char *);
static int	 xwp_dead(struct xwpipe *, char *, const char *);
static int	 xwp_read(struct xwpipe *, unsigned char *, size_t);
static int	 xwp_wait(struct xwpipe *, char *);
static int	 xwp_send(struct xwpipe *, const char *, uint32_t, char *);
static int	 xwp_write(struct xwpipe *, const char *, size_t, char *);
static int	 xwp_flush(struct xwpipe *, char *);

static TAILQ_HEAD(, xfer)	 xfers = TAILQ_HEAD_INITIALIZER(xfers);
static uint32_t			 xfer_ids;

void
files_upload(struct sshcall *call)
{
	xfer_start(call, 1);
}

void
files_download(struct sshcall *call)
{
	xfer_start(call, 0);
}

static void
xfer_start(struct sshcall *call, int upload)
{
	struct ssh_openlocal	 req;
	struct sshhost		*host = call->host;
	struct xfer		*x;
	sftp_session		 sftp;
	sftp_attributes		 a;
	const char		*local;
	char			 err[ERRSZ] = "", *msg;
	long long		 mode;
	size_t			 len;
	struct sshconn		*c;
	ssh_session		 s;
	uint32_t		 connid;
	int			 was;

	if (!args_object(call))
		return;
	if (ssh_conf == NULL || ssh_conf->transfer_root[0] == '\0') {
		files_fail(call, "Upload/Download need `transfer root' in "
		    "bridged.conf");
		return;
	}
	if (sshconn_any(host) == NULL) {
		sshcall_text(call, 1, "host %s is not connected", host->name);
		return;
	}
	/* no room for SFTP: the call waits and comes back here */
	if ((c = sshconn_forfiles(call)) == NULL)
		return;
	call->conn = c;
	connid = c->id;
	/* the remote path resolved on the host and checked (ssh_policy.c) */
	if (sshpolicy_resolve(call) == -1)
		return;
	if ((x = calloc(1, sizeof(*x))) == NULL)
		fatal(NULL);
	x->upload = upload;
	x->call = call;
	x->mode = -1;
	if (arg_path(call, call->args, "remote_path", 1, x->remote,
	    err) == -1 ||
	    arg_str(call->args, "local_path", 1, &local, err) == -1 ||
	    arg_bool(call->args, "overwrite", 0, &x->overwrite, err) == -1) {
		free(x);
		files_fail(call, err);
		return;
	}
	if (upload) {
		json_t	*m = json_object_get(call->args, "mode");

		/* "0644" or 420 */
		if (json_is_string(m)) {
			char	*end;

			errno = 0;
			mode = strtoll(json_string_value(m), &end, 8);
			if (errno || *end != '\0' || end ==
			    json_string_value(m))
				mode = -1;
		} else if (arg_int(call->args, "mode", 0, 07777, -1, &mode,
		    err) == -1)
			mode = -1;
		if (m != NULL && !json_is_null(m) &&
		    (mode < 0 || mode > 07777)) {
			free(x);
			files_fail(call, "mode must be an octal string such as "
			    "\"0644\" or a number up to 07777");
			return;
		}
		x->mode = (int)mode;
	}
	len = strlen(local);
	if (len == 0 || len >= sizeof(x->local)) {
		free(x);
		files_fail(call, "local_path must be a path relative to the "
		    "transfer root");
		return;
	}
	strlcpy(x->local, local, sizeof(x->local));

	/* check the remote side first: no local file for nothing */
	if ((c = sshconn_byid(connid)) == NULL) {
		free(x);
		files_fail(call, "the connection to the host was lost");
		return;
	}
	s = c->session;
	x->connid = connid;
	was = files_block(s);
	files_sweep(call, 1);
	msg = NULL;
	if ((sftp = files_sftp(call, err)) == NULL)
		msg = err;
	else if ((a = (upload ? sftp_lstat : sftp_stat)(sftp,
	    x->remote)) != NULL) {
		x->exists = 1;
		x->rmode = a->permissions & 07777;
		x->size = a->size;
		if (attr_type(a) == S_IFDIR) {
			snprintf(err, sizeof(err), "remote_path %s is a "
			    "directory", x->remote);
			msg = err;
		} else if (upload && !x->overwrite) {
			snprintf(err, sizeof(err), "remote_path %s exists; set "
			    "overwrite to replace it", x->remote);
			msg = err;
		} else if (!upload && attr_type(a) != S_IFREG) {
			snprintf(err, sizeof(err), "remote_path %s is not a "
			    "regular file", x->remote);
			msg = err;
		}
		sftp_attributes_free(a);
	} else if (!upload || !fx_missing(sftp)) {
		fx_err(err, sftp, "remote_path", x->remote);
		msg = err;
	}
	files_unblock(x->connid, was);
	if (msg != NULL) {
		files_checklost(x->connid);
		free(x);
		files_fail(call, msg);
		return;
	}

	memset(&req, 0, sizeof(req));
	x->id = ++xfer_ids;
	req.reqid = x->id;
	req.write = !upload;
	req.overwrite = x->overwrite;
	req.mode = upload ? 0 : (x->rmode & 0666 ? x->rmode & 0666 : 0644);
	{
		unsigned char	*buf;

		if ((buf = malloc(sizeof(req) + len)) == NULL)
			fatal(NULL);
		memcpy(buf, &req, sizeof(req));
		memcpy(buf + sizeof(req), x->local, len);
		if (ssh_compose(PROC_PARENT, IMSG_SSH_OPENLOCAL, 0, -1, buf,
		    sizeof(req) + len) == -1)
			fatal("ssh_compose");
		free(buf);
	}
	call->state = x;
	call->cancel = xfer_cancel;
	TAILQ_INSERT_TAIL(&xfers, x, entry);
}

static void
xfer_cancel(struct sshcall *call)
{
	struct xfer	*x = call->state;

	/* the descriptor, when it comes, finds no one and is closed */
	TAILQ_REMOVE(&xfers, x, entry);
	call->state = NULL;
	call->cancel = NULL;
	free(x);
	sshcall_text(call, 1, "%s cancelled before it started", call->tool);
}

void
files_localfd(struct imsg *imsg)
{
	struct ssh_localfd	 rep;
	struct xfer		*x;

	if (imsg->datalen != sizeof(rep))
		fatalx("bad IMSG_SSH_LOCALFD");
	memcpy(&rep, imsg->data, sizeof(rep));
	rep.errmsg[sizeof(rep.errmsg) - 1] = '\0';
	TAILQ_FOREACH(x, &xfers, entry)
		if (x->id == rep.reqid)
			break;
	if (x == NULL) {
		/* cancelled meanwhile */
		if (imsg->fd != -1)
			close(imsg->fd);
		imsg->fd = -1;
		return;
	}
	TAILQ_REMOVE(&xfers, x, entry);
	x->call->state = NULL;
	x->call->cancel = NULL;
	if (rep.error != 0 || imsg->fd == -1) {
		if (imsg->fd != -1)
			close(imsg->fd);
		imsg->fd = -1;
		sshcall_text(x->call, 1, "%s", rep.errmsg[0] ? rep.errmsg :
		    "the local file could not be opened");
		free(x);
		return;
	}
	xfer_run(x, imsg->fd);
	imsg->fd = -1;		/* xfer_run closed it */
	free(x);
}

/* the copy itself, in the blocking mode SFTP needs */
static void
xfer_run(struct xfer *x, int fd)
{
	struct sshcall	*call = x->call;
	struct sshhost	*host = call->host;
	struct timespec	 t0, t1;
	struct sshconn	*c;
	ssh_session	 s;
	char		 err[ERRSZ] = "";
	uint64_t	 bytes = 0;
	uint32_t	 id = x->connid;
	double		 secs;
	int		 was, rc;

	/* the connection it was checked on, or the check means nothing */
	if ((c = sshconn_byid(id)) == NULL || (s = c->session) == NULL) {
		close(fd);
		sshcall_text(call, 1, "the connection to host \"%s\" was lost"
		    " before the transfer started", host->name);
		return;
	}
	call->conn = c;
	/*
	 * A file size limit from the sandbox must turn into EFBIG, not
	 * kill the worker.
	 */
	signal(SIGXFSZ, SIG_IGN);
	was = files_block(s);
	/* due again if the record's connection went since the check */
	files_sweep(call, 1);
	/* a Download on a channel of its own answers from the event loop */
	if (!x->upload && fdown_start(call, c, fd, x->remote, x->local,
	    x->size) == 0) {
		files_unblock(id, was);
		files_checklost(id);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = x->upload ? xfer_upload(call, x, fd, err, &bytes) :
	    xfer_download(call, x, fd, err, &bytes);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc == 1) {
		/* ssh_fup.c has the descriptor, and answers */
		files_unblock(id, was);
		files_checklost(id);
		return;
	}
	close(fd);
	files_unblock(id, was);
	secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (rc == -1)
		sshcall_text(call, 1, "%s", err);
	else
		sshcall_text(call, 0, "%s %llu bytes from %s to %s in %.3f s "
		    "(%.1f MB/s)", x->upload ? "Uploaded" : "Downloaded",
		    (unsigned long long)bytes,
		    x->upload ? x->local : x->remote,
		    x->upload ? x->remote : x->local, secs,
		    secs > 0 ? bytes / secs / 1e6 : 0.0);
	files_checklost(id);
}

static int
xfer_upload(struct sshcall *call, struct xfer *x, int fd, char *err,
    uint64_t *bytes)
{
	sftp_session	 sftp;
	sftp_file	 f;
	struct stat	 st;
	struct xwpipe	 wp;
	char		*buf, tmp[PATH_MAX];
	ssize_t		 n;
	mode_t		 mode;

	if ((sftp = files_sftp(call, err)) == NULL)
		return -1;
	if (fstat(fd, &st) == -1) {
		snprintf(err, ERRSZ, "local_path %s: %s", x->local,
		    strerror(errno));
		return -1;
	}
	if (x->mode >= 0)
		mode = x->mode;
	else if (x->exists)
		mode = x->rmode;
	else
		mode = st.st_mode & 0777;
	/* protect exec: the last look before anything is made next to it */
	if (sshpolicy_write_ok(call, sftp, x->remote, err) == -1)
		return -1;
	if (temp_create(call, sftp, x->remote, 0600, tmp, &f, err) == -1)
		return -1;
	/* on a channel of its own, it answers from the event loop */
	if (fup_start(call, call->conn, fd, f, tmp, x->remote, x->local, mode,
	    x->overwrite, st.st_size) == 0)
		return 1;
	xwp_init(&wp, sftp, f, tmp);
	if ((buf = malloc(XFER_LOCAL)) == NULL)
		fatal(NULL);
	for (;;) {
		if ((n = read(fd, buf, XFER_LOCAL)) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, ERRSZ, "local_path %s: read: %s",
			    x->local, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		if (xwp_write(&wp, buf, n, err) == -1)
			goto fail;
		*bytes += n;
		sshcall_tick(call, 0, (double)*bytes, (double)st.st_size,
		    "Upload: %llu of %llu bytes", (unsigned long long)*bytes,
		    (unsigned long long)st.st_size);
	}
	if (xwp_flush(&wp, err) == -1)
		goto fail;
	if (temp_close(sftp, &f, tmp, err) == -1)
		goto fail;
	if (sftp_chmod(sftp, tmp, mode) != 0) {
		fx_err(err, sftp, "chmod", tmp);
		goto fail;
	}
	if (x->overwrite) {
		if (rename_over(call, sftp, tmp, x->remote, err) == -1)
			goto fail;
	} else if (sftp_rename(sftp, tmp, x->remote) != 0) {
		/* OpenSSH refuses to replace: it appeared meanwhile */
		snprintf(err, ERRSZ, "remote_path %s: %s (set overwrite to "
		    "replace an existing file)", x->remote, fx_str(sftp));
		goto fail;
	}
	free(buf);
	return 0;
 fail:
	/* the answers still due, out of the channel before anything else */
	xwp_flush(&wp, NULL);
	free(buf);
	temp_discard(call, sftp, f, tmp);
	return -1;
}

/*
 * Reads in flight, about XFER_INFLIGHT of them: the file comes at the speed
 * of the link, not of one round trip per request.  Only as far as the size
 * the stat saw: what is beyond (a file that grew) is read one request at a
 * time to the end.  A short read (a server that reads less at a time, a
 * file that shrank) drops what is in flight and asks again from where the
 * data stopped, in requests of what the server gave, so every byte lands
 * at its offset; an EOF before the size ends the reads in flight.
 */
static int
xfer_download(struct sshcall *call, struct xfer *x, int fd, char *err,
    uint64_t *bytes)
{
	struct xreq	 q[XFER_REQS];
	sftp_session	 sftp;
	sftp_file	 f;
	char		*buf;
	uint64_t	 next = 0;
	uint32_t	 reqlen, want;
	ssize_t		 n;
	int		 head = 0, nq = 0, id, nreq;

	if ((sftp = files_sftp(call, err)) == NULL)
		return -1;
	if ((f = sftp_open(sftp, x->remote, O_RDONLY, 0)) == NULL) {
		fx_err(err, sftp, "remote_path", x->remote);
		return -1;
	}
	/* as large as the server reads, about 2 MiB in flight */
	reqlen = xfer_wlen(sftp) == XFER_WLEN ? XFER_WLEN : XFER_REQLEN;
	nreq = XFER_INFLIGHT / reqlen;
	if (nreq > XFER_REQS)
		nreq = XFER_REQS;
	if ((buf = malloc(XFER_WLEN)) == NULL)
		fatal(NULL);
	for (;;) {
		while (nq < nreq && next < x->size) {
			if ((id = sftp_async_read_begin(f, reqlen)) < 0) {
				fx_err(err, sftp, "read", x->remote);
				goto fail;
			}
			q[(head + nq) % XFER_REQS].id = id;
			q[(head + nq) % XFER_REQS].len = reqlen;
			nq++;
			next += reqlen;
		}
		if (nq > 0) {
			want = q[head].len;
			n = sftp_async_read(f, buf, want, q[head].id);
			nq--;
			head = (head + 1) % XFER_REQS;
			if (n < 0) {
				fx_err(err, sftp, "read", x->remote);
				goto fail;
			}
			if ((uint32_t)n < want) {
				/* the rest in flight asked at the wrong offsets */
				xfer_drain(sftp, f, q, &head, &nq, *bytes + n);
				next = *bytes + n;
				if (n == 0)
					x->size = next;
				else
					reqlen = n < XFER_REQMIN ? XFER_REQMIN : n;
			}
		} else {
			/* past the size seen: to the end, one at a time */
			sftp_seek64(f, *bytes);
			if ((n = sftp_read(f, buf, reqlen)) < 0) {
				fx_err(err, sftp, "read", x->remote);
				goto fail;
			}
			if (n == 0)
				break;
			next = x->size = *bytes + n;
		}
		if (n > 0 && xfer_local(x, fd, buf, n, err) == -1)
			goto fail;
		*bytes += n;
		sshcall_tick(call, 0, (double)*bytes, (double)x->size,
		    "Download: %llu of %llu bytes", (unsigned long long)*bytes,
		    (unsigned long long)x->size);
	}
	/* no fsync(2) here: the worker's seccomp policy has none */
	free(buf);
	sftp_close(f);
	return 0;
 fail:
	xfer_drain(sftp, f, q, &head, &nq, *bytes);
	free(buf);
	sftp_close(f);
	return -1;
}

/*
 * The answers to reads in flight, thrown away: libssh keeps each until it
 * is asked for.  An EOF marks the file, and a marked file hands back no
 * answer at all, so the mark is cleared before each.
 */
static void
xfer_drain(sftp_session sftp, sftp_file f, struct xreq *q, int *head, int *nq,
    uint64_t off)
{
	char	*scratch;

	if (*nq == 0 || files_lost || !ssh_is_connected(sftp->session))
		return;
	if ((scratch = malloc(XFER_WLEN)) == NULL)
		fatal(NULL);
	while (*nq > 0) {
		sftp_seek64(f, off);
		if (sftp_async_read(f, scratch, q[*head].len, q[*head].id) <
		    0 && xfer_transport(sftp)) {
			/* the connection failed: nothing more will come */
			*nq = 0;
			break;
		}
		*head = (*head + 1) % XFER_REQS;
		(*nq)--;
	}
	free(scratch);
	sftp_seek64(f, off);
}

/*
 * No SFTP status came with the error: the transport failed or timed out (as
 * fx_str() sees it), and waiting for more answers would only wait again.
 */
static int
xfer_transport(sftp_session sftp)
{
	if (files_lost || !ssh_is_connected(sftp->session))
		return 1;
	switch (sftp_get_error(sftp)) {
	case SSH_FX_OK:
	case SSH_FX_NO_CONNECTION:
	case SSH_FX_CONNECTION_LOST:
		return 1;
	}
	return 0;
}

/* all of buf into the local file */
static int
xfer_local(struct xfer *x, int fd, const char *buf, size_t n, char *err)
{
	size_t	 off;
	ssize_t	 w;

	for (off = 0; off < n; off += w) {
		if ((w = write(fd, buf + off, n - off)) == -1) {
			if (errno == EINTR) {
				w = 0;
				continue;
			}
			snprintf(err, ERRSZ, "local_path %s: write: %s%s (the "
			    "local file is incomplete)", x->local,
			    strerror(errno), errno == EFBIG ?
			    ", the ssh worker's file size limit" : "");
			return -1;
		}
	}
	return 0;
}

/*
 * How much one SFTP request may carry: fewer, larger requests cost less
 * per byte.  A server that announces limits@openssh.com is an OpenSSH
 * sftp-server, which takes messages of up to 256 KiB and reads that much;
 * others get the 32 KiB every server must take.  (Upload writes less to
 * OpenSSH: XFER_UPLEN.)
 */
static size_t
xfer_wlen(sftp_session sftp)
{
	if (sftp_extension_supported(sftp, "limits@openssh.com", "1"))
		return XFER_WLEN;
	return SFTP_CHUNK;
}

/*
 * Upload's writes, several in flight.  libssh 0.10 has no asynchronous
 * write: sftp_write() sends one request and waits for its status, a round
 * trip per request.  Here the WRITE requests go out on the SFTP channel
 * itself (the file's handle and offset and the session's id counter are
 * fields of libssh 0.10's public sftp.h) and their STATUS answers are read
 * back here, all of them before any other SFTP call uses the channel: the
 * worker runs one file tool at a time, blocking.  Answers may come in any
 * order; one for a request not made ends the transfer.
 */
static void
xwp_init(struct xwpipe *wp, sftp_session sftp, sftp_file f, const char *tmp)
{
	memset(wp, 0, sizeof(*wp));
	wp->sftp = sftp;
	wp->f = f;
	wp->tmp = tmp;
	wp->wlen = xfer_wlen(sftp) == XFER_WLEN ? XFER_UPLEN : SFTP_CHUNK;
	wp->depth = XFER_INFLIGHT / wp->wlen;
	if (wp->depth > XFER_WREQS)
		wp->depth = XFER_WREQS;
}

/* the transport failed or timed out: no answer will come */
static int
xwp_dead(struct xwpipe *wp, char *err, const char *why)
{
	if (!wp->failed && err != NULL) {
		files_lost = 1;
		snprintf(err, ERRSZ, "write %s: %s", wp->tmp,
		    sshconn_error(wp->sftp->session, why));
	}
	wp->failed = wp->dead = 1;
	wp->nq = 0;
	return -1;
}

/* exactly n bytes of the channel, blocking */
static int
xwp_read(struct xwpipe *wp, unsigned char *dst, size_t n)
{
	size_t	 got = 0;
	int	 r;

	while (got < n) {
		r = ssh_channel_read(wp->sftp->channel, dst + got, n - got, 0);
		if (r <= 0)
			return -1;	/* error, EOF, or the timeout passed */
		got += r;
	}
	return 0;
}

/* one answer; -1 when none can come any more */
static int
xwp_wait(struct xwpipe *wp, char *err)
{
	unsigned char	 b[XWP_ANSWER_MAX];
	uint32_t	 len, id, code;
	int		 i;

	if (xwp_read(wp, b, 4) == -1)
		return xwp_dead(wp, err, "the connection failed");
	len = sftp_get32(b);
	if (len < 9 || len > sizeof(b) || xwp_read(wp, b, len) == -1)
		return xwp_dead(wp, err, "the connection failed");
	id = sftp_get32(b + 1);
	for (i = 0; i < wp->nq; i++)
		if (wp->ids[i] == id)
			break;
	if (b[0] != SSH_FXP_STATUS || i == wp->nq)
		return xwp_dead(wp, err, "the SFTP server answered a request "
		    "not made");
	wp->ids[i] = wp->ids[--wp->nq];
	code = sftp_get32(b + 5);
	if (code != SSH_FX_OK && !wp->failed) {
		wp->failed = 1;
		if (err != NULL) {
			/* fx_err() says what the status means */
			wp->sftp->errnum = code;
			fx_err(err, wp->sftp, "write", wp->tmp);
		}
	}
	return 0;
}

/* one WRITE request of len bytes at the file's offset */
static int
xwp_send(struct xwpipe *wp, const char *data, uint32_t len, char *err)
{
	unsigned char	 hdr[4 + 1 + 4 + 4 + XWP_HANDLE_MAX + 8 + 4], *p = hdr;
	ssh_string	 h = wp->f->handle;
	size_t		 hlen = ssh_string_len(h);
	uint32_t	 id;
	uint64_t	 off = wp->f->offset;

	if (hlen > XWP_HANDLE_MAX) {
		snprintf(err, ERRSZ, "write %s: the SFTP server's file handle "
		    "is longer than the protocol allows", wp->tmp);
		wp->failed = 1;
		return -1;
	}
	id = ++wp->sftp->id_counter;
	sftp_put32(&p, 1 + 4 + 4 + hlen + 8 + 4 + len);
	*p++ = SSH_FXP_WRITE;
	sftp_put32(&p, id);
	sftp_put32(&p, hlen);
	memcpy(p, ssh_string_data(h), hlen);
	p += hlen;
	sftp_put32(&p, off >> 32);
	sftp_put32(&p, off & 0xffffffff);
	sftp_put32(&p, len);
	if (ssh_channel_write(wp->sftp->channel, hdr, p - hdr) != p - hdr ||
	    ssh_channel_write(wp->sftp->channel, data, len) != (int)len)
		return xwp_dead(wp, err, "the connection failed");
	wp->f->offset += len;
	wp->ids[wp->nq++] = id;
	return 0;
}

/* all of data, in writes of wlen, at most depth of them unanswered */
static int
xwp_write(struct xwpipe *wp, const char *data, size_t len, char *err)
{
	size_t	 off, n;

	for (off = 0; off < len; off += n) {
		n = len - off > wp->wlen ? wp->wlen : len - off;
		while (wp->nq >= wp->depth && !wp->dead)
			if (xwp_wait(wp, err) == -1)
				return -1;
		if (wp->failed || xwp_send(wp, data + off, n, err) == -1)
			return -1;
	}
	return wp->failed ? -1 : 0;
}

/* every answer still due; -1 if any write failed */
static int
xwp_flush(struct xwpipe *wp, char *err)
{
	while (wp->nq > 0 && !wp->dead)
		if (xwp_wait(wp, err) == -1)
			break;
	return wp->failed ? -1 : 0;
}
