/*
** PCA in SQL.  Vectors are float32 BLOBs (or JSON arrays); models and
** partial states are BLOBs in the formats of model.c (docs/PCA.md).
**
**   pca_fit(v [, k [, options]])     aggregate -> model BLOB.  k: integer >= 1,
**                                    or a fraction in (0,1) = smallest k whose
**                                    cumulative explained-variance ratio exceeds
**                                    it; NULL/omitted = min(n-1, d).  Rows may be
**                                    partial states instead of vectors (not both).
**   pca_partial(v [, options])       aggregate -> partial state BLOB (NULL if no rows)
**   pca_merge(state)                 aggregate -> merged partial state (NULL if none)
**   pca_project(model, v [, k [, whiten]])  -> float32 vector of k scores;
**                                    whiten: 0/1 or '{"whiten":true}'
**   pca_reconstruct(model, y [, whiten])    -> float32 vector in input space
**   pca_info(model)                  -> JSON object
**   pca_mean(model), pca_std(model)  -> float32 vectors (std: population, ddof=0)
**   pca_components(model)            table: components_sql.c
**   SELECT key, pc FROM pca_project_rows(model, query_sql)  -> the rows
**                                    (key, vector) of query_sql projected in
**                                    batches (see the section at the end)
** options (JSON object, parsed with JSON1): standardize (bool), solver
** ('auto'|'exact'|'streaming'|'randomized'), memory_mb (int, default 1024), sketch
** (int, Frequent Directions rows), seed (int, recorded).  Unknown keys are
** errors.  NULL rows are skipped; NULL model/vector -> NULL.
*/
#include "pca_sql.h"
#include "../vector/vector_sql.h"


#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* ---- options --------------------------------------------------------- */

static int pca_opt_any(void *pArg, sqlite3 *db, const char *zKey, const char *zType, const char *zText,
                       sqlite3_value *pValue, char *err) {
  return pca_opts_set((PcaOpts *)pArg, zKey, zType, zText ? zText : "", err);
}

static int pca_opt_whiten(void *pArg, sqlite3 *db, const char *zKey, const char *zType, const char *zText,
                          sqlite3_value *pValue, char *err) {
  if (strcmp(zType, "true") && strcmp(zType, "false"))
    return imgpca_seterr(err, "option 'whiten' must be true or false, got %s", zType);
  *(int *)pArg = zType[0] == 't';
  return IMGPCA_OK;
}

/* Options of the aggregates (every key goes to pca_opts_set, which knows
** them) or, with pWhiten, of pca_project ("whiten" only). */
static int parse_options(sqlite3_context *ctx, const char *zFunc, sqlite3_value *v, PcaOpts *o,
                         int *pWhiten) {
  static const ImgpcaOption aAgg[] = {{"*", pca_opt_any}, {NULL, NULL}};
  static const ImgpcaOption aProject[] = {{"whiten", pca_opt_whiten}, {NULL, NULL}};
  if (pWhiten) return imgpca_json_options(ctx, zFunc, v, aProject, pWhiten);
  return imgpca_json_options(ctx, zFunc, v, aAgg, o);
}

/* ---- aggregates ------------------------------------------------------ */

/* What the rows of one aggregate are: they may not mix. */
typedef enum PcaAggInput { PCA_INPUT_NONE,
                           PCA_INPUT_VECTORS,
                           PCA_INPUT_STATES } PcaAggInput;

typedef struct PcaAgg {
  PcaState *st;
  int started;       /* arguments parsed */
  int failed;        /* an error was reported: do nothing more */
  PcaAggInput input; /* rows seen so far: vectors or partial states */
  long long row;     /* rows seen (1-based numbering in messages) */
  long long kInt;    /* -1 all, 0 fraction, else k */
  double frac;
  PcaOpts opts;
} PcaAgg;

/* Long merges and batches poll the connection's interrupt flag. */
static int agg_interrupted(void *pDb) { return imgpca_interrupted((sqlite3 *)pDb); }

static void agg_hook(sqlite3_context *ctx, PcaAgg *a) {
  a->st->xInterrupted = agg_interrupted;
  a->st->pInterruptArg = sqlite3_context_db_handle(ctx);
}

/* The budget of an aggregate: option memory_mb (default 1024), bounded by
** the connection setting pca.max_memory_mb -- SQL of a schema (a view) can
** choose the option but not the setting.  An explicit option above the
** setting is an error; the default is lowered to it.  Returns 0, or 1 after
** setting the error. */
static int agg_budget(sqlite3_context *ctx, const char *zFunc, PcaAgg *a) {
  ImgpcaConn *conn = (ImgpcaConn *)sqlite3_user_data(ctx);
  long long mx = imgpca_config_int(&conn->cfg, "pca.max_memory_mb");
  if (mx < 1 || a->opts.memory_mb <= mx) return 0;
  if (a->opts.memory_mb == PCA_DEFAULT_MEMORY_MB) {
    a->opts.memory_mb = mx;
    return 0;
  }
  imgpca_result_error(ctx, zFunc, "option memory_mb=%lld is above the setting pca.max_memory_mb=%lld",
                      a->opts.memory_mb, mx);
  return 1;
}

static void agg_fail(PcaAgg *a) {
  a->failed = 1;
  if (a->st) {
    pca_state_free(a->st);
    imgpca_free(a->st);
    a->st = NULL;
  }
}

static void agg_core_error(sqlite3_context *ctx, PcaAgg *a, const char *zFunc, int rc, const char *err) {
  imgpca_result_core(ctx, zFunc, rc, err);
  agg_fail(a);
}

