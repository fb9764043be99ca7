/* authcheck - SPF, DKIM and DMARC for mail from the network, as a
 * qmail-queue filter in front of queue (docs/authcheck.md).
 *
 * Purpose: for a message smtpd received from an unauthenticated,
 * non-relay client, check SPF (RFC 7208) for the MAIL FROM identity
 * (postmaster@HELO when empty), verify every DKIM signature (RFC 6376,
 * dkim.c), evaluate DMARC (RFC 7489) for the From domain, remove any
 * Authentication-Results field that claims our authserv-id (control/me)
 * and put one Authentication-Results field (RFC 8601) at the top; then
 * run the real queue program and hand it the message and the envelope.
 *
 * Interface:
 *   authcheck [program [arg...]]   the filter.  fd 0 the message, fd 1
 *          the envelope (qmail-queue's protocol); program (default the
 *          home's bin/queue) gets both on its fd 0 and 1 and its exit
 *          code is ours.
 *   authcheck --mail SENDER        the MAIL-time SPF check smtpd runs
 *          when control/spfreject is 1: exit 0 accept; else a reply line
 *          on fd 1 and exit 100 (5xx) or 111 (4xx).
 *   authcheck --spf IP SENDER HELO   print the SPF result (the admin's
 *          tool; SENDER "" checks the HELO identity).
 *   authcheck --dmarc DOMAIN [SPFDOMAIN]   print the DMARC result for a
 *          From domain, as if SPF passed for SPFDOMAIN and no DKIM.
 *   env    TCPREMOTEIP (none: not from the network, no checks);
 *          RELAYCLIENT, SMTPAUTHUSER (set: our own users, no checks);
 *          QPOST_HELO (smtpd: the HELO/EHLO name); QPOST_IDFD (smtpd:
 *          the answer pipe, passed on to the queue program; a rejection
 *          is written there as one reply line, with exit 82);
 *          QPOST_DNS, QPOST_HOME.
 *   control/  me (the authserv-id), dmarcreject, spfreject, dnsserver.
 *
 * Exit codes: the queue program's; 82 a rejection whose reply is on
 * $QPOST_IDFD (without one: 31 for a 5xx, 71 for a 4xx); 51 out of
 * memory, 54 the message or envelope unreadable, 55 control unreadable,
 * 91 a bad envelope, 81 the queue program crashed, 120 it could not be
 * started.  DNS trouble is never an exit code: it is "temperror" in the
 * field, or a 451 only when a reject knob is on.
 *
 * Privilege: none; runs as smtpd's user. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "control.h"
#include "dkim.h"
#include "dmarc.h"
#include "dns.h"
#include "envelope.h"
#include "err.h"
#include "hdr.h"
#include "home.h"
#include "num.h"
#include "qq.h"
#include "spawn.h"
#include "spf.h"
#include "str.h"

#define USAGE "usage: authcheck [program [arg...]] | --mail SENDER | " \
	"--spf IP SENDER HELO | --dmarc DOMAIN [SPFDOMAIN]"
#define EXIT_REPLY 82		/* a reply line is on $QPOST_IDFD */
#define FROM_MAX 8		/* From domains checked */
#define HELO_MAX 255		/* HELO bytes used */

static str me = STR_INIT;
static unsigned long dmarcreject, spfreject;

static noreturn void
die_nomem(void)
{
	err_die(51, "out of memory", (const char *)0);
}

/* answer - give smtpd a reply line (exit 82), or, with no answer pipe,
 * qmail-queue's nearest code */
static noreturn void
answer(const char *reply)
{
	const char *v = getenv("QPOST_IDFD");
	unsigned long long fd;
	str l = STR_INIT;

	err_info("reject ", reply, (const char *)0);
	if (v && *v && num_whole(v, strlen(v), 1000000, &fd) == 0 &&
	    str_copys(&l, reply) == 0 && str_putc(&l, '\n') == 0 &&
	    fd_writeall((int)fd, l.s, l.len, 1000) == 0)
		_exit(EXIT_REPLY);
	_exit(reply[0] == '5' ? 31 : 71);
}

