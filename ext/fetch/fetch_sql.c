/*
** s3_fetch_many: many objects fetched concurrently, decoded in parallel.
**
**   SELECT url, size, content, features, error, thumbnail FROM s3_fetch_many
**    WHERE url IN (<list or subquery>) [AND spec = '<feature spec>'];
**   SELECT ... FROM s3_fetch_many('<JSON array of URLs>' [, '<spec>']);
**
** Eponymous-only table (SQLITE_VTAB_DIRECTONLY): columns url, size, content,
** features, error, thumbnail; hidden arguments urls (JSON array text) and spec.
** URLs: s3://bucket/key (s3a://), file:///path or a local path.
**
** Rows: one per URL, in the order of the JSON array (duplicates kept) or of
** the IN list as SQLite hands it over (sqlite3_vtab_in_first/next: the whole
** list at once, distinct values in SQLite's order); NULL URLs give no row.
** `url = ?` alone gives one row.  rowid: the position in the input, from 0
** in the connection's first statement; later statements continue past the
** rowids given out before (unique per connection: SQLite's OR plans merge
** their branches by rowid).  size = bytes of the object; content = the
** object (only fetched into memory when the query uses the column);
** features = img_features(content, spec) (same bytes; only with a spec,
** NULL spec = no features); thumbnail = img_thumbnail(content, 48, 'jpeg',
** 75) made by the same worker from the bytes in memory (only when the query
** uses the column; NULL when not decodable); error = NULL or
** "s3_fetch_many: <cause>" (the first failure: object, features, thumbnail).
** A failed object (missing, unreadable, not a regular file, HTTP error)
** gives a row with error set and NULL size/content/features; an undecodable
** image gives NULL features and an error (its content is still returned).
** Such rows never abort the statement; out-of-memory and interrupts do.
** Statement errors: no URL argument, urls not a JSON array of strings, a bad
** spec.
**
** Concurrency: s3.max_inflight GETs in flight; imgpca.threads workers read
** local files and compute features (0 = the CPUs available); at most
** max(s3.max_inflight, 2 * threads, 4) objects are in memory at a time.
** Not DETERMINISTIC (depends on storage and settings).
*/
#include "fetch_sql.h"
#include "../storage/storage_sql.h"
#include "../cnn/cnn_sql.h"

#include "fetch.h"

enum { COL_URL,
       COL_SIZE,
       COL_CONTENT,
       COL_FEATURES,
       COL_ERROR,
       COL_THUMB,
       COL_URLS,
       COL_SPEC };

/* idxNum bits */
#define IDX_URLS 1     /* argv: urls (JSON) */
#define IDX_URL_EQ 2   /* argv: one url */
#define IDX_URL_IN 4   /* argv: the IN list (sqlite3_vtab_in) */
#define IDX_SPEC 8     /* argv: spec */
#define IDX_CONTENT 16 /* content column used */
#define IDX_THUMB 32   /* thumbnail column used */

typedef struct FetchVtab {
  sqlite3_vtab base;
  ImgpcaConn *conn;
  sqlite3_int64 nRowid; /* rowids below this were given out (see fm_rowid) */
} FetchVtab;

typedef struct FetchCursor {
  sqlite3_vtab_cursor base;
  ImgpcaFetch *f;
  ImgpcaFetchItem *it;
  int bEof;
  sqlite3_int64 iBase;     /* rowid of the first URL of this xFilter */
  sqlite3_value *apArg[2]; /* urls, spec as given: read back by their columns */
} FetchCursor;

static int fm_connect(sqlite3 *db, void *pAux, int argc, const char *const *argv, sqlite3_vtab **ppVtab,
                      char **pzErr) {
  FetchVtab *v;
  int rc;
  (void)argc;
  (void)argv;
  (void)pzErr;
  rc = sqlite3_declare_vtab(db,
                            "CREATE TABLE x(url TEXT, size INTEGER, content BLOB, features BLOB, "
                            "error TEXT, thumbnail BLOB, urls HIDDEN, spec HIDDEN)");
  if (rc != SQLITE_OK) return rc;
  v = sqlite3_malloc(sizeof(*v));
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof(*v));
  v->conn = (ImgpcaConn *)pAux;
  rc = sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  if (rc != SQLITE_OK) {
    sqlite3_free(v);
    return rc;
  }
  *ppVtab = &v->base;
  return SQLITE_OK;
}

