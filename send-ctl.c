/*
 * send-ctl - send's command channel: the Unix stream socket run/send/ctl
 * under the home (docs/queue-control.md).  A client (qpost-tool queue,
 * show, delete, hold, release, retry, requeue; sendmail -bp and -q)
 * connects, writes one request line and reads the answer: lines, then a
 * last line "ok" or "error: TEXT"; then send closes.
 *
 * It never blocks send's loop: the listening socket and every connection
 * are non-blocking and polled with the deliveries; a request line is at
 * most CTL_LINE_MAX bytes and must arrive within CTL_READ_TIMEOUT
 * seconds; at most CTL_CONN_MAX connections are read at once (more wait
 * in the listen backlog).  Changes (delete, hold, release, retry,
 * requeue) run in send itself and answer in a line or two, which a
 * socket buffer always holds.  Answers that can be large (list, show)
 * are written by a child forked for them, from its copy-on-write
 * snapshot of send's memory; it exits when done, or after
 * CTL_WRITE_TIMEOUT seconds of a reader that does not read.
 *
 * Who may do what (SO_PEERCRED): uid 0, send's own uid and the owner of
 * the home are admins; anyone else may only list, and sees only the
 * messages it submitted (the uid of queue's trace line, "Received:
 * (qpost PID invoked by uid UID); ...").
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "dsn.h"
#include "envelope.h"
#include "err.h"
#include "num.h"
#include "qfile.h"
#include "send.h"
#include "str.h"

#define CTL_DIR "run/send"
#define CTL_PATH "run/send/ctl"
#define CTL_LINE_MAX 1024	/* a request line, its newline included */
#define CTL_CONN_MAX 32		/* connections being read at once */
#define CTL_BACKLOG 64
#define CTL_READ_TIMEOUT 10	/* seconds for the request line */
#define CTL_WRITE_TIMEOUT 60	/* seconds a listing may wait for its reader */
#define TRACE_MAX 256		/* bytes of mess/<id> read for the trace line */

struct conn {
	int fd;
	int64_t deadline;
	unsigned long uid;
	int admin;
	int drain;		/* answered: input is read and dropped until
				 * the client closes or the deadline */
	size_t len;
	char line[CTL_LINE_MAX];
};

static int lfd = -1;
static struct conn *conns[CTL_CONN_MAX];
static size_t nconn;
static unsigned long self_uid, owner_uid;

/* ctl_init - make run/send (when missing) and listen on run/send/ctl.  A
 * failure leaves send without a channel, with a warning: deliveries do
 * not depend on it. */
void
ctl_init(void)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd;

	self_uid = (unsigned long)geteuid();
	owner_uid = stat(".", &st) == 0 ? (unsigned long)st.st_uid : 0;
	if ((mkdir("run", 0755) < 0 && errno != EEXIST) ||
	    (mkdir(CTL_DIR, 0755) < 0 && errno != EEXIST)) {
		err_warnsys("unable to create " CTL_DIR "; no command channel",
		    (const char *)0);
		return;
	}
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, CTL_PATH, sizeof CTL_PATH);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err_warnsys("unable to create a socket; no command channel",
		    (const char *)0);
		return;
	}
	/* We hold queue/lock: a socket left there is a dead send's. */
	(void)unlink(CTL_PATH);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    chmod(CTL_PATH, 0666) < 0 || listen(fd, CTL_BACKLOG) < 0) {
		err_warnsys("unable to listen on " CTL_PATH
		    "; no command channel", (const char *)0);
		close(fd);
		return;
	}
	lfd = fd;
}

/* ctl_close - at exit: clients are told at once that send is gone */
void
ctl_close(void)
{
	if (lfd >= 0)
		(void)unlink(CTL_PATH);
}

size_t
ctl_nfds(void)
{
	return 1 + nconn;
}

/* ctl_pollfds - the channel's descriptors for poll: the listener (not
 * while CTL_CONN_MAX connections are open), then each connection */
size_t
ctl_pollfds(struct pollfd *pf)
{
	size_t k;

	pf[0].fd = nconn < CTL_CONN_MAX ? lfd : -1;
	pf[0].events = POLLIN;
	pf[0].revents = 0;
	for (k = 0; k < nconn; k++) {
		pf[1 + k].fd = conns[k]->fd;
		pf[1 + k].events = POLLIN;
		pf[1 + k].revents = 0;
	}
	return 1 + nconn;
}

/* ctl_timeout - milliseconds until the first connection's deadline, or
 * -1 when none is open */
