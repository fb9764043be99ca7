#!/usr/bin/env bats
# SMTP AUTH (RFC 4954): PLAIN and LOGIN through tlsd + smtpd with the
# password-file checker (checkpw) behind the checkpassword interface;
# submission (RFC 6409) rules; real clients: swaks, smtplib, openssl,
# git send-email.  docs/auth.md.

load helper
load smtpd-lib
load tls-lib
load dovecot-lib

setup() {
	qpost_setup
	echo ./Maildir/ > "$QPOST_HOME/alias/.qmail-default"
	echo secret | "$QPOST_HOME/bin/qpost-tool" passwd add alice@test.example >/dev/null
	echo 'pa ss:wörd' | "$QPOST_HOME/bin/qpost-tool" passwd add bob >/dev/null
	tls_install
	# loopback is NOT a relay client here: only AUTH lets it relay
	printf '%s\n' "${RULE:-127.0.0.1:allow}" > "$BATS_TEST_TMPDIR/rules.txt"
	export RULES=$BATS_TEST_TMPDIR/rules.txt
	SMTPD_ARGS="$QPOST_HOME/bin/checkpw"
}
teardown() {
	qpost_teardown
	[ -z "${INSTANCE:-}" ] || dovecot_teardown
}

b64() { printf "$1" | base64 -w0; }
PLAIN_OK=$(printf '\0alice@test.example\0secret' | base64 -w0)

# no_secret - neither password, nor its base64, is in any log
no_secret() {
	! grep -q 'secret\|wörd' "$LOG"
	! grep -qF "$PLAIN_OK" "$LOG"
	! grep -qF "$(b64 secret)" "$LOG"
}

@test "AUTH PLAIN with swaks --tls: 235, relays for the user, Received says ESMTPSA, the log names the user and never the password" {
	tls_start
	run swaks --server 127.0.0.1:"$PORT" --tls --from a@sender.example \
	    --to far@remote.example --body x
	assert_output --partial '553 5.7.1 relaying denied'
	run swaks --server 127.0.0.1:"$PORT" --tls --auth PLAIN \
	    --auth-user alice@test.example --auth-password secret \
	    --from alice@test.example --to far@remote.example --body 'authed body'
	assert_success
	assert_output --partial '250-AUTH PLAIN LOGIN'
	assert_output --partial '235 2.7.0 Authentication successful'
	run qmsg
	assert_output --partial 'with ESMTPSA; '
	assert_output --partial 'authed body'
	run qenv
	assert_output 'Falice@test.example|Tfar@remote.example||'
	grep -q '^smtpd: auth ip 127.0.0.1 user alice@test.example mech PLAIN$' "$LOG"
	no_secret
}

@test "AUTH LOGIN with and without an initial response; the prompts decode to Username: and Password:; PLAIN without an initial response" {
	tls_start
	run tlsc --before 'EHLO c.example' 'EHLO c.example' 'AUTH LOGIN' \
	    "$(b64 alice@test.example)" "$(b64 secret)" QUIT
	assert_success
	assert_output --partial '334 VXNlcm5hbWU6'
	assert_output --partial '334 UGFzc3dvcmQ6'
	[ "$(echo VXNlcm5hbWU6 | base64 -d)" = Username: ]
	[ "$(echo UGFzc3dvcmQ6 | base64 -d)" = Password: ]
	assert_output --partial '235 2.7.0'
	run tlsc --before 'EHLO c.example' 'EHLO c.example' \
	    "AUTH LOGIN $(b64 bob)" "$(b64 'pa ss:wörd')" QUIT
	assert_equal "$(codes)" "220 250 220 250 334 235 221"
	run tlsc --before 'EHLO c.example' 'EHLO c.example' 'AUTH PLAIN' \
	    "$PLAIN_OK" QUIT
	assert_equal "$(codes)" "220 250 220 250 334 235 221"
	# authzid equal to the user is fine
	run tlsc --before 'EHLO c.example' 'EHLO c.example' \
	    "AUTH PLAIN $(b64 'alice@test.example\0alice@test.example\0secret')" QUIT
	assert_equal "$(codes)" "220 250 220 250 235 221"
	no_secret
}

