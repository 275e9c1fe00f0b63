/*
** Image functions (reference: docs/IMAGES.md).
**
**   img_features(img [, spec])          -> float32 vector BLOB
**       img is a JPEG or PNG BLOB; spec defaults to 'hist:bins=8,sqrt'.
**       NULL img -> NULL.  NULL spec -> the default spec.  Errors: a bad spec
**       (naming the bad token), a non-BLOB img, an empty or undecodable image
**       ("img_features: corrupt jpeg: Premature end of JPEG file"), an image
**       above the setting image.max_pixels.
**   img_features_or_null(img [, spec])  -> same, but NULL instead of an error
**       when the image cannot be decoded (empty, corrupt, unsupported, too
**       large).  A bad spec or a non-BLOB argument is still an error.
**   img_spec_check(spec)                -> NULL when spec is a valid feature
**       spec, else the reason as text ("unknown kind 'histo'"), so a caller
**       can check a spec and say where it came from before using it.  NULL
**       spec -> NULL (the default spec); a non-text spec -> its reason.
**   img_info(img)                       -> JSON text: format, width, height,
**       channels, bit_depth, color, progressive, arithmetic, interlaced,
**       orientation, warnings[, warning][, error].  Never raises for bad
**       data: undecodable input gives {"error": "..."} (plus what the header
**       told).  NULL -> NULL.
**   img_pixels(img [, w, h])            -> raw 8-bit RGB BLOB (w*h*3 bytes,
**       row-major), the upright decoded image at native size, or resized to
**       w x h by area averaging (no DCT scaling; a debugging/parity path).
**       w x h is bounded by image.max_pixels like a decoded image (checked
**       before decoding) and w*h*3 by SQLITE_LIMIT_LENGTH.
**   img_encode(pixels, w, h, channels, 'png'|'jpeg' [, quality])  -> PNG/JPEG
**   img_thumbnail(img, size [, 'jpeg'|'png' [, quality]])        -> PNG/JPEG
**   img_from_fvec(vec [, lo, hi])                                  -> bytes
**       (see encode.c for their behaviour; img_encode and img_from_fvec
**       read no setting and are DETERMINISTIC, img_thumbnail reads
**       image.max_pixels like the others)
**
** Flags: SQLITE_INNOCUOUS, not DETERMINISTIC.  The functions read one
** connection setting, image.max_pixels (which decides whether an oversized
** image -- or img_pixels' output size -- is rejected, and so whether
** img_features_or_null gives NULL): the same arguments can give different
** results under different settings, so SQLite must refuse them in indexes
** and generated columns.  Nothing is written: views of untrusted schemas may
** use them.
*/
#include "image_sql.h"
#include "image.h"
#include "../vector/vector_sql.h"
#include "../cnn/cnn_sql.h"

#include <math.h>
#include <stdio.h>

static long long img_max_pixels(sqlite3_context *ctx) {
  ImgpcaConn *c = (ImgpcaConn *)sqlite3_user_data(ctx);
  return imgpca_config_int(&c->cfg, "image.max_pixels");
}

static void spec_free(void *p) {
  img_spec_release((ImgSpec *)p);
  imgpca_free(p);
}

