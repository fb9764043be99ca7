/* checkpass - the checkpassword interface (qmail's, from DJB's
 * checkpassword) as qpost's password checkers speak it:
 *
 *   CHECKER [PROG...]   with "user\0password\0timestamp\0" on fd 3,
 *                       the write end closed after it
 *
 * exit 0 yes (after exec of PROG... when given), 1 no (a wrong password
 * and an unknown user look the same), 2 usage, 111 temporary failure.
 * The password lives only in the checkpass buffer, which
 * checkpass_wipe clears; checkpass_init keeps it out of core dumps. */
#ifndef CHECKPASS_H
#define CHECKPASS_H

#include <stddef.h>
#include <stdnoreturn.h>

#define CHECKPASS_FD 3
#define CHECKPASS_MAX 1024		/* bytes on fd 3; more is a "no" */
#define CHECKPASS_TIMEOUT 10000		/* ms for all of fd 3 to arrive */

#define CHECKPASS_YES 0
#define CHECKPASS_NO 1
#define CHECKPASS_USAGE 2
#define CHECKPASS_TEMP 111

typedef struct {
	char x[CHECKPASS_MAX + 1];	/* what fd 3 held, NUL added */
	const char *user;		/* NUL-terminated, within x */
	const char *pass;
	size_t userlen, passlen;
} checkpass;

/* checkpass_init - no core dumps from here on (they would hold the
 * password); exits 111 when that cannot be done */
void checkpass_init(void);
/* checkpass_start - checkpass_init, then checkpass_read into c; returns
 * only with a user and a password, else exits: 1 for bad input, 2 with
 * usage logged when fd 3 is not open, 111 on a read error or timeout */
void checkpass_start(checkpass *c, const char *usage);
/* checkpass_read - fd 3 into c, within CHECKPASS_TIMEOUT.  CHECKPASS_YES
 * when c holds a non-empty user and password; CHECKPASS_NO for input
 * that is too long or malformed; CHECKPASS_USAGE when fd 3 is not open;
 * CHECKPASS_TEMP on a read error or timeout (errno). */
int checkpass_read(checkpass *c);
/* checkpass_wipe - clear every byte of c, user and password included */
void checkpass_wipe(checkpass *c);
/* checkpass_deadline - a monotonic deadline ms from now;
 * checkpass_left - ms left before it, 0 once it has passed */
long long checkpass_deadline(long long ms);
int checkpass_left(long long deadline);
/* checkpass_yes - wipe c, then exec prog[0..] (the rest of the checker's
 * argv) or, without one, exit 0.  A failed exec exits 111. */
noreturn void checkpass_yes(checkpass *c, char **prog);
/* checkpass_exit - wipe c and exit with code */
noreturn void checkpass_exit(checkpass *c, int code);

#endif
