/*
 * send-jobs - send's deliveries as jobs: routing a due message's
 * recipients into jobs (one per local recipient, one per remote domain
 * of up to REMOTE_RCPT_MAX recipients) with the routing tables of
 * recip.h, the ready queues and the concurrency limits, starting a job
 * (posix_spawn, or a request to qpost-spawn: its protocol is in
 * qpost-spawn.c's header), reading its output, and reaping it.  What a
 * finished job means is send-results.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "addr.h"
#include "dsn.h"
#include "envelope.h"
#include "err.h"
#include "num.h"
#include "qfile.h"
#include "recip.h"
#include "send.h"
#include "spawn.h"
#include "str.h"

#define OUT_LOCAL_MAX 4096	/* tail of local's output kept */
#define OUT_REMOTE_MAX (1024 * 1024)	/* head of remote's reports kept */
#define REMOTE_RCPT_MAX 100	/* recipients per remote run */
#define RETRY_LOOKUP 60		/* after a temporary routing error */

struct job **run;
size_t nrun;

static struct {
	struct job *head;
	struct job *tail;
} ready[2];
static size_t arun;
static unsigned long running[2];
static unsigned long long jobnumber;
const char *const chname[2] = { "local", "remote" };


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
void
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
void
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

/* msg_all_local - is every recipient of m in a local domain by the
 * current tables?  (A fresh message must be: only local is handed a
 * copy of the message; send.c, pick-up.) */
int
msg_all_local(const struct msg *m, int64_t now)
{
	size_t k;

	routes_refresh(now, 0);
	for (k = 0; k < m->nr; k++)
		if (recip_domain(&routes, m->r[k].addr) != 1)
			return 0;
	return 1;
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


/* spawn_request - ask qpost-spawn to run the job's program (local as
 * the recipient, remote as the remote account) with argv's arguments */
static int
spawn_request(struct job *j, char *const *argv, int msgfd, int outfd)
{
	str req = STR_INIT;
	int fds[2];
	char b[NUM_LEN];
	ssize_t w;
	size_t k;

	if (str_puts(&req, num_fmt(b, j->number)) < 0 || str_putc(&req, 0) < 0 ||
	    str_puts(&req, chname[j->ch]) < 0 || str_putc(&req, 0) < 0 ||
	    str_puts(&req, j->m->qid) < 0 || str_putc(&req, 0) < 0)
		die_nomem();
	for (k = 1; argv[k]; k++)
		if (str_puts(&req, argv[k]) < 0 || str_putc(&req, 0) < 0)
			die_nomem();
	fds[0] = msgfd;
	fds[1] = outfd;
	/* Never block on a full socket while qpost-spawn may itself be
	 * blocked writing results to us: take those in meanwhile. */
	for (;;) {
		struct pollfd pf;

		w = spawn_sendfds(spawnfd, req.s, req.len, fds, MSG_DONTWAIT);
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

/* job_spawn - start the program; -1 with errno, -2 when mess/<id> is
 * gone (removed by hand: send never removes it under a queued job) */
static int
job_spawn(struct job *j)
{
	str env = STR_INIT;
	struct spawn_fd fds[3];
	struct spawn sp = { .fds = fds, .env = &env, .failcode = 111 };
	char **argv;
	int msgfd, pp[2], r;
	size_t k, argc = 0;

	msgfd = msg_open(j->m);
	if (msgfd < 0)
		return errno == ENOENT ? -2 : -1;
	if (pipe2(pp, O_CLOEXEC) < 0) {
		r = errno;
		close(msgfd);
		errno = r;
		return -1;
	}
	fcntl(pp[0], F_SETFL, O_NONBLOCK);
	argv = xcalloc(j->nri + RECIP_NFIELDS + 4, sizeof *argv);
	/* argv strings are not written by the child; exec wants
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

		if (j->m->sign)	/* our users' mail: DKIM (docs/dkim.md) */
			argv[argc++] = (char *)(uintptr_t)"-S";
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
	/* the message on fd 0, the report pipe on fd 1 (local's fd 2
	 * too; remote's fd 2 is our log); a remote that cannot be run
	 * says so in its own report format */
	/* the message's ID for the program's own log lines */
	if (str_puts(&env, "QPOST_MSGID=") < 0 ||
	    str_puts(&env, j->m->qid) < 0 || str_putc(&env, 0) < 0 ||
	    str_putc(&env, 0) < 0)
		die_nomem();
	fds[0].from = msgfd;
	fds[0].to = 0;
	fds[1].from = fds[2].from = pp[1];
	fds[1].to = 1;
	fds[2].to = 2;
	sp.nfds = j->ch == CH_LOCAL ? 3 : 2;
	if (j->ch == CH_REMOTE) {
		sp.failmsg = DSN_REMOTE_UNSTARTED;
		sp.failmsglen = sizeof DSN_REMOTE_UNSTARTED;
	}
	j->pid = spawn_run(argv, &sp);
	r = errno;
	str_free(&env);
	free(argv);
	close(msgfd);
	close(pp[1]);
	if (j->pid < 0) {
		close(pp[0]);
		errno = r;
		return -1;
	}
	j->fd = pp[0];
	return 0;
}


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

/* job_drop - a job whose message file is gone: no result is recorded;
 * the message is marked gone and dropped once no job of it is left
 * (msg_settle), instead of being retried for ever with a wrong reason */
static void
job_drop(struct job *j, int64_t now)
{
	struct msg *m = j->m;
	size_t k;

	for (k = 0; k < j->nri; k++)
		m->r[j->ri[k]].state = RS_PENDING;
	m->gone = 1;
	job_end(j, now);
}

/* start_jobs - run ready jobs while the channels have room */
void
start_jobs(int64_t now)
{
	int ch, r;
	char b1[NUM_LEN], b3[NUM_LEN], b4[NUM_LEN];
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
				    j->m->qid, " to ", chname[ch],
				    " <", j->m->r[j->ri[k]].addr, ">",
				    (const char *)0);
			if (ch == CH_LOCAL && local_lookup(j) < 0) {
				j->exited = 1;
				job_done(j, now);
				continue;
			}
			r = job_spawn(j);
			if (r == -2) {
				job_drop(j, now);
				continue;
			}
			if (r < 0) {
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
int
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
void
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

void
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
void
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

