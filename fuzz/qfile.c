/* fuzz/qfile - libFuzzer target for the queue's on-disk contract
 * (qfile.c): the info/<id> parser, with the compact form it encodes
 * parsed back to the same state, the trailer decoder, the file-name
 * parser and the ID parser.  The first byte picks the parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../dsn.h"
#include "../qfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* check_info - the parser's promises about a parsed info */
static void
check_info(const struct qfile_info *qi, const char *s, size_t n)
{
	size_t k;

	if (qi->good > n || qi->env < s || qi->env + qi->envlen > s + n)
		abort();
	for (k = 0; k < qi->nr; k++) {
		const struct qfile_rcpt *r = &qi->r[k];

		if (r->addr < qi->env || r->addr >= qi->env + qi->envlen)
			abort();
		if (r->state == QFILE_FAILED &&
		    (!r->reason || r->reason < s || r->reason >= s + n))
			abort();
		if (r->state > QFILE_FAILED)
			abort();
	}
}

static void
info(const char *s, size_t n)
{
	struct qfile_info qi, q2;
	str x = STR_INIT;
	size_t k;

	if (qfile_info_parse(s, n, &qi) < 0)
		return;
	check_info(&qi, s, n);
	/* compaction keeps exactly the state */
	if (qfile_info_encode(&x, &qi) < 0)
		abort();
	if (qfile_info_parse(x.s, x.len, &q2) < 0)
		abort();
	check_info(&q2, x.s, x.len);
	if (q2.good != x.len || q2.nr != qi.nr || q2.birth != qi.birth ||
	    q2.birth_us != qi.birth_us ||
	    q2.msglen != qi.msglen || q2.fullsize != qi.fullsize ||
	    q2.envlen != qi.envlen || memcmp(q2.env, qi.env, qi.envlen))
		abort();
	for (k = 0; k < qi.nr; k++) {
		const struct qfile_rcpt *a = &qi.r[k], *b = &q2.r[k];

		if (a->state != b->state)
			abort();
		if (a->state == QFILE_FAILED && strcmp(a->reason, b->reason))
			abort();
		if (a->state == QFILE_PENDING &&
		    (a->tries != b->tries || a->next != b->next))
			abort();
		/* the last error, cut to DSN_REASON_MAX by the encoder */
		if (a->state == QFILE_PENDING && (!a->error != !b->error ||
		    (a->error && (strncmp(a->error, b->error,
		    DSN_REASON_MAX) || strlen(b->error) !=
		    strnlen(a->error, DSN_REASON_MAX)))))
			abort();
	}
	if (qi.held != q2.held)
		abort();
	qfile_info_free(&q2);
	qfile_info_free(&qi);
	str_free(&x);
}

static void
trailer(const char *s, size_t n)
{
	char t[QFILE_TRAILER_LEN], back[QFILE_TRAILER_LEN];
	unsigned long long off, size = 0;
	size_t k;

	if (n < QFILE_TRAILER_LEN)
		return;
	memcpy(t, s, QFILE_TRAILER_LEN);
	for (k = QFILE_TRAILER_LEN; k < n && k < QFILE_TRAILER_LEN + 8; k++)
		size = size << 8 | (unsigned char)s[k];
	if (qfile_trailer_parse(t, size, &off) < 0)
		return;
	if (off > size - QFILE_TRAILER_LEN ||
	    size - QFILE_TRAILER_LEN - off > QFILE_INFO_MAX)
		abort();
	qfile_trailer(back, off);
	if (memcmp(back, t, QFILE_TRAILER_LEN))
		abort();
}

/* name - a queue file name: an id that formats back to itself; a tmp
 * name's time (qfile_tmp_sec) read only from where it is */
static void
name(const char *s, size_t n)
{
	char b[32];
	unsigned long id;
	unsigned long long sec;
	str p = STR_INIT;

	if (n >= sizeof b)
		n = sizeof b - 1;
	memcpy(b, s, n);
	b[n] = 0;
	/* a tmp name's second field, if it reads as one, is within it */
	if (qfile_tmp_sec(b, &sec) == 0 && (!strchr(b, '.') ||
	    sec > (~0ULL >> 1)))
		abort();
	if (qfile_id(b, &id) < 0)
		return;
	if (qfile_path(&p, QFILE_NEW, id, 0) < 0 ||
	    strcmp(p.s + sizeof "queue/" QFILE_NEW, b))
		abort();
	str_free(&p);
}

/* msgid - an ID that parses formats back to itself, in capitals */
static void
msgid(const char *s, size_t n)
{
	char b[QFILE_MSGID_LEN + 8], back[QFILE_MSGID_LEN];
	unsigned long long birth;
	unsigned long inode;
	size_t k;

	if (n >= sizeof b)
		n = sizeof b - 1;
	memcpy(b, s, n);
	b[n] = 0;
	if (qfile_msgid_parse(b, &birth, &inode) < 0 ||
	    !strchr(b, '.'))
		return;
	for (k = 0; k < QFILE_MSGID_DIGITS; k++)
		if (b[k] >= 'a' && b[k] <= 'z')
			b[k] = (char)(b[k] - 'a' + 'A');
	if (strcmp(qfile_msgid(back, birth, inode), b))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data + 1;
	size_t n = size ? size - 1 : 0;

	if (!size)
		return 0;
	switch (data[0] % 4) {
	case 0:
		info(s, n);
		break;
	case 1:
		trailer(s, n);
		break;
	case 2:
		name(s, n);
		break;
	default:
		msgid(s, n);
	}
	return 0;
}
