#!/usr/bin/env bats
# MTA-STS (mtasts.c) through qpost-tool mtasts, against real parts: a
# dnsmasq serving the _mta-sts TXT records and the mta-sts.* addresses on
# loopback, and a real HTTPS server (tests/mtasts-https.py, Python's
# http.server with TLS) on 127.0.0.27:443 whose certificate comes from a
# test CA made here, trusted through control/tlscafile.
load helper

HTTPS_ADDR=127.0.0.27
DNSPORT=27053		# the file's dnsmasq
DNSPORT2=27054		# a test's own, when its records change

# Every mta-sts.X.test of the test zone, all at $HTTPS_ADDR; the
# certificate names all of them but mta-sts.wrongname.test.
HOSTS="good testing none bad big type redir slow change gone expire
    notxt two badtxt wrongname"

# dns_args PORT [DNSMASQ-ARG...] - dnsmasq's arguments for the test zone
# in $DNS, without the records of the hosts in $DNS_SKIP
dns_args() {
	local port=$1 h
	shift
	DNS=(/usr/sbin/dnsmasq --keep-in-foreground --no-resolv --no-hosts
	    --port="$port" --listen-address=127.0.0.1 --bind-interfaces
	    --pid-file= --user=nobody --local=/test/)
	for h in $HOSTS; do
		[[ " ${DNS_SKIP:-} " == *" $h "* ]] && continue
		DNS+=(--host-record="mta-sts.$h.test,$HTTPS_ADDR")
		case $h in
		notxt | two | change) ;;
		testing) DNS+=(--txt-record="_mta-sts.$h.test,v=STSv1 ; id=${h}1 ; ext=x;y=1 ;") ;;
		badtxt) DNS+=(--txt-record="_mta-sts.$h.test,v=STSv1; id=has space;") ;;
		*) DNS+=(--txt-record="_mta-sts.$h.test,v=STSv1; id=${h}1;") ;;
		esac
	done
	DNS+=(--txt-record="_mta-sts.two.test,v=STSv1; id=a1;"
	    --txt-record="_mta-sts.two.test,v=STSv1; id=b2;"
	    --txt-record="_mta-sts.notxt.test,v=spf1 -all" "$@")
}

# www HOST POLICY [TYPE] - what the server gives for mta-sts.HOST.test
www() {
	mkdir -p "$WWW/mta-sts.$1.test"
	printf '%b' "$2" > "$WWW/mta-sts.$1.test/policy"
	[ -z "${3:-}" ] || printf '%s\n' "$3" > "$WWW/mta-sts.$1.test/type"
}

setup_file() {
	local d=$BATS_FILE_TMPDIR san="" h
	export WWW=$d/www FILEPIDS=$d/pids
	mkdir -p "$WWW"
	: > "$FILEPIDS"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -keyout "$d/ca.key" -out "$d/ca.crt" -days 30 \
	    -subj "/CN=qpost test CA" -addext "basicConstraints=critical,CA:TRUE" \
	    -addext "keyUsage=critical,keyCertSign" 2>/dev/null
	for h in $HOSTS; do
		[ "$h" = wrongname ] || san="$san${san:+,}DNS:mta-sts.$h.test"
	done
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	    -keyout "$d/www.key" -out "$d/www.csr" -subj "/CN=mta-sts.good.test" \
	    2>/dev/null
	printf 'subjectAltName=%s\n' "$san" > "$d/ext"
	openssl x509 -req -in "$d/www.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
	    -CAcreateserial -days 30 -extfile "$d/ext" -out "$d/www.crt" \
	    2>/dev/null
	/usr/bin/python3 "$BATS_TEST_DIRNAME/mtasts-https.py" "$HTTPS_ADDR" 443 \
	    "$d/www.crt" "$d/www.key" "$WWW" 3>&- &
	echo $! >> "$FILEPIDS"
	dns_args "$DNSPORT"
	"${DNS[@]}" --log-facility="$d/dnsmasq.log" 3>&- &
	echo $! >> "$FILEPIDS"
	# The policies that do not change during the file
	www good 'version: STSv1\r\nmode: enforce\r\nmx: mx.good.test\r\nmx: *.mail.good.test\r\nmax_age: 86400\r\n'
	www testing 'version: STSv1\nmode: testing\nmx: mx.testing.test\next_1: any value\nmode: enforce\nmax_age: 604800\n\n'
	www none 'version: STSv1\nmode: none\nmax_age: 4000000000\n'
	www bad 'version: STSv1\nmode: enforced\nmx: mx.bad.test\nmax_age: 86400\n'
	www type 'version: STSv1\nmode: enforce\nmx: mx.type.test\nmax_age: 86400\n' 'text/html'
	www wrongname 'version: STSv1\nmode: enforce\nmx: mx.wrongname.test\nmax_age: 86400\n'
	www two 'version: STSv1\nmode: enforce\nmx: mx.two.test\nmax_age: 86400\n'
	www badtxt 'version: STSv1\nmode: enforce\nmx: mx.badtxt.test\nmax_age: 86400\n'
	www notxt 'version: STSv1\nmode: enforce\nmx: mx.notxt.test\nmax_age: 86400\n'
	wait_port 443 "$HTTPS_ADDR"
	wait_port "$DNSPORT"
}

