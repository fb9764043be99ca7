#!/usr/bin/env bats
# The operator's view (issue 14): every refusal smtpd gives to MAIL, RCPT
# or DATA is one log line; a long log line is cut visibly, never silently;
# a control file that is not a number is logged and ignored; a bad rules
# file leaves smtpd serving on the last good rules.cdb; reinstalling keeps
# the admin's service knobs (env/, front, log/size and log/count).

load helper
load smtpd-lib
load services-lib

setup() {
	qpost_setup
	T=$BATS_TEST_TMPDIR
	LOG=$T/smtpd.log
	: > "$LOG"
	echo ./Maildir/ > "$QPOST_HOME/alias/.qmail-default"
}

teardown() {
	svscan_teardown
	qpost_teardown
}

logged_ge() { [ "$(grep -c -- "$2" "$1")" -ge "$3" ]; }
has_mail() { [ -n "$(ls "$QPOST_HOME/alias/Maildir/new")" ]; }

@test "refusals: relaying denied, bad syntax, no RCPT, a bad HELO: one line each with ip, helo, sender, recipient and the reply" {
	smtpd_start
	run raw 'EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@foreign.example>\r\nRCPT TO:<bad\r\nDATA\r\nMAIL FROM:<c@d.example>\r\nRSET\r\nEHLO evil from <f@g> to <h@i>: 250\r\nMAIL FROM:<> SIZE=99999999999\r\nQUIT\r\n' 127.0.0.2
	assert_line '553 5.7.1 relaying denied'
	run cat "$LOG"
	assert_line 'smtpd: refused ip 127.0.0.2 helo c.example from <a@b.example> to <x@foreign.example>: 553 5.7.1 relaying denied'
	assert_line 'smtpd: refused ip 127.0.0.2 helo c.example from <a@b.example> to -: 501 5.1.7 bad address syntax'
	assert_line 'smtpd: refused ip 127.0.0.2 helo c.example from <a@b.example> to -: 503 5.5.1 need RCPT before DATA'
	assert_line 'smtpd: refused ip 127.0.0.2 helo c.example from <a@b.example> to -: 503 5.5.1 nested MAIL command'
	# the client's bytes cannot forge fields: blanks and <> are escaped
	assert_line 'smtpd: refused ip 127.0.0.2 helo evil\x20from\x20\x3cf@g\x3e\x20to\x20\x3ch@i\x3e:\x20250 from <> to -: 552 5.3.4 message size exceeds fixed limit'
	[ "$(grep -c '^smtpd: refused ' "$LOG")" = 5 ]
}

@test "a refused message after the dot (queue failure) is one refused line with every recipient and the size" {
	printf '#!/bin/sh\ncat >/dev/null\nexit 71\n' > "$T/qfail"
	chmod 755 "$T/qfail"
	QPOST_QUEUE=$T/qfail smtpd_start
	run raw 'EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<u1@test.example>\r\nRCPT TO:<u2@test.example>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n'
	assert_line --regexp '^451 '
	run cat "$LOG"
	assert_line --regexp '^smtpd: refused ip 127\.0\.0\.1 helo c\.example from <a@b\.example> to <u1@test\.example> <u2@test\.example> size 3: 451 .+$'
	refute_line --regexp '^smtpd: msg '
}

@test "a long recipient list keeps the whole msg line, queue id included (regression: cut at 1024 bytes)" {
	smtpd_start
	p='EHLO c.example\r\nMAIL FROM:<a@b.example>\r\n'
	for i in $(seq 1 100); do p="${p}RCPT TO:<a-fairly-long-local-part-number-$i@test.example>\\r\\n"; done
	run raw "${p}DATA\\r\\nhi\\r\\n.\\r\\nQUIT\\r\\n"
	assert_line --regexp '^250 2\.0\.0 ok'
	run grep '^smtpd: msg ' "$LOG"
	assert_output --regexp '<a-fairly-long-local-part-number-100@test\.example> size 3 queued as [0-9A-Z]{10}\.[0-9]+$'
	[ "${#output}" -gt 4000 ]
}

@test "a log line over ERR_LINE_MAX is cut visibly: '... [N bytes cut]', never silently" {
	echo 300 > "$QPOST_HOME/control/maxrcpt"
	smtpd_start
	long=$(printf 'x%.0s' $(seq 1 600))
	p='EHLO c.example\r\nMAIL FROM:<a@b.example>\r\n'
	for i in $(seq 1 200); do p="${p}RCPT TO:<$long$i@remote.example>\\r\\n"; done
	run raw "${p}DATA\\r\\nhi\\r\\n.\\r\\nQUIT\\r\\n"
	assert_line --regexp '^250 2\.0\.0 ok'
	line=$(grep '^smtpd: msg ' "$LOG")
	[ "${#line}" -le 65536 ]
	[ "${#line}" -gt 60000 ]
	# each address is shown up to 512 bytes, then "..."
	[[ "$line" == *"<$(printf 'x%.0s' $(seq 1 512))...>"* ]]
	run tail -c 60 <<< "$line"
	assert_output --regexp '\.\.\. \[[0-9]+ bytes cut\]$'
	# the next line is whole and on a line of its own
	grep -q '^smtpd: end ip 127\.0\.0\.1 helo c\.example msgs 1 quit$' "$LOG"
}

@test "control/databytes 'lots': smtpd serves with the default and logs the file and the value" {
	echo lots > "$QPOST_HOME/control/databytes"
	smtpd_start
	run raw 'EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<u@test.example>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n'
	assert_line '250-SIZE 10240000'
	assert_line --regexp '^250 2\.0\.0 ok'
	run cat "$LOG"
	assert_line 'smtpd: warning: control/databytes: lots is not a number: using the default 10240000'
	refute_line --partial 'unable to read controls'
}

