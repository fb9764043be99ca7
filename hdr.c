/* hdr - RFC 5322 header fields.  The address-list walk is one pass over
 * the bytes with a handful of state variables; no recursion, no token
 * list: comments nest by a counter, everything else is flat. */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hdr.h"

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

size_t
hdr_name(const char *f, size_t n, const char *name)
{
	size_t i, k = strlen(name);

	if (n < k)
		return 0;
	for (i = 0; i < k; i++)
		if (lower((unsigned char)f[i]) != lower((unsigned char)name[i]))
			return 0;
	while (i < n && (f[i] == ' ' || f[i] == '\t'))
		i++;
	return i < n && f[i] == ':' ? i + 1 : 0;
}

int
hdr_isfield(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == ':')
			break;
		if (c <= 32 || c >= 127)
			break;
	}
	if (i == 0)
		return 0;
	/* obsolete syntax allows white space before the colon */
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i < n && s[i] == ':';
}

/* The address being collected. */
struct cur {
	str a;
	int hasat;
	int words;		/* tokens collected */
	size_t localend, domend;
};

static void
cur_reset(struct cur *c)
{
	c->a.len = 0;
	c->hasat = 0;
	c->words = 0;
	c->localend = c->domend = 0;
}

/* emit - hand the collected address to fn, if there is one */
static int
emit(struct cur *c, hdr_addr_fn *fn, void *ctx)
{
	struct hdr_addr x;
	int r;

	if (!c->words || !c->a.len) {
		cur_reset(c);
		return 0;
	}
	if (str_0(&c->a) < 0)
		return -2;
	x.addr = c->a.s;
	x.len = c->a.len;
	x.hasat = c->hasat;
	x.localend = c->localend;
	x.domend = c->hasat ? c->domend : 0;
	r = fn(ctx, &x);
	cur_reset(c);
	return r;
}

/* token - a word (atom, quoted string content, '.', '@', literal) of the
 * address being collected; end is the offset just after it */
static int
token(struct cur *c, const char *s, size_t n, size_t end)
{
	if (str_put(&c->a, s, n) < 0)
		return -2;
	c->words++;
	if (c->hasat)
		c->domend = end;
	else
		c->localend = end;
	return 0;
}

int
hdr_addrlist(const char *s, size_t n, hdr_addr_fn *fn, void *ctx)
{
	struct cur c = { STR_INIT, 0, 0, 0, 0 };
	int inangle = 0;	/* between '<' and '>' */
	int after = 0;		/* after '>': ignore until ',' or ';' */
	int r = 0;
	size_t i = 0;

	while (i < n && !r) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
			i++;
		} else if (ch == '(') {
			size_t depth = 0;

			for (; i < n; i++) {
				if (s[i] == '\\' && i + 1 < n)
					i++;
				else if (s[i] == '(') {
					if (++depth > HDR_COMMENT_DEPTH)
						break;
				} else if (s[i] == ')' && --depth == 0)
					break;
			}
			if (i >= n || depth)
				r = -1;
			else
				i++;
		} else if (ch == '"') {
			size_t k = i + 1;
			str q = STR_INIT;

			for (; k < n && s[k] != '"'; k++) {
				if (s[k] == '\\' && k + 1 < n)
					k++;
				else if (s[k] == '\r' || s[k] == '\n')
					continue;	/* folding */
				if (str_put(&q, s + k, 1) < 0) {
					r = -2;
					break;
				}
			}
			if (!r && k >= n)
				r = -1;
			if (!r && !after)
				r = token(&c, q.s ? q.s : "", q.len, k + 1);
			str_free(&q);
			i = k + 1;
		} else if (ch == '[') {
			size_t k = i + 1;

			while (k < n && s[k] != ']' && s[k] != '[') {
				if (s[k] == '\\' && k + 1 < n)
					k++;
				k++;
			}
			if (k >= n || s[k] != ']')
				r = -1;
			else if (!after)
				r = token(&c, s + i, k + 1 - i, k + 1);
			i = k + 1;
		} else if (ch == '<') {
			if (inangle || after)
				r = -1;
			cur_reset(&c);	/* what came before is a display name */
			inangle = 1;
			i++;
		} else if (ch == '>') {
			if (!inangle)
				r = -1;
			else {
				if (!c.words) {	/* "<>": the null address */
					cur_reset(&c);
				} else
					r = emit(&c, fn, ctx);
				inangle = 0;
				after = 1;
			}
			i++;
		} else if (ch == ':') {
			/* outside <>: a group's display name ends; inside: a
			 * source route ends.  Either way, not an address. */
			if (!after)
				cur_reset(&c);
			i++;
		} else if (ch == ',' || ch == ';') {
			if (inangle)
				cur_reset(&c);	/* ',' inside a source route */
			else if (!after)
				r = emit(&c, fn, ctx);
			after = 0;
			i++;
		} else if (ch == '@') {
			if (!after) {
				if (inangle && !c.words) {
					/* a source route "@a,@b:": skipped
					 * up to its ':' */
					while (i < n && s[i] != ':' && s[i] != '>')
						i++;
					continue;
				}
				if (c.hasat) {
					/* "a@b@c": the local part is all but
					 * the last domain */
					c.localend = c.domend;
				}
				if (str_putc(&c.a, '@') < 0)
					r = -2;
				c.hasat = 1;
				c.domend = i + 1;
			}
			i++;
		} else if (ch == '.') {
			if (!after)
				r = token(&c, ".", 1, i + 1);
			i++;
		} else {
			/* an atom: up to the next special or white space */
			size_t k = i;

			while (k < n && !strchr(" \t\r\n()<>[]:;@\\,.\"",
			    s[k]))
				k++;
			if (k == i)	/* a stray backslash */
				k++;
			if (!after)
				r = token(&c, s + i, k - i, k);
			i = k;
		}
	}
	if (!r && inangle)
		r = -1;
	if (!r && !after)
		r = emit(&c, fn, ctx);
	str_free(&c.a);
	return r;
}

int
hdr_msgid(str *x, const char *host, size_t hostlen)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (str_putc(x, '<') < 0 ||
	    str_putu(x, (unsigned long long)ts.tv_sec) < 0 ||
	    str_putc(x, '.') < 0 ||
	    str_putu(x, (unsigned long long)ts.tv_nsec) < 0 ||
	    str_putc(x, '.') < 0 ||
	    str_putu(x, (unsigned long long)getpid()) < 0 ||
	    str_puts(x, ".qpost@") < 0 || str_put(x, host, hostlen) < 0 ||
	    str_putc(x, '>') < 0)
		return -1;
	return 0;
}
