#!/usr/bin/python3
"""Cross-check of the pca_* SQL functions against scikit-learn on real
features: 16x16 RGB pixels (Pillow + NumPy, values in [0,1]) of a fixed
sample of Fruits-360 training images, passed to SQL as float32 blobs.

Checks: explained-variance ratios (1e-6 relative), components up to sign
(|cos| >= 1-1e-6 where eigenvalues are well separated), projections up to
sign (1e-4), whitening, reconstruction, StandardScaler+PCA, a variance
fraction k, merges of 1/2/4/7 shards (1e-9 relative on eigenvalues),
streaming vs exact within the reported error bound, identical bytes for
identical input.  Randomized solver: top-k explained variances within 1e-3
relative of the full SVD (and of scikit-learn's own randomized solver),
top-k subspace angles (smallest singular value of C_ours C_ref^T) >= 0.99,
deterministic bytes, refusal in pca_partial, fallback to exact/streaming for
all components or beyond memory_mb."""
import json
import os
import sqlite3
import sys

import numpy as np
from PIL import Image
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import DATA as SHARED, check, connect, exit_if_failed  # noqa: E402

DATA = os.path.join(SHARED, "fruits360", "Training")


def features(step=25, size=16):
    paths = []
    for cls in sorted(os.listdir(DATA)):
        for f in sorted(os.listdir(os.path.join(DATA, cls))):
            paths.append(os.path.join(DATA, cls, f))
    paths = paths[::step]
    rows = []
    for p in paths:
        with Image.open(p) as im:
            a = np.asarray(im.convert("RGB").resize((size, size), Image.BILINEAR), dtype=np.float32) / 255.0
        rows.append(a.reshape(-1))
    return np.stack(rows)


def blob(v):
    return np.asarray(v, dtype="<f4").tobytes()


def vec(b):
    return np.frombuffer(b, dtype="<f4").astype(np.float64)


X32 = features()
X = X32.astype(np.float64)
n, d = X.shape
conn = connect()
conn.execute("CREATE TABLE f(id INTEGER PRIMARY KEY, v BLOB)")
conn.executemany("INSERT INTO f(id, v) VALUES (?, ?)", [(i + 1, blob(r)) for i, r in enumerate(X32)])


def q(sql, *args):
    return conn.execute(sql, args).fetchone()[0]


def info(model):
    return json.loads(q("SELECT pca_info(?)", model))


def components(model):
    rows = conn.execute("SELECT idx, eigenvalue, ratio, cumulative, component FROM pca_components(?) ORDER BY idx",
                        (model,)).fetchall()
    return (np.array([r[1] for r in rows]), np.array([r[2] for r in rows]), np.array([r[3] for r in rows]),
            np.stack([vec(r[4]) for r in rows]))


def compare(model, skl, Xs, label, k):
    """Xs: the matrix skl was fitted on (pca_project gets the raw rows)."""
    inf = info(model)
    ev, ratio, cum, comp = components(model)
    check(inf["n"] == n and inf["d"] == d and inf["k"] == k, f"{label}: info n/d/k {inf['n']},{inf['d']},{inf['k']}")
    r_rel = np.max(np.abs(ratio - skl.explained_variance_ratio_[:k]) / skl.explained_variance_ratio_[:k])
    check(r_rel <= 1e-6, f"{label}: ratio rel err {r_rel:.3g}")
    check(np.allclose(inf["ratio"], ratio, rtol=1e-12), f"{label}: pca_info ratio != pca_components ratio")
    check(abs(cum[-1] - np.sum(skl.explained_variance_ratio_[:k])) <= 1e-6, f"{label}: cumulative")
    ev_rel = np.max(np.abs(ev - skl.explained_variance_[:k]) / skl.explained_variance_[:k])
    check(ev_rel <= 1e-6, f"{label}: eigenvalue rel err {ev_rel:.3g}")
    # components up to sign where the eigenvalue gap is clear
    allev = skl.explained_variance_
    worst_cos = 1.0
    signs = np.ones(k)
    for i in range(k):
        c = abs(float(np.dot(comp[i], skl.components_[i])))
        signs[i] = np.sign(np.dot(comp[i], skl.components_[i])) or 1
        gap = min(abs(allev[i] - allev[j]) for j in range(len(allev)) if j != i) / allev[i]
        if gap > 1e-3:
            worst_cos = min(worst_cos, c)
    check(worst_cos >= 1 - 1e-6, f"{label}: worst |cos| {worst_cos:.12f}")
    # sign convention: largest |entry| positive
    for i in range(k):
        j = int(np.argmax(np.abs(comp[i])))
        check(comp[i][j] > 0, f"{label}: sign convention of component {i + 1}")
    # projections (computed in SQL) up to sign
    proj = np.stack([vec(r[0]) for r in conn.execute("SELECT pca_project(?, v) FROM f ORDER BY id", (model,))])
    ref = skl.transform(Xs)[:, :k] * signs
    perr = np.max(np.abs(proj - ref))
    check(perr <= 1e-4, f"{label}: projection max abs err {perr:.3g}")
    return r_rel, worst_cos, perr


