/*
** Exact k-NN core (see knn.h).  No SQL here: knn_search (knn_sql.c) feeds
** it blocks of vectors read from SQL.
**
** Screening.  For a tile of queries and a block of references, BLAS gives
** g = fl(q.r) in float32.  Its error is bounded by |g - q.r| <= G |q| |r|
** with G = (d + 16) * 2^-21 -- eight units of float32 rounding per term,
** several times the classical gamma_d bound for any summation order, and
** enough to cover the float32 additions done around it.  From that each
** pair gets a lower bound of its true distance:
**   L2      lo = qq + rr - 2g - G (qq + rr)     (2 |q||r| <= qq + rr)
**   cosine  lo = 1 - g' - G                     (g' on unit vectors)
**   dot     lo = -g - G |q| rmax                (rmax: largest |r| of the block)
** A reference is measured exactly (double precision, fixed order) only when
** lo is not above the query's current k-th best exact distance, so no true
** neighbour is ever skipped, whatever the cancellation in qq + rr - 2 q.r.
** NaN in the screen (overflow) also leads to the exact measure.
**
** Scale.  That relative bound holds only while float32 neither overflows
** nor underflows, so for L2 and dot the screen works on copies of the
** queries and references multiplied by one power of two 2^e, chosen per
** reference block so that the largest norm of the block and of the queries
** is below 2^60 (squares and products stay below 2^121).  What may still
** underflow -- products below 2^-126, components below 2^-126 (given so or
** scaled down), even if BLAS flushes subnormals to zero -- is covered by an
** absolute term E (in scaled units) added to every bound; cosine screens
** unit vectors, so only E is added there.  The thresholds are computed in
** double from the exact distances, so the screen stays a lower bound for
** every finite input; tests/unit/test_knn.c checks it against a
** double-precision brute force from 1e-30 to 1e30.
*/
#include "knn.h"

#include <cblas.h>
#include <lapacke.h>

#include "../common/lazy_blas.h"
#include <float.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <strings.h>

struct KnnSearch {
  size_t d, k;
  int metric;
  KnnKeyCmp xCmp;
  void *pCmpCtx;
  double G; /* relative error bound of the float32 screen */
  /* query block */
  size_t nq, capq;
  float *q;       /* nq x d, as given */
  float *qs;      /* nq x d, the screening copy (unit vectors for cosine) */
  double *qq;     /* per query: |q|^2 (L2), |q| (cosine, dot) */
  KnnHit **aHeap; /* per query: max-heap by (dist, key) of at most k hits */
  size_t *nHeap, *capHeap;
  /* scratch for a reference block */
  float *rs; /* screening copy of the references (cosine) */
  size_t caprs;
  double *rr; /* per reference: |r|^2 (L2) or |r| */
  float *ra;  /* per reference: screen offset (L2) */
  size_t caprr;
  double qmax;  /* largest |q| of the query block (L2, dot) */
  int scaleExp; /* e of the screening copies qs, rs (L2, dot); INT_MIN: none yet */
  double c2;    /* 2^(2e) */
  double E;     /* absolute error term of the screen, scaled units */
  float *tile;  /* nThread tiles of KNN_TILE_Q x capTile */
  size_t capTile;
  int nThread;
  uint64_t nExact;
  int finished;
};

int knn_metric_from_name(const char *z) {
  if (!z) return -1;
  if (!strcasecmp(z, "l2")) return KNN_L2;
  if (!strcasecmp(z, "cosine")) return KNN_COSINE;
  if (!strcasecmp(z, "dot")) return KNN_DOT;
  return -1;
}

const char *knn_metric_name(int metric) {
  return metric == KNN_COSINE ? "cosine" : metric == KNN_DOT ? "dot"
                                                             : "l2";
}

