/*
 * qpost-tool - the administrator's tools for a qpost home, one program with
 * subcommands (qmail spread these over qmail-qread, qmail-qstat,
 * qmail-showctl, qmail-newmrh and qmail-newu):
 *
 *   qpost-tool qread         list the queue: per message its id, age, size,
 *                            sender, and each recipient with its state
 *   qpost-tool qstat         count the queue (qmail-qstat's two lines)
 *   qpost-tool showctl       the effective configuration, with warnings
 *                            about likely mistakes ("warning: ..." lines)
 *   qpost-tool newrcpthosts  compile control/rcpthosts (and qmail's
 *                            control/morercpthosts) into
 *                            control/morercpthosts.cdb, atomically
 *   qpost-tool rules         compile control/rules into control/rules.cdb
 *                            with tcprules (atomic: tcprules renames)
 *   qpost-tool newu [ARG...] run the home's bin/newu (users/assign.cdb)
 *   qpost-tool mtasts DOMAIN [MX...]  the domain's MTA-STS policy as
 *                            remote would use it (cached or fetched now,
 *                            and cached), where it came from, and for
 *                            each MX whether the policy lists it
 *   qpost-tool passwd add|change|remove NAME, passwd list, passwd compile
 *                            edit users/passwd, the password file of
 *                            checkpw (passwd.h), and compile it into
 *                            users/passwd.cdb, both atomically; the
 *                            password comes on stdin, never in argv
 *
 * Queue control, as a client of send's command channel run/send/ctl
 * (docs/queue-control.md; send must run, and changes what it holds):
 *
 *   qpost-tool queue [--json]  each recipient with state, tries, next
 *                            attempt and last error ("queue is empty");
 *                            JSON: one object per message per line
 *   qpost-tool show ID       envelope, state and the message
 *   qpost-tool delete ID...|--sender PAT|--rcpt PAT   no bounce; PAT an
 *                            fnmatch shell pattern, without case
 *   qpost-tool hold ID..., release ID...
 *   qpost-tool retry ID...|--domain D|--all   due now (sendmail -q)
 *   qpost-tool requeue       route every pending recipient again
 *
 * Environment: QPOST_HOME (ignored when set-uid), else conf-home.
 * Output on fd 1, diagnostics on fd 2.
 *
 * Exit codes: 0 done (showctl: also with warnings); 100 usage or a
 * permanent problem with the input (a malformed control file or
 * users/passwd line, passwd add of a name that exists, change or remove
 * of one that does not, a bad name or password); 111 a
 * temporary failure (unreadable queue or control file, out of memory, a
 * failed write); 126/127 the program to run could not be executed.
 * Queue control: 0 send answered ok, 100 it refused the request ("error:
 * ..."), 111 send is not running or failed.  mtasts: 0 the policy (or
 * "none") is shown, 100 DOMAIN is not a domain name or an MX given is
 * not one the testing or enforce policy lists, 111 no resolver.
 *
 * Privilege: none needed beyond read access to the queue (qread, qstat);
 * for queue control send decides by the caller's uid (SO_PEERCRED)
 * or write access to control/ (newrcpthosts, rules) or users/ (passwd).
 * Never set-uid.  passwd keeps the password in fixed buffers it wipes,
 * and turns core dumps off.
 */
#include <cdb.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <pwd.h>
#include <crypt.h>
#include <stdnoreturn.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "checkpass.h"
#include "commit.h"
#include "control.h"
#include "dkim.h"
#include "dns.h"
#include "dsn.h"
#include "envelope.h"
#include "err.h"
#include "home.h"
#include "mtasts.h"
#include "num.h"
#include "passwd.h"
#include "qfile.h"
#include "str.h"


static char outspace[BUF_SIZE];
static buf out;

/* one usage text for --help and for the usage error (tests/debian.bats) */
#define USAGE "usage: qpost-tool qread | qstat | showctl | " \
	"newrcpthosts | rules | newu [arg...] | " \
	"passwd add|change|remove NAME | passwd list|compile | " \
	"mtasts DOMAIN [MX...] | queue [--json] | show ID | delete ID...|--sender PAT|--rcpt PAT | " \
	"hold ID... | release ID... | retry ID...|--domain D|--all | " \
	"requeue | dkimkey DOMAIN SELECTOR [rsa|ed25519] | dkimverify | " \
	"dkimsign DOMAIN SELECTOR KEYFILE"

static noreturn void
usage(void)
{
	err_die(100, USAGE, (const char *)0);
}

static void
die_write(void)
{
	err_diesys(111, "unable to write output", (const char *)0);
}

static void
outs(const char *s)
{
	if (buf_puts(&out, s) < 0)
		die_write();
}

static void
outn(const char *s, size_t n)
{
	if (buf_put(&out, s, n) < 0)
		die_write();
}

static void
outu(unsigned long long u)
{
	char b[NUM_LEN];

	outs(num_fmt(b, u));
}

/* outsafe - an address or value from the queue: printable bytes only */
static void
outsafe(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 32 || c == 127) {
			char e[4] = { '\\', 'x', "0123456789abcdef"[c >> 4],
			    "0123456789abcdef"[c & 15] };

			outn(e, 2);
			outn(e + 2, 2);
		} else
			outn(s, 1);
	}
}

static void
flush(void)
{
	if (buf_flush(&out) < 0)
		die_write();
}

static int
isdigits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* ---- reading the queue ---- */

/* ids - the numeric names in queue/<sub>, NUL-separated in x */
static size_t
ids(const char *sub, str *x)
{
	str path = STR_INIT;
	DIR *d;
	struct dirent *de;
	size_t n = 0;

	x->len = 0;
	if (home_path(&path, sub) < 0)
		err_nomem();
	d = opendir(path.s);
	if (!d)
		err_diesys(111, "unable to open ", path.s, (const char *)0);
	for (;;) {
		unsigned long u;

		errno = 0;	/* readdir's only way to tell an error */
		if (!(de = readdir(d)))
			break;
		if (qfile_id(de->d_name, &u) < 0)
			continue;
		if (str_puts(x, de->d_name) < 0 || str_putc(x, 0) < 0)
			err_nomem();
		n++;
	}
	if (errno)
		err_diesys(111, "unable to read ", path.s, (const char *)0);
	closedir(d);
	str_free(&path);
	return n;
}

/* qpath - the full path of queue/<dir>/<id>, id a name ids() listed */
static void
qpath(str *path, const char *dir, const char *id)
{
	static str rel;
	unsigned long u;

	if (qfile_id(id, &u) < 0 || qfile_path(&rel, dir, u, 0) < 0 ||
	    home_path(path, rel.s) < 0)
		err_nomem();
}

/* innew - is queue/new/<id> there too (a pick-up under way)?  One
 * lookup per message, so listing a queue of 100 000 stays linear. */
static int
innew(const char *id)
{
	static str path;

	qpath(&path, QFILE_NEW, id);
	return access(path.s, F_OK) == 0;
}

/* newenv - the envelope of queue/new/<id> (qfile_newenv); returns the
 * message size, or -1 when the file is gone (picked up meanwhile), -2 when
 * it is malformed */
static long long
newenv(const char *path, str *env, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;
	unsigned long long off = 0;
	const char *why;

	if (fd < 0) {
		if (errno == ENOENT)
			return -1;
		err_diesys(111, "unable to open ", path, (const char *)0);
	}
	if (fstat(fd, st) < 0)
		err_diesys(111, "unable to stat ", path, (const char *)0);
	r = qfile_newenv(fd, (unsigned long long)st->st_size, env, &off, &why);
	if (r == -1)
		err_diesys(111, "unable to read ", path, (const char *)0);
	close(fd);
	return r < 0 ? -2 : (long long)off;
}

