#!/usr/bin/env bats
# send, the queue manager, with the real queue and local programs.
# Local mailboxes are the alias user's: alias/.qmail-NAME files.

load helper

setup() {
	qpost_setup
	LOG="$BATS_TEST_TMPDIR/send.log"
	: > "$LOG"
	A="$QPOST_HOME/alias"
	maildir "$A/Maildir"
	echo ./Maildir/ > "$A/.qmail-joe"
	maildir "$A/Maildir-sender"
	echo ./Maildir-sender/ > "$A/.qmail-sender"
	maildir "$A/Maildir-pm"
	echo ./Maildir-pm/ > "$A/.qmail-postmaster"
	if [ "$(id -u)" = 0 ]; then
		# local will not deliver as root: the alias user is nobody,
		# who must reach the test's home (bats makes it 0700)
		chmod o+x "$BATS_RUN_TMPDIR"
		[ -z "${QPOST_SANITIZE:-}" ] || chmod 1777 "$BATS_TEST_TMPDIR/san"
	fi
	own
}

# own - after writing under alias/: hand it to the alias user (as root)
own() {
	if [ "$(id -u)" = 0 ]; then
		chown -R nobody:nogroup "$A"
	fi
}
teardown() { qpost_teardown; }

maildir() { mkdir -p "$1/tmp" "$1/new" "$1/cur"; }

# inject FROM TO... < message: through the real queue program
inject() {
	local from=$1 env
	shift
	env=$(printf 'F%s\\0' "$from"; printf 'T%s\\0' "$@"; printf '\\0')
	"$QPOST_HOME/bin/queue" 1< <(printf "$env")
}

start_send() {
	spawn "$QPOST_HOME/bin/send" 2>>"$LOG"
	SEND_PID=$LAST_PID
}

logged() { grep -q -- "$1" "$LOG"; }

# waiting_remote SECONDS - a remote that accepts every recipient once
# $BATS_TEST_TMPDIR/go exists, or after SECONDS
waiting_remote() {
	cat > "$BATS_TEST_TMPDIR/remote" <<-EOF
	#!/bin/sh
	cat > /dev/null
	i=0
	until [ -e "$BATS_TEST_TMPDIR/go" ] || [ \$i -ge $1 ]; do sleep 1; i=\$((i+1)); done
	printf 'rok\0K250 ok\0'
	EOF
	chmod +x "$BATS_TEST_TMPDIR/remote"
	export QPOST_REMOTE="$BATS_TEST_TMPDIR/remote"
}
count_in() { find "$1" -type f | wc -l; }
has_n() { [ "$(count_in "$1")" -ge "$2" ]; }
queue_empty() {
	[ "$(find "$QPOST_HOME/queue/new" "$QPOST_HOME/queue/mess" \
	    "$QPOST_HOME/queue/info" -type f | wc -l)" -eq 0 ]
}

@test "send delivers queued mail into a Maildir byte for byte" {
	start_send
	printf 'From: a@test.example\nSubject: exact\n\nline 1\n\tline 2 \xe9\xff\n\n.\n..\nlast line no newline' \
	    > "$BATS_TEST_TMPDIR/msg"
	inject sender@test.example joe@test.example < "$BATS_TEST_TMPDIR/msg"
	wait_for 10 has_n "$A/Maildir/new" 1
	wait_for 10 queue_empty
	f=$(find "$A/Maildir/new" -type f)
	# what local and queue put in front, then the message untouched
	n=$(stat -c %s "$BATS_TEST_TMPDIR/msg")
	tail -c "$n" "$f" | cmp - "$BATS_TEST_TMPDIR/msg"
	run head -n 3 "$f"
	assert_line -n 0 'Return-Path: <sender@test.example>'
	assert_line -n 1 'Delivered-To: joe@test.example'
	assert_line -n 2 --regexp '^Received: \(qpost [0-9]+ invoked by uid [0-9]+\); '
	[ "$(stat -c %s "$f")" -eq $(( $(head -n 3 "$f" | wc -c) + n )) ]
	logged 'new msg [0-9A-Z]\{10\}\.[0-9]* from <sender@test.example> size [0-9]* rcpts 1 message-id <[^>]*>$'
	logged 'starting delivery 1: msg [0-9A-Z.]* to local <joe@test.example>'
	logged 'delivery 1: success: msg [0-9A-Z]\{10\}\.[0-9]* to local <joe@test.example> delay [0-9]*\.[0-9]: '
	logged 'end msg [0-9A-Z]\{10\}\.[0-9]*$'
}

