/* passwd - the format of users/passwd, the password file of checkpw(8):
 * one "name:hash" a line, "#" lines and blank lines skipped.  name is
 * 1..PASSWD_NAME_MAX bytes without ':', white space or control bytes;
 * hash is a crypt(3) string (yescrypt "$y$" as qpost-tool writes it,
 * bcrypt "$2b$", sha512-crypt "$6$"), or "*", "!..." or empty for a
 * locked account.  users/passwd.cdb maps passwd_key(name) to hash. */
#ifndef PASSWD_H
#define PASSWD_H

#include <stddef.h>

#include "str.h"

#define PASSWD_NAME_MAX 255
#define PASSWD_HASH_MAX 512		/* bytes of one stored hash */
#define PASSWD_PASS_MAX 512		/* bytes of one password */
#define PASSWD_FILE_MAX (64 * 1024 * 1024)

/* passwd_name - 0 if s[0..n) is an acceptable name, else -1 */
int passwd_name(const char *s, size_t n);
/* passwd_key - the cdb key of a name: the name, with the domain after
 * its last '@' in lower case; -1 on ENOMEM */
int passwd_key(str *key, const char *name, size_t n);
/* passwd_locked - does hash h[0..n) lock its account? */
int passwd_locked(const char *h, size_t n);

typedef struct {
	const char *name, *hash;	/* within the file, not NUL-terminated */
	size_t namelen, hashlen;
	size_t line;			/* 1-based line number */
	size_t off, len;		/* the whole line, LF excluded */
} passwd_entry;

/* passwd_next - the next entry of the file s[0..n) at *pos, skipping
 * comments and blank lines: 1 found, 0 at the end, -1 a malformed line
 * (e->line and e->off, e->len tell which).  *lineno counts lines. */
int passwd_next(const char *s, size_t n, size_t *pos, size_t *lineno,
    passwd_entry *e);

#endif
