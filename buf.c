/* buf - buffered reading and writing on a file descriptor, with deadlines. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"

void
buf_init(buf *b, int fd, char *space, size_t size, int timeout_ms)
{
	b->fd = fd;
	b->x = space;
	b->size = size;
	b->p = b->n = 0;
	b->timeout = timeout_ms;
	b->rd = 0;
	b->wr = 0;
	b->ctx = 0;
}

void
buf_hook(buf *b, buf_rd *rd, buf_wr *wr, void *ctx)
{
	b->rd = rd;
	b->wr = wr;
	b->ctx = ctx;
}

int
fd_wait(int fd, short ev, int timeout_ms)
{
	struct pollfd pfd;
	int r;

	if (timeout_ms < 0)
		return 0;
	pfd.fd = fd;
	pfd.events = ev;
	for (;;) {
		r = poll(&pfd, 1, timeout_ms);
		if (r > 0)
			return 0;
		if (r == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
}

/* fd_read - one read(2), waiting at most timeout_ms for input. */
ssize_t
fd_read(int fd, char *s, size_t n, int timeout_ms)
{
	ssize_t r;

	for (;;) {
		if (fd_wait(fd, POLLIN, timeout_ms) < 0)
			return -1;
		r = read(fd, s, n);
		if (r >= 0)
			return r;
		if (errno != EINTR && errno != EAGAIN)
			return -1;
	}
}

/* fd_writeall - write every byte, each write waiting at most timeout_ms. */
int
fd_writeall(int fd, const char *s, size_t n, int timeout_ms)
{
	ssize_t w;

	while (n) {
		if (fd_wait(fd, POLLOUT, timeout_ms) < 0)
			return -1;
		w = write(fd, s, n);
		if (w < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

ssize_t
buf_fill(buf *b)
{
	ssize_t r;

	if (b->p < b->n)
		return (ssize_t)(b->n - b->p);
	b->p = b->n = 0;
	r = b->rd ? b->rd(b->ctx, b->x, b->size, b->timeout) :
	    fd_read(b->fd, b->x, b->size, b->timeout);
	if (r > 0)
		b->n = (size_t)r;
	return r;
}

const char *
buf_peek(const buf *b, size_t *len)
{
	*len = b->n - b->p;
	return b->x + b->p;
}

void
buf_skip(buf *b, size_t n)
{
	if (n > b->n - b->p)
		n = b->n - b->p;
	b->p += n;
}

ssize_t
buf_get(buf *b, char *s, size_t n)
{
	ssize_t r;
	size_t have;

	if (!n)
		return 0;
	r = buf_fill(b);
	if (r <= 0)
		return r;
	have = b->n - b->p;
	if (n > have)
		n = have;
	memcpy(s, b->x + b->p, n);
	b->p += n;
	return (ssize_t)n;
}

ssize_t
buf_copy(buf *b, buf *out)
{
	ssize_t r;
	size_t total = 0;

	for (;;) {
		r = buf_fill(b);
		if (r < 0)
			return -1;
		if (r == 0)
			return (ssize_t)total;
		if (buf_put(out, b->x + b->p, (size_t)r) < 0)
			return -1;
		b->p = b->n;
		total += (size_t)r;
	}
}

int
buf_getline(buf *b, str *line, size_t max)
{
	int dropping = 0;

	line->len = 0;
	for (;;) {
		const char *s, *lf;
		size_t n, take;
		ssize_t r = buf_fill(b);

		if (r < 0)
			return BUF_ERR;
		if (r == 0)
			return dropping ? BUF_LONG : BUF_EOF;
		s = b->x + b->p;
		n = b->n - b->p;
		lf = memchr(s, '\n', n);
		take = lf ? (size_t)(lf - s) + 1 : n;
		if (!dropping) {
			size_t room = max - line->len;
			size_t keep = take < room ? take : room;

			if (str_put(line, s, keep) < 0)
				return BUF_ERR;
			if (keep < take)
				dropping = 1;
		}
		b->p += take;
		if (lf)
			return dropping ? BUF_LONG : BUF_LINE;
	}
}

static int
buf_write(buf *b, const char *s, size_t n)
{
	return b->wr ? b->wr(b->ctx, s, n, b->timeout) :
	    fd_writeall(b->fd, s, n, b->timeout);
}

int
buf_flush(buf *b)
{
	size_t n = b->p;

	b->p = 0;
	return n ? buf_write(b, b->x, n) : 0;
}

int
buf_put(buf *b, const char *s, size_t n)
{
	if (n > b->size - b->p) {
		if (buf_flush(b) < 0)
			return -1;
		if (n >= b->size)
			return buf_write(b, s, n);
	}
	memcpy(b->x + b->p, s, n);
	b->p += n;
	return 0;
}

int
buf_puts(buf *b, const char *s)
{
	return buf_put(b, s, strlen(s));
}

int
buf_putflush(buf *b, const char *s, size_t n)
{
	if (buf_put(b, s, n) < 0)
		return -1;
	return buf_flush(b);
}
