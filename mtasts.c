/* mtasts - MTA-STS (RFC 8461): TXT record, policy fetch over HTTPS with
 * libcurl, the parsers, the per-domain cache in the home's mtasts/.
 *
 * Why libcurl: HTTPS with certificate verification, a bounded total
 * time, no redirects and no proxies is a few options there and a lot of
 * code anywhere else; the TLS underneath is the OpenSSL 3 that tlsd
 * uses.  Every DNS question still goes through dns.c: the address of
 * mta-sts.DOMAIN is handed to curl (CURLOPT_RESOLVE), so curl resolves
 * nothing itself.
 *
 * libcurl is loaded (dlopen) at the first fetch, not linked: remote runs
 * once per message and fetches a policy rarely (the cache), and linked
 * in, libcurl and the 25 libraries it needs (GnuTLS, Kerberos, LDAP,
 * ...) cost about 4 ms of CPU at every start of remote, more than the
 * whole SMTP dialogue with a peer on loopback (docs/performance.md).
 *
 * Cache file mtasts/DOMAIN (written tmp + fsync + rename):
 *   id: <the TXT id the policy was fetched for>
 *   fetched: <seconds since the epoch>
 *   <an empty line>
 *   <the policy, bytes as served>
 * The policy is parsed again on every read, by the same parser. */
#include <arpa/inet.h>
#define CURL_DISABLE_TYPECHECK	/* calls go through cu's pointers */
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "commit.h"
#include "control.h"
#include "dns.h"
#include "err.h"
#include "home.h"
#include "mtasts.h"
#include "num.h"
#include "str.h"

#define WHY_MAX 512		/* bytes of the why line */
#define WSP(c) ((c) == ' ' || (c) == '\t')
#define ALNUM(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') || \
    ((c) >= '0' && (c) <= '9'))
#define LOWER(c) ((c) >= 'A' && (c) <= 'Z' ? (c) - 'A' + 'a' : (c))

/* Two lines: whybuf for the reasons of the parts (cache, fetch),
 * linebuf for mtasts_get's answer, which quotes them. */
static char whybuf[WHY_MAX], linebuf[WHY_MAX];

const char *
mtasts_mode_name(int mode)
{
	return mode == MTASTS_ENFORCE ? "enforce" :
	    mode == MTASTS_TESTING ? "testing" : "none";
}

/* whyline - b = a1 a2 a3 a4 (any may be 0), cut to WHY_MAX - 1 bytes
 * (a cut line is fine in a log); returns b */
static const char *
whyline(char *b, const char *a1, const char *a2, const char *a3,
    const char *a4)
{
	const char *a[4] = { a1, a2, a3, a4 };
	size_t n = 0, i, l;

	for (i = 0; i < 4; i++) {
		if (!a[i])
			continue;
		l = strlen(a[i]);
		if (l > WHY_MAX - 1 - n)
			l = WHY_MAX - 1 - n;
		memmove(b + n, a[i], l);
		n += l;
	}
	b[n] = 0;
	return b;
}
#define setwhy(a, b, c, d) whyline(whybuf, a, b, c, d)
#define setline(a, b, c, d) whyline(linebuf, a, b, c, d)

/* hostname - s[0..n) is a host name (or, with wild, "*." and one):
 * labels of letters, digits, '-' and '_' of 1..63 characters, at most
 * MTASTS_NAME_MAX in all; the lower-case copy into out (NUL-ended) */
static int
hostname(const char *s, size_t n, int wild, char *out)
{
	size_t i, label = 0;

	if (n > MTASTS_NAME_MAX || !n)
		return -1;
	i = 0;
	if (wild && n > 2 && s[0] == '*' && s[1] == '.') {
		out[0] = '*';
		out[1] = '.';
		i = 2;
	}
	for (; i < n; i++) {
		char c = s[i];

		if (c == '.') {
			if (!label)
				return -1;
			label = 0;
		} else if (ALNUM(c) || c == '-' || c == '_') {
			if (++label > 63)
				return -1;
		} else
			return -1;
		out[i] = (char)LOWER(c);
	}
	if (!label)
		return -1;	/* empty, or a trailing dot */
	out[n] = 0;
	return 0;
}

