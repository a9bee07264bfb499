/*
 * bridged: privilege-separated MCP service for remote hosts over SSH.
 *
 * This header is shared by every process of the daemon and by bridgectl.
 * It holds the process table ids, the one table of imsg types (grouped by
 * the pair of peers that exchange them) and the parsed configuration.
 */

#ifndef BRIDGED_H
#define BRIDGED_H

#include <sys/types.h>
#include <sys/queue.h>

#include <limits.h>
#include <stdint.h>

#define BRIDGED_VERSION		"0.1"
#define BRIDGED_CONF		"/etc/bridged.conf"
#define BRIDGED_USER		"_bridged"
#define BRIDGED_CHROOT		"/var/empty"
#define BRIDGED_SOCKET		"/run/bridged/mcp.sock"
#define BRIDGED_CTLSOCK		"/run/bridged/ctl.sock"
#define BRIDGED_SOCKET_MODE	0660

/* the child gets its end of the socketpair with the parent on this fd */
#define PROC_PARENT_FD		3

enum bridged_proc {
	PROC_PARENT = 0,
	PROC_FRONTEND,
	PROC_SSH,
	PROC_LOGGER,
	PROC_MAX
};

/*
 * The one table of message types.  Every receiver checks the payload size
 * of every message against its type; a type a peer does not expect is
 * fatal for that peer.
 */
/* bridged -i: who the stdio session is (IMSG_STDIO_IN) */
struct stdio_peer {
	uint32_t	uid;		/* bridged's: the principal */
	int32_t		pid;		/* the client that spawned it */
};

enum imsg_type {
	IMSG_NONE = 0,

	/* parent -> every child: configuration, sent as a sequence */
	IMSG_CONF_START,	/* struct bridged_conf (pointers ignored) */
	IMSG_CONF_HOST,		/* struct host (pointers ignored) */
	IMSG_CONF_HOSTSTR,	/* struct conf_hoststr + string */
	IMSG_CONF_FWDRULE,	/* struct fwdrule (pointers ignored) */
	IMSG_CONF_LISTENER,	/* struct listener (pointers ignored) */
	IMSG_CONF_CLIENT,	/* struct client (pointers ignored) */
	IMSG_CONF_CLIENTHOST,	/* u_int32 client id + host name */
	IMSG_CONF_END,		/* empty: the new config takes effect */

	/* parent -> child: wiring */
	IMSG_PEER_FD,		/* u_int32 proc id, fd: socketpair to peer */
	IMSG_MCP_LISTEN,	/* fd: listening MCP socket (frontend) */
	IMSG_CTL_LISTEN,	/* fd: listening control socket (frontend) */
	IMSG_HTTP_LISTEN,	/* u_int32 listener id, fd: HTTP (frontend) */
	IMSG_STDIO_OUT,		/* fd: bridged -i's stdout (frontend) */
	IMSG_STDIO_IN,		/* struct stdio_peer, fd: its stdin */
	IMSG_STDIO_DONE,	/* fe->parent: empty: the stdio session ended */
	IMSG_LOG_VERBOSE,	/* int verbosity */
	IMSG_SHUTDOWN,		/* int drain seconds: stop accepting, drain */

	/*
	 * ssh workers, one process per host, started on demand: the
	 * frontend asks the parent for a host's worker; the parent starts
	 * it and hands the frontend and the logger a socket to it.  A
	 * worker that has been idle asks the frontend whether it may go;
	 * one that goes on its own says so to the parent first, so that
	 * its exit is not taken for a crash.
	 */
	IMSG_SSH_START,		/* fe->parent: struct ssh_peer (host) */
	IMSG_SSH_PEER,		/* parent->fe/logger: struct ssh_peer + fd */
	IMSG_SSH_STARTFAIL,	/* parent->fe: struct ssh_peer + message */
	IMSG_SSH_IDLE,		/* ssh->fe: empty: idle, may I exit? */
	IMSG_SSH_IDLE_OK,	/* fe->ssh: empty: yes, nothing is queued */
	IMSG_SSH_EXITING,	/* ssh->parent: empty: exiting on purpose */

	/* child -> parent */
	IMSG_READY,		/* empty: child finished setup, sandboxed */
	IMSG_DRAINED,		/* empty: frontend has no request in flight */
	IMSG_CTL_RELOAD,	/* empty: bridgectl reload (frontend -> parent) */
	IMSG_CTL_RESULT,	/* int status + message (parent -> frontend) */

