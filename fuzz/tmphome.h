/* fuzz/tmphome.h - temporary qpost homes for the fuzz targets that need
 * files (fuzz/recip.c, fuzz/smtpd.c): made under /tmp in
 * LLVMFuzzerInitialize and removed when the fuzzer exits.  Static
 * functions in a header, because the Makefile builds each fuzz/NAME.c
 * on its own (with the shared modules). */
#ifndef FUZZ_TMPHOME_H
#define FUZZ_TMPHOME_H

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TMPHOME_MAX 4		/* homes one target makes */
#define TMPHOME_LEN 64		/* "/tmp/qpost-fuzz-NAME.XXXXXX" */

static char tmphome_made[TMPHOME_MAX][TMPHOME_LEN];
static int tmphome_n;
static pid_t tmphome_owner;

static int
tmphome_rm(const char *p, const struct stat *st, int type, struct FTW *f)
{
	(void)st;
	(void)type;
	(void)f;
	remove(p);
	return 0;
}

/* tmphome_cleanup - at exit of the fuzzer (not of a forked child) */
static void
tmphome_cleanup(void)
{
	int k;

	if (getpid() != tmphome_owner)
		return;
	for (k = 0; k < tmphome_n; k++)
		nftw(tmphome_made[k], tmphome_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* tmphome_make - a new empty home with control/, users/ and alias/ */
static const char *
tmphome_make(const char *name)
{
	char *h, p[TMPHOME_LEN + 16];
	static const char *const dirs[] = { "control", "users", "alias" };
	size_t k;

	if (tmphome_n == TMPHOME_MAX)
		abort();
	h = tmphome_made[tmphome_n];
	snprintf(h, TMPHOME_LEN, "/tmp/qpost-fuzz-%s.XXXXXX", name);
	if (!mkdtemp(h))
		abort();
	if (!tmphome_n++) {
		tmphome_owner = getpid();
		atexit(tmphome_cleanup);
	}
	for (k = 0; k < sizeof dirs / sizeof dirs[0]; k++) {
		snprintf(p, sizeof p, "%s/%s", h, dirs[k]);
		if (mkdir(p, 0755) < 0)
			abort();
	}
	return h;
}

/* tmphome_put - home/rel holds the string text (mode is its mode) */
static void
tmphome_put(const char *home, const char *rel, const char *text, int mode)
{
	char p[256];
	size_t n = strlen(text);
	int fd;

	snprintf(p, sizeof p, "%s/%s", home, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0 || write(fd, text, n) != (ssize_t)n || close(fd) < 0)
		abort();
}

#endif
