/* inject - queue a message from a local user or program (qmail-inject).
 *
 * Purpose: read an RFC 5322 message on fd 0, complete its header (From,
 * Date, Message-ID; bare addresses qualified; Bcc and Return-Path
 * removed), work out the envelope and hand both to the queue program.
 *
 * Interface:
 *   inject [-t] [-a] [-n] [-f sender] [-F name] [--] [recipient ...]
 *   -t     take recipients from the header too: To, Cc, Bcc, or, when any
 *          Resent- field is present, Resent-To, Resent-Cc, Resent-Bcc.
 *          With no recipient arguments this is the default (as
 *          qmail-inject); with both, both are used (as sendmail -t).
 *   -a     recipients from the arguments only, never from the header.
 *   -n     print the completed message on fd 1 instead of queueing it.
 *   -f S   envelope sender S ("" for none); default user@host.
 *   -F N   the full name put in a From: field inject writes.
 *   fd 0   the message; fd 1 only with -n; fd 2 one line on failure.
 *   env    QPOST_USER, else the login name of the real uid (getpwuid),
 *          else USER, LOGNAME: the user.  QPOST_HOST, else MAILNAME, else
 *          control/defaulthost, control/defaultdomain, control/me: the
 *          host.  QPOST_NAME, else NAME: the full name (sendmail -F sets
 *          both).  QPOST_QUEUE, QPOST_HOME: see qq.h, home.h.
 *   control/  defaulthost, defaultdomain, me (read, all optional).
 *
 * Qualifying: in From, Sender, Reply-To, To, Cc, Bcc (and their Resent-
 * forms) and in recipient arguments, an address without '@' gets "@host";
 * a domain without a dot gets ".defaultdomain" when control/defaultdomain
 * exists.  The rest of each field, folding and comments included, is kept
 * byte for byte.
 *
 * Line ends: the stored message has LF line ends only, as everything in
 * the queue does (docs/design.md).  CRLF in the input becomes LF, and so
 * does a CR not followed by LF (see in_fill); a message whose last line
 * has no newline gets one (inject(1)).
 *
 * Exit codes (qmail-inject's): 0 queued (or printed, -n); 100 a permanent
 * failure: usage, a header over HEADER_MAX or with an unparseable
 * recipient field, an address over ADDR_MAX, no recipients, a control
 * character (envelope_ctl) in the sender, a recipient or a value inject
 * writes into the header (user, host, full name; check_ctl), or the queue
 * program refused the message permanently (11-40); 111 a temporary
 * failure: out of memory, read error, unreadable control file, the queue
 * program could not be run or failed temporarily.
 *
 * Privilege: none; runs as the invoking user.  Never install set-uid.
 */
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "control.h"
#include "date.h"
#include "envelope.h"
#include "err.h"
#include "hdr.h"
#include "qq.h"
#include "str.h"

#define HEADER_MAX (1024 * 1024)	/* bytes of header we hold */
#define USAGE "usage: inject [-t] [-a] [-n] [-f sender] [-F name] " \
	"[--] [recipient ...]"

/* field kinds */
#define F_OTHER 0
#define F_ADDR 1		/* holds addresses to qualify */
#define F_RCPT 2		/* and recipients (To, Cc) */
#define F_BCC 3			/* recipients, then removed */
#define F_DROP 4		/* removed (Return-Path) */

struct field {
	size_t off, len;	/* in header */
};

static str header = STR_INIT;	/* the fields, as read */
static str fields = STR_INIT;	/* struct field array */
static size_t nfields;
static str body1 = STR_INIT;	/* the first body line, if it had no
				 * blank line before it */
static str rcpts = STR_INIT;	/* recipients, each NUL-terminated */
static size_t nrcpts;
static str host = STR_INIT, defdomain = STR_INIT;
static str line = STR_INIT, tmp = STR_INIT;
static int flagresent;
static char inspace[65536];	/* the input, line ends normalised */
static size_t inpos, inlen;	/* next unread byte, bytes held */
static int incr;		/* the last byte read was a CR */
static qq q;
static int toqueue;
static buf out;
static char outspace[65536];

static noreturn void
die_usage(const char *why)
{
	err_die(100, why, "; " USAGE, (const char *)0);
}

static noreturn void
die_read(void)
{
	err_diesys(111, "unable to read message", (const char *)0);
}

