/* spf - RFC 7208 check_host().
 *
 * A record is parsed twice: once whole for its syntax (RFC 7208 4.6: any
 * syntax error anywhere is a permerror before anything is evaluated),
 * then term by term as it is evaluated.  Terms are (pointer, length)
 * into the TXT answer; nothing is copied but the macro expansions. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "num.h"
#include "spf.h"

enum { M_ALL, M_INCLUDE, M_A, M_MX, M_PTR, M_IP4, M_IP6, M_EXISTS,
    MOD_REDIRECT, MOD_EXP, MOD_OTHER };

static const char *const mechs[] = { "all", "include", "a", "mx", "ptr",
    "ip4", "ip6", "exists" };

struct term {
	int qual;		/* SPF_PASS, SPF_FAIL, ... */
	int kind;
	const char *arg;	/* domain-spec, address or modifier value */
	size_t arglen;		/* 0: none given */
	unsigned c4, c6;	/* CIDR lengths */
	unsigned char ip[16];	/* ip4 (4 bytes) or ip6 */
};

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *
spf_str(int r)
{
	static const char *const s[] = { "none", "neutral", "pass", "fail",
	    "softfail", "temperror", "permerror" };

	return r >= 0 && r <= SPF_PERMERROR ? s[r] : "permerror";
}

int
spf_init(spf_ctx *c, const dns_addr *ip, const char *sender,
    const char *helo, const char *me)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0xff, 0xff };
	const char *at;

	memset(c, 0, sizeof *c);
	c->ip = *ip;
	if (ip->af == AF_INET6 && !memcmp(ip->ip, mapped, 12)) {
		memset(&c->ip, 0, sizeof c->ip);
		c->ip.af = AF_INET;
		memcpy(c->ip.ip, ip->ip + 12, 4);
	}
	c->helo = helo;
	c->me = me;
	at = strrchr(sender, '@');
	if (!*sender) {
		if (str_copys(&c->sender, "postmaster@") < 0 ||
		    str_puts(&c->sender, helo) < 0)
			return -1;
	} else if (!at) {
		if (str_copys(&c->sender, sender) < 0 ||
		    str_putc(&c->sender, '@') < 0 ||
		    str_puts(&c->sender, helo) < 0)
			return -1;
	} else if (at == sender) {	/* RFC 7208 4.3: no local-part */
		if (str_copys(&c->sender, "postmaster") < 0 ||
		    str_puts(&c->sender, sender) < 0)
			return -1;
	} else if (str_copys(&c->sender, sender) < 0)
		return -1;
	if (str_0(&c->sender) < 0)
		return -1;
	c->at = (size_t)(strrchr(c->sender.s, '@') - c->sender.s);
	return 0;
}

void
spf_free(spf_ctx *c)
{
	str_free(&c->sender);
}

const char *
spf_domain(const spf_ctx *c)
{
	return c->sender.s + c->at + 1;
}

/* Macros (RFC 7208 7). */

static int
isdelim(char ch)
{
	return ch && strchr(".-+,/_=", ch) != 0;
}

static int
isalnum_(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9');
}

/* ipfmt - %{i}: dotted quad, or 32 dotted nibbles for IPv6 */
static void
ipfmt(const dns_addr *a, char *b)
{
	static const char hex[] = "0123456789abcdef";
	int i;

	if (a->af == AF_INET) {
		inet_ntop(AF_INET, a->ip, b, 16);
		return;
	}
	for (i = 0; i < 16; i++) {
		*b++ = hex[a->ip[i] >> 4];
		*b++ = '.';
		*b++ = hex[a->ip[i] & 15];
		*b++ = i < 15 ? '.' : 0;
	}
}

static int lookup_count(spf_ctx *);
static int addr_match(const spf_ctx *, const dns_addr *, size_t, unsigned,
    unsigned);

/* same_or_sub - is name domain or a subdomain of it (any case, a final
 * dot ignored)? */
static int
same_or_sub(const char *name, const char *domain)
{
	size_t n = strlen(name), d = strlen(domain);

	if (n && name[n - 1] == '.')
		n--;
	if (d && domain[d - 1] == '.')
		d--;
	if (!d || n < d || strncasecmp(name + n - d, domain, d))
		return 0;
	return n == d || name[n - d - 1] == '.';
}

/* ptr_names - the validated names of the client (RFC 7208 5.5): the
 * first SPF_PTR_MAX PTR names whose addresses include it; *match set
 * when one is domain or under it.  The DNS result of the PTR query. */
