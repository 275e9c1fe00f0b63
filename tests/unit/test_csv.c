/* Unit tests of the CSV writer core (ext/csv/csv.c). */
#include <locale.h>
#include <stdlib.h>

#include "common/common.h"
#include "csv/csv.h"
#include "unit.h"

typedef struct Sink {
  ImgpcaBuf out;
  int nCalls;
  int failAfter; /* fail the n-th call (1-based), 0 = never */
} Sink;

static int sink(void *p, const void *data, size_t n, char *err) {
  Sink *s = (Sink *)p;
  s->nCalls++;
  if (s->failAfter && s->nCalls >= s->failAfter) return imgpca_seterr(err, "disk full");
  return imgpca_buf_append(&s->out, data, n);
}

static const char *sink_str(Sink *s) {
  imgpca_buf_append(&s->out, "", 1);
  s->out.n--;
  return (const char *)s->out.p;
}

static void test_quoting(void) {
  Sink s = {{0}, 0, 0};
  CsvWriter w;
  char err[IMGPCA_ERRMAX];
  imgpca_buf_init(&s.out);
  csv_writer_init(&w, sink, &s);
  CHECK_EQ_INT(csv_text(&w, "plain", 5), IMGPCA_OK);
  csv_text(&w, "a,b", 3);
  csv_text(&w, "say \"hi\"", 8);
  csv_text(&w, "two\nlines", 9);
  csv_text(&w, "cr\r", 3);
  csv_text(&w, "", 0);
  csv_null(&w);
  csv_text(&w, " spaced ", 8);
  csv_text(&w, "\"", 1);
  CHECK_EQ_INT(csv_eol(&w, err), IMGPCA_OK);
  CHECK_EQ_INT(s.nCalls, 0); /* below the flush threshold */
  CHECK_EQ_INT(csv_flush(&w, err), IMGPCA_OK);
  CHECK_STR(sink_str(&s), "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\r\",\"\",, spaced ,\"\"\"\"\n");
  CHECK_EQ_INT(w.nBytes, (long long)s.out.n);
  csv_writer_free(&w);
  imgpca_buf_free(&s.out);

  /* another delimiter: commas no longer need quotes, semicolons do */
  imgpca_buf_init(&s.out);
  csv_writer_init(&w, sink, &s);
  w.delim = ';';
  w.zEol = "\r\n";
  csv_text(&w, "a,b", 3);
  csv_text(&w, "c;d", 3);
  csv_eol(&w, err);
  csv_flush(&w, err);
  CHECK_STR(sink_str(&s), "a,b;\"c;d\"\r\n");
  csv_writer_free(&w);
  imgpca_buf_free(&s.out);
}

static void test_numbers(void) {
  Sink s = {{0}, 0, 0};
  CsvWriter w;
  char err[IMGPCA_ERRMAX], tmp[40];
  unsigned char blob[12];
  imgpca_buf_init(&s.out);
  csv_writer_init(&w, sink, &s);
  csv_int(&w, -9223372036854775807LL - 1);
  csv_double(&w, 0.1);
  csv_float(&w, 0.1f);
  csv_float(&w, 16777217.0f); /* not representable: rounds to 16777216 */
  csv_double(&w, 1e300);
  csv_eol(&w, err);
  imgpca_put_f32(blob, 1.0f);
  imgpca_put_f32(blob + 4, -2.5e-8f);
  imgpca_put_f32(blob + 8, 3.4028235e38f);
  csv_f32_blob(&w, blob, 3);
  csv_nulls(&w, 2);
  csv_eol(&w, err);
  csv_flush(&w, err);
  CHECK_STR(sink_str(&s),
            "-9223372036854775808,0.1,0.1,16777216,1e+300\n"
            "1,-2.5e-08,3.4028235e+38,,\n");
  csv_writer_free(&w);
  imgpca_buf_free(&s.out);

  /* %.9g round-trips every float32 tried */
  {
    unsigned i;
    int bad = 0;
    for (i = 1; i < 2000000; i += 7) {
      float f = (float)i * 1.37e-5f - 3.0f, g;
      csv_fmt_double(tmp, sizeof(tmp), f, 9);
      g = strtof(tmp, NULL);
      if (g != f) bad++;
    }
    CHECK_EQ_INT(bad, 0);
  }
  csv_fmt_double(tmp, sizeof(tmp), 0.0 / 0.0, 9);
  CHECK_STR(tmp, "NaN");
  csv_fmt_double(tmp, sizeof(tmp), -1.0 / 0.0, 9);
  CHECK_STR(tmp, "-Inf");

  /* a locale with a decimal comma still gives '.' */
  if (setlocale(LC_NUMERIC, "de_DE.UTF-8") || setlocale(LC_NUMERIC, "fr_FR.UTF-8")) {
    csv_fmt_double(tmp, sizeof(tmp), 2.5, 9);
    CHECK_STR(tmp, "2.5");
    setlocale(LC_NUMERIC, "C");
  }
}

