/*
** JPEG and PNG decoding to upright 8-bit RGB (pure C core of img_features,
** img_pixels and img_info; no SQL behaviour of its own).
**
** JPEG (libjpeg API of libjpeg-turbo): baseline, progressive, arithmetic,
** restart markers, greyscale, CMYK/YCCK (inverted when an Adobe marker is
** present, as Photoshop writes them).  libjpeg errors longjmp back here (its
** default exit() is never reachable).  Warnings are counted; corrupt-data
** warnings (premature end, bad Huffman/arithmetic code, resync, bogus
** progression) abort the decode unless opts->lenient.  More than 1000 scans
** is an error (progressive "scan bombs").  EXIF orientation is applied.
** DCT-domain scaling by 1/2, 1/4 or 1/8 is used when opts allow it.
**
** PNG (libpng): every colour type and bit depth; palette and tRNS expanded,
** 16-bit scaled to 8 (round(v/257)), Adam7 interlacing, grey to RGB, alpha
** composited on white; gAMA and other colour chunks are ignored.
*/
#include "image.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#define IMG_MAX_SCANS 1000
#define IMG_MAX_WARNINGS 1000

void img_image_free(ImgImage *im) {
  if (im) {
    imgpca_free(im->px);
    im->px = NULL;
    im->w = im->h = 0;
  }
}

void img_decode_opts_init(ImgDecodeOpts *o) {
  memset(o, 0, sizeof(*o));
  o->scale = 1;
}

static int img_alloc_rgb(ImgImage *im, int w, int h, int ch) {
  size_t n;
  if (w <= 0 || h <= 0 || !imgpca_mul_ok((size_t)w, (size_t)h, &n) || !imgpca_mul_ok(n, (size_t)ch, &n))
    return IMGPCA_ERROR;
  im->px = imgpca_malloc(n ? n : 1);
  if (!im->px) return IMGPCA_NOMEM;
  im->w = w;
  im->h = h;
  return IMGPCA_OK;
}

/* ---- EXIF ---------------------------------------------------------------- */

int img_exif_orientation(const unsigned char *p, size_t n) {
  const unsigned char *t;
  size_t tn, off;
  unsigned cnt, i;
  int le;
  if (n < 6 + 8 || memcmp(p, "Exif\0\0", 6) != 0) return 0;
  t = p + 6;
  tn = n - 6;
  if (t[0] == 'I' && t[1] == 'I')
    le = 1;
  else if (t[0] == 'M' && t[1] == 'M')
    le = 0;
  else
    return 0;
#define RD16(q) (le ? (unsigned)((q)[0] | ((q)[1] << 8)) : (unsigned)(((q)[0] << 8) | (q)[1]))
#define RD32(q) (le ? ((uint32_t)(q)[0] | ((uint32_t)(q)[1] << 8) | ((uint32_t)(q)[2] << 16) | ((uint32_t)(q)[3] << 24)) \
                    : (((uint32_t)(q)[0] << 24) | ((uint32_t)(q)[1] << 16) | ((uint32_t)(q)[2] << 8) | (uint32_t)(q)[3]))
  if (RD16(t + 2) != 42) return 0;
  off = RD32(t + 4);
  if (off < 8 || off > tn || tn - off < 2) return 0;
  cnt = RD16(t + off);
  off += 2;
  for (i = 0; i < cnt; i++, off += 12) {
    const unsigned char *e;
    if (off > tn || tn - off < 12) return 0;
    e = t + off;
    if (RD16(e) == 0x0112) {
      unsigned type = RD16(e + 2), v;
      if (type != 3 || RD32(e + 4) != 1) return 0; /* SHORT, count 1 */
      v = RD16(e + 8);
      return (v >= 1 && v <= 8) ? (int)v : 0;
    }
  }
#undef RD16
#undef RD32
  return 0;
}

