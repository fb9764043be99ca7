/*
 * qpost-stats - what qmailanalog and pflogsumm print, from multilog's files:
 * messages and bytes received, recipients delivered, deferred and failed
 * by channel, deliveries per recipient domain, deferrals and failures by
 * reason, bounces, top senders and recipients, delivery delays (median
 * and 95th percentile) and, for one day, counts per hour.
 *
 *   qpost-stats [--json] [--since TIME] [--until TIME] [--day YYYY-MM-DD]
 *       [FILE|DIR...]
 *
 * A DIR is a multilog directory: its rotated files (@*.s, @*.u) in name
 * order, which is time order, then current.  Without arguments the home's
 * service/{send,smtpd,submission,smtps}/log/main directories that exist.
 * Lines are send's and smtpd's (docs/logging.md, "Statistics"), each after
 * multilog's TAI64N label; a line without a label is counted and never
 * filtered by time.  A line that does not parse is skipped and counted.
 * TIME is YYYY-MM-DD, YYYY-MM-DD HH:MM[:SS] (or with a T), local time as
 * tai64nlocal prints it, or @SECONDS since the epoch; --since is
 * inclusive, --until exclusive.
 *
 * Environment: QPOST_HOME (for the default directories), TZ.
 * Output: the report on fd 1 (text, or one JSON object with --json);
 * diagnostics on fd 2.
 *
 * Exit codes: 0 the report was written; 100 usage; 111 a file or
 * directory could not be read, out of memory, or the report could not be
 * written (nothing is printed before all input is read).
 *
 * Memory: counts per sender, recipient, domain and reason in hash tables;
 * a message's size and start only from its "new msg" to its "end msg"
 * line (at most STATS_OPEN_MAX at once); one 32-bit number per
 * successful delivery for the exact delay percentiles.
 *
 * Privilege: none beyond reading the log files.  Never set-uid.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "home.h"
#include "num.h"
#include "str.h"

#define EXIT_USAGE 100
#define EXIT_TEMP 111

#define STATS_LINE_MAX 4096	/* err.h writes at most 1024 bytes a line */
#define STATS_TOP 10		/* rows of each top list */
#define STATS_REASON_MAX 60	/* bytes of a reason that group it */
#define STATS_OPEN_MAX 1000000	/* messages tracked at once */
#define STATS_HOURS 24
#define TAI_LABEL_HEX 24	/* "@" and 24 hex digits of TAI64N */
#define TAI_BASE 0x4000000000000000ULL	/* 2^62: TAI second 0 */
#define TAI_UTC_OFFSET 10ULL	/* TAI - UTC in 1970, as tai64nlocal */
#define DELAY_MAX 4000000000ULL	/* tenths of a second kept in 32 bits */

static const char usage[] =
    "usage: qpost-stats [--json] [--since TIME] [--until TIME] "
    "[--day YYYY-MM-DD] [FILE|DIR...]";

/* Hash tables of counters keyed by bytes: chained, so that a message's
 * entry can go at its "end msg". */
struct ent {
	struct ent *next;
	unsigned long long n[4];
	size_t len;
	char key[];
};

struct tab {
	struct ent **b;
	size_t nb;
	size_t count;
};

#define TAB_START 64

enum { CH_LOCAL, CH_REMOTE, CH_UNKNOWN, CH_N };
enum { K_SUCCESS, K_DEFERRAL, K_FAILURE, K_N };
/* The counters of the tables' entries. */
enum { S_MSGS, S_BYTES };			/* senders, recipients */
enum { D_DELIVERED, D_BYTES, D_DEFERRED, D_FAILED };	/* domains */
enum { M_SIZE, M_TIME, M_LABELLED };		/* open messages */
enum { H_RECEIVED, H_DELIVERED, H_DEFERRED, H_FAILED };	/* hours */

static const char *const chname[CH_N] = { "local", "remote", "unknown" };

static struct {
	unsigned long long lines, unlabelled, unparsed, other;
	unsigned long long received, received_bytes, untracked;
	unsigned long long rcpt[K_N][CH_N];
	unsigned long long delivered_bytes;
	unsigned long long bounces, double_bounces;
	unsigned long long deleted, held, released;
	unsigned long long connections, accepted, accepted_bytes;
	unsigned long long refused, sessions_refused;
	unsigned long long hour[STATS_HOURS][4];
} st;

static struct tab senders, recipients, domains, deferrals, failures,
    refusals, msgs;

static uint32_t *delays;	/* tenths of a second */
static size_t ndelays, adelays;

static int has_since, has_until, day_mode;
static long long since, until;

static noreturn void
die_nomem(void)
{
	err_nomem();
}

static noreturn void
die_usage(void)
{
	err_die(EXIT_USAGE, usage, (const char *)0);
}

/* tab - chained hash tables of counters. */

static size_t
tab_hash(const char *k, size_t len)
{
	size_t h = 2166136261u;

	while (len--)
		h = (h ^ (unsigned char)*k++) * 16777619u;
	return h;
}

static void
tab_grow(struct tab *t)
{
	size_t nb = t->nb ? t->nb * 2 : TAB_START, i;
	struct ent **b;

	if (nb > SIZE_MAX / sizeof *b)
		die_nomem();
	b = calloc(nb, sizeof *b);
	if (!b)
		die_nomem();
	for (i = 0; i < t->nb; i++)
		while (t->b[i]) {
			struct ent *e = t->b[i];
			size_t h = tab_hash(e->key, e->len) & (nb - 1);

			t->b[i] = e->next;
			e->next = b[h];
			b[h] = e;
		}
	free(t->b);
	t->b = b;
	t->nb = nb;
}

