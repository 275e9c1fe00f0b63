#!/usr/bin/python3
"""Projection benchmark (prints a markdown section for bench/RESULTS.md).

Projects 30,669 stored rows (the hist features, d=512, of the shared
Fruits-360 sample computed by imgpca, repeated to 30,669 rows as in the
full-size Training + Test run) on a PCA(50) model, in one sqlite3 connection:

  - pca_project(?1, v) row by row, model bound as a parameter (parsed once);
  - pca_project_rows(?1, 'SELECT id, v FROM f') (batched BLAS tiles, all cores);
  - NumPy's (X - mean) @ W.T on the same float32 matrix (OpenBLAS sgemm, all
    cores), the peer; and its float64 form.

Each is the best of 5 in one process; the ratio is NumPy time / imgpca time
(goal >= 1 for pca_project_rows).  Also checks that the two imgpca forms give
the same bytes and that they match NumPy to float32 rounding.
"""
import glob
import os
import sqlite3
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXT = os.environ.get("IMGPCA_EXT", os.path.join(ROOT, "dist", "imgpca"))
DATA = os.path.join(ROOT, "..", "shared", "data", "fruits360")
N = 30669


def best(f, reps=5):
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return min(ts), sorted(ts)[len(ts) // 2]


def main():
    con = sqlite3.connect(":memory:")
    con.enable_load_extension(True)
    con.load_extension(EXT)
    files = sorted(glob.glob(os.path.join(DATA, "*", "*", "*.jpg")))
    con.execute("CREATE TABLE src(id INTEGER PRIMARY KEY, v BLOB)")
    con.executemany("INSERT INTO src(v) SELECT img_features(s3_fetch(?))", ((f,) for f in files))
    con.execute("CREATE TABLE f(id INTEGER PRIMARY KEY, v BLOB)")
    con.execute(f"""INSERT INTO f(v) SELECT s.v FROM (WITH RECURSIVE r(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM r
                    WHERE i < {N} - 1) SELECT i FROM r) AS r JOIN src AS s ON s.id = 1 + r.i % (SELECT count(*) FROM src)""")
    model = con.execute("SELECT pca_fit(v, 50) FROM src").fetchone()[0]
    X = np.stack([np.frombuffer(r[0], dtype="<f4") for r in con.execute("SELECT v FROM f ORDER BY id")])
    mean = np.frombuffer(con.execute("SELECT pca_mean(?)", (model,)).fetchone()[0], dtype="<f4")
    W = np.stack([np.frombuffer(r[0], dtype="<f4") for r in
                  con.execute("SELECT component FROM pca_components(?) ORDER BY idx", (model,))])
    X64, mean64, W64 = X.astype(np.float64), mean.astype(np.float64), W.astype(np.float64)
    q_scalar = "SELECT count(pca_project(?1, v)) FROM f"
    q_rows = "SELECT count(pc) FROM pca_project_rows(?1, 'SELECT id, v FROM f')"
    t_scalar = best(lambda: con.execute(q_scalar, (model,)).fetchone())
    t_rows = best(lambda: con.execute(q_rows, (model,)).fetchone())
    t_np = best(lambda: (X - mean) @ W.T)
    t_np64 = best(lambda: (X64 - mean64) @ W64.T)
    a = [r[0] for r in con.execute("SELECT pca_project(?1, v) FROM f ORDER BY id", (model,))]
    b = [r[0] for r in con.execute("SELECT pc FROM pca_project_rows(?1, 'SELECT id, v FROM f ORDER BY id')", (model,))]
    same = sum(x == y for x, y in zip(a, b))
    P = np.stack([np.frombuffer(x, dtype="<f4") for x in b])
    ref = (X64 - mean64) @ W64.T
    err = float(np.max(np.abs(P - ref)) / np.max(np.abs(ref)))
    n, d = X.shape
    k = W.shape[0]
    load = os.getloadavg()
    print("## Projection (pca_project_rows)")
    print()
    print(f"{n:,} stored rows, d = {d} (hist features of the Fruits-360 sample), k = {k}, one sqlite3 connection;")
    print(f"best and median of 5; load average {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f} on {os.cpu_count()} cores"
          " (shared machine: compare ratios only).")
    print()
    print("| implementation | best (s) | median (s) | NumPy float32 time / this |")
    print("|---|---:|---:|---:|")
    for name, t in (("imgpca `pca_project(?1, v)` row by row (model parsed once)", t_scalar),
                    ("imgpca `pca_project_rows(?1, 'SELECT id, v FROM f')` (batched, all cores)", t_rows),
                    ("NumPy `(X - mean) @ W.T`, float32 (OpenBLAS sgemm, all cores)", t_np),
                    ("NumPy `(X - mean) @ W.T`, float64", t_np64)):
        print(f"| {name} | {t[0]:.3f} | {t[1]:.3f} | {t_np[0] / t[0]:.2f}x |")
    print()
    print(f"`pca_project` and `pca_project_rows` agree on {same:,} of {n:,} rows byte for byte; largest difference"
          f" from the float64 NumPy product: {err:.1e} of the largest score (imgpca computes in float64 and"
          " rounds once to float32). Goal: `pca_project_rows` >= 1x NumPy float32.")


if __name__ == "__main__":
    sys.exit(main())
