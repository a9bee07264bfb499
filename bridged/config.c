/*
 * config.c: the in-memory configuration shared by every process: creation
 * with the documented defaults, host lookup and teardown.  The parser
 * (parse.y) fills it in; the parent ships it to the children over imsg.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridged.h"


struct bridged_conf *
config_new(void)
{
	struct bridged_conf	*conf;

	if ((conf = calloc(1, sizeof(*conf))) == NULL)
		return NULL;
	strlcpy(conf->user, BRIDGED_USER, sizeof(conf->user));
	strlcpy(conf->chroot, BRIDGED_CHROOT, sizeof(conf->chroot));
	strlcpy(conf->socket_path, BRIDGED_SOCKET, sizeof(conf->socket_path));
	conf->socket_mode = BRIDGED_SOCKET_MODE;
	strlcpy(conf->ctl_path, BRIDGED_CTLSOCK, sizeof(conf->ctl_path));
	conf->log_rotate_size = 0;
	conf->log_keep = CONF_LOG_KEEP;
	conf->limits.line_max = CONF_LINE_MAX;
	conf->limits.output_max = CONF_OUTPUT_MAX;
	conf->limits.result_max = CONF_RESULT_MAX;
	conf->limits.sessions_max = CONF_SESSIONS_MAX;
	conf->limits.drain_timeout = CONF_DRAIN_TIMEOUT;
	conf->limits.call_timeout = CONF_CALL_TIMEOUT;
	conf->job_retention = CONF_JOB_RETENTION;
	conf->relay_retain = RELAY_RETAIN_DEF;
	conf->relay_msg_max = RELAY_MSG_DEF;
	conf->relay_channel_max = RELAY_CHANNEL_DEF;
	conf->relay_principal_max = RELAY_PRINCIPAL_DEF;
	conf->limits.forwards_max = CONF_FWD_SESSION_MAX;
	conf->limits.keepalive = CONF_KEEPALIVE;
	conf->limits.idle_timeout = CONF_IDLE_TIMEOUT;
	conf->limits.keepalive_count = CONF_KEEPALIVE_COUNT;
	TAILQ_INIT(&conf->hosts);
	TAILQ_INIT(&conf->listeners);
	TAILQ_INIT(&conf->clients);
	return conf;
}

void
config_host_free(struct host *h)
{
	struct fwdrule	*fr;

	strlist_free(&h->exec_allow);
	strlist_free(&h->delegate.allowed_tools);
	strlist_free(&h->scan_patterns);
	strlist_free(&h->protect_exec);
	strlist_free(&h->protect_exec_for);
	while ((fr = TAILQ_FIRST(&h->fwdrules)) != NULL) {
		TAILQ_REMOVE(&h->fwdrules, fr, entry);
		free(fr);
	}
	/* the pinned key and paths are not secret, but be tidy */
	explicit_bzero(h, sizeof(*h));
	free(h);
}

void
config_client_free(struct client *c)
{
	strlist_free(&c->hosts);
	/* the token is a secret */
	explicit_bzero(c, sizeof(*c));
	free(c);
}

void
config_free(struct bridged_conf *conf)
{
	struct host	*h;
	struct listener	*l;
	struct client	*c;

	if (conf == NULL)
		return;
	while ((h = TAILQ_FIRST(&conf->hosts)) != NULL) {
		TAILQ_REMOVE(&conf->hosts, h, entry);
		config_host_free(h);
	}
	while ((l = TAILQ_FIRST(&conf->listeners)) != NULL) {
		TAILQ_REMOVE(&conf->listeners, l, entry);
		free(l);
	}
	while ((c = TAILQ_FIRST(&conf->clients)) != NULL) {
		TAILQ_REMOVE(&conf->clients, c, entry);
		config_client_free(c);
	}
	free(conf);
}

struct listener *
config_listener_new(struct bridged_conf *conf)
{
	struct listener	*l, *last;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	last = TAILQ_LAST(&conf->listeners, listenerlist);
	l->id = last == NULL ? 1 : last->id + 1;
	l->max_conns = LISTEN_CONNS_DEF;
	TAILQ_INSERT_TAIL(&conf->listeners, l, entry);
	return l;
}