static int fm_disconnect(sqlite3_vtab *p) {
  sqlite3_free(p);
  return SQLITE_OK;
}

static int fm_best_index(sqlite3_vtab *tab, sqlite3_index_info *info) {
  int i, iUrls = -1, iSpec = -1, iUrl = -1, bUrlUnusable = 0, n = 1, idxNum = 0;
  (void)tab;
  for (i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *c = &info->aConstraint[i];
    if (c->op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
    if (c->iColumn == COL_URLS) {
      if (!c->usable) return SQLITE_CONSTRAINT;
      iUrls = i;
    } else if (c->iColumn == COL_SPEC) {
      if (!c->usable) return SQLITE_CONSTRAINT;
      iSpec = i;
    } else if (c->iColumn == COL_URL) {
      if (c->usable) {
        if (iUrl < 0) iUrl = i;
      } else
        bUrlUnusable = 1;
    }
  }
  if (iUrls >= 0) {
    info->aConstraintUsage[iUrls].argvIndex = n++;
    info->aConstraintUsage[iUrls].omit = 1;
    idxNum |= IDX_URLS;
    info->estimatedCost = 1e6;
    info->estimatedRows = 1000;
  } else if (iUrl >= 0) {
    info->aConstraintUsage[iUrl].argvIndex = n++;
    info->aConstraintUsage[iUrl].omit = 1;
    if (sqlite3_vtab_in(info, iUrl, -1)) {
      sqlite3_vtab_in(info, iUrl, 1);
      idxNum |= IDX_URL_IN;
      info->estimatedCost = 1e5;
      info->estimatedRows = 1000;
    } else {
      idxNum |= IDX_URL_EQ;
      info->estimatedCost = 100;
      info->estimatedRows = 1;
    }
  } else if (bUrlUnusable) {
    return SQLITE_CONSTRAINT; /* another join order provides the url */
  } else {
    info->estimatedCost = 1e300; /* xFilter reports the missing argument */
  }
  if (iSpec >= 0) {
    info->aConstraintUsage[iSpec].argvIndex = n++;
    info->aConstraintUsage[iSpec].omit = 1;
    idxNum |= IDX_SPEC;
  }
  if (info->colUsed & ((sqlite3_uint64)1 << COL_CONTENT)) idxNum |= IDX_CONTENT;
  if (info->colUsed & ((sqlite3_uint64)1 << COL_THUMB)) idxNum |= IDX_THUMB;
  info->idxNum = idxNum;
  return SQLITE_OK;
}

static int fm_open(sqlite3_vtab *p, sqlite3_vtab_cursor **ppCur) {
  FetchCursor *c = sqlite3_malloc(sizeof(*c));
  (void)p;
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof(*c));
  c->bEof = 1;
  *ppCur = &c->base;
  return SQLITE_OK;
}

static void cursor_reset(FetchCursor *c) {
  imgpca_fetch_free(c->f);
  c->f = NULL;
  c->it = NULL;
  c->bEof = 1;
  sqlite3_value_free(c->apArg[0]);
  sqlite3_value_free(c->apArg[1]);
  c->apArg[0] = c->apArg[1] = NULL;
}

static int fm_close(sqlite3_vtab_cursor *cur) {
  FetchCursor *c = (FetchCursor *)cur;
  cursor_reset(c);
  sqlite3_free(c);
  return SQLITE_OK;
}

static int vt_error(sqlite3_vtab_cursor *cur, const char *zFmt, const char *zArg) {
  sqlite3_free(cur->pVtab->zErrMsg);
  cur->pVtab->zErrMsg = imgpca_printable_msg(sqlite3_mprintf(zFmt, zArg));
  return cur->pVtab->zErrMsg ? SQLITE_ERROR : SQLITE_NOMEM;
}

