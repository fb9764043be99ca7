#!/usr/bin/env bats
# remote: one message to one domain's mail exchangers, run the way send
# runs it (bin/remote DOMAIN SENDER RCPT... < message > reports), against
# a real DNS server (dnsmasq on a loopback port) and real SMTP peers
# (smtp-sink, and aiosmtpd through tests/remote-peer.py) on loopback.

load helper
load remote-lib

setup() {
	remote_setup
	MSG=$T/msg
	printf 'Subject: hi\n\nline one\n' > "$MSG"
}

teardown() { qpost_teardown; }

# nuls - how many reports (each ends in NUL)
nuls() {
	tr -cd '\0' < "$T/rep" | wc -c
}

sink() {	# sink ADDR [ARGS...] - smtp-sink on ADDR:$PORT
	local addr=$1
	shift
	# as root smtp-sink must be told whom to become
	[ "$(id -u)" != 0 ] || set -- -u nobody "$@"
	spawn /usr/sbin/smtp-sink "$@" "$addr:$PORT" 100
	wait_port "$PORT" "$addr"
}

@test "remote delivers through MX byte-exact: dot-stuffed lines, 8-bit body, SIZE and BODY=8BITMIME" {
	peer 127.0.0.1 "$T/got"
	printf 'Subject: dots\nX: \303\244\303\266\n\n.\n..\n.leading dot\nGr\303\274\303\237e \377\n\n.\nlast line without LF' > "$MSG"
	run remote one.test from@x.example u1@one.test u2@one.test
	assert_success
	[ "$(nuls)" -eq 3 ]
	[ "$(codes)" = rrK ]
	run reports
	assert_line --index 2 --regexp '^K2\.0\.0 mx\.one\.test\[127\.0\.0\.1\]:[0-9]+ TLS=no accepted the message: 250 2\.0\.0 queued as 1 \| Remote-MTA: dns; mx\.one\.test \| Diagnostic-Code: smtp; 250 2\.0\.0 queued as 1$'
	# what arrived is the message with CRLF line ends, nothing else
	printf 'Subject: dots\r\nX: \303\244\303\266\r\n\r\n.\r\n..\r\n.leading dot\r\nGr\303\274\303\237e \377\r\n\r\n.\r\nlast line without LF\r\n' > "$T/want"
	cmp "$T/want" "$T/got/1.msg"
	run cat "$T/got/1.env"
	assert_line --index 0 --regexp '^from@x\.example .*BODY=8BITMIME'
	# SIZE= is the size on the wire (RFC 1870): the bytes plus a CR per
	# LF, plus the CRLF the last line gets; no dot of dot-stuffing
	size=$(( $(wc -c < "$MSG") + $(tr -cd '\n' < "$MSG" | wc -c) + 2 ))
	assert_line --index 0 --partial " SIZE=$size "
	assert_line --index 1 u1@one.test
	assert_line --index 2 u2@one.test
}

@test "remote sends a 7-bit message without BODY=8BITMIME and an empty sender as <>" {
	peer 127.0.0.1 "$T/got"
	run remote one.test "" u1@one.test
	assert_success
	[ "$(codes)" = rK ]
	run cat "$T/got/1.env"
	assert_line --index 0 '<> SIZE=25'
	printf 'Subject: hi\r\n\r\nline one\r\n' | cmp - "$T/got/1.msg"
}

@test "remote: the first MX refuses the connection, the second (pipelining smtp-sink) accepts" {
	sink 127.0.0.1
	run remote two.test from@x.example a@two.test b@two.test
	assert_success
	[ "$(codes)" = rrK ]
	run reports
	assert_line --index 2 --regexp '^K2\.0\.0 mx2\.two\.test\[127\.0\.0\.1\]'
	run cat "$T/err"
	assert_output --partial 'mx1.two.test[127.0.0.2]'
	assert_output --partial 'Connection refused'
}

