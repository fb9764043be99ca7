/* spawn - starting a child program (see spawn.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"

#include "err.h"
#include "spawn.h"

/* the signals a qpost program may catch or ignore: the child gets them
 * back at their defaults (an ignored SIGPIPE or SIGCHLD survives exec) */
static const int reset[] = {
	SIGPIPE, SIGCHLD, SIGHUP, SIGALRM, SIGTERM, SIGINT, SIGQUIT, SIGUSR1,
	SIGUSR2
};

static noreturn void
child_fail(const struct spawn *sp, int e, const char *what, const char *what2,
    const char *arg)
{
	if (sp && sp->failmsg)
		(void)!write(1, sp->failmsg, sp->failmsglen);
	errno = e;
	err_diesys(sp && sp->failcode ? sp->failcode :
	    e == ENOENT ? 127 : 126, what, what2, arg, (const char *)0);
}

static void
child_fds(const struct spawn *sp)
{
	size_t i;
	int top = 2, tmp[SPAWN_MAXFDS];

	for (i = 0; i < sp->nfds; i++)
		if (sp->fds[i].to > top)
			top = sp->fds[i].to;
	/* first out of the way of every target, then onto it: a source
	 * that is another's target, or its own, survives; dup2 clears
	 * close-on-exec on the target */
	for (i = 0; i < sp->nfds; i++) {
		tmp[i] = fcntl(sp->fds[i].from, F_DUPFD_CLOEXEC, top + 1);
		if (tmp[i] < 0)
			child_fail(sp, errno, "unable to set up descriptors",
			    "", "");
	}
	for (i = 0; i < sp->nfds; i++)
		if (dup2(tmp[i], sp->fds[i].to) < 0)
			child_fail(sp, errno, "unable to set up descriptors",
			    "", "");
}

/* child_ids - qmail's prot_gid then prot_uid: the one gid as the only
 * group, the gid, then the uid, each checked.  Raw system calls: the C
 * library's wrappers would tell the parent's threads to follow (glibc's
 * setxid broadcast), and this child shares the parent's memory. */
static void
child_ids(const struct spawn *sp)
{
	gid_t g = sp->gid;
	uid_t u = sp->uid;

	if (syscall(SYS_setgroups, 1, &g) < 0 || syscall(SYS_setgid, g) < 0 ||
	    getgid() != g || getegid() != g)
		child_fail(sp, errno ? errno : EPERM, "unable to change the "
		    "group", "", "");
	if (syscall(SYS_setuid, u) < 0 || getuid() != u || geteuid() != u ||
	    (u != 0 && syscall(SYS_setuid, 0) == 0))
		child_fail(sp, errno ? errno : EPERM, "unable to change the "
		    "user", "", "");
}

/* child - everything between vfork and exec: system calls only */
static noreturn void
child(char *const argv[], const struct spawn *sp, char *const envp[])
{
	struct sigaction sa;
	sigset_t none;
	size_t i;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof reset / sizeof reset[0]; i++)
		(void)sigaction(reset[i], &sa, 0);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, 0);
	if (sp) {
		if (sp->pgrp && setpgid(0, 0) < 0)
			child_fail(sp, errno, "unable to start a process group",
			    "", "");
		child_fds(sp);
		if (sp->ids)
			child_ids(sp);
	}
	execvpe(argv[0], argv, envp);
	child_fail(sp, errno, "unable to run ", sp && sp->what ? sp->what :
	    "", argv[0]);
}

/* env_merge - environ with the "VAR=value" NUL ... of add in place of
 * (or after) the variables of those names; the strings are not copied */
static char **
env_merge(const str *add)
{
	size_t n = 0, k = 0, pos, i;
	char **e;

	for (i = 0; environ && environ[i]; i++)
		n++;
	for (pos = 0; pos < add->len && add->s[pos]; pos += strlen(add->s +
	    pos) + 1)
		n++;
	e = calloc(n + 1, sizeof *e);
	if (!e)
		return 0;
	for (i = 0; environ && environ[i]; i++) {
		const char *v = environ[i], *eq = strchr(v, '=');
		size_t vn = eq ? (size_t)(eq - v) + 1 : strlen(v);
		int replaced = 0;

		for (pos = 0; pos < add->len && add->s[pos]; pos +=
		    strlen(add->s + pos) + 1)
			if (!strncmp(add->s + pos, v, vn) && eq)
				replaced = 1;
		if (!replaced)
			e[k++] = environ[i];
	}
	for (pos = 0; pos < add->len && add->s[pos]; pos += strlen(add->s +
	    pos) + 1)
		e[k++] = add->s + pos;
	e[k] = 0;
	return e;
}

/* start - the vfork, in a frame of its own: nothing of spawn_run's
 * lives across it */
