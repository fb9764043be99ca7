#!/usr/bin/env bats
# route: recip.c's routing decision as bin/route prints it (local's
# fields, NUL-separated, shown here with '|'): control/locals and
# control/virtualdomains decide local or remote, then users/assign.cdb
# (newu), the system accounts and the alias user name the recipient;
# postmaster@me is always local.  route loads the tables at each run;
# that the long-running reader (send) sees a changed control/locals and
# users/assign.cdb is the last test.

load helper
load local-lib

setup() {
	local_setup
	[ -x "$QPOST_HOME/bin/route" ] || skip "route not built"
	T=$BATS_TEST_TMPDIR
	AU=$(stat -c %u "$QPOST_HOME/alias")
	AG=$(stat -c %g "$QPOST_HOME/alias")
}

teardown() { local_teardown; }

# fields ADDRESS - route's stdout with '|' for NUL; route's exit code
fields() {
	local rc=0
	"$QPOST_HOME/bin/route" "$1" > "$T/route.out" 2> "$T/route.err" ||
	    rc=$?
	tr '\0' '|' < "$T/route.out"
	return "$rc"
}

@test "route: control/locals; users/assign = and + lines (newu), case folded" {
	run fields JOE@Test.Example
	assert_success
	assert_output "joe|$RUID|$RGID|$U/joe|joe|||test.example|"
	echo ./Maildir/ | dotqmail bob list
	run fields Bob-List@localhost
	assert_success
	assert_output "bob|$RUID|$RGID|$U/bob|bob-list|-|list|localhost|"
	# a + line whose extension field is a prefix of ext
	mkdir -p "$U/carol"
	echo ./Maildir/ > "$U/carol/.qmail-lst-news"
	sed -i '$d' "$QPOST_HOME/users/assign"
	printf '+list-:carol:1003:1004:%s:-:lst-:\n' "$U/carol" \
	    >> "$QPOST_HOME/users/assign"
	finish_assign
	run fields list-news@test.example
	assert_success
	assert_output "carol|1003|1004|$U/carol|list-news|-|lst-news|test.example|"
	# a dash user without a .qmail for the extension: nobody
	run fields list-other@test.example
	assert_failure 100
	assert_output ""
	run cat "$T/route.err"
	assert_output --partial "no mailbox here by that name. (#5.1.1)"
}

@test "route: virtualdomains: exact, .suffix, an empty prefix, the empty domain" {
	echo ./Maildir/ | dotqmail joe default
	printf '%s\n' virt.example:joe .sub.example:joe skip.sub.example: \
	    > "$QPOST_HOME/control/virtualdomains"
	run fields Anna@Virt.Example
	assert_success
	assert_output "joe|$RUID|$RGID|$U/joe|joe-anna|-|anna|virt.example|"
	run fields x@a.b.sub.example
	assert_success
	assert_output "joe|$RUID|$RGID|$U/joe|joe-x|-|x|a.b.sub.example|"
	# the exact entry is tried first; its empty prefix: not ours
	run fields x@skip.sub.example
	assert_failure 1
	assert_output ""
	# ".sub.example" is for subdomains only
	run fields x@sub.example
	assert_failure 1
	# an empty domain maps every other domain
	echo :joe >> "$QPOST_HOME/control/virtualdomains"
	run fields y@anywhere.example
	assert_success
	assert_output "joe|$RUID|$RGID|$U/joe|joe-y|-|y|anywhere.example|"
	run fields x@skip.sub.example
	assert_failure 1
	# control/locals comes before virtualdomains
	run fields joe@test.example
	assert_output "joe|$RUID|$RGID|$U/joe|joe|||test.example|"
}

@test "route: an address without a domain is local; a remote one prints nothing" {
	run fields joe
	assert_success
	assert_output "joe|$RUID|$RGID|$U/joe|joe||||"
	run fields joe@remote.example
	assert_failure 1
	assert_output ""
	run cat "$T/route.err"
	assert_output "route: fatal: joe@remote.example is not a local address"
}

@test "route: the alias user: its .qmail files decide; root is never a system account" {
	run fields Root@test.example
	assert_success
	assert_output "alias|$AU|$AG|$QPOST_HOME/alias|root|-|root|test.example|"
	run fields nosuch@test.example
	assert_failure 100
	echo ./Maildir/ > "$QPOST_HOME/alias/.qmail-default"
	run fields nosuch@test.example
	assert_success
	assert_output "alias|$AU|$AG|$QPOST_HOME/alias|nosuch|-|nosuch|test.example|"
}

