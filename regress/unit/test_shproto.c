/*
 * test_shproto: what ssh_shproto.c tells a persistent shell, checked as
 * text (the form each command takes, what the set-up's answer means)
 * and then in a real bash, started as the worker starts it (its commands
 * on descriptor 3, stdin /dev/null) but with no ssh in between: the
 * set-up, then commands of every form, short and long, ASCII and not,
 * each followed by its marker lines with its status and directory.
 */

#include <sys/types.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event.h>
#include <jansson.h>

#include "bridged.h"
#include "text.h"
#include "ssh.h"
#include "ssh_shell.h"
#include "ssh_shellint.h"
#include "tap.h"

static void	 learn_cases(void);
static void	 form_cases(void);
static void	 bash_cases(void);
static int	 run_bash(const struct sbuf *, struct sbuf *, struct sbuf *);
static void	 drain(int, struct sbuf *);

static void
learn_cases(void)
{
	static const struct {
		const char	*answer;
		enum shform	 form;
		long		 pid, pgid;
	} t[] = {
		{ "4242 4241 fr\n", SHFORM_FASTREAD, 4242, 4241 },
		{ "4242 4241 f\n", SHFORM_MARKFN, 4242, 4241 },
		{ "4242 4241\n", SHFORM_PLAIN, 4242, 4241 },
		{ "4242 4241", SHFORM_PLAIN, 4242, 4241 },
		/* no group, a pid of 1, junk after: neither is believed */
		{ "4242\n", SHFORM_PLAIN, 0, 0 },
		{ "1 4241 fr\n", SHFORM_FASTREAD, 0, 0 },
		{ "4242 4241 fx\n", SHFORM_MARKFN, 0, 0 },
		{ "4242 4241 f r\n", SHFORM_MARKFN, 0, 0 },
		{ "bash: line 1: printf: not found\n", SHFORM_PLAIN, 0, 0 },
		{ "", SHFORM_PLAIN, 0, 0 },
	};
	size_t		 i;
	enum shform	 form;
	long		 pid, pgid;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		pid = pgid = -1;
		form = shproto_learn(t[i].answer, &pid, &pgid);
		ok(form == t[i].form && pid == t[i].pid && pgid == t[i].pgid,
		    "set-up answer \"%.*s\": form %d, pid %ld, group %ld",
		    (int)strcspn(t[i].answer, "\n"), t[i].answer, (int)form,
		    pid, pgid);
	}
}

static int
starts(const struct sbuf *sb, const char *prefix)
{
	return sb->len >= strlen(prefix) &&
	    memcmp(sb->p, prefix, strlen(prefix)) == 0;
}

static int
ends(const struct sbuf *sb, const char *suffix)
{
	size_t	 n = strlen(suffix);

	return sb->len >= n && memcmp(sb->p + sb->len - n, suffix, n) == 0;
}

static void
form_cases(void)
{
	const char	*m = "MMMMMMMMMMMMMMMMMMMMMM";	/* MARKER_LEN */
	char		 c31[32], c32[33], want[128];
	struct sbuf	 sb = { 0 };

	memset(c31, 'x', 31);
	c31[31] = '\0';
	memset(c32, 'x', 32);
	c32[32] = '\0';

	shproto_command(&sb, c31, m, SHFORM_FASTREAD);
	ok(starts(&sb, "eval 'xxx") && ends(&sb, "'; \\__bridged_mark "
	    "MMMMMMMMMMM MMMMMMMMMMM\n"), "31 bytes go as a line, even where "
	    "the shell reads long ones whole");
	sb_free(&sb);

	shproto_command(&sb, c32, m, SHFORM_FASTREAD);
	snprintf(want, sizeof(want), "\\__bridged_get %d a;eval "
	    "\"$__bridged_c\";\\__bridged_end\n%s", MARKER_LEN + 32, m);
	ok(starts(&sb, want) && ends(&sb, c32) && sb.len == strlen(want) +
	    32, "32 ASCII bytes go as their count, marked ASCII, then the "
	    "marker and the bytes");
	sb_free(&sb);

	c32[5] = (char)0xc3;	/* not ASCII: no " a" */
	shproto_command(&sb, c32, m, SHFORM_FASTREAD);
	snprintf(want, sizeof(want), "\\__bridged_get %d;eval", MARKER_LEN +
	    32);
	ok(starts(&sb, want), "32 bytes not all ASCII are not marked ASCII");
	sb_free(&sb);

	shproto_command(&sb, c32, m, SHFORM_MARKFN);
	ok(starts(&sb, "eval '") && ends(&sb, "; \\__bridged_mark "
	    "MMMMMMMMMMM MMMMMMMMMMM\n"), "bash 4: a long command is a line "
	    "too");
	sb_free(&sb);

	shproto_command(&sb, "it's", m, SHFORM_PLAIN);
	ok(starts(&sb, "eval 'it'\\''s' </dev/null; printf ") &&
	    ends(&sb, " >&2\n") && strstr(sb.p, "\"$?\" \"$PWD\"") != NULL,
	    "sh: quoted, the markers printed inline with status and PWD");
	sb_free(&sb);
}

