/* recip - who receives an address here (see recip.h).
 *
 * The users/assign.cdb layout is qmail-newu's, so a qmail user's compiled
 * file works as it is (newu writes it; docs/local.md describes it):
 *   "!" local "\0"   ->  user \0 uid \0 gid \0 home \0 dash \0 ext \0
 *                        (an "=" line: this exact local part)
 *   "!" prefix       ->  user \0 uid \0 gid \0 home \0 dash \0 pre \0
 *                        (a "+" line: any local part starting with prefix;
 *                        the extension is pre followed by the rest)
 *   ""               ->  the last bytes of all "+" prefixes, so that only
 *                        prefixes which can match are looked up.
 * Local parts are looked up in lower case. */
#include <cdb.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "control.h"
#include "home.h"
#include "num.h"
#include "recip.h"
#include "spawn.h"

#define RECIP_USERLEN 32	/* longest system user name tried */
#define RECIP_ALIAS "alias"	/* the alias user's name and directory */
#define RECIP_FIELDS 6		/* fields of a users/assign.cdb value */

static int
put0(str *x, const char *s, size_t n)
{
	if (str_copy(x, s, n) < 0 || str_0(x) < 0)
		return -1;
	return 0;
}

static unsigned char
lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* ieq - ASCII case-insensitive equality of a (an bytes), b (bn bytes) */
static int
ieq(const char *a, size_t an, const char *b, size_t bn)
{
	size_t i;

	if (an != bn)
		return 0;
	for (i = 0; i < an; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return 0;
	return 1;
}

/* is_locals - 1 if d (n bytes) is listed in control/locals */
static int
is_locals(const struct recip_ctx *c, const char *d, size_t n)
{
	size_t pos = 0;
	const char *s;

	while ((s = control_next(&c->locals, &pos)))
		if (ieq(s, strlen(s), d, n))
			return 1;
	return 0;
}

/* postmaster_me - is addr (local part ln bytes, domain d, n bytes)
 * postmaster at control/me?  That mail stays here whatever the tables
 * say (RFC 5321 4.5.1; smtpd stores <postmaster> so). */
static int
postmaster_me(const struct recip_ctx *c, const char *addr, size_t ln,
    const char *d, size_t n)
{
	return c->me.len && ieq(addr, ln, "postmaster", 10) &&
	    ieq(c->me.s, c->me.len, d, n);
}

/* virtual - qmail-send's virtualdomains lookup: the exact domain, then
 * ".suffix" entries from the longest suffix down, then the empty domain.
 * 1 with prefix set (empty prefix: explicitly not ours), 0 no entry. */
static int
virtual(const struct recip_ctx *c, const char *d, size_t n, str *prefix)
{
	const char *s, *colon;
	size_t pos, i;

	for (i = 0; i <= n; i++) {
		if (i && i < n && d[i] != '.')
			continue;
		pos = 0;
		while ((s = control_next(&c->virt, &pos))) {
			colon = strchr(s, ':');
			if (!colon)
				continue;
			if (ieq(s, (size_t)(colon - s), d + i, n - i))
				return put0(prefix, colon + 1,
				    strlen(colon + 1)) < 0 ? -1 : 1;
		}
	}
	return 0;
}

int
recip_qmail_next(const struct recip *r, size_t *state, str *name,
    size_t *def)
{
	size_t i, k, n;

	for (;;) {
		if (*state == 0) {
			n = r->ext.len;
			*state = r->ext.len + 2;
			*def = (size_t)-1;
			if (n >= 7 && !memcmp(r->ext.s + n - 7, "default", 7))
				*def = n - 7;
		} else {
			if (*state == 1 || !r->dash.len)
				return 0;
			i = --*state - 1;
			if (i && r->ext.s[i - 1] != '-')
				continue;
			n = i;
			*def = i;
		}
		name->len = 0;
		if (str_puts(name, ".qmail") < 0 ||
		    str_put(name, r->dash.s, r->dash.len) < 0 ||
		    str_ready(name, n + 7) < 0)
			return -1;
		for (k = 0; k < n; k++) {
			unsigned char c = lower((unsigned char)r->ext.s[k]);

			name->s[name->len++] = c == '.' ? ':' : (char)c;
		}
		if (*state != r->ext.len + 2 && str_puts(name, "default") < 0)
			return -1;
		if (str_0(name) < 0)
			return -1;
		return 1;
	}
}

/* has_qmail - does the recipient have a .qmail file for its extension?
 * Only stat: a home we may not search counts as yes (local decides). */
static int
has_qmail(const struct recip *r)
{
	str path = STR_INIT, name = STR_INIT;
	struct stat st;
	size_t state = 0, def;
	int x, found = 0;

	while ((x = recip_qmail_next(r, &state, &name, &def)) > 0) {
		path.len = 0;
		if (str_put(&path, r->home.s, r->home.len) < 0 ||
		    str_putc(&path, '/') < 0 ||
		    str_put(&path, name.s, name.len) < 0 || str_0(&path) < 0) {
			x = -1;
			break;
		}
		if (stat(path.s, &st) == 0) {
			if (S_ISREG(st.st_mode)) {
				found = 1;
				break;
			}
			continue;
		}
		if (errno == EACCES) {
			found = 1;
			break;
		}
		if (errno != ENOENT && errno != ENOTDIR) {
			x = -1;
			break;
		}
	}
	str_free(&path);
	str_free(&name);
	return x < 0 ? -1 : found;
}

int
recip_id(const char *s, size_t n, unsigned long *out)
{
	unsigned long long u;

	if (num_whole(s, n, ULLONG_MAX, &u) < 0)
		return -1;
	/* Both must survive the cast: 4294967297 is not uid 1. */
	if ((unsigned long long)(uid_t)u != u ||
	    (unsigned long long)(gid_t)u != u || (uid_t)u == (uid_t)-1 ||
	    (gid_t)u == (gid_t)-1)
		return -1;
	*out = (unsigned long)u;
	return 0;
}

int
recip_assign(struct recip *r, const char *v, size_t vn, const char *rest,
    size_t n)
{
	const char *f[RECIP_FIELDS];
	size_t fl[RECIP_FIELDS], i = 0, k;
	unsigned long u, g;

	for (k = 0; k < RECIP_FIELDS; k++) {
		const char *z = memchr(v + i, 0, vn - i);

		if (!z || i >= vn) {
			errno = EINVAL;
			return -1;
		}
		f[k] = v + i;
		fl[k] = (size_t)(z - (v + i));
		i += fl[k] + 1;
	}
	if (recip_id(f[1], fl[1], &u) < 0 || recip_id(f[2], fl[2], &g) < 0 ||
	    fl[3] == 0 || f[3][0] != '/') {
		errno = EINVAL;
		return -1;
	}
	r->uid = (uid_t)u;
	r->gid = (gid_t)g;
	if (put0(&r->user, f[0], fl[0]) < 0 ||
	    put0(&r->home, f[3], fl[3]) < 0 ||
	    put0(&r->dash, f[4], fl[4]) < 0 ||
	    str_copy(&r->ext, f[5], fl[5]) < 0 ||
	    str_put(&r->ext, rest, n) < 0 || str_0(&r->ext) < 0)
		return -1;
	return 1;
}

/* assign_try - look key up: 1 found (r filled), 0 not, -1 error */
static int
assign_try(struct cdb *c, const char *key, size_t kn, struct recip *r,
    const char *rest, size_t n)
{
	const char *v;
	int x = cdb_find(c, key, (unsigned)kn);

	if (x <= 0) {
		if (x < 0 && !errno)
			errno = EINVAL;
		return x;
	}
	v = cdb_getdata(c);
	if (!v) {
		errno = EINVAL;
		return -1;
	}
	return recip_assign(r, v, cdb_datalen(c), rest, n);
}

/* assign - look r->local up in users/assign.cdb: 1 found, 0 not */
static int
assign(struct recip_ctx *ctx, struct recip *r)
{
	str key = STR_INIT;
	struct cdb *c = &ctx->cdb;
	const char *wild = "";
	unsigned wn = 0;
	size_t i, n = r->local.len;
	int x = 0, e;

	if (ctx->cdbfd < 0)
		return 0;
	if (str_putc(&key, '!') < 0 || str_put(&key, r->local.s, n) < 0 ||
	    str_putc(&key, 0) < 0)
		goto fail;
	x = assign_try(c, key.s, key.len, r, "", 0);
	if (x)
		goto done;
	x = cdb_find(c, "", 0);
	if (x < 0)
		goto fail;
	if (x > 0) {
		wild = cdb_getdata(c);
		wn = cdb_datalen(c);
		if (!wild)
			goto fail;
	}
	x = 0;
	for (i = n + 1; i-- > 0;) {
		if (i && !memchr(wild, r->local.s[i - 1], wn))
			continue;
		x = assign_try(c, key.s, i + 1, r, r->local.s + i, n - i);
		if (x)
			goto done;
	}
done:
	e = errno;
	str_free(&key);
	errno = e;
	return x;
fail:
	if (!errno)
		errno = EINVAL;
	x = -1;
	goto done;
}

#define RECIP_PWFILE_MAX (64 << 20)	/* a larger /etc/passwd: 451 */

int
recip_pwfind(const char *s, size_t n, const char *name, size_t nl,
    struct recip_pw *pw)
{
	size_t pos = 0;

	while (pos < n) {
		const char *l = s + pos, *e = memchr(l, '\n', n - pos);
		const char *f[7];
		size_t fl[6], ln = e ? (size_t)(e - l) : n - pos, i, k = 0;

		pos += ln + 1;
		f[0] = l;
		for (i = 0; i < ln && k < 6; i++)
			if (l[i] == ':') {
				fl[k] = (size_t)(l + i - f[k]);
				f[++k] = l + i + 1;
			}
		if (k < 6)
			continue;	/* not name:pw:uid:gid:gecos:dir:shell */
		if (fl[0] != nl || memcmp(f[0], name, nl) ||
		    recip_id(f[2], fl[2], &pw->uid) < 0 ||
		    recip_id(f[3], fl[3], &pw->gid) < 0 ||
		    memchr(f[5], 0, fl[5]))
			continue;
		pw->name = f[0];
		pw->namelen = fl[0];
		pw->dir = f[5];
		pw->dirlen = fl[5];
		return 1;
	}
	return 0;
}

#ifndef QPOST_PWFILES
/* The C library's answers, kept for a long-lived caller (send looks up
 * every local delivery's recipient).  A name that is in no NSS source
 * costs glibc 40-50 us with Debian's "passwd: files systemd" (six userdb
 * directories probed, no miss cached), and every recipient an alias
 * delivers to is such a name.  An answer is kept PWCACHE_SECS at most,
 * and all are dropped when /etc/passwd changes (useradd, usermod), so
 * only accounts from other sources (LDAP, sssd, systemd's userdb) can
 * be seen that much late: nscd keeps a miss 20 s too. */
#define PWCACHE_SLOTS 64
#define PWCACHE_SECS 20

struct pwslot {
	char key[RECIP_USERLEN + 1];	/* "" an empty slot */
	int found;
	unsigned long uid, gid;
	str name, dir;
	time_t at;			/* CLOCK_MONOTONIC seconds */
};

static struct pwslot pwcache[PWCACHE_SLOTS];
static struct stat pwstat;
static int pwstat_ok;

/* pwcache_slot - the slot of name (at most RECIP_USERLEN bytes), after
 * dropping every answer if /etc/passwd is not the file they came from */
static struct pwslot *
pwcache_slot(const char *name)
{
	struct stat st;
	unsigned h = 2166136261u;
	size_t i;

	if (stat("/etc/passwd", &st) < 0)
		memset(&st, 0, sizeof st);
	if (!pwstat_ok || st.st_ino != pwstat.st_ino ||
	    st.st_dev != pwstat.st_dev || st.st_size != pwstat.st_size ||
	    st.st_mtim.tv_sec != pwstat.st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != pwstat.st_mtim.tv_nsec ||
	    st.st_ctim.tv_sec != pwstat.st_ctim.tv_sec ||
	    st.st_ctim.tv_nsec != pwstat.st_ctim.tv_nsec) {
		for (i = 0; i < PWCACHE_SLOTS; i++)
			pwcache[i].key[0] = 0;
		pwstat = st;
		pwstat_ok = 1;
	}
	for (i = 0; name[i]; i++)
		h = (h ^ (unsigned char)name[i]) * 16777619u;
	return &pwcache[h % PWCACHE_SLOTS];
}

static time_t
mono_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}
#endif

