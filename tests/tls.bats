#!/usr/bin/env bats
# TLS for incoming mail: tlsd in front of smtpd, STARTTLS (RFC 3207) and
# implicit TLS (RFC 8314), against real clients: swaks, openssl s_client,
# Python's ssl and smtplib.  docs/tls.md.

load helper
load smtpd-lib
load tls-lib

setup() { :; }
teardown() { qpost_teardown; }

MSG='Subject: over tls\n\nhello through TLS'

@test "STARTTLS: advertised only with a front end and a certificate; swaks --tls delivers; Received says ESMTPS with protocol and cipher" {
	qpost_setup
	echo ./Maildir/ > "$QPOST_HOME/alias/.qmail-default"
	smtpd_start
	run raw 'EHLO c.example\r\nSTARTTLS\r\nQUIT\r\n'
	refute_output --partial STARTTLS$'\n'
	assert_output --partial '502 5.5.1'
	tls_install
	tls_start
	run raw 'EHLO c.example\r\nQUIT\r\n'
	assert_output --partial '250-STARTTLS'
	run swaks --server 127.0.0.1:"$PORT" --tls --helo c.example \
	    --from a@sender.example --to bob@test.example --body 'tls body'
	assert_success
	assert_output --partial '=== TLS started with cipher TLSv1.3'
	run qmsg
	assert_output --regexp $'Received: from c.example \\(unknown \\[127.0.0.1\\]\\)\n\t\\(using TLSv1.3 with cipher TLS_[A-Z0-9_]+ \\([0-9]+/[0-9]+ bits\\)\\)\n\tby test.example \\(qpost smtpd\\) with ESMTPS; '
	assert_output --partial 'tls body'
	grep -q '^tlsd: tls ip 127.0.0.1 proto TLSv1.3 cipher TLS_' "$LOG"
	run grep -c 'PRIVATE KEY\|BEGIN' "$LOG"
	assert_output 0
}

@test "STARTTLS: inside TLS it is not offered and gets 503; with an argument 501; HELO and the transaction are forgotten" {
	tls_setup
	run raw 'EHLO c.example\r\nSTARTTLS now\r\nQUIT\r\n'
	assert_output --partial '501 5.5.4'
	run tlsc --before 'EHLO c.example' --before 'MAIL FROM:<a@sender.example>' \
	    'MAIL FROM:<a@sender.example>' 'EHLO c.example' 'STARTTLS' \
	    'MAIL FROM:<a@sender.example>' 'RCPT TO:<bob@test.example>' QUIT
	assert_success
	# MAIL right after the handshake: HELO was forgotten (RFC 3207 4.2);
	# STARTTLS again: 503
	assert_equal "$(codes)" "220 250 250 220 503 250 503 250 250 221"
	assert_output --partial '503 5.5.1 send HELO or EHLO first'
	assert_output --partial '503 5.5.1 TLS already active'
	# offered in the clear EHLO only
	[ "$(grep -c 250-STARTTLS <<< "$output")" = 1 ]
}

@test "STARTTLS: commands pipelined after STARTTLS in clear text are discarded (CVE-2011-0411)" {
	tls_setup
	run tlsc --before 'EHLO c.example' --inject 'XINJECTED\r\nMAIL FROM:<evil@x.example>\r\n' \
	    'EHLO c.example' 'RCPT TO:<bob@test.example>' QUIT
	assert_success
	refute_output --partial 'command unrecognized'
	# the pipelined MAIL never happened: RCPT needs MAIL
	assert_output --partial '503 5.5.1 need MAIL before RCPT'
	[ "$(queue_count)" = 0 ]
}

@test "STARTTLS: openssl s_client -starttls smtp and Python smtplib.starttls() deliver, bytes checked" {
	tls_setup
	run sh -c "printf 'EHLO o.example\nMAIL FROM:<a@sender.example>\nRCPT TO:<bob@test.example>\nDATA\nSubject: s_client\n\nvia s_client\n.\nQUIT\n' |
	    openssl s_client -starttls smtp -connect 127.0.0.1:$PORT -crlf -quiet 2>/dev/null"
	assert_output --partial '250 2.0.0 ok'
	"$PY" - "$PORT" <<'PYEOF'
import smtplib, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), local_hostname='py.example')
s.ehlo()
assert s.has_extn('starttls')
s.starttls(context=ctx)
s.ehlo()
assert not s.has_extn('starttls')
s.sendmail('a@sender.example', ['carol@test.example'],
           b'Subject: smtplib\r\n\r\nvia smtplib\r\n')
