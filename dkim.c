/* dkim - DKIM signing and verifying (RFC 6376, RFC 8463); dkim.h says
 * what each function does, docs/dkim.md why it is built this way.
 *
 * The message is walked as remote puts it on the wire: a line ends at
 * LF, CRLF or a lone CR, and (DKIM_WIRE) a line over 998 octets is
 * broken by CRLF SPACE the way remote's line_put breaks it.  Every line
 * is a "piece": bytes in the message, maybe preceded by one inserted
 * SPACE. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "addr.h"
#include "b64.h"
#include "control.h"
#include "dkim.h"
#include "dns.h"
#include "err.h"
#include "hdr.h"

#define WIRE_MAX 998		/* remote's LINE_WIRE_MAX */
#define HASH_LEN 32		/* SHA-256 */
#define RSA_BITS_MIN 1024	/* RFC 8301: smaller keys are not valid */
#define KEY_RECORDS_MAX 4	/* TXT records tried for one key */
#define FOLD_AT 72		/* columns of the fields we write */

static const char hkey[] = "._domainkey.";

/* ---------------------------------------------------------- lines */

struct lines {
	const char *m;
	size_t len, pos;
	int wire;
	const char *rest;	/* the unsent rest of a broken line */
	size_t restn;
};

struct piece {
	const char *s;
	size_t n;
	int sp;			/* an inserted SPACE comes first */
};

/* line_next - the next piece, 1; 0 at the end of the message */
static int
line_next(struct lines *l, struct piece *p)
{
	size_t room = WIRE_MAX;

	if (l->rest) {
		p->sp = 1;
		room--;
	} else {
		const char *s, *lf, *cr;
		size_t left, n;

		if (l->pos >= l->len)
			return 0;
		s = l->m + l->pos;
		left = l->len - l->pos;
		lf = memchr(s, '\n', left);
		n = lf ? (size_t)(lf - s) : left;
		cr = memchr(s, '\r', n);
		if (cr) {
			n = (size_t)(cr - s);
			l->pos += n + 1 + (n + 1 < left && s[n + 1] == '\n');
		} else
			l->pos += n + (lf != 0);
		l->rest = s;
		l->restn = n;
		p->sp = 0;
		if (n && *s == '.')
			room--;	/* the dot of dot-stuffing */
	}
	p->s = l->rest;
	if (!l->wire || l->restn <= room) {
		p->n = l->restn;
		l->rest = 0;
	} else {
		p->n = room;
		l->rest += room;
		l->restn -= room;
	}
	return 1;
}

/* ---------------------------------------------------------- header */

struct field {
	size_t first, count;	/* pieces */
};

struct header {
	struct piece *p;
	size_t np, ap;
	struct field *f;
	size_t nf, af;
	struct lines body;	/* positioned at the body */
};

static int
grow(void *pp, size_t *a, size_t need, size_t size)
{
	void **v = pp;
	size_t na;
	void *nv;

	if (need <= *a)
		return 0;
	na = *a ? *a : 16;
	while (na < need) {
		if (na > SIZE_MAX / 2 / size)
			return -1;
		na *= 2;
	}
	nv = realloc(*v, na * size);
	if (!nv)
		return -1;
	*v = nv;
	*a = na;
	return 0;
}

static void
header_free(struct header *h)
{
	free(h->p);
	free(h->f);
	memset(h, 0, sizeof *h);
}

/* header_read - the header's pieces grouped into fields; h->body is
 * left at the first body line.  0, or -1 out of memory.  Fields past
 * DKIM_HDR_FIELDS_MAX are still read but not kept. */
static int
header_read(struct header *h, const char *m, size_t len, int wire)
{
	struct piece pc;

	memset(h, 0, sizeof *h);
	h->body.m = m;
	h->body.len = len;
	h->body.wire = wire;
	while (line_next(&h->body, &pc)) {
		int cont = pc.sp || (pc.n && (pc.s[0] == ' ' ||
		    pc.s[0] == '\t'));

		if (!pc.sp && !pc.n)
			break;		/* the empty line */
		if (cont && h->nf) {
			struct field *f = &h->f[h->nf - 1];

			if (f->first + f->count != h->np)
				continue;	/* a field not kept */
		} else if (h->nf >= DKIM_HDR_FIELDS_MAX)
			continue;
		if (grow(&h->p, &h->ap, h->np + 1, sizeof *h->p) < 0)
			return -1;
		h->p[h->np] = pc;
		if (cont && h->nf)
			h->f[h->nf - 1].count++;
		else {
			if (grow(&h->f, &h->af, h->nf + 1, sizeof *h->f) < 0)
				return -1;
			h->f[h->nf].first = h->np;
			h->f[h->nf].count = 1;
			h->nf++;
		}
		h->np++;
	}
	return 0;
}

/* field_flat - field i as on the wire (CRLF inside, none at the end) */
static int
field_flat(const struct header *h, size_t i, str *out)
{
	const struct field *f = &h->f[i];
	size_t k;

	out->len = 0;
	for (k = f->first; k < f->first + f->count; k++) {
		const struct piece *p = &h->p[k];

		if (k > f->first && str_put(out, "\r\n", 2) < 0)
			return -1;
		if (p->sp && str_putc(out, ' ') < 0)
			return -1;
		if (str_put(out, p->s, p->n) < 0)
			return -1;
	}
	return 0;
}

static int
iswsp(int c)
{
	return c == ' ' || c == '\t';
}

/* field_is - is field i named name (n bytes, any case)?  The name of a
 * field is in its first piece, up to the colon, white space before it
 * allowed. */
static int
field_is(const struct header *h, size_t i, const char *name, size_t n)
{
	const struct piece *p = &h->p[h->f[i].first];
	size_t k;

	if (p->sp || p->n <= n || strncasecmp(p->s, name, n))
		return 0;
	for (k = n; k < p->n && iswsp((unsigned char)p->s[k]); k++)
		;
	return k < p->n && p->s[k] == ':';
}

