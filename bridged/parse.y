/*
 * parse.y: the bridged.conf(5) grammar.
 *
 * A hand-written lexer (sorted keyword table, quoted strings, macros,
 * nested include files) feeds a yacc grammar that fills in a struct
 * bridged_conf.  Every problem is reported as "FILE:LINE: message" on
 * stderr and parsing goes on to the next line, so one run shows every
 * mistake; parse_config() then returns NULL.
 */

%{
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridged.h"
#include "log.h"
#include "policy.h"

#define INCLUDE_DEPTH_MAX	16	/* also stops include loops */
#define EXPAND_MAX		64	/* macro expansions without file input */
#define TOKEN_MAX		8192	/* longest word or quoted string */

struct file {
	TAILQ_ENTRY(file)	 entry;
	FILE			*stream;
	const char		*name;		/* lives in fnames */
	int			 lineno;
	int			 eof_nl;	/* synthetic final newline sent */
	unsigned char		*ungetbuf;	/* pushed-back input, a stack */
	size_t			 ungetpos;
	size_t			 ungetsize;
};
TAILQ_HEAD(files, file);

struct sym {
	TAILQ_ENTRY(sym)	 entry;
	char			*name;
	char			*value;
	int			 persist;	/* from -D: the file cannot override */
	int			 used;
	const char		*fname;
	int			 line;
};
TAILQ_HEAD(syms, sym);

/* bison's location: the line and file of a symbol's first token */
struct yyltype {
	int		 first_line;
	int		 first_column;
	int		 last_line;
	int		 last_column;
	const char	*fname;
};
#define YYLTYPE			struct yyltype
#define YYLTYPE_IS_DECLARED	1
#define YYLTYPE_IS_TRIVIAL	0
#define YYLLOC_DEFAULT(cur, rhs, n) do {				\
	if (n)								\
		(cur) = YYRHSLOC(rhs, 1);				\
	else								\
		(cur) = YYRHSLOC(rhs, 0);				\
} while (0)

/* settings that may be given once: globals, then per host */
enum once {
	ONCE_USER,
	ONCE_CHROOT,
	ONCE_SOCKET,
	ONCE_CTLSOCK,
	ONCE_AUDIT,
	ONCE_LOGFILE,
	ONCE_TRANSFER,
	ONCE_DEFAULT,
	ONCE_LINE,
	ONCE_OUTPUT,
	ONCE_RESULT,
	ONCE_SESSIONS,
	ONCE_DRAIN,
	ONCE_CALL,
	ONCE_H_ADDRESS,
	ONCE_H_PORT,
	ONCE_H_USER,
	ONCE_H_IDENTITY,
	ONCE_H_KNOWN,
	ONCE_H_HOSTKEY,
	ONCE_H_VIA,
	ONCE_H_BASEDIR,
	ONCE_H_QMINUTE,
	ONCE_H_QDAY,
	ONCE_H_DELEGATE,
	ONCE_D_CLAUDE,
	ONCE_D_TIMEOUT,
	ONCE_D_MAXCONC,
	ONCE_D_PERMMODE,
	ONCE_D_SKIP,
	ONCE_D_RELAY,
	ONCE_S_MODE,
	ONCE_S_GROUP,
	ONCE_L_ROTATE,
	ONCE_L_KEEP,
	ONCE_FORWARDS,
	ONCE_KEEPALIVE,
	ONCE_IDLE,
	ONCE_H_MAXSESS,
	ONCE_H_MAXCONNS,
	ONCE_FWD_LIST,
	ONCE_H_FLISTEN,
	ONCE_H_FPERSIST,
	ONCE_H_FMAX,
	ONCE_H_FCONNS,
	ONCE_H_PUBLISH,
	ONCE_JOBKEEP,
	ONCE_A_FAIL,
	ONCE_A_RETAIN,
	ONCE_C_TOKEN,
	ONCE_C_PORT,
	ONCE_C_PROBE,
	ONCE_C_MAXCONNS,
	ONCE_C_MAXSESS,
	ONCE_RELAY_DB,
	ONCE_RELAY_RETAIN,
	ONCE_RELAY_MSG,
	ONCE_RELAY_CHAN,
	ONCE_RELAY_PRINC,
	ONCE_MAX
};

/* flags for setstr() */
#define STR_NONEMPTY	0x01
#define STR_ABSPATH	0x02

static struct files		 files = TAILQ_HEAD_INITIALIZER(files);
static struct syms		 symhead = TAILQ_HEAD_INITIALIZER(symhead);
static struct strlist		 fnames = TAILQ_HEAD_INITIALIZER(fnames);
static struct file		*file;
static struct bridged_conf	*conf;
static struct host		*curhost;
static struct client		*curclient;
static int			 curclient_token;	/* token given */
static YYLTYPE			 client_loc;
static struct strlist		*curlist;
static int			 curlist_words;	/* entries must be one word */
static int			 curlist_protect; /* entries are patterns */
static char			 curlist_prog[PATH_MAX]; /* protect exec for */
static int			 errors;
static int			 nexpand;
static const char		*lexerr_fname;	/* suppress the "syntax error" */
static int			 lexerr_line;	/* after a lexer error */
static int			 once_line[ONCE_MAX];
static const char		*default_fname;
static YYLTYPE			 host_loc;
static int			 default_line;
static YYLTYPE			 user_loc, group_loc, troot_loc;

/*
 * What the syntax errors say (yylex() keeps it): the words of the line
 * so far, its first token, and the blocks open around it, so that an
 * error can name the word it met, the keyword it could have meant and
 * the line of a block whose "}" is missing.
 */
#define BLOCK_DEPTH_MAX	8
struct openblock {
	const char	*fname;
	int		 line;
	int		 first;		/* the first token of its line */
	char		 label[96];	/* "host \"a\"", "exec allow" */
};
static struct openblock		 blocks[BLOCK_DEPTH_MAX];
static int			 nblocks;	/* blocks open */
static int			 mute_depth;	/* errors muted in it */
static int			 abandoned;	/* a } is missing: stop */
static int			 mute_next;	/* this error mutes its block */
static char			 line_first_word[64];
static int			 line_tokno;	/* of the token just read */
static int			 line_first;	/* the line's first token */
static int			 line_new = 1;
static int			 last_tok, prev_tok;
static char			 tok_text[80];	/* the token just read */
static char			 line_words[96];

/* bridged -n, start-up and reload: look at the files and users named */
int				 conf_check_local;

/* where each "via" was written, to report a jump host that does not fit */
struct viaref {
	TAILQ_ENTRY(viaref)	 entry;
	struct host		*host;
	YYLTYPE			 loc;
};
static TAILQ_HEAD(, viaref)	 viarefs = TAILQ_HEAD_INITIALIZER(viarefs);

int		 yyparse(void);
static int	 yylex(void);
static int	 yylex_raw(void);
static int	 followed_by_eq(void);
static int	 starts_statement(int, int);
static int	 distance(const char *, const char *);
static void	 yyerror(const char *);
static void	 conf_err(const YYLTYPE *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static void	 lex_err(const char *, ...)
		    __attribute__((__format__ (printf, 1, 2)));
static int	 kw_cmp(const void *, const void *);
static int	 lookup(const char *);
static int	 lgetc(int);
static int	 lungetc(int);
static int	 findeol(void);
static int	 word_char(int);
static int	 is_number(const char *);
static int	 pushfile(const char *, const YYLTYPE *);
static int	 popfile(void);
static const char *keepname(const char *);
static int	 symset(const char *, const char *, int, const YYLTYPE *);
static struct sym *symfind(const char *);
static void	 symclear(int);
static int	 once(const YYLTYPE *, enum once, const char *);
static void	 once_reset(enum once, enum once);
static int	 setstr(const YYLTYPE *, char *, size_t, const char *,
		    const char *, int);
static int	 getnum(const YYLTYPE *, const char *, long long, long long,
		    const char *, long long *);
static int	 getperiod(const YYLTYPE *, const char *, long long, long long,
		    const char *, long long *);
static int	 getsize(const YYLTYPE *, const char *, long long, long long,
		    const char *, long long *);
static int	 getmode(const YYLTYPE *, const char *, mode_t *);
static void	 host_begin(const YYLTYPE *, const char *);
static void	 host_end(void);
static void	 host_check_local(void);
static void	 global_check_local(const char *);
static void	 listen_add(const YYLTYPE *, const YYLTYPE *, const char *,
		    const char *, const YYLTYPE *, const char *);
static void	 client_begin(const YYLTYPE *, const char *);
static void	 client_host(const YYLTYPE *, const char *);
static void	 client_end(void);
static void	 publish_set(const YYLTYPE *, const YYLTYPE *, const char *,
		    const char *);
static void	 publish_check(void);
static void	 clients_check(void);
static void	 list_add(const YYLTYPE *, const char *);
static void	 fwd_add(const YYLTYPE *, int, const char *, const char *,
		    const char *);
static void	 via_set(const YYLTYPE *, const YYLTYPE *, const char *);
static void	 via_check(void);
static void	 via_clear(void);
static int	 valid_hostname(const char *);
static int	 valid_hostkey(const char *);
static void	 keywords_check(void);
static void	 relay_rule_add(const YYLTYPE *, const YYLTYPE *, const char *,
		    const YYLTYPE *, const char *, const char *, long long);
static int	 relay_pattern_ok(const char *);
static void	 deleg_relay_set(const YYLTYPE *, const char *);
static void	 deleg_relay_check(void);
%}

%locations
%define parse.error custom

%union {
	long long	 number;
	char		*string;
}

/* each keyword with its spelling: syntax errors name what was expected */
%token	ADDRESS      "address"
%token	ALLOW        "allow"
%token	ALLOWED      "allowed"
%token	AUDIT        "audit"
%token	BASE         "base"
%token	CALL         "call"
%token	CHROOT       "chroot"
%token	CLAUDE       "claude"
%token	CONCURRENT   "concurrent"
%token	CONTROL      "control"
%token	DATABASE     "database"
%token	DAY          "day"
%token	DEFAULT      "default"
%token	DELEGATE     "delegate"
%token	DELETE       "delete"
%token	DIRECTORY    "dir"
%token	DRAIN        "drain"
%token	EXEC         "exec"
%token	FILENAME     "file"
%token	FORWARD      "forward"
%token	FROM         "from"
%token	GROUP        "group"
%token	HOST         "host"
%token	HOSTS        "hosts"
%token	IDENTITY     "identity"
%token	INCLUDE      "include"
%token	KEEP         "keep"
%token	KEY          "key"
%token	KNOWN        "known"
%token	LIMITS       "limits"
%token	LINE         "line"
%token	LOG          "log"
%token	MAXIMUM      "max"
%token	MINUTE       "minute"
%token	MODE         "mode"
%token	OUTPUT       "output"
%token	OVERWRITE    "overwrite"
%token	PER          "per"
%token	PERMISSION   "permission"
%token	PERMISSIONS  "permissions"
%token	PORT         "port"
%token	PROTECT      "protect"
%token	QUOTA        "quota"
%token	READ         "read"
%token	REMOTE       "remote"
%token	RESULT       "result"
%token	ROOT         "root"
%token	ROTATE       "rotate"
%token	SESSIONS     "sessions"
%token	SIZE         "size"
%token	SKIP         "skip"
%token	SOCKET       "socket"
%token	TIMEOUT      "timeout"
%token	TO           "to"
%token	TOOLS        "tools"
%token	TRANSFER     "transfer"
%token	USER         "user"
%token	WRITE        "write"
%token	ALL          "all"
%token	CONNECTIONS  "connections"
%token	FORWARDS     "forwards"
%token	LIST         "list"
%token	LISTEN       "listen"
%token	PERSISTENT   "persistent"
%token	PATTERN      "pattern"
%token	SCAN         "scan"
%token	JOB          "job"
%token	RETENTION    "retention"
%token	CLOSED       "closed"
%token	FAIL         "fail"
%token	MUTATING     "mutating"
%token	RETAIN       "retain"
%token	KEEPALIVE    "keepalive"
%token	COUNT        "count"
%token	IDLE         "idle"
%token	FOR          "for"
%token	VIA          "via"
%token	ERROR        "invalid word"
%token	CLIENT       "client"
%token	NONE         "none"
%token	ON           "on"
%token	TOKEN        "token"
%token	PROBE        "probe"
%token	RELAY        "relay"
%token	MESSAGE      "message"
%token	CHANNEL      "channel"
%token	SEND         "send"
%token	RECEIVE      "receive"
%token	CLEAR        "clear"
%token	PRINCIPAL    "principal"
%token	PUBLISH      "publish"
%token	<string>	STRING "string"
%token	<string>	NUMBER "number"
%type	<number>	caplist cap protlist prot relayrights relayright
%type	<string>	relayfor
%type	<string>	anysize string fwdlisten publishto listenmax
%destructor { free($$); } <string>