int img_orient(ImgImage *im, int o) {
  ImgImage r;
  int w = im->w, h = im->h, x, y, rc;
  const unsigned char *s = im->px;
  if (o < 2 || o > 8) return IMGPCA_OK;
  rc = (o >= 5) ? img_alloc_rgb(&r, h, w, 3) : img_alloc_rgb(&r, w, h, 3);
  if (rc) return rc;
  for (y = 0; y < r.h; y++) {
    unsigned char *d = r.px + (size_t)y * r.w * 3;
    for (x = 0; x < r.w; x++, d += 3) {
      int sx, sy;
      switch (o) {
        case 2:
          sx = w - 1 - x;
          sy = y;
          break;
        case 3:
          sx = w - 1 - x;
          sy = h - 1 - y;
          break;
        case 4:
          sx = x;
          sy = h - 1 - y;
          break;
        case 5:
          sx = y;
          sy = x;
          break;
        case 6:
          sx = y;
          sy = h - 1 - x;
          break;
        case 7:
          sx = w - 1 - y;
          sy = h - 1 - x;
          break;
        default:
          sx = w - 1 - y;
          sy = x;
          break; /* 8 */
      }
      memcpy(d, s + ((size_t)sy * w + sx) * 3, 3);
    }
  }
  imgpca_free(im->px);
  *im = r;
  return IMGPCA_OK;
}

/* Smallest DCT scale M/8 (M in 1,2,4,8) meeting the constraints, on the
** upright size (w,h already swapped for orientations 5..8). */
static int img_pick_scale(const ImgDecodeOpts *o, long long w, long long h) {
  static const int aM[3] = {1, 2, 4};
  int i;
  if (!o->scale || (o->need_w <= 0 && o->need_h <= 0 && o->need_short <= 0)) return 8;
  for (i = 0; i < 3; i++) {
    long long sw = (w * aM[i] + 7) / 8, sh = (h * aM[i] + 7) / 8;
    if (sw >= o->need_w && sh >= o->need_h && (sw < sh ? sw : sh) >= o->need_short) return aM[i];
  }
  return 8;
}

/* ---- JPEG ----------------------------------------------------------------- */

/* Why decoding stopped (the longjmp out of libjpeg). */
typedef enum JStop {
  JSTOP_ERROR,        /* libjpeg's own error (error_exit) */
  JSTOP_CORRUPT,      /* a corrupt-data warning, fatal unless lenient */
  JSTOP_SCAN_LIMIT,   /* more than IMG_MAX_SCANS progressive scans */
  JSTOP_WARNING_LIMIT /* more than IMG_MAX_WARNINGS warnings */
} JStop;

typedef struct JErr {
  struct jpeg_error_mgr pub;
  jmp_buf jb;
  int lenient;
  int nwarn;
  JStop why;
  char msg[JMSG_LENGTH_MAX];
  char warn[JMSG_LENGTH_MAX];
} JErr;

static void j_error_exit(j_common_ptr c) {
  JErr *e = (JErr *)c->err;
  c->err->format_message(c, e->msg);
  e->why = JSTOP_ERROR;
  longjmp(e->jb, 1);
}

static int j_fatal_warning(int code) {
  switch (code) {
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_JPEG_EOF:
    case JWRN_MUST_RESYNC:
    case JWRN_NOT_SEQUENTIAL:
    case JWRN_BOGUS_PROGRESSION:
      return 1;
    default:
      return 0;
  }
}

static void j_emit_message(j_common_ptr c, int level) {
  JErr *e = (JErr *)c->err;
  if (level >= 0) return; /* trace messages */
  e->nwarn++;
  if (e->nwarn == 1) c->err->format_message(c, e->warn);
  if (!e->lenient && j_fatal_warning(c->err->msg_code)) {
    c->err->format_message(c, e->msg);
    e->why = JSTOP_CORRUPT;
    longjmp(e->jb, 1);
  }
  if (e->nwarn > IMG_MAX_WARNINGS) {
    e->why = JSTOP_WARNING_LIMIT;
    longjmp(e->jb, 1);
  }
}

