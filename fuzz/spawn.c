/* fuzz/spawn - libFuzzer target for spawn_fields, the splitter of the
 * requests qpost-spawn reads from send and local -W reads from
 * qpost-spawn (NUL-ended fields, nothing after them).  Byte 0 of the
 * input is the most fields asked for (0..15), the rest the packet.  For
 * any bytes: no field starts past the packet, every field ends with a
 * NUL inside it, the fields follow one another with nothing between
 * them and cover exactly the bytes it says it used, and it stops only
 * at the limit or where no NUL ends the rest. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../spawn.h"

#define FIELDS_MAX 15

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *b, *f[FIELDS_MAX];
	size_t max, n, used = (size_t)-1, k, i, at = 0;

	if (!size)
		return 0;
	max = data[0] % (FIELDS_MAX + 1);
	n = size - 1;
	/* a buffer of exactly the packet: ASan sees any read past it */
	b = malloc(n ? n : 1);
	if (!b)
		return 0;
	if (n)
		memcpy(b, data + 1, n);
	k = spawn_fields(b, n, f, max, &used);
	if (k > max || used > n)
		abort();
	for (i = 0; i < k; i++) {
		size_t len;

		if (f[i] != b + at)
			abort();
		len = strnlen(f[i], n - at);
		if (len == n - at)
			abort();	/* no NUL inside the packet */
		at += len + 1;
	}
	if (used != at)
		abort();
	/* fewer than max fields: the rest holds no NUL */
	if (k < max && at < n && memchr(b + at, 0, n - at))
		abort();
	free(b);
	return 0;
}
