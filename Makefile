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
PROGS  += qpost-stats authcheck
# Libraries of some programs only: OpenSSL's TLS is in tlsd and in remote
# (its own account: STARTTLS out, DANE, smarthost AUTH); libcrypto alone
# (DKIM's EVP, dkim.c) in qpost-tool and authcheck; libxcrypt in checkpw
# (checking) and qpost-tool (hashing for passwd add); libcurl (MTA-STS
# policy fetch, mtasts.o) in qpost-tool and remote.
tlsd_LIBS    = -lssl -lcrypto
remote_LIBS  = -lssl -lcrypto
checkpw_LIBS = -lcrypt
qpost-tool_LIBS = -lcrypt -lcrypto
# libpsl: DMARC's organizational domain (dmarc.c)
authcheck_LIBS = -lpsl -lcrypto
# Shared modules, one concept per name.c/name.h pair.
LIBOBJ  = dkim.o str.o buf.o err.o home.o control.o addr.o date.o envelope.o qq.o hdr.o commit.o \
          recip.o heap.o dns.o b64.o checkpass.o passwd.o dovecot.o num.o dsn.o \
          qfile.o spawn.o dotqmail.o reply.o mtasts.o spf.o dmarc.o tlspol.o
HDRS    = $(wildcard *.h)

BUILT   = $(filter $(PROGS),$(basename $(wildcard *.c)))

all: $(BUILT)

%.o: %.c $(HDRS) conf-home Makefile
	$(CC) $(ALLCFLAGS) -c -o $@ $<

libqpost.a: $(filter $(LIBOBJ),$(patsubst %.c,%.o,$(wildcard *.c)))
	rm -f $@
	ar rcs $@ $^

# queue, local and smtpd run once per message or session, so their
# start-up counts: where musl-gcc is installed (musl-tools) and no
# sanitizer is asked for, they are linked statically with musl.  No
# dynamic loader, and none of glibc's start-up CPU probing (cpuid, which
# traps in a VM): a run of local costs 0.07 ms of CPU instead of 0.86,
# queue 0.05 instead of 0.8, an smtpd session a fifth of the
# instructions (docs/performance.md).  glibc's static libc is no option:
# its getpwnam dlopens NSS modules and crashes.  musl reads /etc/passwd
# and /etc/group itself (and asks nscd): queue looks up qpostd there,
# local the names in control/trustedgroups, smtpd the recipients; before
# it refuses one as unknown, smtpd asks bin/route (glibc) when
# nsswitch.conf names other sources (QPOST_PWFILES, recip_confirm in
# recip.h).  musl's include path leaves /usr/include out, so cdb.h is
# copied in; Debian's libcdb.a is plain C built against glibc, and
# compat/musl-stat.c gives it glibc's __fxstat64.  make MUSLPROGS= builds
# all of them with glibc.
MUSLCC  := $(if $(SANFLAGS),,$(shell command -v musl-gcc 2>/dev/null))
MUSLPROGS = $(if $(MUSLCC),queue local smtpd)
# the modules over the resolver, OpenSSL, libcurl and libpsl: neither
# queue nor local uses them
MUSLNOT = dns.o dkim.o mtasts.o spf.o dmarc.o tlspol.o
MUSLOBJ = $(patsubst %.o,musl/%.o,$(filter-out $(MUSLNOT),$(LIBOBJ))) \
          musl/musl-stat.o
CDBLIB  = $(shell $(CC) -print-file-name=libcdb.a)
musl/include/cdb.h: /usr/include/cdb.h
	@mkdir -p musl/include
	cp $< $@
musl/%.o: %.c $(HDRS) conf-home Makefile musl/include/cdb.h
	$(MUSLCC) $(ALLCFLAGS) -DQPOST_PWFILES -Imusl/include -c -o $@ $<
musl/musl-stat.o: compat/musl-stat.c Makefile
	@mkdir -p musl
	$(MUSLCC) $(ALLCFLAGS) -c -o $@ $<
musl/libqpost.a: $(MUSLOBJ)
	rm -f $@
	ar rcs $@ $^
$(MUSLPROGS): %: musl/%.o musl/libqpost.a
	$(MUSLCC) $(ALLCFLAGS) $(LDFLAGS) -static -o $@ $< musl/libqpost.a \
	    $(CDBLIB)

$(filter-out send $(MUSLPROGS),$(BUILT)): %: %.o libqpost.a
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
# itself; FUZZLIBS are the modules' libraries.  .ci/run runs this, so a parser
# regression turns CI red.
FUZZCC   = clang
FUZZTIME = 20
FUZZLIBS = -lpsl -lcrypto
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
	    $(FUZZCC) $(FUZZFLAGS) -o fuzz/bin/$$n $$t $(FUZZOBJ) $(LDLIBS) $(FUZZLIBS) \
	        || exit 1; \
	    mkdir -p fuzz/bin/corpus/$$n; \
	    seeds=; [ ! -d fuzz/corpus/$$n ] || seeds=fuzz/corpus/$$n; \
	    fuzz/bin/$$n -max_total_time=$(FUZZTIME) -max_len=4096 \
	        -artifact_prefix=fuzz/bin/$$n-crash- \
	        fuzz/bin/corpus/$$n $$seeds || exit 1; \
	done

clean:
	rm -f *.o libqpost.a $(PROGS) tests/qfile-t
	rm -rf fuzz/bin musl

.PHONY: all check sanitize install clean fuzz
