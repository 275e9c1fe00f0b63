/*
** CSV writer core: RFC 4180 fields, locale-independent numbers, header
** naming with vector expansion, chunked output to a sink.  See csv.h.
** No SQL behaviour of its own; csv_export in csv_sql.c drives it.
*/
#include "csv.h"

#include "../common/fmt.h"

#include <limits.h>
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

static int csv_is_formula(const char *z, size_t n) {
  return n > 0 && (z[0] == '=' || z[0] == '+' || z[0] == '-' || z[0] == '@' || z[0] == '\t' || z[0] == '\r');
}

int csv_text(CsvWriter *w, const char *z, size_t n) {
  if (csv_sep(w)) return IMGPCA_NOMEM;
  if (!z) n = 0;
  if (w->bFormulaGuard && csv_is_formula(z, n)) {
    /* quote character first, then the field (quoted as a whole if needed) */
    char *t = imgpca_malloc(n + 1);
    int rc;
    if (!t) return IMGPCA_NOMEM;
    t[0] = '\'';
    memcpy(t + 1, z, n);
    rc = csv_append_field(w, t, n + 1);
    imgpca_free(t);
    return rc ? IMGPCA_NOMEM : IMGPCA_OK;
  }
  return csv_append_field(w, z ? z : "", n) ? IMGPCA_NOMEM : IMGPCA_OK;
}

int csv_delimiter_ok(int c) {
  if (c == '\t' || c == ' ') return 1;
  if (c < 0x21 || c > 0x7e) return 0; /* control bytes, CR, LF, non-ASCII */
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return 0;
  return c != '"' && c != '.' && c != '+' && c != '-';
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

/* ---- rows to fields ---- */

int csv_layout_init(CsvLayout *l, int nCol, int bExpand, const char *const *azCol) {
  memset(l, 0, sizeof(*l));
  l->nCol = nCol;
  l->bExpand = bExpand;
  l->azCol = azCol;
  l->aDim = imgpca_calloc(nCol > 0 ? (size_t)nCol : 1, sizeof(int));
  return l->aDim ? IMGPCA_OK : IMGPCA_NOMEM;
}

void csv_layout_free(CsvLayout *l) {
  imgpca_free(l->aDim);
  l->aDim = NULL;
}

static const char *col_name(const CsvLayout *l, int i) {
  return l->azCol && l->azCol[i] ? l->azCol[i] : "?";
}

int csv_layout_first_row(CsvLayout *l, CsvCellFn xCell, void *pArg, char *err) {
  int i;
  for (i = 0; i < l->nCol; i++) {
    CsvCell c;
    if (xCell(pArg, i, &c) != IMGPCA_OK) return IMGPCA_NOMEM;
    l->aDim[i] = 0;
    if (c.eType != CSV_BLOB) continue;
    if (c.n == 0 || c.n % 4 || c.n / 4 > INT_MAX) {
      return imgpca_seterr(err, "column '%s' of row 1 is a blob of %zu bytes, not a float32 vector",
                           col_name(l, i), c.n);
    }
    l->aDim[i] = l->bExpand ? (int)(c.n / 4) : -1;
  }
  return IMGPCA_OK;
}

int csv_layout_header(const CsvLayout *l, CsvWriter *w, const char *const *azName, int nName) {
  int i, k, rc = IMGPCA_OK;
  for (i = 0; rc == IMGPCA_OK && i < l->nCol; i++) {
    const char *zName = i < nName ? azName[i] : col_name(l, i);
    if (l->aDim[i] <= 0) rc = csv_name(w, zName, 0);
    for (k = 1; rc == IMGPCA_OK && k <= l->aDim[i]; k++) rc = csv_name(w, zName, (size_t)k);
  }
  return rc;
}

/* A vector column as one field: the JSON array of its elements. */
static int csv_f32_json(CsvWriter *w, const unsigned char *p, size_t nDim) {
  size_t i;
  char tmp[40];
  ImgpcaBuf jb;
  int rc;
  imgpca_buf_init(&jb);
  imgpca_buf_append(&jb, "[", 1);
  for (i = 0; i < nDim; i++) {
    if (i) imgpca_buf_append(&jb, ",", 1);
    imgpca_buf_append(&jb, tmp, (size_t)imgpca_fmt_float(tmp, imgpca_get_f32(p + 4 * i)));
  }
  imgpca_buf_append(&jb, "]", 1);
  rc = jb.oom ? IMGPCA_NOMEM : csv_text(w, (const char *)jb.p, jb.n);
  imgpca_buf_free(&jb);
  return rc;
}

static int csv_vector_cell(const CsvLayout *l, CsvWriter *w, int i, const CsvCell *c, long long iRow,
                           char *err) {
  static const char *azType[] = {"null", "integer", "real", "text", "blob"};
  int nDim = l->aDim[i];
  if (c->eType == CSV_NULL) return nDim > 0 ? csv_nulls(w, (size_t)nDim) : csv_null(w);
  if (c->eType != CSV_BLOB || c->n == 0 || c->n % 4) {
    return imgpca_seterr(err, "column '%s' of row %lld is %s, not a float32 vector", col_name(l, i), iRow,
                         c->eType == CSV_BLOB ? "a blob of odd length" : azType[c->eType]);
  }
  if (nDim > 0 && c->n / 4 != (size_t)nDim) {
    return imgpca_seterr(err, "column '%s' of row %lld has %zu dimensions, the first row had %d",
                         col_name(l, i), iRow, c->n / 4, nDim);
  }
  if (nDim > 0) return csv_f32_blob(w, c->p, (size_t)nDim);
  return csv_f32_json(w, c->p, c->n / 4);
}

int csv_layout_row(const CsvLayout *l, CsvWriter *w, CsvCellFn xCell, void *pArg, long long iRow,
                   char *err) {
  int i, rc = IMGPCA_OK;
  for (i = 0; rc == IMGPCA_OK && i < l->nCol; i++) {
    CsvCell c;
    if (xCell(pArg, i, &c) != IMGPCA_OK) return IMGPCA_NOMEM;
    if (l->aDim[i] != 0) {
      rc = csv_vector_cell(l, w, i, &c, iRow, err);
      continue;
    }
    switch (c.eType) {
      case CSV_NULL: rc = csv_null(w); break;
      case CSV_INTEGER: rc = csv_int(w, c.i); break;
      case CSV_REAL: rc = csv_double(w, c.r); break;
      case CSV_TEXT: rc = csv_text(w, (const char *)c.p, c.n); break;
      default:
        return imgpca_seterr(err,
                             "column '%s' of row %lld is a blob but was not one in row 1 "
                             "(vector columns must not be NULL in the first row)",
                             col_name(l, i), iRow);
    }
  }
  return rc;
}
