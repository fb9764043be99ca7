# Helpers for the TLS tests: certificates, tcpserver + tlsd + smtpd, and
# the Python TLS client (tests/tls-client.py).  Load after helper.bash
# and smtpd-lib.bash.

# tls_certs - a self-signed certificate for test.example (and one for
# sni.example, and a key that matches neither) made once per test file.
tls_certs() {
	CERTS=$BATS_FILE_TMPDIR/certs
	[ -f "$CERTS/done" ] && return 0
	mkdir -p "$CERTS"
	local n
	for n in test.example sni.example other.example; do
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		    -nodes -keyout "$CERTS/$n.key" -out "$CERTS/$n.crt" \
		    -days 30 -subj "/CN=$n" -addext "subjectAltName=DNS:$n" \
		    2>/dev/null
	done
	touch "$CERTS/done"
}

# tls_install - test.example's certificate and key into the home
tls_install() {
	tls_certs
	cp "$CERTS/test.example.crt" "$QPOST_HOME/control/tlscert.pem"
	cp "$CERTS/test.example.key" "$QPOST_HOME/control/tlskey.pem"
	chmod 600 "$QPOST_HOME/control/tlskey.pem"
}

# tls_start [-i] - tcpserver + tlsd [-i] + smtpd on a free port
tls_start() {
	PORT=$(free_port)
	LOG=$BATS_TEST_TMPDIR/smtpd.log
	tcprules "$BATS_TEST_TMPDIR/rules.cdb" "$BATS_TEST_TMPDIR/rules.tmp" \
	    < "${RULES:-$QPOST_SRC/rules}"
	spawn tcpserver -x "$BATS_TEST_TMPDIR/rules.cdb" -R -H -l0 -c 100 \
	    127.0.0.1 "$PORT" "$QPOST_HOME/bin/tlsd" "$@" \
	    "$QPOST_HOME/bin/smtpd" ${SMTPD_ARGS:-} 2>>"$LOG" 3>&-
	wait_port "$PORT"
}

# tls_setup [-i] - a home with a certificate, every local part of
# test.example delivered, and the front end listening
tls_setup() {
	qpost_setup
	echo ./Maildir/ > "$QPOST_HOME/alias/.qmail-default"
	tls_install
	tls_start "$@"
}

# tlsc ARGS... - the Python TLS client against $PORT
tlsc() {
	local opts=()
	while [ $# -gt 0 ] && [ "${1#--}" != "$1" ]; do
		case $1 in
		--implicit|--tls12) opts+=("$1"); shift ;;
		*) opts+=("$1" "$2"); shift 2 ;;
		esac
	done
	"$PY" "$QPOST_SRC/tests/tls-client.py" "${opts[@]}" "$PORT" "$@"
}

# still_serving - a fresh plain EHLO on $PORT still gets its 250
still_serving() {
	run raw 'EHLO again\r\nQUIT\r\n'
	assert_output --partial '250 ENHANCEDSTATUSCODES'
}
