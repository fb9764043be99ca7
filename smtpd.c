/* smtpd - the SMTP server for one connection.
 *
 * Purpose: speak SMTP (RFC 5321, with PIPELINING, SIZE, 8BITMIME and
 * ENHANCEDSTATUSCODES) to one client and hand each accepted message to
 * the queue program (qq.h: $QPOST_QUEUE, else the home's bin/queue).
 * smtpd never listens on a socket: tcpserver (ucspi-tcp) accepts the
 * connection, applies the IP rules and runs smtpd.
 *
 * Interface:
 *   argv   [checker [arg...]]: a checkpassword program for AUTH (docs/
 *          auth.md), run as "checker arg... /bin/true" with
 *          "user\0password\0\0" on its fd 3; no AUTH without one.
 *   fd 0   the connection, read side; fd 1 the connection, write side
 *          (after STARTTLS both become the socket to the TLS front end).
 *   fd 2   the log: a line when a connection starts and ends, one per
 *          accepted message, one per 4xx/5xx reply to MAIL, RCPT or DATA
 *          ("refused ..."); docs/logging.md lists them all.
 *   env    TCPREMOTEIP, TCPREMOTEHOST, TCPLOCALIP (from tcpserver);
 *          RELAYCLIENT (from the rules): when set, any recipient is
 *          accepted and the value is appended to it, as in qmail;
 *          SSLCTLFD (tlsd: STARTTLS by the UCSPI-TLS convention, below);
 *          SSL_PROTOCOL, SSL_CIPHER... (tlsd -i: the session is in TLS);
 *          TLSREQUIRED: no MAIL before TLS; AUTHCLEAR: AUTH allowed in
 *          clear text; SUBMISSION: TLS and AUTH before MAIL, header
 *          completion (RFC 6409); QPOST_HOME, QPOST_QUEUE.  Sets
 *          SMTPAUTHUSER for the queue program after AUTH, QPOST_HELO
 *          after HELO/EHLO; the queue program may refuse with exit 82
 *          and its own reply line (docs/queue.md).
 *   control/  me, smtpgreeting, rcpthosts, morercpthosts.cdb, databytes,
 *          timeoutsmtpd, timeoutsession, timeoutdata, concurrencyperip,
 *          maxrcpt, rejectunknown, timeoutcheckpw, senderlogins,
 *          spfreject (bin/authcheck --mail at MAIL; docs/smtpd.md,
 *          docs/auth.md, docs/authcheck.md).
 *   run/smtpd/  per-address session counts: one fcntl lock per session
 *          (made when missing; docs/smtpd.md).
 *
 * STARTTLS (docs/tls.md): smtpd answers 220, flushes it, drops every byte
 * it holds from the client (CVE-2011-0411), writes 'Y' to SSLCTLFD and
 * dup2s that socket onto fd 0 and 1; tlsd does the handshake and sends
 * "VAR=value\0"... "\0" (SSL_PROTOCOL, SSL_CIPHER, key sizes) before the
 * plain text of the TLS stream; EOF there means the handshake failed.
 *
 * Exit codes: 0 after QUIT; 111 when the controls cannot be read, the
 * client timed out or reached the session or DATA deadline, dropped the
 * connection, wrote too many bad commands, failed AUTH too often or has
 * too many sessions open (after a 421 where the connection still works),
 * or the TLS handshake failed.
 *
 * Privilege: none.  Runs as an unprivileged user; never as root.
 *
 * Hostile input: command lines are bounded (SMTP_LINE_MAX) and must end
 * in CRLF; a bare CR or LF in a command refuses the line, and inside DATA
 * marks the message, which is then refused after the final dot with
 * nothing queued.  Only CR LF "." CR LF ends a message (no smuggling).
 * What local would refuse after a 250 (a recipient's own Delivered-To
 * line: a loop) and too many hops are refused at the dot instead, so that
 * no bounce quoting the client's text is ever made.
 */
#include <cdb.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "b64.h"
#include "buf.h"
#include "control.h"
#include "date.h"
#include "err.h"
#include "hdr.h"
#include "home.h"
#include "num.h"
#include "qq.h"
#include "recip.h"
#include "spawn.h"
#include "str.h"

#define SMTP_LINE_MAX 1000		/* octets per command line, CRLF included
					 * (RFC 5321 4.5.3.1.4 allows 512) */
#define AUTH_LINE_MAX 12288		/* an AUTH command or response line,
					 * CRLF included (RFC 4954 4) */
#define AUTH_FAIL_MAX 3			/* failed AUTHs before 421 and close */
#define BADCMD_MAX 20			/* bad commands before 421 and close */
#define TIMEOUT_DEFAULT 1200		/* seconds of client silence until the
					 * control files are read (their
					 * defaults: control_nums in control.c) */
#define HELO_SHOW_MAX 255		/* HELO bytes put in Received: */
#define MAXHOPS 100			/* Received:/Delivered-To: lines before
					 * a message is taken as looping */
#define PERIP_DIR "run/smtpd"		/* the per-IP session counts, under
					 * the home */
#define PERIP_SHIFT 16			/* an address's slots start at its
					 * key << 16: concurrencyperip is at
					 * most 65535 (control_nums) */
#define PERIP_KEYS (1ULL << 46)		/* keys below this: offsets below
					 * 2^62, within off_t */
#define LOG_FIELD_MAX 512		/* bytes of one client value (HELO, an
					 * address) shown in a log line */

static buf in, out;
static char inspace[BUF_SIZE], outspace[BUF_SIZE];
static char line[AUTH_LINE_MAX + 1];	/* the current command, no CRLF */
static size_t linelen;

static str me = STR_INIT, greeting = STR_INIT, rcpthosts = STR_INIT;
static str helo = STR_INIT, mailfrom = STR_INIT, rcpts = STR_INIT;
static str addr = STR_INIT, logline = STR_INIT;
static struct cdb morercpt;
static int have_morercpt;
static unsigned long databytes;
static unsigned long maxrcpt;
static int rejectunknown = 1;
static unsigned long spfreject;		/* control/spfreject: MAIL check */
static const char *remoteip = "unknown", *remotehost = "unknown";
static const char *relayclient;
static int seenhelo, esmtp, seenmail;
static int tlsctl = -1;			/* SSLCTLFD: a TLS front end is there */
static int tls;				/* the session is inside TLS */
static int tlsrequired;			/* TLSREQUIRED: no MAIL before TLS */
static char **checker;			/* argv: the checkpassword program */
static int authclear;			/* AUTHCLEAR: AUTH without TLS allowed */
static int submission;			/* SUBMISSION: RFC 6409 rules */
static int authed;
static unsigned long nauthfail;
static unsigned long checktimeout;
static str authuser = STR_INIT;
static const char *relayclient_env;
static str tlsproto = STR_INIT, tlscipher = STR_INIT;
static str tlsuse = STR_INIT, tlsalg = STR_INIT;	/* key sizes */
static unsigned long nrcpt, nmsg, nbad;
static unsigned long perip;		/* control/concurrencyperip */
static int peripfd = -1;		/* the count file we hold a slot in */
static str peripfile = STR_INIT;	/* its path */
static long long idlems;		/* control/timeoutsmtpd, in ms */
static long long sessionend, dataend;	/* deadlines (now_ms); 0: none */
static unsigned long datasecs;		/* control/timeoutdata */
static struct recip rcptinfo;
static str dtrcpts = STR_INIT;	/* the Delivered-To addresses local will
				 * check for this message's recipients */
static str looped = STR_INIT;	/* the one found in the header */

/* Replies.  Output waits in out until the client has nothing more for us
 * to read (in_fill), so a pipelined group gets its replies in one write. */

static void perip_release(void);
static noreturn void die_nomem(void);

static noreturn void
bye(const char *why, int code)
{
	char num[NUM_LEN];

	perip_release();
	err_info("end ip ", remoteip, " helo ", helo.len ? helo.s : "-",
	    " msgs ", num_fmt(num, nmsg), " ", why, (const char *)0);
	_exit(code);
}

static void
out_puts(const char *s)
{
	if (buf_puts(&out, s) < 0)
		bye("write failed", 111);
}

static void
out_flush(void)
{
	if (buf_flush(&out) < 0)
		bye("write failed", 111);
}

/* Log lines.  A value from the client is shown bounded
 * (LOG_FIELD_MAX, then "...") with every byte that could make the line
 * ambiguous (space, '<', '>', '\\', control and 8-bit bytes) as \xHH, so
 * that the fields of a line can be told apart by a grep. */

static void
log_field(str *l, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < LOG_FIELD_MAX; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c >= 127 || c == '<' || c == '>' || c == '\\') {
			char e[4] = { '\\', 'x', "0123456789abcdef"[c >> 4],
			    "0123456789abcdef"[c & 15] };

			if (str_put(l, e, sizeof e) < 0)
				die_nomem();
		} else if (str_putc(l, (char)c) < 0)
			die_nomem();
	}
	if (i < n && str_puts(l, "...") < 0)
		die_nomem();
}

