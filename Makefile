# qpost - one plain Makefile.  Targets: all check sanitize fuzz install clean.
# CC, CFLAGS, LDFLAGS, conf-home and QPOST_HOME (for install) may be overridden.

CC      ?= cc
HOME_DIR := $(shell head -n 1 conf-home)
WARN    = -Wall -Wextra -Werror -Wformat=2 -Wstrict-prototypes \
          -Wmissing-prototypes -Wshadow -Wcast-qual -Wvla
HARDEN  = -fstack-protector-strong -D_FORTIFY_SOURCE=3
CFLAGS  ?= -O2 -g
SANFLAGS =
ALLCFLAGS = -std=c11 -D_GNU_SOURCE $(CFLAGS) $(WARN) $(HARDEN) $(SANFLAGS) \
            -DCONF_HOME='"$(HOME_DIR)"'
LDLIBS  = -lcdb -lresolv

# Programs: one .c file each at the top level.
PROGS   = queue inject smtpd local send remote newu qpost-spawn qpost-tool sendmail
PROGS  += tlsd checkpw checkdovecot route
PROGS  += qpost-stats
# Libraries of some programs only: OpenSSL stays in tlsd and remote (its
# own account, STARTTLS out); libxcrypt is in
# checkpw (checking) and qpost-tool (hashing for passwd add).
tlsd_LIBS    = -lssl -lcrypto
remote_LIBS  = -lssl -lcrypto
checkpw_LIBS = -lcrypt
qpost-tool_LIBS = -lcrypt
# Shared modules, one concept per name.c/name.h pair.
LIBOBJ  = str.o buf.o err.o home.o control.o addr.o date.o envelope.o qq.o hdr.o commit.o \
          recip.o heap.o dns.o b64.o checkpass.o passwd.o dovecot.o num.o dsn.o \
          qfile.o spawn.o dotqmail.o reply.o
LIBOBJ += tlspol.o
HDRS    = $(wildcard *.h)

BUILT   = $(filter $(PROGS),$(basename $(wildcard *.c)))

all: $(BUILT)

%.o: %.c $(HDRS) conf-home Makefile
	$(CC) $(ALLCFLAGS) -c -o $@ $<

libqpost.a: $(filter $(LIBOBJ),$(patsubst %.c,%.o,$(wildcard *.c)))
	rm -f $@
	ar rcs $@ $^

$(filter-out send,$(BUILT)): %: %.o libqpost.a
	$(CC) $(ALLCFLAGS) $(LDFLAGS) -o $@ $< libqpost.a $(LDLIBS) $($@_LIBS)

# send is the one program of several files: send.c and send-*.c (send.h).
SENDOBJ = send.o $(patsubst %.c,%.o,$(wildcard send-*.c))
send: $(SENDOBJ) libqpost.a
	$(CC) $(ALLCFLAGS) $(LDFLAGS) -o $@ $(SENDOBJ) libqpost.a $(LDLIBS)

# make install                  -> the multi-user home in conf-home
# make install QPOST_HOME=DIR   -> a single-user home in DIR
install: all
	sh scripts/install-home "$(if $(QPOST_HOME),$(QPOST_HOME),$(HOME_DIR))"

# The unit-test driver of the queue's on-disk contract (tests/qfile.bats).
tests/qfile-t: tests/qfile-t.c libqpost.a $(HDRS) conf-home Makefile
	$(CC) $(ALLCFLAGS) -I. $(LDFLAGS) -o $@ $< libqpost.a $(LDLIBS)

check: all tests/qfile-t
	bats tests

# The same suite under AddressSanitizer and UndefinedBehaviorSanitizer.
sanitize:
	$(MAKE) clean
	$(MAKE) all tests/qfile-t CFLAGS='-O1 -g -fno-omit-frame-pointer' HARDEN= \
	    SANFLAGS='-fsanitize=address,undefined -fno-sanitize-recover=all'
	QPOST_SANITIZE=1 bats tests
	$(MAKE) clean

# libFuzzer targets for the parsers, one per fuzz/*.c, each run FUZZTIME
# seconds from its seed corpus fuzz/corpus/NAME (new inputs go to
# fuzz/bin/corpus/NAME, crashes to fuzz/bin/NAME-crash-*: the tree is
# not written).  The shared modules are compiled once (fuzz/bin/obj)
# and linked after each target's file, which comes first (fuzz/smtpd.c
# needs its coverage counters first).  fuzz/smtpd.c includes smtpd.c
# itself.  .ci/run runs this, so a parser regression turns CI red.
FUZZCC   = clang
FUZZTIME = 20
FUZZSRC  = $(filter-out $(patsubst %,%.c,$(PROGS)) send-%.c,$(wildcard *.c))
FUZZOBJ  = $(patsubst %.c,fuzz/bin/obj/%.o,$(FUZZSRC))
FUZZFLAGS = -std=c11 -D_GNU_SOURCE -g -O1 -DCONF_HOME='"$(HOME_DIR)"' \
	    -fsanitize=fuzzer,address,undefined
fuzz:
	rm -rf fuzz/bin/obj
	mkdir -p fuzz/bin/obj
	for s in $(FUZZSRC); do \
	    $(FUZZCC) $(FUZZFLAGS) -c -o fuzz/bin/obj/$${s%.c}.o $$s || exit 1; \
	done
	for t in fuzz/*.c; do \
	    n=$$(basename $$t .c); \
	    $(FUZZCC) $(FUZZFLAGS) -o fuzz/bin/$$n $$t $(FUZZOBJ) $(LDLIBS) \
	        || exit 1; \
	    mkdir -p fuzz/bin/corpus/$$n; \
	    seeds=; [ ! -d fuzz/corpus/$$n ] || seeds=fuzz/corpus/$$n; \
	    fuzz/bin/$$n -max_total_time=$(FUZZTIME) -max_len=4096 \
	        -artifact_prefix=fuzz/bin/$$n-crash- \
	        fuzz/bin/corpus/$$n $$seeds || exit 1; \
	done

clean:
	rm -f *.o libqpost.a $(PROGS) tests/qfile-t
	rm -rf fuzz/bin

.PHONY: all check sanitize install clean fuzz
