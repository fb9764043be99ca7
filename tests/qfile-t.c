/*
 * qfile-t - unit tests of the queue's on-disk contract (qfile.c): names,
 * trailer, info records (encoder, parser, the repeated-record rule),
 * the size limit and the commit steps.  Run by tests/qfile.bats in an
 * empty directory it may write to.  Prints one line per failed check and
 * a summary; exits 1 if any check failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "qfile.h"
#include "str.h"

static unsigned checks, failed;

static void
check(int ok, const char *what, int line)
{
	checks++;
	if (!ok) {
		failed++;
		printf("FAIL line %d: %s\n", line, what);
	}
}
#define CHECK(e) check((e), #e, __LINE__)

/* bytes - a literal with NULs as a (pointer, length) pair */
#define BYTES(s) (s), (sizeof(s) - 1)

#define ENV "Fa@x.example\0Tb0@x.example\0Tb1@y.example\0Tb2@z.example\0\0"

static void
test_names(void)
{
	str p = STR_INIT;
	unsigned long id = 0;

	CHECK(qfile_path(&p, QFILE_INFO, 42, ".tmp") == 0);
	CHECK(!strcmp(p.s, "queue/info/42.tmp"));
	CHECK(qfile_path(&p, QFILE_MESS, 7, 0) == 0);
	CHECK(!strcmp(p.s, "queue/mess/7"));
	CHECK(qfile_id("123", &id) == 0 && id == 123);
	CHECK(qfile_id("0", &id) == 0 && id == 0);
	CHECK(qfile_id("0123", &id) < 0);
	CHECK(qfile_id("12a", &id) < 0);
	CHECK(qfile_id("12.tmp", &id) < 0);
	CHECK(qfile_id("", &id) < 0);
	CHECK(qfile_id("-1", &id) < 0);
	CHECK(qfile_id("99999999999999999999999", &id) < 0);
	str_free(&p);
}

static void
test_trailer(void)
{
	static const unsigned long long offs[] = {
		0, 1, 12345, 9999999999999999999ULL
	};
	char t[QFILE_TRAILER_LEN];
	unsigned long long off, size;
	size_t k;

	qfile_trailer(t, 12345);
	CHECK(!memcmp(t, "QPOSTENV 0000000000000000012345\n",
	    QFILE_TRAILER_LEN));
	for (k = 0; k < sizeof offs / sizeof offs[0]; k++) {
		qfile_trailer(t, offs[k]);
		size = offs[k] + 10 + QFILE_TRAILER_LEN;
		off = 1;
		CHECK(qfile_trailer_parse(t, size, &off) == 0 &&
		    off == offs[k]);
	}
	/* the offset must leave room for the trailer, and the envelope
	 * between them must fit the size limit */
	qfile_trailer(t, 100);
	CHECK(qfile_trailer_parse(t, 100 + QFILE_TRAILER_LEN, &off) == 0 &&
	    off == 100);
	CHECK(qfile_trailer_parse(t, 99 + QFILE_TRAILER_LEN, &off) < 0);
	CHECK(qfile_trailer_parse(t, QFILE_TRAILER_LEN - 1, &off) < 0);
	CHECK(qfile_trailer_parse(t, 100 + QFILE_TRAILER_LEN + QFILE_INFO_MAX,
	    &off) == 0);
	CHECK(qfile_trailer_parse(t,
	    100 + QFILE_TRAILER_LEN + QFILE_INFO_MAX + 1, &off) < 0);
	/* bad bytes */
	CHECK(qfile_trailer_parse("QPOSTENX 0000000000000000000100\n", 200,
	    &off) < 0);
	CHECK(qfile_trailer_parse("QPOSTENV 0000000000000000000100 ", 200,
	    &off) < 0);
	CHECK(qfile_trailer_parse("QPOSTENV 00000000000000000001x0\n", 200,
	    &off) < 0);
	CHECK(qfile_trailer_parse("QPOSTENV  000000000000000000100\n", 200,
	    &off) < 0);
	CHECK(qfile_trailer_parse("QPOSTENV 99999999999999999999999", 200,
	    &off) < 0);
}

/* parse - parse a literal; -1 if corrupt */
static int
parse(const char *s, size_t n, struct qfile_info *qi)
{
	return qfile_info_parse(s, n, qi);
}

