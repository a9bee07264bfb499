/*
 * confimsg.c: the configuration crosses from the parent to each child as
 * a sequence of fixed-size structs, list items and an end marker.  The
 * receiver checks every size, terminates every string and rebuilds the
 * lists; a half-received config is never used.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/uio.h>

#include <stdlib.h>
#include <string.h>

#include "bridged.h"
#include "imsg.h"
#include "log.h"
#include "proc.h"

#define TERMINATE(a)	((a)[sizeof(a) - 1] = '\0')

/* the struct, relay rules and their groups' uids inside, is one message */
_Static_assert(sizeof(struct bridged_conf) <= IMSG_MAXPAYLOAD,
    "struct bridged_conf does not fit one imsg");

static struct bridged_conf	*pending;

static void
send_str(struct imsgev *iev, uint32_t hostid, uint32_t kind, const char *s)
{
	struct conf_hoststr	 hs;
	struct iovec		 iov[2];

	hs.hostid = hostid;
	hs.kind = kind;
	iov[0].iov_base = &hs;
	iov[0].iov_len = sizeof(hs);
	iov[1].iov_base = (void *)(uintptr_t)s;
	iov[1].iov_len = strlen(s);
	if (imsgev_composev(iev, IMSG_CONF_HOSTSTR, 0, -1, iov, 2) == -1)
		fatal("config_send");
}

/*
 * A client block crosses as it is, but its token only to the frontend:
 * the one process that checks it.
 */
static void
send_client(struct imsgev *iev, struct client *c, int secrets)
{
	struct client	 copy;
	struct strentry	*se;
	struct iovec	 iov[2];

	memcpy(&copy, c, sizeof(copy));
	if (!secrets) {
		explicit_bzero(copy.token, sizeof(copy.token));
		copy.token_len = 0;
	}
	if (imsgev_compose(iev, IMSG_CONF_CLIENT, 0, -1, &copy,
	    sizeof(copy)) == -1)
		fatal("config_send");
	explicit_bzero(&copy, sizeof(copy));
	TAILQ_FOREACH(se, &c->hosts, entry) {
		iov[0].iov_base = &c->id;
		iov[0].iov_len = sizeof(c->id);
		iov[1].iov_base = se->s;
		iov[1].iov_len = strlen(se->s);
		if (imsgev_composev(iev, IMSG_CONF_CLIENTHOST, 0, -1, iov,
		    2) == -1)
			fatal("config_send");
	}
}

void
config_send(struct imsgev *iev, struct bridged_conf *conf, int secrets)
{
	struct host	*h;
	struct strentry	*se;
	struct fwdrule	*fr;
	struct listener	*l;
	struct client	*c;

	if (imsgev_compose(iev, IMSG_CONF_START, 0, -1, conf,
	    sizeof(*conf)) == -1)
		fatal("config_send");
	TAILQ_FOREACH(h, &conf->hosts, entry) {
		if (imsgev_compose(iev, IMSG_CONF_HOST, 0, -1, h,
		    sizeof(*h)) == -1)
			fatal("config_send");
		TAILQ_FOREACH(se, &h->exec_allow, entry)
			send_str(iev, h->id, HOSTSTR_EXEC_ALLOW, se->s);
		TAILQ_FOREACH(se, &h->delegate.allowed_tools, entry)
			send_str(iev, h->id, HOSTSTR_ALLOWED_TOOL, se->s);
		TAILQ_FOREACH(se, &h->scan_patterns, entry)
			send_str(iev, h->id, HOSTSTR_SCAN_PATTERN, se->s);
		TAILQ_FOREACH(se, &h->protect_exec, entry)
			send_str(iev, h->id, HOSTSTR_PROTECT_EXEC, se->s);
		TAILQ_FOREACH(se, &h->protect_exec_for, entry)
			send_str(iev, h->id, HOSTSTR_PROTECT_EXEC_FOR, se->s);
		TAILQ_FOREACH(fr, &h->fwdrules, entry)
			if (imsgev_compose(iev, IMSG_CONF_FWDRULE, 0, -1, fr,
			    sizeof(*fr)) == -1)
				fatal("config_send");
	}
	TAILQ_FOREACH(l, &conf->listeners, entry)
		if (imsgev_compose(iev, IMSG_CONF_LISTENER, 0, -1, l,
		    sizeof(*l)) == -1)
			fatal("config_send");
	TAILQ_FOREACH(c, &conf->clients, entry)
		send_client(iev, c, secrets);
	if (imsgev_compose(iev, IMSG_CONF_END, 0, -1, NULL, 0) == -1)
		fatal("config_send");
}

