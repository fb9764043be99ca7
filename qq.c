/* qq - talking to the queue program.
 *
 * Signals: qq changes no signal disposition of the caller.  The caller
 * decides once, at start, to ignore SIGPIPE (so that a queue program
 * that exits early is a write error here and its exit code the answer,
 * not a kill) and to have SIGCHLD at its default (an ignored SIGCHLD is
 * inherited through exec and lets the kernel reap the queue program, so
 * its exit code would be lost after the message was queued).  qq_open
 * refuses to start the queue program while SIGCHLD is ignored.  The
 * queue program itself starts with SIGPIPE and SIGCHLD at their
 * defaults, whatever the caller chose. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "home.h"
#include "num.h"
#include "qq.h"
#include "spawn.h"

/* sigchld_ignored - would the kernel reap our children unwaited? */
static int
sigchld_ignored(void)
{
	struct sigaction sa;

	if (sigaction(SIGCHLD, 0, &sa) < 0)
		return 0;
	if (sa.sa_flags & SA_NOCLDWAIT)
		return 1;
	return !(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_IGN;
}

/* qq_start - qq_open, with an ID pipe when wantid */
static int
qq_start(qq *q, int wantid)
{
	int mp[2], ep[2], ip[2] = { -1, -1 }, e;
	char *argv[2];
	char b[NUM_LEN];
	struct spawn_fd fds[3];
	struct spawn sp = { .fds = fds, .nfds = 2,
	    .failcode = QQ_EXEC_FAILED };
	const char *prog = getenv("QPOST_QUEUE");
	str path = STR_INIT, env = STR_INIT;

	q->pid = -1;
	q->failed = 1;	/* until started: qq_put and qq_puts drop */
	q->idfd = -1;
	q->id[0] = 0;
	q->reply[0] = 0;
	q->env.s = 0;
	q->env.len = q->env.a = 0;
	if (!prog || !*prog) {
		if (home_path(&path, "bin/queue") < 0)
			return -1;
		prog = path.s;
	}
	if (sigchld_ignored()) {
		str_free(&path);
		errno = ECHILD;
		return -1;
	}
	if (pipe2(mp, O_CLOEXEC) < 0)
		goto fail0;
	if (pipe2(ep, O_CLOEXEC) < 0)
		goto fail1;
	argv[0] = (char *)(unsigned long)prog;	/* execv wants char * */
	argv[1] = 0;
	fds[0].from = mp[0];
	fds[0].to = 0;
	fds[1].from = ep[0];
	fds[1].to = 1;
	/* The ID pipe keeps its number in the child, named in the
	 * environment; a failure to make it only costs the ID.  Without
	 * one the variable is emptied: a value inherited from our own
	 * environment must not make queue write into some other fd. */
	if (wantid && pipe2(ip, O_CLOEXEC) == 0) {
		if (str_puts(&env, "QPOST_IDFD=") < 0 ||
		    str_puts(&env, num_fmt(b, (unsigned)ip[1])) < 0 ||
		    str_putc(&env, 0) < 0 || str_putc(&env, 0) < 0) {
			close(ip[0]);
			close(ip[1]);
			ip[0] = ip[1] = -1;
		} else {
			fds[2].from = fds[2].to = ip[1];
			sp.nfds = 3;
		}
	}
	if (ip[1] < 0) {
		env.len = 0;
		if (str_puts(&env, "QPOST_IDFD=") < 0 || str_putc(&env, 0) < 0 ||
		    str_putc(&env, 0) < 0)
			env.len = 0;
	}
	if (env.len)
		sp.env = &env;
	q->pid = spawn_run(argv, &sp);
	str_free(&env);
	if (ip[1] >= 0)
		close(ip[1]);
	if (q->pid < 0) {
		if (ip[0] >= 0)
			close(ip[0]);
		goto fail2;
	}
	q->idfd = ip[0];
	close(mp[0]);
	close(ep[0]);
	q->msgfd = mp[1];
	q->envfd = ep[1];
	buf_init(&q->out, q->msgfd, q->space, sizeof q->space, -1);
	q->failed = 0;
	str_free(&path);
	return 0;
fail2:
	e = errno;
	close(ep[0]);
	close(ep[1]);
	errno = e;
fail1:
	e = errno;
	close(mp[0]);
	close(mp[1]);
	errno = e;
fail0:
	str_free(&path);
	return -1;
}

int
qq_open(qq *q)
{
	return qq_start(q, 0);
}

int
qq_openid(qq *q)
{
	return qq_start(q, 1);
}

/* idread - after the queue program has exited: its ID line, or a
 * filter's reply line (exit QQ_REPLY), if one came whole.  Never
 * blocks: a filter's leftover child may hold the pipe. */
static void
idread(qq *q, int code)
{
	char b[QQ_REPLY_MAX + 2];
	size_t n = 0, k;
	ssize_t r;

	if (q->idfd < 0)
		return;
	fcntl(q->idfd, F_SETFL, O_NONBLOCK);
	while (n < sizeof b) {
		r = read(q->idfd, b + n, sizeof b - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(q->idfd);
	q->idfd = -1;
	for (k = 0; k < n && b[k] != '\n'; k++)
		;
	if (k >= n)
		return;		/* no whole line */
	if (code == QQ_REPLY) {
		if (qq_replyok(b, k)) {
			memcpy(q->reply, b, k);
			q->reply[k] = 0;
		}
		return;
	}
	/* one line of letters, digits and dots */
	if (k == 0 || k > QQ_ID_MAX)
		return;
	for (k = 0; b[k] != '\n'; k++)
		if (!((b[k] >= '0' && b[k] <= '9') ||
		    (b[k] >= 'A' && b[k] <= 'Z') || b[k] == '.'))
			return;
	memcpy(q->id, b, k);
	q->id[k] = 0;
}

int
qq_replyok(const char *s, size_t n)
{
	size_t i;

	if (n < 10 || n > QQ_REPLY_MAX || (s[0] != '4' && s[0] != '5') ||
	    s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9' ||
	    s[3] != ' ' || s[4] != s[0] || s[5] != '.')
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] < 32 || s[i] > 126)
			return 0;
	return 1;
}

const char *
qq_reply(const qq *q)
{
	return q->reply[0] ? q->reply : 0;
}

void
qq_put(qq *q, const char *s, size_t n)
{
	if (!q->failed && buf_put(&q->out, s, n) < 0)
		q->failed = 1;
}

void
qq_puts(qq *q, const char *s)
{
	if (!q->failed && buf_puts(&q->out, s) < 0)
		q->failed = 1;
}

void
qq_from(qq *q, const char *sender)
{
	if (str_putc(&q->env, 'F') < 0 || str_puts(&q->env, sender) < 0 ||
	    str_putc(&q->env, 0) < 0)
		q->failed = 1;
}

void
qq_to(qq *q, const char *rcpt)
{
	if (str_putc(&q->env, 'T') < 0 || str_puts(&q->env, rcpt) < 0 ||
	    str_putc(&q->env, 0) < 0)
		q->failed = 1;
}

int
qq_close(qq *q)
{
	int status, failed = q->failed;

	if (!failed && buf_flush(&q->out) < 0)
		failed = 1;
	close(q->msgfd);
	/* A failed write means the envelope must not complete: the queue
	 * program then sees a short envelope and refuses the message. */
	if (!failed && str_putc(&q->env, 0) == 0)
		(void)fd_writeall(q->envfd, q->env.s, q->env.len, -1);
	close(q->envfd);
	str_free(&q->env);
	while (waitpid(q->pid, &status, 0) < 0)
		if (errno != EINTR) {
			if (q->idfd >= 0)
				close(q->idfd);
			q->idfd = -1;
			return QQ_CRASHED;
		}
	idread(q, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	if (WIFSIGNALED(status))
		return QQ_CRASHED;
	if (!WIFEXITED(status))
		return QQ_CRASHED;
	if (failed && WEXITSTATUS(status) == 0)
		return 53;	/* cannot happen with a correct queue */
	return WEXITSTATUS(status);
}

pid_t
qq_pid(const qq *q)
{
	return q->pid;
}

const char *
qq_id(const qq *q)
{
	return q->id[0] ? q->id : 0;
}

int
qq_temp(int code)
{
	if (code == 0)
		return 0;
	return !(code >= 11 && code <= 40);
}

const char *
qq_status(int code)
{
	switch (code) {
	case 0:
		return "2.0.0 ok";
	case 11:
		return "5.1.3 envelope address too long for qq";
	case 31:
		return "5.3.0 mail server permanently rejected message";
	case 51:
		return "4.3.0 qq out of memory";
	case 52:
		return "4.3.0 qq timeout";
	case 53:
		return "4.3.0 qq write error or disk full";
	case 54:
		return "4.3.0 qq read error";
	case 55:
		return "4.3.0 qq unable to read configuration";
	case 56:
		return "4.3.0 qq trouble making network connection";
	case 61:
		return "4.3.0 qq trouble in home directory";
	case 62:
	case 63:
	case 64:
	case 65:
	case 66:
		return "4.3.0 qq trouble with the queue directory";
	case 71:
		return "4.3.0 mail server temporarily rejected message";
	case 72:
		return "4.4.2 connection to mail server timed out";
	case 73:
		return "4.4.1 connection to mail server rejected";
	case 74:
		return "4.4.2 communication with mail server failed";
	case 81:
		return "4.3.0 qq internal bug";
	case 91:
		return "4.3.0 qq envelope format error";
	case QQ_EXEC_FAILED:
		return "4.3.0 unable to run qq";
	}
	if (code >= 11 && code <= 40)
		return "5.3.0 qq permanent problem";
	return "4.3.0 qq temporary problem";
}
