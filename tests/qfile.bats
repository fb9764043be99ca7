#!/usr/bin/env bats
# The queue's on-disk contract (qfile.c, docs/queue.md): the unit driver,
# compaction of info/<id> by the real send, and the fsync order of the
# pick-up and the removal.

load helper

setup() {
	qpost_setup
	LOG="$BATS_TEST_TMPDIR/send.log"
	: > "$LOG"
	# A local that delivers ok@ and the bounce, fails bad@ and defers
	# later@ until $BATS_TEST_TMPDIR/go exists.  Each delivery is
	# counted in $BATS_TEST_TMPDIR/delivered.
	# local's argv: user uid gid home local dash ext domain sender
	cat > "$BATS_TEST_TMPDIR/local" <<-EOF
	#!/bin/sh
	rcpt="\$5@\$8"
	case "\$rcpt" in
	bad@*) echo "no such user"; exit 100 ;;
	later@*) [ -e "$BATS_TEST_TMPDIR/go" ] || { echo "try later"; exit 111; } ;;
	esac
	cat >/dev/null
	echo "\$rcpt" >> "$BATS_TEST_TMPDIR/delivered"
	exit 0
	EOF
	chmod +x "$BATS_TEST_TMPDIR/local"
	# every local part is the alias user's: send's lookup finds them
	echo ./Maildir/ > "$QPOST_HOME/alias/.qmail-default"
	export QPOST_LOCAL="$BATS_TEST_TMPDIR/local"
	: > "$BATS_TEST_TMPDIR/delivered"
}
teardown() { qpost_teardown; }

start_send() { spawn "$QPOST_HOME/bin/send" 2>>"$LOG"; SEND_PID=$LAST_PID; }
started() { grep -c 'control: concurrencylocal' "$LOG"; }
started_after() { [ "$(started)" -gt "$1" ]; }
deferrals() { grep -c 'deferral: msg [0-9A-Z.]* to [a-z]* <later@test.example>' "$LOG"; }
at_least() { [ "$(deferrals)" -ge "$1" ]; }
ends() { [ "$(grep -c 'end msg' "$LOG")" -ge "$1" ]; }
# msgid - the first new message's inode number (the ID's part after the dot)
msgid() { sed -n 's/.*new msg [0-9A-Z]*\.\([0-9]*\) from.*/\1/p' "$LOG" | head -n 1; }
records() { tr '\0' '\n' < "$QPOST_HOME/queue/info/$1" | grep -c "^$2" || true; }
queue_empty() { [ "$(queue_count)" -eq 0 ] && [ -z "$(ls "$QPOST_HOME/queue/info")" ]; }

# state_is TRIES - qread shows the message's state, later@ with TRIES
state_is() {
	run "$QPOST_HOME/bin/qpost-tool" qread
	assert_success
	assert_line '  done     <ok@test.example>'
	assert_line '  failed   <bad@test.example>'
	assert_line '           (to be bounced) no such user'
	assert_line '  retry    <later@test.example>'
	assert_line --regexp "^           $1 tries, next "
}

@test "qfile unit tests: names, trailer, records, repeated records, limits, commit steps" {
	[ -x "$QPOST_SRC/tests/qfile-t" ] || make -C "$QPOST_SRC" tests/qfile-t
	cd "$BATS_TEST_TMPDIR"
	run "$QPOST_SRC/tests/qfile-t"
	assert_success
	assert_output --regexp '^[0-9]+ checks, 0 failed$'
}

@test "a message deferred 150 times keeps a small info file; state survives compaction and kill -9" {
	start_send
	printf 'Subject: many\n\nbody\n' |
	    enqueue sender@test.example ok@test.example bad@test.example later@test.example
	wait_for 10 at_least 1
	id=$(msgid)
	info="$QPOST_HOME/queue/info/$id"
	# the compact form: head and envelope, d0, f1 and one r2
	compact=$(( $(tr '\0' '\n' < "$info" | grep -v '^[dfr]' | wc -c) + 40 ))
	max=0
	for i in $(seq 2 151); do
		kill -ALRM "$SEND_PID"
		wait_for 10 at_least "$i"
		size=$(stat -c %s "$info")
		[ "$size" -le "$max" ] || max=$size
		if [ $((i % 50)) -eq 0 ]; then
			# kill -9 right after a deferral (maybe mid-compaction):
			# the restart must load the same state
			kill -9 "$SEND_PID"
			wait "$SEND_PID" 2>/dev/null || true
			state_is "$i"
			starts=$(started)
			start_send
			# SIGALRM before its handler is installed would kill it
			wait_for 10 started_after "$starts"
		fi
	done
	# append-only, 150 r records (17+ bytes each) would be > 2500 bytes
	[ "$max" -le $((compact + 1024 + 40)) ]
	[ "$(stat -c %s "$info")" -le $((compact + 1024 + 40)) ]
	[ "$(records "$id" r2)" -lt 70 ]
	[ "$(records "$id" d0)" -eq 1 ]
	[ "$(records "$id" f1)" -eq 1 ]
	state_is 151
	! grep -q 'corrupt info\|unreadable info\|unable to' "$LOG"
	# nothing was delivered twice, and it all finishes
	[ "$(grep -c '^ok@' "$BATS_TEST_TMPDIR/delivered")" -eq 1 ]
	touch "$BATS_TEST_TMPDIR/go"
	kill -ALRM "$SEND_PID"
	wait_for 10 queue_empty
	[ "$(grep -c '^ok@' "$BATS_TEST_TMPDIR/delivered")" -eq 1 ]
	[ "$(grep -c '^later@' "$BATS_TEST_TMPDIR/delivered")" -eq 1 ]
	[ "$(grep -c '^sender@' "$BATS_TEST_TMPDIR/delivered")" -eq 1 ]
}