%%

grammar		: /* empty */
		| grammar '\n'
		| grammar include '\n'
		| grammar varset '\n'
		| grammar main '\n'
		| grammar hostblock '\n'
		| grammar clientblock '\n'
		| grammar error '\n'		{ yyerrok; }
		;

include		: INCLUDE string {
			pushfile($2, &@2);
			free($2);
		}
		;

varset		: STRING '=' STRING {
			symset($1, $3, 0, &@1);
			free($1);
			free($3);
		}
		| STRING '=' NUMBER {
			symset($1, $3, 0, &@1);
			free($1);
			free($3);
		}
		;

main		: USER string {
			if (once(&@1, ONCE_USER, "user") == 0 &&
			    setstr(&@2, conf->user, sizeof(conf->user),
			    $2, "user", STR_NONEMPTY) == 0)
				user_loc = @2;
			free($2);
		}
		| CHROOT string {
			if (once(&@1, ONCE_CHROOT, "chroot") == 0)
				setstr(&@2, conf->chroot, sizeof(conf->chroot),
				    $2, "chroot", STR_ABSPATH);
			free($2);
		}
		| SOCKET string {
			if (once(&@1, ONCE_SOCKET, "socket") == 0)
				setstr(&@2, conf->socket_path,
				    sizeof(conf->socket_path), $2, "socket",
				    STR_ABSPATH);
			free($2);
			$2 = NULL;	/* still on the parser stack */
			once_reset(ONCE_S_MODE, ONCE_S_GROUP);
		} sockopts
		| CONTROL SOCKET string {
			if (once(&@1, ONCE_CTLSOCK, "control socket") == 0)
				setstr(&@3, conf->ctl_path,
				    sizeof(conf->ctl_path), $3,
				    "control socket", STR_ABSPATH);
			free($3);
		}
		| AUDIT DATABASE string {
			if (once(&@1, ONCE_AUDIT, "audit database") == 0)
				setstr(&@3, conf->audit_db,
				    sizeof(conf->audit_db), $3,
				    "audit database", STR_ABSPATH);
			free($3);
		}
		| AUDIT FAIL CLOSED ALL {
			if (once(&@1, ONCE_A_FAIL, "audit fail closed") == 0)
				conf->audit_fail_all = 1;
		}
		| AUDIT FAIL CLOSED MUTATING {
			if (once(&@1, ONCE_A_FAIL, "audit fail closed") == 0)
				conf->audit_fail_all = 0;
		}
		| AUDIT RETAIN anysize {
			long long	 n;

			if (once(&@1, ONCE_A_RETAIN, "audit retain") == 0 &&
			    getperiod(&@3, $3, 1, 100LL * 365 * 86400,
			    "audit retain", &n) == 0)
				conf->audit_retain = n;
			free($3);
		}
		| LOG FILENAME string {
			if (once(&@1, ONCE_LOGFILE, "log file") == 0)
				setstr(&@3, conf->log_file,
				    sizeof(conf->log_file), $3, "log file",
				    STR_ABSPATH);
			free($3);
			$3 = NULL;	/* still on the parser stack */
			once_reset(ONCE_L_ROTATE, ONCE_L_KEEP);
		} logopts
		| TRANSFER ROOT string {
			if (once(&@1, ONCE_TRANSFER, "transfer root") == 0 &&
			    setstr(&@3, conf->transfer_root,
			    sizeof(conf->transfer_root), $3,
			    "transfer root", STR_ABSPATH) == 0)
				troot_loc = @3;
			free($3);
		}
		| FORWARD LIST ALL {
			if (once(&@1, ONCE_FWD_LIST, "forward list all") == 0)
				conf->fwd_list_all = 1;
		}
		| JOB RETENTION anysize {
			long long	 n;

			if (once(&@1, ONCE_JOBKEEP, "job retention") == 0 &&
			    getperiod(&@3, $3, 0, 365LL * 86400,
			    "job retention", &n) == 0)
				conf->job_retention = n;
			free($3);
		}
		| LISTEN ON string PORT NUMBER listenmax {
			listen_add(&@1, &@3, $3, $5, &@6, $6);
			free($3);
			free($5);
			free($6);
		}
		| RELAY DATABASE string {
			if (once(&@1, ONCE_RELAY_DB, "relay database") == 0)
				setstr(&@3, conf->relay_db,
				    sizeof(conf->relay_db), $3,
				    "relay database", STR_ABSPATH);
			free($3);
		}
		| RELAY '{' relayl '}'
		| RELAY '{' relayl error '}'	{ yyerrok; }
		| RELAY relayopt
		| RELAY ALLOW string relayfor '{' relayrights '}' {
			relay_rule_add(&@1, &@3, $3, &@4, $4, NULL, $6);
			free($3);
			free($4);
		}
		| RELAY ALLOW string FOR GROUP string '{' relayrights '}' {
			relay_rule_add(&@1, &@3, $3, &@6, NULL, $6, $8);
			free($3);
			free($6);
		}
		| LIMITS '{' limitsl '}'
		| LIMITS '{' limitsl error '}'	{ yyerrok; }
		| LIMITS limitopt
		| DEFAULT HOST string {
			if (once(&@1, ONCE_DEFAULT, "default host") == 0 &&
			    setstr(&@3, conf->default_host,
			    sizeof(conf->default_host), $3, "default host",
			    STR_NONEMPTY) == 0) {
				default_fname = @1.fname;
				default_line = @1.first_line;
			}
			free($3);
		}
		;

sockopts	: /* empty */
		| sockopts MODE NUMBER {
			mode_t	 m;

			if (once(&@2, ONCE_S_MODE, "socket mode") == 0 &&
			    getmode(&@3, $3, &m) == 0)
				conf->socket_mode = m;
			free($3);
		}
		| sockopts GROUP string {
			if (once(&@2, ONCE_S_GROUP, "socket group") == 0 &&
			    setstr(&@3, conf->socket_group,
			    sizeof(conf->socket_group), $3,
			    "socket group", STR_NONEMPTY) == 0)
				group_loc = @3;
			free($3);
		}
		;

logopts		: /* empty */
		| logopts ROTATE SIZE anysize {
			long long	 n;

			if (once(&@2, ONCE_L_ROTATE, "rotate size") == 0 &&
			    getsize(&@4, $4, 1024, 1LL << 40, "rotate size",
			    &n) == 0)
				conf->log_rotate_size = n;
			free($4);
		}
		| logopts KEEP NUMBER {
			long long	 n;

			if (once(&@2, ONCE_L_KEEP, "log keep") == 0 &&
			    getnum(&@3, $3, 1, 1000, "keep", &n) == 0)
				conf->log_keep = n;
			free($3);
		}
		;

relayl		: /* empty */
		| relayl '\n'
		| relayl relayopt
		| relayl error '\n'		{ yyerrok; }
		;

relayopt	: RETAIN anysize {
			long long	 n;

			if (once(&@1, ONCE_RELAY_RETAIN, "relay retain") == 0 &&
			    getperiod(&@2, $2, 1, 100LL * 365 * 86400,
			    "relay retain", &n) == 0)
				conf->relay_retain = n;
			free($2);
		}
		| MAXIMUM MESSAGE anysize {
			long long	 n;

			if (once(&@1, ONCE_RELAY_MSG, "relay max message") ==
			    0 && getsize(&@3, $3, 1, RELAY_MSG_MAX,
			    "relay max message", &n) == 0)
				conf->relay_msg_max = n;
			free($3);
		}
		| MAXIMUM CHANNEL NUMBER {
			long long	 n;

			if (once(&@1, ONCE_RELAY_CHAN, "relay max channel") ==
			    0 && getnum(&@3, $3, 1, 10000000,
			    "relay max channel", &n) == 0)
				conf->relay_channel_max = n;
			free($3);
		}
		| MAXIMUM PRINCIPAL NUMBER {
			long long	 n;

			if (once(&@1, ONCE_RELAY_PRINC, "relay max principal") ==
			    0 && getnum(&@3, $3, 1, 100000000,
			    "relay max principal", &n) == 0)
				conf->relay_principal_max = n;
			free($3);
		}
		;

/*
 * relay allow "PATTERN" [for "PRINCIPAL" | for group "NAME"]
 *     { send, receive, clear }
 */
relayfor	: /* empty */		{ $$ = NULL; }
		| FOR string		{ $$ = $2; }
		;

relayrights	: relayright			{ $$ = $1; }
		| relayrights ',' relayright	{ $$ = $1 | $3; }
		| relayrights relayright	{ $$ = $1 | $2; }
		;

relayright	: SEND		{ $$ = RELAY_SEND; }
		| RECEIVE	{ $$ = RELAY_RECEIVE; }
		| CLEAR		{ $$ = RELAY_CLEAR; }
		;

limitsl		: /* empty */
		| limitsl '\n'
		| limitsl limitopt
		| limitsl error '\n'		{ yyerrok; }
		;

limitopt	: LINE SIZE anysize {
			long long	 n;

			if (once(&@1, ONCE_LINE, "line size") == 0 &&
			    getsize(&@3, $3, 1024, 1LL << 30,
			    "line size", &n) == 0)
				conf->limits.line_max = n;
			free($3);
		}
		| OUTPUT SIZE anysize {
			long long	 n;

			if (once(&@1, ONCE_OUTPUT, "output size") == 0 &&
			    getsize(&@3, $3, 1024, 1LL << 30,
			    "output size", &n) == 0)
				conf->limits.output_max = n;
			free($3);
		}
		| RESULT SIZE anysize {
			long long	 n;

			/* characters of a whole tool result, hint included */
			if (once(&@1, ONCE_RESULT, "result size") == 0 &&
			    getsize(&@3, $3, 1, 1LL << 40, "result size",
			    &n) == 0) {
				if (n < CONF_RESULT_MIN || n > 4LL << 20)
					conf_err(&@3, "result size %lld is out "
					    "of range (%d to %lld characters)",
					    n, CONF_RESULT_MIN, 4LL << 20);
				else
					conf->limits.result_max = n;
			}
			free($3);
		}
		| SESSIONS NUMBER {
			long long	 n;

			if (once(&@1, ONCE_SESSIONS, "sessions") == 0 &&
			    getnum(&@2, $2, 1, 10000, "sessions", &n) == 0)
				conf->limits.sessions_max = n;
			free($2);
		}
		| DRAIN TIMEOUT NUMBER {
			long long	 n;

			if (once(&@1, ONCE_DRAIN, "drain timeout") == 0 &&
			    getnum(&@3, $3, 1, 86400, "drain timeout",
			    &n) == 0)
				conf->limits.drain_timeout = n;
			free($3);
		}
		| CALL TIMEOUT NUMBER {
			long long	 n;

			if (once(&@1, ONCE_CALL, "call timeout") == 0 &&
			    getnum(&@3, $3, 1, 86400, "call timeout",
			    &n) == 0)
				conf->limits.call_timeout = n;
			free($3);
		}
		| FORWARDS NUMBER {
			long long	 n;

			if (once(&@1, ONCE_FORWARDS, "forwards") == 0 &&
			    getnum(&@2, $2, 0, 10000, "forwards", &n) == 0)
				conf->limits.forwards_max = n;
			free($2);
		}
		| IDLE TIMEOUT NUMBER {
			long long	 n;

			if (once(&@1, ONCE_IDLE, "idle timeout") == 0 &&
			    getnum(&@3, $3, 0, 86400, "idle timeout",
			    &n) == 0)
				conf->limits.idle_timeout = n;
			free($3);
		}
		| KEEPALIVE NUMBER {
			long long	 n;

			if (once(&@1, ONCE_KEEPALIVE, "keepalive") == 0 &&
			    getnum(&@2, $2, 1, 3600, "keepalive", &n) == 0)
				conf->limits.keepalive = n;
			free($2);
		} keepcount
		;

