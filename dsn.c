/* dsn - enhanced mail system status codes (RFC 3463). */
#include <string.h>

#include "dsn.h"

size_t
dsn_scan(const char *s, size_t n)
{
	size_t i = 2, part, d;

	if (n < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') ||
	    s[1] != '.')
		return 0;
	for (part = 0; part < 2; part++) {
		for (d = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			if (++d > 3)
				return 0;
		if (!d)
			return 0;
		if (part == 0) {
			if (i >= n || s[i] != '.')
				return 0;
			i++;
		}
	}
	return i;
}

size_t
dsn_hash(const char *s, size_t n, char st[DSN_STATUS_MAX])
{
	size_t i, k;

	for (i = n; i-- > 0;) {
		if (s[i] != '(' || i + 2 >= n || s[i + 1] != '#')
			continue;
		k = dsn_scan(s + i + 2, n - i - 2);
		if (k && k < DSN_STATUS_MAX && i + 2 + k < n &&
		    s[i + 2 + k] == ')') {
			memcpy(st, s + i + 2, k);
			st[k] = 0;
			return k;
		}
	}
	return 0;
}
