/* addr - RFC 5321 mailbox addresses.
 * Inside qpost an address is raw "local@domain": no brackets, the local
 * part unquoted (as qmail stores it), at most ADDR_MAX bytes, no NUL. */
#ifndef ADDR_H
#define ADDR_H

#include <stddef.h>
#include <sys/types.h>

#include "str.h"

#define ADDR_MAX 1000		/* longest address we accept or store */
#define ADDR_DOMAIN_MAX 255

/* addr_path - parse a Reverse-path or Forward-path "<...>" at s (n bytes).
 * A source route "@a,@b:" is dropped (RFC 5321 appendix C).  On success
 * out holds the address (empty for "<>"; no '@' for "<postmaster>"),
 * NUL-terminated, and the return is the number of bytes consumed.
 * -1 is a syntax error. */
ssize_t addr_path(const char *s, size_t n, str *out);

/* addr_domain_ok - is d (n bytes) a domain name or an address literal? */
int addr_domain_ok(const char *d, size_t n);

/* addr_domain - the part after the last '@', or 0 */
const char *addr_domain(const char *addr);

/* addr_quote - append "<addr>" with the local part quoted if it is not
 * a dot-string, ready for an SMTP command. */
int addr_quote(str *out, const char *addr);

/* addr_lower - fold ASCII letters in s[0..n) to lower case */
void addr_lower(char *s, size_t n);

#endif