/* "keepalive N count M": M silent intervals and the connection is lost */
keepcount	: /* empty */
		| COUNT NUMBER {
			long long	 n;

			if (getnum(&@2, $2, 1, 1000, "keepalive count",
			    &n) == 0)
				conf->limits.keepalive_count = n;
			free($2);
		}
		;

/* a number is fine where a string is expected: user "1000" or user 1000 */
string		: STRING	{ $$ = $1; }
		| NUMBER	{ $$ = $1; }
		;

/* a size is a plain number or a word with a K, M, G or T suffix */
anysize		: NUMBER	{ $$ = $1; }
		| STRING	{ $$ = $1; }
		;

/*
 * client "NAME" { token file "PATH" | token none  port N  hosts "a", "b"
 *     probe tools  max connections N  max sessions N }
 * on one line or several.
 */
clientblock	: CLIENT string '{' {
			client_begin(&@1, $2);
			free($2);
			$2 = NULL;	/* still on the parser stack */
		} clientoptsl '}' {
			client_end();
		}
		| CLIENT string '{' error '}' {
			yyerrok;
			free($2);
		}
		;

clientoptsl	: /* empty */
		| clientoptsl '\n'
		| clientoptsl clientopt
		;

clientopt	: TOKEN FILENAME string {
			if (once(&@1, ONCE_C_TOKEN, "token") == 0 &&
			    setstr(&@3, curclient->token_file,
			    sizeof(curclient->token_file), $3, "token file",
			    STR_ABSPATH) == 0)
				curclient_token = 1;
			free($3);
		}
		| TOKEN NONE {
			if (once(&@1, ONCE_C_TOKEN, "token") == 0)
				curclient_token = 1;
		}
		| PORT NUMBER {
			long long	 n;

			if (once(&@1, ONCE_C_PORT, "port") == 0 &&
			    getnum(&@2, $2, 1, 65535, "port", &n) == 0)
				curclient->port = n;
			free($2);
		}
		| HOSTS clienthosts
		| PROBE TOOLS {
			if (once(&@1, ONCE_C_PROBE, "probe tools") == 0)
				curclient->probes = 1;
		}
		| MAXIMUM CONNECTIONS NUMBER {
			long long	 n;

			if (once(&@1, ONCE_C_MAXCONNS,
			    "max connections") == 0 &&
			    getnum(&@3, $3, 1, 10000, "max connections",
			    &n) == 0)
				curclient->max_conns = n;
			free($3);
		}
		| MAXIMUM SESSIONS NUMBER {
			long long	 n;

			if (once(&@1, ONCE_C_MAXSESS, "max sessions") == 0 &&
			    getnum(&@3, $3, 1, 10000, "max sessions",
			    &n) == 0)
				curclient->max_sessions = n;
			free($3);
		}
		;

clienthosts	: string {
			client_host(&@1, $1);
			free($1);
		}
		| clienthosts ',' string {
			client_host(&@3, $3);
			free($3);
		}
		;

hostblock	: HOST string '{' {
			host_begin(&@1, $2);
			free($2);
			$2 = NULL;	/* still on the parser stack */
		} hostbody {
			host_end();
		}
		;

hostbody	: hostoptsl '}'
		| hostoptsl hostopt '}'
		| hostoptsl error '}'		{ yyerrok; }
		;

hostoptsl	: /* empty */
		| hostoptsl hostoptl
		;

hostoptl	: '\n'
		| hostopt '\n'
		| error '\n'			{ yyerrok; }
		;

hostopt		: ADDRESS string {
			if (once(&@1, ONCE_H_ADDRESS, "address") == 0)
				setstr(&@2, curhost->address,
				    sizeof(curhost->address), $2, "address",
				    STR_NONEMPTY);
			free($2);
			$2 = NULL;	/* still on the parser stack */
		} portopt viaopt
		| portspec
		| viaspec
		| USER string {
			if (once(&@1, ONCE_H_USER, "user") == 0)
				setstr(&@2, curhost->user,
				    sizeof(curhost->user), $2, "user",
				    STR_NONEMPTY);
			free($2);
		}
		| IDENTITY string {
			if (once(&@1, ONCE_H_IDENTITY, "identity") == 0)
				setstr(&@2, curhost->identity,
				    sizeof(curhost->identity), $2, "identity",
				    STR_ABSPATH);
			free($2);
		}
		| KNOWN HOSTS string {
			if (once(&@1, ONCE_H_KNOWN, "known hosts") == 0)
				setstr(&@3, curhost->known_hosts,
				    sizeof(curhost->known_hosts), $3,
				    "known hosts", STR_ABSPATH);
			free($3);
		}
		| HOST KEY string {
			if (once(&@1, ONCE_H_HOSTKEY, "host key") == 0 &&
			    setstr(&@3, curhost->host_key,
			    sizeof(curhost->host_key), $3, "host key",
			    STR_NONEMPTY) == 0 && !valid_hostkey($3)) {
				conf_err(&@3, "host key must be \"TYPE BASE64\","
				    " as in a known_hosts line");
				curhost->host_key[0] = '\0';
			}
			free($3);
		}
		| BASE DIRECTORY string {
			if (once(&@1, ONCE_H_BASEDIR, "base dir") == 0) {
				curhost->base_dir_line = @1.first_line;
				setstr(&@3, curhost->base_dir,
				    sizeof(curhost->base_dir), $3, "base dir",
				    STR_ABSPATH);
			}
			free($3);
		}
		| BASE DIRECTORY NONE {
			/* said out loud: the file tools reach everywhere */
			if (once(&@1, ONCE_H_BASEDIR, "base dir") == 0)
				curhost->base_dir_line = @1.first_line;
		}
		| ALLOW caplist {
			if (curhost->allow_line == 0)
				curhost->allow_line = @1.first_line;
			curhost->caps |= $2;
		}
		| EXEC ALLOW '{' {
			if (!curhost->has_exec_allow)
				curhost->exec_allow_line = @1.first_line;
			curhost->has_exec_allow = 1;
			curlist = &curhost->exec_allow;
			curlist_words = 1;
		} strbody
		| PROTECT EXEC '{' {
			/* policy.c: writes that would become exec */
			if (curhost->protect_exec_line == 0)
				curhost->protect_exec_line = @1.first_line;
			curlist = &curhost->protect_exec;
			curlist_words = 0;
			curlist_protect = 1;
			curlist_prog[0] = '\0';
		} strbody {
			curlist_protect = 0;
		}
		| PROTECT EXEC FOR string '{' {
			if (curhost->protect_exec_for_line == 0)
				curhost->protect_exec_for_line = @1.first_line;
			curlist = &curhost->protect_exec_for;
			curlist_words = 0;
			curlist_protect = 1;
			curlist_prog[0] = '\0';
			if ($4[0] == '\0' || strpbrk($4, " \t\n") != NULL)
				conf_err(&@4, "protect exec for \"%s\": one "
				    "program name, as in exec allow", $4);
			else if (strlcpy(curlist_prog, $4,
			    sizeof(curlist_prog)) >= sizeof(curlist_prog)) {
				conf_err(&@4, "protect exec for: the program "
				    "name is too long");
				curlist_prog[0] = '\0';
			}
			free($4);
			$4 = NULL;	/* still on the parser stack */
		} strbody {
			curlist_protect = 0;
		}
		| PROTECT protlist {
			if (curhost->protect_line == 0)
				curhost->protect_line = @1.first_line;
			curhost->protect |= $2;
		}
		| QUOTA NUMBER PER MINUTE {
			long long	 n;

			if (once(&@1, ONCE_H_QMINUTE, "quota per minute") == 0 &&
			    getnum(&@2, $2, 1, 100000000, "quota", &n) == 0) {
				curhost->quota_minute = n;
				curhost->quota_minute_line = @1.first_line;
			}
			free($2);
		}
		| QUOTA NUMBER PER DAY {
			long long	 n;

			if (once(&@1, ONCE_H_QDAY, "quota per day") == 0 &&
			    getnum(&@2, $2, 1, 100000000, "quota", &n) == 0) {
				curhost->quota_day = n;
				curhost->quota_day_line = @1.first_line;
			}
			free($2);
		}
		| SCAN PATTERN string {
			/* output scanning (policy.c): a phrase, any case */
			if ($3[0] == '\0' || strlen($3) > 256)
				conf_err(&@3, "scan pattern must have 1 to 256 "
				    "characters");
			else if (strlist_add(&curhost->scan_patterns, $3) ==
			    -1)
				conf_err(&@3, "out of memory");
			else if (curhost->scan_line == 0)
				curhost->scan_line = @1.first_line;
			free($3);
		}
		| DELEGATE '{' {
			if (once(&@1, ONCE_H_DELEGATE, "delegate") == 0)
				curhost->has_delegate = 1;
			once_reset(ONCE_D_CLAUDE, ONCE_D_RELAY);
		} delegbody
		| FORWARD TO string PORT NUMBER fwdlisten {
			fwd_add(&@1, FWD_TO, $3, $5, $6);
			free($3);
			free($5);
			free($6);
		}
		| FORWARD FROM REMOTE TO string PORT NUMBER fwdlisten {
			fwd_add(&@1, FWD_FROM_REMOTE, $5, $7, $8);
			free($5);
			free($7);
			free($8);
		}
		| FORWARD LISTEN string {
			if (once(&@1, ONCE_H_FLISTEN, "forward listen") == 0)
				setstr(&@3, curhost->fwd_listen,
				    sizeof(curhost->fwd_listen), $3,
				    "forward listen", STR_NONEMPTY);
			free($3);
		}
		| FORWARD PERSISTENT {
			if (once(&@1, ONCE_H_FPERSIST,
			    "forward persistent") == 0)
				curhost->fwd_persist = 1;
		}
		| FORWARD MAXIMUM NUMBER {
			long long	 n;

			if (once(&@1, ONCE_H_FMAX, "forward max") == 0 &&
			    getnum(&@3, $3, 0, 10000, "forward max", &n) == 0)
				curhost->fwd_max = n;
			free($3);
		}
		| FORWARD CONNECTIONS NUMBER {
			long long	 n;

			if (once(&@1, ONCE_H_FCONNS,
			    "forward connections") == 0 &&
			    getnum(&@3, $3, 1, 100000, "forward connections",
			    &n) == 0)
				curhost->fwd_conns_max = n;
			free($3);
		}
		| PUBLISH PORT NUMBER publishto {
			publish_set(&@1, &@3, $3, $4);
			free($3);
			free($4);
		}
		| MAXIMUM SESSIONS NUMBER {
			long long	 n;

			if (once(&@1, ONCE_H_MAXSESS, "max sessions") == 0 &&
			    getnum(&@3, $3, 1, 1000, "max sessions", &n) == 0)
				curhost->max_sessions = n;
			free($3);
		}
		| MAXIMUM CONNECTIONS NUMBER {
			long long	 n;

			if (once(&@1, ONCE_H_MAXCONNS,
			    "max connections") == 0 &&
			    getnum(&@3, $3, 1, 1000, "max connections",
			    &n) == 0)
				curhost->max_conns = n;
			free($3);
		}
		;

portopt		: /* empty */
		| portspec
		;

viaopt		: /* empty */
		| viaspec
		;

/* via "jump": reach the host through another host block's connection */
viaspec		: VIA string {
			via_set(&@1, &@2, $2);
			free($2);
		}
		;