@test "wrong password and unknown user get the same 535 5.7.8, logged with IP and user (the fail2ban line), nothing else" {
	tls_start
	run tlsc --before 'EHLO c.example' 'EHLO c.example' \
	    "AUTH PLAIN $(b64 '\0alice@test.example\0wrong')" QUIT
	assert_output --partial '535 5.7.8 Authentication credentials invalid'
	r1=$(grep '^535' <<< "$output")
	run tlsc --before 'EHLO c.example' 'EHLO c.example' \
	    "AUTH PLAIN $(b64 '\0nobody@test.example\0secret')" QUIT
	r2=$(grep '^535' <<< "$output")
	assert_equal "$r1" "$r2"
	# someone else's authorization identity is not granted
	run tlsc --before 'EHLO c.example' 'EHLO c.example' \
	    "AUTH PLAIN $(b64 'bob\0alice@test.example\0secret')" QUIT
	assert_output --partial '535 5.7.8'
	grep -q '^smtpd: warning: auth failed ip 127.0.0.1 user alice@test.example mech PLAIN$' "$LOG"
	grep -q '^smtpd: warning: auth failed ip 127.0.0.1 user nobody@test.example mech PLAIN$' "$LOG"
	# the shipped fail2ban filter's failregex, with <HOST> as fail2ban has it
	re=$(sed -n 's/^failregex *= *//p' "$QPOST_SRC/docs/fail2ban-qpost.conf")
	re=${re//<HOST>/([0-9.:a-f]+)}
	[ "$(grep -Ec "$re" "$LOG")" = 3 ]
	no_secret
}

@test "protocol errors: unknown mechanism 504, * cancels 501, bad base64 501, AUTH twice or in a transaction 503, no HELO 503" {
	tls_start
	run tlsc --before 'EHLO c.example' 'AUTH PLAIN =' 'EHLO c.example' 'AUTH CRAM-MD5' 'AUTH LOGIN' '*' \
	    'AUTH PLAIN' 'not base64!' 'AUTH PLAIN Zm9v=' \
	    'MAIL FROM:<>' "AUTH PLAIN $PLAIN_OK" RSET \
	    "AUTH PLAIN $PLAIN_OK" "AUTH PLAIN $PLAIN_OK" NOOP QUIT
	assert_success
	assert_equal "$(codes)" "220 250 220 503 250 504 334 501 334 501 501 250 503 250 235 503 250 221"
	assert_output --partial '504 5.5.4 unrecognized authentication type'
	assert_output --partial '501 5.7.0 authentication cancelled'
	assert_output --partial '501 5.5.2 cannot decode the response'
	assert_output --partial '503 5.5.1 AUTH not allowed during a mail transaction'
	assert_output --partial '503 5.5.1 already authenticated'
}

@test "an empty response to PLAIN's 334 is malformed (501), not a crash; the session goes on" {
	tls_start
	run tlsc --before 'EHLO c.example' 'EHLO c.example' 'AUTH PLAIN' '' \
	    "AUTH PLAIN $PLAIN_OK" QUIT
	assert_success
	assert_equal "$(codes)" "220 250 220 250 334 501 235 221"
	assert_output --partial '501 5.5.2 malformed PLAIN response'
}

@test "an empty LOGIN password (an empty line) or user name (an initial response of =) is refused (535), not a crash; the session goes on" {
	tls_start
	run tlsc --before 'EHLO c.example' 'EHLO c.example' 'AUTH LOGIN' "$(b64 alice@test.example)" '' \
	    'AUTH LOGIN =' "$(b64 x)" "AUTH PLAIN $PLAIN_OK" QUIT
	assert_success
	assert_equal "$(codes)" "220 250 220 250 334 334 535 334 535 235 221"
	no_secret
}

@test "a response line over 12 288 octets is refused and the session stays in sync" {
	tls_start
	long=$(head -c 13000 /dev/zero | tr '\0' A)
	run tlsc --before 'EHLO c.example' 'EHLO c.example' 'AUTH LOGIN' "$long" \
	    "AUTH PLAIN $long" NOOP "AUTH PLAIN $PLAIN_OK" QUIT
	assert_success
	assert_equal "$(codes)" "220 250 220 250 334 500 500 250 235 221"
	assert_output --partial '500 5.5.6 authentication exchange line is too long'
	# a long but legal one (under the limit) is decoded, not refused
	mid=$(head -c 9000 /dev/zero | tr '\0' x)
	run tlsc --before 'EHLO c.example' 'EHLO c.example' "AUTH PLAIN $(printf '\0alice@test.example\0%s' "$mid" | base64 -w0)" QUIT
	assert_equal "$(codes)" "220 250 220 250 535 221"
}

@test "in clear text AUTH is not advertised and gets 538; STARTTLS forgets an AUTH" {
	tls_start
	run raw "EHLO c.example\r\nAUTH PLAIN $PLAIN_OK\r\nQUIT\r\n"
	refute_output --partial 'AUTH'$'\n'
	refute_output --partial '250-AUTH'
	assert_output --partial '538 5.7.11 Encryption required'
}

@test "the seed transcript on a clear-text-allowed port (AUTHCLEAR from the rules): HELO, auth login, 235, then MAIL relays" {
	printf '%s\n' '127.0.0.1:allow,AUTHCLEAR=""' > "$RULES"
	PORT=$(free_port)
	LOG=$BATS_TEST_TMPDIR/smtpd.log
	tcprules "$BATS_TEST_TMPDIR/rules.cdb" "$BATS_TEST_TMPDIR/rules.tmp" < "$RULES"
	spawn tcpserver -x "$BATS_TEST_TMPDIR/rules.cdb" -R -H -l0 127.0.0.1 "$PORT" \
	    "$QPOST_HOME/bin/smtpd" "$QPOST_HOME/bin/checkpw" 2>>"$LOG"
	wait_port "$PORT"
	"$PY" - "$PORT" "$(b64 alice@test.example)" "$(b64 secret)" <<'PYEOF'
import socket, sys
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), 10)
f = s.makefile('rb')
def expect(code):
    l = f.readline().decode()
    while l[3:4] == '-':
        l = f.readline().decode()
    assert l.startswith(code), (code, l)
    return l