static int core_error(sqlite3_vtab_cursor *cur, int rc, const char *err) {
  if (rc == IMGPCA_NOMEM) return SQLITE_NOMEM;
  if (rc == IMGPCA_INTERRUPT) return SQLITE_INTERRUPT;
  return vt_error(cur, "s3_fetch_many: %s", err && *err ? err : "failed");
}

static int fm_next(sqlite3_vtab_cursor *cur) {
  FetchCursor *c = (FetchCursor *)cur;
  char err[IMGPCA_ERRMAX];
  int rc;
  err[0] = 0;
  c->it = NULL;
  rc = imgpca_fetch_next(c->f, &c->it, &c->bEof, err);
  if (rc) return core_error(cur, rc, err);
  if (c->it) {
    FetchVtab *v = (FetchVtab *)cur->pVtab;
    if (c->iBase + c->it->iItem >= v->nRowid) v->nRowid = c->iBase + c->it->iItem + 1;
  }
  return SQLITE_OK;
}

static int add_value(FetchCursor *c, sqlite3_value *v) {
  const char *z;
  if (sqlite3_value_type(v) == SQLITE_NULL) return SQLITE_OK;
  z = (const char *)sqlite3_value_text(v);
  if (!z) return SQLITE_NOMEM;
  if (imgpca_value_has_nul(v)) return vt_error(&c->base, "%s", "s3_fetch_many: invalid URL: it contains a NUL byte");
  return imgpca_fetch_add(c->f, z) ? SQLITE_NOMEM : SQLITE_OK;
}

/* URLs of a JSON array, parsed with SQLite's JSON functions. */
static int add_json(FetchCursor *c, sqlite3 *db, sqlite3_value *v) {
  sqlite3_stmt *st = NULL;
  sqlite3_int64 nExpect = -1, nSeen = 0;
  int rc, bDone = 0;
  if (sqlite3_value_type(v) == SQLITE_NULL) return SQLITE_OK;
  if (sqlite3_value_type(v) == SQLITE_TEXT && imgpca_json_has_nul((const char *)sqlite3_value_text(v)))
    return vt_error(&c->base, "%s", "s3_fetch_many: invalid URL: it contains a NUL byte (\\u0000)");
  /* json_array_length is checked against the rows json_each gives: SQLite
  ** 3.40's json_each yields no row at all when copying its argument fails
  ** for lack of memory, which must not pass for an empty list. */
  rc = sqlite3_prepare_v2(db,
                          "SELECT CASE WHEN json_valid(?1) AND json_type(?1) = 'array' THEN json_array_length(?1) END, "
                          "value, type FROM (SELECT 1) LEFT JOIN json_each(CASE WHEN json_valid(?1) "
                          "AND json_type(?1) = 'array' THEN ?1 END)",
                          -1, &st, NULL);
  if (rc != SQLITE_OK) return rc == SQLITE_NOMEM ? rc : vt_error(&c->base, "s3_fetch_many: cannot parse urls: %s", sqlite3_errmsg(db));
  rc = sqlite3_bind_value(st, 1, v);
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *zType;
    rc = SQLITE_OK;
    if (sqlite3_column_type(st, 0) == SQLITE_NULL) {
      rc = vt_error(&c->base, "s3_fetch_many: invalid urls: expected a JSON array of URL strings, got '%.40s'",
                    (const char *)sqlite3_value_text(v));
      bDone = 1;
      break;
    }
    nExpect = sqlite3_column_int64(st, 0);
    if (sqlite3_column_type(st, 2) == SQLITE_NULL) continue; /* empty array */
    nSeen++;
    zType = (const char *)sqlite3_column_text(st, 2);
    if (!zType) {
      rc = SQLITE_NOMEM;
      break;
    }
    if (strcmp(zType, "null") == 0) continue; /* a null element */
    if (strcmp(zType, "text") != 0) {
      rc = vt_error(&c->base, "s3_fetch_many: invalid urls: element of type %s, expected a URL string", zType);
      bDone = 1;
      break;
    }
    rc = add_value(c, sqlite3_column_value(st, 1));
  }
  if (rc == SQLITE_DONE) rc = nSeen == nExpect ? SQLITE_OK : SQLITE_NOMEM;
  if (rc != SQLITE_OK && rc != SQLITE_NOMEM && !bDone)
    rc = vt_error(&c->base, "s3_fetch_many: cannot parse urls: %s", sqlite3_errmsg(db));
  sqlite3_finalize(st);
  return rc;
}

