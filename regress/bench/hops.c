/*
 * hops: what a message's trips between processes cost on this machine,
 * the floor under bridged's own share of a call.  A Bash call goes
 * client -> frontend -> logger -> worker -> sshd -> shell -> sshd ->
 * worker -> frontend -> client: nine trips between processes (ten with
 * the watchdog's cat, which bench.sh times apart) where the raw ssh
 * shell of the bench goes client -> ssh -> sshd -> shell -> sshd ->
 * ssh -> client, six: three more, each waking a process that sleeps in
 * epoll_wait(2), as the daemon's do.
 *
 *	hops ROUNDS
 *
 * runs a message of 256 bytes round a ring of this process and 1, then
 * 4, relays over Unix stream sockets, ROUNDS times each, interleaved,
 * and prints the medians and the difference: three trips more.  Then the
 * same with every process of both rings on one CPU: a trip that never
 * has to wake another CPU.  The difference between the two lines is what
 * waking a process on the other CPU costs (on this VM most of a trip's
 * cost, whether or not that CPU was idle); the daemon's trips, as the
 * raw shell's, are free to take either.
 */

#define _GNU_SOURCE
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <err.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MSGLEN	256
#define MAXRING	8
#define NRELAY	4	/* the ring of three trips more than 1 */

static void
relay(int in, int out)
{
	struct epoll_event	 ev;
	char			 buf[MSGLEN];
	ssize_t			 n;
	int			 ep;

	if ((ep = epoll_create1(0)) == -1)
		err(1, "epoll_create1");
	ev.events = EPOLLIN;
	ev.data.fd = in;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, in, &ev) == -1)
		err(1, "epoll_ctl");
	for (;;) {
		if (epoll_wait(ep, &ev, 1, -1) == -1)
			err(1, "epoll_wait");
		if ((n = read(in, buf, sizeof(buf))) <= 0)
			_exit(0);
		if (write(out, buf, n) != n)
			_exit(1);
	}
}

/* a ring of k relays: returns the fd to write to and the fd to read */
static void
ring(int k, int *to, int *from, pid_t *pids)
{
	int	 sp[MAXRING + 1][2], i;

	for (i = 0; i <= k; i++)
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp[i]) == -1)
			err(1, "socketpair");
	/* relay i reads sp[i][1] and writes sp[i + 1][0] */
	for (i = 0; i < k; i++) {
		switch (pids[i] = fork()) {
		case -1:
			err(1, "fork");
		case 0:
			relay(sp[i][1], sp[i + 1][0]);
		}
	}
	*to = sp[0][0];
	*from = sp[k][1];
}

static double
once(int to, int from)
{
	struct timespec	 a, b;
	char		 buf[MSGLEN];
	size_t		 got = 0;
	ssize_t		 n;

	memset(buf, 'x', sizeof(buf));
	clock_gettime(CLOCK_MONOTONIC, &a);
	if (write(to, buf, sizeof(buf)) != sizeof(buf))
		err(1, "write");
	while (got < sizeof(buf)) {
		if ((n = read(from, buf, sizeof(buf) - got)) <= 0)
			err(1, "read");
		got += n;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
}

static int
cmp(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* the medians of n rounds of each ring, interleaved, into m1 and mn */
static void
measure(int n, double *t1, double *tn, int to1, int from1, int ton,
    int fromn, double *m1, double *mn)
{
	int	 i;

	for (i = 0; i < 50; i++) {
		once(to1, from1);
		once(ton, fromn);
	}
	for (i = 0; i < n; i++) {
		t1[i] = once(to1, from1);
		tn[i] = once(ton, fromn);
		usleep(200);	/* the relays sleep again, as between calls */
	}
	qsort(t1, n, sizeof(*t1), cmp);
	qsort(tn, n, sizeof(*tn), cmp);
	*m1 = t1[n / 2];
	*mn = tn[n / 2];
}

/* every process of both rings onto the CPU this one is on */
static int
onecpu(pid_t *p1, pid_t *pn)
{
	cpu_set_t	 set;
	int		 cpu, i;

	if ((cpu = sched_getcpu()) == -1)
		return -1;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) == -1 ||
	    sched_setaffinity(p1[0], sizeof(set), &set) == -1)
		return -1;
	for (i = 0; i < NRELAY; i++)
		if (sched_setaffinity(pn[i], sizeof(set), &set) == -1)
			return -1;
	return 0;
}

int
main(int argc, char *argv[])
{
	pid_t	 p1[1], pn[NRELAY];
	double	*t1, *tn, m1, mn, c1, cn;
	int	 n, i, to1, from1, ton, fromn;

	if (argc != 2 || (n = atoi(argv[1])) < 10)
		errx(1, "usage: hops ROUNDS (at least 10)");
	if ((t1 = calloc(n, sizeof(*t1))) == NULL ||
	    (tn = calloc(n, sizeof(*tn))) == NULL)
		err(1, NULL);
	ring(1, &to1, &from1, p1);
	ring(NRELAY, &ton, &fromn, pn);
	measure(n, t1, tn, to1, from1, ton, fromn, &m1, &mn);
	printf("a message round 1 relay: median %.3f ms; round %d: median "
	    "%.3f ms; %d trips between processes more: +%.3f ms (the floor "
	    "under the 0.15 ms of the goal)\n", m1, NRELAY, mn, NRELAY - 1,
	    mn - m1);
	if (onecpu(p1, pn) == -1)
		warn("sched_setaffinity");
	else {
		measure(n, t1, tn, to1, from1, ton, fromn, &c1, &cn);
		printf("  the same on one CPU: round 1 relay: median %.3f ms; "
		    "round %d: median %.3f ms; %d trips more: +%.3f ms (what "
		    "the trips cost when no other CPU has to be woken)\n",
		    c1, NRELAY, cn, NRELAY - 1, cn - c1);
	}
	fflush(stdout);
	/* each relay holds every ring's sockets: no EOF would come */
	kill(p1[0], SIGTERM);
	for (i = 0; i < NRELAY; i++)
		kill(pn[i], SIGTERM);
	for (i = 0; i < NRELAY + 1; i++)
		wait(NULL);
	return 0;
}
