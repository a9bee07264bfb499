/*
 * test_shquote: every string shquote() makes a word of must come back
 * from a real shell byte for byte: sh -c 'printf %s WORD'.
 */

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridged.h"
#include "text.h"
#include "tap.h"

#define RANDOM_STRINGS	1000
#define RANDOM_LEN	200

static int	 roundtrip(const char *, const char *, const char *);
static int	 run(const char *, const char *, struct sbuf *);

/* what the shell printed into out; -1 if it did not run or failed */
static int
run(const char *shell, const char *cmd, struct sbuf *out)
{
	char	 buf[4096];
	pid_t	 pid;
	ssize_t	 n;
	int	 fd[2], status;

	if (pipe(fd) == -1)
		return -1;
	switch ((pid = fork())) {
	case -1:
		close(fd[0]);
		close(fd[1]);
		return -1;
	case 0:
		close(fd[0]);
		if (dup2(fd[1], STDOUT_FILENO) == -1)
			_exit(127);
		execl(shell, shell, "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	for (;;) {
		if ((n = read(fd[0], buf, sizeof(buf))) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (n == 0)
			break;
		sb_add(out, buf, n);
	}
	close(fd[0]);
	if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		return -1;
	return 0;
}

/* 1 when shell prints exactly s back */
static int
roundtrip(const char *shell, const char *s, const char *what)
{
	struct sbuf	 cmd = { 0 }, out = { 0 };
	int		 good;

	sb_str(&cmd, "printf %s ");
	shquote(&cmd, s);
	sb_add(&out, "", 0);
	good = run(shell, cmd.p, &out) == 0 && out.len == strlen(s) &&
	    memcmp(out.p, s, out.len) == 0;
	if (!good && what != NULL)
		printf("# %s: sent [%s], got %zu bytes [%s]\n", shell, cmd.p,
		    out.len, out.p);
	sb_free(&cmd);
	sb_free(&out);
	return good;
}

int
main(void)
{
	static const char	*hostile[] = {
		"",
		"plain",
		"two words",
		"  leading and trailing spaces  ",
		"tab\there",
		"'",
		"''",
		"it's",
		"'leading and trailing'",
		"\"double\" \"quotes\"",
		"$HOME $0 $$ ${PATH} $(id) $((1+1))",
		"`id` and `echo hi`",
		"$(rm -rf /nonexistent-dir-for-test)",
		"line one\nline two\n",
		"\n",
		"\r\n",
		"* ? [a-z] ** {a,b} ~ ~root",
		"-n",
		"-e -E --",
		"--help",
		"\\ \\\\ \\n \\' \\\"",
		"; echo pwned; # & | > < >> 2>&1",
		"!bang !! !$",
		"%s %d %% %n",
		"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 "
		    "\xe6\x97\xa5\xe6\x9c\xac",
		"\xff\xfe invalid \xc3 UTF-8 \x80",
		"\x01\x02\x1b[31mcontrol\x7f",
		"'\"'\"'\"$(`'`)\"'",
	};
	const char	*shells[] = { "/bin/sh", "/bin/bash" };
	char		 s[RANDOM_LEN + 1];
	size_t		 i, j, k, len;
	unsigned int	 seed = 20261121;
	int		 bad;

	for (k = 0; k < sizeof(shells) / sizeof(shells[0]); k++) {
		if (access(shells[k], X_OK) == -1) {
			ok(1, "%s # SKIP not installed", shells[k]);
			continue;
		}
		for (i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
			ok(roundtrip(shells[k], hostile[i], "hostile"),
			    "%s: hostile string %zu comes back intact",
			    shells[k], i);

		/* NUL cannot be in an argument; every other byte can */
		srandom(seed);
		bad = 0;
		for (i = 0; i < RANDOM_STRINGS; i++) {
			len = random() % (RANDOM_LEN + 1);
			for (j = 0; j < len; j++)
				s[j] = 1 + random() % 255;
			s[len] = '\0';
			if (!roundtrip(shells[k], s, bad < 3 ? "random" :
			    NULL))
				bad++;
		}
		ok(bad == 0, "%s: %d random byte strings (seed %u) come back "
		    "intact (%d did not)", shells[k], RANDOM_STRINGS, seed,
		    bad);
	}

	/* the shape itself: one word in single quotes, ' as '\'' */
	{
		struct sbuf	 q = { 0 };

		shquote(&q, "a'b");
		ok(q.p != NULL && strcmp(q.p, "'a'\\''b'") == 0,
		    "a'b is quoted as 'a'\\''b'");
		sb_free(&q);
		shquote(&q, "");
		ok(q.p != NULL && strcmp(q.p, "''") == 0,
		    "the empty string is quoted as ''");
		sb_free(&q);
	}
	return tap_done();
}
