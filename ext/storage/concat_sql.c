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

/* Reports a failed prepare or step of the parts queries; the caller stops. */
static void parts_sql_error(sqlite3_context *ctx, sqlite3 *db) {
  if (sqlite3_errcode(db) == SQLITE_NOMEM)
    sqlite3_result_error_nomem(ctx);
  else
    imgpca_result_error(ctx, "s3_concat", "cannot read the parts: %s", sqlite3_errmsg(db));
}

/* 1 if zJson is a JSON array; else 0 with the error (malformed JSON, another
** type, out of memory) set on ctx. */
static int parts_are_array(sqlite3_context *ctx, sqlite3 *db, const char *zJson) {
  sqlite3_stmt *st = NULL;
  int rc, bad;
  /* json_type, not json_valid: json_valid() answers 0 when it runs out of
  ** memory, json_type() raises the error (and rejects malformed JSON) */
  if (sqlite3_prepare_v2(db, "SELECT json_type(?1) = 'array'", -1, &st, NULL) != SQLITE_OK) {
    parts_sql_error(ctx, db);
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

/* The parts read so far: a[i].zUrl is azUrl[i], owned here. */
typedef struct ConcatParts {
  ImgpcaConcatPart *a;
  char **azUrl;
  int n, nAlloc;
} ConcatParts;

static void parts_free(ConcatParts *pp) {
  int i;
  for (i = 0; i < pp->n; i++) sqlite3_free(pp->azUrl[i]);
  sqlite3_free(pp->azUrl);
  sqlite3_free(pp->a);
}

/* Appends the part of the current row of zPartsSql to pp; 1 (error set on
** ctx) if the row is not a valid part or memory runs out. */
static int part_from_row(sqlite3_context *ctx, sqlite3_stmt *st, ConcatParts *pp) {
  const char *zType = (const char *)sqlite3_column_text(st, 0);
  const char *zUrl = (const char *)sqlite3_column_text(st, 1);
  const char *zExtra = (const char *)sqlite3_column_text(st, 5);
  int n = pp->n;
  ImgpcaConcatPart *p;
  if ((!zType && sqlite3_column_type(st, 0) != SQLITE_NULL) || (!zUrl && sqlite3_column_type(st, 1) != SQLITE_NULL) ||
      (!zExtra && sqlite3_column_type(st, 5) != SQLITE_NULL)) {
    sqlite3_result_error_nomem(ctx); /* a text conversion ran out of memory */
    return 1;
  }
  if (zUrl && imgpca_value_has_nul(sqlite3_column_value(st, 1))) { /* "\u0000" in the JSON */
    imgpca_result_error(ctx, "s3_concat", "invalid URL of part %d: it contains a NUL byte", n + 1);
    return 1;
  }
  if (n == pp->nAlloc) {
    int nNew = pp->nAlloc ? pp->nAlloc * 2 : 16;
    ImgpcaConcatPart *aa = sqlite3_realloc64(pp->a, (sqlite3_uint64)nNew * sizeof(*aa));
    char **au = aa ? sqlite3_realloc64(pp->azUrl, (sqlite3_uint64)nNew * sizeof(char *)) : NULL;
    if (aa) pp->a = aa;
    if (!aa || !au) {
      sqlite3_result_error_nomem(ctx);
      return 1;
    }
    pp->azUrl = au;
    pp->nAlloc = nNew;
  }
  p = &pp->a[n];
  memset(p, 0, sizeof(*p));
  if (!zType || (strcmp(zType, "text") != 0 && strcmp(zType, "object") != 0)) {
    imgpca_result_error(ctx, "s3_concat", "part %d: expected a URL or an object, got JSON %s", n, zType ? zType : "null");
    return 1;
  }
  if (!zUrl || !*zUrl) {
    imgpca_result_error(ctx, "s3_concat", "part %d: missing \"url\"", n);
    return 1;
  }
  if (zExtra) {
    imgpca_result_error(ctx, "s3_concat", "part %d: unknown key %s (expected url, offset, length, size)", n, zExtra);
    return 1;
  }
  if (int_field(ctx, st, 2, n, "offset", 0, &p->offset) || int_field(ctx, st, 3, n, "length", -1, &p->length) ||
      int_field(ctx, st, 4, n, "size", -1, &p->nExpectSize))
    return 1;
  if (!(pp->azUrl[n] = sqlite3_mprintf("%s", zUrl))) {
    sqlite3_result_error_nomem(ctx);
    return 1;
  }
  p->zUrl = pp->azUrl[n];
  pp->n++;
  return 0;
}

/* Reads every element of the JSON array zJson into pp; 1 (error set on ctx)
** at the first invalid one. */
static int read_parts(sqlite3_context *ctx, sqlite3 *db, const char *zJson, ConcatParts *pp) {
  sqlite3_stmt *st = NULL;
  int rc = SQLITE_DONE, bad = 0;
  if (sqlite3_prepare_v2(db, zPartsSql, -1, &st, NULL) != SQLITE_OK) {
    parts_sql_error(ctx, db);
    return 1;
  }
  sqlite3_bind_text(st, 1, zJson, -1, SQLITE_STATIC);
  while (!bad && (rc = sqlite3_step(st)) == SQLITE_ROW) bad = part_from_row(ctx, st, pp);
  if (!bad && rc != SQLITE_DONE) {
    parts_sql_error(ctx, db);
    bad = 1;
  }
  sqlite3_finalize(st);
  return bad;
}

void s3_concat_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  ImgpcaConn *conn = (ImgpcaConn *)sqlite3_user_data(ctx);
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  const char *zDest = (const char *)sqlite3_value_text(argv[0]);
  const char *zJson = (const char *)sqlite3_value_text(argv[1]);
  ConcatParts parts = {NULL, NULL, 0, 0};
  int rc;
  ImgpcaStorage *s;
  ImgpcaConcatStats stats;
  char err[IMGPCA_ERRMAX];
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
  if (!read_parts(ctx, db, zJson, &parts)) {
    err[0] = 0;
    rc = imgpca_conn_storage(conn, &s, err);
    if (rc == IMGPCA_OK) rc = imgpca_storage_concat(s, zDest, parts.a, parts.n, &stats, err);
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
  parts_free(&parts);
}
