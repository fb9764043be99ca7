/* tlspol - remote's TLS policy per destination domain: the owner of the
 * control/tlsdestinations format (docs/remote.md).
 *
 * One "domain:policy[ option...]" per line.  domain is matched as in
 * control/smtproutes (tlspol_match): the exact domain, else the longest
 * ".suffix", else the line with an empty domain (the default).
 * policy: none, may (the default without a line), encrypt, verify, dane.
 * Options (verify only): fp=HEX, a pinned SHA-256 digest (64 hex digits,
 * colons allowed) of the peer's certificate or of its public key; up to
 * TLSPOL_FP_MAX of them, any one matching will do. */
#ifndef TLSPOL_H
#define TLSPOL_H

#include <stddef.h>

enum tlspol_level {
	TLSPOL_NONE,		/* never STARTTLS */
	TLSPOL_MAY,		/* STARTTLS if offered, clear on failure */
	TLSPOL_ENCRYPT,		/* TLS or nothing; no verification */
	TLSPOL_VERIFY,		/* TLS, certificate valid for the MX name
				 * (CA store) or matching a pinned digest */
	TLSPOL_DANE		/* TLS authenticated by DNSSEC TLSA records */
};

#define TLSPOL_FP_MAX 4
#define TLSPOL_FP_LEN 32	/* SHA-256 */

struct tlspol {
	enum tlspol_level level;
	size_t nfp;
	unsigned char fp[TLSPOL_FP_MAX][TLSPOL_FP_LEN];
};

/* tlspol_name - the policy's word ("none", "may", ...) */
const char *tlspol_name(enum tlspol_level);

/* tlspol_match - how well the pattern pat (n bytes: a domain, a
 * ".suffix" or empty) fits domain: -1 not at all, else higher is better
 * (exact beats the longest suffix beats the empty default).  The one
 * matcher of control/smtproutes and control/tlsdestinations. */
long tlspol_match(const char *domain, const char *pat, size_t n);

/* tlspol_parse - the policy part of a line (after "domain:"), s[0..n);
 * 0, or -1 for a line that is not understood (the caller defers: a
 * broken policy file must not let mail go out in clear). */
int tlspol_parse(const char *s, size_t n, struct tlspol *out);

/* tlspol_find - the policy for domain from the items of the file, as
 * control_readlist gives them (each NUL-terminated, len bytes in all).
 * 1 a line matched (*out set), 0 none did (*out is "may"), -1 a line
 * (any line, not only a matching one) is malformed (*bad points at it). */
int tlspol_find(const char *list, size_t len, const char *domain,
    struct tlspol *out, const char **bad);

#endif
