/* hdr - RFC 5322 header fields: names and address lists.
 * A field is (pointer, length) bytes, folded lines included; nothing here
 * needs a NUL terminator or trusts the input. */
#ifndef HDR_H
#define HDR_H

#include <stddef.h>

#include "str.h"

#define HDR_COMMENT_DEPTH 64	/* nested comments beyond this: an error */

/* hdr_name - if field f (n bytes) is "name:" (any case, optional white
 * space before the colon), the offset just past the colon; else 0. */
size_t hdr_name(const char *f, size_t n, const char *name);

/* hdr_isfield - does this line start a header field ("name:" with a
 * non-empty name of printable ASCII other than ':')? */
int hdr_isfield(const char *line, size_t n);

/* One address found by hdr_addrlist.  addr is the addr-spec with white
 * space and comments removed and quoted strings unquoted ("local@domain"
 * or, without '@', a bare local part), NUL-terminated.  Offsets are into
 * the parsed bytes: localend just after the local part's last token,
 * domend just after the domain's last token (0 if hasat is 0). */
struct hdr_addr {
	const char *addr;
	size_t len;
	int hasat;
	size_t localend;
	size_t domend;
};

typedef int hdr_addr_fn(void *ctx, const struct hdr_addr *);

/* hdr_addrlist - walk an RFC 5322 address-list (s, n bytes): display
 * names, angle addresses, source routes, groups, quoted strings, comments,
 * domain literals, folding.  fn is called for every address in order; a
 * non-zero return from fn stops the walk and is returned.  Returns 0, or
 * -1 on a syntax error (an unterminated quoted string, comment, domain
 * literal or angle address, a stray '>'), after calling fn for the
 * addresses before it; -2 when out of memory. */
int hdr_addrlist(const char *s, size_t n, hdr_addr_fn *fn, void *ctx);

/* hdr_msgid - append a new Message-ID's "<...@host>" (unique by time,
 * nanoseconds and pid) to x: 0, or -1 when out of memory. */
int hdr_msgid(str *x, const char *host, size_t hostlen);

#endif
