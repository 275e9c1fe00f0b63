/*
** Fuzz target: float32 vector parsing (ext/vector).
**
** Input: arbitrary bytes, given to fvec_parse_json() with their exact length
** (no terminating NUL, so ASan catches any over-read) and to
** fvec_check_blob() as a vector BLOB.  Invariants: a parsed vector is
** non-empty, finite, within IMGPCA_VEC_MAX_DIMS, and survives the round trip
** fvec_write_json -> fvec_parse_json bit for bit; a blob accepted by
** fvec_check_blob has length 4*dims and survives encode/decode.
*/
#include <math.h>

#include "fuzz.h"
#include "vector/vector.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[IMGPCA_ERRMAX];
  float *v = NULL, *v2 = NULL;
  size_t n = 0, n2 = 0, i;
  int rc;

  err[0] = 0;
  rc = fvec_parse_json((const char *)data, size, &v, &n, err);
  fuzz_check_err(rc, err);
  if (rc == IMGPCA_OK) {
    ImgpcaBuf b;
    if (!v || n == 0 || n > IMGPCA_VEC_MAX_DIMS) fuzz_fail("parsed vector of %zu dims", n);
    for (i = 0; i < n; i++) {
      if (!isfinite(v[i])) fuzz_fail("non-finite element %zu accepted", i);
    }
    imgpca_buf_init(&b);
    if (fvec_write_json(v, n, &b) == IMGPCA_OK && !b.oom) {
      rc = fvec_parse_json((const char *)b.p, b.n, &v2, &n2, err);
      if (rc != IMGPCA_OK) fuzz_fail("own JSON output rejected: %s", err);
      if (n2 != n || memcmp(v, v2, n * sizeof(float)) != 0) fuzz_fail("JSON round trip changed the vector");
      imgpca_free(v2);
    }
    imgpca_buf_free(&b);
    imgpca_free(v);
  } else if (v) {
    fuzz_fail("output left allocated on error");
  }

  err[0] = 0;
  rc = fvec_check_blob(data, size, &n, err);
  fuzz_check_err(rc, err);
  if (rc == IMGPCA_OK) {
    float *f;
    unsigned char *back;
    if (n == 0 || n * 4 != size) fuzz_fail("blob of %zu bytes accepted as %zu dims", size, n);
    f = malloc(n * sizeof(float));
    if (!f) return 0;
    fvec_decode(data, n, f);
    back = fvec_blob(f, n);
    if (back && memcmp(back, data, size) != 0) fuzz_fail("blob decode/encode round trip differs");
    imgpca_free(back);
    free(f);
  }
  return 0;
}