	/* frontend <-> ssh worker */
	IMSG_SSH_HOSTSTATE,	/* ssh->fe: struct host_state, when it changes */
	IMSG_SSH_END,		/* ssh->fe: empty, ends a reply sequence */
	/*
	 * A remote tool call: zero or more IMSG_SSH_CALL_DATA chunks of the
	 * arguments' JSON text, then IMSG_SSH_CALL (struct ssh_callreq).
	 * The answer: zero or more IMSG_SSH_RESULT_DATA chunks of the MCP
	 * result's JSON text, then an empty IMSG_SSH_RESULT.  peerid is the
	 * frontend's request id throughout.
	 */
	IMSG_SSH_CALL_DATA,	/* chunk of the arguments (JSON text) */
	IMSG_SSH_CALL,		/* struct ssh_callreq: run it */
	IMSG_SSH_CANCEL,	/* empty: stop call peerid, kill its work */
	IMSG_SSH_SESSION_END,	/* u_int32 MCP session id: drop its shells */
	IMSG_SSH_PROGRESS,	/* struct ssh_progress + message text */
	IMSG_SSH_LOG,		/* struct ssh_log + message text */
	IMSG_SSH_RESULT_DATA,	/* chunk of the result (JSON text) */
	IMSG_SSH_RESULT,	/* empty: the result is complete */
	/*
	 * A call sent with CALL_HELD waits in the worker (ssh_hold.c) for
	 * the logger's IMSG_LOG_DURABLE.  If its intent fails, the frontend
	 * asks for it back with IMSG_SSH_DROP; a held call let go unrun
	 * (asked, the logger gone, held too long) is told IMSG_SSH_DROPPED.
	 */
	IMSG_SSH_DROP,		/* fe->ssh: empty: let held call peerid go */
	IMSG_SSH_DROPPED,	/* ssh->fe: why (text): it never ran */

	/* ssh worker <-> parent: the worker makes no connection itself */
	IMSG_SSH_CONNECT,	/* ssh->parent: struct ssh_connect */
	IMSG_SSH_CONNECTED,	/* parent->ssh: struct ssh_connected + fd */
	IMSG_SSH_KEYDATA,	/* parent->ssh: struct ssh_keydata + text */
	IMSG_SSH_OPENLOCAL,	/* ssh->parent: struct ssh_openlocal + path */
	IMSG_SSH_LOCALFD,	/* parent->ssh: struct ssh_localfd [+ fd] */
	/*
	 * ProxyJump (parent_jump.c, ssh_jump.c): a host T with "via J" is
	 * reached through a direct-tcpip channel of J's pool.  When T's
	 * worker asks for a connection, the parent sends J's worker
	 * (started if need be) one end of a socketpair with the request;
	 * J's worker connects to J if it has to (through J's own via, if
	 * any), opens the channel, answers, and pumps the channel to its
	 * end.  The other end becomes T's socket in IMSG_SSH_CONNECTED, as
	 * if it were the TCP connection.
	 */
	IMSG_JUMP_OPEN,		/* parent->ssh: struct jump_req + fd */
	IMSG_JUMP_OPENED,	/* ssh->parent: struct jump_reply */

	/* anyone -> logger */
	IMSG_LOG_RECORD,	/* JSON text of one record (no NUL) */

	/*
	 * bridgectl <-> frontend over the control socket.  Requests carry
	 * an optional NUL-terminated argument; replies are one JSON object
	 * per IMSG_CTL_DATA message, ended by IMSG_CTL_END, or one
	 * IMSG_CTL_ERROR with a message.
	 */
	IMSG_CTL_SHOW_SESSIONS,
	IMSG_CTL_SHOW_HOSTS,
	IMSG_CTL_SHOW_LISTENERS,
	IMSG_CTL_LOG_VERBOSE,
	IMSG_CTL_LOG_BRIEF,
	IMSG_CTL_DATA,		/* one JSON object, text */
	IMSG_CTL_END,		/* empty */
	IMSG_CTL_ERROR,		/* message text */
	IMSG_CTL_OK,		/* optional message text */

	/*
	 * Audit (logger_queue.c, logger_audit.c, logger_textlog.c; frontend in
	 * fe_audit.c).  An intent is a record whose act waits for it: the
	 * logger answers IMSG_LOG_ACK with the same peerid once it is
	 * durable, or with an error (and, for a call held in its worker,
	 * tells that worker first: IMSG_LOG_DURABLE).  Queries carry the
	 * control connection's id in peerid and are answered by IMSG_LOG_DATA
	 * records then IMSG_LOG_END; peerid 0 on IMSG_LOG_DATA is the
	 * live feed asked for with IMSG_LOG_FOLLOW.
	 */
	IMSG_LOG_INTENT,	/* fe->logger: JSON record; peerid = reqid */
	IMSG_LOG_ACK,		/* logger->fe: struct log_status + text */
	/*
	 * An intent whose call already waits in the host's worker: once it
	 * is durable the logger tells that worker (IMSG_LOG_DURABLE, only
	 * on success) before it acks the frontend.
	 */
	IMSG_LOG_INTENT_HELD,	/* fe->logger: struct log_held + JSON record */
	IMSG_LOG_DURABLE,	/* logger->ssh: struct log_held; peerid reqid */
	IMSG_LOG_QUERY,		/* fe->logger: struct log_query */
	IMSG_LOG_VERIFY,	/* fe->logger: optional "SEQ:HASH" text */
	IMSG_LOG_ROTATE,	/* fe->logger: empty */
	IMSG_LOG_FOLLOW,	/* fe->logger: int32 on */
	IMSG_LOG_DATA,		/* logger->fe: one record, JSON text */
	IMSG_LOG_END,		/* logger->fe: struct log_status + text */
	/* bridgectl -> frontend */
	IMSG_CTL_SHOW_LOG,	/* struct log_query */
	IMSG_CTL_SHOW_AUDIT,	/* struct log_query */
	IMSG_CTL_VERIFY,	/* optional "SEQ:HASH" text */
	IMSG_CTL_LOG_ROTATE,	/* empty */
	IMSG_CTL_KILL_SESSION,	/* u_int32 MCP session id */

