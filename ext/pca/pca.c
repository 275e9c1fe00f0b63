/*
** PCA core: options, row accumulation in batches, Chan-style merging of
** states, fitting a model from a state, projection and reconstruction.
** SQL behaviour is specified in pca_sql.c; formats in model.c.
**
** Accumulation: rows are buffered (up to 256 rows, at most ~16 MiB).  A full
** batch is centred on its own mean (two passes over the batch, so no
** cancellation), its scatter is added to M2 (dsyrk, exact solver) or its
** centred rows to the Frequent Directions sketch (streaming solver), and the
** batch is merged into the running (n, mean, M2) with the pairwise update of
** Chan, Golub and LeVeque:
**     M2 = M2a + M2b + (na*nb/n) * delta delta^T,  delta = mean_b - mean_a.
** The same update merges two partial states.
*/
#include "pca.h"

#include <cblas.h>

#include "../common/lazy_blas.h"
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <strings.h>

void pca_opts_default(PcaOpts *o) {
  o->standardize = -1;
  o->solver = PCA_SOLVER_AUTO;
  o->memory_mb = PCA_DEFAULT_MEMORY_MB;
  o->sketch = 0;
  o->seed = 0;
}

static int opt_int(const char *zKey, const char *zType, const char *zText, long long lo, long long hi,
                   long long *out, char *err) {
  char *end;
  long long v;
  if (strcmp(zType, "integer") != 0)
    return imgpca_seterr(err, "option '%s' must be an integer, got %s", zKey, zType);
  v = strtoll(zText, &end, 10);
  if (*end || v < lo || v > hi)
    return imgpca_seterr(err, "option '%s' must be in [%lld, %lld], got %s", zKey, lo, hi, zText);
  *out = v;
  return IMGPCA_OK;
}

int pca_opts_set(PcaOpts *o, const char *zKey, const char *zType, const char *zText, char *err) {
  long long v;
  if (!zKey || !zType || !zText) return imgpca_seterr(err, "invalid options");
  if (strcmp(zKey, "standardize") == 0) {
    if (strcmp(zType, "true") == 0)
      o->standardize = 1;
    else if (strcmp(zType, "false") == 0)
      o->standardize = 0;
    else if (strcmp(zType, "integer") == 0 && (strcmp(zText, "0") == 0 || strcmp(zText, "1") == 0))
      o->standardize = zText[0] == '1';
    else
      return imgpca_seterr(err, "option 'standardize' must be true or false, got %s", zType);
  } else if (strcmp(zKey, "solver") == 0) {
    if (strcmp(zType, "text") != 0)
      return imgpca_seterr(err, "option 'solver' must be 'auto', 'exact', 'streaming' or 'randomized', got %s", zType);
    if (strcmp(zText, "auto") == 0)
      o->solver = PCA_SOLVER_AUTO;
    else if (strcmp(zText, "exact") == 0)
      o->solver = PCA_SOLVER_EXACT;
    else if (strcmp(zText, "streaming") == 0)
      o->solver = PCA_SOLVER_STREAMING;
    else if (strcmp(zText, "randomized") == 0)
      o->solver = PCA_SOLVER_RANDOMIZED;
    else
      return imgpca_seterr(err, "option 'solver' must be 'auto', 'exact', 'streaming' or 'randomized', got '%s'", zText);
  } else if (strcmp(zKey, "memory_mb") == 0) {
    if (opt_int(zKey, zType, zText, 1, 1LL << 30, &v, err)) return IMGPCA_ERROR;
    o->memory_mb = v;
  } else if (strcmp(zKey, "sketch") == 0) {
    if (opt_int(zKey, zType, zText, 2, PCA_MAX_SKETCH, &v, err)) return IMGPCA_ERROR;
    o->sketch = v;
  } else if (strcmp(zKey, "seed") == 0) {
    if (opt_int(zKey, zType, zText, -(1LL << 62), 1LL << 62, &v, err)) return IMGPCA_ERROR;
    o->seed = v;
  } else {
    return imgpca_seterr(err, "unknown option '%s' (expected standardize, solver, memory_mb, sketch, seed)",
                         zKey);
  }
  return IMGPCA_OK;
}

