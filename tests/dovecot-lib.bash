# Helpers for the tests that run a real Dovecot as an authentication
# server (tests/checkdovecot.bats, tests/auth.bats).  Load after
# helper.bash; call dovecot_prepare from setup() and dovecot_teardown
# from teardown() (after qpost_teardown).

# dovecot_prepare - $D for the instance, reachable by the dovecot user
dovecot_prepare() {
	D="$BATS_TEST_TMPDIR/dovecot"
	mkdir -p "$D"
	# Dovecot's auth process runs as the dovecot user: it must reach
	# the password file under the tmp dirs bats made for root alone.
	d="$D"
	while [ "$d" != / ]; do
		[ -O "$d" ] && chmod o+x "$d"
		d=$(dirname "$d")
	done
	INSTANCE="qpost-t$$-$BATS_TEST_NUMBER"
}

# dovecot_teardown - Dovecot's master ends its children on SIGTERM (sent
# by qpost_teardown, which started it); wait until they are gone, then
# make sure of it (they are ours: the instance name is this test's own).
dovecot_teardown() {
	wait_for 10 no_dovecot || pkill -KILL -f "^dovecot-$INSTANCE/" || true
}

no_dovecot() {
	! pgrep -f "^dovecot-$INSTANCE/" >/dev/null
}

# start_dovecot - a Dovecot that is an authentication server only, with
# a passwd-file of alice ({PLAIN}) and bob ({SHA512-CRYPT})
start_dovecot() {
	local bobhash
	bobhash=$("$PY" -W ignore -c 'import crypt; print(crypt.crypt("bob pw", crypt.mksalt(crypt.METHOD_SHA512)))')
	printf '%s\n' 'alice@example.com:{PLAIN}secret' \
	    "bob:{SHA512-CRYPT}$bobhash" > "$D/users"
	chmod 644 "$D/users"
	cat > "$D/dovecot.conf" <<-CONF
	base_dir = $D/run
	state_dir = $D/state
	instance_name = $INSTANCE
	protocols =
	ssl = no
	disable_plaintext_auth = no
	auth_mechanisms = plain login
	auth_failure_delay = 0
	auth_verbose = yes
	log_path = $D/dovecot.log
	passdb {
	  driver = passwd-file
	  args = $D/users
	}
	userdb {
	  driver = static
	  args = uid=nobody gid=nogroup home=/nonexistent
	}
	service auth {
	  unix_listener auth-client {
	    mode = 0666
	  }
	}
	# no auth penalty: its growing delays (2 s to 15 s a failure, all
	# requests without rip sharing one) would only slow the tests
	service anvil {
	  unix_listener anvil-auth-penalty {
	    mode = 0
	  }
	}
	CONF
	spawn /usr/sbin/dovecot -F -c "$D/dovecot.conf"
	DOVECOT_PID=$LAST_PID
	S="$D/run/auth-client"
	wait_for 10 test -S "$S"
}

