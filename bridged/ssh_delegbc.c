/*
 * ssh_delegbc.c: the back-channel of a delegation, in the ssh worker.
 *
 * On a host with delegate { relay "PATTERN" } the frontend hands each
 * ask_claude run a one-time token in the arguments ("_backchan", which
 * no client can send: the frontend refuses unknown parameters and sets
 * this one after the audit record).  The run gets an MCP server named
 * bridged: an --mcp-config file
 *
 *	{"mcpServers":{"bridged":{"type":"http",
 *	    "url":"http://127.0.0.1:PORT/mcp",
 *	    "headers":{"Authorization":"Bearer TOKEN"}}}}
 *
 * where PORT is the host's published port (the reverse forward back to
 * our HTTP listener), its relay tools in --allowedTools, a fixed
 * session id (--session-id, or the one it resumes) so that its messages
 * can carry it from the first, and a note after the prompt naming the
 * channel and the tools.
 *
 * The token never goes on a command line: the file's bytes go first on
 * the channel's stdin, before the prompt's, and the delegation's shell
 * writes them with head -c N into ~/.bridged/mcp-KEY-RAND.json, made
 * 0600 in a subshell with umask 077 and noclobber (so a file or link
 * planted there is refused, not followed).  KEY is the host block's, as
 * for the file tools' temp records (ssh_rfile.c); RAND is new for each
 * run.  The file is removed when the run ends, whatever the way (a fixed
 * rm on another channel), and the name is the record: the sweep of a
 * new worker (files_sweep) removes every mcp-KEY-*.json but those of the
 * runs it holds, so a worker's death costs no token file for long; one
 * whose rm could not be sent (no connection) asks for the sweep again.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event.h>
#include <jansson.h>

#include "bridged.h"
#include "log.h"
#include "ssh.h"
#include "ssh_files.h"
#include "ssh_shell.h"
#include "ssh_deleg.h"

#define BC_TOKEN_LEN	64
#define BC_TOOLS	"channel_send", "channel_receive", "channel_ack", \
			"channel_list", "channel_status"

struct delegbc {
	uint32_t		 id;
	char			 token[BC_TOKEN_LEN + 1];
	int			 port;
	char			 pattern[DELEG_RELAY_LEN];
	char			 channel[RELAY_NAME_LEN];
	char			 session[40];
	int			 fresh;		/* --session-id: a new one */
	char			 file[96];	/* in the home */
	size_t			 jsonlen;
};

static const char *const bc_tools[] = { BC_TOOLS };

/* a v4 UUID, for --session-id */
static void
uuid_new(char *buf, size_t len)
{
	uint8_t	 r[16];

	arc4random_buf(r, sizeof(r));
	r[6] = (r[6] & 0x0f) | 0x40;
	r[8] = (r[8] & 0x3f) | 0x80;
	snprintf(buf, len, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5],
	    r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]);
}