/* tab_get - the entry of k, made with zero counters when create is set;
 * null when there is none. */
static struct ent *
tab_get(struct tab *t, const char *k, size_t len, int create)
{
	struct ent *e;

	if (t->nb) {
		for (e = t->b[tab_hash(k, len) & (t->nb - 1)]; e; e = e->next)
			if (e->len == len && !memcmp(e->key, k, len))
				return e;
	}
	if (!create)
		return 0;
	if (t->count >= t->nb)
		tab_grow(t);
	if (len > SIZE_MAX - sizeof *e - 1)
		die_nomem();
	e = calloc(1, sizeof *e + len + 1);
	if (!e)
		die_nomem();
	memcpy(e->key, k, len);
	e->len = len;
	{
		size_t h = tab_hash(k, len) & (t->nb - 1);

		e->next = t->b[h];
		t->b[h] = e;
	}
	t->count++;
	return e;
}

static void
tab_del(struct tab *t, const char *k, size_t len)
{
	struct ent **p;

	if (!t->nb)
		return;
	for (p = &t->b[tab_hash(k, len) & (t->nb - 1)]; *p; p = &(*p)->next)
		if ((*p)->len == len && !memcmp((*p)->key, k, len)) {
			struct ent *e = *p;

			*p = e->next;
			free(e);
			t->count--;
			return;
		}
}

static int sort_by;	/* the counter tab_sorted orders by */

static int
ent_cmp(const void *a, const void *b)
{
	const struct ent *x = *(const struct ent *const *)a;
	const struct ent *y = *(const struct ent *const *)b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c;

	if (x->n[sort_by] != y->n[sort_by])
		return x->n[sort_by] > y->n[sort_by] ? -1 : 1;
	c = memcmp(x->key, y->key, n);
	if (c)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* tab_sorted - the entries by counter k, largest first, then by key;
 * the caller frees the array (not the entries). */
static struct ent **
tab_sorted(const struct tab *t, int k)
{
	struct ent **v, *e;
	size_t i, n = 0;

	v = calloc(t->count + 1, sizeof *v);
	if (!v)
		die_nomem();
	for (i = 0; i < t->nb; i++)
		for (e = t->b[i]; e; e = e->next)
			v[n++] = e;
	sort_by = k;
	qsort(v, n, sizeof *v, ent_cmp);
	return v;
}

/* Parsing: a cursor over one line's bytes. */
struct cur {
	const char *s;
	size_t n, i;
};

static int
lit(struct cur *c, const char *t)
{
	size_t k = strlen(t);

	if (c->n - c->i < k || memcmp(c->s + c->i, t, k))
		return 0;
	c->i += k;
	return 1;
}

/* word - bytes up to the next space or the end, at least one */
static int
word(struct cur *c, const char **p, size_t *len)
{
	size_t j = c->i;

	while (j < c->n && c->s[j] != ' ')
		j++;
	if (j == c->i)
		return 0;
	*p = c->s + c->i;
	*len = j - c->i;
	c->i = j;
	return 1;
}

static int
number(struct cur *c, unsigned long long *v)
{
	return num_scan(c->s, c->n, &c->i, ~0ULL, v) == 0;
}

/* angle - "<ADDR>" where the closing bracket is followed by the end, a
 * space or a colon (an address may hold a '>' in quotes). */
static int
angle(struct cur *c, const char **p, size_t *len)
{
	size_t j;

	if (!lit(c, "<"))
		return 0;
	for (j = c->i; j < c->n; j++)
		if (c->s[j] == '>' && (j + 1 == c->n || c->s[j + 1] == ' ' ||
		    c->s[j + 1] == ':'))
			break;
	if (j == c->n)
		return 0;
	*p = c->s + c->i;
	*len = j - c->i;
	c->i = j + 1;
	return 1;
}

/* tenths - "S" or "S.F...": the seconds in tenths, rounded down */
static int
tenths(struct cur *c, unsigned long long *v)
{
	unsigned long long s;

	if (num_scan(c->s, c->n, &c->i, DELAY_MAX / 10, &s) < 0)
		return 0;
	*v = s * 10;
	if (lit(c, ".")) {
		if (c->i == c->n || c->s[c->i] < '0' || c->s[c->i] > '9')
			return 0;
		*v += (unsigned long long)(c->s[c->i] - '0');
		while (c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9')
			c->i++;
	}
	return 1;
}

/* Events. */

static int
in_range(int labelled, long long t)
{
	if (!labelled)
		return 1;
	if (has_since && t < since)
		return 0;
	if (has_until && t >= until)
		return 0;
	return 1;
}

static void
hour_count(int labelled, long long t, int what)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!day_mode || !labelled || !localtime_r(&tt, &tm))
		return;
	if (tm.tm_hour >= 0 && tm.tm_hour < STATS_HOURS)
		st.hour[tm.tm_hour][what]++;
}

static void
delay_add(unsigned long long d)
{
	if (d > DELAY_MAX)
		d = DELAY_MAX;
	if (ndelays == adelays) {
		size_t a = adelays ? adelays * 2 : 1024;
		uint32_t *x;

		if (a > SIZE_MAX / sizeof *x)
			die_nomem();
		x = realloc(delays, a * sizeof *x);
		if (!x)
			die_nomem();
		delays = x;
		adelays = a;
	}
	delays[ndelays++] = (uint32_t)d;
}