int
mtasts_policy_parse(const char *s, size_t len, struct mtasts_policy *p,
    const char **why)
{
	size_t i = 0;
	int version = 0, mode = -1, age = 0;

	p->mode = MTASTS_NONE;
	p->max_age = 0;
	p->nmx = 0;
	while (i < len) {
		size_t e = i, k, ke, v, ve, j;

		while (e < len && s[e] != '\n')
			e++;
		ve = e;
		if (ve > i && s[ve - 1] == '\r')
			ve--;
		if (ve == i) {	/* a blank line: tolerated */
			i = e + 1;
			continue;
		}
		/* key: an sts-policy-ext-name, 1..32 characters */
		k = i;
		if (!ALNUM(s[k]))
			goto bad;
		for (ke = k + 1; ke < ve && (ALNUM(s[ke]) || s[ke] == '_' ||
		    s[ke] == '-' || s[ke] == '.'); ke++)
			;
		if (ke - k > 32 || ke >= ve || s[ke] != ':')
			goto bad;
		for (v = ke + 1; v < ve && WSP(s[v]); v++)
			;
		while (ve > v && WSP(s[ve - 1]))
			ve--;
		if (v == ve)
			goto bad;	/* every field has a value */
		for (j = v; j < ve; j++)	/* VCHAR, WSP, UTF-8 */
			if (((unsigned char)s[j] < 0x21 && !WSP(s[j])) ||
			    s[j] == 0x7f)
				goto bad;
#define KEY(name) (ke - k == sizeof name - 1 && \
    !memcmp(s + k, name, sizeof name - 1))
#define VAL(name) (ve - v == sizeof name - 1 && \
    !memcmp(s + v, name, sizeof name - 1))
		/* a field given twice: the first counts (RFC 8461 3.2) */
		if (KEY("version") && !version) {
			if (!VAL("STSv1"))
				goto bad;
			version = 1;
		} else if (KEY("mode") && mode < 0) {
			if (VAL("enforce"))
				mode = MTASTS_ENFORCE;
			else if (VAL("testing"))
				mode = MTASTS_TESTING;
			else if (VAL("none"))
				mode = MTASTS_NONE;
			else
				goto bad;
		} else if (KEY("max_age") && !age) {
			unsigned long long u;

			if (ve - v > 10 ||
			    num_whole(s + v, ve - v, 9999999999ULL, &u) < 0)
				goto bad;
			p->max_age = u > MTASTS_MAXAGE_MAX ?
			    MTASTS_MAXAGE_MAX : (unsigned long)u;
			age = 1;
		} else if (KEY("mx")) {
			if (p->nmx == MTASTS_MX_MAX) {
				*why = "malformed policy: too many mx lines";
				return -1;
			}
			if (hostname(s + v, ve - v, 1, p->mx[p->nmx]) < 0) {
				*why = "malformed policy: a bad mx pattern";
				return -1;
			}
			p->nmx++;
		}	/* else an extension, or a repeated field: ignored */
#undef KEY
#undef VAL
		i = e + 1;	/* past this line's LF */
	}
	if (!version || mode < 0 || !age) {
		*why = "malformed policy: version, mode or max_age missing";
		return -1;
	}
	if (mode != MTASTS_NONE && !p->nmx) {
		*why = "malformed policy: no mx pattern";
		return -1;
	}
	p->mode = mode;
	return 0;
bad:
	p->nmx = 0;
	*why = "malformed policy: a line is not a valid field";
	return -1;
}

