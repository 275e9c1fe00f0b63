/*
** SQL glue of the CNN core (ext/cnn): the model cache of a connection and
**
**   img_model_info(url [, options])  -> JSON text
**
** describing an ONNX model: opset, producer, inputs and outputs (names,
** shapes), operator counts (after BatchNormalization folding), parameter
** count, and what a cnn: item would use: {"input_size":[W,H], "output":NAME,
** "dims":N}.  options is the option list of a cnn: item without model=, e.g.
** 'output=probabilities,size=160x160'.  The model is compiled as the feature
** kind would compile it, so an unsupported operator or a shape error is
** reported here first ("img_model_info: cannot load model 'm.onnx': node
** 'x' (Foo): unsupported operator 'Foo' ...").  DIRECTONLY: it reads a file
** or an S3 object.
**
** Model cache: a cnn:model=URL item is resolved once per statement (the
** spec is parsed once and kept as auxdata): the object's version is read
** (S3 HEAD ETag, local mtime/size/inode) and the compiled model of that URL,
** version, input size and output is reused, or the file is read through the
** storage layer, parsed and compiled.  The cache keeps the 4 most recently
** used models of the connection; a model stays alive while a statement
** uses it.  Models are limited by cnn.max_model_mb (file size, and each
** tensor's element count).
*/
#include "cnn_sql.h"
#include "../storage/storage_sql.h"

#include <stdio.h>

#include "../config/config.h"
#include "../image/image.h"
#include "cnn.h"

#define CACHE_MAX 4

typedef struct CacheEntry {
  char *zKey; /* url NUL version NUL WxH NUL output */
  CnnImageModel *m;
  unsigned lastUse;
} CacheEntry;

typedef struct CnnCache {
  CacheEntry a[CACHE_MAX];
  unsigned clock;
} CnnCache;

static void cache_free(void *p) {
  CnnCache *c = (CnnCache *)p;
  int i;
  if (!c) return;
  for (i = 0; i < CACHE_MAX; i++) {
    imgpca_free(c->a[i].zKey);
    if (c->a[i].m) cnn_image_model_release(c->a[i].m);
  }
  imgpca_free(c);
}

static CnnCache *conn_cache(ImgpcaConn *conn) {
  void **pSlot = imgpca_conn_state(conn, &imgpca_module_cnn);
  if (!*pSlot) *pSlot = imgpca_calloc(1, sizeof(CnnCache));
  return (CnnCache *)*pSlot;
}

/* Reads and parses a model. */
static int load_graph(ImgpcaConn *conn, const char *zUrl, CnnGraph **pg, char *err) {
  ImgpcaStorage *s;
  ImgpcaBuf b;
  CnnLimits lim;
  int64_t mb = imgpca_config_int(&conn->cfg, "cnn.max_model_mb");
  int rc, nf = 0;
  char sub[IMGPCA_ERRMAX];
  *pg = NULL;
  rc = imgpca_conn_storage(conn, &s, err);
  if (rc) return rc;
  memset(&lim, 0, sizeof lim);
  lim.maxBytes = mb << 20;
  lim.maxElements = (mb << 20) / 4;
  rc = imgpca_storage_get(s, zUrl, 0, -1, lim.maxBytes, &b, &nf, sub);
  if (rc == IMGPCA_ERROR) return imgpca_seterr(err, "cannot read model '%s': %s", zUrl, sub);
  if (rc) return rc;
  rc = cnn_graph_load(b.p, b.n, &lim, pg, sub);
  imgpca_buf_free(&b);
  if (rc == IMGPCA_ERROR) return imgpca_seterr(err, "cannot load model '%s': %s", zUrl, sub);
  return rc;
}