/* log_head - start logline: "WHAT ip IP helo HELO[ user USER]" */
static void
log_head(const char *what)
{
	logline.len = 0;
	if (str_puts(&logline, what) < 0 || str_puts(&logline, " ip ") < 0 ||
	    str_puts(&logline, remoteip) < 0 ||
	    str_puts(&logline, " helo ") < 0)
		die_nomem();
	if (helo.len)
		log_field(&logline, helo.s, helo.len);
	else if (str_putc(&logline, '-') < 0)
		die_nomem();
	if (authed) {
		if (str_puts(&logline, " user ") < 0)
			die_nomem();
		log_field(&logline, authuser.s, authuser.len);
	}
}

/* log_addr - " WORD <ADDR>", or " WORD -" when a is 0 */
static void
log_addr(const char *word, const char *a)
{
	if (str_putc(&logline, ' ') < 0 || str_puts(&logline, word) < 0 ||
	    str_puts(&logline, a ? " <" : " -") < 0)
		die_nomem();
	if (!a)
		return;
	log_field(&logline, a, strlen(a));
	if (str_putc(&logline, '>') < 0)
		die_nomem();
}

/* log_rcpts - " to <R1> <R2>...", every recipient of the transaction */
static void
log_rcpts(void)
{
	size_t pos = 0;
	const char *r;

	if (str_puts(&logline, " to") < 0)
		die_nomem();
	if (!rcpts.len && str_puts(&logline, " -") < 0)
		die_nomem();
	while ((r = control_next(&rcpts, &pos))) {
		if (str_puts(&logline, " <") < 0)
			die_nomem();
		log_field(&logline, r, strlen(r));
		if (str_putc(&logline, '>') < 0)
			die_nomem();
	}
}

/* log_reply - ": REPLY" (our own text, without its CRLF), then the line */
static void
log_reply(const char *reply)
{
	size_t n = strcspn(reply, "\r\n");

	if (str_puts(&logline, ": ") < 0 || str_put(&logline, reply, n) < 0 ||
	    str_0(&logline) < 0)
		die_nomem();
	err_info(logline.s, (const char *)0);
}

/* refusal_log - the one line for a 4xx or 5xx reply: "refused ip IP
 * helo HELO [user USER] from <SENDER> to <RCPT>[ NOTE]: REPLY"; from 0
 * when no sender is known yet, to 0 for no recipient, to RCPTS_ALL for
 * every recipient of the transaction; note is ours ("size N", ...) */
#define RCPTS_ALL ((const char *)1)
static void
refusal_log(const char *reply, const char *from, const char *to,
    const char *note)
{
	log_head("refused");
	log_addr("from", from);
	if (to == RCPTS_ALL)
		log_rcpts();
	else
		log_addr("to", to);
	if (note && (str_putc(&logline, ' ') < 0 ||
	    str_puts(&logline, note) < 0))
		die_nomem();
	log_reply(reply);
}

/* refuse - give reply, a 4xx or 5xx to MAIL, RCPT or DATA, and log it */
static void
refuse(const char *reply, const char *from, const char *to)
{
	refusal_log(reply, from, to, 0);
	out_puts(reply);
}

static noreturn void
die_close(const char *reply, const char *why)
{
	out_puts(reply);
	(void)buf_flush(&out);
	bye(why, 111);
}

static noreturn void
die_control(void)
{
	err_warnsys("unable to read controls", (const char *)0);
	die_close("421 4.3.0 unable to read controls, closing connection\r\n",
	    "controls unreadable");
}

static noreturn void
die_nomem(void)
{
	die_close("421 4.3.0 out of memory, closing connection\r\n",
	    "out of memory");
}

/* Deadlines.  timeoutsmtpd bounds each read and write; a client sending
 * one byte just inside it would still hold the session (and, in DATA, a
 * queue process and its tmp file) for ever, so the whole session
 * (timeoutsession) and each DATA phase (timeoutdata) have deadlines too.
 * Each wait is the idle timeout cut to what is left of them. */