/* account - the account name: 1 (pw pointing into storage kept until the
 * next call), 0 none, -1 a failed lookup (errno).  Where the C library
 * reads only /etc/passwd anyway (QPOST_PWFILES: musl, smtpd) the file is
 * read once per process and searched here: musl's getpwnam costs an
 * fopen, stdio and, for every miss, a connect to nscd's socket (45 us a
 * recipient against 3, docs/performance.md step 11); recip_confirm asks
 * every NSS source before a refusal.  Elsewhere getpwnam answers, through
 * the cache above. */
static int
account(const char *name, struct recip_pw *pw)
{
#ifdef QPOST_PWFILES
	static str file = STR_INIT;
	static int loaded;

	if (!loaded) {
		if (control_readpath(&file, "/etc/passwd", RECIP_PWFILE_MAX) <
		    0)
			return -1;
		loaded = 1;
	}
	return recip_pwfind(file.s, file.len, name, strlen(name), pw);
#else
	struct passwd *p;
	time_t now = mono_sec();
	size_t nl = strlen(name);
	struct pwslot *c;

	if (nl > RECIP_USERLEN) {	/* syspw asks no such name */
		errno = ENAMETOOLONG;
		return -1;
	}
	c = pwcache_slot(name);
	if (!c->key[0] || strcmp(c->key, name) ||
	    now - c->at >= PWCACHE_SECS || now < c->at) {
		c->key[0] = 0;
		errno = 0;
		p = getpwnam(name);
		if (!p && errno && errno != ENOENT && errno != ESRCH &&
		    errno != EBADF && errno != EPERM)
			return -1;	/* a failure: never kept */
		c->found = p != 0;
		if (p && (put0(&c->name, p->pw_name, strlen(p->pw_name)) < 0 ||
		    put0(&c->dir, p->pw_dir, strlen(p->pw_dir)) < 0))
			return -1;
		if (p) {
			c->uid = p->pw_uid;
			c->gid = p->pw_gid;
		}
		c->at = now;
		memcpy(c->key, name, nl + 1);
	}
	if (!c->found)
		return 0;
	pw->uid = c->uid;
	pw->gid = c->gid;
	pw->name = c->name.s;
	pw->namelen = c->name.len;
	pw->dir = c->dir.s;
	pw->dirlen = c->dir.len;
	return 1;
#endif
}

