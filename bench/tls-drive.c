/* tls-drive - a STARTTLS load generator for bench/tls-bench: COUNT SMTP
 * sessions against 127.0.0.1:PORT, WORKERS of them at once, each
 *   connect, 220, EHLO, STARTTLS, handshake, EHLO, [MAIL, RCPT, DATA,
 *   SIZE bytes of message, "."], QUIT
 * and print one line: "ok FAILED seconds rate client_cpu_seconds
 * protocol cipher group" (the last three of one session).  Compiled by
 * bench/tls-bench; not installed.
 *
 *   tls-drive PORT COUNT WORKERS SIZE DEADLINE
 *       SIZE 0: no message (sessions per second); DEADLINE: seconds for
 *       the whole run, after which no session starts and the workers
 *       still busy are killed (their sessions count as failed).
 *   tls-drive -H PORT SECONDS
 *       one session up to the second EHLO, then print the client's port
 *       and hold the connection idle for SECONDS before QUIT (to measure
 *       the memory of the server processes serving it).
 *
 * Workers are processes (fork); each takes the next session number from
 * a shared counter, so none sits idle while sessions remain.  The client
 * context is made once, before the fork; no session is resumed (the
 * servers do not offer it anyway), no certificate is verified.  Every
 * read and write has a 10-second socket timeout.  TLS_DRIVE_QUICKACK=1
 * in the environment: TCP_QUICKACK before every wait (see ack()).
 * Exit codes: 0 when every session succeeded, 1 when some failed, 100
 * for usage, 111 for a failed system call. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define WORKERS_MAX 200
#define SIZE_MAX_MSG (10 * 1024 * 1024)
#define IO_TIMEOUT 10			/* seconds per read or write */
#define LINE_MAX_REPLY 4096

struct shared {
	long next;			/* next session number */
	long ok, failed;
	char proto[32], cipher[64], group[32];
};

struct conn {
	int fd;
	SSL *ssl;
	char buf[LINE_MAX_REPLY];
	size_t len;
};

static struct shared *sh;
static int quickack;			/* env TLS_DRIVE_QUICKACK=1 */
static unsigned short port;
static const char *message;
static size_t message_len;

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ack - with quickack, ACK at once what arrives next instead of waiting
 * up to 40 ms for data to carry the ACK: a server that sends a small
 * segment and then holds the next one back (Nagle) until that ACK
 * stalls otherwise.  Linux leaves quick-ack mode by itself, so this is
 * called before every wait for a reply. */
static void
ack(const struct conn *c)
{
	int one = 1;

	if (quickack)
		setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
}

static int
conn_write(struct conn *c, const char *s, size_t len)
{
	while (len) {
		ssize_t w;

		if (c->ssl) {
			int r = SSL_write(c->ssl, s, (int)len);

			if (r <= 0)
				return -1;
			w = r;
		} else {
			w = write(c->fd, s, len);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return -1;
		}
		s += w;
		len -= (size_t)w;
	}
	ack(c);		/* sending turned delayed ACKs back on */
	return 0;
}

/* conn_reply - read one (multi-line) reply; 0 when its code is want */
static int
conn_reply(struct conn *c, int want)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);

		if (nl) {
			size_t ll = (size_t)(nl - c->buf) + 1;
			int last = ll >= 4 && c->buf[3] != '-', code;

			code = ll >= 3 ? atoi(c->buf) : -1;
			memmove(c->buf, nl + 1, c->len - ll);
			c->len -= ll;
			if (last)
				return code == want ? 0 : -1;
			continue;
		}
		if (c->len == sizeof c->buf)
			return -1;
		{
			ssize_t r;

			if (c->ssl) {
				int n = SSL_read(c->ssl, c->buf + c->len,
				    (int)(sizeof c->buf - c->len));

				r = n > 0 ? n : -1;
			} else {
				do
					r = read(c->fd, c->buf + c->len,
					    sizeof c->buf - c->len);
				while (r < 0 && errno == EINTR);
			}
			if (r <= 0)
				return -1;
			c->len += (size_t)r;
		}
	}
}

static int
cmd(struct conn *c, const char *line, int want)
{
	return conn_write(c, line, strlen(line)) < 0 ? -1 :
	    conn_reply(c, want);
}

/* session - one dialogue; hold > 0: stop after the second EHLO, print
 * the local port, sleep hold seconds, then QUIT */
static int
session(SSL_CTX *ctx, int hold, int record)
{
	struct conn c;
	struct sockaddr_in sa;
	struct timeval tv = { IO_TIMEOUT, 0 };
	int one = 1, rc = -1;

	memset(&c, 0, sizeof c);
	c.fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c.fd < 0)
		return -1;
	setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c.fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		goto out;
	if (conn_reply(&c, 220) < 0 ||
	    cmd(&c, "EHLO client.example\r\n", 250) < 0 ||
	    cmd(&c, "STARTTLS\r\n", 220) < 0 || c.len)
		goto out;
	ack(&c);
	c.ssl = SSL_new(ctx);
	if (!c.ssl || !SSL_set_fd(c.ssl, c.fd) || SSL_connect(c.ssl) != 1)
		goto out;
	if (cmd(&c, "EHLO client.example\r\n", 250) < 0)
		goto out;
	if (record) {
		const char *g = SSL_group_to_name(c.ssl,
		    SSL_get_negotiated_group(c.ssl));

		snprintf(sh->proto, sizeof sh->proto, "%s",
		    SSL_get_version(c.ssl));
		snprintf(sh->cipher, sizeof sh->cipher, "%s",
		    SSL_get_cipher_name(c.ssl));
		snprintf(sh->group, sizeof sh->group, "%s", g ? g : "?");
	}
	if (hold > 0) {
		struct sockaddr_in me;
		socklen_t ml = sizeof me;

		if (getsockname(c.fd, (struct sockaddr *)&me, &ml) < 0)
			goto out;
		printf("%u\n", (unsigned)ntohs(me.sin_port));
		fflush(stdout);
		sleep((unsigned)hold);
	}
	if (message_len) {
		if (cmd(&c, "MAIL FROM:<bench@sender.example>\r\n", 250) < 0 ||
		    cmd(&c, "RCPT TO:<rcpt@remote.example>\r\n", 250) < 0 ||
		    cmd(&c, "DATA\r\n", 354) < 0 ||
		    conn_write(&c, message, message_len) < 0 ||
		    conn_reply(&c, 250) < 0)
			goto out;
	}
	if (cmd(&c, "QUIT\r\n", 221) < 0)
		goto out;
	rc = 0;
