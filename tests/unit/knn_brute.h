/* The independent reference of the k-NN tests (tests/unit/test_knn.c) and
** of the knn_search fuzz target (fuzz/fuzz_knn_search.c): distances in
** double precision with the same formulas as knn_search, and the order of
** results, (distance, key). */
#ifndef IMGPCA_KNN_BRUTE_H
#define IMGPCA_KNN_BRUTE_H
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "knn/knn.h"

typedef struct Ref {
  double dist;
  int64_t key;
} Ref;

/* qsort order of Ref: distance, then key. */
static int ref_cmp(const void *a, const void *b) {
  const Ref *x = a, *y = b;
  if (x->dist != y->dist) return x->dist < y->dist ? -1 : 1;
  return (x->key > y->key) - (x->key < y->key);
}

/* The distance of metric (KNN_L2, KNN_COSINE, KNN_DOT: negative inner
** product) between q and r, in double precision. */
static double brute_dist(int metric, const float *q, const float *r, size_t d) {
  double dot = 0, nq = 0, nr = 0, l2 = 0;
  size_t i;
  for (i = 0; i < d; i++) {
    double t = (double)q[i] - r[i];
    dot += (double)q[i] * r[i];
    nq += (double)q[i] * q[i];
    nr += (double)r[i] * r[i];
    l2 += t * t;
  }
  if (metric == KNN_L2) return sqrt(l2);
  if (metric == KNN_COSINE) return 1.0 - dot / (sqrt(nq) * sqrt(nr));
  return -dot;
}

#endif
