/*
 * send-results - what a finished job means: its exit status and output
 * turned into one result per recipient (delivered, deferred, failed) and
 * a reason (dsn.h: local's last line, remote's reports), the expiry of a
 * temporary failure after queuelifetime, the d/f/r records appended to
 * info/<id> (docs/queue.md), and the log lines of the deliveries.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "dsn.h"
#include "err.h"
#include "num.h"
#include "qfile.h"
#include "send.h"
#include "str.h"

#define LOCAL_INFO_MAX 8	/* "local: info: " lines logged per delivery */

static char *
status_text(int status, const char *who)
{
	str x = STR_INIT;
	char b[NUM_LEN];
	char *r;

	if (WIFSIGNALED(status)) {
		if (str_puts(&x, who) < 0 || str_puts(&x, " crashed (signal ")
		    < 0 || str_puts(&x, num_fmt(b, (unsigned)WTERMSIG(status))) <
		    0 || str_putc(&x, ')') < 0)
			die_nomem();
	} else if (str_puts(&x, who) < 0 || str_puts(&x, " exited ") < 0 ||
	    str_puts(&x, num_fmt(b, (unsigned)WEXITSTATUS(status))) < 0 ||
	    str_puts(&x, " without a reason") < 0)
		die_nomem();
	r = reason_clean(x.s, x.len);
	str_free(&x);
	return r;
}

/* quiet_text - why a job that gave no reason ended.  qpost-spawn answers
 * a request it refuses (over its child limit, or a uid or gid it will
 * not use) with 111 and nothing on the pipe: say so, not "exited 111". */
static char *
quiet_text(const struct job *j, const char *who)
{
	static const char refused[] = "qpost-spawn refused the delivery "
	    "(over its limit, or an id it will not use)";

	if (spawnfd >= 0 && j->pid == 0 && j->out.len == 0 &&
	    WIFEXITED(j->status) && WEXITSTATUS(j->status) == 111)
		return reason_clean(refused, sizeof refused - 1);
	return status_text(j->status, who);
}

/* local_reason - local's reason: its last line, and the status the
 * qmail way (dsn_local) */
static char *
local_reason(const struct job *j, char cls)
{
	struct dsn d;
	char *line, *r;

	dsn_local(j->out.s, j->out.len, &d);
	line = d.textlen ? reason_clean(d.text, d.textlen) :
	    quiet_text(j, "local");
	d.text = line;
	d.textlen = strlen(line);
	r = reason_encode(&d, cls);
	free(line);
	return r;
}

/* remote_reason - a remote report's text (after its letter), as the
 * fields dsn_remote finds in it */
static char *
remote_reason(const char *t, size_t tl, char cls)
{
	struct dsn d;

	dsn_remote(t, tl, &d);
	return reason_encode(&d, cls);
}

