#!/usr/bin/python3
"""PCA benchmark (prints a markdown section for bench/RESULTS.md).

1. pca_fit(v, 50) on n=7,050, d=3,072 (32x32 RGB pixels of the Fruits-360
   training sample, computed here with Pillow + NumPy, values in [0,1],
   float32 blobs) vs scikit-learn PCA(50).fit on the same matrix, same run,
   best of 3 (sklearn on the float32 matrix and on its float64 copy).
2. Peak RSS of a sqlite3 process fitting 10k vs 100k synthetic rows, d=512.
3. d=30,000 (100x100 RGB pixels), n=7,050: wall time and peak RSS (auto
   solver -> streaming, the d x d matrix would need 7.2 GB).
4. d=100,352, n=10,000 synthetic rows generated inside SQL, streaming
   solver: wall time and peak RSS.
Working files go to bench/work/pca (deleted at the end).
   env PCA_BENCH_QUICK=1: smaller sizes (smoke test of the script).
   env PCA_BENCH_FIT_ONLY=1: section 1 only (the fit vs scikit-learn).
"""
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time

import numpy as np
from PIL import Image
from sklearn.decomposition import PCA

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXT = os.environ.get("IMGPCA_EXT", os.path.join(ROOT, "dist", "imgpca"))
DATA = os.path.join(ROOT, "..", "shared", "data", "fruits360", "Training")
WORK = os.path.join(ROOT, "bench", "work", "pca")
QUICK = os.environ.get("PCA_BENCH_QUICK") == "1"
FIT_ONLY = os.environ.get("PCA_BENCH_FIT_ONLY") == "1"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def image_paths():
    return [os.path.join(DATA, c, f) for c in sorted(os.listdir(DATA)) for f in sorted(os.listdir(os.path.join(DATA, c)))]


def pixels(paths, size):
    out = np.empty((len(paths), size * size * 3), dtype=np.float32)
    for i, p in enumerate(paths):
        with Image.open(p) as im:
            im = im.convert("RGB")
            if im.size != (size, size):
                im = im.resize((size, size), Image.BILINEAR)
            out[i] = np.asarray(im, dtype=np.float32).reshape(-1) / 255.0
    return out


def make_db(path, rows_iter):
    if os.path.exists(path):
        os.remove(path)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("CREATE TABLE f(id INTEGER PRIMARY KEY, v BLOB)")
    for chunk in rows_iter:
        db.executemany("INSERT INTO f(v) VALUES (?)", ((r.astype("<f4").tobytes(),) for r in chunk))
    db.commit()
    db.close()


def run_cli(db, sql):
    """Runs sqlite3 under /usr/bin/time -v; returns (seconds, peak RSS MiB, stdout)."""
    t = time.time()
    p = subprocess.run(["/usr/bin/time", "-v", "sqlite3", "-batch", "-cmd", ".load " + EXT, db, sql],
                       capture_output=True, text=True)
    el = time.time() - t
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-2000:])
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1)) / 1024
    return el, rss, p.stdout.strip()


def best(f, reps=3):
    ts = []
    for _ in range(reps):
        t = time.time()
        f()
        ts.append(time.time() - t)
    return min(ts)


