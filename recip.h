/* recip - the routing owner: who receives an address here.  One context
 * (control/locals, control/virtualdomains and the open users/assign.cdb),
 * loaded once and reloaded as a whole when one of those files changes,
 * shared by smtpd (to refuse unknown local recipients at RCPT) and send
 * (local or remote, and for a local recipient the whole lookup, whose
 * result it hands to local: local never looks anything up again).
 *
 * Order, as in qmail: the domain is local when listed in control/locals,
 * or mapped by control/virtualdomains (domain:prefix, ".domain" for
 * subdomains, an empty domain for every domain), which turns the local part
 * into prefix-local.  postmaster@<control/me> (any case) is local even
 * when me is in neither file, as RFC 5321 4.5.1 wants: it is looked up
 * as if me were in control/locals.  The local part is then looked up in users/assign.cdb
 * (made by newu from users/assign), else as a system account (getpwnam,
 * case-folded, never uid 0), else it belongs to the alias user (the home's
 * alias/ directory) with the whole local part as extension.  getpwnam's
 * answers, found or not, are kept 20 s by a long-lived caller (send), and
 * all dropped at once when /etc/passwd changes (recip.c, account). */
#ifndef RECIP_H
#define RECIP_H

#include <sys/stat.h>
#include <sys/types.h>

#include <cdb.h>

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

#define RECIP_FILES 4		/* locals, virtualdomains, users/assign.cdb,
				 * me */

/* The identity of one routing file as last loaded: a change in any field
 * (or in whether it exists) reloads the whole context. */
struct recip_stamp {
	int err;		/* 0, or stat's errno (ENOENT: absent) */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	struct timespec ctime;
};

struct recip_ctx {
	str locals;		/* control_readlist's items */
	str virt;		/* control/virtualdomains, the same way */
	str me;			/* control/me: postmaster@me is always ours */
	int cdbfd;		/* users/assign.cdb, -1 when there is none */
	struct cdb cdb;
	struct recip_stamp st[RECIP_FILES];
	int loaded;		/* the tables are those of st[] */
	int err;		/* the last load failed (errno): every lookup
				 * is a temporary failure until one works */
};

#define RECIP_CTX_INIT { STR_INIT, STR_INIT, STR_INIT, -1, { 0 }, \
	{ { 0 } }, 0, 0 }

/* recip_load - (re)load every table now; -1 with errno, and then every
 * lookup fails temporarily until a load works */
int recip_load(struct recip_ctx *);
/* recip_refresh - reload when one of the files changed (or the last
 * load failed); 1 reloaded, 0 unchanged, -1 with errno */
int recip_refresh(struct recip_ctx *);
void recip_ctx_free(struct recip_ctx *);

/* recip_domain - is addr's domain ours (control/locals, or mapped by
 * control/virtualdomains)?  1 local, 0 remote, -1 with errno. */
int recip_domain(struct recip_ctx *, const char *addr);
/* recip_lookup - classify addr ("local@domain") against the context;
 * -1 is a temporary error (a broken table, an unreachable home), with
 * errno.  The struct is overwritten (it need not be initialised):
 * recip_free it after use. */
int recip_lookup(struct recip_ctx *, const char *addr, struct recip *);

/* recip_fields - r as local's argv wants it (local.8): user, uid, gid,
 * home, local, dash, ext, domain, each followed by a NUL, appended to
 * out; -1 out of memory */
#define RECIP_NFIELDS 8
int recip_fields(const struct recip *, str *out);

/* recip_id - a uid or gid from decimal digits: -1 unless it fits uid_t
 * and gid_t and is not (uid_t)-1 */
int recip_id(const char *s, size_t n, unsigned long *out);

/* recip_assign - r's user, uid, gid, home, dash and ext from one
 * users/assign.cdb value (v, vn bytes: the six NUL-ended fields of the
 * layout in recip.c), with rest (n bytes) appended to ext: 1, or -1 with
 * errno (EINVAL: a malformed value, a uid or gid that does not fit;
 * ENOMEM).  r's strings must be initialised; recip_free them after.
 * The lookup's parser of a hostile-ish value, exported for fuzz/recip.c. */
int recip_assign(struct recip *, const char *v, size_t vn, const char *rest,
    size_t n);

/* recip_find - recip_lookup against a context of the process's own,
 * loaded at the first call (smtpd: once per connection) and reloaded
 * only after a failed load: classify addr ("local@domain").  -1 is a
 * temporary error (an unreadable control file or cdb), with errno.  The
 * struct is overwritten (it need not be initialised): recip_free it after use. */
int recip_find(const char *addr, struct recip *);
void recip_free(struct recip *);

/* An account as /etc/passwd names it: name and dir point into the file's
 * text (not NUL-terminated). */
struct recip_pw {
	unsigned long uid, gid;
	const char *name, *dir;
	size_t namelen, dirlen;
};

/* recip_pwfind - the first line of the /etc/passwd text s[0..n) whose
 * name is name[0..nl): 1 with *pw filled, 0 none.  A line is
 * name:password:uid:gid:gecos:dir:shell; one with fewer fields, a uid or
 * gid that is not a whole decimal number, or a NUL in dir is passed
 * over.  Used instead of getpwnam where the C library reads only
 * /etc/passwd anyway (QPOST_PWFILES, below). */
int recip_pwfind(const char *s, size_t n, const char *name, size_t nl,
    struct recip_pw *pw);

/* recip_confirm - a second opinion before a "no such user" refusal, for a
 * program whose C library reads only /etc/passwd (musl: the build
 * defines QPOST_PWFILES; smtpd).  When the "passwd:" line of
 * /etc/nsswitch.conf names a source beyond "files" (LDAP, sssd, systemd's
 * userdb), the home's bin/route, linked with glibc and its NSS modules,
 * does send's whole lookup of addr, bounded by secs.  RECIP_FOUND,
 * RECIP_NOUSER, or -1 (a temporary failure; errno).  Without
 * QPOST_PWFILES it answers RECIP_NOUSER at once: getpwnam saw every
 * source already. */
int recip_confirm(const char *addr, int secs);
/* recip_nss_beyond_files - 1 when the "passwd:" line of the
 * nsswitch.conf text (n bytes) names a source other than "files"
 * (action items like [NOTFOUND=return] aside), else 0.  For
 * recip_confirm and fuzz/recip.c. */
int recip_nss_beyond_files(const char *conf, size_t n);

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