@test "a program delivery failing with 111 succeeds on the retry (SIGALRM)" {
	cat > "$A/prog" <<-EOF
	#!/bin/sh
	[ -e "$A/ok" ] || { echo "not yet"; exit 111; }
	cat > "$A/got"
	EOF
	chmod +x "$A/prog"
	echo "|$A/prog" > "$A/.qmail-prog"
	own
	start_send
	printf 'Subject: retry\n\nbody\n' | inject sender@test.example prog@test.example
	wait_for 10 logged 'deferral: msg [0-9A-Z.]* to [a-z]* <prog@test.example> delay [0-9.]* retry in [0-9]*s'
	[ ! -e "$A/got" ]
	touch "$A/ok"
	own
	kill -ALRM "$SEND_PID"
	wait_for 10 test -s "$A/got"
	wait_for 10 queue_empty
	grep -q '^body$' "$A/got"
	logged 'success: msg [0-9A-Z.]* to [a-z]* <prog@test.example>'
	run count_in "$A/Maildir-sender/new"
	assert_output 0
}

@test "a permanent failure bounces as an RFC 3464 multipart/report" {
	start_send
	printf 'From: sender@test.example\nSubject: will bounce\nMessage-ID: <x1@test.example>\n\nbody\n' |
	    inject sender@test.example nosuchuser@test.example joe@test.example
	wait_for 10 has_n "$A/Maildir-sender/new" 1
	wait_for 10 queue_empty
	run count_in "$A/Maildir/new"
	assert_output 1
	f=$(find "$A/Maildir-sender/new" -type f)
	grep -q '^Return-Path: <>' "$f"
	run "$PY" - "$f" <<-'EOF'
	import email, sys
	m = email.message_from_binary_file(open(sys.argv[1], 'rb'))
	assert m.get_content_type() == 'multipart/report', m.get_content_type()
	assert m.get_param('report-type') == 'delivery-status'
	assert m['From'] == 'MAILER-DAEMON@test.example', m['From']
	parts = m.get_payload()
	assert [p.get_content_type() for p in parts] == ['text/plain',
	    'message/delivery-status', 'text/rfc822-headers']
	ds = parts[1].get_payload()
	assert ds[0]['Reporting-MTA'] == 'dns; test.example'
	assert ds[0]['Arrival-Date']
	rc = ds[1:]
	assert len(rc) == 1, rc
	assert rc[0]['Final-Recipient'] == 'rfc822; nosuchuser@test.example'
	assert rc[0]['Action'] == 'failed'
	assert rc[0]['Status'].startswith('5.'), rc[0]['Status']
	assert rc[0]['Diagnostic-Code']
	assert 'Subject: will bounce' in parts[2].get_payload()
	print('ok')
	EOF
	assert_success
	assert_output ok
	logged 'failure: msg [0-9A-Z.]* to [a-z]* <nosuchuser@test.example>'
	logged 'bounce msg [0-9A-Z.]* as [0-9A-Z]\{10\}\.[0-9]* to <sender@test.example>'
}

@test "a bounce quotes the original header only, at most 16 KB, cut between fields (issue 17)" {
	start_send
	{
		printf 'From: sender@test.example\nSubject: huge header\n'
		for i in $(seq 1 3000); do
			printf 'X-Filler-%d: aaaaaaaaaaaaaaaaaaaa\n\tbbbbbbbbbbbbbbbbbbbb-%d\n' $i $i
		done
		printf '\nsecret body line\n'
	} | inject sender@test.example nosuchuser@test.example
	wait_for 10 has_n "$A/Maildir-sender/new" 1
	wait_for 10 queue_empty
	f=$(find "$A/Maildir-sender/new" -type f)
	[ "$(stat -c %s "$f")" -lt $((20 * 1024)) ]
	run grep -c 'secret body line' "$f"
	assert_output 0
	run "$PY" - "$f" <<-'EOF'
	import email, sys
	m = email.message_from_binary_file(open(sys.argv[1], 'rb'))
	parts = m.get_payload()
	assert parts[2].get_content_type() == 'text/rfc822-headers'
	h = parts[2].get_payload()
	assert len(h) <= 16 * 1024, len(h)
	assert 'Subject: huge header' in h
	lines = h.rstrip('\n').split('\n')
	fields = [l for l in lines if l.startswith('X-Filler-')]
	conts = [l for l in lines if l.startswith('\t')]
	# every field it has is whole: each X-Filler line has its fold
	assert len(fields) == len(conts) > 100, (len(fields), len(conts))
	assert lines[-1].startswith('\tbbbb'), lines[-1]
	print('ok')
	EOF
	assert_success
	assert_output ok
}

