/*
 * ssh_sftpq.c: SFTP requests sent together, their answers read back in
 * any order: one round trip to the host for what libssh 0.10's calls
 * (sftp_canonicalize_path, sftp_lstat, sftp_stat, sftp_readlink,
 * sftp_open, sftp_read, sftp_close) make one each.
 *
 * As Upload's writes do (ssh_ftransfer.c), the requests go out on the SFTP
 * channel itself, numbered with the session's id counter (fields of libssh
 * 0.10's public sftp.h), and every answer is read here before any other
 * SFTP call uses the channel: the worker runs one file tool at a time,
 * blocking.  An answer to a request not made, or one that cannot be
 * parsed, leaves the channel out of step: the connection is given up
 * (files_lost), as after a transport failure.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include "bridged.h"
#include "log.h"
#include "ssh.h"
#include "ssh_files.h"

/* an answer longer than this is not one to a path request of ours */
#define SFTPQ_ANSWER_MAX	(256 * 1024)

static size_t	 req_len(const struct sftpq *);
static int	 chan_read(sftp_session, unsigned char *, size_t);
static int	 answer(struct sftpq *, int, const unsigned char *, size_t);

/*
 * SFTP's wire format, read with bounds: each takes what it reads off r,
 * or fails (-1) leaving the rest unusable.  Shared with Glob's walk
 * (ssh_fglob.c).
 */