static void
outage(time_t then)
{
	time_t now = time(0);
	unsigned long long a = now > then ? (unsigned long long)(now - then) : 0;

	if (a < 120) {
		outu(a);
		outs("s");
	} else if (a < 7200) {
		outu(a / 60);
		outs("m");
	} else if (a < 172800) {
		outu(a / 3600);
		outs("h");
	} else {
		outu(a / 86400);
		outs("d");
	}
}

/* outhead - a message's first line: its ID (as the log and smtpd's 250
 * reply give it: birth and inode, qfile_msgid), age, size, sender */
static void
outhead(const char *id, unsigned long long birth_us, time_t t,
    unsigned long long size, const char *from)
{
	char qid[QFILE_MSGID_LEN];
	unsigned long ino;

	if (qfile_id(id, &ino) == 0)
		id = qfile_msgid(qid, birth_us, ino);
	outs(id);
	outs("  age ");
	outage(t);
	outs("  ");
	outu(size);
	outs(" bytes  from <");
	outsafe(from);
	outs(">\n");
}

static void
outrcpt(const char *state, const char *rcpt)
{
	outs("  ");
	outs(state);
	outs("  <");
	outsafe(rcpt);
	outs(">\n");
}

/*
 * qread_info - send's state file info/<id>, read by the one parser send
 * uses (qfile_info_parse; the records are in docs/queue.md): a
 * recipient's first d or f record is final, unknown records and a torn
 * last record are skipped.
 */
static void
qread_info(const char *id, const str *info)
{
	struct qfile_info qi;
	size_t k;

	if (qfile_info_parse(info->s, info->len, &qi) < 0) {
		outs(id);
		outs("  unreadable info file (send leaves it alone)\n");
		return;
	}
	outhead(id, qi.birth_us, (time_t)qi.birth, qi.msglen,
	    envelope_sender(qi.env));
	for (k = 0; k < qi.nr; k++) {
		const struct qfile_rcpt *r = &qi.r[k];

		if (r->state == QFILE_DONE)
			outrcpt("done   ", r->addr);
		else if (r->state == QFILE_FAILED) {
			outrcpt("failed ", r->addr);
			outs("           (to be bounced) ");
			/* the human text, not the status fields (dsn.h) */
			outsafe(dsn_text(r->reason));
			outs("\n");
		} else if (r->tries) {
			time_t now = time(0);

			outrcpt("retry  ", r->addr);
			outs("           ");
			outu(r->tries);
			outs(" tries, next ");
			if (r->next > (unsigned long long)now) {
				outs("in ");
				outage(now - (time_t)(r->next - (unsigned long long)now));
			} else
				outs("now");
			outs("\n");
		} else
			outrcpt("pending", r->addr);
	}
	qfile_info_free(&qi);
}

static int
do_qread(void)
{
	str newids = STR_INIT, messids = STR_INIT, path = STR_INIT;
	str env = STR_INIT, info = STR_INIT;
	struct stat st;
	size_t pos = 0, p;
	const char *id, *r;

	ids("queue/" QFILE_NEW, &newids);
	ids("queue/" QFILE_MESS, &messids);
	while ((id = control_next(&newids, &pos))) {
		long long size;

		qpath(&path, QFILE_NEW, id);
		size = newenv(path.s, &env, &st);
		if (size == -1)
			continue;
		if (size == -2) {
			outs(id);
			outs("  malformed file in queue/new (send sets it aside)\n");
			continue;
		}
		outhead(id, qfile_birth_us((long long)st.st_mtim.tv_sec,
		    st.st_mtim.tv_nsec), st.st_mtime, (unsigned long long)size,
		    envelope_sender(env.s));
		p = 0;
		while ((r = envelope_next(env.s, env.len, &p)))
			outrcpt("new    ", r);
	}
	pos = 0;
	while ((id = control_next(&messids, &pos))) {
		int fd;

		if (innew(id))
			continue;	/* mid pick-up: listed above */
		qpath(&path, QFILE_MESS, id);
		if (access(path.s, F_OK) < 0)
			continue;
		qpath(&path, QFILE_INFO, id);
		fd = open(path.s, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			if (errno != ENOENT)
				err_diesys(111, "unable to open ", path.s,
				    (const char *)0);
			continue;	/* being removed */
		}
		if (qfile_info_read(fd, &info) < 0)
			err_diesys(111, "unable to read ", path.s,
			    (const char *)0);
		close(fd);
		qread_info(id, &info);
	}
	flush();
	str_free(&newids);
	str_free(&messids);
	str_free(&path);
	str_free(&env);
	str_free(&info);
	return 0;
}

static int
do_qstat(void)
{
	str newids = STR_INIT, messids = STR_INIT;
	size_t nnew = ids("queue/new", &newids), total = nnew, pos = 0;
	const char *id;

	ids("queue/mess", &messids);
	while ((id = control_next(&messids, &pos)))
		if (!innew(id))
			total++;
	outs("messages in queue: ");
	outu(total);
	outs("\nmessages in queue but not yet preprocessed: ");
	outu(nnew);
	outs("\n");
	flush();
	str_free(&newids);
	str_free(&messids);
	return 0;
}

/* ---- queue control: the client of send's command channel ---- */

#define CTL_PATH "run/send/ctl"	/* under the home (docs/queue-control.md) */
#define CTL_REQUEST_MAX 1023	/* send's limit on a request line */
#define CTL_TIMEOUT 120000	/* ms without a byte from send */

/* ctl_call - one request to send; the answer's lines are printed on fd 1
 * (all but the last), the last decides: 0 "ok", 100 "error: ..." about
 * the request, 111 send unreachable or failing.  *lines counts the
 * lines printed. */
static int
ctl_call(const char *req, size_t *lines)
{
	struct sockaddr_un sa;
	str q = STR_INIT, line = STR_INIT, last = STR_INIT;
	char space[BUF_SIZE];
	buf in;
	int fd, r, have = 0;

	*lines = 0;
	if (strlen(req) > CTL_REQUEST_MAX || strchr(req, '\n'))
		err_die(100, "request too long or not one line", (const char *)0);
	if (home_chdir() < 0)
		err_diesys(111, "unable to chdir to the home ", home_dir(),
		    (const char *)0);
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, CTL_PATH, sizeof CTL_PATH);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		err_diesys(111, "unable to create a socket", (const char *)0);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		if (errno == ENOENT || errno == ECONNREFUSED)
			err_die(111, "send is not running (nobody listens on ",
			    home_dir(), "/" CTL_PATH ")", (const char *)0);
		err_diesys(111, "unable to connect to ", home_dir(),
		    "/" CTL_PATH, (const char *)0);
	}
	if (str_copys(&q, req) < 0 || str_putc(&q, '\n') < 0)
		err_nomem();
	if (fd_writeall(fd, q.s, q.len, CTL_TIMEOUT) < 0)
		err_diesys(111, "unable to talk to send", (const char *)0);
	buf_init(&in, fd, space, sizeof space, CTL_TIMEOUT);
	/* Each line is printed once the next one shows it was not the
	 * last: the last is the status. */
	for (;;) {
		r = buf_getline(&in, &line, 1 << 20);
		if (r == BUF_ERR)
			err_diesys(111, "unable to read send's answer",
			    (const char *)0);
		if (r == BUF_EOF && !line.len)
			break;
		if (have) {
			outn(last.s, last.len);
			(*lines)++;
		}
		if (str_copy(&last, line.s, line.len) < 0)
			err_nomem();
		if (!last.len || last.s[last.len - 1] != '\n')
			if (str_putc(&last, '\n') < 0)
				err_nomem();
		have = 1;
		if (r == BUF_EOF)
			break;
	}
	close(fd);
	flush();
	str_free(&q);
	str_free(&line);
	if (!have)
		err_die(111, "send closed the connection without an answer",
		    (const char *)0);
	last.s[last.len - 1] = 0;
	if (!strcmp(last.s, "ok")) {
		str_free(&last);
		return 0;
	}
	r = strncmp(last.s, "error: ", 7) ? 111 :
	    !strncmp(last.s, "error: unable", 13) ||
	    !strncmp(last.s, "error: timeout", 14) ? 111 : 100;
	err_warn(strncmp(last.s, "error: ", 7) ? last.s : last.s + 7,
	    (const char *)0);
	str_free(&last);
	return r;
}

