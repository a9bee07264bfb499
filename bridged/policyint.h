/*
 * policyint.h: inside the policy module, shared by policy.c (paths, whole
 * calls, quotas) and policyexec.c (the exec allowlist and the delete
 * protection).  Everyone else uses policy.h.
 */

#ifndef POLICYINT_H
#define POLICYINT_H

#include <stddef.h>

#define SHOW_MAX	160	/* bytes of a client's string in a message */

/* err gets the message; always -1, for "return policy_err(...)" */
int	 policy_err(char *, size_t, const char *, ...)
	    __attribute__((__format__ (printf, 3, 4)));
/* a client's string fit for a message */
void	 policy_show(const char *, size_t, char *, size_t);

#endif /* POLICYINT_H */
