# Common helper for qpost's bats tests: load it with `load helper` and call
# qpost_setup / qpost_teardown from setup() / teardown().
#
# Each test gets a throwaway home in $QPOST_HOME under $BATS_TEST_TMPDIR.
# Every background process a test starts goes through `spawn`, which
# records its PID; teardown ends exactly those PIDs and nothing else.
# With QPOST_SANITIZE=1 (make sanitize) every sanitizer report is written
# under $BATS_TEST_TMPDIR/san and fails the test in teardown.

load /usr/lib/bats/bats-support/load
load /usr/lib/bats/bats-assert/load

QPOST_SRC=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
export QPOST_SRC
# Debian's python3 (with python3-aiosmtpd), whatever else is on PATH.
PY=/usr/bin/python3
export PY

qpost_setup() {
	export QPOST_HOME="$BATS_TEST_TMPDIR/home"
	unset QPOST_QUEUE RELAYCLIENT TCPREMOTEIP TCPREMOTEHOST TCPLOCALIP
	PIDFILE="$BATS_TEST_TMPDIR/pids"
	: > "$PIDFILE"
	sh "$QPOST_SRC/scripts/install-home" "$QPOST_HOME" >/dev/null
	printf '%s\n' test.example > "$QPOST_HOME/control/me"
	printf '%s\n' test.example localhost > "$QPOST_HOME/control/locals"
	printf '%s\n' test.example localhost > "$QPOST_HOME/control/rcpthosts"
	if [ -n "${QPOST_SANITIZE:-}" ]; then
		mkdir -p "$BATS_TEST_TMPDIR/san"
		export ASAN_OPTIONS="log_path=$BATS_TEST_TMPDIR/san/asan:detect_leaks=0:abort_on_error=0"
		export UBSAN_OPTIONS="log_path=$BATS_TEST_TMPDIR/san/ubsan:print_stacktrace=1:halt_on_error=1"
	fi
}

# spawn CMD... - run CMD in the background and remember its PID.
spawn() {
	"$@" &
	echo $! >> "$PIDFILE"
	LAST_PID=$!
}

qpost_teardown() {
	local pid
	if [ -f "${PIDFILE:-/nonexistent}" ]; then
		while read -r pid; do
			kill "$pid" 2>/dev/null || true
		done < "$PIDFILE"
		while read -r pid; do
			wait "$pid" 2>/dev/null || true
		done < "$PIDFILE"
	fi
	if [ -n "${QPOST_SANITIZE:-}" ] && [ -d "$BATS_TEST_TMPDIR/san" ] &&
	    [ -n "$(ls -A "$BATS_TEST_TMPDIR/san")" ]; then
		cat "$BATS_TEST_TMPDIR"/san/* >&2
		return 1
	fi
}

# free_port - print a TCP port nobody listens on now.
free_port() {
	"$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_for SECONDS CMD... - retry CMD until it succeeds; fail after SECONDS.
wait_for() {
	local limit=$(( $1 * 10 )) i=0
	shift
	until "$@" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -ge "$limit" ] && return 1
		sleep 0.1
	done
}

# empty_dir DIR / nonempty_dir DIR - for wait_for, which runs its command
# again on each try: "$(ls DIR)" in its arguments would be expanded once,
# before the first try, and never looked at again.
empty_dir() { [ -z "$(ls -A "$1" 2>/dev/null)" ]; }
nonempty_dir() { [ -n "$(ls -A "$1" 2>/dev/null)" ]; }

# wait_port PORT [HOST] - wait until something listens on HOST:PORT.
wait_port() {
	wait_for 10 "$PY" -c 'import socket,sys; socket.create_connection((sys.argv[2] if len(sys.argv)>2 else "127.0.0.1", int(sys.argv[1])), 1).close()' "$@"
}

# queue_count - messages committed in the queue (new/ and mess/).
queue_count() {
	find "$QPOST_HOME/queue/new" "$QPOST_HOME/queue/mess" -type f | wc -l
}

# enqueue SENDER RCPT... - commit the message on stdin to queue/new/ the
# way docs/queue.md says, without the queue program, and wake send.
enqueue() {
	"$PY" -c '
import os, sys
q, sender, rcpts = sys.argv[1], sys.argv[2], sys.argv[3:]
msg = sys.stdin.buffer.read()
env = b"F" + sender.encode() + b"\0" + b"".join(
    b"T" + r.encode() + b"\0" for r in rcpts) + b"\0"
data = msg + env + b"QPOSTENV %022d\n" % len(msg)
tmp = os.path.join(q, "tmp", "t.%d" % os.getpid())
with open(tmp, "wb") as f:
    f.write(data)
    f.flush()
    os.fsync(f.fileno())
ino = os.stat(tmp).st_ino
os.rename(tmp, os.path.join(q, "new", str(ino)))
try:
    fd = os.open(os.path.join(q, "lock", "trigger"), os.O_WRONLY | os.O_NONBLOCK)
    os.write(fd, b"x")
    os.close(fd)
except OSError:
    pass
' "$QPOST_HOME/queue" "$@"
}
