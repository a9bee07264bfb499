/*
 * parent_transfer.c: the parent's half of Upload and Download.
 *
 * The ssh worker may not open files.  It names a file relative to
 * `transfer root' and the parent opens it here and passes the descriptor
 * back.  The name comes from a sandboxed process that relays what an
 * agent asked for, so it is walked one component at a time from a
 * descriptor of the root, never following a symbolic link, never going
 * up, and only regular files with a single name are handed out: a hard
 * link is the same file as one outside the root.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridged.h"
#include "imsg.h"
#include "log.h"
#include "proc.h"

static int	 transfer_open(struct bridged_conf *, struct ssh_openlocal *,
		    const char *, char *, size_t);
static int	 transfer_fail(char *, size_t, int, const char *, ...)
		    __attribute__((__format__ (printf, 4, 5)));
static const char *transfer_relpath(const char *, const char *);

void
parent_transfer_open(struct imsgev *iev, struct bridged_conf *conf,
    struct imsg *imsg)
{
	struct ssh_openlocal	 req;
	struct ssh_localfd	 rep;
	char			*path = NULL;
	size_t			 len;
	int			 fd;

	memset(&rep, 0, sizeof(rep));
	if (imsg->datalen < sizeof(req)) {
		log_warnx("short IMSG_SSH_OPENLOCAL from ssh worker");
		return;
	}
	memcpy(&req, imsg->data, sizeof(req));
	rep.reqid = req.reqid;
	len = imsg->datalen - sizeof(req);
	if (len == 0 || len >= PATH_MAX ||
	    memchr(imsg->data + sizeof(req), '\0', len) != NULL) {
		rep.error = EINVAL;
		strlcpy(rep.errmsg, "local_path: empty, too long or "
		    "contains a NUL byte", sizeof(rep.errmsg));
	} else if ((path = strndup((char *)imsg->data + sizeof(req),
	    len)) == NULL) {
		rep.error = ENOMEM;
		strlcpy(rep.errmsg, "out of memory", sizeof(rep.errmsg));
	}
	fd = -1;
	if (rep.error == 0) {
		fd = transfer_open(conf, &req, path, rep.errmsg,
		    sizeof(rep.errmsg));
		if (fd == -1)
			rep.error = errno ? errno : EINVAL;
	}
	if (fd != -1)
		log_info("transfer: %s %s/%s for the ssh worker",
		    req.write ? "writing" : "reading", conf->transfer_root,
		    transfer_relpath(conf->transfer_root, path));
	else
		log_info("transfer: refused %s: %s", path ? path : "(bad)",
		    rep.errmsg);
	free(path);
	if (imsgev_compose(iev, IMSG_SSH_LOCALFD, 0, fd, &rep,
	    sizeof(rep)) == -1) {
		if (fd != -1)
			close(fd);
		log_warn("transfer: reply to ssh worker");
	}
}

static int
transfer_fail(char *msg, size_t msgsize, int error, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, msgsize, fmt, ap);
	va_end(ap);
	errno = error;
	return -1;
}

/* an absolute path inside the root, made relative; else as it is */
static const char *
transfer_relpath(const char *root, const char *path)
{
	size_t	 n = strlen(root);

	if (path == NULL)
		return "";
	while (n > 1 && root[n - 1] == '/')
		n--;
	if (path[0] == '/' && strncmp(path, root, n) == 0 &&
	    (path[n] == '/' || path[n] == '\0'))
		return path + n;
	return path;
}

/*
 * Open path under the transfer root for reading or writing.  Returns the
 * descriptor, or -1 with errno set and a message for the agent in msg.
 */
