/*
** Image encoding (pure C, no SQLite types): 8-bit pixels to PNG (libpng) or
** JPEG (libjpeg-turbo's TurboJPEG API), thumbnails, and float vectors to
** 8-bit pixels.  SQL behaviour (glue in image_sql.c):
**
**   img_encode(pixels, w, h, channels, format [, quality])  -> PNG/JPEG BLOB
**       pixels: w*h*channels bytes, rows top to bottom, interleaved.
**       channels 1 (grey), 3 (RGB); PNG also 2 (grey+alpha) and 4 (RGBA).
**       format 'png' | 'jpeg' (or 'jpg'); quality 1..100 (JPEG, default 85).
**   img_thumbnail(img, size [, format [, quality]])  -> PNG/JPEG BLOB
**       the upright image scaled (area averaging) to fit a size x size box,
**       aspect ratio kept, never enlarged; format default 'jpeg'.  Corrupt-data
**       warnings are tolerated (the decodable part is shown).
**   img_from_fvec(vec [, lo, hi])  -> bytes: each float mapped linearly
**       from lo..hi onto 0..255, rounded and clamped; without lo/hi the
**       vector's own min..max (a constant vector gives 128).  Turns pixel
**       features, a PCA mean or a component into img_encode input.
*/
#include "image.h"

#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <turbojpeg.h>

int img_encode_check(int w, int h, int channels, int format, char *err) {
  if (w < 1 || h < 1 || w > 65535 || h > 65535)
    return imgpca_seterr(err, "size %dx%d out of range 1..65535", w, h);
  if (format == IMG_FMT_JPEG && channels != 1 && channels != 3)
    return imgpca_seterr(err, "jpeg needs 1 or 3 channels, got %d", channels);
  if (channels < 1 || channels > 4)
    return imgpca_seterr(err, "channels must be 1..4, got %d", channels);
  return IMGPCA_OK;
}

/* ---- PNG ----------------------------------------------------------------- */

typedef struct PngW {
  ImgpcaBuf buf;
  char *err;
  int nomem;
} PngW;

/* A failed libpng allocation makes the encode IMGPCA_NOMEM (libpng reports
** it as an error "Out of memory", or carries on without the memory). */
static png_voidp pw_malloc(png_structp png, png_alloc_size_t size) {
  void *p = imgpca_malloc(size);
  PngW *s = (PngW *)png_get_mem_ptr(png);
  if (!p && s) s->nomem = 1; /* libpng then reports "out of memory" through pw_error */
  return p;
}
static void pw_free(png_structp png, png_voidp p) {
  (void)png;
  imgpca_free(p);
}
static void pw_error(png_structp png, png_const_charp msg) {
  PngW *s = (PngW *)png_get_error_ptr(png);
  imgpca_seterr(s->err, "cannot encode png: %s", msg);
  png_longjmp(png, 1);
}
static void pw_warning(png_structp png, png_const_charp msg) {
  (void)png;
  (void)msg;
}
static void pw_write(png_structp png, png_bytep data, size_t len) {
  PngW *s = (PngW *)png_get_io_ptr(png);
  if (imgpca_buf_append(&s->buf, data, len) != IMGPCA_OK) {
    s->nomem = 1;
    png_error(png, "out of memory");
  }
}
static void pw_flush(png_structp png) { (void)png; }

static int encode_png(const unsigned char *px, int w, int h, int channels, unsigned char **out,
                      size_t *pn, char *err) {
  static const int types[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                               PNG_COLOR_TYPE_RGB_ALPHA};
  PngW *s = imgpca_calloc(1, sizeof(PngW));
  png_structp png;
  png_infop pi = NULL;
  int y;
  if (!s) return IMGPCA_NOMEM;
  imgpca_buf_init(&s->buf);
  s->err = err;
  png = png_create_write_struct_2(PNG_LIBPNG_VER_STRING, s, pw_error, pw_warning, s, pw_malloc, pw_free);
  if (!png) {
    imgpca_free(s);
    return IMGPCA_NOMEM;
  }
  pi = png_create_info_struct(png);
  if (!pi) {
    png_destroy_write_struct(&png, NULL);
    imgpca_free(s);
    return IMGPCA_NOMEM;
  }
  if (setjmp(png_jmpbuf(png))) {
    int rc = s->nomem ? IMGPCA_NOMEM : IMGPCA_ERROR;
    png_destroy_write_struct(&png, &pi);
    imgpca_buf_free(&s->buf);
    imgpca_free(s);
    return rc;
  }
  png_set_write_fn(png, s, pw_write, pw_flush);
  png_set_IHDR(png, pi, (png_uint_32)w, (png_uint_32)h, 8, types[channels], PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, pi);
  for (y = 0; y < h; y++) png_write_row(png, (png_const_bytep)(px + (size_t)y * w * channels));
  png_write_end(png, pi);
  png_destroy_write_struct(&png, &pi);
  if (s->buf.oom || s->nomem) {
    imgpca_buf_free(&s->buf);
    imgpca_free(s);
    return IMGPCA_NOMEM;
  }
  *out = imgpca_buf_detach(&s->buf, pn);
  imgpca_free(s);
  return *out ? IMGPCA_OK : IMGPCA_NOMEM;
}

