#!/usr/bin/env bats
# remote and DANE (RFC 7672) against a real DNSSEC chain on loopback:
# the zone sec.test signed with ldns-keygen + ldns-signzone and served by
# nsd, plain.test served unsigned by the same nsd, and a real unbound
# validating with sec.test's KSK as its trust anchor (stub zones to nsd,
# do-not-query-localhost: no).  remote asks unbound (QPOST_DNS) and
# trusts its AD bit.  The TLSA records are made from the test
# certificates' public keys (tests/tlsout-lib.bash).
#
#   ee.sec.test     MX mx-ee     TLSA 3 1 1 of mx.key (matches)
#   bad.sec.test    MX mx-bad    TLSA 3 1 1 of the CA's key (does not)
#   ta.sec.test     MX mx-ta     TLSA 2 1 1 of the test CA
#   bogus.sec.test  MX mx-bogus  TLSA 3 1 1 of mx.key, RRSIG tampered
#   nodane.sec.test MX mx-none   no TLSA (signed: authenticated denial)
#   plain.test      MX mx        TLSA 3 1 1 of the CA's key, unsigned zone
#
# Ports (this file's own, from 26000-26999): SMTP peer 26025, nsd
# 26053, unbound 26054.  The TLSA names carry the SMTP port.

load helper
load remote-lib
load tlsout-lib

SMTP=26025
NSD=26053
UNB=26054

