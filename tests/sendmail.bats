#!/usr/bin/env bats
# sendmail: the wrapper maps sendmail's command line onto inject, smtpd,
# qpost-tool (send's command channel).  The first tests put a recording stand-in
# for bin/inject into the throwaway home, so the exact argument list is
# what is checked; the later ones run the real programs.

load helper

setup() {
	qpost_setup
	SM="$QPOST_HOME/bin/sendmail"
	[ -x "$SM" ]
}
teardown() { qpost_teardown; }

# record: replace bin/PROG by a script writing its arguments (one per
# line), $NAME and its stdin into $BATS_TEST_TMPDIR/PROG.{args,name,in}
record() {
	cat > "$QPOST_HOME/bin/$1" <<EOF
#!/bin/sh
for a in "\$0" "\$@"; do printf '%s\n' "\$a"; done > "$BATS_TEST_TMPDIR/$1.args"
printf '%s|%s|%s\n' "\${NAME-unset}" "\${RELAYCLIENT-unset}" "\${TCPREMOTEIP-unset}" > "$BATS_TEST_TMPDIR/$1.env"
cat > "$BATS_TEST_TMPDIR/$1.in"
exit \${RECORD_EXIT:-0}
EOF
	chmod 755 "$QPOST_HOME/bin/$1"
}

args() { tail -n +2 "$BATS_TEST_TMPDIR/$1.args" | tr '\n' ' '; }

@test "sendmail -t -i -f runs inject -f SENDER -t with the message on stdin" {
	record inject
	run "$SM" -t -i -f alice@test.example <<<"Subject: hi"
	assert_success
	run args inject
	assert_output "-f alice@test.example -t -- "
	run head -n 1 "$BATS_TEST_TMPDIR/inject.args"
	assert_output "$QPOST_HOME/bin/inject"
	run cat "$BATS_TEST_TMPDIR/inject.in"
	assert_output "Subject: hi"
}

@test "sendmail: cron's line (-FCronDaemon -i -B8BITMIME -oem user)" {
	record inject
	run "$SM" -FCronDaemon -i -B8BITMIME -oem root </dev/null
	assert_success
	run args inject
	assert_output "-F CronDaemon -- root "
}

@test "sendmail: grouped flags, -oi, -o with a separate value, -r, <> sender" {
	record inject
	run "$SM" -ti -oi -o DeliveryMode=b -r '<>' -N never -R hdrs -V id -- -odd@x </dev/null
	assert_success
	run args inject
	assert_output "-f  -t -- -odd@x "
	run "$SM" -f '<bob@test.example>' -F 'Bob Q' a@x b@y </dev/null
	assert_success
	run args inject
	assert_output "-f bob@test.example -F Bob Q -- a@x b@y "
}

@test "sendmail passes inject's exit code through" {
	record inject
	RECORD_EXIT=111 run "$SM" a@x </dev/null
	assert_failure 111
	RECORD_EXIT=100 run "$SM" a@x </dev/null
	assert_failure 100
}

@test "sendmail refuses unknown options, -bd and a missing -f value with 100" {
	record inject
	run "$SM" -Z a@x </dev/null
	assert_failure 100
	assert_output --partial "unknown option -Z"
	run "$SM" -bd
	assert_failure 100
	run "$SM" -bt
	assert_failure 100
	run "$SM" -f
	assert_failure 100
	[ ! -e "$BATS_TEST_TMPDIR/inject.args" ]
}

@test "sendmail -bi and newaliases succeed without doing anything" {
	run "$SM" -bi
	assert_success
	ln -s "$SM" "$BATS_TEST_TMPDIR/newaliases"
	run "$BATS_TEST_TMPDIR/newaliases"
	assert_success
}

@test "sendmail -bs runs smtpd with RELAYCLIENT set, stdin passed through" {
	record smtpd
	run "$SM" -bs <<<"EHLO x"
	assert_success
	run cat "$BATS_TEST_TMPDIR/smtpd.env"
	assert_output "unset||127.0.0.1"
	run cat "$BATS_TEST_TMPDIR/smtpd.in"
	assert_output "EHLO x"
}

@test "sendmail -bp and mailq list the queue through qpost-tool queue (send's channel)" {
	run "$SM" -bp
	assert_failure 111
	assert_output --partial "send is not running"
	record qpost-tool
	ln -s "$SM" "$BATS_TEST_TMPDIR/mailq"
	run "$BATS_TEST_TMPDIR/mailq"
	assert_success
	run args qpost-tool
	assert_output "queue "
}

@test "sendmail -q (and -qXXX) flushes through qpost-tool retry --all" {
	record qpost-tool
	run "$SM" -q
	assert_success
	run args qpost-tool
	assert_output "retry --all "
	run "$SM" -q30m
	assert_success
	run args qpost-tool
	assert_output "retry --all "
}

@test "sendmail -q with send not running says so and exits 111" {
	run "$SM" -q30m
	assert_failure 111
	assert_output --partial "send is not running"
}

