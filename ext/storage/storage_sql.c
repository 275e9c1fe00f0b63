/*
** Storage SQL surface (every function and the table are SQLITE_DIRECTONLY).
** URLs: s3://bucket/key (or s3a://), file:///abs/path, or a local path.
**
**   s3_fetch(url [, offset [, length]])   -> BLOB: the object, or length bytes
**        from offset (length omitted/NULL/negative: to the end).  NULL url ->
**        NULL.  Missing object -> error naming the URL.  Larger than
**        SQLITE_LIMIT_LENGTH -> error (nothing is read).
**   s3_fetch_or_null(url [, offset [, length]]) -> same, but NULL when the
**        object does not exist (other failures still raise errors)
**   s3_put(url, data)     -> S3: the ETag (TEXT); local: bytes written (INTEGER).
**        data BLOB or TEXT (UTF-8); NULL url or data -> NULL, nothing written.
**        Local writes are atomic (temp file + rename); S3 uploads at least
**        s3.multipart_threshold bytes go multipart (aborted on failure).
**   s3_delete(url)        -> 1 when deleted (local: 0 when there was no file;
**        S3 does not tell, so 1)
**   s3_config()           -> JSON: effective endpoint, region, url style,
**        credentials source, masked access key
**   SELECT ... FROM s3_list(url_glob)  table: url, key, name, parent, size,
**        etag, last_modified, content (hidden argument: pattern).  content is
**        fetched only when the query uses it, s3.max_inflight requests ahead of
**        the cursor, in listing order.  A missing argument is an error.
*/
#include "storage_sql.h"

#include <stdio.h>

static ImgpcaStorage *ctx_storage(sqlite3_context *ctx, const char *zFunc) {
  ImgpcaConn *conn = (ImgpcaConn *)sqlite3_user_data(ctx);
  ImgpcaStorage *s = NULL;
  char err[IMGPCA_ERRMAX];
  int rc = imgpca_conn_storage(conn, &s, err);
  if (rc) {
    imgpca_result_core(ctx, zFunc, rc, err);
    return NULL;
  }
  return s;
}

static int int_arg(sqlite3_context *ctx, const char *zFunc, const char *zName, sqlite3_value *v,
                   int64_t dflt, int64_t *pOut) {
  int t = sqlite3_value_numeric_type(v);
  if (t == SQLITE_NULL) {
    *pOut = dflt;
    return 0;
  }
  if (t != SQLITE_INTEGER) {
    imgpca_result_error(ctx, zFunc, "%s must be an integer, got %s", zName, imgpca_type_name(v));
    return 1;
  }
  *pOut = sqlite3_value_int64(v);
  return 0;
}

static void fetch(sqlite3_context *ctx, int argc, sqlite3_value **argv, const char *zFunc, int bOrNull) {
  ImgpcaConn *conn = (ImgpcaConn *)sqlite3_user_data(ctx);
  const char *zUrl = (const char *)sqlite3_value_text(argv[0]);
  int64_t offset = 0, length = -1, maxBytes;
  ImgpcaStorage *s;
  ImgpcaBuf out;
  char err[IMGPCA_ERRMAX];
  int nf = 0, rc;
  if (!zUrl) return;
  if (imgpca_value_has_nul(argv[0])) {
    imgpca_result_error(ctx, zFunc, "invalid URL: it contains a NUL byte");
    return;
  }
  if (argc > 1 && int_arg(ctx, zFunc, "offset", argv[1], 0, &offset)) return;
  if (argc > 2 && int_arg(ctx, zFunc, "length", argv[2], -1, &length)) return;
  if (offset < 0) {
    imgpca_result_error(ctx, zFunc, "offset must be >= 0, got %lld", (long long)offset);
    return;
  }
  if (length < 0) length = -1;
  if (!(s = ctx_storage(ctx, zFunc))) return;
  maxBytes = sqlite3_limit(conn->db, SQLITE_LIMIT_LENGTH, -1);
  err[0] = 0;
  rc = imgpca_storage_get(s, zUrl, offset, length, maxBytes, &out, &nf, err);
  if (rc == IMGPCA_OK) {
    imgpca_result_owned_blob(ctx, out.p ? out.p : imgpca_malloc(1), out.n);
  } else if (nf && bOrNull) {
    sqlite3_result_null(ctx);
  } else {
    imgpca_result_core(ctx, zFunc, rc, err);
  }
}

static void s3_fetch_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  fetch(ctx, argc, argv, "s3_fetch", 0);
}

static void s3_fetch_or_null_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  fetch(ctx, argc, argv, "s3_fetch_or_null", 1);
}

