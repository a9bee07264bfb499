/*
 * ssh_fchan.h: an SFTP channel of a transfer's (or a Glob's, a ListDir's)
 * own, driven by the event loop (ssh_fchan.c), for ssh_fdown.c,
 * ssh_fup.c, ssh_fglob.c and ssh_flist.c; needs <event.h>,
 * <libssh/callbacks.h> and ssh.h before it.
 */

#ifndef FCHAN_H
#define FCHAN_H

/*
 * An SFTP channel of a transfer's own, driven by the event loop
 * (ssh_fchan.c); its owner sets inmax, ansmax, step, stop and arg.
 */
struct fchan {
	TAILQ_ENTRY(fchan)	 entry;
	struct sshcall		*call;
	struct sshhost		*host;
	uint32_t		 connid;
	ssh_channel		 ch;
	sftp_session		 sftp;	/* libssh's: the start and the open */
	struct ssh_channel_callbacks_struct cb;
	struct evbuffer		*in;	/* answers not yet taken */
	struct evbuffer		*out;	/* requests the window did not take */
	struct event		 ev_step;
	struct event		 ev_deadline;
	size_t			 inmax;
	uint32_t		 ansmax;
	int			 going;	/* callbacks on, in the list */
	int			 closed;	/* the server closed it */
	int			 lost;	/* with the connection */
	void			(*step)(struct fchan *);
	void			(*stop)(struct fchan *, const char *);
	void			*arg;
};
int	 fchan_open(struct fchan *, struct sshcall *, struct sshconn *);
void	 fchan_go(struct fchan *);
void	 fchan_sched(struct fchan *);
int	 fchan_answer(struct fchan *, const unsigned char **, uint32_t *,
	    char *);
void	 fchan_taken(struct fchan *, uint32_t);
int	 fchan_answers(struct fchan *, int (*)(void *, const unsigned char *,
	    uint32_t, char *), void *, char *);
int	 fchan_misfit(struct fchan *, int, int, char *);
void	 fchan_send(struct fchan *, const void *, size_t, const void *,
	    size_t);
int	 fchan_flush(struct fchan *, char *);
void	 fchan_close(struct fchan *, sftp_file);


#endif /* FCHAN_H */