static int fm_filter(sqlite3_vtab_cursor *cur, int idxNum, const char *idxStr, int argc, sqlite3_value **argv) {
  FetchCursor *c = (FetchCursor *)cur;
  FetchVtab *v = (FetchVtab *)cur->pVtab;
  ImgpcaConfig *cfg = &v->conn->cfg;
  ImgpcaFetchOpts o;
  ImgpcaStorage *s = NULL;
  char err[IMGPCA_ERRMAX];
  int rc, k = 0;
  sqlite3_value *pUrls = NULL, *pSpec = NULL;
  (void)idxStr;
  cursor_reset(c);
  c->iBase = v->nRowid;
  if (!(idxNum & (IDX_URLS | IDX_URL_EQ | IDX_URL_IN))) {
    return vt_error(cur, "%s",
                    "s3_fetch_many: missing argument: a JSON array of URLs, e.g. s3_fetch_many('[\"s3://bucket/a.jpg\"]'), "
                    "or a constraint url IN (...)");
  }
  if (k < argc) pUrls = argv[k++];
  if ((idxNum & IDX_SPEC) && k < argc) pSpec = argv[k++];
  /* the hidden arguments read back as given: another constraint on them
  ** (one SQLite does not hand over) is checked against them, not NULL */
  if (((idxNum & IDX_URLS) && !(c->apArg[0] = sqlite3_value_dup(pUrls))) ||
      (pSpec && !(c->apArg[1] = sqlite3_value_dup(pSpec))))
    return SQLITE_NOMEM;
  memset(&o, 0, sizeof o);
  if (pSpec && sqlite3_value_type(pSpec) != SQLITE_NULL) {
    const char *zSpec;
    if (sqlite3_value_type(pSpec) != SQLITE_TEXT)
      return vt_error(cur, "s3_fetch_many: invalid spec: expected text, got %s", imgpca_type_name(pSpec));
    zSpec = (const char *)sqlite3_value_text(pSpec);
    if (!zSpec) return SQLITE_NOMEM;
    err[0] = 0;
    rc = img_spec_parse(zSpec, &o.spec, err);
    if (rc == IMGPCA_OK) rc = imgpca_conn_spec_models(v->conn, &o.spec, err); /* cnn: items */
    if (rc) {
      img_spec_release(&o.spec);
      return core_error(cur, rc, err);
    }
    o.bFeatures = 1;
  }
  o.nThreads = (int)imgpca_config_int(cfg, "imgpca.threads");
  if (o.nThreads <= 0) o.nThreads = imgpca_cpus_available();
  /* Workers allocate through sqlite3_malloc64: only with a thread-safe SQLite. */
  if (!sqlite3_threadsafe()) o.nThreads = 0;
  o.nInflight = (int)imgpca_config_int(cfg, "s3.max_inflight");
  o.maxBytes = sqlite3_limit(v->conn->db, SQLITE_LIMIT_LENGTH, -1);
  o.maxPixels = imgpca_config_int(cfg, "image.max_pixels");
  o.bContent = (idxNum & IDX_CONTENT) != 0;
  o.nThumb = (idxNum & IDX_THUMB) ? IMGPCA_FETCH_THUMB_SIZE : 0;
  rc = imgpca_conn_storage(v->conn, &s, err);
  if (rc == IMGPCA_OK) rc = imgpca_fetch_new(s, &o, &c->f, err);
  if (rc) {
    img_spec_release(&o.spec);
    return core_error(cur, rc, err);
  }
  if (idxNum & IDX_URLS) {
    rc = add_json(c, v->conn->db, pUrls);
  } else if (idxNum & IDX_URL_IN) {
    sqlite3_value *x;
    for (rc = sqlite3_vtab_in_first(pUrls, &x); rc == SQLITE_OK && x; rc = sqlite3_vtab_in_next(pUrls, &x)) {
      rc = add_value(c, x);
      if (rc) break;
    }
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
  } else {
    rc = add_value(c, pUrls);
  }
  if (rc) {
    cursor_reset(c);
    return rc;
  }
  return fm_next(cur);
}