/* everything fd says until it ends */
static void
drain(int fd, struct sbuf *out)
{
	char	 buf[4096];
	ssize_t	 n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		sb_add(out, buf, n);
}

static int	 count(const char *, const char *);
static int	 run_shell(const char *, const struct sbuf *, struct sbuf *,
		    struct sbuf *);

static int
run_bash(const struct sbuf *input, struct sbuf *out, struct sbuf *err)
{
	return run_shell("/bin/bash", input, out, err);
}

/*
 * sh as SHELL_EXEC starts it where there is no bash (but reading its
 * commands from descriptor 3 too)
 */
static void
sh_cases(void)
{
	struct sbuf	 in = { 0 }, out = { 0 }, err = { 0 }, setup = { 0 };
	char		 m[2][MARKER_LEN + 1], line[512];
	enum shform	 form;
	long		 pid, pgid;
	int		 rc;

	if (access("/bin/dash", X_OK) == -1) {
		ok(0, "/bin/dash is there");
		return;
	}
	shproto_setup(&setup, "/tmp");
	shproto_marker(m[0]);
	shproto_marker(m[1]);
	shproto_command(&in, setup.p, m[0], SHFORM_PLAIN);
	shproto_command(&in, "set -x; echo e1 >&2; (exit 5)", m[1],
	    SHFORM_PLAIN);
	rc = run_shell("/bin/dash", &in, &out, &err);
	sb_add(&out, "", 1);
	sb_add(&err, "", 1);
	form = shproto_learn(out.p, &pid, &pgid);
	ok(rc == 0 && form == SHFORM_PLAIN && pgid == 4242, "dash parses and "
	    "runs the set-up: sh's form (%d), its group %ld (rc %d)",
	    (int)form, pgid, rc);
	snprintf(line, sizeof(line), "%s 5 /tmp %s\n", m[1], m[1]);
	ok(strstr(out.p, line) != NULL && strstr(err.p, "e1\n") != NULL &&
	    count(err.p, m[1]) == 1, "dash: a traced command's status, "
	    "directory and stderr, the marker whole once");
	sb_free(&in);
	sb_free(&out);
	sb_free(&err);
	sb_free(&setup);
}

/*
 * bash as SHELL_EXEC starts it, without the watchdog: input on
 * descriptor 3, stdin /dev/null; out and err are what it printed.
 */
static int
run_shell(const char *shell, const struct sbuf *input, struct sbuf *out,
    struct sbuf *err)
{
	int	 in[2], o[2], e[2], status;
	pid_t	 pid;

	if (pipe(in) == -1 || pipe(o) == -1 || pipe(e) == -1)
		return -1;
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		int	 null;

