/*
** Linear algebra whose bytes do not depend on thread counts (no SQL
** behaviour of its own; used by the exact solver and by pca_project and
** pca_project_rows).
**
** OpenBLAS changes its summation order with its thread count: a threaded
** dgemm or dsyrk splits the work differently for 1, 2 or 64 threads, dsymv
** (inside LAPACK's tridiagonal reduction) and dgemv add per-thread partial
** sums, and even a single-threaded dgemm picks other kernels for other
** shapes.  So here every product is cut into tiles of one fixed shape,
** PCA_TILE^3 (zero-padded at the edges): a dgemm of that size is below
** OpenBLAS's threading threshold (it always runs in the calling thread) and,
** having always the same shape, always adds in the same order; the K chunks
** of a tile are added in increasing order by the thread that owns the tile.
** Tiles are handed out to our own worker threads one at a time (a shared
** counter), which changes who computes a tile, never how.  Reductions outside BLAS (dot products, the
** Householder tridiagonal reduction) are plain loops in a fixed order, and
** the tridiagonal eigenproblem goes to LAPACK's dstemr, which calls no
** threaded BLAS for n <= 10,000.
*/
#include "pca.h"

#include <cblas.h>
#include <lapacke.h>
#include <pthread.h>

#include "../common/lazy_blas.h"
#include <math.h>

#define T PCA_TILE

double pca_dot(const double *x, const double *y, size_t n) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += x[i] * y[i];
    s1 += x[i + 1] * y[i + 1];
    s2 += x[i + 2] * y[i + 2];
    s3 += x[i + 3] * y[i + 3];
  }
  for (; i < n; i++) s0 += x[i] * y[i];
  return (s0 + s1) + (s2 + s3);
}

/* ---- tiled dgemm ------------------------------------------------------- */

typedef struct GemmJob {
  int ta, tb, upper;
  size_t M, N, K, lda, ldb, ldc, mt, nt;
  double alpha, beta;
  const double *A, *B;
  double *C;
  int nthreads;
  size_t next; /* next tile to take (atomic): a late thread finds less to do */
} GemmJob;

typedef struct GemmWorker {
  GemmJob *job;
  int id, rc;
  pthread_t th;
} GemmWorker;

static void gemm_tile(const GemmJob *g, size_t i0, size_t j0, double *a, double *b, double *c) {
  size_t mi = g->M - i0 < T ? g->M - i0 : T, nj = g->N - j0 < T ? g->N - j0 : T, k0, i, j, k;
  memset(c, 0, T * T * sizeof(double));
  for (k0 = 0; k0 < g->K; k0 += T) {
    size_t kk = g->K - k0 < T ? g->K - k0 : T;
    const double *pa = a, *pb = b;
    size_t la = T, lb = T;
    /* full blocks are read in place; edge blocks are copied, zero-padded,
    ** as they lie (rows of the source); the call transposes as needed: one
    ** fixed shape and flags per (ta, tb), whatever the thread count */
    if (kk == T && mi == T) {
      pa = g->ta ? g->A + k0 * g->lda + i0 : g->A + i0 * g->lda + k0;
      la = g->lda;
    } else {
      memset(a, 0, T * T * sizeof(double));
      if (g->ta)
        for (k = 0; k < kk; k++) memcpy(a + k * T, g->A + (k0 + k) * g->lda + i0, mi * sizeof(double));
      else
        for (i = 0; i < mi; i++) memcpy(a + i * T, g->A + (i0 + i) * g->lda + k0, kk * sizeof(double));
    }
    if (kk == T && nj == T) {
      pb = g->tb ? g->B + j0 * g->ldb + k0 : g->B + k0 * g->ldb + j0;
      lb = g->ldb;
    } else {
      memset(b, 0, T * T * sizeof(double));
      if (g->tb)
        for (j = 0; j < nj; j++) memcpy(b + j * T, g->B + (j0 + j) * g->ldb + k0, kk * sizeof(double));
      else
        for (k = 0; k < kk; k++) memcpy(b + k * T, g->B + (k0 + k) * g->ldb + j0, nj * sizeof(double));
    }
    cblas_dgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans, g->tb ? CblasTrans : CblasNoTrans, T, T, T,
                g->alpha, pa, (blasint)la, pb, (blasint)lb, 1.0, c, T);
  }
  for (i = 0; i < mi; i++) {
    double *crow = g->C + (i0 + i) * g->ldc + j0;
    for (j = g->upper && j0 < i0 + i ? i0 + i - j0 : 0; j < nj; j++)
      crow[j] = g->beta == 0 ? c[i * T + j] : g->beta * crow[j] + c[i * T + j];
  }
}

