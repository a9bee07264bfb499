/*
 * test_sshworker.c: the ssh worker refuses out-of-policy calls that reach
 * it over imsg, by its own check (there is no frontend here): paths out
 * of base dir, commands past the exec allowlist, deletion under protect
 * delete.  (A call the policy lets through would make the worker ask
 * its parent for a connection; there is none here, so none is sent.)
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
static uint32_t		 nextid = 1;

/*
 * Send one call and run the worker's loop until its result is back or
 * the wait is over; the result's text in out ("" when none came).
 */
static int
call(const char *tool, const char *args, char *out, size_t outsz)
{
	struct ssh_callreq	 req;
	struct imsg		 imsg;
	struct pollfd		 pfd;
	json_t			*r, *t;
	json_error_t		 je;
	char			*buf = NULL;
	size_t			 len = 0;
	uint32_t		 id = nextid++;
	int			 i, n, done = 0;

	out[0] = '\0';
	memset(&req, 0, sizeof(req));
	req.hostid = 1;
	req.sessid = 1;
	req.argslen = strlen(args);
	strlcpy(req.tool, tool, sizeof(req.tool));
	if (imsg_compose(&fe, IMSG_SSH_CALL_DATA, id, 0, -1, args,
	    strlen(args)) == -1 || imsg_compose(&fe, IMSG_SSH_CALL, id, 0, -1,
	    &req, sizeof(req)) == -1 || imsgbuf_flush(&fe) == -1)
		return -1;
	for (i = 0; i < 50 && !done; i++) {
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
	int			 sp[2], r;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1)
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
	imsgbuf_init(&fe, sp[0]);

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
	return tap_done();
}