static void
read_all(int fd, str *out, const char *what)
{
	for (;;) {
		ssize_t r;

		if (str_ready(out, 65536) < 0)
			die_nomem();
		r = read(fd, out->s + out->len, out->a - out->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			err_diesys(54, "unable to read the ", what,
			    (const char *)0);
		if (r == 0)
			return;
		out->len += (size_t)r;
	}
}

/* The header. */

/* field_next - the header field at msg[*pos]: its length (folded lines
 * and the final LF included), 0 at the end of the header */
static size_t
field_next(const char *m, size_t len, size_t pos)
{
	size_t i = pos;

	if (pos >= len || m[pos] == '\n')
		return 0;
	for (;;) {
		const char *lf = memchr(m + i, '\n', len - i);

		if (!lf)
			return len - pos;
		i = (size_t)(lf - m) + 1;
		if (i >= len || (m[i] != ' ' && m[i] != '\t'))
			return i - pos;
	}
}

/* ours - is field f (n bytes) an Authentication-Results field whose
 * authserv-id is our name? */
static int
ours(const char *f, size_t n)
{
	size_t i = hdr_name(f, n, "authentication-results"), b;
	int depth = 0;

	if (!i)
		return 0;
	for (; i < n; i++) {	/* CFWS */
		if (f[i] == '(')
			depth++;
		else if (f[i] == ')' && depth)
			depth--;
		else if (!depth && f[i] != ' ' && f[i] != '\t' &&
		    f[i] != '\r' && f[i] != '\n')
			break;
	}
	b = i;
	if (i < n && f[i] == '"') {	/* a quoted-string authserv-id */
		for (b = ++i; i < n && f[i] != '"'; i++)
			;
	} else
		while (i < n && f[i] != ';' && f[i] != ' ' && f[i] != '\t' &&
		    f[i] != '(' && f[i] != '\r' && f[i] != '\n')
			i++;
	return i - b == me.len && !strncasecmp(f + b, me.s, me.len);
}

struct from {
	char dom[FROM_MAX][DMARC_DOMAIN_MAX + 1];
	size_t n;
	int bad;		/* an address without a plain domain */
};

static int
from_addr(void *ctx, const struct hdr_addr *a)
{
	struct from *fr = ctx;
	const char *at = a->hasat ? strrchr(a->addr, '@') : 0;
	size_t i, dn;

	if (!at || !(dn = strlen(at + 1)) || dn > DMARC_DOMAIN_MAX ||
	    at[1] == '[') {
		fr->bad = 1;
		return 0;
	}
	for (i = 0; i < fr->n; i++)
		if (!strcasecmp(fr->dom[i], at + 1))
			return 0;
	if (fr->n == FROM_MAX) {
		fr->bad = 1;
		return 0;
	}
	memcpy(fr->dom[fr->n++], at + 1, dn + 1);
	return 0;
}

/* plain - a domain we may print bare in a header field */
static int
plain(const char *s, int at)
{
	size_t i;

	if (!*s)
		return 0;
	for (i = 0; s[i]; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		    c == '_' || (at && (c == '@' || c == '+' || c == '='))))
			return 0;
	}
	return 1;
}

/* The checks. */

struct result {
	int spf;
	const char *spfwhy;
	str mailfrom;		/* the identity checked */
	const char *helo;	/* set: the HELO identity was checked (the
				 * MAIL FROM was empty) */
	size_t ndkim;
	struct dkim_result dkim[DKIM_SIG_MAX];
	int dmarc;
	struct dmarc_out dm;
	char fromdom[DMARC_DOMAIN_MAX + 1];	/* "" when none */
};

/* ip_of - TCPREMOTEIP: tcpserver writes IPv6 without the brackets
 * dns_ipscan wants around it */
static int
ip_of(const char *s, dns_addr *a)
{
	char b[INET6_ADDRSTRLEN + 3];
	size_t n = s ? strlen(s) : 0;

	if (!n || n > INET6_ADDRSTRLEN)
		return -1;
	if (!strchr(s, ':'))
		return dns_ipscan(s, a, 0);
	b[0] = '[';
	memcpy(b + 1, s, n);
	b[n + 1] = ']';
	b[n + 2] = 0;
	return dns_ipscan(b, a, 0);
}

/* spf_run - the MAIL FROM check; *dom the domain checked */
static int
spf_run(const dns_addr *ip, const char *sender, const char *helo,
    struct result *r)
{
	spf_ctx c;
	int k;

