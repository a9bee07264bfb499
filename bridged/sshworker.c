/*
 * sshworker.c: the process that speaks SSH to one configured host with
 * libssh; there is one per host ("bridged: ssh NAME"), started by the
 * parent when the frontend first needs the host, so that a host that
 * stalls or a worker that crashes costs that host's calls only.  It may
 * not create sockets, connect or run programs: the parent makes the TCP
 * connections and hands over connected descriptors, and keys arrive as
 * data.  It runs chrooted (when started as root) with no filesystem
 * reach at all.
 *
 * The worker of a host that others are reached "via" also opens, when the
 * parent asks, the direct-tcpip channels that carry their connections
 * and moves their bytes (ssh_jump.c).
 *
 * It reports its host's state to the frontend whenever it changes, and
 * after `idle timeout' seconds with nothing to do it asks the frontend
 * whether it may go.
 */

#include <sys/types.h>

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event.h>
#include <libssh/libssh.h>

#include "bridged.h"
#include "imsg.h"
#include "log.h"
#include "proc.h"
#include "sandbox.h"
#include "ssh.h"
#include "ssh_deleg.h"
#include "ssh_fwd.h"

/* a call whose arguments are still arriving in chunks */
struct pendargs {
	TAILQ_ENTRY(pendargs)	 entry;
	uint32_t		 reqid;
	char			*buf;
	size_t			 len;
};

/* how often the state is looked at; show hosts is never older */
#define SSH_TICK_MS	200

/* an MCP session that has used this host: its state dies with it */
struct seensess {
	TAILQ_ENTRY(seensess)	 entry;
	uint32_t		 sessid;
};

static void	 ssh_sig(int, short, void *);
static void	 ssh_tick(int, short, void *);
static void	 ssh_push_state(void);
static int	 ssh_idle(void);
static void	 ssh_frontend_gone(enum bridged_proc);
static void	 session_seen(uint32_t);
static void	 session_forget(uint32_t);
static void	 ssh_bye(int, short, void *);
static void	 ssh_leave(int);
static void	 ssh_peer_closed(enum bridged_proc);
static void	 ssh_dispatch_parent(int, short, void *);
static void	 ssh_dispatch_frontend(int, short, void *);
static void	 ssh_dispatch_logger(int, short, void *);
static void	 logger_gone(enum bridged_proc);
static void	 peer_replaced(enum bridged_proc);
static void	 ssh_configure(struct bridged_conf *);
static void	 call_data(struct imsg *);
static void	 call_start(struct imsg *);
static void	 call_cancel(uint32_t);
static const struct ssh_tool *ssh_tool_find(const char *);

/*
 * The worker's one table of tools: the frontend has checked the name,
 * the host and the capability; each tool checks its arguments again.
 */
static const struct ssh_tool ssh_tools[] = {
	{ "Bash",	shell_bash },
	{ "BashOutput",	shell_output },
	{ "TaskOutput",	shell_output },
	{ "KillShell",	shell_kill },
	{ "TaskStop",	shell_kill },
	{ "Read",	files_read },
	{ "MultiRead",	files_multiread },
	{ "Write",	files_write },
	{ "Edit",	files_edit },
	{ "MultiEdit",	files_multiedit },
	{ "FileStat",	files_stat },
	{ "ListDir",	files_listdir },
	{ "Glob",	files_glob },
	{ "Grep",	files_grep },
	{ "Upload",	files_upload },
	{ "Download",	files_download },
	{ "ask_claude",	delegate_ask },
	{ "job_status",	delegate_job_status },
	{ "job_wait",	delegate_job_wait },
	{ "job_cancel",	delegate_job_cancel },
	{ "job_list",	delegate_job_list },
	{ "forward_open", forward_open },
	{ "forward_list", forward_list },
	{ "forward_close", forward_close },
};

