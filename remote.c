/*
 * remote - deliver one message to one domain's mail exchanger over SMTP.
 *
 * Usage: remote [-S] DOMAIN SENDER RCPT...
 *   All recipients are in DOMAIN.  SENDER may be empty (a bounce).
 *   -S: the message is our own users' (send passes it for mail with an
 *   origin record): DKIM-sign it by control/dkim/ (docs/dkim.md).
 *
 * Input: fd 0 is the queued message (LF line ends; a regular file is
 * mapped, anything else is read to EOF).  remote turns LF into CRLF and
 * dot-stuffs on the way out.  Whatever the queue holds, no bare CR or LF
 * reaches the peer (RFC 5321 2.3.8): a CRLF in the queue is one line
 * end and a CR not followed by LF is a line end of its own.  A line over
 * LINE_WIRE_MAX octets is broken by inserting CRLF SPACE, as Postfix's
 * smtp_line_length_limit does.  Every other byte goes out untouched.
 *
 * Output: fd 1 carries qmail-remote's report format, read by send:
 * for each RCPT in argv order one report "r<text>\0" (accepted),
 * "h<text>\0" (permanent failure) or "s<text>\0" (temporary failure),
 * then one message report "K<text>\0" (delivered to at least one
 * recipient), "Z<text>\0" (temporary) or "D<text>\0" (permanent).  The
 * text starts with the enhanced status code (RFC 3463) and a blank; it
 * names the peer and quotes its reply, and when the peer replied it has
 * two more lines, "\nRemote-MTA: dns; <host>" and "\nDiagnostic-Code:
 * smtp; <reply>" (docs/remote.md).  Diagnostics go to fd 2.
 *
 * Mail exchangers: control/smtproutes (qmail's "domain:host[:port]",
 * ".domain" for subdomains, an empty domain for a default smarthost, an
 * empty host for a normal MX lookup), else DNS MX records, else the
 * domain's own AAAA/A records; an address literal [1.2.3.4] or
 * [IPv6:...] is used as given.  DNS goes through dns.h (server from
 * $QPOST_DNS or control/dnsserver).  Hosts from MX or address records
 * are reached on port 25, or control/remoteport if set.
 *
 * Control files: me, helohost, smtproutes, timeoutconnect (60 s),
 * timeoutremote (1200 s, per read or write), remoteport, dnsserver;
 * for TLS tlsdestinations (tlspol.h), tlscafile, tlsdane, tlsdowngrade,
 * smtpauth.
 *
 * TLS (docs/remote.md, "TLS"): STARTTLS whenever offered unless the
 * policy is none, the same exchanger retried in clear when that fails
 * under may; encrypt, verify, dane and DANE by DNSSEC-validated TLSA
 * records (the resolver's AD bit) forbid clear text (4.7.x, temporary).
 * Downgrade memory in the home's remote/tls/DOMAIN.  Relays from
 * smtproutes on port 465 (or ":tls") get TLS on connect, on 587 (or
 * ":starttls") STARTTLS required, and AUTH PLAIN/LOGIN over TLS with
 * the credentials in control/smtpauth.
 *
 * Exit codes: 0 once the reports are written; 100 for a usage error;
 * 111 when remote itself failed (out of memory, fd 1 unwritable).  Any
 * exit other than 0 is a temporary failure for every recipient.
 *
 * Privilege: none needed; run as the unprivileged remote user (qpostr),
 * which alone reads control/smtpauth and writes remote/tls/.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "addr.h"
#include "b64.h"
#include "buf.h"
#include "control.h"
#include "dkim.h"
#include "dns.h"
#include "dsn.h"
#include "err.h"
#include "home.h"
#include "reply.h"
#include "str.h"
#include "mtasts.h"
#include "tlspol.h"

#define SMTP_PORT 25
#define SUBMISSION_PORT 587	/* a relay here: STARTTLS required */
#define SMTPS_PORT 465		/* a relay here: TLS on connect (RFC 8314) */
#define RELAY_PLAIN 1		/* struct target's relay */
#define RELAY_STARTTLS 2
#define RELAY_TLS 3
#define TIMEOUT_QUIT 10		/* seconds to wait for the reply to QUIT */
#define TARGETS_MAX 64		/* addresses tried per message */
#define PIPE_GROUP 100		/* RCPTs written before reading replies */
#define OUT_SIZE 65536		/* write buffer to the peer */
#define MSG_READ_MAX (1024UL * 1024 * 1024)	/* a non-file fd 0 */
#define LINE_WIRE_MAX 998	/* octets of a DATA line before its CRLF,
				 * the dot of dot-stuffing included (RFC
				 * 5321 4.5.3.1.6 allows 1000 with CRLF) */
#define REPORT_SIZE 8192

struct target {
	const char *host;	/* name for the reports */
	dns_addr a;
	unsigned port;
	int secure;		/* DNSSEC-validated MX and address (RFC 7672
				 * 2.2): TLSA records are looked for */
	int relay;		/* from smtproutes (AUTH credentials apply):
				 * RELAY_PLAIN, _STARTTLS or _TLS; else 0 */
	int sts;		/* MTA-STS: the MX name matched the policy */
};

static const char *domain;
static const char *sender;
static char **rcpt;
static int nrcpt;
static char *rstat;		/* per recipient: 0 open, 'r' 'h' 's' */
static str *rtext;		/* per recipient: report text */
static int *accepted;		/* per recipient: RCPT got 2xx */

static const char *msg;		/* the message */
static size_t msglen;
static int msg8bit;
static size_t msgsize;		/* size on the wire, for SIZE= */
static int sign;		/* -S: sign with DKIM */

static str helohost = STR_INIT;
static int timeout_connect;	/* ms; the control files' (control.c) */
static int timeout_remote;
static unsigned remote_port;

static struct target targets[TARGETS_MAX];
static size_t ntargets;
static str hostnames = STR_INIT;	/* backing store for target names */
static size_t hostoff[TARGETS_MAX];

static int ext_pipe, ext_size, ext_8bit;	/* EHLO keywords offered */
static int ext_starttls, ext_plain, ext_login;

static str lasterr = STR_INIT;	/* why the last host did not work */
static str msgtext = STR_INIT;	/* text for the K report */

static char outspace[OUT_SIZE];
static char inspace[BUF_SIZE];
static char reportspace[REPORT_SIZE];

static struct reply reply = REPLY_INIT;	/* the last reply */
static str peer = STR_INIT;	/* "host[ip]" of the current peer */
static const char *peerhost;	/* its name, for Remote-MTA */
static SSL_CTX *ctx;
static SSL *ssl;		/* the TLS session, while there is one */

static noreturn void
die_nomem(void)
{
	err_nomem();
}

/* status_class - the report's status gets the class its letter says (a
 * 5xx greeting skipped for the next host ends temporary, for one); a
 * text without a status gets one */
static void
status_class(str *t, char letter)
{
	char cls = letter == 'r' ? '2' : letter == 'h' ? '5' : '4';
	size_t k = dsn_scan(t->s ? t->s : "", t->len);

	if (k && k < t->len && t->s[k] == ' ') {
		t->s[0] = cls;
		return;
	}
	if (str_ready(t, 6) < 0)
		die_nomem();
	memmove(t->s + 6, t->s, t->len);
	memcpy(t->s, "x.0.0 ", 6);
	t->s[0] = cls;
	t->len += 6;
}

/* report - write every report to fd 1 and exit 0. */
static noreturn void
report(void)
{
	buf out;
	int i, any_r = 0, any_s = 0;

	buf_init(&out, 1, reportspace, sizeof reportspace, -1);
	for (i = 0; i < nrcpt; i++) {
		char c = rstat[i] ? rstat[i] : 's';

		if (c == 'r')
			any_r = 1;
		if (c == 's')
			any_s = 1;
		status_class(&rtext[i], c);
		if (buf_put(&out, &c, 1) < 0 ||
		    buf_put(&out, rtext[i].s, rtext[i].len) < 0 ||
		    buf_put(&out, "", 1) < 0)
			goto fail;
	}
	if (any_r) {
		status_class(&msgtext, 'r');
		if (buf_put(&out, "K", 1) < 0 ||
		    buf_put(&out, msgtext.s, msgtext.len) < 0)
			goto fail;
	} else {
		status_class(&lasterr, any_s ? 's' : 'h');
		if (buf_put(&out, any_s ? "Z" : "D", 1) < 0 ||
		    buf_put(&out, lasterr.s, lasterr.len) < 0)
			goto fail;
	}
	if (buf_put(&out, "", 1) < 0 || buf_flush(&out) < 0)
		goto fail;
	_exit(0);
fail:
	err_diesys(111, "unable to write reports to fd 1", (char *)0);
}