static long long
now_ms(void)
{
	struct timespec t;

	(void)clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* deadline_check - end the session when a deadline has passed; else set
 * the wait for the next read and write */
static void
deadline_check(int indata)
{
	long long now = now_ms(), w = idlems;

	if (now >= sessionend)
		die_close("421 4.4.2 session time limit exceeded, closing "
		    "connection\r\n", indata ? "session time limit in DATA"
		    : "session time limit");
	if (indata && dataend && now >= dataend)
		die_close("421 4.4.2 DATA time limit exceeded, closing "
		    "connection\r\n", "DATA time limit");
	if (sessionend - now < w)
		w = sessionend - now;
	if (indata && dataend && dataend - now < w)
		w = dataend - now;
	in.timeout = out.timeout = (int)w;
}

/* in_fill - make input available, flushing our replies first when the
 * client has sent nothing more yet.  Returns >0, or ends the session. */
static size_t
in_fill(int indata)
{
	ssize_t r;

	if (in.p >= in.n) {
		deadline_check(indata);
		out_flush();
	}
	deadline_check(indata);
	r = buf_fill(&in);
	if (r > 0)
		return (size_t)r;
	if (r < 0 && errno == ETIMEDOUT) {
		deadline_check(indata);		/* which one it was */
		die_close("421 4.4.2 timeout, closing connection\r\n",
		    indata ? "timeout in DATA" : "timeout");
	}
	bye(r == 0 ? (indata ? "dropped in DATA" : "dropped")
	    : "read failed", 111);
}

/* Command lines. */

#define LINE_OK 0
#define LINE_LONG 1	/* over SMTP_LINE_MAX, dropped */
#define LINE_BARE 2	/* a CR or LF not part of a CRLF */

/* getcmd - read one command line into line[]; CRLF is required. */
static int
getcmd(void)
{
	int bad = LINE_OK;
	size_t total = 0;

	linelen = 0;
	for (;;) {
		size_t n = in_fill(0), i, take;
		const char *s = buf_peek(&in, &n);
		const char *lf = memchr(s, '\n', n);

		take = lf ? (size_t)(lf - s) + 1 : n;
		for (i = 0; i < take; i++) {
			if (total + i >= AUTH_LINE_MAX) {
				if (bad == LINE_OK)
					bad = LINE_LONG;
				break;
			}
			line[linelen++] = s[i];
		}
		total += take;
		buf_skip(&in, take);
		if (lf)
			break;
	}
	if (bad == LINE_LONG)
		return bad;
	/* line holds the LF; it must be preceded by CR, and no other CR */
	linelen--;
	if (!linelen || line[linelen - 1] != '\r')
		return LINE_BARE;
	linelen--;
	if (memchr(line, '\r', linelen))
		return LINE_BARE;
	line[linelen] = 0;
	return LINE_OK;
}

static void
bad(const char *reply)
{
	if (++nbad >= BADCMD_MAX)
		die_close("421 4.7.0 too many bad commands, closing "
		    "connection\r\n", "too many bad commands");
	out_puts(reply);
}

/* refuse_bad - refuse (logged) a command that also counts as a bad one */
static void
refuse_bad(const char *reply, const char *from, const char *to)
{
	refusal_log(reply, from, to, 0);
	bad(reply);
}

/* Controls, read once per connection. */

static void
read_controls(void)
{
	unsigned long u;
	int r;
	str x = STR_INIT;

	if (control_readline(&me, "me") != 1)
		die_control();
	r = control_readline(&greeting, "smtpgreeting");
	if (r < 0)
		die_control();
	if (r == 0 && str_copy(&greeting, me.s, me.len + 1) < 0)
		die_nomem();
	if (control_readlist(&rcpthosts, "rcpthosts") < 0)
		die_control();
	addr_lower(rcpthosts.s, rcpthosts.len);
	if (control_number("databytes", &databytes) < 0 ||
	    control_number("timeoutsmtpd", &u) < 0 ||
	    control_number("timeoutcheckpw", &checktimeout) < 0 ||
	    control_number("maxrcpt", &maxrcpt) < 0 ||
	    control_number("concurrencyperip", &perip) < 0 ||
	    control_number("timeoutdata", &datasecs) < 0 ||
	    control_number("spfreject", &spfreject) < 0)
		die_control();
	idlems = (long long)u * 1000;
	in.timeout = out.timeout = (int)idlems;
	if (control_number("timeoutsession", &u) < 0)
		die_control();
	sessionend = now_ms() + (long long)u * 1000;
	r = control_readline(&x, "rejectunknown");
	if (r < 0)
		die_control();
	if (r == 1 && !strcmp(x.s, "0"))
		rejectunknown = 0;
	str_free(&x);
	if (home_path(&x, "control/morercpthosts.cdb") < 0)
		die_nomem();
	r = open(x.s, O_RDONLY | O_CLOEXEC);
	if (r < 0 && errno != ENOENT)
		die_control();
	if (r >= 0) {
		if (cdb_init(&morercpt, r) < 0)
			die_control();
		have_morercpt = 1;
	}
	str_free(&x);
}

/* Sessions per client address.  tcpserver -c bounds all sessions
 * together; so that one address cannot hold them all, each session takes
 * one of control/concurrencyperip slots, a one-byte fcntl lock in a count
 * file under PERIP_DIR (smtp, or submission when SUBMISSION is set: its
 * counts are its own), at the address's own range of offsets.  The
 * kernel drops the lock when the process ends, however it ends, so no
 * count goes stale, and the file, which stays empty (locks beyond the end
 * of a file are allowed), is made once and never removed: no file is
 * created or deleted per session.  An IPv4 address (or an IPv4-mapped
 * one) is counted alone, an IPv6 address by its /64; clients the rules
 * trust (RELAYCLIENT) are not counted.  No new process: an open and a few
 * fcntl calls per session (docs/smtpd.md). */

/* mix64 - splitmix64's finaliser: the /64s of one network spread over
 * the keys, so that its owner cannot pick one that shares a victim's */
static uint64_t
mix64(uint64_t x)
{
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* perip_key - the slot range of ip: an IPv4 address is its own key
 * (below 2^32, exact); an IPv6 /64 is hashed into the keys above (two
 * /64s share a count with a chance of one in 2^46); 0 when ip is no
 * address */
static int
perip_key(const char *ip, uint64_t *key)
{
	unsigned char a[16];
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0xff, 0xff };
	uint64_t x = 0;
	int i;

	if (inet_pton(AF_INET, ip, a) == 1) {
		memcpy(a + 12, a, 4);
		memcpy(a, mapped, sizeof mapped);
	} else if (inet_pton(AF_INET6, ip, a) != 1)
		return 0;
	if (!memcmp(a, mapped, sizeof mapped)) {
		*key = (uint64_t)a[12] << 24 | (uint64_t)a[13] << 16 |
		    (uint64_t)a[14] << 8 | a[15];
		return 1;
	}
	for (i = 0; i < 8; i++)		/* the /64 */
		x = x << 8 | a[i];
	*key = (1ULL << 32) + mix64(x) % (PERIP_KEYS - (1ULL << 32));
	return 1;
}

/* perip_open - open (creating it and PERIP_DIR) the count file */
static int
perip_open(void)
{
	int fd = open(peripfile.s, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	str d = STR_INIT;

	if (fd >= 0 || errno != ENOENT)
		return fd;
	/* made lazily in a home of one user; install-services makes it,
	 * the smtpd user's, in the multi-user one */
	if (home_path(&d, "run") < 0)
		die_nomem();
	(void)mkdir(d.s, 0755);
	if (home_path(&d, PERIP_DIR) < 0)
		die_nomem();
	(void)mkdir(d.s, 0700);
	str_free(&d);
	return open(peripfile.s, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600);
}

/* perip_take - take a slot for this session's address, or refuse the
 * session with 421.  A count that cannot be kept (an unwritable
 * directory) is logged and the session goes on: the limit protects the
 * service, it must not stop it. */
static void
perip_take(void)
{
	unsigned long start, i;
	uint64_t key;
	int fd;

	if (!perip || relayclient || !perip_key(remoteip, &key))
		return;
	if (home_path(&peripfile, PERIP_DIR) < 0 ||
	    str_puts(&peripfile, submission ? "/submission" : "/smtp") < 0 ||
	    str_0(&peripfile) < 0)
		die_nomem();
	fd = perip_open();
	if (fd < 0) {
		err_warnsys("unable to count sessions in ", peripfile.s,
		    (const char *)0);
		return;
	}
	/* Any free slot will do: probing from one that depends on the pid
	 * takes one or two tries where starting at 0 took one per session
	 * already held (and each try scans the file's locks). */
	start = (unsigned long)getpid() % perip;
	for (i = 0; i < perip; i++) {
		struct flock l = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
		    .l_start = (off_t)((key << PERIP_SHIFT) +
		    (start + i) % perip), .l_len = 1 };

		if (fcntl(fd, F_SETLK, &l) == 0)
			break;
		if (errno != EACCES && errno != EAGAIN) {
			err_warnsys("unable to lock ", peripfile.s,
			    (const char *)0);
			close(fd);
			return;
		}
	}
	if (i == perip) {
		char num[NUM_LEN];

		close(fd);
		if (str_copys(&addr, "limit ") < 0 ||
		    str_puts(&addr, num_fmt(num, perip)) < 0 ||
		    str_0(&addr) < 0)
			die_nomem();
		refusal_log("421 4.7.0 too many connections from your "
		    "address, closing connection\r\n", 0, 0, addr.s);
		die_close("421 4.7.0 too many connections from your "
		    "address, closing connection\r\n",
		    "too many connections");
	}
	peripfd = fd;
}

/* perip_release - at the end: give the slot back (the kernel would at
 * exit anyway) */
static void
perip_release(void)
{
	if (peripfd < 0)
		return;
	close(peripfd);
	peripfd = -1;
}

/* rcpthosts_has - is domain d (lower case) ours to receive mail for? */
static int
rcpthosts_has(const char *d)
{
	size_t pos = 0, n = strlen(d);
	const char *h, *p;

	while ((h = control_next(&rcpthosts, &pos))) {
		size_t hn = strlen(h);

		if (h[0] == '.') {
			if (n > hn && !memcmp(d + n - hn, h, hn))
				return 1;
		} else if (hn == n && !memcmp(h, d, n))
			return 1;
	}
	if (!have_morercpt)
		return 0;
	if (cdb_find(&morercpt, d, (unsigned)n) > 0)
		return 1;
	for (p = strchr(d, '.'); p; p = strchr(p + 1, '.'))
		if (cdb_find(&morercpt, p, (unsigned)strlen(p)) > 0)
			return 1;
	return 0;
}

/* Commands.  arg points after the verb and its space (or at the NUL). */

static int
verb_is(const char *v, const char **arg)
{
	size_t n = strlen(v);

	if (strncasecmp(line, v, n))
		return 0;
	if (line[n] == 0) {
		*arg = line + n;
		return 1;
	}
	if (line[n] == ' ') {
		*arg = line + n + 1;
		return 1;
	}
	return 0;
}

static void
reset(void)
{
	seenmail = 0;
	nrcpt = 0;
	mailfrom.len = 0;
	rcpts.len = 0;
	dtrcpts.len = 0;
}

static void
smtp_helo(const char *arg, int e)
{
	while (*arg == ' ')
		arg++;
	if (!*arg) {
		bad("501 5.5.4 HELO/EHLO needs a host name\r\n");
		return;
	}
	if (str_copys(&helo, arg) < 0 || str_0(&helo) < 0)
		die_nomem();
	/* For the queue program and its filters (authcheck: SPF).  One
	 * buffer, put into the environment once: setenv would keep every
	 * earlier value of a client that says HELO over and over. */
	{
		static char heloenv[sizeof "QPOST_HELO=" + SMTP_LINE_MAX];
		size_t n = helo.len < SMTP_LINE_MAX ? helo.len : SMTP_LINE_MAX;
		int first = !heloenv[0];

		memcpy(heloenv, "QPOST_HELO=", 11);
		memcpy(heloenv + 11, helo.s, n);
		heloenv[11 + n] = 0;
		if (first)
			(void)putenv(heloenv);
	}
	seenhelo = 1;
	esmtp = e;
	reset();
	out_puts("250");
	out_puts(e ? "-" : " ");
	out_puts(me.s);
	out_puts("\r\n");
	if (e) {
		char num[NUM_LEN];

		if (tlsctl >= 0 && !tls)
			out_puts("250-STARTTLS\r\n");
		if (checker && (tls || authclear) && !authed)
			out_puts("250-AUTH PLAIN LOGIN\r\n");
		out_puts("250-PIPELINING\r\n250-SIZE ");
		out_puts(num_fmt(num, databytes));
		out_puts("\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n");
	}
}

/* path - parse "<...>" after the given "FROM:"/"TO:" keyword into addr;
 * returns the parameters' start, or 0 after replying to a syntax error
 * (logged with the sender from, 0 for none yet) */
static const char *
path(const char *arg, const char *kw, const char *from)
{
	size_t kn = strlen(kw);
	ssize_t r;

	if (strncasecmp(arg, kw, kn)) {
		refuse_bad("501 5.5.4 syntax error in parameters\r\n", from, 0);
		return 0;
	}
	arg += kn;
	while (*arg == ' ')
		arg++;
	r = addr_path(arg, strlen(arg), &addr);
	if (r < 0) {
		refuse_bad("501 5.1.7 bad address syntax\r\n", from, 0);
		return 0;
	}
	arg += r;
	if (*arg && *arg != ' ') {
		refuse_bad("501 5.5.4 syntax error after the address\r\n",
		    from, 0);
		return 0;
	}
	return arg;
}

/* param - next " KEY=VALUE" of s; 0 at the end */
static const char *
param(const char *s, const char **kw, size_t *kn)
{
	while (*s == ' ')
		s++;
	if (!*s)
		return 0;
	*kw = s;
	while (*s && *s != ' ')
		s++;
	*kn = (size_t)(s - *kw);
	return s;
}

static int
param_is(const char *kw, size_t kn, const char *name, const char **val)
{
	size_t n = strlen(name);

	if (kn < n || strncasecmp(kw, name, n))
		return 0;
	if (kw[n] != '=')
		return 0;
	*val = kw + n + 1;
	return 1;
}

/* SMTP AUTH (RFC 4954): PLAIN and LOGIN, checked by a checkpassword
 * program (argv) reading "user\0password\0timestamp\0" on fd 3. */

static void
auth_forget(void)
{
	authed = 0;
	authuser.len = 0;
	if (str_0(&authuser) < 0)
		die_nomem();
	relayclient = relayclient_env;
	unsetenv("SMTPAUTHUSER");
}

/* sender_ok - may the authenticated user use envelope sender a?  Its own
 * address (the user name, or user@me when the name has no '@'), and what
 * control/senderlogins gives it: lines "SENDER LOGIN[,LOGIN...]" where
 * SENDER is an address or "@domain" (as Postfix's
 * smtpd_sender_login_maps).  Compared without regard to case. */
static int
sender_ok(const char *a)
{
	static str list = STR_INIT;	/* read at the first need */
	static int loaded;
	size_t pos = 0, an = strlen(a);
	const char *item, *at = strrchr(a, '@');
	int ok = 0;

	if (strchr(authuser.s, '@')) {
		if (!strcasecmp(a, authuser.s))
			return 1;
	} else if (at && (size_t)(at - a) == authuser.len &&
	    !strncasecmp(a, authuser.s, authuser.len) &&
	    !strcasecmp(at + 1, me.s))
		return 1;
	if (!loaded) {
		if (control_readlist(&list, "senderlogins") < 0)
			die_control();
		loaded = 1;
	}
	while (!ok && (item = control_next(&list, &pos))) {
		const char *sp = strpbrk(item, " \t"), *l;
		size_t sn;

		if (!sp)
			continue;
		sn = (size_t)(sp - item);
		if (!((sn == an && !strncasecmp(item, a, an)) ||
		    (item[0] == '@' && at && strlen(at) == sn &&
		    !strncasecmp(item, at, sn))))
			continue;
		for (l = sp; *l && !ok;) {
			size_t ln;

			while (*l == ' ' || *l == '\t' || *l == ',')
				l++;
			ln = strcspn(l, " \t,");
			if (ln && ln == authuser.len &&
			    !strncasecmp(l, authuser.s, ln))
				ok = 1;
			l += ln;
		}
	}
	return ok;
}

#define CHECK_YES 0
#define CHECK_NO 1
#define CHECK_TEMP 2

/* check - ask the checker about user and pass (both NUL-free) */
static int
check(const str *user, const str *pass)
{
	str ck = STR_INIT;
	int p[2], pfd, st, r, null;
	pid_t pid;
	struct pollfd w;
	struct spawn_fd fds[3];
	struct spawn sp = { .fds = fds, .nfds = 3, .failcode = 111,
	    .what = "the password checker " };

	if (str_put(&ck, user->s, user->len) < 0 || str_putc(&ck, 0) < 0 ||
	    str_put(&ck, pass->s, pass->len) < 0 || str_putc(&ck, 0) < 0 ||
	    str_putc(&ck, 0) < 0)
		die_nomem();
	if (pipe2(p, O_CLOEXEC) < 0) {
		explicit_bzero(ck.s, ck.len);
		str_free(&ck);
		return CHECK_TEMP;
	}
	/* the checkpassword interface: fd 3 carries user and password,
	 * nothing on fd 0 and 1 */
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	fds[0].from = fds[1].from = null;
	fds[0].to = 0;
	fds[1].to = 1;
	fds[2].from = p[0];
	fds[2].to = 3;
	pid = null < 0 ? -1 : spawn_run(checker, &sp);
	if (null >= 0)
		close(null);
	close(p[0]);
	if (pid > 0)
		(void)fd_writeall(p[1], ck.s, ck.len, 1000);
	close(p[1]);
	explicit_bzero(ck.s, ck.len);
	str_free(&ck);
	if (pid < 0)
		return CHECK_TEMP;
	pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd >= 0) {
		w.fd = pfd;
		w.events = POLLIN;
		do
			r = poll(&w, 1, (int)checktimeout * 1000);
		while (r < 0 && errno == EINTR);
		close(pfd);
		if (r == 0) {
			err_warn("password checker ", checker[0],
			    " timed out", (const char *)0);
			kill(pid, SIGKILL);
		}
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return CHECK_TEMP;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return CHECK_YES;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 1)
		return CHECK_NO;
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
		err_warn("password checker ", checker[0],
		    WIFSIGNALED(st) ? " crashed" : " failed temporarily",
		    (const char *)0);
	return CHECK_TEMP;
}

