/*
 * printconf.c: "bridged -nv" prints the parsed configuration back in the
 * config language.  Every setting is printed, defaults included, in a
 * fixed order, so the output parses back to the same configuration and
 * two printouts can be compared with diff(1).
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "bridged.h"

static void	print_str(const char *);
static void	print_http(const struct bridged_conf *);
static void	print_size(long long);
static void	print_list(const struct strlist *);
static void	print_protect_for(const struct strlist *);
static void	print_host(const struct host *);

/* A quoted string; only '"' and '\' need escaping in the grammar. */
static void
print_str(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		putchar(*s);
	}
	putchar('"');
}

/* The largest unit that states the size exactly. */
static void
print_size(long long n)
{
	static const char	 units[] = "KMGT";
	int			 u = -1;

	while (n != 0 && n % 1024 == 0 && u < (int)sizeof(units) - 2) {
		n /= 1024;
		u++;
	}
	if (u < 0)
		printf("%lld", n);
	else
		printf("%lld%c", n, units[u]);
}

/* seconds in the largest unit that divides them */
static void
print_period(long long n)
{
	if (n % 86400 == 0)
		printf("%lldd", n / 86400);
	else if (n % 3600 == 0)
		printf("%lldh", n / 3600);
	else if (n % 60 == 0)
		printf("%lldm", n / 60);
	else
		printf("%llds", n);
}

/* only with a database: the relay is off without one */
static void
print_relay(const struct bridged_conf *conf)
{
	const struct relay_rule	*r;
	uint32_t		 i;

	if (conf->relay_db[0] != '\0') {
		printf("\nrelay database ");
		print_str(conf->relay_db);
		printf("\nrelay {\n\tretain ");
		print_period(conf->relay_retain);
		printf("\n\tmax message ");
		print_size(conf->relay_msg_max);
		printf("\n\tmax channel %u\n\tmax principal %u\n}\n",
		    conf->relay_channel_max, conf->relay_principal_max);
	}
	for (i = 0; i < conf->nrelay_rules; i++) {
		r = &conf->relay_rules[i];
		printf("relay allow ");
		print_str(r->pattern);
		if (r->principal[0] != '\0') {
			printf(" for ");
			print_str(r->principal);
		}
		/* as written: the uids are this machine's, as of the parse */
		if (r->group[0] != '\0') {
			printf(" for group ");
			print_str(r->group);
		}
		printf(" {%s%s%s }\n",
		    (r->rights & RELAY_SEND) ? " send" : "",
		    (r->rights & RELAY_RECEIVE) ? " receive" : "",
		    (r->rights & RELAY_CLEAR) ? " clear" : "");
	}
}

static void
print_list(const struct strlist *sl)
{
	const struct strentry	*se;

	printf("{");
	TAILQ_FOREACH(se, sl, entry) {
		printf(" ");
		print_str(se->s);
		if (TAILQ_NEXT(se, entry) != NULL)
			printf(",");
	}
	printf(" }");
}

/*
 * protect exec for: entries are "PROGRAM\tPATTERN" (parse.y); one line
 * for each run of entries of the same program keeps their order.
 */
static void
print_protect_for(const struct strlist *sl)
{
	const struct strentry	*se, *next;
	const char		*tab, *ntab;
	char			 prog[PATH_MAX];
	size_t			 len;

	for (se = TAILQ_FIRST(sl); se != NULL; se = next) {
		if ((tab = strchr(se->s, '\t')) == NULL) {
			next = TAILQ_NEXT(se, entry);
			continue;
		}
		len = tab - se->s;
		snprintf(prog, sizeof(prog), "%.*s", (int)len, se->s);
		printf("\tprotect exec for ");
		print_str(prog);
		printf(" {");
		for (next = se; next != NULL; next = TAILQ_NEXT(next, entry)) {
			ntab = strchr(next->s, '\t');
			if (ntab == NULL || (size_t)(ntab - next->s) != len ||
			    strncmp(next->s, se->s, len) != 0)
				break;
			printf("%s ", next == se ? "" : ",");
			print_str(ntab + 1);
		}
		printf(" }\n");
	}
}

