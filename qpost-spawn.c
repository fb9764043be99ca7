/*
 * qpost-spawn - the root part of qpost's delivery: it starts send as the
 * unprivileged queue user and runs local as root for it, nothing else.
 *
 * Usage: qpost-spawn [-u account] program [arg...]
 *   Started as root by the send service.  It makes a socketpair, then runs
 *   program (bin/send) as account (setgroups, setgid, setuid, checked in
 *   that order) with the socket's number in $QPOST_SPAWN_FD.  Without -u
 *   the program keeps qpost-spawn's uid (a single-user home).
 *
 * Protocol on the socket (SOCK_SEQPACKET, one request per packet):
 *   send -> spawn: "number NUL sender NUL recipient NUL" with two file
 *     descriptors attached (SCM_RIGHTS): the message (local's fd 0) and
 *     the write end of the pipe for local's fd 1 and fd 2.
 *   spawn -> send: "number SP wait-status" when that local has ended.
 *   For each request qpost-spawn runs `local SENDER RECIPIENT` as root
 *   ($QPOST_LOCAL, else the home's bin/local); local looks the recipient
 *   up and becomes that user itself.  qpost-spawn does not read mail,
 *   parse addresses beyond a length check, or touch the queue.
 *
 * Signals: SIGHUP, SIGALRM and SIGTERM are passed on to send.  When send
 *   exits, qpost-spawn waits for the locals still running, then exits
 *   with send's exit code.
 *
 * Exit codes: send's; 100 usage or unknown account; 111 a system error
 *   before send ran.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "addr.h"
#include "err.h"
#include "home.h"
#include "str.h"

#define REQ_MAX (2 * ADDR_MAX + 64)	/* the largest request packet */
#define ULEN 24

struct kid {
	pid_t pid;
	char number[ULEN];
};

static struct kid *kids;
static size_t nkids, akids;
static pid_t sendpid;
static int sock = -1;		/* to send; -1 once it closed */
static int selfpipe[2];
static volatile sig_atomic_t pending[3];
static const int fwd[3] = { SIGHUP, SIGALRM, SIGTERM };

static void
on_signal(int sig)
{
	int e = errno, k;

	for (k = 0; k < 3; k++)
		if (sig == fwd[k])
			pending[k] = 1;
	(void)!write(selfpipe[1], "", 1);
	errno = e;
}

