#!/usr/bin/env bats
# checkpw and qpost-tool passwd: the password file users/passwd, its cdb,
# and the checkpassword interface on fd 3.

load helper

setup() {
	qpost_setup
	T="$QPOST_HOME/bin/qpost-tool"
	C="$QPOST_HOME/bin/checkpw"
	[ -x "$T" ] && [ -x "$C" ]
}
teardown() { qpost_teardown; }

# check USER PASS [PROG...] - checkpw with USER and PASS on fd 3
check() {
	local u=$1 p=$2
	shift 2
	"$C" "$@" 3< <(printf '%s\0%s\0%s\0' "$u" "$p" 1700000000)
}

# pyhash METHOD PASS - a crypt(3) hash made by Python's crypt module
pyhash() {
	"$PY" -W ignore -c 'import crypt, sys; print(crypt.crypt(sys.argv[2], crypt.mksalt(getattr(crypt, sys.argv[1]))))' "$1" "$2"
}

@test "passwd add stores a yescrypt hash, mode 0640; checkpw says yes, no, no" {
	run "$T" passwd add alice@example.com <<< "s3cret pw"
	assert_success
	assert_output "added alice@example.com; users/passwd.cdb: 1 user"
	run cat "$QPOST_HOME/users/passwd"
	assert_output --regexp '^alice@example\.com:\$y\$[./0-9A-Za-z]+\$[./0-9A-Za-z]+\$[./0-9A-Za-z]+$'
	refute_output --partial s3cret
	[ "$(stat -c %a "$QPOST_HOME/users/passwd")" = 640 ]
	[ "$(stat -c %a "$QPOST_HOME/users/passwd.cdb")" = 640 ]
	run check alice@example.com "s3cret pw"
	assert_success
	assert_output ""
	run check alice@example.com "s3cret PW"
	assert_equal "$status" 1
	assert_output ""
	run check bob@example.com "s3cret pw"
	assert_equal "$status" 1
	assert_output ""
}

@test "the name is exact; only the domain after the last @ is case-blind" {
	printf 'Pw1\r\n' | "$T" passwd add Alice@x@Example.COM
	run check Alice@x@example.com Pw1
	assert_success
	run check Alice@x@EXAMPLE.com Pw1
	assert_success
	run check alice@x@example.com Pw1
	assert_equal "$status" 1
	run check Alice@X@example.com Pw1
	assert_equal "$status" 1
	run "$T" passwd add Alice@x@example.com <<< other
	assert_equal "$status" 100
	assert_output "qpost-tool: fatal: user Alice@x@example.com exists already"
}

@test "on success checkpw runs the rest of its argv, and only then" {
	"$T" passwd add carol <<< pw
	run check carol pw sh -c 'echo ran'
	assert_success
	assert_output ran
	run check carol nope sh -c 'echo ran'
	assert_equal "$status" 1
	assert_output ""
	run check dave pw sh -c 'echo ran'
	assert_equal "$status" 1
	assert_output ""
	run check carol pw /nonexistent/prog
	assert_equal "$status" 111
	assert_output --partial "checkpw: fatal: unable to run /nonexistent/prog"
}

@test "passwd change, remove and list; failures exit 100 and change nothing" {
	"$T" passwd add a1 <<< one
	"$T" passwd add b2 <<< two
	run "$T" passwd list
	assert_success
	assert_output "a1
b2"
	run "$T" passwd change a1 <<< uno
	assert_success
	run check a1 one
	assert_equal "$status" 1
	run check a1 uno
	assert_success
	before=$(cat "$QPOST_HOME/users/passwd")
	run "$T" passwd change nobody <<< x
	assert_equal "$status" 100
	assert_output "qpost-tool: fatal: no such user: nobody"
	run "$T" passwd remove nobody
	assert_equal "$status" 100
	run "$T" passwd add b2 <<< x
	assert_equal "$status" 100
	[ "$before" = "$(cat "$QPOST_HOME/users/passwd")" ]
	run "$T" passwd remove a1
	assert_success
	run "$T" passwd list
	assert_output b2
	run check a1 uno
	assert_equal "$status" 1
	run check b2 two
	assert_success
}

@test "passwd refuses bad names, empty and NUL passwords; no password in argv" {
	for n in 'a:b' 'a b' "$(printf 'a\tb')" "$(printf 'a\001b')" \
	    "$(head -c 256 /dev/zero | tr '\0' x)"; do
		run "$T" passwd add "$n" <<< pw
		assert_equal "$status" 100
		assert_output --partial "bad name"
	done
	run "$T" passwd add ''  <<< pw
	assert_equal "$status" 100
	run "$T" passwd add ok < /dev/null
	assert_equal "$status" 100
	run "$T" passwd add ok <<< ''
	assert_equal "$status" 100
	run sh -c 'printf "a\0b\n" | "$1" passwd add ok' - "$T"
	assert_equal "$status" 100
	run "$T" passwd add ok extra-arg <<< pw
	assert_equal "$status" 100
	assert_output --partial usage
	[ ! -e "$QPOST_HOME/users/passwd" ] || ! grep -q '^ok:' "$QPOST_HOME/users/passwd"
	n=$(head -c 255 /dev/zero | tr '\0' x)
	run "$T" passwd add "$n" <<< pw
	assert_success
}

