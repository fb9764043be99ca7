#!/usr/bin/python3
"""pickup-times.py - the figures of one bench/pickup-bench cell (not a test).

pickup-times.py qpost < perf-script-output
    perf script -F event,time,trace of the cell's uprobes (pickup-bench
    names them): commit (queue, new/INODE), ready, request, done (send,
    the message's ID) and worker (qpost-spawn, the ID).  The k-th commit
    of an inode is the k-th message with that inode (the pool reuses a
    file only once its message is gone); the ID ends in the inode.
    Prints "N|A|B|C|D|E": how many messages had all five, and
    commit->ready, ready->request, request->worker, commit->worker and
    request->done.
pickup-times.py postfix MAILLOG RCPT
    Postfix's log lines for RCPT@test.example: "N|B|D", its delays b
    (in the queue manager) and d (the delivery).
Each figure is "median p90 p99 max" in milliseconds, "-" without data.
"""
import re, sys


def q(v, prec):
    if not v:
        return "-"
    v = sorted(v)
    at = lambda p: v[min(len(v) - 1, int(len(v) * p))]
    return " ".join("%.*f" % (prec, x) for x in (at(0.5), at(0.9), at(0.99), v[-1]))


def qpost():
    commits = {}	# inode -> commit times, in order
    msgs = {}	# ID -> {event: time}
    for line in sys.stdin:
        m = re.match(r"\s*(\S+):\s+qpb_\w+:(\w+):\s+\(\w+\)\s*\w+=\"([^\"]*)\"", line)
        if not m:
            continue
        t, what, v = float(m.group(1)) * 1000, m.group(2), m.group(3)
        if what == "commit":
            commits.setdefault(v[len("new/"):], []).append(t)
        else:
            msgs.setdefault(v, {}).setdefault(what, t)
    byino = {}
    for qid, ev in msgs.items():
        if "ready" in ev:
            byino.setdefault(qid.rsplit(".", 1)[-1], []).append(ev)
    whole = []
    for ino, evs in byino.items():
        evs.sort(key=lambda e: e["ready"])
        for c, ev in zip(commits.get(ino, []), evs):
            ev["commit"] = c
            if len(ev) == 5:
                whole.append(ev)
    span = lambda a, b: q([e[b] - e[a] for e in whole], 2)
    print(len(whole), span("commit", "ready"), span("ready", "request"),
          span("request", "worker"), span("commit", "worker"),
          span("request", "done"), sep="|")


def postfix(maillog, rcpt):
    b, d = [], []
    pat = re.compile(r"to=<" + re.escape(rcpt) +
                     r"@test\.example>.*delays=([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+)")
    for line in open(maillog, errors="replace"):
        m = pat.search(line)
        if m:
            b.append(float(m.group(2)) * 1000)
            d.append(float(m.group(4)) * 1000)
    print(len(b), q(b, 0), q(d, 0), sep="|")


if sys.argv[1:2] == ["qpost"]:
    qpost()
elif sys.argv[1:2] == ["postfix"] and len(sys.argv) == 4:
    postfix(sys.argv[2], sys.argv[3])
else:
    sys.exit("usage: pickup-times.py qpost | postfix MAILLOG RCPT")
