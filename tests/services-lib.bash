# Helpers for the tests that run the installed services under the real
# svscan (tests/services.bats, tests/root-install.bats).  Load after
# helper.bash; set S to the home's service/ directory and PORT to smtpd's.

# gone PID... - none of these processes runs any more (a zombie left to
# an init that does not reap counts as gone)
gone() {
	local pid st
	for pid in "$@"; do
		st=$(sed -n 's/^[0-9]* (.*) \(.\).*/\1/p' "/proc/$pid/stat" 2>/dev/null) || continue
		[ -z "$st" ] || [ "$st" = Z ] || return 1
	done
}

# svpid DIR - the pid supervise reports for the service
svpid() { svstat "$1" | sed -n 's/.*(pid \([0-9]*\)).*/\1/p'; }

# restarted DIR OLDPID - supervise runs the service again, as a new process
restarted() {
	local p
	p=$(svpid "$1")
	[ -n "$p" ] && [ "$p" != "$2" ]
}

# services_home - the home's services on free ports of 127.0.0.1 (the TLS
# services too, not 465 and 587), every local part of test.example
# delivered to alias/Maildir (as nobody when the tests run as root);
# sets S, PORT and MD
services_home() {
	S=$QPOST_HOME/service
	PORT=$(free_port)
	echo 127.0.0.1 > "$QPOST_HOME/control/smtpdaddr"
	echo "$PORT" > "$QPOST_HOME/control/smtpdport"
	free_port > "$QPOST_HOME/control/smtpsport"
	free_port > "$QPOST_HOME/control/submissionport"
	echo ./Maildir/ > "$QPOST_HOME/alias/.qmail-default"
	if [ "$(id -u)" = 0 ]; then
		# local refuses to deliver as root: the alias user is nobody
		chmod o+x "$BATS_RUN_TMPDIR"
		chown -R nobody: "$QPOST_HOME/alias"
		[ -z "${QPOST_SANITIZE:-}" ] || chmod 1777 "$BATS_TEST_TMPDIR/san"
	fi
	MD=$QPOST_HOME/alias/Maildir
}

start_svscan() {
	spawn svscan "$S" 3>&-	# as at boot: no inherited fd 3
	SVSCAN=$LAST_PID
	wait_port "$PORT"
	wait_for 10 svok "$S/send"
	wait_for 10 grep -q 'send: control:' "$S/send/log/main/current"
}

# svscan_teardown - stop svscan, then each service and logger through
# supervise, then whatever is left of the supervise processes, by PID
svscan_teardown() {
	local s pid kids
	[ -n "${SVSCAN:-}" ] || return 0
	kids=$(pgrep -P "$SVSCAN" || true)	# its supervise processes
	kill "$SVSCAN" 2>/dev/null || true
	wait "$SVSCAN" 2>/dev/null || true
	for s in "$S"/*/ "$S"/*/log; do
		s=${s%/}
		svc -dx "$s" 2>/dev/null || true
	done
	# bounded: supervise exits once its service is down
	wait_for 10 gone $kids || true
	for pid in $kids; do
		gone "$pid" && continue
		pkill -P "$pid" 2>/dev/null || true
		kill "$pid" 2>/dev/null || true
	done
}
