#!/usr/bin/python3
"""The peer of bench_pipeline.sh: the same pipeline written with Pillow +
NumPy + scikit-learn (Debian packages), as a data scientist would, on every
core:

  list SOURCE/**/*.jpg|png (recursive os.scandir) -> decode (Pillow) ->
  8x8x8 HSV histogram of the non-white pixels (min(R,G,B) < 240),
  L1-normalised, square-rooted (NumPy, vectorised per image), in a
  multiprocessing.Pool of os.cpu_count() processes -> PCA(k) fitted on
  Training (sklearn defaults: a randomized SVD for this shape; svd_solver
  'full' with --full) -> transform all -> 1-NN labels of Test (sklearn brute
  force) -> CSV path,label,pc1..pck with the csv module (repr of float32)

usage: pipeline_peer.py SOURCE OUT.csv [K] [--no-classify] [--full] [--processes N]
Prints one JSON line with the stage times and the accuracy.
"""
import csv
import json
import multiprocessing
import os
import sys
import time

import numpy as np
from PIL import Image
from sklearn.decomposition import PCA
from sklearn.neighbors import KNeighborsClassifier


def hist(path, nb=8, white=240):
    with Image.open(path) as im:
        a = np.asarray(im.convert("RGB"), dtype=np.float32).reshape(-1, 3) / 255.0
    a = a[a.min(axis=1) < white / 255.0]
    h = np.zeros(nb * nb * nb)
    if len(a):
        mx, mn = a.max(axis=1), a.min(axis=1)
        d = mx - mn
        r, g, b = a[:, 0], a[:, 1], a[:, 2]
        dd = np.where(d > 0, d, 1)
        hue = np.where(mx == r, (g - b) / dd, np.where(mx == g, 2 + (b - r) / dd, 4 + (r - g) / dd))
        hue = np.where(d > 0, (hue / 6.0) % 1.0, 0)
        sat = np.where(mx > 0, d / np.where(mx > 0, mx, 1), 0)
        idx = [np.minimum(nb - 1, np.floor(x * nb + 1e-9).astype(int)) for x in (hue, sat, mx)]
        np.add.at(h, (idx[0] * nb + idx[1]) * nb + idx[2], 1)
        h /= len(a)
    return np.sqrt(h)


def walk(top):
    """Every file under top, recursively (os.scandir, symlinks followed)."""
    out = []
    stack = [top]
    while stack:
        d = stack.pop()
        with os.scandir(d) as it:
            for e in it:
                if e.is_dir():
                    stack.append(e.path)
                elif e.name.lower().endswith((".jpg", ".jpeg", ".png")):
                    out.append(e.path)
    return out


def main():
    src, out = sys.argv[1], sys.argv[2]
    k = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3].isdigit() else 50
    classify = "--no-classify" not in sys.argv
    solver = "full" if "--full" in sys.argv else "auto"
    nproc = int(sys.argv[sys.argv.index("--processes") + 1]) if "--processes" in sys.argv else os.cpu_count()
    t = {}
    t0 = time.perf_counter()
    files = sorted(walk(src))
    keys = [os.path.relpath(f, src) for f in files]
    labels = [os.path.basename(os.path.dirname(f)) for f in files]
    test = np.array(["/test/" in "/" + kk.lower() for kk in keys])
    t1 = time.perf_counter()
    with multiprocessing.Pool(nproc) as pool:
        X = np.stack(pool.map(hist, files, chunksize=64))
    t2 = time.perf_counter()
    pca = PCA(n_components=k, svd_solver=solver).fit(X[~test])
    P = pca.transform(X).astype(np.float32)
    t3 = time.perf_counter()
    acc = None
    if classify and test.any():
        lab = np.array(labels)
        knn = KNeighborsClassifier(n_neighbors=1, algorithm="brute").fit(P[~test], lab[~test])
        acc = float((knn.predict(P[test]) == lab[test]).mean())
    t4 = time.perf_counter()
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "label"] + [f"pc{i + 1}" for i in range(k)])
        for kk, lb, row in zip(keys, labels, P.tolist()):
            w.writerow([kk, lb] + row)
    t5 = time.perf_counter()
    print(json.dumps({"images": len(files), "processes": nproc, "solver": solver, "list": t1 - t0,
                      "features": t2 - t1, "fit_project": t3 - t2, "classify": t4 - t3, "csv": t5 - t4,
                      "total": t5 - t0, "accuracy": acc, "variance": float(pca.explained_variance_ratio_.sum())}))


if __name__ == "__main__":
    main()
