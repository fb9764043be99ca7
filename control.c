/* control - reading control files. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control.h"
#include "home.h"

int
control_readpath(str *out, const char *path, size_t max)
{
	struct stat st;
	int fd, e;
	ssize_t r;

	out->len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) < 0)
		goto fail;
	if ((unsigned long long)st.st_size > max) {
		errno = EFBIG;
		goto fail;
	}
	for (;;) {
		if (str_ready(out, 4096) < 0)
			goto fail;
		r = read(fd, out->s + out->len, out->a - out->len - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (r == 0)
			break;
		out->len += (size_t)r;
		if (out->len > max) {
			errno = EFBIG;
			goto fail;
		}
	}
	close(fd);
	if (str_0(out) < 0)
		return -1;
	return 1;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

int
control_readfile(str *out, const char *name)
{
	str rel = STR_INIT, path = STR_INIT;
	int r = -1;

	out->len = 0;
	if (str_copys(&rel, "control/") >= 0 && str_puts(&rel, name) >= 0 &&
	    str_0(&rel) >= 0 && home_path(&path, rel.s) >= 0)
		r = control_readpath(out, path.s, CONTROL_MAX);
	str_free(&rel);
	str_free(&path);
	return r;
}

int
control_readlist(str *out, const char *name)
{
	str raw = STR_INIT;
	size_t i = 0;
	int r = control_readfile(&raw, name);

	out->len = 0;
	if (r <= 0) {
		str_free(&raw);
		return r;
	}
	while (i < raw.len) {
		const char *s = raw.s + i;
		const char *lf = memchr(s, '\n', raw.len - i);
		size_t n = lf ? (size_t)(lf - s) : raw.len - i;

		i += n + 1;
		while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
		    s[n - 1] == '\r'))
			n--;
		if (!n || s[0] == '#')
			continue;
		if (str_put(out, s, n) < 0 || str_putc(out, 0) < 0) {
			str_free(&raw);
			return -1;
		}
	}
	str_free(&raw);
	return 1;
}

const char *
control_next(const str *list, size_t *pos)
{
	const char *s;

	if (*pos >= list->len)
		return 0;
	s = list->s + *pos;
	*pos += strlen(s) + 1;
	return s;
}

int
control_readline(str *out, const char *name)
{
	int r = control_readlist(out, name);

	if (r <= 0)
		return r;
	if (!out->len)
		return 0;
	out->len = strlen(out->s);
	return 1;
}

int
control_readulong(unsigned long *out, const char *name)
{
	str x = STR_INIT;
	unsigned long u = 0;
	size_t i;
	int r = control_readline(&x, name);

	if (r <= 0) {
		str_free(&x);
		return r;
	}
	for (i = 0; i < x.len; i++) {
		unsigned d = (unsigned char)x.s[i] - '0';

		if (d > 9 || u > ((unsigned long)-1 - d) / 10) {
			str_free(&x);
			errno = EINVAL;
			return -1;
		}
		u = u * 10 + d;
	}
	str_free(&x);
	if (!i) {
		errno = EINVAL;
		return -1;
	}
	*out = u;
	return 1;
}