s.quit()
PYEOF
	[ "$(ls "$QPOST_HOME/queue/new" | wc -l)" = 2 ]
	run sh -c "cat '$QPOST_HOME'/queue/new/*"
	assert_output --partial 'via s_client'
	assert_output --partial 'via smtplib'
	assert_output --partial 'by test.example (qpost smtpd) with ESMTPS'
}

@test "implicit TLS (465): swaks --tlsc and openssl s_client -connect; no STARTTLS offered inside" {
	tls_setup -i
	run swaks --server 127.0.0.1:"$PORT" --tlsc --helo c.example \
	    --from a@sender.example --to bob@test.example --body 'smtps body'
	assert_success
	refute_output --partial 'STARTTLS'
	run sh -c "printf 'EHLO o.example\nQUIT\n' | openssl s_client -connect 127.0.0.1:$PORT -crlf -quiet 2>/dev/null"
	assert_output --partial '220 test.example ESMTP'
	refute_output --partial 'STARTTLS'
	run qmsg
	assert_output --partial 'with ESMTPS'
	assert_output --partial 'smtps body'
	grep -q '^smtpd: start ip 127.0.0.1 host unknown relayclient tls$' "$LOG"
}

@test "implicit TLS: a plain-text client, garbage instead of a ClientHello, a client closing mid-handshake: closed, logged, nothing queued, still serving" {
	tls_setup -i
	run raw 'EHLO plain.example\r\nQUIT\r\n'
	refute_output --partial 250
	"$PY" - "$PORT" <<'PYEOF'
import socket, sys, os
port = int(sys.argv[1])
for data in (b'EHLO plain\r\n', os.urandom(3000), b'\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03'):
    s = socket.create_connection(('127.0.0.1', port), 5)
    s.settimeout(5)
    s.sendall(data)
    if data.startswith(b'\x16'):
        s.close()            # half a ClientHello, then gone
        continue
    try:
        while s.recv(4096):
            pass
    except ConnectionResetError:
        pass
    s.close()
PYEOF
	run tlsc --implicit 'EHLO c.example' QUIT
	assert_success
	assert_output --partial '250 ENHANCEDSTATUSCODES'
	wait_for 5 grep -q "tls handshake failed ip 127.0.0.1: unexpected eof while reading" "$LOG"
	grep -q "tls handshake failed ip 127.0.0.1: wrong version number" "$LOG"
	run grep -c '^tlsd: warning: tls handshake failed ip 127.0.0.1: ' "$LOG"
	[ "$output" -ge 4 ]
	# no smtpd ever saw the bad clients
	[ "$(grep -c '^smtpd: start' "$LOG")" = 1 ]
	[ "$(queue_count)" = 0 ]
}

@test "STARTTLS: a client that stops in the middle of the handshake is cut at control/timeouttls" {
	qpost_setup
	tls_install
	echo 2 > "$QPOST_HOME/control/timeouttls"
	tls_start
	"$PY" - "$PORT" <<'PYEOF'
import socket, sys, time
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), 5)
s.settimeout(10)
s.recv(512)
s.sendall(b'STARTTLS\r\n')
s.recv(512)
s.sendall(b'\x16\x03\x01\x02\x00\x01\x00')    # a ClientHello begun
t = time.time()
assert s.recv(512) == b''                      # closed by the server
assert time.time() - t < 8, time.time() - t
PYEOF
	wait_for 5 grep -q 'tls handshake failed ip 127.0.0.1: timeout' "$LOG"
	still_serving
}

