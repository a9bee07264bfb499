/*
 * ssh_fglob.c: Glob's walk over the tree on an SFTP channel of its own,
 * from the worker's event loop (ssh_fchan.c says why a channel of its
 * own: a walk over a large tree in the blocking section held every other
 * call on the host for up to GLOB_SECONDS).
 *
 * Up to FG_OPEN directories are read at once, each with one request in
 * flight: OPENDIR, then READDIR until the server says it is at the end,
 * then CLOSE.  Directories still to read wait on a stack, so the walk
 * goes deep before it goes wide and the stack stays about as long as the
 * tree is deep times its width.  The matching (glob_entry) and the answer
 * (glob_answer) are ssh_fsearch.c's, as in the blocking walk; the order
 * the directories are read in does not show, as the matches are sorted.
 *
 * Every answer must be to a request in flight and parse whole; one that
 * does not ends the Glob with an error and closes the channel.  A
 * directory that cannot be opened or read is passed over, as before.
 */

#include <sys/types.h>
#include <sys/stat.h>
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

#define FG_OPEN		8		/* directories read at once */
#define FG_HANDLE_MAX	256		/* the protocol's longest handle */
/* a NAME answer: OpenSSH's sftp-server sends 100 entries at most */
#define FG_ANSWER_MAX	(256 * 1024)

enum { FG_OPENDIR, FG_READDIR, FG_CLOSE };

/* a directory to read */
struct gdir {
	TAILQ_ENTRY(gdir)	 entry;
	char			*path;
	struct gstate		*st;
	size_t			 nst;
	int			 depth;
	int			 stage;		/* the request in flight */
	uint32_t		 id;
	unsigned char		 handle[FG_HANDLE_MAX];
	uint32_t		 hlen;
};
TAILQ_HEAD(gdirq, gdir);

struct fglob {
	struct fchan		 fc;
	struct sshcall		*call;
	struct globctx		*g;
	struct gdirq		 todo;		/* a stack */
	struct gdirq		 open;		/* one request in flight each */
	int			 nopen;
	uint32_t		 ids;
	struct event		 ev_cap;	/* GLOB_SECONDS */
};

static struct gdir *gdir_new(const char *, const struct gstate *, size_t,
		    int);
static void	 gdir_free(struct gdir *);
static void	 fglob_step(struct fchan *);
static int	 fglob_answer(void *, const unsigned char *, uint32_t, char *);
static int	 fglob_names(struct fglob *, struct gdir *,
		    const unsigned char *, uint32_t, char *);
static void	 fglob_request(struct fglob *, struct gdir *, int);
static void	 fglob_cap(int, short, void *);
static void	 fglob_stop(struct fchan *, const char *);
static void	 fglob_end(struct fglob *, const char *);

/*
 * Called in the blocking section on c with root checked and canonical:
 * 0 the walk has g and the call and answers; -1 there is no room for
 * the channel, and the caller walks as before.
 */
int
fglob_start(struct sshcall *call, struct sshconn *c, struct globctx *g,
    const char *root, const struct gstate *st, size_t nst)
{
	struct fglob	*x;
	struct gdir	*d;
	struct timeval	 tv;
	time_t		 now = time(NULL);

	if (c == NULL || (x = calloc(1, sizeof(*x))) == NULL)
		return -1;
	if (fchan_open(&x->fc, call, c) == -1) {
		free(x);
		return -1;
	}
	x->fc.inmax = FG_OPEN * (size_t)(4 + FG_ANSWER_MAX);
	x->fc.ansmax = FG_ANSWER_MAX;
	x->fc.step = fglob_step;
	x->fc.stop = fglob_stop;
	x->fc.arg = x;
	x->call = call;
	x->g = g;
	x->ids = x->fc.sftp->id_counter;
	TAILQ_INIT(&x->todo);
	TAILQ_INIT(&x->open);
	d = gdir_new(root, st, nst, 0);
	TAILQ_INSERT_HEAD(&x->todo, d, entry);
	evtimer_set(&x->ev_cap, fglob_cap, x);
	tv.tv_sec = g->deadline > now ? g->deadline - now : 0;
	tv.tv_usec = 0;
	evtimer_add(&x->ev_cap, &tv);
	fchan_go(&x->fc);
	return 0;
}

