/*
 * test_imsg.c: imsg framing, descriptor passing, hostile headers, a full
 * socket buffer, EOF and the libevent glue, over socketpairs.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event.h>

#include "imsg.h"
#include "tap.h"

static void	fill(uint8_t *, size_t, unsigned int);
static int	check(const uint8_t *, size_t, unsigned int);
static void	mkpair(int [2], int);
static int	xfer(struct imsgbuf *, struct imsgbuf *, struct imsg *, int);
static void	rawhdr(uint8_t *, uint32_t, uint32_t, uint32_t, uint32_t);
static int	isclosed(int);
static int	nopenfds(void);
static void	test_roundtrip(void);
static void	test_partial(void);
static void	test_tworead(void);
static void	test_fds(void);
static void	test_toomanyfds(void);
static void	test_oversize(void);
static void	test_fullbuf(void);
static void	test_unsent(void);
static void	test_flush(void);
static void	test_eof(void);
static void	test_clear(void);
static void	test_event(void);

static void
fill(uint8_t *p, size_t len, unsigned int seed)
{
	size_t	i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
}

static int
check(const uint8_t *p, size_t len, unsigned int seed)
{
	size_t	i;

	for (i = 0; i < len; i++)
		if (p[i] != (uint8_t)(seed * 131 + i * 7 + (i >> 9)))
			return 0;
	return 1;
}

static void
mkpair(int sv[2], int nonblock)
{
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1) {
		perror("socketpair");
		exit(2);
	}
	if (nonblock) {
		fcntl(sv[0], F_SETFL, O_NONBLOCK);
		fcntl(sv[1], F_SETFL, O_NONBLOCK);
	}
}

/*
 * Write what w has queued and read on r until want messages came out;
 * both sockets non-blocking.  Returns how many were taken.
 */
static int
xfer(struct imsgbuf *w, struct imsgbuf *r, struct imsg *out, int want)
{
	struct pollfd	 pfd[2];
	ssize_t		 n;
	int		 got = 0, rv;

	while (got < want) {
		if (w->queued > 0 && imsgbuf_write(w) == -1)
			return got;
		n = imsgbuf_read(r);
		if (n == 0)
			return got;
		if (n == -1 && errno != EAGAIN)
			return got;
		while (got < want && (rv = imsg_get(r, &out[got])) == 1)
			got++;
		if (got == want)
			break;
		pfd[0].fd = r->fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = w->fd;
		pfd[1].events = w->queued > 0 ? POLLOUT : 0;
		if (poll(pfd, 2, 5000) <= 0)
			return got;
	}
	return got;
}

static void
rawhdr(uint8_t *p, uint32_t type, uint32_t len, uint32_t peerid,
    uint32_t pid)
{
	struct imsg_hdr	 hdr;

	hdr.type = type;
	hdr.len = len;
	hdr.peerid = peerid;
	hdr.pid = pid;
	memcpy(p, &hdr, sizeof(hdr));
}

