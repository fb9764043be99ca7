/* checkpw - check a password against the home's password file.
 *
 * Purpose: the checker smtpd runs for SMTP AUTH (qmail's checkpassword
 * interface, checkpass.h).  It looks the user up in users/passwd.cdb,
 * compiled by "qpost-tool passwd" from users/passwd (passwd.h), and
 * compares crypt(3) of the password with the stored hash.
 *
 * Interface:
 *   argv   checkpw [PROG...]: on success PROG is executed with the
 *          same fds and environment; without PROG checkpw exits 0.
 *   fd 3   "user\0password\0timestamp\0", at most CHECKPASS_MAX bytes,
 *          within CHECKPASS_TIMEOUT; the timestamp is not used.
 *   fd 2   one line on a temporary failure; never the password.
 *   env    QPOST_HOME (the home; ignored when set-uid).
 *   users/passwd.cdb  key: the name, its domain after the last '@' in
 *          lower case; value: the hash (yescrypt, bcrypt, sha512-crypt).
 *
 * Exit codes: 0 the password is right (or PROG's own); 1 it is wrong,
 * the user is unknown or locked, or the input is malformed or too long;
 * 2 fd 3 is not open; 111 a temporary failure (no readable cdb, a hash
 * crypt cannot compute, a read error or timeout on fd 3, a failed exec).
 *
 * Privilege: none; needs read access to users/passwd.cdb only.  Core
 * dumps are turned off first; the password and crypt's work area are
 * wiped before exit or exec.  An unknown or locked user costs the same
 * crypt as a known one, against a fixed dummy hash, and hashes are
 * compared in constant time, so timing does not tell who exists.
 */
#include <cdb.h>
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "checkpass.h"
#include "err.h"
#include "home.h"
#include "passwd.h"
#include "str.h"

/* yescrypt of a password nobody has, at libxcrypt's default cost */
#define DUMMY_HASH "$y$j9T$cQs5Rrxeky5OKacnVmMlF0$" \
	"SXUhpjyu2ce6ha.xvty4VK/QTwLkDPA1yR7oUie0gjA"

static checkpass cp;
static struct crypt_data cd;	/* 32 KB: not on the stack */
static char hash[PASSWD_HASH_MAX + 1];
static char name[PASSWD_NAME_MAX + 1];	/* for the log, without cp */

static void
wipe(void)
{
	explicit_bzero(&cd, sizeof cd);
	explicit_bzero(hash, sizeof hash);
}

static noreturn void
die_temp(const char *what, const char *path, int sys)
{
	wipe();
	checkpass_wipe(&cp);
	if (sys)
		err_diesys(CHECKPASS_TEMP, what, path, (const char *)0);
	err_die(CHECKPASS_TEMP, what, path, (const char *)0);
}

/* lookup - the stored hash of user into hash; 1 found, 0 not */
static int
lookup(const char *user, size_t n)
{
	str path = STR_INIT, key = STR_INIT;
	struct cdb c;
	unsigned len;
	int fd, r;

	if (home_path(&path, "users/passwd.cdb") < 0 ||
	    passwd_key(&key, user, n) < 0)
		die_temp("out of memory", "", 0);
	fd = open(path.s, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die_temp("unable to open ", path.s, 1);
	if (cdb_init(&c, fd) < 0)
		die_temp("unable to read ", path.s, 1);
	r = cdb_find(&c, key.s, (unsigned)key.len);
	if (r < 0)
		die_temp("unable to read ", path.s, 1);
	if (r > 0) {
		len = cdb_datalen(&c);
		if (len > PASSWD_HASH_MAX)
			die_temp("hash too long in ", path.s, 0);
		if (cdb_read(&c, hash, len, cdb_datapos(&c)) < 0)
			die_temp("unable to read ", path.s, 1);
		hash[len] = 0;
	}
	cdb_free(&c);
	close(fd);
	explicit_bzero(key.s, key.len);
	str_free(&key);
	str_free(&path);
	return r > 0;
}

/* same - do a and b hold the same string?  Every byte of b is looked
 * at whatever a holds: the time depends on b's length only. */
static int
same(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i;
	unsigned char d = la != lb;

	for (i = 0; i < lb; i++)
		d |= (unsigned char)(a[i < la ? i : 0] ^ b[i]);
	return d == 0;
}

int
main(int argc, char **argv)
{
	const char *setting, *out;
	int r, known;

	(void)argc;
	err_prog = "checkpw";
	err_help(argc, argv, "usage: checkpw [prog...] "
	    "3< user\\0password\\0timestamp\\0");
	checkpass_start(&cp, "usage: checkpw [prog...] "
	    "3< user\\0password\\0timestamp\\0");

	known = passwd_name(cp.user, cp.userlen) == 0 &&
	    lookup(cp.user, cp.userlen) &&
	    !passwd_locked(hash, strlen(hash));
	setting = known ? hash : DUMMY_HASH;
	out = crypt_rn(cp.pass, setting, &cd, sizeof cd);
	if (!out || out[0] == '*') {
		/* an unknown scheme or a corrupt hash: the admin's to fix */
		if (known) {
			memcpy(name, cp.user, cp.userlen + 1);
			die_temp("unable to check the stored hash of ", name, 0);
		}
		die_temp("unable to check the dummy hash", "", 0);
	}
	r = known && same(out, setting);
	wipe();
	if (!r)
		checkpass_exit(&cp, CHECKPASS_NO);
	checkpass_yes(&cp, argv + 1);
}
