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

PF=
PFCONF=

setup() {
	[ "$(id -u)" = 0 ] || skip "a private Postfix instance needs root"
	command -v postfix >/dev/null || skip "postfix not installed"
}

teardown() {
	pf_stop
	qpost_teardown
}

# pf_start RELAYPORT - a private Postfix instance whose smtp client sends
# all mail to [127.0.0.1]:RELAYPORT and insists on TLS.  Mail goes in by
# its sendmail (postdrop, pickup); qmgr and smtp deliver at once.
pf_start() {
	# not under $BATS_TEST_TMPDIR: the postfix user must reach
	# data_directory, and unix socket paths must stay short.
	PF=$(mktemp -d /tmp/qpost-pf.XXXXXX)
	chmod 755 "$PF"
	PFCONF=$PF/etc
	mkdir -p "$PFCONF" "$PF/spool" "$PF/data"
	cat > "$PFCONF/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $PF/spool
data_directory = $PF/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = loopback-only
inet_protocols = ipv4
myhostname = pf.example
mydomain = pf.example
myorigin = pf.example
mydestination =
local_transport = error:no local delivery
relayhost = [127.0.0.1]:$1
default_transport = smtp
relay_transport = smtp
smtp_tls_security_level = encrypt
smtp_tls_loglevel = 1
smtp_connect_timeout = 5s
smtp_helo_timeout = 10s
maillog_file = $PF/maillog
maillog_file_prefixes = $PF
alias_maps =
alias_database =
biff = no
smtputf8_enable = no
EOF
	cat > "$PFCONF/master.cf" <<EOF
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
showq     unix  n       -       n       -       -       showq
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
	chown postfix "$PF/data"
	# postfix reports to syslog unless stderr is a terminal: script(1)
	# makes one, so that a failure to start is seen.
	script -qc "postfix -c '$PFCONF' start" /dev/null \
	    >"$PF/start.out" 2>&1 || { cat "$PF/start.out" >&2; return 1; }
	wait_for 10 test -s "$PF/spool/pid/master.pid"
}

# pf_stop - stop the instance (its master, by the PID it wrote) and
# remove its directories
pf_stop() {
	[ -n "$PF" ] && [ -d "$PF" ] || return 0
	local pid
	pid=$(tr -d ' ' < "$PF/spool/pid/master.pid" 2>/dev/null || true)
	postfix -c "$PFCONF" stop >/dev/null 2>&1 || true
	if [ -n "$pid" ]; then
		# master ends its children and then itself; bounded wait
		wait_for 10 sh -c "! kill -0 $pid" ||
		    kill -9 "$pid" 2>/dev/null || true
	fi
	rm -rf "$PF"
	PF=
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