static noreturn void
run_send(int fd, const char *account, char **argv)
{
	char b[ULEN];
	size_t i = ULEN - 1;
	unsigned u = (unsigned)fd;

	b[i] = 0;
	do {
		b[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (setenv("QPOST_SPAWN_FD", b + i, 1) < 0)
		err_nomem();
	if (account) {
		struct passwd *pw = getpwnam(account);

		if (!pw)
			err_die(100, "unknown account ", account,
			    (const char *)0);
		if (pw->pw_uid == 0)
			err_die(100, "refusing to run send as root",
			    (const char *)0);
		if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
		    setuid(pw->pw_uid) < 0)
			err_diesys(111, "unable to become ", account,
			    (const char *)0);
		if (getuid() != pw->pw_uid || geteuid() != pw->pw_uid ||
		    setuid(0) == 0)
			err_die(111, "unable to drop root", (const char *)0);
	}
	execv(argv[0], argv);
	err_diesys(111, "unable to run ", argv[0], (const char *)0);
}

static void
reply(const char *number, int status)
{
	str x = STR_INIT;

	if (sock < 0)
		return;

	if (str_puts(&x, number) < 0 || str_putc(&x, ' ') < 0 ||
	    str_putu(&x, (unsigned)status) < 0)
		err_nomem();
	if (send(sock, x.s, x.len, MSG_NOSIGNAL) < 0 && errno != EPIPE)
		err_warnsys("unable to report to send", (const char *)0);
	str_free(&x);
}

/* request - read one request and start local for it */
static void
request(const char *local)
{
	char buf[REQ_MAX + 1];
	union {
		char b[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct msghdr mh;
	struct iovec iov;
	struct cmsghdr *c;
	int fds[2] = { -1, -1 };
	ssize_t r;
	const char *f[3];
	size_t i, k;
	pid_t pid;

	memset(&mh, 0, sizeof mh);
	iov.iov_base = buf;
	iov.iov_len = REQ_MAX;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.b;
	mh.msg_controllen = sizeof cm.b;
	r = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (r < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		err_diesys(111, "unable to read from send", (const char *)0);
	}
	if (r == 0) {
		close(sock);
		sock = -1;
		return;
	}
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(2 * sizeof(int)))
			memcpy(fds, CMSG_DATA(c), sizeof fds);
	/* exactly three NUL-terminated fields and two descriptors */
	for (i = 0, k = 0; k < 3 && i < (size_t)r; k++) {
		char *z = memchr(buf + i, 0, (size_t)r - i);

		if (!z)
			break;
		f[k] = buf + i;
		i = (size_t)(z - buf) + 1;
	}
	if (k != 3 || i != (size_t)r || (mh.msg_flags & (MSG_TRUNC |
	    MSG_CTRUNC)) || fds[0] < 0 || fds[1] < 0 || !*f[0] ||
	    strlen(f[0]) >= ULEN || !*f[2] || strlen(f[1]) > ADDR_MAX ||
	    strlen(f[2]) > ADDR_MAX) {
		err_warn("ignoring a malformed request", (const char *)0);
		if (k >= 1 && *f[0] && strlen(f[0]) < ULEN)
			reply(f[0], 111 << 8);
		goto out;
	}
	if (nkids == akids) {
		size_t na = akids ? 2 * akids : 64;
		struct kid *nk = realloc(kids, na * sizeof *nk);

		if (!nk)
			err_nomem();
		kids = nk;
		akids = na;
	}
	pid = fork();
	if (pid < 0) {
		err_warnsys("unable to fork", (const char *)0);
		reply(f[0], 111 << 8);
		goto out;
	}
	if (pid == 0) {
		char *argv[4];

		signal(SIGHUP, SIG_DFL);
		signal(SIGALRM, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		if (dup2(fds[0], 0) < 0 || dup2(fds[1], 1) < 0 ||
		    dup2(fds[1], 2) < 0)
			_exit(111);
		argv[0] = (char *)(unsigned long)local;
		argv[1] = (char *)(unsigned long)f[1];
		argv[2] = (char *)(unsigned long)f[2];
		argv[3] = 0;
		execv(local, argv);
		err_diesys(111, "unable to run ", local, (const char *)0);
	}
	kids[nkids].pid = pid;
	memcpy(kids[nkids].number, f[0], strlen(f[0]) + 1);
	nkids++;
out:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
}

int
main(int argc, char **argv)
{
	const char *account = 0, *local = getenv("QPOST_LOCAL");
	str lp = STR_INIT;
	struct sigaction sa;
	int sv[2], sendstatus = 0, k;

	err_prog = "qpost-spawn";
	if (argc > 2 && !strcmp(argv[1], "-u")) {
		account = argv[2];
		argv += 2;
		argc -= 2;
	}
	if (argc < 2)
		err_die(100, "usage: qpost-spawn [-u account] program [arg...]",
		    (const char *)0);
	if (!local || !*local) {
		if (home_path(&lp, "bin/local") < 0)
			err_nomem();
		local = lp.s;
	}
	if (pipe2(selfpipe, O_CLOEXEC | O_NONBLOCK) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		err_diesys(111, "unable to create a socket", (const char *)0);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	for (k = 0; k < 3; k++)
		sigaction(fwd[k], &sa, 0);
	sigaction(SIGCHLD, &sa, 0);
	signal(SIGPIPE, SIG_IGN);
	sendpid = fork();
	if (sendpid < 0)
		err_diesys(111, "unable to fork", (const char *)0);
	if (sendpid == 0) {
		close(sv[0]);
		fcntl(sv[1], F_SETFD, 0);
		for (k = 0; k < 3; k++)
			signal(fwd[k], SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		run_send(sv[1], account, argv + 1);
	}
	close(sv[1]);
	sock = sv[0];
	for (;;) {
		struct pollfd pf[2];
		pid_t pid;
		int st;

		for (k = 0; k < 3; k++)
			if (pending[k]) {
				pending[k] = 0;
				if (sendpid > 0)
					kill(sendpid, fwd[k]);
			}
		while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
			size_t i;

			if (pid == sendpid) {
				sendpid = 0;
				sendstatus = WIFEXITED(st) ? WEXITSTATUS(st) :
				    111;
				continue;
			}
			for (i = 0; i < nkids; i++)
				if (kids[i].pid == pid) {
					reply(kids[i].number, st);
					kids[i] = kids[--nkids];
					break;
				}
		}
		if (!sendpid && !nkids)
			_exit(sendstatus);
		pf[0].fd = selfpipe[0];
		pf[0].events = POLLIN;
		pf[1].fd = sock;
		pf[1].events = POLLIN;
		if (poll(pf, 2, -1) < 0 && errno != EINTR)
			err_diesys(111, "unable to poll", (const char *)0);
		if (pf[0].revents) {
			char b[64];

			while (read(selfpipe[0], b, sizeof b) > 0)
				;
		}
		if (pf[1].fd >= 0 &&
		    (pf[1].revents & (POLLIN | POLLHUP | POLLERR)))
			request(local);
	}
}