setup_file() {
	command -v nsd >/dev/null && command -v unbound >/dev/null &&
	    command -v ldns-signzone >/dev/null || return 0
	tlsout_certs
	local D=$BATS_FILE_TMPDIR/dns ee ca
	mkdir -p "$D"
	ee=$(spki_sha256 "$CERTS/mx.crt")
	ca=$(spki_sha256 "$CERTS/ca.crt")
	(
	cd "$CERTS" || exit 1
	openssl req -new -key mx.key -out ta.csr -subj /CN=mx-ta.sec.test \
	    -addext subjectAltName=DNS:mx-ta.sec.test 2>/dev/null
	openssl ca -batch -config ca.cnf -cert ca.crt -keyfile ca.key \
	    -in ta.csr -out ta.crt -notext -days 30 >/dev/null 2>&1
	cat ta.crt ca.crt > ta.chain
	) || return 1
	cat > "$D/sec.test" <<-Z
	\$ORIGIN sec.test.
	\$TTL 300
	@ SOA ns.sec.test. host.sec.test. 1 3600 600 86400 300
	@ NS ns.sec.test.
	ns A 127.0.0.1
	ee MX 10 mx-ee
	bad MX 10 mx-bad
	ta MX 10 mx-ta
	bogus MX 10 mx-bogus
	nodane MX 10 mx-none
	mx-ee A 127.0.0.1
	mx-bad A 127.0.0.1
	mx-ta A 127.0.0.1
	mx-bogus A 127.0.0.1
	mx-none A 127.0.0.1
	_$SMTP._tcp.mx-ee TLSA 3 1 1 $ee
	_$SMTP._tcp.mx-bad TLSA 3 1 1 $ca
	_$SMTP._tcp.mx-ta TLSA 2 1 1 $ca
	_$SMTP._tcp.mx-bogus TLSA 3 1 1 $ee
	Z
	cat > "$D/plain.test" <<-Z
	\$ORIGIN plain.test.
	\$TTL 300
	@ SOA ns.plain.test. host.plain.test. 1 3600 600 86400 300
	@ NS ns.plain.test.
	ns A 127.0.0.1
	@ MX 10 mx
	mx A 127.0.0.1
	_$SMTP._tcp.mx TLSA 3 1 1 $ca
	Z
	(
	cd "$D" || exit 1
	zsk=$(ldns-keygen -a ECDSAP256SHA256 sec.test)
	ksk=$(ldns-keygen -a ECDSAP256SHA256 -k sec.test)
	ldns-signzone -n sec.test "$zsk" "$ksk" >/dev/null
	# the trust anchor: the KSK's DS record
	cp "$ksk.ds" anchor.ds
	# spoil the signature over mx-bogus's TLSA: base64 A<->B in the middle
	awk -v n="_$SMTP._tcp.mx-bogus.sec.test." '
	    $1 == n && $4 == "RRSIG" && $5 == "TLSA" {
		s = $NF; i = int(length(s) / 2)
		c = substr(s, i, 1); c = (c == "A") ? "B" : "A"
		$NF = substr(s, 1, i - 1) c substr(s, i + 1)
	    } { print }' sec.test.signed > sec.test.tampered
	mv sec.test.tampered sec.test.signed
	) || return 1
	cat > "$D/nsd.conf" <<-C
	server:
	    ip-address: 127.0.0.1@$NSD
	    username: ""
	    database: ""
	    zonelistfile: "$D/zone.list"
	    xfrdfile: "$D/xfrd.state"
	    pidfile: "$D/nsd.pid"
	    logfile: "$D/nsd.log"
	    zonesdir: "$D"
	    verbosity: 1
	remote-control:
	    control-enable: no
	zone:
	    name: sec.test
	    zonefile: sec.test.signed
	zone:
	    name: plain.test
	    zonefile: plain.test
	C
	cat > "$D/unbound.conf" <<-C
	server:
	    interface: 127.0.0.1
	    port: $UNB
	    do-ip6: no
	    do-not-query-localhost: no
	    username: ""
	    chroot: ""
	    directory: "$D"
	    pidfile: "$D/unbound.pid"
	    use-syslog: no
	    logfile: "$D/unbound.log"
	    verbosity: 1
	    val-log-level: 2
	    access-control: 127.0.0.0/8 allow
	    module-config: "validator iterator"
	    trust-anchor-file: "$D/anchor.ds"
	    qname-minimisation: no
	    harden-dnssec-stripped: yes
	    local-zone: "test." nodefault
	remote-control:
	    control-enable: no
	stub-zone:
	    name: "sec.test"
	    stub-addr: 127.0.0.1@$NSD
	stub-zone:
	    name: "plain.test"
	    stub-addr: 127.0.0.1@$NSD
	C
	nsd -d -c "$D/nsd.conf" 3>&- &
	echo $! > "$BATS_FILE_TMPDIR/nsd.pid"
	unbound -d -c "$D/unbound.conf" 3>&- 2>>"$D/unbound.log" &
	echo $! > "$BATS_FILE_TMPDIR/unbound.pid"
	local i=0
	until drill -p "$UNB" @127.0.0.1 ee.sec.test MX 2>/dev/null |
	    grep -q 'MX.*mx-ee'; do
		i=$((i + 1))
		[ "$i" -lt 100 ] || { cat "$D"/*.log >&2; return 1; }
		sleep 0.1
	done
}

teardown_file() {
	local f pid
	for f in nsd unbound; do
		[ -f "$BATS_FILE_TMPDIR/$f.pid" ] || continue
		pid=$(cat "$BATS_FILE_TMPDIR/$f.pid")
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}

setup() {
	command -v nsd >/dev/null && command -v unbound >/dev/null &&
	    command -v ldns-signzone >/dev/null ||
	    skip "nsd, unbound and ldnsutils are needed"
	qpost_setup
	T=$BATS_TEST_TMPDIR
	PORT=$SMTP
	echo "$PORT" > "$QPOST_HOME/control/remoteport"
	export QPOST_DNS=127.0.0.1:$UNB
	CERTS=$BATS_FILE_TMPDIR/oc
	mkdir -p "$T/got"
	MSG=$T/msg
	printf 'Subject: dane\n\nbody\n' > "$MSG"
}

teardown() { qpost_teardown; }

@test "dane: the validating resolver's chain works: MX secure (AD), bogus TLSA SERVFAIL, unsigned zone insecure" {
	run drill -D -p "$UNB" @127.0.0.1 ee.sec.test MX
	assert_output --regexp 'flags: qr rd ra ad ;'
	run drill -p "$UNB" @127.0.0.1 "_$SMTP._tcp.mx-bogus.sec.test" TLSA
	assert_output --partial 'rcode: SERVFAIL'
	run drill -D -p "$UNB" @127.0.0.1 plain.test MX
	assert_output --partial 'rcode: NOERROR'
	refute_output --regexp 'flags: [a-z ]* ad ;'
}

@test "dane: a matching DANE-EE 3 1 1 record: delivered over TLS, verify=dane (though the certificate is self-signed)" {
	tpeer "$T/got" self.crt
	run remote ee.sec.test from@x.example a@ee.sec.test
	[ "$(codes)" = rK ]
	grep -q '^TLSv1\.3 ' "$T/got/1.tls"
	run reports
	assert_line --index 1 --partial 'mx-ee.sec.test[127.0.0.1]:26025 TLS=TLSv1.3:'
	assert_line --index 1 --partial ' verify=dane '
}

@test "dane: a TLSA record that does not match defers 4.7.5, nothing is sent in clear or over TLS" {
	tpeer "$T/got" self.crt
	run remote bad.sec.test from@x.example a@bad.sec.test
	[ "$(codes)" = sZ ]
	[ -z "$(ls "$T/got")" ]
	run reports
	assert_line --index 1 --regexp '^Z4\.7\.5 mx-bad\.sec\.test\[127\.0\.0\.1\]:26025 TLS=[^ ]+ verify=failed name=mx\.one\.test certificate does not match the TLSA records: .*; DANE \(DNSSEC-validated TLSA records, RFC 7672\)'
}

@test "dane: a DANE-TLSA record and a peer without STARTTLS: deferred 4.7.4, never clear text" {
	peer 127.0.0.1 "$T/got"
	run remote ee.sec.test from@x.example a@ee.sec.test
	[ "$(codes)" = sZ ]
	[ -z "$(ls "$T/got")" ]
	run reports
	assert_line --index 1 --partial '4.7.4 mx-ee.sec.test[127.0.0.1]:26025 did not offer STARTTLS; DANE'
}

@test "dane: a handshake failure under DANE is not retried in clear" {
	tpeer "$T/got" self.crt --starttls-fail garbage
	run remote ee.sec.test from@x.example a@ee.sec.test
	[ "$(codes)" = sZ ]
	[ -z "$(ls "$T/got")" ]
	refute [ -n "$(grep 'again without TLS' "$T/err")" ]
}

@test "dane: DANE-TA 2 1 1 of the test CA: a chain to it with the MX name delivers; the same chain for another name defers" {
	tpeer "$T/got" ta.chain
	run remote ta.sec.test from@x.example a@ta.sec.test
	[ "$(codes)" = rK ]
	run reports
	assert_line --index 1 --partial 'verify=dane name=mx-ta.sec.test'
	kill "$PEER"
	wait "$PEER" 2>/dev/null || true
	rm -f "$T/got"/*
	cat "$CERTS/mx.crt" "$CERTS/ca.crt" > "$T/wrongname.chain"
	peer 127.0.0.1 "$T/got" --cert "$T/wrongname.chain" --key "$CERTS/mx.key"
	run remote ta.sec.test from@x.example a@ta.sec.test
	[ "$(codes)" = sZ ]
	[ -z "$(ls "$T/got")" ]
	run reports
	assert_line --index 1 --partial 'certificate does not match the TLSA records'
}

@test "dane: a bogus TLSA answer (tampered RRSIG, the resolver's SERVFAIL) defers 4.7.5 before connecting" {
	tpeer "$T/got" self.crt
	run remote bogus.sec.test from@x.example a@bogus.sec.test
	[ "$(codes)" = sZ ]
	[ -z "$(ls "$T/got")" ]
	run reports
	assert_line --index 1 --partial '4.7.5 mx-bogus.sec.test[127.0.0.1]:26025 TLSA lookup failed (DNSSEC validation failure or server failure)'
}

@test "dane: a signed zone without TLSA and an unsigned zone (with a non-matching TLSA) deliver opportunistically (verify=none)" {
	tpeer "$T/got" self.crt
	run remote nodane.sec.test from@x.example a@nodane.sec.test
	[ "$(codes)" = rK ]
	run reports
	assert_line --index 1 --partial 'verify=none'
	run remote plain.test from@x.example a@plain.test
	[ "$(codes)" = rK ]
	run reports
	assert_line --index 1 --partial 'verify=none'
	[ -f "$T/got/2.msg" ]
}

@test "dane: policy dane requires DANE: an unsigned zone defers; control/tlsdane 0 turns the automatic DANE off" {
	tpeer "$T/got" self.crt
	tlspolicy 'plain.test:dane'
	run remote plain.test from@x.example a@plain.test
	[ "$(codes)" = sZ ]
	run reports
	assert_line --index 1 --partial 'has no DNSSEC-validated MX and address records, so no DANE; policy dane (control/tlsdestinations)'
	echo 0 > "$QPOST_HOME/control/tlsdane"
	run remote bad.sec.test from@x.example a@bad.sec.test
	[ "$(codes)" = rK ]
	run reports
	assert_line --index 1 --partial 'verify=none'
}
