#!/usr/bin/env bats
# local: delivery to one local recipient, run directly the way send runs
# it (`local SENDER RECIPIENT` with the message on fd 0), plus recip's
# lookup (users/assign via newu, virtualdomains, alias) and newu.
# Helpers and the root/non-root arrangement: tests/local-lib.bash.

load helper
load local-lib

setup() { local_setup; }
teardown() { local_teardown; }

@test "local: Maildir gets the exact bytes with Return-Path and Delivered-To on top" {
	deliver s@x.example joe@test.example
	assert_success
	assert_equal "$(lastline)" "local: did 1+0+0"
	f=$(one "$U/joe/Maildir")
	{ printf 'Return-Path: <s@x.example>\nDelivered-To: joe@test.example\n'
	  cat "$MSG"; } > "$BATS_TEST_TMPDIR/want"
	cmp "$BATS_TEST_TMPDIR/want" "$f"
	assert_equal "$(count "$U/joe/Maildir/tmp")" 0
	# qmail's name: time.MusecPpidQn.host
	basename "$f" | grep -Eq '^[0-9]+\.M[0-9]+P[0-9]+Q[0-9]+\.'
}

@test "local: a bounce (empty sender) gets Return-Path: <>" {
	deliver "" joe@test.example
	assert_success
	f=$(one "$U/joe/Maildir")
	assert_equal "$(head -n 1 "$f")" "Return-Path: <>"
}

@test "local: no .qmail uses control/defaultdelivery" {
	echo ./Mailbox > "$QPOST_HOME/control/defaultdelivery"
	deliver s@x.example joe@test.example
	assert_success
	grep -q '^Delivered-To: joe@test.example$' "$U/joe/Mailbox"
	assert_equal "$(count "$U/joe/Maildir/new")" 0
}

@test "local: mbox has a From_ line, >From quoting and a blank line at the end" {
	echo ./mbox | dotqmail joe
	deliver s@x.example joe@test.example
	assert_success
	deliver "" joe@test.example
	assert_success
	m=$U/joe/mbox
	run sed -n 1p "$m"
	assert_output --regexp '^From s@x\.example [A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}$'
	sed 1d "$m" | head -n 10 > "$BATS_TEST_TMPDIR/got"
	printf '%s\n' 'Return-Path: <s@x.example>' \
	    'Delivered-To: joe@test.example' 'From: a@b.example' \
	    'Subject: hi' '' 'body line' '>From me' '>>From x' 'last' '' \
	    > "$BATS_TEST_TMPDIR/want"
	cmp "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
	run sed -n 12p "$m"
	assert_output --regexp '^From MAILER-DAEMON '
	assert_equal "$(grep -c '^From ' "$m")" 2
	assert_equal "$(tail -c 2 "$m" | od -An -c | tr -d ' ')" '\n\n'
}

@test "local: a message without a final newline still ends the mbox entry" {
	echo ./mbox | dotqmail joe
	printf 'Subject: x\n\nno newline' > "$BATS_TEST_TMPDIR/m2"
	deliver s@x.example joe@test.example "$BATS_TEST_TMPDIR/m2"
	assert_success
	assert_equal "$(tail -n 2 "$U/joe/mbox" | head -n 1)" "no newline"
	assert_equal "$(tail -c 2 "$U/joe/mbox" | od -An -c | tr -d ' ')" '\n\n'
}

@test "local: mbox waits for another holder's fcntl lock; a stale dotlock is removed" {
	echo ./mbox | dotqmail joe
	m=$U/joe/mbox
	: > "$m"
	[ "$(id -u)" = 0 ] && chown "$RUID:$RGID" "$m"
	# the holder waits for local's dotlock (local is then waiting for the
	# fcntl lock), notes the mbox size, and lets go
	spawn "$PY" -c 'import fcntl, os, sys, time
m, ready, out = sys.argv[1:]
f = open(m, "a")
fcntl.lockf(f, fcntl.LOCK_EX)
open(ready, "w").close()
for i in range(100):
    if os.path.exists(m + ".lock"):
        break
    time.sleep(0.05)
time.sleep(0.3)
open(out, "w").write("%d %s" % (os.path.getsize(m), os.path.exists(m + ".lock")))
' "$m" "$BATS_TEST_TMPDIR/locked" "$BATS_TEST_TMPDIR/seen"
	wait_for 5 test -e "$BATS_TEST_TMPDIR/locked"
	deliver s@x.example joe@test.example
	assert_success
	assert_equal "$(cat "$BATS_TEST_TMPDIR/seen")" "0 True"
	assert_equal "$(grep -c '^From ' "$m")" 1
	touch -d '1 hour ago' "$m.lock"
	deliver s@x.example joe@test.example
	assert_success
	assert_equal "$(grep -c '^From ' "$m")" 2
	[ ! -e "$m.lock" ]
	assert_equal "$(ls "$U/joe" | grep -c lock)" 0
}

