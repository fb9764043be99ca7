/* dmarc - RFC 7489 policy discovery, alignment and policy.
 *
 * The organizational domain comes from libpsl with the list Debian's
 * publicsuffix package keeps current (psl_latest picks the newer of
 * that file and the library's built-in copy).  It is loaded once per
 * process, on first use. */
#include <libpsl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dmarc.h"
#include "dns.h"
#include "num.h"
#include "str.h"

static psl_ctx_t *psl;
static int psl_tried;

void
dmarc_done(void)
{
	if (psl)
		psl_free(psl);
	psl = 0;
	psl_tried = 0;
}

static int
wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* trim - s[*b..*e) without white space at either end */
static void
trim(const char *s, size_t *b, size_t *e)
{
	while (*b < *e && wsp(s[*b]))
		++*b;
	while (*e > *b && wsp(s[*e - 1]))
		--*e;
}

static int
is(const char *s, size_t n, const char *w)
{
	return n == strlen(w) && !strncasecmp(s, w, n);
}

static int
policy(const char *s, size_t n)
{
	if (is(s, n, "none"))
		return DMARC_P_NONE;
	if (is(s, n, "quarantine"))
		return DMARC_P_QUARANTINE;
	if (is(s, n, "reject"))
		return DMARC_P_REJECT;
	return DMARC_P_UNSET;
}

int
dmarc_parse(const char *s, size_t n, struct dmarc_rec *r)
{
	size_t i = 0, first = 1;
	int rua = 0;

	r->p = r->sp = DMARC_P_UNSET;
	r->adkim = r->aspf = 'r';
	r->pct = 100;
	while (i <= n) {
		const char *semi = i < n ? memchr(s + i, ';', n - i) : 0;
		size_t e = semi ? (size_t)(semi - s) : n, b = i, eq, ve;

		i = e + 1;
		trim(s, &b, &e);
		if (b == e) {
			if (first)
				return 0;
			continue;
		}
		for (eq = b; eq < e && s[eq] != '='; eq++)
			;
		if (eq == e) {
			if (first)
				return 0;
			continue;	/* not a tag: ignored */
		}
		ve = eq;
		while (ve > b && wsp(s[ve - 1]))
			ve--;
		eq++;
		while (eq < e && wsp(s[eq]))
			eq++;
		if (first) {
			/* "v=DMARC1" first, the value exactly so */
			if (ve - b != 1 || s[b] != 'v' || e - eq != 6 ||
			    memcmp(s + eq, "DMARC1", 6))
				return 0;
			first = 0;
			continue;
		}
		if (is(s + b, ve - b, "p"))
			r->p = policy(s + eq, e - eq);
		else if (is(s + b, ve - b, "sp"))
			r->sp = policy(s + eq, e - eq);
		else if (is(s + b, ve - b, "adkim") || is(s + b, ve - b,
		    "aspf")) {
			int *a = (s[b] | 0x20) == 'a' && (s[b + 1] | 0x20) ==
			    'd' ? &r->adkim : &r->aspf;

			if (e - eq == 1 && ((s[eq] | 0x20) == 's' ||
			    (s[eq] | 0x20) == 'r'))
				*a = s[eq] | 0x20;
		} else if (is(s + b, ve - b, "pct")) {
			unsigned long long u;

			if (num_whole(s + eq, e - eq, 100, &u) == 0)
				r->pct = (unsigned)u;
		} else if (is(s + b, ve - b, "rua")) {
			/* a valid reporting URI: scheme ":" something */
			const char *c = memchr(s + eq, ':', e - eq);

			rua = c && c > s + eq && c + 1 < s + e;
		}
	}
	if (first)
		return 0;
	if (r->p == DMARC_P_UNSET) {
		if (!rua)
			return -1;
		r->p = DMARC_P_NONE;	/* RFC 7489 6.6.3 step 6 */
	}
	return 1;
}

