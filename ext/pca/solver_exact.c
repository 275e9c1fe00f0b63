/*
** Exact PCA solver (no SQL behaviour of its own; used by pca_fit and
** pca_partial when solver = 'exact', or 'auto' and 8*d^2 bytes fit the
** memory budget).
**
** The d x d scatter matrix M2 is kept in float64 (row-major, upper
** triangle).  A centred batch of rows is added with one OpenBLAS dsyrk,
** the Chan correction term with dsyr.
**
** Top-k eigenpairs: when k is small against d (k <= d/8, d >= 512) a block
** Krylov (block Lanczos with full reorthogonalisation) Rayleigh-Ritz
** iteration runs first: blocks of b = k+10 vectors (deterministic start),
** each multiplied by M2 with dsymm and orthogonalised twice against the
** basis; after each block the Ritz pairs are formed (dsyevr on the small
** projected matrix) and accepted only when every residual
** ||M2 v - theta v|| <= 1e-10 * theta_1 (eigenvalue error <= residual).
** Otherwise -- or for a k given as a variance fraction, or large k -- LAPACK
** dsyevr (MRRR/bisection after a tridiagonal reduction) with range 'I'
** computes them directly; a fraction first computes all eigenvalues
** (jobz 'N'), then the needed vectors.
** Note: row-major upper == column-major lower, so LAPACK is called in
** column-major order on the same memory without a transposed copy.
*/
#include "pca.h"

#include <cblas.h>
#include <lapacke.h>

#include "../common/lazy_blas.h"
#include <math.h>
#ifdef PCA_DEBUG
#include <stdio.h>
#endif

int pca_exact_batch(PcaState *s, const double *xc, size_t nb, char *err) {
  (void)err;
  /* M2 (upper) += xc^T xc, in fixed tiles (detblas.c) */
  return pca_dgemm(1, 0, s->d, s->d, nb, 1.0, xc, s->d, xc, s->d, 1.0, s->m2, s->d, 1, imgpca_cpus_available());
}

int pca_exact_merge(PcaState *a, const PcaState *b, const double *delta, double c, char *err) {
  size_t d = a->d, i, j;
  (void)err;
  if (b) {
    for (i = 0; i < d; i++) {
      double *pa = a->m2 + i * d;
      const double *pb = b->m2 + i * d;
      for (j = i; j < d; j++) pa[j] += pb[j];
    }
  }
  if (c > 0)
    for (i = 0; i < d; i++) {
      double *pa = a->m2 + i * d, ci = c * delta[i];
      for (j = i; j < d; j++) pa[j] += ci * delta[j];
    }
  return IMGPCA_OK;
}

static size_t pick_k(const double *w_desc, size_t m, double fraction, double total, size_t kmax) {
  double cum = 0;
  size_t i;
  for (i = 0; i < m && i < kmax; i++) {
    cum += w_desc[i] > 0 ? w_desc[i] : 0;
    if (total > 0 && cum / total > fraction) return i + 1;
  }
  return m < kmax ? (m ? m : 1) : kmax;
}

/* Orthonormalises the rows of Y (b x d) against the m rows of Bt and among
** themselves (two passes); returns the number of rows kept (collapsed rows
** are dropped, i.e. the Krylov space became invariant in that direction). */
static size_t ortho_rows(double *Y, size_t b, size_t d, const double *Bt, size_t m, double *G) {
  size_t i, j, l, kept = 0, pass;
  int nt = imgpca_cpus_available();
  for (pass = 0; pass < 2 && m > 0; pass++) {
    if (pca_dgemm(0, 1, b, m, d, 1.0, Y, d, Bt, d, 0.0, G, m, 0, nt) ||
        pca_dgemm(0, 0, b, d, m, -1.0, G, m, Bt, d, 1.0, Y, d, 0, nt))
      return 0;
  }
  for (i = 0; i < b; i++) {
    double *yi = Y + i * d;
    double n0 = sqrt(pca_dot(yi, yi, d)), n1;
    for (pass = 0; pass < 2; pass++)
      for (j = 0; j < kept; j++) {
        const double *yj = Y + j * d;
        double t = pca_dot(yi, yj, d);
        for (l = 0; l < d; l++) yi[l] -= t * yj[l];
      }
    n1 = sqrt(pca_dot(yi, yi, d));
    if (!(n1 > 1e-10 * n0) || !(n0 > 0)) continue;
    for (l = 0; l < d; l++) yi[l] /= n1;
    if (kept != i) memcpy(Y + kept * d, yi, d * sizeof(double));
    kept++;
  }
  return kept;
}