struct bridged_conf		*ssh_conf;
static const char		*ssh_hostname;	/* the one host we serve */
static uint32_t			 ssh_hostid;
static struct imsgev		*peers[PROC_MAX];
static TAILQ_HEAD(, seensess)	 seen = TAILQ_HEAD_INITIALIZER(seen);
static struct event		 ev_tick;
static struct host_state	 st_sent;
static int			 st_sent_ok;
static time_t			 idle_since;
static int			 idle_asked;
static TAILQ_HEAD(, sshhost)	 sshhosts = TAILQ_HEAD_INITIALIZER(sshhosts);
static TAILQ_HEAD(, pendargs)	 pending = TAILQ_HEAD_INITIALIZER(pending);
/* calls handed to a tool and not yet answered, for cancel */
static TAILQ_HEAD(, sshcall)	 running = TAILQ_HEAD_INITIALIZER(running);

/* the siblings the parent may hand us a socket to */
static void (*const peer_dispatch[PROC_MAX])(int, short, void *) = {
	[PROC_FRONTEND] = ssh_dispatch_frontend,
	[PROC_LOGGER] = ssh_dispatch_logger,
};

void
sshworker_main(struct proc_args *pa)
{
	struct timeval	 tv = { 0, SSH_TICK_MS * 1000 };

	ssh_hostname = pa->host;
	/* libssh's crypto set-up may read what it needs before the drop */
	if (ssh_init() != SSH_OK)
		fatalx("ssh_init failed");
	peers[PROC_PARENT] = proc_child_init(pa, "ssh", ssh_dispatch_parent,
	    ssh_sig);
	sshconn_init();
	evtimer_set(&ev_tick, ssh_tick, NULL);
	evtimer_add(&ev_tick, &tv);
	idle_since = time(NULL);
	sandbox_sshworker();
	proc_child_ready(peers[PROC_PARENT], "ssh");
	event_dispatch();
	exit(0);
}

/* ids unique across the workers: see SSH_ID_SPAN in bridged.h */
uint32_t
ssh_newid(uint32_t *seq)
{
	*seq = *seq % (SSH_ID_SPAN - 1) + 1;
	return ssh_hostid * SSH_ID_SPAN + *seq;
}

/*
 * Five times a second: the host's state to the frontend when it changed
 * (a memcmp when it did not), and the idle check.  Idle means no call, no
 * MCP session holding state here (shells), no forward, no delegation, no
 * tunnel for a host reached via ours (the frontend knows nothing of
 * those: the parent asks for them); after `idle timeout' seconds of
 * that we ask the frontend, which says yes only if it has nothing on its
 * way to us (IMSG_SSH_IDLE_OK).
 */
static void
ssh_tick(int fd, short event, void *arg)
{
	struct timeval	 tv = { 0, SSH_TICK_MS * 1000 };
	struct sshhost	*sh;
	int		 limit;

	TAILQ_FOREACH(sh, &sshhosts, entry)
		publish_tick(sh);
	hold_expire();
	ssh_push_state();
	limit = ssh_conf != NULL ? ssh_conf->limits.idle_timeout : 0;
	if (!ssh_idle()) {
		idle_since = time(NULL);
		idle_asked = 0;
	} else if (limit > 0 && !idle_asked &&
	    time(NULL) - idle_since >= limit &&
	    ssh_compose(PROC_FRONTEND, IMSG_SSH_IDLE, 0, -1, NULL, 0) == 0)
		idle_asked = 1;
	evtimer_add(&ev_tick, &tv);
}

static int
ssh_idle(void)
{
	struct sshhost	*sh;

	/* a published port is held for as long as it is configured */
	TAILQ_FOREACH(sh, &sshhosts, entry)
		if (publish_wanted(sh))
			return 0;
	return TAILQ_EMPTY(&running) && TAILQ_EMPTY(&pending) &&
	    hold_count() == 0 &&
	    TAILQ_EMPTY(&seen) && TAILQ_EMPTY(&fwds) &&
	    TAILQ_EMPTY(&delegs) && shell_kills_pending() == 0 &&
	    !jump_busy();
}

