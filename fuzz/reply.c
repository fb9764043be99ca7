/* fuzz/reply - libFuzzer target for remote's SMTP reply reader (reply.c):
 * the input is what a peer sends before it closes.  reply_parse takes
 * the replies one after the other from the bytes; reply_read takes them
 * from a pipe through buf, as remote does; the two must agree reply by
 * reply (code, text) up to the first one that is not whole.  Every
 * accepted reply has a code in 200..599, text of printable bytes and
 * '\n' only, within its cap; no read leaves the input (ASan). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../buf.h"
#include "../reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* check - the promises about one accepted reply */
static void
check(const struct reply *r, int code)
{
	size_t i, lines = 1;

	if (code < 200 || code > 599 || code != r->code)
		abort();
	if (r->text.len > REPLY_TEXT_MAX + 1 || r->text.len < 3)
		abort();
	for (i = 0; i < r->text.len; i++) {
		unsigned char c = (unsigned char)r->text.s[i];

		if (c == '\n')
			lines++;
		else if (c < 32 || c > 126)
			abort();
	}
	if (lines > REPLY_LINES_MAX)
		abort();
	if (r->text.s[0] - '0' != code / 100)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct reply a = REPLY_INIT, b = REPLY_INIT;
	const char *s = (const char *)data;
	char space[BUF_SIZE];
	size_t pos = 0, used;
	int fds[2], x, y;
	buf in;

	/* A pipe holds 64 KiB, more than -max_len: write all, then read. */
	if (size > 65536 || pipe(fds) < 0)
		return 0;
	if (size && write(fds[1], data, size) != (ssize_t)size)
		abort();
	close(fds[1]);
	buf_init(&in, fds[0], space, sizeof space, -1);
	for (;;) {
		/* a fresh copy, so ASan sees a read past the rest */
		char *rest = malloc(size - pos + 1);

		if (!rest)
			abort();
		memcpy(rest, s + pos, size - pos);
		x = reply_parse(&a, rest, size - pos, &used);
		free(rest);
		if (used > size - pos)
			abort();
		y = reply_read(&b, &in);
		if (x > 0) {
			check(&a, x);
			if (y != x || a.text.len != b.text.len ||
			    memcmp(a.text.s, b.text.s, a.text.len))
				abort();
			pos += used;
			continue;
		}
		if (x == REPLY_NOMEM || y == REPLY_NOMEM)
			break;
		/* Not whole: reply_read fails too, for the same reason. */
		if (y != REPLY_BAD)
			abort();
		if (x == REPLY_MORE && errno != ECONNRESET)
			abort();
		if (x == REPLY_BAD && errno != EPROTO)
			abort();
		break;
	}
	close(fds[0]);
	return 0;
}
