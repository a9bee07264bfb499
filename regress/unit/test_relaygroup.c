/*
 * test_relaygroup.c: relay allow for group "NAME" as the parent resolves
 * it (confcheck_relay_group, parse_config) against a made-up user and
 * group database, so that listed members, primary-group members, names
 * without a passwd entry, duplicates, the bound of RELAY_GROUP_MAX uids
 * and a re-parse (a reload) are each tested on any machine.  This
 * program's getgrnam/getpwnam/getpwent stand in for the C library's.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridged.h"
#include "tap.h"

#define NUSERS	(RELAY_GROUP_MAX + 10)

/* the made-up database: users u0..uN with uid 1000+i, one group */
static struct passwd	 users[NUSERS];
static char		 names[NUSERS][16];
static int		 nusers, pwpos;
static struct group	 grp;
static char		*members[NUSERS + 2];
static char		 grname[32];
static char		 path[] = "/tmp/test_relaygroup.XXXXXX";

struct group *
getgrnam(const char *name)
{
	return strcmp(name, grname) == 0 ? &grp : NULL;
}

struct passwd *
getpwnam(const char *name)
{
	int	 i;

	for (i = 0; i < nusers; i++)
		if (strcmp(users[i].pw_name, name) == 0)
			return &users[i];
	return NULL;
}

void
setpwent(void)
{
	pwpos = 0;
}

struct passwd *
getpwent(void)
{
	return pwpos < nusers ? &users[pwpos++] : NULL;
}

void
endpwent(void)
{
	pwpos = nusers;
}

/* n users, all with primary gid 100 unless made otherwise */
static void
db_reset(int n)
{
	int	 i;

	nusers = n;
	for (i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "u%d", i);
		users[i].pw_name = names[i];
		users[i].pw_uid = 1000 + i;
		users[i].pw_gid = 100;
	}
	strlcpy(grname, "team", sizeof(grname));
	grp.gr_name = grname;
	grp.gr_gid = 500;
	grp.gr_mem = members;
	members[0] = NULL;
}

static void
write_conf(const char *text)
{
	FILE	*fp;

	if ((fp = fopen(path, "w")) == NULL) {
		perror(path);
		exit(1);
	}
	fputs(text, fp);
	fclose(fp);
}

static int
rule_has(const struct relay_rule *r, uint32_t uid)
{
	uint32_t	 i;

	for (i = 0; i < r->nuids; i++)
		if (r->uids[i] == uid)
			return 1;
	return 0;
}

int
main(void)
{
	struct relay_rule	 r;
	struct bridged_conf	*conf;
	char			 err[512];
	int			 fd, i;

	if ((fd = mkstemp(path)) == -1) {
		perror("mkstemp");
		return 1;
	}
	close(fd);

	db_reset(5);
	memset(&r, 0, sizeof(r));
	strlcpy(r.group, "team", sizeof(r.group));
	/* u3 listed, u1 listed twice and with team as primary, a ghost */
	members[0] = names[3];
	members[1] = names[1];
	members[2] = "ghost";
	members[3] = names[1];
	members[4] = NULL;
	users[1].pw_gid = 500;
	users[4].pw_gid = 500;
	ok(confcheck_relay_group(&r, err, sizeof(err)) == 0 &&
	    r.nuids == 3 && r.uids[0] == 1001 && r.uids[1] == 1003 &&
	    r.uids[2] == 1004, "listed and primary-group members, each "
	    "once, sorted; a listed name without a passwd entry left out "
	    "(%u uids)", r.nuids);

	strlcpy(r.group, "nosuch", sizeof(r.group));
	ok(confcheck_relay_group(&r, err, sizeof(err)) == -1 &&
	    r.nuids == 0 && strstr(err, "group \"nosuch\" does not exist") !=
	    NULL && strstr(err, "groupadd nosuch") != NULL,
	    "an unknown group: an error that says what to do: %s", err);

	/* exactly the bound: fine; one more: an error saying so */
	db_reset(RELAY_GROUP_MAX);
	for (i = 0; i < RELAY_GROUP_MAX; i++)
		users[i].pw_gid = 500;
	strlcpy(r.group, "team", sizeof(r.group));
	ok(confcheck_relay_group(&r, err, sizeof(err)) == 0 &&
	    r.nuids == RELAY_GROUP_MAX, "a group of %d members is taken",
	    RELAY_GROUP_MAX);
	db_reset(RELAY_GROUP_MAX + 1);
	for (i = 0; i < RELAY_GROUP_MAX; i++)
		users[i].pw_gid = 500;
	/* the last one only listed */
	members[0] = names[RELAY_GROUP_MAX];
	members[1] = NULL;
	ok(confcheck_relay_group(&r, err, sizeof(err)) == -1 &&
	    r.nuids == 0 && strstr(err, "more than 256 members") != NULL,
	    "a group of %d members is refused, saying so: %s",
	    RELAY_GROUP_MAX + 1, err);

	/* parse_config resolves it with conf_check_local, and again */
	db_reset(5);
	members[0] = names[2];
	members[1] = NULL;
	write_conf("user \"u0\"\n"
	    "relay allow \"team:*\" for group \"team\" { send, receive }\n");
	conf_check_local = 1;
	conf = parse_config(path, 0);
	ok(conf != NULL && conf->nrelay_rules == 1 &&
	    conf->relay_rules[0].nuids == 1 &&
	    rule_has(&conf->relay_rules[0], 1002),
	    "parse_config resolves the group to its member's uid");
	ok(conf != NULL && config_relay_may(conf, "team:x", "uid 0",
	    "uid 1002", RELAY_RECEIVE) && !config_relay_may(conf, "team:x",
	    "uid 0", "uid 1003", RELAY_RECEIVE),
	    "the member may receive another's channel, a non-member not");
	config_free(conf);
	members[0] = names[3];
	conf = parse_config(path, 0);
	ok(conf != NULL && conf->relay_rules[0].nuids == 1 &&
	    rule_has(&conf->relay_rules[0], 1003) &&
	    !config_relay_may(conf, "team:x", "uid 0", "uid 1002",
	    RELAY_RECEIVE), "a second parse (a reload) sees the new "
	    "membership");
	config_free(conf);
	grname[0] = '\0';
	ok(parse_config(path, 0) == NULL, "a group gone by the reload: the "
	    "parse fails (the running config stays)");
	conf_check_local = 0;
	conf = parse_config(path, 0);
	ok(conf != NULL && conf->relay_rules[0].nuids == 0 &&
	    !config_relay_may(conf, "team:x", "uid 0", "uid 1003",
	    RELAY_RECEIVE), "-nn: the group is not looked up, and the rule "
	    "then matches nobody");
	config_free(conf);

	unlink(path);
	return tap_done();
}
