/* qfile - the queue's on-disk contract, in one place: the directories
 * and file names under queue/, the 32-byte trailer of a file in new/, the
 * records of info/<id>, the one size limit, and the steps that commit a
 * pick-up or a removal with their fsync order.  queue, send and
 * qpost-tool use it; nothing else touches these formats.  docs/queue.md
 * describes the formats and why each order is safe. */
#ifndef QFILE_H
#define QFILE_H
#include <stddef.h>
#include "str.h"

/* Directories under queue/ (paths are relative to the home). */
#define QFILE_TMP "tmp"
#define QFILE_NEW "new"
#define QFILE_MESS "mess"
#define QFILE_INFO "info"
/* The pool of files for reuse (docs/queue.md, "The pool"): done/ holds
 * the files of messages finished from new/ until the fsync of new/ makes
 * their removal durable; free/ holds them from then on, for queue to
 * write its next message into instead of creating a file. */
#define QFILE_POOLDONE "done"
#define QFILE_POOLFREE "free"
#define QFILE_POOL_MAX 1024	/* files kept in free/ */
#define QFILE_POOL_KEEP (64UL * 1024)	/* larger files are emptied first */
#define QFILE_CLAIM_TRIES 4	/* free/ files queue tries before creating */

#define QFILE_TRAILER_LEN 32	/* "QPOSTENV " + 22 digits + "\n" */
#define QFILE_TRAILER_TAG "QPOSTENV "

/* The one size limit: the largest info/<id> read, and so the largest
 * envelope taken from new/.  A valid envelope is at most about 100 MB
 * (ENVELOPE_RCPT_MAX addresses of ADDR_MAX), its f records at most about
 * 91 MB more, and compaction keeps the growth under QFILE_INFO_GROW_MAX. */
#define QFILE_INFO_MAX (256UL * 1024 * 1024)
/* An info file is rewritten compactly when it has grown past its compact
 * form by the larger of QFILE_INFO_SLACK bytes and its compact size, but
 * never by more than QFILE_INFO_GROW_MAX. */
#define QFILE_INFO_SLACK 1024
#define QFILE_INFO_GROW_MAX (1024UL * 1024)

/* A message's ID (docs/queue.md): QFILE_MSGID_DIGITS base-36 digits
 * (0-9, A-Z) of its birth in microseconds since the epoch, a dot, and the
 * decimal inode number of its queue file, e.g. "0K4QZ3V8HD.1311893".
 * QFILE_MSGID_LEN holds the longest with its NUL. */
#define QFILE_MSGID_DIGITS 10
#define QFILE_MSGID_LEN (QFILE_MSGID_DIGITS + 1 + 20 + 1)
#define QFILE_USEC 1000000ULL	/* microseconds in a second */

/* recipient states in info/<id> */
enum { QFILE_PENDING, QFILE_DONE, QFILE_FAILED };

struct qfile_rcpt {
	const char *addr;	/* into the envelope */
	const char *reason;	/* QFILE_FAILED: NUL-ended, into the bytes */
	const char *error;	/* QFILE_PENDING: the last deferral's reason
				 * (e record), NUL-ended, or 0 */
	unsigned long long tries;	/* from the last r record */
	unsigned long long next;
	unsigned char state;
};

/* A parsed info/<id>: pointers into the bytes given to the parser. */
struct qfile_info {
	unsigned long long birth;	/* mtime of new/<id>, seconds */
	unsigned long long birth_us;	/* the same in microseconds */
	unsigned long long msglen;	/* length of mess/<id> */
	unsigned long long fullsize;	/* length of new/<id> before the cut */
	const char *env;		/* the checked envelope */
	size_t envlen;
	struct qfile_rcpt *r;		/* one per recipient, in order */
	size_t nr;
	int held;	/* the last H or U record was H */
	const char *origin;	/* the O record's origin, NUL-ended, or 0 */
	size_t good;	/* bytes of complete records: a torn tail follows */
};

/* qfile_path - "queue/" dir "/" id suffix, NUL-ended; -1 out of memory */
int qfile_path(str *, const char *dir, unsigned long id, const char *suffix);
/* qfile_id - a canonical decimal file name as an id; -1 if not one */
int qfile_id(const char *name, unsigned long *id);
/* qfile_tmpname - queue's name for its file, "tmp/<pid>.<sec>.<nsec>"
 * (the time it took the file) in b: 0, or -1 if n is too small */
#define QFILE_TMPNAME_LEN 64
int qfile_tmpname(char *b, size_t n);
/* qfile_tmp_sec - the <sec> of such a name (the part after tmp/):
 * 0 with *sec, -1 if name is not one of queue's */
int qfile_tmp_sec(const char *name, unsigned long long *sec);

/* qfile_msgid - the ID of the message born at birth_us (microseconds
 * since the epoch; a birth past QFILE_MSGID_DIGITS digits wraps) whose
 * file has inode number inode, NUL-ended into id; returns id */
char *qfile_msgid(char id[QFILE_MSGID_LEN], unsigned long long birth_us,
    unsigned long inode);
/* qfile_msgid_parse - a full ID (digits in either case), or a bare
 * canonical decimal inode number (then *birth_us is 0: any birth): 0,
 * or -1 if s is neither */
int qfile_msgid_parse(const char *s, unsigned long long *birth_us,
    unsigned long *inode);
/* qfile_birth_us - a file time (seconds, nanoseconds) in microseconds */
unsigned long long qfile_birth_us(long long sec, long nsec);

