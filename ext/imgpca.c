/*
** imgpca entry point: the only SQLITE_EXTENSION_INIT1/2 and the single
** registration table for every SQL function and virtual table.
**
**   .load ./dist/imgpca
**   SELECT imgpca_version();      -- '0.1.0'
**   SELECT imgpca_build_info();   -- JSON: versions of SQLite, libjpeg-turbo,
**                                 --   libpng, libcurl, expat, OpenBLAS
**
** Flags: pure functions are SQLITE_DETERMINISTIC|SQLITE_INNOCUOUS; a
** function that reads a setting (image.max_pixels, pca.max_memory_mb) is
** only INNOCUOUS: its
** result may change when the setting does, so it must not be DETERMINISTIC
** (SQLite would accept it in indexes and generated columns, which would go
** stale).  Every function or table with a side effect (network, files,
** configuration) is SQLITE_DIRECTONLY so that it cannot be reached from a
** view or trigger of an untrusted schema.
*/
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1

#include <pthread.h>
#include <stdarg.h>

#include "imgpca.h"
#include "sqlglue/sqlglue.h"
#include "core/core_sql.h"
#include "vector/vector_sql.h"
#include "image/image_sql.h"
#include "pca/pca_sql.h"
#include "shard/shard_sql.h"
#include "csv/csv_sql.h"
#include "storage/storage_sql.h"
#include "fetch/fetch_sql.h"
#include "knn/knn_sql.h"
#include "report/report_sql.h"
#include "cnn/cnn_sql.h"

#define PURE (SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS)
#define SETTING SQLITE_INNOCUOUS /* reads a setting: not deterministic */
#define DIRECT SQLITE_DIRECTONLY
#define CONN 1 /* pass the per-connection state as user data */

typedef void (*ScalarFn)(sqlite3_context *, int, sqlite3_value **);
typedef void (*FinalFn)(sqlite3_context *);

typedef struct FuncDef {
  const char *zName;
  int nArg;
  int flags;
  int bConn;
  ScalarFn xFunc; /* scalar */
  ScalarFn xStep; /* aggregate */
  FinalFn xFinal;
} FuncDef;

typedef struct ModuleDef {
  const char *zName;
  const sqlite3_module *pModule;
  int bConn;
} ModuleDef;

