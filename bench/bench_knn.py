#!/usr/bin/python3
"""k-NN benchmark (prints a markdown section for bench/RESULTS.md).

Vectors: the shared sample's PCA coordinates computed with the extension
(img_features 'hist:bins=8,sqrt' over fruits360, pca_fit 50 on Training,
pca_project): Test 2,115 and Training 7,050 vectors of 50 dimensions.

1. 2,115 queries x 7,050 references x 50, 1-NN: knn_search (all result rows
   fetched into Python through the sqlite3 module) vs scikit-learn
   KNeighborsClassifier(1, algorithm='brute') fit + predict on the same
   float32 matrices, same process, best of 5 each; also once the SQL scan
   the pipeline used before knn_search (a min(fvec_l2) subquery per query).
2. 23,619 x 7,050 x 50: the test vectors replicated with small noise
   (N(0, 1e-3 x the coordinates' std)), same peers, best of 3.
3. 100,000 x 100,000 x 50 (training and test vectors replicated with the
   same noise), k = 1, in its own sqlite3 process: wall time and peak RSS.
Working files go to bench/work/knn (deleted at the end).
   env KNN_BENCH_QUICK=1: 20,000 x 20,000 for case 3 (smoke test).
"""
import os
import shutil
import sqlite3
import subprocess
import sys
import time

import numpy as np
from sklearn.neighbors import KNeighborsClassifier

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXT = os.environ.get("IMGPCA_EXT", os.path.join(ROOT, "dist", "imgpca"))
DATA = os.path.join(ROOT, "..", "shared", "data", "fruits360")
WORK = os.path.join(ROOT, "bench", "work", "knn")
QUICK = os.environ.get("KNN_BENCH_QUICK") == "1"
BIG = 20000 if QUICK else 100000


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def connect(path):
    con = sqlite3.connect(path)
    con.enable_load_extension(True)
    con.load_extension(EXT)
    return con


def best(f, n):
    t = []
    for _ in range(n):
        a = time.perf_counter()
        r = f()
        t.append(time.perf_counter() - a)
    return min(t), r


def noisy(x, n, scale, rng):
    reps = (n + len(x) - 1) // len(x)
    y = np.tile(x, (reps, 1))[:n]
    return (y + rng.normal(0, scale, y.shape)).astype(np.float32)


def store(con, table, ids, labels, x):
    con.execute(f"CREATE TABLE {table}(id INTEGER PRIMARY KEY, label TEXT, pc BLOB)")
    con.executemany(f"INSERT INTO {table} VALUES (?, ?, ?)",
                    ((int(i), l, v.astype('<f4').tobytes()) for i, l, v in zip(ids, labels, x)))


def load_avg():
    return float(open("/proc/loadavg").read().split()[0])


