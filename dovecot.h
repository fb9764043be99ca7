/* dovecot - the client's side of Dovecot's authentication protocol
 * (version 1.x, the auth-client socket Postfix and Exim use): lines of
 * TAB-separated fields ending in LF, each field "tab-escaped" with \001
 * (\001 0 NUL, 1 \001, t TAB, r CR, n LF, anything else itself).
 *
 *   C: VERSION 1 2, CPID pid
 *   S: VERSION 1 minor, MECH name [flags], SPID, CUID, COOKIE..., DONE
 *   C: AUTH id PLAIN service=smtp [secured] [rip= lip=] resp=base64
 *   S: OK id [params] | FAIL id [params: temp, code=, reason=]
 *      | CONT id base64
 *
 * This module owns the format: dovecot_parse reads one server line,
 * dovecot_auth writes the one request line a checker sends. */
#ifndef DOVECOT_H
#define DOVECOT_H

#include <stddef.h>
#include <sys/types.h>

#define DOVECOT_LINE_MAX 16384		/* the server's own limit */
#define DOVECOT_ARGS_MAX 64		/* fields after the command */
#define DOVECOT_AUTH_MAX 4096		/* our AUTH line */
#define DOVECOT_PLAIN_MAX 1024		/* bytes of a user or a password */

/* reply types */
#define DOVECOT_BAD (-1)	/* not a protocol line */
#define DOVECOT_OTHER 0		/* a well-formed line we do not use */
#define DOVECOT_VERSION 1	/* major, minor */
#define DOVECOT_MECH 2		/* name, flags... */
#define DOVECOT_DONE 3
#define DOVECOT_OK 4		/* id, params... */
#define DOVECOT_FAIL 5		/* id, params... */
#define DOVECOT_CONT 6		/* id, data */

typedef struct {
	int type;
	unsigned long num;	/* VERSION: major; OK, FAIL, CONT: id */
	size_t n;		/* fields after the command */
	const char *arg[DOVECOT_ARGS_MAX];	/* unescaped, NUL-terminated */
	size_t len[DOVECOT_ARGS_MAX];		/* may hold escaped NULs */
} dovecot_reply;

/* dovecot_parse - one line s[0..n), LF removed, into r, unescaping in
 * place: s must have room for n + 1 bytes.  Returns r->type. */
int dovecot_parse(dovecot_reply *r, char *s, size_t n);
/* dovecot_param - of an OK or FAIL reply: the value of name=value, ""
 * for a flag name, 0 when absent */
const char *dovecot_param(const dovecot_reply *r, const char *name);
/* dovecot_auth - "AUTH\tid\tPLAIN\tservice=smtp" params "\tresp=" the
 * base64 of "\0user\0pass" "\n" into out[0..max); params is "" or
 * TAB-led fields.  The length; -1 when user or pass holds a TAB, CR, LF
 * or NUL or is longer than DOVECOT_PLAIN_MAX (no PLAIN can carry it);
 * -2 out of memory or out too small.  Every copy of the password made
 * on the way is wiped. */
ssize_t dovecot_auth(char *out, size_t max, unsigned long id,
    const char *params, const char *user, size_t ul, const char *pass,
    size_t pl);

#endif
