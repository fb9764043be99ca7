#!/usr/bin/python3
"""local-worker.py - drive one `local -W` the way qpost-spawn does (a test
helper, not a test).

local-worker.py LOG MSG CMD... < requests

Starts CMD (local -W, maybe under setpriv) with one end of a
SOCK_SEQPACKET socketpair on its fd 0 and LOG as its fds 1 and 2.  Each
line on stdin is one request, its fields separated by '|': "id|user|uid|
gid|home|local|dash|ext|domain|sender" sent with MSG and a new report
pipe attached; "raw:FIELDS" sends them without descriptors; "eof" closes
the socket.  For each request it prints the report's lines and the
worker's answer with its working directory then ("answer 0 cwd /"), or,
when the worker ends instead, "exit N".
"""
import os, socket, subprocess, sys

log, msg, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
logf = open(log, "ab")
w = subprocess.Popen(cmd, stdin=b, stdout=logf, stderr=logf)
b.close()
print("pid %d" % w.pid, flush=True)
for line in sys.stdin:
    line = line.rstrip("\n")
    if line == "eof":
        a.close()
        print("exit %d" % w.wait(timeout=10))
        break
    raw = line.startswith("raw:")
    pkt = b"".join(f.encode() + b"\0" for f in line[4 if raw else 0:].split("|"))
    r, wr = os.pipe()
    m = os.open(msg, os.O_RDONLY)
    try:
        if raw:
            a.send(pkt)
        else:
            socket.send_fds(a, [pkt], [m, wr])
    except OSError as e:
        print("send failed: %s" % e.strerror)
    os.close(m)
    os.close(wr)
    rep = b""
    while True:
        x = os.read(r, 65536)
        if not x:
            break
        rep += x
    os.close(r)
    for l in rep.decode(errors="replace").splitlines():
        print("report " + l)
    try:
        a.settimeout(10)
        ans = a.recv(16)
    except OSError:
        ans = b""
    if ans:
        print("answer %s cwd %s" % (ans.decode(),
                                    os.readlink("/proc/%d/cwd" % w.pid)))
    else:
        print("exit %d" % w.wait(timeout=10))
        break
    sys.stdout.flush()
