#!/usr/bin/env bats
# make install as root into conf-home: the multi-user installation.  A
# private copy of the source with conf-home pointing into the test's
# directory is built and installed; the system users are created (and
# removed again in teardown, only those this test created); svscan runs
# the installed services.  Shows: smtpd runs as qpostd, queue files belong
# to qpostq, send is not root, a Maildir delivery belongs to the
# recipient, a user cannot read another user's queued mail.

load helper
load services-lib

ACCOUNTS="qpostd qpostq qposts qpostr qpostl qpalias"

setup() {
	[ "$(id -u)" = 0 ] || skip "needs root"
	command -v useradd >/dev/null || skip "no useradd"
	# the system accounts are the host's: one root install at a time
	# (CI runs make check and make sanitize side by side); the lock goes
	# with this test's process
	exec {ACCOUNTS_LOCK}> /tmp/qpost-root-accounts.lock
	flock -w 600 "$ACCOUNTS_LOCK"
	qpost_setup
	T=$BATS_TEST_TMPDIR
	# every account must reach the installed home under bats' 0700 dirs
	chmod o+x "$BATS_RUN_TMPDIR" "$T"
	[ -z "${QPOST_SANITIZE:-}" ] || chmod 1777 "$T/san"
	: > "$T/created"
	for u in $ACCOUNTS; do
		id -u "$u" >/dev/null 2>&1 || echo "user $u" >> "$T/created"
	done
	getent group qpost >/dev/null || echo "group qpost" >> "$T/created"
	QH=$T/qh
	mkdir "$T/src"
	tar -C "$QPOST_SRC" --exclude .git --exclude '*.o' --exclude '*.a' \
	    -cf - . | tar -C "$T/src" -xf -
	echo "$QH" > "$T/src/conf-home"
	make -C "$T/src" -s -j2 >/dev/null
	for p in smtpd send local queue qpost-spawn inject; do
		[ -x "$T/src/$p" ] || skip "$p not built"
	done
	# the installed home is conf-home: no QPOST_HOME from here on
	unset QPOST_HOME
	make -C "$T/src" -s install >/dev/null
	S=$QH/service
	PORT=$(free_port)
	echo test.example > "$QH/control/me"
	printf '%s\n' test.example localhost > "$QH/control/locals"
	printf '%s\n' test.example localhost > "$QH/control/rcpthosts"
	echo 127.0.0.1 > "$QH/control/smtpdaddr"
	echo "$PORT" > "$QH/control/smtpdport"
	free_port > "$QH/control/smtpsport"
	free_port > "$QH/control/submissionport"
	# a recipient with its own uid (nobody) and Maildir
	R=$T/rhome
	mkdir -p "$R/Maildir/new" "$R/Maildir/cur" "$R/Maildir/tmp"
	chown -R nobody: "$R"
	printf '=rcpt:nobody:%s:%s:%s:::\n+rcpt-:nobody:%s:%s:%s:-::\n.\n' \
	    "$(id -u nobody)" "$(id -g nobody)" "$R" \
	    "$(id -u nobody)" "$(id -g nobody)" "$R" > "$QH/users/assign"
	"$QH/bin/newu"
	chmod 644 "$QH/users/assign.cdb"
}

teardown() {
	svscan_teardown
	local rc=0
	qpost_teardown || rc=$?
	# make install offers $QH/bin/sendmail through update-alternatives
	# when no package owns /usr/sbin/sendmail: take it out again.
	[ -z "${QH:-}" ] || [ ! -f "$QPOST_SRC/scripts/install-sendmail" ] ||
	    sh "$QPOST_SRC/scripts/install-sendmail" --remove "$QH" || true
	if [ -f "${T:-/nonexistent}/created" ]; then
		# userdel refuses while a process of the account still runs
		# (an smtpd finishing its session): bounded retries
		while read -r kind name; do
			[ "$kind" = user ] || continue
			wait_for 10 userdel "$name" || userdel -f "$name" || true
			getent group "$name" >/dev/null &&
			    { groupdel "$name" 2>/dev/null || true; }
		done < "$T/created"
		while read -r kind name; do
			[ "$kind" = group ] || continue
			groupdel "$name" 2>/dev/null || true
		done < "$T/created"
	fi
	return $rc
}

owner() { stat -c %U "$1"; }
queue_empty() { [ -z "$(find "$QH/queue/new" "$QH/queue/mess" -type f)" ]; }
arrived() { [ -n "$(find "$1" -type f)" ]; }

