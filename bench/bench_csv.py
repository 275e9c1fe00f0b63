#!/usr/bin/python3
"""csv_export benchmark (prints a markdown section for bench/RESULTS.md).

The pipeline's result shape: n rows of key TEXT, label TEXT and a float32
vector of k PCA scores (random normal values, as PCA scores are), exported
with the vector expanded to pc1..pck, vs Python's csv.writer writing the same
rows from NumPy float32 vectors (elements printed with the shortest repr that
reads back to the same float32, like imgpca).  Median of N runs each in one
process; the output files are compared for equal values.
   env CSV_BENCH_ROWS (default 20000), CSV_BENCH_K (default 50),
   CSV_BENCH_RUNS (default 5), IMGPCA_EXT_BASE: a second build to compare.
"""
import csv
import os
import sqlite3
import statistics
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXT = os.environ.get("IMGPCA_EXT", os.path.join(ROOT, "dist", "imgpca"))
BASE = os.environ.get("IMGPCA_EXT_BASE")
N = int(os.environ.get("CSV_BENCH_ROWS", "20000"))
K = int(os.environ.get("CSV_BENCH_K", "50"))
RUNS = int(os.environ.get("CSV_BENCH_RUNS", "5"))

rng = np.random.default_rng(3)
V = (rng.standard_normal((N, K)) * 3).astype(np.float32)
keys = [f"Training/Class {i % 141}/r_{i}_100.jpg" for i in range(N)]
labels = [f"Class {i % 141}" for i in range(N)]
tmp = tempfile.mkdtemp(prefix="imgpca-bench-csv-")


def setup(ext):
    con = sqlite3.connect(":memory:")
    con.enable_load_extension(True)
    con.load_extension(ext)
    con.execute("CREATE TABLE r(key TEXT, label TEXT, pc BLOB)")
    con.executemany("INSERT INTO r VALUES (?, ?, ?)",
                    ((keys[i], labels[i], V[i].astype("<f4").tobytes()) for i in range(N)))
    return con


def time_ext(ext, out):
    con = setup(ext)
    ts = []
    for _ in range(RUNS):
        t = time.perf_counter()
        con.execute("SELECT csv_export(?, 'SELECT key, label, pc FROM r')", (out,)).fetchone()
        ts.append(time.perf_counter() - t)
    con.close()
    return statistics.median(ts)


def py_writer(out):
    with open(out, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["key", "label"] + [f"pc{j + 1}" for j in range(K)])
        for i in range(N):
            w.writerow([keys[i], labels[i]] + [repr(x) for x in V[i].tolist()])


def py_writer32(out):
    with open(out, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["key", "label"] + [f"pc{j + 1}" for j in range(K)])
        for i in range(N):
            w.writerow([keys[i], labels[i]] + [str(x) for x in V[i]])


def time_py(f, out, runs):
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        f(out)
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


ours = os.path.join(tmp, "ours.csv")
t_ours = time_ext(EXT, ours)
t_py64 = time_py(py_writer, os.path.join(tmp, "py64.csv"), RUNS)
t_py32 = time_py(py_writer32, os.path.join(tmp, "py32.csv"), max(1, RUNS // 2))
# values check: every field of ours reads back to the float32 of the input
with open(ours, newline="") as fh:
    rows = list(csv.reader(fh))[1:]
got = np.array([[np.float32(x) for x in r[2:]] for r in rows], dtype=np.float32)
same = bool(np.array_equal(got, V))
size_ours = os.path.getsize(ours)
size_py64 = os.path.getsize(os.path.join(tmp, "py64.csv"))
lines = ["## CSV export (csv_export vs Python csv.writer)", "",
         f"{N:,} rows of key, label and a {K}-dimensional float32 vector expanded to pc1..pc{K}; "
         f"median of {RUNS} runs; machine load {os.getloadavg()[0]:.1f}.", "",
         "| writer | time (s) | file (MB) | imgpca / peer |", "|---|---:|---:|---:|",
         f"| imgpca `csv_export` (shortest float32 round trip) | {t_ours:.3f} | {size_ours / 1e6:.1f} | 1.00 |",
         f"| Python `csv.writer`, floats as Python float repr (float64 of the float32) | {t_py64:.3f} | "
         f"{size_py64 / 1e6:.1f} | {t_ours / t_py64:.2f}x |",
         f"| Python `csv.writer`, NumPy float32 str (shortest float32) | {t_py32:.3f} | "
         f"{os.path.getsize(os.path.join(tmp, 'py32.csv')) / 1e6:.1f} | {t_ours / t_py32:.2f}x |"]
if BASE:
    t_base = time_ext(BASE, os.path.join(tmp, "base.csv"))
    lines.append(f"| imgpca `csv_export`, build `{os.path.relpath(BASE, ROOT)}` | {t_base:.3f} | "
                 f"{os.path.getsize(os.path.join(tmp, 'base.csv')) / 1e6:.1f} | {t_ours / t_base:.2f}x |")
lines += ["", f"Every exported value reads back to the same float32: {'yes' if same else 'NO'}."]
print("\n".join(lines))
for f in os.listdir(tmp):
    os.remove(os.path.join(tmp, f))
os.rmdir(tmp)
