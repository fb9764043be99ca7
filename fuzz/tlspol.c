/* fuzz/tlspol - libFuzzer target for control/tlsdestinations (tlspol.c):
 * the input, split at LF into NUL-ended items as control_readlist gives
 * them, is looked up for a few domains.  No crash, no read outside the
 * items, a known level, at most TLSPOL_FP_MAX digests and those only
 * for verify, and a malformed file is never a policy. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../tlspol.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const doms[] = { "example.com", "a.example.com",
		"x", "" };
	char *list = malloc(size + 1);
	size_t i;
	struct tlspol p;
	const char *bad;

	if (!list)
		return 0;
	memcpy(list, data, size);
	for (i = 0; i < size; i++)
		if (list[i] == '\n')
			list[i] = 0;
	list[size] = 0;
	for (i = 0; i < sizeof doms / sizeof doms[0]; i++) {
		int r;

		bad = 0;
		r = tlspol_find(list, size ? size + 1 : 0, doms[i], &p, &bad);
		if (r < 0) {
			if (!bad || bad < list || bad > list + size)
				abort();
			continue;
		}
		if (r > 1 || p.level > TLSPOL_DANE || p.nfp > TLSPOL_FP_MAX ||
		    (p.nfp && p.level != TLSPOL_VERIFY))
			abort();
		if (!strcmp(tlspol_name(p.level), "?"))
			abort();
	}
	free(list);
	return 0;
}
