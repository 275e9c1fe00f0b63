/*
** Feature spec parser and the feature kinds (pure C core of img_features;
** no SQL behaviour of its own).  Grammar and definitions: docs/IMAGES.md.
**
**   spec  = item *(";" item)
**   item  = kind [":" opt *("," opt)]          (spaces around tokens ignored)
**   opt   = key ["=" value]
**   pixels: size=WxH|N (1..1024), color=rgb|grey|gray, norm=none|standard
**   hist:   bins=N (1..40) | HxSxV (1..64 each, product <= 65536), space=hsv, sqrt[=0|1], white=T|off (0..255)
**   hog:    size=WxH|N (8..1024), cell=C (2..64, divides size), bins=B (1..36)
**   cnn:    model=PATH|URL (required), output=NAME, size=WxH|N (1..4096),
**           resize=stretch|crop, norm=none|imagenet|tf|caffe  (docs/CNN.md; the
**           model is loaded by the SQL glue, then img_spec_set_model)
**   decode: dct=on|off, warnings=error|ignore          (contributes no values)
*/
#include "image.h"

#include "../cnn/cnn.h"
#include "../vector/vector.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- parser --------------------------------------------------------------- */

static char *trim(char *z) {
  char *e;
  while (*z && isspace((unsigned char)*z)) z++;
  e = z + strlen(z);
  while (e > z && isspace((unsigned char)e[-1])) *--e = 0;
  return z;
}

/* Parses a decimal integer in [lo, hi] filling the whole of z. */
static int parse_range(const char *z, int lo, int hi, int *out) {
  long v = 0;
  const char *s = z;
  if (!*s) return 0;
  while (*s) {
    if (!isdigit((unsigned char)*s)) return 0;
    v = v * 10 + (*s - '0');
    if (v > 1000000) return 0;
    s++;
  }
  if (v < lo || v > hi) return 0;
  *out = (int)v;
  return 1;
}

/* "WxH" or "N" (square). */
static int parse_size(char *z, int lo, int hi, int *w, int *h) {
  char *x = strchr(z, 'x');
  if (!x) return parse_range(z, lo, hi, w) && (*h = *w, 1);
  *x = 0;
  {
    int ok = parse_range(z, lo, hi, w) && parse_range(x + 1, lo, hi, h);
    *x = 'x';
    return ok;
  }
}

static int parse_bins(char *z, ImgItem *it) {
  char *x1 = strchr(z, 'x'), *x2;
  if (!x1) {
    if (!parse_range(z, 1, 40, &it->hb)) return 0; /* 40^3 = 64000 <= 65536 */
    it->sb = it->vb = it->hb;
    return 1;
  }
  x2 = strchr(x1 + 1, 'x');
  if (!x2) return 0;
  *x1 = *x2 = 0;
  {
    int ok = parse_range(z, 1, 64, &it->hb) && parse_range(x1 + 1, 1, 64, &it->sb) &&
        parse_range(x2 + 1, 1, 64, &it->vb);
    *x1 = *x2 = 'x';
    return ok && (long)it->hb * it->sb * it->vb <= 65536;
  }
}

/* Stores a text option in the spec's string pool; returns its offset (> 0) or 0. */
static int spec_str(ImgSpec *s, const char *z) {
  size_t n = strlen(z);
  int off;
  if (s->nStr == 0) s->nStr = 1; /* offset 0 means "none" */
  if ((size_t)s->nStr + n + 1 > sizeof(s->zStr)) return 0;
  off = s->nStr;
  memcpy(s->zStr + off, z, n + 1);
  s->nStr += (int)n + 1;
  return off;
}

/* One option of a cnn: item: 1 = valid, 0 = bad value, -1 = unknown key. */
static int parse_cnn_opt(ImgSpec *s, ImgItem *it, const char *key, char *val) {
  if (strcmp(key, "model") == 0) return val && *val && (it->iModel = spec_str(s, val)) > 0;
  if (strcmp(key, "output") == 0) return val && *val && (it->iOutput = spec_str(s, val)) > 0;
  if (strcmp(key, "size") == 0) return val && parse_size(val, 1, 4096, &it->w, &it->h);
  if (strcmp(key, "resize") == 0) {
    if (!val) return 0;
    if (strcmp(val, "stretch") == 0)
      it->resize = CNN_RESIZE_STRETCH;
    else if (strcmp(val, "crop") == 0)
      it->resize = CNN_RESIZE_CROP;
    else
      return 0;
    return 1;
  }
  if (strcmp(key, "norm") == 0) {
    if (!val) return 0;
    if (strcmp(val, "none") == 0)
      it->norm = CNN_NORM_NONE;
    else if (strcmp(val, "imagenet") == 0)
      it->norm = CNN_NORM_IMAGENET;
    else if (strcmp(val, "tf") == 0)
      it->norm = CNN_NORM_TF;
    else if (strcmp(val, "caffe") == 0)
      it->norm = CNN_NORM_CAFFE;
    else
      return 0;
    return 1;
  }
  return -1;
}