int
ctl_timeout(int64_t now)
{
	size_t k;
	int64_t w = -1;

	for (k = 0; k < nconn; k++) {
		int64_t d = conns[k]->deadline - now;

		if (d < 0)
			d = 0;
		if (w < 0 || d < w)
			w = d;
	}
	return w < 0 ? -1 : (int)(w > 3600 ? 3600000 : w * 1000);
}

static void
conn_close(size_t k)
{
	close(conns[k]->fd);
	free(conns[k]);
	conns[k] = conns[--nconn];
}

/* answer - a short answer, written without waiting: a socket buffer
 * holds it (a client that has gone loses it) */
static void
answer(const struct conn *c, const char *a, const char *b, const char *d)
{
	str x = STR_INIT;

	if (str_puts(&x, a) < 0 || (b && str_puts(&x, b) < 0) ||
	    (d && str_puts(&x, d) < 0) || str_putc(&x, '\n') < 0)
		die_nomem();
	(void)!send(c->fd, x.s, x.len, MSG_DONTWAIT | MSG_NOSIGNAL);
	str_free(&x);
}

static struct msg *
msg_find(unsigned long id)
{
	struct msg *m;

	for (m = msgs; m; m = m->next)
		if (m->id == id)
			return m;
	return 0;
}

/* ------------------------------------------------ listings (a child) */

static buf ob;

static void
out(const char *s)
{
	if (buf_puts(&ob, s) < 0)
		_exit(1);
}

static void
outn(const char *s, size_t n)
{
	if (buf_put(&ob, s, n) < 0)
		_exit(1);
}

static void
outu(unsigned long long u)
{
	char b[NUM_LEN];

	out(num_fmt(b, u));
}

/* outsafe - a queue value in a text line: bytes below 32 and 127 as \xHH */
static void
outsafe(const char *s)
{
	static const char hex[] = "0123456789abcdef";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 32 || c == 127) {
			char e[4] = { '\\', 'x', hex[c >> 4], hex[c & 15] };

			outn(e, 4);
		} else
			outn(s, 1);
	}
}

/* outjson - a JSON string; bytes outside printable ASCII as \u00XX (so a
 * byte 0xe9 reads as U+00E9: the output is always valid UTF-8) */
static void
outjson(const char *s)
{
	static const char hex[] = "0123456789abcdef";

	outn("\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			outn("\\", 1);
			outn(s, 1);
		} else if (c < 32 || c >= 127) {
			char e[6] = { '\\', 'u', '0', '0', hex[c >> 4],
			    hex[c & 15] };

			outn(e, 6);
		} else
			outn(s, 1);
	}
	outn("\"", 1);
}

/* msg_uid - the uid that submitted m, from queue's trace line; -1 when
 * it came from the network or the line cannot be read */
static long long
msg_uid(const struct msg *m)
{
	static const char tag[] = " invoked by uid ";
	char b[TRACE_MAX + 1], *t;
	ssize_t r;
	unsigned long long u;
	size_t i;
	int fd;

	fd = msg_open(m);
	if (fd < 0)
		return -1;
	r = read(fd, b, TRACE_MAX);
	close(fd);
	if (r <= 0)
		return -1;
	b[r] = 0;
	t = strchr(b, '\n');
	if (t)
		*t = 0;
	if (strncmp(b, "Received: (qpost ", 17) || !(t = strstr(b, tag)))
		return -1;
	i = (size_t)(t - b) + sizeof tag - 1;
	if (num_scan(b, strlen(b), &i, ULONG_MAX, &u) < 0 || b[i] != ')')
		return -1;
	return (long long)u;
}

static const char *
rcpt_state(const struct msg *m, const struct rcpt *r)
{
	switch (r->state) {
	case RS_DONE:
		return "delivered";
	case RS_FAILED:
		return "failed";
	case RS_INFLIGHT:
		return "sending";
	}
	if (m->held)
		return "held";
	return r->tries ? "deferred" : "pending";
}

static const char *
rcpt_error(const struct rcpt *r)
{
	if (r->state == RS_FAILED && r->reason)
		return dsn_text(r->reason);
	if (r->state == RS_PENDING && r->error)
		return dsn_text(r->error);
	return 0;
}

/* age - seconds as 42s, 7m, 5h or 3d */
static void
outage(int64_t a)
{
	if (a < 0)
		a = 0;
	if (a < 120) {
		outu((unsigned long long)a);
		out("s");
	} else if (a < 7200) {
		outu((unsigned long long)a / 60);
		out("m");
	} else if (a < 172800) {
		outu((unsigned long long)a / 3600);
		out("h");
	} else {
		outu((unsigned long long)a / 86400);
		out("d");
	}
}