#define AUTH_OK 0
#define AUTH_ABORT 1	/* a reply has been given */

/* auth_response - the client's base64 response: the initial response
 * given (may be 0), or a line read after prompt ("334 ..."), decoded
 * into out */
static int
auth_response(const char *initial, const char *prompt, str *dst)
{
	const char *s = initial;
	int r;

	dst->len = 0;
	if (!s) {
		out_puts(prompt);
		r = getcmd();
		if (r == LINE_LONG) {
			bad("500 5.5.6 authentication exchange line is too "
			    "long\r\n");
			return AUTH_ABORT;
		}
		if (r == LINE_BARE) {
			bad("500 5.5.2 line must end in CRLF, no bare CR or "
			    "LF\r\n");
			return AUTH_ABORT;
		}
		s = line;
	} else if (!strcmp(s, "="))
		return AUTH_OK;		/* an empty initial response */
	if (!strcmp(s, "*")) {
		bad("501 5.7.0 authentication cancelled\r\n");
		return AUTH_ABORT;
	}
	r = b64_decode(s, strlen(s), dst);
	if (r == -2)
		die_nomem();
	if (r < 0) {
		if (dst->s)
			explicit_bzero(dst->s, dst->len);
		bad("501 5.5.2 cannot decode the response\r\n");
		return AUTH_ABORT;
	}
	return AUTH_OK;
}

static void
smtp_auth(const char *arg)
{
	str user = STR_INIT, pass = STR_INIT, resp = STR_INIT;
	const char *sp = strchr(arg, ' '), *mech, *initial = sp ? sp + 1 : 0;
	size_t mn = sp ? (size_t)(sp - arg) : strlen(arg);
	int r = AUTH_ABORT;

	if (!checker) {
		bad("502 5.5.1 command not implemented\r\n");
		return;
	}
	if (!tls && !authclear) {
		bad("538 5.7.11 Encryption required for requested "
		    "authentication mechanism\r\n");
		return;
	}
	if (!seenhelo) {
		bad("503 5.5.1 send HELO or EHLO first\r\n");
		return;
	}
	if (authed) {
		bad("503 5.5.1 already authenticated\r\n");
		return;
	}
	if (seenmail) {
		bad("503 5.5.1 AUTH not allowed during a mail transaction\r\n");
		return;
	}
	if (mn == 5 && !strncasecmp(arg, "PLAIN", 5)) {
		mech = "PLAIN";
		r = auth_response(initial, "334 \r\n", &resp);
		if (r == AUTH_OK) {
			/* [authzid] NUL authcid NUL passwd */
			const char *z1 = 0, *z2 = 0;

			if (resp.len)	/* an empty response has no buffer */
				z1 = memchr(resp.s, 0, resp.len);

			if (z1)
				z2 = memchr(z1 + 1, 0,
				    resp.len - (size_t)(z1 + 1 - resp.s));
			if (!z1 || !z2 || memchr(z2 + 1, 0,
			    resp.len - (size_t)(z2 + 1 - resp.s))) {
				bad("501 5.5.2 malformed PLAIN response\r\n");
				r = AUTH_ABORT;
			} else if (str_put(&user, z1 + 1,
			    (size_t)(z2 - z1 - 1)) < 0 || str_put(&pass,
			    z2 + 1, resp.len - (size_t)(z2 + 1 - resp.s)) < 0)
				die_nomem();
			/* an authorization identity other than the user is
			 * not ours to grant */
			else if (z1 != resp.s && ((size_t)(z1 - resp.s) !=
			    user.len || memcmp(resp.s, user.s, user.len)))
				pass.len = 0;
		}
	} else if (mn == 5 && !strncasecmp(arg, "LOGIN", 5)) {
		mech = "LOGIN";
		/* "Username:" and "Password:" */
		r = auth_response(initial, "334 VXNlcm5hbWU6\r\n", &user);
		if (r == AUTH_OK)
			r = auth_response(0, "334 UGFzc3dvcmQ6\r\n", &pass);
	} else {
		bad("504 5.5.4 unrecognized authentication type\r\n");
		return;
	}
	explicit_bzero(line, sizeof line);
	if (resp.len)
		explicit_bzero(resp.s, resp.len);
	str_free(&resp);
	if (r != AUTH_OK)
		goto done;
	if (str_0(&user) < 0)
		die_nomem();
	/* the lengths first: an empty response has no buffer */
	if (!user.len || !pass.len || memchr(user.s, 0, user.len) ||
	    memchr(pass.s, 0, pass.len))
		r = CHECK_NO;
	else
		r = check(&user, &pass);
	if (r == CHECK_TEMP) {
		out_puts("454 4.7.0 temporary authentication failure\r\n");
		goto done;
	}
	if (r == CHECK_YES) {
		authed = 1;
		if (str_copy(&authuser, user.s, user.len) < 0 ||
		    str_0(&authuser) < 0)
			die_nomem();
		if (!relayclient)
			relayclient = "";
		(void)setenv("SMTPAUTHUSER", authuser.s, 1);
		err_info("auth ip ", remoteip, " user ", user.s, " mech ",
		    mech, (const char *)0);
		out_puts("235 2.7.0 Authentication successful\r\n");
		goto done;
	}
	nauthfail++;
	err_warn("auth failed ip ", remoteip, " user ", user.s, " mech ",
	    mech, (const char *)0);
	out_flush();
	sleep((unsigned)nauthfail);	/* a growing delay */
	if (nauthfail >= AUTH_FAIL_MAX)
		die_close("421 4.7.0 too many failed authentications, "
		    "closing connection\r\n", "too many failed auths");
	out_puts("535 5.7.8 Authentication credentials invalid\r\n");
done:
	if (pass.len)
		explicit_bzero(pass.s, pass.len);
	str_free(&user);
	str_free(&pass);
}

