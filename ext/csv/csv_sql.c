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
**    "delimiter": ",",         -- TAB, space or ASCII punctuation other than
**                              --   '"', '.', '+', '-' (no letters, digits, CR, LF)
**    "line_ending": "lf",      -- "lf" or "crlf"
**    "expand": true,           -- false: a vector column is one JSON-array field
**    "formula_guard": false,   -- true: text starting with = + - @ TAB CR gets a
**                              --   leading ' (spreadsheet formula injection)
**    "mkdir": true}            -- a local url whose folder does not exist: true
**                              --   creates it and says so on stderr
**                              --   ("csv_export: created the folder 'x'"),
**                              --   false refuses (error naming the folder)
**
** Read-only: query_sql must be one statement for which sqlite3_stmt_readonly()
** is true (no writes to any database), and while it is prepared and stepped
** imgpca's side-effect functions (s3_put, s3_delete, s3_concat, csv_export,
** imgpca_config with a value) refuse to run on this connection.  Reads
** (s3_fetch, s3_list) stay allowed.  Functions of other extensions are not
** controlled (e.g. the shell's writefile()): do not load such extensions
** next to imgpca when query_sql comes from someone you do not trust.
**
** The rules turning a row into fields live in csv.c (csv_layout_*); this
** file prepares the query, feeds its rows through a cell callback and hands
** the output to the storage layer's writer.
**
** NULL url or query_sql -> NULL.  Errors name csv_export and the cause
** (bad option, bad SQL, a row that does not fit the header, storage failure).
** SQLITE_DIRECTONLY: it writes files and objects.
*/
#include "csv_sql.h"
#include "../storage/storage_sql.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "../storage/storage.h"
#include "../vector/vector.h"
#include "csv.h"

#define FN "csv_export"

typedef struct CsvOpts {
  int bHeader;
  int bExpand;
  char delim;
  int bCrlf;
  int bFormulaGuard;
  int bMkdir;
  int nName;
  char **azName; /* sqlite3_malloc'd strings */
} CsvOpts;

static void csv_opts_free(CsvOpts *o) {
  int i;
  for (i = 0; i < o->nName; i++) sqlite3_free(o->azName[i]);
  sqlite3_free(o->azName);
  o->azName = NULL;
  o->nName = 0;
}

/* Option "names": a JSON array of strings into o->azName. */
static int csv_opt_names(void *pArg, sqlite3 *db, const char *zKey, const char *zType, const char *zText,
                         sqlite3_value *pValue, char *err) {
  CsvOpts *o = (CsvOpts *)pArg;
  sqlite3_stmt *ns = NULL;
  int n = 0, rc;
  if (strcmp(zType, "array")) return imgpca_seterr(err, "option 'names' must be an array of strings");
  rc = sqlite3_prepare_v2(db, "SELECT value, type FROM json_each(?1)", -1, &ns, NULL);
  if (rc != SQLITE_OK) return rc == SQLITE_NOMEM ? IMGPCA_NOMEM : imgpca_seterr(err, "cannot parse options: %s", sqlite3_errmsg(db));
  sqlite3_bind_value(ns, 1, pValue);
  while ((rc = sqlite3_step(ns)) == SQLITE_ROW) {
    const char *zT = (const char *)sqlite3_column_text(ns, 1);
    char **a;
    if (!zT || strcmp(zT, "text")) {
      sqlite3_finalize(ns);
      return imgpca_seterr(err, "option 'names' must be an array of strings");
    }
    a = sqlite3_realloc64(o->azName, sizeof(char *) * (sqlite3_uint64)(n + 1));
    if (!a) break;
    o->azName = a;
    o->azName[n] = sqlite3_mprintf("%s", sqlite3_column_text(ns, 0));
    if (!o->azName[n]) break;
    o->nName = ++n;
  }
  sqlite3_finalize(ns);
  return rc == SQLITE_DONE ? IMGPCA_OK : IMGPCA_NOMEM;
}

static int csv_opt_bool(void *pArg, sqlite3 *db, const char *zKey, const char *zType, const char *zText,
                        sqlite3_value *pValue, char *err) {
  CsvOpts *o = (CsvOpts *)pArg;
  int b = zType[0] == 't';
  if (strcmp(zType, "true") && strcmp(zType, "false"))
    return imgpca_seterr(err, "option '%s' must be true or false", zKey);
  if (zKey[0] == 'h')
    o->bHeader = b;
  else if (zKey[0] == 'e')
    o->bExpand = b;
  else if (zKey[0] == 'm')
    o->bMkdir = b;
  else
    o->bFormulaGuard = b;
  return IMGPCA_OK;
}

static int csv_opt_delimiter(void *pArg, sqlite3 *db, const char *zKey, const char *zType, const char *zText,
                             sqlite3_value *pValue, char *err) {
  if (strcmp(zType, "text") || !zText || strlen(zText) != 1 || !csv_delimiter_ok((unsigned char)zText[0]))
    return imgpca_seterr(err,
                         "option 'delimiter' must be a tab, a space or one ASCII punctuation character "
                         "other than '\"', '.', '+' and '-'");
  ((CsvOpts *)pArg)->delim = zText[0];
  return IMGPCA_OK;
}

static int csv_opt_line_ending(void *pArg, sqlite3 *db, const char *zKey, const char *zType, const char *zText,
                               sqlite3_value *pValue, char *err) {
  if (strcmp(zType, "text") || !zText || (strcmp(zText, "lf") && strcmp(zText, "crlf")))
    return imgpca_seterr(err, "option 'line_ending' must be 'lf' or 'crlf'");
  ((CsvOpts *)pArg)->bCrlf = zText[1] == 'r';
  return IMGPCA_OK;
}

/* Parses the options object; returns 0 or reports the error on ctx. */
static int csv_opts_parse(sqlite3_context *ctx, sqlite3 *db, sqlite3_value *vOpt, CsvOpts *o) {
  static const ImgpcaOption aOpt[] = {
      {"header", csv_opt_bool}, {"names", csv_opt_names}, {"delimiter", csv_opt_delimiter}, {"line_ending", csv_opt_line_ending}, {"expand", csv_opt_bool}, {"formula_guard", csv_opt_bool}, {"mkdir", csv_opt_bool}, {NULL, NULL}};
  memset(o, 0, sizeof(*o));
  o->bHeader = 1;
  o->bExpand = 1;
  o->bMkdir = 1;
  o->delim = ',';
  if (imgpca_json_options(ctx, FN, vOpt, aOpt, o)) {
    csv_opts_free(o);
    return 1;
  }
  return 0;
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

/* CsvCellFn over the current row of a statement. */
static int csv_stmt_cell(void *pArg, int iCol, CsvCell *c) {
  sqlite3_stmt *st = (sqlite3_stmt *)pArg;
  memset(c, 0, sizeof(*c));
  switch (sqlite3_column_type(st, iCol)) {
    case SQLITE_INTEGER:
      c->eType = CSV_INTEGER;
      c->i = sqlite3_column_int64(st, iCol);
      break;
    case SQLITE_FLOAT:
      c->eType = CSV_REAL;
      c->r = sqlite3_column_double(st, iCol);
      break;
    case SQLITE_TEXT:
      c->eType = CSV_TEXT;
      c->p = sqlite3_column_text(st, iCol);
      if (!c->p) return IMGPCA_NOMEM;
      c->n = (size_t)sqlite3_column_bytes(st, iCol);
      break;
    case SQLITE_BLOB:
      c->eType = CSV_BLOB;
      c->p = sqlite3_column_blob(st, iCol);
      c->n = (size_t)sqlite3_column_bytes(st, iCol);
      if (!c->p && c->n) return IMGPCA_NOMEM;
      break;
    default: c->eType = CSV_NULL; break;
  }
  return IMGPCA_OK;
}

/* Prepares query_sql: one read-only statement returning columns, with no
** more names than columns.  Returns 0 with *pSt set, or sets the error. */
static int csv_prepare(sqlite3_context *ctx, sqlite3 *db, const char *zSql, const CsvOpts *o,
                       sqlite3_stmt **pSt) {
  const char *zTail = NULL;
  sqlite3_stmt *st = NULL;
  int nCol;
  *pSt = NULL;
  if (sqlite3_prepare_v2(db, zSql, -1, &st, &zTail) != SQLITE_OK) {
    if (sqlite3_errcode(db) == SQLITE_NOMEM)
      sqlite3_result_error_nomem(ctx);
    else
      imgpca_result_error(ctx, FN, "cannot prepare query: %s", sqlite3_errmsg(db));
    return 1;
  }
  if (!st) {
    imgpca_result_error(ctx, FN, "query_sql is empty");
    return 1;
  }
  nCol = sqlite3_column_count(st);
  if (!csv_tail_empty(zTail)) {
    imgpca_result_error(ctx, FN, "query_sql must be a single statement, found more after '%.*s'",
                        (int)(zTail - zSql) > 60 ? 60 : (int)(zTail - zSql), zSql);
  } else if (!sqlite3_stmt_readonly(st)) {
    imgpca_result_error(ctx, FN, "query_sql must be a read-only query");
  } else if (nCol == 0) {
    imgpca_result_error(ctx, FN, "query_sql returns no columns");
  } else if (o->nName > nCol) {
    imgpca_result_error(ctx, FN, "option 'names' has %d names but the query has %d columns", o->nName, nCol);
  } else {
    *pSt = st;
    return 0;
  }
  sqlite3_finalize(st);
  return 1;
}

/* The state of one export, shared by the steps below. */
typedef struct CsvExport {
  sqlite3_context *ctx;
  ImgpcaConn *conn;
  sqlite3 *db;
  sqlite3_stmt *st;
  const char *zUrl;
  const CsvOpts *o;
  const char **azCol; /* column names of st */
  CsvLayout layout;
  CsvWriter cw;
  sqlite3_int64 nRow;
  char err[IMGPCA_ERRMAX];
} CsvExport;

/* Reports a core code of the layout/writer: NOMEM, a sink failure (bSink)
** or a row that does not fit. */
static void csv_report(CsvExport *x, int rc, int bSink) {
  if (rc == IMGPCA_NOMEM || x->cw.buf.oom || !x->err[0])
    sqlite3_result_error_nomem(x->ctx);
  else if (bSink)
    imgpca_result_error(x->ctx, FN, "cannot write '%s': %s", x->zUrl, x->err);
  else
    imgpca_result_error(x->ctx, FN, "%s", x->err);
}

/* Steps through the rows of x->st, writing header and rows.  Returns 0, or
** 1 with the error set. */
static int csv_write_rows(CsvExport *x) {
  int rc = sqlite3_step(x->st), e;
  if (rc == SQLITE_ROW) {
    e = csv_layout_first_row(&x->layout, csv_stmt_cell, x->st, x->err);
    if (e != IMGPCA_OK) {
      csv_report(x, e, 0);
      return 1;
    }
  }
  if (x->o->bHeader) {
    e = csv_layout_header(&x->layout, &x->cw, (const char *const *)x->o->azName, x->o->nName);
    if (e == IMGPCA_OK) e = csv_eol(&x->cw, x->err);
    if (e != IMGPCA_OK) {
      csv_report(x, e, 1);
      return 1;
    }
  }
  while (rc == SQLITE_ROW) {
    x->nRow++;
    e = csv_layout_row(&x->layout, &x->cw, csv_stmt_cell, x->st, x->nRow, x->err);
    if (e != IMGPCA_OK) {
      csv_report(x, e, 0);
      return 1;
    }
    e = csv_eol(&x->cw, x->err);
    if (e != IMGPCA_OK) {
      csv_report(x, e, 1);
      return 1;
    }
    rc = sqlite3_step(x->st);
  }
  if (rc != SQLITE_DONE) {
    if (x->conn->zRefused)
      imgpca_result_error(x->ctx, FN,
                          "query failed at row %lld: %s: not allowed inside the query of csv_export "
                          "(the export is read-only)",
                          x->nRow + 1, x->conn->zRefused);
    else if (sqlite3_errcode(x->db) == SQLITE_NOMEM)
      sqlite3_result_error_nomem(x->ctx);
    else
      imgpca_result_error(x->ctx, FN, "query failed at row %lld: %s", x->nRow + 1, sqlite3_errmsg(x->db));
    return 1;
  }
  e = csv_flush(&x->cw, x->err);
  if (e != IMGPCA_OK) {
    csv_report(x, e, 1);
    return 1;
  }
  return 0;
}

/* The folder of a local url when it does not exist (imgpca_malloc'd), else
** NULL (S3, an existing folder, or a url the writer will refuse itself). */
static char *csv_missing_folder(const char *zUrl) {
  ImgpcaUrl u;
  char err[IMGPCA_ERRMAX], *zDir = NULL;
  const char *s;
  struct stat st;
  if (imgpca_url_parse(zUrl, &u, err) != IMGPCA_OK) return NULL;
  if (u.eScheme == IMGPCA_URL_LOCAL && u.zKey && (s = strrchr(u.zKey, '/')) != NULL && s != u.zKey) {
    zDir = imgpca_mprintf("%.*s", (int)(s - u.zKey), u.zKey);
    if (zDir && !(stat(zDir, &st) != 0 && errno == ENOENT)) {
      imgpca_free(zDir);
      zDir = NULL;
    }
  }
  imgpca_url_free(&u);
  return zDir;
}

/* z for a message: control characters as '?' (it may reach a terminal). */
static void csv_printable(char *out, size_t n, const char *z) {
  size_t i;
  for (i = 0; z[i] && i + 1 < n; i++) out[i] = ((unsigned char)z[i] < 0x20 || z[i] == 0x7f) ? '?' : z[i];
  out[i] = 0;
}

/* Opens the destination, writes every row, publishes.  Returns 0 with the
** row count as result, or 1 with the error set (nothing published). */
static int csv_export_run(CsvExport *x, ImgpcaConn *conn) {
  ImgpcaStorage *store = NULL;
  ImgpcaWriter *wr = NULL;
  int64_t nBytes = 0;
  int rc, fail;
  char *zMissing = csv_missing_folder(x->zUrl), shown[512];
  int bCreated = zMissing != NULL;
  if (zMissing) {
    csv_printable(shown, sizeof shown, zMissing);
    imgpca_free(zMissing);
    if (!x->o->bMkdir) {
      imgpca_result_error(x->ctx, FN, "folder '%s' does not exist (create it, or leave out the option \"mkdir\": false)",
                          shown);
      return 1;
    }
  }
  rc = imgpca_conn_storage(conn, &store, x->err);
  if (rc == IMGPCA_OK) rc = imgpca_writer_open(store, x->zUrl, &wr, x->err);
  if (rc != IMGPCA_OK) {
    if (rc == IMGPCA_NOMEM)
      sqlite3_result_error_nomem(x->ctx);
    else
      imgpca_result_error(x->ctx, FN, "cannot open '%s' for writing: %s", x->zUrl, x->err);
    return 1;
  }
  csv_writer_init(&x->cw, csv_sink_writer, wr);
  x->cw.delim = x->o->delim;
  x->cw.zEol = x->o->bCrlf ? "\r\n" : "\n";
  x->cw.bFormulaGuard = x->o->bFormulaGuard;
  fail = csv_write_rows(x);
  csv_writer_free(&x->cw);
  if (fail) {
    imgpca_writer_abort(wr);
    return 1;
  }
  rc = imgpca_writer_commit(wr, NULL, &nBytes, x->err);
  if (rc != IMGPCA_OK) {
    if (rc == IMGPCA_NOMEM)
      sqlite3_result_error_nomem(x->ctx);
    else
      imgpca_result_error(x->ctx, FN, "cannot publish '%s': %s", x->zUrl, x->err);
    return 1;
  }
  if (bCreated) fprintf(stderr, "csv_export: created the folder '%s'\n", shown);
  sqlite3_result_int64(x->ctx, x->nRow);
  return 0;
}

/* Reads the two text arguments; returns 0, or 1 after setting the result
** (NULL for a NULL argument, else an error). */
static int csv_args(sqlite3_context *ctx, sqlite3_value **argv, const char **pzUrl, const char **pzSql) {
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL) return 1;
  if (sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
    imgpca_result_error(ctx, FN, "url must be text, got %s", imgpca_type_name(argv[0]));
    return 1;
  }
  if (sqlite3_value_type(argv[1]) != SQLITE_TEXT) {
    imgpca_result_error(ctx, FN, "query_sql must be text, got %s", imgpca_type_name(argv[1]));
    return 1;
  }
  *pzUrl = (const char *)sqlite3_value_text(argv[0]);
  *pzSql = (const char *)sqlite3_value_text(argv[1]);
  if (!*pzUrl || !*pzSql) {
    sqlite3_result_error_nomem(ctx);
    return 1;
  }
  if (imgpca_value_has_nul(argv[0])) {
    imgpca_result_error(ctx, FN, "invalid url: it contains a NUL byte");
    return 1;
  }
  return 0;
}

static void csv_export_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  ImgpcaConn *conn = (ImgpcaConn *)sqlite3_user_data(ctx);
  CsvExport x;
  CsvOpts o;
  const char *zSql = NULL;
  int i, nCol;

  memset(&x, 0, sizeof(x));
  x.ctx = ctx;
  x.conn = conn;
  x.db = sqlite3_context_db_handle(ctx);
  x.o = &o;
  if (imgpca_side_effect_refused(ctx, conn, FN)) return;
  if (csv_args(ctx, argv, &x.zUrl, &zSql)) return;
  if (csv_opts_parse(ctx, x.db, argc > 2 ? argv[2] : NULL, &o)) return;
  /* While the query is prepared and stepped, imgpca's side-effect functions
  ** refuse to run on this connection (the export is read-only). */
  if (conn->nReadOnly++ == 0) conn->zRefused = NULL;
  if (csv_prepare(ctx, x.db, zSql, &o, &x.st)) goto done;
  nCol = sqlite3_column_count(x.st);
  x.azCol = sqlite3_malloc64(sizeof(char *) * (sqlite3_uint64)nCol);
  if (!x.azCol) {
    sqlite3_result_error_nomem(ctx);
    goto done;
  }
  for (i = 0; i < nCol; i++) {
    x.azCol[i] = sqlite3_column_name(x.st, i);
    if (!x.azCol[i]) {
      sqlite3_result_error_nomem(ctx);
      goto done;
    }
  }
  if (csv_layout_init(&x.layout, nCol, o.bExpand, x.azCol) != IMGPCA_OK) {
    sqlite3_result_error_nomem(ctx);
    goto done;
  }
  csv_export_run(&x, conn);
done:
  conn->nReadOnly--;
  csv_layout_free(&x.layout);
  sqlite3_free((void *)x.azCol);
  sqlite3_finalize(x.st);
  csv_opts_free(&o);
}

