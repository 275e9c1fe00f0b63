/*
** Fuzz target: the PCA model and state BLOB loaders (ext/pca/model.c).
**
** Input: a selector byte + a blob.  Selector bit 0: state (1) or model (0);
** bit 1: recompute the trailing checksum first, so that mutations reach
** the field validation instead of stopping at the checksum.  Seeds:
** models and states of several shapes made with the extension at fuzzing
** time (fuzz/seed-gen.sh).  Invariants: a loaded model has 1 <= k <= d and
** all arrays, projects and reconstructs a vector into finite values (or
** reports an error), and saves back to a blob that loads again; a loaded
** state saves and reloads, and fitting it gives a model or an error.
*/
#include <math.h>

#include "fuzz.h"
#include "pca/pca.h"

static void model_path(const unsigned char *p, size_t n) {
  PcaModel m, m2;
  char err[IMGPCA_ERRMAX];
  int rc;
  memset(&m, 0, sizeof m);
  err[0] = 0;
  rc = pca_model_load(p, n, &m, err);
  fuzz_check_err(rc, err);
  if (rc == IMGPCA_OK) {
    float *x, *y, *back;
    unsigned char *out = NULL;
    size_t nOut = 0, i;
    int whiten;
    if (m.d < 1 || m.k < 1 || m.k > m.d) fuzz_fail("model with d=%zu k=%zu", m.d, m.k);
    if (!m.mean || !m.scale || !m.std || !m.eig || !m.comp) fuzz_fail("model with a missing array");
    x = malloc(m.d * sizeof(float));
    y = malloc(m.k * sizeof(float));
    back = malloc(m.d * sizeof(float));
    if (x && y && back) {
      for (i = 0; i < m.d; i++) x[i] = (float)(i % 7) - 3.0f;
      for (whiten = 0; whiten < 2; whiten++) {
        err[0] = 0;
        rc = pca_project(&m, x, m.k, whiten, y, err);
        fuzz_check_err(rc, err);
        if (rc == IMGPCA_OK) {
          for (i = 0; i < m.k; i++)
            if (!isfinite(y[i])) fuzz_fail("projection %zu not finite (whiten=%d)", i, whiten);
          rc = pca_reconstruct(&m, y, m.k, whiten, back, err);
          fuzz_check_err(rc, err);
          if (rc == IMGPCA_OK)
            for (i = 0; i < m.d; i++)
              if (!isfinite(back[i])) fuzz_fail("reconstruction %zu not finite", i);
        }
      }
    }
    free(x);
    free(y);
    free(back);
    rc = pca_model_save(&m, &out, &nOut, err);
    if (rc == IMGPCA_ERROR) fuzz_fail("a loaded model cannot be saved: %s", err);
    if (rc == IMGPCA_OK) {
      memset(&m2, 0, sizeof m2);
      if (pca_model_load(out, nOut, &m2, err) != IMGPCA_OK) fuzz_fail("saved model does not load: %s", err);
      pca_model_free(&m2);
      imgpca_free(out);
    }
    pca_model_free(&m);
  }
}

static void state_path(const unsigned char *p, size_t n) {
  PcaState s, s2;
  PcaOpts o;
  char err[IMGPCA_ERRMAX];
  int rc;
  pca_opts_default(&o);
  pca_state_init(&s, &o);
  err[0] = 0;
  rc = pca_state_load(p, n, 0, &s, err);
  fuzz_check_err(rc, err);
  if (rc == IMGPCA_OK) {
    unsigned char *out = NULL;
    size_t nOut = 0;
    PcaModel m;
    rc = pca_state_save(&s, &out, &nOut, err);
    if (rc == IMGPCA_ERROR) fuzz_fail("a loaded state cannot be saved: %s", err);
    if (rc == IMGPCA_OK) {
      pca_state_init(&s2, &o);
      if (pca_state_load(out, nOut, 0, &s2, err) != IMGPCA_OK) fuzz_fail("saved state does not load: %s", err);
      pca_state_free(&s2);
      imgpca_free(out);
    }
    memset(&m, 0, sizeof m);
    err[0] = 0;
    rc = pca_fit_state(&s, -1, 0.0, -1, &m, err);
    fuzz_check_err(rc, err);
    if (rc == IMGPCA_OK && (m.k < 1 || m.k > m.d)) fuzz_fail("fitted model with d=%zu k=%zu", m.d, m.k);
    pca_model_free(&m);
  }
  pca_state_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  unsigned char *p;
  size_t n;
  if (size < 1) return 0;
  n = size - 1;
  p = malloc(n ? n : 1);
  if (!p) return 0;
  memcpy(p, data + 1, n);
  if ((data[0] & 2) && n >= 16) imgpca_put_u64(p + n - 8, pca_checksum(p, n - 8));
  if (data[0] & 1)
    state_path(p, n);
  else
    model_path(p, n);
  free(p);
  return 0;
}
