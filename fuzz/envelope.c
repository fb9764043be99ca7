/* fuzz/envelope - libFuzzer target for envelope_check and the walk over a
 * checked envelope. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *e = (const char *)data;
	size_t n = 0, pos = 0, count = 0;
	const char *a;

	if (envelope_check(e, size, &n) != ENV_OK)
		return 0;
	(void)envelope_sender(e);
	while ((a = envelope_next(e, size, &pos)) != 0) {
		if (a < e || a >= e + size || !*a)
			abort();
		count++;
	}
	if (count != n)
		abort();
	return 0;
}
