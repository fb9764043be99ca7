#!/usr/bin/env bats
# authcheck: SPF (RFC 7208), DKIM (dkim.c) and DMARC (RFC 7489) with one
# Authentication-Results field (RFC 8601), against a real dnsmasq on
# loopback serving the zone below; end to end through tcpserver, smtpd
# and queue with QPOST_QUEUE=authcheck; SPF results cross-checked with
# python3-spf, a DKIM signature made by dkimpy's dkimsign.
# docs/authcheck.md.

load helper
load smtpd-lib

# Ports from this file's range (29000-29999): the DNS server's is fixed
# per run of the file, SMTP's picked free.
free_port() {
	"$PY" - <<'EOF'
import random, socket
for p in random.sample(range(29100, 30000), 900):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    print(p)
    break
EOF
}

setup_file() {
	local d=$BATS_FILE_TMPDIR args=() i
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 \
	    -out "$d/dk.key" 2>/dev/null
	local pub
	pub=$(openssl pkey -in "$d/dk.key" -pubout -outform DER 2>/dev/null |
	    base64 -w0)
	for i in $(seq 1 11); do
		args+=(--host-record=a$i.test,10.0.0.$i)
	done
	DNSPORT=$(free_port)
	export DNSPORT
	/usr/sbin/dnsmasq --keep-in-foreground --no-resolv --no-hosts \
	    --port="$DNSPORT" --listen-address=127.0.0.1 --bind-interfaces \
	    --pid-file= --user=nobody --log-facility="$d/dnsmasq.log" \
	    --local=/test/ --local=/arpa/ --server=/temp.test/# "${args[@]}" \
	    --txt-record=pass.test,"v=spf1 ip4:127.0.0.0/24 -all" \
	    --txt-record=fail.test,"v=spf1 ip4:10.0.0.0/8 -all" \
	    --txt-record=soft.test,"v=spf1 ~all" \
	    --txt-record=neutral.test,"v=spf1 ?all" \
	    --txt-record=none.test,"not an spf record" \
	    --txt-record=syntax.test,"v=spf1 ip4:300.1.1.1 -all" \
	    --txt-record=unknown.test,"v=spf1 foo:bar.test -all" \
	    --txt-record=cidr33.test,"v=spf1 ip4:127.0.0.1/33 -all" \
	    --txt-record=badmacro.test,"v=spf1 exists:%{x}.test -all" \
	    --txt-record=nodot.test,"v=spf1 a:foo +all" \
	    --txt-record=empty.test,"v=spf1" \
	    --txt-record=upper.test,"V=SPF1 -ALL" \
	    --txt-record=two.test,"v=spf1 -all" \
	    --txt-record=two.test,"v=spf1 +all" \
	    --txt-record=many.test,"v=spf1 a:a1.test a:a2.test a:a3.test a:a4.test a:a5.test a:a6.test a:a7.test a:a8.test a:a9.test a:a10.test a:a11.test +all" \
	    --txt-record=ten.test,"v=spf1 a:a1.test a:a2.test a:a3.test a:a4.test a:a5.test a:a6.test a:a7.test a:a8.test a:a9.test a:a10.test +all" \
	    --txt-record=void.test,"v=spf1 a:nx1.test a:nx2.test a:nx3.test +all" \
	    --txt-record=inc.test,"v=spf1 include:pass.test -all" \
	    --txt-record=incfail.test,"v=spf1 include:fail.test ~all" \
	    --txt-record=incnone.test,"v=spf1 include:none.test -all" \
	    --txt-record=redir.test,"v=spf1 redirect=pass.test" \
	    --txt-record=redirnone.test,"v=spf1 redirect=none.test" \
	    --txt-record=redirall.test,"v=spf1 ?all redirect=pass.test" \
	    --txt-record=mx.test,"v=spf1 mx -all" \
	    --mx-host=mx.test,mx1.mx.test,10 --host-record=mx1.mx.test,127.0.0.5 \
	    --txt-record=cidr.test,"v=spf1 a:h.cidr.test/30 -all" \
	    --host-record=h.cidr.test,127.0.0.1 \
	    --txt-record=macro.test,"v=spf1 exists:%{l}.%{i}.ok.macro.test -all" \
	    --host-record=alice.127.0.0.5.ok.macro.test,127.0.0.2 \
	    --txt-record=macro2.test,"v=spf1 exists:%{ir}.%{v}.%{d2}.list.test -all" \
	    --host-record=5.0.0.127.in-addr.macro2.test.list.test,127.0.0.2 \
	    --txt-record=ptr.test,"v=spf1 ptr -all" \
	    --ptr-record=5.0.0.127.in-addr.arpa,host.ptr.test \
	    --host-record=host.ptr.test,127.0.0.5 \
	    --txt-record=six.test,"v=spf1 ip6:::1/128 -all" \
	    --txt-record=helo.test,"v=spf1 ip4:127.0.0.5 -all" \
	    --txt-record=rej.test,"v=spf1 ip4:127.0.0.0/24 -all" \
	    --txt-record=_dmarc.rej.test,"v=DMARC1; p=reject" \
	    --txt-record=mail.rel.test,"v=spf1 ip4:127.0.0.0/24 -all" \
	    --txt-record=_dmarc.rel.test,"v=DMARC1; p=reject" \
	    --txt-record=mail.strict.test,"v=spf1 ip4:127.0.0.0/24 -all" \
	    --txt-record=_dmarc.strict.test,"v=DMARC1; p=reject; aspf=s" \
	    --txt-record=_dmarc.quar.test,"v=DMARC1; p=quarantine" \
	    --txt-record=_dmarc.nonep.test,"v=DMARC1; p=none" \
	    --txt-record=_dmarc.org.test,"v=DMARC1; p=reject; sp=none" \
	    --txt-record=_dmarc.bad.test,"v=DMARC1; p=bogus" \
	    --txt-record=_dmarc.dk.test,"v=DMARC1; p=reject" \
	    --txt-record=sel._domainkey.dk.test,"v=DKIM1; k=rsa; p=$pub" \
	    3>&- &
	echo $! > "$d/dnsmasq.pid"
	export QPOST_DNS=127.0.0.1:$DNSPORT
	wait_port "$DNSPORT"
}

