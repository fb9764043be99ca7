/*
 * send - the qpost queue manager: the one long-running daemon.
 *
 * It picks new messages up from queue/new/ (woken by a byte on the fifo
 * queue/lock/trigger, and by a scan at start), decides per recipient
 * local or remote (recip.h: the routing tables, refreshed at most once a
 * second when a file changed; for a local recipient the whole lookup,
 * whose result is local's argv), runs bin/local once per local recipient
 * and bin/remote once per remote domain, at most control/concurrencylocal
 * and control/concurrencyremote at a time, retries temporary failures on
 * a back-off schedule, sends one RFC 3464 bounce per message for the
 * permanent ones, and removes a message when every recipient is done.
 * The state of each message lives in queue/info/<id> as append-only
 * records, so kill -9 at any instruction loses nothing.  docs/send.md
 * describes the formats, the schedule and the log lines.
 *
 * Usage: send (no arguments).  fd 0 is not used; fd 2 is the log, one line
 * per event.  Environment: QPOST_HOME (the home), QPOST_LOCAL and
 * QPOST_REMOTE (programs to run instead of bin/local and bin/remote),
 * QPOST_QUEUE (the queue program for bounces), QPOST_SPAWN_FD (set by
 * qpost-spawn: the socket over which every delivery, local and remote, is
 * requested).
 *
 * Signals: SIGHUP rereads the control files and the routing tables,
 * SIGALRM retries every deferred recipient now, SIGTERM stops starting
 * deliveries, waits up to STOP_WAIT seconds for those in flight and exits
 * 0 (the rest are retried after the restart).
 *
 * Exit codes: 0 after SIGTERM; 111 for a fatal system error (the queue is
 * left consistent: a restart carries on); 100 for a usage error or an
 * attempt to run the installed home as root.
 *
 * Privilege: never root on the installed home (conf-home); a single-user
 * home may be run by whoever owns it, root included.  Local deliveries that
 * must change uid go through qpost-spawn, which is the only root part.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "control.h"
#include "date.h"
#include "dsn.h"
#include "envelope.h"
#include "err.h"
#include "heap.h"
#include "home.h"
#include "num.h"
#include "qfile.h"
#include "qq.h"
#include "recip.h"
#include "str.h"

#define TMP_MAXAGE (36L * 3600)	/* queue/tmp files older than this go */
#define TMP_SCAN_EVERY 3600
#define PICKUP_BATCH 64		/* new messages per batch of fsyncs */
#define OUT_LOCAL_MAX 4096	/* tail of local's output kept */
#define OUT_REMOTE_MAX (1024 * 1024)	/* head of remote's reports kept */
#define REASON_MAX 900		/* bytes of a failure reason kept */
#define HEADER_MAX (16 * 1024)	/* original header quoted in a bounce */
#define DSN_MTA_MAX 255		/* bytes of a Remote-MTA name kept */
#define DSN_DIAG_MAX 500	/* bytes of a peer's reply kept (REASON_MAX) */
#define LOCAL_INFO_MAX 8	/* "local: info: " lines logged per delivery */
#define REMOTE_RCPT_MAX 100	/* recipients per remote run */
#define RETRY_LOCAL 10		/* schedule constants, see retry_delay */
#define RETRY_REMOTE 20
#define RETRY_CAP (3 * 3600)
#define RETRY_LOOKUP 60		/* after a temporary routing error */
#define BOUNCE_RETRY 60		/* after a bounce the queue refused */
#define STOP_WAIT 60		/* seconds SIGTERM waits for deliveries */
#define LOCK_WAIT 5		/* seconds to wait for queue/lock */
#define NEW_RESCAN 600		/* scan new/ this often anyway */
#define NEW_RETRY 60		/* and this soon after a failed pick-up */
#define TRIPLE "#@[]"		/* sender of a double bounce (qmail's) */

enum { CH_LOCAL, CH_REMOTE };
enum { RS_PENDING, RS_INFLIGHT, RS_DONE, RS_FAILED };
enum { RES_OK, RES_TEMP, RES_PERM };

struct rcpt {
	const char *addr;	/* into msg.env */
	char *reason;		/* RS_FAILED: why */
	int64_t next;		/* RS_PENDING: earliest next attempt */
	unsigned tries;
	unsigned char state;
};

struct msg {
	unsigned long id;
	int64_t birth;
	int64_t due;		/* heap key */
	size_t hpos;
	char *env;		/* the envelope, as in the queue */
	size_t envlen;
	struct rcpt *r;
	size_t nr;
	size_t left;		/* recipients RS_PENDING or RS_INFLIGHT */
	size_t failed;		/* recipients RS_FAILED */
	unsigned jobs;		/* jobs queued or running */
};

struct job {
	struct msg *m;
	int ch;
	size_t *ri;		/* recipient indices */
	size_t nri;
	unsigned long long number;
	pid_t pid;		/* 0 when run by qpost-spawn */
	int fd;			/* its output, -1 after EOF */
	int exited;
	int status;		/* wait status */
	str out;
	str rcpt;		/* local: recip_fields of the lookup */
	struct job *next;
};

static struct {
	str me;
	str bouncefrom;
	str bouncehost;
	str dbto;		/* full address, or empty: drop */
	unsigned long conc[2];
	int64_t lifetime;
} cf;

static struct {
	struct job *head;
	struct job *tail;
} ready[2];
static struct job **run;
static size_t nrun, arun;
static unsigned long running[2];
static unsigned long long jobnumber;
static struct heap sched;
static size_t nmsgs;
static int64_t rescan_at;	/* next untriggered scan of new/ */

static int selfpipe[2] = { -1, -1 };
static int trigfd = -1, trigwfd = -1, spawnfd = -1;
static int infodir = -1, messdir = -1;
static const char *prog[2];
static volatile sig_atomic_t got_hup, got_alrm, got_term, got_chld;
static const char *chname[2] = { "local", "remote" };

/* ---------------------------------------------------------------- */

static noreturn void
die_nomem(void)
{
	err_nomem();
}

static int64_t
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

static void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		die_nomem();
	return p;
}

/* reason_clean - printable ASCII only, one line, at most REASON_MAX */
static char *
reason_clean(const char *s, size_t n)
{
	char *r;
	size_t i, k = 0;

	while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r' ||
	    s[n - 1] == '\t'))
		n--;
	while (n && (*s == ' ' || *s == '\n'))
		s++, n--;
	if (n > REASON_MAX)
		n = REASON_MAX;
	r = xcalloc(n + 1, 1);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		r[k++] = (c < 32 || c >= 127) ? ' ' : (char)c;
	}
	r[k] = 0;
	return r;
}

/* ------------------------------------------------------ the schedule */

static int64_t
msg_key(const void *x)
{
	return ((const struct msg *)x)->due;
}

static void
msg_setpos(void *x, size_t pos)
{
	((struct msg *)x)->hpos = pos;
}

/* retry_delay - seconds before attempt tries+1 after tries failures:
 * c*c*(2*tries-1), so the attempts fall at c*c*k*k after the first
 * failure (qmail's quadratic schedule), never more than RETRY_CAP apart. */
static int64_t
retry_delay(int ch, unsigned tries)
{
	int64_t c = ch == CH_REMOTE ? RETRY_REMOTE : RETRY_LOCAL;
	int64_t d;

	if (tries < 1)
		tries = 1;
	if (tries > 100000)
		return RETRY_CAP;
	d = c * c * (2 * (int64_t)tries - 1);
	return d > RETRY_CAP ? RETRY_CAP : d;
}

static void
sched_add(struct msg *m)
{
	if (heap_push(&sched, m) < 0)
		die_nomem();
}

/* ------------------------------------------------------ control files */

/* ctl_fail - an unreadable control file: fatal at start, else the old
 * value stays (a SIGHUP must not take a running send down) */
static void
ctl_fail(const char *name, int startup)
{
	if (startup)
		err_diesys(111, "unable to read control/", name,
		    (const char *)0);
	err_warnsys("unable to read control/", name, "; keeping the old "
	    "value", (const char *)0);
}

static void
ctl_str(str *out, const char *name, const char *dflt, int startup)
{
	str x = STR_INIT;
	int r = control_readline(&x, name);

	if (r < 0) {
		ctl_fail(name, startup);
		str_free(&x);
		return;
	}
	if (r == 0 && str_copys(&x, dflt) < 0)
		die_nomem();
	if (str_0(&x) < 0)
		die_nomem();
	str_free(out);
	*out = x;
}

/* ctl_ulong - control/NAME (defaults and limits: control_nums); an
 * unreadable file keeps *out after startup */
static void
ctl_ulong(unsigned long *out, const char *name, int startup)
{
	unsigned long u;

	if (control_number(name, &u) < 0) {
		ctl_fail(name, startup);
		return;
	}
	*out = u;
}

static void
control_load(int startup)
{
	str dbhost = STR_INIT;
	unsigned long life = (unsigned long)cf.lifetime;
	char b1[NUM_LEN], b2[NUM_LEN], b3[NUM_LEN];

	ctl_str(&cf.me, "me", "localhost", startup);
	ctl_str(&cf.bouncefrom, "bouncefrom", "MAILER-DAEMON", startup);
	ctl_str(&cf.bouncehost, "bouncehost", cf.me.s, startup);
	ctl_str(&dbhost, "doublebouncehost", cf.me.s, startup);
	ctl_str(&cf.dbto, "doublebounceto", "postmaster", startup);
	if (cf.dbto.len && !memchr(cf.dbto.s, '@', cf.dbto.len)) {
		if (str_putc(&cf.dbto, '@') < 0 ||
		    str_put(&cf.dbto, dbhost.s, dbhost.len) < 0 ||
		    str_0(&cf.dbto) < 0)
			die_nomem();
	}
	str_free(&dbhost);
	ctl_ulong(&cf.conc[CH_LOCAL], "concurrencylocal", startup);
	ctl_ulong(&cf.conc[CH_REMOTE], "concurrencyremote", startup);
	ctl_ulong(&life, "queuelifetime", startup);
	cf.lifetime = (int64_t)life;
	err_info("control: concurrencylocal ", num_fmt(b1, cf.conc[CH_LOCAL]),
	    " concurrencyremote ", num_fmt(b2, cf.conc[CH_REMOTE]),
	    " queuelifetime ", num_fmt(b3, (unsigned long long)cf.lifetime),
	    (const char *)0);
}

