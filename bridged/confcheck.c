/*
 * confcheck.c: what the parser can check on this machine beyond the
 * grammar, so that "bridged -n" fails where start-up or an agent's
 * first call would: users and groups that do not exist, keys the
 * parent could not use, known hosts without the host, a transfer root
 * that is not there.  Each check fills err with a message that says
 * what to do; parse.y puts the file and line in front of it.  It also
 * resolves the groups of relay allow rules, which only this machine
 * can.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridged.h"
#include "imsg.h"

/* as parent_connect.c reads them */
#define CHECK_IDENTITY_MAX	(64 * 1024)
#define CHECK_KNOWN_MAX		(IMSG_MAXPAYLOAD - 1024)

/* the default user (given 0) matters only to a daemon started as root */
int
confcheck_user(const char *user, int given, char *err, size_t errlen)
{
	struct passwd	*pw;

	if (!given && geteuid() != 0)
		return 0;
	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "user \"%s\" does not exist: create it "
		    "(useradd --system --no-create-home --shell "
		    "/usr/sbin/nologin %s) or name another with user", user,
		    user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, errlen, "user \"%s\" is root: the children "
		    "must not be; name an unprivileged user", user);
		return -1;
	}
	return 0;
}

int
confcheck_group(const char *group, char *err, size_t errlen)
{
	if (getgrnam(group) == NULL) {
		snprintf(err, errlen, "socket group \"%s\" does not exist: "
		    "create it (groupadd --system %s) or name another",
		    group, group);
		return -1;
	}
	return 0;
}

int
confcheck_dir(const char *what, const char *path, char *err, size_t errlen)
{
	struct stat	 st;

	if (stat(path, &st) == -1) {
		snprintf(err, errlen, "%s \"%s\": %s: create it (mkdir -p "
		    "%s)", what, path, strerror(errno), path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s \"%s\" is not a directory", what,
		    path);
		return -1;
	}
	return 0;
}

/*
 * Where the ssh worker's program is: beside this one when it is there
 * (a build tree), else in the libexec beside this one's sbin, where
 * "make install" put it: from bridged's own path, so no path is built
 * in that a PREFIX could make wrong.  Only bridged-ssh links libssh,
 * and with it libcrypto: the parent, the frontend and the logger do
 * without both, and without each process's copy of their relocated
 * data.
 */
char	 sshworker_path[PATH_MAX];

void
sshworker_find(const char *self)
{
	char	 dir[PATH_MAX], *slash;

	if (strlcpy(dir, self, sizeof(dir)) >= sizeof(dir) ||
	    (slash = strrchr(dir, '/')) == NULL)
		strlcpy(dir, ".", sizeof(dir));
	else
		*slash = '\0';
	if ((size_t)snprintf(sshworker_path, sizeof(sshworker_path), "%s/%s",
	    dir, BRIDGED_SSH_NAME) < sizeof(sshworker_path) &&
	    access(sshworker_path, X_OK) == 0)
		return;
	if ((size_t)snprintf(sshworker_path, sizeof(sshworker_path),
	    "%s/../libexec/%s", dir, BRIDGED_SSH_NAME) >=
	    sizeof(sshworker_path))
		sshworker_path[0] = '\0';	/* cannot be run: says so */
}

/*
 * Whether libssh can load a key is for libssh to say, so bridged-ssh -K
 * says it: its exit status is one of SSHKEY_*.  The parent is not
 * sandboxed and reads the key as the worker's connect would.
 */
static int	 identity_cached(const char *, const struct stat *, char *,
		    size_t);