/* syspw - qmail-getpw: the longest prefix of the local part ending at a
 * '-' (or the whole) that names an account with a non-zero uid and a home
 * it owns.  1 found, 0 not. */
static int
syspw(struct recip *r)
{
	char name[RECIP_USERLEN + 1];
	const char *l = r->local.s;
	size_t i = r->local.len;
	struct recip_pw pw;
	struct stat st;
	int x;

	for (;; i--) {
		if (i && i <= RECIP_USERLEN &&
		    (i == r->local.len || l[i] == '-')) {
			memcpy(name, l, i);
			name[i] = 0;
			x = account(name, &pw);
			if (x < 0)
				return -1;
			if (x && pw.uid) {
				if (put0(&r->home, pw.dir, pw.dirlen) < 0)
					return -1;
				if (stat(r->home.s, &st) < 0) {
					if (errno != ENOENT && errno != ENOTDIR)
						return -1;	/* an unreachable
							 * home is not "no
							 * such user" */
				} else if (st.st_uid == pw.uid) {
					r->uid = (uid_t)pw.uid;
					r->gid = (gid_t)pw.gid;
					if (put0(&r->user, pw.name,
					    pw.namelen) < 0 ||
					    put0(&r->dash, "-",
					    i < r->local.len) < 0 ||
					    put0(&r->ext, l + i +
					    (i < r->local.len), r->local.len -
					    i - (i < r->local.len)) < 0)
						return -1;
					return 1;
				}
			}
		}
		if (i == 0)
			return 0;
	}
}

