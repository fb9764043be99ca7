#!/usr/bin/env bats
# remote's TLS client (docs/remote.md, "TLS"): opportunistic STARTTLS,
# control/tlsdestinations (none may encrypt verify), the fallback to clear
# text, certificate checks, downgrade memory and the authenticated
# smarthost, against real peers on loopback: aiosmtpd with an SSL context
# (tests/remote-peer.py), a second qpost (tcpserver + tlsd + smtpd) and a
# private Postfix smtpd.  DNS: dnsmasq (tests/remote-lib.bash), so
# mx.one.test is 127.0.0.1.  DANE: tests/dane.bats.

load helper
load remote-lib
load tlsout-lib
load postfix-lib

setup() {
	remote_setup
	tlsout_certs
	MSG=$T/msg
	printf 'Subject: tls\n\nline one\n.dot\n' > "$MSG"
}

teardown() {
	pf_stop
	qpost_teardown
}

# delivered_tls DIR - the peer got the message byte-exact, over TLS
delivered_tls() {
	[ "$(cat "$1/1.msg")" = "$(printf 'Subject: tls\r\n\r\nline one\r\n.dot\r')" ]
	grep -q '^TLSv1\.[23] ' "$1/1.tls"
}

qempty() { [ "$(queue_count)" = 0 ]; }

# nothing_in DIR - the peer got no message at all
nothing_in() {
	[ -z "$(ls "$1")" ]
}

@test "tls-out: STARTTLS when offered (may, the default): byte-exact over TLSv1.3, EHLO again, the report says TLS and verify=none" {
	tpeer "$T/got" self.crt --require-tls
	run remote one.test from@x.example a@one.test
	assert_success
	[ "$(codes)" = rK ]
	delivered_tls "$T/got"
	run reports
	assert_line --index 1 --regexp '^K2\.0\.0 mx\.one\.test\[127\.0\.0\.1\]:[0-9]+ TLS=TLSv1\.3:TLS_[A-Z0-9_]+ verify=none name=mx\.one\.test accepted the message: 250 2\.0\.0 queued as 1 \|'
}

@test "tls-out: a clear-text peer still gets the mail under may; the report says TLS=no" {
	peer 127.0.0.1 "$T/got"
	run remote one.test from@x.example a@one.test
	[ "$(codes)" = rK ]
	grep -qx none "$T/got/1.tls"
	run reports
	assert_line --index 1 --partial ' TLS=no accepted the message: 250'
}

@test "tls-out: policy none never starts TLS even when offered" {
	tlspolicy 'one.test:none' ':encrypt'
	tpeer "$T/got" self.crt
	run remote one.test from@x.example a@one.test
	[ "$(codes)" = rK ]
	grep -qx none "$T/got/1.tls"
}

