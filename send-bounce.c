/*
 * send-bounce - the RFC 3464 report send injects, through qq, for a
 * message whose every recipient is done and some failed: to the sender,
 * or to control/doublebounceto for a failed bounce (docs/send.md,
 * "Bounces").  It quotes the original header, never the body.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "date.h"
#include "dsn.h"
#include "envelope.h"
#include "err.h"
#include "num.h"
#include "qq.h"
#include "send.h"
#include "str.h"

#define HEADER_MAX (16 * 1024)	/* original header quoted in a bounce */


/* dsn_status - the Status: of a failed recipient's decoded reason: the
 * one carried from local or remote; a reason from an older send has none
 * and gets 5.0.0, or 4.4.7 if it expired */
static void
dsn_status(const struct dsn *d, str *out)
{
	const char *st = d->status;

	if (!*st)
		st = strncmp(d->text, "message expired", 15) ? "5.0.0" :
		    "4.4.7";
	if (str_puts(out, st) < 0)
		die_nomem();
}

/* orig_header - the header of mess/<id>, at most HEADER_MAX bytes: all
 * RFC 3464 needs of the original (text/rfc822-headers), never its body,
 * so a bounce is no bigger than what we write ourselves (issue 17).  A
 * longer header is cut before the last field that does not fit whole. */
