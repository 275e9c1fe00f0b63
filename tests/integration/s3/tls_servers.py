"""Local TLS servers for the TLS integration test (127.0.0.1 only).

  tls_servers.py https CERT KEY PORTFILE
      HTTPS server presenting CERT (e.g. an expired one): every GET answers
      200 "tls-ok".
  tls_servers.py imds CERT KEY PORTFILE ACCESS SECRET
      IMDSv2 over HTTPS (an https:// s3.imds_endpoint): PUT
      /latest/api/token, then the role "tls-role" and its credentials.
  tls_servers.py aws-proxy CERT KEY PORTFILE REGION
      An HTTP proxy standing in for AWS: it accepts CONNECT, terminates TLS
      itself with CERT (issued for s3.us-east-1.amazonaws.com by the test CA)
      and answers every S3 request with 301 PermanentRedirect and the header
      "x-amz-bucket-region: REGION" (a hostile value in the test).

The chosen port is written to PORTFILE.  Every CONNECT and request is
appended to PORTFILE.log ("CONNECT host:port", "GET /path host=HOST").
"""
import http.server
import socket
import socketserver
import ssl
import sys
import threading

mode, cert, key, portfile = sys.argv[1:5]
region = access = sys.argv[5] if len(sys.argv) > 5 else ""   # aws-proxy: REGION; imds: ACCESS
secret = sys.argv[6] if len(sys.argv) > 6 else ""
lock = threading.Lock()


def log(line):
    with lock, open(portfile + ".log", "a") as f:
        f.write(line + "\n")


def context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


def read_head(f):
    """Request line and headers (dict, lower-case names) of one request."""
    line = f.readline()
    if not line:
        return None, None
    headers = {}
    while True:
        h = f.readline()
        if not h or h in (b"\r\n", b"\n"):
            break
        name, _, value = h.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return line.decode("latin-1").strip(), headers


class Proxy(socketserver.StreamRequestHandler):
    def handle(self):
        line, _ = read_head(self.rfile)
        if not line:
            return
        parts = line.split()
        if len(parts) < 2 or parts[0] != "CONNECT":
            log("DIRECT " + line)
            self.wfile.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        log("CONNECT " + parts[1])
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        try:
            tls = context().wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError) as e:
            log("TLS-FAILED %s" % e)
            return
        f = tls.makefile("rb")
        while True:
            try:
                line, headers = read_head(f)
            except (ssl.SSLError, OSError):
                return
            if not line:
                return
            n = int(headers.get("content-length") or 0)
            if n:
                f.read(n)
            log("%s host=%s" % (" ".join(line.split()[:2]), headers.get("host", "")))
            body = (b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>PermanentRedirect</Code>"
                    b"<Message>moved</Message></Error>")
            head = ("HTTP/1.1 301 Moved Permanently\r\nx-amz-bucket-region: %s\r\n"
                    "Content-Type: application/xml\r\nContent-Length: %d\r\n\r\n" % (region, len(body)))
            try:
                tls.sendall(head.encode("latin-1") + body)
            except OSError:
                return


class Https(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, text):
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self):
        log("PUT " + self.path)
        if mode == "imds" and self.path == "/latest/api/token":
            return self.send(200, "TLSTOKEN")
        self.send(404, "not found")

    def do_GET(self):
        log("GET " + self.path)
        if mode != "imds":
            return self.send(200, "tls-ok")
        if self.headers.get("X-aws-ec2-metadata-token") != "TLSTOKEN":
            return self.send(401, "no token")
        if self.path == "/latest/meta-data/iam/security-credentials/":
            return self.send(200, "tls-role")
        if self.path == "/latest/meta-data/iam/security-credentials/tls-role":
            return self.send(200, '{"Code": "Success", "AccessKeyId": "%s", "SecretAccessKey": "%s", '
                                  '"Expiration": "2099-01-01T00:00:00Z"}' % (access, secret))
        self.send(404, "not found")


class TlsHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def get_request(self):
        sock, addr = self.socket.accept()
        try:
            return context().wrap_socket(sock, server_side=True), addr
        except (ssl.SSLError, OSError):
            sock.close()
            raise OSError("handshake failed")


class ProxyServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


if mode in ("https", "imds"):
    srv = TlsHTTPServer(("127.0.0.1", 0), Https)
elif mode == "aws-proxy":
    srv = ProxyServer(("127.0.0.1", 0), Proxy)
else:
    sys.exit("unknown mode " + mode)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os  # noqa: E402
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