	/*
	 * Port forwards (ssh_fwd.c in the ssh worker, parent_fwd.c in the
	 * parent).  The parent binds the local listening sockets and makes
	 * the local connections of reverse forwards; the worker only
	 * accepts on the listening sockets it was given.
	 */
	IMSG_FWD_LISTEN,	/* ssh->parent: struct fwd_req */
	IMSG_FWD_LISTENFD,	/* parent->ssh: struct fwd_reply [+ fd] */
	IMSG_FWD_CONNECT,	/* ssh->parent: struct fwd_req */
	IMSG_FWD_CONNECTED,	/* parent->ssh: struct fwd_reply [+ fd] */
	IMSG_SSH_FWD_LIST,	/* frontend->ssh: empty, peerid = request */
	IMSG_SSH_FWD_INFO,	/* ssh->frontend: one JSON object (text) */
	IMSG_SSH_FWD_CLOSE,	/* frontend->ssh: struct fwd_closereq */
	IMSG_SSH_FWD_CLOSED,	/* ssh->frontend: int32 status + message */
	IMSG_CTL_SHOW_FORWARDS,	/* bridgectl->frontend: empty */
	IMSG_CTL_CLOSE_FORWARD,	/* bridgectl->frontend: u_int32 id */

	/*
	 * Delegations (ssh_deleg.c in the ssh worker): bridgectl's view of
	 * them, asked for by fe_control.c with the connection's id in peerid.
	 */
	IMSG_SSH_DELEGATIONS,	/* frontend->ssh: u_int32 1 = jobs only */
	IMSG_SSH_DELEGINFO,	/* ssh->frontend: one JSON object (text) */
	IMSG_SSH_DELEG_KILL,	/* frontend->ssh: u_int32 delegation id */
	IMSG_SSH_DELEG_KILLED,	/* ssh->frontend: int32 status + message */
	IMSG_CTL_SHOW_DELEGATIONS, /* bridgectl->frontend: empty */
	IMSG_CTL_SHOW_JOBS,	/* bridgectl->frontend: empty */
	IMSG_CTL_KILL_DELEGATION, /* bridgectl->frontend: u_int32 id */

	/*
	 * History in the audit database (logger_auditrd.c, logger_ctl.c):
	 * ended MCP sessions and delegations for bridgectl show
	 * sessions/delegations all (fe_control.c, fe_ctlhist.c), and the
	 * results of finished jobs for job_status, job_wait, job_cancel and
	 * job_list once the ssh worker no longer holds them (ssh_delegdb.c).  The asker (frontend or ssh
	 * worker) puts its own id in peerid; the logger answers it with
	 * IMSG_LOG_DATA, one record each, then IMSG_LOG_END.
	 */
	IMSG_LOG_HISTORY,	/* fe/ssh->logger: struct log_histq */

	/*
	 * Relay channels (fe_relay.c in the frontend, logger_relay.c in the
	 * logger, which alone holds the relay database).  A request is one
	 * JSON object {op, principal, ...} with the frontend's request id
	 * in peerid; the answer is zero or more IMSG_RELAY_DATA chunks of
	 * one JSON object, then an empty IMSG_RELAY_REPLY with the same
	 * peerid.  After every committed send or clear the logger tells the
	 * frontend IMSG_RELAY_EVENT {channel, id, op}, after the reply, so
	 * a waiting receive parked on an empty answer is woken and pushes
	 * to subscribers go out without anyone polling.
	 */
	IMSG_RELAY_REQ,		/* fe->logger: JSON request, peerid = reqid */
	IMSG_RELAY_DATA,	/* logger->fe: chunk of the JSON answer */
	IMSG_RELAY_REPLY,	/* logger->fe: empty: the answer is complete */
	IMSG_RELAY_EVENT,	/* logger->fe: JSON {channel, id, op} */
	IMSG_CTL_SHOW_CHANNELS,	/* bridgectl->fe: optional channel name */
	IMSG_CTL_CLEAR_CHANNEL,	/* bridgectl->fe: channel name */
	IMSG_CTL_FOLLOW_CHANNEL, /* bridgectl->fe: name: show channel -f */

	/*
	 * The back-channel of a delegation (ssh_deleg.c, fe_backchan.c): the
	 * worker names the run a token is for before claude starts, and
	 * says when it ended, whatever the way.
	 */
	IMSG_SSH_BACKCHAN,	/* ssh->fe: struct ssh_backchan */
	IMSG_SSH_BACKCHAN_END,	/* ssh->fe: u_int32 back-channel id */

