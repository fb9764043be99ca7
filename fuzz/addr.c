/* fuzz/addr - libFuzzer target for addr_path and addr_quote: any bytes
 * either fail to parse or give an address that quotes and parses back to
 * itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	str a = STR_INIT, q = STR_INIT, b = STR_INIT;
	ssize_t r = addr_path((const char *)data, size, &a);

	if (r >= 0) {
		if ((size_t)r > size || a.len > ADDR_MAX)
			abort();
		if (a.len && strchr(a.s, '@')) {
			if (addr_quote(&q, a.s) < 0)
				abort();
			if (addr_path(q.s, q.len, &b) != (ssize_t)q.len ||
			    b.len != a.len || memcmp(a.s, b.s, a.len))
				abort();
		}
	}
	str_free(&a);
	str_free(&q);
	str_free(&b);
	return 0;
}
