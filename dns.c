/* dns - MX, address and TXT lookups for remote through glibc's resolver.
 *
 * Why glibc's resolver: it is already in every qpost process (no new
 * library to package, audit or keep patched), res_nquery is synchronous
 * (remote does one lookup chain per run), it speaks UDP with TCP fallback
 * on truncation, and ns_parse gives a bounds-checked walk over the
 * answer.  What it lacks, choosing the server per process, is a field in
 * struct __res_state after res_ninit. */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "control.h"
#include "dns.h"
#include "num.h"



static struct __res_state rs;
static unsigned char answer[DNS_ANSWER_MAX];
static int ad_last;		/* the AD bit of query()'s answer */
static int secure;		/* dns_secure() */

int
dns_ipscan(const char *s, dns_addr *a, unsigned *port)
{
	char host[64];
	const char *p = 0, *e;
	size_t n;
	unsigned long long u = 0;

	memset(a, 0, sizeof *a);
	if (*s == '[') {
		e = strchr(s, ']');
		if (!e)
			return -1;
		s++;
		if (!strncasecmp(s, "IPv6:", 5))
			s += 5;
		n = (size_t)(e - s);
		if (e[1] == ':')
			p = e + 2;
		else if (e[1])
			return -1;
	} else {
		e = strchr(s, ':');
		n = e ? (size_t)(e - s) : strlen(s);
		if (e)
			p = e + 1;
	}
	if (!n || n >= sizeof host)
		return -1;
	memcpy(host, s, n);
	host[n] = 0;
	if (inet_pton(AF_INET, host, a->ip) == 1)
		a->af = AF_INET;
	else if (inet_pton(AF_INET6, host, a->ip) == 1)
		a->af = AF_INET6;
	else
		return -1;
	if (p) {
		if (num_whole(p, strlen(p), 65535, &u) < 0 || !u)
			return -1;
		if (port)
			*port = (unsigned)u;
	}
	return 0;
}

/* set_server - make the resolver ask exactly one server. */
static int
set_server(const char *spec)
{
	dns_addr a;
	unsigned port = NS_DEFAULTPORT;

	if (dns_ipscan(spec, &a, &port) < 0)
		return -1;
	rs.nscount = 1;
	if (a.af == AF_INET) {
		memset(&rs.nsaddr_list[0], 0, sizeof rs.nsaddr_list[0]);
		rs.nsaddr_list[0].sin_family = AF_INET;
		rs.nsaddr_list[0].sin_port = htons((unsigned short)port);
		memcpy(&rs.nsaddr_list[0].sin_addr, a.ip, 4);
		return 0;
	}
	/* glibc keeps an IPv6 server in _u._ext.nsaddrs[n] (malloc'd, freed
	 * by res_nclose) and uses it when nsaddr_list[n].sin_family is 0. */
	{
		struct sockaddr_in6 *sa6 = rs._u._ext.nsaddrs[0];

		if (!sa6) {
			sa6 = malloc(sizeof *sa6);
			if (!sa6)
				return -1;
			rs._u._ext.nsaddrs[0] = sa6;
		}
		memset(sa6, 0, sizeof *sa6);
		sa6->sin6_family = AF_INET6;
		sa6->sin6_port = htons((unsigned short)port);
		memcpy(&sa6->sin6_addr, a.ip, 16);
		memset(&rs.nsaddr_list[0], 0, sizeof rs.nsaddr_list[0]);
	}
	return 0;
}

int
dns_init(const char **why)
{
	str ctl = STR_INIT;
	const char *spec = getenv("QPOST_DNS");
	int r;

	if (res_ninit(&rs) < 0) {
		*why = "unable to initialize the resolver";
		return -1;
	}
	rs.options &= ~(unsigned long)(RES_DNSRCH | RES_DEFNAMES);
	rs.options |= RES_USE_EDNS0 | RES_USE_DNSSEC | RES_TRUSTAD;
	if (!spec || !*spec) {
		r = control_readline(&ctl, "dnsserver");
		if (r < 0) {
			str_free(&ctl);
			*why = "unable to read control/dnsserver";
			return -1;
		}
		spec = r ? ctl.s : 0;
	}
	if (spec && set_server(spec) < 0) {
		str_free(&ctl);
		*why = "bad DNS server address (want ip or ip:port)";
		return -1;
	}
	str_free(&ctl);
	return 0;
}

