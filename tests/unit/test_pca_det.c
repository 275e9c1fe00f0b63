/* Unit tests of detblas.c: the tiled dgemm against a naive long-double
** product, the Householder + dstemr eigensolver against the eigenvalues of
** a matrix built from known ones, and the promise behind them: the model
** bytes of pca_fit_state and the projections of pca_project_rows do not
** depend on OpenBLAS's thread count (1, 2, 3, 4, 64) nor on ours (1 .. 7).
** (This test process may change OpenBLAS's thread count: it is its own.) */
#include <stdlib.h>

#include "common/common.h"
#include "common/lazy_blas.h"
#include "pca/pca.h"
#include "unit.h"

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static double urand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (double)(rng >> 11) / 9007199254740992.0 - 0.5;
}

static void test_gemm(void) {
  /* sizes not multiples of the tile, all four transpositions, upper */
  size_t M = 131, N = 77, K = 200, i, j, l;
  int ta, tb, nt;
  double *A = malloc(M * K * sizeof(double)), *B = malloc(K * N * sizeof(double));
  double *C = malloc(M * N * sizeof(double)), *C0 = malloc(M * N * sizeof(double));
  for (i = 0; i < M * K; i++) A[i] = urand();
  for (i = 0; i < K * N; i++) B[i] = urand();
  for (ta = 0; ta < 2; ta++)
    for (tb = 0; tb < 2; tb++) {
      double worst = 0;
      for (i = 0; i < M * N; i++) C[i] = 1.0;
      CHECK_EQ_INT(pca_dgemm(ta, tb, M, N, K, 2.0, A, ta ? M : K, B, tb ? K : N, 0.5, C, N, 0, 3), IMGPCA_OK);
      for (i = 0; i < M; i++)
        for (j = 0; j < N; j++) {
          long double s = 0;
          for (l = 0; l < K; l++)
            s += (long double)(ta ? A[l * M + i] : A[i * K + l]) * (tb ? B[j * K + l] : B[l * N + j]);
          s = 2 * s + 0.5L;
          if (fabs((double)(C[i * N + j] - s)) > worst) worst = fabs((double)(C[i * N + j] - s));
        }
      CHECK(worst < 1e-12);
      /* same bytes on 1 .. 7 of our threads */
      memcpy(C0, C, M * N * sizeof(double));
      for (nt = 1; nt <= 7; nt++) {
        for (i = 0; i < M * N; i++) C[i] = 1.0;
        pca_dgemm(ta, tb, M, N, K, 2.0, A, ta ? M : K, B, tb ? K : N, 0.5, C, N, 0, nt);
        CHECK(memcmp(C, C0, M * N * sizeof(double)) == 0);
      }
    }
  /* upper: entries below the diagonal untouched */
  for (i = 0; i < M * N; i++) C[i] = -7.0;
  pca_dgemm(0, 1, 77, 77, K, 1.0, A, K, A, K, 0.0, C, 77, 1, 2);
  CHECK(C[5 * 77 + 4] == -7.0 && C[70 * 77 + 3] == -7.0 && C[4 * 77 + 5] != -7.0);
  free(A);
  free(B);
  free(C);
  free(C0);
}

static void test_symeig(void) {
  /* A = Q diag(lambda) Q^T with Q a product of Householder reflectors */
  size_t n = 90, i, j, r;
  double *A = calloc(n * n, sizeof(double)), *lam = malloc(n * sizeof(double)), *w = malloc(n * sizeof(double));
  double *z = malloc(5 * n * sizeof(double)), *A0 = malloc(n * n * sizeof(double)), v[90];
  char err[IMGPCA_ERRMAX];
  for (i = 0; i < n; i++) lam[i] = (double)i * 0.5 - 10.0 + (i % 3 == 0 ? 1e-3 : 0);
  for (i = 0; i < n; i++) A[i * n + i] = lam[i];
  for (r = 0; r < 3; r++) {
    double nv = 0, *P = malloc(n * n * sizeof(double));
    for (i = 0; i < n; i++) {
      v[i] = urand();
      nv += v[i] * v[i];
    }
    for (i = 0; i < n; i++) v[i] /= sqrt(nv);
    /* A = H A H, H = I - 2 v v^T */
    for (i = 0; i < n; i++)
      for (j = 0; j < n; j++) P[i * n + j] = (i == j) - 2 * v[i] * v[j];
    {
      double *T = calloc(n * n, sizeof(double));
      size_t l;
      for (i = 0; i < n; i++)
        for (j = 0; j < n; j++)
          for (l = 0; l < n; l++) T[i * n + j] += P[i * n + l] * A[l * n + j];
      memset(A, 0, n * n * sizeof(double));
      for (i = 0; i < n; i++)
        for (j = 0; j < n; j++)
          for (l = 0; l < n; l++) A[i * n + j] += T[i * n + l] * P[l * n + j];
      free(T);
    }
    free(P);
  }
  memcpy(A0, A, n * n * sizeof(double));
  CHECK_EQ_INT(pca_symeig(A, n, n - 4, n, w, z, err), IMGPCA_OK);
  for (i = 0; i < 5; i++) {
    double res = 0;
    CHECK_NEAR(w[i], lam[n - 5 + i], 1e-11);
    /* residual || A0 z - w z || */
    for (j = 0; j < n; j++) {
      double s = -w[i] * z[i * n + j];
      size_t l;
      for (l = 0; l < n; l++) s += A0[j * n + l] * z[i * n + l];
      res += s * s;
    }
    CHECK(sqrt(res) < 1e-10);
  }
  memcpy(A, A0, n * n * sizeof(double));
  CHECK_EQ_INT(pca_symeig(A, n, 1, n, w, NULL, err), IMGPCA_OK);
  for (i = 0; i < n; i++) CHECK_NEAR(w[i], lam[i], 1e-11);
  free(A);
  free(A0);
  free(lam);
  free(w);
  free(z);
}

