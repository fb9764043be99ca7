#!/usr/bin/env bats
# smtpd: the SMTP protocol and relay control, against the real tcpserver
# with the top-level rules file compiled by the real tcprules, and real
# clients (swaks, python3's smtplib, raw sockets for exact bytes).

load helper
load smtpd-lib

setup() { smtpd_setup; }
teardown() {
	[ -z "${NSSUSER:-}" ] || rm -f "/run/userdb/$NSSUSER.user"
	if [ -f "$BATS_TEST_TMPDIR/sysuser" ]; then
		read -r n b < "$BATS_TEST_TMPDIR/sysuser"
		userdel "$n" || true
		rm -rf "$b"
	fi
	qpost_teardown
}

@test "swaks: a message is queued with a Received line, LF line ends and its envelope" {
	run swaks -s 127.0.0.1 -p "$PORT" --helo client.example \
	    -f sender@remote.example -t user@test.example \
	    --header 'Subject: hello' --body 'line one
line two'
	assert_success
	assert_output --regexp '<-  250 2\.0\.0 ok: queued as [0-9A-Z]{10}\.[0-9]+'
	[ "$(queue_count)" = 1 ]
	run qenv
	assert_output 'Fsender@remote.example|Tuser@test.example||'
	run qmsg
	assert_line --index 1 --regexp '^Received: from client\.example \(unknown \[127\.0\.0\.1\]\)$'
	assert_line --index 2 --regexp '^	by test\.example \(qpost smtpd\) with ESMTP; [A-Z][a-z][a-z], [0-9]+ [A-Z][a-z][a-z] 20[0-9][0-9] [0-9:]{8} [-+][0-9]{4}$'
	assert_line 'Subject: hello'
	assert_line 'line two'
	# CRLF became LF: no CR anywhere in the stored message
	[ "$(qmsg | tr -d -c '\r' | wc -c)" = 0 ]
	# one log line for the message, one per connection end
	run cat "$LOG"
	assert_line --regexp '^smtpd: msg ip 127\.0\.0\.1 helo client\.example from <sender@remote\.example> to <user@test\.example> size [0-9]+ queued as [0-9A-Z]{10}\.[0-9]+$'
	assert_line --regexp '^smtpd: end ip 127\.0\.0\.1 helo client\.example msgs 1 quit$'
}

@test "smtplib: EHLO advertises PIPELINING SIZE 8BITMIME ENHANCEDSTATUSCODES; HELO, NOOP, RSET, HELP, VRFY" {
	echo 5000000 > "$QPOST_HOME/control/databytes"
	run "$PY" - "$PORT" <<'EOF'
import smtplib, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=10)
code, msg = s.ehlo('c.example')
print(code, msg.decode().replace('\n', ' '))
for f in ('pipelining', 'size', '8bitmime', 'enhancedstatuscodes'):
    print(f, s.has_extn(f))
print('size', s.esmtp_features['size'])
print('helo', s.helo('c.example')[0])
print('noop', s.noop())
print('rset', s.rset())
print('help', s.docmd('HELP'))
print('vrfy', s.docmd('VRFY', 'user'))
print('quit', s.quit()[0])
EOF
	assert_success
	assert_line --regexp '^250 test\.example PIPELINING SIZE 5000000 8BITMIME ENHANCEDSTATUSCODES$'
	assert_line 'pipelining True'
	assert_line 'size 5000000'
	assert_line '8bitmime True'
	assert_line 'enhancedstatuscodes True'
	assert_line 'helo 250'
	assert_line "noop (250, b'2.0.0 ok')"
	assert_line "rset (250, b'2.0.0 ok')"
	assert_line --regexp "^help \(214, b'2\.0\.0 "
	assert_line --regexp "^vrfy \(252, b'2\.5\.2 "
	assert_line 'quit 221'
}

@test "greeting names control/me, or control/smtpgreeting" {
	run raw 'QUIT\r\n'
	assert_line --index 0 '220 test.example ESMTP'
	echo 'mx.greeting.example hello' > "$QPOST_HOME/control/smtpgreeting"
	run raw 'QUIT\r\n'
	assert_line --index 0 '220 mx.greeting.example hello ESMTP'
	assert_line --index 1 '221 2.0.0 test.example closing connection'
}