static int
identity_load(const char *path, char *err, size_t errlen)
{
	char	*argv[] = { BRIDGED_SSH_NAME, "-K", NULL, NULL };
	pid_t	 pid;
	int	 status;

	argv[2] = (char *)(uintptr_t)path;
	if (sshworker_path[0] == '\0')
		sshworker_find("bridged");
	switch (pid = fork()) {
	case -1:
		snprintf(err, errlen, "identity \"%s\" cannot be checked: "
		    "fork: %s", path, strerror(errno));
		return -1;
	case 0:
		closefrom(STDERR_FILENO + 1);
		execv(sshworker_path, argv);
		_exit(SSHKEY_NOEXEC);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			snprintf(err, errlen, "identity \"%s\" cannot be "
			    "checked: waitpid: %s", path, strerror(errno));
			return -1;
		}
	if (WIFEXITED(status) && WEXITSTATUS(status) == SSHKEY_OK)
		return 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == SSHKEY_PASSPHRASE)
		snprintf(err, errlen, "identity \"%s\" is protected by a "
		    "passphrase, which bridged cannot give: remove it "
		    "(ssh-keygen -p -N '' -f %s)", path, path);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == SSHKEY_NOTKEY)
		snprintf(err, errlen, "identity \"%s\" is not a private key "
		    "libssh can read (an OpenSSH or PEM private key, not the "
		    ".pub)", path);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == SSHKEY_NOEXEC)
		snprintf(err, errlen, "identity \"%s\" cannot be checked: "
		    "the ssh worker's program %s cannot be run (make install "
		    "puts it there)", path, sshworker_path);
	else
		snprintf(err, errlen, "identity \"%s\" cannot be checked: "
		    "%s %s", path, sshworker_path, WIFSIGNALED(status) ?
		    strsignal(WTERMSIG(status)) : "failed");
	return -1;
}

int
confcheck_identity(const char *path, char *err, size_t errlen)
{
	struct stat	 st;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		if (errno == ENOENT)
			snprintf(err, errlen, "identity \"%s\" does not exist:"
			    " make a key without a passphrase (ssh-keygen -t "
			    "ed25519 -N '' -f %s) and add its .pub to the "
			    "remote authorized_keys", path, path);
		else
			snprintf(err, errlen, "identity \"%s\" cannot be read:"
			    " %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "identity \"%s\" is not a regular file",
		    path);
		close(fd);
		return -1;
	}
	close(fd);
	if ((st.st_mode & 077) != 0) {
		snprintf(err, errlen, "identity \"%s\" is accessible by others"
		    " (mode %03o): chmod 600 %s", path,
		    (unsigned int)(st.st_mode & 0777), path);
		return -1;
	}
	if (st.st_size == 0 || st.st_size > CHECK_IDENTITY_MAX) {
		snprintf(err, errlen, "identity \"%s\" is %s: it must be a "
		    "private key", path, st.st_size == 0 ? "empty" :
		    "too large");
		return -1;
	}
	return identity_cached(path, &st, err, errlen);
}

/*
 * The hosts of a config often share one key: a file libssh loaded is
 * not asked about again while it is the same file, unchanged (each ask
 * is an exec of bridged-ssh, some milliseconds a host at every parse).
 */
#define IDCACHE_N	8
static struct idcache {
	char		 path[PATH_MAX];
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtim, ctim;
} idcache[IDCACHE_N];
static int	 idcache_next;

static int
identity_cached(const char *path, const struct stat *st, char *err,
    size_t errlen)
{
	struct idcache	*c;
	int		 i;

	for (i = 0; i < IDCACHE_N; i++) {
		c = &idcache[i];
		if (strcmp(c->path, path) == 0 && c->dev == st->st_dev &&
		    c->ino == st->st_ino && c->size == st->st_size &&
		    c->mtim.tv_sec == st->st_mtim.tv_sec &&
		    c->mtim.tv_nsec == st->st_mtim.tv_nsec &&
		    c->ctim.tv_sec == st->st_ctim.tv_sec &&
		    c->ctim.tv_nsec == st->st_ctim.tv_nsec)
			return 0;
	}
	if (identity_load(path, err, errlen) == -1)
		return -1;
	if (strlen(path) < sizeof(c->path)) {
		c = &idcache[idcache_next];
		idcache_next = (idcache_next + 1) % IDCACHE_N;
		strlcpy(c->path, path, sizeof(c->path));
		c->dev = st->st_dev;
		c->ino = st->st_ino;
		c->size = st->st_size;
		c->mtim = st->st_mtim;
		c->ctim = st->st_ctim;
	}
	return 0;
}

/*
 * The host's name in known hosts, as the ssh worker looks it up
 * (ssh_conn.c): "address", or "[address]:port" off port 22.  A pinned
 * host key makes the file unused.
 */