/* reason_key - the part of a reason that groups it: without a remote
 * peer's "HOST[IP] said: " and without an smtpd refusal's " <ADDR>", at
 * most STATS_REASON_MAX bytes, not cutting a UTF-8 character. */
static void
reason_key(const char *r, size_t n, const char **p, size_t *len)
{
	size_t i = 0, k;

	while (i < n && r[i] != ' ')
		i++;
	if (i > 0 && r[i - 1] == ']' && memchr(r, '[', i)) {
		if (i < n)
			i++;
		r += i;
		n -= i;
		if (n >= 6 && !memcmp(r, "said: ", 6)) {
			r += 6;
			n -= 6;
		}
	}
	for (k = 0; k + 1 < n; k++)
		if (r[k] == ' ' && r[k + 1] == '<') {
			n = k;
			break;
		}
	if (n > STATS_REASON_MAX) {
		n = STATS_REASON_MAX;
		while (n > 0 && ((unsigned char)r[n] & 0xc0) == 0x80)
			n--;
	}
	*p = r;
	*len = n;
}

static void
reason_count(struct tab *t, const char *r, size_t n)
{
	const char *p;
	size_t len;

	reason_key(r, n, &p, &len);
	tab_get(t, p, len, 1)->n[0]++;
}

/* domain_of - the recipient's domain after its last '@', lower case */
static struct ent *
domain_of(const char *a, size_t n)
{
	static str d = STR_INIT;
	size_t i = n, k;

	while (i > 0 && a[i - 1] != '@')
		i--;
	d.len = 0;
	if (i == 0) {
		if (str_puts(&d, "(none)") < 0)
			die_nomem();
	} else
		for (k = i; k < n; k++) {
			char ch = a[k];

			if (ch >= 'A' && ch <= 'Z')
				ch = (char)(ch - 'A' + 'a');
			if (str_putc(&d, ch) < 0)
				die_nomem();
		}
	return tab_get(&domains, d.s ? d.s : "", d.len, 1);
}

/* send_new - "new msg ID from <SENDER> size BYTES rcpts N[ ...]" */
static int
send_new(struct cur *c, int labelled, long long t)
{
	const char *id, *from;
	size_t idlen, fromlen;
	unsigned long long size, nr;
	struct ent *e;

	if (!word(c, &id, &idlen) || !lit(c, " from ") ||
	    !angle(c, &from, &fromlen) || !lit(c, " size ") ||
	    !number(c, &size) || !lit(c, " rcpts ") || !number(c, &nr) ||
	    (c->i < c->n && c->s[c->i] != ' '))
		return -1;
	if (in_range(labelled, t)) {
		st.received++;
		st.received_bytes += size;
		e = tab_get(&senders, from, fromlen, 1);
		e->n[S_MSGS]++;
		e->n[S_BYTES] += size;
		hour_count(labelled, t, H_RECEIVED);
	}
	e = tab_get(&msgs, id, idlen, 0);
	if (!e && msgs.count >= STATS_OPEN_MAX) {
		st.untracked++;
		return 1;
	}
	if (!e)
		e = tab_get(&msgs, id, idlen, 1);
	e->n[M_SIZE] = size;
	e->n[M_TIME] = (unsigned long long)t;
	e->n[M_LABELLED] = (unsigned long long)labelled;
	return 1;
}

/* send_result - "delivery N: KIND: msg ID to [local |remote ]<RCPT>
 * [delay S][ retry in Ns]: REASON"; the part after "delivery ". */
static int
send_result(struct cur *c, int labelled, long long t)
{
	unsigned long long num, d = 0, retry, size = 0;
	const char *id, *rcpt;
	size_t idlen, rlen;
	int kind, ch = CH_UNKNOWN, has_delay = 0;
	struct ent *m, *e;

	if (!number(c, &num) || !lit(c, ": "))
		return -1;
	if (lit(c, "success: "))
		kind = K_SUCCESS;
	else if (lit(c, "deferral: "))
		kind = K_DEFERRAL;
	else if (lit(c, "failure: "))
		kind = K_FAILURE;
	else
		return 0;	/* "info:" and the like */
	if (!lit(c, "msg ") || !word(c, &id, &idlen) || !lit(c, " to "))
		return -1;
	if (lit(c, "local "))
		ch = CH_LOCAL;
	else if (lit(c, "remote "))
		ch = CH_REMOTE;
	if (!angle(c, &rcpt, &rlen))
		return -1;
	if (lit(c, " delay ")) {
		if (!tenths(c, &d))
			return -1;
		has_delay = 1;
	}
	if (lit(c, " retry in ") && (!number(c, &retry) || !lit(c, "s")))
		return -1;
	if (c->i < c->n && !lit(c, ": "))
		return -1;
	if (!in_range(labelled, t))
		return 1;
	m = tab_get(&msgs, id, idlen, 0);
	if (m)
		size = m->n[M_SIZE];
	st.rcpt[kind][ch]++;
	e = domain_of(rcpt, rlen);
	switch (kind) {
	case K_SUCCESS:
		e->n[D_DELIVERED]++;
		e->n[D_BYTES] += size;
		st.delivered_bytes += size;
		e = tab_get(&recipients, rcpt, rlen, 1);
		e->n[S_MSGS]++;
		e->n[S_BYTES] += size;
		/* Without a delay field (an older send), the time since
		 * the message's "new msg" line. */
		if (has_delay)
			delay_add(d);
		else if (m && labelled && m->n[M_LABELLED] &&
		    (unsigned long long)t >= m->n[M_TIME])
			delay_add(((unsigned long long)t - m->n[M_TIME]) * 10);
		hour_count(labelled, t, H_DELIVERED);
		break;
	case K_DEFERRAL:
		e->n[D_DEFERRED]++;
		reason_count(&deferrals, c->s + c->i, c->n - c->i);
		hour_count(labelled, t, H_DEFERRED);
		break;
	default:
		e->n[D_FAILED]++;
		reason_count(&failures, c->s + c->i, c->n - c->i);
		hour_count(labelled, t, H_FAILED);
		break;
	}
	return 1;
}

