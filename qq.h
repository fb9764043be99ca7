/* qq - running the queue program ($QPOST_QUEUE, else the home's
 * bin/queue) the way qmail runs qmail-queue: the message goes to its fd 0,
 * then the envelope to its fd 1, and its exit code is the answer. */
#ifndef QQ_H
#define QQ_H

#include <sys/types.h>

#include "buf.h"
#include "str.h"

#define QQ_EXEC_FAILED 120	/* the child could not exec the program */
#define QQ_CRASHED 81		/* killed by a signal: treated as a bug */
#define QQ_ID_MAX 40		/* the longest ID taken from $QPOST_IDFD */
#define QQ_REPLY 82		/* a filter's refusal: its reply is on
				 * $QPOST_IDFD (qmail's custom-error code) */
#define QQ_REPLY_MAX 400	/* the longest such reply, no CRLF */

typedef struct {
	pid_t pid;
	int msgfd;
	int envfd;
	int failed;		/* a write to the message pipe failed */
	int idfd;		/* qq_openid: the read end of the ID pipe */
	char id[QQ_ID_MAX + 1];	/* the ID queue told, or "" */
	char reply[QQ_REPLY_MAX + 1];	/* a filter's reply line, or "" */
	buf out;
	char space[BUF_SIZE];
	str env;
} qq;

/* qq_open - start the queue program; -1 with errno (ECHILD when
 * SIGCHLD is ignored: its exit code could not be collected), after which
 * qq_put and qq_puts drop what they are given and qq_close must not be
 * called (a message that arrives anyway can be read and thrown away).  The
 * caller ignores SIGPIPE and leaves SIGCHLD at its default, once at
 * start (qq.c); qq changes no signal disposition itself. */
int qq_open(qq *);
/* qq_openid - qq_open, and ask the queue program for the message's ID
 * through a pipe named by $QPOST_IDFD (docs/queue.md); qq_id has it
 * after qq_close */
int qq_openid(qq *);
void qq_put(qq *, const char *, size_t);
void qq_puts(qq *, const char *);
void qq_from(qq *, const char *sender);
void qq_to(qq *, const char *rcpt);
/* qq_close - finish the message, send the envelope, wait: the queue
 * program's exit code (0 queued), QQ_CRASHED, or QQ_EXEC_FAILED */
int qq_close(qq *);
/* qq_pid - the queue process's pid, for "qp N" in replies and logs */
pid_t qq_pid(const qq *);
/* qq_id - after qq_close of a qq_openid: the queued message's ID, or 0
 * when none came back (a qmail-queue filter in front that closed the
 * descriptor, or an old queue program) */
const char *qq_id(const qq *);

/* qq_reply - after qq_close returned QQ_REPLY: the filter's reply line
 * ("550 5.7.1 text", no CRLF), or 0 when it gave none that qq_replyok
 * takes (the caller then answers as for any temporary code) */
const char *qq_reply(const qq *);
/* qq_replyok - is s[0..n) one reply line a filter may give: a 4xx or
 * 5xx code, a space, an enhanced status of the same class, printable
 * ASCII, at most QQ_REPLY_MAX bytes? */
int qq_replyok(const char *s, size_t n);

/* qq_status - an exit code as an enhanced status and text, e.g.
 * "4.3.0 qq write error or disk full" */
const char *qq_status(int code);
/* qq_temp - 1 if code is a temporary failure, 0 if permanent or 0 */
int qq_temp(int code);

#endif
