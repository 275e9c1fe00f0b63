/*
** Exact PCA solver (no SQL behaviour of its own; used by pca_fit and
** pca_partial when solver = 'exact', or 'auto' and 8*d^2 bytes fit the
** memory budget).
**
** The d x d scatter matrix M2 is kept in float64 (row-major, upper
** triangle).  A centred batch of rows is added with one OpenBLAS dsyrk,
** the Chan correction term with dsyr.  The top-k eigenpairs come from
** LAPACK's dsyevr (MRRR) with range 'I'; a k given as a variance fraction
** first computes all eigenvalues (jobz 'N'), then the needed vectors.
** Note: row-major upper == column-major lower, so LAPACK is called in
** column-major order on the same memory without a transposed copy.
*/
#include "pca.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>

int pca_exact_batch(PcaState *s, const double *xc, size_t nb, char *err) {
  (void)err;
  cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (blasint)s->d, (blasint)nb, 1.0, xc,
              (blasint)s->d, 1.0, s->m2, (blasint)s->d);
  return IMGPCA_OK;
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
  if (c > 0) cblas_dsyr(CblasRowMajor, CblasUpper, (blasint)d, c, delta, 1, a->m2, (blasint)d);
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

int pca_exact_eigs(double *C, size_t d, size_t k, size_t kmax, double fraction, double total,
                   double **pEig, double **pComp, size_t *pk, char *err) {
  lapack_int m = 0, info;
  lapack_int *isuppz = NULL;
  double *w = NULL, *z = NULL, *eig = NULL, *comp = NULL, *diag = NULL;
  double abstol = LAPACKE_dlamch('S');
  size_t i;
  int rc = IMGPCA_OK;
  *pEig = *pComp = NULL;
  w = imgpca_malloc(d * sizeof(double));
  isuppz = imgpca_malloc(2 * d * sizeof(lapack_int));
  if (!w || !isuppz) {
    rc = IMGPCA_NOMEM;
    goto done;
  }
  if (k == 0) {
    /* Eigenvalues only, on the lower triangle (column-major 'U' == our
    ** row-major lower): keeps our upper triangle, restore the diagonal. */
    size_t j;
    diag = imgpca_malloc(d * sizeof(double));
    if (!diag) {
      rc = IMGPCA_NOMEM;
      goto done;
    }
    for (i = 0; i < d; i++) {
      diag[i] = C[i * d + i];
      for (j = i + 1; j < d; j++) C[j * d + i] = C[i * d + j];
    }
    info = LAPACKE_dsyevr(LAPACK_COL_MAJOR, 'N', 'A', 'U', (lapack_int)d, C, (lapack_int)d, 0, 0, 0, 0,
                          abstol, &m, w, NULL, 1, isuppz);
    if (info != 0) {
      rc = imgpca_seterr(err, "eigenvalue computation failed (LAPACK dsyevr info %d)", (int)info);
      goto done;
    }
    for (i = 0; i < d; i++) C[i * d + i] = diag[i];
    /* descending copy for the cumulative sum */
    for (i = 0; i < (size_t)m / 2; i++) {
      double t = w[i];
      w[i] = w[m - 1 - i];
      w[m - 1 - i] = t;
    }
    k = pick_k(w, (size_t)m, fraction, total, kmax);
  }
  z = imgpca_malloc(d * k * sizeof(double));
  eig = imgpca_malloc(k * sizeof(double));
  comp = imgpca_malloc(d * k * sizeof(double));
  if (!z || !eig || !comp) {
    rc = IMGPCA_NOMEM;
    goto done;
  }
  info = LAPACKE_dsyevr(LAPACK_COL_MAJOR, 'V', 'I', 'L', (lapack_int)d, C, (lapack_int)d, 0, 0,
                        (lapack_int)(d - k + 1), (lapack_int)d, abstol, &m, w, z, (lapack_int)d, isuppz);
  if (info != 0 || (size_t)m != k) {
    rc = imgpca_seterr(err, "eigen decomposition failed (LAPACK dsyevr info %d, %d of %zu eigenpairs)",
                       (int)info, (int)m, k);
    goto done;
  }
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
  imgpca_free(isuppz);
  imgpca_free(z);
  imgpca_free(eig);
  imgpca_free(comp);
  imgpca_free(diag);
  return rc;
}
