/* Unit tests of the PCA core (no SQLite): accumulation against a naive
** long-double covariance, Chan merges, the streaming bound, model/state
** round trips and the strict loader on truncated/corrupted blobs. */
#include <stdlib.h>

#include "common/common.h"
#include "pca/pca.h"
#include "unit.h"

static uint64_t rng = 88172645463325252ULL;
static double urand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (double)(rng >> 11) / 9007199254740992.0;
}

#define N 700
#define D 24

static float X[N][D];

static void make_data(void) {
  size_t i, j, r;
  double basis[4][D];
  for (r = 0; r < 4; r++)
    for (j = 0; j < D; j++) basis[r][j] = urand() - 0.5;
  for (i = 0; i < N; i++) {
    for (j = 0; j < D; j++) X[i][j] = (float)(1000.0 + 0.01 * (urand() - 0.5)); /* large offset: centring test */
    for (r = 0; r < 4; r++) {
      double c = (urand() - 0.5) * (8.0 / (double)(r + 1));
      for (j = 0; j < D; j++) X[i][j] += (float)(c * basis[r][j]);
    }
  }
}

static void feed(PcaState *s, size_t from, size_t to) {
  char err[IMGPCA_ERRMAX];
  size_t i;
  for (i = from; i < to; i++) {
    if (s->kind == 0) CHECK_EQ_INT(pca_state_begin(s, D, err), IMGPCA_OK);
    CHECK_EQ_INT(pca_state_add_f32(s, X[i], err), IMGPCA_OK);
  }
}

static void test_accumulate(void) {
  PcaOpts o;
  PcaState s;
  char err[IMGPCA_ERRMAX];
  long double mean[D] = {0}, cov;
  double worst = 0;
  size_t i, a, b;
  pca_opts_default(&o);
  o.solver = PCA_SOLVER_EXACT;
  pca_state_init(&s, &o);
  feed(&s, 0, N);
  CHECK_EQ_INT(pca_state_flush(&s, err), IMGPCA_OK);
  for (i = 0; i < N; i++)
    for (a = 0; a < D; a++) mean[a] += X[i][a];
  for (a = 0; a < D; a++) mean[a] /= N;
  for (a = 0; a < D; a++)
    for (b = a; b < D; b++) {
      cov = 0;
      for (i = 0; i < N; i++) cov += (X[i][a] - mean[a]) * (X[i][b] - mean[b]);
      if (fabsl(cov) > 1e-3) {
        double e = (double)fabsl((s.m2[a * D + b] - cov) / cov);
        if (e > worst) worst = e;
      }
    }
  CHECK(worst < 1e-9);
  CHECK(fabs((double)(s.mean[3] - mean[3])) < 1e-9);
  pca_state_free(&s);
}

static void fit_exact(size_t shards, int kind, PcaModel *m) {
  PcaOpts o;
  PcaState all, part;
  char err[IMGPCA_ERRMAX];
  size_t sh;
  pca_opts_default(&o);
  o.solver = kind == PCA_KIND_EXACT ? PCA_SOLVER_EXACT : PCA_SOLVER_STREAMING;
  o.sketch = 8;
  pca_state_init(&all, &o);
  for (sh = 0; sh < shards; sh++) {
    unsigned char *blob;
    size_t nb;
    PcaState back;
    pca_state_init(&part, &o);
    feed(&part, sh * N / shards, (sh + 1) * N / shards);
    /* every state goes through its blob form */
    CHECK_EQ_INT(pca_state_save(&part, &blob, &nb, err), IMGPCA_OK);
    CHECK_EQ_INT(pca_state_load(blob, nb, 0, &back, err), IMGPCA_OK);
    CHECK_EQ_INT(pca_state_merge(&all, &back, err), IMGPCA_OK);
    pca_state_free(&back);
    pca_state_free(&part);
    free(blob);
  }
  CHECK_EQ_INT(pca_fit_state(&all, 4, 0, -1, m, err), IMGPCA_OK);
  pca_state_free(&all);
}

