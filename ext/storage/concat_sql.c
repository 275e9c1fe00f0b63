/*
** s3_concat(dest_url, parts_json) -> TEXT (JSON)    SQLITE_DIRECTONLY
**
** Writes the object dest_url as the concatenation, in order, of the parts listed in
** parts_json, a JSON array whose elements are either a URL (the whole object) or an
** object {"url": u, "offset": o, "length": n, "size": s}: bytes [o, o+n) of u
** (offset default 0, length default to the end); "size", when given, is the size the
** object must have (a part of another size is an error, nothing is written).
** URLs and dest_url are local paths, file:// or s3:// URLs.  Memory stays constant
** (about 16 MiB) whatever the sizes: a local destination receives the parts streamed
** through a temporary file renamed at the end; an S3 destination is one multipart
** upload in which S3 parts of 5 MiB or more are copied by the server (UploadPartCopy)
** and smaller pieces are read and merged into 5 MiB parts; any failure aborts the
** upload (no partial object, no orphan multipart upload).
** Returns {"bytes": total, "parts": S3 parts (0: a single PUT or a local file),
**          "copied": bytes copied by the server, "streamed": bytes read here}.
** NULL dest_url or parts_json -> NULL, nothing written.  An empty array writes an
** empty object.
*/
#include "storage_sql.h"

#include <string.h>

/* One row per element: type, url, offset, length, size, unknown keys. */
static const char *zPartsSql =
    "SELECT p.type,"
    "       CASE p.type WHEN 'text' THEN p.value WHEN 'object' THEN json_extract(p.value, '$.url') END,"
    "       CASE p.type WHEN 'object' THEN json_extract(p.value, '$.offset') END,"
    "       CASE p.type WHEN 'object' THEN json_extract(p.value, '$.length') END,"
    "       CASE p.type WHEN 'object' THEN json_extract(p.value, '$.size') END,"
    "       CASE p.type WHEN 'object' THEN (SELECT group_concat(quote(k.key), ', ') FROM json_each(p.value) AS k"
    "                                        WHERE k.key NOT IN ('url', 'offset', 'length', 'size')) END"
    "  FROM json_each(?1) AS p ORDER BY p.id";

static int int_field(sqlite3_context *ctx, sqlite3_stmt *st, int iCol, int iPart, const char *zName,
                     int64_t dflt, int64_t *pOut) {
  int t = sqlite3_column_type(st, iCol);
  if (t == SQLITE_NULL) {
    *pOut = dflt;
    return 0;
  }
  if (t != SQLITE_INTEGER || sqlite3_column_int64(st, iCol) < 0) {
    imgpca_result_error(ctx, "s3_concat", "part %d: \"%s\" must be an integer >= 0, got '%s'", iPart,
                        zName, (const char *)sqlite3_column_text(st, iCol));
    return 1;
  }
  *pOut = sqlite3_column_int64(st, iCol);
  return 0;
}

/* A statement of this file could not be prepared or stepped: out of memory,
** or "cannot read the parts". */
static void sql_failed(sqlite3_context *ctx, sqlite3 *db) {
  if (sqlite3_errcode(db) == SQLITE_NOMEM)
    sqlite3_result_error_nomem(ctx);
  else
    imgpca_result_error(ctx, "s3_concat", "cannot read the parts: %s", sqlite3_errmsg(db));
}