int knn_open(size_t d, size_t k, int metric, KnnKeyCmp xCmp, void *pCmpCtx, KnnSearch **pp, char *err) {
  KnnSearch *s;
  *pp = NULL;
  if (d == 0) return imgpca_seterr(err, "vectors have no dimension");
  if (k == 0) return imgpca_seterr(err, "k must be at least 1");
  if (metric < KNN_L2 || metric > KNN_DOT) return imgpca_seterr(err, "unknown metric %d", metric);
  if (d > ((size_t)1 << 26)) return imgpca_seterr(err, "vectors of %zu dimensions are too long", d);
  if (imgpca_blas_load(err)) return IMGPCA_ERROR;
  s = imgpca_calloc(1, sizeof(*s));
  if (!s) return IMGPCA_NOMEM;
  s->d = d;
  s->k = k;
  s->metric = metric;
  s->xCmp = xCmp;
  s->pCmpCtx = pCmpCtx;
  s->G = ((double)d + 16.0) * ldexp(1.0, -21);
  s->nThread = 1;
  s->scaleExp = INT_MIN;
  s->c2 = 1;
  s->E = ((double)d + 16.0) * ldexp(1.0, -125); /* cosine: products below 2^-126 */
  *pp = s;
  return IMGPCA_OK;
}

static void knn_free_heaps(KnnSearch *s) {
  size_t i;
  if (s->aHeap) {
    for (i = 0; i < s->capq; i++) imgpca_free(s->aHeap[i]);
  }
  imgpca_free(s->aHeap);
  imgpca_free(s->nHeap);
  imgpca_free(s->capHeap);
  s->aHeap = NULL;
  s->nHeap = s->capHeap = NULL;
}

void knn_close(KnnSearch *s) {
  if (!s) return;
  knn_free_heaps(s);
  imgpca_free(s->q);
  imgpca_free(s->qs);
  imgpca_free(s->qq);
  imgpca_free(s->rs);
  imgpca_free(s->rr);
  imgpca_free(s->ra);
  imgpca_free(s->tile);
  imgpca_free(s);
}

void knn_set_threads(KnnSearch *s, int n) {
  if (n < 1) n = 1;
  if (n > 64) n = 64;
  if (n != s->nThread) {
    imgpca_free(s->tile);
    s->tile = NULL;
    s->capTile = 0;
    s->nThread = n;
  }
}

size_t knn_query_block(size_t d, size_t k) {
  /* ~48 MiB of queries and k-best lists at most (the lists grow lazily). */
  double per = 8.0 * (double)d + 16.0 * (double)k + 64.0;
  double n = 48.0 * 1024 * 1024 / per;
  if (n < 1) return 1;
  if (n > 65536) return 65536;
  return (size_t)n;
}

uint64_t knn_exact_count(const KnnSearch *s) { return s->nExact; }

static double dot_d(const float *a, const float *b, size_t n) {
  double acc = 0;
  size_t i;
  for (i = 0; i < n; i++) acc += (double)a[i] * b[i];
  return acc;
}

int knn_set_queries(KnnSearch *s, const float *q, size_t nq, size_t *piBad, char *err) {
  size_t i, j, d = s->d, nf;
  if (!imgpca_mul_ok(nq, d, &nf) || nf > SIZE_MAX / sizeof(float)) return IMGPCA_NOMEM;
  if (nq > s->capq) {
    knn_free_heaps(s);
    imgpca_free(s->q);
    imgpca_free(s->qs);
    imgpca_free(s->qq);
    s->q = s->qs = NULL;
    s->qq = NULL;
    s->capq = 0;
    s->q = imgpca_malloc(nf * sizeof(float));
    s->qs = imgpca_malloc(nf * sizeof(float));
    s->qq = imgpca_calloc(nq, sizeof(double));
    s->aHeap = imgpca_calloc(nq, sizeof(KnnHit *));
    s->nHeap = imgpca_calloc(nq, sizeof(size_t));
    s->capHeap = imgpca_calloc(nq, sizeof(size_t));
    if (!s->q || !s->qs || !s->qq || !s->aHeap || !s->nHeap || !s->capHeap) {
      knn_free_heaps(s);
      return IMGPCA_NOMEM;
    }
    s->capq = nq;
  }
  s->nq = nq;
  s->finished = 0;
  for (i = 0; i < s->capq; i++) s->nHeap[i] = 0;
  if (nf) memcpy(s->q, q, nf * sizeof(float));
  s->qmax = 0;
  s->scaleExp = INT_MIN; /* qs is made by knn_add_refs (L2, dot) */
  for (i = 0; i < nq; i++) {
    const float *v = q + i * d;
    float *w = s->qs + i * d;
    double n2 = dot_d(v, v, d);
    if (s->metric == KNN_L2) {
      s->qq[i] = n2;
      if (sqrt(n2) > s->qmax) s->qmax = sqrt(n2);
    } else if (s->metric == KNN_DOT) {
      s->qq[i] = sqrt(n2);
      if (s->qq[i] > s->qmax) s->qmax = s->qq[i];
    } else {
      double nv = sqrt(n2);
      if (nv == 0) {
        if (piBad) *piBad = i;
        s->nq = 0;
        return imgpca_seterr(err, "cosine distance of a zero vector is undefined");
      }
      s->qq[i] = nv;
      for (j = 0; j < d; j++) w[j] = (float)(v[j] / nv);
    }
  }
  return IMGPCA_OK;
}

