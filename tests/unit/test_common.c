/* Unit tests of the shared utilities (ext/common/common.c, common.h): error
** buffer, allocator hooks, overflow checks, the growable buffer, JSON string
** escaping and little-endian access. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/common.h"
#include "unit.h"

static void test_seterr(void) {
  char err[IMGPCA_ERRMAX], big[2 * IMGPCA_ERRMAX];
  CHECK_EQ_INT(imgpca_seterr(err, "bad value '%s': %d", "x", 3), IMGPCA_ERROR);
  CHECK_STR(err, "bad value 'x': 3");
  CHECK_EQ_INT(imgpca_seterr(NULL, "ignored %d", 1), IMGPCA_ERROR);
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = 0;
  imgpca_seterr(err, "%s", big); /* truncated to the buffer, terminated */
  CHECK_EQ_INT((long long)strlen(err), IMGPCA_ERRMAX - 1);
}

static void test_overflow(void) {
  size_t out = 7;
  CHECK(imgpca_mul_ok(3, 5, &out) && out == 15);
  CHECK(imgpca_mul_ok(0, SIZE_MAX, &out) && out == 0);
  CHECK(imgpca_mul_ok(SIZE_MAX, 1, &out) && out == SIZE_MAX);
  CHECK(!imgpca_mul_ok(SIZE_MAX / 2 + 1, 2, &out));
  CHECK(!imgpca_mul_ok((size_t)1 << (sizeof(size_t) * 4), (size_t)1 << (sizeof(size_t) * 4), &out));
  CHECK(imgpca_calloc(SIZE_MAX / 8 + 1, 8) == NULL);
}

/* A counting allocator, optionally failing the n-th call. */
static int g_calls, g_fail_at = -1;
static void *count_malloc(size_t n) { return g_calls++ == g_fail_at ? NULL : malloc(n); }
static void *count_realloc(void *p, size_t n) { return g_calls++ == g_fail_at ? NULL : realloc(p, n); }
static int g_frees;
static void count_free(void *p) {
  g_frees++;
  free(p);
}

static void test_allocator(void) {
  ImgpcaAllocator a = {count_malloc, count_realloc, count_free};
  unsigned char *p;
  char *z;
  size_t i;
  int ok = 1;
  imgpca_set_allocator(&a);
  g_calls = g_frees = 0;
  p = imgpca_calloc(10, 4);
  CHECK(p != NULL);
  for (i = 0; i < 40; i++) ok &= p[i] == 0;
  CHECK(ok);
  p = imgpca_realloc(p, 100);
  CHECK(p != NULL);
  imgpca_free(p);
  imgpca_free(NULL); /* not passed to the hook */
  CHECK_EQ_INT(g_calls, 2);
  CHECK_EQ_INT(g_frees, 1);
  p = imgpca_malloc(0); /* a real, freeable block */
  CHECK(p != NULL);
  imgpca_free(p);
  z = imgpca_strdup("abc");
  CHECK_STR(z, "abc");
  imgpca_free(z);
  CHECK(imgpca_strdup(NULL) == NULL);
  z = imgpca_mprintf("%s-%03d", "k", 7);
  CHECK_STR(z, "k-007");
  imgpca_free(z);
  g_fail_at = g_calls;
  CHECK(imgpca_mprintf("%d", 1) == NULL);
  g_fail_at = g_calls;
  CHECK(imgpca_strdup("x") == NULL);
  g_fail_at = -1;
  /* NULL restores the C library's allocator */
  imgpca_set_allocator(NULL);
  i = (size_t)g_calls;
  imgpca_free(imgpca_malloc(8));
  CHECK_EQ_INT(g_calls, (long long)i);
}

