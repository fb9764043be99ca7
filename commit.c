/* commit - atomic file replacement. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "commit.h"

int
commit_file(int fd, const char *tmp, const char *dst, const char *dir,
    const char **step)
{
	int e;

	*step = "write";
	if (fsync(fd) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (close(fd) < 0)
		return -1;
	*step = "rename";
	if (rename(tmp, dst) < 0)
		return -1;
	if (!dir)
		return 0;	/* the caller syncs the directory later */
	*step = "sync";
	return commit_sync(dir);
}

int
commit_sync(const char *dir)
{
	int dfd, e;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	if (fsync(dfd) < 0) {
		e = errno;
		close(dfd);
		errno = e;
		return -1;
	}
	close(dfd);
	return 0;
}

int
commit_unnamed(const char *dir, int mode)
{
	static int proc = -1;	/* /proc/self/fd is there: asked once */

	if (proc < 0)
		proc = access("/proc/self/fd", X_OK) == 0;
	if (!proc)
		return -1;
	return open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, (mode_t)mode);
}

int
commit_link(int fd, const char *dst)
{
	char proc[40];

	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	return linkat(AT_FDCWD, proc, AT_FDCWD, dst, AT_SYMLINK_FOLLOW);
}
