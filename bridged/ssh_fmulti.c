/*
 * ssh_fmulti.c: MultiRead, many files in one call, each as Read shows it
 * (ssh_fread.c) in its share of the result.  The small files of each
 * batch of FETCH_BATCH are read together (read_fetch); a large one is
 * sliced on the host, from the event loop, and the rest goes on in a
 * blocking section again when its slice has come.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include "bridged.h"
#include "log.h"
#include "ssh.h"
#include "ssh_files.h"
#include "ssh_fread.h"

#define MULTI_MAX		100	/* files in MultiRead */
#define READ_PART_MIN		2560	/* a MultiRead file's least share */

/* MultiRead's files and how far it has come */
struct multiq {
	json_t		*files;
	size_t		 next, share;
	int		 failed;
	uint32_t	 connid;
	struct sbuf	 out;
	struct readone	 r;		/* the file being sliced */
	size_t		 pfrom, pto;	/* the batch: files pfrom..pto-1 */
	struct prefile	 pre[FETCH_BATCH];
	char		*paths[FETCH_BATCH];
};

static void	 do_multiread(struct sshcall *);
static void	 multi_run(struct sshcall *, struct multiq *, sftp_session);
static int	 multi_path(struct sshcall *, json_t *, struct readone *,
		    char *);
static int	 multi_fetch(struct sshcall *, sftp_session, struct multiq *,
		    char *);
static void	 multi_prefree(struct multiq *);
static void	 multi_add(struct multiq *, int, struct sbuf *);
static void	 multi_sliced(struct sshcall *, struct rexec *, const char *,
		    void *);
static void	 multi_end(struct sshcall *, struct multiq *);

void
files_multiread(struct sshcall *call)
{
	files_run(call, do_multiread);
}

static void
do_multiread(struct sshcall *call)
{
	sftp_session	 sftp;
	struct multiq	*m;
	json_t		*files, *e;
	const char	*s;
	char		 err[ERRSZ] = "";
	long long	 offset, limit;
	size_t		 i;

	files = json_object_get(call->args, "files");
	if (!json_is_array(files) || json_array_size(files) == 0) {
		files_fail(call, "files must be a non-empty array of paths or "
		    "{file_path, offset?, limit?} objects");
		return;
	}
	if (json_array_size(files) > MULTI_MAX) {
		sshcall_text(call, 1, "files: at most %d files per call",
		    MULTI_MAX);
		return;
	}
	/* check everything before reading anything */
	json_array_foreach(files, i, e) {
		if (json_is_string(e))
			continue;
		if (!json_is_object(e) || arg_str(e, "file_path", 1, &s,
		    err) == -1 || read_range(e, &offset, &limit, err) == -1) {
			if (err[0] == '\0')
				strlcpy(err, "must be a path or an object",
				    sizeof(err));
			sshcall_text(call, 1, "files[%zu]: %s", i, err);
			return;
		}
	}
	if ((sftp = files_sftp(call, err)) == NULL) {
		files_fail(call, err);
		return;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL)
		fatal(NULL);
	m->files = json_incref(files);
	/* each file its share, so that each says where it stopped */
	m->share = ssh_result_budget() / json_array_size(files);
	if (m->share < READ_PART_MIN)
		m->share = READ_PART_MIN;
	multi_run(call, m, sftp);
}

/*
 * MultiRead's files from m->next on, in a blocking section, until one
 * is to be sliced on the host (it goes on in multi_sliced) or all are
 * read.  They go in batches of FETCH_BATCH: the small files of a batch
 * are read together first (multi_fetch), the others one by one.
 */
static void
multi_run(struct sshcall *call, struct multiq *m, sftp_session sftp)
{
	struct readone	*r = &m->r;
	struct prefile	*pf;
	struct sbuf	 one, cmd = { 0 };
	char		 err[ERRSZ];
	int		 rc;

	while (m->next < json_array_size(m->files)) {
		if (m->next == m->pto) {
			multi_prefree(m);
			m->pfrom = m->next;
			m->pto = m->next + FETCH_BATCH;
			if (m->pto > json_array_size(m->files))
				m->pto = json_array_size(m->files);
			if (multi_fetch(call, sftp, m, err) == -1) {
				sb_printf(&m->out, "%s[the files from here on "
				    "were not read: %s]\n", m->next ? "\n" :
				    "", err);
				break;
			}
		}
		pf = &m->pre[m->next - m->pfrom];
		rc = multi_path(call, json_array_get(m->files, m->next), r,
		    err);
		sb_printf(&m->out, "%s==> %s <==\n", m->next ? "\n" : "",
		    rc == 0 ? r->path : "(bad path)");
		if (rc == -1) {
			sb_printf(&m->out, "error: %s\n", err);
			m->failed++;
			m->next++;
			continue;
		}
		r->budget = m->share - 128;
		r->known = pf->known;
		r->size = pf->size;
		memset(&one, 0, sizeof(one));
		if (pf->have) {
			/* read whole with the others: its text is here */
			rc = read_have(call, r, &pf->text, &one, &cmd);
			pf->have = 0;
		} else
			rc = read_one(call, sftp, r, &one, &cmd);
		if (rc == 1) {
			m->connid = call->conn->id;
			read_slice(call, r, &cmd, multi_sliced, m);
			return;
		}
		multi_add(m, rc, &one);
		m->next++;
		if (files_lost)
			break;
	}
	multi_end(call, m);
}

