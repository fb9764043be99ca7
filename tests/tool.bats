#!/usr/bin/env bats
# qpost-tool: qread, qstat, showctl, newrcpthosts, rules, newu.

load helper

setup() {
	qpost_setup
	T="$QPOST_HOME/bin/qpost-tool"
	[ -x "$T" ]
}
teardown() { qpost_teardown; }

# putnew ID SENDER RCPT... - a committed message in queue/new, written in
# the format of docs/queue.md (message, envelope, 32-byte trailer)
putnew() {
	local id=$1 from=$2 f
	shift 2
	f="$QPOST_HOME/queue/new/$id"
	printf 'Subject: test\n\nbody line\n' > "$f"
	local off
	off=$(stat -c %s "$f")
	{
		printf 'F%s\0' "$from"
		for r in "$@"; do printf 'T%s\0' "$r"; done
		printf '\0'
		printf 'QPOSTENV %022d\n' "$off"
	} >> "$f"
}

@test "qstat counts an empty queue" {
	run "$T" qstat
	assert_success
	assert_output "messages in queue: 0
messages in queue but not yet preprocessed: 0"
}

@test "qread lists each message in new/ with size, sender and recipients" {
	putnew 101 alice@test.example bob@test.example carol@remote.example
	putnew 102 "" postmaster@test.example
	run "$T" qread
	assert_success
	# the message's ID: its birth (the file's time) and its inode
	assert_line --regexp '^[0-9A-Z]{10}\.101  age [0-9]+s  25 bytes  from <alice@test.example>$'
	assert_line "  new      <bob@test.example>"
	assert_line "  new      <carol@remote.example>"
	assert_line --regexp '^[0-9A-Z]{10}\.102  age [0-9]+s  25 bytes  from <>$'
	run "$T" qstat
	assert_output "messages in queue: 2
messages in queue but not yet preprocessed: 2"
}

@test "qread shows send's per-recipient state from info/ (docs/send.md)" {
	printf 'Subject: x\n\nhello\n' > "$QPOST_HOME/queue/mess/200"
	now=$(date +%s)
	{
		printf 'M%s 19 80\0' $((now - 7200))
		printf 'Fann@test.example\0Tb1@test.example\0Tb2@remote.example\0Tb3@remote.example\0Tb4@test.example\0\0'
		printf 'd0\0f1 550 5.1.1 no such user\0r2 3 %s\0' $((now + 600))
		printf 'd3'	# torn last record: ignored
	} > "$QPOST_HOME/queue/info/200"
	run "$T" qread
	assert_success
	assert_line --regexp '^[0-9A-Z]{10}\.200  age 2h  19 bytes  from <ann@test.example>$'
	assert_line '  done     <b1@test.example>'
	assert_line '  failed   <b2@remote.example>'
	assert_line '           (to be bounced) 550 5.1.1 no such user'
	assert_line '  retry    <b3@remote.example>'
	assert_line --regexp '^           3 tries, next in (9|10)m$'
	assert_line '  pending  <b4@test.example>'
	run "$T" qstat
	assert_output "messages in queue: 1
messages in queue but not yet preprocessed: 0"
}

@test "qread shows a reason's human text, not its status fields (dsn.h)" {
	printf 'Subject: x\n\nhello\n' > "$QPOST_HOME/queue/mess/201"
	now=$(date +%s)
	{
		printf 'M%s 19 80\0' $((now - 60))
		printf 'Fann@test.example\0Tb1@remote.example\0Tb2@test.example\0\0'
		printf 'f0 #5.1.1 @mx.remote.example =34 550 5.1.1 user unknown (see 4.2.1) '
		printf 'mx.remote.example[192.0.2.1] does not like recipient\0'
		printf 'f1 #5.1.1 local: fatal: Sorry, no mailbox here by that name. (#5.1.1)\0'
	} > "$QPOST_HOME/queue/info/201"
	run "$T" qread
	assert_success
	assert_line '  failed   <b1@remote.example>'
	assert_line '           (to be bounced) mx.remote.example[192.0.2.1] does not like recipient'
	assert_line '           (to be bounced) local: fatal: Sorry, no mailbox here by that name. (#5.1.1)'
	refute_output --partial '#5.1.1 @'
	refute_output --partial '=34'
}

@test "qread marks a malformed file in new/, a control byte in an address too" {
	printf 'garbage without trailer' > "$QPOST_HOME/queue/new/7"
	# 8-bit bytes pass envelope_check (UTF-8 addresses); control bytes
	# do not (queue exits 91 for them), so no terminal escape is shown
	putnew 8 "$(printf 'x\303\251y@test.example')" r@test.example
	putnew 9 "$(printf 'x\033y@test.example')" r@test.example
	run "$T" qread
	assert_success
	assert_line "7  malformed file in queue/new (send sets it aside)"
	assert_line --partial "from <$(printf 'x\303\251y')@test.example>"
	assert_line "9  malformed file in queue/new (send sets it aside)"
	refute_output --partial "$(printf '\033')"
}

