/* dovecot - Dovecot's authentication protocol, client side. */
#include <string.h>

#include "b64.h"
#include "dovecot.h"
#include "num.h"
#include "str.h"

/* number - a decimal field that fits 32 bits (Dovecot's ids and
 * versions are unsigned int); -1 if it is not one */
static int
number(const char *s, size_t n, unsigned long *u)
{
	unsigned long long v;

	if (num_whole(s, n, 0xffffffffUL, &v) < 0)
		return -1;
	*u = (unsigned long)v;
	return 0;
}

/* unescape - \001-escapes of s[0..n) undone in place; the new length */
static size_t
unescape(char *s, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == '\001' && i + 1 < n) {
			switch (s[++i]) {
			case '0': c = 0; break;
			case '1': c = '\001'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'n': c = '\n'; break;
			default: c = s[i]; break;
			}
		}
		s[o++] = c;
	}
	s[o] = 0;
	return o;
}

int
dovecot_parse(dovecot_reply *r, char *s, size_t n)
{
	static const struct {
		const char *name;
		int type;
		size_t minargs;
	} cmds[] = {
		{ "VERSION", DOVECOT_VERSION, 2 },
		{ "MECH", DOVECOT_MECH, 1 },
		{ "DONE", DOVECOT_DONE, 0 },
		{ "OK", DOVECOT_OK, 1 },
		{ "FAIL", DOVECOT_FAIL, 1 },
		{ "CONT", DOVECOT_CONT, 1 },
		{ 0, DOVECOT_OTHER, 0 }
	};
	const char *cmd = s;
	size_t cmdlen, i, pos;
	char *tab;

	r->type = DOVECOT_BAD;
	r->num = 0;
	r->n = 0;
	if (!n || n > DOVECOT_LINE_MAX || memchr(s, 0, n))
		return r->type;
	tab = memchr(s, '\t', n);
	cmdlen = tab ? (size_t)(tab - s) : n;
	if (!cmdlen)
		return r->type;
	for (i = 0; i < cmdlen; i++)
		if (s[i] < 'A' || s[i] > 'Z')
			return r->type;
	for (pos = cmdlen; pos < n;) {
		char *f = s + pos + 1;	/* after the TAB at s[pos] */
		char *end = memchr(f, '\t', n - pos - 1);
		size_t flen = end ? (size_t)(end - f) : n - pos - 1;

		if (r->n == DOVECOT_ARGS_MAX)
			return r->type;
		pos += 1 + flen;
		r->arg[r->n] = f;
		r->len[r->n] = unescape(f, flen);	/* writes s[pos] */
		r->n++;
	}
	s[cmdlen] = 0;
	for (i = 0; cmds[i].name; i++)
		if (strlen(cmds[i].name) == cmdlen &&
		    !memcmp(cmds[i].name, cmd, cmdlen))
			break;
	if (r->n < cmds[i].minargs)
		return r->type;
	if ((cmds[i].type == DOVECOT_VERSION || cmds[i].type == DOVECOT_OK ||
	    cmds[i].type == DOVECOT_FAIL || cmds[i].type == DOVECOT_CONT) &&
	    number(r->arg[0], r->len[0], &r->num) < 0)
		return r->type;
	r->type = cmds[i].type;
	return r->type;
}

const char *
dovecot_param(const dovecot_reply *r, const char *name)
{
	size_t i, nl = strlen(name);

	if (r->type != DOVECOT_OK && r->type != DOVECOT_FAIL)
		return 0;
	for (i = 1; i < r->n; i++) {
		const char *a = r->arg[i];

		if (!strncmp(a, name, nl) && (a[nl] == '=' || a[nl] == 0))
			return a[nl] ? a + nl + 1 : a + nl;
	}
	return 0;
}

/* put - n bytes to out at *o, if they fit before max */
static int
put(char *out, size_t max, size_t *o, const char *s, size_t n)
{
	if (n > max - *o)
		return -1;
	memcpy(out + *o, s, n);
	*o += n;
	return 0;
}

/* plain - may s[0..n) go into a PLAIN response and a protocol line? */
static int
plain(const char *s, size_t n)
{
	return !memchr(s, 0, n) && !memchr(s, '\t', n) &&
	    !memchr(s, '\n', n) && !memchr(s, '\r', n);
}

ssize_t
dovecot_auth(char *out, size_t max, unsigned long id, const char *params,
    const char *user, size_t ul, const char *pass, size_t pl)
{
	char num[NUM_LEN], msg[2 + 2 * DOVECOT_PLAIN_MAX]; /* "\0user\0pass" */
	const char *idtext;
	str enc = STR_INIT;
	size_t o = 0, n = 2 + ul + pl;
	int bad;

	if (!plain(user, ul) || !plain(pass, pl) ||
	    ul > DOVECOT_PLAIN_MAX || pl > DOVECOT_PLAIN_MAX)
		return -1;
	/* room for all of the base64 at once: b64_encode then never
	 * reallocates, which would leave a copy in freed memory */
	if (str_ready(&enc, (n + 2) / 3 * 4) < 0)
		return -2;
	idtext = num_fmt(num, id);
	msg[0] = 0;
	memcpy(msg + 1, user, ul);
	msg[1 + ul] = 0;
	memcpy(msg + 2 + ul, pass, pl);
	bad = b64_encode(msg, n, &enc) < 0 ||
	    put(out, max, &o, "AUTH\t", 5) < 0 ||
	    put(out, max, &o, idtext, strlen(idtext)) < 0 ||
	    put(out, max, &o, "\tPLAIN\tservice=smtp", 19) < 0 ||
	    put(out, max, &o, params, strlen(params)) < 0 ||
	    put(out, max, &o, "\tresp=", 6) < 0 ||
	    put(out, max, &o, enc.s, enc.len) < 0 ||
	    put(out, max, &o, "\n", 1) < 0;
	explicit_bzero(msg, sizeof msg);
	explicit_bzero(enc.s, enc.a);
	str_free(&enc);
	if (bad) {
		explicit_bzero(out, max);
		return -2;
	}
	return (ssize_t)o;
}