static int
isclosed(int fd)
{
	return fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

static int
nopenfds(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void
test_roundtrip(void)
{
	static const size_t	 sizes[] = { 0, 1, 1000, IMSG_MAXPAYLOAD };
	struct imsgbuf		 w, r;
	struct imsg		 m[4];
	uint8_t			*buf;
	size_t			 i;
	int			 sv[2], good, got;

	mkpair(sv, 1);
	imsgbuf_init(&w, sv[0]);
	imsgbuf_init(&r, sv[1]);
	if ((buf = malloc(IMSG_MAXPAYLOAD)) == NULL)
		exit(2);

	good = 1;
	for (i = 0; i < 4; i++) {
		fill(buf, sizes[i], i);
		if (imsg_compose(&w, 100 + i, 7000 + i, 42 + i, -1,
		    sizes[i] ? buf : NULL, sizes[i]) == -1)
			good = 0;
	}
	ok(good, "compose 0, 1, 1000 and %d byte payloads", IMSG_MAXPAYLOAD);
	ok(w.queued == 4 * IMSG_HDRSZ + 1001 + IMSG_MAXPAYLOAD,
	    "queued counts header and payload bytes");

	got = xfer(&w, &r, m, 4);
	ok(got == 4, "4 messages received (%d)", got);
	ok(w.queued == 0 && TAILQ_EMPTY(&w.outq), "writer queue empty");
	for (i = 0; i < (size_t)got; i++) {
		ok(m[i].hdr.type == 100 + i && m[i].hdr.peerid == 7000 + i &&
		    m[i].hdr.pid == 42 + i && m[i].hdr.len == sizes[i],
		    "message %zu header preserved", i);
		ok(m[i].datalen == sizes[i] && m[i].fd == -1,
		    "message %zu length %zu, no fd", i, sizes[i]);
		if (sizes[i] == 0)
			ok(m[i].data == NULL, "empty payload gives NULL data");
		else
			ok(m[i].data != NULL && check(m[i].data, sizes[i], i) &&
			    m[i].data[sizes[i]] == '\0',
			    "message %zu payload intact, NUL after it", i);
		imsg_free(&m[i]);
	}
	ok(imsg_get(&r, &m[0]) == 0, "nothing more buffered");

	/* composev gathers the pieces in order */
	{
		struct iovec	 iov[3];
		char		 a[] = "abc", b[] = "", c[] = "defgh";

		iov[0].iov_base = a;
		iov[0].iov_len = 3;
		iov[1].iov_base = b;
		iov[1].iov_len = 0;
		iov[2].iov_base = c;
		iov[2].iov_len = 5;
		ok(imsg_composev(&w, 9, 1, 2, -1, iov, 3) == 0, "composev");
		ok(imsg_composev(&w, 10, 1, 2, -1, NULL, 0) == 0,
		    "composev with no iovecs");
		got = xfer(&w, &r, m, 2);
		ok(got == 2 && m[0].datalen == 8 && m[0].data != NULL &&
		    strcmp((char *)m[0].data, "abcdefgh") == 0 &&
		    m[1].hdr.type == 10 && m[1].datalen == 0,
		    "composev payloads arrive joined");
		if (got == 2) {
			imsg_free(&m[0]);
			imsg_free(&m[1]);
		}
	}

	free(buf);
	imsgbuf_clear(&w);
	imsgbuf_clear(&r);
	close(sv[0]);
	close(sv[1]);
}

static void
test_partial(void)
{
	struct imsgbuf	 r;
	struct imsg	 m;
	uint8_t		 raw[IMSG_HDRSZ + 300];
	size_t		 i;
	int		 sv[2], early = 0, rv = -2;

	mkpair(sv, 1);
	imsgbuf_init(&r, sv[1]);
	rawhdr(raw, 5, 300, 77, 1234);
	fill(raw + IMSG_HDRSZ, 300, 9);

	for (i = 0; i < sizeof(raw); i++) {
		if (write(sv[0], raw + i, 1) != 1)
			break;
		if (imsgbuf_read(&r) != 1)
			break;
		rv = imsg_get(&r, &m);
		if (i + 1 < sizeof(raw) && rv != 0)
			early = 1;
	}
	ok(i == sizeof(raw), "byte by byte: every read got one byte");
	ok(!early, "imsg_get returns 0 until the message is complete");
	ok(rv == 1, "imsg_get returns 1 on the last byte");
	if (rv == 1) {
		ok(m.hdr.type == 5 && m.hdr.peerid == 77 &&
		    m.hdr.pid == 1234 && m.datalen == 300 &&
		    check(m.data, 300, 9) && m.data[300] == '\0',
		    "byte by byte: message intact");
		imsg_free(&m);
	}
	ok(r.rlen == 0, "nothing left buffered");

	imsgbuf_clear(&r);
	close(sv[0]);
	close(sv[1]);
}

static void
test_tworead(void)
{
	struct imsgbuf	 r;
	struct imsg	 m1, m2, m3;
	uint8_t		 raw[2 * IMSG_HDRSZ + 10 + 3];
	ssize_t		 n;
	int		 sv[2];

	mkpair(sv, 1);
	imsgbuf_init(&r, sv[1]);
	rawhdr(raw, 1, 10, 11, 111);
	memcpy(raw + IMSG_HDRSZ, "0123456789", 10);
	rawhdr(raw + IMSG_HDRSZ + 10, 2, 3, 22, 222);
	memcpy(raw + 2 * IMSG_HDRSZ + 10, "xyz", 3);
	if (write(sv[0], raw, sizeof(raw)) != (ssize_t)sizeof(raw))
		exit(2);

	n = imsgbuf_read(&r);
	ok(n == (ssize_t)sizeof(raw), "two messages in one read (%zd)", n);
	ok(imsg_get(&r, &m1) == 1 && m1.hdr.type == 1 &&
	    m1.datalen == 10 && memcmp(m1.data, "0123456789", 11) == 0,
	    "first message");
	ok(imsg_get(&r, &m2) == 1 && m2.hdr.type == 2 &&
	    m2.hdr.peerid == 22 && m2.datalen == 3 &&
	    strcmp((char *)m2.data, "xyz") == 0, "second message");
	ok(imsg_get(&r, &m3) == 0, "then nothing");
	imsg_free(&m1);
	imsg_free(&m2);

	/* one and a half messages, then the rest */
	if (write(sv[0], raw, IMSG_HDRSZ + 10 + 5) != IMSG_HDRSZ + 10 + 5)
		exit(2);
	imsgbuf_read(&r);
	ok(imsg_get(&r, &m1) == 1 && m1.hdr.type == 1, "whole one of 1.5");
	ok(imsg_get(&r, &m2) == 0, "half message waits");
	if (write(sv[0], raw + IMSG_HDRSZ + 15, sizeof(raw) - IMSG_HDRSZ -
	    15) != (ssize_t)sizeof(raw) - IMSG_HDRSZ - 15)
		exit(2);
	imsgbuf_read(&r);
	ok(imsg_get(&r, &m2) == 1 && m2.hdr.type == 2 &&
	    strcmp((char *)m2.data, "xyz") == 0, "rest completes it");
	imsg_free(&m1);
	imsg_free(&m2);

	imsgbuf_clear(&r);
	close(sv[0]);
	close(sv[1]);
}

static void
test_fds(void)
{
	struct imsgbuf	 w, r;
	struct imsg	 m[6];
	char		 buf[32];
	int		 sv[2], p[3][2], i, got, good, nfd;
	uint8_t		 raw[IMSG_HDRSZ];

	nfd = nopenfds();
	mkpair(sv, 1);
	imsgbuf_init(&w, sv[0]);
	imsgbuf_init(&r, sv[1]);

	/* one pipe: read through the received descriptor */
	if (pipe(p[0]) == -1)
		exit(2);
	ok(imsg_compose(&w, 1, 0, 0, p[0][0], "pipe", 4) == 0,
	    "compose with an fd");
	/* check before the receiver can be given the same number */
	ok(imsgbuf_write(&w) == 0 && w.queued == 0 && isclosed(p[0][0]),
	    "sender closed its copy once sent");
	got = xfer(&w, &r, m, 1);
	ok(got == 1 && m[0].fd != -1 && m[0].datalen == 4,
	    "message with fd received");
	if (got == 1 && m[0].fd != -1) {
		ok(fcntl(m[0].fd, F_GETFD) & FD_CLOEXEC,
		    "received fd is close-on-exec");
		if (write(p[0][1], "through", 7) != 7)
			exit(2);
		ok(read(m[0].fd, buf, sizeof(buf)) == 7 &&
		    memcmp(buf, "through", 7) == 0,
		    "read through the received fd");
		close(m[0].fd);
		imsg_free(&m[0]);
	}
	close(p[0][1]);

	/* several fds, interleaved with plain messages, keep their order */
	for (i = 0; i < 3; i++) {
		if (pipe(p[i]) == -1)
			exit(2);
		buf[0] = 'A' + i;
		if (write(p[i][1], buf, 1) != 1)
			exit(2);
		close(p[i][1]);
		imsg_compose(&w, 20 + i, i, 0, p[i][0], NULL, 0);
		imsg_compose(&w, 30 + i, i, 0, -1, "plain", 5);
	}
	got = xfer(&w, &r, m, 6);
	ok(got == 6, "six messages, three with fds");
	good = got == 6;
	for (i = 0; good && i < 3; i++) {
		if (m[2 * i].hdr.type != (uint32_t)(20 + i) ||
		    m[2 * i].fd == -1 || m[2 * i + 1].fd != -1 ||
		    m[2 * i + 1].hdr.type != (uint32_t)(30 + i))
			good = 0;
		else if (read(m[2 * i].fd, buf, 1) != 1 || buf[0] != 'A' + i)
			good = 0;
	}
	ok(good, "fds arrive in order with their messages");
	for (i = 0; i < got; i++) {
		if (m[i].fd != -1)
			close(m[i].fd);
		imsg_free(&m[i]);
	}

	/* the fd bit without a descriptor is a protocol error */
	rawhdr(raw, 3, IMSG_FDBIT, 0, 0);
	if (write(sv[0], raw, sizeof(raw)) != sizeof(raw))
		exit(2);
	imsgbuf_read(&r);
	errno = 0;
	ok(imsg_get(&r, &m[0]) == -1 && errno == EBADMSG,
	    "fd bit but no fd: imsg_get -1 EBADMSG");

	imsgbuf_clear(&w);
	imsgbuf_clear(&r);
	close(sv[0]);
	close(sv[1]);
	ok(nopenfds() == nfd, "no descriptor leaked (%d)", nfd);
}

/* A peer sending more descriptors than we hold gets them closed. */
static void
test_toomanyfds(void)
{
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int) *
				    (IMSG_MAXFDQ + 1))];
	} cmsgbuf;
	struct imsgbuf	 r, w;
	struct imsg	 m;
	struct msghdr	 msg;
	struct cmsghdr	*cmsg;
	struct iovec	 iov;
	uint8_t		 raw[IMSG_HDRSZ];
	int		 sv[2], fds[IMSG_MAXFDQ + 1], i, nfd, rv;
	ssize_t		 n;

	nfd = nopenfds();
	mkpair(sv, 1);
	imsgbuf_init(&r, sv[1]);

	/* all in one control message: truncated on our side */
	for (i = 0; i < IMSG_MAXFDQ + 1; i++)
		fds[i] = open("/dev/null", O_RDONLY);
	rawhdr(raw, 1, IMSG_FDBIT, 0, 0);
	memset(&msg, 0, sizeof(msg));
	memset(&cmsgbuf, 0, sizeof(cmsgbuf));
	iov.iov_base = raw;
	iov.iov_len = sizeof(raw);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cmsg), fds, sizeof(fds));
	if (sendmsg(sv[0], &msg, 0) == -1)
		exit(2);
	for (i = 0; i < IMSG_MAXFDQ + 1; i++)
		close(fds[i]);
	errno = 0;
	n = imsgbuf_read(&r);
	ok(n == -1 && errno == EBADMSG,
	    "%d fds in one message: read fails EBADMSG", IMSG_MAXFDQ + 1);
	imsgbuf_clear(&r);
	ok(nopenfds() == nfd + 2, "every received fd closed");

	/* one fd a message, never taken: the queue overflows */
	imsgbuf_init(&r, sv[1]);
	imsgbuf_init(&w, sv[0]);
	for (i = 0; i < IMSG_MAXFDQ + 1; i++)
		imsg_compose(&w, 2, 0, 0, open("/dev/null", O_RDONLY),
		    NULL, 0);
	if (imsgbuf_flush(&w) == -1)
		exit(2);
	rv = 0;
	for (i = 0; i < IMSG_MAXFDQ + 4; i++) {
		n = imsgbuf_read(&r);
		if (n == -1 && errno == EBADMSG) {
			rv = 1;
			break;
		}
		if (n <= 0)
			break;
	}
	ok(rv == 1 && r.nfdq == IMSG_MAXFDQ,
	    "fd queue overflow fails EBADMSG, queue holds %d", r.nfdq);
	/* the queued ones are still handed out in order */
	ok(imsg_get(&r, &m) == 1 && m.fd != -1, "queued fd still taken");
	if (m.fd != -1)
		close(m.fd);
	imsg_free(&m);
	imsgbuf_clear(&r);
	imsgbuf_clear(&w);
	close(sv[0]);
	close(sv[1]);
	ok(nopenfds() == nfd, "no descriptor leaked");
}

