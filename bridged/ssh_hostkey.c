/*
 * ssh_hostkey.c: strict host key checking for the ssh worker's
 * connections.  The server's key must be the pinned one ("host key TYPE
 * BASE64") or be listed for the host in the known hosts text the parent
 * read; unknown, changed or revoked keys are refused, with the
 * fingerprint and what to do in the message.  Host patterns match as
 * OpenSSH's do (hostpat.c).
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event.h>
#include <libssh/libssh.h>

#include "bridged.h"
#include "log.h"
#include "ssh.h"

static int	 hostkey_known(struct sshhost *, ssh_key, const char *,
		    const char *, char *, size_t);
static int	 hostkey_import(const char *, const char *, ssh_key *);

/* "SHA256:base64", as ssh-keygen -l prints it; NULL on failure */
char *
key_fingerprint(ssh_key key)
{
	unsigned char	*hash = NULL;
	size_t		 hlen;
	char		*fp;

	if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash,
	    &hlen) != SSH_OK)
		return NULL;
	fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
	ssh_clean_pubkey_hash(&hash);
	return fp;
}

/*
 * Strict host key checking: the server's key must be the pinned key
 * ("host key TYPE BASE64") or be listed for this host in the known hosts
 * text.  Unknown, changed or revoked = refused.
 */
int
hostkey_verify(struct sshhost *host, ssh_session s, char *err, size_t errlen)
{
	struct host	*h = host->conf;
	ssh_key		 srv = NULL, pin = NULL;
	const char	*type;
	char		*fp = NULL, *pinfp, pintype[64], *sp;
	int		 rc = -1;

	if (ssh_get_server_publickey(s, &srv) != SSH_OK) {
		snprintf(err, errlen, "no host key from the server: %s",
		    sshconn_error(s, "none was offered"));
		return -1;
	}
	type = ssh_key_type_to_char(ssh_key_type(srv));
	if (type == NULL)
		type = "unknown";
	if ((fp = key_fingerprint(srv)) == NULL) {
		snprintf(err, errlen, "cannot hash the %s host key", type);
		goto done;
	}
	snprintf(host->st.fingerprint, sizeof(host->st.fingerprint), "%s %s",
	    type, fp);

	if (h->host_key[0] != '\0') {
		strlcpy(pintype, h->host_key, sizeof(pintype));
		if ((sp = strchr(pintype, ' ')) != NULL)
			*sp = '\0';
		if ((sp = strchr(h->host_key, ' ')) == NULL ||
		    hostkey_import(pintype, sp + 1, &pin) == -1) {
			snprintf(err, errlen, "the pinned host key is not a"
			    " valid key; refusing %s key %s", type, fp);
			goto done;
		}
		if (ssh_key_cmp(pin, srv, SSH_KEY_CMP_PUBLIC) == 0) {
			rc = 0;
			goto done;
		}
		pinfp = key_fingerprint(pin);
		snprintf(err, errlen, "%s key %s does not match the pinned"
		    " host key (%s %s); refusing", type, fp, pintype,
		    pinfp ? pinfp : "?");
		ssh_string_free_char(pinfp);
		goto done;
	}
	if (h->known_hosts[0] == '\0' || host->known_hosts == NULL) {
		snprintf(err, errlen, "%s key %s cannot be verified: no"
		    " \"known hosts\" or \"host key\" configured; refusing",
		    type, fp);
		goto done;
	}
	rc = hostkey_known(host, srv, type, fp, err, errlen);
 done:
	ssh_string_free_char(fp);
	ssh_key_free(pin);
	ssh_key_free(srv);
	return rc;
}

static int
hostkey_import(const char *type, const char *b64, ssh_key *key)
{
	enum ssh_keytypes_e	 kt;

	*key = NULL;
	if ((kt = ssh_key_type_from_name(type)) == SSH_KEYTYPE_UNKNOWN)
		return -1;
	if (ssh_pki_import_pubkey_base64(b64, kt, key) != SSH_OK)
		return -1;
	return 0;
}

/*
 * The known_hosts format of sshd(8): "[@marker] patterns type base64
 * [comment]".  Patterns are comma separated globs, "!" negates; the
 * name looked up is "address" for port 22 and "[address]:port" for any
 * other port.  Hashed names (|1|...) are not supported.
 */
static int
hostkey_known(struct sshhost *host, ssh_key srv, const char *type,
    const char *fp, char *err, size_t errlen)
{
	struct host	*h = host->conf;
	ssh_key		 k;
	char		 name[HOST_ADDR_LEN + 16], *text, *line, *next;
	char		*f[4], *p;
	int		 nf, lineno = 0, found = 0, changed = 0, revoked = 0;
	int		 hashed = 0, othertype = 0, i;
	unsigned int	 port = h->port ? h->port : CONF_SSH_PORT;

	if (port == CONF_SSH_PORT)
		strlcpy(name, h->address, sizeof(name));
	else
		snprintf(name, sizeof(name), "[%s]:%u", h->address, port);
	for (p = name; *p != '\0'; p++)
		*p = tolower((unsigned char)*p);

	if ((text = strdup(host->known_hosts)) == NULL)
		fatal(NULL);
	for (line = text; line != NULL; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		line[strcspn(line, "\r")] = '\0';
		for (nf = 0, p = line; nf < 4; nf++) {
			p += strspn(p, " \t");
			if (*p == '\0' || (nf == 0 && *p == '#'))
				break;
			f[nf] = p;
			p += strcspn(p, " \t");
			if (*p != '\0')
				*p++ = '\0';
		}
		if (nf == 0)
			continue;
		if (f[0][0] == '@') {
			/* "@revoked" applies; "@cert-authority" is not ours */
			if (nf < 4 || strcmp(f[0], "@revoked") != 0)
				continue;
			if (hostpattern_match(f[1], name) != 1)
				continue;
			if (hostkey_import(f[2], f[3], &k) == 0) {
				if (ssh_key_cmp(k, srv, SSH_KEY_CMP_PUBLIC) ==
				    0)
					revoked = lineno;
				ssh_key_free(k);
			}
			continue;
		}
		if (nf < 3)
			continue;
		if (strncmp(f[0], "|1|", 3) == 0) {
			hashed++;
			continue;
		}
		if (hostpattern_match(f[0], name) != 1)
			continue;
		if (strcmp(f[1], type) != 0) {
			othertype++;
			continue;
		}
		if (hostkey_import(f[1], f[2], &k) == -1)
			continue;
		i = ssh_key_cmp(k, srv, SSH_KEY_CMP_PUBLIC);
		ssh_key_free(k);
		if (i == 0)
			found = lineno;
		else if (changed == 0)
			changed = lineno;
	}
	free(text);

	if (revoked) {
		snprintf(err, errlen, "%s key %s is marked @revoked in known"
		    " hosts %s (line %d); refusing", type, fp, h->known_hosts,
		    revoked);
		return -1;
	}
	if (found)
		return 0;
	if (changed) {
		snprintf(err, errlen, "%s key %s does not match the key for %s"
		    " in known hosts %s (line %d): the host key has CHANGED"
		    " (or someone is in the middle); refusing", type, fp, name,
		    h->known_hosts, changed);
		return -1;
	}
	snprintf(err, errlen, "%s key %s is not in known hosts %s for %s%s;"
	    " refusing", type, fp, h->known_hosts, name,
	    othertype ? " (only keys of other types are listed)" :
	    hashed ? " (hashed entries are not supported: list the host by"
	    " name, e.g. with ssh-keyscan without -H)" : "");
	return -1;
}