/* set_err - lasterr = the status, a blank, the concatenation of the
 * strings. */
static void
set_err(const char *st, const char *a, const char *b, const char *c)
{
	lasterr.len = 0;
	if (str_puts(&lasterr, st) < 0 || str_putc(&lasterr, ' ') < 0 ||
	    str_puts(&lasterr, a) < 0 || (b && str_puts(&lasterr, b) < 0) ||
	    (c && str_puts(&lasterr, c) < 0))
		die_nomem();
}

/* warn_msg - a warning on fd 2 (send's log), naming the message by the
 * ID send gave in $QPOST_MSGID ("msg ID: "), when there is one: the
 * strings a, b, c, d (b, c, d may be 0) */
static void
warn_msg(const char *a, const char *b, const char *c, const char *d)
{
	const char *id = getenv("QPOST_MSGID");

	if (!b)
		b = "";
	if (!c)
		c = "";
	if (!d)
		d = "";
	if (id && *id)
		err_warn("msg ", id, ": ", a, b, c, d, (char *)0);
	else
		err_warn(a, b, c, d, (char *)0);
}

/* warn_lasterr - lasterr's text (without the status and the DSN lines)
 * on fd 2 as well */
static void
warn_lasterr(void)
{
	static str w = STR_INIT;
	size_t k = dsn_scan(lasterr.s, lasterr.len), e;

	if (k && k < lasterr.len)
		k++;
	for (e = k; e < lasterr.len && lasterr.s[e] != '\n'; e++)
		;
	if (str_copy(&w, lasterr.s + k, e - k) < 0 || str_0(&w) < 0)
		die_nomem();
	warn_msg(w.s, 0, 0, 0);
}

/* fail_open - every recipient still open gets code and lasterr. */
static void
fail_open(char code)
{
	int i;

	for (i = 0; i < nrcpt; i++) {
		if (rstat[i])
			continue;
		rstat[i] = code;
		if (str_copy(&rtext[i], lasterr.s, lasterr.len) < 0)
			die_nomem();
	}
}

/* finish - all open recipients fail with code and lasterr; report. */
static noreturn void
finish(char code)
{
	fail_open(code);
	report();
}

/* temp_st, perm_st - every open recipient fails with this status and
 * text; temp and perm for a failure of our own (4.3.0) or of the
 * destination's address (5.1.2). */
static noreturn void
temp_st(const char *st, const char *a, const char *b, const char *c)
{
	set_err(st, a, b, c);
	warn_lasterr();
	finish('s');
}

static noreturn void
perm_st(const char *st, const char *a, const char *b, const char *c)
{
	set_err(st, a, b, c);
	finish('h');
}

static noreturn void
temp(const char *a, const char *b, const char *c)
{
	temp_st("4.3.0", a, b, c);
}

static noreturn void
perm(const char *a, const char *b, const char *c)
{
	perm_st("5.1.2", a, b, c);
}

/* ---- the message ---- */

/* msg_line - the line of msg at *pos: its start in *start, its length
 * without the line end (LF, CRLF, a bare CR, or none at the end of the
 * message) returned; *pos moves past the line end */
static size_t
msg_line(size_t *pos, const char **start)
{
	const char *s = *start = msg + *pos;
	size_t left = msglen - *pos;
	const char *lf = memchr(s, '\n', left);
	size_t n = lf ? (size_t)(lf - s) : left;
	const char *cr = memchr(s, '\r', n);

	if (cr) {
		n = (size_t)(cr - s);	/* a bare CR, or the CR of a CRLF */
		*pos += n + 1 + (n + 1 < left && s[n + 1] == '\n');
	} else
		*pos += n + (lf != 0);
	return n;
}

/* line_put - one line (n bytes, no line end) as DATA on out: dot-stuffed,
 * broken with CRLF SPACE after LINE_WIRE_MAX octets (Postfix's
 * smtp_line_length_limit: a continuation line keeps a MIME header folded
 * and a body line readable), ended by CRLF.  With out 0 nothing is
 * written.  Returns the octets that SIZE counts (RFC 1870: those on the
 * wire but the dot of dot-stuffing), or 0 for a write error. */
static size_t
line_put(buf *out, const char *s, size_t n)
{
	size_t room = LINE_WIRE_MAX, wire = 0;

	if (n && *s == '.') {
		if (out && buf_put(out, ".", 1) < 0)
			return 0;
		room--;
	}
	while (n > room) {
		if (out && (buf_put(out, s, room) < 0 ||
		    buf_put(out, "\r\n ", 3) < 0))
			return 0;
		wire += room + 3;
		s += room;
		n -= room;
		room = LINE_WIRE_MAX - 1;	/* after the SPACE */
	}
	if (out && (buf_put(out, s, n) < 0 || buf_put(out, "\r\n", 2) < 0))
		return 0;
	return wire + n + 2;
}

static void
msg_load(void)
{
	struct stat st;
	static str whole = STR_INIT;
	size_t i;

	if (fstat(0, &st) < 0)
		temp("unable to stat the message: ", strerror(errno), 0);
	if (S_ISREG(st.st_mode) && st.st_size > 0) {
		void *p = mmap(0, (size_t)st.st_size, PROT_READ, MAP_PRIVATE,
		    0, 0);

		if (p == MAP_FAILED)
			temp("unable to map the message: ", strerror(errno), 0);
		msg = p;
		msglen = (size_t)st.st_size;
	} else {
		for (;;) {
			ssize_t r;

			if (str_ready(&whole, 65536) < 0)
				die_nomem();
			r = read(0, whole.s + whole.len, whole.a - whole.len);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				temp("unable to read the message: ",
				    strerror(errno), 0);
			if (r == 0)
				break;
			whole.len += (size_t)r;
			if (whole.len > MSG_READ_MAX)
				temp("message too large to read from a pipe",
				    0, 0);
		}
		msg = whole.s ? whole.s : "";
		msglen = whole.len;
	}
	if (!msg)
		msg = "";
	for (i = 0; i < msglen; i++)
		if ((unsigned char)msg[i] & 0x80) {
			msg8bit = 1;
			break;
		}
	msgsize = 0;
	for (i = 0; i < msglen;) {
		const char *s;
		size_t n = msg_line(&i, &s);

		msgsize += line_put(0, s, n);
	}
}

/* put_body - the message as SMTP DATA, ended by ".\r\n".  A last line
 * without a line end still gets its CRLF. */
static int
put_body(buf *out)
{
	size_t i = 0;

	while (i < msglen) {
		const char *s;
		size_t n = msg_line(&i, &s);

		if (!line_put(out, s, n))
			return -1;
	}
	if (buf_put(out, ".\r\n", 3) < 0)
		return -1;
	return buf_flush(out);
}

/* dkim_msg - with -S (mail from our own users, docs/dkim.md) the
 * DKIM-Signature fields go on top of the message, signed over the lines
 * as put_body sends them; a key that cannot be used sends the message
 * unsigned, or defers it when control/dkimdefer says so. */
static void
dkim_msg(void)
{
	static str signd = STR_INIT;
	const char *why = "";
	size_t k;

	switch (dkim_sign_control(msg, msglen, DKIM_WIRE, &signd, &why)) {
	case -1:
		die_nomem();
	case -2:
		temp(why, 0, 0);
	}
	for (k = 0; k < signd.len; k++)	/* short lines: each LF a CRLF */
		msgsize += 1 + (signd.s[k] == '\n');
	if (signd.len && str_put(&signd, msg, msglen) < 0)
		die_nomem();
	if (signd.len) {
		msg = signd.s;
		msglen = signd.len;
	}
}

/* ---- control files ---- */

/* ctl_number - control/NAME (defaults and limits: control_nums) */
static unsigned long
ctl_number(const char *name)
{
	unsigned long u;

	if (control_number(name, &u) < 0)
		temp("unable to read control/", name, "");
	return u;
}

static void
ctl_load(void)
{
	int r;

	timeout_connect = (int)ctl_number("timeoutconnect") * 1000;
	timeout_remote = (int)ctl_number("timeoutremote") * 1000;
	remote_port = (unsigned)ctl_number("remoteport");
	r = control_readline(&helohost, "helohost");
	if (r == 0)
		r = control_readline(&helohost, "me");
	if (r < 0)
		temp("unable to read control/helohost or control/me", 0, 0);
	if (r == 0 && str_copys(&helohost, "localhost") < 0)
		die_nomem();
	if (str_0(&helohost) < 0)
		die_nomem();
}

/* ---- finding the mail exchangers ---- */

