#!/usr/bin/python3
"""Secret-leak and TLS suite (run by tests/integration/41-secrets.sh).

Sets distinctive credentials through every channel the extension reads --
environment, imgpca_config(), a shared credentials file, an IMDSv2 stub --
then triggers everything that prints: configuration displays, errors of
every storage function against a real RGW (wrong secret -> 403), a bad
session token, a malformed credentials file, listing/fetch progress
(s3.progress) and csv_export to S3.  Every byte of stdout and stderr is
collected and searched for every 8-character window of every secret: none
may appear.  Also checks that TLS certificates are verified unless
s3.verify_tls is switched off.
Environment: RGW_ENDPOINT, RGW_BUCKET, RGW_ACCESS_KEY, RGW_SECRET_KEY, IMGPCA_EXT.
"""
import http.server
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading

EXT = os.environ["IMGPCA_EXT"]
RGW = os.environ["RGW_ENDPOINT"]
BUCKET = os.environ["RGW_BUCKET"]
FAKE_SECRET = "imgpcaLEAKcheck/Zq81+fakeSecretKey+Vv93xLm"
FAKE_TOKEN = "IQoJimgpcaLEAKtokenFwoGZXIvYXdzEJr//////////wEaDFAKESESSIONTOKEN=="
IMDS_SECRET = "imdsLEAKcheck+8j2Kd0Q/fakeInstanceSecret77"
SECRETS = [FAKE_SECRET, FAKE_TOKEN, IMDS_SECRET, os.environ["RGW_SECRET_KEY"]]
OUT = []
FAILS = []
CHECKS = [0]


def check(cond, what):
    CHECKS[0] += 1
    if not cond:
        FAILS.append(what)
        print("FAIL: " + what, file=sys.stderr)


def base_env(**kw):
    e = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    e.update({"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
              "AWS_EC2_METADATA_DISABLED": "true", "AWS_REGION": "us-east-1",
              "AWS_ENDPOINT_URL": RGW, "AWS_MAX_ATTEMPTS": "1"})
    e.update(kw)
    return {k: v for k, v in e.items() if v is not None}


def run(env, *stmts, expect_error=None):
    """Runs statements in a sqlite3 shell (without -bail: every one runs)."""
    p = subprocess.run(["sqlite3", "-batch", "-cmd", ".load " + EXT, ":memory:"], input="\n".join(stmts) + "\n",
                       capture_output=True, text=True, timeout=300, env=env)
    OUT.append(p.stdout + p.stderr)
    if expect_error is not None:
        check(expect_error in p.stderr, "expected error containing %r, got %r" % (expect_error, p.stderr[:400]))
    return p.stdout, p.stderr


