"""tls-client.py - a scriptable SMTP client over TLS for the tests.

usage: tls-client.py [options] PORT [COMMAND...]
  --implicit        TLS from the first byte (port 465)
  --before CMD      a command sent in clear text before STARTTLS (repeatable)
  --inject BYTES    bytes (Python escapes) sent in the same write as STARTTLS
  --sni NAME        the server name to send
  --tls12           offer only TLS 1.2
Without --implicit: read the greeting, send the --before commands, then
STARTTLS (with --inject), then the handshake.  Then each COMMAND in turn,
waiting for its whole reply; a COMMAND "@DATA:text" sends text as a message
body and the final dot.  Every reply line is printed, CRLF as LF; the
negotiated protocol and cipher go to stderr.  Exit 0, or 1 when the
connection failed (the reason on stderr).
"""
import codecs, socket, ssl, sys

args = sys.argv[1:]
implicit, before, inject, sni, tls12 = False, [], b'', None, False
while args and args[0].startswith('--'):
    o = args.pop(0)
    if o == '--implicit':
        implicit = True
    elif o == '--before':
        before.append(args.pop(0))
    elif o == '--inject':
        inject = codecs.escape_decode(args.pop(0).encode())[0]
    elif o == '--sni':
        sni = args.pop(0)
    elif o == '--tls12':
        tls12 = True
port, cmds = int(args[0]), args[1:]

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
if tls12:
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2


class Conn:
    def __init__(self, s):
        self.s, self.buf = s, b''

    def line(self):
        while b'\r\n' not in self.buf:
            b = self.s.recv(65536)
            if not b:
                raise EOFError('server closed the connection')
            self.buf += b
        ln, self.buf = self.buf.split(b'\r\n', 1)
        return ln.decode('latin-1')

    def reply(self):
        while True:
            ln = self.line()
            print(ln, flush=True)
            if len(ln) < 4 or ln[3] != '-':
                return ln

    def send(self, data):
        self.s.sendall(data)


try:
    raw = socket.create_connection(('127.0.0.1', port), 10)
    raw.settimeout(10)
    if implicit:
        c = Conn(ctx.wrap_socket(raw, server_hostname=sni))
        c.reply()
    else:
        c = Conn(raw)
        c.reply()
        for b in before:
            c.send(b.encode() + b'\r\n')
            c.reply()
        c.send(b'STARTTLS\r\n' + inject)
        r = c.reply()
        if not r.startswith('220'):
            sys.exit(1)
        c = Conn(ctx.wrap_socket(raw, server_hostname=sni))
    print('TLS', c.s.version(), c.s.cipher()[0], file=sys.stderr)
    for cmd in cmds:
        if cmd.startswith('@DATA:'):
            body = codecs.escape_decode(cmd[6:].encode())[0]
            c.send(body.replace(b'\n', b'\r\n') + b'\r\n.\r\n')
        else:
            c.send(cmd.encode() + b'\r\n')
        c.reply()
except (OSError, EOFError, ssl.SSLError) as e:
    print('error:', e, file=sys.stderr)
    sys.exit(1)
