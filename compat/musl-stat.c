/* musl-stat.c - the one glibc ABI symbol Debian's libcdb.a (tinycdb,
 * compiled against glibc) needs that musl lacks, for the programs the
 * Makefile links statically with musl: glibc's old fstat entry point.
 * On x86-64 glibc's struct stat64 and musl's struct stat are both the
 * kernel's layout, so this is fstat. */
#include <sys/stat.h>

int __fxstat64(int, int, struct stat *);

int
__fxstat64(int ver, int fd, struct stat *st)
{
	(void)ver;
	return fstat(fd, st);
}
