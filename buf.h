/* buf - buffered reading and writing on a file descriptor, with an
 * optional deadline per read or write (poll-based, in milliseconds). */
#ifndef BUF_H
#define BUF_H

#include <stddef.h>
#include <sys/types.h>

#include "str.h"

/* A read or write hook replaces read(2) or write(2) on fd (remote puts
 * its TLS session here, so one SMTP code runs over both).  rd returns
 * as fd_read does, wr as fd_writeall; both get the buf's timeout. */
typedef ssize_t buf_rd(void *ctx, char *, size_t, int timeout_ms);
typedef int buf_wr(void *ctx, const char *, size_t, int timeout_ms);

typedef struct {
	int fd;
	char *x;
	size_t size;
	size_t p;		/* read: next unread byte; write: bytes held */
	size_t n;		/* read: bytes held */
	int timeout;		/* ms; <0 means wait forever */
	buf_rd *rd;		/* 0: read(2) on fd */
	buf_wr *wr;		/* 0: write(2) on fd */
	void *ctx;		/* the hooks' first argument */
} buf;

#define BUF_SIZE 8192

void buf_init(buf *, int fd, char *space, size_t size, int timeout_ms);
/* buf_hook - route the buf's reads or writes through rd / wr (either 0
 * for fd's own); held bytes stay. */
void buf_hook(buf *, buf_rd *rd, buf_wr *wr, void *ctx);

/* Reading.  Return >0 bytes, 0 EOF, -1 error (errno; ETIMEDOUT). */
ssize_t buf_fill(buf *);			/* only when empty */
ssize_t buf_get(buf *, char *, size_t);
const char *buf_peek(const buf *, size_t *len);	/* held bytes */
void buf_skip(buf *, size_t);
ssize_t buf_copy(buf *, buf *out);		/* all to EOF */

/* buf_getline results */
#define BUF_LINE 1	/* complete line, LF included */
#define BUF_EOF 0	/* end of input; line holds any partial bytes */
#define BUF_ERR -1	/* errno set */
#define BUF_LONG 2	/* over max: line holds max bytes, rest up to LF dropped */
int buf_getline(buf *, str *line, size_t max);

/* Writing.  Return 0, or -1 with errno. */
int buf_put(buf *, const char *, size_t);
int buf_puts(buf *, const char *);
int buf_flush(buf *);
int buf_putflush(buf *, const char *, size_t);

/* Plain deadline I/O for callers without a buf.  fd_wait: poll fd for
 * ev (POLLIN, POLLOUT) at most timeout_ms; 0, or -1 (ETIMEDOUT). */
int fd_wait(int fd, short ev, int timeout_ms);
ssize_t fd_read(int fd, char *, size_t, int timeout_ms);
int fd_writeall(int fd, const char *, size_t, int timeout_ms);

#endif
