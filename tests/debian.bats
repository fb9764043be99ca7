#!/usr/bin/env bats
# Living on a Debian host: --help on every program, install-deps' package
# sets, sendmail/mailq/newaliases through update-alternatives (in a private
# alternatives directory), and qpost-control(5) documenting every control
# file the code reads.

load helper
bats_require_minimum_version 1.5.0

setup() { qpost_setup; }
teardown() { qpost_teardown; }

# The programs of the Makefile's PROGS, each with arguments that make it
# fail with its usage error (none where argv is ignored or optional).
PROGRAMS="smtpd queue send local remote inject sendmail newu qpost-spawn
    qpost-tool tlsd checkpw checkdovecot route"

# usage_error PROG - run PROG so that it dies of its usage error.
usage_error() {
	case $1 in
	send) run "$QPOST_SRC/send" extra ;;
	inject | sendmail) run "$QPOST_SRC/$1" -Z ;;
	checkpw) run "$QPOST_SRC/checkpw" 3<&- ;;	# no fd 3
	checkdovecot) run "$QPOST_SRC/checkdovecot" -s ;;
	*) run "$QPOST_SRC/$1" ;;
	esac
}

@test "every program answers --help with its usage on fd 1 and exit 0" {
	local p
	for p in $PROGRAMS; do
		run --separate-stderr "$QPOST_SRC/$p" --help < /dev/null
		[ "$status" = 0 ] || { echo "$p --help: exit $status"; return 1; }
		[ -z "$stderr" ] || { echo "$p --help wrote to fd 2: $stderr"; return 1; }
		[[ "$output" == "usage: $p"* ]] || { echo "$p --help: $output"; return 1; }
	done
}

@test "--help prints the same usage as the usage error" {
	local p help
	for p in $PROGRAMS; do
		case $p in smtpd | queue | newu) continue ;; esac
		help=$("$QPOST_SRC/$p" --help)
		usage_error "$p"
		[ "$status" != 0 ] || { echo "$p: no usage error"; return 1; }
		[[ "$output" == *"$help"* ]] ||
		    { echo "$p: '$output' lacks '$help'"; return 1; }
	done
}

@test "only an exact --help is help: --helpx is still an argument" {
	run "$QPOST_SRC/route" --helpx extra
	assert_failure 100
	assert_output --partial "usage: route"
}

@test "newu --help leaves users/assign.cdb alone" {
	printf '%s\n' '=joe:joe:1000:1000:/home/joe:::' . > "$QPOST_HOME/users/assign"
	run "$QPOST_SRC/newu" --help
	assert_success
	[ ! -e "$QPOST_HOME/users/assign.cdb" ]
	echo old > "$QPOST_HOME/users/assign.cdb"
	touch -d @1000000000 "$QPOST_HOME/users/assign.cdb"
	run "$QPOST_SRC/newu" --help
	assert_success
	assert_equal "$(cat "$QPOST_HOME/users/assign.cdb")" old
	assert_equal "$(stat -c %Y "$QPOST_HOME/users/assign.cdb")" 1000000000
	# and without --help newu does compile it
	run "$QPOST_SRC/newu"
	assert_success
	[ "$(stat -c %Y "$QPOST_HOME/users/assign.cdb")" != 1000000000 ]
}

@test "qpost-spawn --help runs nothing, not even a program called --help" {
	mkdir "$BATS_TEST_TMPDIR/path"
	printf '#!/bin/sh\ntouch "%s"\n' "$BATS_TEST_TMPDIR/ran" \
	    > "$BATS_TEST_TMPDIR/path/--help"
	chmod 755 "$BATS_TEST_TMPDIR/path/--help"
	PATH="$BATS_TEST_TMPDIR/path:$PATH" run "$QPOST_SRC/qpost-spawn" --help
	assert_success
	assert_output --partial "usage: qpost-spawn"
	[ ! -e "$BATS_TEST_TMPDIR/ran" ]
}

@test "tlsd --help and checkpw --help run no program either" {
	printf '#!/bin/sh\ntouch "%s"\n' "$BATS_TEST_TMPDIR/ran" \
	    > "$BATS_TEST_TMPDIR/prog"
	chmod 755 "$BATS_TEST_TMPDIR/prog"
	run "$QPOST_SRC/tlsd" --help "$BATS_TEST_TMPDIR/prog"
	assert_success
	run "$QPOST_SRC/checkpw" --help "$BATS_TEST_TMPDIR/prog" \
	    3< <(printf 'u\0p\0t\0')
	assert_success
	[ ! -e "$BATS_TEST_TMPDIR/ran" ]
}

@test "install-deps run: a server's packages, no test peers or tools" {
	run sh "$QPOST_SRC/scripts/install-deps" --print run
	assert_success
	local p
	for p in gcc make libc6-dev libcdb-dev tinycdb ucspi-tcp-ipv6 \
	    daemontools libssl-dev openssl libcrypt-dev ca-certificates; do
		assert_line "$p"
	done
	for p in postfix bats bats-assert dnsmasq-base runit s6 swaks \
	    python3-aiosmtpd clang dovecot-core git; do
		refute_line "$p"
	done
	run sh "$QPOST_SRC/scripts/install-deps" --print --runtime
	assert_success
	assert_equal "$output" "$(sh "$QPOST_SRC/scripts/install-deps" --print run)"
}

@test "install-deps with no set still installs all the old script did" {
	# The packages of the last single-list install-deps (before the sets).
	local old="gcc make libc6-dev libcdb-dev tinycdb ucspi-tcp-ipv6
	    daemontools bats bats-assert bats-support swaks python3
	    python3-aiosmtpd dnsmasq-base postfix bsd-mailx runit s6 man-db
	    procps iproute2 psmisc netbase ca-certificates libssl-dev openssl
	    libnet-ssleay-perl libcrypt-dev dovecot-core git git-email
	    libmailtools-perl libauthen-sasl-perl libio-socket-ssl-perl clang"
	local p
	run sh "$QPOST_SRC/scripts/install-deps" --print
	assert_success
	for p in $old; do
		assert_line "$p"
	done
	assert_equal "$output" "$(sh "$QPOST_SRC/scripts/install-deps" --print all)"
	# test is what make check needs: everything but clang
	run sh "$QPOST_SRC/scripts/install-deps" --print test
	assert_line postfix
	assert_line bats
	refute_line clang
	# each package once
	run sh -c "sh '$QPOST_SRC/scripts/install-deps' --print run test fuzz | sort | uniq -d"
	assert_output ""
}

@test "install-deps refuses an unknown set and --print installs nothing" {
	run sh "$QPOST_SRC/scripts/install-deps" --print production
	assert_failure 100
	assert_output --partial "unknown set production"
	# --print never reaches apt-get: a fake one on PATH would say so
	mkdir "$BATS_TEST_TMPDIR/path"
	printf '#!/bin/sh\ntouch "%s"\n' "$BATS_TEST_TMPDIR/apt" \
	    > "$BATS_TEST_TMPDIR/path/apt-get"
	chmod 755 "$BATS_TEST_TMPDIR/path/apt-get"
	PATH="$BATS_TEST_TMPDIR/path:$PATH" run sh \
	    "$QPOST_SRC/scripts/install-deps" --print all
	assert_success
	[ ! -e "$BATS_TEST_TMPDIR/apt" ]
}
