/*
 * bridgectl: control bridged over its control socket, and relay an MCP
 * client's stdio to bridged's MCP socket.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "bridged.h"
#include "ctlsock.h"
#include "imsg.h"
#include "log.h"
#include "logview.h"
#include "output.h"
#include "parser.h"

/* a daemon that does not answer must not hang us forever */
#define CTL_TIMEOUT	30		/* seconds */
#define RELAY_BUFSZ	(64 * 1024)
#define RELAY_LINE_MAX	4096	/* a closing error is shorter than this */

enum cmd_kind {
	CMD_SHOW,	/* IMSG_CTL_DATA records, then IMSG_CTL_END */
	CMD_SIMPLE,	/* IMSG_CTL_OK or IMSG_CTL_ERROR */
};

/* what each action asks of the daemon and how the answer is shown */
struct command {
	enum actions		 action;
	uint32_t		 type;
	enum cmd_kind		 kind;
	enum output_view	 view;
};

static const struct command commands[] = {
	{ SHOW_SESSIONS, IMSG_CTL_SHOW_SESSIONS, CMD_SHOW,  VIEW_SESSIONS },
	{ SHOW_HOSTS,	 IMSG_CTL_SHOW_HOSTS,	 CMD_SHOW,  VIEW_HOSTS },
	{ SHOW_LISTENERS, IMSG_CTL_SHOW_LISTENERS, CMD_SHOW, VIEW_LISTENERS },
	{ RELOAD,	 IMSG_CTL_RELOAD,	 CMD_SIMPLE, 0 },
	{ LOG_VERBOSE,	 IMSG_CTL_LOG_VERBOSE,	 CMD_SIMPLE, 0 },
	{ LOG_BRIEF,	 IMSG_CTL_LOG_BRIEF,	 CMD_SIMPLE, 0 },
	{ SHOW_DELEGATIONS, IMSG_CTL_SHOW_DELEGATIONS, CMD_SHOW,
	    VIEW_DELEGATIONS },
	{ SHOW_JOBS,	 IMSG_CTL_SHOW_JOBS,	 CMD_SHOW,  VIEW_JOBS },
	{ KILL_DELEGATION, IMSG_CTL_KILL_DELEGATION, CMD_SIMPLE, 0 },
	{ SHOW_FORWARDS, IMSG_CTL_SHOW_FORWARDS, CMD_SHOW,  VIEW_FORWARDS },
	{ CLOSE_FORWARD, IMSG_CTL_CLOSE_FORWARD, CMD_SIMPLE, 0 },
	{ LOG_ROTATE,	 IMSG_CTL_LOG_ROTATE,	 CMD_SIMPLE, 0 },
	{ KILL_SESSION,	 IMSG_CTL_KILL_SESSION,	 CMD_SIMPLE, 0 },
	{ SHOW_CHANNELS, IMSG_CTL_SHOW_CHANNELS, CMD_SHOW,  VIEW_CHANNELS },
	{ SHOW_CHANNEL,	 IMSG_CTL_SHOW_CHANNELS, CMD_SHOW,  VIEW_MESSAGES },
	{ CLEAR_CHANNEL, IMSG_CTL_CLEAR_CHANNEL, CMD_SIMPLE, 0 },
};

struct relaybuf {
	char	 data[RELAY_BUFSZ];
	size_t	 off;
	size_t	 len;
};

__attribute__((__noreturn__)) static void usage(void);
static void	 help(FILE *);
static int	 ctl_run(const char *, const struct command *, int,
		    const void *, size_t);
static int	 ctl_showq(struct parse_result *, struct ctl_showq *);
static int	 ctl_follow_channel(const char *, const char *, int);
static int	 relay(const char *);
static void	 relay_restore(void);
static void	 relay_nonblock(int, int);
static ssize_t	 rb_read(int, struct relaybuf *);
static ssize_t	 rb_write(int, struct relaybuf *, int);
static void	 line_track(const char *, size_t);
static int	 line_closing_error(char *, size_t);

static int	 saved_flags[2] = { -1, -1 };

/* the last line the daemon sent (its start), to find a closing error */
static struct {
	char	 cur[RELAY_LINE_MAX];	/* the line arriving */
	size_t	 curlen;
	int	 curover;		/* longer than cur */
	char	 last[RELAY_LINE_MAX];	/* the last whole line */
	size_t	 lastlen;		/* 0: none, or it was too long */
} dline;

