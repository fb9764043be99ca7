/* dsn - enhanced mail system status codes (RFC 3463), and the reason
 * record send carries from local and remote to its bounces: the fields,
 * their one-line encoding (the f record of info/<id>, docs/queue.md), and
 * the parsers of local's and remote's report texts (docs/local.md,
 * docs/remote.md). */
#ifndef DSN_H
#define DSN_H

#include <stddef.h>

/* what a remote that never ran reports, in remote's own format (a
 * temporary failure for the whole message), NUL included by sizeof */
#define DSN_REMOTE_UNSTARTED "Z4.3.0 unable to start remote"
#define DSN_STATUS_MAX 12	/* "5.123.123" and its NUL */
#define DSN_REASON_MAX 900	/* bytes of an encoded reason kept */
#define DSN_MTA_MAX 255		/* bytes of a Remote-MTA name kept */
#define DSN_DIAG_MAX 500	/* bytes of a peer's reply kept */

/*
 * A delivery's reason, as send carries it from local or remote to the
 * bounce: the enhanced status code (RFC 3463), the remote MTA and its
 * reply when a peer answered, and the human text.  In memory and in the
 * info file's f record it is one printable line (docs/queue.md):
 *
 *	#status SP [@mta SP =n SP reply(n bytes) SP] text
 *
 * A reason without the leading '#' (written by an older send) is text
 * alone.  The status is never looked for inside the text.
 */
struct dsn {
	char status[DSN_STATUS_MAX];	/* "5.1.1"; empty: none given */
	const char *mta;
	size_t mtalen;
	const char *diag;		/* the peer's reply */
	size_t diaglen;
	const char *text;		/* NUL-terminated after dsn_decode */
	size_t textlen;
};

/* dsn_scan - the length of a status code "c.s.d" at the start of s (n
 * bytes): class 2, 4 or 5, then one to three digits twice; 0 if none */
size_t dsn_scan(const char *, size_t);

/* dsn_hash - qmail's convention: the status of the last "(#c.s.d)" in
 * the line s (n bytes), into st with its NUL; its length, 0 if none */
size_t dsn_hash(const char *, size_t, char st[DSN_STATUS_MAX]);

/* dsn_clean - s (n bytes) as printable ASCII on one line, blanks
 * trimmed, at most DSN_REASON_MAX bytes: a new string, 0 on ENOMEM */
char *dsn_clean(const char *, size_t);

/* dsn_encode - the one-line form of d, with the status's class forced
 * to cls ('2', '4', '5'; the result decides it, not the text) and
 * cls.0.0 when d has no status: a new string, 0 on ENOMEM */
char *dsn_encode(const struct dsn *, char cls);

/* dsn_decode - the fields of a reason made by dsn_encode, pointing into
 * the NUL-terminated s; an older reason is all text, with no status */
void dsn_decode(const char *, struct dsn *);

/* dsn_text - the human text of a reason (into it), for logs and qread */
const char *dsn_text(const char *);

/* dsn_remote - the fields of a remote report's text t (tl bytes, after
 * its letter), pointing into t: the status, a blank and the text's first
 * line, then optional lines "Remote-MTA: dns; host" and
 * "Diagnostic-Code: smtp; reply" (docs/remote.md).  A text without the
 * leading status (qmail-remote's format) is all text. */
void dsn_remote(const char *, size_t, struct dsn *);

/* dsn_local - the fields of local's output s (n bytes), pointing into
 * s: the text is its last non-empty line, blanks trimmed, at most
 * DSN_REASON_MAX bytes (textlen 0 when that line is blank), and the
 * status the qmail way, the last "(#c.s.d)" in it (docs/local.md) */
void dsn_local(const char *, size_t, struct dsn *);

#endif
