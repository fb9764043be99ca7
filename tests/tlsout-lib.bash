# Helpers shared by tests/tls-out.bats and tests/dane.bats (remote's TLS
# client).  Load after helper.bash and remote-lib.bash.

# tlsout_certs - made once per test file in $CERTS:
#   ca.crt ca.key    a test CA
#   mx.crt mx.key    mx.one.test, signed by the CA; mx.chain = mx + CA
#   exp.crt          mx.one.test with mx.key, signed by the CA, expired
#   wrong.crt        other.test with mx.key, signed by the CA
#   self.crt         mx.one.test with mx.key, self-signed
#   relay.crt        relay.test with mx.key, signed by the CA
tlsout_certs() {
	CERTS=$BATS_FILE_TMPDIR/oc
	[ -f "$CERTS/done" ] && return 0
	mkdir -p "$CERTS"
	(
	cd "$CERTS" || exit 1
	printf '%s\n' '[ca]' 'default_ca = c' '[c]' 'database = index.txt' \
	    'new_certs_dir = .' 'serial = serial' 'default_md = sha256' \
	    'policy = p' 'copy_extensions = copy' 'unique_subject = no' \
	    '[p]' 'commonName = supplied' > ca.cnf
	: > index.txt
	echo 01 > serial
	ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
	# shellcheck disable=SC2086
	openssl req -x509 $ec -keyout ca.key -out ca.crt -days 30 \
	    -subj "/CN=qpost test CA" 2>/dev/null
	# shellcheck disable=SC2086
	openssl req -new $ec -keyout mx.key -out mx.csr -subj /CN=mx.one.test \
	    -addext subjectAltName=DNS:mx.one.test 2>/dev/null
	sign() {	# sign CSR OUT [openssl ca options]
		local csr=$1 out=$2
		shift 2
		openssl ca -batch -config ca.cnf -cert ca.crt -keyfile ca.key \
		    -in "$csr" -out "$out" -notext "$@" >/dev/null 2>&1
	}
	sign mx.csr mx.crt -days 30
	sign mx.csr exp.crt -startdate 20200101000000Z \
	    -enddate 20200201000000Z
	for n in other relay; do
		openssl req -new -key mx.key -out $n.csr -subj "/CN=$n.test" \
		    -addext "subjectAltName=DNS:$n.test" 2>/dev/null
	done
	sign other.csr wrong.crt -days 30
	sign relay.csr relay.crt -days 30
	openssl req -x509 -key mx.key -out self.crt -days 30 \
	    -subj /CN=mx.one.test -addext subjectAltName=DNS:mx.one.test \
	    2>/dev/null
	cat mx.crt ca.crt > mx.chain
	) || return 1
	touch "$CERTS/done"
}

# spki_sha256 CERT - the SHA-256 of the certificate's public key, hex
# (a TLSA 3 1 1 / 2 1 1 record's data, a control/tlsdestinations fp=)
spki_sha256() {
	openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER |
	    openssl dgst -sha256 -r | cut -d' ' -f1
}

# tpeer DIR CERT [ARGS...] - the aiosmtpd capture peer with STARTTLS on
# 127.0.0.1:$PORT, key mx.key, certificate CERT (a file in $CERTS)
tpeer() {
	local dir=$1 cert=$2
	shift 2
	peer 127.0.0.1 "$dir" --cert "$CERTS/$cert" --key "$CERTS/mx.key" "$@"
}

# tlspolicy LINE... - control/tlsdestinations
tlspolicy() {
	printf '%s\n' "$@" > "$QPOST_HOME/control/tlsdestinations"
}