	/*
	 * Background jobs and their worker's death (ssh_jobnote.c,
	 * fe_jobs.c): the worker tells the frontend of each background job
	 * it starts and ends, so that a job whose worker dies is reported
	 * lost rather than unknown; the parent says how a worker died.
	 */
	IMSG_SSH_JOBNOTE,	/* ssh->fe: struct ssh_jobnote [+ task text] */
	IMSG_SSH_JOBSEQ,	/* fe->ssh: u_int32: bash ids start above it */
	IMSG_SSH_DIED,		/* parent->fe: struct ssh_peer + how it died */

	IMSG_MAX
};

/*
 * Configuration.  Fixed-size strings so that a struct can cross a pipe as
 * it is; the list heads are rebuilt by the receiver.
 */
#define HOST_NAME_LEN		64
#define HOST_ADDR_LEN		256
#define HOST_USER_LEN		64
#define HOST_KEY_LEN		1024
#define CONF_USER_LEN		64

/* defaults, documented in bridged.conf(5) */
#define CONF_LINE_MAX		(4 * 1024 * 1024)
#define CONF_OUTPUT_MAX		(100 * 1024)
#define CONF_RESULT_MAX		40000	/* characters of a whole result */
#define CONF_RESULT_MIN		4096
#define CONF_SESSIONS_MAX	64
#define CONF_DRAIN_TIMEOUT	10
#define CONF_CALL_TIMEOUT	120
#define CONF_LOG_KEEP		7
#define CONF_SSH_PORT		22
#define CONF_CLAUDE		"claude"
#define CONF_DELEGATE_TIMEOUT	600
#define CONF_JOB_RETENTION	3600	/* seconds finished jobs are kept */
#define CONF_FWD_SESSION_MAX	4	/* forwards per MCP session */
#define CONF_KEEPALIVE		30	/* seconds between SSH keepalives */
#define CONF_IDLE_TIMEOUT	300	/* seconds before an idle worker exits */
#define CONF_KEEPALIVE_COUNT	3	/* silent keepalives: connection lost */
#define CONF_MAX_SESSIONS	10	/* channels per connection (sshd's) */
#define CONF_MAX_CONNS		8	/* connections per host */
#define CONF_FWD_HOST_MAX	8	/* forwards per host */
#define CONF_FWD_CONNS_MAX	16	/* connections per forward */

#define CAP_READ		0x01
#define CAP_WRITE		0x02
#define CAP_EXEC		0x04
#define CAP_DELEGATE		0x08
#define CAP_FORWARD		0x10
/* not a host's: set when "relay database" is given (fe_tools.c lists) */
#define CAP_RELAY		0x20
/* not a host's: a client block's "probe tools" (fe_probes.c) */
#define CAP_PROBE		0x40

#define PROTECT_OVERWRITE	0x01
#define PROTECT_DELETE		0x02

enum hoststr_kind {
	HOSTSTR_EXEC_ALLOW = 1,
	HOSTSTR_ALLOWED_TOOL,
	HOSTSTR_SCAN_PATTERN,	/* policy.c: output scanning */
	HOSTSTR_PROTECT_EXEC,	/* policy.c: protect exec { PATTERN } */
	HOSTSTR_PROTECT_EXEC_FOR, /* protect exec for: "PROGRAM\tPATTERN" */
};

struct strentry {
	TAILQ_ENTRY(strentry)	 entry;
	char			*s;
};
TAILQ_HEAD(strlist, strentry);

/* imsg payload carrying one list string of a host */
struct conf_hoststr {
	uint32_t		 hostid;
	uint32_t		 kind;		/* enum hoststr_kind */
	/* followed by the string, no NUL */
};

enum fwd_dir {
	FWD_TO = 1,		/* forward to HOST port N (local forwards) */
	FWD_FROM_REMOTE,	/* forward from remote to HOST port N */
};

struct fwdrule {
	TAILQ_ENTRY(fwdrule)	 entry;
	uint32_t		 hostid;
	int			 dir;		/* enum fwd_dir */
	char			 host[HOST_ADDR_LEN];
	uint16_t		 port;
	uint16_t		 listen_port;	/* 0: none named */
	int			 line;
};
TAILQ_HEAD(fwdrules, fwdrule);

/* listening below this port takes a rule that names it (listen port) */
#define FWD_PRIVPORT		1024

#define DELEG_RELAY_LEN		128	/* as RELAY_PATTERN_LEN */
struct delegate_conf {
	char			 claude[PATH_MAX];	/* default "claude" */
	int			 timeout;		/* seconds, default 600 */
	int			 max_concurrent;	/* 0: no limit */
	char			 permission_mode[32];	/* "" = not given */
	int			 skip_permissions;	/* 1: explicitly asked */
	struct strlist		 allowed_tools;
	/* relay "PATTERN": the back-channel (fe_backchan.c), "" = none */
	char			 relay[DELEG_RELAY_LEN];
	int			 relay_line;
};