int
mtasts_txt_parse(const char *rec, char *id, const char **why)
{
	const char *s = rec;
	int have = 0;

	*id = 0;
	if (strncmp(s, "v=STSv1", 7)) {
		*why = "not an STSv1 record";
		return -1;
	}
	s += 7;
	for (;;) {
		const char *k, *v;

		while (WSP(*s))
			s++;
		if (!*s)
			break;
		if (*s++ != ';')
			goto bad;
		while (WSP(*s))
			s++;
		if (!*s)
			break;	/* a trailing ';' */
		/* sts-ext-name "=" sts-ext-value, or "id=" 1*32 ALNUM */
		k = s;
		if (!ALNUM(*s))
			goto bad;
		while (ALNUM(*s) || *s == '_' || *s == '-' || *s == '.')
			s++;
		if (s - k > 32 || *s != '=')
			goto bad;
		v = ++s;
		while ((unsigned char)*s >= 0x21 && (unsigned char)*s <= 0x7e &&
		    *s != ';' && *s != '=')
			s++;
		if (s == v)
			goto bad;
		if (v - k == 3 && !memcmp(k, "id=", 3)) {
			const char *c;

			if (s - v > MTASTS_ID_MAX)
				goto bad;
			for (c = v; c < s; c++)
				if (!ALNUM(*c))
					goto bad;
			if (!have) {	/* the first counts */
				memcpy(id, v, (size_t)(s - v));
				id[s - v] = 0;
				have = 1;
			}
		}
	}
	if (!have) {
		*why = "STSv1 record without an id";
		return -1;
	}
	return 0;
bad:
	*id = 0;
	*why = "malformed STSv1 record";
	return -1;
}

int
mtasts_txt_pick(const char *recs, size_t len, size_t n, char *id,
    const char **why)
{
	const char *one = 0, *r = recs, *end = recs + len;
	size_t i, sts = 0;

	for (i = 0; i < n && r < end; i++) {
		const char *z = memchr(r, 0, (size_t)(end - r));

		if (!z)
			break;
		/* records not beginning "v=STSv1;" are not ours (3.1);
		 * "v=STSv1 ;" is the grammar's too */
		if (!strncmp(r, "v=STSv1", 7) && (r[7] == ';' || WSP(r[7]))) {
			sts++;
			one = r;
		}
		r = z + 1;
	}
	if (sts != 1) {
		*id = 0;
		*why = sts ? "more than one STSv1 TXT record" :
		    "no STSv1 TXT record";
		return -1;
	}
	return mtasts_txt_parse(one, id, why);
}

int
mtasts_mx_match(const struct mtasts_policy *p, const char *mx)
{
	size_t n = strlen(mx), i;

	if (n && mx[n - 1] == '.')
		n--;
	for (i = 0; i < p->nmx; i++) {
		const char *pat = p->mx[i];
		size_t pl = strlen(pat);

		if (pat[0] == '*' && pat[1] == '.') {
			/* one label, then ".rest": the pattern without '*' */
			const char *dot = memchr(mx, '.', n);

			if (dot && dot > mx && (size_t)(mx + n - dot) == pl - 1 &&
			    !strncasecmp(dot, pat + 1, pl - 1))
				return 1;
		} else if (pl == n && !strncasecmp(mx, pat, n))
			return 1;
	}
	return 0;
}

int
mtasts_cache_parse(const char *s, size_t len, struct mtasts_policy *p)
{
	const char *why;
	size_t i = 0;
	unsigned long long t;
	const char *c;

	p->id[0] = 0;
	p->fetched = 0;
	if (len < 4 || memcmp(s, "id: ", 4))
		return -1;
	for (i = 4; i < len && ALNUM(s[i]) && i - 4 < MTASTS_ID_MAX; i++)
		;
	if (i == 4 || i >= len || s[i] != '\n')
		return -1;
	memcpy(p->id, s + 4, i - 4);
	p->id[i - 4] = 0;
	i++;
	if (len - i < 9 || memcmp(s + i, "fetched: ", 9))
		return -1;
	i += 9;
	c = memchr(s + i, '\n', len - i);
	if (!c || num_whole(s + i, (size_t)(c - s) - i, (1ULL << 40), &t) < 0)
		return -1;
	p->fetched = (time_t)t;
	i = (size_t)(c - s) + 1;
	if (i >= len || s[i] != '\n')
		return -1;
	i++;
	if (len - i > MTASTS_POLICY_MAX)
		return -1;
	return mtasts_policy_parse(s + i, len - i, p, &why);
}