@test "local: two .qmail lines (and a comment) are both delivered" {
	printf '# both\n./Maildir/\n./mbox\n' | dotqmail joe
	deliver s@x.example joe@test.example
	assert_success
	assert_equal "$(lastline)" "local: did 2+0+0"
	one "$U/joe/Maildir" > /dev/null
	grep -q '^body line$' "$U/joe/mbox"
}

@test "local: joe-foo reads .qmail-foo, joe-bar-baz .qmail-bar-default" {
	for d in foo bar def; do
		mkdir -p "$U/joe/$d/tmp" "$U/joe/$d/new" "$U/joe/$d/cur"
	done
	[ "$(id -u)" = 0 ] && chown -R "$RUID:$RGID" "$U/joe"
	echo ./foo/ | dotqmail joe foo
	printf '%s\n' ./bar/ '|echo "DEFAULT=$DEFAULT EXT=$EXT EXT2=$EXT2" > ./bar.env' |
	    dotqmail joe bar-default
	echo ./def/ | dotqmail joe default
	deliver s@x.example joe-foo@test.example
	assert_success
	f=$(one "$U/joe/foo")
	grep -q '^Delivered-To: joe-foo@test.example$' "$f"
	deliver s@x.example joe-bar-baz@test.example
	assert_success
	one "$U/joe/bar" > /dev/null
	assert_equal "$(cat "$U/joe/bar.env")" "DEFAULT=baz EXT=bar-baz EXT2=baz"
	deliver s@x.example Joe-Other@test.example
	assert_success
	one "$U/joe/def" > /dev/null
	assert_equal "$(count "$U/joe/Maildir/new")" 0
}

@test "local: an extension without a matching .qmail file bounces" {
	echo ./foo/ | dotqmail joe foo
	deliver s@x.example joe-nope@test.example
	assert_failure 100
	assert_equal "$(lastline)" "route: fatal: Sorry, no mailbox here by that name. (#5.1.1)"
	assert_equal "$(count "$U/joe/Maildir/new")" 0
}

@test "local: a forward re-injects with the same sender and our Delivered-To, and arrives at the other user" {
	F=$BATS_TEST_TMPDIR/fwd
	mkdir -m 777 "$F"
	cat > "$BATS_TEST_TMPDIR/queue" <<EOF
#!/bin/sh
cat > "$F/msg" && cat <&1 > "$F/env"
EOF
	chmod 755 "$BATS_TEST_TMPDIR/queue"
	export QPOST_QUEUE=$BATS_TEST_TMPDIR/queue
	printf '&bob@test.example\n./Maildir/\n' | dotqmail joe
	deliver s@x.example joe@test.example
	assert_success
	assert_equal "$(lastline)" "local: did 1+1+0"
	assert_equal "$(tr '\0' '|' < "$F/env")" "Fs@x.example|Tbob@test.example||"
	{ printf 'Delivered-To: joe@test.example\n'; cat "$MSG"; } > "$BATS_TEST_TMPDIR/want"
	cmp "$BATS_TEST_TMPDIR/want" "$F/msg"
	# send hands the queued copy to local for bob
	deliver s@x.example bob@test.example "$F/msg"
	assert_success
	f=$(one "$U/bob/Maildir")
	{ printf 'Return-Path: <s@x.example>\nDelivered-To: bob@test.example\n'
	  cat "$BATS_TEST_TMPDIR/want"; } > "$BATS_TEST_TMPDIR/want2"
	cmp "$BATS_TEST_TMPDIR/want2" "$f"
}

