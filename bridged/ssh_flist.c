/*
 * ssh_flist.c: ListDir's listing of a large directory on an SFTP channel
 * of its own, from the worker's event loop (ssh_fchan.c says why a
 * channel of its own: a directory of 10,000 entries is some 100
 * READDIRs, and in the blocking section every other call on the host
 * waited for all of them).  ssh_finfo.c lists a directory in the shared
 * session until it has seen LISTDIR_INLINE entries (opening a channel
 * costs more round trips than a short listing), and then starts this
 * one, from the start.
 *
 * OPENDIR, READDIR until the server says it is at the end (or
 * LISTDIR_MAX entries came), CLOSE; then the links' targets, LISTDIR_LINKQ
 * READLINKs in flight, as the blocking listing asks them; then the
 * answer, which ssh_finfo.c words as ever.  Every answer must be to the
 * request in flight and parse whole; one that does not ends the ListDir
 * with an error and closes the channel.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/queue.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

#define FL_HANDLE_MAX	256		/* the protocol's longest handle */
/* a NAME answer: OpenSSH's sftp-server sends 100 entries at most */
#define FL_ANSWER_MAX	(256 * 1024)

enum { FL_OPENDIR, FL_READDIR, FL_CLOSE, FL_LINKS };

struct flist {
	struct fchan	 fc;
	struct sshcall	*call;
	char		 path[PATH_MAX];
	int		 stage;
	uint32_t	 id;		/* the directory's request in flight */
	uint32_t	 ids;
	unsigned char	 handle[FL_HANDLE_MAX];
	uint32_t	 hlen;
	char		 why[ERRSZ];	/* why the listing failed */
	struct dent	*ents;
	size_t		 n, size;
	size_t		 names;		/* their bytes */
	int		 more;		/* stopped at LISTDIR_MAX or _NAMES */
	size_t		 next;		/* the next entry to readlink */
	size_t		 nlq;
	struct {
		uint32_t	 id;
		size_t		 ent;
	}		 lq[LISTDIR_LINKQ];	/* readlinks in flight */
};

static void	 flist_step(struct fchan *);
static int	 flist_answer(void *, const unsigned char *, uint32_t, char *);
static int	 flist_names(struct flist *, const unsigned char *, uint32_t,
		    char *);
static int	 flist_link(struct flist *, int, uint32_t, struct sftprd *,
		    char *);
static void	 flist_links(struct flist *);
static void	 flist_request(struct flist *, int, const void *, uint32_t);
static void	 flist_put(struct flist *, struct sbuf *, int, const void *,
		    uint32_t);
static void	 flist_stop(struct fchan *, const char *);
static void	 flist_end(struct flist *, const char *);

/*
 * Called in the blocking section on c with path checked: 0 the listing
 * has the call and answers; -1 there is no room for the channel, and the
 * caller lists as before.
 */
int
flist_start(struct sshcall *call, struct sshconn *c, const char *path)
{
	struct flist	*x;

	if (c == NULL || strlen(path) >= PATH_MAX ||
	    (x = calloc(1, sizeof(*x))) == NULL)
		return -1;
	if (fchan_open(&x->fc, call, c) == -1) {
		free(x);
		return -1;
	}
	/* one answer in flight, or LISTDIR_LINKQ short ones */
	x->fc.inmax = 4 + FL_ANSWER_MAX + LISTDIR_LINKQ * (4 + 64 + 2 *
	    PATH_MAX);
	x->fc.ansmax = FL_ANSWER_MAX;
	x->fc.step = flist_step;
	x->fc.stop = flist_stop;
	x->fc.arg = x;
	x->call = call;
	x->ids = x->fc.sftp->id_counter;
	strlcpy(x->path, path, sizeof(x->path));
	fchan_go(&x->fc);
	flist_request(x, FL_OPENDIR, x->path, strlen(x->path));
	return 0;
}

/* the answers that came, and what they lead to */
static void
flist_step(struct fchan *fc)
{
	struct flist		*x = fc->arg;
	char			 err[ERRSZ];
	int			 rc;

	if ((rc = fchan_answers(fc, flist_answer, x, err)) != 0) {
		flist_end(x, rc == -1 ? err : NULL);
		return;
	}
	if (fchan_flush(fc, err) == -1)
		flist_end(x, err);
}

/*
 * One answer (type, id, ...): 0 go on, 1 the listing is done (or its
 * error is x->why), -1 err.
 */
