#!/usr/bin/env bats
# local hardening (issue 17): a deadline for |program deliveries, the
# Maildir tmp/ clean-up, directory fsyncs, group-writable homes and
# .qmail files, the .qmail owner, postmaster routing and forwards in a
# root-run single-user home.  Helpers: tests/local-lib.bash.

load helper
load local-lib

setup() { local_setup; }
teardown() { local_teardown; }

@test "local: a |program over control/timeoutprogram is killed with its whole group and deferred (issue 17)" {
	echo 2 > "$QPOST_HOME/control/timeoutprogram"
	P=$BATS_TEST_TMPDIR/prog.pids
	sleeper joe "$P"
	SECONDS=0
	deliver s@x.example joe@test.example
	assert_failure 111
	[ "$SECONDS" -lt 30 ]
	assert_equal "$(lastline)" "local: fatal: program timed out after 2 seconds and was killed (control/timeoutprogram) (#4.3.0)"
	assert_output --partial started
	# the command line goes to the log only
	assert_output --partial "local: info: program timed out: sleep 600 &"
	[ "$(wc -l < "$P")" = 2 ]
	wait_for 5 all_gone "$P"
}

@test "local: a program within control/timeoutprogram is not disturbed" {
	echo 5 > "$QPOST_HOME/control/timeoutprogram"
	echo '|sleep 1; echo done' | dotqmail joe
	deliver s@x.example joe@test.example
	assert_success
	assert_equal "$(lastline)" "local: did 0+0+1"
}

@test "local: a delivery removes tmp/ files older than 36 hours from the Maildir, keeps fresh ones (issue 17)" {
	t=$U/joe/Maildir/tmp
	for n in old1 old2; do
		echo x > "$t/$n"
		touch -d '2 days ago' "$t/$n"
	done
	echo x > "$t/fresh"
	echo x > "$t/day"
	touch -d '1 day ago' "$t/day"
	mkdir "$t/olddir"
	touch -d '2 days ago' "$t/olddir"
	deliver s@x.example joe@test.example
	assert_success
	one "$U/joe/Maildir" > /dev/null
	[ ! -e "$t/old1" ]
	[ ! -e "$t/old2" ]
	[ -e "$t/fresh" ]
	[ -e "$t/day" ]
	[ -d "$t/olddir" ]
	# and nothing of the delivery itself is left there
	assert_equal "$(ls "$t" | tr '\n' ' ')" "day fresh olddir "
}

# traced SENDER RECIPIENT - deliver as deliver does, under strace, the
# trace in $BATS_TEST_TMPDIR/trace (calls open, fsync and close, and
# those in $strace_more)
traced() {
	local f
	"$QPOST_HOME/bin/route" "$2" > "$BATS_TEST_TMPDIR/route"
	mapfile -d '' f < "$BATS_TEST_TMPDIR/route"
	run strace -f -qq -o "$BATS_TEST_TMPDIR/trace" \
	    -e trace=open,openat,fsync,fdatasync,close${strace_more:+,$strace_more} \
	    "$L" "${f[@]}" "$1" < "$MSG"
}

# dir_synced DIR - the trace shows DIR opened as a directory and that
# descriptor fsynced before it was closed (open or openat: local built
# with musl calls open)
dir_synced() {
	"$PY" - "$BATS_TEST_TMPDIR/trace" "$1" <<'PYEOF'
import re, sys
fds = set()
for line in open(sys.argv[1]):
    m = re.search(r'open(?:at)?\((?:AT_FDCWD, )?"([^"]*)", [^)]*O_DIRECTORY[^)]*\) = (\d+)', line)
    if m and m.group(1).rstrip("/") == sys.argv[2].rstrip("/"):
        fds.add(m.group(2))
    m = re.search(r'\bclose\((\d+)\)', line)
    if m:
        fds.discard(m.group(1))
    m = re.search(r'\bf(?:data)?sync\((\d+)\) += 0', line)
    if m and m.group(1) in fds:
        sys.exit(0)
sys.exit(1)
PYEOF
}

@test "local: a new mbox's directory is fsynced, and a Maildir's new/ (issue 17)" {
	command -v strace > /dev/null || skip "no strace"
	printf '%s\n' "$U/joe/box/mbox" "$U/joe/Maildir/" | dotqmail joe
	mkdir "$U/joe/box"
	[ "$(id -u)" = 0 ] && chown "$RUID:$RGID" "$U/joe/box"
	traced s@x.example joe@test.example
	assert_success
	assert_equal "$(lastline)" "local: did 2+0+0"
	grep -q '^Delivered-To: joe@test.example$' "$U/joe/box/mbox"
	dir_synced "$U/joe/box"
	dir_synced "$U/joe/Maildir/new"
	# an mbox that exists needs no directory fsync
	echo "$U/joe/box/mbox" | dotqmail joe
	traced s@x.example joe@test.example
	assert_success
	run dir_synced "$U/joe/box"
	assert_failure
}