@test "root install: accounts, owners and modes" {
	for u in $ACCOUNTS; do
		id -u "$u" >/dev/null
	done
	[ "$(id -gn qpostq)" = qpost ]
	run stat -c '%U:%G %a' "$QH/bin/queue"
	assert_output "qpostq:qpost 4711"
	[ "$(id -gn qposts)" = qpost ]
	! id -Gn qpostr | grep -qw qpost
	run stat -c '%U:%G %a' "$QH/queue" "$QH/queue/new" "$QH/queue/tmp" "$QH/queue/mess" "$QH/queue/info"
	assert_output "qpostq:qpost 750
qpostq:qpost 2770
qpostq:qpost 2770
qpostq:qpost 2770
qpostq:qpost 2770"
	# bin/ and every binary but the set-uid queue are root's alone
	run find "$QH/bin" \( ! -user root -o -perm /022 \) ! -name queue
	assert_output ""
	run stat -c '%U %a' "$QH/control/me" "$QH/control/rules.cdb"
	assert_output "root 644
root 644"
	[ "$(owner "$QH/alias/Maildir")" = qpalias ]
	[ "$(owner "$S/smtpd/log/main")" = qpostl ]
	# remote's downgrade memory is remote's; control/smtpauth, when it
	# exists at install time, is remote's alone (0400)
	run stat -c '%U %a' "$QH/remote/tls"
	assert_output "qpostr 700"
	echo 'relay.example u p' > "$QH/control/smtpauth"
	make -C "$T/src" -s install >/dev/null
	run stat -c '%U %a' "$QH/control/smtpauth"
	assert_output "qpostr 400"
	# send's command channel directory: send's, reachable by everyone
	run stat -c '%U %a' "$QH/run/send"
	assert_output "qposts 755"
	# the MTA-STS policy cache: remote's alone
	run stat -c '%U %a' "$QH/mtasts"
	assert_output "qpostr 700"
	grep -q 'envuidgid qpostd tcpserver' "$S/smtpd/run"
	grep -q 'qpost-spawn -u qposts -r qpostr' "$S/send/run"
	# the control files are readable by an ordinary user
	setuidgid nobody cat "$QH/control/me" >/dev/null
}

@test "root install: smtpd runs as qpostd, send as qposts, delivery as the recipient" {
	start_svscan
	# a connection held open: its smtpd is a child of tcpserver
	spawn "$PY" -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.recv(512)
time.sleep(20)' "$PORT"
	tcp=$(svpid "$S/smtpd")
	wait_for 10 pgrep -P "$tcp" -x smtpd
	run ps -o user= -p "$(pgrep -P "$tcp" -x smtpd)"
	assert_output qpostd
	run ps -o user= -p "$tcp"
	assert_output qpostd
	# send: qpost-spawn (root) runs send as qposts
	spawnpid=$(svpid "$S/send")
	run ps -o user=,comm= --ppid "$spawnpid"
	assert_line --regexp '^qposts +send$'
	refute_line --regexp '^root +send$'
	run swaks --server "127.0.0.1:$PORT" --to rcpt@test.example \
	    --from a@remote.example --header "Subject: to rcpt"
	assert_success
	run swaks --server "127.0.0.1:$PORT" --to postmaster@test.example \
	    --from a@remote.example --header "Subject: to postmaster"
	assert_success
	wait_for 15 arrived "$R/Maildir/new"
	f=$(find "$R/Maildir/new" -type f)
	[ "$(owner "$f")" = nobody ]
	grep -q '^Subject: to rcpt$' "$f"
	wait_for 15 arrived "$QH/alias/Maildir/new"
	f=$(find "$QH/alias/Maildir/new" -type f)
	[ "$(owner "$f")" = qpalias ]
	wait_for 10 queue_empty
	# the command channel: send (qposts) listens; root is an admin, an
	# ordinary user may list (mailq) but not change anything
	run stat -c '%U %a' "$QH/run/send/ctl"
	assert_output "qposts 666"
	run "$QH/bin/qpost-tool" queue
	assert_success
	assert_output "queue is empty"
	run setuidgid nobody "$QH/bin/sendmail" -bp
	assert_success
	assert_output "queue is empty"
	run setuidgid nobody "$QH/bin/qpost-tool" retry --all
	assert_failure 100
	assert_output --partial "permission denied"
}

