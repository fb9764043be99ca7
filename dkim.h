/* dkim - DomainKeys Identified Mail (RFC 6376), RSA-SHA256 and
 * Ed25519-SHA256 (RFC 8463): signing and verifying.  The crypto is
 * OpenSSL 3's EVP (link with -lcrypto); what is ours is the parsing
 * (header fields, tag-lists) and the canonicalisation.
 *
 * A message is (pointer, length) bytes as qpost stores it: LF line ends
 * (a CRLF, or a CR not followed by LF, is a line end too, as remote
 * sends it); it is hashed with the CRLF line ends it has on the wire.
 * The header ends at the first empty line; without one the whole
 * message is header and the body is empty.  Everything here is hostile
 * input: bounded, nothing needs a NUL terminator.  docs/dkim.md. */
#ifndef DKIM_H
#define DKIM_H

#include <stddef.h>

#include "str.h"

/* Verification results, per signature (RFC 8601 2.7.1). */
enum dkim_status {
	DKIM_PASS,
	DKIM_FAIL,		/* the body or the signature does not verify */
	DKIM_NEUTRAL,		/* not used for a signature we could parse */
	DKIM_TEMPERROR,		/* DNS failed: try again later */
	DKIM_PERMERROR		/* bad signature syntax, no usable key */
};

#define DKIM_NAME_MAX 256	/* d=, s= and i= kept, with their NUL */
#define DKIM_BPREFIX 16		/* characters of b= kept for header.b
				 * (RFC 6008 asks for at least 8) */
#define DKIM_SIG_MAX 16		/* signatures checked per message: more
				 * are ignored (each costs a DNS lookup) */
#define DKIM_HDR_FIELDS_MAX 4096	/* header fields looked at */

struct dkim_result {
	int status;			/* enum dkim_status */
	char d[DKIM_NAME_MAX];		/* the signing domain, "" if none or
					 * not a plain domain name */
	char s[DKIM_NAME_MAX];		/* the selector, likewise */
	char i[DKIM_NAME_MAX];		/* the AUID (i=), "" if absent */
	char a[16];			/* "rsa-sha256", "ed25519-sha256", or
					 * "" */
	char b[DKIM_BPREFIX + 1];	/* the start of b=, white space
					 * removed (header.b) */
	int testing;			/* the key record has t=y */
	const char *why;		/* static text: why not pass ("" on
					 * pass), for logs and AR comments */
};

/* dkim_status_name - "pass", "fail", "neutral", "temperror", "permerror"
 * (RFC 8601's names) */
const char *dkim_status_name(int status);

/* dkim_verify - check every DKIM-Signature field of msg (len bytes), top
 * to bottom, at most max (and at most DKIM_SIG_MAX) of them, the key of
 * each from DNS (dns_txt of SELECTOR._domainkey.DOMAIN; the caller has
 * called dns_init).  res[0..*n) get one result each, in header order;
 * *n == 0 means the message is not signed ("none").  Returns 0, or -1
 * when out of memory (then *n results are valid). */
int dkim_verify(const char *msg, size_t len, struct dkim_result *res,
    size_t max, size_t *n);

/* dkim_keyfn - how dkim_verify_with finds a key record: dns_txt's
 * contract (DNS_OK with "record\0..." appended to out and *n records,
 * DNS_NXDOMAIN, DNS_NODATA, DNS_TEMP) for the name
 * "SELECTOR._domainkey.DOMAIN". */
typedef int dkim_keyfn(void *ctx, const char *name, str *out, size_t *n);
/* dkim_verify_with - dkim_verify with the key records from fn (tests,
 * the bench, the fuzz target); now is the time x= is checked against */
int dkim_verify_with(const char *msg, size_t len, struct dkim_result *res,
    size_t max, size_t *n, dkim_keyfn *fn, void *ctx, long long now);

/* ---- signing ---- */

struct dkim_signer;	/* a private key with its domain and selector */

/* dkim_signer_new - the PEM private key in pem (n bytes; RSA of at least
 * 1024 bits, or Ed25519) for d=domain, s=selector.  0 with a reason in
 * *why (static text) when the key is unusable or memory ran out. */