static int
ptr_names(spf_ctx *c, const char *domain, char *first, int *match)
{
	static char names[SPF_PTR_MAX][DNS_NAME_MAX];
	dns_addr a[DNS_ADDR_MAX];
	size_t n, i, k;
	int r;

	*match = 0;
	if (first)
		*first = 0;
	r = dns_ptr(&c->ip, names, SPF_PTR_MAX, &n);
	if (r != DNS_OK)
		return r;
	for (i = 0; i < n; i++) {
		if (dns_addrtype(names[i], c->ip.af, a, DNS_ADDR_MAX, &k) !=
		    DNS_OK || !addr_match(c, a, k, 32, 128))
			continue;	/* errors skip the name (5.5) */
		if (first && (!*first || (domain && same_or_sub(names[i],
		    domain) && !same_or_sub(first, domain))))
			strcpy(first, names[i]);
		if (domain && same_or_sub(names[i], domain))
			*match = 1;
	}
	return DNS_OK;
}

/* letter - the value of macro letter x for domain into v */
static int
letter(spf_ctx *c, const char *domain, char x, str *v)
{
	char b[80];

	v->len = 0;
	switch (x) {
	case 's':
		return str_puts(v, c->sender.s);
	case 'l':
		return str_put(v, c->sender.s, c->at);
	case 'o':
		return str_puts(v, c->sender.s + c->at + 1);
	case 'd':
		return str_puts(v, domain);
	case 'i':
		ipfmt(&c->ip, b);
		return str_puts(v, b);
	case 'p':
		if (!c->ptrdone) {
			int m;

			c->ptrdone = 1;
			if (c->nodns || ptr_names(c, domain, c->ptrname, &m) !=
			    DNS_OK || !c->ptrname[0])
				strcpy(c->ptrname, "unknown");
		}
		return str_puts(v, c->ptrname);
	case 'v':
		return str_puts(v, c->ip.af == AF_INET ? "in-addr" : "ip6");
	case 'h':
		return str_puts(v, c->helo);
	case 'c':
		inet_ntop(c->ip.af, c->ip.ip, b, sizeof b);
		return str_puts(v, b);
	case 'r':
		return str_puts(v, c->me && *c->me ? c->me : "unknown");
	case 't':
		return str_putu(v, (unsigned long long)time(0));
	}
	return -1;
}

/* transform - v split at the delimiters, reversed if rev, the rightmost
 * keep parts (0: all) joined by dots, URL-escaped if esc, onto out */
static int
transform(const str *v, const char *delim, size_t dn, int rev,
    unsigned long long keep, int esc, str *out)
{
	size_t parts = 1, i, k, first, start = out->len;
	size_t *off;
	int r = 0;

	for (i = 0; i < v->len; i++)
		if (dn ? memchr(delim, v->s[i], dn) != 0 : v->s[i] == '.')
			parts++;
	off = malloc((parts + 1) * sizeof *off);
	if (!off)
		return -1;
	off[0] = 0;
	for (i = 0, k = 1; i < v->len; i++)
		if (dn ? memchr(delim, v->s[i], dn) != 0 : v->s[i] == '.')
			off[k++] = i + 1;
	off[parts] = v->len + 1;	/* one past the end's virtual delim */
	first = keep && keep < parts ? parts - (size_t)keep : 0;
	for (k = first; k < parts && r == 0; k++) {
		/* the k-th part of the list, reversed if rev */
		size_t p = rev ? parts - 1 - k : k, b, e;

		b = off[p];
		e = off[p + 1] - 1;
		if (k > first)
			r = str_putc(out, '.');
		if (r == 0)
			r = str_put(out, v->s + b, e - b);
	}
	free(off);
	if (r == 0 && esc) {
		static const char hex[] = "0123456789ABCDEF";
		str t = STR_INIT;

		for (i = start; i < out->len && r == 0; i++) {
			char ch = out->s[i];

			if (isalnum_(ch) || ch == '-' || ch == '.' ||
			    ch == '_' || ch == '~')
				r = str_putc(&t, ch);
			else if ((r = str_putc(&t, '%')) == 0 &&
			    (r = str_putc(&t, hex[(unsigned char)ch >> 4])) == 0)
				r = str_putc(&t, hex[ch & 15]);
		}
		out->len = start;
		if (r == 0)
			r = str_put(out, t.s, t.len);
		str_free(&t);
	}
	return r;
}

