/* mtasts - MTA-STS (RFC 8461): a domain's policy for TLS to its MX hosts.
 *
 * mtasts_get is the one entry point for remote and qpost-tool: it looks
 * up the _mta-sts TXT record through dns.c, fetches
 * https://mta-sts.DOMAIN/.well-known/mta-sts.txt with libcurl when the
 * cache does not hold the policy of that id, and keeps each domain's
 * policy in the home's mtasts/ directory (mtasts/DOMAIN) for its max_age.
 * The caller has called dns_init.  Control files read: tlscafile (a PEM
 * bundle the HTTPS server's certificate must chain to, instead of the
 * system CA store), timeoutmtasts (seconds for the whole fetch).
 *
 * What the caller does with the answer (RFC 8461 4 and 5):
 *   MTASTS_ENFORCE  deliver only to MX hosts for which mtasts_mx_match
 *                   is 1, only over TLS with a certificate that verifies
 *                   (system CA store) for the MX host name; else a
 *                   temporary failure.  DANE wins where the MX host has
 *                   usable TLSA records (RFC 8461 2).
 *   MTASTS_TESTING  deliver as without a policy, log what would fail.
 *   MTASTS_NONE     no policy (or the domain's policy says "none").
 * Nothing here is a reason to defer: a failed lookup or fetch with no
 * usable cached policy is MTASTS_NONE (RFC 8461 3.3, 5.1).
 * Out of memory ends the program (err_nomem, exit 111).
 *
 * Cost per call: the cache file read and one TXT query; a fetch (one
 * A/AAAA query, one HTTPS request, at most timeoutmtasts seconds) only
 * when the record's id is not the cached one or the cache expired.
 * Not thread-safe (static buffers); SIGPIPE is ignored during a fetch
 * and restored after.  libcurl is loaded (dlopen, libcurl.so.4) at the
 * first fetch, not linked: a program using this needs no -lcurl. */
#ifndef MTASTS_H
#define MTASTS_H

#include <stddef.h>
#include <time.h>

#define MTASTS_NONE 0
#define MTASTS_TESTING 1
#define MTASTS_ENFORCE 2

/* where the answer of mtasts_get came from */
#define MTASTS_SRC_NONE 0	/* no policy: no usable record or fetch */
#define MTASTS_SRC_FETCHED 1	/* fetched now (and cached) */
#define MTASTS_SRC_CACHE 2	/* the cached policy, TXT id unchanged */
#define MTASTS_SRC_STALE 3	/* the cached policy, unexpired, used
				 * because the record is gone or the
				 * fetch of a new id failed (RFC 8461 5.1) */

#define MTASTS_POLICY_MAX 65536	/* bytes of a policy (RFC 8461 3.3) */
#define MTASTS_MAXAGE_MAX 31557600UL	/* a year: max_age is cut to it */
#define MTASTS_ID_MAX 32		/* characters of a TXT id */
#define MTASTS_MX_MAX 64		/* mx patterns kept; more: malformed */
#define MTASTS_NAME_MAX 253		/* characters of a pattern or domain */

struct mtasts_policy {
	int mode;		/* MTASTS_NONE, _TESTING, _ENFORCE */
	int source;		/* MTASTS_SRC_* */
	unsigned long max_age;	/* seconds */
	time_t fetched;		/* when the policy was fetched; 0 none */
	char id[MTASTS_ID_MAX + 1];	/* the TXT id it was fetched for */
	size_t nmx;
	char mx[MTASTS_MX_MAX][MTASTS_NAME_MAX + 1];	/* lower case,
							 * "*.x.y" or "a.x.y" */
};

/* the why of a domain argument that is no domain name */
#define MTASTS_WHY_BADNAME "no policy: not a domain name"

/* mtasts_get - the policy for mail to domain, into *p (all of it set
 * whatever the result).  Returns p->mode.  *why: one line for the log
 * saying where the answer came from or why there is none (static text,
 * valid until the next call). */
int mtasts_get(const char *domain, struct mtasts_policy *p,
    const char **why);

/* mtasts_mx_match - 1 if the MX host name mx (a trailing dot allowed,
 * any case) is one the policy lists: equal to a pattern, or a pattern
 * "*.rest" with mx one label more than rest (RFC 8461 4.1); else 0. */
int mtasts_mx_match(const struct mtasts_policy *p, const char *mx);

/* mtasts_mode_name - "none", "testing" or "enforce" */
const char *mtasts_mode_name(int mode);

/* The parsers, on hostile bytes (fuzzed by fuzz/mtasts.c). */

/* mtasts_policy_parse - the policy text (s, len) into *p (mode, max_age,
 * mx): 0, or -1 (malformed: no policy) with *why. */
int mtasts_policy_parse(const char *s, size_t len, struct mtasts_policy *p,
    const char **why);

/* mtasts_txt_parse - one TXT record (a C string, "v=STSv1; id=...;"):
 * 0 with its id in id (MTASTS_ID_MAX + 1 bytes), or -1 with *why. */
int mtasts_txt_parse(const char *rec, char *id, const char **why);

/* mtasts_txt_pick - of n records from dns_txt ("rec\0rec\0..." in
 * (recs, len)), the one STSv1 record: 0 with its id, -1 with *why when
 * there is none, more than one or it is malformed (RFC 8461 3.1). */
int mtasts_txt_pick(const char *recs, size_t len, size_t n, char *id,
    const char **why);

/* mtasts_cache_parse - a cache file's bytes into *p (id, fetched and the
 * policy): 0, or -1 when it is not a well-formed cache file. */
int mtasts_cache_parse(const char *s, size_t len, struct mtasts_policy *p);

#endif