/* ctl_each - one request per argument: "verb ARG"; the worst code */
static int
ctl_each(const char *verb, char **argv)
{
	str q = STR_INIT;
	size_t n;
	int r, worst = 0;

	if (!*argv)
		usage();
	for (; *argv; argv++) {
		if (str_copys(&q, verb) < 0 || str_putc(&q, ' ') < 0 ||
		    str_puts(&q, *argv) < 0 || str_0(&q) < 0)
			err_nomem();
		r = ctl_call(q.s, &n);
		if (r > worst)
			worst = r;
	}
	str_free(&q);
	return worst;
}

/* ctl_opt - "verb WORD ARG" for "--opt ARG" */
static int
ctl_opt(const char *verb, const char *word, const char *arg)
{
	str q = STR_INIT;
	size_t n;
	int r;

	if (str_copys(&q, verb) < 0 || str_putc(&q, ' ') < 0 ||
	    str_puts(&q, word) < 0 || (arg && (str_putc(&q, ' ') < 0 ||
	    str_puts(&q, arg) < 0)) || str_0(&q) < 0)
		err_nomem();
	r = ctl_call(q.s, &n);
	str_free(&q);
	return r;
}

static int
do_ctl(int argc, char **argv)
{
	const char *cmd = argv[0];
	size_t n;
	int r;

	if (!strcmp(cmd, "queue")) {
		if (argc == 1) {
			r = ctl_call("list", &n);
			if (r == 0 && n == 0) {
				outs("queue is empty\n");
				flush();
			}
			return r;
		}
		if (argc == 2 && !strcmp(argv[1], "--json"))
			return ctl_call("list json", &n);
		usage();
	}
	if (!strcmp(cmd, "requeue") && argc == 1)
		return ctl_call("requeue", &n);
	if (!strcmp(cmd, "show") && argc == 2)
		return ctl_opt("show", argv[1], 0);
	if (!strcmp(cmd, "delete") && argc == 3 && !strcmp(argv[1], "--sender"))
		return ctl_opt("delete", "sender", argv[2]);
	if (!strcmp(cmd, "delete") && argc == 3 && !strcmp(argv[1], "--rcpt"))
		return ctl_opt("delete", "rcpt", argv[2]);
	if (!strcmp(cmd, "retry") && argc == 3 && !strcmp(argv[1], "--domain"))
		return ctl_opt("retry", "domain", argv[2]);
	if (!strcmp(cmd, "retry") && argc == 2 && !strcmp(argv[1], "--all"))
		return ctl_opt("retry", "all", 0);
	if (!strcmp(cmd, "delete") || !strcmp(cmd, "hold") ||
	    !strcmp(cmd, "release") || !strcmp(cmd, "retry")) {
		if (argc < 2 || argv[1][0] == '-')
			usage();
		return ctl_each(cmd, argv + 1);
	}
	usage();
}

/* ---- showctl ---- */

struct ctl {
	const char *name;
	int kind;		/* K_LINE, K_NUM, K_LIST */
	const char *dflt;	/* shown when the file is missing */
	const char *what;
};

#define K_LINE 0
#define K_NUM 1
#define K_LIST 2

static const struct ctl ctls[] = {
	{ "me", K_LINE, "(the host name at install)", "this host's name" },
	{ "locals", K_LIST, "(none: only postmaster@me is local)",
	    "domains delivered here" },
	{ "rcpthosts", K_LIST, "(none: only RELAYCLIENT may send)",
	    "domains smtpd accepts mail for" },
	{ "morercpthosts", K_LIST, "(none)",
	    "more rcpthosts (compiled by qpost-tool newrcpthosts)" },
	{ "virtualdomains", K_LIST, "(none)", "domain:prefix mappings" },
	{ "defaultdomain", K_LINE, "(none: host names are left as written)",
	    "domain added to bare host names" },
	{ "defaulthost", K_LINE, "defaultdomain, else me",
	    "host added to bare local parts" },
	{ "defaultdelivery", K_LINE, "./Maildir/",
	    "delivery for users without .qmail" },
	{ "smtproutes", K_LIST, "(none: MX lookup)", "domain:host[:port]" },
	{ "tlsdestinations", K_LIST, "(none: may everywhere)",
	    "remote's TLS policy per domain" },
	{ "tlscafile", K_LINE, "(the system CA store)",
	    "CAs for remote's verify policy" },
	{ "smtpauth", -1, "(none)", "relay credentials (never shown)" },
	{ "rejectunknown", K_NUM, "1 (on)",
	    "smtpd refuses unknown local users at RCPT" },
	{ "concurrencyincoming", K_NUM, "100", "SMTP connections at once" },
	{ "dnsserver", K_LINE, "(resolv.conf)", "DNS server remote asks" },
	{ "tlscafile", K_LINE, "(the system CA store)",
	    "CA bundle (PEM) for MTA-STS policy fetches" },
	{ "bouncefrom", K_LINE, "MAILER-DAEMON", "bounce sender's local part" },
	{ "bouncehost", K_LINE, "me", "bounce sender's domain" },
	{ "doublebounceto", K_LINE, "postmaster", "where double bounces go" },
	{ "doublebouncehost", K_LINE, "me", "domain of doublebounceto" },
	{ "helohost", K_LINE, "me", "name remote says in EHLO" },
	{ "smtpgreeting", K_LINE, "me", "smtpd's 220 greeting" },
	{ "smtpdaddr", K_LINE, "0 (every address)", "address smtpd listens on" },
	{ "smtpdport", K_NUM, "25", "port smtpd listens on" },
	{ "dovecotauth", K_LINE, "/run/dovecot/auth-client",
	    "Dovecot socket checkdovecot asks" },
	{ "rules", K_LIST, "(none)", "tcprules source; qpost-tool rules" },
	{ "rules.cdb", -1, "(none)", "compiled rules" },
	{ "morercpthosts.cdb", -1, "(none)", "compiled rcpthosts" },
	{ 0, 0, 0, 0 }
};

/* other names smtpd, send, local or remote may read; not warned about */
static const char *const quiet[] = {
	"rcptcheck", "checkrcpt", "badmailfrom", "badrcptto",
	"localiphost", "percenthack", "envnoathost", "idhost", "plusdomain",
	"qmqpservers", "spfbehavior", "tlsserver", "servercert.pem",
	"timeoutsmtp", "bouncemaxbytes", "concurrencybounce", "resolvconf",
	"dnsservers", "maxbadcmd", "smtpdrcptcheck",
	"recipientcheck", "rcptmax", "retryschedule",
	"dkim",		/* a directory: DKIM keys per domain (docs/dkim.md) */
	0
};

static unsigned warnings;

static void
warn(const char *a, const char *b, const char *c)
{
	warnings++;
	outs("warning: ");
	outs(a);
	if (b)
		outsafe(b);
	if (c)
		outs(c);
	outs("\n");
}

static int
ctlpath(str *path, const char *name)
{
	str rel = STR_INIT;
	int r = 0;

	if (str_copys(&rel, "control/") < 0 || str_puts(&rel, name) < 0 ||
	    str_0(&rel) < 0 || home_path(path, rel.s) < 0)
		r = -1;
	str_free(&rel);
	return r;
}

/* mtime of a home-relative file, 0 if missing */
static time_t
mtime(const char *rel, int *exists)
{
	str path = STR_INIT;
	struct stat st;
	time_t t = 0;

	if (home_path(&path, rel) < 0)
		err_nomem();
	*exists = stat(path.s, &st) == 0;
	if (*exists)
		t = st.st_mtime;
	str_free(&path);
	return t;
}