		if ((null = open("/dev/null", O_RDONLY)) == -1 ||
		    dup2(in[0], 3) == -1 || dup2(null, 0) == -1 ||
		    dup2(o[1], 1) == -1 || dup2(e[1], 2) == -1)
			_exit(127);
		closefrom(4);
		/* the user's locale, in which a character may be 2 bytes */
		setenv("LC_ALL", "C.UTF-8", 1);
		if (strcmp(shell, "/bin/bash") == 0)
			execl(shell, "bash", "--noprofile", "--norc",
			    "/dev/fd/3", "4242", (char *)NULL);
		else
			execl(shell, "sh", "/dev/fd/3", "4242", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(o[1]);
	close(e[1]);
	/* small enough for the pipe: written whole, then closed */
	if (write(in[1], input->p, input->len) != (ssize_t)input->len)
		return -1;
	close(in[1]);
	/* both are small (in their pipes whole): stdout, then stderr */
	drain(o[0], out);
	drain(e[0], err);
	close(o[0]);
	close(e[0]);
	if (waitpid(pid, &status, 0) == -1)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
bash_cases(void)
{
	struct sbuf	 in = { 0 }, out = { 0 }, err = { 0 }, setup = { 0 };
	char		 m[4][MARKER_LEN + 1], line[512], *big;
	const char	*cmds[4];
	enum shform	 form;
	long		 pid, pgid;
	size_t		 i;
	int		 rc;

	if (access("/bin/bash", X_OK) == -1) {
		ok(0, "/bin/bash is there");
		return;
	}
	/* a 2 KB command with one letter that is not ASCII */
	if ((big = malloc(2100)) == NULL)
		return;
	strlcpy(big, "v=\"\xc3\xa9", 2100);
	memset(big + 5, 'y', 2000);
	big[2005] = '\0';
	strlcat(big, "\"; printf '%s' \"${#v}\" >&2; false", 2100);
	cmds[0] = "cd /tmp";
	cmds[1] = "echo short; (exit 3)";
	cmds[2] = big;
	cmds[3] = "printf 'long enough to be read whole: %s\\n' \"$PWD\"";

	/* the set-up first, as the worker sends it: a plain line */
	for (i = 0; i < 4; i++)
		shproto_marker(m[i]);
	shproto_setup(&setup, "/");
	shproto_command(&in, setup.p, m[0], SHFORM_PLAIN);
	rc = run_bash(&in, &out, &err);
	sb_add(&out, "", 1);
	snprintf(line, sizeof(line), "%s 0 / %s\n", m[0], m[0]);
	ok(rc == 0 && strstr(out.p, line) != NULL, "set-up ran, in /");
	form = shproto_learn(out.p, &pid, &pgid);
	ok(form == SHFORM_FASTREAD, "bash 5 reads long commands whole (form "
	    "%d)", (int)form);
	ok(pid > 1 && pgid == 4242, "set-up told its pid %ld and group %ld",
	    pid, pgid);
	sb_free(&in);
	sb_free(&out);
	sb_free(&err);

	/* then the commands in that form, one shell for all */
	shproto_command(&in, setup.p, m[0], SHFORM_PLAIN);
	for (i = 0; i < 4; i++) {
		shproto_marker(m[i]);
		shproto_command(&in, cmds[i], m[i], form);
	}
	rc = run_bash(&in, &out, &err);
	sb_add(&out, "", 1);
	sb_add(&err, "", 1);
	ok(rc == 0, "bash ended well (%d)", rc);
	snprintf(line, sizeof(line), "%s 0 /tmp %s\n", m[0], m[0]);
	ok(strstr(out.p, line) != NULL, "cd: status 0, and the directory "
	    "stays");
	snprintf(line, sizeof(line), "short\n%s 3 /tmp %s\n", m[1], m[1]);
	ok(strstr(out.p, line) != NULL, "a short command's output, then "
	    "its status 3");
	snprintf(line, sizeof(line), "%s 1 /tmp %s\n", m[2], m[2]);
	ok(strstr(out.p, line) != NULL, "2 KB not ASCII: run whole, status "
	    "1");
	snprintf(line, sizeof(line), "%s\n2001%s\n", m[1], m[2]);
	ok(strstr(err.p, line) != NULL, "... its bytes intact, run in the "
	    "user's locale (2001 characters, 2002 bytes)");
	snprintf(line, sizeof(line), "long enough to be read whole: /tmp\n"
	    "%s 0 /tmp %s\n", m[3], m[3]);
	ok(strstr(out.p, line) != NULL, "a long ASCII command after it is "
	    "in step");
	snprintf(line, sizeof(line), "%s\n", m[3]);
	ok(strstr(err.p, line) != NULL, "every command's stderr marker "
	    "came");
	sb_free(&in);
	sb_free(&out);
	sb_free(&err);
	sb_free(&setup);
	free(big);
}

/* how many times needle is in the NUL-terminated haystack */
static int
count(const char *hay, const char *needle)
{
	int	 n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay++;
	}
	return n;
}

/*
 * What a command may do to its shell that must not put the markers out
 * of step: trace itself (set -x: the traces hold a marker's halves, not
 * the marker), move its stderr into its stdout or both away (exec 2>&1,
 * exec >/dev/null: the markers go to the channel's own descriptors),
 * and go where $PWD is longer than the longest path (printed cut).
 */
static void
hostile_cases(enum shform want, const char *what)
{
	struct sbuf	 in = { 0 }, out = { 0 }, err = { 0 }, setup = { 0 };
	char		 m[6][MARKER_LEN + 1], line[512], *p, *e;
	const char	*cmds[6];
	enum shform	 form;
	long		 pid, pgid;
	size_t		 i;
	int		 rc;

	cmds[0] = "set -x; echo e0 >&2";
	cmds[1] = "set +x; echo e1 >&2";
	cmds[2] = "exec 2>&1; echo e2 >&2";
	cmds[3] = "exec >/dev/null 2>/dev/null; echo gone; echo gone >&2";
	/* 17 directories of 250 bytes: a $PWD of 4,267 */
	cmds[4] = "cd /tmp && d=$(printf 'd%0249d' 0) && for i in 1 2 3 4 5 6"
	    " 7 8 9 10 11 12 13 14 15 16 17; do mkdir -p \"$d\" && cd \"$d\""
	    " || exit 9; done";
	cmds[5] = "cd /tmp; rm -rf \"/tmp/$(printf 'd%0249d' 0)\"";
	shproto_setup(&setup, "/");
	shproto_marker(m[0]);
	shproto_command(&in, setup.p, m[0], SHFORM_PLAIN);
	rc = run_bash(&in, &out, &err);
	sb_add(&out, "", 1);
	form = shproto_learn(out.p, &pid, &pgid);
	if (want == SHFORM_FASTREAD)
		ok(form == want, "%s: the set-up kept the channel's "
		    "descriptors (form %d)", what, (int)form);
	sb_free(&in);
	sb_free(&out);
	sb_free(&err);

	shproto_command(&in, setup.p, m[0], SHFORM_PLAIN);
	for (i = 0; i < 6; i++) {
		shproto_marker(m[i]);
		shproto_command(&in, cmds[i], m[i], want);
	}
	rc = run_bash(&in, &out, &err);
	sb_add(&out, "", 1);
	sb_add(&err, "", 1);
	ok(rc == 0, "%s: bash ended well (%d)", what, rc);
	snprintf(line, sizeof(line), "e0\n");
	ok(strstr(err.p, line) != NULL && strstr(err.p, "+ echo e0") !=
	    NULL, "%s: set -x: the command's stderr and its trace", what);
	ok(count(err.p, m[0]) == 1 && count(out.p, m[0]) == 2, "%s: set -x:"
	    " the traces do not hold the marker (%d on stderr, %d on "
	    "stdout)", what, count(err.p, m[0]), count(out.p, m[0]));
	ok(count(err.p, m[1]) == 1 && count(out.p, m[1]) == 2, "%s: traced "
	    "set +x: in step", what);
	if (want == SHFORM_PLAIN)
		goto done;
	snprintf(line, sizeof(line), "e2\n%s 0 / %s\n", m[2], m[2]);
	ok(strstr(out.p, line) != NULL && count(err.p, m[2]) == 1,
	    "%s: exec 2>&1: its stderr on stdout, each marker on its own "
	    "stream", what);
	ok(strstr(out.p, "gone") == NULL && strstr(err.p, "gone") == NULL &&
	    count(out.p, m[3]) == 2 && count(err.p, m[3]) == 1,
	    "%s: exec >/dev/null 2>/dev/null: its output gone, the markers "
	    "not", what);
	snprintf(line, sizeof(line), "%s 0 /tmp/d0", m[4]);
	p = strstr(out.p, line);
	snprintf(line, sizeof(line), " %s\n", m[4]);
	e = p != NULL ? strstr(p, line) : NULL;
	ok(e != NULL, "%s: a $PWD longer than a path: the marker line comes",
	    what);
	snprintf(line, sizeof(line), "%s 0 /tmp %s\n", m[5], m[5]);
	ok(e != NULL && e - (p + MARKER_LEN + 3) == PATH_MAX &&
	    strstr(out.p, line) != NULL, "%s: ... cut at %d bytes, and in "
	    "step after", what, PATH_MAX);
done:
	sb_free(&in);
	sb_free(&out);
	sb_free(&err);
	sb_free(&setup);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	learn_cases();
	form_cases();
	bash_cases();
	hostile_cases(SHFORM_FASTREAD, "bash 5");
	hostile_cases(SHFORM_MARKFN, "bash 4's form");
	hostile_cases(SHFORM_PLAIN, "sh's form");
	sh_cases();
	return tap_done();
}