static void
target_add(const char *host, const dns_addr *a, unsigned port, int secure,
    int relay)
{
	if (ntargets >= TARGETS_MAX)
		return;
	hostoff[ntargets] = hostnames.len;
	if (str_puts(&hostnames, host) < 0 || str_putc(&hostnames, 0) < 0)
		die_nomem();
	targets[ntargets].host = 0;	/* fixed up in targets_done */
	targets[ntargets].a = *a;
	targets[ntargets].port = port;
	targets[ntargets].secure = secure;
	targets[ntargets].relay = relay;
	targets[ntargets].sts = 0;
	ntargets++;
}

static void
targets_done(void)
{
	size_t i;

	for (i = 0; i < ntargets; i++)
		targets[i].host = hostnames.s + hostoff[i];
}

/* dns_ready - set the resolver up before the first lookup (a route to
 * an IP address needs none). */
static void
dns_ready(void)
{
	static int done;
	const char *why;

	if (done)
		return;
	if (dns_init(&why) < 0)
		temp(why, 0, 0);
	done = 1;
}

/* host_add - a relay host from smtproutes or an MX: its addresses,
 * DNSSEC-secure when secure (the MX answer, or 1 for a relay) and the
 * address answers are.  Returns the dns_addrs result. */
static int
host_add(const char *host, unsigned port, int secure, int relay)
{
	dns_addr a[DNS_ADDR_MAX];
	size_t n, i;
	int r;

	if (dns_ipscan(host, a, 0) == 0) {
		target_add(host, a, port, 0, relay);
		return DNS_OK;
	}
	dns_ready();
	r = dns_addrs(host, a, DNS_ADDR_MAX, &n);
	secure = secure && dns_secure();
	for (i = 0; r == DNS_OK && i < n; i++)
		target_add(host, &a[i], port, secure, relay);
	return r;
}

/* routes - apply control/smtproutes.  1 if a relay was set up, 0 for a
 * normal MX lookup. */
static int
routes(void)
{
	static str list = STR_INIT;
	static str host = STR_INIT;
	const char *item, *best = 0, *rest, *p;
	size_t pos = 0;
	long score = -1;
	unsigned port = SMTP_PORT;
	int relay = RELAY_PLAIN;
	int r = control_readlist(&list, "smtproutes");

	if (r < 0)
		temp("unable to read control/smtproutes: ", strerror(errno), 0);
	if (r == 0)
		return 0;
	while ((item = control_next(&list, &pos))) {
		const char *colon = strchr(item, ':');
		long m;

		if (!colon)
			continue;
		m = tlspol_match(domain, item, (size_t)(colon - item));
		if (m > score) {
			score = m;
			best = colon + 1;
		}
	}
	if (!best || !*best)
		return 0;
	rest = best;
	if (*rest == '[') {
		p = strchr(rest, ']');
		if (!p)
			temp("bad host in control/smtproutes: ", best, 0);
		p++;
	} else
		p = rest + strcspn(rest, ":");
	if (str_copy(&host, rest, (size_t)(p - rest)) < 0 || str_0(&host) < 0)
		die_nomem();
	if (*p == ':') {
		unsigned long u = 0;
		const char *q = p + 1;

		for (; *q >= '0' && *q <= '9' && u <= 65535; q++)
			u = u * 10 + (unsigned long)(*q - '0');
		if (q == p + 1 || u == 0 || u > 65535)
			temp("bad port in control/smtproutes: ", best, 0);
		port = (unsigned)u;
		/* port 465 is TLS on connect and 587 needs STARTTLS (RFC
		 * 8314); ":tls" / ":starttls" say so for any port */
		relay = port == SMTPS_PORT ? RELAY_TLS : port ==
		    SUBMISSION_PORT ? RELAY_STARTTLS : RELAY_PLAIN;
		if (!strcasecmp(q, ":tls"))
			relay = RELAY_TLS;
		else if (!strcasecmp(q, ":starttls"))
			relay = RELAY_STARTTLS;
		else if (*q)
			temp("bad port in control/smtproutes: ", best, 0);
	} else if (*p)
		temp("bad host in control/smtproutes: ", best, 0);
	r = host_add(host.s, port, 1, relay);
	if (r == DNS_TEMP)
		temp_st("4.4.3", "temporary DNS failure looking up relay host ", host.s,
		    " from control/smtproutes");
	if (r != DNS_OK || !ntargets)
		temp_st("4.4.4", "relay host ", host.s,
		    " from control/smtproutes has no address");
	return 1;
}

static void
mx_targets(void)
{
	static dns_mx mx[DNS_MX_MAX];
	dns_addr a;
	size_t n = 0, i;
	int r, soft = 0, secure;

	if (domain[0] == '[') {
		if (dns_ipscan(domain, &a, 0) < 0)
			perm("bad address literal ", domain, 0);
		target_add(domain, &a, remote_port, 0, 0);
		return;
	}
	dns_ready();
	r = dns_mxlist(domain, mx, DNS_MX_MAX, &n);
	secure = dns_secure();
	if (r == DNS_TEMP)
		temp_st("4.4.3", "temporary DNS failure looking up MX for ",
		    domain, 0);
	if (r == DNS_NXDOMAIN)
		perm("Sorry, domain ", domain, " does not exist (DNS NXDOMAIN)");
	if (r == DNS_NODATA) {
		/* no MX: the domain's own address is its implicit MX */
		r = host_add(domain, remote_port, secure, 0);
		if (r == DNS_TEMP)
			temp_st("4.4.3", "temporary DNS failure looking up ",
			    domain, 0);
		if (r != DNS_OK)
			perm("Sorry, domain ", domain,
			    " has no MX and no address record");
		return;
	}
	for (i = 0; i < n; i++)
		if (!mx[i].name[0])
			perm_st("5.1.10", "Sorry, domain ", domain,
			    " does not accept mail (null MX, RFC 7505)");
	for (i = 0; i < n; i++) {
		r = host_add(mx[i].name, remote_port, secure, 0);
		if (r == DNS_TEMP)
			soft = 1;
	}
	if (!ntargets) {
		if (soft)
			temp_st("4.4.3", "temporary DNS failure looking up the "
			    "MX hosts of ", domain, 0);
		temp_st("4.4.4", "no MX host of ", domain, " has an address");
	}
}

/* ---- SMTP ---- */

static int
dial(const struct target *t)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct pollfd pfd;
	int fd, e = 0, r;
	socklen_t el = sizeof e;

	memset(&ss, 0, sizeof ss);
	if (t->a.af == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((unsigned short)t->port);
		memcpy(&s4->sin_addr, t->a.ip, 4);
		sl = sizeof *s4;
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((unsigned short)t->port);
		memcpy(&s6->sin6_addr, t->a.ip, 16);
		sl = sizeof *s6;
	}
	fd = socket(t->a.af, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&ss, sl) == 0)
		return fd;
	if (errno != EINPROGRESS)
		goto fail;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	do
		r = poll(&pfd, 1, timeout_connect);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		errno = ETIMEDOUT;
	if (r <= 0)
		goto fail;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
		goto fail;
	if (e) {
		errno = e;
		goto fail;
	}
	return fd;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

/* get_reply - read one (multi-line) reply into reply (reply.h); its
 * code, or -1 on a read error, EOF or a malformed reply (errno set). */
static int
get_reply(buf *in)
{
	int code = reply_read(&reply, in);

	if (code == REPLY_NOMEM)
		die_nomem();
	return code < 0 ? -1 : code;
}

/* put_reply - the reply on one line, its lines joined by " / " */
static void
put_reply(str *out)
{
	size_t i;

	for (i = 0; i < reply.text.len; i++) {
		if (reply.text.s[i] == '\n') {
			if (str_puts(out, " / ") < 0)
				die_nomem();
		} else if (str_putc(out, reply.text.s[i]) < 0)
			die_nomem();
	}
}

/* say - report text: the status, the peer, what happened, the reply on
 * one line; then the peer and its reply for the DSN (docs/remote.md).
 * The status is the one the peer put after its reply code (RFC 2034:
 * "550 5.1.1 ...", of the same class), else the code's class, x.0.0. */
static void
say(str *out, const char *what)
{
	const str *t = &reply.text;
	size_t k = t->len > 4 ? dsn_scan(t->s + 4, t->len - 4) : 0;

	out->len = 0;
	if (k && t->s[4] == t->s[0] && (4 + k == t->len ||
	    t->s[4 + k] == ' ' || t->s[4 + k] == '\n')) {
		if (str_put(out, t->s + 4, k) < 0)
			die_nomem();
	} else if (str_putc(out, t->len ? t->s[0] : '4') < 0 ||
	    str_puts(out, ".0.0") < 0)
		die_nomem();
	if (str_putc(out, ' ') < 0 || str_put(out, peer.s, peer.len) < 0 ||
	    str_puts(out, what) < 0)
		die_nomem();
	put_reply(out);
	if (str_puts(out, "\nRemote-MTA: dns; ") < 0 ||
	    str_puts(out, peerhost ? peerhost : "unknown") < 0 ||
	    str_puts(out, "\nDiagnostic-Code: smtp; ") < 0)
		die_nomem();
	put_reply(out);
}

