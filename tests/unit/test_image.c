/* Unit tests of the image core: EXIF parsing, orientation, box resize, spec
** parser, HSV histogram, and decoder robustness on truncated / bit-flipped
** copies of real files (run under ASan+UBSan by make test-asan). */
#include "image/image.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>

static unsigned char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  unsigned char *p;
  long len;
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  len = ftell(f);
  fseek(f, 0, SEEK_SET);
  p = malloc((size_t)len);
  if (p && fread(p, 1, (size_t)len, f) != (size_t)len) {
    free(p);
    p = NULL;
  }
  fclose(f);
  *n = (size_t)len;
  return p;
}

static void test_exif(void) {
  /* "Exif\0\0" + TIFF (II) + IFD0 with 2 entries, orientation second. */
  unsigned char le[] = {'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 8, 0, 0, 0, 2, 0,
                        0x0f, 0x01, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0,
                        0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0};
  unsigned char be[] = {'E', 'x', 'i', 'f', 0, 0, 'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1,
                        0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 8, 0, 0, 0, 0, 0, 0};
  unsigned char bad[sizeof le];
  size_t k;
  CHECK_EQ_INT(img_exif_orientation(le, sizeof le), 6);
  CHECK_EQ_INT(img_exif_orientation(be, sizeof be), 8);
  /* every truncation is safe and never invents an orientation */
  for (k = 0; k < 40; k++) CHECK(img_exif_orientation(le, k) == 0); /* entry ends at 40 */
  for (k = 40; k <= sizeof le; k++) CHECK(img_exif_orientation(le, k) == 6);
  memcpy(bad, le, sizeof le);
  bad[10] = 0xF0; /* IFD offset out of range */
  CHECK_EQ_INT(img_exif_orientation(bad, sizeof bad), 0);
  memcpy(bad, le, sizeof le);
  bad[36] = 9; /* value out of 1..8 */
  CHECK_EQ_INT(img_exif_orientation(bad, sizeof bad), 0);
  memcpy(bad, le, sizeof le);
  bad[30] = 4; /* LONG instead of SHORT */
  CHECK_EQ_INT(img_exif_orientation(bad, sizeof bad), 0);
  memcpy(bad, le, sizeof le);
  bad[14] = 0xff;
  bad[15] = 0xff; /* 65535 entries claimed: stops at the end of data */
  CHECK_EQ_INT(img_exif_orientation(bad, sizeof bad), 6);
  bad[29] = 0x02; /* tag 0x0212: no orientation, then runs off the end */
  CHECK_EQ_INT(img_exif_orientation(bad, sizeof bad), 0);
  CHECK_EQ_INT(img_exif_orientation((const unsigned char *)"JFIF", 4), 0);
}

static ImgImage make3x2(void) {
  /* pixel (x,y) has R = 10*y + x */
  ImgImage im;
  int x, y;
  im.w = 3;
  im.h = 2;
  im.px = imgpca_malloc(18);
  for (y = 0; y < 2; y++)
    for (x = 0; x < 3; x++) {
      unsigned char *p = im.px + (y * 3 + x) * 3;
      p[0] = (unsigned char)(10 * y + x);
      p[1] = 0;
      p[2] = 0;
    }
  return im;
}
#define R(im, x, y) ((im).px[((y) * (im).w + (x)) * 3])

static void test_orient(void) {
  int o;
  for (o = 1; o <= 8; o++) {
    ImgImage im = make3x2();
    int x, y, ok = 1;
    CHECK_EQ_INT(img_orient(&im, o), IMGPCA_OK);
    CHECK_EQ_INT(im.w, o >= 5 ? 2 : 3);
    CHECK_EQ_INT(im.h, o >= 5 ? 3 : 2);
    for (y = 0; y < im.h; y++)
      for (x = 0; x < im.w; x++) {
        int sx, sy; /* where the displayed pixel comes from (EXIF 2.3 table) */
        switch (o) {
          case 1:
            sx = x;
            sy = y;
            break;
          case 2:
            sx = 2 - x;
            sy = y;
            break;
          case 3:
            sx = 2 - x;
            sy = 1 - y;
            break;
          case 4:
            sx = x;
            sy = 1 - y;
            break;
          case 5:
            sx = y;
            sy = x;
            break;
          case 6:
            sx = y;
            sy = 1 - x;
            break; /* rotate 90 clockwise */
          case 7:
            sx = 2 - y;
            sy = 1 - x;
            break;
          default:
            sx = 2 - y;
            sy = x;
            break; /* rotate 90 counter-clockwise */
        }
        if (R(im, x, y) != 10 * sy + sx) ok = 0;
      }
    CHECK(ok);
    img_image_free(&im);
  }
  {
    /* 6 then 8 is the identity */
    ImgImage im = make3x2();
    img_orient(&im, 6);
    img_orient(&im, 8);
    CHECK(im.w == 3 && R(im, 2, 1) == 12 && R(im, 1, 0) == 1);
    img_image_free(&im);
  }
}

