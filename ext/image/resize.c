/*
** Area-averaging (box) resize with exact fractional coverage (pure C core;
** no SQL behaviour of its own).  Output pixel o of an axis of source length S
** and destination length D covers the source interval [o*S/D, (o+1)*S/D);
** every source pixel contributes its overlap with that interval, so the
** weights of an output pixel sum to one.  Separable: the vertical pass first (vectorisable, contiguous rows), then
** the horizontal pass on the few output rows, in single-precision float.  Works for up- and downscaling.
*/
#include "image.h"

#if defined(__GNUC__) || defined(__clang__)
#define IMGPCA_RESTRICT __restrict__
#else
#define IMGPCA_RESTRICT
#endif

/* Coverage table of one axis: for output o, source indices [first[o],
** first[o]+cnt[o]) with weights w[off[o] ...]. */
typedef struct Axis {
  int *first, *cnt, *off;
  float *w;
} Axis;

static void axis_free(Axis *a) {
  imgpca_free(a->first);
  imgpca_free(a->cnt);
  imgpca_free(a->off);
  imgpca_free(a->w);
}

static int axis_init(Axis *a, int S, int D) {
  int o, total;
  long long maxn = (long long)S / D + 2;
  memset(a, 0, sizeof(*a));
  if ((long long)maxn * D > 0x7fffffffLL) return IMGPCA_ERROR;
  a->first = imgpca_malloc(sizeof(int) * D);
  a->cnt = imgpca_malloc(sizeof(int) * D);
  a->off = imgpca_malloc(sizeof(int) * D);
  a->w = imgpca_malloc(sizeof(float) * (size_t)(maxn * D));
  if (!a->first || !a->cnt || !a->off || !a->w) {
    axis_free(a);
    return IMGPCA_NOMEM;
  }
  total = 0;
  for (o = 0; o < D; o++) {
    /* Interval [L, R) in units of 1/D source pixels. */
    long long L = (long long)o * S, R = (long long)(o + 1) * S;
    long long j0 = L / D, j1 = (R + D - 1) / D, j;
    a->first[o] = (int)j0;
    a->cnt[o] = (int)(j1 - j0);
    a->off[o] = total;
    for (j = j0; j < j1; j++) {
      long long lo = j * D > L ? j * D : L;
      long long hi = (j + 1) * D < R ? (j + 1) * D : R;
      a->w[total++] = (float)((double)(hi - lo) / (double)S);
    }
  }
  return IMGPCA_OK;
}

/* Vertical pass: output row oy of tmp (sw*3 floats) from the source rows
** covering it; contiguous and independent per element, so it vectorises. */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("tree-vectorize")))
#endif
static void
vpass_row(const unsigned char *src, size_t stride, int first, int cnt, const float *w,
          float *IMGPCA_RESTRICT t, size_t n) {
  size_t i;
  int k;
  const unsigned char *s = src + (size_t)first * stride;
  for (i = 0; i < n; i++) t[i] = w[0] * (float)s[i];
  for (k = 1; k < cnt; k++) {
    const unsigned char *sk = s + (size_t)k * stride;
    const float wk = w[k];
    for (i = 0; i < n; i++) t[i] += wk * (float)sk[i];
  }
}

int img_resize_box(const ImgImage *src, int dw, int dh, float *dst) {
  Axis ax, ay;
  float *tmp;
  int rc, x, y;
  size_t n, sw3;
  if (dw <= 0 || dh <= 0 || src->w <= 0 || src->h <= 0) return IMGPCA_ERROR;
  sw3 = (size_t)src->w * 3;
  if (!imgpca_mul_ok((size_t)dh, sw3 * sizeof(float), &n)) return IMGPCA_NOMEM;
  rc = axis_init(&ax, src->w, dw);
  if (rc) return rc;
  rc = axis_init(&ay, src->h, dh);
  if (rc) {
    axis_free(&ax);
    return rc;
  }
  tmp = imgpca_malloc(n);
  if (!tmp) {
    axis_free(&ax);
    axis_free(&ay);
    return IMGPCA_NOMEM;
  }
  /* Vertical pass first: dh rows of the full source width. */
  for (y = 0; y < dh; y++)
    vpass_row(src->px, sw3, ay.first[y], ay.cnt[y], ay.w + ay.off[y], tmp + (size_t)y * sw3, sw3);
  /* Horizontal pass on dh rows only. */
  for (y = 0; y < dh; y++) {
    const float *row = tmp + (size_t)y * sw3;
    float *d = dst + (size_t)y * dw * 3;
    for (x = 0; x < dw; x++) {
      const float *s = row + (size_t)ax.first[x] * 3;
      const float *w = ax.w + ax.off[x];
      float r = 0, g = 0, b = 0;
      int k, c = ax.cnt[x];
      for (k = 0; k < c; k++, s += 3) {
        r += w[k] * s[0];
        g += w[k] * s[1];
        b += w[k] * s[2];
      }
      d[3 * x] = r;
      d[3 * x + 1] = g;
      d[3 * x + 2] = b;
    }
  }
  imgpca_free(tmp);
  axis_free(&ax);
  axis_free(&ay);
  return IMGPCA_OK;
}

int img_resize_box_u8(const ImgImage *src, int dw, int dh, ImgImage *out) {
  size_t n, i;
  float *f;
  int rc;
  out->px = NULL;
  out->w = out->h = 0;
  if (dw <= 0 || dh <= 0 || !imgpca_mul_ok((size_t)dw, (size_t)dh, &n) || !imgpca_mul_ok(n, 3, &n))
    return IMGPCA_ERROR;
  f = imgpca_malloc(n * sizeof(float));
  if (!f) return IMGPCA_NOMEM;
  rc = img_resize_box(src, dw, dh, f);
  if (rc) {
    imgpca_free(f);
    return rc;
  }
  out->px = imgpca_malloc(n);
  if (!out->px) {
    imgpca_free(f);
    return IMGPCA_NOMEM;
  }
  for (i = 0; i < n; i++) {
    float v = f[i] + 0.5f;
    out->px[i] = (unsigned char)(v <= 0 ? 0 : v >= 255 ? 255
                                                       : (int)v);
  }
  imgpca_free(f);
  out->w = dw;
  out->h = dh;
  return IMGPCA_OK;
}