struct client *
config_client_new(struct bridged_conf *conf)
{
	struct client	*c, *last;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	last = TAILQ_LAST(&conf->clients, clientlist);
	c->id = last == NULL ? 1 : last->id + 1;
	c->max_conns = CLIENT_CONNS_DEF;
	TAILQ_INIT(&c->hosts);
	TAILQ_INSERT_TAIL(&conf->clients, c, entry);
	return c;
}

/*
 * The uid of a UNIX-socket principal, "uid N" as fe_mcp.c writes it:
 * 0, or -1 for any other principal.  An HTTP principal is a client
 * block's name, which has no blank, and a back-channel's starts with
 * "delegate:", so neither can pass for one.
 */
int
config_principal_uid(const char *principal, uint32_t *uid)
{
	const char	*p;
	uint64_t	 n = 0;

	if (strncmp(principal, "uid ", 4) != 0)
		return -1;
	p = principal + 4;
	/* the digits as %u prints them: no sign, blank or leading 0 */
	if (*p == '\0' || (*p == '0' && p[1] != '\0'))
		return -1;
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		n = n * 10 + (uint64_t)(*p - '0');
		if (n > UINT32_MAX)
			return -1;
	}
	*uid = (uint32_t)n;
	return 0;
}

/* Does the rule name principal: itself, its group or everyone? */
static int
relay_rule_names(const struct relay_rule *r, const char *principal)
{
	uint32_t	 uid, i;

	if (r->group[0] != '\0') {
		if (config_principal_uid(principal, &uid) == -1)
			return 0;
		for (i = 0; i < r->nuids && i < RELAY_GROUP_MAX; i++)
			if (r->uids[i] == uid)
				return 1;
		return 0;
	}
	return r->principal[0] == '\0' || strcmp(r->principal, principal) == 0;
}

/*
 * May principal do right on the relay channel?  Its creator may do
 * anything; anyone else needs a relay allow rule that matches the name
 * and names the principal, a group its uid was in when the parent last
 * parsed the config, or nobody.  creator NULL: the channel does not
 * exist (yet).  The logger decides with it where the creator is stored;
 * the frontend with the creator an event names, before it notifies.
 */
int
config_relay_may(const struct bridged_conf *conf, const char *channel,
    const char *creator, const char *principal, uint32_t right)
{
	const struct relay_rule	*r;
	uint32_t		 i;

	if (conf == NULL)
		return 0;
	if (creator != NULL && strcmp(creator, principal) == 0)
		return 1;
	for (i = 0; i < conf->nrelay_rules && i < RELAY_RULES_MAX; i++) {
		r = &conf->relay_rules[i];
		if ((r->rights & right) == right &&
		    relay_rule_names(r, principal) &&
		    fnmatch(r->pattern, channel, 0) == 0)
			return 1;
	}
	return 0;
}

