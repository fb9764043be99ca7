#!/usr/bin/env bats
# Queue control through send's command channel run/send/ctl
# (docs/queue-control.md): qpost-tool queue, show, delete, hold, release,
# retry, requeue, and sendmail -bp / -q, with a real send running.
# Remote mail goes to a stub that defers until $BATS_TEST_TMPDIR/go exists.

load helper

setup() {
	qpost_setup
	LOG="$BATS_TEST_TMPDIR/send.log"
	: > "$LOG"
	A="$QPOST_HOME/alias"
	mkdir -p "$A/Maildir/tmp" "$A/Maildir/new" "$A/Maildir/cur"
	echo ./Maildir/ > "$A/.qmail-joe"
	echo ./Maildir/ > "$A/.qmail-sender"
	if [ "$(id -u)" = 0 ]; then
		# local will not deliver as root: the alias user is nobody,
		# who must reach the test's home (bats makes it 0700)
		chmod o+x "$BATS_RUN_TMPDIR"
		chown -R nobody:nogroup "$A"
		[ -z "${QPOST_SANITIZE:-}" ] || chmod 1777 "$BATS_TEST_TMPDIR/san"
	fi
	cat > "$BATS_TEST_TMPDIR/remote" <<-EOF
	#!/bin/sh
	# remote [-S] DOMAIN SENDER RCPT...: defer until go exists
	[ "\$1" != -S ] || shift
	echo "\$1" >> "$BATS_TEST_TMPDIR/remote.calls"
	cat > /dev/null
	shift 2
	if [ -e "$BATS_TEST_TMPDIR/go" ]; then
		for r; do printf 'r\0'; done
		printf 'K2.0.0 mx.example[192.0.2.1] accepted\0'
	else
		for r; do printf 's4.7.1 greylisted, come back later\0'; done
		printf 'Z4.7.1 later\0'
	fi
	EOF
	chmod +x "$BATS_TEST_TMPDIR/remote"
	export QPOST_REMOTE="$BATS_TEST_TMPDIR/remote"
	T="$QPOST_HOME/bin/qpost-tool"
}
teardown() { qpost_teardown; }

start_send() {
	spawn "$QPOST_HOME/bin/send" 2>>"$LOG"
	SEND_PID=$LAST_PID
	wait_for 10 "$QPOST_HOME/bin/qpost-tool" queue
}
stop_send() {
	kill "$SEND_PID"
	wait "$SEND_PID" || true
}
logged() { grep -q -- "$1" "$LOG"; }
nlogged() { grep -c -- "$1" "$LOG" || true; }
delivered() { [ "$(find "$A/Maildir/new" -type f | wc -l)" -ge "$1" ]; }

# inject FROM TO... < message: through sendmail, inject and queue
inject() {
	local from=$1
	shift
	"$QPOST_HOME/bin/sendmail" -f "$from" -- "$@"
}

