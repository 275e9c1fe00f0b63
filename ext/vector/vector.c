/*
** Float32 vector core: validation, JSON parsing/printing, distances.
** SQL behaviour is specified in vector_sql.c.
*/
#include "vector.h"

#include "../common/fmt.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int fvec_check_blob(const void *p, size_t nByte, size_t *pDim, char *err) {
  const unsigned char *b = (const unsigned char *)p;
  size_t i, n;
  if (nByte == 0) return imgpca_seterr(err, "empty vector");
  if (nByte % 4) return imgpca_seterr(err, "blob of %zu bytes is not a float32 vector (length not a multiple of 4)", nByte);
  n = nByte / 4;
  if (n > IMGPCA_VEC_MAX_DIMS) return imgpca_seterr(err, "vector of %zu dimensions exceeds the limit of %u", n, IMGPCA_VEC_MAX_DIMS);
  for (i = 0; i < n; i++) {
    float f = imgpca_get_f32(b + 4 * i);
    if (!isfinite(f)) return imgpca_seterr(err, "element %zu is %s", i, isnan(f) ? "NaN" : "infinite");
  }
  *pDim = n;
  return IMGPCA_OK;
}

static size_t skip_ws(const char *z, size_t i, size_t n) {
  while (i < n && (z[i] == ' ' || z[i] == '\t' || z[i] == '\n' || z[i] == '\r')) i++;
  return i;
}

int fvec_parse_json(const char *z, size_t n, float **pOut, size_t *pDim, char *err) {
  ImgpcaBuf b;
  size_t i = 0, count = 0;
  char num[64];
  imgpca_buf_init(&b);
  *pOut = NULL;
  *pDim = 0;
  i = skip_ws(z, i, n);
  if (i >= n || z[i] != '[') return imgpca_seterr(err, "invalid JSON array: expected '[' at offset %zu", i);
  i = skip_ws(z, i + 1, n);
  if (i < n && z[i] == ']') {
    return imgpca_seterr(err, "empty vector");
  }
  for (;;) {
    size_t start = skip_ws(z, i, n), len;
    double d;
    char *end;
    float f;
    i = start;
    /* A JSON number: -?digits[.digits][(e|E)[+-]digits] */
    while (i < n && (strchr("+-.eE", z[i]) || (z[i] >= '0' && z[i] <= '9')) && z[i]) i++;
    len = i - start;
    if (len == 0 || len >= sizeof num) {
      imgpca_buf_free(&b);
      return imgpca_seterr(err, "invalid JSON array: expected a number at offset %zu", start);
    }
    memcpy(num, z + start, len);
    num[len] = 0;
    errno = 0;
    d = strtod(num, &end);
    if (*end || num[0] == '+' || num[0] == '.' || (num[0] == '-' && (num[1] < '0' || num[1] > '9'))) {
      imgpca_buf_free(&b);
      return imgpca_seterr(err, "invalid JSON array: bad number '%s' at offset %zu", num, start);
    }
    f = (float)d;
    if (!isfinite(f)) {
      imgpca_buf_free(&b);
      return imgpca_seterr(err, "element %zu (%s) is not a finite float32", count, num);
    }
    if (count >= IMGPCA_VEC_MAX_DIMS) {
      imgpca_buf_free(&b);
      return imgpca_seterr(err, "vector exceeds the limit of %u dimensions", IMGPCA_VEC_MAX_DIMS);
    }
    if (imgpca_buf_append(&b, &f, sizeof f)) {
      imgpca_buf_free(&b);
      return IMGPCA_NOMEM;
    }
    count++;
    i = skip_ws(z, i, n);
    if (i < n && z[i] == ',') {
      i++;
      continue;
    }
    if (i < n && z[i] == ']') break;
    imgpca_buf_free(&b);
    return imgpca_seterr(err, "invalid JSON array: expected ',' or ']' at offset %zu", i);
  }
  i = skip_ws(z, i + 1, n);
  if (i != n) {
    imgpca_buf_free(&b);
    return imgpca_seterr(err, "invalid JSON array: trailing characters at offset %zu", i);
  }
  *pOut = (float *)imgpca_buf_detach(&b, NULL);
  *pDim = count;
  return IMGPCA_OK;
}

int fvec_write_json(const float *v, size_t n, ImgpcaBuf *out) {
  size_t i;
  imgpca_buf_append(out, "[", 1);
  for (i = 0; i < n; i++) {
    char tmp[IMGPCA_FMT_MAX + 1];
    int k = 0;
    if (i) tmp[k++] = ',';
    k += imgpca_fmt_float(tmp + k, v[i]); /* shortest round trip to float32 */
    imgpca_buf_append(out, tmp, (size_t)k);
  }
  return imgpca_buf_append(out, "]", 1);
}

void fvec_decode(const unsigned char *blob, size_t n, float *out) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  memcpy(out, blob, n * 4);
#else
  size_t i;
  for (i = 0; i < n; i++) out[i] = imgpca_get_f32(blob + 4 * i);
#endif
}

void fvec_encode(const float *v, size_t n, unsigned char *out) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  memcpy(out, v, n * 4);
#else
  size_t i;
  for (i = 0; i < n; i++) imgpca_put_f32(out + 4 * i, v[i]);
#endif
}

unsigned char *fvec_blob(const float *v, size_t n) {
  unsigned char *p = imgpca_malloc(n * 4);
  if (p) fvec_encode(v, n, p);
  return p;
}

unsigned char *fvec_blob_from_double(const double *v, size_t n) {
  unsigned char *p = imgpca_malloc(n * 4);
  size_t i;
  if (p)
    for (i = 0; i < n; i++) imgpca_put_f32(p + 4 * i, (float)v[i]);
  return p;
}

double fvec_dot(const float *a, const float *b, size_t n) {
  double s = 0;
  size_t i;
  for (i = 0; i < n; i++) s += (double)a[i] * b[i];
  return s;
}

double fvec_l2(const float *a, const float *b, size_t n) {
  double s = 0;
  size_t i;
  for (i = 0; i < n; i++) {
    double d = (double)a[i] - b[i];
    s += d * d;
  }
  return sqrt(s);
}

double fvec_norm(const float *v, size_t n) { return sqrt(fvec_dot(v, v, n)); }

size_t fvec_argmax(const float *v, size_t n) {
  size_t i, best = 0;
  for (i = 1; i < n; i++)
    if (v[i] > v[best]) best = i;
  return best;
}

int fvec_cosine_distance(const float *a, const float *b, size_t n, double *out, char *err) {
  double na = fvec_norm(a, n), nb = fvec_norm(b, n);
  if (na == 0 || nb == 0) return imgpca_seterr(err, "cosine distance of a zero vector is undefined");
  *out = 1.0 - fvec_dot(a, b, n) / (na * nb);
  return IMGPCA_OK;
}
