/* dns - the DNS lookups remote needs (MX, A, AAAA), through glibc's stub
 * resolver (res_ninit/res_nquery, answers walked with ns_parse).
 *
 * The server asked is $QPOST_DNS if set, else control/dnsserver, else
 * whatever /etc/resolv.conf names.  Both take "ip" or "ip:port" (IPv4),
 * so tests and hosts with their own cache can point remote at it.
 * Names are looked up as given: no search list, no default domain. */
#ifndef DNS_H
#define DNS_H

#include <stddef.h>

#include "str.h"

#define DNS_NAME_MAX 1025	/* NS_MAXDNAME: a presentation-form name */
#define DNS_MX_MAX 64		/* MX records kept per domain */
#define DNS_ADDR_MAX 16		/* addresses kept per host name */
#define DNS_ANSWER_MAX 65536	/* bytes of one answer */

/* results */
#define DNS_OK 0
#define DNS_NXDOMAIN 1		/* the name does not exist: permanent */
#define DNS_NODATA 2		/* the name exists, no record of that type */
#define DNS_TEMP (-1)		/* timeout, SERVFAIL, no server: try later */

typedef struct {
	unsigned pref;
	char name[DNS_NAME_MAX];	/* "" for the root (null MX) */
} dns_mx;

typedef struct {
	int af;			/* AF_INET or AF_INET6 */
	unsigned char ip[16];
} dns_addr;

/* dns_init - set up the resolver and the server to ask.
 * 0, or -1 with a reason in *why (static text). */
int dns_init(const char **why);

/* dns_mxlist - the MX records of domain, sorted by preference, equal
 * preferences in random order.  *n is set on DNS_OK. */
int dns_mxlist(const char *domain, dns_mx *out, size_t max, size_t *n);

/* dns_addrs - the AAAA and A records of name (IPv6 first). */
int dns_addrs(const char *name, dns_addr *out, size_t max, size_t *n);

/* dns_addrtype - only the A (af AF_INET) or only the AAAA (AF_INET6)
 * records of name (SPF's a and mx mechanisms ask for the client's
 * family alone); DNS_NODATA when there are none. */
int dns_addrtype(const char *name, int af, dns_addr *out, size_t max,
    size_t *n);

/* dns_ptr - the PTR names of address a, at most max (SPF's ptr
 * mechanism and %{p} macro); dns_ptrparse is its answer walk. */
int dns_ptr(const dns_addr *a, char (*out)[DNS_NAME_MAX], size_t max,
    size_t *n);
int dns_ptrparse(const unsigned char *ans, size_t len,
    char (*out)[DNS_NAME_MAX], size_t max, size_t *n);

/* dns_txt - the TXT records of name: each record's character-strings
 * joined without separator (RFC 7208 3.3, RFC 6376 3.6.2.2), appended
 * to out as "record\0record\0..." (each record NUL-terminated; a record
 * holding a NUL byte is skipped), *n the number appended.  At most
 * DNS_TXT_MAX records are kept.  DNS_OK with *n == 0 cannot happen:
 * a name with no TXT record is DNS_NODATA.  out is left as it was on
 * any result but DNS_OK. */
#define DNS_TXT_MAX 64
int dns_txt(const char *name, str *out, size_t *n);

/* dns_mxparse, dns_addrparse - the answer-walking halves of the two
 * lookups, on a raw DNS answer of len bytes (hostile input: fuzzed by
 * fuzz/dns.c).  dns_addrparse appends the records of type (ns_t_a or
 * ns_t_aaaa) at out[*n] and returns DNS_OK or DNS_TEMP. */
int dns_mxparse(const unsigned char *ans, size_t len, dns_mx *out,
    size_t max, size_t *n);
int dns_addrparse(const unsigned char *ans, size_t len, int type,
    dns_addr *out, size_t max, size_t *n);

/* dns_txtparse - dns_txt's answer walk (fuzzed by fuzz/dns.c);
 * DNS_OK, DNS_NODATA, DNS_TEMP (malformed, or out of memory). */
int dns_txtparse(const unsigned char *ans, size_t len, str *out,
    size_t *n);

/* dns_secure - 1 when every answer of the last dns_mxlist, dns_addrs
 * or dns_tlsa call (a NODATA or NXDOMAIN denial included) carried the
 * AD bit of the validating resolver remote is pointed at (RFC 7672
 * 2.2); 0 for an insecure or failed lookup.  dns_init asks for DNSSEC
 * records and trusts the server's AD bit (RES_USE_DNSSEC, RES_TRUSTAD):
 * control/dnsserver must be a validating resolver on a trusted path. */
int dns_secure(void);

/* dns_tlsa - the TLSA records of name (e.g. "_25._tcp.mx.example"),
 * appended to out as records of 5 + len bytes: usage, selector,
 * matching type, len (2 bytes, big-endian), the association data; *n
 * the number appended (at most DNS_TLSA_MAX).  A validating resolver's
 * SERVFAIL for a bogus answer is DNS_TEMP.  out is left as it was on
 * any result but DNS_OK. */
#define DNS_TLSA_MAX 32
int dns_tlsa(const char *name, str *out, size_t *n);
/* dns_tlsaparse - dns_tlsa's answer walk (fuzzed by fuzz/dns.c) */
int dns_tlsaparse(const unsigned char *ans, size_t len, str *out,
    size_t *n);

/* dns_ipscan - parse "ip" or "ip:port" (IPv4, or "[v6]" / "[v6]:port");
 * 0 or -1. */
int dns_ipscan(const char *s, dns_addr *a, unsigned *port);

#endif