/* msg_event - "msg ID ..." after the event's words: counted in *n */
static int
msg_event(struct cur *c, int labelled, long long t, unsigned long long *n)
{
	const char *id;
	size_t idlen;

	if (!lit(c, "msg ") || !word(c, &id, &idlen))
		return -1;
	if (in_range(labelled, t))
		(*n)++;
	return 1;
}

/* send_line - 1 counted, 0 another of send's lines, -1 malformed */
static int
send_line(struct cur *c, int labelled, long long t)
{
	const char *id;
	size_t idlen;

	if (lit(c, "new msg "))
		return send_new(c, labelled, t);
	if (lit(c, "delivery "))
		return send_result(c, labelled, t);
	if (lit(c, "double bounce "))
		return msg_event(c, labelled, t, &st.double_bounces);
	if (lit(c, "bounce ") && c->n - c->i >= 4 &&
	    !memcmp(c->s + c->i, "msg ", 4))
		return msg_event(c, labelled, t, &st.bounces);
	if (lit(c, "deleted "))
		return msg_event(c, labelled, t, &st.deleted);
	if (lit(c, "held "))
		return msg_event(c, labelled, t, &st.held);
	if (lit(c, "released "))
		return msg_event(c, labelled, t, &st.released);
	if (lit(c, "end msg ")) {
		if (!word(c, &id, &idlen) || c->i != c->n)
			return -1;
		tab_del(&msgs, id, idlen);
		return 1;
	}
	return 0;
}

/* smtpd_msg - "msg ip IP helo H from <S> to <R>... size N RESULT" */
static int
smtpd_msg(struct cur *c, int labelled, long long t)
{
	unsigned long long size;
	size_t j;

	/* The size follows the last recipient: the first "> size N ". */
	for (j = c->i; j + 7 < c->n; j++) {
		struct cur k = *c;

		if (memcmp(c->s + j, "> size ", 7))
			continue;
		k.i = j + 7;
		if (number(&k, &size) && lit(&k, " ") && k.i < k.n) {
			*c = k;
			break;
		}
	}
	if (j + 7 >= c->n)
		return -1;
	if (!in_range(labelled, t))
		return 1;
	if (lit(c, "queued") || lit(c, "qp ")) {
		st.accepted++;
		st.accepted_bytes += size;
	} else {
		st.refused++;
		reason_count(&refusals, c->s + c->i, c->n - c->i);
	}
	return 1;
}

/* smtpd_refused - "refused ip IP helo H from <S> to <R>[ NOTE]: REPLY"
 * (docs/logging.md): a 4xx/5xx to MAIL, RCPT or DATA, counted by its
 * reply; "limit N" is a session refused for its address's count.  The
 * fields before ": " are escaped (no blank or ':' from the client), so
 * the first ": " starts the reply. */
static int
smtpd_refused(struct cur *c, int labelled, long long t)
{
	const char *f = c->s + c->i;
	size_t n = c->n - c->i, k;

	for (k = 0; k + 2 < n; k++)
		if (f[k] == ':' && f[k + 1] == ' ')
			break;
	if (k + 2 >= n)
		return -1;
	if (!in_range(labelled, t))
		return 1;
	if (memmem(f, k, " limit ", 7))
		st.sessions_refused++;
	else
		st.refused++;
	reason_count(&refusals, f + k + 2, n - k - 2);
	return 1;
}

/* smtpd_line - 1 counted, 0 another of smtpd's lines, -1 malformed */
static int
smtpd_line(struct cur *c, int labelled, long long t)
{
	if (lit(c, "start ip ")) {
		if (c->i == c->n)
			return -1;
		if (in_range(labelled, t))
			st.connections++;
		return 1;
	}
	if (lit(c, "msg ip "))
		return smtpd_msg(c, labelled, t);
	if (lit(c, "refused ip "))
		return smtpd_refused(c, labelled, t);
	if (lit(c, "warning: too many sessions ip ")) {
		if (in_range(labelled, t)) {
			st.sessions_refused++;
			tab_get(&refusals, "too many sessions", 17, 1)->n[0]++;
		}
		return 1;
	}
	return 0;
}

/* prog_prefix - "name: " of another program (tlsd, tcpserver, ...), or
 * of a service's run script ("smtpd/run: warning: ...", docs/logging.md) */
static int
prog_prefix(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (ch == ':')
			return i > 0 && i + 1 < n && s[i + 1] == ' ';
		if (!(ch >= 'a' && ch <= 'z') && !(ch >= 'A' && ch <= 'Z') &&
		    !(ch >= '0' && ch <= '9') && ch != '-' && ch != '_' &&
		    ch != '.' && ch != '/')
			return 0;
	}
	return 0;
}

