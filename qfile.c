/* qfile - the queue's on-disk contract (see qfile.h; the formats and the
 * reasons for each fsync order are in docs/queue.md). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "commit.h"
#include "dsn.h"
#include "envelope.h"
#include "num.h"
#include "err.h"
#include "qfile.h"

#define QFILE_DIGITS 22		/* the trailer's zero-padded offset */
#define QFILE_TAGLEN (sizeof QFILE_TRAILER_TAG - 1)

/* space - a space at s[*i] (inside n), stepped over; -1 if none */
static int
space(const char *s, size_t n, size_t *i)
{
	if (*i >= n || s[*i] != ' ')
		return -1;
	++*i;
	return 0;
}

int
qfile_path(str *p, const char *dir, unsigned long id, const char *suffix)
{
	if (str_copys(p, "queue/") < 0 || str_puts(p, dir) < 0 ||
	    str_putc(p, '/') < 0 || str_putu(p, id) < 0 ||
	    (suffix && str_puts(p, suffix) < 0) || str_0(p) < 0)
		return -1;
	return 0;
}

int
qfile_id(const char *name, unsigned long *id)
{
	unsigned long long u;
	size_t n = strlen(name);

	if (num_whole(name, n, ULONG_MAX, &u) < 0 || (name[0] == '0' && n > 1))
		return -1;
	*id = (unsigned long)u;
	return 0;
}

int
qfile_tmpname(char *b, size_t n)
{
	struct timespec ts;
	int k;

	clock_gettime(CLOCK_REALTIME, &ts);
	k = snprintf(b, n, QFILE_TMP "/%ld.%lld.%ld", (long)getpid(),
	    (long long)ts.tv_sec, (long)ts.tv_nsec);
	return k < 0 || (size_t)k >= n ? -1 : 0;
}

int
qfile_tmp_sec(const char *name, unsigned long long *sec)
{
	const char *dot = strchr(name, '.'), *end;

	if (!dot || !(end = strchr(dot + 1, '.')))
		return -1;
	return num_whole(dot + 1, (size_t)(end - dot - 1), ~0ULL >> 1, sec);
}

/* ---------------------------------------------------------- ids */

