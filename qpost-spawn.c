/*
 * qpost-spawn - the root part of qpost's delivery: it starts send as an
 * unprivileged account and runs every delivery for it, local as each
 * recipient (qmail's qmail-lspawn) and remote as an account that cannot
 * read the queue (qmail-rspawn), nothing else.
 *
 * Usage: qpost-spawn [-u account] [-r account] [-c limit] program [arg...]
 *   Started as root by the send service.  It makes a socketpair, then runs
 *   program (bin/send) as -u's account (setgroups, setgid, setuid, checked
 *   in that order) with the socket's number in $QPOST_SPAWN_FD.  remote
 *   runs as -r's account, else as -u's.  Without -u and -r nobody changes
 *   uid (a single-user home).  At most limit (default SPAWN_MAX)
 *   deliveries run at once; a request over the limit is answered at once
 *   with a temporary failure, nothing forked.
 *
 * Protocol on the socket (SOCK_SEQPACKET, one request per packet):
 *   send -> spawn: "number NUL type NUL id NUL" and the program's
 *     arguments, each followed by a NUL, with two file descriptors
 *     attached (SCM_RIGHTS):
 *     the message (the program's fd 0) and the write end of the report
 *     pipe (fd 1; local's fd 2 as well, remote's fd 2 is our log).  id
 *     is the message's ID (digits, capital letters and dots, shorter
 *     than QFILE_MSGID_LEN), given to the program as $QPOST_MSGID for
 *     its own log lines.
 *     type "local": local's argv (local.8), user uid gid homedir local
 *       dash ext domain sender, send's lookup of the recipient; the child
 *       sets the single group gid, then gid, then uid (each checked,
 *       neither 0, both fitting uid_t and gid_t) and runs local
 *       ($QPOST_LOCAL, else the home's bin/local).
 *     type "remote": remote's argv (remote.8), [-S] domain sender rcpt...
 *       (at most RCPT_MAX); the child becomes the remote account the same
 *       way and runs remote ($QPOST_REMOTE, else bin/remote), which reads
 *       the message from fd 0 and never opens the queue.
 *   A local delivery goes to a local worker (local -W, local.c) when
 *     local is the home's own: one per delivery running for an account
 *     (uid and gid), kept WORKER_IDLE seconds when idle, at most limit of
 *     them.  spawn -> worker: "id NUL" and local's nine arguments, each
 *     followed by a NUL, with the two descriptors; worker -> spawn: "0"
 *     when that delivery succeeded.  A failed delivery ends the worker
 *     with local's exit code, reported as that delivery's wait status.
 *     Closing the socket tells an idle worker to exit.
 *   spawn -> send: "number SP wait-status" when that delivery has ended
 *     (111 << 8 for a request refused: malformed, over the limit, a uid
 *     or gid of 0 or one that does not fit).
 *   qpost-spawn does not read mail, look anything up, parse addresses
 *   beyond a length check, or touch the queue.
 *
 * Signals: SIGHUP, SIGALRM and SIGTERM are passed on to send.  When send
 *   exits, qpost-spawn waits for the deliveries still running, then exits
 *   with send's exit code.
 *
 * Exit codes: send's; 100 usage or unknown account; 111 a system error
 *   before send ran.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "err.h"
#include "dsn.h"
#include "home.h"
#include "num.h"
#include "qfile.h"
#include "recip.h"
#include "spawn.h"
#include "str.h"

#define LOCAL_FIELDS 12		/* number, type, id, local's 9 arguments */
#define RCPT_MAX 100		/* recipients of one remote request */
#define REQ_FIELDS (RCPT_MAX + 6)	/* number, type, id, [-S,] domain,
					 * sender */
#define REQ_MAX (REQ_FIELDS * (ADDR_MAX + 1))	/* the largest packet */
#define SPAWN_MAX 120		/* default bound on deliveries at once */
#define SPAWN_MAX_MAX 65535
#define WORKER_IDLE 10		/* seconds an idle local worker is kept */