/* domain_name - the domain as a cache file name: lower case, no
 * trailing dot, a host name (so no '/', no "..", no leading '.') */
static int
domain_name(const char *domain, char *out)
{
	size_t n = strlen(domain);

	if (n && domain[n - 1] == '.')
		n--;
	if (hostname(domain, n, 0, out) < 0 || !strchr(out, '.'))
		return -1;
	return 0;
}

/* cache_path - home/mtasts/NAME, or with dot home/mtasts/.NAME.PID */
static void
cache_path(str *path, const char *name, int tmp)
{
	char num[NUM_LEN];

	if (home_path(path, "mtasts/") < 0)
		err_nomem();
	if ((tmp && str_putc(path, '.') < 0) || str_puts(path, name) < 0 ||
	    (tmp && (str_putc(path, '.') < 0 ||
	    str_puts(path, num_fmt(num, (unsigned long long)getpid())) < 0)) ||
	    str_0(path) < 0)
		err_nomem();
}

/* cache_read - 1 the cached policy of name in *p, 0 none or not
 * readable (*why says which when it is not simply absent) */
static int
cache_read(const char *name, struct mtasts_policy *p, const char **why)
{
	str path = STR_INIT, x = STR_INIT;
	int r;

	*why = 0;
	cache_path(&path, name, 0);
	r = control_readpath(&x, path.s, MTASTS_POLICY_MAX + 128);
	if (r < 0) {
		*why = setwhy("unable to read ", path.s, ": ", strerror(errno));
		r = 0;
	} else if (r > 0 && mtasts_cache_parse(x.s, x.len, p) < 0) {
		*why = setwhy(path.s, " is not a valid cache file", 0, 0);
		r = 0;
	}
	str_free(&path);
	str_free(&x);
	return r;
}

/* cache_write - name's policy text (body) fetched for id at t: 0, or
 * -1 with *why.  When root writes it (qpost-tool), the file becomes the
 * directory owner's, so that remote's account can read and replace it. */
static int
cache_write(const char *name, const char *id, time_t t, const str *body,
    const char **why)
{
	str tmp = STR_INIT, dst = STR_INIT, dir = STR_INIT, x = STR_INIT;
	char num[NUM_LEN];
	const char *step;
	struct stat st;
	int fd, r = -1;

	cache_path(&tmp, name, 1);
	cache_path(&dst, name, 0);
	if (home_path(&dir, "mtasts") < 0 || str_puts(&x, "id: ") < 0 ||
	    str_puts(&x, id) < 0 || str_puts(&x, "\nfetched: ") < 0 ||
	    str_puts(&x, num_fmt(num, (unsigned long long)t)) < 0 ||
	    str_puts(&x, "\n\n") < 0 || str_put(&x, body->s, body->len) < 0)
		err_nomem();
	fd = open(tmp.s, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0)
		goto out;
	if (geteuid() == 0 && stat(dir.s, &st) == 0 && st.st_uid != 0 &&
	    fchown(fd, st.st_uid, st.st_gid) < 0)
		goto fail;
	if (fd_writeall(fd, x.s, x.len, -1) < 0)
		goto fail;
	if (commit_file(fd, tmp.s, dst.s, dir.s, &step) == 0) {
		r = 0;
		goto out;
	}
	fd = -1;
fail:
	{
		int e = errno;

		if (fd >= 0)
			close(fd);
		unlink(tmp.s);
		errno = e;
	}
out:
	if (r < 0)
		*why = setwhy("unable to write the cache file ", dst.s, ": ",
		    strerror(errno));
	str_free(&tmp);
	str_free(&dst);
	str_free(&dir);
	str_free(&x);
	return r;
}