@test "local: a failing queue program makes the forward fail temporarily" {
	export QPOST_QUEUE=/bin/false
	echo bob@test.example | dotqmail joe
	deliver s@x.example joe@test.example
	assert_failure 111
	assert_output --partial "local: fatal: unable to forward"
}

@test "local: a program sees qmail-local's environment and the message from its start" {
	printf '%s\n' '|env > prog.env; cat > prog.msg' | dotqmail joe
	deliver s@x.example joe-a-b-c@sub.test.example
	# sub.test.example is not local (route says remote): add it, again
	assert_failure 1
	echo sub.test.example >> "$QPOST_HOME/control/locals"
	printf '%s\n' '|env > prog.env; cat > prog.msg' | dotqmail joe default
	deliver s@x.example joe-a-b-c@sub.test.example
	assert_success
	assert_equal "$(lastline)" "local: did 0+0+1"
	cmp "$MSG" "$U/joe/prog.msg"
	e=$U/joe/prog.env
	grep -qx 'SENDER=s@x.example' "$e"
	grep -qx 'RECIPIENT=joe-a-b-c@sub.test.example' "$e"
	grep -qx 'USER=joe' "$e"
	grep -qx "HOME=$U/joe" "$e"
	grep -qx 'LOCAL=joe-a-b-c' "$e"
	grep -qx 'EXT=a-b-c' "$e"
	grep -qx 'EXT2=b-c' "$e"
	grep -qx 'EXT3=c' "$e"
	grep -qx 'EXT4=' "$e"
	grep -qx 'HOST=sub.test.example' "$e"
	grep -qx 'HOST2=sub.test' "$e"
	grep -qx 'HOST3=sub' "$e"
	grep -qx 'HOST4=sub' "$e"
	grep -qx 'DEFAULT=a-b-c' "$e"
	grep -qx 'DTLINE=Delivered-To: joe-a-b-c@sub.test.example' "$e"
	grep -qx 'RPLINE=Return-Path: <s@x.example>' "$e"
	grep -Eqx 'UFLINE=From s@x.example [A-Z][a-z]{2} .*[0-9]{4}' "$e"
	[ "$(id -u)" != 0 ] || [ "$(stat -c %u "$U/joe/prog.msg")" = "$RUID" ]
}

@test "local: program exit 99 stops with success, 100 bounces, 111 and others defer" {
	printf '%s\n' '|exit 99' ./Maildir/ | dotqmail joe
	deliver s@x.example joe@test.example
	assert_success
	assert_equal "$(count "$U/joe/Maildir/new")" 0
	printf '%s\n' '|exit 100' ./Maildir/ | dotqmail joe
	deliver s@x.example joe@test.example
	assert_failure 100
	assert_equal "$(lastline)" "local: fatal: program failed permanently (exit 100) (#5.2.0)"
	for c in 111 1 64; do
		printf '%s\n' "|echo going; exit $c" ./Maildir/ | dotqmail joe
		deliver s@x.example joe@test.example
		assert_failure 111
		assert_line --index 0 going
		assert_equal "$(lastline)" "local: fatal: program failed temporarily (exit $c): going (#4.2.0)"
		assert_line "local: info: program failed temporarily (exit $c): echo going; exit $c"
	done
	printf '%s\n' '|printf "no newline" >&2; exit 111' | dotqmail joe
	deliver s@x.example joe@test.example
	assert_failure 111
	assert_line --index 0 "no newline"
	assert_equal "$(lastline)" "local: fatal: program failed temporarily (exit 111): no newline (#4.2.0)"
	printf '%s\n' '|kill -9 $$' | dotqmail joe
	deliver s@x.example joe@test.example
	assert_failure 111
	assert_output --partial "program crashed"
	assert_equal "$(count "$U/joe/Maildir/new")" 0
	printf '%s\n' '|exit 0' ./Maildir/ | dotqmail joe
	deliver s@x.example joe@test.example
	assert_success
	assert_equal "$(lastline)" "local: did 1+0+1"
}