static void
ssh_push_state(void)
{
	struct sshhost	*sh;

	if ((sh = TAILQ_FIRST(&sshhosts)) == NULL ||
	    peers[PROC_FRONTEND] == NULL)
		return;
	sshconn_refresh(sh);
	if (st_sent_ok && memcmp(&st_sent, &sh->st, sizeof(st_sent)) == 0)
		return;
	if (ssh_compose(PROC_FRONTEND, IMSG_SSH_HOSTSTATE, 0, -1, &sh->st,
	    sizeof(sh->st)) == 0) {
		/* connecting leaves freed heap behind; one per host adds up */
		if (sh->st.state != st_sent.state)
			malloc_trim(0);
		st_sent = sh->st;
		st_sent_ok = 1;
	}
}

static void
session_seen(uint32_t sessid)
{
	struct seensess	*ss;

	if (sessid == 0)
		return;
	TAILQ_FOREACH(ss, &seen, entry)
		if (ss->sessid == sessid)
			return;
	if ((ss = calloc(1, sizeof(*ss))) == NULL)
		fatal(NULL);
	ss->sessid = sessid;
	TAILQ_INSERT_TAIL(&seen, ss, entry);
}

/* the session has ended: its shells and forwards go */
static void
session_forget(uint32_t sessid)
{
	struct seensess	*ss;

	shell_session_end(sessid);
	forward_session_end(sessid);
	TAILQ_FOREACH(ss, &seen, entry)
		if (ss->sessid == sessid) {
			TAILQ_REMOVE(&seen, ss, entry);
			free(ss);
			return;
		}
}

/*
 * The frontend died (or was replaced by a restarted one): its clients
 * are gone, so are their sessions.  Their calls are stopped and their
 * shells killed; jobs and persistent forwards belong to the daemon and
 * stay.  We wait for the parent to wire us to the new frontend.
 */
static void
ssh_frontend_gone(enum bridged_proc id)
{
	struct sshcall	*call, *next;
	struct seensess	*ss;

	proc_peer_free(peers, id);
	st_sent_ok = 0;
	hold_frontend_gone();
	TAILQ_FOREACH_SAFE(call, &running, rentry, next)
		if (!call->cancelled) {
			call->cancelled = 1;
			if (call->cancel != NULL)
				call->cancel(call);
		}
	while ((ss = TAILQ_FIRST(&seen)) != NULL)
		session_forget(ss->sessid);
	idle_asked = 0;
}

/*
 * For regress/unit/test_sshworker.c: serve a frontend on fd with conf,
 * as sshworker_main does once the parent has wired it, so a test can
 * drive the worker's own checks over imsg with no frontend in front.
 */
void
sshworker_test_serve(int fd, struct bridged_conf *conf)
{
	ssh_configure(conf);
	if ((peers[PROC_FRONTEND] = calloc(1, sizeof(struct imsgev))) == NULL)
		fatal(NULL);
	imsgev_init(peers[PROC_FRONTEND], fd, "frontend",
	    ssh_dispatch_frontend, NULL);
	imsgev_add(peers[PROC_FRONTEND]);
}

/* ... and a logger on fd, for the held calls' durable-acks */
void
sshworker_test_logger(int fd)
{
	if ((peers[PROC_LOGGER] = calloc(1, sizeof(struct imsgev))) == NULL)
		fatal(NULL);
	imsgev_init(peers[PROC_LOGGER], fd, "logger", ssh_dispatch_logger,
	    NULL);
	imsgev_add(peers[PROC_LOGGER]);
}

static void
ssh_sig(int sig, short event, void *arg)
{
	if (sig == SIGTERM || sig == SIGINT)
		ssh_leave(1);
}

/*
 * Going away, on a signal or because the parent or frontend went: what
 * was started on the hosts is killed first, which takes the event loop
 * a moment.  A second signal means now.
 */
static void
ssh_leave(int bysignal)
{
	static int		 leaving, signals;

	if (bysignal && signals++ > 0)
		exit(0);
	if (leaving++)
		return;
	/* kills sent now and those already on their way (session ends) */
	if (shell_shutdown() + delegate_shutdown() + shell_kills_pending() ==
	    0)
		exit(0);
	log_debug("killing remote commands before exiting");
	ssh_bye(-1, 0, NULL);
}

