/* envelope - parsing and building qmail-queue envelopes. */
#include <string.h>

#include "addr.h"
#include "envelope.h"

int
envelope_ctl(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 1;
	return 0;
}

int
envelope_check(const char *e, size_t n, size_t *rcpts)
{
	size_t i = 0, count = 0;
	int first = 1;

	for (;;) {
		const char *z;
		size_t len;

		if (i >= n)
			return ENV_SHORT;
		if (!e[i])
			break;
		if (e[i] != (first ? 'F' : 'T'))
			return ENV_FORMAT;
		z = memchr(e + i + 1, 0, n - i - 1);
		if (!z)
			return ENV_SHORT;
		len = (size_t)(z - (e + i + 1));
		if (len > ADDR_MAX)
			return ENV_TOOLONG;
		if (envelope_ctl(e + i + 1, len))
			return ENV_CTL;
		if (!first && !len)
			return ENV_FORMAT;
		if (!first && ++count > ENVELOPE_RCPT_MAX)
			return ENV_TOOMANY;
		first = 0;
		i += len + 2;
	}
	if (first || !count || i + 1 != n)
		return ENV_FORMAT;
	if (rcpts)
		*rcpts = count;
	return ENV_OK;
}

const char *
envelope_sender(const char *e)
{
	return e + 1;
}

const char *
envelope_next(const char *e, size_t n, size_t *pos)
{
	const char *a;

	if (!*pos)
		*pos = strlen(e) + 1;
	if (*pos >= n || !e[*pos])
		return 0;
	a = e + *pos + 1;
	*pos += strlen(a) + 2;
	return a;
}

int
envelope_from(str *x, const char *sender)
{
	if (str_putc(x, 'F') < 0 || str_puts(x, sender) < 0)
		return -1;
	return str_putc(x, 0);
}

int
envelope_to(str *x, const char *rcpt)
{
	if (str_putc(x, 'T') < 0 || str_puts(x, rcpt) < 0)
		return -1;
	return str_putc(x, 0);
}

int
envelope_end(str *x)
{
	return str_putc(x, 0);
}