static void
test_oversize(void)
{
	struct imsgbuf	 w, r;
	struct imsg	 m;
	struct iovec	 iov[2];
	uint8_t		*buf, raw[IMSG_HDRSZ + 64];
	static const uint32_t bad[] = {
		IMSG_MAXPAYLOAD + 1, 0x7fffffff, 0xffffffff
	};
	size_t		 i;
	int		 sv[2];

	if ((buf = calloc(1, IMSG_MAXPAYLOAD + 1)) == NULL)
		exit(2);
	mkpair(sv, 1);
	imsgbuf_init(&w, sv[0]);

	errno = 0;
	ok(imsg_compose(&w, 1, 0, 0, -1, buf, IMSG_MAXPAYLOAD + 1) == -1 &&
	    errno == EMSGSIZE, "compose of max + 1 fails EMSGSIZE");
	iov[0].iov_base = buf;
	iov[0].iov_len = IMSG_MAXPAYLOAD;
	iov[1].iov_base = buf;
	iov[1].iov_len = 1;
	errno = 0;
	ok(imsg_composev(&w, 1, 0, 0, -1, iov, 2) == -1 && errno == EMSGSIZE,
	    "composev of max + 1 fails EMSGSIZE");
	iov[1].iov_len = SIZE_MAX;
	errno = 0;
	ok(imsg_composev(&w, 1, 0, 0, -1, iov, 2) == -1 && errno == EMSGSIZE,
	    "composev with a wrapping total fails EMSGSIZE");
	ok(w.queued == 0 && TAILQ_EMPTY(&w.outq), "nothing queued");
	imsgbuf_clear(&w);
	free(buf);
	close(sv[0]);
	close(sv[1]);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mkpair(sv, 1);
		imsgbuf_init(&r, sv[1]);
		rawhdr(raw, 1, bad[i], 0, 0);
		memset(raw + IMSG_HDRSZ, 'x', 64);
		if (write(sv[0], raw, sizeof(raw)) != sizeof(raw))
			exit(2);
		imsgbuf_read(&r);
		/* and a second read must not chase the claimed length */
		imsgbuf_read(&r);
		errno = 0;
		ok(imsg_get(&r, &m) == -1 && errno == EBADMSG,
		    "header len %#x: imsg_get -1 EBADMSG", bad[i]);
		ok(r.rsize <= IMSG_HDRSZ + IMSG_MAXPAYLOAD + 64 * 1024,
		    "header len %#x: buffer stays small (%zu)", bad[i],
		    r.rsize);
		imsgbuf_clear(&r);
		close(sv[0]);
		close(sv[1]);
	}
}