int
spf_expand(spf_ctx *c, const char *domain, const char *s, size_t n, int exp,
    str *out)
{
	str v = STR_INIT;
	size_t i = 0;
	int r = 0;

	while (i < n && r == 0) {
		char ch = s[i];

		if (ch != '%') {
			if ((ch < 0x21 || ch > 0x7e) && !(exp && ch == ' '))
				goto bad;
			if (c)
				r = str_putc(out, ch);
			i++;
			continue;
		}
		if (i + 1 >= n)
			goto bad;
		ch = s[i + 1];
		if (ch == '%' || ch == '_' || ch == '-') {
			if (c)
				r = str_puts(out, ch == '%' ? "%" : ch == '_' ?
				    " " : "%20");
			i += 2;
			continue;
		}
		if (ch != '{' || i + 2 >= n)
			goto bad;
		i += 2;
		{
			char x = s[i], lx = (char)(x | 0x20);
			unsigned long long keep = 0;
			int rev = 0;
			size_t d0;

			if (!strchr("slodiphvcrt", lx) || !lx ||
			    (strchr("crt", lx) && !exp))
				goto bad;
			i++;
			if (i < n && s[i] >= '0' && s[i] <= '9') {
				if (num_scan(s, n, &i, 999, &keep) < 0 || !keep)
					goto bad;
			}
			if (i < n && (s[i] == 'r' || s[i] == 'R')) {
				rev = 1;
				i++;
			}
			d0 = i;
			while (i < n && isdelim(s[i]))
				i++;
			if (i >= n || s[i] != '}')
				goto bad;
			if (c && (r = letter(c, domain, lx, &v)) == 0)
				r = transform(&v, s + d0, i - d0, rev, keep,
				    x != lx, out);
			i++;
		}
		if (c && out->len > SPF_EXPAND_MAX)
			goto bad;
	}
	str_free(&v);
	if (r < 0) {
		errno = ENOMEM;
		return -1;
	}
	if (c && str_0(out) < 0)
		return -1;
	return 0;
bad:
	str_free(&v);
	errno = EINVAL;
	return -1;
}

/* Terms. */

/* domain_spec - macro-string domain-end (RFC 7208 7.1) */
static int
domain_spec(const char *s, size_t n)
{
	size_t e = n, b;
	int alpha = 0;

	if (!n || spf_expand(0, 0, s, n, 0, 0) < 0)
		return -1;
	if (s[n - 1] == '}')	/* ends in a macro-expand */
		return 0;
	if (s[e - 1] == '.')
		e--;
	for (b = e; b && s[b - 1] != '.'; b--)
		;
	/* toplabel: alphanumerics with a letter, or with inner hyphens */
	if (!b || b == e || !isalnum_(s[b]) || !isalnum_(s[e - 1]))
		return -1;
	for (; b < e; b++) {
		if (!isalnum_(s[b]) && s[b] != '-')
			return -1;
		if (!(s[b] >= '0' && s[b] <= '9'))
			alpha = 1;
	}
	return alpha ? 0 : -1;
}

/* cidr - "/" digits (no leading zero) at s[*e-...], value <= max; moves
 * *e before it.  1 found, 0 none, -1 bad. */
static int
cidr(const char *s, size_t *e, unsigned max, unsigned *out, int dbl)
{
	size_t d = *e, k;
	unsigned long long u;

	while (d && s[d - 1] >= '0' && s[d - 1] <= '9')
		d--;
	if (d == *e || !d || s[d - 1] != '/')
		return 0;
	if (dbl && (d < 2 || s[d - 2] != '/'))
		return 0;
	if (!dbl && d >= 2 && s[d - 2] == '/')
		return 0;
	if ((s[d] == '0' && *e - d > 1) || *e - d > 3)
		return -1;
	k = d;
	if (num_scan(s, *e, &k, max, &u) < 0)
		return -1;
	*out = (unsigned)u;
	*e = d - (dbl ? 2 : 1);
	return 1;
}