/* the parent closed: the daemon is going, and so are we */
static void
ssh_peer_closed(enum bridged_proc id)
{
	imsgev_clear(peers[id]);
	free(peers[id]);
	peers[id] = NULL;
	ssh_leave(0);
}

/* wait, briefly, for the kill commands to finish, then go */
static void
ssh_bye(int fd, short event, void *arg)
{
	static struct event	 ev_bye;
	static int		 ticks;
	struct timeval		 tv = { 0, 50000 };

	if (shell_kills_pending() == 0 || ticks++ >= 60)
		exit(0);
	evtimer_set(&ev_bye, ssh_bye, NULL);
	evtimer_add(&ev_bye, &tv);
}

/* keep the state and connection of hosts that stay across a reload */
static void
ssh_configure(struct bridged_conf *nconf)
{
	TAILQ_HEAD(, sshhost)	 old;
	struct sshhost		*sh, *osh;
	struct host		*h, *hnext;

	/*
	 * A worker keeps its own host's configuration only: nothing of the
	 * others is for it, and 100 hosts would cost each worker 2 MB.
	 */
	TAILQ_FOREACH_SAFE(h, &nconf->hosts, entry, hnext)
		if (ssh_hostname != NULL && strcmp(h->name, ssh_hostname) != 0) {
			TAILQ_REMOVE(&nconf->hosts, h, entry);
			config_host_free(h);
		}
	TAILQ_INIT(&old);
	TAILQ_CONCAT(&old, &sshhosts, entry);
	TAILQ_FOREACH(h, &nconf->hosts, entry) {
		ssh_hostid = h->id;
		TAILQ_FOREACH(osh, &old, entry)
			if (strcmp(osh->name, h->name) == 0)
				break;
		if (osh != NULL) {
			TAILQ_REMOVE(&old, osh, entry);
			sh = osh;
		} else {
			if ((sh = calloc(1, sizeof(*sh))) == NULL)
				fatal(NULL);
			strlcpy(sh->name, h->name, sizeof(sh->name));
			sh->st.state = HOST_DISCONNECTED;
			sh->st.since = time(NULL);
			sshconn_hostinit(sh);
		}
		sh->st.hostid = h->id;
		sh->conf = h;
		TAILQ_INSERT_TAIL(&sshhosts, sh, entry);
	}
	while ((sh = TAILQ_FIRST(&old)) != NULL) {
		TAILQ_REMOVE(&old, sh, entry);
		sshconn_hostgone(sh);
		free(sh);
	}
	if (ssh_conf != NULL)
		config_free(ssh_conf);
	ssh_conf = nconf;
	malloc_trim(0);
	/* our host left the configuration: what it held is answered, go */
	if (ssh_hostname != NULL && TAILQ_EMPTY(&sshhosts)) {
		log_info("host \"%s\" is no longer configured: exiting",
		    ssh_hostname);
		(void)ssh_compose(PROC_PARENT, IMSG_SSH_EXITING, 0, -1, NULL,
		    0);
		ssh_leave(0);
	}
}

struct sshhost *
ssh_host_byid(uint32_t id)
{
	struct sshhost	*sh;

	TAILQ_FOREACH(sh, &sshhosts, entry)
		if (sh->st.hostid == id)
			return sh;
	return NULL;
}

static const struct ssh_tool *
ssh_tool_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(ssh_tools) / sizeof(ssh_tools[0]); i++)
		if (strcmp(ssh_tools[i].name, name) == 0)
			return &ssh_tools[i];
	return NULL;
}

int
ssh_compose(enum bridged_proc to, uint32_t type, uint32_t peerid, int fd,
    const void *data, size_t len)
{
	return proc_compose(peers, to, type, peerid, fd, data, len);
}

/*
 * Write what is queued for the frontend now rather than at the end of
 * this turn of the loop: an answer goes before slow clean-up (an SFTP
 * close) that needs no waiting for.  What the socket does not take
 * waits for the loop as usual.
 */
