/*
 * fe_ctlrelay.c: the relay's part of the control socket: bridgectl show
 * channels, show channel NAME [-f] and clear channel NAME.
 *
 * Asked of the logger, which holds the relay (logger_relay.c), as an
 * operator who sees every channel.  A request is kept here by its
 * control connection's id until the logger answers; fe_control.c sends
 * the rows and the end for us (control_conn_*).  show channel -f stays:
 * after the latest messages, each send the logger reports
 * (IMSG_RELAY_EVENT) makes us ask for what came after the last id sent,
 * one request at a time per follower.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bridged.h"
#include "frontend.h"
#include "imsg.h"
#include "log.h"
#include "fe_relay.h"

enum creq_kind {
	CREQ_LIST = 1,		/* show channels */
	CREQ_SHOW,		/* show channel NAME */
	CREQ_CLEAR,		/* clear channel NAME */
	CREQ_FOLLOW,		/* show channel NAME -f */
};

struct creq {
	TAILQ_ENTRY(creq)	 entry;
	uint32_t		 id;		/* the control connection's */
	int			 kind;		/* enum creq_kind */
	char			 channel[RELAY_NAME_LEN];
	int64_t			 last;		/* follow: last id sent */
	int			 asking;	/* follow: a request is out */
	int			 pending;	/* follow: sends meanwhile */
};

static TAILQ_HEAD(, creq)	 creqs = TAILQ_HEAD_INITIALIZER(creqs);

static void	 follow_rows(struct creq *, json_t *);

static struct creq *
creq_find(uint32_t id)
{
	struct creq	*r;

	TAILQ_FOREACH(r, &creqs, entry)
		if (r->id == id)
			return r;
	return NULL;
}

static void
creq_free(struct creq *r)
{
	TAILQ_REMOVE(&creqs, r, entry);
	free(r);
}

int
ctlrelay_following(uint32_t id)
{
	struct creq	*r = creq_find(id);

	return r != NULL && r->kind == CREQ_FOLLOW;
}

void
ctlrelay_gone(uint32_t id)
{
	struct creq	*r;

	if ((r = creq_find(id)) != NULL)
		creq_free(r);
}

/* IMSG_CTL_SHOW_CHANNELS, _CLEAR_CHANNEL, _FOLLOW_CHANNEL: name or none */
void
ctlrelay_request(uint32_t id, uid_t uid, struct imsg *imsg)
{
	char		 name[RELAY_NAME_LEN];
	struct creq	*r;
	json_t		*req;
	char		*who;
	int		 kind;

	switch (imsg->hdr.type) {
	case IMSG_CTL_CLEAR_CHANNEL:
		kind = CREQ_CLEAR;
		break;
	case IMSG_CTL_FOLLOW_CHANNEL:
		kind = CREQ_FOLLOW;
		break;
	default:
		kind = imsg->datalen > 0 ? CREQ_SHOW : CREQ_LIST;
		break;
	}
	if (imsg->datalen >= sizeof(name) ||
	    (kind != CREQ_LIST && imsg->datalen == 0)) {
		control_conn_reply(id, IMSG_CTL_ERROR, "malformed request");
		return;
	}
	memcpy(name, imsg->data, imsg->datalen);
	name[imsg->datalen] = '\0';
	if (kind != CREQ_LIST && !relay_name_ok(name)) {
		control_conn_reply(id, IMSG_CTL_ERROR, "a channel name has 1 to "
		    "127 letters, digits, \".\", \"_\", \"-\" and \":\"");
		return;
	}
	if (frontend_conf->relay_db[0] == '\0') {
		control_conn_reply(id, IMSG_CTL_ERROR, "the relay is off: no "
		    "relay database in bridged.conf");
		return;
	}
	if (creq_find(id) != NULL) {
		control_conn_reply(id, IMSG_CTL_ERROR, "a request is already "
		    "in progress");
		return;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		control_conn_reply(id, IMSG_CTL_ERROR, "out of memory");
		return;
	}
	r->id = id;
	r->kind = kind;
	r->asking = 1;
	strlcpy(r->channel, name, sizeof(r->channel));
	req = json_pack("{s:s}", "op", kind == CREQ_CLEAR ? "clear" :
	    kind == CREQ_LIST ? "list" : "show");
	if (req != NULL && kind != CREQ_LIST)
		json_object_set_new(req, "channel", json_string(name));
	if (kind == CREQ_CLEAR) {
		/* its audit record names the operator who cleared it */
		log_info("control: clear channel %s by uid %d", name, (int)uid);
		if (req != NULL && asprintf(&who, "bridgectl uid %u",
		    (unsigned)uid) != -1) {
			json_object_set_new(req, "principal", json_string(who));
			free(who);
		}
	}
	TAILQ_INSERT_TAIL(&creqs, r, entry);
	if (relay_ctl_ask(id, req) != 0) {
		creq_free(r);
		control_conn_reply(id, IMSG_CTL_ERROR, "the relay is not "
		    "available now (the logger is restarting)");
	}
}

