/* disk-ceiling - what queue does to the disk per message, and nothing
 * else: create a file in tmp/, write SIZE bytes in one write, fsync,
 * rename into new/, fsync new/.  COUNT times per worker, WORKERS at once,
 * in DIR (which holds tmp/ and new/).  Prints the elapsed seconds.
 * Compiled by bench/queue-bench; not installed.
 *   disk-ceiling DIR SIZE COUNT WORKERS */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void
worker(long id, size_t size, long n)
{
	char *b = malloc(size ? size : 1);
	char t[64], d[64];
	long i;
	int dfd = -1;

	if (!b)
		_exit(111);
	memset(b, 'x', size);
	for (i = 0; i < n; i++) {
		int fd;

		snprintf(t, sizeof t, "tmp/%ld.%ld", id, i);
		snprintf(d, sizeof d, "new/c%ld.%ld", id, i);
		fd = open(t, O_CREAT | O_EXCL | O_WRONLY, 0640);
		if (fd < 0 || write(fd, b, size) != (ssize_t)size ||
		    fsync(fd) < 0 || close(fd) < 0 || rename(t, d) < 0)
			_exit(111);
		dfd = open("new", O_RDONLY | O_DIRECTORY);
		if (dfd < 0 || fsync(dfd) < 0 || close(dfd) < 0)
			_exit(111);
	}
	_exit(0);
}

int
main(int argc, char **argv)
{
	struct timespec a, b;
	long n, w, i;
	size_t size;
	int st, bad = 0;

	if (argc != 5 || chdir(argv[1]) < 0)
		return 100;
	size = (size_t)atol(argv[2]);
	n = atol(argv[3]);
	w = atol(argv[4]);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < w; i++) {
		pid_t p = fork();

		if (p < 0)
			return 111;
		if (p == 0)
			worker(i, size, n);
	}
	while (wait(&st) > 0)
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			bad = 1;
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.6f\n", (double)(b.tv_sec - a.tv_sec) +
	    (double)(b.tv_nsec - a.tv_nsec) / 1e9);
	return bad ? 111 : 0;
}