/* (a.dist, a.key) < (b.dist, b.key) */
static int hit_less(const KnnSearch *s, const KnnHit *a, const KnnHit *b) {
  if (a->dist != b->dist) return a->dist < b->dist;
  if (a->key == b->key) return 0;
  if (s->xCmp) return s->xCmp(s->pCmpCtx, a->key, b->key) < 0;
  return a->key < b->key;
}

static void heap_down(const KnnSearch *s, KnnHit *h, size_t n, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, m = i;
    if (l < n && hit_less(s, &h[m], &h[l])) m = l;
    if (l + 1 < n && hit_less(s, &h[m], &h[l + 1])) m = l + 1;
    if (m == i) return;
    KnnHit t = h[i];
    h[i] = h[m];
    h[m] = t;
    i = m;
  }
}

/* Offers a hit to query iq's list; returns IMGPCA_NOMEM on failure. */
static int heap_offer(KnnSearch *s, size_t iq, double dist, int64_t key) {
  KnnHit x, *h = s->aHeap[iq];
  size_t n = s->nHeap[iq];
  x.dist = dist;
  x.key = key;
  if (n < s->k) {
    size_t i;
    if (n == s->capHeap[iq]) {
      size_t cap = n ? 2 * n : 8;
      if (cap > s->k) cap = s->k;
      h = imgpca_realloc(h, cap * sizeof(KnnHit));
      if (!h) return IMGPCA_NOMEM;
      s->aHeap[iq] = h;
      s->capHeap[iq] = cap;
    }
    i = n++;
    h[i] = x;
    while (i > 0 && hit_less(s, &h[(i - 1) / 2], &h[i])) {
      KnnHit t = h[i];
      h[i] = h[(i - 1) / 2];
      h[(i - 1) / 2] = t;
      i = (i - 1) / 2;
    }
    s->nHeap[iq] = n;
    return IMGPCA_OK;
  }
  if (!hit_less(s, &x, &h[0])) return IMGPCA_OK;
  h[0] = x;
  heap_down(s, h, n, 0);
  return IMGPCA_OK;
}

/* The float32 screen threshold of query iq: a reference whose screen value
** v (tile value + ra) satisfies !(v > t) is measured exactly. */
static float screen_threshold(const KnnSearch *s, size_t iq, double rmax) {
  double T, t;
  float tf;
  if (s->nHeap[iq] < s->k) return INFINITY;
  T = s->aHeap[iq][0].dist;
  switch (s->metric) {
    case KNN_L2:
      /* T is a rounded square root: every squared distance whose root
      ** rounds to T or below is at most T^2 (1 + 2^-50) */
      t = s->c2 * (T * T * (1.0 + ldexp(1.0, -50)) - (1.0 - s->G) * s->qq[iq]) + 2 * s->E;
      break;
    case KNN_COSINE: t = T - 1.0 + s->G + s->E; break;
    default: t = s->c2 * (T + s->G * s->qq[iq] * rmax) + s->E; break;
  }
  /* rounded up, so that the float comparison never excludes a candidate */
  if (!(t < (double)FLT_MAX)) return INFINITY;
  tf = (float)t;
  if ((double)tf < t) tf = nextafterf(tf, INFINITY);
  return tf;
}