	if (spf_init(&c, ip, sender, helo, me.s) < 0)
		die_nomem();
	k = spf_check(&c, spf_domain(&c));
	r->spfwhy = c.why;
	if (str_copys(&r->mailfrom, c.sender.s) < 0 || str_0(&r->mailfrom) < 0)
		die_nomem();
	spf_free(&c);
	return k;
}

/* spf_dom - the domain SPF checked */
static const char *
spf_dom(const struct result *r)
{
	return strrchr(r->mailfrom.s, '@') + 1;
}

/* worse - is DMARC result a (policy pa) worse than b (pb)?  A fail under
 * the stricter policy first, then temperror, permerror, none, pass. */
static int
worse(int a, int pa, int b, int pb)
{
	static const int rank[] = { 2, 1, 5, 4, 3 };	/* by DMARC_ */

	if (a == DMARC_FAIL && b == DMARC_FAIL)
		return pa > pb;
	return rank[a] > rank[b];
}

static void
check(const char *msg, size_t len, const dns_addr *ip, const char *sender,
    const char *helo, struct result *r)
{
	struct from fr;
	const char *dk[DKIM_SIG_MAX];
	size_t pos = 0, fl, i, nd = 0, nfrom = 0;
	int temp = 0;

	r->helo = *sender ? "" : helo;
	r->spf = spf_run(ip, sender, helo, r);
	if (dkim_verify(msg, len, r->dkim, DKIM_SIG_MAX, &r->ndkim) < 0)
		die_nomem();
	memset(&fr, 0, sizeof fr);
	while ((fl = field_next(msg, len, pos))) {
		if (hdr_name(msg + pos, fl, "from")) {
			size_t off = hdr_name(msg + pos, fl, "from");

			nfrom++;
			if (hdr_addrlist(msg + pos + off, fl - off, from_addr,
			    &fr) != 0)
				fr.bad = 1;
		}
		pos += fl;
	}
	for (i = 0; i < r->ndkim; i++) {
		if (r->dkim[i].status == DKIM_PASS && r->dkim[i].d[0])
			dk[nd++] = r->dkim[i].d;
		if (r->dkim[i].status == DKIM_TEMPERROR)
			temp = 1;
	}
	if (r->spf == SPF_TEMPERROR)
		temp = 1;
	/* Each From domain (RFC 7489 6.6.1 allows it), the worst kept: a
	 * second From field must not hide a failing first one. */
	r->fromdom[0] = 0;
	r->dmarc = DMARC_NONE;
	for (i = 0; i < fr.n; i++) {
		struct dmarc_out o;
		int k = dmarc_check(fr.dom[i], r->spf == SPF_PASS ?
		    spf_dom(r) : 0, dk, nd, &o);

		/* a fail that a DNS error may have caused is not a fail */
		if (k == DMARC_FAIL && temp) {
			k = o.result = DMARC_TEMPERROR;
			o.why = "an identifier could not be checked";
		}
		if (!i || worse(k, o.policy, r->dmarc, r->dm.policy)) {
			r->dmarc = k;
			r->dm = o;
			strcpy(r->fromdom, fr.dom[i]);
		}
	}
	if ((nfrom != 1 || fr.n != 1 || fr.bad) && r->dmarc != DMARC_FAIL) {
		/* RFC 7489 6.6.1: no single author domain to check */
		r->dmarc = DMARC_PERMERROR;
		r->dm.why = nfrom == 0 ? "no From field" : nfrom > 1 ?
		    "more than one From field" : "no single From domain";
	}
}

static const char *const dmarcname[] = { "none", "pass", "fail",
    "temperror", "permerror" };
static const char *const polname[] = { "none", "none", "quarantine",
    "reject" };