/* A two-valued option: *p = 0 when val is one of the '|'-separated words of
** zZero, 1 when one of zOne; returns 1, or 0 for a missing or other value. */
static int word_flag(const char *val, const char *zZero, const char *zOne, int *p) {
  const char *az[2] = {zZero, zOne};
  size_t n = val ? strlen(val) : 0;
  int k;
  for (k = 0; val && k < 2; k++) {
    const char *w = az[k];
    while (*w) {
      size_t m = strcspn(w, "|");
      if (m == n && strncmp(w, val, n) == 0) {
        *p = k;
        return 1;
      }
      w += m + (w[m] == '|');
    }
  }
  return 0;
}

/* One option of a decode: item (s->scale, s->lenient): 1 = valid, 0 = bad
** or missing value, -1 = unknown key. */
static int parse_decode_opt(ImgSpec *s, const char *key, const char *val) {
  if (strcmp(key, "dct") == 0) return word_flag(val, "off", "on", &s->scale);
  if (strcmp(key, "warnings") == 0) return word_flag(val, "error", "ignore", &s->lenient);
  return -1;
}

/* One option of a pixels: item: 1 = valid, 0 = bad value, -1 = unknown key. */
static int parse_pixels_opt(ImgItem *it, const char *key, char *val) {
  if (strcmp(key, "size") == 0) return val && parse_size(val, 1, 1024, &it->w, &it->h);
  if (strcmp(key, "color") == 0 || strcmp(key, "colour") == 0) return word_flag(val, "rgb", "grey|gray", &it->grey);
  if (strcmp(key, "norm") == 0) return word_flag(val, "none", "standard", &it->standard);
  return -1;
}

/* One option of a hist: item: 1 = valid, 0 = bad value, -1 = unknown key. */
static int parse_hist_opt(ImgItem *it, const char *key, char *val) {
  if (strcmp(key, "bins") == 0) return val && parse_bins(val, it);
  if (strcmp(key, "space") == 0) return val && strcmp(val, "hsv") == 0;
  if (strcmp(key, "sqrt") == 0) return word_flag(val ? val : "1", "0", "1", &it->sqrt_);
  if (strcmp(key, "side") == 0) return val && parse_range(val, 1, 65535, &it->side);
  if (strcmp(key, "white") == 0) {
    if (!val) return 0;
    if (strcmp(val, "off") == 0) {
      it->white = 256;
      return 1;
    }
    return parse_range(val, 0, 255, &it->white);
  }
  return -1;
}

/* One option of a hog: item: 1 = valid, 0 = bad value, -1 = unknown key. */
static int parse_hog_opt(ImgItem *it, const char *key, char *val) {
  if (strcmp(key, "size") == 0) return val && parse_size(val, 8, 1024, &it->w, &it->h);
  if (strcmp(key, "cell") == 0) return val && parse_range(val, 2, 64, &it->cell);
  if (strcmp(key, "bins") == 0) return val && parse_range(val, 1, 36, &it->obins);
  return -1;
}

/* Sets the kind of *it named kind and its defaults; 0 for an unknown kind. */
static int item_init(ImgItem *it, const char *kind) {
  memset(it, 0, sizeof(*it));
  if (strcmp(kind, "pixels") == 0) {
    it->kind = IMG_PIXELS;
    it->w = it->h = 32;
  } else if (strcmp(kind, "hist") == 0) {
    it->kind = IMG_HIST;
    it->hb = it->sb = it->vb = 8;
    it->white = 240;
    it->side = 48;
  } else if (strcmp(kind, "hog") == 0) {
    it->kind = IMG_HOG;
    it->w = it->h = 64;
    it->cell = 8;
    it->obins = 9;
  } else if (strcmp(kind, "cnn") == 0) {
    it->kind = IMG_CNN;
  } else {
    return 0;
  }
  return 1;
}

