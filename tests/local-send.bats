#!/usr/bin/env bats
# local under send: the real send daemon runs bin/local for queued local
# recipients (as root in CI, so local changes to the recipient's uid), and
# acts on local's exit code and last line: delivered, bounced with local's
# reason, deferred.  Messages are committed to queue/new/ in the format of
# docs/queue.md by a few lines of Python (what queue does).

load helper
load local-lib

setup() {
	local_setup
	[ -x "$QPOST_HOME/bin/send" ] || skip "send not built"
	T=$BATS_TEST_TMPDIR
	# queue stand-in for send's bounces: keep message and envelope
	printf '%s\n' '#!/bin/sh' \
	    "cat > '$T/bounce.msg'" \
	    "cat <&1 > '$T/bounce.env.tmp'" \
	    "mv '$T/bounce.env.tmp' '$T/bounce.env'" > "$T/qstub"
	chmod +x "$T/qstub"
	export QPOST_QUEUE=$T/qstub
}

teardown() { local_teardown; }

start_send() {
	spawn "$QPOST_HOME/bin/send" 2>> "$T/send.log"
}

queue_empty() {
	[ "$(queue_count)" -eq 0 ]
}

logged() {	# logged REGEX - send's log has a matching line
	grep -Eq "$1" "$T/send.log"
}

@test "local+send: queued mail for two users and postmaster lands in their Maildirs, the queue empties" {
	enqueue s@x.example joe@test.example bob-list@test.example postmaster@test.example < "$MSG"
	echo ./Maildir/ | dotqmail bob list
	start_send
	wait_for 20 queue_empty
	f=$(one "$U/joe/Maildir")
	{ printf 'Return-Path: <s@x.example>\nDelivered-To: joe@test.example\n'
	  cat "$MSG"; } | cmp - "$f"
	grep -q '^Delivered-To: bob-list@test.example$' "$(one "$U/bob/Maildir")"
	grep -q '^Delivered-To: postmaster@test.example$' "$(one "$QPOST_HOME/alias/Maildir")"
	logged 'success: msg [0-9A-Z.]+ to [a-z]+ <joe@test\.example>.*did 1\+0\+0'
	[ ! -e "$T/bounce.env" ]
}

@test "local+send: an unknown local recipient is bounced with local's reason" {
	enqueue s@x.example nosuch@test.example joe@test.example < "$MSG"
	start_send
	wait_for 20 test -e "$T/bounce.env"
	run tr '\0' '|' < "$T/bounce.env"
	assert_output 'F|Ts@x.example||'
	run cat "$T/bounce.msg"
	assert_output --partial 'nosuch@test.example'
	assert_output --partial 'Sorry, no mailbox here by that name'
	one "$U/joe/Maildir" > /dev/null
	wait_for 10 queue_empty
}

@test "local+send: a temporary failure (no Maildir) is deferred, then delivered" {
	rm -rf "$U/joe/Maildir"
	enqueue s@x.example joe@test.example < "$MSG"
	start_send
	wait_for 20 logged 'deferral: msg [0-9A-Z.]+ to [a-z]+ <joe@test\.example>.*unable to create'
	[ "$(queue_count)" -eq 1 ]
	mkdir -p "$U/joe/Maildir/tmp" "$U/joe/Maildir/new" "$U/joe/Maildir/cur"
	[ "$(id -u)" = 0 ] && chown -R "$RUID:$RGID" "$U/joe/Maildir"
	kill -ALRM "$LAST_PID"
	wait_for 20 queue_empty
	one "$U/joe/Maildir" > /dev/null
	[ ! -e "$T/bounce.env" ]
}

@test "local+send: the multi-user way, send as nobody asking qpost-spawn (root) for local" {
	[ "$(id -u)" = 0 ] || skip "qpost-spawn -u needs root"
	[ -x "$QPOST_HOME/bin/qpost-spawn" ] || skip "qpost-spawn not built"
	# carl's uid is neither send's (nobody) nor root: only a local
	# started as root can write there as carl
	h=$U/carl
	mkdir -p "$h/Maildir/tmp" "$h/Maildir/new" "$h/Maildir/cur"
	chown -R 12345:12345 "$h"
	sed -i '$d' "$QPOST_HOME/users/assign"
	echo "=carl:carl:12345:12345:$h:::" >> "$QPOST_HOME/users/assign"
	finish_assign
	chmod 755 "$T"
	enqueue s@x.example carl@test.example < "$MSG"
	chown -R nobody: "$QPOST_HOME/queue"
	spawn "$QPOST_HOME/bin/qpost-spawn" -u nobody "$QPOST_HOME/bin/send" 2>> "$T/send.log"
	wait_for 20 queue_empty
	f=$(one "$h/Maildir")
	assert_equal "$(stat -c '%u %g' "$f")" "12345 12345"
	grep -q '^Delivered-To: carl@test.example$' "$f"
	logged 'success: msg [0-9A-Z.]+ to [a-z]+ <carl@test\.example>'
}