/* a sibling's channel, or NULL while there is none (ssh_answer.c) */
struct imsgev *
ssh_peer_iev(enum bridged_proc id)
{
	return id >= 0 && id < PROC_MAX ? peers[id] : NULL;
}

void
ssh_flush_frontend(void)
{
	struct imsgev	*iev = peers[PROC_FRONTEND];

	if (iev != NULL && iev->ibuf.queued > 0)
		(void)imsgbuf_write(&iev->ibuf);
}

size_t
ssh_output_max(void)
{
	return ssh_conf != NULL ? ssh_conf->limits.output_max : 100 * 1024;
}

/*
 * Characters a tool's own text may have: the result cap (limits {
 * result size }) less room for what goes around it later, the call's
 * warning here and the frontend's (a lost worker, prompt injection),
 * so that a tool's exact paging hint survives; the frontend cuts
 * whatever still passes the cap, with a plainer hint.
 */
size_t
ssh_result_budget(void)
{
	size_t	 max;

	max = ssh_conf != NULL ? ssh_conf->limits.result_max : CONF_RESULT_MAX;
	if (max < CONF_RESULT_MIN)
		max = CONF_RESULT_MIN;
	return max - SSH_RESULT_RESERVE;
}

static struct pendargs *
pending_find(uint32_t reqid)
{
	struct pendargs	*pa;

	TAILQ_FOREACH(pa, &pending, entry)
		if (pa->reqid == reqid)
			return pa;
	return NULL;
}

/* a chunk of a call's arguments: kept until IMSG_SSH_CALL */
static void
call_data(struct imsg *imsg)
{
	struct pendargs	*pa;
	char		*nb;

	if (imsg->datalen == 0)
		fatalx("empty IMSG_SSH_CALL_DATA");
	if ((pa = pending_find(imsg->hdr.peerid)) == NULL) {
		if ((pa = calloc(1, sizeof(*pa))) == NULL)
			fatal(NULL);
		pa->reqid = imsg->hdr.peerid;
		TAILQ_INSERT_TAIL(&pending, pa, entry);
	}
	if (pa->len + imsg->datalen > SSH_ARGS_MAX)
		fatalx("call %u: arguments over %d bytes", pa->reqid,
		    SSH_ARGS_MAX);
	if ((nb = realloc(pa->buf, pa->len + imsg->datalen)) == NULL)
		fatal(NULL);
	memcpy(nb + pa->len, imsg->data, imsg->datalen);
	pa->buf = nb;
	pa->len += imsg->datalen;
}

static void
call_start(struct imsg *imsg)
{
	struct ssh_callreq	 req;
	struct pendargs		*pa;
	struct sshcall		*call;
	json_error_t		 jerr;

	if (imsg->datalen != sizeof(req))
		fatalx("bad IMSG_SSH_CALL size %zu", imsg->datalen);
	memcpy(&req, imsg->data, sizeof(req));
	req.tool[sizeof(req.tool) - 1] = '\0';
	pa = pending_find(imsg->hdr.peerid);
	if (pa == NULL || pa->len != req.argslen)
		fatalx("call %u: arguments incomplete", imsg->hdr.peerid);
	TAILQ_REMOVE(&pending, pa, entry);

	if ((call = calloc(1, sizeof(*call))) == NULL)
		fatal(NULL);
	call->reqid = imsg->hdr.peerid;
	call->sessid = req.sessid;
	call->uid = req.uid;
	call->flags = req.flags;
	session_seen(req.sessid);
	clock_gettime(CLOCK_MONOTONIC, &call->t0);
	strlcpy(call->tool, req.tool, sizeof(call->tool));
	/* the frontend sent what it validated; check again all the same */
	call->args = json_loadb(pa->buf, pa->len, JSON_REJECT_DUPLICATES,
	    &jerr);
	free(pa->buf);
	free(pa);
	if ((req.flags & CALL_HELD) && call->args != NULL) {
		/* nothing of it runs before the logger says "durable" */
		if (hold_add(call, req.hostid, req.token) == 0)
			return;
	}
	sshcall_start(call, req.hostid);
}