/* stale - warn when the source rel is newer than its compiled form */
static void
stale(const char *src, const char *cdb, const char *fix)
{
	int se, ce;
	time_t s = mtime(src, &se), c = mtime(cdb, &ce);

	if (se && (!ce || s > c)) {
		warnings++;
		outs("warning: ");
		outs(src);
		outs(ce ? " is newer than " : " is not compiled into ");
		outs(cdb);
		outs(": run ");
		outs(fix);
		outs("\n");
	}
}

static int
listed(const str *list, const char *item)
{
	size_t pos = 0;
	const char *s;

	while ((s = control_next(list, &pos)))
		if (!strcasecmp(s, item))
			return 1;
	return 0;
}

/* rcpt_ok - would smtpd take mail for domain d? (rcpthosts text,
 * ".domain" suffixes, or the compiled morercpthosts.cdb) */
static int
rcpt_ok(const str *rh, const char *d)
{
	str path = STR_INIT, low = STR_INIT;
	size_t pos = 0;
	const char *s;
	int fd, r = 0;

	while ((s = control_next(rh, &pos))) {
		size_t ls = strlen(s), ld = strlen(d);

		if (!strcasecmp(s, d))
			return 1;
		if (s[0] == '.' && ld > ls && !strcasecmp(d + ld - ls, s))
			return 1;
	}
	if (ctlpath(&path, "morercpthosts.cdb") < 0 || str_copys(&low, d) < 0)
		err_nomem();
	addr_lower(low.s, low.len);
	fd = open(path.s, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		r = cdb_seek(fd, low.s, (unsigned)low.len, 0) > 0;
		close(fd);
	}
	str_free(&path);
	str_free(&low);
	return r;
}

static int
known(const char *name)
{
	size_t i;

	for (i = 0; ctls[i].name; i++)
		if (!strcmp(ctls[i].name, name))
			return 1;
	for (i = 0; control_nums[i].name; i++)
		if (!strcmp(control_nums[i].name, name))
			return 1;
	for (i = 0; quiet[i]; i++)
		if (!strcmp(quiet[i], name))
			return 1;
	return 0;
}

/* show_numbers - the numeric control files as the programs read them
 * (control_number: the same defaults and limits) */
static void
show_numbers(void)
{
	const struct control_num *n;
	str v = STR_INIT;
	char nb[NUM_LEN];
	unsigned long u;
	unsigned long long nu;
	int r;

	for (n = control_nums; n->name; n++) {
		outs(n->name);
		outs(" (");
		outs(n->what);
		outs("): ");
		r = control_readline(&v, n->name);
		if (r < 0) {
			outs("unreadable\n");
			warn("control/", n->name, " cannot be read");
			continue;
		}
		if (r > 0)
			outsafe(v.s);
		if (r > 0 && num_whole(v.s, v.len, ULLONG_MAX, &nu) < 0) {
			outs("\n");
			warn("control/", n->name, " is not a number");
			continue;
		}
		if (control_number(n->name, &u) < 0) {
			outs("\n");
			warn("control/", n->name, " cannot be read");
			continue;
		}
		if (r > 0 && !strcmp(v.s, num_fmt(nb, u))) {
			outs("\n");
			continue;
		}
		outs(r > 0 ? " (in effect: " : "default ");
		outu(u);
		outs(r > 0 ? ")\n" : "\n");
	}
	str_free(&v);
}

static int
do_showctl(void)
{
	str v = STR_INIT, path = STR_INIT, locals = STR_INIT, rh = STR_INIT;
	str vd = STR_INIT;
	size_t i, pos;
	const char *s;
	struct stat st;
	DIR *d;
	struct dirent *de;
	int r, haslocals, hasrh;

	outs("qpost home: ");
	outsafe(home_dir());
	outs("\n\n");
	for (i = 0; ctls[i].name; i++) {
		const struct ctl *c = &ctls[i];

		outs(c->name);
		outs(" (");
		outs(c->what);
		outs("): ");
		if (c->kind < 0) {
			if (ctlpath(&path, c->name) < 0)
				err_nomem();
			if (stat(path.s, &st) < 0)
				outs(c->dflt);
			else {
				outu((unsigned long long)st.st_size);
				outs(" bytes");
			}
			outs("\n");
			continue;
		}
		r = control_readlist(&v, c->name);
		if (r < 0) {
			outs("unreadable\n");
			warn("control/", c->name, " cannot be read");
			continue;
		}
		if (r == 0) {
			outs("default ");
			outs(c->dflt);
			outs("\n");
			continue;
		}
		if (c->kind == K_LIST) {
			outs("\n");
			pos = 0;
			while ((s = control_next(&v, &pos))) {
				outs("  ");
				outsafe(s);
				outs("\n");
			}
			continue;
		}
		pos = 0;
		s = control_next(&v, &pos);
		outsafe(s ? s : "");
		outs("\n");
		if (c->kind == K_NUM && (!s || !isdigits(s)))
			warn("control/", c->name, " is not a number");
		if (s && control_next(&v, &pos))
			warn("control/", c->name,
			    " has more than one line; only the first is used");
	}
	show_numbers();
	outs("\n");

	/* mistakes a sysadmin makes */
	r = control_readline(&v, "me");
	if (r <= 0)
		warn("control/me is missing: ", 0,
		    "every program needs this host's name");
	haslocals = control_readlist(&locals, "locals");
	hasrh = control_readlist(&rh, "rcpthosts");
	if (hasrh == 0 && mtime("control/morercpthosts.cdb", &r) == 0 && !r)
		warn("control/rcpthosts is missing: ", 0,
		    "smtpd accepts mail only from RELAYCLIENT clients");
	if (haslocals > 0) {
		pos = 0;
		while ((s = control_next(&locals, &pos)))
			if (!rcpt_ok(&rh, s))
				warn("local domain ", s,
				    " is not in rcpthosts: smtpd refuses its mail");
	}
	if (control_readlist(&vd, "virtualdomains") > 0) {
		pos = 0;
		while ((s = control_next(&vd, &pos))) {
			const char *colon = strchr(s, ':');

			if (!colon) {
				warn("virtualdomains line without ':': ", s, 0);
				continue;
			}
			if (colon > s) {
				str dom = STR_INIT;

				if (str_copy(&dom, s, (size_t)(colon - s)) < 0 ||
				    str_0(&dom) < 0)
					err_nomem();
				if (haslocals > 0 && listed(&locals, dom.s))
					warn("domain ", dom.s, " is in both "
					    "locals and virtualdomains; "
					    "locals wins");
				if (dom.s[0] != '.' && !rcpt_ok(&rh, dom.s))
					warn("virtual domain ", dom.s,
					    " is not in rcpthosts: smtpd "
					    "refuses its mail");
				str_free(&dom);
			}
		}
	}
	if (control_readlist(&v, "smtproutes") > 0) {
		pos = 0;
		while ((s = control_next(&v, &pos)))
			if (!strchr(s, ':'))
				warn("smtproutes line without ':': ", s, 0);
	}
	if (control_readline(&v, "defaultdelivery") > 0 &&
	    v.s[0] != '.' && v.s[0] != '/' && v.s[0] != '|' &&
	    v.s[0] != '&')
		warn("control/defaultdelivery should start with ./, /, | or &: ",
		    v.s, 0);
	stale("control/rules", "control/rules.cdb", "qpost-tool rules");
	(void)mtime("control/morercpthosts.cdb", &r);
	if (r)
		stale("control/rcpthosts", "control/morercpthosts.cdb",
		    "qpost-tool newrcpthosts");
	stale("control/morercpthosts", "control/morercpthosts.cdb",
	    "qpost-tool newrcpthosts");
	stale("users/assign", "users/assign.cdb", "qpost-tool newu");
	stale("users/passwd", "users/passwd.cdb", "qpost-tool passwd compile");
	if (home_path(&path, "queue/lock/trigger") < 0)
		err_nomem();
	r = stat(path.s, &st);
	if ((r < 0 && errno != EACCES) || (r == 0 && !S_ISFIFO(st.st_mode)))
		warn("queue/lock/trigger is not a fifo: ", 0,
		    "new mail waits for send's next scan");
	if (home_path(&path, "queue/bad") < 0)
		err_nomem();
	d = opendir(path.s);
	if (d) {
		unsigned long long nbad = 0;

		while ((de = readdir(d)))
			if (de->d_name[0] != '.')
				nbad++;
		closedir(d);
		if (nbad) {
			str n = STR_INIT;

			if (str_putu(&n, nbad) < 0 || str_0(&n) < 0)
				err_nomem();
			warn("queue/bad holds ", n.s, " file(s) send set aside "
			    "as malformed: look at them, then remove them");
			str_free(&n);
		}
	}

	/* typos: control files no program reads */
	if (home_path(&path, "control") < 0)
		err_nomem();
	d = opendir(path.s);
	if (!d)
		warn("cannot list control/: ", path.s, 0);
	else {
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			if (!known(de->d_name) &&
			    !strstr(de->d_name, ".tmp") &&
			    !strstr(de->d_name, ".new"))
				warn("control/", de->d_name,
				    " is not a control file qpost reads "
				    "(a typo?)");
			else if (ctlpath(&v, de->d_name) == 0 &&
			    stat(v.s, &st) == 0 && !(st.st_mode & S_IROTH) &&
			    getuid() == 0)
				warn("control/", de->d_name,
				    " is not world-readable; smtpd and "
				    "send may not read it");
		}
		closedir(d);
	}
	if (!warnings)
		outs("no warnings\n");
	flush();
	str_free(&v);
	str_free(&path);
	str_free(&locals);
	str_free(&rh);
	str_free(&vd);
	return 0;
}

