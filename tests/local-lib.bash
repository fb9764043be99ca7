# Helpers shared by tests/local*.bats: a home with users joe and bob in
# users/assign (compiled by newu), each with a Maildir under $U.  Load
# after helper.bash; call local_setup / local_teardown.
#
# Run as root (CI), local becomes the recipient: the test users then get
# nobody's uid and homes nobody owns, so every delivery really crosses the
# uid change.  Run as anybody else, the uid fields are unused.

local_setup() {
	qpost_setup
	L=$QPOST_HOME/bin/local
	U=$BATS_TEST_TMPDIR/u
	mkdir -p "$U"
	if [ "$(id -u)" = 0 ]; then
		# let nobody traverse to the test's home (bats makes 0700)
		chmod o+x "$BATS_RUN_TMPDIR"
		RUID=$(id -u nobody)
		RGID=$(id -g nobody)
		chown -R "$RUID:$RGID" "$QPOST_HOME/alias"
		# sanitizer reports of a local that became nobody
		[ -z "${QPOST_SANITIZE:-}" ] || chmod 1777 "$BATS_TEST_TMPDIR/san"
	else
		RUID=$(id -u)
		RGID=$(id -g)
	fi
	: > "$QPOST_HOME/users/assign"
	mkuser joe
	mkuser bob
	finish_assign
	MSG=$BATS_TEST_TMPDIR/msg
	printf 'From: a@b.example\nSubject: hi\n\nbody line\nFrom me\n>From x\nlast\n' > "$MSG"
}

local_teardown() {
	local n b pid
	# processes a test's |program wrote down (issue 17's timeout tests):
	# started by this test, ended here should the code under test not
	if [ -f "$BATS_TEST_TMPDIR/prog.pids" ]; then
		while read -r pid; do
			kill -9 "$pid" 2>/dev/null || true
		done < "$BATS_TEST_TMPDIR/prog.pids"
	fi
	if [ -f "$BATS_TEST_TMPDIR/mounted" ]; then
		umount "$(cat "$BATS_TEST_TMPDIR/mounted")" || true
	fi
	if [ -f "$BATS_TEST_TMPDIR/sysuser" ]; then
		read -r n b < "$BATS_TEST_TMPDIR/sysuser"
		userdel "$n" || true
		rm -rf "$b"
	fi
	qpost_teardown
}

# sysuser PREFIX - names a system account to be made, N (PREFIX and the
# pid) with its home B/N under a new B, written down for local_teardown's
# userdel (the caller checks for root and useradd)
sysuser() {
	N=$1$$
	B=$(mktemp -d /tmp/qpost-home.XXXXXX)
	chmod 755 "$B"
	echo "$N $B" > "$BATS_TEST_TMPDIR/sysuser"
}

# joe_got SENDER - joe's Maildir holds one message, the bytes local
# writes for $MSG from SENDER (its path in f), and tmp/ is empty
joe_got() {
	f=$(one "$U/joe/Maildir")
	{ printf 'Return-Path: <%s>\nDelivered-To: joe@test.example\n' "$1"
	  cat "$MSG"; } | cmp - "$f"
	[ "$(count "$U/joe/Maildir/tmp")" = 0 ]
}

# mkuser NAME - a home under $U with a Maildir, and users/assign lines:
# NAME exactly and NAME-anything (dash "-", the rest as extension)
mkuser() {
	local h=$U/$1
	mkdir -p "$h/Maildir/tmp" "$h/Maildir/new" "$h/Maildir/cur"
	[ "$(id -u)" = 0 ] && chown -R "$RUID:$RGID" "$h"
	printf '=%s:%s:%s:%s:%s:::\n+%s-:%s:%s:%s:%s:-::\n' \
	    "$1" "$1" "$RUID" "$RGID" "$h" "$1" "$1" "$RUID" "$RGID" "$h" \
	    >> "$QPOST_HOME/users/assign"
}

finish_assign() {
	echo . >> "$QPOST_HOME/users/assign"
	"$QPOST_HOME/bin/newu"
}

# dotqmail USER [EXT] - write stdin to the user's .qmail[-EXT]
dotqmail() {
	local f=$U/$1/.qmail${2:+-$2}
	cat > "$f"
	chmod 644 "$f"
}

# deliver SENDER RECIPIENT [FILE] - run local as send does: the lookup
# (bin/route, send's own) first, then local with its result; a lookup
# that fails leaves route's status and output as the result
deliver() {
	run lookup_local "$@"
}

lookup_local() {
	local f
	"$QPOST_HOME/bin/route" "$2" > "$BATS_TEST_TMPDIR/route" || return
	mapfile -d '' f < "$BATS_TEST_TMPDIR/route"
	"$L" "${f[@]}" "$1" < "${3:-$MSG}" 2>&1
}

# lastline - the last line of local's output (the reason send logs)
lastline() {
	printf '%s\n' "$output" | tail -n 1
}

# one DIR - the one file in DIR/new (fails unless exactly one)
one() {
	local n
	n=$(find "$1/new" -type f | wc -l)
	[ "$n" = 1 ] || { echo "$1/new has $n files" >&2; return 1; }
	find "$1/new" -type f
}

count() {
	find "$1" -type f | wc -l
}

# sleeper USER FILE - USER's .qmail runs a program that starts a
# grandchild and sleeps, both for 600 s, writing their PIDs to FILE
# (created here, writable by the recipient)
sleeper() {
	: > "$2"
	chmod 666 "$2"
	printf '|sleep 600 & echo $! >> %s; echo $$ >> %s; echo started; exec sleep 601\n' \
	    "$2" "$2" | dotqmail "$1"
}

# gone PID - the process has ended (a zombie waiting for init counts)
gone() {
	local s
	s=$(ps -o stat= -p "$1") || return 0
	case $s in Z*) return 0 ;; esac
	return 1
}

# all_gone FILE - every PID listed in FILE has ended
all_gone() {
	local pid
	while read -r pid; do
		gone "$pid" || return 1
	done < "$1"
}