static void test_names_and_sink(void) {
  Sink s = {{0}, 0, 0};
  CsvWriter w;
  char err[IMGPCA_ERRMAX];
  int i, rc = IMGPCA_OK;
  imgpca_buf_init(&s.out);
  csv_writer_init(&w, sink, &s);
  csv_name(&w, "path", 0);
  csv_name(&w, "pc", 1);
  csv_name(&w, "pc", 12);
  csv_name(&w, "a,b", 2);
  csv_eol(&w, err);
  csv_flush(&w, err);
  CHECK_STR(sink_str(&s), "path,pc1,pc12,\"a,b2\"\n");
  csv_writer_free(&w);
  imgpca_buf_free(&s.out);

  /* chunked output: the sink sees bounded chunks; its error propagates */
  imgpca_buf_init(&s.out);
  s.nCalls = 0;
  s.failAfter = 3;
  csv_writer_init(&w, sink, &s);
  w.flushAt = 100;
  for (i = 0; i < 1000 && rc == IMGPCA_OK; i++) {
    csv_int(&w, i);
    csv_text(&w, "0123456789012345678901234567890123456789", 40);
    rc = csv_eol(&w, err);
  }
  CHECK_EQ_INT(rc, IMGPCA_ERROR);
  CHECK_STR(err, "disk full");
  CHECK_EQ_INT(s.nCalls, 3);
  CHECK(s.out.n < 400);
  csv_writer_free(&w);
  imgpca_buf_free(&s.out);
}

/* ---- rows to fields through the cell callback ---- */

typedef struct Rows {
  int nCol, iRow;
  const CsvCell *aCell; /* nRow x nCol */
  int failAt;           /* NOMEM at this cell index + 1, 0 = never */
} Rows;

static int rows_cell(void *p, int iCol, CsvCell *c) {
  Rows *r = (Rows *)p;
  int idx = r->iRow * r->nCol + iCol;
  if (r->failAt && idx + 1 == r->failAt) return IMGPCA_NOMEM;
  *c = r->aCell[idx];
  return IMGPCA_OK;
}

static CsvCell cell_int(long long v) {
  CsvCell c = {CSV_INTEGER, v, 0, NULL, 0};
  return c;
}
static CsvCell cell_real(double v) {
  CsvCell c = {CSV_REAL, 0, v, NULL, 0};
  return c;
}
static CsvCell cell_text(const char *z) {
  CsvCell c = {CSV_TEXT, 0, 0, z, strlen(z)};
  return c;
}
static CsvCell cell_blob(const void *p, size_t n) {
  CsvCell c = {CSV_BLOB, 0, 0, p, n};
  return c;
}
static CsvCell cell_null(void) {
  CsvCell c = {CSV_NULL, 0, 0, NULL, 0};
  return c;
}

/* Writes every row of r through a layout; returns the layout's first error. */
static int run_rows(Rows *r, int nRow, int bExpand, int bGuard, const char *const *azNames, int nNames,
                    Sink *s, char *err) {
  static const char *azCol[] = {"key", "v", "note"};
  CsvLayout l;
  CsvWriter w;
  int rc;
  imgpca_buf_init(&s->out);
  csv_writer_init(&w, sink, s);
  w.bFormulaGuard = bGuard;
  rc = csv_layout_init(&l, r->nCol, bExpand, azCol);
  r->iRow = 0;
  if (rc == IMGPCA_OK) rc = csv_layout_first_row(&l, rows_cell, r, err);
  if (rc == IMGPCA_OK) rc = csv_layout_header(&l, &w, azNames, nNames);
  if (rc == IMGPCA_OK) rc = csv_eol(&w, err);
  for (r->iRow = 0; rc == IMGPCA_OK && r->iRow < nRow; r->iRow++) {
    rc = csv_layout_row(&l, &w, rows_cell, r, r->iRow + 1, err);
    if (rc == IMGPCA_OK) rc = csv_eol(&w, err);
  }
  if (rc == IMGPCA_OK) rc = csv_flush(&w, err);
  csv_layout_free(&l);
  csv_writer_free(&w);
  return rc;
}

