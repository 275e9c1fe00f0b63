#!/usr/bin/python3
"""Loopback HTTP fault proxy for the S3 fault-injection tests.

Sits between a client (the imgpca extension, /usr/bin/aws) and an upstream
HTTP server (the test Ceph RGW) and, per request, either forwards it
unchanged or injects a fault chosen by rules:

  503       answer "503 SlowDown" (S3 XML error body), request not forwarded
  500       answer "500 InternalError", not forwarded
  429       answer "429 TooManyRequests", not forwarded
  reset     forward, send the response headers and `after_bytes` bytes of
            the body, then reset the connection (TCP RST)
  truncate  forward, send the headers (full Content-Length) and `after_bytes`
            bytes, then close cleanly: a body shorter than announced
  stall     forward, send the headers and `after_bytes` bytes, then send
            nothing for `seconds` (past the client's timeout), then close
  trickle   forward and send the whole response, `bps` bytes per second
  drop      forward (the upstream executes the request), then reset the
            connection before any byte of the response
  lost      forward (the upstream executes the request) but answer 500
            instead of the upstream's reply: an outcome the client cannot know
  none      forward unchanged

Rules are tried in order; the first that matches a request and still has
`count` left (null = unlimited) applies.  A rule may instead carry
`probability` (with the proxy's --seed, reproducible) and `faults` (a list
to draw from), and `max_per_request` caps the faults given to one request
(method + path + query) so that retries must eventually succeed.  Match keys, all optional: method, path (regex, searched in
the path), query (regex, searched in the raw query), nth (apply only to the
nth matching request, 1-based).

Control API on the same port (never forwarded), for tests:
  PUT  /__fault/rules   body: JSON {"rules": [...]}   replaces the rules
  GET  /__fault/log     JSON list of {method, path, query, fault, status, bytes}
                        (bytes: of the upstream's response body, when forwarded)
  GET  /__fault/stats   JSON {requests, faults: {kind: n}}
  POST /__fault/reset   clears rules, log and stats

The request is forwarded with its Host header unchanged (SigV4 signs it);
"Expect: 100-continue" is answered by the proxy itself.  Responses are sent
to the client with a Content-Length (chunked upstream bodies are
re-framed).  Keep-alive towards the client is supported; each request uses
a fresh upstream connection.

  usage: faultproxy.py --listen PORT --upstream HOST:PORT [--seed N] [--rules FILE]
  Prints "faultproxy listening on 127.0.0.1:PORT" when ready.
"""
import argparse
import asyncio
import json
import random
import re
import socket
import struct
import sys
import time

XML_ERRORS = {
    503: ("SlowDown", "Please reduce your request rate."),
    500: ("InternalError", "We encountered an internal error. Please try again."),
    429: ("TooManyRequests", "Too many requests."),
}


class HttpError(Exception):
    pass


async def read_head(reader):
    """Reads a request/response head; returns (first_line, [(name, value)]) or None at EOF."""
    try:
        data = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        if not e.partial:
            return None
        raise HttpError("connection closed inside a header")
    except asyncio.LimitOverrunError:
        raise HttpError("header too large")
    lines = data.decode("latin-1").split("\r\n")
    first = lines[0]
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return first, headers


def header(headers, name):
    name = name.lower()
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


def without(headers, *names):
    names = {n.lower() for n in names}
    return [(k, v) for k, v in headers if k.lower() not in names]


async def read_body(reader, headers, is_response=False, status=200, method="GET"):
    """Reads a body framed by Content-Length or chunked encoding (or, for a
    response, until close).  Returns bytes."""
    if is_response and (method == "HEAD" or status in (204, 304) or 100 <= status < 200):
        return b""
    te = (header(headers, "transfer-encoding") or "").lower()
    if "chunked" in te:
        out = bytearray()
        while True:
            line = await reader.readuntil(b"\r\n")
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass
                return bytes(out)
            out += await reader.readexactly(size)
            await reader.readexactly(2)
    cl = header(headers, "content-length")
    if cl is not None:
        return await reader.readexactly(int(cl))
    if is_response:
        return await reader.read()
    return b""