/* Mail loops.  local refuses a message whose header already holds
 * "Delivered-To: " and its recipient (local@domain as send's lookup gives
 * it, local.c check_loop) with #5.4.6, and send then bounces it, quoting
 * the header, to a sender who may be forged.  smtpd refuses such a
 * message at the final dot instead, with the same test: for every
 * accepted recipient that local would deliver (RECIP_FOUND), the address
 * local writes is remembered here and compared, ignoring ASCII case and
 * the spaces and tabs around it, with each Delivered-To header line. */
#define DT_MAX 2048		/* longest Delivered-To value compared */

/* dt_note - remember the Delivered-To address of a recipient that r, the
 * lookup of the address as queued, says local delivers */
static void
dt_note(int r, const struct recip *ri)
{
	if (r != RECIP_FOUND || ri->local.len + 1 + ri->domain.len > DT_MAX)
		return;		/* longer than any value we compare */
	if (str_put(&dtrcpts, ri->local.s, ri->local.len) < 0 ||
	    str_putc(&dtrcpts, '@') < 0 ||
	    str_put(&dtrcpts, ri->domain.s, ri->domain.len) < 0 ||
	    str_putc(&dtrcpts, 0) < 0)
		die_nomem();
}

#define RCPTCHECK_SECS 20	/* route's NSS lookup (recip_confirm) */
#define MAILCHECK_SECS 60	/* authcheck --mail's time (SPF: 20 s) */

/* mailcheck - with control/spfreject, bin/authcheck --mail SENDER
 * judges the sender of a client that is neither relay nor
 * authenticated (docs/authcheck.md): exit 0 accept; else its reply line
 * on fd 1.  0 accept, or -1 the refusal has been given. */
static int
mailcheck(const char *sender)
{
	str path = STR_INIT, rep = STR_INIT;
	char *argv[4], b[QQ_REPLY_MAX + 2];
	size_t n, k;
	int code;

	if (!spfreject || relayclient)
		return 0;
	if (home_path(&path, "bin/authcheck") < 0)
		die_nomem();
	argv[0] = path.s;
	argv[1] = (char *)(size_t)"--mail";
	argv[2] = (char *)(size_t)sender;
	argv[3] = 0;
	code = spawn_collect(argv, "the MAIL checker ", 1, b, sizeof b, &n,
	    MAILCHECK_SECS * 1000);
	str_free(&path);
	if (code == 0)
		return 0;
	for (k = 0; k < n && b[k] != '\n'; k++)
		;
	if (code > 0 && k < n && qq_replyok(b, k) &&
	    (b[0] == '5' ? code == 100 : code == 111)) {
		if (str_put(&rep, b, k) < 0 ||
		    str_puts(&rep, "\r\n") < 0 || str_0(&rep) < 0)
			die_nomem();
		refuse(rep.s, sender, 0);
		str_free(&rep);
		return -1;
	}
	err_warn("the MAIL checker bin/authcheck failed", (const char *)0);
	refuse("451 4.3.0 unable to check the sender, try again later\r\n",
	    sender, 0);
	return -1;
}

static void
smtp_mail(const char *arg)
{
	const char *p, *kw, *val;
	size_t kn;

	if (!seenhelo) {
		refuse_bad("503 5.5.1 send HELO or EHLO first\r\n", 0, 0);
		return;
	}
	if (seenmail) {
		refuse_bad("503 5.5.1 nested MAIL command\r\n",
		    mailfrom.s, 0);
		return;
	}
	if (tlsrequired && !tls) {
		refuse_bad("530 5.7.0 Must issue a STARTTLS command "
		    "first\r\n", 0, 0);
		return;
	}
	if (submission && !authed) {
		refuse_bad("530 5.7.0 Authentication required\r\n", 0, 0);
		return;
	}
	if (!(p = path(arg, "FROM:", 0)))
		return;
	if (authed && addr.len && !sender_ok(addr.s)) {
		refuse("553 5.7.1 sender address not owned by the "
		    "authenticated user\r\n", addr.s, 0);
		return;
	}
	while ((p = param(p, &kw, &kn))) {
		if (param_is(kw, kn, "SIZE", &val)) {
			unsigned long long u;
			size_t vn = kn - 5;

			/* a number too large for us is still a number: the
			 * size is then over any databytes */
			if (num_whole(val, vn, ULONG_MAX, &u) < 0) {
				if (errno != ERANGE || vn > 20) {
					refuse_bad("501 5.5.4 bad SIZE "
					    "parameter\r\n", addr.s, 0);
					return;
				}
				u = ULONG_MAX;
			}
			if (u > databytes) {
				refuse("552 5.3.4 message size exceeds "
				    "fixed limit\r\n", addr.s, 0);
				return;
			}
		} else if (param_is(kw, kn, "BODY", &val)) {
			size_t vn = kn - 5;

			if (!(vn == 4 && !strncasecmp(val, "7BIT", 4)) &&
			    !(vn == 8 && !strncasecmp(val, "8BITMIME", 8))) {
				refuse_bad("501 5.5.4 bad BODY "
				    "parameter\r\n", addr.s, 0);
				return;
			}
		} else {
			refuse_bad("555 5.5.4 unsupported MAIL "
			    "parameter\r\n", addr.s, 0);
			return;
		}
	}
	if (mailcheck(addr.s) < 0)
		return;
	if (str_copy(&mailfrom, addr.s, addr.len + 1) < 0)
		die_nomem();
	mailfrom.len = addr.len;
	seenmail = 1;
	nrcpt = 0;
	rcpts.len = 0;
	dtrcpts.len = 0;
	out_puts("250 2.1.0 sender ok\r\n");
}