static int
modname_ok(const char *s, size_t n)
{
	size_t i;

	if (!n || !((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z'))
		return 0;
	for (i = 1; i < n; i++)
		if (!isalnum_(s[i]) && !strchr("-_.", s[i]))
			return 0;
	return 1;
}

/* term_parse - one term s[0..n) into t; 0 or -1 (syntax) */
static int
term_parse(const char *s, size_t n, struct term *t)
{
	size_t i = 0, nm, e;
	const char *eq;
	char ip[INET6_ADDRSTRLEN + 1];
	int k;

	memset(t, 0, sizeof *t);
	t->qual = SPF_PASS;
	t->c4 = 32;
	t->c6 = 128;
	for (nm = 0; nm < n && s[nm] != ':' && s[nm] != '/' && s[nm] != '=';
	    nm++)
		;
	eq = nm < n && s[nm] == '=' ? s + nm : 0;
	if (eq) {
		if (!modname_ok(s, nm))
			return -1;
		t->arg = eq + 1;
		t->arglen = n - nm - 1;
		if (nm == 8 && !strncasecmp(s, "redirect", 8))
			t->kind = MOD_REDIRECT;
		else if (nm == 3 && !strncasecmp(s, "exp", 3))
			t->kind = MOD_EXP;
		else {
			t->kind = MOD_OTHER;
			return spf_expand(0, 0, t->arg, t->arglen, 0, 0);
		}
		return domain_spec(t->arg, t->arglen);
	}
	switch (s[0]) {
	case '+': t->qual = SPF_PASS; i = 1; break;
	case '-': t->qual = SPF_FAIL; i = 1; break;
	case '~': t->qual = SPF_SOFTFAIL; i = 1; break;
	case '?': t->qual = SPF_NEUTRAL; i = 1; break;
	}
	for (k = 0; k <= M_EXISTS; k++)
		if (nm - i == strlen(mechs[k]) &&
		    !strncasecmp(s + i, mechs[k], nm - i))
			break;
	if (k > M_EXISTS)
		return -1;
	t->kind = k;
	e = n;
	if (k == M_A || k == M_MX) {
		if (cidr(s, &e, 128, &t->c6, 1) < 0 ||
		    cidr(s, &e, 32, &t->c4, 0) < 0)
			return -1;
	} else if (k == M_IP4 || k == M_IP6) {
		if (cidr(s, &e, k == M_IP4 ? 32 : 128, k == M_IP4 ? &t->c4 :
		    &t->c6, 0) < 0)
			return -1;
	}
	if (e < nm)
		return -1;
	if (e == nm) {	/* no argument */
		return k == M_INCLUDE || k == M_EXISTS || k == M_IP4 ||
		    k == M_IP6 ? -1 : 0;
	}
	if (s[nm] != ':' || k == M_ALL)
		return -1;
	t->arg = s + nm + 1;
	t->arglen = e - nm - 1;
	if (k == M_IP4 || k == M_IP6) {
		if (!t->arglen || t->arglen >= sizeof ip)
			return -1;
		memcpy(ip, t->arg, t->arglen);
		ip[t->arglen] = 0;
		return inet_pton(k == M_IP4 ? AF_INET : AF_INET6, ip,
		    t->ip) == 1 ? 0 : -1;
	}
	return domain_spec(t->arg, t->arglen);
}

/* next_term - the next space-separated term of rec from *pos */
static int
next_term(const char *rec, size_t n, size_t *pos, const char **t,
    size_t *tn)
{
	size_t i = *pos;

	while (i < n && rec[i] == ' ')
		i++;
	if (i >= n)
		return 0;
	*t = rec + i;
	while (i < n && rec[i] != ' ')
		i++;
	*tn = (size_t)(rec + i - *t);
	*pos = i;
	return 1;
}

int
spf_syntax(spf_ctx *c, const char *rec, size_t n)
{
	size_t pos = 0, tn;
	const char *t;
	struct term tm;
	int redirects = 0, exps = 0;

	if (n && rec[0] != ' ') {
		c->why = "no space after v=spf1";
		return -1;
	}
	while (next_term(rec, n, &pos, &t, &tn)) {
		if (term_parse(t, tn, &tm) < 0) {
			c->why = "syntax error in the SPF record";
			return -1;
		}
		if ((tm.kind == MOD_REDIRECT && ++redirects > 1) ||
		    (tm.kind == MOD_EXP && ++exps > 1)) {
			c->why = "more than one redirect or exp";
			return -1;
		}
	}
	return 0;
}

/* Evaluation. */

static int
addr_match(const spf_ctx *c, const dns_addr *a, size_t n, unsigned c4,
    unsigned c6)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned bits = a[i].af == AF_INET ? c4 : c6, full = bits / 8;

		if (a[i].af != c->ip.af)
			continue;
		if (memcmp(a[i].ip, c->ip.ip, full))
			continue;
		if (bits % 8) {
			unsigned char m = (unsigned char)(0xff << (8 - bits % 8));

			if ((a[i].ip[full] & m) != (c->ip.ip[full] & m))
				continue;
		}
		return 1;
	}
	return 0;
}

/* lookup_count - one more term that asks the DNS; -1 over the limit or
 * the time */
static int
lookup_count(spf_ctx *c)
{
	if (++c->lookups > SPF_LOOKUP_MAX) {
		c->why = "more than 10 DNS lookups";
		return -1;
	}
	if (now_ms() > c->deadline) {
		c->why = "SPF check took too long";
		return -2;
	}
	return 0;
}

/* void_count - a lookup that found nothing; -1 over the limit */
static int
void_count(spf_ctx *c)
{
	if (++c->voids > SPF_VOID_MAX) {
		c->why = "more than 2 void DNS lookups";
		return -1;
	}
	return 0;
}

/* domain_ok - a multi-label name, labels of 1..63 bytes, the last not
 * all digits (RFC 7208 4.3; an address literal is not a domain) */
static int
domain_ok(const char *d)
{
	size_t n = strlen(d), i, lab = 0, dots = 0;
	int alpha = 0;

	if (n && d[n - 1] == '.')
		n--;
	if (!n || n > SPF_DOMAIN_MAX || d[0] == '[')
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)d[i];

		if (ch == '.') {
			if (!lab)
				return 0;
			lab = 0;
			alpha = 0;
			dots++;
		} else if (ch <= 0x20 || ch >= 0x7f || ++lab > 63)
			return 0;
		else if (ch < '0' || ch > '9')
			alpha = 1;
	}
	return lab && dots && alpha;
}