/* list_text - one line per recipient:
 * ID STATE TRIES NEXT AGE SIZE <SENDER> <RCPT>[ error: TEXT] */
static void
list_text(const struct msg *m, int64_t now)
{
	size_t k;

	for (k = 0; k < m->nr; k++) {
		const struct rcpt *r = &m->r[k];
		const char *e = rcpt_error(r);

		out(m->qid);
		out(" ");
		out(rcpt_state(m, r));
		out(" ");
		outu(r->tries);
		out(" ");
		if (r->state != RS_PENDING || m->held)
			out("-");
		else if (r->next <= now)
			out("now");
		else {
			out("+");
			outage(r->next - now);
		}
		out(" ");
		outage(now - m->birth);
		out(" ");
		outu(m->size);
		out(" <");
		outsafe(envelope_sender(m->env));
		out("> <");
		outsafe(r->addr);
		out(">");
		if (e) {
			out(" error: ");
			outsafe(e);
		}
		out("\n");
	}
}

/* list_json - one object per message on one line */
static void
list_json(const struct msg *m, long long uid)
{
	size_t k;

	out("{\"id\":\"");
	out(m->qid);
	out("\",\"birth\":");
	outu((unsigned long long)m->birth);
	out(",\"size\":");
	outu(m->size);
	out(",\"sender\":");
	outjson(envelope_sender(m->env));
	out(",\"held\":");
	out(m->held ? "true" : "false");
	out(",\"uid\":");
	if (uid < 0)
		out("null");
	else
		outu((unsigned long long)uid);
	out(",\"recipients\":[");
	for (k = 0; k < m->nr; k++) {
		const struct rcpt *r = &m->r[k];
		const char *e = rcpt_error(r);

		out(k ? ",{\"address\":" : "{\"address\":");
		outjson(r->addr);
		out(",\"state\":\"");
		out(rcpt_state(m, r));
		out("\",\"tries\":");
		outu(r->tries);
		out(",\"next\":");
		if (r->state == RS_PENDING && !m->held)
			outu((unsigned long long)(r->next > 0 ? r->next : 0));
		else
			out("null");
		out(",\"error\":");
		if (e)
			outjson(e);
		else
			out("null");
		out("}");
	}
	out("]}\n");
}

/* show - the envelope, the state and the message itself */
static int
show(const struct msg *m, int64_t now)
{
	char b[8192], last = '\n';
	ssize_t r;
	int fd;

	list_text(m, now);
	out(m->held ? "held: yes\n" : "held: no\n");
	out("\n");
	fd = msg_open(m);
	if (fd < 0)
		return -1;
	while ((r = read(fd, b, sizeof b)) > 0) {
		outn(b, (size_t)r);
		last = b[r - 1];
	}
	close(fd);
	if (r < 0)
		return -1;
	if (last != '\n')
		out("\n");
	return 0;
}

/* listing - fork a child that writes the answer to a list or show from
 * its snapshot and exits; send goes on at once */
static void
listing(struct conn *c, int what, const struct msg *one, int64_t now)
{
	static char space[BUF_SIZE];
	const struct msg *m;
	struct sigaction sa;
	size_t k;
	pid_t pid = fork();

	if (pid < 0) {
		answer(c, "error: unable to fork: ", strerror(errno), 0);
		return;
	}
	if (pid > 0)
		return;
	/* Other clients must see their connection end when send closes
	 * it, not when this child exits. */
	if (lfd >= 0)
		close(lfd);
	for (k = 0; k < nconn; k++)
		if (conns[k] != c)
			close(conns[k]->fd);
	/* the child: the log is fd 2 still; nothing here touches the
	 * queue but reading mess/ files */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGHUP, &sa, 0);
	sigaction(SIGALRM, &sa, 0);
	sigaction(SIGTERM, &sa, 0);
	sigaction(SIGCHLD, &sa, 0);
	buf_init(&ob, c->fd, space, sizeof space, CTL_WRITE_TIMEOUT * 1000);
	if (what == 's') {
		if (show(one, now) < 0) {
			out("error: unable to read the message: ");
			out(strerror(errno));
			out("\n");
		} else
			out("ok\n");
	} else {
		for (m = msgs; m; m = m->next) {
			long long uid = what == 'j' || !c->admin ?
			    msg_uid(m) : -1;

			if (!c->admin && (uid < 0 ||
			    (unsigned long long)uid != c->uid))
				continue;
			if (what == 'j')
				list_json(m, uid);
			else
				list_text(m, now);
		}
		out("ok\n");
	}
	if (buf_flush(&ob) < 0)
		_exit(1);
	_exit(0);
}

