#!/usr/bin/env bats
# The installed service directories under the real daemontools: svscan
# starts supervise for service/smtpd and service/send and their log/ dirs;
# mail goes in through the listening port and lands in a Maildir; svc -t
# restarts each service under load with nothing lost; svc -d stops one;
# multilog writes TAI64N-stamped lines.  Teardown stops svscan and every
# supervise, tcpserver, send and multilog it started, by PID.

load helper
load services-lib

setup() {
	qpost_setup
	for p in smtpd send local queue; do
		[ -x "$QPOST_HOME/bin/$p" ] || skip "$p not built"
	done
	T=$BATS_TEST_TMPDIR
	services_home
}

teardown() {
	svscan_teardown
	# runit and s6: each stops its supervisors, services and loggers
	[ -z "${RUNSVDIR:-}" ] || { kill -HUP "$RUNSVDIR" 2>/dev/null; wait_for 10 gone "$RUNSVDIR"; } || true
	[ -z "${S6:-}" ] || { s6-svscanctl -t "$S" 2>/dev/null; wait_for 10 gone "$S6"; } || true
	qpost_teardown
}

delivered() { find "$MD/new" "$MD/cur" -type f | wc -l; }
# for wait_for, which runs its command afresh each time
delivered_is() { [ "$(delivered)" -eq "$1" ]; }
queue_empty() { [ "$(queue_count)" -eq 0 ]; }
# logged_ge FILE REGEX N - at least N lines of FILE match
logged_ge() { [ "$(grep -Ec "$2" "$1")" -ge "$3" ]; }