/* ---- compiling ---- */

static int
do_newrcpthosts(void)
{
	static const char *const src[] = { "rcpthosts", "morercpthosts", 0 };
	str list = STR_INIT, tmp = STR_INIT, cdb = STR_INIT, dir = STR_INIT;
	struct cdb_make cm;
	size_t pos, i, n = 0;
	const char *s;
	const char *step;
	int fd, r;

	if (ctlpath(&tmp, "morercpthosts.tmp") < 0 ||
	    ctlpath(&cdb, "morercpthosts.cdb") < 0 ||
	    home_path(&dir, "control") < 0)
		err_nomem();
	/* O_RDWR: CDB_PUT_INSERT reads back what was written (a domain
	 * listed twice failed with EBADF) */
	fd = open(tmp.s, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		err_diesys(111, "unable to create ", tmp.s, (const char *)0);
	if (cdb_make_start(&cm, fd) < 0)
		err_diesys(111, "unable to write ", tmp.s, (const char *)0);
	for (i = 0; src[i]; i++) {
		r = control_readlist(&list, src[i]);
		if (r < 0)
			err_diesys(111, "unable to read control/", src[i],
			    (const char *)0);
		pos = 0;
		while ((s = control_next(&list, &pos))) {
			size_t l = strlen(s);

			addr_lower(list.s + (s - list.s), l);
			r = cdb_make_put(&cm, s, (unsigned)l, "", 0,
			    CDB_PUT_INSERT);
			if (r < 0)
				err_diesys(111, "unable to write ", tmp.s,
				    (const char *)0);
			if (r == 0)
				n++;
		}
	}
	if (cdb_make_finish(&cm) < 0)
		err_diesys(111, "unable to write ", tmp.s, (const char *)0);
	if (commit_file(fd, tmp.s, cdb.s, dir.s, &step) < 0)
		err_diesys(111, "unable to ", step, " ", cdb.s,
		    (const char *)0);
	outs("control/morercpthosts.cdb: ");
	outu(n);
	outs(" domains\n");
	flush();
	str_free(&list);
	str_free(&tmp);
	str_free(&cdb);
	str_free(&dir);
	return 0;
}

/*
 * rules_check - tcprules (ucspi-tcp-ipv6 1.x) loops for ever on a line
 * that is neither empty, nor a comment, nor has ":allow" or ":deny" (try
 * " # x" or "10.1.:bogus"), so such a line is refused here first.
 */
static void
rules_check(void)
{
	str f = STR_INIT;
	size_t i = 0, lineno = 0;
	int r = control_readfile(&f, "rules");

	if (r < 0)
		err_diesys(111, "unable to read control/rules", (const char *)0);
	if (r == 0)
		err_die(100, "control/rules does not exist", (const char *)0);
	while (i < f.len) {
		const char *s = f.s + i;
		const char *lf = memchr(s, '\n', f.len - i);
		size_t n = lf ? (size_t)(lf - s) : f.len - i;
		str line = STR_INIT;

		i += n + 1;
		lineno++;
		if (!n || s[0] == '#')
			continue;
		if (str_copy(&line, s, n) < 0 || str_0(&line) < 0)
			err_nomem();
		if (!memmem(s, n, ":allow", 6) && !memmem(s, n, ":deny", 5)) {
			str num = STR_INIT;

			if (str_putu(&num, lineno) < 0 || str_0(&num) < 0)
				err_nomem();
			err_die(100, "control/rules line ", num.s,
			    " has no :allow or :deny: ", line.s,
			    (const char *)0);
		}
		str_free(&line);
	}
	str_free(&f);
}

static int
do_rules(void)
{
	int fd;

	rules_check();
	if (home_chdir() < 0)
		err_diesys(111, "unable to chdir to ", home_dir(),
		    (const char *)0);
	fd = open("control/rules", O_RDONLY);
	if (fd < 0)
		err_diesys(111, "unable to open control/rules",
		    (const char *)0);
	/* One compile at a time: the smtpd, smtps and submission services
	 * start together and each compiles a changed file, and tcprules's
	 * temporary name is fixed (one rename found the other's gone).  The
	 * lock is the open file's, so it stays with tcprules through the
	 * exec, to its exit. */
	if (flock(fd, LOCK_EX) < 0)
		err_diesys(111, "unable to lock control/rules",
		    (const char *)0);
	if (dup2(fd, 0) < 0)
		err_diesys(111, "unable to dup", (const char *)0);
	if (fd != 0)
		close(fd);
	execlp("tcprules", "tcprules", "control/rules.cdb",
	    "control/rules.tmp", (char *)0);
	err_diesys(errno == ENOENT ? 127 : 126, "unable to run tcprules",
	    (const char *)0);
}

static int
do_newu(char **argv)
{
	str path = STR_INIT;

	if (home_path(&path, "bin/newu") < 0)
		err_nomem();
	argv[0] = path.s;
	execv(path.s, argv);
	err_diesys(errno == ENOENT ? 127 : 126, "unable to run ", path.s,
	    (const char *)0);
}

/* ---- passwd: users/passwd and users/passwd.cdb (passwd.h) ---- */

static str pwold, pwnew, pwpath, pwtmp, pwcdb, pwcdbtmp, pwdir, pwlock;
static char pass1[PASSWD_PASS_MAX + 2], pass2[PASSWD_PASS_MAX + 2];
static struct crypt_data pwcd;
static struct termios tty_saved;	/* echo is off while tty_off */
static volatile sig_atomic_t tty_off;

/* tty_restore - echo back on, on every way out of a prompt */
static void
tty_restore(void)
{
	if (tty_off) {
		tcsetattr(0, TCSAFLUSH, &tty_saved);
		tty_off = 0;
	}
}

static void
tty_signal(int sig)
{
	tty_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void
pw_wipe(void)
{
	tty_restore();
	explicit_bzero(pass1, sizeof pass1);
	explicit_bzero(pass2, sizeof pass2);
	explicit_bzero(&pwcd, sizeof pwcd);
}

static noreturn void
pw_die(const char *a, const char *b, const char *c)
{
	pw_wipe();
	if (pwcdbtmp.len)
		unlink(pwcdbtmp.s);
	err_die(100, a, b, c, (const char *)0);
}

static noreturn void
pw_dieline(size_t line, const char *why)
{
	str n = STR_INIT;

	if (str_putu(&n, line) < 0 || str_0(&n) < 0)
		err_nomem();
	pw_die("users/passwd line ", n.s, why);
}

/* pw_load - users/passwd into pwold; empty when it does not exist */
static void
pw_load(void)
{
	if (control_readpath(&pwold, pwpath.s, PASSWD_FILE_MAX) < 0)
		err_diesys(111, "unable to read ", pwpath.s, (const char *)0);
}

/* pw_find - the entry of pwold whose key is that of name; 1 found */
static int
pw_find(const char *name, passwd_entry *e)
{
	str key = STR_INIT, k = STR_INIT;
	size_t pos = 0, lineno = 0;
	int x, found = 0;

	if (passwd_key(&key, name, strlen(name)) < 0)
		err_nomem();
	while (!found &&
	    (x = passwd_next(pwold.s, pwold.len, &pos, &lineno, e))) {
		if (x < 0)
			pw_dieline(e->line, ": not name:hash with a valid name");
		if (passwd_key(&k, e->name, e->namelen) < 0)
			err_nomem();
		found = k.len == key.len && !memcmp(k.s, key.s, k.len);
	}
	str_free(&key);
	str_free(&k);
	return found;
}

/* pw_create - a temporary file of mode 0640 with the owner and group
 * of dst when it exists and we are root (a root install gives users/
 * passwd.cdb the group of the account smtpd runs as) */
static int
pw_create(const char *tmp, const char *dst)
{
	struct stat st;
	/* O_RDWR: cdb_make_put reads back what it wrote to find twins */
	int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);

	if (fd < 0)
		err_diesys(111, "unable to create ", tmp, (const char *)0);
	if (fchmod(fd, 0640) < 0)
		err_diesys(111, "unable to chmod ", tmp, (const char *)0);
	if (geteuid() == 0 && stat(dst, &st) == 0 &&
	    fchown(fd, st.st_uid, st.st_gid) < 0)
		err_diesys(111, "unable to chown ", tmp, (const char *)0);
	return fd;
}

/* pw_save - pwnew, checked and compiled, becomes users/passwd and
 * users/passwd.cdb; the cdb is built first, so a bad file changes
 * nothing; the number of entries */
static unsigned long
pw_save(int rewrite)
{
	struct cdb_make cm;
	passwd_entry e;
	str key = STR_INIT;
	size_t pos = 0, lineno = 0;
	unsigned long n = 0;
	const char *step;
	int cfd, fd = -1, x;

	cfd = pw_create(pwcdbtmp.s, pwcdb.s);
	if (cdb_make_start(&cm, cfd) < 0)
		err_diesys(111, "unable to write ", pwcdbtmp.s, (const char *)0);
	while ((x = passwd_next(pwnew.s, pwnew.len, &pos, &lineno, &e))) {
		if (x < 0)
			pw_dieline(e.line, ": not name:hash with a valid name");
		if (passwd_key(&key, e.name, e.namelen) < 0)
			err_nomem();
		x = cdb_make_put(&cm, key.s, (unsigned)key.len, e.hash,
		    (unsigned)e.hashlen, CDB_PUT_INSERT);
		if (x < 0)
			err_diesys(111, "unable to write ", pwcdbtmp.s,
			    (const char *)0);
		if (x > 0)
			pw_dieline(e.line, ": the name is there twice");
		n++;
	}
	if (cdb_make_finish(&cm) < 0)
		err_diesys(111, "unable to write ", pwcdbtmp.s, (const char *)0);
	if (rewrite) {
		fd = pw_create(pwtmp.s, pwpath.s);
		if (fd_writeall(fd, pwnew.s, pwnew.len, -1) < 0)
			err_diesys(111, "unable to write ", pwtmp.s,
			    (const char *)0);
		/* users/ is synced once, by the cdb's commit below */
		if (commit_file(fd, pwtmp.s, pwpath.s, 0, &step) < 0)
			err_diesys(111, "unable to ", step, " ", pwpath.s,
			    (const char *)0);
	}
	if (commit_file(cfd, pwcdbtmp.s, pwcdb.s, pwdir.s, &step) < 0)
		err_diesys(111, "unable to ", step, " ", pwcdb.s,
		    " (run qpost-tool passwd compile)", (const char *)0);
	str_free(&key);
	return n;
}

/* pw_readline - one password line from fd 0 into p, CR LF removed;
 * -1 at EOF before any byte */
static int
pw_readline(char *p)
{
	size_t n = 0;
	ssize_t r;
	char c;

	for (;;) {
		r = read(0, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			pw_wipe();
			err_diesys(111, "unable to read the password",
			    (const char *)0);
		}
		if (r == 0) {
			if (!n)
				return -1;
			break;
		}
		if (c == '\n')
			break;
		if (n > PASSWD_PASS_MAX)
			continue;	/* refused below */
		p[n++] = c;
	}
	if (n && p[n - 1] == '\r')
		n--;
	if (n > PASSWD_PASS_MAX)
		pw_die("the password is too long", "", "");
	p[n] = 0;
	if (strlen(p) != n)
		pw_die("the password has a NUL byte", "", "");
	if (!n)
		pw_die("the password is empty", "", "");
	return 0;
}

/* pw_prompt - prompt on fd 2 and read a line from the tty without echo */
static void
pw_prompt(const char *prompt, char *p)
{
	struct termios noecho;
	int r;

	if (tcgetattr(0, &tty_saved) < 0)
		err_diesys(111, "unable to read the terminal settings",
		    (const char *)0);
	signal(SIGINT, tty_signal);
	signal(SIGTERM, tty_signal);
	signal(SIGHUP, tty_signal);
	signal(SIGTSTP, SIG_IGN);
	noecho = tty_saved;
	noecho.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	noecho.c_lflag |= ICANON;
	/* echo off before the prompt: TCSAFLUSH would drop an answer
	 * typed (or pasted) as soon as the prompt shows */
	tty_off = 1;
	if (tcsetattr(0, TCSAFLUSH, &noecho) < 0) {
		tty_off = 0;
		err_diesys(111, "unable to turn off echo", (const char *)0);
	}
	(void)!write(2, prompt, strlen(prompt));
	r = pw_readline(p);	/* its exits restore echo (pw_wipe) */
	tty_restore();
	(void)!write(2, "\n", 1);
	if (r < 0)
		pw_die("no password given", "", "");
}

/* pw_hash - read the new password and put "name:hash\n" in line */
static void
pw_hash(const char *name, str *line)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	const char *h;

	if (isatty(0)) {
		pw_prompt("Password: ", pass1);
		pw_prompt("Again: ", pass2);
		if (strcmp(pass1, pass2))
			pw_die("the passwords differ", "", "");
	} else if (pw_readline(pass1) < 0)
		pw_die("no password on stdin", "", "");
	if (!crypt_gensalt_rn("$y$", 0, 0, 0, salt, sizeof salt)) {
		pw_wipe();
		err_diesys(111, "unable to make a salt", (const char *)0);
	}
	h = crypt_rn(pass1, salt, &pwcd, sizeof pwcd);
	if (!h || h[0] == '*') {
		pw_wipe();
		err_diesys(111, "unable to hash the password", (const char *)0);
	}
	if (str_copys(line, name) < 0 || str_putc(line, ':') < 0 ||
	    str_puts(line, h) < 0 || str_putc(line, '\n') < 0)
		err_nomem();
	pw_wipe();
}