/* in_fill - more input when none is held: the bytes held (0 at end of
 * input, -1 on error) with every line end made LF: CRLF becomes LF and
 * so does a bare CR (PHP's mail() writes CRLF; a CR left in the queue
 * would reach an SMTP peer as a bare CR, RFC 5321 2.3.8).  A bare CR
 * becomes a line end rather than nothing, so that the text on both
 * sides of it stays apart, as it looked on an old Mac or a terminal. */
static ssize_t
in_fill(void)
{
	while (inpos == inlen) {
		ssize_t r = fd_read(0, inspace, sizeof inspace, -1);
		size_t i, j;

		if (r <= 0)
			return r;
		for (i = j = 0; i < (size_t)r; i++) {
			char c = inspace[i];

			if (c == '\n' && incr) {
				incr = 0;
				continue;	/* the LF of a CRLF */
			}
			incr = c == '\r';
			inspace[j++] = incr ? '\n' : c;
		}
		inpos = 0;
		inlen = j;
	}
	return (ssize_t)(inlen - inpos);
}

/* in_getline - the next input line, LF included, into l: BUF_LINE,
 * BUF_EOF (l holds a last line without LF, if any), BUF_ERR, or
 * BUF_LONG past max bytes */
static int
in_getline(str *l, size_t max)
{
	l->len = 0;
	for (;;) {
		ssize_t r = in_fill();
		const char *s = inspace + inpos, *lf;
		size_t k;

		if (r < 0)
			return BUF_ERR;
		if (r == 0)
			return BUF_EOF;
		lf = memchr(s, '\n', (size_t)r);
		k = lf ? (size_t)(lf - s) + 1 : (size_t)r;
		if (k > max - l->len)
			return BUF_LONG;
		if (str_put(l, s, k) < 0)
			err_nomem();
		inpos += k;
		if (lf)
			return BUF_LINE;
	}
}

/* emit - message bytes to the queue or, with -n, to fd 1 */
static void
emit(const char *s, size_t n)
{
	if (toqueue)
		qq_put(&q, s, n);
	else if (buf_put(&out, s, n) < 0)
		err_diesys(111, "unable to write output", (const char *)0);
}

static void
emits(const char *s)
{
	emit(s, strlen(s));
}

static void
field_add(size_t off, size_t len)
{
	struct field f;

	f.off = off;
	f.len = len;
	if (str_put(&fields, (const char *)&f, sizeof f) < 0)
		err_nomem();
	nfields++;
}

static struct field
field_get(size_t i)
{
	struct field f;

	memcpy(&f, fields.s + i * sizeof f, sizeof f);
	return f;
}

/* field_grow - the last field takes n more bytes (a continuation line) */
static void
field_grow(size_t n)
{
	struct field f = field_get(nfields - 1);

	f.len += n;
	memcpy(fields.s + (nfields - 1) * sizeof f, &f, sizeof f);
}

/* readheader - read header fields up to the blank line (consumed) or the
 * first line that is not a field (kept in body1) */
static void
readheader(void)
{
	int infield = 0;

	for (;;) {
		int r = in_getline(&line, HEADER_MAX);

		if (r == BUF_ERR)
			die_read();
		if (r == BUF_LONG)
			err_die(100, "header over 1 MB", (const char *)0);
		if (line.len == 0)
			return;		/* end of input */
		if (line.len == 1 && line.s[0] == '\n')
			return;		/* the blank line */
		if (infield && (line.s[0] == ' ' || line.s[0] == '\t'))
			field_grow(line.len);
		else if (hdr_isfield(line.s, line.len)) {
			field_add(header.len, line.len);
			infield = 1;
		} else {
			if (str_copy(&body1, line.s, line.len) < 0)
				err_nomem();
			return;
		}
		if (header.len + line.len > HEADER_MAX)
			err_die(100, "header over 1 MB", (const char *)0);
		if (str_put(&header, line.s, line.len) < 0)
			err_nomem();
		if (r == BUF_EOF) {
			/* the last line had no newline: give it one */
			if (str_putc(&header, '\n') < 0)
				err_nomem();
			field_grow(1);
			return;
		}
	}
}