# ---- plain PCA --------------------------------------------------------------
k = 20
skl = PCA(n_components=min(n, d), svd_solver="full").fit(X)
model = q("SELECT pca_fit(v, ?) FROM f", k)
r_rel, worst_cos, perr = compare(model, skl, X, "plain", k)
check(q("SELECT pca_fit(v, ?) FROM f", k) == model, "same input must give the same bytes")
mean = vec(q("SELECT pca_mean(?)", model))
check(np.max(np.abs(mean - X.mean(axis=0))) <= 1e-6, "pca_mean")
std = vec(q("SELECT pca_std(?)", model))
check(np.max(np.abs(std - X.std(axis=0))) <= 1e-6, "pca_std (population)")

# whitening and reconstruction against sklearn
sklw = PCA(n_components=k, svd_solver="full", whiten=True).fit(X)
signs = np.sign(np.sum(components(model)[3] * sklw.components_, axis=1))
pw = np.stack([vec(r[0]) for r in conn.execute("SELECT pca_project(?, v, NULL, 1) FROM f ORDER BY id", (model,))])
check(np.max(np.abs(pw - sklw.transform(X) * signs)) <= 1e-4, "whitened projection")
pw2 = q("SELECT pca_project(?, v, 5, '{\"whiten\":true}') FROM f WHERE id = 3", model)
check(np.max(np.abs(vec(pw2) - pw[2, :5])) <= 1e-6, "whiten option as JSON and k=5")
sklk = PCA(n_components=k, svd_solver="full").fit(X)
rec = np.stack([vec(r[0]) for r in conn.execute(
    "SELECT pca_reconstruct(?1, pca_project(?1, v)) FROM f ORDER BY id", (model,))])
rerr = np.max(np.abs(rec - sklk.inverse_transform(sklk.transform(X))))
check(rerr <= 1e-4, f"reconstruction max abs err {rerr:.3g}")
recw = np.stack([vec(r[0]) for r in conn.execute(
    "SELECT pca_reconstruct(?1, pca_project(?1, v, NULL, 1), 1) FROM f ORDER BY id", (model,))])
check(np.max(np.abs(recw - rec)) <= 1e-4, "whitened round trip")

# ---- variance fraction -----------------------------------------------------
mf = q("SELECT pca_fit(v, 0.9) FROM f")
kf = PCA(n_components=0.9, svd_solver="full").fit(X).n_components_
check(info(mf)["k"] == kf, f"fraction 0.9: k {info(mf)['k']} vs sklearn {kf}")

# ---- standardisation -------------------------------------------------------
sc = StandardScaler(with_mean=True, with_std=True).fit(X)
Z = sc.transform(X)
skz = PCA(n_components=min(n, d), svd_solver="full").fit(Z)
mz = q("SELECT pca_fit(v, ?, '{\"standardize\": true}') FROM f", k)
check(info(mz)["standardize"] is True, "standardize flag in pca_info")
zr, zc, zp = compare(mz, skz, Z, "standardized", k)
# the scaler's transform is applied by pca_project: compare against sklearn's pipeline output
check(np.max(np.abs(vec(q("SELECT pca_std(?)", mz)) - np.sqrt(sc.var_))) <= 1e-6, "standardized pca_std == sqrt(scaler var_)")
check(int(np.sum(sc.scale_ == 1.0)) > 0, "sample has constant features (scale 1 path exercised)")

