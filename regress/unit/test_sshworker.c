/*
 * test_sshworker.c: the ssh worker refuses out-of-policy calls that reach
 * it over imsg, by its own check (there is no frontend here): paths out
 * of base dir, commands past the exec allowlist, deletion under protect
 * delete.  (A call the policy lets through would make the worker ask
 * its parent for a connection; there is none here, so none is sent.)
 * A held call (CALL_HELD) does nothing until the logger's socket says
 * its intent is durable with its token: not with another token, not
 * from the frontend; a durable-ack ahead of its call lets it run as it
 * comes; one asked back (IMSG_SSH_DROP) or whose logger goes is told
 * IMSG_SSH_DROPPED and never runs.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event.h>
#include <jansson.h>

#include "bridged.h"
#include "imsg.h"
#include "ssh.h"
#include "tap.h"

static struct imsgbuf	 fe;		/* our end: we are the frontend */
static struct imsgbuf	 lg;		/* and the logger */
static uint32_t		 nextid = 1;
static int		 dropped;	/* IMSG_SSH_DROPPED came */

static int	 wait_result(uint32_t, char *, size_t, int);

/* send one call, held until a durable-ack with token if flags say so */
static uint32_t
send_call(const char *tool, const char *args, uint32_t flags,
    uint64_t token)
{
	struct ssh_callreq	 req;
	uint32_t		 id = nextid++;

	memset(&req, 0, sizeof(req));
	req.hostid = 1;
	req.sessid = 1;
	req.argslen = strlen(args);
	req.flags = flags;
	req.token = token;
	strlcpy(req.tool, tool, sizeof(req.tool));
	if (imsg_compose(&fe, IMSG_SSH_CALL_DATA, id, 0, -1, args,
	    strlen(args)) == -1 || imsg_compose(&fe, IMSG_SSH_CALL, id, 0, -1,
	    &req, sizeof(req)) == -1 || imsgbuf_flush(&fe) == -1)
		return 0;
	return id;
}

/* the logger's word that call id's intent is durable */
static void
durable(struct imsgbuf *to, uint32_t id, uint64_t token)
{
	struct log_held	 lh;

	memset(&lh, 0, sizeof(lh));
	lh.token = token;
	strlcpy(lh.host, "h", sizeof(lh.host));
	if (imsg_compose(to, IMSG_LOG_DURABLE, id, 0, -1, &lh,
	    sizeof(lh)) == -1 || imsgbuf_flush(to) == -1)
		fprintf(stderr, "durable: cannot send\n");
}

/*
 * Send one call and run the worker's loop until its result is back or
 * the wait is over; the result's text in out ("" when none came).
 */
static int
call(const char *tool, const char *args, char *out, size_t outsz)
{
	uint32_t	 id;

	if ((id = send_call(tool, args, 0, 0)) == 0)
		return -1;
	return wait_result(id, out, outsz, 50);
}

/*
 * Run the worker's loop for up to rounds * 20 ms: 1 (2 if isError) when
 * call id's result came, its text in out; 0 when none came (dropped
 * says whether IMSG_SSH_DROPPED did, its text in out).
 */
static int
wait_result(uint32_t id, char *out, size_t outsz, int rounds)
{
	struct imsg		 imsg;
	struct pollfd		 pfd;
	json_t			*r, *t;
	json_error_t		 je;
	char			*buf = NULL;
	size_t			 len = 0;
	int			 i, n, done = 0;

	out[0] = '\0';
	dropped = 0;
	for (i = 0; i < rounds && !done; i++) {
		event_loop(EVLOOP_NONBLOCK);
		pfd.fd = fe.fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 20) <= 0)
			continue;
		if (imsgbuf_read(&fe) <= 0 && errno != EAGAIN)
			break;
		while ((n = imsg_get(&fe, &imsg)) > 0) {
			if (imsg.hdr.peerid == id &&
			    imsg.hdr.type == IMSG_SSH_RESULT_DATA) {
				buf = realloc(buf, len + imsg.datalen + 1);
				memcpy(buf + len, imsg.data, imsg.datalen);
				len += imsg.datalen;
			} else if (imsg.hdr.peerid == id &&
			    imsg.hdr.type == IMSG_SSH_RESULT)
				done = 1;
			else if (imsg.hdr.peerid == id &&
			    imsg.hdr.type == IMSG_SSH_DROPPED) {
				dropped = 1;
				snprintf(out, outsz, "%.*s",
				    (int)imsg.datalen, (char *)imsg.data);
			}
			imsg_free(&imsg);
		}
	}
	if (!done) {
		free(buf);
		return 0;
	}
	r = json_loadb(buf ? buf : "", len, 0, &je);
	free(buf);
	t = json_object_get(json_array_get(json_object_get(r, "content"), 0),
	    "text");
	if (json_is_string(t))
		strlcpy(out, json_string_value(t), outsz);
	n = json_is_true(json_object_get(r, "isError"));
	json_decref(r);
	return n ? 2 : 1;
}

