/*
 * ssh_shproto.c: the words between the ssh worker and a persistent
 * shell: how the shell is started, the set-up it is sent first and what
 * it answers, and the form each command is sent in.
 *
 * A command is sent to a persistent shell (ssh_shell.c) as
 *
 *	eval 'COMMAND' </dev/null; printf '%s%s %d %.4096s %s%s\n' A B "$?" \
 *	    "$PWD" A B; printf '%s%s\n' A B >&2
 *
 * with the command single-quoted by shquote() and M = AB a fresh random
 * marker of 22 letters and digits (131 bits): the command cannot know M,
 * so nothing it prints can end its own output early.  M is only ever
 * printed from its halves A and B, so a trace of the shell (set -x, set
 * -v) holds them apart and never M.  $PWD is cut at PATH_MAX bytes, so
 * the line fits the window it is looked for in (ssh_shout.c), and one
 * as long is taken for unknown.  Each marker line
 * has its newline at its end only: bash's stdout is line-buffered, and a
 * newline ahead of M would be a write, an SSH packet and a wake-up of
 * ours of its own.  bash reads a pipe one byte at a time (a read(2) per
 * byte), so where the shell is bash the two printfs are a function the
 * set-up defined read-only (MARK_FN: it cannot be redefined or unset) and
 * a command is sent as
 *
 *	eval 'COMMAND' </dev/null; \__bridged_mark A B
 *
 * (the backslash keeps an alias from standing in for it); the function
 * takes the command's status from $? as it is entered.  bash's functions
 * print to descriptors 61 and 62, the channel's stdout and stderr as the
 * set-up found them, so a command that moves its own (exec 2>&1, exec
 * >/dev/null) still ends; where they cannot be made (a low ulimit -n)
 * the shell is taken for sh, whose markers a command that moves its
 * descriptors loses (it then runs to its timeout).  That line still
 * costs bash a read(2) per byte of the command: about 1 us each, 2 ms for
 * a command of 4 KB (a script in a here-document).  So where bash 5 reads
 * its commands from descriptor 255 (the set-up checks), a command of
 * FAST_MIN bytes or more is sent as the line
 *
 *	\__bridged_get N[ a];eval "$__bridged_c";\__bridged_end
 *
 * and then N bytes, M and the command: GET_FN takes them with one
 * `read -N' (bash reads a count it was given in one read(2), as it must
 * read a line a byte at a time: it may not take what comes after), and
 * END_FN prints the marker lines as MARK_FN does.  -N counts characters
 * of the shell's locale, so GET_FN reads with a local LC_ALL=C, where a
 * character is a byte, whatever the command's bytes are; the function's
 * return gives the shell back the user's locale (bash sets it again as
 * the local goes), in which the command is then parsed and run.  Where
 * a user made LC_ALL read-only and not C (the local cannot be made), an
 * ASCII command (marked " a" after N) is read as before, a character a
 * byte in every locale in use, under the user's set -e and set -u too;
 * any other ends the shell with a line saying why, as a get that cannot
 * take its bytes does, for the count would be of characters.  Shorter
 * commands go as before.
 * The command is done when the marker line has arrived on both stdout
 * and stderr; the stdout line also carries the exit status and the
 * working directory.  What came before M on each stream is the command's
 * output, to the byte.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event.h>
#include <jansson.h>

#include "bridged.h"
#include "ssh.h"
#include "ssh_shell.h"
#include "ssh_shellint.h"

#define MARK_FN			"__bridged_mark"
/* a long command in one read(2) (see the top of this file) */
#define GET_FN			"__bridged_get"
#define END_FN			"__bridged_end"
#define FAST_VAR		"__bridged_c"
#define FAST_MVAR		"__bridged_m"
#define FAST_NVAR		"__bridged_n"
#define FAST_MIN		32	/* bytes: shorter ones cost as much */
/* a marker is printed as its two halves: traces (set -x) hold a half */
#define HALF			(MARKER_LEN / 2)
/* the marker lines, the working directory at most PATH_MAX bytes */
#define OUT_LINE		"%%s%%s %%d %%.4096s %%s%%s\\n"
/* the channel's stdout and stderr, kept where exec 2>&1 cannot move them */
#define OUT_FD			"61"
#define ERR_FD			"62"
#define FLAG_VAR		"__bridged_f"
/*
 * sh (dash) takes descriptors above 9 for a syntax error as it parses,
 * and the set-up is parsed whole, bash's part too: it names them through
 * an eval and read-only variables
 */
#define OUT_VAR			"__bridged_o"
#define ERR_VAR			"__bridged_e"
/* true in bash reading its commands from /dev/fd/3 (SHELL_EXEC) */
#define BASH_FD3		"[ -n \"${BASH_VERSION:-}\" ] &&" \
				" [ \"${BASH_SOURCE:-}\" = /dev/fd/3 ]"

/*
 * Which shell runs commands: bash without start files, else sh, reading
 * the commands through the watchdog's cat (ssh_killtree.c), with the
 * session's process group id (the first process's pid) as $1.
 */
#define SHELL_EXEC	"{ command -v bash >/dev/null 2>&1 &&" \
			" [ -r /dev/fd/0 ] && exec bash --noprofile --norc" \
			" /dev/fd/3 \"$$\" 3<&0 </dev/null; exec sh -s \"$$\"; }"

/* every byte below 0x80 */
static int
is_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

void
shproto_marker(char *m)
{
	/* fewer bytes than hex for as many bits: bash reads them one by one */
	rand_alnum(m, MARKER_LEN);
}