# ---- merges of 1, 2, 4, 7 shards -------------------------------------------
ev1 = np.array(info(model)["explained_variance"])
merge_err = 0.0
for shards in (1, 2, 4, 7):
    for how in ("fit", "merge"):
        if how == "fit":
            m = q("SELECT pca_fit(s, ?) FROM (SELECT pca_partial(v) AS s FROM f GROUP BY id % ?)", k, shards)
        else:
            m = q("SELECT pca_fit(s, ?) FROM (SELECT pca_merge(s) AS s FROM "
                  "(SELECT pca_partial(v) AS s FROM f GROUP BY id % ?))", k, shards)
        ev = np.array(info(m)["explained_variance"])
        e = np.max(np.abs(ev - ev1) / ev1)
        merge_err = max(merge_err, e)
        check(e <= 1e-9, f"merge {shards} shards via {how}: eigenvalue rel err {e:.3g}")
        _, _, _, cm = components(m)
        cosm = np.min(np.abs(np.sum(cm[:10] * components(model)[3][:10], axis=1)))
        check(cosm >= 1 - 1e-6, f"merge {shards} shards: components |cos| {cosm}")
# standardize given to pca_partial is kept in the state
ms = q("SELECT pca_fit(s, ?) FROM (SELECT pca_partial(v, '{\"standardize\":true}') AS s FROM f GROUP BY id % 3)", k)
evs = np.array(info(ms)["explained_variance"])
check(np.max(np.abs(evs - skz.explained_variance_[:k]) / skz.explained_variance_[:k]) <= 1e-6,
      "standardized merged states")

# ---- streaming vs exact ----------------------------------------------------
ks = 10
stream_rel = 0.0
for shards, sketch in ((1, 64), (4, 64), (1, 32)):
    m = q("SELECT pca_fit(s, ?) FROM (SELECT pca_partial(v, json_object('solver','streaming','sketch',?)) AS s "
          "FROM f GROUP BY id % ?)", ks, sketch, shards)
    inf = info(m)
    check(inf["solver"] == "streaming", "streaming solver reported")
    bound = inf["error_bound"]
    ev = np.array(inf["explained_variance"])
    ex = skl.explained_variance_[:ks]
    # FD guarantee: lambda_i - bound <= estimate <= lambda_i
    check(np.all(ev <= ex * (1 + 1e-9)) and np.all(ev >= ex - bound - 1e-9 * ex),
          f"streaming sketch={sketch} shards={shards}: eigenvalues outside [lambda-bound, lambda]")
    # documented a-priori bound: bound <= tail(j)/(l-j) for every j < l (checked at j = l/2)
    j = sketch // 2
    tail = np.sum(skl.explained_variance_[j:])
    check(bound <= tail / (sketch - j) * (1 + 1e-9), f"streaming: bound {bound} above tail/(l-j) {tail / (sketch - j)}")
    rr = np.max(np.abs(np.array(inf["ratio"]) - skl.explained_variance_ratio_[:ks]))
    check(rr <= bound / inf["total_variance"] + 1e-12, "streaming ratio within bound/total")
    if shards == 1 and sketch == 64:
        stream_rel = float(np.max((ex - ev) / ex))
        stream_bound_rel = bound / ex[ks - 1]
m = q("SELECT pca_fit(v, ?, '{\"solver\":\"streaming\",\"sketch\":64}') FROM f", ks)
ev = np.array(info(m)["explained_variance"])
check(np.all(ev <= skl.explained_variance_[:ks] * (1 + 1e-9)), "streaming pca_fit directly")
check(q("SELECT pca_fit(v, ?, '{\"solver\":\"streaming\",\"sketch\":64}') FROM f", ks) == m,
      "streaming: same input, same bytes")