/* ------------------------------------------------------ queue files */

/* qpath - queue/<dir>/<id><suffix> (qfile_path) */
static void
qpath(str *p, const char *dir, unsigned long id, const char *suffix)
{
	if (qfile_path(p, dir, id, suffix) < 0)
		die_nomem();
}

/* info_compact - rewrite info/<id> (open on fd, size bytes) in compact
 * form once appended records have bloated it: the file is read and
 * parsed as at a restart and written back through the one encoder, so
 * the state is exactly what a restart would load.  The old file stays
 * until the new one is complete and synced (qfile_info_write). */
static void
info_compact(const struct msg *m, int fd, unsigned long long size)
{
	str x = STR_INIT, c = STR_INIT;
	struct qfile_info qi;
	const char *step;
	char b[NUM_LEN];

	/* The compact form holds at least the envelope. */
	if (size <= m->envlen + QFILE_INFO_SLACK)
		return;
	if (qfile_info_read(fd, &x) < 0) {
		err_warnsys("unable to read info of msg ", num_fmt(b, m->id),
		    " to compact it", (const char *)0);
		goto out;
	}
	if (qfile_info_parse(x.s, x.len, &qi) < 0) {
		err_warn("corrupt info file for msg ", num_fmt(b, m->id),
		    (const char *)0);
		goto out;
	}
	if (qfile_info_encode(&c, &qi) < 0)
		die_nomem();
	qfile_info_free(&qi);
	if (qfile_info_bloated(x.len, c.len) &&
	    qfile_info_write(m->id, c.s, c.len, 1, &step) < 0)
		/* Either file, old or new, holds the same state. */
		err_warnsys("unable to ", step, " compacted info of msg ",
		    num_fmt(b, m->id), (const char *)0);
out:
	str_free(&x);
	str_free(&c);
}

/* info_append - add state records to info/<id>; sync: fsync first.
 * A file bloated by many appends is compacted (info_compact). */
static void
info_append(const struct msg *m, const str *rec, int sync)
{
	str p = STR_INIT;
	struct stat st;
	int fd;
	char b[NUM_LEN];

	if (!rec->len)
		return;
	qpath(&p, QFILE_INFO, m->id, 0);
	fd = open(p.s, O_RDWR | O_APPEND | O_CLOEXEC);
	str_free(&p);
	if (fd < 0 || fd_writeall(fd, rec->s, rec->len, -1) < 0 ||
	    (sync && fsync(fd) < 0))
		/* The delivery stands; a crash before the next good record
		 * can only repeat it. */
		err_warnsys("unable to record state of msg ",
		    num_fmt(b, m->id), (const char *)0);
	else if (fstat(fd, &st) == 0)
		info_compact(m, fd, (unsigned long long)st.st_size);
	if (fd >= 0)
		close(fd);
}

/* move_aside - a file in new/ we cannot use: keep it in queue/bad/ */
static void
move_aside(const char *name, const char *why)
{
	str from = STR_INIT, to = STR_INIT;

	if (mkdir("queue/bad", 0750) < 0 && errno != EEXIST)
		err_warnsys("unable to create queue/bad", (const char *)0);
	if (str_copys(&from, "queue/new/") < 0 || str_puts(&from, name) < 0 ||
	    str_0(&from) < 0 || str_copys(&to, "queue/bad/") < 0 ||
	    str_puts(&to, name) < 0 || str_0(&to) < 0)
		die_nomem();
	if (rename(from.s, to.s) < 0)
		err_warnsys("unable to move aside queue/new/", name,
		    (const char *)0);
	else
		err_warn("moved queue/new/", name, " to queue/bad/: ", why,
		    (const char *)0);
	str_free(&from);
	str_free(&to);
}

/* ------------------------------------------------------ messages */

/* msg_parse - build a message from the bytes of info/<id>
 * (qfile_info_parse); *good is the length of the complete records (a
 * torn last record is dropped) and *msglen the length recorded for
 * mess/<id>.  0 if the file is corrupt. */
static struct msg *
msg_parse(unsigned long id, const char *s, size_t n, size_t *good,
    unsigned long long *msglen, unsigned long long *fullsize)
{
	struct qfile_info qi;
	struct msg *m;
	size_t k, pos = 0;
	const char *a;

	if (qfile_info_parse(s, n, &qi) < 0)
		return 0;
	m = xcalloc(1, sizeof *m);
	m->id = id;
	m->birth = (int64_t)qi.birth;
	m->hpos = HEAP_NONE;
	m->envlen = qi.envlen;
	m->env = xcalloc(m->envlen, 1);
	memcpy(m->env, qi.env, m->envlen);
	m->r = xcalloc(qi.nr, sizeof *m->r);
	m->nr = qi.nr;
	m->left = qi.nr;
	for (k = 0; (a = envelope_next(m->env, m->envlen, &pos)); k++) {
		const struct qfile_rcpt *q = &qi.r[k];
		struct rcpt *r = &m->r[k];

		r->addr = a;
		r->tries = (unsigned)q->tries;
		r->next = (int64_t)q->next;
		if (q->state == QFILE_DONE) {
			r->state = RS_DONE;
			m->left--;
		} else if (q->state == QFILE_FAILED) {
			r->state = RS_FAILED;
			r->reason = reason_clean(q->reason, strlen(q->reason));
			m->left--;
			m->failed++;
		}
	}
	*good = qi.good;
	*msglen = qi.msglen;
	*fullsize = qi.fullsize;
	qfile_info_free(&qi);
	return m;
}

static void
msg_free(struct msg *m)
{
	size_t k;

	for (k = 0; k < m->nr; k++)
		free(m->r[k].reason);
	free(m->r);
	free(m->env);
	free(m);
}

/* msg_remove - every recipient is done: info first, synced, then mess
 * (qfile_remove; docs/queue.md says why this order is safe). */
static void
msg_remove(struct msg *m)
{
	const char *step;
	char b[NUM_LEN];

	if (qfile_remove(m->id, &step) < 0)
		/* left for a restart to finish */
		err_warnsys("unable to ", step, " of msg ", num_fmt(b, m->id),
		    (const char *)0);
	err_info("end msg ", num_fmt(b, m->id), (const char *)0);
	nmsgs--;
	msg_free(m);
}

static void msg_settle(struct msg *, int64_t);
static void msg_start(struct msg *, int64_t);

/* msg_register - a loaded or picked-up message enters the schedule */
static void
msg_register(struct msg *m, int64_t now)
{
	nmsgs++;
	if (m->left)
		msg_start(m, now);
	else
		msg_settle(m, now);
}

/* ------------------------------------------------------ pick-up */

struct pick {
	char name[NUM_LEN];
	unsigned long id;
	int fd;
	int resumed;		/* info/<id> was already there */
	unsigned long long msglen;
	unsigned long long fullsize;
	struct msg *m;
};

/* info_load - read info/<id>; 0 missing, -1 unreadable or corrupt */
static int
info_load(unsigned long id, struct msg **mp, unsigned long long *msglen,
    unsigned long long *fullsize)
{
	str p = STR_INIT, x = STR_INIT;
	size_t good = 0;
	int fd;
	char b[NUM_LEN];

	*mp = 0;
	qpath(&p, QFILE_INFO, id, 0);
	fd = open(p.s, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		str_free(&p);
		errno = e;
		return e == ENOENT ? 0 : -1;
	}
	if (qfile_info_read(fd, &x) < 0)
		goto bad;
	*mp = msg_parse(id, x.s, x.len, &good, msglen, fullsize);
	if (!*mp) {
		err_warn("corrupt info file for msg ", num_fmt(b, id),
		    (const char *)0);
		goto bad;
	}
	if (good < x.len && (ftruncate(fd, (off_t)good) < 0 || fsync(fd) < 0))
		err_warnsys("unable to cut a torn record off ", p.s,
		    (const char *)0);
	close(fd);
	str_free(&p);
	str_free(&x);
	return 1;
bad:
	close(fd);
	str_free(&p);
	str_free(&x);
	return -1;
}

/* pick_prepare - steps 1 and 2 of the pick-up for new/<name>: check the
 * file and write info/<id> (renamed into place; the directory is synced
 * by the caller).  -1: skip it for now; the file stays in new/. */
