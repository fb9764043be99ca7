#!/usr/bin/env bats
# smtpd: a message already carrying a recipient's Delivered-To: line is
# refused at the final dot (554 5.4.6), exactly where local would refuse
# it as a loop, so that no bounce quoting the client's header is ever
# made (issue 17).  The other after-acceptance refusals (hops, size) are
# checked to come before any 250 as well.

load helper
load smtpd-lib

setup() { smtpd_setup; }
teardown() { qpost_teardown; }

# send_hdr RCPT HEADER - one message to RCPT (several: "a> <b") with
# HEADER (raw escapes) on top, from a client without RELAYCLIENT
send_hdr() {
	local rc="RCPT TO:<$1>\\r\\n"
	rc=${rc//> </>\\r\\nRCPT TO:<}
	RAWSRC=127.0.0.2 run raw "EHLO c.example\\r\\nMAIL FROM:<forged@victim.example>\\r\\n${rc}DATA\\r\\n${2}Subject: x\\r\\n\\r\\nbody\\r\\n.\\r\\nQUIT\\r\\n" 127.0.0.2
}

@test "Delivered-To: of the recipient itself: 554 5.4.6 after the dot, nothing queued, one log line" {
	send_hdr joe@test.example 'Delivered-To: joe@test.example\r\n'
	[ "$(codes)" = "220 250 250 250 354 554 221" ]
	assert_line '554 5.4.6 this message is looping: it already has my Delivered-To line'
	[ "$(queue_count)" = 0 ]
	wait_for 5 empty_dir "$QPOST_HOME/queue/tmp"
	run cat "$LOG"
	assert_line 'smtpd: refused ip 127.0.0.2 helo c.example from <forged@victim.example> to <joe@test.example> size 48 loop <joe@test.example>: 554 5.4.6 this message is looping: it already has my Delivered-To line'
}

@test "swaks: the attacker's phrase thousands of times under a Delivered-To of ours is refused, no bounce" {
	body=$(for i in $(seq 1 3000); do echo 'buy cheap pills at evil.example'; done)
	run swaks -s 127.0.0.1 -p "$PORT" -f forged@victim.example \
	    -t joe@test.example --add-header 'Delivered-To: joe@test.example' \
	    --body "$body"
	assert_failure
	assert_output --regexp '<\*\* 554 5\.4\.6 this message is looping'
	[ "$(queue_count)" = 0 ]
	# no bounce either: nothing at all entered the queue
	[ -z "$(find "$QPOST_HOME/queue" -type f ! -path '*/lock/*')" ]
}

@test "a Delivered-To: for another address is accepted, as local accepts it" {
	send_hdr joe@test.example 'Delivered-To: bob@test.example\r\nDelivered-To: joe@test.example.org\r\nDelivered-To: xjoe@test.example\r\nDelivered-To: joe@test.exampl\r\n'
	[ "$(codes)" = "220 250 250 250 354 250 221" ]
	[ "$(queue_count)" = 1 ]
}

@test "case and blanks are ignored as local ignores them: header, RCPT or both in other case" {
	send_hdr Joe@TEST.example 'delivered-to:joe@test.example\r\n'
	[ "$(codes)" = "220 250 250 250 354 554 221" ]
	send_hdr joe@test.example 'DELIVERED-TO: \t JOE@Test.Example \t \r\n'
	[ "$(codes)" = "220 250 250 250 354 554 221" ]
	[ "$(queue_count)" = 0 ]
}

@test "only what local compares: folded, in the body, a comment or brackets around it pass" {
	send_hdr joe@test.example 'Delivered-To:\r\n joe@test.example\r\n'
	[ "$(codes)" = "220 250 250 250 354 250 221" ]
	send_hdr joe@test.example 'Delivered-To: <joe@test.example>\r\nX-Delivered-To: joe@test.example\r\nDelivered-To: joe@test.example (me)\r\n'
	[ "$(codes)" = "220 250 250 250 354 250 221" ]
	# in the body (after the empty line) it is not a header line
	RAWSRC=127.0.0.2 run raw 'EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<joe@test.example>\r\nDATA\r\nSubject: x\r\n\r\nDelivered-To: joe@test.example\r\n.\r\nQUIT\r\n' 127.0.0.2
	[ "$(codes)" = "220 250 250 250 354 250 221" ]
	[ "$(queue_count)" = 3 ]
}

@test "one looping recipient of several refuses the whole message" {
	send_hdr 'bob@test.example> <joe@test.example' 'Delivered-To: joe@test.example\r\n'
	[ "$(codes)" = "220 250 250 250 250 354 554 221" ]
	[ "$(queue_count)" = 0 ]
}

@test "virtualdomains: the address local writes (prefix-local@domain) loops, the address as sent does not" {
	echo virt.example >> "$QPOST_HOME/control/rcpthosts"
	echo virt.example:pre >> "$QPOST_HOME/control/virtualdomains"
	send_hdr joe@virt.example 'Delivered-To: joe@virt.example\r\n'
	[ "$(codes)" = "220 250 250 250 354 250 221" ]
	send_hdr joe@virt.example 'Delivered-To: pre-joe@virt.example\r\n'
	[ "$(codes)" = "220 250 250 250 354 554 221" ]
	[ "$(queue_count)" = 1 ]
}

@test "a relayed recipient is not checked (nothing downstream refuses it); a local one under RELAYCLIENT is" {
	run raw 'EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<far@remote.example>\r\nDATA\r\nDelivered-To: far@remote.example\r\n\r\nbody\r\n.\r\nQUIT\r\n'
	[ "$(codes)" = "220 250 250 250 354 250 221" ]
	run raw 'EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<joe@test.example>\r\nDATA\r\nDelivered-To: joe@test.example\r\n\r\nbody\r\n.\r\nQUIT\r\n'
	[ "$(codes)" = "220 250 250 250 354 554 221" ]
	[ "$(queue_count)" = 1 ]
}

@test "an unknown recipient accepted under rejectunknown 0 is not delivered by local: not checked" {
	echo 0 > "$QPOST_HOME/control/rejectunknown"
	rm "$QPOST_HOME/alias/.qmail-default"
	send_hdr nobody@test.example 'Delivered-To: nobody@test.example\r\n'
	[ "$(codes)" = "220 250 250 250 354 250 221" ]
}

@test "<postmaster> is checked as postmaster@me, the address send hands local" {
	send_hdr postmaster 'Delivered-To: postmaster@test.example\r\n'
	[ "$(codes)" = "220 250 250 250 354 554 221" ]
	[ "$(queue_count)" = 0 ]
}

@test "hops and size are refused before any 250 as well, each with its own log line" {
	hops=
	for i in $(seq 1 101); do hops="${hops}Received: from hop$i\\r\\n"; done
	send_hdr joe@test.example "$hops"
	[ "$(codes)" = "220 250 250 250 354 554 221" ]
	assert_line '554 5.4.6 too many hops, this message is looping'
	echo 100 > "$QPOST_HOME/control/databytes"
	send_hdr joe@test.example "X-Big: $(printf '%0100d' 0)\\r\\n"
	[ "$(codes)" = "220 250 250 250 354 552 221" ]
	assert_line '552 5.3.4 message size exceeds fixed limit'
	[ "$(queue_count)" = 0 ]
	run cat "$LOG"
	assert_line --regexp '^smtpd: refused ip 127\.0\.0\.2 helo c\.example from <forged@victim\.example> to <joe@test\.example> size [0-9]+: 554 5\.4\.6 too many hops, this message is looping$'
	assert_line --regexp '^smtpd: refused ip 127\.0\.0\.2 helo c\.example from <forged@victim\.example> to <joe@test\.example> size [0-9]+: 552 5\.3\.4 message size exceeds fixed limit$'
}