static const FuncDef aFunc[] = {
    /* core */
    {"imgpca_version", 0, PURE, 0, imgpca_version_func, 0, 0},
    {"imgpca_build_info", 0, PURE, 0, imgpca_build_info_func, 0, 0},
    {"imgpca_printable", 1, PURE, 0, imgpca_printable_func, 0, 0},
    {"imgpca_config", 0, DIRECT, CONN, imgpca_config_func, 0, 0},
    {"imgpca_config", 1, DIRECT, CONN, imgpca_config_func, 0, 0},
    {"imgpca_config", 2, DIRECT, CONN, imgpca_config_func, 0, 0},
    /* vector */
    {"fvec", -1, PURE, 0, fvec_func, 0, 0},
    {"fvec_from_json", 1, PURE, 0, fvec_from_json_func, 0, 0},
    {"fvec_to_json", 1, PURE, 0, fvec_to_json_func, 0, 0},
    {"fvec_dims", 1, PURE, 0, fvec_dims_func, 0, 0},
    {"fvec_at", 2, PURE, 0, fvec_at_func, 0, 0},
    {"fvec_slice", 3, PURE, 0, fvec_slice_func, 0, 0},
    {"fvec_concat", -1, PURE, 0, fvec_concat_func, 0, 0},
    {"fvec_l2", 2, PURE, 0, fvec_l2_func, 0, 0},
    {"fvec_cosine", 2, PURE, 0, fvec_cosine_func, 0, 0},
    {"fvec_dot", 2, PURE, 0, fvec_dot_func, 0, 0},
    {"fvec_norm", 1, PURE, 0, fvec_norm_func, 0, 0},
    {"fvec_normalize", 1, PURE, 0, fvec_normalize_func, 0, 0},
    {"fvec_add", 2, PURE, 0, fvec_add_func, 0, 0},
    {"fvec_sub", 2, PURE, 0, fvec_sub_func, 0, 0},
    {"fvec_scale", 2, PURE, 0, fvec_scale_func, 0, 0},
    {"fvec_avg", 1, PURE, 0, 0, fvec_avg_step, fvec_avg_final},
    /* image: read image.max_pixels from CONN, so not DETERMINISTIC */
    {"img_features", 1, SETTING, CONN, img_features_func, 0, 0},
    {"img_features", 2, SETTING, CONN, img_features_func, 0, 0},
    {"img_features_or_null", 1, SETTING, CONN, img_features_or_null_func, 0, 0},
    {"img_features_or_null", 2, SETTING, CONN, img_features_or_null_func, 0, 0},
    {"img_info", 1, SETTING, CONN, img_info_func, 0, 0},
    {"img_spec_check", 1, PURE, 0, img_spec_check_func, 0, 0},
    {"img_pixels", 1, SETTING, CONN, img_pixels_func, 0, 0},
    {"img_pixels", 3, SETTING, CONN, img_pixels_func, 0, 0},
    {"img_encode", 5, PURE, 0, img_encode_func, 0, 0},
    {"img_encode", 6, PURE, 0, img_encode_func, 0, 0},
    {"img_thumbnail", 2, SETTING, CONN, img_thumbnail_func, 0, 0},
    {"img_thumbnail", 3, SETTING, CONN, img_thumbnail_func, 0, 0},
    {"img_thumbnail", 4, SETTING, CONN, img_thumbnail_func, 0, 0},
    {"img_from_fvec", 1, PURE, 0, img_from_fvec_func, 0, 0},
    {"img_from_fvec", 3, PURE, 0, img_from_fvec_func, 0, 0},
    /* cnn: reads a model file or object, so DIRECTONLY like s3_fetch */
    {"img_model_info", 1, DIRECT, CONN, img_model_info_func, 0, 0},
    {"img_model_info", 2, DIRECT, CONN, img_model_info_func, 0, 0},
    /* pca: the aggregates read pca.max_memory_mb, so not DETERMINISTIC */
    {"pca_fit", 1, SETTING, CONN, 0, pca_fit_step, pca_fit_final},
    {"pca_fit", 2, SETTING, CONN, 0, pca_fit_step, pca_fit_final},
    {"pca_fit", 3, SETTING, CONN, 0, pca_fit_step, pca_fit_final},
    {"pca_partial", 1, SETTING, CONN, 0, pca_partial_step, pca_partial_final},
    {"pca_partial", 2, SETTING, CONN, 0, pca_partial_step, pca_partial_final},
    {"pca_merge", 1, SETTING, CONN, 0, pca_merge_step, pca_merge_final},
    {"pca_project", 2, PURE, CONN, pca_project_func, 0, 0},
    {"pca_project", 3, PURE, CONN, pca_project_func, 0, 0},
    {"pca_project", 4, PURE, CONN, pca_project_func, 0, 0},
    {"pca_reconstruct", 2, PURE, CONN, pca_reconstruct_func, 0, 0},
    {"pca_reconstruct", 3, PURE, CONN, pca_reconstruct_func, 0, 0},
    {"pca_info", 1, PURE, CONN, pca_info_func, 0, 0},
    {"pca_mean", 1, PURE, CONN, pca_mean_func, 0, 0},
    {"pca_std", 1, PURE, CONN, pca_std_func, 0, 0},
    /* storage (s3) */
    {"s3_fetch", 1, DIRECT, CONN, s3_fetch_func, 0, 0},
    {"s3_fetch", 2, DIRECT, CONN, s3_fetch_func, 0, 0},
    {"s3_fetch", 3, DIRECT, CONN, s3_fetch_func, 0, 0},
    {"s3_fetch_or_null", 1, DIRECT, CONN, s3_fetch_or_null_func, 0, 0},
    {"s3_fetch_or_null", 2, DIRECT, CONN, s3_fetch_or_null_func, 0, 0},
    {"s3_fetch_or_null", 3, DIRECT, CONN, s3_fetch_or_null_func, 0, 0},
    {"s3_put", 2, DIRECT, CONN, s3_put_func, 0, 0},
    {"s3_delete", 1, DIRECT, CONN, s3_delete_func, 0, 0},
    {"s3_config", 0, DIRECT, CONN, s3_config_func, 0, 0},
    {"s3_concat", 2, DIRECT, CONN, s3_concat_func, 0, 0},
    /* shard */
    {"imgpca_shard", 2, PURE, 0, imgpca_shard_func, 0, 0},
    /* csv */
    {"csv_export", 2, DIRECT, CONN, csv_export_func, 0, 0},
    {"csv_export", 3, DIRECT, CONN, csv_export_func, 0, 0},
    /* report */
    {"imgpca_base64", 1, PURE, 0, imgpca_base64_func, 0, 0},
    {"imgpca_report_html", 1, PURE, 0, imgpca_report_html_func, 0, 0},
    {"imgpca_report_html", 2, PURE, 0, imgpca_report_html_func, 0, 0},
};