@test "commands are case-insensitive; sequence 503, syntax 501, unknown 500, unimplemented 502" {
	run raw 'mail from:<a@b.example>\r\nehlo c.example\r\nrcpt to:<u@test.example>\r\ndata\r\nMaIl FrOm:<a@b.example>\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:u@test.example\r\nrset\r\nMAIL FROM:<\r\nEHLO\r\nWHAT\r\nEXPN list\r\nDATA x\r\nQUIT\r\n'
	assert_success
	[ "$(codes)" = "220 503 250 503 503 250 503 501 250 501 501 500 502 501 221" ]
	assert_line --regexp '^503 5\.5\.1 '
	assert_line --regexp '^501 5\.[15]\.[0-9] '
	assert_line --regexp '^500 5\.5\.1 '
	assert_line --regexp '^502 5\.5\.1 '
}

@test "PIPELINING: a whole transaction in one write gets every reply in order" {
	run raw 'EHLO c.example\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<u1@test.example>\r\nRCPT TO:<u2@nowhere.example>\r\nRCPT TO:<u3@test.example>\r\nDATA\r\nSubject: p\r\n\r\nbody\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<u4@test.example>\r\nDATA\r\nbody2\r\n.\r\nQUIT\r\n' 127.0.0.2
	assert_success
	[ "$(codes)" = "220 250 250 250 553 250 354 250 250 250 354 250 221" ]
	[ "$(ls "$QPOST_HOME/queue/new" | wc -l)" = 2 ]
}

@test "the null sender and <postmaster> without a domain are accepted" {
	run raw 'EHLO c.example\r\nMAIL FROM:<>\r\nRCPT TO:<postmaster>\r\nRCPT TO:<PostMaster>\r\nDATA\r\nbounce\r\n.\r\nQUIT\r\n' 127.0.0.2
	[ "$(codes)" = "220 250 250 250 250 354 250 221" ]
	run qenv
	assert_output 'F|Tpostmaster@test.example|Tpostmaster@test.example||'
}

@test "dot-unstuffing and 8-bit bytes: the queued body is exactly what was meant" {
	run raw 'EHLO c.example\r\nMAIL FROM:<a@b.example> BODY=8BITMIME\r\nRCPT TO:<u@test.example>\r\nDATA\r\nSubject: dots\r\n\r\n..leading dot\r\n...two\r\n.\xe9t\xe9\r\nmid . dot\r\n.\r\nQUIT\r\n'
	[ "$(codes)" = "220 250 250 250 354 250 221" ]
	qmsg | tail -n +4 > "$BATS_TEST_TMPDIR/got"
	printf 'Subject: dots\n\n.leading dot\n..two\n\351t\351\nmid . dot\n' > "$BATS_TEST_TMPDIR/want"
	cmp "$BATS_TEST_TMPDIR/got" "$BATS_TEST_TMPDIR/want"
}

@test "MAIL SIZE= over databytes gets 552; unknown MAIL and RCPT parameters get 555" {
	echo 1000 > "$QPOST_HOME/control/databytes"
	run raw 'EHLO c.example\r\nMAIL FROM:<a@b.example> SIZE=1001\r\nMAIL FROM:<a@b.example> SIZE=99999999999999999999\r\nMAIL FROM:<a@b.example> FOO=bar\r\nMAIL FROM:<a@b.example> SIZE=1000 BODY=7BIT\r\nRCPT TO:<u@test.example> NOTIFY=NEVER\r\nRCPT TO:<u@test.example>\r\nQUIT\r\n'
	[ "$(codes)" = "220 250 552 552 555 250 555 250 221" ]
	assert_line --regexp '^552 5\.3\.4 '
	assert_line --regexp '^555 5\.5\.4 '
}