/* fetch state: the body, bounded while it arrives */
struct body {
	str *s;
	int toobig;
};

static size_t
body_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t n = size * nmemb;	/* size is 1 (curl's documentation) */

	if (n > MTASTS_POLICY_MAX || b->s->len + n > MTASTS_POLICY_MAX) {
		b->toobig = 1;
		return 0;	/* curl stops: CURLE_WRITE_ERROR */
	}
	if (str_put(b->s, ptr, n) < 0)
		err_nomem();
	return n;
}

/* resolve_list - "host:443:addr,addr" for CURLOPT_RESOLVE, through
 * dns.c: 0, or -1 with *why */
static int
resolve_list(const char *host, str *out, const char **why)
{
	dns_addr a[DNS_ADDR_MAX];
	char ip[INET6_ADDRSTRLEN];
	size_t n = 0, i;
	int r;

	r = dns_addrs(host, a, DNS_ADDR_MAX, &n);
	if (r != DNS_OK || !n) {
		*why = setwhy("no address for ", host, r == DNS_TEMP ?
		    ": DNS temporary failure" : r == DNS_NXDOMAIN ?
		    ": no such name" : ": no A or AAAA record", 0);
		return -1;
	}
	if (str_copys(out, host) < 0 || str_puts(out, ":443:") < 0)
		err_nomem();
	for (i = 0; i < n; i++) {
		if (!inet_ntop(a[i].af, a[i].ip, ip, sizeof ip))
			continue;
		if ((i && str_putc(out, ',') < 0) ||
		    (a[i].af == AF_INET6 && str_putc(out, '[') < 0) ||
		    str_puts(out, ip) < 0 ||
		    (a[i].af == AF_INET6 && str_putc(out, ']') < 0))
			err_nomem();
	}
	if (str_0(out) < 0)
		err_nomem();
	return 0;
}

/* cafile - control/tlscafile into *path (control_filename): 1 set,
 * 0 none (the system store), -1 with *why */
static int
cafile(str *path, const char **why)
{
	int r = control_filename(path, "tlscafile");

	if (r < 0)
		*why = setwhy("unable to read control/tlscafile: ",
		    strerror(errno), 0, 0);
	return r;
}

/* content_ok - a media type of text/plain, parameters allowed */
static int
content_ok(const char *ct)
{
	if (!ct || strncasecmp(ct, "text/plain", 10))
		return 0;
	ct += 10;
	while (WSP(*ct))
		ct++;
	return !*ct || *ct == ';';
}

/* cu - the libcurl functions fetch uses, from curl_load */
static struct {
	CURLcode (*global_init)(long);
	CURL *(*init)(void);
	CURLcode (*setopt)(CURL *, CURLoption, ...);
	CURLcode (*perform)(CURL *);
	CURLcode (*getinfo)(CURL *, CURLINFO, ...);
	void (*cleanup)(CURL *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	const char *(*strerror)(CURLcode);
} cu;

/* curl_load - dlopen libcurl (soname libcurl.so.4, Debian's libcurl4)
 * and initialise it, once: 0, or -1 with *why */
static int
curl_load(const char **why)
{
	static int loaded;
	void *h;

	if (loaded)
		return 0;
	h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		*why = setwhy("unable to load libcurl.so.4 for the MTA-STS "
		    "fetch: ", dlerror(), 0, 0);
		return -1;
	}
#define SYM(f, name) if (!(*(void **)&cu.f = dlsym(h, name))) goto bad
	SYM(global_init, "curl_global_init");
	SYM(init, "curl_easy_init");
	SYM(setopt, "curl_easy_setopt");
	SYM(perform, "curl_easy_perform");
	SYM(getinfo, "curl_easy_getinfo");
	SYM(cleanup, "curl_easy_cleanup");
	SYM(slist_append, "curl_slist_append");
	SYM(slist_free_all, "curl_slist_free_all");
	SYM(strerror, "curl_easy_strerror");
#undef SYM
	if (cu.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		*why = "unable to initialize libcurl";
		return -1;
	}
	loaded = 1;
	return 0;
bad:
	*why = setwhy("libcurl.so.4 lacks a function: ", dlerror(), 0, 0);
	return -1;
}

