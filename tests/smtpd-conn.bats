#!/usr/bin/env bats
# smtpd: connections that would be held for ever (issue 17).  A limit on
# sessions per client address (control/concurrencyperip: one fcntl slot
# lock per session in run/smtpd/smtp), a deadline for the whole session
# (control/timeoutsession) and for each DATA (control/timeoutdata), each
# answered with a 421.  Every load loop here is bounded in count and time.

load helper
load smtpd-lib

setup() { qpost_setup; echo ./Maildir/ > "$QPOST_HOME/alias/.qmail-default"; }
teardown() { qpost_teardown; }

# direct - run the python on stdin with session(ip, VAR=value...), which
# starts smtpd directly (no tcpserver) and prints the greeting's code; the
# script ends (kills and waits for) only the processes it started.
direct() {
	local prog
	prog=$(cat)
	"$PY" - "$QPOST_HOME/bin/smtpd" "$prog" <<'EOF'
import os, signal, subprocess, sys, time
smtpd = sys.argv[1]
procs = []
def session(ip, **env):
    e = dict(os.environ, TCPREMOTEIP=ip)
    e.update(env)
    p = subprocess.Popen([smtpd], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=e)
    procs.append(p)
    line = p.stdout.readline().decode().rstrip('\r\n')
    print(ip, ' '.join(env), line[:3])
    p.greeting = line
    return p
try:
    exec(sys.argv[2])
finally:
    for p in procs:		# EOF: each ends as a dropped session
        p.stdin.close()
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
EOF
}

@test "concurrencyperip: the N+1st session of an address gets 421 4.7.0; other addresses, /64s, RELAYCLIENT and submission are served; kill -9 frees the slot" {
	echo 2 > "$QPOST_HOME/control/concurrencyperip"
	run direct <<'EOF'
a = session('192.0.2.1'); session('192.0.2.1'); session('192.0.2.1')
session('192.0.2.2')
session('192.0.2.1', RELAYCLIENT='')
session('192.0.2.1', SUBMISSION='1')
session('2001:db8::1'); session('2001:db8::2'); session('2001:db8::ffff:1')
session('2001:db8:0:1::1')
session('::ffff:192.0.2.2'); session('::ffff:192.0.2.2')
a.send_signal(signal.SIGKILL); a.wait()
session('192.0.2.1')
session('192.0.2.1')
EOF
	assert_success
	assert_output "192.0.2.1  220
192.0.2.1  220
192.0.2.1  421
192.0.2.2  220
192.0.2.1 RELAYCLIENT 220
192.0.2.1 SUBMISSION 220
2001:db8::1  220
2001:db8::2  220
2001:db8::ffff:1  421
2001:db8:0:1::1  220
::ffff:192.0.2.2  220
::ffff:192.0.2.2  421
192.0.2.1  220
192.0.2.1  421"
	# every session has ended: no slot is held in either count file, and
	# no file was made per address (one for port 25, one for submission)
	[ "$(ls "$QPOST_HOME/run/smtpd" | tr '\n' ' ')" = "smtp submission " ]
	"$PY" - "$QPOST_HOME/run/smtpd" <<'EOF'
import fcntl, os, sys
d = sys.argv[1]
for n in os.listdir(d):
    with open(os.path.join(d, n), 'r+b') as f:
        fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)	# raises if held
        assert os.fstat(f.fileno()).st_size == 0
EOF
}

@test "concurrencyperip: 421 text and log line; 0 means no limit" {
	echo 1 > "$QPOST_HOME/control/concurrencyperip"
	run direct <<'EOF'
session('192.0.2.1')
print(session('192.0.2.1').greeting)
EOF
	assert_line '421 4.7.0 too many connections from your address, closing connection'
	echo 0 > "$QPOST_HOME/control/concurrencyperip"
	run direct <<'EOF'
for i in range(20):
    session('192.0.2.1')
EOF
	[ "$(printf '%s\n' "$output" | grep -c ' 220$')" = 20 ]
}

@test "through tcpserver: 3 sessions from 127.0.0.2 held, the 4th gets 421, 127.0.0.3 is served meanwhile" {
	echo 3 > "$QPOST_HOME/control/concurrencyperip"
	smtpd_start
	run timeout 60 "$PY" - "$PORT" <<'EOF'
import smtplib, socket, sys, time
port = int(sys.argv[1])
def conn(src):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(10)
    s.connect(('127.0.0.1', port))
    return s, s.recv(4096).decode().strip()
held = [conn('127.0.0.2') for i in range(3)]
print([g[:3] for s, g in held])
s, g = conn('127.0.0.2')
print(g, repr(s.recv(4096)))
c = smtplib.SMTP('127.0.0.1', port, timeout=10, source_address=('127.0.0.3', 0))
print(c.sendmail('a@b.example', ['u@test.example'], 'Subject: x\r\n\r\nserved\r\n'))
c.quit()
held[0][0].close()
for i in range(50):
    s, g = conn('127.0.0.2')
    if g.startswith('220'):
        break
    time.sleep(0.1)
print('after a close:', g[:3])
EOF
	assert_success
	assert_line "['220', '220', '220']"
	assert_line "421 4.7.0 too many connections from your address, closing connection b''"
	assert_line '{}'
	assert_line 'after a close: 220'
	[ "$(queue_count)" = 1 ]
	run cat "$LOG"
	assert_line 'smtpd: refused ip 127.0.0.2 helo - from - to - limit 3: 421 4.7.0 too many connections from your address, closing connection'
	assert_line 'smtpd: end ip 127.0.0.2 helo - msgs 0 too many connections'
}