/*
 * show channel -f: the rows of an answer (the show's latest messages,
 * then each tail), sent as they come; the connection stays busy until
 * bridgectl goes or the daemon stops.
 */
static void
follow_rows(struct creq *r, json_t *ans)
{
	json_t		*msgs, *m, *ch;
	size_t		 i;
	uint32_t	 id;
	int		 rc;

	if ((msgs = json_object_get(ans, "messages")) == NULL) {
		ch = json_array_get(json_object_get(ans, "channels"), 0);
		if (ch == NULL) {
			id = r->id;
			creq_free(r);
			control_conn_reply(id, IMSG_CTL_ERROR,
			    "no such channel");
			return;
		}
		msgs = json_object_get(ch, "messages");
		r->last = json_integer_value(json_object_get(ch, "last_id"));
	}
	json_array_foreach(msgs, i, m) {
		if ((rc = control_conn_send(r->id, m)) != 0) {
			/* -2: closed, which freed r (ctlrelay_gone) */
			if (rc == -1)
				creq_free(r);
			return;
		}
		if (json_integer_value(json_object_get(m, "id")) > r->last)
			r->last = json_integer_value(json_object_get(m, "id"));
	}
	r->asking = 0;
	if (r->pending || json_is_true(json_object_get(ans, "more"))) {
		r->pending = 0;
		control_relay_event(r->channel);
	}
}

/* something was sent to channel: its followers ask what */
void
control_relay_event(const char *channel)
{
	struct creq	*r;
	json_t		*req;

	TAILQ_FOREACH(r, &creqs, entry) {
		if (r->kind != CREQ_FOLLOW || strcmp(r->channel, channel) != 0)
			continue;
		if (r->asking) {
			r->pending = 1;
			continue;
		}
		req = json_pack("{s:s, s:s, s:I}", "op", "tail", "channel",
		    channel, "since", (json_int_t)r->last);
		if (relay_ctl_ask(r->id, req) == 0)
			r->asking = 1;
	}
}

/* the logger's answer (NULL: none came), stolen */
void
control_relay_reply(uint32_t id, json_t *ans)
{
	struct creq	*r;
	json_t		*err, *o, *m;
	size_t		 i;
	char		 msg[256], channel[RELAY_NAME_LEN];
	int		 kind;

	if ((r = creq_find(id)) == NULL) {
		json_decref(ans);
		return;
	}
	if (r->kind == CREQ_FOLLOW && ans != NULL &&
	    json_object_get(ans, "error") == NULL) {
		follow_rows(r, ans);
		json_decref(ans);
		return;
	}
	/* answered once: sending may close the connection, which frees */
	kind = r->kind;
	strlcpy(channel, r->channel, sizeof(channel));
	creq_free(r);
	if (ans == NULL)
		control_conn_reply(id, IMSG_CTL_ERROR, "the relay did not "
		    "answer (the logger died)");
	else if (json_is_string(err = json_object_get(ans, "error")))
		control_conn_reply(id, IMSG_CTL_ERROR, json_string_value(err));
	else if (kind == CREQ_CLEAR) {
		snprintf(msg, sizeof(msg), "channel %s: %lld messages cleared",
		    channel, (long long)json_integer_value(json_object_get(
		    ans, "cleared")));
		control_conn_reply(id, IMSG_CTL_OK, msg);
	} else if (kind == CREQ_SHOW) {
		/* show channel NAME: its messages, one record each */
		o = json_array_get(json_object_get(ans, "channels"), 0);
		if (o == NULL)
			control_conn_reply(id, IMSG_CTL_ERROR,
			    "no such channel");
		else {
			json_array_foreach(json_object_get(o, "messages"), i,
			    m)
				control_conn_send(id, m);
			control_conn_reply(id, IMSG_CTL_END, NULL);
		}
	} else {
		json_array_foreach(json_object_get(ans, "channels"), i, o)
			control_conn_send(id, o);
		control_conn_reply(id, IMSG_CTL_END, NULL);
	}
	json_decref(ans);
}