@test "a bounce that cannot be delivered goes to postmaster" {
	start_send
	printf 'Subject: double\n\nbody\n' | inject ghost@test.example nosuchuser@test.example
	wait_for 10 has_n "$A/Maildir-pm/new" 1
	wait_for 10 queue_empty
	f=$(find "$A/Maildir-pm/new" -type f)
	grep -q '^Final-Recipient: rfc822; ghost@test.example' "$f"
	grep -q '^Return-Path: <#@\[\]>' "$f"
	logged 'double bounce msg [0-9A-Z.]* as [0-9A-Z]\{10\}\.[0-9]* to <postmaster@test.example>'
}

@test "nothing is ever bounced to <>; a failed double bounce is dropped" {
	rm "$A/.qmail-postmaster"
	start_send
	printf 'Subject: from null\n\nbody\n' | inject "" nosuchuser@test.example
	wait_for 10 logged 'triple bounce: discarding msg'
	wait_for 10 queue_empty
	run grep -c 'bounce msg .* to <>' "$LOG"
	assert_output 0
	logged 'double bounce msg [0-9A-Z.]* as [0-9A-Z]\{10\}\.[0-9]* to <postmaster@test.example>'
}

@test "a failing |program bounces with its output and status, not its command line (issue 15)" {
	# The token is only in the .qmail line, never in what the program
	# prints: the bounce must not carry it; the admin's log does.
	echo "|t=secret-token-xyz; echo 'Sorry, no such list (#5.1.1)'; exit 100" > "$A/.qmail-list"
	own
	start_send
	printf 'Subject: to a list\n\nbody\n' | inject sender@test.example list@test.example
	wait_for 15 has_n "$A/Maildir-sender/new" 1
	wait_for 10 queue_empty
	f=$(find "$A/Maildir-sender/new" -type f)
	grep -q 'Sorry, no such list (#5\.1\.1)' "$f"
	grep -q '^Status: 5\.1\.1$' "$f"
	grep -q '^Diagnostic-Code: X-Qpost; local: fatal: program failed permanently (exit 100): Sorry, no such list (#5\.1\.1)$' "$f"
	run grep -c 'secret-token-xyz' "$f"
	assert_output 0
	logged 'delivery [0-9]*: info: msg [0-9A-Z.]* to <list@test.example>: program failed permanently (exit 100): t=secret-token-xyz; '
	logged 'delivery [0-9]*: failure: msg [0-9A-Z.]* to [a-z]* <list@test.example> delay [0-9.]*: local: fatal: program failed permanently (exit 100): Sorry, no such list (#5.1.1)$'
}

@test "after queuelifetime a temporary failure becomes a bounce" {
	echo 1 > "$QPOST_HOME/control/queuelifetime"
	printf '#!/bin/sh\necho "4.2.2 mailbox busy"\nexit 111\n' > "$A/busy"
	chmod +x "$A/busy"
	echo "|$A/busy" > "$A/.qmail-busy"
	own
	start_send
	printf 'Subject: expire\n\nbody\n' | inject sender@test.example busy@test.example
	wait_for 15 has_n "$A/Maildir-sender/new" 1
	wait_for 10 queue_empty
	logged 'failure: msg [0-9A-Z.]* to [a-z]* <busy@test.example> delay [0-9.]*: message expired'
	f=$(find "$A/Maildir-sender/new" -type f)
	grep -q '^Status: 4\.' "$f"
	grep -q '^Final-Recipient: rfc822; busy@test.example' "$f"
}

