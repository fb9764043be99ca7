/* tlsd - the TLS front end: OpenSSL in a process of its own between
 * tcpserver and a plain-text server program (smtpd).
 *
 * Purpose: hold the certificate and key, speak TLS to the network and
 * plain bytes to the program, so that the program never links OpenSSL
 * and never sees the key.  tcpserver ... tlsd [-i] smtpd ...
 *
 * Two modes:
 *   -i     implicit TLS (RFC 8314, port 465): the handshake comes first;
 *          only after it succeeds is the program started, with fd 0 and
 *          fd 1 a socket to tlsd carrying the plain bytes, and the
 *          session described in its environment (below).  A client that
 *          does not speak TLS never reaches the program.
 *   (none) STARTTLS (RFC 3207), the UCSPI-TLS convention of ucspi-ssl's
 *          sslserver: the program starts at once with fd 0/1 the network
 *          connection itself, and SSLCTLFD, SSLREADFD and SSLWRITEFD in
 *          its environment, all three naming the same socket to tlsd.
 *          When the program has flushed its "220 ready" it writes one
 *          byte to SSLCTLFD: 'y' (start TLS) or 'Y' (start TLS and send
 *          the session's variables back).  tlsd then takes over the
 *          network connection and does the handshake.  On success, after
 *          'Y', it first writes "VAR=value\0" for each variable and one
 *          more "\0"; every byte after that on the socket is the plain
 *          text of the TLS stream, both ways.  A failed handshake closes
 *          the socket without writing anything.  The program must no
 *          longer touch fd 0/1 once it has written the byte, and must
 *          discard whatever it read from them and had not yet processed
 *          (CVE-2011-0411).  EOF on the socket before any byte means the
 *          program ended without TLS.
 *          When no certificate can be loaded tlsd logs why and simply
 *          executes the program, without the SSL*FD variables: the
 *          program then does not offer STARTTLS.
 *
 * Variables set for the program (Apache mod_ssl's names): SSL_PROTOCOL
 * (TLSv1.2, TLSv1.3), SSL_CIPHER (the OpenSSL or IANA suite name),
 * SSL_CIPHER_USEKEYSIZE, SSL_CIPHER_ALGKEYSIZE, SSL_TLS_SNI (when the
 * client sent a server name).
 *
 * Interface:
 *   argv   [-i] prog [arg...]
 *   fd 0/1 the network connection (tcpserver's).
 *   fd 2   the log: one line per TLS session (protocol, cipher, SNI
 *          name), one per failed handshake with its reason.  Never key
 *          material.
 *   env    TCPREMOTEIP (for the log), QPOST_HOME.
 *   control/  tlscert.pem: the certificate chain, leaf first (PEM);
 *          tlskey.pem: its private key (when absent the key is read from
 *          tlscert.pem); tlssni/NAME.pem: key and chain for the server
 *          name NAME (lower case), chosen by SNI, the default otherwise;
 *          timeouttls: seconds for the handshake (default 30);
 *          timeoutsmtpd: seconds without traffic either way before the
 *          session is dropped (default 1200).  All are read at every
 *          connection: a renewed certificate needs no restart.
 *
 * Policy: TLS 1.2 or newer (RFC 8996); forward-secret suites only
 * (ECDHE/DHE for TLS 1.2, every TLS 1.3 suite), server preference; no
 * renegotiation, no compression, no session resumption (each process
 * serves one connection).
 *
 * Exit codes: the program's exit code when it ran (a signal: 111); 111
 * when no certificate can be loaded in -i mode, the handshake failed or
 * timed out, or a system call failed; 100 for a usage error.
 *
 * Privilege: none.  Runs as the smtpd account (tcpserver -U), never as
 * root; the key should be readable by that account only.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "control.h"
#include "err.h"
#include "home.h"
#include "spawn.h"
#include "str.h"

#define EXIT_TEMP 111
#define EXIT_USAGE 100
#define SNI_MAX 253			/* octets of a DNS name */
#define ENVBLOCK_MAX 1024
#define RELAY_BUF 16384			/* one maximal TLS record */