static int
pick_prepare(struct pick *pk, int64_t now)
{
	str p = STR_INIT, env = STR_INIT, info = STR_INIT;
	struct stat st;
	unsigned long long off;
	const char *why;
	int r;

	pk->fd = -1;
	pk->m = 0;
	qpath(&p, QFILE_NEW, pk->id, 0);
	pk->fd = open(p.s, O_RDWR | O_CLOEXEC);
	if (pk->fd < 0) {
		if (errno != ENOENT)
			err_warnsys("unable to open ", p.s, (const char *)0);
		goto retry;
	}
	if (fstat(pk->fd, &st) < 0) {
		err_warnsys("unable to stat ", p.s, (const char *)0);
		goto retry;
	}
	if (!S_ISREG(st.st_mode) || (unsigned long)st.st_ino != pk->id) {
		move_aside(pk->name,
		    "not a queue file (name is not its inode)");
		goto skip;
	}
	/* An info/<id> already there means an interrupted pick-up. */
	r = info_load(pk->id, &pk->m, &pk->msglen, &pk->fullsize);
	if (r < 0) {
		/* unreadable or not understood: never overwritten */
		err_warn("leaving new msg ", pk->name, " alone: "
		    "unreadable info", (const char *)0);
		goto retry;
	}
	if (r > 0 && ((unsigned long long)st.st_size == pk->fullsize ||
	    (unsigned long long)st.st_size == pk->msglen)) {
		pk->resumed = 1;
		str_free(&p);
		return 0;
	}
	if (r > 0) {
		/* stale info for an older message: start again */
		msg_free(pk->m);
		pk->m = 0;
	}
	pk->resumed = 0;
	switch (qfile_newenv(pk->fd, (unsigned long long)st.st_size, &env,
	    &off, &why)) {
	case -1:
		err_warnsys("unable to read ", p.s, (const char *)0);
		goto retry;
	case -2:
		move_aside(pk->name, why);
		goto skip;
	}
	pk->msglen = off;
	pk->fullsize = (unsigned long long)st.st_size;
	if (qfile_info_head(&info, (unsigned long long)st.st_mtime, off,
	    pk->fullsize, env.s, env.len) < 0)
		die_nomem();
	if (qfile_info_write(pk->id, info.s, info.len, 0, &why) < 0) {
		err_warnsys("unable to ", why, " queue/info/", pk->name,
		    (const char *)0);
		goto retry;
	}
	{
		size_t good;
		unsigned long long a, c;

		pk->m = msg_parse(pk->id, info.s, info.len, &good, &a, &c);
		if (!pk->m)
			err_die(111, "internal error: unparsable info written",
			    (const char *)0);
	}
	str_free(&env);
	str_free(&p);
	str_free(&info);
	return 0;
retry:
	/* a temporary failure: the file stays in new/, look again soon */
	if (rescan_at > now + NEW_RETRY)
		rescan_at = now + NEW_RETRY;
skip:
	if (pk->fd >= 0)
		close(pk->fd);
	pk->fd = -1;
	str_free(&env);
	str_free(&p);
	str_free(&info);
	return -1;
}

/* pick_finish - steps 3 and 4: cut new/<id> to the message, sync it and
 * rename it into mess/ (qfile_pick_move; the caller syncs the
 * directories). */
static int
pick_finish(struct pick *pk)
{
	const char *step;
	int fd = pk->fd;

	pk->fd = -1;
	if (qfile_pick_move(fd, pk->id, pk->msglen, &step) < 0) {
		err_warnsys("unable to ", step, " queue/new/", pk->name,
		    (const char *)0);
		return -1;
	}
	return 0;
}

/* dir_sync - sync queue/<name>; without it nothing after is safe */
static void
dir_sync(const char *name)
{
	if (qfile_sync(name) < 0)
		err_diesys(111, "unable to sync queue/", name, (const char *)0);
}

/* pick_batch - pick up n messages with one sync per directory */
static void
pick_batch(struct pick *pk, size_t n, int64_t now)
{
	size_t k, good = 0;
	const char *dir;
	char b1[NUM_LEN], b2[NUM_LEN], b3[NUM_LEN];

	for (k = 0; k < n; k++)
		if (pick_prepare(&pk[k], now) == 0)
			good++;
	if (!good)
		return;
	dir_sync(QFILE_INFO);
	for (k = 0; k < n; k++)
		if (pk[k].m && pick_finish(&pk[k]) < 0) {
			/* info/<id> stays beside new/<id>: resumed later */
			if (rescan_at > now + NEW_RETRY)
				rescan_at = now + NEW_RETRY;
			msg_free(pk[k].m);
			pk[k].m = 0;
		}
	/* mess/ gains the name and new/ loses it: both are synced
	 * before a delivery can start (qfile_pick_sync). */
	if (qfile_pick_sync(&dir) < 0)
		err_diesys(111, "unable to sync queue/", dir, (const char *)0);
	for (k = 0; k < n; k++) {
		struct msg *m = pk[k].m;

		if (!m)
			continue;
		if (!pk[k].resumed)
			err_info("new msg ", num_fmt(b1, m->id), " from <",
			    envelope_sender(m->env), "> size ",
			    num_fmt(b2, pk[k].msglen), " rcpts ",
			    num_fmt(b3, m->nr), (const char *)0);
		msg_register(m, now);
	}
}

/* scan_new - pick up everything in new/ */
static void
scan_new(int64_t now)
{
	DIR *d = opendir("queue/new");
	struct dirent *de;
	struct pick pk[PICKUP_BATCH];
	size_t n = 0;

	rescan_at = now + NEW_RESCAN;
	if (!d) {
		err_warnsys("unable to open queue/new", (const char *)0);
		rescan_at = now + NEW_RETRY;
		return;
	}
	while ((de = readdir(d))) {
		unsigned long id;

		if (de->d_name[0] == '.')
			continue;
		if (qfile_id(de->d_name, &id) < 0) {
			move_aside(de->d_name, "not a queue id");
			continue;
		}
		memset(&pk[n], 0, sizeof pk[n]);
		pk[n].id = id;
		/* qfile_id took only canonical names: this is the name */
		strcpy(pk[n].name, de->d_name);
		if (++n == PICKUP_BATCH) {
			pick_batch(pk, n, now);
			n = 0;
		}
	}
	closedir(d);
	if (n)
		pick_batch(pk, n, now);
}

/* startup - load info/, drop garbage from mess/, then pick up new/ */
static void
startup(int64_t now)
{
	DIR *d;
	struct dirent *de;
	str p = STR_INIT;
	struct stat st;
	char b[NUM_LEN];

	d = opendir("queue/info");
	if (!d)
		err_diesys(111, "unable to open queue/info", (const char *)0);
	while ((de = readdir(d))) {
		unsigned long id;
		struct msg *m;
		unsigned long long msglen, fullsize;

		if (de->d_name[0] == '.')
			continue;
		if (qfile_id(de->d_name, &id) < 0) {
			/* a temporary from an interrupted pick-up */
			if (str_copys(&p, "queue/info/") < 0 ||
			    str_puts(&p, de->d_name) < 0 || str_0(&p) < 0)
				die_nomem();
			if (strstr(de->d_name, ".tmp"))
				unlink(p.s);
			continue;
		}
		qpath(&p, "mess", id, 0);
		if (stat(p.s, &st) < 0) {
			if (errno != ENOENT)
				goto unsure;
			qpath(&p, "new", id, 0);
			if (stat(p.s, &st) == 0)
				continue;	/* resumed by scan_new */
			if (errno != ENOENT)
				goto unsure;
			/* neither: removal was interrupted */
			qpath(&p, "info", id, 0);
			unlink(p.s);
			continue;
		unsure:
			/* only a file known to be gone lets info go */
			err_warnsys("leaving msg ", num_fmt(b, id),
			    " alone: unable to stat it", (const char *)0);
			continue;
		}
		if (info_load(id, &m, &msglen, &fullsize) <= 0) {
			err_warn("leaving msg ", num_fmt(b, id), " alone: "
			    "unreadable info", (const char *)0);
			continue;
		}
		msg_register(m, now);
	}
	closedir(d);
	/* Whatever removal left its info/<id> unlink unsynced is made
	 * durable before the mess/<id> files below go (docs/queue.md). */
	dir_sync(QFILE_INFO);
	d = opendir("queue/mess");
	if (!d)
		err_diesys(111, "unable to open queue/mess", (const char *)0);
	while ((de = readdir(d))) {
		unsigned long id;

		if (de->d_name[0] == '.' || qfile_id(de->d_name, &id) < 0)
			continue;
		qpath(&p, "info", id, 0);
		if (stat(p.s, &st) == 0 || errno != ENOENT)
			continue;
		qpath(&p, "mess", id, 0);
		unlink(p.s);
	}
	closedir(d);
	str_free(&p);
	scan_new(now);
}

/* clean_tmp - queue/tmp files older than TMP_MAXAGE */
static void
clean_tmp(int64_t now)
{
	DIR *d = opendir("queue/tmp");
	struct dirent *de;
	str p = STR_INIT;
	struct stat st;

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (str_copys(&p, "queue/tmp/") < 0 ||
		    str_puts(&p, de->d_name) < 0 || str_0(&p) < 0)
			die_nomem();
		if (lstat(p.s, &st) == 0 && S_ISREG(st.st_mode) &&
		    (int64_t)st.st_mtime < now - TMP_MAXAGE) {
			if (unlink(p.s) == 0)
				err_info("removed old queue/tmp/", de->d_name,
				    (const char *)0);
		}
	}
	closedir(d);
	str_free(&p);
}

/* ------------------------------------------------------ jobs */

static void
job_queue(struct job *j)
{
	j->next = 0;
	if (ready[j->ch].tail)
		ready[j->ch].tail->next = j;
	else
		ready[j->ch].head = j;
	ready[j->ch].tail = j;
	j->m->jobs++;
}

static struct job *
job_new(struct msg *m, int ch, size_t n)
{
	struct job *j = xcalloc(1, sizeof *j);

	j->m = m;
	j->ch = ch;
	j->ri = xcalloc(n, sizeof *j->ri);
	j->fd = -1;
	return j;
}

static struct msg *sort_msg;

static int
by_domain(const void *a, const void *b)
{
	const char *x = addr_domain(sort_msg->r[*(const size_t *)a].addr);
	const char *y = addr_domain(sort_msg->r[*(const size_t *)b].addr);

	return strcasecmp(x ? x : "", y ? y : "");
}