@test "SIGHUP picks up a new concurrencylocal" {
	echo 1 > "$QPOST_HOME/control/concurrencylocal"
	cat > "$A/hold" <<-EOF
	#!/bin/sh
	i=0
	while [ ! -e "$A/go" ] && [ \$i -lt 600 ]; do sleep 0.05; i=\$((i+1)); done
	cat > /dev/null
	EOF
	chmod +x "$A/hold"
	echo "|$A/hold" > "$A/.qmail-hold"
	own
	start_send
	for i in 1 2 3; do
		printf 'Subject: %s\n\nx\n' $i | inject sender@test.example hold@test.example
	done
	wait_for 10 logged 'status: local 1/1'
	sleep 0.3
	run grep -c 'starting delivery' "$LOG"
	assert_output 1
	echo 3 > "$QPOST_HOME/control/concurrencylocal"
	kill -HUP "$SEND_PID"
	wait_for 10 logged 'control: concurrencylocal 3'
	wait_for 10 logged 'status: local 3/3'
	touch "$A/go"
	own
	wait_for 15 queue_empty
	run grep -c 'success: msg [0-9A-Z.]* to [a-z]* <hold@test.example>' "$LOG"
	assert_output 3
}

@test "remote recipients go to the remote program, one run per domain" {
	cat > "$BATS_TEST_TMPDIR/remote" <<-EOF
	#!/bin/sh
	[ "\$1" != -S ] || shift	# -S: sign (docs/dkim.md)
	echo "\$*" >> "$BATS_TEST_TMPDIR/remote.args"
	cat > /dev/null
	shift 2
	for r; do
		case \$r in
		ok*) printf 'rok\0' ;;
		bad*) printf 'h5.1.1 550 5.1.1 no such user\0' ;;
		*) if [ -e "$BATS_TEST_TMPDIR/up" ]; then printf 'r\0'
		   else printf 's451 4.3.0 try later\0'; fi ;;
		esac
	done
	printf 'K250 queued\0'
	EOF
	chmod +x "$BATS_TEST_TMPDIR/remote"
	export QPOST_REMOTE="$BATS_TEST_TMPDIR/remote"
	start_send
	printf 'Subject: remote\n\nbody\n' | inject sender@test.example \
	    ok1@a.example bad@a.example later@a.example ok2@b.example
	wait_for 10 logged 'deferral: msg [0-9A-Z.]* to [a-z]* <later@a.example>'
	wait_for 10 logged 'success: msg [0-9A-Z.]* to [a-z]* <ok2@b.example>'
	run sort "$BATS_TEST_TMPDIR/remote.args"
	assert_line 'a.example sender@test.example ok1@a.example bad@a.example later@a.example'
	assert_line 'b.example sender@test.example ok2@b.example'
	logged 'success: msg [0-9A-Z.]* to [a-z]* <ok1@a.example> delay [0-9.]*: 250 queued'
	logged 'failure: msg [0-9A-Z.]* to [a-z]* <bad@a.example> delay [0-9.]*: 550 5.1.1 no such user'
	# one bounce per message: not before the deferred recipient is done
	run count_in "$A/Maildir-sender/new"
	assert_output 0
	touch "$BATS_TEST_TMPDIR/up"
	kill -ALRM "$SEND_PID"
	wait_for 10 has_n "$A/Maildir-sender/new" 1
	wait_for 10 queue_empty
	run tail -n 1 "$BATS_TEST_TMPDIR/remote.args"
	assert_output 'a.example sender@test.example later@a.example'
	f=$(find "$A/Maildir-sender/new" -type f)
	grep -q '^Final-Recipient: rfc822; bad@a.example' "$f"
	grep -q '^Status: 5\.1\.1' "$f"
	run grep -c '^Final-Recipient:' "$f"
	assert_output 1
}

@test "a remote program that crashes or says nothing defers every recipient" {
	printf '#!/bin/sh\ncat >/dev/null\nkill -9 $$\n' > "$BATS_TEST_TMPDIR/remote"
	chmod +x "$BATS_TEST_TMPDIR/remote"
	export QPOST_REMOTE="$BATS_TEST_TMPDIR/remote"
	start_send
	printf 'Subject: remote\n\nbody\n' | inject sender@test.example x@a.example y@a.example
	wait_for 10 logged 'deferral: msg [0-9A-Z.]* to [a-z]* <y@a.example>'
	logged 'deferral: msg [0-9A-Z.]* to [a-z]* <x@a.example> delay [0-9.]* retry in [0-9]*s: remote crashed'
	run count_in "$A/Maildir-sender/new"
	assert_output 0
}

