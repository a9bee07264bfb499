/*
 * fe_scope.c: where the state of a modern (2026-07-28) call lives.
 *
 * A legacy session's state that spans calls (its persistent shell per
 * host, its background commands, its forwards) is keyed in the ssh
 * workers by the MCP session id, and dies with the session.  A modern
 * request has no session: it is stateless, and any connection of the
 * same client may send the next one.  So its state is keyed by a
 * "scope" instead, an id taken from the sessions' own space (the
 * workers cannot tell it from a session and need no change), and every
 * scope is bound to the principal that made it: the peer uid of the
 * connection the request came on.
 *
 * - The principal's scope: one per uid.  Background commands (bash_N),
 *   forwards and everything else a modern call leaves behind live in
 *   it, so their ids work from any modern request of that uid and from
 *   no other: another uid's scope does not hold them, and the workers
 *   answer "no such ..." exactly as for an id that never existed.
 * - Shell scopes: a modern Bash call without a "shell" argument gets a
 *   new persistent shell and its handle ("sh_..."), minted here and
 *   returned in the result; a later call passes it back as "shell" to
 *   run in the same shell.  BashOutput, TaskOutput, KillShell and
 *   TaskStop take "shell" too, for the background commands started
 *   with one.  A handle names state; it never authorises: one
 *   presented by another principal is refused as if it did not exist.
 *   A principal holds at most SCOPE_SHELLS_MAX shells; one idle for
 *   SCOPE_SHELL_IDLE seconds, or the least recently used beyond the
 *   limit, is ended (its shells on every host are killed).
 *
 * ask_claude jobs are the daemon's in both eras and are bound to the
 * principal by the ssh worker itself (the uid travels in every call).
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event.h>
#include <jansson.h>

#include "bridged.h"
#include "frontend.h"
#include "log.h"
#include "fe_mcp.h"
#include "fe_tools.h"

#ifndef nitems
#define nitems(a)		(sizeof(a) / sizeof((a)[0]))
#endif

#define SCOPE_SHELLS_MAX	16
#define SCOPE_SHELL_IDLE	3600	/* seconds */

struct scope {
	TAILQ_ENTRY(scope)	 entry;
	uint32_t		 sessid;	/* the workers' key */
	uid_t			 uid;		/* the principal */
	char			 handle[SCOPE_HANDLE_LEN]; /* "": uid's own */
	time_t			 used;
};

static TAILQ_HEAD(, scope)	 scopes = TAILQ_HEAD_INITIALIZER(scopes);

/* the tools whose calls may name a shell */
static const char *shell_tools[] = {
	"Bash", "BashOutput", "KillShell", "TaskOutput", "TaskStop",
};

static struct scope	*scope_new(uid_t, int);
static void		 scope_end(struct scope *);
static void		 scope_sweep(uid_t);

int
scope_tool(const char *name)
{
	size_t	 i;

	for (i = 0; name != NULL && i < nitems(shell_tools); i++)
		if (strcmp(name, shell_tools[i]) == 0)
			return 1;
	return 0;
}

/* the modern inputSchema of a shell tool has "shell" (changed in place) */
json_t *
scope_schema(json_t *schema)
{
	json_t	*props = json_object_get(schema, "properties");

	if (json_is_object(props))
		json_object_set_new(props, "shell", json_pack("{s:s, s:s}",
		    "type", "string", "description", "The shell handle an "
		    "earlier Bash result gave: run in that persistent shell "
		    "(its working directory and variables).  Without it, "
		    "Bash starts a new shell and returns its handle"));
	return schema;
}

static struct scope *
scope_new(uid_t uid, int shell)
{
	struct scope	*sc;

	if ((sc = calloc(1, sizeof(*sc))) == NULL)
		return NULL;
	sc->sessid = mcp_session_newid();
	sc->uid = uid;
	sc->used = time(NULL);
	if (shell)
		snprintf(sc->handle, sizeof(sc->handle), "sh_%u_%08x%08x",
		    sc->sessid, arc4random(), arc4random());
	TAILQ_INSERT_TAIL(&scopes, sc, entry);
	return sc;
}

