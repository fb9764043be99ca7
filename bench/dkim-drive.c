/* dkim-drive - the CPU per message of DKIM signing and verifying beside
 * the plain path, for bench/dkim-bench; not installed.
 *
 *   dkim-drive RSAKEY ED25519KEY SIZE COUNT
 *
 * For a message of SIZE bytes (a short header, 72-byte body lines) it
 * times COUNT runs each of: "plain", what remote does to any message
 * (the LF to CRLF walk, line by line, into a buffer); "sign rsa" and "sign ed25519"
 * (dkim_sign as remote calls it, DKIM_WIRE); "verify rsa" and "verify
 * ed25519" (dkim_verify_with, the key record from memory: the DNS
 * lookup is not counted).  One line each: "NAME SIZE us/msg", process
 * CPU time (CLOCK_PROCESS_CPUTIME_ID). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../dkim.h"
#include "../dns.h"
#include "../str.h"

static str rec;

static int
keyfn(void *ctx, const char *name, str *out, size_t *n)
{
	(void)ctx;
	(void)name;
	if (str_put(out, rec.s, rec.len) < 0 || str_putc(out, 0) < 0)
		return DNS_TEMP;
	*n = 1;
	return DNS_OK;
}

static double
cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
report(const char *what, size_t size, double t0, unsigned long count)
{
	printf("%-15s %7zu %10.1f\n", what, size,
	    (cpu() - t0) * 1e6 / (double)count);
}

static struct dkim_signer *
signer(const char *path, const char *sel)
{
	FILE *f = fopen(path, "r");
	char pem[8192];
	size_t n;
	const char *why;
	struct dkim_signer *g;

	if (!f) {
		perror(path);
		exit(111);
	}
	n = fread(pem, 1, sizeof pem, f);
	fclose(f);
	g = dkim_signer_new("bench.test", sel, pem, n, &why);
	if (!g) {
		fprintf(stderr, "dkim-drive: %s: %s\n", path, why);
		exit(111);
	}
	return g;
}

int
main(int argc, char **argv)
{
	struct dkim_signer *g[2];
	static const char *const name[2] = { "rsa", "ed25519" };
	str msg = STR_INIT, out = STR_INIT, sig = STR_INIT;
	struct dkim_result res[2];
	unsigned long count, i;
	size_t size, k, n;
	double t0;
	char label[32];
	int j;

	if (argc != 5)
		return 100;
	g[0] = signer(argv[1], "r");
	g[1] = signer(argv[2], "e");
	size = strtoul(argv[3], 0, 10);
	count = strtoul(argv[4], 0, 10);
	str_puts(&msg, "From: Joe <joe@bench.test>\nTo: kim@example.org\n"
	    "Subject: bench\nDate: Wed, 2 Dec 2026 12:00:00 +0000\n"
	    "Message-ID: <1@bench.test>\n\n");
	while (msg.len < size)
		str_puts(&msg, (msg.len % 73) ? "x" : "\n");
	str_putc(&msg, '\n');

	t0 = cpu();
	for (i = 0; i < count; i++) {
		out.len = 0;
		for (k = 0; k < msg.len; k += n + 1) {
			const char *lf = memchr(msg.s + k, '\n', msg.len - k);

			n = lf ? (size_t)(lf - msg.s) - k : msg.len - k;
			if (str_put(&out, msg.s + k, n) < 0 ||
			    str_put(&out, "\r\n", 2) < 0)
				return 111;
		}
	}
	report("plain", size, t0, count);
	for (j = 0; j < 2; j++) {
		t0 = cpu();
		for (i = 0; i < count; i++) {
			sig.len = 0;
			if (dkim_sign(g[j], msg.s, msg.len, DKIM_WIRE, 1, 0,
			    &sig) < 0)
				return 111;
		}
		snprintf(label, sizeof label, "sign %s", name[j]);
		report(label, size, t0, count);
	}
	for (j = 0; j < 2; j++) {
		str signd = STR_INIT;

		rec.len = 0;
		dkim_keyrecord(g[j], &rec);
		dkim_sign(g[j], msg.s, msg.len, 0, 1, 0, &signd);
		str_put(&signd, msg.s, msg.len);
		t0 = cpu();
		for (i = 0; i < count; i++)
			if (dkim_verify_with(signd.s, signd.len, res, 2, &n,
			    keyfn, 0, 0) < 0 || n != 1 ||
			    res[0].status != DKIM_PASS)
				return 111;
		snprintf(label, sizeof label, "verify %s", name[j]);
		report(label, size, t0, count);
		str_free(&signd);
	}
	return 0;
}