int
dkim_canon_header(str *out, const char *f, size_t n, int relaxed)
{
	size_t i, c;
	int space = 0, started = 0;

	if (!relaxed) {
		if (str_put(out, f, n) < 0 || str_put(out, "\r\n", 2) < 0)
			return -1;
		return 0;
	}
	c = n;
	for (i = 0; i < n; i++)
		if (f[i] == ':') {
			c = i;
			break;
		}
	i = c;
	while (i > 0 && iswsp((unsigned char)f[i - 1]))
		i--;
	if (str_ready(out, n + 3) < 0)
		return -1;
	for (size_t k = 0; k < i; k++)
		out->s[out->len++] = (char)tolower((unsigned char)f[k]);
	if (c < n) {
		out->s[out->len++] = ':';
		for (i = c + 1; i < n; i++) {
			int ch = (unsigned char)f[i];

			if (ch == '\r' || ch == '\n')
				continue;	/* unfold */
			if (iswsp(ch)) {
				space = 1;
				continue;
			}
			if (space && started)
				out->s[out->len++] = ' ';
			space = 0;
			started = 1;
			out->s[out->len++] = (char)ch;
		}
	}
	out->s[out->len++] = '\r';
	out->s[out->len++] = '\n';
	return 0;
}

/* ---------------------------------------------------------- body */

struct bodyhash {
	EVP_MD_CTX *md;
	size_t limit, done;	/* bytes hashed so far (counted even past
				 * the limit: the canonical length) */
	size_t empty;		/* empty lines held back */
	int relaxed;
};

static int
bh_put(struct bodyhash *b, const char *s, size_t n)
{
	size_t take = 0;

	if (b->done < b->limit)
		take = b->limit - b->done < n ? b->limit - b->done : n;
	if (take && !EVP_DigestUpdate(b->md, s, take))
		return -1;
	b->done += n;
	return 0;
}

/* bh_line - one body line; a relaxed line is built in a small buffer,
 * flushed as it fills */
static int
bh_line(struct bodyhash *b, const struct piece *p)
{
	char tmp[1024];
	size_t t = 0, i;
	int space, started = 0;

	if (!b->relaxed) {
		if (!p->sp && !p->n) {
			b->empty++;
			return 0;
		}
		for (; b->empty; b->empty--)
			if (bh_put(b, "\r\n", 2) < 0)
				return -1;
		if ((p->sp && bh_put(b, " ", 1) < 0) ||
		    bh_put(b, p->s, p->n) < 0 || bh_put(b, "\r\n", 2) < 0)
			return -1;
		return 0;
	}
	/* relaxed: runs of WSP become one SP, WSP at the end goes */
	space = p->sp;
	for (i = 0; i < p->n; i++) {
		int c = (unsigned char)p->s[i];

		if (iswsp(c)) {
			space = 1;
			continue;
		}
		if (!started) {
			for (; b->empty; b->empty--)
				if (bh_put(b, "\r\n", 2) < 0)
					return -1;
			started = 1;
		}
		if (t + 2 > sizeof tmp) {
			if (bh_put(b, tmp, t) < 0)
				return -1;
			t = 0;
		}
		if (space)
			tmp[t++] = ' ';
		space = 0;
		tmp[t++] = (char)c;
	}
	if (!started) {
		b->empty++;
		return 0;
	}
	if (bh_put(b, tmp, t) < 0 || bh_put(b, "\r\n", 2) < 0)
		return -1;
	return 0;
}

/* body_hash - hash the body from the line walker l onwards */
static int
body_hash(struct lines *l, int relaxed, size_t limit,
    unsigned char hash[HASH_LEN], size_t *total)
{
	struct bodyhash b;
	struct piece pc;
	unsigned int hl = 0;
	int r = -1;

	memset(&b, 0, sizeof b);
	b.relaxed = relaxed;
	b.limit = limit;
	b.md = EVP_MD_CTX_new();
	if (!b.md || !EVP_DigestInit_ex(b.md, EVP_sha256(), 0))
		goto out;
	while (line_next(l, &pc))
		if (bh_line(&b, &pc) < 0)
			goto out;
	/* simple: an empty body is one CRLF */
	if (!relaxed && !b.done && bh_put(&b, "\r\n", 2) < 0)
		goto out;
	if (!EVP_DigestFinal_ex(b.md, hash, &hl) || hl != HASH_LEN)
		goto out;
	*total = b.done;
	r = 0;
out:
	EVP_MD_CTX_free(b.md);
	return r;
}

int
dkim_bodyhash(const char *msg, size_t len, int flags, int relaxed,
    size_t limit, unsigned char hash[32], size_t *total)
{
	struct header h;
	int r;

	if (header_read(&h, msg, len, flags & DKIM_WIRE) < 0) {
		header_free(&h);
		return -1;
	}
	r = body_hash(&h.body, relaxed, limit, hash, total);
	header_free(&h);
	return r;
}

/* ---------------------------------------------------------- tag-lists */

static int
isfws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int
dkim_tags(const char *s, size_t n, struct dkim_tag *t, size_t max,
    size_t *nt)
{
	size_t i = 0, k;

	*nt = 0;
	for (;;) {
		size_t a, e;

		while (i < n && isfws((unsigned char)s[i]))
			i++;
		if (i >= n)
			return 0;	/* the end, maybe after a ';' */
		/* tag-name = ALPHA *(ALPHA / DIGIT / "_") */
		if (!isalpha((unsigned char)s[i]))
			return -1;
		a = i;
		while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '_'))
			i++;
		if (*nt >= max)
			return -1;
		t[*nt].name = s + a;
		t[*nt].namelen = i - a;
		while (i < n && isfws((unsigned char)s[i]))
			i++;
		if (i >= n || s[i] != '=')
			return -1;
		i++;
		while (i < n && isfws((unsigned char)s[i]))
			i++;
		/* tag-value: VALCHARs (0x21-0x3a, 0x3c-0x7e) and FWS
		 * between them */
		a = e = i;
		while (i < n && s[i] != ';') {
			int c = (unsigned char)s[i];

			if (!isfws(c)) {
				if (c < 0x21 || c > 0x7e)
					return -1;
				e = i + 1;
			}
			i++;
		}
		t[*nt].v = s + a;
		t[*nt].vlen = e - a;
		for (k = 0; k < *nt; k++)
			if (t[k].namelen == t[*nt].namelen &&
			    !memcmp(t[k].name, t[*nt].name, t[k].namelen))
				return -1;	/* a duplicate */
		(*nt)++;
		if (i >= n)
			return 0;
		i++;			/* the ';' */
	}
}