expect('220')
for cmd, code in (('HELO smtp.163.com', '250'), ('auth login', '334 dXNlcm5hbWU6'),
                  (sys.argv[2], '334 UGFzc3dvcmQ6'), (sys.argv[3], '235'),
                  ('MAIL FROM:<alice@test.example>', '250'),
                  ('RCPT TO:<far@remote.example>', '250'), ('DATA', '354'),
                  ('Subject: seed\r\n\r\nfrom the seed\r\n.', '250'), ('QUIT', '221')):
    s.sendall(cmd.encode() + b'\r\n')
    if code == '334 dXNlcm5hbWU6':
        l = expect('334')
        assert l.split()[1] in ('VXNlcm5hbWU6', 'dXNlcm5hbWU6'), l
    else:
        expect(code)
PYEOF
	run qmsg
	assert_output --partial 'with ESMTPA; '
	assert_output --partial 'from the seed'
}

@test "sender policy: the user's own address, what control/senderlogins maps, others 553 5.7.1; <> allowed" {
	tls_start
	run tlsc --before 'EHLO c.example' 'EHLO c.example' "AUTH PLAIN $PLAIN_OK" \
	    'MAIL FROM:<Alice@TEST.example>' RSET 'MAIL FROM:<ceo@test.example>' \
	    'MAIL FROM:<>' RSET 'MAIL FROM:<sales@test.example>' QUIT
	assert_equal "$(codes)" "220 250 220 250 235 250 250 553 250 250 553 221"
	assert_output --partial '553 5.7.1 sender address not owned by the authenticated user'
	grep -q '^smtpd: refused ip 127.0.0.1 helo c.example user alice@test.example from <ceo@test.example> to -: 553 5.7.1 sender address not owned by the authenticated user$' "$LOG"
	printf '%s\n' '# sender login' 'sales@test.example alice@test.example,bob' \
	    '@shop.example bob' > "$QPOST_HOME/control/senderlogins"
	run tlsc --before 'EHLO c.example' 'EHLO c.example' "AUTH PLAIN $PLAIN_OK" \
	    'MAIL FROM:<sales@test.example>' RSET 'MAIL FROM:<x@shop.example>' QUIT
	assert_equal "$(codes)" "220 250 220 250 235 250 250 553 221"
	# a user name without '@' owns name@me
	run tlsc --before 'EHLO c.example' 'EHLO c.example' "AUTH LOGIN $(b64 bob)" "$(b64 'pa ss:wörd')" \
	    'MAIL FROM:<bob@test.example>' RSET 'MAIL FROM:<any@shop.example>' QUIT
	assert_equal "$(codes)" "220 250 220 250 334 235 250 250 250 221"
}