static double exact_dist(const KnnSearch *s, size_t iq, const float *r, double rnorm) {
  const float *q = s->q + iq * s->d;
  size_t i, d = s->d;
  if (s->metric == KNN_L2) {
    double acc = 0;
    for (i = 0; i < d; i++) {
      double t = (double)q[i] - r[i];
      acc += t * t;
    }
    /* the root now, not in knn_finish: distinct squares can round to one
    ** root, and such ties must be broken by key like any other */
    return sqrt(acc);
  }
  if (s->metric == KNN_COSINE) return 1.0 - dot_d(q, r, d) / (s->qq[iq] * rnorm);
  return -dot_d(q, r, d);
}

/* Screens one row of the tile (query iq against nr references). */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("tree-vectorize")))
#endif
static int
screen_row(KnnSearch *s, size_t iq, const float *row, const float *ra, const float *r,
           const int64_t *aKey, size_t nr, double rmax, uint64_t *pExact) {
  float t = screen_threshold(s, iq, rmax);
  size_t j0, j, d = s->d;
  for (j0 = 0; j0 < nr; j0 += 16) {
    size_t je = j0 + 16 < nr ? j0 + 16 : nr;
    int hit = 0;
    if (je - j0 == 16) {
      for (j = 0; j < 16; j++) hit |= !(row[j0 + j] + ra[j0 + j] > t);
    } else {
      hit = 1;
    }
    if (!hit) continue;
    for (j = j0; j < je; j++) {
      if (row[j] + ra[j] > t) continue;
      (*pExact)++;
      if (heap_offer(s, iq, exact_dist(s, iq, r + j * d, s->rr[j]), aKey[j])) return IMGPCA_NOMEM;
      t = screen_threshold(s, iq, rmax);
    }
  }
  return IMGPCA_OK;
}

/* Threads.  OpenBLAS's thread count is process-wide, and results of other
** BLAS users (pca_fit's reductions) depend on it, so knn never changes it.
** When OpenBLAS runs several threads, each sgemm/sgemv of the screen already
** uses the cores and knn calls it from one thread (its own threads would only
** queue on OpenBLAS's level-3 lock); when OpenBLAS is single-threaded
** (OPENBLAS_NUM_THREADS=1, a one-CPU process), the query tiles go to
** imgpca.threads threads instead.  Either way the result does not depend on
** the threads: the screen only selects candidates, measured exactly. */
static int knn_own_threads(int want) {
  return openblas_get_num_threads() > 1 ? 1 : want;
}

/* One thread's share of a reference block: the query tiles t, t + n, ... */
typedef struct KnnJob {
  KnnSearch *s;
  const float *r, *rsc;
  const int64_t *aKey;
  size_t nr;
  double rmax;
  int iThread, nThread, iFirstExtra;
  float *tile;
  uint64_t nExact;
  int rc;
} KnnJob;

static void knn_job_tiles(KnnJob *j, int iThread, int nThread) {
  KnnSearch *s = j->s;
  size_t d = s->d, nr = j->nr, i0;
  float alpha = s->metric == KNN_L2 ? -2.0f : -1.0f;
  for (i0 = (size_t)iThread * KNN_TILE_Q; i0 < s->nq && j->rc == IMGPCA_OK; i0 += (size_t)nThread * KNN_TILE_Q) {
    size_t m = s->nq - i0 < KNN_TILE_Q ? s->nq - i0 : KNN_TILE_Q, i;
    if (m == 1) {
      cblas_sgemv(CblasRowMajor, CblasNoTrans, (blasint)nr, (blasint)d, alpha, j->rsc, (blasint)d,
                  s->qs + i0 * d, 1, 0.0f, j->tile, 1);
    } else {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)m, (blasint)nr, (blasint)d, alpha,
                  s->qs + i0 * d, (blasint)d, j->rsc, (blasint)d, 0.0f, j->tile, (blasint)nr);
    }
    for (i = 0; i < m && j->rc == IMGPCA_OK; i++) {
      j->rc = screen_row(s, i0 + i, j->tile + i * nr, s->ra, j->r, j->aKey, nr, j->rmax, &j->nExact);
    }
  }
}

