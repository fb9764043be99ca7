/*
 * route - how this home routes one address: send's lookup, on its own
 * (qmail-getpw's role).  For an admin checking a change to control/locals,
 * control/virtualdomains or users/assign, and for tests that run local the
 * way send does.
 *
 * Usage: route ADDRESS
 *   A local recipient: its fields as local's argv takes them (local.8),
 *   user, uid, gid, homedir, local, dash, ext, domain, each followed by a
 *   NUL, on fd 1.  Nothing else is written there.
 * Environment: QPOST_HOME (the home).
 *
 * Exit codes: 0 a local recipient; 1 a remote one (not our domain); 100
 * no mailbox here by that name (#5.1.1); 111 a temporary failure (an
 * unreadable table or home).
 *
 * Privilege: none wanted.  Run unprivileged it sees what send sees; run
 * as root it may see files (~/.qmail-EXT behind a root-only directory)
 * that send, as its own account, cannot.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "err.h"
#include "recip.h"
#include "str.h"

int
main(int argc, char **argv)
{
	struct recip_ctx c = RECIP_CTX_INIT;
	struct recip r;
	str out = STR_INIT;
	int x;

	err_prog = "route";
	err_help(argc, argv, "usage: route address");
	if (argc != 2)
		err_die(100, "usage: route address", (const char *)0);
	if (strlen(argv[1]) > ADDR_MAX)
		err_die(100, "address too long (#5.1.3)", (const char *)0);
	if (recip_load(&c) < 0)
		err_diesys(111, "unable to read the routing tables (#4.3.0)",
		    (const char *)0);
	x = recip_lookup(&c, argv[1], &r);
	if (x < 0)
		err_diesys(111, "unable to look up ", argv[1], " (#4.3.0)",
		    (const char *)0);
	if (x == RECIP_REMOTE)
		err_die(1, argv[1], " is not a local address", (const char *)0);
	if (x != RECIP_FOUND)
		err_die(100, "Sorry, no mailbox here by that name. (#5.1.1)",
		    (const char *)0);
	if (recip_fields(&r, &out) < 0)
		err_nomem();
	if (fd_writeall(1, out.s, out.len, -1) < 0)
		err_diesys(111, "unable to write", (const char *)0);
	return 0;
}