static int
same_domain(const struct msg *m, size_t a, size_t b)
{
	const char *x = addr_domain(m->r[a].addr);
	const char *y = addr_domain(m->r[b].addr);

	return !strcasecmp(x ? x : "", y ? y : "");
}

/* The routing tables (recip.h): loaded once, refreshed at most once a
 * second when one of their files changed, reloaded on SIGHUP.  send
 * decides local or remote and, for a local recipient, does the whole
 * lookup; local is handed the result and never looks anything up. */
static struct recip_ctx routes = RECIP_CTX_INIT;
static int64_t routes_at = -1;	/* the second of the last refresh */

/* routes_refresh - refresh the tables, at most once a second unless
 * forced (SIGHUP); a failure leaves every lookup temporary */
static void
routes_refresh(int64_t now, int force)
{
	int r;

	if (!force && now == routes_at)
		return;
	routes_at = now;
	r = force ? recip_load(&routes) : recip_refresh(&routes);
	if (r < 0)
		err_warnsys("unable to load the routing tables (control/locals, "
		    "control/virtualdomains, users/assign.cdb); deferring "
		    "every recipient", (const char *)0);
	else if (r > 0 && !force)
		err_info("routing tables changed: reloaded", (const char *)0);
}

/* msg_start - queue jobs for every recipient of m that is due */
static void
msg_start(struct msg *m, int64_t now)
{
	size_t *rem, nrem = 0, k;

	routes_refresh(now, 0);
	rem = xcalloc(m->nr, sizeof *rem);
	for (k = 0; k < m->nr; k++) {
		struct rcpt *r = &m->r[k];
		int t;

		if (r->state != RS_PENDING || r->next > now)
			continue;
		t = recip_domain(&routes, r->addr);
		if (t < 0) {
			err_warnsys("unable to look up <", r->addr,
			    ">; trying again later", (const char *)0);
			r->next = now + RETRY_LOOKUP;
			continue;
		}
		r->state = RS_INFLIGHT;
		if (!t) {
			rem[nrem++] = k;
		} else {
			struct job *j = job_new(m, CH_LOCAL, 1);

			j->ri[j->nri++] = k;
			job_queue(j);
		}
	}
	sort_msg = m;
	qsort(rem, nrem, sizeof *rem, by_domain);
	for (k = 0; k < nrem;) {
		size_t e = k + 1;
		struct job *j;

		while (e < nrem && e - k < REMOTE_RCPT_MAX &&
		    same_domain(m, rem[k], rem[e]))
			e++;
		j = job_new(m, CH_REMOTE, e - k);
		for (; k < e; k++)
			j->ri[j->nri++] = rem[k];
		job_queue(j);
	}
	free(rem);
	if (!m->jobs)
		msg_settle(m, now);
}

static void
run_add(struct job *j)
{
	if (nrun == arun) {
		size_t na = arun ? 2 * arun : 64;
		struct job **nv = realloc(run, na * sizeof *nv);

		if (!nv)
			die_nomem();
		run = nv;
		arun = na;
	}
	run[nrun++] = j;
	running[j->ch]++;
}

static void spawn_read(void);

/* spawn_request - ask qpost-spawn to run the job's program (local as
 * the recipient, remote as the remote account) with argv's arguments */
static int
spawn_request(struct job *j, char *const *argv, int msgfd, int outfd)
{
	str req = STR_INIT;
	struct msghdr mh;
	struct iovec iov;
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct cmsghdr *c;
	int fds[2];
	char b[NUM_LEN];
	ssize_t w;
	size_t k;

	if (str_puts(&req, num_fmt(b, j->number)) < 0 || str_putc(&req, 0) < 0 ||
	    str_puts(&req, chname[j->ch]) < 0 || str_putc(&req, 0) < 0)
		die_nomem();
	for (k = 1; argv[k]; k++)
		if (str_puts(&req, argv[k]) < 0 || str_putc(&req, 0) < 0)
			die_nomem();
	memset(&mh, 0, sizeof mh);
	memset(&cm, 0, sizeof cm);
	iov.iov_base = req.s;
	iov.iov_len = req.len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof cm.buf;
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(2 * sizeof(int));
	fds[0] = msgfd;
	fds[1] = outfd;
	memcpy(CMSG_DATA(c), fds, sizeof fds);
	/* Never block on a full socket while qpost-spawn may itself be
	 * blocked writing results to us: take those in meanwhile. */
	for (;;) {
		struct pollfd pf;

		w = sendmsg(spawnfd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w >= 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			err_diesys(111, "unable to talk to qpost-spawn",
			    (const char *)0);
		pf.fd = spawnfd;
		pf.events = POLLIN | POLLOUT;
		if (poll(&pf, 1, -1) < 0 && errno != EINTR)
			err_diesys(111, "unable to poll", (const char *)0);
		if (pf.revents & (POLLIN | POLLHUP))
			spawn_read();
	}
	str_free(&req);
	return 0;
}

/* job_spawn - start the program; -1 with errno */
static int
job_spawn(struct job *j)
{
	str p = STR_INIT;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, dfl;
	char **argv;
	int msgfd, pp[2], r;
	size_t k, argc = 0;

	qpath(&p, "mess", j->m->id, 0);
	msgfd = open(p.s, O_RDONLY | O_CLOEXEC);
	str_free(&p);
	if (msgfd < 0)
		return -1;
	if (pipe2(pp, O_CLOEXEC) < 0) {
		r = errno;
		close(msgfd);
		errno = r;
		return -1;
	}
	fcntl(pp[0], F_SETFL, O_NONBLOCK);
	argv = xcalloc(j->nri + RECIP_NFIELDS + 4, sizeof *argv);
	/* argv strings are not written by the child; posix_spawn wants
	 * char *const[] */
	argv[argc++] = (char *)(uintptr_t)prog[j->ch];
	if (j->ch == CH_LOCAL) {
		/* local user uid gid home local dash ext domain sender */
		for (k = 0; k < j->rcpt.len; k += strlen(j->rcpt.s + k) + 1)
			argv[argc++] = j->rcpt.s + k;
		argv[argc++] = (char *)(uintptr_t)envelope_sender(j->m->env);
		argv[argc] = 0;
		goto run;
	}
	if (j->ch == CH_REMOTE) {
		const char *dom = addr_domain(j->m->r[j->ri[0]].addr);

		argv[argc++] = (char *)(uintptr_t)(dom ? dom : "");
	}
	/* A double bounce's "#@[]" is send's own marker: the world sees <>. */
	argv[argc++] = (char *)(uintptr_t)(j->ch == CH_REMOTE &&
	    !strcmp(envelope_sender(j->m->env), TRIPLE) ? "" :
	    envelope_sender(j->m->env));
	for (k = 0; k < j->nri; k++)
		argv[argc++] = (char *)(uintptr_t)j->m->r[j->ri[k]].addr;
	argv[argc] = 0;
run:
	/* Under qpost-spawn both channels are started there: local as the
	 * recipient, remote as an account that cannot read the queue. */
	if (spawnfd >= 0) {
		spawn_request(j, argv, msgfd, pp[1]);
		free(argv);
		j->pid = 0;
		close(msgfd);
		close(pp[1]);
		j->fd = pp[0];
		return 0;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, msgfd, 0);
	posix_spawn_file_actions_adddup2(&fa, pp[1], 1);
	if (j->ch == CH_LOCAL)
		posix_spawn_file_actions_adddup2(&fa, pp[1], 2);
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGHUP);
	sigaddset(&dfl, SIGALRM);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGCHLD);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dfl);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF);
	r = posix_spawn(&j->pid, prog[j->ch], &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	free(argv);
	close(msgfd);
	close(pp[1]);
	if (r != 0) {
		close(pp[0]);
		errno = r;
		return -1;
	}
	j->fd = pp[0];
	return 0;
}

static void job_done(struct job *, int64_t);

/* local_lookup - the whole lookup for a local job, into j->rcpt; else
 * j->out and j->status say why not, as local would have (-1).  The
 * domain was local when the job was made: if the tables now say
 * otherwise, the recipient is tried again (temporary), never bounced. */
static int
local_lookup(struct job *j)
{
	struct recip rc;
	const char *why = 0;
	int x = recip_lookup(&routes, j->m->r[j->ri[0]].addr, &rc), e = errno;

	j->status = 111 << 8;
	if (x == RECIP_FOUND) {
		if (recip_fields(&rc, &j->rcpt) < 0)
			die_nomem();
		recip_free(&rc);
		return 0;
	}
	recip_free(&rc);
	if (x < 0) {
		if (str_copys(&j->out, "unable to look the recipient up: ") <
		    0 || str_puts(&j->out, strerror(e)) < 0 ||
		    str_puts(&j->out, " (#4.3.0)\n") < 0)
			die_nomem();
		return -1;
	}
	if (x == RECIP_REMOTE)
		why = "the routing tables changed: no longer a local "
		    "address; trying again (#4.3.5)\n";
	else {
		why = "Sorry, no mailbox here by that name. (#5.1.1)\n";
		j->status = 100 << 8;
	}
	if (str_copys(&j->out, why) < 0)
		die_nomem();
	return -1;
}

