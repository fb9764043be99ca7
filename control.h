/* control - reading the home's control/ files: one value or one item per
 * line, '#' comment lines and blank lines ignored, trailing white space
 * removed.  Each call reads the file afresh.
 * Return 1 found, 0 the file does not exist, -1 error (errno). */
#ifndef CONTROL_H
#define CONTROL_H

#include <stddef.h>

#include "str.h"

#define CONTROL_MAX (64 * 1024 * 1024)	/* refuse larger control files */

/* whole file, bytes untouched, NUL-terminated */
int control_readfile(str *out, const char *name);
/* the same for any path, at most max bytes (else -1 with EFBIG) */
int control_readpath(str *out, const char *path, size_t max);
/* first item, NUL-terminated */
int control_readline(str *out, const char *name);
/* control_filename - the first item of a control file that names a
 * file (tlscafile), as a path: absolute as written, else relative to
 * the home, NUL-terminated.  1 set, 0 the file is absent or empty, -1
 * with errno. */
int control_filename(str *path, const char *name);
/* The numeric control files: one table of names, defaults and limits,
 * read by the programs through control_number and shown by qpost-tool
 * showctl. */
struct control_num {
	const char *name;
	unsigned long dflt;	/* when the file is missing or empty */
	unsigned long min;	/* smaller values are raised to this */
	unsigned long max;	/* larger values are lowered to this */
	const char *what;	/* for showctl */
};
extern const struct control_num control_nums[];

/* control_number - *out from control/NAME (a name in control_nums):
 * the default when the file is missing, or holds 0 where 0 is below
 * min (qmail's "unset"), else the number kept within min..max.
 * 1 read, 0 default, -1 unreadable (errno; a temporary failure for the
 * caller) with *out the default.  A value that is not a decimal number
 * is no failure: a warning naming the file and the value goes to fd 2
 * (err_warn) and CONTROL_NOTNUM is returned with *out the default. */
int control_number(const char *name, unsigned long *out);
/* control_number_keep - the same for a re-read (send's SIGHUP): *out
 * holds the value in effect and stays when the file is not a number */
int control_number_keep(const char *name, unsigned long *out);
#define CONTROL_NOTNUM 2	/* control_number: not a number, ignored */
#define CONTROL_SHOW_MAX 64	/* bytes of a bad value shown in the log */
/* every item, each NUL-terminated, one after another */
int control_readlist(str *out, const char *name);
/* control_next - next item of a list from control_readlist, or 0 */
const char *control_next(const str *list, size_t *pos);

#endif