static void
scope_end(struct scope *sc)
{
	log_debug("shell %s of uid %u ended", sc->handle, (unsigned)sc->uid);
	(void)fe_ssh_broadcast(IMSG_SSH_SESSION_END, 0, &sc->sessid,
	    sizeof(sc->sessid), NULL);
	fe_jobs_session_end(sc->sessid);
	TAILQ_REMOVE(&scopes, sc, entry);
	free(sc);
}

/* idle shells end; a principal over its limit loses the oldest used */
static void
scope_sweep(uid_t uid)
{
	struct scope	*sc, *next, *lru;
	time_t		 now = time(NULL);
	int		 n;

	TAILQ_FOREACH_SAFE(sc, &scopes, entry, next)
		if (sc->handle[0] != '\0' && now - sc->used > SCOPE_SHELL_IDLE)
			scope_end(sc);
	for (;;) {
		n = 0;
		lru = NULL;
		TAILQ_FOREACH(sc, &scopes, entry) {
			if (sc->uid != uid || sc->handle[0] == '\0')
				continue;
			n++;
			if (lru == NULL || sc->used < lru->used)
				lru = sc;
		}
		if (n < SCOPE_SHELLS_MAX || lru == NULL)
			return;
		scope_end(lru);
	}
}

/*
 * Give a modern call its scope (call->sessid): the shell it names, a new
 * shell for Bash, else its principal's.  -1: refused and answered.
 */
int
scope_bind(struct mcp_call *call)
{
	struct scope	*sc;
	json_t		*v;
	const char	*name = call->tool->name;
	char		 shown[SCOPE_HANDLE_LEN];

	if (scope_tool(name) &&
	    (v = json_object_get(call->args, "shell")) != NULL) {
		if (!json_is_string(v)) {
			mcp_call_text(call, 1, "%s: shell must be a string: "
			    "the handle an earlier Bash result gave", name);
			return -1;
		}
		TAILQ_FOREACH(sc, &scopes, entry)
			if (sc->handle[0] != '\0' && sc->uid == call->uid &&
			    strcmp(sc->handle, json_string_value(v)) == 0)
				break;
		if (sc == NULL) {
			/* another principal's is the same as none at all */
			mcp_shown(shown, sizeof(shown), json_string_value(v));
			mcp_call_text(call, 1, "%s: no shell \"%s\": it never "
			    "existed, has ended (idle or too many), or is not "
			    "yours; call Bash without \"shell\" to start a new "
			    "one", name, shown);
			return -1;
		}
		sc->used = time(NULL);
		call->sessid = sc->sessid;
		json_object_del(call->args, "shell");
		return 0;
	}
	if (strcmp(name, "Bash") == 0 && !json_is_true(json_object_get(
	    call->args, "run_in_background"))) {
		scope_sweep(call->uid);
		if ((sc = scope_new(call->uid, 1)) == NULL) {
			mcp_call_text(call, 1, "internal error: out of memory");
			return -1;
		}
		strlcpy(call->shell, sc->handle, sizeof(call->shell));
		call->sessid = sc->sessid;
		return 0;
	}
	TAILQ_FOREACH(sc, &scopes, entry)
		if (sc->handle[0] == '\0' && sc->uid == call->uid)
			break;
	if (sc == NULL && (sc = scope_new(call->uid, 0)) == NULL) {
		mcp_call_text(call, 1, "internal error: out of memory");
		return -1;
	}
	sc->used = time(NULL);
	call->sessid = sc->sessid;
	return 0;
}

/* a result that minted a shell says its handle, to the model and in _meta */
void
scope_result(struct mcp_call *call, json_t *r)
{
	json_t	*content, *meta;
	char	*text;

	if (call->shell[0] == '\0')
		return;
	content = json_object_get(r, "content");
	if (json_is_array(content) && asprintf(&text, "[shell: %s; pass "
	    "\"shell\": \"%s\" to the next Bash call to run in this shell]",
	    call->shell, call->shell) != -1) {
		json_array_append_new(content, json_pack("{s:s, s:s}",
		    "type", "text", "text", text));
		free(text);
	}
	if (!json_is_object(meta = json_object_get(r, "_meta"))) {
		meta = json_object();
		json_object_set_new(r, "_meta", meta);
	}
	json_object_set_new(meta, "bridged/shell", json_string(call->shell));
}