/* io_err - the connection failed: text into lasterr. */
static void
io_err(const char *during)
{
	const char *why = errno == ETIMEDOUT ? "timed out" :
	    errno == EPROTO ? "sent a malformed reply" :
	    errno == ECONNRESET ? "closed the connection" : strerror(errno);

	lasterr.len = 0;
	if (str_puts(&lasterr, "4.4.2 ") < 0 ||
	    str_put(&lasterr, peer.s, peer.len) < 0 ||
	    str_puts(&lasterr, " ") < 0 || str_puts(&lasterr, why) < 0 ||
	    str_puts(&lasterr, during) < 0)
		die_nomem();
}

static void
quit(buf *in, buf *out)
{
	if (buf_putflush(out, "QUIT\r\n", 6) == 0) {
		in->timeout = timeout_remote < TIMEOUT_QUIT * 1000 ?
		    timeout_remote : TIMEOUT_QUIT * 1000;
		(void)get_reply(in);
	}
}

static void
rcpt_result(int i, int code)
{
	if (code >= 200 && code < 300) {
		accepted[i] = 1;
		return;
	}
	say(&rtext[i], code >= 500 ? " does not like recipient: " :
	    " temporarily refused recipient: ");
	rstat[i] = code >= 500 ? 'h' : 's';
	lasterr.len = 0;
	if (str_put(&lasterr, rtext[i].s, rtext[i].len) < 0)
		die_nomem();
}

/* accepted_fail - every accepted recipient gets code and lasterr. */
static void
accepted_fail(char code)
{
	int i;

	for (i = 0; i < nrcpt; i++) {
		if (!accepted[i] || rstat[i])
			continue;
		rstat[i] = code;
		if (str_copy(&rtext[i], lasterr.s, lasterr.len) < 0)
			die_nomem();
	}
}

/* addr_clean - no byte of a below 32 or 127 */
static int
addr_clean(const char *a)
{
	for (; *a; a++)
		if ((unsigned char)*a < 32 || *a == 127)
			return 0;
	return 1;
}

static int
put_cmd(buf *out, const char *verb, const char *addr, int mail)
{
	static str cmd = STR_INIT;

	cmd.len = 0;
	if (str_puts(&cmd, verb) < 0 || addr_quote(&cmd, addr) < 0)
		die_nomem();
	if (mail && ext_size) {
		if (str_puts(&cmd, " SIZE=") < 0 || str_putu(&cmd, msgsize) < 0)
			die_nomem();
	}
	if (mail && msg8bit && ext_8bit) {
		if (str_puts(&cmd, " BODY=8BITMIME") < 0)
			die_nomem();
	}
	if (str_put(&cmd, "\r\n", 2) < 0)
		die_nomem();
	return buf_put(out, cmd.s, cmd.len);
}

/* auth_mechs - the mechanisms of "AUTH mech mech ..." (s up to e) */
static void
auth_mechs(const char *s, const char *e)
{
	while (s < e) {
		size_t l;

		while (s < e && *s == ' ')
			s++;
		for (l = 0; s + l < e && s[l] != ' '; l++)
			;
		if (l == 5 && !strncasecmp(s, "PLAIN", 5))
			ext_plain = 1;
		else if (l == 5 && !strncasecmp(s, "LOGIN", 5))
			ext_login = 1;
		s += l;
	}
}

/* ehlo - EHLO, or HELO if the peer refuses EHLO with 5xx.  The code of
 * the last reply; sets the ext_ flags from the EHLO keywords. */
static int
ehlo(buf *in, buf *out)
{
	const str *t = &reply.text;
	size_t i, start;
	int code;

	ext_pipe = ext_size = ext_8bit = 0;
	ext_starttls = ext_plain = ext_login = 0;
	if (buf_puts(out, "EHLO ") < 0 || buf_puts(out, helohost.s) < 0 ||
	    buf_putflush(out, "\r\n", 2) < 0)
		return -1;
	code = get_reply(in);
	if (code >= 500) {
		if (buf_puts(out, "HELO ") < 0 ||
		    buf_puts(out, helohost.s) < 0 ||
		    buf_putflush(out, "\r\n", 2) < 0)
			return -1;
		return get_reply(in);
	}
	if (code < 200 || code >= 300)
		return code;
	/* keywords: each line after the first, "250-KEYWORD params" */
	for (start = 0; start < t->len; start = i + 1) {
		const char *k;
		size_t kl;

		for (i = start; i < t->len && t->s[i] != '\n'; i++)
			;
		if (!start || i - start < 5)
			continue;
		k = t->s + start + 4;
		for (kl = 0; k + kl < t->s + i && k[kl] != ' '; kl++)
			;
		if (kl == 10 && !strncasecmp(k, "PIPELINING", 10))
			ext_pipe = 1;
		else if (kl == 4 && !strncasecmp(k, "SIZE", 4))
			ext_size = 1;
		else if (kl == 8 && !strncasecmp(k, "8BITMIME", 8))
			ext_8bit = 1;
		else if (kl == 8 && !strncasecmp(k, "STARTTLS", 8))
			ext_starttls = 1;
		else if (kl == 4 && !strncasecmp(k, "AUTH", 4))
			auth_mechs(k + kl, t->s + i);
	}
	return code;
}

/* transaction - MAIL, RCPTs, DATA on a greeted connection.  Fills in
 * the per-recipient results. */
static void
transaction(buf *in, buf *out)
{
	int i = 0, end, j, code, mailcode = 0, any = 0;

	do {
		end = ext_pipe ? (nrcpt - i > PIPE_GROUP ? i + PIPE_GROUP :
		    nrcpt) : i + 1;
		if (i == 0 && put_cmd(out, "MAIL FROM:", sender, 1) < 0)
			goto ioerr_mail;
		if (!ext_pipe && i == 0) {
			if (buf_flush(out) < 0 || (mailcode = get_reply(in)) < 0)
				goto ioerr_mail;
			if (mailcode >= 300)
				break;
		}
		for (j = i; j < end; j++)
			if (!rstat[j] && put_cmd(out, "RCPT TO:", rcpt[j], 0) < 0)
				goto ioerr_rcpt;
		if (buf_flush(out) < 0)
			goto ioerr_rcpt;
		if (ext_pipe && i == 0 && (mailcode = get_reply(in)) < 0)
			goto ioerr_mail;
		if (ext_pipe && mailcode >= 300) {
			static str mailreply = STR_INIT;

			/* read and drop the RCPT replies, keep MAIL's */
			if (str_copy(&mailreply, reply.text.s,
			    reply.text.len) < 0)
				die_nomem();
			for (j = i; j < end; j++)
				if (!rstat[j] && get_reply(in) < 0)
					break;
			if (str_copy(&reply.text, mailreply.s,
			    mailreply.len) < 0)
				die_nomem();
			break;
		}
		for (j = i; j < end; j++) {
			if (rstat[j])
				continue;	/* refused before we connected */
			if ((code = get_reply(in)) < 0)
				goto ioerr_rcpt;
			rcpt_result(j, code);
			if (accepted[j])
				any = 1;
		}
		i = end;
	} while (i < nrcpt);
	if (mailcode >= 300) {
		say(&lasterr, " refused the sender: ");
		fail_open(mailcode >= 500 ? 'h' : 's');
		quit(in, out);
		return;
	}
	if (!any) {
		quit(in, out);
		return;
	}
	if (buf_putflush(out, "DATA\r\n", 6) < 0 || (code = get_reply(in)) < 0)
		goto ioerr_data;
	if (code != 354) {
		say(&lasterr, " refused DATA: ");
		accepted_fail(code >= 500 ? 'h' : 's');
		quit(in, out);
		return;
	}
	if (put_body(out) < 0 || (code = get_reply(in)) < 0)
		goto ioerr_data;
	if (code >= 300) {
		say(&lasterr, " refused the message: ");
		accepted_fail(code >= 500 ? 'h' : 's');
		quit(in, out);
		return;
	}
	/* a delivery's text says how it went: TLS=... after the peer
	 * since tls_start, or this */
	if (!ssl && str_puts(&peer, " TLS=no") < 0)
		die_nomem();
	say(&msgtext, " accepted the message: ");
	for (i = 0; i < nrcpt; i++) {
		if (!accepted[i] || rstat[i])
			continue;
		rstat[i] = 'r';
		if (str_copy(&rtext[i], msgtext.s, msgtext.len) < 0)
			die_nomem();
	}
	quit(in, out);
	return;
ioerr_mail:
	io_err(" during MAIL FROM");
	fail_open('s');
	return;
ioerr_rcpt:
	io_err(" during RCPT TO");
	fail_open('s');
	return;
ioerr_data:
	io_err(" during DATA; the message may or may not have arrived");
	fail_open('s');
}