/* alias - the alias user (the home's alias/ directory) with the whole
 * local part as extension; uid and gid are the directory's owner's. */
static int
alias(struct recip *r)
{
	struct stat st;

	if (home_path(&r->home, RECIP_ALIAS) < 0)
		return -1;
	r->home.len = strlen(r->home.s);
	if (stat(r->home.s, &st) < 0)
		return (errno == ENOENT || errno == ENOTDIR) ? 0 : -1;
	r->uid = st.st_uid;
	r->gid = st.st_gid;
	if (put0(&r->user, RECIP_ALIAS, strlen(RECIP_ALIAS)) < 0 ||
	    put0(&r->dash, "-", 1) < 0 ||
	    put0(&r->ext, r->local.s, r->local.len) < 0)
		return -1;
	return 1;
}

static const char *const files[RECIP_FILES] = {
	"control/locals", "control/virtualdomains", "users/assign.cdb",
	"control/me"
};

/* stamp - the identity of one file now */
static int
stamp(const char *rel, struct recip_stamp *t)
{
	str p = STR_INIT;
	struct stat st;

	memset(t, 0, sizeof *t);
	if (home_path(&p, rel) < 0)
		return -1;
	if (stat(p.s, &st) < 0)
		t->err = errno ? errno : EIO;
	else {
		t->dev = st.st_dev;
		t->ino = st.st_ino;
		t->size = st.st_size;
		t->mtime = st.st_mtim;
		t->ctime = st.st_ctim;
	}
	str_free(&p);
	return 0;
}