/* Reads k (NULL -> all). */
static int parse_k(sqlite3_context *ctx, const char *zFunc, sqlite3_value *v, PcaAgg *a) {
  double x;
  a->kInt = -1;
  switch (sqlite3_value_type(v)) {
    case SQLITE_NULL:
      return 0;
    case SQLITE_INTEGER: {
      sqlite3_int64 k = sqlite3_value_int64(v);
      if (k < 1) {
        imgpca_result_error(ctx, zFunc, "k must be >= 1 or a fraction in (0,1), got %lld", (long long)k);
        return 1;
      }
      a->kInt = k;
      return 0;
    }
    case SQLITE_FLOAT:
      x = sqlite3_value_double(v);
      if (x > 0 && x < 1) {
        a->kInt = 0;
        a->frac = x;
        return 0;
      }
      if (x >= 1 && x <= 9e15 && x == floor(x)) {
        a->kInt = (long long)x;
        return 0;
      }
      imgpca_result_error(ctx, zFunc, "k must be an integer >= 1 or a fraction in (0,1), got %g", x);
      return 1;
    default:
      imgpca_result_error(ctx, zFunc, "k must be an integer >= 1 or a fraction in (0,1), got %s",
                          imgpca_type_name(v));
      return 1;
  }
}

static PcaAgg *agg_get(sqlite3_context *ctx) {
  PcaAgg *a = sqlite3_aggregate_context(ctx, sizeof(PcaAgg));
  if (!a) {
    sqlite3_result_error_nomem(ctx);
    return NULL;
  }
  if (!a->st && !a->failed && !a->started) {
    a->st = imgpca_malloc(sizeof(PcaState));
    if (!a->st) {
      sqlite3_result_error_nomem(ctx);
      a->failed = 1;
      return NULL;
    }
    pca_opts_default(&a->opts);
    pca_state_init(a->st, NULL);
    agg_hook(ctx, a);
  }
  return a;
}

/* Adds a partial-state row. */
static void agg_add_state(sqlite3_context *ctx, const char *zFunc, PcaAgg *a, const void *p, int n) {
  char err[IMGPCA_ERRMAX];
  PcaState tmp;
  /* the caller's budget (option memory_mb or its default), not the blob's */
  int rc = pca_state_load(p, (size_t)n, a->opts.memory_mb, &tmp, err);
  if (rc) {
    if (rc == IMGPCA_ERROR) {
      imgpca_result_error(ctx, zFunc, "row %lld: invalid partial state: %s", a->row, err);
      agg_fail(a);
    } else {
      agg_core_error(ctx, a, zFunc, rc, err);
    }
    return;
  }
  rc = pca_state_merge(a->st, &tmp, err);
  pca_state_free(&tmp);
  if (rc == IMGPCA_ERROR) {
    imgpca_result_error(ctx, zFunc, "row %lld: %s", a->row, err);
    agg_fail(a);
  } else if (rc) {
    agg_core_error(ctx, a, zFunc, rc, err);
  }
}

/* Adds a vector (BLOB or JSON TEXT) row. */
static void agg_add_vector(sqlite3_context *ctx, const char *zFunc, PcaAgg *a, sqlite3_value *v) {
  char err[IMGPCA_ERRMAX];
  int rc;
  size_t d;
  FvecArg fa;
  const unsigned char *blob = NULL;
  memset(&fa, 0, sizeof fa);
  if (sqlite3_value_type(v) == SQLITE_BLOB) {
    int nb = sqlite3_value_bytes(v);
    blob = sqlite3_value_blob(v);
    if (nb <= 0 || nb % 4) {
      imgpca_result_error(ctx, zFunc, "row %lld is not a float32 vector: blob of %d bytes (length not a multiple of 4)",
                          a->row, nb);
      agg_fail(a);
      return;
    }
    d = (size_t)nb / 4;
  } else {
    char zWhat[48];
    snprintf(zWhat, sizeof zWhat, "at row %lld", a->row);
    if (fvec_arg(ctx, zFunc, zWhat, v, &fa)) {
      agg_fail(a);
      return;
    }
    d = fa.n;
  }
  if (a->st->kind == 0) {
    rc = pca_state_begin(a->st, d, err);
    if (rc) {
      fvec_arg_free(&fa);
      agg_core_error(ctx, a, zFunc, rc, err);
      return;
    }
  } else if (d != a->st->d) {
    fvec_arg_free(&fa);
    imgpca_result_error(ctx, zFunc, "row %lld has %llu dimensions, expected %llu like the first row", a->row, (unsigned long long)d,
                        (unsigned long long)a->st->d);
    agg_fail(a);
    return;
  }
  rc = blob ? pca_state_add_f32le(a->st, blob, err) : pca_state_add_f32(a->st, fa.v, err);
  fvec_arg_free(&fa);
  if (rc == IMGPCA_ERROR) {
    imgpca_result_error(ctx, zFunc, "row %lld: %s", a->row, err);
    agg_fail(a);
  } else if (rc) {
    agg_core_error(ctx, a, zFunc, rc, err);
  }
}

