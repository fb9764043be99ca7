/* fuzz/dkim - libFuzzer target for dkim.c's parsers of hostile input:
 * the tag-list parser (DKIM-Signature values and key records), header
 * canonicalisation, the body hash (plain and with remote's line
 * breaks), the From domain, and the whole verifier on the input as a
 * message whose key record is the input's last line.  Every tag lies
 * inside the input; canonical forms end in CRLF. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../dkim.h"
#include "../dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *in;
static size_t inlen;

/* keys - the key record: the input's last line (no NUL in it) */
static int
keys(void *ctx, const char *name, str *out, size_t *n)
{
	const char *nl = inlen ? memrchr(in, '\n', inlen) : 0;
	size_t off = nl ? (size_t)(nl - in) + 1 : 0;

	(void)ctx;
	(void)name;
	if (memchr(in + off, 0, inlen - off))
		return DNS_NODATA;
	if (str_put(out, in + off, inlen - off) < 0 || str_putc(out, 0) < 0)
		return DNS_TEMP;
	*n = 1;
	return DNS_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct dkim_tag t[DKIM_TAGS_MAX];
	struct dkim_result res[DKIM_SIG_MAX];
	const char *s = (const char *)data;
	unsigned char h[32];
	char d[DKIM_NAME_MAX];
	str c = STR_INIT;
	size_t nt, k, total;

	in = s;
	inlen = n;
	if (dkim_tags(s, n, t, DKIM_TAGS_MAX, &nt) == 0)
		for (k = 0; k < nt; k++)
			if (t[k].name < s || t[k].v < s ||
			    t[k].name + t[k].namelen > s + n ||
			    t[k].v + t[k].vlen > s + n || !t[k].namelen)
				abort();
	for (k = 0; k < 2; k++) {
		c.len = 0;
		if (dkim_canon_header(&c, s, n, (int)k) == 0 &&
		    (c.len < 2 || memcmp(c.s + c.len - 2, "\r\n", 2)))
			abort();
	}
	str_free(&c);
	(void)dkim_bodyhash(s, n, 0, 1, (size_t)-1, h, &total);
	(void)dkim_bodyhash(s, n, DKIM_WIRE, 0, 10, h, &total);
	if (dkim_fromdomain(s, n, d) == 0 && !*d)
		abort();
	if (dkim_verify_with(s, n, res, DKIM_SIG_MAX, &k, keys, 0, 0) == 0)
		for (size_t j = 0; j < k; j++)
			if (res[j].status == DKIM_PASS && !*res[j].d)
				abort();
	return 0;
}
