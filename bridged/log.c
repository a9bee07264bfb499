/*
 * log.c: the daemon's diagnostics.  In the foreground (-d) lines go to
 * stderr prefixed with the process name; otherwise to syslog(3).  fatal()
 * is for broken invariants and startup failures only.
 *
 * Every line is made safe first: secrets redacted (when the program set
 * a redaction, as bridged does with policy_redact) and control characters
 * escaped (vis(3), C style: a newline is \n, ESC is \033, a backslash
 * \\), so that text a client or a host chose (a path, a client name) can
 * neither forge a line of its own nor drive the terminal of whoever reads
 * the log.  Printable ASCII and UTF-8 are left as they are, so ordinary
 * messages look the same.
 */

#define LIBBSD_OPENBSD_VIS

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <vis.h>

#include "log.h"
#include "text.h"

#define LOG_VIS		(VIS_CSTYLE | VIS_OCTAL | VIS_TAB | VIS_NL)

static int		 log_tostderr = 1;
static int		 log_verbose;
static const char	*log_proc = "bridged";
static char		*(*log_redact)(const char *, size_t);

static char	*log_safe(const char *, int);
static void	 log_line(int, const char *, int);

void
log_init(int foreground, int facility)
{
	log_tostderr = foreground;
	if (!foreground)
		openlog("bridged", LOG_PID | LOG_NDELAY, facility);
	tzset();
}

void
log_procinit(const char *name)
{
	if (name != NULL)
		log_proc = name;
}

void
log_setverbose(int v)
{
	log_verbose = v;
}

int
log_getverbose(void)
{
	return log_verbose;
}

/* every line passes fn (returns a malloc'd copy, or NULL) before it goes */
void
log_setredact(char *(*fn)(const char *, size_t))
{
	log_redact = fn;
}

/*
 * s made safe for one log line, malloc'd (NULL: out of memory).  A byte
 * that is not printable ASCII nor part of a printable UTF-8 character is
 * escaped with vis(3).  relay: s was made safe by another of our
 * processes already; what is still unsafe in it is escaped, but a
 * backslash stays as it is (it begins that process's escapes).
 */
static char *
log_safe(const char *s, int relay)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 len = strlen(s), i = 0, l;
	uint32_t		 cp;
	char			*out, *o;
	int			 flags;

	/* a relayed line has no escapes of ours to double, and no \ooo */
	flags = relay ? VIS_CSTYLE | VIS_TAB | VIS_NL | VIS_NOSLASH : LOG_VIS;
	if (len > (SIZE_MAX - 1) / 4 || (out = malloc(len * 4 + 1)) == NULL)
		return NULL;
	o = out;
	while (i < len) {
		if (p[i] >= 0x20 && p[i] < 0x7f && (p[i] != '\\' || relay)) {
			*o++ = p[i++];
			continue;
		}
		/* UTF-8, but not the C1 controls (U+0080 to U+009F) */
		if (p[i] >= 0x80 && (l = utf8_decode(p + i, len - i,
		    &cp)) > 1 && cp >= 0xa0) {
			memcpy(o, p + i, l);
			o += l;
			i += l;
			continue;
		}
		o = vis(o, p[i], flags, p[i + 1]);
		i++;
	}
	*o = '\0';
	return out;
}

/* one line out: redacted, made safe, to stderr or syslog */
static void
log_line(int pri, const char *msg, int relay)
{
	char	*red = NULL, *safe;

	if (log_redact != NULL)
		red = log_redact(msg, strlen(msg));
	safe = log_safe(red != NULL ? red : msg, relay);
	free(red);
	if (log_tostderr) {
		fprintf(stderr, "%s: %s\n", log_proc, safe != NULL ? safe :
		    "(a log line was lost: out of memory)");
		fflush(stderr);
	} else
		syslog(pri, "%s", safe != NULL ? safe :
		    "(a log line was lost: out of memory)");
	free(safe);
}

void
vlog(int pri, const char *fmt, va_list ap)
{
	char	*msg;
	int	 saved = errno;

	if (vasprintf(&msg, fmt, ap) == -1)
		msg = NULL;
	log_line(pri, msg != NULL ? msg : "(a log line was lost: out of "
	    "memory)", 0);
	free(msg);
	errno = saved;
}

/*
 * A line another process wrote to its stderr, passed on by the parent
 * (daemonized, the children's stderr is a pipe to it).
 */
void
log_relay(int pri, const char *line)
{
	int	 saved = errno;

	log_line(pri, line, 1);
	errno = saved;
}

static void
logit(int pri, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(pri, fmt, ap);
	va_end(ap);
}

/* Append strerror(errno) the way err(3) does. */
static void
vlog_errno(int pri, const char *fmt, va_list ap)
{
	char	 msg[1024];
	int	 saved = errno;

	if (fmt == NULL) {
		logit(pri, "%s", strerror(saved));
		return;
	}
	vsnprintf(msg, sizeof(msg), fmt, ap);
	logit(pri, "%s: %s", msg, strerror(saved));
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog_errno(LOG_ERR, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (log_verbose < 1)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog_errno(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}