struct host {
	TAILQ_ENTRY(host)	 entry;
	uint32_t		 id;		/* 1.. in config order */
	int			 line;		/* line of "host NAME {" */
	char			 name[HOST_NAME_LEN];
	char			 address[HOST_ADDR_LEN];
	uint16_t		 port;		/* default 22 */
	char			 user[HOST_USER_LEN];
	char			 identity[PATH_MAX];
	char			 known_hosts[PATH_MAX];
	char			 host_key[HOST_KEY_LEN];	/* pinned */
	char			 via[HOST_NAME_LEN];	/* jump host, "" = none */
	int			 via_line;	/* line of "via", 0 = none */
	char			 base_dir[PATH_MAX];
	uint32_t		 caps;		/* CAP_* */
	int			 allow_line;	/* line of "allow", 0 = none */
	uint32_t		 protect;	/* PROTECT_* */
	int			 protect_line;
	int			 has_exec_allow;
	int			 exec_allow_line;
	struct strlist		 exec_allow;
	int			 has_delegate;
	struct delegate_conf	 delegate;
	uint32_t		 quota_minute;	/* 0: none */
	uint32_t		 quota_day;	/* 0: none */
	struct fwdrules		 fwdrules;
	/* forwards: bridged.conf(5) "forward listen/persistent/max/..." */
	char			 fwd_listen[HOST_ADDR_LEN]; /* "" = loopback */
	int			 fwd_persist;	/* persistent forwards allowed */
	int			 fwd_max;	/* forwards open on the host */
	int			 fwd_conns_max;	/* connections per forward */
	/*
	 * publish port N [to port P]: a reverse forward bridged holds on
	 * the host's 127.0.0.1:N to its listen on ... port P (the parser
	 * fills in P when the config leaves it out).
	 */
	int			 publish_port;	/* 0: none */
	uint16_t		 publish_to;	/* the listener's port */
	int			 publish_line;
	/* the pool (ssh_conn.c): "max sessions N", "max connections N" */
	int			 max_sessions;	/* channels on one connection */
	int			 max_conns;	/* connections to the host */
	/* policy (policy.c): the lines its refusals name */
	int			 base_dir_line;
	int			 quota_minute_line;
	int			 quota_day_line;
	struct strlist		 scan_patterns;	/* scan pattern "..." */
	int			 scan_line;	/* first such line */
	/* protect exec: writes that would become exec (policy.c) */
	struct strlist		 protect_exec;	/* patterns */
	int			 protect_exec_line;	/* first such line */
	struct strlist		 protect_exec_for; /* "PROGRAM\tPATTERN" */
	int			 protect_exec_for_line;
};
TAILQ_HEAD(hostlist, host);

/*
 * Streamable HTTP (parent_http.c binds, fe_http.c serves): "listen on
 * ADDR port N" and the client blocks whose bearer tokens pick the
 * principal of a request.
 */
#define LISTEN_ADDR_LEN		64
#define CLIENT_NAME_LEN		64
#define CLIENT_TOKEN_MIN	16
#define CLIENT_TOKEN_MAX	512

struct listener {
	TAILQ_ENTRY(listener)	 entry;
	uint32_t		 id;		/* 1.. in config order */
	char			 addr[LISTEN_ADDR_LEN];	/* numeric or localhost */
	uint16_t		 port;
	int			 loopback;	/* 127/8, ::1 or localhost */
	int			 max_conns;	/* open at once, from accept */
	int			 line;
};
TAILQ_HEAD(listenerlist, listener);
#define LISTEN_CONNS_DEF	64	/* listen on ... max connections */
#define CLIENT_CONNS_DEF	32	/* client { max connections } */

struct client {
	TAILQ_ENTRY(client)	 entry;
	uint32_t		 id;		/* 1.. in config order */
	char			 name[CLIENT_NAME_LEN];
	char			 token_file[PATH_MAX];	/* "": token none */
	/*
	 * The token itself: read by the parent, sent to the frontend
	 * only (config_send wipes it for every other child).
	 */
	char			 token[CLIENT_TOKEN_MAX];
	uint32_t		 token_len;
	uint16_t		 port;		/* 0: any listener */
	struct strlist		 hosts;		/* what it may use */
	int			 probes;	/* "probe tools": listed */
	int			 max_conns;	/* its connections at once */
	int			 max_sessions;	/* 0: limits { sessions } */
	int			 line;
};
TAILQ_HEAD(clientlist, client);

struct limits {
	size_t			 line_max;	/* MCP message, default 4M */
	size_t			 output_max;	/* bytes of output kept, 100K */
	size_t			 result_max;	/* characters of a result, 40000 */
	int			 sessions_max;	/* default 64 */
	int			 drain_timeout;	/* seconds, default 10 */
	int			 call_timeout;	/* seconds, default 120 */
	int			 forwards_max;	/* per MCP session, default 4 */
	int			 keepalive;	/* seconds between keepalives */
	int			 idle_timeout;	/* seconds an idle worker stays */
	int			 keepalive_count; /* silent ones: lost */
};

/*
 * Relay (bridged.conf(5) "relay"): off without a database.  Access rules
 * live in the conf struct itself so that they cross the pipe with it.
 */