/* tag - the tag named name of t[0..nt), or 0 */
static const struct dkim_tag *
tag(const struct dkim_tag *t, size_t nt, const char *name)
{
	size_t k, n = strlen(name);

	for (k = 0; k < nt; k++)
		if (t[k].namelen == n && !memcmp(t[k].name, name, n))
			return &t[k];
	return 0;
}

static int
tag_is(const struct dkim_tag *t, const char *v)
{
	size_t n = strlen(v);

	return t->vlen == n && !strncasecmp(t->v, v, n);
}

/* nofws - the value without its folding white space, into out */
static int
nofws(str *out, const char *s, size_t n)
{
	size_t i;

	out->len = 0;
	if (str_ready(out, n + 1) < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (!isfws((unsigned char)s[i]))
			out->s[out->len++] = s[i];
	out->s[out->len] = 0;
	return 0;
}

/* tag_b64 - the base64 of a tag value, folding removed, decoded into out:
 * 0, -1 not base64, -2 out of memory */
static int
tag_b64(str *out, const struct dkim_tag *t)
{
	str x = STR_INIT;
	int r;

	if (nofws(&x, t->v, t->vlen) < 0)
		return -2;
	out->len = 0;
	r = x.len ? b64_decode(x.s, x.len, out) : 0;
	str_free(&x);
	return r;
}

/* copyname - a domain name or selector of a tag into d (DKIM_NAME_MAX),
 * "" unless it is only letters, digits, '-', '_' and dots */
static int
copyname(char d[DKIM_NAME_MAX], const struct dkim_tag *t)
{
	size_t i;

	d[0] = 0;
	if (!t || !t->vlen || t->vlen >= DKIM_NAME_MAX)
		return -1;
	for (i = 0; i < t->vlen; i++) {
		int c = (unsigned char)t->v[i];

		if (!isalnum(c) && c != '-' && c != '_' && c != '.')
			return -1;
	}
	memcpy(d, t->v, t->vlen);
	d[t->vlen] = 0;
	return 0;
}

/* num - a tag's decimal value (at most 12 digits: RFC 6376 3.5) */
static int
num(const struct dkim_tag *t, unsigned long long *v)
{
	size_t i;

	*v = 0;
	if (!t->vlen || t->vlen > 12)
		return -1;
	for (i = 0; i < t->vlen; i++) {
		if (!isdigit((unsigned char)t->v[i]))
			return -1;
		*v = *v * 10 + (unsigned)(t->v[i] - '0');
	}
	return 0;
}

/* inlist - does the colon-separated list l (white space around items
 * allowed) hold item? */
static int
inlist(const char *l, size_t n, const char *item)
{
	size_t i = 0, m = strlen(item);

	while (i <= n) {
		size_t a, e;

		while (i < n && isfws((unsigned char)l[i]))
			i++;
		a = i;
		while (i < n && l[i] != ':')
			i++;
		e = i;
		while (e > a && isfws((unsigned char)l[e - 1]))
			e--;
		if (e - a == m && !strncasecmp(l + a, item, m))
			return 1;
		i++;
	}
	return 0;
}

/* ---------------------------------------------------------- hashing */

/* hdr_select - the canonical form of the fields the list hl (n bytes)
 * names, each name taking the lowest field of that name not yet taken
 * (RFC 6376 5.4.2), appended to out; a name with no field left adds
 * nothing */
static int
hdr_select(const struct header *h, const char *hl, size_t n, int relaxed,
    str *out)
{
	unsigned char *used = calloc(h->nf ? h->nf : 1, 1);
	str flat = STR_INIT;
	size_t i = 0;
	int r = -1;

	if (!used)
		return -1;
	while (i <= n) {
		size_t a, e, k;

		while (i < n && isfws((unsigned char)hl[i]))
			i++;
		a = i;
		while (i < n && hl[i] != ':')
			i++;
		e = i++;
		while (e > a && isfws((unsigned char)hl[e - 1]))
			e--;
		if (e == a)
			continue;
		for (k = h->nf; k-- > 0;) {
			if (used[k] || !field_is(h, k, hl + a, e - a))
				continue;
			used[k] = 1;
			if (field_flat(h, k, &flat) < 0 ||
			    dkim_canon_header(out, flat.s, flat.len,
			    relaxed) < 0)
				goto out;
			break;
		}
	}
	r = 0;
out:
	free(used);
	str_free(&flat);
	return r;
}

/* sig_field - the signature field flat (wire form) with the value of
 * its b= tag (bv: into flat) removed, canonical, without the final
 * CRLF, appended to out */
static int
sig_field(str *out, const char *flat, size_t n, const char *bv,
    size_t bvlen, int relaxed)
{
	str x = STR_INIT;
	size_t a = (size_t)(bv - flat), e = a + bvlen;
	int r = -1;

	while (a > 0 && flat[a - 1] != '=')
		a--;
	while (e < n && flat[e] != ';')
		e++;
	if (str_put(&x, flat, a) < 0 || str_put(&x, flat + e, n - e) < 0 ||
	    dkim_canon_header(out, x.s, x.len, relaxed) < 0)
		goto out;
	out->len -= 2;		/* the CRLF */
	r = 0;
out:
	str_free(&x);
	return r;
}

/* ---------------------------------------------------------- verify */

const char *
dkim_status_name(int status)
{
	switch (status) {
	case DKIM_PASS:
		return "pass";
	case DKIM_FAIL:
		return "fail";
	case DKIM_NEUTRAL:
		return "neutral";
	case DKIM_TEMPERROR:
		return "temperror";
	default:
		return "permerror";
	}
}

static int
setr(struct dkim_result *r, int status, const char *why)
{
	r->status = status;
	r->why = why;
	return status;
}

/* subdomain - is a (n bytes) d, or a subdomain of it? */
static int
subdomain(const char *a, size_t n, const char *d)
{
	size_t m = strlen(d);

	if (n < m || strncasecmp(a + n - m, d, m))
		return 0;
	return n == m || a[n - m - 1] == '.';
}

/* getkey - the public key for r's s= and d=, checked against the
 * signature's algorithm (ed != 0: Ed25519); 0 with r's status set */
static EVP_PKEY *
getkey(struct dkim_result *r, int ed, const struct dkim_tag *auid,
    dkim_keyfn *fn, void *ctx)
{
	str name = STR_INIT, recs = STR_INIT, raw = STR_INIT;
	struct dkim_tag kt[DKIM_TAGS_MAX];
	const struct dkim_tag *t;
	EVP_PKEY *pk = 0;
	size_t nrec = 0, nt, k, pos = 0;
	int res;

	if (str_copys(&name, r->s) < 0 || str_puts(&name, hkey) < 0 ||
	    str_puts(&name, r->d) < 0 || str_0(&name) < 0) {
		setr(r, DKIM_TEMPERROR, "out of memory");
		goto out;
	}
	res = fn(ctx, name.s, &recs, &nrec);
	if (res == DNS_TEMP) {
		setr(r, DKIM_TEMPERROR, "key lookup failed");
		goto out;
	}
	if (res != DNS_OK || !nrec) {
		setr(r, DKIM_PERMERROR, "no key for signature");
		goto out;
	}
	setr(r, DKIM_PERMERROR, "key record not usable");
	for (k = 0; k < nrec && k < KEY_RECORDS_MAX && pos < recs.len; k++) {
		const char *rec = recs.s + pos;
		size_t rl = strnlen(rec, recs.len - pos);
		int rsa;

		pos += rl + 1;
		if (dkim_tags(rec, rl, kt, DKIM_TAGS_MAX, &nt) < 0)
			continue;
		/* v=, if there, first and DKIM1 */
		if ((t = tag(kt, nt, "v")) && (t != kt || !tag_is(t, "DKIM1")))
			continue;
		if ((t = tag(kt, nt, "h")) && !inlist(t->v, t->vlen, "sha256"))
			continue;
		if ((t = tag(kt, nt, "s")) && !inlist(t->v, t->vlen, "*") &&
		    !inlist(t->v, t->vlen, "email"))
			continue;
		t = tag(kt, nt, "k");
		rsa = !t || tag_is(t, "rsa");
		if (!rsa && !(t && tag_is(t, "ed25519")))
			continue;
		if (rsa == ed) {
			setr(r, DKIM_PERMERROR, "key type does not match a=");
			continue;
		}
		if ((t = tag(kt, nt, "t"))) {
			r->testing = inlist(t->v, t->vlen, "y");
			/* t=s: i= must be in d= itself */
			if (inlist(t->v, t->vlen, "s") && auid) {
				const char *at = memchr(auid->v, '@',
				    auid->vlen);
				size_t off = at ? (size_t)(at - auid->v) + 1 : 0;

				if (auid->vlen - off != strlen(r->d) ||
				    strncasecmp(auid->v + off, r->d,
				    strlen(r->d))) {
					setr(r, DKIM_PERMERROR, "key t=s and i= "
					    "not d=");
					continue;
				}
			}
		}
		if (!(t = tag(kt, nt, "p")))
			continue;
		if (!t->vlen) {
			setr(r, DKIM_PERMERROR, "key revoked");
			continue;
		}
		res = tag_b64(&raw, t);
		if (res == -2) {
			setr(r, DKIM_TEMPERROR, "out of memory");
			goto out;
		}
		if (res < 0)
			continue;
		if (ed) {
			if (raw.len != 32)
				continue;
			pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, 0,
			    (const unsigned char *)raw.s, raw.len);
		} else {
			const unsigned char *p =
			    (const unsigned char *)raw.s;

			pk = d2i_PUBKEY(0, &p, (long)raw.len);
			if (!pk) {	/* a bare RSAPublicKey (PKCS#1) */
				p = (const unsigned char *)raw.s;
				pk = d2i_PublicKey(EVP_PKEY_RSA, 0, &p,
				    (long)raw.len);
			}
			if (pk && (EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA ||
			    EVP_PKEY_get_bits(pk) < RSA_BITS_MIN)) {
				EVP_PKEY_free(pk);
				pk = 0;
				setr(r, DKIM_PERMERROR, "RSA key too short");
				continue;
			}
		}
		if (pk)
			break;
	}
out:
	str_free(&name);
	str_free(&recs);
	str_free(&raw);
	return pk;
}