/* query - ask one question; the answer's length, or -1 with *res
 * saying why there is none. */
static int
query(const char *name, int type, int *res)
{
	int n;

	ad_last = 0;
	memset(answer, 0, sizeof(HEADER));
	n = res_nquery(&rs, name, ns_c_in, type, answer, sizeof answer);
	if (n < 0) {
		/* a denial's header is in answer (res_nsend filled it) */
		switch (rs.res_h_errno) {
		case HOST_NOT_FOUND:
			*res = DNS_NXDOMAIN;
			ad_last = ((HEADER *)answer)->ad;
			break;
		case NO_DATA:
			*res = DNS_NODATA;
			ad_last = ((HEADER *)answer)->ad;
			break;
		default:	/* TRY_AGAIN, NO_RECOVERY: never permanent */
			*res = DNS_TEMP;
		}
		return -1;
	}
	if (n > (int)sizeof answer)	/* truncated beyond our buffer */
		n = (int)sizeof answer;
	ad_last = n >= (int)sizeof(HEADER) && ((HEADER *)answer)->ad;
	return n;
}

static void
mx_sort(dns_mx *mx, size_t n)
{
	size_t i, j, start;

	/* insertion sort by preference: n is at most DNS_MX_MAX */
	for (i = 1; i < n; i++) {
		dns_mx t = mx[i];

		for (j = i; j && mx[j - 1].pref > t.pref; j--)
			mx[j] = mx[j - 1];
		mx[j] = t;
	}
	/* shuffle each run of equal preference (Fisher-Yates) */
	for (start = 0; start < n; start = i) {
		for (i = start + 1; i < n && mx[i].pref == mx[start].pref; i++)
			;
		for (j = i - 1; j > start; j--) {
			size_t k = start + arc4random_uniform(
			    (unsigned)(j - start + 1));
			dns_mx t = mx[j];

			mx[j] = mx[k];
			mx[k] = t;
		}
	}
}

/* each_answer - the answer walk every lookup shares (hostile bytes:
 * fuzzed by fuzz/dns.c): for each record of type and class IN in the
 * answer section, while *n < max, one call of rec, which returns 1 (a
 * record kept: *n grows), 0 (skipped) or -1 (malformed, out of memory).
 * DNS_OK, or DNS_TEMP for a malformed answer or a -1.  Records of other
 * types (a CNAME on the way, an RRSIG) are passed over. */
typedef int rec_fn(void *ctx, ns_msg *msg, ns_rr *rr, size_t i);

static int
each_answer(const unsigned char *ans, size_t len, int type, size_t max,
    rec_fn *rec, void *ctx, size_t *n)
{
	ns_msg msg;
	ns_rr rr;
	int i, count, r;

	if (len > DNS_ANSWER_MAX || ns_initparse(ans, (int)len, &msg) < 0)
		return DNS_TEMP;
	count = ns_msg_count(msg, ns_s_an);
	for (i = 0; i < count && *n < max; i++) {
		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
			return DNS_TEMP;
		if ((int)ns_rr_type(rr) != type || ns_rr_class(rr) != ns_c_in)
			continue;
		r = rec(ctx, &msg, &rr, *n);
		if (r < 0)
			return DNS_TEMP;
		*n += (size_t)r;
	}
	return DNS_OK;
}

/* rec_name - expand the name at rd into out (DNS_NAME_MAX bytes) */
static int
rec_name(ns_msg *msg, const unsigned char *rd, char *out)
{
	return dn_expand(ns_msg_base(*msg), ns_msg_end(*msg), rd, out,
	    DNS_NAME_MAX) < 0 ? -1 : 0;
}

