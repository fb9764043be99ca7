/* spawn - the one way a qpost program starts another: vfork, then in
 * the child put every signal back to its default and unblock them, move
 * the descriptors the caller names onto their places, optionally start a
 * process group of its own, change to a uid and a single gid, and exec
 * with the environment plus the caller's variables.  The parent's signal
 * dispositions are never touched (see qq.c for why that matters).
 *
 * vfork, not fork: the child borrows the parent's memory until its exec,
 * so nothing is copied and the parent takes no copy-on-write faults
 * afterwards.  On this project's VMs a fork from a process of 2 MB cost
 * 0.7 ms and from one of 16 MB 3.7 ms, a vfork 0.1 and 0.2
 * (docs/performance.md); send, whose memory grows with the queue, starts
 * every delivery.  So the child only makes system calls on what the
 * parent prepared (the environment array, the descriptor moves) and ends
 * in execve or _exit; every signal is blocked in the parent around the
 * vfork, so none of the parent's handlers runs in the child.
 *
 * Whatever fails in the child before the exec is told on fd 2 as
 * "prog: fatal: unable to ..." and ends the child with the caller's
 * failcode (0: 127 when the program does not exist, else 126, as a
 * shell does), after failmsg (if any) is written to fd 1 — remote's
 * report channel wants its own format there. */
#ifndef SPAWN_H
#define SPAWN_H

#include <sys/types.h>

#include "str.h"

#define SPAWN_MAXFDS 8		/* descriptors one spawn may move */

struct spawn_fd {
	int from;		/* a descriptor of the parent */
	int to;			/* the number it has in the child */
};

struct spawn {
	const struct spawn_fd *fds;	/* moved in the child, overlaps
					 * and from == to handled */
	size_t nfds;
	const str *env;		/* "VAR=value" NUL ... added, or 0 */
	int pgrp;		/* a process group of its own */
	int ids;		/* become uid and gid (the one group) */
	uid_t uid;
	gid_t gid;
	int failcode;
	const char *failmsg;
	size_t failmsglen;
	const char *what;	/* "unable to run " what argv[0]: a name
				 * for the log, e.g. "the password checker " */
};

/* spawn_run - start argv[0] (searched in PATH when it has no '/') with
 * argv; the child's pid, or -1 with errno when vfork fails, memory for
 * the environment is short, or sp names more than SPAWN_MAXFDS
 * descriptors (EINVAL).  sp may be 0 (no descriptors moved, nothing else
 * changed). */
pid_t spawn_run(char *const argv[], const struct spawn *sp);

/* spawn_collect - run argv (what names it in the log, as in struct
 * spawn) with fd 0 on /dev/null, its fd `to` (1 or 2) into a pipe read
 * here into b (at most max bytes; *n says how many), fd 1 on /dev/null
 * when to is 2, and wait for it.  Its exit code; -1 when it could not
 * be run, died of a signal, or was killed here for being silent ms
 * milliseconds in one read or for saying more than max bytes (errno
 * ETIMEDOUT or EMSGSIZE then).  For a checker's one-line verdict. */
int spawn_collect(char *const argv[], const char *what, int to, char *b,
    size_t max, size_t *n, int ms);

/* spawn_sendfds - one packet of n bytes at p with the descriptors
 * fds[0] and fds[1] attached (SCM_RIGHTS), on a SOCK_SEQPACKET socket:
 * sendmsg's answer (flags are sendmsg's; MSG_NOSIGNAL is added).  How
 * send hands a delivery to qpost-spawn, and qpost-spawn to a local
 * worker. */
ssize_t spawn_sendfds(int sock, const void *p, size_t n, const int fds[2],
    int flags);
/* spawn_recvfds - one such packet into p (at most max bytes): its length
 * (0 at the socket's end), or -1 with errno.  fds gets the two
 * descriptors, close-on-exec, or -1 each when the packet had not exactly
 * two, or did not fit (any it had are closed): a malformed request. */
ssize_t spawn_recvfds(int sock, void *p, size_t max, int fds[2], int flags);
/* spawn_fields - such a packet's fields: the n bytes at b as fields
 * each ended by a NUL, at most max of them, into f; their number, with
 * *used the bytes they take (a well-formed packet: *used == n) */
size_t spawn_fields(char *b, size_t n, char **f, size_t max, size_t *used);

#endif