@test "qread and send agree on repeated records: the first d or f is final" {
	printf 'Subject: x\n\nhello\n' > "$QPOST_HOME/queue/mess/300"
	{
		printf 'M%s 19 80\0' "$(date +%s)"
		printf 'Fs@test.example\0Tok@test.example\0Tbad@test.example\0Tlater@test.example\0\0'
		printf 'd0\0f0 late failure\0f1 no such user\0d1\0r2 4 1\0r2 5 1\0'
	} > "$QPOST_HOME/queue/info/300"
	run "$QPOST_HOME/bin/qpost-tool" qread
	assert_success
	assert_line '  done     <ok@test.example>'
	assert_line '  failed   <bad@test.example>'
	assert_line '           (to be bounced) no such user'
	assert_line --regexp '^           5 tries, next now$'
	# send loads the same: only later@ is tried, ok@ is not redelivered
	touch "$BATS_TEST_TMPDIR/go"
	start_send
	wait_for 10 queue_empty
	run cat "$BATS_TEST_TMPDIR/delivered"
	assert_output "later@test.example
s@test.example"
}

@test "fsync order of a first attempt, a deferred pick-up and a removal (strace)" {
	command -v strace >/dev/null || skip "strace is not installed"
	spawn strace -y -o "$BATS_TEST_TMPDIR/trace" \
	    -e trace=fsync,fdatasync,rename,renameat,renameat2,unlink,unlinkat \
	    "$QPOST_HOME/bin/send" 2>>"$LOG"
	wait_for 10 grep -q 'concurrencylocal' "$LOG"
	# delivered at the first attempt: only new/<id> goes, new/ synced,
	# and only then is the file given to the pool (the second message
	# is written into it: the same inode, so the same placeholder)
	printf 'Subject: one\n\nbody\n' | enqueue sender@test.example ok@test.example
	wait_for 10 grep -q 'end msg' "$LOG"
	# removals are synced a few together, within 25 ms (new_flush)
	wait_for 10 nonempty_dir "$QPOST_HOME/queue/free"
	# deferred: the durable pick-up, with the r record, then the removal
	printf 'Subject: two\n\nbody\n' | enqueue sender@test.example later@test.example
	wait_for 10 at_least 1
	touch "$BATS_TEST_TMPDIR/go"
	send_pid=$(pgrep -P "$LAST_PID")
	kill -ALRM "$send_pid"
	wait_for 10 ends 2
	# send is strace's child: SIGTERM ends it, and strace with it
	kill -TERM "$send_pid"
	wait "$LAST_PID" || true
	ids=$(sed -n 's/.*new msg [0-9A-Z]*\.\([0-9]*\) from.*/\1/p' "$LOG" | tr '\n' ' ')
	run "$PY" - "$BATS_TEST_TMPDIR/trace" $ids <<-'EOF'
	import re, sys
	lines = open(sys.argv[1]).read().splitlines()
	ids = sys.argv[2:]	# the inode may be reused: one placeholder
	def anon(s):
	    for i in ids:
	        s = re.sub(r'/%s(?=$|[^0-9])' % i, '/ID', s)
	    return s
	out = []
	for l in lines:
	    m = re.match(r'(\w+)\((.*)\)\s+= (-?\d+)', l)
	    if not m:
	        continue
	    call, args = m.group(1), m.group(2)
	    if call in ("fsync", "fdatasync"):
	        path = re.search(r'<([^>]*)>', args).group(1)
	        out.append("fsync " + anon("/".join(path.split("/")[-2:])))
	    else:
	        names = re.findall(r'"([^"]*)"', args)
	        if not any(n.startswith("queue/") for n in names):
	            continue	# run/send/ctl, send's socket, at exit
	        out.append(call.rstrip("at2").rstrip("at") + " " +
	            " ".join(anon(n) for n in names))
	start = next(k for k, o in enumerate(out) if "/ID" in o)
	print("\n".join(out[start:]))
	EOF
	assert_success
	assert_output "rename queue/new/ID queue/done/ID
fsync queue/new
rename queue/done/ID queue/free/ID
fsync info/ID.tmp
rename queue/info/ID.tmp queue/info/ID
fsync queue/info
fsync new/ID
rename queue/new/ID queue/mess/ID
fsync queue/mess
fsync queue/new
unlink queue/info/ID
fsync queue/info
unlink queue/mess/ID"
}