static void test_merge_and_stream(void) {
  PcaModel one, m;
  size_t shards[] = {2, 3, 7}, i, j;
  fit_exact(1, PCA_KIND_EXACT, &one);
  CHECK_EQ_INT(one.k, 4);
  for (i = 0; i < 3; i++) {
    fit_exact(shards[i], PCA_KIND_EXACT, &m);
    for (j = 0; j < 4; j++) CHECK(fabs(m.eig[j] / one.eig[j] - 1) < 1e-9);
    pca_model_free(&m);
  }
  /* streaming (l = 8) stays within [lambda - bound, lambda] */
  for (i = 0; i < 3; i++) {
    fit_exact(shards[i], PCA_KIND_STREAM, &m);
    CHECK(m.streaming);
    for (j = 0; j < 4; j++) {
      CHECK(m.eig[j] <= one.eig[j] * (1 + 1e-9));
      CHECK(m.eig[j] >= one.eig[j] - m.err_bound - 1e-9 * one.eig[j]);
    }
    pca_model_free(&m);
  }
  pca_model_free(&one);
}

static void test_model_blob(void) {
  PcaModel m, back;
  unsigned char *blob, *bad;
  size_t nb, i, ok = 0;
  char err[IMGPCA_ERRMAX];
  fit_exact(1, PCA_KIND_EXACT, &m);
  CHECK_EQ_INT(pca_model_save(&m, &blob, &nb, err), IMGPCA_OK);
  CHECK_EQ_INT(pca_model_load(blob, nb, &back, err), IMGPCA_OK);
  CHECK_EQ_INT(back.k, m.k);
  CHECK(memcmp(back.comp, m.comp, m.k * m.d * sizeof(double)) == 0);
  pca_model_free(&back);
  /* every truncation is rejected, reading only inside the buffer */
  for (i = 0; i < nb; i++) {
    bad = malloc(i ? i : 1);
    memcpy(bad, blob, i);
    CHECK_EQ_INT(pca_model_load(bad, i, &back, err), IMGPCA_ERROR);
    free(bad);
  }
  CHECK_EQ_INT(pca_model_load(NULL, 0, &back, err), IMGPCA_ERROR);
  /* single bit flips anywhere are rejected (header, values or checksum) */
  bad = malloc(nb);
  for (i = 0; i < nb * 8; i += 7) {
    memcpy(bad, blob, nb);
    bad[i / 8] ^= (unsigned char)(1u << (i % 8));
    if (pca_model_load(bad, nb, &back, err) == IMGPCA_OK) {
      ok++;
      pca_model_free(&back);
    }
  }
  CHECK_EQ_INT(ok, 0);
  free(bad);
  free(blob);
  pca_model_free(&m);
}

static void test_sign_and_project(void) {
  double v[3] = {0.1, -0.9, 0.3};
  PcaModel m;
  float y[4], x[D], r[D];
  char err[IMGPCA_ERRMAX];
  size_t j;
  pca_fix_sign(v, 3);
  CHECK(v[1] > 0 && v[0] < 0);
  fit_exact(1, PCA_KIND_EXACT, &m);
  CHECK_EQ_INT(pca_project(&m, X[5], 4, 0, y, err), IMGPCA_OK);
  CHECK_EQ_INT(pca_reconstruct(&m, y, 4, 0, x, err), IMGPCA_OK);
  /* 4-rank data plus noise 0.01: the reconstruction is close */
  for (j = 0; j < D; j++) r[j] = x[j] - X[5][j];
  for (j = 0; j < D; j++) CHECK(fabs(r[j]) < 0.02);
  CHECK_EQ_INT(pca_project(&m, X[5], 5, 0, y, err), IMGPCA_ERROR);
  pca_model_free(&m);
}

/* The block Krylov route (k <= d/8, d >= 512) against the dsyevr route
** (taken for a variance fraction), on full-rank and rank-3 matrices. */
static void test_krylov_vs_dsyevr(void) {
  size_t d = 520, k = 8, i, j, r, kk;
  char err[IMGPCA_ERRMAX];
  int rank;
  for (rank = 0; rank < 2; rank++) {
    double *A = malloc(d * d * sizeof(double)), *C1 = calloc(d * d, sizeof(double)), *C2;
    double *e1, *v1, *e2, *v2;
    size_t nr = rank ? 3 : d;
    for (i = 0; i < nr * d; i++) A[i] = (urand() - 0.5) * (1.0 + (double)(i / d % 7));
    for (r = 0; r < nr; r++)
      for (i = 0; i < d; i++)
        for (j = i; j < d; j++) C1[i * d + j] += A[r * d + i] * A[r * d + j];
    C2 = malloc(d * d * sizeof(double));
    memcpy(C2, C1, d * d * sizeof(double));
    CHECK_EQ_INT(pca_exact_eigs(C1, d, k, k, 0, 1, &e1, &v1, &kk, err), IMGPCA_OK);
    CHECK_EQ_INT(kk, k);
    CHECK_EQ_INT(pca_exact_eigs(C2, d, 0, k, 0.999999999, 1e300, &e2, &v2, &kk, err), IMGPCA_OK);
    CHECK_EQ_INT(kk, k);
    for (i = 0; i < (rank ? 3 : k); i++) {
      double dot = 0;
      CHECK(fabs(e1[i] - e2[i]) <= 1e-10 * e2[0]);
      for (j = 0; j < d; j++) dot += v1[i * d + j] * v2[i * d + j];
      if (i + 1 < k && (e2[i] - e2[i + 1]) > 1e-3 * e2[i]) CHECK(fabs(dot) > 1 - 1e-9);
    }
    for (i = 0; i < k; i++) {
      double nrm = 0;
      for (j = 0; j < d; j++) nrm += v1[i * d + j] * v1[i * d + j];
      CHECK(fabs(nrm - 1) < 1e-9);
    }
    free(A);
    free(C1);
    free(C2);
    free(e1);
    free(v1);
    free(e2);
    free(v2);
  }
}

