#!/usr/bin/env bats
# DKIM (RFC 6376, RFC 8463; docs/dkim.md): what qpost signs verifies in
# independent verifiers (dkimpy, OpenDKIM's opendkim-testmsg), what they
# sign verifies in qpost's (qpost-tool dkimverify), the RFC 8463 example
# verifies; only our own users' mail is signed; a missing key sends
# unsigned or defers.  Keys come from a real dnsmasq on loopback.

load helper

CHECK="$BATS_TEST_DIRNAME/dkim-check.py"
ODKIM="$BATS_TEST_DIRNAME/odkim-sign.py"
# txt PORT NAME - the TXT record of NAME from 127.0.0.1:PORT
TXTPY='import sys, dns.resolver
r = dns.resolver.Resolver(configure=False)
r.nameservers = ["127.0.0.1"]; r.port = int(sys.argv[1])
print(b"".join(r.resolve(sys.argv[2], "TXT", lifetime=3)[0].strings).decode())'
txt() { "$PY" -c "$TXTPY" "$@"; }

# setup_file - keys for a.test (r1: RSA, e1: Ed25519), made by
# qpost-tool dkimkey, and one dnsmasq serving their TXT records as
# dkimkey prints them, plus the RFC 8463 example's keys
setup_file() {
	K=$BATS_FILE_TMPDIR/keys
	mkdir -p "$K/control"
	QPOST_HOME=$K "$QPOST_SRC/qpost-tool" dkimkey a.test r1 > "$K/r1.txt"
	QPOST_HOME=$K "$QPOST_SRC/qpost-tool" dkimkey a.test e1 ed25519 \
	    > "$K/e1.txt"
	# "NAME. IN TXT "s1" "s2"" -> dnsmasq's txt-record=NAME,"s1","s2"
	for f in "$K/r1.txt" "$K/e1.txt"; do
		head -n 1 "$f" | sed 's/\. IN TXT /,/; s/" "/","/g; s/^/txt-record=/'
	done > "$K/dns.conf"
	cat >> "$K/dns.conf" <<'EOF'
txt-record=brisbane._domainkey.football.example.com,"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
txt-record=test._domainkey.football.example.com,"v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB"
txt-record=revoked._domainkey.a.test,"v=DKIM1; k=rsa; p="
EOF
	DNSPORT=$(free_port)
	/usr/sbin/dnsmasq --keep-in-foreground --no-resolv --no-hosts \
	    --port="$DNSPORT" --listen-address=127.0.0.1 --bind-interfaces \
	    --pid-file= --user=nobody --local=/test/ --local=/example.com/ \
	    --conf-file="$K/dns.conf" 3>&- &
	echo $! > "$BATS_FILE_TMPDIR/dnsmasq.pid"
	export K DNSPORT
	wait_port "$DNSPORT"
}

teardown_file() {
	kill "$(cat "$BATS_FILE_TMPDIR/dnsmasq.pid")" 2>/dev/null || true
}

# setup - a home for a.test whose remote mail goes to an aiosmtpd peer
# (smtproutes), with both keys installed and active, and its send
setup() {
	qpost_setup
	T=$BATS_TEST_TMPDIR
	export QPOST_DNS=127.0.0.1:$DNSPORT
	printf '%s\n' a.test > "$QPOST_HOME/control/me"
	printf '%s\n' a.test localhost > "$QPOST_HOME/control/locals"
	printf '%s\n' a.test > "$QPOST_HOME/control/rcpthosts"
	mkdir -p "$QPOST_HOME/control/dkim/a.test"
	cp -p "$K/control/dkim/a.test/r1.rsa" "$K/control/dkim/a.test/e1.ed25519" \
	    "$QPOST_HOME/control/dkim/a.test/"
	printf 'r1\ne1\n' > "$QPOST_HOME/control/dkim/a.test/selectors"
	PORT=$(free_port)
	echo "b.test:127.0.0.1:$PORT" > "$QPOST_HOME/control/smtproutes"
	mkdir -p "$T/got"
	spawn "$PY" "$QPOST_SRC/tests/remote-peer.py" 127.0.0.1 "$PORT" "$T/got"
	wait_port "$PORT"
	spawn "$QPOST_HOME/bin/send" 2>>"$T/send.log" 3>&-
}