static void
help(FILE *fp)
{
	fprintf(fp, "usage: bridgectl [-hjlV] [-s socket] command "
	    "[argument ...]\n");
}

static void
usage(void)
{
	help(stderr);
	exit(1);
}

int
main(int argc, char *argv[])
{
	struct parse_result	*res;
	struct ctl_showq	 showq;
	const char		*sockpath = BRIDGED_CTLSOCK;
	size_t			 i;
	int			 ch, json = 0;

	/* imsg.c and log.c speak through log.c: say who we are */
	log_init(1, LOG_USER);
	log_procinit("bridgectl");

	/* our own messages: getopt's would name argv[0], a full path */
	opterr = 0;
	while ((ch = getopt(argc, argv, "+:hjls:V")) != -1) {
		switch (ch) {
		case 'h':
			/* asked for: stdout, the commands too, no error */
			help(stdout);
			printf("commands (see bridgectl(8)):\n"
			    "  show sessions|delegations [all] [since T]\n"
			    "  show hosts|jobs|forwards|channels\n"
			    "  show channel NAME [-f]\n"
			    "  clear channel NAME\n"
			    "  show log [-f] [-n count]\n"
			    "  show audit [since T] [host H] [tool T] "
			    "[session ID] [outcome O] [-n count]\n"
			    "  kill session|delegation ID\n"
			    "  close forward ID\n"
			    "  log verbose|brief|rotate\n"
			    "  reload\n"
			    "  verify [database PATH] [SEQ:HASH]\n"
			    "  mcp [socket]\n"
			    "every command takes -j (JSON) at its end too\n");
			exit(0);
		case 'j':
			json = 1;
			break;
		case 'l':
			output_local = 1;
			break;
		case 'V':
			printf("bridgectl %s\n", BRIDGED_VERSION);
			exit(0);
		case 's':
			sockpath = optarg;
			break;
		case ':':
			warnx("option -%c needs an argument", optopt);
			usage();
		default:
			warnx("unknown option -%c", optopt);
			usage();
		}
	}
	argc -= optind;
	argv += optind;

	if ((res = parse(argc, argv)) == NULL)
		usage();

	if (res->action == MCP)
		return relay(res->path != NULL ? res->path : BRIDGED_SOCKET);

	json |= res->json;
	/* a database file is read here, without the daemon */
	if (res->action == VERIFY && res->dbpath != NULL)
		return logview_verify_db(res->dbpath, res->head, json);
	/* the audit commands stream their records (logview.c) */
	if (res->action == SHOW_LOG || res->action == SHOW_AUDIT ||
	    res->action == VERIFY)
		return logview_run(sockpath, res, json);

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (commands[i].action != res->action)
			continue;
		/* show channel NAME -f: its messages as they come */
		if (res->action == SHOW_CHANNEL && res->follow)
			return ctl_follow_channel(sockpath, res->channel, json);
		/* show/clear channel NAME: the name */
		if (res->channel != NULL)
			return ctl_run(sockpath, &commands[i], json,
			    res->channel, strlen(res->channel));
		/* a command naming an object (kill delegation ID): its id */
		if (res->id != 0)
			return ctl_run(sockpath, &commands[i], json, &res->id,
			    sizeof(res->id));
		if (ctl_showq(res, &showq))
			return ctl_run(sockpath, &commands[i], json, &showq,
			    sizeof(showq));
		return ctl_run(sockpath, &commands[i], json, NULL, 0);
	}
	errx(1, "internal error: no handler for action %d", res->action);
}

/* show sessions/delegations all [since T]: 1 with the request made */
static int
ctl_showq(struct parse_result *res, struct ctl_showq *q)
{
	time_t	 since;

	if (!res->all && res->since == NULL)
		return 0;
	memset(q, 0, sizeof(*q));
	q->all = 1;
	if (res->since != NULL) {
		if (logview_since(res->since, time(NULL), &since) == -1)
			errx(1, "since %s: give a date (2024-05-06 or "
			    "2024-05-06T07:08), an age (30m, 2h, 7d) or a "
			    "unix time", res->since);
		q->since = since > 0 ? since : 1;
	}
	return 1;
}