static void j_output_message(j_common_ptr c) { (void)c; }

static void j_progress(j_common_ptr c) {
  if (c->is_decompressor && ((j_decompress_ptr)c)->input_scan_number > IMG_MAX_SCANS) {
    JErr *e = (JErr *)c->err;
    e->why = JSTOP_SCAN_LIMIT;
    longjmp(e->jb, 1);
  }
}

static unsigned char img_muldiv255(unsigned a, unsigned b) {
  unsigned t = a * b + 128;
  return (unsigned char)(((t >> 8) + t) >> 8);
}

static const char *j_color_name(J_COLOR_SPACE cs) {
  switch (cs) {
    case JCS_GRAYSCALE: return "grey";
    case JCS_RGB: return "rgb";
    case JCS_YCbCr: return "ycbcr";
    case JCS_CMYK: return "cmyk";
    case JCS_YCCK: return "ycck";
    default: return "other";
  }
}

/* State that must survive longjmp lives in this struct (not in locals). */
typedef struct JState {
  struct jpeg_decompress_struct cinfo;
  JErr jerr;
  struct jpeg_progress_mgr prog;
  unsigned char *buf; /* decode buffer (RGB or CMYK) */
  JSAMPROW *rows;
  int created;
} JState;

/* The error message for a decode stopped by a longjmp out of libjpeg. */
static int j_stop_error(const JErr *e, char *err) {
  switch (e->why) {
    case JSTOP_CORRUPT: return imgpca_seterr(err, "corrupt jpeg: %s", e->msg);
    case JSTOP_SCAN_LIMIT: return imgpca_seterr(err, "cannot decode jpeg: more than %d scans", IMG_MAX_SCANS);
    case JSTOP_WARNING_LIMIT:
      return imgpca_seterr(err, "cannot decode jpeg: more than %d warnings: %s", IMG_MAX_WARNINGS, e->warn);
    case JSTOP_ERROR:
    default:
      /* libjpeg's own "Insufficient memory" is also reported this way: it
      ** is raised for absurd sizes in corrupt headers as well. */
      return imgpca_seterr(err, "cannot decode jpeg: %s", e->msg);
  }
}

/* Creates the decompressor over p[0..n) and reads the header (APP1 markers
** kept for EXIF).  May longjmp to st->jerr.jb. */
static void j_read_header(JState *st, const unsigned char *p, size_t n, const ImgDecodeOpts *o) {
  struct jpeg_decompress_struct *ci = &st->cinfo;
  jpeg_create_decompress(ci);
  st->created = 1;
  /* Bound libjpeg's own allocations (progressive coefficient buffers take
  ** about 2 bytes per component sample): beyond this libjpeg would need a
  ** backing store, which this build does not have, so it fails cleanly. */
  if (o->max_pixels > 0) {
    long long cap = o->max_pixels * 8 + (64LL << 20);
    ci->mem->max_memory_to_use = cap > 0x7fffffffLL && sizeof(long) < 8 ? 0x7fffffffL : (long)cap;
  }
  st->prog.progress_monitor = j_progress;
  ci->progress = &st->prog;
  jpeg_mem_src(ci, p, (unsigned long)n);
  jpeg_save_markers(ci, JPEG_APP0 + 1, 0xFFFF);
  jpeg_read_header(ci, TRUE);
}