teardown_file() {
	kill "$(cat "$BATS_FILE_TMPDIR/dnsmasq.pid")" 2>/dev/null || true
}

setup() {
	qpost_setup
	echo ./Maildir/ > "$QPOST_HOME/alias/.qmail-default"
	echo mx.test.example > "$QPOST_HOME/control/me"
	T=$BATS_TEST_TMPDIR
	# 127.0.0.9 relays; everyone else is a stranger
	printf '%s\n' '127.0.0.9:allow,RELAYCLIENT=""' ':allow,AUTHCLEAR=""' \
	    > "$T/rules.txt"
	export RULES=$T/rules.txt
}
teardown() {
	qpost_teardown
}

# spf IP SENDER [HELO] - authcheck's SPF tool
spf() {
	"$QPOST_HOME/bin/authcheck" --spf "$1" "$2" "${3:-helo.test}"
}

# pyspf TABLE - python3-spf's answer for each "IP SENDER" line of TABLE
pyspf() {
	"$PY" - "$DNSPORT" "$1" <<'EOF'
import sys, dns.resolver, spf
r = dns.resolver.Resolver(configure=False)
r.nameservers = ['127.0.0.1']
r.port = int(sys.argv[1])
dns.resolver.default_resolver = r
for l in sys.argv[2].splitlines():
    ip, s = l.split()[:2]
    print(ip, s, spf.check2(i=ip, s=s, h='helo.test')[0])
EOF
}

# The SPF table: client, sender, result.
SPF_TABLE='127.0.0.5 u@pass.test pass
10.1.2.3 u@pass.test fail
127.0.0.5 u@fail.test fail
127.0.0.5 u@soft.test softfail
127.0.0.5 u@neutral.test neutral
127.0.0.5 u@none.test none
127.0.0.5 u@nx.test none
127.0.0.5 u@temp.test temperror
127.0.0.5 u@syntax.test permerror
127.0.0.5 u@unknown.test permerror
127.0.0.5 u@two.test permerror
127.0.0.5 u@cidr33.test permerror
127.0.0.5 u@badmacro.test permerror
127.0.0.5 u@nodot.test permerror
127.0.0.5 u@empty.test neutral
127.0.0.5 u@upper.test fail
127.0.0.5 u@many.test permerror
127.0.0.5 u@ten.test pass
127.0.0.5 u@void.test permerror
127.0.0.5 u@inc.test pass
10.9.9.9 u@inc.test fail
127.0.0.5 u@incfail.test softfail
127.0.0.5 u@incnone.test permerror
127.0.0.5 u@redir.test pass
10.9.9.9 u@redir.test fail
127.0.0.5 u@redirnone.test permerror
127.0.0.5 u@redirall.test neutral
127.0.0.5 u@mx.test pass
127.0.0.6 u@mx.test fail
127.0.0.3 u@cidr.test pass
127.0.0.5 u@cidr.test fail
127.0.0.5 alice@macro.test pass
127.0.0.5 bob@macro.test fail
127.0.0.5 x@macro2.test pass
127.0.0.6 x@macro2.test fail
127.0.0.5 u@ptr.test pass
127.0.0.6 u@ptr.test fail
::1 u@six.test pass
::2 u@six.test fail
::ffff:127.0.0.5 u@pass.test pass'