@test "state survives a restart: a deferred recipient is not redelivered" {
	printf '#!/bin/sh\nexit 111\n' > "$A/fail"
	chmod +x "$A/fail"
	echo "|$A/fail" > "$A/.qmail-fail"
	own
	start_send
	printf 'Subject: two\n\nbody\n' | inject sender@test.example joe@test.example fail@test.example
	wait_for 10 logged 'deferral: msg [0-9A-Z.]* to [a-z]* <fail@test.example>'
	wait_for 10 has_n "$A/Maildir/new" 1
	kill -9 "$SEND_PID"
	: > "$LOG"
	start_send
	wait_for 10 logged 'control:'
	kill -ALRM "$SEND_PID"
	wait_for 10 logged 'deferral: msg [0-9A-Z.]* to [a-z]* <fail@test.example>'
	run grep -c 'joe@test.example' "$LOG"
	assert_output 0
	run count_in "$A/Maildir/new"
	assert_output 1
}

@test "start-up clears garbage and moves a broken new file aside" {
	q="$QPOST_HOME/queue"
	printf 'no trailer here' > "$q/new/x"
	ino=$(stat -c %i "$q/new/x")
	mv "$q/new/x" "$q/new/$ino"
	echo junk > "$q/mess/999999999"
	echo junk > "$q/tmp/old"
	touch -d '3 days ago' "$q/tmp/old"
	echo young > "$q/tmp/young"
	# a pool file queue has just renamed into tmp/ keeps its old mtime
	# for a moment: the time in queue's tmp name says it is in use
	claimed="4242.$(date +%s).5"
	echo claimed > "$q/tmp/$claimed"
	touch -d '3 days ago' "$q/tmp/$claimed" "$q/tmp/4242.1000000000.5"
	start_send
	wait_for 10 test -e "$q/bad/$ino"
	wait_for 10 test ! -e "$q/mess/999999999"
	wait_for 10 test ! -e "$q/tmp/old"
	wait_for 10 test ! -e "$q/tmp/4242.1000000000.5"
	[ -e "$q/tmp/young" ]
	[ -e "$q/tmp/$claimed" ]
	logged "moved queue/new/$ino to queue/bad/"
}

@test "kill -9 at random moments during 500 messages loses nothing" {
	start_send
	(
		for i in $(seq 1 500); do
			printf 'Subject: seq\nX-Seq: %d\n\nbody %d\n' $i $i |
			    inject sender@test.example joe@test.example || exit 1
		done
	) &
	injector=$!
	echo $injector >> "$PIDFILE"
	kills=0
	for round in $(seq 1 12); do
		sleep 0.$((RANDOM % 4 + 1))
		kill -9 "$SEND_PID"
		wait "$SEND_PID" 2>/dev/null || true
		kills=$((kills + 1))
		start_send
	done
	wait "$injector"
	wait_for 60 queue_empty
	# every message at least once; more only for deliveries in flight
	run sh -c "cat '$A'/Maildir/new/* | grep -c '^X-Seq: '"
	total=$output
	run sh -c "cat '$A'/Maildir/new/* | grep '^X-Seq: ' | sort -u | wc -l"
	assert_output 500
	[ "$total" -le $((500 + kills * 10)) ]
	run count_in "$A/Maildir-sender/new"
	assert_output 0
}

@test "qpost-spawn runs local for send, and passes SIGTERM on" {
	spawn "$QPOST_HOME/bin/qpost-spawn" "$QPOST_HOME/bin/send" 2>>"$LOG"
	sp=$LAST_PID
	printf 'Subject: via spawn\n\nbody\n' | inject sender@test.example joe@test.example
	wait_for 10 has_n "$A/Maildir/new" 1
	wait_for 10 queue_empty
	kill -TERM "$sp"
	wait_for 10 logged 'send: exiting'
	wait_for 10 sh -c "! kill -0 $sp"
}