static int
hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* label - multilog's "@" + 24 hex digits + " ": the UTC second in *t */
static int
label(const char *s, size_t n, long long *t)
{
	unsigned long long tai = 0;
	size_t i;

	if (n < TAI_LABEL_HEX + 2 || s[TAI_LABEL_HEX + 1] != ' ')
		return -1;
	for (i = 1; i <= TAI_LABEL_HEX; i++) {
		int v = hexval(s[i]);

		if (v < 0)
			return -1;
		if (i <= 16)
			tai = tai << 4 | (unsigned long long)v;
	}
	if (tai < TAI_BASE + TAI_UTC_OFFSET || tai - TAI_BASE > LLONG_MAX)
		return -1;
	*t = (long long)(tai - TAI_BASE - TAI_UTC_OFFSET);
	return 0;
}

/* line_bad - a line counted as read and unparsed */
static void
line_bad(const char *s, size_t n)
{
	st.lines++;
	st.unparsed++;
	if (!n || s[0] != '@')
		st.unlabelled++;
}

/* line_do - one line without its LF */
static void
line_do(const char *s, size_t n)
{
	struct cur c;
	long long t = 0;
	int labelled = 0, r;
	size_t i;

	st.lines++;
	if (n && s[0] == '@') {
		if (label(s, n, &t) < 0) {
			st.unparsed++;
			return;
		}
		labelled = 1;
		s += TAI_LABEL_HEX + 2;
		n -= TAI_LABEL_HEX + 2;
	} else
		st.unlabelled++;
	/* err.h escapes these: a raw one is not a log line. */
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 32 || s[i] == 127) {
			st.unparsed++;
			return;
		}
	c.s = s;
	c.n = n;
	c.i = 0;
	if (lit(&c, "send: "))
		r = send_line(&c, labelled, t);
	else if (lit(&c, "smtpd: "))
		r = smtpd_line(&c, labelled, t);
	else
		r = prog_prefix(s, n) ? 0 : -1;
	if (r < 0)
		st.unparsed++;
	else if (r == 0)
		st.other++;
}

/* Input. */

static void
read_file(const char *path)
{
	static str line = STR_INIT;
	char space[BUF_SIZE];
	buf b;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0)
		err_diesys(EXIT_TEMP, "unable to open ", path, (const char *)0);
	buf_init(&b, fd, space, sizeof space, -1);
	for (;;) {
		r = buf_getline(&b, &line, STATS_LINE_MAX);
		if (r == BUF_ERR) {
			if (errno == ENOMEM)
				die_nomem();
			err_diesys(EXIT_TEMP, "unable to read ", path,
			    (const char *)0);
		}
		/* A last line without its LF is cut short (or still
		 * being written); a longer one than err.h writes is not
		 * one of ours. */
		if (r == BUF_EOF || r == BUF_LONG) {
			if (line.len)
				line_bad(line.s, line.len);
			if (r == BUF_EOF)
				break;
			continue;
		}
		line_do(line.s, line.len - 1);
	}
	close(fd);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* rotated - multilog's "@TIMESTAMP.s" and "@TIMESTAMP.u" */
static int
rotated(const char *name)
{
	size_t n = strlen(name);

	return name[0] == '@' && n > 3 && name[n - 2] == '.' &&
	    (name[n - 1] == 's' || name[n - 1] == 'u');
}

static void
read_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = 0;
	size_t n = 0, a = 0, i;
	str path = STR_INIT;

	if (!d)
		err_diesys(EXIT_TEMP, "unable to open ", dir, (const char *)0);
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		if (!rotated(de->d_name))
			continue;
		if (n == a) {
			char **x;

			a = a ? a * 2 : 16;
			x = realloc(names, a * sizeof *x);
			if (!x)
				die_nomem();
			names = x;
		}
		names[n] = strdup(de->d_name);
		if (!names[n++])
			die_nomem();
	}
	if (errno)
		err_diesys(EXIT_TEMP, "unable to read ", dir, (const char *)0);
	closedir(d);
	if (n)
		qsort(names, n, sizeof *names, name_cmp);
	for (i = 0; i <= n; i++) {
		const char *name = i < n ? names[i] : "current";
		struct stat sb;

		if (str_copys(&path, dir) < 0 || str_putc(&path, '/') < 0 ||
		    str_puts(&path, name) < 0 || str_0(&path) < 0)
			die_nomem();
		if (i == n && stat(path.s, &sb) < 0 && errno == ENOENT)
			break;
		read_file(path.s);
		if (i < n)
			free(names[i]);
	}
	free(names);
	str_free(&path);
}

static void
read_path(const char *path)
{
	struct stat sb;

	if (stat(path, &sb) < 0)
		err_diesys(EXIT_TEMP, "unable to stat ", path, (const char *)0);
	if (S_ISDIR(sb.st_mode))
		read_dir(path);
	else
		read_file(path);
}

static void
read_default(void)
{
	static const char *const dirs[] = {
		"service/send/log/main", "service/smtpd/log/main",
		"service/submission/log/main", "service/smtps/log/main",
	};
	str path = STR_INIT;
	struct stat sb;
	size_t i;

	for (i = 0; i < sizeof dirs / sizeof *dirs; i++) {
		if (home_path(&path, dirs[i]) < 0)
			die_nomem();
		if (stat(path.s, &sb) < 0) {
			if (errno == ENOENT)
				continue;
			err_diesys(EXIT_TEMP, "unable to stat ", path.s,
			    (const char *)0);
		}
		if (S_ISDIR(sb.st_mode))
			read_dir(path.s);
	}
	str_free(&path);
}

/* Times on the command line. */