/* The compiled model for (url, size, output), from the cache or loaded. */
static int cache_get(ImgpcaConn *conn, const char *zUrl, int w, int h, const char *zOutput, CnnImageModel **pm,
                     char *err) {
  CnnCache *c = conn_cache(conn);
  ImgpcaStorage *s;
  char *zVersion = NULL, *zKey = NULL, sub[IMGPCA_ERRMAX];
  int64_t size;
  int rc, nf = 0, i, iFree = 0;
  CnnGraph *g = NULL;
  CnnImageModel *m = NULL;
  *pm = NULL;
  if (!c) return IMGPCA_NOMEM;
  rc = imgpca_conn_storage(conn, &s, err);
  if (rc) return rc;
  rc = imgpca_storage_stat(s, zUrl, &size, &zVersion, &nf, sub);
  if (rc == IMGPCA_ERROR) return imgpca_seterr(err, "cannot read model '%s': %s", zUrl, sub);
  if (rc) return rc;
  zKey = imgpca_mprintf("%s%c%s%c%dx%d%c%s", zUrl, 1, zVersion, 1, w, h, 1, zOutput ? zOutput : "");
  imgpca_free(zVersion);
  if (!zKey) return IMGPCA_NOMEM;
  c->clock++;
  for (i = 0; i < CACHE_MAX; i++) {
    if (c->a[i].zKey && strcmp(c->a[i].zKey, zKey) == 0) {
      c->a[i].lastUse = c->clock;
      cnn_image_model_retain(c->a[i].m);
      *pm = c->a[i].m;
      imgpca_free(zKey);
      return IMGPCA_OK;
    }
    if (!c->a[i].zKey || c->a[i].lastUse < c->a[iFree].lastUse || (c->a[iFree].zKey && !c->a[i].zKey)) iFree = i;
  }
  rc = load_graph(conn, zUrl, &g, err);
  if (rc == IMGPCA_OK) {
    rc = cnn_image_model_new(g, w, h, zOutput, &m, sub);
    cnn_graph_release(g);
    if (rc == IMGPCA_ERROR) rc = imgpca_seterr(err, "cannot use model '%s': %s", zUrl, sub);
  }
  if (rc) {
    imgpca_free(zKey);
    return rc;
  }
  /* an entry of an older version of the same URL and settings goes first */
  imgpca_free(c->a[iFree].zKey);
  if (c->a[iFree].m) cnn_image_model_release(c->a[iFree].m);
  c->a[iFree].zKey = zKey;
  c->a[iFree].m = m;
  c->a[iFree].lastUse = c->clock;
  cnn_image_model_retain(m);
  *pm = m;
  return IMGPCA_OK;
}

int imgpca_conn_spec_models(ImgpcaConn *conn, struct ImgSpec *s, char *err) {
  int i, rc;
  for (i = 0; i < s->n; i++) {
    ImgItem *it = &s->a[i];
    CnnImageModel *m;
    if (it->kind != IMG_CNN || it->model) continue;
    rc = cache_get(conn, img_item_model_url(s, it), it->w, it->h, img_item_output(s, it), &m, err);
    if (rc) return rc;
    rc = img_spec_set_model(s, i, m, err);
    if (rc) return rc;
  }
  return IMGPCA_OK;
}

