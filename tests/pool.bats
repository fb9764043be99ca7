#!/usr/bin/env bats
# The pool of queue files (docs/queue.md, "The pool"): send gives the file
# of a message delivered at its first attempt to queue/free/ once its
# removal from new/ is durable, and the next queue writes its message into
# that file instead of creating one.  Real queue, send and local.

load helper

setup() {
	qpost_setup
	Q="$QPOST_HOME/bin/queue"
	T="$BATS_TEST_TMPDIR"
	LOG="$T/send.log"
	: > "$LOG"
	echo ./Maildir/ > "$QPOST_HOME/alias/.qmail-default"
	mkdir -p "$QPOST_HOME/alias/Maildir/tmp" "$QPOST_HOME/alias/Maildir/new" \
	    "$QPOST_HOME/alias/Maildir/cur"
	F="$QPOST_HOME/queue/free"
}
teardown() { qpost_teardown; }

start_send() {
	spawn "$QPOST_HOME/bin/send" 2>>"$LOG"
	wait_for 10 grep -q 'concurrencylocal' "$LOG"
	# start-up done (free/ counted, done/ taken in): the command
	# channel is made after it; a queue that claims a pool file before
	# the count makes send find room that is not there
	wait_for 10 test -S "$QPOST_HOME/run/send/ctl"
}
ends() { [ "$(grep -c 'end msg' "$LOG")" -ge "$1" ]; }
# body SIZE TOKEN - a message whose body is SIZE bytes of TOKEN's letter
body() {
	{ printf 'Subject: %s\n\n' "$2"; head -c "$1" /dev/zero | tr '\0' "${2:0:1}"; echo; } > "$T/msg.$2"
}
# send_msg TOKEN - queue $T/msg.TOKEN to joe@test.example; its inode is
# printed (the part of the ID after the dot)
send_msg() {
	printf 'Fs@test.example\0Tjoe@test.example\0\0' > "$T/env"
	"$Q" < "$T/msg.$1" 1< "$T/env" 3> "$T/id" || return 1
	sed 's/.*\.//' "$T/id"
}
export QPOST_IDFD=3
# mailbox_has TOKEN - exactly one delivered file ends with msg.TOKEN's bytes
mailbox_has() {
	"$PY" - "$QPOST_HOME/alias/Maildir/new" "$T/msg.$1" <<-'EOF'
	import os, sys
	d, want = sys.argv[1], open(sys.argv[2], 'rb').read()
	hits = [f for f in os.listdir(d) if open(os.path.join(d, f), 'rb').read().endswith(b'\n' + want)]
	sys.exit(0 if len(hits) == 1 else 1)
	EOF
}

@test "pool: a delivered message's file takes the next message: same inode, a new ID, the mailbox gets exactly the new bytes" {
	start_send
	body 60000 a
	ino=$(send_msg a)
	id1=$(cat "$T/id")
	wait_for 10 ends 1
	# given to the pool only after new/ was synced: done/ is empty again
	wait_for 10 test -e "$F/$ino"
	empty_dir "$QPOST_HOME/queue/done"
	empty_dir "$QPOST_HOME/queue/new"
	body 100 b
	run send_msg b
	assert_success
	assert_output "$ino"
	[ "$(cat "$T/id")" != "$id1" ]
	wait_for 10 ends 2
	mailbox_has a
	mailbox_has b
	# the 60000 bytes of the first message were cut off the file
	run grep -c aaaa "$QPOST_HOME"/alias/Maildir/new/*
	assert_line --regexp ':0$'
	wait_for 10 test -e "$F/$ino"
	[ "$(stat -c %s "$F/$ino")" -lt 1000 ]
}

@test "pool: the file of a message over 64 KB is emptied on its way into the pool" {
	start_send
	body 100000 c
	ino=$(send_msg c)
	wait_for 10 ends 1
	wait_for 10 test -e "$F/$ino"
	[ "$(stat -c %s "$F/$ino")" -eq 0 ]
	mailbox_has c
}

@test "pool: queue passes over a symlink, a fifo, a second link and a misnamed file in free/, and leaves them as they were" {
	echo keep > "$T/target"
	ln -s "$T/target" "$F/7"
	mkfifo "$F/8"
	echo two > "$T/x"
	mv "$T/x" "$F/x"
	i=$(stat -c %i "$F/x")
	mv "$F/x" "$F/$i"
	ln "$F/$i" "$T/second-link"
	echo misnamed > "$F/1"
	body 10 d
	run send_msg d
	assert_success
	[ "$output" != "$i" ]
	run ls "$F"
	assert_output "$(printf '%s\n' 1 7 8 "$i" | sort)"
	[ "$(cat "$T/target")" = keep ]
	[ "$(cat "$T/second-link")" = two ]
	[ "$(cat "$F/1")" = misnamed ]
	empty_dir "$QPOST_HOME/queue/tmp"
	start_send
	wait_for 10 ends 1
	mailbox_has d
}

@test "pool: done/ left by a stopped send goes to free/ at start; a file still named in new/ is delivered first" {
	body 10 e
	ino=$(send_msg e)
	# a file system repaired after a crash can leave both names
	ln "$QPOST_HOME/queue/new/$ino" "$QPOST_HOME/queue/done/$ino"
	echo leftover > "$T/y"
	mv "$T/y" "$QPOST_HOME/queue/done/y"
	j=$(stat -c %i "$QPOST_HOME/queue/done/y")
	mv "$QPOST_HOME/queue/done/y" "$QPOST_HOME/queue/done/$j"
	start_send
	wait_for 10 ends 1
	mailbox_has e
	wait_for 10 test -e "$F/$ino"
	[ -e "$F/$j" ]
	empty_dir "$QPOST_HOME/queue/done"
	empty_dir "$QPOST_HOME/queue/new"
	[ "$(stat -c %h "$F/$ino")" -eq 1 ]
}

@test "pool: free/ keeps at most 1024 files; past that a delivered message's file is removed" {
	"$PY" - "$F" <<-'EOF'
	import os, sys
	for k in range(1024):
	    p = sys.argv[1] + '/t'
	    open(p, 'wb').close()
	    os.rename(p, sys.argv[1] + '/%d' % os.stat(p).st_ino)
	EOF
	ls "$F" > "$T/before"
	start_send
	body 10 f
	ino=$(send_msg f)
	# the message went into a file of the pool
	grep -qx "$ino" "$T/before"
	wait_for 10 ends 1
	mailbox_has f
	new_flushed() { empty_dir "$QPOST_HOME/queue/done"; }
	wait_for 10 new_flushed
	sleep 0.2
	[ ! -e "$F/$ino" ]
	[ "$(ls "$F" | wc -l)" -eq 1023 ]
}

@test "pool: a home from before the pool (no done/ or free/) queues and delivers as before" {
	rmdir "$QPOST_HOME/queue/done" "$QPOST_HOME/queue/free"
	start_send
	body 10 g
	send_msg g > /dev/null
	wait_for 10 ends 1
	mailbox_has g
	wait_for 10 empty_dir "$QPOST_HOME/queue/new"
	[ ! -e "$QPOST_HOME/queue/free" ]
}