static void *gemm_run(void *p) {
  GemmWorker *w = p;
  const GemmJob *g = w->job;
  double *buf = imgpca_malloc(3 * T * T * sizeof(double));
  size_t t, ntiles = g->mt * g->nt;
  if (!buf) {
    w->rc = IMGPCA_NOMEM;
    return NULL;
  }
  while ((t = __atomic_fetch_add(&w->job->next, 1, __ATOMIC_RELAXED)) < ntiles) {
    size_t ti = t / g->nt, tj = t % g->nt;
    if (g->upper && tj < ti) continue; /* tile wholly below the diagonal */
    gemm_tile(g, ti * T, tj * T, buf, buf + T * T, buf + 2 * T * T);
  }
  imgpca_free(buf);
  return NULL;
}

int pca_dgemm(int ta, int tb, size_t M, size_t N, size_t K, double alpha, const double *A, size_t lda,
              const double *B, size_t ldb, double beta, double *C, size_t ldc, int upper, int nthreads) {
  GemmJob g;
  GemmWorker ws[PCA_MAX_THREADS];
  size_t work;
  int i, started = 0, rc = IMGPCA_OK;
  if (M == 0 || N == 0) return IMGPCA_OK;
  g.ta = ta;
  g.tb = tb;
  g.upper = upper;
  g.M = M;
  g.N = N;
  g.K = K;
  g.lda = lda;
  g.ldb = ldb;
  g.ldc = ldc;
  g.alpha = alpha;
  g.beta = beta;
  g.A = A;
  g.B = B;
  g.C = C;
  g.mt = (M + T - 1) / T;
  g.nt = (N + T - 1) / T;
  work = g.mt * g.nt * ((K + T - 1) / T);
  if (nthreads > PCA_MAX_THREADS) nthreads = PCA_MAX_THREADS;
  if ((size_t)nthreads > g.mt * g.nt) nthreads = (int)(g.mt * g.nt);
  if (work < 8) nthreads = 1; /* thread start-up would cost more than the tiles */
  if (nthreads < 1) nthreads = 1;
  g.nthreads = nthreads;
  g.next = 0;
  for (i = 0; i < nthreads; i++) {
    ws[i].job = &g;
    ws[i].id = i;
    ws[i].rc = IMGPCA_OK;
  }
  for (i = 1; i < nthreads; i++) {
    if (pthread_create(&ws[i].th, NULL, gemm_run, &ws[i]) != 0) break;
    started = i;
  }
  if (started + 1 < nthreads) {
    /* could not start them all: the calling thread does the missing shares */
    for (i = started + 1; i < nthreads; i++) gemm_run(&ws[i]);
  }
  gemm_run(&ws[0]);
  for (i = 1; i <= started; i++) pthread_join(ws[i].th, NULL);
  for (i = 0; i < nthreads; i++)
    if (ws[i].rc) rc = ws[i].rc;
  return rc;
}

/* ---- projection ------------------------------------------------------- */

typedef struct ProjJob {
  const PcaModel *m;
  const float *X;
  float *Y;
  size_t n, k, dpad, kpad;
  const double *comp; /* kpad x dpad, zero-padded */
  int whiten, nthreads;
  int unitScale; /* every scale is 1 (no standardisation): no division */
  size_t next;   /* next block of rows to take (atomic) */
} ProjJob;

typedef struct ProjWorker {
  ProjJob *job;
  int id, rc;
  pthread_t th;
} ProjWorker;

