#!/usr/bin/env bats
# inject: completing the header, recipients from arguments or the header,
# Bcc, -f, -n, qualification, byte transparency and queue failures.

load helper
bats_require_minimum_version 1.5.0

setup() {
	qpost_setup
	I="$QPOST_HOME/bin/inject"
	T="$BATS_TEST_TMPDIR"
	export QPOST_USER=alice
	unset QPOST_HOST MAILNAME QPOST_NAME NAME
}
teardown() { qpost_teardown; }

# qfile - the one message file in new/
qfile() {
	local f
	f=$(ls "$QPOST_HOME/queue/new")
	[ "$(echo "$f" | wc -l)" = 1 ] && [ -n "$f" ]
	echo "$QPOST_HOME/queue/new/$f"
}

# qenv - the queued envelope, one line each: "F sender", "T rcpt"
qenv() {
	"$PY" - "$(qfile)" <<'EOF'
import sys
f = open(sys.argv[1], 'rb').read()
off = int(f[-23:-1])
for a in f[off:-32].split(b'\0\0')[0].split(b'\0'):	# not the origin
    print(a[:1].decode() + ' ' + a[1:].decode('latin-1'))
EOF
}

# qmsg - the queued message without the queue's Received line, to $T/out
qmsg() {
	"$PY" - "$(qfile)" "$T/out" <<'EOF'
import sys
f = open(sys.argv[1], 'rb').read()
off = int(f[-23:-1])
open(sys.argv[2], 'wb').write(f[f.index(b'\n') + 1:off])
EOF
}

@test "inject: recipients from the arguments, header completed, bare ones qualified" {
	printf 'Subject: args\n\nhello\n' | "$I" bob@example.org carol
	run qenv
	assert_output "F alice@test.example
T bob@example.org
T carol@test.example"
	qmsg
	run --keep-empty-lines cat "$T/out"
	assert_line --index 0 "Subject: args"
	assert_line --index 1 "From: alice@test.example"
	assert_line --index 2 --regexp '^Date: [A-Z][a-z]{2}, [0-9]+ [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} [-+][0-9]{4}$'
	assert_line --index 3 --regexp '^Message-ID: <[0-9.]+\.qpost@test\.example>$'
	assert_line --index 4 ""
	assert_line --index 5 "hello"
}