/* One row of pca_fit / pca_partial / pca_merge. */
static void agg_row(sqlite3_context *ctx, const char *zFunc, PcaAgg *a, sqlite3_value *v, int statesOnly) {
  int t = sqlite3_value_type(v);
  a->row++;
  if (t == SQLITE_NULL) return;
  if (t == SQLITE_BLOB) {
    const void *p = sqlite3_value_blob(v);
    int n = sqlite3_value_bytes(v);
    if (pca_blob_is_state(p, (size_t)n)) {
      if (a->input == PCA_INPUT_VECTORS) {
        imgpca_result_error(ctx, zFunc, "cannot mix vectors and partial states (row %lld is a state)", a->row);
        agg_fail(a);
        return;
      }
      a->input = PCA_INPUT_STATES;
      agg_add_state(ctx, zFunc, a, p, n);
      return;
    }
    if (pca_blob_is_model(p, (size_t)n)) {
      imgpca_result_error(ctx, zFunc, "row %lld is a pca model, expected %s", a->row,
                          statesOnly ? "a partial state" : "a vector or a partial state");
      agg_fail(a);
      return;
    }
  }
  if (statesOnly) {
    imgpca_result_error(ctx, zFunc, "row %lld is not a partial state (from pca_partial or pca_merge), got %s",
                        a->row, t == SQLITE_BLOB ? "a blob without the state header" : imgpca_type_name(v));
    agg_fail(a);
    return;
  }
  if (a->input == PCA_INPUT_STATES) {
    imgpca_result_error(ctx, zFunc, "cannot mix vectors and partial states (row %lld is a vector)", a->row);
    agg_fail(a);
    return;
  }
  if (t != SQLITE_BLOB && t != SQLITE_TEXT) {
    imgpca_result_error(ctx, zFunc, "row %lld is not a vector: expected a float32 blob or a JSON array, got %s",
                        a->row, imgpca_type_name(v));
    agg_fail(a);
    return;
  }
  a->input = PCA_INPUT_VECTORS;
  agg_add_vector(ctx, zFunc, a, v);
}

static void agg_release(PcaAgg *a) {
  if (a && a->st) {
    pca_state_free(a->st);
    imgpca_free(a->st);
    a->st = NULL;
  }
}

static void pca_fit_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  PcaAgg *a = agg_get(ctx);
  if (!a || a->failed) return;
  if (!a->started) {
    a->started = 1;
    a->kInt = -1;
    if (argc >= 2 && parse_k(ctx, "pca_fit", argv[1], a)) {
      agg_fail(a);
      return;
    }
    if ((argc >= 3 && parse_options(ctx, "pca_fit", argv[2], &a->opts, NULL)) || agg_budget(ctx, "pca_fit", a)) {
      agg_fail(a);
      return;
    }
    pca_state_init(a->st, &a->opts);
    agg_hook(ctx, a);
    if (a->kInt > 0) a->st->kHint = a->kInt > PCA_MAX_SKETCH ? PCA_MAX_SKETCH : (size_t)a->kInt;
  }
  agg_row(ctx, "pca_fit", a, argv[0], 0);
}

static void pca_fit_final(sqlite3_context *ctx) {
  PcaAgg *a = sqlite3_aggregate_context(ctx, 0);
  char err[IMGPCA_ERRMAX];
  PcaModel m;
  unsigned char *blob;
  size_t nb;
  int rc;
  if (!a) {
    imgpca_result_error(ctx, "pca_fit", "need at least 2 rows, got 0");
    return;
  }
  if (a->failed || !a->st) {
    agg_release(a);
    return;
  }
  rc = pca_fit_state(a->st, a->kInt, a->frac, a->opts.standardize, &m, err);
  agg_release(a);
  if (rc) {
    imgpca_result_core(ctx, "pca_fit", rc, err);
    return;
  }
  rc = pca_model_save(&m, &blob, &nb, err);
  pca_model_free(&m);
  if (rc) {
    imgpca_result_core(ctx, "pca_fit", rc, err);
    return;
  }
  if (nb > (size_t)sqlite3_limit(sqlite3_context_db_handle(ctx), SQLITE_LIMIT_LENGTH, -1)) {
    imgpca_free(blob);
    imgpca_result_error(ctx, "pca_fit", "model of %llu bytes exceeds SQLite's blob size limit (lower k)", (unsigned long long)nb);
    return;
  }
  imgpca_result_owned_blob(ctx, blob, nb);
}

static void state_result(sqlite3_context *ctx, const char *zFunc, PcaAgg *a) {
  char err[IMGPCA_ERRMAX];
  unsigned char *blob;
  size_t nb;
  int rc;
  if (!a || a->failed || !a->st || a->st->kind == 0) {
    agg_release(a);
    sqlite3_result_null(ctx);
    return;
  }
  rc = pca_state_save(a->st, &blob, &nb, err);
  agg_release(a);
  if (rc) {
    imgpca_result_core(ctx, zFunc, rc, err);
    return;
  }
  if (nb > (size_t)sqlite3_limit(sqlite3_context_db_handle(ctx), SQLITE_LIMIT_LENGTH, -1)) {
    imgpca_free(blob);
    imgpca_result_error(ctx, zFunc,
                        "state of %llu bytes exceeds SQLite's blob size limit (use solver 'streaming' for this d)", (unsigned long long)nb);
    return;
  }
  imgpca_result_owned_blob(ctx, blob, nb);
}

static void pca_partial_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  PcaAgg *a = agg_get(ctx);
  if (!a || a->failed) return;
  if (!a->started) {
    a->started = 1;
    if ((argc >= 2 && parse_options(ctx, "pca_partial", argv[1], &a->opts, NULL)) ||
        agg_budget(ctx, "pca_partial", a)) {
      agg_fail(a);
      return;
    }
    pca_state_init(a->st, &a->opts);
    agg_hook(ctx, a);
  }
  if (sqlite3_value_type(argv[0]) == SQLITE_BLOB &&
      pca_blob_is_state(sqlite3_value_blob(argv[0]), (size_t)sqlite3_value_bytes(argv[0]))) {
    a->row++;
    imgpca_result_error(ctx, "pca_partial", "row %lld is a partial state: merge states with pca_merge", a->row);
    agg_fail(a);
    return;
  }
  agg_row(ctx, "pca_partial", a, argv[0], 0);
}

static void pca_partial_final(sqlite3_context *ctx) {
  state_result(ctx, "pca_partial", sqlite3_aggregate_context(ctx, 0));
}

static void pca_merge_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  PcaAgg *a = agg_get(ctx);
  (void)argc;
  if (!a || a->failed) return;
  if (!a->started) {
    a->started = 1;
    if (agg_budget(ctx, "pca_merge", a)) {
      agg_fail(a);
      return;
    }
    a->st->memory_mb = a->opts.memory_mb;
  }
  agg_row(ctx, "pca_merge", a, argv[0], 1);
}