static int
digits(const char *s, size_t *i, size_t k, int *v)
{
	unsigned long long u;
	size_t j = *i;

	if (num_scan(s, strlen(s), &j, 9999, &u) < 0 || j - *i != k)
		return -1;
	*i = j;
	*v = (int)u;
	return 0;
}

/* parse_time - "@SECONDS", or "YYYY-MM-DD[( |T)HH:MM[:SS]]" in local time */
static int
parse_time(const char *s, long long *t)
{
	struct tm tm;
	size_t i = 0;
	time_t r;

	if (s[0] == '@') {
		unsigned long long u;

		if (num_whole(s + 1, strlen(s + 1), LLONG_MAX, &u) < 0)
			return -1;
		*t = (long long)u;
		return 0;
	}
	memset(&tm, 0, sizeof tm);
	if (digits(s, &i, 4, &tm.tm_year) < 0 || s[i++] != '-' ||
	    digits(s, &i, 2, &tm.tm_mon) < 0 || s[i++] != '-' ||
	    digits(s, &i, 2, &tm.tm_mday) < 0)
		return -1;
	if (s[i] == ' ' || s[i] == 'T') {
		i++;
		if (digits(s, &i, 2, &tm.tm_hour) < 0 || s[i++] != ':' ||
		    digits(s, &i, 2, &tm.tm_min) < 0)
			return -1;
		if (s[i] == ':') {
			i++;
			if (digits(s, &i, 2, &tm.tm_sec) < 0)
				return -1;
		}
	}
	if (s[i] || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
	    tm.tm_sec > 60)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon--;
	tm.tm_isdst = -1;
	r = mktime(&tm);
	if (r == (time_t)-1)
		return -1;
	*t = (long long)r;
	return 0;
}

/* day_range - the local day YYYY-MM-DD as [since, until) */
static int
day_range(const char *s)
{
	struct tm tm;
	time_t a, b;

	if (strlen(s) != 10 || parse_time(s, &since) < 0)
		return -1;
	a = (time_t)since;
	if (!localtime_r(&a, &tm))
		return -1;
	tm.tm_mday++;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	b = mktime(&tm);
	if (b == (time_t)-1)
		return -1;
	until = (long long)b;
	has_since = has_until = day_mode = 1;
	return 0;
}

/* Output. */

/* The lists both reports print: title (text), name (JSON), the name of
 * the first counter, the table and the counter it is sorted by. */
struct section {
	const char *title, *name, *count;
	const struct tab *t;
	int k;
};

static const struct section reasons[] = {
	{ "Deferrals by reason", "deferrals", "count", &deferrals, 0 },
	{ "Failures by reason", "failures", "count", &failures, 0 },
	{ "smtp refusals by reason", "refusals", "count", &refusals, 0 },
};
static const struct section tops[] = {
	{ "Top senders by messages", "top_senders_by_messages", "messages",
	    &senders, S_MSGS },
	{ "Top senders by bytes", "top_senders_by_bytes", "messages",
	    &senders, S_BYTES },
	{ "Top recipients by deliveries", "top_recipients_by_deliveries",
	    "deliveries", &recipients, S_MSGS },
	{ "Top recipients by bytes", "top_recipients_by_bytes",
	    "deliveries", &recipients, S_BYTES },
};
#define NREASONS (sizeof reasons / sizeof *reasons)
#define NTOPS (sizeof tops / sizeof *tops)

static void
fmt_tenths(char *b, size_t n, unsigned long long v)
{
	snprintf(b, n, "%llu.%llu", v / 10, v % 10);
}

