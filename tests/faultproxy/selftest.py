#!/usr/bin/python3
"""Self-test of tests/faultproxy/faultproxy.py against a trivial local HTTP
server: every fault kind does what it claims, pass-through is byte-exact,
counts/nth/probability rules select the right requests, the control API
reports what was injected.  Exits non-zero on failure; prints a summary."""
import hashlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
STORE = {}
FAILS = []
CHECKS = [0]


def payload(n):
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(b"%d" % i).digest()
        i += 1
    return bytes(out[:n])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        self.path = self.path.split("?")[0]
        if self.path.startswith("/obj/"):
            body = payload(int(self.path[5:]))
        elif self.path.startswith("/chunked/"):
            body = payload(int(self.path[9:]))
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(body), 7000):
                part = body[i:i + 7000]
                self.wfile.write(b"%x\r\n" % len(part) + part + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            return
        elif self.path in STORE:
            body = STORE[self.path]
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Host-Seen", self.headers.get("Host", ""))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self):
        self.send_response(200)
        self.send_header("Content-Length", "12345")
        self.end_headers()

    def do_PUT(self):
        n = int(self.headers.get("Content-Length", "0"))
        STORE[self.path] = self.rfile.read(n)
        self.send_response(200)
        self.send_header("ETag", '"%s"' % hashlib.md5(STORE[self.path]).hexdigest())
        self.send_header("Content-Length", "0")
        self.end_headers()


def check(cond, what):
    CHECKS[0] += 1
    if not cond:
        FAILS.append(what)
        print("FAIL: " + what, file=sys.stderr)


class ProxyProc:
    def __init__(self, upstream, seed=1):
        self.dir = tempfile.mkdtemp(prefix="faultproxy-selftest.")
        pf = os.path.join(self.dir, "port")
        self.p = subprocess.Popen([sys.executable, os.path.join(HERE, "faultproxy.py"), "--upstream", upstream,
                                   "--seed", str(seed), "--port-file", pf],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            if os.path.exists(pf):
                break
            time.sleep(0.05)
        self.port = int(open(pf).read())

    def conn(self, timeout=10):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def ctl(self, method, path, obj=None):
        c = self.conn()
        c.request(method, "/__fault/" + path, body=json.dumps(obj).encode() if obj is not None else None)
        r = c.getresponse()
        data = json.loads(r.read())
        c.close()
        return data

    def rules(self, *rules):
        self.ctl("POST", "reset")
        self.ctl("PUT", "rules", {"rules": list(rules)})

    def stop(self):
        self.p.kill()
        self.p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def get(px, path, timeout=10, headers=None):
    c = px.conn(timeout)
    try:
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read(), r
    finally:
        c.close()


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    up = "127.0.0.1:%d" % srv.server_address[1]
    px = ProxyProc(up)
    try:
        # pass-through, byte exact, Host header unchanged, keep-alive
        px.rules()
        c = px.conn()
        for n in (0, 1, 100000, 3 * 1024 * 1024 + 7):
            c.request("GET", "/obj/%d" % n, headers={"Host": "bucket.example:9"})
            r = c.getresponse()
            body = r.read()
            check(r.status == 200 and body == payload(n), "pass-through of %d bytes is exact" % n)
            check(r.getheader("X-Host-Seen") == "bucket.example:9", "Host header forwarded unchanged")
        c.close()
        st, body, _ = get(px, "/chunked/50000")
        check(st == 200 and body == payload(50000), "chunked upstream body re-framed exactly")
        c = px.conn()
        c.request("HEAD", "/obj/5")
        r = c.getresponse()
        check(r.status == 200 and r.getheader("Content-Length") == "12345" and r.read() == b"",
              "HEAD keeps the upstream Content-Length")
        c.close()

        # injected status codes, count semantics, S3 XML body
        for code, s3code in (("503", "SlowDown"), ("500", "InternalError"), ("429", "TooManyRequests")):
            px.rules({"match": {"method": "GET", "path": "^/obj/"}, "fault": code, "count": 2})
            got = [get(px, "/obj/10") for _ in range(3)]
            check(got[0][0] == int(code) and got[1][0] == int(code), "%s injected twice" % code)
            check(b"<Code>%s</Code>" % s3code.encode() in got[0][1], "%s carries S3 code %s" % (code, s3code))
            check(got[2][0] == 200 and got[2][1] == payload(10), "request after the count passes (%s)" % code)
        # nth and path/query matching
        px.rules({"match": {"path": "^/obj/", "query": "part=2", "nth": 2}, "fault": "500"})
        st1 = get(px, "/obj/10?part=2")[0]
        st2 = get(px, "/obj/10?part=2")[0]
        st3 = get(px, "/obj/10?part=2")[0]
        st4 = get(px, "/obj/10?part=1")[0]
        check((st1, st2, st3, st4) == (200, 500, 200, 200), "nth=2 hits only the 2nd match: %r" % ((st1, st2, st3, st4),))

        # reset mid-body
        px.rules({"fault": "reset", "after_bytes": 1000, "count": 1})
        try:
            st, body, _ = get(px, "/obj/200000")
            check(False, "reset: expected a failed read, got %d bytes" % len(body))
        except (ConnectionError, http.client.IncompleteRead) as e:
            part = getattr(e, "partial", b"")
            check(len(part) <= 1000 and payload(200000).startswith(part), "reset: partial body is a prefix")
        check(get(px, "/obj/2000")[1] == payload(2000), "connection after a reset works")

        # truncated: Content-Length says more than arrives
        px.rules({"fault": "truncate", "after_bytes": 500, "count": 1})
        try:
            _, body, _ = get(px, "/obj/4000")
            check(False, "truncate: expected IncompleteRead, got %d bytes" % len(body))
        except http.client.IncompleteRead as e:
            check(len(e.partial) == 500 and e.partial == payload(500), "truncate: exactly 500 bytes then EOF")

        # stall past the client's timeout
        px.rules({"fault": "stall", "after_bytes": 100, "seconds": 5, "count": 1})
        t0 = time.time()
        try:
            get(px, "/obj/4000", timeout=1)
            check(False, "stall: expected a timeout")
        except (socket.timeout, TimeoutError):
            check(time.time() - t0 < 4.5, "stall: the client's timeout fires first")

        # slow trickle: slow but complete and exact
        px.rules({"fault": "trickle", "bps": 40000, "count": 1})
        st, body, _ = get(px, "/obj/12000")
        check(st == 200 and body == payload(12000), "trickle: complete and exact")

        # lost reply: the upstream executed the PUT, the client sees 500
        px.rules({"match": {"method": "PUT"}, "fault": "lost", "count": 1})
        c = px.conn()
        c.request("PUT", "/up/a", body=payload(3000), headers={"Expect": "100-continue"})
        r = c.getresponse()
        r.read()
        c.close()
        check(r.status == 500 and STORE.get("/up/a") == payload(3000), "lost: stored upstream, client saw 500")
        # dropped reply: the upstream executed the PUT, the client gets a reset
        px.rules({"match": {"method": "PUT"}, "fault": "drop", "count": 1})
        c = px.conn()
        try:
            c.request("PUT", "/up/c", body=payload(1000))
            c.getresponse().read()
            check(False, "drop: expected a connection error")
        except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
            check(STORE.get("/up/c") == payload(1000), "drop: stored upstream, client saw a reset")
        c.close()
        # PUT with Expect: 100-continue forwarded intact
        c = px.conn()
        c.request("PUT", "/up/b", body=payload(2 * 1024 * 1024), headers={"Expect": "100-continue"})
        r = c.getresponse()
        r.read()
        c.close()
        check(r.status == 200 and STORE.get("/up/b") == payload(2 * 1024 * 1024), "PUT body forwarded intact")

        # control API: log and stats
        log = px.ctl("GET", "log")
        check([e["fault"] for e in log] == ["drop", "none"], "log lists every request with its fault: %r" % log)
        stats = px.ctl("GET", "stats")
        check(stats["faults"] == {"drop": 1} and stats["requests"] == 2, "stats count faults: %r" % stats)

        # probability mode is reproducible for a given seed
        seqs = []
        for _ in range(2):
            p2 = ProxyProc(up, seed=42)
            p2.rules({"probability": 0.5, "faults": ["503", "500", "429"]})
            seqs.append([get(p2, "/obj/1")[0] for _ in range(30)])
            p2.stop()
        check(seqs[0] == seqs[1] and len(set(seqs[0])) > 2, "random faults reproducible with a seed: %r" % seqs[0])
    finally:
        px.stop()
        srv.shutdown()
    if FAILS:
        print("faultproxy selftest: %d of %d checks failed" % (len(FAILS), CHECKS[0]))
        return 1
    print("faultproxy selftest: %d checks passed (8 fault kinds + pass-through)" % CHECKS[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
