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
 * The state of each message lives in queue/info/<id> as records that
 * are appended, and rewritten whole in compact form once deferrals have
 * grown the file, so kill -9 at any instruction loses nothing.
 * docs/queue.md describes the formats and the commit steps, docs/send.md
 * the schedule, the bounces and the log lines.  The program is
 * send.c and send-*.c; send.h says which file owns what.
 *
 * Usage: send (no arguments).  fd 0 is not used; fd 2 is the log, one line
 * per event.  The command channel (queue control: list, show, delete,
 * hold, release, retry, requeue) is the socket run/send/ctl (send-ctl.c,
 * docs/queue-control.md).  Environment: QPOST_HOME (the home), QPOST_LOCAL and
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
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "control.h"
#include "dsn.h"
#include "envelope.h"
#include "err.h"
#include "hdr.h"
#include "heap.h"
#include "home.h"
#include "num.h"
#include "qfile.h"
#include "send.h"
#include "str.h"

#define TMP_MAXAGE (36L * 3600)	/* queue/tmp files older than this go */
#define TMP_SCAN_EVERY 3600
#define PICKUP_BATCH 64		/* new messages per batch of fsyncs */
/* The removals of fresh messages from new/ are made durable together
 * (new_flush): after FLUSH_MS milliseconds or FLUSH_BATCH messages,
 * whichever comes first (docs/queue.md, "The first attempt"). */
#define FLUSH_MS 25
#define FLUSH_BATCH 64
#define RETRY_LOCAL 10		/* schedule constants, see retry_delay */
#define RETRY_REMOTE 20
#define RETRY_CAP (3 * 3600)
#define BOUNCE_RETRY 60		/* after a bounce the queue refused */
#define STOP_WAIT 60		/* seconds SIGTERM waits for deliveries */
#define LOCK_WAIT 5		/* seconds to wait for queue/lock */
#define NEW_RESCAN 600		/* scan new/ this often anyway */
#define NEW_RETRY 60		/* and this soon after a failed pick-up */
#define MSGID_HEAD_MAX 65536	/* header bytes searched for Message-ID */
#define MSGID_LOG_MAX 200	/* Message-ID bytes in the log */
/* A new message whose recipients are all local makes its first attempt
 * from new/, its state in memory (docs/send.md, "The first attempt"):
 * at most FRESH_MAX such messages at a time, of at most FRESH_SIZE_MAX
 * bytes each (each local job gets a copy in memory). */
#define FRESH_MAX 1024
#define FRESH_SIZE_MAX (1024UL * 1024)
#define FRESH_BUCKETS 1024	/* the fresh messages' hash, by id */

struct conf cf;
int spawnfd = -1;
struct msg *msgs;
const char *prog[2];

static struct heap sched;
static size_t nmsgs;
static int64_t rescan_at;	/* next untriggered scan of new/ */
static struct msg *fresh[FRESH_BUCKETS];
static size_t nfresh;
static int new_dirty;	/* new/ lost names not synced yet (new_flush) */
static int64_t dirty_ms;	/* since when (now_ms) */
static void new_synced(void);
/* Files moved from new/ to done/ in this pass, for free/ once new/ is
 * synced (docs/queue.md, "The pool"); the room left in free/. */
static struct spent { unsigned long id; unsigned long long size; } *spent;
static size_t nspent, aspent;
static size_t pool_room, pool_since;

static int selfpipe[2] = { -1, -1 };
static int trigfd = -1, trigwfd = -1;
static volatile sig_atomic_t got_hup, got_alrm, got_term, got_chld;

/* ---------------------------------------------------------------- */

noreturn void
die_nomem(void)
{
	err_nomem();
}

/* now_ms - a monotonic clock in milliseconds, for new_flush's delay */
static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		die_nomem();
	return p;
}

/* reason_clean - printable ASCII only, one line, at most DSN_REASON_MAX
 * (dsn_clean) */
char *
reason_clean(const char *s, size_t n)
{
	char *r = dsn_clean(s, n);

	if (!r)
		die_nomem();
	return r;
}