/* Fills info from the header read by j_read_header; returns the EXIF
** orientation (1 when there is none). */
static int j_header_info(struct jpeg_decompress_struct *ci, ImgInfo *info) {
  jpeg_saved_marker_ptr m;
  int orient = 1;
  info->width = (int)ci->image_width;
  info->height = (int)ci->image_height;
  info->channels = ci->num_components;
  info->bit_depth = ci->data_precision;
  info->color = j_color_name(ci->jpeg_color_space);
  info->progressive = ci->progressive_mode ? 1 : 0;
  info->arithmetic = ci->arith_code ? 1 : 0;
  info->adobe = ci->saw_Adobe_marker ? 1 : 0;
  for (m = ci->marker_list; m; m = m->next) {
    if (m->marker == JPEG_APP0 + 1) {
      int v = img_exif_orientation(m->data, m->data_length);
      if (v) {
        orient = v;
        break;
      }
    }
  }
  info->orientation = orient;
  return orient;
}

/* Decodes every scanline into st->buf, scaled by M/8: RGB, or CMYK when
** cmyk.  May longjmp to st->jerr.jb. */
static int j_read_pixels(JState *st, int cmyk, int M, char *err) {
  struct jpeg_decompress_struct *ci = &st->cinfo;
  size_t rowbytes, total;
  JDIMENSION y;
  int ncomp;
  ci->out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
  ci->scale_num = (unsigned)M;
  ci->scale_denom = 8;
  jpeg_start_decompress(ci);
  ncomp = ci->output_components;
  if ((cmyk && ncomp != 4) || (!cmyk && ncomp != 3))
    return imgpca_seterr(err, "cannot decode jpeg: unexpected %d output components", ncomp);
  if (!imgpca_mul_ok((size_t)ci->output_width, (size_t)ncomp, &rowbytes) ||
      !imgpca_mul_ok(rowbytes, (size_t)ci->output_height, &total))
    return imgpca_seterr(err, "image too large");
  st->buf = imgpca_malloc(total ? total : 1);
  st->rows = imgpca_malloc(sizeof(JSAMPROW) * (ci->output_height ? ci->output_height : 1));
  if (!st->buf || !st->rows) return IMGPCA_NOMEM;
  for (y = 0; y < ci->output_height; y++) st->rows[y] = st->buf + (size_t)y * rowbytes;
  while (ci->output_scanline < ci->output_height) {
    JDIMENSION got = jpeg_read_scanlines(ci, st->rows + ci->output_scanline,
                                         ci->output_height - ci->output_scanline);
    if (got == 0) break; /* suspension cannot happen with a memory source */
  }
  jpeg_finish_decompress(ci);
  return IMGPCA_OK;
}

/* np CMYK pixels to RGB in place (4 bytes in, 3 out), as Pillow: inverted
** values when an Adobe marker is present (inv). */
static void j_cmyk_to_rgb(unsigned char *buf, size_t np, int inv) {
  size_t i;
  unsigned char *s = buf, *d = buf;
  for (i = 0; i < np; i++, s += 4, d += 3) {
    unsigned c = s[0], mm = s[1], yy = s[2], k = s[3], nk;
    if (inv) {
      c = 255 - c;
      mm = 255 - mm;
      yy = 255 - yy;
      k = 255 - k;
    }
    nk = 255 - k;
    d[0] = (unsigned char)(nk - img_muldiv255(c, nk));
    d[1] = (unsigned char)(nk - img_muldiv255(mm, nk));
    d[2] = (unsigned char)(nk - img_muldiv255(yy, nk));
  }
}

