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
	wait_for 20 logged 'deferral: msg [0-9A-Z.]+ to [a-z]+ <a@one\.test>.*451 4\.7\.1 greylisted'
	wait_for 10 logged 'success: msg [0-9A-Z.]+ to [a-z]+ <b@one\.test>'
	run cat "$T/got/1.env"
	assert_output "$(printf 's@test.example SIZE=35\nb@one.test')"
	[ "$(queue_count)" -eq 1 ]
	# the peer changes its mind; SIGALRM makes deferred mail due now
	kill "$PEER"
	wait "$PEER" 2>/dev/null || true
	peer 127.0.0.1 "$T/got2"
	kill -ALRM "$SEND"
	wait_for 20 logged 'success: msg [0-9A-Z.]+ to [a-z]+ <a@one\.test>'
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

@test "remote+send: the bounce's Status: is the peer's code, not a d.d.d in its text; Remote-MTA and Diagnostic-Code: smtp (issue 15)" {
	export QPOST_QUEUE=$T/qstub
	peer 127.0.0.1 "$T/got" \
	    --rcpt 'bad@one.test=550 5.1.1 user unknown (see 4.2.1)' \
	    --rcpt 'plain@one.test=553 sorry, 4.2.1 is not an address here'
	start_send
	printf 'Subject: dsn\n\nhello\n' | enqueue s@test.example bad@one.test plain@one.test ok@one.test
	wait_for 20 test -e "$T/bounce.env"
	python3 - "$T/bounce.msg" <<-'PY'
	import email, sys
	m = email.message_from_binary_file(open(sys.argv[1], "rb"))
	parts = m.get_payload()
	ds = parts[1].get_payload()
	got = {str(p["Final-Recipient"]): p for p in ds[1:]}
	bad = got["rfc822; bad@one.test"]
	plain = got["rfc822; plain@one.test"]
	# no enhanced code after 553: the class, not the 4.2.1 in the text
	assert plain["Status"] == "5.0.0", plain["Status"]
	assert bad["Status"] == "5.1.1", bad["Status"]
	assert bad["Remote-MTA"] == "dns; mx.one.test", bad["Remote-MTA"]
	assert bad["Diagnostic-Code"] == "smtp; 550 5.1.1 user unknown (see 4.2.1)", bad["Diagnostic-Code"]
	assert plain["Diagnostic-Code"] == "smtp; 553 sorry, 4.2.1 is not an address here", plain["Diagnostic-Code"]
	assert plain["Remote-MTA"] == "dns; mx.one.test"
	assert len(got) == 2, got.keys()
	human = parts[0].get_payload()
	assert "does not like recipient: 550 5.1.1 user unknown" in human, human
	PY
	logged 'failure: msg [0-9A-Z.]+ to [a-z]+ <bad@one\.test> delay [0-9.]+: mx\.one\.test\[127\.0\.0\.1\]:[0-9]+ does not like recipient: 550 5\.1\.1 user unknown \(see 4\.2\.1\)$'
	wait_for 10 drained
}

@test "remote+send: after queuelifetime a deferred recipient bounces with the peer's 4.x.x status and reply" {
	export QPOST_QUEUE=$T/qstub
	echo 1 > "$QPOST_HOME/control/queuelifetime"
	peer 127.0.0.1 "$T/got" --rcpt 'a@one.test=452 4.2.2 mailbox full'
	start_send
	printf 'Subject: expire\n\nhello\n' | enqueue s@test.example a@one.test
	wait_for 20 test -e "$T/bounce.env"
	run cat "$T/bounce.msg"
	assert_output --partial 'Status: 4.2.2'
	assert_output --partial 'Remote-MTA: dns; mx.one.test'
	assert_output --partial 'Diagnostic-Code: smtp; 452 4.2.2 mailbox full'
	assert_output --partial 'message expired after queuelifetime; last error: mx.one.test'
	wait_for 10 drained
}

@test "remote+send: remote's own line about a message (fd 2, send's log) names it by the ID send logs" {
	# two.test's first MX (127.0.0.2) refuses the connection: remote says
	# so on fd 2 and delivers to the second (127.0.0.1)
	peer 127.0.0.1 "$T/got"
	start_send
	printf 'Message-ID:\n <folded.1@test.example> \nSubject: id\n\nbody\n' |
	    enqueue s@test.example x@two.test
	wait_for 20 logged 'success: msg [0-9A-Z.]+ to remote <x@two\.test> delay [0-9]+\.[0-9]: mx2\.two\.test'
	id=$(sed -n 's/.*success: msg \([0-9A-Z.]*\) to remote <x@two.test>.*/\1/p' "$T/send.log")
	[[ "$id" =~ ^[0-9A-Z]{10}\.[0-9]+$ ]]
	logged "^remote: warning: msg $id: mx1\.two\.test\[127\.0\.0\.2\]:[0-9]+: connect: "
	logged "^send: new msg $id from <s@test\.example> size [0-9]+ rcpts 1 message-id <folded\.1@test\.example>\$"
	logged "^send: starting delivery [0-9]+: msg $id to remote <x@two\.test>\$"
	wait_for 10 logged "^send: end msg $id\$"
}