@test "brute force: each failure waits longer, the third gets 421 and the connection closes" {
	tls_start
	start=$(date +%s)
	run tlsc --before 'EHLO c.example' 'EHLO c.example' \
	    "AUTH PLAIN $(b64 '\0alice@test.example\0a')" \
	    "AUTH PLAIN $(b64 '\0alice@test.example\0b')" \
	    "AUTH PLAIN $(b64 '\0alice@test.example\0c')" NOOP
	end=$(date +%s)
	assert_failure	# the server closed before NOOP
	assert_equal "$(codes)" "220 250 220 250 535 535 421"
	assert_output --partial '421 4.7.0 too many failed authentications'
	# 1 s, 2 s, 3 s of delay at least
	[ $((end - start)) -ge 6 ]
	[ "$(grep -c 'auth failed ip 127.0.0.1' "$LOG")" = 3 ]
	still_serving
}

@test "a hanging, crashing or missing checker is a temporary failure: 454 4.7.0, and the session goes on" {
	echo 2 > "$QPOST_HOME/control/timeoutcheckpw"
	printf '#!/bin/sh\nsleep 30\n' > "$BATS_TEST_TMPDIR/hang"
	printf '#!/bin/sh\nkill -SEGV $$\n' > "$BATS_TEST_TMPDIR/crash"
	chmod +x "$BATS_TEST_TMPDIR/hang" "$BATS_TEST_TMPDIR/crash"
	for c in hang crash missing; do
		SMTPD_ARGS=$BATS_TEST_TMPDIR/$c
		tls_start
		run tlsc --before 'EHLO c.example' 'EHLO c.example' "AUTH PLAIN $PLAIN_OK" NOOP QUIT
		assert_equal "$(codes)" "220 250 220 250 454 250 221"
		assert_output --partial '454 4.7.0 temporary authentication failure'
	done
	grep -q 'password checker .*/hang timed out' "$LOG"
	grep -q 'password checker .*/crash crashed' "$LOG"
	grep -q 'unable to run the password checker .*/missing' "$LOG"
	# without a checker, no AUTH at all
	SMTPD_ARGS=
	tls_start
	run tlsc --before 'EHLO c.example' 'EHLO c.example' "AUTH PLAIN $PLAIN_OK" QUIT
	refute_output --partial 'AUTH'
	assert_output --partial '502 5.5.1'
	no_secret
}

@test "Python smtplib.login() over STARTTLS, and over implicit TLS (465)" {
	tls_start
	p25=$PORT
	tls_start -i
	"$PY" - "$p25" "$PORT" <<'PYEOF'
import smtplib, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), local_hostname='py.example')
s.starttls(context=ctx)
s.login('alice@test.example', 'secret')
s.sendmail('alice@test.example', ['far@remote.example'], b'Subject: py\r\n\r\nsmtplib 587\r\n')
s.quit()
s = smtplib.SMTP_SSL('127.0.0.1', int(sys.argv[2]), local_hostname='py.example', context=ctx)
s.login('alice@test.example', 'secret')
s.sendmail('alice@test.example', ['far@remote.example'], b'Subject: py\r\n\r\nsmtplib 465\r\n')
code, msg = s.docmd('AUTH', 'LOGIN')
assert code == 503, (code, msg)       # smtplib.login() takes 503 as success
s.quit()
PYEOF
	[ "$(ls "$QPOST_HOME/queue/new" | wc -l)" = 2 ]
	[ "$(grep -c 'auth ip 127.0.0.1 user alice@test.example mech' "$LOG")" = 2 ]
}