#define FULL_N		64
#define FULL_SZ		(32 * 1024)

static void
test_fullbuf(void)
{
	struct imsgbuf	 w, r;
	struct imsg	*m;
	uint8_t		*buf;
	size_t		 total;
	int		 sv[2], i, got, good;

	mkpair(sv, 1);
	imsgbuf_init(&w, sv[0]);
	imsgbuf_init(&r, sv[1]);
	if ((buf = malloc(FULL_SZ)) == NULL ||
	    (m = calloc(FULL_N, sizeof(*m))) == NULL)
		exit(2);
	for (i = 0; i < FULL_N; i++) {
		fill(buf, FULL_SZ - i, i);
		imsg_compose(&w, 500, i, 0, -1, buf, FULL_SZ - i);
	}
	total = w.queued;
	ok(total > 2 * 1000 * 1000, "queued %zu bytes", total);
	ok(imsgbuf_write(&w) == 0, "write into a full socket returns 0");
	ok(w.queued > 0 && w.queued < total && !TAILQ_EMPTY(&w.outq),
	    "part written, %zu bytes still queued", w.queued);

	got = xfer(&w, &r, m, FULL_N);
	ok(got == FULL_N, "reader drained all %d messages", got);
	ok(w.queued == 0 && TAILQ_EMPTY(&w.outq), "writer finished");
	good = got == FULL_N;
	for (i = 0; i < got; i++) {
		if (m[i].hdr.peerid != (uint32_t)i ||
		    m[i].datalen != (size_t)(FULL_SZ - i) ||
		    !check(m[i].data, m[i].datalen, i))
			good = 0;
		imsg_free(&m[i]);
	}
	ok(good, "every byte intact and in order");

	/* writing to a closed peer is an error, not a SIGPIPE */
	imsg_compose(&w, 1, 0, 0, -1, "x", 1);
	close(sv[1]);
	errno = 0;
	ok(imsgbuf_write(&w) == -1 && errno == EPIPE,
	    "write to a gone peer: -1 EPIPE");

	free(m);
	free(buf);
	imsgbuf_clear(&w);
	imsgbuf_clear(&r);
	close(sv[0]);
}