static int
stamp_same(const struct recip_stamp *a, const struct recip_stamp *b)
{
	return a->err == b->err && a->dev == b->dev && a->ino == b->ino &&
	    a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	    a->mtime.tv_nsec == b->mtime.tv_nsec &&
	    a->ctime.tv_sec == b->ctime.tv_sec &&
	    a->ctime.tv_nsec == b->ctime.tv_nsec;
}

static void
tables_free(struct recip_ctx *c)
{
	if (c->cdbfd >= 0) {
		cdb_free(&c->cdb);
		close(c->cdbfd);
		c->cdbfd = -1;
	}
	str_free(&c->locals);
	str_free(&c->virt);
	str_free(&c->me);
	c->loaded = 0;
}

int
recip_load(struct recip_ctx *c)
{
	str p = STR_INIT;
	size_t k;
	int e;

	tables_free(c);
	/* Stamps first: a change after them is seen by the next refresh. */
	for (k = 0; k < RECIP_FILES; k++)
		if (stamp(files[k], &c->st[k]) < 0)
			goto fail;
	if (control_readlist(&c->locals, "locals") < 0 ||
	    control_readlist(&c->virt, "virtualdomains") < 0 ||
	    control_readline(&c->me, "me") < 0 ||
	    home_path(&p, files[2]) < 0)
		goto fail;
	c->cdbfd = open(p.s, O_RDONLY | O_CLOEXEC);
	if (c->cdbfd < 0 && errno != ENOENT)
		goto fail;
	if (c->cdbfd >= 0 && cdb_init(&c->cdb, c->cdbfd) < 0) {
		e = errno ? errno : EINVAL;
		close(c->cdbfd);
		c->cdbfd = -1;
		errno = e;
		goto fail;
	}
	str_free(&p);
	c->loaded = 1;
	c->err = 0;
	return 0;
fail:
	e = errno ? errno : EIO;
	str_free(&p);
	tables_free(c);
	c->err = e;
	errno = e;
	return -1;
}