portspec	: PORT NUMBER {
			long long	 n;

			if (once(&@1, ONCE_H_PORT, "port") == 0 &&
			    getnum(&@2, $2, 1, 65535, "port", &n) == 0)
				curhost->port = n;
			free($2);
		}
		;

/* publish ... to port P: the listener the published port leads to */
publishto	: /* empty */		{ $$ = NULL; }
		| TO PORT NUMBER	{ $$ = $3; }
		;

/* listen on ... max connections N: open at once, counted at accept */
listenmax	: /* empty */			{ $$ = NULL; }
		| MAXIMUM CONNECTIONS NUMBER	{ $$ = $3; }
		;

/* a listen port the rule names: how a port below 1024 is allowed */
fwdlisten	: /* empty */		{ $$ = NULL; }
		| LISTEN PORT NUMBER	{ $$ = $3; }
		;

caplist		: cap			{ $$ = $1; }
		| caplist ',' cap	{ $$ = $1 | $3; }
		;

cap		: READ			{ $$ = CAP_READ; }
		| WRITE			{ $$ = CAP_WRITE; }
		| EXEC			{ $$ = CAP_EXEC; }
		| DELEGATE		{ $$ = CAP_DELEGATE; }
		| FORWARD		{ $$ = CAP_FORWARD; }
		| STRING {
			conf_err(&@1, "unknown capability \"%s\" (use read,"
			    " write, exec, delegate, forward)", $1);
			free($1);
			$$ = 0;
		}
		;

protlist	: prot			{ $$ = $1; }
		| protlist ',' prot	{ $$ = $1 | $3; }
		;

prot		: OVERWRITE		{ $$ = PROTECT_OVERWRITE; }
		| DELETE		{ $$ = PROTECT_DELETE; }
		| STRING {
			conf_err(&@1, "unknown protection \"%s\" (use"
			    " overwrite, delete)", $1);
			free($1);
			$$ = 0;
		}
		;

/* { "a", "b" }: commas are optional and the list may span lines */
strbody		: stritems '}'
		| stritems error '}'		{ yyerrok; }
		;

stritems	: /* empty */
		| stritems '\n'
		| stritems error '\n'		{ yyerrok; }
		| stritems string optcomma {
			list_add(&@2, $2);
			free($2);
		}
		;

optcomma	: /* empty */
		| ','
		;

delegbody	: delegoptsl '}'
		| delegoptsl error '}'		{ yyerrok; }
		;

delegoptsl	: /* empty */
		| delegoptsl '\n'
		| delegoptsl delegopt
		| delegoptsl error '\n'		{ yyerrok; }
		;

delegopt	: CLAUDE string {
			struct delegate_conf	*d = &curhost->delegate;

			if (once(&@1, ONCE_D_CLAUDE, "claude") == 0 &&
			    setstr(&@2, d->claude, sizeof(d->claude), $2,
			    "claude", STR_NONEMPTY) == 0 &&
			    d->claude[0] != '/' && strchr(d->claude, '/')) {
				conf_err(&@2, "claude \"%s\": must be an"
				    " absolute path or a command name", $2);
				strlcpy(d->claude, CONF_CLAUDE,
				    sizeof(d->claude));
			}
			free($2);
		}
		| TIMEOUT NUMBER {
			long long	 n;

			if (once(&@1, ONCE_D_TIMEOUT, "delegate timeout") == 0 &&
			    getnum(&@2, $2, 1, 86400, "timeout", &n) == 0)
				curhost->delegate.timeout = n;
			free($2);
		}
		| MAXIMUM CONCURRENT NUMBER {
			long long	 n;

			if (once(&@1, ONCE_D_MAXCONC, "max concurrent") == 0 &&
			    getnum(&@3, $3, 0, 1024, "max concurrent",
			    &n) == 0)
				curhost->delegate.max_concurrent = n;
			free($3);
		}
		| PERMISSION MODE string {
			struct delegate_conf	*d = &curhost->delegate;

			if (once(&@1, ONCE_D_PERMMODE, "permission mode") == 0) {
				if (strcmp($3, "default") != 0 &&
				    strcmp($3, "acceptEdits") != 0 &&
				    strcmp($3, "plan") != 0 &&
				    strcmp($3, "bypassPermissions") != 0)
					conf_err(&@3, "unknown permission mode"
					    " \"%s\" (use default, acceptEdits,"
					    " plan, bypassPermissions)", $3);
				else
					strlcpy(d->permission_mode, $3,
					    sizeof(d->permission_mode));
			}
			free($3);
		}
		| ALLOWED TOOLS '{' {
			curlist = &curhost->delegate.allowed_tools;
			curlist_words = 0;
		} strbody
		| SKIP PERMISSIONS {
			if (once(&@1, ONCE_D_SKIP, "skip permissions") == 0)
				curhost->delegate.skip_permissions = 1;
		}
		| RELAY string {
			if (once(&@1, ONCE_D_RELAY, "delegate relay") == 0)
				deleg_relay_set(&@2, $2);
			free($2);
		}
		;

%%

struct keyword {
	const char	*k_name;
	int		 k_val;
};

/* sorted for bsearch(3); keywords_check() verifies it */
static const struct keyword keywords[] = {
	{ "address",		ADDRESS },
	{ "all",		ALL },
	{ "allow",		ALLOW },
	{ "allowed",		ALLOWED },
	{ "audit",		AUDIT },
	{ "base",		BASE },
	{ "call",		CALL },
	{ "channel",		CHANNEL },
	{ "chroot",		CHROOT },
	{ "claude",		CLAUDE },
	{ "clear",		CLEAR },
	{ "client",		CLIENT },
	{ "closed",		CLOSED },
	{ "concurrent",		CONCURRENT },
	{ "connections",	CONNECTIONS },
	{ "control",		CONTROL },
	{ "count",		COUNT },
	{ "database",		DATABASE },
	{ "day",		DAY },
	{ "default",		DEFAULT },
	{ "delegate",		DELEGATE },
	{ "delete",		DELETE },
	{ "dir",		DIRECTORY },
	{ "drain",		DRAIN },
	{ "exec",		EXEC },
	{ "fail",		FAIL },
	{ "file",		FILENAME },
	{ "for",		FOR },
	{ "forward",		FORWARD },
	{ "forwards",		FORWARDS },
	{ "from",		FROM },
	{ "group",		GROUP },
	{ "host",		HOST },
	{ "hosts",		HOSTS },
	{ "identity",		IDENTITY },
	{ "idle",		IDLE },
	{ "include",		INCLUDE },
	{ "job",		JOB },
	{ "keep",		KEEP },
	{ "keepalive",		KEEPALIVE },
	{ "key",		KEY },
	{ "known",		KNOWN },
	{ "limits",		LIMITS },
	{ "line",		LINE },
	{ "list",		LIST },
	{ "listen",		LISTEN },
	{ "log",		LOG },
	{ "max",		MAXIMUM },
	{ "message",		MESSAGE },
	{ "minute",		MINUTE },
	{ "mode",		MODE },
	{ "mutating",		MUTATING },
	{ "none",		NONE },
	{ "on",			ON },
	{ "output",		OUTPUT },
	{ "overwrite",		OVERWRITE },
	{ "pattern",		PATTERN },
	{ "per",		PER },
	{ "permission",		PERMISSION },
	{ "permissions",	PERMISSIONS },
	{ "persistent",		PERSISTENT },
	{ "port",		PORT },
	{ "principal",		PRINCIPAL },
	{ "probe",		PROBE },
	{ "protect",		PROTECT },
	{ "publish",		PUBLISH },
	{ "quota",		QUOTA },
	{ "read",		READ },
	{ "receive",		RECEIVE },
	{ "relay",		RELAY },
	{ "remote",		REMOTE },
	{ "result",		RESULT },
	{ "retain",		RETAIN },
	{ "retention",		RETENTION },
	{ "root",		ROOT },
	{ "rotate",		ROTATE },
	{ "scan",		SCAN },
	{ "send",		SEND },
	{ "sessions",		SESSIONS },
	{ "size",		SIZE },
	{ "skip",		SKIP },
	{ "socket",		SOCKET },
	{ "timeout",		TIMEOUT },
	{ "to",			TO },
	{ "token",		TOKEN },
	{ "tools",		TOOLS },
	{ "transfer",		TRANSFER },
	{ "user",		USER },
	{ "via",		VIA },
	{ "write",		WRITE },
};

static void
keywords_check(void)
{
	size_t	 i;

	for (i = 1; i < sizeof(keywords) / sizeof(keywords[0]); i++)
		if (strcmp(keywords[i - 1].k_name, keywords[i].k_name) >= 0)
			fatalx("%s: keyword table not sorted at \"%s\"",
			    __func__, keywords[i].k_name);
}

static int
kw_cmp(const void *k, const void *e)
{
	return strcmp(k, ((const struct keyword *)e)->k_name);
}

static int
lookup(const char *s)
{
	const struct keyword	*kw;

	kw = bsearch(s, keywords, sizeof(keywords) / sizeof(keywords[0]),
	    sizeof(keywords[0]), kw_cmp);
	return kw == NULL ? STRING : kw->k_val;
}