/* ---- TLS (docs/remote.md, "TLS") ---- */

/* The plan for one target: how much TLS it needs, and who says so. */
struct plan {
	enum tlspol_level level;	/* none may encrypt verify dane */
	int dane;		/* authenticate by the TLSA records in tlsa */
	int fp;			/* verify by pol's pinned digests */
	int sts;		/* verify for MTA-STS (sts_apply) */
	str why;		/* "policy encrypt (control/tlsdestinations)" */
};

static struct tlspol pol;	/* the domain's line of tlsdestinations */
static int pol_set;		/* a line matched */
static str cafile = STR_INIT;	/* control/tlscafile, or empty */
static unsigned long dane_auto;	/* control/tlsdane */
static unsigned long downgrade_defer;	/* control/tlsdowngrade */
static str authlist = STR_INIT;	/* control/smtpauth, items */
static int tls_before;		/* downgrade memory: domain spoke TLS */
static int sts_mode;		/* sts_apply: 0 none, 1 testing, 2 enforce */
static str tlsinfo = STR_INIT;	/* "TLS=proto:cipher verify=... name=..." */
static str tlsa = STR_INIT;	/* TLSA records of tlsa_host (dns.h) */
static str tlsa_host = STR_INIT;
static size_t tlsa_n;
static int tlsa_r;

#define TLS_CLEAR (-2)		/* try(): try this target again in clear */

/* tls_reason - the first OpenSSL error queued, or errno's text */
static const char *
tls_reason(void)
{
	static char b[256];
	unsigned long e = ERR_peek_error();

	if (!e)
		return errno == ETIMEDOUT ? "timed out" : errno ?
		    strerror(errno) : "the peer closed the connection";
	ERR_error_string_n(e, b, sizeof b);
	ERR_clear_error();
	return b;
}

static void
tls_ctx(void)
{
	if (ctx)
		return;
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx || SSL_CTX_dane_enable(ctx) <= 0)
		temp("unable to set up TLS: ", tls_reason(), 0);
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF |
	    SSL_OP_NO_RENEGOTIATION);
	/* verification is checked after the handshake, where remote can
	 * say which policy failed, never by aborting the handshake */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, 0);
}

/* tls_castore - the CAs, loaded only for a check that needs them:
 * parsing the system bundle costs more than a handshake (bench/) */
static void
tls_castore(void)
{
	static int done;

	if (done)
		return;
	done = 1;
	if (cafile.len) {
		if (!SSL_CTX_load_verify_locations(ctx, cafile.s, 0))
			temp("unable to load control/tlscafile ", cafile.s,
			    ": bad PEM or unreadable");
	} else if (!SSL_CTX_set_default_verify_paths(ctx))
		temp("unable to load the system CA store: ", tls_reason(), 0);
}

/* tls_step - after an SSL call returned r: wait as it asks (0) or fail
 * (-1, errno: ETIMEDOUT, ECONNRESET for EOF, EPROTO for a TLS error) */
static int
tls_step(int r, int timeout)
{
	int e = SSL_get_error(ssl, r);

	if (e == SSL_ERROR_WANT_READ)
		return fd_wait(SSL_get_fd(ssl), POLLIN, timeout);
	if (e == SSL_ERROR_WANT_WRITE)
		return fd_wait(SSL_get_fd(ssl), POLLOUT, timeout);
	if (e == SSL_ERROR_SYSCALL && errno)
		return -1;
	errno = e == SSL_ERROR_SSL ? EPROTO : ECONNRESET;
	return -1;
}

/* tls_read, tls_write - buf's hooks (buf.h) over the session */
static ssize_t
tls_read(void *c, char *s, size_t n, int timeout)
{
	size_t got;
	int r;

	(void)c;
	for (;;) {
		errno = 0;
		r = SSL_read_ex(ssl, s, n, &got);
		if (r > 0)
			return (ssize_t)got;
		if (SSL_get_error(ssl, r) == SSL_ERROR_ZERO_RETURN)
			return 0;
		if (tls_step(r, timeout) < 0)
			return -1;
	}
}

static int
tls_write(void *c, const char *s, size_t n, int timeout)
{
	size_t put;
	int r;

	(void)c;
	while (n) {
		errno = 0;
		r = SSL_write_ex(ssl, s, n, &put);
		if (r > 0) {
			s += put;
			n -= put;
		} else if (tls_step(r, timeout) < 0)
			return -1;
	}
	return 0;
}

static void
tls_end(void)
{
	if (ssl)
		SSL_free(ssl);
	ssl = 0;
}

/* plan_why - the plan's reason */
static void
plan_why(struct plan *p, const char *a, const char *b, const char *c)
{
	p->why.len = 0;
	if (str_puts(&p->why, a) < 0 || (b && str_puts(&p->why, b) < 0) ||
	    (c && str_puts(&p->why, c) < 0) || str_0(&p->why) < 0)
		die_nomem();
}

/* tls_fail - lasterr: the peer, what failed, and the plan's reason,
 * status st (4.7.x: the bounce after queuelifetime says it) */
static void
tls_fail(const char *st, const struct plan *p, const char *a, const char *b)
{
	lasterr.len = 0;
	if (str_puts(&lasterr, st) < 0 || str_putc(&lasterr, ' ') < 0 ||
	    str_put(&lasterr, peer.s, peer.len) < 0 ||
	    str_putc(&lasterr, ' ') < 0 || str_puts(&lasterr, a) < 0 ||
	    (b && str_puts(&lasterr, b) < 0) ||
	    str_puts(&lasterr, "; ") < 0 || str_puts(&lasterr, p->why.s) < 0)
		die_nomem();
}

/* auth_find - the "host user password" line of control/smtpauth for the
 * relay host (brackets of a literal ignored on both sides); 0 if none.
 * *user, *ul and *pass point into authlist. */
static int
auth_find(const char *host, const char **user, size_t *ul,
    const char **pass)
{
	const char *item, *sp;
	size_t pos = 0, hl;

	if (*host == '[')
		host++;
	hl = strcspn(host, "]");
	while ((item = control_next(&authlist, &pos))) {
		const char *h = item + (*item == '[');
		size_t l = strcspn(h, "] \t");

		if (l != hl || strncasecmp(h, host, hl))
			continue;
		sp = item + strcspn(item, " \t");
		sp += strspn(sp, " \t");
		*user = sp;
		*ul = strcspn(sp, " \t");
		sp += *ul;
		sp += strspn(sp, " \t");
		*pass = sp;
		if (!*ul || !*sp)
			temp("bad line in control/smtpauth for ", host,
			    " (want: host user password)");
		return 1;
	}
	return 0;
}

/* tlsa_get - the TLSA records of t's host and port, looked up once per
 * host (dns.h); the result, records in tlsa */
static int
tlsa_get(const struct target *t)
{
	static str name = STR_INIT;

	if (tlsa_host.len && !strcmp(tlsa_host.s, t->host))
		return tlsa_r;
	if (str_copys(&tlsa_host, t->host) < 0 || str_0(&tlsa_host) < 0)
		die_nomem();
	name.len = 0;
	if (str_puts(&name, "_") < 0 || str_putu(&name, t->port) < 0 ||
	    str_puts(&name, "._tcp.") < 0 || str_puts(&name, t->host) < 0 ||
	    str_0(&name) < 0)
		die_nomem();
	tlsa.len = 0;
	tlsa_r = dns_tlsa(name.s, &tlsa, &tlsa_n);
	if (tlsa_r == DNS_OK && !dns_secure())
		tlsa_r = DNS_NODATA;	/* unsigned: as if there were none */
	return tlsa_r;
}

/* tlsa_usable - records of usage DANE-TA(2) or DANE-EE(3) (RFC 7672
 * 3.1: PKIX-TA and PKIX-EE are unusable for SMTP) */
static size_t
tlsa_usable(void)
{
	size_t off = 0, k, n = 0;

	for (k = 0; k < tlsa_n; k++) {
		unsigned char u = (unsigned char)tlsa.s[off];
		size_t l = (size_t)((unsigned char)tlsa.s[off + 3] << 8 |
		    (unsigned char)tlsa.s[off + 4]);

		if (u == 2 || u == 3)
			n++;
		off += 5 + l;
	}
	return n;
}

