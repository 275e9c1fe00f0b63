/*
** Fuzz target: the feature spec parser (ext/image), e.g.
** 'pixels:size=32x32,color=grey;hist:bins=8x8x8,sqrt,white=250;hog'.
**
** Input: spec text (made NUL-terminated).  Invariants: an accepted spec has
** 1..IMG_SPEC_MAX items and a positive dimension; when the dimension is
** moderate, the features of a small synthetic image are computed and are
** all finite; a rejected spec has a message naming the problem.
*/
#include <math.h>

#include "fuzz.h"
#include "image/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *z = fuzz_cstr(data, size);
  char err[IMGPCA_ERRMAX];
  ImgSpec spec;
  int rc;
  if (!z) return 0;
  err[0] = 0;
  rc = img_spec_parse(z, &spec, err);
  fuzz_check_err(rc, err);
  if (rc == IMGPCA_OK) {
    size_t d = img_spec_dims(&spec);
    ImgDecodeOpts o;
    if (spec.n < 1 || spec.n > IMG_SPEC_MAX) fuzz_fail("spec with %d items", spec.n);
    if (d == 0) fuzz_fail("accepted spec with 0 dims: '%s'", z);
    img_decode_opts_init(&o);
    img_spec_decode_opts(&spec, &o);
    if (d <= 65536) {
      /* a 23x17 image with a colour gradient and a white corner */
      ImgImage im;
      float *out = malloc(d * sizeof(float));
      int x, y;
      im.w = 23;
      im.h = 17;
      im.px = malloc((size_t)im.w * im.h * 3);
      if (out && im.px) {
        for (y = 0; y < im.h; y++)
          for (x = 0; x < im.w; x++) {
            unsigned char *p = im.px + ((size_t)y * im.w + x) * 3;
            int white = x > 18 && y > 12;
            p[0] = white ? 255 : (unsigned char)(x * 11);
            p[1] = white ? 255 : (unsigned char)(y * 15);
            p[2] = white ? 255 : (unsigned char)((x + y) * 6);
          }
        rc = img_features_compute(&spec, &im, out, err);
        fuzz_check_err(rc, err);
        if (rc == IMGPCA_OK) {
          size_t i;
          for (i = 0; i < d; i++)
            if (!isfinite(out[i])) fuzz_fail("spec '%s': element %zu not finite", z, i);
        }
      }
      free(out);
      free(im.px); /* allocated here with malloc, not imgpca_malloc */
    }
  }
  free(z);
  return 0;
}