void pca_state_init(PcaState *s, const PcaOpts *o) {
  PcaOpts def;
  memset(s, 0, sizeof(*s));
  if (!o) {
    pca_opts_default(&def);
    o = &def;
  }
  s->standardize = o->standardize;
  s->solverReq = o->solver;
  s->memory_mb = o->memory_mb;
  s->seed = o->seed;
  s->ell = (size_t)o->sketch;
}

void pca_state_free(PcaState *s) {
  imgpca_free(s->mean);
  imgpca_free(s->m2diag);
  imgpca_free(s->m2);
  imgpca_free(s->sk);
  imgpca_free(s->batch);
  imgpca_free(s->work);
  imgpca_free(s->rows);
  s->mean = s->m2diag = s->m2 = s->sk = s->batch = s->work = NULL;
  s->rows = NULL;
  s->nRows = s->capRows = 0;
  s->kind = 0;
  s->n = 0;
  s->nb = s->skRows = 0;
}

/* Rows buffered per batch for dimension d. */
static size_t batch_rows(size_t d) {
  size_t r = (16u << 20) / (8 * d);
  if (r > 256) r = 256;
  if (r < 4) r = 4;
  return r;
}

/* Saturating helpers for the size estimate. */
static size_t sat_mul(size_t a, size_t b) {
  size_t r;
  return imgpca_mul_ok(a, b, &r) ? r : SIZE_MAX;
}
static size_t sat_add(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }

size_t pca_state_bytes(int kind, size_t d, size_t ell) {
  size_t b = sat_mul(sat_mul(8, d), batch_rows(d) + 4);
  if (kind == PCA_KIND_EXACT) {
    b = sat_add(b, sat_mul(sat_mul(8, d), d));
  } else {
    b = sat_add(b, sat_mul(sat_mul(16, ell), d));   /* sketch, 2l rows */
    b = sat_add(b, sat_mul(sat_mul(64, ell), ell)); /* Gram + eigenvectors */
  }
  return b;
}

int pca_state_alloc(PcaState *s, int kind, size_t d) {
  s->kind = kind;
  s->d = d;
  s->batchCap = batch_rows(d);
  s->mean = imgpca_calloc(d, sizeof(double));
  s->m2diag = imgpca_calloc(d, sizeof(double));
  s->work = imgpca_calloc(d, 2 * sizeof(double));
  s->batch = imgpca_calloc(s->batchCap, d * sizeof(double));
  if (kind == PCA_KIND_EXACT)
    s->m2 = imgpca_calloc(d, d * sizeof(double));
  else if (kind == PCA_KIND_STREAM)
    s->sk = imgpca_calloc(2 * s->ell, d * sizeof(double));
  if (!s->mean || !s->m2diag || !s->work || !s->batch ||
      (kind == PCA_KIND_EXACT ? !s->m2 : kind == PCA_KIND_STREAM ? !s->sk
                                                                 : 0)) {
    pca_state_free(s);
    return IMGPCA_NOMEM;
  }
  return IMGPCA_OK;
}

