/* fuzz/dsn - libFuzzer target for the reason record (dsn.c): the input is
 * decoded as an f record's reason and parsed as remote's and as local's
 * report text, each with its fields inside the input; then it is split
 * at NULs into status, mta, reply and text, encoded, and decoded back to
 * the same fields (made printable, cut to their limits). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../dsn.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* inside - a field lies within s (n bytes) */
static void
inside(const char *f, size_t fl, const char *s, size_t n)
{
	if (fl && (!f || f < s || f + fl > s + n))
		abort();
}

/* check_status - an empty status, or one whole "c.s.d" */
static void
check_status(const struct dsn *d)
{
	size_t n = strnlen(d->status, DSN_STATUS_MAX);

	if (n == DSN_STATUS_MAX || (n && dsn_scan(d->status, n) != n))
		abort();
}

/* check_line - an encoded reason: one printable line within the limit,
 * whose status decodes with the class it was given */
static void
check_line(const char *e, char cls)
{
	struct dsn d;
	size_t i, n = strlen(e);

	if (n > DSN_REASON_MAX)
		abort();
	for (i = 0; i < n; i++)
		if ((unsigned char)e[i] < 32 || (unsigned char)e[i] >= 127)
			abort();
	dsn_decode(e, &d);
	check_status(&d);
	if (d.status[0] != cls)
		abort();
}

/* same - field f (fl bytes) as dsn_encode writes it: unsafe bytes '?' */
static int
same(const char *f, size_t fl, const char *want, size_t wl, int noblank)
{
	size_t i;

	if (fl != wl)
		return 0;
	for (i = 0; i < wl; i++) {
		unsigned char c = (unsigned char)want[i];

		if (c < 32 || c >= 127 || (noblank && c == ' '))
			c = '?';
		if ((unsigned char)f[i] != c)
			return 0;
	}
	return 1;
}

static void
round_trip(const char *s, size_t n)
{
	const char *part[4] = { "", "", "", "" };
	size_t len[4] = { 0, 0, 0, 0 }, k, i, b, want;
	struct dsn d, r;
	char cls = "245"[n % 3], *e;
	const char *tx;
	int blank = 1;

	for (k = 0, b = 0, i = 0; k < 4; i++)
		if (i == n || (s[i] == 0 && k < 3)) {
			part[k] = s + b;
			len[k++] = i - b;
			b = i + 1;
			if (i == n)
				break;
		}
	memset(&d, 0, sizeof d);
	if (len[0] && len[0] < DSN_STATUS_MAX &&
	    dsn_scan(part[0], len[0]) == len[0])
		memcpy(d.status, part[0], len[0]);
	d.mta = part[1];
	d.mtalen = len[1];
	d.diag = part[2];
	d.diaglen = len[2];
	d.text = part[3];
	d.textlen = len[3];
	if (!(e = dsn_encode(&d, cls)))
		return;
	check_line(e, cls);
	dsn_decode(e, &r);
	if (strcmp(r.status + 1, d.status[0] ? d.status + 1 : ".0.0"))
		abort();
	if (d.mtalen && d.diaglen) {
		/* the fields fit in DSN_REASON_MAX whatever the text */
		if (!same(r.mta, r.mtalen, d.mta, d.mtalen < DSN_MTA_MAX ?
		    d.mtalen : DSN_MTA_MAX, 1) ||
		    !same(r.diag, r.diaglen, d.diag, d.diaglen < DSN_DIAG_MAX ?
		    d.diaglen : DSN_DIAG_MAX, 0))
			abort();
	} else if (r.mtalen || r.diaglen)
		abort();
	if (r.textlen != strlen(r.text))
		abort();
	for (i = 0; i < d.textlen; i++)
		if (d.text[i] != ' ' && d.text[i] != '\t' && d.text[i] != '\n')
			blank = 0;
	if (blank) {
		if (strcmp(r.text, "no reason given"))
			abort();
		free(e);
		return;
	}
	tx = r.text;
	if (!(d.mtalen && d.diaglen) && d.text[0] == '@') {
		if (*tx != ' ')
			abort();
		tx++;
	}
	/* the text, its trailing blanks trimmed; a prefix of it if the
	 * reason was cut at the limit */
	want = d.textlen;
	while (want && d.text[want - 1] == ' ')
		want--;
	if (strlen(tx) > want || !same(tx, strlen(tx), d.text, strlen(tx), 0))
		abort();
	if (strlen(e) < DSN_REASON_MAX && strlen(tx) != want)
		abort();
	free(e);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	char *z = malloc(size + 1), *e;
	struct dsn d;
	size_t n;

	if (!z)
		return 0;
	memcpy(z, s, size);
	z[size] = 0;
	n = strlen(z);
	dsn_decode(z, &d);
	check_status(&d);
	inside(d.mta, d.mtalen, z, n);
	inside(d.diag, d.diaglen, z, n);
	if (!d.text || d.text < z || d.text + d.textlen != z + n)
		abort();
	(void)dsn_text(z);
	free(z);

	dsn_remote(s, size, &d);
	check_status(&d);
	inside(d.mta, d.mtalen, s, size);
	inside(d.diag, d.diaglen, s, size);
	inside(d.text, d.textlen, s, size);
	if (!d.mtalen != !d.diaglen)
		abort();
	if ((e = dsn_encode(&d, '5'))) {
		check_line(e, '5');
		free(e);
	}

	dsn_local(s, size, &d);
	check_status(&d);
	inside(d.text, d.textlen, s, size);
	if (d.textlen > DSN_REASON_MAX || memchr(d.text, '\n', d.textlen))
		abort();
	if ((e = dsn_encode(&d, '4'))) {
		check_line(e, '4');
		free(e);
	}

	round_trip(s, size);
	return 0;
}
