/* dsn - enhanced mail system status codes (RFC 3463), as carried from
 * local and remote to send's bounces (docs/send.md, docs/remote.md). */
#ifndef DSN_H
#define DSN_H

#include <stddef.h>

#define DSN_STATUS_MAX 12	/* "5.123.123" and its NUL */

/* dsn_scan - the length of a status code "c.s.d" at the start of s (n
 * bytes): class 2, 4 or 5, then one to three digits twice; 0 if none */
size_t dsn_scan(const char *, size_t);

/* dsn_hash - qmail's convention: the status of the last "(#c.s.d)" in
 * the line s (n bytes), into st with its NUL; its length, 0 if none */
size_t dsn_hash(const char *, size_t, char st[DSN_STATUS_MAX]);

#endif