static void pca_merge_final(sqlite3_context *ctx) {
  state_result(ctx, "pca_merge", sqlite3_aggregate_context(ctx, 0));
}

/* ---- model functions ------------------------------------------------- */

/* A parsed model, reference counted: held by the caller of model_arg(), by
** the statement's auxdata and by the connection's one-entry cache
** (the module's slot of the connection state), which keeps a copy of the bytes it was parsed from.
** A model argument that is not constant (a column, a subquery) thus is
** checksummed and validated once while its bytes stay the same: a hit needs
** the same length and identical bytes (memcmp of the whole blob). */
typedef struct PcaModelRef {
  int nRef;
  PcaModel m;
  unsigned char *pBlob; /* copy of the model blob (cache key), or NULL */
  size_t nBlob;
} PcaModelRef;

static void model_unref(void *p) {
  PcaModelRef *r = (PcaModelRef *)p;
  if (r && --r->nRef == 0) {
    pca_model_free(&r->m);
    imgpca_free(r->pBlob);
    imgpca_free(r);
  }
}

/* Loads the model argument: from the statement's auxdata when the argument
** is constant (*pCached = 1), else from the connection's cache or by parsing
** (*pCached = 0; the caller holds a reference, handed to model_done()).
** Returns NULL with the result set (error, or NULL for a NULL model). */
static PcaModel *model_arg(sqlite3_context *ctx, const char *zFunc, sqlite3_value **argv, int *pCached) {
  char err[IMGPCA_ERRMAX];
  PcaModelRef *r = sqlite3_get_auxdata(ctx, 0);
  ImgpcaConn *conn = (ImgpcaConn *)sqlite3_user_data(ctx);
  void **pSlot;
  const unsigned char *pBlob;
  size_t nBlob;
  int rc;
  *pCached = 0;
  if (r) {
    *pCached = 1;
    return &r->m;
  }
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
    sqlite3_result_null(ctx);
    return NULL;
  }
  if (sqlite3_value_type(argv[0]) != SQLITE_BLOB) {
    imgpca_result_error(ctx, zFunc, "model must be a pca model blob (from pca_fit), got %s",
                        imgpca_type_name(argv[0]));
    return NULL;
  }
  pBlob = sqlite3_value_blob(argv[0]);
  nBlob = (size_t)sqlite3_value_bytes(argv[0]);
  if (!pBlob && nBlob) {
    sqlite3_result_error_nomem(ctx);
    return NULL;
  }
  pSlot = imgpca_conn_state(conn, &imgpca_module_pca);
  r = (PcaModelRef *)*pSlot;
  if (r && r->nBlob == nBlob && (nBlob == 0 || memcmp(r->pBlob, pBlob, nBlob) == 0)) {
    r->nRef++;
    return &r->m;
  }
  r = imgpca_calloc(1, sizeof(PcaModelRef));
  if (!r) {
    sqlite3_result_error_nomem(ctx);
    return NULL;
  }
  r->nRef = 1;
  rc = pca_model_load(pBlob, nBlob, &r->m, err);
  if (rc) {
    imgpca_free(r);
    if (rc == IMGPCA_NOMEM)
      sqlite3_result_error_nomem(ctx);
    else
      imgpca_result_error(ctx, zFunc, "invalid model: %s", err);
    return NULL;
  }
  /* Remember it on the connection (without memory for the copy, the model
  ** is still used for this call, just not cached). */
  if (nBlob > 0 && (r->pBlob = imgpca_malloc(nBlob)) != NULL) {
    memcpy(r->pBlob, pBlob, nBlob);
    r->nBlob = nBlob;
    r->nRef++;
    if (*pSlot) model_unref(*pSlot);
    *pSlot = r;
  }
  return &r->m;
}

/* Releases the reference from model_arg(): a model that was not cached as
** auxdata is offered to the statement (SQLite keeps it while the argument is
** constant and releases it otherwise). */
static void model_done(sqlite3_context *ctx, PcaModel *m, int cached) {
  if (!cached) {
    PcaModelRef *r = (PcaModelRef *)((char *)m - offsetof(PcaModelRef, m));
    sqlite3_set_auxdata(ctx, 0, r, model_unref);
  }
}

/* whiten argument: integer 0/1 or JSON '{"whiten":bool}'. */
static int whiten_arg(sqlite3_context *ctx, const char *zFunc, sqlite3_value *v, int *pW) {
  *pW = 0;
  switch (sqlite3_value_type(v)) {
    case SQLITE_NULL:
      return 0;
    case SQLITE_INTEGER:
      if (sqlite3_value_int64(v) == 0 || sqlite3_value_int64(v) == 1) {
        *pW = sqlite3_value_int(v);
        return 0;
      }
      break;
    case SQLITE_TEXT:
      return parse_options(ctx, zFunc, v, NULL, pW);
    default:
      break;
  }
  imgpca_result_error(ctx, zFunc, "whiten must be 0, 1 or '{\"whiten\":true}', got %s", imgpca_type_name(v));
  return 1;
}