teardown() { qpost_teardown; }

got() { [ -f "$T/got/$1.msg" ]; }
drained() {
	[ "$(find "$QPOST_HOME/queue/new" "$QPOST_HOME/queue/mess" -type f |
	    wc -l)" -eq 0 ]
}

# qverify FILE - qpost's verifier on FILE
qverify() { "$QPOST_HOME/bin/qpost-tool" dkimverify < "$1"; }

# odkim FILE... - opendkim-testmsg on each FILE in a network namespace of
# our own whose resolv.conf names a dnsmasq there on port 53 (the
# library asks the system resolver); prints "FILE rc"
odkim() {
	printf 'nameserver 127.0.0.1\n' > "$T/resolv.conf"
	unshare -rnm sh -c '
	    ip link set lo up && mount --bind "$1" /etc/resolv.conf || exit 99
	    dnsmasq --keep-in-foreground --no-resolv --no-hosts --port=53 \
	        --listen-address=127.0.0.1 --bind-interfaces --pid-file= \
	        --user=root --group= --conf-file="$2" 3>&- & d=$!
	    i=0; until "$3" -c "$4" 53 r1._domainkey.a.test >/dev/null 2>&1 ||
	        [ $i -ge 50 ]; do i=$((i+1)); sleep 0.1; done
	    shift 4
	    for f; do opendkim-testmsg < "$f"; echo "$f $?"; done
	    kill $d' sh "$T/resolv.conf" "$K/dns.conf" "$PY" "$TXTPY" "$@"
}

# a message with folded headers, an 8-bit body, a line over 998 octets
# (remote breaks it on the wire: the signature must cover that), white
# space runs, and no final newline
mkmsg() {
	{
		printf 'From: Joe Sender <joe@a.test>\nTo: kim@b.test,\n\tlee@b.test\n'
		printf 'Subject: a  folded\n   subject  line\nCc: (nobody)\n'
		printf 'X-Not-Signed: x\n\n'
		printf 'caf\303\251 8-bit  line with   runs \t \n\n'
		head -c 1500 /dev/zero | tr '\0' x
		printf '\n.dot line\n\n\nlast line, no newline'
	} > "$T/msg"
}

@test "dkimkey: a 2048-bit RSA and an Ed25519 key, mode 0600 in a single-user home, the TXT record in 255-byte strings; never over an existing key; bad names refused" {
	run stat -c %a "$K/control/dkim/a.test/r1.rsa"
	assert_output 600
	run openssl pkey -in "$K/control/dkim/a.test/r1.rsa" -noout -text
	assert_output --partial 'Private-Key: (2048 bit'
	run openssl pkey -in "$K/control/dkim/a.test/e1.ed25519" -noout -text
	assert_output --partial 'ED25519 Private-Key'
	run head -n 1 "$K/r1.txt"
	assert_output --regexp '^r1\._domainkey\.a\.test\. IN TXT "v=DKIM1; k=rsa; p=[A-Za-z0-9+/]{237}" "[A-Za-z0-9+/=]+"$'
	run head -n 1 "$K/e1.txt"
	assert_output --regexp '^e1\._domainkey\.a\.test\. IN TXT "v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}="$'
	# what dnsmasq serves is what was printed
	run txt "$DNSPORT" r1._domainkey.a.test
	assert_output "$(head -n 1 "$K/r1.txt" | sed 's/.*TXT "//; s/" "//g; s/"$//')"
	mkdir -p "$QPOST_HOME/control"
	run "$QPOST_HOME/bin/qpost-tool" dkimkey a.test r1
	assert_failure 100
	assert_output --partial 'File exists'
	run cmp "$K/control/dkim/a.test/r1.rsa" "$QPOST_HOME/control/dkim/a.test/r1.rsa"
	assert_success
	run "$QPOST_HOME/bin/qpost-tool" dkimkey ../etc r2
	assert_failure 100
	run "$QPOST_HOME/bin/qpost-tool" dkimkey a.test 'x/y'
	assert_failure 100
	run "$QPOST_HOME/bin/qpost-tool" dkimkey a.test r3 dsa
	assert_failure 100
	[ ! -e "$QPOST_HOME/control/dkim/a.test/r3.rsa" ]
	# showctl knows the directory and the knobs
	run "$QPOST_HOME/bin/qpost-tool" showctl
	refute_output --partial 'control/dkim is not a control file'
	assert_output --partial 'dkimdefer ('
}

