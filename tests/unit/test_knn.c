/* Unit tests of the k-NN core (no SQLite): every result is compared with a
** brute-force search in double precision written independently of the core
** (knn_brute.h: full sort of all distances by (distance, key)). */
#include <stdlib.h>

#include "common/common.h"
#include "knn/knn.h"
#include "knn_brute.h"
#include "unit.h"

static uint64_t rng = 88172645463325252ull;
static double urand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (double)(rng >> 11) / 9007199254740992.0;
}

/* Runs a search of nq queries over nr refs fed in blocks of `block`, and
** checks every query's hits against the brute force. */
static int nThreads = 1; /* threads of the searches made by check_search */

static void check_search(const char *what, int metric, const float *q, size_t nq, const float *r,
                         const int64_t *key, size_t nr, size_t d, size_t k, size_t block) {
  KnnSearch *s = NULL;
  char err[IMGPCA_ERRMAX];
  Ref *all = malloc(nr * sizeof(Ref));
  size_t iq, j, bad = 0, i0;
  int rc = knn_open(d, k, metric, NULL, NULL, &s, err);
  CHECK_EQ_INT(rc, IMGPCA_OK);
  if (rc) return;
  knn_set_threads(s, nThreads);
  CHECK_EQ_INT(knn_set_queries(s, q, nq, NULL, err), IMGPCA_OK);
  for (i0 = 0; i0 < nr; i0 += block) {
    size_t m = nr - i0 < block ? nr - i0 : block;
    CHECK_EQ_INT(knn_add_refs(s, r + i0 * d, key + i0, m, NULL, err), IMGPCA_OK);
  }
  knn_finish(s);
  for (iq = 0; iq < nq; iq++) {
    size_t n, want = k < nr ? k : nr;
    const KnnHit *h = knn_hits(s, iq, &n);
    for (j = 0; j < nr; j++) {
      all[j].dist = brute_dist(metric, q + iq * d, r + j * d, d);
      all[j].key = key[j];
    }
    qsort(all, nr, sizeof(Ref), ref_cmp);
    if (n != want) bad++;
    for (j = 0; j < n && j < want; j++) {
      double tol = 1e-12 * (fabs(all[j].dist) + 1);
      if (h[j].key != all[j].key || fabs(h[j].dist - all[j].dist) > tol) {
        if (bad < 5)
          fprintf(stderr, "%s: query %zu rank %zu: got (%lld, %.17g), expected (%lld, %.17g)\n", what, iq, j + 1,
                  (long long)h[j].key, h[j].dist, (long long)all[j].key, all[j].dist);
        bad++;
      }
    }
  }
  unit_count++;
  if (bad) {
    unit_fail++;
    fprintf(stderr, "%s: %zu mismatches\n", what, bad);
  }
  knn_close(s);
  free(all);
}

static void test_random(void) {
  size_t d = 13, nq = 300, nr = 2500, i;
  float *q = malloc(nq * d * sizeof(float)), *r = malloc(nr * d * sizeof(float));
  int64_t *key = malloc(nr * sizeof(int64_t));
  int metric;
  for (i = 0; i < nq * d; i++) q[i] = (float)(urand() * 2 - 1);
  for (i = 0; i < nr * d; i++) r[i] = (float)(urand() * 2 - 1);
  for (i = 0; i < nr; i++) key[i] = (int64_t)(nr - i) * 7; /* keys not in row order */
  for (metric = KNN_L2; metric <= KNN_DOT; metric++) {
    char what[64];
    snprintf(what, sizeof what, "random %s k=1", knn_metric_name(metric));
    check_search(what, metric, q, nq, r, key, nr, d, 1, 1000);
    snprintf(what, sizeof what, "random %s k=5", knn_metric_name(metric));
    check_search(what, metric, q, nq, r, key, nr, d, 5, 777);
    snprintf(what, sizeof what, "random %s k=10", knn_metric_name(metric));
    check_search(what, metric, q, nq, r, key, nr, d, 10, 2500);
    /* one query (the sgemv path), blocks of one reference */
    snprintf(what, sizeof what, "one query %s", knn_metric_name(metric));
    check_search(what, metric, q, 1, r, key, 300, d, 7, 1);
    /* k larger than the reference set */
    snprintf(what, sizeof what, "k > n %s", knn_metric_name(metric));
    check_search(what, metric, q, 20, r, key, 9, d, 50, 4);
    /* 3 threads over 3 query tiles (and one uneven block) */
    nThreads = 3;
    snprintf(what, sizeof what, "3 threads %s k=4", knn_metric_name(metric));
    check_search(what, metric, q, nq, r, key, nr, d, 4, 2400);
    nThreads = 1;
  }
  free(q);
  free(r);
  free(key);
}