void
dmarc_orgdomain(const char *d, char *out)
{
	char low[DMARC_DOMAIN_MAX + 1];
	const char *reg;
	size_t n = strlen(d), i;

	if (n && d[n - 1] == '.')
		n--;
	if (n > DMARC_DOMAIN_MAX)
		n = DMARC_DOMAIN_MAX;
	for (i = 0; i < n; i++)
		low[i] = (char)(d[i] >= 'A' && d[i] <= 'Z' ? d[i] | 0x20 : d[i]);
	low[n] = 0;
	if (!psl_tried) {
		psl_tried = 1;
		psl = psl_latest(0);
		if (!psl)
			psl = (psl_ctx_t *)(unsigned long)psl_builtin();
	}
	reg = psl ? psl_registrable_domain(psl, low) : 0;
	strcpy(out, reg ? reg : low);
}

int
dmarc_aligned(const char *a, const char *b, int strict)
{
	char oa[DMARC_DOMAIN_MAX + 1], ob[DMARC_DOMAIN_MAX + 1];
	size_t na = strlen(a), nb = strlen(b);

	if (na && a[na - 1] == '.')
		na--;
	if (nb && b[nb - 1] == '.')
		nb--;
	if (na == nb && !strncasecmp(a, b, na))
		return 1;
	if (strict)
		return 0;
	dmarc_orgdomain(a, oa);
	dmarc_orgdomain(b, ob);
	return !strcasecmp(oa, ob);
}

/* discover - the one DMARC record at _dmarc.domain: 1 found, 0 none,
 * or -DMARC_TEMPERROR / -DMARC_PERMERROR */
static int
discover(const char *domain, struct dmarc_rec *r, const char **why)
{
	str name = STR_INIT, txt = STR_INIT;
	size_t n, i, off = 0;
	int res, found = 0, bad = 0;

	if (str_copys(&name, "_dmarc.") < 0 || str_puts(&name, domain) < 0 ||
	    str_0(&name) < 0) {
		str_free(&name);
		*why = "out of memory";
		return -DMARC_TEMPERROR;
	}
	res = dns_txt(name.s, &txt, &n);
	str_free(&name);
	if (res == DNS_TEMP) {
		*why = "DNS error looking up the DMARC record";
		return -DMARC_TEMPERROR;
	}
	if (res != DNS_OK)
		return 0;
	for (i = 0; i < n; i++) {
		const char *s = txt.s + off;
		struct dmarc_rec x;
		int k;

		off += strlen(s) + 1;
		k = dmarc_parse(s, strlen(s), &x);
		if (k == 1) {
			*r = x;
			found++;
		} else if (k < 0)
			bad++;
	}
	str_free(&txt);
	if (found + bad > 1) {
		*why = "more than one DMARC record";
		return -DMARC_PERMERROR;
	}
	if (bad) {
		*why = "DMARC record without a valid p";
		return -DMARC_PERMERROR;
	}
	return found;
}

int
dmarc_check(const char *from, const char *spfdom,
    const char *const *dkimdoms, size_t ndkim, struct dmarc_out *o)
{
	struct dmarc_rec r;
	char org[DMARC_DOMAIN_MAX + 1];
	size_t i;
	int k, sub = 0, pass = 0;

	memset(o, 0, sizeof *o);
	if (strlen(from) > DMARC_DOMAIN_MAX || !strchr(from, '.')) {
		o->result = DMARC_NONE;
		return o->result;
	}
	strcpy(o->domain, from);
	k = discover(from, &r, &o->why);
	if (k == 0) {
		dmarc_orgdomain(from, org);
		if (strcasecmp(org, from)) {
			strcpy(o->domain, org);
			sub = 1;
			k = discover(org, &r, &o->why);
		}
	}
	if (k < 0) {
		o->result = -k;
		return o->result;
	}
	if (k == 0) {
		o->domain[0] = 0;
		o->result = DMARC_NONE;
		return o->result;
	}
	o->p = sub && r.sp != DMARC_P_UNSET ? r.sp : r.p;
	if (spfdom && dmarc_aligned(spfdom, from, r.aspf == 's'))
		pass = 1;
	for (i = 0; i < ndkim && !pass; i++)
		if (dmarc_aligned(dkimdoms[i], from, r.adkim == 's'))
			pass = 1;
	o->policy = o->p;
	if (pass) {
		o->result = DMARC_PASS;
		return o->result;
	}
	o->result = DMARC_FAIL;
	/* pct: the messages not sampled get the next milder policy */
	if (r.pct < 100 && arc4random_uniform(100) >= r.pct &&
	    o->policy > DMARC_P_NONE)
		o->policy--;
	return o->result;
}