static int img_decode_jpeg(const unsigned char *p, size_t n, const ImgDecodeOpts *o, ImgImage *out,
                           ImgInfo *info, char *err) {
  JState *st = imgpca_calloc(1, sizeof(JState));
  struct jpeg_decompress_struct *ci;
  int rc = IMGPCA_OK, orient, cmyk, M;
  long long uw, uh;
  if (!st) return IMGPCA_NOMEM;
  ci = &st->cinfo;
  info->format = "jpeg";
  ci->err = jpeg_std_error(&st->jerr.pub);
  st->jerr.pub.error_exit = j_error_exit;
  st->jerr.pub.emit_message = j_emit_message;
  st->jerr.pub.output_message = j_output_message;
  st->jerr.lenient = o->lenient;
  if (setjmp(st->jerr.jb)) {
    rc = j_stop_error(&st->jerr, err);
    goto done;
  }
  j_read_header(st, p, n, o);
  orient = j_header_info(ci, info);
  uw = ci->image_width;
  uh = ci->image_height;
  if (orient >= 5) {
    uw = ci->image_height;
    uh = ci->image_width;
  }
  info->out_w = (int)uw;
  info->out_h = (int)uh;
  if (o->max_pixels > 0 && uw * uh > o->max_pixels) {
    rc = imgpca_seterr(err, "image too large: %lldx%lld pixels exceed image.max_pixels=%lld", uw, uh,
                       o->max_pixels);
    goto done;
  }
  if (o->header_only) goto done;

  cmyk = (ci->jpeg_color_space == JCS_CMYK || ci->jpeg_color_space == JCS_YCCK);
  M = img_pick_scale(o, uw, uh);
  info->scale_num = M;
  rc = j_read_pixels(st, cmyk, M, err);
  if (rc) goto done;
  if (cmyk) j_cmyk_to_rgb(st->buf, (size_t)ci->output_width * ci->output_height, ci->saw_Adobe_marker);
  out->w = (int)ci->output_width;
  out->h = (int)ci->output_height;
  out->px = st->buf;
  st->buf = NULL;
  if (orient != 1) {
    rc = img_orient(out, orient);
    if (rc) {
      img_image_free(out);
      goto done;
    }
  }
  info->out_w = out->w;
  info->out_h = out->h;

done:
  info->n_warnings = st->jerr.nwarn;
  if (st->jerr.nwarn) snprintf(info->warning, sizeof(info->warning), "%s", st->jerr.warn);
  if (st->created) jpeg_destroy_decompress(ci);
  imgpca_free(st->buf);
  imgpca_free(st->rows);
  imgpca_free(st);
  return rc;
}

/* ---- PNG ------------------------------------------------------------------ */

typedef struct PState {
  const unsigned char *p;
  size_t n, off;
  int nwarn;
  char warn[200];
  char msg[200];
  unsigned char *buf;
  png_bytep *rows;
  size_t alloc_max; /* largest allocation libpng may make (see p_malloc) */
  int oom;          /* an allocation of libpng failed for lack of memory */
} PState;

/* libpng allocates a chunk's declared length before reading its data, so a
** hostile length (up to 2 GB) would be allocated even though the file is
** tiny; libpng 1.6.39 does not apply its chunk_malloc_max to that buffer.
** Until the header is read, no allocation may exceed the file size plus
** 8 MB of room for decompressed ancillary data (iCCP, zTXt, iTXt).
** libpng's allocations go through imgpca_malloc (SQLite's allocator once the
** extension is loaded), so out-of-memory tests reach them; a failure there
** makes the whole decode IMGPCA_NOMEM, even when libpng carried on without
** the memory (a dropped text chunk), so results never depend on it. */
static png_voidp p_malloc(png_structp png, png_alloc_size_t size) {
  PState *s = (PState *)png_get_mem_ptr(png);
  png_voidp p;
  if (s && size > s->alloc_max) return NULL;
  p = imgpca_malloc(size);
  if (!p && s) s->oom = 1;
  return p;
}

static void p_free(png_structp png, png_voidp ptr) {
  (void)png;
  imgpca_free(ptr);
}

static void p_error(png_structp png, png_const_charp msg) {
  PState *s = (PState *)png_get_error_ptr(png);
  snprintf(s->msg, sizeof(s->msg), "%s", msg ? msg : "error");
  png_longjmp(png, 1);
}

static void p_warning(png_structp png, png_const_charp msg) {
  PState *s = (PState *)png_get_error_ptr(png);
  if (s->nwarn++ == 0) snprintf(s->warn, sizeof(s->warn), "%s", msg ? msg : "warning");
}