@test "local+send: under qpost-spawn one local worker of the account delivers message after message; a failure ends it and is that delivery's" {
	[ "$(id -u)" = 0 ] || skip "qpost-spawn -u needs root"
	chmod 755 "$T"
	# what each delivery's environment says, then the Maildir
	printf '%s\n' '#!/bin/sh' \
	    'echo "$EXT|$EXT2|$SENDER|$QPOST_MSGID" >> "$HOME/env"' > "$T/prog"
	chmod 755 "$T/prog"
	printf '%s\n' "|$T/prog" ./Maildir/ > "$U/joe/.qmail-default"
	chown -R nobody: "$QPOST_HOME/queue"
	# commits the way queue does, as the account queue and send run as
	nq() {
		setpriv --reuid=nobody --regid=nogroup --clear-groups \
		    bash -c "$(declare -f enqueue); PY=$PY enqueue \"\$@\"" _ "$@"
	}
	spawn "$QPOST_HOME/bin/qpost-spawn" -u nobody "$QPOST_HOME/bin/send" 2>> "$T/send.log"
	spawnpid=$LAST_PID
	nq s1@x.example joe-a-b@test.example < "$MSG"
	wait_for 20 queue_empty
	nq s2@x.example joe-c@test.example < "$MSG"
	wait_for 20 queue_empty
	# two files, one process: the pid in both Maildir names is a worker
	# (local -W) running as the recipient's account
	run ls "$U/joe/Maildir/new"
	[ "${#lines[@]}" = 2 ]
	p1=$(sed 's/.*P\([0-9]*\)Q.*/\1/' <<< "${lines[0]}")
	p2=$(sed 's/.*P\([0-9]*\)Q.*/\1/' <<< "${lines[1]}")
	[ -n "$p1" ] && [ "$p1" = "$p2" ]
	assert_equal "$(ps -o user=,args= -p "$p1" | tr -s ' ')" "nobody $QPOST_HOME/bin/local -W"
	# each delivery its own environment and its own bytes
	id1=$(sed -n 's/.*success: msg \([0-9A-Z.]*\) to local <joe-a-b@test.example>.*/\1/p' "$T/send.log")
	id2=$(sed -n 's/.*success: msg \([0-9A-Z.]*\) to local <joe-c@test.example>.*/\1/p' "$T/send.log")
	[ -n "$id1" ] && [ -n "$id2" ] && [ "$id1" != "$id2" ]
	run cat "$U/joe/env"
	assert_output "a-b|b|s1@x.example|$id1
c||s2@x.example|$id2"
	for f in "$U"/joe/Maildir/new/*; do
		grep -q '^Delivered-To: joe-c@test.example$' "$f" && s=s2 || s=s1
		head -1 "$f" | grep -qx "Return-Path: <$s@x.example>"
		tail -n +3 "$f" | cmp - "$MSG"
	done
	# an idle worker killed: the next delivery still gets made
	kill -KILL "$p1"
	wait_for 10 eval '! kill -0 "$p1"'
	nq s3@x.example joe-d@test.example < "$MSG"
	wait_for 20 queue_empty
	p3=$(grep -l '^Delivered-To: joe-d@test.example$' "$U"/joe/Maildir/new/* | sed 's/.*P\([0-9]*\)Q.*/\1/')
	[ -n "$p3" ] && [ "$p3" != "$p1" ]
	# a failure is that delivery's (local's reason, deferred) and ends
	# the worker; the retry gets a new one
	mv "$U/joe/Maildir" "$U/joe/gone"
	nq s4@x.example joe@test.example < "$MSG"
	wait_for 20 logged 'deferral: msg [0-9A-Z.]+ to local <joe@test\.example>.*unable to create'
	wait_for 10 eval '! kill -0 "$p3"'
	mv "$U/joe/gone" "$U/joe/Maildir"
	kill -ALRM "$(pgrep -P "$spawnpid" -x send)"
	wait_for 20 queue_empty
	[ "$(count "$U/joe/Maildir/new")" = 4 ]
	p4=$(grep -l '^Delivered-To: joe@test.example$' "$U"/joe/Maildir/new/* | sed 's/.*P\([0-9]*\)Q.*/\1/')
	[ -n "$p4" ] && [ "$p4" != "$p3" ]
	logged 'success: msg [0-9A-Z.]+ to local <joe@test\.example>'
	# send's end ends qpost-spawn and, with it, every worker
	kill -TERM "$spawnpid"
	wait_for 10 eval '! kill -0 "$spawnpid"'
	[ -z "$(pgrep -f "^$QPOST_HOME/bin/local -W")" ]
}

@test "local+send: under qpost-spawn remote runs as -r's account from a handed descriptor, and -c bounds the deliveries" {
	[ "$(id -u)" = 0 ] || skip "qpost-spawn -u needs root"
	id daemon >/dev/null 2>&1 || skip "no daemon account"
	chmod 755 "$T"
	R=$T/r
	mkdir -m 1777 "$R"
	# remote: record the uid, whether the queue opens, and fd 0's bytes
	printf '%s\n' '#!/bin/sh' "id -u > '$R/uid'" \
	    "cat > '$R/msg'" "echo \"\$QPOST_MSGID\" > '$R/id'" \
	    "ls \"\$QPOST_HOME/queue/mess\" > /dev/null 2>&1 && echo open > '$R/queue'" \
	    "printf 'rok\\0Kok\\0'" > "$T/remote"
	chmod 755 "$T/remote"
	export QPOST_REMOTE=$T/remote
	enqueue s@x.example far@remote.example joe@test.example bob@test.example < "$MSG"
	chown -R nobody: "$QPOST_HOME/queue"
	chmod -R o-rwx "$QPOST_HOME/queue"
	spawn "$QPOST_HOME/bin/qpost-spawn" -u nobody -r daemon -c 1 \
	    "$QPOST_HOME/bin/send" 2>> "$T/send.log"
	# one at a time: the refused are retried (now, on SIGALRM)
	for i in 1 2 3 4 5 6 7 8 9 10; do
		sleep 1
		queue_empty && break
		kill -ALRM "$LAST_PID"
	done
	queue_empty
	assert_equal "$(cat "$R/uid")" "$(id -u daemon)"
	[ ! -e "$R/queue" ]
	cmp "$MSG" "$R/msg"
	logged 'success: msg [0-9A-Z.]+ to remote <far@remote\.example>'
	logged 'success: msg [0-9A-Z.]+ to local <joe@test\.example>'
	logged 'success: msg [0-9A-Z.]+ to local <bob@test\.example>'
	# the request carried the message's ID to remote ($QPOST_MSGID)
	id=$(cat "$R/id")
	[[ "$id" =~ ^[0-9A-Z]{10}\.[0-9]+$ ]]
	logged "success: msg $id to remote <far@remote\\.example>"
	# three at once, one allowed: some were refused and tried again
	logged 'too many deliveries running'
}

@test "local+send+smtpd: a message over SMTP lands in the Maildir with exactly its bytes" {
	[ -x "$QPOST_HOME/bin/smtpd" ] && [ -x "$QPOST_HOME/bin/queue" ] ||
	    skip "smtpd or queue not built"
	unset QPOST_QUEUE
	load smtpd-lib
	smtpd_start
	start_send
	run raw 'EHLO x\r\nMAIL FROM:<s@x.example>\r\nRCPT TO:<nosuch@test.example>\r\nRCPT TO:<Joe@test.example>\r\nDATA\r\nSubject: smtp\r\n\r\n..dot\r\nFrom me\r\nend\r\n.\r\nQUIT\r\n'
	assert_success
	assert_equal "$(codes)" "220 250 250 550 250 354 250 221"
	wait_for 20 queue_empty
	f=$(one "$U/joe/Maildir")
	printf 'Return-Path: <s@x.example>\nDelivered-To: joe@test.example\nSubject: smtp\n\n.dot\nFrom me\nend\n' > "$T/want"
	# queue and smtpd add Received: lines between our two and the message
	sed -n '1,2p' "$f" | cmp - <(head -n 2 "$T/want")
	tail -n 5 "$f" | cmp - <(tail -n 5 "$T/want")
	grep -q '^Received: from x (' "$f"
}

@test "local+send: an edit to control/locals takes effect for queued mail without SIGHUP" {
	# new.example starts out remote: a remote stand-in that defers
	printf '%s\n' '#!/bin/sh' "echo \"\$1\" >> '$T/remote.doms'" \
	    "printf 'Zno route yet\\0'" > "$T/remote"
	chmod +x "$T/remote"
	export QPOST_REMOTE=$T/remote
	start_send
	enqueue s@x.example joe@new.example < "$MSG"
	wait_for 20 logged 'deferral: msg [0-9A-Z.]+ to [a-z]+ <joe@new\.example>'
	grep -qx new.example "$T/remote.doms"
	# the admin adds the domain and sends no HUP
	sleep 1.1
	echo new.example >> "$QPOST_HOME/control/locals"
	enqueue s@x.example joe@new.example < "$MSG"
	wait_for 20 logged 'success: msg [0-9A-Z.]+ to [a-z]+ <joe@new\.example>'
	logged 'routing tables changed'
	! logged '5\.1\.2'
	[ ! -e "$T/bounce.env" ]
	grep -q '^Delivered-To: joe@new.example$' "$(one "$U/joe/Maildir")"
}

@test "local+send: an unreadable control/virtualdomains defers every recipient, never bounces" {
	rm -f "$QPOST_HOME/control/virtualdomains"
	mkdir "$QPOST_HOME/control/virtualdomains"	# unreadable, even by root
	enqueue s@x.example joe@test.example nosuch@test.example < "$MSG"
	start_send
	wait_for 20 logged 'unable to load the routing tables'
	wait_for 20 logged 'unable to look up <joe@test\.example>'
	sleep 1
	[ "$(queue_count)" -eq 1 ]
	[ ! -e "$T/bounce.env" ]
	[ -z "$(ls "$U/joe/Maildir/new")" ]
	rmdir "$QPOST_HOME/control/virtualdomains"
	sleep 1.1
	kill -ALRM "$LAST_PID"
	wait_for 20 logged 'success: msg [0-9A-Z.]+ to [a-z]+ <joe@test\.example>'
	one "$U/joe/Maildir" > /dev/null
	wait_for 20 test -e "$T/bounce.env"
	grep -q 'nosuch@test.example' "$T/bounce.msg"
}

@test "local+send: a runaway |program is killed at control/timeoutprogram and deferred; other mail goes on meanwhile (issue 17)" {
	echo 1 > "$QPOST_HOME/control/concurrencylocal"
	echo 3 > "$QPOST_HOME/control/timeoutprogram"
	P=$T/prog.pids
	sleeper joe "$P"
	enqueue s@x.example joe@test.example < "$MSG"
	start_send
	# joe's program holds the only local slot ...
	wait_for 20 test -s "$P"
	enqueue s@x.example bob@test.example < "$MSG"
	# ... until its time is up: then bob's mail is delivered
	wait_for 20 one "$U/bob/Maildir"
	wait_for 10 logged 'deferral: msg [0-9A-Z.]+ to [a-z]+ <joe@test\.example>.*program timed out after 3 seconds and was killed \(control/timeoutprogram\) \(#4\.3\.0\)'
	wait_for 5 all_gone "$P"
	[ "$(queue_count)" -eq 1 ]
}

@test "local+send: postmaster@me and bare postmaster stay local when me is not in control/locals (issue 17)" {
	# a fresh single-user home: me is the host's name, locals another
	echo host.example > "$QPOST_HOME/control/me"
	"$QPOST_HOME/bin/route" Postmaster@HOST.example > /dev/null
	run "$QPOST_HOME/bin/route" joe@host.example
	assert_failure 1
	enqueue s@x.example Postmaster@HOST.example postmaster < "$MSG"
	start_send
	wait_for 20 queue_empty
	[ "$(count "$QPOST_HOME/alias/Maildir/new")" = 2 ]
	grep -lq '^Delivered-To: postmaster@host.example$' "$QPOST_HOME"/alias/Maildir/new/*
	logged 'success: msg [0-9A-Z.]+ to [a-z]+ <Postmaster@HOST\.example>'
	logged 'success: msg [0-9A-Z.]+ to [a-z]+ <postmaster>'
	run logged 'to remote <'
	assert_failure
	[ ! -e "$T/bounce.env" ]
}

@test "local+send: an account added to /etc/passwd while send runs gets its next message at once (send's kept lookups follow the file; needs root and useradd)" {
	[ "$(id -u)" = 0 ] || skip "needs root to create a user"
	command -v useradd > /dev/null || skip "no useradd"
	sysuser qpc
	mkdir -p "$B/$N/Maildir/tmp" "$B/$N/Maildir/new" "$B/$N/Maildir/cur"
	echo ./Maildir/ > "$QPOST_HOME/alias/.qmail-default"
	chmod 644 "$QPOST_HOME/alias/.qmail-default"
	# no such account yet: the alias user's .qmail-default takes it
	enqueue s@x.example "$N@test.example" < "$MSG"
	start_send
	wait_for 20 queue_empty
	[ "$(count "$QPOST_HOME/alias/Maildir/new")" = 1 ]
	useradd -M -d "$B/$N" -s /bin/sh "$N"
	chown -R "$N:" "$B/$N"
	# well within the 20 s an answer is kept: the account must win
	enqueue s@x.example "$N@test.example" < "$MSG"
	wait_for 20 queue_empty
	f=$(one "$B/$N/Maildir")
	grep -q "^Delivered-To: $N@test.example\$" "$f"
	assert_equal "$(stat -c %U "$f")" "$N"
	[ "$(count "$QPOST_HOME/alias/Maildir/new")" = 1 ]
}
