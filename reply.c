/* reply - an SMTP server's reply as remote reads it (see reply.h).  The
 * parser is reply_line; reply_read feeds it buf_getline's lines and
 * reply_parse cuts a byte buffer into lines the way buf_getline does,
 * so that the fuzz target (fuzz/reply.c) can compare the two. */
#include <errno.h>
#include <string.h>

#include "buf.h"
#include "reply.h"
#include "str.h"

void
reply_start(struct reply *r)
{
	r->text.len = 0;
	r->code = -1;
	r->lines = 0;
}

int
reply_line(struct reply *r, const char *s, size_t n)
{
	size_t i;

	if (n > REPLY_LINE_MAX)
		n = REPLY_LINE_MAX;
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	if (n < 3 || s[0] < '2' || s[0] > '5' || s[1] < '0' || s[1] > '9' ||
	    s[2] < '0' || s[2] > '9' ||
	    (n > 3 && s[3] != ' ' && s[3] != '-')) {
		errno = EPROTO;
		return REPLY_BAD;
	}
	if (r->code < 0)
		r->code = (s[0] - '0') * 100 + (s[1] - '0') * 10 +
		    (s[2] - '0');
	if (r->text.len < REPLY_TEXT_MAX) {
		size_t room = REPLY_TEXT_MAX - r->text.len;
		size_t keep = n < room ? n : room;

		if ((r->text.len && str_putc(&r->text, '\n') < 0) ||
		    str_ready(&r->text, keep) < 0)
			return REPLY_NOMEM;
		for (i = 0; i < keep; i++) {
			unsigned char c = (unsigned char)s[i];

			r->text.s[r->text.len++] = (c < 32 || c > 126) ?
			    '?' : (char)c;
		}
	}
	if (n <= 3 || s[3] == ' ')
		return r->code;
	if (++r->lines >= REPLY_LINES_MAX) {
		errno = EPROTO;
		return REPLY_BAD;
	}
	return REPLY_MORE;
}

int
reply_parse(struct reply *r, const char *s, size_t n, size_t *used)
{
	size_t pos = 0;
	int x;

	reply_start(r);
	*used = 0;
	while (pos < n) {
		const char *lf = memchr(s + pos, '\n', n - pos);
		size_t take = lf ? (size_t)(lf - (s + pos)) + 1 : n - pos;

		/* buf_getline: an unended line is a line only when it was
		 * cut (its end dropped); else it is EOF inside the reply. */
		if (!lf && take <= REPLY_LINE_MAX)
			break;
		x = reply_line(r, s + pos, take);
		pos += take;
		if (x != REPLY_MORE) {
			*used = pos;
			return x;
		}
	}
	*used = pos;
	return REPLY_MORE;
}

int
reply_read(struct reply *r, buf *in)
{
	reply_start(r);
	for (;;) {
		int x = buf_getline(in, &r->line, REPLY_LINE_MAX);

		if (x == BUF_ERR)
			return REPLY_BAD;
		if (x == BUF_EOF) {
			errno = ECONNRESET;
			return REPLY_BAD;
		}
		x = reply_line(r, r->line.s, r->line.len);
		if (x != REPLY_MORE)
			return x;
	}
}

void
reply_free(struct reply *r)
{
	str_free(&r->text);
	str_free(&r->line);
	r->code = -1;
	r->lines = 0;
}
