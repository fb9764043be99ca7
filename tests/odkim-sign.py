"""odkim-sign.py - sign a message with OpenDKIM's library (Debian's
libopendkim11, through ctypes: opendkim-testmsg signs only rsa-sha1),
relaxed/relaxed, RSA-SHA256 or Ed25519-SHA256.

Usage: odkim-sign.py KEYFILE DOMAIN SELECTOR rsa|ed25519 < msg > signed
The message has LF line ends and ends in one (OpenDKIM insists).
"""
import ctypes
import sys

lib = ctypes.CDLL("libopendkim.so.11")
lib.dkim_init.restype = ctypes.c_void_p
lib.dkim_sign.restype = ctypes.c_void_p
lib.dkim_sign.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p,
    ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int,
    ctypes.c_int, ctypes.c_int, ctypes.c_ssize_t, ctypes.POINTER(ctypes.c_int)]
for f in ("dkim_header", "dkim_body"):
    getattr(lib, f).argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
lib.dkim_eoh.argtypes = [ctypes.c_void_p]
lib.dkim_eom.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
lib.dkim_getsighdr.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_size_t]
key, dom, sel, alg = sys.argv[1:5]
msg = sys.stdin.buffer.read()
head, _, body = msg.partition(b"\n\n")
fields = []
for line in head.split(b"\n"):
    if line[:1] in (b" ", b"\t") and fields:
        fields[-1] += b"\r\n" + line
    else:
        fields.append(line)
st = ctypes.c_int(0)
l = lib.dkim_init(None, None)
d = lib.dkim_sign(l, b"x", None, open(key, "rb").read(), sel.encode(), dom.encode(),
                  1, 1, 2 if alg == "ed25519" else 1, -1, ctypes.byref(st))
assert d and st.value == 0, st.value
for f in fields:
    assert lib.dkim_header(d, f, len(f)) == 0
assert lib.dkim_eoh(d) == 0
b = body.replace(b"\n", b"\r\n")
assert lib.dkim_body(d, b, len(b)) == 0
r = lib.dkim_eom(d, None)
lib.dkim_geterror.restype = ctypes.c_char_p
lib.dkim_geterror.argtypes = [ctypes.c_void_p]
assert r == 0, (r, lib.dkim_geterror(d))
buf = ctypes.create_string_buffer(8192)
assert lib.dkim_getsighdr(d, buf, 8192, len("DKIM-Signature: ")) == 0
sys.stdout.buffer.write(b"DKIM-Signature: " + buf.value.replace(b"\r\n", b"\n") + b"\n" + msg)
