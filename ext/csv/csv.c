/*
** CSV writer core: RFC 4180 fields, locale-independent numbers, header
** naming with vector expansion, chunked output to a sink.  See csv.h.
** No SQL behaviour of its own; csv_export in csv_sql.c drives it.
*/
#include "csv.h"

#include "../common/fmt.h"

#include <math.h>
#include <stdio.h>

#define CSV_FLUSH_AT (256u * 1024u)

void csv_writer_init(CsvWriter *w, CsvSinkFn xSink, void *pArg) {
  memset(w, 0, sizeof(*w));
  imgpca_buf_init(&w->buf);
  w->xSink = xSink;
  w->pArg = pArg;
  w->flushAt = CSV_FLUSH_AT;
  w->delim = ',';
  w->zEol = "\n";
}

void csv_writer_free(CsvWriter *w) { imgpca_buf_free(&w->buf); }

static int csv_sep(CsvWriter *w) {
  int rc = IMGPCA_OK;
  if (w->nField > 0) rc = imgpca_buf_append(&w->buf, &w->delim, 1);
  w->nField++;
  return rc;
}

static int csv_needs_quotes(const CsvWriter *w, const char *z, size_t n) {
  size_t i;
  if (n == 0) return 1;
  for (i = 0; i < n; i++) {
    char c = z[i];
    if (c == w->delim || c == '"' || c == '\r' || c == '\n') return 1;
  }
  return 0;
}

static int csv_append_field(CsvWriter *w, const char *z, size_t n) {
  size_t i, start = 0;
  if (!csv_needs_quotes(w, z, n)) return imgpca_buf_append(&w->buf, z, n);
  if (imgpca_buf_append(&w->buf, "\"", 1)) return IMGPCA_NOMEM;
  for (i = 0; i < n; i++) {
    if (z[i] == '"') {
      /* copy through the quote, then add its double */
      if (imgpca_buf_append(&w->buf, z + start, i + 1 - start)) return IMGPCA_NOMEM;
      if (imgpca_buf_append(&w->buf, "\"", 1)) return IMGPCA_NOMEM;
      start = i + 1;
    }
  }
  if (imgpca_buf_append(&w->buf, z + start, n - start)) return IMGPCA_NOMEM;
  return imgpca_buf_append(&w->buf, "\"", 1) ? IMGPCA_NOMEM : IMGPCA_OK;
}

int csv_text(CsvWriter *w, const char *z, size_t n) {
  if (csv_sep(w)) return IMGPCA_NOMEM;
  return csv_append_field(w, z ? z : "", z ? n : 0) ? IMGPCA_NOMEM : IMGPCA_OK;
}

int csv_null(CsvWriter *w) { return csv_sep(w) ? IMGPCA_NOMEM : IMGPCA_OK; }

int csv_nulls(CsvWriter *w, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if (csv_sep(w)) return IMGPCA_NOMEM;
  return IMGPCA_OK;
}

int csv_int(CsvWriter *w, long long v) {
  char tmp[32];
  int k = snprintf(tmp, sizeof(tmp), "%lld", v);
  if (csv_sep(w)) return IMGPCA_NOMEM;
  return imgpca_buf_append(&w->buf, tmp, (size_t)k) ? IMGPCA_NOMEM : IMGPCA_OK;
}

void csv_fmt_double(char *out, size_t nOut, double v, int digits) {
  char *p;
  if (isnan(v)) {
    snprintf(out, nOut, "NaN");
    return;
  }
  if (isinf(v)) {
    snprintf(out, nOut, v < 0 ? "-Inf" : "Inf");
    return;
  }
  snprintf(out, nOut, "%.*g", digits, v);
  /* %g never groups thousands, so the only non-ASCII-digit punctuation a
  ** locale can introduce is its decimal separator: normalise it to '.'. */
  for (p = out; *p; p++) {
    if (*p != '-' && *p != '+' && *p != 'e' && *p != 'E' && (*p < '0' || *p > '9')) *p = '.';
  }
}

int csv_double(CsvWriter *w, double v) {
  char tmp[IMGPCA_FMT_MAX];
  int n = imgpca_fmt_double(tmp, v); /* shortest round trip (common/fmt.h) */
  if (csv_sep(w)) return IMGPCA_NOMEM;
  return imgpca_buf_append(&w->buf, tmp, (size_t)n) ? IMGPCA_NOMEM : IMGPCA_OK;
}

int csv_float(CsvWriter *w, float v) {
  char tmp[IMGPCA_FMT_MAX];
  int n = imgpca_fmt_float(tmp, v); /* shortest round trip to float32 */
  if (csv_sep(w)) return IMGPCA_NOMEM;
  return imgpca_buf_append(&w->buf, tmp, (size_t)n) ? IMGPCA_NOMEM : IMGPCA_OK;
}

int csv_f32_blob(CsvWriter *w, const unsigned char *p, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if (csv_float(w, imgpca_get_f32(p + 4 * i))) return IMGPCA_NOMEM;
  return IMGPCA_OK;
}

int csv_name(CsvWriter *w, const char *zName, size_t idx) {
  char tmp[32];
  size_t nName = zName ? strlen(zName) : 0;
  size_t nIdx = 0;
  char *z;
  int rc;
  if (idx > 0) nIdx = (size_t)snprintf(tmp, sizeof(tmp), "%zu", idx);
  z = imgpca_malloc(nName + nIdx + 1);
  if (!z) return IMGPCA_NOMEM;
  if (nName) memcpy(z, zName, nName);
  if (nIdx) memcpy(z + nName, tmp, nIdx);
  z[nName + nIdx] = 0;
  rc = csv_text(w, z, nName + nIdx);
  imgpca_free(z);
  return rc;
}

int csv_flush(CsvWriter *w, char *err) {
  int rc;
  if (w->buf.oom) return IMGPCA_NOMEM;
  if (w->buf.n == 0) return IMGPCA_OK;
  rc = w->xSink(w->pArg, w->buf.p, w->buf.n, err);
  if (rc != IMGPCA_OK) return rc;
  w->nBytes += (int64_t)w->buf.n;
  w->buf.n = 0;
  return IMGPCA_OK;
}

int csv_eol(CsvWriter *w, char *err) {
  if (imgpca_buf_append(&w->buf, w->zEol, strlen(w->zEol))) return IMGPCA_NOMEM;
  w->nField = 0;
  if (w->buf.n >= w->flushAt) return csv_flush(w, err);
  return IMGPCA_OK;
}