int pca_state_begin(PcaState *s, size_t d, char *err) {
  size_t budget = sat_mul((size_t)s->memory_mb, 1u << 20);
  int kind;
  if (d == 0 || d > PCA_MAX_DIMS) return imgpca_seterr(err, "invalid dimension %zu", d);
  if (imgpca_blas_load(err)) return IMGPCA_ERROR;
  if (s->solverReq == PCA_SOLVER_RANDOMIZED && sat_mul(sat_mul(4, d), 16) <= budget)
    return pca_state_alloc(s, PCA_KIND_RAND, d);
  if (s->solverReq == PCA_SOLVER_EXACT)
    kind = PCA_KIND_EXACT;
  else if (s->solverReq == PCA_SOLVER_STREAMING)
    kind = PCA_KIND_STREAM;
  else
    kind = pca_state_bytes(PCA_KIND_EXACT, d, 0) <= budget ? PCA_KIND_EXACT : PCA_KIND_STREAM;
  if (kind == PCA_KIND_STREAM) {
    if (s->ell == 0) {
      /* Default sketch: max(128, 4k) rows, halved while above the budget
      ** (never below max(16, k+1)). */
      size_t lmin = s->kHint + 1 > 16 ? s->kHint + 1 : 16;
      s->ell = PCA_DEFAULT_SKETCH;
      if (s->kHint && s->kHint * 4 > s->ell) s->ell = s->kHint * 4;
      if (s->ell > PCA_MAX_SKETCH) s->ell = PCA_MAX_SKETCH;
      while (s->ell > lmin && pca_state_bytes(PCA_KIND_STREAM, d, s->ell) > budget)
        s->ell = s->ell / 2 > lmin ? s->ell / 2 : lmin;
    }
    if (pca_state_bytes(PCA_KIND_STREAM, d, s->ell) > budget)
      return imgpca_seterr(err, "the streaming solver needs %zu MiB for d=%zu and sketch=%zu, above memory_mb=%lld",
                           pca_state_bytes(PCA_KIND_STREAM, d, s->ell) >> 20, d, s->ell, s->memory_mb);
  } else if (pca_state_bytes(PCA_KIND_EXACT, d, 0) > budget) {
    return imgpca_seterr(err, "the exact solver needs %zu MiB for d=%zu, above memory_mb=%lld (use solver 'streaming' or raise memory_mb)",
                         pca_state_bytes(PCA_KIND_EXACT, d, 0) >> 20, d, s->memory_mb);
  }
  return pca_state_alloc(s, kind, d);
}

/* Randomized solver: keeps a copy of each row as float32.  Beyond the memory
** budget the state turns into an exact (or streaming) one by replaying the
** kept rows, so a fit never fails for lack of memory. */
static int rand_fallback(PcaState *s, char *err) {
  PcaState t;
  PcaOpts o;
  size_t i;
  int rc;
  pca_opts_default(&o);
  o.standardize = s->standardize;
  o.solver = PCA_SOLVER_AUTO;
  o.memory_mb = s->memory_mb;
  o.seed = s->seed;
  o.sketch = (long long)s->ell;
  pca_state_init(&t, &o);
  t.kHint = s->kHint;
  t.xInterrupted = s->xInterrupted;
  t.pInterruptArg = s->pInterruptArg;
  rc = pca_state_begin(&t, s->d, err);
  for (i = 0; rc == IMGPCA_OK && i < s->nRows; i++) rc = pca_state_add_f32(&t, s->rows + i * s->d, err);
  if (rc) {
    pca_state_free(&t);
    return rc;
  }
  t.solverReq = PCA_SOLVER_RANDOMIZED; /* recorded as requested */
  pca_state_free(s);
  *s = t;
  return IMGPCA_OK;
}

static int rand_keep(PcaState *s, const double *row, char *err) {
  size_t budget = sat_mul((size_t)s->memory_mb, 1u << 20), j;
  float *r;
  if (sat_mul(sat_mul(s->nRows + 1, s->d), 4) > budget - budget / 8) {
    /* replay the kept rows, then this one (already in the old batch only) */
    float *tmp = imgpca_malloc(s->d * sizeof(float));
    int rc;
    if (!tmp) return IMGPCA_NOMEM;
    for (j = 0; j < s->d; j++) tmp[j] = (float)row[j];
    rc = rand_fallback(s, err);
    if (rc == IMGPCA_OK) rc = pca_state_add_f32(s, tmp, err);
    imgpca_free(tmp);
    return rc;
  }
  if (s->nRows == s->capRows) {
    size_t nNew = s->capRows ? s->capRows * 2 : 256;
    float *a = imgpca_realloc(s->rows, sat_mul(sat_mul(nNew, s->d), sizeof(float)));
    if (!a) return IMGPCA_NOMEM;
    s->rows = a;
    s->capRows = nNew;
  }
  r = s->rows + s->nRows * s->d;
  for (j = 0; j < s->d; j++) r[j] = (float)row[j];
  s->nRows++;
  return IMGPCA_OK;
}