/* target - the term's domain-spec expanded (or the current domain),
 * cut from the left to SPF_DOMAIN_MAX (RFC 7208 7.3) */
static int
target(spf_ctx *c, const char *domain, const struct term *t, str *out)
{
	size_t i = 0;

	out->len = 0;
	if (!t->arglen)
		return str_copys(out, domain) < 0 || str_0(out) < 0 ? -1 : 0;
	if (spf_expand(c, domain, t->arg, t->arglen, 0, out) < 0)
		return -1;
	while (out->len - i > SPF_DOMAIN_MAX) {
		const char *dot = memchr(out->s + i, '.', out->len - i);

		if (!dot)
			break;
		i = (size_t)(dot - out->s) + 1;
	}
	if (i) {
		memmove(out->s, out->s + i, out->len - i);
		out->len -= i;
		out->s[out->len] = 0;
	}
	return 0;
}

static int check_host(spf_ctx *, const char *domain);

/* mechanism - 1 the term matches, 0 not, or -SPF_TEMPERROR /
 * -SPF_PERMERROR */
static int
mechanism(spf_ctx *c, const char *domain, const struct term *t, str *tg)
{
	static dns_mx mx[DNS_MX_MAX];
	dns_addr a[DNS_ADDR_MAX];
	size_t n, i, k;
	int r, m;

	switch (t->kind) {
	case M_ALL:
		return 1;
	case M_IP4:
	case M_IP6: {
		dns_addr x;

		memset(&x, 0, sizeof x);
		x.af = t->kind == M_IP4 ? AF_INET : AF_INET6;
		memcpy(x.ip, t->ip, t->kind == M_IP4 ? 4 : 16);
		return addr_match(c, &x, 1, t->c4, t->c6);
	}
	}
	r = lookup_count(c);
	if (r < 0)
		return r == -1 ? -SPF_PERMERROR : -SPF_TEMPERROR;
	if (target(c, domain, t, tg) < 0) {
		c->why = "bad macro in the SPF record";
		return -SPF_PERMERROR;
	}
	switch (t->kind) {
	case M_INCLUDE:
		r = check_host(c, tg->s);
		if (r == SPF_PASS)
			return 1;
		if (r == SPF_TEMPERROR)
			return -SPF_TEMPERROR;
		if (r == SPF_NONE || r == SPF_PERMERROR) {
			if (r == SPF_NONE)
				c->why = "include of a domain without SPF";
			return -SPF_PERMERROR;
		}
		return 0;
	case M_A:
	case M_EXISTS:
		r = dns_addrtype(tg->s, t->kind == M_EXISTS ? AF_INET :
		    c->ip.af, a, DNS_ADDR_MAX, &n);
		break;
	case M_MX:
		r = dns_mxlist(tg->s, mx, DNS_MX_MAX, &n);
		break;
	default:	/* M_PTR */
		r = c->nodns ? DNS_NXDOMAIN : ptr_names(c, tg->s, 0, &m);
		if (r == DNS_OK)
			return m;
		if (r == DNS_TEMP)
			return 0;	/* 5.5: a DNS error does not match */
		break;
	}
	if (r == DNS_TEMP) {
		c->why = "DNS error";
		return -SPF_TEMPERROR;
	}
	if (r != DNS_OK)
		return void_count(c) < 0 ? -SPF_PERMERROR : 0;
	if (t->kind == M_EXISTS)
		return 1;
	if (t->kind == M_A)
		return addr_match(c, a, n, t->c4, t->c6);
	if (n > SPF_MX_MAX) {
		c->why = "more than 10 MX hosts";
		return -SPF_PERMERROR;
	}
	for (i = 0; i < n; i++) {
		if (!mx[i].name[0])
			continue;	/* null MX */
		if (now_ms() > c->deadline) {
			c->why = "SPF check took too long";
			return -SPF_TEMPERROR;
		}
		r = dns_addrtype(mx[i].name, c->ip.af, a, DNS_ADDR_MAX, &k);
		if (r == DNS_TEMP) {
			c->why = "DNS error";
			return -SPF_TEMPERROR;
		}
		if (r == DNS_OK && addr_match(c, a, k, t->c4, t->c6))
			return 1;
	}
	return 0;
}