@test "control/concurrencyremote '2O': send starts, logs it, delivers; on HUP a bad value keeps the old one" {
	echo 2O > "$QPOST_HOME/control/concurrencyremote"
	if [ "$(id -u)" = 0 ]; then
		chmod o+x "$BATS_RUN_TMPDIR"
		chown -R nobody: "$QPOST_HOME/alias"
	fi
	spawn "$QPOST_HOME/bin/send" 2>>"$T/send.log"
	pid=$LAST_PID
	printf 'Subject: t\n\nbody\n' | enqueue a@test.example joe@test.example
	wait_for 10 has_mail
	run cat "$T/send.log"
	assert_line 'send: warning: control/concurrencyremote: 2O is not a number: using the default 20'
	assert_line --partial 'send: control: concurrencylocal 10 concurrencyremote 20 '
	echo 5 > "$QPOST_HOME/control/concurrencyremote"
	kill -HUP "$pid"
	wait_for 10 grep -q 'concurrencyremote 5 ' "$T/send.log"
	echo 7x > "$QPOST_HOME/control/concurrencyremote"
	kill -HUP "$pid"
	wait_for 10 grep -q 'control/concurrencyremote: 7x is not a number: keeping 5' "$T/send.log"
	kill -0 "$pid"
}

@test "a typo in control/rules and svc -t: smtpd still answers 220, the log has the error at each start, loopback still relays" {
	services_home
	start_svscan
	run swaks --server "127.0.0.1:$PORT" --from a@remote.example --to x@elsewhere.example --quit-after RCPT
	assert_success	# 127.0.0.1 relays (the example rules)
	before=$(cksum < "$QPOST_HOME/control/rules.cdb")
	touch -d '-10 seconds' "$QPOST_HOME/control/rules.cdb"
	printf '%s\n' '127.:allow,RELAYCLIENT=""' '10.1.:bogus' ':allow' > "$QPOST_HOME/control/rules"
	for i in 1 2; do
		old=$(svpid "$S/smtpd")
		svc -t "$S/smtpd"
		wait_for 10 restarted "$S/smtpd" "$old"
		wait_port "$PORT"
		wait_for 10 logged_ge "$S/smtpd/log/main/current" 'smtpd/run: warning: control/rules not compiled: serving with the last good control/rules.cdb' "$i"
	done
	grep -q 'qpost-tool: fatal: control/rules line 2 has no :allow or :deny: 10.1.:bogus' "$S/smtpd/log/main/current"
	[ "$(cksum < "$QPOST_HOME/control/rules.cdb")" = "$before" ]
	run swaks --server "127.0.0.1:$PORT" --from a@remote.example --to x@elsewhere.example --quit-after RCPT
	assert_success
	assert_output --partial '<-  220 '
}

@test "without any rules.cdb a bad control/rules still starts smtpd, and nobody relays" {
	services_home
	rm "$QPOST_HOME/control/rules.cdb"
	printf '%s\n' '127.:allow,RELAYCLIENT=""' '10.1.:bogus' > "$QPOST_HOME/control/rules"
	start_svscan
	grep -q 'smtpd/run: warning: control/rules not compiled: serving without rules, nobody may relay' "$S/smtpd/log/main/current"
	run swaks --server "127.0.0.1:$PORT" --from a@remote.example --to x@elsewhere.example --quit-after RCPT
	assert_failure
	assert_output --partial '553 5.7.1 relaying denied'
}

@test "install-home over a home keeps env/, the log's size and count and the front; the run scripts use them" {
	services_home
	# an rblsmtpd-style front: records that it ran, then runs smtpd
	printf '#!/bin/sh\necho "$TCPREMOTEIP" >> "%s"\nexec "$@"\n' "$T/front-ran" > "$T/front"
	chmod 755 "$T/front"
	printf '# my blocklist\n%s\n' "$T/front" > "$S/smtpd/front"
	mkdir -p "$S/smtpd/env"
	printf '#!/bin/sh\necho filtered >> "%s"\nexec "%s"\n' "$T/filtered" \
	    "$QPOST_HOME/bin/queue" > "$T/filter"
	chmod 755 "$T/filter"
	echo "$T/filter" > "$S/smtpd/env/QPOST_QUEUE"
	echo 123456 > "$S/smtpd/log/size"
	echo 4 > "$S/smtpd/log/count"
	sh "$QPOST_SRC/scripts/install-home" "$QPOST_HOME" >/dev/null
	[ "$(cat "$S/smtpd/env/QPOST_QUEUE")" = "$T/filter" ]
	[ "$(cat "$S/smtpd/log/size")" = 123456 ]
	[ "$(cat "$S/smtpd/log/count")" = 4 ]
	grep -qx "$T/front" "$S/smtpd/front"
	start_svscan
	run swaks --server "127.0.0.1:$PORT" --from a@remote.example --to u@test.example
	assert_success
	wait_for 10 test -s "$T/front-ran"
	grep -qx 127.0.0.1 "$T/front-ran"
	grep -qx filtered "$T/filtered"
	# multilog runs with the admin's s and n
	pid=$(svpid "$S/smtpd/log")
	run tr '\0' ' ' < "/proc/$pid/cmdline"
	assert_output --partial 'multilog t s123456 n4 ./main'
}

@test "a front that cannot be found is logged and left out: smtpd serves" {
	services_home
	echo 'no-such-front -x' > "$S/smtpd/front"
	start_svscan
	grep -q 'smtpd/run: warning: service/smtpd/front: no-such-front not found: running smtpd without it' "$S/smtpd/log/main/current"
	run swaks --server "127.0.0.1:$PORT" --from a@remote.example --to u@test.example --quit-after RCPT
	assert_success
}