/* ---- JPEG ---------------------------------------------------------------- */

static int encode_jpeg(const unsigned char *px, int w, int h, int channels, int quality,
                       unsigned char **out, size_t *pn, char *err) {
  tjhandle tj = tjInitCompress();
  unsigned char *jb = NULL;
  unsigned long jn = 0;
  int rc;
  if (!tj) return imgpca_seterr(err, "cannot encode jpeg: %s", tjGetErrorStr());
  rc = tjCompress2(tj, px, w, 0, h, channels == 1 ? TJPF_GRAY : TJPF_RGB, &jb, &jn,
                   channels == 1 ? TJSAMP_GRAY : TJSAMP_420, quality, TJFLAG_ACCURATEDCT);
  if (rc != 0) {
    imgpca_seterr(err, "cannot encode jpeg: %s", tjGetErrorStr2(tj));
    tjFree(jb);
    tjDestroy(tj);
    return IMGPCA_ERROR;
  }
  tjDestroy(tj);
  *out = imgpca_malloc(jn ? jn : 1);
  if (!*out) {
    tjFree(jb);
    return IMGPCA_NOMEM;
  }
  memcpy(*out, jb, jn);
  *pn = jn;
  tjFree(jb);
  return IMGPCA_OK;
}

int img_encode(const unsigned char *px, int w, int h, int channels, int format, int quality,
               unsigned char **out, size_t *pn, char *err) {
  int rc = img_encode_check(w, h, channels, format, err);
  *out = NULL;
  *pn = 0;
  if (rc) return rc;
  if (format == IMG_FMT_PNG) return encode_png(px, w, h, channels, out, pn, err);
  if (quality < 1 || quality > 100) return imgpca_seterr(err, "quality %d out of range 1..100", quality);
  return encode_jpeg(px, w, h, channels, quality, out, pn, err);
}

int img_format_parse(const char *z) {
  if (!z) return 0;
  if (strcmp(z, "png") == 0) return IMG_FMT_PNG;
  if (strcmp(z, "jpeg") == 0 || strcmp(z, "jpg") == 0) return IMG_FMT_JPEG;
  return 0;
}

/* ---- thumbnails ------------------------------------------------------------ */

void img_thumbnail_size(int w, int h, int size, int *tw, int *th) {
  if (w <= size && h <= size) {
    *tw = w;
    *th = h;
    return;
  }
  if (w >= h) {
    *tw = size;
    *th = (int)((long long)h * size / w + ((long long)h * size % w) * 2 / w);
  } else {
    *th = size;
    *tw = (int)((long long)w * size / h + ((long long)w * size % h) * 2 / h);
  }
  if (*tw < 1) *tw = 1;
  if (*th < 1) *th = 1;
}

int img_thumbnail(const unsigned char *p, size_t n, long long max_pixels, int size, int format,
                  int quality, unsigned char **out, size_t *pn, char *err) {
  ImgDecodeOpts o;
  ImgImage im, rs;
  ImgInfo info;
  int rc, tw, th;
  *out = NULL;
  *pn = 0;
  if (size < 1 || size > 4096) return imgpca_seterr(err, "size %d out of range 1..4096", size);
  img_decode_opts_init(&o);
  o.max_pixels = max_pixels;
  /* DCT scaling keeps the decoded image at least size x size, so the box
  ** resize below still averages over real pixels */
  o.scale = 1;
  o.need_short = size;
  o.need_w = o.need_h = 1;
  o.lenient = 1; /* a thumbnail of what could be decoded beats none */
  rc = img_decode(p, n, &o, &im, &info, err);
  if (rc) return rc;
  img_thumbnail_size(im.w, im.h, size, &tw, &th);
  if (tw != im.w || th != im.h) {
    rc = img_resize_box_u8(&im, tw, th, &rs);
    img_image_free(&im);
    if (rc) return rc == IMGPCA_NOMEM ? rc : imgpca_seterr(err, "cannot resize to %dx%d", tw, th);
    im = rs;
  }
  rc = img_encode(im.px, im.w, im.h, 3, format, quality, out, pn, err);
  img_image_free(&im);
  return rc;
}

/* ---- float vectors to bytes -------------------------------------------------- */

void img_from_floats(const float *v, size_t n, int range, double lo, double hi, unsigned char *out) {
  size_t i;
  double scale;
  if (!range) {
    lo = INFINITY;
    hi = -INFINITY;
    for (i = 0; i < n; i++) {
      if (isfinite(v[i])) {
        if (v[i] < lo) lo = v[i];
        if (v[i] > hi) hi = v[i];
      }
    }
  }
  if (!(hi > lo)) {
    memset(out, 128, n);
    return;
  }
  scale = 255.0 / (hi - lo);
  for (i = 0; i < n; i++) {
    double t = isnan(v[i]) ? 0.0 : ((double)v[i] - lo) * scale;
    out[i] = t <= 0 ? 0 : t >= 255 ? 255
                                   : (unsigned char)lrint(t);
  }
}