@test "TLS 1.0 and 1.1 offers are refused; TLS 1.2 gets a forward-secret AEAD suite" {
	tls_setup
	run sh -c "printf 'QUIT\n' | openssl s_client -starttls smtp -connect 127.0.0.1:$PORT -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' 2>&1"
	refute_output --partial 'New, TLSv1'
	refute_output --partial 'Cipher is ECDHE'
	wait_for 5 grep -q 'tls handshake failed ip 127.0.0.1: unsupported protocol' "$LOG"
	run sh -c "printf 'QUIT\n' | openssl s_client -starttls smtp -connect 127.0.0.1:$PORT -tls1 -cipher 'DEFAULT:@SECLEVEL=0' 2>&1"
	refute_output --partial 'New, TLSv1'
	run tlsc --tls12 --before 'EHLO c.example' 'EHLO c.example' QUIT
	assert_success
	# a TLS 1.2 session with an ECDHE AEAD suite
	grep -q 'proto TLSv1.2 cipher ECDHE-ECDSA-\(AES[0-9]*-GCM\|CHACHA20\)' "$LOG"
	# no static-RSA or CBC suite is accepted
	run sh -c "printf 'QUIT\n' | openssl s_client -starttls smtp -connect 127.0.0.1:$PORT -tls1_2 -cipher 'AES128-SHA:AES256-SHA:ECDHE-ECDSA-AES128-SHA' 2>&1"
	refute_output --partial 'Cipher is AES'
	refute_output --partial 'Cipher is ECDHE-ECDSA-AES128-SHA'
	still_serving
}

@test "TLS 1.2 renegotiation is refused and the service keeps serving" {
	tls_setup
	run sh -c "(printf 'EHLO r.example\r\n'; sleep 1; echo R; sleep 2) |
	    timeout 10 openssl s_client -starttls smtp -connect 127.0.0.1:$PORT -tls1_2 2>&1"
	assert_output --partial 'RENEGOTIATING'
	refute_output --regexp 'RENEGOTIATING.*\n.*verify return:1'
	still_serving
	[ "$(grep -c '^tlsd: tls ip' "$LOG")" = 1 ]
}

@test "inside TLS: a record of maximal size (16 KB line) gets 500 and the session stays in sync" {
	tls_setup
	long=$(head -c 16380 /dev/zero | tr '\0' x)
	run tlsc --before 'EHLO c.example' 'EHLO c.example' "NOOP $long" NOOP QUIT
	assert_success
	assert_output --partial '500 5.5.2 line too long'
	assert_equal "$(codes)" "220 250 220 250 500 250 221"
}

@test "a large message over TLS arrives byte for byte" {
	tls_setup
	"$PY" - "$PORT" <<'PYEOF'
import smtplib, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
body = b''.join(b'line %06d %s\r\n' % (i, b'y' * 60) for i in range(40000))
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), local_hostname='big.example')
s.starttls(context=ctx)
s.sendmail('a@sender.example', ['bob@test.example'], b'Subject: big\r\n\r\n' + body)
s.quit()
open(sys.argv[1] + '.body', 'wb').write(body.replace(b'\r\n', b'\n'))
PYEOF
	run qmsg
	qmsg | tail -c +1 | sed '1,/^$/d' > "$BATS_TEST_TMPDIR/got"
	cmp "$BATS_TEST_TMPDIR/got" "$PORT.body"
	rm -f "$PORT.body"
}

@test "TLSREQUIRED from the rules: MAIL before STARTTLS gets 530, after it 250" {
	qpost_setup
	tls_install
	printf '%s\n' '127.0.0.1:allow,TLSREQUIRED=""' > "$BATS_TEST_TMPDIR/rules.txt"
	RULES=$BATS_TEST_TMPDIR/rules.txt tls_start
	run tlsc --before 'EHLO c.example' --before 'MAIL FROM:<a@sender.example>' \
	    'EHLO c.example' 'MAIL FROM:<a@sender.example>' QUIT
	assert_output --partial '530 5.7.0 Must issue a STARTTLS command first'
	assert_output --partial '250 2.1.0 sender ok'
}