/* sigcheck - does sig (n bytes) sign data with pk?  1 yes, 0 no */
static int
sigcheck(EVP_PKEY *pk, int ed, const str *data, const str *sig)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char h[HASH_LEN];
	unsigned int hl = 0;
	int ok = 0;

	if (!md)
		return 0;
	if (ed) {
		/* RFC 8463: PureEdDSA over the SHA-256 of the data */
		if (EVP_Digest(data->s, data->len, h, &hl, EVP_sha256(), 0) &&
		    EVP_DigestVerifyInit(md, 0, 0, 0, pk) == 1)
			ok = EVP_DigestVerify(md, (const unsigned char *)sig->s,
			    sig->len, h, hl) == 1;
	} else if (EVP_DigestVerifyInit(md, 0, EVP_sha256(), 0, pk) == 1)
		ok = EVP_DigestVerify(md, (const unsigned char *)sig->s,
		    sig->len, (const unsigned char *)data->s, data->len) == 1;
	EVP_MD_CTX_free(md);
	return ok;
}

/* The body hashes one message's signatures asked for: a message with
 * many signatures of the same canonicalisation hashes its body once. */
#define BH_CACHE 4
struct bhcache {
	struct {
		int relaxed;
		size_t limit, total;
		unsigned char h[HASH_LEN];
	} e[BH_CACHE];
	size_t n;
};

