# Helpers shared by tests/smtpd*.bats: start tcpserver + smtpd, talk raw
# SMTP, read the queue file.  Load after helper.bash.

# smtpd_setup - a fresh home where every local part of test.example
# exists (the alias user's default), and smtpd listening on 127.0.0.1.
smtpd_setup() {
	qpost_setup
	echo ./Maildir/ > "$QPOST_HOME/alias/.qmail-default"
	smtpd_start
}

# smtpd_start [ADDR] - tcpserver (-c $SMTPD_CONC, default 100) + smtpd on
# ADDR (default 127.0.0.1) and a free port, with the project's rules; the
# log goes to $LOG.
smtpd_start() {
	local ip=${1:-127.0.0.1}
	PORT=$(free_port)
	LOG=$BATS_TEST_TMPDIR/smtpd.log
	tcprules "$BATS_TEST_TMPDIR/rules.cdb" "$BATS_TEST_TMPDIR/rules.tmp" \
	    < "${RULES:-$QPOST_SRC/rules}"
	spawn tcpserver -x "$BATS_TEST_TMPDIR/rules.cdb" -R -H -l0 \
	    -c "${SMTPD_CONC:-100}" "$ip" "$PORT" "$QPOST_HOME/bin/smtpd" \
	    2>>"$LOG" 3>&-
	wait_port "$PORT" "$ip"
}


# raw PAYLOAD [SRCIP] - connect, read the greeting, send PAYLOAD (Python
# bytes escapes: \r \n \x00; or the bytes of file $RAWFILE) in one write,
# half-close, print every reply line until the server closes.
raw() {
	"$PY" - "$PORT" "${1:-}" "${2:-127.0.0.1}" "${RAWHOST:-127.0.0.1}" \
	    "${RAWFILE:-}" <<'EOF'
import codecs, socket, sys
port, payload, src, host = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
if sys.argv[5]:
    data = open(sys.argv[5], 'rb').read()
else:
    data = codecs.escape_decode(payload.encode())[0]
fam = socket.AF_INET6 if ':' in host else socket.AF_INET
s = socket.socket(fam)
if fam == socket.AF_INET:
    s.bind((src, 0))
s.settimeout(10)
s.connect((host, port))
got = b''
while not got.endswith(b'\r\n'):
    b = s.recv(4096)
    if not b:
        break
    got += b
s.sendall(data)
s.shutdown(socket.SHUT_WR)
while True:
    b = s.recv(65536)
    if not b:
        break
    got += b
sys.stdout.write(got.decode('latin-1').replace('\r\n', '\n'))
EOF
}

# codes - the reply codes of raw's output, final lines only, one line
codes() {
	printf '%s\n' "$output" | sed -n 's/^\([0-9][0-9][0-9]\) .*/\1/p' |
	    tr '\n' ' ' | sed 's/ $//'
}

# qfile - the one committed queue file
qfile() {
	local f
	f=$(ls "$QPOST_HOME/queue/new")
	[ "$(echo "$f" | wc -l)" = 1 ] || return 1
	echo "$QPOST_HOME/queue/new/$f"
}

# qmsg/qenv - message bytes and envelope (NULs as |) of the queue file
qmsg() {
	"$PY" - "$(qfile)" <<'EOF'
import sys
d = open(sys.argv[1], 'rb').read()
assert d[-32:-23] == b'QPOSTENV ' and d[-1:] == b'\n'
off = int(d[-23:-1])
sys.stdout.buffer.write(d[:off])
EOF
}
qenv() {
	"$PY" - "$(qfile)" <<'EOF'
import sys
d = open(sys.argv[1], 'rb').read()
off = int(d[-23:-1])
e = d[off:-32]
e = e[:e.index(b'\0\0') + 2]	# the envelope, not the origin record
sys.stdout.write(e.decode('latin-1').replace('\0', '|'))
EOF
}
