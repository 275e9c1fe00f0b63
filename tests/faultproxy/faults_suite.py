#!/usr/bin/python3
"""S3 fault-injection suite (run by tests/integration/40-faults.sh).

The extension talks to a test Ceph RGW through tests/faultproxy/faultproxy.py;
fixtures are written straight to the RGW with /usr/bin/aws.  Every
statement runs in a fresh sqlite3 shell (a hang is caught by a generous
watchdog and reported as a failure).  Asserts:
  - a fetch under a transient fault (fewer than s3.max_retries) returns the
    exact bytes; whole objects, ranges, s3_fetch_or_null and s3_list content;
  - under a persistent fault it fails with a clear error naming the function,
    the URL and the cause, after exactly 1 + s3.max_retries attempts (counted
    by the proxy), and s3_fetch_or_null does not turn it into NULL;
  - listing pages hit by faults are retried: the key list equals the
    fault-free one, no duplicate, no key missing;
  - a multipart upload that fails leaves no upload behind
    (ListMultipartUploads empty) and no object; one that recovers stores
    exactly the bytes; a lost CompleteMultipartUpload reply never leaves a
    partial object.
Environment: RGW_ENDPOINT, RGW_BUCKET, RGW_ACCESS_KEY, RGW_SECRET_KEY,
IMGPCA_EXT (path of dist/imgpca without .so).  Prints a summary line.
"""
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
EXT = os.environ["IMGPCA_EXT"]
RGW = os.environ["RGW_ENDPOINT"]
BUCKET = os.environ["RGW_BUCKET"]
WATCHDOG = 180          # seconds: only a hang gets near this
RETRIES = 3             # s3.max_retries used by the suite
FAILS = []
COUNT = {"checks": 0, "fetches_exact": 0, "clear_errors": 0}


def check(cond, what):
    COUNT["checks"] += 1
    if not cond:
        FAILS.append(what)
        print("FAIL: " + what, file=sys.stderr)
    return cond