static void
smtp_rcpt(const char *arg)
{
	const char *p, *kw, *d;
	size_t kn;
	char *at;
	int pm, r;

	if (!seenmail) {
		refuse_bad("503 5.5.1 need MAIL before RCPT\r\n", 0, 0);
		return;
	}
	if (!(p = path(arg, "TO:", mailfrom.s)))
		return;
	if (param(p, &kw, &kn)) {
		refuse_bad("555 5.5.4 unsupported RCPT parameter\r\n",
		    mailfrom.s, addr.s);
		return;
	}
	if (!addr.len) {
		refuse_bad("501 5.1.3 empty recipient\r\n", mailfrom.s,
		    addr.s);
		return;
	}
	if (nrcpt >= maxrcpt) {
		refuse("452 4.5.3 too many recipients\r\n", mailfrom.s,
		    addr.s);
		return;
	}
	at = strrchr(addr.s, '@');
	if (!at) {
		if (strcasecmp(addr.s, "postmaster")) {
			refuse_bad("553 5.1.3 recipient address needs a "
			    "domain\r\n", mailfrom.s, addr.s);
			return;
		}
		/* RFC 5321 4.5.1: <postmaster> is always accepted */
		if (str_copys(&addr, "postmaster@") < 0 ||
		    str_put(&addr, me.s, me.len) < 0 || str_0(&addr) < 0)
			die_nomem();
		r = recip_find(addr.s, &rcptinfo);
		if (r < 0) {
			recip_free(&rcptinfo);
			goto lookupfail;
		}
		goto accept;
	}
	/* "user@foreign"@here unquotes to user@foreign@here: whatever
	 * later reads it by its first '@' would relay, so refuse it */
	if (memchr(addr.s, '@', (size_t)(at - addr.s))) {
		refuse_bad("553 5.7.1 '@' in the local part refused\r\n",
		    mailfrom.s, addr.s);
		return;
	}
	addr_lower(at + 1, strlen(at + 1));
	d = at + 1;
	/* postmaster at one of our domains needs no account (RFC 5321
	 * 4.5.1) */
	pm = (size_t)(at - addr.s) == 10 && !strncasecmp(addr.s,
	    "postmaster", 10);
	if (!relayclient && !rcpthosts_has(d)) {
		refuse("553 5.7.1 relaying denied\r\n", mailfrom.s, addr.s);
		return;
	}
	r = recip_find(addr.s, &rcptinfo);
	switch (r) {
	case RECIP_NOUSER:
		if (!rejectunknown || pm)
			break;
		/* smtpd on musl saw /etc/passwd only: before a 550,
		 * route (glibc) asks the other NSS sources (recip.h) */
		r = recip_confirm(addr.s, RCPTCHECK_SECS);
		if (r < 0) {
			recip_free(&rcptinfo);
			goto lookupfail;
		}
		if (r == RECIP_NOUSER) {
			recip_free(&rcptinfo);
			refuse("550 5.1.1 no such user here\r\n",
			    mailfrom.s, addr.s);
			return;
		}
		break;
	case -1:
		recip_free(&rcptinfo);
		goto lookupfail;
	}
	if (relayclient && *relayclient) {
		/* send looks up the address as queued, suffix and all */
		recip_free(&rcptinfo);
		if (str_puts(&addr, relayclient) < 0 || str_0(&addr) < 0)
			die_nomem();
		r = recip_find(addr.s, &rcptinfo);
		if (r < 0) {
			recip_free(&rcptinfo);
			goto lookupfail;
		}
	}
accept:
	dt_note(r, &rcptinfo);
	recip_free(&rcptinfo);
	if (str_put(&rcpts, addr.s, addr.len + 1) < 0)
		die_nomem();
	nrcpt++;
	out_puts("250 2.1.5 recipient ok\r\n");
	return;
lookupfail:
	err_warnsys("unable to look up ", addr.s, (const char *)0);
	refuse("451 4.3.0 temporary failure looking up the "
	    "recipient\r\n", mailfrom.s, addr.s);
}

/* DATA: the message as a state machine over the raw bytes.  Only
 * CR LF "." CR LF ends it; a CR or LF that is not part of a CRLF marks
 * the message as bad (refused after the dot, nothing queued) and never
 * counts as a line end, so no such sequence can end the message early
 * or start a second one. */

enum { D_BOL, D_LINE, D_CR, D_DOT, D_DOTCR, D_END };

/* Hop counting over the header (qmail-smtpd's loop check) and the
 * Delivered-To check above: the state of the header line being read,
 * kept across reads. */
static struct {
	int inhdr;		/* still in the header */
	size_t len;		/* bytes of the current line */
	char start[16];		/* its first bytes */
	unsigned long hops;
	int dt;			/* the line is a Delivered-To: line */
	int dtlong;		/* its value is longer than DT_MAX */
	size_t vlen;		/* bytes of the value held in val */
	size_t vend;		/* the value without its trailing blanks */
	char val[DT_MAX];
	int loop;		/* a recipient's Delivered-To was seen */
} hdr;

/* dt_char - one byte of a Delivered-To line's value */
static void
dt_char(char c)
{
	int blank = c == ' ' || c == '\t';

	if (blank && !hdr.vlen)
		return;		/* before the value */
	if (hdr.vlen >= sizeof hdr.val) {
		if (!blank)
			hdr.dtlong = 1;
		return;
	}
	hdr.val[hdr.vlen++] = c;
	if (!blank)
		hdr.vend = hdr.vlen;
}

/* dt_check - the Delivered-To line just ended: is it a recipient's? */
static void
dt_check(void)
{
	size_t pos = 0;
	const char *r;

	if (hdr.dtlong || hdr.loop)
		return;
	while ((r = control_next(&dtrcpts, &pos)))
		if (strlen(r) == hdr.vend &&
		    !strncasecmp(r, hdr.val, hdr.vend)) {
			hdr.loop = 1;
			if (str_copys(&looped, r) < 0 || str_0(&looped) < 0)
				die_nomem();
			return;
		}
}

/* hdr_scan - count hops and look for a recipient's Delivered-To; returns
 * the bytes of o that are header (all k while the header goes on; up to
 * and including the empty line) */
static size_t
hdr_scan(const char *o, size_t k)
{
	size_t i;

	for (i = 0; i < k && hdr.inhdr; i++) {
		if (o[i] != '\n') {
			if (hdr.len < sizeof hdr.start)
				hdr.start[hdr.len] = o[i];
			hdr.len++;
			if (hdr.dt)
				dt_char(o[i]);
			else if (hdr.len == 13 &&
			    !strncasecmp(hdr.start, "delivered-to:", 13)) {
				hdr.dt = 1;
				hdr.dtlong = 0;
				hdr.vlen = hdr.vend = 0;
			}
			continue;
		}
		if (!hdr.len)
			hdr.inhdr = 0;		/* the empty line */
		else if ((hdr.len >= 9 &&
		    !strncasecmp(hdr.start, "received:", 9)) || hdr.dt)
			hdr.hops++;
		if (hdr.dt)
			dt_check();
		hdr.dt = 0;
		hdr.len = 0;
	}
	return i;
}

/* Submission (RFC 6409 8): the header is held (up to SUBHDR_MAX) and
 * completed with From, Date and Message-ID where they are missing, as
 * inject does. */
#define SUBHDR_MAX 65536

static str subhdr = STR_INIT;
static int subdone;

static int
subhdr_has(const char *name)
{
	size_t i = 0;

	while (i < subhdr.len) {
		const char *l = subhdr.s + i, *e = memchr(l, '\n',
		    subhdr.len - i);
		size_t n = e ? (size_t)(e - l) : subhdr.len - i;

		if (n && l[0] != ' ' && l[0] != '\t' && hdr_name(l, n, name))
			return 1;
		i += n + 1;
	}
	return 0;
}

static void
sub_finish(qq *q, int blank)
{
	str x = STR_INIT;
	char date[DATE_LEN];

	subdone = 1;
	qq_put(q, subhdr.s, subhdr.len - (blank ? 1 : 0));
	if (!subhdr_has("from")) {
		if (str_puts(&x, "From: ") < 0 || str_puts(&x, authuser.s) < 0)
			die_nomem();
		if (!strchr(authuser.s, '@') && (str_putc(&x, '@') < 0 ||
		    str_put(&x, me.s, me.len) < 0))
			die_nomem();
		if (str_putc(&x, '\n') < 0)
			die_nomem();
	}
	if (!subhdr_has("date")) {
		date_rfc5322(date, time(0));
		if (str_puts(&x, "Date: ") < 0 || str_puts(&x, date) < 0 ||
		    str_putc(&x, '\n') < 0)
			die_nomem();
	}
	if (!subhdr_has("message-id") && (str_puts(&x, "Message-ID: ") < 0 ||
	    hdr_msgid(&x, me.s, me.len) < 0 || str_putc(&x, '\n') < 0))
		die_nomem();
	if (blank && str_putc(&x, '\n') < 0)
		die_nomem();
	qq_put(q, x.s, x.len);
	str_free(&x);
	subhdr.len = 0;
}

/* sub_put - n header bytes; ended: the empty line is among them */
static void
sub_put(qq *q, const char *o, size_t n, int ended)
{
	if (subhdr.len + n > SUBHDR_MAX) {
		qq_put(q, subhdr.s, subhdr.len);	/* left as it is */
		qq_put(q, o, n);
		subhdr.len = 0;
		subdone = 1;
		return;
	}
	if (str_put(&subhdr, o, n) < 0)
		die_nomem();
	if (ended)
		sub_finish(q, 1);
}

static void
put_clean(qq *q, const char *s, size_t max)
{
	char c[HELO_SHOW_MAX];
	size_t i;

	for (i = 0; s[i] && i < max && i < sizeof c; i++) {
		unsigned char u = (unsigned char)s[i];

		c[i] = (u < 33 || u > 126 || u == '(' || u == ')') ? '?'
		    : (char)u;
	}
	qq_put(q, c, i);
}