# logs_settled - every service's log ends in a whole line and none grew
# for 0.3 s: multilog may write a line in two pieces, and a reader in
# between sees a cut one (for wait_for)
logs_settled() {
	local f a b
	a=$(cat "$S"/*/log/main/current | wc -c)
	sleep 0.3
	b=$(cat "$S"/*/log/main/current | wc -c)
	[ "$a" = "$b" ] || return 1
	for f in "$S"/*/log/main/current; do
		[ -z "$(tail -c 1 "$f")" ] || return 1
	done
}
accepted_ge() { [ -f "$T/accepted" ] && [ "$(wc -l < "$T/accepted")" -ge "$1" ]; }

# load N OUT - send N messages (Subject: msg-I), one connection each,
# retrying refused connections and 4xx until each gets its 250 (bounded);
# the numbers whose final dot got 250 go to OUT, one per line.
load_gen() {
	"$PY" - "$PORT" "$1" "$2" <<'EOF'
import smtplib, sys, time
port, n, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
with open(out, "w") as f:
    for i in range(n):
        for attempt in range(200):
            try:
                s = smtplib.SMTP("127.0.0.1", port, timeout=10)
                s.sendmail("load@remote.example", ["u%d@test.example" % i],
                           "Subject: msg-%d\r\n\r\nbody %d\r\n" % (i, i))
                s.quit()
                f.write("%d\n" % i)
                f.flush()
                break
            except (OSError, smtplib.SMTPException):
                time.sleep(0.05)
EOF
}

@test "services: smtpd and send under svscan deliver a message from the port to the Maildir" {
	# a qmail-queue filter put in front of queue through service/smtpd/env
	printf '#!/bin/sh\necho filtered >> "%s"\nexec "%s"\n' "$T/filtered" \
	    "$QPOST_HOME/bin/queue" > "$T/filter"
	chmod 755 "$T/filter"
	mkdir "$S/smtpd/env"
	echo "$T/filter" > "$S/smtpd/env/QPOST_QUEUE"
	start_svscan
	run swaks --server "127.0.0.1:$PORT" --from a@remote.example \
	    --to someone@test.example --header "Subject: via services" \
	    --body "hello services"
	assert_success
	wait_for 10 delivered_is 1
	run grep -l '^Subject: via services$' "$MD"/new/*
	assert_success
	run cat "$T/filtered"
	assert_output filtered
	wait_for 10 queue_empty
	# multilog: TAI64N stamps on every line, both services logged
	wait_for 10 grep -Eq '^@4000[0-9a-f]{20} send: end msg' "$S/send/log/main/current"
	grep -Eq '^@4000[0-9a-f]{20} smtpd: ' "$S/smtpd/log/main/current"
	grep -Eq '^@4000[0-9a-f]{20} tcpserver: pid [0-9]+ from 127.0.0.1' "$S/smtpd/log/main/current"
	run grep -Evc '^@4000[0-9a-f]{20} ' "$S/send/log/main/current"
	assert_output 0
	# the run scripts are the installed ones, listening where control/ says
	run svstat "$S/smtpd" "$S/send" "$S/smtpd/log" "$S/send/log"
	refute_output --partial "down"
}

@test "services: svc -t of smtpd and send mid-load loses no accepted message" {
	start_svscan
	N=60
	spawn load_gen "$N" "$T/accepted"
	loader=$LAST_PID
	wait_for 20 accepted_ge 10
	old=$(svpid "$S/smtpd")
	svc -t "$S/smtpd"
	wait_for 10 restarted "$S/smtpd" "$old"
	wait_for 20 accepted_ge 25
	old=$(svpid "$S/send")
	svc -t "$S/send"
	wait_for 10 restarted "$S/send" "$old"
	wait_for 20 accepted_ge 40
	svc -t "$S/smtpd" "$S/send"
	wait_for 60 gone "$loader"
	run wc -l < "$T/accepted"
	assert_output "$N"
	wait_for 30 queue_empty
	# every accepted message is in the Maildir (a delivery in flight at a
	# restart may be repeated: duplicates are allowed, losses are not)
	grep -h '^Subject: msg-' "$MD"/new/* | sort -u > "$T/got"
	sed 's/^/Subject: msg-/' "$T/accepted" | sort -u > "$T/want"
	run comm -23 "$T/want" "$T/got"
	assert_output ""
	# both restarts are in the logs
	wait_for 10 logged_ge "$S/send/log/main/current" 'send: control:' 3
	wait_for 10 logged_ge "$S/smtpd/log/main/current" 'tcpserver: status: 0/' 3
}

@test "services: svc -d stops smtpd (the port closes), svc -u starts it again" {
	start_svscan
	svc -d "$S/smtpd"
	wait_for 10 sh -c "svstat '$S/smtpd' | grep -q ': down '"
	run "$PY" -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$PORT"
	assert_failure
	svc -u "$S/smtpd"
	wait_port "$PORT"
	run swaks --server "127.0.0.1:$PORT" --to back@test.example --from a@remote.example
	assert_success
	wait_for 10 delivered_is 1
}

@test "services: a changed control/rules is compiled when smtpd restarts; the rules decide relaying" {
	start_svscan
	run swaks --server "127.0.0.1:$PORT" --from a@remote.example --to x@elsewhere.example --quit-after RCPT
	assert_success	# 127.0.0.1 relays (the example rules)
	touch -d '-10 seconds' "$QPOST_HOME/control/rules.cdb"
	printf '%s\n' ':allow' > "$QPOST_HOME/control/rules"
	old=$(svpid "$S/smtpd")
	svc -t "$S/smtpd"
	wait_for 10 restarted "$S/smtpd" "$old"
	wait_port "$PORT"
	run swaks --server "127.0.0.1:$PORT" --from a@remote.example --to x@elsewhere.example --quit-after RCPT
	assert_failure
	assert_output --partial "<** 55"
}

@test "every program in PROGS has a man page with EXIT CODES, installed into the home" {
	progs=$(sed -n 's/^PROGS *+*= *//p' "$QPOST_SRC/Makefile")
	[ -n "$progs" ]
	for p in $progs; do
		m=$(ls "$QPOST_SRC/man/$p.1" "$QPOST_SRC/man/$p.8" 2>/dev/null | head -n 1)
		[ -n "$m" ] || { echo "no man page for $p"; return 1; }
		grep -q '^\.SH "*EXIT CODES' "$m" || { echo "$m: no EXIT CODES"; return 1; }
		sec=${m##*.}
		[ -f "$QPOST_HOME/man/man$sec/$p.$sec" ] || { echo "$p.$sec not installed"; return 1; }
		# and it formats without warnings
		run sh -c "MANWIDTH=80 man --warnings -l '$m' 2>&1 >/dev/null"
		assert_output ""
	done
}

# The same run scripts under runit and s6 (not in scripts/install-deps:
# skipped where missing; `apt-get install runit s6` leaves init alone).
@test "services under runit: runsvdir starts the same run scripts; mail is delivered; sv restart" {
	command -v runsvdir >/dev/null || skip "runit not installed"
	spawn runsvdir "$S"
	RUNSVDIR=$LAST_PID
	wait_port "$PORT"
	run swaks --server "127.0.0.1:$PORT" --to r@test.example --from a@remote.example
	assert_success
	wait_for 10 delivered_is 1
	run sv restart "$S/send"
	assert_success
	wait_for 10 logged_ge "$S/send/log/main/current" 'send: control:' 2
	# runsvdir on SIGHUP stops every runsv, and each its service and log
	kill -HUP "$RUNSVDIR"
	wait_for 10 gone "$RUNSVDIR"
	run "$PY" -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$PORT"
	assert_failure
}

@test "services under s6: s6-svscan starts the same run scripts; mail is delivered; s6-svc -t" {
	command -v s6-svscan >/dev/null || skip "s6 not installed"
	spawn s6-svscan "$S"
	S6=$LAST_PID
	wait_port "$PORT"
	run swaks --server "127.0.0.1:$PORT" --to r@test.example --from a@remote.example
	assert_success
	wait_for 10 delivered_is 1
	s6-svc -t "$S/send"
	wait_for 10 logged_ge "$S/send/log/main/current" 'send: control:' 2
	s6-svscanctl -t "$S"
	wait_for 10 gone "$S6"
	run "$PY" -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$PORT"
	assert_failure
}

@test "services: qpost-stats over the real multilog files counts a known traffic mix" {
	echo '|exit 100' > "$QPOST_HOME/alias/.qmail-bad"
	[ "$(id -u)" != 0 ] || chown nobody: "$QPOST_HOME/alias/.qmail-bad"
	start_svscan
	"$PY" - "$PORT" <<'PYEOF'
import smtplib, sys
port = int(sys.argv[1])
def send(frm, to, body, hdr=""):
    s = smtplib.SMTP("127.0.0.1", port, timeout=10)
    try:
        s.sendmail(frm, to, hdr + "Subject: mix\r\n\r\n" + body + "\r\n")
    except smtplib.SMTPDataError as e:
        print("refused", e.smtp_code)
    s.quit()
for i in range(3):
    send("alice@remote.example", ["a@test.example"], "x" * 100)
send("bob@remote.example", ["x@test.example", "y@test.example"], "two")
send("carol@test.example", ["bad@test.example"], "fails")
send("mallory@remote.example", ["a@test.example"], "loop",
     "Delivered-To: a@test.example\r\n")
PYEOF
	# 3 + 2 + the bounce to carol; the failure bounces, the loop is refused
	wait_for 20 delivered_is 6
	wait_for 10 queue_empty
	wait_for 10 logged_ge "$S/send/log/main/current" 'end msg' 6
	wait_for 10 logs_settled
	run "$QPOST_HOME/bin/qpost-stats" --json
	assert_success
	run "$PY" -c '
import json, sys
d = json.loads(sys.stdin.read())
r = d["recipients"]
print("received", d["received"]["messages"])
print("delivered", r["delivered"]["total"], "local", r["delivered"]["local"])
print("failed", r["failed"]["total"], "bounces", d["bounces"])
print("smtp", d["smtp"]["connections"], d["smtp"]["accepted"], d["smtp"]["refused"])
print("domain", [(x["domain"], x["delivered"], x["failed"]) for x in d["domains"]])
print("sender", d["top_senders_by_messages"][0]["address"], d["top_senders_by_messages"][0]["messages"])
print("unparsed", d["lines"]["unparsed"])
' <<< "$output"
	assert_success
	assert_line "received 6"
	assert_line "delivered 6 local 6"
	assert_line "failed 1 bounces 1"
	# 7 connections: start_svscan's wait_port made the first
	assert_line "smtp 7 5 1"
	assert_line "domain [('test.example', 6, 1)]"
	assert_line "sender alice@remote.example 3"
	assert_line "unparsed 0"
}

@test "services: under svscan the 250's queue id is send's, a refused RCPT is logged, qpost-tool talks to the supervised send" {
	start_svscan
	run "$PY" - "$PORT" <<'PYEOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
s.ehlo("client.example")
s.mail("a@remote.example")
print("rcpt", s.rcpt("<not an address>")[0])
s.rcpt("u@test.example")
code, text = s.data("Subject: ids\r\n\r\nbody\r\n")
print("data", code, text.decode())
s.quit()
PYEOF
	assert_success
	assert_line --regexp '^rcpt 5[0-9][0-9]$'
	assert_line --regexp '^data 250 2\.0\.0 ok: queued as [0-9A-Z]{10}\.[0-9]+$'
	id=$(sed -n 's/^data 250 2\.0\.0 ok: queued as //p' <<< "$output")
	wait_for 10 delivered_is 1
	L=$S/send/log/main/current
	wait_for 10 grep -q "send: end msg $id\$" "$L"
	grep -q "send: new msg $id from <a@remote.example> size [0-9]* rcpts 1 message-id <" "$L"
	grep -q "send: delivery [0-9]*: success: msg $id to local <u@test.example> delay [0-9.]*: " "$L"
	grep -q "smtpd: msg ip 127.0.0.1 helo client.example from <a@remote.example> to <u@test.example> size [0-9]* queued as $id\$" "$S/smtpd/log/main/current"
	grep -q "smtpd: refused ip 127.0.0.1 helo client.example from <a@remote.example> to .*: 5[0-9][0-9] " "$S/smtpd/log/main/current"
	run "$QPOST_HOME/bin/qpost-tool" queue
	assert_success
	assert_output "queue is empty"
	run "$QPOST_HOME/bin/qpost-tool" retry --all
	assert_success
	grep -q "send: retry all by $(id -u)" "$L"
}
