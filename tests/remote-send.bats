#!/usr/bin/env bats
# remote under send: the real send daemon runs bin/remote against a real
# DNS server (dnsmasq) and a real SMTP peer (aiosmtpd), and acts on its
# reports: a 4xx recipient is retried later, a 5xx recipient is bounced
# alone.  Messages are committed to queue/new/ in the format of
# docs/queue.md by a few lines of Python (what queue does), so these
# tests need no SMTP server in front.

load helper
load remote-lib

setup() {
	remote_setup
	mkdir -p "$T/got" "$T/got2"
	# queue stand-in for send's bounces (QPOST_QUEUE, qmail-queue's
	# interface): keep message and envelope, exit 0
	printf '%s\n' '#!/bin/sh' \
	    "cat > '$T/bounce.msg'" \
	    "cat <&1 > '$T/bounce.env.tmp'" \
	    "mv '$T/bounce.env.tmp' '$T/bounce.env'" > "$T/qstub"
	chmod +x "$T/qstub"
}

teardown() { qpost_teardown; }

start_send() {
	spawn "$QPOST_HOME/bin/send" 2>> "$T/send.log"
	SEND=$LAST_PID
}

drained() { [ "$(queue_count)" -eq 0 ]; }

logged() {	# logged REGEX - send's log has a matching line
	grep -Eq "$1" "$T/send.log"
}

@test "remote+send: a recipient refused with 4xx is retried later and delivered; the other goes at once" {
	peer 127.0.0.1 "$T/got" --rcpt 'a@one.test=451 4.7.1 greylisted, come back later'
	start_send
	printf 'Subject: retry\n\n.dot line\nbody\n' | enqueue s@test.example a@one.test b@one.test
	wait_for 20 logged 'deferral: msg [0-9]+ to <a@one\.test>.*451 4\.7\.1 greylisted'
	wait_for 10 logged 'success: msg [0-9]+ to <b@one\.test>'
	run cat "$T/got/1.env"
	assert_output "$(printf 's@test.example SIZE=35\nb@one.test')"
	[ "$(queue_count)" -eq 1 ]
	# the peer changes its mind; SIGALRM makes deferred mail due now
	kill "$PEER"
	wait "$PEER" 2>/dev/null || true
	peer 127.0.0.1 "$T/got2"
	kill -ALRM "$SEND"
	wait_for 20 logged 'success: msg [0-9]+ to <a@one\.test>'
	run cat "$T/got2/1.env"
	assert_output "$(printf 's@test.example SIZE=35\na@one.test')"
	printf 'Subject: retry\r\n\r\n.dot line\r\nbody\r\n' | cmp - "$T/got2/1.msg"
	wait_for 10 drained
	[ ! -e "$T/got/2.env" ]
	[ ! -e "$T/bounce.env" ]
}

@test "remote+send: 5xx to one of three recipients bounces only that one" {
	export QPOST_QUEUE=$T/qstub
	peer 127.0.0.1 "$T/got" --rcpt 'bad@one.test=550 5.1.1 no such mailbox here'
	start_send
	printf 'Subject: three\n\nhello\n' | enqueue s@test.example a@one.test bad@one.test c@one.test
	wait_for 20 test -e "$T/bounce.env"
	run tr '\0' '|' < "$T/bounce.env"
	assert_output 'F|Ts@test.example||'
	run grep -c '^Final-Recipient:' "$T/bounce.msg"
	assert_output 1
	run cat "$T/bounce.msg"
	assert_output --partial 'Final-Recipient: rfc822; bad@one.test'
	assert_output --partial '550 5.1.1 no such mailbox here'
	assert_output --partial 'Status: 5.1.1'
	run cat "$T/got/1.env"
	assert_output "$(printf 's@test.example SIZE=25\na@one.test\nc@one.test')"
	wait_for 10 drained
}