/* start_jobs - run ready jobs while the channels have room */
static void
start_jobs(int64_t now)
{
	int ch;
	char b1[NUM_LEN], b2[NUM_LEN], b3[NUM_LEN], b4[NUM_LEN];
	char b5[NUM_LEN], b6[NUM_LEN];

	if (ready[CH_LOCAL].head)
		routes_refresh(now, 0);
	for (ch = 0; ch < 2; ch++) {
		while (ready[ch].head && running[ch] < cf.conc[ch]) {
			struct job *j = ready[ch].head;
			size_t k;

			ready[ch].head = j->next;
			if (!ready[ch].head)
				ready[ch].tail = 0;
			j->number = ++jobnumber;
			for (k = 0; k < j->nri; k++)
				err_info("starting delivery ",
				    num_fmt(b1, j->number), ": msg ",
				    num_fmt(b2, j->m->id), " to ", chname[ch],
				    " <", j->m->r[j->ri[k]].addr, ">",
				    (const char *)0);
			if (ch == CH_LOCAL && local_lookup(j) < 0) {
				j->exited = 1;
				job_done(j, now);
				continue;
			}
			if (job_spawn(j) < 0) {
				const char *e = strerror(errno);

				/* in the channel's own report format */
				if (str_copys(&j->out, ch == CH_REMOTE ? "Z" :
				    "") < 0 ||
				    str_puts(&j->out, "unable to start ") < 0 ||
				    str_puts(&j->out, prog[ch]) < 0 ||
				    str_puts(&j->out, ": ") < 0 ||
				    str_puts(&j->out, e) < 0 ||
				    str_putc(&j->out, ch == CH_REMOTE ? 0 :
				    '\n') < 0)
					die_nomem();
				j->exited = 1;
				j->status = 111 << 8;
				job_done(j, now);
				continue;
			}
			run_add(j);
			err_info("status: local ", num_fmt(b3, running[CH_LOCAL]),
			    "/", num_fmt(b4, cf.conc[CH_LOCAL]), " remote ",
			    num_fmt(b5, running[CH_REMOTE]), "/",
			    num_fmt(b6, cf.conc[CH_REMOTE]), (const char *)0);
		}
	}
}

/* job_read - take what the job wrote; returns 1 at EOF */
static int
job_read(struct job *j)
{
	char b[4096];

	for (;;) {
		ssize_t r = read(j->fd, b, sizeof b);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : 1;
		}
		if (r == 0)
			return 1;
		if (j->ch == CH_REMOTE) {
			size_t room = OUT_REMOTE_MAX - j->out.len;

			if (str_put(&j->out, b, (size_t)r < room ? (size_t)r :
			    room) < 0)
				die_nomem();
		} else {
			if (str_put(&j->out, b, (size_t)r) < 0)
				die_nomem();
			if (j->out.len > 2 * OUT_LOCAL_MAX) {
				memmove(j->out.s, j->out.s + j->out.len -
				    OUT_LOCAL_MAX, OUT_LOCAL_MAX);
				j->out.len = OUT_LOCAL_MAX;
			}
		}
	}
}

/* last_line - the last non-empty line of local's output */
static char *
last_line(const str *o)
{
	size_t e = o->len, s;

	while (e && (o->s[e - 1] == '\n' || o->s[e - 1] == '\r'))
		e--;
	s = e;
	while (s && o->s[s - 1] != '\n')
		s--;
	return reason_clean(o->s + s, e - s);
}

static char *
status_text(int status, const char *who)
{
	str x = STR_INIT;
	char b[NUM_LEN];
	char *r;

	if (WIFSIGNALED(status)) {
		if (str_puts(&x, who) < 0 || str_puts(&x, " crashed (signal ")
		    < 0 || str_puts(&x, num_fmt(b, (unsigned)WTERMSIG(status))) <
		    0 || str_putc(&x, ')') < 0)
			die_nomem();
	} else if (str_puts(&x, who) < 0 || str_puts(&x, " exited ") < 0 ||
	    str_puts(&x, num_fmt(b, (unsigned)WEXITSTATUS(status))) < 0 ||
	    str_puts(&x, " without a reason") < 0)
		die_nomem();
	r = reason_clean(x.s, x.len);
	str_free(&x);
	return r;
}

/*
 * A delivery's reason, as send carries it from local or remote to the
 * bounce: the enhanced status code (RFC 3463), the remote MTA and its
 * reply when a peer answered, and the human text.  In memory and in the
 * info file's f record it is one printable line (docs/send.md):
 *
 *	#status SP [@mta SP =n SP reply(n bytes) SP] text
 *
 * A reason without the leading '#' (written by an older send) is text
 * alone.  The status is never looked for inside the text.
 */
struct dsn {
	char status[DSN_STATUS_MAX];	/* "5.1.1"; empty: none given */
	const char *mta;
	size_t mtalen;
	const char *diag;		/* the peer's reply */
	size_t diaglen;
	const char *text;		/* NUL-terminated */
	size_t textlen;
};

/* dsn_put - bytes into x, each unsafe one (control, 8-bit, and blank
 * where blank would end a field) as '?' */
static void
dsn_put(str *x, const char *s, size_t n, int noblank)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 32 || c >= 127 || (noblank && c == ' '))
			c = '?';
		if (str_putc(x, (char)c) < 0)
			die_nomem();
	}
}

/* dsn_encode - the one-line form of d, with the status's class forced
 * to cls ('2', '4', '5'; the result decides it, not the text) and
 * cls.0.0 when d has no status */
static char *
dsn_encode(const struct dsn *d, char cls)
{
	str x = STR_INIT;
	size_t i;
	char *r;

	if (str_putc(&x, '#') < 0 || str_putc(&x, cls) < 0 ||
	    str_puts(&x, d->status[0] ? d->status + 1 : ".0.0") < 0 ||
	    str_putc(&x, ' ') < 0)
		die_nomem();
	if (d->mtalen && d->diaglen) {
		size_t ml = d->mtalen < DSN_MTA_MAX ? d->mtalen : DSN_MTA_MAX;
		size_t dl = d->diaglen < DSN_DIAG_MAX ? d->diaglen :
		    DSN_DIAG_MAX;
		char b[NUM_LEN];

		if (str_putc(&x, '@') < 0)
			die_nomem();
		dsn_put(&x, d->mta, ml, 1);
		if (str_puts(&x, " =") < 0 || str_puts(&x, num_fmt(b, dl)) < 0 ||
		    str_putc(&x, ' ') < 0)
			die_nomem();
		dsn_put(&x, d->diag, dl, 0);
		if (str_putc(&x, ' ') < 0)
			die_nomem();
	}
	for (i = 0; i < d->textlen && (d->text[i] == ' ' ||
	    d->text[i] == '\t' || d->text[i] == '\n'); i++)
		;
	if (i < d->textlen) {
		/* a text of its own starting with '@' must not read as
		 * the mta field */
		if (!(d->mtalen && d->diaglen) && d->text[0] == '@' &&
		    str_putc(&x, ' ') < 0)
			die_nomem();
		dsn_put(&x, d->text, d->textlen, 0);
	}
	else if (str_puts(&x, "no reason given") < 0)
		die_nomem();
	r = reason_clean(x.s, x.len);	/* at most REASON_MAX */
	str_free(&x);
	return r;
}

/* dsn_decode - the parts of a reason made by dsn_encode (pointers into
 * s); an older reason is all text, with no status */
static void
dsn_decode(const char *s, struct dsn *d)
{
	size_t n = strlen(s), i, m, j;
	unsigned long long dl;

	memset(d, 0, sizeof *d);
	d->text = s;
	d->textlen = n;
	if (n < 2 || s[0] != '#' || !(m = dsn_scan(s + 1, n - 1)) ||
	    1 + m >= n || s[1 + m] != ' ')
		return;
	memcpy(d->status, s + 1, m);
	d->status[m] = 0;
	i = m + 2;
	if (i < n && s[i] == '@') {
		for (m = i + 1; m < n && s[m] != ' '; m++)
			;
		j = m + 2;
		if (j < n && s[m + 1] == '=' && num_scan(s, n, &j, ULLONG_MAX, &dl) == 0 &&
		    j < n && s[j] == ' ') {
			j++;
			if (dl > n - j)	/* cut by REASON_MAX */
				dl = n - j;
			d->mta = s + i + 1;
			d->mtalen = m - i - 1;
			d->diag = s + j;
			d->diaglen = (size_t)dl;
			i = j + (size_t)dl;
			if (i < n && s[i] == ' ')
				i++;
		}
	}
	d->text = s + i;
	d->textlen = n - i;
}

/* dsn_text - the human text of a reason, for the log */
static const char *
dsn_text(const char *s)
{
	struct dsn d;

	dsn_decode(s, &d);
	return d.text;
}

/* local_reason - local's reason: its last line, and the status the
 * qmail way, the last "(#c.s.d)" in that line (docs/local.md) */
static char *
local_reason(const str *o, int status, char cls)
{
	struct dsn d;
	char *line = last_line(o), *r;

	memset(&d, 0, sizeof d);
	if (!*line) {
		free(line);
		line = status_text(status, "local");
	}
	(void)dsn_hash(line, strlen(line), d.status);
	d.text = line;
	d.textlen = strlen(line);
	r = dsn_encode(&d, cls);
	free(line);
	return r;
}

/* remote_reason - a remote report's text (after its letter): the status,
 * a blank and the text's first line, then optional lines "Remote-MTA:
 * dns; host" and "Diagnostic-Code: smtp; reply" (docs/remote.md).  A text
 * without the leading status (qmail-remote's format) is all text. */