struct client *
config_client_byname(struct bridged_conf *conf, const char *name)
{
	struct client	*c;

	if (name == NULL)
		return NULL;
	TAILQ_FOREACH(c, &conf->clients, entry)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

/*
 * Is a listen address loopback only?  The numeric forms are read as
 * written (127.0.0.0/8, ::1); "localhost" is taken at its word, which
 * the parent checks again when it resolves and binds it.
 */
int
config_addr_loopback(const char *addr)
{
	struct in_addr	 a4;
	struct in6_addr	 a6;

	if (strcmp(addr, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, addr, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, addr, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return 0;
}

/*
 * Where a host's published port leads (publish port N to port P): the
 * listener, and the address the parent connects to for it.  NULL: the
 * host publishes nothing, or the listener is gone (the parser refuses
 * that, a peer may not).
 */
const struct listener *
config_publish_listener(const struct bridged_conf *conf, const struct host *h,
    const char **addr)
{
	const struct listener	*l;

	if (h->publish_port == 0)
		return NULL;
	TAILQ_FOREACH(l, &conf->listeners, entry)
		if (l->port == h->publish_to && l->loopback)
			break;
	if (l != NULL && addr != NULL)
		*addr = strcmp(l->addr, "localhost") == 0 ? "127.0.0.1" :
		    l->addr;
	return l;
}

/*
 * A new host with its defaults, appended to the list.  Ids follow config
 * order starting at 1, so 0 never names a host.
 */
struct host *
config_host_new(struct bridged_conf *conf)
{
	struct host	*h, *last;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	last = TAILQ_LAST(&conf->hosts, hostlist);
	h->id = last == NULL ? 1 : last->id + 1;
	h->port = CONF_SSH_PORT;
	TAILQ_INIT(&h->exec_allow);
	TAILQ_INIT(&h->fwdrules);
	h->fwd_max = CONF_FWD_HOST_MAX;
	h->fwd_conns_max = CONF_FWD_CONNS_MAX;
	h->max_sessions = CONF_MAX_SESSIONS;
	h->max_conns = CONF_MAX_CONNS;
	strlcpy(h->delegate.claude, CONF_CLAUDE, sizeof(h->delegate.claude));
	h->delegate.timeout = CONF_DELEGATE_TIMEOUT;
	TAILQ_INIT(&h->delegate.allowed_tools);
	TAILQ_INIT(&h->scan_patterns);
	TAILQ_INIT(&h->protect_exec);
	TAILQ_INIT(&h->protect_exec_for);
	TAILQ_INSERT_TAIL(&conf->hosts, h, entry);
	return h;
}

struct host *
config_host_byname(struct bridged_conf *conf, const char *name)
{
	struct host	*h;

	if (name == NULL)
		return NULL;
	TAILQ_FOREACH(h, &conf->hosts, entry)
		if (strcmp(h->name, name) == 0)
			return h;
	return NULL;
}

struct host *
config_host_byid(struct bridged_conf *conf, uint32_t id)
{
	struct host	*h;

	TAILQ_FOREACH(h, &conf->hosts, entry)
		if (h->id == id)
			return h;
	return NULL;
}

/* The host named by "default host"; NULL when there is none. */
struct host *
config_default_host(struct bridged_conf *conf)
{
	if (conf->default_host[0] == '\0')
		return NULL;
	return config_host_byname(conf, conf->default_host);
}

/*
 * A valid configuration an operator should still hear about: 1 with the
 * message in msg, else 0.  Who can open the MCP socket is an agent on
 * every host, so a socket any local user may write to is worth a word.
 */
int
config_warning(const struct bridged_conf *conf, char *msg, size_t msglen)
{
	if ((conf->socket_mode & S_IWOTH) == 0)
		return 0;
	snprintf(msg, msglen, "socket \"%s\" mode %04o lets every local "
	    "user connect: each of them can act as an agent on every host "
	    "(use mode 0660 and a group)", conf->socket_path,
	    (unsigned int)conf->socket_mode);
	return 1;
}

int
strlist_add(struct strlist *sl, const char *s)
{
	struct strentry	*se;

	if ((se = calloc(1, sizeof(*se))) == NULL)
		return -1;
	if ((se->s = strdup(s)) == NULL) {
		free(se);
		return -1;
	}
	TAILQ_INSERT_TAIL(sl, se, entry);
	return 0;
}

void
strlist_free(struct strlist *sl)
{
	struct strentry	*se;

	while ((se = TAILQ_FIRST(sl)) != NULL) {
		TAILQ_REMOVE(sl, se, entry);
		free(se->s);
		free(se);
	}
}

/* The config keyword of one CAP_* bit; NULL for anything else. */
const char *
cap_name(uint32_t cap)
{
	switch (cap) {
	case CAP_READ:
		return "read";
	case CAP_WRITE:
		return "write";
	case CAP_EXEC:
		return "exec";
	case CAP_DELEGATE:
		return "delegate";
	case CAP_FORWARD:
		return "forward";
	}
	return NULL;
}