teardown_file() {
	local pid
	while read -r pid; do
		kill "$pid" 2>/dev/null || true
	done < "$FILEPIDS"
}

setup() {
	qpost_setup
	export QPOST_DNS=127.0.0.1:$DNSPORT
	echo "$BATS_FILE_TMPDIR/ca.crt" > "$QPOST_HOME/control/tlscafile"
}

teardown() {
	qpost_teardown
}

# mtasts ARGS... - qpost-tool mtasts, output and status in $output/$status
mtasts() {
	run "$QPOST_HOME/bin/qpost-tool" mtasts "$@"
}

# requests HOST - how many policy requests mta-sts.HOST.test has had
requests() {
	grep -c "^mta-sts.$1.test /.well-known/mta-sts.txt$" \
	    "$WWW/requests.log" 2>/dev/null || true
}

@test "enforce policy: fetched, cached, then served from the cache" {
	mtasts good.test
	assert_success
	assert_line "domain: good.test"
	assert_line "policy: enforce"
	assert_line "source: fetched"
	assert_line "why: fetched policy, id good1"
	assert_line "id: good1"
	assert_line "max_age: 86400"
	assert_line "mx: mx.good.test"
	assert_line "mx: *.mail.good.test"
	# the cache file: id, fetch time, the policy as served
	c=$QPOST_HOME/mtasts/good.test
	[ -f "$c" ]
	run sed -n 1p "$c"
	assert_output "id: good1"
	run sed -n 2p "$c"
	[[ $output =~ ^fetched:\ [0-9]+$ ]]
	t=${output#fetched: }
	now=$(date +%s)
	[ "$t" -le "$now" ] && [ "$t" -ge $((now - 60)) ]
	run sed -n '4,$p' "$c"
	assert_output --partial "mode: enforce"
	[ "$(stat -c %a "$c")" = 600 ]
	[ "$(stat -c %a "$QPOST_HOME/mtasts")" = 700 ]
	run ls -A "$QPOST_HOME/mtasts"
	assert_output good.test	# no temporary file left
	n=$(requests good)
	mtasts good.test
	assert_success
	assert_line "policy: enforce"
	assert_line "source: cache"
	assert_line "why: cached policy, id good1"
	assert_line "fetched: $t"
	assert_line "expires: $((t + 86400))"
	[ "$(requests good)" = "$n" ]	# no new fetch
}

@test "mx patterns: exact names and one-label wildcards only" {
	mtasts good.test mx.good.test MX.Good.Test. a.mail.good.test \
	    mail.good.test b.a.mail.good.test other.test good.test
	assert_failure 100
	assert_line "check mx.good.test: allowed (listed)"
	assert_line "check MX.Good.Test.: allowed (listed)"
	assert_line "check a.mail.good.test: allowed (listed)"
	assert_line "check mail.good.test: refused (not listed: remote would not deliver there)"
	assert_line "check b.a.mail.good.test: refused (not listed: remote would not deliver there)"
	assert_line "check other.test: refused (not listed: remote would not deliver there)"
	assert_line "check good.test: refused (not listed: remote would not deliver there)"
	mtasts good.test a.mail.good.test
	assert_success
}

@test "testing and none policies" {
	mtasts testing.test mx.testing.test elsewhere.test
	assert_failure 100
	assert_line "policy: testing"
	assert_line "source: fetched"
	assert_line "max_age: 604800"
	assert_line "why: fetched policy, id testing1"
	assert_line "check mx.testing.test: allowed (listed)"
	assert_line "check elsewhere.test: not listed (testing: remote would deliver and log it)"
	mtasts none.test anything.test
	assert_success
	assert_line "policy: none"
	assert_line "source: fetched"
	assert_line "check anything.test: allowed (no policy to enforce)"
	assert_line "max_age: 31557600"	# cut to a year
	[ -f "$QPOST_HOME/mtasts/none.test" ]
}

@test "malformed policy: no policy, nothing cached" {
	mtasts bad.test mx.elsewhere.test
	assert_success
	assert_line "policy: none"
	assert_line "source: none"
	assert_line "why: no policy: fetch failed: malformed policy: a line is not a valid field"
	assert_line "check mx.elsewhere.test: allowed (no policy to enforce)"
	refute_line --partial "mx: "
	[ ! -e "$QPOST_HOME/mtasts/bad.test" ]
}

@test "libcurl is loaded only to fetch: remote links none; a libcurl.so.4 that cannot serve is a failed fetch, not a crash" {
	! ldd "$QPOST_HOME/bin/remote" | grep -q libcurl
	! ldd "$QPOST_HOME/bin/qpost-tool" | grep -q libcurl
	# a libcurl.so.4 without the functions, found first
	mkdir "$BATS_TEST_TMPDIR/fakecurl"
	echo 'int qpost_not_curl;' > "$BATS_TEST_TMPDIR/fakecurl/f.c"
	cc -shared -fPIC -o "$BATS_TEST_TMPDIR/fakecurl/libcurl.so.4" \
	    "$BATS_TEST_TMPDIR/fakecurl/f.c"
	n=$(requests good)
	LD_LIBRARY_PATH=$BATS_TEST_TMPDIR/fakecurl mtasts good.test
	assert_success
	assert_line "policy: none"
	assert_line --partial "why: no policy: fetch failed: libcurl.so.4 lacks a function: "
	[ ! -e "$QPOST_HOME/mtasts/good.test" ]
	[ "$(requests good)" = "$n" ]
	# the real one: fetched
	mtasts good.test
	assert_line "source: fetched"
	[ "$(requests good)" = $((n + 1)) ]
}

@test "policy larger than 64 KB: refused while reading" {
	# 64 KB of a valid policy and one byte more (an extension field)
	www big "$(printf 'version: STSv1\nmode: enforce\nmx: mx.big.test\nmax_age: 86400\n'; head -c 65536 /dev/zero | tr '\0' x | sed 's/^/ext: /')"
	mtasts big.test
	assert_success
	assert_line "policy: none"
	assert_line "why: no policy: fetch failed: https://mta-sts.big.test/.well-known/mta-sts.txt: policy larger than 65536 bytes"
	[ ! -e "$QPOST_HOME/mtasts/big.test" ]
	# exactly 65536 bytes is within the limit
	p=$(printf 'version: STSv1\nmode: enforce\nmx: mx.big.test\nmax_age: 86400\next: ')
	www big "$p$(head -c $((65536 - ${#p})) /dev/zero | tr '\0' x)"
	[ "$(stat -c %s "$WWW/mta-sts.big.test/policy")" = 65536 ]
	mtasts big.test
	assert_line "policy: enforce"
	assert_line "source: fetched"
}

@test "wrong content type: no policy" {
	mtasts type.test
	assert_success
	assert_line "policy: none"
	assert_line "why: no policy: fetch failed: https://mta-sts.type.test/.well-known/mta-sts.txt: content type text/html, not text/plain"
	# parameters are fine
	printf 'text/plain; charset=utf-8\n' > "$WWW/mta-sts.type.test/type"
	mtasts type.test
	assert_line "policy: enforce"
}

@test "a redirect is not followed" {
	mkdir -p "$WWW/mta-sts.redir.test"
	echo https://mta-sts.good.test/.well-known/mta-sts.txt \
	    > "$WWW/mta-sts.redir.test/redirect"
	n=$(requests good)
	mtasts redir.test
	assert_success
	assert_line "policy: none"
	assert_line "why: no policy: fetch failed: https://mta-sts.redir.test/.well-known/mta-sts.txt: HTTP status 302 (redirects are not followed, RFC 8461 3.3)"
	[ "$(requests redir)" = 1 ]
	[ "$(requests good)" = "$n" ]
}

@test "a server that never answers: the fetch ends at timeoutmtasts" {
	mkdir -p "$WWW/mta-sts.slow.test"
	touch "$WWW/mta-sts.slow.test/hang"
	echo 2 > "$QPOST_HOME/control/timeoutmtasts"
	t0=$(date +%s%N)
	mtasts slow.test
	t1=$(date +%s%N)
	assert_success
	assert_line "policy: none"
	assert_line --regexp "^why: no policy: fetch failed: https://mta-sts.slow.test/.well-known/mta-sts.txt: Operation timed out after 2[0-9]{3} milliseconds"
	ms=$(( (t1 - t0) / 1000000 ))
	[ "$ms" -ge 1900 ] && [ "$ms" -lt 5000 ]
	[ "$(requests slow)" = 1 ]	# it got the request, then hung
}

@test "untrusted certificate: unknown CA, and a name the certificate lacks" {
	rm "$QPOST_HOME/control/tlscafile"	# the system store only
	mtasts good.test
	assert_success
	assert_line "policy: none"
	assert_line --regexp "^why: no policy: fetch failed: https://mta-sts.good.test/.*: SSL certificate problem: unable to get local issuer certificate"
	[ ! -e "$QPOST_HOME/mtasts/good.test" ]
	echo "$BATS_FILE_TMPDIR/ca.crt" > "$QPOST_HOME/control/tlscafile"
	mtasts wrongname.test
	assert_line "policy: none"
	assert_line --regexp "^why: no policy: fetch failed: .*: SSL: no alternative certificate subject name matches target host name 'mta-sts.wrongname.test'"
	# a relative tlscafile is taken from the home
	cp "$BATS_FILE_TMPDIR/ca.crt" "$QPOST_HOME/control/ca.pem"
	echo control/ca.pem > "$QPOST_HOME/control/tlscafile"
	mtasts good.test
	assert_line "policy: enforce"
}

@test "TXT record: none, two STSv1 records, a malformed one: no fetch" {
	mtasts notxt.test
	assert_success
	assert_line "policy: none"
	assert_line "why: no policy: no STSv1 TXT record"
	mtasts two.test
	assert_line "policy: none"
	assert_line "why: no policy: more than one STSv1 TXT record"
	mtasts badtxt.test
	assert_line "why: no policy: malformed STSv1 record"
	mtasts nosuch.test
	assert_line "why: no policy: no _mta-sts TXT record"
	[ "$(requests notxt)" = 0 ] && [ "$(requests two)" = 0 ] &&
	    [ "$(requests badtxt)" = 0 ]
	mtasts
	assert_failure 100
	assert_output --partial "usage: qpost-tool"
	mtasts 'bad/../name'
	assert_failure 100
	assert_line "why: no policy: not a domain name"
	run ls -A "$QPOST_HOME/mtasts"
	assert_output ""
}

@test "TXT id changes: the policy is fetched again" {
	www change 'version: STSv1\nmode: testing\nmx: mx.change.test\nmax_age: 86400\n'
	dns_args "$DNSPORT2" --txt-record="_mta-sts.change.test,v=STSv1; id=1;"
	spawn "${DNS[@]}" 3>&-
	export QPOST_DNS=127.0.0.1:$DNSPORT2
	wait_port "$DNSPORT2"
	mtasts change.test
	assert_line "policy: testing"
	assert_line "source: fetched"
	# the policy changes but the id does not: the cache answers
	www change 'version: STSv1\nmode: enforce\nmx: mx.change.test\nmax_age: 86400\n'
	mtasts change.test
	assert_line "policy: testing"
	assert_line "source: cache"
	[ "$(requests change)" = 1 ]
	# a new id: fetched again, and the cache holds the new id
	kill "$LAST_PID"; wait "$LAST_PID" || true
	dns_args "$DNSPORT2" --txt-record="_mta-sts.change.test,v=STSv1; id=2;"
	spawn "${DNS[@]}" 3>&-
	wait_port "$DNSPORT2"
	mtasts change.test
	assert_line "policy: enforce"
	assert_line "source: fetched"
	assert_line "id: 2"
	[ "$(requests change)" = 2 ]
	run sed -n 1p "$QPOST_HOME/mtasts/change.test"
	assert_output "id: 2"
}

@test "cached policy survives the server going away and the record going" {
	www gone 'version: STSv1\nmode: enforce\nmx: mx.gone.test\nmax_age: 86400\n'
	mtasts gone.test
	assert_line "source: fetched"
	# a new id, and mta-sts.gone.test now points where nothing listens
	DNS_SKIP=gone dns_args "$DNSPORT2" \
	    --txt-record="_mta-sts.gone.test,v=STSv1; id=gone2;" \
	    --host-record=mta-sts.gone.test,127.0.0.29
	spawn "${DNS[@]}" 3>&-
	export QPOST_DNS=127.0.0.1:$DNSPORT2
	wait_port "$DNSPORT2"
	mtasts gone.test mx.gone.test other.test
	assert_failure 100
	assert_line "policy: enforce"
	assert_line "source: cache (kept: the record is gone or the fetch failed)"
	assert_line --regexp "^why: cached policy, id gone1; fetch failed: https://mta-sts.gone.test/.*(Connection refused|Failed to connect)"
	assert_line "check other.test: refused (not listed: remote would not deliver there)"
	run sed -n 1p "$QPOST_HOME/mtasts/gone.test"
	assert_output "id: gone1"
	# the TXT record is gone too (the DNS server does not answer for it)
	export QPOST_DNS=127.0.0.1:27099	# nothing listens there
	mtasts gone.test
	assert_line "policy: enforce"
	assert_line "why: cached policy, id gone1; TXT lookup failed (DNS temporary failure)"
}

@test "max_age expiry: an expired cache is fetched again, or dropped" {
	www expire 'version: STSv1\nmode: enforce\nmx: mx.expire.test\nmax_age: 100\n'
	mtasts expire.test
	assert_line "max_age: 100"
	c=$QPOST_HOME/mtasts/expire.test
	t=$(sed -n 's/^fetched: //p' "$c")
	# 90 seconds old: still used (not 99: the runs between take time
	# of their own, seconds under the sanitizers on a busy machine)
	sed -i "s/^fetched: .*/fetched: $((t - 90))/" "$c"
	mtasts expire.test
	assert_line "source: cache"
	assert_line "fetched: $((t - 90))"
	# 101 seconds old: expired, fetched again
	sed -i "s/^fetched: .*/fetched: $((t - 101))/" "$c"
	mtasts expire.test
	assert_line "source: fetched"
	[ "$(requests expire)" = 2 ]
	# expired and the server has no policy any more: no policy at all
	t=$(sed -n 's/^fetched: //p' "$c")
	sed -i "s/^fetched: .*/fetched: $((t - 101))/" "$c"
	rm "$WWW/mta-sts.expire.test/policy"
	mtasts expire.test mx.other.test
	assert_success
	assert_line "policy: none"
	assert_line "why: no policy: fetch failed: https://mta-sts.expire.test/.well-known/mta-sts.txt: HTTP status 404"
}

@test "a damaged cache file is not used, and is replaced" {
	mkdir -p "$QPOST_HOME/mtasts"
	printf 'id: good1\nfetched: %s\n\nversion: STSv1\nmode: bogus\n' \
	    "$(date +%s)" > "$QPOST_HOME/mtasts/good.test"
	mtasts good.test
	assert_line "policy: enforce"
	assert_line "source: fetched"
	run sed -n 5p "$QPOST_HOME/mtasts/good.test"
	assert_output $'mode: enforce\r'	# as served, CRLF
}

@test "root writing the cache gives the file to the directory's owner" {
	[ "$(id -u)" = 0 ] || skip "needs root"
	chown nobody "$QPOST_HOME/mtasts"
	mtasts good.test
	assert_line "source: fetched"
	run stat -c '%U %a' "$QPOST_HOME/mtasts/good.test"
	assert_output "nobody 600"
}

@test "showctl lists timeoutmtasts and tlscafile" {
	echo 7 > "$QPOST_HOME/control/timeoutmtasts"
	run "$QPOST_HOME/bin/qpost-tool" showctl
	assert_output --partial "timeoutmtasts (seconds for a whole MTA-STS policy fetch): 7"
	assert_output --partial "tlscafile"
	refute_output --partial "warning: control/tlscafile"
}