@test "address literals parse; a literal is not one of our domains" {
	run raw 'EHLO c.example\r\nMAIL FROM:<a@[192.0.2.1]>\r\nRCPT TO:<u@[127.0.0.1]>\r\nRCPT TO:<u@[IPv6:2001:db8::1]>\r\nRCPT TO:<u@[999.1.1.1]>\r\nRSET\r\nMAIL FROM:<a@[IPv6:::1]>\r\nQUIT\r\n' 127.0.0.2
	[ "$(codes)" = "220 250 250 553 553 501 250 250 221" ]
	# a relay client may send to a literal
	run raw 'EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<u@[192.0.2.7]>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n'
	[ "$(codes)" = "220 250 250 250 354 250 221" ]
	run qenv
	assert_output 'Fa@b.example|Tu@[192.0.2.7]||'
}

@test "the queue program's exit code becomes the reply: 451 temporary, 554 permanent" {
	printf '#!/bin/sh\ncat >/dev/null; exit 71\n' > "$BATS_TEST_TMPDIR/q71"
	printf '#!/bin/sh\ncat >/dev/null; exit 31\n' > "$BATS_TEST_TMPDIR/q31"
	chmod +x "$BATS_TEST_TMPDIR/q71" "$BATS_TEST_TMPDIR/q31"
	export QPOST_QUEUE=$BATS_TEST_TMPDIR/q71
	smtpd_start
	run raw 'EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<u@test.example>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n'
	assert_line '451 4.3.0 mail server temporarily rejected message'
	export QPOST_QUEUE=$BATS_TEST_TMPDIR/q31
	smtpd_start
	run raw 'EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<u@test.example>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n'
	assert_line '554 5.3.0 mail server permanently rejected message'
	[ "$(queue_count)" = 0 ]
}

@test "the queue program cannot be started (no descriptor left for its pipes): 354, the message is read and dropped, 451 after it, the session goes on" {
	# smtpd answers 354 before it starts the queue program, so a failed
	# start is told after the data; the body is never read as commands
	RELAYCLIENT= TCPREMOTEIP=127.0.0.1 run bash -c 'exec 3>&-; ulimit -n 5; exec "$0"' \
	    "$QPOST_HOME/bin/smtpd" < <(printf 'HELO c\r\nMAIL FROM:<a@test.example>\r\nRCPT TO:<b@test.example>\r\nDATA\r\nSubject: x\r\n\r\nQUIT\r\n.\r\nMAIL FROM:<a@test.example>\r\nQUIT\r\n')
	[ "$(codes)" = "220 250 250 250 354 451 250 221" ]
	assert_line --regexp '^451 4\.3\.0 unable to start the queue program'
	assert_line --partial 'smtpd: warning: unable to start the queue program: '
	assert_line --regexp '^smtpd: refused ip 127\.0\.0\.1 helo c from <a@test\.example> to <b@test\.example> size [0-9]+: 451 4\.3\.0 unable to start the queue program$'
	[ "$(queue_count)" = 0 ]
}

@test "a qmail-queue filter in front that keeps the ID to itself: 250 ok: queued (qp PID), logged queued qp PID" {
	# the filter runs the real queue without $QPOST_IDFD (and closes the
	# descriptor), as an old qmail-queue filter would
	printf '#!/bin/sh\nfd=$QPOST_IDFD; unset QPOST_IDFD; eval "exec $fd>&-"; exec "%s"\n' \
	    "$QPOST_HOME/bin/queue" > "$BATS_TEST_TMPDIR/filter"
	chmod +x "$BATS_TEST_TMPDIR/filter"
	export QPOST_QUEUE=$BATS_TEST_TMPDIR/filter
	smtpd_start
	run raw 'EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<u@test.example>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n'
	assert_line --regexp '^250 2\.0\.0 ok: queued \(qp [0-9]+\)$'
	[ "$(queue_count)" = 1 ]
	run cat "$LOG"
	assert_line --regexp '^smtpd: msg ip 127\.0\.0\.1 helo c\.example from <a@b\.example> to <u@test\.example> size [0-9]+ queued qp [0-9]+$'
}

