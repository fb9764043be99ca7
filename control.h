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
/* first item as a decimal number; -1 with EINVAL if not a number */
int control_readulong(unsigned long *out, const char *name);
/* every item, each NUL-terminated, one after another */
int control_readlist(str *out, const char *name);
/* control_next - next item of a list from control_readlist, or 0 */
const char *control_next(const str *list, size_t *pos);

#endif
