# Helpers shared by tests/remote*.bats.  Load after helper.bash.

# remote_setup - qpost_setup, then: $T the test's directory; $PORT, the
# port every SMTP peer of the test listens on, in control/remoteport;
# dnsmasq on 127.0.0.1:$DNSPORT serving the test zone below, exported as
# QPOST_DNS.  Names under .test that are not listed get NXDOMAIN.
#   one.test   MX 10 mx.one.test (127.0.0.1)
#   two.test   MX 10 mx1.two.test (127.0.0.2), MX 20 mx2.two.test (127.0.0.1)
#   six.test   MX 10 mx.six.test (AAAA ::1 only)
#   null.test  null MX (RFC 7505: "0 .")
#   noma.test  no MX, A 127.0.0.1;  relay.test  A 127.0.0.1
#   eq.test   MX 10 a.eq.test (127.0.0.3), MX 10 b.eq.test (127.0.0.4)
#   sts.test, ststest.test, stsother.test  MX 10 mx.one.test, each with an
#              _mta-sts TXT record and mta-sts.* at 127.0.0.28 (tests of
#              remote under MTA-STS start the HTTPS server there)
remote_setup() {
	qpost_setup
	T=$BATS_TEST_TMPDIR
	PORT=$(free_port)
	echo "$PORT" > "$QPOST_HOME/control/remoteport"
	DNSPORT=$(free_port)
	spawn /usr/sbin/dnsmasq --keep-in-foreground --no-resolv --no-hosts \
	    --port="$DNSPORT" --listen-address=127.0.0.1 --bind-interfaces \
	    --pid-file= --user=nobody --log-facility="$T/dnsmasq.log" \
	    --local=/test/ \
	    --mx-host=one.test,mx.one.test,10 \
	    --host-record=mx.one.test,127.0.0.1 \
	    --mx-host=two.test,mx1.two.test,10 \
	    --mx-host=two.test,mx2.two.test,20 \
	    --host-record=mx1.two.test,127.0.0.2 \
	    --host-record=mx2.two.test,127.0.0.1 \
	    --mx-host=six.test,mx.six.test,10 \
	    --host-record=mx.six.test,::1 \
	    --dns-rr=null.test,15,000000 \
	    --host-record=noma.test,127.0.0.1 \
	    --host-record=relay.test,127.0.0.1 \
	    --mx-host=eq.test,a.eq.test,10 --mx-host=eq.test,b.eq.test,10 \
	    --host-record=a.eq.test,127.0.0.3 --host-record=b.eq.test,127.0.0.4 \
	    --mx-host=sts.test,mx.one.test,10 \
	    --mx-host=ststest.test,mx.one.test,10 \
	    --mx-host=stsother.test,mx.one.test,10 \
	    --txt-record="_mta-sts.sts.test,v=STSv1; id=1;" \
	    --txt-record="_mta-sts.ststest.test,v=STSv1; id=1;" \
	    --txt-record="_mta-sts.stsother.test,v=STSv1; id=1;" \
	    --host-record=mta-sts.sts.test,127.0.0.28 \
	    --host-record=mta-sts.ststest.test,127.0.0.28 \
	    --host-record=mta-sts.stsother.test,127.0.0.28
	export QPOST_DNS=127.0.0.1:$DNSPORT
	wait_port "$DNSPORT"	# dnsmasq serves TCP on the same port
	mkdir -p "$T/got"
}

# peer HOST DIR [ARGS...] - the aiosmtpd capture peer (tests/remote-peer.py)
# on HOST:$PORT writing into DIR; its PID in $PEER
peer() {
	local host=$1 dir=$2
	shift 2
	spawn "$PY" "$QPOST_SRC/tests/remote-peer.py" "$host" "$PORT" "$dir" "$@"
	PEER=$LAST_PID
	wait_port "$PORT" "$host"
}

# remote ARGS... - run bin/remote on $MSG; reports in $T/rep, stderr $T/err
remote() {
	"$QPOST_HOME/bin/remote" "$@" < "$MSG" > "$T/rep" 2> "$T/err"
}

# reports - the reports one per line (NUL -> LF; a report's own lines,
# Remote-MTA: and Diagnostic-Code:, joined by " | "), for assert_output
reports() {
	sed -z 's/\n/ | /g' < "$T/rep" | tr '\0' '\n'
}

# codes - just the report letters, e.g. "rhrK"
codes() {
	reports | cut -c1 | tr -d '\n'
}