int pca_state_add_f32le(PcaState *s, const unsigned char *blob, char *err) {
  double *row;
  size_t j;
  if (s->nb == s->batchCap) {
    int frc = pca_state_flush(s, err);
    if (frc) return frc;
  }
  row = s->batch + s->nb * s->d;
  for (j = 0; j < s->d; j++) {
    float f = imgpca_get_f32(blob + 4 * j);
    if (!isfinite(f)) return imgpca_seterr(err, "element %zu is %s", j, isnan(f) ? "NaN" : "infinite");
    row[j] = f;
  }
  s->nb++;
  return s->kind == PCA_KIND_RAND ? rand_keep(s, row, err) : IMGPCA_OK;
}

int pca_state_add_f32(PcaState *s, const float *v, char *err) {
  double *row;
  size_t j;
  if (s->nb == s->batchCap) {
    int frc = pca_state_flush(s, err);
    if (frc) return frc;
  }
  row = s->batch + s->nb * s->d;
  for (j = 0; j < s->d; j++) {
    if (!isfinite(v[j])) return imgpca_seterr(err, "element %zu is %s", j, isnan(v[j]) ? "NaN" : "infinite");
    row[j] = v[j];
  }
  s->nb++;
  return s->kind == PCA_KIND_RAND ? rand_keep(s, row, err) : IMGPCA_OK;
}

int pca_interrupted(const PcaState *s) { return s->xInterrupted && s->xInterrupted(s->pInterruptArg); }

int pca_state_flush(PcaState *s, char *err) {
  size_t d = s->d, nb = s->nb, i, j;
  double *mb = s->work, *delta = s->work + d, *X = s->batch;
  double nA = (double)s->n, nB = (double)nb, nT = nA + nB, c;
  int rc = IMGPCA_OK;
  if (nb == 0) return IMGPCA_OK;
  if (pca_interrupted(s)) return IMGPCA_INTERRUPT;
  memset(mb, 0, d * sizeof(double));
  for (i = 0; i < nb; i++)
    for (j = 0; j < d; j++) mb[j] += X[i * d + j];
  for (j = 0; j < d; j++) mb[j] /= nB;
  for (i = 0; i < nb; i++)
    for (j = 0; j < d; j++) X[i * d + j] -= mb[j];
  c = nA * nB / nT;
  for (j = 0; j < d; j++) delta[j] = mb[j] - s->mean[j];
  for (i = 0; i < nb; i++)
    for (j = 0; j < d; j++) s->m2diag[j] += X[i * d + j] * X[i * d + j];
  if (s->n > 0)
    for (j = 0; j < d; j++) s->m2diag[j] += c * delta[j] * delta[j];
  if (s->kind == PCA_KIND_EXACT) {
    rc = pca_exact_batch(s, X, nb, err);
  } else if (s->kind == PCA_KIND_STREAM) {
    for (i = 0; rc == IMGPCA_OK && i < nb; i++) {
      if (i % 16 == 0 && pca_interrupted(s)) return IMGPCA_INTERRUPT;
      rc = pca_stream_append(s, X + i * d, 1.0, err);
    }
  } /* randomized: the rows are kept, mean and diagonal suffice here */
  if (rc == IMGPCA_OK && s->n > 0) {
    if (s->kind == PCA_KIND_EXACT)
      rc = pca_exact_merge(s, NULL, delta, c, err);
    else if (s->kind == PCA_KIND_STREAM)
      rc = pca_stream_append(s, delta, sqrt(c), err);
  }
  if (rc) return rc;
  for (j = 0; j < d; j++) s->mean[j] += delta[j] * (nB / nT);
  s->n += nb;
  s->nb = 0;
  return IMGPCA_OK;
}