/* field - the Authentication-Results field for r */
static void
field(const struct result *r, str *f)
{
	size_t i;
	int e = 0;

	e |= str_puts(f, "Authentication-Results: ");
	e |= str_put(f, me.s, me.len);
	e |= str_puts(f, ";\n\tspf=");
	e |= str_puts(f, spf_str(r->spf));
	if ((r->spf == SPF_TEMPERROR || r->spf == SPF_PERMERROR) && r->spfwhy) {
		e |= str_puts(f, " (");
		e |= str_puts(f, r->spfwhy);
		e |= str_puts(f, ")");
	}
	{
		const char *mf = r->mailfrom.s, *at = strrchr(mf, '@');

		e |= str_puts(f, " smtp.mailfrom=");
		e |= str_puts(f, plain(mf, 1) && at != mf ? mf :
		    plain(at + 1, 0) ? at + 1 : "invalid");
		if (r->helo[0] && plain(r->helo, 0)) {
			e |= str_puts(f, " smtp.helo=");
			e |= str_puts(f, r->helo);
		}
	}
	if (!r->ndkim)
		e |= str_puts(f, ";\n\tdkim=none");
	for (i = 0; i < r->ndkim; i++) {
		const struct dkim_result *d = &r->dkim[i];

		e |= str_puts(f, ";\n\tdkim=");
		e |= str_puts(f, dkim_status_name(d->status));
		if (d->status != DKIM_PASS && d->why && *d->why &&
		    !strpbrk(d->why, "()\\")) {
			e |= str_puts(f, " (");
			e |= str_puts(f, d->why);
			e |= str_puts(f, ")");
		}
		if (plain(d->d, 0)) {
			e |= str_puts(f, " header.d=");
			e |= str_puts(f, d->d);
		}
		if (plain(d->s, 0)) {
			e |= str_puts(f, " header.s=");
			e |= str_puts(f, d->s);
		}
		if (d->b[0]) {
			e |= str_puts(f, " header.b=\"");
			e |= str_put(f, d->b, strlen(d->b) < 8 ? strlen(d->b) :
			    8);
			e |= str_puts(f, "\"");
		}
	}
	e |= str_puts(f, ";\n\tdmarc=");
	e |= str_puts(f, dmarcname[r->dmarc]);
	if (r->dmarc == DMARC_PASS || r->dmarc == DMARC_FAIL) {
		e |= str_puts(f, " (p=");
		e |= str_puts(f, polname[r->dm.p]);
		e |= str_puts(f, " dis=");
		e |= str_puts(f, r->dmarc == DMARC_FAIL ?
		    polname[r->dm.policy] : "none");
		e |= str_puts(f, ")");
	} else if (r->dm.why) {
		e |= str_puts(f, " (");
		e |= str_puts(f, r->dm.why);
		e |= str_puts(f, ")");
	}
	if (plain(r->fromdom, 0)) {
		e |= str_puts(f, " header.from=");
		e |= str_puts(f, r->fromdom);
	}
	e |= str_puts(f, "\n");
	if (e)
		die_nomem();
}

/* Running the next program. */

static int
run_queue(char **argv, const str *msg, const str *hdr, const str *env)
{
	int mp[2], ep[2], st;
	struct spawn_fd fds[2];
	struct spawn sp = { .fds = fds, .nfds = 2, .failcode = QQ_EXEC_FAILED,
	    .what = "the queue program " };
	str path = STR_INIT;
	char *def[2];
	pid_t pid;

	if (!argv[0]) {
		if (home_path(&path, "bin/queue") < 0)
			die_nomem();
		def[0] = path.s;
		def[1] = 0;
		argv = def;
	}
	if (pipe2(mp, O_CLOEXEC) < 0 || pipe2(ep, O_CLOEXEC) < 0)
		err_diesys(QQ_EXEC_FAILED, "unable to make a pipe",
		    (const char *)0);
	fds[0].from = mp[0];
	fds[0].to = 0;
	fds[1].from = ep[0];
	fds[1].to = 1;
	pid = spawn_run(argv, &sp);
	if (pid < 0)
		err_diesys(QQ_EXEC_FAILED, "unable to start ",
		    argv[0], (const char *)0);
	close(mp[0]);
	close(ep[0]);
	/* A failed write is the queue program's to report: it then sees
	 * a short message or envelope and refuses it. */
	if (fd_writeall(mp[1], hdr->s, hdr->len, -1) == 0)
		(void)fd_writeall(mp[1], msg->s, msg->len, -1);
	close(mp[1]);
	(void)fd_writeall(ep[1], env->s, env->len, -1);
	close(ep[1]);
	str_free(&path);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return QQ_CRASHED;
	if (!WIFEXITED(st))
		return QQ_CRASHED;
	return WEXITSTATUS(st);
}