/* kind - what a field is to inject */
static int
kind(const char *f, size_t n, size_t *vstart)
{
	static const struct {
		const char *name;
		int kind;
	} tab[] = {
		{ "resent-to", F_RCPT }, { "resent-cc", F_RCPT },
		{ "resent-bcc", F_BCC }, { "resent-from", F_ADDR },
		{ "resent-sender", F_ADDR }, { "resent-reply-to", F_ADDR },
		{ "to", F_RCPT }, { "cc", F_RCPT }, { "bcc", F_BCC },
		{ "from", F_ADDR }, { "sender", F_ADDR },
		{ "reply-to", F_ADDR }, { "return-path", F_DROP },
	};
	size_t i, v;

	for (i = 0; i < sizeof tab / sizeof tab[0]; i++)
		if ((v = hdr_name(f, n, tab[i].name)) != 0) {
			*vstart = v;
			return tab[i].kind;
		}
	*vstart = 0;
	return F_OTHER;
}

/* has - is there a field called name? */
static int
has(const char *name)
{
	size_t i;

	for (i = 0; i < nfields; i++) {
		struct field f = field_get(i);

		if (hdr_name(header.s + f.off, f.len, name))
			return 1;
	}
	return 0;
}

/* qualify - addr (n bytes) completed with host or defaultdomain, in tmp */
static void
qualify(const char *a, size_t n, int hasat)
{
	const char *d;

	if (memchr(a, 0, n))
		err_die(100, "NUL byte in an address", (const char *)0);
	if (str_copy(&tmp, a, n) < 0)
		err_nomem();
	if (!hasat) {
		if (str_putc(&tmp, '@') < 0 || str_put(&tmp, host.s,
		    host.len) < 0)
			err_nomem();
	} else if (defdomain.len && (d = memrchr(a, '@', n)) != 0 &&
	    d + 1 < a + n && d[1] != '[' && !memchr(d, '.', (size_t)(a + n - d)))
		if (str_putc(&tmp, '.') < 0 ||
		    str_put(&tmp, defdomain.s, defdomain.len) < 0)
			err_nomem();
	if (tmp.len > ADDR_MAX)
		err_die(100, "address too long: ", a, (const char *)0);
	if (str_0(&tmp) < 0)
		err_nomem();
}

static void
rcpt_add(const char *a)
{
	if (++nrcpts > ENVELOPE_RCPT_MAX)
		err_die(100, "too many recipients", (const char *)0);
	if (str_puts(&rcpts, a) < 0 || str_putc(&rcpts, 0) < 0)
		err_nomem();
}

/* check_ctl - refuse a control character in s (n bytes), which came
 * from what and goes into the envelope or a header field inject writes:
 * a CR or LF there injects a header field or an SMTP command */
static void
check_ctl(const char *what, const char *s, size_t n)
{
	if (envelope_ctl(s, n))
		err_die(100, "control character in ", what, (const char *)0);
}

/* on_rcpt - a recipient from a header field or an argument */
static int
on_rcpt(void *ctx, const struct hdr_addr *a)
{
	(void)ctx;
	check_ctl("a recipient address", a->addr, a->len);
	qualify(a->addr, a->len, a->hasat);
	rcpt_add(tmp.s);
	return 0;
}

/* isresent - is the field (n bytes) a Resent- field? */
static int
isresent(const char *f, size_t n)
{
	return n > 7 && strncasecmp(f, "resent-", 7) == 0;
}

/* collect - recipients from To, Cc, Bcc, or their Resent- forms */
static void
collect(void)
{
	size_t i;

	for (i = 0; i < nfields; i++) {
		struct field f = field_get(i);
		const char *s = header.s + f.off;
		size_t v;
		int k = kind(s, f.len, &v);

		if ((k != F_RCPT && k != F_BCC) ||
		    isresent(s, f.len) != flagresent)
			continue;
		if (hdr_addrlist(s + v, f.len - v, on_rcpt, 0) != 0)
			err_die(100, "unable to parse the addresses in ",
			    "a recipient field", (const char *)0);
	}
}

/* The rewriting of one address field: its bytes are copied out with
 * "@host" or ".defaultdomain" inserted where an address lacks them;
 * everything else (display names, comments, folding) is kept. */
struct rw {
	const char *s;		/* the field */
	size_t v;		/* offset of its value */
	size_t done;		/* bytes of s already emitted */
};

static int
on_addr(void *ctx, const struct hdr_addr *a)
{
	struct rw *w = ctx;
	size_t at;

	qualify(a->addr, a->len, a->hasat);
	if (tmp.len == a->len)
		return 0;		/* nothing added */
	at = w->v + (a->hasat ? a->domend : a->localend);
	if (at < w->done)
		return 0;
	emit(w->s + w->done, at - w->done);
	emit(tmp.s + a->len, tmp.len - a->len);
	w->done = at;
	return 0;
}