static void pca_project_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  char err[IMGPCA_ERRMAX];
  PcaModel *m;
  FvecArg x;
  float *y;
  size_t k;
  int cached, whiten = 0, rc;
  if (sqlite3_value_type(argv[1]) == SQLITE_NULL) return;
  m = model_arg(ctx, "pca_project", argv, &cached);
  if (!m) return;
  k = m->k;
  if (argc >= 3 && sqlite3_value_type(argv[2]) != SQLITE_NULL) {
    sqlite3_int64 kk = sqlite3_value_int64(argv[2]);
    if (sqlite3_value_type(argv[2]) != SQLITE_INTEGER || kk < 1 || (sqlite3_uint64)kk > m->k) {
      imgpca_result_error(ctx, "pca_project", "k must be an integer in [1, %llu], got '%s'", (unsigned long long)m->k,
                          sqlite3_value_text(argv[2]) ? (const char *)sqlite3_value_text(argv[2]) : "");
      model_done(ctx, m, cached);
      return;
    }
    k = (size_t)kk;
  }
  if (argc >= 4 && whiten_arg(ctx, "pca_project", argv[3], &whiten)) {
    model_done(ctx, m, cached);
    return;
  }
  if (fvec_arg(ctx, "pca_project", "argument", argv[1], &x)) {
    model_done(ctx, m, cached);
    return;
  }
  if (x.n != m->d) {
    imgpca_result_error(ctx, "pca_project", "vector has %llu dimensions, the model expects %llu", (unsigned long long)x.n,
                        (unsigned long long)m->d);
  } else if (!(y = imgpca_malloc(k * sizeof(float)))) {
    sqlite3_result_error_nomem(ctx);
  } else {
    rc = pca_project(m, x.v, k, whiten, y, err);
    if (rc)
      imgpca_result_core(ctx, "pca_project", rc, err);
    else
      fvec_result(ctx, y, k);
    imgpca_free(y);
  }
  fvec_arg_free(&x);
  model_done(ctx, m, cached);
}

static void pca_reconstruct_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  char err[IMGPCA_ERRMAX];
  PcaModel *m;
  FvecArg y;
  float *x;
  int cached, whiten = 0, rc;
  if (sqlite3_value_type(argv[1]) == SQLITE_NULL) return;
  m = model_arg(ctx, "pca_reconstruct", argv, &cached);
  if (!m) return;
  if (argc >= 3 && whiten_arg(ctx, "pca_reconstruct", argv[2], &whiten)) {
    model_done(ctx, m, cached);
    return;
  }
  if (fvec_arg(ctx, "pca_reconstruct", "argument", argv[1], &y)) {
    model_done(ctx, m, cached);
    return;
  }
  if (y.n > m->k) {
    imgpca_result_error(ctx, "pca_reconstruct", "projected vector has %llu dimensions, the model has k=%llu",
                        (unsigned long long)y.n, (unsigned long long)m->k);
  } else if (!(x = imgpca_malloc(m->d * sizeof(float)))) {
    sqlite3_result_error_nomem(ctx);
  } else {
    rc = pca_reconstruct(m, y.v, y.n, whiten, x, err);
    if (rc)
      imgpca_result_core(ctx, "pca_reconstruct", rc, err);
    else
      fvec_result(ctx, x, m->d);
    imgpca_free(x);
  }
  fvec_arg_free(&y);
  model_done(ctx, m, cached);
}

static const char *solver_name(int s) {
  return s == PCA_SOLVER_EXACT ? "exact" : s == PCA_SOLVER_STREAMING ? "streaming"
      : s == PCA_SOLVER_RANDOMIZED                                   ? "randomized"
                                                                     : "auto";
}

static void json_doubles(ImgpcaBuf *b, const double *v, size_t n, double div, int cumulative) {
  size_t i;
  double cum = 0;
  imgpca_buf_append(b, "[", 1);
  for (i = 0; i < n; i++) {
    double x = v[i] / div;
    cum += x;
    imgpca_buf_printf(b, "%s%.17g", i ? "," : "", cumulative ? cum : x);
  }
  imgpca_buf_append(b, "]", 1);
}

static void pca_info_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  PcaModel *m;
  ImgpcaBuf b;
  int cached;
  double tv;
  (void)argc;
  m = model_arg(ctx, "pca_info", argv, &cached);
  if (!m) return;
  tv = m->total_var > 0 ? m->total_var : 1;
  imgpca_buf_init(&b);
  imgpca_buf_printf(&b, "{\"format_version\":%u,\"n\":%llu,\"d\":%zu,\"k\":%zu,\"solver\":\"%s\",",
                    m->version, (unsigned long long)m->n, m->d, m->k,
                    m->streaming ? "streaming" : m->randomized ? "randomized"
                                                               : "exact");
  imgpca_buf_printf(&b, "\"standardize\":%s,\"total_variance\":%.17g,\"error_bound\":%.17g,",
                    m->standardize ? "true" : "false", m->total_var, m->err_bound);
  imgpca_buf_printf(&b, "\"explained_variance\":");
  json_doubles(&b, m->eig, m->k, 1, 0);
  imgpca_buf_printf(&b, ",\"ratio\":");
  json_doubles(&b, m->eig, m->k, tv, 0);
  imgpca_buf_printf(&b, ",\"cumulative\":");
  json_doubles(&b, m->eig, m->k, tv, 1);
  imgpca_buf_printf(&b, ",\"options\":{\"k\":");
  if (m->fraction > 0)
    imgpca_buf_printf(&b, "%.17g", m->fraction);
  else
    imgpca_buf_printf(&b, "%zu", m->k);
  imgpca_buf_printf(&b, ",\"standardize\":%s,\"solver\":\"%s\",\"memory_mb\":%lld,\"sketch\":%llu,\"seed\":%lld}}",
                    m->standardize ? "true" : "false", solver_name(m->solverReq), m->memory_mb,
                    (unsigned long long)m->sketch, m->seed);
  model_done(ctx, m, cached);
  imgpca_result_buf_text(ctx, &b);
}

static void model_vector(sqlite3_context *ctx, const char *zFunc, sqlite3_value **argv, int which) {
  PcaModel *m;
  int cached;
  unsigned char *p;
  m = model_arg(ctx, zFunc, argv, &cached);
  if (!m) return;
  p = fvec_blob_from_double(which ? m->std : m->mean, m->d);
  if (!p)
    sqlite3_result_error_nomem(ctx);
  else
    imgpca_result_owned_blob(ctx, p, m->d * 4);
  model_done(ctx, m, cached);
}

