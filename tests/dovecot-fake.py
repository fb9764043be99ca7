"""dovecot-fake.py - a stand-in for Dovecot's auth-client socket, for
tests/checkdovecot.bats: the misbehaving servers a real Dovecot will not
play, and a record of what the client sent.

Usage: dovecot-fake.py SOCKET MODE [LOG]

MODE is one of
  silent    accept and never answer
  garbage   answer with a line that is not the protocol
  version2  a handshake of protocol version 2
  noplain   a handshake without MECH PLAIN
  ok        a good handshake, then OK for the request
  tempfail  a good handshake, then FAIL with the temp flag
  cont      a good handshake, then CONT
  badid     a good handshake, then OK for another request id
Everything a client sends is appended to LOG (if given), as it came.
"""
import os
import socket
import sys
import threading

path, mode = sys.argv[1], sys.argv[2]
log = sys.argv[3] if len(sys.argv) > 3 else None

HANDSHAKE = (b"VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nMECH\tLOGIN\tplaintext\n"
             b"SPID\t4242\nCUID\t7\nCOOKIE\t0123456789abcdef\nDONE\n")
REPLY = {
    "ok": b"OK\t1\tuser=alice\n",
    "tempfail": b"FAIL\t1\tuser=alice\ttemp\treason=database down\n",
    "cont": b"CONT\t1\t\n",
    "badid": b"OK\t2\tuser=alice\n",
}


def record(data):
    if log:
        with open(log, "ab") as f:
            f.write(data)


def serve(c):
    try:
        if mode == "silent":
            while c.recv(4096):
                pass
            return
        if mode == "garbage":
            c.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
        elif mode == "version2":
            c.sendall(b"VERSION\t2\t0\nMECH\tPLAIN\nDONE\n")
        elif mode == "noplain":
            c.sendall(b"VERSION\t1\t2\nMECH\tLOGIN\tplaintext\nDONE\n")
        else:
            c.sendall(HANDSHAKE)
        got = b""
        while b"AUTH\t" not in got or not got.endswith(b"\n"):
            d = c.recv(4096)
            if not d:
                break
            got += d
        record(got)
        if mode in REPLY:
            c.sendall(REPLY[mode])
        while c.recv(4096):
            pass
    except OSError:
        pass
    finally:
        c.close()


s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
if os.path.exists(path):
    os.unlink(path)
s.bind(path + ".tmp")
s.listen(16)
os.rename(path + ".tmp", path)
while True:
    conn, _ = s.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
