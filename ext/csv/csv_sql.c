/*
** csv_export(url, query_sql [, options_json]) -> number of data rows written
**
** Runs query_sql (one read-only statement) on the calling connection and
** streams its rows as CSV to url (a local path, file:// URL or s3:// URL)
** through the storage layer's atomic writer: a local file is written to a
** temporary name and renamed, an S3 object is sent as one PUT or a multipart
** upload that is aborted on failure.  Nothing partial is ever visible at url.
**
** Columns: the header is the result column names (use AS to rename).  A
** column whose value in the first row is a BLOB is a float32 vector column:
** it expands into N fields named <name>1..<name>N (N from the first row);
** every later row must hold a vector of the same N or NULL (N empty fields).
** Text is quoted per RFC 4180; NULL is an empty field, '' is "".  Numbers
** use '.': REAL and vector elements as the shortest decimal that reads back to the same
** double / float32 (common/fmt.h), integers.
**
** options_json (all optional):
**   {"header": true,           -- write the header line
**    "names": ["path","label","pc"], -- replace column names by position
**    "delimiter": ",",         -- one ASCII character other than '"', CR, LF
**    "line_ending": "lf",      -- "lf" or "crlf"
**    "expand": true}           -- false: a vector column is one JSON-array field
**
** NULL url or query_sql -> NULL.  Errors name csv_export and the cause
** (bad option, bad SQL, a row that does not fit the header, storage failure).
** SQLITE_DIRECTONLY: it writes files and objects.
*/
#include "csv_sql.h"

#include <stdio.h>

#include "../s3/s3_sql.h"
#include "../storage/storage.h"
#include "../vector/vector.h"
#include "csv.h"

#define FN "csv_export"

typedef struct CsvOpts {
  int bHeader;
  int bExpand;
  char delim;
  int bCrlf;
  int nName;
  char **azName;   /* sqlite3_malloc'd strings */
} CsvOpts;

static void csv_opts_free(CsvOpts *o) {
  int i;
  for (i = 0; i < o->nName; i++) sqlite3_free(o->azName[i]);
  sqlite3_free(o->azName);
  o->azName = NULL;
  o->nName = 0;
}

