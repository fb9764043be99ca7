/* fuzz/smtpd - libFuzzer target for a whole smtpd session: the input is
 * what a client sends before it closes the connection.
 *
 * smtpd is a program (main and statics in smtpd.c), and a session needs
 * all of it; the Makefile's fuzz rule links the shared modules but not
 * the programs, so this file includes smtpd.c with main renamed to
 * smtpd_main.  smtpd ends the process (at QUIT, EOF, or a fatal error),
 * so each input runs in a forked child: fd 0 a pipe holding the input
 * (then EOF), fd 1 /dev/null, fd 2 a file the parent reads afterwards.
 *
 * LLVMFuzzerInitialize makes a home under /tmp (control/me, rcpthosts,
 * locals, timeouts) with two stub programs: the queue ($QPOST_QUEUE:
 * reads fd 0 and fd 1 to EOF, exits 0) and an AUTH checker (reads fd 3,
 * accepts).  TCPREMOTEIP is 127.0.0.1.  Byte 0 of the input is flags
 * for the session's environment: bit 0 AUTHCLEAR (AUTH without TLS),
 * bit 1 RELAYCLIENT, bit 2 SUBMISSION, bit 3 no AUTH checker; the rest
 * is the client's bytes.
 *
 * The coverage counters are shared with the child (fz_share_counters),
 * so libFuzzer is guided by what the session ran.
 *
 * The parent waits at most CHILD_WAIT_MS and kills the child then (a
 * stuck session is not reported: smtpd's own deadlines are longer).  It
 * aborts, saving the input, when the child died by any other signal,
 * exited with a code other than smtpd's 0 and 111, or wrote a
 * sanitizer report: in the child a sanitizer's death raises SIGABRT,
 * and every report (UBSan's recoverable ones too) goes to a file of
 * its own, shown by the parent with smtpd's log. */
#include <elf.h>
#include <link.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#define main smtpd_main
#include "../smtpd.c"
#undef main

#include "tmphome.h"

int smtpd_main(int, char **);
int LLVMFuzzerInitialize(int *, char ***);
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);
void __sanitizer_set_death_callback(void (*)(void));
void __sanitizer_set_report_path(const char *);

#define CHILD_WAIT_MS 2000	/* a session's bound before SIGKILL */
#define ERR_MAX 65536		/* bytes of a report or log shown */

static const char *fz_home;
static char fz_checker[TMPHOME_LEN + 16];
static char fz_errpath[TMPHOME_LEN + 16];
static char fz_sanpath[TMPHOME_LEN + 16];

/* fz_base - dl_iterate_phdr's callback: the program's load address */
static int
fz_base(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	*(uintptr_t *)data = (uintptr_t)info->dlpi_addr;
	return 1;		/* the first object is the program */
}

/* fz_counters - where libFuzzer's inline 8-bit counters (the section
 * __sancov_cntrs) are, from the program's own section headers.  (Naming
 * __start___sancov_cntrs here instead stops clang 14's counters from
 * being registered at all.)  0 when not found. */
static size_t
fz_counters(uintptr_t *start)
{
	Elf64_Ehdr eh;
	Elf64_Shdr *sh = 0;
	char *names = 0;
	uintptr_t base = 0;
	size_t k, n = 0;
	int fd = open("/proc/self/exe", O_RDONLY);

	if (fd < 0 || pread(fd, &eh, sizeof eh, 0) != sizeof eh ||
	    eh.e_shentsize != sizeof *sh || eh.e_shstrndx >= eh.e_shnum)
		goto done;
	sh = calloc(eh.e_shnum, sizeof *sh);
	if (!sh || pread(fd, sh, eh.e_shnum * sizeof *sh, (off_t)eh.e_shoff) !=
	    (ssize_t)(eh.e_shnum * sizeof *sh))
		goto done;
	names = calloc(1, sh[eh.e_shstrndx].sh_size + 1);
	if (!names || pread(fd, names, sh[eh.e_shstrndx].sh_size,
	    (off_t)sh[eh.e_shstrndx].sh_offset) !=
	    (ssize_t)sh[eh.e_shstrndx].sh_size)
		goto done;
	dl_iterate_phdr(fz_base, &base);
	for (k = 0; k < eh.e_shnum; k++)
		if (sh[k].sh_name < sh[eh.e_shstrndx].sh_size &&
		    !strcmp(names + sh[k].sh_name, "__sancov_cntrs")) {
			*start = base + sh[k].sh_addr;
			n = sh[k].sh_size;
		}
done:
	free(sh);
	free(names);
	if (fd >= 0)
		close(fd);
	return n;
}

/* The counters section starts on a page of its own: this empty,
 * page-aligned member makes the section page-aligned, and as this file
 * is the first on the fuzz rule's command line nothing of another file
 * comes before it (a gap would be counters without PCs).  The section's
 * last page may hold the start of the PC table (__sancov_pcs), which
 * nothing writes after the loader; that is shared too. */
static uint8_t fz_align[0]
    __attribute__((section("__sancov_cntrs"), aligned(4096), used));

/* fz_share_counters - libFuzzer's coverage counters are written by the
 * child: map their pages shared, so that the parent sees what the
 * session covered. */
