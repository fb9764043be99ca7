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
 * (an unreadable control file or cdb), with errno.  The struct is
 * overwritten (it need not be initialised): recip_free it after use. */
int recip_find(const char *addr, struct recip *);
void recip_free(struct recip *);

/* recip_qmail_next - the names of the .qmail files to try for r, in
 * qmail-local's order: ".qmail" dash ext, then ".qmail" dash
 * "<ext up to a '-'>default" from the longest, down to ".qmail" dash
 * "default" (the ext lower-cased, '.' as ':'; only ".qmail" when dash is
 * empty).  *state starts at 0.  1 with name (NUL-terminated) and *def,
 * the offset in ext where $DEFAULT starts ((size_t)-1 for none); 0 after
 * the last; -1 out of memory. */
int recip_qmail_next(const struct recip *, size_t *state, str *name,
    size_t *def);

#endif
