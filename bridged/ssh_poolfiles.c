/*
 * ssh_poolfiles.c: the pool (ssh_pool.c) for the file tools, which block
 * (libssh's SFTP): sshconn_forfiles() finds their connection,
 * sshconn_sftp(), sshconn_exec() and sshconn_subsys() their channels.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event.h>
#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include "bridged.h"
#include "log.h"
#include "ssh.h"
#include "ssh_pool.h"

static void	 call_ready(struct sshwaiter *, struct sshconn *);
static void	 call_expire(struct sshwaiter *, const char *);
static void	 call_wait_cancel(struct sshcall *);

/* how long a call may still wait: its share of limits { call timeout } */
int
sshcall_ms_left(struct sshcall *call)
{
	struct timespec	 now;
	long long	 limit, spent;

	limit = (ssh_conf != NULL && ssh_conf->limits.call_timeout > 0 ?
	    ssh_conf->limits.call_timeout : CONF_CALL_TIMEOUT) * 1000LL;
	/* answer before the frontend gives up on the call */
	limit = limit > 2000 ? limit - 1000 : limit / 2;
	clock_gettime(CLOCK_MONOTONIC, &now);
	spent = (now.tv_sec - call->t0.tv_sec) * 1000LL +
	    (now.tv_nsec - call->t0.tv_nsec) / 1000000;
	return limit - spent > 1 ? (int)(limit - spent) : 1;
}

