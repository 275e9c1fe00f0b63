/*
** Shared SQL glue (see sqlglue.h): result helpers, the per-module state of a
** connection, JSON options.  No SQL function of its own.
*/
#include "sqlglue.h"

#include "../common/fmt.h"

#include <stdarg.h>
#include <string.h>

int imgpca_side_effect_refused(sqlite3_context *ctx, ImgpcaConn *conn, const char *zFunc) {
  if (!conn || conn->nReadOnly == 0) return 0;
  /* recorded too: csv_export reports it even if this message is lost to OOM */
  conn->zRefused = zFunc;
  imgpca_result_error(ctx, zFunc, "not allowed inside the query of csv_export (the export is read-only)");
  return 1;
}

void imgpca_result_error(sqlite3_context *ctx, const char *zFunc, const char *zFmt, ...) {
  va_list ap;
  char *zMsg, *zAll;
  va_start(ap, zFmt);
  zMsg = sqlite3_vmprintf(zFmt, ap);
  va_end(ap);
  if (!zMsg) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  zAll = imgpca_printable_msg(sqlite3_mprintf("%s: %s", zFunc, zMsg));
  sqlite3_free(zMsg);
  if (!zAll) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_error(ctx, zAll, -1);
  sqlite3_free(zAll);
}

int imgpca_interrupted(sqlite3 *db) {
  sqlite3_stmt *st = NULL;
  int rc;
  if (!db) return 0;
  rc = sqlite3_prepare_v2(db, "SELECT 1", -1, &st, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_INTERRUPT;
}

void imgpca_result_core(sqlite3_context *ctx, const char *zFunc, int rc, const char *err) {
  if (rc == IMGPCA_NOMEM)
    sqlite3_result_error_nomem(ctx);
  else if (rc == IMGPCA_INTERRUPT)
    sqlite3_result_error_code(ctx, SQLITE_INTERRUPT);
  else
    imgpca_result_error(ctx, zFunc, "%s", err && *err ? err : "failed");
}

void imgpca_result_buf_text(sqlite3_context *ctx, ImgpcaBuf *b) {
  size_t n;
  unsigned char *p;
  if (b->oom) {
    imgpca_buf_free(b);
    sqlite3_result_error_nomem(ctx);
    return;
  }
  p = imgpca_buf_detach(b, &n);
  if (!p) {
    sqlite3_result_text(ctx, "", 0, SQLITE_STATIC);
    return;
  }
  /* imgpca_malloc is sqlite3_malloc64 once the extension is loaded. */
  sqlite3_result_text64(ctx, (const char *)p, n, sqlite3_free, SQLITE_UTF8);
}

void imgpca_result_owned_blob(sqlite3_context *ctx, void *p, size_t n) {
  /* imgpca_malloc is sqlite3_malloc64 once the extension is loaded. */
  sqlite3_result_blob64(ctx, p, (sqlite3_uint64)n, sqlite3_free);
}

const char *imgpca_type_name(sqlite3_value *v) {
  switch (sqlite3_value_type(v)) {
    case SQLITE_INTEGER: return "integer";
    case SQLITE_FLOAT: return "real";
    case SQLITE_TEXT: return "text";
    case SQLITE_BLOB: return "blob";
    default: return "null";
  }
}

char *imgpca_printable_msg(char *z) {
  ImgpcaBuf b;
  char *zOut;
  if (!z) return NULL;
  imgpca_buf_init(&b);
  imgpca_printable_append(&b, z, strlen(z), 0);
  imgpca_buf_append(&b, "", 1);
  sqlite3_free(z);
  if (b.oom) {
    imgpca_buf_free(&b);
    return NULL;
  }
  zOut = sqlite3_malloc64(b.n);
  if (zOut) memcpy(zOut, b.p, b.n);
  imgpca_buf_free(&b);
  return zOut;
}

int imgpca_value_has_nul(sqlite3_value *v) {
  const char *z = (const char *)sqlite3_value_text(v);
  int n = sqlite3_value_bytes(v);
  return z && memchr(z, 0, (size_t)n) != NULL;
}

int imgpca_json_has_nul(const char *z) {
  for (; z && *z; z++) {
    if (*z != '\\') continue;
    if (z[1] == 'u' && z[2] == '0' && z[3] == '0' && z[4] == '0' && z[5] == '0') return 1;
    if (z[1]) z++; /* the escaped character (\\ or \") */
  }
  return 0;
}

/* ---- per-module state ---- */

void **imgpca_conn_state(ImgpcaConn *conn, const ImgpcaModule *m) {
  const ImgpcaModule *const *ap = imgpca_modules();
  int i;
  for (i = 0; ap[i]; i++)
    if (ap[i] == m) return &conn->apState[i];
  return NULL;
}

/* ---- JSON options objects ---- */

static void options_unknown(sqlite3_context *ctx, const char *zFunc, const char *zKey, const ImgpcaOption *aOpt) {
  ImgpcaBuf b;
  int i;
  imgpca_buf_init(&b);
  for (i = 0; aOpt[i].zKey; i++) {
    if (i) imgpca_buf_append(&b, ", ", 2);
    imgpca_buf_append(&b, aOpt[i].zKey, strlen(aOpt[i].zKey));
  }
  imgpca_buf_append(&b, "", 1);
  if (b.oom)
    sqlite3_result_error_nomem(ctx);
  else
    imgpca_result_error(ctx, zFunc, "unknown option '%s' (expected %s)", zKey, (const char *)b.p);
  imgpca_buf_free(&b);
}

int imgpca_json_options(sqlite3_context *ctx, const char *zFunc, sqlite3_value *v, const ImgpcaOption *aOpt,
                        void *pArg) {
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  sqlite3_stmt *st = NULL;
  char err[IMGPCA_ERRMAX];
  int rc;
  if (!v || sqlite3_value_type(v) == SQLITE_NULL) return 0;
  if (sqlite3_value_type(v) != SQLITE_TEXT) {
    imgpca_result_error(ctx, zFunc, "options must be a JSON object, got %s", imgpca_type_name(v));
    return 1;
  }
  /* json_type, not json_valid: json_valid() answers 0 when it runs out of
  ** memory, json_type() raises the error.  A non-object gives one row with
  ** ok = 0 (json_each of a dummy object). */
  rc = sqlite3_prepare_v2(db,
                          "SELECT key, type, CAST(atom AS TEXT), ok, value FROM (SELECT "
                          "json_type(?1) = 'object' AS ok), "
                          "json_each(CASE WHEN ok THEN ?1 ELSE '{\"\":0}' END)",
                          -1, &st, NULL);
  if (rc != SQLITE_OK) {
    if (rc == SQLITE_NOMEM)
      sqlite3_result_error_nomem(ctx);
    else
      imgpca_result_error(ctx, zFunc, "cannot parse options: %s", sqlite3_errmsg(db));
    return 1;
  }
  sqlite3_bind_value(st, 1, v);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *zKey = (const char *)sqlite3_column_text(st, 0);
    const char *zType = (const char *)sqlite3_column_text(st, 1);
    const char *zText = (const char *)sqlite3_column_text(st, 2);
    int i;
    if (!sqlite3_column_int(st, 3)) break;
    if (!zKey || !zType) {
      sqlite3_finalize(st);
      sqlite3_result_error_nomem(ctx);
      return 1;
    }
    for (i = 0; aOpt[i].zKey && strcmp(aOpt[i].zKey, zKey) && strcmp(aOpt[i].zKey, "*"); i++) {
    }
    if (!aOpt[i].zKey) {
      options_unknown(ctx, zFunc, zKey, aOpt);
      sqlite3_finalize(st);
      return 1;
    }
    err[0] = 0;
    rc = aOpt[i].xSet(pArg, db, zKey, zType, zText, sqlite3_column_value(st, 4), err);
    if (rc != IMGPCA_OK) {
      sqlite3_finalize(st);
      imgpca_result_core(ctx, zFunc, rc, err);
      return 1;
    }
  }
  if (rc == SQLITE_ROW) { /* not an object */
    imgpca_result_error(ctx, zFunc, "options must be a JSON object, got '%.60s'", (const char *)sqlite3_value_text(v));
    sqlite3_finalize(st);
    return 1;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) {
    if (rc == SQLITE_NOMEM)
      sqlite3_result_error_nomem(ctx);
    else /* malformed JSON */
      imgpca_result_error(ctx, zFunc, "options must be a JSON object, got '%.60s'",
                          (const char *)sqlite3_value_text(v));
    return 1;
  }
  return 0;
}
