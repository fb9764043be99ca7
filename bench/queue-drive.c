/* queue-drive - run the queue program COUNT times per worker, WORKERS
 * workers at once, each run with the message file on fd 0 and the
 * envelope file on fd 1 (as smtpd and inject hand them over), and print
 * the elapsed seconds.  Compiled by bench/queue-bench; not installed.
 *   queue-drive QUEUE MSGFILE ENVFILE COUNT WORKERS */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void
worker(const char *q, const char *m, const char *e, long n)
{
	long i;

	for (i = 0; i < n; i++) {
		int st;
		pid_t p = fork();

		if (p < 0)
			_exit(111);
		if (p == 0) {
			int fm = open(m, O_RDONLY), fe = open(e, O_RDONLY);

			if (fm < 0 || fe < 0 || dup2(fm, 0) < 0 ||
			    dup2(fe, 1) < 0)
				_exit(120);
			execl(q, q, (char *)0);
			_exit(120);
		}
		if (waitpid(p, &st, 0) < 0 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0) {
			fprintf(stderr, "queue-drive: queue failed\n");
			_exit(111);
		}
	}
	_exit(0);
}

int
main(int argc, char **argv)
{
	struct timespec a, b;
	long n, w, i;
	int st, bad = 0;

	if (argc != 6)
		return 100;
	n = atol(argv[4]);
	w = atol(argv[5]);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < w; i++) {
		pid_t p = fork();

		if (p < 0)
			return 111;
		if (p == 0)
			worker(argv[1], argv[2], argv[3], n);
	}
	while (wait(&st) > 0)
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			bad = 1;
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.6f\n", (double)(b.tv_sec - a.tv_sec) +
	    (double)(b.tv_nsec - a.tv_nsec) / 1e9);
	return bad ? 111 : 0;
}
