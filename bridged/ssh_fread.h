/*
 * ssh_fread.h: what Read (ssh_fread.c) and MultiRead (ssh_fmulti.c)
 * share: one file's read, and small files read together.
 */

#ifndef FREAD_H
#define FREAD_H

#define READ_LINES		2000	/* Read's default limit */
#define READ_LINE_CHARS		2000	/* Read cuts longer lines */
#define READ_LINE_BYTES		(4 * READ_LINE_CHARS)
#define READ_SNIFF		8192	/* bytes looked at for binary */
#define READ_SMALL		(256 * 1024)	/* read whole over SFTP */
#define READ_HINT_ROOM		320	/* characters kept for the hint */

#define FETCH_BATCH		32	/* small files read together */
#define FETCH_MAX		(64 * 1024)	/* ... of at most */

/* one file's Read: what read_lines() needs once its text has come */
struct readone {
	char		 path[PATH_MAX];
	long long	 first, limit;
	size_t		 budget;	/* characters for the numbered lines */
	size_t		 cap;		/* bytes of text asked for */
	int		 known;		/* a regular file of size (resolve) */
	uint64_t	 size, moved;
};

/* a small file read with others (read_fetch) */
struct prefile {
	const char	*path;		/* NULL: not to be read */
	int		 known;		/* as readone's */
	uint64_t	 size;
	int		 have;		/* text is the file, whole */
	struct sbuf	 text;
	int		 open;		/* hout is its handle, to close */
	unsigned char	 hout[256];
	uint32_t	 houtlen;
};

void	 read_prep(struct readone *);
int	 read_one(struct sshcall *, sftp_session, struct readone *,
	    struct sbuf *, struct sbuf *);
int	 read_have(struct sshcall *, struct readone *, struct sbuf *,
	    struct sbuf *, struct sbuf *);
int	 read_sliced(struct sshcall *, struct readone *, struct rexec *,
	    const char *, struct sbuf *);
void	 read_slice(struct sshcall *, struct readone *, struct sbuf *,
	    aexec_done, void *);
int	 read_range(json_t *, long long *, long long *, char *);
int	 read_fetch(sftp_session, struct prefile *, size_t, char *);
int	 read_fetch_close(sftp_session, struct prefile *, size_t, char *);
void	 read_fetch_free(struct prefile *, size_t);


#endif