/* listen on and client blocks: after the hosts the clients name */
static void
print_http(const struct bridged_conf *conf)
{
	const struct listener	*l;
	const struct client	*c;
	const struct strentry	*se;

	if (!TAILQ_EMPTY(&conf->listeners))
		printf("\n");
	TAILQ_FOREACH(l, &conf->listeners, entry) {
		printf("listen on ");
		print_str(l->addr);
		printf(" port %u", l->port);
		if (l->max_conns != LISTEN_CONNS_DEF)
			printf(" max connections %d", l->max_conns);
		printf("\n");
	}
	TAILQ_FOREACH(c, &conf->clients, entry) {
		printf("\nclient ");
		print_str(c->name);
		printf(" {\n");
		if (c->token_file[0] != '\0') {
			printf("\ttoken file ");
			print_str(c->token_file);
			printf("\n");
		} else
			printf("\ttoken none\n");
		if (c->port != 0)
			printf("\tport %u\n", c->port);
		if (!TAILQ_EMPTY(&c->hosts)) {
			printf("\thosts ");
			TAILQ_FOREACH(se, &c->hosts, entry) {
				print_str(se->s);
				if (TAILQ_NEXT(se, entry) != NULL)
					printf(", ");
			}
			printf("\n");
		}
		if (c->max_conns != CLIENT_CONNS_DEF)
			printf("\tmax connections %d\n", c->max_conns);
		if (c->max_sessions != 0)
			printf("\tmax sessions %d\n", c->max_sessions);
		if (c->probes)
			printf("\tprobe tools\n");
		printf("}\n");
	}
}

static void
print_host(const struct host *h)
{
	const struct fwdrule	*fr;
	const struct strentry	*se;
	const char		*sep;
	uint32_t		 bit;

	printf("host ");
	print_str(h->name);
	printf(" {\n");

	printf("\taddress ");
	print_str(h->address);
	printf(" port %u\n", h->port);
	if (h->via[0] != '\0') {
		printf("\tvia ");
		print_str(h->via);
		printf("\n");
	}
	printf("\tuser ");
	print_str(h->user);
	printf("\n");
	if (h->identity[0] != '\0') {
		printf("\tidentity ");
		print_str(h->identity);
		printf("\n");
	}
	if (h->known_hosts[0] != '\0') {
		printf("\tknown hosts ");
		print_str(h->known_hosts);
		printf("\n");
	}
	if (h->host_key[0] != '\0') {
		printf("\thost key ");
		print_str(h->host_key);
		printf("\n");
	}
	if (h->base_dir[0] != '\0') {
		printf("\tbase dir ");
		print_str(h->base_dir);
		printf("\n");
	} else
		printf("\tbase dir none\n");

	if (h->caps != 0) {
		printf("\tallow");
		sep = " ";
		for (bit = 1; bit != 0; bit <<= 1) {
			if ((h->caps & bit) == 0 || cap_name(bit) == NULL)
				continue;
			printf("%s%s", sep, cap_name(bit));
			sep = ", ";
		}
		printf("\n");
	}
	if (h->has_exec_allow) {
		printf("\texec allow ");
		print_list(&h->exec_allow);
		printf("\n");
	}
	if (h->protect != 0) {
		printf("\tprotect");
		sep = " ";
		if (h->protect & PROTECT_OVERWRITE) {
			printf("%soverwrite", sep);
			sep = ", ";
		}
		if (h->protect & PROTECT_DELETE)
			printf("%sdelete", sep);
		printf("\n");
	}
	if (!TAILQ_EMPTY(&h->protect_exec)) {
		printf("\tprotect exec ");
		print_list(&h->protect_exec);
		printf("\n");
	}
	print_protect_for(&h->protect_exec_for);
	if (h->quota_minute != 0)
		printf("\tquota %u per minute\n", h->quota_minute);
	if (h->quota_day != 0)
		printf("\tquota %u per day\n", h->quota_day);
	TAILQ_FOREACH(se, &h->scan_patterns, entry) {
		printf("\tscan pattern ");
		print_str(se->s);
		printf("\n");
	}

	if (h->has_delegate) {
		printf("\tdelegate {\n");
		printf("\t\tclaude ");
		print_str(h->delegate.claude);
		printf("\n");
		printf("\t\ttimeout %d\n", h->delegate.timeout);
		printf("\t\tmax concurrent %d\n", h->delegate.max_concurrent);
		if (h->delegate.permission_mode[0] != '\0') {
			printf("\t\tpermission mode ");
			print_str(h->delegate.permission_mode);
			printf("\n");
		}
		if (!TAILQ_EMPTY(&h->delegate.allowed_tools)) {
			printf("\t\tallowed tools ");
			print_list(&h->delegate.allowed_tools);
			printf("\n");
		}
		if (h->delegate.skip_permissions)
			printf("\t\tskip permissions\n");
		if (h->delegate.relay[0] != '\0') {
			printf("\t\trelay ");
			print_str(h->delegate.relay);
			printf("\n");
		}
		printf("\t}\n");
	}

	TAILQ_FOREACH(fr, &h->fwdrules, entry) {
		printf("\tforward %s", fr->dir == FWD_FROM_REMOTE ?
		    "from remote to " : "to ");
		print_str(fr->host);
		printf(" port %u", fr->port);
		if (fr->listen_port != 0)
			printf(" listen port %u", fr->listen_port);
		printf("\n");
	}
	if (h->fwd_listen[0] != '\0') {
		printf("\tforward listen ");
		print_str(h->fwd_listen);
		printf("\n");
	}
	if (h->fwd_persist)
		printf("\tforward persistent\n");
	/* defaults too: -nv shows what the daemon will use */
	printf("\tforward max %d\n", h->fwd_max);
	printf("\tforward connections %d\n", h->fwd_conns_max);
	if (h->publish_port != 0)
		printf("\tpublish port %d to port %u\n", h->publish_port,
		    h->publish_to);
	printf("\tmax sessions %d\n", h->max_sessions);
	printf("\tmax connections %d\n", h->max_conns);
	printf("}\n");
}

