/*
** SQL glue of the report core (behaviour: report.c).
**
**   imgpca_base64(data)                    -> text (NULL -> NULL)
**   imgpca_report_html(json [, template])  -> text (NULL json -> NULL)
**
** Flags: SQLITE_DETERMINISTIC|SQLITE_INNOCUOUS (pure functions of their
** arguments and of the template compiled into the library).
*/
#include "report_sql.h"
#include "report.h"

static void imgpca_base64_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  ImgpcaBuf b;
  const unsigned char *p;
  int t = sqlite3_value_type(argv[0]);
  size_t n;
  (void)argc;
  if (t == SQLITE_NULL) return;
  p = t == SQLITE_TEXT ? sqlite3_value_text(argv[0]) : sqlite3_value_blob(argv[0]);
  n = (size_t)sqlite3_value_bytes(argv[0]);
  if (!p && n) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  imgpca_buf_init(&b);
  if (imgpca_base64_append(&b, p, n) != IMGPCA_OK) b.oom = 1;
  imgpca_result_buf_text(ctx, &b);
}

static void imgpca_report_html_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *zFunc = "imgpca_report_html";
  char err[IMGPCA_ERRMAX];
  const char *json, *tpl;
  size_t ntpl;
  ImgpcaBuf b;
  int rc;
  if (argc >= 2 && sqlite3_value_type(argv[1]) != SQLITE_NULL) {
    if (sqlite3_value_type(argv[1]) != SQLITE_TEXT) {
      imgpca_result_error(ctx, zFunc, "template must be text, got %s", imgpca_type_name(argv[1]));
      return;
    }
    tpl = (const char *)sqlite3_value_text(argv[1]);
    if (!tpl) {
      sqlite3_result_error_nomem(ctx);
      return;
    }
    ntpl = (size_t)sqlite3_value_bytes(argv[1]);
  } else {
    tpl = imgpca_report_template(&ntpl);
  }
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return;
  if (sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
    imgpca_result_error(ctx, zFunc, "data must be JSON text, got %s", imgpca_type_name(argv[0]));
    return;
  }
  json = (const char *)sqlite3_value_text(argv[0]);
  if (!json) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  {
    /* Only JSON goes into the page's <script> ('1};alert(1);//' ran).
    ** json_type, not json_valid: json_valid() answers 0 when it runs out of
    ** memory, json_type() raises the error (and rejects malformed JSON). */
    sqlite3 *db = sqlite3_context_db_handle(ctx);
    sqlite3_stmt *st = NULL;
    rc = sqlite3_prepare_v2(db, "SELECT json_type(?1)", -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_bind_value(st, 1, argv[0]);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
      if (rc == SQLITE_NOMEM || sqlite3_errcode(db) == SQLITE_NOMEM)
        sqlite3_result_error_nomem(ctx);
      else
        imgpca_result_error(ctx, zFunc, "data is not valid JSON: %s", sqlite3_errmsg(db));
      sqlite3_finalize(st);
      return;
    }
    sqlite3_finalize(st);
  }
  imgpca_buf_init(&b);
  rc = imgpca_report_build(&b, tpl, ntpl, json, (size_t)sqlite3_value_bytes(argv[0]), err);
  if (rc) {
    imgpca_buf_free(&b);
    imgpca_result_core(ctx, zFunc, rc, err);
    return;
  }
  imgpca_result_buf_text(ctx, &b);
}

/* ---- what the module adds to SQLite (ext/imgpca.c registers it) ---- */

static const ImgpcaSqlFunc aFunc[] = {
    {"imgpca_base64", 1, IMGPCA_PURE, imgpca_base64_func, 0, 0},
    {"imgpca_report_html", 1, IMGPCA_PURE, imgpca_report_html_func, 0, 0},
    {"imgpca_report_html", 2, IMGPCA_PURE, imgpca_report_html_func, 0, 0},
    {0}};

static const ImgpcaSqlDoc aDoc[] = {
    {"`imgpca_base64(data)`",
     "text",
     "RFC 4648 base64, for `data:` URIs"},
    {"`imgpca_report_html(json [, template])`",
     "text",
     "the report page ([docs/REPORT.md](docs/REPORT.md)) with `json` as its data"},
    {0}};

const ImgpcaModule imgpca_module_report = {.zName = "report", .aFunc = aFunc, .aDoc = aDoc};