/* fetch - the policy of domain over HTTPS into body: 0, or -1 with
 * *why.  Bounded in time (timeoutmtasts) and size
 * (MTASTS_POLICY_MAX); no redirect, no proxy, HTTPS only. */
static int
fetch(const char *domain, str *body, const char **why)
{
	str host = STR_INIT, url = STR_INIT, res = STR_INIT, ca = STR_INIT;
	struct curl_slist *rl = 0;
	struct body b = { body, 0 };
	char err[CURL_ERROR_SIZE];
	unsigned long timeout;
	struct sigaction ign, old;
	CURL *c = 0;
	CURLcode cr;
	long code = 0;
	char *ct = 0;
	int r = -1, haveca;

	body->len = 0;
	if (str_copys(&host, "mta-sts.") < 0 || str_puts(&host, domain) < 0 ||
	    str_0(&host) < 0 || str_copys(&url, "https://") < 0 ||
	    str_puts(&url, host.s) < 0 ||
	    str_puts(&url, "/.well-known/mta-sts.txt") < 0 || str_0(&url) < 0)
		err_nomem();
	if (control_number("timeoutmtasts", &timeout) < 0) {
		*why = setwhy("unable to read control/timeoutmtasts: ",
		    strerror(errno), 0, 0);
		goto out;
	}
	haveca = cafile(&ca, why);
	if (haveca < 0 || resolve_list(host.s, &res, why) < 0)
		goto out;
	if (curl_load(why) < 0)
		goto out;
	rl = cu.slist_append(0, res.s);
	c = cu.init();
	if (!rl || !c)
		err_nomem();
	err[0] = 0;
	if (cu.setopt(c, CURLOPT_URL, url.s) ||
	    cu.setopt(c, CURLOPT_PROTOCOLS_STR, "https") ||
	    cu.setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https") ||
	    cu.setopt(c, CURLOPT_FOLLOWLOCATION, 0L) ||
	    cu.setopt(c, CURLOPT_RESOLVE, rl) ||
	    cu.setopt(c, CURLOPT_PROXY, "") ||
	    cu.setopt(c, CURLOPT_NOSIGNAL, 1L) ||
	    cu.setopt(c, CURLOPT_TIMEOUT, (long)timeout) ||
	    cu.setopt(c, CURLOPT_CONNECTTIMEOUT, (long)timeout) ||
	    cu.setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) ||
	    cu.setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) ||
	    (haveca && cu.setopt(c, CURLOPT_CAINFO, ca.s)) ||
	    cu.setopt(c, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)MTASTS_POLICY_MAX) ||
	    cu.setopt(c, CURLOPT_USERAGENT, "qpost-mtasts") ||
	    cu.setopt(c, CURLOPT_ERRORBUFFER, err) ||
	    cu.setopt(c, CURLOPT_WRITEFUNCTION, body_write) ||
	    cu.setopt(c, CURLOPT_WRITEDATA, &b)) {
		*why = "unable to set up libcurl";
		goto out;
	}
	/* NOSIGNAL: curl leaves signals alone, so a write to a closed
	 * TLS connection must not kill us */
	memset(&ign, 0, sizeof ign);
	ign.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &ign, &old);
	cr = cu.perform(c);
	sigaction(SIGPIPE, &old, 0);
	if (b.toobig || cr == CURLE_FILESIZE_EXCEEDED) {
		*why = setwhy(url.s, ": policy larger than 65536 bytes", 0, 0);
		goto out;
	}
	if (cr != CURLE_OK) {
		*why = setwhy(url.s, ": ", err[0] ? err :
		    cu.strerror(cr), 0);
		goto out;
	}
	cu.getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200) {
		char num[NUM_LEN];

		*why = setwhy(url.s, ": HTTP status ",
		    num_fmt(num, (unsigned long long)code),
		    code >= 300 && code < 400 ? " (redirects are not "
		    "followed, RFC 8461 3.3)" : "");
		goto out;
	}
	cu.getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
	if (!content_ok(ct)) {
		*why = setwhy(url.s, ": content type ", ct ? ct : "missing",
		    ", not text/plain");
		goto out;
	}
	r = 0;