static const char b36[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

char *
qfile_msgid(char id[QFILE_MSGID_LEN], unsigned long long birth_us,
    unsigned long inode)
{
	char n[NUM_LEN];
	const char *d = num_fmt(n, inode);
	size_t i = QFILE_MSGID_DIGITS;

	while (i > 0) {
		id[--i] = b36[birth_us % 36];
		birth_us /= 36;
	}
	id[QFILE_MSGID_DIGITS] = '.';
	memcpy(id + QFILE_MSGID_DIGITS + 1, d, strlen(d) + 1);
	return id;
}

int
qfile_msgid_parse(const char *s, unsigned long long *birth_us,
    unsigned long *inode)
{
	unsigned long long b = 0;
	size_t i;

	if (qfile_id(s, inode) == 0) {
		*birth_us = 0;
		return 0;
	}
	for (i = 0; i < QFILE_MSGID_DIGITS; i++) {
		const char *d;
		char c = s[i];

		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (!c || !(d = strchr(b36, c)))
			return -1;
		b = b * 36 + (unsigned long long)(d - b36);
	}
	if (s[i] != '.' || qfile_id(s + i + 1, inode) < 0)
		return -1;
	*birth_us = b;
	return 0;
}

unsigned long long
qfile_birth_us(long long sec, long nsec)
{
	if (sec < 0)
		return 0;
	return (unsigned long long)sec * QFILE_USEC +
	    (unsigned long long)(nsec / 1000);
}

/* ---------------------------------------------------------- trailer */

void
qfile_trailer(char t[QFILE_TRAILER_LEN], unsigned long long off)
{
	size_t i = QFILE_TRAILER_LEN - 1;

	memcpy(t, QFILE_TRAILER_TAG, QFILE_TAGLEN);
	t[i] = '\n';
	while (i > QFILE_TAGLEN) {
		t[--i] = (char)('0' + off % 10);
		off /= 10;
	}
}

int
qfile_trailer_parse(const char *t, unsigned long long size,
    unsigned long long *off)
{
	size_t i = QFILE_TAGLEN;

	if (size < QFILE_TRAILER_LEN ||
	    memcmp(t, QFILE_TRAILER_TAG, QFILE_TAGLEN) ||
	    t[QFILE_TRAILER_LEN - 1] != '\n' ||
	    num_scan(t, QFILE_TRAILER_LEN - 1, &i, ULLONG_MAX, off) < 0 ||
	    i != QFILE_TRAILER_LEN - 1 ||
	    *off > size - QFILE_TRAILER_LEN ||
	    size - QFILE_TRAILER_LEN - *off > QFILE_INFO_MAX)
		return -1;
	return 0;
}

/* readall - n bytes at off of fd; a short file is EIO */
static int
readall(int fd, char *s, size_t n, off_t off)
{
	while (n) {
		ssize_t r = pread(fd, s, n, off);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {
			errno = EIO;	/* shorter than it said */
			return -1;
		}
		s += r;
		n -= (size_t)r;
		off += r;
	}
	return 0;
}

/* origin_ok - is s (NUL-ended) an origin queue writes? */
static int
origin_ok(const char *s)
{
	return !strcmp(s, QFILE_ORIGIN_LOCAL) ||
	    !strcmp(s, QFILE_ORIGIN_RELAY) || !strcmp(s, QFILE_ORIGIN_AUTH);
}

int
qfile_rec_origin(str *x, const char *origin)
{
	if (str_putc(x, 'O') < 0 || str_puts(x, origin) < 0 ||
	    str_putc(x, 0) < 0)
		return -1;
	return 0;
}

int
qfile_newenv(int fd, unsigned long long size, str *env,
    unsigned long long *off, const char **why)
{
	char t[QFILE_TRAILER_LEN];
	size_t n, nr, e;

	env->len = 0;
	if (size < QFILE_TRAILER_LEN) {
		*why = "too short for a trailer";
		return -2;
	}
	if (readall(fd, t, QFILE_TRAILER_LEN,
	    (off_t)(size - QFILE_TRAILER_LEN)) < 0)
		return -1;
	if (qfile_trailer_parse(t, size, off) < 0) {
		*why = "bad trailer";
		return -2;
	}
	n = (size_t)(size - QFILE_TRAILER_LEN - *off);
	if (str_ready(env, n + 1) < 0)
		err_nomem();
	if (readall(fd, env->s, n, (off_t)*off) < 0)
		return -1;
	env->len = n;
	env->s[n] = 0;
	/* the envelope, then maybe the origin record */
	e = 0;
	while (e < n && env->s[e])
		e += strlen(env->s + e) + 1;
	if (e >= n || envelope_check(env->s, ++e, &nr) != ENV_OK ||
	    (e < n && (env->s[e] != 'O' || !origin_ok(env->s + e + 1) ||
	    e + strlen(env->s + e) + 1 != n))) {
		*why = "bad envelope";
		return -2;
	}
	return 0;
}

/* ---------------------------------------------------------- info */

int
qfile_info_head(str *x, unsigned long long birth_us,
    unsigned long long msglen, unsigned long long fullsize, const char *env,
    size_t envlen)
{
	/* The microseconds are a field added at the end: a file without it
	 * was born at a whole second. */
	if (str_putc(x, 'M') < 0 || str_putu(x, birth_us / QFILE_USEC) < 0 ||
	    str_putc(x, ' ') < 0 || str_putu(x, msglen) < 0 ||
	    str_putc(x, ' ') < 0 || str_putu(x, fullsize) < 0 ||
	    str_putc(x, ' ') < 0 || str_putu(x, birth_us % QFILE_USEC) < 0 ||
	    str_putc(x, 0) < 0 || str_put(x, env, envlen) < 0)
		return -1;
	return 0;
}

int
qfile_rec_done(str *x, size_t i)
{
	if (str_putc(x, 'd') < 0 || str_putu(x, i) < 0 || str_putc(x, 0) < 0)
		return -1;
	return 0;
}

int
qfile_rec_failed(str *x, size_t i, const char *reason)
{
	if (str_putc(x, 'f') < 0 || str_putu(x, i) < 0 ||
	    str_putc(x, ' ') < 0 || str_puts(x, reason) < 0 ||
	    str_putc(x, 0) < 0)
		return -1;
	return 0;
}

int
qfile_rec_retry(str *x, size_t i, unsigned long long tries,
    unsigned long long next)
{
	if (str_putc(x, 'r') < 0 || str_putu(x, i) < 0 ||
	    str_putc(x, ' ') < 0 || str_putu(x, tries) < 0 ||
	    str_putc(x, ' ') < 0 || str_putu(x, next) < 0 ||
	    str_putc(x, 0) < 0)
		return -1;
	return 0;
}

int
qfile_rec_error(str *x, size_t i, const char *reason)
{
	if (str_putc(x, 'e') < 0 || str_putu(x, i) < 0 ||
	    str_putc(x, ' ') < 0 ||
	    str_put(x, reason, strnlen(reason, DSN_REASON_MAX)) < 0 ||
	    str_putc(x, 0) < 0)
		return -1;
	return 0;
}

int
qfile_rec_hold(str *x, int hold)
{
	if (str_putc(x, hold ? 'H' : 'U') < 0 || str_putc(x, 0) < 0)
		return -1;
	return 0;
}

int
qfile_rec_state(str *x, size_t i, const struct qfile_rcpt *r)
{
	if (r->state == QFILE_DONE)
		return qfile_rec_done(x, i);
	if (r->state == QFILE_FAILED)
		return qfile_rec_failed(x, i, r->reason ? r->reason : "");
	if ((r->tries || r->next) &&
	    qfile_rec_retry(x, i, r->tries, r->next) < 0)
		return -1;
	if (r->error && qfile_rec_error(x, i, r->error) < 0)
		return -1;
	return 0;	/* never tried: the envelope says it all */
}

int
qfile_info_encode(str *x, const struct qfile_info *qi)
{
	size_t k;

	if (qfile_info_head(x, qi->birth_us, qi->msglen, qi->fullsize, qi->env,
	    qi->envlen) < 0)
		return -1;
	if (qi->origin && qfile_rec_origin(x, qi->origin) < 0)
		return -1;
	if (qi->held && qfile_rec_hold(x, 1) < 0)
		return -1;
	for (k = 0; k < qi->nr; k++)
		if (qfile_rec_state(x, k, &qi->r[k]) < 0)
			return -1;
	return 0;
}

/* record - apply the state record s[start..end) to qi; a malformed one,
 * or one about a recipient already done or failed, is skipped */
static void
record(struct qfile_info *qi, const char *s, size_t start, size_t end)
{
	struct qfile_rcpt *r;
	unsigned long long idx, tries, next;
	size_t j = start + 1;
	char t = s[start];

	/* H and U: the message is held or released (the last one wins) */
	if ((t == 'H' || t == 'U') && end == start + 1) {
		qi->held = t == 'H';
		return;
	}
	if (t == 'O' && origin_ok(s + start + 1)) {
		qi->origin = s + start + 1;	/* the record's NUL ends it */
		return;
	}
	if ((t != 'd' && t != 'f' && t != 'r' && t != 'e') ||
	    num_scan(s, end, &j, ULLONG_MAX, &idx) < 0 || idx >= qi->nr)
		return;
	r = &qi->r[idx];
	if (r->state != QFILE_PENDING)
		return;		/* the first d or f is final */
	if (t == 'd') {
		if (j == end)
			r->state = QFILE_DONE;
	} else if (t == 'f') {
		if (j < end && space(s, end, &j) < 0)
			return;
		r->state = QFILE_FAILED;
		r->reason = s + j;	/* the record's NUL ends it */
	} else if (t == 'e') {
		if (j < end && space(s, end, &j) == 0)
			r->error = s + j;	/* the last one wins */
	} else if (space(s, end, &j) == 0 &&
	    num_scan(s, end, &j, ULLONG_MAX, &tries) == 0 &&
	    space(s, end, &j) == 0 &&
	    num_scan(s, end, &j, ULLONG_MAX, &next) == 0 && j == end) {
		r->tries = tries;
		r->next = next;
	}
}

int
qfile_info_parse(const char *s, size_t n, struct qfile_info *qi)
{
	size_t i, e, k, pos = 0;
	unsigned long long usec = 0;
	const char *z, *a;

	memset(qi, 0, sizeof *qi);
	if (n < 2 || s[0] != 'M')
		return -1;
	i = 1;
	if (num_scan(s, n, &i, ULLONG_MAX, &qi->birth) < 0 ||
	    space(s, n, &i) < 0 ||
	    num_scan(s, n, &i, ULLONG_MAX, &qi->msglen) < 0 ||
	    space(s, n, &i) < 0 ||
	    num_scan(s, n, &i, ULLONG_MAX, &qi->fullsize) < 0)
		return -1;
	/* the microseconds of the birth: a field added later */
	if (i < n && s[i] == ' ' && (++i, num_scan(s, n, &i, QFILE_USEC - 1,
	    &usec) < 0))
		return -1;
	if (i >= n || s[i++] != 0 ||
	    qi->birth > (ULLONG_MAX - usec) / QFILE_USEC)
		return -1;
	qi->birth_us = qi->birth * QFILE_USEC + usec;
	/* the envelope: F..NUL, T..NUL ..., NUL */
	e = i;
	for (;;) {
		if (i >= n)
			return -1;
		if (!s[i])
			break;
		z = memchr(s + i, 0, n - i);
		if (!z)
			return -1;
		i = (size_t)(z - s) + 1;
	}
	i++;
	if (envelope_check(s + e, i - e, &qi->nr) != ENV_OK)
		return -1;
	qi->env = s + e;
	qi->envlen = i - e;
	qi->r = calloc(qi->nr, sizeof *qi->r);
	if (!qi->r)
		err_nomem();
	for (k = 0; (a = envelope_next(qi->env, qi->envlen, &pos)); k++)
		qi->r[k].addr = a;
	/* state records */
	qi->good = i;
	while (i < n) {
		size_t start = i, end;

		z = memchr(s + i, 0, n - i);
		if (!z)
			break;		/* torn: ignored, and cut off by send */
		end = (size_t)(z - s);
		qi->good = end + 1;
		i = end + 1;
		if (end > start)	/* else zero fill after a power loss */
			record(qi, s, start, end);
	}
	return 0;
}

void
qfile_info_free(struct qfile_info *qi)
{
	free(qi->r);
	qi->r = 0;
	qi->nr = 0;
}

int
qfile_info_read(int fd, str *x)
{
	struct stat st;
	size_t n;

	x->len = 0;
	if (fstat(fd, &st) < 0)
		return -1;
	if ((unsigned long long)st.st_size > QFILE_INFO_MAX) {
		errno = EFBIG;
		return -1;
	}
	n = (size_t)st.st_size;
	if (str_ready(x, n + 1) < 0)
		err_nomem();
	if (readall(fd, x->s, n, 0) < 0)
		return -1;
	x->len = n;
	x->s[n] = 0;
	return 0;
}

int
qfile_info_bloated(unsigned long long size, size_t compact)
{
	unsigned long long grow = compact;

	if (grow < QFILE_INFO_SLACK)
		grow = QFILE_INFO_SLACK;
	if (grow > QFILE_INFO_GROW_MAX)
		grow = QFILE_INFO_GROW_MAX;
	return size > compact + grow;
}

/* ---------------------------------------------------------- commits */

int
qfile_info_write(unsigned long id, const char *s, size_t n, int sync,
    const char **step)
{
	str tmp = STR_INIT, dst = STR_INIT;
	int fd, r = -1, e;

	if (qfile_path(&tmp, QFILE_INFO, id, ".tmp") < 0 ||
	    qfile_path(&dst, QFILE_INFO, id, 0) < 0)
		err_nomem();
	*step = "write";
	fd = open(tmp.s, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		goto out;
	if (fd_writeall(fd, s, n, -1) < 0) {
		e = errno;
		close(fd);
		errno = e;
	} else
		r = commit_file(fd, tmp.s, dst.s, sync ? "queue/" QFILE_INFO : 0,
		    step);
	if (r < 0 && strcmp(*step, "sync")) {
		e = errno;
		unlink(tmp.s);
		errno = e;
	}
out:
	str_free(&tmp);
	str_free(&dst);
	return r;
}

int
qfile_pick_move(int fd, unsigned long id, unsigned long long msglen,
    const char **step)
{
	str from = STR_INIT, to = STR_INIT;
	int r = -1, e;

	if (qfile_path(&from, QFILE_NEW, id, 0) < 0 ||
	    qfile_path(&to, QFILE_MESS, id, 0) < 0)
		err_nomem();
	*step = "truncate";
	if (ftruncate(fd, (off_t)msglen) < 0 || fsync(fd) < 0)
		goto out;
	*step = "rename";
	if (rename(from.s, to.s) < 0)
		goto out;
	r = 0;
out:
	e = errno;
	close(fd);
	str_free(&from);
	str_free(&to);
	errno = e;
	return r;
}

int
qfile_sync(const char *dir)
{
	str p = STR_INIT;
	int r;

	if (str_copys(&p, "queue/") < 0 || str_puts(&p, dir) < 0 ||
	    str_0(&p) < 0)
		err_nomem();
	r = commit_sync(p.s);
	str_free(&p);
	return r;
}

int
qfile_pick_sync(const char **dir)
{
	*dir = QFILE_MESS;
	if (qfile_sync(QFILE_MESS) < 0)
		return -1;
	*dir = QFILE_NEW;
	return qfile_sync(QFILE_NEW);
}

int
qfile_remove(unsigned long id, const char **step)
{
	return qfile_remove_many(&id, 1, step);
}

int
qfile_remove_many(const unsigned long *ids, size_t n, const char **step)
{
	str p = STR_INIT;
	size_t k;
	int r = -1;

	*step = "remove info";
	for (k = 0; k < n; k++) {
		if (qfile_path(&p, QFILE_INFO, ids[k], 0) < 0)
			err_nomem();
		if (unlink(p.s) < 0 && errno != ENOENT)
			goto out;
	}
	/* The unlinks are the record that every recipient is done, and
	 * they must be durable before the inode of a mess/<id> (the id) is
	 * free to be reused (docs/queue.md). */
	*step = "sync queue/info";
	if (qfile_sync(QFILE_INFO) < 0)
		goto out;
	*step = "remove mess";
	for (k = 0; k < n; k++) {
		if (qfile_path(&p, QFILE_MESS, ids[k], 0) < 0)
			err_nomem();
		if (unlink(p.s) < 0 && errno != ENOENT)
			goto out;
	}
	r = 0;
out:
	str_free(&p);
	return r;
}

/* ---------------------------------------------------------- the pool */

int
qfile_claim(const char *tmpname, unsigned long long *size)
{
	unsigned long ids[64];
	size_t n = 0, k, tries;
	DIR *d = opendir(QFILE_POOLFREE);
	struct dirent *de;

	if (!d)
		return -1;
	/* The first entries only: every queue reads the same ones, so each
	 * starts at its own place among them and the renames rarely race. */
	while (n < sizeof ids / sizeof ids[0] && (de = readdir(d)))
		if (de->d_name[0] != '.' && qfile_id(de->d_name, &ids[n]) == 0)
			n++;
	closedir(d);
	for (tries = 0; tries < n && tries < QFILE_CLAIM_TRIES; tries++) {
		char p[sizeof QFILE_POOLFREE + 24];
		struct stat st;
		int fd;

		k = ((size_t)getpid() + tries) % n;
		snprintf(p, sizeof p, QFILE_POOLFREE "/%lu", ids[k]);
		/* O_NONBLOCK: a fifo put here must not hang queue */
		fd = open(p, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			continue;
		/* Only a plain file with this one name, the one the name
		 * says (names are inode numbers), is taken.  The rename is
		 * the claim: a queue that opened the same file and lost the
		 * race must not touch it (its mtime, set here only by the
		 * winner, becomes the winner's message's birth later; a
		 * loser's futimens once landed after it).  send's cleaning of
		 * tmp/ goes by the time in the tmp name too, so the file's
		 * old mtime between the rename and the futimens is harmless. */
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
		    st.st_nlink != 1 || (unsigned long)st.st_ino != ids[k] ||
		    rename(p, tmpname) < 0) {
			close(fd);
			continue;
		}
		(void)futimens(fd, 0);
		*size = (unsigned long long)st.st_size;
		return fd;
	}
	return -1;
}

int
qfile_release(unsigned long id, unsigned long long size, int keep)
{
	str from = STR_INIT, to = STR_INIT;
	int r = 0;

	if (qfile_path(&from, QFILE_POOLDONE, id, 0) < 0 ||
	    qfile_path(&to, QFILE_POOLFREE, id, 0) < 0)
		err_nomem();
	if (keep && (size <= QFILE_POOL_KEEP || truncate(from.s, 0) == 0) &&
	    rename(from.s, to.s) == 0)
		r = 1;
	else
		unlink(from.s);
	str_free(&from);
	str_free(&to);
	return r;
}

size_t
qfile_pool_count(void)
{
	DIR *d = opendir("queue/" QFILE_POOLFREE);
	struct dirent *de;
	size_t n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}