/* 1 when zJson is a JSON array; otherwise 0 with the error set. */
static int parts_are_array(sqlite3_context *ctx, sqlite3 *db, const char *zJson) {
  sqlite3_stmt *st = NULL;
  int rc, bad;
  /* json_type, not json_valid: json_valid() answers 0 when it runs out of
  ** memory, json_type() raises the error (and rejects malformed JSON) */
  if (sqlite3_prepare_v2(db, "SELECT json_type(?1) = 'array'", -1, &st, NULL) != SQLITE_OK) {
    sql_failed(ctx, db);
    return 0;
  }
  sqlite3_bind_text(st, 1, zJson, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  bad = rc != SQLITE_ROW || !sqlite3_column_int(st, 0);
  if (rc != SQLITE_ROW && sqlite3_errcode(db) == SQLITE_NOMEM) {
    sqlite3_finalize(st);
    sqlite3_result_error_nomem(ctx);
    return 0;
  }
  sqlite3_finalize(st);
  if (bad) {
    imgpca_result_error(ctx, "s3_concat", "parts must be a JSON array of URLs or {\"url\", \"offset\", \"length\", \"size\"} objects");
    return 0;
  }
  return 1;
}

/* The parts read from the JSON array; azUrl[i] (sqlite3_malloc) is a[i].zUrl. */
typedef struct ConcatParts {
  ImgpcaConcatPart *a;
  char **azUrl;
  int n, nAlloc;
} ConcatParts;

static void parts_free(ConcatParts *ps) {
  int i;
  for (i = 0; i < ps->n; i++) sqlite3_free(ps->azUrl[i]);
  sqlite3_free(ps->azUrl);
  sqlite3_free(ps->a);
}

/* Room for one more part; 1 on success, 0 with the error set. */
static int parts_grow(sqlite3_context *ctx, ConcatParts *ps) {
  int nNew;
  ImgpcaConcatPart *aa;
  char **au;
  if (ps->n < ps->nAlloc) return 1;
  nNew = ps->nAlloc ? ps->nAlloc * 2 : 16;
  aa = sqlite3_realloc64(ps->a, (sqlite3_uint64)nNew * sizeof(*aa));
  au = aa ? sqlite3_realloc64(ps->azUrl, (sqlite3_uint64)nNew * sizeof(char *)) : NULL;
  if (aa) ps->a = aa;
  if (!aa || !au) {
    sqlite3_result_error_nomem(ctx);
    return 0;
  }
  ps->azUrl = au;
  ps->nAlloc = nNew;
  return 1;
}

/* Appends the part of the current row of st (zPartsSql); 1 on success, 0
** with the error set. */
static int part_add(sqlite3_context *ctx, sqlite3_stmt *st, ConcatParts *ps) {
  const char *zType = (const char *)sqlite3_column_text(st, 0);
  const char *zUrl = (const char *)sqlite3_column_text(st, 1);
  const char *zExtra = (const char *)sqlite3_column_text(st, 5);
  int n = ps->n;
  ImgpcaConcatPart *p;
  if ((!zType && sqlite3_column_type(st, 0) != SQLITE_NULL) || (!zUrl && sqlite3_column_type(st, 1) != SQLITE_NULL) ||
      (!zExtra && sqlite3_column_type(st, 5) != SQLITE_NULL)) {
    sqlite3_result_error_nomem(ctx); /* a text conversion ran out of memory */
    return 0;
  }
  if (zUrl && imgpca_value_has_nul(sqlite3_column_value(st, 1))) { /* "\u0000" in the JSON */
    imgpca_result_error(ctx, "s3_concat", "invalid URL of part %d: it contains a NUL byte", n + 1);
    return 0;
  }
  if (!parts_grow(ctx, ps)) return 0;
  p = &ps->a[n];
  memset(p, 0, sizeof(*p));
  if (!zType || (strcmp(zType, "text") != 0 && strcmp(zType, "object") != 0)) {
    imgpca_result_error(ctx, "s3_concat", "part %d: expected a URL or an object, got JSON %s", n, zType ? zType : "null");
    return 0;
  }
  if (!zUrl || !*zUrl) {
    imgpca_result_error(ctx, "s3_concat", "part %d: missing \"url\"", n);
    return 0;
  }
  if (zExtra) {
    imgpca_result_error(ctx, "s3_concat", "part %d: unknown key %s (expected url, offset, length, size)", n, zExtra);
    return 0;
  }
  if (int_field(ctx, st, 2, n, "offset", 0, &p->offset) || int_field(ctx, st, 3, n, "length", -1, &p->length) ||
      int_field(ctx, st, 4, n, "size", -1, &p->nExpectSize))
    return 0;
  if (!(ps->azUrl[n] = sqlite3_mprintf("%s", zUrl))) {
    sqlite3_result_error_nomem(ctx);
    return 0;
  }
  p->zUrl = ps->azUrl[n];
  ps->n++;
  return 1;
}

/* Reads the parts of the JSON array zJson into ps; 1 on success, 0 with
** the error set (ps then holds what was read, for parts_free). */
static int parts_read(sqlite3_context *ctx, sqlite3 *db, const char *zJson, ConcatParts *ps) {
  sqlite3_stmt *st = NULL;
  int rc, ok = 1;
  if (sqlite3_prepare_v2(db, zPartsSql, -1, &st, NULL) != SQLITE_OK) {
    sql_failed(ctx, db);
    return 0;
  }
  sqlite3_bind_text(st, 1, zJson, -1, SQLITE_STATIC);
  while (ok && (rc = sqlite3_step(st)) == SQLITE_ROW) ok = part_add(ctx, st, ps);
  if (ok && rc != SQLITE_DONE) {
    sql_failed(ctx, db);
    ok = 0;
  }
  sqlite3_finalize(st);
  return ok;
}

/* Writes the object and sets the JSON result (or the error). */
static void concat_run(sqlite3_context *ctx, ImgpcaConn *conn, const char *zDest, const ConcatParts *ps) {
  ImgpcaStorage *s;
  ImgpcaConcatStats stats;
  char err[IMGPCA_ERRMAX];
  int rc;
  err[0] = 0;
  rc = imgpca_conn_storage(conn, &s, err);
  if (rc == IMGPCA_OK) rc = imgpca_storage_concat(s, zDest, ps->a, ps->n, &stats, err);
  if (rc) {
    imgpca_result_core(ctx, "s3_concat", rc, err);
  } else {
    char *z = sqlite3_mprintf("{\"bytes\":%lld,\"parts\":%d,\"copied\":%lld,\"streamed\":%lld}",
                              (long long)stats.nBytes, stats.nPart, (long long)stats.nCopied,
                              (long long)stats.nStreamed);
    if (!z)
      sqlite3_result_error_nomem(ctx);
    else
      sqlite3_result_text(ctx, z, -1, sqlite3_free);
  }
}

void s3_concat_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  ImgpcaConn *conn = (ImgpcaConn *)sqlite3_user_data(ctx);
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  const char *zDest = (const char *)sqlite3_value_text(argv[0]);
  const char *zJson = (const char *)sqlite3_value_text(argv[1]);
  ConcatParts ps;
  (void)argc;
  if (imgpca_side_effect_refused(ctx, conn, "s3_concat")) return;
  if (!zDest || !zJson) return;
  if (imgpca_value_has_nul(argv[0])) {
    imgpca_result_error(ctx, "s3_concat", "invalid destination URL: it contains a NUL byte");
    return;
  }
  if (imgpca_json_has_nul(zJson)) {
    imgpca_result_error(ctx, "s3_concat", "invalid parts: a string contains a NUL byte (\\u0000)");
    return;
  }
  if (!parts_are_array(ctx, db, zJson)) return;
  memset(&ps, 0, sizeof ps);
  if (parts_read(ctx, db, zJson, &ps)) concat_run(ctx, conn, zDest, &ps);
  parts_free(&ps);
}