/* TLS 1.2 suites with forward secrecy, AEAD only; TLS 1.3's are all
 * forward-secret and OpenSSL's default list is kept. */
#define CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20"

static const char *remoteip = "unknown";
static char sniname[SNI_MAX + 1];
static int rfd = 0, wfd = 1;		/* the network */

/* ossl_reason - the last OpenSSL error as a short reason, or dflt */
static const char *
ossl_reason(const char *dflt)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : 0;

	return r ? r : dflt;
}

/* ctl_seconds - a timeout; an unreadable file is its default (the
 * handshake must go on: smtpd reports a broken control/ itself) */
static unsigned long
ctl_seconds(const char *name)
{
	unsigned long u;

	(void)control_number(name, &u);
	return u;
}

/* ctx_load - a server context with the policy and the certificate in
 * cert (and key, or the key from cert when key does not exist); 0 with
 * *why set when the files cannot be used. */
static SSL_CTX *
ctx_load(const char *cert, const char *key, const char **why)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx) {
		*why = ossl_reason("unable to create a TLS context");
		return 0;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_dh_auto(ctx, 1);
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (!SSL_CTX_set_cipher_list(ctx, CIPHERS)) {
		*why = ossl_reason("no usable cipher suite");
		goto fail;
	}
	if (access(cert, R_OK) < 0) {
		*why = strerror(errno);
		goto fail;
	}
	if (!SSL_CTX_use_certificate_chain_file(ctx, cert)) {
		*why = ossl_reason("bad certificate");
		goto fail;
	}
	if (access(key, F_OK) < 0 && errno == ENOENT)
		key = cert;
	else if (access(key, R_OK) < 0) {
		*why = strerror(errno);
		goto fail;
	}
	if (!SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM)) {
		*why = ossl_reason("bad private key");
		goto fail;
	}
	if (!SSL_CTX_check_private_key(ctx)) {
		*why = "the key does not match the certificate";
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return 0;
}

/* on_sni - switch to control/tlssni/NAME.pem when the client named a
 * server we have a certificate for; any other name gets the default. */
static int
on_sni(SSL *ssl, int *alert, void *arg)
{
	const char *n = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	size_t i, len;
	str path = STR_INIT;
	SSL_CTX *ctx;
	const char *why;

	(void)alert;
	(void)arg;
	if (!n)
		return SSL_TLSEXT_ERR_OK;
	len = strlen(n);
	if (!len || len > SNI_MAX)
		return SSL_TLSEXT_ERR_OK;
	for (i = 0; i < len; i++) {
		char c = n[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || (c == '.' && i && n[i - 1] != '.')))
			return SSL_TLSEXT_ERR_OK;	/* not a host name */
		sniname[i] = c;
	}
	sniname[len] = 0;
	if (home_path(&path, "control/tlssni/") < 0 ||
	    str_puts(&path, sniname) < 0 || str_puts(&path, ".pem") < 0 ||
	    str_0(&path) < 0)
		err_nomem();
	if (access(path.s, F_OK) == 0) {
		ctx = ctx_load(path.s, path.s, &why);
		if (ctx) {
			SSL_set_SSL_CTX(ssl, ctx);
			SSL_CTX_free(ctx);	/* ssl holds a reference */
		} else
			err_warn("unable to use control/tlssni/", sniname,
			    ".pem: ", why, "; default certificate used",
			    (const char *)0);
	}
	str_free(&path);
	return SSL_TLSEXT_ERR_OK;
}

/* wait_io - poll the network for what OpenSSL asked; -1 on timeout */
static int
wait_io(int err, int timeout_ms)
{
	struct pollfd p;
	int r;

	p.fd = err == SSL_ERROR_WANT_WRITE ? wfd : rfd;
	p.events = err == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		errno = ETIMEDOUT;
	return r > 0 ? 0 : -1;
}