@test "SPF: every result and mechanism against dnsmasq; python3-spf agrees on each" {
	local ip s want got n=0
	while read -r ip s want; do
		got=$(spf "$ip" "$s")
		[ "${got%% *}" = "$want" ] ||
		    { echo "$ip $s: got '$got', want $want"; return 1; }
		n=$((n + 1))
	done <<< "$SPF_TABLE"
	[ "$n" = 40 ]
	run pyspf "$SPF_TABLE"
	assert_output "$SPF_TABLE"
	# the reasons are said
	run spf 127.0.0.5 u@many.test
	assert_output 'permerror (more than 10 DNS lookups) many.test'
	run spf 127.0.0.5 u@void.test
	assert_output 'permerror (more than 2 void DNS lookups) void.test'
	run spf 127.0.0.5 u@two.test
	assert_output 'permerror (more than one SPF record) two.test'
}

@test "SPF: the HELO identity (empty sender: postmaster@HELO), and bad arguments" {
	run spf 127.0.0.5 '' helo.test
	assert_output 'pass helo.test'
	run spf 127.0.0.6 '' helo.test
	assert_output 'fail helo.test'
	# end to end: the null sender's field names the HELO it checked
	export QPOST_QUEUE=$QPOST_HOME/bin/authcheck
	smtpd_start
	msg pass.test
	# the last EHLO counts, a longer one before it leaves nothing behind
	PRE_EHLO=a-much-longer-name-said-first.example.org smtp 5 "$T/m" ''
	assert_output --partial '250 2.0.0 ok'
	run ar
	assert_output --partial 'spf=pass smtp.mailfrom=postmaster@helo.test smtp.helo=helo.test;'
	run spf 127.0.0.5 '' '[127.0.0.5]'
	assert_output --partial 'none'
	run "$QPOST_HOME/bin/authcheck" --spf nonsense u@pass.test h
	assert_failure 100
	assert_output --partial 'not an IP address'
	run "$QPOST_HOME/bin/authcheck" --spf 127.0.0.1
	assert_failure 100
}

@test "DMARC: policy discovery, organizational domain, alignment relaxed and strict, sp, bad and missing records, DNS errors" {
	local A=$QPOST_HOME/bin/authcheck
	run "$A" --dmarc rej.test rej.test
	assert_output 'pass p=reject policy=reject record=rej.test org=rej.test'
	run "$A" --dmarc rej.test pass.test
	assert_output 'fail p=reject policy=reject record=rej.test org=rej.test'
	# no record at sub.rej.test: the organizational domain's
	run "$A" --dmarc sub.rej.test pass.test
	assert_output 'fail p=reject policy=reject record=rej.test org=rej.test'
	# relaxed: mail.rel.test aligns with rel.test; strict does not
	run "$A" --dmarc rel.test mail.rel.test
	assert_output --partial 'pass p=reject'
	run "$A" --dmarc strict.test mail.strict.test
	assert_output --partial 'fail p=reject'
	run "$A" --dmarc strict.test strict.test
	assert_output --partial 'pass p=reject'
	# sp= for a subdomain found through the organizational domain
	run "$A" --dmarc org.test x.test
	assert_output --partial 'fail p=reject'
	run "$A" --dmarc sub.org.test x.test
	assert_output --partial 'fail p=none policy=none record=org.test'
	run "$A" --dmarc quar.test x.test
	assert_output --partial 'fail p=quarantine policy=quarantine'
	run "$A" --dmarc nonep.test x.test
	assert_output --partial 'fail p=none'
	run "$A" --dmarc none.test none.test
	assert_output --partial 'none p=none policy=none record=-'
	run "$A" --dmarc bad.test bad.test
	assert_output --partial 'permerror'
	assert_output --partial '(DMARC record without a valid p)'
	run "$A" --dmarc temp.test temp.test
	assert_output --partial 'temperror'
}