/* body_hash_cached - body_hash through the cache c */
static int
body_hash_cached(struct bhcache *c, const struct lines *l, int relaxed,
    size_t limit, unsigned char hash[HASH_LEN], size_t *total)
{
	struct lines body = *l;
	size_t k;

	for (k = 0; k < c->n; k++)
		if (c->e[k].relaxed == relaxed && c->e[k].limit == limit) {
			memcpy(hash, c->e[k].h, HASH_LEN);
			*total = c->e[k].total;
			return 0;
		}
	if (body_hash(&body, relaxed, limit, hash, total) < 0)
		return -1;
	if (c->n < BH_CACHE) {
		c->e[c->n].relaxed = relaxed;
		c->e[c->n].limit = limit;
		c->e[c->n].total = *total;
		memcpy(c->e[c->n].h, hash, HASH_LEN);
		c->n++;
	}
	return 0;
}

/* verify_one - the signature in field fi; r's status set */
static int
verify_one(const struct header *h, size_t fi, struct dkim_result *r,
    dkim_keyfn *fn, void *ctx, long long now, struct bhcache *bc)
{
	struct dkim_tag t[DKIM_TAGS_MAX];
	const struct dkim_tag *v, *a, *b, *bh, *c, *d, *hh, *s, *i, *l, *q,
	    *x, *ts;
	str flat = STR_INIT, want = STR_INIT, sig = STR_INIT,
	    data = STR_INIT;
	unsigned long long lv = 0, xv = 0, tv = 0;
	unsigned char got[HASH_LEN];
	size_t nt, total, k, colon;
	int hrel = 0, brel = 0, ed = 0, e;
	EVP_PKEY *pk = 0;

	memset(r, 0, sizeof *r);
	setr(r, DKIM_PERMERROR, "out of memory");
	if (field_flat(h, fi, &flat) < 0) {
		setr(r, DKIM_TEMPERROR, "out of memory");
		goto out;
	}
	colon = (size_t)((const char *)memchr(flat.s, ':', flat.len) -
	    flat.s) + 1;
	if (dkim_tags(flat.s + colon, flat.len - colon, t, DKIM_TAGS_MAX,
	    &nt) < 0) {
		setr(r, DKIM_PERMERROR, "signature syntax error");
		goto out;
	}
	v = tag(t, nt, "v");
	a = tag(t, nt, "a");
	b = tag(t, nt, "b");
	bh = tag(t, nt, "bh");
	c = tag(t, nt, "c");
	d = tag(t, nt, "d");
	hh = tag(t, nt, "h");
	s = tag(t, nt, "s");
	i = tag(t, nt, "i");
	l = tag(t, nt, "l");
	q = tag(t, nt, "q");
	x = tag(t, nt, "x");
	ts = tag(t, nt, "t");
	copyname(r->d, d);
	copyname(r->s, s);
	if (i && i->vlen < DKIM_NAME_MAX) {
		for (k = 0; k < i->vlen && i->v[k] > 0x20 && i->v[k] < 0x7f;
		    k++)
			;
		if (k == i->vlen) {
			memcpy(r->i, i->v, i->vlen);
			r->i[i->vlen] = 0;
		}
	}
	if (b) {
		for (k = 0, e = 0; k < b->vlen && e < DKIM_BPREFIX; k++)
			if (!isfws((unsigned char)b->v[k]))
				r->b[e++] = b->v[k];
		r->b[e] = 0;
	}
	if (a) {
		if (tag_is(a, "rsa-sha256"))
			strcpy(r->a, "rsa-sha256");
		else if (tag_is(a, "ed25519-sha256")) {
			strcpy(r->a, "ed25519-sha256");
			ed = 1;
		}
	}
	if (!v || !a || !b || !bh || !d || !hh || !s) {
		setr(r, DKIM_PERMERROR, "signature lacks a required tag");
		goto out;
	}
	if (!tag_is(v, "1")) {
		setr(r, DKIM_PERMERROR, "signature version not 1");
		goto out;
	}
	if (!r->a[0]) {
		setr(r, DKIM_PERMERROR, "signature algorithm not supported");
		goto out;
	}
	if (!r->d[0] || !r->s[0]) {
		setr(r, DKIM_PERMERROR, "bad d= or s=");
		goto out;
	}
	if (c) {
		const char *sl = memchr(c->v, '/', c->vlen);
		size_t hn = sl ? (size_t)(sl - c->v) : c->vlen;
		const char *bv = sl ? sl + 1 : 0;
		size_t bn = sl ? c->vlen - hn - 1 : 0;

		if (hn == 7 && !strncasecmp(c->v, "relaxed", 7))
			hrel = 1;
		else if (!(hn == 6 && !strncasecmp(c->v, "simple", 6))) {
			setr(r, DKIM_PERMERROR, "bad c=");
			goto out;
		}
		if (bv && bn == 7 && !strncasecmp(bv, "relaxed", 7))
			brel = 1;
		else if (bv && !(bn == 6 && !strncasecmp(bv, "simple", 6))) {
			setr(r, DKIM_PERMERROR, "bad c=");
			goto out;
		}
	}
	if (q && !inlist(q->v, q->vlen, "dns/txt")) {
		setr(r, DKIM_PERMERROR, "q= not dns/txt");
		goto out;
	}
	if (!inlist(hh->v, hh->vlen, "from")) {
		setr(r, DKIM_PERMERROR, "From not signed");
		goto out;
	}
	if (i) {
		const char *at = memchr(i->v, '@', i->vlen);
		size_t off = at ? (size_t)(at - i->v) + 1 : 0;

		if (!at || !subdomain(i->v + off, i->vlen - off, r->d)) {
			setr(r, DKIM_PERMERROR, "i= not within d=");
			goto out;
		}
	}
	if (l && num(l, &lv) < 0) {
		setr(r, DKIM_PERMERROR, "bad l=");
		goto out;
	}
	if (ts && num(ts, &tv) < 0) {
		setr(r, DKIM_PERMERROR, "bad t=");
		goto out;
	}
	if (x) {
		if (num(x, &xv) < 0 || (ts && xv < tv)) {
			setr(r, DKIM_PERMERROR, "bad x=");
			goto out;
		}
		if (now > 0 && (unsigned long long)now > xv) {
			setr(r, DKIM_PERMERROR, "signature expired");
			goto out;
		}
	}
	e = tag_b64(&want, bh);
	if (e == -2)
		goto out;
	if (e < 0 || want.len != HASH_LEN) {
		setr(r, DKIM_PERMERROR, "bad bh=");
		goto out;
	}
	e = tag_b64(&sig, b);
	if (e == -2)
		goto out;
	if (e < 0 || !sig.len) {
		setr(r, DKIM_PERMERROR, "bad b=");
		goto out;
	}
	if (body_hash_cached(bc, &h->body, brel, l ? (size_t)lv : (size_t)-1,
	    got, &total) < 0)
		goto out;
	if (l && lv > total) {
		setr(r, DKIM_FAIL, "l= longer than the body");
		goto out;
	}
	if (memcmp(got, want.s, HASH_LEN)) {
		setr(r, DKIM_FAIL, "body hash did not verify");
		goto out;
	}
	pk = getkey(r, ed, i, fn, ctx);
	if (!pk)
		goto out;
	if (hdr_select(h, hh->v, hh->vlen, hrel, &data) < 0 ||
	    sig_field(&data, flat.s, flat.len, b->v, b->vlen, hrel) < 0) {
		setr(r, DKIM_TEMPERROR, "out of memory");
		goto out;
	}
	if (sigcheck(pk, ed, &data, &sig))
		setr(r, DKIM_PASS, "");
	else
		setr(r, DKIM_FAIL, "signature did not verify");
out:
	EVP_PKEY_free(pk);
	str_free(&flat);
	str_free(&want);
	str_free(&sig);
	str_free(&data);
	return r->why && !strcmp(r->why, "out of memory") ? -1 : 0;
}