/* reason_encode - the one-line form of d (dsn_encode) */
char *
reason_encode(const struct dsn *d, char cls)
{
	char *r = dsn_encode(d, cls);

	if (!r)
		die_nomem();
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
int64_t
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
 * unreadable file, or one that is not a number (logged by control.c),
 * keeps *out after startup */
static void
ctl_ulong(unsigned long *out, const char *name, int startup)
{
	unsigned long u = *out;

	if ((startup ? control_number(name, &u) :
	    control_number_keep(name, &u)) < 0) {
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
char *
delay_fmt(char b[DELAY_LEN], const struct msg *m)
{
	struct timespec t;
	uint64_t now, d = 0;
	char n[NUM_LEN];
	size_t k;

	clock_gettime(CLOCK_REALTIME, &t);
	now = qfile_birth_us((long long)t.tv_sec, t.tv_nsec);
	if (now > m->birth_us)
		d = (now - m->birth_us) / (QFILE_USEC / 10);
	strcpy(b, num_fmt(n, d / 10));
	k = strlen(b);
	b[k++] = '.';
	b[k++] = (char)('0' + d % 10);
	b[k] = 0;
	return b;
}

void
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

	/* The compact form holds at least the envelope. */
	if (size <= m->envlen + QFILE_INFO_SLACK)
		return;
	if (qfile_info_read(fd, &x) < 0) {
		err_warnsys("unable to read info of msg ", m->qid,
		    " to compact it", (const char *)0);
		goto out;
	}
	if (qfile_info_parse(x.s, x.len, &qi) < 0) {
		err_warn("corrupt info file for msg ", m->qid,
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
		    m->qid, (const char *)0);
out:
	str_free(&x);
	str_free(&c);
}

/* ------------------------------------------------ fresh messages */

/* fresh_find - the fresh message with this id, or 0 */
static struct msg *
fresh_find(unsigned long id)
{
	struct msg *m = fresh[id % FRESH_BUCKETS];

	while (m && m->id != id)
		m = m->fnext;
	return m;
}

static void
fresh_add(struct msg *m)
{
	m->fresh = 1;
	m->fnext = fresh[m->id % FRESH_BUCKETS];
	fresh[m->id % FRESH_BUCKETS] = m;
	nfresh++;
}

static void
fresh_del(struct msg *m)
{
	struct msg **pp = &fresh[m->id % FRESH_BUCKETS];

	while (*pp && *pp != m)
		pp = &(*pp)->fnext;
	if (*pp) {
		*pp = m->fnext;
		nfresh--;
	}
	m->fresh = 0;
	m->fnext = 0;
}

/* msg_open - a descriptor reading exactly m's message bytes from the
 * start: mess/<id>, or for a fresh message a copy in memory of the
 * first m->size bytes of new/<id> (whose envelope and trailer follow);
 * -1 with errno (ENOENT: the file is gone) */
int
msg_open(const struct msg *m)
{
	static char b[65536];
	str p = STR_INIT;
	unsigned long long off = 0;
	int fd, mfd, e;

	qpath(&p, m->fresh ? QFILE_NEW : QFILE_MESS, m->id, 0);
	fd = open(p.s, O_RDONLY | O_CLOEXEC);
	str_free(&p);
	if (fd < 0 || !m->fresh)
		return fd;
	mfd = memfd_create("qpost-msg", MFD_CLOEXEC);
	while (mfd >= 0 && off < m->size) {
		size_t n = m->size - off < sizeof b ? (size_t)(m->size - off) :
		    sizeof b;
		ssize_t r = pread(fd, b, n, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || fd_writeall(mfd, b, (size_t)r, -1) < 0)
			break;
		off += (unsigned long long)r;
	}
	e = off < m->size ? (errno ? errno : EIO) : 0;
	close(fd);
	if (mfd >= 0 && !e && lseek(mfd, 0, SEEK_SET) == 0)
		return mfd;
	if (mfd >= 0)
		close(mfd);
	errno = e == ENOENT || !e ? EIO : e;
	return -1;
}

/* msg_materialize - a fresh message's state must outlive its first
 * attempt: do the durable pick-up now (docs/queue.md, "send's side"),
 * with info/<id> holding the state send has in memory.  0, or -1 with a
 * warning logged (the message stays fresh: a restart would start it
 * again from new/). */
static int
msg_materialize(struct msg *m)
{
	str p = STR_INIT, info = STR_INIT;
	struct stat st;
	const char *step = "open queue/new";
	size_t k;
	int fd;

	qpath(&p, QFILE_NEW, m->id, 0);
	fd = open(p.s, O_RDWR | O_CLOEXEC);
	str_free(&p);
	if (fd < 0 || fstat(fd, &st) < 0)
		goto fail;
	if (qfile_info_head(&info, m->birth_us, m->size,
	    (unsigned long long)st.st_size, m->env, m->envlen) < 0 ||
	    (m->held && qfile_rec_hold(&info, 1) < 0))
		die_nomem();
	for (k = 0; k < m->nr; k++) {
		const struct rcpt *r = &m->r[k];
		struct qfile_rcpt q = { .addr = r->addr, .reason = r->reason,
		    .error = r->error, .tries = r->tries,
		    .next = (unsigned long long)(r->next > 0 ? r->next : 0),
		    .state = r->state == RS_DONE ? QFILE_DONE :
		    r->state == RS_FAILED ? QFILE_FAILED : QFILE_PENDING };

		if (qfile_rec_state(&info, k, &q) < 0)
			die_nomem();
	}
	if (qfile_info_write(m->id, info.s, info.len, 1, &step) < 0)
		goto fail;
	str_free(&info);
	if (qfile_pick_move(fd, m->id, m->size, &step) < 0)
		goto failed;	/* fd is closed; info/<id> beside new/<id>
				 * is an interrupted pick-up */
	/* as pick_batch: without these syncs nothing after is safe */
	if (qfile_pick_sync(&step) < 0)
		err_diesys(111, "unable to sync queue/", step, (const char *)0);
	new_synced();
	fresh_del(m);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
failed:
	str_free(&info);
	err_warnsys("unable to ", step, " for msg ", m->qid,
	    ": its state is in memory only", (const char *)0);
	return -1;
}

/* pool_count - the room left in free/, counted */
static void
pool_count(void)
{
	size_t n = qfile_pool_count();

	pool_since = 0;
	pool_room = n < QFILE_POOL_MAX ? QFILE_POOL_MAX - n : 0;
}

/* spent_add - done/<id> waits for the next new_flush */
static void
spent_add(unsigned long id, unsigned long long size)
{
	if (nspent == aspent) {
		aspent = aspent ? 2 * aspent : 64;
		spent = realloc(spent, aspent * sizeof *spent);
		if (!spent)
			die_nomem();
	}
	spent[nspent].id = id;
	spent[nspent++].size = size;
}

/* pool_release - done/<id> to free/ while free/ has room (counted again
 * when the count runs out, at most every 64 files) */
static void
pool_release(unsigned long id, unsigned long long size)
{
	if (!pool_room && ++pool_since >= 64)
		pool_count();
	if (qfile_release(id, size, pool_room > 0))
		pool_room--;
}

/* new_dirty_set - a name left new/: new_flush makes it durable */
static void
new_dirty_set(void)
{
	if (!new_dirty)
		dirty_ms = now_ms();
	new_dirty = 1;
}

/* new_flush_wait - milliseconds until new_flush must sync new/: -1
 * nothing waits, 0 now */
static int
new_flush_wait(void)
{
	int64_t w;

	if (!new_dirty)
		return -1;
	if (nspent >= FLUSH_BATCH)
		return 0;
	w = dirty_ms + FLUSH_MS - now_ms();
	return w <= 0 ? 0 : (int)w;
}

/* new_flush - sync new/ once for every fresh message removed from it
 * since the last sync (their renames out of new/ are the record that
 * they are done), then give their files to the pool.  Unless force, only
 * once the oldest removal has waited FLUSH_MS or FLUSH_BATCH files wait:
 * one fsync for the deliveries that finish close together, where one a
 * pass of the main loop cost about one a message (locals finish one by
 * one).  A power loss before the sync repeats those deliveries; nothing
 * else waits for it. */
static void
new_flush(int force)
{
	if (!new_dirty || (!force && new_flush_wait() > 0))
		return;
	if (qfile_sync(QFILE_NEW) < 0)
		err_diesys(111, "unable to sync queue/new", (const char *)0);
	new_synced();
}

/* new_synced - new/ was just synced (new_flush, or a pick-up's
 * qfile_pick_sync, which makes the removals before it durable too): the
 * files of those removals go to the pool.  Only a file whose removal
 * from new/ is durable may be written again: a name new/<id> that came
 * back after a power loss must not find another message in it. */
static void
new_synced(void)
{
	new_dirty = 0;
	while (nspent) {
		nspent--;
		pool_release(spent[nspent].id, spent[nspent].size);
	}
}

/* pool_start - the done/ files a stopped send left wait for new_flush,
 * called here, like those of this run: new/ is synced, then they go to
 * free/ */
static void
pool_start(void)
{
	DIR *d;
	struct dirent *de;
	str p = STR_INIT;
	struct stat st;

	pool_count();
	d = opendir("queue/" QFILE_POOLDONE);
	if (!d)
		return;
	while ((de = readdir(d))) {
		unsigned long id;

		if (de->d_name[0] == '.' || qfile_id(de->d_name, &id) < 0)
			continue;
		/* the same file still named in new/ (a repaired file system
		 * can leave both names): that name is the message, and the
		 * one in done/ goes */
		qpath(&p, QFILE_NEW, id, 0);
		if (stat(p.s, &st) == 0 || errno != ENOENT) {
			qpath(&p, QFILE_POOLDONE, id, 0);
			unlink(p.s);
			continue;
		}
		qpath(&p, QFILE_POOLDONE, id, 0);
		if (stat(p.s, &st) == 0)
			spent_add(id, (unsigned long long)st.st_size);
	}
	closedir(d);
	str_free(&p);
	if (nspent)
		new_dirty_set();	/* none left: no sync of new/ needed */
	new_flush(1);
}

/* info_append - add state records to info/<id>; sync: fsync first.
 * A file bloated by many appends is compacted (info_compact).  A fresh
 * message with records to keep is made durable whole instead
 * (msg_materialize: its state in memory already holds them). */
void
info_append(struct msg *m, const str *rec, int sync)
{
	str p = STR_INIT;
	struct stat st;
	int fd;

	if (!rec->len)
		return;
	if (m->fresh) {
		(void)msg_materialize(m);
		return;
	}
	qpath(&p, QFILE_INFO, m->id, 0);
	fd = open(p.s, O_RDWR | O_APPEND | O_CLOEXEC);
	str_free(&p);
	if (fd < 0 || fd_writeall(fd, rec->s, rec->len, -1) < 0 ||
	    (sync && fsync(fd) < 0))
		/* The delivery stands; a crash before the next good record
		 * can only repeat it. */
		err_warnsys("unable to record state of msg ", m->qid,
		    (const char *)0);
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
	m->birth_us = qi.birth_us;
	qfile_msgid(m->qid, qi.birth_us, id);
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
		if (q->state == QFILE_PENDING && q->error)
			r->error = reason_clean(q->error, strlen(q->error));
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
	m->held = qi.held != 0;
	m->sign = qi.origin != 0;
	m->size = qi.msglen;
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

	for (k = 0; k < m->nr; k++) {
		free(m->r[k].reason);
		free(m->r[k].error);
	}
	free(m->r);
	free(m->env);
	free(m);
}

/* msg_unlink - m leaves the list of messages and is freed */
static void
msg_unlink(struct msg *m)
{
	if (m->prev)
		m->prev->next = m->next;
	else
		msgs = m->next;
	if (m->next)
		m->next->prev = m->prev;
	nmsgs--;
	msg_free(m);
}

/* fresh_remove - a fresh message is done: its one file leaves new/ for
 * done/ (or is unlinked where that fails), and new/ is synced with the
 * removals that finish close to it (new_flush), which then gives the file
 * to the pool */
static void
fresh_remove(struct msg *m)
{
	str p = STR_INIT, d = STR_INIT;

	qpath(&p, QFILE_NEW, m->id, 0);
	qpath(&d, QFILE_POOLDONE, m->id, 0);
	if (rename(p.s, d.s) == 0)
		spent_add(m->id, m->size);
	else if (unlink(p.s) < 0 && errno != ENOENT)
		/* a restart would deliver it again */
		err_warnsys("unable to remove ", p.s, (const char *)0);
	str_free(&p);
	str_free(&d);
	fresh_del(m);
	new_dirty_set();
}

/* msg_remove - every recipient is done: info first, synced, then mess
 * (qfile_remove; docs/queue.md says why this order is safe); a fresh
 * message's new/<id> (fresh_remove). */
static void
msg_remove(struct msg *m)
{
	const char *step;

	if (m->fresh)
		fresh_remove(m);
	else if (qfile_remove(m->id, &step) < 0)
		/* left for a restart to finish */
		err_warnsys("unable to ", step, " of msg ", m->qid,
		    (const char *)0);
	err_info("end msg ", m->qid, (const char *)0);
	msg_unlink(m);
}

/* msgs_delete - the command channel's delete: n messages go without a
 * bounce, their info/ files with one fsync (qfile_remove_many).  No job
 * of any of them may be queued or running (the caller skips those). */
void
msgs_delete(struct msg **v, size_t n, unsigned long uid)
{
	const char *step;
	unsigned long *ids = xcalloc(n, sizeof *ids);
	char b2[NUM_LEN];
	size_t k, nid = 0, nfresh_gone = 0;

	for (k = 0; k < n; k++) {
		if (v[k]->fresh) {
			fresh_remove(v[k]);
			nfresh_gone++;
		} else
			ids[nid++] = v[k]->id;
		if (v[k]->hpos != HEAP_NONE)
			heap_remove(&sched, v[k]->hpos);
	}
	if (nid && qfile_remove_many(ids, nid, &step) < 0)
		/* left for a restart to finish, as in msg_remove */
		err_warnsys("unable to ", step, " of deleted messages",
		    (const char *)0);
	if (nfresh_gone)
		new_flush(1);	/* durable before the request is answered */
	for (k = 0; k < n; k++) {
		err_info("deleted msg ", v[k]->qid, " by ",
		    num_fmt(b2, uid), (const char *)0);
		msg_unlink(v[k]);
	}
	free(ids);
}

/* msg_due_now - every pending recipient of m (in domain, unless 0) is
 * due now, whatever its back-off; returns how many.  A held message
 * stays held: its recipients are due once it is released. */
int
msg_due_now(struct msg *m, const char *domain)
{
	size_t k;
	int n = 0;

	for (k = 0; k < m->nr; k++) {
		struct rcpt *r = &m->r[k];
		const char *d;

		if (r->state != RS_PENDING)
			continue;
		if (domain) {
			d = strrchr(r->addr, '@');
			if (!d || strcasecmp(d + 1, domain))
				continue;
		}
		r->next = 0;
		n++;
	}
	if (n && m->hpos != HEAP_NONE) {
		m->due = 0;
		heap_fix(&sched, m->hpos);
	}
	return n;
}

/* msg_hold - hold m (it leaves the schedule; jobs already running end
 * as usual) or release it (its pending recipients are due at once).
 * The H or U record is synced, so a hold survives a crash and a
 * restart. */
void
msg_hold(struct msg *m, int hold, unsigned long uid, int64_t now)
{
	str rec = STR_INIT;
	char b2[NUM_LEN];

	if (qfile_rec_hold(&rec, hold) < 0)
		die_nomem();
	m->held = hold != 0;	/* first: a fresh message writes it whole */
	info_append(m, &rec, 1);
	str_free(&rec);
	err_info(hold ? "held msg " : "released msg ", m->qid,
	    " by ", num_fmt(b2, uid), (const char *)0);
	if (hold && m->hpos != HEAP_NONE)
		heap_remove(&sched, m->hpos);
	if (hold)
		return;
	/* released: its pending recipients are due now, as after a retry */
	(void)msg_due_now(m, 0);
	if (!m->jobs && m->hpos == HEAP_NONE)
		msg_settle(m, now);
}


/* msg_register - a loaded or picked-up message enters the schedule */
static void
msg_register(struct msg *m, int64_t now)
{
	nmsgs++;
	m->prev = 0;
	m->next = msgs;
	if (msgs)
		msgs->prev = m;
	msgs = m;
	if (m->held && m->left)
		return;		/* out of the schedule until released */
	if (m->left)
		msg_start(m, now);
	else
		msg_settle(m, now);
}

/* msg_settle - no job of m runs: schedule it, bounce it or remove it */
void
msg_settle(struct msg *m, int64_t now)
{
	size_t k;
	char b[NUM_LEN];
	const char *id;

	if (m->gone) {
		/* Its file was removed behind our back: nothing can be
		 * delivered or bounced; the state goes too. */
		id = num_fmt(b, m->id);
		err_warn("dropping msg ", m->qid, ": queue/mess/", id,
		    " is gone (removed by hand?); nothing delivered from "
		    "now on, no bounce", (const char *)0);
		msg_remove(m);
		return;
	}
	if (m->held && m->left)
		return;		/* out of the schedule until released */
	if (m->left) {
		m->due = INT64_MAX;
		for (k = 0; k < m->nr; k++)
			if (m->r[k].state == RS_PENDING &&
			    m->r[k].next < m->due)
				m->due = m->r[k].next;
		sched_add(m);
		return;
	}
	if (m->failed && ((m->fresh && msg_materialize(m) < 0) ||
	    bounce(m, now) < 0)) {
		m->due = now + BOUNCE_RETRY;
		sched_add(m);
		return;
	}
	msg_remove(m);
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
	char msgid[MSGID_LOG_MAX + 1];	/* for the log; "-" if none */
};

/* head_msgid - the Message-ID field's value in the header of the file on
 * fd (its first MSGID_HEAD_MAX bytes): unfolded, white space and the
 * angle brackets taken off, at most MSGID_LOG_MAX bytes, into out; "-"
 * when there is none or it cannot be read.  For the log only. */
static void
head_msgid(int fd, char out[MSGID_LOG_MAX + 1])
{
	char *h = xcalloc(MSGID_HEAD_MAX, 1);
	ssize_t r;
	size_t n, i, e, v = 0, k = 0, a;

	strcpy(out, "-");
	do
		r = pread(fd, h, MSGID_HEAD_MAX, 0);
	while (r < 0 && errno == EINTR);
	n = r > 0 ? (size_t)r : 0;
	/* the field's line: the first "Message-ID:" before the blank line */
	for (i = 0; i < n && h[i] != '\n'; i = e + 1) {
		for (e = i; e < n && h[e] != '\n'; e++)
			;
		if (h[i] != ' ' && h[i] != '\t' &&
		    (v = hdr_name(h + i, e - i, "Message-ID")) > 0) {
			v += i;
			break;
		}
	}
	if (!v) {
		free(h);
		return;
	}
	/* the value and its continuation lines, unfolded in place */
	for (i = v, e = v; i < n; i++) {
		if (h[i] == '\n' && (i + 1 >= n ||
		    (h[i + 1] != ' ' && h[i + 1] != '\t')))
			break;
		if (h[i] != '\n')
			h[e++] = h[i];
	}
	/* white space, then the angle brackets, off both ends */
	for (a = v; a < e && (h[a] == ' ' || h[a] == '\t' || h[a] == '\r');
	    a++)
		;
	while (e > a && (h[e - 1] == ' ' || h[e - 1] == '\t' ||
	    h[e - 1] == '\r'))
		e--;
	if (a < e && h[a] == '<')
		a++;
	if (e > a && h[e - 1] == '>')
		e--;
	k = e - a < MSGID_LOG_MAX ? e - a : MSGID_LOG_MAX;
	if (k) {
		memcpy(out, h + a, k);
		out[k] = 0;
	}
	free(h);
}

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
	strcpy(pk->msgid, "-");
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
	head_msgid(pk->fd, pk->msgid);
	/* The birth is the committed file's mtime, set by queue to the
	 * microsecond; it is read before the cut changes it. */
	if (qfile_info_head(&info, qfile_birth_us((long long)st.st_mtim.tv_sec,
	    st.st_mtim.tv_nsec), off,
	    pk->fullsize, env.s, env.len) < 0)
		die_nomem();
	{
		size_t good;
		unsigned long long a, c;

		pk->m = msg_parse(pk->id, info.s, info.len, &good, &a, &c);
		if (!pk->m)
			err_die(111, "internal error: unparsable info made",
			    (const char *)0);
	}
	/* The first attempt of an all-local message is made from new/,
	 * with nothing written until its state must outlive it (docs/
	 * send.md, "The first attempt"). */
	if (off <= FRESH_SIZE_MAX && nfresh < FRESH_MAX &&
	    msg_all_local(pk->m, now)) {
		fresh_add(pk->m);
		close(pk->fd);
		pk->fd = -1;
	} else if (qfile_info_write(pk->id, info.s, info.len, 0, &why) < 0) {
		err_warnsys("unable to ", why, " queue/info/", pk->name,
		    (const char *)0);
		msg_free(pk->m);
		pk->m = 0;
		goto retry;
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
	char b2[NUM_LEN], b3[NUM_LEN];

	for (k = 0; k < n; k++)
		if (pick_prepare(&pk[k], now) == 0 && !pk[k].m->fresh)
			good++;
	if (good) {
		dir_sync(QFILE_INFO);
		for (k = 0; k < n; k++)
			if (pk[k].m && !pk[k].m->fresh &&
			    pick_finish(&pk[k]) < 0) {
				/* info/<id> stays beside new/<id>: resumed
				 * later */
				if (rescan_at > now + NEW_RETRY)
					rescan_at = now + NEW_RETRY;
				msg_free(pk[k].m);
				pk[k].m = 0;
			}
		/* mess/ gains the name and new/ loses it: both are synced
		 * before a delivery can start (qfile_pick_sync). */
		if (qfile_pick_sync(&dir) < 0)
			err_diesys(111, "unable to sync queue/", dir,
			    (const char *)0);
		new_synced();
	}
	for (k = 0; k < n; k++) {
		struct msg *m = pk[k].m;

		if (!m)
			continue;
		if (!pk[k].resumed)
			err_info("new msg ", m->qid, " from <",
			    envelope_sender(m->env), "> size ",
			    num_fmt(b2, pk[k].msglen), " rcpts ",
			    num_fmt(b3, m->nr), " message-id <", pk[k].msgid,
			    ">", (const char *)0);
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
		if (fresh_find(id))
			continue;	/* on its first attempt from new/ */
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
	pool_start();
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
	unsigned long long sec;

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (str_copys(&p, "queue/tmp/") < 0 ||
		    str_puts(&p, de->d_name) < 0 || str_0(&p) < 0)
			die_nomem();
		if (lstat(p.s, &st) == 0 && S_ISREG(st.st_mode) &&
		    (int64_t)st.st_mtime < now - TMP_MAXAGE &&
		    /* a file of the pool keeps its old mtime for a moment
		     * after queue took it: its name says when */
		    (qfile_tmp_sec(de->d_name, &sec) < 0 ||
		    (int64_t)sec < now - TMP_MAXAGE)) {
			if (unlink(p.s) == 0)
				err_info("removed old queue/tmp/", de->d_name,
				    (const char *)0);
		}
	}
	closedir(d);
	str_free(&p);
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

/* requeue - the command channel's requeue: reread the control files and
 * the routing tables now, and make every pending recipient due, so that
 * each is routed again (local or remote, and remote's smtproutes) with
 * what they say now */
void
requeue(int64_t now)
{
	struct msg *m;

	control_load(0);
	routes_refresh(now, 1);
	for (m = msgs; m; m = m->next)
		(void)msg_due_now(m, 0);
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
	/* after the lock: only the send that owns the queue answers */
	ctl_init();

	for (;;) {
		size_t n = 0, k, nctl;
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
			new_flush(1);
			ctl_close();
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
		new_flush(0);	/* removals durable, a few together */
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
		r = stopby ? -1 : ctl_timeout(now);
		if (r >= 0 && (timeout < 0 || r < timeout))
			timeout = r;
		r = new_flush_wait();
		if (r >= 0 && (timeout < 0 || r < timeout))
			timeout = r;
		if (apf < nrun + 3 + ctl_nfds()) {
			apf = nrun + ctl_nfds() + 64;
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
		nctl = stopby ? 0 : ctl_pollfds(pf + n);
		r = poll(pf, n + nctl, timeout);
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
		/* The channel last: its requests see this pass's results. */
		if (!stopby)
			ctl_events(pf + n, nctl, now);
	}
}