static int
do_passwd(int argc, char **argv)
{
	str line = STR_INIT;
	passwd_entry e;
	const char *cmd = argc ? argv[0] : "", *name = argc > 1 ? argv[1] : 0;
	size_t pos = 0, lineno = 0;
	unsigned long n;
	int fd, x, found;

	if (!strcmp(cmd, "list") || !strcmp(cmd, "compile")) {
		if (argc != 1)
			usage();
	} else if ((strcmp(cmd, "add") && strcmp(cmd, "change") &&
	    strcmp(cmd, "remove")) || argc != 2)
		usage();
	if (name && passwd_name(name, strlen(name)) < 0)
		pw_die("bad name (1 to 255 bytes, no ':', white space or "
		    "control bytes): ", name, "");
	checkpass_init();
	umask(027);
	if (home_path(&pwpath, "users/passwd") < 0 ||
	    home_path(&pwtmp, "users/passwd.tmp") < 0 ||
	    home_path(&pwcdb, "users/passwd.cdb") < 0 ||
	    home_path(&pwlock, "users/passwd.lock") < 0 ||
	    home_path(&pwdir, "users") < 0)
		err_nomem();
	if (!strcmp(cmd, "list")) {
		pw_load();
		while ((x = passwd_next(pwold.s, pwold.len, &pos, &lineno,
		    &e))) {
			if (x < 0)
				pw_dieline(e.line,
				    ": not name:hash with a valid name");
			outn(e.name, e.namelen);
			outs("\n");
		}
		flush();
		return 0;
	}
	/* one writer at a time: the lock is held until exit */
	fd = open(pwlock.s, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		err_diesys(111, "unable to open ", pwlock.s, (const char *)0);
	if (flock(fd, LOCK_EX) < 0)
		err_diesys(111, "unable to lock ", pwlock.s, (const char *)0);
	if (home_path(&pwcdbtmp, "users/passwd.cdb.tmp") < 0)
		err_nomem();
	pw_load();
	pwnew.len = 0;
	if (!strcmp(cmd, "compile")) {
		if (str_copy(&pwnew, pwold.s, pwold.len) < 0)
			err_nomem();
		n = pw_save(0);
	} else {
		found = pw_find(name, &e);
		if (!strcmp(cmd, "add") && found)
			pw_die("user ", name, " exists already");
		if (strcmp(cmd, "add") && !found)
			pw_die("no such user: ", name, "");
		if (strcmp(cmd, "remove"))
			pw_hash(name, &line);
		if (found) {	/* change or remove the line */
			if (str_copy(&pwnew, pwold.s, e.off) < 0 ||
			    str_put(&pwnew, line.s, line.len) < 0 ||
			    (e.off + e.len < pwold.len &&
			    str_put(&pwnew, pwold.s + e.off + e.len + 1,
			    pwold.len - e.off - e.len - 1) < 0))
				err_nomem();
		} else if (str_copy(&pwnew, pwold.s, pwold.len) < 0 ||
		    (pwnew.len && pwnew.s[pwnew.len - 1] != '\n' &&
		    str_putc(&pwnew, '\n') < 0) ||
		    str_put(&pwnew, line.s, line.len) < 0)
			err_nomem();
		n = pw_save(1);
		outs(!strcmp(cmd, "add") ? "added " :
		    !strcmp(cmd, "change") ? "changed " : "removed ");
		outs(name);
		outs("; ");
	}
	outs("users/passwd.cdb: ");
	outu(n);
	outs(n == 1 ? " user\n" : " users\n");
	flush();
	str_free(&line);	/* "name:hash": nothing secret */
	return 0;
}

/* ---- mtasts ---- */

static const char *const mtasts_sources[] = {
	"none", "fetched", "cache",
	"cache (kept: the record is gone or the fetch failed)"
};

/* do_mtasts - mtasts_get's answer for DOMAIN, as remote would have it,
 * and whether each MX given is one the policy lists */
static int
do_mtasts(int argc, char **argv)
{
	struct mtasts_policy *p;
	const char *why;
	size_t i;
	int mode, r = 0;

	if (argc < 1)
		usage();
	p = malloc(sizeof *p);
	if (!p)
		err_nomem();
	if (dns_init(&why) < 0)
		err_die(111, "unable to set up DNS: ", why, (const char *)0);
	mode = mtasts_get(argv[0], p, &why);
	outs("domain: ");
	outsafe(argv[0]);
	outs("\npolicy: ");
	outs(mtasts_mode_name(mode));
	outs("\nsource: ");
	outs(mtasts_sources[p->source]);
	outs("\nwhy: ");
	outsafe(why);
	outs("\n");
	if (p->source != MTASTS_SRC_NONE) {
		unsigned long long t = (unsigned long long)p->fetched;
		const struct { const char *k; unsigned long long v; } f[] = {
			{ "fetched: ", t }, { "max_age: ", p->max_age },
			{ "expires: ", t + p->max_age }, { 0, 0 }
		};

		outs("id: ");
		outs(p->id);
		outs("\n");
		for (i = 0; f[i].k; i++) {
			outs(f[i].k);
			outu(f[i].v);
			outs("\n");
		}
		for (i = 0; i < p->nmx; i++) {
			outs("mx: ");
			outs(p->mx[i]);
			outs("\n");
		}
	}
	for (i = 1; i < (size_t)argc; i++) {
		int ok = mtasts_mx_match(p, argv[i]);

		outs("check ");
		outsafe(argv[i]);
		if (mode == MTASTS_NONE)
			outs(": allowed (no policy to enforce)\n");
		else if (ok)
			outs(": allowed (listed)\n");
		else {
			outs(mode == MTASTS_ENFORCE ? ": refused (not listed: "
			    "remote would not deliver there)\n" :
			    ": not listed (testing: remote would deliver and "
			    "log it)\n");
			r = 100;
		}
	}
	flush();
	if (!strcmp(why, MTASTS_WHY_BADNAME))
		r = 100;
	free(p);
	return r;
}

/* ---- DKIM (dkim.h, docs/dkim.md) ---- */

/* readin - all of fd 0 into x */
static void
readin(str *x)
{
	x->len = 0;
	for (;;) {
		ssize_t r;

		if (str_ready(x, 65536) < 0)
			err_nomem();
		r = read(0, x->s + x->len, x->a - x->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			err_diesys(111, "unable to read the message",
			    (const char *)0);
		if (r == 0)
			break;
		x->len += (size_t)r;
	}
}

/* do_dkimverify - check every DKIM-Signature of the message on fd 0, one
 * line per signature: "RESULT d=D s=S a=A b=B [(why)]"; exit 0 when
 * there is one and every one passed, 100 otherwise, 111 on a failure
 * of our own */
static int
do_dkimverify(void)
{
	struct dkim_result res[DKIM_SIG_MAX];
	str msg = STR_INIT;
	const char *why;
	size_t n, k;
	int ok;

	readin(&msg);
	if (dns_init(&why) < 0)
		err_die(111, "unable to set up DNS: ", why, (const char *)0);
	if (dkim_verify(msg.s ? msg.s : "", msg.len, res, DKIM_SIG_MAX,
	    &n) < 0)
		err_nomem();
	if (!n)
		outs("none\n");
	ok = n > 0;
	for (k = 0; k < n; k++) {
		ok &= res[k].status == DKIM_PASS;
		outs(dkim_status_name(res[k].status));
		outs(" d=");
		outs(res[k].d);
		outs(" s=");
		outs(res[k].s);
		outs(" a=");
		outs(res[k].a);
		outs(" b=");
		outs(res[k].b);
		if (*res[k].why) {
			outs(" (");
			outs(res[k].why);
			outs(")");
		}
		outs("\n");
	}
	flush();
	str_free(&msg);
	return ok ? 0 : 100;
}

/* do_dkimsign - the message on fd 0 with a DKIM-Signature by the key in
 * the PEM file on fd 1 */
static int
do_dkimsign(const char *domain, const char *selector, const char *path)
{
	str msg = STR_INIT, key = STR_INIT, sig = STR_INIT;
	struct dkim_signer *g;
	const char *why;
	int r;

	r = control_readpath(&key, path, 1024 * 1024);
	if (r <= 0)
		err_diesys(111, "unable to read ", path, (const char *)0);
	g = dkim_signer_new(domain, selector, key.s, key.len, &why);
	if (!g)
		err_die(100, "unable to use the key ", path, ": ", why,
		    (const char *)0);
	readin(&msg);
	r = dkim_sign(g, msg.s ? msg.s : "", msg.len, 0, (long long)time(0),
	    0, &sig);
	if (r == -2)
		err_die(100, "the message has no From field", (const char *)0);
	if (r < 0)
		err_die(111, "unable to sign", (const char *)0);
	outn(sig.s, sig.len);
	outn(msg.s ? msg.s : "", msg.len);
	flush();
	dkim_signer_free(g);
	return 0;
}

/* keyfile - write the PEM pem (n bytes) as the new file path, never
 * over an existing one: owner qpostr mode 0400 when run as root where
 * that account exists (remote signs as qpostr), else the caller's with
 * mode 0600 (a single-user home) */
static void
keyfile(const char *path, const char *pem, size_t n)
{
	str tmp = STR_INIT;
	const struct passwd *pw = geteuid() == 0 ? getpwnam("qpostr") : 0;
	mode_t mode = pw ? 0400 : 0600;
	int fd;

	if (str_copys(&tmp, path) < 0 || str_puts(&tmp, ".tmp") < 0 ||
	    str_0(&tmp) < 0)
		err_nomem();
	unlink(tmp.s);
	fd = open(tmp.s, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		err_diesys(111, "unable to create ", tmp.s, (const char *)0);
	if (fd_writeall(fd, pem, n, -1) < 0 || fchmod(fd, mode) < 0 ||
	    (pw && fchown(fd, pw->pw_uid, pw->pw_gid) < 0) || fsync(fd) < 0 ||
	    close(fd) < 0) {
		unlink(tmp.s);
		err_diesys(111, "unable to write ", tmp.s, (const char *)0);
	}
	/* link, not rename: an existing key is never replaced */
	if (link(tmp.s, path) < 0) {
		int e = errno;

		unlink(tmp.s);
		errno = e;
		err_diesys(e == EEXIST ? 100 : 111, "unable to create ", path,
		    (const char *)0);
	}
	unlink(tmp.s);
	str_free(&tmp);
}

/* do_dkimkey - a new key pair for DOMAIN's SELECTOR: the private key
 * into control/dkim/DOMAIN/SELECTOR.rsa (or .ed25519), the TXT record
 * to publish on fd 1 */
static int
do_dkimkey(const char *domain, const char *selector, const char *type)
{
	int ed = type && !strcmp(type, "ed25519");
	str path = STR_INIT, rec = STR_INIT, pem = STR_INIT;
	EVP_PKEY_CTX *kc;
	EVP_PKEY *pk = 0;
	struct dkim_signer *g;
	const char *why;
	BIO *bio;
	char *p;
	long pl;
	size_t k;

	if (type && !ed && strcmp(type, "rsa"))
		usage();
	if (!addr_domain_ok(domain, strlen(domain)) || *domain == '[' ||
	    strlen(domain) >= DKIM_NAME_MAX)
		err_die(100, "not a domain name: ", domain, (const char *)0);
	if (!addr_domain_ok(selector, strlen(selector)) ||
	    strlen(selector) >= DKIM_NAME_MAX)
		err_die(100, "not a selector (letters, digits, '-', dots): ",
		    selector, (const char *)0);
	/* RSA 2048 (RFC 8301), or Ed25519 (RFC 8463) */
	kc = EVP_PKEY_CTX_new_id(ed ? EVP_PKEY_ED25519 : EVP_PKEY_RSA, 0);
	if (!kc || EVP_PKEY_keygen_init(kc) != 1 ||
	    (!ed && EVP_PKEY_CTX_set_rsa_keygen_bits(kc, 2048) != 1) ||
	    EVP_PKEY_keygen(kc, &pk) != 1)
		err_die(111, "unable to generate the key", (const char *)0);
	EVP_PKEY_CTX_free(kc);
	bio = BIO_new(BIO_s_secmem());	/* cleansed when freed */
	if (!bio || PEM_write_bio_PrivateKey(bio, pk, 0, 0, 0, 0, 0) != 1 ||
	    (pl = BIO_get_mem_data(bio, &p)) <= 0 ||
	    str_put(&pem, p, (size_t)pl) < 0)
		err_die(111, "unable to encode the key", (const char *)0);
	BIO_free(bio);
	EVP_PKEY_free(pk);
	g = dkim_signer_new(domain, selector, pem.s, pem.len, &why);
	if (!g || dkim_keyrecord(g, &rec) < 0)
		err_die(111, "unable to use the new key", (const char *)0);
	dkim_signer_free(g);
	if (home_path(&path, "control/dkim") < 0)
		err_nomem();
	if (mkdir(path.s, 0755) < 0 && errno != EEXIST)
		err_diesys(111, "unable to create ", path.s, (const char *)0);
	if (str_putc(&path, '/') < 0 || str_puts(&path, domain) < 0 ||
	    str_0(&path) < 0)
		err_nomem();
	if (mkdir(path.s, 0755) < 0 && errno != EEXIST)
		err_diesys(111, "unable to create ", path.s, (const char *)0);
	if (str_putc(&path, '/') < 0 || str_puts(&path, selector) < 0 ||
	    str_puts(&path, ed ? ".ed25519" : ".rsa") < 0 || str_0(&path) < 0)
		err_nomem();
	keyfile(path.s, pem.s, pem.len);
	OPENSSL_cleanse(pem.s, pem.len);
	/* the zone file line: strings of at most 255 bytes (RFC 1035) */
	outs(selector);
	outs("._domainkey.");
	outs(domain);
	outs(". IN TXT");
	for (k = 0; k < rec.len; k += 255) {
		outs(" \"");
		outn(rec.s + k, rec.len - k < 255 ? rec.len - k : 255);
		outs("\"");
	}
	outs("\n; key: ");
	outs(path.s);
	outs("\n; once the record is published, sign with it:\n;   echo ");
	outs(selector);
	outs(" >> ");
	path.len = strlen(path.s) - strlen(selector) -
	    strlen(ed ? ".ed25519" : ".rsa");
	if (str_puts(&path, "selectors") < 0 || str_0(&path) < 0)
		err_nomem();
	outs(path.s);
	outs("\n");
	flush();
	str_free(&path);
	str_free(&rec);
	str_free(&pem);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *cmd;

	err_prog = "qpost-tool";
	err_help(argc, argv, USAGE);
	buf_init(&out, 1, outspace, sizeof outspace, -1);
	if (argc < 2)
		usage();
	cmd = argv[1];
	if (!strcmp(cmd, "newu"))
		return do_newu(argv + 1);
	if (!strcmp(cmd, "passwd"))
		return do_passwd(argc - 2, argv + 2);
	if (!strcmp(cmd, "mtasts"))
		return do_mtasts(argc - 2, argv + 2);
	if (!strcmp(cmd, "queue") || !strcmp(cmd, "show") ||
	    !strcmp(cmd, "delete") || !strcmp(cmd, "hold") ||
	    !strcmp(cmd, "release") || !strcmp(cmd, "retry") ||
	    !strcmp(cmd, "requeue"))
		return do_ctl(argc - 1, argv + 1);
	if (!strcmp(cmd, "dkimkey") && (argc == 4 || argc == 5))
		return do_dkimkey(argv[2], argv[3], argc == 5 ? argv[4] : 0);
	if (!strcmp(cmd, "dkimsign") && argc == 5)
		return do_dkimsign(argv[2], argv[3], argv[4]);
	if (argc != 2)
		usage();
	if (!strcmp(cmd, "dkimverify"))
		return do_dkimverify();
	if (!strcmp(cmd, "qread"))
		return do_qread();
	if (!strcmp(cmd, "qstat"))
		return do_qstat();
	if (!strcmp(cmd, "showctl"))
		return do_showctl();
	if (!strcmp(cmd, "newrcpthosts"))
		return do_newrcpthosts();
	if (!strcmp(cmd, "rules"))
		return do_rules();
	usage();
}