static int
hex_ok(const char *s, size_t n)
{
	size_t	 i;

	if (strlen(s) != n)
		return 0;
	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

/*
 * The frontend's back-channel of this call, checked (it is the only
 * sender, but a malformed one must not reach a shell).  *out NULL: the
 * run has none.  -1: err says why.
 */
int
delegbc_new(struct sshcall *call, const char *resume, struct delegbc **out,
    char *err, size_t errlen)
{
	struct host	*h = call->host->conf;
	struct delegbc	*bc;
	json_t		*o;
	const char	*tok, *pat, *ch, *key;
	json_int_t	 id, port;

	*out = NULL;
	if ((o = json_object_get(call->args, "_backchan")) == NULL)
		return 0;
	tok = json_string_value(json_object_get(o, "token"));
	pat = json_string_value(json_object_get(o, "pattern"));
	id = json_integer_value(json_object_get(o, "id"));
	port = json_integer_value(json_object_get(o, "port"));
	ch = json_string_value(json_object_get(call->args, "report_channel"));
	if (!json_is_object(o) || tok == NULL || !hex_ok(tok, BC_TOKEN_LEN) ||
	    pat == NULL || strlen(pat) >= DELEG_RELAY_LEN || id <= 0 ||
	    id > UINT32_MAX || port <= 0 || port > 65535 || (ch != NULL &&
	    strlen(ch) >= RELAY_NAME_LEN)) {
		snprintf(err, errlen, "a malformed back-channel from the "
		    "frontend");
		return -1;
	}
	if (h == NULL || strcmp(h->delegate.relay, pat) != 0) {
		snprintf(err, errlen, "the host's delegate relay changed; "
		    "try again");
		return -1;
	}
	if ((key = files_key(call->host)) == NULL) {
		snprintf(err, errlen, "the host is no longer configured");
		return -1;
	}
	if ((bc = calloc(1, sizeof(*bc))) == NULL)
		fatal(NULL);
	bc->id = id;
	strlcpy(bc->token, tok, sizeof(bc->token));
	bc->port = port;
	strlcpy(bc->pattern, pat, sizeof(bc->pattern));
	if (ch != NULL)
		strlcpy(bc->channel, ch, sizeof(bc->channel));
	if (resume != NULL)
		strlcpy(bc->session, resume, sizeof(bc->session));
	else {
		uuid_new(bc->session, sizeof(bc->session));
		bc->fresh = 1;
	}
	snprintf(bc->file, sizeof(bc->file), ".bridged/mcp-%s-%08x%08x.json",
	    key, arc4random(), arc4random());
	*out = bc;
	return 0;
}

/* what goes first on stdin: the --mcp-config file's bytes */
void
delegbc_json(struct sbuf *sb, struct delegbc *bc)
{
	size_t	 before = sb->len;

	sb_printf(sb, "{\"mcpServers\":{\"bridged\":{\"type\":\"http\","
	    "\"url\":\"http://127.0.0.1:%d/mcp\",\"headers\":{"
	    "\"Authorization\":\"Bearer %s\"}}}}\n", bc->port, bc->token);
	bc->jsonlen = sb->len - before;
}

/*
 * The shell writes them (after the pid line, before anything else reads
 * stdin); F names the file for --mcp-config.  Exit 124: not written.
 */
void
delegbc_cmd_file(struct sbuf *cmd, struct delegbc *bc)
{
	sb_str(cmd, "F=\"$HOME\"/");
	shquote(cmd, bc->file);
	sb_printf(cmd, "; (umask 077; D=\"$HOME\"/.bridged; { [ -d \"$D\" ] ||"
	    " mkdir -- \"$D\"; } && [ ! -L \"$D\" ] && set -C &&"
	    " head -c %zu >\"$F\") || { echo 'cannot write the back-channel"
	    " file ~/'", bc->jsonlen);
	shquote(cmd, bc->file);
	sb_str(cmd, " >&2; exit 124; }; ");
}

/* claude's arguments: its MCP server and session id */
void
delegbc_cmd_args(struct sbuf *cmd, struct delegbc *bc)
{
	sb_str(cmd, " --mcp-config \"$F\"");
	if (bc->fresh) {
		sb_str(cmd, " --session-id ");
		shquote(cmd, bc->session);
	}
}

/* the relay tools, for --allowedTools */
void
delegbc_allowed(struct sbuf *cmd, struct delegbc *bc)
{
	size_t	 i;

	for (i = 0; i < sizeof(bc_tools) / sizeof(bc_tools[0]); i++)
		sb_printf(cmd, " 'mcp__bridged__%s'", bc_tools[i]);
}

/* after the task and its context: what the delegate is given */
void
delegbc_prompt(struct sbuf *prompt, struct delegbc *bc)
{
	sb_str(prompt, "\n\n## Reporting back\n\nYou have an MCP server "
	    "named bridged with relay tools: mcp__bridged__channel_send "
	    "(channel, content) posts a message, "
	    "mcp__bridged__channel_receive (channel, since_id) reads the "
	    "messages after since_id, and mcp__bridged__channel_list, "
	    "mcp__bridged__channel_status and mcp__bridged__channel_ack. ");
	if (bc->channel[0] != '\0')
		sb_printf(prompt, "Report your progress and your findings on "
		    "the channel \"%s\"; whoever gave you this task reads it. ",
		    bc->channel);
	sb_printf(prompt, "You may use only channels whose names match "
	    "\"%s\".\n", bc->pattern);
}

/* the frontend learns whose token it is, before claude can use it */
void
delegbc_started(struct deleg *d)
{
	struct ssh_backchan	 sb;

	if (d->bc == NULL)
		return;
	memset(&sb, 0, sizeof(sb));
	sb.id = d->bc->id;
	sb.deleg = d->id;
	strlcpy(sb.job_id, d->job_id, sizeof(sb.job_id));
	strlcpy(sb.session_id, d->bc->session, sizeof(sb.session_id));
	if (ssh_compose(PROC_FRONTEND, IMSG_SSH_BACKCHAN, 0, -1, &sb,
	    sizeof(sb)) == -1)
		log_warn("back-channel %u", sb.id);
}

/*
 * The run ended (or never started, written 0): the token goes, and the
 * file with it, on host (NULL: the host is gone; the next worker's
 * sweep has it).
 */
void
delegbc_end(struct deleg *d, struct sshhost *host, int written)
{
	struct delegbc	*bc = d->bc;
	struct sbuf	 cmd = { 0 };

	if (bc == NULL)
		return;
	d->bc = NULL;
	if (ssh_compose(PROC_FRONTEND, IMSG_SSH_BACKCHAN_END, 0, -1, &bc->id,
	    sizeof(bc->id)) == -1)
		log_warn("back-channel %u", bc->id);
	if (written && host != NULL) {
		sb_str(&cmd, "rm -f -- \"$HOME\"/");
		shquote(&cmd, bc->file);
		sb_str(&cmd, "; exit 0");
		if (kill_command(host, cmd.p) == -1) {
			log_warnx("host \"%s\": cannot remove ~/%s now; the "
			    "next sweep will", host->name, bc->file);
			files_sweep_again(host);
		}
		sb_free(&cmd);
	}
	explicit_bzero(bc->token, sizeof(bc->token));
	free(bc);
}

/* the sweep keeps the files of the runs still holding a token */
void
delegbc_keep(struct sshhost *host, struct sbuf *sb)
{
	struct deleg	*d;
	const char	*base;

	TAILQ_FOREACH(d, &delegs, entry) {
		if (d->bc == NULL || d->host != host)
			continue;
		base = strrchr(d->bc->file, '/') + 1;
		sb_printf(sb, "|%s", base);
	}
}