/*
 * The rest of a call's start: checked again (the frontend checked
 * first), then handed to its tool.  A held call comes here once the
 * logger has its intent on the disk (ssh_hold.c).
 */
void
sshcall_start(struct sshcall *call, uint32_t hostid)
{
	const struct ssh_tool	*tool;

	TAILQ_INSERT_TAIL(&running, call, rentry);
	if (call->args == NULL || !json_is_object(call->args)) {
		sshcall_text(call, 1, "internal error: bad arguments");
		return;
	}
	if ((tool = ssh_tool_find(call->tool)) == NULL) {
		sshcall_text(call, 1, "internal error: no tool %s",
		    call->tool);
		return;
	}
	/* the job tools work on the daemon's job table, on no host */
	if (hostid == 0 && delegate_hostless(call->tool)) {
		tool->run(call);
		return;
	}
	if ((call->host = ssh_host_byid(hostid)) == NULL) {
		sshcall_text(call, 1, "host %u is no longer configured",
		    hostid);
		return;
	}
	/* the frontend checked; a compromised one must not be enough */
	if (sshpolicy_call(call) == -1)
		return;
	if (forward_noconnect(call->tool)) {
		tool->run(call);
		return;
	}
	sshconn_dispatch(call, tool->run);
}

static void
call_cancel(uint32_t reqid)
{
	struct sshcall	*call;

	if (hold_cancel(reqid))
		return;
	TAILQ_FOREACH(call, &running, rentry)
		if (call->reqid == reqid)
			break;
	if (call == NULL || call->cancelled)
		return;
	call->cancelled = 1;
	log_debug("call %u (%s) cancelled", reqid, call->tool);
	if (call->cancel != NULL)
		call->cancel(call);
}

/*
 * Answer a call: the result goes out in chunks, then an empty
 * IMSG_SSH_RESULT.  A warning (a lost connection) is put in front of the
 * first text block, and in structuredContent's warnings (the model may
 * be shown only that).  Even a cancelled call answers; the frontend
 * drops it.
 */
void
sshcall_result(struct sshcall *call, json_t *result)
{
	json_t		*content, *first, *sc, *w;
	char		*s, *t;
	size_t		 len, off, n;

	if (call->warning[0] != '\0')
		sshcall_log(call, MCPLOG_WARNING, "%s", call->warning);
	if (call->warning[0] != '\0' &&
	    (content = json_object_get(result, "content")) != NULL &&
	    (first = json_array_get(content, 0)) != NULL &&
	    json_is_string(json_object_get(first, "text"))) {
		if (asprintf(&t, "%s\n\n%s", call->warning,
		    json_string_value(json_object_get(first, "text"))) != -1) {
			json_object_set_new(first, "text", json_string(t));
			free(t);
		}
		if (json_is_object(sc = json_object_get(result,
		    "structuredContent"))) {
			if (!json_is_array(w = json_object_get(sc,
			    "warnings"))) {
				w = json_array();
				json_object_set_new(sc, "warnings", w);
			}
			json_array_append_new(w, json_string(call->warning));
		}
	}
	ssh_result_nuls(result);
	if ((s = json_dumps(result, JSON_COMPACT)) == NULL)
		fatalx("cannot encode a result");
	json_decref(result);
	len = strlen(s);
	if (len > SSH_RESULT_MAX) {
		free(s);
		if (asprintf(&s, "{\"content\":[{\"type\":\"text\","
		    "\"text\":\"result of %zu bytes is too large\"}],"
		    "\"isError\":true}", len) == -1)
			fatal(NULL);
		len = strlen(s);
	}
	for (off = 0; off < len; off += n) {
		n = len - off > IMSG_MAXPAYLOAD ? IMSG_MAXPAYLOAD : len - off;
		if (ssh_compose(PROC_FRONTEND, IMSG_SSH_RESULT_DATA,
		    call->reqid, -1, s + off, n) == -1)
			log_warn("result");
	}
	if (ssh_compose(PROC_FRONTEND, IMSG_SSH_RESULT, call->reqid, -1,
	    NULL, 0) == -1)
		log_warn("result");
	free(s);

	TAILQ_REMOVE(&running, call, rentry);
	json_decref(call->args);
	free(call);
	ssh_push_state();
}