/* Parses the comma-separated options opts of the item kind (it == NULL for
** decode:) into it or s. */
static int parse_opts(char *opts, const char *kind, ImgSpec *s, ImgItem *it, char *err) {
  char *opt, *save = NULL;
  for (opt = strtok_r(opts, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(opt, '='), *key, *val = NULL;
    int ok;
    if (eq) {
      *eq = 0;
      val = trim(eq + 1);
    }
    key = trim(opt);
    if (!it)
      ok = parse_decode_opt(s, key, val);
    else if (it->kind == IMG_PIXELS)
      ok = parse_pixels_opt(it, key, val);
    else if (it->kind == IMG_HIST)
      ok = parse_hist_opt(it, key, val);
    else if (it->kind == IMG_CNN)
      ok = parse_cnn_opt(s, it, key, val);
    else
      ok = parse_hog_opt(it, key, val);
    if (ok < 0) return imgpca_seterr(err, "invalid spec: unknown option '%s' of '%s'", key, kind);
    if (!ok) {
      if (!val) return imgpca_seterr(err, "invalid spec: option '%s' of '%s' needs a value", key, kind);
      return imgpca_seterr(err, "invalid spec: bad value '%s' for '%s:%s'", val, kind, key);
    }
  }
  return IMGPCA_OK;
}

/* Parses one item "kind[:opts]" of a spec: appends it to s->a, or for
** decode: sets s->scale and s->lenient. */
static int parse_item(char *z, ImgSpec *s, char *err) {
  char *colon = strchr(z, ':'), *kind = z, *opts = NULL;
  ImgItem *it = NULL;
  int rc;
  if (colon) {
    *colon = 0;
    opts = colon + 1;
  }
  kind = trim(kind);
  if (!*kind) return imgpca_seterr(err, "invalid spec: empty item");
  if (strcmp(kind, "decode") != 0) {
    if (s->n >= IMG_SPEC_MAX) return imgpca_seterr(err, "invalid spec: more than %d items", IMG_SPEC_MAX);
    it = &s->a[s->n];
    if (!item_init(it, kind)) return imgpca_seterr(err, "invalid spec: unknown kind '%s'", kind);
  }
  if (opts) {
    if (!*trim(opts)) return imgpca_seterr(err, "invalid spec: empty option list after '%s:'", kind);
    rc = parse_opts(opts, kind, s, it, err);
    if (rc) return rc;
  }
  if (it && it->kind == IMG_CNN && !it->iModel)
    return imgpca_seterr(err, "invalid spec: 'cnn' needs model=PATH or URL of an ONNX model");
  if (it && it->kind == IMG_HOG && (it->w % it->cell || it->h % it->cell))
    return imgpca_seterr(err, "invalid spec: hog size %dx%d is not a multiple of cell %d", it->w, it->h,
                         it->cell);
  if (it) s->n++;
  return IMGPCA_OK;
}

int img_spec_parse(const char *z, ImgSpec *s, char *err) {
  char *copy, *item, *save = NULL;
  int rc = IMGPCA_OK;
  memset(s, 0, sizeof(*s));
  s->scale = 1;
  if (!z) z = IMG_DEFAULT_SPEC;
  if (strlen(z) > 4096) return imgpca_seterr(err, "invalid spec: longer than 4096 bytes");
  copy = imgpca_strdup(z);
  if (!copy) return IMGPCA_NOMEM;
  if (!*trim(copy)) {
    imgpca_free(copy);
    return imgpca_seterr(err, "invalid spec: empty");
  }
  {
    /* strtok_r would merge ";;" -- check for empty items first. */
    const char *q = z;
    int empty = 1;
    for (; *q; q++) {
      if (*q == ';') {
        if (empty) {
          imgpca_free(copy);
          return imgpca_seterr(err, "invalid spec: empty item");
        }
        empty = 1;
      } else if (!isspace((unsigned char)*q))
        empty = 0;
    }
    if (empty) {
      imgpca_free(copy);
      return imgpca_seterr(err, "invalid spec: empty item");
    }
  }
  for (item = strtok_r(copy, ";", &save); item && rc == IMGPCA_OK; item = strtok_r(NULL, ";", &save)) {
    rc = parse_item(item, s, err);
  }
  imgpca_free(copy);
  if (rc == IMGPCA_OK && s->n == 0) rc = imgpca_seterr(err, "invalid spec: no feature kind");
  /* a vector no vector function would accept is refused here, not later */
  if (rc == IMGPCA_OK && img_spec_dims(s) > IMGPCA_VEC_MAX_DIMS)
    rc = imgpca_seterr(err, "invalid spec: %zu dimensions, more than the %u a vector may have", img_spec_dims(s),
                       (unsigned)IMGPCA_VEC_MAX_DIMS);
  return rc;
}

static size_t item_dims(const ImgItem *it) {
  switch (it->kind) {
    case IMG_PIXELS: return (size_t)it->w * it->h * (it->grey ? 1 : 3);
    case IMG_HIST: return (size_t)it->hb * it->sb * it->vb;
    case IMG_CNN: return it->model ? cnn_image_model_dims((const CnnImageModel *)it->model) : 0;
    default: return (size_t)(it->w / it->cell) * (it->h / it->cell) * it->obins;
  }
}

size_t img_spec_dims(const ImgSpec *s) {
  size_t n = 0;
  int i;
  for (i = 0; i < s->n; i++) n += item_dims(&s->a[i]);
  return n;
}

const char *img_item_model_url(const ImgSpec *s, const ImgItem *it) { return it->iModel ? s->zStr + it->iModel : NULL; }
const char *img_item_output(const ImgSpec *s, const ImgItem *it) { return it->iOutput ? s->zStr + it->iOutput : NULL; }

int img_spec_set_model(ImgSpec *s, int i, void *model, char *err) {
  ImgItem *it = &s->a[i];
  size_t total;
  if (it->model) cnn_image_model_release((CnnImageModel *)it->model);
  it->model = model;
  cnn_image_model_size((const CnnImageModel *)model, &it->w, &it->h);
  total = img_spec_dims(s);
  if (total > IMGPCA_VEC_MAX_DIMS)
    return imgpca_seterr(err, "invalid spec: %zu dimensions (at most %u)", total, (unsigned)IMGPCA_VEC_MAX_DIMS);
  return IMGPCA_OK;
}

void img_spec_retain(ImgSpec *s) {
  int i;
  for (i = 0; i < s->n; i++)
    if (s->a[i].model) cnn_image_model_retain((CnnImageModel *)s->a[i].model);
}

void img_spec_release(ImgSpec *s) {
  int i;
  for (i = 0; i < s->n; i++)
    if (s->a[i].model) {
      cnn_image_model_release((CnnImageModel *)s->a[i].model);
      s->a[i].model = NULL;
    }
}

void img_spec_decode_opts(const ImgSpec *s, ImgDecodeOpts *o) {
  int i;
  o->scale = s->scale;
  o->lenient = s->lenient;
  o->need_w = o->need_h = o->need_short = 0;
  for (i = 0; i < s->n; i++) {
    const ImgItem *it = &s->a[i];
    if (it->kind == IMG_HIST) {
      if (o->need_short < it->side) o->need_short = it->side;
    } else if (it->kind == IMG_CNN && it->resize == CNN_RESIZE_CROP) {
      int side = 2 * (it->w > it->h ? it->w : it->h) * 8 / 7; /* the crop resizes to side / 0.875 */
      if (o->need_short < side) o->need_short = side;
    } else {
      if (o->need_w < 2 * it->w) o->need_w = 2 * it->w;
      if (o->need_h < 2 * it->h) o->need_h = 2 * it->h;
    }
  }
}

/* ---- kinds ---------------------------------------------------------------- */

/* HSV histogram.  Bins are floor(x*n) clamped to n-1 of the exact values
** v = max/255, s = (max-min)/max, h = hexcone hue in [0,1).  The two
** divisions per pixel are done as multiplications by 32.32 fixed-point
** reciprocals m > n*2^32/k (m - n*2^32/k < 2): for a numerator a < 1536 the
** error a*(m - exact)/2^32 < 1e-6 is far below the distance (>= 1/1530) of a
** non-integer quotient from the next integer, so every bin equals the exact
** floor, and m never undershoots, so integer quotients are exact too. */
static int hsv_hist(const ImgItem *it, const ImgImage *im, float *out) {
  size_t np = (size_t)im->w * im->h, i, kept = 0, nb = (size_t)it->hb * it->sb * it->vb;
  const unsigned char *p = im->px;
  const int hb = it->hb, sb = it->sb, vb = it->vb, white = it->white;
  uint64_t ms[256], m6[256];
  uint32_t vo[256], so[65], ho[65]; /* bin offsets in the 4-way counter array */
  /* Four interleaved sub-histograms: neighbouring pixels often fall in the
  ** same bin, and one counter would serialise on its own increments. */
  uint32_t *cnt = imgpca_calloc(nb * 4, sizeof(uint32_t));
  int k;
  if (!cnt) return IMGPCA_NOMEM;
  /* ms[0] = m6[0] = 0 make grey pixels (d = 0) land in h = s = 0 without a branch. */
  ms[0] = m6[0] = 0;
  for (k = 1; k < 256; k++) {
    ms[k] = (uint64_t)((double)sb * 4294967296.0 / (double)k) + 1;
    m6[k] = (uint64_t)((double)hb * 4294967296.0 / (double)(6 * k)) + 1;
  }
  for (k = 0; k < 256; k++) {
    int v = k * vb / 255;
    vo[k] = (uint32_t)(v >= vb ? vb - 1 : v) * 4;
  }
  for (k = 0; k <= sb; k++) so[k] = (uint32_t)((k >= sb ? sb - 1 : k) * vb) * 4; /* s = 1 gives sb */
  for (k = 0; k <= hb; k++) ho[k] = (uint32_t)((k >= hb ? hb - 1 : k) * sb * vb) * 4;
  /* Hue sector selection with conditional moves: the sector changes
  ** unpredictably from pixel to pixel, a branch would often mispredict. */
  for (i = 0; i < np; i++, p += 3) {
    int r = p[0], g = p[1], b = p[2];
    int mx = r > g ? r : g, mn = r < g ? r : g, d, si, hi, num;
    mx = mx > b ? mx : b;
    mn = mn < b ? mn : b;
    if (mn >= white) continue;
    d = mx - mn;
    si = (int)(((uint64_t)d * ms[mx]) >> 32);
    num = mx == g ? 2 * d + (b - r) : 4 * d + (r - g);
    num = mx == r ? g - b : num;
    num = num < 0 ? num + 6 * d : num;
    hi = (int)(((uint64_t)num * m6[d]) >> 32);
    cnt[ho[hi] + so[si] + vo[mx] + (i & 3)]++;
    kept++;
  }
  for (i = 0; i < nb; i++) {
    uint32_t c = cnt[4 * i] + cnt[4 * i + 1] + cnt[4 * i + 2] + cnt[4 * i + 3];
    float v = kept ? (float)((double)c / (double)kept) : 0.0f;
    if (it->sqrt_) v = sqrtf(v);
    out[i] = v;
  }
  imgpca_free(cnt);
  return IMGPCA_OK;
}

static int pixels_feat(const ImgItem *it, const ImgImage *im, float *out) {
  size_t n = (size_t)it->w * it->h, i, dims = n * (it->grey ? 1 : 3);
  float *f = imgpca_malloc(n * 3 * sizeof(float));
  int rc;
  if (!f) return IMGPCA_NOMEM;
  rc = img_resize_box(im, it->w, it->h, f);
  if (rc) {
    imgpca_free(f);
    return rc;
  }
  if (it->grey) {
    for (i = 0; i < n; i++)
      out[i] = (0.299f * f[3 * i] + 0.587f * f[3 * i + 1] + 0.114f * f[3 * i + 2]) / 255.0f;
  } else {
    for (i = 0; i < dims; i++) out[i] = f[i] / 255.0f;
  }
  imgpca_free(f);
  if (it->standard) {
    double m = 0, v = 0, sd;
    for (i = 0; i < dims; i++) m += out[i];
    m /= (double)dims;
    for (i = 0; i < dims; i++) v += (out[i] - m) * (out[i] - m);
    sd = sqrt(v / (double)dims);
    for (i = 0; i < dims; i++) out[i] = sd > 1e-12 ? (float)((out[i] - m) / sd) : 0.0f;
  }
  return IMGPCA_OK;
}

/* HOG-style: grey image resized to WxH, central-difference gradients,
** unsigned orientation in [0,180) linearly split between the two nearest of
** B bins, magnitude-weighted per CxC cell; the whole vector L2-normalised. */
static int hog_feat(const ImgItem *it, const ImgImage *im, float *out) {
  int W = it->w, H = it->h, C = it->cell, B = it->obins, cw = W / C, ch = H / C, x, y;
  size_t n = (size_t)W * H, i, dims = (size_t)cw * ch * B;
  float *f = imgpca_malloc(n * 4 * sizeof(float)), *g;
  double ss = 0;
  int rc;
  if (!f) return IMGPCA_NOMEM;
  rc = img_resize_box(im, W, H, f);
  if (rc) {
    imgpca_free(f);
    return rc;
  }
  g = f + n * 3;
  for (i = 0; i < n; i++) g[i] = (0.299f * f[3 * i] + 0.587f * f[3 * i + 1] + 0.114f * f[3 * i + 2]) / 255.0f;
  for (i = 0; i < dims; i++) out[i] = 0;
  for (y = 0; y < H; y++) {
    for (x = 0; x < W; x++) {
      float gx = g[(size_t)y * W + (x + 1 < W ? x + 1 : x)] - g[(size_t)y * W + (x > 0 ? x - 1 : x)];
      float gy = g[(size_t)(y + 1 < H ? y + 1 : y) * W + x] - g[(size_t)(y > 0 ? y - 1 : y) * W + x];
      float mag = sqrtf(gx * gx + gy * gy), ang, pos, fr;
      int b0, b1;
      float *cell;
      if (mag <= 0) continue;
      ang = atan2f(gy, gx) * (float)(180.0 / M_PI);
      if (ang < 0) ang += 180.0f;
      if (ang >= 180.0f) ang -= 180.0f;
      pos = ang / (180.0f / (float)B) - 0.5f;
      b0 = (int)floorf(pos);
      fr = pos - (float)b0;
      b1 = b0 + 1;
      if (b0 < 0) b0 += B;
      if (b1 >= B) b1 -= B;
      cell = out + ((size_t)(y / C) * cw + (size_t)(x / C)) * B;
      cell[b0] += mag * (1.0f - fr);
      cell[b1] += mag * fr;
    }
  }
  imgpca_free(f);
  for (i = 0; i < dims; i++) ss += (double)out[i] * out[i];
  if (ss > 0) {
    float inv = (float)(1.0 / sqrt(ss));
    for (i = 0; i < dims; i++) out[i] *= inv;
  }
  return IMGPCA_OK;
}

int img_features_compute(const ImgSpec *s, const ImgImage *im, float *out, char *err) {
  int i, rc = IMGPCA_OK;
  if (im->w <= 0 || im->h <= 0) return imgpca_seterr(err, "empty image");
  for (i = 0; i < s->n && rc == IMGPCA_OK; i++) {
    const ImgItem *it = &s->a[i];
    switch (it->kind) {
      case IMG_PIXELS: rc = pixels_feat(it, im, out); break;
      case IMG_HIST: rc = hsv_hist(it, im, out); break;
      case IMG_CNN:
        if (!it->model) return imgpca_seterr(err, "cnn: model not loaded");
        rc = cnn_features((CnnImageModel *)it->model, im->px, im->w, im->h, it->resize, it->norm, out, err);
        if (rc == IMGPCA_ERROR) return rc;
        break;
      default: rc = hog_feat(it, im, out); break;
    }
    out += item_dims(it);
  }
  if (rc == IMGPCA_ERROR) rc = imgpca_seterr(err, "cannot compute features");
  return rc;
}

int img_features_blob(const unsigned char *p, size_t n, const ImgSpec *s, long long maxPixels,
                      unsigned char **ppBlob, size_t *pnBlob, int *pbDecode, char *err) {
  ImgDecodeOpts o;
  ImgImage im;
  size_t dims, i;
  float *out;
  unsigned char *blob;
  int rc;
  *ppBlob = NULL;
  *pnBlob = 0;
  if (pbDecode) *pbDecode = 0;
  img_decode_opts_init(&o);
  img_spec_decode_opts(s, &o);
  o.max_pixels = maxPixels;
  rc = img_decode(p, n, &o, &im, NULL, err);
  if (rc != IMGPCA_OK) {
    if (pbDecode) *pbDecode = 1;
    return rc;
  }
  dims = img_spec_dims(s);
  blob = imgpca_malloc(dims * 4);
  out = imgpca_malloc(dims * sizeof(float));
  if (!blob || !out) {
    imgpca_free(blob);
    imgpca_free(out);
    img_image_free(&im);
    return IMGPCA_NOMEM;
  }
  rc = img_features_compute(s, &im, out, err);
  img_image_free(&im);
  if (rc != IMGPCA_OK) {
    imgpca_free(blob);
    imgpca_free(out);
    return rc;
  }
  for (i = 0; i < dims; i++) imgpca_put_f32(blob + 4 * i, out[i]);
  imgpca_free(out);
  *ppBlob = blob;
  *pnBlob = dims * 4;
  return IMGPCA_OK;
}