static void s3_put_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  const char *zUrl = (const char *)sqlite3_value_text(argv[0]);
  const void *p;
  size_t n;
  ImgpcaStorage *s;
  char err[IMGPCA_ERRMAX];
  char *zEtag = NULL;
  int64_t nBytes = 0;
  int rc;
  ImgpcaUrl u;
  (void)argc;
  if (imgpca_side_effect_refused(ctx, sqlite3_user_data(ctx), "s3_put")) return;
  if (!zUrl || sqlite3_value_type(argv[1]) == SQLITE_NULL) return;
  if (imgpca_value_has_nul(argv[0])) {
    imgpca_result_error(ctx, "s3_put", "invalid URL: it contains a NUL byte");
    return;
  }
  if (sqlite3_value_type(argv[1]) == SQLITE_BLOB) {
    p = sqlite3_value_blob(argv[1]);
  } else {
    p = sqlite3_value_text(argv[1]);
  }
  n = (size_t)sqlite3_value_bytes(argv[1]);
  if (!p && n) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  if (!(s = ctx_storage(ctx, "s3_put"))) return;
  rc = imgpca_url_parse(zUrl, &u, err);
  if (rc) {
    imgpca_result_core(ctx, "s3_put", rc, err);
    return;
  }
  rc = imgpca_storage_put(s, zUrl, p ? p : "", n, &zEtag, &nBytes, err);
  if (rc) {
    imgpca_result_core(ctx, "s3_put", rc, err);
  } else if (u.eScheme == IMGPCA_URL_S3) {
    sqlite3_result_text(ctx, zEtag ? zEtag : "", -1, SQLITE_TRANSIENT);
  } else {
    sqlite3_result_int64(ctx, nBytes);
  }
  imgpca_url_free(&u);
  imgpca_free(zEtag);
}

static void s3_delete_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  const char *zUrl = (const char *)sqlite3_value_text(argv[0]);
  ImgpcaStorage *s;
  char err[IMGPCA_ERRMAX];
  int deleted = 0, rc;
  (void)argc;
  if (imgpca_side_effect_refused(ctx, sqlite3_user_data(ctx), "s3_delete")) return;
  if (!zUrl) return;
  if (imgpca_value_has_nul(argv[0])) {
    imgpca_result_error(ctx, "s3_delete", "invalid URL: it contains a NUL byte");
    return;
  }
  if (!(s = ctx_storage(ctx, "s3_delete"))) return;
  rc = imgpca_storage_delete(s, zUrl, &deleted, err);
  if (rc)
    imgpca_result_core(ctx, "s3_delete", rc, err);
  else
    sqlite3_result_int(ctx, deleted);
}

static void s3_config_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  ImgpcaStorage *s;
  ImgpcaBuf b;
  char err[IMGPCA_ERRMAX];
  int rc;
  (void)argc;
  (void)argv;
  if (!(s = ctx_storage(ctx, "s3_config"))) return;
  imgpca_buf_init(&b);
  rc = imgpca_storage_describe(s, &b, err);
  if (rc) {
    imgpca_buf_free(&b);
    imgpca_result_core(ctx, "s3_config", rc, err);
    return;
  }
  imgpca_result_buf_text(ctx, &b);
}

/* ---- s3_list ---- */
enum { COL_URL,
       COL_KEY,
       COL_NAME,
       COL_PARENT,
       COL_SIZE,
       COL_ETAG,
       COL_LASTMOD,
       COL_CONTENT,
       COL_PATTERN };

typedef struct ListVtab {
  sqlite3_vtab base;
  ImgpcaConn *conn;
  sqlite3_int64 nRowid; /* last rowid given out (see list_rowid) */
} ListVtab;

typedef struct ListCursor {
  sqlite3_vtab_cursor base;
  ImgpcaLister *l;
  sqlite3_int64 iRow;
  int bEof;
  int bHaveContent;
  ImgpcaBuf content;
  sqlite3_value *pPattern; /* the argument, read back by the pattern column */
} ListCursor;

static int list_connect(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                        sqlite3_vtab **ppVtab, char **pzErr) {
  ListVtab *v;
  int rc;
  (void)argc;
  (void)argv;
  (void)pzErr;
  rc = sqlite3_declare_vtab(db,
                            "CREATE TABLE x(url TEXT, key TEXT, name TEXT, parent TEXT, size INTEGER, "
                            "etag TEXT, last_modified TEXT, content BLOB, pattern HIDDEN)");
  if (rc != SQLITE_OK) return rc;
  v = sqlite3_malloc(sizeof(*v));
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof(*v));
  v->conn = (ImgpcaConn *)pAux;
  sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  *ppVtab = &v->base;
  return SQLITE_OK;
}

