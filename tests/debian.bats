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
    qpost-tool tlsd checkpw checkdovecot route authcheck"

# usage_error PROG - run PROG so that it dies of its usage error.
usage_error() {
	case $1 in
	send) run "$QPOST_SRC/send" extra ;;
	inject | sendmail) run "$QPOST_SRC/$1" -Z ;;
	checkpw) run "$QPOST_SRC/checkpw" 3<&- ;;	# no fd 3
	checkdovecot) run "$QPOST_SRC/checkdovecot" -s ;;
	authcheck) run "$QPOST_SRC/authcheck" --bogus ;;
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

# A private system for update-alternatives and dpkg: $R, with a qpost home
# installed at /qh inside it.  The real /usr/sbin/sendmail is never touched.
alt_root() {
	R=$BATS_TEST_TMPDIR/root
	mkdir -p "$R/usr/sbin" "$R/usr/bin" "$R/etc/alternatives" \
	    "$R/var/lib/dpkg/alternatives" "$R/var/log"
	sh "$QPOST_SRC/scripts/install-home" "$R/qh" >/dev/null
}

# in_root PATH - follow PATH's links inside $R; print the final path in $R.
in_root() {
	local p=$1 n=0
	while [ -L "$R$p" ] && [ $n -lt 10 ]; do
		p=$(readlink "$R$p")
		n=$((n + 1))
	done
	echo "$R$p"
}

@test "install-sendmail offers sendmail, mailq, newaliases and the man pages as alternatives" {
	command -v update-alternatives >/dev/null || skip "no update-alternatives"
	alt_root
	run sh "$QPOST_SRC/scripts/install-sendmail" --root "$R" /qh
	assert_success
	run update-alternatives --root "$R" --query sendmail
	assert_success
	assert_line "Value: /qh/bin/sendmail"
	assert_line "Priority: 25"
	local l
	for l in /usr/sbin/sendmail /usr/bin/mailq /usr/bin/newaliases \
	    /usr/lib/sendmail; do
		assert_equal "$(in_root "$l")" "$R/qh/bin/sendmail"
	done
	for l in sendmail mailq newaliases; do
		assert_equal "$(in_root "/usr/share/man/man8/$l.8")" \
		    "$R/qh/man/man8/sendmail.8"
	done
	# man finds the page through the link and formats it cleanly
	run man -l "$(in_root /usr/share/man/man8/mailq.8)"
	assert_success
	assert_output --partial mailq
	# twice is the same; --remove takes it out, links and all
	run sh "$QPOST_SRC/scripts/install-sendmail" --root "$R" /qh
	assert_success
	run sh "$QPOST_SRC/scripts/install-sendmail" --root "$R" --remove /qh
	assert_success
	[ ! -e "$R/usr/sbin/sendmail" ] && [ ! -L "$R/usr/sbin/sendmail" ]
	[ ! -L "$R/usr/bin/mailq" ] && [ ! -L "$R/usr/share/man/man8/sendmail.8" ]
	run sh "$QPOST_SRC/scripts/install-sendmail" --root "$R" --remove /qh
	assert_success
}