/* results - each recipient's result and reason from the job's output */
static void
results(struct job *j, int *res, char **why)
{
	size_t k;

	if (j->ch == CH_LOCAL) {
		int st = j->status;

		res[0] = RES_TEMP;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			res[0] = RES_OK;
		else if (WIFEXITED(st) && WEXITSTATUS(st) == 100)
			res[0] = RES_PERM;
		why[0] = local_reason(j, res[0] == RES_OK ? '2' :
		    res[0] == RES_PERM ? '5' : '4');
		return;
	}
	/* remote: recipient reports r/h/s in order, then K/Z/D */
	{
		const char *s = j->out.s, *mrep = 0;
		size_t n = j->out.len, i = 0, mlen = 0;
		const char **rep = xcalloc(j->nri, sizeof *rep);
		size_t *rlen = xcalloc(j->nri, sizeof *rlen), nrep = 0;

		while (i < n) {
			const char *z = memchr(s + i, 0, n - i);
			size_t len;

			if (!z)
				break;
			len = (size_t)(z - (s + i));
			if (len && nrep < j->nri && !mrep &&
			    (s[i] == 'r' || s[i] == 'h' || s[i] == 's')) {
				rep[nrep] = s + i;
				rlen[nrep++] = len;
			} else if (len && !mrep && (s[i] == 'K' ||
			    s[i] == 'Z' || s[i] == 'D')) {
				mrep = s + i;
				mlen = len;
			}
			i += len + 1;
		}
		for (k = 0; k < j->nri; k++) {
			const char *t;
			size_t tl;
			char c = 0, cls;

			if (k < nrep) {
				c = rep[k][0];
				t = rep[k] + 1;
				tl = rlen[k] - 1;
				if (c == 'r') {
					if (mrep && mrep[0] == 'K')
						res[k] = RES_OK;
					else if (mrep && mrep[0] == 'D')
						res[k] = RES_PERM;
					else
						res[k] = RES_TEMP;
					if (mrep) {
						t = mrep + 1;
						tl = mlen - 1;
					}
				} else
					res[k] = c == 'h' ? RES_PERM : RES_TEMP;
			} else if (mrep) {
				res[k] = mrep[0] == 'D' ? RES_PERM : RES_TEMP;
				t = mrep + 1;
				tl = mlen - 1;
			} else {
				res[k] = RES_TEMP;
				t = 0;
				tl = 0;
			}
			cls = res[k] == RES_OK ? '2' : res[k] == RES_PERM ?
			    '5' : '4';
			if (t && tl)
				why[k] = remote_reason(t, tl, cls);
			else {
				struct dsn d;
				char *x = quiet_text(j, "remote");

				memset(&d, 0, sizeof d);
				d.text = x;
				d.textlen = strlen(x);
				why[k] = reason_encode(&d, cls);
				free(x);
			}
		}
		free(rep);
		free(rlen);
	}
}

/* local_info - local's "local: info: " lines (what only the admin should
 * see, such as a failed program's command line) into the log */
static void
local_info(const struct job *j, const char *addr)
{
	static const char tag[] = "local: info: ";
	const char *s = j->out.s;
	size_t n = j->out.len, i = 0, e, shown = 0;
	char b1[NUM_LEN];

	for (; i < n && shown < LOCAL_INFO_MAX; i = e + 1) {
		char *x;

		for (e = i; e < n && s[e] != '\n'; e++)
			;
		if (e - i <= sizeof tag - 1 || memcmp(s + i, tag,
		    sizeof tag - 1))
			continue;
		i += sizeof tag - 1;
		/* local names the message too ("msg ID: "): once is enough */
		if (e - i > strlen(j->m->qid) + 6 && !memcmp(s + i, "msg ", 4) &&
		    !memcmp(s + i + 4, j->m->qid, strlen(j->m->qid)) &&
		    !memcmp(s + i + 4 + strlen(j->m->qid), ": ", 2))
			i += strlen(j->m->qid) + 6;
		x = reason_clean(s + i, e - i);
		err_info("delivery ", num_fmt(b1, j->number), ": info: msg ",
		    j->m->qid, " to <", addr, ">: ", x,
		    (const char *)0);
		free(x);
		shown++;
	}
}