/* ------------------------------------------------ the requests */

/* match - fnmatch, case-insensitive; "<>" matches the empty sender */
static int
match(const char *pat, const char *addr)
{
	if (!strcmp(pat, "<>"))
		return !*addr;
	return fnmatch(pat, addr, FNM_CASEFOLD) == 0;
}

/* delete_by - every message whose sender (or one of whose recipients)
 * matches pat, except those with a delivery in progress */
static void
delete_by(struct conn *c, int rcpt, const char *pat)
{
	struct msg *m, **v = 0;
	size_t n = 0, a = 0;
	unsigned long long busy = 0;
	char b1[NUM_LEN], b2[NUM_LEN];
	str x = STR_INIT;

	for (m = msgs; m; m = m->next) {
		int hit = 0;
		size_t k;

		if (!rcpt)
			hit = match(pat, envelope_sender(m->env));
		for (k = 0; rcpt && !hit && k < m->nr; k++)
			hit = match(pat, m->r[k].addr);
		if (!hit)
			continue;
		if (m->jobs) {
			busy++;
			continue;
		}
		if (n == a) {
			struct msg **nv;

			a = a ? 2 * a : 64;
			nv = realloc(v, a * sizeof *v);
			if (!nv)
				die_nomem();
			v = nv;
		}
		v[n++] = m;
	}
	/* one fsync of info/ for all of them */
	if (n)
		msgs_delete(v, n, c->uid);
	free(v);
	if (str_puts(&x, "deleted ") < 0 || str_puts(&x, num_fmt(b1, n)) < 0)
		die_nomem();
	if (busy && (str_puts(&x, "\nskipped (delivery in progress) ") < 0 ||
	    str_puts(&x, num_fmt(b2, busy)) < 0))
		die_nomem();
	if (str_puts(&x, "\nok") < 0 || str_0(&x) < 0)
		die_nomem();
	answer(c, x.s, 0, 0);
	str_free(&x);
}

static void
retry_some(struct conn *c, const char *domain)
{
	struct msg *m;
	unsigned long long n = 0;
	char b[NUM_LEN];

	for (m = msgs; m; m = m->next)
		n += (unsigned long long)msg_due_now(m, domain);
	answer(c, "due now: ", num_fmt(b, n), " recipients\nok");
}

/* request - do what the line asks; the connection is closed after,
 * except for a listing, whose child holds its own copy */
static void
request(struct conn *c, int64_t now)
{
	char *s = c->line, *arg;
	struct msg *m = 0;
	unsigned long id;
	unsigned long long birth;
	char b[NUM_LEN];

	arg = strchr(s, ' ');
	if (arg)
		*arg++ = 0;
	if (!strcmp(s, "list")) {
		if (!arg)
			listing(c, 't', 0, now);
		else if (!strcmp(arg, "json"))
			listing(c, 'j', 0, now);
		else
			answer(c, "error: usage: list [json]", 0, 0);
		return;
	}
	if (!c->admin) {
		answer(c, "error: permission denied: only list is open to "
		    "uid ", num_fmt(b, c->uid), 0);
		return;
	}
	if (!strcmp(s, "requeue") && !arg) {
		requeue(now);
		err_info("requeue by ", num_fmt(b, c->uid), (const char *)0);
		answer(c, "ok", 0, 0);
		return;
	}
	if (!arg) {
		answer(c, "error: unknown request or missing argument: ", s, 0);
		return;
	}
	if (!strcmp(s, "delete") && !strncmp(arg, "sender ", 7)) {
		delete_by(c, 0, arg + 7);
		return;
	}
	if (!strcmp(s, "delete") && !strncmp(arg, "rcpt ", 5)) {
		delete_by(c, 1, arg + 5);
		return;
	}
	if (!strcmp(s, "retry") && !strcmp(arg, "all")) {
		err_info("retry all by ", num_fmt(b, c->uid), (const char *)0);
		retry_some(c, 0);
		return;
	}
	if (!strcmp(s, "retry") && !strncmp(arg, "domain ", 7)) {
		retry_some(c, arg + 7);
		return;
	}
	if (strcmp(s, "show") && strcmp(s, "delete") && strcmp(s, "hold") &&
	    strcmp(s, "release") && strcmp(s, "retry")) {
		answer(c, "error: unknown request: ", s, 0);
		return;
	}
	if (qfile_msgid_parse(arg, &birth, &id) < 0) {
		answer(c, "error: not a message id: ", arg, 0);
		return;
	}
	/* a full ID names one message: not a later one in the same inode */
	if (!(m = msg_find(id)) || (birth && m->birth_us != birth)) {
		answer(c, "error: no such message: ", arg, 0);
		return;
	}
	if (!strcmp(s, "show"))
		listing(c, 's', m, now);
	else if (!strcmp(s, "delete")) {
		if (m->jobs)
			answer(c, "error: delivery in progress: hold it, "
			    "then delete it when the delivery has ended", 0, 0);
		else {
			msgs_delete(&m, 1, c->uid);
			answer(c, "ok", 0, 0);
		}
	} else if (!strcmp(s, "hold")) {
		if (!m->held)
			msg_hold(m, 1, c->uid, now);
		answer(c, m->jobs ? "held (a delivery in progress ends "
		    "first)\nok" : "ok", 0, 0);
	} else if (!strcmp(s, "release")) {
		if (m->held)
			msg_hold(m, 0, c->uid, now);
		answer(c, "ok", 0, 0);
	} else {
		int n = msg_due_now(m, 0);

		answer(c, "due now: ", num_fmt(b, (unsigned long long)n),
		    m->held ? " recipients (held: once released)\nok" :
		    " recipients\nok");
	}
}

