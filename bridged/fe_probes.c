/*
 * fe_probes.c: the conformance probes.  The official MCP conformance
 * suite checks parts of the protocol through tools of its own fixture
 * server, called by name: one that relies on a client capability, one
 * whose answer is streamed, one that logs.  A client block with "probe
 * tools" (bridged.conf(5)) is offered these, so that the suite can run
 * those checks against bridged itself; no other principal sees them,
 * and they read no file and reach no host.
 *
 * Runs in the frontend.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <string.h>

#include <jansson.h>

#include "bridged.h"
#include "frontend.h"
#include "fe_mcp.h"
#include "fe_tools.h"

/* the capabilities a session's principal has of its own */
uint32_t
session_caps(struct mcp_session *s)
{
	struct client	*c;

	if (s == NULL || s->transport == NULL ||
	    strcmp(s->transport, "http") != 0 ||
	    (c = config_client_byname(frontend_conf, s->principal)) == NULL)
		return 0;
	return c->probes ? CAP_PROBE : 0;
}

/* the probes take no arguments: a stray one is named */
static int
probe_args(struct mcp_call *call, json_t *args)
{
	return params_check(call, call->tool->params, args);
}

/*
 * test_missing_capability: reached only when the client declared
 * sampling (fe_jsonrpc.c refuses it otherwise).  bridged never samples,
 * so there is nothing to ask of the client.
 */
int
probe_missing_run(struct mcp_call *call, json_t *args)
{
	if (probe_args(call, args) == -1)
		return 0;
	mcp_call_text(call, 0, "the client declared sampling; this probe "
	    "asks nothing of it");
	return 0;
}

/*
 * test_streaming_elicitation: reached with elicitation declared.  The
 * answer carries a progress notification first when the client gave a
 * token; bridged never sends a request on a response stream.
 */
int
probe_stream_run(struct mcp_call *call, json_t *args)
{
	if (probe_args(call, args) == -1)
		return 0;
	mcp_notify_progress(call, 1, 2, "probe: half way");
	mcp_call_text(call, 0, "streamed: the client declared elicitation; "
	    "bridged sends it no request");
	return 0;
}

/*
 * test_logging_tool: a message at info and one at debug, each sent
 * only if the request's log level (legacy: the session's) lets it
 * through; a 2026-07-28 request without one gets none.
 */
int
probe_log_run(struct mcp_call *call, json_t *args)
{
	if (probe_args(call, args) == -1)
		return 0;
	mcp_call_log(call, MCPLOG_INFO, "probe: a log message at info");
	mcp_call_log(call, MCPLOG_DEBUG, "probe: a log message at debug");
	mcp_call_text(call, 0, "logged at info and debug, where the log "
	    "level let them through");
	return 0;
}
