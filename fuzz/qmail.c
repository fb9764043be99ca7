/* fuzz/qmail - libFuzzer target for dotqmail_next, the .qmail line
 * classifier local follows: any bytes split into lines that stay inside
 * the input, move forward, and are of one known kind with an argument
 * that holds no LF, no NUL and ends in no blank; a Maildir's ends in '/',
 * a forward's is 1 to ADDR_MAX bytes; an error says why with a status. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../addr.h"
#include "../dotqmail.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct dotqmail_line l;
	size_t pos = 0, last, lines = 0;

	for (;;) {
		last = pos;
		if (!dotqmail_next(buf, size, &pos, &l))
			break;
		lines++;
		if (pos <= last || pos > size || lines > size)
			abort();
		if (l.kind == DOTQMAIL_ERROR) {
			if (!l.err || !strstr(l.err, "(#4."))
				abort();
			continue;
		}
		if (l.arg < buf + last || l.arg + l.len > buf + pos ||
		    memchr(l.arg, '\n', l.len) || memchr(l.arg, 0, l.len))
			abort();
		if (l.len && (l.arg[l.len - 1] == ' ' ||
		    l.arg[l.len - 1] == '\t'))
			abort();
		switch (l.kind) {
		case DOTQMAIL_NONE:
		case DOTQMAIL_PROGRAM:
		case DOTQMAIL_MBOX:
			break;
		case DOTQMAIL_MAILDIR:
			if (!l.len || l.arg[l.len - 1] != '/')
				abort();
			break;
		case DOTQMAIL_FORWARD:
			if (!l.len || l.len > ADDR_MAX)
				abort();
			break;
		default:
			abort();
		}
	}
	if (pos != size)
		abort();
	return 0;
}