static struct gdir *
gdir_new(const char *path, const struct gstate *st, size_t nst, int depth)
{
	struct gdir	*d;

	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->path = strdup(path)) == NULL ||
	    (d->st = reallocarray(NULL, nst ? nst : 1, sizeof(*st))) == NULL)
		fatal(NULL);
	memcpy(d->st, st, nst * sizeof(*st));
	d->nst = nst;
	d->depth = depth;
	return d;
}

static void
gdir_free(struct gdir *d)
{
	free(d->path);
	free(d->st);
	free(d);
}

/* the answers that came, more directories opened, or the end */
static void
fglob_step(struct fchan *fc)
{
	struct fglob		*x = fc->arg;
	struct gdir		*d;
	char			 err[ERRSZ];
	int			 rc;

	if ((rc = fchan_answers(fc, fglob_answer, x, err)) != 0) {
		fglob_end(x, rc == -1 ? err : NULL);
		return;
	}
	while (x->nopen < FG_OPEN && (d = TAILQ_FIRST(&x->todo)) != NULL) {
		TAILQ_REMOVE(&x->todo, d, entry);
		if (d->depth > GLOB_DEPTH) {
			x->g->truncated = GLOB_STOP_DEPTH;
			gdir_free(d);
			break;
		}
		TAILQ_INSERT_TAIL(&x->open, d, entry);
		x->nopen++;
		fglob_request(x, d, FG_OPENDIR);
	}
	if (x->nopen == 0 || x->g->truncated) {
		fglob_end(x, NULL);
		return;
	}
	if (fchan_flush(fc, err) == -1)
		fglob_end(x, err);
}

/*
 * One answer (type, id, ...) to the request of one open directory: 0 go
 * on, 1 the walk stopped early, -1 err.
 */
static int
fglob_answer(void *arg, const unsigned char *p, uint32_t len, char *err)
{
	struct fglob		*x = arg;
	struct sftprd		 r = { p + 5, len - 5 };
	const unsigned char	*h;
	struct gdir		*d;
	uint32_t		 id = sftp_get32(p + 1), hlen, code;
	int			 type = p[0];

	TAILQ_FOREACH(d, &x->open, entry)
		if (d->id == id)
			break;
	if (d == NULL) {
		snprintf(err, ERRSZ, "Glob: the SFTP server answered a request "
		    "not made");
		return -1;
	}
	if (type == SSH_FXP_STATUS) {
		if (sftprd_u32(&r, &code) == -1)
			goto bad;
		/* unreadable, or at its end: closed, or passed over */
		if (d->stage == FG_READDIR) {
			fglob_request(x, d, FG_CLOSE);
			return 0;
		}
		TAILQ_REMOVE(&x->open, d, entry);
		x->nopen--;
		gdir_free(d);
		return 0;
	}
	if (d->stage == FG_OPENDIR && type == SSH_FXP_HANDLE) {
		if (sftprd_str(&r, &h, &hlen) == -1 || hlen == 0 ||
		    hlen > FG_HANDLE_MAX || r.left != 0)
			goto bad;
		memcpy(d->handle, h, hlen);
		d->hlen = hlen;
		fglob_request(x, d, FG_READDIR);
		return 0;
	}
	if (d->stage == FG_READDIR && type == SSH_FXP_NAME) {
		if (fglob_names(x, d, r.p, r.left, err) == -1)
			return -1;
		if (x->g->truncated)
			return 1;
		fglob_request(x, d, FG_READDIR);
		return 0;
	}
 bad:
	return fchan_misfit(&x->fc, type, type == SSH_FXP_STATUS ||
	    type == SSH_FXP_HANDLE || type == SSH_FXP_NAME, err);
}

