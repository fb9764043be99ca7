"""remote-peer.py - an SMTP peer for tests/remote*.bats, on aiosmtpd.

Usage: remote-peer.py HOST PORT DIR [--rcpt ADDR=REPLY]... [--stall]
           [--cert PEM --key PEM [--require-tls] [--implicit]
            [--starttls-fail garbage|drop]] [--auth USER:PASSWORD]

Each message accepted is written to DIR/N.msg (the DATA bytes as they
arrived, CRLF line ends, dot-stuffing undone) and DIR/N.env (MAIL FROM
with its parameters, then one RCPT per line).  --rcpt answers RCPT TO
for ADDR with REPLY (e.g. "550 5.1.1 no such user").  --stall never
answers the end of DATA (for timeout tests).

TLS (tests/tls-out.bats): --cert/--key (the certificate PEM may hold
the chain) offer STARTTLS; --require-tls refuses MAIL before it;
--implicit is TLS on connect (port 465 style); --starttls-fail answers
STARTTLS with 220 and then sends garbage instead of a handshake, or
drops the connection without a reply.  --auth requires AUTH (PLAIN or
LOGIN, over TLS only; --login-only: LOGIN alone) with that user and
password.  Each message's
DIR/N.tls says "TLSv1.3 CIPHER" or "none", and "auth USER" if logged in.
"""
import argparse
import asyncio
import os
import ssl

from aiosmtpd.smtp import SMTP, AuthResult

ap = argparse.ArgumentParser()
ap.add_argument("host")
ap.add_argument("port", type=int)
ap.add_argument("dir")
ap.add_argument("--rcpt", action="append", default=[])
ap.add_argument("--stall", action="store_true")
ap.add_argument("--cert")
ap.add_argument("--key")
ap.add_argument("--require-tls", action="store_true")
ap.add_argument("--implicit", action="store_true")
ap.add_argument("--starttls-fail", choices=["garbage", "drop"])
ap.add_argument("--auth")
ap.add_argument("--login-only", action="store_true")
args = ap.parse_args()
replies = dict(r.split("=", 1) for r in args.rcpt)
count = 0


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, options):
        if address in replies:
            return replies[address]
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 recipient ok"

    async def handle_DATA(self, server, session, envelope):
        global count
        if args.stall:
            await asyncio.sleep(3600)
        count += 1
        base = os.path.join(args.dir, str(count))
        with open(base + ".env.tmp", "w") as f:
            f.write(" ".join([envelope.mail_from] + envelope.mail_options)
                    + "\n")
            for r in envelope.rcpt_tos:
                f.write(r + "\n")
        with open(base + ".msg", "wb") as f:
            f.write(envelope.original_content)
        so = server.transport.get_extra_info("ssl_object")
        with open(base + ".tls", "w") as f:
            f.write("%s %s\n" % (so.version(), so.cipher()[0]) if so
                    else "none\n")
            if session.authenticated:
                f.write("auth %s\n" % session.auth_data)
        os.rename(base + ".env.tmp", base + ".env")
        return "250 2.0.0 queued as %d" % count


ctx = None
if args.cert:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.cert, args.key)


class Peer(SMTP):
    async def smtp_STARTTLS(self, arg):
        if args.starttls_fail == "drop":
            self.transport.close()
            return
        if args.starttls_fail == "garbage":
            await self.push("220 2.0.0 go ahead")
            self.transport.write(b"this is no TLS handshake\r\n" * 4)
            self.transport.close()
            return
        await super().smtp_STARTTLS(arg)


def authenticator(server, session, envelope, mechanism, data):
    user, pw = args.auth.split(":", 1)
    ok = data.login.decode() == user and data.password.decode() == pw
    return AuthResult(success=ok, handled=False,
                      auth_data=data.login.decode())


def make():
    kw = {}
    if ctx and not args.implicit:
        kw["tls_context"] = ctx
        kw["require_starttls"] = args.require_tls
    if args.auth:
        kw["authenticator"] = authenticator
        kw["auth_required"] = True
        # TLS on connect is TLS, though aiosmtpd does not know it
        kw["auth_require_tls"] = not args.implicit
        if args.login_only:
            kw["auth_exclude_mechanism"] = ["PLAIN"]
    return Peer(Handler(), decode_data=False, hostname="peer.test", **kw)


loop = asyncio.new_event_loop()
server = loop.run_until_complete(loop.create_server(
    make, host=args.host, port=args.port,
    ssl=ctx if args.implicit else None))
loop.run_forever()
