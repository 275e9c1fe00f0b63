/*
** Randomized solver of pca_fit (no SQL behaviour of its own): the rows of a
** one-process fit are kept as float32 (n x d, within memory_mb) and the top
** k eigenpairs of their covariance come from a randomized range finder
** (Halko, Martinsson & Tropp 2011, algorithm 4.4):
**   Y = Xc G            G: d x l Gaussian (l = k + 10), seeded by option seed
**   q times: Q = lu(Y); Z = lu(Xc^T Q); Y = Xc Z        (power iterations,
**            normalised by P L of an LU factorisation, as scikit-learn does)
**   Q = qr(Y);  B = Q^T Xc  (l x d);  B B^T = U S^2 U^T (l x l, LAPACK dsyevr)
**   components = rows of U^T B / S, eigenvalues (scatter) = S^2.
** Xc is the matrix centred on the exact float64 mean (and scaled when
** standardizing).  The products and the LU normalisations run in float32
** (sgemm, sgetrf), the last QR factorisation and the small eigenproblem in
** float64.  q = 7 when k < 0.1 min(n, d), else 4
** (scikit-learn's rule).  The result depends only on the rows, their order
** and the seed, so the model bytes are deterministic.
**
** Accuracy (tests/py/test_pca.py checks it against scikit-learn's full SVD):
** the top-k explained variances within 1e-3 relative, components with
** |cos| > 0.99 for well separated eigenvalues.  Exact and streaming solvers
** remain the reference for partial states and merges: the randomized solver
** never leaves the process (pca_partial/pca_merge refuse it).
*/
#include "pca.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>

#include "../common/lazy_blas.h"

/* Deterministic normal numbers: xorshift64* + Box-Muller. */
static uint64_t rng_next(uint64_t *s) {
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 0x2545F4914F6CDD1Dull;
}
static double rng_unit(uint64_t *s) { return ((double)(rng_next(s) >> 11) + 0.5) / 9007199254740992.0; }

/* Orthonormalises the columns of the m x l float32 matrix A (row-major) in
** place through a float64 QR; w holds m*l + l doubles. */
static int orth(float *A, size_t m, size_t l, double *w, char *err) {
  double *tau = w + m * l;
  size_t i;
  lapack_int info;
  for (i = 0; i < m * l; i++) w[i] = A[i];
  info = LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, (lapack_int)m, (lapack_int)l, w, (lapack_int)l, tau);
  if (info == 0) info = LAPACKE_dorgqr(LAPACK_ROW_MAJOR, (lapack_int)m, (lapack_int)l, (lapack_int)l, w, (lapack_int)l, tau);
  if (info != 0) return imgpca_seterr(err, "randomized solver: QR factorisation failed (info %d)", (int)info);
  for (i = 0; i < m * l; i++) A[i] = (float)w[i];
  return IMGPCA_OK;
}

/* Replaces the m x l float32 matrix A (row-major) by P L of its LU
** factorisation with partial pivoting (unit lower trapezoidal L, rows
** permuted back): same column space, entries bounded by 1 -- the cheap
** normalisation of the power iterations (scikit-learn's 'LU'). */
static int lu_norm(float *A, size_t m, size_t l, lapack_int *ipiv, char *err) {
  size_t i, j;
  lapack_int info = LAPACKE_sgetrf(LAPACK_ROW_MAJOR, (lapack_int)m, (lapack_int)l, A, (lapack_int)l, ipiv);
  if (info < 0) return imgpca_seterr(err, "randomized solver: LU factorisation failed (info %d)", (int)info);
  for (i = 0; i < m && i < l; i++) {
    A[i * l + i] = 1;
    for (j = i + 1; j < l; j++) A[i * l + j] = 0;
  }
  for (i = (m < l ? m : l); i-- > 0;) {
    size_t p = (size_t)(ipiv[i] - 1);
    if (p != i)
      for (j = 0; j < l; j++) {
        float t = A[i * l + j];
        A[i * l + j] = A[p * l + j];
        A[p * l + j] = t;
      }
  }
  return IMGPCA_OK;
}