static void
orig_header(const struct msg *m, str *h)
{
	int fd;
	ssize_t r;
	size_t i;
	int full;

	fd = msg_open(m);
	if (fd < 0)
		return;
	if (str_ready(h, HEADER_MAX) < 0)
		die_nomem();
	h->len = 0;
	while (h->len < HEADER_MAX) {
		r = read(fd, h->s + h->len, HEADER_MAX - h->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		h->len += (size_t)r;
	}
	close(fd);
	for (i = 0; i < h->len; i++)
		if (h->s[i] == '\n' &&
		    (i + 1 == h->len || h->s[i + 1] == '\n')) {
			h->len = i + 1;
			return;
		}
	/* No end of header within the limit: end before the last field
	 * (a line not starting with a blank), so none is cut in half. */
	full = h->len == HEADER_MAX;
	while (h->len && h->s[h->len - 1] != '\n')
		h->len--;
	if (!full || !h->len)
		return;		/* the message is all header */
	for (i = h->len - 1; i > 0; i--)
		if (h->s[i - 1] == '\n' && h->s[i] != ' ' && h->s[i] != '\t')
			break;
	h->len = i;
}

#define P(s) do { if (str_puts(&b, (s)) < 0) die_nomem(); } while (0)

/* bounce - one DSN for every failed recipient: 0 done (or dropped),
 * -1 try again later */
int
bounce(struct msg *m, int64_t now)
{
	const char *sender = envelope_sender(m->env), *to, *envfrom;
	str b = STR_INIT, hdr = STR_INIT, bnd = STR_INIT;
	char d[DATE_LEN], u1[NUM_LEN], u2[NUM_LEN];
	size_t k;
	qq q;
	int code, dbl;

	if (!strcmp(sender, TRIPLE)) {
		err_info("triple bounce: discarding msg ", m->qid,
		    (const char *)0);
		return 0;
	}
	dbl = !*sender;
	if (dbl) {
		to = cf.dbto.s;
		envfrom = TRIPLE;
		if (!*to) {
			err_info("double bounce: discarding msg ",
			    m->qid, " (no doublebounceto)",
			    (const char *)0);
			return 0;
		}
	} else {
		to = sender;
		envfrom = "";
	}
	orig_header(m, &hdr);
	if (str_copys(&bnd, "qpost-dsn-") < 0 ||
	    str_puts(&bnd, num_fmt(u1, m->id)) < 0 || str_putc(&bnd, '-') < 0 ||
	    str_puts(&bnd, num_fmt(u2, (unsigned long long)now)) < 0 ||
	    str_puts(&bnd, "=_") < 0)
		die_nomem();
	while (hdr.len && memmem(hdr.s, hdr.len, bnd.s, bnd.len))
		if (str_putc(&bnd, 'x') < 0)
			die_nomem();
	if (str_0(&bnd) < 0)
		die_nomem();
	P("From: ");
	P(cf.bouncefrom.s);
	P("@");
	P(cf.bouncehost.s);
	P("\nTo: ");
	if (addr_quote(&b, to) < 0)	/* a local part may need quoting */
		die_nomem();
	P("\nSubject: ");
	P(dbl ? "failure notice (double bounce)" : "failure notice");
	date_rfc5322(d, (time_t)now);
	P("\nDate: ");
	P(d);
	P("\nMessage-ID: <");
	P(num_fmt(u1, (unsigned long long)now));
	P(".");
	P(num_fmt(u2, m->id));
	P(".bounce@");
	P(cf.me.s);
	P(">\nAuto-Submitted: auto-replied\nMIME-Version: 1.0\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\n"
	    "\tboundary=\"");
	P(bnd.s);
	P("\"\n\nThis is a MIME-formatted delivery status notification.\n"
	    "\n--");
	P(bnd.s);
	P("\nContent-Type: text/plain; charset=us-ascii\n"
	    "Content-Description: Notification\n\n"
	    "Hi. This is the qpost send program at ");
	P(cf.me.s);
	P(".\n");
	if (dbl)
		P("I tried to deliver a bounce message to the addresses below,"
		    "\nbut the bounce bounced!\n\n");
	else
		P("I'm afraid I wasn't able to deliver your message to the "
		    "following addresses.\nThis is a permanent error; I've "
		    "given up. Sorry it didn't work out.\n\n");
	for (k = 0; k < m->nr; k++) {
		if (m->r[k].state != RS_FAILED)
			continue;
		P("<");
		P(m->r[k].addr);
		P(">:\n");
		P(dsn_text(m->r[k].reason));
		P("\n\n");
	}
	P("--");
	P(bnd.s);
	P("\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; ");
	P(cf.me.s);
	date_rfc5322(d, (time_t)m->birth);
	P("\nArrival-Date: ");
	P(d);
	P("\n");
	for (k = 0; k < m->nr; k++) {
		struct dsn ds;

		if (m->r[k].state != RS_FAILED)
			continue;
		dsn_decode(m->r[k].reason, &ds);
		P("\nFinal-Recipient: rfc822; ");
		P(m->r[k].addr);
		P("\nAction: failed\nStatus: ");
		dsn_status(&ds, &b);
		if (ds.mtalen) {
			/* RFC 3464: the peer that refused, and its reply */
			P("\nRemote-MTA: dns; ");
			if (str_put(&b, ds.mta, ds.mtalen) < 0)
				die_nomem();
			P("\nDiagnostic-Code: smtp; ");
			if (str_put(&b, ds.diag, ds.diaglen) < 0)
				die_nomem();
		} else {
			P("\nDiagnostic-Code: X-Qpost; ");
			P(ds.text);
		}
		P("\n");
	}
	P("\n--");
	P(bnd.s);
	P("\nContent-Type: text/rfc822-headers\n"
	    "Content-Description: Undelivered Message Headers\n\n");
	if (str_put(&b, hdr.s, hdr.len) < 0)
		die_nomem();
	P("\n--");
	P(bnd.s);
	P("--\n");
	str_free(&hdr);
	str_free(&bnd);
	if (qq_openid(&q) < 0) {
		err_warnsys("unable to run the queue program for a bounce of "
		    "msg ", m->qid, (const char *)0);
		str_free(&b);
		return -1;
	}
	qq_put(&q, b.s, b.len);
	qq_from(&q, envfrom);
	qq_to(&q, to);
	code = qq_close(&q);
	str_free(&b);
	if (code == 0) {
		/* docs/logging.md; "as -" when the queue program told no
		 * ID (a qmail-queue filter in front) */
		err_info(dbl ? "double bounce msg " : "bounce msg ",
		    m->qid, " as ", qq_id(&q) ? qq_id(&q) : "-",
		    " to <", to, ">", (const char *)0);
		return 0;
	}
	if (!qq_temp(code)) {
		err_info("bounce of msg ", m->qid, " refused for "
		    "good: ", qq_status(code), "; discarding",
		    (const char *)0);
		return 0;
	}
	err_info("bounce of msg ", m->qid, " deferred: ",
	    qq_status(code), (const char *)0);
	return -1;
}
#undef P