/* Deep copy of a flushed state into an empty one. */
static int state_copy(PcaState *a, const PcaState *b) {
  size_t d = b->d, nsk;
  PcaState t;
  memset(&t, 0, sizeof t);
  t = *b;
  t.mean = t.m2diag = t.m2 = t.sk = t.batch = t.work = NULL;
  t.nb = 0;
  t.mean = imgpca_malloc(d * sizeof(double));
  t.m2diag = imgpca_malloc(d * sizeof(double));
  t.work = imgpca_calloc(d, 2 * sizeof(double));
  t.batch = imgpca_calloc(t.batchCap, d * sizeof(double));
  if (b->kind == PCA_KIND_EXACT)
    t.m2 = imgpca_calloc(d, d * sizeof(double));
  else
    t.sk = imgpca_calloc(2 * t.ell, d * sizeof(double));
  if (!t.mean || !t.m2diag || !t.work || !t.batch || (b->kind == PCA_KIND_EXACT ? !t.m2 : !t.sk)) {
    pca_state_free(&t);
    return IMGPCA_NOMEM;
  }
  memcpy(t.mean, b->mean, d * sizeof(double));
  memcpy(t.m2diag, b->m2diag, d * sizeof(double));
  if (b->kind == PCA_KIND_EXACT)
    memcpy(t.m2, b->m2, d * d * sizeof(double));
  else {
    nsk = b->skRows;
    memcpy(t.sk, b->sk, nsk * d * sizeof(double));
  }
  /* keep the options of a that were set explicitly, and its interrupt hook */
  t.memory_mb = a->memory_mb ? a->memory_mb : b->memory_mb;
  t.xInterrupted = a->xInterrupted;
  t.pInterruptArg = a->pInterruptArg;
  pca_state_free(a);
  *a = t;
  return IMGPCA_OK;
}

int pca_state_merge(PcaState *a, PcaState *b, char *err) {
  size_t d, j;
  double nA, nB, nT, c;
  double *delta;
  int rc;
  if (b->kind == 0 || b->n + b->nb == 0) return IMGPCA_OK;
  if (a->kind == PCA_KIND_RAND || b->kind == PCA_KIND_RAND)
    return imgpca_seterr(err,
                         "the randomized solver fits in one process and has no partial states "
                         "(use solver 'exact' or 'streaming' with pca_partial/pca_merge)");
  if (imgpca_blas_load(err)) return IMGPCA_ERROR;
  {
    int frc = pca_state_flush(b, err);
    if (frc) return frc;
  }
  if (a->kind == 0) {
    int std = a->standardize;
    rc = state_copy(a, b);
    if (rc == IMGPCA_OK && std >= 0 && b->standardize >= 0 && std != b->standardize)
      return imgpca_seterr(err, "states differ in option 'standardize'");
    return rc;
  }
  {
    int frc = pca_state_flush(a, err);
    if (frc) return frc;
  }
  if (a->d != b->d)
    return imgpca_seterr(err, "states have different dimensions: %zu and %zu", a->d, b->d);
  if (a->kind != b->kind)
    return imgpca_seterr(err, "cannot merge an exact state with a streaming state");
  if (a->standardize >= 0 && b->standardize >= 0 && a->standardize != b->standardize)
    return imgpca_seterr(err, "states differ in option 'standardize'");
  if (a->standardize < 0) a->standardize = b->standardize;
  d = a->d;
  nA = (double)a->n;
  nB = (double)b->n;
  nT = nA + nB;
  c = nA * nB / nT;
  delta = a->work + d;
  for (j = 0; j < d; j++) delta[j] = b->mean[j] - a->mean[j];
  for (j = 0; j < d; j++) a->m2diag[j] += b->m2diag[j] + c * delta[j] * delta[j];
  if (a->kind == PCA_KIND_EXACT) {
    rc = pca_exact_merge(a, b, delta, c, err);
  } else {
    size_t i;
    rc = IMGPCA_OK;
    for (i = 0; rc == IMGPCA_OK && i < b->skRows; i++) {
      if (i % 16 == 0 && pca_interrupted(a)) return IMGPCA_INTERRUPT;
      rc = pca_stream_append(a, b->sk + i * d, 1.0, err);
    }
    if (rc == IMGPCA_OK) rc = pca_stream_append(a, delta, sqrt(c), err);
    a->shrink += b->shrink;
  }
  if (rc) return rc;
  for (j = 0; j < d; j++) a->mean[j] += delta[j] * (nB / nT);
  a->n += b->n;
  return IMGPCA_OK;
}

