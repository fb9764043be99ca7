/* fuzz/dmarc - libFuzzer target for the DMARC record parser
 * (dmarc_parse) and the organizational-domain cut (dmarc_orgdomain over
 * libpsl): results within their ranges, the domain inside its buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../dmarc.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dmarc_rec r;
	char d[DMARC_DOMAIN_MAX + 1], org[DMARC_DOMAIN_MAX + 1];
	size_t n = size < DMARC_DOMAIN_MAX ? size : DMARC_DOMAIN_MAX;
	int k = dmarc_parse((const char *)data, size, &r);

	if (k < -1 || k > 1)
		abort();
	if (k == 1 && (r.p < DMARC_P_NONE || r.p > DMARC_P_REJECT ||
	    r.sp < DMARC_P_UNSET || r.sp > DMARC_P_REJECT || r.pct > 100 ||
	    (r.adkim != 'r' && r.adkim != 's') ||
	    (r.aspf != 'r' && r.aspf != 's')))
		abort();
	memcpy(d, data, n);
	d[n] = 0;
	dmarc_orgdomain(d, org);
	if (!memchr(org, 0, sizeof org) || strlen(org) > strlen(d))
		abort();
	(void)dmarc_aligned(d, "example.com", 0);
	return 0;
}