static void
received(qq *q)
{
	char date[DATE_LEN];

	date_rfc5322(date, time(0));
	qq_puts(q, "Received: from ");
	put_clean(q, helo.s, HELO_SHOW_MAX);
	qq_puts(q, " (");
	put_clean(q, remotehost, HELO_SHOW_MAX);
	qq_puts(q, " [");
	put_clean(q, remoteip, HELO_SHOW_MAX);
	qq_puts(q, "])\n");
	if (tls) {
		/* as Postfix writes it */
		qq_puts(q, "\t(using ");
		put_clean(q, tlsproto.s, HELO_SHOW_MAX);
		qq_puts(q, " with cipher ");
		put_clean(q, tlscipher.s, HELO_SHOW_MAX);
		if (tlsuse.len && tlsalg.len) {
			qq_puts(q, " (");
			put_clean(q, tlsuse.s, HELO_SHOW_MAX);
			qq_puts(q, "/");
			put_clean(q, tlsalg.s, HELO_SHOW_MAX);
			qq_puts(q, " bits)");
		}
		qq_puts(q, ")\n");
	}
	qq_puts(q, "\tby ");
	qq_put(q, me.s, me.len);
	/* RFC 3848 */
	qq_puts(q, " (qpost smtpd) with ");
	qq_puts(q, esmtp || tls || authed ? "ESMTP" : "SMTP");
	if (tls)
		qq_puts(q, "S");
	if (authed)
		qq_puts(q, "A");
	qq_puts(q, "; ");
	qq_puts(q, date);
	qq_puts(q, "\n");
}

/* logmsg - the line for an accepted message: "msg ip IP helo HELO
 * [user USER] from <SENDER> to <RCPT>... size N queued as ID" (or
 * "queued qp PID") */
static void
logmsg(const char *result, unsigned long long size)
{
	log_head("msg");
	log_addr("from", mailfrom.s);
	log_rcpts();
	if (str_puts(&logline, " size ") < 0 || str_putu(&logline, size) < 0 ||
	    str_putc(&logline, ' ') < 0 || str_puts(&logline, result) < 0 ||
	    str_0(&logline) < 0)
		die_nomem();
	err_info(logline.s, (const char *)0);
}

/* refuse_msg - refuse a message after its final dot (reply, logged with
 * every recipient and the size; looped: the recipient whose Delivered-To
 * line the message carries, or 0) */
static void
refuse_msg(const char *reply, unsigned long long size, const char *looped_to)
{
	char num[NUM_LEN];
	str note = STR_INIT;

	if (str_puts(&note, "size ") < 0 ||
	    str_puts(&note, num_fmt(num, size)) < 0)
		die_nomem();
	if (looped_to) {
		if (str_puts(&note, " loop <") < 0)
			die_nomem();
		log_field(&note, looped_to, strlen(looped_to));
		if (str_putc(&note, '>') < 0)
			die_nomem();
	}
	if (str_0(&note) < 0)
		die_nomem();
	refusal_log(reply, mailfrom.s, RCPTS_ALL, note.s);
	str_free(&note);
	out_puts(reply);
}

static void
smtp_data(const char *arg)
{
	qq q;
	int st = D_BOL, bare = 0, code, qfail;
	unsigned long long size = 0;
	size_t pos = 0;
	const char *r;
	char o[BUF_SIZE];
	char reply[10 + QQ_ID_MAX + NUM_LEN];	/* "queued as " ID */

	if (*arg) {
		refuse_bad("501 5.5.4 DATA takes no parameters\r\n",
		    seenmail ? mailfrom.s : 0, RCPTS_ALL);
		return;
	}
	if (!seenmail) {
		refuse_bad("503 5.5.1 need MAIL before DATA\r\n", 0, 0);
		return;
	}
	if (!nrcpt) {
		refuse_bad("503 5.5.1 need RCPT before DATA\r\n", mailfrom.s,
		    0);
		return;
	}
	/* The 354 goes out before the queue program is started: the client
	 * sends the message while we wait for the exec (docs/performance.md,
	 * step 10).  If the start fails, the message is read and dropped
	 * and the reply after it is a 451 (RFC 5321 4.2.5 allows a
	 * temporary failure at the end of the data). */
	out_puts("354 go ahead, end with <CRLF>.<CRLF>\r\n");
	out_flush();
	qfail = qq_openid(&q) < 0;	/* then every qq_put is dropped */
	if (qfail)
		err_warnsys("unable to start the queue program",
		    (const char *)0);
	dataend = now_ms() + (long long)datasecs * 1000;
	hdr.inhdr = 1;
	hdr.len = 0;
	hdr.hops = 0;
	hdr.dt = 0;
	hdr.loop = 0;
	subhdr.len = 0;
	subdone = 0;
	received(&q);
	while (st != D_END) {
		size_t n = in_fill(1), i, k = 0, h;
		const char *s = buf_peek(&in, &n);

		for (i = 0; i < n && st != D_END; i++) {
			char c = s[i];

			if (st == D_CR || st == D_DOTCR) {
				if (c == '\n') {
					if (st == D_DOTCR) {
						st = D_END;
						continue;
					}
					st = D_BOL;
					o[k++] = c;
					continue;
				}
				bare = 1;	/* the CR was bare */
				st = D_LINE;
			}
			if (c == '\r') {
				st = (st == D_DOT) ? D_DOTCR : D_CR;
				continue;
			}
			if (c == '.' && st == D_BOL) {
				st = D_DOT;	/* stuffed, or the end */
				continue;
			}
			if (c == '\n')
				bare = 1;
			st = D_LINE;
			o[k++] = c;
		}
		buf_skip(&in, i);
		size += k;
		h = hdr_scan(o, k);
		if (bare || size > databytes || hdr.hops > MAXHOPS || hdr.loop)
			continue;
		if (submission && !subdone) {
			sub_put(&q, o, h, !hdr.inhdr);
			qq_put(&q, o + h, k - h);
		} else
			qq_put(&q, o, k);
	}
	dataend = 0;
	if (submission && !subdone)
		sub_finish(&q, 0);	/* a header without a body */
	if (qfail || bare || size > databytes || hdr.hops > MAXHOPS ||
	    hdr.loop) {
		q.failed = 1;	/* no envelope: the queue refuses it */
		if (!qfail)
			(void)qq_close(&q);
		if (qfail)
			refuse_msg("451 4.3.0 unable to start the queue "
			    "program\r\n", size, 0);
		else if (bare)
			refuse_msg("554 5.6.0 message refused: bare CR or LF "
			    "in the data\r\n", size, 0);
		else if (size > databytes)
			refuse_msg("552 5.3.4 message size exceeds fixed "
			    "limit\r\n", size, 0);
		else if (hdr.hops > MAXHOPS)
			refuse_msg("554 5.4.6 too many hops, this message is "
			    "looping\r\n", size, 0);
		else
			refuse_msg("554 5.4.6 this message is looping: it "
			    "already has my Delivered-To line\r\n", size,
			    looped.s);
		reset();
		nmsg++;
		return;
	}
	qq_from(&q, mailfrom.s);
	while ((r = control_next(&rcpts, &pos)))
		qq_to(&q, r);
	code = qq_close(&q);
	if (code == 0) {
		char num[NUM_LEN];
		const char *id = qq_id(&q);

		/* The queue's ID for the message, as send logs it; without
		 * one (a qmail-queue filter in front), the queue's pid. */
		if (id) {
			memcpy(reply, "queued as ", 10);
			strcpy(reply + 10, id);
			out_puts("250 2.0.0 ok: queued as ");
			out_puts(id);
		} else {
			memcpy(reply, "queued qp ", 10);
			strcpy(reply + 10,
			    num_fmt(num, (unsigned long long)qq_pid(&q)));
			out_puts("250 2.0.0 ok: queued (qp ");
			out_puts(num_fmt(num, (unsigned long long)qq_pid(&q)));
			out_puts(")");
		}
		out_puts("\r\n");
		logmsg(reply, size);
	} else {
		str rep = STR_INIT;

		if (code == QQ_REPLY && qq_reply(&q)) {	/* a filter's own */
			if (str_puts(&rep, qq_reply(&q)) < 0 ||
			    str_puts(&rep, "\r\n") < 0 || str_0(&rep) < 0)
				die_nomem();
		} else if (str_puts(&rep, qq_temp(code) ? "451 " : "554 ") < 0 ||
		    str_puts(&rep, qq_status(code)) < 0 ||
		    str_puts(&rep, "\r\n") < 0 || str_0(&rep) < 0)
			die_nomem();
		refuse_msg(rep.s, size, 0);
		str_free(&rep);
	}
	reset();
	nmsg++;
}

/* TLS through the front end (tlsd, docs/tls.md).  The session's
 * variables: from the environment (implicit TLS), or as "VAR=value\0"...
 * "\0" at the head of the stream after STARTTLS. */