static void p_read(png_structp png, png_bytep data, size_t len) {
  PState *s = (PState *)png_get_io_ptr(png);
  if (len > s->n - s->off) png_error(png, "unexpected end of data");
  memcpy(data, s->p + s->off, len);
  s->off += len;
}

static const char *p_color_name(int ct) {
  switch (ct) {
    case PNG_COLOR_TYPE_GRAY: return "grey";
    case PNG_COLOR_TYPE_GRAY_ALPHA: return "grey+alpha";
    case PNG_COLOR_TYPE_PALETTE: return "palette";
    case PNG_COLOR_TYPE_RGB: return "rgb";
    case PNG_COLOR_TYPE_RGB_ALPHA: return "rgba";
    default: return "other";
  }
}

/* Limits set before the header is read.  The pixel limit is checked on the
** header; libpng's own limit guards the IHDR: neither side may exceed
** max_pixels.  Hostile chunk lengths must give an error, not an allocation of
** up to 2 GB: cap ancillary chunk buffers and the number of cached
** unknown/text chunks (IDAT is bounded by the image size, which libpng
** checks itself). */
static void p_set_limits(png_structp png, const ImgDecodeOpts *o) {
  png_uint_32 side = 0x7fffffff;
  if (o->max_pixels > 0 && o->max_pixels < 0x7fffffff) side = (png_uint_32)o->max_pixels;
  png_set_user_limits(png, side, side);
  png_set_chunk_malloc_max(png, 8u << 20);
  png_set_chunk_cache_max(png, 1000);
}

/* Fills info from the header read by png_read_info. */
static void p_header_info(png_structp png, png_infop pi, ImgInfo *info) {
  png_uint_32 w = png_get_image_width(png, pi), h = png_get_image_height(png, pi);
  info->width = (int)w;
  info->height = (int)h;
  info->bit_depth = png_get_bit_depth(png, pi);
  info->color = p_color_name(png_get_color_type(png, pi));
  info->channels = png_get_channels(png, pi);
  info->interlaced = png_get_interlace_type(png, pi) != PNG_INTERLACE_NONE;
  info->orientation = 1;
  info->out_w = (int)w;
  info->out_h = (int)h;
}

/* Decodes the w x h image into s->buf as 8-bit RGBA, whatever its colour
** type, bit depth and interlacing.  May longjmp to png_jmpbuf(png). */
static int p_read_rgba(png_structp png, png_infop pi, PState *s, png_uint_32 w, png_uint_32 h, char *err) {
  int bd = png_get_bit_depth(png, pi), ct = png_get_color_type(png, pi);
  size_t rowbytes, total;
  png_uint_32 y;
  png_set_expand(png);                 /* palette->RGB, grey<8->8, tRNS->alpha */
  if (bd == 16) png_set_scale_16(png); /* round(v/257) */
  if (!(ct & PNG_COLOR_MASK_COLOR)) png_set_gray_to_rgb(png);
  if (!(ct & PNG_COLOR_MASK_ALPHA) && !png_get_valid(png, pi, PNG_INFO_tRNS))
    png_set_filler(png, 0xff, PNG_FILLER_AFTER);
  png_set_interlace_handling(png);
  png_read_update_info(png, pi);
  rowbytes = png_get_rowbytes(png, pi);
  if (rowbytes != (size_t)w * 4) return imgpca_seterr(err, "cannot decode png: unexpected row size");
  if (!imgpca_mul_ok(rowbytes, (size_t)h, &total)) return imgpca_seterr(err, "image too large");
  s->buf = imgpca_malloc(total);
  s->rows = imgpca_malloc(sizeof(png_bytep) * h);
  if (!s->buf || !s->rows) return IMGPCA_NOMEM;
  for (y = 0; y < h; y++) s->rows[y] = s->buf + (size_t)y * rowbytes;
  png_read_image(png, s->rows);
  return IMGPCA_OK;
}