@test "qpost-spawn with an admin's QPOST_LOCAL starts it per delivery, never as a -W worker" {
	# the admin's program: writes down its pid and arguments (as the
	# recipient: into a directory anybody may write), then hands over to
	# the real local
	mkdir -m 1777 "$BATS_TEST_TMPDIR/r"
	cat > "$BATS_TEST_TMPDIR/local" <<-EOF
	#!/bin/sh
	echo "\$\$ \$1" >> "$BATS_TEST_TMPDIR/r/runs"
	exec "$QPOST_HOME/bin/local" "\$@"
	EOF
	chmod +x "$BATS_TEST_TMPDIR/local"
	export QPOST_LOCAL="$BATS_TEST_TMPDIR/local"
	spawn "$QPOST_HOME/bin/qpost-spawn" "$QPOST_HOME/bin/send" 2>>"$LOG"
	for i in 1 2; do
		printf 'Subject: admin %s\n\nbody\n' $i | inject sender@test.example joe@test.example
		wait_for 10 has_n "$A/Maildir/new" $i
	done
	wait_for 10 queue_empty
	run cat "$BATS_TEST_TMPDIR/r/runs"
	[ "${#lines[@]}" = 2 ]
	[ "${lines[0]% *}" != "${lines[1]% *}" ]
	# local's first argument is the user, never -W
	[ "${lines[0]#* }" != -W ] && [ "${lines[1]#* }" != -W ]
	[ "${lines[0]#* }" = "${lines[1]#* }" ]
}

@test "a delivery qpost-spawn refuses (over its limit) is deferred with that reason" {
	waiting_remote 30
	spawn "$QPOST_HOME/bin/qpost-spawn" -c 1 "$QPOST_HOME/bin/send" 2>>"$LOG"
	sp=$LAST_PID
	printf 'Subject: two domains\n\nbody\n' |
	    inject sender@test.example r1@d1.example r2@d2.example
	wait_for 10 logged 'deferral: msg [0-9A-Z.]* to [a-z]* <r[12]@d[12].example> delay [0-9.]* retry in [0-9]*s: qpost-spawn refused the delivery (over its limit, or an id it will not use)'
	! logged 'exited 111 without a reason'
	touch "$BATS_TEST_TMPDIR/go"
	kill -TERM "$sp"
	wait_for 40 sh -c "! kill -0 $sp"
}

@test "send refuses to run as root on the installed home" {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	run env -u QPOST_HOME "$QPOST_HOME/bin/send"
	assert_failure 100
	assert_output --partial 'refusing to run as root'
}

@test "concurrencyremote above 255: 300 remote runs at once" {
	echo 300 > "$QPOST_HOME/control/concurrencyremote"
	waiting_remote 60
	start_send
	printf 'Subject: wide\n\nbody\n' |
	    inject sender@test.example $(for i in $(seq 1 300); do echo "r$i@d$i.example"; done)
	wait_for 30 logged 'status: local 0/10 remote 300/300'
	touch "$BATS_TEST_TMPDIR/go"
	wait_for 30 queue_empty
	run grep -c 'success: msg [0-9A-Z.]* to [a-z]* <r[0-9]*@d[0-9]*.example> delay [0-9.]*: 250 ok' "$LOG"
	assert_output 300
}

@test "an interrupted pick-up (info/ written, new/ cut or not) is finished at start" {
	for cut in 0 1; do
		printf 'Subject: resumed %s\n\nbody\n' $cut |
		    inject sender@test.example joe@test.example
	done
	# what send leaves when killed after writing info/<id> (docs/send.md):
	# the first message untruncated, the second already cut to its body
	"$PY" - "$QPOST_HOME/queue" <<-'PYEOF'
	import os, sys
	q = sys.argv[1]
	for n, name in enumerate(sorted(os.listdir(q + "/new"), key=int)):
	    p = q + "/new/" + name
	    data = open(p, "rb").read()
	    off = int(data[-23:-1])
	    env = data[off:-32]
	    st = os.stat(p)
	    open(q + "/info/" + name, "wb").write(
	        b"M%d %d %d\0" % (st.st_mtime, off, len(data)) + env)
	    if n == 1:
	        os.truncate(p, off)
	PYEOF
	echo junk > "$QPOST_HOME/queue/info/12345.tmp"
	start_send
	wait_for 10 has_n "$A/Maildir/new" 2
	wait_for 10 queue_empty
	[ ! -e "$QPOST_HOME/queue/info/12345.tmp" ]
	run grep -c 'new msg' "$LOG"
	assert_output 0
	run sh -c "cat '$A'/Maildir/new/* | grep -c '^Subject: resumed'"
	assert_output 2
	run sh -c "cat '$A'/Maildir/new/* | grep -c QPOSTENV"
	assert_output 0
}