@test "relay: 127.0.0.1 (RELAYCLIENT in rules) may relay; 127.0.0.2 may not, but reaches rcpthosts" {
	run swaks -s 127.0.0.1 -p "$PORT" -f a@b.example -t x@foreign.example
	assert_success
	[ "$(queue_count)" = 1 ]
	run qenv
	assert_output 'Fa@b.example|Tx@foreign.example||'
	run swaks -s 127.0.0.1 -p "$PORT" --local-interface 127.0.0.2 \
	    -f a@b.example -t x@foreign.example
	assert_failure
	assert_output --partial '<** 553 5.7.1 relaying denied'
	run swaks -s 127.0.0.1 -p "$PORT" --local-interface 127.0.0.2 \
	    -f a@b.example -t x@test.example
	assert_success
	[ "$(queue_count)" = 2 ]
	run cat "$LOG"
	assert_line 'smtpd: start ip 127.0.0.1 host unknown relayclient'
	assert_line 'smtpd: start ip 127.0.0.2 host unknown'
}

@test "relay: RELAYCLIENT's value is appended to each recipient, as in qmail" {
	printf '127.0.0.1:allow,RELAYCLIENT="-r"\n:allow\n' > "$BATS_TEST_TMPDIR/rules"
	RULES=$BATS_TEST_TMPDIR/rules smtpd_start
	run raw 'EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@foreign.example>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n'
	[ "$(codes)" = "220 250 250 250 354 250 221" ]
	run qenv
	assert_output 'Fa@b.example|Tx@foreign.example-r||'
}

@test "rcpthosts: .domain means every subdomain; morercpthosts.cdb holds long lists" {
	printf 'test.example\n.sub.example\n' > "$QPOST_HOME/control/rcpthosts"
	printf '+11,0:big.example->\n+13,0:.deep.example->\n\n' |
	    cdb -c "$QPOST_HOME/control/morercpthosts.cdb"
	run raw 'EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<u@a.sub.example>\r\nRCPT TO:<u@b.c.SUB.example>\r\nRCPT TO:<u@sub.example>\r\nRCPT TO:<u@big.example>\r\nRCPT TO:<u@BIG.Example>\r\nRCPT TO:<u@x.big.example>\r\nRCPT TO:<u@x.deep.example>\r\nRCPT TO:<u@deep.example>\r\nQUIT\r\n' 127.0.0.2
	[ "$(codes)" = "220 250 250 250 250 553 250 250 553 250 553 221" ]
}

@test "open-relay tricks never relay from a client without RELAYCLIENT" {
	# Each recipient is refused, or accepted only as a local address
	# of test.example (never with a foreign domain after the last @).
	run raw 'EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<user%foreign.example@test.example>\r\nRCPT TO:<"user@foreign.example"@test.example>\r\nRCPT TO:<user@foreign.example@test.example>\r\nRCPT TO:<@test.example:user@foreign.example>\r\nRCPT TO:<@test.example,@localhost:user@foreign.example>\r\nRCPT TO:<foreign.example!user@test.example>\r\nRCPT TO:<user@[192.0.2.1]>\r\nRCPT TO:<user@[127.0.0.1]>\r\nRCPT TO:<user@foreign.example.>\r\nRCPT TO:<user@test.example.>\r\nRCPT TO:<user@FOREIGN.example>\r\nRCPT TO:<user@TEST.EXAMPLE>\r\nRCPT TO:<user@eviltest.example>\r\nRCPT TO:<user@foreign.example.test.example>\r\nRCPT TO:<user@test.example@foreign.example>\r\nRCPT TO:<user@foreign.example\x00@test.example>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n' 127.0.0.2
	[ "$(codes)" = "220 250 250 250 553 501 553 553 250 553 553 501 501 553 250 553 553 501 500 354 250 221" ]
	run qenv
	assert_output 'Fa@b.example|Tuser%foreign.example@test.example|Tforeign.example!user@test.example|Tuser@test.example||'
}