/* Parses options with SQLite's json_each; returns 0 or sets the error. */
static int csv_opts_parse(sqlite3_context *ctx, sqlite3 *db, sqlite3_value *vOpt, CsvOpts *o) {
  sqlite3_stmt *st = NULL;
  int rc;
  memset(o, 0, sizeof(*o));
  o->bHeader = 1;
  o->bExpand = 1;
  o->delim = ',';
  if (!vOpt || sqlite3_value_type(vOpt) == SQLITE_NULL) return 0;
  if (sqlite3_value_type(vOpt) != SQLITE_TEXT) {
    imgpca_result_error(ctx, FN, "options must be a JSON object, got %s", imgpca_type_name(vOpt));
    return 1;
  }
  /* The options must be a JSON object (json_type() also rejects bad JSON). */
  rc = sqlite3_prepare_v2(db, "SELECT json_type(?1)", -1, &st, NULL);
  if (rc != SQLITE_OK) {
    imgpca_result_error(ctx, FN, "cannot parse options: %s", sqlite3_errmsg(db));
    return 1;
  }
  sqlite3_bind_value(st, 1, vOpt);
  if (sqlite3_step(st) != SQLITE_ROW) {
    if (sqlite3_errcode(db) == SQLITE_NOMEM) sqlite3_result_error_nomem(ctx);
    else imgpca_result_error(ctx, FN, "options are not valid JSON: %s", sqlite3_errmsg(db));
    goto fail;
  }
  if (sqlite3_column_type(st, 0) != SQLITE_TEXT ||
      strcmp((const char *)sqlite3_column_text(st, 0), "object") != 0) {
    imgpca_result_error(ctx, FN, "options must be a JSON object");
    goto fail;
  }
  sqlite3_finalize(st);
  st = NULL;
  rc = sqlite3_prepare_v2(db, "SELECT key, NULL, value, type FROM json_each(?1)", -1, &st, NULL);
  if (rc != SQLITE_OK) {
    imgpca_result_error(ctx, FN, "cannot parse options: %s", sqlite3_errmsg(db));
    return 1;
  }
  sqlite3_bind_value(st, 1, vOpt);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *zKey = (const char *)sqlite3_column_text(st, 0);
    const char *zType = (const char *)sqlite3_column_text(st, 3);
    int isBool = zType && (!strcmp(zType, "true") || !strcmp(zType, "false"));
    if (!zKey || !zType) {
      sqlite3_finalize(st);
      sqlite3_result_error_nomem(ctx);
      return 1;
    }
    if (!strcmp(zKey, "header") || !strcmp(zKey, "expand")) {
      if (!isBool) {
        imgpca_result_error(ctx, FN, "option '%s' must be true or false", zKey);
        goto fail;
      }
      if (zKey[0] == 'h') o->bHeader = zType[0] == 't';
      else o->bExpand = zType[0] == 't';
    } else if (!strcmp(zKey, "delimiter")) {
      const char *z = (const char *)sqlite3_column_text(st, 2);
      if (strcmp(zType, "text") || !z || strlen(z) != 1 || z[0] == '"' || z[0] == '\r' ||
          z[0] == '\n' || (unsigned char)z[0] > 0x7f) {
        imgpca_result_error(ctx, FN,
                            "option 'delimiter' must be one ASCII character other than '\"', CR and LF");
        goto fail;
      }
      o->delim = z[0];
    } else if (!strcmp(zKey, "line_ending")) {
      const char *z = (const char *)sqlite3_column_text(st, 2);
      if (strcmp(zType, "text") || !z || (strcmp(z, "lf") && strcmp(z, "crlf"))) {
        imgpca_result_error(ctx, FN, "option 'line_ending' must be 'lf' or 'crlf'");
        goto fail;
      }
      o->bCrlf = z[1] == 'r';
    } else if (!strcmp(zKey, "names")) {
      sqlite3_stmt *ns = NULL;
      int n = 0;
      if (strcmp(zType, "array")) {
        imgpca_result_error(ctx, FN, "option 'names' must be an array of strings");
        goto fail;
      }
      if (sqlite3_prepare_v2(db, "SELECT value, type FROM json_each(?1)", -1, &ns, NULL) != SQLITE_OK) {
        imgpca_result_error(ctx, FN, "cannot parse options: %s", sqlite3_errmsg(db));
        goto fail;
      }
      sqlite3_bind_value(ns, 1, sqlite3_column_value(st, 2));
      while (sqlite3_step(ns) == SQLITE_ROW) {
        const char *zT = (const char *)sqlite3_column_text(ns, 1);
        char **a;
        if (!zT || strcmp(zT, "text")) {
          imgpca_result_error(ctx, FN, "option 'names' must be an array of strings");
          sqlite3_finalize(ns);
          goto fail;
        }
        a = sqlite3_realloc64(o->azName, sizeof(char *) * (sqlite3_uint64)(n + 1));
        if (!a) {
          sqlite3_finalize(ns);
          sqlite3_result_error_nomem(ctx);
          goto fail;
        }
        o->azName = a;
        o->azName[n] = sqlite3_mprintf("%s", sqlite3_column_text(ns, 0));
        if (!o->azName[n]) {
          sqlite3_finalize(ns);
          sqlite3_result_error_nomem(ctx);
          goto fail;
        }
        o->nName = ++n;
      }
      sqlite3_finalize(ns);
    } else {
      imgpca_result_error(ctx, FN,
                          "unknown option '%s' (expected header, names, delimiter, line_ending, expand)",
                          zKey);
      goto fail;
    }
  }
  if (rc != SQLITE_DONE) {
    if (sqlite3_errcode(db) == SQLITE_NOMEM) sqlite3_result_error_nomem(ctx);
    else imgpca_result_error(ctx, FN, "options are not valid JSON: %s", sqlite3_errmsg(db));
    goto fail;
  }
  sqlite3_finalize(st);
  return 0;
fail:
  sqlite3_finalize(st);
  csv_opts_free(o);
  return 1;
}

/* True when z holds only whitespace and semicolons. */
static int csv_tail_empty(const char *z) {
  for (; z && *z; z++) {
    if (*z != ' ' && *z != '\t' && *z != '\n' && *z != '\r' && *z != ';') return 0;
  }
  return 1;
}

static int csv_sink_writer(void *pArg, const void *p, size_t n, char *err) {
  return imgpca_writer_write((ImgpcaWriter *)pArg, p, n, err);
}

