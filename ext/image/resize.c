/*
** Area-averaging (box) resize with exact fractional coverage (pure C core;
** no SQL behaviour of its own).  Output pixel o of an axis of source length S
** and destination length D covers the source interval [o*S/D, (o+1)*S/D);
** every source pixel contributes its overlap with that interval, so the
** weights of an output pixel sum to one.  Separable: rows first, then
** columns, in single-precision float.  Works for up- and downscaling.
*/
#include "image.h"

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
  if (!a->first || !a->cnt || !a->off || !a->w) { axis_free(a); return IMGPCA_NOMEM; }
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

int img_resize_box(const ImgImage *src, int dw, int dh, float *dst) {
  Axis ax, ay;
  float *tmp;
  int rc, x, y;
  size_t n;
  if (dw <= 0 || dh <= 0 || src->w <= 0 || src->h <= 0) return IMGPCA_ERROR;
  if (!imgpca_mul_ok((size_t)src->h, (size_t)dw * 3 * sizeof(float), &n)) return IMGPCA_NOMEM;
  rc = axis_init(&ax, src->w, dw);
  if (rc) return rc;
  rc = axis_init(&ay, src->h, dh);
  if (rc) { axis_free(&ax); return rc; }
  tmp = imgpca_malloc(n);
  if (!tmp) { axis_free(&ax); axis_free(&ay); return IMGPCA_NOMEM; }
  /* Horizontal pass: src->h rows of dw pixels. */
  for (y = 0; y < src->h; y++) {
    const unsigned char *row = src->px + (size_t)y * src->w * 3;
    float *t = tmp + (size_t)y * dw * 3;
    for (x = 0; x < dw; x++) {
      const unsigned char *s = row + (size_t)ax.first[x] * 3;
      const float *w = ax.w + ax.off[x];
      float r = 0, g = 0, b = 0;
      int k, c = ax.cnt[x];
      for (k = 0; k < c; k++, s += 3) {
        r += w[k] * s[0];
        g += w[k] * s[1];
        b += w[k] * s[2];
      }
      t[3 * x] = r;
      t[3 * x + 1] = g;
      t[3 * x + 2] = b;
    }
  }
  /* Vertical pass. */
  for (y = 0; y < dh; y++) {
    float *d = dst + (size_t)y * dw * 3;
    const float *w = ay.w + ay.off[y];
    int k, c = ay.cnt[y], i;
    for (i = 0; i < dw * 3; i++) d[i] = 0;
    for (k = 0; k < c; k++) {
      const float *t = tmp + (size_t)(ay.first[y] + k) * dw * 3;
      float wk = w[k];
      for (i = 0; i < dw * 3; i++) d[i] += wk * t[i];
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
  if (rc) { imgpca_free(f); return rc; }
  out->px = imgpca_malloc(n);
  if (!out->px) { imgpca_free(f); return IMGPCA_NOMEM; }
  for (i = 0; i < n; i++) {
    float v = f[i] + 0.5f;
    out->px[i] = (unsigned char)(v <= 0 ? 0 : v >= 255 ? 255 : (int)v);
  }
  imgpca_free(f);
  out->w = dw;
  out->h = dh;
  return IMGPCA_OK;
}