static void
conf_err(const YYLTYPE *loc, const char *fmt, ...)
{
	va_list	 ap;

	errors++;
	/* after a syntax error in a block, the rest of it is a cascade */
	if (mute_depth > 0 && nblocks >= mute_depth)
		return;
	fprintf(stderr, "%s:%d: ", loc->fname, loc->first_line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (mute_next) {
		mute_depth = nblocks;
		mute_next = 0;
	}
}

/* An error found by the lexer, which then hands the parser an ERROR. */
static void
lex_err(const char *fmt, ...)
{
	va_list	 ap;

	errors++;
	fprintf(stderr, "%s:%d: ", file->name, file->lineno);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	lexerr_fname = file->name;
	lexerr_line = file->lineno;
}

static void
yyerror(const char *msg)
{
	/* the lexer already said what is wrong with this line */
	if (lexerr_fname == yylloc.fname && lexerr_line == yylloc.first_line)
		return;
	if (yychar == YYEOF)
		conf_err(&yylloc, "%s: unexpected end of file", msg);
	else
		conf_err(&yylloc, "%s", msg);
}

/*
 * One character of input.  Pushed-back characters (lookahead and macro
 * values) come first; outside quotes a backslash-newline joins lines.
 */
static int
lgetc(int quoted)
{
	int	 c, next;

	if (file->ungetpos > 0)
		return file->ungetbuf[--file->ungetpos];
	nexpand = 0;
	c = getc(file->stream);
	if (c == '\\' && !quoted) {
		next = getc(file->stream);
		if (next == '\n') {
			file->lineno++;
			return lgetc(quoted);
		}
		if (next != EOF)
			ungetc(next, file->stream);
	}
	return c;
}

static int
lungetc(int c)
{
	unsigned char	*p;
	size_t		 n;

	if (c == EOF)
		return EOF;
	if (file->ungetpos >= file->ungetsize) {
		n = file->ungetsize == 0 ? 128 : file->ungetsize * 2;
		if (n > 1024 * 1024 ||
		    (p = realloc(file->ungetbuf, n)) == NULL)
			return EOF;
		file->ungetbuf = p;
		file->ungetsize = n;
	}
	file->ungetbuf[file->ungetpos++] = c;
	return c;
}

/* Skip the rest of a bad line, leaving its newline for the parser. */
static int
findeol(void)
{
	int	 c;

	while ((c = lgetc(0)) != EOF) {
		if (c == '\n') {
			lungetc(c);
			break;
		}
	}
	return ERROR;
}

/* characters of an unquoted word */
static int
word_char(int c)
{
	if (c == EOF || c <= ' ' || c == 0x7f)
		return 0;
	if (strchr("{}=,#\"$\\", c) != NULL)
		return 0;
	return 1;
}

static int
is_number(const char *s)
{
	if (*s == '-')
		s++;
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

/* is the next thing on the line an "="? (reads nothing for good) */
static int
followed_by_eq(void)
{
	char	 blanks[64];
	size_t	 n = 0;
	int	 c;

	while (n < sizeof(blanks) && ((c = lgetc(0)) == ' ' || c == '\t'))
		blanks[n++] = c;
	if (n == sizeof(blanks))
		c = lgetc(0);
	lungetc(c);
	while (n > 0)
		lungetc(blanks[--n]);
	return c == '=';
}

static int
yylex_raw(void)
{
	char		 buf[TOKEN_MAX];
	char		*p;
	struct sym	*sym;
	int		 c, next, token;
	size_t		 i;

top:
	p = buf;
	while ((c = lgetc(0)) == ' ' || c == '\t' || c == '\r')
		;
	yylloc.fname = file->name;
	yylloc.first_line = yylloc.last_line = file->lineno;
	yylloc.first_column = yylloc.last_column = 0;

	if (c == '#')
		while ((c = lgetc(0)) != '\n' && c != EOF)
			;

	if (c == '$') {
		while ((c = lgetc(0)) != EOF &&
		    (isalnum(c) || c == '_')) {
			if (p + 1 >= buf + sizeof(buf)) {
				lex_err("macro name too long");
				return findeol();
			}
			*p++ = c;
		}
		lungetc(c);
		*p = '\0';
		if (buf[0] == '\0') {
			lex_err("macro name expected after \"$\"");
			return findeol();
		}
		if ((sym = symfind(buf)) == NULL) {
			lex_err("macro \"%s\" not defined", buf);
			return findeol();
		}
		if (++nexpand > EXPAND_MAX) {
			lex_err("macro \"%s\" expands into itself", buf);
			return findeol();
		}
		sym->used = 1;
		/* the value is read again as if it were written here */
		for (i = strlen(sym->value); i > 0; i--)
			if (lungetc((unsigned char)sym->value[i - 1]) == EOF) {
				lex_err("macro \"%s\" too long", buf);
				return findeol();
			}
		goto top;
	}

	if (c == '"') {
		for (;;) {
			c = lgetc(1);
			if (c == EOF || c == '\n') {
				lungetc(c);
				lex_err("unterminated quoted string");
				return findeol();
			}
			if (c == '\\') {
				next = lgetc(1);
				if (next == '\n') {
					file->lineno++;
					continue;
				}
				if (next == '"' || next == '\\')
					c = next;
				else
					lungetc(next);
			} else if (c == '"')
				break;
			if (c == '\0') {
				lex_err("NUL byte in quoted string");
				return findeol();
			}
			if ((c < ' ' && c != '\t') || c == 0x7f) {
				lex_err("control character 0x%02x in quoted"
				    " string", c);
				return findeol();
			}
			if (p + 1 >= buf + sizeof(buf)) {
				lex_err("string too long");
				return findeol();
			}
			*p++ = c;
		}
		*p = '\0';
		if ((yylval.string = strdup(buf)) == NULL)
			fatal("%s", __func__);
		return STRING;
	}

	if (word_char(c)) {
		do {
			if (p + 1 >= buf + sizeof(buf)) {
				lex_err("string too long");
				return findeol();
			}
			*p++ = c;
		} while (word_char(c = lgetc(0)));
		lungetc(c);
		*p = '\0';
		if ((token = lookup(buf)) != STRING) {
			strlcpy(tok_text, buf, sizeof(tok_text));
			if (followed_by_eq()) {
				lex_err("macro name \"%s\" is a reserved word: "
				    "choose another (bridged.conf(5) lists "
				    "them)", buf);
				return findeol();
			}
			return token;
		}
		if ((yylval.string = strdup(buf)) == NULL)
			fatal("%s", __func__);
		return is_number(buf) ? NUMBER : STRING;
	}

	if (c == '\n') {
		file->lineno++;
		return c;
	}
	if (c == EOF) {
		if (ferror(file->stream)) {
			lex_err("read error: %s", strerror(errno));
			clearerr(file->stream);
		}
		/* a last line without its newline still ends a statement */
		if (!file->eof_nl) {
			file->eof_nl = 1;
			return '\n';
		}
		if (popfile() == EOF)
			return 0;
		goto top;
	}
	if (c == '\0') {
		/* a NUL would read as the end of input to the parser */
		lex_err("NUL byte in file");
		return findeol();
	}
	return c;
}

/*
 * The lexer as the parser sees it: yylex_raw()'s tokens, with what a
 * syntax error will want to say about them noted down.
 */
static int
yylex(void)
{
	struct openblock	*b;
	char			 word[80];
	int			 t;

	if (abandoned)
		return 0;	/* the rest would be a cascade */
	tok_text[0] = '\0';
	t = yylex_raw();
	if (line_new) {
		line_tokno = 0;
		line_words[0] = '\0';
		line_first = t;
		line_new = 0;
		line_first_word[0] = '\0';
		if (t == STRING)
			strlcpy(line_first_word, yylval.string,
			    sizeof(line_first_word));
	}
	line_tokno++;
	prev_tok = last_tok;
	last_tok = t;
	switch (t) {
	case STRING:
		snprintf(word, sizeof(word), "\"%.60s%s\"", yylval.string,
		    strlen(yylval.string) > 60 ? "..." : "");
		strlcpy(tok_text, word, sizeof(tok_text));
		break;
	case NUMBER:
		strlcpy(tok_text, yylval.string, sizeof(tok_text));
		break;
	case '\n':
	case 0:
		line_new = 1;
		strlcpy(tok_text, t == 0 ? "end of file" : "end of line",
		    sizeof(tok_text));
		break;
	case ERROR:
		break;
	default:
		if (t < 256)
			snprintf(tok_text, sizeof(tok_text), "%c", t);
		break;
	}
	if (t == '{') {
		if (nblocks < BLOCK_DEPTH_MAX) {
			b = &blocks[nblocks];
			b->fname = yylloc.fname;
			b->line = yylloc.first_line;
			b->first = line_first;
			strlcpy(b->label, line_words, sizeof(b->label));
		}
		nblocks++;
	} else if (t == '}') {
		if (nblocks > 0)
			nblocks--;
		if (mute_depth > 0 && nblocks < mute_depth)
			mute_depth = 0;
	} else if (t != '\n' && t != 0 && tok_text[0] != '\0') {
		if (line_words[0] != '\0')
			strlcat(line_words, " ", sizeof(line_words));
		strlcat(line_words, tok_text, sizeof(line_words));
	}
	return t;
}

/* a token's spelling for a message: the alias without its quotes */
static void
symbol_text(yysymbol_kind_t k, char *buf, size_t len)
{
	const char	*n = yysymbol_name(k);
	size_t		 l = strlen(n);

	if (k == YYSYMBOL_YYEOF)
		strlcpy(buf, "end of file", len);
	else if (strcmp(n, "'\\n'") == 0)
		strlcpy(buf, "end of line", len);
	else if (l >= 2 && (n[0] == '"' || n[0] == '\'') && n[l - 1] == n[0])
		snprintf(buf, len, "%.*s", (int)l - 2, n + 1);
	else
		strlcpy(buf, n, len);
}

/* does the keyword t begin a statement outside any block, or in a host? */
static int
starts_statement(int t, int inhost)
{
	switch (t) {
	case USER: case CHROOT: case SOCKET: case CONTROL: case AUDIT:
	case LOG: case TRANSFER: case FORWARD: case JOB: case LISTEN:
	case LIMITS: case DEFAULT: case CLIENT: case INCLUDE:
		return 1;
	case ADDRESS: case PORT: case VIA: case IDENTITY: case KNOWN:
	case BASE: case ALLOW: case EXEC: case PROTECT: case QUOTA:
	case SCAN: case DELEGATE: case MAXIMUM: case PUBLISH:
		return inhost;
	}
	return 0;
}

/* letters to change to get from a to b, up to 3 (more is "far") */
static int
distance(const char *a, const char *b)
{
	int	 d[24][24], i, j, la = strlen(a), lb = strlen(b), c;

	if (la >= 24 || lb >= 24 || abs(la - lb) > 2)
		return 3;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++)
		for (j = 1; j <= lb; j++) {
			c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (d[i - 1][j] + 1 < c)
				c = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < c)
				c = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < c)
				c = d[i - 2][j - 2] + 1;
			d[i][j] = c;
		}
	return d[la][lb];
}

/* the expected keyword (any, without exp) closest to a word, or NULL */
static const char *
closest(const char *word, const yysymbol_kind_t *exp, int n)
{
	const char	*best = NULL;
	size_t		 i;
	int		 j, dist, bestd = 3;

	for (i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++) {
		for (j = 0; j < n; j++)
			if (exp[j] == YYTRANSLATE(keywords[i].k_val))
				break;
		if (exp != NULL ? j == n :
		    !starts_statement(keywords[i].k_val, 0))
			continue;
		dist = distance(word, keywords[i].k_name);
		if (dist < bestd && (dist < 2 || strlen(word) > 3)) {
			bestd = dist;
			best = keywords[i].k_name;
		}
	}
	return best;
}

/*
 * A syntax error: say what was met and what was expected; a keyword
 * that begins a statement outside the block it is in means a missing
 * "}", which ends the parse (what follows would be a cascade); after
 * one error in a block the rest of that block is not reported.
 */
static int
yyreport_syntax_error(const yypcontext_t *ctx)
{
	const YYLTYPE		*loc = yypcontext_location(ctx);
	yysymbol_kind_t		 exp[YYNTOKENS], tok = yypcontext_token(ctx);
	struct openblock	*b = NULL;
	char			 list[512], name[64], word[96];
	const char		*near, *in;
	int			 n, i, inhost;

	if (lexerr_fname == loc->fname && lexerr_line == loc->first_line)
		return 0;	/* the lexer said what is wrong */
	if (abandoned) {
		errors++;
		return 0;
	}
	if (nblocks > 0 && nblocks <= BLOCK_DEPTH_MAX)
		b = &blocks[nblocks - 1];
	if ((n = yypcontext_expected_tokens(ctx, exp, YYNTOKENS)) < 0)
		n = 0;
	strlcpy(word, tok_text[0] != '\0' ? tok_text : "this", sizeof(word));
	/* a missing } is said even in a block that had an error before */
	if (tok == YYSYMBOL_YYEOF && b != NULL) {
		mute_depth = 0;
		conf_err(loc, "end of file inside the %s block opened on "
		    "line %d: a } is missing", b->label, b->line);
		abandoned = 1;
		return 0;
	}
	inhost = b != NULL && b->first != HOST && nblocks >= 2 &&
	    blocks[nblocks - 2].first == HOST;
	if (b != NULL && ((line_tokno == 1 && (starts_statement(last_tok,
	    inhost) || (last_tok == HOST && b->first != HOST))) ||
	    (line_tokno == 2 && line_first == HOST &&
	    (last_tok == STRING || last_tok == NUMBER)))) {
		mute_depth = 0;
		conf_err(loc, "%s inside the %s block opened on line %d: is "
		    "its } missing?", line_words, b->label, b->line);
		abandoned = 1;
		return 0;
	}
	if (mute_depth > 0 && nblocks >= mute_depth) {
		errors++;
		return 0;
	}
	if (line_tokno == 2 && line_first == STRING && last_tok != '=') {
		/* a word that is no keyword, taken for a macro's name */
		near = closest(line_first_word, NULL, 0);
		if (b != NULL)
			mute_next = 1;
		if (near != NULL)
			conf_err(loc, "unknown keyword \"%s\": did you mean "
			    "%s?", line_first_word, near);
		else
			conf_err(loc, "unknown keyword \"%s\" (bridged.conf(5) "
			    "lists the keywords)", line_first_word);
		return 0;
	}
	in = "";
	if (b != NULL) {
		mute_next = 1;
		in = b->first == HOST ? " in a host block" :
		    b->first == LIMITS ? " in limits" :
		    b->first == DELEGATE ? " in delegate" :
		    b->first == CLIENT ? " in a client block" : "";
	}
	if (last_tok == STRING && (line_tokno == 1 || prev_tok == '{')) {
		near = closest(yylval.string, exp, n);
		if (near != NULL)
			conf_err(loc, "unknown keyword %s%s: did you mean "
			    "%s?", word, in, near);
		else
			conf_err(loc, "unknown keyword %s%s (bridged.conf(5) "
			    "lists the keywords)", word, in);
		return 0;
	}
	if (n == 0 || n > 8) {
		conf_err(loc, "syntax error at %s%s", word, in);
		return 0;
	}
	list[0] = '\0';
	for (i = 0; i < n; i++) {
		symbol_text(exp[i], name, sizeof(name));
		if (i > 0)
			strlcat(list, i == n - 1 ? " or " : ", ",
			    sizeof(list));
		strlcat(list, name, sizeof(list));
	}
	if (n > 1 && last_tok == STRING && (near = closest(yylval.string,
	    exp, n)) != NULL)
		conf_err(loc, "syntax error at %s%s: expected %s (did you "
		    "mean %s?)", word, in, list, near);
	else
		conf_err(loc, "syntax error at %s%s: expected %s", word, in,
		    list);
	return 0;
}

