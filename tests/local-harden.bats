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