@test "install-sendmail leaves another MTA's /usr/sbin/sendmail alone" {
	command -v update-alternatives >/dev/null || skip "no update-alternatives"
	alt_root
	# a package owns it: dpkg -S says so (a stand-in dpkg for the root)
	echo postfix-binary > "$R/usr/sbin/sendmail"
	mkdir "$BATS_TEST_TMPDIR/path"
	printf '#!/bin/sh\necho "postfix: /usr/sbin/sendmail"\n' \
	    > "$BATS_TEST_TMPDIR/path/dpkg"
	chmod 755 "$BATS_TEST_TMPDIR/path/dpkg"
	PATH="$BATS_TEST_TMPDIR/path:$PATH" run --separate-stderr sh \
	    "$QPOST_SRC/scripts/install-sendmail" --root "$R" /qh
	assert_success
	[[ "$stderr" == *"belongs to the package postfix: left alone"* ]]
	assert_equal "$(cat "$R/usr/sbin/sendmail")" postfix-binary
	[ ! -e "$R/var/lib/dpkg/alternatives/sendmail" ]
	# a file no package owns, or a link elsewhere: left alone too
	run --separate-stderr sh "$QPOST_SRC/scripts/install-sendmail" \
	    --root "$R" /qh
	assert_success
	[[ "$stderr" == *"a file no package owns: left alone"* ]]
	assert_equal "$(cat "$R/usr/sbin/sendmail")" postfix-binary
	rm "$R/usr/sbin/sendmail"
	ln -s /usr/sbin/exim4 "$R/usr/sbin/sendmail"
	run --separate-stderr sh "$QPOST_SRC/scripts/install-sendmail" \
	    --root "$R" /qh
	assert_success
	[[ "$stderr" == *"link to /usr/sbin/exim4: left alone"* ]]
	assert_equal "$(readlink "$R/usr/sbin/sendmail")" /usr/sbin/exim4
	[ ! -e "$R/var/lib/dpkg/alternatives/sendmail" ]
	# the old INSTALL's ln -s into the home is taken over
	ln -sf /qh/bin/sendmail "$R/usr/sbin/sendmail"
	run sh "$QPOST_SRC/scripts/install-sendmail" --root "$R" /qh
	assert_success
	assert_equal "$(readlink "$R/usr/sbin/sendmail")" /etc/alternatives/sendmail
}

@test "install-home installs the man pages, qpost-control(5) among them" {
	[ -f "$QPOST_HOME/man/man5/qpost-control.5" ]
	[ -f "$QPOST_HOME/man/man8/sendmail.8" ]
	MANPATH="$QPOST_HOME/man" run man -w qpost-control
	assert_success
	assert_output "$QPOST_HOME/man/man5/qpost-control.5"
}

# control_names - every control file name the code reads, one a line: the
# names given to the control module and to the programs' wrappers around
# it, "control/NAME" paths, the tables of control.c (control_nums) and
# qpost-tool.c (showctl's ctls), and the run scripts' "ctl NAME".
control_names() {
	(
		cd "$QPOST_SRC"
		grep -ohE '(control_(readline|readlist|readfile|number)|ctl_(str|ulong|number|seconds)|readcontrol)\([^")]*"[a-z0-9.]+"' *.c |
		    sed -E 's/.*"([^"]+)"$/\1/'
		grep -ohE '"control/[a-z0-9.]+[/"]' *.c |
		    sed -E 's|"control/||; s|[/"]$||'
		grep -ohE '^\s*\{ "[a-z0-9.]+", ([0-9]|K_|-1)' control.c qpost-tool.c |
		    sed -E 's/.*\{ "([^"]+)".*/\1/'
		cat "$QPOST_HOME"/service/*/run | grep -oE '\bctl [a-z0-9.]+' |
		    cut -d' ' -f2
	) | sort -u
}

@test "qpost-control(5) documents every control file the code reads" {
	local names n missing=
	names=$(control_names)
	# the extraction itself works: a few of each source are found
	for n in me rcpthosts timeoutsmtpd senderlogins trustedgroups \
	    tlscert.pem tlssni concurrencyincoming smtpsport submissionaddr \
	    checkpassword rules.cdb; do
		grep -qx "$n" <<< "$names" || { echo "not extracted: $n"; return 1; }
	done
	for n in $names; do
		grep -qE "^\.B[RI]? (.* )?\"?${n//./\\.}([\" /]|$)" \
		    "$QPOST_SRC/man/qpost-control.5" || missing="$missing $n"
	done
	[ -z "$missing" ] || { echo "undocumented in qpost-control.5:$missing"; return 1; }
}

@test "qpost-control(5) formats without warnings" {
	run --separate-stderr man --warnings -l "$QPOST_SRC/man/qpost-control.5"
	assert_success
	assert_equal "$stderr" ""
	assert_output --partial "qpost-control - the control files"
	run groff -ww -z -man "$QPOST_SRC/man/qpost-control.5"
	assert_success
	assert_output ""
}