static int
rec_mx(void *ctx, ns_msg *msg, ns_rr *rr, size_t i)
{
	dns_mx *mx = (dns_mx *)ctx + i;
	const unsigned char *rd = ns_rr_rdata(*rr);

	if (ns_rr_rdlen(*rr) < 3 || rec_name(msg, rd + 2, mx->name) < 0)
		return -1;
	mx->pref = (unsigned)(rd[0] << 8 | rd[1]);
	if (!strcmp(mx->name, "."))
		mx->name[0] = 0;
	return 1;
}

int
dns_mxparse(const unsigned char *ans, size_t len, dns_mx *out, size_t max,
    size_t *n)
{
	int r;

	*n = 0;
	r = each_answer(ans, len, ns_t_mx, max, rec_mx, out, n);
	if (r != DNS_OK)
		return r;
	if (!*n)
		return DNS_NODATA;
	mx_sort(out, *n);
	return DNS_OK;
}

int
dns_mxlist(const char *domain, dns_mx *out, size_t max, size_t *n)
{
	int res, len;

	*n = 0;
	len = query(domain, ns_t_mx, &res);
	secure = ad_last;
	if (len < 0)
		return res;
	return dns_mxparse(answer, (size_t)len, out, max, n);
}

struct addr_ctx {
	dns_addr *out;
	int type;
};

static int
rec_addr(void *ctx, ns_msg *msg, ns_rr *rr, size_t i)
{
	struct addr_ctx *c = ctx;
	size_t want = c->type == ns_t_a ? 4 : 16;

	(void)msg;
	if (ns_rr_rdlen(*rr) != want)
		return 0;
	memset(&c->out[i], 0, sizeof c->out[i]);
	c->out[i].af = c->type == ns_t_a ? AF_INET : AF_INET6;
	memcpy(c->out[i].ip, ns_rr_rdata(*rr), want);
	return 1;
}


int
dns_addrparse(const unsigned char *ans, size_t len, int type, dns_addr *out,
    size_t max, size_t *n)
{
	struct addr_ctx c = { out, type };

	return each_answer(ans, len, type, max, rec_addr, &c, n);
}

static int
addr_query(const char *name, int type, dns_addr *out, size_t max, size_t *n)
{
	int res, len = query(name, type, &res);

	if (len < 0)
		return res;
	return dns_addrparse(answer, (size_t)len, type, out, max, n);
}

int
dns_addrs(const char *name, dns_addr *out, size_t max, size_t *n)
{
	int r6, r4;

	*n = 0;
	r6 = addr_query(name, ns_t_aaaa, out, max, n);
	secure = ad_last;
	if (r6 == DNS_NXDOMAIN)
		return DNS_NXDOMAIN;
	r4 = addr_query(name, ns_t_a, out, max, n);
	secure = secure && ad_last;
	if (*n)
		return DNS_OK;
	if (r6 == DNS_TEMP || r4 == DNS_TEMP)
		return DNS_TEMP;
	if (r4 == DNS_NXDOMAIN)
		return DNS_NXDOMAIN;
	return DNS_NODATA;
}

int
dns_addrtype(const char *name, int af, dns_addr *out, size_t max, size_t *n)
{
	int r;

	*n = 0;
	r = addr_query(name, af == AF_INET ? ns_t_a : ns_t_aaaa, out, max, n);
	return r == DNS_OK && !*n ? DNS_NODATA : r;
}

static int
rec_ptr(void *ctx, ns_msg *msg, ns_rr *rr, size_t i)
{
	char (*out)[DNS_NAME_MAX] = ctx;

	return rec_name(msg, ns_rr_rdata(*rr), out[i]) < 0 ? -1 : 1;
}


int
dns_ptrparse(const unsigned char *ans, size_t len, char (*out)[DNS_NAME_MAX],
    size_t max, size_t *n)
{
	int r;

	*n = 0;	/* a CNAME on the way (RFC 2317) is passed over */
	r = each_answer(ans, len, ns_t_ptr, max, rec_ptr, out, n);
	return r != DNS_OK ? r : *n ? DNS_OK : DNS_NODATA;
}