@test "SNI: the certificate of control/tlssni/NAME.pem for NAME, the default otherwise; SSL_TLS_SNI logged" {
	tls_setup -i
	mkdir "$QPOST_HOME/control/tlssni"
	cat "$CERTS/sni.example.key" "$CERTS/sni.example.crt" > "$QPOST_HOME/control/tlssni/sni.example.pem"
	run sh -c "printf 'QUIT\n' | openssl s_client -connect 127.0.0.1:$PORT -servername SNI.example 2>&1"
	assert_output --partial 'subject=CN = sni.example'
	run sh -c "printf 'QUIT\n' | openssl s_client -connect 127.0.0.1:$PORT -servername other.example 2>&1"
	assert_output --partial 'subject=CN = test.example'
	grep -q 'sni sni.example$' "$LOG"
	grep -q 'sni other.example$' "$LOG"
}

@test "certificate missing, mismatched or garbage: STARTTLS not offered on 25, 465 refuses, a clear log line, no crash loop" {
	qpost_setup
	tls_certs
	tls_start
	run raw 'EHLO c.example\r\nQUIT\r\n'
	refute_output --partial STARTTLS
	assert_output --partial '250 ENHANCEDSTATUSCODES'
	grep -q "^tlsd: warning: unable to use control/tlscert.pem or control/tlskey.pem: No such file or directory; STARTTLS not offered" "$LOG"
	# the key of another certificate
	cp "$CERTS/test.example.crt" "$QPOST_HOME/control/tlscert.pem"
	cp "$CERTS/other.example.key" "$QPOST_HOME/control/tlskey.pem"
	run raw 'EHLO c.example\r\nQUIT\r\n'
	refute_output --partial STARTTLS
	grep -q "tlskey.pem: .*; STARTTLS not offered" "$LOG"
	# garbage key
	echo garbage > "$QPOST_HOME/control/tlskey.pem"
	run raw 'EHLO c.example\r\nQUIT\r\n'
	refute_output --partial STARTTLS
	assert_output --partial '221 2.0.0'
	tls_start -i
	run tlsc --implicit 'EHLO c.example'
	assert_failure
	grep -q "^tlsd: fatal: unable to use control/tlscert.pem or control/tlskey.pem: .*; connection from 127.0.0.1 closed" "$LOG"
	# the renewed certificate is used at the next connection, no restart
	cp "$CERTS/test.example.key" "$QPOST_HOME/control/tlskey.pem"
	run tlsc --implicit 'EHLO c.example' QUIT
	assert_success
	assert_output --partial '221 2.0.0'
}

@test "only tlsd links OpenSSL: smtpd and the checkers do not" {
	tls_certs
	qpost_setup
	run ldd "$QPOST_HOME/bin/tlsd"
	assert_output --partial libssl.so.3
	for p in smtpd checkpw checkdovecot queue; do
		run ldd "$QPOST_HOME/bin/$p"
		refute_output --partial libssl
		refute_output --partial libcrypto
	done
}

@test "a key the smtpd account cannot read: STARTTLS not offered, the log says Permission denied" {
	[ "$(id -u)" = 0 ] || skip "needs root to run tlsd as another user"
	qpost_setup
	tls_install
	chmod 600 "$QPOST_HOME/control/tlskey.pem"	# root's alone
	chmod o+x "$BATS_RUN_TMPDIR" "$BATS_TEST_TMPDIR"
	[ -z "${QPOST_SANITIZE:-}" ] || chmod 1777 "$BATS_TEST_TMPDIR/san"
	PORT=$(free_port)
	LOG=$BATS_TEST_TMPDIR/smtpd.log
	spawn tcpserver -u "$(id -u nobody)" -g "$(id -g nobody)" -R -H -l0 \
	    127.0.0.1 "$PORT" "$QPOST_HOME/bin/tlsd" "$QPOST_HOME/bin/smtpd" 2>>"$LOG"
	wait_port "$PORT"
	run raw 'EHLO c.example\r\nQUIT\r\n'
	assert_output --partial '250 ENHANCEDSTATUSCODES'
	refute_output --partial STARTTLS
	grep -q 'unable to use control/tlscert.pem or control/tlskey.pem: Permission denied; STARTTLS not offered' "$LOG"
}