static void pca_mean_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  model_vector(ctx, "pca_mean", argv, 0);
}
static void pca_std_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  model_vector(ctx, "pca_std", argv, 1);
}

/* ---- pca_project_rows(model, query_sql): table-valued ------------------
** Runs query_sql (one read-only statement whose first column is any key and
** whose second is a float32 vector BLOB of the model's dimension, or NULL)
** and returns one row (key, pc) per query row, in the query's order; pc is
** the projection on every component (NULL for a NULL vector).  Rows are
** projected in chunks through fixed-shape BLAS tiles on imgpca.threads
** threads (detblas.c): same bytes for any thread count.  The model is parsed
** once per scan.  SQLITE_DIRECTONLY: it runs SQL text. */

#define PPR_KEY 0
#define PPR_PC 1
#define PPR_MODEL 2
#define PPR_QUERY 3

typedef struct PprVtab {
  sqlite3_vtab base;
  ImgpcaConn *conn;
} PprVtab;

typedef struct PprCursor {
  sqlite3_vtab_cursor base;
  PcaModel m;
  int loaded, done;
  sqlite3_stmt *st;
  size_t cap, n, i;      /* rows in the chunk, current row */
  sqlite3_value **aKey;  /* n keys */
  unsigned char *aValid; /* n flags: vector not NULL */
  float *X, *Y;          /* cap x d, cap x k */
  double *compPad;       /* the components, zero-padded for the tiles */
  sqlite3_int64 rowid;
} PprCursor;

static int ppr_connect(sqlite3 *db, void *pAux, int argc, const char *const *argv, sqlite3_vtab **ppVtab,
                       char **pzErr) {
  PprVtab *v;
  int rc;
  rc = sqlite3_declare_vtab(db, "CREATE TABLE x(key, pc BLOB, model HIDDEN, query HIDDEN)");
  if (rc != SQLITE_OK) return rc;
  v = sqlite3_malloc(sizeof(*v));
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof(*v));
  v->conn = (ImgpcaConn *)pAux;
  sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  *ppVtab = &v->base;
  return SQLITE_OK;
}

static int ppr_disconnect(sqlite3_vtab *v) {
  sqlite3_free(v);
  return SQLITE_OK;
}

static int ppr_open(sqlite3_vtab *v, sqlite3_vtab_cursor **pp) {
  PprCursor *c = sqlite3_malloc(sizeof(*c));
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof(*c));
  *pp = &c->base;
  return SQLITE_OK;
}

static void ppr_clear_chunk(PprCursor *c) {
  size_t i;
  for (i = 0; i < c->n; i++) sqlite3_value_free(c->aKey[i]);
  c->n = c->i = 0;
}

static void ppr_reset(PprCursor *c) {
  ppr_clear_chunk(c);
  sqlite3_finalize(c->st);
  c->st = NULL;
  pca_model_free(&c->m);
  imgpca_free(c->aKey);
  imgpca_free(c->aValid);
  imgpca_free(c->X);
  imgpca_free(c->Y);
  imgpca_free(c->compPad);
  c->compPad = NULL;
  c->aKey = NULL;
  c->aValid = NULL;
  c->X = c->Y = NULL;
  c->loaded = c->done = 0;
  c->cap = 0;
  c->rowid = 0;
}

static int ppr_close(sqlite3_vtab_cursor *cur) {
  ppr_reset((PprCursor *)cur);
  sqlite3_free(cur);
  return SQLITE_OK;
}

static int ppr_error(sqlite3_vtab_cursor *cur, const char *zFmt, ...) {
  va_list ap;
  va_start(ap, zFmt);
  sqlite3_free(cur->pVtab->zErrMsg);
  cur->pVtab->zErrMsg = sqlite3_vmprintf(zFmt, ap);
  va_end(ap);
  return SQLITE_ERROR;
}

/* Reads and projects the next chunk of query rows (c->n = 0 at the end). */
static int ppr_fill(PprCursor *c) {
  PprVtab *vt = (PprVtab *)c->base.pVtab;
  char err[IMGPCA_ERRMAX];
  size_t d = c->m.d, k = c->m.k, nv = 0, i;
  int rc, nThreads;
  ppr_clear_chunk(c);
  while (!c->done && c->n < c->cap) {
    sqlite3_value *pv;
    rc = sqlite3_step(c->st);
    if (rc == SQLITE_DONE) {
      c->done = 1;
      break;
    }
    if (rc != SQLITE_ROW) {
      sqlite3 *db = sqlite3_db_handle(c->st);
      if (rc == SQLITE_NOMEM) return SQLITE_NOMEM;
      return ppr_error(&c->base, "pca_project_rows: query failed: %s", sqlite3_errmsg(db));
    }
    c->aKey[c->n] = sqlite3_value_dup(sqlite3_column_value(c->st, 0));
    if (!c->aKey[c->n]) return SQLITE_NOMEM;
    c->n++;
    pv = sqlite3_column_value(c->st, 1);
    c->aValid[c->n - 1] = 0;
    if (sqlite3_value_type(pv) == SQLITE_NULL) continue;
    if (sqlite3_value_type(pv) != SQLITE_BLOB)
      return ppr_error(&c->base, "pca_project_rows: row %lld: vector must be a float32 blob, got %s",
                       c->rowid + (sqlite3_int64)c->n, imgpca_type_name(pv));
    if ((size_t)sqlite3_value_bytes(pv) != 4 * d && sqlite3_value_bytes(pv) % 4 == 0)
      return ppr_error(&c->base, "pca_project_rows: row %lld: vector has %d dimensions, the model expects %llu",
                       c->rowid + (sqlite3_int64)c->n, sqlite3_value_bytes(pv) / 4, (unsigned long long)d);
    if ((size_t)sqlite3_value_bytes(pv) != 4 * d)
      return ppr_error(&c->base, "pca_project_rows: row %lld: vector has %d bytes, not a float32 blob",
                       c->rowid + (sqlite3_int64)c->n, sqlite3_value_bytes(pv));
    {
      const unsigned char *p = sqlite3_value_blob(pv);
      float *x = c->X + nv * d;
      size_t j;
      if (!p) return SQLITE_NOMEM;
      for (j = 0; j < d; j++) {
        x[j] = imgpca_get_f32(p + 4 * j);
        if (!isfinite(x[j]))
          return ppr_error(&c->base, "pca_project_rows: row %lld: element %llu is %s", c->rowid + (sqlite3_int64)c->n,
                           (unsigned long long)j, isnan(x[j]) ? "NaN" : "infinite");
      }
    }
    c->aValid[c->n - 1] = 1;
    nv++;
  }
  if (nv == 0) return SQLITE_OK;
  nThreads = (int)imgpca_config_int(&vt->conn->cfg, "imgpca.threads");
  if (nThreads <= 0) nThreads = imgpca_cpus_available();
  if (!sqlite3_threadsafe()) nThreads = 1;
  rc = pca_project_rows(&c->m, c->compPad, c->X, nv, k, 0, c->Y, nThreads, err);
  if (rc == IMGPCA_NOMEM) return SQLITE_NOMEM;
  if (rc) return ppr_error(&c->base, "pca_project_rows: %s", err);
  /* spread the projected rows back over the chunk, last first */
  for (i = c->n; i-- > 0;) {
    if (!c->aValid[i]) continue;
    nv--;
    if (nv != i) memmove(c->Y + i * k, c->Y + nv * k, k * sizeof(float));
  }
  return SQLITE_OK;
}

