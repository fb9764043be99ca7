/* str - growable byte strings with overflow-checked sizes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "str.h"

/* str_ready - make room for n more bytes; the size check comes before
 * any arithmetic that could wrap (the lesson of CVE-2005-1513). */
int
str_ready(str *x, size_t n)
{
	size_t want, na;
	char *ns;

	if (n > (size_t)-1 - x->len - 1) {
		errno = ENOMEM;
		return -1;
	}
	want = x->len + n + 1;
	if (want <= x->a)
		return 0;
	na = want;
	if (na <= ((size_t)-1 - 64) / 3 * 2)
		na = na + na / 2 + 64;
	ns = realloc(x->s, na);
	if (!ns) {
		errno = ENOMEM;
		return -1;
	}
	x->s = ns;
	x->a = na;
	return 0;
}

int
str_put(str *x, const char *p, size_t n)
{
	if (str_ready(x, n) < 0)
		return -1;
	if (n)
		memcpy(x->s + x->len, p, n);
	x->len += n;
	return 0;
}

int
str_puts(str *x, const char *p)
{
	return str_put(x, p, strlen(p));
}

int
str_putc(str *x, char c)
{
	return str_put(x, &c, 1);
}

int
str_putu(str *x, unsigned long long u)
{
	char tmp[24];
	size_t i = sizeof tmp;

	do {
		tmp[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	return str_put(x, tmp + i, sizeof tmp - i);
}

int
str_copy(str *x, const char *p, size_t n)
{
	x->len = 0;
	return str_put(x, p, n);
}

int
str_copys(str *x, const char *p)
{
	return str_copy(x, p, strlen(p));
}

int
str_0(str *x)
{
	if (str_ready(x, 0) < 0)
		return -1;
	x->s[x->len] = 0;
	return 0;
}

void
str_free(str *x)
{
	free(x->s);
	x->s = 0;
	x->len = x->a = 0;
}

ssize_t
str_chr(const str *x, size_t from, char c)
{
	const char *p;

	if (from >= x->len)
		return -1;
	p = memchr(x->s + from, c, x->len - from);
	return p ? (ssize_t)(p - x->s) : -1;
}

int
str_scanu(const char *s, size_t n, size_t *i, unsigned long long *out)
{
	unsigned long long u = 0;
	size_t j = *i;

	if (j >= n || s[j] < '0' || s[j] > '9')
		return -1;
	for (; j < n && s[j] >= '0' && s[j] <= '9'; j++) {
		unsigned d = (unsigned)(s[j] - '0');

		if (u > (~0ULL - d) / 10)
			return -1;
		u = u * 10 + d;
	}
	*i = j;
	*out = u;
	return 0;
}
