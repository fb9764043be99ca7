/* newu - compile users/assign into users/assign.cdb, as qmail-newu does.
 *
 * Usage: newu   (no arguments; the home is $QPOST_HOME, else conf-home)
 *
 * users/assign is in qmail-users(5) format, one entry a line:
 *   =local:user:uid:gid:home:dash:ext:   exactly this local part
 *   +prefix:user:uid:gid:home:dash:pre:  any local part starting with
 *                                        prefix; ext = pre + the rest
 * and a line with a single "." at the end (as in qmail, so that a
 * truncated file is noticed).  Blank lines and "#" lines are skipped.
 * A uid or gid must fit uid_t and gid_t (4294967297 is refused, not cut
 * down to uid 1).  Local parts are stored in lower case.  The cdb layout
 * (qmail-newu's) is described in recip.c and docs/local.md.
 *
 * The new cdb is written to users/assign.cdb.tmp, fsynced and renamed over
 * users/assign.cdb, and users/ is fsynced: readers see the old file or
 * the new one, never a partial one.
 *
 * Exit codes: 0 done, 100 users/assign has a syntax error (line number
 * reported; the old cdb stays), 111 a system error. */
#include <cdb.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "commit.h"
#include "control.h"
#include "err.h"
#include "home.h"
#include "recip.h"
#include "str.h"

#define ASSIGN_FIELDS 7		/* local user uid gid home dash ext */
#define ASSIGN_MAX (64 * 1024 * 1024)	/* largest users/assign read */

static str input = STR_INIT;
static str tmp = STR_INIT;	/* users/assign.cdb.tmp */

static noreturn void
die_format(size_t line, const char *why)
{
	str n = STR_INIT;

	if (str_putu(&n, line) < 0 || str_0(&n) < 0)
		err_nomem();
	if (tmp.len)
		unlink(tmp.s);
	err_die(100, "users/assign line ", n.s, ": ", why, (const char *)0);
}

static void
slurp(const char *path)
{
	int r = control_readpath(&input, path, ASSIGN_MAX);

	if (r == 0)
		errno = ENOENT;
	if (r <= 0)
		err_diesys(111, "unable to read ", path, (const char *)0);
}

int
main(int argc, char **argv)
{
	str src = STR_INIT, dst = STR_INIT, dir = STR_INIT;
	str key = STR_INIT, val = STR_INIT, wild = STR_INIT;
	struct cdb_make cm;
	const char *f[ASSIGN_FIELDS];
	size_t fl[ASSIGN_FIELDS];
	unsigned long id;
	size_t i = 0, lineno = 0, n, k, p;
	const char *step;
	int fd, ended = 0;

	err_prog = "newu";
	err_help(argc, argv, "usage: newu");
	umask(022);
	if (home_path(&src, "users/assign") < 0 ||
	    home_path(&dst, "users/assign.cdb") < 0 ||
	    home_path(&tmp, "users/assign.cdb.tmp") < 0 ||
	    home_path(&dir, "users") < 0)
		err_nomem();
	slurp(src.s);

	fd = open(tmp.s, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		err_diesys(111, "unable to create ", tmp.s, (const char *)0);
	if (cdb_make_start(&cm, fd) < 0)
		err_diesys(111, "unable to start ", tmp.s, (const char *)0);

	while (i < input.len && !ended) {
		const char *s = input.s + i;
		const char *lf = memchr(s, '\n', input.len - i);

		n = lf ? (size_t)(lf - s) : input.len - i;
		i += n + 1;
		lineno++;
		if (!lf)
			die_format(lineno, "the last line has no newline");
		if (n == 1 && s[0] == '.') {
			ended = 1;
			break;
		}
		if (!n || s[0] == '#')
			continue;
		if (s[0] != '=' && s[0] != '+')
			die_format(lineno, "not a = or + line");
		if (memchr(s, 0, n))
			die_format(lineno, "NUL byte");
		/* split s+1 on ':' into ASSIGN_FIELDS fields and a final
		 * empty remainder, as qmail-users lines end with ':' */
		for (k = 0, p = 1; k < ASSIGN_FIELDS; k++) {
			const char *c = memchr(s + p, ':', n - p);

			if (!c)
				die_format(lineno, "too few fields");
			f[k] = s + p;
			fl[k] = (size_t)(c - (s + p));
			p += fl[k] + 1;
		}
		if (p != n)
			die_format(lineno, "bytes after the last field");
		/* a uid or gid that does not fit uid_t and gid_t would be
		 * cut down to another one (4294967297 to uid 1) */
		if (!fl[1] || recip_id(f[2], fl[2], &id) < 0 ||
		    recip_id(f[3], fl[3], &id) < 0 || !fl[4] || f[4][0] != '/')
			die_format(lineno, "bad user, uid, gid or home");
		if (fl[0] > ADDR_MAX)
			die_format(lineno, "local part too long");
		key.len = 0;
		if (str_putc(&key, '!') < 0 || str_put(&key, f[0], fl[0]) < 0)
			err_nomem();
		addr_lower(key.s + 1, fl[0]);
		if (s[0] == '=') {
			if (str_putc(&key, 0) < 0)
				err_nomem();
		} else if (fl[0] && (!wild.len || !memchr(wild.s,
		    key.s[key.len - 1], wild.len)) &&
		    str_putc(&wild, key.s[key.len - 1]) < 0)
			err_nomem();
		val.len = 0;
		for (k = 1; k < ASSIGN_FIELDS; k++)
			if (str_put(&val, f[k], fl[k]) < 0 ||
			    str_putc(&val, 0) < 0)
				err_nomem();
		if (cdb_make_add(&cm, key.s, (unsigned)key.len, val.s,
		    (unsigned)val.len) < 0)
			err_diesys(111, "unable to write ", tmp.s,
			    (const char *)0);
	}
	if (!ended)
		die_format(lineno + 1, "no final \".\" line");
	if (cdb_make_add(&cm, "", 0, wild.s ? wild.s : "",
	    (unsigned)wild.len) < 0 || cdb_make_finish(&cm) < 0)
		err_diesys(111, "unable to write ", tmp.s, (const char *)0);
	if (commit_file(fd, tmp.s, dst.s, dir.s, &step) < 0)
		err_diesys(111, "unable to ", step, " ", dst.s,
		    (const char *)0);
	return 0;
}