static int ppr_filter(sqlite3_vtab_cursor *cur, int idxNum, const char *idxStr, int argc, sqlite3_value **argv) {
  PprCursor *c = (PprCursor *)cur;
  sqlite3 *db = ((PprVtab *)cur->pVtab)->conn->db;
  char err[IMGPCA_ERRMAX];
  const char *zSql, *zTail = NULL;
  int rc;
  (void)idxStr;
  ppr_reset(c);
  if (idxNum != 3 || argc < 2 || !db)
    return ppr_error(cur, "pca_project_rows: missing argument: use pca_project_rows(model, query_sql)");
  c->done = 1;
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return SQLITE_OK;
  if (sqlite3_value_type(argv[0]) != SQLITE_BLOB)
    return ppr_error(cur, "pca_project_rows: model must be a pca model blob (from pca_fit), got %s",
                     imgpca_type_name(argv[0]));
  rc = pca_model_load(sqlite3_value_blob(argv[0]), (size_t)sqlite3_value_bytes(argv[0]), &c->m, err);
  if (rc == IMGPCA_NOMEM) return SQLITE_NOMEM;
  if (rc) return ppr_error(cur, "pca_project_rows: invalid model: %s", err);
  c->loaded = 1;
  if (sqlite3_value_type(argv[1]) != SQLITE_TEXT)
    return ppr_error(cur, "pca_project_rows: query_sql must be text, got %s", imgpca_type_name(argv[1]));
  zSql = (const char *)sqlite3_value_text(argv[1]);
  if (!zSql) return SQLITE_NOMEM;
  if (sqlite3_prepare_v2(db, zSql, -1, &c->st, &zTail) != SQLITE_OK) {
    if (sqlite3_errcode(db) == SQLITE_NOMEM) return SQLITE_NOMEM;
    return ppr_error(cur, "pca_project_rows: cannot prepare query: %s", sqlite3_errmsg(db));
  }
  if (!c->st) return ppr_error(cur, "pca_project_rows: query_sql is empty");
  while (zTail && (*zTail == ' ' || *zTail == '\t' || *zTail == '\n' || *zTail == '\r' || *zTail == ';')) zTail++;
  if (zTail && *zTail) return ppr_error(cur, "pca_project_rows: query_sql must be a single statement");
  if (!sqlite3_stmt_readonly(c->st)) return ppr_error(cur, "pca_project_rows: query_sql must be a read-only query");
  if (sqlite3_column_count(c->st) != 2)
    return ppr_error(cur, "pca_project_rows: query_sql must return 2 columns (key, vector), got %d",
                     sqlite3_column_count(c->st));
  /* chunks of about 8 MiB of input, a multiple of the tile height */
  c->cap = ((size_t)8 << 20) / (4 * c->m.d) / PCA_TILE * PCA_TILE;
  if (c->cap < PCA_TILE) c->cap = PCA_TILE;
  if (c->cap > 4096) c->cap = 4096;
  c->aKey = imgpca_malloc(c->cap * sizeof(sqlite3_value *));
  c->aValid = imgpca_malloc(c->cap);
  c->X = imgpca_malloc(c->cap * c->m.d * sizeof(float));
  c->Y = imgpca_malloc(c->cap * c->m.k * sizeof(float));
  c->compPad = pca_project_pad(&c->m, c->m.k);
  if (!c->aKey || !c->aValid || !c->X || !c->Y || !c->compPad) return SQLITE_NOMEM;
  c->done = 0;
  return ppr_fill(c);
}

static int ppr_next(sqlite3_vtab_cursor *cur) {
  PprCursor *c = (PprCursor *)cur;
  c->rowid++;
  if (++c->i < c->n) return SQLITE_OK;
  return ppr_fill(c);
}

static int ppr_eof(sqlite3_vtab_cursor *cur) {
  PprCursor *c = (PprCursor *)cur;
  return c->i >= c->n;
}

