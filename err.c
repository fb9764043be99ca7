/* err - one-line diagnostics on fd 2. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "num.h"
#include "str.h"

const char *err_prog = "qpost";

/* err_out - one line: "prog: [word: ]text[: reason]".  A text that does
 * not fit ERR_LINE_MAX is cut where it must be and the cut is shown
 * ("... [N bytes cut]"), never made silently; the reason is always kept. */
static void
err_out(const char *word, const char *s, va_list ap, int sys)
{
	static char line[ERR_LINE_MAX];
	size_t n = 0, room, cut = 0;
	const char *reason = sys ? strerror(errno) : 0;
	const char *t;

	/* room for the text: the line less the reason, the mark and '\n' */
	room = sizeof line - 1 - ERR_CUT_MARK_MAX -
	    (reason ? 2 + strlen(reason) : 0);
#define PUTC(c) do { if (n < room) line[n++] = (c); else cut++; } while (0)
#define PUTS(t) do { const char *t_ = (t); while (*t_) PUTC(*t_++); } while (0)
	PUTS(err_prog);
	PUTS(": ");
	if (word) {
		PUTS(word);
		PUTS(": ");
	}
	for (; s; s = va_arg(ap, const char *)) {
		for (; *s; s++) {
			unsigned char c = (unsigned char)*s;

			if (c < 32 || c == 127) {
				if (n + 3 > room) {
					cut++;
					continue;
				}
				PUTC('\\');
				PUTC("0123456789abcdef"[c >> 4]);
				PUTC("0123456789abcdef"[c & 15]);
			} else
				PUTC((char)c);
		}
	}
#undef PUTC
#undef PUTS
	if (cut) {
		char num[NUM_LEN];

		for (t = "... ["; *t; t++)
			line[n++] = *t;
		for (t = num_fmt(num, cut); *t; t++)
			line[n++] = *t;
		for (t = " bytes cut]"; *t; t++)
			line[n++] = *t;
	}
	if (reason) {
		line[n++] = ':';
		line[n++] = ' ';
		for (t = reason; *t; t++)
			line[n++] = *t;
	}
	line[n++] = '\n';
	(void)!write(2, line, n);
}

void
err_die(int code, const char *s, ...)
{
	va_list ap;

	va_start(ap, s);
	err_out("fatal", s, ap, 0);
	va_end(ap);
	_exit(code);
}

void
err_diesys(int code, const char *s, ...)
{
	va_list ap;

	va_start(ap, s);
	err_out("fatal", s, ap, 1);
	va_end(ap);
	_exit(code);
}

void
err_warn(const char *s, ...)
{
	va_list ap;

	va_start(ap, s);
	err_out("warning", s, ap, 0);
	va_end(ap);
}

void
err_warnsys(const char *s, ...)
{
	va_list ap;
	int e = errno;

	va_start(ap, s);
	errno = e;
	err_out("warning", s, ap, 1);
	va_end(ap);
}

void
err_info(const char *s, ...)
{
	va_list ap;

	va_start(ap, s);
	err_out(0, s, ap, 0);
	va_end(ap);
}

void
err_nomem(void)
{
	err_die(111, "out of memory", (const char *)0);
}

void
err_help(int argc, char *const *argv, const char *usage)
{
	size_t n, len;
	ssize_t w;

	if (argc < 2 || strcmp(argv[1], "--help") != 0)
		return;
	/* The usage line on fd 1, where a reader of --help looks; a write
	 * that fails is a failure, not a help text shown. */
	len = strlen(usage);
	for (n = 0; n <= len; n += (size_t)w) {
		w = write(1, n < len ? usage + n : "\n", n < len ? len - n : 1);
		if (w < 0 && errno == EINTR) {
			w = 0;
			continue;
		}
		if (w <= 0)
			_exit(111);
	}
	_exit(0);
}
