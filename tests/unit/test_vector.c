/* Unit tests of the vector and config cores (no SQLite). */
#include <stdlib.h>

#include "common/common.h"
#include "config/config.h"
#include "unit.h"
#include "vector/vector.h"
#include "storage/storage.h"

/* The configuration of the storage core: its settings table. */
static const ImgpcaSetting *const apStorageSettings[] = {imgpca_storage_settings, NULL};


static void test_json(void) {
  char err[IMGPCA_ERRMAX];
  float *v = NULL;
  size_t n = 0;
  ImgpcaBuf b;
  CHECK_EQ_INT(fvec_parse_json(" [1, -2.5e0 ,3e-2] ", 19, &v, &n, err), IMGPCA_OK);
  CHECK_EQ_INT(n, 3);
  CHECK_NEAR(v[1], -2.5, 0);
  CHECK_NEAR(v[2], 0.03f, 0);
  imgpca_buf_init(&b);
  fvec_write_json(v, n, &b);
  imgpca_buf_append(&b, "", 1);
  CHECK_STR((char *)b.p, "[1,-2.5,0.03]" /* shortest round trip */);
  imgpca_buf_free(&b);
  free(v);
  CHECK_EQ_INT(fvec_parse_json("[]", 2, &v, &n, err), IMGPCA_ERROR);
  CHECK_STR(err, "empty vector");
  CHECK_EQ_INT(fvec_parse_json("[1,,2]", 6, &v, &n, err), IMGPCA_ERROR);
  CHECK_STR(err, "invalid JSON array: expected a number at offset 3");
  CHECK_EQ_INT(fvec_parse_json("[1e39]", 6, &v, &n, err), IMGPCA_ERROR);
  CHECK_STR(err, "element 0 (1e39) is not a finite float32");
  CHECK_EQ_INT(fvec_parse_json("[1] x", 5, &v, &n, err), IMGPCA_ERROR);
  CHECK_EQ_INT(fvec_parse_json("[.5]", 4, &v, &n, err), IMGPCA_ERROR);
  CHECK_EQ_INT(fvec_parse_json("[1 2]", 5, &v, &n, err), IMGPCA_ERROR);
  CHECK_STR(err, "invalid JSON array: expected ',' or ']' at offset 3");
}

static void test_blob(void) {
  char err[IMGPCA_ERRMAX];
  unsigned char blob[8];
  size_t n;
  float a[2] = {1.0f, 2.0f};
  fvec_encode(a, 2, blob);
  CHECK(blob[3] == 0x3f && blob[2] == 0x80); /* 1.0f little-endian: 00 00 80 3f */
  CHECK_EQ_INT(fvec_check_blob(blob, 8, &n, err), IMGPCA_OK);
  CHECK_EQ_INT(n, 2);
  CHECK_EQ_INT(fvec_check_blob(blob, 7, &n, err), IMGPCA_ERROR);
  blob[7] = 0x7f;
  blob[6] = 0xc0; /* NaN in element 1 */
  CHECK_EQ_INT(fvec_check_blob(blob, 8, &n, err), IMGPCA_ERROR);
  CHECK_STR(err, "element 1 is NaN");
}

static void test_distances(void) {
  float a[3] = {1, 0, 0}, b[3] = {0, 1, 0}, z[3] = {0, 0, 0};
  double d;
  char err[IMGPCA_ERRMAX];
  CHECK_NEAR(fvec_l2(a, b, 3), sqrt(2.0), 1e-12);
  CHECK_EQ_INT(fvec_cosine_distance(a, b, 3, &d, err), IMGPCA_OK);
  CHECK_NEAR(d, 1.0, 1e-12);
  CHECK_EQ_INT(fvec_cosine_distance(a, z, 3, &d, err), IMGPCA_ERROR);
}

static void test_argmax(void) {
  const float a[] = {0.5f, 2.0f, -1.0f, 2.0f}, b[] = {-3.0f}, c[] = {-2.0f, -1.0f, -1.5f};
  CHECK_EQ_INT((long long)fvec_argmax(a, 4), 1); /* the first of two equal maxima */
  CHECK_EQ_INT((long long)fvec_argmax(b, 1), 0);
  CHECK_EQ_INT((long long)fvec_argmax(c, 3), 1);
}

static void test_config(void) {
  ImgpcaConfig c;
  char err[IMGPCA_ERRMAX], m[64];
  const char *src;
  CHECK_EQ_INT(imgpca_config_init(&c, apStorageSettings, NULL), IMGPCA_OK);
  setenv("AWS_REGION", "eu-west-3", 1);
  CHECK_STR(imgpca_config_get(&c, "s3.region", &src), "eu-west-3");
  CHECK_STR(src, "env");
  CHECK_EQ_INT(imgpca_config_set(&c, "s3.region", "us-west-2", err), IMGPCA_OK);
  CHECK_STR(imgpca_config_get(&c, "s3.region", &src), "us-west-2");
  CHECK_STR(src, "connection");
  CHECK_EQ_INT(imgpca_config_set(&c, "s3.max_inflight", "0", err), IMGPCA_ERROR);
  CHECK_STR(err, "invalid value for 's3.max_inflight': 0 is outside [1, 1024]");
  CHECK_EQ_INT(imgpca_config_set(&c, "s3.url_style", "sideways", err), IMGPCA_ERROR);
  CHECK_EQ_INT(imgpca_config_set(&c, "nope", "1", err), IMGPCA_ERROR);
  CHECK_STR(err, "unknown setting 'nope'");
  CHECK_EQ_INT(imgpca_config_int(&c, "s3.max_inflight"), 32);
  imgpca_config_mask("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", m, sizeof m);
  CHECK_STR(m, "****EKEY");
  imgpca_config_clear(&c);
}

int main(void) {
  test_json();
  test_blob();
  test_distances();
  test_argmax();
  test_config();
  return UNIT_DONE();
}