struct kid {
	pid_t pid;
	char number[NUM_LEN];
};

/* A local worker (local -W): one account's deliveries, one at a time */
struct worker {
	pid_t pid;
	int fd;			/* the socket to it; -1: told to end */
	uid_t uid;
	gid_t gid;
	char number[NUM_LEN];	/* the delivery it runs; "" idle */
	time_t idle;		/* idle since */
};

static char reqbuf[REQ_MAX + 1];
static struct kid *kids;
static size_t nkids, akids, maxkids = SPAWN_MAX;
static struct worker *workers;
static size_t nworkers, aworkers;
static int useworkers;		/* local is ours (no $QPOST_LOCAL) */
static pid_t sendpid;
static int sock = -1;		/* to send; -1 once it closed */
static uid_t ruid;		/* remote's account: -r, else send's */
static gid_t rgid;
static int rset;		/* ruid and rgid are set */
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

/* account_ids - an account's uid and gid; never root */
static void
account_ids(const char *account, uid_t *u, gid_t *g)
{
	struct passwd *pw = getpwnam(account);

	if (!pw)
		err_die(100, "unknown account ", account, (const char *)0);
	if (pw->pw_uid == 0 || pw->pw_gid == 0)
		err_die(100, "refusing to run as root: ", account,
		    (const char *)0);
	*u = pw->pw_uid;
	*g = pw->pw_gid;
}

/* start_send - program (bin/send) as account (or as we are, without
 * one), with the socket fd in $QPOST_SPAWN_FD */
static pid_t
start_send(int fd, const char *account, char **argv)
{
	char b[NUM_LEN];
	str env = STR_INIT;
	struct spawn_fd keep = { fd, fd };	/* survives the exec */
	struct spawn sp = { .fds = &keep, .nfds = 1, .env = &env,
	    .failcode = 111 };
	pid_t pid;

	if (str_puts(&env, "QPOST_SPAWN_FD=") < 0 ||
	    str_puts(&env, num_fmt(b, (unsigned)fd)) < 0 ||
	    str_putc(&env, 0) < 0 || str_putc(&env, 0) < 0)
		err_nomem();
	if (account) {
		account_ids(account, &sp.uid, &sp.gid);
		sp.ids = 1;
	}
	pid = spawn_run(argv, &sp);
	str_free(&env);
	return pid;
}


/* pfs_ready - room for n pollfds */
static struct pollfd *
pfs_ready(size_t n)
{
	static struct pollfd *p;
	static size_t a;

	if (n > a) {
		struct pollfd *np = realloc(p, n * sizeof *np);

		if (!np)
			err_nomem();
		p = np;
		a = n;
	}
	return p;
}