int
sftprd_u32(struct sftprd *r, uint32_t *v)
{
	if (r->left < 4)
		return -1;
	*v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 |
	    (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	r->left -= 4;
	return 0;
}

int
sftprd_u64(struct sftprd *r, uint64_t *v)
{
	uint32_t	 hi, lo;

	if (sftprd_u32(r, &hi) == -1 || sftprd_u32(r, &lo) == -1)
		return -1;
	*v = (uint64_t)hi << 32 | lo;
	return 0;
}

int
sftprd_str(struct sftprd *r, const unsigned char **s, uint32_t *len)
{
	if (sftprd_u32(r, len) == -1 || r->left < *len)
		return -1;
	*s = r->p;
	r->p += *len;
	r->left -= *len;
	return 0;
}

/* the attributes of SFTP version 3 (draft-ietf-secsh-filexfer-02) */
int
sftprd_attrs(struct sftprd *r, struct sftpattr *a)
{
	const unsigned char	*s;
	uint32_t		 flags, v, n, len;

	memset(a, 0, sizeof(*a));
	if (sftprd_u32(r, &flags) == -1)
		return -1;
	if (flags & SSH_FILEXFER_ATTR_SIZE) {
		if (sftprd_u64(r, &a->size) == -1)
			return -1;
		a->hassize = 1;
	}
	if (flags & SSH_FILEXFER_ATTR_UIDGID) {
		if (sftprd_u32(r, &a->uid) == -1 ||
		    sftprd_u32(r, &a->gid) == -1)
			return -1;
		a->hasuid = 1;
	}
	if (flags & SSH_FILEXFER_ATTR_PERMISSIONS) {
		if (sftprd_u32(r, &a->perm) == -1)
			return -1;
		a->hasperm = 1;
	}
	if (flags & SSH_FILEXFER_ATTR_ACMODTIME) {
		if (sftprd_u32(r, &v) == -1 || sftprd_u32(r, &a->mtime) == -1)
			return -1;
		a->hastime = 1;
	}
	if (flags & SSH_FILEXFER_ATTR_EXTENDED) {
		if (sftprd_u32(r, &n) == -1)
			return -1;
		while (n-- > 0)
			if (sftprd_str(r, &s, &len) == -1 ||
			    sftprd_str(r, &s, &len) == -1)
				return -1;
	}
	return 0;
}

/* the length of a request's body after its type and id */
static size_t
req_len(const struct sftpq *q)
{
	switch (q->type) {
	case SSH_FXP_READ:
		return 4 + q->hlen + 8 + 4;
	case SSH_FXP_CLOSE:
		return 4 + q->hlen;
	case SSH_FXP_OPEN:
		return 4 + strlen(q->path) + 4 + 4;
	default:
		return 4 + strlen(q->path);
	}
}

/* exactly n bytes of the channel, blocking */
static int
chan_read(sftp_session sftp, unsigned char *dst, size_t n)
{
	size_t	 got = 0;
	int	 r;

	while (got < n) {
		r = ssh_channel_read(sftp->channel, dst + got, n - got, 0);
		if (r <= 0)
			return -1;	/* error, EOF, or the timeout passed */
		got += r;
	}
	return 0;
}

/* one answer's body (after its type and id) into the request it is for */
static int
answer(struct sftpq *q, int type, const unsigned char *p, size_t len)
{
	struct sftprd		 r = { p, len };
	struct sftpattr		 a;
	const unsigned char	*s;
	uint32_t		 n, slen;

	q->done = 1;
	if (type == SSH_FXP_STATUS) {
		if (sftprd_u32(&r, &q->status) == -1)
			return -1;
		q->ok = q->type == SSH_FXP_CLOSE && q->status == SSH_FX_OK;
		return 0;
	}
	if (q->type == SSH_FXP_OPEN && type == SSH_FXP_HANDLE) {
		if (sftprd_str(&r, &s, &slen) == -1 ||
		    slen > sizeof(q->hout) || slen == 0)
			return -1;
		memcpy(q->hout, s, slen);
		q->houtlen = slen;
		q->ok = 1;
		return 0;
	}
	if (q->type == SSH_FXP_READ && type == SSH_FXP_DATA) {
		/* never more than was asked */
		if (sftprd_str(&r, &s, &slen) == -1 || slen > q->len)
			return -1;
		if ((q->data = malloc(slen ? slen : 1)) == NULL)
			fatal(NULL);
		memcpy(q->data, s, slen);
		q->dlen = slen;
		q->ok = 1;
		return 0;
	}
	if ((q->type == SSH_FXP_REALPATH || q->type == SSH_FXP_READLINK) &&
	    type == SSH_FXP_NAME) {
		if (sftprd_u32(&r, &n) == -1 || n != 1 ||
		    sftprd_str(&r, &s, &slen) == -1)
			return -1;
		/* a name that does not fit, or holds a NUL, is not used */
		if (slen >= sizeof(q->name) || memchr(s, '\0', slen) != NULL)
			q->status = SSH_FX_FAILURE;
		else {
			memcpy(q->name, s, slen);
			q->name[slen] = '\0';
			q->ok = 1;
		}
		return 0;
	}
	if ((q->type == SSH_FXP_LSTAT || q->type == SSH_FXP_STAT) &&
	    type == SSH_FXP_ATTRS) {
		if (sftprd_attrs(&r, &a) == -1)
			return -1;
		q->hassize = a.hassize;
		q->size = a.size;
		q->hasperm = a.hasperm;
		q->perm = a.perm;
		q->hasuid = a.hasuid;
		q->uid = a.uid;
		q->gid = a.gid;
		q->hastime = a.hastime;
		q->mtime = a.mtime;
		q->ok = 1;
		return 0;
	}
	return -1;
}

/*
 * Send the n requests, then read their n answers.  0: each request has
 * its answer (ok, or the status the server gave); -1 with err: the
 * connection failed or the server answered out of turn, and is lost.
 */
int
sftpq_run(sftp_session sftp, struct sftpq *q, int n, char *err)
{
	unsigned char	 hdr[4 + 1 + 4 + 4], *b = NULL, *p;
	uint32_t	 len, id, plen;
	size_t		 total = 0;
	int		 i, k, type;
	const char	*why = "the connection failed";

	if (n <= 0)
		return 0;
	/* all in one write: as few packets as the channel allows */
	for (i = 0; i < n; i++)
		total += 4 + 1 + 4 + req_len(&q[i]);
	if ((b = malloc(total)) == NULL)
		fatal(NULL);
	for (p = b, i = 0; i < n; i++) {
		q[i].id = ++sftp->id_counter;
		q[i].done = q[i].ok = q[i].hassize = q[i].hasperm = 0;
		q[i].hasuid = q[i].hastime = 0;
		q[i].houtlen = 0;
		q[i].data = NULL;
		q[i].dlen = 0;
		q[i].status = SSH_FX_OK;
		sftp_put32(&p, 1 + 4 + req_len(&q[i]));
		*p++ = q[i].type;
		sftp_put32(&p, q[i].id);
		switch (q[i].type) {
		case SSH_FXP_READ:
		case SSH_FXP_CLOSE:
			sftp_put32(&p, q[i].hlen);
			memcpy(p, q[i].handle, q[i].hlen);
			p += q[i].hlen;
			if (q[i].type == SSH_FXP_READ) {
				sftp_put32(&p, q[i].off >> 32);
				sftp_put32(&p, q[i].off & 0xffffffff);
				sftp_put32(&p, q[i].len);
			}
			break;
		default:
			plen = strlen(q[i].path);
			sftp_put32(&p, plen);
			memcpy(p, q[i].path, plen);
			p += plen;
			if (q[i].type == SSH_FXP_OPEN) {
				sftp_put32(&p, SSH_FXF_READ);
				sftp_put32(&p, 0);	/* no attributes */
			}
			break;
		}
	}
	if (ssh_channel_write(sftp->channel, b, total) != (int)total)
		goto lost;
	free(b);
	b = NULL;
	for (i = 0; i < n; i++) {
		if (chan_read(sftp, hdr, 4) == -1)
			goto lost;
		len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
		    (uint32_t)hdr[2] << 8 | hdr[3];
		if (len < 5 || len > SFTPQ_ANSWER_MAX) {
			why = "the SFTP server's answer has a bad length";
			goto lost;
		}
		if ((b = malloc(len)) == NULL)
			fatal(NULL);
		if (chan_read(sftp, b, len) == -1)
			goto lost;
		type = b[0];
		id = (uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 |
		    (uint32_t)b[3] << 8 | b[4];
		for (k = 0; k < n; k++)
			if (q[k].id == id && !q[k].done)
				break;
		if (k == n || answer(&q[k], type, b + 5, len - 5) == -1) {
			why = "the SFTP server answered a request not made";
			goto lost;
		}
		free(b);
		b = NULL;
	}
	return 0;
 lost:
	free(b);
	sftpq_free(q, n);
	files_lost = 1;
	snprintf(err, ERRSZ, "SFTP: %s", sshconn_error(sftp->session, why));
	return -1;
}

/* what READs answered, freed */
void
sftpq_free(struct sftpq *q, int n)
{
	int	 i;

	for (i = 0; i < n; i++) {
		free(q[i].data);
		q[i].data = NULL;
		q[i].dlen = 0;
	}
}

/*
 * rename(2) on the host, over an existing target, in one request:
 * posix-rename@openssh.com, which libssh 0.10 does not send.  0 done; 1
 * the server has no such extension or refused (its status in
 * sftp->errnum), and the caller does without; -1 with err: the
 * connection failed or answered out of turn, and is lost.
 */
int
sftpq_rename(sftp_session sftp, const char *from, const char *to, char *err)
{
	static const char	 ext[] = "posix-rename@openssh.com";
	unsigned char		 ans[4 + 1 + 4 + 4], *req, *p;
	size_t			 flen = strlen(from), tlen = strlen(to), rlen;
	uint32_t		 id, len, left, code;
	unsigned char		 skip[256];
	const char		*why = "the connection failed";
	int			 n;

	if (!sftp_extension_supported(sftp, ext, "1"))
		return 1;
	id = ++sftp->id_counter;
	/* in one write, one packet */
	rlen = 4 + 1 + 4 + 4 + (sizeof(ext) - 1) + 4 + flen + 4 + tlen;
	if ((req = p = malloc(rlen)) == NULL)
		fatal(NULL);
	sftp_put32(&p, rlen - 4);
	*p++ = SSH_FXP_EXTENDED;
	sftp_put32(&p, id);
	sftp_put32(&p, sizeof(ext) - 1);
	memcpy(p, ext, sizeof(ext) - 1);
	p += sizeof(ext) - 1;
	sftp_put32(&p, flen);
	memcpy(p, from, flen);
	p += flen;
	sftp_put32(&p, tlen);
	memcpy(p, to, tlen);
	n = ssh_channel_write(sftp->channel, req, rlen);
	free(req);
	if (n != (int)rlen)
		goto lost;
	/* its STATUS: length, type, id, code, then a message we pass over */
	if (chan_read(sftp, ans, sizeof(ans)) == -1)
		goto lost;
	len = sftp_get32(ans);
	if (len < 1 + 4 + 4 || len > SFTPQ_ANSWER_MAX ||
	    ans[4] != SSH_FXP_STATUS || sftp_get32(ans + 5) != id) {
		why = "the SFTP server answered a request not made";
		goto lost;
	}
	code = sftp_get32(ans + 9);
	for (left = len - (1 + 4 + 4); left > 0; left -= n) {
		n = left < sizeof(skip) ? left : sizeof(skip);
		if (chan_read(sftp, skip, n) == -1)
			goto lost;
	}
	if (code == SSH_FX_OK)
		return 0;
	sftp->errnum = code;
	return 1;
 lost:
	files_lost = 1;
	snprintf(err, ERRSZ, "SFTP: %s", sshconn_error(sftp->session, why));
	return -1;
}
