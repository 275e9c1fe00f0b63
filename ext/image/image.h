/*
** Image core (pure C, no SQLite types): JPEG/PNG decoding to 8-bit RGB,
** EXIF orientation, area-averaging resize, the feature spec parser and the
** feature kinds (pixels, hist, hog).  SQL glue: image_sql.c.
** Reference: docs/IMAGES.md.
*/
#ifndef IMGPCA_IMAGE_H
#define IMGPCA_IMAGE_H

#include "../common/common.h"

/* An 8-bit RGB image, rows top to bottom, pixels interleaved R,G,B. */
typedef struct ImgImage {
  int w, h;
  unsigned char *px; /* imgpca_malloc, w*h*3 bytes */
} ImgImage;
void img_image_free(ImgImage *im);

/* Decoding options. */
typedef struct ImgDecodeOpts {
  long long max_pixels; /* reject width*height above this (0 = no limit) */
  int need_w, need_h;   /* DCT scaling allowed while the (upright) scaled image stays
                          ** at least need_w x need_h; 0,0 = no constraint from pixels */
  int need_short;       /* ... and its shorter side stays >= need_short (0 = none) */
  int scale;            /* 1 = DCT-domain scaling allowed (JPEG only) */
  int lenient;          /* 1 = accept corrupt-data warnings (partial image) */
  int header_only;      /* 1 = stop after reading the header (img_info fast path) */
} ImgDecodeOpts;
void img_decode_opts_init(ImgDecodeOpts *o);

/* What the decoder learnt about the stream (filled as far as it got). */
typedef struct ImgInfo {
  const char *format; /* "jpeg", "png" or NULL */
  int width, height;  /* stored size (before orientation) */
  int channels;       /* components in the file (alpha counted) */
  int bit_depth;
  const char *color; /* "grey","rgb","ycbcr","cmyk","ycck","palette","grey+alpha","rgba" */
  int progressive;   /* JPEG progressive */
  int arithmetic;    /* JPEG arithmetic coding */
  int interlaced;    /* PNG Adam7 */
  int adobe;         /* JPEG Adobe APP14 marker seen */
  int orientation;   /* EXIF orientation 1..8 (1 when absent or invalid) */
  int scale_num;     /* JPEG DCT scaling used: scale_num/8 (8 = none) */
  int out_w, out_h;  /* size of the decoded, upright image */
  int n_warnings;
  char warning[200]; /* the first decoder warning, "" if none */
} ImgInfo;

/* Decodes a JPEG or PNG in memory to upright RGB (alpha composited on white).
** Returns IMGPCA_OK, IMGPCA_NOMEM or IMGPCA_ERROR with a message like
** "cannot decode jpeg: Premature end of JPEG file".  info may be NULL. */
int img_decode(const unsigned char *p, size_t n, const ImgDecodeOpts *o, ImgImage *out,
               ImgInfo *info, char *err);

/* EXIF orientation (1..8) from an APP1 payload ("Exif\0\0" + TIFF); 0 if absent. */
int img_exif_orientation(const unsigned char *p, size_t n);
/* Applies an EXIF orientation in place (replaces im->px). */
int img_orient(ImgImage *im, int orientation);

/* Area-averaging (box) resize with exact fractional coverage.  dst holds
** dw*dh*3 floats in the 0..255 range. */
int img_resize_box(const ImgImage *src, int dw, int dh, float *dst);
/* Same, rounded to 8 bits into a new image. */
int img_resize_box_u8(const ImgImage *src, int dw, int dh, ImgImage *out);

/* ---- feature specs ------------------------------------------------------ */
enum { IMG_PIXELS = 1,
       IMG_HIST = 2,
       IMG_HOG = 3,
       IMG_CNN = 4 };