/* writeheader - the fields as read, Bcc and Return-Path removed,
 * addresses qualified */
static void
writeheader(void)
{
	size_t i;

	for (i = 0; i < nfields; i++) {
		struct field f = field_get(i);
		const char *s = header.s + f.off;
		struct rw w;
		int k = kind(s, f.len, &w.v);

		if (k == F_DROP || k == F_BCC)
			continue;
		w.s = s;
		w.done = 0;
		/* an unparseable field is kept as it is from the error on */
		if (k != F_OTHER)
			(void)hdr_addrlist(s + w.v, f.len - w.v, on_addr, &w);
		emit(s + w.done, f.len - w.done);
	}
}

static void
readcontrol(str *val, const char *name)
{
	val->len = 0;
	if (control_readline(val, name) < 0)
		err_diesys(111, "unable to read control/", name,
		    (const char *)0);
}

/* sethost - the host for From: and for qualifying */
static void
sethost(void)
{
	const char *h = getenv("QPOST_HOST"), *from = "QPOST_HOST";

	if (!h || !*h) {
		h = getenv("MAILNAME");
		from = "MAILNAME";
	}
	if (h && *h) {
		if (str_copys(&host, h) < 0)
			err_nomem();
	} else {
		from = "control/defaulthost";
		readcontrol(&host, "defaulthost");
		if (!host.len) {
			from = "control/defaultdomain";
			readcontrol(&host, "defaultdomain");
		}
		if (!host.len) {
			from = "control/me";
			readcontrol(&host, "me");
		}
		if (!host.len && str_copys(&host, "localhost") < 0)
			err_nomem();
	}
	check_ctl(from, host.s, host.len);
	readcontrol(&defdomain, "defaultdomain");
	check_ctl("control/defaultdomain", defdomain.s, defdomain.len);
}

/* getvar - the environment variable name if set and not empty */
static const char *
getvar(const char *name)
{
	const char *v = getenv(name);

	if (!v || !*v)
		return 0;
	check_ctl(name, v, strlen(v));
	return v;
}

static const char *
username(void)
{
	const char *u = getvar("QPOST_USER");
	const struct passwd *pw;

	if (u)
		return u;
	pw = getpwuid(getuid());
	if (pw && pw->pw_name && *pw->pw_name) {
		check_ctl("the login name", pw->pw_name, strlen(pw->pw_name));
		return pw->pw_name;
	}
	if ((u = getvar("USER")) != 0 || (u = getvar("LOGNAME")) != 0)
		return u;
	return "anonymous";
}

/* putname - a display name, quoted when it is not all atoms and spaces */
static void
putname(str *x, const char *name)
{
	const char *p;
	int plain = 1;

	for (p = name; *p; p++)
		if (strchr("()<>[]:;@\\,.\"", *p) || (unsigned char)*p < 32)
			plain = 0;
	if (plain) {
		if (str_puts(x, name) < 0)
			err_nomem();
		return;
	}
	if (str_putc(x, '"') < 0)
		err_nomem();
	for (p = name; *p; p++) {
		if ((*p == '"' || *p == '\\') && str_putc(x, '\\') < 0)
			err_nomem();
		if (str_putc(x, *p) < 0)
			err_nomem();
	}
	if (str_putc(x, '"') < 0)
		err_nomem();
}