static void
load_controls(void)
{
	int r = control_readline(&me, "me");

	if (r < 0)
		err_diesys(55, "unable to read control/me",
		    (const char *)0);
	if (r == 0 && str_copys(&me, "localhost") < 0)
		die_nomem();
	if (str_0(&me) < 0)
		die_nomem();
	if (control_number("dmarcreject", &dmarcreject) < 0 ||
	    control_number("spfreject", &spfreject) < 0)
		err_diesys(55, "unable to read control/dmarcreject or "
		    "control/spfreject", (const char *)0);
}

static const char *
helo_env(void)
{
	const char *h = getenv("QPOST_HELO");

	return h && strlen(h) <= HELO_MAX ? h : "";
}

static void
dns_start(void)
{
	const char *why;

	if (dns_init(&why) < 0)
		err_warn(why, ": every lookup fails "
		    "temporarily", (const char *)0);
}

/* --spf IP SENDER HELO */
static int
tool_spf(char **argv)
{
	dns_addr ip;
	spf_ctx c;
	int r;

	if (!argv[0] || !argv[1] || !argv[2] || argv[3])
		err_die(100, "usage: authcheck --spf IP SENDER HELO",
		    (const char *)0);
	if (ip_of(argv[0], &ip) < 0)
		err_die(100, "not an IP address: ", argv[0],
		    (const char *)0);
	dns_start();
	if (spf_init(&c, &ip, argv[1], argv[2], me.s) < 0)
		die_nomem();
	r = spf_check(&c, argv[1][0] ? spf_domain(&c) : argv[2]);
	{
		str o = STR_INIT;

		if (str_puts(&o, spf_str(r)) < 0 || (c.why && (str_puts(&o,
		    " (") < 0 || str_puts(&o, c.why) < 0 || str_puts(&o, ")") <
		    0)) || str_puts(&o, " ") < 0 || str_puts(&o,
		    spf_domain(&c)) < 0 || str_putc(&o, '\n') < 0)
			die_nomem();
		if (fd_writeall(1, o.s, o.len, -1) < 0)
			err_diesys(111, "unable to write",
			    (const char *)0);
		str_free(&o);
	}
	spf_free(&c);
	return 0;
}

/* --dmarc DOMAIN [SPFDOMAIN] */
static int
tool_dmarc(char **argv)
{
	struct dmarc_out o;
	char org[DMARC_DOMAIN_MAX + 1];
	str s = STR_INIT;
	int r;

	if (!argv[0] || (argv[1] && argv[2]))
		err_die(100, "usage: authcheck --dmarc DOMAIN [SPFDOMAIN]",
		    (const char *)0);
	dns_start();
	r = dmarc_check(argv[0], argv[1], 0, 0, &o);
	dmarc_orgdomain(argv[0], org);
	if (str_puts(&s, dmarcname[r]) < 0 || str_puts(&s, " p=") < 0 ||
	    str_puts(&s, polname[o.p]) < 0 || str_puts(&s, " policy=") < 0 ||
	    str_puts(&s, polname[o.policy]) < 0 ||
	    str_puts(&s, " record=") < 0 ||
	    str_puts(&s, o.domain[0] ? o.domain : "-") < 0 ||
	    str_puts(&s, " org=") < 0 || str_puts(&s, org) < 0 ||
	    (o.why && (str_puts(&s, " (") < 0 || str_puts(&s, o.why) < 0 ||
	    str_puts(&s, ")") < 0)) || str_putc(&s, '\n') < 0)
		die_nomem();
	if (fd_writeall(1, s.s, s.len, -1) < 0)
		err_diesys(111, "unable to write", (const char *)0);
	str_free(&s);
	dmarc_done();
	return 0;
}