void
sshcall_text(struct sshcall *call, int iserror, const char *fmt, ...)
{
	va_list	 ap;
	char	*text;
	json_t	*r;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) == -1)
		fatal(NULL);
	va_end(ap);
	r = json_pack("{s:[{s:s, s:s%}], s:b}", "content", "type", "text",
	    "text", text, strlen(text), "isError", iserror);
	free(text);
	if (r == NULL)
		r = json_pack("{s:[{s:s, s:s}], s:b}", "content", "type",
		    "text", "text", "(output was not valid UTF-8)", "isError",
		    iserror);
	sshcall_result(call, r);
}

static void
ssh_dispatch_parent(int fd, short event, void *arg)
{
	struct imsgev		*iev = peers[PROC_PARENT];
	struct bridged_conf	*nconf;
	struct imsg		 imsg;

	if (!proc_peer_io(iev, event)) {
		ssh_peer_closed(PROC_PARENT);
		return;
	}
	while (proc_imsg_get(iev, &imsg, "parent", 1)) {
		switch (imsg.hdr.type) {
		case IMSG_CONF_START:
		case IMSG_CONF_HOST:
		case IMSG_CONF_HOSTSTR:
		case IMSG_CONF_FWDRULE:
		case IMSG_CONF_LISTENER:
		case IMSG_CONF_CLIENT:
		case IMSG_CONF_CLIENTHOST:
		case IMSG_CONF_END:
			if ((nconf = config_recv(&imsg)) != NULL)
				ssh_configure(nconf);
			break;
		case IMSG_PEER_FD:
			/* a restarted logger or frontend replaces the dead
			 * one, whose EOF we may not have seen yet */
			if (proc_peer_fd(&imsg, peers, peer_dispatch,
			    peer_replaced) == PROC_LOGGER)
				delegdb_logger_up();
			else
				st_sent_ok = 0;	/* the new one knows nothing */
			break;
		case IMSG_LOG_VERBOSE:
			proc_verbose(&imsg);
			break;
		case IMSG_SSH_KEYDATA:
			sshconn_keydata(&imsg);
			break;
		case IMSG_SSH_CONNECTED:
			/* sshconn takes the descriptor */
			sshconn_connected(&imsg);
			imsg.fd = -1;
			break;
		case IMSG_FWD_LISTENFD:
			forward_listenfd(&imsg);
			imsg.fd = -1;
			break;
		case IMSG_FWD_CONNECTED:
			forward_connected(&imsg);
			imsg.fd = -1;
			break;
		case IMSG_SSH_LOCALFD:
			files_localfd(&imsg);
			imsg.fd = -1;
			break;
		case IMSG_JUMP_OPEN:
			/* ssh_jump.c takes the descriptor */
			jump_open(&imsg);
			imsg.fd = -1;
			break;
		default:
			fatalx("unexpected message %u from parent",
			    imsg.hdr.type);
		}
		if (imsg.fd != -1)
			close(imsg.fd);
		imsg_free(&imsg);
	}
	imsgev_add(iev);
}