/* imsgbuf_flush waits in poll() while a slow reader catches up */
struct unsent {
	int	 first, n, good;
};

static void
unsent_cb(uint32_t type, const uint8_t *data, size_t len, void *arg)
{
	struct unsent	*u = arg;
	int		 i = u->first + u->n;

	if (u->n == 0)
		u->first = i = (FULL_SZ - (int)len);
	if (type != 500 || len != (size_t)(FULL_SZ - i) ||
	    !check(data, len, i))
		u->good = 0;
	u->n++;
}

/*
 * What a dead peer cannot have seen: the messages of which no byte was
 * written, the tail of the queue; the one begun is not among them.
 */
static void
test_unsent(void)
{
	struct imsgbuf	 w, r;
	struct imsg	 m;
	struct unsent	 u = { 0, 0, 1 };
	uint8_t		*buf;
	int		 sv[2], i, got = 0, inorder = 1;

	mkpair(sv, 1);
	imsgbuf_init(&w, sv[0]);
	imsgbuf_init(&r, sv[1]);
	if ((buf = malloc(FULL_SZ)) == NULL)
		exit(2);
	for (i = 0; i < FULL_N; i++) {
		fill(buf, FULL_SZ - i, i);
		imsg_compose(&w, 500, i, 0, -1, buf, FULL_SZ - i);
	}
	imsgbuf_unsent(&w, unsent_cb, &u);
	ok(u.n == FULL_N && u.first == 0 && u.good,
	    "nothing written: every message is unsent, intact");
	ok(imsgbuf_write(&w) == 0 && w.queued > 0, "part written");
	/* what the peer could read, without the writer going on */
	while (imsgbuf_read(&r) > 0)
		while (imsg_get(&r, &m) == 1) {
			if (m.hdr.peerid != (uint32_t)got)
				inorder = 0;
			got++;
			imsg_free(&m);
		}
	memset(&u, 0, sizeof(u));
	u.good = 1;
	imsgbuf_unsent(&w, unsent_cb, &u);
	ok(inorder && got > 0 && u.good && u.first + u.n == FULL_N &&
	    u.first >= got && u.first - got <= 1,
	    "after a partial write: the unsent are the tail (%d of %d from "
	    "%d), intact; the peer read %d whole, at most one begun between",
	    u.n, FULL_N, u.first, got);
	free(buf);
	imsgbuf_clear(&w);
	imsgbuf_clear(&r);
	close(sv[0]);
	close(sv[1]);
}

