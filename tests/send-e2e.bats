#!/usr/bin/env bats
# End to end with send running for real: mail through tcpserver + smtpd
# and through inject, via queue and send, into the alias user's Maildir.

load helper
load smtpd-lib

setup() {
	qpost_setup
	A=$QPOST_HOME/alias
	echo ./Maildir/ > "$A/.qmail-default"
	if [ "$(id -u)" = 0 ]; then
		# local will not deliver as root: the alias user is nobody
		chmod o+x "$BATS_RUN_TMPDIR"
		chown -R nobody:nogroup "$A"
		[ -z "${QPOST_SANITIZE:-}" ] || chmod 1777 "$BATS_TEST_TMPDIR/san"
	fi
	SLOG=$BATS_TEST_TMPDIR/send.log
	spawn "$QPOST_HOME/bin/send" 2>>"$SLOG"
	smtpd_start
}
teardown() { qpost_teardown; }

queue_empty() { [ "$(queue_count)" -eq 0 ]; }
delivered() { [ "$(find "$A/Maildir/new" -type f | wc -l)" -ge "$1" ]; }

@test "SMTP: tcpserver + smtpd + queue + send + local deliver the exact bytes" {
	run "$PY" - "$PORT" "$BATS_TEST_TMPDIR/sent" <<'EOF'
import smtplib, sys
msg = (b"From: a@remote.example\r\nTo: joe@test.example\r\n"
       b"Subject: e2e\r\n\r\nfirst\r\n.leading dot\r\n..two dots\r\n"
       b"8bit \xc3\xa9\xff\r\n \r\nlast\r\n")
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=10)
s.sendmail('a@remote.example', ['joe@test.example'], msg)
s.quit()
open(sys.argv[2], 'wb').write(msg.replace(b"\r\n", b"\n"))
print('sent')
EOF
	assert_output sent
	wait_for 10 delivered 1
	wait_for 10 queue_empty
	f=$(find "$A/Maildir/new" -type f)
	n=$(stat -c %s "$BATS_TEST_TMPDIR/sent")
	tail -c "$n" "$f" | cmp - "$BATS_TEST_TMPDIR/sent"
	run head -n 4 "$f"
	assert_line -n 0 'Return-Path: <a@remote.example>'
	assert_line -n 1 'Delivered-To: joe@test.example'
	assert_line -n 2 --regexp '^Received: \(qpost [0-9]+ invoked from network\); '
	assert_line -n 3 --regexp '^Received: from '
	grep -q 'new msg [0-9A-Z.]* from <a@remote.example>' "$SLOG"
	grep -q 'success: msg [0-9A-Z.]* to [a-z]* <joe@test.example>' "$SLOG"
}

@test "SMTP: the ID in smtpd's 250 reply is the ID in smtpd's line and in send's new msg, delivery and end msg lines" {
	run "$PY" - "$PORT" <<'EOF'
import smtplib, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=10)
s.ehlo('c.example')
s.mail('a@remote.example')
s.rcpt('joe@test.example')
code, resp = s.data(b"Message-ID: <e2e.1@remote.example>\r\n"
                    b"Subject: ids\r\n\r\nbody\r\n")
s.quit()
print(code, resp.decode())
EOF
	assert_success
	assert_output --regexp '^250 2\.0\.0 ok: queued as [0-9A-Z]{10}\.[0-9]+$'
	id=${output##* }
	wait_for 10 delivered 1
	wait_for 10 queue_empty
	wait_for 10 grep -q "end msg $id\$" "$SLOG"
	grep -q "queued as $id\$" "$LOG"
	grep -q "send: new msg $id from <a@remote.example> size [0-9]* rcpts 1 message-id <e2e.1@remote.example>\$" "$SLOG"
	grep -q "send: starting delivery [0-9]*: msg $id to local <joe@test.example>\$" "$SLOG"
	grep -q "send: delivery [0-9]*: success: msg $id to local <joe@test.example> delay [0-9]*\.[0-9]: " "$SLOG"
	# one ID for the message, in every line about it
	run sh -c "grep -o 'msg [0-9A-Z.]*' '$SLOG' | sort -u"
	assert_output "msg $id"
}

@test "SMTP: 40 messages over 5 sessions all arrive once, the queue empties" {
	run smtp-source -s 5 -m 40 -l 2000 -f a@remote.example \
	    -t joe@test.example "127.0.0.1:$PORT"
	assert_success
	wait_for 30 delivered 40
	wait_for 10 queue_empty
	run sh -c "find '$A/Maildir/new' -type f | wc -l"
	assert_output 40
	run grep -c 'end msg' "$SLOG"
	assert_output 40
}

@test "inject: a local user's message reaches the Maildir through send" {
	printf 'To: joe@test.example\nSubject: injected\n\nhello from inject\n' |
	    QPOST_USER=alice "$QPOST_HOME/bin/inject" -t
	wait_for 10 delivered 1
	wait_for 10 queue_empty
	f=$(find "$A/Maildir/new" -type f)
	grep -q '^Return-Path: <alice@test.example>$' "$f"
	grep -q '^Subject: injected$' "$f"
	grep -q '^From: alice@test.example' "$f"
	[ "$(tail -n 1 "$f")" = 'hello from inject' ]
}

@test "SMTP: a message to an unknown mailbox comes back as a DSN" {
	# .qmail-default catches everything: make one local part fail for
	# good through a program exiting 100
	printf '#!/bin/sh\necho "5.1.1 mailbox disabled"\nexit 100\n' > "$A/off"
	chmod +x "$A/off"
	echo "|$A/off" > "$A/.qmail-off"
	[ "$(id -u)" = 0 ] && chown -R nobody:nogroup "$A"
	run swaks -s 127.0.0.1 -p "$PORT" -f back@test.example \
	    -t off@test.example --header 'Subject: to a disabled box'
	assert_success
	wait_for 10 delivered 1
	wait_for 10 queue_empty
	f=$(find "$A/Maildir/new" -type f)
	grep -q '^Delivered-To: back@test.example$' "$f"
	grep -q '^Return-Path: <>$' "$f"
	grep -q '^Final-Recipient: rfc822; off@test.example$' "$f"
	grep -q '^Status: 5\.[0-9]\.[0-9]$' "$f"
	grep -q '^Diagnostic-Code: X-Qpost; local: ' "$f"
	grep -q '^Subject: to a disabled box' "$f"
}