# deferred RCPT: a message to RCPT (remote) is queued and deferred; its
# id is in $ID
deferred() {
	printf 'Subject: ctl\n\nbody\n' | inject "${2:-sender@test.example}" "$1"
	wait_for 10 logged "deferral: msg [0-9A-Z.]* to remote <$1>"
	ID=$(grep "deferral: msg [0-9A-Z.]* to remote <$1>" "$LOG" |
	    head -n 1 | sed 's/.*msg \([0-9A-Z.]*\) .*/\1/')
	INO=${ID#*.}	# the queue file's name
	[ -n "$ID" ]
}

# ctl REQUEST: send REQUEST as a raw line, print the answer
ctl() {
	"$PY" - "$QPOST_HOME/run/send/ctl" "$1" <<-'EOF'
	import socket, sys
	s = socket.socket(socket.AF_UNIX)
	s.settimeout(20)
	s.connect(sys.argv[1])
	s.sendall(sys.argv[2].encode() + b"\n")
	out = b""
	while True:
	    b = s.recv(65536)
	    if not b:
	        break
	    out += b
	sys.stdout.write(out.decode("latin-1"))
	EOF
}

# in_queue ID, not_in_queue ID: the queue file is named by the ID's inode
in_queue() { [ -e "$QPOST_HOME/queue/mess/${1#*.}" ]; }
not_in_queue() {
	[ ! -e "$QPOST_HOME/queue/mess/${1#*.}" ] &&
	    [ ! -e "$QPOST_HOME/queue/info/${1#*.}" ]
}

@test "queue: an empty queue says so (qpost-tool queue, mailq, sendmail -bp)" {
	start_send
	run "$T" queue
	assert_success
	assert_output "queue is empty"
	ln -s "$QPOST_HOME/bin/sendmail" "$BATS_TEST_TMPDIR/mailq"
	run "$BATS_TEST_TMPDIR/mailq"
	assert_success
	assert_output "queue is empty"
	run "$QPOST_HOME/bin/sendmail" -bp
	assert_output "queue is empty"
	run "$T" queue --json
	assert_success
	assert_output ""
}

@test "queue lists each recipient with state, tries, next and the last error, as text and JSON; the error survives a restart" {
	start_send
	deferred far@remote.example
	run "$T" queue
	assert_success
	assert_output --regexp "^$ID deferred 1 \+[0-9]+m [0-9]+s [0-9]+ <sender@test.example> <far@remote.example> error: greylisted, come back later$"
	run "$T" queue --json
	assert_success
	echo "$output" | "$PY" -c '
import json, sys
lines = sys.stdin.read().splitlines()
assert len(lines) == 1, lines
m = json.loads(lines[0])
assert m["id"] == sys.argv[1], m
assert m["sender"] == "sender@test.example" and m["held"] is False
assert m["uid"] == int(sys.argv[2]), m
r = m["recipients"]
assert len(r) == 1 and r[0]["address"] == "far@remote.example", r
assert r[0]["state"] == "deferred" and r[0]["tries"] == 1, r
assert r[0]["next"] > m["birth"], r
assert r[0]["error"] == "greylisted, come back later", r
' "$ID" "$(id -u)"
	# the e record is in info/ and a restarted send knows the error
	tr '\0' '\n' < "$QPOST_HOME/queue/info/$INO" | grep -q '^e0 #4.7.1 greylisted, come back later$'
	stop_send
	start_send
	run "$T" queue
	assert_output --partial "<far@remote.example> error: greylisted, come back later"
}

@test "show prints the state, the envelope and the message by id" {
	start_send
	deferred far@remote.example
	run "$T" show "$ID"
	assert_success
	assert_line -n 0 --regexp "^$ID deferred 1 .* <sender@test.example> <far@remote.example> error: "
	assert_line "held: no"
	assert_line --regexp '^Received: \(qpost [0-9]+ invoked by uid [0-9]+\); '
	assert_line "Subject: ctl"
	assert_line "body"
	# the bare inode works too; a full ID of another birth in the same
	# inode names another message, not this one
	run "$T" show "$INO"
	assert_success
	assert_line "Subject: ctl"
	run "$T" show "0K4QZ3V8HD.$INO"
	assert_failure 100
	assert_output --partial "no such message"
	run "$T" show 424242
	assert_failure 100
	assert_output --partial "no such message: 424242"
	run "$T" show abc
	assert_failure 100
	assert_output --partial "not a message id"
}

@test "delete by id removes the message without a bounce and logs it" {
	start_send
	deferred far@remote.example
	run "$T" delete "$ID"
	assert_success
	not_in_queue "$ID"
	logged "deleted msg $ID by $(id -u)"
	run "$T" queue
	assert_output "queue is empty"
	run "$T" delete "$ID"
	assert_failure 100
	# no bounce: nothing new was queued or delivered
	sleep 0.5
	[ "$(queue_count)" -eq 0 ]
	! logged 'bounce msg'
	! delivered 1
}

@test "delete by sender or recipient pattern (fnmatch, case-insensitive)" {
	start_send
	deferred a1@remote.example bob@spam.example
	A1=$ID
	deferred a2@remote.example bob@spam.example
	A2=$ID
	deferred keep@remote.example alice@test.example
	K=$ID
	deferred b1@other.example alice@test.example
	B1=$ID
	run "$T" delete --sender '*@SPAM.example'
	assert_success
	assert_output "deleted 2"
	not_in_queue "$A1"
	not_in_queue "$A2"
	in_queue "$K"
	run "$T" delete --rcpt '*@other.*'
	assert_success
	assert_output "deleted 1"
	not_in_queue "$B1"
	in_queue "$K"
	run "$T" queue
	assert_output --partial "<keep@remote.example>"
	[ "$(nlogged 'deleted msg')" -eq 3 ]
	! logged 'bounce msg'
}

@test "hold: not retried on SIGALRM nor after a restart; release delivers" {
	start_send
	deferred far@remote.example
	run "$T" hold "$ID"
	assert_success
	logged "held msg $ID by $(id -u)"
	run "$T" queue
	assert_output --regexp "^$ID held 1 - "
	touch "$BATS_TEST_TMPDIR/go"
	calls=$(wc -l < "$BATS_TEST_TMPDIR/remote.calls")
	kill -ALRM "$SEND_PID"
	run "$T" retry --all
	assert_success
	sleep 1
	[ "$(wc -l < "$BATS_TEST_TMPDIR/remote.calls")" -eq "$calls" ]
	stop_send
	start_send
	sleep 1
	[ "$(wc -l < "$BATS_TEST_TMPDIR/remote.calls")" -eq "$calls" ]
	run "$T" queue --json
	assert_output --partial '"held":true'
	in_queue "$ID"
	run "$T" release "$ID"
	assert_success
	logged "released msg $ID by $(id -u)"
	wait_for 10 not_in_queue "$ID"
	logged "success: msg $ID to remote <far@remote.example>"
}

@test "retry one message at once, without waiting for its back-off" {
	start_send
	deferred far@remote.example
	deferred other@remote.example
	O=$ID
	deferred far2@remote.example
	touch "$BATS_TEST_TMPDIR/go"
	run "$T" retry "$ID"
	assert_success
	assert_output "due now: 1 recipients"
	wait_for 10 not_in_queue "$ID"
	in_queue "$O"
}

# two_deferred - x@remote.example ($R) and y@elsewhere.example ($E)
# deferred, and the stub now accepts
two_deferred() {
	deferred x@remote.example
	R=$ID
	deferred y@elsewhere.example
	E=$ID
	touch "$BATS_TEST_TMPDIR/go"
}

@test "retry a domain: only its recipients are tried now" {
	start_send
	two_deferred
	run "$T" retry --domain REMOTE.example
	assert_success
	wait_for 10 not_in_queue "$R"
	sleep 0.5
	in_queue "$E"
}

@test "sendmail -q flushes the queue through send (every deferred message now)" {
	start_send
	two_deferred
	run "$QPOST_HOME/bin/sendmail" -q
	assert_success
	wait_for 10 not_in_queue "$R"
	wait_for 10 not_in_queue "$E"
	logged "retry all by $(id -u)"
}

@test "sendmail -q and qpost-tool with send not running: 111 and a clear message" {
	run "$QPOST_HOME/bin/sendmail" -q
	assert_failure 111
	assert_output --partial "send is not running"
	run "$T" queue
	assert_failure 111
	assert_output --partial "send is not running"
}

@test "requeue after control/locals changes: a pending remote recipient is delivered locally at once" {
	start_send
	deferred joe@later.example
	printf '%s\n' test.example localhost later.example > "$QPOST_HOME/control/locals"
	run "$T" requeue
	assert_success
	wait_for 10 delivered 1
	wait_for 10 not_in_queue "$ID"
	logged "starting delivery [0-9]*: msg $ID to local <joe@later.example>"
}

@test "requeue after control/smtproutes changes: the pending recipient is routed again by remote" {
	start_send
	deferred far@remote.example
	# the stub stands for remote, which reads smtproutes at each run
	echo remote.example:relay.example > "$QPOST_HOME/control/smtproutes"
	touch "$BATS_TEST_TMPDIR/go"
	run "$T" requeue
	assert_success
	wait_for 10 not_in_queue "$ID"
}

@test "an ordinary user lists only the messages it submitted and may not change anything" {
	[ "$(id -u)" = 0 ] || skip "needs root to act as nobody"
	start_send
	deferred root@remote.example
	R=$ID
	# a message nobody submitted: queue's trace line names uid 65534
	printf 'Received: (qpost 1 invoked by uid 65534); Wed, 2 Dec 2026 09:00:00 +0000\nSubject: mine\n\nx\n' |
	    enqueue nobody@test.example mine@remote.example
	wait_for 10 logged "deferral: msg [0-9A-Z.]* to remote <mine@remote.example>"
	chmod o+x "$BATS_TEST_TMPDIR" "$QPOST_HOME"
	NB="setpriv --reuid=65534 --regid=65534 --clear-groups"
	run $NB "$T" queue
	assert_success
	assert_output --partial "<mine@remote.example>"
	refute_output --partial "<root@remote.example>"
	run $NB "$QPOST_HOME/bin/sendmail" -bp
	assert_success
	assert_output --partial "<mine@remote.example>"
	refute_output --partial "root@remote.example"
	run $NB "$T" delete "$R"
	assert_failure 100
	assert_output --partial "permission denied"
	in_queue "$R"
	run $NB "$T" retry --all
	assert_failure 100
	run $NB "$T" show "$R"
	assert_failure 100
	run "$T" queue
	assert_output --partial "<root@remote.example>"
	assert_output --partial "<mine@remote.example>"
}

@test "a bad request gets error:, an over-long line too, an idle client is cut off; send survives" {
	start_send
	run ctl "frobnicate"
	assert_output "error: unknown request or missing argument: frobnicate"
	run ctl "delete"
	assert_output --partial "error: "
	run ctl "hold 12x"
	assert_output "error: not a message id: 12x"
	run ctl "$(head -c 5000 /dev/zero | tr '\0' a)"
	assert_output --partial "error: request too long"
	# a client that connects and says nothing, held open meanwhile
	spawn "$PY" -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(30)
t = time.time()
data = s.recv(1000)
open(sys.argv[2], "w").write("%d %s" % (time.time() - t, data.decode()))
' "$QPOST_HOME/run/send/ctl" "$BATS_TEST_TMPDIR/idle"
	sleep 0.5
	# send still answers others while that one waits
	run "$T" queue
	assert_success
	assert_output "queue is empty"
	wait_for 15 test -s "$BATS_TEST_TMPDIR/idle"
	run cat "$BATS_TEST_TMPDIR/idle"
	assert_output --regexp '^(9|10|11) error: timeout reading the request'
	kill -0 "$SEND_PID"
	printf 'Subject: after\n\nx\n' | inject sender@test.example joe@test.example
	wait_for 10 delivered 1
}

@test "a queue file removed by hand: send drops the message with a clear warning instead of retrying it" {
	start_send
	deferred far@remote.example
	rm "$QPOST_HOME/queue/mess/$INO"
	touch "$BATS_TEST_TMPDIR/go"
	kill -ALRM "$SEND_PID"
	wait_for 10 logged "dropping msg $ID: queue/mess/$INO is gone"
	wait_for 10 not_in_queue "$ID"
	# the files go first, then the line is written (msg_remove)
	wait_for 10 logged "end msg $ID"
	! logged "bounce msg"
	run "$T" queue
	assert_output "queue is empty"
}

@test "delete and hold of a message whose delivery is in progress" {
	# a remote that waits for go, then accepts
	cat > "$BATS_TEST_TMPDIR/remote" <<-EOF
	#!/bin/sh
	cat > /dev/null
	i=0
	until [ -e "$BATS_TEST_TMPDIR/go" ] || [ \$i -ge 20 ]; do sleep 0.2; i=\$((i+1)); done
	printf 'rok\0K250 ok\0'
	EOF
	start_send
	printf 'Subject: slow\n\nx\n' | inject sender@test.example slow@remote.example
	wait_for 10 logged "starting delivery [0-9]*: msg [0-9A-Z.]* to remote <slow@remote.example>"
	ID=$(ls "$QPOST_HOME/queue/mess")
	run "$T" queue
	assert_output --regexp "^[0-9A-Z]{10}\.$ID sending 0 - "
	run "$T" delete "$ID"
	assert_failure 100
	assert_output --partial "delivery in progress"
	run "$T" hold "$ID"
	assert_success
	touch "$BATS_TEST_TMPDIR/go"
	wait_for 10 not_in_queue "$ID"
	logged "success: msg [0-9A-Z]*\.$ID to remote <slow@remote.example>"
}