@test "inject -> send -> remote: RSA and Ed25519 signatures that dkimpy, opendkim-testmsg and qpost verify; a changed body fails in all three" {
	mkmsg
	"$QPOST_HOME/bin/inject" kim@b.test lee@b.test < "$T/msg"
	wait_for 20 got 1
	f=$T/got/1.msg
	run head -n 2 "$f"
	assert_line -n 0 --regexp '^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=a\.test;'
	grep -q 'h=from:from:to:cc:subject:date:message-id;' "$f"
	[ "$(grep -c '^DKIM-Signature: ' "$f")" = 2 ]
	grep -q '^DKIM-Signature: v=1; a=ed25519-sha256;' "$f"
	# the long line went out broken, and is signed as broken
	[ "$(awk 'length > 1000' "$f" | wc -l)" = 0 ]
	run "$PY" "$CHECK" "$DNSPORT" "$f"
	assert_success
	assert_output "pass d=a.test s=r1
pass d=a.test s=e1"
	run qverify "$f"
	assert_success
	assert_line -n 0 --regexp '^pass d=a\.test s=r1 a=rsa-sha256 b=[A-Za-z0-9+/]{16}$'
	assert_line -n 1 --regexp '^pass d=a\.test s=e1 a=ed25519-sha256 b='
	sed 's/last line, no newline/last line, no newlinE/' "$f" > "$T/bad"
	run "$PY" "$CHECK" "$DNSPORT" "$T/bad"
	assert_failure
	assert_output "fail d=a.test s=r1
fail d=a.test s=e1"
	run qverify "$T/bad"
	assert_failure 100
	assert_line -n 0 --partial 'fail d=a.test s=r1 a=rsa-sha256'
	assert_line -n 0 --partial '(body hash did not verify)'
	unshare -rnm true 2>/dev/null ||
	    skip "no user and network namespaces here for opendkim-testmsg's DNS"
	run odkim "$f" "$T/bad"
	assert_line "$f 0"
	assert_line "$T/bad 70"
	wait_for 10 drained
}

@test "empty body and a body of empty lines: signed, and verified by dkimpy, opendkim-testmsg and qpost" {
	printf 'From: joe@a.test\nTo: kim@b.test\nSubject: empty\n\n' > "$T/m1"
	printf 'From: joe@a.test\nTo: kim@b.test\nSubject: blank\n\n\n\n\n' > "$T/m2"
	"$QPOST_HOME/bin/inject" kim@b.test < "$T/m1"
	wait_for 20 got 1
	"$QPOST_HOME/bin/inject" kim@b.test < "$T/m2"
	wait_for 20 got 2
	for n in 1 2; do
		run "$PY" "$CHECK" "$DNSPORT" "$T/got/$n.msg"
		assert_success
		run qverify "$T/got/$n.msg"
		assert_success
	done
	# relaxed: both bodies hash as the empty body
	a=$(grep -o 'bh=[^;]*' "$T/got/1.msg" | head -n 1)
	b=$(grep -o 'bh=[^;]*' "$T/got/2.msg" | head -n 1)
	assert_equal "$a" "$b"
	assert_equal "$a" "bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
	unshare -rnm true 2>/dev/null ||
	    skip "no user and network namespaces here for opendkim-testmsg's DNS"
	run odkim "$T/got/1.msg" "$T/got/2.msg"
	assert_line "$T/got/1.msg 0"
	assert_line "$T/got/2.msg 0"
}