/* File names outlive their struct file: locations point at them. */
static const char *
keepname(const char *name)
{
	if (strlist_add(&fnames, name) == -1)
		fatal("%s", __func__);
	return TAILQ_LAST(&fnames, strlist)->s;
}

/*
 * Open a config file and make it the one being read.  An include path
 * that is not absolute is taken relative to the including file.  Without
 * loc this is the top file.
 */
static int
pushfile(const char *name, const YYLTYPE *loc)
{
	struct file	*nf;
	struct stat	 st;
	char		 path[PATH_MAX];
	const char	*slash, *why;
	int		 depth = 0;

	if (loc != NULL) {
		TAILQ_FOREACH(nf, &files, entry)
			depth++;
		if (depth >= INCLUDE_DEPTH_MAX) {
			conf_err(loc, "include \"%s\": nested too deeply",
			    name);
			return -1;
		}
		if (name[0] == '\0') {
			conf_err(loc, "include: empty file name");
			return -1;
		}
	}
	if (loc != NULL && name[0] != '/' &&
	    (slash = strrchr(file->name, '/')) != NULL) {
		if (snprintf(path, sizeof(path), "%.*s/%s",
		    (int)(slash - file->name), file->name, name) >=
		    (int)sizeof(path)) {
			conf_err(loc, "include \"%s\": path too long", name);
			return -1;
		}
	} else if (strlcpy(path, name, sizeof(path)) >= sizeof(path)) {
		if (loc != NULL)
			conf_err(loc, "include: path too long");
		else {
			fprintf(stderr, "%s: path too long\n", name);
			errors++;
		}
		return -1;
	}

	if ((nf = calloc(1, sizeof(*nf))) == NULL)
		fatal("%s", __func__);
	why = NULL;
	if ((nf->stream = fopen(path, "r")) == NULL ||
	    fstat(fileno(nf->stream), &st) == -1)
		why = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	if (why != NULL) {
		if (loc != NULL)
			conf_err(loc, "include \"%s\": %s", path, why);
		else {
			fprintf(stderr, "%s: %s\n", path, why);
			errors++;
		}
		if (nf->stream != NULL)
			fclose(nf->stream);
		free(nf);
		return -1;
	}
	nf->name = keepname(path);
	/*
	 * An include is reduced before its newline is read: start the new
	 * file with one, on line 0, to end the include statement.
	 */
	if (loc != NULL) {
		nf->lineno = 0;
		TAILQ_INSERT_TAIL(&files, nf, entry);
		file = nf;
		lungetc('\n');
	} else {
		nf->lineno = 1;
		TAILQ_INSERT_TAIL(&files, nf, entry);
		file = nf;
	}
	return 0;
}

static int
popfile(void)
{
	struct file	*prev;

	prev = TAILQ_PREV(file, files, entry);
	TAILQ_REMOVE(&files, file, entry);
	fclose(file->stream);
	free(file->ungetbuf);
	free(file);
	file = prev;
	return file == NULL ? EOF : 0;
}

static struct sym *
symfind(const char *name)
{
	struct sym	*sym;

	TAILQ_FOREACH(sym, &symhead, entry)
		if (strcmp(sym->name, name) == 0)
			return sym;
	return NULL;
}

/* Define a macro; one from the command line wins over the file's. */
static int
symset(const char *name, const char *value, int persist, const YYLTYPE *loc)
{
	struct sym	*sym;
	const char	*p;

	for (p = name; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			break;
	if (*p != '\0' || name[0] == '\0' || is_number(name)) {
		if (loc != NULL)
			conf_err(loc, "invalid macro name \"%s\"", name);
		return -1;
	}
	if ((sym = symfind(name)) != NULL) {
		if (sym->persist && !persist) {
			sym->used = 1;
			return 0;
		}
		TAILQ_REMOVE(&symhead, sym, entry);
		free(sym->name);
		free(sym->value);
		free(sym);
	}
	if ((sym = calloc(1, sizeof(*sym))) == NULL ||
	    (sym->name = strdup(name)) == NULL ||
	    (sym->value = strdup(value)) == NULL)
		fatal("%s", __func__);
	sym->persist = persist;
	if (loc != NULL) {
		sym->fname = loc->fname;
		sym->line = loc->first_line;
	}
	TAILQ_INSERT_TAIL(&symhead, sym, entry);
	return 0;
}

/* Forget the file's macros (all = 0) or every macro (all = 1). */
static void
symclear(int all)
{
	struct sym	*sym, *next;

	for (sym = TAILQ_FIRST(&symhead); sym != NULL; sym = next) {
		next = TAILQ_NEXT(sym, entry);
		if (sym->persist && !all)
			continue;
		TAILQ_REMOVE(&symhead, sym, entry);
		free(sym->name);
		free(sym->value);
		free(sym);
	}
}

/* -D name=value: a macro that the config file cannot redefine */
int
cmdline_symset(char *s)
{
	char	*eq, *name;
	int	 ret;

	if ((eq = strchr(s, '=')) == NULL)
		return -1;
	if ((name = strndup(s, eq - s)) == NULL)
		return -1;
	ret = symset(name, eq + 1, 1, NULL);
	free(name);
	return ret;
}

static int
once(const YYLTYPE *loc, enum once what, const char *name)
{
	if (once_line[what] != 0) {
		conf_err(loc, "%s specified twice", name);
		return -1;
	}
	once_line[what] = loc->first_line;
	return 0;
}

static void
once_reset(enum once from, enum once to)
{
	int	 i;

	for (i = from; i <= (int)to; i++)
		once_line[i] = 0;
}

/* Copy a string setting into its fixed-size field, checking it first. */
static int
setstr(const YYLTYPE *loc, char *dst, size_t size, const char *val,
    const char *what, int flags)
{
	if ((flags & (STR_NONEMPTY | STR_ABSPATH)) && val[0] == '\0') {
		conf_err(loc, "%s must not be empty", what);
		return -1;
	}
	if ((flags & STR_ABSPATH) && val[0] != '/') {
		conf_err(loc, "%s \"%s\": path must be absolute", what, val);
		return -1;
	}
	if (strlen(val) >= size) {
		conf_err(loc, "%s: string too long (at most %zu bytes)", what,
		    size - 1);
		return -1;
	}
	strlcpy(dst, val, size);
	return 0;
}

static int
getnum(const YYLTYPE *loc, const char *s, long long min, long long max,
    const char *what, long long *out)
{
	const char	*errstr;
	long long	 n;

	n = strtonum(s, min, max, &errstr);
	if (errstr != NULL) {
		conf_err(loc, "%s %s is %s (%lld to %lld)", what, s, errstr,
		    min, max);
		return -1;
	}
	*out = n;
	return 0;
}

/* Seconds, or a number with an s, m, h or d suffix. */
static int
getperiod(const YYLTYPE *loc, const char *s, long long min, long long max,
    const char *what, long long *out)
{
	char		 digits[32];
	const char	*errstr;
	size_t		 len;
	long long	 n, mult = 1;

	len = strlen(s);
	if (len > 0 && !isdigit((unsigned char)s[len - 1])) {
		switch (s[len - 1]) {
		case 's':
			break;
		case 'm':
			mult = 60;
			break;
		case 'h':
			mult = 3600;
			break;
		case 'd':
			mult = 86400;
			break;
		default:
			goto bad;
		}
		len--;
	}
	if (len == 0 || len >= sizeof(digits))
		goto bad;
	memcpy(digits, s, len);
	digits[len] = '\0';
	if (!is_number(digits) || digits[0] == '-')
		goto bad;
	n = strtonum(digits, 0, LLONG_MAX / mult, &errstr);
	if (errstr != NULL || n * mult < min || n * mult > max) {
		conf_err(loc, "%s %s is out of range (%lld to %lld seconds)",
		    what, s, min, max);
		return -1;
	}
	*out = n * mult;
	return 0;
 bad:
	conf_err(loc, "%s \"%s\": expected seconds, or a number with s, m,"
	    " h or d", what, s);
	return -1;
}

/* A byte count with an optional K, M, G or T suffix (powers of 1024). */
static int
getsize(const YYLTYPE *loc, const char *s, long long min, long long max,
    const char *what, long long *out)
{
	char		 digits[32];
	const char	*errstr;
	size_t		 len;
	long long	 n, mult = 1;

	len = strlen(s);
	if (len > 0 && !isdigit((unsigned char)s[len - 1])) {
		switch (s[len - 1]) {
		case 'k':
		case 'K':
			mult = 1LL << 10;
			break;
		case 'm':
		case 'M':
			mult = 1LL << 20;
			break;
		case 'g':
		case 'G':
			mult = 1LL << 30;
			break;
		case 't':
		case 'T':
			mult = 1LL << 40;
			break;
		default:
			goto bad;
		}
		len--;
	}
	if (len == 0 || len >= sizeof(digits))
		goto bad;
	memcpy(digits, s, len);
	digits[len] = '\0';
	if (!is_number(digits) || digits[0] == '-')
		goto bad;
	n = strtonum(digits, 0, LLONG_MAX / mult, &errstr);
	if (errstr != NULL || n * mult < min || n * mult > max) {
		conf_err(loc, "%s %s is out of range (%lld to %lld bytes)",
		    what, s, min, max);
		return -1;
	}
	*out = n * mult;
	return 0;
 bad:
	conf_err(loc, "invalid %s \"%s\" (a number with an optional K, M,"
	    " G or T suffix)", what, s);
	return -1;
}

/* An octal file mode, 0 to 0777. */
static int
getmode(const YYLTYPE *loc, const char *s, mode_t *out)
{
	const char	*p;
	long		 m = 0;

	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '7' || m > 0777)
			break;
		m = m * 8 + (*p - '0');
	}
	if (*p != '\0' || p == s || m > 0777) {
		conf_err(loc, "invalid mode %s (octal, at most 0777)", s);
		return -1;
	}
	*out = m;
	return 0;
}

/* Host names appear in tool arguments and bridgectl output: keep simple. */
static int
valid_hostname(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("._-", *s) == NULL)
			return 0;
	return 1;
}

/* "TYPE BASE64", the last two fields of a known_hosts line */
static int
valid_hostkey(const char *s)
{
	const char	*sp;

	if ((sp = strchr(s, ' ')) == NULL || sp == s || sp[1] == '\0')
		return 0;
	for (; s < sp; s++)
		if (!isalnum((unsigned char)*s) && strchr("-@.", *s) == NULL)
			return 0;
	for (s = sp + 1; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("+/=", *s) == NULL)
			return 0;
	return 1;
}