#define RELAY_RETAIN_DEF	(7 * 86400)	/* seconds */
#define RELAY_MSG_DEF		(64 * 1024)	/* bytes of content */
#define RELAY_MSG_MAX		(160 * 1024)	/* fits one imsg */
#define RELAY_CHANNEL_DEF	10000		/* messages per channel */
#define RELAY_PRINCIPAL_DEF	100000		/* messages per principal */
#define RELAY_RULES_MAX		32
#define RELAY_PATTERN_LEN	128
#define RELAY_NAME_LEN		128		/* channel names */
#define RELAY_LISTEN_MAX	64		/* channels one listen stream names */
#define RELAY_SEND		0x01
#define RELAY_RECEIVE		0x02
#define RELAY_CLEAR		0x04
/*
 * for group "NAME": the parent resolves the group when it parses (the
 * children have no NSS) into the uids of its members, as of that parse.
 */
#define RELAY_GROUP_MAX		256		/* uids of one group rule */
struct relay_rule {
	char			 pattern[RELAY_PATTERN_LEN];	/* fnmatch */
	char			 principal[64];	/* "": every principal */
	char			 group[CONF_USER_LEN];	/* "": no group */
	uint32_t		 rights;	/* RELAY_* */
	int			 line;
	uint32_t		 nuids;		/* the group's, sorted */
	uint32_t		 uids[RELAY_GROUP_MAX];
};

struct bridged_conf {
	char			 user[CONF_USER_LEN];
	char			 chroot[PATH_MAX];
	char			 socket_path[PATH_MAX];
	mode_t			 socket_mode;
	char			 socket_group[CONF_USER_LEN];
	char			 ctl_path[PATH_MAX];
	char			 audit_db[PATH_MAX];
	char			 log_file[PATH_MAX];
	off_t			 log_rotate_size;	/* 0: no rotation */
	int			 log_keep;
	char			 transfer_root[PATH_MAX];
	struct limits		 limits;
	char			 default_host[HOST_NAME_LEN];
	struct hostlist		 hosts;
	int			 fwd_list_all;	/* forward_list shows all */
	int			 audit_fail_all;	/* 1: reads too */
	int64_t			 audit_retain;		/* seconds, 0: all */
	int			 job_retention;	/* seconds, ssh_deleg.c */
	struct listenerlist	 listeners;	/* listen on */
	struct clientlist	 clients;	/* client "NAME" { ... } */
	char			 relay_db[PATH_MAX];	/* "": relay off */
	int64_t			 relay_retain;	/* seconds */
	uint32_t		 relay_msg_max;	/* bytes of content */
	uint32_t		 relay_channel_max; /* messages per channel */
	uint32_t		 relay_principal_max; /* messages it has sent */
	uint32_t		 nrelay_rules;
	struct relay_rule	 relay_rules[RELAY_RULES_MAX];
};

/* ssh worker's view of a host, for hosts/show hosts */
enum host_conn {
	HOST_DISCONNECTED = 0,
	HOST_CONNECTING,
	HOST_CONNECTED,
	HOST_FAILED,
};

struct host_state {
	uint32_t		 hostid;
	int32_t			 state;		/* enum host_conn */
	int64_t			 since;		/* unix time */
	uint32_t		 connections;	/* SSH connections up */
	uint32_t		 channels;	/* channels open on them */
	uint64_t		 bytes_in;
	uint64_t		 bytes_out;
	char			 fingerprint[128];
	char			 last_error[256];
};

/* a host's ssh worker, as the parent announces it */
struct ssh_peer {
	char			 host[HOST_NAME_LEN];
	int32_t			 pid;
	uint32_t		 restarts;	/* deaths so far */
	/* IMSG_SSH_STARTFAIL: followed by a message */
};

/*
 * Ids a worker hands out (delegations, forwards) are unique across the
 * workers: the host's id times this, plus a counter below it.  A job id
 * carries its delegation's id, so the frontend knows its host.
 */
#define SSH_ID_SPAN		100000U

/* the header of a remote tool call; the arguments came before it */
struct ssh_callreq {
	uint32_t		 hostid;
	uint32_t		 sessid;	/* MCP session: owns shells */
	uint32_t		 argslen;	/* bytes of JSON sent before */
	uint32_t		 flags;		/* CALL_* */
	uint32_t		 uid;		/* the principal: peer uid */
	uint64_t		 token;		/* CALL_HELD: struct log_held's */
	char			 tool[64];
};
#define CALL_LIVE_ONLY		0x01	/* job_list: no audit database part */
#define CALL_PROGRESS		0x02	/* the client asked for progress */
#define CALL_HELD		0x04	/* wait for the logger's durable-ack */
#define SSH_ARGS_MAX		(8 * 1024 * 1024)
#define SSH_RESULT_MAX		(16 * 1024 * 1024)

struct ssh_progress {
	double			 progress;
	double			 total;		/* 0: unknown */
	/* followed by a message, may be empty */
};

