"""dkim-check.py - verify every DKIM-Signature of a message with dkimpy
(Debian's python3-dkim), the keys from a real DNS server.

Usage: dkim-check.py DNSPORT FILE
Prints one line per signature, top to bottom: "pass d=D s=S" or
"fail d=D s=S"; exit 0 when there is one and all pass, 1 otherwise.
The file may have LF or CRLF line ends (LF is made CRLF, as on the wire).
"""
import sys

import dkim
import dns.resolver

port, path = int(sys.argv[1]), sys.argv[2]
res = dns.resolver.Resolver(configure=False)
res.nameservers = ["127.0.0.1"]
res.port = port


def dnsfunc(name, timeout=5):
    try:
        a = res.resolve(name.decode(), "TXT", lifetime=timeout)
    except Exception:
        return None
    for r in a:
        return b"".join(r.strings)


msg = open(path, "rb").read()
if b"\r\n" not in msg:
    msg = msg.replace(b"\n", b"\r\n")
d = dkim.DKIM(msg)
sigs = [v for k, v in d.headers if k.lower() == b"dkim-signature"]
ok = bool(sigs)
for i, v in enumerate(sigs):
    tags = dkim.util.parse_tag_value(v)
    try:
        good = d.verify(idx=i, dnsfunc=dnsfunc)
    except dkim.DKIMException:
        good = False
    ok = ok and good
    print("%s d=%s s=%s" % ("pass" if good else "fail",
                            tags[b"d"].decode(), tags[b"s"].decode()))
sys.exit(0 if ok else 1)
