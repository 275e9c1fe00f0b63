/*
** The extension's own SQL functions (module "imgpca"): version, build
** information, settings, printable text.
**
**   imgpca_version()            -> '0.1.0'
**   imgpca_build_info()         -> JSON object: imgpca, sqlite (runtime and
**                                  compile-time), libjpeg_turbo, libpng,
**                                  libcurl, expat, openblas (config string)
**   imgpca_config()             -> JSON object {key: {value, source}} of every
**                                  setting; secrets masked
**   imgpca_config(key)          -> effective value (secrets masked), NULL if unset
**   imgpca_config(key, value)   -> sets (value NULL resets) on this connection,
**                                  returns the effective value (masked)
**   imgpca_printable(x)         -> x as text made safe for a terminal: control
**                                  characters (C0, DEL, C1), bytes that are not
**                                  UTF-8, U+2028/9 and bidirectional overrides
**                                  escaped (\x1b, \u{202e}), a backslash doubled;
**                                  NULL -> NULL.  Every line the pipeline prints
**                                  with a key, label or path goes through it.
** imgpca_config is SQLITE_DIRECTONLY.
*/
#include "imgpca_sql.h"

#include <cblas.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <lapacke.h>
#include "common/lazy_blas.h"
#include "common/lazy_curl.h"
#include <expat.h>
#include <pthread.h>
#include <png.h>
#include <stdio.h>
#include <jpeglib.h>

#include "common/fmt.h"
#include "imgpca.h"

#define STR2(x) #x
#define STR(x) STR2(x)

static void imgpca_printable_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  const char *z;
  ImgpcaBuf b;
  (void)argc;
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return;
  z = (const char *)sqlite3_value_text(argv[0]);
  if (!z) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  imgpca_buf_init(&b);
  imgpca_printable_append(&b, z, (size_t)sqlite3_value_bytes(argv[0]), 1);
  imgpca_result_buf_text(ctx, &b);
}

static void imgpca_version_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  (void)argv;
  sqlite3_result_text(ctx, IMGPCA_VERSION, -1, SQLITE_STATIC);
}

static void imgpca_build_info_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
  const char *aKey[] = {"imgpca", "sqlite", "sqlite_compiled", "libjpeg_turbo", "libpng",
                        "libpng_compiled", "libcurl", "curl_ssl", "expat", "openblas"};
  const char *aVal[10];
  ImgpcaBuf b;
  size_t i;
  (void)argc;
  (void)argv;
  aVal[0] = IMGPCA_VERSION;
  aVal[1] = sqlite3_libversion();
  aVal[2] = SQLITE_VERSION;
  aVal[3] = STR(LIBJPEG_TURBO_VERSION);
  aVal[4] = png_get_libpng_ver(NULL);
  aVal[5] = PNG_LIBPNG_VER_STRING;
  aVal[6] = cv ? cv->version : "not loaded";
  aVal[7] = cv && cv->ssl_version ? cv->ssl_version : "";
  aVal[8] = XML_ExpatVersion();
  aVal[9] = openblas_get_config();
  imgpca_buf_init(&b);
  imgpca_buf_append(&b, "{", 1);
  for (i = 0; i < 10; i++) {
    if (i) imgpca_buf_append(&b, ",", 1);
    imgpca_buf_json_string(&b, aKey[i]);
    imgpca_buf_append(&b, ":", 1);
    imgpca_buf_json_string(&b, aVal[i]);
  }
  imgpca_buf_append(&b, "}", 1);
  imgpca_result_buf_text(ctx, &b);
}

