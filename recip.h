/* recip - who receives an address here.  One lookup shared by smtpd (to
 * refuse unknown local recipients at RCPT), send (local or remote?) and
 * local (whose .qmail files, as which uid).
 *
 * Order, as in qmail: the domain is local when listed in control/locals,
 * or mapped by control/virtualdomains (domain:prefix, ".domain" for
 * subdomains, an empty domain for every domain), which turns the local part
 * into prefix-local.  The local part is then looked up in users/assign.cdb
 * (made by newu from users/assign), else as a system account (getpwnam,
 * case-folded, never uid 0), else it belongs to the alias user (the home's
 * alias/ directory) with the whole local part as extension. */
#ifndef RECIP_H
#define RECIP_H

#include <sys/types.h>

#include "str.h"

#define RECIP_FOUND 1		/* local, deliverable: r is filled */
#define RECIP_NOUSER 2		/* a local domain, but nobody receives it */
#define RECIP_REMOTE 3		/* not one of our domains */

struct recip {
	str user;		/* account name */
	uid_t uid;
	gid_t gid;
	str home;		/* home directory */
	str dash;		/* "" or "-" */
	str ext;		/* the extension after user-dash */
	str local;		/* local part after virtualdomains, lower case */
	str domain;		/* the recipient's domain */
};

/* recip_find - classify addr ("local@domain"); -1 is a temporary error
 * (an unreadable control file or cdb), with errno. */
int recip_find(const char *addr, struct recip *);
void recip_free(struct recip *);

#endif
