/*
** Fuzz target: knn_search inputs (ext/knn core), checked for exactness.
**
** Input: a header (dimension 1..64, k 1..8, metric, number of queries,
** threads, a scale exponent) then float32 values (non-finite ones replaced
** by the exponent-scaled byte value), so vectors span every finite
** magnitude, duplicates and ties.  The search must return, for every query,
** exactly the k nearest references of a double-precision brute force
** (same distance formulas, ties by key): the float32 screen may never skip
** a true neighbour, whatever the scale (round 3, item 1).
*/
#include <math.h>

#include "fuzz.h"
#include "knn/knn.h"
#include "../tests/unit/knn_brute.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[IMGPCA_ERRMAX];
  size_t d, k, nq, nr, nv, i, j;
  int metric, scale, rc;
  float *v;
  int64_t *key;
  Ref *all;
  KnnSearch *s = NULL;
  if (size < 6) return 0;
  d = 1 + data[0] % 64;
  k = 1 + data[1] % 8;
  metric = data[2] % 3;
  nq = 1 + data[3] % 8;
  scale = (int)(data[4] % 200) - 100; /* 2^-100 .. 2^99 for the filler values */
  data += 6;
  size -= 6;
  nv = size / 4 / d;
  if (nv <= nq || nv > 4096) return 0;
  nr = nv - nq;
  v = malloc(nv * d * sizeof(float));
  key = malloc(nr * sizeof(int64_t));
  all = malloc(nr * sizeof(Ref));
  if (!v || !key || !all) goto done;
  for (i = 0; i < nv * d; i++) {
    float f;
    memcpy(&f, data + 4 * i, 4);
    if (!isfinite(f)) f = ldexpf((float)(data[4 * i] % 7) - 3.0f, scale);
    v[i] = f;
  }
  for (j = 0; j < nr; j++) key[j] = (int64_t)((j * 37) % nr);
  if (knn_open(d, k, metric, NULL, NULL, &s, err) != IMGPCA_OK) goto done;
  knn_set_threads(s, 1 + data[-1] % 3);
  rc = knn_set_queries(s, v, nq, NULL, err);
  fuzz_check_err(rc, err);
  if (rc == IMGPCA_OK) {
    size_t block = 1 + data[-2] % 64;
    for (j = 0; rc == IMGPCA_OK && j < nr; j += block) {
      size_t m = nr - j < block ? nr - j : block;
      rc = knn_add_refs(s, v + (nq + j) * d, key + j, m, NULL, err);
      fuzz_check_err(rc, err);
    }
  }
  if (rc == IMGPCA_OK) {
    knn_finish(s);
    for (i = 0; i < nq; i++) {
      size_t n, want = k < nr ? k : nr;
      const KnnHit *h = knn_hits(s, i, &n);
      for (j = 0; j < nr; j++) {
        all[j].dist = brute_dist(metric, v + i * d, v + (nq + j) * d, d);
        all[j].key = key[j];
      }
      qsort(all, nr, sizeof(Ref), ref_cmp);
      if (n != want) fuzz_fail("query %zu: %zu hits, expected %zu", i, n, want);
      for (j = 0; j < n; j++) {
        if (h[j].key != all[j].key || !(h[j].dist == all[j].dist))
          fuzz_fail("query %zu rank %zu: got (%lld, %.17g), expected (%lld, %.17g)", i, j + 1,
                    (long long)h[j].key, h[j].dist, (long long)all[j].key, all[j].dist);
      }
    }
  } else if (metric != KNN_COSINE) {
    fuzz_fail("l2/dot search failed: %s", err); /* only cosine refuses (a zero vector) */
  }
done:
  knn_close(s);
  free(v);
  free(key);
  free(all);
  return 0;
}