static void
test_flush(void)
{
	struct imsgbuf	 w, r;
	struct imsg	 m;
	uint8_t		*buf;
	pid_t		 pid;
	int		 sv[2], i, status, bad;
	ssize_t		 n;

	mkpair(sv, 1);
	if ((buf = malloc(FULL_SZ)) == NULL)
		exit(2);
	switch ((pid = fork())) {
	case -1:
		exit(2);
	case 0:
		close(sv[0]);
		fcntl(sv[1], F_SETFL, 0);	/* blocking reader */
		imsgbuf_init(&r, sv[1]);
		usleep(200 * 1000);
		bad = 0;
		for (i = 0; i < FULL_N; ) {
			if ((n = imsgbuf_read(&r)) <= 0)
				_exit(3);
			while (i < FULL_N && imsg_get(&r, &m) == 1) {
				if (m.hdr.peerid != (uint32_t)i ||
				    m.datalen != FULL_SZ ||
				    !check(m.data, FULL_SZ, i))
					bad = 1;
				imsg_free(&m);
				i++;
			}
		}
		imsgbuf_clear(&r);
		free(buf);
		_exit(bad);
	}
	close(sv[1]);
	imsgbuf_init(&w, sv[0]);
	for (i = 0; i < FULL_N; i++) {
		fill(buf, FULL_SZ, i);
		imsg_compose(&w, 1, i, 0, -1, buf, FULL_SZ);
	}
	ok(imsgbuf_flush(&w) == 0 && w.queued == 0,
	    "flush of 2 MB on a non-blocking socket");
	ok(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "child reader got it all intact");
	imsgbuf_clear(&w);
	close(sv[0]);
	free(buf);
}