@test "local: a failing program's reason is its output and its (#x.y.z), never the command line (issue 15)" {
	# The token is only in the command line: the reason (the bounce)
	# must not show it; the info line for the log does.
	printf '%s\n' "|t=secret-token-xyz; echo 'ezmlm: fatal: see 4.2.1'; printf 'Sorry, no such list \\001(#5.1.1)\\n'; exit 100" |
	    dotqmail joe
	deliver s@x.example joe@test.example
	assert_failure 100
	assert_equal "$(lastline)" "local: fatal: program failed permanently (exit 100): ezmlm: fatal: see 4.2.1 / Sorry, no such list ?(#5.1.1)"
	assert_line "local: info: program failed permanently (exit 100): t=secret-token-xyz; echo 'ezmlm: fatal: see 4.2.1'; printf 'Sorry, no such list \\001(#5.1.1)\\n'; exit 100"
	# run by send, the info line names the message by its ID
	QPOST_MSGID=HOP87LW9KT.4242 deliver s@x.example joe@test.example
	assert_failure 100
	assert_line "local: info: msg HOP87LW9KT.4242: program failed permanently (exit 100): t=secret-token-xyz; echo 'ezmlm: fatal: see 4.2.1'; printf 'Sorry, no such list \\001(#5.1.1)\\n'; exit 100"
	# the class follows the exit code; only the last line's status counts
	printf '%s\n' "|echo 'over quota (#5.2.2)'; echo 'try later'; exit 111" | dotqmail joe
	deliver s@x.example joe@test.example
	assert_failure 111
	assert_equal "$(lastline)" "local: fatal: program failed temporarily (exit 111): over quota (#5.2.2) / try later (#4.2.0)"
	printf '%s\n' "|echo 'mailbox full (#5.2.2)'; exit 75" | dotqmail joe
	deliver s@x.example joe@test.example
	assert_failure 111
	assert_equal "$(lastline)" "local: fatal: program failed temporarily (exit 75): mailbox full (#5.2.2) (#4.2.2)"
	# a long output is cut to its last bytes
	printf '%s\n' "|yes 'chatter chatter' | head -n 500; echo 'the end (#5.7.1)'; exit 100" | dotqmail joe
	deliver s@x.example joe@test.example
	assert_failure 100
	last=$(lastline)
	[ "${#last}" -lt 500 ]
	assert_regex "$last" '^local: fatal: program failed permanently \(exit 100\): \.\.\..*chatter / the end \(#5\.7\.1\)$'
}

@test "local: our own Delivered-To: in the header is a loop (100); another one is not" {
	printf 'Delivered-To: JOE@test.example\nSubject: l\n\nx\n' > "$BATS_TEST_TMPDIR/loop"
	deliver s@x.example joe@test.example "$BATS_TEST_TMPDIR/loop"
	assert_failure 100
	assert_equal "$(lastline)" "local: fatal: This message is looping: it already has my Delivered-To line. (#5.4.6)"
	assert_equal "$(count "$U/joe/Maildir/new")" 0
	# in the body it is no loop, nor for somebody else
	printf 'Delivered-To: bob@test.example\n\nDelivered-To: joe@test.example\n' > "$BATS_TEST_TMPDIR/ok"
	deliver s@x.example joe@test.example "$BATS_TEST_TMPDIR/ok"
	assert_success
}

@test "route: unknown users fail permanently, foreign domains are remote" {
	deliver s@x.example nosuchuser@test.example
	assert_failure 100
	assert_equal "$(lastline)" "route: fatal: Sorry, no mailbox here by that name. (#5.1.1)"
	deliver s@x.example joe@elsewhere.example
	assert_failure 1
	assert_output --partial "not a local address"
	run "$L" onlyone
	assert_failure 111
}

@test "local: takes send's lookup from argv and looks nothing up itself" {
	# joe's users/assign line is gone: local still delivers as told
	: > "$QPOST_HOME/users/assign"
	finish_assign
	run "$L" joe "$RUID" "$RGID" "$U/joe" joe "" "" test.example s@x.example < "$MSG"
	assert_success
	grep -q '^Delivered-To: joe@test.example$' "$(one "$U/joe/Maildir")"
	# a result that does not hold together is temporary, never a bounce
	run "$L" joe "$RUID" "$RGID" relative joe "" "" test.example s < "$MSG"
	assert_failure 111
	run "$L" joe 4294967297 "$RGID" "$U/joe" joe "" "" test.example s < "$MSG"
	assert_failure 111
	assert_output --partial "bad uid or gid"
	run "$L" joe "$RUID" "$RGID" "$U/nohome" joe "" "" test.example s < "$MSG"
	assert_failure 111
}