/* Vectors far from the origin and close to each other: qq + rr - 2 q.r
** cancels almost entirely in float32, which alone would reorder them. */
static void test_cancellation(void) {
  size_t d = 8, nq = 40, nr = 600, i;
  float *q = malloc(nq * d * sizeof(float)), *r = malloc(nr * d * sizeof(float));
  int64_t *key = malloc(nr * sizeof(int64_t));
  KnnSearch *s = NULL;
  char err[IMGPCA_ERRMAX];
  for (i = 0; i < nq * d; i++) q[i] = (float)(1000.0 + urand() * 1e-2);
  for (i = 0; i < nr * d; i++) r[i] = (float)(1000.0 + urand() * 1e-2);
  for (i = 0; i < nr; i++) key[i] = (int64_t)i;
  check_search("cancellation l2", KNN_L2, q, nq, r, key, nr, d, 3, 256);
  check_search("cancellation cosine", KNN_COSINE, q, nq, r, key, nr, d, 3, 256);
  check_search("cancellation dot", KNN_DOT, q, nq, r, key, nr, d, 3, 256);
  /* well-separated data needs few exact measures: the screen does its job */
  for (i = 0; i < nr * d; i++) r[i] = (float)(urand() * 100);
  for (i = 0; i < nq * d; i++) q[i] = (float)(urand() * 100);
  CHECK_EQ_INT(knn_open(d, 1, KNN_L2, NULL, NULL, &s, err), IMGPCA_OK);
  CHECK_EQ_INT(knn_set_queries(s, q, nq, NULL, err), IMGPCA_OK);
  CHECK_EQ_INT(knn_add_refs(s, r, key, nr, NULL, err), IMGPCA_OK);
  CHECK(knn_exact_count(s) < nq * nr / 10);
  knn_close(s);
  free(q);
  free(r);
  free(key);
}

/* Duplicate vectors: equal distances come in key order whatever the order
** and the blocks the references arrive in. */
static int rev_cmp(void *ctx, int64_t a, int64_t b) {
  (void)ctx;
  return (a < b) - (a > b);
}

static void test_ties(void) {
  float q[2] = {0, 0}, r[12];
  int64_t key[6] = {50, 40, 30, 20, 10, 60};
  KnnSearch *s = NULL;
  char err[IMGPCA_ERRMAX];
  const KnnHit *h;
  size_t n, i;
  for (i = 0; i < 6; i++) {
    r[2 * i] = 1;
    r[2 * i + 1] = 2;
  }
  r[10] = 0; /* key 60 is nearer */
  r[11] = 1;
  CHECK_EQ_INT(knn_open(2, 4, KNN_L2, NULL, NULL, &s, err), IMGPCA_OK);
  CHECK_EQ_INT(knn_set_queries(s, q, 1, NULL, err), IMGPCA_OK);
  CHECK_EQ_INT(knn_add_refs(s, r, key, 2, NULL, err), IMGPCA_OK);
  CHECK_EQ_INT(knn_add_refs(s, r + 4, key + 2, 4, NULL, err), IMGPCA_OK);
  knn_finish(s);
  h = knn_hits(s, 0, &n);
  CHECK_EQ_INT(n, 4);
  CHECK_EQ_INT(h[0].key, 60);
  CHECK_NEAR(h[0].dist, 1, 0);
  CHECK_EQ_INT(h[1].key, 10);
  CHECK_EQ_INT(h[2].key, 20);
  CHECK_EQ_INT(h[3].key, 30);
  CHECK_NEAR(h[3].dist, sqrt(5.0), 0);
  knn_close(s);
  /* a caller's order of keys (here: descending) */
  CHECK_EQ_INT(knn_open(2, 3, KNN_L2, rev_cmp, NULL, &s, err), IMGPCA_OK);
  CHECK_EQ_INT(knn_set_queries(s, q, 1, NULL, err), IMGPCA_OK);
  CHECK_EQ_INT(knn_add_refs(s, r, key, 6, NULL, err), IMGPCA_OK);
  knn_finish(s);
  h = knn_hits(s, 0, &n);
  CHECK_EQ_INT(n, 3);
  CHECK_EQ_INT(h[0].key, 60);
  CHECK_EQ_INT(h[1].key, 50);
  CHECK_EQ_INT(h[2].key, 40);
  knn_close(s);
}

static void test_errors(void) {
  KnnSearch *s = NULL;
  char err[IMGPCA_ERRMAX];
  float q[4] = {1, 0, 0, 0}, r[6] = {1, 1, 0, 0, 2, 2};
  int64_t key[3] = {1, 2, 3};
  size_t bad = 99;
  CHECK_EQ_INT(knn_open(2, 0, KNN_L2, NULL, NULL, &s, err), IMGPCA_ERROR);
  CHECK_STR(err, "k must be at least 1");
  CHECK_EQ_INT(knn_open(0, 1, KNN_L2, NULL, NULL, &s, err), IMGPCA_ERROR);
  CHECK_EQ_INT(knn_metric_from_name("COSINE"), KNN_COSINE);
  CHECK_EQ_INT(knn_metric_from_name("l1"), -1);
  CHECK_EQ_INT(knn_open(2, 1, KNN_COSINE, NULL, NULL, &s, err), IMGPCA_OK);
  CHECK_EQ_INT(knn_set_queries(s, q, 2, &bad, err), IMGPCA_ERROR);
  CHECK_EQ_INT(bad, 1);
  CHECK_STR(err, "cosine distance of a zero vector is undefined");
  CHECK_EQ_INT(knn_set_queries(s, q, 1, &bad, err), IMGPCA_OK);
  CHECK_EQ_INT(knn_add_refs(s, r, key, 3, &bad, err), IMGPCA_ERROR);
  CHECK_EQ_INT(bad, 1);
  knn_close(s);
  /* no reference: no hit; a new query block starts empty */
  CHECK_EQ_INT(knn_open(2, 2, KNN_DOT, NULL, NULL, &s, err), IMGPCA_OK);
  CHECK_EQ_INT(knn_set_queries(s, q, 2, NULL, err), IMGPCA_OK);
  CHECK_EQ_INT(knn_add_refs(s, r, key, 3, NULL, err), IMGPCA_OK);
  CHECK_EQ_INT(knn_set_queries(s, q, 1, NULL, err), IMGPCA_OK);
  knn_finish(s);
  {
    size_t n = 9;
    knn_hits(s, 0, &n);
    CHECK_EQ_INT(n, 0);
  }
  knn_close(s);
}

