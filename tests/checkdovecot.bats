#!/usr/bin/env bats
# checkdovecot: SMTP AUTH passwords checked by a real Dovecot over its
# auth-client socket (checkpassword interface on fd 3), and by
# tests/dovecot-fake.py for the servers Dovecot itself will not play.

load helper
load dovecot-lib

setup() {
	qpost_setup
	C="$QPOST_HOME/bin/checkdovecot"
	[ -x "$C" ]
	dovecot_prepare
}

teardown() {
	qpost_teardown
	dovecot_teardown
}

# start_fake MODE - tests/dovecot-fake.py on $S, logging to $D/sent
start_fake() {
	S="$D/fake"
	spawn "$PY" "$QPOST_SRC/tests/dovecot-fake.py" "$S" "$1" "$D/sent"
	wait_for 10 test -S "$S"
}

# check USER PASS [ARG...] - checkdovecot with USER and PASS on fd 3
check() {
	local u=$1 p=$2
	shift 2
	"$C" "$@" 3< <(printf '%s\0%s\0%s\0' "$u" "$p" 1700000000)
}

@test "real Dovecot: right password 0, wrong password 1, unknown user 1" {
	start_dovecot
	run check alice@example.com secret -s "$S"
	assert_success
	assert_output ""
	run check alice@example.com wrong -s "$S"
	assert_equal "$status" 1
	assert_output ""
	run check nobody@example.com secret -s "$S"
	assert_equal "$status" 1
	run check bob "bob pw" -s "$S"
	assert_success
	run check bob "bob PW" -s "$S"
	assert_equal "$status" 1
}

@test "real Dovecot: the program after the options runs on success only" {
	start_dovecot
	run check alice@example.com secret -s "$S" sh -c 'echo ran'
	assert_success
	assert_output ran
	run check alice@example.com wrong -s "$S" sh -c 'echo ran'
	assert_equal "$status" 1
	refute_output --partial ran
}

@test "real Dovecot: the socket comes from control/dovecotauth without -s" {
	start_dovecot
	printf '%s\n' "$S" > "$QPOST_HOME/control/dovecotauth"
	run check alice@example.com secret
	assert_success
	run check alice@example.com wrong
	assert_equal "$status" 1
}

@test "real Dovecot: rip reaches it (its log names the client), the password does not" {
	start_dovecot
	TCPREMOTEIP=192.0.2.7 TCPLOCALIP=::1 SSL_PROTOCOL=TLSv1.3 \
	    run check alice@example.com secret -s "$S"
	assert_success
	TCPREMOTEIP=192.0.2.7 TCPLOCALIP=::1 \
	    run check alice@example.com wrong_pw -s "$S"
	assert_equal "$status" 1
	run cat "$D/dovecot.log"
	assert_output --partial "(alice@example.com,192.0.2.7)"
	refute_output --partial secret
	refute_output --partial wrong_pw
}

@test "Dovecot stopped: no socket is a temporary failure (111)" {
	start_dovecot
	kill "$DOVECOT_PID"
	wait "$DOVECOT_PID" || true
	wait_for 10 no_dovecot
	run check alice@example.com secret -s "$S"
	assert_equal "$status" 111
	assert_output --partial "checkdovecot: fatal: unable to connect to $S"
	refute_output --partial secret
	run check alice@example.com secret -s "$D/none"
	assert_equal "$status" 111
}

@test "a socket that never answers: 111 within control/timeoutdovecot" {
	start_fake silent
	echo 2 > "$QPOST_HOME/control/timeoutdovecot"
	start=$(date +%s)
	run check alice@example.com secret -s "$S"
	end=$(date +%s)
	assert_equal "$status" 111
	assert_output --partial "timed out"
	[ $((end - start)) -ge 1 ] && [ $((end - start)) -le 4 ]
}

@test "a socket that answers garbage, another protocol version or no PLAIN: 111" {
	for m in garbage version2 noplain; do
		start_fake "$m"
		run check alice@example.com secret -s "$S"
		echo "mode $m"
		assert_equal "$status" 111
		refute_output --partial secret
		kill "$LAST_PID"
		rm -f "$S"
	done
}

@test "the request: PLAIN with base64 of NUL user NUL password, params" {
	start_fake ok
	# every password has a "_", which neither base64 nor the rest of
	# the conversation can hold: a match would be the password in clear
	for p in _ _a _ab _abc "pass _word" '_é!$"'; do
		: > "$D/sent"
		TCPREMOTEIP=192.0.2.7 TCPLOCALIP=192.0.2.1 \
		    run check alice@example.com "$p" -s "$S"
		assert_success
		run "$PY" -c '
import base64, os, sys
d = open(sys.argv[1], "rb").read()
lines = d.split(b"\n")
assert lines[0] == b"VERSION\t1\t2", lines
assert lines[1].startswith(b"CPID\t") and lines[1][5:].isdigit(), lines
f = lines[2].split(b"\t")
assert f[:4] == [b"AUTH", b"1", b"PLAIN", b"service=smtp"], f
assert b"rip=192.0.2.7" in f and b"lip=192.0.2.1" in f, f
assert b"secured" not in f, f
assert f[-1].startswith(b"resp="), f
got = base64.b64decode(f[-1][5:], validate=True)
assert got == b"\0alice@example.com\0" + os.fsencode(sys.argv[2]), got
' "$D/sent" "$p"
		assert_success
		run grep -c -F "$p" "$D/sent"
		assert_output 0
	done
	: > "$D/sent"
	SSL_PROTOCOL=TLSv1.3 TCPREMOTEIP='1.2.3.4	x' TCPLOCALIP=999.1.1.1 \
	    run check alice@example.com secret -s "$S"
	assert_success
	run cat "$D/sent"
	assert_output --partial "$(printf 'service=smtp\tsecured\tresp=')"
}

@test "FAIL with temp is 111 with Dovecot's reason; CONT is 1; a foreign id is 111" {
	start_fake tempfail
	run check alice@example.com secret -s "$S"
	assert_equal "$status" 111
	assert_output "checkdovecot: fatal: temporary failure from Dovecot: database down"
	kill "$LAST_PID"; rm -f "$S"
	start_fake cont
	run check alice@example.com secret -s "$S"
	assert_equal "$status" 1
	kill "$LAST_PID"; rm -f "$S"
	start_fake badid
	run check alice@example.com secret -s "$S"
	assert_equal "$status" 111
}

@test "TAB, CR or LF in name or password, bad input on fd 3: 1 before anything is sent" {
	start_fake ok
	: > "$D/sent"
	run check "$(printf 'a\tb')" secret -s "$S"
	assert_equal "$status" 1
	run check alice "$(printf 'x\ny')" -s "$S"
	assert_equal "$status" 1
	run check alice "$(printf 'x\ry')" -s "$S"
	assert_equal "$status" 1
	run "$C" -s "$S" 3< <(printf 'alice\0')
	assert_equal "$status" 1
	run "$C" -s "$S" 3< <(head -c 5000 /dev/zero | tr '\0' a)
	assert_equal "$status" 1
	[ ! -s "$D/sent" ]
	run "$C" -s
	assert_equal "$status" 2
	run "$C" -s "$S" 3<&-
	assert_equal "$status" 2
}