static int list_disconnect(sqlite3_vtab *p) {
  sqlite3_free(p);
  return SQLITE_OK;
}

/* idxNum bits: 1 = pattern given (argv[0]), 2 = content used, 4 = LIMIT given,
** 8 = OFFSET given (LIMIT/OFFSET only bound the prefetch window, and only
** when no other constraint filters rows; SQLite applies them itself). */
static int list_best_index(sqlite3_vtab *tab, sqlite3_index_info *info) {
  int i, idxNum = 0, iPattern = -1, iLimit = -1, iOffset = -1, n = 1, nOther = 0;
  for (i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *c = &info->aConstraint[i];
    if (c->iColumn == COL_PATTERN && c->op == SQLITE_INDEX_CONSTRAINT_EQ) {
      if (!c->usable) return SQLITE_CONSTRAINT;
      iPattern = i;
    } else if (c->op == SQLITE_INDEX_CONSTRAINT_LIMIT && c->usable) {
      iLimit = i;
    } else if (c->op == SQLITE_INDEX_CONSTRAINT_OFFSET && c->usable) {
      iOffset = i;
    } else {
      nOther++;
    }
  }
  /* With other constraints (filtered by SQLite after us) the LIMIT says
  ** nothing about how many rows we must produce: do not use it. */
  if (nOther) iLimit = iOffset = -1;
  if (iPattern >= 0) {
    info->aConstraintUsage[iPattern].argvIndex = n++;
    info->aConstraintUsage[iPattern].omit = 1;
    idxNum |= 1;
    info->estimatedCost = 1e6;
    info->estimatedRows = 100000;
    if (iLimit >= 0) {
      info->aConstraintUsage[iLimit].argvIndex = n++;
      idxNum |= 4;
    }
    if (iOffset >= 0) {
      info->aConstraintUsage[iOffset].argvIndex = n++;
      idxNum |= 8;
    }
  } else {
    info->estimatedCost = 1e300; /* xFilter reports the missing argument */
  }
  if (info->colUsed & ((sqlite3_uint64)1 << COL_CONTENT)) idxNum |= 2;
  info->idxNum = idxNum;
  (void)tab;
  return SQLITE_OK;
}

static int list_open(sqlite3_vtab *p, sqlite3_vtab_cursor **ppCur) {
  ListCursor *c = sqlite3_malloc(sizeof(*c));
  (void)p;
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof(*c));
  c->bEof = 1;
  *ppCur = &c->base;
  return SQLITE_OK;
}

static void cursor_reset(ListCursor *c) {
  imgpca_lister_close(c->l);
  c->l = NULL;
  imgpca_buf_free(&c->content);
  c->bHaveContent = 0;
  c->bEof = 1;
  sqlite3_value_free(c->pPattern);
  c->pPattern = NULL;
}

static int list_close(sqlite3_vtab_cursor *cur) {
  ListCursor *c = (ListCursor *)cur;
  cursor_reset(c);
  sqlite3_free(c);
  return SQLITE_OK;
}

static int list_interrupted(void *pDb) { return imgpca_interrupted((sqlite3 *)pDb); }

static int vtab_error(sqlite3_vtab_cursor *cur, int rc, const char *err) {
  if (rc == IMGPCA_NOMEM) return SQLITE_NOMEM;
  if (rc == IMGPCA_INTERRUPT) return SQLITE_INTERRUPT;
  sqlite3_free(cur->pVtab->zErrMsg);
  cur->pVtab->zErrMsg = imgpca_printable_msg(sqlite3_mprintf("s3_list: %s", err));
  return cur->pVtab->zErrMsg ? SQLITE_ERROR : SQLITE_NOMEM;
}

static int list_next(sqlite3_vtab_cursor *cur) {
  ListCursor *c = (ListCursor *)cur;
  char err[IMGPCA_ERRMAX];
  int rc;
  imgpca_buf_free(&c->content);
  c->bHaveContent = 0;
  rc = imgpca_lister_next(c->l, &c->bEof, err);
  if (rc) return vtab_error(cur, rc, err);
  c->iRow = ++((ListVtab *)cur->pVtab)->nRowid;
  return SQLITE_OK;
}