@test "qread fails with 111 when the queue cannot be read" {
	rm -rf "$QPOST_HOME/queue"
	run "$T" qread
	assert_failure 111
	assert_output --partial "unable to open"
}

@test "showctl prints the configuration, no warnings on a fresh home" {
	run "$T" showctl
	assert_success
	assert_line "qpost home: $QPOST_HOME"
	assert_line "me (this host's name): test.example"
	assert_line --partial "databytes (largest message smtpd takes): default"
	assert_line "no warnings"
}

@test "showctl warns about the usual mistakes" {
	echo other.example >> "$QPOST_HOME/control/locals"
	echo lots > "$QPOST_HOME/control/databytes"
	echo x > "$QPOST_HOME/control/rcpthost"
	echo 'virt.example' > "$QPOST_HOME/control/virtualdomains"
	touch -d '1 hour ago' "$QPOST_HOME/control/rules.cdb"
	mkdir -p "$QPOST_HOME/queue/bad"
	echo junk > "$QPOST_HOME/queue/bad/12"
	rm "$QPOST_HOME/queue/lock/trigger"
	run "$T" showctl
	assert_success
	assert_line "warning: local domain other.example is not in rcpthosts: smtpd refuses its mail"
	assert_line "warning: control/databytes is not a number"
	assert_line "warning: control/rcpthost is not a control file qpost reads (a typo?)"
	assert_line "warning: virtualdomains line without ':': virt.example"
	assert_line "warning: control/rules is newer than control/rules.cdb: run qpost-tool rules"
	assert_line "warning: queue/bad holds 1 file(s) send set aside as malformed: look at them, then remove them"
	assert_line "warning: queue/lock/trigger is not a fifo: new mail waits for send's next scan"
	refute_line "no warnings"
}

@test "newrcpthosts compiles rcpthosts and morercpthosts into a cdb, case-folded" {
	printf '%s\n' Big.Example '# comment' '' small.example > "$QPOST_HOME/control/morercpthosts"
	run "$T" newrcpthosts
	assert_success
	assert_output "control/morercpthosts.cdb: 4 domains"
	for d in test.example localhost big.example small.example; do
		cdb -q "$QPOST_HOME/control/morercpthosts.cdb" "$d" >/dev/null
	done
	run cdb -q "$QPOST_HOME/control/morercpthosts.cdb" Big.Example
	assert_failure
	[ ! -e "$QPOST_HOME/control/morercpthosts.tmp" ]
	# a domain only in the cdb counts for showctl's locals check
	echo cdbonly.example >> "$QPOST_HOME/control/locals"
	echo cdbonly.example >> "$QPOST_HOME/control/morercpthosts"
	"$T" newrcpthosts
	run "$T" showctl
	refute_line --partial "cdbonly.example is not in rcpthosts"
}

@test "newrcpthosts: a domain listed twice (any case, either file) is stored once" {
	printf '%s\n' Dup.Example dup.example > "$QPOST_HOME/control/morercpthosts"
	echo DUP.example >> "$QPOST_HOME/control/rcpthosts"
	run "$T" newrcpthosts
	assert_success
	assert_output "control/morercpthosts.cdb: 3 domains"
	cdb -q "$QPOST_HOME/control/morercpthosts.cdb" dup.example >/dev/null
}

@test "newrcpthosts leaves the old cdb when it cannot write" {
	"$T" newrcpthosts
	before=$(cksum < "$QPOST_HOME/control/morercpthosts.cdb")
	echo new.example >> "$QPOST_HOME/control/rcpthosts"
	mkdir "$QPOST_HOME/control/morercpthosts.tmp"
	run "$T" newrcpthosts
	assert_failure 111
	[ "$(cksum < "$QPOST_HOME/control/morercpthosts.cdb")" = "$before" ]
}

@test "rules compiles control/rules with tcprules; RELAYCLIENT only for the listed net" {
	printf '%s\n' '10.1.:allow,RELAYCLIENT=""' '10.2.:deny' ':allow' > "$QPOST_HOME/control/rules"
	run "$T" rules
	assert_success
	[ ! -e "$QPOST_HOME/control/rules.tmp" ]
	run env TCPREMOTEIP=10.1.2.3 tcprulescheck "$QPOST_HOME/control/rules.cdb"
	assert_output --partial "set environment variable RELAYCLIENT"
	run env TCPREMOTEIP=10.2.0.1 tcprulescheck "$QPOST_HOME/control/rules.cdb"
	assert_output --partial "deny connection"
	run env TCPREMOTEIP=10.3.0.1 tcprulescheck "$QPOST_HOME/control/rules.cdb"
	refute_output --partial "RELAYCLIENT"
}