/* Parses (or takes from the auxdata cache) the spec argument argv[1] into
** *out, with its cnn: models loaded.  The caller owns references to the
** models of *out (img_spec_release).  Returns non-zero after setting an
** error. */
static int img_spec_arg(sqlite3_context *ctx, const char *zFunc, sqlite3_value **argv, ImgSpec *out) {
  char err[IMGPCA_ERRMAX];
  ImgSpec *s = (ImgSpec *)sqlite3_get_auxdata(ctx, 1);
  ImgpcaConn *conn = (ImgpcaConn *)sqlite3_user_data(ctx);
  const char *z = NULL;
  int rc;
  if (s) {
    *out = *s;
    img_spec_retain(out);
    return 0;
  }
  switch (sqlite3_value_type(argv[1])) {
    case SQLITE_NULL: break;
    case SQLITE_TEXT:
      z = (const char *)sqlite3_value_text(argv[1]);
      if (!z) {
        sqlite3_result_error_nomem(ctx);
        return 1;
      }
      break;
    default:
      imgpca_result_error(ctx, zFunc, "invalid spec: expected text, got %s", imgpca_type_name(argv[1]));
      return 1;
  }
  rc = img_spec_parse(z, out, err);
  if (rc == IMGPCA_OK) rc = imgpca_conn_spec_models(conn, out, err);
  if (rc != IMGPCA_OK) {
    img_spec_release(out);
    imgpca_result_core(ctx, zFunc, rc, err);
    return 1;
  }
  s = imgpca_malloc(sizeof(*s));
  if (s) {
    *s = *out;
    img_spec_retain(s);
    /* SQLite may free s at once; it is not used after this call. */
    sqlite3_set_auxdata(ctx, 1, s, spec_free);
  }
  return 0;
}

static void features_common(sqlite3_context *ctx, int argc, sqlite3_value **argv, int orNull) {
  const char *zFunc = orNull ? "img_features_or_null" : "img_features";
  char err[IMGPCA_ERRMAX];
  ImgSpec specv, *spec = &specv;
  const unsigned char *p;
  size_t n, dims;
  unsigned char *blob;
  int rc, bDecode = 0, t = sqlite3_value_type(argv[0]);

  if (argc >= 2) {
    if (img_spec_arg(ctx, zFunc, argv, &specv)) return;
  } else {
    rc = img_spec_parse(NULL, &specv, err);
    if (rc) {
      imgpca_result_core(ctx, zFunc, rc, err);
      return;
    }
  }
  if (t == SQLITE_NULL) goto done;
  if (t != SQLITE_BLOB) {
    imgpca_result_error(ctx, zFunc, "expected an image blob, got %s", imgpca_type_name(argv[0]));
    goto done;
  }
  p = sqlite3_value_blob(argv[0]);
  n = (size_t)sqlite3_value_bytes(argv[0]);
  rc = img_features_blob(p, n, spec, img_max_pixels(ctx), &blob, &dims, &bDecode, err);
  if (rc != IMGPCA_OK) {
    if (!(orNull && bDecode && rc == IMGPCA_ERROR)) imgpca_result_core(ctx, zFunc, rc, err);
    goto done;
  }
  imgpca_result_owned_blob(ctx, blob, dims);
done:
  img_spec_release(&specv);
}

static void img_features_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  features_common(ctx, argc, argv, 0);
}

static void img_features_or_null_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  features_common(ctx, argc, argv, 1);
}

static void img_spec_check_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  char err[IMGPCA_ERRMAX];
  char msg[IMGPCA_ERRMAX + 64];
  ImgSpec s;
  const char *z;
  int rc;
  (void)argc;
  switch (sqlite3_value_type(argv[0])) {
    case SQLITE_NULL: return;
    case SQLITE_TEXT: break;
    default:
      snprintf(msg, sizeof msg, "expected text, got %s", imgpca_type_name(argv[0]));
      sqlite3_result_text(ctx, msg, -1, SQLITE_TRANSIENT);
      return;
  }
  z = (const char *)sqlite3_value_text(argv[0]);
  if (!z) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  err[0] = 0;
  rc = img_spec_parse(z, &s, err);
  if (rc == IMGPCA_OK) return;
  if (rc == IMGPCA_NOMEM) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_text(ctx, err[0] ? err : "invalid spec", -1, SQLITE_TRANSIENT);
}

