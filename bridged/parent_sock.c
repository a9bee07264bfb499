/*
 * parent_sock.c: the parent's directories and UNIX sockets, made before
 * any child starts: the run and log directories with their owners and
 * modes, the checks on the directories above a socket, and the binding
 * of the MCP and control sockets.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridged.h"
#include "log.h"
#include "proc.h"

void
make_dir(const char *path, uid_t uid, gid_t gid, mode_t mode)
{
	struct stat	 st;
	char		 tmp[PATH_MAX];
	char		*p;

	if (strlcpy(tmp, path, sizeof(tmp)) >= sizeof(tmp))
		fatalx("path too long: %s", path);
	/* parents as root-owned 0755, only the leaf gets the owner */
	for (p = tmp + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(tmp, 0755) == -1 && errno != EEXIST)
			fatal("mkdir %s", tmp);
		*p = '/';
	}
	if (mkdir(tmp, mode) == -1 && errno != EEXIST)
		fatal("mkdir %s", tmp);
	if (stat(tmp, &st) == -1)
		fatal("stat %s", tmp);
	if (!S_ISDIR(st.st_mode))
		fatalx("%s: not a directory", tmp);
	if (uid != (uid_t)-1 && (st.st_uid != uid || st.st_gid != gid) &&
	    chown(tmp, uid, gid) == -1)
		fatal("chown %s", tmp);
}

/*
 * A socket's directory, and each one above it, may be written by root
 * and by us only; above the socket's own directory a sticky one (/tmp)
 * will do.  Anybody else could put a symbolic link where the socket is
 * to be, or swap the directory under us, and see what we do to the
 * socket's name -- mode, group -- done to another file.
 */
void
sockdir_check(const char *sock, const char *dir)
{
	struct stat	 st;
	char		 path[PATH_MAX], *p;
	int		 own = 1;

	if (strlcpy(path, dir, sizeof(path)) >= sizeof(path))
		fatalx("path too long: %s", dir);
	for (;;) {
		if (stat(path, &st) == -1)
			fatal("socket %s: %s", sock, path);
		if (!S_ISDIR(st.st_mode))
			fatalx("socket %s: %s is not a directory", sock, path);
		if (st.st_uid != 0 && st.st_uid != geteuid())
			fatalx("socket %s: directory %s belongs to uid %u, "
			    "neither root nor us: refusing to make a socket "
			    "in it", sock, path, (unsigned int)st.st_uid);
		if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
		    (own || (st.st_mode & S_ISVTX) == 0))
			fatalx("socket %s: directory %s is writable by %s "
			    "(mode %04o): refusing to make a socket in it, as "
			    "another user could replace it; give the socket "
			    "a directory only root or the bridged user can "
			    "write", sock, path, st.st_mode & S_IWOTH ?
			    "others" : "its group", st.st_mode & 07777);
		if (strcmp(path, "/") == 0)
			break;
		if ((p = strrchr(path, '/')) == NULL)
			break;
		if (p == path)
			p[1] = '\0';
		else
			*p = '\0';
		own = 0;
	}
}

/*
 * Bind a UNIX socket.  A file left by a dead daemon is replaced; a live
 * daemon answering on it is a reason to refuse to start.
 */
int
bind_unix(const char *path, mode_t mode, gid_t gid)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	mode_t			 old;
	int			 fd, probe, pfd;
	char			*copy, *dir, real[PATH_MAX], proc[64];

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		fatalx("socket path too long: %s", path);

	if ((copy = strdup(path)) == NULL)
		fatal(NULL);
	dir = dirname(copy);
	make_dir(dir, (uid_t)-1, (gid_t)-1, 0755);
	/* the path as written, and where its symbolic links lead */
	sockdir_check(path, dir);
	if (realpath(dir, real) == NULL)
		fatal("socket %s: %s", path, dir);
	if (strcmp(real, dir) != 0)
		sockdir_check(path, real);
	free(copy);

	if ((probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fatal("socket");
	if (connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		fatalx("%s: another bridged is running on it", path);
	close(probe);
	if (unlink(path) == -1 && errno != ENOENT)
		fatal("unlink %s", path);

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		fatal("socket");
	/* no window in which the socket has looser permissions */
	old = umask(0777 & ~mode);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fatal("bind %s", path);
	umask(old);

	/*
	 * Mode and group are set through a descriptor of the name, opened
	 * without following a link and checked to be a socket of ours;
	 * chmod(2) and chown(2) on the path would follow one.  Linux has no
	 * fchmod for an O_PATH descriptor, its /proc/self/fd link does it.
	 */
	if ((pfd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC)) == -1)
		fatal("%s", path);
	if (fstat(pfd, &st) == -1)
		fatal("fstat %s", path);
	if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid())
		fatalx("%s: not the socket just bound (replaced?)", path);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	if (chmod(proc, mode) == -1) {
		/* without /proc the umask has to have done it */
		if (errno != ENOENT || (st.st_mode & 07777) != mode)
			fatal("chmod %s", path);
	}
	if (gid != (gid_t)-1 && fchownat(pfd, "", (uid_t)-1, gid,
	    AT_EMPTY_PATH) == -1)
		fatal("chown %s", path);
	close(pfd);
	/*
	 * The kernel's most (net.core.somaxconn): MCP clients that start
	 * together connect together, and a client that connects while the
	 * backlog is full gets EAGAIN, where it should get a session or,
	 * past the sessions limit, an answer that says why not.
	 */
	if (listen(fd, SOMAXCONN) == -1)
		fatal("listen %s", path);
	return fd;
}