@test "smtpd: AUTH and RELAYCLIENT mail is signed; mail for a local user forwarded out by a .qmail is not" {
	echo secret | "$QPOST_HOME/bin/qpost-tool" passwd add alice@a.test >/dev/null
	printf '%s\n' '127.0.0.2:allow,RELAYCLIENT=""' \
	    '127.0.0.1:allow,AUTHCLEAR=""' > "$T/rules.txt"
	tcprules "$T/rules.cdb" "$T/rules.tmp" < "$T/rules.txt"
	SP=$(free_port)
	spawn tcpserver -x "$T/rules.cdb" -R -H -l0 127.0.0.1 "$SP" \
	    "$QPOST_HOME/bin/smtpd" "$QPOST_HOME/bin/checkpw" 2>>"$T/smtpd.log" 3>&-
	wait_port "$SP"
	# a local user who forwards everything to b.test
	echo '&fwd@b.test' > "$QPOST_HOME/alias/.qmail-kim"
	run swaks --server 127.0.0.1:"$SP" --from alice@a.test --to x@b.test \
	    --auth PLAIN --auth-user alice@a.test --auth-password secret \
	    --header 'From: alice@a.test' --header 'Subject: auth' \
	    --body 'by AUTH'
	assert_success
	wait_for 20 got 1
	run swaks --server 127.0.0.1:"$SP" --local-interface 127.0.0.2 \
	    --from joe@a.test --to y@b.test --header 'From: joe@a.test' \
	    --header 'Subject: relay' --body 'by RELAYCLIENT'
	assert_success
	wait_for 20 got 2
	# from outside (no AUTH, no RELAYCLIENT) to a local user, claiming
	# our domain in From: forwarded out, but not signed
	run swaks --server 127.0.0.1:"$SP" --from joe@a.test --to kim@a.test \
	    --header 'From: joe@a.test' --header 'Subject: forged' \
	    --body 'passing through'
	assert_success
	wait_for 20 got 3
	for n in 1 2; do
		run "$PY" "$CHECK" "$DNSPORT" "$T/got/$n.msg"
		assert_success
		assert_line "pass d=a.test s=r1"
	done
	grep -q 'Subject: auth' "$T/got/1.msg"
	grep -q 'Subject: relay' "$T/got/2.msg"
	grep -q 'Subject: forged' "$T/got/3.msg"
	run grep -c '^DKIM-Signature' "$T/got/3.msg"
	assert_output 0
	grep -qx 'fwd@b.test' "$T/got/3.env"
}

@test "a listed selector without a key file: logged, the mail goes out with the other signature; no usable key: unsigned; control/dkimdefer=1 defers it, and it leaves once the key is back" {
	printf 'r1\nnone\ne1\n' > "$QPOST_HOME/control/dkim/a.test/selectors"
	printf 'From: joe@a.test\nTo: kim@b.test\nSubject: one\n\nx\n' |
	    "$QPOST_HOME/bin/inject" kim@b.test
	wait_for 20 got 1
	[ "$(grep -c '^DKIM-Signature' "$T/got/1.msg")" = 2 ]
	grep -q 'remote: warning: unable to use DKIM key control/dkim/a.test/none: no .rsa or .ed25519 key file; sending without that signature' "$T/send.log"
	# a key that is not a key: unsigned, logged
	echo 'not a key' > "$QPOST_HOME/control/dkim/a.test/bad.rsa"
	echo bad > "$QPOST_HOME/control/dkim/a.test/selectors"
	printf 'From: joe@a.test\nTo: kim@b.test\nSubject: two\n\nx\n' |
	    "$QPOST_HOME/bin/inject" kim@b.test
	wait_for 20 got 2
	run grep -c '^DKIM-Signature' "$T/got/2.msg"
	assert_output 0
	grep -q 'dkim/a.test/bad.rsa: not a PEM private key; sending without that signature' "$T/send.log"
	# the knob: defer instead; nothing lost, out once the key is fixed
	echo 1 > "$QPOST_HOME/control/dkimdefer"
	printf 'From: joe@a.test\nTo: kim@b.test\nSubject: three\n\nx\n' |
	    "$QPOST_HOME/bin/inject" kim@b.test
	wait_for 20 grep -q 'deferring the message (control/dkimdefer)' "$T/send.log"
	wait_for 20 grep -q 'deferral: .*DKIM key configured' "$T/send.log"
	[ ! -e "$T/got/3.msg" ]
	[ "$(queue_count)" = 1 ]
	cp -p "$K/control/dkim/a.test/r1.rsa" "$QPOST_HOME/control/dkim/a.test/bad.rsa"
	"$QPOST_HOME/bin/qpost-tool" retry --all >/dev/null
	wait_for 20 got 3
	grep -q 'Subject: three' "$T/got/3.msg"
	grep -q '^DKIM-Signature: .*d=a.test;' "$T/got/3.msg"
	wait_for 10 drained
}