static void
nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		err_diesys(EXIT_TEMP, "unable to set O_NONBLOCK",
		    (const char *)0);
}

/* handshake - SSL_accept within the deadline; logs the outcome */
static int
handshake(SSL *ssl, unsigned long seconds)
{
	struct timespec t0, t;
	long ms_left;

	nonblock(rfd);
	if (wfd != rfd)
		nonblock(wfd);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int r = SSL_accept(ssl), e;

		if (r == 1)
			break;
		e = SSL_get_error(ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			const char *why;

			if (e == SSL_ERROR_SYSCALL && !ERR_peek_last_error())
				why = errno && errno != EAGAIN ? strerror(errno)
				    : "the client closed the connection";
			else
				why = ossl_reason("protocol error");
			err_warn("tls handshake failed ip ", remoteip, ": ",
			    why, (const char *)0);
			return -1;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		ms_left = (long)seconds * 1000 -
		    ((t.tv_sec - t0.tv_sec) * 1000 +
		    (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (ms_left <= 0 || wait_io(e, (int)ms_left) < 0) {
			err_warn("tls handshake failed ip ", remoteip, ": ",
			    errno == ETIMEDOUT ? "timeout" : strerror(errno),
			    (const char *)0);
			return -1;
		}
	}
	err_info("tls ip ", remoteip, " proto ", SSL_get_version(ssl),
	    " cipher ", SSL_get_cipher_name(ssl), " sni ",
	    sniname[0] ? sniname : "-", (const char *)0);
	return 0;
}

/* session_env - the session's variables as "VAR=value\0"... into e */
static void
session_env(SSL *ssl, str *e)
{
	int alg = 0, use = SSL_get_cipher_bits(ssl, &alg);

	if (str_puts(e, "SSL_PROTOCOL=") < 0 ||
	    str_puts(e, SSL_get_version(ssl)) < 0 || str_putc(e, 0) < 0 ||
	    str_puts(e, "SSL_CIPHER=") < 0 ||
	    str_puts(e, SSL_get_cipher_name(ssl)) < 0 ||
	    str_putc(e, 0) < 0 ||
	    str_puts(e, "SSL_CIPHER_USEKEYSIZE=") < 0 ||
	    str_putu(e, (unsigned long long)(use < 0 ? 0 : use)) < 0 ||
	    str_putc(e, 0) < 0 ||
	    str_puts(e, "SSL_CIPHER_ALGKEYSIZE=") < 0 ||
	    str_putu(e, (unsigned long long)(alg < 0 ? 0 : alg)) < 0 ||
	    str_putc(e, 0) < 0)
		err_nomem();
	if (sniname[0] && (str_puts(e, "SSL_TLS_SNI=") < 0 ||
	    str_puts(e, sniname) < 0 || str_putc(e, 0) < 0))
		err_nomem();
}

/* want - after an SSL_read or SSL_write that returned r <= 0: note in
 * *in or *out what the network must be polled for; -1 when the session
 * is over (close_notify, EOF, an error) */
static int
want(SSL *ssl, int r, short *in, short *out)
{
	int e = SSL_get_error(ssl, r);

	if (e == SSL_ERROR_WANT_READ)
		*in = 1;
	else if (e == SSL_ERROR_WANT_WRITE)
		*out = 1;
	else
		return -1;
	return 0;
}

/* relay - copy between the TLS stream and the program's socket a until
 * the program closes it (or either side fails, or nothing moves for
 * idle seconds); then a TLS close_notify. */
static void
relay(SSL *ssl, int a, unsigned long idle)
{
	char n2a[RELAY_BUF], a2n[RELAY_BUF];
	size_t n2a_len = 0, n2a_off = 0, a2n_len = 0;
	int net_eof = 0, app_eof = 0;

	nonblock(a);
	for (;;) {
		struct pollfd p[3];
		int np = 0, progress = 0, r;
		short net_in = 0, net_out = 0;

		if (!net_eof && !n2a_len) {
			r = SSL_read(ssl, n2a, sizeof n2a);
			if (r > 0) {
				n2a_len = (size_t)r;
				n2a_off = 0;
				progress = 1;
			} else if (want(ssl, r, &net_in, &net_out) < 0) {
				net_eof = 1;	/* close_notify, EOF or error */
				(void)shutdown(a, SHUT_WR);
				progress = 1;
			}
		}
		if (n2a_len) {
			ssize_t w = write(a, n2a + n2a_off, n2a_len - n2a_off);

			if (w > 0) {
				n2a_off += (size_t)w;
				if (n2a_off == n2a_len)
					n2a_len = 0;
				progress = 1;
			} else if (errno != EAGAIN && errno != EINTR)
				return;		/* the program is gone */
		}
		if (!app_eof && !a2n_len) {
			ssize_t n = read(a, a2n, sizeof a2n);

			if (n > 0) {
				a2n_len = (size_t)n;
				progress = 1;
			} else if (n == 0 ||
			    (errno != EAGAIN && errno != EINTR)) {
				app_eof = 1;
				progress = 1;
			}
		}
		if (a2n_len) {
			r = SSL_write(ssl, a2n, (int)a2n_len);
			if (r > 0) {
				a2n_len = 0;
				progress = 1;
			} else if (want(ssl, r, &net_in, &net_out) < 0)
				return;		/* the client is gone */
		}
		if (app_eof && !a2n_len) {
			if (!net_eof)
				(void)SSL_shutdown(ssl);
			return;
		}
		if (progress)
			continue;
		if (net_in) {
			p[np].fd = rfd;
			p[np++].events = POLLIN;
		}
		if (net_out) {
			p[np].fd = wfd;
			p[np++].events = POLLOUT;
		}
		p[np].fd = a;
		p[np++].events = (short)((n2a_len ? POLLOUT : 0) |
		    (!app_eof && !a2n_len ? POLLIN : 0));
		do
			r = poll(p, (nfds_t)np, (int)(idle * 1000));
		while (r < 0 && errno == EINTR);
		if (r <= 0) {
			err_warn("tls session ip ", remoteip, ": ",
			    r == 0 ? "idle timeout" : strerror(errno),
			    (const char *)0);
			return;
		}
	}
}

/* run - start the program with env (NUL-separated "VAR=value") added;
 * fd 0 and 1 become io when io >= 0.  Returns the child's pid. */
static pid_t
run(char **prog, const str *env, int io)
{
	struct spawn_fd fds[2] = { { io, 0 }, { io, 1 } };
	struct spawn sp = { .fds = fds, .nfds = io >= 0 ? 2 : 0, .env = env };
	pid_t pid = spawn_run(prog, &sp);

	if (pid < 0)
		err_diesys(EXIT_TEMP, "unable to fork", (const char *)0);
	return pid;
}

static int
reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return EXIT_TEMP;
	return WIFEXITED(st) ? WEXITSTATUS(st) : EXIT_TEMP;
}

static void
setfdenv(str *env, int fd)
{
	static const char *const names[] = { "SSLCTLFD=", "SSLREADFD=",
	    "SSLWRITEFD=" };
	size_t i;

	for (i = 0; i < 3; i++)
		if (str_puts(env, names[i]) < 0 ||
		    str_putu(env, (unsigned long long)fd) < 0 ||
		    str_putc(env, 0) < 0)
			err_nomem();
	if (str_putc(env, 0) < 0)
		err_nomem();
}

int
main(int argc, char **argv)
{
	int implicit = 0, sv[2];
	const char *e, *why = 0;
	str cert = STR_INIT, key = STR_INIT, env = STR_INIT;
	SSL_CTX *ctx;
	SSL *ssl;
	unsigned long hs, idle;
	pid_t pid;
	char cmd;
	ssize_t n;

	err_prog = "tlsd";
	err_help(argc, argv, "usage: tlsd [-i] prog [arg...]");
	if (argc > 1 && !strcmp(argv[1], "-i")) {
		implicit = 1;
		argv++;
		argc--;
	}
	if (argc < 2 || argv[1][0] == '-')
		err_die(EXIT_USAGE, "usage: tlsd [-i] prog [arg...]",
		    (const char *)0);
	argv++;
	signal(SIGPIPE, SIG_IGN);
	/* an ignored SIGCHLD (inherited through exec) would let the kernel
	 * reap smtpd before we wait for it */
	signal(SIGCHLD, SIG_DFL);
	if ((e = getenv("TCPREMOTEIP")) && *e)
		remoteip = e;
	/* a program started without TLS must not believe it has TLS */
	unsetenv("SSL_PROTOCOL");
	unsetenv("SSL_CIPHER");
	unsetenv("SSL_TLS_SNI");
	unsetenv("SSLCTLFD");
	unsetenv("SSLREADFD");
	unsetenv("SSLWRITEFD");
	hs = ctl_seconds("timeouttls");
	idle = ctl_seconds("timeoutsmtpd");
	if (home_path(&cert, "control/tlscert.pem") < 0 ||
	    home_path(&key, "control/tlskey.pem") < 0)
		err_nomem();
	OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG, 0);
	ctx = ctx_load(cert.s, key.s, &why);
	if (!ctx) {
		if (implicit)
			err_die(EXIT_TEMP, "unable to use control/tlscert.pem"
			    " or control/tlskey.pem: ", why,
			    "; connection from ", remoteip, " closed",
			    (const char *)0);
		err_warn("unable to use control/tlscert.pem or "
		    "control/tlskey.pem: ", why, "; STARTTLS not offered",
		    (const char *)0);
		execvp(argv[0], argv);
		err_diesys(errno == ENOENT ? 127 : 126, "unable to run ",
		    argv[0], (const char *)0);
	}
	SSL_CTX_set_tlsext_servername_callback(ctx, on_sni);
	ssl = SSL_new(ctx);
	if (!ssl || !SSL_set_rfd(ssl, rfd) || !SSL_set_wfd(ssl, wfd))
		err_die(EXIT_TEMP, "unable to set up TLS: ",
		    ossl_reason("out of memory"), (const char *)0);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		err_diesys(EXIT_TEMP, "unable to create a socket pair",
		    (const char *)0);

	if (implicit) {
		if (handshake(ssl, hs) < 0)
			_exit(EXIT_TEMP);
		session_env(ssl, &env);
		if (str_putc(&env, 0) < 0)
			err_nomem();
		pid = run(argv, &env, sv[1]);
		close(sv[1]);
		/* the program has only its socket: tlsd alone holds the
		 * network connection */
		relay(ssl, sv[0], idle);
		close(sv[0]);
		close(rfd);
		close(wfd);
		_exit(reap(pid));
	}

	/* STARTTLS: the program gets the network now and sv[1] for later;
	 * the descriptor survives exec without SOCK_CLOEXEC. */
	if (fcntl(sv[1], F_SETFD, 0) < 0)
		err_diesys(EXIT_TEMP, "unable to pass the control socket",
		    (const char *)0);
	setfdenv(&env, sv[1]);
	pid = run(argv, &env, -1);
	close(sv[1]);
	do
		n = read(sv[0], &cmd, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1 || (cmd != 'y' && cmd != 'Y'))
		_exit(reap(pid));	/* ended without TLS */
	if (handshake(ssl, hs) < 0) {
		close(sv[0]);
		close(rfd);
		close(wfd);
		(void)reap(pid);
		_exit(EXIT_TEMP);
	}
	if (cmd == 'Y') {
		env.len = 0;
		session_env(ssl, &env);
		if (str_putc(&env, 0) < 0)
			err_nomem();
		if (env.len > ENVBLOCK_MAX || write(sv[0], env.s, env.len) !=
		    (ssize_t)env.len) {
			close(sv[0]);
			_exit(reap(pid));
		}
	}
	relay(ssl, sv[0], idle);
	close(sv[0]);
	close(rfd);
	close(wfd);
	_exit(reap(pid));
}
