/*
 * fe_hosts.c: a configured host as JSON, joined with what its ssh worker
 * last reported (fe_ssh.c): the hosts tool and bridgectl show hosts both
 * show it this way.
 *
 * Runs in the frontend; the worker's strings are bounded and made valid
 * UTF-8 here, since they come from another process.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <string.h>

#include <jansson.h>

#include "bridged.h"
#include "frontend.h"
#include "fe_tools.h"

static json_t	*str_or_null(const char *, size_t);
static const char *conn_name(int32_t);

/* A fixed-size string from a peer: bounded, made valid UTF-8. */
static json_t *
str_or_null(const char *buf, size_t size)
{
	size_t	 len = strnlen(buf, size);

	if (len == 0)
		return json_null();
	return mcp_stringn(buf, len);
}

static const char *
conn_name(int32_t state)
{
	switch (state) {
	case HOST_DISCONNECTED:
		return "disconnected";
	case HOST_CONNECTING:
		return "connecting";
	case HOST_CONNECTED:
		return "connected";
	case HOST_FAILED:
		return "failed";
	}
	return "unknown";
}

/* The ssh worker's view of one host, as JSON (hosts tool, bridgectl). */
json_t *
host_state_json(const struct host_state *hs)
{
	return json_pack("{s:s, s:o, s:I, s:I, s:I, s:I, s:o, s:o}",
	    "state", conn_name(hs->state),
	    "since", hs->since > 0 ? json_integer(hs->since) : json_null(),
	    "connections", (json_int_t)hs->connections,
	    "channels", (json_int_t)hs->channels,
	    "bytes_in", (json_int_t)hs->bytes_in,
	    "bytes_out", (json_int_t)hs->bytes_out,
	    "fingerprint", str_or_null(hs->fingerprint,
	    sizeof(hs->fingerprint)),
	    "last_error", str_or_null(hs->last_error,
	    sizeof(hs->last_error)));
}

/*
 * One configured host joined with the state its worker last reported;
 * a host with no worker running is "idle" (nothing connected).
 */
json_t *
host_json(struct host *h)
{
	struct host		*def;
	struct host_state	 hs;
	json_t			*o, *caps, *st;
	pid_t			 pid;
	uint32_t		 bit, restarts;
	int			 running;

	if ((caps = json_array()) == NULL)
		return NULL;
	for (bit = 1; bit != 0; bit <<= 1)
		if ((h->caps & bit) && cap_name(bit) != NULL)
			json_array_append_new(caps, json_string(cap_name(bit)));
	def = config_default_host(frontend_conf);
	o = json_pack("{s:o, s:o, s:i, s:o, s:o, s:o, s:o, s:b}",
	    "name", mcp_string(h->name),
	    "address", mcp_string(h->address),
	    "port", (int)h->port,
	    "via", h->via[0] != '\0' ? mcp_string(h->via) : json_null(),
	    "user", mcp_string(h->user),
	    "capabilities", caps,
	    "base_dir", mcp_string(h->base_dir),
	    "default", h == def);
	if (o == NULL)
		return NULL;
	running = fe_ssh_state(h->name, &hs, &pid, &restarts);
	if ((st = host_state_json(&hs)) != NULL) {
		json_object_update(o, st);
		json_decref(st);
	}
	if (!running && hs.state != HOST_FAILED)
		json_object_set_new(o, "state", json_string("idle"));
	json_object_set_new(o, "worker_pid", pid > 0 ?
	    json_integer(pid) : json_null());
	json_object_set_new(o, "worker_restarts", json_integer(restarts));
	return o;
}

/*
 * hosts: the configuration joined with what each host's worker last
 * reported (fe_ssh.c); answered here, without waiting on any host.
 */
int
hosts_run(struct mcp_call *call, json_t *args)
{
	struct host	*h;
	const char	*key;
	json_t		*v, *arr, *o;

	json_object_foreach(args, key, v) {
		char	 k[64];

		strlcpy(k, key, sizeof(k));
		mcp_utf8_trunc(k);
		mcp_call_text(call, 1, "hosts takes no arguments; remove "
		    "\"%s\"", k);
		return 0;
	}
	if ((arr = json_array()) == NULL)
		return -1;
	TAILQ_FOREACH(h, &frontend_conf->hosts, entry) {
		/* an HTTP principal sees the hosts it may use */
		if (!http_principal_may(call->session, h->name))
			continue;
		if ((o = host_json(h)) == NULL ||
		    json_array_append_new(arr, o) == -1) {
			json_decref(arr);
			return -1;
		}
	}
	if ((o = json_pack("{s:o}", "hosts", arr)) == NULL)
		return -1;
	mcp_call_structured(call, o);
	return 0;
}