def main():
    load0 = load_avg()
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    db = os.path.join(WORK, "knn.db")
    con = connect(db)
    log("knn: features + PCA of the sample")
    con.execute("""CREATE TABLE img AS
      SELECT key, parent AS label, CASE WHEN '/' || key LIKE '%/Test/%' THEN 'test' ELSE 'train' END AS split,
             img_features(content, 'hist:bins=8,sqrt') AS f FROM s3_list(? || '/**/*.jpg')""", (DATA,))
    con.execute("""CREATE TABLE pc AS
      SELECT row_number() OVER (ORDER BY key) AS id, key, label, split,
             pca_project((SELECT pca_fit(f, 50) FROM (SELECT f FROM img WHERE split = 'train' ORDER BY key)), f) AS v
      FROM img ORDER BY key""")
    rows = {s: con.execute("SELECT id, label, v FROM pc WHERE split = ? ORDER BY id", (s,)).fetchall()
            for s in ("train", "test")}
    tid = np.array([r[0] for r in rows["train"]])
    tlab = [r[1] for r in rows["train"]]
    tx = np.stack([np.frombuffer(r[2], dtype="<f4") for r in rows["train"]])
    qlab = [r[1] for r in rows["test"]]
    qx = np.stack([np.frombuffer(r[2], dtype="<f4") for r in rows["test"]])
    store(con, "train", tid, tlab, tx)
    store(con, "test", np.arange(1, len(qx) + 1), qlab, qx)
    rng = np.random.default_rng(7)
    scale = 1e-3 * float(tx.std())
    q2 = noisy(qx, 23619, scale, rng)
    store(con, "test2", np.arange(1, len(q2) + 1), [qlab[i % len(qlab)] for i in range(len(q2))], q2)
    store(con, "bigref", np.arange(1, BIG + 1), [tlab[i % len(tlab)] for i in range(BIG)], noisy(tx, BIG, scale, rng))
    store(con, "bigq", np.arange(1, BIG + 1), [qlab[i % len(qlab)] for i in range(BIG)], noisy(qx, BIG, scale, rng))
    con.commit()
    lab = dict(zip(tid.tolist(), tlab))

    def imgpca(qtable):
        return con.execute(f"SELECT query_id, ref_id, distance FROM knn_search("
                           f"'SELECT id, pc FROM {qtable} ORDER BY id', 'SELECT id, pc FROM train', 1)").fetchall()

    def sk(q):
        return KNeighborsClassifier(1, algorithm="brute").fit(tx, tlab).predict(q)

    out = []
    for name, qtable, q, n in (("2,115 x 7,050 x 50", "test", qx, 5), ("23,619 x 7,050 x 50", "test2", q2, 3)):
        log(f"knn: {name}")
        imgpca(qtable)
        sk(q)  # warm both
        t_i, r_i = best(lambda: imgpca(qtable), n)
        t_s, r_s = best(lambda: sk(q), n)
        agree = sum(lab[r[1]] == p for r, p in zip(r_i, r_s))
        out.append((name, t_i, t_s, agree, len(r_s)))
    log("knn: the former SQL scan (min(fvec_l2) per query)")
    a = time.perf_counter()
    con.execute("SELECT sum((SELECT min(fvec_l2(r.pc, q.pc)) FROM train AS r)) FROM test AS q").fetchall()
    t_scan = time.perf_counter() - a
    con.close()

    log(f"knn: {BIG:,} x {BIG:,} x 50 in a sqlite3 process")
    sql = (f".load {EXT}\nSELECT count(*), sum(distance = 0) FROM knn_search("
           f"'SELECT id, pc FROM bigq', 'SELECT id, pc FROM bigref', 1);\n")
    p = subprocess.run(["/usr/bin/time", "-f", "%e %M %U %S", "sqlite3", "-batch", db], input=sql,
                       capture_output=True, text=True)
    wall, rss_kb, usr, sys_ = p.stderr.strip().split("\n")[-1].split()
    nrows = p.stdout.strip().split("|")[0]
    shutil.rmtree(WORK, ignore_errors=True)
    load1 = load_avg()

    print("## k-NN search (knn_search)")
    print()
    print("Exact 1-NN over the shared sample's PCA coordinates (50 dimensions); scikit-learn")
    print("`KNeighborsClassifier(1, algorithm='brute')` fit + predict on the same float32")
    print("matrices in the same process; knn_search timed with every result row fetched into")
    print("Python. Best of 5 (3 for the larger case).")
    print()
    print("| queries x references x dims | knn_search | scikit-learn brute | speed-up | same label |")
    print("|---|---:|---:|---:|---:|")
    for name, t_i, t_s, agree, n in out:
        print(f"| {name} | {t_i:.3f} s | {t_s:.3f} s | {t_s / t_i:.1f}x | {agree}/{n} |")
    print()
    print(f"The SQL scan the pipeline used before (`min(fvec_l2(r.pc, q.pc))` per test image), "
          f"2,115 x 7,050: {t_scan:.2f} s ({t_scan / out[0][1]:.0f}x knn_search).")
    print()
    print(f"{BIG:,} queries x {BIG:,} references x 50 (replicated sample vectors with noise), k = 1, "
          f"one sqlite3 process: {float(wall):.1f} s wall ({float(usr) + float(sys_):.1f} s CPU), "
          f"peak RSS {int(rss_kb) / 1024:.0f} MiB, {nrows} result rows.")
    print()
    print(f"Load average of the machine (2 cores) at the start and the end of this run: {load0:.1f}, {load1:.1f} "
          f"(other processes running meanwhile slow both sides; the ratios come from the same run).")


if __name__ == "__main__":
    main()
