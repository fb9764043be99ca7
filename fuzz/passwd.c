/* fuzz/passwd - libFuzzer target for passwd_next (a hand-edited
 * users/passwd) and passwd_key: every entry found lies inside the file,
 * has a valid name and a hash without ':' or white space, and lines are
 * counted in order; a key has the name's length and bytes up to its last
 * '@'. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../passwd.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *at;
	str key = STR_INIT;
	passwd_entry e;
	size_t pos = 0, lineno = 0, last = 0, i;
	int x;

	while ((x = passwd_next(s, size, &pos, &lineno, &e))) {
		if (e.line <= last || e.off + e.len > size || pos > size)
			abort();
		last = e.line;
		if (x < 0)
			continue;
		if (e.name < s || e.hash + e.hashlen > s + size ||
		    passwd_name(e.name, e.namelen) < 0 ||
		    e.hashlen > PASSWD_HASH_MAX)
			abort();
		for (i = 0; i < e.hashlen; i++)
			if (e.hash[i] == ':' || (unsigned char)e.hash[i] <= ' ')
				abort();
		if (passwd_key(&key, e.name, e.namelen) < 0)
			abort();
		at = memrchr(e.name, '@', e.namelen);
		if (key.len != e.namelen || memcmp(key.s, e.name,
		    at ? (size_t)(at - e.name) + 1 : e.namelen))
			abort();
		(void)passwd_locked(e.hash, e.hashlen);
	}
	str_free(&key);
	return 0;
}