static void test_resize(void) {
  ImgImage im;
  float out[6];
  unsigned char px[9] = {0, 0, 0, 90, 30, 60, 180, 255, 3};
  im.w = 3;
  im.h = 1;
  im.px = px;
  CHECK_EQ_INT(img_resize_box(&im, 2, 1, out), IMGPCA_OK);
  /* out0 covers [0,1.5): p0 + half of p1; out1 covers [1.5,3) */
  CHECK_NEAR(out[0], (0 + 0.5 * 90) / 1.5, 1e-4);
  CHECK_NEAR(out[1], (0 + 0.5 * 30) / 1.5, 1e-4);
  CHECK_NEAR(out[3], (0.5 * 90 + 180) / 1.5, 1e-4);
  CHECK_NEAR(out[5], (0.5 * 60 + 3) / 1.5, 1e-4);
  CHECK_EQ_INT(img_resize_box(&im, 1, 1, out), IMGPCA_OK);
  CHECK_NEAR(out[0], 90, 1e-4);
  CHECK_NEAR(out[1], 95, 1e-4);
  /* upscaling 3 -> 6 replicates */
  {
    float up[18];
    CHECK_EQ_INT(img_resize_box(&im, 6, 1, up), IMGPCA_OK);
    CHECK_NEAR(up[9], 90, 1e-4);
    CHECK_NEAR(up[17], 3, 1e-4);
  }
  CHECK(img_resize_box(&im, 0, 1, out) != IMGPCA_OK);
}

static void test_spec(void) {
  ImgSpec s;
  char err[IMGPCA_ERRMAX];
  ImgDecodeOpts o;
  CHECK_EQ_INT(img_spec_parse(NULL, &s, err), IMGPCA_OK);
  CHECK_EQ_INT((int)img_spec_dims(&s), 512);
  CHECK(s.n == 1 && s.a[0].sqrt_ == 1 && s.a[0].white == 240);
  CHECK_EQ_INT(img_spec_parse(" pixels : size=16x8 , color=grey ; hist:bins=2x3x4,white=off;hog", &s, err),
               IMGPCA_OK);
  CHECK_EQ_INT((int)img_spec_dims(&s), 128 + 24 + 576);
  CHECK_EQ_INT(s.a[1].white, 256);
  img_decode_opts_init(&o);
  img_spec_decode_opts(&s, &o);
  CHECK(o.need_w == 128 && o.need_h == 128 && o.need_short == 48 && o.scale == 1 && o.lenient == 0);
  CHECK_EQ_INT(img_spec_parse("hist:side=300;hist:side=20", &s, err), IMGPCA_OK);
  img_spec_decode_opts(&s, &o);
  CHECK_EQ_INT(o.need_short, 300);
  CHECK_EQ_INT(img_spec_parse("hist:side=0", &s, err), IMGPCA_ERROR);
  CHECK_EQ_INT(img_spec_parse("pixels;decode:dct=off,warnings=ignore", &s, err), IMGPCA_OK);
  CHECK(s.scale == 0 && s.lenient == 1 && img_spec_dims(&s) == 3072);
  CHECK_EQ_INT(img_spec_parse("pixels:size=4x", &s, err), IMGPCA_ERROR);
  CHECK_STR(err, "invalid spec: bad value '4x' for 'pixels:size'");
  CHECK_EQ_INT(img_spec_parse("hist:bins=8,sqrt=2", &s, err), IMGPCA_ERROR);
  CHECK_STR(err, "invalid spec: bad value '2' for 'hist:sqrt'");
  CHECK_EQ_INT(img_spec_parse("colour", &s, err), IMGPCA_ERROR);
  CHECK_STR(err, "invalid spec: unknown kind 'colour'");
  CHECK_EQ_INT(img_spec_parse("hist;", &s, err), IMGPCA_ERROR);
  CHECK_STR(err, "invalid spec: empty item");
  CHECK_EQ_INT(img_spec_parse("hist:", &s, err), IMGPCA_ERROR);
  CHECK_STR(err, "invalid spec: empty option list after 'hist:'");
  CHECK_EQ_INT(img_spec_parse("hist:bins=-1", &s, err), IMGPCA_ERROR);
  CHECK_EQ_INT(img_spec_parse("hist:bins=41", &s, err), IMGPCA_ERROR);
  CHECK_EQ_INT(img_spec_parse("hist:bins=64x64x16", &s, err), IMGPCA_OK);
  CHECK_EQ_INT(img_spec_parse("hist:bins=64x64x17", &s, err), IMGPCA_ERROR);
  CHECK_EQ_INT(img_spec_parse("hist:bins=99999999999", &s, err), IMGPCA_ERROR);
  CHECK_EQ_INT(img_spec_parse("hog:bins", &s, err), IMGPCA_ERROR);
  CHECK_STR(err, "invalid spec: option 'bins' of 'hog' needs a value");
  CHECK_EQ_INT(img_spec_parse("decode:lenient", &s, err), IMGPCA_ERROR);
  CHECK_STR(err, "invalid spec: unknown option 'lenient' of 'decode'");
  CHECK_EQ_INT(img_spec_parse("hist;hist;hist;hist;hist;hist;hist;hist;hist", &s, err), IMGPCA_ERROR);
}

