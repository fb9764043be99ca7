/* fuzz/mtasts - libFuzzer target for the MTA-STS parsers (mtasts.h): a
 * policy as an HTTPS server sends it, TXT records as DNS gives them, a
 * cache file as the disk holds it.  No crash, no read outside the
 * input, and what a parser accepts keeps its promises: a known mode,
 * max_age within the year, mx patterns that are lower-case host names
 * (or "*." and one) and that mtasts_mx_match finds again, an id of
 * 1..32 letters and digits. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../mtasts.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct mtasts_policy p;
static char buf[MTASTS_POLICY_MAX + 2];

/* check_id - an id as mtasts_txt_parse and the cache promise it */
static void
check_id(const char *id)
{
	size_t n = strlen(id), i;

	if (!n || n > MTASTS_ID_MAX)
		abort();
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]))
			abort();
}

/* check_policy - the promises of an accepted policy */
static void
check_policy(void)
{
	char name[MTASTS_NAME_MAX + 2];
	size_t i, j;

	if (p.mode != MTASTS_NONE && p.mode != MTASTS_TESTING &&
	    p.mode != MTASTS_ENFORCE)
		abort();
	if (p.max_age > MTASTS_MAXAGE_MAX || p.nmx > MTASTS_MX_MAX ||
	    (p.mode != MTASTS_NONE && !p.nmx))
		abort();
	for (i = 0; i < p.nmx; i++) {
		const char *m = p.mx[i];
		size_t n = strnlen(m, MTASTS_NAME_MAX + 1);

		if (!n || n > MTASTS_NAME_MAX)
			abort();
		for (j = 0; j < n; j++)
			if (isupper((unsigned char)m[j]) ||
			    (m[j] == '*' && j))
				abort();
		/* the name a pattern stands for matches it, with a dot */
		memcpy(name, m, n + 1);
		if (name[0] == '*')
			name[0] = 'a';
		if (!mtasts_mx_match(&p, name))
			abort();
		name[n] = '.';
		name[n + 1] = 0;
		if (!mtasts_mx_match(&p, name))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why;
	char id[MTASTS_ID_MAX + 1];
	size_t n, i;

	if (size > MTASTS_POLICY_MAX)
		return 0;
	if (mtasts_policy_parse((const char *)data, size, &p, &why) == 0)
		check_policy();
	if (mtasts_cache_parse((const char *)data, size, &p) == 0) {
		check_id(p.id);
		check_policy();
	}
	/* as one TXT record (up to the first NUL) */
	memcpy(buf, data, size);
	buf[size] = 0;
	if (mtasts_txt_parse(buf, id, &why) == 0)
		check_id(id);
	/* as dns_txt's records: NUL-ended, n of them */
	for (i = n = 0; i <= size; i++)
		n += buf[i] == 0;
	if (mtasts_txt_pick(buf, size + 1, n, id, &why) == 0)
		check_id(id);
	/* whatever the policy, a random name must not crash the match */
	(void)mtasts_mx_match(&p, buf);
	return 0;
}