/*
 * MCP log levels (notifications/message), the syslog order of the
 * spec's logging/setLevel; fe_notify.c turns them into names.
 */
enum mcp_loglevel {
	MCPLOG_DEBUG = 0,
	MCPLOG_INFO,
	MCPLOG_NOTICE,
	MCPLOG_WARNING,
	MCPLOG_ERROR,
	MCPLOG_CRITICAL,
	MCPLOG_ALERT,
	MCPLOG_EMERGENCY,
};

/*
 * Something the agent should know about a call (a reconnect, a cut
 * result), for the call's session at the call's log level.  The text
 * may quote the host: the frontend redacts it before it leaves.
 */
struct ssh_log {
	int32_t			 level;		/* enum mcp_loglevel */
	/* followed by the message */
};

/*
 * A host has a pool of connections: each IMSG_SSH_CONNECT names the one
 * being made, and the parent's answers carry that id back.
 */
struct ssh_connect {
	uint32_t		 hostid;
	uint32_t		 connid;	/* the worker's, echoed */
};

/* the parent's answer to IMSG_SSH_CONNECT; fd attached on success */
struct ssh_connected {
	uint32_t		 hostid;
	uint32_t		 connid;
	int32_t			 error;		/* 0 or an errno */
	char			 errmsg[512];	/* a chain of hops says more */
};

enum ssh_keykind {
	KEYDATA_IDENTITY = 1,	/* private key text (wiped after use) */
	KEYDATA_KNOWN_HOSTS,	/* known_hosts file content */
};

/* sent before IMSG_SSH_CONNECTED, one per kind, text follows */
struct ssh_keydata {
	uint32_t		 hostid;
	uint32_t		 connid;
	uint32_t		 kind;		/* enum ssh_keykind */
};

/*
 * IMSG_JUMP_OPEN: open a direct-tcpip channel on host `hostid' to
 * addr:port (the target's address as the jump host sees it) and pump it
 * to the descriptor that comes with the message.
 */
struct jump_req {
	uint32_t		 reqid;		/* the parent's, echoed */
	uint32_t		 hostid;	/* the jump host */
	char			 target[HOST_NAME_LEN];	/* the host behind */
	char			 addr[HOST_ADDR_LEN];
	uint16_t		 port;
};

struct jump_reply {
	uint32_t		 reqid;
	int32_t			 error;		/* 0: open and being pumped */
	char			 errmsg[512];
};

/* Upload/Download: the parent opens the local file in transfer root */
struct ssh_openlocal {
	uint32_t		 reqid;
	int32_t			 write;		/* 0 read, 1 create/write */
	int32_t			 overwrite;	/* write: replace existing */
	uint32_t		 mode;		/* write: file mode */
	/* followed by the path relative to transfer root, no NUL */
};

struct ssh_localfd {
	uint32_t		 reqid;
	int32_t			 error;		/* 0: fd attached */
	char			 errmsg[256];
};

/* the answer to an intent or the end of an audit query */
struct log_status {
	int32_t			 status;	/* 0 ok, -1 error */
	/* followed by a message, may be empty */
};
/* an intent's status: durable, but its held call's worker was not told */
#define LOG_DURABLE_UNTOLD	1

/*
 * A held call's intent: the worker that holds it and the call's token,
 * random per call, so that a durable-ack can only ever release the call
 * it was made for (not a later one with the same request id).
 */
struct log_held {
	uint64_t		 token;
	char			 host[HOST_NAME_LEN];
	/* IMSG_LOG_INTENT_HELD: followed by the record's JSON text */
};

/* bridgectl show log / show audit: empty strings and 0 match anything */
#define LOG_QUERY_MAX		100000
struct log_query {
	uint32_t		 limit;		/* most recent N; 0 all */
	uint32_t		 follow;	/* show log -f */
	uint32_t		 nobacklog;	/* -n 0: none, only what comes */
	uint32_t		 session;
	int64_t			 since;		/* unix seconds */
	char			 host[HOST_NAME_LEN];
	char			 tool[64];
	char			 outcome[16];
};

/* IMSG_LOG_HISTORY: what to find; newest `limit' at or after `since' */
enum hist_kind {
	HIST_SESSIONS = 1,	/* MCP session end records */
	HIST_DELEGATIONS,	/* delegation end records, without results */
	HIST_JOB,		/* the end record of job_id, with its result */
	HIST_JOBS,		/* end records of jobs, without results */
};
#define HIST_LIMIT_DEF		1000
#define JOB_ID_LEN		24

