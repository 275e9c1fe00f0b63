/*
** Shared SQL glue (see sqlglue.h): result helpers, the connection's storage,
** vector arguments and results.  No SQL function of its own.
*/
#include "sqlglue.h"

#include <stdarg.h>

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
  zAll = sqlite3_mprintf("%s: %s", zFunc, zMsg);
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

/* ---- the connection's storage ---- */

int imgpca_conn_storage(ImgpcaConn *conn, ImgpcaStorage **pp, char *err) {
  if (!conn->pStorage) {
    int rc = imgpca_storage_new(&conn->cfg, &conn->pStorage, err);
    if (rc) return rc;
  }
  *pp = conn->pStorage;
  return IMGPCA_OK;
}

/* ---- vector arguments and results ---- */

int fvec_arg(sqlite3_context *ctx, const char *zFunc, const char *zWhat, sqlite3_value *v,
             FvecArg *out) {
  char err[IMGPCA_ERRMAX];
  int rc;
  memset(out, 0, sizeof(*out));
  switch (sqlite3_value_type(v)) {
    case SQLITE_NULL:
      out->isNull = 1;
      return 0;
    case SQLITE_BLOB: {
      const unsigned char *p = sqlite3_value_blob(v);
      size_t nb = (size_t)sqlite3_value_bytes(v);
      rc = fvec_check_blob(p, nb, &out->n, err);
      if (rc == IMGPCA_OK) {
        out->v = imgpca_malloc(out->n * sizeof(float));
        if (!out->v)
          rc = IMGPCA_NOMEM;
        else
          fvec_decode(p, out->n, out->v);
      }
      break;
    }
    case SQLITE_TEXT: {
      const char *z = (const char *)sqlite3_value_text(v);
      if (!z) {
        rc = IMGPCA_NOMEM;
        break;
      }
      rc = fvec_parse_json(z, (size_t)sqlite3_value_bytes(v), &out->v, &out->n, err);
      break;
    }
    default:
      imgpca_result_error(ctx, zFunc, "invalid vector %s: expected a float32 blob or a JSON array, got %s",
                          zWhat, imgpca_type_name(v));
      return 1;
  }
  if (rc == IMGPCA_NOMEM) {
    sqlite3_result_error_nomem(ctx);
    return 1;
  }
  if (rc) {
    imgpca_result_error(ctx, zFunc, "invalid vector %s: %s", zWhat, err);
    return 1;
  }
  return 0;
}

void fvec_arg_free(FvecArg *a) {
  imgpca_free(a->v);
  a->v = NULL;
}

void fvec_result(sqlite3_context *ctx, const float *v, size_t n) {
  unsigned char *p = fvec_blob(v, n);
  if (!p) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  imgpca_result_owned_blob(ctx, p, n * 4);
}