/* a READDIR's entries, matched; the directories to walk go on the stack */
static int
fglob_names(struct fglob *x, struct gdir *d, const unsigned char *p,
    uint32_t len, char *err)
{
	struct sftprd		 r = { p, len };
	struct sftpattr		 a;
	struct globctx		*g = x->g;
	struct gdir		*sub;
	const unsigned char	*s, *l;
	char			 name[NAME_MAX + 1], full[PATH_MAX];
	uint32_t		 n, slen, llen;
	size_t			 nnext;
	int			 rc, type;

	if (sftprd_u32(&r, &n) == -1 || n > len / 12)
		goto bad;
	while (n-- > 0) {
		if (sftprd_str(&r, &s, &slen) == -1 ||
		    sftprd_str(&r, &l, &llen) == -1 ||
		    sftprd_attrs(&r, &a) == -1)
			goto bad;
		/* a name that is no name is passed over, as glob_entry does */
		if (slen > NAME_MAX || memchr(s, '\0', slen) != NULL)
			continue;
		memcpy(name, s, slen);
		name[slen] = '\0';
		type = a.hasperm ? (int)(a.perm & S_IFMT) : 0;
		rc = glob_entry(g, d->path, d->st, d->nst, name, type,
		    a.hastime ? a.mtime : 0, full);
		if (rc == -1)
			return 0;
		if (rc == 0)
			continue;
		nnext = glob_step(g, d->st, d->nst, name, 0, g->next,
		    GLOB_STATES);
		sub = gdir_new(full, g->next, nnext, d->depth + 1);
		TAILQ_INSERT_HEAD(&x->todo, sub, entry);
	}
	if (r.left != 0)
		goto bad;
	return 0;
 bad:
	snprintf(err, ERRSZ, "Glob: the SFTP server sent a malformed listing "
	    "of %s", d->path);
	return -1;
}

/* OPENDIR of d's path, or READDIR or CLOSE of its handle */
static void
fglob_request(struct fglob *x, struct gdir *d, int stage)
{
	unsigned char	 b[4 + 1 + 4 + 4], *p = b;
	const void	*arg;
	uint32_t	 alen;

	if (stage == FG_OPENDIR) {
		arg = d->path;
		alen = strlen(d->path);
	} else {
		arg = d->handle;
		alen = d->hlen;
	}
	d->stage = stage;
	d->id = ++x->ids;
	sftp_put32(&p, 1 + 4 + 4 + alen);
	*p++ = stage == FG_OPENDIR ? SSH_FXP_OPENDIR : stage == FG_READDIR ?
	    SSH_FXP_READDIR : SSH_FXP_CLOSE;
	sftp_put32(&p, d->id);
	sftp_put32(&p, alen);
	fchan_send(&x->fc, b, p - b, arg, alen);
}

/* GLOB_SECONDS passed: what was found is the answer */
static void
fglob_cap(int fd, short ev, void *arg)
{
	struct fglob	*x = arg;

	x->g->truncated = GLOB_STOP_TIME;
	fglob_end(x, NULL);
}

/* cancelled, timed out or the connection lost */
static void
fglob_stop(struct fchan *fc, const char *why)
{
	fglob_end(fc->arg, why);
}

/* answer (err NULL: the matches), close the channel, free x */
static void
fglob_end(struct fglob *x, const char *err)
{
	struct gdir	*d;

	evtimer_del(&x->ev_cap);
	fchan_close(&x->fc, NULL);
	while ((d = TAILQ_FIRST(&x->todo)) != NULL) {
		TAILQ_REMOVE(&x->todo, d, entry);
		gdir_free(d);
	}
	while ((d = TAILQ_FIRST(&x->open)) != NULL) {
		TAILQ_REMOVE(&x->open, d, entry);
		gdir_free(d);
	}
	if (err != NULL)
		sshcall_text(x->call, 1, "%s", err);
	else
		glob_answer(x->call, x->g);
	glob_free(x->g);
	free(x);
}