@test "bsd-mailx sends through the home's sendmail (MAILRC sendmail=)" {
	record inject
	echo "set sendmail=$SM" > "$BATS_TEST_TMPDIR/mailrc"
	echo "hello from mailx" | MAILRC="$BATS_TEST_TMPDIR/mailrc" \
	    mailx -n -s "mailx test" -r carol@test.example dave@test.example
	run args inject
	assert_output "-f carol@test.example -t -- "
	run grep -c -e '^To: dave@test.example$' -e '^Subject: mailx test$' \
	    -e '^hello from mailx$' "$BATS_TEST_TMPDIR/inject.in"
	assert_output 3
}

@test "sendmail -t through the real inject and queue puts the message in the queue" {
	printf 'To: erin@test.example\nSubject: real\n\nbody\n' |
	    "$SM" -t -i -f frank@test.example
	[ "$(queue_count)" -eq 1 ]
	run "$QPOST_HOME/bin/qpost-tool" qread
	assert_output --partial "from <frank@test.example>"
	assert_output --partial "<erin@test.example>"
}

@test "bsd-mailx through sendmail, inject and queue: the queue holds the message" {
	echo "set sendmail=$SM" > "$BATS_TEST_TMPDIR/mailrc"
	echo "hello" | MAILRC="$BATS_TEST_TMPDIR/mailrc" \
	    mailx -n -s "via mailx" -r gina@test.example hank@test.example
	[ "$(queue_count)" -eq 1 ]
	f=$(find "$QPOST_HOME/queue/new" "$QPOST_HOME/queue/mess" -type f)
	run grep -c -e '^Subject: via mailx$' -e '^hello$' $f
	assert_output 2
	run "$QPOST_HOME/bin/qpost-tool" qread
	assert_output --partial "<hank@test.example>"
}

@test "sendmail -bs speaks SMTP through the real smtpd and may relay (a local user)" {
	run "$SM" -bs < <(printf 'EHLO client\r\nMAIL FROM:<ivy@test.example>\r\nRCPT TO:<jo@remote.example>\r\nDATA\r\nSubject: bs\r\n\r\nvia -bs\r\n.\r\nQUIT\r\n')
	assert_success
	assert_line --regexp '^250 2\.0\.0 '
	[ "$(queue_count)" -eq 1 ]
	run "$QPOST_HOME/bin/qpost-tool" qread
	assert_output --partial "from <ivy@test.example>"
	assert_output --partial "<jo@remote.example>"
}

@test "sendmail: every option that adds an argument at once, with recipients (regression: argv overflow)" {
	record inject
	run "$SM" -f s@x -F 'N N' -t -i r1@x r2@x r3@x </dev/null
	assert_success
	run args inject
	assert_output "-f s@x -F N N -t -- r1@x r2@x r3@x "
}

@test "sendmail -t and -bs with SIGCHLD ignored by the parent (PHP, cron, swaks --pipe): success, exactly one copy (regression: 111/451 after queueing)" {
	printf 'To: erin@test.example\nSubject: noreap\n\nbody\n' |
	    perl -e '$SIG{CHLD} = "IGNORE"; exec @ARGV' "$SM" -t -i
	[ "$(queue_count)" -eq 1 ]
	run perl -e '$SIG{CHLD} = "IGNORE"; exec @ARGV' "$SM" -bs < <(printf 'EHLO client\r\nMAIL FROM:<ivy@test.example>\r\nRCPT TO:<jo@remote.example>\r\nDATA\r\nSubject: bs\r\n\r\nvia -bs\r\n.\r\nQUIT\r\n')
	assert_success
	assert_line --regexp '^250 2\.0\.0 ok: queued as [0-9A-Z]{10}\.[0-9]+'
	refute_line --partial '451'
	[ "$(queue_count)" -eq 2 ]
}

@test "sendmail -t with CRLF line ends (PHP's mail()) queues LF only (regression: CRs kept, \\r\\r\\n on the wire)" {
	printf 'To: erin@test.example\r\nSubject: php\r\n\r\nline\r\nbare\rcr\r\n' |
	    "$SM" -t -i -f frank@test.example
	[ "$(queue_count)" -eq 1 ]
	f=$(find "$QPOST_HOME/queue/new" -type f)
	[ "$(tr -cd '\r' < "$f" | wc -c)" -eq 0 ]
	grep -q '^Subject: php$' "$f"
	grep -q '^bare$' "$f"
	run "$QPOST_HOME/bin/qpost-tool" qread
	assert_output --partial "<erin@test.example>"
}

@test "sendmail: a control character in -f, -F or a recipient exits 100 and queues nothing (regression: header injection)" {
	printf 'To: erin@test.example\n\nbody\n' > "$BATS_TEST_TMPDIR/in"
	run "$SM" -f $'frank@test.example\rX: 1' -t < "$BATS_TEST_TMPDIR/in"
	assert_failure 100
	assert_output --partial "control character in the sender address"
	run "$SM" -F $'Frank\nBcc: x@y' -t < "$BATS_TEST_TMPDIR/in"
	assert_failure 100
	assert_output --partial "control character in the -F full name"
	run "$SM" $'erin@test.example\r\nX: 1' < "$BATS_TEST_TMPDIR/in"
	assert_failure 100
	assert_output --partial "control character in a recipient argument"
	[ "$(queue_count)" -eq 0 ]
}