# smtp SRC DATA-FILE FROM [AUTH] - one message from 127.0.0.SRC, EHLO
# helo.test, to u@test.example; the replies in $output
smtp() {
	local src=$1 file=$2 from=$3 auth=${4:-}
	{
		[ -z "${PRE_EHLO:-}" ] || printf 'EHLO %s\r\n' "$PRE_EHLO"
		printf 'EHLO helo.test\r\n'
		[ -z "$auth" ] || printf 'AUTH PLAIN %s\r\n' "$auth"
		printf 'MAIL FROM:<%s>\r\nRCPT TO:<u@test.example>\r\nDATA\r\n' \
		    "$from"
		sed 's/$/\r/' "$file"
		printf '.\r\nQUIT\r\n'
	} > "$T/payload"
	RAWFILE=$T/payload run raw '' "127.0.0.$src"
}

# msg FROM-DOMAIN [EXTRA-HEADER] - a message file $T/m
msg() {
	{
		[ -z "${2:-}" ] || printf '%s\n' "$2"
		printf 'From: Someone <someone@%s>\nTo: u@test.example\n' "$1"
		printf 'Subject: hello\nMessage-ID: <1@%s>\n\nbody line\n' "$1"
	} > "$T/m"
}

start() {
	export QPOST_QUEUE=$QPOST_HOME/bin/authcheck
	smtpd_start
}

# ar - the queued message's second field (the first is queue's trace
# line), unfolded
ar() {
	qmsg | "$PY" -c '
import sys
d = sys.stdin.read()
first = d.split("\n")[1]
rest = d.split("\n")[2:]
for l in rest:
    if l[:1] in (" ", "\t"):
        first += " " + l.strip()
    else:
        break
print(first)'
}

@test "end to end: SPF and DMARC pass, one Authentication-Results field on top, a forged one claiming our authserv-id removed, a foreign one kept" {
	start
	msg rej.test $'Authentication-Results: mx.test.example; dmarc=pass header.from=rej.test\nAuthentication-Results: other.example; spf=pass'
	smtp 5 "$T/m" alice@rej.test
	# queue's ID came through the filter (QPOST_IDFD passed on)
	assert_output --regexp '250 2.0.0 ok: queued as [0-9A-Z]{10}\.[0-9]+'
	run ar
	assert_output 'Authentication-Results: mx.test.example; spf=pass smtp.mailfrom=alice@rej.test; dkim=none; dmarc=pass (p=reject dis=none) header.from=rej.test'
	run qmsg
	[ "$(grep -c '^Authentication-Results:' <<< "$output")" = 2 ]
	assert_line 'Authentication-Results: other.example; spf=pass'
	refute_line --partial 'mx.test.example; dmarc=pass'
	# queue's trace line, our field, smtpd's Received; the body whole
	assert_line --index 0 --partial 'Received: (qpost'
	assert_line --index 1 'Authentication-Results: mx.test.example;'
	assert_line --index 5 'Received: from helo.test (unknown [127.0.0.5])'
	assert_line 'body line'
	grep -q '^authcheck: auth ip 127.0.0.5 spf pass dkim none dmarc pass from rej.test$' "$LOG"
}