static int
flist_answer(void *arg, const unsigned char *p, uint32_t len, char *err)
{
	struct flist		*x = arg;
	struct sftprd		 r = { p + 5, len - 5 };
	const unsigned char	*h;
	const char		*s;
	uint32_t		 id = sftp_get32(p + 1), hlen, code;
	int			 type = p[0];

	if (x->stage == FL_LINKS)
		return flist_link(x, type, id, &r, err);
	if (id != x->id) {
		snprintf(err, ERRSZ, "ListDir: the SFTP server answered a "
		    "request not made");
		return -1;
	}
	if (type == SSH_FXP_STATUS) {
		if (sftprd_u32(&r, &code) == -1)
			goto bad;
		s = fx_code_str(code);
		switch (x->stage) {
		case FL_OPENDIR:
			/* gone since the shared session opened it */
			snprintf(x->why, sizeof(x->why), "%s: %s", x->path,
			    s != NULL ? s : "SFTP error");
			return 1;
		case FL_READDIR:
			if (code != SSH_FX_EOF) {
				snprintf(x->why, sizeof(x->why), "%s: listing "
				    "failed: %s", x->path, s != NULL ? s :
				    "SFTP error");
				return 1;
			}
			flist_request(x, FL_CLOSE, x->handle, x->hlen);
			return 0;
		case FL_CLOSE:
			flist_links(x);
			return x->nlq == 0;
		}
	}
	if (x->stage == FL_OPENDIR && type == SSH_FXP_HANDLE) {
		if (sftprd_str(&r, &h, &hlen) == -1 || hlen == 0 ||
		    hlen > FL_HANDLE_MAX || r.left != 0)
			goto bad;
		memcpy(x->handle, h, hlen);
		x->hlen = hlen;
		flist_request(x, FL_READDIR, x->handle, x->hlen);
		return 0;
	}
	if (x->stage == FL_READDIR && type == SSH_FXP_NAME) {
		if (flist_names(x, r.p, r.left, err) == -1)
			return -1;
		if (x->more)
			flist_request(x, FL_CLOSE, x->handle, x->hlen);
		else
			flist_request(x, FL_READDIR, x->handle, x->hlen);
		return 0;
	}
 bad:
	return fchan_misfit(&x->fc, type, type == SSH_FXP_STATUS ||
	    type == SSH_FXP_HANDLE || type == SSH_FXP_NAME, err);
}

/*
 * A READDIR's entries, kept ("." and ".." aside) up to LISTDIR_MAX of
 * them or LISTDIR_NAMES bytes of names, whichever comes first.
 */
static int
flist_names(struct flist *x, const unsigned char *p, uint32_t len, char *err)
{
	struct sftprd		 r = { p, len };
	struct sftpattr		 a;
	struct dent		*de;
	const unsigned char	*s, *l;
	uint32_t		 n, slen, llen;

	if (sftprd_u32(&r, &n) == -1 || n > len / 12)
		goto bad;
	while (n-- > 0) {
		if (sftprd_str(&r, &s, &slen) == -1 ||
		    sftprd_str(&r, &l, &llen) == -1 ||
		    sftprd_attrs(&r, &a) == -1)
			goto bad;
		/* a name that is no name is passed over */
		if (slen == 0 || memchr(s, '\0', slen) != NULL ||
		    (slen == 1 && s[0] == '.') ||
		    (slen == 2 && s[0] == '.' && s[1] == '.') || x->more)
			continue;
		if (x->n == LISTDIR_MAX || slen > LISTDIR_NAMES - x->names) {
			x->more = 1;
			continue;
		}
		x->names += slen;
		if (x->n == x->size) {
			x->size = x->size ? x->size * 2 : 64;
			if ((x->ents = reallocarray(x->ents, x->size,
			    sizeof(*x->ents))) == NULL)
				fatal(NULL);
		}
		de = &x->ents[x->n++];
		if ((de->name = strndup((const char *)s, slen)) == NULL)
			fatal(NULL);
		de->type = a.hasperm ? (int)(a.perm & S_IFMT) : 0;
		de->size = a.hassize ? a.size : 0;
		de->target = NULL;
	}
	if (r.left != 0)
		goto bad;
	return 0;
 bad:
	snprintf(err, ERRSZ, "ListDir: the SFTP server sent a malformed "
	    "listing of %s", x->path);
	return -1;
}

/*
 * The listing is whole: sorted, and the links' targets asked
 * LISTDIR_LINKQ at a time, each batch in one write once the one before
 * has been answered (when there are at most LISTDIR_LINKS entries);
 * x->nlq 0 when none is in flight.
 */