/* Model bytes of a fit and the projections of every row. */
static size_t fit_and_project(const float *X, size_t n, size_t d, long long k, double frac, int nt,
                              unsigned char **pBlob, size_t *pnBlob, float *Y) {
  char err[IMGPCA_ERRMAX];
  PcaOpts o;
  PcaState s;
  PcaModel m;
  size_t i;
  pca_opts_default(&o);
  pca_state_init(&s, &o);
  CHECK_EQ_INT(pca_state_begin(&s, d, err), IMGPCA_OK);
  for (i = 0; i < n; i++) CHECK_EQ_INT(pca_state_add_f32(&s, X + i * d, err), IMGPCA_OK);
  if (pca_fit_state(&s, k, frac, -1, &m, err) != IMGPCA_OK) {
    fprintf(stderr, "pca_fit_state: %s\n", err);
    exit(1);
  }
  CHECK_EQ_INT(pca_model_save(&m, pBlob, pnBlob, err), IMGPCA_OK);
  CHECK_EQ_INT(pca_project_rows(&m, NULL, X, n, m.k, 0, Y, nt, err), IMGPCA_OK);
  i = m.k;
  pca_model_free(&m);
  pca_state_free(&s);
  return i;
}

static void test_thread_independence(void) {
  /* d = 600, k = 20: block Krylov; d = 200, k = 60 and k = 0.9: the
  ** tridiagonal route.  Low-rank data plus noise, 1,100 rows (several
  ** accumulation batches). */
  static const struct {
    size_t d;
    long long k;
    double frac;
  } cases[] = {{600, 20, 0}, {200, 60, 0}, {200, 0, 0.9}};
  static const int blasThreads[] = {1, 2, 3, 4, 64};
  size_t n = 1100, c, i, j, r;
  char err[IMGPCA_ERRMAX];
  CHECK_EQ_INT(imgpca_blas_load(err), IMGPCA_OK);
  for (c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    size_t d = cases[c].d;
    float *X = malloc(n * d * sizeof(float)), *Y0 = malloc(n * d * sizeof(float)), *Y = malloc(n * d * sizeof(float));
    double *basis = malloc(30 * d * sizeof(double));
    unsigned char *b0 = NULL, *b = NULL;
    size_t n0 = 0, nb = 0, t, k;
    for (i = 0; i < 30 * d; i++) basis[i] = urand();
    for (i = 0; i < n; i++) {
      for (j = 0; j < d; j++) X[i * d + j] = (float)(3 + 0.05 * urand());
      for (r = 0; r < 30; r++) {
        double a = urand() * 10 / (double)(r + 1);
        for (j = 0; j < d; j++) X[i * d + j] += (float)(a * basis[r * d + j]);
      }
    }
    openblas_set_num_threads(1);
    k = fit_and_project(X, n, d, cases[c].k, cases[c].frac, 1, &b0, &n0, Y0);
    for (t = 0; t < sizeof blasThreads / sizeof blasThreads[0]; t++) {
      openblas_set_num_threads(blasThreads[t]);
      fit_and_project(X, n, d, cases[c].k, cases[c].frac, (int)t * 2 + 1, &b, &nb, Y);
      CHECK(nb == n0 && memcmp(b, b0, n0) == 0);
      CHECK(memcmp(Y, Y0, n * k * sizeof(float)) == 0);
      imgpca_free(b);
    }
    /* pca_project (one row at a time) agrees with the batch */
    {
      PcaModel m;
      float y[64];
      size_t same = 0;
      CHECK_EQ_INT(pca_model_load(b0, n0, &m, err), IMGPCA_OK);
      for (i = 0; i < n; i++) {
        CHECK_EQ_INT(pca_project(&m, X + i * d, m.k, 0, y, err), IMGPCA_OK);
        for (j = 0; j < m.k; j++) {
          CHECK_NEAR(y[j], Y0[i * m.k + j], 1e-5 * (1 + fabs(Y0[i * m.k + j])));
          same += y[j] == Y0[i * m.k + j];
        }
      }
      CHECK(same > n * m.k * 9 / 10);
      pca_model_free(&m);
    }
    imgpca_free(b0);
    free(X);
    free(Y0);
    free(Y);
    free(basis);
  }
}

int main(void) {
  char err[IMGPCA_ERRMAX];
  CHECK_EQ_INT(imgpca_blas_load(err), IMGPCA_OK);
  test_gemm();
  test_symeig();
  test_thread_independence();
  return UNIT_DONE();
}
