/* local - deliver one message to one local recipient, qmail-local style.
 *
 * Usage: local USER UID GID HOMEDIR LOCAL DASH EXT DOMAIN SENDER
 *   The recipient as send's lookup found it (qmail-local's argv, with the
 *   uid and gid added): USER the account, UID and GID its ids, HOMEDIR
 *   its home, LOCAL the local part after control/virtualdomains (lower
 *   case), DASH "" or "-", EXT the extension, DOMAIN the recipient's
 *   domain; SENDER the envelope sender (may be empty: a bounce).
 * fd 0: the message (seekable, LF line ends, exactly the message bytes).
 * fd 1, fd 2: the report channel; the last line written is the one-line
 * reason that goes into the log and into a bounce, ending with its status
 * the qmail way, "(#5.1.1)"; "local: info: " lines are for the log only.
 * Environment: QPOST_HOME (the home), QPOST_QUEUE (for forwards).
 *
 * local looks nothing up: send decided (recip.h: control/locals,
 * control/virtualdomains, users/assign.cdb, system accounts, the alias
 * user) and handed the result down.  local becomes that user (when it
 * starts as root; under qpost-spawn it already is), changes to the home,
 * finds the .qmail file for the extension (.qmail-ext, then the -default
 * forms, as qmail-local does; control/defaultdelivery when the user has no
 * .qmail at all) and follows every line of it: "./Maildir/" (a path ending
 * in '/') is a Maildir, another path an mbox, "|cmd" a program run by
 * /bin/sh -c, "&addr" or a bare address a forward, "#" a comment.
 * Return-Path: and Delivered-To: are added on top of stored messages; a
 * message already carrying this recipient's Delivered-To: is a loop.
 *
 * Exit codes: 0 delivered, 100 permanent failure (bounce), 111 temporary
 * failure (try again later).  Disk full, an unwritable mailbox, a missing
 * Maildir, a crashed program or one over control/timeoutprogram (killed
 * with its whole process group), a home or .qmail writable by others or
 * by an untrusted group (control/trustedgroups) and a .qmail owned by
 * neither the user nor root are temporary.
 *
 * local -W is a worker for qpost-spawn (qpost-spawn.c's header has the
 * protocol): started as one account, it runs one such delivery after
 * another, each handed over the socket on its fd 0 with the message and
 * the report pipe, and answers "0" for each that succeeds; a delivery
 * that fails ends it with that delivery's exit code, as above.  Nothing
 * of one delivery is left for the next: the message is unmapped, the
 * counts and control values are reset, the environment is set anew, and
 * between deliveries its cwd is /.
 *
 * Privilege: qpost-spawn runs it as the recipient already.  Started as
 * root (a single-user home run by root), local sets the groups, gid and
 * uid of argv (in that order, each checked) before it opens any of the
 * user's files; it refuses uid 0 and gid 0 and ids that do not fit.  Run
 * as anybody else it delivers with its own rights (a single-user home). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "commit.h"
#include "control.h"
#include "dotqmail.h"
#include "dsn.h"
#include "err.h"
#include "home.h"
#include "num.h"
#include "qq.h"
#include "recip.h"
#include "spawn.h"
#include "str.h"

#define MSG_READ_MAX (1024UL * 1024 * 1024)	/* non-file fd 0 */
#define MAILDIR_TRIES 5		/* unique-name attempts in tmp/ */
#define MAILDIR_TMP_OLD (36 * 3600)	/* the protocol's 36 hours, seconds */
#define MAILDIR_TMP_SCAN 64	/* tmp/ entries looked at per delivery */
#define LOCK_TRIES 60		/* x LOCK_WAIT_MS: waiting for an mbox lock */
#define LOCK_WAIT_MS 250
#define MBOX_OPEN_TRIES 5	/* open-or-create races lost in a row */
#define DOTLOCK_STALE 600	/* seconds: an older dotlock is removed */
#define HOST_MAX 256
#define LOCAL_ARGC 10		/* local user uid gid home local dash ext
				 * domain sender */
#define PROG_TAIL_MAX 2048	/* tail of a program's output kept */
#define PROG_TEXT_MAX 400	/* bytes of it in the reason (the bounce) */
#define PROG_KILL_AGAIN 1	/* seconds between kills after a timeout */
#define TRUSTED_GROUPS_MAX 64	/* entries of control/trustedgroups used */
#define WORKER_REQ_MAX (LOCAL_ARGC * (ADDR_MAX + 1))	/* -W's largest request */

static const char *msg;		/* the message, as read from fd 0 */
static size_t msglen;
static int msgmapped;		/* msg is a mapping of fd 0 */
static str rpline = STR_INIT;	/* "Return-Path: <sender>\n" */
static str dtline = STR_INIT;	/* "Delivered-To: local@domain\n" */
static str ufline = STR_INIT;	/* "From sender date\n" for mboxes */
static unsigned long nfile, nforward, nprog;
static unsigned long prog_timeout;	/* control/timeoutprogram, seconds */
static volatile pid_t prog_group;	/* the running program's group */
static volatile sig_atomic_t prog_expired;
static gid_t trusted[TRUSTED_GROUPS_MAX];	/* control/trustedgroups */
static size_t ntrusted;
static int dropped;		/* started as root, now the recipient */
static int worker_mode;		/* local -W: one account's deliveries */

static noreturn void
die_nomem(void)
{
	err_nomem();
}

static noreturn void
die_usage(void)
{
	err_die(111, "usage: local user uid gid homedir local dash ext "
	    "domain sender (#4.3.0)", (const char *)0);
}

/* die_write - a failed write: disk full and quota are named, since
 * they clear by themselves; always temporary. */
static noreturn void
die_write(const char *what, const char *path)
{
	if (errno == ENOSPC || errno == EDQUOT)
		err_diesys(111, "unable to write ", what, " ", path,
		    " (disk full or over quota) (#4.3.0)", (const char *)0);
	err_diesys(111, "unable to write ", what, " ", path, " (#4.3.0)",
	    (const char *)0);
}

/* read_message - the message as (msg, msglen): mapped when fd 0 is a
 * file, as the contract says it is; read into memory otherwise. */
