/*
** Fuzz target: spec + image together (ext/image), the path of
** img_features(img, spec).  Input: "<spec>\n<image bytes>" (the first line,
** at most 256 bytes, is the spec; without a newline the default spec is
** used).  Seeds: every small file of ../shared/data/images-edge prefixed
** with each documented spec.  Invariants as in fuzz_image_decode.
*/
#include <math.h>

#include "fuzz.h"
#include "image/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *nl = memchr(data, '\n', size < 257 ? size : 257);
  char zSpec[258];
  char err[IMGPCA_ERRMAX];
  ImgSpec spec;
  ImgDecodeOpts o;
  ImgImage im = {0, 0, NULL};
  size_t d;
  int rc;
  if (nl) {
    memcpy(zSpec, data, (size_t)(nl - data));
    zSpec[nl - data] = 0;
    size -= (size_t)(nl - data) + 1;
    data = nl + 1;
  }
  err[0] = 0;
  rc = img_spec_parse(nl ? zSpec : NULL, &spec, err);
  fuzz_check_err(rc, err);
  if (rc != IMGPCA_OK) return 0;
  d = img_spec_dims(&spec);
  if (d == 0 || d > 1u << 18) return 0; /* huge outputs: covered by fuzz_image_spec */
  img_decode_opts_init(&o);
  img_spec_decode_opts(&spec, &o);
  o.max_pixels = 2LL * 1024 * 1024;
  rc = img_decode(data, size, &o, &im, NULL, err);
  fuzz_check_err(rc, err);
  if (rc == IMGPCA_OK) {
    float *out = malloc(d * sizeof(float));
    if (out) {
      size_t i;
      rc = img_features_compute(&spec, &im, out, err);
      fuzz_check_err(rc, err);
      if (rc == IMGPCA_OK)
        for (i = 0; i < d; i++)
          if (!isfinite(out[i])) fuzz_fail("element %zu not finite", i);
      free(out);
    }
    img_image_free(&im);
  }
  return 0;
}