static void
host_begin(const YYLTYPE *loc, const char *name)
{
	if ((curhost = config_host_new(conf)) == NULL)
		fatal("%s", __func__);
	once_reset(ONCE_H_ADDRESS, ONCE_D_RELAY);
	once_reset(ONCE_H_FLISTEN, ONCE_H_PUBLISH);
	once_reset(ONCE_H_MAXSESS, ONCE_H_MAXCONNS);
	if (!valid_hostname(name))
		conf_err(loc, "invalid host name \"%s\" (letters, digits,"
		    " \".\", \"_\" and \"-\")", name);
	else if (strlen(name) >= sizeof(curhost->name))
		conf_err(loc, "host name: string too long (at most %zu"
		    " bytes)", sizeof(curhost->name) - 1);
	else if (config_host_byname(conf, name) != NULL)
		conf_err(loc, "duplicate host \"%s\"", name);
	else
		strlcpy(curhost->name, name, sizeof(curhost->name));
	/* keep the location to report a missing address or user */
	curhost->line = loc->first_line;
	host_loc = *loc;
}

/* the host's files, where bridged -n can see them */
static void
host_check_local(void)
{
	YYLTYPE	 loc = host_loc;
	char	 err[PATH_MAX * 2 + 256];

	if (curhost->identity[0] != '\0') {
		loc.first_line = once_line[ONCE_H_IDENTITY];
		if (confcheck_identity(curhost->identity, err,
		    sizeof(err)) == -1)
			conf_err(&loc, "%s", err);
	} else if (once_line[ONCE_H_IDENTITY] == 0)
		conf_err(&host_loc, "host \"%s\" has no identity: give "
		    "identity \"/path/to/private_key\"", curhost->name);
	if (curhost->address[0] == '\0' || curhost->host_key[0] != '\0')
		return;
	if (curhost->known_hosts[0] == '\0') {
		conf_err(&host_loc, "host \"%s\" has neither known hosts "
		    "nor host key: its key could not be checked; give known "
		    "hosts \"/path/to/known_hosts\"", curhost->name);
		return;
	}
	loc.first_line = once_line[ONCE_H_KNOWN];
	if (confcheck_known(curhost, err, sizeof(err)) == -1)
		conf_err(&loc, "%s", err);
}

static void
host_end(void)
{
	if (curhost->name[0] != '\0') {
		if (curhost->address[0] == '\0')
			conf_err(&host_loc, "host \"%s\" has no address",
			    curhost->name);
		if (curhost->user[0] == '\0')
			conf_err(&host_loc, "host \"%s\" has no user",
			    curhost->name);
		if (conf_check_local)
			host_check_local();
		if (once_line[ONCE_H_BASEDIR] == 0)
			conf_err(&host_loc, "host \"%s\" has no base dir: "
			    "give base dir \"/path\" to confine the file "
			    "tools to it, or base dir none to leave them the "
			    "whole file system", curhost->name);
	}
	curhost = NULL;
}

/* listen on ADDR port N: a numeric address or localhost, once each */
static void
listen_add(const YYLTYPE *loc, const YYLTYPE *aloc, const char *addr,
    const char *port, const YYLTYPE *mloc, const char *max)
{
	struct listener	*l;
	struct in_addr	 a4;
	struct in6_addr	 a6;
	long long	 n, m = LISTEN_CONNS_DEF;

	if (getnum(loc, port, 1, 65535, "listen port", &n) == -1)
		return;
	if (max != NULL && getnum(mloc, max, 1, 10000, "max connections",
	    &m) == -1)
		return;
	if (strcmp(addr, "localhost") != 0 &&
	    inet_pton(AF_INET, addr, &a4) != 1 &&
	    inet_pton(AF_INET6, addr, &a6) != 1) {
		conf_err(aloc, "listen on \"%s\": a numeric IPv4 or IPv6 "
		    "address, or localhost", addr);
		return;
	}
	if (strlen(addr) >= LISTEN_ADDR_LEN) {
		conf_err(aloc, "listen on: address too long");
		return;
	}
	TAILQ_FOREACH(l, &conf->listeners, entry)
		if (l->port == n) {
			conf_err(loc, "listen on %s port %lld: port %lld is "
			    "already listened on (line %d)", addr, n, n,
			    l->line);
			return;
		}
	if ((l = config_listener_new(conf)) == NULL)
		fatal("%s", __func__);
	strlcpy(l->addr, addr, sizeof(l->addr));
	l->port = n;
	l->loopback = config_addr_loopback(addr);
	l->max_conns = m;
	l->line = loc->first_line;
}

static void
client_begin(const YYLTYPE *loc, const char *name)
{
	if ((curclient = config_client_new(conf)) == NULL)
		fatal("%s", __func__);
	once_reset(ONCE_C_TOKEN, ONCE_C_MAXSESS);
	curclient_token = 0;
	if (!valid_hostname(name))
		conf_err(loc, "invalid client name \"%s\" (letters, digits,"
		    " \".\", \"_\" and \"-\")", name);
	else if (strlen(name) >= sizeof(curclient->name))
		conf_err(loc, "client name: string too long (at most %zu"
		    " bytes)", sizeof(curclient->name) - 1);
	else if (config_client_byname(conf, name) != NULL)
		conf_err(loc, "duplicate client \"%s\"", name);
	else
		strlcpy(curclient->name, name, sizeof(curclient->name));
	curclient->line = loc->first_line;
	client_loc = *loc;
}

static void
client_host(const YYLTYPE *loc, const char *name)
{
	struct strentry	*se;

	if (!valid_hostname(name) || strlen(name) >= HOST_NAME_LEN) {
		conf_err(loc, "client hosts: invalid host name \"%s\"", name);
		return;
	}
	TAILQ_FOREACH(se, &curclient->hosts, entry)
		if (strcmp(se->s, name) == 0) {
			conf_err(loc, "client hosts: \"%s\" twice", name);
			return;
		}
	if (strlist_add(&curclient->hosts, name) == -1)
		fatal("%s", __func__);
}

static void
client_end(void)
{
	if (curclient->name[0] != '\0' && !curclient_token) {
		conf_err(&client_loc, "client \"%s\" has no token: give "
		    "token file \"PATH\", or token none on a loopback "
		    "listener", curclient->name);
		/* reported: clients_check() skips it */
		curclient->name[0] = '\0';
	}
	curclient = NULL;
}

/*
 * Once the whole file is read: a client's port and hosts must exist,
 * and a client without a token may only be reached on loopback (it is
 * whoever can connect), one such client per listener.
 */
static void
clients_check(void)
{
	struct client	*c, *d;
	struct listener	*l;
	struct strentry	*se;

	TAILQ_FOREACH(c, &conf->clients, entry) {
		if (c->name[0] == '\0')
			continue;
		if (c->port != 0) {
			TAILQ_FOREACH(l, &conf->listeners, entry)
				if (l->port == c->port)
					break;
			if (l == NULL) {
				fprintf(stderr, "%s:%d: client \"%s\": port "
				    "%u: no listen on names that port\n",
				    client_loc.fname, c->line, c->name,
				    c->port);
				errors++;
			}
		}
		TAILQ_FOREACH(se, &c->hosts, entry)
			if (config_host_byname(conf, se->s) == NULL) {
				fprintf(stderr, "%s:%d: client \"%s\": host "
				    "\"%s\" is not defined\n",
				    client_loc.fname, c->line, c->name,
				    se->s);
				errors++;
			}
		if (c->token_file[0] != '\0')
			continue;
		TAILQ_FOREACH(l, &conf->listeners, entry) {
			if (c->port != 0 && l->port != c->port)
				continue;
			if (!l->loopback) {
				fprintf(stderr, "%s:%d: client \"%s\": token "
				    "none on listen on %s port %u, which is "
				    "not loopback: give it a token file\n",
				    client_loc.fname, c->line, c->name,
				    l->addr, l->port);
				errors++;
				continue;
			}
			TAILQ_FOREACH(d, &conf->clients, entry) {
				if (d == c)
					break;
				if (d->token_file[0] == '\0' &&
				    (d->port == 0 || d->port == l->port)) {
					fprintf(stderr, "%s:%d: client \"%s\":"
					    " token none on port %u, as client"
					    " \"%s\" already: which one would "
					    "a request be?\n",
					    client_loc.fname, c->line,
					    c->name, l->port, d->name);
					errors++;
					break;
				}
			}
		}
	}
}

/*
 * publish port N [to port P]: bridged holds a reverse forward from the
 * host's 127.0.0.1:N to one of its own HTTP listeners.
 */
static void
publish_set(const YYLTYPE *loc, const YYLTYPE *nloc, const char *port,
    const char *to)
{
	long long	 n, t = 0;

	if (once(loc, ONCE_H_PUBLISH, "publish") != 0)
		return;
	if (getnum(nloc, port, 1, 65535, "publish port", &n) == -1 ||
	    (to != NULL && getnum(nloc, to, 1, 65535, "publish to port",
	    &t) == -1))
		return;
	curhost->publish_port = n;
	curhost->publish_to = t;
	curhost->publish_line = loc->first_line;
}

/*
 * Once the whole file is read: the listener a published port leads to
 * (the one "to port" names, else the first listen on) must exist and be
 * on loopback, since agents on the host name it 127.0.0.1; and no client
 * there may be token none, which would make everyone who can reach the
 * host's loopback that client.
 */
static void
publish_check(void)
{
	struct host	*h;
	struct listener	*l;
	struct client	*c;

	TAILQ_FOREACH(h, &conf->hosts, entry) {
		if (h->publish_port == 0)
			continue;
		if (TAILQ_EMPTY(&conf->listeners)) {
			fprintf(stderr, "%s:%d: host \"%s\": publish port %d "
			    "needs an HTTP listener to lead to: add listen on "
			    "127.0.0.1 port P\n", host_loc.fname,
			    h->publish_line, h->name, h->publish_port);
			errors++;
			continue;
		}
		if (h->publish_to == 0)
			l = TAILQ_FIRST(&conf->listeners);
		else
			TAILQ_FOREACH(l, &conf->listeners, entry)
				if (l->port == h->publish_to)
					break;
		if (l == NULL) {
			fprintf(stderr, "%s:%d: host \"%s\": publish port %d "
			    "to port %u: no listen on names that port\n",
			    host_loc.fname, h->publish_line, h->name,
			    h->publish_port, h->publish_to);
			errors++;
			continue;
		}
		h->publish_to = l->port;
		if (!l->loopback) {
			fprintf(stderr, "%s:%d: host \"%s\": publish port %d "
			    "leads to listen on %s port %u, which is not "
			    "loopback: publish to a listener on 127.0.0.1 "
			    "(publish port %d to port P)\n", host_loc.fname,
			    h->publish_line, h->name, h->publish_port,
			    l->addr, l->port, h->publish_port);
			errors++;
			continue;
		}
		TAILQ_FOREACH(c, &conf->clients, entry) {
			if (c->name[0] == '\0' || c->token_file[0] != '\0' ||
			    (c->port != 0 && c->port != l->port))
				continue;
			fprintf(stderr, "%s:%d: host \"%s\": publish port %d "
			    "leads to listen on %s port %u, where client "
			    "\"%s\" has token none: whoever reaches the host's "
			    "127.0.0.1 would be that client; give it a token "
			    "file or publish to another port\n",
			    host_loc.fname, h->publish_line, h->name,
			    h->publish_port, l->addr, l->port, c->name);
			errors++;
		}
	}
}

static void
list_add(const YYLTYPE *loc, const char *s)
{
	const char	*p;

	if (s[0] == '\0') {
		conf_err(loc, "empty string in list");
		return;
	}
	/* list strings cross to the children in PATH_MAX-sized messages */
	if (strlen(s) >= PATH_MAX) {
		conf_err(loc, "list entry: string too long (at most %d bytes)",
		    PATH_MAX - 1);
		return;
	}
	if (curlist_words)
		for (p = s; *p != '\0'; p++)
			if (isspace((unsigned char)*p)) {
				conf_err(loc, "exec allow \"%s\": one program"
				    " name, without arguments", s);
				return;
			}
	if (curlist_protect) {
		char	 err[256], both[PATH_MAX];

		if (policy_protect_valid(s, err, sizeof(err)) == -1) {
			conf_err(loc, "protect exec: %s", err);
			return;
		}
		if (curlist == &curhost->protect_exec_for) {
			if (curlist_prog[0] == '\0')
				return;		/* already said */
			/* a tab is in neither: the pattern follows it */
			if ((size_t)snprintf(both, sizeof(both), "%s\t%s",
			    curlist_prog, s) >= sizeof(both)) {
				conf_err(loc, "protect exec for: program and "
				    "pattern are too long together");
				return;
			}
			s = both;
			if (strlist_add(curlist, s) == -1)
				fatal("%s", __func__);
			return;
		}
	}
	if (strlist_add(curlist, s) == -1)
		fatal("%s", __func__);
}

