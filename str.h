/* str - growable byte strings with overflow-checked sizes.
 * Bytes are (s, len); s is not NUL-terminated unless str_0 was called. */
#ifndef STR_H
#define STR_H

#include <stddef.h>
#include <sys/types.h>

typedef struct {
	char *s;
	size_t len;
	size_t a;	/* allocated */
} str;

#define STR_INIT { 0, 0, 0 }

int str_ready(str *, size_t);	/* room for len+n bytes; -1 ENOMEM */
int str_put(str *, const char *, size_t);
int str_puts(str *, const char *);
int str_putc(str *, char);
int str_putu(str *, unsigned long long);
int str_copy(str *, const char *, size_t);
int str_copys(str *, const char *);
int str_0(str *);		/* NUL after the bytes, not counted in len */
void str_free(str *);
ssize_t str_chr(const str *, size_t from, char);	/* index, or -1 */
/* str_scanu - the decimal number at s[*i..n), *i moved past it; -1 if
 * there is no digit there or the number overflows */
int str_scanu(const char *s, size_t n, size_t *i, unsigned long long *);

#endif