static __attribute__((noinline)) pid_t
start(char *const argv[], const struct spawn *sp, char *const envp[])
{
	pid_t pid = vfork();

	if (pid == 0)
		child(argv, sp, envp);
	return pid;
}

pid_t
spawn_run(char *const argv[], const struct spawn *sp)
{
	sigset_t all, old;
	char **envp = environ;
	pid_t pid;
	int e;

	if (sp && sp->nfds > SPAWN_MAXFDS) {
		errno = EINVAL;
		return -1;
	}
	if (sp && sp->env && !(envp = env_merge(sp->env))) {
		errno = ENOMEM;
		return -1;
	}
	sigfillset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, &old);
	pid = start(argv, sp, envp);
	e = errno;
	(void)sigprocmask(SIG_SETMASK, &old, 0);
	if (envp != environ)
		free(envp);
	errno = e;
	return pid;
}

int
spawn_collect(char *const argv[], const char *what, int to, char *b,
    size_t max, size_t *n, int ms)
{
	struct spawn_fd fds[3];
	struct spawn sp = { .fds = fds, .nfds = 0, .failcode = 111,
	    .what = what };
	int p[2], null, st, e = 0;
	ssize_t r = -1;
	pid_t pid = -1, w;

	*n = 0;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		fds[sp.nfds].from = null;
		fds[sp.nfds++].to = 0;
		if (to == 2) {
			fds[sp.nfds].from = null;
			fds[sp.nfds++].to = 1;
		}
		fds[sp.nfds].from = p[1];
		fds[sp.nfds++].to = to;
		pid = spawn_run(argv, &sp);
		e = errno;
		close(null);
	}
	close(p[1]);
	while (pid > 0 && *n < max && (r = fd_read(p[0], b + *n, max - *n,
	    ms)) > 0)
		*n += (size_t)r;
	if (pid > 0 && r > 0) {	/* full: one more byte is too much */
		char c;

		r = fd_read(p[0], &c, 1, ms);
		e = EMSGSIZE;
	} else if (pid > 0 && r < 0)
		e = ETIMEDOUT;
	close(p[0]);
	if (pid <= 0) {
		errno = e ? e : EIO;
		return -1;
	}
	if (r != 0)		/* timed out, or said too much */
		kill(pid, SIGKILL);
	while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
		;
	if (r == 0 && w == pid && WIFEXITED(st))
		return WEXITSTATUS(st);
	errno = r != 0 ? e : EIO;
	return -1;
}

union fdmsg {
	char b[CMSG_SPACE(2 * sizeof(int))];
	struct cmsghdr align;
};

ssize_t
spawn_sendfds(int sock, const void *p, size_t n, const int fds[2], int flags)
{
	union fdmsg cm;
	struct msghdr mh;
	struct iovec iov;
	struct cmsghdr *c;

	memset(&mh, 0, sizeof mh);
	memset(&cm, 0, sizeof cm);
	iov.iov_base = (void *)(unsigned long)p;
	iov.iov_len = n;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.b;
	mh.msg_controllen = sizeof cm.b;
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(2 * sizeof(int));
	memcpy(CMSG_DATA(c), fds, 2 * sizeof(int));
	return sendmsg(sock, &mh, flags | MSG_NOSIGNAL);
}

ssize_t
spawn_recvfds(int sock, void *p, size_t max, int fds[2], int flags)
{
	union fdmsg cm;
	struct msghdr mh;
	struct iovec iov = { p, max };
	struct cmsghdr *c;
	ssize_t r;

	memset(&mh, 0, sizeof mh);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.b;
	mh.msg_controllen = sizeof cm.b;
	fds[0] = fds[1] = -1;
	r = recvmsg(sock, &mh, flags | MSG_CMSG_CLOEXEC);
	if (r < 0)
		return -1;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET &&
		    c->cmsg_type == SCM_RIGHTS) {
			size_t k, nfd = (c->cmsg_len - CMSG_LEN(0)) /
			    sizeof(int);
			int got[SPAWN_MAXFDS];

			if (nfd > SPAWN_MAXFDS)
				nfd = SPAWN_MAXFDS;
			memcpy(got, CMSG_DATA(c), nfd * sizeof(int));
			if (nfd == 2 && fds[0] < 0) {
				fds[0] = got[0];
				fds[1] = got[1];
				continue;
			}
			for (k = 0; k < nfd; k++)
				close(got[k]);
		}
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) && fds[0] >= 0) {
		close(fds[0]);
		close(fds[1]);
		fds[0] = fds[1] = -1;
	}
	return r;
}

size_t
spawn_fields(char *b, size_t n, char **f, size_t max, size_t *used)
{
	size_t i = 0, k;

	for (k = 0; k < max && i < n; k++) {
		char *z = memchr(b + i, 0, n - i);

		if (!z)
			break;
		f[k] = b + i;
		i = (size_t)(z - b) + 1;
	}
	*used = i;
	return k;
}
