/*
 * ssh_publish.c: "publish port N" in the ssh worker.  bridged holds a
 * reverse forward on the host, from its 127.0.0.1:N to one of bridged's
 * HTTP listeners, so that agents running there reach bridged at
 * http://127.0.0.1:N/mcp (with a client block's token, like anyone).
 *
 * It is an ordinary remote forward of ssh_fwd.c (the sshd listens, each
 * channel it opens is joined to a connection the parent makes, here to
 * the listener) that no MCP session owns: it belongs to the
 * configuration.  So it is made without any call asking for it, on the
 * first connection that is up; when that connection is lost, a new one
 * is made (backing off while the host cannot be reached) and the forward
 * with it.  A host that refuses the forward (its port taken, forwarding
 * off) leaves the forward in an error state, logged, audited and shown
 * by bridgectl show forwards, and it is tried again on the next
 * connection, not on this one: the host said no to it once already.
 *
 * The state is looked at on the worker's tick (sshworker.c), which also
 * notices a reload that changed or removed the publish line.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event.h>
#include <jansson.h>
#include <libssh/libssh.h>
#include <libssh/server.h>	/* ssh_set_message_callback */

#include "bridged.h"
#include "imsg.h"
#include "log.h"
#include "ssh.h"
#include "ssh_fwd.h"
#include "ssh_pool.h"

#define PUB_BACKOFF_MAX		60	/* seconds between connections */

static struct fwd *pub_fwd(struct sshhost *);
static void	 pub_set(struct sshhost *, int, const char *);
static void	 pub_open(struct sshhost *, struct sshconn *);
static void	 pub_failed(struct sshhost *, const char *, uint16_t,
		    const char *);

int
publish_wanted(struct sshhost *host)
{
	return host->conf != NULL && host->conf->publish_port != 0;
}

static struct fwd *
pub_fwd(struct sshhost *host)
{
	struct fwd	*f;

	TAILQ_FOREACH(f, &fwds, entry)
		if (f->host == host && f->publish)
			return f;
	return NULL;
}

static void
pub_set(struct sshhost *host, int state, const char *why)
{
	if (host->pub_state != state) {
		host->pub_state = state;
		host->pub_since = time(NULL);
	}
	strlcpy(host->pub_error, why != NULL ? why : "",
	    sizeof(host->pub_error));
}

/*
 * Five times a second: the forward as the configuration wants it, on
 * the connection there is, or a connection for it.
 */
void
publish_tick(struct sshhost *host)
{
	struct host		*h = host->conf;
	const struct listener	*l = NULL;
	struct fwd		*f = pub_fwd(host);
	struct sshconn		*c;
	const char		*addr = NULL;
	time_t			 now;

	if (publish_wanted(host))
		l = config_publish_listener(ssh_conf, h, &addr);
	if (f != NULL && (l == NULL || f->listen_port != h->publish_port ||
	    f->dest_port != l->port || strcmp(f->dest_host, addr) != 0)) {
		fwd_close(f, l == NULL ? "publish was removed from the"
		    " configuration" : "publish was changed in the"
		    " configuration", 0);
		f = NULL;
		host->pub_tried = 0;	/* the new one may go on this one */
	}
	if (!publish_wanted(host)) {
		pub_set(host, PUB_NONE, NULL);
		host->pub_tried = 0;
		return;
	}
	if (f != NULL)
		return;
	if (l == NULL) {
		/* the parser refuses this; our copy of it should not differ */
		pub_set(host, PUB_ERROR, "no loopback listen on for publish");
		return;
	}
	if ((c = sshconn_any(host)) == NULL) {
		/* a refusal stays the news until the next try */
		if (host->pub_state != PUB_ERROR)
			pub_set(host, PUB_DOWN, host->st.last_error[0] ?
			    host->st.last_error : "not connected");
		TAILQ_FOREACH(c, &host->conns, entry)
			if (!c->dying)
				return;		/* one is being made */
		now = time(NULL);
		if (now < host->pub_retry)
			return;
		if (host->pub_backoff < 1)
			host->pub_backoff = 1;
		host->pub_retry = now + host->pub_backoff;
		if ((host->pub_backoff *= 2) > PUB_BACKOFF_MAX)
			host->pub_backoff = PUB_BACKOFF_MAX;
		log_debug("host \"%s\": connecting for publish port %d",
		    host->name, h->publish_port);
		(void)sshconn_make(host);
		return;
	}
	host->pub_backoff = 1;
	if (c->id == host->pub_tried)
		return;		/* refused on this connection: the next one */
	host->pub_tried = c->id;
	pub_open(host, c);
}