static int
transfer_open(struct bridged_conf *conf, struct ssh_openlocal *req,
    const char *path, char *msg, size_t msgsize)
{
	struct stat	 st;
	const char	*rel, *p, *slash;
	char		 comp[NAME_MAX + 1];
	size_t		 n;
	int		 dfd, nfd, fd, flags, saved;
	mode_t		 mode;

	if (conf->transfer_root[0] == '\0')
		return transfer_fail(msg, msgsize, EPERM, "Upload/Download "
		    "need `transfer root' in bridged.conf");
	rel = transfer_relpath(conf->transfer_root, path);
	if (rel[0] == '/' && rel == path)
		return transfer_fail(msg, msgsize, EPERM, "local_path %s is "
		    "outside the transfer root %s; give a path relative to "
		    "it", path, conf->transfer_root);

	/* refuse ".." anywhere, before touching anything */
	for (p = rel; *p != '\0'; p = slash ? slash + 1 : p + strlen(p)) {
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return transfer_fail(msg, msgsize, EPERM, "local_path "
			    "%s: \"..\" is not allowed (the local side is "
			    "confined to the transfer root)", path);
		if (slash == NULL)
			break;
	}

	if ((dfd = open(conf->transfer_root, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return transfer_fail(msg, msgsize, errno, "transfer root %s: "
		    "%s", conf->transfer_root, strerror(errno));

	/* every directory on the way, then the last component */
	for (p = rel;;) {
		while (*p == '/')
			p++;
		if (*p == '\0') {
			close(dfd);
			return transfer_fail(msg, msgsize, EISDIR,
			    "local_path %s names a directory, not a file",
			    path);
		}
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		if (n > NAME_MAX) {
			close(dfd);
			return transfer_fail(msg, msgsize, ENAMETOOLONG,
			    "local_path %s: a component is too long", path);
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		p += n;
		if (strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0) {
			close(dfd);
			return transfer_fail(msg, msgsize, EPERM, "local_path "
			    "%s: \"..\" is not allowed (the local side is "
			    "confined to the transfer root)", path);
		}
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		nfd = openat(dfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		saved = errno;
		close(dfd);
		if (nfd == -1)
			return transfer_fail(msg, msgsize, saved,
			    "local_path %s: directory %s: %s%s", path, comp,
			    strerror(saved), saved == ELOOP || saved ==
			    ENOTDIR ? " (symbolic links are not followed)" :
			    "");
		dfd = nfd;
	}

	/* O_NONBLOCK: opening a FIFO must not hang the parent */
	flags = O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
	if (req->write) {
		flags |= O_WRONLY | O_CREAT;
		if (!req->overwrite)
			flags |= O_EXCL;
		mode = req->mode & 0777;
		if (mode == 0)
			mode = 0644;
	} else {
		flags |= O_RDONLY;
		mode = 0;
	}
	fd = openat(dfd, comp, flags, mode);
	saved = errno;
	close(dfd);
	if (fd == -1) {
		if (saved == EEXIST)
			return transfer_fail(msg, msgsize, saved, "local_path "
			    "%s exists; set overwrite to replace it", path);
		if (saved == ELOOP)
			return transfer_fail(msg, msgsize, saved, "local_path "
			    "%s is a symbolic link (not followed)", path);
		return transfer_fail(msg, msgsize, saved, "local_path %s: %s",
		    path, strerror(saved));
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return transfer_fail(msg, msgsize, EINVAL, "local_path %s is "
		    "not a regular file", path);
	}
	/*
	 * Another name of this file may be anywhere on the filesystem
	 * (ln /etc/shadow troot/x): reading or overwriting it through
	 * the root would reach that file.  Checked before the truncate.
	 */
	if (st.st_nlink != 1) {
		close(fd);
		return transfer_fail(msg, msgsize, EPERM, "local_path %s has "
		    "%ju hard links; only a file with a single name is "
		    "transferred (another name may be outside the transfer "
		    "root)", path, (uintmax_t)st.st_nlink);
	}
	/* truncate only once we know it is a regular file */
	if (req->write && req->overwrite && ftruncate(fd, 0) == -1) {
		saved = errno;
		close(fd);
		return transfer_fail(msg, msgsize, saved, "local_path %s: "
		    "truncate: %s", path, strerror(saved));
	}
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == -1) {
		saved = errno;
		close(fd);
		return transfer_fail(msg, msgsize, saved, "local_path %s: %s",
		    path, strerror(saved));
	}
	return fd;
}
