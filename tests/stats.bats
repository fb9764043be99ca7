#!/usr/bin/env bats
# qpost-stats: issue 14's statistics from multilog's files.  The fixtures
# under tests/stats/ are send's and smtpd's lines in the contract format
# (docs/logging.md) after multilog's TAI64N labels, all of 2024-01-11 and
# 2024-01-12 UTC: 8 messages in (one of them a bounce, one on the 11th),
# senders alice, bob, carol and <>, recipients at a.example, b.example,
# c.example and test.example, one deferral then success, one failure and
# its bounce, plus lines that do not parse (no label, cut short, binary,
# 10 kB long) and other programs' lines.

load helper

setup() {
	qpost_setup
	export TZ=UTC
	S="$QPOST_SRC/qpost-stats"
	F="$BATS_TEST_DIRNAME/stats"
}

teardown() {
	qpost_teardown
}

# jq_ EXPR - evaluate a Python expression over the JSON in $output as j
jq_() {
	printf '%s' "$output" | "$PY" -c 'import json,sys; j=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

@test "stats: text grand totals of the whole fixture" {
	run "$S" "$F/send" "$F/smtpd"
	assert_success
	assert_line --index 0 "qpost-stats: all lines"
	assert_line "         8  messages received"
	assert_line "     12800  bytes received"
	assert_line "         8  recipients delivered (local 3, remote 5)"
	assert_line "         1  recipients deferred (local 0, remote 1)"
	assert_line "         1  recipients bounced (failure) (local 0, remote 1)"
	assert_line "     10800  bytes delivered"
	assert_line "         1  bounces sent"
	assert_line "         3  smtp connections"
	assert_line "         3  smtp messages accepted"
	assert_line "      4750  smtp bytes accepted"
	assert_line "         3  smtp messages refused"
	assert_line "         1  smtp sessions refused"
	assert_line "        49  lines read"
	assert_line "         4  unparsed lines"
	assert_line "         2  unlabelled lines"
	assert_line "         8  other lines"
	assert_line "         8  deliveries, median 0.4 s, 95th percentile 61.3 s, max 61.3 s"
}

@test "stats: text sections: domains, reasons, top lists" {
	run "$S" "$F/send" "$F/smtpd"
	assert_success
	assert_line "         3         2600         0         1  b.example"
	assert_line "         3         5500         0         0  test.example"
	assert_line "         1         2000         1         0  c.example"
	assert_line "         1          700         0         0  a.example"
	# The peer part goes; the rest groups the reason.
	assert_line "         1  451 4.7.1 greylisted, try later"
	assert_line "         1  550 5.1.1 no such user"
	assert_line "         1  refused delivered-to loop"
	assert_line "         1  refused too big"
	assert_line "         1  too many sessions"
	assert_line "         1  4.3.0 qq write error or disk full"
	assert_line "         4         3600  alice@a.example"
	assert_line "         1         1500  <>"
	# Top senders by bytes: bob first.
	run sh -c '"$1" "$2/send" | sed -n "/^Top senders by bytes/,/^\$/p" | sed -n 3p' _ "$S" "$F"
	assert_output "         2         7000  bob@b.example"
	# Top recipients by deliveries: a tie, then by address.
	run sh -c '"$1" "$2/send" | sed -n "/^Top recipients by deliveries/,/^\$/p" | sed -n 3,4p' _ "$S" "$F"
	assert_output "         3         2600  bob@b.example
         3         5500  carol@test.example"
}

@test "stats: JSON has the same totals" {
	run "$S" --json "$F/send" "$F/smtpd"
	assert_success
	run jq_ '[j["received"]["messages"], j["received"]["bytes"], j["since"], j["until"]]'
	assert_output "[8, 12800, None, None]"
	run "$S" --json "$F/send" "$F/smtpd"
	run jq_ '[j["recipients"][k] for k in ("delivered", "deferred", "failed")] + [j["recipients"]["delivered_bytes"]]'
	assert_output "[{'local': 3, 'remote': 5, 'unknown': 0, 'total': 8}, {'local': 0, 'remote': 1, 'unknown': 0, 'total': 1}, {'local': 0, 'remote': 1, 'unknown': 0, 'total': 1}, 10800]"
	run "$S" --json "$F/send" "$F/smtpd"
	run jq_ '[j["bounces"], j["double_bounces"], j["lines"], j["smtp"], j["delay"]]'
	assert_output "[1, 0, {'read': 49, 'unparsed': 4, 'unlabelled': 2, 'other': 8}, {'connections': 3, 'accepted': 3, 'accepted_bytes': 4750, 'refused': 3, 'sessions_refused': 1}, {'count': 8, 'median': 0.4, 'p95': 61.3, 'max': 61.3}]"
	run "$S" --json "$F/send" "$F/smtpd"
	run jq_ 'j["domains"][0], j["deferrals"], j["failures"], len(j["refusals"]), j["hours"]'
	assert_output "({'domain': 'b.example', 'delivered': 3, 'bytes': 2600, 'deferred': 0, 'failed': 1}, [{'reason': '451 4.7.1 greylisted, try later', 'count': 1}], [{'reason': '550 5.1.1 no such user', 'count': 1}], 4, [])"
	run "$S" --json "$F/send" "$F/smtpd"
	run jq_ '[(a["address"], a["messages"], a["bytes"]) for a in j["top_senders_by_bytes"]], j["top_recipients_by_bytes"][0]'
	assert_output "([('bob@b.example', 2, 7000), ('alice@a.example', 4, 3600), ('', 1, 1500), ('carol@test.example', 1, 700)], {'address': 'carol@test.example', 'deliveries': 3, 'bytes': 5500})"
}

@test "stats: --day gives one day and its hours" {
	run "$S" --json --day 2024-01-12 "$F/send"
	assert_success
	run jq_ '[j["since"], j["until"], j["received"]["messages"], j["received"]["bytes"], j["recipients"]["delivered"]["total"], j["delay"]["median"], j["delay"]["p95"]]'
	assert_output "[1705017600, 1705104000, 7, 12100, 7, 0.4, 61.3]"
	run "$S" --json --day 2024-01-12 "$F/send"
	run jq_ '[(h["hour"], h["received"], h["delivered"], h["deferred"], h["failed"]) for h in j["hours"] if h["received"] or h["delivered"] or h["deferred"] or h["failed"]], len(j["hours"])'
	assert_output "([(9, 2, 3, 1, 0), (10, 1, 1, 0, 0), (11, 2, 1, 0, 1), (13, 1, 1, 0, 0), (14, 1, 1, 0, 0)], 24)"
	run "$S" --day 2024-01-11 "$F/send"
	assert_success
	assert_line "         1  messages received"
	assert_line "       700  bytes received"
	assert_line "         1  recipients delivered (local 0, remote 1)"
	assert_line "hour   received  delivered   deferred     failed"
	assert_line "  23          1          1          0          0"
}

@test "stats: --since and --until select a range; unlabelled lines always count" {
	run "$S" --since "2024-01-12 10:30" --until "2024-01-12T13:30:00" "$F/send"
	assert_success
	assert_line --index 0 "qpost-stats: from 2024-01-12 10:30:00 until 2024-01-12 13:30:00"
	assert_line "         3  messages received"
	assert_line "      8500  bytes received"
	assert_line "         2  recipients delivered (local 1, remote 1)"
	assert_line "         1  recipients bounced (failure) (local 0, remote 1)"
	assert_line "         0  recipients deferred (local 0, remote 0)"
	assert_line "      5500  bytes delivered"
	assert_line "         2  unlabelled lines"
	# --until is exclusive, --since inclusive, @SECONDS is UTC.
	run "$S" --json --since @1705053600 --until @1705057200 "$F/send"
	run jq_ 'j["received"]["messages"], j["recipients"]["delivered"]["total"]'
	assert_output "(1, 1)"
	run "$S" --since yesterday "$F/send"
	assert_failure 100
	assert_output --partial "bad --since time"
}

@test "stats: a line's time is tai64nlocal's: TAI - 2^62 - 10" {
	printf '@%016x00000000 send: new msg 0K4QZ3V8HD.1 from <a@x> size 5 rcpts 1\n' \
	    $(( (1 << 62) + 1705017600 + 10 )) > "$BATS_TEST_TMPDIR/one"
	run "$S" --json --day 2024-01-12 "$BATS_TEST_TMPDIR/one"
	run jq_ 'j["received"]["messages"], j["hours"][0]["received"]'
	assert_output "(1, 1)"
	run "$S" --json --until "2024-01-12 00:00" "$BATS_TEST_TMPDIR/one"
	run jq_ 'j["received"]["messages"]'
	assert_output "0"
}

@test "stats: garbage: binary, cut short, huge, no label, bad label" {
	{
		printf '\377\376\0\1binary\n'
		printf '@4000000065a1b2c3zzzzzzzz send: end msg 1\n'
		printf '@4000000065a1b2c3 send: end msg 1\n'
		head -c 100000 /dev/zero | tr '\0' x
		printf '\n'
		printf 'send: new msg 1 from <a@x> size 7 rcpts 1\n'
		printf 'send: delivery 1: success: msg 1 to local <b@y> delay x: ok\n'
		printf 'send: new msg 2 from <a@x> size 9 rc'
	} > "$BATS_TEST_TMPDIR/junk"
	run "$S" --json "$BATS_TEST_TMPDIR/junk"
	assert_success
	run jq_ 'j["lines"], j["received"]'
	assert_output "({'read': 7, 'unparsed': 6, 'unlabelled': 5, 'other': 0}, {'messages': 1, 'bytes': 7})"
}

@test "stats: a service run script's own line (smtpd/run: warning: ...) is another program's line, not an unparsed one" {
	printf '%s\n' 'smtpd/run: warning: control/rules not compiled: serving with the last good control/rules.cdb' \
	    'tcprules: fatal: unable to parse this line' > "$BATS_TEST_TMPDIR/run.log"
	run "$S" --json "$BATS_TEST_TMPDIR/run.log"
	assert_success
	run jq_ 'j["lines"]'
	assert_output "{'read': 2, 'unparsed': 0, 'unlabelled': 2, 'other': 2}"
}

@test "stats: the old send lines (numeric ids, no channel or delay) count too" {
	run "$S" "$F/old.log"
	assert_success
	assert_line "         1  messages received"
	assert_line "         1  recipients delivered (local 0, remote 0, unknown 1)"
	assert_line "         1  deliveries, median 5.0 s, 95th percentile 5.0 s, max 5.0 s"
	assert_line "         0  unparsed lines"
	assert_line "         1  other lines"
}

@test "stats: --help, usage errors, an unreadable file" {
	run "$S" --help
	assert_success
	assert_output --partial "usage: qpost-stats [--json]"
	run "$S" --bogus
	assert_failure 100
	assert_output --partial "usage: qpost-stats"
	run "$S" --day 2024-13-01
	assert_failure 100
	run "$S" "$BATS_TEST_TMPDIR/missing"
	assert_failure 111
	assert_output "qpost-stats: fatal: unable to stat $BATS_TEST_TMPDIR/missing: No such file or directory"
	mkdir "$BATS_TEST_TMPDIR/d"
	ln -s missing "$BATS_TEST_TMPDIR/d/@4000000065a10da100000000.s"
	run "$S" "$BATS_TEST_TMPDIR/d"
	assert_failure 111
	assert_output --partial "unable to open $BATS_TEST_TMPDIR/d/@4000000065a10da100000000.s"
	refute_output --partial "messages received"
}

@test "stats: a directory is its rotated files in order, then current" {
	d="$BATS_TEST_TMPDIR/log"
	mkdir "$d"
	# Out of order on purpose: the later file written first.  The
	# message starts in the older file and ends in current.
	printf '@4000000065a10dab00000000 send: delivery 1: success: msg 0K4QZ3V8HD.7 to remote <b@y.example> delay 3.0: ok\n' > "$d/@4000000065a10db000000000.u"
	printf '@4000000065a10da000000000 send: new msg 0K4QZ3V8HD.7 from <a@x> size 42 rcpts 1 message-id -\n' > "$d/@4000000065a10da100000000.s"
	printf '@4000000065a10dac00000000 send: end msg 0K4QZ3V8HD.7\n' > "$d/current"
	printf 'not a log file\n' > "$d/state"
	run "$S" --json "$d"
	run jq_ 'j["lines"]["read"], j["domains"]'
	assert_output "(3, [{'domain': 'y.example', 'delivered': 1, 'bytes': 42, 'deferred': 0, 'failed': 0}])"
}

@test "stats: without arguments, the home's service logs" {
	[ -x "$QPOST_HOME/bin/qpost-stats" ]
	for s in send smtpd; do
		cp "$F/$s/"* "$QPOST_HOME/service/$s/log/main/"
	done
	ls "$QPOST_HOME/service/send/log/main/"@4000000065a10dab075bcd15.s
	run "$S" --json
	assert_success
	run jq_ 'j["received"]["messages"], j["smtp"]["connections"], j["lines"]["read"]'
	assert_output "(8, 3, 49)"
	# submission and smtps count when they have logs.
	cp "$F/smtpd/current" "$QPOST_HOME/service/submission/log/main/current"
	run "$S" --json
	run jq_ 'j["smtp"]["connections"]'
	assert_output "6"
	run "$QPOST_HOME/bin/qpost-stats" --json
	run jq_ 'j["smtp"]["connections"]'
	assert_output "6"
	rm -rf "$QPOST_HOME/service/submission" "$QPOST_HOME/service/smtps"
	run "$S" --json
	run jq_ 'j["smtp"]["connections"]'
	assert_output "3"
}