static noreturn void
die_usage(void)
{
	err_die(100, "usage: qpost-spawn [-u account] [-r account] "
	    "[-c limit] program [arg...]", (const char *)0);
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

/* msgid_ok - could s be a message's ID (qfile_msgid)? */
static int
msgid_ok(const char *s)
{
	size_t n = strspn(s, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ.");

	return n && !s[n] && n < QFILE_MSGID_LEN;
}

/* workers_busy - the workers running a delivery */
static size_t
workers_busy(void)
{
	size_t i, n = 0;

	for (i = 0; i < nworkers; i++)
		n += workers[i].number[0] != 0;
	return n;
}

/* worker_end - tell worker w to end (it exits at the socket's end,
 * after the delivery it runs, if any) */
static void
worker_end(struct worker *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}

/* worker_done - w's answer, if one waits: its delivery succeeded */
static void
worker_done(struct worker *w)
{
	char b[16];
	ssize_t r;

	if (w->fd < 0)
		return;
	r = recv(w->fd, b, sizeof b, MSG_DONTWAIT);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r == 1 && b[0] == '0' && w->number[0]) {
		reply(w->number, 0);
		w->number[0] = 0;
		w->idle = time(0);
		return;
	}
	/* its end (it is reaped below), or nonsense: no more requests */
	if (r > 0)
		err_warn("bad answer from a local worker", (const char *)0);
	worker_end(w);
}

/* worker_gone - the worker of pid has ended: the delivery it ran (if it
 * did not answer first) ended with its wait status, as a local's would;
 * 0 when pid is no worker */
static int
worker_gone(pid_t pid, int st)
{
	size_t i;

	for (i = 0; i < nworkers; i++)
		if (workers[i].pid == pid)
			break;
	if (i == nworkers)
		return 0;
	worker_done(&workers[i]);
	if (workers[i].number[0])
		reply(workers[i].number, st ? st : 111 << 8);
	worker_end(&workers[i]);
	workers[i] = workers[--nworkers];
	return 1;
}

/* worker_start - a new worker for uid and gid, or 0 */
static struct worker *
worker_start(const char *local, uid_t uid, gid_t gid)
{
	char *argv[3];
	struct spawn_fd map = { -1, 0 };
	struct spawn sp = { .fds = &map, .nfds = 1, .ids = 1, .uid = uid,
	    .gid = gid, .failcode = 111 };
	struct worker *w;
	int sv[2];
	size_t i, old = nworkers;

	/* as many as deliveries may run: past that, the longest idle
	 * one makes room */
	if (nworkers >= maxkids) {
		for (i = 0; i < nworkers; i++)
			if (workers[i].fd >= 0 && !workers[i].number[0] &&
			    (old == nworkers ||
			    workers[i].idle < workers[old].idle))
				old = i;
		if (old < nworkers)
			worker_end(&workers[old]);
	}
	if (nworkers == aworkers) {
		size_t na = aworkers ? 2 * aworkers : 16;
		struct worker *nw = realloc(workers, na * sizeof *nw);

		if (!nw)
			return 0;
		workers = nw;
		aworkers = na;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	map.from = sv[1];
	argv[0] = (char *)(unsigned long)local;
	argv[1] = (char *)(unsigned long)"-W";
	argv[2] = 0;
	w = &workers[nworkers];
	w->pid = spawn_run(argv, &sp);
	close(sv[1]);
	if (w->pid < 0) {
		close(sv[0]);
		return 0;
	}
	w->fd = sv[0];
	w->uid = uid;
	w->gid = gid;
	w->number[0] = 0;
	nworkers++;
	return w;
}

/* worker_give - hand a local delivery (pkt: its ID and local's
 * arguments, fds: the message and the report pipe) to an idle worker of
 * its account, started now if there is none; 0 when none took it */
static int
worker_give(const char *local, const char *number, const char *pkt,
    size_t len, const int fds[2], uid_t uid, gid_t gid)
{
	struct worker *w = 0;
	size_t i;

	for (i = 0; i < nworkers && !w; i++)
		if (workers[i].fd >= 0 && !workers[i].number[0] &&
		    workers[i].uid == uid && workers[i].gid == gid)
			w = &workers[i];
	if (!w && !(w = worker_start(local, uid, gid)))
		return 0;
	/* an idle worker reads at once; one that has just died does not */
	if (spawn_sendfds(w->fd, pkt, len, fds, MSG_DONTWAIT) < 0) {
		worker_end(w);
		return 0;
	}
	memcpy(w->number, number, strlen(number) + 1);
	return 1;
}

/* request - read one request and start local for it */
static void
request(const char *local, const char *remote)
{
	char *buf = reqbuf;
	static str env = STR_INIT;	/* QPOST_MSGID for the child */
	int fds[2];
	ssize_t r;
	char *f[REQ_FIELDS];
	char *argv[REQ_FIELDS];
	struct spawn_fd map[3];
	struct spawn sp = { .fds = map, .failcode = 111 };
	unsigned long uid = 0, gid = 0;
	int islocal = 1;
	size_t i, k;
	pid_t pid;

	r = spawn_recvfds(sock, buf, REQ_MAX, fds, MSG_DONTWAIT);
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
	/* NUL-terminated fields, nothing after them, two descriptors */
	k = spawn_fields(buf, (size_t)r, f, REQ_FIELDS, &i);
	if (k >= 2 && !strcmp(f[1], "remote")) {
		islocal = 0;
		uid = ruid;
		gid = rgid;
	}
	if (i != (size_t)r ||
	    fds[0] < 0 || fds[1] < 0 || k < 6 || !*f[0] ||
	    strlen(f[0]) >= NUM_LEN || !msgid_ok(f[2]) ||
	    (islocal && (k != LOCAL_FIELDS ||
	    strcmp(f[1], "local") || recip_id(f[4], strlen(f[4]), &uid) < 0 ||
	    recip_id(f[5], strlen(f[5]), &gid) < 0 || f[6][0] != '/'))) {
		err_warn("ignoring a malformed request", (const char *)0);
		if (k >= 1 && *f[0] && strlen(f[0]) < NUM_LEN)
			reply(f[0], 111 << 8);
		goto out;
	}
	if (!islocal && !rset)
		;		/* remote as qpost-spawn itself: a single-user
				 * home, no -u */
	else if (uid == 0 || gid == 0) {
		err_warn("refusing to deliver as uid 0 or gid 0 for ", f[3],
		    (const char *)0);
		reply(f[0], 111 << 8);
		goto out;
	}
	if (nkids + workers_busy() >= maxkids) {
		err_warn("too many deliveries running; refusing one",
		    (const char *)0);
		reply(f[0], 111 << 8);
		goto out;
	}
	/* local's arguments start at f[3]; f[2] (the ID) before them */
	if (islocal && useworkers &&
	    worker_give(local, f[0], f[2], (size_t)r - (size_t)(f[2] - buf),
	    fds, (uid_t)uid, (gid_t)gid))
		goto out;
	if (nkids == akids) {
		size_t na = akids ? 2 * akids : 64;
		struct kid *nk = realloc(kids, na * sizeof *nk);

		if (!nk)
			err_nomem();
		kids = nk;
		akids = na;
	}
	/* local reports on fd 1 and 2; remote's fd 2 is our log.  The
	 * child becomes the recipient (local) or the remote account, the
	 * one gid as its only group, each id checked (spawn.c). */
	map[0].from = fds[0];
	map[0].to = 0;
	map[1].from = map[2].from = fds[1];
	map[1].to = 1;
	map[2].to = 2;
	sp.nfds = islocal ? 3 : 2;
	sp.ids = islocal || rset;
	sp.uid = (uid_t)uid;
	sp.gid = (gid_t)gid;
	if (!islocal) {
		/* a remote that never ran says so in its own format */
		sp.failmsg = DSN_REMOTE_UNSTARTED;
		sp.failmsglen = sizeof DSN_REMOTE_UNSTARTED;
	}
	argv[0] = (char *)(unsigned long)(islocal ? local : remote);
	for (i = 1; i + 2 < k; i++)
		argv[i] = f[i + 2];
	argv[i] = 0;
	if (str_copys(&env, "QPOST_MSGID=") < 0 || str_puts(&env, f[2]) < 0 ||
	    str_putc(&env, 0) < 0 || str_putc(&env, 0) < 0)
		err_nomem();
	sp.env = &env;
	pid = spawn_run(argv, &sp);
	if (pid < 0) {
		err_warnsys("unable to fork", (const char *)0);
		reply(f[0], 111 << 8);
		goto out;
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
	const char *account = 0, *raccount = 0, *local = getenv("QPOST_LOCAL");
	const char *remote = getenv("QPOST_REMOTE");
	str lp = STR_INIT, rp = STR_INIT;
	struct sigaction sa;
	int sv[2], sendstatus = 0, k;

	err_prog = "qpost-spawn";
	err_help(argc, argv, "usage: qpost-spawn [-u account] [-r account] "
	    "[-c limit] program [arg...]");
	while (argc > 2 && argv[1][0] == '-') {
		if (!strcmp(argv[1], "-u"))
			account = argv[2];
		else if (!strcmp(argv[1], "-r"))
			raccount = argv[2];
		else if (!strcmp(argv[1], "-c")) {
			unsigned long long u;

			if (num_whole(argv[2], strlen(argv[2]), SPAWN_MAX_MAX,
			    &u) < 0 || !u)
				die_usage();
			maxkids = (size_t)u;
		} else
			die_usage();
		argv += 2;
		argc -= 2;
	}
	if (argc < 2)
		die_usage();
	if (!local || !*local) {
		if (home_path(&lp, "bin/local") < 0)
			err_nomem();
		local = lp.s;
		useworkers = 1;	/* a program of the admin's may have no -W */
	}
	if (!remote || !*remote) {
		if (home_path(&rp, "bin/remote") < 0)
			err_nomem();
		remote = rp.s;
	}
	/* remote runs as -r's account, else as send's (-u) */
	if (raccount || account) {
		account_ids(raccount ? raccount : account, &ruid, &rgid);
		rset = 1;
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
	sendpid = start_send(sv[1], account, argv + 1);
	if (sendpid < 0)
		err_diesys(111, "unable to fork", (const char *)0);
	close(sv[1]);
	sock = sv[0];
	for (;;) {
		struct pollfd *pf;
		time_t now;
		size_t i, npf;
		int wait = -1;
		pid_t pid;
		int st;

		for (k = 0; k < 3; k++)
			if (pending[k]) {
				pending[k] = 0;
				if (sendpid > 0)
					kill(sendpid, fwd[k]);
			}
		while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
			if (pid == sendpid) {
				sendpid = 0;
				sendstatus = WIFEXITED(st) ? WEXITSTATUS(st) :
				    111;
				continue;
			}
			if (worker_gone(pid, st))
				continue;
			for (i = 0; i < nkids; i++)
				if (kids[i].pid == pid) {
					reply(kids[i].number, st);
					kids[i] = kids[--nkids];
					break;
				}
		}
		/* idle workers end after WORKER_IDLE seconds, and all of
		 * them once send is gone */
		now = time(0);
		for (i = 0; i < nworkers; i++) {
			struct worker *w = &workers[i];

			if (w->fd < 0 || w->number[0])
				continue;
			if (!sendpid || sock < 0 || now - w->idle >= WORKER_IDLE)
				worker_end(w);
			else if (wait < 0 || (w->idle + WORKER_IDLE - now) *
			    1000 < wait)
				wait = (int)(w->idle + WORKER_IDLE - now) * 1000;
		}
		if (!sendpid && !nkids && !nworkers)
			_exit(sendstatus);
		pf = pfs_ready(2 + nworkers);
		pf[0].fd = selfpipe[0];
		pf[0].events = POLLIN;
		pf[1].fd = sock;
		pf[1].events = POLLIN;
		for (i = 0, npf = 2; i < nworkers; i++, npf++) {
			pf[npf].fd = workers[i].fd;
			pf[npf].events = POLLIN;
			pf[npf].revents = 0;
		}
		if (poll(pf, npf, wait) < 0 && errno != EINTR)
			err_diesys(111, "unable to poll", (const char *)0);
		if (pf[0].revents) {
			char b[64];

			while (read(selfpipe[0], b, sizeof b) > 0)
				;
		}
		/* workers' answers before new requests: each frees one */
		for (i = 0; i < nworkers; i++)
			if (workers[i].fd >= 0 && workers[i].fd == pf[i + 2].fd &&
			    pf[i + 2].revents)
				worker_done(&workers[i]);
		if (pf[1].fd >= 0 &&
		    (pf[1].revents & (POLLIN | POLLHUP | POLLERR)))
			request(local, remote);
	}
}