void csv_export_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  ImgpcaConn *conn = (ImgpcaConn *)sqlite3_user_data(ctx);
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  const char *zUrl, *zSql, *zTail = NULL;
  sqlite3_stmt *st = NULL;
  ImgpcaStorage *store = NULL;
  ImgpcaWriter *wr = NULL;
  CsvWriter cw;
  CsvOpts o;
  char err[IMGPCA_ERRMAX];
  int *aDim = NULL;   /* per column: 0 = scalar, N = vector of N dims */
  int nCol, i, rc;
  sqlite3_int64 nRow = 0;
  int64_t nBytes = 0;

  err[0] = 0;
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL) return;
  if (sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
    imgpca_result_error(ctx, FN, "url must be text, got %s", imgpca_type_name(argv[0]));
    return;
  }
  if (sqlite3_value_type(argv[1]) != SQLITE_TEXT) {
    imgpca_result_error(ctx, FN, "query_sql must be text, got %s", imgpca_type_name(argv[1]));
    return;
  }
  zUrl = (const char *)sqlite3_value_text(argv[0]);
  zSql = (const char *)sqlite3_value_text(argv[1]);
  if (!zUrl || !zSql) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  if (csv_opts_parse(ctx, db, argc > 2 ? argv[2] : NULL, &o)) return;

  rc = sqlite3_prepare_v2(db, zSql, -1, &st, &zTail);
  if (rc != SQLITE_OK) {
    imgpca_result_error(ctx, FN, "cannot prepare query: %s", sqlite3_errmsg(db));
    goto done_opts;
  }
  if (!st) {
    imgpca_result_error(ctx, FN, "query_sql is empty");
    goto done_opts;
  }
  if (!csv_tail_empty(zTail)) {
    imgpca_result_error(ctx, FN, "query_sql must be a single statement, found more after '%.*s'",
                        (int)(zTail - zSql) > 60 ? 60 : (int)(zTail - zSql), zSql);
    goto done_stmt;
  }
  if (!sqlite3_stmt_readonly(st)) {
    imgpca_result_error(ctx, FN, "query_sql must be a read-only query");
    goto done_stmt;
  }
  nCol = sqlite3_column_count(st);
  if (nCol == 0) {
    imgpca_result_error(ctx, FN, "query_sql returns no columns");
    goto done_stmt;
  }
  if (o.nName > nCol) {
    imgpca_result_error(ctx, FN, "option 'names' has %d names but the query has %d columns", o.nName,
                        nCol);
    goto done_stmt;
  }
  aDim = sqlite3_malloc64(sizeof(int) * (sqlite3_uint64)nCol);
  if (!aDim) {
    sqlite3_result_error_nomem(ctx);
    goto done_stmt;
  }
  memset(aDim, 0, sizeof(int) * (size_t)nCol);

  rc = imgpca_conn_storage(conn, &store, err);
  if (rc == IMGPCA_OK) rc = imgpca_writer_open(store, zUrl, &wr, err);
  if (rc != IMGPCA_OK) {
    if (rc == IMGPCA_NOMEM) sqlite3_result_error_nomem(ctx);
    else imgpca_result_error(ctx, FN, "cannot open '%s' for writing: %s", zUrl, err);
    wr = NULL;
    goto done_store;
  }
  csv_writer_init(&cw, csv_sink_writer, wr);
  cw.delim = o.delim;
  cw.zEol = o.bCrlf ? "\r\n" : "\n";

  rc = sqlite3_step(st);
  /* Column kinds from the first row. */
  for (i = 0; rc == SQLITE_ROW && i < nCol; i++) {
    if (sqlite3_column_type(st, i) == SQLITE_BLOB) {
      int nb = sqlite3_column_bytes(st, i);
      if (nb <= 0 || nb % 4) {
        imgpca_result_error(ctx, FN,
                            "column '%s' of row 1 is a blob of %d bytes, not a float32 vector",
                            sqlite3_column_name(st, i), nb);
        goto fail;
      }
      aDim[i] = o.bExpand ? nb / 4 : -1;
    }
  }
  if (o.bHeader) {
    int e = IMGPCA_OK;
    for (i = 0; e == IMGPCA_OK && i < nCol; i++) {
      const char *zName = i < o.nName ? o.azName[i] : sqlite3_column_name(st, i);
      int k;
      if (!zName) {
        e = IMGPCA_NOMEM;
        break;
      }
      if (aDim[i] <= 0) e = csv_name(&cw, zName, 0);
      for (k = 1; e == IMGPCA_OK && k <= aDim[i]; k++) e = csv_name(&cw, zName, (size_t)k);
    }
    if (e == IMGPCA_OK) e = csv_eol(&cw, err);
    if (e != IMGPCA_OK) {
      rc = e;
      goto core_fail;
    }
  }
  while (rc == SQLITE_ROW) {
    int e = IMGPCA_OK;
    nRow++;
    for (i = 0; e == IMGPCA_OK && i < nCol; i++) {
      int t = sqlite3_column_type(st, i);
      if (aDim[i] != 0) {
        if (t == SQLITE_NULL) {
          e = aDim[i] > 0 ? csv_nulls(&cw, (size_t)aDim[i]) : csv_null(&cw);
        } else {
          const unsigned char *p = sqlite3_column_blob(st, i);
          int nb = sqlite3_column_bytes(st, i);
          if (t != SQLITE_BLOB || nb <= 0 || nb % 4 || (aDim[i] > 0 && nb / 4 != aDim[i])) {
            if (t != SQLITE_BLOB || nb <= 0 || nb % 4)
              imgpca_result_error(ctx, FN, "column '%s' of row %lld is %s, not a float32 vector",
                                  sqlite3_column_name(st, i), nRow,
                                  t == SQLITE_BLOB ? "a blob of odd length" : imgpca_type_name(sqlite3_column_value(st, i)));
            else
              imgpca_result_error(ctx, FN,
                                  "column '%s' of row %lld has %d dimensions, the first row had %d",
                                  sqlite3_column_name(st, i), nRow, nb / 4, aDim[i]);
            goto fail;
          }
          if (aDim[i] > 0) {
            e = csv_f32_blob(&cw, p, (size_t)aDim[i]);
          } else {
            ImgpcaBuf jb;
            float *v = imgpca_malloc((size_t)nb);
            imgpca_buf_init(&jb);
            if (!v) {
              e = IMGPCA_NOMEM;
            } else {
              fvec_decode(p, (size_t)nb / 4, v);
              e = fvec_write_json(v, (size_t)nb / 4, &jb);
              if (e == IMGPCA_OK) e = csv_text(&cw, (const char *)jb.p, jb.n);
            }
            imgpca_free(v);
            imgpca_buf_free(&jb);
          }
        }
      } else {
        switch (t) {
          case SQLITE_NULL: e = csv_null(&cw); break;
          case SQLITE_INTEGER: e = csv_int(&cw, sqlite3_column_int64(st, i)); break;
          case SQLITE_FLOAT: e = csv_double(&cw, sqlite3_column_double(st, i)); break;
          case SQLITE_TEXT: {
            const char *z = (const char *)sqlite3_column_text(st, i);
            if (!z) e = IMGPCA_NOMEM;
            else e = csv_text(&cw, z, (size_t)sqlite3_column_bytes(st, i));
            break;
          }
          default:
            imgpca_result_error(ctx, FN,
                                "column '%s' of row %lld is a blob but was not one in row 1 "
                                "(vector columns must not be NULL in the first row)",
                                sqlite3_column_name(st, i), nRow);
            goto fail;
        }
      }
    }
    if (e == IMGPCA_OK) e = csv_eol(&cw, err);
    if (e != IMGPCA_OK) {
      rc = e;
      goto core_fail;
    }
    rc = sqlite3_step(st);
  }
  if (rc != SQLITE_DONE) {
    if (sqlite3_errcode(db) == SQLITE_NOMEM) sqlite3_result_error_nomem(ctx);
    else imgpca_result_error(ctx, FN, "query failed at row %lld: %s", nRow + 1, sqlite3_errmsg(db));
    goto fail;
  }
  rc = csv_flush(&cw, err);
  if (rc != IMGPCA_OK) goto core_fail;
  csv_writer_free(&cw);
  rc = imgpca_writer_commit(wr, NULL, &nBytes, err);
  wr = NULL;
  if (rc != IMGPCA_OK) {
    if (rc == IMGPCA_NOMEM) sqlite3_result_error_nomem(ctx);
    else imgpca_result_error(ctx, FN, "cannot publish '%s': %s", zUrl, err);
    goto done_store;
  }
  sqlite3_result_int64(ctx, nRow);
  goto done_store;

core_fail:
  if (rc == IMGPCA_NOMEM || cw.buf.oom || !err[0]) sqlite3_result_error_nomem(ctx);
  else imgpca_result_error(ctx, FN, "cannot write '%s': %s", zUrl, err);
fail:
  csv_writer_free(&cw);
  imgpca_writer_abort(wr);
  wr = NULL;
done_store:  /* the storage client belongs to the connection */
done_stmt:
  sqlite3_free(aDim);
  sqlite3_finalize(st);
done_opts:
  csv_opts_free(&o);
}