static void config_json(sqlite3_context *ctx, ImgpcaConn *conn) {
  ImgpcaBuf b;
  int i;
  imgpca_buf_init(&b);
  imgpca_buf_append(&b, "{", 1);
  for (i = 0; i < conn->cfg.nSetting; i++) {
    const ImgpcaSetting *s = conn->cfg.apSetting[i];
    const char *zSrc;
    char shown[1024];
    const char *zVal = imgpca_config_display(s, imgpca_config_get(&conn->cfg, s->zKey, &zSrc), shown,
                                             sizeof shown);
    if (i) imgpca_buf_append(&b, ",", 1);
    imgpca_buf_json_string(&b, s->zKey);
    imgpca_buf_append(&b, ":{\"value\":", 10);
    if (zVal)
      imgpca_buf_json_string(&b, zVal);
    else
      imgpca_buf_append(&b, "null", 4);
    imgpca_buf_append(&b, ",\"source\":", 10);
    imgpca_buf_json_string(&b, zSrc);
    imgpca_buf_append(&b, "}", 1);
  }
  imgpca_buf_append(&b, "}", 1);
  imgpca_result_buf_text(ctx, &b);
}

static void config_result(sqlite3_context *ctx, ImgpcaConn *conn, const char *zKey) {
  const ImgpcaSetting *s = imgpca_config_find(&conn->cfg, zKey);
  char shown[1024];
  const char *zVal = imgpca_config_display(s, imgpca_config_get(&conn->cfg, zKey, NULL), shown, sizeof shown);
  if (!zVal)
    sqlite3_result_null(ctx);
  else
    sqlite3_result_text(ctx, zVal, -1, SQLITE_TRANSIENT);
}

static void imgpca_config_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  ImgpcaConn *conn = (ImgpcaConn *)sqlite3_user_data(ctx);
  const char *zKey;
  char err[IMGPCA_ERRMAX];
  if (argc == 0) {
    config_json(ctx, conn);
    return;
  }
  if (argc == 2 && imgpca_side_effect_refused(ctx, conn, "imgpca_config")) return;
  zKey = (const char *)sqlite3_value_text(argv[0]);
  if (!zKey) {
    imgpca_result_error(ctx, "imgpca_config", "setting name must be text, got %s",
                        imgpca_type_name(argv[0]));
    return;
  }
  if (!imgpca_config_find(&conn->cfg, zKey)) {
    imgpca_result_error(ctx, "imgpca_config", "unknown setting '%s'", zKey);
    return;
  }
  if (argc == 2) {
    const char *zVal = (const char *)sqlite3_value_text(argv[1]);
    int rc;
    if (!zVal && sqlite3_value_type(argv[1]) != SQLITE_NULL) {
      sqlite3_result_error_nomem(ctx);
      return;
    }
    rc = imgpca_config_set(&conn->cfg, zKey, zVal, err);
    if (rc) {
      imgpca_result_core(ctx, "imgpca_config", rc, err);
      return;
    }
  }
  config_result(ctx, conn, zKey);
}

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_init_rc = 0;

/* libcurl's allocations through SQLite's allocator (curl_global_init_mem),
** so that SQLite's memory limits and statistics, and the OOM tests, see
** them.  Process-global, hence only when it is safe:
**  - libcurl >= 7.84: its global init is thread-safe, and when another
**    library of the process initialised curl first, curl_global_init_mem
**    only counts one more init and keeps that library's functions;
**  - SQLite built thread-safe (curl's resolver threads allocate too);
**  - the loadable module is pinned in memory (RTLD_NODELETE), since curl
**    keeps pointers to these functions after the last connection closes;
**  - not disabled with IMGPCA_CURL_MALLOC=system.
** Otherwise plain curl_global_init (the C library's malloc). */
static void *cm_malloc(size_t n) { return sqlite3_malloc64(n ? n : 1); }
static void cm_free(void *p) { sqlite3_free(p); }
static void *cm_realloc(void *p, size_t n) { return sqlite3_realloc64(p, n ? n : 1); }
static char *cm_strdup(const char *z) {
  size_t n = strlen(z) + 1;
  char *p = cm_malloc(n);
  if (p) memcpy(p, z, n);
  return p;
}
static void *cm_calloc(size_t n, size_t sz) {
  void *p;
  if (sz && n > SIZE_MAX / sz) return NULL;
  p = cm_malloc(n * sz);
  if (p) memset(p, 0, n * sz);
  return p;
}