/* tls_plan - what TLS target t needs.  -1 when it cannot be used at
 * all (lasterr says why), else 0. */
static int
tls_plan(const struct target *t, struct plan *p)
{
	const char *user, *pass;
	size_t ul;

	p->level = pol.level;
	p->dane = p->fp = p->sts = 0;
	if (pol_set)
		plan_why(p, "policy ", tlspol_name(pol.level),
		    " (control/tlsdestinations)");
	else
		plan_why(p, "policy may (the default)", 0, 0);
	if (pol.level == TLSPOL_VERIFY && pol.nfp)
		p->fp = 1;
	if (t->relay && auth_find(t->host, &user, &ul, &pass) &&
	    p->level < TLSPOL_ENCRYPT) {
		p->level = TLSPOL_ENCRYPT;
		plan_why(p, "credentials in control/smtpauth are sent over "
		    "TLS only", 0, 0);
	}
	if (t->relay >= RELAY_STARTTLS && p->level < TLSPOL_ENCRYPT) {
		p->level = TLSPOL_ENCRYPT;
		plan_why(p, t->relay == RELAY_TLS ? "the relay is TLS on "
		    "connect (control/smtproutes)" : "the relay requires "
		    "STARTTLS (control/smtproutes)", 0, 0);
	}
	/* DANE: required by policy dane; else wherever TLSA validates,
	 * unless the policy is none or verify (the admin's choice wins) */
	if (pol.level == TLSPOL_DANE || (dane_auto && t->secure &&
	    (p->level == TLSPOL_MAY || p->level == TLSPOL_ENCRYPT))) {
		int r;

		if (!t->secure) {
			tls_fail("4.7.5", p, "has no DNSSEC-validated MX and "
			    "address records, so no DANE", 0);
			return -1;
		}
		dns_ready();
		r = tlsa_get(t);
		if (r == DNS_TEMP) {
			if (pol.level != TLSPOL_DANE)
				plan_why(p, "DANE (RFC 7672 2.2: a host with "
				    "DNSSEC-validated addresses whose TLSA "
				    "lookup fails is not used)", 0, 0);
			tls_fail("4.7.5", p, "TLSA lookup failed (DNSSEC "
			    "validation failure or server failure)", 0);
			return -1;
		}
		if (r == DNS_OK && tlsa_usable()) {
			p->level = TLSPOL_DANE;
			p->dane = 1;
			if (pol.level != TLSPOL_DANE)
				plan_why(p, "DANE (DNSSEC-validated TLSA "
				    "records, RFC 7672)", 0, 0);
		} else if (r == DNS_OK) {
			/* RFC 7672 2.2: all unusable: TLS, unauthenticated */
			if (p->level < TLSPOL_ENCRYPT)
				p->level = TLSPOL_ENCRYPT;
			if (pol.level == TLSPOL_DANE) {
				tls_fail("4.7.5", p, "has no usable TLSA "
				    "record", 0);
				return -1;
			}
			plan_why(p, "DANE (TLSA records present but none "
			    "usable: TLS without authentication, RFC 7672 2.2)",
			    0, 0);
		} else if (pol.level == TLSPOL_DANE) {
			tls_fail("4.7.5", p, "has no TLSA record", 0);
			return -1;
		}
	}
	if (!p->dane && sts_mode == 2 && p->level < TLSPOL_VERIFY) {
		p->level = TLSPOL_VERIFY;
		p->sts = 1;
		plan_why(p, "MTA-STS policy enforce (RFC 8461)", 0, 0);
	} else if (!p->dane && sts_mode == 1 && p->level <= TLSPOL_MAY)
		p->sts = 1;	/* testing: verified and logged only */
	if (tls_before && downgrade_defer && p->level < TLSPOL_ENCRYPT) {
		p->level = TLSPOL_ENCRYPT;
		plan_why(p, "downgrade memory: ", domain, " spoke TLS before "
		    "(control/tlsdowngrade)");
	}
	return 0;
}

/* tls_add - one association for SSL's DANE check; 1 usable */
static int
tls_add(unsigned u, unsigned sel, unsigned mt, const unsigned char *d,
    size_t l)
{
	return SSL_dane_tlsa_add(ssl, (uint8_t)u, (uint8_t)sel, (uint8_t)mt,
	    d, l) > 0;
}

/* tls_name - the peer certificate's verified name, else its first
 * DNS name or CN, for the logs; "" without one */
static void
tls_name(str *out)
{
	const char *pn = SSL_get0_peername(ssl);
	X509 *c;
	char b[256];

	if (pn) {
		if (str_puts(out, pn) < 0)
			die_nomem();
		return;
	}
	c = SSL_get0_peer_certificate(ssl);
	if (c && X509_NAME_get_text_by_NID(X509_get_subject_name(c),
	    NID_commonName, b, sizeof b) > 0) {
		size_t i;

		for (i = 0; b[i]; i++)	/* the peer's bytes: printable */
			if ((unsigned char)b[i] < 33 || b[i] == 127)
				b[i] = '?';
		if (str_puts(out, b) < 0)
			die_nomem();
	}
}

/* tls_start - TLS on fd (after STARTTLS's 220, or at once on port
 * 465), checked against the plan; the bufs then run over it.  0 done;
 * -1 the handshake failed (lasterr set, nothing more can be said on
 * this connection); -2 it worked but the certificate failed the plan
 * (lasterr set; QUIT can still go over TLS). */
static int
tls_start(int fd, const struct target *t, const struct plan *p, buf *in,
    buf *out)
{
	dns_addr lit;
	const char *how = "none", *bad = 0;
	int r;
	long v;

	tls_ctx();
	/* remote writes whole commands from its own buffer; without this
	 * Nagle holds the first command after the handshake's last flight
	 * for the peer's delayed ACK (~40 ms a message, bench/) */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 },
	    sizeof(int));
	ERR_clear_error();
	ssl = SSL_new(ctx);
	if (!ssl || !SSL_set_fd(ssl, fd))
		temp("unable to set up TLS: ", tls_reason(), 0);
	if (dns_ipscan(t->host, &lit, 0) < 0 &&
	    !SSL_set_tlsext_host_name(ssl, t->host))
		temp("unable to set up TLS: ", tls_reason(), 0);
	if (p->dane || p->fp) {
		size_t k, off = 0;
		int usable = 0;

		if (SSL_dane_enable(ssl, t->host) <= 0)
			temp("unable to set up DANE: ", tls_reason(), 0);
		/* RFC 7672 3.1.1: no name checks for DANE-EE(3) */
		SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
		for (k = 0; p->dane && k < tlsa_n; k++) {
			const unsigned char *d = (const unsigned char *)tlsa.s
			    + off;
			size_t l = (size_t)(d[3] << 8 | d[4]);

			if (d[0] == 2 || d[0] == 3)
				usable |= tls_add(d[0], d[1], d[2], d + 5, l);
			off += 5 + l;
		}
		/* a pin is a DANE-EE record: certificate 3 0 1, key 3 1 1 */
		for (k = 0; p->fp && k < pol.nfp; k++)
			usable |= tls_add(3, 0, 1, pol.fp[k], TLSPOL_FP_LEN) |
			    tls_add(3, 1, 1, pol.fp[k], TLSPOL_FP_LEN);
		if (!usable)
			ERR_clear_error();	/* checked below: fails */
		/* RFC 7672 3.2.2: DANE-TA names: the TLSA base domain */
	} else if (p->level == TLSPOL_VERIFY || p->sts) {
		tls_castore();
		/* the name, or for an address literal the address */
		if (dns_ipscan(t->host, &lit, 0) < 0 ?
		    !SSL_set1_host(ssl, t->host) :
		    !X509_VERIFY_PARAM_set1_ip(SSL_get0_param(ssl), lit.ip,
		    lit.af == AF_INET ? 4 : 16))
			temp("unable to set up TLS: ", tls_reason(), 0);
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	}
	for (;;) {
		errno = 0;
		r = SSL_connect(ssl);
		if (r > 0)
			break;
		if (tls_step(r, timeout_remote) < 0) {
			const char *why = tls_reason();

			tls_end();
			tls_fail("4.7.5", p, "TLS handshake failed: ", why);
			return -1;
		}
	}
	buf_hook(in, tls_read, 0, ssl);
	buf_hook(out, 0, tls_write, ssl);
	v = SSL_get_verify_result(ssl);
	if (p->dane || p->fp) {
		if (v != X509_V_OK || SSL_get0_dane_authority(ssl, 0, 0) < 0)
			bad = p->dane ? "certificate does not match the TLSA "
			    "records: " : "certificate does not match the "
			    "pinned fingerprint: ";
		else
			how = p->dane ? "dane" : "fingerprint";
	} else if (p->level == TLSPOL_VERIFY || p->sts) {
		if (v != X509_V_OK)
			bad = "certificate verification failed: ";
		else
			how = p->sts ? "mta-sts" : "trusted";
	}
	if (bad)
		how = "failed";
	tlsinfo.len = 0;
	if (str_puts(&tlsinfo, " TLS=") < 0 ||
	    str_puts(&tlsinfo, SSL_get_version(ssl)) < 0 ||
	    str_putc(&tlsinfo, ':') < 0 ||
	    str_puts(&tlsinfo, SSL_get_cipher_name(ssl)) < 0 ||
	    str_puts(&tlsinfo, " verify=") < 0 ||
	    str_puts(&tlsinfo, how) < 0 || str_puts(&tlsinfo, " name=") < 0)
		die_nomem();
	tls_name(&tlsinfo);
	if (str_put(&peer, tlsinfo.s, tlsinfo.len) < 0)
		die_nomem();
	if (bad) {
		tls_fail("4.7.5", p, bad, v != X509_V_OK ?
		    X509_verify_cert_error_string(v) : "no match");
		if (p->level >= TLSPOL_VERIFY)
			return -2;
		warn_lasterr();	/* MTA-STS testing: logged only */
	}
	return 0;
}