static void
test_info(void)
{
	struct qfile_info qi, q2;
	str x = STR_INIT, y = STR_INIT;
	static const char full[] = "M100 20 90\0" ENV
	    "r0 1 500\0" "r0 2 600\0" "\0\0" "f1 550 no\0" "d1\0"
	    "d2\0" "r2 9 9\0" "zjunk\0" "d7\0" "d0x\0" "r0 3\0" "d0";
	static const char compact[] = "M100 20 90 0\0" ENV
	    "r0 2 600\0" "f1 550 no\0" "d2\0";

	/* the repeated-record rule, a torn tail, fill and junk */
	CHECK(parse(BYTES(full), &qi) == 0);
	CHECK(qi.birth == 100 && qi.msglen == 20 && qi.fullsize == 90);
	CHECK(qi.nr == 3 && qi.envlen == sizeof ENV - 1);
	CHECK(!strcmp(qi.r[1].addr, "b1@y.example"));
	CHECK(qi.good == sizeof full - 1 - 2);	/* "d0" is torn */
	CHECK(qi.r[0].state == QFILE_PENDING && qi.r[0].tries == 2 &&
	    qi.r[0].next == 600);		/* last r wins */
	CHECK(qi.r[1].state == QFILE_FAILED &&
	    !strcmp(qi.r[1].reason, "550 no"));	/* first d or f wins */
	CHECK(qi.r[2].state == QFILE_DONE && qi.r[2].tries == 0);
	/* the compact form says the same in one record per recipient */
	CHECK(qfile_info_encode(&x, &qi) == 0);
	CHECK(x.len == sizeof compact - 1 && !memcmp(x.s, compact, x.len));
	CHECK(parse(x.s, x.len, &q2) == 0 && q2.good == x.len);
	CHECK(q2.r[0].tries == 2 && q2.r[0].next == 600 &&
	    q2.r[1].state == QFILE_FAILED && q2.r[2].state == QFILE_DONE);
	qfile_info_free(&q2);
	qfile_info_free(&qi);
	/* d then f: done; f then d: failed; a later r changes nothing */
	CHECK(parse(BYTES("M1 2 3\0" ENV "d0\0f0 x\0f1 y\0d1\0d2\0r2 4 4\0"),
	    &qi) == 0);
	CHECK(qi.r[0].state == QFILE_DONE && qi.r[1].state == QFILE_FAILED &&
	    !strcmp(qi.r[1].reason, "y") && qi.r[2].tries == 0);
	qfile_info_free(&qi);
	/* the head alone round-trips through the encoder */
	CHECK(qfile_info_head(&y, 5000042, 6, 7, BYTES(ENV)) == 0);
	CHECK(qfile_rec_retry(&y, 1, 3, 4) == 0 && qfile_rec_done(&y, 0) == 0 &&
	    qfile_rec_failed(&y, 2, "bad") == 0);
	CHECK(y.len == sizeof("M5 6 7 42\0" ENV "r1 3 4\0d0\0f2 bad\0") - 1 &&
	    !memcmp(y.s, "M5 6 7 42\0" ENV "r1 3 4\0d0\0f2 bad\0", y.len));
	/* the birth's microseconds: with the added field and without it */
	CHECK(parse(y.s, y.len, &qi) == 0 && qi.birth == 5 &&
	    qi.birth_us == 5000042);
	qfile_info_free(&qi);
	CHECK(parse(BYTES("M5 6 7\0" ENV), &qi) == 0 && qi.birth == 5 &&
	    qi.birth_us == 5000000 && qi.msglen == 6 && qi.fullsize == 7);
	qfile_info_free(&qi);
	CHECK(parse(BYTES("M5 6 7 999999\0" ENV), &qi) == 0 &&
	    qi.birth_us == 5999999);
	qfile_info_free(&qi);
	/* corrupt files */
	CHECK(parse(BYTES(""), &qi) < 0);
	CHECK(parse(BYTES("X1 2 3\0" ENV), &qi) < 0);
	CHECK(parse(BYTES("M1 2\0" ENV), &qi) < 0);
	CHECK(parse(BYTES("M1  2 3\0" ENV), &qi) < 0);
	CHECK(parse(BYTES("M1 2 3x\0" ENV), &qi) < 0);
	CHECK(parse(BYTES("M1 2 3\0Fa@x\0Tb@x\0"), &qi) < 0);
	CHECK(parse(BYTES("M1 2 3\0Fa@x\0\0"), &qi) < 0);
	CHECK(parse(BYTES("M1 2 3\0Xa@x\0Tb@x\0\0"), &qi) < 0);
	CHECK(parse(BYTES("M99999999999999999999 2 3\0" ENV), &qi) < 0);
	CHECK(parse(BYTES("M1 2 3 1000000\0" ENV), &qi) < 0);
	CHECK(parse(BYTES("M1 2 3 \0" ENV), &qi) < 0);
	CHECK(parse(BYTES("M1 2 3 4 5\0" ENV), &qi) < 0);
	CHECK(parse(BYTES("M1 2 3 4x\0" ENV), &qi) < 0);
	CHECK(parse(BYTES("M18446744073709551615 2 3\0" ENV), &qi) < 0);
	str_free(&x);
	str_free(&y);
}