/* The version check (>= 7.84) happens when libcurl is opened, at first use
** (ext/common/lazylib.c): loading the extension does not open libcurl. */
static int curl_mem_ok(void) {
  const char *zEnv = getenv("IMGPCA_CURL_MALLOC");
  if (zEnv && strcmp(zEnv, "system") == 0) return 0;
  if (!sqlite3_threadsafe()) return 0;
#ifndef SQLITE_CORE
  {
    Dl_info di;
    if (!dladdr((void *)cm_malloc, &di) || !di.dli_fname ||
        !dlopen(di.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE))
      return 0;
  }
#endif
  return 1;
}

static void global_init_once(void) {
  /* libcurl itself is opened and initialised (curl_global_init_mem with these
  ** allocators, or curl_global_init) once per process at its first use. */
  static const ImgpcaCurlMem cm = {cm_malloc, cm_free, cm_realloc, cm_strdup, cm_calloc};
  if (curl_mem_ok()) imgpca_curl_set_mem(&cm);
  g_init_rc = SQLITE_OK;
}

static int imgpca_load(char **pzErrMsg) {
  pthread_once(&g_once, global_init_once);
  if (g_init_rc != SQLITE_OK && pzErrMsg) {
    *pzErrMsg = sqlite3_mprintf("imgpca: curl_global_init failed");
  }
  return g_init_rc;
}

/* ---- what the module adds to SQLite (ext/imgpca.c registers it) ---- */

static const ImgpcaSetting aSetting[] = {
    {.zKey = "imgpca.threads",
     .eType = CFG_INT,
     .zDefault = "0",
     .iMax = 1024,
     .zHelp = "worker threads of `s3_fetch_many` (reading local files, decoding, features; with a `cnn:` spec each worker runs whole inferences and OpenBLAS is single-threaded meanwhile), of `knn_search` (distance tiles, when OpenBLAS itself is single-threaded) and of `pca_project_rows` and the exact PCA solver (fixed BLAS tiles: same bytes for any count); 0 = the CPUs the process may use (affinity mask, capped by a cgroup v2 `cpu.max` quota)"},
    {0}};

static const ImgpcaSqlFunc aFunc[] = {
    {"imgpca_version", 0, IMGPCA_PURE, imgpca_version_func, 0, 0},
    {"imgpca_build_info", 0, IMGPCA_PURE, imgpca_build_info_func, 0, 0},
    {"imgpca_printable", 1, IMGPCA_PURE, imgpca_printable_func, 0, 0},
    {"imgpca_config", 0, IMGPCA_SIDE_EFFECT, imgpca_config_func, 0, 0},
    {"imgpca_config", 1, IMGPCA_SIDE_EFFECT, imgpca_config_func, 0, 0},
    {"imgpca_config", 2, IMGPCA_SIDE_EFFECT, imgpca_config_func, 0, 0},
    {0}};

static const ImgpcaSqlDoc aDoc[] = {
    {"`imgpca_version()`",
     "text",
     "library version"},
    {"`imgpca_build_info()`",
     "JSON",
     "versions of SQLite, libjpeg-turbo, libpng, libcurl, expat, OpenBLAS compiled against"},
    {"`imgpca_config([key [, value]])`",
     "JSON / text",
     "effective settings (secrets masked) and their source; set one for this connection"},
    {"`imgpca_printable(x)`",
     "text",
     "`x` safe to print on a terminal: control characters (C0, DEL, C1), bytes that are not UTF-8, U+2028/U+2029 and bidirectional overrides escaped (`\\x1b`, `\\u{202e}`), a backslash doubled; the pipeline prints every key, label and path through it, and error messages escape the same characters"},
    {0}};

const ImgpcaModule imgpca_module_imgpca = {.zName = "imgpca", .aFunc = aFunc, .aSetting = aSetting, .aDoc = aDoc, .xLoad = imgpca_load};