static const ModuleDef aModule[] = {
    {"pca_components", &pca_components_module, 0},
    {"pca_project_rows", &pca_project_rows_module, CONN},
    {"s3_list", &s3_list_module, CONN},
    {"s3_fetch_many", &s3_fetch_many_module, CONN},
    {"knn_search", &knn_search_module, CONN},
    {NULL, NULL, 0}};

static void conn_release(void *p) {
  ImgpcaConn *c = (ImgpcaConn *)p;
  if (c && --c->nRef == 0) {
    if (c->pStorage) imgpca_storage_free(c->pStorage);
    if (c->pPcaModel && c->xPcaModelFree) c->xPcaModelFree(c->pPcaModel);
    if (c->pCnnCache && c->xCnnCacheFree) c->xCnnCacheFree(c->pCnnCache);
    imgpca_config_clear(&c->cfg);
    sqlite3_free(c);
  }
}

static void *mem_malloc(size_t n) { return sqlite3_malloc64((sqlite3_uint64)n); }
static void *mem_realloc(void *p, size_t n) { return sqlite3_realloc64(p, (sqlite3_uint64)n); }
static void mem_free(void *p) { sqlite3_free(p); }

/* SQLITE_EXTENSION_INIT2 stores pApi into the global sqlite3_api on every
** load, while threads that loaded the extension earlier read it.  Store only
** when it changes, under a mutex: each later init reads it after taking the
** mutex, so no store races with a reader.  Built with SQLITE_CORE (the static
** library dist/libimgpca.a, for embedding) the calls go straight to SQLite
** and pApi is not used: it may be NULL. */
static int set_api(const sqlite3_api_routines *pApi) {
#ifndef SQLITE_CORE
  static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  if (!pApi) return SQLITE_MISUSE;
  pthread_mutex_lock(&mu);
  if (sqlite3_api != pApi) SQLITE_EXTENSION_INIT2(pApi);
  pthread_mutex_unlock(&mu);
#else
  (void)pApi;
#endif
  return SQLITE_OK;
}

#ifdef _WIN32
__declspec(dllexport)
#endif
    int sqlite3_imgpca_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi) {
  static const ImgpcaAllocator alloc = {mem_malloc, mem_realloc, mem_free};
  ImgpcaConn *conn;
  size_t i;
  int rc = SQLITE_OK;
  /* Loadable build without the routines: nothing (not even an error
  ** message) can be made. */
  if (set_api(pApi) != SQLITE_OK) return SQLITE_MISUSE;

  imgpca_set_allocator(&alloc);
  rc = imgpca_core_global_init(pzErrMsg);
  if (rc != SQLITE_OK) return rc;

  conn = sqlite3_malloc(sizeof(*conn));
  if (!conn) return SQLITE_NOMEM;
  memset(conn, 0, sizeof(*conn));
  conn->db = db;
  conn->nRef = 1; /* held by this function until the end of registration */
  if (imgpca_config_init(&conn->cfg) != IMGPCA_OK) {
    sqlite3_free(conn);
    return SQLITE_NOMEM;
  }

  for (i = 0; rc == SQLITE_OK && i < sizeof(aFunc) / sizeof(aFunc[0]); i++) {
    const FuncDef *f = &aFunc[i];
    void *pApp = NULL;
    void (*xDestroy)(void *) = NULL;
    if (f->bConn) {
      conn->nRef++;
      pApp = conn;
      xDestroy = conn_release;
    }
    rc = sqlite3_create_function_v2(db, f->zName, f->nArg, SQLITE_UTF8 | f->flags, pApp,
                                    f->xFunc, f->xStep, f->xFinal, xDestroy);
    /* On failure SQLite has already called xDestroy(pApp). */
    if (rc != SQLITE_OK && pzErrMsg) {
      *pzErrMsg = sqlite3_mprintf("imgpca: cannot register function '%s': %s", f->zName,
                                  sqlite3_errmsg(db));
    }
  }
  for (i = 0; rc == SQLITE_OK && aModule[i].zName; i++) {
    const ModuleDef *m = &aModule[i];
    void *pAux = NULL;
    void (*xDestroy)(void *) = NULL;
    if (m->bConn) {
      conn->nRef++;
      pAux = conn;
      xDestroy = conn_release;
    }
    rc = sqlite3_create_module_v2(db, m->zName, m->pModule, pAux, xDestroy);
    if (rc != SQLITE_OK && pzErrMsg) {
      *pzErrMsg = sqlite3_mprintf("imgpca: cannot register module '%s': %s", m->zName,
                                  sqlite3_errmsg(db));
    }
  }
  conn_release(conn);
  return rc;
}