/* Bounds from a state blob are checked before allocating: a small blob can
** announce a sketch whose Gram matrices need gigabytes. */
static void test_state_budget(void) {
  PcaOpts o;
  PcaState st, back;
  unsigned char *blob;
  size_t nb;
  char err[IMGPCA_ERRMAX];
  pca_opts_default(&o);
  o.solver = PCA_SOLVER_STREAMING;
  o.sketch = 4096; /* 64 * 4096^2 bytes = 1 GiB of Gram + eigenvectors */
  o.memory_mb = 2048;
  pca_state_init(&st, &o);
  feed(&st, 0, 100);
  CHECK_EQ_INT(pca_state_save(&st, &blob, &nb, err), IMGPCA_OK);
  CHECK(nb < 64 * 1024);
  CHECK_EQ_INT(pca_state_load(blob, nb, 1024, &back, err), IMGPCA_ERROR);
  CHECK_STR(err, "the state needs 1026 MiB for d=24 and sketch=4096, above memory_mb=1024");
  CHECK_EQ_INT(pca_state_load(blob, nb, 2048, &back, err), IMGPCA_OK);
  pca_state_free(&back);
  CHECK_EQ_INT(pca_state_load(blob, nb, 0, &back, err), IMGPCA_OK); /* the blob's own 2048 */
  pca_state_free(&back);
  /* the blob's own memory_mb lowered (checksum fixed): refused without a budget */
  imgpca_put_u64(blob + 64, 100);
  imgpca_put_u64(blob + nb - 8, pca_checksum(blob, nb - 8));
  CHECK_EQ_INT(pca_state_load(blob, nb, 0, &back, err), IMGPCA_ERROR);
  CHECK(strstr(err, "above memory_mb=100") != NULL);
  free(blob);
  pca_state_free(&st);
}

static int g_polls, g_stopAt;
static int stop_after(void *p) {
  (void)p;
  return ++g_polls >= g_stopAt;
}

/* Long loops poll the interrupt hook and stop with IMGPCA_INTERRUPT. */
static void test_interrupt_hook(void) {
  PcaOpts o;
  PcaState a, b;
  char err[IMGPCA_ERRMAX];
  pca_opts_default(&o);
  o.solver = PCA_SOLVER_STREAMING;
  o.sketch = 8;
  pca_state_init(&a, &o);
  feed(&a, 0, 50);
  CHECK_EQ_INT(pca_state_flush(&a, err), IMGPCA_OK);
  o.sketch = 300;
  pca_state_init(&b, &o);
  feed(&b, 50, 600); /* 550 rows: sketch rows > 16 */
  CHECK_EQ_INT(pca_state_flush(&b, err), IMGPCA_OK);
  CHECK(b.skRows > 32);
  a.xInterrupted = stop_after;
  g_polls = 0;
  g_stopAt = 2;
  CHECK_EQ_INT(pca_state_merge(&a, &b, err), IMGPCA_INTERRUPT);
  CHECK_EQ_INT(g_polls, 2);
  /* a batch flush polls too */
  g_polls = 0;
  g_stopAt = 1;
  b.xInterrupted = stop_after;
  feed(&b, 0, 3);
  CHECK_EQ_INT(pca_state_flush(&b, err), IMGPCA_INTERRUPT);
  pca_state_free(&a);
  pca_state_free(&b);
}

int main(void) {
  make_data();
  test_state_budget();
  test_interrupt_hook();
  test_accumulate();
  test_merge_and_stream();
  test_model_blob();
  test_sign_and_project();
  test_krylov_vs_dsyevr();
  return UNIT_DONE();
}