/* Block Krylov Rayleigh-Ritz for the top k eigenpairs of C (row-major,
** upper triangle valid, not modified).  Returns IMGPCA_OK with eig/comp
** filled when converged, IMGPCA_ERROR (no message) when not, NOMEM. */
static int krylov_topk(const double *C, size_t d, size_t k, double *eig, double *comp) {
  size_t b = k + 10 < 16 ? 16 : k + 10;
  /* basis and its image: 2*mmax*d doubles, at most a quarter of the d x d
  ** matrix (or 64 MiB), at most 12 blocks */
  size_t cap = (d * d * 2 > (64u << 20) ? d * d * 2 : (64u << 20)) / (16 * d);
  size_t mmax = d / 2 < 12 * b ? d / 2 : 12 * b;
  size_t m = 0, i, j, nb;
  double *Bt = NULL, *W = NULL, *G = NULL, *T = NULL, *w = NULL, *z = NULL, *S = NULL, *CV = NULL;
  uint64_t x = 0x2545F4914F6CDD1DULL;
  int rc = IMGPCA_ERROR, blocks, nt = imgpca_cpus_available();
  if (mmax > cap) mmax = cap;
  if (mmax < 2 * b) return IMGPCA_ERROR;
  Bt = imgpca_malloc(mmax * d * sizeof(double));
  W = imgpca_malloc(mmax * d * sizeof(double));
  G = imgpca_malloc(mmax * (b > mmax ? b : mmax) * sizeof(double));
  T = imgpca_malloc(mmax * mmax * sizeof(double));
  z = imgpca_malloc(mmax * mmax * sizeof(double));
  w = imgpca_malloc(mmax * sizeof(double));
  S = imgpca_malloc(k * mmax * sizeof(double));
  CV = imgpca_malloc(k * d * sizeof(double));
  if (!Bt || !W || !G || !T || !z || !w || !S || !CV) {
    rc = IMGPCA_NOMEM;
    goto done;
  }
  /* deterministic start block (xorshift, uniform in [-1, 1)) */
  for (i = 0; i < b * d; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    Bt[i] = (double)(x >> 11) / 4503599627370496.0 - 1.0;
  }
  nb = ortho_rows(Bt, b, d, NULL, 0, G);
  if (nb < b) goto done;
  m = nb;
  for (blocks = 1; m + b <= mmax; blocks++) {
    double tol, worst = 0;
    size_t mb = m - nb; /* first row of the newest block */
    /* W rows of the newest block = (C q)^T, then the next block from them */
    /* C is symmetric with both triangles filled: (C q)^T = q^T C^T */
    if (pca_dgemm(0, 1, nb, d, d, 1.0, Bt + mb * d, d, C, d, 0.0, W + mb * d, d, 0, nt)) {
      rc = IMGPCA_NOMEM;
      goto done;
    }
    if (blocks >= 3 || nb < b) {
      /* Rayleigh-Ritz on the current basis: T = Bt W^T */
      if (pca_dgemm(0, 1, m, m, d, 1.0, Bt, d, W, d, 0.0, T, m, 0, nt)) {
        rc = IMGPCA_NOMEM;
        goto done;
      }
      for (i = 0; i < m; i++)
        for (j = i + 1; j < m; j++) T[i * m + j] = T[j * m + i] = 0.5 * (T[i * m + j] + T[j * m + i]);
      if (m < k) goto done;
      if (pca_symeig(T, m, m - k + 1, m, w, z, NULL) != IMGPCA_OK) goto done;
      /* S (k x m): row i = Ritz coefficients of the i-th largest */
      for (i = 0; i < k; i++) memcpy(S + i * m, z + (k - 1 - i) * m, m * sizeof(double));
      if (pca_dgemm(0, 0, k, d, m, 1.0, S, m, Bt, d, 0.0, comp, d, 0, nt) ||
          pca_dgemm(0, 0, k, d, m, 1.0, S, m, W, d, 0.0, CV, d, 0, nt)) {
        rc = IMGPCA_NOMEM;
        goto done;
      }
      for (i = 0; i < k; i++) eig[i] = w[k - 1 - i];
      tol = 1e-10 * fabs(eig[0]);
      for (i = 0; i < k; i++) {
        double r2 = 0;
        for (j = 0; j < d; j++) {
          double e = CV[i * d + j] - eig[i] * comp[i * d + j];
          r2 += e * e;
        }
        if (sqrt(r2) > worst) worst = sqrt(r2);
      }
#ifdef PCA_DEBUG
      fprintf(stderr, "krylov: d=%zu k=%zu blocks=%d m=%zu residual/theta1=%.3g\n", d, k, blocks, m, worst / fabs(eig[0]));
#endif
      if (worst <= tol) {
        rc = IMGPCA_OK;
        goto done;
      }
      if (nb < b) goto done; /* invariant subspace but not converged: give up */
    }
    /* next block: orthonormalised copy of the newest W rows */
    memcpy(Bt + m * d, W + mb * d, nb * d * sizeof(double));
    nb = ortho_rows(Bt + m * d, nb, d, Bt, m, G);
    if (nb == 0) goto done; /* invariant and not converged: use the tridiagonal route */
    m += nb;
  }
done:
  imgpca_free(Bt);
  imgpca_free(W);
  imgpca_free(G);
  imgpca_free(T);
  imgpca_free(z);
  imgpca_free(w);
  imgpca_free(S);
  imgpca_free(CV);
  return rc;
}