static void *knn_job_run(void *p) {
  KnnJob *j = (KnnJob *)p;
  if (j->iThread == 0) {
    int t;
    knn_job_tiles(j, 0, j->nThread);
    /* the shares of threads that did not start */
    for (t = j->iFirstExtra; t < j->nThread; t++) knn_job_tiles(j, t, j->nThread);
  } else {
    knn_job_tiles(j, j->iThread, j->nThread);
  }
  return NULL;
}

/* Grows the per-block buffers of s for a block of nr references of nf =
** nr * d floats: their norms (rr, ra), the screen tiles of every thread and
** the scaled copy of the block (rs). */
static int knn_reserve(KnnSearch *s, size_t nr, size_t nf) {
  size_t nt = s->nq < KNN_TILE_Q ? s->nq : KNN_TILE_Q, ntf;
  if (nr > s->caprr) {
    imgpca_free(s->rr);
    imgpca_free(s->ra);
    s->rr = imgpca_malloc(nr * sizeof(double));
    s->ra = imgpca_malloc(nr * sizeof(float));
    s->caprr = 0;
    if (!s->rr || !s->ra) return IMGPCA_NOMEM;
    s->caprr = nr;
  }
  if (!imgpca_mul_ok(nt * (size_t)s->nThread, nr, &ntf) || ntf > SIZE_MAX / sizeof(float)) return IMGPCA_NOMEM;
  if (ntf > s->capTile) {
    imgpca_free(s->tile);
    s->tile = imgpca_malloc(ntf * sizeof(float));
    s->capTile = 0;
    if (!s->tile) return IMGPCA_NOMEM;
    s->capTile = ntf;
  }
  if (nf > s->caprs) {
    imgpca_free(s->rs);
    s->rs = imgpca_malloc(nf * sizeof(float));
    s->caprs = 0;
    if (!s->rs) return IMGPCA_NOMEM;
    s->caprs = nf;
  }
  return IMGPCA_OK;
}

/* L2 and dot product: the scale 2^e of this block's screen (see the top of
** the file); rescales the queries when e changed.  Returns the block as the
** screen reads it: r itself, or its copy scaled by 2^e in s->rs. */
static const float *knn_scale_block(KnnSearch *s, const float *r, size_t nr) {
  size_t d = s->d, j, nf = nr * d;
  double m = s->qmax;
  int x = 0, e;
  for (j = 0; j < nr; j++) {
    double nv = sqrt(dot_d(r + j * d, r + j * d, d));
    if (nv > m) m = nv;
  }
  if (m > 0) frexp(m, &x);
  e = m > 0 ? 60 - x : 0;
  if (e != s->scaleExp) {
    size_t i, nqf = s->nq * d;
    for (i = 0; i < nqf; i++) s->qs[i] = (float)ldexp((double)s->q[i], e);
    s->scaleExp = e;
    s->c2 = ldexp(1.0, 2 * e);
    /* underflow, even if BLAS flushed subnormals to zero: d products
    ** below 2^-126 (off by 2^-126 each at most), and components below
    ** 2^-126 (scaled down, or given so): |dq| |r'| + |dr| |q'| with
    ** |r'|, |q'| < 2^60 */
    s->E = ((double)d + 16.0) * ldexp(1.0, -125) + (sqrt((double)d) + 1.0) * ldexp(1.0, -64);
  }
  if (e == 0) return r;
  for (j = 0; j < nf; j++) s->rs[j] = (float)ldexp((double)r[j], e);
  return s->rs;
}

/* The norms of the block's references: s->rr (squared for L2) and the
** screen's slack s->ra; for cosine, the unit vectors in s->rs.  *pRmax is
** the largest norm (0 for L2).  A zero vector under cosine is an error, its
** index in *piBad. */
static int knn_ref_norms(KnnSearch *s, const float *r, size_t nr, double *pRmax, size_t *piBad, char *err) {
  size_t d = s->d, j;
  double rmax = 0;
  for (j = 0; j < nr; j++) {
    const float *v = r + j * d;
    double n2 = dot_d(v, v, d);
    if (s->metric == KNN_L2) {
      s->rr[j] = n2;
      s->ra[j] = (float)ldexp((1.0 - s->G) * n2, 2 * s->scaleExp);
    } else {
      double nv = sqrt(n2);
      s->rr[j] = nv;
      s->ra[j] = 0;
      if (nv > rmax) rmax = nv;
      if (s->metric == KNN_COSINE) {
        size_t i;
        if (nv == 0) {
          if (piBad) *piBad = j;
          return imgpca_seterr(err, "cosine distance of a zero vector is undefined");
        }
        for (i = 0; i < d; i++) s->rs[j * d + i] = (float)(v[i] / nv);
      }
    }
  }
  *pRmax = rmax;
  return IMGPCA_OK;
}

