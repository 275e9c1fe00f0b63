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
**   img_info(img)                       -> JSON text: format, width, height,
**       channels, bit_depth, color, progressive, arithmetic, interlaced,
**       orientation, warnings[, warning][, error].  Never raises for bad
**       data: undecodable input gives {"error": "..."} (plus what the header
**       told).  NULL -> NULL.
**   img_pixels(img [, w, h])            -> raw 8-bit RGB BLOB (w*h*3 bytes,
**       row-major), the upright decoded image at native size, or resized to
**       w x h by area averaging (no DCT scaling; a debugging/parity path).
**
** Flags: SQLITE_DETERMINISTIC|SQLITE_INNOCUOUS.  The functions read one
** connection setting, image.max_pixels, which only decides whether an
** oversized image is rejected; a returned value never depends on a setting
** and nothing outside the arguments is touched, so they are safe in indexes,
** generated columns and views of untrusted schemas.
*/
#include "image_sql.h"

#include <stdio.h>

static long long img_max_pixels(sqlite3_context *ctx) {
  ImgpcaConn *c = (ImgpcaConn *)sqlite3_user_data(ctx);
  return c ? imgpca_config_int(&c->cfg, "image.max_pixels") : 0;
}

static void spec_free(void *p) { imgpca_free(p); }

/* Parses (or takes from the auxdata cache) the spec argument argv[1] into
** *out.  Returns non-zero after setting an error. */
static int img_spec_arg(sqlite3_context *ctx, const char *zFunc, sqlite3_value **argv, ImgSpec *out) {
  char err[IMGPCA_ERRMAX];
  ImgSpec *s = (ImgSpec *)sqlite3_get_auxdata(ctx, 1);
  const char *z = NULL;
  int rc;
  if (s) { *out = *s; return 0; }
  switch (sqlite3_value_type(argv[1])) {
    case SQLITE_NULL: break;
    case SQLITE_TEXT:
      z = (const char *)sqlite3_value_text(argv[1]);
      if (!z) { sqlite3_result_error_nomem(ctx); return 1; }
      break;
    default:
      imgpca_result_error(ctx, zFunc, "invalid spec: expected text, got %s", imgpca_type_name(argv[1]));
      return 1;
  }
  rc = img_spec_parse(z, out, err);
  if (rc != IMGPCA_OK) { imgpca_result_core(ctx, zFunc, rc, err); return 1; }
  s = imgpca_malloc(sizeof(*s));
  if (s) {
    *s = *out;
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
    if (rc) { imgpca_result_core(ctx, zFunc, rc, err); return; }
  }
  if (t == SQLITE_NULL) return;
  if (t != SQLITE_BLOB) {
    imgpca_result_error(ctx, zFunc, "expected an image blob, got %s", imgpca_type_name(argv[0]));
    return;
  }
  p = sqlite3_value_blob(argv[0]);
  n = (size_t)sqlite3_value_bytes(argv[0]);
  rc = img_features_blob(p, n, spec, img_max_pixels(ctx), &blob, &dims, &bDecode, err);
  if (rc != IMGPCA_OK) {
    if (orNull && bDecode && rc == IMGPCA_ERROR) return;
    imgpca_result_core(ctx, zFunc, rc, err);
    return;
  }
  imgpca_result_owned_blob(ctx, blob, dims);
}

void img_features_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  features_common(ctx, argc, argv, 0);
}

void img_features_or_null_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  features_common(ctx, argc, argv, 1);
}

void img_info_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
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
    if (rc == IMGPCA_NOMEM) { sqlite3_result_error_nomem(ctx); return; }
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
  if (b.oom) { imgpca_buf_free(&b); sqlite3_result_error_nomem(ctx); return; }
  sqlite3_result_text(ctx, (const char *)b.p, (int)b.n, SQLITE_TRANSIENT);
  imgpca_buf_free(&b);
}

void img_pixels_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
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
      if (i == 1) w = (int)v; else h = (int)v;
    }
  }
  if (t == SQLITE_NULL) return;
  if (t != SQLITE_BLOB) {
    imgpca_result_error(ctx, zFunc, "expected an image blob, got %s", imgpca_type_name(argv[0]));
    return;
  }
  img_decode_opts_init(&o);
  o.scale = 0;
  o.max_pixels = img_max_pixels(ctx);
  rc = img_decode(sqlite3_value_blob(argv[0]), (size_t)sqlite3_value_bytes(argv[0]), &o, &im, NULL, err);
  if (rc) { imgpca_result_core(ctx, zFunc, rc, err); return; }
  if (argc == 3) {
    rc = img_resize_box_u8(&im, w, h, &rs);
    img_image_free(&im);
    if (rc) { imgpca_result_core(ctx, zFunc, rc, "cannot resize"); return; }
    im = rs;
  }
  imgpca_result_owned_blob(ctx, im.px, (size_t)im.w * im.h * 3);
}