@test "local: postmaster, root and mailer-daemon reach the alias Maildir out of the box" {
	for a in postmaster Root mailer-daemon; do
		deliver s@x.example "$a@test.example"
		assert_success
	done
	assert_equal "$(count "$QPOST_HOME/alias/Maildir/new")" 3
	grep -lq '^Delivered-To: root@test.example$' "$QPOST_HOME"/alias/Maildir/new/*
	# install-home keeps an alias file the admin changed
	echo '&joe@test.example' > "$QPOST_HOME/alias/.qmail-root"
	sh "$QPOST_SRC/scripts/install-home" "$QPOST_HOME" > /dev/null
	assert_equal "$(cat "$QPOST_HOME/alias/.qmail-root")" "&joe@test.example"
	deliver s@x.example abuse@test.example
	assert_failure 100
	echo ./Maildir/ > "$QPOST_HOME/alias/.qmail-abuse"
	deliver s@x.example abuse@test.example
	assert_success
}

@test "newu: users/assign = and + lines compiled and used, case-folded" {
	h=$U/carol
	mkdir -p "$h/box/tmp" "$h/box/new" "$h/box/cur"
	echo ./box/ > "$h/.qmail-list-default"
	[ "$(id -u)" = 0 ] && chown -R "$RUID:$RGID" "$h"
	sed -i '$d' "$QPOST_HOME/users/assign"
	printf '=info:carol:%s:%s:%s:-:list-info:\n+list-:carol:%s:%s:%s:-:list-:\n' \
	    "$RUID" "$RGID" "$h" "$RUID" "$RGID" "$h" >> "$QPOST_HOME/users/assign"
	finish_assign
	assert_equal "$(cdb -q "$QPOST_HOME/users/assign.cdb" '' )" "-"
	deliver s@x.example INFO@Test.Example
	assert_success
	deliver s@x.example list-news@test.example
	assert_success
	assert_equal "$(count "$h/box/new")" 2
	grep -l '^Delivered-To: list-news@test.example$' "$h"/box/new/* > /dev/null
	# nothing else was created: the old cdb is replaced atomically
	assert_equal "$(ls "$QPOST_HOME/users")" "$(printf 'assign\nassign.cdb')"
}

@test "newu: a bad line or a missing final dot fails (100) and keeps the old cdb" {
	cp "$QPOST_HOME/users/assign.cdb" "$BATS_TEST_TMPDIR/old.cdb"
	printf '=x:x:1:1:/h:::\n' > "$QPOST_HOME/users/assign"
	run "$QPOST_HOME/bin/newu"
	assert_failure 100
	assert_output --partial 'no final "." line'
	printf '=x:x:one:1:/h:::\n.\n' > "$QPOST_HOME/users/assign"
	run "$QPOST_HOME/bin/newu"
	assert_failure 100
	assert_output "newu: fatal: users/assign line 1: bad user, uid, gid or home"
	printf '=x:x:1:1:/h::\n.\n' > "$QPOST_HOME/users/assign"
	run "$QPOST_HOME/bin/newu"
	assert_failure 100
	cmp "$BATS_TEST_TMPDIR/old.cdb" "$QPOST_HOME/users/assign.cdb"
	[ ! -e "$QPOST_HOME/users/assign.cdb.tmp" ]
	deliver s@x.example joe@test.example
	assert_success
}

@test "local: virtualdomains maps a domain to a user's extensions" {
	printf '%s\n' 'virt.example:joe' '.sub.example:bob' 'skip.sub.example:' \
	    > "$QPOST_HOME/control/virtualdomains"
	echo ./Maildir/ | dotqmail joe default
	deliver s@x.example Anna@virt.example
	assert_success
	f=$(one "$U/joe/Maildir")
	grep -q '^Delivered-To: joe-anna@virt.example$' "$f"
	echo ./Maildir/ | dotqmail bob default
	deliver s@x.example x@a.sub.example
	assert_success
	one "$U/bob/Maildir" > /dev/null
	deliver s@x.example x@skip.sub.example
	assert_failure 1
	assert_output --partial "not a local address"
}

@test "local: an unwritable Maildir is a temporary failure with nothing in new/" {
	[ "$(id -u)" = 0 ] && [ "$RUID" = 0 ] && skip "needs a non-root recipient"
	chmod 500 "$U/joe/Maildir/tmp"
	deliver s@x.example joe@test.example
	assert_failure 111
	assert_output --partial "unable to create"
	assert_equal "$(count "$U/joe/Maildir/new")" 0
	chmod 700 "$U/joe/Maildir/tmp"
	rm -rf "$U/joe/Maildir"
	deliver s@x.example joe@test.example
	assert_failure 111
}

@test "local: a full disk is a temporary failure; nothing in new/, the mbox as it was" {
	[ "$(id -u)" = 0 ] || skip "mounting a small tmpfs needs root"
	D=$BATS_TEST_TMPDIR/full
	mkdir "$D"
	mount -t tmpfs -o size=64k,mode=755 qpost-test "$D" ||
	    skip "cannot mount a tmpfs here"
	echo "$D" > "$BATS_TEST_TMPDIR/mounted"
	mkdir -p "$D/Maildir/tmp" "$D/Maildir/new" "$D/Maildir/cur"
	printf 'From old\n\nold mail\n\n' > "$D/mbox"
	chown -R "$RUID:$RGID" "$D"
	cp "$D/mbox" "$BATS_TEST_TMPDIR/mbox.before"
	{ printf 'Subject: big\n\n'; head -c 200000 /dev/zero | tr '\0' x | fold -w 70; } > "$BATS_TEST_TMPDIR/big"
	printf '%s\n' "$D/Maildir/" | dotqmail joe
	deliver s@x.example joe@test.example "$BATS_TEST_TMPDIR/big"
	assert_failure 111
	assert_output --partial "disk full"
	assert_equal "$(count "$D/Maildir/new")" 0
	assert_equal "$(count "$D/Maildir/tmp")" 0
	printf '%s\n' "$D/mbox" | dotqmail joe
	deliver s@x.example joe@test.example "$BATS_TEST_TMPDIR/big"
	assert_failure 111
	cmp "$BATS_TEST_TMPDIR/mbox.before" "$D/mbox"
	[ ! -e "$D/mbox.lock" ]
	# and a small message still fits
	deliver s@x.example joe@test.example
	assert_success
}

@test "local: as root, the delivery lands with the recipient's ownership" {
	[ "$(id -u)" = 0 ] || skip "needs root to create a user and change uid"
	command -v useradd > /dev/null || skip "no useradd"
	sysuser qpt
	useradd -M -d "$B/$N" -s /bin/sh "$N"
	mkdir -m 700 "$B/$N"
	chown "$N:" "$B/$N"
	deliver s@x.example "$N@test.example"
	# a system account without a Maildir: the default delivery, deferred
	assert_failure 111
	mkdir -p "$B/$N/Maildir/tmp" "$B/$N/Maildir/new" "$B/$N/Maildir/cur"
	chown -R "$N:" "$B/$N"
	deliver s@x.example "$(echo "$N" | tr a-z A-Z)@test.example"
	assert_success
	f=$(one "$B/$N/Maildir")
	assert_equal "$(stat -c '%U %a' "$f")" "$N 600"
	printf '%s\n' '|id -u > uid; id -g > gid' | dotqmail_at "$B/$N"
	deliver s@x.example "$N@test.example"
	assert_success
	assert_equal "$(cat "$B/$N/uid")" "$(id -u "$N")"
	assert_equal "$(cat "$B/$N/gid")" "$(id -g "$N")"
	assert_equal "$(stat -c %U "$B/$N/uid")" "$N"
}

dotqmail_at() {
	cat > "$1/.qmail"
	chmod 644 "$1/.qmail"
}

@test "local: as root, a uid 0 recipient is refused" {
	[ "$(id -u)" = 0 ] || skip "needs root"
	printf '=toor:root:0:0:%s:::\n.\n' "$U/joe" > "$QPOST_HOME/users/assign"
	"$QPOST_HOME/bin/newu"
	deliver s@x.example toor@test.example
	assert_failure 111
	assert_equal "$(lastline)" "local: fatal: not allowed to deliver as root (#4.3.0)"
	assert_equal "$(count "$U/joe/Maildir/new")" 0
}

@test "smtpd: an unknown local recipient is refused at RCPT, a known one accepted" {
	[ -x "$QPOST_HOME/bin/smtpd" ] || skip "smtpd not built"
	load smtpd-lib
	smtpd_start
	run raw 'HELO x\r\nMAIL FROM:<s@x.example>\r\nRCPT TO:<nosuchuser@test.example>\r\nRCPT TO:<joe@test.example>\r\nRCPT TO:<joe-nope@test.example>\r\nRCPT TO:<postmaster@test.example>\r\nQUIT\r\n'
	assert_success
	assert_equal "$(codes)" "220 250 250 550 250 550 250 221"
	echo 0 > "$QPOST_HOME/control/rejectunknown"
	run raw 'HELO x\r\nMAIL FROM:<s@x.example>\r\nRCPT TO:<nosuchuser@test.example>\r\nQUIT\r\n'
	assert_equal "$(codes)" "220 250 250 250 221"
}

@test "local: as root in a single-user home, a root-owned alias/ still gets postmaster's mail" {
	[ "$(id -u)" = 0 ] || skip "needs root"
	# the home make install QPOST_HOME=DIR leaves when root runs it
	chown -R 0:0 "$QPOST_HOME/alias"
	deliver s@x.example postmaster@test.example
	assert_success
	f=$(one "$QPOST_HOME/alias/Maildir")
	grep -q '^Delivered-To: postmaster@test.example$' "$f"
	assert_equal "$(stat -c %u "$f")" 0
	# any other uid-0 recipient is still refused
	printf '=toor:root:0:0:%s:::\n.\n' "$U/joe" > "$QPOST_HOME/users/assign"
	"$QPOST_HOME/bin/newu"
	deliver s@x.example toor@test.example
	assert_failure 111
}

@test "newu and route: uids and gids that do not fit are refused, never cut down to another id" {
	# newu: 4294967297 would be uid 1, 4294967296 gid 0
	printf '=big:big:4294967297:%s:%s:::\n.\n' "$RGID" "$U/joe" > "$QPOST_HOME/users/assign"
	run "$QPOST_HOME/bin/newu"
	assert_failure 100
	assert_output --partial "bad user, uid, gid or home"
	printf '=big:big:%s:4294967296:%s:::\n.\n' "$RUID" "$U/joe" > "$QPOST_HOME/users/assign"
	run "$QPOST_HOME/bin/newu"
	assert_failure 100
	# a cdb made elsewhere (qmail-newu's layout, by tinycdb's cdb -c):
	# every reader refuses it, temporarily
	command -v cdb >/dev/null || skip "no cdb tool"
	for ids in "4294967297:$RGID" "$RUID:4294967296"; do
		v=$(printf 'big\0%s\0%s\0%s\0\0\0' "${ids%%:*}" "${ids#*:}" "$U/joe" | wc -c)
		{ printf '+5,%s:!big\0->' "$v"
		  printf 'big\0%s\0%s\0%s\0\0\0' "${ids%%:*}" "${ids#*:}" "$U/joe"
		  printf '\n+0,0:->\n\n'; } > "$BATS_TEST_TMPDIR/in"
		rm -f "$QPOST_HOME/users/assign.cdb"
		cdb -c "$QPOST_HOME/users/assign.cdb" < "$BATS_TEST_TMPDIR/in"
		deliver s@x.example big@test.example
		assert_failure 111
		[ -z "$(ls "$U/joe/Maildir/new")" ]
	done
}

@test "local: as root, gid 0 is never delivered with" {
	[ "$(id -u)" = 0 ] || skip "needs root"
	run "$L" joe "$RUID" 0 "$U/joe" joe "" "" test.example s@x.example < "$MSG"
	assert_failure 111
	assert_output --partial "not allowed to deliver as root"
	[ -z "$(ls "$U/joe/Maildir/new")" ]
}