static void test_hist(void) {
  ImgSpec s;
  char err[IMGPCA_ERRMAX];
  ImgImage im;
  float out[512];
  unsigned char px[12] = {255, 0, 0, 0, 0, 255, 255, 255, 255, 0, 0, 255};
  im.w = 2;
  im.h = 2;
  im.px = px;
  CHECK_EQ_INT(img_spec_parse("hist", &s, err), IMGPCA_OK);
  CHECK_EQ_INT(img_features_compute(&s, &im, out, err), IMGPCA_OK);
  /* red: h=0, s=1 -> 7, v=1 -> 7; blue: h=4/6 -> 5; white dropped */
  CHECK_NEAR(out[(0 * 8 + 7) * 8 + 7], 1.0 / 3, 1e-6);
  CHECK_NEAR(out[(5 * 8 + 7) * 8 + 7], 2.0 / 3, 1e-6);
  CHECK_EQ_INT(img_spec_parse("hist:bins=8,white=off,sqrt", &s, err), IMGPCA_OK);
  CHECK_EQ_INT(img_features_compute(&s, &im, out, err), IMGPCA_OK);
  CHECK_NEAR(out[7], 0.5, 1e-6); /* white: h=0,s=0,v=7 -> 1/4, sqrt */
  {
    unsigned char w4[12];
    memset(w4, 255, sizeof w4);
    im.px = w4;
    CHECK_EQ_INT(img_spec_parse("hist", &s, err), IMGPCA_OK);
    CHECK_EQ_INT(img_features_compute(&s, &im, out, err), IMGPCA_OK);
    CHECK(out[7] == 0 && out[511] == 0); /* all background: zero vector */
  }
}

/* Bins of single-pixel images against the exact integer definition. */
static void test_hist_exact(void) {
  static const char *specs[] = {"hist:bins=8,white=off", "hist:bins=7x5x3,white=off", "hist:bins=16x11x13,white=off"};
  int vals[64], nv = 0, v, si, ok = 1;
  for (v = 0; v < 256; v += 7) vals[nv++] = v;
  vals[nv++] = 254;
  vals[nv++] = 255;
  for (si = 0; si < 3; si++) {
    ImgSpec s;
    char err[IMGPCA_ERRMAX];
    ImgImage im;
    unsigned char px[3];
    float *out;
    int a, b, c, hb, sb, vb;
    CHECK_EQ_INT(img_spec_parse(specs[si], &s, err), IMGPCA_OK);
    hb = s.a[0].hb;
    sb = s.a[0].sb;
    vb = s.a[0].vb;
    out = malloc(sizeof(float) * img_spec_dims(&s));
    im.w = im.h = 1;
    im.px = px;
    for (a = 0; a < nv; a++)
      for (b = 0; b < nv; b++)
        for (c = 0; c < nv; c++) {
          int r = vals[a], g = vals[b], bl = vals[c], mx, mn, d, num = 0, eh = 0, es = 0, ev, idx;
          px[0] = (unsigned char)r;
          px[1] = (unsigned char)g;
          px[2] = (unsigned char)bl;
          mx = r > g ? (r > bl ? r : bl) : (g > bl ? g : bl);
          mn = r < g ? (r < bl ? r : bl) : (g < bl ? g : bl);
          d = mx - mn;
          if (d > 0) {
            if (mx == r)
              num = g - bl + (g < bl ? 6 * d : 0);
            else if (mx == g)
              num = 2 * d + bl - r;
            else
              num = 4 * d + r - g;
            eh = num * hb / (6 * d);
            es = d * sb / mx;
          }
          ev = mx * vb / 255;
          if (es > sb - 1) es = sb - 1;
          if (ev > vb - 1) ev = vb - 1;
          idx = (eh * sb + es) * vb + ev;
          if (img_features_compute(&s, &im, out, err) != IMGPCA_OK || out[idx] != 1.0f) ok = 0;
        }
    CHECK(ok);
    free(out);
  }
}