/* test_ctl - the records of queue control: e (a deferred recipient's
 * last error, the last one wins, kept by compaction after its r), H and U
 * (held, released: the last one wins) */
static void
test_ctl(void)
{
	struct qfile_info qi;
	str x = STR_INIT;
	static const char full[] = "M1 2 3\0" ENV
	    "r0 1 5\0" "e0 #4.7.1 first\0" "H\0" "r0 2 9\0"
	    "e0 #4.7.1 second\0" "e1 x\0" "d1\0" "U\0" "H\0" "Hx\0" "e2\0";
	/* the encoder writes the head with its microseconds field */
	static const char compact[] = "M1 2 3 0\0" ENV "H\0"
	    "r0 2 9\0" "e0 #4.7.1 second\0" "d1\0";

	CHECK(parse(BYTES(full), &qi) == 0);
	CHECK(qi.held == 1);
	CHECK(qi.r[0].tries == 2 && !strcmp(qi.r[0].error, "#4.7.1 second"));
	CHECK(qi.r[1].state == QFILE_DONE);
	CHECK(qi.r[2].error == 0);		/* "e2" has no reason */
	CHECK(qfile_info_encode(&x, &qi) == 0);
	CHECK(x.len == sizeof compact - 1 && !memcmp(x.s, compact, x.len));
	qfile_info_free(&qi);
	CHECK(parse(BYTES("M1 2 3\0" ENV "H\0U\0"), &qi) == 0 && !qi.held);
	qfile_info_free(&qi);
	x.len = 0;
	CHECK(qfile_rec_hold(&x, 1) == 0 && qfile_rec_hold(&x, 0) == 0 &&
	    qfile_rec_error(&x, 3, "why") == 0);
	CHECK(x.len == sizeof("H\0U\0e3 why\0") - 1 &&
	    !memcmp(x.s, "H\0U\0e3 why\0", x.len));
	str_free(&x);
}

static void
test_msgid(void)
{
	char id[QFILE_MSGID_LEN];
	unsigned long long b = 1;
	unsigned long ino = 1;

	/* the contract's example, and its round trip */
	CHECK(qfile_msgid_parse("0K4QZ3V8HD.1311893", &b, &ino) == 0 &&
	    ino == 1311893);
	CHECK(!strcmp(qfile_msgid(id, b, ino), "0K4QZ3V8HD.1311893"));
	CHECK(!strcmp(qfile_msgid(id, 0, 0), "0000000000.0"));
	CHECK(!strcmp(qfile_msgid(id, 35, 7), "000000000Z.7"));
	CHECK(!strcmp(qfile_msgid(id, 36, 7), "0000000010.7"));
	/* 2025-06-01 00:00:00.123456 UTC, and back */
	CHECK(!strcmp(qfile_msgid(id, 1748736000123456ULL, 42),
	    "H7VI87G4LC.42") || (printf("got %s\n", id), 0));
	CHECK(qfile_msgid_parse(id, &b, &ino) == 0 &&
	    b == 1748736000123456ULL && ino == 42);
	/* the longest: every digit and the largest inode number */
	CHECK(strlen(qfile_msgid(id, 3656158440062975ULL,
	    (unsigned long)-1)) < QFILE_MSGID_LEN);
	CHECK(!strncmp(id, "ZZZZZZZZZZ.", 11));
	/* lower case is accepted; a bare inode means any birth */
	CHECK(qfile_msgid_parse("h7vi87g4lc.42", &b, &ino) == 0 &&
	    b == 1748736000123456ULL && ino == 42);
	CHECK(qfile_msgid_parse("1311893", &b, &ino) == 0 && b == 0 &&
	    ino == 1311893);
	/* not IDs */
	CHECK(qfile_msgid_parse("", &b, &ino) < 0);
	CHECK(qfile_msgid_parse("H7VI87G4LC", &b, &ino) < 0);
	CHECK(qfile_msgid_parse("H7VI87G4LC.", &b, &ino) < 0);
	CHECK(qfile_msgid_parse("H7VI87G4LC.042", &b, &ino) < 0);
	CHECK(qfile_msgid_parse("H7VI87G4L.42", &b, &ino) < 0);
	CHECK(qfile_msgid_parse("H7VI87G4LCX.42", &b, &ino) < 0);
	CHECK(qfile_msgid_parse("H7VI87G4L_.42", &b, &ino) < 0);
	CHECK(qfile_msgid_parse("H7VI87G4LC.42x", &b, &ino) < 0);
	CHECK(qfile_msgid_parse("H7VI87G4LC.-1", &b, &ino) < 0);
	CHECK(qfile_msgid_parse("012", &b, &ino) < 0);
	CHECK(qfile_birth_us(5, 999999999) == 5999999);
	CHECK(qfile_birth_us(-1, 0) == 0);
}

