/*
 * fe_tasks.h: MCP tasks (fe_tasks.c), long tool calls (ask_claude,
 * background Bash) answered with a task handle and run as the jobs the
 * job_* and BashOutput/TaskStop tools already know.
 *
 * Two eras share one task table: the legacy "tasks" capability of
 * 2025-11-25 (tasks/get, tasks/result, tasks/list, tasks/cancel) and the
 * io.modelcontextprotocol/tasks extension of 2026-07-28 (tasks/get,
 * tasks/update, tasks/cancel).  Every handler takes the era of the
 * request it serves; fe_jsonrpc.c serves the legacy era through the
 * tasks_m_* wrappers in its method table.
 */

#ifndef FE_TASKS_H
#define FE_TASKS_H

#include <jansson.h>

struct mcp_session;
struct mcp_call;
struct tool;

enum task_era {
	TASK_ERA_LEGACY,	/* initialize-based, 2025-11-25 */
	TASK_ERA_2026,		/* per-request _meta, 2026-07-28 */
};

#define TASKS_EXTENSION		"io.modelcontextprotocol/tasks"
#define TASKS_RELATED		"io.modelcontextprotocol/related-task"
#define TASKS_CLIENT_CAPS	"io.modelcontextprotocol/clientCapabilities"
/* the first legacy revision that has tasks */
#define TASKS_LEGACY_VERSION	"2025-11-25"
#define JSONRPC_MISSING_CAP	-32021	/* 2026: client did not declare */

#define TASK_ID_LEN		48

/* capabilities.tasks (legacy) or capabilities.extensions[...] (2026) */
json_t	*tasks_capability(enum task_era);
/* tools/list: a tool's execution.taskSupport, or NULL: none */
const char *tasks_tool_support(const char *);
/*
 * tools/call: 1 the call became a task (answered now or soon with its
 * handle), -1 answered with an error, 0 not a task: run it as usual.
 * params is the request's params object; token its progressToken.
 */
int	 tasks_tools_call(struct mcp_session *, json_t *,
	    const struct tool *, json_t *, json_t *, enum task_era);
/* the methods; each answers the request (id) exactly once */
void	 tasks_get(struct mcp_session *, json_t *, json_t *, enum task_era);
void	 tasks_result(struct mcp_session *, json_t *, json_t *,
	    enum task_era);
void	 tasks_list(struct mcp_session *, json_t *, json_t *, enum task_era);
void	 tasks_cancel(struct mcp_session *, json_t *, json_t *,
	    enum task_era);
void	 tasks_update(struct mcp_session *, json_t *, json_t *,
	    enum task_era);
/* fe_jsonrpc.c's method table: the request's era */
void	 tasks_m_get(struct mcp_session *, json_t *, json_t *);
void	 tasks_m_result(struct mcp_session *, json_t *, json_t *);
void	 tasks_m_list(struct mcp_session *, json_t *, json_t *);
void	 tasks_m_cancel(struct mcp_session *, json_t *, json_t *);
void	 tasks_m_update(struct mcp_session *, json_t *, json_t *);
/* bridgectl, tests: tasks held */
int	 tasks_count(void);

#endif /* FE_TASKS_H */