/* ---- downgrade memory: remote/tls/DOMAIN in the home ---- */

/* seen_path - the domain's file, or 0 for a name that is no plain
 * domain (a literal, odd bytes) */
static const char *
seen_path(void)
{
	static str path = STR_INIT;
	const char *d;

	if (!*domain || *domain == '.' || strlen(domain) > 253)
		return 0;
	for (d = domain; *d; d++)
		if (!((*d >= 'a' && *d <= 'z') || (*d >= 'A' && *d <= 'Z') ||
		    (*d >= '0' && *d <= '9') || *d == '-' ||
		    (*d == '.' && d[1] != '.')))
			return 0;
	path.len = 0;
	if (home_path(&path, "remote/tls/") < 0)
		die_nomem();
	path.len = strlen(path.s);
	for (d = domain; *d; d++)
		if (str_putc(&path, (char)(*d >= 'A' && *d <= 'Z' ?
		    *d - 'A' + 'a' : *d)) < 0)
			die_nomem();
	if (str_0(&path) < 0)
		die_nomem();
	return path.s;
}

static void
seen_load(void)
{
	const char *p = seen_path();

	tls_before = p && access(p, F_OK) == 0;
}

/* seen_mark - the domain spoke TLS: remember it (best effort: a
 * memory that cannot be written is logged, never a failure) */
static void
seen_mark(void)
{
	const char *p = seen_path();
	int fd;

	if (!p || tls_before)
		return;
	fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		warn_msg("unable to remember that the domain spoke TLS: ",
		    p, ": ", strerror(errno));
	else
		close(fd);
}

/* ---- AUTH to a relay (RFC 4954), over TLS only ---- */

/* auth_step - send line (not logged), read the reply; its code */
static int
auth_step(buf *in, buf *out, const str *line)
{
	if (buf_put(out, line->s, line->len) < 0 ||
	    buf_putflush(out, "\r\n", 2) < 0)
		return -1;
	return get_reply(in);
}

/* auth - log in to the relay with its control/smtpauth credentials.
 * 0 done or none to give; -1 lasterr says why (temporary). */
static int
auth(const struct target *t, buf *in, buf *out)
{
	static str l = STR_INIT, plain = STR_INIT;
	const char *user, *pass;
	size_t ul;
	int code;

	if (!t->relay || !auth_find(t->host, &user, &ul, &pass))
		return 0;
	if (!ssl) {	/* tls_plan made TLS mandatory: cannot happen */
		if (str_0(&peer) < 0)
			die_nomem();
		set_err("4.7.10", "refusing to send control/smtpauth "
		    "credentials in clear text to ", peer.s, 0);
		return -1;
	}
	l.len = 0;
	if (ext_plain) {
		plain.len = 0;
		if (str_putc(&plain, 0) < 0 || str_put(&plain, user, ul) < 0 ||
		    str_putc(&plain, 0) < 0 || str_puts(&plain, pass) < 0 ||
		    str_puts(&l, "AUTH PLAIN ") < 0 ||
		    b64_encode(plain.s, plain.len, &l) < 0)
			die_nomem();
		explicit_bzero(plain.s, plain.len);
		code = auth_step(in, out, &l);
	} else if (ext_login) {
		if (str_puts(&l, "AUTH LOGIN") < 0)
			die_nomem();
		code = auth_step(in, out, &l);
		l.len = 0;
		if (code == 334 && b64_encode(user, ul, &l) < 0)
			die_nomem();
		if (code == 334)
			code = auth_step(in, out, &l);
		l.len = 0;
		if (code == 334 && b64_encode(pass, strlen(pass), &l) < 0)
			die_nomem();
		if (code == 334)
			code = auth_step(in, out, &l);
	} else {
		if (str_0(&peer) < 0)
			die_nomem();
		set_err("4.7.4", peer.s, " offers neither AUTH PLAIN nor AUTH "
		    "LOGIN for the control/smtpauth credentials", 0);
		return -1;
	}
	explicit_bzero(l.s, l.len);
	if (code < 0) {
		io_err(" during AUTH");
		return -1;
	}
	if (code != 235) {
		say(&lasterr, code == 535 ? " refused the credentials of "
		    "control/smtpauth (bad user name or password?): " :
		    " refused AUTH: ");
		lasterr.s[0] = '4';	/* temporary: the admin can fix it */
		return -1;
	}
	return 0;
}

/* sts_apply - MTA-STS (RFC 8461; mtasts.c decides the policy, with its
 * cache in the home's mtasts/): only exchangers whose name the policy
 * lists are used, each with TLS and a certificate valid for its name
 * against the CA store (control/tlscafile or the system's).  enforce:
 * the others are dropped and a failure defers; testing: nothing
 * changes, what would have failed is logged.  Targets whose TLSA
 * records validate keep DANE instead (DANE wins, RFC 8461 2).  Called
 * after the exchangers are found from MX records (not for smtproutes)
 * and named (targets_done), before they are tried. */
static void
sts_apply(void)
{
	static struct mtasts_policy sts;	/* 64 names: not on the stack */
	const char *why = 0;
	int enforce;
	size_t i, k = 0;

	dns_ready();
	if (mtasts_get(domain, &sts, &why) == MTASTS_NONE)
		return;
	enforce = sts.mode == MTASTS_ENFORCE;
	sts_mode = enforce ? 2 : 1;
	for (i = 0; i < ntargets; i++) {
		targets[i].sts = mtasts_mx_match(&sts, targets[i].host);
		if (!targets[i].sts)
			err_warn("MTA-STS ", enforce ? "enforce" : "testing",
			    ": ", domain, ": MX ", targets[i].host,
			    " is not in the policy", enforce ? "; not used" :
			    "", (char *)0);
		if (targets[i].sts || !enforce)
			targets[k++] = targets[i];
	}
	ntargets = k;
	if (!ntargets)
		temp_st("4.7.5", "MTA-STS policy (enforce) of ", domain,
		    " lists none of its MX hosts");
}

/* tls_load - the TLS control files (docs/remote.md) */
static void
tls_load(void)
{
	static str list = STR_INIT;
	const char *bad = 0;
	int r;

	r = control_readlist(&list, "tlsdestinations");
	if (r < 0)
		temp("unable to read control/tlsdestinations: ",
		    strerror(errno), 0);
	pol.level = TLSPOL_MAY;
	if (r > 0) {
		r = tlspol_find(list.s, list.len, domain, &pol, &bad);
		if (r < 0)
			temp_st("4.7.5", "bad line in control/tlsdestinations "
			    "(mail waits rather than go out under a policy "
			    "not meant): ", bad, 0);
		pol_set = r;
	}
	/* absolute, or relative to the home (the same as the MTA-STS
	 * fetch's): remote's directory is not the home under qpost-spawn */
	if (control_filename(&cafile, "tlscafile") < 0)
		temp("unable to read control/tlscafile: ", strerror(errno), 0);
	if (control_readlist(&authlist, "smtpauth") < 0)
		temp("unable to read control/smtpauth: ", strerror(errno), 0);
	dane_auto = ctl_number("tlsdane");
	downgrade_defer = ctl_number("tlsdowngrade");
	seen_load();
}