@test "a From domain without keys goes out unsigned; a subdomain is signed by the closest parent with keys" {
	printf 'From: joe@other.test\nTo: kim@b.test\nSubject: o\n\nx\n' |
	    "$QPOST_HOME/bin/inject" kim@b.test
	wait_for 20 got 1
	run grep -c '^DKIM-Signature' "$T/got/1.msg"
	assert_output 0
	printf 'From: joe@lists.a.test\nTo: kim@b.test\nSubject: s\n\nx\n' |
	    "$QPOST_HOME/bin/inject" kim@b.test
	wait_for 20 got 2
	run "$PY" "$CHECK" "$DNSPORT" "$T/got/2.msg"
	assert_success
	assert_line "pass d=a.test s=r1"
	! grep -q 'warning' "$T/send.log"
}

@test "qpost verifies dkimpy's signatures (RSA, Ed25519; simple and relaxed) and opendkim-testmsg's, and the RFC 8463 example" {
	mkmsg
	# inject would complete the header; dkimpy signs the message as is
	printf 'Date: Wed, 2 Dec 2026 12:00:00 +0000\nMessage-ID: <1@a.test>\n' |
	    cat - "$T/msg" > "$T/m"
	seed=$(openssl pkey -in "$K/control/dkim/a.test/e1.ed25519" -outform DER | tail -c 32 | base64)
	for c in simple/simple relaxed/relaxed simple/relaxed relaxed/simple; do
		"$PY" - "$T/m" "$K/control/dkim/a.test/r1.rsa" "$seed" "$c" > "$T/s" <<'EOF'
import sys, dkim
msg = open(sys.argv[1], 'rb').read().replace(b"\n", b"\r\n")
h, b = sys.argv[4].encode().split(b"/")
rsa = dkim.sign(msg, b"r1", b"a.test", open(sys.argv[2], 'rb').read(),
                canonicalize=(h, b))
ed = dkim.sign(msg, b"e1", b"a.test", sys.argv[3].encode(),
               canonicalize=(h, b), signature_algorithm=b"ed25519-sha256")
sys.stdout.buffer.write(ed + rsa + msg)
EOF
		run qverify "$T/s"
		assert_success
		assert_line -n 0 --partial "pass d=a.test s=e1 a=ed25519-sha256"
		assert_line -n 1 --partial "pass d=a.test s=r1 a=rsa-sha256"
	done
	# OpenDKIM's library, RSA-SHA256 and Ed25519-SHA256
	echo >> "$T/m"
	"$PY" "$ODKIM" "$K/control/dkim/a.test/r1.rsa" a.test r1 rsa < "$T/m" > "$T/o1"
	"$PY" "$ODKIM" "$K/control/dkim/a.test/e1.ed25519" a.test e1 ed25519 < "$T/o1" > "$T/o2"
	run qverify "$T/o2"
	assert_success
	assert_line -n 0 --partial "pass d=a.test s=e1 a=ed25519-sha256"
	assert_line -n 1 --partial "pass d=a.test s=r1 a=rsa-sha256"
	# opendkim-testmsg signs rsa-sha1 only, which RFC 8301 retired
	opendkim-testmsg -d a.test -s r1 -k "$K/control/dkim/a.test/r1.rsa" \
	    < "$T/m" > "$T/o"
	grep -q '^DKIM-Signature: v=1; a=rsa-sha1;' "$T/o"
	run qverify "$T/o"
	assert_failure 100
	assert_output --partial "permerror d=a.test s=r1 a= b="
	assert_output --partial "(signature algorithm not supported)"
	# RFC 8463 A.3 (from dkimpy's test data): both signatures, t= only
	run qverify "$BATS_TEST_DIRNAME/dkim/rfc8463.msg"
	assert_success
	assert_line -n 0 --partial "pass d=football.example.com s=brisbane a=ed25519-sha256"
	assert_line -n 1 --partial "pass d=football.example.com s=test a=rsa-sha256"
	sed 's/hungry/thirsty/' "$BATS_TEST_DIRNAME/dkim/rfc8463.msg" > "$T/r"
	run qverify "$T/r"
	assert_failure 100
	assert_line -n 0 --partial "fail d=football.example.com s=brisbane"
}