static int list_filter(sqlite3_vtab_cursor *cur, int idxNum, const char *idxStr, int argc,
                       sqlite3_value **argv) {
  ListCursor *c = (ListCursor *)cur;
  ListVtab *v = (ListVtab *)cur->pVtab;
  ImgpcaStorage *s;
  const char *zPattern;
  char err[IMGPCA_ERRMAX];
  int64_t nAhead = -1;
  int rc, k = 1;
  (void)idxStr;
  (void)argc;
  cursor_reset(c);
  if (!(idxNum & 1)) {
    sqlite3_free(cur->pVtab->zErrMsg);
    cur->pVtab->zErrMsg = sqlite3_mprintf(
        "s3_list: missing argument: a URL or glob, e.g. s3_list('s3://bucket/prefix/**/*.jpg') "
        "or s3_list('/path/to/folder/**/*.jpg')");
    return SQLITE_ERROR;
  }
  /* read back as given: another constraint on the pattern column (one
  ** SQLite does not hand over) is checked against it, not against NULL */
  c->pPattern = sqlite3_value_dup(argv[0]);
  if (!c->pPattern) return SQLITE_NOMEM;
  zPattern = (const char *)sqlite3_value_text(argv[0]);
  if (!zPattern) return SQLITE_OK; /* NULL pattern: no rows */
  if (imgpca_value_has_nul(argv[0])) {
    sqlite3_free(cur->pVtab->zErrMsg);
    cur->pVtab->zErrMsg = sqlite3_mprintf("s3_list: invalid URL or glob: it contains a NUL byte");
    return cur->pVtab->zErrMsg ? SQLITE_ERROR : SQLITE_NOMEM;
  }
  if (idxNum & 4) {
    /* LIMIT + OFFSET rows at most are read; a negative LIMIT is no limit, a
    ** negative OFFSET is 0, and the sum saturates (no signed overflow). */
    sqlite3_int64 nLimit = sqlite3_value_int64(argv[k++]);
    sqlite3_int64 nOffset = (idxNum & 8) ? sqlite3_value_int64(argv[k++]) : 0;
    if (nOffset < 0) nOffset = 0;
    if (nLimit < 0)
      nAhead = -1;
    else if (nLimit > INT64_MAX - nOffset)
      nAhead = INT64_MAX;
    else
      nAhead = nLimit + nOffset;
    if (nAhead == 0) nAhead = 1;
  }
  rc = imgpca_conn_storage(v->conn, &s, err);
  if (rc == IMGPCA_OK)
    rc = imgpca_lister_open(s, zPattern, (idxNum & 2) != 0, sqlite3_limit(v->conn->db, SQLITE_LIMIT_LENGTH, -1),
                            nAhead, &c->l, err);
  if (rc) return vtab_error(cur, rc, err);
  imgpca_lister_set_interrupt(c->l, list_interrupted, v->conn->db);
  return list_next(cur);
}

static int list_eof(sqlite3_vtab_cursor *cur) { return ((ListCursor *)cur)->bEof; }

static int list_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int i) {
  ListCursor *c = (ListCursor *)cur;
  /* names need no stat of a local file; size, etag and time do */
  const ImgpcaEntry *e = i == COL_SIZE || i == COL_ETAG || i == COL_LASTMOD ? imgpca_lister_entry(c->l)
                                                                            : imgpca_lister_entry_names(c->l);
  if (i == COL_PATTERN) {
    if (c->pPattern) sqlite3_result_value(ctx, c->pPattern);
    return SQLITE_OK;
  }
  switch (i) {
    case COL_URL: sqlite3_result_text(ctx, e->zUrl, -1, SQLITE_TRANSIENT); break;
    case COL_KEY: sqlite3_result_text(ctx, e->zKey, -1, SQLITE_TRANSIENT); break;
    case COL_NAME: sqlite3_result_text(ctx, e->zName, -1, SQLITE_TRANSIENT); break;
    case COL_PARENT: sqlite3_result_text(ctx, e->zParent, -1, SQLITE_TRANSIENT); break;
    case COL_SIZE:
      if (e->nSize >= 0)
        sqlite3_result_int64(ctx, e->nSize);
      else
        sqlite3_result_null(ctx); /* vanished while listed */
      break;
    case COL_ETAG: sqlite3_result_text(ctx, e->zEtag, -1, SQLITE_TRANSIENT); break;
    case COL_LASTMOD: sqlite3_result_text(ctx, e->zLastModified, -1, SQLITE_TRANSIENT); break;
    case COL_CONTENT: {
      if (!c->bHaveContent) {
        char err[IMGPCA_ERRMAX];
        int rc = imgpca_lister_content(c->l, &c->content, err);
        if (rc) {
          imgpca_result_core(ctx, "s3_list", rc, err);
          return rc == IMGPCA_NOMEM ? SQLITE_NOMEM : SQLITE_ERROR;
        }
        c->bHaveContent = 1;
      }
      sqlite3_result_blob64(ctx, c->content.p ? (const void *)c->content.p : "", c->content.n,
                            SQLITE_TRANSIENT);
      break;
    }
    default: sqlite3_result_null(ctx); break;
  }
  return SQLITE_OK;
}