@test "rules: compiles at the same moment (three services starting together) all succeed, one at a time" {
	printf '%s\n' '10.1.:allow,RELAYCLIENT=""' ':allow' > "$QPOST_HOME/control/rules"
	pids=()
	for i in $(seq 1 12); do
		"$T" rules 2> "$BATS_TEST_TMPDIR/err.$i" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p"; done
	cat "$BATS_TEST_TMPDIR"/err.* > "$BATS_TEST_TMPDIR/err"
	run cat "$BATS_TEST_TMPDIR/err"
	assert_output ""
	[ ! -e "$QPOST_HOME/control/rules.tmp" ]
	run env TCPREMOTEIP=10.1.2.3 tcprulescheck "$QPOST_HOME/control/rules.cdb"
	assert_output --partial "set environment variable RELAYCLIENT"
}

@test "rules keeps the old cdb when control/rules has a syntax error" {
	before=$(cksum < "$QPOST_HOME/control/rules.cdb")
	# tcprules itself would loop for ever on these two lines
	printf '%s\n' '# ok' '127.:allow' '10.1.:bogus' > "$QPOST_HOME/control/rules"
	run timeout 10 "$T" rules
	assert_failure 100
	assert_output "qpost-tool: fatal: control/rules line 3 has no :allow or :deny: 10.1.:bogus"
	printf '%s\n' '  # indented' > "$QPOST_HOME/control/rules"
	run timeout 10 "$T" rules
	assert_failure 100
	printf '%s\n' '10.1.:allow,X=1' > "$QPOST_HOME/control/rules"
	run timeout 10 "$T" rules
	assert_failure 100
	assert_output --partial "unable to parse"
	[ "$(cksum < "$QPOST_HOME/control/rules.cdb")" = "$before" ]
}

@test "qpost-tool refuses an unknown subcommand with 100" {
	run "$T" frobnicate
	assert_failure 100
	assert_output --partial usage
	run "$T"
	assert_failure 100
}

@test "qpost-tool newu runs the home's newu" {
	cat > "$QPOST_HOME/bin/newu" <<EOF
#!/bin/sh
echo "newu ran with: \$*"
EOF
	chmod 755 "$QPOST_HOME/bin/newu"
	run "$T" newu -v
	assert_success
	assert_output "newu ran with: -v"
}

@test "qread on the real send's state: one recipient done, one deferred" {
	for p in send local inject queue; do
		[ -x "$QPOST_HOME/bin/$p" ] || skip "$p not built"
	done
	if [ "$(id -u)" = 0 ]; then	# local does not deliver as root
		chmod o+x "$BATS_RUN_TMPDIR"
		chown -R nobody: "$QPOST_HOME/alias"
		[ -z "${QPOST_SANITIZE:-}" ] || chmod 1777 "$BATS_TEST_TMPDIR/san"
	fi
	echo '|exit 111' > "$QPOST_HOME/alias/.qmail-later"
	printf 'Subject: x\n\nbody\n' |
	    "$QPOST_HOME/bin/inject" -f sam@test.example postmaster@test.example later@test.example
	spawn "$QPOST_HOME/bin/send" 2> "$BATS_TEST_TMPDIR/send.log"
	wait_for 10 grep -q 'deferral: msg' "$BATS_TEST_TMPDIR/send.log"
	id=$(sed -n 's/.*new msg \([0-9A-Z.]*\) from.*/\1/p' "$BATS_TEST_TMPDIR/send.log")
	[ -n "$id" ]
	run "$T" qread
	assert_success
	# the same ID as send's log gives it
	assert_line --regexp "^$id  age [0-9]+s  [0-9]+ bytes  from <sam@test.example>\$"
	assert_line '  done     <postmaster@test.example>'
	assert_line '  retry    <later@test.example>'
	assert_line --regexp '^           1 tries, next in [0-9]+[sm]$'
	run "$T" qstat
	assert_output "messages in queue: 1
messages in queue but not yet preprocessed: 0"
}

@test "newrcpthosts: smtpd takes mail for a domain listed only in the compiled cdb" {
	[ -x "$QPOST_HOME/bin/smtpd" ] || skip "smtpd not built"
	smtp() {
		printf 'HELO c\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<x@%s>\r\nQUIT\r\n' "$1" |
		    env -u RELAYCLIENT TCPREMOTEIP=192.0.2.1 QPOST_QUEUE=/bin/false "$QPOST_HOME/bin/smtpd" 2>/dev/null
	}
	run smtp listed.example
	assert_line --regexp '^553 |^550 '
	echo listed.example > "$QPOST_HOME/control/morercpthosts"
	"$T" newrcpthosts
	run smtp listed.example
	assert_line --regexp '^250 2\.1\.5 '
	run smtp LISTED.Example
	assert_line --regexp '^250 2\.1\.5 '
}
