/* err - diagnostics on fd 2 in the form
 *   prog: fatal: unable to <verb> <object>: <reason>
 * Arguments are strings ending with a null pointer; input is never used
 * as a format.  Non-printable bytes are escaped (\HH); one call writes
 * one line, whole, with one write(2). */
#ifndef ERR_H
#define ERR_H

#include <stdnoreturn.h>

extern const char *err_prog;	/* set by main */

#define ERR_LINE_MAX 65536	/* bytes of one line, '\n' included; a
				 * longer one is cut, with "... [N bytes
				 * cut]" where the cut is */
#define ERR_CUT_MARK_MAX 40	/* room kept for that mark */

#define ERR_SENTINEL __attribute__((sentinel))

noreturn void err_die(int code, const char *, ...) ERR_SENTINEL;
noreturn void err_diesys(int code, const char *, ...) ERR_SENTINEL;
void err_warn(const char *, ...) ERR_SENTINEL;
void err_warnsys(const char *, ...) ERR_SENTINEL;
void err_info(const char *, ...) ERR_SENTINEL;	/* log line, no prefix word */
noreturn void err_nomem(void);			/* exit 111 */
/* err_help - when argv[1] is exactly "--help", print usage and a newline
 * on fd 1 and exit 0 (111 if that write fails); otherwise return.  Every
 * program calls it first, so --help never does anything else. */
void err_help(int, char *const *, const char *);

#endif
