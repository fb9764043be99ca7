/* checkpass - the checkpassword interface on fd 3. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "checkpass.h"
#include "err.h"

void
checkpass_init(void)
{
	struct rlimit rl;

	rl.rlim_cur = rl.rlim_max = 0;
	if (setrlimit(RLIMIT_CORE, &rl) < 0)
		err_diesys(CHECKPASS_TEMP, "unable to turn off core dumps",
		    (const char *)0);
}

void
checkpass_start(checkpass *c, const char *usage)
{
	checkpass_init();
	switch (checkpass_read(c)) {
	case CHECKPASS_YES:
		return;
	case CHECKPASS_USAGE:
		err_die(CHECKPASS_USAGE, usage, (const char *)0);
	case CHECKPASS_TEMP:
		checkpass_wipe(c);
		err_diesys(CHECKPASS_TEMP, "unable to read fd 3",
		    (const char *)0);
	default:
		checkpass_exit(c, CHECKPASS_NO);
	}
}

long long
checkpass_deadline(long long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + ms;
}

int
checkpass_left(long long deadline)
{
	long long left = deadline - checkpass_deadline(0);

	if (left <= 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

int
checkpass_read(checkpass *c)
{
	long long deadline = checkpass_deadline(CHECKPASS_TIMEOUT);
	size_t n = 0, ul, pl;
	ssize_t r;
	int left;

	c->user = c->pass = 0;
	c->userlen = c->passlen = 0;
	if (fcntl(CHECKPASS_FD, F_GETFD) < 0)
		return CHECKPASS_USAGE;
	/* one byte more than allowed, to tell "too long" from "just fits" */
	while (n <= CHECKPASS_MAX) {
		left = checkpass_left(deadline);
		if (!left) {
			errno = ETIMEDOUT;
			return CHECKPASS_TEMP;
		}
		r = fd_read(CHECKPASS_FD, c->x + n, CHECKPASS_MAX + 1 - n, left);
		if (r < 0)
			return CHECKPASS_TEMP;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(CHECKPASS_FD);
	if (n > CHECKPASS_MAX)
		return CHECKPASS_NO;
	c->x[n] = 0;
	ul = strnlen(c->x, n);
	if (ul >= n)
		return CHECKPASS_NO;
	pl = strnlen(c->x + ul + 1, n - ul - 1);
	if (ul + 1 + pl >= n || !ul || !pl)
		return CHECKPASS_NO;
	c->user = c->x;
	c->userlen = ul;
	c->pass = c->x + ul + 1;
	c->passlen = pl;
	return CHECKPASS_YES;	/* the timestamp, if any, is not used */
}

void
checkpass_wipe(checkpass *c)
{
	explicit_bzero(c->x, sizeof c->x);
	c->user = c->pass = 0;
	c->userlen = c->passlen = 0;
}

void
checkpass_exit(checkpass *c, int code)
{
	checkpass_wipe(c);
	_exit(code);
}

void
checkpass_yes(checkpass *c, char **prog)
{
	checkpass_wipe(c);
	if (!prog || !prog[0])
		_exit(CHECKPASS_YES);
	execvp(prog[0], prog);
	err_diesys(CHECKPASS_TEMP, "unable to run ", prog[0], (const char *)0);
}
