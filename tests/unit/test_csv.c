/* Unit tests of the CSV writer core (ext/csv/csv.c). */
#include <locale.h>
#include <stdlib.h>

#include "common/common.h"
#include "csv/csv.h"
#include "unit.h"

typedef struct Sink {
  ImgpcaBuf out;
  int nCalls;
  int failAfter;   /* fail the n-th call (1-based), 0 = never */
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

int main(void) {
  test_quoting();
  test_numbers();
  test_names_and_sink();
  return UNIT_DONE();
}
