/* passwd - users/passwd lines and keys. */
#include <string.h>

#include "addr.h"
#include "passwd.h"

int
passwd_name(const char *s, size_t n)
{
	size_t i;

	if (!n || n > PASSWD_NAME_MAX)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c == 127 || c == ':')
			return -1;
	}
	return 0;
}

int
passwd_key(str *key, const char *name, size_t n)
{
	const char *at = memrchr(name, '@', n);

	if (str_copy(key, name, n) < 0)
		return -1;
	if (at)
		addr_lower(key->s + (at - name) + 1, n - (size_t)(at - name) - 1);
	return 0;
}

int
passwd_locked(const char *h, size_t n)
{
	return !n || h[0] == '*' || h[0] == '!';
}

int
passwd_next(const char *s, size_t n, size_t *pos, size_t *lineno,
    passwd_entry *e)
{
	while (*pos < n) {
		const char *l = s + *pos, *lf, *colon;
		size_t len, i;

		lf = memchr(l, '\n', n - *pos);
		len = lf ? (size_t)(lf - l) : n - *pos;
		*pos += len + (lf ? 1 : 0);
		++*lineno;
		e->line = *lineno;
		e->off = (size_t)(l - s);
		e->len = len;
		while (len && (l[len - 1] == '\r' || l[len - 1] == ' ' ||
		    l[len - 1] == '\t'))
			len--;
		if (!len || l[0] == '#')
			continue;
		colon = memchr(l, ':', len);
		if (!colon)
			return -1;
		e->name = l;
		e->namelen = (size_t)(colon - l);
		e->hash = colon + 1;
		e->hashlen = len - e->namelen - 1;
		if (passwd_name(e->name, e->namelen) < 0 ||
		    e->hashlen > PASSWD_HASH_MAX)
			return -1;
		for (i = 0; i < e->hashlen; i++) {
			unsigned char c = (unsigned char)e->hash[i];

			if (c <= ' ' || c == 127 || c == ':')
				return -1;
		}
		return 1;
	}
	return 0;
}
