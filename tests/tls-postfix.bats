#!/usr/bin/env bats
# Postfix's smtp client delivering to qpost over STARTTLS: a private
# Postfix instance (own config, queue and data directories under /tmp,
# its log in a file) relays everything to [127.0.0.1]:PORT, where
# tcpserver + tlsd + smtpd listen, with smtp_tls_security_level =
# encrypt.  With a certificate the message arrives in qpost's queue with
# ESMTPS; without one qpost offers no STARTTLS and Postfix must defer.
# docs/tls.md.  Needs root (Postfix's master) and Debian's postfix.

load helper
load smtpd-lib
load tls-lib
load postfix-lib

setup() {
	[ "$(id -u)" = 0 ] || skip "a private Postfix instance needs root"
	command -v postfix >/dev/null || skip "postfix not installed"
}

teardown() {
	pf_stop
	qpost_teardown
}

# pf_send - the message on stdin into Postfix by its sendmail
pf_send() {
	sendmail -C "$PFCONF" -f a@sender.example -- bob@test.example
}

# queued N - exactly N messages are in qpost's queue now
queued() {
	[ "$(queue_count)" = "$1" ]
}

# pf_logged REGEX - Postfix's log has a line matching REGEX
pf_logged() {
	grep -q -E -- "$1" "$PF/maillog"
}

BODY='first line
.a line that starts with a dot
  indented, trailing blanks  
last line'

@test "Postfix smtp with smtp_tls_security_level=encrypt delivers to tlsd+smtpd: bytes intact, Received says ESMTPS TLSv1.3, Postfix logs TLS and status=sent" {
	tls_setup
	pf_start "$PORT"
	printf 'Subject: postfix over tls\nTo: bob@test.example\n\n%s\n' \
	    "$BODY" | pf_send
	wait_for 30 queued 1 || {
		cat "$PF/maillog" >&2
		false
	}
	run qmsg
	assert_success
	assert_output --regexp $'Received: from pf\\.example \\(unknown \\[127\\.0\\.0\\.1\\]\\)\n\t\\(using TLSv1\\.3 with cipher TLS_[A-Z0-9_]+ \\([0-9]+/[0-9]+ bits\\)\\)\n\tby test\\.example \\(qpost smtpd\\) with ESMTPS; '
	assert_output --partial 'Subject: postfix over tls'
	# the body: everything after the first empty line, byte for byte
	# (dot-stuffing undone, blanks kept, CRLF back to LF)
	body=$(qmsg | sed '1,/^$/d'; echo x)
	assert_equal "$body" "$BODY"$'\nx'
	run qenv
	assert_output 'Fa@sender.example|Tbob@test.example||'
	grep -q '^tlsd: tls ip 127.0.0.1 proto TLSv1.3 cipher TLS_' "$LOG"
	# Postfix logs the outcome after qpost's 250: wait for it
	wait_for 10 pf_logged 'status=sent' || { cat "$PF/maillog" >&2; false; }
	pf_logged 'TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:[0-9]+: TLSv1\.3 with cipher'
	pf_logged "relay=127\.0\.0\.1\[127\.0\.0\.1\]:$PORT, .*status=sent \(250 2\.0\.0 ok"
}

@test "Postfix smtp with encrypt against a qpost without a certificate: no STARTTLS offered, Postfix defers, nothing queued" {
	qpost_setup
	echo ./Maildir/ > "$QPOST_HOME/alias/.qmail-default"
	tls_start		# no control/tlscert.pem: tlsd just runs smtpd
	pf_start "$PORT"
	printf 'Subject: must not go in clear\n\nsecret\n' | pf_send
	wait_for 30 pf_logged 'status=deferred' || {
		cat "$PF/maillog" >&2
		false
	}
	pf_logged 'status=deferred \(TLS is required, but was not offered by host 127\.0\.0\.1\[127\.0\.0\.1\]\)'
	! pf_logged 'status=sent'
	[ "$(queue_count)" = 0 ]
	grep -q 'tlsd: warning: unable to use control/tlscert.pem' "$LOG"
	# Postfix quit before MAIL: smtpd saw no transaction
	! grep -q '^smtpd: msg ' "$LOG"
}