static void
read_message(void)
{
	static str x = STR_INIT;
	struct stat st;
	ssize_t r;

	x.len = 0;
	if (fstat(0, &st) < 0)
		err_diesys(111, "unable to stat the message", (const char *)0);
	if (S_ISREG(st.st_mode)) {
		msglen = (size_t)st.st_size;
		msg = "";
		if (!msglen)
			return;
		msg = mmap(0, msglen, PROT_READ, MAP_SHARED, 0, 0);
		if (msg == MAP_FAILED)
			err_diesys(111, "unable to map the message",
			    (const char *)0);
		msgmapped = 1;
		return;
	}
	for (;;) {
		if (str_ready(&x, 65536) < 0)
			die_nomem();
		r = read(0, x.s + x.len, x.a - x.len - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err_diesys(111, "unable to read the message",
			    (const char *)0);
		}
		if (!r)
			break;
		x.len += (size_t)r;
		if (x.len > MSG_READ_MAX)
			err_die(111, "message too large to read from a pipe",
			    (const char *)0);
	}
	msg = x.s ? x.s : "";
	msglen = x.len;
}

/* ieq - ASCII case-insensitive comparison of n bytes */
static int
ieq(const char *a, const char *b, size_t n)
{
	return strncasecmp(a, b, n) == 0;
}

/* check_loop - a Delivered-To: for this recipient in the header is a
 * loop (qmail compares the whole line; we ignore case and spacing). */
static void
check_loop(const char *rcpt, size_t rn)
{
	size_t i = 0, n, k;
	const char *s, *lf;

	while (i < msglen) {
		s = msg + i;
		lf = memchr(s, '\n', msglen - i);
		n = lf ? (size_t)(lf - s) : msglen - i;
		i += n + 1;
		if (!n)
			break;		/* end of the header */
		if (n < 13 || !ieq(s, "Delivered-To:", 13))
			continue;
		k = 13;
		while (k < n && (s[k] == ' ' || s[k] == '\t'))
			k++;
		while (n > k && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
		    s[n - 1] == '\r'))
			n--;
		if (n - k == rn && ieq(s + k, rcpt, rn))
			err_die(100, "This message is looping: it already has "
			    "my Delivered-To line. (#5.4.6)", (const char *)0);
	}
}

/* hostname - this host's name, safe for a Maildir file name */
static void
hostname(str *out)
{
	char h[HOST_MAX + 1];
	size_t i;

	if (gethostname(h, HOST_MAX) < 0)
		memcpy(h, "localhost", 10);
	h[HOST_MAX] = 0;
	for (i = 0; h[i]; i++) {
		if (h[i] == '/') {
			if (str_puts(out, "\\057") < 0)
				die_nomem();
		} else if (h[i] == ':') {
			if (str_puts(out, "\\072") < 0)
				die_nomem();
		} else if (str_putc(out, h[i]) < 0)
			die_nomem();
	}
}

/* maildir_clean - the Maildir protocol's rule for tmp/: a file neither
 * read nor changed for 36 hours was left by a killed delivery and is
 * removed.  tmp/ is normally all but empty; at most MAILDIR_TMP_SCAN
 * entries are looked at per delivery, so a crowded tmp/ costs a bounded
 * amount, and every error is ignored: cleaning is a courtesy, never a
 * reason to fail a delivery. */