/* qfile_trailer - the trailer naming the envelope at offset off */
void qfile_trailer(char t[QFILE_TRAILER_LEN], unsigned long long off);
/* qfile_trailer_parse - the envelope offset of a file of size bytes
 * ending in t; -1 if t is not a trailer or the envelope it names does not
 * fit the file or QFILE_INFO_MAX */
int qfile_trailer_parse(const char *t, unsigned long long size,
    unsigned long long *off);
/* qfile_newenv - the checked envelope of the new/ file on fd (size bytes)
 * into env (with the origin record behind it, if any: qfile_info_head
 * copies both), its offset into *off: 0; -1 a read failed (errno); -2 the
 * file is malformed and *why says how */
int qfile_newenv(int fd, unsigned long long size, str *env,
    unsigned long long *off, const char **why);

/* Encoding info/<id>: the head (M record and envelope), then state
 * records.  Each returns -1 when out of memory.  birth_us is the birth
 * in microseconds. */
int qfile_info_head(str *, unsigned long long birth_us,
    unsigned long long msglen, unsigned long long fullsize,
    const char *env, size_t envlen);
int qfile_rec_done(str *, size_t i);
int qfile_rec_failed(str *, size_t i, const char *reason);
int qfile_rec_retry(str *, size_t i, unsigned long long tries,
    unsigned long long next);
/* qfile_rec_error - recipient i's last deferral reason, written with
 * (after) its r record; at most DSN_REASON_MAX bytes are kept */
int qfile_rec_error(str *, size_t i, const char *reason);
/* The origin record "O" origin NUL: written by queue after the
 * envelope in new/<id>, copied behind the head of info/<id> by the
 * pick-up, kept by compaction.  It says the message comes from one of
 * our own users, so remote signs it with DKIM (docs/dkim.md); mail from
 * the network that is neither relayed nor authenticated, and forwards,
 * have none. */
#define QFILE_ORIGIN_LOCAL "local"	/* injected on this host */
#define QFILE_ORIGIN_RELAY "relay"	/* smtpd with RELAYCLIENT */
#define QFILE_ORIGIN_AUTH "auth"	/* smtpd after AUTH */
int qfile_rec_origin(str *, const char *origin);
/* qfile_rec_hold - the message is held (hold) or released (!hold) */
int qfile_rec_hold(str *, int hold);
/* qfile_rec_state - the records that say the state of r: d, f, or r
 * and its e (none for a recipient never tried) */
int qfile_rec_state(str *, size_t i, const struct qfile_rcpt *r);
/* qfile_info_encode - the compact form of a parsed info */
int qfile_info_encode(str *, const struct qfile_info *);

/* qfile_info_parse - parse n bytes of info/<id>: 0, or -1 if corrupt.
 * A recipient's first d or f record is final; r records before it set
 * tries and next (the last one wins), later records are ignored. */
int qfile_info_parse(const char *s, size_t n, struct qfile_info *);
void qfile_info_free(struct qfile_info *);
/* qfile_info_read - the whole file on fd into x; -1 with errno (EFBIG
 * over QFILE_INFO_MAX) */
int qfile_info_read(int fd, str *x);
/* qfile_info_bloated - should a file of size bytes whose compact form
 * is compact bytes be rewritten? */
int qfile_info_bloated(unsigned long long size, size_t compact);

/* The commit steps.  Each returns 0, or -1 with errno and *step naming
 * the step that failed. */
/* qfile_info_write - info/<id> becomes exactly s: written to
 * info/<id>.tmp, fsynced, renamed; with sync, info/ is fsynced too */
int qfile_info_write(unsigned long id, const char *s, size_t n, int sync,
    const char **step);
/* qfile_pick_move - cut new/<id> (open on fd) to msglen, fsync it and
 * rename it into mess/; fd is closed */
int qfile_pick_move(int fd, unsigned long id, unsigned long long msglen,
    const char **step);
/* qfile_sync - fsync the directory queue/<dir>: 0, or -1 with errno */
int qfile_sync(const char *dir);
/* qfile_pick_sync - after a batch of qfile_pick_move: fsync mess/, then
 * new/ (so the name can neither be lost nor come back); -1 with errno
 * and *dir the directory that failed */
int qfile_pick_sync(const char **dir);
/* qfile_claim - for queue, whose working directory is queue/: a file of
 * free/ renamed to tmpname (the claim), then its mtime set to now, open
 * for writing at offset 0, its size in *size; -1 if free/ has none to
 * give (then queue creates a file).  send's clean_tmp goes by the mtime
 * and by the time in tmpname (qfile_tmp_sec). */
int qfile_claim(const char *tmpname, unsigned long long *size);
/* qfile_release - for send, once the fsync of new/ made the rename of
 * new/<id> to done/<id> durable: with keep, done/<id> goes to free/
 * (emptied first if over QFILE_POOL_KEEP bytes) and 1 is returned;
 * otherwise, or if that fails, it is unlinked and 0 returned */
int qfile_release(unsigned long id, unsigned long long size, int keep);
/* qfile_pool_count - the number of files in free/ (send, at start and
 * when its count of the room left runs out) */
size_t qfile_pool_count(void);
/* qfile_remove - the message is done: unlink info/<id>, fsync info/,
 * then unlink mess/<id> */
int qfile_remove(unsigned long id, const char **step);
/* qfile_remove_many - qfile_remove of n messages with one fsync of
 * info/: every info/<id> unlinked, info/ fsynced, then every mess/<id>
 * (queue control's delete by pattern) */
int qfile_remove_many(const unsigned long *ids, size_t n, const char **step);

#endif