static int ppr_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
  PprCursor *c = (PprCursor *)cur;
  switch (col) {
    case PPR_KEY: sqlite3_result_value(ctx, c->aKey[c->i]); break;
    case PPR_PC:
      if (c->aValid[c->i]) fvec_result(ctx, c->Y + c->i * c->m.k, c->m.k);
      break;
    default: break;
  }
  return SQLITE_OK;
}

static int ppr_rowid(sqlite3_vtab_cursor *cur, sqlite_int64 *pRowid) {
  *pRowid = ((PprCursor *)cur)->rowid + 1;
  return SQLITE_OK;
}

static int ppr_best_index(sqlite3_vtab *v, sqlite3_index_info *info) {
  int i, aIdx[2] = {-1, -1}, unusable = 0;
  (void)v;
  for (i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *p = &info->aConstraint[i];
    if (p->iColumn != PPR_MODEL && p->iColumn != PPR_QUERY) continue;
    if (p->op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
    if (!p->usable) {
      unusable = 1;
      continue;
    }
    aIdx[p->iColumn - PPR_MODEL] = i;
  }
  if (aIdx[0] >= 0 && aIdx[1] >= 0) {
    info->aConstraintUsage[aIdx[0]].argvIndex = 1;
    info->aConstraintUsage[aIdx[0]].omit = 1;
    info->aConstraintUsage[aIdx[1]].argvIndex = 2;
    info->aConstraintUsage[aIdx[1]].omit = 1;
    info->idxNum = 3;
    info->estimatedCost = 1e6;
    return SQLITE_OK;
  }
  if (unusable) return SQLITE_CONSTRAINT;
  info->idxNum = 0;
  info->estimatedCost = 1e12;
  return SQLITE_OK;
}

static const sqlite3_module pca_project_rows_module = {
    0, /* iVersion */
    0, /* xCreate: eponymous only */
    ppr_connect, ppr_best_index, ppr_disconnect, 0, ppr_open, ppr_close, ppr_filter, ppr_next, ppr_eof,
    ppr_column, ppr_rowid, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

/* ---- what the module adds to SQLite (ext/imgpca.c registers it) ---- */

static const ImgpcaSetting aSetting[] = {
    {.zKey = "pca.max_memory_mb",
     .eType = CFG_INT,
     .zDefault = "4096",
     .iMin = 1,
     .iMax = 1073741824LL,
     .zHelp = "largest `memory_mb` a PCA aggregate may use, as an option or for a partial state it reads"},
    {0}};

static const ImgpcaSqlFunc aFunc[] = {
    {"pca_fit", 1, IMGPCA_READS_SETTING, 0, pca_fit_step, pca_fit_final},
    {"pca_fit", 2, IMGPCA_READS_SETTING, 0, pca_fit_step, pca_fit_final},
    {"pca_fit", 3, IMGPCA_READS_SETTING, 0, pca_fit_step, pca_fit_final},
    {"pca_partial", 1, IMGPCA_READS_SETTING, 0, pca_partial_step, pca_partial_final},
    {"pca_partial", 2, IMGPCA_READS_SETTING, 0, pca_partial_step, pca_partial_final},
    {"pca_merge", 1, IMGPCA_READS_SETTING, 0, pca_merge_step, pca_merge_final},
    {"pca_project", 2, IMGPCA_PURE, pca_project_func, 0, 0},
    {"pca_project", 3, IMGPCA_PURE, pca_project_func, 0, 0},
    {"pca_project", 4, IMGPCA_PURE, pca_project_func, 0, 0},
    {"pca_reconstruct", 2, IMGPCA_PURE, pca_reconstruct_func, 0, 0},
    {"pca_reconstruct", 3, IMGPCA_PURE, pca_reconstruct_func, 0, 0},
    {"pca_info", 1, IMGPCA_PURE, pca_info_func, 0, 0},
    {"pca_mean", 1, IMGPCA_PURE, pca_mean_func, 0, 0},
    {"pca_std", 1, IMGPCA_PURE, pca_std_func, 0, 0},
    {0}};

static const ImgpcaSqlTable aTable[] = {
    {"pca_components", &pca_components_module},
    {"pca_project_rows", &pca_project_rows_module},
    {0}};

static const ImgpcaSqlDoc aDoc[] = {
    {"`pca_fit(v [, k [, options]])`",
     "model BLOB",
     "aggregate; `k` ≥ 1 or a fraction of variance in (0,1); options `{\"standardize\", \"solver\": \"auto\\|exact\\|streaming\\|randomized\", \"memory_mb\", \"sketch\", \"seed\"}` (`randomized`: fast approximate top-k for one-process fits, see docs/PCA.md); also accepts partial states"},
    {"`pca_partial(v [, options])`, `pca_merge(state)`",
     "state BLOB",
     "aggregates: mergeable partial states (sharded fits)"},
    {"`pca_project(model, v [, k [, whiten]])`",
     "vector",
     "first k components"},
    {"`pca_project_rows(model, query_sql)`",
     "table",
     "`key, pc`: the `(key, vector)` rows of `query_sql` projected on all k components in batches (BLAS tiles on `imgpca.threads` threads, same bytes for any thread count), in the query's order; DIRECTONLY ([docs/PCA.md](docs/PCA.md))"},
    {"`pca_reconstruct(model, p [, whiten])`",
     "vector",
     "inverse transform (`whiten`: `p` came from a whitened projection)"},
    {"`pca_info(model)`",
     "JSON",
     "n, d, k, solver, explained variance, ratio, cumulative, options"},
    {"`pca_components(model)`",
     "table",
     "`idx, eigenvalue, ratio, cumulative, component`"},
    {"`pca_mean(model)`, `pca_std(model)`",
     "vector",
     "centring / scaling vectors"},
    {0}};

const ImgpcaModule imgpca_module_pca = {.zName = "pca", .aFunc = aFunc, .aTable = aTable, .aSetting = aSetting, .aDoc = aDoc, .xConnFree = model_unref};
