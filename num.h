/* num - decimal numbers: the one parser and the one formatter.  Every
 * number qpost reads (control files, queue records, protocol fields,
 * argv) goes through num_scan with the largest value the caller can
 * take, so an overflow is an error and never a wrap (a uid of
 * 4294967297 must not become 1); every number it writes goes through
 * num_fmt. */
#ifndef NUM_H
#define NUM_H

#include <stddef.h>

#define NUM_LEN 24		/* a 64-bit number in decimal, and a NUL */

/* num_fmt - u in decimal, NUL-terminated, at the end of b; returns
 * where it starts (inside b) */
char *num_fmt(char b[NUM_LEN], unsigned long long u);

/* num_scan - the digits at s[*i..n): at least one, at most max in
 * value; *out the value and *i past the last digit.  -1 (errno EINVAL:
 * no digit; ERANGE: above max) leaves *i and *out alone. */
int num_scan(const char *s, size_t n, size_t *i, unsigned long long max,
    unsigned long long *out);

/* num_whole - s[0..n) is exactly one number no larger than max */
int num_whole(const char *s, size_t n, unsigned long long max,
    unsigned long long *out);

#endif
