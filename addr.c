/* addr - RFC 5321 address parsing: a small state machine over bytes. */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "addr.h"

static int
is_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c && strchr("!#$%&'*+-/=?^_`{|}~", c) != 0;
}

static int
is_letdig(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

static int
literal_ok(const char *d, size_t n)
{
	char tmp[64];
	unsigned char bin[16];

	if (n < 3 || d[0] != '[' || d[n - 1] != ']' || n - 2 >= sizeof tmp)
		return 0;
	memcpy(tmp, d + 1, n - 2);
	tmp[n - 2] = 0;
	if (memchr(tmp, 0, n - 2))
		return 0;
	if (!strncasecmp(tmp, "IPv6:", 5))
		return inet_pton(AF_INET6, tmp + 5, bin) == 1;
	return inet_pton(AF_INET, tmp, bin) == 1;
}

int
addr_domain_ok(const char *d, size_t n)
{
	size_t i, label = 0;

	if (n && d[0] == '[')
		return literal_ok(d, n);
	if (!n || n > ADDR_DOMAIN_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)d[i];

		if (c == '.') {
			if (!label || d[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!is_letdig(c) && c != '-' && c != '_')
			return 0;
		if (!label && c == '-')
			return 0;
		if (++label > 63)
			return 0;
	}
	return label && d[n - 1] != '-';
}

/* local part: dot-string or quoted-string; appends the unquoted form */
static ssize_t
local_part(const char *s, size_t n, str *out)
{
	size_t i = 0;

	if (n && s[0] == '"') {
		for (i = 1; i < n; i++) {
			unsigned char c = (unsigned char)s[i];

			if (c == '"')
				return (i == 1) ? -1 : (ssize_t)(i + 1);
			if (c == '\\') {
				if (++i >= n)
					return -1;
				c = (unsigned char)s[i];
				if (c < 32 || c > 126)
					return -1;
			} else if (c < 32 || c > 126)
				return -1;
			if (str_putc(out, (char)c) < 0)
				return -1;
		}
		return -1;
	}
	for (;;) {
		size_t start = i;

		while (i < n && is_atext((unsigned char)s[i]))
			i++;
		if (i == start)
			return -1;
		if (i < n && s[i] == '.') {
			i++;
			continue;
		}
		break;
	}
	if (str_put(out, s, i) < 0)
		return -1;
	return (ssize_t)i;
}

ssize_t
addr_path(const char *s, size_t n, str *out)
{
	size_t i = 1, d;
	ssize_t r;

	out->len = 0;
	if (!n || s[0] != '<')
		return -1;
	if (n >= 2 && s[1] == '>')
		return str_0(out) < 0 ? -1 : 2;
	/* source route: @dom,@dom: ... -- parsed and dropped */
	if (i < n && s[i] == '@') {
		for (;;) {
			size_t start = ++i;

			while (i < n && s[i] != ',' && s[i] != ':')
				i++;
			if (i >= n || !addr_domain_ok(s + start, i - start))
				return -1;
			if (s[i] == ':') {
				i++;
				break;
			}
			if (++i >= n || s[i] != '@')
				return -1;
		}
	}
	r = local_part(s + i, n - i, out);
	if (r < 0)
		return -1;
	i += (size_t)r;
	if (i < n && s[i] == '@') {
		d = ++i;
		if (i < n && s[i] == '[') {
			while (i < n && s[i] != ']')
				i++;
			if (i < n)
				i++;
		} else
			while (i < n && s[i] != '>')
				i++;
		if (!addr_domain_ok(s + d, i - d))
			return -1;
		if (str_putc(out, '@') < 0 || str_put(out, s + d, i - d) < 0)
			return -1;
	} else if (memchr(out->s, '@', out->len))
		return -1;	/* "<\"a@b\">": no domain to split on */
	if (i >= n || s[i] != '>')
		return -1;
	if (out->len > ADDR_MAX || memchr(out->s, 0, out->len))
		return -1;
	if (str_0(out) < 0)
		return -1;
	return (ssize_t)(i + 1);
}

const char *
addr_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at ? at + 1 : 0;
}

static int
dot_string(const char *s, size_t n)
{
	size_t i;

	if (!n || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (s[i - 1] == '.')
				return 0;
		} else if (!is_atext((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

int
addr_quote(str *out, const char *addr)
{
	const char *at = strrchr(addr, '@');
	size_t ln = at ? (size_t)(at - addr) : strlen(addr);
	size_t i;

	if (str_putc(out, '<') < 0)
		return -1;
	if (!*addr)
		return str_putc(out, '>');
	if (dot_string(addr, ln)) {
		if (str_put(out, addr, ln) < 0)
			return -1;
	} else {
		if (str_putc(out, '"') < 0)
			return -1;
		for (i = 0; i < ln; i++) {
			if ((addr[i] == '"' || addr[i] == '\\') &&
			    str_putc(out, '\\') < 0)
				return -1;
			if (str_putc(out, addr[i]) < 0)
				return -1;
		}
		if (str_putc(out, '"') < 0)
			return -1;
	}
	if (at && str_puts(out, at) < 0)
		return -1;
	return str_putc(out, '>');
}

void
addr_lower(char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			s[i] = (char)(s[i] - 'A' + 'a');
}