class Proxy:
    def __init__(self, upstream, seed, rules):
        host, _, port = upstream.rpartition(":")
        self.up_host, self.up_port = host, int(port)
        self.rng = random.Random(seed)
        self.seed = seed
        self.set_rules(rules)
        self.log = []
        self.stats = {"requests": 0, "faults": {}}

    def set_rules(self, rules):
        self.rules = []
        for r in rules:
            r = dict(r)
            r["_left"] = r.get("count")
            r["_seen"] = 0
            r["_per"] = {}
            m = r.get("match", {})
            r["_path"] = re.compile(m["path"]) if m.get("path") else None
            r["_query"] = re.compile(m["query"]) if m.get("query") else None
            self.rules.append(r)

    def choose(self, method, path, query):
        for r in self.rules:
            m = r.get("match", {})
            if m.get("method") and m["method"].upper() != method:
                continue
            if r["_path"] and not r["_path"].search(path):
                continue
            if r["_query"] and not r["_query"].search(query):
                continue
            r["_seen"] += 1
            if m.get("nth") and r["_seen"] != m["nth"]:
                continue
            if r["_left"] is not None and r["_left"] <= 0:
                continue
            per = r.get("max_per_request")
            ident = method + " " + path + "?" + query
            if per is not None and r["_per"].get(ident, 0) >= per:
                continue
            if "probability" in r:
                if self.rng.random() >= r["probability"]:
                    continue
                fault = dict(r)
                fault["fault"] = self.rng.choice(r.get("faults") or [r.get("fault", "503")])
            else:
                fault = r
            if r["_left"] is not None:
                r["_left"] -= 1
            if per is not None:
                r["_per"][ident] = r["_per"].get(ident, 0) + 1
            return fault
        return None

    # ---- control API --------------------------------------------------
    async def control(self, writer, method, path, body):
        if path == "/__fault/rules" and method in ("PUT", "POST"):
            self.set_rules(json.loads(body or b"{}").get("rules", []))
            out = {"ok": True, "rules": len(self.rules)}
        elif path == "/__fault/log":
            out = self.log
        elif path == "/__fault/stats":
            out = self.stats
        elif path == "/__fault/reset":
            self.set_rules([])
            self.log = []
            self.stats = {"requests": 0, "faults": {}}
            out = {"ok": True}
        else:
            await self.respond(writer, 404, b"no such control path\n", "text/plain")
            return
        await self.respond(writer, 200, json.dumps(out).encode(), "application/json")

    async def respond(self, writer, status, body, ctype, extra=()):
        reason = {200: "OK", 404: "Not Found", 429: "Too Many Requests",
                  500: "Internal Server Error", 503: "Slow Down"}.get(status, "Error")
        head = "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n" % (
            status, reason, ctype, len(body))
        for k, v in extra:
            head += "%s: %s\r\n" % (k, v)
        writer.write(head.encode("latin-1") + b"\r\n" + body)
        await writer.drain()

    async def xml_error(self, writer, status, path):
        code, msg = XML_ERRORS.get(status, ("InternalError", "Injected error."))
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message>"
                "<Resource>%s</Resource><RequestId>faultproxy</RequestId></Error>" % (code, msg, path)).encode()
        extra = [("Retry-After", "0")] if status in (429, 503) else []
        await self.respond(writer, status, body, "application/xml", extra)

    # ---- forwarding ---------------------------------------------------
    async def forward(self, method, target, version, headers, body):
        r, w = await asyncio.open_connection(self.up_host, self.up_port)
        try:
            hs = without(headers, "connection", "keep-alive", "expect", "transfer-encoding",
                         "content-length", "proxy-connection")
            if body or method in ("PUT", "POST"):
                hs.append(("Content-Length", str(len(body))))
            hs.append(("Connection", "close"))
            head = "%s %s HTTP/1.1\r\n" % (method, target) + "".join("%s: %s\r\n" % kv for kv in hs)
            w.write(head.encode("latin-1") + b"\r\n" + body)
            await w.drain()
            got = await read_head(r)
            if got is None:
                raise HttpError("upstream closed without a response")
            status_line, rh = got
            status = int(status_line.split()[1])
            rbody = await read_body(r, rh, True, status, method)
            return status_line, status, rh, rbody
        finally:
            w.close()

    async def handle(self, reader, writer):
        try:
            while True:
                got = await read_head(reader)
                if got is None:
                    break
                first, headers = got
                try:
                    method, target, version = first.split(" ", 2)
                except ValueError:
                    raise HttpError("bad request line %r" % first)
                path, _, query = target.partition("?")
                if (header(headers, "expect") or "").lower() == "100-continue":
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                    await writer.drain()
                body = await read_body(reader, headers)
                if path.startswith("/__fault/"):
                    await self.control(writer, method, path, body)
                    continue
                keep = await self.one_request(reader, writer, method, target, version, path, query,
                                              headers, body)
                if not keep:
                    return
        except (HttpError, ConnectionError, asyncio.IncompleteReadError) as e:
            print("faultproxy: %s" % e, file=sys.stderr)
        finally:
            try:
                writer.close()
            except Exception:
                pass

    async def one_request(self, reader, writer, method, target, version, path, query, headers, body):
        self.stats["requests"] += 1
        rule = self.choose(method, path, query)
        kind = rule.get("fault", "none") if rule else "none"
        entry = {"t": round(time.time(), 3), "method": method, "path": path, "query": query,
                 "fault": kind}
        self.log.append(entry)
        if kind != "none":
            self.stats["faults"][kind] = self.stats["faults"].get(kind, 0) + 1
        if kind in ("503", "500", "429"):
            entry["status"] = int(kind)
            await self.xml_error(writer, int(kind), path)
            return True
        try:
            status_line, status, rh, rbody = await self.forward(method, target, version, headers, body)
        except (OSError, HttpError) as e:
            entry["status"] = 502
            await self.respond(writer, 502, ("upstream failed: %s" % e).encode(), "text/plain")
            return False
        entry["status"] = status
        entry["bytes"] = len(rbody)
        if kind == "drop":
            entry["status"] = 0
            entry["upstream_status"] = status
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return False
        if kind == "lost":
            entry["status"] = 500
            entry["upstream_status"] = status
            await self.xml_error(writer, 500, path)
            return True
        hs = without(rh, "connection", "keep-alive", "transfer-encoding", "content-length")
        if method == "HEAD":
            cl = header(rh, "content-length")
            if cl is not None:
                hs.append(("Content-Length", cl))
        else:
            hs.append(("Content-Length", str(len(rbody))))
        head = (status_line + "\r\n" + "".join("%s: %s\r\n" % kv for kv in hs) + "\r\n").encode("latin-1")
        after = int(rule.get("after_bytes", len(rbody) // 2)) if rule else 0
        after = max(0, min(after, len(rbody)))
        if kind == "reset":
            writer.write(head + rbody[:after])
            await writer.drain()
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return False
        if kind == "truncate":
            writer.write(head + rbody[:after])
            await writer.drain()
            return False
        if kind == "stall":
            writer.write(head + rbody[:after])
            await writer.drain()
            await asyncio.sleep(float(rule.get("seconds", 30)))
            writer.transport.abort()
            return False
        if kind == "trickle":
            bps = max(1, int(rule.get("bps", 1024)))
            writer.write(head)
            step = max(1, bps // 10)
            for i in range(0, len(rbody), step):
                writer.write(rbody[i:i + step])
                await writer.drain()
                await asyncio.sleep(0.1)
            return True
        writer.write(head + rbody)
        await writer.drain()
        return True


async def main():
    ap = argparse.ArgumentParser(description="loopback HTTP fault proxy")
    ap.add_argument("--listen", type=int, default=0)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rules", help="JSON file {\"rules\": [...]}")
    ap.add_argument("--port-file", help="write the listening port here")
    a = ap.parse_args()
    rules = json.load(open(a.rules)).get("rules", []) if a.rules else []
    proxy = Proxy(a.upstream, a.seed, rules)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", a.listen, limit=1 << 20)
    port = server.sockets[0].getsockname()[1]
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        import os
        os.rename(a.port_file + ".tmp", a.port_file)
    print("faultproxy listening on 127.0.0.1:%d" % port, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
