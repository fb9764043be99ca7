#!/usr/bin/env bats
# The README's first command: scripts/demo start sets up a home on a demo
# domain and runs smtpd and send under svscan; a message sent with swaks
# lands in the Maildir the README names; scripts/demo stop ends it all.

load helper

setup() {
	qpost_setup
	for p in smtpd send local queue; do
		[ -x "$QPOST_SRC/$p" ] || skip "$p not built"
	done
	D=$BATS_TEST_TMPDIR/demo
	PORT=$(free_port)
	export QPOST_DEMO_PORT=$PORT
	SPORT=$(free_port)
	SUBPORT=$(free_port)
	export QPOST_DEMO_SMTPS_PORT=$SPORT QPOST_DEMO_SUBMISSION_PORT=$SUBPORT
	# as root the demo delivers as nobody, who must reach the home
	[ "$(id -u)" != 0 ] || chmod o+x "$BATS_RUN_TMPDIR"
	[ -z "${QPOST_SANITIZE:-}" ] || chmod 1777 "$BATS_TEST_TMPDIR/san"
}

teardown() {
	local pid kids
	if [ -f "$D/svscan.pid" ]; then	# the test failed before stop
		pid=$(cat "$D/svscan.pid")
		kids=$(pgrep -P "$pid" || true)
		sh "$QPOST_SRC/scripts/demo" stop "$D" || true
		kill "$pid" $kids 2>/dev/null || true
	fi
	qpost_teardown
}

# arrived SUBJECT - a message with that subject is in the demo's Maildir
arrived() { grep -lqs "^Subject: $1\$" "$D"/alias/Maildir/new/*; }

# svscan_gone PID - the demo's svscan no longer runs (or is a zombie)
svscan_gone() {
	local st
	st=$(sed -n 's/^[0-9]* (.*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null) || return 0
	[ -z "$st" ] || [ "$st" = Z ]
}

@test "demo: start, a swaks message lands in DIR/alias/Maildir/new, stop" {
	run sh "$QPOST_SRC/scripts/demo" start "$D"
	assert_success
	assert_output --partial "swaks --server 127.0.0.1:$PORT --to you@demo.example"
	assert_output --partial "$D/alias/Maildir/new/"
	pid=$(cat "$D/svscan.pid")
	run swaks --server "127.0.0.1:$PORT" --to you@demo.example \
	    --from visitor@example.org --header "Subject: demo test"
	assert_success
	wait_for 10 arrived "demo test"
	# TLS on the self-signed certificate, and the demo user on the
	# submission and SMTPS ports, as the start message shows
	run swaks --server "127.0.0.1:$PORT" --tls --to you@demo.example \
	    --from visitor@example.org --header "Subject: demo tls"
	assert_success
	assert_output --partial '=== TLS started with cipher TLSv1.3'
	run swaks --server "127.0.0.1:$SUBPORT" --tls --auth PLAIN \
	    --auth-user demo@demo.example --auth-password demo-password \
	    --from demo@demo.example --to you@demo.example --header "Subject: demo auth"
	assert_success
	assert_output --partial '235 2.7.0'
	run swaks --server "127.0.0.1:$SPORT" --tlsc --auth LOGIN \
	    --auth-user demo@demo.example --auth-password demo-password \
	    --from demo@demo.example --to you@demo.example --header "Subject: demo smtps"
	assert_success
	wait_for 10 arrived "demo tls"
	wait_for 10 arrived "demo auth"
	wait_for 10 arrived "demo smtps"
	grep -l '^Subject: demo auth$' "$D"/alias/Maildir/new/* | xargs grep -q 'with ESMTPSA'
	run sh "$QPOST_SRC/scripts/demo" status "$D"
	assert_output --partial "$D/service/smtpd: up"
	run sh "$QPOST_SRC/scripts/demo" stop "$D"
	assert_success
	assert_output "demo: stopped"
	wait_for 10 svscan_gone "$pid"
	run "$PY" -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$PORT"
	assert_failure
	[ ! -e "$D/svscan.pid" ]
}

@test "demo: a second start says it is running; stop without a demo is harmless" {
	run sh "$QPOST_SRC/scripts/demo" stop "$D"
	assert_success
	assert_output --partial "no demo in"
	sh "$QPOST_SRC/scripts/demo" start "$D" >/dev/null
	run sh "$QPOST_SRC/scripts/demo" start "$D"
	assert_success
	assert_output --partial "already running"
	sh "$QPOST_SRC/scripts/demo" stop "$D"
}
