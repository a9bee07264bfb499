/*
 * ssh_shellint.h: what ssh_shell.c (a host's persistent shells and the
 * commands they run) shares with ssh_shproto.c (what a shell is told:
 * its set-up, the form of a command) and ssh_shout.c (what it says:
 * buffers, the markers found in it, the result it makes).  Nothing else
 * includes this.
 */

#ifndef SSH_SHELLINT_H
#define SSH_SHELLINT_H

#include <sys/queue.h>

#include <event.h>
#include <jansson.h>

#include "ssh.h"

#define MARKER_LEN		22	/* of 62 letters and digits: 131 bits */
#define WIN_MAX			(2 * (PATH_MAX + 256))
#define BASH_NOTE_ROOM		900	/* characters for the notes at the end */

/* output of one stream: the head that is shown, a window for markers */
struct obuf {
	char		*head;
	size_t		 headlen;
	size_t		 cap;
	size_t		 total;
	char		*win;		/* the last WIN_MAX bytes */
	size_t		 winlen;
};

enum cmd_kill {
	KILL_NONE = 0,
	KILL_TIMEOUT,
	KILL_CANCEL,
};

struct shell;
struct sbuf;

/* how a shell takes its commands (ssh_shproto.c) */
enum shform {
	SHFORM_PLAIN = 0,	/* sh: the marker lines are printfs */
	SHFORM_MARKFN,		/* bash: they are a function */
	SHFORM_FASTREAD,	/* bash 5: and a long command is one read */
};

struct cmd {
	TAILQ_ENTRY(cmd)	 entry;
	struct shell		*sh;
	struct sshcall		*call;		/* NULL: the shell's setup */
	char			 marker[MARKER_LEN + 1];
	char			*command;
	int			 sent;
	int			 timeout_ms;
	long long		 deadline;	/* ms, monotonic */
	struct obuf		 out;
	struct obuf		 err;
	int			 outdone;
	int			 errdone;
	size_t			 outlen;	/* bytes before the marker */
	size_t			 errlen;
	int			 status;
	char			 cwd[PATH_MAX];
	int			 cwdlost;	/* $PWD too long to keep */
	enum cmd_kill		 kill;
	struct event		 ev_timeout;
	struct event		 ev_grace;
	int			 grace_set;
	struct event		 ev_progress;	/* the client asked for it */
	int			 progress_set;
};

/* ssh_shproto.c */
void	 shproto_marker(char *);
void	 shproto_exec(struct sbuf *);
void	 shproto_setup(struct sbuf *, const char *);
enum shform shproto_learn(const char *, long *, long *);
void	 shproto_command(struct sbuf *, const char *, const char *,
	    enum shform);

/* ssh_shout.c */
void	 obuf_init(struct obuf *, size_t);
void	 obuf_add(struct obuf *, const char *, size_t);
void	 obuf_free(struct obuf *);
/* the markers on each stream: sets outdone/errdone, status and cwd */
void	 cmd_scan(struct cmd *);
/* the Bash result of a command: its output, cut to fit, and the note */
json_t	*cmd_result(struct cmd *, struct sshcall *, const char *, int);

#endif /* SSH_SHELLINT_H */
