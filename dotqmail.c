/* dotqmail - the lines of a .qmail file (see dotqmail.h). */
#include <string.h>

#include "addr.h"
#include "dotqmail.h"

int
dotqmail_next(const char *buf, size_t len, size_t *pos,
    struct dotqmail_line *out)
{
	const char *s, *lf;
	size_t n;
	int first = *pos == 0;

	if (*pos >= len)
		return 0;
	s = buf + *pos;
	lf = memchr(s, '\n', len - *pos);
	n = lf ? (size_t)(lf - s) : len - *pos;
	*pos += lf ? n + 1 : n;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	out->kind = DOTQMAIL_NONE;
	out->arg = s;
	out->len = n;
	out->err = 0;
	if (memchr(s, 0, n)) {
		out->kind = DOTQMAIL_ERROR;
		out->err = "NUL byte in .qmail file (#4.7.0)";
		return 1;
	}
	if (!n) {
		if (first) {
			out->kind = DOTQMAIL_ERROR;
			out->err = "first line of .qmail file is blank (#4.2.1)";
		}
		return 1;
	}
	switch (s[0]) {
	case '#':
	case '+':	/* qmail's "+list"; forward-only is not kept */
		break;
	case '.':
	case '/':
		out->kind = s[n - 1] == '/' ? DOTQMAIL_MAILDIR : DOTQMAIL_MBOX;
		break;
	case '|':
		out->kind = DOTQMAIL_PROGRAM;
		out->arg = s + 1;
		out->len = n - 1;
		break;
	case '&':
		out->arg = s + 1;
		out->len = n - 1;
		/* FALLTHROUGH */
	default:
		out->kind = DOTQMAIL_FORWARD;
		if (!out->len || out->len > ADDR_MAX) {
			out->kind = DOTQMAIL_ERROR;
			out->err = "bad forward address in .qmail file (#4.7.0)";
		}
		break;
	}
	return 1;
}
