/* reply - an SMTP server's reply as remote reads it (RFC 5321 4.2): one
 * or more lines "DDD-text" ended by a line "DDD text" or "DDD", the
 * first digit 2 to 5.  The code is the first line's; a later line's code
 * is not compared (as qmail-remote).  Each line is cut to REPLY_LINE_MAX
 * bytes (its CR and LF included; the rest up to the LF is dropped), its
 * trailing CRs and LFs are removed, every byte outside 32..126 becomes
 * '?', and the lines are kept joined by '\n' in text, which stops
 * growing once it holds REPLY_TEXT_MAX bytes (the room is measured
 * before the '\n', so text is at most REPLY_TEXT_MAX + 1 bytes).  A reply
 * of more than REPLY_LINES_MAX lines is malformed. */
#ifndef REPLY_H
#define REPLY_H

#include <stddef.h>

#include "buf.h"
#include "str.h"

#define REPLY_LINE_MAX 1000	/* bytes kept of one reply line */
#define REPLY_LINES_MAX 100	/* lines in one multi-line reply */
#define REPLY_TEXT_MAX 2000	/* bytes of a reply kept in text */

#define REPLY_MORE 0		/* reply_line: more lines follow */
#define REPLY_BAD -1		/* malformed (errno EPROTO), or a read
				 * error or EOF (reply_read, errno set) */
#define REPLY_NOMEM -2		/* out of memory */

struct reply {
	str text;		/* the lines so far, joined by '\n' */
	str line;		/* reply_read's line buffer */
	int code;		/* the first line's code, -1 before it */
	size_t lines;		/* continuation lines so far */
};

#define REPLY_INIT { STR_INIT, STR_INIT, -1, 0 }

/* reply_start - forget the last reply: text empty, no code */
void reply_start(struct reply *);
/* reply_line - add one line (n bytes, at most REPLY_LINE_MAX are looked
 * at) to the reply begun by reply_start: its code (200..599) when it was
 * the last line, REPLY_MORE, REPLY_BAD or REPLY_NOMEM */
int reply_line(struct reply *, const char *s, size_t n);
/* reply_parse - one whole reply from the n bytes at s, as reply_read
 * would take it from a peer that sends those bytes and closes: its code
 * with *used the bytes taken, REPLY_MORE when the bytes end before the
 * reply does, REPLY_BAD or REPLY_NOMEM */
int reply_parse(struct reply *, const char *s, size_t n, size_t *used);
/* reply_read - one whole reply from in: its code, REPLY_BAD (a read
 * error or timeout, errno; EOF, ECONNRESET; malformed, EPROTO) or
 * REPLY_NOMEM */
int reply_read(struct reply *, buf *in);
void reply_free(struct reply *);

#endif