int
dkim_verify_with(const char *msg, size_t len, struct dkim_result *res,
    size_t max, size_t *n, dkim_keyfn *fn, void *ctx, long long now)
{
	struct header h;
	struct bhcache bc;
	size_t k;
	int r = 0;

	bc.n = 0;

	*n = 0;
	if (max > DKIM_SIG_MAX)
		max = DKIM_SIG_MAX;
	if (header_read(&h, msg, len, 0) < 0) {
		header_free(&h);
		return -1;
	}
	for (k = 0; k < h.nf && *n < max; k++) {
		if (!field_is(&h, k, "dkim-signature", 14))
			continue;
		if (verify_one(&h, k, &res[*n], fn, ctx, now, &bc) < 0)
			r = -1;
		(*n)++;
	}
	header_free(&h);
	return r;
}

static int
dnskey(void *ctx, const char *name, str *out, size_t *n)
{
	(void)ctx;
	return dns_txt(name, out, n);
}

int
dkim_verify(const char *msg, size_t len, struct dkim_result *res,
    size_t max, size_t *n)
{
	return dkim_verify_with(msg, len, res, max, n, dnskey, 0,
	    (long long)time(0));
}

/* ---------------------------------------------------------- sign */

struct dkim_signer {
	EVP_PKEY *pk;
	int ed;
	char d[DKIM_NAME_MAX];
	char s[DKIM_NAME_MAX];
};

struct dkim_signer *
dkim_signer_new(const char *domain, const char *selector, const char *pem,
    size_t n, const char **why)
{
	struct dkim_signer *g;
	struct dkim_tag t;
	BIO *bio;

	if (n > INT32_MAX) {
		*why = "key file too large";
		return 0;
	}
	g = calloc(1, sizeof *g);
	if (!g) {
		*why = "out of memory";
		return 0;
	}
	t.v = domain;
	t.vlen = strlen(domain);
	if (copyname(g->d, &t) < 0) {
		*why = "bad domain name";
		goto bad;
	}
	t.v = selector;
	t.vlen = strlen(selector);
	if (copyname(g->s, &t) < 0) {
		*why = "bad selector";
		goto bad;
	}
	bio = BIO_new_mem_buf(pem, (int)n);
	if (!bio) {
		*why = "out of memory";
		goto bad;
	}
	g->pk = PEM_read_bio_PrivateKey(bio, 0, 0, 0);
	BIO_free(bio);
	if (!g->pk) {
		*why = "not a PEM private key";
		goto bad;
	}
	switch (EVP_PKEY_get_base_id(g->pk)) {
	case EVP_PKEY_RSA:
		if (EVP_PKEY_get_bits(g->pk) < RSA_BITS_MIN) {
			*why = "RSA key shorter than 1024 bits";
			goto bad;
		}
		break;
	case EVP_PKEY_ED25519:
		g->ed = 1;
		break;
	default:
		*why = "key neither RSA nor Ed25519";
		goto bad;
	}
	return g;
bad:
	dkim_signer_free(g);
	return 0;
}

void
dkim_signer_free(struct dkim_signer *g)
{
	if (!g)
		return;
	EVP_PKEY_free(g->pk);
	free(g);
}

const char *
dkim_signer_alg(const struct dkim_signer *g)
{
	return g->ed ? "ed25519-sha256" : "rsa-sha256";
}

int
dkim_keyrecord(const struct dkim_signer *g, str *out)
{
	unsigned char raw[64], *der = 0;
	size_t rl = sizeof raw;
	int dl, r = -1;

	if (str_puts(out, g->ed ? "v=DKIM1; k=ed25519; p=" :
	    "v=DKIM1; k=rsa; p=") < 0)
		return -1;
	if (g->ed) {
		if (EVP_PKEY_get_raw_public_key(g->pk, raw, &rl) == 1)
			r = b64_encode((const char *)raw, rl, out);
		return r;
	}
	dl = i2d_PUBKEY(g->pk, &der);
	if (dl > 0)
		r = b64_encode((const char *)der, (size_t)dl, out);
	OPENSSL_free(der);
	return r;
}