int
confcheck_known(const struct host *h, char *err, size_t errlen)
{
	struct stat	 st;
	FILE		*fp;
	char		 name[HOST_ADDR_LEN + 16], port[16];
	char		*line = NULL, *p, *pat, *type;
	size_t		 size = 0;
	unsigned int	 pnum = h->port ? h->port : CONF_SSH_PORT;
	int		 found = 0, hashed = 0;

	if (h->host_key[0] != '\0')
		return 0;
	if (pnum == CONF_SSH_PORT)
		strlcpy(name, h->address, sizeof(name));
	else
		snprintf(name, sizeof(name), "[%s]:%u", h->address, pnum);
	for (p = name; *p != '\0'; p++)
		*p = tolower((unsigned char)*p);
	snprintf(port, sizeof(port), "-p %u ", pnum);

	if ((fp = fopen(h->known_hosts, "re")) == NULL) {
		snprintf(err, errlen, "known hosts \"%s\": %s: make it "
		    "(ssh-keyscan %s%s > %s, and check the key's fingerprint)",
		    h->known_hosts, strerror(errno),
		    pnum == CONF_SSH_PORT ? "" : port, h->address,
		    h->known_hosts);
		return -1;
	}
	if (fstat(fileno(fp), &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > CHECK_KNOWN_MAX) {
		snprintf(err, errlen, "known hosts \"%s\" is not a regular "
		    "file of at most %d bytes", h->known_hosts,
		    CHECK_KNOWN_MAX);
		fclose(fp);
		return -1;
	}
	while (!found && getline(&line, &size, fp) != -1) {
		line[strcspn(line, "\r\n")] = '\0';
		p = line + strspn(line, " \t");
		if (*p == '#' || *p == '@' || *p == '\0')
			continue;
		pat = p;
		p += strcspn(p, " \t");
		if (*p == '\0')
			continue;
		*p++ = '\0';
		p += strspn(p, " \t");
		type = p;
		if (*type == '\0')
			continue;
		if (strncmp(pat, "|1|", 3) == 0) {
			hashed++;
			continue;
		}
		if (hostpattern_match(pat, name) == 1)
			found = 1;
	}
	free(line);
	fclose(fp);
	if (found)
		return 0;
	snprintf(err, errlen, "known hosts \"%s\" has no key for %s: add it "
	    "(ssh-keyscan %s%s >> %s, and check the key's fingerprint) or "
	    "pin it with host key%s", h->known_hosts, name,
	    pnum == CONF_SSH_PORT ? "" : port, h->address, h->known_hosts,
	    hashed ? " (hashed entries are not read: run ssh-keyscan "
	    "without -H)" : "");
	return -1;
}

static int
uid_cmp(const void *a, const void *b)
{
	uint32_t	 x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* one uid into the rule, once; -1 when it is full */
static int
group_add_uid(struct relay_rule *r, uid_t uid)
{
	uint32_t	 i;

	for (i = 0; i < r->nuids; i++)
		if (r->uids[i] == (uint32_t)uid)
			return 0;
	if (r->nuids >= RELAY_GROUP_MAX)
		return -1;
	r->uids[r->nuids++] = (uint32_t)uid;
	return 0;
}

/*
 * relay allow "PATTERN" for group "NAME": the uids of the group's members
 * now, those it lists and those whose primary group it is.  The children
 * that decide have no NSS, so the parent does this when it parses (start,
 * -n, each reload) and the uids cross with the rule.  A listed name
 * without a passwd entry is left out: no socket peer can have its uid.
 */
int
confcheck_relay_group(struct relay_rule *r, char *err, size_t errlen)
{
	struct group	*gr;
	struct passwd	*pw;
	gid_t		 gid;
	char		**mem;
	int		 full = 0;

	r->nuids = 0;
	errno = 0;
	if ((gr = getgrnam(r->group)) == NULL) {
		snprintf(err, errlen, "relay allow: group \"%s\" does not "
		    "exist: create it (groupadd %s) or name another",
		    r->group, r->group);
		return -1;
	}
	gid = gr->gr_gid;
	for (mem = gr->gr_mem; mem != NULL && *mem != NULL && !full; mem++)
		if ((pw = getpwnam(*mem)) != NULL &&
		    group_add_uid(r, pw->pw_uid) == -1)
			full = 1;
	setpwent();
	while (!full && (pw = getpwent()) != NULL)
		if (pw->pw_gid == gid && group_add_uid(r, pw->pw_uid) == -1)
			full = 1;
	endpwent();
	if (full) {
		snprintf(err, errlen, "relay allow: group \"%s\" has more "
		    "than %d members (listed or with it as primary group): "
		    "name a smaller group", r->group, RELAY_GROUP_MAX);
		r->nuids = 0;
		return -1;
	}
	qsort(r->uids, r->nuids, sizeof(r->uids[0]), uid_cmp);
	return 0;
}