/* conn_read - take what the client wrote; 1 when the connection is done
 * with (answered, or given up) */
static int
conn_read(struct conn *c, int64_t now)
{
	char *nl;
	ssize_t r;

	if (c->drain) {
		char b[4096];

		r = read(c->fd, b, sizeof b);
		return r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR);
	}
	r = read(c->fd, c->line + c->len, sizeof c->line - c->len);
	if (r < 0)
		return errno != EAGAIN && errno != EINTR;
	if (r == 0) {
		if (!c->len)
			return 1;
		/* a last line without its newline */
		if (c->len == sizeof c->line) {
			answer(c, "error: request too long", 0, 0);
			return 1;
		}
		c->line[c->len] = 0;
		nl = c->line + c->len;
	} else {
		c->len += (size_t)r;
		nl = memchr(c->line, '\n', c->len);
		if (!nl) {
			if (c->len == sizeof c->line) {
				/* Closing with unread input would reset the
				 * connection before the client reads this:
				 * the rest is read and dropped first. */
				answer(c, "error: request too long (at most "
				    "1023 bytes)", 0, 0);
				shutdown(c->fd, SHUT_WR);
				c->drain = 1;
				return 0;
			}
			return 0;
		}
		*nl = 0;
	}
	if (nl > c->line && nl[-1] == '\r')
		*--nl = 0;
	if (strlen(c->line) != (size_t)(nl - c->line)) {
		answer(c, "error: NUL in request", 0, 0);
		return 1;
	}
	request(c, now);
	return 1;
}

static void
conn_accept(int64_t now)
{
	while (nconn < CTL_CONN_MAX) {
		struct ucred cr;
		socklen_t len = sizeof cr;
		struct conn *c;
		int fd = accept4(lfd, 0, 0, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				err_warnsys("unable to accept on " CTL_PATH,
				    (const char *)0);
			return;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0) {
			close(fd);
			continue;
		}
		c = xcalloc(1, sizeof *c);
		c->fd = fd;
		c->uid = (unsigned long)cr.uid;
		c->admin = cr.uid == 0 || c->uid == self_uid ||
		    c->uid == owner_uid;
		c->deadline = now + CTL_READ_TIMEOUT;
		conns[nconn++] = c;
	}
}

/* ctl_events - after poll: requests read and answered, connections past
 * their deadline closed, new ones accepted */
void
ctl_events(const struct pollfd *pf, size_t n, int64_t now)
{
	size_t k;

	if (!n)
		return;
	/* from the last: conn_close moves the last connection into k */
	for (k = nconn; k-- > 0;) {
		int done = 0;

		if (k + 1 < n && pf[1 + k].fd == conns[k]->fd &&
		    pf[1 + k].revents)
			done = conn_read(conns[k], now);
		if (!done && now >= conns[k]->deadline) {
			if (!conns[k]->drain)
				answer(conns[k], "error: timeout reading the "
				    "request", 0, 0);
			done = 1;
		}
		if (done)
			conn_close(k);
	}
	if (lfd >= 0 && pf[0].fd == lfd && pf[0].revents)
		conn_accept(now);
}