/* ---- what the module adds to SQLite (ext/imgpca.c registers it) ---- */

static const ImgpcaSqlFunc aFunc[] = {
    {"csv_export", 2, IMGPCA_SIDE_EFFECT, csv_export_func, 0, 0},
    {"csv_export", 3, IMGPCA_SIDE_EFFECT, csv_export_func, 0, 0},
    {0}};

static const ImgpcaSqlDoc aDoc[] = {
    {"`csv_export(url, query_sql [, options])`",
     "integer",
     "rows written; header from column names, vector columns expanded to `name1..nameN`, quoting as in RFC 4180 (lines end in LF by default; `\"line_ending\": \"crlf\"` gives the RFC's CRLF), `.` decimal, numbers as the shortest decimal that reads back to the same float32 / double (`0.1`, not `0.100000001`); options `{\"header\", \"names\", \"delimiter\", \"line_ending\": \"lf\\|crlf\", \"expand\", \"formula_guard\", \"mkdir\"}` (a local folder that does not exist is created and `csv_export` says so on stderr; `\"mkdir\": false` refuses instead); `query_sql` is one read-only statement and cannot call `s3_put`, `s3_delete`, `s3_concat`, `csv_export` or `imgpca_config(key, value)` (see docs/RELIABILITY.md, Security)"},
    {0}};

const ImgpcaModule imgpca_module_csv = {.zName = "csv", .aFunc = aFunc, .aDoc = aDoc};
