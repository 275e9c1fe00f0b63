/*
** Streaming PCA solver: Frequent Directions (Liberty 2013; Ghashami,
** Liberty, Phillips, Woodruff 2016).  No SQL behaviour of its own; used by
** pca_fit/pca_partial with solver = 'streaming', or 'auto' when the d x d
** matrix does not fit the memory budget.
**
** The rows fed to the sketch are the centred batch rows plus, for every
** batch or merge, the Chan row sqrt(na*nb/n)*delta, so that the exact
** scatter matrix is M2 = A^T A for the matrix A of all fed rows.  The sketch
** B (at most 2l rows of length d) satisfies
**     0 <= x^T (A^T A - B^T B) x <= Delta  for every unit x,
** where Delta (state field "shrink") is the sum of the shrink amounts and
** Delta <= ||A - A_j||_F^2 / (l - j) for every j < l (the tail of the
** eigenvalues of M2 beyond j).  Hence each estimated eigenvalue of the
** covariance lies in [lambda_i - Delta/(n-1), lambda_i].  Merging two
** sketches keeps the guarantee (FD is mergeable).
**
** Shrink: when 2l rows are present, take the eigen decomposition of the
** small Gram matrix B B^T (2l x 2l, dsyrk + dsyevr), delta = l-th largest
** eigenvalue, and replace B by the l-1 rows sqrt(s_i^2 - delta) v_i^T,
** computed as a (l-1) x 2l times 2l x d product in column blocks (dgemm).
** Memory O(l*d); time O(n*l*d).
*/
#include "pca.h"

#include <cblas.h>
#include <lapacke.h>

#include "../common/lazy_blas.h"
#include <math.h>

/* Eigen decomposition of the Gram matrix of the r x d rows S: w ascending
** (r), z column-major r x r (column j = eigenvector of w[j]).  Through the
** thread-count independent routines of detblas.c, so that the sketch's
** bytes do not depend on how many threads OpenBLAS has (which another
** statement of the process may change meanwhile). */
static int gram_eig(const double *S, size_t r, size_t d, double *G, double *w, double *z,
                    lapack_int *isuppz, char *err) {
  int rc;
  (void)isuppz;
  rc = pca_dgemm(0, 1, r, r, d, 1.0, S, d, S, d, 0.0, G, r, 1, 1);
  if (rc) return rc;
  rc = pca_symeig(G, r, 1, r, w, z, err);
  if (rc == IMGPCA_ERROR) return imgpca_seterr(err, "sketch eigen decomposition failed");
  return rc;
}

/* S[0..q) <- U (q x r) * S (r x d), in column blocks to avoid a full copy. */
static int rotate_rows(double *S, size_t r, size_t d, const double *U, size_t q) {
  size_t bc = 256, c0, i;
  double *T = imgpca_malloc(q * bc * sizeof(double) + 1);
  if (!T) return IMGPCA_NOMEM;
  for (c0 = 0; c0 < d; c0 += bc) {
    size_t w = d - c0 < bc ? d - c0 : bc;
    int rc = pca_dgemm(0, 0, q, w, r, 1.0, U, r, S + c0, d, 0.0, T, w, 0, 1);
    if (rc) {
      imgpca_free(T);
      return rc;
    }
    for (i = 0; i < q; i++) memcpy(S + i * d + c0, T + i * w, w * sizeof(double));
  }
  imgpca_free(T);
  return IMGPCA_OK;
}

int pca_stream_shrink(PcaState *s, char *err) {
  size_t r = s->skRows, d = s->d, ell = s->ell, q = 0, i, j;
  double *G = NULL, *w = NULL, *z = NULL, *U = NULL;
  lapack_int *isuppz = NULL;
  double delta;
  int rc;
  if (r < ell) return IMGPCA_OK;
  G = imgpca_malloc(r * r * sizeof(double));
  z = imgpca_malloc(r * r * sizeof(double));
  w = imgpca_malloc(r * sizeof(double));
  U = imgpca_malloc(r * r * sizeof(double));
  isuppz = imgpca_malloc(2 * r * sizeof(lapack_int));
  if (!G || !z || !w || !U || !isuppz) {
    rc = IMGPCA_NOMEM;
    goto done;
  }
  rc = gram_eig(s->sk, r, d, G, w, z, isuppz, err);
  if (rc) goto done;
  delta = w[r - ell];
  if (delta < 0) delta = 0;
  for (i = 0; i + 1 < ell; i++) {
    size_t col = r - 1 - i;
    double wi = w[col];
    double coef;
    if (!(wi > delta)) break;
    coef = sqrt((wi - delta) / wi);
    for (j = 0; j < r; j++) U[q * r + j] = coef * z[col * r + j];
    q++;
  }
  if (q) {
    rc = rotate_rows(s->sk, r, d, U, q);
    if (rc) goto done;
  }
  s->skRows = q;
  s->shrink += delta;
done:
  imgpca_free(G);
  imgpca_free(z);
  imgpca_free(w);
  imgpca_free(U);
  imgpca_free(isuppz);
  return rc;
}