/* Ask, then show the answer.  Returns the exit status. */
static int
ctl_run(const char *sockpath, const struct command *cmd, int json,
    const void *data, size_t len)
{
	struct imsgbuf	 ibuf;
	struct imsg	 imsg;
	struct output	*out = NULL;
	size_t		 nrecords = 0;
	int		 fd, done = 0, status = 0;

	fd = ctl_request(sockpath, &ibuf, cmd->type, data, len);

	if (cmd->kind == CMD_SHOW)
		out = output_new(cmd->view == VIEW_SESSIONS && len > 0 ?
		    VIEW_SESSIONS_ALL : cmd->view, json);

	while (!done) {
		if (ctl_next(&ibuf, &imsg, CTL_TIMEOUT) == 0)
			errx(1, "bridged closed the connection before "
			    "answering");
		switch (imsg.hdr.type) {
		case IMSG_CTL_DATA:
			if (cmd->kind != CMD_SHOW)
				errx(1, "unexpected data from bridged");
			if (output_record(out, imsg.data, imsg.datalen) == -1)
				status = 1;
			else
				nrecords++;
			break;
		case IMSG_CTL_END:
			if (cmd->kind != CMD_SHOW)
				errx(1, "unexpected end of data from bridged");
			if (imsg.datalen != 0)
				errx(1, "bad end of data from bridged");
			done = 1;
			break;
		case IMSG_CTL_OK:
			if (cmd->kind != CMD_SIMPLE)
				errx(1, "unexpected reply from bridged");
			ctl_answer(json, 1, "request processed", &imsg);
			done = 1;
			break;
		case IMSG_CTL_ERROR:
			/* a show may fail part way: keep what came */
			if (out != NULL && nrecords > 0)
				output_end(out);
			ctl_answer(json && cmd->kind == CMD_SIMPLE, 0,
			    "request failed", &imsg);
			status = 1;
			done = 1;
			output_free(out);
			out = NULL;
			break;
		default:
			errx(1, "unexpected message type %u from bridged",
			    imsg.hdr.type);
		}
		imsg_free(&imsg);
	}
	if (out != NULL) {
		output_end(out);
		output_free(out);
	}
	imsgbuf_clear(&ibuf);
	close(fd);
	if (fflush(stdout) == EOF || ferror(stdout))
		err(1, "stdout");
	return status;
}

/*
 * show channel NAME -f: the latest messages, then each one sent, a line
 * each (JSON with -j), until bridged stops or we are interrupted.
 * Content comes from agents: what reaches the terminal is sanitized.
 */
static int
ctl_follow_channel(const char *sockpath, const char *name, int json)
{
	struct imsgbuf	 ibuf;
	struct imsg	 imsg;
	json_t		*o;
	json_error_t	 jerr;
	char		*line, *who, *what, *when;
	const char	*s;
	int		 fd;

	fd = ctl_request(sockpath, &ibuf, IMSG_CTL_FOLLOW_CHANNEL, name,
	    strlen(name));
	for (;;) {
		if (ctl_next(&ibuf, &imsg, -1) == 0)
			errx(1, "bridged closed the connection");
		switch (imsg.hdr.type) {
		case IMSG_CTL_DATA:
			o = json_loadb((const char *)imsg.data, imsg.datalen, 0,
			    &jerr);
			if (!json_is_object(o))
				errx(1, "bad message record from bridged");
			if (json) {
				if ((line = json_dumps(o, JSON_COMPACT)) ==
				    NULL)
					errx(1, "cannot encode a record");
				puts(line);
				free(line);
			} else {
				s = json_string_value(json_object_get(o,
				    "time"));
				when = output_sanitize(s ? s : "-",
				    strlen(s ? s : "-"), 24, NULL);
				s = json_string_value(json_object_get(o,
				    "sender"));
				who = output_sanitize(s ? s : "-",
				    strlen(s ? s : "-"), 48, NULL);
				s = json_string_value(json_object_get(o,
				    "content"));
				what = output_sanitize(s ? s : "",
				    strlen(s ? s : ""), 0, NULL);
				printf("%lld %s %s: %s\n", (long long)
				    json_integer_value(json_object_get(o,
				    "id")), when, who, what);
				free(when);
				free(who);
				free(what);
			}
			json_decref(o);
			if (fflush(stdout) == EOF)
				err(1, "stdout");
			break;
		case IMSG_CTL_END:
			imsg_free(&imsg);
			imsgbuf_clear(&ibuf);
			close(fd);
			return 0;
		case IMSG_CTL_ERROR:
			ctl_answer(0, 0, "request failed", &imsg);
			return 1;
		default:
			errx(1, "unexpected message type %u from bridged",
			    imsg.hdr.type);
		}
		imsg_free(&imsg);
	}
}

