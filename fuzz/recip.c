/* fuzz/recip - libFuzzer target for the routing owner (recip.c): the
 * local/remote decision and the lookup of a local part, and the parser
 * of a users/assign.cdb value.
 *
 * LLVMFuzzerInitialize makes two homes under /tmp (QPOST_HOME switches
 * between them): control/me, control/locals, control/virtualdomains
 * (exact, ".suffix" and, in the second home, the empty domain), an
 * alias/ directory and a users/assign.cdb written with tinycdb the way
 * newu writes it ('=' and '+' entries and the "" key of prefix ends).
 *
 * Input: byte 0 is flags (bit 0: the second home; bit 1: the rest is
 * "address\n" then a users/assign.cdb value for recip_assign, with the
 * address as the rest of the extension).  Otherwise the rest up to a NUL
 * is an address for recip_lookup and recip_domain, which must agree.
 * Bit 2: the rest is nsswitch.conf text for recip_nss_beyond_files, which
 * must say 0 for text without "passwd:" and read no byte beyond n (the
 * text is copied into a buffer of exactly its size).
 * Bit 3: the rest is "name\n" then /etc/passwd text for recip_pwfind
 * (the text again in a buffer of exactly its size): a found entry has
 * that name, a dir inside the text with no NUL and no ':' or newline in
 * either, and the uid and gid its decimal fields say.
 * Found recipients have uid != 0 and NUL-terminated fields; a value's
 * uid and gid are its decimal fields exactly (never a cut-down 0). */
#include <cdb.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../recip.h"
#include "../str.h"
#include "tmphome.h"

int LLVMFuzzerInitialize(int *, char ***);
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define NHOMES 2
#define ALIAS_UID 65534		/* alias/'s owner: not root */

static char homes[NHOMES][TMPHOME_LEN];
static struct recip_ctx ctx[NHOMES] = { RECIP_CTX_INIT, RECIP_CTX_INIT };

/* assign_add - one users/assign.cdb record as newu writes it */
static void
assign_add(struct cdb_make *m, const char *key, size_t kn, const char *user,
    const char *uid, const char *home, const char *dash, const char *ext)
{
	str v = STR_INIT;

	if (str_puts(&v, user) < 0 || str_putc(&v, 0) < 0 ||
	    str_puts(&v, uid) < 0 || str_putc(&v, 0) < 0 ||
	    str_puts(&v, uid) < 0 || str_putc(&v, 0) < 0 ||
	    str_puts(&v, home) < 0 || str_putc(&v, 0) < 0 ||
	    str_puts(&v, dash) < 0 || str_putc(&v, 0) < 0 ||
	    str_puts(&v, ext) < 0 || str_putc(&v, 0) < 0)
		abort();
	if (cdb_make_add(m, key, (unsigned)kn, v.s, (unsigned)v.len) < 0)
		abort();
	str_free(&v);
}