static char *
remote_reason(const char *t, size_t tl, char cls)
{
	static const char mtatag[] = "Remote-MTA: dns; ";
	static const char diagtag[] = "Diagnostic-Code: smtp; ";
	struct dsn d;
	size_t k = dsn_scan(t, tl), e, i;

	memset(&d, 0, sizeof d);
	if (!k || k >= tl || t[k] != ' ') {
		d.text = t;
		d.textlen = tl;
		return dsn_encode(&d, cls);
	}
	memcpy(d.status, t, k);
	d.status[k] = 0;
	t += k + 1;
	tl -= k + 1;
	for (e = 0; e < tl && t[e] != '\n'; e++)
		;
	d.text = t;
	d.textlen = e;
	for (i = e; i < tl; i = e) {
		const char *l = t + ++i;
		size_t ll;

		for (e = i; e < tl && t[e] != '\n'; e++)
			;
		ll = e - i;
		if (!d.mta && ll > sizeof mtatag - 1 &&
		    !memcmp(l, mtatag, sizeof mtatag - 1)) {
			d.mta = l + sizeof mtatag - 1;
			d.mtalen = ll - (sizeof mtatag - 1);
		} else if (!d.diag && ll > sizeof diagtag - 1 &&
		    !memcmp(l, diagtag, sizeof diagtag - 1)) {
			d.diag = l + sizeof diagtag - 1;
			d.diaglen = ll - (sizeof diagtag - 1);
		}
	}
	if (!d.mta || !d.diag)
		d.mtalen = d.diaglen = 0;
	return dsn_encode(&d, cls);
}

/* results - each recipient's result and reason from the job's output */
static void
results(struct job *j, int *res, char **why)
{
	size_t k;

	if (j->ch == CH_LOCAL) {
		int st = j->status;

		res[0] = RES_TEMP;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			res[0] = RES_OK;
		else if (WIFEXITED(st) && WEXITSTATUS(st) == 100)
			res[0] = RES_PERM;
		why[0] = local_reason(&j->out, st, res[0] == RES_OK ? '2' :
		    res[0] == RES_PERM ? '5' : '4');
		return;
	}
	/* remote: recipient reports r/h/s in order, then K/Z/D */
	{
		const char *s = j->out.s, *mrep = 0;
		size_t n = j->out.len, i = 0, mlen = 0;
		const char **rep = xcalloc(j->nri, sizeof *rep);
		size_t *rlen = xcalloc(j->nri, sizeof *rlen), nrep = 0;

		while (i < n) {
			const char *z = memchr(s + i, 0, n - i);
			size_t len;

			if (!z)
				break;
			len = (size_t)(z - (s + i));
			if (len && nrep < j->nri && !mrep &&
			    (s[i] == 'r' || s[i] == 'h' || s[i] == 's')) {
				rep[nrep] = s + i;
				rlen[nrep++] = len;
			} else if (len && !mrep && (s[i] == 'K' ||
			    s[i] == 'Z' || s[i] == 'D')) {
				mrep = s + i;
				mlen = len;
			}
			i += len + 1;
		}
		for (k = 0; k < j->nri; k++) {
			const char *t;
			size_t tl;
			char c = 0, cls;

			if (k < nrep) {
				c = rep[k][0];
				t = rep[k] + 1;
				tl = rlen[k] - 1;
				if (c == 'r') {
					if (mrep && mrep[0] == 'K')
						res[k] = RES_OK;
					else if (mrep && mrep[0] == 'D')
						res[k] = RES_PERM;
					else
						res[k] = RES_TEMP;
					if (mrep) {
						t = mrep + 1;
						tl = mlen - 1;
					}
				} else
					res[k] = c == 'h' ? RES_PERM : RES_TEMP;
			} else if (mrep) {
				res[k] = mrep[0] == 'D' ? RES_PERM : RES_TEMP;
				t = mrep + 1;
				tl = mlen - 1;
			} else {
				res[k] = RES_TEMP;
				t = 0;
				tl = 0;
			}
			cls = res[k] == RES_OK ? '2' : res[k] == RES_PERM ?
			    '5' : '4';
			if (t && tl)
				why[k] = remote_reason(t, tl, cls);
			else {
				struct dsn d;
				char *x = status_text(j->status, "remote");

				memset(&d, 0, sizeof d);
				d.text = x;
				d.textlen = strlen(x);
				why[k] = dsn_encode(&d, cls);
				free(x);
			}
		}
		free(rep);
		free(rlen);
	}
}

/* local_info - local's "local: info: " lines (what only the admin should
 * see, such as a failed program's command line) into the log */
static void
local_info(const struct job *j, const char *addr)
{
	static const char tag[] = "local: info: ";
	const char *s = j->out.s;
	size_t n = j->out.len, i = 0, e, shown = 0;
	char b1[NUM_LEN], b2[NUM_LEN];

	for (; i < n && shown < LOCAL_INFO_MAX; i = e + 1) {
		char *x;

		for (e = i; e < n && s[e] != '\n'; e++)
			;
		if (e - i <= sizeof tag - 1 || memcmp(s + i, tag,
		    sizeof tag - 1))
			continue;
		x = reason_clean(s + i + sizeof tag - 1, e - i -
		    (sizeof tag - 1));
		err_info("delivery ", num_fmt(b1, j->number), ": info: msg ",
		    num_fmt(b2, j->m->id), " to <", addr, ">: ", x,
		    (const char *)0);
		free(x);
		shown++;
	}
}

/* job_done - record the results, log them, settle the message */
static void
job_done(struct job *j, int64_t now)
{
	struct msg *m = j->m;
	int *res = xcalloc(j->nri, sizeof *res);
	char **why = xcalloc(j->nri, sizeof *why);
	int64_t *wait = xcalloc(j->nri, sizeof *wait);
	str rec = STR_INIT;
	size_t k, done_after = 0;
	int sync = 0, completes;
	char b1[NUM_LEN], b2[NUM_LEN], b3[NUM_LEN], b4[NUM_LEN];

	results(j, res, why);
	/* expiry: a temporary failure after queuelifetime is permanent */
	for (k = 0; k < j->nri; k++) {
		if (res[k] == RES_TEMP && now >= m->birth + cf.lifetime) {
			/* The last status stays (class 4: the message was
			 * never refused), a mere 4.0.0 becomes 4.4.7; the
			 * peer and its reply stay too. */
			str x = STR_INIT;
			struct dsn d;
			char *r;

			dsn_decode(why[k], &d);
			if (!d.status[0] || !strcmp(d.status + 1, ".0.0"))
				strcpy(d.status, "4.4.7");
			if (str_puts(&x, "message expired after "
			    "queuelifetime; last error: ") < 0 ||
			    str_put(&x, d.text, d.textlen) < 0)
				die_nomem();
			d.text = x.s;
			d.textlen = x.len;
			r = dsn_encode(&d, '4');
			str_free(&x);
			free(why[k]);
			why[k] = r;
			res[k] = RES_PERM;
		}
		if (res[k] == RES_OK)
			done_after++;
	}
	/* Does this job finish the message with every recipient delivered?
	 * Then removing info/<id> is the record and no 'd' is written. */
	completes = m->jobs == 1 && m->left == j->nri &&
	    done_after == j->nri && !m->failed;
	for (k = 0; k < j->nri; k++) {
		size_t i = j->ri[k];
		struct rcpt *r = &m->r[i];

		if (res[k] == RES_OK) {
			r->state = RS_DONE;
			m->left--;
			if (!completes) {
				if (str_putc(&rec, 'd') < 0 ||
				    str_puts(&rec, num_fmt(b1, i)) < 0 ||
				    str_putc(&rec, 0) < 0)
					die_nomem();
				sync = 1;
			}
		} else if (res[k] == RES_PERM) {
			r->state = RS_FAILED;
			r->reason = why[k];
			why[k] = 0;
			m->left--;
			m->failed++;
			if (str_putc(&rec, 'f') < 0 ||
			    str_puts(&rec, num_fmt(b1, i)) < 0 ||
			    str_putc(&rec, ' ') < 0 ||
			    str_puts(&rec, r->reason) < 0 ||
			    str_putc(&rec, 0) < 0)
				die_nomem();
			sync = 1;
		} else {
			int64_t next, last = m->birth + cf.lifetime;

			r->state = RS_PENDING;
			r->tries++;
			next = now + retry_delay(j->ch, r->tries);
			if (next > last)
				next = last > now ? last : now + 1;
			r->next = next;
			wait[k] = next - now;
			if (str_putc(&rec, 'r') < 0 ||
			    str_puts(&rec, num_fmt(b1, i)) < 0 ||
			    str_putc(&rec, ' ') < 0 ||
			    str_puts(&rec, num_fmt(b2, r->tries)) < 0 ||
			    str_putc(&rec, ' ') < 0 ||
			    str_puts(&rec, num_fmt(b3, (unsigned long long)next))
			    < 0 || str_putc(&rec, 0) < 0)
				die_nomem();
		}
	}
	info_append(m, &rec, sync);
	str_free(&rec);
	for (k = 0; k < j->nri; k++) {
		const struct rcpt *r = &m->r[j->ri[k]];

		if (j->ch == CH_LOCAL && res[k] != RES_OK)
			local_info(j, r->addr);
		if (res[k] == RES_OK)
			err_info("delivery ", num_fmt(b1, j->number), ": success: "
			    "msg ", num_fmt(b2, m->id), " to <", r->addr, ">: ",
			    dsn_text(why[k]), (const char *)0);
		else if (res[k] == RES_PERM)
			err_info("delivery ", num_fmt(b1, j->number), ": failure: "
			    "msg ", num_fmt(b2, m->id), " to <", r->addr, ">: ",
			    dsn_text(r->reason), (const char *)0);
		else
			err_info("delivery ", num_fmt(b1, j->number),
			    ": deferral: msg ", num_fmt(b2, m->id), " to <",
			    r->addr, "> retry in ",
			    num_fmt(b4, (unsigned long long)wait[k]), "s: ",
			    dsn_text(why[k]), (const char *)0);
		free(why[k]);
	}
	free(why);
	free(res);
	free(wait);
	str_free(&j->out);
	str_free(&j->rcpt);
	free(j->ri);
	free(j);
	if (--m->jobs == 0)
		msg_settle(m, now);
}