static void
via_set(const YYLTYPE *loc, const YYLTYPE *nameloc, const char *name)
{
	struct viaref	*vr;

	if (once(loc, ONCE_H_VIA, "via") == -1 ||
	    setstr(nameloc, curhost->via, sizeof(curhost->via), name, "via",
	    STR_NONEMPTY) == -1)
		return;
	curhost->via_line = loc->first_line;
	if ((vr = calloc(1, sizeof(*vr))) == NULL)
		fatal("%s", __func__);
	vr->host = curhost;
	vr->loc = *loc;
	TAILQ_INSERT_TAIL(&viarefs, vr, entry);
}

/*
 * Once every host is known: each jump host must be another configured
 * host, and following the via names from any host must end at a host
 * reached directly.  A loop is reported once, at its first host.
 */
static void
via_check(void)
{
	struct viaref	*vr;
	struct host	*h, *j, *first;
	char		 path[1024];
	int		 n, max = 0;

	TAILQ_FOREACH(h, &conf->hosts, entry)
		max++;
	TAILQ_FOREACH(vr, &viarefs, entry) {
		h = vr->host;
		if (h->name[0] == '\0')
			continue;	/* an invalid host, reported already */
		if (strcmp(h->via, h->name) == 0) {
			conf_err(&vr->loc, "host \"%s\" cannot be its own jump"
			    " host (via \"%s\")", h->name, h->via);
			continue;
		}
		if (config_host_byname(conf, h->via) == NULL) {
			conf_err(&vr->loc, "host \"%s\": via \"%s\": no such"
			    " host", h->name, h->via);
			continue;
		}
		/* walk the chain; back at h within max steps is a loop */
		first = h;
		strlcpy(path, h->name, sizeof(path));
		for (j = h, n = 0; n < max; n++) {
			if (j->via[0] == '\0' ||
			    (j = config_host_byname(conf, j->via)) == NULL)
				break;
			strlcat(path, " -> ", sizeof(path));
			strlcat(path, j->name, sizeof(path));
			if (j == h)
				break;
			if (j->id < first->id)
				first = j;
		}
		if (j == h && first == h)
			conf_err(&vr->loc, "host \"%s\": via \"%s\" makes a"
			    " loop: %s", h->name, h->via, path);
	}
}

static void
via_clear(void)
{
	struct viaref	*vr;

	while ((vr = TAILQ_FIRST(&viarefs)) != NULL) {
		TAILQ_REMOVE(&viarefs, vr, entry);
		free(vr);
	}
}

static void
fwd_add(const YYLTYPE *loc, int dir, const char *dest, const char *port,
    const char *lport)
{
	struct fwdrule	*fr;
	long long	 n, ln = 0;

	if ((fr = calloc(1, sizeof(*fr))) == NULL)
		fatal("%s", __func__);
	if (setstr(loc, fr->host, sizeof(fr->host), dest, "forward",
	    STR_NONEMPTY) == -1 ||
	    getnum(loc, port, 1, 65535, "port", &n) == -1 ||
	    (lport != NULL && getnum(loc, lport, 1, 65535, "listen port",
	    &ln) == -1)) {
		free(fr);
		return;
	}
	fr->port = n;
	fr->listen_port = ln;
	fr->dir = dir;
	fr->hostid = curhost->id;
	fr->line = loc->first_line;
	TAILQ_INSERT_TAIL(&curhost->fwdrules, fr, entry);
}

/*
 * The global settings bridged -n can check here.  The default user
 * matters only to a daemon started as root, which is when it is used.
 */
static void
global_check_local(const char *filename)
{
	char	 err[PATH_MAX * 2 + 256];

	if (confcheck_user(conf->user, user_loc.fname != NULL, err,
	    sizeof(err)) == -1) {
		if (user_loc.fname != NULL)
			conf_err(&user_loc, "%s", err);
		else {
			fprintf(stderr, "%s: the default %s\n", filename, err);
			errors++;
		}
	}
	if (group_loc.fname != NULL &&
	    confcheck_group(conf->socket_group, err, sizeof(err)) == -1)
		conf_err(&group_loc, "%s", err);
	if (troot_loc.fname != NULL && confcheck_dir("transfer root",
	    conf->transfer_root, err, sizeof(err)) == -1)
		conf_err(&troot_loc, "%s", err);
}

/*
 * Parse a config file.  Returns NULL when there was any error (each one
 * already printed as FILE:LINE: message).  With verbose set, macros the
 * file defines but never uses are reported as warnings.
 */
struct bridged_conf *
parse_config(const char *filename, int verbose)
{
	struct sym	*sym;
	struct host	*h;
	static int	 checked;

	if (!checked) {
		keywords_check();
		checked = 1;
	}
	errors = 0;
	nexpand = 0;
	lexerr_fname = NULL;
	lexerr_line = 0;
	default_fname = NULL;
	default_line = 0;
	nblocks = mute_depth = abandoned = mute_next = 0;
	line_new = 1;
	line_tokno = line_first = last_tok = prev_tok = 0;
	memset(&user_loc, 0, sizeof(user_loc));
	memset(&group_loc, 0, sizeof(group_loc));
	memset(&troot_loc, 0, sizeof(troot_loc));
	curhost = NULL;
	curclient = NULL;
	curlist = NULL;
	curlist_protect = 0;
	memset(once_line, 0, sizeof(once_line));
	if ((conf = config_new()) == NULL)
		fatal("%s", __func__);

	file = NULL;
	if (pushfile(filename, NULL) == -1) {
		config_free(conf);
		conf = NULL;
		strlist_free(&fnames);
		symclear(0);
		return NULL;
	}
	if (yyparse() != 0 && errors == 0)
		errors++;		/* bison gave up without a message */
	while (file != NULL)
		popfile();
	via_check();
	via_clear();
	clients_check();
	publish_check();
	deleg_relay_check();
	if (conf_check_local)
		global_check_local(filename);

	if (conf->default_host[0] != '\0') {
		if (config_host_byname(conf, conf->default_host) == NULL) {
			fprintf(stderr, "%s:%d: default host \"%s\" is not"
			    " defined\n", default_fname, default_line,
			    conf->default_host);
			errors++;
		}
	} else if ((h = TAILQ_FIRST(&conf->hosts)) != NULL &&
	    TAILQ_NEXT(h, entry) == NULL)
		strlcpy(conf->default_host, h->name,
		    sizeof(conf->default_host));

	if (verbose)
		TAILQ_FOREACH(sym, &symhead, entry)
			if (!sym->persist && !sym->used)
				fprintf(stderr, "%s:%d: warning: macro \"%s\""
				    " not used\n", sym->fname, sym->line,
				    sym->name);

	symclear(0);
	strlist_free(&fnames);
	if (errors) {
		config_free(conf);
		conf = NULL;
		return NULL;
	}
	return conf;
}

/*
 * relay allow "PATTERN" [for "PRINCIPAL" | for group "NAME"] { RIGHTS }:
 * a channel name pattern of the channel characters and fnmatch's * and
 * ?.  A group is resolved to its members' uids here, on this machine,
 * unless -nn checks the file alone.
 */
static void
relay_rule_add(const YYLTYPE *loc, const YYLTYPE *ploc, const char *pattern,
    const YYLTYPE *floc, const char *principal, const char *group,
    long long rights)
{
	struct relay_rule	*r;
	char			 err[512];
	const char		*g;

	if (conf->nrelay_rules >= RELAY_RULES_MAX) {
		conf_err(loc, "relay allow: at most %d rules", RELAY_RULES_MAX);
		return;
	}
	if (*pattern == '\0' || strlen(pattern) >= RELAY_PATTERN_LEN) {
		conf_err(ploc, "relay allow: the pattern must have 1 to %d "
		    "characters", RELAY_PATTERN_LEN - 1);
		return;
	}
	if (!relay_pattern_ok(pattern)) {
		conf_err(ploc, "relay allow: \"%s\": a pattern has only "
		    "letters, digits, \".\", \"_\", \":\", \"-\", \"*\" and "
		    "\"?\"", pattern);
		return;
	}
	if (principal != NULL && (*principal == '\0' ||
	    strlen(principal) >= sizeof(r->principal))) {
		conf_err(floc, "relay allow: the principal after \"for\" must "
		    "have 1 to %zu characters", sizeof(r->principal) - 1);
		return;
	}
	if (group != NULL) {
		if (*group == '\0' || strlen(group) >= sizeof(r->group)) {
			conf_err(floc, "relay allow: the group after \"for "
			    "group\" must have 1 to %zu characters",
			    sizeof(r->group) - 1);
			return;
		}
		for (g = group; *g != '\0'; g++)
			if ((unsigned char)*g < ' ' || *g == 0x7f) {
				conf_err(floc, "relay allow: the group after "
				    "\"for group\" has a control character");
				return;
			}
	}
	r = &conf->relay_rules[conf->nrelay_rules++];
	memset(r, 0, sizeof(*r));
	strlcpy(r->pattern, pattern, sizeof(r->pattern));
	strlcpy(r->principal, principal != NULL ? principal : "",
	    sizeof(r->principal));
	strlcpy(r->group, group != NULL ? group : "", sizeof(r->group));
	r->rights = rights;
	r->line = loc->first_line;
	if (group != NULL && conf_check_local &&
	    confcheck_relay_group(r, err, sizeof(err)) == -1)
		conf_err(floc, "%s", err);
}

/* the channel characters and fnmatch's * and ? */
static int
relay_pattern_ok(const char *pattern)
{
	const char	*p;

	for (p = pattern; *p != '\0'; p++)
		if (strchr("abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-*?", *p) == NULL)
			return 0;
	return 1;
}

/*
 * delegate { relay "PATTERN" }: each ask_claude run on the host gets a
 * back-channel to the relay channels matching PATTERN (fe_backchan.c).
 */
static void
deleg_relay_set(const YYLTYPE *loc, const char *pattern)
{
	struct delegate_conf	*d = &curhost->delegate;

	if (*pattern == '\0' || strlen(pattern) >= sizeof(d->relay)) {
		conf_err(loc, "delegate relay: the pattern must have 1 to %zu "
		    "characters", sizeof(d->relay) - 1);
		return;
	}
	if (!relay_pattern_ok(pattern)) {
		conf_err(loc, "delegate relay \"%s\": a pattern has only "
		    "letters, digits, \".\", \"_\", \":\", \"-\", \"*\" and "
		    "\"?\"", pattern);
		return;
	}
	strlcpy(d->relay, pattern, sizeof(d->relay));
	d->relay_line = loc->first_line;
}

/*
 * Once the whole file is read: a back-channel reaches bridged through
 * the host's published port and lands on the relay, so it needs both.
 */
static void
deleg_relay_check(void)
{
	struct host	*h;

	TAILQ_FOREACH(h, &conf->hosts, entry) {
		if (h->delegate.relay[0] == '\0')
			continue;
		if (h->publish_port == 0) {
			fprintf(stderr, "%s:%d: host \"%s\": delegate relay "
			    "\"%s\" needs publish port N in the host block: "
			    "the delegated claude reaches bridged through "
			    "it\n", host_loc.fname, h->delegate.relay_line,
			    h->name, h->delegate.relay);
			errors++;
		}
		if (conf->relay_db[0] == '\0') {
			fprintf(stderr, "%s:%d: host \"%s\": delegate relay "
			    "\"%s\" needs the relay: add relay database "
			    "\"PATH\"\n", host_loc.fname,
			    h->delegate.relay_line, h->name,
			    h->delegate.relay);
			errors++;
		}
	}
}