static void
make_home(char *home, int catchall)
{
	static const char virt[] = "virt.example:vu\n.sub.example:sub\n"
	    "notours.example:\n";
	char p[256];
	struct cdb_make m;
	int fd;

	strcpy(home, tmphome_make("recip"));
	snprintf(p, sizeof p, "%s/alias", home);
	if (geteuid() == 0 && chown(p, ALIAS_UID, ALIAS_UID) < 0)
		abort();
	tmphome_put(home, "alias/.qmail-postmaster", "&a@b\n", 0644);
	/* the users/assign entries' home: every dash-ext has a .qmail */
	tmphome_put(home, ".qmail-default", "&a@b\n", 0644);
	if (catchall)
		tmphome_put(home, "alias/.qmail-default", "&a@b\n", 0644);
	tmphome_put(home, "control/me", "me.example\n", 0644);
	tmphome_put(home, "control/locals", "local.example\nlocalhost\n",
	    0644);
	if (catchall)
		tmphome_put(home, "control/virtualdomains",
		    "virt.example:vu\n:any\n", 0644);
	else
		tmphome_put(home, "control/virtualdomains", virt, 0644);
	snprintf(p, sizeof p, "%s/users/assign.cdb", home);
	fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || cdb_make_start(&m, fd) < 0)
		abort();
	/* "=alice:alice:1001:1001:HOME:::" and "=vu-bob:bob:...:-:x:" */
	assign_add(&m, "!alice", 7, "alice", "1001", home, "", "");
	assign_add(&m, "!vu-bob", 8, "bob", "1002", home, "-", "x");
	/* "+list-:list:1003:1003:HOME:-::" and "+sub-:..." */
	assign_add(&m, "!list-", 6, "list", "1003", home, "-", "");
	assign_add(&m, "!sub-", 5, "sub", "1004", home, "-", "pre-");
	if (catchall)	/* "+:all:1005:1005:HOME:-::" takes the rest */
		assign_add(&m, "!", 1, "all", "1005", home, "-", "");
	if (cdb_make_add(&m, "", 0, "-", 1) < 0 || cdb_make_finish(&m) < 0 ||
	    close(fd) < 0)
		abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int k;

	(void)argc;
	(void)argv;
	for (k = 0; k < NHOMES; k++) {
		make_home(homes[k], k);
		if (setenv("QPOST_HOME", homes[k], 1) < 0 ||
		    recip_load(&ctx[k]) < 0)
			abort();
	}
	return 0;
}

/* terminated - a str filled by recip: bytes, then a NUL */
static void
terminated(const str *x, int nul_inside)
{
	if (!x->s || x->s[x->len] != 0)
		abort();
	if (!nul_inside && strlen(x->s) != x->len)
		abort();
}

/* field - the k-th NUL-ended field of v: its length, or -1 */
static long
field(const char *v, size_t vn, int k, const char **f)
{
	size_t i = 0;
	const char *z;

	for (;;) {
		z = memchr(v + i, 0, vn - i);
		if (!z)
			return -1;
		if (!k--) {
			*f = v + i;
			return (long)(z - (v + i));
		}
		i = (size_t)(z - v) + 1;
	}
}

/* id - an independent reading of a decimal uid or gid field */
static long long
id(const char *s, long n)
{
	unsigned long long u = 0;
	long i;

	if (n <= 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (u < 0x100000000ULL)	/* past it, it stays too big */
			u = u * 10 + (unsigned)(s[i] - '0');
	}
	return u >= 0xffffffffULL ? -1 : (long long)u;
}

static void
assign_value(const char *rest, size_t rn, const char *v, size_t vn)
{
	struct recip r;
	const char *f1 = 0, *f2 = 0, *f5 = 0;
	long n1, n2, n5;
	int x;

	memset(&r, 0, sizeof r);
	x = recip_assign(&r, v, vn, rest, rn);
	n1 = field(v, vn, 1, &f1);
	n2 = field(v, vn, 2, &f2);
	n5 = field(v, vn, 5, &f5);
	if (x == 1) {
		if (n5 < 0 || id(f1, n1) != (long long)r.uid ||
		    id(f2, n2) != (long long)r.gid)
			abort();
		terminated(&r.user, 0);
		terminated(&r.home, 0);
		terminated(&r.dash, 0);
		terminated(&r.ext, 1);
		if (r.home.s[0] != '/' || r.ext.len != (size_t)n5 + rn ||
		    memcmp(r.ext.s + n5, rest, rn))
			abort();
	} else if (x != -1 || errno != EINVAL) {
		abort();
	} else if (n5 >= 0 && id(f1, n1) >= 0 && id(f2, n2) >= 0) {
		/* refused although well formed: only for the home */
		const char *f3 = 0;
		long n3 = field(v, vn, 3, &f3);

		if (n3 > 0 && f3[0] == '/')
			abort();
	}
	recip_free(&r);
}

