/* dmarc - DMARC (RFC 7489): policy discovery at _dmarc.<From domain>,
 * else at its organizational domain (the public suffix list, through
 * libpsl), identifier alignment of SPF's and DKIM's domains with the
 * From domain, and the policy to apply. */
#ifndef DMARC_H
#define DMARC_H

#include <stddef.h>

enum { DMARC_NONE, DMARC_PASS, DMARC_FAIL, DMARC_TEMPERROR,
    DMARC_PERMERROR };
enum { DMARC_P_UNSET, DMARC_P_NONE, DMARC_P_QUARANTINE, DMARC_P_REJECT };

#define DMARC_DOMAIN_MAX 253

struct dmarc_rec {
	int p, sp;		/* DMARC_P_; sp DMARC_P_UNSET when absent */
	int adkim, aspf;	/* 's' or 'r' */
	unsigned pct;		/* 0..100 */
};

/* dmarc_parse - a TXT record s[0..n): 1 a usable DMARC record in *r,
 * 0 not a DMARC record at all (no leading v=DMARC1), -1 a DMARC record
 * without a valid p (and no rua to make it p=none: RFC 7489 6.6.3). */
int dmarc_parse(const char *s, size_t n, struct dmarc_rec *r);

/* dmarc_orgdomain - the organizational domain of d (public suffix plus
 * one label, lower case) into out (DMARC_DOMAIN_MAX + 1 bytes); d
 * itself when it is a public suffix or unknown to the list. */
void dmarc_orgdomain(const char *d, char *out);

/* dmarc_aligned - do a and b align (strict: equal; relaxed: the same
 * organizational domain), without regard to case? */
int dmarc_aligned(const char *a, const char *b, int strict);

/* One identifier that passed (SPF's domain when SPF passed, each DKIM
 * signature's d= that verified). */
struct dmarc_out {
	int result;		/* DMARC_ */
	int policy;		/* what the domain asks for this message:
				 * DMARC_P_ (pct applied); on pass, p */
	int p;			/* the record's p (or sp) as published */
	char domain[DMARC_DOMAIN_MAX + 1];	/* where the record was */
	const char *why;	/* temperror/permerror: static text */
};

/* dmarc_check - DMARC for From domain from: spfdom the SPF-checked
 * domain if SPF passed (else 0), dkimdoms[ndkim] the d= of each
 * signature that verified.  Fills *o; returns o->result. */
int dmarc_check(const char *from, const char *spfdom,
    const char *const *dkimdoms, size_t ndkim, struct dmarc_out *o);

/* dmarc_done - release libpsl's list (at exit, for leak checkers) */
void dmarc_done(void);

#endif