/* --mail SENDER: smtpd's MAIL-time check (control/spfreject) */
static int
mail_check(char **argv)
{
	struct result r;
	dns_addr ip;
	const char *rep = 0;
	int code = 0;

	if (!argv[0] || argv[1])
		err_die(100, "usage: authcheck --mail SENDER", (const char *)0);
	if (ip_of(getenv("TCPREMOTEIP"), &ip) < 0)
		return 0;
	dns_start();
	memset(&r, 0, sizeof r);
	r.spf = spf_run(&ip, argv[0], helo_env(), &r);
	if (r.spf == SPF_FAIL) {
		rep = "550 5.7.23 SPF: the sender's domain does not allow this "
		    "host to send its mail\n";
		code = 100;
	} else if (r.spf == SPF_TEMPERROR) {
		rep = "451 4.7.24 SPF: DNS error checking the sender, try "
		    "again later\n";
		code = 111;
	}
	if (rep) {
		err_info("spf ", spf_str(r.spf), " ip ", getenv("TCPREMOTEIP"),
		    " from ", r.mailfrom.s, (const char *)0);
		if (fd_writeall(1, rep, strlen(rep), 1000) < 0)
			code = 111;
	}
	str_free(&r.mailfrom);
	return code;
}

int
main(int argc, char **argv)
{
	static struct result r;
	str msg = STR_INIT, env = STR_INIT, hdr = STR_INIT;
	const char *rip = getenv("TCPREMOTEIP"), *rc = getenv("RELAYCLIENT");
	const char *au = getenv("SMTPAUTHUSER");
	size_t rcpts, pos = 0, fl, out = 0;
	dns_addr ip;
	int code;

	err_prog = "authcheck";
	err_help(argc, argv, USAGE);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	if (argc > 1 && !strcmp(argv[1], "--")) {
		argv++;
		argc--;
	} else if (argc > 1 && argv[1][0] == '-' && argv[1][1] == '-') {
		load_controls();
		if (!strcmp(argv[1], "--spf"))
			return tool_spf(argv + 2);
		if (!strcmp(argv[1], "--dmarc"))
			return tool_dmarc(argv + 2);
		if (!strcmp(argv[1], "--mail"))
			return mail_check(argv + 2);
		err_die(100, USAGE, (const char *)0);
	}
	/* Our own users, and mail not from the network: nothing to check,
	 * and nothing to copy either. */
	if (!rip || !*rip || rc || (au && *au) || ip_of(rip, &ip) < 0) {
		char *def[2];
		str path = STR_INIT;

		if (!argv[1]) {
			if (home_path(&path, "bin/queue") < 0)
				die_nomem();
			def[0] = path.s;
			def[1] = 0;
		}
		signal(SIGPIPE, SIG_DFL);
		execv(argv[1] ? argv[1] : def[0], argv[1] ? argv + 1 : def);
		err_diesys(QQ_EXEC_FAILED, "unable to run ",
		    argv[1] ? argv[1] : def[0], (const char *)0);
	}
	load_controls();
	read_all(0, &msg, "message");
	read_all(1, &env, "envelope");
	if (envelope_check(env.s, env.len, &rcpts) != ENV_OK)
		err_die(91, "bad envelope: nothing queued",
		    (const char *)0);
	dns_start();
	check(msg.s, msg.len, &ip, envelope_sender(env.s), helo_env(), &r);
	err_info("auth ip ", rip, " spf ", spf_str(r.spf), " dkim ",
	    r.ndkim ? dkim_status_name(r.dkim[0].status) : "none",
	    " dmarc ", dmarcname[r.dmarc], " from ",
	    r.fromdom[0] ? r.fromdom : "-", (const char *)0);
	if (dmarcreject && r.dmarc == DMARC_FAIL &&
	    r.dm.policy == DMARC_P_REJECT)
		answer("550 5.7.1 DMARC: the From domain's policy rejects this "
		    "unauthenticated message");
	if (dmarcreject && r.dmarc == DMARC_TEMPERROR)
		answer("451 4.7.0 DMARC: DNS error checking the message, try "
		    "again later");
	/* Our field first, then the message without any field that claims
	 * to be ours. */
	field(&r, &hdr);
	while ((fl = field_next(msg.s, msg.len, pos))) {
		if (ours(msg.s + pos, fl)) {
			pos += fl;
			continue;
		}
		if (out != pos)
			memmove(msg.s + out, msg.s + pos, fl);
		out += fl;
		pos += fl;
	}
	if (out != pos) {
		memmove(msg.s + out, msg.s + pos, msg.len - pos);
		msg.len -= pos - out;
	}
	code = run_queue(argv + 1, &msg, &hdr, &env);
	dmarc_done();
	return code;
}