# broken REASON - joe's .qmail (stdin) defers with REASON, nothing
# delivered (the whole file is checked before any line is followed)
broken() {
	dotqmail joe
	deliver s@x.example joe@test.example
	assert_failure 111
	assert_equal "$(lastline)" "local: fatal: $1"
	[ "$(count "$U/joe/Maildir/new")" = 0 ]
}

@test "local: .qmail syntax errors (dotqmail.c) defer: a blank first line, a NUL byte, an empty forward" {
	printf '\n./Maildir/\n' | broken "first line of .qmail file is blank (#4.2.1)"
	printf './Maildir/\n|echo \0x\n' | broken "NUL byte in .qmail file (#4.7.0)"
	printf './Maildir/\n# c\n&\n' | broken "bad forward address in .qmail file (#4.7.0)"
	# later blank lines, "+list", trailing blanks and no final LF are fine
	printf './Maildir/  \n\n+list\n\t\n./Maildir/' | dotqmail joe
	deliver s@x.example joe@test.example
	assert_success
	assert_equal "$(lastline)" "local: did 2+0+0"
}

@test "local: a group-writable home or .qmail defers unless control/trustedgroups names the group (issue 17)" {
	g=$(stat -c %g "$U/joe")
	chmod g+w "$U/joe"
	deliver s@x.example joe@test.example
	assert_failure 111
	assert_equal "$(lastline)" "local: fatal: Uh-oh: home directory is writable by its group (not in control/trustedgroups) (#4.7.0)"
	[ "$(count "$U/joe/Maildir/new")" = 0 ]
	printf '# the admin says\n%s\n' "$g" > "$QPOST_HOME/control/trustedgroups"
	deliver s@x.example joe@test.example
	assert_success
	chmod g-w "$U/joe"
	rm "$QPOST_HOME/control/trustedgroups"
	echo ./Maildir/ | dotqmail joe
	chmod 664 "$U/joe/.qmail"
	deliver s@x.example joe@test.example
	assert_failure 111
	assert_equal "$(lastline)" "local: fatal: .qmail is writable by its group (not in control/trustedgroups) (#4.7.0)"
	# by name too
	getent group "$(stat -c %g "$U/joe/.qmail")" | cut -d: -f1 > "$QPOST_HOME/control/trustedgroups"
	deliver s@x.example joe@test.example
	assert_success
	# others: never
	chmod 666 "$U/joe/.qmail"
	deliver s@x.example joe@test.example
	assert_failure 111
	assert_equal "$(lastline)" "local: fatal: .qmail is writable by others (#4.7.0)"
	chmod 757 "$U/joe"
	deliver s@x.example joe@test.example
	assert_equal "$(lastline)" "local: fatal: Uh-oh: home directory is writable by others (#4.7.0)"
}

@test "local: a .qmail owned by somebody but the user and root defers (issue 17)" {
	[ "$(id -u)" = 0 ] || skip "chown needs root"
	echo ./Maildir/ | dotqmail joe
	chown daemon "$U/joe/.qmail"
	deliver s@x.example joe@test.example
	assert_failure 111
	assert_equal "$(lastline)" "local: fatal: .qmail is owned by another user (#4.7.0)"
	[ "$(count "$U/joe/Maildir/new")" = 0 ]
	# the user's own and root's are fine
	chown "$RUID" "$U/joe/.qmail"
	deliver s@x.example joe@test.example
	assert_success
	chown 0 "$U/joe/.qmail"
	deliver s@x.example joe@test.example
	assert_success
}

@test "local: as root in a single-user home, the alias user forwards; another user's forward defers saying why (issue 17)" {
	[ "$(id -u)" = 0 ] || skip "needs root"
	unset QPOST_QUEUE
	# the home make install QPOST_HOME=DIR leaves when root runs it
	chown -R 0:0 "$QPOST_HOME/alias"
	echo '&joe@test.example' > "$QPOST_HOME/alias/.qmail-postmaster"
	deliver s@x.example postmaster@test.example
	assert_success
	assert_equal "$(lastline)" "local: did 0+1+0"
	[ "$(queue_count)" = 1 ]
	# joe's local runs as joe: root's queue is closed to it
	echo '&bob@test.example' | dotqmail joe
	deliver s@x.example joe@test.example
	assert_failure 111
	assert_output --regexp 'local: fatal: unable to forward: qq [^(]*: in a single-user home run by root only the alias user \(root\) can forward \(#4\.3\.0\)$'
	[ "$(queue_count)" = 1 ]
}