int pca_rand_eigs(PcaState *s, const double *inv, size_t k, double **pEig, double **pComp, char *err) {
  size_t n = s->nRows, d = s->d, l = k + 10, q, i, j, mx;
  float *X = s->rows, *Y = NULL, *Z = NULL, *G = NULL, *B = NULL;
  double *w = NULL, *Bd = NULL, *C = NULL, *ev = NULL, *U = NULL, *eig = NULL, *comp = NULL;
  lapack_int *sup = NULL, found = 0;
  uint64_t seed = (uint64_t)s->seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
  int rc = IMGPCA_OK;
  *pEig = *pComp = NULL;
  if (l > n) l = n;
  if (l > d) l = d;
  mx = n > d ? n : d;
  q = (double)k < 0.1 * (double)(n < d ? n : d) ? 7 : 4;
  /* centre (and scale) in place: the rows are not needed afterwards */
  for (i = 0; i < n; i++) {
    float *r = X + i * d;
    for (j = 0; j < d; j++) r[j] = (float)(((double)r[j] - s->mean[j]) * inv[j]);
  }
  Y = imgpca_malloc(n * l * sizeof(float));
  Z = imgpca_malloc(d * l * sizeof(float));
  G = Z; /* the Gaussian test matrix is the first Z */
  w = imgpca_malloc((mx * l + l) * sizeof(double));
  B = imgpca_malloc(l * d * sizeof(float));
  C = imgpca_malloc(l * l * sizeof(double));
  ev = imgpca_malloc(l * sizeof(double));
  U = imgpca_malloc(l * l * sizeof(double));
  sup = imgpca_malloc(2 * l * sizeof(lapack_int));
  eig = imgpca_malloc(k * sizeof(double));
  comp = imgpca_malloc(k * d * sizeof(double));
  Bd = imgpca_malloc(l * d * sizeof(double));
  if (!Y || !Z || !w || !B || !C || !ev || !U || !sup || !eig || !comp || !Bd) {
    rc = IMGPCA_NOMEM;
    goto done;
  }
  for (i = 0; i < d * l; i += 2) {
    double u1 = rng_unit(&seed), u2 = rng_unit(&seed), r = sqrt(-2 * log(u1));
    G[i] = (float)(r * cos(2 * M_PI * u2));
    if (i + 1 < d * l) G[i + 1] = (float)(r * sin(2 * M_PI * u2));
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)n, (blasint)l, (blasint)d, 1.0f, X, (blasint)d,
              G, (blasint)l, 0.0f, Y, (blasint)l);
  for (i = 0; i < q; i++) {
    if ((rc = lu_norm(Y, n, l, sup, err)) != IMGPCA_OK) goto done;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)d, (blasint)l, (blasint)n, 1.0f, X, (blasint)d,
                Y, (blasint)l, 0.0f, Z, (blasint)l);
    if ((rc = lu_norm(Z, d, l, sup, err)) != IMGPCA_OK) goto done;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)n, (blasint)l, (blasint)d, 1.0f, X, (blasint)d,
                Z, (blasint)l, 0.0f, Y, (blasint)l);
  }
  if ((rc = orth(Y, n, l, w, err)) != IMGPCA_OK) goto done;
  /* B = Q^T Xc (l x d) */
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)l, (blasint)d, (blasint)n, 1.0f, Y, (blasint)l,
              X, (blasint)d, 0.0f, B, (blasint)d);
  for (i = 0; i < l * d; i++) Bd[i] = B[i];
  /* C = B B^T (l x l), its top k eigenpairs */
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)l, (blasint)l, (blasint)d, 1.0, Bd, (blasint)d, Bd,
              (blasint)d, 0.0, C, (blasint)l);
  if (LAPACKE_dsyevr(LAPACK_ROW_MAJOR, 'V', 'I', 'U', (lapack_int)l, C, (lapack_int)l, 0, 0,
                     (lapack_int)(l - k + 1), (lapack_int)l, LAPACKE_dlamch('S'), &found, ev, U, (lapack_int)l,
                     sup) != 0 ||
      (size_t)found != k) {
    rc = imgpca_seterr(err, "randomized solver: eigendecomposition failed");
    goto done;
  }
  /* dsyevr answers ascending: component j = U[:, k-1-j]^T B / |.| */
  for (j = 0; j < k; j++) {
    size_t c = k - 1 - j, t;
    double *v = comp + j * d, nrm;
    eig[j] = ev[c] > 0 ? ev[c] : 0;
    for (t = 0; t < d; t++) v[t] = 0;
    for (i = 0; i < l; i++) cblas_daxpy((blasint)d, U[i * l + c], Bd + i * d, 1, v, 1);
    nrm = cblas_dnrm2((blasint)d, v, 1);
    if (nrm > 0) cblas_dscal((blasint)d, 1 / nrm, v, 1);
  }
  *pEig = eig;
  *pComp = comp;
  eig = comp = NULL;
done:
  imgpca_free(Y);
  imgpca_free(Z);
  imgpca_free(w);
  imgpca_free(B);
  imgpca_free(Bd);
  imgpca_free(C);
  imgpca_free(ev);
  imgpca_free(U);
  imgpca_free(sup);
  imgpca_free(eig);
  imgpca_free(comp);
  return rc;
}