static void
fz_share_counters(void)
{
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE), start = 0;
	size_t len = fz_counters(&start);
	uintptr_t lo = (start + pg - 1) & ~(pg - 1);
	uintptr_t hi = (start + len + pg - 1) & ~(pg - 1);
	size_t n = len && hi > lo ? hi - lo : 0;
	void *copy, *p;

	if (!n || lo != start) {
		fprintf(stderr, "fuzz/smtpd: coverage counters not shared\n");
		return;
	}
	copy = malloc(n);
	if (!copy)
		abort();
	memcpy(copy, (void *)lo, n);
	p = mmap((void *)lo, n, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (p == MAP_FAILED)
		abort();
	memcpy(p, copy, n);
	free(copy);
	(void)fz_align;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char q[TMPHOME_LEN + 16];

	(void)argc;
	(void)argv;
	fz_share_counters();
	fz_home = tmphome_make("smtpd");
	tmphome_put(fz_home, "control/me", "me.example\n", 0644);
	tmphome_put(fz_home, "control/rcpthosts",
	    "me.example\nlocal.example\n", 0644);
	tmphome_put(fz_home, "control/locals", "me.example\n", 0644);
	tmphome_put(fz_home, "control/databytes", "100000\n", 0644);
	tmphome_put(fz_home, "control/timeoutsmtpd", "10\n", 0644);
	tmphome_put(fz_home, "control/timeoutcheckpw", "2\n", 0644);
	tmphome_put(fz_home, "queue-stub",
	    "#!/bin/sh\ncat >/dev/null; cat <&1 >/dev/null; exit 0\n", 0755);
	tmphome_put(fz_home, "checker-stub",
	    "#!/bin/sh\ncat <&3 >/dev/null; exec \"$@\"\n", 0755);
	snprintf(q, sizeof q, "%s/queue-stub", fz_home);
	snprintf(fz_checker, sizeof fz_checker, "%s/checker-stub", fz_home);
	snprintf(fz_errpath, sizeof fz_errpath, "%s/child.err", fz_home);
	snprintf(fz_sanpath, sizeof fz_sanpath, "%s/san", fz_home);
	if (setenv("QPOST_HOME", fz_home, 1) < 0 ||
	    setenv("QPOST_QUEUE", q, 1) < 0 ||
	    setenv("TCPREMOTEIP", "127.0.0.1", 1) < 0)
		abort();
	return 0;
}

/* fz_death - a sanitizer's report in the child ends it by SIGABRT, not
 * by libFuzzer's handlers (made for the parent) */
static void
fz_death(void)
{
	signal(SIGABRT, SIG_DFL);
	abort();
}

static noreturn void
fz_child(int in, unsigned flags)
{
	char *args[] = { (char *)(size_t)"smtpd", fz_checker, 0 };
	int null = open("/dev/null", O_WRONLY);
	int err = open(fz_errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	__sanitizer_set_death_callback(fz_death);
	__sanitizer_set_report_path(fz_sanpath);
	signal(SIGABRT, SIG_DFL);
	if (null < 0 || err < 0 || dup2(in, 0) < 0 || dup2(null, 1) < 0 ||
	    dup2(err, 2) < 0)
		_exit(99);
	close(in);
	close(null);
	close(err);
	if (((flags & 1) && setenv("AUTHCLEAR", "1", 1) < 0) ||
	    ((flags & 2) && setenv("RELAYCLIENT", "", 1) < 0) ||
	    ((flags & 4) && setenv("SUBMISSION", "1", 1) < 0))
		_exit(99);
	smtpd_main((flags & 8) ? 1 : 2, args);
	_exit(98);		/* smtpd_main never returns */
}

/* fz_show - copy the file path (at most ERR_MAX bytes) to our fd 2:
 * 1 it was there */
static int
fz_show(const char *path)
{
	static char b[ERR_MAX];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, b, sizeof b);
	if (n > 0)
		(void)fd_writeall(2, b, (size_t)n, -1);
	close(fd);
	return 1;
}

/* fz_report - the child's sanitizer report (a file of its own, so that
 * no client text in smtpd's log can pass for one), or else its log,
 * to our fd 2; 1 there was a report */
static int
fz_report(pid_t pid, int always)
{
	char p[TMPHOME_LEN + 32];
	int x;

	snprintf(p, sizeof p, "%s.%ld", fz_sanpath, (long)pid);
	x = fz_show(p);
	unlink(p);
	if (!x && always)
		(void)fz_show(fz_errpath);
	return x;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct timespec tick = { 0, 200000 };
	int fds[2], status, waited = 0;
	pid_t pid, r;

	/* A pipe holds 64 KiB, more than -max_len: write all, then fork. */
	if (!size || size > 65536 || pipe2(fds, O_CLOEXEC) < 0)
		return 0;
	if (size > 1 && write(fds[1], data + 1, size - 1) !=
	    (ssize_t)(size - 1))
		abort();
	close(fds[1]);
	pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0)
		fz_child(fds[0], data[0]);
	close(fds[0]);
	while ((r = waitpid(pid, &status, WNOHANG)) == 0) {
		if (waited++ == CHILD_WAIT_MS * 5) {
			kill(pid, SIGKILL);
			r = waitpid(pid, &status, 0);
			break;
		}
		nanosleep(&tick, 0);
	}
	if (r != pid)
		abort();
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL &&
	    waited > CHILD_WAIT_MS * 5)
		return 0;	/* our timeout */
	if (WIFSIGNALED(status) || (WEXITSTATUS(status) != 0 &&
	    WEXITSTATUS(status) != 111)) {
		(void)fz_report(pid, 1);
		abort();
	}
	if (fz_report(pid, 0))
		abort();
	return 0;
}