@test "local: a Maildir delivery is an unnamed file in tmp/, linked into new/ only after its fsync, then new/ synced; no tmp/ name is made" {
	command -v strace > /dev/null || skip "no strace"
	strace_more=linkat,link,unlink,unlinkat traced s@x.example joe@test.example
	assert_success
	assert_equal "$(lastline)" "local: did 1+0+0"
	joe_got s@x.example
	# (local works in joe's home: the default delivery is ./Maildir/)
	run "$PY" "$BATS_TEST_DIRNAME/unnamed-steps.py" "$BATS_TEST_TMPDIR/trace" \
	    ./Maildir/tmp "./Maildir/new/$(basename "$f")"
	assert_output "tmpfile fsync file link fsync new/"
}

@test "local: without /proc (no way to link an unnamed file) the Maildir delivery takes the tmp/ name way: the same bytes, tmp/ left empty" {
	[ "$(id -u)" = 0 ] || skip "needs root for a mount namespace"
	command -v unshare > /dev/null || skip "no unshare"
	"$QPOST_HOME/bin/route" joe@test.example > "$BATS_TEST_TMPDIR/route"
	mapfile -d '' f < "$BATS_TEST_TMPDIR/route"
	run unshare -m --propagation private sh -c '
	    mount -t tmpfs none /proc || exit 99
	    [ ! -e /proc/self/fd ] || exit 98
	    exec "$@"' sh "$L" "${f[@]}" s@x.example < "$MSG"
	assert_success
	assert_equal "$(lastline)" "local: did 1+0+0"
	joe_got s@x.example
}

@test "local -W: one worker makes delivery after delivery over its socket; another account's request, a malformed one and the socket's end each end it" {
	# as qpost-spawn starts it: as the account (root in CI: nobody)
	as=()
	[ "$(id -u)" != 0 ] || as=(setpriv "--reuid=$RUID" "--regid=$RGID" --clear-groups)
	h=$U/joe
	W=("$PY" "$BATS_TEST_DIRNAME/local-worker.py" "$BATS_TEST_TMPDIR/wlog" "$MSG" "${as[@]}" "$L" -W)
	printf '%s\n' '#!/bin/sh' 'echo "$EXT|$EXT2|$QPOST_MSGID" >> "$HOME/env"' > "$BATS_TEST_TMPDIR/prog"
	chmod 755 "$BATS_TEST_TMPDIR/prog"
	printf '%s\n' "|$BATS_TEST_TMPDIR/prog" ./Maildir/ > "$h/.qmail-default"
	run "${W[@]}" <<-EOT
	ID1|joe|$RUID|$RGID|$h|joe-a-b|-|a-b|test.example|s1@x.example
	ID2|joe|$RUID|$RGID|$h|joe-c|-|c|test.example|s2@x.example
	ID3|joe|$((RUID + 1))|$RGID|$h|joe-d|-|d|test.example|s3@x.example
	EOT
	# idle between deliveries, it keeps no directory of joe's as its cwd
	assert_line --index 1 "report local: did 1+0+1"
	assert_line --index 2 "answer 0 cwd /"
	assert_line --index 3 "report local: did 1+0+1"
	assert_line --index 4 "answer 0 cwd /"
	assert_line --index 5 "report local: fatal: a local worker was asked to deliver for another account (#4.3.0)"
	assert_line --index 6 "exit 111"
	[ "${#lines[@]}" = 7 ]
	pid=${lines[0]#pid }
	# the environment of each delivery is its own (no EXT2 left over)
	run cat "$h/env"
	assert_output "a-b|b|ID1
c||ID2"
	# two files, the worker's pid in both names, each its own bytes
	[ "$(count "$h/Maildir/new")" = 2 ]
	[ "$(ls "$h/Maildir/new" | grep -c "P${pid}Q")" = 2 ]
	for f in "$h"/Maildir/new/*; do
		grep -q '^Delivered-To: joe-c@test.example$' "$f" && s=s2 || s=s1
		head -1 "$f" | grep -qx "Return-Path: <$s@x.example>"
		tail -n +3 "$f" | cmp - "$MSG"
	done
	# a request without the descriptors: told in its log, exit 111
	run "${W[@]}" <<-EOT
	raw:ID4|joe|$RUID|$RGID|$h|joe-e|-|e|test.example|s4@x.example
	EOT
	assert_line --index 1 "exit 111"
	grep -q 'local: fatal: malformed request' "$BATS_TEST_TMPDIR/wlog"
	# nine fields with descriptors: the same
	run "${W[@]}" <<-EOT
	ID5|joe|$RUID|$RGID|$h|joe-e|-|e|test.example
	EOT
	assert_line --index 1 "exit 111"
	# the socket's end, idle: exit 0, nothing more delivered
	run "${W[@]}" <<-EOT
	eof
	EOT
	assert_line --index 1 "exit 0"
	[ "$(count "$h/Maildir/new")" = 2 ]
}
