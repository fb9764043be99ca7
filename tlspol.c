/* tlspol - control/tlsdestinations: per-domain TLS policy (tlspol.h). */
#include <string.h>
#include <strings.h>
#include <limits.h>

#include "tlspol.h"

static const char *const names[] = { "none", "may", "encrypt", "verify",
	"dane" };

const char *
tlspol_name(enum tlspol_level l)
{
	return (unsigned)l < sizeof names / sizeof names[0] ? names[l] : "?";
}

long
tlspol_match(const char *domain, const char *pat, size_t n)
{
	size_t dl = strlen(domain);

	if (n == 0)
		return 0;
	if (pat[0] == '.') {
		if (dl > n && !strncasecmp(domain + dl - n, pat, n))
			return (long)n;
		return -1;
	}
	if (dl == n && !strncasecmp(domain, pat, n))
		return LONG_MAX;
	return -1;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* fp_parse - 64 hex digits, colons between pairs allowed, into out */
static int
fp_parse(const char *s, size_t n, unsigned char *out)
{
	size_t i = 0, k = 0;

	while (i < n) {
		int hi, lo;

		if (s[i] == ':' && k && i + 1 < n) {
			i++;
			continue;
		}
		if (i + 1 >= n || k >= TLSPOL_FP_LEN)
			return -1;
		hi = hexval(s[i]);
		lo = hexval(s[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[k++] = (unsigned char)(hi << 4 | lo);
		i += 2;
	}
	return k == TLSPOL_FP_LEN ? 0 : -1;
}

static int
blank(char c)
{
	return c == ' ' || c == '\t';
}

int
tlspol_parse(const char *s, size_t n, struct tlspol *out)
{
	size_t i = 0, w, l;

	memset(out, 0, sizeof *out);
	while (i < n && blank(s[i]))
		i++;
	for (w = i; i < n && !blank(s[i]); i++)
		;
	l = i - w;
	for (out->level = TLSPOL_NONE; out->level <= TLSPOL_DANE;
	    out->level++)
		if (strlen(names[out->level]) == l &&
		    !strncasecmp(s + w, names[out->level], l))
			break;
	if (out->level > TLSPOL_DANE)
		return -1;
	for (;;) {
		while (i < n && blank(s[i]))
			i++;
		if (i == n)
			return 0;
		for (w = i; i < n && !blank(s[i]); i++)
			;
		l = i - w;
		if (out->level != TLSPOL_VERIFY || l < 3 ||
		    strncasecmp(s + w, "fp=", 3) || out->nfp == TLSPOL_FP_MAX ||
		    fp_parse(s + w + 3, l - 3, out->fp[out->nfp]) < 0)
			return -1;
		out->nfp++;
	}
}

int
tlspol_find(const char *list, size_t len, const char *domain,
    struct tlspol *out, const char **bad)
{
	struct tlspol p;
	const char *item, *colon;
	size_t pos = 0, il;
	long score = -1, m;

	memset(out, 0, sizeof *out);
	out->level = TLSPOL_MAY;
	/* every line is checked, not only the one that matches: a typo is
	 * found the first time, whatever domain it is for */
	while (pos < len) {
		item = list + pos;
		il = strnlen(item, len - pos);
		pos += il + 1;
		colon = memchr(item, ':', il);
		if (!colon || tlspol_parse(colon + 1,
		    il - (size_t)(colon + 1 - item), &p) < 0) {
			*bad = item;
			return -1;
		}
		m = tlspol_match(domain, item, (size_t)(colon - item));
		if (m > score) {
			score = m;
			*out = p;
		}
	}
	return score >= 0;
}