@test "remote: a 4xx greeting sends it on to the next MX" {
	sink 127.0.0.2 -r CONNECT
	sink 127.0.0.1
	run remote two.test from@x.example a@two.test
	assert_success
	[ "$(codes)" = rK ]
	run cat "$T/err"
	assert_output --partial 'mx1.two.test[127.0.0.2]'
	assert_output --partial 'greeted us with: 4'
}

@test "remote: every MX unreachable is temporary for all, with the reason" {
	run remote two.test from@x.example a@two.test b@two.test
	assert_success
	[ "$(codes)" = ssZ ]
	run reports
	assert_line --index 2 --partial 'mx2.two.test[127.0.0.1]'
	assert_line --index 2 --partial 'Connection refused'
}

@test "remote: the peer answers 4xx to RCPT: s for each and Z" {
	sink 127.0.0.1 -r RCPT
	run remote one.test from@x.example a@one.test b@one.test
	assert_success
	[ "$(codes)" = ssZ ]
	run reports
	assert_line --index 0 --regexp '^s4\.3\.0 mx\.one\.test\[127\.0\.0\.1\]:[0-9]+ temporarily refused recipient: 450 4\.3\.0'
}

@test "remote: 5xx to one of three recipients fails only that one" {
	peer 127.0.0.1 "$T/got" --rcpt 'bad@one.test=550 5.1.1 no such user here'
	run remote one.test from@x.example a@one.test bad@one.test c@one.test
	assert_success
	[ "$(codes)" = rhrK ]
	run reports
	assert_line --index 1 --regexp '^h5\.1\.1 mx\.one\.test\[127\.0\.0\.1\]:[0-9]+ does not like recipient: 550 5\.1\.1 no such user here \| Remote-MTA: dns; mx\.one\.test \| Diagnostic-Code: smtp; 550 5\.1\.1 no such user here$'
	run cat "$T/got/1.env"
	assert_output "$(printf 'from@x.example SIZE=25\na@one.test\nc@one.test')"
}

@test "remote: 5xx to MAIL FROM fails every recipient permanently" {
	sink 127.0.0.1 -f MAIL
	run remote one.test from@x.example a@one.test b@one.test
	assert_success
	[ "$(codes)" = hhD ]
	run reports
	assert_line --index 2 --partial 'refused the sender: 500'
}

@test "remote: EHLO refused with 5xx falls back to HELO" {
	sink 127.0.0.1 -f EHLO
	run remote one.test from@x.example a@one.test
	assert_success
	[ "$(codes)" = rK ]
}

@test "remote: a null MX (RFC 7505) is a permanent failure" {
	run remote null.test from@x.example a@null.test b@null.test
	assert_success
	[ "$(codes)" = hhD ]
	run reports
	assert_line --index 2 --partial 'null MX'
}

@test "remote: a domain that does not exist (NXDOMAIN) is a permanent failure" {
	run remote nx.test from@x.example a@nx.test
	assert_success
	[ "$(codes)" = hD ]
	run reports
	assert_line --index 1 --partial 'does not exist'
}

@test "remote: no DNS answer is a temporary failure" {
	export QPOST_DNS=127.0.0.1:$(free_port)
	run remote one.test from@x.example a@one.test
	assert_success
	[ "$(codes)" = sZ ]
	run reports
	assert_line --index 1 --partial 'temporary DNS failure'
}

@test "remote: a domain without MX is delivered to its own address" {
	peer 127.0.0.1 "$T/got"
	run remote noma.test from@x.example a@noma.test
	assert_success
	[ "$(codes)" = rK ]
	run reports
	assert_line --index 1 --regexp '^K2\.0\.0 noma\.test\[127\.0\.0\.1\]'
}

