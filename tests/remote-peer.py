"""remote-peer.py - an SMTP peer for tests/remote*.bats, on aiosmtpd.

Usage: remote-peer.py HOST PORT DIR [--rcpt ADDR=REPLY]... [--stall]

Each message accepted is written to DIR/N.msg (the DATA bytes as they
arrived, CRLF line ends, dot-stuffing undone) and DIR/N.env (MAIL FROM
with its parameters, then one RCPT per line).  --rcpt answers RCPT TO
for ADDR with REPLY (e.g. "550 5.1.1 no such user").  --stall never
answers the end of DATA (for timeout tests).
"""
import argparse
import asyncio
import os

from aiosmtpd.smtp import SMTP

ap = argparse.ArgumentParser()
ap.add_argument("host")
ap.add_argument("port", type=int)
ap.add_argument("dir")
ap.add_argument("--rcpt", action="append", default=[])
ap.add_argument("--stall", action="store_true")
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
        os.rename(base + ".env.tmp", base + ".env")
        return "250 2.0.0 queued as %d" % count


loop = asyncio.new_event_loop()
server = loop.run_until_complete(loop.create_server(
    lambda: SMTP(Handler(), decode_data=False, hostname="peer.test"),
    host=args.host, port=args.port))
loop.run_forever()