# ---- randomized solver -------------------------------------------------------
kr = 10
opt_r = '{"solver":"randomized"}'
mr = q("SELECT pca_fit(v, ?, ?) FROM f", kr, opt_r)
inf_r = info(mr)
check(inf_r["solver"] == "randomized" and inf_r["options"]["solver"] == "randomized",
      f"randomized solver reported: {inf_r['solver']}")
ev_r = np.array(inf_r["explained_variance"])
rand_rel = float(np.max(np.abs(ev_r - skl.explained_variance_[:kr]) / skl.explained_variance_[:kr]))
check(rand_rel < 1e-3, f"randomized eigenvalues vs full SVD: {rand_rel:.2e}")
skr = PCA(n_components=kr, svd_solver="randomized", random_state=0).fit(X32)
rand_skl = float(np.max(np.abs(ev_r - skr.explained_variance_) / skr.explained_variance_))
check(rand_skl < 1e-3, f"randomized eigenvalues vs sklearn randomized: {rand_skl:.2e}")
_, _, _, comp_r = components(mr)
rand_angle = float(np.linalg.svd(comp_r @ skl.components_[:kr].T, compute_uv=False).min())
check(rand_angle >= 0.99, f"randomized subspace vs full SVD: smallest cosine {rand_angle:.4f}")
check(abs(float(np.dot(comp_r[0], skl.components_[0]))) > 0.9999, "randomized first component")
check(q("SELECT pca_fit(v, ?, ?) FROM f", kr, opt_r) == mr, "randomized: same input, same bytes")
check(q("SELECT pca_fit(v, ?, '{\"solver\":\"randomized\",\"seed\":5}') FROM f", kr) != mr,
      "randomized: the seed is used")
try:
    q("SELECT pca_partial(v, ?) FROM f", opt_r)
    check(False, "pca_partial with the randomized solver must fail")
except sqlite3.OperationalError as e:
    check(str(e).startswith("pca_partial: ") and "randomized solver fits in one process" in str(e),
          f"pca_partial randomized message: {e}")
# all components: falls back to the exact solver, same eigenvalues
ma = q("SELECT pca_fit(v, NULL, ?) FROM f", opt_r)
check(info(ma)["solver"] == "exact" and info(ma)["options"]["solver"] == "randomized", "randomized k=all -> exact")
check(np.allclose(np.array(info(ma)["explained_variance"]), skl.explained_variance_[:min(n - 1, d)], rtol=1e-6,
                  atol=1e-12), "randomized k=all -> exact eigenvalues")
# beyond memory_mb the kept rows are replayed into the exact/streaming state
mm = q("SELECT pca_fit(v, ?, '{\"solver\":\"randomized\",\"memory_mb\":2}') "
       "FROM (SELECT v FROM f UNION ALL SELECT v FROM f UNION ALL SELECT v FROM f)", kr)
check(info(mm)["solver"] in ("exact", "streaming") and info(mm)["n"] == 3 * n,
      f"randomized beyond memory_mb: {info(mm)['solver']}")

# ---- corrupt models never crash -------------------------------------------
rng = np.random.default_rng(7)
bad = 0
raw = bytearray(model)
for t in range(200):
    b = bytearray(raw)
    if t % 3 == 0:
        b = b[: rng.integers(0, len(b))]
    else:
        for _ in range(1 + t % 4):
            b[rng.integers(0, len(b))] ^= 1 << int(rng.integers(0, 8))
    try:
        q("SELECT pca_info(?)", bytes(b))
    except sqlite3.OperationalError as e:
        check("pca_info: invalid model:" in str(e), f"corrupt model message: {e}")
        bad += 1
check(bad == 200, f"only {bad}/200 corrupted models rejected")

exit_if_failed()
print(f"n={n} d={d} k={k}: ratio rel err {r_rel:.1e}, worst |cos| 1-{1 - worst_cos:.1e}, proj err {perr:.1e}; "
      f"standardized ratio {zr:.1e}; merge 1/2/4/7 eig rel {merge_err:.1e}; streaming l=64 top-{ks} eig rel "
      f"{stream_rel:.1e} (bound {stream_bound_rel:.1e}); randomized k={kr} eig rel {rand_rel:.1e}, "
      f"subspace cos {rand_angle:.6f}")
