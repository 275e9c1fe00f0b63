#!/usr/bin/python3
"""Randomized PCA benchmark (prints a markdown section for bench/RESULTS.md).

pca_fit(v, 50, '{"solver":"randomized"}') against scikit-learn
PCA(50, svd_solver='randomized') on the same float32 matrix, three shapes:
  4,790 x 3,072   32x32 RGB pixels of the first 4,790 Fruits-360 training images
  7,050 x 3,072   the same for all 7,050 training images
  23,619 x 512    hist features of the 9,165 sample images, repeated to 23,619 rows
Rows live in an in-memory SQLite table (imgpca reads them from it; sklearn gets
the NumPy matrix).  The two alternate, RUNS times each (env BENCH_RUNS, default
5); the table gives min / median / max and the spread of the per-run ratios
imgpca / sklearn (goal: <= 1.00x).
"""
import glob
import os
import sqlite3
import statistics
import time

import numpy as np
from sklearn.decomposition import PCA

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXT = os.environ.get("IMGPCA_EXT", os.path.join(ROOT, "dist", "imgpca"))
DATA = os.path.join(ROOT, "..", "shared", "data", "fruits360")
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
OPT = '{"solver":"randomized"}'


def main():
    con = sqlite3.connect(":memory:")
    con.enable_load_extension(True)
    con.load_extension(EXT)
    train = sorted(glob.glob(os.path.join(DATA, "Training", "*", "*.jpg")))
    every = sorted(glob.glob(os.path.join(DATA, "*", "*", "*.jpg")))
    con.execute("CREATE TABLE px(id INTEGER PRIMARY KEY, v BLOB)")
    con.executemany("INSERT INTO px(v) SELECT img_features(s3_fetch(?), 'pixels:size=32x32')", ((f,) for f in train))
    con.execute("CREATE TABLE hs(id INTEGER PRIMARY KEY, v BLOB)")
    con.executemany("INSERT INTO hs(v) SELECT img_features(s3_fetch(?))", ((f,) for f in every))
    con.execute("CREATE TABLE h2(id INTEGER PRIMARY KEY, v BLOB)")
    con.execute("""INSERT INTO h2(v) SELECT s.v FROM (WITH RECURSIVE r(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM r
                   WHERE i < 23618) SELECT i FROM r) AS r JOIN hs AS s ON s.id = 1 + r.i % (SELECT count(*) FROM hs)""")
    cases = [("4,790 x 3,072 (32x32 pixels)", "SELECT v FROM px WHERE id <= 4790"),
             ("7,050 x 3,072 (32x32 pixels)", "SELECT v FROM px"),
             ("23,619 x 512 (hist features)", "SELECT v FROM h2")]
    rows = []
    for name, q in cases:
        X = np.stack([np.frombuffer(r[0], dtype="<f4") for r in con.execute(q + " ORDER BY id")])
        ti, ts, ratios = [], [], []
        for _ in range(RUNS):
            t = time.perf_counter()
            con.execute(f"SELECT length(pca_fit(v, 50, ?)) FROM ({q} ORDER BY id)", (OPT,)).fetchone()
            a = time.perf_counter() - t
            t = time.perf_counter()
            PCA(50, svd_solver="randomized", random_state=0).fit(X)
            b = time.perf_counter() - t
            ti.append(a)
            ts.append(b)
            ratios.append(a / b)
        rows.append((name, ti, ts, ratios))
    load = os.getloadavg()
    print("## Randomized PCA (pca_fit solver 'randomized' vs scikit-learn)")
    print()
    print(f"k = 50, {RUNS} alternating runs per shape; load average {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f} on "
          f"{os.cpu_count()} cores (shared machine: only the ratios mean anything). imgpca reads the rows from an"
          " in-memory SQLite table; scikit-learn `PCA(50, svd_solver='randomized')` gets the float32 NumPy matrix.")
    print()
    print("| shape | imgpca min / median / max (s) | sklearn float32 min / median / max (s) | "
          "ratio of medians | per-run ratios min - max |")
    print("|---|---:|---:|---:|---:|")
    for name, ti, ts, r in rows:
        print(f"| {name} | {min(ti):.3f} / {statistics.median(ti):.3f} / {max(ti):.3f} | "
              f"{min(ts):.3f} / {statistics.median(ts):.3f} / {max(ts):.3f} | "
              f"{statistics.median(ti) / statistics.median(ts):.2f}x | {min(r):.2f}x - {max(r):.2f}x |")
    print()
    print("Ratio = imgpca time / sklearn time (goal <= 1.00x).")


if __name__ == "__main__":
    main()