# The issue's "500 slow clients held all 500 slots": tcpserver -c 500,
# 500 slow clients from 127.0.0.2, each keeping its session alive with one
# byte a second (well inside timeoutsmtpd) and trying again at once when
# refused, at most 3 times.  Before the per-address limit they held all
# 500 slots and 127.0.0.3 got no greeting; with a limit of 10 they hold
# 10, the rest are refused, and a client from 127.0.0.3 is served.
# Bounded: 40 s at most, 3 connects per slow client.
@test "500 slow clients from one address (tcpserver -c 500, limit 10) cannot keep another address from being served" {
	echo 10 > "$QPOST_HOME/control/concurrencyperip"
	SMTPD_CONC=500 smtpd_start
	run timeout 90 "$PY" - "$PORT" <<'EOF'
import smtplib, socket, sys, threading, time
port = int(sys.argv[1])
stop = time.time() + 40
held, refused, settled = [0], [0], [0]
lock = threading.Lock()
def slow():
    for n in range(3):
        s = socket.socket()
        try:
            s.bind(('127.0.0.2', 0))
            s.settimeout(15)
            s.connect(('127.0.0.1', port))
            g = s.recv(4096)
        except OSError:
            s.close()
            continue
        if not g.startswith(b'220'):
            with lock:
                refused[0] += 1
            s.close()
            continue
        with lock:
            held[0] += 1
            settled[0] += 1
        try:
            while time.time() < stop:
                for b in b'NOOP\r\n':
                    s.send(bytes([b]))
                    time.sleep(1)
        except OSError:
            pass
        s.close()
        return
    with lock:
        settled[0] += 1
ts = [threading.Thread(target=slow, daemon=True) for i in range(500)]
for t in ts:
    t.start()
# every slow client holds a session or has been refused 3 times
while settled[0] < 500 and time.time() < stop - 15:
    time.sleep(0.2)
with lock:
    holding = held[0]
t0 = time.time()
try:
    c = smtplib.SMTP('127.0.0.1', port, timeout=8,
                     source_address=('127.0.0.3', 0))
    r = c.sendmail('a@b.example', ['u@test.example'],
                   'Subject: x\r\n\r\nstill served\r\n')
    c.quit()
    print('served', r, 'in %.1f s' % (time.time() - t0))
except Exception as e:
    print('not served:', repr(e))
stop = time.time()	# the slow clients end their sessions
for t in ts:
    t.join(3)
print('held', holding, 'refused>0', refused[0] > 0)
EOF
	assert_success
	assert_line --regexp '^served \{\} in [0-9.]+ s$'
	assert_line 'held 10 refused>0 True'
	[ "$(queue_count)" = 1 ]
}

@test "control/timeoutdata: a client trickling DATA a byte at a time gets 421 4.4.2 at the deadline; nothing queued, the tmp file removed" {
	echo 2 > "$QPOST_HOME/control/timeoutdata"
	smtpd_start
	run timeout 60 "$PY" - "$PORT" <<'EOF'
import socket, sys, time
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), 10)
s.settimeout(10)
s.recv(4096)
s.sendall(b'EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<u@test.example>\r\nDATA\r\n')
got = b''
while b'354' not in got:
    got += s.recv(4096)
t0 = time.time()
try:
    for i in range(20):		# at most 10 s
        s.send(b'x')
        time.sleep(0.5)
except OSError:
    pass
rest = b''
try:
    while True:
        b = s.recv(4096)
        if not b:
            break
        rest += b
except OSError:
    pass
print(rest.decode().strip(), 'after %d s' % round(time.time() - t0))
EOF
	assert_success
	assert_output --regexp '^421 4\.4\.2 DATA time limit exceeded, closing connection after [23] s$'
	[ "$(queue_count)" = 0 ]
	wait_for 10 empty_dir "$QPOST_HOME/queue/tmp"
	run cat "$LOG"
	assert_line 'smtpd: end ip 127.0.0.1 helo c msgs 0 DATA time limit'
}

@test "control/timeoutsession: a client busy with NOOPs gets 421 4.4.2 at the session deadline" {
	echo 2 > "$QPOST_HOME/control/timeoutsession"
	smtpd_start
	run timeout 60 "$PY" - "$PORT" <<'EOF'
import socket, sys, time
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), 10)
s.settimeout(10)
got = s.recv(4096)
t0 = time.time()
try:
    for i in range(20):		# at most 10 s
        s.send(b'NOOP\r\n')
        time.sleep(0.5)
        b = s.recv(4096)
        got += b
        if not b or b'421' in b:
            break
except OSError:
    pass
print(got.decode().strip().split('\r\n')[-1], 'after %d s' % round(time.time() - t0))
EOF
	assert_success
	assert_output --regexp '^421 4\.4\.2 session time limit exceeded, closing connection after [23] s$'
	run cat "$LOG"
	assert_line --regexp 'msgs 0 session time limit$'
}