void pca_fix_sign(double *v, size_t d) {
  size_t j, best = 0;
  double bm = -1;
  for (j = 0; j < d; j++) {
    double a = fabs(v[j]);
    if (a > bm) {
      bm = a;
      best = j;
    }
  }
  if (d && v[best] < 0)
    for (j = 0; j < d; j++) v[j] = -v[j];
  /* avoid -0.0 so that equal models have equal bytes */
  for (j = 0; j < d; j++)
    if (v[j] == 0) v[j] = 0;
}

void pca_model_free(PcaModel *m) {
  imgpca_free(m->mean);
  imgpca_free(m->scale);
  imgpca_free(m->std);
  imgpca_free(m->eig);
  imgpca_free(m->comp);
  memset(m, 0, sizeof(*m));
}

/* The number of components to fit: *pk (0 when fraction chooses it during
** the solve) and its bound *pkmax = min(n - 1, d), lowered to the sketch's
** rank for a streaming state.  A randomized state whose k does not leave
** 10 columns of oversampling (kInt + 10 > kmax, a fraction, all components)
** falls back to the exact or streaming state first. */
static int fit_choose_k(PcaState *s, uint64_t n, long long kInt, double fraction, size_t *pk,
                        size_t *pkmax, char *err) {
  size_t d = s->d, kmax = (n - 1 < (uint64_t)d) ? (size_t)(n - 1) : d;
  int rc;
  *pk = 0;
  if (s->kind == PCA_KIND_RAND && !(kInt >= 1 && (size_t)kInt + 10 <= kmax)) {
    rc = rand_fallback(s, err);
    if (rc) return rc;
    rc = pca_state_flush(s, err);
    if (rc) return rc;
  }
  if (s->kind == PCA_KIND_STREAM) {
    size_t cap = s->skRows < s->ell ? s->skRows : s->ell;
    if (cap < kmax) kmax = cap;
  }
  *pkmax = kmax;
  if (kInt < 0) {
    *pk = kmax;
  } else if (kInt != 0) {
    if (kInt < 1) return imgpca_seterr(err, "k must be >= 1, got %lld", kInt);
    if ((unsigned long long)kInt > (unsigned long long)kmax) {
      size_t km = (n - 1 < (uint64_t)d) ? (size_t)(n - 1) : d;
      if ((unsigned long long)kInt <= (unsigned long long)km)
        return imgpca_seterr(err, "k=%lld exceeds the rank the streaming sketch can give (%zu); raise option 'sketch'",
                             kInt, kmax);
      return imgpca_seterr(err, "k must be at most min(n-1, d) = %zu (n=%llu, d=%zu), got %lld", km,
                           (unsigned long long)n, d, kInt);
    }
    *pk = (size_t)kInt;
  } else if (!(fraction > 0 && fraction < 1)) {
    return imgpca_seterr(err, "k fraction must be in (0,1), got %g", fraction);
  }
  return IMGPCA_OK;
}

