/* fuzz/b64 - libFuzzer target for b64_decode (the AUTH responses): any
 * bytes either are refused or decode to bytes whose encoding is exactly
 * the input (the decoder is strict: canonical padding, no white space);
 * and every input encodes to something that decodes back to it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../b64.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	str d = STR_INIT, e = STR_INIT, back = STR_INIT;
	int r = b64_decode((const char *)data, size, &d);

	if (r == -2)
		abort();
	if (r == 0) {
		if (b64_encode(d.s, d.len, &e) < 0 || e.len != size ||
		    (size && memcmp(e.s, data, size)))
			abort();
	}
	e.len = 0;
	if (b64_encode((const char *)data, size, &e) < 0 ||
	    b64_decode(e.s, e.len, &back) != 0 || back.len != size ||
	    (size && memcmp(back.s, data, size)))
		abort();
	str_free(&d);
	str_free(&e);
	str_free(&back);
	return 0;
}
