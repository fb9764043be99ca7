/* spawn-cost - what starting a program costs the parent, by the way it
 * is started and by the parent's resident memory (docs/performance.md,
 * "vfork in spawn.c").  Not a test: it prints one number.
 *
 *   cc -O2 -o /tmp/spawn-cost bench/spawn-cost.c
 *   echo 'int main(void){return 0;}' > /tmp/nop.c
 *   musl-gcc -static -O2 -o /tmp/nop /tmp/nop.c
 *   /tmp/spawn-cost /tmp/nop COUNT fork|vfork|posix_spawn MB
 *
 * COUNT times: start PROG, wait for it, then write to every page of MB
 * megabytes of the parent's memory, as a live process would (after a
 * fork each first write is a copy-on-write fault).  Prints microseconds
 * per spawn, wall clock. */
#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int
main(int argc, char **argv)
{
	struct timespec a, b;
	size_t mb, k;
	char *m, *av[2];
	int n, i;

	if (argc != 5) {
		fprintf(stderr, "usage: spawn-cost PROG COUNT "
		    "fork|vfork|posix_spawn MB\n");
		return 100;
	}
	n = atoi(argv[2]);
	mb = (size_t)atoi(argv[4]);
	if (n < 1 || n > 100000 || mb > 4096)
		return 100;
	m = malloc((mb << 20) + 1);
	if (!m)
		return 111;
	memset(m, 1, mb << 20);
	av[0] = argv[1];
	av[1] = 0;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < n; i++) {
		pid_t p = -1;

		if (!strcmp(argv[3], "fork")) {
			if ((p = fork()) == 0) {
				execv(av[0], av);
				_exit(127);
			}
		} else if (!strcmp(argv[3], "vfork")) {
			if ((p = vfork()) == 0) {
				execv(av[0], av);
				_exit(127);
			}
		} else if (posix_spawn(&p, av[0], 0, 0, av, environ) != 0)
			p = -1;
		if (p < 0)
			return 111;
		waitpid(p, 0, 0);
		for (k = 0; k < (mb << 20); k += 4096)
			m[k]++;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%s, %zu MB resident: %.1f us per spawn\n", argv[3], mb,
	    ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec -
	    a.tv_nsec)) / n / 1000);
	return 0;
}