/* Per-feature scale (1, or the standard deviation when std and the feature
** is not near-constant), its inverse and the standard deviation sd, each of
** s->d values, for the n rows of s; returns the total scaled variance times
** n. */
static double fit_scales(const PcaState *s, uint64_t nRows, int std, double *scale, double *inv,
                         double *sd) {
  size_t j, d = s->d;
  double n = (double)nRows, total = 0;
  for (j = 0; j < d; j++) {
    double var = s->m2diag[j] / n;
    scale[j] = 1;
    sd[j] = sqrt(var);
    if (std) {
      /* StandardScaler: near-constant features keep scale 1 */
      double ub = n * DBL_EPSILON * var + pow(n * s->mean[j] * DBL_EPSILON, 2);
      if (var > ub && var > 0) scale[j] = sqrt(var);
    }
    inv[j] = 1 / scale[j];
    total += s->m2diag[j] * inv[j] * inv[j];
  }
  return total;
}

/* The solver of the state's kind: the first *pk eigenvalues (sums of
** squares, not yet divided by n - 1) and components of the scaled scatter.
** Frees what the solver consumed (the exact scatter, the randomized rows). */
static int fit_solve(PcaState *s, int std, const double *inv, size_t kmax, double fraction, double total,
                     double **eig, double **comp, size_t *pk, char *err) {
  size_t i, j, d = s->d;
  int rc;
  if (s->kind == PCA_KIND_EXACT) {
    if (std) {
      for (i = 0; i < d; i++)
        for (j = i; j < d; j++) s->m2[i * d + j] *= inv[i] * inv[j];
    }
    rc = pca_exact_eigs(s->m2, d, *pk, kmax, fraction, total, eig, comp, pk, err);
    imgpca_free(s->m2);
    s->m2 = NULL;
  } else if (s->kind == PCA_KIND_RAND) {
    rc = pca_rand_eigs(s, inv, *pk, eig, comp, err);
    imgpca_free(s->rows);
    s->rows = NULL;
    s->nRows = s->capRows = 0;
  } else {
    rc = pca_stream_eigs(s, inv, *pk, kmax, fraction, total, eig, comp, pk, err);
  }
  return rc;
}

/* The model's scalar fields (all but the arrays) for k components fitted
** from the n rows of s; fraction is the requested variance fraction, 0 for a
** fixed k. */
static void fit_model_fields(PcaModel *m, const PcaState *s, uint64_t n, int std, size_t k,
                             const double *inv, double total, double fraction) {
  double nm1 = (double)(n - 1);
  size_t j;
  m->version = PCA_FORMAT_VERSION;
  m->standardize = std;
  m->streaming = s->kind == PCA_KIND_STREAM;
  m->randomized = s->kind == PCA_KIND_RAND;
  m->solverReq = s->solverReq;
  m->d = s->d;
  m->k = k;
  m->n = n;
  m->total_var = total / nm1;
  if (m->streaming) {
    double mx = 0;
    for (j = 0; j < s->d; j++)
      if (inv[j] * inv[j] > mx) mx = inv[j] * inv[j];
    m->err_bound = s->shrink * mx / nm1;
    m->sketch = s->ell;
  }
  m->memory_mb = s->memory_mb;
  m->seed = s->seed;
  m->fraction = fraction;
}