static void
check_size(struct imsg *imsg, size_t want)
{
	if (imsg->datalen != want)
		fatalx("config: message %u has %zu bytes, want %zu",
		    imsg->hdr.type, imsg->datalen, want);
}

static struct host *
last_host(void)
{
	struct host	*h;

	if (pending == NULL ||
	    (h = TAILQ_LAST(&pending->hosts, hostlist)) == NULL)
		fatalx("config: host item before any host");
	return h;
}

struct bridged_conf *
config_recv(struct imsg *imsg)
{
	struct bridged_conf	*conf;
	struct host		*h;
	struct fwdrule		*fr;
	struct conf_hoststr	 hs;
	struct listener		*l;
	struct client		*c;
	struct relay_rule	*rr;
	uint32_t		 cid, i;
	char			*s;
	size_t			 slen;

	switch (imsg->hdr.type) {
	case IMSG_CONF_START:
		check_size(imsg, sizeof(*pending));
		if (pending != NULL)
			config_free(pending);
		if ((pending = config_new()) == NULL)
			fatal("config_recv");
		memcpy(pending, imsg->data, sizeof(*pending));
		TAILQ_INIT(&pending->hosts);
		TAILQ_INIT(&pending->listeners);
		TAILQ_INIT(&pending->clients);
		TERMINATE(pending->user);
		TERMINATE(pending->chroot);
		TERMINATE(pending->socket_path);
		TERMINATE(pending->socket_group);
		TERMINATE(pending->ctl_path);
		TERMINATE(pending->audit_db);
		TERMINATE(pending->log_file);
		TERMINATE(pending->transfer_root);
		TERMINATE(pending->default_host);
		if (pending->nrelay_rules > RELAY_RULES_MAX)
			fatalx("config: %u relay rules", pending->nrelay_rules);
		for (i = 0; i < pending->nrelay_rules; i++) {
			rr = &pending->relay_rules[i];
			TERMINATE(rr->pattern);
			TERMINATE(rr->principal);
			TERMINATE(rr->group);
			if (rr->nuids > RELAY_GROUP_MAX)
				fatalx("config: relay rule with %u uids",
				    rr->nuids);
		}
		return NULL;
	case IMSG_CONF_HOST:
		check_size(imsg, sizeof(*h));
		if (pending == NULL)
			fatalx("config: host before start");
		if ((h = calloc(1, sizeof(*h))) == NULL)
			fatal("config_recv");
		memcpy(h, imsg->data, sizeof(*h));
		TAILQ_INIT(&h->exec_allow);
		TAILQ_INIT(&h->delegate.allowed_tools);
		TAILQ_INIT(&h->fwdrules);
		TAILQ_INIT(&h->scan_patterns);
		TAILQ_INIT(&h->protect_exec);
		TAILQ_INIT(&h->protect_exec_for);
		TERMINATE(h->name);
		TERMINATE(h->address);
		TERMINATE(h->user);
		TERMINATE(h->identity);
		TERMINATE(h->known_hosts);
		TERMINATE(h->host_key);
		TERMINATE(h->base_dir);
		TERMINATE(h->delegate.claude);
		TERMINATE(h->delegate.permission_mode);
		TAILQ_INSERT_TAIL(&pending->hosts, h, entry);
		return NULL;
	case IMSG_CONF_HOSTSTR:
		if (imsg->datalen <= sizeof(hs) ||
		    imsg->datalen > sizeof(hs) + PATH_MAX)
			fatalx("config: bad host string size %zu",
			    imsg->datalen);
		h = last_host();
		memcpy(&hs, imsg->data, sizeof(hs));
		if (hs.hostid != h->id)
			fatalx("config: host string for the wrong host");
		slen = imsg->datalen - sizeof(hs);
		if ((s = strndup((char *)imsg->data + sizeof(hs), slen)) ==
		    NULL)
			fatal("config_recv");
		if (strlen(s) != slen)
			fatalx("config: NUL in host string");
		switch (hs.kind) {
		case HOSTSTR_EXEC_ALLOW:
			if (strlist_add(&h->exec_allow, s) == -1)
				fatal("config_recv");
			break;
		case HOSTSTR_ALLOWED_TOOL:
			if (strlist_add(&h->delegate.allowed_tools, s) == -1)
				fatal("config_recv");
			break;
		case HOSTSTR_SCAN_PATTERN:
			if (strlist_add(&h->scan_patterns, s) == -1)
				fatal("config_recv");
			break;
		case HOSTSTR_PROTECT_EXEC:
			if (strlist_add(&h->protect_exec, s) == -1)
				fatal("config_recv");
			break;
		case HOSTSTR_PROTECT_EXEC_FOR:
			/* the program and the pattern, see parse.y */
			if (strchr(s, '\t') == NULL)
				fatalx("config: protect exec for without a "
				    "program");
			if (strlist_add(&h->protect_exec_for, s) == -1)
				fatal("config_recv");
			break;
		default:
			fatalx("config: unknown host string kind %u", hs.kind);
		}
		free(s);
		return NULL;
	case IMSG_CONF_FWDRULE:
		check_size(imsg, sizeof(*fr));
		h = last_host();
		if ((fr = calloc(1, sizeof(*fr))) == NULL)
			fatal("config_recv");
		memcpy(fr, imsg->data, sizeof(*fr));
		TERMINATE(fr->host);
		if (fr->hostid != h->id)
			fatalx("config: forward rule for the wrong host");
		TAILQ_INSERT_TAIL(&h->fwdrules, fr, entry);
		return NULL;
	case IMSG_CONF_LISTENER:
		check_size(imsg, sizeof(*l));
		if (pending == NULL)
			fatalx("config: listener before start");
		if ((l = calloc(1, sizeof(*l))) == NULL)
			fatal("config_recv");
		memcpy(l, imsg->data, sizeof(*l));
		TERMINATE(l->addr);
		TAILQ_INSERT_TAIL(&pending->listeners, l, entry);
		return NULL;
	case IMSG_CONF_CLIENT:
		check_size(imsg, sizeof(*c));
		if (pending == NULL)
			fatalx("config: client before start");
		if ((c = calloc(1, sizeof(*c))) == NULL)
			fatal("config_recv");
		memcpy(c, imsg->data, sizeof(*c));
		explicit_bzero(imsg->data, imsg->datalen);
		TAILQ_INIT(&c->hosts);
		TERMINATE(c->name);
		TERMINATE(c->token_file);
		if (c->token_len >= sizeof(c->token))
			fatalx("config: client token too long");
		TAILQ_INSERT_TAIL(&pending->clients, c, entry);
		return NULL;
	case IMSG_CONF_CLIENTHOST:
		if (pending == NULL || (c = TAILQ_LAST(&pending->clients,
		    clientlist)) == NULL)
			fatalx("config: client host before any client");
		if (imsg->datalen <= sizeof(cid) ||
		    imsg->datalen >= sizeof(cid) + HOST_NAME_LEN)
			fatalx("config: bad client host size %zu",
			    imsg->datalen);
		memcpy(&cid, imsg->data, sizeof(cid));
		if (cid != c->id)
			fatalx("config: client host for the wrong client");
		slen = imsg->datalen - sizeof(cid);
		if ((s = strndup((char *)imsg->data + sizeof(cid), slen)) ==
		    NULL)
			fatal("config_recv");
		if (strlen(s) != slen)
			fatalx("config: NUL in client host");
		if (strlist_add(&c->hosts, s) == -1)
			fatal("config_recv");
		free(s);
		return NULL;
	case IMSG_CONF_END:
		check_size(imsg, 0);
		if (pending == NULL)
			fatalx("config: end before start");
		conf = pending;
		pending = NULL;
		return conf;
	default:
		fatalx("config: unexpected message %u", imsg->hdr.type);
	}
}
