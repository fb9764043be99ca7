/* fuzz/dovecot - libFuzzer target for dovecot_parse (a hostile or broken
 * auth server's lines) and dovecot_auth (the request we send): no crash,
 * no read or write outside the line, fields within bounds and inside the
 * line, numbers only for the types that carry one; a request that is
 * built decodes back to "\0user\0pass". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../b64.h"
#include "../dovecot.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	dovecot_reply r;
	char *s = malloc(size + 1), out[DOVECOT_AUTH_MAX];
	str dec = STR_INIT;
	const char *nul, *resp;
	size_t i, ul;
	ssize_t n;
	int t;

	if (!s)
		return 0;
	memcpy(s, data, size);
	t = dovecot_parse(&r, s, size);
	if (t < DOVECOT_BAD || t > DOVECOT_CONT || t != r.type)
		abort();
	if (t != DOVECOT_BAD) {
		if (r.n > DOVECOT_ARGS_MAX)
			abort();
		for (i = 0; i < r.n; i++)
			if (r.arg[i] < s || r.arg[i] + r.len[i] > s + size ||
			    r.arg[i][r.len[i]] != 0)
				abort();
		if (t == DOVECOT_OK || t == DOVECOT_FAIL)
			(void)dovecot_param(&r, "temp");
	}
	free(s);

	/* the request: data split at its first NUL into user and pass */
	nul = memchr(data, 0, size);
	if (!nul)
		return 0;
	ul = (size_t)(nul - (const char *)data);
	n = dovecot_auth(out, sizeof out, 1, "\tsecured", (const char *)data,
	    ul, nul + 1, size - ul - 1);
	if (n < 0)
		return 0;
	if ((size_t)n > sizeof out || out[n - 1] != '\n' ||
	    memchr(out, '\n', (size_t)n - 1) || memchr(out, 0, (size_t)n))
		abort();
	resp = memmem(out, (size_t)n, "\tresp=", 6);
	if (!resp)
		abort();
	resp += 6;
	if (b64_decode(resp, (size_t)(out + n - 1 - resp), &dec) < 0 ||
	    dec.len != size + 1 || dec.s[0] != 0 ||
	    memcmp(dec.s + 1, data, size))
		abort();
	str_free(&dec);
	return 0;
}
