#!/usr/bin/python3
"""knn_search vs scikit-learn NearestNeighbors(algorithm='brute') on the
shared sample's PCA vectors, computed with the extension (img_features
'hist:bins=8,sqrt' over fruits360, pca_fit 50 on Training, pca_project):
Test (2,115) x Training (7,050) x 50.

For k = 1, 5, 10 and the metrics l2 and cosine (and dot, checked against
NumPy): same neighbour ids -- where distances tie within float noise the
ids are compared as sets of the tied group -- and distances within 1e-5
relative.  Also: duplicate vectors give ties ordered by id; one query (a
BLOB) equals the row of the query of queries; KNeighborsClassifier(1)
predictions equal the labels of rank 1."""
import os
import sys

import numpy as np
from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors

sys.path.insert(0, os.path.dirname(__file__))
import testlib  # noqa: E402
from testlib import check  # noqa: E402

con = testlib.connect()
src = os.path.join(testlib.DATA, 'fruits360')
con.execute("""CREATE TABLE img AS
  SELECT key, parent AS label, CASE WHEN '/' || key LIKE '%/Test/%' THEN 'test' ELSE 'train' END AS split,
         img_features(content, 'hist:bins=8,sqrt') AS f
  FROM s3_list(? || '/**/*.jpg')""", (src,))
con.execute("""CREATE TABLE pc AS
  SELECT row_number() OVER (ORDER BY key) AS id, key, label, split,
         pca_project((SELECT pca_fit(f, 50) FROM (SELECT f FROM img WHERE split = 'train' ORDER BY key)), f) AS v
  FROM img ORDER BY key""")


def load(split):
    rows = con.execute('SELECT id, label, v FROM pc WHERE split = ? ORDER BY id', (split,)).fetchall()
    return (np.array([r[0] for r in rows]), [r[1] for r in rows],
            np.stack([np.frombuffer(r[2], dtype='<f4') for r in rows]))


tid, tlab, tx = load('train')
qid, qlab, qx = load('test')
check(len(tid) == 7050 and len(qid) == 2115 and tx.shape[1] == 50, f'sample sizes {len(tid)} {len(qid)} {tx.shape}')

Q = "SELECT id, v FROM pc WHERE split = 'test' ORDER BY id"
R = "SELECT id, v FROM pc WHERE split = 'train'"


def knn(k, metric):
    rows = con.execute('SELECT query_id, rank, ref_id, distance FROM knn_search(?, ?, ?, ?)', (Q, R, k, metric)).fetchall()
    ids = np.array([r[2] for r in rows]).reshape(len(qid), k)
    dist = np.array([r[3] for r in rows]).reshape(len(qid), k)
    qs = np.array([r[0] for r in rows]).reshape(len(qid), k)
    ranks = np.array([r[1] for r in rows]).reshape(len(qid), k)
    check((qs == qid[:, None]).all(), f'k={k} {metric}: rows not in query order')
    check((ranks == np.arange(1, k + 1)[None, :]).all(), f'k={k} {metric}: ranks not 1..k')
    return ids, dist


def compare(name, ids, dist, ref_ids, ref_dist):
    """Same ids rank by rank, except within groups of ranks whose reference
    distances tie within 1e-6 relative (float noise of the peer)."""
    bad_d = np.abs(dist - ref_dist) > 1e-5 * np.maximum(np.abs(ref_dist), 1e-6)
    check(not bad_d.any(), f'{name}: {bad_d.sum()} distances off by more than 1e-5 relative, '
          f'e.g. query {np.argwhere(bad_d)[:1].tolist()}')
    mism = 0
    for i in range(ids.shape[0]):
        if (ids[i] == ref_ids[i]).all():
            continue
        # group ranks by near-equal reference distances
        j, k = 0, ids.shape[1]
        while j < k:
            e = j + 1
            while e < k and abs(ref_dist[i, e] - ref_dist[i, j]) <= 1e-6 * max(abs(ref_dist[i, j]), 1e-6):
                e += 1
            if e == k or set(ids[i, j:e]) != set(ref_ids[i, j:e]):
                # the last group may be cut by k: compare its distances only
                if e != k:
                    mism += 1
                    break
            j = e
    check(mism == 0, f'{name}: {mism} queries with different neighbours')
    return mism


for metric in ('l2', 'cosine'):
    nn = NearestNeighbors(n_neighbors=10, algorithm='brute', metric='euclidean' if metric == 'l2' else 'cosine')
    nn.fit(tx.astype(np.float64))
    ref_dist, ref_idx = nn.kneighbors(qx.astype(np.float64))
    ref_ids = tid[ref_idx]
    for k in (1, 5, 10):
        ids, dist = knn(k, metric)
        compare(f'{metric} k={k}', ids, dist, ref_ids[:, :k], ref_dist[:, :k])

# dot: NumPy (float64) is the peer; distance = -q.r
S = qx.astype(np.float64) @ tx.astype(np.float64).T
order = np.lexsort((np.broadcast_to(tid, S.shape), -S), axis=1)[:, :10]
for k in (1, 5, 10):
    ids, dist = knn(k, 'dot')
    compare(f'dot k={k}', ids, dist, tid[order[:, :k]], -np.take_along_axis(S, order[:, :k], axis=1))

# 1-NN classification = KNeighborsClassifier(1, brute) predictions
clf = KNeighborsClassifier(1, algorithm='brute').fit(tx, tlab)
pred = clf.predict(qx)
ids, dist = knn(1, 'l2')
lab = dict(zip(tid, tlab))
agree = sum(lab[i] == p for i, p in zip(ids[:, 0], pred))
check(agree >= len(pred) - 2, f'1-NN labels agree with KNeighborsClassifier on {agree}/{len(pred)}')

# one query as a BLOB = its row in the query of queries
one = con.execute("SELECT ref_id, distance FROM knn_search((SELECT v FROM pc WHERE id = ?), ?, 10)",
                  (int(qid[7]), R)).fetchall()
ids10, dist10 = knn(10, 'l2')
check([r[0] for r in one] == list(ids10[7]) and np.allclose([r[1] for r in one], dist10[7], rtol=0, atol=0),
      'one query differs from its row in the query of queries')

# duplicates: every training vector twice (ids +100000): exact ties, ordered by id
rows = con.execute("SELECT query_id, rank, ref_id, distance FROM knn_search(?, ?, 4)",
                   ("SELECT id, v FROM pc WHERE split = 'test' AND id % 7 = 0",
                    "SELECT id + 100000, v FROM pc WHERE split = 'train' UNION ALL " + R)).fetchall()
bad = 0
for i in range(0, len(rows), 4):
    g = rows[i:i + 4]
    # ranks 1-2 and 3-4 are the same vector twice: id then id + 100000
    if not (g[0][3] == g[1][3] and g[1][2] == g[0][2] + 100000 and g[2][3] == g[3][3] and g[3][2] == g[2][2] + 100000):
        bad += 1
check(bad == 0 and len(rows) > 0, f'duplicate references: {bad} queries without id-ordered ties')

testlib.exit_if_failed()
print(f'knn_search = sklearn brute force on {len(qid)} x {len(tid)} x 50 (l2, cosine, dot; k = 1, 5, 10)')