@test "qpost's verifier: no signature, broken tags, unknown key, revoked key, DNS down, l=, x=, i= outside d=" {
	printf 'From: joe@a.test\nSubject: x\n\nbody\n' > "$T/m"
	run qverify "$T/m"
	assert_failure 100
	assert_output none
	"$QPOST_HOME/bin/qpost-tool" dkimsign a.test r1 "$K/control/dkim/a.test/r1.rsa" < "$T/m" > "$T/s"
	run qverify "$T/s"
	assert_success
	# the same with CRLF line ends (as a message arrives in SMTP)
	sed 's/$/\r/' "$T/s" > "$T/crlf"
	run qverify "$T/crlf"
	assert_success
	sig() {	# sig TAGS - a message whose one signature has TAGS
		printf 'DKIM-Signature: %s\nFrom: joe@a.test\nSubject: x\n\nbody\n' "$1" > "$T/t"
		run qverify "$T/t"
	}
	sig 'v=1; a=rsa-sha256; d=a.test; s=r1; h=from; bh=x; b=y; b=z'
	assert_output 'permerror d= s= a= b= (signature syntax error)'
	sig 'v=1; a=rsa-sha256; d=a.test; s=r1; h=from; bh=x'
	assert_output --partial 'permerror d=a.test s=r1 a=rsa-sha256 b= (signature lacks a required tag)'
	sig 'v=2; a=rsa-sha256; d=a.test; s=r1; h=from; bh=x; b=y'
	assert_output --partial '(signature version not 1)'
	sig 'v=1; a=rsa-sha1; d=a.test; s=r1; h=from; bh=x; b=y'
	assert_output --partial '(signature algorithm not supported)'
	sig 'v=1; a=rsa-sha256; d=a.test; s=r1; h=subject; bh=x; b=y'
	assert_output --partial '(From not signed)'
	sig 'v=1; a=rsa-sha256; d=a.test; s=r1; i=@b.test; h=from; bh=x; b=y'
	assert_output --partial '(i= not within d=)'
	sig 'v=1; a=rsa-sha256; d=a.test; s=r1; h=from; x=1000; t=900; bh=x; b=y'
	assert_output --partial '(signature expired)'
	sig 'v=1; a=rsa-sha256; d=a.test; s=../r1; h=from; bh=x; b=y'
	assert_output --partial '(bad d= or s=)'
	# an unknown selector, a revoked key, a DNS server that is gone
	sed 's/s=r1;/s=zz;/' "$T/s" > "$T/u"
	run qverify "$T/u"
	assert_output --partial 'permerror d=a.test s=zz a=rsa-sha256'
	assert_output --partial '(no key for signature)'
	sed 's/s=r1;/s=revoked;/' "$T/s" > "$T/u"
	run qverify "$T/u"
	assert_output --partial '(key revoked)'
	QPOST_DNS=127.0.0.1:$(free_port) run qverify "$T/s"
	assert_failure 100
	assert_output --partial 'temperror d=a.test s=r1 a=rsa-sha256'
	# l=: text appended after the signed length still passes; l= past
	# the end fails (dkimpy makes it)
	"$PY" - "$T/m" "$K/control/dkim/a.test/r1.rsa" > "$T/l" <<'EOF'
import sys, dkim
msg = open(sys.argv[1], 'rb').read().replace(b"\n", b"\r\n")
sys.stdout.buffer.write(dkim.sign(msg, b"r1", b"a.test",
    open(sys.argv[2], 'rb').read(), length=True) + msg)
EOF
	grep -q 'l=6;' "$T/l"
	printf 'appended\n' >> "$T/l"
	run qverify "$T/l"
	assert_success
	sed 's/l=6;/l=60;/' "$T/l" > "$T/l2"
	run qverify "$T/l2"
	assert_output --partial '(l= longer than the body)'
}