/* starttls - STARTTLS on a greeted connection whose EHLO offered it,
 * then TLS by the plan and EHLO again.  0 go on (over TLS); -1 next
 * target (lasterr set); TLS_CLEAR the plan allows clear text and the
 * peer failed TLS: try the same target again without it. */
static int
starttls(int fd, const struct target *t, const struct plan *p, buf *in,
    buf *out)
{
	int code = -1, r;

	if (buf_putflush(out, "STARTTLS\r\n", 10) == 0)
		code = get_reply(in);
	if (code != 220) {
		if (code < 0)
			io_err(" after STARTTLS");
		else
			say(&lasterr, " refused STARTTLS: ");
		if (p->level >= TLSPOL_ENCRYPT) {
			tls_fail("4.7.5", p, code < 0 ? "closed the connection "
			    "after STARTTLS" : "refused STARTTLS", 0);
			if (code > 0)
				quit(in, out);
			return -1;
		}
		if (code < 0)
			return TLS_CLEAR;
		warn_lasterr();	/* 4xx/5xx to STARTTLS: go on in clear */
		return 0;
	}
	r = tls_start(fd, t, p, in, out);
	if (r == -1)
		return p->level >= TLSPOL_ENCRYPT ? -1 : TLS_CLEAR;
	if (r == -2) {
		warn_lasterr();
		quit(in, out);
		return -1;
	}
	code = ehlo(in, out);
	if (code < 0) {
		io_err(" after EHLO over TLS");
		return -1;
	}
	if (code < 200 || code >= 300) {
		say(&lasterr, " refused EHLO over TLS: ");
		quit(in, out);
		return -1;
	}
	return 0;
}

/* try - one target, in clear if clear.  0 when the transaction ran
 * (results are in), -1 to go on to the next target (lasterr says why),
 * TLS_CLEAR to try this one again in clear. */
static int
try(const struct target *t, int clear)
{
	static struct plan p = { .why = STR_INIT };
	char ip[INET6_ADDRSTRLEN];
	buf in, out;
	int fd, code, r;

	if (!inet_ntop(t->a.af, t->a.ip, ip, sizeof ip))
		strcpy(ip, "?");
	peer.len = 0;
	peerhost = t->host;
	if (str_puts(&peer, t->host) < 0 || str_putc(&peer, '[') < 0 ||
	    str_puts(&peer, ip) < 0 || str_putc(&peer, ']') < 0)
		die_nomem();
	if (t->port != SMTP_PORT && (str_putc(&peer, ':') < 0 ||
	    str_putu(&peer, t->port) < 0))
		die_nomem();
	if (tls_plan(t, &p) < 0) {
		warn_lasterr();
		return -1;
	}
	fd = dial(t);
	if (fd < 0) {
		lasterr.len = 0;
		if (str_puts(&lasterr, "4.4.1 ") < 0 ||
		    str_put(&lasterr, peer.s, peer.len) < 0 ||
		    str_puts(&lasterr, ": connect: ") < 0 ||
		    str_puts(&lasterr, errno == ETIMEDOUT ? "timed out" :
		    strerror(errno)) < 0)
			die_nomem();
		warn_lasterr();
		return -1;
	}
	buf_init(&in, fd, inspace, sizeof inspace, timeout_remote);
	buf_init(&out, fd, outspace, sizeof outspace, timeout_remote);
	if (t->relay == RELAY_TLS) {	/* TLS on connect */
		r = tls_start(fd, t, &p, &in, &out);
		if (r == -1)
			goto next;
		if (r == -2) {
			quit(&in, &out);	/* after the greeting, really */
			goto next;
		}
	}
	code = get_reply(&in);
	if (code < 0) {
		io_err(" in the greeting");
		goto next;
	}
	if (code != 220) {
		say(&lasterr, " greeted us with: ");
		quit(&in, &out);
		goto next;
	}
	code = ehlo(&in, &out);
	if (code < 0) {
		io_err(" after EHLO");
		goto next;
	}
	if (code < 200 || code >= 300) {
		say(&lasterr, " refused EHLO and HELO: ");
		quit(&in, &out);
		goto next;
	}
	if (!ssl && !clear && p.level > TLSPOL_NONE && ext_starttls) {
		r = starttls(fd, t, &p, &in, &out);
		if (r == TLS_CLEAR) {
			warn_lasterr();
			if (str_0(&peer) < 0)
				die_nomem();
			warn_msg("trying ", peer.s, " again without TLS: ",
			    p.why.s);
			tls_end();
			close(fd);
			return TLS_CLEAR;
		}
		if (r < 0)
			goto next;
	} else if (!ssl && p.level >= TLSPOL_ENCRYPT) {
		tls_fail("4.7.4", &p, "did not offer STARTTLS", 0);
		quit(&in, &out);
		goto next;
	} else if (!ssl && p.sts) {	/* MTA-STS testing: log only */
		if (str_0(&peer) < 0)
			die_nomem();
		warn_msg("MTA-STS testing: ", peer.s, " offers no STARTTLS; "
		    "enforce would defer", 0);
	} else if (!ssl && !clear && tls_before && p.level > TLSPOL_NONE) {
		static str w = STR_INIT;	/* downgrade memory, loudly */

		if (str_copy(&w, peer.s, peer.len) < 0)
			die_nomem();
		if (str_puts(&w, " offers no STARTTLS; sending in clear "
		    "(control/tlsdowngrade 1 would defer)") < 0 ||
		    str_0(&w) < 0)
			die_nomem();
		warn_msg("DOWNGRADE? ", domain, " spoke TLS before but ",
		    w.s);
	}
	if (auth(t, &in, &out) < 0) {
		quit(&in, &out);
		goto next;
	}
	transaction(&in, &out);
	if (ssl)
		seen_mark();
	tls_end();
	close(fd);
	return 0;
next:
	warn_lasterr();
	tls_end();
	close(fd);
	return -1;
}

int
main(int argc, char **argv)
{
	size_t i;
	int j, routed;

	err_prog = "remote";
	err_help(argc, argv, "usage: remote DOMAIN SENDER RCPT...");
	signal(SIGPIPE, SIG_IGN);
	if (argc > 1 && !strcmp(argv[1], "-S")) {	/* a domain never
							 * starts with '-' */
		sign = 1;
		argc--;
		argv++;
	}
	if (argc < 4)
		err_die(100, "usage: remote DOMAIN SENDER RCPT...", (char *)0);
	domain = argv[1];
	sender = argv[2];
	rcpt = argv + 3;
	nrcpt = argc - 3;
	rstat = calloc((size_t)nrcpt, 1);
	rtext = calloc((size_t)nrcpt, sizeof *rtext);
	accepted = calloc((size_t)nrcpt, sizeof *accepted);
	if (!rstat || !rtext || !accepted)
		die_nomem();
	if (str_copys(&lasterr, "") < 0 || str_copys(&msgtext, "") < 0)
		die_nomem();
	for (j = 0; j < nrcpt; j++)
		if (str_copys(&rtext[j], "") < 0)
			die_nomem();

	/* a control character in a path could smuggle a command */
	if (!addr_clean(sender))
		perm_st("5.1.7", "Sorry, the sender address contains control "
		    "characters", 0, 0);
	for (j = 0; j < nrcpt; j++) {
		if (addr_clean(rcpt[j]))
			continue;
		rstat[j] = 'h';
		if (str_copys(&rtext[j], "5.1.3 Sorry, the recipient address "
		    "contains control characters") < 0)
			die_nomem();
		if (str_copy(&lasterr, rtext[j].s, rtext[j].len) < 0)
			die_nomem();
	}
	for (j = 0; j < nrcpt && rstat[j]; j++)
		;
	if (j == nrcpt)
		report();

	ctl_load();
	tls_load();
	msg_load();
	if (sign)
		dkim_msg();
	routed = routes();
	if (!routed)
		mx_targets();
	targets_done();
	if (!routed)
		sts_apply();	/* after targets_done: names set */
	for (i = 0; i < ntargets; i++) {
		int r = try(&targets[i], 0);

		if (r == TLS_CLEAR)
			r = try(&targets[i], 1);
		if (r == 0)
			report();
	}
	if (ntargets > 1) {
		/* the last host's status and DSN lines stay */
		static str all = STR_INIT;
		size_t k = dsn_scan(lasterr.s, lasterr.len);

		if (k && k < lasterr.len)
			k++;
		if (str_copy(&all, lasterr.s, k) < 0 ||
		    str_puts(&all, "no mail exchanger could be used; last: ") < 0 ||
		    str_put(&all, lasterr.s + k, lasterr.len - k) < 0 ||
		    str_copy(&lasterr, all.s, all.len) < 0)
			die_nomem();
	}
	finish('s');
}