static void
maildir_clean(const char *dir)
{
	str t = STR_INIT;
	const struct dirent *e;
	struct stat st;
	DIR *d;
	time_t old = time(0) - MAILDIR_TMP_OLD;
	size_t n = 0;
	int dfd;

	if (str_copys(&t, dir) < 0 || str_puts(&t, "tmp") < 0 ||
	    str_0(&t) < 0)
		die_nomem();
	dfd = open(t.s, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	str_free(&t);
	if (dfd < 0)
		return;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	while (n++ < MAILDIR_TMP_SCAN && (e = readdir(d)) != 0) {
		if (e->d_name[0] == '.')
			continue;
		if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (st.st_atime < old && st.st_mtime < old)
			(void)unlinkat(dfd, e->d_name, 0);
	}
	closedir(d);
}

/* maildir_name - a new unique name (time, microseconds, pid, a count
 * and the host), and the paths dir/tmp/name and dir/new/name */
static void
maildir_name(const char *dir, str *name, str *tmp, str *new)
{
	static unsigned long count;
	static str host = STR_INIT;
	struct timeval tv;

	if (!host.len)
		hostname(&host);
	gettimeofday(&tv, 0);
	name->len = 0;
	if (str_putu(name, (unsigned long long)tv.tv_sec) < 0 ||
	    str_puts(name, ".M") < 0 ||
	    str_putu(name, (unsigned long long)tv.tv_usec) < 0 ||
	    str_putc(name, 'P') < 0 ||
	    str_putu(name, (unsigned long long)getpid()) < 0 ||
	    str_putc(name, 'Q') < 0 || str_putu(name, ++count) < 0 ||
	    str_putc(name, '.') < 0 || str_put(name, host.s, host.len) < 0 ||
	    str_copys(tmp, dir) < 0 || str_puts(tmp, "tmp/") < 0 ||
	    str_put(tmp, name->s, name->len) < 0 || str_0(tmp) < 0 ||
	    str_copys(new, dir) < 0 || str_puts(new, "new/") < 0 ||
	    str_put(new, name->s, name->len) < 0 || str_0(new) < 0)
		die_nomem();
}

/* maildir_write - the delivered bytes to fd, made durable: 0, or -1
 * with errno */
static int
maildir_write(int fd)
{
	if (fd_writeall(fd, rpline.s, rpline.len, -1) < 0 ||
	    fd_writeall(fd, dtline.s, dtline.len, -1) < 0 ||
	    fd_writeall(fd, msg, msglen, -1) < 0 || fsync(fd) < 0)
		return -1;
	return 0;
}

/* maildir_sync - fsync dir/new/ after name was linked into it; on
 * failure take the name back (a delivery that may not survive a power
 * loss must not look like one), unlink also (0 or the tmp/ name) and
 * fail */
static void
maildir_sync(const char *dir, const str *name, const char *also)
{
	str d = STR_INIT, f = STR_INIT;
	int e;

	if (str_copys(&d, dir) < 0 || str_puts(&d, "new/") < 0 ||
	    str_0(&d) < 0)
		die_nomem();
	if (commit_sync(d.s) == 0) {
		str_free(&d);
		nfile++;
		return;
	}
	e = errno;
	if (str_copy(&f, d.s, d.len) >= 0 &&
	    str_put(&f, name->s, name->len) >= 0 && str_0(&f) >= 0)
		unlink(f.s);
	if (also)
		unlink(also);
	errno = e;
	die_write("the directory", d.s);
}

/* maildir_unnamed - the delivery as an unnamed file in tmp/
 * (commit_unnamed), written and synced, then linked straight into new/
 * under its unique name and new/ synced: 0 delivered.  new/ still gets
 * only whole, durable files, as the Maildir protocol wants, and no tmp/
 * name is made or removed: one directory write fewer a delivery.  -1
 * where the system has no unnamed files or the link fails but for a
 * name clash: nothing is left behind, and the caller goes the classic
 * way. */
static int
maildir_unnamed(const char *dir, str *tmp, str *new, str *name)
{
	int fd, tries, e;

	if (str_copys(tmp, dir) < 0 || str_puts(tmp, "tmp") < 0 ||
	    str_0(tmp) < 0)
		die_nomem();
	fd = commit_unnamed(tmp->s, 0600);
	if (fd < 0)
		return -1;
	if (maildir_write(fd) < 0)
		die_write("the message to", tmp->s);	/* (and exit) */
	for (tries = 0;; tries++) {
		maildir_name(dir, name, tmp, new);
		if (commit_link(fd, new->s) == 0)
			break;
		if (errno != EEXIST || tries >= MAILDIR_TRIES) {
			close(fd);
			return -1;
		}
	}
	if (close(fd) < 0) {
		e = errno;
		unlink(new->s);
		errno = e;
		die_write("the message to", new->s);
	}
	maildir_sync(dir, name, 0);
	return 0;
}

/* maildir - the Maildir protocol: a unique name in tmp/, write, fsync,
 * link into new/, fsync new/, remove the tmp/ name (maildir_unnamed
 * first: the same without the tmp/ name).  Nothing is left in new/
 * unless all of it is there and durable. */
static void
maildir(const char *dir)
{
	str tmp = STR_INIT, new = STR_INIT, name = STR_INIT;
	int fd = -1, tries;

	maildir_clean(dir);
	if (maildir_unnamed(dir, &tmp, &new, &name) == 0)
		goto done;
	for (tries = 0;; tries++) {
		maildir_name(dir, &name, &tmp, &new);
		fd = open(tmp.s, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
		    O_NOFOLLOW, 0600);
		if (fd >= 0)
			break;
		if (errno != EEXIST || tries >= MAILDIR_TRIES)
			err_diesys(111, "unable to create ", tmp.s,
			    " (#4.2.1)", (const char *)0);
	}
	if (maildir_write(fd) < 0 || close(fd) < 0) {
		int e = errno;

		unlink(tmp.s);
		errno = e;
		die_write("the message to", tmp.s);
	}
	if (link(tmp.s, new.s) < 0) {
		int e = errno;

		unlink(tmp.s);
		errno = e;
		err_diesys(111, "unable to link ", tmp.s, " to ", new.s,
		    " (#4.2.1)", (const char *)0);
	}
	maildir_sync(dir, &name, tmp.s);
	unlink(tmp.s);
done:
	str_free(&tmp);
	str_free(&new);
	str_free(&name);
}

/* mbox_write - the message with ">From " quoting (any line matching
 * ^>*From gets one more '>'), ending in a newline and a blank line */
static int
mbox_write(int fd)
{
	str b = STR_INIT;
	size_t i = 0, n, q;
	const char *s, *lf;
	int r = 0;

	if (str_put(&b, ufline.s, ufline.len) < 0 ||
	    str_put(&b, rpline.s, rpline.len) < 0 ||
	    str_put(&b, dtline.s, dtline.len) < 0)
		die_nomem();
	while (i < msglen) {
		s = msg + i;
		lf = memchr(s, '\n', msglen - i);
		n = lf ? (size_t)(lf - s) + 1 : msglen - i;
		i += n;
		for (q = 0; q < n && s[q] == '>'; q++)
			;
		if (n - q >= 5 && !memcmp(s + q, "From ", 5) &&
		    str_putc(&b, '>') < 0)
			die_nomem();
		if (str_put(&b, s, n) < 0)
			die_nomem();
		if (b.len >= 65536) {
			if (fd_writeall(fd, b.s, b.len, -1) < 0)
				goto fail;
			b.len = 0;
		}
	}
	if (msglen && msg[msglen - 1] != '\n' && str_putc(&b, '\n') < 0)
		die_nomem();
	if (str_putc(&b, '\n') < 0)
		die_nomem();
	if (fd_writeall(fd, b.s, b.len, -1) < 0)
		goto fail;
	str_free(&b);
	return 0;
fail:
	r = errno;
	str_free(&b);
	errno = r;
	return -1;
}

static void
nap(void)
{
	struct timespec ts = { 0, LOCK_WAIT_MS * 1000000L };

	nanosleep(&ts, 0);
}

/* dotlock - "path.lock" made by link() of a unique file (safe over NFS).
 * 1 locked, 0 the directory does not allow it (go on with fcntl only). */
static int
dotlock(const char *path, str *lock)
{
	str tmp = STR_INIT;
	struct stat st;
	int fd, i;

	if (str_copys(lock, path) < 0 || str_puts(lock, ".lock") < 0 ||
	    str_0(lock) < 0 || str_copys(&tmp, path) < 0 ||
	    str_puts(&tmp, ".lock.") < 0 ||
	    str_putu(&tmp, (unsigned long long)getpid()) < 0 ||
	    str_0(&tmp) < 0)
		die_nomem();
	fd = open(tmp.s, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		int e = errno;

		if (e == EACCES || e == EPERM || e == EROFS) {
			str_free(&tmp);
			return 0;
		}
		err_diesys(111, "unable to create ", tmp.s, (const char *)0);
	}
	close(fd);
	for (i = 0; i < LOCK_TRIES; i++) {
		if (link(tmp.s, lock->s) == 0)
			break;
		if (errno != EEXIST) {
			unlink(tmp.s);
			str_free(&tmp);
			return 0;
		}
		if (stat(lock->s, &st) == 0 &&
		    st.st_mtime + DOTLOCK_STALE < time(0))
			unlink(lock->s);
		nap();
	}
	unlink(tmp.s);
	str_free(&tmp);
	if (i == LOCK_TRIES)
		err_die(111, "mailbox ", path, " is locked (#4.2.1)",
		    (const char *)0);
	return 1;
}

/* dir_sync - fsync the directory holding path (a name just made) */
static int
dir_sync(const char *path)
{
	str d = STR_INIT;
	const char *slash = strrchr(path, '/');
	int fd, r, e;

	if (!slash) {
		if (str_copys(&d, ".") < 0)
			die_nomem();
	} else if (str_copy(&d, path, slash == path ? 1 :
	    (size_t)(slash - path)) < 0)
		die_nomem();
	if (str_0(&d) < 0)
		die_nomem();
	fd = open(d.s, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	str_free(&d);
	if (fd < 0)
		return -1;
	r = fsync(fd);
	e = errno;
	close(fd);
	errno = e;
	return r;
}

/* mbox - append with a From_ line, fcntl lock and a dotlock where the
 * directory allows; a failure truncates the mbox back to where it was. */
static void
mbox(const char *path)
{
	str lock = STR_INIT;
	struct flock fl;
	off_t pos;
	int fd = -1, i, dot, created = 0;

	dot = dotlock(path, &lock);
	/* Made here, the file's name must be made durable too: so know
	 * whether this open created it. */
	for (i = 0; i < MBOX_OPEN_TRIES; i++) {
		fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (fd >= 0 || errno != ENOENT)
			break;
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL |
		    O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST) {
			created = fd >= 0;
			break;
		}
	}
	if (fd < 0) {
		int e = errno;

		if (dot)
			unlink(lock.s);
		errno = e;
		err_diesys(111, "unable to open ", path, " (#4.2.1)",
		    (const char *)0);
	}
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	for (i = 0; fcntl(fd, F_SETLK, &fl) < 0; i++) {
		if ((errno != EACCES && errno != EAGAIN) || i >= LOCK_TRIES) {
			if (dot)
				unlink(lock.s);
			err_die(111, "unable to lock ", path, " (#4.2.1)",
			    (const char *)0);
		}
		nap();
	}
	pos = lseek(fd, 0, SEEK_END);
	if (pos < 0 || mbox_write(fd) < 0 || fsync(fd) < 0 ||
	    (created && dir_sync(path) < 0)) {
		int e = errno;

		if (pos >= 0 && ftruncate(fd, pos) == 0)
			fsync(fd);
		if (dot)
			unlink(lock.s);
		errno = e;
		die_write("the mailbox", path);
	}
	close(fd);		/* drops the fcntl lock */
	if (dot)
		unlink(lock.s);
	str_free(&lock);
	nfile++;
}

/* prog_text - the program's output for the reason: the last
 * PROG_TEXT_MAX bytes of its non-empty lines joined by " / ", every
 * control or 8-bit byte as '?' (the bounce goes to the outside world);
 * st gets the status of the last "(#c.s.d)" in its last line. */
static void
prog_text(str *out, const str *tail, int cut, char st[DSN_STATUS_MAX])
{
	size_t i = 0, e, n = tail->len, start;

	out->len = 0;
	st[0] = 0;
	if (cut)	/* the first line is a fragment: drop it */
		while (i < n && tail->s[i++] != '\n')
			;
	if (i >= n)
		i = 0;
	for (; i < n; i = e + 1) {
		size_t k, b;

		for (e = i; e < n && tail->s[e] != '\n'; e++)
			;
		for (k = i; k < e && (tail->s[k] == ' ' || tail->s[k] == '\t' ||
		    tail->s[k] == '\r'); k++)
			;
		if (k == e)
			continue;
		if (out->len && str_puts(out, " / ") < 0)
			die_nomem();
		b = out->len;
		for (k = i; k < e; k++) {
			unsigned char c = (unsigned char)tail->s[k];

			if (c == '\t')
				c = ' ';
			else if (c < 32 || c >= 127)
				c = '?';
			if (str_putc(out, (char)c) < 0)
				die_nomem();
		}
		while (out->len > b && out->s[out->len - 1] == ' ')
			out->len--;
		st[0] = 0;	/* only the last line's status counts */
		(void)dsn_hash(out->s + b, out->len - b, st);
	}
	if (out->len > PROG_TEXT_MAX) {
		start = out->len - PROG_TEXT_MAX;
		memmove(out->s + 3, out->s + start, PROG_TEXT_MAX);
		memcpy(out->s, "...", 3);
		out->len = PROG_TEXT_MAX + 3;
	}
	if (str_0(out) < 0)
		die_nomem();
}

/* info - a "local: info: " line for the log only, naming the message
 * by the ID send gave in $QPOST_MSGID ("msg ID: "), when there is one */
static void
info(const char *a, const char *b, const char *c)
{
	const char *id = getenv("QPOST_MSGID");

	if (id && *id)
		err_info("info: msg ", id, ": ", a, b, c, (const char *)0);
	else
		err_info("info: ", a, b, c, (const char *)0);
}

/* prog_fail - a program failed (what, and its exit code or signal n):
 * the command line goes only to the log (an info line, docs/local.md);
 * the bounce gets the program's output and the status it gave the qmail
 * way, "(#5.1.1)", in the class our exit code says, else dflt (always
 * dflt for a crash: the status is then ours). */
static noreturn void
prog_fail(int code, const char *what, int n, const char *cmd,
    const str *tail, int cut, const char *dflt, int theirs)
{
	str t = STR_INIT, x = STR_INIT;
	char st[DSN_STATUS_MAX];
	size_t k;

	if (str_puts(&x, "program ") < 0 || str_puts(&x, what) < 0 ||
	    str_putu(&x, (unsigned long long)n) < 0 || str_putc(&x, ')') < 0 ||
	    str_0(&x) < 0)
		die_nomem();
	info(x.s, ": ", cmd);
	prog_text(&t, tail, cut, st);
	if (!st[0] || !theirs)
		strcpy(st, dflt);
	st[0] = code == 100 ? '5' : '4';
	if (t.len && (str_puts(&x, ": ") < 0 || str_put(&x, t.s, t.len) < 0))
		die_nomem();
	/* the status once, at the end: where send looks for it */
	k = strlen(st);
	if (!(x.len >= k + 3 && x.s[x.len - k - 3] == '(' &&
	    x.s[x.len - k - 2] == '#' && x.s[x.len - 1] == ')' &&
	    !memcmp(x.s + x.len - k - 1, st, k)))
		if (str_puts(&x, " (#") < 0 || str_puts(&x, st) < 0 ||
		    str_putc(&x, ')') < 0)
			die_nomem();
	if (str_0(&x) < 0)
		die_nomem();
	err_die(code, x.s, (const char *)0);
}

/* prog_alarm - the program's time is up: kill its whole process group
 * (grandchildren too) and come back every PROG_KILL_AGAIN seconds, so
 * that a read or wait entered just before this still ends. */
static void
prog_alarm(int sig)
{
	(void)sig;
	prog_expired = 1;
	if (prog_group > 0)
		(void)kill(-prog_group, SIGKILL);
	alarm(PROG_KILL_AGAIN);
}

/* program - "|cmd": /bin/sh -c cmd in the home, the message on stdin
 * from its first byte.  Returns 1 when the program asked to stop (99).
 * Its output is passed on, and its tail kept for the reason if it fails
 * (qmail-local's way: ezmlm, maildrop and vacation explain themselves
 * there). */
static int
program(const char *cmd)
{
	static str tail = STR_INIT;
	char b[4096], last = '\n';
	char *argv[4];
	struct sigaction sa;
	struct spawn_fd out[2];
	/* a group of its own: a timeout kills what it started too */
	struct spawn sp = { .fds = out, .nfds = 2, .pgrp = 1,
	    .failcode = 111 };
	pid_t pid;
	ssize_t r;
	int st, p[2], cut = 0;

	if (lseek(0, 0, SEEK_SET) < 0 && errno != ESPIPE)
		err_diesys(111, "unable to rewind the message",
		    (const char *)0);
	if (pipe2(p, O_CLOEXEC) < 0)
		err_diesys(111, "unable to make a pipe", (const char *)0);
	out[0].from = out[1].from = p[1];
	out[0].to = 1;
	out[1].to = 2;
	argv[0] = (char *)(unsigned long)"/bin/sh";
	argv[1] = (char *)(unsigned long)"-c";
	argv[2] = (char *)(unsigned long)cmd;
	argv[3] = 0;
	pid = spawn_run(argv, &sp);
	if (pid < 0)
		err_diesys(111, "unable to fork", (const char *)0);
	/* Both sides set the group, so it exists before the alarm can
	 * fire (EACCES: the child has already run exec, and set it). */
	(void)setpgid(pid, pid);
	prog_group = pid;
	prog_expired = 0;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = prog_alarm;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;	/* no SA_RESTART: read and waitpid see EINTR */
	if (sigaction(SIGALRM, &sa, 0) < 0)
		err_diesys(111, "unable to set a timer (#4.3.0)",
		    (const char *)0);
	alarm((unsigned int)prog_timeout);
	/* The program's output goes on to our report channel, ended with
	 * a newline so that our own last line stays a line of its own. */
	close(p[1]);
	tail.len = 0;
	for (;;) {
		r = read(p[0], b, sizeof b);
		if (r < 0 && errno == EINTR && !prog_expired)
			continue;
		if (r <= 0)
			break;
		(void)fd_writeall(1, b, (size_t)r, -1);
		last = b[r - 1];
		if (str_put(&tail, b, (size_t)r) < 0)
			die_nomem();
		if (tail.len > PROG_TAIL_MAX) {
			memmove(tail.s, tail.s + tail.len - PROG_TAIL_MAX,
			    PROG_TAIL_MAX);
			tail.len = PROG_TAIL_MAX;
			cut = 1;
		}
	}
	close(p[0]);
	if (last != '\n')
		(void)fd_writeall(1, "\n", 1, -1);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			err_diesys(111, "unable to wait for the program",
			    (const char *)0);
	/* Reaped: the group's number may be reused from now on. */
	prog_group = 0;
	alarm(0);
	nprog++;
	if (prog_expired) {
		char n[NUM_LEN];

		info("program timed out: ", cmd, "");
		err_die(111, "program timed out after ",
		    num_fmt(n, prog_timeout), " seconds and was killed "
		    "(control/timeoutprogram) (#4.3.0)", (const char *)0);
	}
	if (!WIFEXITED(st))
		prog_fail(111, "crashed (signal ", WTERMSIG(st), cmd, &tail,
		    cut, "4.3.0", 0);
	switch (WEXITSTATUS(st)) {
	case 0:
		return 0;
	case 99:
		return 1;
	case 100:
		prog_fail(100, "failed permanently (exit ", 100, cmd, &tail,
		    cut, "5.2.0", 1);
	default:
		prog_fail(111, "failed temporarily (exit ", WEXITSTATUS(st),
		    cmd, &tail, cut, "4.2.0", 1);
	}
}

/* forward - one new message to every forward address: the same sender,
 * this delivery's Delivered-To: on top of the message as it came. */
static void
forward(const char *sender, const str *to, size_t count)
{
	qq q;
	size_t pos = 0;
	int code;

	if (!count)
		return;
	/* not our user's mail: queue records no origin, remote does not
	 * sign it (docs/dkim.md) */
	if (setenv("QPOST_FORWARD", "1", 1) < 0)
		err_nomem();
	if (qq_open(&q) < 0)
		err_diesys(111, "unable to run the queue program",
		    (const char *)0);
	qq_put(&q, dtline.s, dtline.len);
	qq_put(&q, msg, msglen);
	qq_from(&q, sender);
	while (pos < to->len) {
		qq_to(&q, to->s + pos);
		pos += strlen(to->s + pos) + 1;
	}
	code = qq_close(&q);
	if (code) {
		const char *t = qq_status(code), *sp = strchr(t, ' ');
		const char *hint = "";
		str st = STR_INIT;

		if (!sp)
			sp = t + strlen(t);
		if (str_copy(&st, t, (size_t)(sp - t)) < 0 || str_0(&st) < 0)
			die_nomem();
		/* A single-user home run by root: the queue is root's and
		 * bin/queue is not set-uid, so a recipient local became
		 * cannot queue (docs/local.md, "Forwards"). */
		if (qq_temp(code) && dropped && !getenv("QPOST_QUEUE") &&
		    strcmp(home_dir(), CONF_HOME))
			hint = ": in a single-user home run by root only the "
			    "alias user (root) can forward";
		err_die(qq_temp(code) ? 111 : 100, "unable to forward: ",
		    *sp ? sp + 1 : t, hint, " (#", st.s, ")", (const char *)0);
	}
	nforward += count;
}

static void
env(const char *name, const char *value, size_t n)
{
	str v = STR_INIT;

	if (str_copy(&v, value, n) < 0 || str_0(&v) < 0)
		die_nomem();
	if (setenv(name, v.s, 1) < 0)
		die_nomem();
	str_free(&v);
}

static void
envs(const char *name, const char *value)
{
	env(name, value, strlen(value));
}

/* root_alias - is r the alias user of a single-user home that root owns?
 * Root wrote that alias/ itself and nobody else controls it, so its
 * deliveries may run as root.  Every other uid-0 recipient is refused,
 * and in the multi-user installation (conf-home) alias/ belongs to an
 * account of its own (INSTALL). */
static int
root_alias(const struct recip *r)
{
	str a = STR_INIT;
	int yes;

	if (!strcmp(home_dir(), CONF_HOME))
		return 0;
	if (home_path(&a, "alias") < 0)
		die_nomem();
	yes = !strcmp(a.s, r->home.s) && !strcmp(r->user.s, "alias");
	str_free(&a);
	return yes;
}

/* become - the recipient's groups, gid and uid, in that order; a
 * worker checks that they are its own */
static void
become(const struct recip *r)
{
	/* a worker is its account already, and only that one's */
	if (worker_mode && (r->uid != getuid() || r->gid != getgid()))
		err_die(111, "a local worker was asked to deliver for another "
		    "account (#4.3.0)", (const char *)0);
	if (geteuid() != 0)
		return;
	if (r->uid == 0 || r->gid == 0) {
		if (r->uid == 0 && root_alias(r))
			return;
		err_die(111, "not allowed to deliver as root (#4.3.0)",
		    (const char *)0);
	}
	/* As qmail's prot_gid: the recipient's gid is the only group
	 * (initgroups would cost an NSS load per delivery). */
	if (setgroups(1, &r->gid) < 0)
		err_diesys(111, "unable to set groups", (const char *)0);
	if (setgid(r->gid) < 0 || getgid() != r->gid || getegid() != r->gid)
		err_diesys(111, "unable to set gid", (const char *)0);
	if (setuid(r->uid) < 0 || getuid() != r->uid || geteuid() != r->uid)
		err_diesys(111, "unable to set uid", (const char *)0);
	dropped = 1;
}

/* trusted_read - control/trustedgroups: the groups (names or numbers)
 * whose members the admin trusts with users' homes and .qmail files, a
 * group-writable one is accepted when it belongs to one of them.  Read
 * as root, before the uid change; a name nobody knows is skipped. */
static void
trusted_read(void)
{
	str list = STR_INIT;
	const char *g;
	const struct group *gr;
	unsigned long id;
	size_t pos = 0;
	int x = control_readlist(&list, "trustedgroups");

	if (x < 0)
		err_diesys(111, "unable to read control/trustedgroups "
		    "(#4.3.0)", (const char *)0);
	while ((g = control_next(&list, &pos)) != 0 &&
	    ntrusted < TRUSTED_GROUPS_MAX) {
		if (recip_id(g, strlen(g), &id) == 0)
			trusted[ntrusted++] = (gid_t)id;
		else if ((gr = getgrnam(g)) != 0)
			trusted[ntrusted++] = gr->gr_gid;
	}
	str_free(&list);
}

/* writable - may somebody but the owner change what st describes?  By
 * others always; by its group unless the admin trusts that group. */
static int
writable(const struct stat *st)
{
	size_t i;

	if (st->st_mode & S_IWOTH)
		return 1;
	if (!(st->st_mode & S_IWGRP))
		return 0;
	for (i = 0; i < ntrusted; i++)
		if (trusted[i] == st->st_gid)
			return 0;
	return 1;
}

/* checkhome - qmail-local's: a home others may write to (its group too,
 * unless trusted), or one marked sticky (the user is editing .qmail), is
 * not delivered to now */
static void
checkhome(void)
{
	struct stat st;

	if (stat(".", &st) < 0)
		err_diesys(111, "unable to stat the home directory (#4.3.0)",
		    (const char *)0);
	if (writable(&st))
		err_die(111, "Uh-oh: home directory is writable by ",
		    st.st_mode & S_IWOTH ? "others" : "its group (not in "
		    "control/trustedgroups)", " (#4.7.0)", (const char *)0);
	if (st.st_mode & S_ISVTX)
		err_die(111, "home directory is sticky: user is editing "
		    "his .qmail file (#4.2.1)", (const char *)0);
}

/* qmail_read - the .qmail file's contents; 0 when there is none */
static int
qmail_read(const struct recip *r, str *cmds)
{
	str name = STR_INIT;
	struct stat st;
	size_t state = 0, def;
	ssize_t n;
	int x, fd = -1;

	while ((x = recip_qmail_next(r, &state, &name, &def)) > 0) {
		fd = open(name.s, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0) {
			if (errno == ENOENT || errno == ENOTDIR)
				continue;
			err_diesys(111, "unable to open ", name.s, " (#4.3.0)",
			    (const char *)0);
		}
		if (fstat(fd, &st) < 0)
			err_diesys(111, "unable to stat ", name.s,
			    (const char *)0);
		if (S_ISREG(st.st_mode))
			break;
		close(fd);
		fd = -1;
	}
	if (x < 0)
		die_nomem();
	if (fd < 0) {
		str_free(&name);
		return 0;
	}
	if (writable(&st))
		err_die(111, name.s, " is writable by ", st.st_mode & S_IWOTH ?
		    "others" : "its group (not in control/trustedgroups)",
		    " (#4.7.0)", (const char *)0);
	/* Only the user and root may say what runs as the user. */
	if (st.st_uid != geteuid() && st.st_uid != 0)
		err_die(111, name.s, " is owned by another user (#4.7.0)",
		    (const char *)0);
	if (def != (size_t)-1 && def <= r->ext.len)
		envs("DEFAULT", r->ext.s + def);
	for (;;) {
		if (str_ready(cmds, 4096) < 0)
			die_nomem();
		n = read(fd, cmds->s + cmds->len, cmds->a - cmds->len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err_diesys(111, "unable to read ", name.s,
			    (const char *)0);
		}
		if (!n)
			break;
		cmds->len += (size_t)n;
		if (cmds->len > DOTQMAIL_MAX)
			err_die(111, name.s, " is too long (#4.3.0)",
			    (const char *)0);
	}
	close(fd);
	str_free(&name);
	return 1;
}

/* hostn - host up to its n-th last dot, as qmail-local's HOST2.. */
static size_t
hostn(const char *h, size_t len, int n)
{
	while (n-- > 0) {
		const char *d = memrchr(h, '.', len);

		if (!d)
			return len;
		len = (size_t)(d - h);
	}
	return len;
}

/* setup_env - qmail-local's environment for programs */
static void
setup_env(const struct recip *r, const char *sender, const str *rcpt)
{
	const char *x;

	envs("SENDER", sender);
	envs("NEWSENDER", sender);
	env("RECIPIENT", rcpt->s, rcpt->len);
	envs("USER", r->user.s);
	envs("HOME", r->home.s);
	envs("LOCAL", r->local.s);
	envs("HOST", r->domain.s);
	env("HOST2", r->domain.s, hostn(r->domain.s, r->domain.len, 1));
	env("HOST3", r->domain.s, hostn(r->domain.s, r->domain.len, 2));
	env("HOST4", r->domain.s, hostn(r->domain.s, r->domain.len, 3));
	x = r->ext.s;
	envs("EXT", x);
	x += strcspn(x, "-");
	if (*x)
		x++;
	envs("EXT2", x);
	x += strcspn(x, "-");
	if (*x)
		x++;
	envs("EXT3", x);
	x += strcspn(x, "-");
	if (*x)
		x++;
	envs("EXT4", x);
	env("DTLINE", dtline.s, dtline.len);
	env("RPLINE", rpline.s, rpline.len);
	env("UFLINE", ufline.s, ufline.len);
	unsetenv("DEFAULT");
}

static void
make_lines(const char *sender, const str *rcpt)
{
	char date[64];
	time_t now = time(0);
	struct tm *tm = gmtime(&now);
	size_t i;

	if (str_copys(&rpline, "Return-Path: ") < 0 ||
	    addr_quote(&rpline, sender) < 0 || str_putc(&rpline, '\n') < 0)
		die_nomem();
	for (i = 0; i + 1 < rpline.len; i++)
		if (rpline.s[i] == '\n')
			rpline.s[i] = '_';
	if (str_copys(&dtline, "Delivered-To: ") < 0 ||
	    str_put(&dtline, rcpt->s, rcpt->len) < 0 ||
	    str_putc(&dtline, '\n') < 0)
		die_nomem();
	if (str_copys(&ufline, "From ") < 0)
		die_nomem();
	if (!*sender && str_puts(&ufline, "MAILER-DAEMON") < 0)
		die_nomem();
	for (i = 0; sender[i]; i++) {
		char c = sender[i];

		if (c == ' ' || c == '\t' || c == '\n')
			c = '-';
		if (str_putc(&ufline, c) < 0)
			die_nomem();
	}
	if (!tm || !strftime(date, sizeof date, "%a %b %e %H:%M:%S %Y", tm))
		memcpy(date, "Thu Jan  1 00:00:00 1970", 25);
	if (str_putc(&ufline, ' ') < 0 || str_puts(&ufline, date) < 0 ||
	    str_putc(&ufline, '\n') < 0)
		die_nomem();
}

/* arg - argv field into x, NUL-terminated */
static void
arg(str *x, const char *s)
{
	if (str_copys(x, s) < 0 || str_0(x) < 0)
		die_nomem();
}

/* from_argv - the recipient as send looked it up; a result that does
 * not hold together is send's or qpost-spawn's fault: temporary */
static void
from_argv(struct recip *r, char **argv)
{
	unsigned long u, g;
	size_t i;

	memset(r, 0, sizeof *r);
	for (i = 1; i < LOCAL_ARGC; i++)
		if (strlen(argv[i]) > ADDR_MAX)
			err_die(111, "argument too long (#4.3.0)",
			    (const char *)0);
	if (recip_id(argv[2], strlen(argv[2]), &u) < 0 ||
	    recip_id(argv[3], strlen(argv[3]), &g) < 0)
		err_die(111, "bad uid or gid ", argv[2], ":", argv[3],
		    " (#4.3.0)", (const char *)0);
	r->uid = (uid_t)u;
	r->gid = (gid_t)g;
	if (argv[4][0] != '/' || !argv[5][0] || strchr(argv[5], '/') ||
	    (argv[6][0] && strcmp(argv[6], "-")))
		err_die(111, "bad recipient arguments (#4.3.0)",
		    (const char *)0);
	arg(&r->user, argv[1]);
	arg(&r->home, argv[4]);
	arg(&r->local, argv[5]);
	arg(&r->dash, argv[6]);
	arg(&r->ext, argv[7]);
	arg(&r->domain, argv[8]);
}

/* deliver - one delivery, argv as local's command line; returns after
 * the report's last line is written (exit code 0), else ends the process
 * with the failure's exit code */
static void
deliver(char **argv)
{
	struct recip r;
	str rcpt = STR_INIT, cmds = STR_INIT, fwd = STR_INIT, dd = STR_INIT;
	str arg = STR_INIT, out = STR_INIT;
	struct dotqmail_line line;
	const char *sender;
	size_t i, pos = 0, nfwd = 0;
	int x, stop = 0;

	from_argv(&r, argv);
	sender = argv[9];
	if (strlen(sender) > ADDR_MAX)
		err_die(100, "address too long (#5.1.3)", (const char *)0);
	/* Control files are the home's, read before the uid changes. */
	x = control_readfile(&dd, "defaultdelivery");
	if (x < 0)
		err_diesys(111, "unable to read control/defaultdelivery",
		    (const char *)0);
	if (!x && str_copys(&dd, "./Maildir/\n") < 0)
		die_nomem();
	prog_timeout = 0;
	if (control_number("timeoutprogram", &prog_timeout) < 0)
		err_diesys(111, "unable to read control/timeoutprogram "
		    "(#4.3.0)", (const char *)0);
	trusted_read();
	become(&r);
	if (chdir(r.home.s) < 0)
		err_diesys(111, "unable to switch to ", r.home.s, " (#4.3.0)",
		    (const char *)0);
	checkhome();
	if (str_copy(&rcpt, r.local.s, r.local.len) < 0 ||
	    str_putc(&rcpt, '@') < 0 ||
	    str_put(&rcpt, r.domain.s, r.domain.len) < 0)
		die_nomem();
	for (i = 0; i < rcpt.len; i++)
		if (rcpt.s[i] == '\n')
			rcpt.s[i] = '_';
	make_lines(sender, &rcpt);
	setup_env(&r, sender, &rcpt);
	read_message();
	check_loop(rcpt.s, rcpt.len);

	if (!qmail_read(&r, &cmds)) {
		if (r.dash.len)
			err_die(100, "Sorry, no mailbox here by that name. "
			    "(#5.1.1)", (const char *)0);
	}
	if (!cmds.len && str_put(&cmds, dd.s, dd.len) < 0)
		die_nomem();
	/* The whole file is checked before any line is followed: a broken
	 * file defers with nothing delivered (a retry would duplicate). */
	while (dotqmail_next(cmds.s, cmds.len, &pos, &line))
		if (line.kind == DOTQMAIL_ERROR)
			err_die(111, line.err, (const char *)0);
	pos = 0;
	/* The lines in order (dotqmail.h); forwards are gathered and sent
	 * at the end as one message, as qmail-local does. */
	while (!stop && dotqmail_next(cmds.s, cmds.len, &pos, &line)) {
		if (str_copy(&arg, line.arg, line.len) < 0 ||
		    str_0(&arg) < 0)
			die_nomem();
		switch (line.kind) {
		case DOTQMAIL_MAILDIR:
			maildir(arg.s);
			break;
		case DOTQMAIL_MBOX:
			mbox(arg.s);
			break;
		case DOTQMAIL_PROGRAM:
			stop = program(arg.s);
			break;
		case DOTQMAIL_FORWARD:
			if (str_put(&fwd, arg.s, arg.len + 1) < 0)
				die_nomem();
			nfwd++;
			break;
		default:	/* nothing to do; errors are gone above */
			break;
		}
	}
	forward(sender, &fwd, nfwd);

	if (str_puts(&out, "local: did ") < 0 ||
	    str_putu(&out, nfile) < 0 || str_putc(&out, '+') < 0 ||
	    str_putu(&out, nforward) < 0 || str_putc(&out, '+') < 0 ||
	    str_putu(&out, nprog) < 0 || str_putc(&out, '\n') < 0)
		die_nomem();
	(void)fd_writeall(1, out.s, out.len, -1);
	/* what a worker's next delivery must not find */
	if (msgmapped)
		(void)munmap((void *)(unsigned long)msg, msglen);
	msgmapped = 0;
	msg = "";
	msglen = 0;
	nfile = nforward = nprog = 0;
	ntrusted = 0;
	recip_free(&r);
	str_free(&rcpt);
	str_free(&cmds);
	str_free(&fwd);
	str_free(&dd);
	str_free(&arg);
	str_free(&out);
}

/* worker - local -W: one delivery after another for qpost-spawn, which
 * started this process as the account it delivers for (qpost-spawn.c's
 * header has the protocol).  fd 0 is the socket; a request brings local's
 * arguments, the message and the report pipe.  A delivery that succeeds
 * is answered "0" once every copy of the report pipe is closed; one that
 * fails ends the process with local's exit code, which qpost-spawn
 * reports for it, as it would a local's.  At the socket's end: exit 0. */
static noreturn void
worker(void)
{
	static char req[WORKER_REQ_MAX + 1];
	int sock = fcntl(0, F_DUPFD_CLOEXEC, 3);
	int logfd = fcntl(2, F_DUPFD_CLOEXEC, 3);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (sock < 0 || logfd < 0 || null < 0 || dup2(null, 0) < 0)
		err_diesys(111, "unable to set up the worker", (const char *)0);
	worker_mode = 1;
	for (;;) {
		char *f[LOCAL_ARGC + 1];
		int fds[2], left;
		size_t used, k;
		ssize_t r;

		r = spawn_recvfds(sock, req, WORKER_REQ_MAX, fds, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			err_diesys(111, "unable to read a request",
			    (const char *)0);
		if (!r)
			_exit(0);
		/* the message's ID and local's nine arguments, each ended
		 * by a NUL, nothing after them */
		k = spawn_fields(req, (size_t)r, f, LOCAL_ARGC + 1, &used);
		if (k != LOCAL_ARGC || used != (size_t)r || fds[0] < 0)
			err_die(111, "malformed request", (const char *)0);
		if (dup2(fds[0], 0) < 0 || dup2(fds[1], 1) < 0 ||
		    dup2(fds[1], 2) < 0)
			err_diesys(111, "unable to set up a delivery",
			    (const char *)0);
		close(fds[0]);
		close(fds[1]);
		/* from here on fd 2 is the report: failures are this
		 * delivery's */
		if (*f[0] ? setenv("QPOST_MSGID", f[0], 1) :
		    unsetenv("QPOST_MSGID"))
			die_nomem();
		f[0] = (char *)(unsigned long)"local";
		deliver(f);
		/* idle, it holds no descriptor of the delivery (closing the
		 * report pipe's copies comes before the answer) */
		if (dup2(null, 0) < 0 || dup2(logfd, 1) < 0 ||
		    dup2(logfd, 2) < 0)
			err_diesys(111, "unable to end a delivery",
			    (const char *)0);
		/* and no directory of the user's as its cwd; the delivery
		 * is made all the same: a failure here is answered first,
		 * then ends the worker, never that delivery */
		left = chdir("/") == 0;
		if (send(sock, "0", 1, MSG_NOSIGNAL) < 0)
			_exit(0);
		if (!left)
			err_diesys(111, "unable to leave the user's directory",
			    (const char *)0);
	}
}

int
main(int argc, char **argv)
{
	err_prog = "local";
	err_help(argc, argv, "usage: local user uid gid homedir local dash ext "
	    "domain sender");
	umask(077);
	signal(SIGPIPE, SIG_IGN);
	/* an ignored SIGCHLD (inherited through exec) loses a |program's
	 * exit code and the queue's for a forward */
	signal(SIGCHLD, SIG_DFL);
	if (argc == 2 && !strcmp(argv[1], "-W"))
		worker();
	if (argc != LOCAL_ARGC)
		die_usage();
	deliver(argv);
	return 0;
}