out:
	if (c.ssl) {
		if (!rc)
			(void)SSL_shutdown(c.ssl);
		SSL_free(c.ssl);
	}
	close(c.fd);
	ERR_clear_error();
	return rc;
}

static void
worker(SSL_CTX *ctx, long count, double deadline)
{
	while (now() < deadline) {
		long i = __atomic_fetch_add(&sh->next, 1, __ATOMIC_RELAXED);

		if (i >= count)
			break;
		if (session(ctx, 0, i == 0) == 0)
			__atomic_fetch_add(&sh->ok, 1, __ATOMIC_RELAXED);
		else
			__atomic_fetch_add(&sh->failed, 1, __ATOMIC_RELAXED);
	}
	_exit(0);
}

/* mkmessage - size bytes of headers and 75-column lines, CRLF, then
 * the end-of-data line */
static void
mkmessage(size_t size)
{
	static const char hdr[] = "From: bench@sender.example\r\n"
	    "To: rcpt@remote.example\r\nSubject: tls bench\r\n\r\n";
	char *m = malloc(size + sizeof hdr + 8);
	size_t n = 0, col = 0;

	if (!m)
		exit(111);
	memcpy(m, hdr, sizeof hdr - 1);
	n = sizeof hdr - 1;
	while (n + 2 < size) {
		if (col == 75) {
			m[n++] = '\r';
			m[n++] = '\n';
			col = 0;
		} else {
			m[n++] = 'x';
			col++;
		}
	}
	memcpy(m + n, "\r\n.\r\n", 5);
	message = m;
	message_len = n + 5;
}

static void
usage(void)
{
	fprintf(stderr, "usage: tls-drive PORT COUNT WORKERS SIZE DEADLINE\n"
	    "       tls-drive -H PORT SECONDS\n");
	exit(100);
}

int
main(int argc, char **argv)
{
	SSL_CTX *ctx;
	long count, workers = 0, i, size = 0, dl = 0;
	pid_t pids[WORKERS_MAX];
	double t0, t1, deadline;
	struct rusage ru;
	int st;

	signal(SIGPIPE, SIG_IGN);
	quickack = getenv("TLS_DRIVE_QUICKACK") &&
	    !strcmp(getenv("TLS_DRIVE_QUICKACK"), "1");
	if (argc == 4 && !strcmp(argv[1], "-H")) {
		port = (unsigned short)atoi(argv[2]);
		count = atol(argv[3]);
		if (!port || count < 1 || count > 3600)
			usage();
	} else if (argc == 6) {
		port = (unsigned short)atoi(argv[1]);
		count = atol(argv[2]);
		workers = atol(argv[3]);
		size = atol(argv[4]);
		dl = atol(argv[5]);
		if (!port || count < 1 || workers < 1 ||
		    workers > WORKERS_MAX || size < 0 ||
		    size > SIZE_MAX_MSG || dl < 1)
			usage();
	} else
		usage();
	sh = mmap(0, sizeof *sh, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 111;
	memset(sh, 0, sizeof *sh);
	OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG, 0);
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return 111;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);

	if (!strcmp(argv[1], "-H"))
		return session(ctx, (int)count, 1) == 0 ? 0 : 1;

	if (size)
		mkmessage((size_t)size);
	t0 = now();
	deadline = t0 + (double)dl;
	for (i = 0; i < workers; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			return 111;
		if (pids[i] == 0)
			worker(ctx, count, deadline);
	}
	/* the parent enforces the deadline: a hung worker is killed */
	for (i = 0; i < workers; ) {
		pid_t p = waitpid(-1, &st, WNOHANG);

		if (p > 0) {
			i++;
			continue;
		}
		if (p < 0 && errno != EINTR)
			break;
		if (now() > deadline + IO_TIMEOUT + 2) {
			long j;

			for (j = 0; j < workers; j++)
				kill(pids[j], SIGKILL);
			while (waitpid(-1, &st, 0) > 0 || errno == EINTR)
				;
			break;
		}
		usleep(2000);
	}
	t1 = now();
	getrusage(RUSAGE_CHILDREN, &ru);
	if (sh->ok + sh->failed < count)
		sh->failed = count - sh->ok;
	printf("%ld %ld %.3f %.1f %.3f %s %s %s\n", sh->ok, sh->failed,
	    t1 - t0, (double)sh->ok / (t1 - t0),
	    (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6,
	    sh->proto[0] ? sh->proto : "-", sh->cipher[0] ? sh->cipher : "-",
	    sh->group[0] ? sh->group : "-");
	return sh->failed ? 1 : 0;
}