static void *proj_run(void *p) {
  ProjWorker *w = p;
  const ProjJob *g = w->job;
  const PcaModel *m = g->m;
  size_t d = m->d, rb, nrb = (g->n + T - 1) / T;
  double *a = imgpca_malloc((T * T + T * g->kpad) * sizeof(double)), *c;
  if (!a) {
    w->rc = IMGPCA_NOMEM;
    return NULL;
  }
  c = a + T * T;
  while ((rb = __atomic_fetch_add(&w->job->next, 1, __ATOMIC_RELAXED)) < nrb) {
    size_t r0 = rb * T, nr = g->n - r0 < T ? g->n - r0 : T, k0, i, j, cb;
    memset(c, 0, T * g->kpad * sizeof(double));
    for (k0 = 0; k0 < g->dpad; k0 += T) {
      size_t kk = d - k0 < T ? d - k0 : T;
      if (kk < T || nr < T) memset(a, 0, T * T * sizeof(double));
      for (i = 0; i < nr; i++) {
        const float *x = g->X + (r0 + i) * d + k0;
        if (!g->unitScale)
          for (j = 0; j < kk; j++) a[i * T + j] = ((double)x[j] - m->mean[k0 + j]) / m->scale[k0 + j];
        else /* scale is 1: the same values without a division */
          for (j = 0; j < kk; j++) a[i * T + j] = (double)x[j] - m->mean[k0 + j];
      }
      for (cb = 0; cb < g->kpad; cb += T)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, T, 1.0, a, T, g->comp + cb * g->dpad + k0,
                    (blasint)g->dpad, 1.0, c + cb, (blasint)g->kpad);
    }
    for (i = 0; i < nr; i++) {
      float *y = g->Y + (r0 + i) * g->k;
      for (j = 0; j < g->k; j++) {
        double v = c[i * g->kpad + j];
        if (g->whiten) v = m->eig[j] > 0 ? v / sqrt(m->eig[j]) : 0;
        y[j] = (float)v;
      }
    }
  }
  imgpca_free(a);
  return NULL;
}

double *pca_project_pad(const PcaModel *m, size_t k) {
  size_t d = m->d, dpad = (d + T - 1) / T * T, kpad = (k + T - 1) / T * T, i;
  double *comp = imgpca_calloc(kpad * dpad, sizeof(double));
  if (!comp) return NULL;
  for (i = 0; i < k && i < m->k; i++) memcpy(comp + i * dpad, m->comp + i * d, d * sizeof(double));
  return comp;
}

int pca_project_rows(const PcaModel *m, const double *compPad, const float *X, size_t n, size_t k, int whiten,
                     float *Y, int nthreads, char *err) {
  ProjJob g;
  ProjWorker ws[PCA_MAX_THREADS];
  double *comp = NULL;
  size_t d = m->d, i, j, nrb = (n + T - 1) / T;
  int t, started = 0, rc = IMGPCA_OK;
  if (k < 1 || k > m->k) return imgpca_seterr(err, "k must be in [1, %zu], got %zu", m->k, k);
  if (n == 0) return IMGPCA_OK;
  if (imgpca_blas_load(err)) return IMGPCA_ERROR;
  g.m = m;
  g.X = X;
  g.Y = Y;
  g.n = n;
  g.k = k;
  g.whiten = whiten;
  g.dpad = (d + T - 1) / T * T;
  g.kpad = (k + T - 1) / T * T;
  if (!compPad) {
    comp = pca_project_pad(m, k);
    if (!comp) return IMGPCA_NOMEM;
  }
  g.comp = compPad ? compPad : comp;
  if (nthreads > PCA_MAX_THREADS) nthreads = PCA_MAX_THREADS;
  if ((size_t)nthreads > nrb) nthreads = (int)nrb;
  if (nthreads < 1) nthreads = 1;
  g.nthreads = nthreads;
  g.next = 0;
  g.unitScale = 1;
  for (i = 0; i < d; i++)
    if (m->scale[i] != 1) g.unitScale = 0;
  for (t = 0; t < nthreads; t++) {
    ws[t].job = &g;
    ws[t].id = t;
    ws[t].rc = IMGPCA_OK;
  }
  for (t = 1; t < nthreads; t++) {
    if (pthread_create(&ws[t].th, NULL, proj_run, &ws[t]) != 0) break;
    started = t;
  }
  for (t = started + 1; t < nthreads; t++) proj_run(&ws[t]);
  proj_run(&ws[0]);
  for (t = 1; t <= started; t++) pthread_join(ws[t].th, NULL);
  for (t = 0; t < nthreads; t++)
    if (ws[t].rc) rc = ws[t].rc;
  imgpca_free(comp);
  if (rc) return rc;
  for (i = 0; i < n * k; i++)
    if (!isfinite(Y[i])) {
      j = i % k;
      return imgpca_seterr(err, "component %zu of the projection overflows float32", j + 1);
    }
  return IMGPCA_OK;
}

/* ---- symmetric eigenproblem ------------------------------------------- */