/* IMSG_SSH_BACKCHAN: the run back-channel id is for */
struct ssh_backchan {
	uint32_t		 id;
	uint32_t		 deleg;		/* the delegation's id */
	char			 job_id[JOB_ID_LEN];	/* "": foreground */
	char			 session_id[40];	/* claude's, a UUID */
};
/* IMSG_SSH_JOBNOTE: a background job of the worker began or ended */
enum jobnote_kind {
	JOBNOTE_DELEG = 1,	/* ask_claude background: id is the job_id */
	JOBNOTE_BASH,		/* Bash run_in_background: id is "bash_N" */
};
enum jobnote_event {
	JOBNOTE_START = 1,	/* running; the task or command follows */
	JOBNOTE_END,		/* ended: status says how */
	JOBNOTE_GONE,		/* forgotten by the worker (bash) */
};
#define JOBNOTE_TEXT_MAX	256
struct ssh_jobnote {
	uint32_t		 kind;		/* enum jobnote_kind */
	uint32_t		 event;		/* enum jobnote_event */
	uint32_t		 sessid;	/* MCP session or scope */
	uint32_t		 uid;
	uint32_t		 has_uid;
	uint32_t		 deleg;		/* the delegation's id */
	int32_t			 timeout;	/* seconds (delegations) */
	int64_t			 started;	/* unix seconds */
	char			 id[JOB_ID_LEN];
	char			 status[128];	/* JOBNOTE_END */
};

struct log_histq {
	uint32_t		 kind;		/* enum hist_kind */
	uint32_t		 limit;		/* 0: HIST_LIMIT_DEF */
	int64_t			 since;		/* unix seconds, 0: any */
	char			 job_id[JOB_ID_LEN];	/* HIST_JOB */
};

/*
 * bridgectl show sessions/delegations [all] [since T]: no payload is
 * the live state only; this adds the ended ones from the audit database.
 */
struct ctl_showq {
	uint32_t		 all;		/* 1: and ended ones */
	uint32_t		 limit;		/* 0: HIST_LIMIT_DEF */
	int64_t			 since;		/* unix seconds, 0: any */
};

/* forwards: the worker asks the parent to listen or to connect */
struct fwd_req {
	uint32_t		 reqid;
	uint32_t		 hostid;
	char			 addr[HOST_ADDR_LEN];
	uint16_t		 port;		/* listen: 0 = any */
};

struct fwd_reply {
	uint32_t		 reqid;
	int32_t			 error;		/* 0: fd attached */
	uint16_t		 port;		/* listen: the bound port */
	char			 errmsg[256];
};

/* bridgectl close forward: who asked, for the audit record */
struct fwd_closereq {
	uint32_t		 id;
	int32_t			 uid;
	int32_t			 pid;
};

/* parse.y */
extern int		 conf_check_local;	/* run confcheck.c's checks */
struct bridged_conf	*parse_config(const char *, int);
int			 cmdline_symset(char *);

/* confcheck.c: what -n can check on this machine */
int			 confcheck_user(const char *, int, char *, size_t);
int			 confcheck_group(const char *, char *, size_t);
int			 confcheck_dir(const char *, const char *, char *,
			    size_t);
int			 confcheck_identity(const char *, char *, size_t);
/*
 * The ssh worker's program (confcheck.c), set by sshworker_find from
 * bridged's own path: DIR/bridged-ssh, else DIR/../libexec/bridged-ssh.
 * "bridged-ssh -K FILE" exits with one of SSHKEY_*: whether libssh loads
 * FILE as a private key without a passphrase.
 */
#define BRIDGED_SSH_NAME	"bridged-ssh"
#define SSHKEY_OK		0
#define SSHKEY_PASSPHRASE	2
#define SSHKEY_NOTKEY		3
#define SSHKEY_NOEXEC		127
extern char		 sshworker_path[PATH_MAX];
void			 sshworker_find(const char *);
int			 confcheck_known(const struct host *, char *, size_t);
int			 confcheck_relay_group(struct relay_rule *, char *,
			    size_t);

/* hostpat.c: known_hosts patterns, 1 match, -1 negated, 0 none */
int			 hostpattern_match(char *, const char *);

/* config.c */
struct bridged_conf	*config_new(void);
void			 config_free(struct bridged_conf *);
struct host		*config_host_new(struct bridged_conf *);
void			 config_host_free(struct host *);
struct host		*config_host_byname(struct bridged_conf *, const char *);
struct host		*config_host_byid(struct bridged_conf *, uint32_t);
struct host		*config_default_host(struct bridged_conf *);
struct listener		*config_listener_new(struct bridged_conf *);
struct client		*config_client_new(struct bridged_conf *);
int			 config_relay_may(const struct bridged_conf *,
			    const char *, const char *, const char *, uint32_t);
int			 config_principal_uid(const char *, uint32_t *);
struct client		*config_client_byname(struct bridged_conf *,
			    const char *);
void			 config_client_free(struct client *);
int			 config_addr_loopback(const char *);
const struct listener	*config_publish_listener(const struct bridged_conf *,
			    const struct host *, const char **);
int			 config_warning(const struct bridged_conf *, char *,
			    size_t);
int			 strlist_add(struct strlist *, const char *);
void			 strlist_free(struct strlist *);
const char		*cap_name(uint32_t);

/* printconf.c */
void			 print_config(struct bridged_conf *);

/* text.c: one UTF-8 sequence (bridgectl's terminal output uses it too) */
size_t			 utf8_decode(const unsigned char *, size_t, uint32_t *);

/* proc title, set by each process */
extern const char	*proc_names[PROC_MAX];

#endif /* BRIDGED_H */