static void
fmt_time(char *b, size_t n, long long t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!localtime_r(&tt, &tm) || !strftime(b, n, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(b, n, "@%lld", t);
}

static int
delay_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Percentiles by nearest rank: the smallest delay with at least p% of
 * the delays at or below it. */
static unsigned long long
percentile(unsigned int p)
{
	size_t k = (size_t)(((unsigned long long)ndelays * p + 99) / 100);

	return delays[k ? k - 1 : 0];
}

static unsigned long long
sum(const unsigned long long *v)
{
	unsigned long long s = 0;
	int i;

	for (i = 0; i < CH_N; i++)
		s += v[i];
	return s;
}

static void
text_key(const struct ent *e, const char *empty)
{
	if (e->len)
		fwrite(e->key, 1, e->len, stdout);
	else
		fputs(empty, stdout);
}

static void
text_channels(const char *what, const unsigned long long *v)
{
	int i;

	printf("%10llu  %s (local %llu, remote %llu", sum(v), what,
	    v[CH_LOCAL], v[CH_REMOTE]);
	for (i = CH_UNKNOWN; i < CH_N; i++)
		if (v[i])
			printf(", %s %llu", chname[i], v[i]);
	printf(")\n");
}

static void
text_reasons(const char *title, const struct tab *t)
{
	struct ent **v = tab_sorted(t, 0);
	size_t i;

	printf("\n%s\n", title);
	if (!t->count)
		printf("  none\n");
	for (i = 0; i < t->count; i++) {
		printf("%10llu  ", v[i]->n[0]);
		text_key(v[i], "-");
		putchar('\n');
	}
	free(v);
}

static void
text_top(const char *title, const char *count, const struct tab *t, int k)
{
	struct ent **v = tab_sorted(t, k);
	size_t i;

	printf("\n%s\n", title);
	if (!t->count)
		printf("  none\n");
	else
		printf("%10s %12s  address\n", count, "bytes");
	for (i = 0; i < t->count && i < STATS_TOP; i++) {
		printf("%10llu %12llu  ", v[i]->n[S_MSGS], v[i]->n[S_BYTES]);
		text_key(v[i], "<>");
		putchar('\n');
	}
	free(v);
}

static void
text_report(void)
{
	char b1[64], b2[64], b3[64];
	struct ent **v;
	size_t i;

	printf("qpost-stats: ");
	if (has_since) {
		fmt_time(b1, sizeof b1, since);
		printf("from %s ", b1);
	}
	if (has_until) {
		fmt_time(b1, sizeof b1, until);
		printf("until %s", b1);
	}
	if (!has_since && !has_until)
		printf("all lines");
	printf("\n\nGrand totals\n");
	printf("%10llu  messages received\n", st.received);
	printf("%10llu  bytes received\n", st.received_bytes);
	text_channels("recipients delivered", st.rcpt[K_SUCCESS]);
	text_channels("recipients deferred", st.rcpt[K_DEFERRAL]);
	text_channels("recipients bounced (failure)", st.rcpt[K_FAILURE]);
	printf("%10llu  bytes delivered\n", st.delivered_bytes);
	printf("%10llu  bounces sent\n", st.bounces);
	printf("%10llu  double bounces sent\n", st.double_bounces);
	printf("%10llu  messages deleted\n", st.deleted);
	printf("%10llu  messages held\n", st.held);
	printf("%10llu  messages released\n", st.released);
	printf("%10llu  smtp connections\n", st.connections);
	printf("%10llu  smtp messages accepted\n", st.accepted);
	printf("%10llu  smtp bytes accepted\n", st.accepted_bytes);
	printf("%10llu  smtp messages refused\n", st.refused);
	printf("%10llu  smtp sessions refused\n", st.sessions_refused);
	printf("%10llu  lines read\n", st.lines);
	printf("%10llu  unparsed lines\n", st.unparsed);
	printf("%10llu  unlabelled lines\n", st.unlabelled);
	printf("%10llu  other lines\n", st.other);

	printf("\nDelays of successful deliveries\n");
	if (!ndelays)
		printf("  none\n");
	else {
		qsort(delays, ndelays, sizeof *delays, delay_cmp);
		fmt_tenths(b1, sizeof b1, percentile(50));
		fmt_tenths(b2, sizeof b2, percentile(95));
		fmt_tenths(b3, sizeof b3, delays[ndelays - 1]);
		printf("%10zu  deliveries, median %s s, 95th percentile %s s, "
		    "max %s s\n", ndelays, b1, b2, b3);
	}

	printf("\nDeliveries per domain\n");
	if (!domains.count)
		printf("  none\n");
	else
		printf("%10s %12s %9s %9s  domain\n", "delivered", "bytes",
		    "deferred", "failed");
	v = tab_sorted(&domains, D_DELIVERED);
	for (i = 0; i < domains.count; i++) {
		printf("%10llu %12llu %9llu %9llu  ", v[i]->n[D_DELIVERED],
		    v[i]->n[D_BYTES], v[i]->n[D_DEFERRED], v[i]->n[D_FAILED]);
		text_key(v[i], "-");
		putchar('\n');
	}
	free(v);

	for (i = 0; i < NREASONS; i++)
		text_reasons(reasons[i].title, reasons[i].t);
	for (i = 0; i < NTOPS; i++)
		text_top(tops[i].title, tops[i].count, tops[i].t, tops[i].k);

	if (day_mode) {
		printf("\nPer hour\n%4s %10s %10s %10s %10s\n", "hour",
		    "received", "delivered", "deferred", "failed");
		for (i = 0; i < STATS_HOURS; i++)
			printf("%4zu %10llu %10llu %10llu %10llu\n", i,
			    st.hour[i][H_RECEIVED], st.hour[i][H_DELIVERED],
			    st.hour[i][H_DEFERRED], st.hour[i][H_FAILED]);
	}
}

/* json_str - s[0..n) as a JSON string: well-formed UTF-8 as it is, any
 * other byte as \u00XX. */
static void
json_str(const char *s, size_t n)
{
	size_t i = 0, k, len;

	putchar('"');
	while (i < n) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\') {
			putchar('\\');
			putchar(ch);
			i++;
			continue;
		}
		if (ch >= 32 && ch < 127) {
			putchar(ch);
			i++;
			continue;
		}
		len = ch >= 0xc2 && ch <= 0xdf ? 2 : ch >= 0xe0 && ch <= 0xef ?
		    3 : ch >= 0xf0 && ch <= 0xf4 ? 4 : 0;
		for (k = 1; len && k < len; k++)
			if (i + k >= n ||
			    ((unsigned char)s[i + k] & 0xc0) != 0x80)
				len = 0;
		if (len) {
			fwrite(s + i, 1, len, stdout);
			i += len;
		} else {
			printf("\\u%04x", ch);
			i++;
		}
	}
	putchar('"');
}

static void
json_channels(const char *name, const unsigned long long *v)
{
	int i;

	printf("\"%s\":{", name);
	for (i = 0; i < CH_N; i++)
		printf("\"%s\":%llu,", chname[i], v[i]);
	printf("\"total\":%llu}", sum(v));
}

static void
json_reasons(const char *name, const struct tab *t)
{
	struct ent **v = tab_sorted(t, 0);
	size_t i;

	printf(",\"%s\":[", name);
	for (i = 0; i < t->count; i++) {
		printf("%s{\"reason\":", i ? "," : "");
		json_str(v[i]->key, v[i]->len);
		printf(",\"count\":%llu}", v[i]->n[0]);
	}
	printf("]");
	free(v);
}