/* job_done - record the results, log them, settle the message */
void
job_done(struct job *j, int64_t now)
{
	struct msg *m = j->m;
	int *res = xcalloc(j->nri, sizeof *res);
	char **why = xcalloc(j->nri, sizeof *why);
	int64_t *wait = xcalloc(j->nri, sizeof *wait);
	str rec = STR_INIT;
	size_t k, done_after = 0;
	int sync = 0, completes;
	char b1[NUM_LEN], b2[NUM_LEN], b3[NUM_LEN], b4[NUM_LEN];
	char dl[DELAY_LEN];

	results(j, res, why);
	/* expiry: a temporary failure after queuelifetime is permanent */
	for (k = 0; k < j->nri; k++) {
		if (res[k] == RES_TEMP && now >= m->birth + cf.lifetime) {
			/* The last status stays (class 4: the message was
			 * never refused), a mere 4.0.0 becomes 4.4.7; the
			 * peer and its reply stay too. */
			str x = STR_INIT;
			struct dsn d;
			char *r;

			dsn_decode(why[k], &d);
			if (!d.status[0] || !strcmp(d.status + 1, ".0.0"))
				strcpy(d.status, "4.4.7");
			if (str_puts(&x, "message expired after "
			    "queuelifetime; last error: ") < 0 ||
			    str_put(&x, d.text, d.textlen) < 0)
				die_nomem();
			d.text = x.s;
			d.textlen = x.len;
			r = reason_encode(&d, '4');
			str_free(&x);
			free(why[k]);
			why[k] = r;
			res[k] = RES_PERM;
		}
		if (res[k] == RES_OK)
			done_after++;
	}
	/* Does this job finish the message with every recipient delivered?
	 * Then removing info/<id> is the record and no 'd' is written. */
	completes = m->jobs == 1 && m->left == j->nri &&
	    done_after == j->nri && !m->failed;
	for (k = 0; k < j->nri; k++) {
		size_t i = j->ri[k];
		struct rcpt *r = &m->r[i];

		if (res[k] != RES_TEMP) {
			free(r->error);
			r->error = 0;
		}
		if (res[k] == RES_OK) {
			r->state = RS_DONE;
			m->left--;
			if (!completes) {
				if (str_putc(&rec, 'd') < 0 ||
				    str_puts(&rec, num_fmt(b1, i)) < 0 ||
				    str_putc(&rec, 0) < 0)
					die_nomem();
				sync = 1;
			}
		} else if (res[k] == RES_PERM) {
			r->state = RS_FAILED;
			r->reason = why[k];
			why[k] = 0;
			m->left--;
			m->failed++;
			if (str_putc(&rec, 'f') < 0 ||
			    str_puts(&rec, num_fmt(b1, i)) < 0 ||
			    str_putc(&rec, ' ') < 0 ||
			    str_puts(&rec, r->reason) < 0 ||
			    str_putc(&rec, 0) < 0)
				die_nomem();
			sync = 1;
		} else {
			int64_t next, last = m->birth + cf.lifetime;

			r->state = RS_PENDING;
			r->tries++;
			next = now + retry_delay(j->ch, r->tries);
			if (next > last)
				next = last > now ? last : now + 1;
			r->next = next;
			wait[k] = next - now;
			if (str_putc(&rec, 'r') < 0 ||
			    str_puts(&rec, num_fmt(b1, i)) < 0 ||
			    str_putc(&rec, ' ') < 0 ||
			    str_puts(&rec, num_fmt(b2, r->tries)) < 0 ||
			    str_putc(&rec, ' ') < 0 ||
			    str_puts(&rec, num_fmt(b3, (unsigned long long)next))
			    < 0 || str_putc(&rec, 0) < 0 ||
			    qfile_rec_error(&rec, i, why[k]) < 0)
				die_nomem();
			/* the last error, for the queue listing */
			free(r->error);
			r->error = reason_clean(why[k], strlen(why[k]));
		}
	}
	info_append(m, &rec, sync);
	str_free(&rec);
	for (k = 0; k < j->nri; k++) {
		const struct rcpt *r = &m->r[j->ri[k]];

		if (j->ch == CH_LOCAL && res[k] != RES_OK)
			local_info(j, r->addr);
		/* docs/logging.md: the delivery lines */
		delay_fmt(dl, m);
		if (res[k] == RES_OK)
			err_info("delivery ", num_fmt(b1, j->number), ": success: "
			    "msg ", m->qid, " to ", chname[j->ch], " <", r->addr,
			    "> delay ", dl, ": ", dsn_text(why[k]),
			    (const char *)0);
		else if (res[k] == RES_PERM)
			err_info("delivery ", num_fmt(b1, j->number), ": failure: "
			    "msg ", m->qid, " to ", chname[j->ch], " <", r->addr,
			    "> delay ", dl, ": ", dsn_text(r->reason),
			    (const char *)0);
		else
			err_info("delivery ", num_fmt(b1, j->number),
			    ": deferral: msg ", m->qid, " to ", chname[j->ch],
			    " <", r->addr, "> delay ", dl, " retry in ",
			    num_fmt(b4, (unsigned long long)wait[k]), "s: ",
			    dsn_text(why[k]), (const char *)0);
		free(why[k]);
	}
	free(why);
	free(res);
	free(wait);
	job_end(j, now);
}

/* job_end - free a finished job; its message settles once it has no job
 * left */
void
job_end(struct job *j, int64_t now)
{
	struct msg *m = j->m;

	str_free(&j->out);
	str_free(&j->rcpt);
	free(j->ri);
	free(j);
	if (--m->jobs == 0)
		msg_settle(m, now);
}