int pca_tridiag(double *A, size_t n, double *dg, double *e, double *tau, char *err) {
  double *p = imgpca_malloc(n * sizeof(double));
  size_t i, j, r, c;
  if (!p) return IMGPCA_NOMEM;
  for (i = 0; i < n; i++)
    for (j = i + 1; j < n; j++) A[j * n + i] = A[i * n + j];
  /* Householder reduction to tridiagonal form: step j annihilates row j
  ** (and column j) beyond j+1; the reflector v (v[0] = 1) is kept in row j
  ** from column j+1 on, with its factor in tau[j]. */
  for (j = 0; j + 2 < n; j++) {
    double *row = A + j * n + j + 1, alpha = row[0], sig = 0, beta, v0, pv;
    size_t m1 = n - j - 1;
    for (i = 1; i < m1; i++) sig += row[i] * row[i];
    dg[j] = A[j * n + j];
    if (sig == 0) {
      tau[j] = 0;
      e[j] = alpha;
      continue;
    }
    beta = sqrt(alpha * alpha + sig);
    if (alpha > 0) beta = -beta;
    tau[j] = (beta - alpha) / beta;
    v0 = 1 / (alpha - beta);
    for (i = 1; i < m1; i++) row[i] *= v0;
    row[0] = 1;
    e[j] = beta;
    /* p = tau A22 v;  w = p - (tau/2)(p.v) v;  A22 -= v w^T + w v^T */
    for (r = 0; r < m1; r++) p[r] = tau[j] * pca_dot(A + (j + 1 + r) * n + j + 1, row, m1);
    pv = 0.5 * tau[j] * pca_dot(p, row, m1);
    for (r = 0; r < m1; r++) p[r] -= pv * row[r];
    for (r = 0; r < m1; r++) {
      double *ar = A + (j + 1 + r) * n + j + 1, vr = row[r], wr = p[r];
      for (c = 0; c < m1; c++) ar[c] -= vr * p[c] + wr * row[c];
    }
  }
  for (j = n >= 2 ? n - 2 : 0; j < n; j++) {
    dg[j] = A[j * n + j];
    e[j] = j + 1 < n ? A[j * n + j + 1] : 0;
    tau[j] = 0;
  }
  imgpca_free(p);
  (void)err;
  return IMGPCA_OK;
}

int pca_tridiag_eig(const double *A, size_t n, const double *dg0, const double *e0, const double *tau, size_t il,
                    size_t iu, double *w, double *z, char *err) {
  double *dg = imgpca_malloc(2 * n * sizeof(double)), *e, one = 0;
  lapack_int *isuppz = imgpca_malloc(2 * n * sizeof(lapack_int)), m = 0, info;
  lapack_logical tryrac = 1;
  size_t i, j, c, nz = z ? iu - il + 1 : 0;
  int rc = IMGPCA_OK;
  if (!dg || !isuppz) {
    rc = IMGPCA_NOMEM;
    goto done;
  }
  e = dg + n;
  memcpy(dg, dg0, n * sizeof(double));
  memcpy(e, e0, n * sizeof(double));
  info = LAPACKE_dstemr(LAPACK_COL_MAJOR, z ? 'V' : 'N', z ? 'I' : 'A', (lapack_int)n, dg, e, 0, 0, (lapack_int)il,
                        (lapack_int)iu, &m, w, z ? z : &one, (lapack_int)n, (lapack_int)(z ? nz : 1), isuppz,
                        &tryrac);
  if (info != 0 || (z && (size_t)m != nz) || (!z && (size_t)m != n)) {
    rc = imgpca_seterr(err, "eigen decomposition failed (LAPACK dstemr info %d, %d eigenpairs)", (int)info, (int)m);
    goto done;
  }
  /* back-transform: x = H_0 H_1 ... H_{n-3} x_tridiagonal */
  for (c = 0; c < nz; c++) {
    double *x = z + c * n;
    for (j = n >= 2 ? n - 2 : 0; j-- > 0;) {
      const double *v = A + j * n + j + 1;
      double s;
      if (tau[j] == 0) continue;
      s = tau[j] * pca_dot(v, x + j + 1, n - j - 1);
      for (i = 0; i < n - j - 1; i++) x[j + 1 + i] -= s * v[i];
    }
  }
done:
  imgpca_free(dg);
  imgpca_free(isuppz);
  return rc;
}

int pca_symeig(double *A, size_t n, size_t il, size_t iu, double *w, double *z, char *err) {
  double *t = imgpca_malloc(3 * n * sizeof(double));
  int rc;
  if (!t) return IMGPCA_NOMEM;
  rc = pca_tridiag(A, n, t, t + n, t + 2 * n, err);
  if (rc == IMGPCA_OK) rc = pca_tridiag_eig(A, n, t, t + n, t + 2 * n, il, iu, w, z, err);
  imgpca_free(t);
  return rc;
}