@test "submission (SUBMISSION=1): STARTTLS first, AUTH before MAIL even for local recipients, the header completed" {
	export SUBMISSION=1
	tls_start
	run tlsc --before 'EHLO c.example' --before 'MAIL FROM:<alice@test.example>' \
	    'EHLO c.example' 'MAIL FROM:<alice@test.example>' 'RCPT TO:<bob@test.example>' \
	    "AUTH PLAIN $PLAIN_OK" 'MAIL FROM:<alice@test.example>' 'RCPT TO:<bob@test.example>' \
	    DATA '@DATA:Subject: no date\nTo: bob@test.example\n\nbody line' QUIT
	assert_equal "$(codes)" "220 250 530 220 250 530 503 235 250 250 354 250 221"
	assert_output --partial '530 5.7.0 Must issue a STARTTLS command first'
	assert_output --partial '530 5.7.0 Authentication required'
	run qmsg
	assert_output --regexp $'with ESMTPSA; [^\n]*\nSubject: no date\nTo: bob@test.example\nFrom: alice@test.example\nDate: [A-Z][a-z][a-z], [0-9]+ [A-Z][a-z][a-z] 20[0-9][0-9] [0-9:]+ [-+][0-9]{4}\nMessage-ID: <[0-9.]+\\.qpost@test.example>\n\nbody line$'
	# fields already there are left alone, nothing added twice
	run tlsc --before 'EHLO c.example' 'EHLO c.example' "AUTH PLAIN $PLAIN_OK" \
	    'MAIL FROM:<alice@test.example>' 'RCPT TO:<bob@test.example>' \
	    DATA '@DATA:From: Alice <alice@test.example>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <x@y>\n\nkept' QUIT
	qmsg_all=$(cat "$QPOST_HOME"/queue/new/*)
	[ "$(grep -c '^Message-ID:' <<< "$qmsg_all")" = 2 ]
	[ "$(grep -c '^From:' <<< "$qmsg_all")" = 2 ]
}

@test "git send-email through the submission service with STARTTLS and AUTH" {
	export SUBMISSION=1
	tls_start
	cd "$BATS_TEST_TMPDIR"
	git init -q repo && cd repo
	git config user.name Alice && git config user.email alice@test.example
	echo hello > f && git add f && git commit -qm 'a patch via qpost'
	git format-patch -1 -o "$BATS_TEST_TMPDIR/p" >/dev/null
	git config sendemail.smtpServer 127.0.0.1
	git config sendemail.smtpServerPort "$PORT"
	git config sendemail.smtpEncryption tls
	git config sendemail.smtpSSLCertPath ''	# the self-signed certificate
	git config sendemail.smtpUser alice@test.example
	git config sendemail.smtpPass secret
	run git send-email --no-validate --confirm=never --quiet \
	    --to=bob@test.example "$BATS_TEST_TMPDIR"/p/*.patch
	assert_success
	run qmsg
	assert_output --partial 'Subject: [PATCH] a patch via qpost'
	assert_output --partial 'with ESMTPSA'
}

@test "a real Dovecot behind checkdovecot: swaks --tls --auth LOGIN 235, a wrong password 535, Dovecot gone 454" {
	dovecot_prepare
	start_dovecot
	SMTPD_ARGS="$QPOST_HOME/bin/checkdovecot -s $S"
	tls_start
	run swaks --server 127.0.0.1:"$PORT" --tls --auth LOGIN \
	    --auth-user alice@example.com --auth-password secret \
	    --from alice@example.com --to far@remote.example --body 'via dovecot'
	assert_success
	assert_output --partial '235 2.7.0'
	run qenv
	assert_output 'Falice@example.com|Tfar@remote.example||'
	run swaks --server 127.0.0.1:"$PORT" --tls --auth PLAIN \
	    --auth-user alice@example.com --auth-password wrong \
	    --from alice@example.com --to far@remote.example
	assert_failure
	assert_output --partial '535 5.7.8'
	# Dovecot saw the client's address and that the session was in TLS
	grep -q 'rip=127.0.0.1' "$D/dovecot.log" || grep -q '127.0.0.1' "$D/dovecot.log"
	kill "$DOVECOT_PID"; wait "$DOVECOT_PID" 2>/dev/null || true
	wait_for 10 no_dovecot
	run tlsc --before 'EHLO c.example' 'EHLO c.example' "AUTH PLAIN $(b64 '\0alice@example.com\0secret')" QUIT
	assert_equal "$(codes)" "220 250 220 250 454 221"
	! grep -q secret "$LOG"
}

@test "a queue filter (QPOST_QUEUE) finds the authenticated user in SMTPAUTHUSER, and no stale value without AUTH" {
	printf '#!/bin/sh\necho "user=${SMTPAUTHUSER-none} tls=${SSL_PROTOCOL-none}" >> %s\nexec %s\n' \
	    "$BATS_TEST_TMPDIR/seen" "$QPOST_HOME/bin/queue" > "$BATS_TEST_TMPDIR/filter"
	chmod +x "$BATS_TEST_TMPDIR/filter"
	export QPOST_QUEUE=$BATS_TEST_TMPDIR/filter SMTPAUTHUSER=forged
	tls_start
	run swaks --server 127.0.0.1:"$PORT" --tls --auth LOGIN \
	    --auth-user alice@test.example --auth-password secret \
	    --from alice@test.example --to bob@test.example
	assert_success
	run swaks --server 127.0.0.1:"$PORT" --from x@sender.example --to bob@test.example
	assert_success
	run cat "$BATS_TEST_TMPDIR/seen"
	assert_line --index 0 'user=alice@test.example tls=TLSv1.3'
	assert_line --index 1 'user=none tls=none'
}