static void img_info_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  char err[IMGPCA_ERRMAX];
  ImgDecodeOpts o;
  ImgInfo info;
  ImgImage im;
  ImgpcaBuf b;
  int rc, t = sqlite3_value_type(argv[0]);
  (void)argc;
  if (t == SQLITE_NULL) return;
  imgpca_buf_init(&b);
  if (t != SQLITE_BLOB) {
    imgpca_buf_printf(&b, "{\"error\":");
    snprintf(err, sizeof(err), "expected an image blob, got %s", imgpca_type_name(argv[0]));
    imgpca_buf_json_string(&b, err);
    imgpca_buf_printf(&b, "}");
  } else {
    img_decode_opts_init(&o);
    o.max_pixels = img_max_pixels(ctx);
    o.need_w = o.need_h = 1; /* smallest DCT scale: every byte is still entropy-decoded */
    rc = img_decode(sqlite3_value_blob(argv[0]), (size_t)sqlite3_value_bytes(argv[0]), &o, &im, &info, err);
    if (rc == IMGPCA_NOMEM) {
      sqlite3_result_error_nomem(ctx);
      return;
    }
    img_image_free(&im);
    imgpca_buf_printf(&b, "{");
    if (info.format) {
      imgpca_buf_printf(&b, "\"format\":\"%s\"", info.format);
      if (info.width > 0) {
        imgpca_buf_printf(&b, ",\"width\":%d,\"height\":%d,\"channels\":%d,\"bit_depth\":%d,\"color\":\"%s\"",
                          info.width, info.height, info.channels, info.bit_depth,
                          info.color ? info.color : "other");
        imgpca_buf_printf(&b, ",\"progressive\":%s,\"arithmetic\":%s,\"interlaced\":%s,\"orientation\":%d",
                          info.progressive ? "true" : "false", info.arithmetic ? "true" : "false",
                          info.interlaced ? "true" : "false", info.orientation);
      }
      imgpca_buf_printf(&b, ",\"warnings\":%d", info.n_warnings);
      if (info.n_warnings) {
        imgpca_buf_printf(&b, ",\"warning\":");
        imgpca_buf_json_string(&b, info.warning);
      }
      if (rc) imgpca_buf_printf(&b, ",");
    }
    if (rc) {
      imgpca_buf_printf(&b, "\"error\":");
      imgpca_buf_json_string(&b, err);
    }
    imgpca_buf_printf(&b, "}");
  }
  if (b.oom) {
    imgpca_buf_free(&b);
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_text(ctx, (const char *)b.p, (int)b.n, SQLITE_TRANSIENT);
  imgpca_buf_free(&b);
}

static void img_pixels_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *zFunc = "img_pixels";
  char err[IMGPCA_ERRMAX];
  ImgDecodeOpts o;
  ImgImage im, rs;
  int rc, t = sqlite3_value_type(argv[0]), w = 0, h = 0;
  if (argc == 3) {
    int i;
    for (i = 1; i < 3; i++) {
      sqlite3_int64 v;
      if (sqlite3_value_type(argv[i]) != SQLITE_INTEGER) {
        imgpca_result_error(ctx, zFunc, "%s must be an integer, got %s", i == 1 ? "width" : "height",
                            imgpca_type_name(argv[i]));
        return;
      }
      v = sqlite3_value_int64(argv[i]);
      if (v < 1 || v > 16384) {
        imgpca_result_error(ctx, zFunc, "%s %lld out of range 1..16384", i == 1 ? "width" : "height", v);
        return;
      }
      if (i == 1)
        w = (int)v;
      else
        h = (int)v;
    }
  }
  if (t == SQLITE_NULL) return;
  if (t != SQLITE_BLOB) {
    imgpca_result_error(ctx, zFunc, "expected an image blob, got %s", imgpca_type_name(argv[0]));
    return;
  }
  /* The output is bounded like a decoded image, before anything is decoded. */
  if (argc == 3) {
    long long nOut = (long long)w * h, nMax = img_max_pixels(ctx);
    if (nMax > 0 && nOut > nMax) {
      imgpca_result_error(ctx, zFunc, "output size %dx%d (%lld pixels) above image.max_pixels=%lld", w, h,
                          nOut, nMax);
      return;
    }
    if (nOut * 3 > sqlite3_limit(sqlite3_context_db_handle(ctx), SQLITE_LIMIT_LENGTH, -1)) {
      sqlite3_result_error_toobig(ctx);
      return;
    }
  }
  img_decode_opts_init(&o);
  o.scale = 0;
  o.max_pixels = img_max_pixels(ctx);
  rc = img_decode(sqlite3_value_blob(argv[0]), (size_t)sqlite3_value_bytes(argv[0]), &o, &im, NULL, err);
  if (rc) {
    imgpca_result_core(ctx, zFunc, rc, err);
    return;
  }
  if (argc == 3) {
    rc = img_resize_box_u8(&im, w, h, &rs);
    img_image_free(&im);
    if (rc) {
      imgpca_result_core(ctx, zFunc, rc, "cannot resize");
      return;
    }
    im = rs;
  }
  imgpca_result_owned_blob(ctx, im.px, (size_t)im.w * im.h * 3);
}