@test "end to end: DMARC fail with p=reject is annotated by default, refused with 550 5.7.1 under control/dmarcreject, nothing queued; quarantine is kept" {
	start
	msg rej.test
	smtp 5 "$T/m" x@pass.test
	assert_output --partial '250 2.0.0 ok'
	run ar
	assert_output --partial 'spf=pass smtp.mailfrom=x@pass.test'
	assert_output --partial 'dmarc=fail (p=reject dis=reject) header.from=rej.test'
	rm -f "$QPOST_HOME"/queue/new/*
	echo 1 > "$QPOST_HOME/control/dmarcreject"
	smtp 5 "$T/m" x@pass.test
	assert_output --partial '550 5.7.1 DMARC: the From domain'
	[ "$(queue_count)" = 0 ]
	grep -q "^smtpd: refused .*550 5.7.1 DMARC" "$LOG"
	# aligned: accepted under the knob
	smtp 5 "$T/m" a@rej.test
	assert_output --partial '250 2.0.0 ok'
	rm -f "$QPOST_HOME"/queue/new/*
	# relaxed alignment through a subdomain; strict refuses it
	msg rel.test
	smtp 5 "$T/m" a@mail.rel.test
	assert_output --partial '250 2.0.0 ok'
	rm -f "$QPOST_HOME"/queue/new/*
	msg strict.test
	smtp 5 "$T/m" a@mail.strict.test
	assert_output --partial '550 5.7.1'
	# quarantine: never refused, annotated
	msg quar.test
	smtp 5 "$T/m" x@pass.test
	assert_output --partial '250 2.0.0 ok'
	run ar
	assert_output --partial 'dmarc=fail (p=quarantine dis=quarantine) header.from=quar.test'
}

@test "end to end: DNS failure is temperror in the field and the mail is queued; 451 4.7.0 only under dmarcreject; nothing lost" {
	start
	msg temp.test
	smtp 5 "$T/m" x@temp.test
	assert_output --partial '250 2.0.0 ok'
	run ar
	assert_output --partial 'spf=temperror (DNS error looking up the SPF record) smtp.mailfrom=x@temp.test'
	assert_output --partial 'dmarc=temperror'
	rm -f "$QPOST_HOME"/queue/new/*
	echo 1 > "$QPOST_HOME/control/dmarcreject"
	smtp 5 "$T/m" x@temp.test
	assert_output --partial '451 4.7.0 DMARC: DNS error'
	[ "$(queue_count)" = 0 ]
}

@test "end to end: relay and authenticated clients, and mail not from the network, pass through untouched" {
	printf '#!/bin/sh\nexec "$@"\n' > "$T/yes"
	chmod +x "$T/yes"
	export QPOST_QUEUE=$QPOST_HOME/bin/authcheck
	PORT=$(free_port)
	LOG=$T/smtpd.log
	tcprules "$T/rules.cdb" "$T/rules.tmp" < "$RULES"
	spawn tcpserver -x "$T/rules.cdb" -R -H -l0 127.0.0.1 "$PORT" \
	    "$QPOST_HOME/bin/smtpd" "$T/yes" 2>>"$LOG" 3>&-
	wait_port "$PORT"
	msg rej.test 'Authentication-Results: mx.test.example; dmarc=pass'
	smtp 9 "$T/m" x@pass.test
	assert_output --partial '250 2.0.0 ok'
	run qmsg
	assert_line --index 1 --partial 'Received: from helo.test'
	assert_line 'Authentication-Results: mx.test.example; dmarc=pass'
	rm -f "$QPOST_HOME"/queue/new/*
	smtp 5 "$T/m" bob@fail.test "$(printf '\0bob@fail.test\0pw' | base64 -w0)"
	assert_output --partial '235 2.7.0'
	assert_output --partial '250 2.0.0 ok'
	run qmsg
	assert_line --index 1 --partial 'Received: from helo.test'
	refute_line --partial 'spf='
	rm -f "$QPOST_HOME"/queue/new/*
	# no TCPREMOTEIP: the queue gets the very bytes
	printf 'Fa@b.test\0Tu@test.example\0\0' > "$T/env"
	"$QPOST_HOME/bin/authcheck" < "$T/m" 1< "$T/env"
	run qmsg
	assert_line --index 0 --partial 'Received: (qpost'
	[ "$(qmsg | tail -n +2)" = "$(cat "$T/m")" ]
}

@test "end to end: control/spfreject refuses an SPF fail at MAIL with 550 5.7.23, a DNS error with 451 4.7.24, and lets the rest through" {
	echo 1 > "$QPOST_HOME/control/spfreject"
	start
	msg fail.test
	smtp 5 "$T/m" x@fail.test
	assert_output --partial '550 5.7.23 SPF'
	assert_output --partial '503 5.5.1 need MAIL before RCPT'
	smtp 5 "$T/m" x@temp.test
	assert_output --partial '451 4.7.24 SPF'
	[ "$(queue_count)" = 0 ]
	smtp 5 "$T/m" x@soft.test
	assert_output --partial '250 2.0.0 ok'
	rm -f "$QPOST_HOME"/queue/new/*
	# a relay client is not checked
	smtp 9 "$T/m" x@fail.test
	assert_output --partial '250 2.0.0 ok'
	grep -q '^smtpd: refused .*550 5.7.23' "$LOG"
	# no checker: a temporary refusal, never a silent accept
	mv "$QPOST_HOME/bin/authcheck" "$T/ac"
	smtp 5 "$T/m" x@pass.test
	assert_output --partial '451 4.3.0 unable to check the sender'
	grep -q 'the MAIL checker bin/authcheck failed' "$LOG"
}

@test "end to end: a message signed by dkimpy's dkimsign verifies (dkim=pass, DMARC pass through DKIM alone); a changed body fails" {
	start
	msg dk.test
	dkimsign sel dk.test "$BATS_FILE_TMPDIR/dk.key" < "$T/m" > "$T/signed"
	grep -q '^DKIM-Signature:' "$T/signed"
	smtp 5 "$T/signed" x@pass.test
	assert_output --partial '250 2.0.0 ok'
	run ar
	assert_output --regexp 'dkim=pass header.d=dk.test header.s=sel header.b="[^"]{8}"; dmarc=pass \(p=reject dis=none\) header.from=dk.test$'
	rm -f "$QPOST_HOME"/queue/new/*
	sed 's/^body line$/changed body/' "$T/signed" > "$T/changed"
	echo 1 > "$QPOST_HOME/control/dmarcreject"
	smtp 5 "$T/changed" x@pass.test
	assert_output --partial '550 5.7.1'
	rm "$QPOST_HOME/control/dmarcreject"
	smtp 5 "$T/changed" x@pass.test
	[ "$(queue_count)" = 1 ]
	run ar
	assert_output --regexp 'dkim=fail \([^)]*\) header.d=dk.test'
}

@test "filter protocol: a bad envelope is exit 91 with nothing queued; the queue program's exit code is passed back" {
	export TCPREMOTEIP=127.0.0.5 QPOST_HELO=helo.test
	msg pass.test
	printf 'Fa@b.test\0Tu@test.example\0' > "$T/env"
	local st=0
	"$QPOST_HOME/bin/authcheck" < "$T/m" 1< "$T/env" 2>"$T/err" || st=$?
	[ "$st" = 91 ]
	grep -q '^authcheck: fatal: bad envelope: nothing queued$' "$T/err"
	[ "$(queue_count)" = 0 ]
	printf 'Fa@b.test\0Tu@test.example\0\0' > "$T/env"
	st=0
	"$QPOST_HOME/bin/authcheck" sh -c 'cat > /dev/null; exit 31' \
	    < "$T/m" 1< "$T/env" || st=$?
	[ "$st" = 31 ]
	"$QPOST_HOME/bin/authcheck" < "$T/m" 1< "$T/env"
	[ "$(queue_count)" = 1 ]
}

@test "hostile headers: each of two From fields is checked (a failing p=reject one is refused under dmarcreject), else permerror; no From is permerror; our authserv-id in any case, after a comment, is removed" {
	echo 1 > "$QPOST_HOME/control/dmarcreject"
	start
	printf '%s\n' 'From: b@pass.test' 'From: a@rej.test' 'Subject: two' \
	    '' 'x' > "$T/m"
	smtp 5 "$T/m" x@pass.test
	assert_output --partial '550 5.7.1 DMARC'
	[ "$(queue_count)" = 0 ]
	printf '%s\n' 'Authentication-Results: (forged) MX.Test.Example;' \
	    '	dkim=pass header.d=rej.test' 'From: a@pass.test' \
	    'From: b@none.test' 'Subject: two' '' 'x' > "$T/m"
	smtp 5 "$T/m" x@pass.test
	assert_output --partial '250 2.0.0 ok'
	run ar
	assert_output --partial 'dmarc=permerror (more than one From field)'
	run qmsg
	refute_output --partial 'forged'
	refute_output --partial 'header.d=rej.test'
	rm -f "$QPOST_HOME"/queue/new/*
	printf 'Subject: none\n\nx\n' > "$T/m"
	smtp 5 "$T/m" x@pass.test
	assert_output --partial '250 2.0.0 ok'
	run ar
	assert_output --partial 'dmarc=permerror (no From field)'
}