@test "tls-out: STARTTLS then a broken handshake: under may logged and the same MX retried in clear; under encrypt deferred 4.7.5 naming the policy, nothing sent" {
	tpeer "$T/got" self.crt --starttls-fail garbage
	run remote one.test from@x.example a@one.test
	[ "$(codes)" = rK ]
	grep -qx none "$T/got/1.tls"
	grep -q 'TLS handshake failed: .*; policy may (the default)' "$T/err"
	grep -q 'trying mx.one.test\[127.0.0.1\]:[0-9]* again without TLS' "$T/err"
	rm -f "$T/got"/*
	tlspolicy '.test:may' 'one.test:encrypt'
	run remote one.test from@x.example a@one.test
	[ "$(codes)" = sZ ]
	nothing_in "$T/got"
	run reports
	assert_line --index 1 --regexp '^Z4\.7\.5 mx\.one\.test\[127\.0\.0\.1\]:[0-9]+ TLS handshake failed: .*; policy encrypt \(control/tlsdestinations\)$'
}

@test "tls-out: a peer that drops the connection after STARTTLS: clear retry under may, deferred under encrypt" {
	tpeer "$T/got" self.crt --starttls-fail drop
	run remote one.test from@x.example a@one.test
	[ "$(codes)" = rK ]
	grep -qx none "$T/got/1.tls"
	grep -q 'again without TLS' "$T/err"
	rm -f "$T/got"/*
	tlspolicy 'one.test:encrypt'
	run remote one.test from@x.example a@one.test
	[ "$(codes)" = sZ ]
	nothing_in "$T/got"
	run reports
	assert_line --index 1 --partial 'closed the connection after STARTTLS; policy encrypt (control/tlsdestinations)'
}

@test "tls-out: encrypt to a peer without STARTTLS defers 4.7.4, nothing in clear; encrypt with an untrusted certificate delivers" {
	peer 127.0.0.1 "$T/got"
	tlspolicy 'one.test:encrypt'
	run remote one.test from@x.example a@one.test
	[ "$(codes)" = sZ ]
	nothing_in "$T/got"
	run reports
	assert_line --index 1 --regexp '^Z4\.7\.4 mx\.one\.test\[127\.0\.0\.1\]:[0-9]+ did not offer STARTTLS; policy encrypt \(control/tlsdestinations\)'
	kill "$PEER"
	wait "$PEER" 2>/dev/null || true
	tpeer "$T/got" self.crt
	run remote one.test from@x.example a@one.test
	[ "$(codes)" = rK ]
	delivered_tls "$T/got"
}

@test "tls-out: verify against control/tlscafile: a valid certificate for the MX name delivers (verify=trusted)" {
	tlspolicy 'one.test:verify'
	echo "$CERTS/ca.crt" > "$QPOST_HOME/control/tlscafile"
	tpeer "$T/got" mx.crt
	run remote one.test from@x.example a@one.test
	[ "$(codes)" = rK ]
	delivered_tls "$T/got"
	run reports
	assert_line --index 1 --partial 'verify=trusted name=mx.one.test accepted'
	# a relative name is relative to the home, whatever remote's
	# directory (under qpost-spawn it is the service's), as for the
	# MTA-STS fetch
	cp "$CERTS/ca.crt" "$QPOST_HOME/control/ca.pem"
	echo control/ca.pem > "$QPOST_HOME/control/tlscafile"
	cd /
	run remote one.test from@x.example a@one.test
	[ "$(codes)" = rK ]
	run reports
	assert_line --index 1 --partial 'verify=trusted name=mx.one.test accepted'
	[ -s "$T/got/2.msg" ]
}

@test "tls-out: verify: an expired certificate, a wrong-name one and a self-signed one each defer 4.7.5 with the reason and the policy" {
	tlspolicy 'one.test:verify'
	echo "$CERTS/ca.crt" > "$QPOST_HOME/control/tlscafile"
	local c why
	for c in exp.crt:'certificate has expired' \
	    wrong.crt:'hostname mismatch' \
	    self.crt:'self-signed certificate'; do
		why=${c#*:}
		tpeer "$T/got" "${c%%:*}"
		run remote one.test from@x.example a@one.test
		[ "$(codes)" = sZ ]
		nothing_in "$T/got"
		run reports
		assert_line --index 1 --regexp "^Z4\\.7\\.5 mx\\.one\\.test\\[127\\.0\\.0\\.1\\]:[0-9]+ TLS=TLSv1\\.3:[A-Z0-9_]+ verify=failed name=[a-z.]+ certificate verification failed: $why; policy verify \\(control/tlsdestinations\\)"
		kill "$PEER"
		wait "$PEER" 2>/dev/null || true
	done
}

@test "tls-out: verify with a pinned public-key fingerprint (fp=): a match delivers (verify=fingerprint), another key defers" {
	local fp
	fp=$(spki_sha256 "$CERTS/self.crt")
	tlspolicy "one.test:verify fp=$fp"
	tpeer "$T/got" self.crt
	run remote one.test from@x.example a@one.test
	[ "$(codes)" = rK ]
	run reports
	assert_line --index 1 --partial 'verify=fingerprint'
	rm -f "$T/got"/*
	tlspolicy "one.test:verify fp=$(spki_sha256 "$CERTS/ca.crt")"
	run remote one.test from@x.example a@one.test
	[ "$(codes)" = sZ ]
	nothing_in "$T/got"
	run reports
	assert_line --index 1 --partial 'certificate does not match the pinned fingerprint'
}

@test "tls-out: a malformed control/tlsdestinations defers every domain 4.7.5 and names the line" {
	tlspolicy 'other.test:encrypt' 'one.test:sometimes'
	peer 127.0.0.1 "$T/got"
	run remote one.test from@x.example a@one.test
	[ "$(codes)" = sZ ]
	nothing_in "$T/got"
	run reports
	assert_line --index 1 --partial '4.7.5 bad line in control/tlsdestinations'
	assert_line --index 1 --partial 'one.test:sometimes'
	tlspolicy 'one.test:verify fp=00'
	run remote one.test from@x.example a@one.test
	[ "$(codes)" = sZ ]
}

@test "tls-out: downgrade memory: after a TLS delivery remote/tls/one.test exists; a later peer without STARTTLS is logged loudly, and deferred with control/tlsdowngrade 1" {
	[ -d "$QPOST_HOME/remote/tls" ]
	tpeer "$T/got" self.crt
	run remote one.test from@x.example a@one.test
	[ "$(codes)" = rK ]
	[ -f "$QPOST_HOME/remote/tls/one.test" ]
	kill "$PEER"
	wait "$PEER" 2>/dev/null || true
	rm -f "$T/got"/*
	peer 127.0.0.1 "$T/got"
	run remote ONE.test from@x.example a@one.test
	[ "$(codes)" = rK ]
	grep -q 'warning: DOWNGRADE? ONE.test spoke TLS before but mx.one.test\[127.0.0.1\]:[0-9]* offers no STARTTLS' "$T/err"
	rm -f "$T/got"/*
	echo 1 > "$QPOST_HOME/control/tlsdowngrade"
	run remote one.test from@x.example a@one.test
	[ "$(codes)" = sZ ]
	nothing_in "$T/got"
	run reports
	assert_line --index 1 --partial '4.7.4 mx.one.test[127.0.0.1]:'"$PORT"' did not offer STARTTLS; downgrade memory: one.test spoke TLS before (control/tlsdowngrade)'
	# a domain never seen over TLS is not held back
	run remote two.test from@x.example a@two.test
	[ "$(codes)" = rK ]
}

# relay_auth ROUTE - smarthost route to 127.0.0.1:$PORT and credentials
relay_auth() {
	echo ":[127.0.0.1]:$PORT$1" > "$QPOST_HOME/control/smtproutes"
	echo '[127.0.0.1] kim s3cret pass' > "$QPOST_HOME/control/smtpauth"
}

@test "tls-out: smarthost with AUTH over STARTTLS (:starttls, or port 587): delivered, logged in, the password nowhere in the reports or the log" {
	relay_auth :starttls
	tpeer "$T/got" self.crt --auth 'kim:s3cret pass'
	run remote far.example from@x.example a@far.example
	[ "$(codes)" = rK ]
	grep -qx 'auth kim' "$T/got/1.tls"
	grep -q '^TLSv1\.3 ' "$T/got/1.tls"
	! grep -q s3cret "$T/rep" "$T/err"
	rm -f "$T/got"/*
	echo '[127.0.0.1] kim wrong' > "$QPOST_HOME/control/smtpauth"
	run remote far.example from@x.example a@far.example
	[ "$(codes)" = sZ ]
	nothing_in "$T/got"
	run reports
	assert_line --index 1 --regexp '^Z4\.7\.8 \[127\.0\.0\.1\]\[127\.0\.0\.1\]:[0-9]+ TLS=TLSv1\.3:[^ ]+ verify=none name=mx\.one\.test refused the credentials of control/smtpauth \(bad user name or password\?\): 535 5\.7\.8 Authentication credentials invalid'
	! grep -q wrong "$T/rep" "$T/err"
}

@test "tls-out: smarthost with TLS on connect (:tls, or port 465) and AUTH LOGIN where PLAIN is not offered" {
	relay_auth :tls
	tpeer "$T/got" self.crt --implicit --auth 'kim:s3cret pass' --login-only
	run remote far.example from@x.example a@far.example
	[ "$(codes)" = rK ]
	grep -qx 'auth kim' "$T/got/1.tls"
	grep -q '^TLSv1\.3 ' "$T/got/1.tls"
}

@test "tls-out: credentials are never sent in clear: a relay without STARTTLS defers 4.7.4, nothing sent" {
	relay_auth ''
	peer 127.0.0.1 "$T/got"
	run remote far.example from@x.example a@far.example
	[ "$(codes)" = sZ ]
	nothing_in "$T/got"
	run reports
	assert_line --index 1 --partial 'did not offer STARTTLS; credentials in control/smtpauth are sent over TLS only'
	! grep -q s3cret "$T/rep" "$T/err"
	# a bad route option is a temporary failure of its own
	echo ":[127.0.0.1]:$PORT:tsl" > "$QPOST_HOME/control/smtproutes"
	run remote far.example from@x.example a@far.example
	[ "$(codes)" = sZ ]
	run reports
	assert_line --index 1 --partial 'bad port in control/smtproutes'
}

# pf_peer LEVEL - a private Postfix whose smtpd listens on 127.0.0.1:$PORT
# with smtpd_tls_security_level = LEVEL (self.crt) and delivers one.test
# into the Maildir $PF/data/box/ (tests/postfix-lib.bash)
pf_peer() {
	PF_MAIN="smtpd_tls_security_level = $1
smtpd_tls_cert_file = \$config_directory/cert.pem
smtpd_tls_key_file = \$config_directory/key.pem
smtpd_tls_received_header = yes
smtpd_tls_loglevel = 1
smtpd_relay_restrictions = reject_unauth_destination
virtual_mailbox_domains = one.test
virtual_mailbox_base = \$data_directory
virtual_mailbox_maps = static:box/
virtual_uid_maps = static:$(id -u postfix)
virtual_gid_maps = static:$(id -g postfix)"
	PF_MASTER="127.0.0.1:$PORT inet n - n - - smtpd
virtual unix - n n - - virtual"
	pf_start 9	# its relayhost is not used
	cp "$CERTS/self.crt" "$PFCONF/cert.pem"
	cp "$CERTS/mx.key" "$PFCONF/key.pem"
	wait_port "$PORT"
}

# pf_box - the one message in the Postfix peer's Maildir
pf_box() {
	cat "$PF"/data/box/new/*
}

@test "tls-out: to Postfix smtpd with smtpd_tls_security_level = may and = encrypt: delivered over TLS, the bytes in its Maildir, its Received says TLSv1.3" {
	[ "$(id -u)" = 0 ] || skip "a private Postfix instance needs root"
	local level
	echo 20 > "$QPOST_HOME/control/timeoutremote"
	for level in may encrypt; do
		pf_peer "$level"
		run remote one.test from@x.example "$level@one.test"
		[ "$(codes)" = rK ]
		run reports
		assert_line --index 1 --partial 'TLS=TLSv1.3:'
		# show Postfix's log if it did not deliver
		wait_for 30 nonempty_dir "$PF/data/box/new" ||
		    { cat "$PF/maillog" >&2; false; }
		run pf_box
		assert_output --regexp $'\\(using TLSv1\\.3 with cipher TLS_[A-Z0-9_]+ \\([0-9]+/[0-9]+ bits\\)'
		assert_output --partial "for <$level@one.test>"
		[ "$(pf_box | sed '1,/^$/d')" = "$(printf 'line one\n.dot')" ]
		pf_stop
	done
}

@test "tls-out: to a second qpost (tcpserver + tlsd + smtpd): queued there with ESMTPS, tlsd logs TLSv1.3" {
	local P=$T/peer
	sh "$QPOST_SRC/scripts/install-home" "$P" >/dev/null
	echo peer.test > "$P/control/me"
	echo one.test > "$P/control/rcpthosts"
	cp "$CERTS/self.crt" "$P/control/tlscert.pem"
	install -m 600 "$CERTS/mx.key" "$P/control/tlskey.pem"
	spawn env QPOST_HOME="$P" tcpserver -R -H -l0 127.0.0.1 "$PORT" \
	    "$P/bin/tlsd" "$P/bin/smtpd" 2>>"$T/peer.log" 3>&-
	wait_port "$PORT"
	run remote one.test from@x.example a@one.test
	[ "$(codes)" = rK ]
	run reports
	assert_line --index 1 --regexp 'TLS=TLSv1\.3:TLS_[A-Z0-9_]+ verify=none name=mx\.one\.test accepted the message: 250'
	run sh -c "find \"\$1/queue/new\" \"\$1/queue/mess\" -type f | xargs cat" - "$P"
	assert_output --regexp 'by peer\.test \(qpost smtpd\) with ESMTPS; '
	assert_output --partial $'line one\n.dot\n'
	grep -q '^tlsd: tls ip 127.0.0.1 proto TLSv1.3 cipher TLS_' "$T/peer.log"
}

@test "tls-out: under send, mail that policy encrypt keeps from clear text stays queued, and the bounce after queuelifetime names the policy" {
	peer 127.0.0.1 "$T/got"
	tlspolicy 'one.test:encrypt'
	printf '%s\n' '#!/bin/sh' "cat > '$T/bounce.msg'" \
	    "cat <&1 > '$T/bounce.env.tmp'" \
	    "mv '$T/bounce.env.tmp' '$T/bounce.env'" > "$T/qstub"
	chmod +x "$T/qstub"
	export QPOST_QUEUE=$T/qstub
	echo 2 > "$QPOST_HOME/control/queuelifetime"
	spawn "$QPOST_HOME/bin/send" 2>> "$T/send.log"
	printf 'Subject: secret\n\nhello\n' | enqueue s@test.example a@one.test
	wait_for 20 grep -q 'deferral: msg .* <a@one\.test> .*did not offer STARTTLS; policy encrypt' "$T/send.log"
	[ "$(queue_count)" = 1 ]
	wait_for 30 test -e "$T/bounce.env"
	nothing_in "$T/got"
	run cat "$T/bounce.msg"
	assert_output --partial 'Status: 4.7.4'
	assert_output --partial 'did not offer STARTTLS; policy encrypt (control/tlsdestinations)'
	wait_for 10 qempty
}

@test "tls-out: verify to an address literal checks the address: a certificate for a name only defers" {
	tlspolicy ':verify'
	echo "$CERTS/ca.crt" > "$QPOST_HOME/control/tlscafile"
	echo ":[127.0.0.1]:$PORT" > "$QPOST_HOME/control/smtproutes"
	tpeer "$T/got" mx.crt
	run remote far.example from@x.example a@far.example
	[ "$(codes)" = sZ ]
	nothing_in "$T/got"
	run reports
	assert_line --index 1 --partial 'certificate verification failed: IP address mismatch; policy verify'
}

# sts_serve - the HTTPS server of the MTA-STS policies (tests/mtasts-https.py)
# on 127.0.0.28:443 with a certificate of the test CA for the three
# mta-sts.* names; control/tlscafile is that CA, for the fetch and for
# the exchanger's certificate
sts_serve() {
	local w=$T/www d
	openssl req -new -key "$CERTS/mx.key" -out "$T/sts.csr" \
	    -subj /CN=mta-sts.sts.test 2>/dev/null
	printf 'subjectAltName=DNS:mta-sts.sts.test,DNS:mta-sts.ststest.test,DNS:mta-sts.stsother.test\n' > "$T/sts.ext"
	openssl x509 -req -in "$T/sts.csr" -CA "$CERTS/ca.crt" \
	    -CAkey "$CERTS/ca.key" -CAcreateserial -days 2 \
	    -extfile "$T/sts.ext" -out "$T/sts.crt" 2>/dev/null
	for d in sts ststest stsother; do mkdir -p "$w/mta-sts.$d.test"; done
	printf 'version: STSv1\nmode: enforce\nmx: mx.one.test\nmax_age: 86400\n' > "$w/mta-sts.sts.test/policy"
	printf 'version: STSv1\nmode: testing\nmx: mx.one.test\nmax_age: 86400\n' > "$w/mta-sts.ststest.test/policy"
	printf 'version: STSv1\nmode: enforce\nmx: *.other.test\nmax_age: 86400\n' > "$w/mta-sts.stsother.test/policy"
	spawn "$PY" "$QPOST_SRC/tests/mtasts-https.py" 127.0.0.28 443 \
	    "$T/sts.crt" "$CERTS/mx.key" "$w" 3>&-
	wait_port 443 127.0.0.28
	echo "$CERTS/ca.crt" > "$QPOST_HOME/control/tlscafile"
}

@test "tls-out: MTA-STS enforce: fetched over HTTPS and cached, then TLS with a certificate valid for the listed MX (verify=mta-sts)" {
	[ "$(id -u)" = 0 ] || skip "the policy server needs port 443"
	sts_serve
	tpeer "$T/got" mx.crt
	run remote sts.test from@x.example a@sts.test
	[ "$(codes)" = rK ]
	delivered_tls "$T/got"
	run reports
	assert_line --index 1 --partial 'verify=mta-sts name=mx.one.test accepted'
	grep -q '^mode: enforce' "$QPOST_HOME/mtasts/sts.test"
	grep -q '^mta-sts.sts.test /.well-known/mta-sts.txt$' "$T/www/requests.log"
}

@test "tls-out: MTA-STS enforce: a wrong-name certificate defers 4.7.5 naming the policy, nothing sent; an MX the policy does not list is not used" {
	[ "$(id -u)" = 0 ] || skip "the policy server needs port 443"
	sts_serve
	tpeer "$T/got" wrong.crt
	run remote sts.test from@x.example a@sts.test
	[ "$(codes)" = sZ ]
	nothing_in "$T/got"
	run reports
	assert_line --index 1 --regexp '^Z4\.7\.5 .*verify=failed.*hostname mismatch.*MTA-STS'
	kill "$PEER"
	wait "$PEER" 2>/dev/null || true
	tpeer "$T/got" mx.crt
	run remote stsother.test from@x.example a@stsother.test
	[ "$(codes)" = sZ ]
	nothing_in "$T/got"
	run reports
	assert_line --index 1 --partial '4.7.5 MTA-STS policy (enforce) of stsother.test lists none of its MX hosts'
	grep -q 'MTA-STS enforce: stsother.test: MX mx.one.test is not in the policy; not used' "$T/err"
}

@test "tls-out: MTA-STS testing: a wrong-name certificate still delivers over TLS, and the log says what enforce would have refused" {
	[ "$(id -u)" = 0 ] || skip "the policy server needs port 443"
	sts_serve
	tpeer "$T/got" wrong.crt
	run remote ststest.test from@x.example a@ststest.test
	[ "$(codes)" = rK ]
	delivered_tls "$T/got"
	grep -i 'hostname mismatch' "$T/err"
}

@test "tls-out: smarthost: a second qpost as the submission relay (tlsd + smtpd SUBMISSION=1 + checkpw): AUTH over STARTTLS, queued there as ESMTPSA for the user; a wrong password defers 4.7.8" {
	local P=$T/relay
	sh "$QPOST_SRC/scripts/install-home" "$P" >/dev/null
	echo relay.test > "$P/control/me"
	cp "$CERTS/self.crt" "$P/control/tlscert.pem"
	install -m 600 "$CERTS/mx.key" "$P/control/tlskey.pem"
	echo 's3cret pass' | QPOST_HOME=$P "$P/bin/qpost-tool" passwd add from@x.example >/dev/null
	spawn env QPOST_HOME="$P" SUBMISSION=1 tcpserver -R -H -l0 127.0.0.1 \
	    "$PORT" "$P/bin/tlsd" "$P/bin/smtpd" "$P/bin/checkpw" \
	    2>>"$T/relay.log" 3>&-
	wait_port "$PORT"
	# submission: the sender must be the user's own address
	relay_auth :starttls
	echo '[127.0.0.1] from@x.example s3cret pass' > "$QPOST_HOME/control/smtpauth"
	run remote far.example from@x.example a@far.example
	[ "$(codes)" = rK ]
	run sh -c "find \"\$1/queue/new\" \"\$1/queue/mess\" -type f | xargs cat" - "$P"
	assert_output --regexp 'by relay\.test \(qpost smtpd\) with ESMTPSA; '
	assert_output --partial $'line one\n.dot\n'
	grep -q '^smtpd: auth ip 127.0.0.1 user from@x.example mech PLAIN$' "$T/relay.log"
	! grep -q s3cret "$T/rep" "$T/err" "$T/relay.log"
	echo '[127.0.0.1] from@x.example wrong' > "$QPOST_HOME/control/smtpauth"
	run remote far.example from@x.example a@far.example
	[ "$(codes)" = sZ ]
	run reports
	assert_line --index 1 --partial 'refused the credentials of control/smtpauth'
	assert_line --index 1 --partial '535 5.7.8'
}
