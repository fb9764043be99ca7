/* dotqmail - the lines of a .qmail file, qmail-local's syntax, classified
 * without acting on any of them: local follows them (local.c), the fuzz
 * target (fuzz/qmail.c) feeds them hostile bytes.  Parsing never forks,
 * execs or touches a file.
 *
 * A line ends at LF (the last one may lack it); trailing blanks and tabs
 * are removed.  A blank first line, a NUL byte and a bad forward address
 * are errors (qmail-local's; local defers them, the user's file is
 * broken); later blank lines, "#comment" and "+list" lines are nothing
 * to do.  A line starting with '.' or '/' is a Maildir when it ends in
 * '/', else an mbox; "|cmd" a program; "&addr" or any other line a
 * forward. */
#ifndef DOTQMAIL_H
#define DOTQMAIL_H

#include <stddef.h>

#define DOTQMAIL_MAX (256 * 1024)	/* longest .qmail file read */

enum dotqmail_kind {
	DOTQMAIL_NONE,		/* comment, "+list" or a later blank line */
	DOTQMAIL_MAILDIR,	/* arg: the directory, ending in '/' */
	DOTQMAIL_MBOX,		/* arg: the file */
	DOTQMAIL_PROGRAM,	/* arg: the command, after '|' */
	DOTQMAIL_FORWARD,	/* arg: the address, after any '&' */
	DOTQMAIL_ERROR		/* err: why, ending in "(#4.x.x)" */
};

struct dotqmail_line {
	enum dotqmail_kind kind;
	const char *arg;	/* inside the buffer, not NUL-terminated */
	size_t len;
	const char *err;	/* a constant sentence, for DOTQMAIL_ERROR */
};

/* dotqmail_next - the line of buf[0..len) at *pos (0 for the first)
 * into *out, and *pos moved past it: 1, or 0 after the last line. */
int dotqmail_next(const char *buf, size_t len, size_t *pos,
    struct dotqmail_line *out);

#endif
