/* queue - add one message to the queue (qmail-queue's protocol).
 *
 * Purpose: read a message on fd 0 and its envelope on fd 1, write both
 * into one file under queue/tmp/ (a file of the pool in queue/free/
 * renamed there, or a new one), make it durable and commit it with a
 * rename into queue/new/ (docs/queue.md has the layout, the order of
 * writes and fsyncs, and why a crash at any instruction is safe).  queue
 * is the only program that adds to the queue.
 *
 * Interface:
 *   argv   ignored.
 *   fd 0   the message, LF line ends, read to end of file.
 *   fd 1   the envelope, read after the message: "F" sender NUL, "T"
 *          recipient NUL for each recipient, one more NUL.
 *   fd 2   one diagnostic line on any failure.
 *   env    QPOST_HOME (ignored when set-uid); TCPREMOTEIP (in a home not
 *          run set-uid: the message came from the network); QPOST_IDFD=N:
 *          once the message is queued, its ID and a newline are written
 *          to fd N (errors ignored), e.g. "H7VI87G4LC.1311893\n".
 *
 * The message is prefixed with the trace line
 *   Received: (qpost PID invoked by uid UID); DATE
 * or "invoked from network" when the real uid is the system user qpostd
 * (smtpd's user in a multi-user install) or, when not set-uid,
 * TCPREMOTEIP is set (smtpd in a single-user home).
 *
 * Exit codes (qmail-queue's): 0 queued and durable; 11 an envelope
 * address too long; 51 out of memory; 52 timeout (QUEUE_TIMEOUT seconds
 * for the whole input); 53 write error or disk full; 54 unable to read
 * the message or envelope, or the envelope ends early; 61 trouble with
 * the home directory; 62 trouble with the queue directory; 81 internal
 * bug; 91 envelope format error.  On any failure the tmp file is unlinked
 * and nothing is left in queue/new/.
 *
 * Privilege: in a multi-user install queue is set-uid to the queue owner
 * so that any local user can queue mail; it trusts nothing from the
 * environment then (home.h).  Needs no other privilege.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "commit.h"
#include "date.h"
#include "envelope.h"
#include "err.h"
#include "home.h"
#include "num.h"
#include "qfile.h"
#include "str.h"

#define QUEUE_TIMEOUT 86400	/* seconds for reading all input (as qmail) */
#define QUEUE_BUF (256 * 1024)	/* write buffer: few large writes */
#define QUEUE_ENV_READ 65536	/* envelope read size */
#define NETWORK_USER "qpostd"	/* smtpd's user in a multi-user install */

/* The tmp name lives in static storage so that the alarm handler can
 * unlink it (unlink and write are async-signal-safe). */
static char tmpname[QFILE_TMPNAME_LEN];
static volatile sig_atomic_t tmpmade;
static int unnamed;	/* fd is an O_TMPFILE file: no tmp name */
static int fd = -1;
static char outbuf[QUEUE_BUF];
static size_t outlen;
static unsigned long long written;	/* message bytes so far */
static unsigned long long total;	/* bytes written to the file */

static void
cleanup(void)
{
	if (tmpmade)
		unlink(tmpname);
}

static noreturn void
die(int code, const char *what)
{
	cleanup();
	err_die(code, what, (const char *)0);
}

static noreturn void
diesys(int code, const char *what)
{
	int e = errno;

	cleanup();
	errno = e;
	err_diesys(code, what, (const char *)0);
}

static void
on_alarm(int sig)
{
	static const char msg[] = "queue: fatal: timeout reading input\n";

	(void)sig;
	if (tmpmade)
		unlink(tmpname);
	(void)!write(2, msg, sizeof msg - 1);
	_exit(52);
}

static noreturn void
die_write(void)
{
	diesys(53, "unable to write queue/tmp file");
}

static void
flush(void)
{
	size_t i = 0;

	while (i < outlen) {
		ssize_t w = write(fd, outbuf + i, outlen - i);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			die_write();
		}
		i += (size_t)w;
	}
	total += outlen;
	outlen = 0;
}

static void
put(const char *s, size_t n)
{
	while (n) {
		size_t k = sizeof outbuf - outlen;

		if (k > n)
			k = n;
		memcpy(outbuf + outlen, s, k);
		outlen += k;
		s += k;
		n -= k;
		if (outlen == sizeof outbuf)
			flush();
	}
}

/* fromnet - did this message come in over the network?  A single-user
 * home ($QPOST_HOME in effect, not set-uid) has no system users: there
 * smtpd is recognised by TCPREMOTEIP, which tcpserver sets.  Otherwise the
 * real uid decides; the getpwnam (which may load NSS modules) is spent
 * only on a multi-user install, and once. */