/* ---- encoding (core: encode.c) --------------------------------------------- */

/* Reads an integer argument in lo..hi; non-zero after setting an error. */
static int int_arg(sqlite3_context *ctx, const char *zFunc, const char *zName, sqlite3_value *v,
                   int lo, int hi, int *out) {
  sqlite3_int64 x;
  if (sqlite3_value_type(v) != SQLITE_INTEGER) {
    imgpca_result_error(ctx, zFunc, "%s must be an integer, got %s", zName, imgpca_type_name(v));
    return 1;
  }
  x = sqlite3_value_int64(v);
  if (x < lo || x > hi) {
    imgpca_result_error(ctx, zFunc, "%s %lld out of range %d..%d", zName, x, lo, hi);
    return 1;
  }
  *out = (int)x;
  return 0;
}

static int format_arg(sqlite3_context *ctx, const char *zFunc, sqlite3_value *v, int *out) {
  const char *z;
  if (sqlite3_value_type(v) != SQLITE_TEXT) {
    imgpca_result_error(ctx, zFunc, "format must be 'png' or 'jpeg', got %s", imgpca_type_name(v));
    return 1;
  }
  z = (const char *)sqlite3_value_text(v);
  if (!z) {
    sqlite3_result_error_nomem(ctx);
    return 1;
  }
  *out = img_format_parse(z);
  if (!*out) {
    imgpca_result_error(ctx, zFunc, "unknown format '%s': expected 'png' or 'jpeg'", z);
    return 1;
  }
  return 0;
}

static void img_encode_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *zFunc = "img_encode";
  char err[IMGPCA_ERRMAX];
  int w, h, ch, fmt, quality = 85, rc;
  unsigned char *out;
  size_t n, need;
  if (int_arg(ctx, zFunc, "width", argv[1], 1, 65535, &w)) return;
  if (int_arg(ctx, zFunc, "height", argv[2], 1, 65535, &h)) return;
  if (int_arg(ctx, zFunc, "channels", argv[3], 1, 4, &ch)) return;
  if (format_arg(ctx, zFunc, argv[4], &fmt)) return;
  if (argc >= 6 && int_arg(ctx, zFunc, "quality", argv[5], 1, 100, &quality)) return;
  if (img_encode_check(w, h, ch, fmt, err)) {
    imgpca_result_error(ctx, zFunc, "%s", err);
    return;
  }
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return;
  if (sqlite3_value_type(argv[0]) != SQLITE_BLOB) {
    imgpca_result_error(ctx, zFunc, "pixels must be a blob, got %s", imgpca_type_name(argv[0]));
    return;
  }
  need = (size_t)w * (size_t)h * (size_t)ch;
  if ((size_t)sqlite3_value_bytes(argv[0]) != need) {
    imgpca_result_error(ctx, zFunc, "pixels blob has %d bytes, %dx%dx%d needs %lld",
                        sqlite3_value_bytes(argv[0]), w, h, ch, (long long)need);
    return;
  }
  rc = img_encode(sqlite3_value_blob(argv[0]), w, h, ch, fmt, quality, &out, &n, err);
  if (rc) {
    imgpca_result_core(ctx, zFunc, rc, err);
    return;
  }
  imgpca_result_owned_blob(ctx, out, n);
}

