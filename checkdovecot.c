/* checkdovecot - check a password by asking a running Dovecot.
 *
 * Purpose: the checker smtpd runs for SMTP AUTH (qmail's checkpassword
 * interface, checkpass.h) when the mailboxes' passwords live in
 * Dovecot: one PLAIN authentication over Dovecot's auth-client socket,
 * in the protocol of dovecot.h (as Postfix and Exim ask Dovecot).
 *
 * Interface:
 *   argv   checkdovecot [-s SOCKET] [PROG...]: on success PROG is
 *          executed with the same fds and environment; without PROG
 *          checkdovecot exits 0.
 *   fd 3   "user\0password\0timestamp\0", at most CHECKPASS_MAX bytes,
 *          within CHECKPASS_TIMEOUT; the timestamp is not used.
 *   fd 2   one line on a temporary failure; never the password.
 *   env    SSL_PROTOCOL (set by the TLS front end: the request is marked
 *          "secured"); TCPREMOTEIP, TCPLOCALIP (passed on as rip, lip
 *          when they are IP addresses, for Dovecot's penalty and logs);
 *          QPOST_HOME.
 *   control/  dovecotauth: the socket (default /run/dovecot/auth-client;
 *          -s wins); timeoutdovecot: seconds for the whole conversation
 *          with Dovecot (default 10; keep it below smtpd's
 *          timeoutcheckpw, after which smtpd kills the checker).
 *
 * Exit codes: 0 Dovecot said OK (or PROG's own); 1 it said FAIL or CONT
 * (wrong password, unknown user), or the input is malformed, too long
 * or has a TAB, CR or LF; 2 usage; 111 a temporary failure (no socket,
 * Dovecot down, too slow, a FAIL marked temp, a reply outside the
 * protocol, a failed exec).
 *
 * Privilege: none; needs only to connect to the socket.  Core dumps are
 * off; the password and the request carrying it are wiped.  Dovecot's
 * own penalty for failing clients applies (no "no-penalty"): a client
 * Dovecot delays past timeoutdovecot gets a temporary failure.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "buf.h"
#include "checkpass.h"
#include "control.h"
#include "dovecot.h"
#include "err.h"
#include "str.h"

#define SOCKET_DEFAULT "/run/dovecot/auth-client"
#define HANDSHAKE_MAX 1000		/* server lines before DONE */
#define AUTH_ID 1UL

static checkpass cp;
static char req[DOVECOT_AUTH_MAX];
static size_t reqlen;
static const char *sockpath;
static long long deadline;
static buf in;
static char inspace[BUF_SIZE];
static str line = STR_INIT;

#define USAGE "usage: checkdovecot [-s socket] [prog...] " \
	"3< user\\0password\\0timestamp\\0"

static noreturn void
usage(void)
{
	err_die(CHECKPASS_USAGE, USAGE, (const char *)0);
}

static void
wipe(void)
{
	explicit_bzero(req, sizeof req);
	checkpass_wipe(&cp);
}

static noreturn void
die_temp(const char *a, const char *b)
{
	wipe();
	err_die(CHECKPASS_TEMP, a, b, (const char *)0);
}

static noreturn void
die_tempsys(const char *a, const char *b)
{
	int e = errno;

	wipe();
	errno = e;
	err_diesys(CHECKPASS_TEMP, a, b, (const char *)0);
}

/* ip - is the environment variable name set to an IP address? */
static const char *
ip(const char *name)
{
	const char *s = getenv(name);
	unsigned char a[16];

	if (!s || (inet_pton(AF_INET, s, a) != 1 &&
	    inet_pton(AF_INET6, s, a) != 1))
		return 0;
	return s;
}

static void
config(void)
{
	static str path = STR_INIT;
	unsigned long t;
	int r;

	if (!sockpath) {
		r = control_readline(&path, "dovecotauth");
		if (r < 0)
			die_tempsys("unable to read control/dovecotauth", "");
		sockpath = r ? path.s : SOCKET_DEFAULT;
	}
	if (control_number("timeoutdovecot", &t) < 0)
		die_tempsys("unable to read control/timeoutdovecot", "");
	deadline = checkpass_deadline((long long)t * 1000);
}

static int
dial(void)
{
	struct sockaddr_un sa;
	int s;

	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(sockpath) >= sizeof sa.sun_path)
		die_temp("socket path too long: ", sockpath);
	memcpy(sa.sun_path, sockpath, strlen(sockpath));
	/* non-blocking: a full listen queue fails at once rather than
	 * hanging; fd_read and fd_writeall poll with the deadline */
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0)
		die_tempsys("unable to create a socket", "");
	if (connect(s, (struct sockaddr *)&sa, sizeof sa) < 0)
		die_tempsys("unable to connect to ", sockpath);
	return s;
}