static int
fromnet(void)
{
	static int known = -1;	/* asked by the trace line and the origin */
	const struct passwd *pw;
	uid_t uid = getuid();
	int setid = uid != geteuid() || getgid() != getegid();
	const char *h = getenv("QPOST_HOME");

	if (known >= 0)
		return known;
	if (!setid && h && *h)
		known = getenv("TCPREMOTEIP") != 0;
	else if ((pw = getpwnam(NETWORK_USER)))
		known = pw->pw_uid == uid;
	else
		known = !setid && getenv("TCPREMOTEIP") != 0;
	return known;
}

/* origin - the origin record after the envelope (qfile.h): mail
 * from our own users, which remote signs with DKIM (docs/dkim.md).
 * From the network: an authenticated client (SMTPAUTHUSER) or one
 * allowed to relay (RELAYCLIENT); from this host: anything but a
 * forward, which local marks with QPOST_FORWARD.  The variable can only
 * take signing away, so a local user setting it harms no one. */
static void
origin(void)
{
	const char *o = 0, *a = getenv("SMTPAUTHUSER");
	str rec = STR_INIT;

	if (fromnet())
		o = a && *a ? QFILE_ORIGIN_AUTH :
		    getenv("RELAYCLIENT") ? QFILE_ORIGIN_RELAY : 0;
	else if (!getenv("QPOST_FORWARD"))
		o = QFILE_ORIGIN_LOCAL;
	if (!o)
		return;
	if (qfile_rec_origin(&rec, o) < 0)
		die(51, "out of memory");
	put(rec.s, rec.len);
	str_free(&rec);
}

/* received - the trace line into outbuf */
static void
received(void)
{
	char date[DATE_LEN];
	int n;

	date_rfc5322(date, time(0));
	if (fromnet())
		n = snprintf(outbuf, sizeof outbuf,
		    "Received: (qpost %ld invoked from network); %s\n",
		    (long)getpid(), date);
	else
		n = snprintf(outbuf, sizeof outbuf,
		    "Received: (qpost %ld invoked by uid %lu); %s\n",
		    (long)getpid(), (unsigned long)getuid(), date);
	if (n < 0 || (size_t)n >= sizeof outbuf)
		die(81, "trace line too long");
	outlen = (size_t)n;
	written = outlen;
}

/* message - copy fd 0 to end of file behind the trace line */
static void
message(void)
{
	for (;;) {
		ssize_t r;

		if (outlen == sizeof outbuf)
			flush();
		r = read(0, outbuf + outlen, sizeof outbuf - outlen);
		if (r == 0)
			return;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			diesys(54, "unable to read message");
		}
		outlen += (size_t)r;
		written += (unsigned long long)r;
	}
}

/* envelope - read fd 1 up to the envelope's final NUL into e.  Fields are
 * scanned as they arrive, so that an over-long address or too many
 * recipients stop the reading early, and nothing past the final NUL is
 * waited for (qmail-queue does not read to end of file either). */
static void
envelope(str *e)
{
	size_t pos = 0;		/* start of the field being scanned */
	size_t scanned = 0;	/* bytes of e known to hold no field end */
	size_t rcpts = 0;

	for (;;) {
		ssize_t r;

		while (pos < e->len) {
			const char *z;

			if (!e->s[pos])
				return;		/* the final NUL */
			if (scanned < pos + 1)
				scanned = pos + 1;
			z = memchr(e->s + scanned, 0, e->len - scanned);
			if (!z) {
				scanned = e->len;
				if (scanned - pos - 1 > ADDR_MAX)
					die(11, "envelope address too long");
				break;
			}
			if ((size_t)(z - e->s) - pos - 1 > ADDR_MAX)
				die(11, "envelope address too long");
			if (pos && ++rcpts > ENVELOPE_RCPT_MAX)
				die(91, "too many recipients in envelope");
			pos = (size_t)(z - e->s) + 1;
			scanned = pos;
		}
		if (str_ready(e, QUEUE_ENV_READ) < 0)
			die(51, "out of memory");
		r = read(1, e->s + e->len, QUEUE_ENV_READ);
		if (r == 0)
			die(54, "envelope ends early");
		if (r < 0) {
			if (errno == EINTR)
				continue;
			diesys(54, "unable to read envelope");
		}
		e->len += (size_t)r;
	}
}

/* stamp - set the file's mtime, the message's birth, to the real clock
 * to the microsecond: the file system's own stamp is coarse (a tick of
 * several milliseconds), and the birth and the inode number together
 * make the ID, so an inode freed and reused within one tick must not
 * give the same ID again. */
static void
stamp(void)
{
	struct timespec t[2];

	clock_gettime(CLOCK_REALTIME, &t[1]);
	t[1].tv_nsec -= t[1].tv_nsec % 1000;	/* what the ID keeps */
	t[0].tv_sec = 0;
	t[0].tv_nsec = UTIME_OMIT;
	if (futimens(fd, t) < 0)
		diesys(81, "unable to set the time of queue/tmp file");
}