static void img_model_info_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *zFunc = "img_model_info";
  ImgpcaConn *conn = (ImgpcaConn *)sqlite3_user_data(ctx);
  const char *zUrl, *zOpt = NULL;
  char err[IMGPCA_ERRMAX];
  ImgSpec spec;
  ImgpcaBuf b;
  CnnGraph *g = NULL;
  CnnImageModel *m = NULL;
  char *zSpec;
  int rc;
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return;
  if (sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
    imgpca_result_error(ctx, zFunc, "expected a model URL, got %s", imgpca_type_name(argv[0]));
    return;
  }
  zUrl = (const char *)sqlite3_value_text(argv[0]);
  if (argc > 1 && sqlite3_value_type(argv[1]) != SQLITE_NULL) {
    if (sqlite3_value_type(argv[1]) != SQLITE_TEXT) {
      imgpca_result_error(ctx, zFunc, "options: expected text like 'output=NAME,size=WxH', got %s",
                          imgpca_type_name(argv[1]));
      return;
    }
    zOpt = (const char *)sqlite3_value_text(argv[1]);
  }
  if (!zUrl) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  if (strchr(zUrl, ',') || strchr(zUrl, ';')) {
    imgpca_result_error(ctx, zFunc, "model URL '%s' contains ',' or ';' (not allowed in a cnn: spec)", zUrl);
    return;
  }
  zSpec = sqlite3_mprintf("cnn:model=%s%s%s", zUrl, zOpt && *zOpt ? "," : "", zOpt ? zOpt : "");
  if (!zSpec) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  rc = img_spec_parse(zSpec, &spec, err);
  sqlite3_free(zSpec);
  if (rc == IMGPCA_OK && (spec.n != 1 || spec.a[0].kind != IMG_CNN))
    rc = imgpca_seterr(err, "options: expected cnn: options (output=, size=, resize=, norm=)");
  if (rc) {
    imgpca_result_core(ctx, zFunc, rc, err);
    return;
  }
  rc = load_graph(conn, zUrl, &g, err);
  if (rc) {
    imgpca_result_core(ctx, zFunc, rc, err);
    return;
  }
  imgpca_buf_init(&b);
  rc = cnn_graph_info_json(g, &b);
  if (rc == IMGPCA_OK) {
    char sub[IMGPCA_ERRMAX];
    int w, h;
    b.n--; /* reopen the object */
    rc = cnn_image_model_new(g, spec.a[0].w, spec.a[0].h, img_item_output(&spec, &spec.a[0]), &m, sub);
    if (rc == IMGPCA_OK) {
      cnn_image_model_size(m, &w, &h);
      imgpca_buf_printf(&b, ",\"feature\":{\"input_size\":[%d,%d],\"output\":", w, h);
      imgpca_buf_json_string(&b, cnn_image_model_output(m));
      imgpca_buf_printf(&b, ",\"dims\":%zu}}", cnn_image_model_dims(m));
      cnn_image_model_release(m);
    } else if (rc == IMGPCA_ERROR) {
      /* not usable as an image model: say why, keep the description */
      imgpca_buf_append(&b, ",\"feature\":null,\"feature_error\":", 31);
      imgpca_buf_json_string(&b, sub);
      imgpca_buf_append(&b, "}", 1);
      rc = IMGPCA_OK;
    }
  }
  cnn_graph_release(g);
  if (rc == IMGPCA_OK && b.oom) rc = IMGPCA_NOMEM;
  if (rc) {
    imgpca_buf_free(&b);
    imgpca_result_core(ctx, zFunc, rc, err);
    return;
  }
  imgpca_result_buf_text(ctx, &b);
}

/* ---- what the module adds to SQLite (ext/imgpca.c registers it) ---- */

static const ImgpcaSetting aSetting[] = {
    {.zKey = "cnn.max_model_mb",
     .eType = CFG_INT,
     .zDefault = "1024",
     .iMin = 1,
     .iMax = 65536,
     .zHelp = "largest ONNX model file (MiB) a `cnn:` spec or `img_model_info` loads; also bounds each tensor of the model"},
    {0}};

static const ImgpcaSqlFunc aFunc[] = {
    {"img_model_info", 1, IMGPCA_SIDE_EFFECT, img_model_info_func, 0, 0},
    {"img_model_info", 2, IMGPCA_SIDE_EFFECT, img_model_info_func, 0, 0},
    {0}};

static const ImgpcaSqlDoc aDoc[] = {
    {"`img_model_info(url [, options])`",
     "JSON",
     "an ONNX model: opset, inputs and outputs with shapes, operator counts, parameters, and what a `cnn:` item with these options would compute (`feature`: input size, output, dims); unsupported operators are named here; DIRECTONLY ([docs/CNN.md](docs/CNN.md))"},
    {0}};

const ImgpcaModule imgpca_module_cnn = {.zName = "cnn", .aFunc = aFunc, .aSetting = aSetting, .aDoc = aDoc, .xConnFree = cache_free};
