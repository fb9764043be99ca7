/* spf - Sender Policy Framework (RFC 7208): check_host() over dns.c.
 *
 * One spf_ctx per client: its address, the MAIL FROM (or postmaster@HELO
 * when empty), the HELO name and our own name for the macros.  spf_check
 * runs check_host() for one domain with fresh limits: 10 terms that ask
 * the DNS (include a mx ptr exists redirect), 2 void lookups, 10 MX
 * hosts per mx, the first 10 PTR names per ptr, 20 seconds in all.
 * The exp modifier is checked for syntax and otherwise ignored (we put
 * no explanation in any reply). */
#ifndef SPF_H
#define SPF_H

#include <stddef.h>

#include "dns.h"
#include "str.h"

enum {
	SPF_NONE,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR
};

#define SPF_LOOKUP_MAX 10	/* terms that ask the DNS (RFC 7208 4.6.4) */
#define SPF_VOID_MAX 2		/* lookups with no answer */
#define SPF_MX_MAX 10		/* MX hosts one mx mechanism may name */
#define SPF_PTR_MAX 10		/* PTR names one ptr looks at */
#define SPF_TIME_MAX 20		/* seconds for one check_host() */
#define SPF_DOMAIN_MAX 253	/* a domain name, no final dot */
#define SPF_EXPAND_MAX 4096	/* bytes one macro-string may expand to */
#define SPF_SENDER_MAX 1024	/* longest sender checked */

typedef struct {
	dns_addr ip;		/* the client; IPv4-mapped IPv6 made IPv4 */
	str sender;		/* local@domain, NUL-terminated */
	size_t at;		/* where its '@' is */
	const char *helo;
	const char *me;		/* %{r} */
	int nodns;		/* no lookups (fuzzing): %{p} is "unknown" */
	int lookups, voids;
	long long deadline;	/* ms, CLOCK_MONOTONIC */
	const char *why;	/* what made the last temperror or permerror */
	int ptrdone;
	char ptrname[DNS_NAME_MAX];	/* %{p}, once looked up */
} spf_ctx;

/* spf_init - a context for client ip, the envelope sender (may be
 * empty: postmaster@helo; with no '@': sender@helo) and HELO name.
 * 0, or -1 out of memory. */
int spf_init(spf_ctx *, const dns_addr *ip, const char *sender,
    const char *helo, const char *me);
void spf_free(spf_ctx *);

/* spf_check - check_host(ip, domain, sender): an SPF_ result; on
 * temperror and permerror c->why says why (static text). */
int spf_check(spf_ctx *, const char *domain);
/* spf_domain - the domain of the sender as checked */
const char *spf_domain(const spf_ctx *);

/* spf_str - "pass", "fail", ... as in Authentication-Results */
const char *spf_str(int result);

/* spf_expand - macro-expand s[0..n) (RFC 7208 7) for domain into out
 * (appended; NUL-terminated).  exp: the explanation letters c r t and
 * spaces are allowed.  c may be 0 to check the syntax only.  0, or -1
 * for a syntax error (or out of memory, errno ENOMEM). */
int spf_expand(spf_ctx *c, const char *domain, const char *s, size_t n,
    int exp, str *out);

/* spf_syntax - is rec[0..n) (after "v=spf1") a well-formed list of
 * terms, with at most one redirect and one exp?  0 or -1 (c->why). */
int spf_syntax(spf_ctx *c, const char *rec, size_t n);

#endif