/* a connection with SFTP already, else one with room for it */
struct sshconn *
sshconn_forfiles(struct sshcall *call)
{
	struct sshhost		*host = call->host;
	struct sshconn		*c;
	struct sshwaiter	*w;

	TAILQ_FOREACH(c, &host->conns, entry)
		if (c->up && !c->dying && c->sftp != NULL)
			break;
	if (c != NULL || (c = pool_pick(host, 0)) != NULL) {
		c->lastuse = time(NULL);	/* in use: not idle */
		return c;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		fatal(NULL);
	w->host = host;
	w->ready = call_ready;
	w->expire = call_expire;
	w->arg = call;
	call->wait = w;
	call->cancel = call_wait_cancel;
	waiter_queue(w, sshcall_ms_left(call));
	return NULL;
}

/* room: the tool runs again from the start */
static void
call_ready(struct sshwaiter *w, struct sshconn *c)
{
	struct sshcall	*call = w->arg;

	waiter_stop(w);
	free(w);
	call->wait = NULL;
	call->cancel = NULL;
	call->run(call);
}

static void
call_expire(struct sshwaiter *w, const char *why)
{
	struct sshcall	*call = w->arg;

	waiter_stop(w);
	free(w);
	call->wait = NULL;
	call->cancel = NULL;
	sshcall_text(call, 1, "%s", why);
}

static void
call_wait_cancel(struct sshcall *call)
{
	struct sshwaiter	*w = call->wait;

	waiter_stop(w);
	free(w);
	call->wait = NULL;
	call->cancel = NULL;
	sshcall_text(call, 1, "cancelled while waiting for a free SSH"
	    " channel on host \"%s\"", call->host->name);
}

sftp_session
sshconn_sftp(struct sshconn *c, char *err, size_t errlen)
{
	struct sshhost	*host = c->host;
	sftp_session	 sftp;

	/*
	 * Its server ended (it crashed, was killed, or a limit on the host
	 * stopped it): the file tools would fail on it for as long as the
	 * connection lasts.  Another one starts in its place.
	 */
	if (c->sftp != NULL && (ssh_channel_is_closed(c->sftp->channel) ||
	    ssh_channel_is_eof(c->sftp->channel))) {
		log_warnx("host \"%s\": the SFTP server of connection %u "
		    "ended; starting another", host->name, c->id);
		/* the handles on it went with its server */
		files_sftp_gone(host, c->sftp);
		sftp_free(c->sftp);
		c->sftp = NULL;
		if (c->nchan > 0)
			c->nchan--;
		if (c->nsess > 0)
			c->nsess--;
	}
	if (c->sftp != NULL)
		return c->sftp;
	if (c->session == NULL || !c->up) {
		snprintf(err, errlen, "host \"%s\" is not connected",
		    host->name);
		return NULL;
	}
	if ((sftp = sftp_new(c->session)) == NULL) {
		if (pool_alive(c->session)) {
			c->cap = c->nsess;
			c->cap_until = time(NULL) + POOL_CAP_SECS;
			snprintf(err, errlen, "host \"%s\": cannot open an SFTP"
			    " channel: %s (the server allows %d sessions on a"
			    " connection? see sshd's MaxSessions and \"max"
			    " sessions\" in host \"%s\")", host->name,
			    sshconn_error(c->session, "open failed"),
			    c->nsess, host->name);
		} else
			snprintf(err, errlen, "host \"%s\": cannot open an SFTP"
			    " channel: %s", host->name,
			    sshconn_error(c->session, "the connection failed"));
		return NULL;
	}
	if (sftp_init(sftp) != SSH_OK) {
		snprintf(err, errlen, "host \"%s\": SFTP does not start (is"
		    " the sftp subsystem enabled in sshd_config?): %s",
		    host->name, sshconn_error(c->session,
		    "no answer to the sftp subsystem request"));
		sftp_free(sftp);
		return NULL;
	}
	c->sftp = sftp;
	c->nsess++;
	c->nchan++;
	c->lastuse = time(NULL);
	return sftp;
}

/*
 * A blocking channel for subsystem name on c itself, counted as one of
 * its sessions (Download's own SFTP channel, ssh_fdown.c); c's session
 * is blocking.  NULL when c has no room or the server said no, with why
 * in err: the caller does without.
 */
ssh_channel
sshconn_subsys(struct sshconn *c, const char *name, char *err,
    size_t errlen)
{
	ssh_channel	 ch;
	int		 rc;

	if (pool_room(c) <= 0) {
		snprintf(err, errlen, "no room for another channel");
		return NULL;
	}
	if ((ch = ssh_channel_new(c->session)) == NULL) {
		snprintf(err, errlen, "%s", sshconn_error(c->session,
		    "out of memory"));
		return NULL;
	}
	c->nsess++;
	c->nchan++;
	c->lastuse = time(NULL);
	if ((rc = ssh_channel_open_session(ch)) == SSH_AGAIN) {
		pool_abandon(c, ch, 0);
		snprintf(err, errlen, "no answer to the channel request");
		return NULL;
	}
	if (rc != SSH_OK) {
		snprintf(err, errlen, "channel refused: %s",
		    sshconn_error(c->session, "open failed"));
		sshconn_chclose(c, ch, NULL, 1);
		if (pool_alive(c->session)) {
			c->cap = c->nsess;
			c->cap_until = time(NULL) + POOL_CAP_SECS;
		}
		return NULL;
	}
	if ((rc = ssh_channel_request_subsystem(ch, name)) == SSH_AGAIN) {
		pool_abandon(c, ch, 1);
		snprintf(err, errlen, "no answer to the subsystem request");
		return NULL;
	}
	if (rc != SSH_OK) {
		snprintf(err, errlen, "subsystem %s refused: %s", name,
		    sshconn_error(c->session, "request refused"));
		sshconn_chclose(c, ch, NULL, 1);
		return NULL;
	}
	return ch;
}

/*
 * A blocking exec channel for a file tool: on c when it has room, else
 * on another connection that has; a refusal moves on to the next.
 * Bounded by libssh's timeout (SSHCONN_OPEN_SECS).
 */
ssh_channel
sshconn_exec(struct sshconn *c, const char *cmd, struct sshconn **on,
    char *err, size_t errlen)
{
	struct sshhost	*host = c->host;
	struct sshconn	*oc;
	ssh_channel	 ch;
	ssh_session	 s;
	int		 tries, rc, refused = 0, maxc;

	*on = NULL;
	maxc = host->conf != NULL ? host->conf->max_conns : CONF_MAX_CONNS;
	for (tries = 0; tries <= maxc; tries++) {
		if ((oc = pool_pick(host, c->id)) == NULL) {
			pool_why(host, refused, err, errlen);
			return NULL;
		}
		s = oc->session;
		if ((ch = ssh_channel_new(s)) == NULL) {
			snprintf(err, errlen, "host \"%s\": cannot make a"
			    " channel: %s", host->name,
			    sshconn_error(s, "out of memory"));
			return NULL;
		}
		oc->nsess++;
		oc->nchan++;
		oc->lastuse = time(NULL);
		rc = ssh_channel_open_session(ch);
		if (rc == SSH_AGAIN) {
			pool_abandon(oc, ch, 0);
			snprintf(err, errlen, "host \"%s\": no answer from the"
			    " server to the request for a channel in %d s",
			    host->name, SSHCONN_OPEN_SECS);
			return NULL;
		}
		if (rc != SSH_OK) {
			if (!pool_alive(s)) {
				snprintf(err, errlen, "host \"%s\": the"
				    " connection failed: %s", host->name,
				    sshconn_error(s, "connection closed"));
				sshconn_chclose(oc, ch, NULL, 1);
				return NULL;
			}
			sshconn_chclose(oc, ch, NULL, 1);
			oc->cap = oc->nsess;
			oc->cap_until = time(NULL) + POOL_CAP_SECS;
			refused = 1;
			continue;
		}
		rc = ssh_channel_request_exec(ch, cmd);
		if (rc == SSH_OK) {
			*on = oc;
			return ch;
		}
		if (rc == SSH_AGAIN) {
			pool_abandon(oc, ch, 1);
			snprintf(err, errlen, "host \"%s\": no answer from the"
			    " server to the exec request in %d s", host->name,
			    SSHCONN_OPEN_SECS);
			return NULL;
		}
		snprintf(err, errlen, "host \"%s\": the server did not run"
		    " the command: %s", host->name, sshconn_error(s,
		    "request refused"));
		sshconn_chclose(oc, ch, NULL, 1);
		return NULL;
	}
	pool_why(host, refused, err, errlen);
	return NULL;
}