static void test_layout(void) {
  unsigned char v2[8], v3[12];
  char err[IMGPCA_ERRMAX];
  Sink s = {{0}, 0, 0};
  const char *azNames[] = {"id"};
  imgpca_put_f32(v2, 0.5f);
  imgpca_put_f32(v2 + 4, -1.25f);
  imgpca_put_f32(v3, 1);
  imgpca_put_f32(v3 + 4, 2);
  imgpca_put_f32(v3 + 8, 3);
  {
    CsvCell a[] = {cell_int(1), cell_blob(v2, 8), cell_text("a,b"),
                   cell_int(2), cell_null(), cell_real(0.1),
                   cell_int(3), cell_blob(v2, 8), cell_null()};
    Rows r = {3, 0, a, 0};
    CHECK_EQ_INT(run_rows(&r, 3, 1, 0, azNames, 1, &s, err), IMGPCA_OK);
    CHECK_STR(sink_str(&s), "id,v1,v2,note\n1,0.5,-1.25,\"a,b\"\n2,,,0.1\n3,0.5,-1.25,\n");
    imgpca_buf_free(&s.out);
    /* not expanded: one JSON field per vector */
    CHECK_EQ_INT(run_rows(&r, 3, 0, 0, NULL, 0, &s, err), IMGPCA_OK);
    CHECK_STR(sink_str(&s), "key,v,note\n1,\"[0.5,-1.25]\",\"a,b\"\n2,,0.1\n3,\"[0.5,-1.25]\",\n");
    imgpca_buf_free(&s.out);
    /* out of memory in the callback at every cell */
    r.failAt = 5;
    CHECK_EQ_INT(run_rows(&r, 3, 1, 0, NULL, 0, &s, err), IMGPCA_NOMEM);
    imgpca_buf_free(&s.out);
  }
  {
    CsvCell a[] = {cell_int(1), cell_blob(v2, 8), cell_null(),
                   cell_int(2), cell_blob(v3, 12), cell_null()};
    Rows r = {3, 0, a, 0};
    CHECK_EQ_INT(run_rows(&r, 2, 1, 0, NULL, 0, &s, err), IMGPCA_ERROR);
    CHECK_STR(err, "column 'v' of row 2 has 3 dimensions, the first row had 2");
    imgpca_buf_free(&s.out);
  }
  {
    CsvCell a[] = {cell_int(1), cell_blob(v2, 8), cell_null(),
                   cell_int(2), cell_text("x"), cell_null()};
    Rows r = {3, 0, a, 0};
    CHECK_EQ_INT(run_rows(&r, 2, 1, 0, NULL, 0, &s, err), IMGPCA_ERROR);
    CHECK_STR(err, "column 'v' of row 2 is text, not a float32 vector");
    imgpca_buf_free(&s.out);
  }
  {
    CsvCell a[] = {cell_int(1), cell_blob(v2, 7), cell_null()};
    Rows r = {3, 0, a, 0};
    CHECK_EQ_INT(run_rows(&r, 1, 1, 0, NULL, 0, &s, err), IMGPCA_ERROR);
    CHECK_STR(err, "column 'v' of row 1 is a blob of 7 bytes, not a float32 vector");
    imgpca_buf_free(&s.out);
  }
  {
    CsvCell a[] = {cell_int(1), cell_null(), cell_null(),
                   cell_int(2), cell_blob(v2, 8), cell_null()};
    Rows r = {3, 0, a, 0};
    CHECK_EQ_INT(run_rows(&r, 2, 1, 0, NULL, 0, &s, err), IMGPCA_ERROR);
    CHECK(strstr(err, "column 'v' of row 2 is a blob but was not one in row 1") != NULL);
    imgpca_buf_free(&s.out);
  }
}

static void test_formula_guard(void) {
  char err[IMGPCA_ERRMAX];
  Sink s = {{0}, 0, 0};
  const char *azNames[] = {"=cmd", "v", "note"};
  CsvCell a[] = {cell_text("=1+2"), cell_text("+x"), cell_text("-y"),
                 cell_text("@z"), cell_text("\tt"), cell_text("\rc"),
                 cell_int(-5), cell_real(-0.5), cell_text("a=b"),
                 cell_text("=\"q\",x"), cell_text(""), cell_text("'already")};
  Rows r = {3, 0, a, 0};
  CHECK_EQ_INT(run_rows(&r, 4, 1, 1, azNames, 3, &s, err), IMGPCA_OK);
  CHECK_STR(sink_str(&s), "'=cmd,v,note\n'=1+2,'+x,'-y\n'@z,'\tt,\"'\rc\"\n-5,-0.5,a=b\n\"'=\"\"q\"\",x\",\"\",'already\n");
  imgpca_buf_free(&s.out);
  /* off by default: written as-is */
  CHECK_EQ_INT(run_rows(&r, 1, 1, 0, NULL, 0, &s, err), IMGPCA_OK);
  CHECK_STR(sink_str(&s), "key,v,note\n=1+2,+x,-y\n");
  imgpca_buf_free(&s.out);
}

static void test_delimiters(void) {
  const char *ok = ",;|:\t !#$%&'()*/<=>?@[\\]^_`{}~";
  const char *bad = "\".+-0123456789aeEzZ\r\n\v\f";
  const char *p;
  int c, nOk = 0;
  for (p = ok; *p; p++) CHECK(csv_delimiter_ok((unsigned char)*p));
  for (p = bad; *p; p++) CHECK(!csv_delimiter_ok((unsigned char)*p));
  CHECK(!csv_delimiter_ok(0));
  CHECK(!csv_delimiter_ok(0x7f));
  CHECK(!csv_delimiter_ok(0xe9));
  for (c = 0; c < 256; c++) nOk += csv_delimiter_ok(c);
  CHECK_EQ_INT(nOk, (long long)strlen(ok));
}

int main(void) {
  test_layout();
  test_formula_guard();
  test_delimiters();
  test_quoting();
  test_numbers();
  test_names_and_sink();
  return UNIT_DONE();
}
