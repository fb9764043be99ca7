# bench/lib.sh - pieces the bench scripts share (sourced, not run):
# a free loopback port, waiting for a listener, a qpost home delivering
# into Maildirs, and a private Postfix
# instance delivering into Maildirs with its virtual agent.  Not a test.

PY=${PY:-/usr/bin/python3}

free_port() {	# free_port: an unused loopback port
	"$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() {	# wait_port PORT: until something listens on it (10 s at most)
	local i=0
	until "$PY" -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1).close()" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 100 ] && { echo "nothing listens on port $1" >&2; return 1; }
		sleep 0.1
	done
}

# wait_count DIR COUNT SECONDS: until DIR holds COUNT files (1 and a
# warning after SECONDS)
wait_count() {
	local i=0
	while [ "$(find "$1" -type f 2>/dev/null | wc -l)" -lt "$2" ]; do
		i=$((i + 1))
		[ "$i" -gt $(($3 * 20)) ] && { echo "timeout waiting for $1" >&2; return 1; }
		sleep 0.05
	done
}

# qp_home TREE QP [MAKE ARGS...]: a qpost home QP installed from the
# built tree TREE, for test.example (locals and rcpthosts, 200 sessions
# an address; $CONC local deliveries at once, if set)
qp_home() {
	local tree=$1 qp=$2
	shift 2
	make -C "$tree" -s install QPOST_HOME="$qp" "$@" >/dev/null
	echo test.example > "$qp/control/me"
	printf '%s\n' test.example localhost > "$qp/control/locals"
	printf '%s\n' test.example localhost > "$qp/control/rcpthosts"
	echo 200 > "$qp/control/concurrencyperip"
	# CONC: control/concurrencylocal (default none: send's own default)
	[ -z "${CONC:-}" ] || echo "$CONC" > "$qp/control/concurrencylocal"
}

# qp_smtpd QP LOG: tcpserver + smtpd of the home QP on a loopback port,
# -b 64 as service/smtpd/run (tcpserver's default backlog of 20 drops
# SYNs at 50 sessions, and each drop costs the client a 1 s
# retransmit); logs to LOG-smtpd.log, sets QPORT and TCPPID and adds the
# pid to the caller's PIDS
qp_smtpd() {
	local qp=$1 log=$2
	QPORT=$(free_port)
	QPOST_HOME=$qp tcpserver -q -R -H -l0 -c 200 -b 64 127.0.0.1 "$QPORT" \
	    "$qp/bin/smtpd" 2>>"$log-smtpd.log" &
	TCPPID=$!
	PIDS+=($TCPPID)
	wait_port "$QPORT"
}

# qp_server TREE QP LOG [MAKE ARGS...]: qp_home, with send running under
# qpost-spawn as the send service runs it (without -u: the bench runs as
# root, so send does too), which starts every local
# (QPOST_REMOTE=/bin/false: local mail only, logs to LOG-send.log,
# qpost-spawn's pid in SENDPID and PIDS; at niceness $NICE if set, which
# send and the locals inherit) and qp_smtpd
qp_server() {
	local tree=$1 qp=$2 log=$3
	shift 3
	qp_home "$tree" "$qp" "$@"
	QPOST_HOME=$qp QPOST_REMOTE=/bin/false ${NICE:+nice -n "$NICE"} \
	    "$qp/bin/qpost-spawn" "$qp/bin/send" 2>>"$log-send.log" &
	SENDPID=$!
	PIDS+=($SENDPID)
	qp_smtpd "$qp" "$log"
}

# qp_box QP NAME: a Maildir QP/alias/NAME/ that NAME@test.example goes to
qp_box() {
	mkdir -p "$1/alias/$2/tmp" "$1/alias/$2/new" "$1/alias/$2/cur"
	echo "./$2/" > "$1/alias/.qmail-$2"
	chown -R nobody:nogroup "$1/alias"
}

# pf_start DIR PORT MAP: a private Postfix (own config, queue and data
# under DIR, smtpd on 127.0.0.1:PORT, no chroot) delivering every
# recipient of test.example into DIR/mail/ with virtual(8), as nobody;
# MAP is its virtual_mailbox_maps (static:Maildir/ for one Maildir).
# Debian's master.cf otherwise, so qmgr, cleanup and virtual run as in a
# default install.  pf_stop DIR stops it.
pf_start() {
	local pf=$1 port=$2 map=$3
	mkdir -p "$pf/etc" "$pf/spool" "$pf/data" "$pf/mail"
	chown -R nobody:nogroup "$pf/mail"
	chown postfix "$pf/data"
	cat > "$pf/etc/main.cf" <<EOC
compatibility_level = 3.6
queue_directory = $pf/spool
data_directory = $pf/data
mail_owner = postfix
setgid_group = postdrop
myhostname = bench.test.example
mydomain = test.example
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
virtual_mailbox_domains = test.example
virtual_mailbox_base = $pf/mail
virtual_mailbox_maps = $map
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(id -g nobody)
alias_maps =
alias_database =
biff = no
maillog_file = $pf/maillog
maillog_file_prefixes = $pf
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_client_connection_count_limit = 200
EOC
	sed -e "s/^smtp      inet  n       -       y/127.0.0.1:$port      inet  n       -       n/" \
	    -e 's/^\([a-z]*\( *\)\(unix\|inet\|fifo\|pass\|unix-dgram\) *[-ny] *[-ny] *\)y/\1n/' \
	    /etc/postfix/master.cf > "$pf/etc/master.cf"
	postfix -c "$pf/etc" set-permissions >/dev/null 2>&1 || true
	postfix -c "$pf/etc" start >/dev/null 2>&1
	wait_port "$port"
}
pf_stop() {
	[ -f "$1/etc/main.cf" ] && postfix -c "$1/etc" stop >/dev/null 2>&1 || true
}
pf_master() {	# pf_master DIR: the pid of its master process
	head -n 1 "$1/spool/pid/master.pid" | tr -d ' '
}