void
print_config(struct bridged_conf *conf)
{
	const struct host	*h;

	printf("user ");
	print_str(conf->user);
	printf("\nchroot ");
	print_str(conf->chroot);
	printf("\nsocket ");
	print_str(conf->socket_path);
	printf(" mode %04o", (unsigned int)conf->socket_mode);
	if (conf->socket_group[0] != '\0') {
		printf(" group ");
		print_str(conf->socket_group);
	}
	printf("\ncontrol socket ");
	print_str(conf->ctl_path);
	printf("\n");
	if (conf->audit_db[0] != '\0') {
		printf("audit database ");
		print_str(conf->audit_db);
		printf("\n");
	}
	printf("audit fail closed %s\n", conf->audit_fail_all ? "all" :
	    "mutating");
	if (conf->audit_retain > 0) {
		/* the largest unit that divides it, as one would write it */
		if (conf->audit_retain % 86400 == 0)
			printf("audit retain %lldd\n",
			    (long long)conf->audit_retain / 86400);
		else if (conf->audit_retain % 3600 == 0)
			printf("audit retain %lldh\n",
			    (long long)conf->audit_retain / 3600);
		else if (conf->audit_retain % 60 == 0)
			printf("audit retain %lldm\n",
			    (long long)conf->audit_retain / 60);
		else
			printf("audit retain %llds\n",
			    (long long)conf->audit_retain);
	}
	if (conf->log_file[0] != '\0') {
		printf("log file ");
		print_str(conf->log_file);
		if (conf->log_rotate_size > 0) {
			printf(" rotate size ");
			print_size(conf->log_rotate_size);
		}
		printf(" keep %d\n", conf->log_keep);
	}
	if (conf->transfer_root[0] != '\0') {
		printf("transfer root ");
		print_str(conf->transfer_root);
		printf("\n");
	}
	printf("job retention %d\n", conf->job_retention);

	printf("limits {\n\tline size ");
	print_size(conf->limits.line_max);
	printf("\n\toutput size ");
	print_size(conf->limits.output_max);
	printf("\n\tresult size ");
	print_size(conf->limits.result_max);
	printf("\n\tsessions %d\n", conf->limits.sessions_max);
	printf("\tdrain timeout %d\n", conf->limits.drain_timeout);
	printf("\tcall timeout %d\n", conf->limits.call_timeout);
	printf("\tforwards %d\n", conf->limits.forwards_max);
	printf("\tkeepalive %d count %d\n", conf->limits.keepalive,
	    conf->limits.keepalive_count);
	printf("\tidle timeout %d\n", conf->limits.idle_timeout);
	printf("}\n");
	if (conf->fwd_list_all)
		printf("forward list all\n");

	TAILQ_FOREACH(h, &conf->hosts, entry) {
		printf("\n");
		print_host(h);
	}

	print_http(conf);
	print_relay(conf);

	if (conf->default_host[0] != '\0') {
		printf("\ndefault host ");
		print_str(conf->default_host);
		printf("\n");
	}
}