static void
lookup(struct recip_ctx *c, const char *addr)
{
	struct recip r;
	str out = STR_INIT, name = STR_INIT;
	size_t state = 0, def, k, nul = 0;
	int x = recip_lookup(c, addr, &r), d;

	if (x != -1 && x != RECIP_FOUND && x != RECIP_NOUSER &&
	    x != RECIP_REMOTE)
		abort();
	d = recip_domain(c, addr);
	if (x > 0 && d != (x == RECIP_REMOTE ? 0 : 1))
		abort();
	if (x == RECIP_FOUND) {
		if (r.uid == 0)
			abort();
		terminated(&r.user, 0);
		terminated(&r.home, 0);
		terminated(&r.dash, 0);
		terminated(&r.ext, 0);
		terminated(&r.local, 0);
		terminated(&r.domain, 0);
		if (!r.local.len || memchr(r.local.s, '/', r.local.len))
			abort();
		for (k = 0; k < r.local.len; k++)
			if (r.local.s[k] >= 'A' && r.local.s[k] <= 'Z')
				abort();
		if (recip_fields(&r, &out) < 0)
			abort();
		for (k = 0; k < out.len; k++)
			nul += out.s[k] == 0;
		if (nul != RECIP_NFIELDS || out.s[out.len - 1] != 0)
			abort();
		while ((x = recip_qmail_next(&r, &state, &name, &def)) > 0)
			if (strncmp(name.s, ".qmail", 6) ||
			    strlen(name.s) != name.len ||
			    (def != (size_t)-1 && def > r.ext.len))
				abort();
		if (x < 0)
			abort();
	}
	recip_free(&r);
	str_free(&out);
	str_free(&name);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data + 1;
	size_t n = size ? size - 1 : 0;
	char *a, *lf;
	int h;

	if (!size)
		return 0;
	h = data[0] & 1;
	if (setenv("QPOST_HOME", homes[h], 1) < 0)
		abort();
	if (data[0] & 8) {
		const char *nl = memchr(s, '\n', n);
		size_t nn = nl ? (size_t)(nl - s) : n, tn = n - nn - (nl != 0);
		char *t = malloc(tn ? tn : 1);
		struct recip_pw pw;

		if (!t)
			abort();
		memcpy(t, s + nn + (nl != 0), tn);
		if (recip_pwfind(t, tn, s, nn, &pw)) {
			const char *f = pw.name + pw.namelen + 1, *end;

			if (pw.namelen != nn || memcmp(pw.name, s, nn) ||
			    pw.dir < t || pw.dir + pw.dirlen > t + tn ||
			    memchr(pw.dir, 0, pw.dirlen) ||
			    memchr(pw.dir, ':', pw.dirlen) ||
			    memchr(pw.dir, '\n', pw.dirlen) ||
			    memchr(pw.name, '\n', pw.namelen))
				abort();
			/* name:password:uid:gid: - the numbers as written */
			f = memchr(f, ':', (size_t)(pw.dir - f));
			if (!f || strtoul(f + 1, (char **)&end, 10) != pw.uid ||
			    *end != ':' || strtoul(end + 1, (char **)&end,
			    10) != pw.gid || *end != ':')
				abort();
		}
		free(t);
		return 0;
	}
	if (data[0] & 4) {
		char *c = malloc(n ? n : 1);

		if (!c)
			abort();
		memcpy(c, s, n);
		if (recip_nss_beyond_files(c, n) &&
		    !memmem(c, n, "passwd:", 7))
			abort();
		free(c);
		return 0;
	}
	if (data[0] & 2) {
		const char *nl = memchr(s, '\n', n);
		size_t an = nl ? (size_t)(nl - s) : n;
		char *rest = malloc(an + 1), *v = malloc(n - an + 1);

		if (!rest || !v)
			abort();
		memcpy(rest, s, an);
		memcpy(v, s + an + (nl != 0), n - an - (nl != 0));
		assign_value(rest, an, v, n - an - (nl != 0));
		free(rest);
		free(v);
		return 0;
	}
	if (n > 1100)
		return 0;
	a = strndup(s, n);
	if (!a)
		abort();
	lf = strchr(a, '\n');
	if (lf)
		*lf = 0;
	lookup(&ctx[h], a);
	free(a);
	return 0;
}