@test "IPv6: tcpserver on ::1 with the rules' ::1 entry may relay" {
	"$PY" -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0))' ||
	    skip "no IPv6 loopback"
	smtpd_start ::1
	RAWHOST=::1 run raw 'EHLO v6.example\r\nMAIL FROM:<a@[IPv6:::1]>\r\nRCPT TO:<x@foreign.example>\r\nDATA\r\nsix\r\n.\r\nQUIT\r\n'
	[ "$(codes)" = "220 250 250 250 354 250 221" ]
	run qmsg
	assert_line --index 1 'Received: from v6.example (unknown [::1])'
	run "$PY" -c 'import smtplib, sys
s = smtplib.SMTP("::1", int(sys.argv[1]), timeout=10)
print(s.sendmail("a@b.example", ["y@foreign.example"], "Subject: v6\r\n\r\nhi\r\n"))
s.quit()' "$PORT"
	assert_success
	assert_output '{}'
	[ "$(queue_count)" = 2 ]
}

@test "unknown local recipients: 550 5.1.1, unless control/rejectunknown is 0; lookup failure 451" {
	rm "$QPOST_HOME/alias/.qmail-default"
	echo ./Maildir/ > "$QPOST_HOME/alias/.qmail-known"
	run raw 'EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<known@test.example>\r\nRCPT TO:<nosuch@test.example>\r\nRCPT TO:<postmaster@TEST.example>\r\nRCPT TO:<nosuch@foreign.example>\r\nQUIT\r\n' 127.0.0.2
	[ "$(codes)" = "220 250 250 250 550 250 553 221" ]
	assert_line '550 5.1.1 no such user here'
	echo 0 > "$QPOST_HOME/control/rejectunknown"
	run raw 'EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<nosuch@test.example>\r\nQUIT\r\n' 127.0.0.2
	[ "$(codes)" = "220 250 250 250 221" ]
	# control/locals unreadable: a temporary failure, never a 5xx
	rm "$QPOST_HOME/control/locals"
	mkdir "$QPOST_HOME/control/locals"
	run raw 'EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<known@test.example>\r\nQUIT\r\n' 127.0.0.2
	[ "$(codes)" = "220 250 250 451 221" ]
	assert_line --regexp '^451 4\.3\.0 '
}

# nss_user - a user known only through an NSS source beyond the files:
# a systemd userdb drop-in record, which glibc's libnss_systemd reads;
# sets NSSUSER, its home owned by it.  Skips where that cannot be shown.
nss_user() {
	[ "$(id -u)" = 0 ] || skip "a userdb record needs root"
	grep -Eq '^passwd:.*[[:space:]]systemd' /etc/nsswitch.conf ||
	    skip "libnss-systemd not in nsswitch.conf"
	NSSUSER=qpnss$$
	local uid=$((61000 + $$ % 100))
	mkdir -p /run/userdb "$BATS_TEST_TMPDIR/nsshome"
	chmod 755 "$BATS_TEST_TMPDIR"
	printf '{"userName":"%s","uid":%d,"gid":%d,"homeDirectory":"%s"}\n' \
	    "$NSSUSER" "$uid" "$uid" "$BATS_TEST_TMPDIR/nsshome" \
	    > "/run/userdb/$NSSUSER.user"
	chown "$uid:$uid" "$BATS_TEST_TMPDIR/nsshome"
	getent passwd "$NSSUSER" >/dev/null || skip "libnss_systemd does not read /run/userdb"
	! grep -q "^$NSSUSER:" /etc/passwd
}