/* Rowids are unique across the cursors of the table, not only within one
** xFilter: SQLite's OR plans (MULTI-INDEX OR) open a cursor per branch and
** merge them by rowid. */
static int list_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *pRowid) {
  *pRowid = ((ListCursor *)cur)->iRow;
  return SQLITE_OK;
}

static const sqlite3_module s3_list_module = {
    0, /* iVersion */
    0, /* xCreate: eponymous-only */
    list_connect, list_best_index, list_disconnect, 0, list_open, list_close, list_filter,
    list_next, list_eof, list_column, list_rowid,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

/* ---- the connection's storage ---- */

static int conn_interrupted(void *pDb) { return imgpca_interrupted((sqlite3 *)pDb); }

static void storage_free(void *p) { imgpca_storage_free((ImgpcaStorage *)p); }

int imgpca_conn_storage(ImgpcaConn *conn, ImgpcaStorage **pp, char *err) {
  void **pSlot = imgpca_conn_state(conn, &imgpca_module_storage);
  if (!*pSlot) {
    ImgpcaStorage *s = NULL;
    int rc = imgpca_storage_new(&conn->cfg, &s, err);
    if (rc) return rc;
    imgpca_storage_set_interrupt(s, conn_interrupted, conn->db);
    *pSlot = s;
  }
  *pp = (ImgpcaStorage *)*pSlot;
  return IMGPCA_OK;
}

/* ---- what the module adds to SQLite (ext/imgpca.c registers it) ---- */

static const ImgpcaSqlFunc aFunc[] = {
    {"s3_fetch", 1, IMGPCA_SIDE_EFFECT, s3_fetch_func, 0, 0},
    {"s3_fetch", 2, IMGPCA_SIDE_EFFECT, s3_fetch_func, 0, 0},
    {"s3_fetch", 3, IMGPCA_SIDE_EFFECT, s3_fetch_func, 0, 0},
    {"s3_fetch_or_null", 1, IMGPCA_SIDE_EFFECT, s3_fetch_or_null_func, 0, 0},
    {"s3_fetch_or_null", 2, IMGPCA_SIDE_EFFECT, s3_fetch_or_null_func, 0, 0},
    {"s3_fetch_or_null", 3, IMGPCA_SIDE_EFFECT, s3_fetch_or_null_func, 0, 0},
    {"s3_put", 2, IMGPCA_SIDE_EFFECT, s3_put_func, 0, 0},
    {"s3_delete", 1, IMGPCA_SIDE_EFFECT, s3_delete_func, 0, 0},
    {"s3_config", 0, IMGPCA_SIDE_EFFECT, s3_config_func, 0, 0},
    {"s3_concat", 2, IMGPCA_SIDE_EFFECT, s3_concat_func, 0, 0},
    {0}};

static const ImgpcaSqlTable aTable[] = {
    {"s3_list", &s3_list_module},
    {0}};

static const ImgpcaSqlDoc aDoc[] = {
    {"`s3_list(url_glob)`",
     "table",
     "`url, key, name, parent, size, etag, last_modified, content`; `s3://bucket/prefix/**` or a local folder; `content` fetched only when used, concurrently; local walks follow symlinks but enter each folder once, skip FIFOs/sockets/devices and honour `sqlite3_interrupt` (docs/STORAGE.md)"},
    {"`s3_fetch(url [, offset [, length]])`",
     "BLOB",
     "error naming the URL when missing"},
    {"`s3_fetch_or_null(url [, offset [, length]])`",
     "BLOB or NULL",
     "NULL when the object does not exist"},
    {"`s3_put(url, data)`",
     "text / integer",
     "ETag (S3) or bytes written (local); atomic; multipart above a threshold"},
    {"`s3_delete(url)`",
     "integer",
     "1 if deleted"},
    {"`s3_concat(dest_url, parts_json)`",
     "JSON",
     "writes the concatenation of object ranges in constant memory; on S3 one multipart upload with server-side copies (UploadPartCopy), aborted on failure"},
    {"`s3_config()`",
     "JSON",
     "effective endpoint (user info masked), region, URL style, credentials source, masked access key, TLS verification and CA bundle"},
    {0}};

const ImgpcaModule imgpca_module_storage = {.zName = "storage", .aFunc = aFunc, .aTable = aTable, .aSetting = imgpca_storage_settings, .aDoc = aDoc, .xConnFree = storage_free};