int pca_fit_state(PcaState *s, long long kInt, double fraction, int standardize, PcaModel *m,
                  char *err) {
  size_t d, j, k = 0, kmax = 0;
  uint64_t n;
  double total, nm1;
  double *scale = NULL, *inv = NULL, *eig = NULL, *comp = NULL, *sd = NULL;
  int rc, std;
  memset(m, 0, sizeof(*m));
  if (s->kind == 0) return imgpca_seterr(err, "need at least 2 rows, got 0");
  if (imgpca_blas_load(err)) return IMGPCA_ERROR;
  rc = pca_state_flush(s, err);
  if (rc) return rc;
  n = s->n;
  d = s->d;
  if (n < 2) return imgpca_seterr(err, "need at least 2 rows, got %llu", (unsigned long long)n);
  rc = fit_choose_k(s, n, kInt, fraction, &k, &kmax, err);
  if (rc) return rc;
  std = standardize >= 0 ? standardize : (s->standardize > 0);
  scale = imgpca_malloc(d * sizeof(double));
  inv = imgpca_malloc(d * sizeof(double));
  sd = imgpca_malloc(d * sizeof(double));
  if (!scale || !inv || !sd) {
    rc = IMGPCA_NOMEM;
    goto done;
  }
  total = fit_scales(s, n, std, scale, inv, sd);
  rc = fit_solve(s, std, inv, kmax, fraction, total, &eig, &comp, &k, err);
  if (rc) goto done;
  nm1 = (double)(n - 1);
  for (j = 0; j < k; j++) {
    eig[j] = eig[j] > 0 ? eig[j] / nm1 : 0;
    if (j > 0 && eig[j] > eig[j - 1]) eig[j] = eig[j - 1];
    pca_fix_sign(comp + j * d, d);
  }
  fit_model_fields(m, s, n, std, k, inv, total, kInt == 0 ? fraction : 0);
  m->mean = imgpca_malloc(d * sizeof(double));
  if (!m->mean) {
    rc = IMGPCA_NOMEM;
    goto done;
  }
  memcpy(m->mean, s->mean, d * sizeof(double));
  m->scale = scale;
  m->std = sd;
  m->eig = eig;
  m->comp = comp;
  scale = sd = NULL;
  eig = comp = NULL;
  rc = IMGPCA_OK;
done:
  imgpca_free(scale);
  imgpca_free(inv);
  imgpca_free(sd);
  imgpca_free(eig);
  imgpca_free(comp);
  if (rc) pca_model_free(m);
  return rc;
}

int pca_project(const PcaModel *m, const float *x, size_t k, int whiten, float *y, char *err) {
  size_t d = m->d, i, j;
  double *z, *acc;
  if (k < 1 || k > m->k) return imgpca_seterr(err, "k must be in [1, %zu], got %zu", m->k, k);
  z = imgpca_malloc((d + k) * sizeof(double));
  if (!z) return IMGPCA_NOMEM;
  acc = z + d;
  for (j = 0; j < d; j++) z[j] = ((double)x[j] - m->mean[j]) / m->scale[j];
  /* plain dot products in a fixed order (a threaded dgemv would change the
  ** last bits with OpenBLAS's thread count) */
  for (i = 0; i < k; i++) acc[i] = pca_dot(m->comp + i * d, z, d);
  for (i = 0; i < k; i++) {
    double a = acc[i];
    if (whiten) a = m->eig[i] > 0 ? a / sqrt(m->eig[i]) : 0;
    y[i] = (float)a;
    if (!isfinite(y[i])) {
      imgpca_free(z);
      return imgpca_seterr(err, "component %zu of the projection overflows float32", i + 1);
    }
  }
  imgpca_free(z);
  return IMGPCA_OK;
}

int pca_reconstruct(const PcaModel *m, const float *y, size_t k, int whiten, float *x, char *err) {
  size_t d = m->d, i, j;
  double *z;
  if (k < 1 || k > m->k)
    return imgpca_seterr(err, "projected vector has %zu dimensions, the model has k=%zu", k, m->k);
  z = imgpca_calloc(d, sizeof(double));
  if (!z) return IMGPCA_NOMEM;
  for (i = 0; i < k; i++) {
    const double *c = m->comp + i * d;
    double w = y[i];
    if (whiten) w *= sqrt(m->eig[i]);
    for (j = 0; j < d; j++) z[j] += w * c[j];
  }
  for (j = 0; j < d; j++) x[j] = (float)(z[j] * m->scale[j] + m->mean[j]);
  imgpca_free(z);
  for (j = 0; j < d; j++)
    if (!isfinite(x[j])) return imgpca_seterr(err, "element %zu of the reconstruction overflows float32", j);
  return IMGPCA_OK;
}