int
recip_refresh(struct recip_ctx *c)
{
	struct recip_stamp t;
	size_t k = 0;

	if (c->loaded)
		for (k = 0; k < RECIP_FILES; k++) {
			if (stamp(files[k], &t) < 0)
				return -1;
			if (!stamp_same(&t, &c->st[k]))
				break;
		}
	if (c->loaded && k == RECIP_FILES)
		return 0;
	return recip_load(c) < 0 ? -1 : 1;
}

void
recip_ctx_free(struct recip_ctx *c)
{
	tables_free(c);
}

int
recip_domain(struct recip_ctx *c, const char *addr)
{
	str prefix = STR_INIT;
	const char *at = strrchr(addr, '@');
	const char *d = at ? at + 1 : "";
	size_t dn = strlen(d);
	int x;

	if (!c->loaded) {
		errno = c->err ? c->err : EAGAIN;
		return -1;
	}
	if (!dn || is_locals(c, d, dn))
		return 1;
	x = virtual(c, d, dn, &prefix);
	if (x > 0)
		x = prefix.len > 0;
	str_free(&prefix);
	if (!x && postmaster_me(c, addr, (size_t)(at - addr), d, dn))
		x = 1;
	return x;
}

int
recip_lookup(struct recip_ctx *c, const char *addr, struct recip *r)
{
	str prefix = STR_INIT;
	const char *at = strrchr(addr, '@');
	size_t ln = at ? (size_t)(at - addr) : strlen(addr);
	const char *d = at ? at + 1 : "";
	size_t dn = strlen(d);
	int x;

	memset(r, 0, sizeof *r);
	if (!c->loaded) {
		errno = c->err ? c->err : EAGAIN;
		return -1;
	}
	if (put0(&r->domain, d, dn) < 0)
		return -1;
	addr_lower(r->domain.s, dn);
	x = dn ? is_locals(c, d, dn) : 1;
	if (x < 0)
		return -1;
	if (x) {
		if (put0(&r->local, addr, ln) < 0)
			return -1;
	} else {
		x = virtual(c, d, dn, &prefix);
		if (x < 0)
			return -1;
		if (!x || !prefix.len) {
			str_free(&prefix);
			if (!postmaster_me(c, addr, ln, d, dn))
				return RECIP_REMOTE;
			if (put0(&r->local, addr, ln) < 0)
				return -1;
		} else if (str_copy(&r->local, prefix.s, prefix.len) < 0 ||
		    str_putc(&r->local, '-') < 0 ||
		    str_put(&r->local, addr, ln) < 0 ||
		    str_0(&r->local) < 0) {
			str_free(&prefix);
			return -1;
		}
		str_free(&prefix);
	}
	addr_lower(r->local.s, r->local.len);
	if (!r->local.len || memchr(r->local.s, '/', r->local.len))
		return RECIP_NOUSER;

	x = assign(c, r);
	if (!x)
		x = syspw(r);
	if (!x)
		x = alias(r);
	if (x <= 0)
		return x < 0 ? -1 : RECIP_NOUSER;
	if (!r->dash.len)
		return RECIP_FOUND;
	x = has_qmail(r);
	if (x < 0)
		return -1;
	return x ? RECIP_FOUND : RECIP_NOUSER;
}

int
recip_find(const char *addr, struct recip *r)
{
	static struct recip_ctx own = RECIP_CTX_INIT;

	if (!own.loaded && recip_load(&own) < 0) {
		memset(r, 0, sizeof *r);
		return -1;
	}
	return recip_lookup(&own, addr, r);
}