int
main(void)
{
	struct bridged_conf	*conf;
	struct host		*h;
	char			 out[2048];
	int			 sp[2], lp[2], r;
	uint32_t		 id;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, lp) == -1)
		return 1;
	event_init();
	if ((conf = config_new()) == NULL ||
	    (h = config_host_new(conf)) == NULL)
		return 1;
	strlcpy(h->name, "h", sizeof(h->name));
	strlcpy(h->address, "127.0.0.1", sizeof(h->address));
	strlcpy(h->base_dir, "/srv/base", sizeof(h->base_dir));
	h->base_dir_line = 4;
	h->caps = CAP_READ | CAP_WRITE | CAP_EXEC;
	h->has_exec_allow = 1;
	h->exec_allow_line = 5;
	strlist_add(&h->exec_allow, "git");
	h->protect = PROTECT_DELETE;
	h->protect_line = 6;
	sshworker_test_serve(sp[1], conf);
	sshworker_test_logger(lp[1]);
	imsgbuf_init(&fe, sp[0]);
	imsgbuf_init(&lg, lp[0]);

	r = call("Read", "{\"file_path\":\"/srv/base/../../etc/passwd\"}",
	    out, sizeof(out));
	ok(r == 2 && strstr(out, "outside the base dir") &&
	    strstr(out, "line 4"), "Read out of base dir refused: %s", out);
	r = call("Write", "{\"file_path\":\"/srv/base-x/f\",\"content\":"
	    "\"x\"}", out, sizeof(out));
	ok(r == 2 && strstr(out, "outside the base dir"),
	    "Write to a prefix sibling refused: %s", out);
	r = call("Glob", "{\"pattern\":\"/etc/*\"}", out, sizeof(out));
	ok(r == 2 && strstr(out, "base dir"), "Glob root refused: %s", out);
	r = call("Bash", "{\"command\":\"git status; rm x\"}", out,
	    sizeof(out));
	ok(r == 2 && strstr(out, "exec allow") && strstr(out, "line 5"),
	    "Bash past the allowlist refused: %s", out);
	r = call("Bash", "{\"command\":\"sh -c 'rm x'\"}", out, sizeof(out));
	ok(r == 2 && strstr(out, "exec allow"), "sh -c refused: %s", out);
	r = call("Bash", "{\"command\":\"git rm x\"}", out, sizeof(out));
	ok(r == 2 && strstr(out, "protect delete") && strstr(out, "line 6"),
	    "git rm under protect delete refused: %s", out);
	r = call("MultiRead", "{\"files\":[\"/srv/base/a\",\"/etc/shadow\"]}",
	    out, sizeof(out));
	ok(r == 2 && strstr(out, "path 2"), "MultiRead entry refused: %s",
	    out);
	r = call("Download", "{\"remote_path\":\"/srv/base/a\\u0000/x\","
	    "\"local_path\":\"x\"}", out, sizeof(out));
	/* jansson refuses \u0000 in the worker before the policy does */
	ok(r == 2 && (strstr(out, "NUL") || strstr(out, "bad arguments")),
	    "NUL in a path refused: %s", out);

	/* held calls: a refusal by policy shows the call ran */
#define OUTSIDE	"{\"file_path\":\"/etc/passwd\"}"
	id = send_call("Read", OUTSIDE, CALL_HELD, 0x1234567890abcdefULL);
	r = wait_result(id, out, sizeof(out), 10);
	ok(r == 0 && !dropped, "a held call does nothing before its ack");
	durable(&lg, id, 0x1234567890abcdeeULL);
	r = wait_result(id, out, sizeof(out), 10);
	ok(r == 0 && !dropped, "nor on a durable-ack with another token");
	durable(&lg, id, 0x1234567890abcdefULL);
	r = wait_result(id, out, sizeof(out), 50);
	ok(r == 2 && strstr(out, "outside the base dir"),
	    "its durable-ack from the logger runs it: %s", out);
	/* the ack first (the two sockets race): the call runs as it comes */
	durable(&lg, nextid, 77);
	id = send_call("Read", OUTSIDE, CALL_HELD, 77);
	r = wait_result(id, out, sizeof(out), 50);
	ok(r == 2 && strstr(out, "outside the base dir"),
	    "a durable-ack ahead of its call lets it run as it comes: %s",
	    out);
	/* asked back: dropped, and a later ack runs nothing */
	id = send_call("Read", OUTSIDE, CALL_HELD, 78);
	if (imsg_compose(&fe, IMSG_SSH_DROP, id, 0, -1, NULL, 0) == -1 ||
	    imsgbuf_flush(&fe) == -1)
		return 1;
	r = wait_result(id, out, sizeof(out), 50);
	ok(r == 0 && dropped, "a held call asked back is dropped: %s", out);
	durable(&lg, id, 78);
	r = wait_result(id, out, sizeof(out), 10);
	ok(r == 0 && !dropped, "and never runs on a late durable-ack");
	/* cancelled while held: it ends unanswered and never runs */
	id = send_call("Read", OUTSIDE, CALL_HELD, 79);
	if (imsg_compose(&fe, IMSG_SSH_CANCEL, id, 0, -1, NULL, 0) == -1 ||
	    imsgbuf_flush(&fe) == -1)
		return 1;
	r = wait_result(id, out, sizeof(out), 10);
	durable(&lg, id, 79);
	r += wait_result(id, out, sizeof(out), 10);
	ok(r == 0 && !dropped, "a held call cancelled never runs");
	/* the logger goes: what it had not acked is dropped */
	id = send_call("Read", OUTSIDE, CALL_HELD, 80);
	r = wait_result(id, out, sizeof(out), 5);
	close(lp[0]);
	r += wait_result(id, out, sizeof(out), 50);
	ok(r == 0 && dropped && strstr(out, "logger"),
	    "the logger gone: a held call is dropped unrun: %s", out);
	return tap_done();
}