/* ask the sshd to listen on its loopback; blocking, one round trip */
static void
pub_open(struct sshhost *host, struct sshconn *c)
{
	struct host		*h = host->conf;
	const char		*addr;
	struct fwd		*f;
	int			 bound = 0, rc;

	(void)config_publish_listener(ssh_conf, h, &addr);
	/* an unanswered keepalive must not be taken for the answer */
	sshconn_settle(c);
	rc = ssh_channel_listen_forward(c->session, FWD_REMOTE_ADDR,
	    h->publish_port, &bound);
	if (rc != SSH_OK) {
		pub_failed(host, addr, h->publish_to,
		    sshconn_error(c->session, "no answer"));
		(void)sshconn_check(c);
		return;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL)
		fatal(NULL);
	f->id = fwd_newid();
	f->host = host;
	f->conn = c;
	c->nfwd++;
	f->dir = FWD_FROM_REMOTE;
	f->state = FWD_ACTIVE;
	f->persist = 1;
	f->publish = 1;
	f->rule_line = h->publish_line;
	f->lfd = -1;
	strlcpy(f->dest_host, addr, sizeof(f->dest_host));
	f->dest_port = h->publish_to;
	strlcpy(f->listen_addr, FWD_REMOTE_ADDR, sizeof(f->listen_addr));
	f->listen_port = h->publish_port;
	f->since = time(NULL);
	clock_gettime(CLOCK_MONOTONIC, &f->start);
	TAILQ_INIT(&f->conns);
	TAILQ_INSERT_TAIL(&fwds, f, entry);
	/* forwarded channels arrive as messages of the session */
	ssh_set_message_callback(c->session, fwd_message, c);
	pub_set(host, PUB_UP, NULL);
	fwd_record(f, "open", NULL);
	log_info("host \"%s\": publish port %u: the host's %s:%u leads to"
	    " listen on %s port %u (forward %u)", host->name, f->listen_port,
	    FWD_REMOTE_ADDR, f->listen_port, f->dest_host, f->dest_port,
	    f->id);
}

/* the host said no: say why everywhere, try again on a new connection */
static void
pub_failed(struct sshhost *host, const char *addr, uint16_t to,
    const char *err)
{
	struct host	*h = host->conf;
	char		 why[sizeof(host->pub_error)];

	snprintf(why, sizeof(why), "host \"%s\" refused to listen on %s"
	    " port %d: %s (is the port taken there, or AllowTcpForwarding"
	    " off in its sshd_config?); tried again when the connection is"
	    " re-made", host->name, FWD_REMOTE_ADDR, h->publish_port, err);
	log_warnx("publish port %d (bridged.conf line %d): %s",
	    h->publish_port, h->publish_line, why);
	pub_set(host, PUB_ERROR, why);
	fwd_record_send(json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:I,"
	    " s:s, s:I, s:b, s:b, s:{s:s, s:I, s:I, s:i}, s:s}",
	    "type", "forward", "event", "error", "session", (json_int_t)0,
	    "host", host->name, "direction", "remote",
	    "listen_address", FWD_REMOTE_ADDR,
	    "listen_port", (json_int_t)h->publish_port,
	    "dest_host", addr, "dest_port", (json_int_t)to,
	    "persistent", 1, "published", 1,
	    "rule", "kind", "publish", "port", (json_int_t)h->publish_port,
	    "to_port", (json_int_t)to, "line", h->publish_line,
	    "reason", why));
}

/*
 * bridgectl show forwards: a published port that is not up has no
 * forward to show, so it is shown here, with why.
 */
json_t *
publish_ctl_json(struct sshhost *host)
{
	struct host		*h = host->conf;
	const struct listener	*l;
	const char		*addr = "?";
	char			 listen[32], dest[HOST_ADDR_LEN + 16];
	json_t			*o;

	if (!publish_wanted(host) || pub_fwd(host) != NULL)
		return NULL;
	if ((l = config_publish_listener(ssh_conf, h, &addr)) == NULL)
		addr = "?";
	snprintf(listen, sizeof(listen), "%s:%d", FWD_REMOTE_ADDR,
	    h->publish_port);
	snprintf(dest, sizeof(dest), "%s%s%s:%u", strchr(addr, ':') ? "[" :
	    "", addr, strchr(addr, ':') ? "]" : "", h->publish_to);
	o = json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:I,"
	    " s:b, s:b, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:i}",
	    "id", (json_int_t)0, "session", (json_int_t)0,
	    "host", host->name, "direction", "remote",
	    "listen", listen, "destination", dest,
	    "listen_address", FWD_REMOTE_ADDR,
	    "listen_port", (json_int_t)h->publish_port,
	    "dest_host", addr, "dest_port", (json_int_t)h->publish_to,
	    "persistent", 1, "published", 1,
	    "state", host->pub_state == PUB_ERROR ? "error" : "down",
	    "error", host->pub_error[0] ? host->pub_error : "not connected",
	    "active", (json_int_t)0, "total", (json_int_t)0,
	    "refused", (json_int_t)0, "bytes_sent", (json_int_t)0,
	    "bytes_received", (json_int_t)0,
	    "since", (json_int_t)host->pub_since,
	    "rule_line", h->publish_line);
	if (o == NULL)
		fatalx("%s: json", __func__);
	return o;
}