/*
 * bridgectl mcp: copy stdin to the MCP socket and the socket to stdout,
 * whatever the bytes are.  Each direction has one bounded buffer; we
 * read a side only while its buffer has room, so a slow reader slows
 * the writer instead of growing memory.  EOF on stdin becomes a
 * half-close, so the daemon can still answer; the socket's EOF ends us
 * once stdout has everything.
 *
 * Whatever ends the relay badly is said on stderr in one line and the
 * exit status is 1: an MCP client shows a server's stderr when it fails
 * to connect, and little else.  bridged marks an error after which it
 * closes the connection (the session limit) with data.closed; its
 * message is that line.
 */
static int
relay(const char *path)
{
	static struct relaybuf	 up, down;	/* stdin->sock, sock->stdout */
	struct pollfd		 pfd[3];
	ssize_t			 n;
	int			 s, in_eof = 0, sock_wshut = 0, sock_eof = 0;
	int			 client_done = 0, lost = 0;
	size_t			 had;
	char			 why[RELAY_LINE_MAX];

	s = unix_connect(path);
	if (fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK) == -1)
		err(1, "fcntl");
	/* a vanished reader is an error to report, not a silent death */
	signal(SIGPIPE, SIG_IGN);
	relay_nonblock(STDIN_FILENO, 0);
	relay_nonblock(STDOUT_FILENO, 1);
	atexit(relay_restore);

	for (;;) {
		if (sock_eof && down.len == 0)
			break;

		pfd[0].fd = STDIN_FILENO;
		pfd[0].events = POLLIN;
		if (in_eof || up.len == sizeof(up.data))
			pfd[0].fd = -1;

		pfd[1].fd = s;
		pfd[1].events = 0;
		if (!sock_eof && down.len < sizeof(down.data))
			pfd[1].events |= POLLIN;
		if (!sock_wshut && up.len > 0)
			pfd[1].events |= POLLOUT;
		/* no interest: don't let POLLHUP spin us */
		if (pfd[1].events == 0)
			pfd[1].fd = -1;

		pfd[2].fd = STDOUT_FILENO;
		pfd[2].events = POLLOUT;
		if (down.len == 0)
			pfd[2].fd = -1;

		if (poll(pfd, 3, -1) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "poll");
		}

		if (pfd[0].fd != -1 && pfd[0].revents != 0) {
			if ((n = rb_read(STDIN_FILENO, &up)) == 0)
				in_eof = client_done = 1;
			else if (n == -1)
				err(1, "read stdin");
		}
		if (pfd[1].fd != -1 && (pfd[1].revents & POLLOUT ||
		    (pfd[1].revents & (POLLHUP | POLLERR) &&
		    pfd[1].events & POLLOUT))) {
			if (rb_write(s, &up, 1) == -1) {
				if (errno != EPIPE && errno != ECONNRESET)
					err(1, "write %s", path);
				lost = 1;
				/* daemon stopped reading: drop what it won't take */
				up.len = up.off = 0;
				sock_wshut = 1;
				in_eof = 1;
			}
		}
		if (pfd[1].fd != -1 && pfd[1].events & POLLIN &&
		    pfd[1].revents != 0) {
			had = down.len;
			if ((n = rb_read(s, &down)) == 0)
				sock_eof = 1;
			else if (n == -1 && errno == ECONNRESET)
				sock_eof = lost = 1;
			else if (n == -1)
				err(1, "read %s", path);
			if (sock_eof)
				/* a last line without its newline counts */
				line_track("\n", 1);
			else
				line_track(down.data + had, down.len - had);
		}
		if (pfd[2].fd != -1 && pfd[2].revents != 0) {
			if (rb_write(STDOUT_FILENO, &down, 0) == -1)
				err(1, "write stdout");
		}

		if (in_eof && up.len == 0 && !sock_wshut) {
			if (shutdown(s, SHUT_WR) == -1 && errno != ENOTCONN)
				err(1, "shutdown %s", path);
			sock_wshut = 1;
		}
	}
	close(s);
	if (line_closing_error(why, sizeof(why))) {
		fprintf(stderr, "bridgectl: bridged refused the MCP session "
		    "on %s: %s\n", path, why);
		return 1;
	}
	/*
	 * The daemon hung up on a client still talking: its frontend died
	 * (bridged restarts it) or it stopped.  The MCP client must not take
	 * that for a clean end.
	 */
	if (lost || !client_done) {
		fprintf(stderr, "bridgectl: bridged closed the MCP connection "
		    "on %s (the daemon stopped or is restarting its frontend);"
		    " reconnect\n", path);
		return 1;
	}
	return 0;
}