static void
test_bloated(void)
{
	CHECK(!qfile_info_bloated(60 + QFILE_INFO_SLACK, 60));
	CHECK(qfile_info_bloated(60 + QFILE_INFO_SLACK + 1, 60));
	CHECK(!qfile_info_bloated(10000, 5000));
	CHECK(qfile_info_bloated(10001, 5000));
	CHECK(!qfile_info_bloated(10000000 + QFILE_INFO_GROW_MAX, 10000000));
	CHECK(qfile_info_bloated(10000001 + QFILE_INFO_GROW_MAX, 10000000));
	/* the largest compact file plus its growth fits the limit */
	CHECK(200000000 + QFILE_INFO_GROW_MAX < QFILE_INFO_MAX);
}

/* put - a file with these bytes */
static void
put(const char *path, const char *s, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, s, n) != (ssize_t)n || close(fd) < 0)
		err_diesys(111, "unable to write ", path, (const char *)0);
}

/* newenv - qfile_newenv on a file of these bytes */
static int
newenv(const char *s, size_t n, str *env, unsigned long long *off,
    const char **why)
{
	int fd, r;

	put("queue/new/1", s, n);
	fd = open("queue/new/1", O_RDONLY);
	r = qfile_newenv(fd, n, env, off, why);
	close(fd);
	return r;
}

static void
test_files(void)
{
	str env = STR_INIT, f = STR_INIT, x = STR_INIT;
	char t[QFILE_TRAILER_LEN];
	unsigned long long off;
	const char *why = "", *step;
	struct stat st;
	int fd;

	if (mkdir("queue", 0700) < 0 || mkdir("queue/new", 0700) < 0 ||
	    mkdir("queue/mess", 0700) < 0 || mkdir("queue/info", 0700) < 0)
		err_diesys(111, "unable to make queue/", (const char *)0);
	/* a file in new/: message, envelope, trailer */
	qfile_trailer(t, 5);
	if (str_put(&f, "hello", 5) < 0 || str_put(&f, BYTES(ENV)) < 0 ||
	    str_put(&f, t, sizeof t) < 0)
		err_nomem();
	CHECK(newenv(f.s, f.len, &env, &off, &why) == 0 && off == 5 &&
	    env.len == sizeof ENV - 1 && !memcmp(env.s, ENV, env.len));
	CHECK(newenv(f.s, 10, &env, &off, &why) == -2 &&
	    !strcmp(why, "too short for a trailer"));
	f.s[f.len - 2] = 'x';
	CHECK(newenv(f.s, f.len, &env, &off, &why) == -2 &&
	    !strcmp(why, "bad trailer"));
	qfile_trailer(t, 4);	/* the envelope would start with "o" */
	memcpy(f.s + f.len - sizeof t, t, sizeof t);
	CHECK(newenv(f.s, f.len, &env, &off, &why) == -2 &&
	    !strcmp(why, "bad envelope"));
	/* the commit steps */
	CHECK(qfile_info_write(1, BYTES("M1 5 100\0" ENV), 1, &step) == 0);
	CHECK(access("queue/info/1.tmp", F_OK) < 0 && errno == ENOENT);
	fd = open("queue/info/1", O_RDONLY);
	CHECK(fd >= 0 && qfile_info_read(fd, &x) == 0 &&
	    x.len == sizeof("M1 5 100\0" ENV) - 1);
	close(fd);
	fd = open("queue/new/1", O_RDWR);
	CHECK(qfile_pick_move(fd, 1, 5, &step) == 0);
	CHECK(qfile_pick_sync(&why) == 0);
	CHECK(stat("queue/mess/1", &st) == 0 && st.st_size == 5);
	CHECK(access("queue/new/1", F_OK) < 0);
	fd = open("queue/mess/1", O_RDWR);
	CHECK(qfile_pick_move(fd, 2, 5, &step) < 0 && errno == ENOENT &&
	    !strcmp(step, "rename"));
	CHECK(qfile_remove(1, &step) == 0);
	CHECK(access("queue/info/1", F_OK) < 0 &&
	    access("queue/mess/1", F_OK) < 0);
	CHECK(qfile_remove(1, &step) == 0);	/* already gone is done */
	/* a batch: every info/ file, one sync, every mess/ file */
	{
		static const unsigned long many[] = { 3, 4, 5 };

		put("queue/info/3", BYTES("x"));
		put("queue/mess/3", BYTES("x"));
		put("queue/info/4", BYTES("x"));
		put("queue/mess/5", BYTES("x"));
		CHECK(qfile_remove_many(many, 3, &step) == 0);
		CHECK(access("queue/info/3", F_OK) < 0 &&
		    access("queue/mess/3", F_OK) < 0 &&
		    access("queue/info/4", F_OK) < 0 &&
		    access("queue/mess/5", F_OK) < 0);
	}
	/* the size limit: a larger info file is not read */
	fd = open("queue/info/2", O_RDWR | O_CREAT, 0600);
	CHECK(ftruncate(fd, (off_t)QFILE_INFO_MAX + 1) == 0);
	CHECK(qfile_info_read(fd, &x) < 0 && errno == EFBIG);
	close(fd);
	unlink("queue/info/2");
	str_free(&env);
	str_free(&f);
	str_free(&x);
}