/* the exec request of a shell's channel */
void
shproto_exec(struct sbuf *sb)
{
	/* the shell reads its commands through the watchdog */
	watchdog_pipe(sb, "cat");
	sb_str(sb, SHELL_EXEC);
}

/*
 * The set-up: our pid and the session's group, then $1 is cleared; bash
 * gets MARK_FN (a third field says so).  Its first line keeps $? as the
 * function was entered, the command's status.  bash 5 whose script (its
 * commands) is descriptor 255, the pipe it was given as 3, gets GET_FN
 * and END_FN too (" fr").  GET_FN ends the shell if it cannot take what
 * it was told to: the commands are out of step.  Then the base dir, if
 * the host has one.
 */
void
shproto_setup(struct sbuf *sb, const char *base_dir)
{
	sb_printf(sb, FLAG_VAR "=; __bridged_r=; if " BASH_FD3 " && eval"
	    " '{ exec " OUT_FD ">&1 " ERR_FD ">&60; } 60>&2 2>/dev/null';"
	    " then readonly " OUT_VAR "=" OUT_FD " " ERR_VAR "=" ERR_FD "; "
	    FLAG_VAR "=f; [ \"${BASH_VERSINFO[0]}\" -ge 5 ] 2>/dev/null &&"
	    " [ /dev/fd/255 -ef /dev/fd/3 ] && __bridged_r=r;"
	    " exec 3<&-; BASH_ARGV0=bash; "
	    MARK_FN "() { builtin printf '" OUT_LINE "' \"$1\" \"$2\" \"$?\""
	    " \"$PWD\" \"$1\" \"$2\" >&$" OUT_VAR "; builtin printf '%%s%%s\\n'"
	    " \"$1\" \"$2\" >&$" ERR_VAR "; };"
	    " " GET_FN "() { builtin local TMOUT= LC_ALL=C 2>/dev/null ||"
	    " builtin :; [[ $LC_ALL = C || ${2-} = a ]] ||"
	    " { builtin printf '%%s\\n'"
	    " 'bridged: LC_ALL is read-only and not C, so a command that is"
	    " not ASCII cannot be read whole; the shell ends' >&2;"
	    " builtin exit 1; }; builtin unset -v " FAST_VAR " "
	    FAST_MVAR " " FAST_NVAR "; builtin read -r -N \"$1\" -u 255 "
	    FAST_VAR " && " FAST_MVAR "=${" FAST_VAR ":0:%d} && " FAST_NVAR
	    "=${" FAST_VAR ":%d:%d} && " FAST_VAR "=${" FAST_VAR ":%d} ||"
	    " builtin exit 1; };"
	    " " END_FN "() { builtin printf '" OUT_LINE "' \"$" FAST_MVAR "\""
	    " \"$" FAST_NVAR "\" \"$?\" \"$PWD\" \"$" FAST_MVAR "\" \"$"
	    FAST_NVAR "\" >&$" OUT_VAR "; builtin printf '%%s%%s\\n' \"$"
	    FAST_MVAR "\" \"$" FAST_NVAR "\" >&$" ERR_VAR "; };"
	    " readonly -f " MARK_FN " " GET_FN " " END_FN "; fi;"
	    " printf '%%s %%s' \"$$\" \"${1:-0}\"; [ -n \"$" FLAG_VAR "\" ] &&"
	    " printf ' f%%s' \"$__bridged_r\"; echo; unset " FLAG_VAR
	    " __bridged_r; set --", HALF, HALF, MARKER_LEN - HALF, MARKER_LEN);
	if (base_dir[0] != '\0') {
		sb_str(sb, "; cd -- ");
		shquote(sb, base_dir);
	}
}

/*
 * What the set-up printed, "PID PGID[ f[r]]": the form the shell takes
 * its commands in, and its pid and group (0 and 0 when they are not
 * numbers above 1 or something else follows).
 */
enum shform
shproto_learn(const char *s, long *pid, long *pgid)
{
	enum shform	 form = SHFORM_PLAIN;
	char		*e;

	*pid = strtol(s, &e, 10);
	*pgid = *e == ' ' ? strtol(e + 1, &e, 10) : 0;
	if (strncmp(e, " f", 2) == 0) {
		form = SHFORM_MARKFN;
		e += 2;
		if (*e == 'r') {
			form = SHFORM_FASTREAD;
			e++;
		}
	}
	if (*pid <= 1 || *pgid <= 1 || (*e != '\n' && *e != '\0'))
		*pid = *pgid = 0;
	return form;
}

/* the line (and bytes) that send command, marked, in the shell's form */
void
shproto_command(struct sbuf *sb, const char *command, const char *marker,
    enum shform form)
{
	size_t	 len = strlen(command);

	if (form == SHFORM_FASTREAD && len >= FAST_MIN) {
		sb_printf(sb, "\\" GET_FN " %zu%s;eval \"$" FAST_VAR "\";"
		    "\\" END_FN "\n%s", MARKER_LEN + len,
		    is_ascii(command) ? " a" : "", marker);
		sb_add(sb, command, len);
	} else {
		sb_str(sb, "eval ");
		shquote(sb, command);
		if (form != SHFORM_PLAIN)
			sb_printf(sb, "; \\" MARK_FN " %.*s %s\n", HALF,
			    marker, marker + HALF);
		else
			sb_printf(sb, " </dev/null; printf '" OUT_LINE "'"
			    " %.*s %s \"$?\" \"$PWD\" %.*s %s; printf"
			    " '%%s%%s\\n' %.*s %s >&2\n", HALF, marker,
			    marker + HALF, HALF, marker, marker + HALF, HALF,
			    marker, marker + HALF);
	}
}