/* evaluate - the terms of one record (syntax already checked) */
static int
evaluate(spf_ctx *c, const char *domain, const char *rec, size_t n)
{
	size_t pos = 0, tn;
	const char *t;
	struct term tm, redirect;
	int all = 0, haveredir = 0, r = SPF_NEUTRAL;
	str tg = STR_INIT;

	while (next_term(rec, n, &pos, &t, &tn)) {
		(void)term_parse(t, tn, &tm);
		if (tm.kind == MOD_REDIRECT) {
			redirect = tm;
			haveredir = 1;
			continue;
		}
		if (tm.kind >= MOD_REDIRECT)
			continue;
		if (tm.kind == M_ALL)
			all = 1;
		r = mechanism(c, domain, &tm, &tg);
		if (r < 0) {
			r = -r;
			goto done;
		}
		if (r == 1) {
			r = tm.qual;
			goto done;
		}
	}
	r = SPF_NEUTRAL;
	if (haveredir && !all) {
		int k = lookup_count(c);

		if (k < 0) {
			r = k == -1 ? SPF_PERMERROR : SPF_TEMPERROR;
			goto done;
		}
		if (target(c, domain, &redirect, &tg) < 0) {
			c->why = "bad macro in the SPF record";
			r = SPF_PERMERROR;
			goto done;
		}
		r = check_host(c, tg.s);
		if (r == SPF_NONE) {
			c->why = "redirect to a domain without SPF";
			r = SPF_PERMERROR;
		}
	}
done:
	str_free(&tg);
	return r;
}

static int
check_host(spf_ctx *c, const char *domain)
{
	str txt = STR_INIT;
	size_t n, i, off = 0, len = 0;
	const char *rec = 0;
	int r, found = 0;

	if (!domain_ok(domain))
		return SPF_NONE;
	if (c->nodns)
		return SPF_NONE;
	r = dns_txt(domain, &txt, &n);
	if (r == DNS_TEMP) {
		c->why = "DNS error looking up the SPF record";
		return SPF_TEMPERROR;
	}
	if (r != DNS_OK)
		return SPF_NONE;
	for (i = 0; i < n; i++) {
		const char *s = txt.s + off;
		size_t l = strlen(s);

		off += l + 1;
		if (l >= 6 && !strncasecmp(s, "v=spf1", 6) &&
		    (l == 6 || s[6] == ' ')) {
			found++;
			rec = s + 6;
			len = l - 6;
		}
	}
	if (!found)
		r = SPF_NONE;
	else if (found > 1) {
		c->why = "more than one SPF record";
		r = SPF_PERMERROR;
	} else if (spf_syntax(c, rec, len) < 0)
		r = SPF_PERMERROR;
	else
		r = evaluate(c, domain, rec, len);
	str_free(&txt);
	return r;
}

int
spf_check(spf_ctx *c, const char *domain)
{
	c->lookups = c->voids = 0;
	c->why = 0;
	c->deadline = now_ms() + SPF_TIME_MAX * 1000LL;
	return check_host(c, domain);
}