int
recip_fields(const struct recip *r, str *out)
{
	if (str_put(out, r->user.s, r->user.len) < 0 || str_putc(out, 0) < 0 ||
	    str_putu(out, (unsigned long)r->uid) < 0 || str_putc(out, 0) < 0 ||
	    str_putu(out, (unsigned long)r->gid) < 0 || str_putc(out, 0) < 0 ||
	    str_put(out, r->home.s, r->home.len) < 0 || str_putc(out, 0) < 0 ||
	    str_put(out, r->local.s, r->local.len) < 0 ||
	    str_putc(out, 0) < 0 ||
	    str_put(out, r->dash.s, r->dash.len) < 0 || str_putc(out, 0) < 0 ||
	    str_put(out, r->ext.s, r->ext.len) < 0 || str_putc(out, 0) < 0 ||
	    str_put(out, r->domain.s, r->domain.len) < 0 ||
	    str_putc(out, 0) < 0)
		return -1;
	return 0;
}

void
recip_free(struct recip *r)
{
	str_free(&r->user);
	str_free(&r->home);
	str_free(&r->dash);
	str_free(&r->ext);
	str_free(&r->local);
	str_free(&r->domain);
}

int
recip_nss_beyond_files(const char *conf, size_t n)
{
	size_t i = 0, j, e;

	while (i < n) {
		for (e = i; e < n && conf[e] != '\n'; e++)
			;
		for (j = i; j < e && (conf[j] == ' ' || conf[j] == '\t'); j++)
			;
		if (e - j >= 7 && !memcmp(conf + j, "passwd:", 7)) {
			for (j += 7; j < e && conf[j] != '#';) {
				size_t w = j;

				if (conf[j] == ' ' || conf[j] == '\t') {
					j++;
					continue;
				}
				if (conf[j] == '[') {	/* [STATUS=action] */
					while (j < e && conf[j] != ']')
						j++;
					j += j < e;
					continue;
				}
				while (j < e && conf[j] != ' ' &&
				    conf[j] != '\t' && conf[j] != '#')
					j++;
				if (j - w != 5 || memcmp(conf + w, "files", 5))
					return 1;
			}
			return 0;	/* glibc reads the first line only */
		}
		i = e + 1;
	}
	return 0;			/* no line: glibc's default, files */
}

#ifdef QPOST_PWFILES
/* nss_beyond - recip_nss_beyond_files of /etc/nsswitch.conf, read once
 * (an unreadable file: glibc's default, files) */
static int
nss_beyond(void)
{
	static int known = -1;
	char b[16384];
	size_t n = 0;
	ssize_t r;
	int fd;

	if (known >= 0)
		return known;
	fd = open("/etc/nsswitch.conf", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		while (n < sizeof b && (r = read(fd, b + n, sizeof b - n)) > 0)
			n += (size_t)r;
		close(fd);
	}
	known = recip_nss_beyond_files(b, n);
	return known;
}

int
recip_confirm(const char *addr, int secs)
{
	str path = STR_INIT;
	char *argv[3], b[512];
	size_t n;
	int code, e;

	if (!nss_beyond())
		return RECIP_NOUSER;
	if (home_path(&path, "bin/route") < 0)
		return -1;
	argv[0] = path.s;
	argv[1] = (char *)(size_t)addr;
	argv[2] = 0;
	/* its fields are not wanted; its complaint is, when it fails */
	code = spawn_collect(argv, "the recipient lookup ", 2, b, sizeof b,
	    &n, secs * 1000);
	e = errno;
	str_free(&path);
	if (code == 0)
		return RECIP_FOUND;
	if (code == 100)
		return RECIP_NOUSER;
	while (n && (b[n - 1] == '\n' || b[n - 1] == '\r'))
		n--;
	if (n && fd_writeall(2, b, n, -1) >= 0)	/* route's own line */
		(void)fd_writeall(2, "\n", 1, -1);
	errno = code < 0 ? e : EAGAIN;
	return -1;
}
#else
int
recip_confirm(const char *addr, int secs)
{
	(void)addr;
	(void)secs;
	return RECIP_NOUSER;
}
#endif