def main():
    os.makedirs(WORK, exist_ok=True)
    paths = image_paths()
    if QUICK:
        paths = paths[::10]
    lines = ["## PCA (pca_fit)", ""]

    # 1. fruits 32x32 ------------------------------------------------------
    log("pca bench: 32x32 features")
    X = pixels(paths, 32)
    n, d = X.shape
    con = sqlite3.connect(":memory:")
    con.enable_load_extension(True)
    con.load_extension(EXT)
    con.execute("CREATE TABLE f(id INTEGER PRIMARY KEY, v BLOB)")
    con.executemany("INSERT INTO f(v) VALUES (?)", ((r.astype("<f4").tobytes(),) for r in X))
    k = 50
    t_ours = best(lambda: con.execute("SELECT length(pca_fit(v, 50)) FROM f").fetchone())
    ropt = '{"solver":"randomized"}'
    t_rand = best(lambda: con.execute("SELECT length(pca_fit(v, 50, ?)) FROM f", (ropt,)).fetchone())
    X64 = X.astype(np.float64)
    t_skl32 = best(lambda: PCA(k).fit(X))
    t_skl64 = best(lambda: PCA(k).fit(X64))
    t_full = best(lambda: PCA(k, svd_solver="full").fit(X64), reps=1)
    import json
    model = con.execute("SELECT pca_fit(v, 50) FROM f").fetchone()[0]
    ratio = np.array(json.loads(con.execute("SELECT pca_info(?)", (model,)).fetchone()[0])["ratio"])
    ref = PCA(k, svd_solver="full").fit(X64).explained_variance_ratio_
    acc = np.max(np.abs(ratio - ref) / ref)
    mr = con.execute("SELECT pca_fit(v, 50, ?) FROM f", (ropt,)).fetchone()[0]
    ratio_r = np.array(json.loads(con.execute("SELECT pca_info(?)", (mr,)).fetchone()[0])["ratio"])
    acc_r = np.max(np.abs(ratio_r - ref) / ref)
    acc_r10 = np.max(np.abs(ratio_r[:10] - ref[:10]) / ref[:10])
    skl_r = PCA(k).fit(X).explained_variance_ratio_
    acc_s = np.max(np.abs(skl_r - ref) / ref)
    lines += [f"Fit of n={n:,}, d={d:,} (32x32 RGB pixels of Fruits-360 training images), k={k}; best of 3 in one process; "
              f"machine load during the run: {os.getloadavg()[0]:.1f}.", "",
              "| implementation | time (s) | imgpca / peer |", "|---|---:|---:|",
              f"| imgpca `pca_fit(v, 50)` (auto -> exact: float64 dsyrk + block Krylov, residual-checked) | {t_ours:.2f} | 1.00 |",
              f"| imgpca `pca_fit(v, 50, '{{\"solver\":\"randomized\"}}')` (float32 range finder) | {t_rand:.2f} | "
              f"{t_rand / t_ours:.2f}x |",
              f"| sklearn `PCA(50).fit` float32 matrix (randomized SVD) | {t_skl32:.2f} | exact {t_ours / t_skl32:.2f}x, "
              f"randomized {t_rand / t_skl32:.2f}x |",
              f"| sklearn `PCA(50).fit` float64 matrix (randomized SVD) | {t_skl64:.2f} | exact {t_ours / t_skl64:.2f}x, "
              f"randomized {t_rand / t_skl64:.2f}x |",
              f"| sklearn `PCA(50, svd_solver='full').fit` float64 (exact, 1 run) | {t_full:.2f} | {t_ours / t_full:.2f}x |",
              "", f"Explained-variance ratios vs sklearn full SVD, max relative difference: imgpca exact {acc:.1e}; "
              f"imgpca randomized {acc_r:.1e} (top 10: {acc_r10:.1e}); sklearn randomized float32 {acc_s:.1e}. "
              "Ratio column: imgpca time / peer time (goal for the randomized solver: <= 1.00x sklearn float32).", ""]
    # streaming vs exact on the same matrix
    ev_ex = np.array(json.loads(con.execute("SELECT pca_info(?)", (model,)).fetchone()[0])["explained_variance"])
    lines += ["Streaming (Frequent Directions) vs exact on the same matrix, k=50:", "",
              "| sketch l | time (s) | max rel. error top-10 eigenvalues | max rel. error top-50 | "
              "error bound / lambda_50 | min abs(cos) top-10 components |", "|---:|---:|---:|---:|---:|---:|"]
    comp_ex = [np.frombuffer(r[0], dtype="<f4") for r in con.execute(
        "SELECT component FROM pca_components(?) ORDER BY idx LIMIT 10", (model,))]
    for l in (128, 256, 512):
        opt = json.dumps({"solver": "streaming", "sketch": l})
        t = time.time()
        ms = con.execute("SELECT pca_fit(v, 50, ?) FROM f", (opt,)).fetchone()[0]
        ts = time.time() - t
        inf = json.loads(con.execute("SELECT pca_info(?)", (ms,)).fetchone()[0])
        ev = np.array(inf["explained_variance"])
        rel = (ev_ex - ev) / ev_ex
        comp_s = [np.frombuffer(r[0], dtype="<f4") for r in con.execute(
            "SELECT component FROM pca_components(?) ORDER BY idx LIMIT 10", (ms,))]
        cos = min(abs(float(np.dot(a, b))) for a, b in zip(comp_ex, comp_s))
        lines.append(f"| {l} | {ts:.2f} | {rel[:10].max():.2e} | {rel.max():.2e} | "
                     f"{inf['error_bound'] / ev_ex[-1]:.2e} | {cos:.6f} |")
    lines.append("")
    con.close()
    del X64
    if FIT_ONLY:
        print("\n".join(lines))
        shutil.rmtree(WORK, ignore_errors=True)
        return

    # 2. RSS flat in n ------------------------------------------------------
    log("pca bench: RSS 10k vs 100k rows, d=512")
    rng = np.random.default_rng(1)
    nbig = 20000 if QUICK else 100000
    basis = rng.standard_normal((16, 512)).astype(np.float32)

    def synth(total, chunk=10000):
        for s in range(0, total, chunk):
            m = min(chunk, total - s)
            yield (rng.standard_normal((m, 16)).astype(np.float32) @ basis
                   + 0.1 * rng.standard_normal((m, 512)).astype(np.float32))
    db512 = os.path.join(WORK, "d512.db")
    make_db(db512, synth(nbig))
    rows = []
    for nn in (nbig // 10, nbig):
        el, rss, _ = run_cli(db512, f"SELECT length(pca_fit(v, 16)) FROM f WHERE id <= {nn}")
        rows.append((nn, el, rss))
    lines += [f"Peak RSS of the sqlite3 process, synthetic d=512, k=16 (exact solver):", "",
              "| rows | time (s) | peak RSS (MiB) |", "|---:|---:|---:|"]
    lines += [f"| {nn:,} | {el:.2f} | {rss:.1f} |" for nn, el, rss in rows]
    lines += ["", f"RSS {rows[1][0]:,} / {rows[0][0]:,} rows: {rows[1][2] / rows[0][2]:.3f}x (goal: flat within 10 %).", ""]
    os.remove(db512)

    # 3. d = 30,000 ---------------------------------------------------------
    log("pca bench: d=30000")
    db30 = os.path.join(WORK, "d30000.db")

    def big_pixels(chunk=500):
        for s in range(0, len(paths), chunk):
            yield pixels(paths[s:s + chunk], 100)
    make_db(db30, big_pixels())
    el, rss, out = run_cli(db30, "SELECT json_extract(pca_info(pca_fit(v, 50)), '$.solver', '$.options.sketch', "
                                 "'$.error_bound', '$.total_variance', '$.cumulative[49]') FROM f")
    info = json.loads(out)
    lines += [f"n={len(paths):,}, d=30,000 (100x100 RGB pixels), k=50, solver auto -> {info[0]} (sketch l={info[1]}):", "",
              "| n | d | solver | time (s) | peak RSS (MiB) | goal |", "|---:|---:|---|---:|---:|---|",
              f"| {len(paths):,} | 30,000 | {info[0]} | {el:.1f} | {rss:.0f} | < 2048 MiB |", "",
              f"Cumulative explained-variance ratio of 50 components: {info[4]:.4f}; "
              f"eigenvalue error bound {info[2]:.3g} (total variance {info[3]:.3g}).", ""]
    os.remove(db30)

    # 4. d = 100,352 synthetic, generated in SQL --------------------------------
    log("pca bench: d=100352")
    dbig = 100352
    nrows = 2000 if QUICK else 10000
    dbb = os.path.join(WORK, "basis.db")
    make_db(dbb, [rng.standard_normal((64, dbig)).astype(np.float32)])
    sql = (f"WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < {nrows}), "
           "rows AS (SELECT fvec_add(fvec_scale((SELECT v FROM f WHERE id = 1 + i % 8), (i % 97) / 10.0), "
           "fvec_scale((SELECT v FROM f WHERE id = 9 + i % 56), (i % 13) / 20.0)) AS v FROM r) "
           "SELECT json_extract(pca_info(pca_fit(v, 20, '{\"solver\":\"streaming\",\"sketch\":64}')), "
           "'$.solver', '$.n', '$.cumulative[19]') FROM rows")
    el, rss, out = run_cli(dbb, sql)
    info = json.loads(out)
    lines += [f"Synthetic n={info[1]:,}, d={dbig:,} (rows generated in SQL from 64 random basis vectors), k=20, "
              f"solver {info[0]}, sketch l=64:", "",
              "| n | d | time (s) | peak RSS (MiB) | sketch memory 2*l*d*8 (MiB) |", "|---:|---:|---:|---:|---:|",
              f"| {info[1]:,} | {dbig:,} | {el:.1f} | {rss:.0f} | {2 * 64 * dbig * 8 / 2**20:.0f} |", ""]
    os.remove(dbb)
    shutil.rmtree(WORK, ignore_errors=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