/* job_find - the running job with this pid (or number, for
 * qpost-spawn), or 0 */
static struct job *
job_find(pid_t pid, unsigned long long number)
{
	size_t k;

	for (k = 0; k < nrun; k++)
		if (pid ? run[k]->pid == pid :
		    (run[k]->pid == 0 && run[k]->number == number))
			return run[k];
	return 0;
}

/* jobs_finish - finish every job that has exited and whose output is
 * read (what an exited job left in the pipe is taken now: a grandchild
 * holding the pipe open must not hold the delivery up) */
static void
jobs_finish(int64_t now)
{
	size_t k = 0;

	while (k < nrun) {
		struct job *j = run[k];

		if (!j->exited) {
			k++;
			continue;
		}
		if (j->fd >= 0) {
			(void)job_read(j);
			close(j->fd);
			j->fd = -1;
		}
		run[k] = run[--nrun];
		running[j->ch]--;
		job_done(j, now);
	}
}

static void
reap(void)
{
	int st;
	pid_t pid;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		struct job *j = job_find(pid, 0);

		if (j) {
			j->exited = 1;
			j->status = st;
		}
	}
}

/* spawn_read - results from qpost-spawn: "number SP wait-status" */
static void
spawn_read(void)
{
	char b[128];

	for (;;) {
		ssize_t r = recv(spawnfd, b, sizeof b - 1, MSG_DONTWAIT);
		unsigned long long num, st;
		size_t i = 0;
		struct job *j;

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			err_diesys(111, "unable to read from qpost-spawn",
			    (const char *)0);
		}
		if (r == 0)
			err_die(111, "qpost-spawn went away", (const char *)0);
		b[r] = 0;
		if (num_scan(b, (size_t)r, &i, ULLONG_MAX, &num) < 0 || i >= (size_t)r ||
		    b[i++] != ' ' || num_scan(b, (size_t)r, &i, ULLONG_MAX, &st) < 0) {
			err_warn("bad report from qpost-spawn",
			    (const char *)0);
			continue;
		}
		j = job_find(0, num);
		if (j) {
			j->exited = 1;
			j->status = (int)st;
		}
	}
}

/* ------------------------------------------------------ bounces */

/* dsn_status - the Status: of a failed recipient's decoded reason: the
 * one carried from local or remote; a reason from an older send has none
 * and gets 5.0.0, or 4.4.7 if it expired */
static void
dsn_status(const struct dsn *d, str *out)
{
	const char *st = d->status;

	if (!*st)
		st = strncmp(d->text, "message expired", 15) ? "5.0.0" :
		    "4.4.7";
	if (str_puts(out, st) < 0)
		die_nomem();
}

/* orig_header - the header of mess/<id>, at most HEADER_MAX bytes: all
 * RFC 3464 needs of the original (text/rfc822-headers), never its body,
 * so a bounce is no bigger than what we write ourselves (issue 17).  A
 * longer header is cut before the last field that does not fit whole. */
static void
orig_header(const struct msg *m, str *h)
{
	str p = STR_INIT;
	int fd;
	ssize_t r;
	size_t i;
	int full;

	qpath(&p, "mess", m->id, 0);
	fd = open(p.s, O_RDONLY | O_CLOEXEC);
	str_free(&p);
	if (fd < 0)
		return;
	if (str_ready(h, HEADER_MAX) < 0)
		die_nomem();
	h->len = 0;
	while (h->len < HEADER_MAX) {
		r = read(fd, h->s + h->len, HEADER_MAX - h->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		h->len += (size_t)r;
	}
	close(fd);
	for (i = 0; i < h->len; i++)
		if (h->s[i] == '\n' &&
		    (i + 1 == h->len || h->s[i + 1] == '\n')) {
			h->len = i + 1;
			return;
		}
	/* No end of header within the limit: end before the last field
	 * (a line not starting with a blank), so none is cut in half. */
	full = h->len == HEADER_MAX;
	while (h->len && h->s[h->len - 1] != '\n')
		h->len--;
	if (!full || !h->len)
		return;		/* the message is all header */
	for (i = h->len - 1; i > 0; i--)
		if (h->s[i - 1] == '\n' && h->s[i] != ' ' && h->s[i] != '\t')
			break;
	h->len = i;
}

#define P(s) do { if (str_puts(&b, (s)) < 0) die_nomem(); } while (0)

/* bounce - one DSN for every failed recipient: 0 done (or dropped),
 * -1 try again later */
static int
bounce(struct msg *m, int64_t now)
{
	const char *sender = envelope_sender(m->env), *to, *envfrom;
	str b = STR_INIT, hdr = STR_INIT, bnd = STR_INIT;
	char d[DATE_LEN], u1[NUM_LEN], u2[NUM_LEN];
	size_t k;
	qq q;
	int code, dbl;
	pid_t qp;

	if (!strcmp(sender, TRIPLE)) {
		err_info("triple bounce: discarding msg ", num_fmt(u1, m->id),
		    (const char *)0);
		return 0;
	}
	dbl = !*sender;
	if (dbl) {
		to = cf.dbto.s;
		envfrom = TRIPLE;
		if (!*to) {
			err_info("double bounce: discarding msg ",
			    num_fmt(u1, m->id), " (no doublebounceto)",
			    (const char *)0);
			return 0;
		}
	} else {
		to = sender;
		envfrom = "";
	}
	orig_header(m, &hdr);
	if (str_copys(&bnd, "qpost-dsn-") < 0 ||
	    str_puts(&bnd, num_fmt(u1, m->id)) < 0 || str_putc(&bnd, '-') < 0 ||
	    str_puts(&bnd, num_fmt(u2, (unsigned long long)now)) < 0 ||
	    str_puts(&bnd, "=_") < 0)
		die_nomem();
	while (hdr.len && memmem(hdr.s, hdr.len, bnd.s, bnd.len))
		if (str_putc(&bnd, 'x') < 0)
			die_nomem();
	if (str_0(&bnd) < 0)
		die_nomem();
	P("From: ");
	P(cf.bouncefrom.s);
	P("@");
	P(cf.bouncehost.s);
	P("\nTo: ");
	if (addr_quote(&b, to) < 0)	/* a local part may need quoting */
		die_nomem();
	P("\nSubject: ");
	P(dbl ? "failure notice (double bounce)" : "failure notice");
	date_rfc5322(d, (time_t)now);
	P("\nDate: ");
	P(d);
	P("\nMessage-ID: <");
	P(num_fmt(u1, (unsigned long long)now));
	P(".");
	P(num_fmt(u2, m->id));
	P(".bounce@");
	P(cf.me.s);
	P(">\nAuto-Submitted: auto-replied\nMIME-Version: 1.0\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\n"
	    "\tboundary=\"");
	P(bnd.s);
	P("\"\n\nThis is a MIME-formatted delivery status notification.\n"
	    "\n--");
	P(bnd.s);
	P("\nContent-Type: text/plain; charset=us-ascii\n"
	    "Content-Description: Notification\n\n"
	    "Hi. This is the qpost send program at ");
	P(cf.me.s);
	P(".\n");
	if (dbl)
		P("I tried to deliver a bounce message to the addresses below,"
		    "\nbut the bounce bounced!\n\n");
	else
		P("I'm afraid I wasn't able to deliver your message to the "
		    "following addresses.\nThis is a permanent error; I've "
		    "given up. Sorry it didn't work out.\n\n");
	for (k = 0; k < m->nr; k++) {
		if (m->r[k].state != RS_FAILED)
			continue;
		P("<");
		P(m->r[k].addr);
		P(">:\n");
		P(dsn_text(m->r[k].reason));
		P("\n\n");
	}
	P("--");
	P(bnd.s);
	P("\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; ");
	P(cf.me.s);
	date_rfc5322(d, (time_t)m->birth);
	P("\nArrival-Date: ");
	P(d);
	P("\n");
	for (k = 0; k < m->nr; k++) {
		struct dsn ds;

		if (m->r[k].state != RS_FAILED)
			continue;
		dsn_decode(m->r[k].reason, &ds);
		P("\nFinal-Recipient: rfc822; ");
		P(m->r[k].addr);
		P("\nAction: failed\nStatus: ");
		dsn_status(&ds, &b);
		if (ds.mtalen) {
			/* RFC 3464: the peer that refused, and its reply */
			P("\nRemote-MTA: dns; ");
			if (str_put(&b, ds.mta, ds.mtalen) < 0)
				die_nomem();
			P("\nDiagnostic-Code: smtp; ");
			if (str_put(&b, ds.diag, ds.diaglen) < 0)
				die_nomem();
		} else {
			P("\nDiagnostic-Code: X-Qpost; ");
			P(ds.text);
		}
		P("\n");
	}
	P("\n--");
	P(bnd.s);
	P("\nContent-Type: text/rfc822-headers\n"
	    "Content-Description: Undelivered Message Headers\n\n");
	if (str_put(&b, hdr.s, hdr.len) < 0)
		die_nomem();
	P("\n--");
	P(bnd.s);
	P("--\n");
	str_free(&hdr);
	str_free(&bnd);
	if (qq_open(&q) < 0) {
		err_warnsys("unable to run the queue program for a bounce of "
		    "msg ", num_fmt(u1, m->id), (const char *)0);
		str_free(&b);
		return -1;
	}
	qp = qq_pid(&q);
	qq_put(&q, b.s, b.len);
	qq_from(&q, envfrom);
	qq_to(&q, to);
	code = qq_close(&q);
	str_free(&b);
	if (code == 0) {
		err_info(dbl ? "double bounce msg " : "bounce msg ",
		    num_fmt(u1, m->id), " qp ", num_fmt(u2, (unsigned long long)qp),
		    " to <", to, ">", (const char *)0);
		return 0;
	}
	if (!qq_temp(code)) {
		err_info("bounce of msg ", num_fmt(u1, m->id), " refused for "
		    "good: ", qq_status(code), "; discarding",
		    (const char *)0);
		return 0;
	}
	err_info("bounce of msg ", num_fmt(u1, m->id), " deferred: ",
	    qq_status(code), (const char *)0);
	return -1;
}
#undef P

/* msg_settle - no job of m runs: schedule it, bounce it or remove it */
static void
msg_settle(struct msg *m, int64_t now)
{
	size_t k;

	if (m->left) {
		m->due = INT64_MAX;
		for (k = 0; k < m->nr; k++)
			if (m->r[k].state == RS_PENDING &&
			    m->r[k].next < m->due)
				m->due = m->r[k].next;
		sched_add(m);
		return;
	}
	if (m->failed && bounce(m, now) < 0) {
		m->due = now + BOUNCE_RETRY;
		sched_add(m);
		return;
	}
	msg_remove(m);
}

/* ------------------------------------------------------ signals */

static void
on_signal(int sig)
{
	int e = errno;

	switch (sig) {
	case SIGHUP:
		got_hup = 1;
		break;
	case SIGALRM:
		got_alrm = 1;
		break;
	case SIGTERM:
		got_term = 1;
		break;
	case SIGCHLD:
		got_chld = 1;
		break;
	}
	(void)!write(selfpipe[1], "", 1);
	errno = e;
}

static void
signals_init(void)
{
	struct sigaction sa;

	if (pipe2(selfpipe, O_CLOEXEC | O_NONBLOCK) < 0)
		err_diesys(111, "unable to create a pipe", (const char *)0);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGHUP, &sa, 0);
	sigaction(SIGALRM, &sa, 0);
	sigaction(SIGTERM, &sa, 0);
	sigaction(SIGCHLD, &sa, 0);
	signal(SIGPIPE, SIG_IGN);
}