int
dns_ptr(const dns_addr *a, char (*out)[DNS_NAME_MAX], size_t max, size_t *n)
{
	static const char hex[] = "0123456789abcdef";
	char name[80], *p = name;
	int res, len, i;

	*n = 0;
	if (a->af == AF_INET) {
		for (i = 3; i >= 0; i--) {
			char b[NUM_LEN];

			p = stpcpy(p, num_fmt(b, a->ip[i]));
			*p++ = '.';
		}
		strcpy(p, "in-addr.arpa");
	} else {
		for (i = 15; i >= 0; i--) {
			*p++ = hex[a->ip[i] & 15];
			*p++ = '.';
			*p++ = hex[a->ip[i] >> 4];
			*p++ = '.';
		}
		strcpy(p, "ip6.arpa");
	}
	len = query(name, ns_t_ptr, &res);
	if (len < 0)
		return res;
	return dns_ptrparse(answer, (size_t)len, out, max, n);
}

static int
rec_txt(void *ctx, ns_msg *msg, ns_rr *rr, size_t i)
{
	str *out = ctx;
	const unsigned char *rd = ns_rr_rdata(*rr), *end = rd + ns_rr_rdlen(*rr);
	size_t start = out->len;

	(void)msg;
	(void)i;
	while (rd < end) {	/* <length><bytes> character-strings */
		size_t l = *rd++;

		if (l > (size_t)(end - rd))
			return -1;
		if (memchr(rd, 0, l)) {
			out->len = start;	/* skip this record */
			return 0;
		}
		if (str_put(out, (const char *)rd, l) < 0)
			return -1;
		rd += l;
	}
	return str_putc(out, 0) < 0 ? -1 : 1;
}

/* str_parse - an answer walk appending to out: out as it was, and *n 0,
 * on anything but DNS_OK; DNS_NODATA when no record was kept */
static int
str_parse(const unsigned char *ans, size_t len, int type, size_t max,
    rec_fn *rec, str *out, size_t *n)
{
	size_t keep = out->len;
	int r;

	*n = 0;
	r = each_answer(ans, len, type, max, rec, out, n);
	if (r == DNS_OK && *n)
		return DNS_OK;
	out->len = keep;
	*n = 0;
	return r == DNS_OK ? DNS_NODATA : r;
}


int
dns_txtparse(const unsigned char *ans, size_t len, str *out, size_t *n)
{
	return str_parse(ans, len, ns_t_txt, DNS_TXT_MAX, rec_txt, out, n);
}

/* str_lookup - one question whose records parse appends to out */
static int
str_lookup(const char *name, int type, int (*parse)(const unsigned char *,
    size_t, str *, size_t *), str *out, size_t *n)
{
	int res, len;

	*n = 0;
	len = query(name, type, &res);
	secure = ad_last;
	if (len < 0)
		return res;
	return parse(answer, (size_t)len, out, n);
}

int
dns_txt(const char *name, str *out, size_t *n)
{
	return str_lookup(name, ns_t_txt, dns_txtparse, out, n);
}

int
dns_secure(void)
{
	return secure;
}

static int
rec_tlsa(void *ctx, ns_msg *msg, ns_rr *rr, size_t i)
{
	str *out = ctx;
	const unsigned char *rd = ns_rr_rdata(*rr);
	size_t l = ns_rr_rdlen(*rr);
	char h[5];

	(void)msg;
	(void)i;
	if (l < 4)	/* no data: unusable (RFC 7672 2.2) */
		return 0;
	memcpy(h, rd, 3);
	h[3] = (char)((l - 3) >> 8);
	h[4] = (char)((l - 3) & 0xff);
	if (str_put(out, h, 5) < 0 ||
	    str_put(out, (const char *)rd + 3, l - 3) < 0)
		return -1;
	return 1;
}


int
dns_tlsaparse(const unsigned char *ans, size_t len, str *out, size_t *n)
{
	return str_parse(ans, len, 52, DNS_TLSA_MAX, rec_tlsa, out, n);
}

int
dns_tlsa(const char *name, str *out, size_t *n)
{
	return str_lookup(name, 52, dns_tlsaparse, out, n);	/* TLSA */
}
