/* fuzz/send-info - libFuzzer target for send's parsers: the info/<id>
 * records (msg_parse), remote's report stream (results) and the enhanced
 * status found in a reason (dsn_status).  send.c is included whole so its
 * static functions can be reached; its main is renamed away. */
#define main send_main
#include "../send.c"
#undef main

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_msg(const struct msg *m)
{
	size_t k, left = 0, failed = 0;

	for (k = 0; k < m->nr; k++) {
		const struct rcpt *r = &m->r[k];

		if (r->addr < m->env || r->addr >= m->env + m->envlen)
			abort();
		if (r->state == RS_PENDING)
			left++;
		else if (r->state == RS_FAILED) {
			failed++;
			if (!r->reason)
				abort();
		} else if (r->state != RS_DONE)
			abort();
	}
	if (left != m->left || failed != m->failed)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data + 1;
	size_t n = size ? size - 1 : 0;

	if (!size)
		return 0;
	switch (data[0] % 3) {
	case 0: {
		/* an info file */
		struct msg *m;
		size_t good = 0;
		unsigned long long a, b;

		m = msg_parse(7, s, n, &good, &a, &b);
		if (good > n)
			abort();
		if (m) {
			check_msg(m);
			msg_free(m);
		}
		break;
	}
	case 1: {
		/* remote's reports for a job of three recipients */
		static const char info[] = "M1 2 3\0Fs@x\0Ta@x\0Tb@x\0Tc@x\0\0";
		size_t good, k;
		unsigned long long a, b;
		struct msg *m = msg_parse(7, info, sizeof info - 1, &good,
		    &a, &b);
		struct job j;
		size_t ri[3] = { 0, 1, 2 };
		int res[3];
		char *why[3];

		if (!m)
			abort();
		memset(&j, 0, sizeof j);
		j.m = m;
		j.ch = CH_REMOTE;
		j.ri = ri;
		j.nri = 3;
		j.status = n ? (unsigned char)s[0] << 8 : 9;
		if (str_copy(&j.out, s, n) < 0)
			abort();
		results(&j, res, why);
		for (k = 0; k < 3; k++) {
			if (res[k] != RES_OK && res[k] != RES_TEMP &&
			    res[k] != RES_PERM)
				abort();
			if (!why[k] || strlen(why[k]) > REASON_MAX)
				abort();
			free(why[k]);
		}
		str_free(&j.out);
		msg_free(m);
		break;
	}
	default: {
		/* a reason's enhanced status code */
		str out = STR_INIT;
		char *why = reason_clean(s, n);

		dsn_status(why, n & 1 ? '5' : 0, "5.0.0", &out);
		if (out.len < 5 || out.len > 9)
			abort();
		str_free(&out);
		free(why);
		break;
	}
	}
	return 0;
}