def imds_stub():
    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def reply(self, body, code=200):
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_PUT(self):
            self.reply(b"imds-session-token")

        def do_GET(self):
            if self.path.rstrip("/").endswith("security-credentials"):
                self.reply(b"imgpca-role")
            elif self.path.endswith("/imgpca-role"):
                self.reply(json.dumps({"Code": "Success", "AccessKeyId": "ASIAIMGPCAIMDSLEAK01",
                                       "SecretAccessKey": IMDS_SECRET, "Token": FAKE_TOKEN,
                                       "Expiration": "2099-01-01T00:00:00Z"}).encode())
            else:
                self.reply(b"not found", 404)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def tls_stub(tmp):
    key, crt = os.path.join(tmp, "k.pem"), os.path.join(tmp, "c.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
                    "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)

    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            body = b"tls-ok"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def main():
    tmp = tempfile.mkdtemp(prefix="imgpca-secrets.")
    try:
        ak = os.environ["RGW_ACCESS_KEY"]
        obj = "s3://%s/secrets/obj" % BUCKET
        # fixture with the right credentials; progress on (its output is checked too)
        good = base_env(AWS_ACCESS_KEY_ID=ak, AWS_SECRET_ACCESS_KEY=os.environ["RGW_SECRET_KEY"],
                        IMGPCA_S3_PROGRESS="1")
        out, err = run(good, "SELECT s3_put('%s', 'hello');" % obj,
                       "SELECT s3_put('s3://%s/secrets/k' || value, 'v') FROM generate_series(1, 30);" % BUCKET,
                       "SELECT count(*), sum(length(content)) FROM s3_list('s3://%s/secrets/**');" % BUCKET,
                       "SELECT csv_export('s3://%s/secrets/out.csv', 'SELECT key, size FROM s3_list(''s3://%s/secrets/k*'')');"
                       % (BUCKET, BUCKET),
                       "SELECT imgpca_config(); SELECT s3_config();")
        import re
        counts = [int(m.group(1)) for m in re.finditer(r"^(\d+)\|\d+$", out, re.M)]
        check(counts and counts[0] >= 31, "fixture with good credentials works: %r %r" % (out[-300:], err[:300]))

        # 1. wrong secret from the environment: 403 from the RGW on every function
        env = base_env(AWS_ACCESS_KEY_ID=ak, AWS_SECRET_ACCESS_KEY=FAKE_SECRET, IMGPCA_S3_PROGRESS="1")
        run(env, "SELECT s3_fetch('%s');" % obj, expect_error="s3_fetch: ")
        run(env, "SELECT s3_fetch_or_null('%s');" % obj, expect_error="s3_fetch_or_null: ")
        run(env, "SELECT s3_put('%s', 'x');" % obj, expect_error="s3_put: ")
        run(env, "SELECT s3_delete('%s');" % obj, expect_error="s3_delete: ")
        run(env, "SELECT count(*) FROM s3_list('s3://%s/secrets/**');" % BUCKET, expect_error="s3_list")
        run(env, "SELECT csv_export('s3://%s/secrets/x.csv', 'SELECT 1');" % BUCKET, expect_error="csv_export: ")
        run(env, "SELECT imgpca_config();", "SELECT imgpca_config('s3.secret_access_key');",
            "SELECT s3_config();", "SELECT imgpca_config('s3.access_key_id');")
        # 2. the same secret set on the connection, plus a session token
        env = base_env()
        run(env, "SELECT imgpca_config('s3.access_key_id', '%s');" % ak,
            "SELECT imgpca_config('s3.secret_access_key', '%s');" % FAKE_SECRET,
            "SELECT imgpca_config('s3.session_token', '%s');" % FAKE_TOKEN,
            "SELECT imgpca_config(); SELECT s3_config();",
            "SELECT s3_fetch('%s');" % obj, "SELECT count(*) FROM s3_list('s3://%s/**');" % BUCKET,
            "SELECT imgpca_config('s3.max_retries', 'x%s');" % FAKE_SECRET,
            "SELECT imgpca_config('s3.secret_access_key', NULL), imgpca_config('s3.secret_access_key');")
        # 3. shared credentials file: a profile with the fake secret, a malformed file, a missing profile
        cred = os.path.join(tmp, "credentials")
        open(cred, "w").write("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                              "aws_session_token = %s\n[broken\naws_secret_access_key=%s\n" % (ak, FAKE_SECRET, FAKE_TOKEN, FAKE_SECRET))
        env = base_env(AWS_SHARED_CREDENTIALS_FILE=cred)
        run(env, "SELECT s3_fetch('%s');" % obj, "SELECT s3_config();", "SELECT imgpca_config();")
        run(base_env(AWS_SHARED_CREDENTIALS_FILE=cred, AWS_PROFILE="nosuchprofile"),
            "SELECT s3_fetch('%s');" % obj, "SELECT s3_config();")
        bad = os.path.join(tmp, "credentials-bad")
        open(bad, "w").write("aws_secret_access_key %s\n[default\n%s\n" % (FAKE_SECRET, FAKE_TOKEN))
        run(base_env(AWS_SHARED_CREDENTIALS_FILE=bad), "SELECT s3_fetch('%s');" % obj, "SELECT s3_config();")
        # 4. credentials from an IMDSv2 stub
        imds = imds_stub()
        run(base_env(AWS_EC2_METADATA_DISABLED="false",
                     AWS_EC2_METADATA_SERVICE_ENDPOINT="http://127.0.0.1:%d" % imds.server_address[1]),
            "SELECT s3_config();", "SELECT s3_fetch('%s');" % obj, "SELECT imgpca_config();")
        imds.shutdown()
        # 5. unreachable endpoint and connection errors
        run(base_env(AWS_ACCESS_KEY_ID=ak, AWS_SECRET_ACCESS_KEY=FAKE_SECRET, AWS_ENDPOINT_URL="http://127.0.0.1:1"),
            "SELECT s3_fetch('%s');" % obj, expect_error="s3_fetch: ")

        # TLS: a self-signed server is refused unless s3.verify_tls is off
        tls = tls_stub(tmp)
        ep = "https://127.0.0.1:%d" % tls.server_address[1]
        env = base_env(AWS_ACCESS_KEY_ID=ak, AWS_SECRET_ACCESS_KEY=FAKE_SECRET, AWS_ENDPOINT_URL=ep)
        out, err = run(env, "SELECT imgpca_config('s3.verify_tls');", "SELECT s3_fetch('s3://b/k');")
        check(out.strip() == "true", "TLS verification is on by default: %r" % out)
        check("s3_fetch: " in err and ("certificate" in err.lower() or "ssl" in err.lower()),
              "self-signed certificate refused with a clear error: %r" % err)
        out, err = run(env, "SELECT imgpca_config('s3.verify_tls', 'false');", "SELECT CAST(s3_fetch('s3://b/k') AS TEXT);")
        check("tls-ok" in out, "s3.verify_tls=false reaches the server: %r %r" % (out, err))
        tls.shutdown()

        # the search: every 8-character window of every secret, in everything printed
        text = "\n".join(OUT)
        for s in SECRETS:
            windows = {s[i:i + 8] for i in range(len(s) - 7)}
            hits = sorted(w for w in windows if w in text)
            check(not hits, "secret fragments printed: %r" % hits[:5])
        n_bytes = len(text)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if FAILS:
        print("secrets: %d of %d checks failed" % (len(FAILS), CHECKS[0]))
        return 1
    print("secrets: %d checks passed; %d runs, %d bytes of output searched for %d secrets; TLS verified by default"
          % (CHECKS[0], len(OUT), n_bytes, len(SECRETS)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
