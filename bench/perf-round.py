#!/usr/bin/python3
"""perf-round.py - one measured round of bench/perf-bench (not a test).

perf-round.py PORT MAILDIR N SESSIONS SIZE RCPT PID...

Runs Postfix's smtp-source (N messages of SIZE bytes, one per connection,
SESSIONS at a time, to RCPT) against 127.0.0.1:PORT, and watches the
server: the process trees rooted at the PIDs.  Prints one line:
  accepted_msg_s end_to_end_msg_s cpu_ms_per_msg peak_pss_kb delivered
accepted: until smtp-source ends; end to end: until MAILDIR/new holds N
files (at most 60 s + 0.1 s per message); CPU: utime+stime+cutime+cstime summed over the
trees, after minus before (a child that exits is reaped by its parent in
the tree, so its CPU moves into the parent's cutime and stays counted);
PSS: the largest sum over the trees of /proc/PID/smaps_rollup, sampled
every 0.25 s.
"""
import os, subprocess, sys, time

port, maildir, n, sessions, size, rcpt = sys.argv[1:7]
n = int(n)
roots = [int(p) for p in sys.argv[7:]]
tick = os.sysconf('SC_CLK_TCK')


def procs():
    """pid -> (ppid, cpu ticks) of every process"""
    out = {}
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % d) as f:
                s = f.read()
        except OSError:
            continue
        f = s[s.rindex(')') + 2:].split()
        out[int(d)] = (int(f[1]), sum(int(x) for x in f[11:15]))
    return out


def tree(ps):
    kids = {}
    for p, (pp, _) in ps.items():
        kids.setdefault(pp, []).append(p)
    seen, todo = [], list(roots)
    while todo:
        p = todo.pop()
        if p in ps and p not in seen:
            seen.append(p)
            todo.extend(kids.get(p, []))
    return seen


def cpu():
    ps = procs()
    return sum(ps[p][1] for p in tree(ps))


def pss():
    total = 0
    for p in tree(procs()):
        try:
            with open('/proc/%d/smaps_rollup' % p) as f:
                for line in f:
                    if line.startswith('Pss:'):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


def count():
    try:
        return len(os.listdir(os.path.join(maildir, 'new')))
    except OSError:
        return 0


c0 = cpu()
t0 = time.monotonic()
src = subprocess.Popen(['smtp-source', '-s', sessions, '-m', str(n),
                        '-l', size, '-f', 'bench@test.example', '-t', rcpt,
                        '-M', 'client.example', '127.0.0.1:' + port],
                       stdout=subprocess.DEVNULL)
peak, accepted, last = 0, None, 0.0
deadline = t0 + 60 + n * 0.1
while True:
    now = time.monotonic()
    if accepted is None and src.poll() is not None:
        accepted = now
    got = count()
    if got >= n and accepted is not None:
        break
    if now > deadline:
        break
    if now - last >= 0.25:
        peak = max(peak, pss())
        last = now
    time.sleep(0.005)
t1 = time.monotonic()
if accepted is None:
    src.kill()
    src.wait()
    accepted = t1
c1 = cpu()
got = count()
print('%.0f %.0f %.2f %d %d' % (n / (accepted - t0), got / (t1 - t0),
                                (c1 - c0) * 1000.0 / tick / max(got, 1),
                                peak, got))