/* retry_all - SIGALRM: every deferred recipient is due now */
static void
retry_all(void)
{
	size_t i, k;

	for (i = 0; i < sched.n; i++) {
		struct msg *m = sched.v[i];

		for (k = 0; k < m->nr; k++)
			if (m->r[k].state == RS_PENDING)
				m->r[k].next = 0;
		m->due = 0;	/* all keys equal: still a heap */
	}
}

/* ------------------------------------------------------ main */

static void
setup_fds(void)
{
	struct rlimit rl;
	int fd, tries;

	/* one pipe per running delivery: concurrency in the thousands must
	 * not run out of descriptors */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}

	/* 0, 1 and 2 open, so no queue file lands on them */
	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
	/* One send per queue: two would both deliver every deferred
	 * message and write the same info/<id>.tmp.  The lock is on the
	 * directory queue/lock itself (a read-only descriptor is enough for
	 * flock), held until exit; kill -9 releases it too, once the
	 * killed process is gone, which a restart may see a moment late:
	 * so the lock is tried for LOCK_WAIT seconds. */
	fd = open("queue/lock", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		err_diesys(111, "unable to open queue/lock", (const char *)0);
	for (tries = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; tries++) {
		struct timespec pause = { 0, 100 * 1000 * 1000 };

		if (errno != EWOULDBLOCK)
			err_diesys(111, "unable to lock queue/lock",
			    (const char *)0);
		if (tries >= LOCK_WAIT * 10)
			err_die(111, "another send is running on this queue "
			    "(queue/lock is locked); exiting", (const char *)0);
		nanosleep(&pause, 0);
	}
	trigfd = open("queue/lock/trigger", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (trigfd < 0)
		err_diesys(111, "unable to open queue/lock/trigger",
		    (const char *)0);
	/* our own writer: the fifo never reports EOF */
	trigwfd = open("queue/lock/trigger", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (trigwfd < 0)
		err_diesys(111, "unable to open queue/lock/trigger",
		    (const char *)0);
	infodir = open("queue/info", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	messdir = open("queue/mess", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (infodir < 0 || messdir < 0)
		err_diesys(111, "unable to open the queue directories",
		    (const char *)0);
}

static void
programs_init(void)
{
	static str lp = STR_INIT, rp = STR_INIT;
	const char *l = getenv("QPOST_LOCAL"), *r = getenv("QPOST_REMOTE");

	if (!l || !*l) {
		if (home_path(&lp, "bin/local") < 0)
			die_nomem();
		l = lp.s;
	}
	if (!r || !*r) {
		if (home_path(&rp, "bin/remote") < 0)
			die_nomem();
		r = rp.s;
	}
	prog[CH_LOCAL] = l;
	prog[CH_REMOTE] = r;
}

int
main(int argc, char **argv)
{
	const char *sfd;
	struct pollfd *pf = 0;
	size_t apf = 0;
	int64_t now, lastclean, stopby = 0;
	char cwd[4096];

	(void)argv;
	err_prog = "send";
	err_help(argc, argv, "usage: send");
	if (argc > 1)
		err_die(100, "usage: send", (const char *)0);
	if (geteuid() == 0 && !strcmp(home_dir(), CONF_HOME))
		err_die(100, "refusing to run as root on the installed home "
		    CONF_HOME "; run me as the queue user (see qpost-spawn)",
		    (const char *)0);
	if (home_chdir() < 0)
		err_diesys(111, "unable to chdir to the home ", home_dir(),
		    (const char *)0);
	/* an absolute home for the programs we run */
	if (!getcwd(cwd, sizeof cwd))
		err_diesys(111, "unable to find the home", (const char *)0);
	if (strcmp(home_dir(), CONF_HOME) && setenv("QPOST_HOME", cwd, 1) < 0)
		die_nomem();
	sfd = getenv("QPOST_SPAWN_FD");
	if (sfd && *sfd) {
		unsigned long long u;

		if (num_whole(sfd, strlen(sfd), 65535, &u) < 0)
			err_die(100, "bad QPOST_SPAWN_FD", (const char *)0);
		spawnfd = (int)u;
		fcntl(spawnfd, F_SETFD, FD_CLOEXEC);
		unsetenv("QPOST_SPAWN_FD");
	}
	sched.key = msg_key;
	sched.setpos = msg_setpos;
	signals_init();
	setup_fds();
	programs_init();
	control_load(1);
	now = now_sec();
	routes_refresh(now, 1);
	clean_tmp(now);
	lastclean = now;
	startup(now);

	for (;;) {
		size_t n = 0, k;
		int timeout = -1, r;
		struct msg *m;

		now = now_sec();
		if (got_hup) {
			got_hup = 0;
			control_load(0);
			routes_refresh(now, 1);
		}
		if (got_alrm) {
			got_alrm = 0;
			err_info("retrying every deferred message now",
			    (const char *)0);
			retry_all();
		}
		if (got_term && !stopby) {
			char b1[NUM_LEN];

			err_info("stopping: waiting for ", num_fmt(b1, nrun),
			    " deliveries", (const char *)0);
			stopby = now + STOP_WAIT;
		}
		if (stopby && (nrun == 0 || now >= stopby)) {
			char b1[NUM_LEN];

			err_info("exiting with ", num_fmt(b1, nrun),
			    " deliveries unfinished", (const char *)0);
			_exit(0);
		}
		if (!stopby) {
			while ((m = heap_top(&sched)) && m->due <= now) {
				heap_pop(&sched);
				if (m->left)
					msg_start(m, now);
				else
					msg_settle(m, now);
			}
			start_jobs(now);
			if (now >= rescan_at)
				scan_new(now);
			if (now - lastclean >= TMP_SCAN_EVERY) {
				clean_tmp(now);
				lastclean = now;
			}
		}
		/* how long may we sleep? */
		if (!stopby) {
			int64_t w = rescan_at - now;

			if ((m = heap_top(&sched)) && m->due < rescan_at)
				w = m->due - now;
			timeout = w <= 0 ? 0 :
			    (w > 3600 ? 3600000 : (int)w * 1000);
		}
		if (stopby)
			timeout = 1000;
		if (apf < nrun + 3) {
			apf = nrun + 64;
			free(pf);
			pf = xcalloc(apf, sizeof *pf);
		}
		pf[n].fd = selfpipe[0];
		pf[n++].events = POLLIN;
		pf[n].fd = stopby ? -1 : trigfd;
		pf[n++].events = POLLIN;
		pf[n].fd = spawnfd;
		pf[n++].events = POLLIN;
		for (k = 0; k < nrun; k++) {
			pf[n].fd = run[k]->fd;
			pf[n++].events = POLLIN;
		}
		r = poll(pf, n, timeout);
		if (r < 0 && errno != EINTR)
			err_diesys(111, "unable to poll", (const char *)0);
		now = now_sec();
		if (r > 0 && pf[0].revents) {
			char b[256];

			while (read(selfpipe[0], b, sizeof b) > 0)
				;
		}
		got_chld = 0;
		reap();
		if (spawnfd >= 0 && r > 0 && pf[2].revents)
			spawn_read();
		for (k = 0; r > 0 && k < nrun; k++)
			if (pf[3 + k].revents && run[k]->fd == pf[3 + k].fd &&
			    run[k]->fd >= 0 && job_read(run[k])) {
				close(run[k]->fd);
				run[k]->fd = -1;
			}
		jobs_finish(now);
		if (r > 0 && pf[1].fd >= 0 && pf[1].revents) {
			char b[256];

			while (read(trigfd, b, sizeof b) > 0)
				;
			scan_new(now);
		}
	}
}