static void
test_eof(void)
{
	struct imsgbuf	 r;
	struct imsg	 m;
	uint8_t		 raw[IMSG_HDRSZ + 2];
	int		 sv[2];

	mkpair(sv, 1);
	imsgbuf_init(&r, sv[1]);
	rawhdr(raw, 1, 2, 0, 0);
	raw[IMSG_HDRSZ] = 'h';
	raw[IMSG_HDRSZ + 1] = 'i';
	if (write(sv[0], raw, sizeof(raw)) != sizeof(raw))
		exit(2);
	close(sv[0]);
	ok(imsgbuf_read(&r) == sizeof(raw), "data before EOF");
	ok(imsgbuf_read(&r) == 0, "closed peer: imsgbuf_read returns 0");
	ok(imsg_get(&r, &m) == 1 && strcmp((char *)m.data, "hi") == 0,
	    "buffered message still taken after EOF");
	imsg_free(&m);
	errno = 0;
	ok(imsgbuf_read(&r) == 0, "EOF again");
	imsgbuf_clear(&r);
	close(sv[1]);

	/* empty socket, peer alive: EAGAIN passes through */
	mkpair(sv, 1);
	imsgbuf_init(&r, sv[1]);
	errno = 0;
	ok(imsgbuf_read(&r) == -1 && errno == EAGAIN, "no data: -1 EAGAIN");
	imsgbuf_clear(&r);
	close(sv[0]);
	close(sv[1]);
}

static void
test_clear(void)
{
	struct imsgbuf	 w, r;
	int		 sv[2], p[2], q[2], rfd, nfd;

	nfd = nopenfds();
	mkpair(sv, 1);
	imsgbuf_init(&w, sv[0]);
	imsgbuf_init(&r, sv[1]);
	if (pipe(p) == -1 || pipe(q) == -1)
		exit(2);

	/* one fd sent and waiting in the receiver's queue */
	imsg_compose(&w, 1, 0, 0, q[0], "q", 1);
	imsgbuf_write(&w);
	imsgbuf_read(&r);
	ok(r.nfdq == 1, "received fd waits in fdq");
	rfd = r.nfdq == 1 ? r.fdq[0] : -1;

	/* one fd still in the sender's queue */
	imsg_compose(&w, 1, 0, 0, p[0], NULL, 0);
	imsg_compose(&w, 1, 0, 0, p[1], "data", 4);
	ok(!isclosed(p[0]) && !isclosed(p[1]), "queued fds open before clear");
	imsgbuf_clear(&w);
	imsgbuf_clear(&r);
	ok(isclosed(p[0]) && isclosed(p[1]), "imsgbuf_clear closed queued fds");
	ok(rfd != -1 && isclosed(rfd), "imsgbuf_clear closed received fds");
	ok(w.queued == 0 && TAILQ_EMPTY(&w.outq) && r.rbuf == NULL &&
	    r.nfdq == 0, "imsgbuf_clear left both empty");
	close(q[1]);
	close(sv[0]);
	close(sv[1]);
	ok(nopenfds() == nfd, "no descriptor leaked");
}