static void
ssh_dispatch_frontend(int fd, short event, void *arg)
{
	struct imsgev	*iev = peers[PROC_FRONTEND];
	struct imsg	 imsg;
	uint32_t	 sessid, u32;

	if (!proc_peer_io(iev, event)) {
		ssh_frontend_gone(PROC_FRONTEND);
		return;
	}
	while (proc_imsg_get(iev, &imsg, "frontend", 0)) {
		switch (imsg.hdr.type) {
		case IMSG_SSH_CALL_DATA:
			call_data(&imsg);
			break;
		case IMSG_SSH_CALL:
			call_start(&imsg);
			break;
		case IMSG_SSH_CANCEL:
			if (imsg.datalen != 0)
				fatalx("bad IMSG_SSH_CANCEL");
			call_cancel(imsg.hdr.peerid);
			break;
		case IMSG_SSH_DROP:
			if (imsg.datalen != 0)
				fatalx("bad IMSG_SSH_DROP");
			hold_release(imsg.hdr.peerid);
			break;
		case IMSG_SSH_SESSION_END:
			if (imsg.datalen != sizeof(sessid))
				fatalx("bad IMSG_SSH_SESSION_END");
			memcpy(&sessid, imsg.data, sizeof(sessid));
			session_forget(sessid);
			break;
		case IMSG_SSH_JOBSEQ:
			if (imsg.datalen != sizeof(u32))
				fatalx("bad IMSG_SSH_JOBSEQ");
			memcpy(&u32, imsg.data, sizeof(u32));
			bgjob_seq_floor(u32);
			break;
		case IMSG_SSH_IDLE_OK:
			if (imsg.datalen != 0)
				fatalx("bad IMSG_SSH_IDLE_OK");
			/* nothing is on its way to us: go */
			log_debug("idle for %d s: exiting",
			    ssh_conf->limits.idle_timeout);
			/*
			 * A tunnel asked for since we asked: the parent asks
			 * the next worker for one not answered yet.
			 */
			if (jump_busy())
				log_info("exiting with tunnels for hosts"
				    " behind us: those open are lost");
			(void)ssh_compose(PROC_PARENT, IMSG_SSH_EXITING, 0, -1,
			    NULL, 0);
			imsgbuf_flush(&peers[PROC_PARENT]->ibuf);
			ssh_leave(0);
			break;
		case IMSG_SSH_DELEGATIONS:
		case IMSG_SSH_DELEG_KILL:
			if (imsg.datalen != sizeof(u32))
				fatalx("bad delegation request size %zu",
				    imsg.datalen);
			memcpy(&u32, imsg.data, sizeof(u32));
			if (imsg.hdr.type == IMSG_SSH_DELEGATIONS)
				delegate_ctl_list(imsg.hdr.peerid, u32 == 1);
			else
				delegate_ctl_kill(imsg.hdr.peerid, u32);
			break;
		case IMSG_SSH_FWD_LIST:
			if (imsg.datalen != 0)
				fatalx("bad IMSG_SSH_FWD_LIST");
			forward_ctl_list(imsg.hdr.peerid,
			    TAILQ_FIRST(&sshhosts));
			break;
		case IMSG_SSH_FWD_CLOSE:
			forward_ctl_close(imsg.hdr.peerid, &imsg);
			break;
		default:
			fatalx("unexpected message %u from frontend",
			    imsg.hdr.type);
		}
		imsg_free(&imsg);
	}
	imsgev_add(iev);
}

static void
peer_replaced(enum bridged_proc id)
{
	if (id == PROC_FRONTEND)
		ssh_frontend_gone(id);
	else
		logger_gone(id);
}

static void
logger_gone(enum bridged_proc id)
{
	proc_peer_free(peers, id);
	/* job lookups it had not answered get their answer without it */
	delegdb_logger_gone();
	/* and the calls it had not said were durable never run */
	hold_logger_gone();
}

static void
ssh_dispatch_logger(int fd, short event, void *arg)
{
	struct imsgev	*iev = peers[PROC_LOGGER];
	struct imsg	 imsg;

	/* the parent restarts a dead logger; we wait for the new one */
	if (!proc_peer_io(iev, event)) {
		logger_gone(PROC_LOGGER);
		return;
	}
	while (proc_imsg_get(iev, &imsg, "logger", 0)) {
		switch (imsg.hdr.type) {
		case IMSG_LOG_DATA:
		case IMSG_LOG_END:
			/* stored jobs, for the job tools */
			delegdb_dispatch(&imsg);
			break;
		case IMSG_LOG_DURABLE:
			/* a held call's intent: from this socket only */
			hold_durable(&imsg);
			break;
		default:
			fatalx("unexpected message %u from logger",
			    imsg.hdr.type);
		}
		imsg_free(&imsg);
	}
	imsgev_add(iev);
}
