#!/usr/bin/env bats
# The build and the home: what every other test stands on.

load helper

setup() { qpost_setup; }
teardown() { qpost_teardown; }

@test "install-home makes a complete home with the queue and control files" {
	for d in bin control users alias queue/tmp queue/new queue/mess \
	    queue/info queue/lock; do
		[ -d "$QPOST_HOME/$d" ]
	done
	[ -p "$QPOST_HOME/queue/lock/trigger" ]
	run cat "$QPOST_HOME/control/defaultdelivery"
	assert_output "./Maildir/"
	[ -x "$QPOST_HOME/bin/queue" ]
}

@test "install-home keeps existing control files" {
	echo custom.example > "$QPOST_HOME/control/me"
	sh "$QPOST_SRC/scripts/install-home" "$QPOST_HOME"
	run cat "$QPOST_HOME/control/me"
	assert_output custom.example
}

@test "make install QPOST_HOME=DIR installs a home into DIR" {
	run make -C "$QPOST_SRC" -s install QPOST_HOME="$BATS_TEST_TMPDIR/other"
	assert_success
	[ -x "$BATS_TEST_TMPDIR/other/bin/queue" ]
	[ -d "$BATS_TEST_TMPDIR/other/queue/new" ]
}
