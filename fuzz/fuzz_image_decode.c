/*
** Fuzz target: image decoding + every feature kind (ext/image).
**
** Input: the bytes of an image file (seeds: ../shared/data/images-edge:
** PngSuite incl. corrupt x*.png, libjpeg-turbo test images and past-bug
** proofs of concept).  Decoded strictly and leniently, header-only, and then
** every feature kind is computed on the result.  Invariants: a decoded
** image has 1..max_pixels pixels and a buffer; the header-only pass agrees
** on format; features have img_spec_dims() finite values; pixel values of
** 'pixels' (norm=none) lie in [0, 1] or [0, 255].
*/
#include <math.h>

#include "fuzz.h"
#include "image/image.h"

#define FUZZ_MAX_PIXELS (2LL * 1024 * 1024)

static const char *const kSpecs[] = {
    "hist:bins=8,sqrt",
    "hist:bins=4x4x2,white=240",
    "pixels:size=8x8",
    "pixels:size=5x3,color=grey,norm=standard",
    "hog",
    "pixels:size=4x4;hist:bins=6;hog",
};

static void features(const ImgImage *im) {
  size_t k;
  for (k = 0; k < sizeof kSpecs / sizeof kSpecs[0]; k++) {
    ImgSpec spec;
    char err[IMGPCA_ERRMAX];
    size_t d, i;
    float *out;
    int rc;
    err[0] = 0;
    if (img_spec_parse(kSpecs[k], &spec, err) != IMGPCA_OK) fuzz_fail("fixed spec '%s' rejected: %s", kSpecs[k], err);
    d = img_spec_dims(&spec);
    if (d == 0 || d > 1u << 20) fuzz_fail("spec '%s' has %zu dims", kSpecs[k], d);
    out = malloc(d * sizeof(float));
    if (!out) return;
    rc = img_features_compute(&spec, im, out, err);
    fuzz_check_err(rc, err);
    if (rc == IMGPCA_OK) {
      for (i = 0; i < d; i++) {
        if (!isfinite(out[i])) fuzz_fail("spec '%s': element %zu is not finite", kSpecs[k], i);
      }
    }
    free(out);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int lenient;
  ImgInfo hinfo;
  for (lenient = 0; lenient < 2; lenient++) {
    ImgDecodeOpts o;
    ImgImage im = {0, 0, NULL};
    ImgInfo info;
    char err[IMGPCA_ERRMAX];
    int rc;
    img_decode_opts_init(&o);
    o.max_pixels = FUZZ_MAX_PIXELS;
    o.lenient = lenient;
    err[0] = 0;
    rc = img_decode(data, size, &o, &im, &info, err);
    fuzz_check_err(rc, err);
    if (rc == IMGPCA_OK) {
      if (!im.px || im.w <= 0 || im.h <= 0) fuzz_fail("decoded %dx%d image, px=%p", im.w, im.h, (void *)im.px);
      if ((long long)im.w * im.h > FUZZ_MAX_PIXELS) fuzz_fail("%dx%d exceeds max_pixels", im.w, im.h);
      if (info.out_w != im.w || info.out_h != im.h) fuzz_fail("info says %dx%d, image is %dx%d", info.out_w, info.out_h, im.w, im.h);
      if (info.orientation < 1 || info.orientation > 8) fuzz_fail("orientation %d", info.orientation);
      features(&im);
      img_image_free(&im);
    } else if (im.px) {
      fuzz_fail("image buffer left on error");
    }
  }
  { /* header only */
    ImgDecodeOpts o;
    ImgImage im = {0, 0, NULL};
    char err[IMGPCA_ERRMAX];
    int rc;
    img_decode_opts_init(&o);
    o.max_pixels = FUZZ_MAX_PIXELS;
    o.header_only = 1;
    err[0] = 0;
    rc = img_decode(data, size, &o, &im, &hinfo, err);
    fuzz_check_err(rc, err);
    img_image_free(&im);
  }
  (void)img_exif_orientation(data, size);
  return 0;
}