@test "a system account in /etc/passwd: 250 when its home is its own (user, user-ext with a .qmail-ext), 550 otherwise (needs root and useradd)" {
	[ "$(id -u)" = 0 ] || skip "needs root to create a user"
	command -v useradd > /dev/null || skip "no useradd"
	rm "$QPOST_HOME/alias/.qmail-default"
	N=qps$$
	B=$(mktemp -d /tmp/qpost-home.XXXXXX)
	echo "$N $B" > "$BATS_TEST_TMPDIR/sysuser"
	useradd -M -d "$B/$N" -s /bin/sh "$N"
	mkdir -m 700 "$B/$N"
	# smtpd reads /etc/passwd itself on the musl build (recip_pwfind):
	# the account is found there, whatever the line's place in the file
	grep -q "^$N:" /etc/passwd
	# a home it does not own: not a recipient (and no alias takes it)
	run raw "EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<$N@test.example>\r\nQUIT\r\n" 127.0.0.2
	[ "$(codes)" = "220 250 250 550 221" ]
	chown "$N:" "$B/$N"
	echo ./Maildir/ > "$B/$N/.qmail-ext"
	# route (glibc NSS, asked before a 550) says no to everything here:
	# the 250s are smtpd's own reading of /etc/passwd
	printf '#!/bin/sh\necho "$1" >> "%s"\nexit 100\n' "$BATS_TEST_TMPDIR/route.asked" \
	    > "$QPOST_HOME/bin/route"
	run raw "EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<$N@test.example>\r\nRCPT TO:<$(echo "$N" | tr a-z A-Z)-ext@test.example>\r\nRCPT TO:<$N-other@test.example>\r\nRCPT TO:<${N}x@test.example>\r\nQUIT\r\n" 127.0.0.2
	[ "$(codes)" = "220 250 250 250 250 550 550 221" ]
	! grep -qi "^$N\(-ext\)\?@" "$BATS_TEST_TMPDIR/route.asked" 2>/dev/null
}

@test "rejectunknown: smtpd (musl, /etc/passwd only) asks bin/route (glibc NSS) before a 550: a userdb-only user gets 250, and 451 when route cannot run" {
	! readelf -l "$QPOST_HOME/bin/smtpd" | grep -q INTERP ||
	    skip "smtpd is not the static musl build"
	nss_user
	rm "$QPOST_HOME/alias/.qmail-default"
	touch "$BATS_TEST_TMPDIR/nsshome/.qmail-ext"
	run raw "EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<$NSSUSER@test.example>\r\nRCPT TO:<$NSSUSER-ext@test.example>\r\nRCPT TO:<nosuch@test.example>\r\nQUIT\r\n" 127.0.0.2
	rm -f "/run/userdb/$NSSUSER.user"
	[ "$(codes)" = "220 250 250 250 250 550 221" ]
	# the second opinion is route's: without it, a temporary failure
	# for the user musl cannot see, never a 550
	nss_user
	chmod 0 "$QPOST_HOME/bin/route"
	run raw "EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<$NSSUSER@test.example>\r\nQUIT\r\n" 127.0.0.2
	rm -f "/run/userdb/$NSSUSER.user"
	[ "$(codes)" = "220 250 250 451 221" ]
	grep -q "unable to run the recipient lookup .*bin/route" "$LOG"
	grep -q "unable to look up $NSSUSER@test.example" "$LOG"
	# and route's "no mailbox" is not logged as an error
	! grep -q 'route: fatal: Sorry' "$LOG"
}

@test "swaks --pipe (smtpd's SIGCHLD ignored by its parent): 250 and exactly one copy queued (regression: 451 qq internal bug after queueing)" {
	RELAYCLIENT= TCPREMOTEIP=127.0.0.1 run swaks --pipe "$QPOST_HOME/bin/smtpd" \
	    -f a@test.example -t b@test.example --header 'Subject: pipe'
	assert_success
	assert_output --regexp '<-  250 2\.0\.0 ok: queued as [0-9A-Z]{10}\.[0-9]+'
	# no 451 reply (a queue ID's inode may hold the digits 451)
	refute_output --regexp '<- +451 '
	[ "$(queue_count)" = 1 ]
	# and the same with a plain parent that ignores SIGCHLD
	run perl -e '$SIG{CHLD} = "IGNORE"; exec @ARGV' "$QPOST_HOME/bin/smtpd" \
	    < <(printf 'HELO c\r\nMAIL FROM:<a@test.example>\r\nRCPT TO:<b@test.example>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n')
	assert_line --regexp '^250 2\.0\.0 ok: queued as [0-9A-Z]{10}\.[0-9]+'
	[ "$(queue_count)" = 2 ]
}