static void img_thumbnail_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *zFunc = "img_thumbnail";
  char err[IMGPCA_ERRMAX];
  int size, fmt = IMG_FMT_JPEG, quality = 80, rc;
  unsigned char *out;
  size_t n;
  if (int_arg(ctx, zFunc, "size", argv[1], 1, 4096, &size)) return;
  if (argc >= 3 && format_arg(ctx, zFunc, argv[2], &fmt)) return;
  if (argc >= 4 && int_arg(ctx, zFunc, "quality", argv[3], 1, 100, &quality)) return;
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return;
  if (sqlite3_value_type(argv[0]) != SQLITE_BLOB) {
    imgpca_result_error(ctx, zFunc, "expected an image blob, got %s", imgpca_type_name(argv[0]));
    return;
  }
  rc = img_thumbnail(sqlite3_value_blob(argv[0]), (size_t)sqlite3_value_bytes(argv[0]), img_max_pixels(ctx),
                     size, fmt, quality, &out, &n, err);
  if (rc) {
    imgpca_result_core(ctx, zFunc, rc, err);
    return;
  }
  imgpca_result_owned_blob(ctx, out, n);
}

static void img_from_fvec_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *zFunc = "img_from_fvec";
  const unsigned char *p;
  size_t n, i;
  float *v;
  unsigned char *out;
  double lo = 0, hi = 0;
  if (argc == 3) {
    for (i = 1; i < 3; i++) {
      int t = sqlite3_value_type(argv[i]);
      if (t != SQLITE_INTEGER && t != SQLITE_FLOAT) {
        imgpca_result_error(ctx, zFunc, "%s must be a number, got %s", i == 1 ? "lo" : "hi",
                            imgpca_type_name(argv[i]));
        return;
      }
    }
    lo = sqlite3_value_double(argv[1]);
    hi = sqlite3_value_double(argv[2]);
    if (!isfinite(lo) || !isfinite(hi)) {
      imgpca_result_error(ctx, zFunc, "lo and hi must be finite, got %g and %g", lo, hi);
      return;
    }
    if (!(hi > lo)) {
      imgpca_result_error(ctx, zFunc, "hi (%g) must be greater than lo (%g)", hi, lo);
      return;
    }
  }
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return;
  if (sqlite3_value_type(argv[0]) == SQLITE_TEXT) { /* a JSON array, like every vector argument */
    FvecArg a;
    if (fvec_arg(ctx, zFunc, "argument", argv[0], &a)) return;
    out = imgpca_malloc(a.n);
    if (!out) {
      fvec_arg_free(&a);
      sqlite3_result_error_nomem(ctx);
      return;
    }
    img_from_floats(a.v, a.n, argc == 3, lo, hi, out);
    imgpca_result_owned_blob(ctx, out, a.n);
    fvec_arg_free(&a);
    return;
  }
  if (sqlite3_value_type(argv[0]) != SQLITE_BLOB) {
    imgpca_result_error(ctx, zFunc, "expected a float32 vector blob or a JSON array, got %s",
                        imgpca_type_name(argv[0]));
    return;
  }
  p = sqlite3_value_blob(argv[0]);
  n = (size_t)sqlite3_value_bytes(argv[0]);
  if (n == 0 || n % 4) {
    imgpca_result_error(ctx, zFunc, "invalid float32 vector: %lld bytes is not a positive multiple of 4",
                        (long long)n);
    return;
  }
  n /= 4;
  v = imgpca_malloc(n * sizeof(float));
  out = imgpca_malloc(n);
  if (!v || !out) {
    imgpca_free(v);
    imgpca_free(out);
    sqlite3_result_error_nomem(ctx);
    return;
  }
  for (i = 0; i < n; i++) v[i] = imgpca_get_f32(p + 4 * i);
  img_from_floats(v, n, argc == 3, lo, hi, out);
  imgpca_free(v);
  imgpca_result_owned_blob(ctx, out, n);
}

/* ---- what the module adds to SQLite (ext/imgpca.c registers it) ---- */

static const ImgpcaSetting aSetting[] = {
    {.zKey = "image.max_pixels",
     .eType = CFG_INT,
     .zDefault = "100000000",
     .zOldEnv = "IMGPCA_MAX_PIXELS",
     .iMin = 1,
     .iMax = 4000000000LL,
     .zHelp = "largest image (width × height) a decoder accepts (decompression bombs)"},
    {0}};

