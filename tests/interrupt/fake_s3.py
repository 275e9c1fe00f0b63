#!/usr/bin/env python3
"""A stub S3 endpoint for tests/interrupt: answers every ListObjectsV2 with
IsTruncated=true and keys that no glob of the test matches.

  fake_s3.py MODE PORTFILE
MODE 'forever': a new continuation token every time (the listing never ends);
MODE 'repeat': always the token it was given (or 't0' for the first page);
MODE 'silent': accepts every object request and never answers it, except
CreateMultipartUpload (an upload id) and AbortMultipartUpload (204, counted:
GET /__aborts).
Writes its port to PORTFILE; GET /__count answers the number of listing
requests served so far.
"""
import http.server
import sys
import threading
import time
import urllib.parse

MODE = sys.argv[1]
COUNT = 0
ABORTS = 0
LOCK = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def reply(self, body, ctype='application/xml'):
        data = body.encode()
        self.send_response(200)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def silent(self):
        time.sleep(3600)

    def do_POST(self):
        if MODE == 'silent' and 'uploads' in urllib.parse.urlsplit(self.path).query:
            self.reply('<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult>'
                       '<Bucket>bucket</Bucket><Key>k</Key><UploadId>up1</UploadId>'
                       '</InitiateMultipartUploadResult>')
            return
        self.silent()

    def do_PUT(self):
        self.silent()

    def do_HEAD(self):
        self.silent()

    def do_DELETE(self):
        global ABORTS
        if 'uploadId' in urllib.parse.urlsplit(self.path).query:
            with LOCK:
                ABORTS += 1
            self.send_response(204)
            self.send_header('Content-Length', '0')
            self.end_headers()
            return
        self.silent()

    def do_GET(self):
        global COUNT
        url = urllib.parse.urlsplit(self.path)
        if url.path == '/__count':
            with LOCK:
                n = COUNT
            self.reply(str(n), 'text/plain')
            return
        if url.path == '/__aborts':
            with LOCK:
                n = ABORTS
            self.reply(str(n), 'text/plain')
            return
        if MODE == 'silent':
            self.silent()
            return
        q = urllib.parse.parse_qs(url.query)
        with LOCK:
            COUNT += 1
            n = COUNT
        given = q.get('continuation-token', [None])[0]
        if MODE == 'repeat':
            token = given or 't0'
        else:
            token = 'token-%d' % n
        keys = ''.join('<Contents><Key>noise/%d-%d.txt</Key><Size>1</Size>'
                       '<ETag>"e"</ETag><LastModified>2026-01-01T00:00:00.000Z</LastModified></Contents>'
                       % (n, i) for i in range(3))
        self.reply('<?xml version="1.0" encoding="UTF-8"?>'
                   '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                   '<Name>bucket</Name><Prefix></Prefix><KeyCount>3</KeyCount><MaxKeys>1000</MaxKeys>'
                   '<IsTruncated>true</IsTruncated>' + keys +
                   '<NextContinuationToken>%s</NextContinuationToken></ListBucketResult>' % token)


server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
with open(sys.argv[2], 'w') as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