/* tellid - the ID to fd $QPOST_IDFD, if set: the caller's business, so
 * any failure is ignored */
static void
tellid(const struct stat *st)
{
	char id[QFILE_MSGID_LEN + 1];
	const char *v = getenv("QPOST_IDFD");
	unsigned long long n;
	size_t k;

	if (!v || num_whole(v, strlen(v), INT_MAX, &n) < 0)
		return;
	qfile_msgid(id, qfile_birth_us((long long)st->st_mtim.tv_sec,
	    st->st_mtim.tv_nsec), (unsigned long)st->st_ino);
	k = strlen(id);
	id[k++] = '\n';
	(void)!write((int)n, id, k);
}

int
main(int argc, char **argv)
{
	str env = STR_INIT;
	struct sigaction sa;
	struct stat st;
	char newname[64], trailer[QFILE_TRAILER_LEN];
	unsigned long long oldsize = 0;
	size_t rcpts;
	int n, dfd, tfd;

	err_prog = "queue";
	err_help(argc, argv, "usage: queue 0< message 1< envelope");
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, 0);
	signal(SIGPIPE, SIG_IGN);
	alarm(QUEUE_TIMEOUT);
	/* Group read and write: send runs as an account of its own in the
	 * queue's group and truncates, renames and removes these files;
	 * queue/ itself keeps everybody else out. */
	umask(007);

	if (home_chdir() < 0)
		diesys(61, "unable to chdir to the home");
	if (chdir("queue") < 0)
		diesys(62, "unable to chdir to queue");

	if (qfile_tmpname(tmpname, sizeof tmpname) < 0)
		die(81, "tmp name too long");
	/* A file of the pool if there is one (no inode to allocate, none to
	 * free after delivery), else a new one: unnamed where the system
	 * has them (commit_unnamed; docs/performance.md, step 16), named in
	 * new/ at the commit. */
	fd = qfile_claim(tmpname, &oldsize);
	if (fd >= 0)
		tmpmade = 1;
	else if ((fd = commit_unnamed(QFILE_TMP, 0660)) >= 0)
		unnamed = 1;
	else if ((fd = open(tmpname, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC,
	    0660)) >= 0)
		tmpmade = 1;
	if (fd < 0) {
		if (errno == ENOSPC || errno == EDQUOT)
			diesys(53, "unable to create queue/tmp file");
		diesys(62, "unable to create queue/tmp file");
	}

	received();
	message();

	/* The envelope, checked, then the trailer naming its offset. */
	envelope(&env);
	switch (envelope_check(env.s, env.len, &rcpts)) {
	case ENV_OK:
		break;
	case ENV_SHORT:
		die(54, "envelope ends early");
	case ENV_TOOLONG:
		die(11, "envelope address too long");
	case ENV_TOOMANY:
		die(91, "too many recipients in envelope");
	default:
		die(91, "envelope format error");
	}
	alarm(0);
	put(env.s, env.len);
	origin();
	qfile_trailer(trailer, written);
	put(trailer, QFILE_TRAILER_LEN);
	flush();
	if (oldsize > total && ftruncate(fd, (off_t)total) < 0)
		die_write();
	stamp();

	if (fsync(fd) < 0)
		die_write();
	if (fstat(fd, &st) < 0)
		diesys(81, "unable to fstat queue/tmp file");
	n = snprintf(newname, sizeof newname, QFILE_NEW "/%llu",
	    (unsigned long long)st.st_ino);
	if (n < 0 || (size_t)n >= sizeof newname)
		die(81, "new name too long");
	if (unnamed) {
		if (commit_link(fd, newname) < 0)
			diesys(62, "unable to link queue/tmp file into "
			    "queue/new");
		if (close(fd) < 0) {
			int e = errno;

			unlink(newname);
			errno = e;
			die_write();
		}
	} else {
		if (close(fd) < 0)
			die_write();
		if (rename(tmpname, newname) < 0)
			diesys(62, "unable to rename queue/tmp file into "
			    "queue/new");
		tmpmade = 0;
	}

	/* Only once the directory entry is durable is the message queued.
	 * If that fails, take the message back out of new/: the client is
	 * told it was not accepted (a duplicate is possible, a loss not). */
	dfd = open(QFILE_NEW, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0) {
		int e = errno;

		unlink(newname);
		errno = e;
		err_diesys(53, "unable to fsync queue/new", (const char *)0);
	}
	close(dfd);

	tfd = open("lock/trigger", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (tfd >= 0) {
		(void)!write(tfd, "", 1);
		close(tfd);
	}
	tellid(&st);
	return 0;
}