/* libevent glue: a writer and a reader in one loop */
static struct imsgev	ev_w, ev_r;
static int		ev_got, ev_bad, ev_fdok;

#define EV_N		40

static void
ev_dispatch_w(int fd, short event, void *arg)
{
	struct imsgev	*iev = arg;

	if ((event & EV_WRITE) && imsgbuf_write(&iev->ibuf) == -1)
		ev_bad = 1;
	imsgev_add(iev);
}

static void
ev_dispatch_r(int fd, short event, void *arg)
{
	struct imsgev	*iev = arg;
	struct imsg	 m;
	ssize_t		 n;
	char		 c;
	int		 rv;

	if (event & EV_READ) {
		n = imsgbuf_read(&iev->ibuf);
		if (n == -1 && errno != EAGAIN) {
			ev_bad = 1;
			goto done;
		}
		if (n == 0)
			goto done;
	}
	while ((rv = imsg_get(&iev->ibuf, &m)) == 1) {
		if (m.hdr.type != 700 || m.hdr.peerid != (uint32_t)ev_got ||
		    m.hdr.pid != (uint32_t)getpid() ||
		    m.datalen != (size_t)ev_got * 1000 ||
		    (m.datalen && !check(m.data, m.datalen, ev_got)))
			ev_bad = 1;
		if (m.fd != -1) {
			if (read(m.fd, &c, 1) == 1 && c == 'e')
				ev_fdok = 1;
			close(m.fd);
		}
		imsg_free(&m);
		if (++ev_got == EV_N)
			goto done;
	}
	if (rv == -1) {
		ev_bad = 1;
		goto done;
	}
	imsgev_add(iev);
	return;
 done:
	/* with both events gone the loop ends */
	imsgev_clear(&ev_r);
	imsgev_clear(&ev_w);
}

static void
test_event(void)
{
	struct event_base	*base;
	uint8_t			*buf;
	int			 sv[2], p[2], i, good = 1;

	base = event_init();
	mkpair(sv, 1);
	imsgev_init(&ev_w, sv[0], "writer", ev_dispatch_w, &ev_w);
	imsgev_init(&ev_r, sv[1], "reader", ev_dispatch_r, &ev_r);
	ok(ev_w.ibuf.pid == (uint32_t)getpid() && ev_w.ibuf.fd == sv[0],
	    "imsgev_init sets fd and pid");
	imsgev_add(&ev_r);
	ok(ev_r.events == EV_READ, "idle peer waits for EV_READ only");

	if ((buf = malloc(EV_N * 1000)) == NULL || pipe(p) == -1)
		exit(2);
	if (write(p[1], "e", 1) != 1)
		exit(2);
	close(p[1]);
	for (i = 0; i < EV_N; i++) {
		fill(buf, i * 1000, i);
		if (imsgev_compose(&ev_w, 700, i, i == 7 ? p[0] : -1,
		    i ? buf : NULL, i * 1000) == -1)
			good = 0;
	}
	ok(good, "imsgev_compose %d messages", EV_N);
	ok(ev_w.wstate == IEV_WSOON,
	    "writer scheduled to write this turn while bytes are queued");

	/* one turn: the first write fills the socket; the kernel watches */
	event_loop(EVLOOP_ONCE | EVLOOP_NONBLOCK);
	ok(ev_w.wstate == IEV_WPOLL && ev_w.ibuf.queued > 0,
	    "a full socket is left to EV_WRITE from the kernel");
	event_dispatch();
	ok(ev_got == EV_N && !ev_bad, "event loop carried %d messages intact",
	    ev_got);
	ok(ev_fdok, "fd passed through the event loop");

	free(buf);
	close(sv[0]);
	close(sv[1]);
	event_base_free(base);
}

int
main(void)
{
	signal(SIGPIPE, SIG_DFL);	/* MSG_NOSIGNAL must spare us */

	test_roundtrip();
	test_partial();
	test_tworead();
	test_fds();
	test_toomanyfds();
	test_oversize();
	test_fullbuf();
	test_unsent();
	test_flush();
	test_eof();
	test_clear();
	test_event();
	printf("1..%d\n", tap_n);
	return tap_done();
}