@test "root install: queued mail belongs to qpostq and other users cannot read it" {
	start_svscan
	svc -d "$S/send"
	wait_for 10 sh -c "svstat '$S/send' | grep -q ': down '"
	# an ordinary user submits through sendmail: queue is set-uid
	printf 'To: rcpt@test.example\nSubject: secret\n\nprivate words\n' |
	    setuidgid nobody "$QH/bin/sendmail" -t
	run swaks --server "127.0.0.1:$PORT" --to rcpt@test.example \
	    --from a@remote.example --body "network secret"
	assert_success
	run find "$QH/queue/new" -type f
	[ "${#lines[@]}" -eq 2 ]
	for f in "${lines[@]}"; do
		[ "$(owner "$f")" = qpostq ]
		[ "$(( 0$(stat -c %a "$f") & 7 ))" -eq 0 ]
		run setuidgid nobody cat "$f"
		assert_failure
	done
	run setuidgid nobody ls "$QH/queue/new"
	assert_failure
	run setuidgid nobody "$QH/bin/qpost-tool" qread
	assert_failure 111
	# root sees it; then send delivers both
	run "$QH/bin/qpost-tool" qstat
	assert_output --partial "messages in queue: 2"
	svc -u "$S/send"
	wait_for 15 queue_empty
	run grep -l 'private words' "$R"/Maildir/new/*
	assert_success
}

@test "root install: TLS and AUTH on the submission port; the key is qpostd's alone; tlsd and the checker run as qpostd" {
	T2=$T/certs
	mkdir "$T2"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	    -keyout "$QH/control/tlskey.pem" -out "$QH/control/tlscert.pem" \
	    -days 30 -subj /CN=test.example 2>/dev/null
	# a second make install sets owners and modes (INSTALL, section 7)
	make -C "$T/src" -s install >/dev/null
	[ "$(stat -c '%U %a' "$QH/control/tlskey.pem")" = "qpostd 400" ]
	[ "$(stat -c '%U:%G %a' "$QH/users/passwd.cdb")" = "root:qpostd 640" ]
	run setuidgid qpostq cat "$QH/control/tlskey.pem"
	assert_failure
	# a user added by root after the install stays readable by qpostd
	echo 's3cret pass' | "$QH/bin/qpost-tool" passwd add carol@test.example
	[ "$(stat -c '%U:%G %a' "$QH/users/passwd.cdb")" = "root:qpostd 640" ]
	SUB=$(cat "$QH/control/submissionport")
	start_svscan
	wait_port "$SUB"
	# a session held open inside TLS (smtplib reads whole replies: a
	# raw recv could take half the EHLO reply under load and then read
	# the rest as the STARTTLS reply)
	spawn "$PY" -c '
import smtplib, ssl, sys, time
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
s.ehlo("x")
c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE
s.starttls(context=c); s.ehlo("x")
time.sleep(20)' "$SUB"
	tcp=$(svpid "$S/submission")
	wait_for 10 pgrep -P "$tcp" -x tlsd
	tlsd=$(pgrep -P "$tcp" -x tlsd)
	run ps -o user= -p "$tlsd"
	assert_output qpostd
	wait_for 10 pgrep -P "$tlsd" -x smtpd
	run ps -o user= -p "$(pgrep -P "$tlsd" -x smtpd)"
	assert_output qpostd
	run swaks --server "127.0.0.1:$SUB" --tls --auth PLAIN \
	    --auth-user carol@test.example --auth-password 's3cret pass' \
	    --from carol@test.example --to rcpt@test.example --header "Subject: submitted"
	assert_success
	assert_output --partial '235 2.7.0'
	wait_for 15 arrived "$R/Maildir/new"
	f=$(find "$R/Maildir/new" -type f)
	grep -q '^Subject: submitted$' "$f"
	grep -q 'with ESMTPSA' "$f"
	[ "$(grep -ci '^message-id: <' "$f")" = 1 ]
	! grep -q 's3cret' "$S/submission/log/main/current"
}

# getfd PID - as the caller, try to take fd 3..63 of PID (pidfd_getfd)
getfd() {
	"$PY" -c '
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
pid = int(sys.argv[1])
try:
    p = os.pidfd_open(pid)
except OSError as e:
    print("pidfd_open", e.errno); sys.exit(1)
for fd in range(3, 64):
    r = libc.syscall(438, p, fd, 0)
    if r >= 0:
        print("took", fd); sys.exit(0)
    if ctypes.get_errno() != 9:
        print("errno", ctypes.get_errno()); sys.exit(1)
sys.exit(1)' "$1"
}

@test "root install: send qposts, remote qpostr; qposts cannot write bin/queue, qpostr cannot read the queue, qpostq cannot take send's spawn socket; a DKIM key is qpostr's alone" {
	mkdir -m 1777 "$T/rr"
	printf '%s\n' '#!/bin/sh' "id -un > '$T/rr/user'" \
	    "ls '$QH/queue/mess' > /dev/null 2>&1 && echo open > '$T/rr/queue'" \
	    "cat > '$T/rr/msg'" "printf 'rok\\0Kok\\0'" > "$T/remote"
	chmod 755 "$T/remote"
	mkdir -p "$S/send/env"
	echo "$T/remote" > "$S/send/env/QPOST_REMOTE"
	start_svscan
	run swaks --server "127.0.0.1:$PORT" --to far@remote.example \
	    --from a@test.example --header "Subject: to a peer"
	assert_success
	wait_for 15 queue_empty
	assert_equal "$(cat "$T/rr/user")" qpostr
	[ ! -e "$T/rr/queue" ]
	grep -q '^Subject: to a peer' "$T/rr/msg"
	# qposts: not the owner of bin/queue, nor in a group that may write it
	run setuidgid qposts sh -c "echo x >> '$QH/bin/queue'"
	assert_failure
	run setuidgid qposts chmod 4777 "$QH/bin/queue"
	assert_failure
	run setuidgid qpostr ls "$QH/queue/new"
	assert_failure
	run setuidgid qpostr cat "$QH/queue/lock/trigger"
	assert_failure
	# a DKIM key (docs/dkim.md) is qpostr's alone, and qpostr signs with it
	"$QH/bin/qpost-tool" dkimkey test.example r1 > "$T/r1.txt"
	k=$QH/control/dkim/test.example/r1.rsa
	assert_equal "$(stat -c '%U %a' "$k")" "qpostr 400"
	run setuidgid qpostd cat "$k"
	assert_failure
	printf 'From: a@test.example\nSubject: s\n\nx\n' |
	    setuidgid qpostr "$QH/bin/qpost-tool" dkimsign test.example r1 "$k" > "$T/signed"
	grep -q '^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=test.example; s=r1;' "$T/signed"
	# qpostq (bin/queue's owner) cannot take send's qpost-spawn socket
	sendpid=$(pgrep -P "$(svpid "$S/send")" -x send)
	run setuidgid qpostq sh -c "ls /proc/$sendpid/fd/"
	assert_failure
	# pidfd_getfd needs ptrace rights over send: another uid has none
	export PY
	run setuidgid qpostq bash -c "$(declare -f getfd); getfd $sendpid"
	refute_output --partial took
	assert_failure
}

@test "root install: ~/.qmail-EXT behind a root-only directory answers as a missing one (no existence oracle)" {
	mkdir -m 700 "$T/secret"
	echo x > "$T/secret/file"
	ln -s "$T/secret/file" "$R/.qmail-exists"
	ln -s "$T/secret/nofile" "$R/.qmail-missing"
	start_svscan
	for e in exists missing; do
		run swaks --server "127.0.0.1:$PORT" --to "rcpt-$e@test.example" \
		    --from a@remote.example --header "Subject: $e"
		assert_success
	done
	log=$S/send/log/main/current
	wait_for 20 grep -q 'msg [0-9A-Z.]* to [a-z]* <rcpt-exists@test.example>' "$log"
	wait_for 20 grep -Eq '(deferral|failure): msg [0-9A-Z.]* to [a-z]* <rcpt-missing@test.example>' "$log"
	wait_for 20 grep -Eq '(deferral|failure): msg [0-9A-Z.]* to [a-z]* <rcpt-exists@test.example>' "$log"
	a=$(grep -Eo '(deferral|failure): msg [0-9A-Z.]* to [a-z]* <rcpt-exists@[^>]*>' "$log" | head -n 1 | cut -d: -f1)
	b=$(grep -Eo '(deferral|failure): msg [0-9A-Z.]* to [a-z]* <rcpt-missing@[^>]*>' "$log" | head -n 1 | cut -d: -f1)
	assert_equal "$a" "$b"
	assert_equal "$a" deferral
	! grep -q '5\.1\.1.*rcpt-\|rcpt-.*5\.1\.1' "$log"
}

@test "root install: another MTA's /usr/sbin/sendmail, mailq and newaliases are left alone" {
	local owner before
	owner=$(dpkg -S /usr/sbin/sendmail 2>/dev/null) ||
	    skip "no package owns /usr/sbin/sendmail here (tests/debian.bats covers that case)"
	owner=${owner%%:*}
	before=$(ls -l /usr/sbin/sendmail /usr/bin/mailq /usr/bin/newaliases 2>&1
	    sha256sum /usr/sbin/sendmail)
	run make -C "$T/src" -s install
	assert_success
	assert_output --partial "/usr/sbin/sendmail belongs to the package $owner: left alone"
	assert_equal "$(ls -l /usr/sbin/sendmail /usr/bin/mailq /usr/bin/newaliases 2>&1
	    sha256sum /usr/sbin/sendmail)" "$before"
	run dpkg -S /usr/sbin/sendmail
	assert_output --partial "$owner"
	! update-alternatives --query sendmail 2>/dev/null |
	    grep -qx "Alternative: $QH/bin/sendmail"
}