static void test_buf(void) {
  ImgpcaBuf b;
  ImgpcaAllocator a = {count_malloc, count_realloc, count_free};
  unsigned char *p;
  size_t n, i;
  int ok = 1;
  imgpca_buf_init(&b);
  CHECK(b.p == NULL && b.n == 0 && b.cap == 0 && b.oom == 0);
  CHECK_EQ_INT(imgpca_buf_append(&b, "", 0), IMGPCA_OK);
  for (i = 0; i < 1000; i++) imgpca_buf_printf(&b, "%03zu,", i);
  CHECK_EQ_INT((long long)b.n, 4000);
  CHECK(b.cap >= b.n + 1);
  for (i = 0; i < 1000; i++) {
    char want[8];
    snprintf(want, sizeof want, "%03zu,", i);
    ok &= memcmp(b.p + 4 * i, want, 4) == 0;
  }
  CHECK(ok);
  CHECK(b.p[b.n] == 0); /* printf leaves a terminator beyond n */
  p = imgpca_buf_detach(&b, &n);
  CHECK_EQ_INT((long long)n, 4000);
  CHECK(b.p == NULL && b.n == 0);
  imgpca_free(p);
  /* reserve overflow: NOMEM, sticky */
  CHECK_EQ_INT(imgpca_buf_append(&b, "ab", 2), IMGPCA_OK);
  CHECK_EQ_INT(imgpca_buf_reserve(&b, SIZE_MAX), IMGPCA_NOMEM);
  CHECK(b.oom);
  CHECK_EQ_INT(imgpca_buf_append(&b, "c", 1), IMGPCA_NOMEM);
  CHECK_EQ_INT((long long)b.n, 2);
  imgpca_buf_free(&b);
  CHECK(b.p == NULL && b.oom == 0);
  /* allocation failure while growing: NOMEM, contents kept, sticky */
  imgpca_set_allocator(&a);
  g_calls = 0;
  g_fail_at = 1;
  CHECK_EQ_INT(imgpca_buf_append(&b, "x", 1), IMGPCA_OK);
  {
    char blk[300];
    memset(blk, 'y', sizeof blk);
    CHECK_EQ_INT(imgpca_buf_append(&b, blk, sizeof blk), IMGPCA_NOMEM);
  }
  CHECK(b.oom && b.n == 1 && b.p[0] == 'x');
  g_fail_at = -1;
  CHECK_EQ_INT(imgpca_buf_printf(&b, "%d", 5), IMGPCA_NOMEM);
  imgpca_buf_free(&b);
  imgpca_set_allocator(NULL);
}

static void test_json_string(void) {
  ImgpcaBuf b;
  imgpca_buf_init(&b);
  imgpca_buf_json_string(&b, "a\"b\\c\n\x01\x1f\x7f\xc3\xa9/");
  imgpca_buf_append(&b, "", 1);
  CHECK_STR((const char *)b.p, "\"a\\\"b\\\\c\\u000a\\u0001\\u001f\x7f\xc3\xa9/\"");
  imgpca_buf_free(&b);
  imgpca_buf_json_string(&b, NULL);
  imgpca_buf_append(&b, "", 1);
  CHECK_STR((const char *)b.p, "\"\"");
  imgpca_buf_free(&b);
}

static void test_le(void) {
  unsigned char p[8];
  static const unsigned char one[4] = {0x00, 0x00, 0x80, 0x3f};          /* 1.0f */
  static const unsigned char minus2[8] = {0, 0, 0, 0, 0, 0, 0x00, 0xc0}; /* -2.0 */
  imgpca_put_f32(p, 1.0f);
  CHECK(memcmp(p, one, 4) == 0);
  CHECK(imgpca_get_f32(one) == 1.0f);
  imgpca_put_u32(p, 0x01020304u);
  CHECK(p[0] == 4 && p[1] == 3 && p[2] == 2 && p[3] == 1);
  CHECK(imgpca_get_u32(p) == 0x01020304u);
  imgpca_put_u64(p, 0x0102030405060708ull);
  CHECK(p[0] == 8 && p[7] == 1);
  CHECK(imgpca_get_u64(p) == 0x0102030405060708ull);
  imgpca_put_f64(p, -2.0);
  CHECK(memcmp(p, minus2, 8) == 0);
  CHECK(imgpca_get_f64(minus2) == -2.0);
  imgpca_put_f32(p, -0.0f);
  CHECK(p[3] == 0x80 && p[0] == 0);
}

int main(void) {
  test_seterr();
  test_overflow();
  test_allocator();
  test_buf();
  test_json_string();
  test_le();
  return UNIT_DONE();
}