/* MultiRead's file e: its path (resolved) and range into r, or -1, err */
static int
multi_path(struct sshcall *call, json_t *e, struct readone *r, char *err)
{
	json_t	*o;
	int	 rc;

	memset(r, 0, sizeof(*r));
	r->first = 1;
	r->limit = READ_LINES;
	err[0] = '\0';
	if (!json_is_string(e)) {
		/* checked in do_multiread */
		(void)read_range(e, &r->first, &r->limit, err);
		return arg_path(call, e, "file_path", 1, r->path, err);
	}
	if ((o = json_pack("{s:O}", "file_path", e)) == NULL)
		fatalx("json_pack");
	rc = arg_path(call, o, "file_path", 1, r->path, err);
	json_decref(o);
	return rc;
}

/*
 * The small files of MultiRead's batch (m->pfrom..m->pto-1) read
 * together (read_fetch): opened, read and closed with the others, each
 * kind of request for all of them in one round trip, where one at a time
 * they were three a file.  A file read so has its bytes in its prefile;
 * any other is left to read_one(), which reads and words it as ever.  -1
 * with err: the connection failed.
 */
static int
multi_fetch(struct sshcall *call, sftp_session sftp, struct multiq *m,
    char *err)
{
	struct readone	 r;
	struct prefile	*pf;
	size_t		 k, n = m->pto - m->pfrom;
	int		 rc = -1;

	for (k = 0; k < n; k++) {
		pf = &m->pre[k];
		memset(pf, 0, sizeof(*pf));
		if (multi_path(call, json_array_get(m->files, m->pfrom + k),
		    &r, err) == -1)
			continue;
		pf->known = sshpolicy_known(call, r.path, &pf->size);
		if (pf->known && (m->paths[k] = strdup(r.path)) == NULL)
			fatal(NULL);
		pf->path = m->paths[k];
	}
	if (read_fetch(sftp, m->pre, n, err) == 0 &&
	    read_fetch_close(sftp, m->pre, n, err) == 0)
		rc = 0;
	if (rc == -1)
		multi_prefree(m);
	return rc;
}

/* the batch's texts, freed */
static void
multi_prefree(struct multiq *m)
{
	size_t	 k;

	read_fetch_free(m->pre, FETCH_BATCH);
	for (k = 0; k < FETCH_BATCH; k++) {
		free(m->paths[k]);
		m->paths[k] = NULL;
	}
}

/* one file's text (or error, rc -1) into MultiRead's answer */
static void
multi_add(struct multiq *m, int rc, struct sbuf *one)
{
	if (rc == -1) {
		sb_str(&m->out, "error: ");
		m->failed++;
	}
	sb_add(&m->out, one->p ? one->p : "", one->len);
	if (one->len == 0 || one->p[one->len - 1] != '\n')
		sb_add(&m->out, "\n", 1);
	sb_free(one);
}

/*
 * A file's slice has come: the rest of the files in a blocking section
 * again, on the connection the call was on; what is read so far is the
 * answer when the call was cancelled or the connection went.
 */
static void
multi_sliced(struct sshcall *call, struct rexec *rx, const char *why,
    void *arg)
{
	struct multiq	*m = arg;
	struct sbuf	 one = { 0 };
	sftp_session	 sftp;
	char		 err[ERRSZ] = "";
	uint32_t	 id = m->connid;
	int		 was;

	multi_add(m, read_sliced(call, &m->r, rx, why, &one), &one);
	m->next++;
	if (call->cancelled || m->next == json_array_size(m->files)) {
		multi_end(call, m);
		return;
	}
	if (files_resume(call, id, &was) == -1) {
		sb_printf(&m->out, "\n[the connection to host \"%s\" was lost; "
		    "the files after this one were not read]\n",
		    call->host->name);
		multi_end(call, m);
		return;
	}
	if ((sftp = files_sftp(call, err)) == NULL) {
		sb_printf(&m->out, "\n[the files after this one were not read: "
		    "%s]\n", err);
		multi_end(call, m);
	} else
		multi_run(call, m, sftp);
	files_resume_end(id, was);
}

/* the answer: an error only when every file failed */
static void
multi_end(struct sshcall *call, struct multiq *m)
{
	files_reply(call, (size_t)m->failed == json_array_size(m->files),
	    &m->out, "read fewer files per call, or use offset/limit");
	multi_prefree(m);
	json_decref(m->files);
	free(m);
}