/* fold - append item to the field being written in out, breaking the
 * line first ("\n\t") when it would pass FOLD_AT; *col is the column */
static int
fold(str *out, size_t *col, const char *item, size_t n)
{
	if (*col + n > FOLD_AT && *col > 1) {
		if (str_put(out, "\n\t", 2) < 0)
			return -1;
		*col = 1;
		if (n && *item == ' ') {	/* the fold is the blank */
			item++;
			n--;
		}
	}
	*col += n;
	return str_put(out, item, n);
}

static int
foldnum(str *out, size_t *col, const char *name, unsigned long long v)
{
	str x = STR_INIT;
	int r;

	r = str_puts(&x, name) < 0 || str_putu(&x, v) < 0 ||
	    str_puts(&x, ";") < 0 ? -1 : 0;
	if (!r)
		r = fold(out, col, x.s, x.len);
	str_free(&x);
	return r;
}

int
dkim_sign(const struct dkim_signer *g, const char *msg, size_t len,
    int flags, long long now, unsigned long expire, str *out)
{
	static const char names[] = DKIM_SIGN_HEADERS;
	struct header h;
	str f = STR_INIT, hl = STR_INIT, wire = STR_INIT, data = STR_INIT,
	    enc = STR_INIT;
	unsigned char bh[HASH_LEN], sig[512], dig[HASH_LEN];
	size_t total, col, k, start = out->len, siglen = sizeof sig;
	unsigned int dl = 0;
	EVP_MD_CTX *md = 0;
	int r = -1, hasfrom = 0;
	const char *p;

	if (header_read(&h, msg, len, flags & DKIM_WIRE) < 0)
		goto out;
	/* h=: each listed name once per field present, From once more */
	for (p = names; *p;) {
		const char *e = strchr(p, ':');
		size_t nl = e ? (size_t)(e - p) : strlen(p), cnt = 0;

		for (k = 0; k < h.nf; k++)
			cnt += field_is(&h, k, p, nl);
		if (nl == 4 && !memcmp(p, "from", 4)) {
			if (!cnt) {
				r = -2;
				goto out;
			}
			hasfrom = 1;
			cnt++;
		}
		for (; cnt; cnt--)
			if ((hl.len && str_putc(&hl, ':') < 0) ||
			    str_put(&hl, p, nl) < 0)
				goto out;
		p += nl + (e != 0);
	}
	if (!hasfrom) {
		r = -2;
		goto out;
	}
	if (body_hash(&h.body, 1, (size_t)-1, bh, &total) < 0 ||
	    b64_encode((const char *)bh, HASH_LEN, &enc) < 0)
		goto out;
	if (str_puts(&f, "DKIM-Signature: v=1; a=") < 0 ||
	    str_puts(&f, dkim_signer_alg(g)) < 0 ||
	    str_puts(&f, "; c=relaxed/relaxed;") < 0)
		goto out;
	col = f.len;
	if (fold(&f, &col, " d=", 3) < 0 || str_puts(&f, g->d) < 0 ||
	    str_putc(&f, ';') < 0)
		goto out;
	col += strlen(g->d) + 1;
	if (fold(&f, &col, " s=", 3) < 0 || str_puts(&f, g->s) < 0 ||
	    str_putc(&f, ';') < 0)
		goto out;
	col += strlen(g->s) + 1;
	if (foldnum(&f, &col, " t=", (unsigned long long)now) < 0 ||
	    (expire && foldnum(&f, &col, " x=",
	    (unsigned long long)now + expire) < 0))
		goto out;
	if (fold(&f, &col, " h=", 3) < 0)
		goto out;
	for (k = 0; k < hl.len;) {
		const char *e = memchr(hl.s + k, ':', hl.len - k);
		size_t nl = e ? (size_t)(e - hl.s) - k + 1 : hl.len - k;

		if (fold(&f, &col, hl.s + k, nl) < 0)
			goto out;
		k += nl;
	}
	if (str_putc(&f, ';') < 0 || str_puts(&f, "\n\tbh=") < 0 ||
	    str_put(&f, enc.s, enc.len) < 0 || str_puts(&f, ";\n\tb=") < 0)
		goto out;
	/* the field as hashed: CRLF line ends, b= empty */
	for (k = 0; k < f.len; k++)
		if ((f.s[k] == '\n' && str_putc(&wire, '\r') < 0) ||
		    str_putc(&wire, f.s[k]) < 0)
			goto out;
	if (hdr_select(&h, hl.s, hl.len, 1, &data) < 0 ||
	    dkim_canon_header(&data, wire.s, wire.len, 1) < 0)
		goto out;
	data.len -= 2;
	r = -3;
	md = EVP_MD_CTX_new();
	if (!md)
		goto out;
	if (g->ed) {
		if (!EVP_Digest(data.s, data.len, dig, &dl, EVP_sha256(), 0) ||
		    EVP_DigestSignInit(md, 0, 0, 0, g->pk) != 1 ||
		    EVP_DigestSign(md, sig, &siglen, dig, dl) != 1)
			goto out;
	} else if (EVP_DigestSignInit(md, 0, EVP_sha256(), 0, g->pk) != 1 ||
	    EVP_DigestSign(md, 0, &siglen, (const unsigned char *)data.s,
	    data.len) != 1 || siglen > sizeof sig ||
	    EVP_DigestSign(md, sig, &siglen, (const unsigned char *)data.s,
	    data.len) != 1)
		goto out;
	r = -1;
	enc.len = 0;
	if (b64_encode((const char *)sig, siglen, &enc) < 0)
		goto out;
	for (k = 0; k < enc.len; k += FOLD_AT - 8) {
		size_t m = enc.len - k < FOLD_AT - 8 ? enc.len - k :
		    FOLD_AT - 8;

		if ((k && str_puts(&f, "\n\t") < 0) ||
		    str_put(&f, enc.s + k, m) < 0)
			goto out;
	}
	if (str_putc(&f, '\n') < 0 || str_put(out, f.s, f.len) < 0)
		goto out;
	r = 0;
out:
	if (r < 0)
		out->len = start;
	EVP_MD_CTX_free(md);
	header_free(&h);
	str_free(&f);
	str_free(&hl);
	str_free(&wire);
	str_free(&data);
	str_free(&enc);
	return r;
}

