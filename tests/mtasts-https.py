#!/usr/bin/python3
"""mtasts-https.py ADDR PORT CERT KEY ROOT - the HTTPS server of
tests/mtasts.bats: serves /.well-known/mta-sts.txt for each host name
(the Host header, without a port) from ROOT/HOST/, read afresh on each
request so a test changes what is served by writing files:

  ROOT/HOST/policy     the body (absent: 404)
  ROOT/HOST/type       the Content-Type (default "text/plain")
  ROOT/HOST/redirect   a 302 to the URL it holds, instead of the body
  ROOT/HOST/hang       accept the request and never answer

Each request is logged as "HOST PATH" to ROOT/requests.log.  One thread
per connection, so a hanging request holds no other."""
import http.server
import os
import ssl
import sys
import threading


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        root = self.server.root
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        with open(os.path.join(root, "requests.log"), "a") as log:
            log.write("%s %s\n" % (host, self.path))
        d = os.path.join(root, os.path.basename(host))
        if os.path.exists(os.path.join(d, "hang")):
            threading.Event().wait()	# ended with the process
        if os.path.exists(os.path.join(d, "redirect")):
            with open(os.path.join(d, "redirect")) as f:
                url = f.read().strip()
            self.send_response(302)
            self.send_header("Location", url)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        p = os.path.join(d, "policy")
        if self.path != "/.well-known/mta-sts.txt" or not os.path.exists(p):
            self.send_error(404)
            return
        with open(p, "rb") as f:
            body = f.read()
        ctype = "text/plain"
        if os.path.exists(os.path.join(d, "type")):
            with open(os.path.join(d, "type")) as f:
                ctype = f.read().strip()
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main():
    addr, port, cert, key, root = sys.argv[1:6]
    srv = http.server.ThreadingHTTPServer((addr, int(port)), Handler)
    srv.daemon_threads = True
    srv.root = root
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.serve_forever()


main()