/* Screens every query against the block (r as given, rsc as the screen
** reads it) on up to knn_own_threads threads; the tiles of a thread that
** cannot start are done by the calling thread. */
static int knn_screen_block(KnnSearch *s, const float *r, const float *rsc, const int64_t *aKey, size_t nr,
                            double rmax) {
  KnnJob job[64];
  pthread_t th[64];
  size_t nTile = (s->nq + KNN_TILE_Q - 1) / KNN_TILE_Q;
  int nt = knn_own_threads(s->nThread), t, started = 0, rc = IMGPCA_OK;
  /* threads only when there is work for them: several tiles and
  ** enough distances to pay for starting a thread */
  if ((size_t)nt > nTile) nt = (int)nTile;
  if ((double)s->nq * (double)nr * (double)s->d < 4e6) nt = 1;
  for (t = 0; t < nt; t++) {
    job[t].s = s;
    job[t].r = r;
    job[t].rsc = rsc;
    job[t].aKey = aKey;
    job[t].nr = nr;
    job[t].rmax = rmax;
    job[t].iThread = t;
    job[t].nThread = nt;
    job[t].tile = s->tile + (size_t)t * (s->nq < KNN_TILE_Q ? s->nq : KNN_TILE_Q) * nr;
    job[t].nExact = 0;
    job[t].rc = IMGPCA_OK;
  }
  for (t = 1; t < nt; t++) {
    if (pthread_create(&th[t], NULL, knn_job_run, &job[t]) != 0) break;
    started = t;
  }
  /* tiles of threads that could not start are done here */
  for (t = started + 1; t < nt; t++) job[t].nThread = 0;
  job[0].nThread = nt;
  job[0].iFirstExtra = started + 1;
  knn_job_run(&job[0]);
  for (t = 1; t <= started; t++) pthread_join(th[t], NULL);
  for (t = 0; t < nt; t++) {
    s->nExact += job[t].nExact;
    if (job[t].rc) rc = job[t].rc;
  }
  return rc;
}

int knn_add_refs(KnnSearch *s, const float *r, const int64_t *aKey, size_t nr, size_t *piBad, char *err) {
  size_t nf;
  const float *rsc = r;
  double rmax = 0;
  int rc;
  if (nr == 0 || s->nq == 0) return IMGPCA_OK;
  if (!imgpca_mul_ok(nr, s->d, &nf) || nf > SIZE_MAX / sizeof(float)) return IMGPCA_NOMEM;
  rc = knn_reserve(s, nr, nf);
  if (rc) return rc;
  if (s->metric != KNN_COSINE) rsc = knn_scale_block(s, r, nr);
  rc = knn_ref_norms(s, r, nr, &rmax, piBad, err);
  if (rc) return rc;
  if (s->metric == KNN_COSINE) rsc = s->rs;
  return knn_screen_block(s, r, rsc, aKey, nr, rmax);
}

void knn_finish(KnnSearch *s) {
  size_t iq;
  if (s->finished) return;
  for (iq = 0; iq < s->nq; iq++) {
    KnnHit *h = s->aHeap[iq];
    size_t n = s->nHeap[iq], e;
    /* heap sort: the max goes to the end */
    for (e = n; e > 1; e--) {
      KnnHit t = h[0];
      h[0] = h[e - 1];
      h[e - 1] = t;
      heap_down(s, h, e - 1, 0);
    }
  }
  s->finished = 1;
}

const KnnHit *knn_hits(const KnnSearch *s, size_t iq, size_t *pn) {
  if (iq >= s->nq) {
    *pn = 0;
    return NULL;
  }
  *pn = s->nHeap[iq];
  return s->aHeap[iq];
}