class Proxy:
    def __init__(self, seed=1):
        self.tmp = tempfile.mkdtemp(prefix="imgpca-faults.")
        pf = os.path.join(self.tmp, "port")
        self.p = subprocess.Popen([sys.executable, os.path.join(HERE, "faultproxy.py"), "--upstream",
                                   RGW.split("//", 1)[1], "--seed", str(seed), "--port-file", pf],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            if os.path.exists(pf):
                break
            time.sleep(0.05)
        self.port = int(open(pf).read())
        self.url = "http://127.0.0.1:%d" % self.port
        self.total_faults = 0

    def ctl(self, method, path, obj=None):
        req = urllib.request.Request(self.url + "/__fault/" + path, method=method,
                                     data=json.dumps(obj).encode() if obj is not None else None)
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def rules(self, *rules):
        self.collect()
        self.ctl("POST", "reset")
        self.ctl("PUT", "rules", {"rules": list(rules)})

    def stats(self):
        return self.ctl("GET", "stats")

    def log(self):
        return self.ctl("GET", "log")

    def collect(self):
        try:
            self.total_faults += sum(self.stats()["faults"].values())
        except Exception:
            pass

    def stop(self):
        self.collect()
        self.p.kill()
        self.p.wait()
        import shutil
        shutil.rmtree(self.tmp, ignore_errors=True)


def env_for(proxy):
    e = dict(os.environ)
    e.update({
        "AWS_ACCESS_KEY_ID": os.environ["RGW_ACCESS_KEY"],
        "AWS_SECRET_ACCESS_KEY": os.environ["RGW_SECRET_KEY"],
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": proxy.url if proxy else RGW,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
    })
    e.pop("AWS_ENDPOINT_URL_S3", None)
    e.pop("AWS_SESSION_TOKEN", None)
    e.pop("AWS_PROFILE", None)
    return e


SETTINGS = ("SELECT imgpca_config('s3.max_retries', %d), imgpca_config('s3.timeout_ms', 4000),"
            " imgpca_config('s3.low_speed_ms', 2000), imgpca_config('s3.connect_timeout_ms', 2000);" % RETRIES)


def sql(proxy, stmt, extra=""):
    """Runs stmt in a fresh sqlite3 shell; returns (rc, stdout, stderr, seconds)."""
    t0 = time.time()
    try:
        p = subprocess.run(["sqlite3", "-batch", "-bail", "-cmd", ".load " + EXT, "-cmd", ".output /dev/null",
                            "-cmd", SETTINGS + extra, "-cmd", ".output stdout", ":memory:", stmt],
                           capture_output=True, text=True, timeout=WATCHDOG, env=env_for(proxy))
        return p.returncode, p.stdout.strip(), p.stderr.strip(), time.time() - t0
    except subprocess.TimeoutExpired:
        return -1, "", "HANG: no answer within %d s" % WATCHDOG, time.time() - t0


def aws(*args, input_file=None):
    e = env_for(None)
    p = subprocess.run(["/usr/bin/aws", "--endpoint-url", RGW] + list(args), capture_output=True, text=True,
                       timeout=300, env=e)
    return p.returncode, p.stdout, p.stderr


def url(key):
    return "s3://%s/%s" % (BUCKET, key)


CAUSE = re.compile(r"503|SlowDown|500|InternalError|429|TooManyRequests|reset|timed out|timeout|"
                   r"[Pp]artial|transfer|closed|Recv failure|end of|received", re.S)


def expect_clear_error(rc, out, err, fn, key, what):
    msg = err.replace("Error: stepping, ", "").replace("Error: ", "")
    ok = check(rc not in (0, -1), "%s: expected an error, got rc=%d out=%r err=%r" % (what, rc, out, err))
    ok = check(rc != -1, "%s: hang (%s)" % (what, err)) and ok
    if rc not in (0, -1):
        ok = check(msg.startswith(fn + ": "), "%s: error does not name %s: %r" % (what, fn, msg)) and ok
        ok = check(url(key) in msg, "%s: error does not name the URL: %r" % (what, msg)) and ok
        ok = check(bool(CAUSE.search(msg)), "%s: error does not give the cause: %r" % (what, msg)) and ok
        ok = check("\n" not in msg, "%s: multi-line error: %r" % (what, msg)) and ok
        if ok:
            COUNT["clear_errors"] += 1


def main():
    tmp = tempfile.mkdtemp(prefix="imgpca-faults-data.")
    rnd = random.Random(7)
    objs = {}
    for name, size in (("empty", 0), ("one", 1), ("small", 5000), ("mid", 300000), ("big", 3 * 1024 * 1024 + 5)):
        data = bytes(rnd.getrandbits(8) for _ in range(min(size, 4096))) * (size // 4096 + 1)
        data = data[:size]
        path = os.path.join(tmp, name)
        open(path, "wb").write(data)
        objs[name] = path
        rc, _, err = aws("s3", "cp", "--quiet", path, "s3://%s/faults/%s" % (BUCKET, name))
        if rc:
            print("fixture upload failed: " + err)
            return 1
    # 2345 keys for listings (3 pages of 1000), written with one SQL statement
    # straight to the RGW (no proxy)
    nkeys = 2345
    rc, out, err, _ = sql(None, "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM n WHERE i < %d) "
                                "SELECT count(s3_put(printf('%s/pages/k%%05d', i), printf('v%%d', i))) FROM n;"
                          % (nkeys - 1, url("faults").rstrip("/")))
    if not check(rc == 0 and out == str(nkeys), "listing fixture: %r %r" % (out, err)):
        return 1
    expected_keys = ["faults/pages/k%05d" % i for i in range(nkeys)]

    px = Proxy(seed=11)
    try:
        # ---- fetches under transient faults: exact bytes ---------------------
        transient = [
            {"fault": "503", "count": RETRIES},
            {"fault": "500", "count": 2},
            {"fault": "429", "count": 1},
            {"fault": "reset", "after_bytes": 1000, "count": 2},
            {"fault": "reset", "after_bytes": 0, "count": 1},
            {"fault": "drop", "count": 2},
            {"fault": "truncate", "after_bytes": 2000, "count": 2},
            {"fault": "stall", "after_bytes": 100, "seconds": 20, "count": 1},
            {"fault": "trickle", "bps": 2000000, "count": 1},
            {"fault": "lost", "count": 1},
        ]
        for rule in transient:
            for name in ("small", "mid", "big", "empty"):
                px.rules(dict(rule, match={"method": "GET", "path": "/faults/" + name + "$"}))
                key = "faults/" + name
                rc, out, err, _ = sql(px, "SELECT s3_fetch('%s') = readfile('%s'), length(s3_fetch('%s'));"
                                      % (url(key), objs[name], url(key)))
                if check(rc == 0 and out.split("|")[0] == "1",
                         "transient %s on %s: rc=%d out=%r err=%r" % (rule["fault"], name, rc, out, err)):
                    COUNT["fetches_exact"] += 1
            # ranges and the _or_null variant under the same fault
            px.rules(dict(rule, match={"method": "GET", "path": "/faults/mid$"}))
            rc, out, err, _ = sql(px, "SELECT s3_fetch('%s', 1234, 50000) = substr(readfile('%s'), 1235, 50000);"
                                  % (url("faults/mid"), objs["mid"]))
            if check(rc == 0 and out == "1", "range under %s: %r %r" % (rule["fault"], out, err)):
                COUNT["fetches_exact"] += 1
            px.rules(dict(rule, match={"method": "GET", "path": "/faults/small$"}))
            rc, out, err, _ = sql(px, "SELECT s3_fetch_or_null('%s') = readfile('%s');" % (url("faults/small"), objs["small"]))
            if check(rc == 0 and out == "1", "s3_fetch_or_null under %s: %r %r" % (rule["fault"], out, err)):
                COUNT["fetches_exact"] += 1

        # ---- persistent faults: clear error after exactly 1 + max_retries ----
        persistent = [{"fault": "503"}, {"fault": "500"}, {"fault": "429"}, {"fault": "drop"},
                      {"fault": "reset", "after_bytes": 700}, {"fault": "truncate", "after_bytes": 900},
                      {"fault": "stall", "after_bytes": 10, "seconds": 20}]
        for rule in persistent:
            for fn in ("s3_fetch", "s3_fetch_or_null"):
                px.rules(dict(rule, match={"method": "GET", "path": "/faults/mid$"}))
                rc, out, err, secs = sql(px, "SELECT length(%s('%s'));" % (fn, url("faults/mid")))
                expect_clear_error(rc, out, err, fn, "faults/mid", "persistent %s via %s" % (rule["fault"], fn))
                n = len([e for e in px.log() if e["path"].endswith("/faults/mid")])
                check(n == 1 + RETRIES, "persistent %s via %s: %d attempts, expected %d" % (rule["fault"], fn, n, 1 + RETRIES))
        # a missing object is NULL for _or_null, an error for s3_fetch, not retried
        px.rules()
        rc, out, err, _ = sql(px, "SELECT s3_fetch_or_null('%s') IS NULL;" % url("faults/none"))
        check(rc == 0 and out == "1", "missing object -> NULL: %r %r" % (out, err))
        check(len(px.log()) == 1, "404 is not retried: %d requests" % len(px.log()))
        px.rules()
        rc, out, err, _ = sql(px, "SELECT s3_fetch('%s');" % url("faults/none"))
        check(rc != 0 and url("faults/none") in err, "missing object -> error naming it: %r" % err)
        check(len(px.log()) == 1, "404 is not retried: %d requests" % len(px.log()))

        # ---- s3_list content column with random faults ----------------------
        for seed in (1, 2, 3):
            px.rules({"probability": 0.35, "faults": ["503", "500", "reset", "truncate", "drop"],
                      "match": {"method": "GET", "path": "/faults/pages/"}, "count": 40,
                      "max_per_request": RETRIES})
            rc, out, err, _ = sql(px, "SELECT count(*), sum(CAST(content AS TEXT) = 'v' || CAST(substr(key, -5) AS INTEGER)) "
                                      "FROM s3_list('%s') WHERE key < 'faults/pages/k00300';"
                                  % (url("faults/pages/*")))
            check(rc == 0 and out == "300|300", "list content under random faults (round %d): %r %r" % (seed, out, err))
            COUNT["fetches_exact"] += 300 if out == "300|300" else 0

        # ---- listing pages retried without duplicates or gaps -----------------
        list_faults = [
            [{"match": {"query": "list-type=2", "nth": 2}, "fault": "503"}],
            [{"match": {"query": "list-type=2", "nth": 3}, "fault": "reset", "after_bytes": 3000}],
            [{"match": {"query": "list-type=2", "nth": 1}, "fault": "truncate", "after_bytes": 5000}],
            [{"match": {"query": "continuation-token"}, "fault": "500", "count": 2},
             {"match": {"query": "list-type=2"}, "fault": "lost", "count": 1}],
            [{"match": {"query": "list-type=2"}, "probability": 0.5, "faults": ["503", "reset", "truncate", "stall"],
              "after_bytes": 4000, "seconds": 20, "count": 6, "max_per_request": RETRIES}],
        ]
        for rules in list_faults:
            px.rules(*rules)
            rc, out, err, _ = sql(px, "SELECT key FROM s3_list('%s');" % url("faults/pages/**"))
            keys = out.split("\n") if out else []
            injected = sum(px.stats()["faults"].values())
            check(rc == 0 and keys == expected_keys,
                  "listing under %r: rc=%d, %d keys (%d unique), expected %d; err=%r; %d faults"
                  % ([r.get("fault", r.get("faults")) for r in rules], rc, len(keys), len(set(keys)),
                     nkeys, err, injected))
            check(injected > 0, "listing rule %r injected nothing" % rules)
        px.rules({"match": {"query": "list-type=2"}, "fault": "503"})
        rc, out, err, _ = sql(px, "SELECT count(*) FROM s3_list('%s');" % url("faults/pages/**"))
        check(rc != 0 and "s3_list" in err and BUCKET in err, "persistent listing failure is a clear error: %r" % err)

        # ---- multipart uploads ------------------------------------------------
        mp = "SELECT imgpca_config('s3.multipart_threshold', 5242880), imgpca_config('s3.part_size', 5242880);"
        big = os.path.join(tmp, "upload")
        open(big, "wb").write(os.urandom(12 * 1024 * 1024 + 17))

        def no_orphans(what, key):
            rc, out, err = aws("s3api", "list-multipart-uploads", "--bucket", BUCKET)
            ups = json.loads(out or "{}").get("Uploads", []) if rc == 0 else None
            check(ups == [], "%s: ListMultipartUploads not empty: %r %r" % (what, ups, err))

        def object_state(key):
            rc, out, err = aws("s3api", "head-object", "--bucket", BUCKET, "--key", key)
            if rc != 0:
                return None
            return json.loads(out)["ContentLength"]

        failing = [
            ("part 2 fails", [{"match": {"method": "PUT", "query": "partNumber=2"}, "fault": "500"}]),
            ("part 3 dropped", [{"match": {"method": "PUT", "query": "partNumber=3"}, "fault": "drop"}]),
            ("initiate ok, complete fails", [{"match": {"method": "POST", "query": "uploadId="}, "fault": "503"}]),
            ("part fails, abort throttled twice", [{"match": {"method": "PUT", "query": "partNumber=1"}, "fault": "500"},
                                                   {"match": {"method": "DELETE", "query": "uploadId="}, "fault": "503", "count": 2}]),
        ]
        for what, rules in failing:
            key = "faults/up/" + what.replace(" ", "-").replace(",", "")
            px.rules(*rules)
            rc, out, err, _ = sql(px, "SELECT s3_put('%s', readfile('%s'));" % (url(key), big), mp)
            expect_clear_error(rc, out, err, "s3_put", key, "multipart: " + what)
            no_orphans(what, key)
            check(object_state(key) is None, "%s: an object exists after a failed upload" % what)
        recovering = [
            ("part 2 503 twice", [{"match": {"method": "PUT", "query": "partNumber=2"}, "fault": "503", "count": 2}]),
            ("part 1 dropped once", [{"match": {"method": "PUT", "query": "partNumber=1"}, "fault": "drop", "count": 1}]),
            ("initiate 500 once", [{"match": {"method": "POST", "query": "uploads"}, "fault": "500", "count": 1}]),
            ("complete reply lost", [{"match": {"method": "POST", "query": "uploadId="}, "fault": "lost", "count": 1}]),
        ]
        for what, rules in recovering:
            key = "faults/up/" + what.replace(" ", "-")
            px.rules(*rules)
            rc, out, err, _ = sql(px, "SELECT s3_put('%s', readfile('%s')) IS NOT NULL;" % (url(key), big), mp)
            size = object_state(key)
            no_orphans(what, key)
            if rc == 0:
                rc2, out2, err2, _ = sql(None, "SELECT s3_fetch('%s') = readfile('%s');" % (url(key), big))
                check(out2 == "1", "%s: stored bytes differ (%r %r)" % (what, out2, err2))
            else:
                # the only acceptable failure: a complete upload whose reply was lost
                # is either there in full or not at all -- never partial
                check(size in (None, os.path.getsize(big)), "%s: partial object of %r bytes" % (what, size))
                check("lost" in what, "%s: upload failed: %r" % (what, err))
        # a single PUT (below the threshold) whose reply is lost: retried, exact
        px.rules({"match": {"method": "PUT"}, "fault": "lost", "count": 1})
        rc, out, err, _ = sql(px, "SELECT s3_put('%s', readfile('%s')) IS NOT NULL;" % (url("faults/up/single"), objs["mid"]))
        rc2, out2, _, _ = sql(None, "SELECT s3_fetch('%s') = readfile('%s');" % (url("faults/up/single"), objs["mid"]))
        check(rc == 0 and out2 == "1", "single PUT with a lost reply: %r %r %r" % (out, err, out2))
    finally:
        px.stop()
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    if FAILS:
        print("faults: %d of %d checks failed" % (len(FAILS), COUNT["checks"]))
        return 1
    print("faults: %d checks passed; %d faults injected; %d fetches exact under faults; %d clear errors"
          % (COUNT["checks"], px.total_faults, COUNT["fetches_exact"], COUNT["clear_errors"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