@test "route: postmaster@me is local when me is not in control/locals" {
	echo host.example > "$QPOST_HOME/control/me"
	run fields Postmaster@HOST.example
	assert_success
	assert_output "alias|$AU|$AG|$QPOST_HOME/alias|postmaster|-|postmaster|host.example|"
	run fields joe@host.example
	assert_failure 1
	# and a virtualdomains entry with an empty prefix does not hide it
	echo host.example: > "$QPOST_HOME/control/virtualdomains"
	run fields postmaster@host.example
	assert_success
}

@test "route: a system account with a home it owns (needs root and useradd)" {
	[ "$(id -u)" = 0 ] || skip "needs root to create a user"
	command -v useradd > /dev/null || skip "no useradd"
	N=qpr$$
	B=$(mktemp -d /tmp/qpost-home.XXXXXX)
	echo "$N $B" > "$T/sysuser"
	useradd -M -d "$B/$N" -s /bin/sh "$N"
	mkdir -m 700 "$B/$N"
	# a home it does not own: not a recipient, so the alias user's
	run fields "$N@test.example"
	assert_failure 100
	chown "$N:" "$B/$N"
	run fields "$(echo "$N" | tr a-z A-Z)@test.example"
	assert_success
	assert_output "$N|$(id -u "$N")|$(id -g "$N")|$B/$N|$N|||test.example|"
	echo ./Maildir/ > "$B/$N/.qmail-ext"
	run fields "$N-ext@test.example"
	assert_success
	assert_output "$N|$(id -u "$N")|$(id -g "$N")|$B/$N|$N-ext|-|ext|test.example|"
}

@test "route: a users/assign.cdb value whose uid does not fit is a temporary failure, never uid 0" {
	# written without newu, which refuses such a line
	"$PY" -c '
import sys
recs = [(b"!big\0", b"big\0004294967296\0001\0/h\0\0\0"),
        (b"!neg\0", b"neg\0-1\0001\0/h\0\0\0"),
        (b"!rel\0", b"rel\0001\0001\0h\0\0\0"),
        (b"!ok\0", b"ok\0004294967294\0001\0/h\0\0\0")]
out = b"".join(b"+%d,%d:%s->%s\n" % (len(k), len(v), k, v) for k, v in recs)
sys.stdout.buffer.write(out + b"\n")
' | cdb -c "$QPOST_HOME/users/assign.cdb"
	for a in big neg rel; do
		run fields "$a@test.example"
		assert_failure 111
		assert_output ""
	done
	run fields ok@test.example
	assert_success
	assert_output "ok|4294967294|1|/h|ok|||test.example|"
}

@test "route+send: send sees a changed users/assign.cdb and control/locals without a restart" {
	[ -x "$QPOST_HOME/bin/send" ] || skip "send not built"
	printf '%s\n' '#!/bin/sh' "cat > '$T/bounce.msg'" \
	    "cat <&1 > '$T/bounce.env.tmp'" \
	    "mv '$T/bounce.env.tmp' '$T/bounce.env'" > "$T/qstub"
	chmod +x "$T/qstub"
	export QPOST_QUEUE=$T/qstub
	spawn "$QPOST_HOME/bin/send" 2>> "$T/send.log"
	enqueue s@x.example newbie@test.example < "$MSG"
	wait_for 20 test -e "$T/bounce.env"
	grep -q 'newbie@test.example' "$T/bounce.msg"
	# newbie gets an account: the next message is delivered
	mkuser newbie
	sed -i '/^\.$/d' "$QPOST_HOME/users/assign"
	finish_assign
	sleep 1.1	# send looks at the files at most once a second
	enqueue s@x.example newbie@test.example < "$MSG"
	wait_for 20 one "$U/newbie/Maildir"
	# a domain added to control/locals is local at once
	echo new.example >> "$QPOST_HOME/control/locals"
	sleep 1.1
	enqueue s@x.example joe@new.example < "$MSG"
	wait_for 20 one "$U/joe/Maildir"
	grep -q '^Delivered-To: joe@new.example$' "$(one "$U/joe/Maildir")"
	grep -q 'routing tables changed: reloaded' "$T/send.log"
	run grep -E 'to remote <' "$T/send.log"
	assert_failure
}
