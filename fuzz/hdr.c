/* fuzz/hdr - libFuzzer target for hdr_addrlist, hdr_isfield and
 * hdr_name: every reported address lies inside the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../hdr.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static size_t size;

static int
check(void *ctx, const struct hdr_addr *a)
{
	(void)ctx;
	if (a->localend > size || a->domend > size || !a->len ||
	    a->addr[a->len] != 0)
		abort();
	if (a->hasat && !memchr(a->addr, '@', a->len))
		abort();
	if (strlen(a->addr) > a->len)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	const char *s = (const char *)data;

	size = n;
	(void)hdr_isfield(s, n);
	(void)hdr_name(s, n, "to");
	(void)hdr_addrlist(s, n, check, 0);
	return 0;
}
