/* fuzz/spf - libFuzzer target for the SPF record parser (spf_syntax: the
 * whole term grammar, CIDR lengths, modifiers) and the macro expansion
 * (spf_expand, RFC 7208 7) with a fake client context that never asks
 * the DNS, and for dns_ptrparse (the ptr mechanism's answer walk).  The
 * first byte picks the client's family and the exp flag; an expansion
 * never outgrows its bound and is NUL-terminated; a string that expands
 * has a valid syntax, and the other way round. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../spf.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char names[4][DNS_NAME_MAX];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data + 1;
	size_t n = size ? size - 1 : 0, k;
	dns_addr ip;
	spf_ctx c;
	str out = STR_INIT;
	int exp, r, syn;

	if (!size)
		return 0;
	memset(&ip, 0, sizeof ip);
	if (data[0] & 1) {
		ip.af = AF_INET6;
		inet_pton(AF_INET6, "2001:db8::cb01", ip.ip);
	} else {
		ip.af = AF_INET;
		inet_pton(AF_INET, "192.0.2.3", ip.ip);
	}
	exp = (data[0] & 2) != 0;
	if (spf_init(&c, &ip, data[0] & 4 ? "" : "strong-bad@email.example.com",
	    "mx.example.org", "mx.example.net") < 0)
		abort();
	c.nodns = 1;
	(void)spf_syntax(&c, s, n);
	syn = spf_expand(0, 0, s, n, exp, 0);
	r = spf_expand(&c, "email.example.com", s, n, exp, &out);
	if (r == 0) {
		if (out.len > SPF_EXPAND_MAX + 1024 || out.s[out.len] != 0)
			abort();
	}
	/* only the size bound makes a valid string fail to expand */
	if (syn == 0 && r < 0 && out.len <= SPF_EXPAND_MAX)
		abort();
	if (syn < 0 && r == 0)
		abort();
	str_free(&out);
	spf_free(&c);
	if (dns_ptrparse(data, size, names, 4, &k) == DNS_OK) {
		if (!k || k > 4)
			abort();
		while (k--)
			if (!memchr(names[k], 0, DNS_NAME_MAX))
				abort();
	}
	return 0;
}