/* Keep the start of the last line that went down the relay. */
static void
line_track(const char *p, size_t n)
{
	const char	*nl;
	size_t		 piece;

	while (n > 0) {
		nl = memchr(p, '\n', n);
		piece = nl != NULL ? (size_t)(nl - p) : n;
		if (dline.curlen + piece <= sizeof(dline.cur)) {
			memcpy(dline.cur + dline.curlen, p, piece);
			dline.curlen += piece;
		} else
			dline.curover = 1;
		if (nl == NULL)
			return;
		if (dline.curlen > 0 || dline.curover) {
			dline.lastlen = dline.curover ? 0 : dline.curlen;
			memcpy(dline.last, dline.cur, dline.lastlen);
		}
		dline.curlen = 0;
		dline.curover = 0;
		p += piece + 1;
		n -= piece + 1;
	}
}

/*
 * Was the last line a JSON-RPC error after which bridged closes the
 * connection?  Then its message, made one printable line, is in buf.
 */
static int
line_closing_error(char *buf, size_t size)
{
	json_t		*m, *e;
	const char	*msg;
	char		*p;

	if (dline.lastlen == 0 ||
	    (m = json_loadb(dline.last, dline.lastlen, 0, NULL)) == NULL)
		return 0;
	e = json_object_get(m, "error");
	msg = json_string_value(json_object_get(e, "message"));
	if (msg == NULL || !json_is_true(json_object_get(json_object_get(e,
	    "data"), "closed"))) {
		json_decref(m);
		return 0;
	}
	strlcpy(buf, msg, size);
	json_decref(m);
	for (p = buf; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return 1;
}

/*
 * O_NONBLOCK is a property of the open file, which a pipe end or
 * terminal may share with our parent: set it only where it is not a
 * terminal, and put it back on the way out.  A terminal that poll()
 * reports ready will not block a read, and a short write to it is fine.
 */
static void
relay_nonblock(int fd, int idx)
{
	int	 fl;

	if (isatty(fd))
		return;
	if ((fl = fcntl(fd, F_GETFL)) == -1)
		return;		/* closed: poll() will report it */
	if (fl & O_NONBLOCK)
		return;
	if (fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		return;		/* regular files: no need anyway */
	saved_flags[idx] = fl;
}

static void
relay_restore(void)
{
	if (saved_flags[0] != -1)
		(void)fcntl(STDIN_FILENO, F_SETFL, saved_flags[0]);
	if (saved_flags[1] != -1)
		(void)fcntl(STDOUT_FILENO, F_SETFL, saved_flags[1]);
}

/* Fill b from fd: >0 bytes, 0 EOF, -1 error; EAGAIN/EINTR read 0 bytes. */
static ssize_t
rb_read(int fd, struct relaybuf *b)
{
	ssize_t	 n;

	if (b->off > 0) {
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
	}
	n = read(fd, b->data + b->len, sizeof(b->data) - b->len);
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 1;	/* nothing now, but not EOF */
		return -1;
	}
	b->len += n;
	return n;
}

static ssize_t
rb_write(int fd, struct relaybuf *b, int sock)
{
	ssize_t	 n;

	if (sock)
		n = send(fd, b->data + b->off, b->len, MSG_NOSIGNAL);
	else
		n = write(fd, b->data + b->off, b->len);
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		return -1;
	}
	b->off += n;
	b->len -= n;
	if (b->len == 0)
		b->off = 0;
	return n;
}
