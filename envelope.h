/* envelope - the qmail-queue envelope: "F" sender NUL, then "T" rcpt NUL
 * for each recipient, then one more NUL (DESIGN.md). */
#ifndef ENVELOPE_H
#define ENVELOPE_H

#include <stddef.h>

#include "str.h"

#define ENVELOPE_RCPT_MAX 100000	/* recipients one envelope may name */

/* envelope_check results */
#define ENV_OK 0
#define ENV_SHORT 1	/* ends before its final NUL */
#define ENV_FORMAT 2	/* no F, a field other than T, no recipient,
			 * bytes after the end */
#define ENV_TOOLONG 3	/* an address over ADDR_MAX */
#define ENV_TOOMANY 4	/* more than ENVELOPE_RCPT_MAX recipients */
#define ENV_CTL 5	/* a control character in an address */

/* envelope_check - validate e (n bytes); on ENV_OK *rcpts is the count */
int envelope_check(const char *e, size_t n, size_t *rcpts);

/* envelope_ctl - 1 if s (n bytes) holds a control character (a byte
 * below 0x20, or 0x7f): never part of an SMTP address (RFC 5321 4.1.2)
 * nor of a header field value a program writes; CR and LF in either are
 * header and command injection */
int envelope_ctl(const char *s, size_t n);

/* envelope_sender - the sender of a checked envelope */
const char *envelope_sender(const char *e);
/* envelope_next - walk recipients: pos starts at 0; returns the next
 * address of a checked envelope, or 0 after the last */
const char *envelope_next(const char *e, size_t n, size_t *pos);

/* building */
int envelope_from(str *, const char *sender);
int envelope_to(str *, const char *rcpt);
int envelope_end(str *);

#endif