static void test_decode_robust(void) {
  static const char *files[] = {
      "../shared/data/images-edge/jpeg-testimages/testorig.jpg",
      "../shared/data/images-edge/jpeg-testimages/testimgari.jpg",
      "../shared/data/images-edge/jpeg-bugs/8bit/testorig_transverse_422_q95_prog_ari.jpg",
      "../shared/data/images-edge/jpeg-bugs/8bit/testorig_rot180_cmyk_411_q50_opt_rst1B_test1icc.jpg",
      "../shared/data/images-edge/pngsuite/png/basi3p02.png",
      "../shared/data/images-edge/pngsuite/png/basn6a16.png",
  };
  size_t fi;
  char err[IMGPCA_ERRMAX];
  ImgImage im;
  ImgDecodeOpts o;
  CHECK_EQ_INT(img_decode((const unsigned char *)"", 0, NULL, &im, NULL, err), IMGPCA_ERROR);
  CHECK_STR(err, "empty blob");
  CHECK_EQ_INT(img_decode((const unsigned char *)"\xff\xd8\xff", 3, NULL, &im, NULL, err), IMGPCA_ERROR);
  CHECK_STR(err, "corrupt jpeg: Premature end of JPEG file");
  CHECK_EQ_INT(img_decode((const unsigned char *)"\x89PNG\r\n\x1a\n", 8, NULL, &im, NULL, err), IMGPCA_ERROR);
  CHECK_STR(err, "cannot decode png: unexpected end of data");
  for (fi = 0; fi < sizeof(files) / sizeof(files[0]); fi++) {
    size_t n, k, nok = 0;
    unsigned char *p = slurp(files[fi], &n), *q;
    CHECK(p != NULL);
    if (!p) continue;
    img_decode_opts_init(&o);
    CHECK_EQ_INT(img_decode(p, n, &o, &im, NULL, err), IMGPCA_OK);
    img_image_free(&im);
    q = malloc(n);
    /* truncations, strict and lenient */
    for (k = 1; k < n; k += n / 40 + 1) {
      int rc;
      o.lenient = (int)(k & 1);
      rc = img_decode(p, k, &o, &im, NULL, err);
      CHECK(rc == IMGPCA_OK || rc == IMGPCA_ERROR);
      if (rc == IMGPCA_OK) {
        nok++;
        CHECK(im.w > 0 && im.px != NULL);
      }
      img_image_free(&im);
    }
    /* bit flips */
    for (k = 0; k < 60; k++) {
      int rc;
      memcpy(q, p, n);
      q[(k * 7919u + 13) % n] ^= (unsigned char)(1u << (k % 8));
      q[(k * 104729u + 101) % n] ^= 0xff;
      o.lenient = (int)(k & 1);
      o.need_w = o.need_h = (int)(k % 3) * 16;
      rc = img_decode(q, n, &o, &im, NULL, err);
      CHECK(rc == IMGPCA_OK || rc == IMGPCA_ERROR);
      img_image_free(&im);
    }
    free(q);
    free(p);
    (void)nok;
  }
}

int main(void) {
  test_exif();
  test_orient();
  test_resize();
  test_spec();
  test_hist();
  test_hist_exact();
  test_decode_robust();
  return UNIT_DONE();
}
