/*
 * test_config.c: config.c helpers and parse_config() as the parent uses
 * it (repeated parses for reloads, -D macros that outlive a parse).  The
 * language itself is covered by the golden files in regress/conf.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridged.h"
#include "tap.h"

static char	 path[] = "/tmp/test_config.XXXXXX";

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

int
main(void)
{
	struct bridged_conf	*conf;
	struct host		*h1, *h2, *h;
	struct strlist		 sl;
	struct fwdrule		*fr;
	struct relay_rule	*rr;
	char			 err[1024], key[64], cmd[256];
	uint32_t		 uid;
	int			 fd, n;

	if ((fd = mkstemp(path)) == -1) {
		perror("mkstemp");
		return 1;
	}
	close(fd);

	conf = config_new();
	ok(conf != NULL, "config_new");
	ok(strcmp(conf->user, BRIDGED_USER) == 0, "default user");
	ok(strcmp(conf->socket_path, BRIDGED_SOCKET) == 0, "default socket");
	ok(conf->socket_mode == BRIDGED_SOCKET_MODE, "default socket mode");
	ok(conf->limits.line_max == 4 * 1024 * 1024, "default line size 4M");
	ok(conf->limits.output_max == 100 * 1024, "default output 100K");
	ok(conf->limits.result_max == 40000, "default result size 40000 characters");
	ok(conf->limits.sessions_max == 64 && conf->limits.drain_timeout == 10 &&
	    conf->limits.call_timeout == 120, "default limits");
	ok(config_default_host(conf) == NULL, "no default host when empty");

	h1 = config_host_new(conf);
	h2 = config_host_new(conf);
	ok(h1->id == 1 && h2->id == 2, "host ids 1.. in order");
	ok(h1->port == 22, "default port 22");
	ok(strcmp(h1->delegate.claude, "claude") == 0 &&
	    h1->delegate.timeout == 600, "delegate defaults");
	strlcpy(h1->name, "one", sizeof(h1->name));
	strlcpy(h2->name, "two", sizeof(h2->name));
	ok(config_host_byname(conf, "two") == h2, "byname");
	ok(config_host_byname(conf, "three") == NULL, "byname unknown");
	ok(config_host_byid(conf, 1) == h1, "byid");
	ok(config_host_byid(conf, 0) == NULL, "byid 0 is no host");
	strlcpy(conf->default_host, "two", sizeof(conf->default_host));
	ok(config_default_host(conf) == h2, "default host");
	config_free(conf);

	TAILQ_INIT(&sl);
	ok(strlist_add(&sl, "a") == 0 && strlist_add(&sl, "b") == 0,
	    "strlist_add");
	ok(strcmp(TAILQ_FIRST(&sl)->s, "a") == 0 &&
	    strcmp(TAILQ_LAST(&sl, strlist)->s, "b") == 0, "strlist order");
	strlist_free(&sl);
	ok(TAILQ_EMPTY(&sl), "strlist_free empties");

	ok(strcmp(cap_name(CAP_READ), "read") == 0 &&
	    strcmp(cap_name(CAP_FORWARD), "forward") == 0, "cap_name");
	ok(cap_name(0) == NULL && cap_name(CAP_READ | CAP_WRITE) == NULL,
	    "cap_name of no single bit");

	/* relay rules: a socket principal's uid, a group's uids */
	ok(config_principal_uid("uid 0", &uid) == 0 && uid == 0 &&
	    config_principal_uid("uid 4294967295", &uid) == 0 &&
	    uid == 4294967295U, "config_principal_uid of uid 0 and the "
	    "largest");
	ok(config_principal_uid("uid 4294967296", &uid) == -1 &&
	    config_principal_uid("uid 01", &uid) == -1 &&
	    config_principal_uid("uid -1", &uid) == -1 &&
	    config_principal_uid("uid +1", &uid) == -1 &&
	    config_principal_uid("uid  1", &uid) == -1 &&
	    config_principal_uid("uid 1 ", &uid) == -1 &&
	    config_principal_uid("uid ", &uid) == -1 &&
	    config_principal_uid("uid1", &uid) == -1 &&
	    config_principal_uid("web", &uid) == -1 &&
	    config_principal_uid("delegate:run1", &uid) == -1,
	    "config_principal_uid refuses all but \"uid N\" as printed");
	conf = config_new();
	rr = &conf->relay_rules[conf->nrelay_rules++];
	strlcpy(rr->pattern, "team:*", sizeof(rr->pattern));
	strlcpy(rr->group, "team", sizeof(rr->group));
	rr->rights = RELAY_SEND | RELAY_RECEIVE;
	rr->uids[rr->nuids++] = 0;
	rr->uids[rr->nuids++] = 65534;
	ok(config_relay_may(conf, "team:x", "uid 7", "uid 65534",
	    RELAY_RECEIVE) && config_relay_may(conf, "team:x", "uid 7",
	    "uid 0", RELAY_SEND), "a group rule lets its uids in");
	ok(!config_relay_may(conf, "team:x", "uid 7", "uid 65533",
	    RELAY_RECEIVE) && !config_relay_may(conf, "other:x", "uid 7",
	    "uid 65534", RELAY_RECEIVE) && !config_relay_may(conf, "team:x",
	    "uid 7", "uid 65534", RELAY_CLEAR), "but no other uid, channel "
	    "or right");
	ok(!config_relay_may(conf, "team:x", "uid 7", "web",
	    RELAY_RECEIVE) && !config_relay_may(conf, "team:x", "uid 7",
	    "delegate:run1", RELAY_RECEIVE) && !config_relay_may(conf,
	    "team:x", "uid 7", "uid 065534", RELAY_RECEIVE),
	    "an HTTP or back-channel principal never matches a group rule");
	rr->nuids = 0;
	ok(!config_relay_may(conf, "team:x", "uid 7", "uid 65534",
	    RELAY_RECEIVE) && !config_relay_may(conf, "team:x", "uid 7",
	    "web", RELAY_RECEIVE), "a group rule of no uids is nobody's, "
	    "not everyone's");
	ok(config_relay_may(conf, "team:x", "uid 7", "uid 7", RELAY_CLEAR),
	    "the creator may anything still");
	config_free(conf);

	write_conf("p = 22\n"
	    "host \"a\" {\n"
	    "\taddress \"a.example\" port $p\n"
	    "\tuser \"u\"\n"
	    "\tallow read, exec\n"
	    "\texec allow { \"git\" }\n"
	    "\tforward to \"127.0.0.1\" port 5432\n"
	    "\tbase dir \"/srv\"\n"
	    "}\n"
	    "host \"b\" {\n"
	    "\taddress \"b.example\"\n"
	    "\tuser \"u\"\n"
	    "\tbase dir none\n"
	    "}\n");
	conf = parse_config(path, 0);
	ok(conf != NULL, "parse a two-host config");
	if (conf == NULL)
		return tap_done();
	h = config_host_byname(conf, "a");
	ok(h != NULL && h->id == 1 && h->line == 2, "host a: id 1, line 2");
	ok(h != NULL && h->caps == (CAP_READ | CAP_EXEC) && h->allow_line == 5,
	    "caps and allow_line");
	ok(h != NULL && h->has_exec_allow && h->exec_allow_line == 6,
	    "exec allow and its line");
	fr = h == NULL ? NULL : TAILQ_FIRST(&h->fwdrules);
	ok(fr != NULL && fr->hostid == 1 && fr->line == 7 &&
	    fr->dir == FWD_TO && fr->port == 5432, "forward rule");
	ok(config_default_host(conf) == NULL,
	    "two hosts, no default host given: none");
	ok(h != NULL && strcmp(h->base_dir, "/srv") == 0 &&
	    h->base_dir_line == 8, "base dir and its line");
	h = config_host_byname(conf, "b");
	ok(h != NULL && h->base_dir[0] == '\0' && h->base_dir_line == 13,
	    "base dir none: unconfined, its line kept");
	config_free(conf);

	/* a -D macro wins over the file and survives to the next parse */
	ok(cmdline_symset("p=2200") == 0, "cmdline_symset");
	ok(cmdline_symset("novalue") == -1, "cmdline_symset without =");
	ok(cmdline_symset("bad name=1") == -1, "cmdline_symset bad name");
	for (n = 0; n < 2; n++) {
		conf = parse_config(path, 0);
		h = conf == NULL ? NULL : config_host_byname(conf, "a");
		ok(h != NULL && h->port == 2200, "-D overrides, parse %d", n + 1);
		config_free(conf);
	}

	/* a broken file gives NULL; a good one parses again afterwards */
	write_conf("host \"a\" {\n\tuser \"u\"\n}\n");
	ok(freopen("/dev/null", "w", stderr) != NULL, "silence stderr");
	ok(parse_config(path, 0) == NULL, "host without address rejected");
	write_conf("host \"a\" {\n\taddress \"x\"\n\tuser \"u\"\n}\n");
	ok(parse_config(path, 0) == NULL, "host without base dir rejected");
	/* the local checks: an identity that is not there */
	write_conf("host \"a\" {\n\taddress \"x\"\n\tuser \"u\"\n"
	    "\tbase dir none\n\tidentity \"/nonexistent/key\"\n"
	    "\thost key \"ssh-ed25519 AAAA\"\n}\n");
	conf = parse_config(path, 0);
	ok(conf != NULL, "identity not looked at without conf_check_local");
	config_free(conf);
	conf_check_local = 1;
	ok(parse_config(path, 0) == NULL, "a missing identity is refused "
	    "with conf_check_local");
	conf_check_local = 0;
	ok(confcheck_identity("/nonexistent/key", err, sizeof(err)) == -1 &&
	    strstr(err, "ssh-keygen") != NULL, "missing identity: says how "
	    "to make one");
	ok(chmod(path, 0644) == 0 && confcheck_identity(path, err,
	    sizeof(err)) == -1 && strstr(err, "chmod 600") != NULL, "identity mode 0644: chmod 600");
	/* libssh's verdict is bridged-ssh -K's, the build tree's here */
	sshworker_find("../../bridged/bridged");
	ok(strcmp(sshworker_path, "../../bridged/bridged-ssh") == 0,
	    "the ssh worker's program beside bridged");
	ok(chmod(path, 0600) == 0 && confcheck_identity(path, err,
	    sizeof(err)) == -1 && strstr(err, "not a private key") != NULL,
	    "identity that is no key");
	strlcpy(sshworker_path, "/nonexistent/bridged-ssh",
	    sizeof(sshworker_path));
	ok(confcheck_identity(path, err, sizeof(err)) == -1 &&
	    strstr(err, "cannot be run") != NULL, "no ssh worker's "
	    "program: the identity cannot be checked, and it says why");
	/*
	 * A key libssh loaded is not asked about again while the file is
	 * unchanged: with no program to ask, the same file still passes;
	 * rewritten, it is asked about, and cannot be.
	 */
	sshworker_find("../../bridged/bridged");
	snprintf(key, sizeof(key), "%s.key", path);
	unlink(key);
	err[0] = '\0';
	ok(snprintf(cmd, sizeof(cmd), "ssh-keygen -q -t ed25519 -N '' -f %s "
	    ">/dev/null 2>&1", key) > 0 && system(cmd) == 0 &&
	    confcheck_identity(key, err, sizeof(err)) == 0,
	    "a key without a passphrase passes (%s)", err);
	strlcpy(sshworker_path, "/nonexistent/bridged-ssh",
	    sizeof(sshworker_path));
	ok(confcheck_identity(key, err, sizeof(err)) == 0,
	    "the same file again: not asked about again");
	ok(rename(path, key) == 0 && chmod(key, 0600) == 0 &&
	    confcheck_identity(key, err, sizeof(err)) == -1 &&
	    strstr(err, "cannot be run") != NULL, "another file by that name: "
	    "asked about again");
	rename(key, path);
	unlink(key);
	snprintf(cmd, sizeof(cmd), "%s.pub", key);
	unlink(cmd);
	sshworker_find("/nonexistent/sbin/bridged");
	ok(strcmp(sshworker_path, "/nonexistent/sbin/../libexec/bridged-ssh")
	    == 0, "none beside bridged: in the libexec beside its sbin, where "
	    "make install puts it");
	ok(confcheck_dir("transfer root", "/nonexistent/dir", err,
	    sizeof(err)) == -1 && strstr(err, "mkdir -p") != NULL,
	    "missing transfer root: mkdir -p");
	ok(confcheck_group("no-such-group-bridged", err, sizeof(err)) == -1 &&
	    strstr(err, "does not exist") != NULL, "unknown group");
	ok(confcheck_user("no-such-user-bridged", 1, err, sizeof(err)) == -1,
	    "unknown user");
	write_conf("host \"only\" {\n\taddress \"x\"\n\tuser \"u\"\n"
	    "\tbase dir none\n}\n");
	conf = parse_config(path, 0);
	ok(conf != NULL && config_default_host(conf) != NULL &&
	    strcmp(config_default_host(conf)->name, "only") == 0,
	    "a single host is the default");
	config_free(conf);
	ok(parse_config("/nonexistent/bridged.conf", 0) == NULL,
	    "missing file rejected");

	unlink(path);
	return tap_done();
}
