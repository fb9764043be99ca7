/* b64 - base64 encoding and strict decoding. */
#include "b64.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
b64_decode(const char *s, size_t n, str *out)
{
	size_t i;

	if (n % 4)
		return -1;
	for (i = 0; i < n; i += 4) {
		int a = val(s[i]), b = val(s[i + 1]), c, d;
		int last = i + 4 == n;
		char o[3];
		size_t k = 3;

		if (a < 0 || b < 0)
			return -1;
		if (last && s[i + 2] == '=' && s[i + 3] == '=') {
			if (b & 15)
				return -1;	/* non-canonical */
			c = d = 0;
			k = 1;
		} else if (last && s[i + 3] == '=') {
			if ((c = val(s[i + 2])) < 0 || (c & 3))
				return -1;
			d = 0;
			k = 2;
		} else if ((c = val(s[i + 2])) < 0 || (d = val(s[i + 3])) < 0)
			return -1;
		o[0] = (char)(a << 2 | b >> 4);
		o[1] = (char)((b & 15) << 4 | c >> 2);
		o[2] = (char)((c & 3) << 6 | d);
		if (str_put(out, o, k) < 0)
			return -2;
	}
	return 0;
}

int
b64_encode(const char *s, size_t n, str *out)
{
	size_t i;

	for (i = 0; i < n; i += 3) {
		unsigned a = (unsigned char)s[i];
		unsigned b = i + 1 < n ? (unsigned char)s[i + 1] : 0;
		unsigned c = i + 2 < n ? (unsigned char)s[i + 2] : 0;
		char o[4];

		o[0] = alphabet[a >> 2];
		o[1] = alphabet[(a & 3) << 4 | b >> 4];
		o[2] = i + 1 < n ? alphabet[(b & 15) << 2 | c >> 6] : '=';
		o[3] = i + 2 < n ? alphabet[c & 63] : '=';
		if (str_put(out, o, 4) < 0)
			return -1;
	}
	return 0;
}