static void
json_top(const char *name, const char *count, const struct tab *t, int k)
{
	struct ent **v = tab_sorted(t, k);
	size_t i;

	printf(",\"%s\":[", name);
	for (i = 0; i < t->count && i < STATS_TOP; i++) {
		printf("%s{\"address\":", i ? "," : "");
		json_str(v[i]->key, v[i]->len);
		printf(",\"%s\":%llu,\"bytes\":%llu}", count,
		    v[i]->n[S_MSGS], v[i]->n[S_BYTES]);
	}
	printf("]");
	free(v);
}

static void
json_report(void)
{
	char b1[64], b2[64], b3[64];
	struct ent **v;
	size_t i;

	printf("{\"since\":");
	if (has_since)
		printf("%lld", since);
	else
		printf("null");
	printf(",\"until\":");
	if (has_until)
		printf("%lld", until);
	else
		printf("null");
	printf(",\"lines\":{\"read\":%llu,\"unparsed\":%llu,"
	    "\"unlabelled\":%llu,\"other\":%llu}", st.lines, st.unparsed,
	    st.unlabelled, st.other);
	printf(",\"received\":{\"messages\":%llu,\"bytes\":%llu}",
	    st.received, st.received_bytes);
	printf(",\"recipients\":{");
	json_channels("delivered", st.rcpt[K_SUCCESS]);
	putchar(',');
	json_channels("deferred", st.rcpt[K_DEFERRAL]);
	putchar(',');
	json_channels("failed", st.rcpt[K_FAILURE]);
	printf(",\"delivered_bytes\":%llu}", st.delivered_bytes);
	printf(",\"bounces\":%llu,\"double_bounces\":%llu,\"deleted\":%llu,"
	    "\"held\":%llu,\"released\":%llu", st.bounces, st.double_bounces,
	    st.deleted, st.held, st.released);
	printf(",\"smtp\":{\"connections\":%llu,\"accepted\":%llu,"
	    "\"accepted_bytes\":%llu,\"refused\":%llu,"
	    "\"sessions_refused\":%llu}", st.connections, st.accepted,
	    st.accepted_bytes, st.refused, st.sessions_refused);
	printf(",\"delay\":");
	if (!ndelays)
		printf("{\"count\":0,\"median\":null,\"p95\":null,\"max\":null}");
	else {
		qsort(delays, ndelays, sizeof *delays, delay_cmp);
		fmt_tenths(b1, sizeof b1, percentile(50));
		fmt_tenths(b2, sizeof b2, percentile(95));
		fmt_tenths(b3, sizeof b3, delays[ndelays - 1]);
		printf("{\"count\":%zu,\"median\":%s,\"p95\":%s,\"max\":%s}",
		    ndelays, b1, b2, b3);
	}
	printf(",\"domains\":[");
	v = tab_sorted(&domains, D_DELIVERED);
	for (i = 0; i < domains.count; i++) {
		printf("%s{\"domain\":", i ? "," : "");
		json_str(v[i]->key, v[i]->len);
		printf(",\"delivered\":%llu,\"bytes\":%llu,\"deferred\":%llu,"
		    "\"failed\":%llu}", v[i]->n[D_DELIVERED], v[i]->n[D_BYTES],
		    v[i]->n[D_DEFERRED], v[i]->n[D_FAILED]);
	}
	printf("]");
	free(v);
	for (i = 0; i < NREASONS; i++)
		json_reasons(reasons[i].name, reasons[i].t);
	for (i = 0; i < NTOPS; i++)
		json_top(tops[i].name, tops[i].count, tops[i].t, tops[i].k);
	printf(",\"hours\":[");
	for (i = 0; day_mode && i < STATS_HOURS; i++)
		printf("%s{\"hour\":%zu,\"received\":%llu,\"delivered\":%llu,"
		    "\"deferred\":%llu,\"failed\":%llu}", i ? "," : "", i,
		    st.hour[i][H_RECEIVED], st.hour[i][H_DELIVERED],
		    st.hour[i][H_DEFERRED], st.hour[i][H_FAILED]);
	printf("]}\n");
}

/* option - "--name VALUE" or "--name=VALUE": the value, advancing *i */
static const char *
option(char **argv, int *i, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n))
		return 0;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] || !argv[*i + 1])
		return 0;
	return argv[++*i];
}

int
main(int argc, char **argv)
{
	int i, json = 0;
	const char *v;

	err_prog = "qpost-stats";
	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		}
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			puts(usage);
			return fflush(stdout) ? EXIT_TEMP : 0;
		}
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else if ((v = option(argv, &i, "--since"))) {
			if (parse_time(v, &since) < 0)
				err_die(EXIT_USAGE, "bad --since time: ", v,
				    (const char *)0);
			has_since = 1;
		} else if ((v = option(argv, &i, "--until"))) {
			if (parse_time(v, &until) < 0)
				err_die(EXIT_USAGE, "bad --until time: ", v,
				    (const char *)0);
			has_until = 1;
		} else if ((v = option(argv, &i, "--day"))) {
			if (day_range(v) < 0)
				err_die(EXIT_USAGE, "bad --day: ", v,
				    (const char *)0);
		} else
			die_usage();
	}
	if (i == argc)
		read_default();
	for (; i < argc; i++)
		read_path(argv[i]);
	if (json)
		json_report();
	else
		text_report();
	if (fflush(stdout) || ferror(stdout))
		err_diesys(EXIT_TEMP, "unable to write the report",
		    (const char *)0);
	return 0;
}