#define IMG_SPEC_MAX 8
#define IMG_SPEC_STRMAX 4200 /* text options (cnn: model URL, output name) of one spec */
typedef struct ImgItem {
  int kind;
  int w, h;            /* pixels / hog: target size */
  int grey;            /* pixels: 1 = one grey channel */
  int standard;        /* pixels: per-vector mean/std normalisation */
  int hb, sb, vb;      /* hist: bins per H, S, V */
  int sqrt_;           /* hist: square root after L1 */
  int white;           /* hist: drop pixels with min(R,G,B) >= white; 256 = keep all */
  int side;            /* hist: DCT scaling keeps the shorter side >= side px */
  int cell, obins;     /* hog: cell size in px, orientation bins */
  int resize, norm;    /* cnn: CNN_RESIZE_*, CNN_NORM_* */
  int iModel, iOutput; /* cnn: offsets into ImgSpec.zStr (iOutput 0 = default output) */
  void *model;         /* cnn: CnnImageModel *, set by the glue (img_spec_set_model); w,h = 0 until then */
} ImgItem;
typedef struct ImgSpec {
  int n;
  ImgItem a[IMG_SPEC_MAX];
  int scale;   /* decode:dct=on|off (default on) */
  int lenient; /* decode:warnings=ignore|error (default error) */
  int nStr;
  char zStr[IMG_SPEC_STRMAX]; /* NUL-separated text options; zStr[0] = 0 */
} ImgSpec;

#define IMG_DEFAULT_SPEC "hist:bins=8,sqrt"

/* Parses a spec (NULL = IMG_DEFAULT_SPEC).  Error names the bad token. */
int img_spec_parse(const char *z, ImgSpec *s, char *err);
/* Dimensions of the feature vector (cnn: items count once their model is set). */
size_t img_spec_dims(const ImgSpec *s);
/* The model URL and output name (NULL = default) of a cnn: item. */
const char *img_item_model_url(const ImgSpec *s, const ImgItem *it);
const char *img_item_output(const ImgSpec *s, const ImgItem *it);
/* Attaches a loaded model (CnnImageModel *, one reference taken over) to a
** cnn: item; its input size becomes the item's w x h.  Checks the spec's
** total dimension against the vector functions' limit. */
int img_spec_set_model(ImgSpec *s, int i, void *model, char *err);
/* Copies of a spec share its models: retain before keeping a copy,
** release when done (both no-ops for specs without cnn: items). */
void img_spec_retain(ImgSpec *s);
void img_spec_release(ImgSpec *s);
/* Decoding options implied by the spec (scaling constraints, leniency). */
void img_spec_decode_opts(const ImgSpec *s, ImgDecodeOpts *o);
/* Computes the features of an upright RGB image into out[img_spec_dims(s)]. */
int img_features_compute(const ImgSpec *s, const ImgImage *im, float *out, char *err);
/* Decodes an image (JPEG/PNG bytes) with the options the spec implies and
** returns its features as a float32 little-endian blob (imgpca_malloc): the
** one path behind img_features and s3_fetch_many, so both give the same
** bytes.  *pbDecode = 1 when the decoding failed (vs. the features).
** Thread-safe: no shared mutable state; libjpeg/libpng contexts per call. */
int img_features_blob(const unsigned char *p, size_t n, const ImgSpec *s, long long maxPixels,
                      unsigned char **ppBlob, size_t *pnBlob, int *pbDecode, char *err);

/* ---- encoding (encode.c) --------------------------------------------- */
enum { IMG_FMT_PNG = 1,
       IMG_FMT_JPEG = 2 };
/* "png" -> IMG_FMT_PNG, "jpeg"/"jpg" -> IMG_FMT_JPEG, else 0. */
int img_format_parse(const char *z);
/* Validates size and channels for a format (JPEG: 1 or 3; PNG: 1..4). */
int img_encode_check(int w, int h, int channels, int format, char *err);
/* Encodes w*h*channels interleaved bytes; *out is imgpca_malloc'ed.
** quality (1..100) is used by JPEG only. */
int img_encode(const unsigned char *px, int w, int h, int channels, int format, int quality,
               unsigned char **out, size_t *pn, char *err);
/* Size of a thumbnail of a w x h image fitting a size x size box (never enlarged). */
void img_thumbnail_size(int w, int h, int size, int *tw, int *th);
/* Decodes, scales to fit size x size (area averaging) and encodes. */
int img_thumbnail(const unsigned char *p, size_t n, long long max_pixels, int size, int format,
                  int quality, unsigned char **out, size_t *pn, char *err);
/* Maps floats linearly from lo..hi (range = 1) or their finite min..max
** (range = 0) onto 0..255, rounded and clamped; NaN -> lo. */
void img_from_floats(const float *v, size_t n, int range, double lo, double hi, unsigned char *out);

#endif