struct dkim_signer *dkim_signer_new(const char *domain,
    const char *selector, const char *pem, size_t n, const char **why);
void dkim_signer_free(struct dkim_signer *);
/* dkim_signer_alg - "rsa-sha256" or "ed25519-sha256" */
const char *dkim_signer_alg(const struct dkim_signer *);

#define DKIM_WIRE 1	/* dkim_sign: break lines over 998 octets as
			 * remote does on the wire (docs/remote.md) */

/* dkim_sign - append to out a DKIM-Signature field for msg (len bytes),
 * LF line ends, folded, ending in LF, to be put at the top of the
 * message: relaxed/relaxed, the header fields of DKIM_SIGN_HEADERS that
 * are present (From signed once more than it occurs), t=now, x=now+expire
 * when expire is not 0.  flags: 0 or DKIM_WIRE.  Returns 0; -1 out of
 * memory; -2 the message has no From field (nothing is signed); -3 the
 * crypto failed. */
int dkim_sign(const struct dkim_signer *, const char *msg, size_t len,
    int flags, long long now, unsigned long expire, str *out);

/* The fields signed, in this order (lower case, colon-separated). */
#define DKIM_SIGN_HEADERS "from:to:cc:subject:date:message-id:" \
	"mime-version:content-type:content-transfer-encoding:reply-to:" \
	"in-reply-to:references"

/* dkim_keyrecord - append the TXT record for the signer's public key,
 * "v=DKIM1; k=rsa; p=BASE64" (k=ed25519 for Ed25519), to out, without
 * NUL: 0, or -1 out of memory or crypto failure */
int dkim_keyrecord(const struct dkim_signer *, str *out);

/* dkim_sign_control - sign msg (len bytes, flags as dkim_sign) as the
 * control files say (docs/dkim.md): the domain of the first From
 * address, or its closest parent, with a file control/dkim/DOMAIN/
 * selectors; for each selector listed there, the key
 * control/dkim/DOMAIN/SELECTOR.rsa or .ed25519 (PEM) signs; x= from
 * control/dkimexpire.  The fields are appended to out, to go on top of
 * the message.  A selector whose key is missing or unusable is logged
 * (err_warn) and skipped.  Returns 0 (signed, or nothing to sign), -1
 * out of memory, -2 a key was unusable and control/dkimdefer is 1 (the
 * caller defers the message; *why says why). */
int dkim_sign_control(const char *msg, size_t len, int flags, str *out,
    const char **why);

/* dkim_fromdomain - the domain of the first address in the first From
 * field of msg, lower case, into d: 0, or -1 if there is none or it is
 * not a domain name */
int dkim_fromdomain(const char *msg, size_t len, char d[DKIM_NAME_MAX]);

/* ---- the parsers, exported for the fuzz target ---- */

/* A tag of an RFC 6376 3.2 tag-list: name and value (pointer, length into
 * the parsed bytes; the value without surrounding white space, folding
 * inside kept). */
struct dkim_tag {
	const char *name;
	size_t namelen;
	const char *v;
	size_t vlen;
};
#define DKIM_TAGS_MAX 64

/* dkim_tags - parse the tag-list s (n bytes) into t[0..*nt): 0; -1 on a
 * syntax error, a duplicate tag or more than max tags */
int dkim_tags(const char *s, size_t n, struct dkim_tag *t, size_t max,
    size_t *nt);

/* dkim_canon_header - append field f (n bytes, as on the wire: CRLF
 * line ends inside, none at the end) to out in relaxed (relaxed != 0) or
 * simple canonical form, with its CRLF: 0 or -1 out of memory */
int dkim_canon_header(str *out, const char *f, size_t n, int relaxed);

/* dkim_bodyhash - the SHA-256 of the canonical body of msg (len bytes,
 * with flags as dkim_sign's), at most limit bytes of it unless limit is
 * (size_t)-1; *total gets the canonical body's full length.  0, or -1
 * out of memory or crypto failure. */
int dkim_bodyhash(const char *msg, size_t len, int flags, int relaxed,
    size_t limit, unsigned char hash[32], size_t *total);

#endif
