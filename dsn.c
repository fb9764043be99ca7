/* dsn - enhanced mail system status codes (RFC 3463) and the reason
 * record of a delivery (dsn.h). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "dsn.h"
#include "num.h"
#include "str.h"

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

char *
dsn_clean(const char *s, size_t n)
{
	char *r;
	size_t i, k = 0;

	while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r' ||
	    s[n - 1] == '\t'))
		n--;
	while (n && (*s == ' ' || *s == '\n'))
		s++, n--;
	if (n > DSN_REASON_MAX)
		n = DSN_REASON_MAX;
	r = malloc(n + 1);
	if (!r)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		r[k++] = (c < 32 || c >= 127) ? ' ' : (char)c;
	}
	r[k] = 0;
	return r;
}

/* dsn_put - bytes into x, each unsafe one (control, 8-bit, and blank
 * where blank would end a field) as '?'; -1 on ENOMEM */
static int
dsn_put(str *x, const char *s, size_t n, int noblank)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 32 || c >= 127 || (noblank && c == ' '))
			c = '?';
		if (str_putc(x, (char)c) < 0)
			return -1;
	}
	return 0;
}

char *
dsn_encode(const struct dsn *d, char cls)
{
	str x = STR_INIT;
	size_t i;
	char *r = 0;

	if (str_putc(&x, '#') < 0 || str_putc(&x, cls) < 0 ||
	    str_puts(&x, d->status[0] ? d->status + 1 : ".0.0") < 0 ||
	    str_putc(&x, ' ') < 0)
		goto out;
	if (d->mtalen && d->diaglen) {
		size_t ml = d->mtalen < DSN_MTA_MAX ? d->mtalen : DSN_MTA_MAX;
		size_t dl = d->diaglen < DSN_DIAG_MAX ? d->diaglen :
		    DSN_DIAG_MAX;
		char b[NUM_LEN];

		if (str_putc(&x, '@') < 0 || dsn_put(&x, d->mta, ml, 1) < 0 ||
		    str_puts(&x, " =") < 0 || str_puts(&x, num_fmt(b, dl)) < 0 ||
		    str_putc(&x, ' ') < 0 || dsn_put(&x, d->diag, dl, 0) < 0 ||
		    str_putc(&x, ' ') < 0)
			goto out;
	}
	for (i = 0; i < d->textlen && (d->text[i] == ' ' ||
	    d->text[i] == '\t' || d->text[i] == '\n'); i++)
		;
	if (i < d->textlen) {
		/* a text of its own starting with '@' must not read as
		 * the mta field */
		if (!(d->mtalen && d->diaglen) && d->text[0] == '@' &&
		    str_putc(&x, ' ') < 0)
			goto out;
		if (dsn_put(&x, d->text, d->textlen, 0) < 0)
			goto out;
	}
	else if (str_puts(&x, "no reason given") < 0)
		goto out;
	r = dsn_clean(x.s, x.len);	/* at most DSN_REASON_MAX */
out:
	str_free(&x);
	return r;
}

void
dsn_decode(const char *s, struct dsn *d)
{
	size_t n = strlen(s), i, m, j;
	unsigned long long dl;

	memset(d, 0, sizeof *d);
	d->text = s;
	d->textlen = n;
	if (n < 2 || s[0] != '#' || !(m = dsn_scan(s + 1, n - 1)) ||
	    1 + m >= n || s[1 + m] != ' ')
		return;
	memcpy(d->status, s + 1, m);
	d->status[m] = 0;
	i = m + 2;
	if (i < n && s[i] == '@') {
		for (m = i + 1; m < n && s[m] != ' '; m++)
			;
		j = m + 2;
		if (j < n && s[m + 1] == '=' &&
		    num_scan(s, n, &j, ULLONG_MAX, &dl) == 0 &&
		    j < n && s[j] == ' ') {
			j++;
			if (dl > n - j)	/* cut by DSN_REASON_MAX */
				dl = n - j;
			d->mta = s + i + 1;
			d->mtalen = m - i - 1;
			d->diag = s + j;
			d->diaglen = (size_t)dl;
			i = j + (size_t)dl;
			if (i < n && s[i] == ' ')
				i++;
		}
	}
	d->text = s + i;
	d->textlen = n - i;
}

const char *
dsn_text(const char *s)
{
	struct dsn d;

	dsn_decode(s, &d);
	return d.text;
}

void
dsn_remote(const char *t, size_t tl, struct dsn *d)
{
	static const char mtatag[] = "Remote-MTA: dns; ";
	static const char diagtag[] = "Diagnostic-Code: smtp; ";
	size_t k = dsn_scan(t, tl), e, i;

	memset(d, 0, sizeof *d);
	if (!k || k >= tl || t[k] != ' ') {
		d->text = t;
		d->textlen = tl;
		return;
	}
	memcpy(d->status, t, k);
	d->status[k] = 0;
	t += k + 1;
	tl -= k + 1;
	for (e = 0; e < tl && t[e] != '\n'; e++)
		;
	d->text = t;
	d->textlen = e;
	for (i = e; i < tl; i = e) {
		const char *l = t + ++i;
		size_t ll;

		for (e = i; e < tl && t[e] != '\n'; e++)
			;
		ll = e - i;
		if (!d->mta && ll > sizeof mtatag - 1 &&
		    !memcmp(l, mtatag, sizeof mtatag - 1)) {
			d->mta = l + sizeof mtatag - 1;
			d->mtalen = ll - (sizeof mtatag - 1);
		} else if (!d->diag && ll > sizeof diagtag - 1 &&
		    !memcmp(l, diagtag, sizeof diagtag - 1)) {
			d->diag = l + sizeof diagtag - 1;
			d->diaglen = ll - (sizeof diagtag - 1);
		}
	}
	if (!d->mta || !d->diag)
		d->mtalen = d->diaglen = 0;
}

void
dsn_local(const char *s, size_t n, struct dsn *d)
{
	size_t e = n, b;

	memset(d, 0, sizeof *d);
	while (e && (s[e - 1] == '\n' || s[e - 1] == '\r'))
		e--;
	b = e;
	while (b && s[b - 1] != '\n')
		b--;
	/* the blanks dsn_clean trims, and its cut */
	while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\r' ||
	    s[e - 1] == '\t'))
		e--;
	while (b < e && s[b] == ' ')
		b++;
	if (e - b > DSN_REASON_MAX)
		e = b + DSN_REASON_MAX;
	d->text = s + b;
	d->textlen = e - b;
	(void)dsn_hash(d->text, d->textlen, d->status);
}