static void
flist_links(struct flist *x)
{
	struct dent	*de;
	struct sbuf	 b = { 0 };
	char		 full[PATH_MAX];

	if (x->stage != FL_LINKS) {
		x->stage = FL_LINKS;
		if (x->n > 0)
			qsort(x->ents, x->n, sizeof(*x->ents), dent_cmp);
		if (x->n > LISTDIR_LINKS)
			x->next = x->n;
	}
	for (; x->next < x->n && x->nlq < LISTDIR_LINKQ; x->next++) {
		de = &x->ents[x->next];
		if (de->type != S_IFLNK ||
		    (size_t)snprintf(full, sizeof(full), "%s/%s", x->path,
		    de->name) >= sizeof(full))
			continue;
		flist_put(x, &b, FL_LINKS, full, strlen(full));
		x->lq[x->nlq].id = x->id;
		x->lq[x->nlq++].ent = x->next;
	}
	if (b.len > 0)
		fchan_send(&x->fc, b.p, b.len, NULL, 0);
	sb_free(&b);
}

/* a READLINK's answer: 0 go on, 1 all are in, -1 err */
static int
flist_link(struct flist *x, int type, uint32_t id, struct sftprd *r,
    char *err)
{
	const unsigned char	*s, *l;
	struct sftpattr		 a;
	struct dent		*de;
	uint32_t		 n, slen, llen, code;
	size_t			 i;

	for (i = 0; i < x->nlq && x->lq[i].id != id; i++)
		;
	if (i == x->nlq) {
		snprintf(err, ERRSZ, "ListDir: the SFTP server answered a "
		    "request not made");
		return -1;
	}
	de = &x->ents[x->lq[i].ent];
	x->lq[i] = x->lq[--x->nlq];
	x->lq[x->nlq].id = 0;
	if (type == SSH_FXP_STATUS) {
		/* a link the host will not read has no target */
		if (sftprd_u32(r, &code) == -1)
			goto bad;
	} else if (type == SSH_FXP_NAME) {
		if (sftprd_u32(r, &n) == -1 || n != 1 ||
		    sftprd_str(r, &s, &slen) == -1 ||
		    sftprd_str(r, &l, &llen) == -1 ||
		    sftprd_attrs(r, &a) == -1 || r->left != 0)
			goto bad;
		/* used only when it fits PATH_MAX and holds no NUL */
		if (slen < PATH_MAX && memchr(s, '\0', slen) == NULL &&
		    (de->target = strndup((const char *)s, slen)) == NULL)
			fatal(NULL);
	} else
		goto bad;
	if (x->nlq == 0)
		flist_links(x);
	return x->nlq == 0;
 bad:
	snprintf(err, ERRSZ, "ListDir: the SFTP server sent a malformed "
	    "answer to a READLINK in %s", x->path);
	return -1;
}

/* a request of stage's kind, with its one string argument, sent */
static void
flist_request(struct flist *x, int stage, const void *arg, uint32_t alen)
{
	struct sbuf	 b = { 0 };

	flist_put(x, &b, stage, arg, alen);
	fchan_send(&x->fc, b.p, b.len, NULL, 0);
	sb_free(&b);
}

/* ... put at the end of b */
static void
flist_put(struct flist *x, struct sbuf *b, int stage, const void *arg,
    uint32_t alen)
{
	unsigned char	 h[4 + 1 + 4 + 4], *p = h;
	static const int types[] = {
		[FL_OPENDIR] = SSH_FXP_OPENDIR,
		[FL_READDIR] = SSH_FXP_READDIR,
		[FL_CLOSE] = SSH_FXP_CLOSE,
		[FL_LINKS] = SSH_FXP_READLINK,
	};

	x->stage = stage;
	x->id = ++x->ids;
	sftp_put32(&p, 1 + 4 + 4 + alen);
	*p++ = types[stage];
	sftp_put32(&p, x->id);
	sftp_put32(&p, alen);
	sb_add(b, h, p - h);
	sb_add(b, arg, alen);
}

/* cancelled, timed out or the connection lost */
static void
flist_stop(struct fchan *fc, const char *why)
{
	flist_end(fc->arg, why);
}

/* answer (err NULL: the listing, or x->why), close the channel, free x */
static void
flist_end(struct flist *x, const char *err)
{
	fchan_close(&x->fc, NULL);
	if (err != NULL || x->why[0] != '\0') {
		sshcall_text(x->call, 1, "%s", err != NULL ? err : x->why);
		dent_free(x->ents, x->n);
	} else
		listdir_answer(x->call, x->path, x->ents, x->n, x->more);
	free(x);
}
