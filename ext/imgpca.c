/*
** imgpca entry point: the only SQLITE_EXTENSION_INIT1/2, and the list of
** the modules it registers.  Each module states what it adds to SQLite in
** one descriptor (ImgpcaModule, ext/sqlglue/sqlglue.h) in its *_sql.c file:
** SQL functions with their flags, table-valued functions, settings, rows of
** the SQL reference, and its per-connection state.
**
**   .load ./dist/imgpca
**   SELECT imgpca_version();      -- '0.1.0'
**
** At every load: each module's process-wide set-up, then one reference
** counted ImgpcaConn for the connection (the settings of every module, one
** state slot per module), handed to every function and table as user data;
** every return code is checked and the first failure is reported as
** "imgpca: cannot register ...".
*/
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1

#include <pthread.h>
#include <stdarg.h>

#include "imgpca.h"
#include "sqlglue/sqlglue.h"
#include "imgpca/imgpca_sql.h"
#include "vector/vector_sql.h"
#include "storage/storage_sql.h"
#include "cnn/cnn_sql.h"
#include "image/image_sql.h"
#include "pca/pca_sql.h"
#include "knn/knn_sql.h"
#include "fetch/fetch_sql.h"
#include "csv/csv_sql.h"
#include "shard/shard_sql.h"
#include "report/report_sql.h"

/* The modules, in registration order, each after the modules whose glue
** services it uses (docs/ARCHITECTURE.md, "Dependency rules"); also the
** order of the reference tables and of imgpca_config(). */
static const ImgpcaModule *const aModule[] = {
    &imgpca_module_imgpca, &imgpca_module_vector, &imgpca_module_storage, &imgpca_module_cnn,
    &imgpca_module_image, &imgpca_module_pca, &imgpca_module_knn, &imgpca_module_fetch,
    &imgpca_module_csv, &imgpca_module_shard, &imgpca_module_report, NULL};
#define N_MODULE ((int)(sizeof(aModule) / sizeof(aModule[0])) - 1)

const ImgpcaModule *const *imgpca_modules(void) { return aModule; }

static void conn_release(void *p) {
  ImgpcaConn *c = (ImgpcaConn *)p;
  int i;
  if (c && --c->nRef == 0) {
    /* in reverse order: a module before the modules whose services it uses */
    for (i = N_MODULE - 1; i >= 0; i--)
      if (c->apState[i] && aModule[i]->xConnFree) aModule[i]->xConnFree(c->apState[i]);
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

/* The connection state: every module's settings, no module state yet. */
static int conn_new(sqlite3 *db, ImgpcaConn **pp, char **pzErrMsg) {
  const ImgpcaSetting *apTable[N_MODULE + 1];
  char err[IMGPCA_ERRMAX];
  ImgpcaConn *conn;
  int i, n = 0, rc;
  for (i = 0; i < N_MODULE; i++)
    if (aModule[i]->aSetting) apTable[n++] = aModule[i]->aSetting;
  apTable[n] = NULL;
  conn = sqlite3_malloc64(sizeof(*conn) + N_MODULE * sizeof(void *));
  if (!conn) return SQLITE_NOMEM;
  memset(conn, 0, sizeof(*conn) + N_MODULE * sizeof(void *));
  conn->apState = (void **)(conn + 1);
  conn->db = db;
  conn->nRef = 1;
  rc = imgpca_config_init(&conn->cfg, apTable, err);
  if (rc != IMGPCA_OK) {
    sqlite3_free(conn);
    if (rc == IMGPCA_NOMEM) return SQLITE_NOMEM;
    if (pzErrMsg) *pzErrMsg = sqlite3_mprintf("imgpca: cannot register the settings: %s", err);
    return SQLITE_INTERNAL;
  }
  *pp = conn;
  return SQLITE_OK;
}

static int register_module(sqlite3 *db, ImgpcaConn *conn, const ImgpcaModule *m, char **pzErrMsg) {
  int i, rc = SQLITE_OK;
  for (i = 0; rc == SQLITE_OK && m->aFunc && m->aFunc[i].zName; i++) {
    const ImgpcaSqlFunc *f = &m->aFunc[i];
    conn->nRef++;
    rc = sqlite3_create_function_v2(db, f->zName, f->nArg, SQLITE_UTF8 | f->flags, conn, f->xFunc, f->xStep,
                                    f->xFinal, conn_release);
    /* On failure SQLite has already called conn_release(conn). */
    if (rc != SQLITE_OK && pzErrMsg)
      *pzErrMsg = sqlite3_mprintf("imgpca: cannot register function '%s': %s", f->zName, sqlite3_errmsg(db));
  }
  for (i = 0; rc == SQLITE_OK && m->aTable && m->aTable[i].zName; i++) {
    const ImgpcaSqlTable *t = &m->aTable[i];
    conn->nRef++;
    rc = sqlite3_create_module_v2(db, t->zName, t->pModule, conn, conn_release);
    if (rc != SQLITE_OK && pzErrMsg)
      *pzErrMsg = sqlite3_mprintf("imgpca: cannot register module '%s': %s", t->zName, sqlite3_errmsg(db));
  }
  return rc;
}

#ifdef _WIN32
__declspec(dllexport)
#endif
    int sqlite3_imgpca_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi) {
  static const ImgpcaAllocator alloc = {mem_malloc, mem_realloc, mem_free};
  ImgpcaConn *conn = NULL;
  int i, rc = SQLITE_OK;
  /* Loadable build without the routines: nothing (not even an error
  ** message) can be made. */
  if (set_api(pApi) != SQLITE_OK) return SQLITE_MISUSE;

  imgpca_set_allocator(&alloc);
  for (i = 0; rc == SQLITE_OK && i < N_MODULE; i++)
    if (aModule[i]->xLoad) rc = aModule[i]->xLoad(pzErrMsg);
  if (rc == SQLITE_OK) rc = conn_new(db, &conn, pzErrMsg);
  for (i = 0; rc == SQLITE_OK && i < N_MODULE; i++) rc = register_module(db, conn, aModule[i], pzErrMsg);
  if (conn) conn_release(conn); /* the reference held during registration */
  return rc;
}