/* np RGBA pixels to RGB composited over white, in place (4 bytes in, 3 out). */
static void p_rgba_over_white(unsigned char *buf, size_t np) {
  size_t i;
  unsigned char *src = buf, *d = buf;
  for (i = 0; i < np; i++, src += 4, d += 3) {
    unsigned a = src[3];
    if (a == 255) {
      d[0] = src[0];
      d[1] = src[1];
      d[2] = src[2];
    } else {
      unsigned k = 255 * (255 - a), c;
      for (c = 0; c < 3; c++) d[c] = (unsigned char)((src[c] * a + k + 127) / 255);
    }
  }
}

static int img_decode_png(const unsigned char *p, size_t n, const ImgDecodeOpts *o, ImgImage *out,
                          ImgInfo *info, char *err) {
  PState *s = imgpca_calloc(1, sizeof(PState));
  png_structp png = NULL;
  png_infop pi = NULL;
  png_uint_32 w, h;
  int rc = IMGPCA_OK;
  if (!s) return IMGPCA_NOMEM;
  s->p = p;
  s->n = n;
  info->format = "png";
  s->alloc_max = n > SIZE_MAX - (8u << 20) ? SIZE_MAX : n + (8u << 20);
  png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, s, p_error, p_warning, s, p_malloc, p_free);
  if (!png) {
    imgpca_free(s);
    return IMGPCA_NOMEM;
  }
  pi = png_create_info_struct(png);
  if (!pi) {
    png_destroy_read_struct(&png, NULL, NULL);
    imgpca_free(s);
    return IMGPCA_NOMEM;
  }
  if (setjmp(png_jmpbuf(png))) {
    rc = imgpca_seterr(err, "cannot decode png: %s", s->msg);
    goto done;
  }
  png_set_read_fn(png, s, p_read);
  p_set_limits(png, o);
  png_read_info(png, pi);
  s->alloc_max = SIZE_MAX; /* row buffers: bounded by the max_pixels check */
  p_header_info(png, pi, info);
  w = png_get_image_width(png, pi);
  h = png_get_image_height(png, pi);
  if (o->max_pixels > 0 && (long long)w * (long long)h > o->max_pixels) {
    rc = imgpca_seterr(err, "image too large: %ux%u pixels exceed image.max_pixels=%lld", (unsigned)w,
                       (unsigned)h, o->max_pixels);
    goto done;
  }
  if (o->header_only) goto done;
  rc = p_read_rgba(png, pi, s, w, h, err);
  if (rc) goto done;
  p_rgba_over_white(s->buf, (size_t)w * h);
  out->w = (int)w;
  out->h = (int)h;
  out->px = s->buf;
  s->buf = NULL;
done:
  info->n_warnings = s->nwarn;
  if (s->nwarn) snprintf(info->warning, sizeof(info->warning), "%s", s->warn);
  png_destroy_read_struct(&png, &pi, NULL);
  if (s->oom) {
    img_image_free(out);
    rc = IMGPCA_NOMEM;
  }
  imgpca_free(s->buf);
  imgpca_free(s->rows);
  imgpca_free(s);
  return rc;
}

/* ---- dispatch ----------------------------------------------------------- */

int img_decode(const unsigned char *p, size_t n, const ImgDecodeOpts *o, ImgImage *out, ImgInfo *info,
               char *err) {
  ImgInfo dummy;
  ImgDecodeOpts def;
  if (!info) info = &dummy;
  memset(info, 0, sizeof(*info));
  info->orientation = 1;
  info->scale_num = 8;
  if (!o) {
    img_decode_opts_init(&def);
    o = &def;
  }
  out->w = out->h = 0;
  out->px = NULL;
  if (!p || n == 0) return imgpca_seterr(err, "empty blob");
  if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) return img_decode_jpeg(p, n, o, out, info, err);
  if (n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0) return img_decode_png(p, n, o, out, info, err);
  return imgpca_seterr(err, "unsupported image format (expected jpeg or png)");
}