static void
send_all(int s, const char *x, size_t n)
{
	int left = checkpass_left(deadline);

	if (!left)
		die_temp("timed out talking to Dovecot at ", sockpath);
	if (fd_writeall(s, x, n, left) < 0)
		die_tempsys("unable to write to ", sockpath);
}

/* reply - the next line from Dovecot, parsed into r */
static int
reply(dovecot_reply *r)
{
	int x;

	in.timeout = checkpass_left(deadline);
	if (!in.timeout)
		die_temp("timed out talking to Dovecot at ", sockpath);
	x = buf_getline(&in, &line, DOVECOT_LINE_MAX + 1);
	if (x == BUF_ERR) {
		if (errno == ETIMEDOUT)
			die_temp("timed out talking to Dovecot at ", sockpath);
		die_tempsys("unable to read from ", sockpath);
	}
	if (x == BUF_EOF)
		die_temp("Dovecot closed the connection at ", sockpath);
	if (x == BUF_LONG)
		die_temp("line too long from Dovecot at ", sockpath);
	if (str_0(&line) < 0)
		die_temp("out of memory", "");
	return dovecot_parse(r, line.s, line.len - 1);	/* LF dropped */
}

int
main(int argc, char **argv)
{
	static str params = STR_INIT, hello = STR_INIT;
	dovecot_reply r;
	const char *v;
	char **prog = argv + 1;
	size_t nlines = 0;
	ssize_t n;
	int s, plain = 0, x;

	(void)argc;
	err_prog = "checkdovecot";
	err_help(argc, argv, USAGE);
	if (prog[0] && !strcmp(prog[0], "-s")) {
		if (!prog[1])
			usage();
		sockpath = prog[1];
		prog += 2;
	}
	checkpass_start(&cp, USAGE);

	/* the request first: a name or password it cannot carry is a no
	 * before anything is sent */
	if ((getenv("SSL_PROTOCOL") && str_puts(&params, "\tsecured") < 0) ||
	    ((v = ip("TCPREMOTEIP")) && (str_puts(&params, "\trip=") < 0 ||
	    str_puts(&params, v) < 0)) ||
	    ((v = ip("TCPLOCALIP")) && (str_puts(&params, "\tlip=") < 0 ||
	    str_puts(&params, v) < 0)) || str_0(&params) < 0)
		die_temp("out of memory", "");
	n = dovecot_auth(req, sizeof req, AUTH_ID, params.s, cp.user,
	    cp.userlen, cp.pass, cp.passlen);
	checkpass_wipe(&cp);	/* from here on only req holds it */
	if (n == -1)
		checkpass_exit(&cp, CHECKPASS_NO);
	if (n < 0)
		die_temp("out of memory", "");
	reqlen = (size_t)n;

	signal(SIGPIPE, SIG_IGN);
	config();
	s = dial();
	buf_init(&in, s, inspace, sizeof inspace, 0);
	if (str_copys(&hello, "VERSION\t1\t2\nCPID\t") < 0 ||
	    str_putu(&hello, (unsigned long long)getpid()) < 0 ||
	    str_putc(&hello, '\n') < 0)
		die_temp("out of memory", "");
	send_all(s, hello.s, hello.len);

	/* the server's handshake: VERSION first, then up to DONE */
	x = reply(&r);
	if (x != DOVECOT_VERSION || r.num != 1)
		die_temp("Dovecot does not speak protocol version 1 at ",
		    sockpath);
	for (;;) {
		if (++nlines > HANDSHAKE_MAX)
			die_temp("no end of handshake from Dovecot at ",
			    sockpath);
		x = reply(&r);
		if (x == DOVECOT_DONE)
			break;
		if (x == DOVECOT_MECH && !strcasecmp(r.arg[0], "PLAIN"))
			plain = 1;
		else if (x != DOVECOT_MECH && x != DOVECOT_OTHER)
			die_temp("unexpected handshake line from Dovecot at ",
			    sockpath);
	}
	if (!plain)
		die_temp("Dovecot does not offer PLAIN at ", sockpath);

	send_all(s, req, reqlen);
	explicit_bzero(req, sizeof req);
	x = reply(&r);
	if ((x != DOVECOT_OK && x != DOVECOT_FAIL && x != DOVECOT_CONT) ||
	    r.num != AUTH_ID)
		die_temp("unexpected reply from Dovecot at ", sockpath);
	close(s);
	if (x == DOVECOT_OK) {
		signal(SIGPIPE, SIG_DFL);
		checkpass_yes(&cp, prog);
	}
	if (x == DOVECOT_FAIL && (dovecot_param(&r, "temp") ||
	    ((v = dovecot_param(&r, "code")) && !strcmp(v, "temp_fail")))) {
		v = dovecot_param(&r, "reason");
		die_temp("temporary failure from Dovecot: ",
		    v && *v ? v : "no reason given");
	}
	checkpass_exit(&cp, CHECKPASS_NO);	/* FAIL, or CONT: PLAIN
						 * needs no second round */
}