/* test_origin - the origin record (docs/dkim.md): in new/ after the
 * envelope, in info/ after the head, kept by compaction; only the three
 * origins, only one, only last in new/ */
static void
test_origin(void)
{
	struct qfile_info qi;
	str x = STR_INIT, env = STR_INIT, f = STR_INIT;
	char t[QFILE_TRAILER_LEN];
	unsigned long long off;
	const char *why = "";
	static const char compact[] = "M1 2 3 0\0" ENV "Oauth\0" "d0\0";
	static const char *const bad[] = { "Oother", "Oauth\0Olocal", "Xlocal",
	    "Orelay\0d0" };
	size_t k;

	CHECK(qfile_rec_origin(&x, QFILE_ORIGIN_AUTH) == 0 &&
	    x.len == 6 && !memcmp(x.s, "Oauth\0", 6));
	CHECK(parse(BYTES("M1 2 3\0" ENV "Oauth\0d0\0"), &qi) == 0 &&
	    qi.origin && !strcmp(qi.origin, "auth"));
	x.len = 0;
	CHECK(qfile_info_encode(&x, &qi) == 0);
	CHECK(x.len == sizeof compact - 1 && !memcmp(x.s, compact, x.len));
	qfile_info_free(&qi);
	CHECK(parse(BYTES("M1 2 3\0" ENV "Oelsewhere\0"), &qi) == 0 &&
	    !qi.origin);
	qfile_info_free(&qi);
	/* new/: the envelope, "Olocal", the trailer; env has both */
	qfile_trailer(t, 5);
	if (str_put(&f, "hello", 5) < 0 || str_put(&f, BYTES(ENV)) < 0 ||
	    str_put(&f, "Olocal", 7) < 0 || str_put(&f, t, sizeof t) < 0)
		err_nomem();
	CHECK(newenv(f.s, f.len, &env, &off, &why) == 0 && off == 5 &&
	    env.len == sizeof ENV - 1 + 7 &&
	    !memcmp(env.s + env.len - 7, "Olocal", 7));
	for (k = 0; k < sizeof bad / sizeof *bad; k++) {
		f.len = 5;
		if (str_put(&f, BYTES(ENV)) < 0 ||
		    str_put(&f, bad[k], strlen(bad[k]) + 1 +
		    (k == 1 ? 7 : k == 3 ? 3 : 0)) < 0 ||
		    str_put(&f, t, sizeof t) < 0)
			err_nomem();
		CHECK(newenv(f.s, f.len, &env, &off, &why) == -2 &&
		    !strcmp(why, "bad envelope"));
	}
	str_free(&x);
	str_free(&env);
	str_free(&f);
}

int
main(void)
{
	err_prog = "qfile-t";
	test_names();
	test_trailer();
	test_info();
	test_msgid();
	test_ctl();
	test_bloated();
	test_files();
	test_origin();	/* after test_files: it writes queue/new/ */
	printf("%u checks, %u failed\n", checks, failed);
	return failed ? 1 : 0;
}
