/* control - reading control files. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control.h"
#include "err.h"
#include "home.h"
#include "num.h"

int
control_readpath(str *out, const char *path, size_t max)
{
	struct stat st;
	int fd, e;
	ssize_t r;

	out->len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) < 0)
		goto fail;
	if ((unsigned long long)st.st_size > max) {
		errno = EFBIG;
		goto fail;
	}
	/* Room for the file as fstat saw it and the read of its end: a
	 * small file gets a small buffer (a fixed 4 KB step cost musl's
	 * allocator an mmap and a munmap for every file read), a file that
	 * grew meanwhile gets more. */
	if (str_ready(out, (size_t)st.st_size + 1) < 0)
		goto fail;
	for (;;) {
		if (out->a - out->len < 2 && str_ready(out, 4096) < 0)
			goto fail;
		r = read(fd, out->s + out->len, out->a - out->len - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (r == 0)
			break;
		out->len += (size_t)r;
		if (out->len > max) {
			errno = EFBIG;
			goto fail;
		}
	}
	close(fd);
	if (str_0(out) < 0)
		return -1;
	return 1;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

int
control_readfile(str *out, const char *name)
{
	str rel = STR_INIT, path = STR_INIT;
	int r = -1;

	out->len = 0;
	if (str_copys(&rel, "control/") >= 0 && str_puts(&rel, name) >= 0 &&
	    str_0(&rel) >= 0 && home_path(&path, rel.s) >= 0)
		r = control_readpath(out, path.s, CONTROL_MAX);
	str_free(&rel);
	str_free(&path);
	return r;
}

int
control_readlist(str *out, const char *name)
{
	str raw = STR_INIT;
	size_t i = 0;
	int r = control_readfile(&raw, name);

	out->len = 0;
	if (r <= 0) {
		str_free(&raw);
		return r;
	}
	while (i < raw.len) {
		const char *s = raw.s + i;
		const char *lf = memchr(s, '\n', raw.len - i);
		size_t n = lf ? (size_t)(lf - s) : raw.len - i;

		i += n + 1;
		while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
		    s[n - 1] == '\r'))
			n--;
		if (!n || s[0] == '#')
			continue;
		if (str_put(out, s, n) < 0 || str_putc(out, 0) < 0) {
			str_free(&raw);
			return -1;
		}
	}
	str_free(&raw);
	return 1;
}

const char *
control_next(const str *list, size_t *pos)
{
	const char *s;

	if (*pos >= list->len)
		return 0;
	s = list->s + *pos;
	*pos += strlen(s) + 1;
	return s;
}

int
control_readline(str *out, const char *name)
{
	int r = control_readlist(out, name);

	if (r <= 0)
		return r;
	if (!out->len)
		return 0;
	out->len = strlen(out->s);
	return 1;
}

int
control_filename(str *path, const char *name)
{
	str line = STR_INIT;
	int r = control_readline(&line, name), e;

	path->len = 0;
	if (r > 0 && (line.s[0] == '/' ? str_copys(path, line.s) < 0 ||
	    str_0(path) < 0 : home_path(path, line.s) < 0))
		r = -1;
	e = errno;
	str_free(&line);
	errno = e;
	return r;
}

const struct control_num control_nums[] = {
	{ "concurrencylocal", 10, 1, 65535, "local deliveries at once" },
	{ "concurrencyperip", 50, 0, 65535,
	    "smtpd sessions at once per client IP (IPv6: /64), 0 no limit" },
	{ "concurrencyremote", 20, 1, 65535, "remote deliveries at once" },
	{ "dmarcreject", 0, 0, 1,
	    "1: authcheck refuses DMARC fails of p=reject domains (550)" },
	{ "databytes", 10240000, 1, ULONG_MAX, "largest message smtpd takes" },
	{ "dkimdefer", 0, 0, 1,
	    "1: defer mail whose DKIM key is unusable (0: send unsigned)" },
	{ "dkimexpire", 0, 0, 1UL << 32,
	    "seconds a DKIM signature is valid (x=), 0 no x=" },
	{ "maxrcpt", 100, 1, ULONG_MAX, "recipients per message smtpd takes" },
	{ "queuelifetime", 604800, 0, 1UL << 40,
	    "seconds before retries give up" },
	{ "remoteport", 25, 1, 65535, "port remote connects to" },
	{ "spfreject", 0, 0, 1,
	    "1: smtpd refuses SPF fails at MAIL (550, via authcheck --mail)" },
	{ "timeoutcheckpw", 30, 1, 86400,
	    "seconds smtpd gives the password checker" },
	{ "timeoutconnect", 60, 1, 86400, "remote connect timeout, seconds" },
	{ "timeoutdata", 1800, 1, 86400,
	    "seconds smtpd allows for one message's DATA" },
	{ "timeoutdovecot", 10, 1, 86400,
	    "seconds checkdovecot waits for Dovecot" },
	{ "timeoutmtasts", 60, 1, 600,
	    "seconds for a whole MTA-STS policy fetch" },
	{ "timeoutprogram", 1000, 1, 86400,
	    "seconds local gives a |program delivery" },
	{ "timeoutremote", 1200, 1, 86400, "remote read timeout, seconds" },
	{ "timeoutsession", 3600, 1, 604800,
	    "seconds smtpd allows for a whole session" },
	{ "timeoutsmtpd", 1200, 1, 86400, "smtpd idle timeout, seconds" },
	{ "timeouttls", 30, 1, 86400, "tlsd handshake timeout, seconds" },
	{ "tlsdane", 1, 0, 1,
	    "remote: DANE wherever TLSA validates (0: only policy dane)" },
	{ "tlsdowngrade", 0, 0, 1,
	    "remote: defer a domain that spoke TLS before and now offers none" },
	{ 0, 0, 0, 0, 0 }
};

/* number - control/NAME into *out (which holds the value in effect);
 * keep: a value that is not a number leaves *out (else the default) */
static int
number(const char *name, unsigned long *out, int keep)
{
	const struct control_num *c = control_nums;
	str x = STR_INIT;
	unsigned long long u;
	char num[NUM_LEN];
	int r;

	while (c->name && strcmp(c->name, name))
		c++;
	if (!c->name)
		abort();	/* a name missing from the table: our bug */
	if (!keep)
		*out = c->dflt;
	r = control_readline(&x, name);
	if (r <= 0) {
		str_free(&x);
		if (r == 0)
			*out = c->dflt;
		return r;
	}
	if (num_whole(x.s, x.len, ULLONG_MAX, &u) < 0) {
		/* a typo must not stop the program: it is told, once per
		 * read, and the file is ignored */
		if (x.len > CONTROL_SHOW_MAX) {
			x.len = CONTROL_SHOW_MAX;
			if (str_puts(&x, "...") < 0)
				x.len = 0;
		}
		if (str_0(&x) < 0)
			x.len = 0;
		err_warn("control/", name, ": ", x.len ? x.s : "?",
		    " is not a number: ", keep ? "keeping " : "using the "
		    "default ", num_fmt(num, *out), (const char *)0);
		str_free(&x);
		return CONTROL_NOTNUM;
	}
	str_free(&x);
	if (u == 0 && c->min > 0) {
		*out = c->dflt;
		return 0;
	}
	*out = u < c->min ? c->min : u > c->max ? c->max : (unsigned long)u;
	return 1;
}

int
control_number(const char *name, unsigned long *out)
{
	return number(name, out, 0);
}

int
control_number_keep(const char *name, unsigned long *out)
{
	return number(name, out, 1);
}