out:
	if (c)
		cu.cleanup(c);
	if (rl)
		cu.slist_free_all(rl);
	str_free(&host);
	str_free(&url);
	str_free(&res);
	str_free(&ca);
	return r;
}

/* unexpired - the cached policy is still valid at now */
static int
unexpired(const struct mtasts_policy *p, time_t now)
{
	return p->fetched <= now && (unsigned long long)(now - p->fetched) <
	    p->max_age;
}

int
mtasts_get(const char *domain, struct mtasts_policy *p, const char **why)
{
	static struct mtasts_policy cached;
	char name[MTASTS_NAME_MAX + 1], id[MTASTS_ID_MAX + 1];
	char txtname[9 + MTASTS_NAME_MAX + 1];
	str recs = STR_INIT, body = STR_INIT;
	const char *cwhy, *twhy = 0, *fwhy;
	size_t n = 0;
	time_t now = time(0);
	int havecache, r;

	memset(p, 0, sizeof *p);
	p->mode = MTASTS_NONE;
	p->source = MTASTS_SRC_NONE;
	if (domain_name(domain, name) < 0) {
		*why = MTASTS_WHY_BADNAME;
		return MTASTS_NONE;
	}
	havecache = cache_read(name, &cached, &cwhy) &&
	    unexpired(&cached, now);
	memcpy(txtname, "_mta-sts.", 9);
	memcpy(txtname + 9, name, strlen(name) + 1);
	r = dns_txt(txtname, &recs, &n);
	if (r == DNS_OK && mtasts_txt_pick(recs.s, recs.len, n, id, &twhy) == 0) {
		if (havecache && !strcmp(cached.id, id)) {
			*p = cached;
			p->source = MTASTS_SRC_CACHE;
			*why = setline("cached policy, id ", id, 0, 0);
			goto out;
		}
		if (fetch(name, &body, &fwhy) == 0 &&
		    mtasts_policy_parse(body.s, body.len, p, &fwhy) == 0) {
			const char *ww = 0;

			memcpy(p->id, id, sizeof id);
			p->fetched = now;
			p->source = MTASTS_SRC_FETCHED;
			if (cache_write(name, id, now, &body, &ww) < 0)
				*why = setline("fetched policy, id ", id,
				    "; not cached: ", ww);
			else
				*why = setline("fetched policy, id ", id, 0, 0);
			goto out;
		}
		if (havecache) {
			*p = cached;
			p->source = MTASTS_SRC_STALE;
			*why = setline("cached policy, id ", cached.id,
			    "; fetch failed: ", fwhy);
			goto out;
		}
		memset(p, 0, sizeof *p);
		*why = setline("no policy: fetch failed: ", fwhy, 0, 0);
		goto out;
	}
	if (!twhy)
		twhy = r == DNS_TEMP ? "TXT lookup failed (DNS temporary "
		    "failure)" : "no _mta-sts TXT record";
	if (havecache) {
		*p = cached;
		p->source = MTASTS_SRC_STALE;
		*why = setline("cached policy, id ", cached.id, "; ", twhy);
	} else if (cwhy)
		*why = setline("no policy: ", twhy, "; ", cwhy);
	else
		*why = setline("no policy: ", twhy, 0, 0);
out:
	str_free(&recs);
	str_free(&body);
	return p->mode;
}