static const ImgpcaSqlFunc aFunc[] = {
    {"img_features", 1, IMGPCA_READS_SETTING, img_features_func, 0, 0},
    {"img_features", 2, IMGPCA_READS_SETTING, img_features_func, 0, 0},
    {"img_features_or_null", 1, IMGPCA_READS_SETTING, img_features_or_null_func, 0, 0},
    {"img_features_or_null", 2, IMGPCA_READS_SETTING, img_features_or_null_func, 0, 0},
    {"img_info", 1, IMGPCA_READS_SETTING, img_info_func, 0, 0},
    {"img_spec_check", 1, IMGPCA_PURE, img_spec_check_func, 0, 0},
    {"img_pixels", 1, IMGPCA_READS_SETTING, img_pixels_func, 0, 0},
    {"img_pixels", 3, IMGPCA_READS_SETTING, img_pixels_func, 0, 0},
    {"img_encode", 5, IMGPCA_PURE, img_encode_func, 0, 0},
    {"img_encode", 6, IMGPCA_PURE, img_encode_func, 0, 0},
    {"img_thumbnail", 2, IMGPCA_READS_SETTING, img_thumbnail_func, 0, 0},
    {"img_thumbnail", 3, IMGPCA_READS_SETTING, img_thumbnail_func, 0, 0},
    {"img_thumbnail", 4, IMGPCA_READS_SETTING, img_thumbnail_func, 0, 0},
    {"img_from_fvec", 1, IMGPCA_PURE, img_from_fvec_func, 0, 0},
    {"img_from_fvec", 3, IMGPCA_PURE, img_from_fvec_func, 0, 0},
    {0}};

static const ImgpcaSqlDoc aDoc[] = {
    {"`img_features(img [, spec])`",
     "vector",
     "JPEG/PNG BLOB → features; spec items `pixels:size=WxH,color=rgb\\|grey,norm=standard`, `hist:bins=8,sqrt,white=N`, `hog`, `cnn:model=PATH_OR_URL[,output=NAME][,size=WxH][,resize=stretch\\|crop][,norm=none\\|imagenet\\|tf\\|caffe]` (an ONNX image model: CNN embeddings, [docs/CNN.md](docs/CNN.md)), joined with `;`; default `hist:bins=8,sqrt` ([docs/IMAGES.md](docs/IMAGES.md))"},
    {"`img_features_or_null(img [, spec])`",
     "vector or NULL",
     "NULL instead of an error for an undecodable image"},
    {"`img_spec_check(spec)`",
     "text or NULL",
     "NULL for a valid feature spec, else why not (`invalid spec: unknown kind 'histo'`): check a spec before using it"},
    {"`img_info(img)`",
     "JSON",
     "format, width, height, channels, bit depth, progressive, orientation…, or `{\"error\": …}`"},
    {"`img_pixels(img [, w, h])`",
     "BLOB",
     "raw 8-bit RGB, native size or area-resized (debugging, parity checks)"},
    {"`img_thumbnail(img, size [, 'jpeg'\\|'png' [, quality]])`",
     "BLOB",
     "the upright image scaled to fit `size`×`size` (area average, aspect kept, never enlarged), JPEG by default"},
    {"`img_encode(pixels, w, h, channels, 'png'\\|'jpeg' [, quality])`",
     "BLOB",
     "8-bit pixels (rows top to bottom, 1–4 channels; JPEG 1 or 3) → PNG (libpng) or JPEG (libjpeg-turbo, quality 1..100, default 85)"},
    {"`img_from_fvec(v [, lo, hi])`",
     "BLOB",
     "floats mapped from `lo..hi` (default: the vector's min..max) onto bytes 0..255: pixel features, a PCA mean or component → `img_encode` input"},
    {0}};

const ImgpcaModule imgpca_module_image = {.zName = "image", .aFunc = aFunc, .aSetting = aSetting, .aDoc = aDoc};
