/* Unit tests of the report core (base64, page assembly, embedded template)
** and of the image encoders (PNG/JPEG round trips through img_decode,
** thumbnail sizes, float-to-byte mapping). */
#include "image/image.h"
#include "report/report.h"
#include "unit.h"

#include <stdlib.h>

static void test_base64(void) {
  static const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  static const char *out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  size_t i;
  for (i = 0; i < 7; i++) {
    ImgpcaBuf b;
    imgpca_buf_init(&b);
    CHECK(imgpca_base64_append(&b, (const unsigned char *)in[i], strlen(in[i])) == IMGPCA_OK);
    imgpca_buf_append(&b, "", 1);
    CHECK_STR(b.n ? (const char *)b.p : "", out[i]);
    imgpca_buf_free(&b);
  }
}

static void test_build(void) {
  char err[IMGPCA_ERRMAX];
  ImgpcaBuf b;
  size_t n;
  const char *tpl = imgpca_report_template(&n);
  CHECK(n > 1000 && strncmp(tpl, "<!DOCTYPE html>", 15) == 0 && tpl[n] == 0);
  CHECK(strstr(tpl, IMGPCA_REPORT_MARKER) != NULL);
  imgpca_buf_init(&b);
  CHECK(imgpca_report_build(&b, "a __IMGPCA_REPORT_DATA__ z", 26, "[\"</x><\"]", 9, err) == IMGPCA_OK);
  imgpca_buf_append(&b, "", 1);
  CHECK_STR((const char *)b.p, "a [\"\\u003c/x>\\u003c\"] z");
  imgpca_buf_free(&b);
  imgpca_buf_init(&b);
  CHECK(imgpca_report_build(&b, "none", 4, "1", 1, err) == IMGPCA_ERROR);
  CHECK(strstr(err, "no marker") != NULL);
  imgpca_buf_free(&b);
}

static void roundtrip(int w, int h, int ch, int fmt) {
  char err[IMGPCA_ERRMAX];
  unsigned char *px = malloc((size_t)w * h * ch), *enc;
  size_t n, i;
  ImgDecodeOpts o;
  ImgImage im;
  ImgInfo info;
  double maxd = 0;
  for (i = 0; i < (size_t)w * h * ch; i++) px[i] = (unsigned char)(fmt == IMG_FMT_PNG ? (i * 37) & 255 : 100 + (i % (size_t)(w * ch)) / ch);
  CHECK(img_encode(px, w, h, ch, fmt, 95, &enc, &n, err) == IMGPCA_OK);
  img_decode_opts_init(&o);
  CHECK(img_decode(enc, n, &o, &im, &info, err) == IMGPCA_OK);
  CHECK(im.w == w && im.h == h);
  CHECK_STR(info.format, fmt == IMG_FMT_PNG ? "png" : "jpeg");
  for (i = 0; i < (size_t)w * h; i++) {
    int c;
    for (c = 0; c < 3; c++) {
      /* grey -> R=G=B; 2 and 4 channels: alpha 255 only where the byte says so */
      int want = px[i * ch + (ch >= 3 ? c : 0)];
      if (ch == 2 || ch == 4) continue;
      if (abs(want - im.px[3 * i + c]) > maxd) maxd = abs(want - im.px[3 * i + c]);
    }
  }
  CHECK(fmt == IMG_FMT_PNG ? maxd == 0 : maxd <= 4);
  img_image_free(&im);
  imgpca_free(enc);
  free(px);
}

static void test_encode(void) {
  char err[IMGPCA_ERRMAX];
  unsigned char px[12] = {0}, *enc;
  size_t n;
  int tw, th;
  roundtrip(1, 1, 3, IMG_FMT_PNG);
  roundtrip(17, 5, 3, IMG_FMT_PNG);
  roundtrip(9, 9, 1, IMG_FMT_PNG);
  roundtrip(6, 4, 4, IMG_FMT_PNG);
  roundtrip(33, 17, 3, IMG_FMT_JPEG);
  roundtrip(16, 16, 1, IMG_FMT_JPEG);
  CHECK(img_encode(px, 2, 2, 2, IMG_FMT_JPEG, 90, &enc, &n, err) == IMGPCA_ERROR);
  CHECK(strstr(err, "jpeg needs 1 or 3 channels") != NULL);
  CHECK(img_encode(px, 0, 2, 3, IMG_FMT_PNG, 90, &enc, &n, err) == IMGPCA_ERROR);
  CHECK(img_encode(px, 2, 2, 3, IMG_FMT_JPEG, 101, &enc, &n, err) == IMGPCA_ERROR);
  CHECK(img_format_parse("png") == IMG_FMT_PNG && img_format_parse("jpg") == IMG_FMT_JPEG && !img_format_parse("gif"));
  img_thumbnail_size(100, 100, 48, &tw, &th);
  CHECK(tw == 48 && th == 48);
  img_thumbnail_size(1800, 1200, 48, &tw, &th);
  CHECK(tw == 48 && th == 32);
  img_thumbnail_size(1200, 1800, 64, &tw, &th);
  CHECK(tw == 43 && th == 64);
  img_thumbnail_size(10, 5000, 48, &tw, &th);
  CHECK(tw == 1 && th == 48);
  img_thumbnail_size(30, 20, 48, &tw, &th);
  CHECK(tw == 30 && th == 20);
  CHECK(img_thumbnail((const unsigned char *)"xx", 2, 0, 10, IMG_FMT_JPEG, 80, &enc, &n, err) == IMGPCA_ERROR);
}

static void test_floats(void) {
  float v[5] = {-1.0f, 0.0f, 0.5f, 1.0f, 3.0f};
  unsigned char o[5];
  img_from_floats(v, 5, 1, 0.0, 1.0, o);
  CHECK(o[0] == 0 && o[1] == 0 && o[2] == 128 && o[3] == 255 && o[4] == 255);
  img_from_floats(v, 5, 0, 0, 0, o);
  CHECK(o[0] == 0 && o[1] == 64 && o[4] == 255);
  img_from_floats(v, 1, 0, 0, 0, o);
  CHECK(o[0] == 128);
}

int main(void) {
  test_base64();
  test_build();
  test_encode();
  test_floats();
  return UNIT_DONE();
}