@test "inject: with no arguments (and with -t) recipients come from To, Cc and Bcc; Bcc is removed" {
	printf 'To: Bob Smith <bob@example.org>, "Doe, Jane" <jane@example.org>\nCc: team: carl@example.org, (comment) dan@example.org;\nBcc: eve@example.org\nSubject: t\n\nbody\n' > "$T/in"
	"$I" < "$T/in"
	run qenv
	assert_output "F alice@test.example
T bob@example.org
T jane@example.org
T carl@example.org
T dan@example.org
T eve@example.org"
	qmsg
	run grep -ci '^bcc' "$T/out"
	assert_output 0
	run grep -c 'eve@' "$T/out"
	assert_output 0
	rm "$QPOST_HOME"/queue/new/*
	"$I" -t extra@example.org < "$T/in"
	run qenv
	assert_line --index 1 "T extra@example.org"
	assert_line --index 6 "T eve@example.org"
}

@test "inject: with Resent- fields recipients come from Resent-To/Cc/Bcc, and Resent-From/Date/Message-ID are added" {
	printf 'From: orig@example.org\nTo: old@example.org\nDate: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <a@b>\nResent-To: new@example.org\nResent-Bcc: hidden@example.org\nSubject: fwd\n\nbody\n' |
	    "$I" -t
	run qenv
	assert_output "F alice@test.example
T new@example.org
T hidden@example.org"
	qmsg
	run grep -c -e '^From: orig@example.org$' -e '^To: old@example.org$' \
	    -e '^Date: Mon, 1 Jan 2024' -e '^Message-ID: <a@b>$' \
	    -e '^Resent-From: alice@test.example$' -e '^Resent-Date: ' \
	    -e '^Resent-Message-ID: <' "$T/out"
	assert_output 7
	run grep -ci -e '^resent-bcc' -e 'hidden' "$T/out"
	assert_output 0
}

@test "inject: -a takes recipients from the arguments only" {
	printf 'To: bob@example.org\n\nx\n' | "$I" -a carol@example.org
	run qenv
	assert_output "F alice@test.example
T carol@example.org"
}

@test "inject: -f sets the envelope sender, -f '' the null sender; the default follows QPOST_USER and QPOST_HOST" {
	printf 'To: bob@example.org\n\nx\n' | "$I" -f list-bounces@example.org
	run qenv
	assert_line --index 0 "F list-bounces@example.org"
	rm "$QPOST_HOME"/queue/new/*
	printf 'To: bob@example.org\n\nx\n' | "$I" -f ''
	run qenv
	assert_line --index 0 "F "
	rm "$QPOST_HOME"/queue/new/*
	printf 'To: bob@example.org\n\nx\n' | QPOST_USER=zed QPOST_HOST=host.example "$I"
	run qenv
	assert_line --index 0 "F zed@host.example"
	qmsg
	run grep '^From:' "$T/out"
	assert_output "From: zed@host.example"
}

@test "inject: -F, QPOST_NAME and NAME give the From: full name, quoted when needed" {
	printf 'To: b@example.org\n\nx\n' | "$I" -n -F 'Alice Q. Liddell'
	run grep '^From:' <<< "$("$I" -n -F 'Alice Q. Liddell' b@x.org < /dev/null)"
	assert_output 'From: "Alice Q. Liddell" <alice@test.example>'
	run grep '^From:' <<< "$(QPOST_NAME='Alice Liddell' "$I" -n b@x.org < /dev/null)"
	assert_output 'From: Alice Liddell <alice@test.example>'
	run grep '^From:' <<< "$(NAME='Al' "$I" -n b@x.org < /dev/null)"
	assert_output 'From: Al <alice@test.example>'
}

@test "inject: -n prints the completed message and queues nothing" {
	printf 'From: me@example.org\nDate: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <x@y>\nTo: bob\nBcc: c@d\n\nbody\n' > "$T/in"
	run "$I" -n < "$T/in"
	assert_success
	assert_output "From: me@example.org
Date: Mon, 1 Jan 2024 00:00:00 +0000
Message-ID: <x@y>
To: bob@test.example

body"
	[ -z "$(ls -A "$QPOST_HOME/queue/new")" ]
}

@test "inject: qualification uses control/defaulthost before me, and appends control/defaultdomain to dotless domains" {
	echo dh.example > "$QPOST_HOME/control/defaulthost"
	echo dd.example > "$QPOST_HOME/control/defaultdomain"
	printf 'From: Me <me>\nTo: bob (Bob), carol@mail, dave@[127.0.0.1], "e f"@x.org\nCc: g@h.example\n\nbody\n' |
	    "$I" -n > "$T/out"
	run cat "$T/out"
	assert_line --index 0 "From: Me <me@dh.example>"
	assert_line --index 1 'To: bob@dh.example (Bob), carol@mail.dd.example, dave@[127.0.0.1], "e f"@x.org'
	assert_line --index 2 "Cc: g@h.example"
	printf 'To: bob (Bob), carol@mail, "e f"@x.org\n\nbody\n' | "$I"
	run qenv
	assert_output "F alice@dh.example
T bob@dh.example
T carol@mail.dd.example
T e f@x.org"
}

@test "inject: folded header lines come through byte for byte, folded recipient lists are parsed" {
	printf 'Subject: a long\n  folded\n\tsubject\nTo: bob@example.org,\n carol@example.org,\n\t"Dan D"\n <dan@example.org>\nX-Other: y\n\nbody\n' > "$T/in"
	"$I" < "$T/in"
	run qenv
	assert_output "F alice@test.example
T bob@example.org
T carol@example.org
T dan@example.org"
	qmsg
	head -n 8 "$T/in" > "$T/want"
	head -n 8 "$T/out" | cmp - "$T/want"
}

@test "inject: 8-bit bytes in header and body are kept" {
	printf 'Subject: caf\xc3\xa9 \xff\nTo: b@example.org\n\n\xe9t\xe9 \x80\x81\r\nline2\n' > "$T/in"
	"$I" < "$T/in"
	qmsg
	head -n 2 "$T/in" > "$T/want"
	head -n 2 "$T/out" | cmp - "$T/want"
	# every byte kept but the CR of the CRLF (line ends are LF)
	printf '\xe9t\xe9 \x80\x81\nline2\n' > "$T/want"
	tail -c 13 "$T/out" | cmp - "$T/want"
}

@test "inject: a message without a trailing newline gets exactly one" {
	printf 'To: b@example.org\n\nline one\nno newline' | "$I"
	qmsg
	tail -c 21 "$T/out" > "$T/tail"
	printf '\nline one\nno newline\n' | cmp - "$T/tail"
	rm "$QPOST_HOME"/queue/new/*
	# a header that ends the input without a newline
	printf 'To: b@example.org\nSubject: s' | "$I"
	qmsg
	run grep -c '^Subject: s$' "$T/out"
	assert_output 1
	[ "$(tail -c 2 "$T/out" | od -An -c | tr -d ' ')" = '\n\n' ]
}

@test "inject: a message with no header at all gets one and a blank line before the body" {
	printf 'just a body line\nand another\n' | "$I" b@example.org
	qmsg
	run --keep-empty-lines cat "$T/out"
	assert_line --index 0 "From: alice@test.example"
	assert_line --index 3 ""
	assert_line --index 4 "just a body line"
	assert_line --index 5 "and another"
}

@test "inject: the queue failing temporarily (53) exits 111, permanently (31) exits 100, with a clear message" {
	printf '#!/bin/sh\ncat > /dev/null\nexit 53\n' > "$T/q53"
	printf '#!/bin/sh\ncat > /dev/null\nexit 31\n' > "$T/q31"
	chmod +x "$T/q53" "$T/q31"
	printf 'To: b@example.org\n\nx\n' > "$T/in"
	QPOST_QUEUE="$T/q53" run "$I" < "$T/in"
	assert_failure 111
	assert_output "inject: fatal: queue program failed: 4.3.0 qq write error or disk full (exit 53)"
	QPOST_QUEUE="$T/q31" run "$I" < "$T/in"
	assert_failure 100
	assert_output "inject: fatal: queue program failed: 5.3.0 mail server permanently rejected message (exit 31)"
	QPOST_QUEUE="$T/nonexistent" run "$I" < "$T/in"
	assert_failure 111
	assert_output --partial "inject: fatal: queue program failed: 4.3.0 unable to run qq"
	[ -z "$(ls -A "$QPOST_HOME/queue/new")" ]
}

@test "inject: usage errors and no recipients exit 100" {
	run "$I" -x < /dev/null
	assert_failure 100
	assert_output --partial "usage: inject"
	printf 'Subject: nobody\n\nx\n' > "$T/in"
	run "$I" < "$T/in"
	assert_failure 100
	assert_output "inject: fatal: no recipients"
	printf 'To: "unterminated <b@example.org>\n\nx\n' > "$T/in"
	run "$I" < "$T/in"
	assert_failure 100
	assert_output --partial "unable to parse"
	[ -z "$(ls -A "$QPOST_HOME/queue/new")" ]
}

@test "inject: 50 concurrent injections give 50 distinct complete messages" {
	for i in $(seq 1 50); do
		printf 'To: r%s@example.org\nSubject: n%s\n\nmessage %s\n' \
		    "$i" "$i" "$i" > "$T/m$i"
	done
	pids=
	for i in $(seq 1 50); do
		spawn sh -c 'exec "$0" < "$1"' "$I" "$T/m$i"
		pids="$pids $LAST_PID"
	done
	for p in $pids; do
		wait "$p"
	done
	[ "$(ls "$QPOST_HOME/queue/new" | wc -l)" = 50 ]
	for f in "$QPOST_HOME"/queue/new/*; do
		i=$(sed -n 's/^Subject: n//p' "$f")
		grep -q "^message $i\$" "$f"
		grep -q "^To: r$i@example.org\$" "$f"
		tr '\0' '\n' < "$f" | grep -q "^Tr$i@example.org\$"
		echo "$i"
	done | sort -n | uniq > "$T/seen"
	seq 1 50 | cmp - "$T/seen"
}

# noreap CMD... - run CMD with SIGCHLD ignored, as a cron, PHP-FPM or
# swaks --pipe parent leaves it (an ignored SIGCHLD survives exec)
noreap() {
	perl -e '$SIG{CHLD} = "IGNORE"; exec @ARGV or die "exec: $!"' "$@"
}

@test "inject: with SIGCHLD ignored by the parent it still gets the queue's exit code (regression: exit 111 after queueing)" {
	printf 'To: b@example.org\n\nx\n' > "$T/in"
	run noreap "$I" < "$T/in"
	assert_success
	assert_output ""
	[ "$(ls "$QPOST_HOME/queue/new" | wc -l)" -eq 1 ]
	# a refusal is still a refusal
	printf '#!/bin/sh\ncat > /dev/null\nexit 31\n' > "$T/q31"
	chmod +x "$T/q31"
	QPOST_QUEUE="$T/q31" run noreap "$I" < "$T/in"
	assert_failure 100
	assert_output --partial "(exit 31)"
}

@test "inject: the queue program starts with SIGPIPE and SIGCHLD at their defaults, whatever inject's parent chose" {
	cat > "$T/qsig" <<EOF
#!/bin/sh
grep '^SigIgn:' /proc/\$\$/status > "$T/sigign"
exec "$QPOST_HOME/bin/queue"
EOF
	chmod +x "$T/qsig"
	printf 'To: b@example.org\n\nx\n' > "$T/in"
	QPOST_QUEUE="$T/qsig" run noreap perl -e '$SIG{PIPE} = "IGNORE"; exec @ARGV' "$I" < "$T/in"
	assert_success
	# SigIgn is a hex mask: SIGPIPE is bit 12 (0x1000), SIGCHLD bit 16
	mask=$(cut -f2 "$T/sigign")
	[ $(( 0x$mask & 0x11000 )) -eq 0 ]
}

@test "inject: CRLF line ends (PHP's mail()) and bare CRs are stored as LF; the header still parses (regression: CRs kept in the queue)" {
	printf 'To: b@example.org,\r\n  c@example.org\r\nSubject: crlf\r\n\r\nline one\r\nbare\rcr\r\r\nend\r' > "$T/in"
	run "$I" < "$T/in"
	assert_success
	run qenv
	assert_output "F alice@test.example
T b@example.org
T c@example.org"
	qmsg
	[ "$(tr -cd '\r' < "$T/out" | wc -c)" -eq 0 ]
	run --keep-empty-lines cat "$T/out"
	assert_line --index 0 "To: b@example.org,"
	assert_line --index 1 "  c@example.org"
	assert_line --index 2 "Subject: crlf"
	# the body: CRLF is one line end, a bare CR is one of its own
	tail -n 5 "$T/out" > "$T/body"
	printf 'line one\nbare\ncr\n\nend\n' | cmp - "$T/body"
	# a CR in the header is a line end too, before recipients are read:
	# what is stored and what is delivered to agree
	rm "$QPOST_HOME"/queue/new/*
	printf 'Subject: a\rTo: d@example.org\n\nx\n' | "$I"
	run qenv
	assert_output "F alice@test.example
T d@example.org"
	qmsg
	run grep -c '^To: d@example.org$' "$T/out"
	assert_output 1
}

@test "inject: a control character in the sender, a recipient, QPOST_HOST, MAILNAME, QPOST_USER, -F, QPOST_NAME, NAME or control/me is refused with 100 (regression: header injection)" {
	printf 'To: b@example.org\n\nx\n' > "$T/in"
	# refused VAR=VALUE... -- ARGS...: exit 100 naming the source, nothing queued
	refused() {
		local what=$1
		shift
		run env "$@" < "$T/in"
		assert_failure 100
		assert_output "inject: fatal: control character in $what"
		[ -z "$(ls -A "$QPOST_HOME/queue/new")" ]
	}
	refused "the sender address" "$I" -f $'a\rb@example.org'
	refused "the sender address" "$I" -f $'a@example.org\r\nBcc: x@y'
	refused "the sender address" "$I" -f $'a\tb@example.org'
	refused "the sender address" "$I" -f $'a\x7fb@example.org'
	refused "a recipient argument" "$I" $'c@example.org\nX: y'
	refused "QPOST_HOST" QPOST_HOST=$'host.example\nX-Injected: 1' "$I"
	refused "MAILNAME" MAILNAME=$'host.example\r' "$I"
	refused "QPOST_USER" QPOST_USER=$'al\nice' "$I"
	refused "the -F full name" "$I" -F $'Alice\nX-Injected: 1'
	refused "QPOST_NAME" QPOST_NAME=$'Alice\r\nX: 1' "$I"
	refused "NAME" NAME=$'Alice\x01' "$I"
	# a recipient from the header with a control character in a quoted
	# local part
	printf 'To: "a\001b"@example.org\n\nx\n' > "$T/in"
	refused "a recipient address" "$I"
	# control/me is the administrator's, but still not written as it is
	printf 'To: b@example.org\n\nx\n' > "$T/in"
	printf 'bad\033host\n' > "$QPOST_HOME/control/me"
	refused "control/me" "$I"
}