int pca_stream_append(PcaState *s, const double *row, double alpha, char *err) {
  size_t d = s->d, j;
  double *dst;
  if (s->skRows >= 2 * s->ell) {
    int rc = pca_stream_shrink(s, err);
    if (rc) return rc;
  }
  dst = s->sk + s->skRows * d;
  for (j = 0; j < d; j++) dst[j] = alpha * row[j];
  s->skRows++;
  return IMGPCA_OK;
}

int pca_stream_eigs(PcaState *s, const double *invScale, size_t k, size_t kmax, double fraction,
                    double total, double **pEig, double **pComp, size_t *pk, char *err) {
  size_t r = s->skRows, d = s->d, i, j, p;
  double *G = NULL, *w = NULL, *z = NULL, *U = NULL, *eig = NULL, *comp = NULL;
  lapack_int *isuppz = NULL;
  int rc;
  *pEig = *pComp = NULL;
  if (r == 0) return imgpca_seterr(err, "all rows are identical: the sketch is empty");
  for (i = 0; i < r; i++)
    for (j = 0; j < d; j++) s->sk[i * d + j] *= invScale[j];
  G = imgpca_malloc(r * r * sizeof(double));
  z = imgpca_malloc(r * r * sizeof(double));
  w = imgpca_malloc(r * sizeof(double));
  isuppz = imgpca_malloc(2 * r * sizeof(lapack_int));
  if (!G || !z || !w || !isuppz) {
    rc = IMGPCA_NOMEM;
    goto done;
  }
  rc = gram_eig(s->sk, r, d, G, w, z, isuppz, err);
  if (rc) goto done;
  if (k == 0) {
    double cum = 0;
    for (i = 0; i < r && i < kmax; i++) {
      double wi = w[r - 1 - i];
      cum += wi > 0 ? wi : 0;
      k = i + 1;
      if (total > 0 && cum / total > fraction) break;
    }
    if (k == 0) k = 1;
  }
  if (k > r) {
    rc = imgpca_seterr(err, "k=%zu exceeds the %zu rows of the sketch", k, r);
    goto done;
  }
  for (i = 0; i < k; i++) {
    double wi = w[r - 1 - i];
    if (!(wi > w[r - 1] * 1e-24) || !(wi > 0)) {
      rc = imgpca_seterr(err, "the data has rank %zu, below k=%zu (streaming solver)", i, k);
      goto done;
    }
  }
  U = imgpca_malloc(k * r * sizeof(double));
  eig = imgpca_malloc(k * sizeof(double));
  comp = imgpca_malloc(k * d * sizeof(double));
  if (!U || !eig || !comp) {
    rc = IMGPCA_NOMEM;
    goto done;
  }
  for (i = 0; i < k; i++) {
    size_t col = r - 1 - i;
    double inv = 1 / sqrt(w[col]);
    eig[i] = w[col];
    for (j = 0; j < r; j++) U[i * r + j] = z[col * r + j] * inv;
  }
  rc = pca_dgemm(0, 0, k, d, r, 1.0, U, r, s->sk, d, 0.0, comp, d, 0, 1);
  if (rc) goto done;
  /* Re-orthonormalise (modified Gram-Schmidt, twice) against rounding of
  ** the Gram route. */
  for (p = 0; p < 2; p++) {
    for (i = 0; i < k; i++) {
      double *ci = comp + i * d, nrm = 0;
      for (j = 0; j < i; j++) {
        const double *cj = comp + j * d;
        double dot = pca_dot(ci, cj, d);
        size_t t;
        for (t = 0; t < d; t++) ci[t] -= dot * cj[t];
      }
      nrm = sqrt(pca_dot(ci, ci, d));
      if (!(nrm > 0.5)) {
        rc = imgpca_seterr(err, "the data has rank %zu, below k=%zu (streaming solver)", i, k);
        goto done;
      }
      {
        size_t t;
        double inv = 1 / nrm;
        for (t = 0; t < d; t++) ci[t] *= inv;
      }
    }
  }
  *pEig = eig;
  *pComp = comp;
  *pk = k;
  eig = comp = NULL;
done:
  imgpca_free(G);
  imgpca_free(z);
  imgpca_free(w);
  imgpca_free(U);
  imgpca_free(eig);
  imgpca_free(comp);
  imgpca_free(isuppz);
  return rc;
}
