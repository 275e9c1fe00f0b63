"""Tiny local HTTP servers for the S3 integration test (127.0.0.1 only).

  fake_server.py imds PORTFILE ACCESS SECRET   IMDSv2: PUT /latest/api/token, then
                                                the role list and its credentials
                                                (401 without the token header)
  fake_server.py flaky PORTFILE                 S3-like endpoint: GET /b/retry -> 503 SlowDown
                                                twice, then 200 "recovered"; /b/short ->
                                                Content-Length 100 with 50 bytes sent;
                                                /b/always500 -> 500 InternalError;
                                                /b/moved -> 301 + x-amz-bucket-region: eu-west-1
                                                unless signed for eu-west-1
  fake_server.py blackhole PORTFILE             accepts connections, never answers

The chosen port is written to PORTFILE.  Every request is appended to
PORTFILE.log ("METHOD PATH").
"""
import http.server
import json
import socket
import sys
import threading
import time

mode, portfile = sys.argv[1], sys.argv[2]
counts = {}
lock = threading.Lock()


def log(line):
    with lock, open(portfile + ".log", "a") as f:
        f.write(line + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body, ctype="text/plain", length=None):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data) if length is None else length))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self):
        log("PUT " + self.path)
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        if mode == "imds" and self.path == "/latest/api/token" and \
                self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            return self.send(200, "TOKEN123")
        self.send(404, "not found")

    def do_GET(self):
        log("GET " + self.path)
        if mode == "imds":
            if self.headers.get("X-aws-ec2-metadata-token") != "TOKEN123":
                return self.send(401, "missing token")
            if self.path == "/latest/meta-data/iam/security-credentials/":
                return self.send(200, "test-role")
            if self.path == "/latest/meta-data/iam/security-credentials/test-role":
                exp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
                return self.send(200, json.dumps({
                    "Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": sys.argv[3],
                    "SecretAccessKey": sys.argv[4], "Token": "", "Expiration": exp}),
                    "application/json")
            return self.send(404, "not found")
        if mode == "flaky":
            with lock:
                counts[self.path] = counts.get(self.path, 0) + 1
                k = counts[self.path]
            if self.path.startswith("/b/retry"):
                if k <= 2:
                    return self.send(503, "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
                                     "application/xml")
                return self.send(200, "recovered")
            if self.path.startswith("/b/short"):
                self.send(200, "x" * 50, length=100)
                self.wfile.flush()
                self.close_connection = True
                return
            if self.path.startswith("/b/moved"):
                if "/eu-west-1/s3/" in (self.headers.get("Authorization") or ""):
                    return self.send(200, "moved ok")
                self.send_response(301)
                body = b"<Error><Code>PermanentRedirect</Code><Message>wrong region</Message></Error>"
                self.send_header("x-amz-bucket-region", "eu-west-1")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            if self.path.startswith("/b/always500"):
                return self.send(500, "<Error><Code>InternalError</Code><Message>boom</Message></Error>",
                                 "application/xml")
        self.send(404, "<Error><Code>NoSuchKey</Code></Error>", "application/xml")


def main():
    if mode == "blackhole":
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        open(portfile, "w").write(str(s.getsockname()[1]))
        conns = []
        while True:
            c, _ = s.accept()
            conns.append(c)  # never answer
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    open(portfile, "w").write(str(srv.server_address[1]))
    srv.serve_forever()


main()