static int fm_eof(sqlite3_vtab_cursor *cur) { return ((FetchCursor *)cur)->bEof; }

static int fm_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int i) {
  FetchCursor *c = (FetchCursor *)cur;
  const ImgpcaFetchItem *it = c->it;
  if (!it) return SQLITE_OK;
  switch (i) {
    case COL_URL: sqlite3_result_text(ctx, it->zUrl, -1, SQLITE_TRANSIENT); break;
    case COL_SIZE:
      if (it->nSize >= 0) sqlite3_result_int64(ctx, it->nSize);
      break;
    case COL_CONTENT:
      if (it->nSize >= 0)
        sqlite3_result_blob64(ctx, it->pContent ? (const void *)it->pContent : "", it->nContent, SQLITE_TRANSIENT);
      break;
    case COL_FEATURES:
      if (it->pFeat) sqlite3_result_blob64(ctx, it->pFeat, it->nFeat, SQLITE_TRANSIENT);
      break;
    case COL_THUMB:
      if (it->pThumb) sqlite3_result_blob64(ctx, it->pThumb, it->nThumb, SQLITE_TRANSIENT);
      break;
    case COL_ERROR:
      if (it->zError) {
        char *z = imgpca_printable_msg(sqlite3_mprintf("s3_fetch_many: %s", it->zError));
        if (!z) return SQLITE_NOMEM;
        sqlite3_result_text(ctx, z, -1, sqlite3_free);
      }
      break;
    case COL_URLS:
      if (c->apArg[0]) sqlite3_result_value(ctx, c->apArg[0]);
      break;
    case COL_SPEC:
      if (c->apArg[1]) sqlite3_result_value(ctx, c->apArg[1]);
      break;
    default: break;
  }
  return SQLITE_OK;
}

/* rowid = the URL's position in the input plus a base: 0 for the first
** statement of the connection, then past every rowid given out before, so
** rowids are unique across the cursors of the table (SQLite's OR plans,
** MULTI-INDEX OR, open a cursor per branch and merge them by rowid). */
static int fm_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *pRowid) {
  FetchCursor *c = (FetchCursor *)cur;
  *pRowid = c->iBase + (c->it ? c->it->iItem : 0);
  return SQLITE_OK;
}

static const sqlite3_module s3_fetch_many_module = {
    0, /* iVersion */
    0, /* xCreate: eponymous-only */
    fm_connect, fm_best_index, fm_disconnect, 0, fm_open, fm_close, fm_filter,
    fm_next, fm_eof, fm_column, fm_rowid,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

/* ---- what the module adds to SQLite (ext/imgpca.c registers it) ---- */

static const ImgpcaSqlTable aTable[] = {
    {"s3_fetch_many", &s3_fetch_many_module},
    {0}};

static const ImgpcaSqlDoc aDoc[] = {
    {"`s3_fetch_many(urls_json [, spec])`",
     "table",
     "`url, size, content, features, error, thumbnail`, one row per URL in input order (`thumbnail`: a 48-pixel JPEG made by the worker from the bytes in memory, only when the query uses the column); also `WHERE url IN (...) [AND spec = ...]`; `s3.max_inflight` GETs in flight, features (same bytes as `img_features`) computed by `imgpca.threads` workers; a failed object is a row with `error` set, never a statement error (see [Fetching many objects](#fetching-many-objects))"},
    {0}};

const ImgpcaModule imgpca_module_fetch = {.zName = "fetch", .aTable = aTable, .aDoc = aDoc};
