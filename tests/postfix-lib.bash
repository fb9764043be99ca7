# A private Postfix instance for the tests (tests/tls-postfix.bats,
# tests/tls-out.bats): own config, queue and data directories under /tmp,
# its log in a file.  Needs root (Postfix's master).  Load after
# helper.bash; call pf_stop in teardown.

PF=
PFCONF=

# pf_start RELAYPORT - a private Postfix instance whose smtp client sends
# all mail to [127.0.0.1]:RELAYPORT and insists on TLS.  Mail goes in by
# its sendmail (postdrop, pickup); qmgr and smtp deliver at once.
# $PF_MAIN and $PF_MASTER, if set, are appended to main.cf and master.cf
# (tests/tls-out.bats adds an smtpd listener and a virtual mailbox).
pf_start() {
	# not under $BATS_TEST_TMPDIR: the postfix user must reach
	# data_directory, and unix socket paths must stay short.
	PF=$(mktemp -d /tmp/qpost-pf.XXXXXX)
	chmod 755 "$PF"
	PFCONF=$PF/etc
	mkdir -p "$PFCONF" "$PF/spool" "$PF/data"
	cat > "$PFCONF/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $PF/spool
data_directory = $PF/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = loopback-only
inet_protocols = ipv4
myhostname = pf.example
mydomain = pf.example
myorigin = pf.example
mydestination =
local_transport = error:no local delivery
relayhost = [127.0.0.1]:$1
default_transport = smtp
relay_transport = smtp
smtp_tls_security_level = encrypt
smtp_tls_loglevel = 1
smtp_connect_timeout = 5s
smtp_helo_timeout = 10s
maillog_file = $PF/maillog
maillog_file_prefixes = $PF
alias_maps =
alias_database =
biff = no
smtputf8_enable = no
${PF_MAIN:-}
EOF
	cat > "$PFCONF/master.cf" <<EOF
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
showq     unix  n       -       n       -       -       showq
postlog   unix-dgram n  -       n       -       1       postlogd
${PF_MASTER:-}
EOF
	chown postfix "$PF/data"
	# postfix reports to syslog unless stderr is a terminal: script(1)
	# makes one, so that a failure to start is seen.
	script -qc "postfix -c '$PFCONF' start" /dev/null \
	    >"$PF/start.out" 2>&1 || { cat "$PF/start.out" >&2; return 1; }
	wait_for 10 test -s "$PF/spool/pid/master.pid"
}

# pf_stop - stop the instance (its master, by the PID it wrote) and
# remove its directories
pf_stop() {
	[ -n "$PF" ] && [ -d "$PF" ] || return 0
	local pid
	pid=$(tr -d ' ' < "$PF/spool/pid/master.pid" 2>/dev/null || true)
	postfix -c "$PFCONF" stop >/dev/null 2>&1 || true
	if [ -n "$pid" ]; then
		# master ends its children and then itself; bounded wait
		wait_for 10 sh -c "! kill -0 $pid" ||
		    kill -9 "$pid" 2>/dev/null || true
	fi
	rm -rf "$PF"
	PF=
}

