/* num - decimal numbers (see num.h). */
#include <errno.h>

#include "num.h"

char *
num_fmt(char b[NUM_LEN], unsigned long long u)
{
	char *p = b + NUM_LEN - 1;

	*p = 0;
	do
		*--p = (char)('0' + u % 10);
	while (u /= 10);
	return p;
}

int
num_scan(const char *s, size_t n, size_t *i, unsigned long long max,
    unsigned long long *out)
{
	unsigned long long u = 0;
	size_t j = *i;

	if (j >= n || s[j] < '0' || s[j] > '9') {
		errno = EINVAL;
		return -1;
	}
	for (; j < n && s[j] >= '0' && s[j] <= '9'; j++) {
		unsigned d = (unsigned)(s[j] - '0');

		/* checked before the arithmetic, so nothing wraps */
		if (u > (max - d) / 10 || d > max) {
			errno = ERANGE;
			return -1;
		}
		u = u * 10 + d;
	}
	*i = j;
	*out = u;
	return 0;
}

int
num_whole(const char *s, size_t n, unsigned long long max,
    unsigned long long *out)
{
	size_t i = 0;

	if (num_scan(s, n, &i, max, out) < 0)
		return -1;
	if (i != n) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}