@test "remote: smtproutes smarthost with a port, subdomain route, empty host means MX" {
	PORT2=$(free_port)
	echo "$PORT2" > "$QPOST_HOME/control/remoteport"	# MX port: nobody there
	printf '%s\n' '# routes' ".route.test:relay.test:$PORT" \
	    'one.test:' ":[127.0.0.1]:$PORT" > "$QPOST_HOME/control/smtproutes"
	peer 127.0.0.1 "$T/got"
	run remote elsewhere.example from@x.example a@elsewhere.example
	assert_success
	[ "$(codes)" = rK ]
	run reports
	assert_line --index 1 --regexp "^K2\\.0\\.0 \\[127\\.0\\.0\\.1\\]\\[127\\.0\\.0\\.1\\]:$PORT TLS=no accepted"
	run remote a.route.test from@x.example b@a.route.test
	assert_success
	[ "$(codes)" = rK ]
	run reports
	assert_line --index 1 --regexp "^K2\\.0\\.0 relay\\.test\\[127\\.0\\.0\\.1\\]:$PORT TLS=no accepted"
	# one.test: empty host -> its MX, on the (dead) remoteport
	run remote one.test from@x.example c@one.test
	[ "$(codes)" = sZ ]
	run cat "$T/got/2.env"
	assert_line --index 1 b@a.route.test
}

@test "remote: IPv6 loopback through an AAAA-only MX, an [IPv6:::1] literal, a DNS server on ::1" {
	peer ::1 "$T/got"
	run remote six.test from@x.example a@six.test
	assert_success
	[ "$(codes)" = rK ]
	run reports
	assert_line --index 1 --regexp '^K2\.0\.0 mx\.six\.test\[::1\]'
	run remote '[IPv6:::1]' from@x.example 'b@[IPv6:::1]'
	assert_success
	[ "$(codes)" = rK ]
	run cat "$T/got/2.env"
	assert_line --index 1 'b@[IPv6:::1]'
	# and a DNS server on ::1
	DNS6=$(free_port)
	spawn /usr/sbin/dnsmasq --keep-in-foreground --no-resolv --no-hosts \
	    --port="$DNS6" --listen-address=::1 --bind-interfaces --pid-file= \
	    --user=nobody --log-facility="$T/dnsmasq6.log" --local=/test/ \
	    --mx-host=v6dns.test,mx.v6dns.test,10 --host-record=mx.v6dns.test,::1
	wait_port "$DNS6" ::1
	QPOST_DNS="[::1]:$DNS6" run remote v6dns.test from@x.example c@v6dns.test
	assert_success
	[ "$(codes)" = rK ]
	run cat "$T/got/3.env"
	assert_line --index 1 c@v6dns.test
}

@test "remote: a peer that stalls after the data hits timeoutremote: temporary" {
	echo 2 > "$QPOST_HOME/control/timeoutremote"
	peer 127.0.0.1 "$T/got" --stall
	run remote one.test from@x.example a@one.test b@one.test
	assert_success
	[ "$(codes)" = ssZ ]
	run reports
	assert_line --index 0 --partial 'timed out during DATA'
}

@test "remote: a peer that stops reading in the middle of the data hits timeoutremote: temporary" {
	echo 2 > "$QPOST_HOME/control/timeoutremote"
	# smtp-sink waits 60 s before its first read after DATA, with a
	# small TCP window: 8 MB cannot all fit in the socket buffers
	sink 127.0.0.1 -H 60 -T 4096
	"$PY" -c 'import sys; sys.stdout.write("Subject: big\n\n" + ("x" * 99 + "\n") * 80000)' > "$MSG"
	run remote one.test from@x.example a@one.test
	assert_success
	[ "$(codes)" = sZ ]
	run reports
	assert_line --index 0 --partial 'timed out during DATA'
}

@test "remote: a recipient with a control character is refused alone, nothing is smuggled" {
	peer 127.0.0.1 "$T/got"
	run remote one.test from@x.example a@one.test "$(printf 'x@one.test>\r\nRCPT TO:<evil@one.test')" c@one.test
	assert_success
	[ "$(codes)" = rhrK ]
	run cat "$T/got/1.env"
	assert_output "$(printf 'from@x.example SIZE=25\na@one.test\nc@one.test')"
}