/* Round 3, item 1: float32 products underflow (components ~1e-23) or the
** screen offset overflows (components ~1e18); the screen must still be a
** lower bound.  The case of the report, then an |r|^2 above FLT_MAX. */
static void test_extreme_scale(void) {
  float q[2] = {-2.768322e-23f, 1.3252385e-23f};
  float r[4] = {-2.754949e-23f, -1.1965972e-24f, -2.4883371e-23f, 1.01816194e-23f};
  int64_t key[2] = {1, 2};
  /* |r|^2 above FLT_MAX: the far reference first, the near one second */
  float qb[2] = {1e17f, 0}, rb[4] = {-2e19f, 1e19f, 2e19f, 0};
  check_search("underflow (reported case)", KNN_L2, q, 1, r, key, 2, 2, 1, 2);
  check_search("overflow (2e19)", KNN_L2, qb, 1, rb, key, 2, 2, 1, 2);
  check_search("overflow (2e19) dot", KNN_DOT, qb, 1, rb, key, 2, 2, 1, 2);
}

/* Property test: random configurations against the double-precision brute
** force -- scales 1e-30 .. 1e30 (one per configuration, and mixed within
** one), dimensions 1 .. 4096, duplicated references (ties broken by key),
** queries equal to references, all three metrics, several block sizes. */
static void test_property(void) {
  int cfg, nCfg = getenv("IMGPCA_KNN_PROPERTY") ? atoi(getenv("IMGPCA_KNN_PROPERTY")) : 240;
  for (cfg = 0; cfg < nCfg; cfg++) {
    int metric = cfg % 3, mixed = (cfg / 3) % 4 == 3;
    size_t d = (size_t)floor(exp(urand() * log(4096.0))), nq = 1 + (size_t)(urand() * 12), nr, i, j;
    double scale = pow(10.0, -30 + 60 * urand());
    float *q, *r;
    int64_t *key;
    char what[96];
    if (d < 1) d = 1;
    if (d > 4096) d = 4096;
    if (cfg % 40 == 0) d = 4096;
    nr = d > 512 ? 40 : 150;
    q = malloc(nq * d * sizeof(float));
    r = malloc(nr * d * sizeof(float));
    key = malloc(nr * sizeof(int64_t));
    for (j = 0; j < nr; j++) {
      double sc = mixed ? pow(10.0, -30 + 60 * urand()) : scale;
      key[j] = (int64_t)((j * 7919) % nr);
      if (j > 0 && urand() < 0.2) { /* a duplicate of an earlier reference */
        memcpy(r + j * d, r + (size_t)(urand() * j) * d, d * sizeof(float));
        continue;
      }
      for (i = 0; i < d; i++) r[j * d + i] = (float)((urand() * 2 - 1) * sc);
      if (metric == KNN_COSINE && r[j * d] == 0) r[j * d] = (float)sc;
    }
    for (j = 0; j < nq; j++) {
      if (urand() < 0.3) { /* a query equal to a reference, or a slightly moved one */
        memcpy(q + j * d, r + (size_t)(urand() * nr) * d, d * sizeof(float));
        if (urand() < 0.5) q[j * d] = nextafterf(q[j * d], INFINITY);
      } else {
        double sc = mixed ? pow(10.0, -30 + 60 * urand()) : scale;
        for (i = 0; i < d; i++) q[j * d + i] = (float)((urand() * 2 - 1) * sc);
      }
      if (metric == KNN_COSINE && q[j * d] == 0) q[j * d] = (float)scale;
    }
    snprintf(what, sizeof what, "property %d %s d=%zu scale=%.3g%s", cfg, knn_metric_name(metric), d, scale,
             mixed ? " mixed" : "");
    check_search(what, metric, q, nq, r, key, nr, d, 1 + cfg % 5, cfg % 2 ? nr : 1 + nr / 3);
    free(q);
    free(r);
    free(key);
  }
}

int main(void) {
  test_extreme_scale();
  test_property();
  test_random();
  test_cancellation();
  test_ties();
  test_errors();
  return UNIT_DONE();
}