static const struct {
	const char *name;
	str *to;
} tlsvars[] = {
	{ "SSL_PROTOCOL", &tlsproto },
	{ "SSL_CIPHER", &tlscipher },
	{ "SSL_CIPHER_USEKEYSIZE", &tlsuse },
	{ "SSL_CIPHER_ALGKEYSIZE", &tlsalg },
};
#define NTLSVARS (sizeof tlsvars / sizeof tlsvars[0])

/* tls_var - keep "NAME=value" (n bytes) when NAME is one of tlsvars */
static void
tls_var(const char *v, size_t n)
{
	size_t i;

	for (i = 0; i < NTLSVARS; i++) {
		size_t k = strlen(tlsvars[i].name);

		if (n > k && v[k] == '=' && !memcmp(v, tlsvars[i].name, k)) {
			if (str_copy(tlsvars[i].to, v + k + 1, n - k - 1) < 0 ||
			    str_0(tlsvars[i].to) < 0)
				die_nomem();
			return;
		}
	}
}

#define TLSENV_MAX 4096		/* octets of the variables after STARTTLS */

static void
smtp_starttls(const char *arg)
{
	str v = STR_INIT;
	size_t total = 0, i;

	if (tls) {
		bad("503 5.5.1 TLS already active\r\n");
		return;
	}
	if (tlsctl < 0) {
		bad("502 5.5.1 command not implemented\r\n");
		return;
	}
	if (*arg) {
		bad("501 5.5.4 STARTTLS takes no parameters\r\n");
		return;
	}
	out_puts("220 2.0.0 ready to start TLS\r\n");
	out_flush();
	/* Whatever the client sent after STARTTLS was sent in clear text:
	 * it is dropped, never taken as commands from inside TLS
	 * (CVE-2011-0411). */
	(void)buf_peek(&in, &i);
	buf_skip(&in, i);
	if (fd_writeall(tlsctl, "Y", 1, out.timeout) < 0 ||
	    dup2(tlsctl, 0) < 0 || dup2(tlsctl, 1) < 0)
		bye("unable to start TLS", 111);
	close(tlsctl);
	tlsctl = -1;
	for (;;) {
		size_t n;
		const char *s;
		ssize_t r;

		s = buf_peek(&in, &n);
		if (!n) {
			r = buf_fill(&in);
			if (r <= 0)
				bye("tls handshake failed", 111);
			s = buf_peek(&in, &n);
		}
		for (i = 0; i < n; i++)
			if (!s[i])
				break;
		if (i == n) {
			if (str_put(&v, s, n) < 0)
				die_nomem();
			buf_skip(&in, n);
		} else {
			if (str_put(&v, s, i) < 0)
				die_nomem();
			buf_skip(&in, i + 1);
			if (!v.len)
				break;		/* the empty variable ends */
			tls_var(v.s, v.len);
			v.len = 0;
		}
		total += i + 1;
		if (total > TLSENV_MAX)
			bye("tls front end sent too much", 111);
	}
	str_free(&v);
	if (!tlsproto.len || !tlscipher.len)
		bye("tls front end sent no session", 111);
	tls = 1;
	/* for the checker and the queue program, as after tlsd -i */
	for (i = 0; i < NTLSVARS; i++)
		if (tlsvars[i].to->len &&
		    setenv(tlsvars[i].name, tlsvars[i].to->s, 1) < 0)
			die_nomem();
	/* RFC 3207 4.2: forget everything learnt in clear text */
	seenhelo = esmtp = 0;
	auth_forget();
	helo.len = 0;
	if (str_0(&helo) < 0)
		die_nomem();
	reset();
}

int
main(int argc, char **argv)
{
	const char *arg;
	const char *e;

	err_prog = "smtpd";
	err_help(argc, argv, "usage: smtpd [checker [arg...]]");
	signal(SIGPIPE, SIG_IGN);
	/* A parent that ignores SIGCHLD (swaks --pipe) passes that on
	 * through exec; the queue program's exit code would be lost. */
	signal(SIGCHLD, SIG_DFL);
	buf_init(&in, 0, inspace, sizeof inspace, TIMEOUT_DEFAULT * 1000);
	buf_init(&out, 1, outspace, sizeof outspace, TIMEOUT_DEFAULT * 1000);
	if ((e = getenv("TCPREMOTEIP")) && *e)
		remoteip = e;
	if ((e = getenv("TCPREMOTEHOST")) && *e)
		remotehost = e;
	relayclient = relayclient_env = getenv("RELAYCLIENT");
	tlsrequired = getenv("TLSREQUIRED") != 0;
	authclear = getenv("AUTHCLEAR") != 0;
	if (getenv("SUBMISSION"))
		submission = tlsrequired = 1;
	unsetenv("SMTPAUTHUSER");
	unsetenv("QPOST_HELO");
	if (argc > 1) {
		/* the checker, and the program it runs on success */
		size_t i;

		checker = calloc((size_t)argc + 1, sizeof *checker);
		if (!checker)
			die_nomem();
		for (i = 1; i < (size_t)argc; i++)
			checker[i - 1] = argv[i];
		checker[argc - 1] = (char *)(size_t)"/bin/true";
		/* no core dump or ptrace may show a password */
		(void)prctl(PR_SET_DUMPABLE, 0);
	}
	if (str_0(&authuser) < 0)
		die_nomem();
	if ((e = getenv("SSL_PROTOCOL")) && *e) {
		/* implicit TLS: the front end did the handshake first */
		size_t i;

		for (i = 0; i < NTLSVARS; i++)
			if (str_copys(tlsvars[i].to, (e = getenv(
			    tlsvars[i].name)) ? e : "") < 0 ||
			    str_0(tlsvars[i].to) < 0)
				die_nomem();
		tls = 1;
	} else if ((e = getenv("SSLCTLFD")) && *e) {
		unsigned long long fd;

		if (num_whole(e, strlen(e), INT_MAX - 1, &fd) == 0 && fd > 2 &&
		    fcntl((int)fd, F_GETFD) >= 0) {
			tlsctl = (int)fd;
			(void)fcntl(tlsctl, F_SETFD, FD_CLOEXEC);
		}
	}
	if (str_0(&helo) < 0 || str_0(&mailfrom) < 0)
		die_nomem();
	read_controls();
	err_info("start ip ", remoteip, " host ", remotehost,
	    relayclient ? " relayclient" : "", tls ? " tls" : "",
	    (const char *)0);
	perip_take();
	out_puts("220 ");
	out_puts(greeting.s);
	out_puts(" ESMTP\r\n");
	for (;;) {
		int r = getcmd();

		/* only AUTH may be longer than SMTP_LINE_MAX */
		if (r == LINE_OK && linelen + 2 > SMTP_LINE_MAX &&
		    strncasecmp(line, "AUTH ", 5))
			r = LINE_LONG;
		if (r == LINE_LONG) {
			bad("500 5.5.2 line too long\r\n");
			continue;
		}
		if (r == LINE_BARE) {
			bad("500 5.5.2 line must end in CRLF, no bare CR or "
			    "LF\r\n");
			continue;
		}
		if (memchr(line, 0, linelen)) {
			bad("500 5.5.2 NUL in command\r\n");
			continue;
		}
		if (verb_is("EHLO", &arg))
			smtp_helo(arg, 1);
		else if (verb_is("HELO", &arg))
			smtp_helo(arg, 0);
		else if (verb_is("MAIL", &arg))
			smtp_mail(arg);
		else if (verb_is("RCPT", &arg))
			smtp_rcpt(arg);
		else if (verb_is("DATA", &arg))
			smtp_data(arg);
		else if (verb_is("RSET", &arg)) {
			reset();
			out_puts("250 2.0.0 ok\r\n");
		} else if (verb_is("NOOP", &arg))
			out_puts("250 2.0.0 ok\r\n");
		else if (verb_is("QUIT", &arg)) {
			out_puts("221 2.0.0 ");
			out_puts(me.s);
			out_puts(" closing connection\r\n");
			(void)buf_flush(&out);
			bye("quit", 0);
		} else if (verb_is("HELP", &arg))
			out_puts("214 2.0.0 qpost smtpd: see RFC 5321\r\n");
		else if (verb_is("VRFY", &arg))
			out_puts("252 2.5.2 cannot VRFY, but will accept the "
			    "message and try\r\n");
		else if (verb_is("STARTTLS", &arg))
			smtp_starttls(arg);
		else if (verb_is("AUTH", &arg))
			smtp_auth(arg);
		else if (verb_is("EXPN", &arg) || verb_is("TURN", &arg) ||
		    verb_is("ETRN", &arg) || verb_is("BDAT", &arg))
			bad("502 5.5.1 command not implemented\r\n");
		else
			bad("500 5.5.1 command unrecognized\r\n");
	}
}