@test "remote: a hostile peer (5000-byte reply line, 150-line reply) is cut off: temporary, no crash" {
	spawn "$PY" -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(5)
for _ in range(10):
    c, _ = s.accept()
    try:
        c.sendall(b"220-" + b"x" * 5000 + b"\r\n220 hello\r\n")
        c.recv(1000)
        c.sendall(b"250-more\r\n" * 150 + b"250 done\r\n")
    except OSError:
        pass
    c.close()
' "$PORT"
	wait_port "$PORT"
	run remote one.test from@x.example a@one.test
	assert_success
	[ "$(codes)" = sZ ]
	run reports
	assert_line --index 1 --partial 'sent a malformed reply after EHLO'
}

@test "remote: MX hosts of equal preference are tried in random order" {
	# nobody listens on 127.0.0.3/.4: each run logs both refusals, in
	# the order tried.  30 runs all in one order: odds 2^-29.
	local i a=0 b=0
	for i in $(seq 30); do
		remote eq.test from@x.example a@eq.test || true
		case $(head -n 1 "$T/err") in
		*a.eq.test*) a=$((a + 1)) ;;
		*b.eq.test*) b=$((b + 1)) ;;
		esac
	done
	[ "$a" -gt 0 ] && [ "$b" -gt 0 ] && [ $((a + b)) -eq 30 ]
	[ "$(codes)" = sZ ]
}

@test "remote: a connect that times out (full backlog) goes on to the next MX" {
	echo 1 > "$QPOST_HOME/control/timeoutconnect"
	# 127.0.0.2 listens but never accepts; its backlog is filled so
	# that further SYNs are dropped and connect() hangs
	spawn "$PY" -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.2", int(sys.argv[1])))
s.listen(0)
hold = []
for _ in range(8):
    c = socket.socket()
    c.setblocking(False)
    try:
        c.connect(("127.0.0.2", int(sys.argv[1])))
    except BlockingIOError:
        pass
    hold.append(c)
open(sys.argv[2], "w").close()
time.sleep(120)
' "$PORT" "$T/full"
	wait_for 5 test -e "$T/full"
	peer 127.0.0.1 "$T/got"
	run remote two.test from@x.example a@two.test
	assert_success
	[ "$(codes)" = rK ]
	run cat "$T/err"
	assert_output --partial 'mx1.two.test[127.0.0.2]'
	assert_output --partial 'connect: timed out'
}

@test "remote: a bare CR, CRLF, CR.CR and a 3000-octet line in the queue reach the peer as CRLF lines of at most 998 octets, the text intact (regression: bare CR and \\r.\\r on the wire)" {
	peer 127.0.0.1 "$T/got"
	"$PY" -c '
import sys
sys.stdout.buffer.write(b"Subject: cr\r\nX: y\n\nbare\rcr\nsmuggle\r.\rMAIL FROM:<evil@x>\r\n"
    + b"long " + b"x" * 3000 + b"\n." + b"y" * 1200 + b"\nend")' > "$MSG"
	run remote one.test from@x.example u1@one.test
	assert_success
	[ "$(codes)" = rK ]
	"$PY" - "$T/got/1.msg" <<'EOF'
import sys
d = open(sys.argv[1], 'rb').read()
assert d.endswith(b'\r\n'), d[-10:]
lines = d[:-2].split(b'\r\n')
for l in lines:
    assert b'\r' not in l and b'\n' not in l, l[:60]
    assert len(l) <= 998, len(l)
# the broken lines go on with a SPACE; undone, the text is the queue's
# with every line end LF
text = b'\n'.join(lines).replace(b'\n ', b'')
want = (b'Subject: cr\nX: y\n\nbare\ncr\nsmuggle\n.\nMAIL FROM:<evil@x>\n'
    + b'long ' + b'x' * 3000 + b'\n.' + b'y' * 1200 + b'\nend')
assert text == want, text[:200]
assert len(lines) == 15, len(lines)   # 8 + 4 for the long line + 2 + 1
EOF
	# SIZE= counts what went out but the dot of dot-stuffing (RFC 1870)
	size=$(( $(wc -c < "$T/got/1.msg") ))
	run cat "$T/got/1.env"
	assert_line --index 0 --regexp " SIZE=$size( |$)"
}