/* ---------------------------------------------------------- control */

struct fromctx {
	char *d;
	int found;
};

static int
fromaddr(void *ctx, const struct hdr_addr *a)
{
	struct fromctx *fc = ctx;
	const char *at = memrchr(a->addr, '@', a->len);
	size_t n, k;

	if (!a->hasat || !at)
		return 1;		/* the first address decides */
	n = a->len - (size_t)(at + 1 - a->addr);
	if (n >= DKIM_NAME_MAX || !addr_domain_ok(at + 1, n) || at[1] == '[')
		return 1;
	for (k = 0; k < n; k++)
		fc->d[k] = (char)tolower((unsigned char)at[1 + k]);
	fc->d[n] = 0;
	fc->found = 1;
	return 1;
}

int
dkim_fromdomain(const char *msg, size_t len, char d[DKIM_NAME_MAX])
{
	struct header h;
	struct fromctx fc = { d, 0 };
	str flat = STR_INIT;
	size_t k;

	d[0] = 0;
	if (header_read(&h, msg, len, 0) < 0)
		goto out;
	for (k = 0; k < h.nf; k++)
		if (field_is(&h, k, "from", 4)) {
			const char *c;

			if (field_flat(&h, k, &flat) < 0)
				break;
			c = memchr(flat.s, ':', flat.len);
			(void)hdr_addrlist(c + 1,
			    flat.len - (size_t)(c + 1 - flat.s), fromaddr, &fc);
			break;
		}
out:
	header_free(&h);
	str_free(&flat);
	return fc.found ? 0 : -1;
}

/* selector_ok - a selector as a file name: letters, digits, '-', '_'
 * and dots between labels */
static int
selector_ok(const char *s)
{
	size_t n = strlen(s);

	return n && n < DKIM_NAME_MAX && addr_domain_ok(s, n);
}

/* keyfail - a configured key could not be used: logged; with
 * control/dkimdefer the message waits */
static int
keyfail(const char *path, const char *reason, const char **why)
{
	unsigned long defer = 0;

	(void)control_number("dkimdefer", &defer);
	err_warn("unable to use DKIM key control/", path, ": ", reason,
	    defer ? "; deferring the message (control/dkimdefer)" :
	    "; sending without that signature", (const char *)0);
	*why = "a DKIM key configured for the sender's domain is unusable";
	return defer ? -2 : 0;
}

int
dkim_sign_control(const char *msg, size_t len, int flags, str *out,
    const char **why)
{
	char dom[DKIM_NAME_MAX];
	str name = STR_INIT, list = STR_INIT, key = STR_INIT;
	const char *d, *sel, *kwhy;
	unsigned long expire = 0;
	size_t pos = 0;
	int r;

	if (dkim_fromdomain(msg, len, dom) < 0)
		return 0;
	/* the domain, else its closest parent with selectors */
	for (d = dom;;) {
		const char *dot = strchr(d, '.');

		name.len = 0;
		if (str_puts(&name, "dkim/") < 0 || str_puts(&name, d) < 0 ||
		    str_puts(&name, "/selectors") < 0 || str_0(&name) < 0)
			goto nomem;
		r = control_readlist(&list, name.s);
		if (r < 0) {
			r = keyfail(name.s, strerror(errno), why);
			goto out;
		}
		if (r > 0)
			break;
		if (!dot || !strchr(dot + 1, '.')) {
			r = 0;	/* no keys: mail goes out unsigned */
			goto out;
		}
		d = dot + 1;
	}
	(void)control_number("dkimexpire", &expire);
	r = 0;
	while ((sel = control_next(&list, &pos))) {
		static const char *const ext[] = { ".rsa", ".ed25519" };
		struct dkim_signer *g = 0;
		size_t k;
		int got = 0, e;

		if (!selector_ok(sel)) {
			if (keyfail(name.s, "a selector is not a DNS label",
			    why) < 0)
				r = -2;
			continue;
		}
		for (k = 0; k < 2 && !got; k++) {
			name.len = 0;
			if (str_puts(&name, "dkim/") < 0 ||
			    str_puts(&name, d) < 0 || str_putc(&name, '/') < 0 ||
			    str_puts(&name, sel) < 0 ||
			    str_puts(&name, ext[k]) < 0 || str_0(&name) < 0)
				goto nomem;
			e = control_readfile(&key, name.s);
			if (e == 0)
				continue;
			got = 1;
			if (e < 0) {
				if (keyfail(name.s, strerror(errno), why) < 0)
					r = -2;
				break;
			}
			g = dkim_signer_new(d, sel, key.s, key.len, &kwhy);
			OPENSSL_cleanse(key.s, key.len);
			if (!g) {
				if (keyfail(name.s, kwhy, why) < 0)
					r = -2;
				break;
			}
			e = dkim_sign(g, msg, len, flags, (long long)time(0),
			    expire, out);
			dkim_signer_free(g);
			if (e == -1)
				goto nomem;
			if (e < 0 && keyfail(name.s, "signing failed", why) < 0)
				r = -2;
		}
		if (!got) {
			name.len -= strlen(ext[1]);
			name.s[name.len] = 0;
			if (keyfail(name.s, "no .rsa or .ed25519 key file",
			    why) < 0)
				r = -2;
		}
	}
	goto out;
nomem:
	r = -1;
out:
	if (key.s)
		OPENSSL_cleanse(key.s, key.a);
	str_free(&name);
	str_free(&list);
	str_free(&key);
	return r;
}