int
main(int argc, char **argv)
{
	const char *sender = 0, *fullname = 0, *user, *pfx;
	int flagt = 0, flaga = 0, flagn = 0, opt, fromheader, code;
	char date[DATE_LEN];
	struct timespec ts;
	str from = STR_INIT, x = STR_INIT;
	size_t i;
	char last;

	err_prog = "inject";
	err_help(argc, argv, USAGE);
	/* qq.h: a queue program that exits early is its exit code, not a
	 * kill; an ignored SIGCHLD, inherited through exec from a cron or
	 * PHP parent, would lose that exit code. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	while ((opt = getopt(argc, argv, "+tahnf:F:")) != -1) {
		switch (opt) {
		case 't':
		case 'h':
			flagt = 1;
			break;
		case 'a':
			flaga = 1;
			break;
		case 'n':
			flagn = 1;
			break;
		case 'f':
			sender = optarg;
			break;
		case 'F':
			fullname = optarg;
			break;
		default:
			die_usage("unknown option");
		}
	}
	argv += optind;
	argc -= optind;
	if (flaga && flagt)
		die_usage("-a and -t exclude each other");
	fromheader = flagt || (!flaga && argc == 0);

	sethost();
	user = username();
	if (fullname && *fullname)
		check_ctl("the -F full name", fullname, strlen(fullname));
	else if ((fullname = getvar("QPOST_NAME")) == 0)
		fullname = getvar("NAME");
	if (str_copys(&from, user) < 0 || str_putc(&from, '@') < 0 ||
	    str_put(&from, host.s, host.len) < 0 || str_0(&from) < 0)
		err_nomem();
	if (!sender)
		sender = from.s;
	if (strlen(sender) > ADDR_MAX)
		err_die(100, "sender address too long", (const char *)0);
	check_ctl("the sender address", sender, strlen(sender));

	/* Recipients from the arguments: each may be an address list. */
	for (; *argv; argv++) {
		check_ctl("a recipient argument", *argv, strlen(*argv));
		if (hdr_addrlist(*argv, strlen(*argv), on_rcpt, 0) != 0)
			err_die(100, "unable to parse recipient ", *argv,
			    (const char *)0);
	}

	readheader();
	for (i = 0; i < nfields; i++) {
		struct field f = field_get(i);

		if (isresent(header.s + f.off, f.len))
			flagresent = 1;
	}
	if (fromheader)
		collect();

	if (flagn)
		buf_init(&out, 1, outspace, sizeof outspace, -1);
	else {
		if (!nrcpts)
			err_die(100, "no recipients", (const char *)0);
		if (qq_open(&q) < 0)
			err_diesys(111, "unable to run the queue program",
			    (const char *)0);
		toqueue = 1;
	}

	/* The header, completed. */
	writeheader();
	pfx = flagresent ? "Resent-" : "";
	if (!has(flagresent ? "resent-from" : "from")) {
		x.len = 0;
		if (str_puts(&x, pfx) < 0 || str_puts(&x, "From: ") < 0)
			err_nomem();
		if (fullname && *fullname) {
			putname(&x, fullname);
			if (str_puts(&x, " <") < 0 || str_puts(&x, from.s) < 0 ||
			    str_puts(&x, ">\n") < 0)
				err_nomem();
		} else if (str_puts(&x, from.s) < 0 || str_putc(&x, '\n') < 0)
			err_nomem();
		emit(x.s, x.len);
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	if (!has(flagresent ? "resent-date" : "date")) {
		date_rfc5322(date, ts.tv_sec);
		emits(pfx);
		emits("Date: ");
		emits(date);
		emits("\n");
	}
	if (!has(flagresent ? "resent-message-id" : "message-id")) {
		x.len = 0;
		if (str_puts(&x, pfx) < 0 || str_puts(&x, "Message-ID: ") < 0 ||
		    hdr_msgid(&x, host.s, host.len) < 0 ||
		    str_putc(&x, '\n') < 0)
			err_nomem();
		emit(x.s, x.len);
	}
	emits("\n");

	/* The body, streamed; a missing final newline is added. */
	last = '\n';
	if (body1.len) {
		emit(body1.s, body1.len);
		last = body1.s[body1.len - 1];
	}
	for (;;) {
		ssize_t r = in_fill();

		if (r < 0)
			die_read();
		if (r == 0)
			break;
		emit(inspace + inpos, (size_t)r);
		last = inspace[inlen - 1];
		inpos = inlen;
	}
	if (last != '\n')
		emit("\n", 1);

	if (flagn) {
		if (buf_flush(&out) < 0)
			err_diesys(111, "unable to write output",
			    (const char *)0);
		return 0;
	}
	qq_from(&q, sender);
	for (i = 0; i < rcpts.len; i += strlen(rcpts.s + i) + 1)
		qq_to(&q, rcpts.s + i);
	code = qq_close(&q);
	if (code == 0)
		return 0;
	{
		str c = STR_INIT;

		if (str_putu(&c, (unsigned long long)code) < 0 || str_0(&c) < 0)
			err_nomem();
		err_die(qq_temp(code) ? 111 : 100, "queue program failed: ",
		    qq_status(code), " (exit ", c.s, ")", (const char *)0);
	}
}