@test "SIGTERM waits for the delivery in flight, records it, and exits 0" {
	cat > "$A/hold" <<-EOF
	#!/bin/sh
	i=0
	while [ ! -e "$A/go" ] && [ \$i -lt 600 ]; do sleep 0.05; i=\$((i+1)); done
	cat > "$A/got"
	EOF
	chmod +x "$A/hold"
	echo "|$A/hold" > "$A/.qmail-hold"
	own
	start_send
	printf 'Subject: term\n\nbody\n' | inject sender@test.example hold@test.example
	wait_for 10 logged 'starting delivery 1:'
	kill -TERM "$SEND_PID"
	wait_for 10 logged 'stopping: waiting for 1 deliveries'
	touch "$A/go"
	own
	# exit code 0 (wait returns it; bats fails the test otherwise)
	wait "$SEND_PID"
	logged 'delivery 1: success: msg [0-9A-Z.]* to [a-z]* <hold@test.example>'
	logged 'exiting with 0 deliveries unfinished'
	queue_empty
	[ -s "$A/got" ]
}

@test "a local killed by a signal is a deferral; the retry delivers" {
	cat > "$BATS_TEST_TMPDIR/local" <<-EOF
	#!/bin/sh
	if [ ! -e "$BATS_TEST_TMPDIR/crashed" ]; then
		touch "$BATS_TEST_TMPDIR/crashed"
		kill -9 \$\$
	fi
	exec "$QPOST_HOME/bin/local" "\$@"
	EOF
	chmod +x "$BATS_TEST_TMPDIR/local"
	export QPOST_LOCAL="$BATS_TEST_TMPDIR/local"
	start_send
	printf 'Subject: crash\n\nbody\n' | inject sender@test.example joe@test.example
	wait_for 10 logged 'deferral: msg [0-9A-Z.]* to [a-z]* <joe@test.example> delay [0-9.]* retry in [0-9]*s: local crashed (signal 9)'
	kill -ALRM "$SEND_PID"
	wait_for 10 has_n "$A/Maildir/new" 1
	wait_for 10 queue_empty
	run count_in "$A/Maildir-sender/new"
	assert_output 0
}

@test "a second send on the same queue exits (after 5 s) and delivers nothing twice" {
	start_send
	wait_for 10 logged 'control: concurrencylocal'
	for i in 1 2 3; do
		printf 'Subject: once %s\n\nbody\n' $i | inject sender@test.example joe@test.example
	done
	run timeout 10 "$QPOST_HOME/bin/send"
	assert_failure 111
	assert_output --partial 'another send is running on this queue'
	wait_for 10 has_n "$A/Maildir/new" 3
	wait_for 10 queue_empty
	sleep 1
	[ "$(count_in "$A/Maildir/new")" -eq 3 ]
	# the first send still runs and still delivers
	kill -0 "$SEND_PID"
	printf 'Subject: later\n\nbody\n' | inject sender@test.example joe@test.example
	wait_for 10 has_n "$A/Maildir/new" 4
}

@test "new msg: message-id is the header's value without brackets, unfolded, cut at 200 bytes, - when none; the ID is queue's" {
	start_send
	printf 'Subject: none\n\nbody with Message-ID: <not@header>\n' |
	    QPOST_IDFD=3 inject s@test.example joe@test.example 3> "$BATS_TEST_TMPDIR/id1"
	printf 'message-id:\t<folded.2@x.example>\n\t \nSubject: folded\n\nbody\n' |
	    QPOST_IDFD=3 inject s@test.example joe@test.example 3> "$BATS_TEST_TMPDIR/id2"
	long=$(printf 'a%.0s' $(seq 1 300))
	printf 'Subject: long\nMessage-ID: <%s@x.example>\n\nbody\n' "$long" |
	    QPOST_IDFD=3 inject s@test.example joe@test.example 3> "$BATS_TEST_TMPDIR/id3"
	wait_for 10 has_n "$A/Maildir/new" 3
	id1=$(cat "$BATS_TEST_TMPDIR/id1") id2=$(cat "$BATS_TEST_TMPDIR/id2") id3=$(cat "$BATS_TEST_TMPDIR/id3")
	logged "^send: new msg $id1 from <s@test.example> size [0-9]* rcpts 1 message-id <->\$"
	logged "^send: new msg $id2 from <s@test.example> size [0-9]* rcpts 1 message-id <folded.2@x.example>\$"
	logged "^send: new msg $id3 from <s@test.example> size [0-9]* rcpts 1 message-id <${long:0:200}>\$"
	wait_for 10 logged "^send: end msg $id3\$"
}
