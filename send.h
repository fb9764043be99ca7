/*
 * send.h - what the files of the program send share, and nothing else:
 * the message, recipient and job structs, the control settings, and the
 * functions one file calls in another.  send.c owns main, the signals,
 * the control files, the schedule and a message's life on disk (pick-up,
 * settle, removal); send-jobs.c the jobs, routing a message into them,
 * the qpost-spawn protocol, starting, reading and reaping them;
 * send-results.c turning a finished job into per-recipient results and
 * info records; send-bounce.c the RFC 3464 bounces; send-ctl.c the
 * command channel run/send/ctl (docs/queue-control.md).
 */
#ifndef SEND_H
#define SEND_H

#include <stddef.h>
#include <stdint.h>
#include <stdnoreturn.h>
#include <poll.h>
#include <sys/types.h>

#include "dsn.h"
#include "qfile.h"
#include "str.h"

#define TRIPLE "#@[]"		/* sender of a double bounce (qmail's) */

enum { CH_LOCAL, CH_REMOTE };
enum { RS_PENDING, RS_INFLIGHT, RS_DONE, RS_FAILED };
enum { RES_OK, RES_TEMP, RES_PERM };

struct rcpt {
	const char *addr;	/* into msg.env */
	char *reason;		/* RS_FAILED: why */
	char *error;		/* RS_PENDING: the last deferral's reason, or 0 */
	int64_t next;		/* RS_PENDING: earliest next attempt */
	unsigned tries;
	unsigned char state;
};

struct msg {
	unsigned long id;	/* the inode number: the file names */
	char qid[QFILE_MSGID_LEN];	/* the ID in the log (qfile_msgid) */
	int64_t birth;		/* seconds */
	uint64_t birth_us;	/* microseconds */
	int64_t due;		/* heap key */
	size_t hpos;
	char *env;		/* the envelope, as in the queue */
	size_t envlen;
	struct rcpt *r;
	size_t nr;
	size_t left;		/* recipients RS_PENDING or RS_INFLIGHT */
	size_t failed;		/* recipients RS_FAILED */
	unsigned jobs;		/* jobs queued or running */
	unsigned long long size;	/* bytes of mess/<id> */
	struct msg *prev;	/* every message send holds (msgs) */
	struct msg *next;
	unsigned char held;	/* not scheduled until released */
	unsigned char sign;	/* an origin record: remote signs (DKIM) */
	unsigned char gone;	/* mess/<id> vanished: dropped when idle */
	unsigned char fresh;	/* on its first attempt, still in new/, its
				 * state in memory only (docs/send.md) */
	struct msg *fnext;	/* the fresh messages' hash chain */
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

/* The control files (send.c, control_load). */
struct conf {
	str me;
	str bouncefrom;
	str bouncehost;
	str dbto;		/* full address, or empty: drop */
	unsigned long conc[2];
	int64_t lifetime;
};

extern struct conf cf;		/* send.c */
extern const char *prog[2];	/* send.c: bin/local, bin/remote */
extern int spawnfd;		/* send.c: qpost-spawn's socket, or -1 */
extern const char *const chname[2];	/* send-jobs.c: "local", "remote" */
extern struct msg *msgs;	/* send.c: every message, newest first */
extern struct job **run;	/* send-jobs.c: the running jobs */
extern size_t nrun;

/* send.c */
noreturn void die_nomem(void);
void *xcalloc(size_t, size_t);
char *reason_clean(const char *, size_t);
char *reason_encode(const struct dsn *, char);
int64_t retry_delay(int, unsigned);
void qpath(str *, const char *, unsigned long, const char *);
#define DELAY_LEN (NUM_LEN + 2)	/* "SECONDS.T" */
char *delay_fmt(char[DELAY_LEN], const struct msg *);
void info_append(struct msg *, const str *, int);
int msg_open(const struct msg *);
void msg_settle(struct msg *, int64_t);
int msg_due_now(struct msg *, const char *domain);
void msgs_delete(struct msg **, size_t, unsigned long uid);
void msg_hold(struct msg *, int hold, unsigned long uid, int64_t now);
void requeue(int64_t);

/* send-jobs.c */
void routes_refresh(int64_t, int);
void msg_start(struct msg *, int64_t);
int msg_all_local(const struct msg *, int64_t);
void start_jobs(int64_t);
int job_read(struct job *);
void jobs_finish(int64_t);
void reap(void);
void spawn_read(void);

/* send-results.c */
void job_done(struct job *, int64_t);
void job_end(struct job *, int64_t);

/* send-ctl.c */
void ctl_init(void);
void ctl_close(void);
size_t ctl_nfds(void);
size_t ctl_pollfds(struct pollfd *);
void ctl_events(const struct pollfd *, size_t, int64_t);
int ctl_timeout(int64_t);

/* send-bounce.c */
int bounce(struct msg *, int64_t);

#endif