int pca_exact_eigs(double *C, size_t d, size_t k, size_t kmax, double fraction, double total,
                   double **pEig, double **pComp, size_t *pk, char *err) {
  double *w = NULL, *z = NULL, *eig = NULL, *comp = NULL, *tri = NULL;
  size_t i, j;
  int rc = IMGPCA_OK;
  *pEig = *pComp = NULL;
  w = imgpca_malloc(d * sizeof(double));
  tri = imgpca_malloc(3 * d * sizeof(double));
  if (!w || !tri) {
    rc = IMGPCA_NOMEM;
    goto done;
  }
  if (k > 0 && fraction == 0 && d >= 512 && k * 8 <= d) {
    eig = imgpca_malloc(k * sizeof(double));
    comp = imgpca_malloc(d * k * sizeof(double));
    if (!eig || !comp) {
      rc = IMGPCA_NOMEM;
      goto done;
    }
    for (i = 0; i < d; i++) /* the Krylov products read both triangles */
      for (j = i + 1; j < d; j++) C[j * d + i] = C[i * d + j];
    rc = krylov_topk(C, d, k, eig, comp);
    if (rc == IMGPCA_NOMEM) goto done;
    if (rc == IMGPCA_OK) {
      *pEig = eig;
      *pComp = comp;
      *pk = k;
      eig = comp = NULL;
      goto done;
    }
    rc = IMGPCA_OK; /* not converged: exact tridiagonal route */
  }
  rc = pca_tridiag(C, d, tri, tri + d, tri + 2 * d, err);
  if (rc) goto done;
  if (k == 0) {
    /* all eigenvalues first, descending, for the cumulative sum */
    rc = pca_tridiag_eig(C, d, tri, tri + d, tri + 2 * d, 1, d, w, NULL, err);
    if (rc) goto done;
    for (i = 0; i < d / 2; i++) {
      double t = w[i];
      w[i] = w[d - 1 - i];
      w[d - 1 - i] = t;
    }
    k = pick_k(w, d, fraction, total, kmax);
  }
  imgpca_free(eig);
  imgpca_free(comp);
  z = imgpca_malloc(d * k * sizeof(double));
  eig = imgpca_malloc(k * sizeof(double));
  comp = imgpca_malloc(d * k * sizeof(double));
  if (!z || !eig || !comp) {
    rc = IMGPCA_NOMEM;
    goto done;
  }
  rc = pca_tridiag_eig(C, d, tri, tri + d, tri + 2 * d, d - k + 1, d, w, z, err);
  if (rc) goto done;
  for (i = 0; i < k; i++) {
    eig[i] = w[k - 1 - i];
    memcpy(comp + i * d, z + (k - 1 - i) * d, d * sizeof(double));
  }
  *pEig = eig;
  *pComp = comp;
  *pk = k;
  eig = comp = NULL;
done:
  imgpca_free(w);
  imgpca_free(tri);
  imgpca_free(z);
  imgpca_free(eig);
  imgpca_free(comp);
  return rc;
}