@test "on a terminal passwd asks twice without echo" {
	run "$PY" - "$T" <<-'PY'
	import os, pty, signal, sys
	signal.alarm(10)
	pid, fd = pty.fork()
	if pid == 0:
	    os.execv(sys.argv[1], [sys.argv[1], "passwd", "add", "tty"])
	out = b""
	def expect(s):
	    global out
	    while s not in out:
	        d = os.read(fd, 1024)
	        if not d:
	            raise SystemExit("EOF before %r in %r" % (s, out))
	        out += d
	expect(b"Password: ")
	os.write(fd, b"ttypw_1\n")
	expect(b"Again: ")
	os.write(fd, b"ttypw_1\n")
	try:
	    while os.read(fd, 1024):
	        pass
	except OSError:
	    pass
	_, st = os.waitpid(pid, 0)
	assert b"ttypw_1" not in out, out
	print(os.waitstatus_to_exitcode(st))
	PY
	assert_success
	assert_output 0
	run check tty ttypw_1
	assert_success
}

@test "hand-written bcrypt and sha512-crypt hashes are read after passwd compile" {
	b=$(pyhash METHOD_BLOWFISH "blow fish")
	s=$(pyhash METHOD_SHA512 sha-pw)
	[[ $b == '$2b$'* ]] && [[ $s == '$6$'* ]]
	{
		echo '# hand-edited'
		echo "bfuser:$b"
		echo
		echo "shauser@Example.ORG:$s  "
	} > "$QPOST_HOME/users/passwd"
	run "$T" passwd compile
	assert_success
	assert_output "users/passwd.cdb: 2 users"
	run check bfuser "blow fish"
	assert_success
	run check bfuser "blow fisH"
	assert_equal "$status" 1
	run check shauser@example.org sha-pw
	assert_success
	run check shauser@example.org sha-Pw
	assert_equal "$status" 1
	# passwd keeps comments and the other lines when it rewrites
	"$T" passwd add new <<< newpw
	run cat "$QPOST_HOME/users/passwd"
	assert_line '# hand-edited'
	assert_line "bfuser:$b"
	run check bfuser "blow fish"
	assert_success
}

@test "locked accounts (*, !..., empty hash) are refused" {
	"$T" passwd add open <<< pw
	h=$(sed -n 's/^open://p' "$QPOST_HOME/users/passwd")
	printf '%s\n' "star:*" "bang:!$h" "empty:" "open:$h" > "$QPOST_HOME/users/passwd"
	"$T" passwd compile
	for u in star bang empty; do
		run check "$u" pw
		assert_equal "$status" 1
	done
	run check open pw
	assert_success
}

@test "passwd compile refuses malformed lines and duplicates, keeping the old cdb" {
	"$T" passwd add x <<< pw
	cp "$QPOST_HOME/users/passwd.cdb" "$BATS_TEST_TMPDIR/old.cdb"
	printf 'x:%s\nno colon here\n' "$(sed -n 's/^x://p' "$QPOST_HOME/users/passwd")" \
	    > "$QPOST_HOME/users/passwd"
	run "$T" passwd compile
	assert_equal "$status" 100
	assert_output --partial "users/passwd line 2"
	printf 'y@a.example:*\ny@A.example:*\n' > "$QPOST_HOME/users/passwd"
	run "$T" passwd compile
	assert_equal "$status" 100
	assert_output --partial "line 2: the name is there twice"
	cmp "$QPOST_HOME/users/passwd.cdb" "$BATS_TEST_TMPDIR/old.cdb"
	[ ! -e "$QPOST_HOME/users/passwd.cdb.tmp" ]
	run check x pw
	assert_success
}

@test "no cdb: 111 with a log line; bad input on fd 3: 1 or 2; no password in any log" {
	run check alice topsecret_1
	assert_equal "$status" 111
	assert_output --regexp '^checkpw: fatal: unable to open .*/users/passwd\.cdb: No such file or directory$'
	"$T" passwd add alice <<< topsecret_1
	run "$C" 3< <(head -c 5000 /dev/zero | tr '\0' a)
	assert_equal "$status" 1
	run "$C" 3< <(printf 'alice\0'; head -c 2000 /dev/zero | tr '\0' a; printf '\0\0')
	assert_equal "$status" 1
	run "$C" 3< <(printf 'alice\0topsecret_1')
	assert_equal "$status" 1
	run "$C" 3< <(printf 'alice\0\0')
	assert_equal "$status" 1
	run "$C" 3< /dev/null
	assert_equal "$status" 1
	run "$C" 3<&-
	assert_equal "$status" 2
	run check alice topsecret_1
	assert_success
	# exactly CHECKPASS_MAX (1024) bytes still counts
	p=$(head -c 1010 /dev/zero | tr '\0' p)
	"$T" passwd change alice <<< "$(head -c 500 /dev/zero | tr '\0' p)"
	run "$C" 3< <(printf 'alice\0%s\0%s\0' "$(head -c 500 /dev/zero | tr '\0' p)" \
	    "$(head -c 516 /dev/zero | tr '\0' 1)")
	assert_success
	run "$C" 3< <(printf 'alice\0%s\0%s\0' "$(head -c 500 /dev/zero | tr '\0' p)" \
	    "$(head -c 517 /dev/zero | tr '\0' 1)")
	assert_equal "$status" 1
	# unreadable cdb: temporary, and the password is not in the line
	echo garbage > "$QPOST_HOME/users/passwd.cdb"
	run check alice topsecret_1
	assert_equal "$status" 111
	refute_output --partial topsecret
}

@test "a writer that never closes fd 3 gets 111 after the deadline, not a hang" {
	"$T" passwd add alice <<< pw
	mkfifo "$BATS_TEST_TMPDIR/f"
	spawn sh -c 'exec sleep 30 > "$1"' - "$BATS_TEST_TMPDIR/f"
	start=$(date +%s)
	run timeout 20 "$C" 3< "$BATS_TEST_TMPDIR/f"
	end=$(date +%s)
	assert_equal "$status" 111
	assert_output --partial "unable to read fd 3"
	[ $((end - start)) -ge 9 ] && [ $((end - start)) -le 15 ]
}
