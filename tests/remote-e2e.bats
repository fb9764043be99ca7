#!/usr/bin/env bats
# Two qpost instances on one machine: swaks submits to A (tcpserver +
# smtpd, relaying for loopback), A's send runs remote, which reaches B
# (tcpserver + smtpd) through A's control/smtproutes; B's send runs local
# into B's Maildir.  The message must land there byte-exact.

load helper

# instance DIR ME - a home for one more instance, everything local to ME
# delivered to the alias user's Maildir
instance() {
	local h=$1 me=$2
	sh "$QPOST_SRC/scripts/install-home" "$h" >/dev/null
	printf '%s\n' "$me" > "$h/control/me"
	printf '%s\n' "$me" localhost > "$h/control/locals"
	printf '%s\n' "$me" localhost > "$h/control/rcpthosts"
	echo ./Maildir/ > "$h/alias/.qmail-default"
	if [ "$(id -u)" = 0 ]; then
		# local will not deliver as root: the alias user is nobody
		chown -R nobody:nogroup "$h/alias"
	fi
}

# serve HOME PORT - tcpserver + smtpd of that home on 127.0.0.1:PORT,
# and its send; logs in HOME/smtpd.log and HOME/send.log
serve() {
	local h=$1 port=$2
	tcprules "$h/rules.cdb" "$h/rules.tmp" < "$QPOST_SRC/rules"
	spawn env QPOST_HOME="$h" tcpserver -x "$h/rules.cdb" -R -H -l0 \
	    -c 20 127.0.0.1 "$port" "$h/bin/smtpd" 2>>"$h/smtpd.log"
	spawn env QPOST_HOME="$h" "$h/bin/send" 2>>"$h/send.log"
	wait_port "$port"
}

setup() {
	qpost_setup
	T=$BATS_TEST_TMPDIR
	if [ "$(id -u)" = 0 ]; then
		chmod o+x "$BATS_RUN_TMPDIR"
		[ -z "${QPOST_SANITIZE:-}" ] || chmod 1777 "$T/san"
	fi
	A=$T/a
	B=$T/b
	instance "$A" a.test
	instance "$B" b.test
	PA=$(free_port)
	PB=$(free_port)
	echo "b.test:127.0.0.1:$PB" > "$A/control/smtproutes"
	serve "$B" "$PB"
	serve "$A" "$PA"
}

teardown() { qpost_teardown; }

count() {	# count DIR... - files in the DIRs
	find "$@" -type f | wc -l
}
arrived() { [ "$(count "$B/alias/Maildir/new")" -ge 1 ]; }
drained() { [ "$(count "$1/queue/new" "$1/queue/mess")" -eq 0 ]; }

@test "two instances: swaks -> A smtpd -> A send -> remote -> B smtpd -> B send -> local -> B's Maildir, byte-exact" {
	printf 'From: joe@a.test\nTo: kim@b.test\nSubject: across\n\n.leading dot\n..two dots\n.\n8bit \303\251\377 and\ttab\n\nlast line\n' > "$T/msg"
	run swaks --server "127.0.0.1:$PA" --helo client.a.test \
	    --from joe@a.test --to kim@b.test --data @"$T/msg"
	assert_success
	wait_for 20 arrived
	f=$(find "$B/alias/Maildir/new" -type f)
	# swaks ends the data with one more empty line
	printf '\n' >> "$T/msg"
	n=$(stat -c %s "$T/msg")
	tail -c "$n" "$f" | cmp - "$T/msg"
	run head -n 2 "$f"
	assert_line -n 0 'Return-Path: <joe@a.test>'
	assert_line -n 1 'Delivered-To: kim@b.test'
	# both trace lines: B's smtpd, then A's
	[ "$(grep -c '^Received: ' "$f")" -ge 4 ]
	run grep -E "success: msg [0-9A-Z.]+ to [a-z]+ <kim@b\\.test> delay [0-9.]+: 127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:$PB TLS=no accepted the message: 250" "$A/send.log"
	assert_success
	wait_for 10 drained "$A"
	wait_for 10 drained "$B"
	[ "$(count "$B/alias/Maildir/new")" -eq 1 ]
	[ "$(count "$A/alias/Maildir/new")" -eq 0 ]
}
